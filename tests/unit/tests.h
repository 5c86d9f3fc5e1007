/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* A minimal test harness: each test is a void function; a failed check
 * prints where and why, marks the test failed and returns from it. */

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

extern unsigned tests_run, tests_failed;
extern const char *test_current;
extern int test_current_failed;

void test_fail(const char *file, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#define ASSERT_TRUE(expr)                                                               \
        do {                                                                            \
                if (!(expr)) {                                                          \
                        test_fail(__FILE__, __LINE__, "expected true: %s", #expr);      \
                        return;                                                         \
                }                                                                       \
        } while (0)

#define ASSERT_FALSE(expr) ASSERT_TRUE(!(expr))

#define ASSERT_EQ(a, b)                                                                 \
        do {                                                                            \
                intmax_t _a = (intmax_t) (a), _b = (intmax_t) (b);                      \
                if (_a != _b) {                                                         \
                        test_fail(__FILE__, __LINE__, "%s == %s: %jd != %jd", #a, #b, _a, _b); \
                        return;                                                         \
                }                                                                       \
        } while (0)

#define ASSERT_OK(expr)                                                                 \
        do {                                                                            \
                intmax_t _r = (intmax_t) (expr);                                        \
                if (_r < 0) {                                                           \
                        test_fail(__FILE__, __LINE__, "%s failed: %s", #expr, strerror((int) -_r)); \
                        return;                                                         \
                }                                                                       \
        } while (0)

#define ASSERT_STREQ(a, b)                                                              \
        do {                                                                            \
                const char *_a = (a), *_b = (b);                                        \
                if (!_a || !_b || strcmp(_a, _b) != 0) {                                \
                        test_fail(__FILE__, __LINE__, "%s == %s:\n  got:      \"%s\"\n  expected: \"%s\"", \
                                  #a, #b, _a ? _a : "(null)", _b ? _b : "(null)");      \
                        return;                                                         \
                }                                                                       \
        } while (0)

#define ASSERT_NULL(p) ASSERT_TRUE((p) == NULL)
#define ASSERT_NOT_NULL(p) ASSERT_TRUE((p) != NULL)

/* Runs one test function and counts it. */
#define RUN_TEST(fn)                                                                    \
        do {                                                                            \
                test_current = #fn;                                                     \
                test_current_failed = 0;                                                \
                fn();                                                                   \
                tests_run++;                                                            \
                if (test_current_failed)                                                \
                        tests_failed++;                                                 \
                printf("%s %u - %s\n", test_current_failed ? "not ok" : "ok", tests_run, #fn); \
        } while (0)

/* Prints the summary; the return value is the process's exit status. */
int tests_finish(void);

/* Like RUN_TEST, for data-driven tests: runs fn(arg) as one test reported
 * under name (a string that stays valid while the test runs). */
#define RUN_TEST_WITH(name, fn, arg)                                                    \
        do {                                                                            \
                test_current = (name);                                                  \
                test_current_failed = 0;                                                \
                fn(arg);                                                                \
                tests_run++;                                                            \
                if (test_current_failed)                                                \
                        tests_failed++;                                                 \
                printf("%s %u - %s\n", test_current_failed ? "not ok" : "ok", tests_run, test_current); \
        } while (0)
