/* SPDX-License-Identifier: Apache-2.0 */

/* The SigV4 stages, one by one, against the AWS SigV4 test suite (every
 * <name>.req under the directory given as argv[1], each checked against its
 * .creq, .sts and .authz), plus edge cases the suite does not cover. */

#include <ftw.h>
#include <stdio.h>
#include <strings.h>
#include <sys/stat.h>

#include "macro.h"
#include "sigv4.h"
#include "tests.h"

#define SUITE_CASES 34
#define SUITE_ACCESS_KEY_ID "AKIDEXAMPLE"
#define SUITE_SECRET_ACCESS_KEY "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define SUITE_REGION "us-east-1"
#define SUITE_SERVICE "service"

/* get-vanilla-with-session-token's .req lacks the X-Amz-Security-Token
 * header that its .creq signs (a known gap of the AWS suite; its .sreq
 * carries the header). The test adds it, with the value from the .creq. */
#define SUITE_SESSION_TOKEN_CASE "get-vanilla-with-session-token"
#define SUITE_SESSION_TOKEN "6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267"

#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

/* Reads a whole file; the text is NUL-terminated, ret_size excludes the NUL. */
static int read_full_file(const char *path, char **ret, size_t *ret_size) {
        _cleanup_free_ char *data = NULL;
        size_t size = 0, cap = 0;
        FILE *f;
        int r = 0;

        f = fopen(path, "re");
        if (!f)
                return negative_errno();
        for (;;) {
                size_t n;

                if (cap - size < 4096) {
                        char *d = realloc(data, cap + 8192);

                        if (!d) {
                                r = -ENOMEM;
                                break;
                        }
                        data = d;
                        cap += 8192;
                }
                n = fread(data + size, 1, cap - size - 1, f);
                size += n;
                if (n == 0) {
                        if (ferror(f))
                                r = -EIO;
                        break;
                }
        }
        /* Only read: closing it cannot lose anything. */
        (void) fclose(f);
        if (r < 0)
                return r;
        data[size] = '\0';
        *ret = TAKE_PTR(data);
        if (ret_size)
                *ret_size = size;
        return 0;
}

/* An expected-output file, without the final newline some editors add. */
static int read_expected(const char *prefix, const char *suffix, char **ret) {
        _cleanup_free_ char *path = NULL, *text = NULL;
        size_t size;
        int r;

        if (asprintf(&path, "%s.%s", prefix, suffix) < 0)
                return -ENOMEM;
        r = read_full_file(path, &text, &size);
        if (r < 0)
                return r;
        while (size > 0 && text[size - 1] == '\n')
                text[--size] = '\0';
        *ret = TAKE_PTR(text);
        return 0;
}

/* A .req file parsed in place: every pointer points into text. */
typedef struct SuiteRequest {
        char *text;
        SigV4Header *headers;
        size_t n_headers;
        SigV4Request request;
} SuiteRequest;

static void suite_request_done(SuiteRequest *s) {
        s->text = mfree(s->text);
        s->headers = mfree(s->headers);
        s->n_headers = 0;
}

static int suite_request_add_header(SuiteRequest *s, const char *name, const char *value) {
        SigV4Header *h;

        h = reallocarray(s->headers, s->n_headers + 1, sizeof(SigV4Header));
        if (!h)
                return -ENOMEM;
        s->headers = h;
        s->headers[s->n_headers++] = (SigV4Header) { .name = name, .value = value };
        return 0;
}

static const char *suite_request_header(const SuiteRequest *s, const char *name) {
        for (size_t i = 0; i < s->n_headers; i++)
                if (strcasecmp(s->headers[i].name, name) == 0)
                        return s->headers[i].value;
        return NULL;
}

static char *find_last(char *haystack, const char *needle) {
        char *last = NULL;

        for (char *p = strstr(haystack, needle); p; p = strstr(p + 1, needle))
                last = p;
        return last;
}

