/* SPDX-License-Identifier: Apache-2.0 */
/* Striped sets' decisions on this host, whose kernel has no md: members are
 * image files rebuilt from md superblock fixtures (raid-fixtures/, made once
 * in a VM guest by raid-fixtures/generate), read by libblkid and mdadm
 * --examine as raid_examine() reads a member, then raid_decide(). Every
 * image's bytes are the same after the decision as before: deciding writes
 * nothing.
 *
 * Needs mdadm (the Debian package); without it the tests are skipped. */
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <sys/stat.h>

#include <openssl/evp.h>

#include "fs.h"
#include "log.h"
#include "macro.h"
#include "raid.h"
#include "spawn-util.h"
#include "tests.h"

#define MD_NAME "kafka-1-stripe"
#define DEADLINE() usec_add(now(CLOCK_MONOTONIC), 60 * USEC_PER_SEC)

static char tmpdir[] = "/tmp/test-raid-XXXXXX";
static const char *fixtures;

/* ---- images -------------------------------------------------------------- */

static char *image_path(const char *name) {
        char *p;

        if (asprintf(&p, "%s/%s.img", tmpdir, name) < 0)
                return NULL;
        return p;
}

static int hex_value(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        return -1;
}

/* One "OFFSET HEX" line of a fixture into fd. */
static int write_line(int fd, const char *line) {
        _cleanup_free_ uint8_t *buf = NULL;
        const char *hex;
        char *end;
        unsigned long long offset;
        size_t n;

        errno = 0;
        offset = strtoull(line, &end, 10);
        if (errno != 0 || end == line || *end != ' ')
                return -EINVAL;
        hex = end + 1;
        n = strcspn(hex, "\n") / 2;
        buf = malloc(n ? n : 1);
        if (!buf)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                int hi = hex_value(hex[2 * i]), lo = hex_value(hex[2 * i + 1]);

                if (hi < 0 || lo < 0)
                        return -EINVAL;
                buf[i] = (uint8_t) (hi << 4 | lo);
        }
        if (pwrite(fd, buf, n, (off_t) offset) != (ssize_t) n)
                return -EIO;
        return 0;
}

/* Rebuilds fixtures/<name>.hex as the sparse image tmpdir/<name>.img. */
static int fixture_image(const char *name) {
        _cleanup_free_ char *src = NULL, *dst = NULL, *line = NULL;
        _cleanup_close_ int fd = -EBADF;
        size_t size = 0;
        FILE *f;
        int r = 0;

        if (asprintf(&src, "%s/%s.hex", fixtures, name) < 0)
                return -ENOMEM;
        dst = image_path(name);
        if (!dst)
                return -ENOMEM;
        f = fopen(src, "re");
        if (!f)
                return -errno;
        fd = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0) {
                r = -errno;
                /* Only read: closing it cannot lose anything. */
                (void) fclose(f);
                return r;
        }
        while (r >= 0 && getline(&line, &size, f) >= 0) {
                const char *s;

                if (line[0] == '#')
                        continue;
                s = startswith(line, "size ");
                if (s)
                        r = ftruncate(fd, (off_t) strtoull(s, NULL, 10)) < 0 ? -errno : 0;
                else
                        r = write_line(fd, line);
        }
        /* Only read: closing it cannot lose anything. */
        (void) fclose(f);
        return r;
}

/* A blank image, or one holding some bytes (no signature) in its first MiB,
 * where the zeros check reads every byte. */
static int plain_image(const char *name, uint64_t size, const char *what) {
        _cleanup_free_ char *path = image_path(name);
        _cleanup_close_ int fd = -EBADF;

        if (!path)
                return -ENOMEM;
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0 || ftruncate(fd, (off_t) size) < 0)
                return -errno;
        if (what && pwrite(fd, what, strlen(what), 65536) < 0)
                return -errno;
        return 0;
}

