/* SPDX-License-Identifier: Apache-2.0 */
#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <strings.h>
#include <sys/socket.h>

#include <curl/curl.h>

#include "clock.h"
#include "http.h"
#include "log.h"
#include "wait.h"

#define HTTP_CONNECT_TIMEOUT_DEFAULT (2 * USEC_PER_SEC)
#define HTTP_TIMEOUT_DEFAULT (30 * USEC_PER_SEC)

/* AWS replies carry a dozen short headers; anything past this is not a
 * server we want to talk to, and refusing it bounds our memory. */
#define HTTP_HEADERS_SIZE_MAX ((size_t) 64 * 1024)

/* A curl easy handle serves one transfer at a time: a transport belongs to
 * one thread (or its users take turns). The transfer runs in a multi handle
 * of its own, whose poll also watches the boot's cancellation (wait.h): a
 * read in flight is abandoned the moment another path fails, not at curl's
 * next progress tick. The multi handle also keeps the connections alive
 * between requests. */
typedef struct CurlTransport {
        /* The table handed out; its userdata points back here. */
        HttpTransport transport;
        CURL *curl;
        CURLM *multi;
        char *ca_bundle;
        char error[CURL_ERROR_SIZE];
} CurlTransport;

/* What one transfer collects; the callbacks record why they refused data,
 * because curl itself only reports CURLE_WRITE_ERROR. */
typedef struct Transfer {
        char *body;
        size_t body_size;
        size_t body_allocated;
        size_t body_max;

        HttpHeader *headers;
        size_t n_headers;
        size_t headers_bytes;

        int error;
} Transfer;

static void headers_free(HttpHeader *headers, size_t n) {
        for (size_t i = 0; i < n; i++) {
                free(headers[i].name);
                free(headers[i].value);
        }
        free(headers);
}

static void transfer_done(Transfer *t) {
        free(t->body);
        headers_free(t->headers, t->n_headers);
        *t = (Transfer) {};
}

static void curl_slist_freep(struct curl_slist **l) {
        curl_slist_free_all(*l);
}

void http_response_done(HttpResponse *r) {
        if (!r)
                return;
        headers_free(r->headers, r->n_headers);
        free(r->body);
        *r = (HttpResponse) {};
}

const char *http_response_header(const HttpResponse *r, const char *name) {
        if (!r || !name)
                return NULL;
        for (size_t i = 0; i < r->n_headers; i++)
                if (strcasecmp(r->headers[i].name, name) == 0)
                        return r->headers[i].value;
        return NULL;
}

static size_t write_callback(char *data, size_t size, size_t nmemb, void *userdata) {
        Transfer *t = userdata;
        size_t n = size * nmemb;

        if (n > t->body_max - t->body_size) {
                t->error = -EMSGSIZE;
                return 0;
        }

        /* One byte more than the data, for the terminating NUL. */
        if (t->body_size + n + 1 > t->body_allocated) {
                size_t want = MAX(t->body_allocated * 2, t->body_size + n + 1);
                char *p;

                want = MIN(want, t->body_max + 1);
                p = realloc(t->body, want);
                if (!p) {
                        t->error = -ENOMEM;
                        return 0;
                }
                t->body = p;
                t->body_allocated = want;
        }

        memcpy(t->body + t->body_size, data, n);
        t->body_size += n;
        t->body[t->body_size] = '\0';
        return n;
}

static char *strndup_trimmed(const char *s, size_t n) {
        while (n > 0 && (s[0] == ' ' || s[0] == '\t')) {
                s++;
                n--;
        }
        while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
                n--;
        return strndup(s, n);
}

/* curl hands over one complete header line per call, the status line
 * included. The line is only split at its first colon; curl has already
 * done the HTTP parsing. */