/* "METHOD <target> HTTP/1.1", where the target may hold spaces (get-space),
 * so it ends at the last " HTTP/"; then "Name:value" lines, a line that
 * starts with whitespace continuing the value before it; then an empty line
 * and the body, or the end of the file. */
static int suite_request_parse(const char *path, SuiteRequest *ret) {
        _cleanup_(suite_request_done) SuiteRequest s = {};
        char *line, *next, *sp, *version, *q, *end_of_previous = NULL;
        size_t size;
        int r;

        r = read_full_file(path, &s.text, &size);
        if (r < 0)
                return r;

        line = s.text;
        next = strchr(line, '\n');
        if (next)
                *next++ = '\0';
        sp = strchr(line, ' ');
        version = find_last(line, " HTTP/");
        if (!sp || !version || version <= sp)
                return -EBADMSG;
        *sp = '\0';
        *version = '\0';
        s.request.method = line;
        s.request.path = sp + 1;
        q = strchr(sp + 1, '?');
        if (q) {
                *q = '\0';
                s.request.query = q + 1;
        }

        while (next) {
                char *colon;

                line = next;
                next = strchr(line, '\n');
                if (next)
                        *next++ = '\0';

                if (line[0] == '\0') {
                        /* The blank line: what follows is the body. */
                        if (next) {
                                s.request.payload = next;
                                s.request.payload_size = size - (size_t) (next - s.text);
                        }
                        break;
                }
                if (line[0] == ' ' || line[0] == '\t') {
                        /* A folded line: undo the cut before it, so that the
                         * previous value runs on across the line break. */
                        if (!end_of_previous)
                                return -EBADMSG;
                        *end_of_previous = '\n';
                        end_of_previous = next ? next - 1 : NULL;
                        continue;
                }

                colon = strchr(line, ':');
                if (!colon)
                        return -EBADMSG;
                *colon = '\0';
                r = suite_request_add_header(&s, line, colon + 1);
                if (r < 0)
                        return r;
                end_of_previous = next ? next - 1 : NULL;
        }

        s.request.normalize_path = true;
        *ret = s;
        s = (SuiteRequest) {};
        return 0;
}

static char **suite_cases = NULL;
static size_t n_suite_cases = 0;

static int collect_case(const char *fpath, const struct stat *st, int type, struct FTW *ftw) {
        size_t len = strlen(fpath);
        char **l;

        if (type != FTW_F || len < 4 || !streq(fpath + len - 4, ".req"))
                return 0;
        l = reallocarray(suite_cases, n_suite_cases + 2, sizeof(char *));
        if (!l)
                return -1;
        suite_cases = l;
        suite_cases[n_suite_cases] = strndup(fpath, len - 4);
        if (!suite_cases[n_suite_cases])
                return -1;
        suite_cases[++n_suite_cases] = NULL;
        return 0;
}

static int compare_strings(const void *a, const void *b) {
        return strcmp(*(char * const *) a, *(char * const *) b);
}

static const char *case_name(const char *prefix) {
        const char *slash = strrchr(prefix, '/');

        return slash ? slash + 1 : prefix;
}

