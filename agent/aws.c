/* SPDX-License-Identifier: Apache-2.0 */
#include <inttypes.h>
#include <locale.h>
#include <stdarg.h>
#include <stdio.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

#include "aws.h"
#include "log.h"
#include "sigv4.h"

/* Backoff between attempts, "full jitter" (a uniformly random wait between
 * zero and an exponentially growing ceiling): the ceiling starts at 200 ms,
 * short enough that a connection reset on a freshly raised interface costs
 * little, and doubles up to 5 s. Throttling starts at 500 ms instead, as the
 * AWS SDKs do, because retrying a throttled call quickly only drains the
 * account's token bucket further. Eight attempts take about 12 s at most
 * (about half that on average), well inside any boot deadline, and leave the
 * deadline to decide when the whole sequence gives up. */
#define AWS_BACKOFF_BASE_USEC (200 * USEC_PER_MSEC)
#define AWS_BACKOFF_THROTTLE_BASE_USEC (500 * USEC_PER_MSEC)
#define AWS_BACKOFF_CAP_USEC (5 * USEC_PER_SEC)
#define AWS_ATTEMPTS_MAX 8U

/* One attempt never waits longer than this for its reply; a hung
 * connection is then retried rather than eating the whole deadline. */
#define AWS_ATTEMPT_TIMEOUT_USEC (30 * USEC_PER_SEC)
#define AWS_CONNECT_TIMEOUT_USEC (2 * USEC_PER_SEC)

#define AWS_QUERY_CONTENT_TYPE "application/x-www-form-urlencoded; charset=utf-8"

struct AwsClient {
        const HttpTransport *transport;
        const CredentialsProvider *credentials;
        char *region;
        char *endpoints[_AWS_SERVICE_MAX];
        char *signing_regions[_AWS_SERVICE_MAX];
        int64_t clock_offset;
        AwsClientHooks hooks;
};

static const struct {
        const char *name;          /* signing name */
        const char *host_prefix;   /* regional endpoint: https://<prefix>.<region>.<suffix> */
        const char *env;           /* the SDKs' service-specific variable */
        const char *version;       /* Query API version; NULL for REST services */
} services[_AWS_SERVICE_MAX] = {
        [AWS_SERVICE_EC2]            = { "ec2",            "ec2",            "AWS_ENDPOINT_URL_EC2",            "2016-11-15" },
        [AWS_SERVICE_ROUTE53]        = { "route53",        NULL,             "AWS_ENDPOINT_URL_ROUTE_53",       NULL },
        [AWS_SERVICE_AUTOSCALING]    = { "autoscaling",    "autoscaling",    "AWS_ENDPOINT_URL_AUTO_SCALING",   "2011-01-01" },
        [AWS_SERVICE_CLOUDFORMATION] = { "cloudformation", "cloudformation", "AWS_ENDPOINT_URL_CLOUDFORMATION", "2010-05-15" },
};

/* Route 53 is global: one endpoint per partition, always signed for the
 * partition's home region. */
static const struct {
        const char *region_prefix;
        const char *dns_suffix;
        const char *route53_endpoint;
        const char *route53_region;
} partitions[] = {
        { "cn-",     "amazonaws.com.cn", "https://route53.amazonaws.com.cn",     "cn-northwest-1" },
        { "us-gov-", "amazonaws.com",    "https://route53.us-gov.amazonaws.com", "us-gov-west-1" },
        { "",        "amazonaws.com",    "https://route53.amazonaws.com",        "us-east-1" },
};

const char *aws_service_to_string(AwsService s) {
        if (s < 0 || s >= _AWS_SERVICE_MAX)
                return NULL;
        return services[s].name;
}

void aws_error_done(AwsError *e) {
        if (!e)
                return;
        e->code = mfree(e->code);
        e->message = mfree(e->message);
        e->request_id = mfree(e->request_id);
        e->http_status = 0;
}

void aws_params_done(AwsParams *p) {
        if (!p)
                return;
        for (size_t i = 0; i < p->n; i++) {
                free(p->items[i].name);
                free(p->items[i].value);
        }
        p->items = mfree(p->items);
        p->n = p->allocated = 0;
}

