/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* An HttpTransport for unit tests: perform() records each request and answers
 * with the next scripted reply, so that the code above http.h runs without a
 * network. Allocation failures abort: this is test code.
 *
 *   _cleanup_(fake_transport_freep) FakeTransport *f = fake_transport_new();
 *   fake_transport_add(f, &(FakeReply) { .method = "PUT", .url = "/latest/api/token",
 *                                        .body = "TOKEN" });
 *   ... code under test with &f->transport ...
 *   ASSERT_EQ(f->mismatches, 0);
 *   ASSERT_EQ(fake_transport_pending(f), 0);
 */

#include "http.h"

typedef struct FakeReply {
        const char *method;             /* expected method; NULL: any */
        const char *url;                /* the request URL must end with this; NULL: any */
        int error;                      /* < 0: perform() fails with this errno */
        long status;                    /* 0 means 200 */
        const char *body;               /* NULL: empty */
        const char *const *headers;     /* name, value, name, value, ..., NULL; may be NULL */
} FakeReply;

typedef struct FakeRequest {
        char *method;
        char *url;
        HttpHeader *headers;
        size_t n_headers;
        char *body;                     /* NUL-terminated copy, NULL when the request had none */
        size_t body_size;
        usec_t connect_timeout;
        usec_t timeout;
        size_t max_response_size;
} FakeRequest;

typedef struct FakeScripted FakeScripted;
typedef struct FakeTransport FakeTransport;

/* Answers a request instead of the script when set (for replies that depend
 * on the request). Returns what perform() returns. */
typedef int (*FakeHandler)(FakeTransport *f, const HttpRequest *request, HttpResponse *ret, void *userdata);

struct FakeTransport {
        HttpTransport transport;        /* give &f->transport to the code under test */

        FakeScripted *replies;
        size_t n_replies;
        size_t next_reply;
        FakeScripted *fallback;         /* answers once the script has run out; NULL: -EIO */

        FakeHandler handler;
        void *handler_userdata;

        FakeRequest *requests;
        size_t n_requests;

        /* Requests that did not match the method or URL the script expected,
         * or came after it ran out without a fallback. */
        unsigned mismatches;
};

FakeTransport *fake_transport_new(void);
FakeTransport *fake_transport_free(FakeTransport *f);
DEFINE_TRIVIAL_CLEANUP_FUNC(FakeTransport *, fake_transport_free);

/* Appends a reply to the script (the reply is copied). */
void fake_transport_add(FakeTransport *f, const FakeReply *reply);
/* The answer for every request after the script (copied). */
void fake_transport_set_fallback(FakeTransport *f, const FakeReply *reply);
void fake_transport_set_handler(FakeTransport *f, FakeHandler handler, void *userdata);

/* Scripted replies not yet used. */
size_t fake_transport_pending(const FakeTransport *f);
/* Forgets the recorded requests (the script stays). */
void fake_transport_clear_requests(FakeTransport *f);

/* Fills an HttpResponse as a transport would (body always NUL-terminated,
 * header names lowercased): for handlers. */
void fake_response_fill(HttpResponse *ret, long status, const char *body, const char *const *headers);

/* The recorded request's header (case-insensitive), NULL when absent. */
const char *fake_request_header(const FakeRequest *r, const char *name);
