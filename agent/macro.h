/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The few helpers every module uses, in systemd's spelling: _cleanup_ for
 * scope-bound ownership, TAKE_PTR() to hand it on, negative errno returns. */

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define _unused_ __attribute__((unused))
#define _pure_ __attribute__((pure))
#define _noreturn_ __attribute__((noreturn))
#define _warn_unused_result_ __attribute__((warn_unused_result))
#define _likely_(x) (__builtin_expect(!!(x), 1))
#define _unlikely_(x) (__builtin_expect(!!(x), 0))

/* States a fact that the code guarantees but clang 14's static analyzer
 * cannot see (it models neither errno nor the sign of -e), so that it does
 * not follow paths that cannot happen. Nothing in a real build. */
#ifdef __clang_analyzer__
#  define ANALYZER_ASSUME(x) do { if (!(x)) __builtin_unreachable(); } while (0)
#else
#  define ANALYZER_ASSUME(x) do {} while (0)
#endif

#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

/* Hands over ownership: returns the pointer and leaves NULL behind, so the
 * _cleanup_ of the old owner does nothing. */
#define TAKE_PTR(p)                             \
        ({                                      \
                __typeof__(p) _ptr_ = (p);      \
                (p) = NULL;                     \
                _ptr_;                          \
        })

#define TAKE_FD(fd)                             \
        ({                                      \
                int _fd_ = (fd);                \
                (fd) = -EBADF;                  \
                _fd_;                           \
        })

/* -errno after a call that failed, or -EIO when it did not say why (some
 * libraries leave errno alone): never 0, which a caller would take for
 * success. */
static inline int negative_errno(void) {
        int r = errno > 0 ? -errno : -EIO;

        ANALYZER_ASSUME(r < 0);
        return r;
}

static inline void *mfree(void *p) {
        free(p);
        return NULL;
}

static inline void freep(void *p) {
        free(*(void **) p);
}

static inline int safe_close(int fd) {
        if (fd >= 0) {
                int saved_errno = errno;
                (void) close(fd);
                errno = saved_errno;
        }
        return -EBADF;
}

static inline void closep(int *fd) {
        (void) safe_close(*fd);
}

/* Defines name##p(type **) that calls func(*p) when *p is not NULL. A type
 * cannot be put in parentheses, hence the NOLINT. */
#define DEFINE_TRIVIAL_CLEANUP_FUNC(type, func)         \
        static inline void func##p(type *p) { /* NOLINT(bugprone-macro-parentheses) */ \
                if (*p)                                 \
                        func(*p);                       \
        }

static inline bool streq(const char *a, const char *b) {
        return strcmp(a, b) == 0;
}

static inline bool streq_ptr(const char *a, const char *b) {
        if (!a || !b)
                return a == b;
        return streq(a, b);
}

static inline bool isempty(const char *s) {
        return !s || s[0] == '\0';
}

static inline const char *strempty(const char *s) {
        return s ?: "";
}

static inline const char *strna(const char *s) {
        return s ?: "n/a";
}

/* Returns the rest of s after prefix, or NULL when s does not start with it. */
static inline const char *startswith(const char *s, const char *prefix) {
        size_t l = strlen(prefix);
        return strncmp(s, prefix, l) == 0 ? s + l : NULL;
}

/* Frees every string of a NULL-terminated vector, then the vector. */
static inline char **strv_free(char **l) {
        if (!l)
                return NULL;
        for (char **i = l; *i; i++)
                free(*i);
        free(l);
        return NULL;
}
DEFINE_TRIVIAL_CLEANUP_FUNC(char **, strv_free);

#define _cleanup_free_ _cleanup_(freep)
#define _cleanup_close_ _cleanup_(closep)
#define _cleanup_strv_free_ _cleanup_(strv_freep)

#define _fallthrough_ __attribute__((__fallthrough__))
#define assert_not_reached() abort()

#include <stdio.h>
static inline void fclosep(FILE **f) {
        if (*f)
                (void) fclose(*f);
}
#define _cleanup_fclose_ _cleanup_(fclosep)

/* Whether x equals one of the values that follow. */
#define IN_SET(x, ...)                                                          \
        ({                                                                      \
                const __typeof__(x) _in_set_values_[] = { __VA_ARGS__ };        \
                bool _in_set_found_ = false;                                    \
                for (size_t _i_ = 0; _i_ < ELEMENTSOF(_in_set_values_); _i_++)  \
                        if (_in_set_values_[_i_] == (x)) {                      \
                                _in_set_found_ = true;                          \
                                break;                                          \
                        }                                                       \
                _in_set_found_;                                                 \
        })
