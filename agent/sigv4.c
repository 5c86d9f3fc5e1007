/* SPDX-License-Identifier: Apache-2.0 */

/* AWS Signature Version 4, one function per stage, as the AWS documentation
 * ("Create a signed AWS API request") and the AWS SigV4 test suite describe
 * them. Where the documentation leaves a detail open, this file does what
 * botocore does, because botocore is the independent verifier of the tests.
 *
 * Nothing here logs: every function returns -EINVAL for input that cannot
 * be signed, -ENOMEM when an allocation fails and -EIO when libcrypto fails,
 * and the caller decides what to say. */

#include <limits.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "macro.h"
#include "sigv4.h"

#define SIGV4_ALGORITHM "AWS4-HMAC-SHA256"
#define SIGV4_TERMINATOR "aws4_request"

/* A growing string. The first failed append is remembered and later appends
 * do nothing, so that a stage can build its whole output and check once at
 * the end instead of after every piece. */
typedef struct Buf {
        char *data;
        size_t len;
        size_t cap;
        int error;
} Buf;

static void buf_done(Buf *b) {
        b->data = mfree(b->data);
        b->len = b->cap = 0;
}

static void buf_append_mem(Buf *b, const char *p, size_t n) {
        size_t need, cap;
        char *d;

        if (b->error < 0)
                return;
        if (n > SIZE_MAX - 1 - b->len) {
                b->error = -ENOMEM;
                return;
        }
        need = b->len + n + 1;
        if (need > b->cap) {
                cap = MAX(need, (size_t) 64);
                if (b->cap <= SIZE_MAX / 2)
                        cap = MAX(cap, b->cap * 2);
                d = realloc(b->data, cap);
                if (!d) {
                        b->error = -ENOMEM;
                        return;
                }
                b->data = d;
                b->cap = cap;
        }
        if (n > 0)
                memcpy(b->data + b->len, p, n);
        b->len += n;
        b->data[b->len] = '\0';
}

static void buf_append(Buf *b, const char *s) {
        buf_append_mem(b, s, strlen(s));
}

static void buf_append_char(Buf *b, char c) {
        buf_append_mem(b, &c, 1);
}

/* Hands the string over (an empty one when nothing was appended), or
 * returns the remembered error. */
static int buf_steal(Buf *b, char **ret) {
        if (b->error < 0)
                return b->error;
        if (!b->data) {
                buf_append_mem(b, "", 0);
                if (b->error < 0)
                        return b->error;
        }
        *ret = TAKE_PTR(b->data);
        b->len = b->cap = 0;
        return 0;
}

/* The character classes below are spelled out rather than taken from
 * <ctype.h>, whose answers depend on the locale. */