static void test_suite_case(const char *prefix) {
        _cleanup_(suite_request_done) SuiteRequest s = {};
        _cleanup_free_ char *req_path = NULL, *creq = NULL, *sts = NULL, *authz = NULL,
                *expected_creq = NULL, *expected_sts = NULL, *expected_authz = NULL,
                *signed_headers = NULL, *authz_at_once = NULL;
        uint8_t key[SIGV4_KEY_SIZE];
        char signature[SIGV4_HEX_SIZE];
        const char *amz_date;

        ASSERT_TRUE(asprintf(&req_path, "%s.req", prefix) >= 0);
        ASSERT_OK(suite_request_parse(req_path, &s));
        if (streq(case_name(prefix), SUITE_SESSION_TOKEN_CASE) && !suite_request_header(&s, "X-Amz-Security-Token"))
                ASSERT_OK(suite_request_add_header(&s, "X-Amz-Security-Token", SUITE_SESSION_TOKEN));
        s.request.headers = s.headers;
        s.request.n_headers = s.n_headers;

        amz_date = suite_request_header(&s, "X-Amz-Date");
        ASSERT_NOT_NULL(amz_date);

        ASSERT_OK(read_expected(prefix, "creq", &expected_creq));
        ASSERT_OK(read_expected(prefix, "sts", &expected_sts));
        ASSERT_OK(read_expected(prefix, "authz", &expected_authz));

        ASSERT_OK(sigv4_canonical_request(&s.request, &creq, &signed_headers));
        ASSERT_STREQ(creq, expected_creq);

        ASSERT_OK(sigv4_string_to_sign(amz_date, SUITE_REGION, SUITE_SERVICE, creq, &sts));
        ASSERT_STREQ(sts, expected_sts);

        ASSERT_OK(sigv4_signing_key(SUITE_SECRET_ACCESS_KEY, amz_date, SUITE_REGION, SUITE_SERVICE, key));
        ASSERT_OK(sigv4_signature(key, sts, signature));
        ASSERT_OK(sigv4_authorization(SUITE_ACCESS_KEY_ID, amz_date, SUITE_REGION, SUITE_SERVICE,
                                      signed_headers, signature, &authz));
        ASSERT_STREQ(authz, expected_authz);

        ASSERT_OK(sigv4_sign(&s.request, SUITE_ACCESS_KEY_ID, SUITE_SECRET_ACCESS_KEY, SUITE_REGION,
                             SUITE_SERVICE, amz_date, &authz_at_once));
        ASSERT_STREQ(authz_at_once, expected_authz);
}

/* Line n (from 0) of a canonical request, for the single-stage tests. */
static char *line_of(const char *text, unsigned n) {
        static char line[4096];
        const char *end;
        size_t len;

        for (; n > 0 && text; n--) {
                text = strchr(text, '\n');
                if (text)
                        text++;
        }
        if (!text)
                return NULL;
        end = strchr(text, '\n');
        len = end ? (size_t) (end - text) : strlen(text);
        if (len >= sizeof(line))
                return NULL;
        memcpy(line, text, len);
        line[len] = '\0';
        return line;
}

static const SigV4Header host_only[] = {
        { "Host", "example.amazonaws.com" },
};

/* The canonical request of a GET with only a Host header. */
static int creq_of(const char *path, const char *query, bool normalize_path, char **ret) {
        _cleanup_free_ char *signed_headers = NULL;
        SigV4Request r = {
                .method = "GET",
                .path = path,
                .query = query,
                .headers = host_only,
                .n_headers = ELEMENTSOF(host_only),
                .normalize_path = normalize_path,
        };

        return sigv4_canonical_request(&r, ret, &signed_headers);
}

#define ASSERT_URI(path, expected)                                      \
        do {                                                            \
                _cleanup_free_ char *_c = NULL;                         \
                ASSERT_OK(creq_of((path), NULL, true, &_c));            \
                ASSERT_STREQ(line_of(_c, 1), (expected));               \
        } while (0)

#define ASSERT_QUERY(query, expected)                                   \
        do {                                                            \
                _cleanup_free_ char *_c = NULL;                         \
                ASSERT_OK(creq_of("/", (query), true, &_c));            \
                ASSERT_STREQ(line_of(_c, 2), (expected));               \
        } while (0)

static void test_uri_encoding(void) {
        /* Everything but the unreserved set is escaped, with uppercase hex,
         * byte by byte for UTF-8. */
        ASSERT_URI("/-._~AZaz09", "/-._~AZaz09");
        ASSERT_URI("/a b", "/a%20b");
        ASSERT_URI("/\xc3\xbc", "/%C3%BC");
        ASSERT_URI("/$&+,:;=@!*'()", "/%24%26%2B%2C%3A%3B%3D%40%21%2A%27%28%29");
        /* The wire path is encoded once more: "%20" signs as "%2520". */
        ASSERT_URI("/a%20b", "/a%2520b");
        ASSERT_URI("/%2F", "/%252F");
}