static size_t header_callback(char *data, size_t size, size_t nitems, void *userdata) {
        Transfer *t = userdata;
        size_t n = size * nitems;
        _cleanup_free_ char *name = NULL, *value = NULL;
        const char *colon;
        HttpHeader *h;

        if (n > HTTP_HEADERS_SIZE_MAX - t->headers_bytes) {
                t->error = -EMSGSIZE;
                return 0;
        }
        t->headers_bytes += n;

        /* A status line starts a new response (after a 100 Continue or a
         * redirect): only the final response's headers are kept. */
        if (n >= 5 && strncmp(data, "HTTP/", 5) == 0) {
                headers_free(t->headers, t->n_headers);
                t->headers = NULL;
                t->n_headers = 0;
                return n;
        }

        /* The empty line that ends a header block. */
        if (n == 0 || data[0] == '\r' || data[0] == '\n')
                return n;

        /* An obsolete folded continuation line belongs to the previous
         * header's value. */
        if ((data[0] == ' ' || data[0] == '\t') && t->n_headers > 0) {
                _cleanup_free_ char *more = strndup_trimmed(data, n);
                char *joined;

                if (!more) {
                        t->error = -ENOMEM;
                        return 0;
                }
                h = &t->headers[t->n_headers - 1];
                if (asprintf(&joined, "%s %s", h->value, more) < 0) {
                        t->error = -ENOMEM;
                        return 0;
                }
                free(h->value);
                h->value = joined;
                return n;
        }

        colon = memchr(data, ':', n);
        if (!colon || colon == data)
                /* Not a header line; curl would have refused a broken reply. */
                return n;

        name = strndup(data, (size_t) (colon - data));
        value = strndup_trimmed(colon + 1, n - (size_t) (colon - data) - 1);
        if (!name || !value) {
                t->error = -ENOMEM;
                return 0;
        }
        for (char *p = name; *p; p++)
                *p = (char) tolower((unsigned char) *p);

        h = reallocarray(t->headers, t->n_headers + 1, sizeof(HttpHeader));
        if (!h) {
                /* NOLINTNEXTLINE(clang-analyzer-unix.Malloc): name and value are _cleanup_free_, which clang 14 does not run. */
                t->error = -ENOMEM;
                return 0;
        }
        t->headers = h;
        t->headers[t->n_headers++] = (HttpHeader) {
                .name = TAKE_PTR(name),
                .value = TAKE_PTR(value),
        };
        return n;
}

/* curl takes milliseconds, and 0 would mean "no timeout": round up and never
 * pass 0. */
static long timeout_ms(usec_t usec, usec_t fallback) {
        usec_t ms;

        if (usec == 0)
                usec = fallback;
        if (usec == USEC_INFINITY)
                return LONG_MAX;
        ms = (usec + USEC_PER_MSEC - 1) / USEC_PER_MSEC;
        if (ms > (usec_t) LONG_MAX)
                return LONG_MAX;
        return MAX((long) ms, 1L);
}

static bool header_is(const HttpHeader *h, const char *name) {
        return h->name && strcasecmp(h->name, name) == 0;
}

static int build_header_list(const HttpRequest *request, bool has_body, struct curl_slist **ret) {
        _cleanup_(curl_slist_freep) struct curl_slist *list = NULL;
        bool content_type = false;

        for (size_t i = 0; i < request->n_headers; i++) {
                const HttpHeader *h = &request->headers[i];
                _cleanup_free_ char *line = NULL;
                struct curl_slist *n;

                if (isempty(h->name) || !h->value)
                        return -EINVAL;
                /* A CR or LF would let a value smuggle in another header. */
                if (strpbrk(h->name, "\r\n: \t") || strpbrk(h->value, "\r\n"))
                        return -EINVAL;
                if (header_is(h, "content-type"))
                        content_type = true;

                /* "Name;" is curl's way to send a header with an empty value;
                 * "Name:" would remove it. */
                if (h->value[0] == '\0') {
                        if (asprintf(&line, "%s;", h->name) < 0)
                                return -ENOMEM;
                } else if (asprintf(&line, "%s: %s", h->name, h->value) < 0)
                        return -ENOMEM;

                n = curl_slist_append(list, line);
                if (!n)
                        return -ENOMEM;
                list = n;
        }

        if (has_body) {
                struct curl_slist *n;

                /* Without this curl waits for a "100 Continue" before larger
                 * bodies, which costs a round trip or a second of stall. */
                n = curl_slist_append(list, "Expect:");
                if (!n)
                        return -ENOMEM;
                list = n;

                /* curl would otherwise add a form content type the caller
                 * did not ask for (and did not sign). */
                if (!content_type) {
                        n = curl_slist_append(list, "Content-Type:");
                        if (!n)
                                return -ENOMEM;
                        list = n;
                }
        }

        *ret = TAKE_PTR(list);
        return 0;
}

