/* SPDX-License-Identifier: Apache-2.0 */
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>

#include "exit-status.h"
#include "fs.h"
#include "log.h"
#include "macro.h"
#include "tests.h"

/* ---- the format decision table --------------------------------------- */

/* What a probe can find, as far as the decision is concerned. */
typedef enum Found {
        FOUND_NOTHING,
        FOUND_AMBIVALENT,
        FOUND_EXT4,
        FOUND_XFS,
        FOUND_BTRFS,
        FOUND_LUKS,
        FOUND_LVM,
        FOUND_RAID,
        FOUND_SWAP,
        FOUND_DOS_TABLE,
        FOUND_GPT_TABLE,
        FOUND_EXT4_AND_GPT,     /* a filesystem and a table at once */
        FOUND_XFS_BAD_USAGE,    /* the right name with a usage that is not "filesystem" */
        _FOUND_MAX,
} Found;

static const char *const found_name[_FOUND_MAX] = {
        [FOUND_NOTHING] = "nothing",
        [FOUND_AMBIVALENT] = "ambivalent",
        [FOUND_EXT4] = "ext4",
        [FOUND_XFS] = "xfs",
        [FOUND_BTRFS] = "btrfs",
        [FOUND_LUKS] = "luks",
        [FOUND_LVM] = "lvm",
        [FOUND_RAID] = "raid",
        [FOUND_SWAP] = "swap",
        [FOUND_DOS_TABLE] = "dos",
        [FOUND_GPT_TABLE] = "gpt",
        [FOUND_EXT4_AND_GPT] = "ext4+gpt",
        [FOUND_XFS_BAD_USAGE] = "xfs-usage-other",
};

static FsProbe make_probe(Found f) {
        FsProbe p = { .found = f != FOUND_NOTHING };

        switch (f) {
        case FOUND_AMBIVALENT:
                p.ambivalent = true;
                break;
        case FOUND_EXT4:
                p.type = (char *) "ext4";
                p.usage = (char *) "filesystem";
                p.uuid = (char *) "0b9c8c5e-7d7c-4c5e-9d47-2a3b4c5d6e7f";
                p.label = (char *) "kafka-1";
                break;
        case FOUND_XFS:
                p.type = (char *) "xfs";
                p.usage = (char *) "filesystem";
                p.uuid = (char *) "5a1e0c9d-1111-2222-3333-444455556666";
                break;
        case FOUND_BTRFS:
                p.type = (char *) "btrfs";
                p.usage = (char *) "filesystem";
                break;
        case FOUND_LUKS:
                p.type = (char *) "crypto_LUKS";
                p.usage = (char *) "crypto";
                p.version = (char *) "2";
                break;
        case FOUND_LVM:
                p.type = (char *) "LVM2_member";
                p.usage = (char *) "raid";
                break;
        case FOUND_RAID:
                p.type = (char *) "linux_raid_member";
                p.usage = (char *) "raid";
                p.version = (char *) "0.90.0";
                p.has_offset = true;
                p.offset = 104792064;
                break;
        case FOUND_SWAP:
                p.type = (char *) "swap";
                p.usage = (char *) "other";
                break;
        case FOUND_DOS_TABLE:
                p.pttype = (char *) "dos";
                break;
        case FOUND_GPT_TABLE:
                p.pttype = (char *) "gpt";
                p.ptuuid = (char *) "c0ffee00-0000-4000-8000-000000000001";
                break;
        case FOUND_EXT4_AND_GPT:
                p.type = (char *) "ext4";
                p.usage = (char *) "filesystem";
                p.pttype = (char *) "gpt";
                break;
        case FOUND_XFS_BAD_USAGE:
                p.type = (char *) "xfs";
                p.usage = (char *) "other";
                break;
        default:
                break;
        }
        return p;
}

#define ANY (-1)

/* The rules that protect data (DESIGN.md), as a table read top down: the
 * first row that matches a case gives its expected outcome. "same" is the
 * probe showing exactly the configured filesystem, "other" another
 * filesystem. Written from the design, not from the code. */
typedef enum Kind {
        KIND_NOTHING,
        KIND_SAME,
        KIND_OTHER_FS,
        KIND_NOT_A_FILESYSTEM,
        KIND_TABLE,
        KIND_AMBIVALENT,
} Kind;