static void test_uri_normalization(void) {
        ASSERT_URI(NULL, "/");
        ASSERT_URI("", "/");
        ASSERT_URI("/", "/");
        ASSERT_URI("//", "/");
        ASSERT_URI("/a//b", "/a/b");
        ASSERT_URI("/a/b/", "/a/b/");
        ASSERT_URI("/a/./b/../c/", "/a/c/");
        ASSERT_URI("/a/b/..", "/a");
        ASSERT_URI("/../..", "/");
        ASSERT_URI("/./.", "/");
        ASSERT_URI("/..a/.b./...", "/..a/.b./...");
        /* Without normalization (S3), the path is signed as it is sent. */
        _cleanup_free_ char *c = NULL;
        ASSERT_OK(creq_of("/a/./b//c%20d", NULL, false, &c));
        ASSERT_STREQ(line_of(c, 1), "/a/./b//c%20d");
}

static void test_query_canonicalization(void) {
        ASSERT_QUERY(NULL, "");
        ASSERT_QUERY("", "");
        ASSERT_QUERY("b=2&a=1&a=0", "a=0&a=1&b=2");
        /* Byte order of the encoded names: '%' < '-' < 'B' < '_' < 'a' < '~'. */
        ASSERT_QUERY("~=1&a=2&_=3&B=4&-=5&%21=6", "%21=6&-=5&B=4&_=3&a=2&~=1");
        /* Values break ties, also in byte order. */
        ASSERT_QUERY("k=b&k=B&k=a", "k=B&k=a&k=b");
        /* A name without '=' signs as "name="; empty pieces carry nothing. */
        ASSERT_QUERY("flag", "flag=");
        ASSERT_QUERY("a=&b", "a=&b=");
        ASSERT_QUERY("&a=1&&b=2&", "a=1&b=2");
        ASSERT_QUERY("=x", "=x");
        /* Decoded, then encoded the AWS way. */
        ASSERT_QUERY("x=%7e%2f%20%41", "x=~%2F%20A");
        ASSERT_QUERY("x=a b", "x=a%20b");
        ASSERT_QUERY("x=a+b", "x=a%2Bb");
        ASSERT_QUERY("a=b=c", "a=b%3Dc");
        ASSERT_QUERY("x=%00", "x=%00");
        ASSERT_QUERY("Action=DescribeVolumes&Version=2016-11-15&Filter.1.Name=tag%3AName",
                     "Action=DescribeVolumes&Filter.1.Name=tag%3AName&Version=2016-11-15");
}

static void test_query_refuses_bad_escapes(void) {
        _cleanup_free_ char *c = NULL;

        c = strdup("untouched");
        ASSERT_NOT_NULL(c);
        ASSERT_EQ(creq_of("/", "a=%zz", true, &c), -EINVAL);
        ASSERT_EQ(creq_of("/", "a=%4", true, &c), -EINVAL);
        ASSERT_EQ(creq_of("/", "%=1", true, &c), -EINVAL);
        ASSERT_STREQ(c, "untouched");
}

static void test_header_canonicalization(void) {
        _cleanup_free_ char *creq = NULL, *signed_headers = NULL;
        static const SigV4Header headers[] = {
                { "X-Amz-Date", "20150830T123600Z" },
                { "Host", "  example.amazonaws.com \t" },
                { "my-header", "  a \t b\r\n   c  " },
                { "Empty", "" },
                { "Blank", "   " },
                { "MY-HEADER", "second" },
                { "Content-Type", "application/x-www-form-urlencoded; charset=utf-8" },
        };
        SigV4Request r = {
                .method = "POST",
                .path = "/",
                .headers = headers,
                .n_headers = ELEMENTSOF(headers),
        };

        ASSERT_OK(sigv4_canonical_request(&r, &creq, &signed_headers));
        ASSERT_STREQ(creq,
                     "POST\n"
                     "/\n"
                     "\n"
                     "blank:\n"
                     "content-type:application/x-www-form-urlencoded; charset=utf-8\n"
                     "empty:\n"
                     "host:example.amazonaws.com\n"
                     "my-header:a b c,second\n"
                     "x-amz-date:20150830T123600Z\n"
                     "\n"
                     "blank;content-type;empty;host;my-header;x-amz-date\n"
                     EMPTY_SHA256);
        ASSERT_STREQ(signed_headers, "blank;content-type;empty;host;my-header;x-amz-date");
}

