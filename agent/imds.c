/* SPDX-License-Identifier: Apache-2.0 */
/* The IMDSv2 client: the session token, requests with their retries and
 * deadline, and the typed getters. Their JSON is read by imds-parse.c. */
#include <arpa/inet.h>
#include <ctype.h>
#include <limits.h>
#include <netinet/ether.h>
#include <stdio.h>

#include "backoff.h"
#include "imds.h"
#include "log.h"


/* IMDS answers from the local hypervisor: anything slower than this is a
 * lost packet or a network that is not up yet, and a fresh attempt is the
 * better bet than waiting. */
#define IMDS_CONNECT_TIMEOUT (1 * USEC_PER_SEC)
#define IMDS_REQUEST_TIMEOUT (2 * USEC_PER_SEC)

/* The token is fetched again this long before IMDS would reject it, so that
 * a request never goes out with a token about to die in flight. */
#define IMDS_TOKEN_REFRESH_MARGIN (60 * USEC_PER_SEC)

/* User data is at most 16 KiB and metadata items are small; a larger reply is
 * not IMDS. */
#define IMDS_RESPONSE_SIZE_MAX ((size_t) 64 * 1024)
#define IMDS_TOKEN_SIZE_MAX 4096U

#define IMDS_TOKEN_TTL_HEADER "X-aws-ec2-metadata-token-ttl-seconds"
#define IMDS_TOKEN_HEADER "X-aws-ec2-metadata-token"

struct Imds {
        HttpTransport *transport;
        char *base;             /* ends with "/" */

        char *token;
        usec_t token_expiry;    /* CLOCK_MONOTONIC */

};

/* Checks (and may keep a parsed form of) a 200 reply's body. -EBADMSG means
 * malformed and is retried like a truncated reply; other errors are final. */
typedef int (*ImdsCheck)(const char *body, size_t size, void *userdata);

static void imds_drop_token(Imds *imds) {
        if (imds->token) {
                explicit_bzero(imds->token, strlen(imds->token));
                imds->token = mfree(imds->token);
        }
        imds->token_expiry = 0;
}

Imds *imds_free(Imds *imds) {
        if (!imds)
                return NULL;
        imds_drop_token(imds);
        free(imds->base);
        return mfree(imds);
}

static bool endpoint_is_valid(const char *endpoint) {
        const char *rest;

        rest = startswith(endpoint, "http://");
        if (!rest)
                rest = startswith(endpoint, "https://");
        if (isempty(rest) || rest[0] == '/')
                return false;
        for (const char *p = endpoint; *p; p++)
                if (!isgraph((unsigned char) *p) || *p == '?' || *p == '#')
                        return false;
        return true;
}

int imds_new(HttpTransport *transport, const char *endpoint, Imds **ret) {
        _cleanup_(imds_freep) Imds *imds = NULL;
        size_t l;

        if (!transport || !ret)
                return -EINVAL;

        if (!endpoint) {
                endpoint = secure_getenv("AWS_EC2_METADATA_SERVICE_ENDPOINT");
                if (isempty(endpoint))
                        endpoint = IMDS_ENDPOINT_DEFAULT;
        }
        if (!endpoint_is_valid(endpoint))
                return log_debug_errno(EINVAL, "imds: invalid endpoint \"%s\": expected http(s)://host[:port][/path].",
                                       endpoint);

        imds = calloc(1, sizeof(Imds));
        if (!imds)
                return -ENOMEM;

        l = strlen(endpoint);
        if (asprintf(&imds->base, "%s%s", endpoint, endpoint[l - 1] == '/' ? "" : "/") < 0) {
                imds->base = NULL;
                return -ENOMEM;
        }

        imds->transport = transport;
        *ret = TAKE_PTR(imds);
        return 0;
}

/* Retries wait "full jitter" (backoff.h), from 100 ms up to 2 s, so that a
 * fleet rebooting at once does not retry in lockstep; ten attempts in all,
 * then the deadline or the caller decides. */
static const BackoffPolicy imds_retry_policy = {
        .initial = 100 * USEC_PER_MSEC,
        .max = 2 * USEC_PER_SEC,
        .growth_percent = 200,
        .jitter = true,
};
#define IMDS_ATTEMPTS 10U

