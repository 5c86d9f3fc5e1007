/* SPDX-License-Identifier: Apache-2.0 */
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>

#include "blockdev.h"
#include "macro.h"
#include "tests.h"

static void test_serial_length(void) {
        ASSERT_EQ(blockdev_serial_length("vol0123456789abcdef0", SIZE_MAX), 20);
        ASSERT_EQ(blockdev_serial_length("vol0123   ", SIZE_MAX), 7);
        ASSERT_EQ(blockdev_serial_length("vol0123\n", SIZE_MAX), 7);
        ASSERT_EQ(blockdev_serial_length("   ", SIZE_MAX), 0);
        ASSERT_EQ(blockdev_serial_length("", SIZE_MAX), 0);
        ASSERT_EQ(blockdev_serial_length(NULL, SIZE_MAX), 0);
        /* A raw sysfs buffer with NULs and spaces after the serial. */
        ASSERT_EQ(blockdev_serial_length("vol01\0\0  ", 9), 5);
        ASSERT_EQ(blockdev_serial_length("vol01 \0 \0", 9), 5);
        /* Leading spaces are part of the value. */
        ASSERT_EQ(blockdev_serial_length(" vol01", SIZE_MAX), 6);
        /* The size bounds the look. */
        ASSERT_EQ(blockdev_serial_length("vol0123", 3), 3);
}

static void test_volume_id_is_valid(void) {
        ASSERT_TRUE(blockdev_volume_id_is_valid("vol-0123456789abcdef0"));
        ASSERT_TRUE(blockdev_volume_id_is_valid("vol-12345678"));
        ASSERT_FALSE(blockdev_volume_id_is_valid("vol-"));
        ASSERT_FALSE(blockdev_volume_id_is_valid("vol0123456789abcdef0"));
        ASSERT_FALSE(blockdev_volume_id_is_valid("vol-0123456789ABCDEF0"));
        ASSERT_FALSE(blockdev_volume_id_is_valid("vol-nope"));
        ASSERT_FALSE(blockdev_volume_id_is_valid("eni-0123456789abcdef0"));
        ASSERT_FALSE(blockdev_volume_id_is_valid("vol-0123456789abcdef0 "));
        ASSERT_FALSE(blockdev_volume_id_is_valid(""));
        ASSERT_FALSE(blockdev_volume_id_is_valid(NULL));
}

static void test_serial_matches_volume(void) {
        const char *id = "vol-0123456789abcdef0";

        ASSERT_TRUE(blockdev_serial_matches_volume("vol0123456789abcdef0", id));
        /* Padding some kernels leave. */
        ASSERT_TRUE(blockdev_serial_matches_volume("vol0123456789abcdef0    ", id));
        ASSERT_TRUE(blockdev_serial_matches_volume("vol0123456789abcdef0\n", id));
        ASSERT_TRUE(blockdev_serial_matches_volume("vol12345678", "vol-12345678"));

        /* The dash is not in the serial. */
        ASSERT_FALSE(blockdev_serial_matches_volume("vol-0123456789abcdef0", id));
        /* Case-sensitive. */
        ASSERT_FALSE(blockdev_serial_matches_volume("VOL0123456789abcdef0", id));
        ASSERT_FALSE(blockdev_serial_matches_volume("vol0123456789ABCDEF0", id));
        /* Neither a prefix nor a longer serial. */
        ASSERT_FALSE(blockdev_serial_matches_volume("vol0123456789abcdef", id));
        ASSERT_FALSE(blockdev_serial_matches_volume("vol0123456789abcdef01", id));
        ASSERT_FALSE(blockdev_serial_matches_volume("vol0123456789abcdef0x", id));
        ASSERT_FALSE(blockdev_serial_matches_volume("vol0fedcba9876543210", id));
        /* Leading space is not padding. */
        ASSERT_FALSE(blockdev_serial_matches_volume(" vol0123456789abcdef0", id));
        ASSERT_FALSE(blockdev_serial_matches_volume("", id));
        ASSERT_FALSE(blockdev_serial_matches_volume("vol", id));
        ASSERT_FALSE(blockdev_serial_matches_volume(NULL, id));
        /* A malformed id matches nothing, not even its own spelling. */
        ASSERT_FALSE(blockdev_serial_matches_volume("vol", "vol-"));
        ASSERT_FALSE(blockdev_serial_matches_volume("vol0123456789abcdef0", "vol0123456789abcdef0"));
        ASSERT_FALSE(blockdev_serial_matches_volume("vol0123456789abcdef0", NULL));
}