static bool char_is_alnum(char c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* RFC 3986's unreserved set, the only bytes AWS leaves unencoded. */
static bool char_is_unreserved(char c) {
        return char_is_alnum(c) || c == '-' || c == '_' || c == '.' || c == '~';
}

/* The whitespace that header values are trimmed of and collapse at; CR and
 * LF are here because a folded (multi-line) value joins into one line. */
static bool char_is_space(char c) {
        return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

/* RFC 9110 token characters: what a header name or a method may hold. It
 * keeps out ':' and ';', which would corrupt the canonical headers and the
 * signed header list. */
static bool char_is_tchar(char c) {
        return char_is_alnum(c) || (c != '\0' && strchr("!#$%&'*+-.^_`|~", c));
}

static bool string_is_token(const char *s) {
        if (isempty(s))
                return false;
        for (const char *p = s; *p; p++)
                if (!char_is_tchar(*p))
                        return false;
        return true;
}

/* Region, service and access key id end up between the '/' of the
 * credential scope and in the Authorization header, so they may hold
 * neither '/' nor separators nor whitespace. */
static bool string_is_scope_component(const char *s) {
        if (isempty(s))
                return false;
        for (const char *p = s; *p; p++) {
                unsigned char c = (unsigned char) *p;

                if (c <= ' ' || c >= 0x7f || c == '/' || c == ',' || c == '=')
                        return false;
        }
        return true;
}

/* "YYYYMMDDTHHMMSSZ" exactly, as the X-Amz-Date header carries it. */
static bool amz_date_is_valid(const char *s) {
        if (!s || strlen(s) != SIGV4_AMZ_DATE_SIZE - 1)
                return false;
        for (size_t i = 0; i < SIGV4_AMZ_DATE_SIZE - 1; i++) {
                if (i == 8) {
                        if (s[i] != 'T')
                                return false;
                } else if (i == 15) {
                        if (s[i] != 'Z')
                                return false;
                } else if (s[i] < '0' || s[i] > '9')
                        return false;
        }
        return true;
}

static char ascii_tolower(char c) {
        if (c >= 'A' && c <= 'Z')
                return (char) (c - 'A' + 'a');
        return c;
}

static void hex_encode(const uint8_t *data, size_t size, char *ret) {
        static const char digits[] = "0123456789abcdef";

        for (size_t i = 0; i < size; i++) {
                ret[2 * i] = digits[data[i] >> 4];
                ret[2 * i + 1] = digits[data[i] & 0xf];
        }
        ret[2 * size] = '\0';
}

static int hex_digit_value(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        return -EINVAL;
}

static void buf_append_uri_encoded(Buf *b, const char *s, size_t n) {
        static const char digits[] = "0123456789ABCDEF";

        for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char) s[i];

                if (char_is_unreserved((char) c))
                        buf_append_char(b, (char) c);
                else {
                        char e[3] = { '%', digits[c >> 4], digits[c & 0xf] };

                        buf_append_mem(b, e, sizeof(e));
                }
        }
}

/* Decodes %XX escapes of s[0..n) into b. A '%' that does not start a valid
 * escape is refused rather than guessed at: the service would decode it its
 * own way and the signatures would differ. '+' stays '+', as in RFC 3986. */
static int buf_append_uri_decoded(Buf *b, const char *s, size_t n) {
        for (size_t i = 0; i < n; i++) {
                int hi, lo;

                if (s[i] != '%') {
                        buf_append_char(b, s[i]);
                        continue;
                }
                if (n - i < 3)
                        return -EINVAL;
                hi = hex_digit_value(s[i + 1]);
                lo = hex_digit_value(s[i + 2]);
                if (hi < 0 || lo < 0)
                        return -EINVAL;
                buf_append_char(b, (char) (hi << 4 | lo));
                i += 2;
        }
        return 0;
}

static int sha256(const void *data, size_t size, uint8_t ret[static SIGV4_KEY_SIZE]) {
        unsigned len = 0;

        if (EVP_Digest(data ?: "", size, ret, &len, EVP_sha256(), NULL) != 1 || len != SIGV4_KEY_SIZE)
                return -EIO;
        return 0;
}

static int sha256_hex(const void *data, size_t size, char ret[static SIGV4_HEX_SIZE]) {
        uint8_t md[SIGV4_KEY_SIZE];
        int r;

        r = sha256(data, size, md);
        if (r < 0)
                return r;
        hex_encode(md, sizeof(md), ret);
        return 0;
}

static int hmac_sha256(const void *key, size_t key_size, const void *data, size_t size,
                       uint8_t ret[static SIGV4_KEY_SIZE]) {
        unsigned len = 0;

        if (key_size > INT_MAX)
                return -EINVAL;
        if (!HMAC(EVP_sha256(), key, (int) key_size, data ?: "", size, ret, &len) || len != SIGV4_KEY_SIZE)
                return -EIO;
        return 0;
}

void sigv4_sha256_hex(const void *data, size_t size, char ret[static SIGV4_HEX_SIZE]) {
        /* libcrypto fails here only when it cannot load its own SHA-256. The
         * declaration has no way to report that, so the hash comes out
         * empty, which no service accepts: the request is refused rather
         * than signed with a wrong hash. */
        if (sha256_hex(data, size, ret) < 0)
                ret[0] = '\0';
}