static int curl_error_to_errno(CURLcode code, const Transfer *t, long os_errno) {
        switch (code) {
        case CURLE_OK:
                return 0;
        case CURLE_COULDNT_CONNECT:
                /* curl says why when the kernel did; refused is the common case. */
                if (os_errno == EHOSTUNREACH || os_errno == ENETUNREACH)
                        return -EHOSTUNREACH;
                return -ECONNREFUSED;
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_COULDNT_RESOLVE_PROXY:
                return -EHOSTUNREACH;
        case CURLE_OPERATION_TIMEDOUT:
                return -ETIMEDOUT;
        case CURLE_RECV_ERROR:
        case CURLE_SEND_ERROR:
        case CURLE_GOT_NOTHING:
                return -ECONNRESET;
        case CURLE_PARTIAL_FILE:
        case CURLE_WEIRD_SERVER_REPLY:
        case CURLE_BAD_CONTENT_ENCODING:
        case CURLE_HTTP2:
        case CURLE_HTTP2_STREAM:
        case CURLE_HTTP3:
                return -EPROTO;
        case CURLE_FILESIZE_EXCEEDED:
                return -EMSGSIZE;
        case CURLE_WRITE_ERROR:
                return t->error < 0 ? t->error : -EIO;
        case CURLE_OUT_OF_MEMORY:
                return -ENOMEM;
        case CURLE_URL_MALFORMAT:
                return -EINVAL;
        case CURLE_UNSUPPORTED_PROTOCOL:
                return -EPROTONOSUPPORT;
        default:
                return -EIO;
        }
}

/* Every fd of the daemon is O_CLOEXEC, so that fsck and mkfs inherit none;
 * curl opens its sockets without it. */
static curl_socket_t open_socket(void *userdata, curlsocktype purpose, struct curl_sockaddr *address) {
        int fd;

        fd = socket(address->family, address->socktype | SOCK_CLOEXEC, address->protocol);
        if (fd < 0)
                return CURL_SOCKET_BAD;
        return fd;
}

/* Every option is set again for each request (after curl_easy_reset(), which
 * keeps the connection cache), so that nothing of one request leaks into the
 * next. */
#define SETOPT(curl, option, value)                                                     \
        do {                                                                            \
                CURLcode _code = curl_easy_setopt((curl), (option), (value));           \
                if (_code != CURLE_OK) {                                                \
                        log_debug("http: setting %s failed: %s", #option,               \
                                  curl_easy_strerror(_code));                           \
                        return _code == CURLE_OUT_OF_MEMORY ? -ENOMEM : -EINVAL;        \
                }                                                                       \
        } while (0)

static bool method_is_valid(const char *method) {
        if (isempty(method))
                return false;
        for (const char *p = method; *p; p++)
                if (*p < 'A' || *p > 'Z')
                        return false;
        return true;
}

static int setup_handle(CurlTransport *c, const HttpRequest *request, bool has_body,
                        struct curl_slist *headers, Transfer *t) {
        CURL *curl = c->curl;

        SETOPT(curl, CURLOPT_ERRORBUFFER, c->error);
        SETOPT(curl, CURLOPT_URL, request->url);
        SETOPT(curl, CURLOPT_PROTOCOLS_STR, "http,https");
        SETOPT(curl, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
        /* A redirect is an answer for the caller, never followed: AWS does
         * not redirect, and following one could carry a token elsewhere. */
        SETOPT(curl, CURLOPT_FOLLOWLOCATION, 0L);
        /* Signals are the daemon's; timeouts must not use SIGALRM. */
        SETOPT(curl, CURLOPT_NOSIGNAL, 1L);
        SETOPT(curl, CURLOPT_TCP_KEEPALIVE, 1L);
        SETOPT(curl, CURLOPT_OPENSOCKETFUNCTION, open_socket);
        SETOPT(curl, CURLOPT_USERAGENT, "nodeagent/" NODEAGENT_VERSION);

        /* Verification is always on: there is deliberately no way to turn
         * it off. A private CA comes in through AWS_CA_BUNDLE instead, and
         * then it is the only trust anchor, as in the AWS SDKs. */
        SETOPT(curl, CURLOPT_SSL_VERIFYPEER, 1L);
        SETOPT(curl, CURLOPT_SSL_VERIFYHOST, 2L);
        if (c->ca_bundle) {
                SETOPT(curl, CURLOPT_CAINFO, c->ca_bundle);
                SETOPT(curl, CURLOPT_CAPATH, (char *) NULL);
        }

        SETOPT(curl, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms(request->connect_timeout, HTTP_CONNECT_TIMEOUT_DEFAULT));
        SETOPT(curl, CURLOPT_TIMEOUT_MS, timeout_ms(request->timeout, HTTP_TIMEOUT_DEFAULT));

        /* Refuses early when Content-Length announces too much; the write
         * callback enforces the same cap on what actually arrives. */
        SETOPT(curl, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t) MIN(t->body_max, (size_t) INT64_MAX));
        SETOPT(curl, CURLOPT_WRITEFUNCTION, write_callback);
        SETOPT(curl, CURLOPT_WRITEDATA, t);
        SETOPT(curl, CURLOPT_HEADERFUNCTION, header_callback);
        SETOPT(curl, CURLOPT_HEADERDATA, t);
        SETOPT(curl, CURLOPT_HTTPHEADER, headers);

        if (has_body) {
                SETOPT(curl, CURLOPT_POST, 1L);
                SETOPT(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) request->body_size);
                SETOPT(curl, CURLOPT_POSTFIELDS, request->body ?: "");
                if (!streq(request->method, "POST"))
                        SETOPT(curl, CURLOPT_CUSTOMREQUEST, request->method);
        } else if (streq(request->method, "GET"))
                SETOPT(curl, CURLOPT_HTTPGET, 1L);
        else if (streq(request->method, "HEAD"))
                SETOPT(curl, CURLOPT_NOBODY, 1L);
        else
                SETOPT(curl, CURLOPT_CUSTOMREQUEST, request->method);

        return 0;
}