static const struct {
        Kind kind;
        int policy, zeros, tagged, started;   /* tagged: initialized; started: format-started */
        FsAction action;
        FsRefusal refusal;
} rules[] = {
        { KIND_AMBIVALENT,        ANY,             ANY, ANY, ANY, FS_ACTION_REFUSE, FS_REFUSAL_AMBIVALENT },
        { KIND_TABLE,             ANY,             ANY, ANY, ANY, FS_ACTION_REFUSE, FS_REFUSAL_PARTITION_TABLE },
        { KIND_OTHER_FS,          ANY,             ANY, ANY, ANY, FS_ACTION_REFUSE, FS_REFUSAL_OTHER_FILESYSTEM },
        { KIND_NOT_A_FILESYSTEM,  ANY,             ANY, ANY, ANY, FS_ACTION_REFUSE, FS_REFUSAL_SIGNATURE },
        { KIND_SAME,              ANY,             ANY, ANY, ANY, FS_ACTION_MOUNT,  FS_REFUSAL_NONE },
        { KIND_NOTHING,           ANY,             ANY, 1,   ANY, FS_ACTION_REFUSE, FS_REFUSAL_TAGGED_NO_FILESYSTEM },
        { KIND_NOTHING,           ANY,             0,   0,   0,   FS_ACTION_REFUSE, FS_REFUSAL_NOT_ZEROS },
        { KIND_NOTHING,           FORMAT_NEVER,    ANY, 0,   ANY, FS_ACTION_REFUSE, FS_REFUSAL_BLANK_FORMAT_NEVER },
        { KIND_NOTHING,           FORMAT_IF_BLANK, 1,   0,   ANY, FS_ACTION_FORMAT, FS_REFUSAL_NONE },
        /* Our own mkfs, interrupted: its blocks, no superblock yet. */
        { KIND_NOTHING,           FORMAT_IF_BLANK, 0,   0,   1,   FS_ACTION_FORMAT, FS_REFUSAL_NONE },
};

static Kind kind_of(Found f, FileSystem fs) {
        switch (f) {
        case FOUND_NOTHING:
                return KIND_NOTHING;
        case FOUND_AMBIVALENT:
                return KIND_AMBIVALENT;
        case FOUND_EXT4:
                return fs == FILESYSTEM_EXT4 ? KIND_SAME : KIND_OTHER_FS;
        case FOUND_XFS:
                return fs == FILESYSTEM_XFS ? KIND_SAME : KIND_OTHER_FS;
        case FOUND_BTRFS:
                return KIND_OTHER_FS;
        case FOUND_DOS_TABLE:
        case FOUND_GPT_TABLE:
        case FOUND_EXT4_AND_GPT:
                return KIND_TABLE;
        default:
                return KIND_NOT_A_FILESYSTEM;
        }
}

static unsigned cases_checked = 0;