void sigv4_format_amz_date(time_t t, char ret[static SIGV4_AMZ_DATE_SIZE]) {
        struct tm tm;

        /* A time outside what gmtime_r() or four year digits can hold gives an
         * empty string, which every stage refuses as a date. */
        if (!gmtime_r(&t, &tm) || tm.tm_year < -1900 || tm.tm_year > 9999 - 1900 ||
            strftime(ret, SIGV4_AMZ_DATE_SIZE, "%Y%m%dT%H%M%SZ", &tm) != SIGV4_AMZ_DATE_SIZE - 1)
                ret[0] = '\0';
}

typedef struct Segment {
        const char *start;
        size_t len;
} Segment;

/* The path as AWS signs it. With normalize_path (every service but S3), the
 * path is normalized the way botocore does it: empty and "." segments go,
 * ".." removes the segment before it, a trailing '/' stays when anything is
 * left. Then each segment is URI-encoded, although the path is already
 * encoded on the wire: AWS wants it encoded twice for these services, so
 * "%20" becomes "%2520". S3 signs the path as it is sent. */
static int canonical_uri(const char *path, bool normalize_path, Buf *out) {
        _cleanup_free_ Segment *segments = NULL;
        size_t n_segments = 0, n_max = 1;
        size_t len;

        if (isempty(path)) {
                buf_append_char(out, '/');
                return 0;
        }
        if (!normalize_path) {
                buf_append(out, path);
                return 0;
        }

        len = strlen(path);
        for (const char *p = path; *p; p++)
                if (*p == '/')
                        n_max++;
        segments = calloc(n_max, sizeof(Segment));
        if (!segments)
                return -ENOMEM;

        for (const char *p = path; *p;) {
                size_t n = strcspn(p, "/");

                if (n == 2 && strncmp(p, "..", 2) == 0) {
                        if (n_segments > 0)
                                n_segments--;
                } else if (n > 0 && !(n == 1 && p[0] == '.'))
                        segments[n_segments++] = (Segment) { p, n };

                p += n;
                if (*p == '/')
                        p++;
        }

        buf_append_char(out, '/');
        for (size_t i = 0; i < n_segments; i++) {
                if (i > 0)
                        buf_append_char(out, '/');
                buf_append_uri_encoded(out, segments[i].start, segments[i].len);
        }
        if (n_segments > 0 && path[len - 1] == '/')
                buf_append_char(out, '/');
        return 0;
}

typedef struct QueryParam {
        char *name;     /* both encoded as AWS encodes them */
        char *value;
} QueryParam;

static int query_param_compare(const void *a, const void *b) {
        const QueryParam *x = a, *y = b;
        int c;

        c = strcmp(x->name, y->name);
        if (c != 0)
                return c;
        return strcmp(x->value, y->value);
}

typedef struct QueryParams {
        QueryParam *items;
        size_t n;
} QueryParams;

static void query_params_done(QueryParams *p) {
        for (size_t i = 0; i < p->n; i++) {
                free(p->items[i].name);
                free(p->items[i].value);
        }
        p->items = mfree(p->items);
        p->n = 0;
}

/* Decodes s[0..n) and encodes it again with AWS's unreserved set, so that
 * however the caller escaped it, the canonical form is the one the service
 * computes. */
static int reencode(const char *s, size_t n, char **ret) {
        _cleanup_(buf_done) Buf decoded = {}, encoded = {};
        int r;

        r = buf_append_uri_decoded(&decoded, s, n);
        if (r < 0)
                return r;
        if (decoded.error < 0)
                return decoded.error;
        buf_append_uri_encoded(&encoded, decoded.data ?: "", decoded.len);
        return buf_steal(&encoded, ret);
}

/* The query string with every parameter re-encoded, sorted by encoded name
 * and then by encoded value (byte order), joined with '&'. A parameter
 * without '=' signs as "name=", as the service sees it; empty pieces
 * ("a=1&&b=2") carry no parameter and are skipped. */
