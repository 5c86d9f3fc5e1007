/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* What the libFuzzer targets share: a transport that answers every request
 * with the fuzz input (NUL bytes included), fixed credentials, and clocks
 * under the target's control so that no attempt ever sleeps. Header-only:
 * each target is one executable built from its own file. */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aws.h"
#include "clock.h"
#include "http.h"
#include "log.h"

typedef struct FuzzTransport {
        HttpTransport transport;
        const uint8_t *data;
        size_t size;
        long status;
        unsigned n_requests;
} FuzzTransport;

static inline char *fuzz_strdup(const char *s) {
        char *p = strdup(s);

        if (!p)
                abort();
        return p;
}

/* Answers with status and the input as the body, a Date header (the
 * client reads it for its clock offset) and a request id. */
static inline int fuzz_perform(void *userdata, const HttpRequest *request, HttpResponse *ret) {
        FuzzTransport *f = userdata;
        HttpHeader *h;
        char *body;

        f->n_requests++;
        body = malloc(f->size + 1);
        h = calloc(2, sizeof(HttpHeader));
        if (!body || !h)
                abort();
        if (f->size > 0)
                memcpy(body, f->data, f->size);
        body[f->size] = '\0';
        h[0] = (HttpHeader) { fuzz_strdup("date"), fuzz_strdup("Fri, 12 Jan 2024 08:00:00 GMT") };
        h[1] = (HttpHeader) { fuzz_strdup("x-amzn-requestid"), fuzz_strdup("fuzz") };
        *ret = (HttpResponse) {
                .status = f->status,
                .headers = h,
                .n_headers = 2,
                .body = body,
                .body_size = f->size,
        };
        return 0;
}

static inline void fuzz_transport_init(FuzzTransport *f, const uint8_t *data, size_t size, long status) {
        *f = (FuzzTransport) {
                .transport = { .perform = fuzz_perform, .userdata = f },
                .data = data,
                .size = size,
                .status = status,
        };
}

/* 2024-01-12T08:00:00Z, the date of the recorded replies. */
#define FUZZ_REALTIME ((usec_t) 1705046400ULL * USEC_PER_SEC)
#define FUZZ_MONOTONIC ((usec_t) 1000 * USEC_PER_SEC)

typedef struct FuzzClock {
        usec_t realtime;
        usec_t monotonic;
} FuzzClock;

static inline usec_t fuzz_now(clockid_t clock, void *userdata) {
        FuzzClock *c = userdata;

        return clock == CLOCK_REALTIME ? c->realtime : c->monotonic;
}

static inline void fuzz_sleep(usec_t usec, void *userdata) {
        FuzzClock *c = userdata;

        c->monotonic += usec;
        c->realtime += usec;
}

/* The largest jitter: every backoff is as long as it can be, so that the
 * short deadline below ends a call after its first failed attempt. */
static inline uint64_t fuzz_random(void *userdata) {
        return UINT64_MAX;
}

typedef struct FuzzCredentials {
        CredentialsProvider provider;
        AwsCredentials current;
} FuzzCredentials;

static inline int fuzz_credentials_get(void *userdata, bool force_refresh, usec_t deadline,
                                       const AwsCredentials **ret) {
        FuzzCredentials *c = userdata;

        *ret = &c->current;
        return 0;
}

/* Everything one call under test needs. */
typedef struct FuzzAws {
        FuzzTransport transport;
        FuzzCredentials credentials;
        FuzzClock clock;
        ClockHooks hooks;
        AwsClient *client;
} FuzzAws;

static inline void fuzz_aws_init(FuzzAws *a, const uint8_t *data, size_t size, long status) {
        *a = (FuzzAws) {
                .clock = { .realtime = FUZZ_REALTIME, .monotonic = FUZZ_MONOTONIC },
        };
        fuzz_transport_init(&a->transport, data, size, status);
        a->credentials = (FuzzCredentials) {
                .provider = { .get = fuzz_credentials_get, .userdata = &a->credentials },
                .current = {
                        .access_key_id = (char *) "AKIDEXAMPLE",
                        .secret_access_key = (char *) "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                        .session_token = (char *) "FQoGZXIvYXdzEXAMPLEsessiontoken",
                        .expiration = USEC_INFINITY,
                },
        };
        if (aws_client_new(&a->transport.transport, &a->credentials.provider, "us-east-1", &a->client) < 0)
                abort();
        a->hooks = (ClockHooks) {
                .now = fuzz_now,
                .sleep = fuzz_sleep,
                .random = fuzz_random,
                .userdata = &a->clock,
        };
        clock_set_hooks(&a->hooks);
}

/* A deadline that allows one attempt and no retry. */
static inline usec_t fuzz_aws_deadline(const FuzzAws *a) {
        return a->clock.monotonic + USEC_PER_MSEC;
}

static inline void fuzz_aws_done(FuzzAws *a) {
        clock_set_hooks(NULL);
        a->client = aws_client_free(a->client);
}

/* Once per process: every log line is formatted, redacted and escaped (that
 * code meets the replies' text too), at the most detail; run the fuzzer with
 * -close_fd_mask=2 to keep stderr quiet (libFuzzer keeps its own and the
 * sanitizers' reports on a duplicate). FUZZ_QUIET=1 skips the logging. No
 * endpoint comes from the environment. */
static inline void fuzz_setup_once(void) {
        static bool done = false;

        if (done)
                return;
        done = true;
        if (getenv("FUZZ_QUIET"))
                log_set_max_level(-1);
        else
                log_set_verbosity(3);
        unsetenv("AWS_ENDPOINT_URL");
        unsetenv("AWS_ENDPOINT_URL_EC2");
        unsetenv("AWS_ENDPOINT_URL_ROUTE_53");
}

/* The input as a NUL-terminated string (cut at its first NUL). */
static inline char *fuzz_string(const uint8_t *data, size_t size) {
        char *s = malloc(size + 1);

        if (!s)
                abort();
        if (size > 0)
                memcpy(s, data, size);
        s[size] = '\0';
        return s;
}