static void log_traffic(const HttpRequest *request, const HttpResponse *response) {
        /* Only at -v -v -v. Request headers are listed by name alone: their
         * values are tokens and signatures. */
        if (log_get_verbosity() < 3)
                return;
        for (size_t i = 0; i < request->n_headers; i++)
                log_debug("http: > %s: ...", request->headers[i].name);
        if (!response)
                return;
        for (size_t i = 0; i < response->n_headers; i++)
                log_debug("http: < %s: %s", response->headers[i].name, response->headers[i].value);
}

/* Runs the transfer set up on c->curl to its end, or until the boot is
 * cancelled when the request may be abandoned (-ECANCELED; removing the
 * handle then closes its connection, so the server sees it go at once).
 * Returns curl's result for the transfer in *ret_code. */
static int run_transfer(CurlTransport *c, bool cancellable, CURLcode *ret_code) {
        struct curl_waitfd cancel = { .fd = -EBADF, .events = CURL_WAIT_POLLIN };
        CURLMcode mc;
        CURLMsg *msg;
        int running = 1, pending, r = 0;

        if (cancellable) {
                cancel.fd = wait_cancel_fd();
                if (cancel.fd < 0)
                        return cancel.fd;
                if (wait_cancelled())
                        return -ECANCELED;
        }

        mc = curl_multi_add_handle(c->multi, c->curl);
        if (mc != CURLM_OK)
                return log_debug_errno(mc == CURLM_OUT_OF_MEMORY ? ENOMEM : EIO, "http: curl_multi_add_handle(): %s",
                                       curl_multi_strerror(mc));

        for (;;) {
                int numfds;

                mc = curl_multi_perform(c->multi, &running);
                if (mc != CURLM_OK || running == 0)
                        break;

                /* curl's own timeouts end the transfer; the poll only needs
                 * to wake for them, which curl_multi_poll() arranges. */
                cancel.revents = 0;
                mc = curl_multi_poll(c->multi, cancellable ? &cancel : NULL, cancellable ? 1 : 0, 1000, &numfds);
                if (mc != CURLM_OK)
                        break;
                if (cancellable && (cancel.revents & CURL_WAIT_POLLIN)) {
                        r = -ECANCELED;
                        break;
                }
        }

        if (r == 0 && mc != CURLM_OK)
                r = log_debug_errno(mc == CURLM_OUT_OF_MEMORY ? ENOMEM : EIO, "http: curl multi: %s",
                                    curl_multi_strerror(mc));
        if (r == 0) {
                *ret_code = CURLE_GOT_NOTHING;
                while ((msg = curl_multi_info_read(c->multi, &pending)))
                        if (msg->msg == CURLMSG_DONE && msg->easy_handle == c->curl)
                                *ret_code = msg->data.result;
        }
        (void) curl_multi_remove_handle(c->multi, c->curl);
        return r;
}

