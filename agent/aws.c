/* SPDX-License-Identifier: Apache-2.0 */
/* The AWS client: endpoints, signing, and the attempts of one call. What
 * an error reply means is aws-error.c's; the parameters are aws-params.c's. */
#include <inttypes.h>
#include <stdio.h>

#include "aws-json.h"
#include "aws.h"
#include "backoff.h"
#include "clock.h"
#include "log.h"
#include "sigv4.h"

/* Backoff between attempts, "full jitter" (backoff.h): the ceiling starts at
 * 200 ms, short enough that a connection reset on a freshly raised interface
 * costs little, and doubles up to 5 s. Throttling starts at 500 ms instead
 * (x2.5), as the AWS SDKs do, because retrying a throttled call quickly only
 * drains the account's token bucket further. Eight attempts take about 12 s
 * at most (about half that on average), well inside any boot deadline, and
 * leave the deadline to decide when the whole sequence gives up. */
static const BackoffPolicy aws_retry_policy = {
        .initial = 200 * USEC_PER_MSEC,
        .max = 5 * USEC_PER_SEC,
        .growth_percent = 200,
        .jitter = true,
        .throttle_percent = 250,
};
#define AWS_ATTEMPTS_MAX 8U

/* One attempt never waits longer than this for its reply; a hung
 * connection is then retried rather than eating the whole deadline. */
#define AWS_ATTEMPT_TIMEOUT_USEC (30 * USEC_PER_SEC)
#define AWS_CONNECT_TIMEOUT_USEC (2 * USEC_PER_SEC)

#define AWS_QUERY_CONTENT_TYPE "application/x-www-form-urlencoded; charset=utf-8"
#define AWS_JSON_CONTENT_TYPE "application/x-amz-json-1.1"

struct AwsClient {
        const HttpTransport *transport;
        const CredentialsProvider *credentials;
        char *region;
        char *endpoints[_AWS_SERVICE_MAX];
        char *signing_regions[_AWS_SERVICE_MAX];
        int64_t clock_offset;
        bool throttling_returned[_AWS_SERVICE_MAX];     /* aws_client_return_throttling() */
};

