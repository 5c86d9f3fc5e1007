/* SPDX-License-Identifier: Apache-2.0 */
#include <ctype.h>
#include <stdio.h>

#include "macro.h"
#include "time-util.h"

usec_t usec_add(usec_t a, usec_t b) {
        if (a == USEC_INFINITY || b == USEC_INFINITY || a > USEC_INFINITY - b)
                return USEC_INFINITY;
        return a + b;
}

usec_t usec_left(usec_t deadline) {
        usec_t n;

        if (deadline == USEC_INFINITY)
                return USEC_INFINITY;
        n = now(CLOCK_MONOTONIC);
        return deadline > n ? deadline - n : 0;
}

static const struct {
        const char *suffix;
        usec_t usec;
} duration_units[] = {
        /* Longest suffixes that share a prefix come first. */
        { "seconds", USEC_PER_SEC },
        { "second",  USEC_PER_SEC },
        { "sec",     USEC_PER_SEC },
        { "s",       USEC_PER_SEC },
        { "minutes", USEC_PER_MINUTE },
        { "minute",  USEC_PER_MINUTE },
        { "min",     USEC_PER_MINUTE },
        { "msec",    USEC_PER_MSEC },
        { "ms",      USEC_PER_MSEC },
        { "m",       USEC_PER_MINUTE },
        { "hours",   USEC_PER_HOUR },
        { "hour",    USEC_PER_HOUR },
        { "hr",      USEC_PER_HOUR },
        { "h",       USEC_PER_HOUR },
        { "days",    24 * USEC_PER_HOUR },
        { "day",     24 * USEC_PER_HOUR },
        { "d",       24 * USEC_PER_HOUR },
        { "usec",    1 },
        { "us",      1 },
};

int parse_duration(const char *s, usec_t *ret) {
        usec_t total = 0;
        bool any = false;

        if (!s)
                return -EINVAL;

        for (const char *p = s;;) {
                unsigned long long n;
                usec_t unit = USEC_PER_SEC;
                size_t digits = 0;

                while (isspace((unsigned char) *p))
                        p++;
                if (*p == '\0')
                        break;

                if (!isdigit((unsigned char) *p))
                        return -EINVAL;
                n = 0;
                while (isdigit((unsigned char) *p)) {
                        if (n > (UINT64_MAX - 9) / 10)
                                return -ERANGE;
                        n = n * 10 + (unsigned) (*p - '0');
                        p++;
                        digits++;
                }
                if (digits == 0)
                        return -EINVAL;

                while (isspace((unsigned char) *p))
                        p++;

                if (isalpha((unsigned char) *p)) {
                        size_t len = 0;
                        bool found = false;

                        while (isalpha((unsigned char) p[len]))
                                len++;
                        for (size_t i = 0; i < ELEMENTSOF(duration_units); i++)
                                if (strlen(duration_units[i].suffix) == len &&
                                    strncmp(p, duration_units[i].suffix, len) == 0) {
                                        unit = duration_units[i].usec;
                                        found = true;
                                        break;
                                }
                        if (!found || unit == 0)
                                return -EINVAL;
                        p += len;
                } else if (any)
                        /* "1min 30" is ambiguous; systemd refuses it too. */
                        return -EINVAL;

                if (n > 0 && unit > UINT64_MAX / n)
                        return -ERANGE;
                if (total > UINT64_MAX - 1 - n * unit)
                        return -ERANGE;
                total += n * unit;
                any = true;
        }

        if (!any)
                return -EINVAL;
        *ret = total;
        return 0;
}

const char *format_duration(char *buf, size_t size, usec_t usec) {
        static const struct {
                const char *suffix;
                usec_t usec;
        } units[] = {
                { "h",   USEC_PER_HOUR },
                { "min", USEC_PER_MINUTE },
                { "s",   USEC_PER_SEC },
                { "ms",  USEC_PER_MSEC },
        };
        size_t used = 0;

        if (size == 0)
                return buf;
        buf[0] = '\0';
        if (usec == USEC_INFINITY) {
                snprintf(buf, size, "infinity");
                return buf;
        }
        if (usec < USEC_PER_MSEC) {
                snprintf(buf, size, "%lluus", (unsigned long long) usec);
                return buf;
        }
        for (size_t i = 0; i < ELEMENTSOF(units) && usec >= USEC_PER_MSEC; i++) {
                usec_t n = usec / units[i].usec;
                int k;

                if (n == 0)
                        continue;
                k = snprintf(buf + used, size - used, "%s%llu%s", used > 0 ? " " : "",
                             (unsigned long long) n, units[i].suffix);
                if (k < 0 || (size_t) k >= size - used)
                        break;
                used += (size_t) k;
                usec -= n * units[i].usec;
        }
        return buf;
}