static void test_pick_serial_nvme(void) {
        const char *serial = NULL;

        /* The controller's serial comes before what udev recorded. */
        ASSERT_EQ(blockdev_pick_serial(&(BlockSerialInputs) {
                        .sysname = "nvme1n1",
                        .device_serial = "vol0123456789abcdef0",
                        .id_serial_short = "vol0fedcba9876543210",
                  }, &serial), BLOCK_SERIAL_SOURCE_NVME);
        ASSERT_STREQ(serial, "vol0123456789abcdef0");

        /* A blank sysfs serial falls through to udev. */
        ASSERT_EQ(blockdev_pick_serial(&(BlockSerialInputs) {
                        .sysname = "nvme1n1",
                        .device_serial = "                    ",
                        .id_serial_short = "vol0fedcba9876543210",
                  }, &serial), BLOCK_SERIAL_SOURCE_UDEV);
        ASSERT_STREQ(serial, "vol0fedcba9876543210");

        /* An NVMe disk does not take the virtio attribute. */
        serial = NULL;
        ASSERT_EQ(blockdev_pick_serial(&(BlockSerialInputs) {
                        .sysname = "nvme1n1",
                        .serial = "vol0123456789abcdef0",
                  }, &serial), BLOCK_SERIAL_SOURCE_NONE);
        ASSERT_NULL(serial);
}

static void test_pick_serial_virtio(void) {
        const char *serial = NULL;

        ASSERT_EQ(blockdev_pick_serial(&(BlockSerialInputs) {
                        .sysname = "vdb",
                        .device_serial = "ignored",
                        .serial = "vol0123456789abcdef0",
                        .id_serial_short = "vol0fedcba9876543210",
                  }, &serial), BLOCK_SERIAL_SOURCE_VIRTIO);
        ASSERT_STREQ(serial, "vol0123456789abcdef0");

        ASSERT_EQ(blockdev_pick_serial(&(BlockSerialInputs) {
                        .sysname = "vdb",
                        .id_serial_short = "vol0fedcba9876543210",
                  }, &serial), BLOCK_SERIAL_SOURCE_UDEV);
        ASSERT_STREQ(serial, "vol0fedcba9876543210");
}

static void test_pick_serial_other(void) {
        const char *serial = "untouched";

        /* Loop devices and the like: only udev's property counts. */
        ASSERT_EQ(blockdev_pick_serial(&(BlockSerialInputs) {
                        .sysname = "loop3",
                        .device_serial = "vol0123456789abcdef0",
                        .serial = "vol0123456789abcdef0",
                        .id_serial_short = "vol0fedcba9876543210",
                  }, &serial), BLOCK_SERIAL_SOURCE_UDEV);
        ASSERT_STREQ(serial, "vol0fedcba9876543210");

        /* Xen: no serial anywhere; the result is untouched. */
        serial = "untouched";
        ASSERT_EQ(blockdev_pick_serial(&(BlockSerialInputs) { .sysname = "xvdf" }, &serial),
                  BLOCK_SERIAL_SOURCE_NONE);
        ASSERT_STREQ(serial, "untouched");
        ASSERT_EQ(blockdev_pick_serial(&(BlockSerialInputs) { .sysname = "xvdf", .id_serial_short = "" },
                                       &serial), BLOCK_SERIAL_SOURCE_NONE);
        ASSERT_EQ(blockdev_pick_serial(&(BlockSerialInputs) {}, &serial), BLOCK_SERIAL_SOURCE_NONE);
        ASSERT_EQ(blockdev_pick_serial(NULL, &serial), BLOCK_SERIAL_SOURCE_NONE);
        ASSERT_STREQ(serial, "untouched");
}

static void test_source_to_string(void) {
        ASSERT_STREQ(block_serial_source_to_string(BLOCK_SERIAL_SOURCE_NONE), "none");
        ASSERT_STREQ(block_serial_source_to_string(BLOCK_SERIAL_SOURCE_NVME), "nvme-sysfs");
        ASSERT_STREQ(block_serial_source_to_string(BLOCK_SERIAL_SOURCE_VIRTIO), "virtio-sysfs");
        ASSERT_STREQ(block_serial_source_to_string(BLOCK_SERIAL_SOURCE_UDEV), "udev");
        ASSERT_STREQ(block_serial_source_to_string(BLOCK_SERIAL_SOURCE_XEN_NAME), "xen-name");
        ASSERT_NULL(block_serial_source_to_string(_BLOCK_SERIAL_SOURCE_MAX));
}

