/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Log lines go to stderr with sd-daemon "<N>" priority prefixes, which
 * journald turns into priorities. Every line passes through redaction: the
 * secrets registered with log_register_secret() and anything that looks like
 * a SigV4 signature or an AWS session token never reach the output. */

#include <stdarg.h>
#include <syslog.h>

#include "macro.h"

/* LOG_INFO by default; each -v raises it one step, up to LOG_DEBUG, and
 * -v -v -v also shows HTTP traffic (still redacted) at LOG_DEBUG. */
void log_set_max_level(int level);
int log_get_max_level(void);
void log_set_verbosity(unsigned verbosity);
unsigned log_get_verbosity(void);

/* Prefix (without "<N>") for every line, and whether to write the prefix at
 * all: on a terminal a plain line reads better. */
void log_set_show_priority(bool show);

/* Remembers a secret so that it is replaced by "<redacted>" wherever it would
 * appear in a log line. The string is copied. Empty strings are ignored. */
void log_register_secret(const char *secret);
void log_forget_secrets(void);

/* Redacts secrets in s in place (same rules as log lines). Exposed so that
 * other outputs (--status, --check) go through the same filter. */
char *log_redact(char *s);

/* Returns -abs(error) (or 0 when error is 0), so that callers can write
 * "return log_error_errno(r, ...)". %m expands to strerror(error). */
int log_internal(int level, int error, const char *file, int line, const char *func,
                 const char *format, ...) _printf_(6, 7);

/* The result is computed here as well as in log_internal(), so that a
 * static analyzer, which does not look into log.c from another file, sees
 * that "return log_error_errno(r, ...)" returns a negative value. The
 * error given to the _errno variants is never 0 (an errno value, or what a
 * failed call returned; log_full() logs without one): clang 14's analyzer
 * is told so (ANALYZER_ASSUME, macro.h), as it knows neither that errno is
 * positive after a failed call nor that -e < 0 when e > 0, and would follow
 * "return log_error_errno(errno, ...)" as a success that leaves *ret
 * unset. */
#define log_full_errno(level, error, ...)                                                       \
        ({                                                                                      \
                int _log_error_ = (error), _log_result_;                                        \
                ANALYZER_ASSUME(_log_error_ != 0);                                              \
                (void) log_internal((level), _log_error_, __FILE__, __LINE__, __func__, __VA_ARGS__); \
                _log_result_ = _log_error_ < 0 ? _log_error_ : -_log_error_;                    \
                ANALYZER_ASSUME(_log_result_ < 0);                                              \
                _log_result_;                                                                   \
        })
#define log_full(level, ...) \
        (void) log_internal((level), 0, __FILE__, __LINE__, __func__, __VA_ARGS__)

#define log_debug(...) log_full(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_full(LOG_INFO, __VA_ARGS__)
#define log_notice(...) log_full(LOG_NOTICE, __VA_ARGS__)
#define log_warning(...) log_full(LOG_WARNING, __VA_ARGS__)
#define log_error(...) log_full(LOG_ERR, __VA_ARGS__)

#define log_debug_errno(error, ...) log_full_errno(LOG_DEBUG, (error), __VA_ARGS__)
#define log_info_errno(error, ...) log_full_errno(LOG_INFO, (error), __VA_ARGS__)
#define log_notice_errno(error, ...) log_full_errno(LOG_NOTICE, (error), __VA_ARGS__)
#define log_warning_errno(error, ...) log_full_errno(LOG_WARNING, (error), __VA_ARGS__)
#define log_error_errno(error, ...) log_full_errno(LOG_ERR, (error), __VA_ARGS__)

/* A fixed message for allocation failure, returning -ENOMEM. */
#define log_oom() log_error_errno(ENOMEM, "Out of memory.")
