/* SPDX-License-Identifier: Apache-2.0 */
#include "macro.h"
#include "tests.h"
#include "time-util.h"

static void test_parse_duration_units(void) {
        usec_t u;

        ASSERT_OK(parse_duration("90s", &u));
        ASSERT_EQ(u, 90 * USEC_PER_SEC);
        ASSERT_OK(parse_duration("15min", &u));
        ASSERT_EQ(u, 15 * USEC_PER_MINUTE);
        ASSERT_OK(parse_duration("1h", &u));
        ASSERT_EQ(u, USEC_PER_HOUR);
        ASSERT_OK(parse_duration("1min 30s", &u));
        ASSERT_EQ(u, 90 * USEC_PER_SEC);
        ASSERT_OK(parse_duration("1min30s", &u));
        ASSERT_EQ(u, 90 * USEC_PER_SEC);
        ASSERT_OK(parse_duration("42", &u));
        ASSERT_EQ(u, 42 * USEC_PER_SEC);
        ASSERT_OK(parse_duration(" 250ms ", &u));
        ASSERT_EQ(u, 250 * USEC_PER_MSEC);
        ASSERT_OK(parse_duration("0", &u));
        ASSERT_EQ(u, 0);
}

static void test_parse_duration_refuses(void) {
        usec_t u = 7;

        ASSERT_EQ(parse_duration("", &u), -EINVAL);
        ASSERT_EQ(parse_duration("   ", &u), -EINVAL);
        ASSERT_EQ(parse_duration("abc", &u), -EINVAL);
        ASSERT_EQ(parse_duration("10 parsecs", &u), -EINVAL);
        ASSERT_EQ(parse_duration("-5s", &u), -EINVAL);
        ASSERT_EQ(parse_duration("1min 30", &u), -EINVAL);
        ASSERT_EQ(parse_duration("1.5s", &u), -EINVAL);
        ASSERT_EQ(parse_duration("99999999999999999999s", &u), -ERANGE);
        ASSERT_EQ(parse_duration("999999999999999h", &u), -ERANGE);
        /* Untouched on failure. */
        ASSERT_EQ(u, 7);
}

static void test_format_duration(void) {
        ASSERT_STREQ(FORMAT_DURATION(90 * USEC_PER_SEC), "1min 30s");
        ASSERT_STREQ(FORMAT_DURATION(250 * USEC_PER_MSEC), "250ms");
        ASSERT_STREQ(FORMAT_DURATION(USEC_PER_HOUR + USEC_PER_SEC), "1h 1s");
        ASSERT_STREQ(FORMAT_DURATION(USEC_INFINITY), "infinity");
}

static void test_usec_add(void) {
        ASSERT_EQ(usec_add(1, 2), 3);
        ASSERT_TRUE(usec_add(USEC_INFINITY - 1, 5) == USEC_INFINITY);
        ASSERT_TRUE(usec_left(USEC_INFINITY) == USEC_INFINITY);
        ASSERT_EQ(usec_left(1), 0);
}

int main(void) {
        RUN_TEST(test_parse_duration_units);
        RUN_TEST(test_parse_duration_refuses);
        RUN_TEST(test_format_duration);
        RUN_TEST(test_usec_add);
        return tests_finish();
}