static void test_canonical_request_refuses(void) {
        _cleanup_free_ char *creq = NULL, *signed_headers = NULL;
        SigV4Header bad[] = { { "Host", "example.com" }, { "bad name", "x" } };
        SigV4Request r = { .method = "GET", .path = "/", .headers = bad, .n_headers = ELEMENTSOF(bad) };

        ASSERT_EQ(sigv4_canonical_request(&r, &creq, &signed_headers), -EINVAL);
        bad[1].name = "a;b";
        ASSERT_EQ(sigv4_canonical_request(&r, &creq, &signed_headers), -EINVAL);
        bad[1].name = "";
        ASSERT_EQ(sigv4_canonical_request(&r, &creq, &signed_headers), -EINVAL);
        bad[1].name = "ok";
        bad[1].value = NULL;
        ASSERT_EQ(sigv4_canonical_request(&r, &creq, &signed_headers), -EINVAL);
        bad[1].value = "fine";
        r.method = "GE T";
        ASSERT_EQ(sigv4_canonical_request(&r, &creq, &signed_headers), -EINVAL);
        r.method = "GET";
        r.payload_size = 1;
        ASSERT_EQ(sigv4_canonical_request(&r, &creq, &signed_headers), -EINVAL);
        ASSERT_NULL(creq);
        ASSERT_NULL(signed_headers);
        r.payload_size = 0;
        ASSERT_OK(sigv4_canonical_request(&r, &creq, &signed_headers));
        ASSERT_STREQ(signed_headers, "host;ok");
}