static bool error_is_transient(int r) {
        switch (-r) {
        case ECONNREFUSED:
        case ECONNRESET:
        case EHOSTUNREACH:
        case ENETUNREACH:
        case ETIMEDOUT:
        case EPROTO:
        case EIO:
        case EBADMSG:
                return true;
        default:
                return false;
        }
}

/* Per-request timeouts: short, and never past the caller's deadline. */
static int imds_timeouts(usec_t deadline, usec_t *ret_connect, usec_t *ret_total) {
        usec_t left = usec_left(deadline);

        if (left == 0)
                return -ETIME;
        *ret_connect = MIN(IMDS_CONNECT_TIMEOUT, left);
        *ret_total = MIN(IMDS_REQUEST_TIMEOUT, left);
        return 0;
}

static bool token_is_valid(const char *s, size_t size) {
        if (size == 0 || strlen(s) != size)
                return false;
        for (size_t i = 0; i < size; i++)
                if (!isgraph((unsigned char) s[i]))
                        return false;
        return true;
}

/* The TTL IMDS granted, which may be less than what we asked for. */
static usec_t token_ttl_from_response(const HttpResponse *response) {
        const char *v = http_response_header(response, IMDS_TOKEN_TTL_HEADER);
        unsigned long n;
        char *end;

        if (isempty(v) || !isdigit((unsigned char) v[0]))
                return IMDS_TOKEN_TTL_SEC * USEC_PER_SEC;
        errno = 0;
        n = strtoul(v, &end, 10);
        if (errno != 0 || *end != '\0' || n == 0 || n > IMDS_TOKEN_TTL_SEC)
                return IMDS_TOKEN_TTL_SEC * USEC_PER_SEC;
        return (usec_t) n * USEC_PER_SEC;
}

/* One PUT /latest/api/token. */
static int imds_fetch_token(Imds *imds, usec_t deadline) {
        _cleanup_(http_response_done) HttpResponse response = {};
        _cleanup_free_ char *url = NULL, *ttl = NULL;
        HttpRequest request;
        usec_t lifetime, connect_timeout, timeout;
        int r;

        r = imds_timeouts(deadline, &connect_timeout, &timeout);
        if (r < 0)
                return r;

        if (asprintf(&url, "%slatest/api/token", imds->base) < 0 ||
            asprintf(&ttl, "%u", IMDS_TOKEN_TTL_SEC) < 0)
                return -ENOMEM;

        request = (HttpRequest) {
                .method = "PUT",
                .url = url,
                .headers = &(const HttpHeader) { .name = (char *) IMDS_TOKEN_TTL_HEADER, .value = ttl },
                .n_headers = 1,
                .connect_timeout = connect_timeout,
                .timeout = timeout,
                .max_response_size = IMDS_TOKEN_SIZE_MAX,
        };

        r = http_perform(imds->transport, &request, &response);
        if (r < 0)
                return log_debug_errno(r, "imds: token request to %s failed: %m", url);

        switch (response.status) {
        case 200:
                break;
        case 403:
                return log_debug_errno(EACCES,
                                       "imds: %s refused a session token (403): the metadata service is disabled "
                                       "for this instance (HttpEndpoint=disabled), or refused this request (sent "
                                       "through a proxy: X-Forwarded-For). (A hop limit too low is not a 403: "
                                       "the reply never arrives, and the request times out.)", url);
        case 404:
        case 405:
                return log_debug_errno(EPROTONOSUPPORT,
                                       "imds: %s answered %ld to the token request: no IMDSv2 there "
                                       "(IMDSv1 is deliberately not used).", url, response.status);
        case 429:
                return log_debug_errno(EIO, "imds: token request throttled (429).");
        default:
                if (response.status >= 500)
                        return log_debug_errno(EIO, "imds: token request failed with %ld.", response.status);
                return log_debug_errno(EPROTO, "imds: unexpected status %ld to the token request.",
                                       response.status);
        }

        if (!token_is_valid(response.body, response.body_size))
                return log_debug_errno(EBADMSG, "imds: the token reply is not a token.");

        imds_drop_token(imds);
        imds->token = TAKE_PTR(response.body);
        response.body_size = 0;
        log_register_secret(imds->token);

        lifetime = token_ttl_from_response(&response);
        imds->token_expiry = usec_add(now(CLOCK_MONOTONIC),
                                      lifetime - MIN(IMDS_TOKEN_REFRESH_MARGIN, lifetime / 2));
        log_debug("imds: got a session token, valid for %s.", FORMAT_DURATION(lifetime));
        return 0;
}