static void test_decision_table(void) {
        for (int f = 0; f < _FOUND_MAX; f++)
        for (int fs = 0; fs < _FILESYSTEM_MAX; fs++)
        for (int policy = 0; policy < _FORMAT_MAX; policy++)
        for (int zeros = 0; zeros <= 1; zeros++)
        for (int tagged = 0; tagged <= 1; tagged++)
        for (int started = 0; started <= 1; started++) {
                _cleanup_(fs_decision_done) FsDecision d = {};
                FsProbe p = make_probe((Found) f);
                FsVolumeMarks marks = { .initialized = tagged, .format_started = started };
                Kind k = kind_of((Found) f, (FileSystem) fs);
                size_t i;

                for (i = 0; i < ELEMENTSOF(rules); i++)
                        if (rules[i].kind == k &&
                            (rules[i].policy == ANY || rules[i].policy == policy) &&
                            (rules[i].zeros == ANY || rules[i].zeros == zeros) &&
                            (rules[i].tagged == ANY || rules[i].tagged == tagged) &&
                            (rules[i].started == ANY || rules[i].started == started))
                                break;
                /* Every case is covered by the table. */
                if (i == ELEMENTSOF(rules))
                        printf("# no rule for %s fs=%d policy=%d zeros=%d tagged=%d started=%d\n",
                               found_name[f], fs, policy, zeros, tagged, started);
                ASSERT_TRUE(i < ELEMENTSOF(rules));

                ASSERT_OK(fs_format_decision((FormatPolicy) policy, (FileSystem) fs, &p, zeros, &marks, &d));
                if (d.action != rules[i].action || d.refusal != rules[i].refusal)
                        printf("# %s fs=%s policy=%s zeros=%d tagged=%d started=%d: got %s/%s: %s\n",
                               found_name[f], filesystem_to_string(fs), format_policy_to_string(policy), zeros,
                               tagged, started, fs_action_to_string(d.action), fs_refusal_to_string(d.refusal),
                               d.message);
                ASSERT_EQ(d.action, rules[i].action);
                ASSERT_EQ(d.refusal, rules[i].refusal);
                ASSERT_NOT_NULL(d.message);
                ASSERT_TRUE(strlen(d.message) > 10);
                /* Refusals are exit status 5, nothing else is a refusal. */
                if (d.action == FS_ACTION_REFUSE)
                        ASSERT_TRUE(fs_error_is_refusal(fs_refusal_to_errno(d.refusal)));
                else
                        ASSERT_EQ(fs_refusal_to_errno(d.refusal), 0);
                cases_checked++;
        }

        ASSERT_EQ(cases_checked, _FOUND_MAX * _FILESYSTEM_MAX * _FORMAT_MAX * 2 * 2 * 2);
        printf("# %u cases\n", cases_checked);
}

/* FORMAT is reachable in exactly two ways: a blank volume, or one that
 * holds only our own interrupted mkfs; never on an initialised volume,
 * never with a signature, never under Format=never. */
static void test_format_only_when_blank(void) {
        unsigned formats = 0, redos = 0;

        for (int f = 0; f < _FOUND_MAX; f++)
        for (int policy = 0; policy < _FORMAT_MAX; policy++)
        for (int zeros = 0; zeros <= 1; zeros++)
        for (int tagged = 0; tagged <= 1; tagged++)
        for (int started = 0; started <= 1; started++) {
                _cleanup_(fs_decision_done) FsDecision d = {};
                FsProbe p = make_probe((Found) f);
                FsVolumeMarks marks = { .initialized = tagged, .format_started = started };

                ASSERT_OK(fs_format_decision((FormatPolicy) policy, FILESYSTEM_EXT4, &p, zeros, &marks, &d));
                if (d.action != FS_ACTION_FORMAT)
                        continue;
                formats++;
                ASSERT_EQ(f, FOUND_NOTHING);
                ASSERT_EQ(policy, FORMAT_IF_BLANK);
                ASSERT_FALSE(tagged);
                if (!zeros) {
                        ASSERT_TRUE(started);
                        redos++;
                }
        }
        ASSERT_EQ(formats, 3);  /* zeros (started or not), and not zeros but started */
        ASSERT_EQ(redos, 1);
}

