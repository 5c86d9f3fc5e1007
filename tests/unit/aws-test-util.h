/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* What the AWS tests (test-aws, test-ec2, test-route53) share: recorded
 * replies from tests/unit/replies, fixed credentials, and a client whose
 * clocks, sleep and randomness are the test's. Header-only (static inline)
 * because each test is one executable built from its own file. */

#include <stdio.h>

#include "aws.h"
#include "test-clock.h"
#include "fake-transport.h"
#include "macro.h"


static const char *test_replies_dir = NULL;

/* Reads tests/unit/replies/<name> (the directory comes as argv[1]). Test
 * code: failures abort. */
static inline char *test_reply(const char *name) {
        _cleanup_free_ char *path = NULL;
        char *buf;
        long size;
        FILE *f;

        if (asprintf(&path, "%s/%s", test_replies_dir ? test_replies_dir : "replies", name) < 0)
                abort();
        f = fopen(path, "re");
        if (!f) {
                fprintf(stdout, "# cannot open %s\n", path);
                abort();
        }
        if (fseek(f, 0, SEEK_END) < 0)
                abort();
        size = ftell(f);
        if (size < 0 || fseek(f, 0, SEEK_SET) < 0)
                abort();
        buf = malloc((size_t) size + 1);
        if (!buf || fread(buf, 1, (size_t) size, f) != (size_t) size)
                abort();
        buf[size] = '\0';
        /* Only read: closing it cannot lose anything. */
        (void) fclose(f);
        return buf;
}

/* Scripts one reply whose body is a recorded reply file. */
static inline void test_add_reply(FakeTransport *f, long status, const char *file, const char *const *headers) {
        _cleanup_free_ char *body = file ? test_reply(file) : NULL;

        fake_transport_add(f, &(FakeReply) { .status = status, .body = body, .headers = headers });
}

typedef struct TestCredentials {
        CredentialsProvider provider;
        AwsCredentials current;
        const char *refreshed_session_token;    /* what a forced refresh yields */
        unsigned n_get;
        unsigned n_forced;
        int error;                              /* < 0: get() fails with this */
} TestCredentials;

static inline int test_credentials_get(void *userdata, bool force_refresh, usec_t deadline,
                                       const AwsCredentials **ret) {
        TestCredentials *t = userdata;

        t->n_get++;
        if (t->error < 0)
                return t->error;
        if (force_refresh) {
                t->n_forced++;
                if (t->refreshed_session_token) {
                        free(t->current.session_token);
                        t->current.session_token = strdup(t->refreshed_session_token);
                }
        }
        *ret = &t->current;
        return 0;
}

/* The example keys of the AWS documentation; session_token may be NULL. */
static inline void test_credentials_init(TestCredentials *t, const char *session_token) {
        *t = (TestCredentials) {
                .provider = { .get = test_credentials_get, .userdata = t },
                .current = {
                        .access_key_id = strdup("AKIDEXAMPLE"),
                        .secret_access_key = strdup("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
                        .session_token = session_token ? strdup(session_token) : NULL,
                        .expiration = USEC_INFINITY,
                },
        };
}

static inline void test_credentials_done(TestCredentials *t) {
        free(t->current.access_key_id);
        free(t->current.secret_access_key);
        free(t->current.session_token);
        t->current = (AwsCredentials) {};
}

/* Everything one AWS test needs, torn down by test_aws_done(). */
typedef struct TestAws {
        FakeTransport *fake;
        TestCredentials creds;
        TestClock clock;
        ClockHooks hooks;               /* the process's clock while the test runs */
        AwsClient *client;
} TestAws;

static inline int test_aws_init(TestAws *t, const char *session_token) {
        int r;

        *t = (TestAws) {};
        t->fake = fake_transport_new();
        test_credentials_init(&t->creds, session_token);
        r = aws_client_new(&t->fake->transport, &t->creds.provider, "us-east-1", &t->client);
        if (r < 0)
                return r;
        test_clock_install(&t->clock, &t->hooks);
        return 0;
}

static inline void test_aws_done(TestAws *t) {
        test_clock_remove();
        t->client = aws_client_free(t->client);
        t->fake = fake_transport_free(t->fake);
        test_credentials_done(&t->creds);
}

/* A deadline in the test's monotonic clock. */
static inline usec_t test_aws_deadline(const TestAws *t, usec_t from_now) {
        return t->clock.monotonic + from_now;
}

/* The value of name=... in a recorded form body or query string, still
 * encoded; NULL when absent. The caller frees. */
static inline char *test_form_value(const char *form, const char *name) {
        size_t l = strlen(name);

        for (const char *p = form; p && *p;) {
                const char *amp = strchr(p, '&');
                size_t len = amp ? (size_t) (amp - p) : strlen(p);

                if (len > l && strncmp(p, name, l) == 0 && p[l] == '=')
                        return strndup(p + l + 1, len - l - 1);
                p = amp ? amp + 1 : NULL;
        }
        return NULL;
}