static const struct {
        const char *name;          /* signing name */
        const char *host_prefix;   /* regional endpoint: https://<prefix>.<region>.<suffix> */
        const char *env;           /* the SDKs' service-specific variable */
        const char *version;       /* Query API version; NULL for the others */
        const char *target_prefix; /* JSON protocol: X-Amz-Target is <prefix>.<action>; NULL for the others */
} services[_AWS_SERVICE_MAX] = {
        [AWS_SERVICE_EC2]            = { "ec2",            "ec2",            "AWS_ENDPOINT_URL_EC2",            "2016-11-15", NULL },
        [AWS_SERVICE_ROUTE53]        = { "route53",        NULL,             "AWS_ENDPOINT_URL_ROUTE_53",       NULL,         NULL },
        [AWS_SERVICE_AUTOSCALING]    = { "autoscaling",    "autoscaling",    "AWS_ENDPOINT_URL_AUTO_SCALING",   "2011-01-01", NULL },
        [AWS_SERVICE_CLOUDFORMATION] = { "cloudformation", "cloudformation", "AWS_ENDPOINT_URL_CLOUDFORMATION", "2010-05-15", NULL },
        [AWS_SERVICE_KMS]            = { "kms",            "kms",            "AWS_ENDPOINT_URL_KMS",            NULL,         "TrentService" },
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

bool aws_client_return_throttling(AwsClient *c, AwsService service, bool b) {
        bool previous;

        if (!c || service < 0 || service >= _AWS_SERVICE_MAX)
                return false;
        previous = c->throttling_returned[service];
        c->throttling_returned[service] = b;
        return previous;
}

/* The signature's time: the local wall clock corrected by what AWS said. */
static time_t client_signing_time(const AwsClient *c) {
        int64_t t = (int64_t) now(CLOCK_REALTIME) + c->clock_offset;

        return (time_t) (MAX(t, (int64_t) 0) / (int64_t) USEC_PER_SEC);
}

static bool errno_is_network(int r) {
        /* -EHOSTUNREACH includes a failed name lookup, common while the
         * network is still coming up at boot. */
        return r == -ECONNRESET || r == -ECONNREFUSED || r == -ETIMEDOUT || r == -EPROTO ||
               r == -EHOSTUNREACH;
}

/* How a reply of the call is read: XML (Query, REST-XML) or JSON. */
typedef enum AwsProtocol {
        AWS_PROTOCOL_XML,
        AWS_PROTOCOL_JSON,
} AwsProtocol;

/* Everything of a call that stays the same across attempts. */
typedef struct AwsCall {
        AwsService service;
        AwsProtocol protocol;
        const char *label;      /* for log lines: the action, or method and path */
        const char *method;
        const char *path;       /* below the endpoint's base path */
        const char *query;      /* encoded; NULL or "" when none */
        const char *content_type;
        const char *target;     /* X-Amz-Target (JSON protocol); NULL when none */
        const char *body;
        size_t body_size;
} AwsCall;

/* Where a successful call's parsed reply goes: the member of its
 * protocol, which may be NULL (the reply is then parsed and dropped). */
typedef struct AwsReplyOut {
        XmlDoc **xml;
        JsonDoc **json;
} AwsReplyOut;

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
        SigV4Header sig_headers[5];
        HttpHeader http_headers[6];
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
        /* Signed, as the SDKs do: the target names the action. */
        if (call->target)
                sig_headers[n++] = (SigV4Header) { "X-Amz-Target", call->target };
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

        left = deadline == USEC_INFINITY ? USEC_INFINITY : deadline - MIN(deadline, now(CLOCK_MONOTONIC));
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

/* Where the attempts of one call stand. */
typedef struct Attempts {
        bool skew_corrected;
        bool refreshed;
        bool force_refresh;             /* the next attempt asks for new credentials */
        bool throttled;                 /* the last failure was "slow down" */
        int failure;                    /* returned when the attempts end now */
        char reason[48];                /* the last failure, for log lines */
} Attempts;

typedef enum Verdict {
        VERDICT_DONE,                   /* the call is answered: return failure (0 or an error) */
        VERDICT_AGAIN_NOW,              /* fixed something (clock, credentials): try at once */
        VERDICT_AGAIN_LATER,            /* a failure worth another attempt after a backoff */
} Verdict;

static Verdict done(Attempts *a, int r) {
        a->failure = r;
        return VERDICT_DONE;
}

/* Judges an error reply by its class (aws-error.c). */
static Verdict judge_error_reply(AwsClient *c, const AwsCall *call, const HttpResponse *response,
                                 bool session_token, AwsError *error, Attempts *a) {
        const char *service = services[call->service].name;
        usec_t server;

        switch (aws_error_classify(error, session_token)) {
        case AWS_ERROR_CLASS_DRY_RUN:
                return done(a, 0);
        case AWS_ERROR_CLASS_CLOCK_SKEW:
                if (!a->skew_corrected &&
                    aws_parse_http_date(http_response_header(response, "date"), &server) >= 0) {
                        c->clock_offset = (int64_t) server - (int64_t) now(CLOCK_REALTIME);
                        a->skew_corrected = true;
                        log_debug("%s %s: %s, correcting the clock by %+" PRId64 " s and retrying.", service,
                                  call->label, error->code, c->clock_offset / (int64_t) USEC_PER_SEC);
                        return VERDICT_AGAIN_NOW;
                }
                /* A clock that is right and a request that still expired:
                 * the session token is stale. */
                if (session_token && !a->refreshed && streq(error->code, "RequestExpired"))
                        break;
                return done(a, log_debug_errno(EACCES, "%s %s: %s: %s", service, call->label, error->code,
                                               strna(error->message)));
        case AWS_ERROR_CLASS_EXPIRED_TOKEN:
                if (session_token && !a->refreshed)
                        break;
                return done(a, log_debug_errno(EACCES, "%s %s: %s: %s", service, call->label, error->code,
                                               strna(error->message)));
        case AWS_ERROR_CLASS_AUTH:
                return done(a, log_debug_errno(EACCES, "%s %s: %s: %s", service, call->label, error->code,
                                               strna(error->message)));
        case AWS_ERROR_CLASS_NOT_FOUND:
                return done(a, log_debug_errno(ENOENT, "%s %s: %s: %s", service, call->label, error->code,
                                               strna(error->message)));
        case AWS_ERROR_CLASS_PERMANENT:
                return done(a, log_debug_errno(EREMOTEIO, "%s %s: HTTP %ld %s: %s", service, call->label,
                                               response->status, strna(error->code), strna(error->message)));
        case AWS_ERROR_CLASS_THROTTLING:
        case AWS_ERROR_CLASS_TRANSIENT:
        default:
                a->throttled = aws_error_is_throttling(error);
                a->failure = -EREMOTEIO;
                if (error->code)
                        (void) snprintf(a->reason, sizeof(a->reason), "%s", error->code);
                else
                        (void) snprintf(a->reason, sizeof(a->reason), "HTTP %ld", response->status);
                return VERDICT_AGAIN_LATER;
        }

        /* Stale credentials: once, with new ones. */
        a->refreshed = a->force_refresh = true;
        log_debug("%s %s: %s, refreshing credentials and retrying.", service, call->label, error->code);
        return VERDICT_AGAIN_NOW;
}

/* Parses a 2xx reply by the call's protocol into out's member (when set). */
static int reply_parse(const AwsCall *call, const HttpResponse *response, const AwsReplyOut *out) {
        _cleanup_(xml_doc_freep) XmlDoc *xml = NULL;
        _cleanup_(json_doc_freep) JsonDoc *json = NULL;
        int r;

        switch (call->protocol) {
        case AWS_PROTOCOL_JSON:
                r = json_doc_parse(response->body, response->body_size, &json);
                if (r >= 0 && out->json)
                        *out->json = TAKE_PTR(json);
                return r;
        case AWS_PROTOCOL_XML:
        default:
                r = xml_parse(response->body, response->body_size, &xml);
                if (r >= 0 && out->xml)
                        *out->xml = TAKE_PTR(xml);
                return r;
        }
}

/* Reads an error reply by the call's protocol. */
static int error_parse(const AwsCall *call, const HttpResponse *response, AwsError *error) {
        if (call->protocol == AWS_PROTOCOL_JSON)
                return aws_json_error_parse(response->status, response->body, response->body_size,
                                            http_response_header(response, "x-amzn-errortype"), error);
        return aws_error_parse(response->status, response->body, response->body_size, error);
}

/* Judges one attempt: the transport's result r and, when there was a
 * reply, the reply. A success parses the reply into out. */
static Verdict judge_attempt(AwsClient *c, const AwsCall *call, int r, const HttpResponse *response,
                             bool session_token, AwsError *error, const AwsReplyOut *out, Attempts *a) {
        a->throttled = false;
        if (r < 0) {
                aws_error_done(error);
                if (!errno_is_network(r))
                        return done(a, r);
                (void) snprintf(a->reason, sizeof(a->reason), "%s", strerror(-r));
                a->failure = r;
                return VERDICT_AGAIN_LATER;
        }

        if (response->status >= 200 && response->status < 300) {
                aws_error_done(error);
                r = reply_parse(call, response, out);
                if (r >= 0)
                        return done(a, 0);
                if (r == -ENOMEM)
                        return done(a, r);
                /* Read calls are safe to repeat, and mutating ones are made
                 * idempotent by their callers, who look before they act. */
                error->http_status = response->status;
                (void) snprintf(a->reason, sizeof(a->reason), "malformed reply");
                a->failure = -EBADMSG;
                return VERDICT_AGAIN_LATER;
        }

        r = error_parse(call, response, error);
        if (r == -ENOMEM)
                return done(a, r);
        if (r < 0) {
                aws_error_done(error);
                error->http_status = response->status;
        }
        error_set_request_id_from_headers(error, response);
        return judge_error_reply(c, call, response, session_token, error, a);
}

/* The attempts of one call. error describes the last error reply (or is
 * empty when the last attempt got none). */
static int aws_call_attempts(AwsClient *c, const AwsCall *call, usec_t deadline, AwsError *error,
                             const AwsReplyOut *out) {
        const char *service = services[call->service].name;
        Backoff backoff = BACKOFF_INIT(&aws_retry_policy);
        Attempts a = {};

        for (unsigned attempt = 1;; attempt++) {
                _cleanup_(http_response_done) HttpResponse response = {};
                bool session_token = false, force_refresh = a.force_refresh;
                usec_t wait;
                int r;

                if (deadline != USEC_INFINITY && now(CLOCK_MONOTONIC) >= deadline)
                        return log_debug_errno(ETIME, "%s %s: deadline passed.", service, call->label);

                a.force_refresh = false;
                r = aws_attempt(c, call, force_refresh, deadline, &response, &session_token);
                switch (judge_attempt(c, call, r, &response, session_token, error, out, &a)) {
                case VERDICT_DONE:
                        return a.failure;
                case VERDICT_AGAIN_NOW:
                        continue;
                case VERDICT_AGAIN_LATER:
                        break;
                }
                /* The caller paces throttled calls itself (see aws.h). */
                if (a.throttled && c->throttling_returned[call->service])
                        return log_debug_errno(a.failure, "%s %s: %s, returned to the caller.", service,
                                               call->label, a.reason);

                if (attempt >= AWS_ATTEMPTS_MAX)
                        return log_debug_errno(a.failure, "%s %s: %s, giving up after %u attempts.", service,
                                               call->label, a.reason, AWS_ATTEMPTS_MAX);

                r = backoff_wait(&backoff, a.throttled, deadline, &wait);
                if (r == -ETIME)
                        return log_debug_errno(ETIME, "%s %s: %s, and the deadline passes before the next attempt.",
                                               service, call->label, a.reason);
                if (r < 0)
                        return log_debug_errno(r, "%s %s: %s, not retried: %m", service, call->label, a.reason);
                log_debug("%s %s: %s, retried after %s (attempt %u of %u).", service, call->label, a.reason,
                          FORMAT_DURATION(wait), attempt + 1, AWS_ATTEMPTS_MAX);
        }
}

static int aws_call(AwsClient *c, const AwsCall *call, usec_t deadline, AwsError *ret_error,
                    const AwsReplyOut *out) {
        _cleanup_(aws_error_done) AwsError error = {};
        int r;

        if (ret_error)
                aws_error_done(ret_error);

        r = aws_call_attempts(c, call, deadline, &error, out);

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

        r = aws_append_encoded_pair(&body, &len, "Action", action);
        if (r < 0)
                return r;
        r = aws_append_encoded_pair(&body, &len, "Version", services[service].version);
        if (r < 0)
                return r;
        for (size_t i = 0; params && i < params->n; i++) {
                r = aws_append_encoded_pair(&body, &len, params->items[i].name, params->items[i].value);
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
                        deadline, ret_error, &(AwsReplyOut) { .xml = ret_reply });
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
                        deadline, ret_error, &(AwsReplyOut) { .xml = ret_reply });
}

int aws_json_call(AwsClient *c, AwsService service, const char *action, const AwsParams *members,
                  usec_t deadline, AwsError *ret_error, JsonDoc **ret_reply) {
        _cleanup_free_ char *body = NULL, *target = NULL;
        int r;

        if (!c || service < 0 || service >= _AWS_SERVICE_MAX || !services[service].target_prefix ||
            isempty(action))
                return -EINVAL;

        r = json_encode_string_members(members, &body);
        if (r < 0)
                return r;
        if (asprintf(&target, "%s.%s", services[service].target_prefix, action) < 0) {
                target = NULL;
                return -ENOMEM;
        }

        return aws_call(c,
                        &(AwsCall) {
                                .service = service,
                                .protocol = AWS_PROTOCOL_JSON,
                                .label = action,
                                .method = "POST",
                                .path = "/",
                                .content_type = AWS_JSON_CONTENT_TYPE,
                                .target = target,
                                .body = body,
                                .body_size = strlen(body),
                        },
                        deadline, ret_error, &(AwsReplyOut) { .json = ret_reply });
}