static void test_decision_messages(void) {
        struct {
                Found found;
                FileSystem fs;
                FormatPolicy policy;
                bool zeros, tagged;
                const char *needle;
                bool started;
        } cases[] = {
                { FOUND_LUKS, FILESYSTEM_EXT4, FORMAT_IF_BLANK, true, false, "a crypto_LUKS signature (crypto), version 2", false },
                { FOUND_RAID, FILESYSTEM_XFS, FORMAT_IF_BLANK, true, false, "a linux_raid_member signature (raid)", false },
                { FOUND_RAID, FILESYSTEM_XFS, FORMAT_IF_BLANK, true, false, "at offset 104792064", false },
                { FOUND_GPT_TABLE, FILESYSTEM_EXT4, FORMAT_IF_BLANK, true, false, "a gpt partition table", false },
                { FOUND_EXT4_AND_GPT, FILESYSTEM_EXT4, FORMAT_IF_BLANK, true, false, "an ext4 filesystem and a gpt partition table", false },
                { FOUND_XFS, FILESYSTEM_EXT4, FORMAT_IF_BLANK, true, false, "but FileSystem=ext4", false },
                { FOUND_EXT4, FILESYSTEM_EXT4, FORMAT_NEVER, false, true, "UUID 0b9c8c5e-7d7c-4c5e-9d47-2a3b4c5d6e7f", false },
                { FOUND_AMBIVALENT, FILESYSTEM_EXT4, FORMAT_IF_BLANK, true, false, "several signatures", false },
                { FOUND_NOTHING, FILESYSTEM_EXT4, FORMAT_IF_BLANK, true, true, "tagged nodeagent:initialized", false },
                { FOUND_NOTHING, FILESYSTEM_EXT4, FORMAT_IF_BLANK, false, false, "does not read as zeros", false },
                { FOUND_NOTHING, FILESYSTEM_XFS, FORMAT_NEVER, true, false, "blank and Format=never", false },
                { FOUND_NOTHING, FILESYSTEM_XFS, FORMAT_IF_BLANK, true, false, "creating an xfs filesystem", false },
                { FOUND_NOTHING, FILESYSTEM_EXT4, FORMAT_IF_BLANK, false, false, "was interrupted", true },
                { FOUND_NOTHING, FILESYSTEM_EXT4, FORMAT_NEVER, false, false, "interrupted mkfs", true },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_(fs_decision_done) FsDecision d = {};
                FsProbe p = make_probe(cases[i].found);
                FsVolumeMarks marks = { .initialized = cases[i].tagged, .format_started = cases[i].started };

                ASSERT_OK(fs_format_decision(cases[i].policy, cases[i].fs, &p, cases[i].zeros, &marks, &d));
                if (!strstr(d.message, cases[i].needle))
                        printf("# message \"%s\" lacks \"%s\"\n", d.message, cases[i].needle);
                ASSERT_NOT_NULL(strstr(d.message, cases[i].needle));
        }
}

static void test_decision_invalid(void) {
        FsDecision d = { .action = FS_ACTION_MOUNT };
        FsProbe p = make_probe(FOUND_NOTHING);
        const FsVolumeMarks m = {};

        ASSERT_EQ(fs_format_decision(_FORMAT_INVALID, FILESYSTEM_EXT4, &p, true, &m, &d), -EINVAL);
        ASSERT_EQ(fs_format_decision(_FORMAT_MAX, FILESYSTEM_EXT4, &p, true, &m, &d), -EINVAL);
        ASSERT_EQ(fs_format_decision(FORMAT_IF_BLANK, _FILESYSTEM_MAX, &p, true, &m, &d), -EINVAL);
        ASSERT_EQ(fs_format_decision(FORMAT_IF_BLANK, FILESYSTEM_EXT4, NULL, true, &m, &d), -EINVAL);
        /* Untouched on failure. */
        ASSERT_EQ(d.action, FS_ACTION_MOUNT);
        ASSERT_NULL(d.message);
}

static void test_refusal_errno(void) {
        ASSERT_EQ(fs_refusal_to_errno(FS_REFUSAL_NONE), 0);
        ASSERT_EQ(fs_refusal_to_errno(FS_REFUSAL_NOT_ZEROS), -ENOTEMPTY);
        ASSERT_EQ(fs_refusal_to_errno(FS_REFUSAL_TAGGED_NO_FILESYSTEM), -ENOTEMPTY);
        ASSERT_EQ(fs_refusal_to_errno(FS_REFUSAL_SIGNATURE), -EMEDIUMTYPE);
        ASSERT_EQ(fs_refusal_to_errno(FS_REFUSAL_PARTITION_TABLE), -EMEDIUMTYPE);
        ASSERT_EQ(fs_refusal_to_errno(FS_REFUSAL_BLANK_FORMAT_NEVER), -EMEDIUMTYPE);
        for (int r = 1; r < _FS_REFUSAL_MAX; r++) {
                ASSERT_TRUE(fs_error_is_refusal(fs_refusal_to_errno((FsRefusal) r)));
                ASSERT_NOT_NULL(fs_refusal_to_string((FsRefusal) r));
        }
        ASSERT_NULL(fs_refusal_to_string(_FS_REFUSAL_MAX));
        ASSERT_STREQ(fs_action_to_string(FS_ACTION_FORMAT), "format");
        ASSERT_NULL(fs_action_to_string(_FS_ACTION_MAX));
        /* fs_check's and fs_mount's corruption errno is exit status 5 too. */
        ASSERT_TRUE(fs_error_is_refusal(-EUCLEAN));
}

