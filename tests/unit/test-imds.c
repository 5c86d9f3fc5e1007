/* SPDX-License-Identifier: Apache-2.0 */
#include <stdio.h>

#include "fake-transport.h"
#include "imds.h"
#include "log.h"
#include "test-clock.h"
#include "tests.h"

#define ENDPOINT "http://imds.test"

/* A string literal and its length, for the parsers. */
#define S(s) (s), strlen(s)

#define TTL_HEADERS ((const char *const[]) { "X-aws-ec2-metadata-token-ttl-seconds", "21600", NULL })
#define TOKEN(tok) (&(FakeReply) { .method = "PUT", .url = "/latest/api/token", .body = (tok), .headers = TTL_HEADERS })
#define GET(path, b) (&(FakeReply) { .method = "GET", .url = "/latest/" path, .body = (b) })
#define GET_STATUS(path, s) (&(FakeReply) { .method = "GET", .url = "/latest/" path, .status = (s) })
#define GET_ERROR(path, e) (&(FakeReply) { .method = "GET", .url = "/latest/" path, .error = (e) })

#define CREDENTIALS_JSON                                                \
        "{\n"                                                           \
        "  \"Code\" : \"Success\",\n"                                   \
        "  \"LastUpdated\" : \"2026-11-26T08:50:00Z\",\n"               \
        "  \"Type\" : \"AWS-HMAC\",\n"                                  \
        "  \"AccessKeyId\" : \"ASIAEXAMPLEKEYID\",\n"                   \
        "  \"SecretAccessKey\" : \"imdsSECRETkeyEXAMPLE/abc+def\",\n"   \
        "  \"Token\" : \"imdsSESSIONtokenEXAMPLE//////wEaCXVz\",\n"     \
        "  \"Expiration\" : \"2026-11-26T15:00:00Z\"\n"                 \
        "}\n"

#define IDENTITY_JSON                                                   \
        "{\n"                                                           \
        "  \"accountId\" : \"123456789012\",\n"                         \
        "  \"architecture\" : \"x86_64\",\n"                            \
        "  \"availabilityZone\" : \"eu-west-1b\",\n"                    \
        "  \"imageId\" : \"ami-0123456789abcdef0\",\n"                  \
        "  \"instanceId\" : \"i-0123456789abcdef0\",\n"                 \
        "  \"instanceType\" : \"m6i.large\",\n"                         \
        "  \"privateIp\" : \"10.0.1.23\",\n"                            \
        "  \"region\" : \"eu-west-1\",\n"                               \
        "  \"version\" : \"2017-09-30\"\n"                              \
        "}"

static TestClock test_clock;

static Imds *new_imds(FakeTransport *f, const char *endpoint) {
        Imds *imds = NULL;

        if (imds_new(&f->transport, endpoint, &imds) < 0)
                return NULL;
        return imds;
}

static usec_t in(usec_t usec) {
        return usec_add(now(CLOCK_MONOTONIC), usec);
}

