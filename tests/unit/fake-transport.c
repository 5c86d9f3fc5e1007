/* SPDX-License-Identifier: Apache-2.0 */
#include <ctype.h>
#include <stdio.h>
#include <strings.h>

#include "fake-transport.h"

struct FakeScripted {
        char *method;
        char *url;
        int error;
        long status;
        char *body;
        char **headers;         /* name, value, ..., NULL */
};

static void *xmalloc0(size_t size) {
        void *p = calloc(1, size ?: 1);

        if (!p)
                abort();
        return p;
}

static char *xstrdup(const char *s) {
        char *p;

        if (!s)
                return NULL;
        p = strdup(s);
        if (!p)
                abort();
        return p;
}

static char *xmemdup0(const char *s, size_t n) {
        char *p = xmalloc0(n + 1);

        if (n > 0)
                memcpy(p, s, n);
        return p;
}

static char **strv_copy(const char *const *l) {
        size_t n = 0;
        char **c;

        if (!l)
                return NULL;
        while (l[n])
                n++;
        c = xmalloc0((n + 1) * sizeof(char *));
        for (size_t i = 0; i < n; i++)
                c[i] = xstrdup(l[i]);
        return c;
}

static void scripted_done(FakeScripted *s) {
        free(s->method);
        free(s->url);
        free(s->body);
        strv_free(s->headers);
        *s = (FakeScripted) {};
}

static void scripted_set(FakeScripted *s, const FakeReply *reply) {
        *s = (FakeScripted) {
                .method = xstrdup(reply->method),
                .url = xstrdup(reply->url),
                .error = reply->error,
                .status = reply->status > 0 ? reply->status : 200,
                .body = xstrdup(reply->body),
                .headers = strv_copy(reply->headers),
        };
}

void fake_response_fill(HttpResponse *ret, long status, const char *body, const char *const *headers) {
        size_t n = 0;

        *ret = (HttpResponse) {
                .status = status,
                .body = xstrdup(body ?: ""),
                .body_size = body ? strlen(body) : 0,
        };
        if (!headers)
                return;
        while (headers[n] && headers[n + 1])
                n += 2;
        ret->headers = xmalloc0((n / 2 + 1) * sizeof(HttpHeader));
        for (size_t i = 0; i < n; i += 2) {
                HttpHeader *h = &ret->headers[ret->n_headers++];

                h->name = xstrdup(headers[i]);
                for (char *p = h->name; *p; p++)
                        *p = (char) tolower((unsigned char) *p);
                h->value = xstrdup(headers[i + 1]);
        }
}

static bool endswith(const char *s, const char *suffix) {
        size_t a = strlen(s), b = strlen(suffix);

        return a >= b && streq(s + a - b, suffix);
}

static void record(FakeTransport *f, const HttpRequest *request) {
        FakeRequest *r;

        r = reallocarray(f->requests, f->n_requests + 1, sizeof(FakeRequest));
        if (!r)
                abort();
        f->requests = r;
        r = &f->requests[f->n_requests++];

        *r = (FakeRequest) {
                .method = xstrdup(request->method),
                .url = xstrdup(request->url),
                .body = request->body ? xmemdup0(request->body, request->body_size) : NULL,
                .body_size = request->body_size,
                .connect_timeout = request->connect_timeout,
                .timeout = request->timeout,
                .max_response_size = request->max_response_size,
        };
        r->headers = xmalloc0((request->n_headers + 1) * sizeof(HttpHeader));
        for (size_t i = 0; i < request->n_headers; i++)
                r->headers[i] = (HttpHeader) {
                        .name = xstrdup(request->headers[i].name),
                        .value = xstrdup(request->headers[i].value),
                };
        r->n_headers = request->n_headers;
}

static int fake_perform(void *userdata, const HttpRequest *request, HttpResponse *ret) {
        FakeTransport *f = userdata;
        const FakeScripted *s;

        record(f, request);

        if (f->handler)
                return f->handler(f, request, ret, f->handler_userdata);

        if (f->next_reply < f->n_replies)
                s = &f->replies[f->next_reply++];
        else if (f->fallback)
                s = f->fallback;
        else {
                fprintf(stdout, "# fake transport: unexpected %s %s\n", request->method, request->url);
                f->mismatches++;
                return -EIO;
        }

        if ((s->method && !streq(s->method, request->method)) || (s->url && !endswith(request->url, s->url))) {
                fprintf(stdout, "# fake transport: expected %s %s, got %s %s\n", strna(s->method),
                        strna(s->url), request->method, request->url);
                f->mismatches++;
                return -EIO;
        }

        if (s->error < 0)
                return s->error;

        fake_response_fill(ret, s->status, s->body, (const char *const *) s->headers);
        return 0;
}

FakeTransport *fake_transport_new(void) {
        FakeTransport *f = xmalloc0(sizeof(FakeTransport));

        f->transport = (HttpTransport) {
                .perform = fake_perform,
                .userdata = f,
        };
        return f;
}

void fake_transport_clear_requests(FakeTransport *f) {
        for (size_t i = 0; i < f->n_requests; i++) {
                FakeRequest *r = &f->requests[i];

                free(r->method);
                free(r->url);
                free(r->body);
                for (size_t j = 0; j < r->n_headers; j++) {
                        free(r->headers[j].name);
                        free(r->headers[j].value);
                }
                free(r->headers);
        }
        f->requests = mfree(f->requests);
        f->n_requests = 0;
}

FakeTransport *fake_transport_free(FakeTransport *f) {
        if (!f)
                return NULL;
        fake_transport_clear_requests(f);
        for (size_t i = 0; i < f->n_replies; i++)
                scripted_done(&f->replies[i]);
        free(f->replies);
        if (f->fallback) {
                scripted_done(f->fallback);
                free(f->fallback);
        }
        return mfree(f);
}

void fake_transport_add(FakeTransport *f, const FakeReply *reply) {
        FakeScripted *n;

        n = reallocarray(f->replies, f->n_replies + 1, sizeof(FakeScripted));
        if (!n)
                abort();
        f->replies = n;
        scripted_set(&f->replies[f->n_replies++], reply);
}

void fake_transport_set_fallback(FakeTransport *f, const FakeReply *reply) {
        if (f->fallback)
                scripted_done(f->fallback);
        else
                f->fallback = xmalloc0(sizeof(FakeScripted));
        scripted_set(f->fallback, reply);
}

void fake_transport_set_handler(FakeTransport *f, FakeHandler handler, void *userdata) {
        f->handler = handler;
        f->handler_userdata = userdata;
}

size_t fake_transport_pending(const FakeTransport *f) {
        return f->n_replies - f->next_reply;
}

const char *fake_request_header(const FakeRequest *r, const char *name) {
        for (size_t i = 0; i < r->n_headers; i++)
                if (strcasecmp(r->headers[i].name, name) == 0)
                        return r->headers[i].value;
        return NULL;
}
