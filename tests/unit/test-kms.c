/* SPDX-License-Identifier: Apache-2.0 */
#include <math.h>

#include "aws-json.h"
#include "aws-test-util.h"
#include "kms.h"
#include "tests.h"

/* The replies in tests/unit/replies/kms-*.json follow the shapes of
 * botocore's kms 2014-11-01 model and its DescribeKey examples
 * (examples-1.json), with this test's account, Region and keys; the error
 * bodies are the JSON protocol's {"__type", "message"} with the codes and
 * messages AWS's KMS API reference documents. */

#define KEY_ARN "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"

/* botocore.auth.SigV4Auth over the same request (keys, date, the four
 * signed headers and this body): the signature must be the same. */
#define TEST_SIGNATURE_DESCRIBE_KEY "de6bf02e3ee0765a00c2b1fbc3c9c6994f3f332673328d69a912ccc2b6f6a061"

static int setup(TestAws *t) {
        unsetenv("AWS_ENDPOINT_URL");
        unsetenv("AWS_ENDPOINT_URL_KMS");
        return test_aws_init(t, NULL);
}

/* -- the JSON bodies ----------------------------------------------------------------------- */

static void test_json_doc_parse(void) {
        static const char text[] = "{\"a\": {\"b\": \"c\", \"t\": true, \"n\": 1.5, \"i\": 7, \"z\": null}} \n";
        _cleanup_(json_doc_freep) JsonDoc *doc = NULL, *empty = NULL, *blank = NULL;
        static const char *const bad[] = {
                "[1, 2]", "\"text\"", "{\"a\": 1", "{\"a\": 1} x", "{\"a\": 1,}",
                "{\"a\": /* comment */ 1}", "<xml/>", "null",
        };
        bool b;
        double d;

        ASSERT_OK(json_doc_parse(text, strlen(text), &doc));
        ASSERT_STREQ(json_doc_string(doc, "a/b"), "c");
        ASSERT_NULL(json_doc_string(doc, "a/t"));
        ASSERT_NULL(json_doc_string(doc, "a/missing"));
        ASSERT_NULL(json_doc_string(doc, "a/b/c"));
        ASSERT_NULL(json_doc_string(doc, "a"));
        ASSERT_NULL(json_doc_string(NULL, "a"));
        ASSERT_OK(json_doc_bool(doc, "a/t", &b));
        ASSERT_TRUE(b);
        ASSERT_EQ(json_doc_bool(doc, "a/b", &b), -EBADMSG);
        ASSERT_EQ(json_doc_bool(doc, "a/z", &b), -ENOENT);
        ASSERT_EQ(json_doc_bool(doc, "x", &b), -ENOENT);
        ASSERT_OK(json_doc_number(doc, "a/n", &d));
        ASSERT_TRUE(d == 1.5);
        ASSERT_OK(json_doc_number(doc, "a/i", &d));
        ASSERT_TRUE(d == 7.0);
        ASSERT_EQ(json_doc_number(doc, "a/b", &d), -EBADMSG);

        /* The JSON protocol's empty success. */
        ASSERT_OK(json_doc_parse("", 0, &empty));
        ASSERT_NULL(json_doc_string(empty, "a"));
        ASSERT_OK(json_doc_parse(" \r\n", 3, &blank));

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                JsonDoc *d2 = NULL;

                ASSERT_EQ(json_doc_parse(bad[i], strlen(bad[i]), &d2), -EBADMSG);
                ASSERT_NULL(d2);
        }
        /* A NUL inside would hide what follows it. */
        ASSERT_EQ(json_doc_parse("{}\0{\"a\":1}", 11, &doc), -EBADMSG);
        ASSERT_EQ(json_doc_parse("{}", JSON_DOC_SIZE_MAX + 1, &doc), -EMSGSIZE);
}