static void test_token_fetched_once_and_reused(void) {
        _cleanup_(fake_transport_freep) FakeTransport *f = fake_transport_new();
        _cleanup_(imds_freep) Imds *imds = NULL;
        _cleanup_free_ char *id = NULL, *az = NULL;

        fake_transport_add(f, TOKEN("TOKEN-1"));
        fake_transport_add(f, GET("meta-data/instance-id", "i-0123456789abcdef0"));
        fake_transport_add(f, GET("meta-data/placement/availability-zone", "eu-west-1b"));

        imds = new_imds(f, ENDPOINT);
        ASSERT_NOT_NULL(imds);
        ASSERT_OK(imds_get_instance_id(imds, in(10 * USEC_PER_SEC), &id));
        ASSERT_STREQ(id, "i-0123456789abcdef0");
        ASSERT_OK(imds_get_availability_zone(imds, in(10 * USEC_PER_SEC), &az));
        ASSERT_STREQ(az, "eu-west-1b");

        ASSERT_EQ(f->mismatches, 0);
        ASSERT_EQ(f->n_requests, 3);
        ASSERT_STREQ(f->requests[0].method, "PUT");
        ASSERT_STREQ(f->requests[0].url, "http://imds.test/latest/api/token");
        ASSERT_STREQ(fake_request_header(&f->requests[0], "x-aws-ec2-metadata-token-ttl-seconds"), "21600");
        ASSERT_NULL(fake_request_header(&f->requests[0], "x-aws-ec2-metadata-token"));
        ASSERT_STREQ(f->requests[1].url, "http://imds.test/latest/meta-data/instance-id");
        ASSERT_STREQ(fake_request_header(&f->requests[1], "X-aws-ec2-metadata-token"), "TOKEN-1");
        ASSERT_STREQ(fake_request_header(&f->requests[2], "X-aws-ec2-metadata-token"), "TOKEN-1");

        /* Short timeouts, so that a lost packet costs little. */
        for (size_t i = 0; i < f->n_requests; i++) {
                ASSERT_TRUE(f->requests[i].connect_timeout > 0);
                ASSERT_TRUE(f->requests[i].connect_timeout <= 1 * USEC_PER_SEC);
                ASSERT_TRUE(f->requests[i].timeout > 0);
                ASSERT_TRUE(f->requests[i].timeout <= 2 * USEC_PER_SEC);
        }
}

static void test_endpoint_forms(void) {
        static const char *const endpoints[] = {
                "http://imds.test/", "http://imds.test", "http://[fd00:ec2::254]", "http://127.0.0.1:1338/",
        };
        static const char *const expected[] = {
                "http://imds.test/latest/meta-data/mac", "http://imds.test/latest/meta-data/mac",
                "http://[fd00:ec2::254]/latest/meta-data/mac", "http://127.0.0.1:1338/latest/meta-data/mac",
        };

        for (size_t i = 0; i < ELEMENTSOF(endpoints); i++) {
                _cleanup_(fake_transport_freep) FakeTransport *f = fake_transport_new();
                _cleanup_(imds_freep) Imds *imds = NULL;
                _cleanup_free_ char *mac = NULL;

                fake_transport_add(f, TOKEN("T"));
                fake_transport_add(f, GET("meta-data/mac", "0a:1b:2c:3d:4e:5f"));
                imds = new_imds(f, endpoints[i]);
                ASSERT_NOT_NULL(imds);
                ASSERT_OK(imds_get_mac(imds, USEC_INFINITY, &mac));
                ASSERT_STREQ(mac, "0a:1b:2c:3d:4e:5f");
                ASSERT_EQ(f->n_requests, 2);
                ASSERT_STREQ(f->requests[1].url, expected[i]);
        }
}