static int canonical_query(const char *query, Buf *out) {
        _cleanup_(query_params_done) QueryParams params = {};
        size_t n_max = 1;
        int r;

        if (isempty(query))
                return 0;

        for (const char *p = query; *p; p++)
                if (*p == '&')
                        n_max++;
        params.items = calloc(n_max, sizeof(QueryParam));
        if (!params.items)
                return -ENOMEM;

        for (const char *p = query; *p;) {
                size_t n = strcspn(p, "&");

                if (n > 0) {
                        const char *eq = memchr(p, '=', n);
                        size_t name_len = eq ? (size_t) (eq - p) : n;
                        QueryParam *q = &params.items[params.n++];

                        r = reencode(p, name_len, &q->name);
                        if (r < 0)
                                return r; /* NOLINT(clang-analyzer-unix.Malloc): q points into params.items, freed by params' _cleanup_, which clang 14 does not run. */
                        if (eq)
                                r = reencode(eq + 1, n - name_len - 1, &q->value);
                        else
                                r = reencode("", 0, &q->value);
                        if (r < 0)
                                return r;
                }

                p += n;
                if (*p == '&')
                        p++;
        }

        qsort(params.items, params.n, sizeof(QueryParam), query_param_compare);

        for (size_t i = 0; i < params.n; i++) {
                if (i > 0)
                        buf_append_char(out, '&');
                buf_append(out, params.items[i].name);
                buf_append_char(out, '=');
                buf_append(out, params.items[i].value);
        }
        return 0;
}

typedef struct CanonicalHeader {
        char *name;             /* lowercase */
        const char *value;      /* as given */
        size_t index;           /* position in the request, to keep duplicates in order */
} CanonicalHeader;

static int canonical_header_compare(const void *a, const void *b) {
        const CanonicalHeader *x = a, *y = b;
        int c;

        c = strcmp(x->name, y->name);
        if (c != 0)
                return c;
        return x->index < y->index ? -1 : x->index > y->index;
}

typedef struct CanonicalHeaders {
        CanonicalHeader *items;
        size_t n;
} CanonicalHeaders;

static void canonical_headers_done(CanonicalHeaders *h) {
        for (size_t i = 0; i < h->n; i++)
                free(h->items[i].name);
        h->items = mfree(h->items);
        h->n = 0;
}

/* The value without leading and trailing whitespace, each run of whitespace
 * inside (line breaks of a folded value included) turned into one space. */
static void buf_append_trimmed(Buf *b, const char *value) {
        bool pending_space = false, started = false;

        for (const char *p = value; *p; p++) {
                if (char_is_space(*p)) {
                        pending_space = started;
                        continue;
                }
                if (pending_space)
                        buf_append_char(b, ' ');
                buf_append_char(b, *p);
                pending_space = false;
                started = true;
        }
}

/* "name:value\n" for each distinct lowercase name in byte order, the values
 * of a repeated name trimmed and joined with ',' in the order they came, and
 * the names again joined with ';' for SignedHeaders. */
static int canonical_headers(const SigV4Header *headers, size_t n_headers, Buf *out, Buf *signed_headers) {
        _cleanup_(canonical_headers_done) CanonicalHeaders sorted = {};

        if (n_headers == 0)
                return 0;
        if (!headers)
                return -EINVAL;

        sorted.items = calloc(n_headers, sizeof(CanonicalHeader));
        if (!sorted.items)
                return -ENOMEM;

        for (size_t i = 0; i < n_headers; i++) {
                const char *name = headers[i].name;
                size_t len;
                char *lower;

                if (!string_is_token(name) || !headers[i].value)
                        return -EINVAL;

                len = strlen(name);
                lower = malloc(len + 1);
                if (!lower)
                        return -ENOMEM;
                for (size_t j = 0; j < len; j++)
                        lower[j] = ascii_tolower(name[j]);
                lower[len] = '\0';

                sorted.items[sorted.n++] = (CanonicalHeader) {
                        .name = lower,
                        .value = headers[i].value,
                        .index = i,
                };
        }

        qsort(sorted.items, sorted.n, sizeof(CanonicalHeader), canonical_header_compare);

        for (size_t i = 0; i < sorted.n; i++) {
                const CanonicalHeader *h = &sorted.items[i];
                bool same_as_previous = i > 0 && streq(h->name, sorted.items[i - 1].name);

                if (same_as_previous)
                        buf_append_char(out, ',');
                else {
                        if (i > 0) {
                                buf_append_char(out, '\n');
                                buf_append_char(signed_headers, ';');
                        }
                        buf_append(out, h->name);
                        buf_append_char(out, ':');
                        buf_append(signed_headers, h->name);
                }
                buf_append_trimmed(out, h->value);
        }
        buf_append_char(out, '\n');
        return 0;
}