static void test_payload_hash(void) {
        _cleanup_free_ char *creq = NULL, *signed_headers = NULL;
        char hex[SIGV4_HEX_SIZE];
        SigV4Request r = {
                .method = "POST",
                .path = "/",
                .headers = host_only,
                .n_headers = ELEMENTSOF(host_only),
                .payload = "Param1=value1",
                .payload_size = strlen("Param1=value1"),
        };

        sigv4_sha256_hex(NULL, 0, hex);
        ASSERT_STREQ(hex, EMPTY_SHA256);
        sigv4_sha256_hex("abc", 3, hex);
        ASSERT_STREQ(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");

        ASSERT_OK(sigv4_canonical_request(&r, &creq, &signed_headers));
        ASSERT_STREQ(line_of(creq, 6), "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e");
}

static void test_signing_key_known_answer(void) {
        /* The example of the AWS documentation ("Examples of how to derive a
         * signing key for Signature Version 4"). */
        uint8_t key[SIGV4_KEY_SIZE];
        char hex[SIGV4_HEX_SIZE];
        static const char expected[] = "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d";

        ASSERT_OK(sigv4_signing_key("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20120215T000000Z",
                                    "us-east-1", "iam", key));
        for (size_t i = 0; i < sizeof(key); i++) {
                static const char digits[] = "0123456789abcdef";

                hex[2 * i] = digits[key[i] >> 4];
                hex[2 * i + 1] = digits[key[i] & 0xf];
        }
        hex[64] = '\0';
        ASSERT_STREQ(hex, expected);
}

static void test_stages_refuse(void) {
        _cleanup_free_ char *s = NULL;
        uint8_t key[SIGV4_KEY_SIZE] = { 7 };

        ASSERT_EQ(sigv4_string_to_sign("2015-08-30T12:36:00Z", "us-east-1", "ec2", "x", &s), -EINVAL);
        ASSERT_EQ(sigv4_string_to_sign("20150830T123600", "us-east-1", "ec2", "x", &s), -EINVAL);
        ASSERT_EQ(sigv4_string_to_sign("20150830T123600Z", "us/east", "ec2", "x", &s), -EINVAL);
        ASSERT_EQ(sigv4_string_to_sign("20150830T123600Z", "us-east-1", "", "x", &s), -EINVAL);
        ASSERT_EQ(sigv4_string_to_sign("20150830T123600Z", "us-east-1", "ec2", NULL, &s), -EINVAL);
        ASSERT_NULL(s);
        ASSERT_EQ(sigv4_signing_key("", "20150830T123600Z", "us-east-1", "ec2", key), -EINVAL);
        ASSERT_EQ(sigv4_signing_key("secret", "", "us-east-1", "ec2", key), -EINVAL);
        ASSERT_EQ(key[0], 7);
        ASSERT_EQ(sigv4_authorization("AKID EXAMPLE", "20150830T123600Z", "us-east-1", "ec2", "host",
                                      "00", &s), -EINVAL);
        ASSERT_NULL(s);
}

static void test_string_to_sign_and_authorization(void) {
        _cleanup_free_ char *sts = NULL, *authz = NULL;

        ASSERT_OK(sigv4_string_to_sign("20150830T123600Z", "eu-west-1", "ec2", "", &sts));
        ASSERT_STREQ(sts, "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/eu-west-1/ec2/aws4_request\n"
                     EMPTY_SHA256);
        ASSERT_OK(sigv4_authorization("AKID", "20150830T123600Z", "eu-west-1", "ec2", "host;x-amz-date",
                                      "abc", &authz));
        ASSERT_STREQ(authz, "AWS4-HMAC-SHA256 Credential=AKID/20150830/eu-west-1/ec2/aws4_request, "
                     "SignedHeaders=host;x-amz-date, Signature=abc");
}

static void test_format_amz_date(void) {
        char date[SIGV4_AMZ_DATE_SIZE];

        sigv4_format_amz_date(1440938160, date);
        ASSERT_STREQ(date, "20150830T123600Z");
        sigv4_format_amz_date(0, date);
        ASSERT_STREQ(date, "19700101T000000Z");
        sigv4_format_amz_date(253402300800, date); /* the year 10000 */
        ASSERT_STREQ(date, "");
}

/* The suite has exactly this many cases: fewer means some were not found,
 * and the run would pass without checking them. */
static void test_suite_case_count(const char *dir) {
        if (n_suite_cases != SUITE_CASES)
                printf("# found %zu cases under %s\n", n_suite_cases, dir);
        ASSERT_EQ(n_suite_cases, SUITE_CASES);
}

int main(int argc, char *argv[]) {
        RUN_TEST(test_uri_encoding);
        RUN_TEST(test_uri_normalization);
        RUN_TEST(test_query_canonicalization);
        RUN_TEST(test_query_refuses_bad_escapes);
        RUN_TEST(test_header_canonicalization);
        RUN_TEST(test_canonical_request_refuses);
        RUN_TEST(test_payload_hash);
        RUN_TEST(test_signing_key_known_answer);
        RUN_TEST(test_stages_refuse);
        RUN_TEST(test_string_to_sign_and_authorization);
        RUN_TEST(test_format_amz_date);

        if (argc != 2) {
                fprintf(stderr, "Usage: %s SIGV4-TESTSUITE-DIR\n", argv[0]);
                return 2;
        }
        if (nftw(argv[1], collect_case, 16, FTW_PHYS) != 0) {
                fprintf(stderr, "Failed to read the test suite in %s.\n", argv[1]);
                return 1;
        }
        if (suite_cases)
                qsort(suite_cases, n_suite_cases, sizeof(char *), compare_strings);

        RUN_TEST_WITH("suite_case_count", test_suite_case_count, argv[1]);
        for (size_t i = 0; i < n_suite_cases; i++)
                RUN_TEST_WITH(case_name(suite_cases[i]), test_suite_case, suite_cases[i]);

        strv_free(suite_cases);
        return tests_finish();
}