static void test_endpoint_from_environment(void) {
        _cleanup_(fake_transport_freep) FakeTransport *f = fake_transport_new();
        _cleanup_(imds_freep) Imds *imds = NULL, *bad = NULL;
        _cleanup_free_ char *ip = NULL;

        ASSERT_OK(setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:8111", 1));
        ASSERT_OK(imds_new(&f->transport, NULL, &imds));
        ASSERT_OK(unsetenv("AWS_EC2_METADATA_SERVICE_ENDPOINT"));

        fake_transport_add(f, TOKEN("T"));
        fake_transport_add(f, GET("meta-data/local-ipv4", "10.0.1.23"));
        ASSERT_OK(imds_get_local_ipv4(imds, USEC_INFINITY, &ip));
        ASSERT_STREQ(ip, "10.0.1.23");
        ASSERT_STREQ(f->requests[0].url, "http://127.0.0.1:8111/latest/api/token");

        ASSERT_EQ(imds_new(&f->transport, "ftp://imds.test", &bad), -EINVAL);
        ASSERT_EQ(imds_new(&f->transport, "http://", &bad), -EINVAL);
        ASSERT_EQ(imds_new(&f->transport, "http://a b", &bad), -EINVAL);
        ASSERT_NULL(bad);
}

static void test_path_refused(void) {
        _cleanup_(fake_transport_freep) FakeTransport *f = fake_transport_new();
        _cleanup_(imds_freep) Imds *imds = new_imds(f, ENDPOINT);
        char *s = NULL;

        ASSERT_NOT_NULL(imds);
        ASSERT_EQ(imds_get(imds, "meta-data/../../x", USEC_INFINITY, &s), -EINVAL);
        ASSERT_EQ(imds_get(imds, "meta-data/a?b", USEC_INFINITY, &s), -EINVAL);
        ASSERT_EQ(imds_get(imds, "meta-data/a b", USEC_INFINITY, &s), -EINVAL);
        ASSERT_EQ(imds_get(imds, "", USEC_INFINITY, &s), -EINVAL);
        ASSERT_NULL(s);
        ASSERT_EQ(f->n_requests, 0);
}

static void test_raw_get_leading_slash(void) {
        _cleanup_(fake_transport_freep) FakeTransport *f = fake_transport_new();
        _cleanup_(imds_freep) Imds *imds = new_imds(f, ENDPOINT);
        _cleanup_free_ char *s = NULL;

        fake_transport_add(f, TOKEN("T"));
        fake_transport_add(f, GET("meta-data/hostname", "ip-10-0-1-23.eu-west-1.compute.internal"));
        ASSERT_OK(imds_get(imds, "/meta-data/hostname", USEC_INFINITY, &s));
        ASSERT_STREQ(s, "ip-10-0-1-23.eu-west-1.compute.internal");
        ASSERT_STREQ(f->requests[1].url, "http://imds.test/latest/meta-data/hostname");
}

static void test_401_renews_token_and_retries_once(void) {
        _cleanup_(fake_transport_freep) FakeTransport *f = fake_transport_new();
        _cleanup_(imds_freep) Imds *imds = new_imds(f, ENDPOINT);
        _cleanup_free_ char *id = NULL;

        fake_transport_add(f, TOKEN("OLD"));
        fake_transport_add(f, GET_STATUS("meta-data/instance-id", 401));
        fake_transport_add(f, TOKEN("NEW"));
        fake_transport_add(f, GET("meta-data/instance-id", "i-1"));
        ASSERT_OK(imds_get_instance_id(imds, in(10 * USEC_PER_SEC), &id));
        ASSERT_STREQ(id, "i-1");
        ASSERT_EQ(f->mismatches, 0);
        ASSERT_EQ(f->n_requests, 4);
        ASSERT_STREQ(fake_request_header(&f->requests[1], "x-aws-ec2-metadata-token"), "OLD");
        ASSERT_STREQ(fake_request_header(&f->requests[3], "x-aws-ec2-metadata-token"), "NEW");

        /* A fresh token refused as well is final. */
        fake_transport_clear_requests(f);
        fake_transport_add(f, GET_STATUS("meta-data/instance-id", 401));
        fake_transport_add(f, TOKEN("NEWER"));
        fake_transport_add(f, GET_STATUS("meta-data/instance-id", 401));
        ASSERT_EQ(imds_get_instance_id(imds, in(10 * USEC_PER_SEC), &id), -EACCES);
        ASSERT_EQ(f->n_requests, 3);
        ASSERT_EQ(fake_transport_pending(f), 0);
        ASSERT_EQ(f->mismatches, 0);
}

static void test_token_403_is_fatal(void) {
        _cleanup_(fake_transport_freep) FakeTransport *f = fake_transport_new();
        _cleanup_(imds_freep) Imds *imds = new_imds(f, ENDPOINT);
        char *id = NULL;

        fake_transport_set_fallback(f, &(FakeReply) { .method = "PUT", .url = "/latest/api/token", .status = 403 });
        ASSERT_EQ(imds_get_instance_id(imds, in(10 * USEC_PER_SEC), &id), -EACCES);
        ASSERT_NULL(id);
        ASSERT_EQ(f->n_requests, 1);
        ASSERT_EQ(f->mismatches, 0);
}

static void test_no_imdsv1_fallback(void) {
        _cleanup_(fake_transport_freep) FakeTransport *f = fake_transport_new();
        _cleanup_(imds_freep) Imds *imds = new_imds(f, ENDPOINT);
        char *id = NULL;

        /* An endpoint without tokens: no token-less GET follows. */
        fake_transport_set_fallback(f, &(FakeReply) { .method = "PUT", .status = 404 });
        ASSERT_EQ(imds_get_instance_id(imds, in(10 * USEC_PER_SEC), &id), -EPROTONOSUPPORT);
        ASSERT_EQ(f->n_requests, 1);
        ASSERT_EQ(f->mismatches, 0);
}

static void test_transient_errors_retried(void) {
        _cleanup_(fake_transport_freep) FakeTransport *f = fake_transport_new();
        _cleanup_(imds_freep) Imds *imds = new_imds(f, ENDPOINT);
        _cleanup_free_ char *id = NULL;

        fake_transport_add(f, &(FakeReply) { .method = "PUT", .error = -ECONNREFUSED });
        fake_transport_add(f, &(FakeReply) { .method = "PUT", .status = 500 });
        fake_transport_add(f, TOKEN("T"));
        fake_transport_add(f, GET_STATUS("meta-data/instance-id", 503));
        fake_transport_add(f, GET_ERROR("meta-data/instance-id", -ETIMEDOUT));
        fake_transport_add(f, GET_ERROR("meta-data/instance-id", -ECONNRESET));
        fake_transport_add(f, GET_STATUS("meta-data/instance-id", 429));
        fake_transport_add(f, GET_ERROR("meta-data/instance-id", -EPROTO));
        fake_transport_add(f, GET("meta-data/instance-id", "i-2"));
        ASSERT_OK(imds_get_instance_id(imds, in(10 * USEC_PER_SEC), &id));
        ASSERT_STREQ(id, "i-2");
        ASSERT_EQ(f->n_requests, 9);
        ASSERT_EQ(fake_transport_pending(f), 0);
        ASSERT_EQ(f->mismatches, 0);
}

static void test_retries_are_bounded(void) {
        _cleanup_(fake_transport_freep) FakeTransport *f = fake_transport_new();
        _cleanup_(imds_freep) Imds *imds = new_imds(f, ENDPOINT);
        char *id = NULL;

        fake_transport_set_fallback(f, &(FakeReply) { .error = -ECONNREFUSED });
        ASSERT_EQ(imds_get_instance_id(imds, USEC_INFINITY, &id), -ECONNREFUSED);
        ASSERT_EQ(f->n_requests, 10);

        /* Bounded without a deadline, whatever the failure. */
        fake_transport_clear_requests(f);
        fake_transport_set_fallback(f, &(FakeReply) { .status = 500 });
        ASSERT_EQ(imds_get_instance_id(imds, USEC_INFINITY, &id), -EIO);
        ASSERT_EQ(f->n_requests, 10);
        ASSERT_NULL(id);
}

static void test_retries_stop_at_deadline(void) {
        _cleanup_(fake_transport_freep) FakeTransport *f = fake_transport_new();
        _cleanup_(imds_freep) Imds *imds = new_imds(f, ENDPOINT);
        usec_t start, deadline;
        char *id = NULL;

        fake_transport_set_fallback(f, &(FakeReply) { .error = -ECONNREFUSED });

        /* The waits are jittered below a ceiling of 100 ms, 200 ms, ...: a
         * deadline of 150 ms allows a few attempts, not ten. */
        start = now(CLOCK_MONOTONIC);
        deadline = start + 150 * USEC_PER_MSEC;
        ASSERT_EQ(imds_get_instance_id(imds, deadline, &id), -ETIME);
        ASSERT_NULL(id);
        ASSERT_TRUE(f->n_requests > 1);
        ASSERT_TRUE(f->n_requests < 10);
        ASSERT_TRUE(now(CLOCK_MONOTONIC) <= deadline);

        /* No request may outlive the deadline. */
        for (size_t i = 0; i < f->n_requests; i++)
                ASSERT_TRUE(f->requests[i].timeout <= 150 * USEC_PER_MSEC);

        /* A deadline already past sends nothing. */
        fake_transport_clear_requests(f);
        ASSERT_EQ(imds_get_instance_id(imds, now(CLOCK_MONOTONIC) - 1, &id), -ETIME);
        ASSERT_EQ(f->n_requests, 0);
}

static void test_user_data(void) {
        _cleanup_(fake_transport_freep) FakeTransport *f = fake_transport_new();
        _cleanup_(imds_freep) Imds *imds = new_imds(f, ENDPOINT);
        _cleanup_free_ char *ud = NULL;
        size_t size = 0;

        fake_transport_add(f, TOKEN("T"));
        fake_transport_add(f, GET_STATUS("user-data", 404));
        ASSERT_EQ(imds_get_user_data(imds, in(10 * USEC_PER_SEC), &ud, &size), -ENOENT);
        ASSERT_NULL(ud);
        /* Absent user data is an answer, not a failure to retry. */
        ASSERT_EQ(f->n_requests, 2);

        fake_transport_add(f, GET("user-data", "#nodeagent\n[Node]\nName=kafka-1\n"));
        ASSERT_OK(imds_get_user_data(imds, in(10 * USEC_PER_SEC), &ud, &size));
        ASSERT_STREQ(ud, "#nodeagent\n[Node]\nName=kafka-1\n");
        ASSERT_EQ(size, strlen(ud));
        ASSERT_EQ(f->mismatches, 0);
}

static void test_malformed_values_retried(void) {
        _cleanup_(fake_transport_freep) FakeTransport *f = fake_transport_new();
        _cleanup_(imds_freep) Imds *imds = new_imds(f, ENDPOINT);
        _cleanup_free_ char *mac = NULL, *ip = NULL;
        char *id = NULL;

        fake_transport_add(f, TOKEN("T"));
        fake_transport_add(f, GET("meta-data/mac", "0a:1b:2c"));
        fake_transport_add(f, GET("meta-data/mac", "0a:1b:2c:3d:4e:5f"));
        ASSERT_OK(imds_get_mac(imds, USEC_INFINITY, &mac));
        ASSERT_STREQ(mac, "0a:1b:2c:3d:4e:5f");

        fake_transport_add(f, GET("meta-data/local-ipv4", "10.0.1"));
        fake_transport_add(f, GET("meta-data/local-ipv4", "10.0.1.23"));
        ASSERT_OK(imds_get_local_ipv4(imds, USEC_INFINITY, &ip));
        ASSERT_STREQ(ip, "10.0.1.23");

        fake_transport_set_fallback(f, GET("meta-data/instance-id", "<html>oops</html>"));
        ASSERT_EQ(imds_get_instance_id(imds, USEC_INFINITY, &id), -EBADMSG);
        ASSERT_NULL(id);
        ASSERT_EQ(f->mismatches, 0);
}

static void test_region(void) {
        _cleanup_(fake_transport_freep) FakeTransport *f = fake_transport_new();
        _cleanup_(imds_freep) Imds *imds = new_imds(f, ENDPOINT);
        _cleanup_free_ char *region = NULL, *region2 = NULL;

        fake_transport_add(f, TOKEN("T"));
        fake_transport_add(f, GET("meta-data/placement/region", "eu-west-1"));
        ASSERT_OK(imds_get_region(imds, USEC_INFINITY, &region));
        ASSERT_STREQ(region, "eu-west-1");

        /* Without placement/region, the identity document says. */
        fake_transport_add(f, GET_STATUS("meta-data/placement/region", 404));
        fake_transport_add(f, GET("dynamic/instance-identity/document", IDENTITY_JSON));
        ASSERT_OK(imds_get_region(imds, USEC_INFINITY, &region2));
        ASSERT_STREQ(region2, "eu-west-1");
        ASSERT_EQ(f->mismatches, 0);
        ASSERT_EQ(fake_transport_pending(f), 0);
}

static void test_identity(void) {
        _cleanup_(fake_transport_freep) FakeTransport *f = fake_transport_new();
        _cleanup_(imds_freep) Imds *imds = new_imds(f, ENDPOINT);
        _cleanup_(imds_identity_done) ImdsIdentity id = {};
        ImdsIdentity bad = {};

        fake_transport_add(f, TOKEN("T"));
        fake_transport_add(f, GET("dynamic/instance-identity/document", "{\"accountId\": \"1\""));
        fake_transport_add(f, GET("dynamic/instance-identity/document", IDENTITY_JSON));
        ASSERT_OK(imds_get_identity(imds, USEC_INFINITY, &id));
        ASSERT_STREQ(id.account_id, "123456789012");
        ASSERT_STREQ(id.instance_id, "i-0123456789abcdef0");
        ASSERT_STREQ(id.region, "eu-west-1");
        ASSERT_STREQ(id.availability_zone, "eu-west-1b");
        ASSERT_STREQ(id.private_ip, "10.0.1.23");

        ASSERT_EQ(imds_parse_identity(S("{\"accountId\":\"1\",\"instanceId\":\"i-1\",\"region\":\"r\","
                                        "\"availabilityZone\":\"a\",\"privateIp\":7}"), &bad), -EBADMSG);
        ASSERT_EQ(imds_parse_identity(S("[]"), &bad), -EBADMSG);
        ASSERT_NULL(bad.account_id);
}

static void test_parse_timestamp(void) {
        static const char *const bad[] = {
                "", "2026-11-26", "2026-11-26 15:00:00Z", "2026-11-26T15:00:00", "2026-11-26T15:00:00+00:00",
                "2026-11-26T15:00:00.000Z", " 2026-11-26T15:00:00Z", "2026-11-26T15:00:00Zx",
                "2026-02-30T00:00:00Z", "2026-13-01T00:00:00Z", "2026-11-26T24:00:00Z", "2026-11-26T15:60:00Z",
                "2026-11-26T15:00:60Z", "+026-11-26T15:00:00Z", "2026-1a-26T15:00:00Z",
        };
        usec_t t = 42;

        ASSERT_OK(imds_parse_timestamp("2026-11-26T15:00:00Z", &t));
        ASSERT_EQ(t, UINT64_C(1795705200) * USEC_PER_SEC);
        ASSERT_OK(imds_parse_timestamp("2024-02-29T23:59:59Z", &t));
        ASSERT_EQ(t, UINT64_C(1709251199) * USEC_PER_SEC);

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                t = 42;
                if (imds_parse_timestamp(bad[i], &t) != -EBADMSG) {
                        test_fail(__FILE__, __LINE__, "accepted \"%s\"", bad[i]);
                        return;
                }
                ASSERT_EQ(t, 42);
        }
}