static int imds_ensure_token(Imds *imds, usec_t deadline) {
        if (imds->token && now(CLOCK_MONOTONIC) < imds->token_expiry)
                return 0;
        return imds_fetch_token(imds, deadline);
}

/* IAM role names and metadata paths use these; anything else in a path (a
 * "?", "..", a space) did not come from IMDS or from us. */
static bool path_is_valid(const char *path) {
        static const char allowed[] =
                "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~/+=,@";

        if (isempty(path) || strlen(path) > 1024)
                return false;
        if (strspn(path, allowed) != strlen(path))
                return false;
        for (const char *p = path; p; p = strchr(p, '/')) {
                if (p[0] == '/')
                        p++;
                if (startswith(p, "..") && (p[2] == '/' || p[2] == '\0'))
                        return false;
        }
        return true;
}

/* One GET with the current token. */
static int imds_get_once(Imds *imds, const char *url, usec_t deadline, HttpResponse *ret) {
        usec_t connect_timeout, timeout;
        HttpRequest request;
        int r;

        r = imds_timeouts(deadline, &connect_timeout, &timeout);
        if (r < 0)
                return r;

        request = (HttpRequest) {
                .method = "GET",
                .url = url,
                .headers = &(const HttpHeader) { .name = (char *) IMDS_TOKEN_HEADER, .value = imds->token },
                .n_headers = 1,
                .connect_timeout = connect_timeout,
                .timeout = timeout,
                .max_response_size = IMDS_RESPONSE_SIZE_MAX,
        };

        r = http_perform(imds->transport, &request, ret);
        if (r < 0)
                return log_debug_errno(r, "imds: GET %s failed: %m", url);
        return 0;
}

/* What an attempt of imds_request() that did not fail for good came to,
 * besides 0 (done). */
enum {
        ATTEMPT_RETRY = 1,      /* a transient failure: back off, then try again */
        ATTEMPT_AGAIN,          /* a new token: try again at once */
};

/* A failure to get the token or the reply: final, or worth another attempt
 * (*last is then its error). */
static int attempt_failed(int r, int *last) {
        if (r == -ETIME || !error_is_transient(r))
                return r;
        *last = r;
        return ATTEMPT_RETRY;
}

/* What the status of a reply to path means. A 401 means the token expired
 * or IMDS restarted: a new one, and the same request again, once. */
static int attempt_status(Imds *imds, const char *path, long status, bool *renewed, int *last) {
        switch (status) {
        case 200:
                return 0;
        case 401:
                if (*renewed)
                        return log_debug_errno(EACCES, "imds: %s refused a fresh token (401).", path);
                log_debug("imds: token refused (401) for %s, fetching a new one.", path);
                imds_drop_token(imds);
                *renewed = true;
                return ATTEMPT_AGAIN;
        case 403:
                return log_debug_errno(EACCES, "imds: access to %s denied (403).", path);
        case 404:
                return log_debug_errno(ENOENT, "imds: %s does not exist (404).", path);
        default:
                if (status == 429 || status >= 500) {
                        log_debug("imds: %s answered %ld, retrying.", path, status);
                        *last = -EIO;
                        return ATTEMPT_RETRY;
                }
                return log_debug_errno(EPROTO, "imds: unexpected status %ld for %s.", status, path);
        }
}

/* One attempt: the token, the GET, its status and the check of its body.
 * Returns 0 with the reply in *response, ATTEMPT_*, or a final error. */
static int attempt(Imds *imds, const char *url, const char *path, usec_t deadline, ImdsCheck check,
                   void *userdata, bool *renewed, int *last, HttpResponse *response) {
        int r;

        r = imds_ensure_token(imds, deadline);
        if (r < 0)
                return attempt_failed(r, last);
        r = imds_get_once(imds, url, deadline, response);
        if (r < 0)
                return attempt_failed(r, last);

        r = attempt_status(imds, path, response->status, renewed, last);
        if (r != 0 || !check)
                return r;

        r = check(response->body, response->body_size, userdata);
        if (r == -EBADMSG) {
                log_debug("imds: malformed reply for %s, retrying.", path);
                *last = r;
                return ATTEMPT_RETRY;
        }
        return r < 0 ? r : 0;
}

