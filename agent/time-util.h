/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdint.h>
#include <time.h>

typedef uint64_t usec_t;

#define USEC_INFINITY ((usec_t) UINT64_MAX)
#define USEC_PER_MSEC ((usec_t) 1000ULL)
#define USEC_PER_SEC ((usec_t) 1000000ULL)
#define USEC_PER_MINUTE (60ULL * USEC_PER_SEC)
#define USEC_PER_HOUR (60ULL * USEC_PER_MINUTE)

/* Deadlines are absolute CLOCK_MONOTONIC times; wall-clock times (for
 * signatures and credential expiry) are CLOCK_REALTIME. The clock is
 * clock.c's, which tests replace. */
usec_t now(clockid_t clock);

/* Adds without overflowing into a time in the past. */
usec_t usec_add(usec_t a, usec_t b);

/* Time left until deadline (0 when passed; USEC_INFINITY stays infinite). */
usec_t usec_left(usec_t deadline);

/* Parses systemd-style durations: "90s", "15min", "1h", "1min 30s", "500ms",
 * a bare number is seconds. Returns -EINVAL on anything else, -ERANGE on
 * overflow. */
int parse_duration(const char *s, usec_t *ret);

/* Formats a duration for messages, e.g. "1min 30s" or "250ms". */
const char *format_duration(char *buf, size_t size, usec_t usec);
#define FORMAT_DURATION_MAX 64
#define FORMAT_DURATION(u) format_duration((char[FORMAT_DURATION_MAX]){}, FORMAT_DURATION_MAX, (u))