static void test_json_encode(void) {
        _cleanup_(aws_params_done) AwsParams p = {};
        _cleanup_free_ char *empty = NULL, *s = NULL;

        ASSERT_OK(json_encode_string_members(NULL, &empty));
        ASSERT_STREQ(empty, "{}");

        ASSERT_OK(aws_params_add(&p, "KeyId", "alias/a\"b\\c/d"));
        ASSERT_OK(aws_params_add(&p, "Note", "line\nbreak \xc3\xa9"));
        ASSERT_OK(json_encode_string_members(&p, &s));
        ASSERT_STREQ(s, "{\"KeyId\":\"alias/a\\\"b\\\\c/d\",\"Note\":\"line\\nbreak \xc3\xa9\"}");
}

static void test_json_error_parse(void) {
        _cleanup_free_ char *denied = test_reply("kms-error-access-denied.json");
        _cleanup_free_ char *expired = test_reply("kms-error-signature-expired.json");
        _cleanup_(aws_error_done) AwsError e = {};

        ASSERT_OK(aws_json_error_parse(400, denied, strlen(denied), NULL, &e));
        ASSERT_EQ(e.http_status, 400);
        ASSERT_STREQ(e.code, "AccessDeniedException");
        ASSERT_TRUE(strstr(e.message, "kms:DescribeKey") != NULL);
        ASSERT_EQ(aws_error_classify(&e, false), AWS_ERROR_CLASS_AUTH);

        /* A namespaced __type: the code is after the '#'. */
        ASSERT_OK(aws_json_error_parse(400, expired, strlen(expired), NULL, &e));
        ASSERT_STREQ(e.code, "InvalidSignatureException");
        ASSERT_EQ(aws_error_classify(&e, false), AWS_ERROR_CLASS_CLOCK_SKEW);

        /* "Message" as some services spell it; the body's code wins over
         * the header's. */
        ASSERT_OK(aws_json_error_parse(400, "{\"__type\":\"ValidationException\",\"Message\":\"bad\"}", 48,
                                       "OtherException:http://internal.amazon.com/", &e));
        ASSERT_STREQ(e.code, "ValidationException");
        ASSERT_STREQ(e.message, "bad");

        /* No body to speak of: X-Amzn-ErrorType names the code. */
        ASSERT_OK(aws_json_error_parse(503, "", 0, "ServiceUnavailableException:http://internal.amazon.com/", &e));
        ASSERT_STREQ(e.code, "ServiceUnavailableException");
        ASSERT_NULL(e.message);
        ASSERT_OK(aws_json_error_parse(400, "<html>proxy</html>", 18, "ThrottlingException", &e));
        ASSERT_STREQ(e.code, "ThrottlingException");

        /* Neither: the body is not an AWS error, e stays as it was. */
        ASSERT_EQ(aws_json_error_parse(502, "<html>Bad Gateway</html>", 24, NULL, &e), -EBADMSG);
        ASSERT_STREQ(e.code, "ThrottlingException");
}

/* -- the call ------------------------------------------------------------------------------ */

static void test_describe_key_request(void) {
        _cleanup_free_ char *body = test_reply("kms-describe-key.json");
        _cleanup_(kms_key_done) KmsKey k = {};
        _cleanup_(aws_error_done) AwsError e = {};
        const FakeRequest *req;
        TestAws t;

        ASSERT_OK(setup(&t));
        fake_transport_add(t.fake, &(FakeReply) { .method = "POST", .url = "/", .body = body });

        ASSERT_OK(kms_describe_key(t.client, KEY_ARN, USEC_INFINITY, &e, &k));
        ASSERT_NULL(e.code);
        req = &t.fake->requests[0];
        ASSERT_STREQ(req->url, "https://kms.us-east-1.amazonaws.com/");
        ASSERT_STREQ(req->body, "{\"KeyId\":\"" KEY_ARN "\"}");
        ASSERT_STREQ(fake_request_header(req, "Content-Type"), "application/x-amz-json-1.1");
        ASSERT_STREQ(fake_request_header(req, "X-Amz-Target"), "TrentService.DescribeKey");
        ASSERT_STREQ(fake_request_header(req, "Authorization"),
                     "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240112/us-east-1/kms/aws4_request, "
                     "SignedHeaders=content-type;host;x-amz-date;x-amz-target, "
                     "Signature=" TEST_SIGNATURE_DESCRIBE_KEY);

        ASSERT_STREQ(k.id, "1234abcd-12ab-34cd-56ef-1234567890ab");
        ASSERT_STREQ(k.arn, KEY_ARN);
        ASSERT_STREQ(k.state, "Enabled");
        ASSERT_TRUE(k.enabled);
        ASSERT_STREQ(k.key_manager, "CUSTOMER");
        ASSERT_EQ(k.deletion_date, 0);
        ASSERT_NULL(kms_key_unusable_reason(&k));
        ASSERT_EQ(t.fake->mismatches, 0);
        test_aws_done(&t);
}