static int ext4_image(const char *name) {
        _cleanup_free_ char *path = image_path(name);
        char *argv[] = { (char *) "mkfs.ext4", (char *) "-q", (char *) "-F", NULL, NULL };
        int r;

        if (!path)
                return -ENOMEM;
        r = plain_image(name, 16 << 20, NULL);
        if (r < 0)
                return r;
        argv[3] = path;
        r = spawn(argv, DEADLINE(), LOG_DEBUG, NULL);
        return r == 0 ? 0 : -EIO;
}

static int sha256_file(const char *path, uint8_t ret[32]) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        EVP_MD_CTX *ctx;
        uint8_t buf[65536];
        unsigned len = 0;
        ssize_t n;

        if (fd < 0)
                return -errno;
        ctx = EVP_MD_CTX_new();
        if (!ctx || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
                EVP_MD_CTX_free(ctx);
                return -ENOMEM;
        }
        while ((n = read(fd, buf, sizeof(buf))) > 0)
                (void) EVP_DigestUpdate(ctx, buf, (size_t) n);
        (void) EVP_DigestFinal_ex(ctx, ret, &len);
        EVP_MD_CTX_free(ctx);
        return n < 0 ? -errno : 0;
}

/* ---- one decision over images --------------------------------------------- */

typedef struct Member {
        const char *image;              /* in tmpdir, without .img */
        int slot;                       /* -2: its index */
        bool tagged;                    /* nodeagent:initialized=<the fixture array's UUID> */
        bool started;                   /* nodeagent:format-started */
} Member;

/* The UUID of the fixtures' "kafka-1-stripe", as mdadm read it from ours-0. */
static char ours_uuid[RAID_UUID_STRING_SIZE];

static void decide_images(const Member *m, size_t n, RaidAction action, RaidRefusal refusal, int member,
                          RaidDecision *ret) {
        RaidMember members[RAID_MEMBERS_MAX];
        RaidMemberFound found[RAID_MEMBERS_MAX] = {};
        char *paths[RAID_MEMBERS_MAX] = {};
        uint8_t before[RAID_MEMBERS_MAX][32], after[32];
        static const char *const ids[] = { "vol-0aaaaaaaaaaaaaaa0", "vol-0aaaaaaaaaaaaaaa1", "vol-0aaaaaaaaaaaaaaa2" };
        int r = 0;

        for (size_t i = 0; i < n && r >= 0; i++) {
                paths[i] = image_path(m[i].image);
                members[i] = (RaidMember) {
                        .volume_id = ids[i],
                        .devnode = paths[i],
                        .slot = m[i].slot == -2 ? (int) i : m[i].slot,
                        .initialized = m[i].tagged ? ours_uuid : NULL,
                        .format_started = m[i].started,
                };
                r = sha256_file(paths[i], before[i]);
                if (r >= 0)
                        r = raid_examine(&members[i], DEADLINE(), &found[i]);
        }
        if (r >= 0)
                r = raid_decide(MD_NAME, members, found, n, true, ret);
        for (size_t i = 0; i < n; i++) {
                if (r >= 0 && sha256_file(paths[i], after) >= 0 && memcmp(before[i], after, 32) != 0)
                        r = -EUCLEAN;
                raid_member_found_done(&found[i]);
                free(paths[i]);
        }
        ASSERT_OK(r);
        printf("# %s\n", ret->message);
        ASSERT_STREQ(raid_action_to_string(ret->action), raid_action_to_string(action));
        ASSERT_STREQ(raid_refusal_to_string(ret->refusal), raid_refusal_to_string(refusal));
        ASSERT_EQ(ret->member, member);
}

#define DECIDE(action, refusal, member, ...)                                                    \
        do {                                                                                    \
                const Member _m[] = { __VA_ARGS__ };                                            \
                decide_images(_m, ELEMENTSOF(_m), (action), (refusal), (member), &d);          \
        } while (0)

#define OURS(i) { "ours-" #i, -2, true, false }

