/* SPDX-License-Identifier: Apache-2.0 */
#include <stdio.h>
#include <time.h>

#include "credentials.h"
#include "fake-transport.h"
#include "imds.h"
#include "log.h"
#include "test-clock.h"
#include "tests.h"

#define TOKEN_REPLY (&(FakeReply) { .method = "PUT", .url = "/latest/api/token", .body = "T" })
#define ROLE_REPLY (&(FakeReply) { .method = "GET", .url = "/security-credentials/", .body = "node-role\n" })

static void clear_environment(void) {
        unsetenv("AWS_ACCESS_KEY_ID");
        unsetenv("AWS_SECRET_ACCESS_KEY");
        unsetenv("AWS_SESSION_TOKEN");
        log_forget_secrets();
}

/* The role credentials IMDS would hand out, expiring `left` from now. */
static char *credentials_json(const char *key_id, usec_t left) {
        time_t t = (time_t) (usec_add(now(CLOCK_REALTIME), left) / USEC_PER_SEC);
        char stamp[sizeof("2026-11-26T15:00:00Z")];
        struct tm tm;
        char *json = NULL;

        if (!gmtime_r(&t, &tm) || strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
                return NULL;
        if (asprintf(&json,
                     "{\"Code\":\"Success\",\"Type\":\"AWS-HMAC\",\"AccessKeyId\":\"%s\","
                     "\"SecretAccessKey\":\"secret-of-%s\",\"Token\":\"token-of-%s\",\"Expiration\":\"%s\"}",
                     key_id, key_id, key_id, stamp) < 0)
                return NULL;
        return json;
}

static void add_credentials_reply(FakeTransport *f, const char *key_id, usec_t left) {
        _cleanup_free_ char *json = credentials_json(key_id, left);

        fake_transport_add(f, &(FakeReply) {
                .method = "GET", .url = "/security-credentials/node-role", .body = json });
}

static Imds *new_imds(FakeTransport *f) {
        Imds *imds = NULL;

        if (imds_new(&f->transport, "http://imds.test", &imds) < 0)
                return NULL;
        return imds;
}

static void test_from_environment(void) {
        _cleanup_(aws_credentials_done) AwsCredentials c = {}, copy = {};
        AwsCredentials none = {};
        char line[] = "key envSECRETexample token envTOKENexample";

        clear_environment();
        ASSERT_EQ(aws_credentials_from_environment(&none), -ENOENT);

        ASSERT_OK(setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE", 1));
        ASSERT_EQ(aws_credentials_from_environment(&none), -EINVAL);
        ASSERT_OK(unsetenv("AWS_ACCESS_KEY_ID"));
        ASSERT_OK(setenv("AWS_SECRET_ACCESS_KEY", "envSECRETexample", 1));
        ASSERT_EQ(aws_credentials_from_environment(&none), -EINVAL);
        ASSERT_NULL(none.access_key_id);

        ASSERT_OK(setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE", 1));
        ASSERT_OK(setenv("AWS_SESSION_TOKEN", "", 1));
        ASSERT_OK(aws_credentials_from_environment(&c));
        ASSERT_STREQ(c.access_key_id, "AKIDEXAMPLE");
        ASSERT_STREQ(c.secret_access_key, "envSECRETexample");
        ASSERT_NULL(c.session_token);
        ASSERT_EQ(c.expiration, USEC_INFINITY);
        aws_credentials_done(&c);

        ASSERT_OK(setenv("AWS_SESSION_TOKEN", "envTOKENexample", 1));
        ASSERT_OK(aws_credentials_from_environment(&c));
        ASSERT_STREQ(c.session_token, "envTOKENexample");

        ASSERT_OK(aws_credentials_copy(&c, &copy));
        ASSERT_TRUE(copy.secret_access_key != c.secret_access_key);
        ASSERT_STREQ(copy.access_key_id, "AKIDEXAMPLE");
        ASSERT_STREQ(copy.secret_access_key, "envSECRETexample");
        ASSERT_STREQ(copy.session_token, "envTOKENexample");
        ASSERT_EQ(copy.expiration, USEC_INFINITY);

        log_redact(line);
        ASSERT_STREQ(line, "key <redacted> token <redacted>");

        aws_credentials_done(&c);
        ASSERT_NULL(c.secret_access_key);
        /* Destructors take what was never filled, and twice. */
        aws_credentials_done(&c);
        aws_credentials_done(NULL);
        clear_environment();
}

static void test_provider_prefers_environment(void) {
        _cleanup_(fake_transport_freep) FakeTransport *f = fake_transport_new();
        _cleanup_(imds_freep) Imds *imds = new_imds(f);
        _cleanup_(credentials_provider_freep) CredentialsProvider *p = NULL;
        const AwsCredentials *c = NULL;

        clear_environment();
        ASSERT_OK(setenv("AWS_ACCESS_KEY_ID", "AKIDENV", 1));
        ASSERT_OK(setenv("AWS_SECRET_ACCESS_KEY", "envSECRET", 1));
        ASSERT_OK(credentials_provider_new(imds, &p));
        ASSERT_OK(credentials_get(p, false, USEC_INFINITY, &c));
        ASSERT_STREQ(c->access_key_id, "AKIDENV");
        ASSERT_EQ(c->expiration, USEC_INFINITY);
        ASSERT_OK(credentials_get(p, true, USEC_INFINITY, &c));
        ASSERT_STREQ(c->access_key_id, "AKIDENV");
        ASSERT_EQ(f->n_requests, 0);
        clear_environment();
}

static void test_provider_nothing(void) {
        _cleanup_(fake_transport_freep) FakeTransport *f = fake_transport_new();
        _cleanup_(imds_freep) Imds *imds = new_imds(f);
        _cleanup_(credentials_provider_freep) CredentialsProvider *p = NULL;
        CredentialsProvider *none = NULL;
        const AwsCredentials *c = NULL;

        clear_environment();
        ASSERT_EQ(credentials_provider_new(NULL, &none), -ENOKEY);
        ASSERT_NULL(none);

        ASSERT_OK(setenv("AWS_ACCESS_KEY_ID", "AKIDHALF", 1));
        ASSERT_EQ(credentials_provider_new(imds, &none), -EINVAL);
        clear_environment();

        /* An instance without a role. */
        ASSERT_OK(credentials_provider_new(imds, &p));
        fake_transport_add(f, TOKEN_REPLY);
        fake_transport_add(f, &(FakeReply) { .method = "GET", .url = "/security-credentials/", .status = 404 });
        ASSERT_EQ(credentials_get(p, false, USEC_INFINITY, &c), -ENOKEY);
        ASSERT_NULL(c);
        ASSERT_EQ(f->mismatches, 0);
        credentials_provider_free(NULL);
}

static void test_provider_caches_and_refreshes(void) {
        _cleanup_(fake_transport_freep) FakeTransport *f = fake_transport_new();
        _cleanup_(imds_freep) Imds *imds = new_imds(f);
        _cleanup_(credentials_provider_freep) CredentialsProvider *p = NULL;
        const AwsCredentials *c = NULL;
        char line[] = "secret-of-ASIAONE token-of-ASIAONE";

        clear_environment();
        ASSERT_OK(credentials_provider_new(imds, &p));

        fake_transport_add(f, TOKEN_REPLY);
        fake_transport_add(f, ROLE_REPLY);
        add_credentials_reply(f, "ASIAONE", USEC_PER_HOUR);
        ASSERT_OK(credentials_get(p, false, USEC_INFINITY, &c));
        ASSERT_STREQ(c->access_key_id, "ASIAONE");
        ASSERT_STREQ(c->secret_access_key, "secret-of-ASIAONE");
        ASSERT_STREQ(c->session_token, "token-of-ASIAONE");
        ASSERT_TRUE(c->expiration > usec_add(now(CLOCK_REALTIME), 55 * USEC_PER_MINUTE));
        ASSERT_EQ(f->n_requests, 3);
        log_redact(line);
        ASSERT_STREQ(line, "<redacted> <redacted>");

        /* An hour left: the cached ones, no request. */
        ASSERT_OK(credentials_get(p, false, USEC_INFINITY, &c));
        ASSERT_STREQ(c->access_key_id, "ASIAONE");
        ASSERT_EQ(f->n_requests, 3);

        /* Rejected by a service: fetched again although they look fresh
         * (the IMDS token is still good). */
        fake_transport_add(f, ROLE_REPLY);
        add_credentials_reply(f, "ASIATWO", 4 * USEC_PER_MINUTE);
        ASSERT_OK(credentials_get(p, true, USEC_INFINITY, &c));
        ASSERT_STREQ(c->access_key_id, "ASIATWO");
        ASSERT_EQ(f->n_requests, 5);

        /* Four minutes left is inside the five-minute margin: replaced. */
        fake_transport_add(f, ROLE_REPLY);
        add_credentials_reply(f, "ASIATHREE", 6 * USEC_PER_HOUR);
        ASSERT_OK(credentials_get(p, false, USEC_INFINITY, &c));
        ASSERT_STREQ(c->access_key_id, "ASIATHREE");
        ASSERT_EQ(f->n_requests, 7);

        ASSERT_OK(credentials_get(p, false, USEC_INFINITY, &c));
        ASSERT_EQ(f->n_requests, 7);
        ASSERT_EQ(f->mismatches, 0);
        ASSERT_EQ(fake_transport_pending(f), 0);
        log_forget_secrets();
}

static void test_provider_keeps_valid_on_failed_refresh(void) {
        _cleanup_(fake_transport_freep) FakeTransport *f = fake_transport_new();
        _cleanup_(imds_freep) Imds *imds = new_imds(f);
        _cleanup_(credentials_provider_freep) CredentialsProvider *p = NULL;
        const AwsCredentials *c = NULL;

        clear_environment();
        ASSERT_OK(credentials_provider_new(imds, &p));
        fake_transport_add(f, TOKEN_REPLY);
        fake_transport_add(f, ROLE_REPLY);
        add_credentials_reply(f, "ASIAOLD", 4 * USEC_PER_MINUTE);
        ASSERT_OK(credentials_get(p, false, USEC_INFINITY, &c));
        ASSERT_STREQ(c->access_key_id, "ASIAOLD");

        /* IMDS is down while they are due: still valid, still used. */
        fake_transport_set_fallback(f, &(FakeReply) { .error = -ECONNREFUSED });
        c = NULL;
        ASSERT_OK(credentials_get(p, false, USEC_INFINITY, &c));
        ASSERT_STREQ(c->access_key_id, "ASIAOLD");

        /* But not when a service already rejected them. */
        ASSERT_EQ(credentials_get(p, true, USEC_INFINITY, &c), -ECONNREFUSED);
        log_forget_secrets();
}

int main(void) {
        static TestClock clock;
        ClockHooks hooks;

        /* Retries wait at once on the test clock. */
        test_clock_install(&clock, &hooks);
        clock.random = UINT64_C(0x9E3779B97F4A7C15);
        RUN_TEST(test_from_environment);
        RUN_TEST(test_provider_prefers_environment);
        RUN_TEST(test_provider_nothing);
        RUN_TEST(test_provider_caches_and_refreshes);
        RUN_TEST(test_provider_keeps_valid_on_failed_refresh);
        return tests_finish();
}