static void test_parse_credentials(void) {
        _cleanup_(aws_credentials_done) AwsCredentials c = {};
        AwsCredentials untouched = { .expiration = 7 };
        static const char *const malformed[] = {
                "",
                "{",
                "[]",
                "\"Success\"",
                CREDENTIALS_JSON "x",
                "{\"Code\":\"Success\",\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"S\",\"Expiration\":\"2026-11-26T15:00:00Z\"}",
                "{\"Code\":\"Success\",\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"S\",\"Token\":\"T\"}",
                "{\"Code\":\"Success\",\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"S\",\"Token\":\"T\",\"Expiration\":\"tomorrow\"}",
                "{\"Code\":\"Success\",\"AccessKeyId\":\"\",\"SecretAccessKey\":\"S\",\"Token\":\"T\",\"Expiration\":\"2026-11-26T15:00:00Z\"}",
                "{\"Code\":\"Success\",\"AccessKeyId\":1,\"SecretAccessKey\":\"S\",\"Token\":\"T\",\"Expiration\":\"2026-11-26T15:00:00Z\"}",
                "{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"S\",\"Token\":\"T\",\"Expiration\":\"2026-11-26T15:00:00Z\"}",
        };

        ASSERT_OK(imds_parse_credentials(CREDENTIALS_JSON, strlen(CREDENTIALS_JSON), &c));
        ASSERT_STREQ(c.access_key_id, "ASIAEXAMPLEKEYID");
        ASSERT_STREQ(c.secret_access_key, "imdsSECRETkeyEXAMPLE/abc+def");
        ASSERT_STREQ(c.session_token, "imdsSESSIONtokenEXAMPLE//////wEaCXVz");
        ASSERT_EQ(c.expiration, UINT64_C(1795705200) * USEC_PER_SEC);

        for (size_t i = 0; i < ELEMENTSOF(malformed); i++)
                if (imds_parse_credentials(malformed[i], strlen(malformed[i]), &untouched) != -EBADMSG) {
                        test_fail(__FILE__, __LINE__, "accepted malformed[%zu]", i);
                        return;
                }
        /* A NUL inside the reply is not JSON either. */
        ASSERT_EQ(imds_parse_credentials("{}\0{}", 5, &untouched), -EBADMSG);

        ASSERT_EQ(imds_parse_credentials(S("{\"Code\":\"AssumeRoleUnauthorizedAccess\",\"Message\":\"no\"}"),
                                         &untouched), -EACCES);
        ASSERT_NULL(untouched.access_key_id);
        ASSERT_EQ(untouched.expiration, 7);
}