static int aws_params_add_owned(AwsParams *p, char *name, char *value) {
        if (p->n >= p->allocated) {
                size_t want = MAX(p->allocated * 2, (size_t) 8);
                AwsParam *items;

                items = reallocarray(p->items, want, sizeof(AwsParam));
                if (!items)
                        return -ENOMEM;
                p->items = items;
                p->allocated = want;
        }
        p->items[p->n++] = (AwsParam) { .name = name, .value = value };
        return 0;
}

int aws_params_add(AwsParams *p, const char *name, const char *value) {
        _cleanup_free_ char *n = NULL, *v = NULL;
        int r;

        if (!p || isempty(name) || !value)
                return -EINVAL;
        n = strdup(name);
        v = strdup(value);
        if (!n || !v)
                return -ENOMEM;
        r = aws_params_add_owned(p, n, v);
        if (r < 0)
                return r;
        TAKE_PTR(n);
        TAKE_PTR(v);
        return 0;
}

int aws_params_addf(AwsParams *p, const char *value, const char *name_format, ...) {
        _cleanup_free_ char *n = NULL, *v = NULL;
        va_list ap;
        int r;

        if (!p || !name_format || !value)
                return -EINVAL;
        va_start(ap, name_format);
        r = vasprintf(&n, name_format, ap);
        va_end(ap);
        if (r < 0) {
                n = NULL;
                return -ENOMEM;
        }
        v = strdup(value);
        if (!v)
                return -ENOMEM;
        r = aws_params_add_owned(p, n, v);
        if (r < 0)
                return r;
        TAKE_PTR(n);
        TAKE_PTR(v);
        return 0;
}

static bool char_is_unreserved(char c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
               c == '-' || c == '_' || c == '.' || c == '~';
}

int aws_uri_encode(const char *s, char **ret) {
        static const char hex[] = "0123456789ABCDEF";
        size_t len, k = 0;
        char *e;

        if (!s || !ret)
                return -EINVAL;
        len = strlen(s);
        if (len > (SIZE_MAX - 1) / 3)
                return -ENOMEM;
        e = malloc(len * 3 + 1);
        if (!e)
                return -ENOMEM;
        for (const char *p = s; *p != '\0'; p++) {
                unsigned char c = (unsigned char) *p;

                if (char_is_unreserved(*p))
                        e[k++] = *p;
                else {
                        e[k++] = '%';
                        e[k++] = hex[c >> 4];
                        e[k++] = hex[c & 15];
                }
        }
        e[k] = '\0';
        *ret = e;
        return 0;
}

/* Appends "&name=value" (no '&' at the start of the string). */
static int append_encoded_pair(char **s, size_t *len, const char *name, const char *value) {
        _cleanup_free_ char *n = NULL, *v = NULL;
        size_t add;
        char *b;
        int r;

        r = aws_uri_encode(name, &n);
        if (r < 0)
                return r;
        r = aws_uri_encode(value, &v);
        if (r < 0)
                return r;

        add = (*len > 0 ? 1 : 0) + strlen(n) + 1 + strlen(v);
        b = realloc(*s, *len + add + 1);
        if (!b)
                return -ENOMEM;
        *s = b;
        if (*len > 0)
                b[(*len)++] = '&';
        memcpy(b + *len, n, strlen(n));
        *len += strlen(n);
        b[(*len)++] = '=';
        memcpy(b + *len, v, strlen(v) + 1);
        *len += strlen(v);
        return 0;
}