static void test_probe_describe(void) {
        FsProbe p = make_probe(FOUND_EXT4);
        _cleanup_free_ char *a = NULL, *b = NULL, *c = NULL;

        a = fs_probe_describe(&p);
        ASSERT_STREQ(a, "an ext4 filesystem, UUID 0b9c8c5e-7d7c-4c5e-9d47-2a3b4c5d6e7f, label \"kafka-1\"");
        p = make_probe(FOUND_NOTHING);
        b = fs_probe_describe(&p);
        ASSERT_STREQ(b, "no signature");
        p = make_probe(FOUND_DOS_TABLE);
        c = fs_probe_describe(&p);
        ASSERT_STREQ(c, "a dos partition table");
}

/* ---- labels and superblocks ------------------------------------------ */

static void test_label(void) {
        _cleanup_free_ char *a = NULL, *b = NULL, *c = NULL, *d = NULL, *e = NULL;

        ASSERT_OK(fs_label_from_name(FILESYSTEM_EXT4, "kafka-1", &a));
        ASSERT_STREQ(a, "kafka-1");
        ASSERT_OK(fs_label_from_name(FILESYSTEM_EXT4, "i-0123456789abcdef0", &b));
        ASSERT_STREQ(b, "i-0123456789abcd");
        ASSERT_OK(fs_label_from_name(FILESYSTEM_XFS, "i-0123456789abcdef0", &c));
        ASSERT_STREQ(c, "i-0123456789");
        /* "elasticsearch-" then a two-byte character across the cut. */
        ASSERT_OK(fs_label_from_name(FILESYSTEM_EXT4, "elasticsearch-\xc3\xa9t\xc3\xa9", &d));
        ASSERT_STREQ(d, "elasticsearch-\xc3\xa9");
        ASSERT_OK(fs_label_from_name(FILESYSTEM_XFS, "mongodb-nod\xc3\xa9", &e));
        ASSERT_STREQ(e, "mongodb-nod");
        ASSERT_EQ(fs_label_from_name(_FILESYSTEM_MAX, "x", &e), -EINVAL);
}

static void put_le16(uint8_t *p, uint16_t v) {
        p[0] = (uint8_t) v;
        p[1] = (uint8_t) (v >> 8);
}

static void put_le32(uint8_t *p, uint32_t v) {
        for (int i = 0; i < 4; i++)
                p[i] = (uint8_t) (v >> (8 * i));
}

static void put_be32(uint8_t *p, uint32_t v) {
        for (int i = 0; i < 4; i++)
                p[i] = (uint8_t) (v >> (24 - 8 * i));
}

static void test_superblock_size(void) {
        uint8_t buf[4096] = {};
        uint64_t size = 0;

        /* ext4, 4 KiB blocks, 16384 blocks. */
        put_le16(buf + 1024 + 0x38, 0xEF53);
        put_le32(buf + 1024 + 0x18, 2);
        put_le32(buf + 1024 + 0x04, 16384);
        ASSERT_OK(fs_superblock_size(FILESYSTEM_EXT4, buf, sizeof(buf), &size));
        ASSERT_EQ(size, 64ULL * 1024 * 1024);

        /* The high word counts only with INCOMPAT_64BIT. */
        put_le32(buf + 1024 + 0x150, 1);
        ASSERT_OK(fs_superblock_size(FILESYSTEM_EXT4, buf, sizeof(buf), &size));
        ASSERT_EQ(size, 64ULL * 1024 * 1024);
        put_le32(buf + 1024 + 0x60, 0x80 | 0x40 | 0x2);
        ASSERT_OK(fs_superblock_size(FILESYSTEM_EXT4, buf, sizeof(buf), &size));
        ASSERT_EQ(size, ((1ULL << 32) + 16384) * 4096);

        ASSERT_EQ(fs_superblock_size(FILESYSTEM_EXT4, buf, 1500, &size), -EINVAL);
        ASSERT_EQ(fs_superblock_size(FILESYSTEM_XFS, buf, sizeof(buf), &size), -EINVAL);

        /* xfs, 4 KiB blocks, 81920 blocks. */
        memset(buf, 0, sizeof(buf));
        memcpy(buf, "XFSB", 4);
        put_be32(buf + 4, 4096);
        put_be32(buf + 8, 0);
        put_be32(buf + 12, 81920);
        size = 0;
        ASSERT_OK(fs_superblock_size(FILESYSTEM_XFS, buf, sizeof(buf), &size));
        ASSERT_EQ(size, 320ULL * 1024 * 1024);
        ASSERT_EQ(fs_superblock_size(FILESYSTEM_EXT4, buf, sizeof(buf), &size), -EINVAL);
        ASSERT_EQ(size, 320ULL * 1024 * 1024);
}

