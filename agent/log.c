/* SPDX-License-Identifier: Apache-2.0 */
#include <stdio.h>
#include <strings.h>

#include "log.h"

static int max_level = LOG_INFO;
static unsigned verbosity = 0;
static bool show_priority = true;

/* Secrets registered at run time: keys, tokens. A handful at most. */
static char **secrets = NULL;
static size_t n_secrets = 0;

#define REDACTED "<redacted>"

void log_set_max_level(int level) {
        max_level = level;
}

int log_get_max_level(void) {
        return max_level;
}

void log_set_verbosity(unsigned v) {
        verbosity = v;
        log_set_max_level(v == 0 ? LOG_INFO : LOG_DEBUG);
}

unsigned log_get_verbosity(void) {
        return verbosity;
}

void log_set_show_priority(bool show) {
        show_priority = show;
}

void log_register_secret(const char *secret) {
        char **n;

        if (isempty(secret))
                return;
        for (size_t i = 0; i < n_secrets; i++)
                if (streq(secrets[i], secret))
                        return;

        n = realloc(secrets, (n_secrets + 1) * sizeof(char *));
        if (!n)
                return;
        secrets = n;
        secrets[n_secrets] = strdup(secret);
        if (secrets[n_secrets])
                n_secrets++;
}

void log_forget_secrets(void) {
        for (size_t i = 0; i < n_secrets; i++) {
                /* Overwrite before freeing: secrets should not linger in freed heap. */
                explicit_bzero(secrets[i], strlen(secrets[i]));
                free(secrets[i]);
        }
        secrets = mfree(secrets);
        n_secrets = 0;
}

/* Replaces [start, start+len) of s with REDACTED, in place when it fits,
 * else shortening is impossible: REDACTED is 10 bytes, so a shorter secret is
 * replaced by asterisks of its own length. Returns the index after the
 * replacement. */
static size_t redact_span(char *s, size_t start, size_t len) {
        size_t rl = strlen(REDACTED);

        if (len >= rl) {
                /* Over the secret, in the middle of s: the NUL is s's own. */
                memcpy(s + start, REDACTED, rl); /* NOLINT(bugprone-not-null-terminated-result) */
                memmove(s + start + rl, s + start + len, strlen(s + start + len) + 1);
                return start + rl;
        }
        memset(s + start, '*', len);
        return start + len;
}

static bool is_value_end(char c) {
        return c == '\0' || c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == ',' ||
               c == '&' || c == '"' || c == ';' || c == '\'' || c == '<';
}

/* Keys whose values are secrets wherever they appear: headers, query
 * strings, JSON. The value starts after the key, optional quotes, and one
 * of ':' or '=' with optional blanks. */
static const char *const secret_keys[] = {
        "Signature",
        "X-Amz-Security-Token",
        "X-Amz-Signature",
        "x-aws-ec2-metadata-token",
        "SecretAccessKey",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "\"Token\"",
        "SessionToken",
};

static void redact_keyed_values(char *s) {
        for (size_t k = 0; k < ELEMENTSOF(secret_keys); k++) {
                size_t kl = strlen(secret_keys[k]);

                for (size_t i = 0; s[i] != '\0';) {
                        size_t j, start;

                        if (strncasecmp(s + i, secret_keys[k], kl) != 0) {
                                i++;
                                continue;
                        }
                        j = i + kl;
                        if (s[j] == '"')
                                j++;
                        while (s[j] == ' ' || s[j] == '\t')
                                j++;
                        if (s[j] != ':' && s[j] != '=') {
                                i = j;
                                continue;
                        }
                        j++;
                        while (s[j] == ' ' || s[j] == '\t' || s[j] == '"')
                                j++;
                        start = j;
                        while (!is_value_end(s[j]))
                                j++;
                        if (j == start || strncmp(s + start, REDACTED, strlen(REDACTED)) == 0) {
                                i = j;
                                continue;
                        }
                        i = redact_span(s, start, j - start);
                }
        }
}

char *log_redact(char *s) {
        if (!s)
                return s;

        for (size_t k = 0; k < n_secrets; k++) {
                size_t sl = strlen(secrets[k]);
                char *p = s;

                while ((p = strstr(p, secrets[k])))
                        p = s + redact_span(s, (size_t) (p - s), sl);
        }
        redact_keyed_values(s);
        return s;
}

/* Length of the valid UTF-8 sequence at s, 0 when it is not one. */
static size_t utf8_sequence_length(const unsigned char *s) {
        size_t n;

        if (s[0] < 0x80)
                return 1;
        if (s[0] >= 0xc2 && s[0] <= 0xdf)
                n = 2;
        else if (s[0] >= 0xe0 && s[0] <= 0xef)
                n = 3;
        else if (s[0] >= 0xf0 && s[0] <= 0xf4)
                n = 4;
        else
                return 0;
        for (size_t i = 1; i < n; i++)
                if ((s[i] & 0xc0) != 0x80)
                        return 0;
        return n;
}

/* A copy of s in which control characters and bytes that are not UTF-8
 * read as \xNN: text from devices and replies (a label, a reply body) must
 * not reach the journal as raw bytes. Newlines become spaces, so that one
 * message stays one line. */
static char *escape_unprintable(const char *s) {
        size_t len = strlen(s);
        char *out = malloc(4 * len + 1), *o = out;

        if (!out)
                return NULL;
        for (const unsigned char *p = (const unsigned char *) s; *p;) {
                size_t n = utf8_sequence_length(p);

                if (*p == '\n' || *p == '\r' || *p == '\t') {
                        *o++ = ' ';
                        p++;
                } else if (n == 0 || *p < 0x20 || *p == 0x7f) {
                        static const char hex[] = "0123456789abcdef";

                        *o++ = '\\';
                        *o++ = 'x';
                        *o++ = hex[*p >> 4];
                        *o++ = hex[*p & 15];
                        p++;
                } else {
                        memcpy(o, p, n);
                        o += n;
                        p += n;
                }
        }
        *o = '\0';
        return out;
}

int log_internal(int level, int error, const char *file, int line, const char *func,
                 const char *format, ...) {
        _cleanup_free_ char *msg = NULL, *escaped = NULL;
        int saved_errno = errno;
        va_list ap;
        int r;

        if (error < 0)
                error = -error;

        if (level > max_level) {
                errno = saved_errno;
                return -error;
        }

        /* %m in the format means strerror(error), as in systemd. */
        errno = error;
        va_start(ap, format);
        r = vasprintf(&msg, format, ap);
        va_end(ap);
        if (r < 0) {
                msg = NULL;
                errno = saved_errno;
                return -error;
        }

        log_redact(msg);

        /* One line per message: a newline inside a message would look like
         * a second message without a priority to journald. */
        escaped = escape_unprintable(msg);
        if (escaped) {
                free(msg);
                msg = TAKE_PTR(escaped);
        }

        char prefix[8] = "";
        if (show_priority)
                (void) snprintf(prefix, sizeof(prefix), "<%d>", level);

        if (verbosity >= 3)
                fprintf(stderr, "%s%s:%d %s: %s\n", prefix, file, line, func, msg);
        else
                fprintf(stderr, "%s%s\n", prefix, msg);

        errno = saved_errno;
        return -error;
}