/* GETs path under /latest/, with the token, retries and the deadline. */
static int imds_request(Imds *imds, const char *path, usec_t deadline, ImdsCheck check, void *userdata,
                        char **ret, size_t *ret_size) {
        _cleanup_free_ char *url = NULL;
        Backoff backoff = BACKOFF_INIT(&imds_retry_policy);
        bool renewed = false;
        unsigned failures = 0;
        int r, last = 0;

        if (!imds || !path)
                return -EINVAL;
        while (path[0] == '/')
                path++;
        if (!path_is_valid(path))
                return log_debug_errno(EINVAL, "imds: refusing the path \"%s\".", path);
        if (asprintf(&url, "%slatest/%s", imds->base, path) < 0)
                return -ENOMEM;

        for (;;) {
                _cleanup_(http_response_done) HttpResponse response = {};

                if (failures > 0) {
                        if (failures >= IMDS_ATTEMPTS)
                                return log_debug_errno(last, "imds: giving up on %s after %u attempts: %m",
                                                       path, failures);
                        r = backoff_wait(&backoff, false, deadline, NULL);
                        if (r == -ETIME)
                                return log_debug_errno(r, "imds: deadline reached for %s after %u attempts "
                                                       "(last error: %s).", path, failures, strerror(-last));
                        if (r < 0)
                                return log_debug_errno(r, "imds: %s abandoned: %m", path);
                }
                if (usec_left(deadline) == 0)
                        return log_debug_errno(ETIME, "imds: deadline reached for %s.", path);

                r = attempt(imds, url, path, deadline, check, userdata, &renewed, &last, &response);
                if (r == ATTEMPT_RETRY)
                        failures++;
                if (r == ATTEMPT_RETRY || r == ATTEMPT_AGAIN)
                        continue;
                if (r < 0)
                        return r;

                if (ret_size)
                        *ret_size = response.body_size;
                if (ret)
                        *ret = TAKE_PTR(response.body);
                return 0;
        }
}

static int check_text(const char *body, size_t size, void *userdata) {
        return strlen(body) == size ? 0 : -EBADMSG;
}

int imds_get(Imds *imds, const char *path, usec_t deadline, char **ret) {
        return imds_request(imds, path, deadline, check_text, NULL, ret, NULL);
}

/* A single word from a set of characters, as instance ids, regions and
 * zones are. */
static int check_word(const char *body, size_t size, void *userdata) {
        const char *allowed = userdata;

        if (size == 0 || size > 255 || strlen(body) != size || strspn(body, allowed) != size)
                return -EBADMSG;
        return 0;
}

#define WORD_CHARS "abcdefghijklmnopqrstuvwxyz0123456789-"

int imds_get_instance_id(Imds *imds, usec_t deadline, char **ret) {
        return imds_request(imds, "meta-data/instance-id", deadline, check_word, (void *) WORD_CHARS, ret, NULL);
}

int imds_get_availability_zone(Imds *imds, usec_t deadline, char **ret) {
        return imds_request(imds, "meta-data/placement/availability-zone", deadline, check_word,
                            (void *) WORD_CHARS, ret, NULL);
}

static int check_mac(const char *body, size_t size, void *userdata) {
        struct ether_addr addr;

        /* ether_aton_r() also takes "0:1:2:3:4:5"; IMDS always sends all
         * digits. */
        if (size != 17 || strlen(body) != size || !ether_aton_r(body, &addr))
                return -EBADMSG;
        return 0;
}

int imds_get_mac(Imds *imds, usec_t deadline, char **ret) {
        return imds_request(imds, "meta-data/mac", deadline, check_mac, NULL, ret, NULL);
}

static int check_ipv4(const char *body, size_t size, void *userdata) {
        struct in_addr addr;

        if (strlen(body) != size || inet_pton(AF_INET, body, &addr) != 1)
                return -EBADMSG;
        return 0;
}

int imds_get_local_ipv4(Imds *imds, usec_t deadline, char **ret) {
        return imds_request(imds, "meta-data/local-ipv4", deadline, check_ipv4, NULL, ret, NULL);
}