/* ---- reads as zeros, on image files ---------------------------------- */

static void test_sample_offsets(void) {
        const uint64_t sizes[] = { 0, 4096, FS_ZERO_SAMPLE_SIZE, FS_ZERO_SAMPLE_SIZE + 1, UINT64_C(3) * 1024 * 1024 + 17,
                                   100ULL << 20, 1ULL << 40, 64ULL << 40, UINT64_MAX / 2 };

        for (size_t s = 0; s < ELEMENTSOF(sizes); s++) {
                uint64_t size = sizes[s], prev = 0;

                ASSERT_EQ(fs_zero_sample_offset(size, 0), 0);
                for (unsigned i = 0; i < FS_ZERO_SAMPLES; i++) {
                        uint64_t o = fs_zero_sample_offset(size, i);

                        ASSERT_EQ(o % 4096, 0);
                        ASSERT_TRUE(o >= prev);
                        if (size > FS_ZERO_SAMPLE_SIZE)
                                ASSERT_TRUE(o + FS_ZERO_SAMPLE_SIZE <= size);
                        prev = o;
                }
                /* The last sample reaches to within 4 KiB of the end. */
                if (size > FS_ZERO_SAMPLE_SIZE)
                        ASSERT_TRUE(fs_zero_sample_offset(size, FS_ZERO_SAMPLES - 1) + FS_ZERO_SAMPLE_SIZE + 4096 > size);
        }
        /* Deterministic. */
        ASSERT_EQ(fs_zero_sample_offset(100ULL << 20, 32), fs_zero_sample_offset(100ULL << 20, 32));
}

static char tmpdir[] = "/tmp/test-fs-XXXXXX";

static int make_file(const char *name, uint64_t size, const uint64_t *nonzero, size_t n_nonzero, char **ret) {
        _cleanup_free_ char *path = NULL;
        _cleanup_close_ int fd = -EBADF;

        if (asprintf(&path, "%s/%s", tmpdir, name) < 0)
                return -ENOMEM;
        fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0)
                return negative_errno();
        if (ftruncate(fd, (off_t) size) < 0)
                return negative_errno();
        for (size_t i = 0; i < n_nonzero; i++)
                if (pwrite(fd, "\x01", 1, (off_t) nonzero[i]) != 1)
                        return -EIO;
        *ret = TAKE_PTR(path);
        return 0;
}

static int reads_as_zeros(uint64_t size, const uint64_t *nonzero, size_t n, bool *ret) {
        _cleanup_free_ char *path = NULL;
        int r;

        r = make_file("img", size, nonzero, n, &path);
        if (r < 0)
                return r;
        r = fs_reads_as_zeros(path, ret);
        (void) unlink(path);
        return r;
}

static void test_reads_as_zeros(void) {
        const uint64_t size = 100ULL << 20;
        uint64_t middle = fs_zero_sample_offset(size, FS_ZERO_SAMPLES / 2) + 1000;
        uint64_t gap = fs_zero_sample_offset(size, 10) + FS_ZERO_SAMPLE_SIZE + 4096;
        uint64_t first = 0, last = size - 1, in_first_mib = 1024 * 1024 - 1;
        bool zeros = false;

        ASSERT_TRUE(gap < fs_zero_sample_offset(size, 11));

        ASSERT_OK(reads_as_zeros(size, NULL, 0, &zeros));
        ASSERT_TRUE(zeros);
        ASSERT_OK(reads_as_zeros(size, &middle, 1, &zeros));
        ASSERT_FALSE(zeros);
        ASSERT_OK(reads_as_zeros(size, &first, 1, &zeros));
        ASSERT_FALSE(zeros);
        ASSERT_OK(reads_as_zeros(size, &last, 1, &zeros));
        ASSERT_FALSE(zeros);
        ASSERT_OK(reads_as_zeros(size, &in_first_mib, 1, &zeros));
        ASSERT_FALSE(zeros);
        /* Between samples it does not look: samples, not a full read. */
        ASSERT_OK(reads_as_zeros(size, &gap, 1, &zeros));
        ASSERT_TRUE(zeros);
}