/* ---- tests --------------------------------------------------------------------- */

static void test_fixtures_read_as_md_members(void) {
        for (int i = 0; i < 3; i++) {
                _cleanup_free_ char *path = NULL;
                _cleanup_(raid_member_found_done) RaidMemberFound f = {};
                char name[16];

                (void) snprintf(name, sizeof(name), "ours-%d", i);
                path = image_path(name);
                ASSERT_NOT_NULL(path);
                ASSERT_OK(raid_examine(&(RaidMember) { .volume_id = name, .devnode = path, .slot = i },
                                       DEADLINE(), &f));
                /* libblkid: an md member; mdadm: its array, name and place. */
                ASSERT_STREQ(f.probe.type, "linux_raid_member");
                ASSERT_STREQ(f.probe.label, "any:" MD_NAME);
                ASSERT_TRUE(f.examined);
                ASSERT_STREQ(f.sb.name, "any:" MD_NAME);
                ASSERT_STREQ(f.sb.level, "raid0");
                ASSERT_STREQ(f.sb.metadata, "1.2");
                ASSERT_EQ(f.sb.raid_devices, 3);
                ASSERT_EQ(f.sb.role, i);
                ASSERT_NOT_NULL(f.sb.array_uuid);
                /* blkid's UUID of a member is the array's. */
                ASSERT_STREQ(f.probe.uuid, f.sb.array_uuid);
                if (i == 0)
                        memcpy(ours_uuid, f.sb.array_uuid, RAID_UUID_STRING_SIZE);
                ASSERT_STREQ(f.sb.array_uuid, ours_uuid);
        }
}

static void test_assemble(void) {
        _cleanup_(raid_decision_done) RaidDecision d = {};

        DECIDE(RAID_ACTION_ASSEMBLE, RAID_REFUSAL_NONE, -1, OURS(0), OURS(1), OURS(2));
        ASSERT_STREQ(d.uuid, ours_uuid);
}

static void test_assemble_by_tag_in_any_order(void) {
        _cleanup_(raid_decision_done) RaidDecision d = {};

        DECIDE(RAID_ACTION_ASSEMBLE, RAID_REFUSAL_NONE, -1,
               { "ours-2", -1, true, false }, { "ours-0", -1, true, false }, { "ours-1", -1, true, false });
}

static void test_missing_superblock(void) {
        _cleanup_(raid_decision_done) RaidDecision d = {};

        DECIDE(RAID_ACTION_REFUSE, RAID_REFUSAL_MISSING_SUPERBLOCK, 1, OURS(0), { "blank", -2, true, false },
               OURS(2));
}

static void test_foreign_filesystem(void) {
        _cleanup_(raid_decision_done) RaidDecision d = {};

        DECIDE(RAID_ACTION_REFUSE, RAID_REFUSAL_FOREIGN, 2, OURS(0), OURS(1), { "ext4", -2, true, false });
}

static void test_foreign_raw_data(void) {
        _cleanup_(raid_decision_done) RaidDecision d = {};

        DECIDE(RAID_ACTION_REFUSE, RAID_REFUSAL_NOT_ZEROS, 1, { "blank", -2, false, false },
               { "data", -2, false, false }, { "blank2", -2, false, false });
}

static void test_other_array(void) {
        _cleanup_(raid_decision_done) RaidDecision d = {};

        DECIDE(RAID_ACTION_REFUSE, RAID_REFUSAL_OTHER_ARRAY, 2, OURS(0), OURS(1), { "other-0", -2, true, false });
}

static void test_wrong_slot(void) {
        _cleanup_(raid_decision_done) RaidDecision d = {};

        /* Id= lists member 1 first. */
        DECIDE(RAID_ACTION_REFUSE, RAID_REFUSAL_WRONG_SLOT, 0, { "ours-1", 0, true, false },
               { "ours-0", 1, true, false }, OURS(2));
}