static void test_role_credentials(void) {
        _cleanup_(fake_transport_freep) FakeTransport *f = fake_transport_new();
        _cleanup_(imds_freep) Imds *imds = new_imds(f, ENDPOINT);
        _cleanup_(aws_credentials_done) AwsCredentials c = {};
        _cleanup_free_ char *line = NULL;

        log_forget_secrets();
        fake_transport_add(f, TOKEN("imdsTOKENvalueEXAMPLE=="));
        fake_transport_add(f, GET("meta-data/iam/security-credentials/", "node-role\n"));
        fake_transport_add(f, GET("meta-data/iam/security-credentials/node-role", "{\"Code\":"));
        fake_transport_add(f, GET("meta-data/iam/security-credentials/node-role", CREDENTIALS_JSON));
        ASSERT_OK(imds_get_role_credentials(imds, in(10 * USEC_PER_SEC), &c));
        ASSERT_STREQ(c.access_key_id, "ASIAEXAMPLEKEYID");
        ASSERT_STREQ(c.session_token, "imdsSESSIONtokenEXAMPLE//////wEaCXVz");
        ASSERT_EQ(f->n_requests, 4);
        ASSERT_EQ(f->mismatches, 0);

        /* Every secret loaded is known to the log's redaction. */
        ASSERT_TRUE(asprintf(&line, "a imdsTOKENvalueEXAMPLE== b imdsSECRETkeyEXAMPLE/abc+def c "
                             "imdsSESSIONtokenEXAMPLE//////wEaCXVz d ASIAEXAMPLEKEYID") > 0);
        log_redact(line);
        ASSERT_STREQ(line, "a <redacted> b <redacted> c <redacted> d ASIAEXAMPLEKEYID");
        log_forget_secrets();
}