/* One byte that is not zero at offset of an image of size (sparse): the
 * answer, and the byte put back to zero. */
static int byte_reads_as_zeros(int fd, const char *path, uint64_t offset, bool *ret) {
        int r;

        if (pwrite(fd, "\x80", 1, (off_t) offset) != 1)
                return -EIO;
        r = fs_reads_as_zeros(path, ret);
        if (pwrite(fd, "", 1, (off_t) offset) != 1)
                return -EIO;
        return r;
}

/* fs_mkfs_proven() refuses on the caller's evidence alone, before touching
 * the device (which here does not even exist). */
static void test_mkfs_proven_refusals(void) {
        FsProbe found = { .found = true, .type = (char *) "xfs", .usage = (char *) "filesystem" };
        FsProbe nothing = {};

        ASSERT_EQ(fs_mkfs_proven("/nonexistent/device", FILESYSTEM_EXT4, NULL, &found, true, false, USEC_INFINITY,
                                 NULL), -EMEDIUMTYPE);
        ASSERT_EQ(fs_mkfs_proven("/nonexistent/device", FILESYSTEM_EXT4, NULL, &found, false, true, USEC_INFINITY,
                                 NULL), -EMEDIUMTYPE);
        ASSERT_EQ(fs_mkfs_proven("/nonexistent/device", FILESYSTEM_EXT4, NULL, &nothing, false, false,
                                 USEC_INFINITY, NULL), -ENOTEMPTY);
        ASSERT_EQ(fs_mkfs_proven("/nonexistent/device", FILESYSTEM_EXT4, NULL, NULL, true, false, USEC_INFINITY,
                                 NULL), -EINVAL);
}

/* The proof refuses one byte in any place it reads: the first and the last
 * byte of each sample, of each MiB at the edges, and of each of the chunks
 * those are read in (the reads are in flight together, so a byte found by
 * any one of them must count). Sizes that are not multiples of 4 KiB or of
 * a sample too. */
static void test_reads_as_zeros_every_place(void) {
        const uint64_t sizes[] = { 100ULL << 20, (1ULL << 30) + 3ULL * 4096 + 512 + 17 };
        const uint64_t MIB = (uint64_t) 1024 * 1024, CHUNK = FS_ZERO_SAMPLE_SIZE;

        for (size_t s = 0; s < ELEMENTSOF(sizes); s++) {
                _cleanup_free_ char *path = NULL;
                _cleanup_close_ int fd = -EBADF;
                uint64_t size = sizes[s];
                bool zeros = false;

                ASSERT_OK(make_file("every", size, NULL, 0, &path));
                fd = open(path, O_RDWR | O_CLOEXEC);
                ASSERT_TRUE(fd >= 0);
                ASSERT_OK(fs_reads_as_zeros(path, &zeros));
                ASSERT_TRUE(zeros);

                for (unsigned i = 0; i < FS_ZERO_SAMPLES; i++) {
                        uint64_t o = fs_zero_sample_offset(size, i);

                        zeros = true;
                        ASSERT_OK(byte_reads_as_zeros(fd, path, o, &zeros));
                        ASSERT_FALSE(zeros);
                        zeros = true;
                        ASSERT_OK(byte_reads_as_zeros(fd, path, o + FS_ZERO_SAMPLE_SIZE - 1, &zeros));
                        ASSERT_FALSE(zeros);
                }
                for (uint64_t o = 0; o < MIB; o += CHUNK) {
                        const uint64_t at[] = { o, o + CHUNK - 1, size - MIB + o, size - MIB + o + CHUNK - 1 };

                        for (size_t k = 0; k < ELEMENTSOF(at); k++) {
                                zeros = true;
                                ASSERT_OK(byte_reads_as_zeros(fd, path, at[k], &zeros));
                                ASSERT_FALSE(zeros);
                        }
                }
                /* Several places at once: still refused. */
                ASSERT_EQ(pwrite(fd, "\x01", 1, 5), 1);
                ASSERT_EQ(pwrite(fd, "\x01", 1, (off_t) (size - 5)), 1);
                ASSERT_OK(fs_reads_as_zeros(path, &zeros));
                ASSERT_FALSE(zeros);
                (void) unlink(path);
        }
}

