/* SPDX-License-Identifier: Apache-2.0 */
/* The pure parts of striped sets: the md name, UUID spellings, what mdadm
 * --examine prints, and the decision to create, assemble or refuse. */
#include <stdio.h>

#include "raid.h"
#include "tests.h"

/* ---- the md name ------------------------------------------------------ */

static void test_md_name(void) {
        static const struct {
                const char *node, *section, *expected;
        } cases[] = {
                { "kafka-1", "data", "kafka-1-data" },
                { "i-0123456789abcdef0", "data", "i-0123456789abcdef0-data" },
                { "kafka-1", "log", "kafka-1-log" },
                /* 27 bytes: as is. */
                { "kafka-1-dataaaaaaaaaaa", "data", "kafka-1-dataaaaaaaaaaa-data" },
                /* 28 bytes: 18 of it, "-", 8 hex digits of SHA-256("kafka-1-dataaaaaaaaaaaa-data"). */
                { "elasticsearch-hot-node-12", "data", "elasticsearch-hot-fd890046" },
                { "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "log", "aaaaaaaaaaaaaaaaaa-5d7b06cb" },
                /* Bytes a device name should not hold: cleaned, and hashed so
                 * that "kafka/1" and "kafka_1" stay apart. */
                { "kafka/1", "data", "kafka_1-data-3dc74d14" },
                { ".hidden", "data", "_hidden-data-b974f37a" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *name = NULL;

                ASSERT_OK(raid_md_name(cases[i].node, cases[i].section, &name));
                ASSERT_STREQ(name, cases[i].expected);
                ASSERT_TRUE(strlen(name) <= RAID_MD_NAME_MAX);
        }
}

static void test_md_name_long_names_stay_apart(void) {
        _cleanup_free_ char *a = NULL, *b = NULL, *c = NULL;

        /* Same first bytes, different ends: different names. */
        ASSERT_OK(raid_md_name("elasticsearch-hot-node-12", "data", &a));
        ASSERT_OK(raid_md_name("elasticsearch-hot-node-13", "data", &b));
        ASSERT_OK(raid_md_name("elasticsearch-hot-node-12", "logs", &c));
        ASSERT_FALSE(streq(a, b));
        ASSERT_FALSE(streq(a, c));
        ASSERT_EQ(strlen(a), 26);

        /* UTF-8 is cleaned byte by byte, never cut into something invalid. */
        _cleanup_free_ char *u = NULL;
        ASSERT_OK(raid_md_name("n\xc3\xb8" "de", "data", &u));
        for (const char *p = u; *p; p++)
                ASSERT_TRUE((unsigned char) *p < 0x80);
        ASSERT_TRUE(strlen(u) <= RAID_MD_NAME_MAX);

        _cleanup_free_ char *x = NULL;
        ASSERT_EQ(raid_md_name("", "data", &x), -EINVAL);
        ASSERT_EQ(raid_md_name("kafka-1", NULL, &x), -EINVAL);
}

/* ---- UUIDs ------------------------------------------------------------- */

static void test_uuid(void) {
        char s[RAID_UUID_STRING_SIZE];

        ASSERT_OK(raid_uuid_normalize("a0fe419c:e3b72ffa:19c7beec:7bd0c11a", s));
        ASSERT_STREQ(s, "a0fe419c-e3b7-2ffa-19c7-beec7bd0c11a");
        ASSERT_OK(raid_uuid_normalize("A0FE419C-E3B7-2FFA-19C7-BEEC7BD0C11A", s));
        ASSERT_STREQ(s, "a0fe419c-e3b7-2ffa-19c7-beec7bd0c11a");
        ASSERT_OK(raid_uuid_to_mdadm("a0fe419c-e3b7-2ffa-19c7-beec7bd0c11a", s));
        ASSERT_STREQ(s, "a0fe419c:e3b72ffa:19c7beec:7bd0c11a");

        ASSERT_EQ(raid_uuid_normalize("a0fe419c:e3b72ffa:19c7beec", s), -EINVAL);
        ASSERT_EQ(raid_uuid_normalize("a0fe419c:e3b72ffa:19c7beec:7bd0c11a0", s), -EINVAL);
        ASSERT_EQ(raid_uuid_normalize("g0fe419c:e3b72ffa:19c7beec:7bd0c11a", s), -EINVAL);
        ASSERT_EQ(raid_uuid_normalize(NULL, s), -EINVAL);
}

/* ---- mdadm --examine ----------------------------------------------------- */

/* As mdadm 4.2 (Debian 12) prints a member of the array the VM suite
 * makes. */
static const char examine_member1[] =
        "/dev/nvme1n1:\n"
        "          Magic : a92b4efc\n"
        "        Version : 1.2\n"
        "    Feature Map : 0x0\n"
        "     Array UUID : a0fe419c:e3b72ffa:19c7beec:7bd0c11a\n"
        "           Name : any:kafka-1-data\n"
        "  Creation Time : Tue Dec  3 09:46:59 2024\n"
        "     Raid Level : raid0\n"
        "   Raid Devices : 3\n"
        "\n"
        " Avail Dev Size : 520192 sectors (254.00 MiB 266.34 MB)\n"
        "    Data Offset : 4096 sectors\n"
        "   Super Offset : 8 sectors\n"
        "   Unused Space : before=4016 sectors, after=0 sectors\n"
        "          State : clean\n"
        "    Device UUID : 07f62b1e:755f52cb:9f55fad4:43a7c46c\n"
        "\n"
        "    Update Time : Tue Dec  3 09:46:59 2024\n"
        "  Bad Block Log : 512 entries available at offset 8 sectors\n"
        "       Checksum : 7d12c7c5 - correct\n"
        "         Events : 0\n"
        "\n"
        "     Chunk Size : 512K\n"
        "\n"
        "   Device Role : Active device 1\n"
        "   Array State : AAA ('A' == active, '.' == missing, 'R' == replacing)\n";

static void test_parse_examine(void) {
        _cleanup_(raid_superblock_done) RaidSuperblock sb = {};

        ASSERT_OK(raid_parse_examine(examine_member1, &sb));
        ASSERT_STREQ(sb.metadata, "1.2");
        ASSERT_STREQ(sb.array_uuid, "a0fe419c-e3b7-2ffa-19c7-beec7bd0c11a");
        ASSERT_STREQ(sb.name, "any:kafka-1-data");
        ASSERT_STREQ(sb.level, "raid0");
        ASSERT_EQ(sb.raid_devices, 3);
        ASSERT_EQ(sb.role, 1);
        ASSERT_EQ(sb.events, 0);
}

static void test_parse_examine_others(void) {
        _cleanup_(raid_superblock_done) RaidSuperblock local = {}, spare = {}, old = {};
        RaidSuperblock none = {};

        /* The homehost note after the name is mdadm's, not the name's. */
        ASSERT_OK(raid_parse_examine("     Array UUID : 11111111:22222222:33333333:44444444\n"
                                     "           Name : web-1:0  (local to host web-1)\n"
                                     "   Device Role : spare\n", &local));
        ASSERT_STREQ(local.name, "web-1:0");
        ASSERT_EQ(local.role, -1);
        ASSERT_EQ(local.raid_devices, -1);

        ASSERT_OK(raid_parse_examine("     Array UUID : 11111111:22222222:33333333:44444444\n"
                                     "   Device Role : Replacement device 2\n", &spare));
        ASSERT_EQ(spare.role, -1);

        /* 0.90: "UUID", no name. */
        ASSERT_OK(raid_parse_examine("          Magic : a92b4efc\n"
                                     "        Version : 0.90.00\n"
                                     "           UUID : 6b8b4567:327b23c6:643c9869:66334873\n"
                                     "     Raid Level : raid1\n"
                                     "   Raid Devices : 2\n", &old));
        ASSERT_STREQ(old.metadata, "0.90.00");
        ASSERT_STREQ(old.array_uuid, "6b8b4567-327b-23c6-643c-986966334873");
        ASSERT_NULL(old.name);

        ASSERT_EQ(raid_parse_examine("mdadm: No md superblock detected on /dev/nvme1n1.\n", &none), -ENODATA);
        ASSERT_EQ(raid_parse_examine("", &none), -ENODATA);
}

/* ---- the decision -------------------------------------------------------- */

#define UUID_A "a0fe419c-e3b7-2ffa-19c7-beec7bd0c11a"
#define UUID_B "0b9c8c5e-7d7c-4c5e-9d47-2a3b4c5d6e7f"
#define NAME "kafka-1-data"

/* What a member holds, for the table below. */
typedef enum Holding {
        BLANK,                  /* no signature, zeros */
        DATA,                   /* no signature, not zeros */
        EXT4,
        LVM,
        MD_UNREADABLE,          /* blkid: md; mdadm: nothing */
        MD,                     /* our array A (name "any:kafka-1-data", raid0, 3 devices) in place .role */
} Holding;

typedef struct Member {
        Holding holds;
        int role;               /* MD: its role */
        const char *uuid;       /* MD: NULL for UUID_A */
        const char *name;       /* MD: NULL for ours */
        const char *level;      /* MD: NULL for raid0 */
        int devices;            /* MD: 0 for 3 */
        const char *metadata;   /* MD: NULL for 1.2 */
        int slot;               /* recorded slot; -2: its index (Id=) */
        const char *tag;        /* nodeagent:initialized */
        bool started;           /* nodeagent:format-started */
        bool restored;          /* restored from the node's snapshot */
} Member;

typedef struct Case {
        const char *name;
        Member m[3];
        size_t n;               /* 0: 3 */
        bool never;             /* Format=never */
        RaidAction action;
        RaidRefusal refusal;
        int member;             /* the refused member, -1 for the set */
        bool recreate;
        bool marks_initialized, marks_started;
} Case;

#define OURS(r) { .holds = MD, .role = (r), .slot = -2, .tag = UUID_A }
#define OURS_UNTAGGED(r, s) { .holds = MD, .role = (r), .slot = -2, .started = (s) }
#define EMPTY { .holds = BLANK, .slot = -2 }

static const Case cases[] = {
        { "blank set: create", { EMPTY, EMPTY, EMPTY },
          .action = RAID_ACTION_CREATE, .member = -1 },
        { "blank set, Format=never: refuse", { EMPTY, EMPTY, EMPTY }, .never = true,
          .action = RAID_ACTION_REFUSE, .refusal = RAID_REFUSAL_FORMAT_NEVER, .member = -1 },
        { "raw data on one member: refuse", { EMPTY, { .holds = DATA, .slot = -2 }, EMPTY },
          .action = RAID_ACTION_REFUSE, .refusal = RAID_REFUSAL_NOT_ZEROS, .member = 1 },
        { "a torn superblock write of ours (format-started): create",
          { { .holds = BLANK, .slot = -2, .started = true }, { .holds = DATA, .slot = -2, .started = true },
            { .holds = BLANK, .slot = -2, .started = true } },
          .action = RAID_ACTION_CREATE, .member = -1, .marks_started = true },
        { "a filesystem on one member: refuse", { EMPTY, EMPTY, { .holds = EXT4, .slot = -2 } },
          .action = RAID_ACTION_REFUSE, .refusal = RAID_REFUSAL_FOREIGN, .member = 2 },
        { "an LVM label on one member: refuse", { { .holds = LVM, .slot = -2 }, EMPTY, EMPTY },
          .action = RAID_ACTION_REFUSE, .refusal = RAID_REFUSAL_FOREIGN, .member = 0 },
        { "an md superblock mdadm cannot read: refuse", { OURS(0), { .holds = MD_UNREADABLE, .slot = -2 }, OURS(2) },
          .action = RAID_ACTION_REFUSE, .refusal = RAID_REFUSAL_FOREIGN, .member = 1 },
        { "blank but tagged initialized: refuse",
          { EMPTY, { .holds = BLANK, .slot = -2, .tag = UUID_A }, EMPTY },
          .action = RAID_ACTION_REFUSE, .refusal = RAID_REFUSAL_MISSING_SUPERBLOCK, .member = 1 },
        { "our array, tagged, in order: assemble", { OURS(0), OURS(1), OURS(2) },
          .action = RAID_ACTION_ASSEMBLE, .member = -1, .marks_initialized = true },
        { "our array, one member untagged: assemble",
          { OURS(0), { .holds = MD, .role = 1, .slot = -2 }, OURS(2) },
          .action = RAID_ACTION_ASSEMBLE, .member = -1, .marks_initialized = true },
        { "our array by Tag= (any slot), attached in another order: assemble",
          { { .holds = MD, .role = 2, .slot = -1, .tag = UUID_A }, { .holds = MD, .role = 0, .slot = -1, .tag = UUID_A },
            { .holds = MD, .role = 1, .slot = -1, .tag = UUID_A } },
          .action = RAID_ACTION_ASSEMBLE, .member = -1, .marks_initialized = true },
        { "Id= lists members in another order than the array: refuse",
          { OURS(1), OURS(0), OURS(2) },
          .action = RAID_ACTION_REFUSE, .refusal = RAID_REFUSAL_WRONG_SLOT, .member = 0 },
        { "two members claim one place: refuse",
          { { .holds = MD, .role = 0, .slot = -1, .tag = UUID_A }, { .holds = MD, .role = 0, .slot = -1, .tag = UUID_A },
            { .holds = MD, .role = 2, .slot = -1, .tag = UUID_A } },
          .action = RAID_ACTION_REFUSE, .refusal = RAID_REFUSAL_WRONG_SLOT, .member = 1 },
        { "a spare: refuse", { OURS(0), OURS(-1), OURS(2) },
          .action = RAID_ACTION_REFUSE, .refusal = RAID_REFUSAL_WRONG_SLOT, .member = 1 },
        { "a member missing its superblock: refuse", { OURS(0), EMPTY, OURS(2) },
          .action = RAID_ACTION_REFUSE, .refusal = RAID_REFUSAL_MISSING_SUPERBLOCK, .member = 1 },
        { "a member of another array: refuse",
          { OURS(0), OURS(1), { .holds = MD, .role = 2, .slot = -2, .uuid = UUID_B, .name = "any:other-data" } },
          .action = RAID_ACTION_REFUSE, .refusal = RAID_REFUSAL_OTHER_ARRAY, .member = 2 },
        { "the tags name two arrays: refuse",
          { OURS(0), OURS(1), { .holds = MD, .role = 2, .slot = -2, .tag = UUID_B } },
          .action = RAID_ACTION_REFUSE, .refusal = RAID_REFUSAL_OTHER_ARRAY, .member = 2 },
        { "a tag that holds no UUID: refuse",
          { OURS(0), { .holds = MD, .role = 1, .slot = -2, .tag = "not-a-uuid" }, OURS(2) },
          .action = RAID_ACTION_REFUSE, .refusal = RAID_REFUSAL_OTHER_ARRAY, .member = 1 },
        { "a RAID 1 with our UUID: refuse",
          { OURS(0), OURS(1), { .holds = MD, .role = 2, .slot = -2, .tag = UUID_A, .level = "raid1" } },
          .action = RAID_ACTION_REFUSE, .refusal = RAID_REFUSAL_OTHER_ARRAY, .member = 2 },
        { "metadata 0.90: refuse",
          { { .holds = MD, .role = 0, .slot = -2, .tag = UUID_A, .metadata = "0.90.00" }, OURS(1), OURS(2) },
          .action = RAID_ACTION_REFUSE, .refusal = RAID_REFUSAL_OTHER_ARRAY, .member = 0 },
        { "two of a 3-member array named: partial, refuse",
          { OURS(0), OURS(1) }, .n = 2,
          .action = RAID_ACTION_REFUSE, .refusal = RAID_REFUSAL_PARTIAL, .member = 0 },
        { "the array has 4 members, 3 named: partial, refuse",
          { { .holds = MD, .role = 0, .slot = -2, .tag = UUID_A, .devices = 4 },
            { .holds = MD, .role = 1, .slot = -2, .tag = UUID_A, .devices = 4 },
            { .holds = MD, .role = 2, .slot = -2, .tag = UUID_A, .devices = 4 } },
          .action = RAID_ACTION_REFUSE, .refusal = RAID_REFUSAL_PARTIAL, .member = 0 },
        /* Killed between mdadm --create and the initialized tag. */
        { "our array, never initialised, format-started: assemble",
          { OURS_UNTAGGED(0, true), OURS_UNTAGGED(1, true), OURS_UNTAGGED(2, true) },
          .action = RAID_ACTION_ASSEMBLE, .member = -1, .marks_started = true },
        /* Killed inside mdadm --create: some superblocks written. */
        { "our create, interrupted: create again",
          { OURS_UNTAGGED(0, true), { .holds = BLANK, .slot = -2, .started = true }, OURS_UNTAGGED(2, true) },
          .action = RAID_ACTION_CREATE, .member = -1, .recreate = true, .marks_started = true },
        { "two interrupted creates of ours (two UUIDs): create again",
          { OURS_UNTAGGED(0, true), OURS_UNTAGGED(1, true),
            { .holds = MD, .role = 2, .slot = -2, .uuid = UUID_B, .started = true } },
          .action = RAID_ACTION_CREATE, .member = -1, .recreate = true, .marks_started = true },
        { "our create, interrupted, Format=never now: refuse",
          { OURS_UNTAGGED(0, true), { .holds = BLANK, .slot = -2, .started = true }, OURS_UNTAGGED(2, true) },
          .never = true,
          .action = RAID_ACTION_REFUSE, .refusal = RAID_REFUSAL_FORMAT_NEVER, .member = -1 },
        { "named like ours but not every member format-started: not ours, refuse",
          { OURS_UNTAGGED(0, true), OURS_UNTAGGED(1, false), OURS_UNTAGGED(2, true) },
          .action = RAID_ACTION_REFUSE, .refusal = RAID_REFUSAL_OTHER_ARRAY, .member = 0 },
        { "another name, format-started: not ours, refuse",
          { { .holds = MD, .role = 0, .slot = -2, .name = "any:kafka-2-data", .started = true },
            { .holds = MD, .role = 1, .slot = -2, .name = "any:kafka-2-data", .started = true },
            { .holds = MD, .role = 2, .slot = -2, .name = "any:kafka-2-data", .started = true } },
          .action = RAID_ACTION_REFUSE, .refusal = RAID_REFUSAL_OTHER_ARRAY, .member = 0 },
        /* Restored by nodeagent from the node's snapshot set: no tag yet. */
        { "restored members, untagged, superblocks agree: assemble",
          { { .holds = MD, .role = 0, .slot = -2, .restored = true }, { .holds = MD, .role = 1, .slot = -2, .restored = true },
            { .holds = MD, .role = 2, .slot = -2, .restored = true } },
          .action = RAID_ACTION_ASSEMBLE, .member = -1, .marks_initialized = true },
        { "restored members of two arrays: refuse",
          { { .holds = MD, .role = 0, .slot = -2, .restored = true }, { .holds = MD, .role = 1, .slot = -2, .restored = true },
            { .holds = MD, .role = 2, .slot = -2, .restored = true, .uuid = UUID_B } },
          .action = RAID_ACTION_REFUSE, .refusal = RAID_REFUSAL_OTHER_ARRAY, .member = 2 },
        { "one member not restored, untagged: refuse",
          { { .holds = MD, .role = 0, .slot = -2, .restored = true }, { .holds = MD, .role = 1, .slot = -2 },
            { .holds = MD, .role = 2, .slot = -2, .restored = true } },
          .action = RAID_ACTION_REFUSE, .refusal = RAID_REFUSAL_OTHER_ARRAY, .member = 0 },
        { "an untagged array beside blank members: refuse",
          { EMPTY, { .holds = MD, .role = 1, .slot = -2, .name = "web-1:0", .uuid = UUID_B }, EMPTY },
          .action = RAID_ACTION_REFUSE, .refusal = RAID_REFUSAL_OTHER_ARRAY, .member = 1 },
};

static void make_found(const Member *m, RaidMemberFound *f) {
        *f = (RaidMemberFound) { .zeros = m->holds == BLANK, .sb = { .raid_devices = -1, .role = -1 } };
        switch (m->holds) {
        case EXT4:
                f->probe = (FsProbe) { .found = true, .type = (char *) "ext4", .usage = (char *) "filesystem" };
                break;
        case LVM:
                f->probe = (FsProbe) { .found = true, .type = (char *) "LVM2_member", .usage = (char *) "raid" };
                break;
        case MD_UNREADABLE:
                f->probe = (FsProbe) { .found = true, .type = (char *) "linux_raid_member", .usage = (char *) "raid" };
                break;
        case MD:
                f->probe = (FsProbe) { .found = true, .type = (char *) "linux_raid_member", .usage = (char *) "raid" };
                f->examined = true;
                f->sb = (RaidSuperblock) {
                        .metadata = (char *) (m->metadata ?: "1.2"),
                        .array_uuid = (char *) (m->uuid ?: UUID_A),
                        .name = (char *) (m->name ?: "any:" NAME),
                        .level = (char *) (m->level ?: "raid0"),
                        .raid_devices = m->devices ?: 3,
                        .role = m->role,
                };
                break;
        default:
                break;
        }
}

static void check_case(const Case *c) {
        _cleanup_(raid_decision_done) RaidDecision d = {};
        RaidMember members[3];
        RaidMemberFound found[3];
        static const char *const ids[] = { "vol-0aaaaaaaaaaaaaaa0", "vol-0bbbbbbbbbbbbbbb0", "vol-0ccccccccccccccc0" };
        size_t n = c->n ?: 3;

        for (size_t i = 0; i < n; i++) {
                members[i] = (RaidMember) {
                        .volume_id = ids[i],
                        .devnode = "/dev/nvme9n1",
                        .slot = c->m[i].slot == -2 ? (int) i : c->m[i].slot,
                        .initialized = c->m[i].tag,
                        .format_started = c->m[i].started,
                        .restored = c->m[i].restored,
                };
                make_found(&c->m[i], &found[i]);
        }

        ASSERT_OK(raid_decide(NAME, members, found, n, !c->never, &d));
        /* The sentence the log gets, beside the test's name. */
        printf("# %s: %s\n", c->name, d.message);
        ASSERT_STREQ(raid_action_to_string(d.action), raid_action_to_string(c->action));
        ASSERT_STREQ(raid_refusal_to_string(d.refusal), raid_refusal_to_string(c->refusal));
        ASSERT_EQ(d.member, c->member);
        ASSERT_EQ(d.recreate, c->recreate);
        ASSERT_NOT_NULL(d.message);
        if (d.action == RAID_ACTION_ASSEMBLE)
                ASSERT_STREQ(d.uuid, UUID_A);
        else
                ASSERT_NULL(d.uuid);
        if (d.action != RAID_ACTION_REFUSE) {
                ASSERT_EQ(d.marks.initialized, c->marks_initialized);
                ASSERT_EQ(d.marks.format_started, c->marks_started);
        } else
                ASSERT_TRUE(raid_refusal_to_errno(d.refusal) == -EMEDIUMTYPE ||
                            raid_refusal_to_errno(d.refusal) == -ENOTEMPTY);
}

static void test_decide_invalid(void) {
        _cleanup_(raid_decision_done) RaidDecision d = {};
        RaidMember m[2] = { { .volume_id = "vol-1", .slot = 0 }, { .volume_id = "vol-2", .slot = 2 } };
        RaidMemberFound f[2] = {};

        ASSERT_EQ(raid_decide(NAME, m, f, 0, true, &d), -EINVAL);
        ASSERT_EQ(raid_decide(NAME, m, f, RAID_MEMBERS_MAX + 1, true, &d), -EINVAL);
        /* Slot 2 of a set of 2. */
        ASSERT_EQ(raid_decide(NAME, m, f, 2, true, &d), -EINVAL);
}

static void test_members_sort(void) {
        RaidMember m[3] = {
                { .volume_id = "vol-0c" }, { .volume_id = "vol-0a" }, { .volume_id = "vol-0b" },
        };

        raid_members_sort(m, 3);
        ASSERT_STREQ(m[0].volume_id, "vol-0a");
        ASSERT_STREQ(m[1].volume_id, "vol-0b");
        ASSERT_STREQ(m[2].volume_id, "vol-0c");
}

static void test_strings(void) {
        for (int i = 0; i < _RAID_ACTION_MAX; i++)
                ASSERT_NOT_NULL(raid_action_to_string(i));
        for (int i = 0; i < _RAID_REFUSAL_MAX; i++)
                ASSERT_NOT_NULL(raid_refusal_to_string(i));
        ASSERT_NULL(raid_refusal_to_string(_RAID_REFUSAL_MAX));
        ASSERT_EQ(raid_refusal_to_errno(RAID_REFUSAL_NONE), 0);
        ASSERT_EQ(raid_refusal_to_errno(RAID_REFUSAL_NOT_ZEROS), -ENOTEMPTY);
        ASSERT_EQ(raid_refusal_to_errno(RAID_REFUSAL_WRONG_SLOT), -EMEDIUMTYPE);
}

int main(void) {
        RUN_TEST(test_md_name);
        RUN_TEST(test_md_name_long_names_stay_apart);
        RUN_TEST(test_uuid);
        RUN_TEST(test_parse_examine);
        RUN_TEST(test_parse_examine_others);
        for (size_t i = 0; i < ELEMENTSOF(cases); i++)
                RUN_TEST_WITH(cases[i].name, check_case, &cases[i]);
        RUN_TEST(test_decide_invalid);
        RUN_TEST(test_members_sort);
        RUN_TEST(test_strings);
        return tests_finish();
}