static void test_describe_key_states(void) {
        _cleanup_(kms_key_done) KmsKey disabled = {}, deleting = {}, managed = {};
        TestAws t;

        ASSERT_OK(setup(&t));
        test_add_reply(t.fake, 200, "kms-describe-key-disabled.json", NULL);
        test_add_reply(t.fake, 200, "kms-describe-key-pending-deletion.json", NULL);
        test_add_reply(t.fake, 200, "kms-describe-key-aws-managed.json", NULL);

        ASSERT_OK(kms_describe_key(t.client, KEY_ARN, USEC_INFINITY, NULL, &disabled));
        ASSERT_STREQ(disabled.state, "Disabled");
        ASSERT_FALSE(disabled.enabled);
        ASSERT_TRUE(strstr(kms_key_unusable_reason(&disabled), "disabled") != NULL);

        ASSERT_OK(kms_describe_key(t.client, "0987dcba-09fe-87dc-65ba-ab0987654321", USEC_INFINITY, NULL, &deleting));
        ASSERT_STREQ(deleting.state, "PendingDeletion");
        ASSERT_EQ(deleting.deletion_date, (usec_t) 1706659200 * USEC_PER_SEC);
        ASSERT_TRUE(strstr(kms_key_unusable_reason(&deleting), "deletion") != NULL);

        ASSERT_OK(kms_describe_key(t.client, "alias/aws/ebs", USEC_INFINITY, NULL, &managed));
        ASSERT_STREQ(managed.key_manager, "AWS");
        ASSERT_NULL(kms_key_unusable_reason(&managed));
        test_aws_done(&t);
}

static void test_unusable_reason(void) {
        static const char *const unusable[] = {
                "Disabled", "PendingDeletion", "PendingImport", "Unavailable", "Creating",
                "PendingReplicaDeletion", "SomethingNew",
        };

        ASSERT_NULL(kms_key_unusable_reason(&(KmsKey) { .state = (char *) "Enabled", .enabled = true }));
        for (size_t i = 0; i < ELEMENTSOF(unusable); i++) {
                const char *reason = kms_key_unusable_reason(&(KmsKey) { .state = (char *) unusable[i] });

                ASSERT_NOT_NULL(reason);
                ASSERT_TRUE(strstr(reason, "attach") != NULL || strstr(reason, "use") != NULL);
        }
}

static void test_describe_key_errors(void) {
        _cleanup_(kms_key_done) KmsKey k = {};
        _cleanup_(aws_error_done) AwsError e = {};
        TestAws t;

        ASSERT_OK(setup(&t));
        test_add_reply(t.fake, 400, "kms-error-access-denied.json", NULL);
        test_add_reply(t.fake, 400, "kms-error-not-found.json", NULL);
        test_add_reply(t.fake, 400, "kms-error-unrecognized-client.json", NULL);
        /* A 200 without KeyMetadata is no answer to DescribeKey. */
        fake_transport_add(t.fake, &(FakeReply) { .body = "{}" });

        ASSERT_EQ(kms_describe_key(t.client, KEY_ARN, USEC_INFINITY, &e, &k), -EACCES);
        ASSERT_STREQ(e.code, "AccessDeniedException");
        ASSERT_EQ(kms_describe_key(t.client, KEY_ARN, USEC_INFINITY, &e, &k), -ENOENT);
        ASSERT_STREQ(e.code, "NotFoundException");
        ASSERT_TRUE(strstr(e.message, "does not exist") != NULL);
        ASSERT_EQ(kms_describe_key(t.client, KEY_ARN, USEC_INFINITY, &e, &k), -EACCES);
        ASSERT_EQ(kms_describe_key(t.client, KEY_ARN, USEC_INFINITY, NULL, &k), -EBADMSG);
        ASSERT_NULL(k.id);
        /* None of these was retried. */
        ASSERT_EQ(t.fake->n_requests, 4);
        ASSERT_EQ(kms_describe_key(t.client, "", USEC_INFINITY, NULL, &k), -EINVAL);
        test_aws_done(&t);
}