static void test_partial(void) {
        _cleanup_(raid_decision_done) RaidDecision d = {};

        DECIDE(RAID_ACTION_REFUSE, RAID_REFUSAL_PARTIAL, 0, OURS(0), OURS(1));
}

static void test_untagged(void) {
        _cleanup_(raid_decision_done) RaidDecision mine = {}, d = {};

        /* Our create, killed before the initialized tag: ours. */
        {
                const Member m[] = { { "ours-0", -2, false, true }, { "ours-1", -2, false, true },
                                     { "ours-2", -2, false, true } };

                decide_images(m, 3, RAID_ACTION_ASSEMBLE, RAID_REFUSAL_NONE, -1, &mine);
        }
        ASSERT_TRUE(mine.marks.format_started);
        /* The same superblocks without our format-started tags: not ours. */
        DECIDE(RAID_ACTION_REFUSE, RAID_REFUSAL_OTHER_ARRAY, 0, { "ours-0", -2, false, false },
               { "ours-1", -2, false, false }, { "ours-2", -2, false, false });
}

static void test_interrupted_create(void) {
        _cleanup_(raid_decision_done) RaidDecision d = {};

        DECIDE(RAID_ACTION_CREATE, RAID_REFUSAL_NONE, -1, { "ours-0", -2, false, true },
               { "blank", -2, false, true }, { "ours-2", -2, false, true });
        ASSERT_TRUE(d.recreate);
}

static void test_blank_set(void) {
        _cleanup_(raid_decision_done) RaidDecision d = {};

        DECIDE(RAID_ACTION_CREATE, RAID_REFUSAL_NONE, -1, { "blank", -2, false, false },
               { "blank2", -2, false, false }, { "blank3", -2, false, false });
        ASSERT_FALSE(d.recreate);
}

/* ---- main ----------------------------------------------------------------------- */

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        (void) st;
        (void) flag;
        (void) ftw;
        return remove(path);
}

static void cleanup_at_exit(void) {
        (void) nftw(tmpdir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int main(int argc, char *argv[]) {
        _cleanup_free_ char *mdadm = NULL;
        static const char *const names[] = { "ours-0", "ours-1", "ours-2", "other-0", "other-1" };

        if (argc < 2) {
                fprintf(stderr, "usage: test-raid FIXTURE-DIR\n");
                return 2;
        }
        fixtures = argv[1];
        if (spawn_find_program("mdadm", &mdadm) < 0) {
                printf("1..0 # SKIP needs mdadm\n");
                return 0;
        }
        log_set_max_level(LOG_DEBUG);
        if (!mkdtemp(tmpdir)) {
                perror("mkdtemp");
                return 1;
        }
        if (atexit(cleanup_at_exit) != 0) {
                perror("atexit");
                return 1;
        }
        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                if (fixture_image(names[i]) < 0) {
                        fprintf(stderr, "cannot rebuild fixture %s from %s\n", names[i], fixtures);
                        return 1;
                }
        if (plain_image("blank", 16 << 20, NULL) < 0 || plain_image("blank2", 16 << 20, NULL) < 0 ||
            plain_image("blank3", 16 << 20, NULL) < 0 ||
            plain_image("data", 16 << 20, "a database page, not a signature") < 0 || ext4_image("ext4") < 0) {
                fprintf(stderr, "cannot make the plain images\n");
                return 1;
        }

        RUN_TEST(test_fixtures_read_as_md_members);
        RUN_TEST(test_assemble);
        RUN_TEST(test_assemble_by_tag_in_any_order);
        RUN_TEST(test_missing_superblock);
        RUN_TEST(test_foreign_filesystem);
        RUN_TEST(test_foreign_raw_data);
        RUN_TEST(test_other_array);
        RUN_TEST(test_wrong_slot);
        RUN_TEST(test_partial);
        RUN_TEST(test_untagged);
        RUN_TEST(test_interrupted_create);
        RUN_TEST(test_blank_set);
        return tests_finish();
}