int sigv4_canonical_request(const SigV4Request *r, char **ret_canonical_request,
                            char **ret_signed_headers) {
        _cleanup_(buf_done) Buf creq = {}, signed_headers = {};
        _cleanup_free_ char *signed_headers_string = NULL;
        char payload_hash[SIGV4_HEX_SIZE];
        int k;

        if (!r || !ret_canonical_request || !ret_signed_headers)
                return -EINVAL;
        if (!string_is_token(r->method))
                return -EINVAL;
        if (!r->payload && r->payload_size > 0)
                return -EINVAL;

        buf_append(&creq, r->method);
        buf_append_char(&creq, '\n');

        k = canonical_uri(r->path, r->normalize_path, &creq);
        if (k < 0)
                return k;
        buf_append_char(&creq, '\n');

        k = canonical_query(r->query, &creq);
        if (k < 0)
                return k;
        buf_append_char(&creq, '\n');

        k = canonical_headers(r->headers, r->n_headers, &creq, &signed_headers);
        if (k < 0)
                return k;
        buf_append_char(&creq, '\n');

        k = buf_steal(&signed_headers, &signed_headers_string);
        if (k < 0)
                return k;
        buf_append(&creq, signed_headers_string);
        buf_append_char(&creq, '\n');

        k = sha256_hex(r->payload, r->payload_size, payload_hash);
        if (k < 0)
                return k;
        buf_append(&creq, payload_hash);

        k = buf_steal(&creq, ret_canonical_request);
        if (k < 0)
                return k;
        *ret_signed_headers = TAKE_PTR(signed_headers_string);
        return 0;
}

/* "20150830/us-east-1/service/aws4_request" */
static void buf_append_scope(Buf *b, const char *amz_date, const char *region, const char *service) {
        buf_append_mem(b, amz_date, 8);
        buf_append_char(b, '/');
        buf_append(b, region);
        buf_append_char(b, '/');
        buf_append(b, service);
        buf_append_char(b, '/');
        buf_append(b, SIGV4_TERMINATOR);
}

int sigv4_string_to_sign(const char *amz_date, const char *region, const char *service,
                         const char *canonical_request, char **ret) {
        _cleanup_(buf_done) Buf sts = {};
        char hash[SIGV4_HEX_SIZE];
        int r;

        if (!amz_date_is_valid(amz_date) || !string_is_scope_component(region) ||
            !string_is_scope_component(service) || !canonical_request || !ret)
                return -EINVAL;

        r = sha256_hex(canonical_request, strlen(canonical_request), hash);
        if (r < 0)
                return r;

        buf_append(&sts, SIGV4_ALGORITHM "\n");
        buf_append(&sts, amz_date);
        buf_append_char(&sts, '\n');
        buf_append_scope(&sts, amz_date, region, service);
        buf_append_char(&sts, '\n');
        buf_append(&sts, hash);

        return buf_steal(&sts, ret);
}

/* Frees the "AWS4" + secret buffer after wiping it, so the secret does not
 * linger in freed heap memory. */
static void erase_and_freep(char **p) {
        if (*p) {
                OPENSSL_cleanse(*p, strlen(*p));
                free(*p);
        }
}