int aws_params_encode(const AwsParams *p, char **ret) {
        _cleanup_free_ char *s = NULL;
        size_t len = 0;
        int r;

        if (!ret)
                return -EINVAL;
        s = strdup("");
        if (!s)
                return -ENOMEM;
        for (size_t i = 0; p && i < p->n; i++) {
                r = append_encoded_pair(&s, &len, p->items[i].name, p->items[i].value);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(s);
        return 0;
}

/* Accepts "http(s)://authority[/base]" and returns it without a trailing
 * slash. Queries, fragments and user names have no place in an endpoint. */
static int endpoint_normalize(const char *url, char **ret) {
        const char *rest;
        size_t len;
        char *n;

        if (isempty(url))
                return -EINVAL;
        rest = startswith(url, "https://");
        if (!rest)
                rest = startswith(url, "http://");
        if (!rest || rest[0] == '\0' || rest[0] == '/')
                return -EINVAL;
        for (const char *p = url; *p != '\0'; p++)
                if ((unsigned char) *p <= ' ' || *p == 0x7f || *p == '?' || *p == '#' || *p == '@')
                        return -EINVAL;

        len = strlen(url);
        while (len > 0 && url[len - 1] == '/')
                len--;
        n = strndup(url, len);
        if (!n)
                return -ENOMEM;
        *ret = n;
        return 0;
}

static bool region_is_valid(const char *region) {
        if (isempty(region) || strlen(region) > 64)
                return false;
        for (const char *p = region; *p != '\0'; p++)
                if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-'))
                        return false;
        return true;
}

int aws_client_new(const HttpTransport *transport, const CredentialsProvider *credentials,
                   const char *region, AwsClient **ret) {
        _cleanup_(aws_client_freep) AwsClient *c = NULL;
        size_t p = 0;
        int r;

        if (!transport || !credentials || !ret)
                return -EINVAL;
        if (!region_is_valid(region))
                return log_debug_errno(EINVAL, "Invalid AWS region \"%s\".", strempty(region));

        c = calloc(1, sizeof(AwsClient));
        if (!c)
                return -ENOMEM;
        c->transport = transport;
        c->credentials = credentials;
        c->region = strdup(region);
        if (!c->region)
                return -ENOMEM;

        while (!startswith(region, partitions[p].region_prefix))
                p++;

        for (AwsService s = 0; s < _AWS_SERVICE_MAX; s++) {
                const char *url = getenv(services[s].env);

                /* An empty variable counts as unset, as with the SDKs. */
                if (isempty(url))
                        url = getenv("AWS_ENDPOINT_URL");
                if (!isempty(url)) {
                        r = endpoint_normalize(url, &c->endpoints[s]);
                        if (r < 0)
                                return log_debug_errno(r, "Invalid endpoint URL \"%s\" for %s: %m",
                                                       url, services[s].name);
                } else if (s == AWS_SERVICE_ROUTE53) {
                        c->endpoints[s] = strdup(partitions[p].route53_endpoint);
                        if (!c->endpoints[s])
                                return -ENOMEM;
                } else {
                        if (asprintf(&c->endpoints[s], "https://%s.%s.%s", services[s].host_prefix, region,
                                     partitions[p].dns_suffix) < 0) {
                                c->endpoints[s] = NULL;
                                return -ENOMEM;
                        }
                }

                c->signing_regions[s] = strdup(s == AWS_SERVICE_ROUTE53 ? partitions[p].route53_region : region);
                if (!c->signing_regions[s])
                        return -ENOMEM;
        }

        *ret = TAKE_PTR(c);
        return 0;
}

AwsClient *aws_client_free(AwsClient *c) {
        if (!c)
                return NULL;
        for (AwsService s = 0; s < _AWS_SERVICE_MAX; s++) {
                free(c->endpoints[s]);
                free(c->signing_regions[s]);
        }
        free(c->region);
        free(c);
        return NULL;
}

void aws_client_set_hooks(AwsClient *c, const AwsClientHooks *hooks) {
        c->hooks = hooks ? *hooks : (AwsClientHooks) {};
}

int aws_client_set_endpoint(AwsClient *c, AwsService service, const char *url) {
        char *n;
        int r;

        if (!c || service < 0 || service >= _AWS_SERVICE_MAX)
                return -EINVAL;
        r = endpoint_normalize(url, &n);
        if (r < 0)
                return r;
        free(c->endpoints[service]);
        c->endpoints[service] = n;
        return 0;
}

const char *aws_client_region(const AwsClient *c) {
        return c ? c->region : NULL;
}

const char *aws_client_endpoint(const AwsClient *c, AwsService service) {
        if (!c || service < 0 || service >= _AWS_SERVICE_MAX)
                return NULL;
        return c->endpoints[service];
}

const char *aws_client_signing_region(const AwsClient *c, AwsService service) {
        if (!c || service < 0 || service >= _AWS_SERVICE_MAX)
                return NULL;
        return c->signing_regions[service];
}

int64_t aws_client_clock_offset(const AwsClient *c) {
        return c ? c->clock_offset : 0;
}

void aws_client_set_clock_offset(AwsClient *c, int64_t offset_usec) {
        c->clock_offset = offset_usec;
}

static usec_t client_now(const AwsClient *c, clockid_t clock) {
        if (c->hooks.now)
                return c->hooks.now(clock, c->hooks.userdata);
        return now(clock);
}

static void client_sleep(const AwsClient *c, usec_t usec) {
        if (c->hooks.sleep)
                c->hooks.sleep(usec, c->hooks.userdata);
        else
                sleep_usec(usec);
}

static uint64_t client_random(const AwsClient *c) {
        uint64_t v;

        if (c->hooks.random)
                return c->hooks.random(c->hooks.userdata);
        /* Jitter needs no cryptographic quality, only that two nodes that
         * failed together do not retry together; the clock will do if the
         * kernel has no randomness to spare. */
        if (getrandom(&v, sizeof(v), GRND_NONBLOCK) != (ssize_t) sizeof(v))
                v = now(CLOCK_MONOTONIC) * 0x9E3779B97F4A7C15ULL;
        return v;
}

/* The signature's time: the local wall clock corrected by what AWS said. */
static time_t client_signing_time(const AwsClient *c) {
        int64_t t = (int64_t) client_now(c, CLOCK_REALTIME) + c->clock_offset;

        return (time_t) (MAX(t, (int64_t) 0) / (int64_t) USEC_PER_SEC);
}

int aws_parse_http_date(const char *s, usec_t *ret) {
        struct tm tm = {};
        const char *end;
        locale_t loc;
        time_t t;

        if (isempty(s) || !ret)
                return -EINVAL;

        /* Day and month names are English whatever the process's locale. */
        loc = newlocale(LC_ALL_MASK, "C", (locale_t) 0);
        if (loc == (locale_t) 0)
                return -ENOMEM;
        end = strptime_l(s, "%a, %d %b %Y %H:%M:%S GMT", &tm, loc);
        freelocale(loc);
        if (!end || *end != '\0')
                return -EINVAL;

        t = timegm(&tm);
        if (t == (time_t) -1 || t < 0)
                return -EINVAL;
        *ret = (usec_t) t * USEC_PER_SEC;
        return 0;
}

static int strdup_if(const char *s, char **ret) {
        if (!s) {
                *ret = NULL;
                return 0;
        }
        *ret = strdup(s);
        return *ret ? 0 : -ENOMEM;
}

int aws_error_parse(long http_status, const char *body, size_t body_size, AwsError *ret) {
        _cleanup_(xml_doc_freep) XmlDoc *doc = NULL;
        _cleanup_free_ char *code = NULL, *message = NULL, *request_id = NULL;
        const XmlNode *root, *error = NULL;
        int r;

        if (!ret)
                return -EINVAL;

        r = xml_parse(body, body_size, &doc);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return -EBADMSG;

        root = xml_doc_root(doc);
        if (xml_name_is(root, "Response"))
                /* EC2: <Response><Errors><Error><Code/><Message/></Error></Errors><RequestID/></Response> */
                error = xml_path(root, "Errors/Error");
        else if (xml_name_is(root, "ErrorResponse"))
                /* Query and REST-XML services: <ErrorResponse><Error><Type/><Code/><Message/></Error><RequestId/> */
                error = xml_child(root, "Error");
        else if (xml_name_is(root, "Error"))
                /* S3's style, which some fakes imitate. */
                error = root;

        if (error) {
                r = strdup_if(xml_path_text(error, "Code"), &code);
                if (r >= 0)
                        r = strdup_if(xml_path_text(error, "Message"), &message);
                if (r < 0)
                        return r;
        } else if (xml_child(root, "Messages")) {
                /* Route 53's InvalidChangeBatch: the root names the error and
                 * each problem of the batch is one <Message>. */
                size_t len = 0;

                code = strdup(root->name);
                if (!code)
                        return -ENOMEM;
                XML_FOREACH(m, xml_child(root, "Messages"), "Message") {
                        size_t l = strlen(xml_text(m));
                        char *b;

                        b = realloc(message, len + (len > 0 ? 2 : 0) + l + 1);
                        if (!b)
                                return -ENOMEM;
                        message = b;
                        if (len > 0) {
                                memcpy(message + len, "; ", 2);
                                len += 2;
                        }
                        memcpy(message + len, xml_text(m), l + 1);
                        len += l;
                }
        }

        r = strdup_if(xml_path_text(root, "RequestID") ?: xml_path_text(root, "RequestId")
                              ?: xml_path_text(error, "RequestId"),
                      &request_id);
        if (r < 0)
                return r;

        aws_error_done(ret);
        ret->http_status = http_status;
        ret->code = TAKE_PTR(code);
        ret->message = TAKE_PTR(message);
        ret->request_id = TAKE_PTR(request_id);
        return 0;
}

static bool code_in(const char *code, const char *const *list) {
        if (!code)
                return false;
        for (const char *const *i = list; *i; i++)
                if (streq(code, *i))
                        return true;
        return false;
}

static bool code_is_throttling(const char *code) {
        /* The union botocore's standard retry mode knows, less the ones of
         * services this agent never calls. */
        static const char *const list[] = {
                "RequestLimitExceeded", "Throttling", "ThrottlingException", "ThrottledException",
                "RequestThrottled", "RequestThrottledException", "TooManyRequestsException",
                "SlowDown", "PriorRequestNotComplete", "EC2ThrottledException", "BandwidthLimitExceeded",
                NULL,
        };
        return code_in(code, list);
}

static bool code_is_transient(const char *code) {
        static const char *const list[] = {
                "InternalError", "InternalFailure", "ServiceUnavailable", "Unavailable",
                "RequestTimeout", "RequestTimeoutException",
                NULL,
        };
        return code_in(code, list);
}

static bool error_is_clock_skew(const AwsError *e) {
        static const char *const list[] = {
                "RequestExpired", "RequestTimeTooSkewed", "RequestInTheFuture",
                NULL,
        };

        if (code_in(e->code, list))
                return true;
        /* Signature errors are about the clock only when the message says
         * so (Route 53 reports a skewed clock as SignatureDoesNotMatch with
         * "Signature expired: ..."); otherwise they are auth failures. */
        if (streq_ptr(e->code, "InvalidSignatureException") || streq_ptr(e->code, "SignatureDoesNotMatch"))
                return e->message && (strstr(e->message, "Signature expired") ||
                                      strstr(e->message, "Signature not yet current"));
        return false;
}

static bool error_is_expired_token(const AwsError *e, bool session_token) {
        if (streq_ptr(e->code, "ExpiredToken") || streq_ptr(e->code, "ExpiredTokenException"))
                return true;
        /* A rotated-away role session token reads as an unknown key id. */
        return session_token && streq_ptr(e->code, "InvalidClientTokenId");
}

static bool code_is_auth(const char *code) {
        static const char *const list[] = {
                "AuthFailure", "UnauthorizedOperation", "SignatureDoesNotMatch", "InvalidClientTokenId",
                "AccessDenied", "AccessDeniedException", "OptInRequired", "Blocked",
                "IncompleteSignature", "MissingAuthenticationToken", "InvalidAccessKeyId",
                "UnrecognizedClientException", "ExpiredToken", "ExpiredTokenException",
                NULL,
        };
        return code_in(code, list);
}

static bool code_is_not_found(const char *code) {
        size_t l;

        if (!code)
                return false;
        if (streq(code, "NoSuchHostedZone") || streq(code, "NoSuchChange"))
                return true;
        l = strlen(code);
        return l >= strlen(".NotFound") && streq(code + l - strlen(".NotFound"), ".NotFound");
}

static bool errno_is_network(int r) {
        /* -EHOSTUNREACH includes a failed name lookup, common while the
         * network is still coming up at boot. */
        return r == -ECONNRESET || r == -ECONNREFUSED || r == -ETIMEDOUT || r == -EPROTO ||
               r == -EHOSTUNREACH;
}

static usec_t backoff_usec(const AwsClient *c, unsigned attempt, bool throttled) {
        usec_t ceiling = throttled ? AWS_BACKOFF_THROTTLE_BASE_USEC : AWS_BACKOFF_BASE_USEC;

        for (unsigned i = 0; i < attempt && ceiling < AWS_BACKOFF_CAP_USEC; i++)
                ceiling *= 2;
        ceiling = MIN(ceiling, AWS_BACKOFF_CAP_USEC);
        return client_random(c) % (ceiling + 1);
}

/* Everything of a call that stays the same across attempts. */
typedef struct AwsCall {
        AwsService service;
        const char *label;      /* for log lines: the action, or method and path */
        const char *method;
        const char *path;       /* below the endpoint's base path */
        const char *query;      /* encoded; NULL or "" when none */
        const char *content_type;
        const char *body;
        size_t body_size;
} AwsCall;

/* Whether the call only reads: a REST GET, or a Query Describe*. */
static bool call_is_read(const AwsCall *call) {
        return streq_ptr(call->method, "GET") || startswith(call->label, "Describe");
}

/* The authority of the endpoint as the Host header carries it: default
 * ports are left out, as curl and botocore do. */
static int endpoint_split(const char *endpoint, char **ret_host, const char **ret_base) {
        const char *authority, *slash;
        size_t len;
        bool https;

        authority = startswith(endpoint, "https://");
        https = authority != NULL;
        if (!authority)
                authority = startswith(endpoint, "http://");
        if (!authority)
                return -EINVAL;

        slash = strchr(authority, '/');
        len = slash ? (size_t) (slash - authority) : strlen(authority);
        if (https && len > 4 && strncmp(authority + len - 4, ":443", 4) == 0)
                len -= 4;
        else if (!https && len > 3 && strncmp(authority + len - 3, ":80", 3) == 0)
                len -= 3;

        *ret_host = strndup(authority, len);
        if (!*ret_host)
                return -ENOMEM;
        *ret_base = slash ? slash : "";
        return 0;
}

/* One signed request and its reply. *ret_session_token says whether the
 * credentials used were temporary ones. */
static int aws_attempt(AwsClient *c, const AwsCall *call, bool force_refresh, usec_t deadline,
                       HttpResponse *ret, bool *ret_session_token) {
        _cleanup_free_ char *host = NULL, *path = NULL, *url = NULL, *authorization = NULL;
        char amz_date[SIGV4_AMZ_DATE_SIZE];
        const AwsCredentials *creds;
        const char *endpoint = c->endpoints[call->service], *base;
        SigV4Header sig_headers[4];
        HttpHeader http_headers[5];
        size_t n = 0;
        usec_t left;
        int r;

        r = credentials_get(c->credentials, force_refresh, deadline, &creds);
        if (r < 0)
                return log_debug_errno(r, "Failed to get AWS credentials: %m");

        r = endpoint_split(endpoint, &host, &base);
        if (r < 0)
                return r;
        if (asprintf(&path, "%s%s", base, call->path) < 0) {
                path = NULL;
                return -ENOMEM;
        }
        if (asprintf(&url, "%.*s%s%s%s", (int) (strlen(endpoint) - strlen(base)), endpoint, path,
                     isempty(call->query) ? "" : "?", strempty(call->query)) < 0) {
                url = NULL;
                return -ENOMEM;
        }

        sigv4_format_amz_date(client_signing_time(c), amz_date);

        sig_headers[n++] = (SigV4Header) { "Host", host };
        sig_headers[n++] = (SigV4Header) { "X-Amz-Date", amz_date };
        if (call->content_type)
                sig_headers[n++] = (SigV4Header) { "Content-Type", call->content_type };
        if (!isempty(creds->session_token))
                sig_headers[n++] = (SigV4Header) { "X-Amz-Security-Token", creds->session_token };

        r = sigv4_sign(&(SigV4Request) {
                               .method = call->method,
                               .path = path,
                               .query = call->query,
                               .headers = sig_headers,
                               .n_headers = n,
                               .payload = call->body,
                               .payload_size = call->body_size,
                               .normalize_path = true,
                       },
                       creds->access_key_id, creds->secret_access_key, c->signing_regions[call->service],
                       services[call->service].name, amz_date, &authorization);
        if (r < 0)
                return log_debug_errno(r, "Failed to sign %s request: %m", call->label);

        for (size_t i = 0; i < n; i++)
                http_headers[i] = (HttpHeader) { (char *) sig_headers[i].name, (char *) sig_headers[i].value };
        http_headers[n] = (HttpHeader) { (char *) "Authorization", authorization };

        left = deadline == USEC_INFINITY ? USEC_INFINITY : deadline - MIN(deadline, client_now(c, CLOCK_MONOTONIC));
        if (left == 0)
                return -ETIME;

        *ret_session_token = !isempty(creds->session_token);
        return http_perform(c->transport,
                            &(HttpRequest) {
                                    .method = call->method,
                                    .url = url,
                                    .headers = http_headers,
                                    .n_headers = n + 1,
                                    .body = call->body,
                                    .body_size = call->body_size,
                                    .connect_timeout = MIN(left, AWS_CONNECT_TIMEOUT_USEC),
                                    .timeout = MIN(left, AWS_ATTEMPT_TIMEOUT_USEC),
                                    /* Reads may be abandoned when the boot has
                                     * failed; a write goes to its end. */
                                    .cancellable = call_is_read(call),
                            },
                            ret);
}

static void error_set_request_id_from_headers(AwsError *e, const HttpResponse *response) {
        const char *id;

        if (e->request_id)
                return;
        id = http_response_header(response, "x-amzn-requestid") ?: http_response_header(response, "x-amz-request-id");
        if (id)
                e->request_id = strdup(id);
}

/* The attempts of one call. error describes the last error reply (or is
 * empty when the last attempt got none). */
static int aws_call_attempts(AwsClient *c, const AwsCall *call, usec_t deadline, AwsError *error,
                             XmlDoc **ret_reply) {
        bool skew_corrected = false, refreshed = false, force_refresh = false;
        const char *service = services[call->service].name;
        int r;

        for (unsigned attempt = 0;; attempt++) {
                _cleanup_(http_response_done) HttpResponse response = {};
                _cleanup_(xml_doc_freep) XmlDoc *reply = NULL;
                bool session_token = false, throttled = false;
                char status_reason[32];
                const char *reason;
                int failure;
                usec_t wait, t;

                if (deadline != USEC_INFINITY && client_now(c, CLOCK_MONOTONIC) >= deadline)
                        return log_debug_errno(ETIME, "%s %s: deadline passed.", service, call->label);

                r = aws_attempt(c, call, force_refresh, deadline, &response, &session_token);
                force_refresh = false;

                if (r < 0) {
                        aws_error_done(error);
                        if (!errno_is_network(r))
                                return r;
                        reason = strerror(-r);
                        failure = r;
                } else if (response.status >= 200 && response.status < 300) {
                        aws_error_done(error);
                        r = xml_parse(response.body, response.body_size, &reply);
                        if (r >= 0) {
                                if (ret_reply)
                                        *ret_reply = TAKE_PTR(reply);
                                return 0;
                        }
                        if (r == -ENOMEM)
                                return r;
                        /* Read calls are safe to repeat, and mutating ones are
                         * made idempotent by their callers, who look before
                         * they act. */
                        error->http_status = response.status;
                        reason = "malformed reply";
                        failure = -EBADMSG;
                } else {
                        r = aws_error_parse(response.status, response.body, response.body_size, error);
                        if (r == -ENOMEM)
                                return r;
                        if (r < 0) {
                                aws_error_done(error);
                                error->http_status = response.status;
                        }
                        error_set_request_id_from_headers(error, &response);

                        if (streq_ptr(error->code, "DryRunOperation"))
                                return 0;

                        if (error_is_clock_skew(error)) {
                                usec_t server, local = client_now(c, CLOCK_REALTIME);

                                if (!skew_corrected &&
                                    aws_parse_http_date(http_response_header(&response, "date"), &server) >= 0) {
                                        c->clock_offset = (int64_t) server - (int64_t) local;
                                        skew_corrected = true;
                                        log_debug("%s %s: %s, correcting the clock by %+" PRId64 " s and retrying.",
                                                  service, call->label, error->code,
                                                  c->clock_offset / (int64_t) USEC_PER_SEC);
                                        continue;
                                }
                                /* A clock that is right and a request that
                                 * still expired: the session token is stale. */
                                if (session_token && !refreshed && streq(error->code, "RequestExpired")) {
                                        refreshed = force_refresh = true;
                                        log_debug("%s %s: %s, refreshing credentials and retrying.",
                                                  service, call->label, error->code);
                                        continue;
                                }
                                return log_debug_errno(EACCES, "%s %s: %s: %s", service, call->label,
                                                       error->code, strna(error->message));
                        }

                        if (error_is_expired_token(error, session_token)) {
                                if (session_token && !refreshed) {
                                        refreshed = force_refresh = true;
                                        log_debug("%s %s: %s, refreshing credentials and retrying.",
                                                  service, call->label, error->code);
                                        continue;
                                }
                                return log_debug_errno(EACCES, "%s %s: %s: %s", service, call->label,
                                                       error->code, strna(error->message));
                        }

                        if (code_is_auth(error->code))
                                return log_debug_errno(EACCES, "%s %s: %s: %s", service, call->label,
                                                       error->code, strna(error->message));

                        throttled = code_is_throttling(error->code);
                        if (!throttled && !code_is_transient(error->code) && response.status < 500) {
                                if (code_is_not_found(error->code))
                                        return log_debug_errno(ENOENT, "%s %s: %s: %s", service, call->label,
                                                               error->code, strna(error->message));
                                return log_debug_errno(EREMOTEIO, "%s %s: HTTP %ld %s: %s", service,
                                                       call->label, response.status, strna(error->code),
                                                       strna(error->message));
                        }
                        if (error->code)
                                reason = error->code;
                        else {
                                (void) snprintf(status_reason, sizeof(status_reason), "HTTP %ld", response.status);
                                reason = status_reason;
                        }
                        failure = -EREMOTEIO;
                }

                if (attempt + 1 >= AWS_ATTEMPTS_MAX)
                        return log_debug_errno(failure, "%s %s: %s, giving up after %u attempts.", service,
                                               call->label, reason, AWS_ATTEMPTS_MAX);

                wait = backoff_usec(c, attempt, throttled);
                t = client_now(c, CLOCK_MONOTONIC);
                if (deadline != USEC_INFINITY && usec_add(t, wait) >= deadline)
                        return log_debug_errno(ETIME, "%s %s: %s, and the deadline passes before the next attempt.",
                                               service, call->label, reason);

                log_debug("%s %s: %s, retrying in %s (attempt %u of %u).", service, call->label, reason,
                          FORMAT_DURATION(wait), attempt + 2, AWS_ATTEMPTS_MAX);
                client_sleep(c, wait);
        }
}

static int aws_call(AwsClient *c, const AwsCall *call, usec_t deadline, AwsError *ret_error, XmlDoc **ret_reply) {
        _cleanup_(aws_error_done) AwsError error = {};
        int r;

        if (ret_error)
                aws_error_done(ret_error);

        r = aws_call_attempts(c, call, deadline, &error, ret_reply);

        /* A success leaves nothing to report, except that a DryRun request
         * was answered with DryRunOperation. */
        if (ret_error && (r < 0 || error.code)) {
                *ret_error = error;
                error = (AwsError) {};
        }
        return r;
}

int aws_query_call(AwsClient *c, AwsService service, const char *action, const AwsParams *params,
                   usec_t deadline, AwsError *ret_error, XmlDoc **ret_reply) {
        _cleanup_free_ char *body = NULL;
        size_t len = 0;
        int r;

        if (!c || service < 0 || service >= _AWS_SERVICE_MAX || !services[service].version || isempty(action))
                return -EINVAL;

        r = append_encoded_pair(&body, &len, "Action", action);
        if (r < 0)
                return r;
        r = append_encoded_pair(&body, &len, "Version", services[service].version);
        if (r < 0)
                return r;
        for (size_t i = 0; params && i < params->n; i++) {
                r = append_encoded_pair(&body, &len, params->items[i].name, params->items[i].value);
                if (r < 0)
                        return r;
        }

        return aws_call(c,
                        &(AwsCall) {
                                .service = service,
                                .label = action,
                                .method = "POST",
                                .path = "/",
                                .content_type = AWS_QUERY_CONTENT_TYPE,
                                .body = body,
                                .body_size = len,
                        },
                        deadline, ret_error, ret_reply);
}

int aws_rest_xml_call(AwsClient *c, AwsService service, const char *method, const char *path,
                      const AwsParams *query, const char *body, usec_t deadline,
                      AwsError *ret_error, XmlDoc **ret_reply) {
        _cleanup_free_ char *q = NULL, *label = NULL;
        int r;

        if (!c || service < 0 || service >= _AWS_SERVICE_MAX || isempty(method) || !path || path[0] != '/')
                return -EINVAL;

        r = aws_params_encode(query, &q);
        if (r < 0)
                return r;
        if (asprintf(&label, "%s %s", method, path) < 0) {
                label = NULL;
                return -ENOMEM;
        }

        return aws_call(c,
                        &(AwsCall) {
                                .service = service,
                                .label = label,
                                .method = method,
                                .path = path,
                                .query = q,
                                .body = body,
                                .body_size = body ? strlen(body) : 0,
                        },
                        deadline, ret_error, ret_reply);
}
