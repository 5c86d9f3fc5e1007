/* SPDX-License-Identifier: Apache-2.0 */
#include "macro.h"
#include "tests.h"
#include "zone-match.h"

static void test_pick_the_one_in_the_zone(void) {
        const ZoneCandidate c[] = {
                { "vol-1", "us-east-1b", "available" },
                { "vol-2", "us-east-1a", "in-use" },
        };
        size_t i = 99;

        ASSERT_OK(zone_match_pick(c, 2, "us-east-1a", &i));
        ASSERT_EQ(i, 1);
}

static void test_pick_refuses(void) {
        const ZoneCandidate two_here[] = {
                { "vol-1", "us-east-1a", "available" },
                { "vol-2", "us-east-1a", "available" },
        };
        const ZoneCandidate elsewhere[] = { { "vol-1", "us-east-1b", "available" } };
        size_t i = 99;

        ASSERT_EQ(zone_match_pick(NULL, 0, "us-east-1a", &i), -ENOENT);
        ASSERT_EQ(zone_match_pick(elsewhere, 1, "us-east-1a", &i), -EXDEV);
        ASSERT_EQ(zone_match_pick(two_here, 2, "us-east-1a", &i), -ENOTUNIQ);
        ASSERT_EQ(i, 99);
}

static void test_pick_nth_of_a_set_by_id(void) {
        const ZoneCandidate c[] = {
                { "vol-3", "us-east-1a", "available" },
                { "vol-9", "us-east-1b", "available" },
                { "vol-1", "us-east-1a", "available" },
                { "vol-2", "us-east-1a", "in-use" },
        };
        size_t i = 99;

        ASSERT_OK(zone_match_pick_nth(c, 4, "us-east-1a", 3, 0, &i));
        ASSERT_EQ(i, 2);
        ASSERT_OK(zone_match_pick_nth(c, 4, "us-east-1a", 3, 1, &i));
        ASSERT_EQ(i, 3);
        ASSERT_OK(zone_match_pick_nth(c, 4, "us-east-1a", 3, 2, &i));
        ASSERT_EQ(i, 0);
}

static void test_pick_nth_refuses_a_set_of_another_size(void) {
        const ZoneCandidate c[] = {
                { "vol-1", "us-east-1a", "available" },
                { "vol-2", "us-east-1a", "available" },
                { "vol-3", "us-east-1b", "available" },
        };
        size_t i = 99;

        ASSERT_EQ(zone_match_pick_nth(NULL, 0, "us-east-1a", 2, 0, &i), -ENOENT);
        ASSERT_EQ(zone_match_pick_nth(c, 3, "us-east-1c", 2, 0, &i), -EXDEV);
        ASSERT_EQ(zone_match_pick_nth(c, 3, "us-east-1a", 3, 0, &i), -ERANGE);
        ASSERT_EQ(zone_match_pick_nth(c, 3, "us-east-1a", 1, 0, &i), -ENOTUNIQ);
        ASSERT_EQ(i, 99);
}

static void test_format_lists_every_candidate(void) {
        const ZoneCandidate c[] = {
                { "vol-1", "us-east-1b", "available" },
                { "vol-2", NULL, NULL },
        };
        _cleanup_free_ char *s = zone_match_format(c, 2);

        ASSERT_STREQ(s, "vol-1 (us-east-1b, available), vol-2 (n/a, n/a)");
}

int main(void) {
        RUN_TEST(test_pick_the_one_in_the_zone);
        RUN_TEST(test_pick_refuses);
        RUN_TEST(test_pick_nth_of_a_set_by_id);
        RUN_TEST(test_pick_nth_refuses_a_set_of_another_size);
        RUN_TEST(test_format_lists_every_candidate);
        return tests_finish();
}