int imds_get_user_data(Imds *imds, usec_t deadline, char **ret, size_t *ret_size) {
        return imds_request(imds, "user-data", deadline, NULL, NULL, ret, ret_size);
}

static int check_identity(const char *body, size_t size, void *userdata) {
        return imds_parse_identity(body, size, userdata);
}

int imds_get_identity(Imds *imds, usec_t deadline, ImdsIdentity *ret) {
        _cleanup_(imds_identity_done) ImdsIdentity id = {};
        int r;

        if (!ret)
                return -EINVAL;
        r = imds_request(imds, "dynamic/instance-identity/document", deadline, check_identity, &id, NULL, NULL);
        if (r < 0)
                return r;
        *ret = id;
        id = (ImdsIdentity) {};
        return 0;
}

int imds_get_region(Imds *imds, usec_t deadline, char **ret) {
        _cleanup_(imds_identity_done) ImdsIdentity id = {};
        int r;

        if (!ret)
                return -EINVAL;

        r = imds_request(imds, "meta-data/placement/region", deadline, check_word, (void *) WORD_CHARS, ret, NULL);
        if (r != -ENOENT)
                return r;

        /* Older metadata versions lack placement/region; the identity
         * document has always carried it. */
        r = imds_get_identity(imds, deadline, &id);
        if (r < 0)
                return r;
        if (check_word(id.region, strlen(id.region), (void *) WORD_CHARS) < 0)
                return log_debug_errno(EBADMSG, "imds: the identity document's region is malformed.");
        *ret = TAKE_PTR(id.region);
        return 0;
}

static bool role_name_is_valid(const char *s, size_t n) {
        static const char allowed[] =
                "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+=,.@_-";

        if (n == 0 || n > 64)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!strchr(allowed, s[i]) || s[i] == '\0')
                        return false;
        return true;
}

/* The listing names one role per line; an instance has at most one. */
static int check_role_listing(const char *body, size_t size, void *userdata) {
        size_t n;

        if (strlen(body) != size)
                return -EBADMSG;
        n = strcspn(body, "\r\n");
        if (n == 0)
                /* Empty: no role, reported after the request. */
                return 0;
        if (!role_name_is_valid(body, n))
                return log_debug_errno(EBADMSG, "imds: the role listing is not a role name.");
        return 0;
}

int imds_get_role_name(Imds *imds, usec_t deadline, char **ret) {
        _cleanup_free_ char *listing = NULL;
        char *name;
        int r;

        if (!ret)
                return -EINVAL;

        r = imds_request(imds, "meta-data/iam/security-credentials/", deadline, check_role_listing, NULL,
                         &listing, NULL);
        if (r < 0)
                return r;

        listing[strcspn(listing, "\r\n")] = '\0';
        if (isempty(listing))
                return log_debug_errno(ENOENT, "imds: no instance role.");

        name = strdup(listing);
        if (!name)
                return -ENOMEM;
        *ret = name;
        return 0;
}

static int check_credentials(const char *body, size_t size, void *userdata) {
        return imds_parse_credentials(body, size, userdata);
}

int imds_get_role_credentials(Imds *imds, usec_t deadline, AwsCredentials *ret) {
        _cleanup_(aws_credentials_done) AwsCredentials c = {};
        _cleanup_free_ char *role = NULL, *path = NULL;
        int r;

        if (!ret)
                return -EINVAL;

        r = imds_get_role_name(imds, deadline, &role);
        if (r < 0)
                return r;

        if (asprintf(&path, "meta-data/iam/security-credentials/%s", role) < 0)
                return -ENOMEM;

        r = imds_request(imds, path, deadline, check_credentials, &c, NULL, NULL);
        if (r < 0)
                return log_debug_errno(r, "imds: no credentials for the role %s: %m", role);

        log_register_secret(c.secret_access_key);
        log_register_secret(c.session_token);
        log_debug("imds: credentials of the role %s (%s), expiring in %s.", role, c.access_key_id,
                  FORMAT_DURATION(c.expiration > now(CLOCK_REALTIME) ? c.expiration - now(CLOCK_REALTIME) : 0));

        *ret = c;
        c = (AwsCredentials) {};
        return 0;
}