int sigv4_signing_key(const char *secret_access_key, const char *amz_date, const char *region,
                      const char *service, uint8_t ret[static SIGV4_KEY_SIZE]) {
        _cleanup_(erase_and_freep) char *k_secret = NULL;
        uint8_t k_date[SIGV4_KEY_SIZE], k_region[SIGV4_KEY_SIZE], k_service[SIGV4_KEY_SIZE],
                k_signing[SIGV4_KEY_SIZE];
        size_t len;
        int r;

        if (isempty(secret_access_key) || !amz_date_is_valid(amz_date) ||
            !string_is_scope_component(region) || !string_is_scope_component(service) || !ret)
                return -EINVAL;

        len = strlen(secret_access_key);
        if (len > SIZE_MAX - 5)
                return -EINVAL;
        k_secret = malloc(len + 5);
        if (!k_secret)
                return -ENOMEM;
        memcpy(k_secret, "AWS4", 4);
        memcpy(k_secret + 4, secret_access_key, len + 1);

        r = hmac_sha256(k_secret, len + 4, amz_date, 8, k_date);
        if (r >= 0)
                r = hmac_sha256(k_date, sizeof(k_date), region, strlen(region), k_region);
        if (r >= 0)
                r = hmac_sha256(k_region, sizeof(k_region), service, strlen(service), k_service);
        if (r >= 0)
                r = hmac_sha256(k_service, sizeof(k_service), SIGV4_TERMINATOR,
                                strlen(SIGV4_TERMINATOR), k_signing);
        if (r >= 0)
                memcpy(ret, k_signing, SIGV4_KEY_SIZE);

        OPENSSL_cleanse(k_date, sizeof(k_date));
        OPENSSL_cleanse(k_region, sizeof(k_region));
        OPENSSL_cleanse(k_service, sizeof(k_service));
        OPENSSL_cleanse(k_signing, sizeof(k_signing));
        return r;
}

int sigv4_signature(const uint8_t key[static SIGV4_KEY_SIZE], const char *string_to_sign,
                    char ret[static SIGV4_HEX_SIZE]) {
        uint8_t mac[SIGV4_KEY_SIZE];
        int r;

        if (!key || !string_to_sign || !ret)
                return -EINVAL;

        r = hmac_sha256(key, SIGV4_KEY_SIZE, string_to_sign, strlen(string_to_sign), mac);
        if (r < 0)
                return r;
        hex_encode(mac, sizeof(mac), ret);
        return 0;
}

int sigv4_authorization(const char *access_key_id, const char *amz_date, const char *region,
                        const char *service, const char *signed_headers, const char *signature,
                        char **ret) {
        _cleanup_(buf_done) Buf authz = {};

        if (!string_is_scope_component(access_key_id) || !amz_date_is_valid(amz_date) ||
            !string_is_scope_component(region) || !string_is_scope_component(service) ||
            !string_is_scope_component(signed_headers) || !string_is_scope_component(signature) || !ret)
                return -EINVAL;

        buf_append(&authz, SIGV4_ALGORITHM " Credential=");
        buf_append(&authz, access_key_id);
        buf_append_char(&authz, '/');
        buf_append_scope(&authz, amz_date, region, service);
        buf_append(&authz, ", SignedHeaders=");
        buf_append(&authz, signed_headers);
        buf_append(&authz, ", Signature=");
        buf_append(&authz, signature);

        return buf_steal(&authz, ret);
}

int sigv4_sign(const SigV4Request *r, const char *access_key_id, const char *secret_access_key,
               const char *region, const char *service, const char *amz_date, char **ret_authorization) {
        _cleanup_free_ char *canonical_request = NULL, *signed_headers = NULL, *string_to_sign = NULL;
        uint8_t key[SIGV4_KEY_SIZE];
        char signature[SIGV4_HEX_SIZE];
        int k;

        if (!ret_authorization)
                return -EINVAL;

        k = sigv4_canonical_request(r, &canonical_request, &signed_headers);
        if (k < 0)
                return k;

        k = sigv4_string_to_sign(amz_date, region, service, canonical_request, &string_to_sign);
        if (k < 0)
                return k;

        k = sigv4_signing_key(secret_access_key, amz_date, region, service, key);
        if (k < 0)
                return k;

        k = sigv4_signature(key, string_to_sign, signature);
        OPENSSL_cleanse(key, sizeof(key));
        if (k < 0)
                return k;

        return sigv4_authorization(access_key_id, amz_date, region, service, signed_headers, signature,
                                   ret_authorization);
}