static void test_role_credentials_refused(void) {
        _cleanup_(fake_transport_freep) FakeTransport *f = fake_transport_new();
        _cleanup_(imds_freep) Imds *imds = new_imds(f, ENDPOINT);
        AwsCredentials c = {};

        fake_transport_add(f, TOKEN("T"));
        fake_transport_add(f, GET("meta-data/iam/security-credentials/", "node-role"));
        fake_transport_add(f, GET("meta-data/iam/security-credentials/node-role",
                                  "{\"Code\":\"AssumeRoleUnauthorizedAccess\",\"Message\":\"denied\"}"));
        ASSERT_EQ(imds_get_role_credentials(imds, in(10 * USEC_PER_SEC), &c), -EACCES);
        ASSERT_NULL(c.access_key_id);
        /* A refusal is an answer: not retried. */
        ASSERT_EQ(f->n_requests, 3);

        /* No role at all. */
        fake_transport_add(f, GET_STATUS("meta-data/iam/security-credentials/", 404));
        ASSERT_EQ(imds_get_role_credentials(imds, in(10 * USEC_PER_SEC), &c), -ENOENT);

        /* A listing that is not a role name is malformed, retried, then refused. */
        fake_transport_set_fallback(f, GET("meta-data/iam/security-credentials/", "../../../user-data"));
        ASSERT_EQ(imds_get_role_credentials(imds, in(10 * USEC_PER_SEC), &c), -EBADMSG);
        ASSERT_EQ(f->mismatches, 0);
}

