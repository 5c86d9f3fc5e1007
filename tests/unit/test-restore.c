/* SPDX-License-Identifier: Apache-2.0 */
/* The restore decision (restore.c): which snapshot, which parameters. */
#include <stdlib.h>

#include "restore.h"
#include "tests.h"

#define SNAP(i, st, t, gib) { .id = (char *) (i), .state = (char *) (st), .start_time = (char *) (t), .size_gib = (gib) }

static const Ec2Snapshot snapshots[] = {
        SNAP("snap-old", "completed", "2024-01-10T03:00:00.000Z", 20),
        SNAP("snap-newest-pending", "pending", "2024-01-12T03:00:00.000Z", 20),
        SNAP("snap-newest", "completed", "2024-01-11T03:00:00.000Z", 20),
        SNAP("snap-error", "error", "2024-01-13T03:00:00.000Z", 20),
};

static void test_newest_completed_snapshot(void) {
        ASSERT_STREQ(restore_newest_snapshot(snapshots, ELEMENTSOF(snapshots))->id, "snap-newest");
        ASSERT_NULL(restore_newest_snapshot(snapshots + 1, 1));
        ASSERT_NULL(restore_newest_snapshot(NULL, 0));
}

static void test_plan_from_the_lost_volume(void) {
        ConfigVolume c = { .restore = VOLUME_RESTORE_SNAPSHOT, .size_gib = 5, .volume_type = VOLUME_TYPE_GP3 };
        Ec2Volume old = { .size_gib = 30, .volume_type = (char *) "io2", .iops = 6000, .encrypted = true,
                          .kms_key_id = (char *) "arn:aws:kms:us-east-1:1:key/k" };
        RestorePlan p;

        ASSERT_OK(restore_plan_volume(&c, &old, snapshots, ELEMENTSOF(snapshots), &p));
        ASSERT_STREQ(p.snapshot->id, "snap-newest");
        ASSERT_EQ(p.size_gib, 30);
        ASSERT_STREQ(p.volume_type, "io2");
        ASSERT_EQ(p.iops, 6000);
        ASSERT_TRUE(p.encrypted);
        ASSERT_STREQ(p.kms_key_id, "arn:aws:kms:us-east-1:1:key/k");
}

static void test_plan_from_the_snapshot_then_the_section(void) {
        ConfigVolume c = { .restore = VOLUME_RESTORE_SNAPSHOT_OR_BLANK, .size_gib = 5,
                           .volume_type = VOLUME_TYPE_ST1 };
        Ec2Snapshot encrypted = SNAP("snap-e", "completed", "2024-01-11T03:00:00.000Z", 50);
        RestorePlan p;

        encrypted.encrypted = true;
        ASSERT_OK(restore_plan_volume(&c, NULL, &encrypted, 1, &p));
        ASSERT_EQ(p.size_gib, 50);
        ASSERT_TRUE(p.encrypted);
        ASSERT_STREQ(p.volume_type, "st1");

        /* No snapshot: blank, of the section's size. */
        ASSERT_OK(restore_plan_volume(&c, NULL, NULL, 0, &p));
        ASSERT_NULL(p.snapshot);
        ASSERT_EQ(p.size_gib, 5);
}

static void test_plan_refusals(void) {
        ConfigVolume c = { .restore = VOLUME_RESTORE_SNAPSHOT };
        RestorePlan p;

        /* Restore=snapshot with only a pending snapshot: nothing to restore from. */
        ASSERT_EQ(restore_plan_volume(&c, NULL, snapshots + 1, 1, &p), -ENOENT);
        /* Blank with nothing to size it by. */
        c.restore = VOLUME_RESTORE_BLANK;
        ASSERT_EQ(restore_plan_volume(&c, NULL, NULL, 0, &p), -EINVAL);
        c.restore = VOLUME_RESTORE_NO;
        ASSERT_EQ(restore_plan_volume(&c, NULL, snapshots, ELEMENTSOF(snapshots), &p), -EOPNOTSUPP);
        /* Blank ignores the snapshots. */
        c.restore = VOLUME_RESTORE_BLANK;
        c.size_gib = 8;
        ASSERT_OK(restore_plan_volume(&c, NULL, snapshots, ELEMENTSOF(snapshots), &p));
        ASSERT_NULL(p.snapshot);
}

static void test_internal_tags_and_token(void) {
        _cleanup_free_ char *t = NULL, *long_one = NULL;

        ASSERT_TRUE(restore_tag_is_internal("nodeagent:initialized"));
        ASSERT_TRUE(restore_tag_is_internal("nodeagent:replaced-by"));
        ASSERT_FALSE(restore_tag_is_internal("nodeagent:cluster"));
        ASSERT_FALSE(restore_tag_is_internal("Name"));
        /* What CloudFormation and Data Lifecycle Manager put on the volumes
         * and snapshots of the node template: EC2 refuses them in a create. */
        ASSERT_TRUE(restore_tag_is_internal("aws:cloudformation:stack-name"));
        ASSERT_TRUE(restore_tag_is_internal("aws:dlm:lifecycle-policy-id"));
        ASSERT_TRUE(restore_tag_is_internal("AWS:Anything"));
        ASSERT_FALSE(restore_tag_is_internal("dlm:managed"));
        ASSERT_FALSE(restore_tag_is_internal(NULL));
        ASSERT_OK(restore_client_token("i-0123456789abcdef0", "volume", "data", &t));
        ASSERT_STREQ(t, "nodeagent-i-0123456789abcdef0-volume-data");
        ASSERT_OK(restore_client_token("i-0123456789abcdef0", "volume",
                                       "a-very-long-section-name-of-32ch", &long_one));
        ASSERT_EQ(strlen(long_one), 64);
}

