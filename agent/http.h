/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The only user of libcurl. A request goes out through an HttpTransport, a
 * table of one function pointer, so that unit tests can answer requests with
 * recorded replies and no network.
 *
 * Errors: a reply with any HTTP status is a success at this level (the
 * caller reads status). Failures to get a reply are negative errno:
 *   -ECONNREFUSED, -ECONNRESET, -EHOSTUNREACH  could not talk to the server
 *   -ETIMEDOUT     connect or total timeout
 *   -EMSGSIZE      reply larger than the cap (max_response_size)
 *   -EPROTO        reply cut short or not HTTP
 *   -ECANCELED     a cancellable request abandoned: the boot was cancelled
 *                  (wait.h); a write is never abandoned, its outcome would
 *                  be unknown
 *   -EIO           anything else from the transport
 *   -ENOMEM        out of memory
 */

#include <stddef.h>

#include "macro.h"
#include "time-util.h"

/* Replies larger than this are refused unless a request asks for less. */
#define HTTP_RESPONSE_SIZE_MAX ((size_t) 4 * 1024 * 1024)

typedef struct HttpHeader {
        char *name;   /* as sent; compared case-insensitively */
        char *value;
} HttpHeader;

typedef struct HttpRequest {
        const char *method;     /* "GET", "PUT", "POST" */
        const char *url;        /* absolute: http(s)://host[:port]/path?query */
        const HttpHeader *headers;
        size_t n_headers;
        const char *body;       /* may be NULL */
        size_t body_size;
        usec_t connect_timeout; /* 0: default (2 s) */
        usec_t timeout;         /* total; 0: default (30 s) */
        size_t max_response_size; /* 0: HTTP_RESPONSE_SIZE_MAX */
        bool cancellable;       /* a read that may be abandoned half-way: -ECANCELED
                                 * the moment the boot is cancelled (wait.h) */
} HttpRequest;

typedef struct HttpResponse {
        long status;
        HttpHeader *headers;    /* names lowercased */
        size_t n_headers;
        char *body;             /* always NUL-terminated (body[body_size] == 0) */
        size_t body_size;
} HttpResponse;

typedef struct HttpTransport {
        /* Performs the request; on success fills *ret (which the caller
         * releases with http_response_done()). */
        int (*perform)(void *userdata, const HttpRequest *request, HttpResponse *ret);
        void *userdata;
} HttpTransport;

/* The libcurl transport. One handle is kept per transport so that
 * connections are reused (keep-alive). TLS peers are always verified;
 * AWS_CA_BUNDLE, when set, names the CA file. */
int http_transport_curl_new(HttpTransport **ret);
HttpTransport *http_transport_curl_free(HttpTransport *t);
DEFINE_TRIVIAL_CLEANUP_FUNC(HttpTransport *, http_transport_curl_free);

static inline int http_perform(const HttpTransport *t, const HttpRequest *request, HttpResponse *ret) {
        return t->perform(t->userdata, request, ret);
}

void http_response_done(HttpResponse *r);

/* Case-insensitive header lookup; NULL when absent. */
const char *http_response_header(const HttpResponse *r, const char *name);

/* The libcurl global state; call once at start and at exit. */
int http_global_init(void);
void http_global_cleanup(void);