static void check_xen(const char *in, const char *expected) {
        _cleanup_free_ char *out = NULL;

        ASSERT_OK(blockdev_xen_devnode(in, &out));
        ASSERT_STREQ(out, expected);
}

static void test_xen_devnode(void) {
        char *out = (char *) "untouched";

        check_xen("/dev/sdf", "/dev/xvdf");
        if (test_current_failed)
                return;
        check_xen("sdf", "/dev/xvdf");
        check_xen("/dev/xvdf", "/dev/xvdf");
        check_xen("xvdf", "/dev/xvdf");
        check_xen("/dev/sdp", "/dev/xvdp");
        check_xen("/dev/xvdba", "/dev/xvdba");
        check_xen("/dev/sdf1", "/dev/xvdf1");
        if (test_current_failed)
                return;

        ASSERT_EQ(blockdev_xen_devnode("/dev/nvme1n1", &out), -EINVAL);
        ASSERT_EQ(blockdev_xen_devnode("/dev/sd", &out), -EINVAL);
        ASSERT_EQ(blockdev_xen_devnode("/dev/sdF", &out), -EINVAL);
        ASSERT_EQ(blockdev_xen_devnode("/dev/sdf/", &out), -EINVAL);
        ASSERT_EQ(blockdev_xen_devnode("/dev/sd1", &out), -EINVAL);
        ASSERT_EQ(blockdev_xen_devnode("/dev/hdf", &out), -EINVAL);
        ASSERT_EQ(blockdev_xen_devnode("", &out), -EINVAL);
        ASSERT_EQ(blockdev_xen_devnode(NULL, &out), -EINVAL);
        ASSERT_STREQ(out, "untouched");
}

static void test_wants_ebs_io_timeout(void) {
        /* The NVMe model is space-padded to 40 characters in sysfs. */
        const char *padded = "Amazon Elastic Block Store              ";

        ASSERT_TRUE(blockdev_wants_ebs_io_timeout("nvme1n1", "Amazon Elastic Block Store", false));
        ASSERT_TRUE(blockdev_wants_ebs_io_timeout("nvme1n1", padded, false));
        ASSERT_TRUE(blockdev_wants_ebs_io_timeout("nvme12n3", padded, false));

        /* amazon-ec2-utils' rules do it already. */
        ASSERT_FALSE(blockdev_wants_ebs_io_timeout("nvme1n1", padded, true));
        /* Not EBS: instance store has its own timeout in those rules. */
        ASSERT_FALSE(blockdev_wants_ebs_io_timeout("nvme1n1", "Amazon EC2 NVMe Instance Storage", false));
        ASSERT_FALSE(blockdev_wants_ebs_io_timeout("nvme1n1", "QEMU NVMe Ctrl", false));
        ASSERT_FALSE(blockdev_wants_ebs_io_timeout("nvme1n1", "amazon elastic block store", false));
        ASSERT_FALSE(blockdev_wants_ebs_io_timeout("nvme1n1", "Amazon Elastic Block Store X", false));
        ASSERT_FALSE(blockdev_wants_ebs_io_timeout("nvme1n1", NULL, false));
        /* Not an NVMe namespace disk. */
        ASSERT_FALSE(blockdev_wants_ebs_io_timeout("nvme1n1p1", padded, false));
        ASSERT_FALSE(blockdev_wants_ebs_io_timeout("nvme1", padded, false));
        ASSERT_FALSE(blockdev_wants_ebs_io_timeout("nvmen1", padded, false));
        ASSERT_FALSE(blockdev_wants_ebs_io_timeout("nvme1n", padded, false));
        ASSERT_FALSE(blockdev_wants_ebs_io_timeout("xvdf", padded, false));
        ASSERT_FALSE(blockdev_wants_ebs_io_timeout("loop0", padded, false));
        ASSERT_FALSE(blockdev_wants_ebs_io_timeout(NULL, padded, false));
}

/* Makes path and its parents, like mkdir -p. */
static int mkdir_p(const char *path) {
        _cleanup_free_ char *p = strdup(path);

        if (!p)
                return -ENOMEM;
        for (char *slash = strchr(p + 1, '/');; slash = strchr(slash + 1, '/')) {
                if (slash)
                        *slash = '\0';
                if (mkdir(p, 0755) < 0 && errno != EEXIST)
                        return -errno;
                if (!slash)
                        return 0;
                *slash = '/';
        }
}

/* Writes a file (or a link when target is set) below root, replacing what
 * is there, and makes its directories. */