static void test_role_credentials_malformed(void) {
        _cleanup_(fake_transport_freep) FakeTransport *f = fake_transport_new();
        _cleanup_(imds_freep) Imds *imds = new_imds(f, ENDPOINT);
        AwsCredentials c = {};

        fake_transport_add(f, TOKEN("T"));
        fake_transport_add(f, GET("meta-data/iam/security-credentials/", "node-role"));
        fake_transport_set_fallback(f, GET("meta-data/iam/security-credentials/node-role", "{\"Code\":\"Success\""));
        ASSERT_EQ(imds_get_role_credentials(imds, in(10 * USEC_PER_SEC), &c), -EBADMSG);
        ASSERT_NULL(c.access_key_id);
        /* The token, the listing, then the credentials: all ten attempts. */
        ASSERT_EQ(f->n_requests, 12);
        ASSERT_EQ(f->mismatches, 0);
}

static void test_token_refreshed_before_expiry(void) {
        _cleanup_(fake_transport_freep) FakeTransport *f = fake_transport_new();
        _cleanup_(imds_freep) Imds *imds = new_imds(f, ENDPOINT);
        _cleanup_free_ char *a = NULL, *b = NULL;

        /* IMDS granted one second only: the token is replaced before it ends. */
        fake_transport_add(f, &(FakeReply) {
                .method = "PUT", .url = "/latest/api/token", .body = "SHORT",
                .headers = (const char *const[]) { "x-aws-ec2-metadata-token-ttl-seconds", "1", NULL } });
        fake_transport_add(f, GET("meta-data/instance-id", "i-1"));
        fake_transport_add(f, TOKEN("LONG"));
        fake_transport_add(f, GET("meta-data/instance-id", "i-1"));

        ASSERT_OK(imds_get_instance_id(imds, USEC_INFINITY, &a));
        test_clock_advance(&test_clock, 600 * USEC_PER_MSEC);
        ASSERT_OK(imds_get_instance_id(imds, USEC_INFINITY, &b));
        ASSERT_EQ(f->n_requests, 4);
        ASSERT_STREQ(fake_request_header(&f->requests[3], "x-aws-ec2-metadata-token"), "LONG");
        ASSERT_EQ(f->mismatches, 0);
}

