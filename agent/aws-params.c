/* SPDX-License-Identifier: Apache-2.0 */
/* The parameters of a call and AWS's percent-encoding. */
#include <stdarg.h>
#include <stdio.h>

#include "aws.h"

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
int aws_append_encoded_pair(char **s, size_t *len, const char *name, const char *value) {
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
        /* "=" and the value, with its NUL, follow. */
        memcpy(b + *len, n, strlen(n)); /* NOLINT(bugprone-not-null-terminated-result) */
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
                r = aws_append_encoded_pair(&s, &len, p->items[i].name, p->items[i].value);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(s);
        return 0;
}

/* Accepts "http(s)://authority[/base]" and returns it without a trailing
 * slash. Queries, fragments and user names have no place in an endpoint. */