/* Three CreateSnapshots of a 2-volume set (each set: one start time), one
 * of them still pending in part, and a lone newer snapshot. */
static const Ec2Snapshot set_snapshots[] = {
        SNAP("snap-b2", "completed", "2024-01-11T03:00:00.000Z", 20),
        SNAP("snap-a1", "completed", "2024-01-10T03:00:00.000Z", 20),
        SNAP("snap-c1", "completed", "2024-01-12T03:00:00.000Z", 20),
        SNAP("snap-b1", "completed", "2024-01-11T03:00:00.000Z", 20),
        SNAP("snap-c2", "pending", "2024-01-12T03:00:00.000Z", 20),
        SNAP("snap-a2", "completed", "2024-01-10T03:00:00.000Z", 20),
        SNAP("snap-lone", "completed", "2024-01-13T03:00:00.000Z", 20),
};

static void test_newest_complete_snapshot_set(void) {
        size_t ix[3] = {};

        /* c is pending in part, the lone one is no set of 2: b, by id. */
        ASSERT_OK(restore_pick_snapshot_set(set_snapshots, ELEMENTSOF(set_snapshots), 2, NULL, ix));
        ASSERT_STREQ(set_snapshots[ix[0]].id, "snap-b1");
        ASSERT_STREQ(set_snapshots[ix[1]].id, "snap-b2");

        /* A killed boot's restore began from a: the rest comes from a. */
        ASSERT_OK(restore_pick_snapshot_set(set_snapshots, ELEMENTSOF(set_snapshots), 2,
                                            (const char *const[]) { "snap-a2", NULL }, ix));
        ASSERT_STREQ(set_snapshots[ix[0]].id, "snap-a1");
        ASSERT_STREQ(set_snapshots[ix[1]].id, "snap-a2");
        /* ... from two sets at once: none. */
        ASSERT_EQ(restore_pick_snapshot_set(set_snapshots, ELEMENTSOF(set_snapshots), 2,
                                            (const char *const[]) { "snap-a2", "snap-b1", NULL }, ix), -ENOENT);

        /* A set of 3: none is complete (every set here has 2, or a pending one). */
        ASSERT_EQ(restore_pick_snapshot_set(set_snapshots, ELEMENTSOF(set_snapshots), 3, NULL, ix), -ENOENT);
        /* A set of 1 is the newest completed snapshot alone in its start time. */
        ASSERT_OK(restore_pick_snapshot_set(set_snapshots, ELEMENTSOF(set_snapshots), 1, NULL, ix));
        ASSERT_STREQ(set_snapshots[ix[0]].id, "snap-lone");
        /* Only the pending half of c, and the completed half: no set. */
        ASSERT_EQ(restore_pick_snapshot_set(set_snapshots + 2, 3, 2, NULL, ix), -ENOENT);
        ASSERT_EQ(restore_pick_snapshot_set(NULL, 0, 2, NULL, ix), -ENOENT);
}

static void test_match_slots(void) {
        const char *const from[] = { "snap-b1", "snap-b2", "snap-b3" };
        const char *const blank[] = { RESTORE_FROM_BLANK, RESTORE_FROM_BLANK, RESTORE_FROM_BLANK };
        size_t slot[3] = {};

        /* A killed boot made the volumes of b3 and b1: they take their slots. */
        ASSERT_OK(restore_match_slots(from, 3, (const char *const[]) { "snap-b3", "snap-b1" }, 2, slot));
        ASSERT_EQ(slot[0], 2);
        ASSERT_EQ(slot[1], 0);
        /* Blank ones fill the blank slots in order. */
        ASSERT_OK(restore_match_slots(blank, 3, (const char *const[]) { "blank", "blank" }, 2, slot));
        ASSERT_EQ(slot[0], 0);
        ASSERT_EQ(slot[1], 1);
        /* One of another origin, or one too many: never a mix. */
        ASSERT_EQ(restore_match_slots(from, 3, (const char *const[]) { "snap-b1", "blank" }, 2, slot), -EXDEV);
        ASSERT_EQ(restore_match_slots(from, 3, (const char *const[]) { "snap-b1", "snap-b1" }, 2, slot), -EXDEV);
        ASSERT_EQ(restore_match_slots(from, 2, (const char *const[]) { "snap-b1", "snap-b2", "snap-b3" }, 3, slot),
                  -EXDEV);
        ASSERT_OK(restore_match_slots(from, 3, NULL, 0, slot));
}

int main(void) {
        RUN_TEST(test_newest_complete_snapshot_set);
        RUN_TEST(test_match_slots);
        RUN_TEST(test_newest_completed_snapshot);
        RUN_TEST(test_plan_from_the_lost_volume);
        RUN_TEST(test_plan_from_the_snapshot_then_the_section);
        RUN_TEST(test_plan_refusals);
        RUN_TEST(test_internal_tags_and_token);
        return tests_finish();
}