static void test_oversized_reply_not_retried(void) {
        _cleanup_(fake_transport_freep) FakeTransport *f = fake_transport_new();
        _cleanup_(imds_freep) Imds *imds = new_imds(f, ENDPOINT);
        char *s = NULL;

        fake_transport_add(f, TOKEN("T"));
        fake_transport_set_fallback(f, GET_ERROR("user-data", -EMSGSIZE));
        ASSERT_EQ(imds_get_user_data(imds, USEC_INFINITY, &s, NULL), -EMSGSIZE);
        ASSERT_EQ(f->n_requests, 2);
        ASSERT_TRUE(f->requests[1].max_response_size >= (size_t) 16 * 1024);
}

int main(void) {
        ClockHooks hooks;

        /* The whole program runs on the test clock: retries wait at once. */
        test_clock_install(&test_clock, &hooks);
        test_clock.random = UINT64_C(0x9E3779B97F4A7C15);
        RUN_TEST(test_token_fetched_once_and_reused);
        RUN_TEST(test_endpoint_forms);
        RUN_TEST(test_endpoint_from_environment);
        RUN_TEST(test_path_refused);
        RUN_TEST(test_raw_get_leading_slash);
        RUN_TEST(test_401_renews_token_and_retries_once);
        RUN_TEST(test_token_403_is_fatal);
        RUN_TEST(test_no_imdsv1_fallback);
        RUN_TEST(test_transient_errors_retried);
        RUN_TEST(test_retries_are_bounded);
        RUN_TEST(test_retries_stop_at_deadline);
        RUN_TEST(test_user_data);
        RUN_TEST(test_malformed_values_retried);
        RUN_TEST(test_region);
        RUN_TEST(test_identity);
        RUN_TEST(test_parse_timestamp);
        RUN_TEST(test_parse_credentials);
        RUN_TEST(test_role_credentials);
        RUN_TEST(test_role_credentials_refused);
        RUN_TEST(test_role_credentials_malformed);
        RUN_TEST(test_token_refreshed_before_expiry);
        RUN_TEST(test_oversized_reply_not_retried);
        return tests_finish();
}