/* The JSON call goes through the same attempts as the others: throttling
 * and a malformed reply are retried after a backoff, a skewed clock is
 * corrected at once. */
static void test_describe_key_retries(void) {
        _cleanup_free_ char *expired = test_reply("kms-error-signature-expired.json");
        _cleanup_(kms_key_done) KmsKey k = {};
        TestAws t;

        ASSERT_OK(setup(&t));
        test_add_reply(t.fake, 400, "kms-error-throttling.json", NULL);
        fake_transport_add(t.fake, &(FakeReply) { .body = "{\"KeyMetadata\": " });
        fake_transport_add(t.fake, &(FakeReply) {
                                           .status = 400,
                                           .body = expired,
                                           .headers = (const char *const[]) { "Date", "Fri, 12 Jan 2024 08:10:00 GMT",
                                                                              NULL },
                                   });
        test_add_reply(t.fake, 200, "kms-describe-key.json", NULL);

        ASSERT_OK(kms_describe_key(t.client, KEY_ARN, USEC_INFINITY, NULL, &k));
        ASSERT_EQ(t.fake->n_requests, 4);
        ASSERT_EQ(t.clock.n_sleeps, 2);
        ASSERT_STREQ(fake_request_header(&t.fake->requests[3], "X-Amz-Date"), "20240112T081000Z");
        ASSERT_STREQ(k.state, "Enabled");
        test_aws_done(&t);
}

static void test_endpoint_environment(void) {
        TestAws t;

        unsetenv("AWS_ENDPOINT_URL");
        setenv("AWS_ENDPOINT_URL_KMS", "http://127.0.0.1:4566/", 1);
        ASSERT_OK(test_aws_init(&t, NULL));
        ASSERT_STREQ(aws_client_endpoint(t.client, AWS_SERVICE_KMS), "http://127.0.0.1:4566");
        ASSERT_STREQ(aws_client_signing_region(t.client, AWS_SERVICE_KMS), "us-east-1");
        ASSERT_STREQ(aws_service_to_string(AWS_SERVICE_KMS), "kms");
        test_aws_done(&t);
        unsetenv("AWS_ENDPOINT_URL_KMS");

        /* Only a JSON-protocol service takes a JSON call. */
        ASSERT_OK(setup(&t));
        ASSERT_STREQ(aws_client_endpoint(t.client, AWS_SERVICE_KMS), "https://kms.us-east-1.amazonaws.com");
        ASSERT_EQ(aws_json_call(t.client, AWS_SERVICE_EC2, "DescribeVolumes", NULL, USEC_INFINITY, NULL, NULL),
                  -EINVAL);
        ASSERT_EQ(aws_query_call(t.client, AWS_SERVICE_KMS, "DescribeKey", NULL, USEC_INFINITY, NULL, NULL), -EINVAL);
        ASSERT_EQ(t.fake->n_requests, 0);
        test_aws_done(&t);
}

int main(int argc, char *argv[]) {
        if (argc > 1)
                test_replies_dir = argv[1];

        RUN_TEST(test_json_doc_parse);
        RUN_TEST(test_json_encode);
        RUN_TEST(test_json_error_parse);
        RUN_TEST(test_describe_key_request);
        RUN_TEST(test_describe_key_states);
        RUN_TEST(test_unusable_reason);
        RUN_TEST(test_describe_key_errors);
        RUN_TEST(test_describe_key_retries);
        RUN_TEST(test_endpoint_environment);
        return tests_finish();
}