static int curl_perform(void *userdata, const HttpRequest *request, HttpResponse *ret) {
        CurlTransport *c = userdata;
        _cleanup_(transfer_done) Transfer t = {};
        _cleanup_(curl_slist_freep) struct curl_slist *headers = NULL;
        long status = 0, os_errno = 0;
        CURLcode code = CURLE_OK;
        bool has_body;
        usec_t start, took;
        int r;

        if (!c || !request || !ret || !method_is_valid(request->method) || isempty(request->url))
                return -EINVAL;
        if (request->body_size > 0 && !request->body)
                return -EINVAL;

        has_body = request->body_size > 0 || streq(request->method, "POST") || streq(request->method, "PUT");
        t.body_max = request->max_response_size > 0 ? request->max_response_size : HTTP_RESPONSE_SIZE_MAX;
        /* Room for the terminating NUL. */
        t.body_max = MIN(t.body_max, SIZE_MAX - 1);

        r = build_header_list(request, has_body, &headers);
        if (r < 0)
                return log_debug_errno(r, "http: invalid headers for %s %s: %m", request->method, request->url);

        curl_easy_reset(c->curl);
        c->error[0] = '\0';
        r = setup_handle(c, request, has_body, headers, &t);
        if (r < 0)
                return r;

        start = now(CLOCK_MONOTONIC);
        r = run_transfer(c, request->cancellable, &code);
        took = now(CLOCK_MONOTONIC) - start;
        if (r < 0) {
                log_traffic(request, NULL);
                return log_debug_errno(r, "http: %s %s abandoned after %s: %m", request->method, request->url,
                                       FORMAT_DURATION(took));
        }

        (void) curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status);
        (void) curl_easy_getinfo(c->curl, CURLINFO_OS_ERRNO, &os_errno);

        if (code != CURLE_OK) {
                r = curl_error_to_errno(code, &t, os_errno);
                log_traffic(request, NULL);
                return log_debug_errno(r, "http: %s %s failed after %s: %s (%m)",
                                       request->method, request->url, FORMAT_DURATION(took),
                                       c->error[0] != '\0' ? c->error : curl_easy_strerror(code));
        }
        if (status < 100 || status > 999)
                return log_debug_errno(EPROTO, "http: %s %s: no HTTP status in the reply",
                                       request->method, request->url);

        /* Callers may always treat the body as a string. */
        if (!t.body) {
                t.body = strdup("");
                if (!t.body)
                        return -ENOMEM;
        }

        /* Field by field: cppcheck 2.10 cannot parse TAKE_PTR() inside a
         * compound literal and would skip the whole file. */
        *ret = (HttpResponse) {
                .status = status,
                .n_headers = t.n_headers,
                .body_size = t.body_size,
        };
        ret->headers = TAKE_PTR(t.headers);
        ret->body = TAKE_PTR(t.body);
        t.n_headers = 0;

        log_debug("http: %s %s -> %ld, %zu bytes in %s", request->method, request->url, status,
                  ret->body_size, FORMAT_DURATION(took));
        log_traffic(request, ret);
        return 0;
}

static CurlTransport *curl_transport_free(CurlTransport *c) {
        if (!c)
                return NULL;
        if (c->curl)
                curl_easy_cleanup(c->curl);
        if (c->multi)
                curl_multi_cleanup(c->multi);
        free(c->ca_bundle);
        return mfree(c);
}
DEFINE_TRIVIAL_CLEANUP_FUNC(CurlTransport *, curl_transport_free);

int http_transport_curl_new(HttpTransport **ret) {
        _cleanup_(curl_transport_freep) CurlTransport *c = NULL;
        const char *ca;

        if (!ret)
                return -EINVAL;

        c = calloc(1, sizeof(CurlTransport));
        if (!c)
                return -ENOMEM;

        c->curl = curl_easy_init();
        if (!c->curl)
                return log_debug_errno(ENOMEM, "http: curl_easy_init() failed.");
        c->multi = curl_multi_init();
        if (!c->multi)
                return log_debug_errno(ENOMEM, "http: curl_multi_init() failed.");

        ca = secure_getenv("AWS_CA_BUNDLE");
        if (!isempty(ca)) {
                c->ca_bundle = strdup(ca);
                if (!c->ca_bundle)
                        return -ENOMEM;
                /* Not fatal here: plain http endpoints (IMDS, local fakes)
                 * work without it; https requests will fail and say why. */
                if (access(ca, R_OK) < 0)
                        log_debug_errno(errno, "http: AWS_CA_BUNDLE=%s is not readable: %m", ca);
                else
                        log_debug("http: trusting only the CA bundle %s (AWS_CA_BUNDLE).", ca);
        }

        c->transport = (HttpTransport) {
                .perform = curl_perform,
                .userdata = c,
        };

        *ret = &TAKE_PTR(c)->transport;
        return 0;
}

HttpTransport *http_transport_curl_free(HttpTransport *t) {
        if (!t)
                return NULL;
        /* Only transports made by http_transport_curl_new() come here, and
         * their userdata is the CurlTransport that holds them. */
        curl_transport_free((CurlTransport *) t->userdata);
        return NULL;
}

int http_global_init(void) {
        CURLcode code = CURLE_OK;

        code = curl_global_init(CURL_GLOBAL_DEFAULT);
        if (code != CURLE_OK)
                return log_debug_errno(code == CURLE_OUT_OF_MEMORY ? ENOMEM : EIO,
                                       "http: curl_global_init() failed: %s", curl_easy_strerror(code));
        return 0;
}

void http_global_cleanup(void) {
        curl_global_cleanup();
}