/* The proof's reads are bounded: a sparse image of 4 TiB (whose whole read
 * would take hours) is answered, and a byte in its last MiB is seen. */
static void test_reads_as_zeros_huge(void) {
        const uint64_t size = 4ULL << 40;
        uint64_t last = size - 4096;
        bool zeros = false;
        int r;

        r = reads_as_zeros(size, NULL, 0, &zeros);
        if (r == -EFBIG || r == -EINVAL) {
                printf("# skipped: the filesystem of %s holds no file of 4 TiB\n", tmpdir);
                return;
        }
        ASSERT_OK(r);
        ASSERT_TRUE(zeros);
        ASSERT_OK(reads_as_zeros(size, &last, 1, &zeros));
        ASSERT_FALSE(zeros);
}

static void test_reads_as_zeros_short(void) {
        uint64_t at = 99, end = 3 * 1024 * 1024 / 2 - 1;
        bool zeros = false;

        ASSERT_OK(reads_as_zeros(0, NULL, 0, &zeros));
        ASSERT_TRUE(zeros);
        ASSERT_OK(reads_as_zeros(100, NULL, 0, &zeros));
        ASSERT_TRUE(zeros);
        ASSERT_OK(reads_as_zeros(100, &at, 1, &zeros));
        ASSERT_FALSE(zeros);
        /* 1.5 MiB: first and last MiB overlap. */
        ASSERT_OK(reads_as_zeros(3 * 1024 * 1024 / 2, &end, 1, &zeros));
        ASSERT_FALSE(zeros);
        ASSERT_EQ(fs_reads_as_zeros("/nonexistent/device", &zeros), -ENOENT);
        ASSERT_EQ(fs_reads_as_zeros("/dev/null", &zeros), -ENOTBLK);
}

static void test_probe_files(void) {
        _cleanup_(fs_probe_done) FsProbe p = {};
        _cleanup_free_ char *path = NULL;
        uint64_t size = 0;

        ASSERT_OK(make_file("blank", 8 << 20, NULL, 0, &path));
        ASSERT_OK(fs_probe(path, &p));
        ASSERT_FALSE(p.found);
        ASSERT_NULL(p.type);
        ASSERT_OK(fs_device_size(path, &size));
        ASSERT_EQ(size, 8 << 20);
        (void) unlink(path);
        ASSERT_EQ(fs_probe("/nonexistent/device", &p), -ENOENT);
}

int main(void) {
        log_set_max_level(LOG_DEBUG);

        RUN_TEST(test_decision_table);
        RUN_TEST(test_format_only_when_blank);
        RUN_TEST(test_decision_messages);
        RUN_TEST(test_decision_invalid);
        RUN_TEST(test_refusal_errno);
        RUN_TEST(test_probe_describe);
        RUN_TEST(test_label);
        RUN_TEST(test_superblock_size);
        RUN_TEST(test_sample_offsets);

        if (!mkdtemp(tmpdir)) {
                perror("mkdtemp");
                return 1;
        }
        RUN_TEST(test_reads_as_zeros);
        RUN_TEST(test_reads_as_zeros_short);
        RUN_TEST(test_reads_as_zeros_every_place);
        RUN_TEST(test_mkfs_proven_refusals);
        RUN_TEST(test_reads_as_zeros_huge);
        RUN_TEST(test_probe_files);

        /* Also after a failed test, which returns before its own unlink. */
        for (size_t i = 0; i < 2; i++) {
                char path[sizeof(tmpdir) + 16];

                (void) snprintf(path, sizeof(path), "%s/%s", tmpdir, i == 0 ? "img" : "blank");
                (void) unlink(path);
        }
        (void) rmdir(tmpdir);

        return tests_finish();
}