static int put(const char *root, const char *dir, const char *name, const char *content, const char *target) {
        _cleanup_free_ char *d = NULL, *path = NULL;
        FILE *f;
        int r;

        if (asprintf(&d, "%s%s", root, dir) < 0 || asprintf(&path, "%s/%s", d, name) < 0)
                return -ENOMEM;
        r = mkdir_p(d);
        if (r < 0)
                return r;
        if (unlink(path) < 0 && errno != ENOENT)
                return -errno;
        if (target)
                return symlink(target, path) < 0 ? -errno : 0;
        f = fopen(path, "we");
        if (!f)
                return -errno;
        fputs(content, f);
        return fclose(f) == 0 ? 0 : -EIO;
}

static void test_ec2_nvme_rules_present(void) {
        char root[] = "/tmp/test-blockdev.XXXXXX";
        _cleanup_free_ char *cmd = NULL;
        const char *rules = "# rules\n";
        bool absent, shipped, run_too, masked_by_link, masked_by_empty;
        int r = 0;

        ASSERT_NOT_NULL(mkdtemp(root));

        /* Collect the answers first, so that the directory is removed
         * whatever they are. */
        absent = !blockdev_ec2_nvme_rules_present(root);
        if (r >= 0)
                r = put(root, "/usr/lib/udev/rules.d", "70-ec2-nvme-devices.rules", rules, NULL);
        shipped = blockdev_ec2_nvme_rules_present(root);
        if (r >= 0)
                r = put(root, "/run/udev/rules.d", "70-ec2-nvme-devices.rules", rules, NULL);
        run_too = blockdev_ec2_nvme_rules_present(root);
        /* /etc comes first: a link to /dev/null there masks the others, and
         * so does an empty file. */
        if (r >= 0)
                r = put(root, "/etc/udev/rules.d", "70-ec2-nvme-devices.rules", NULL, "/dev/null");
        masked_by_link = !blockdev_ec2_nvme_rules_present(root);
        if (r >= 0)
                r = put(root, "/etc/udev/rules.d", "70-ec2-nvme-devices.rules", "", NULL);
        masked_by_empty = !blockdev_ec2_nvme_rules_present(root);

        ASSERT_OK(asprintf(&cmd, "rm -rf '%s'", root));
        ASSERT_EQ(system(cmd), 0);

        ASSERT_OK(r);
        ASSERT_TRUE(absent);
        ASSERT_TRUE(shipped);
        ASSERT_TRUE(run_too);
        ASSERT_TRUE(masked_by_link);
        ASSERT_TRUE(masked_by_empty);
}

static void test_block_device_done(void) {
        BlockDevice d = {
                .devnode = strdup("/dev/nvme1n1"),
                .serial = strdup("vol0123456789abcdef0"),
                .size = 42,
        };

        block_device_done(&d);
        ASSERT_NULL(d.devnode);
        ASSERT_NULL(d.serial);
        ASSERT_EQ(d.size, 0);
        block_device_done(&d);
        block_device_done(NULL);
}

static void test_bad_arguments(void) {
        BlockDevice d = { .size = 7 };

        /* Refused before any device is looked at; ret untouched. */
        ASSERT_EQ(blockdev_find("vol-nope", NULL, &d), -EINVAL);
        ASSERT_EQ(blockdev_find("vol-0123456789abcdef0", "/dev/nvme1n1", &d), -EINVAL);
        ASSERT_EQ(blockdev_wait("vol0123456789abcdef0", NULL, 0, &d), -EINVAL);
        ASSERT_EQ(blockdev_verify("/dev/null", "vol-", NULL), -EINVAL);
        ASSERT_EQ(blockdev_verify("", "vol-0123456789abcdef0", NULL), -EINVAL);
        ASSERT_EQ(d.size, 7);
        ASSERT_NULL(d.devnode);
}

int main(void) {
        RUN_TEST(test_serial_length);
        RUN_TEST(test_volume_id_is_valid);
        RUN_TEST(test_serial_matches_volume);
        RUN_TEST(test_pick_serial_nvme);
        RUN_TEST(test_pick_serial_virtio);
        RUN_TEST(test_pick_serial_other);
        RUN_TEST(test_source_to_string);
        RUN_TEST(test_xen_devnode);
        RUN_TEST(test_wants_ebs_io_timeout);
        RUN_TEST(test_ec2_nvme_rules_present);
        RUN_TEST(test_block_device_done);
        RUN_TEST(test_bad_arguments);
        return tests_finish();
}
