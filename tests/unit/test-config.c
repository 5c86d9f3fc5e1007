/* SPDX-License-Identifier: Apache-2.0 */
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <sys/stat.h>

#include "config.h"
#include "macro.h"
#include "tests.h"
#include "time-util.h"

/* ---- Helpers ---- */

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        return remove(path);
}

/* Removes a temporary directory tree and frees its name. */
static void rm_rf_freep(char **dir) {
        if (!*dir)
                return;
        (void) nftw(*dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
        free(*dir);
}
#define _cleanup_rm_rf_ _cleanup_(rm_rf_freep)

static char *tmpdir_new(void) {
        char *t = strdup("/tmp/test-config-XXXXXX");

        if (!t)
                return NULL;
        if (!mkdtemp(t))
                return mfree(t);
        return t;
}

/* Writes text to dir/name with exactly mode (no umask) and returns the path. */
static char *write_file(const char *dir, const char *name, const char *text, mode_t mode) {
        _cleanup_close_ int fd = -EBADF;
        char *path = NULL;
        size_t n = strlen(text);

        if (asprintf(&path, "%s/%s", dir, name) < 0)
                return NULL;
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0 || fchmod(fd, mode) < 0 || write(fd, text, n) != (ssize_t) n)
                return mfree(path);
        return path;
}

/* A fresh Config with text parsed as "test.conf"; NULL when it fails. */
static Config *parse(const char *text) {
        _cleanup_(config_freep) Config *c = NULL;

        if (config_new(&c) < 0)
                return NULL;
        if (config_parse_string(c, "test.conf", text, NULL) < 0)
                return NULL;
        return TAKE_PTR(c);
}

/* The result of one --set on a fresh Config. */
static int set_one(const char *assignment) {
        _cleanup_(config_freep) Config *c = NULL;
        int r = config_new(&c);

        if (r < 0)
                return r;
        return config_apply_set(c, assignment, NULL);
}

/* The plan of c as a string. */
static char *plan(const Config *c) {
        char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);

        if (!f)
                return NULL;
        if (config_format_plan(c, f) < 0) {
                (void) fclose(f);
                return mfree(buf);
        }
        if (fclose(f) != 0)
                return mfree(buf);
        return buf;
}

static char *repeat(char ch, size_t n) {
        char *s = malloc(n + 1);

        if (!s)
                return NULL;
        memset(s, ch, n);
        s[n] = '\0';
        return s;
}

/* ---- Tests ---- */

static void test_defaults(void) {
        _cleanup_(config_freep) Config *c = NULL;

        ASSERT_OK(config_new(&c));
        ASSERT_NULL(c->node.name);
        ASSERT_TRUE(c->node.timeout == 15 * USEC_PER_MINUTE);

        ASSERT_FALSE(c->has_volume);
        ASSERT_NULL(c->volume.id);
        ASSERT_NULL(c->volume.tag.key);
        ASSERT_STREQ(c->volume.device, "auto");
        ASSERT_EQ(c->interface.network_card_index, 0);
        ASSERT_NULL(c->volume.mount_point);
        ASSERT_EQ(c->volume.file_system, FILESYSTEM_EXT4);
        ASSERT_NULL(c->volume.mount_options);
        ASSERT_EQ(c->volume.format, FORMAT_IF_BLANK);
        ASSERT_TRUE(c->volume.grow);
        ASSERT_EQ(c->volume.take_over, TAKE_OVER_WAIT);
        ASSERT_TRUE(c->volume.take_over_timeout == 10 * USEC_PER_MINUTE);
        ASSERT_FALSE(c->volume.detach_on_stop);
        ASSERT_STREQ(c->volume.section, "data");
        ASSERT_NULL(c->volume.ids);
        ASSERT_EQ(c->volume.n_ids, 0);
        ASSERT_EQ(c->volume.count, 0);
        ASSERT_EQ(c->volume.stripe, STRIPE_NONE);
        ASSERT_EQ(c->volume.restore, VOLUME_RESTORE_NO);
        ASSERT_EQ(c->volume.size_gib, 0);
        ASSERT_EQ(c->volume.volume_type, VOLUME_TYPE_GP3);
        ASSERT_EQ(config_volume_n_members(&c->volume), 1);
        ASSERT_NULL(c->volumes);
        ASSERT_EQ(c->n_volumes, 0);
        ASSERT_NULL(c->only_volume);
        ASSERT_NULL(config_volume_find(c, "data"));

        ASSERT_FALSE(c->has_interface);
        ASSERT_NULL(c->interface.id);
        ASSERT_NULL(c->interface.tag.key);
        ASSERT_EQ(c->interface.device_index, 1);
        ASSERT_EQ(c->interface.routing, ROUTING_AUTO);
        ASSERT_FALSE(c->interface.detach_on_stop);
        ASSERT_EQ(c->interface.take_over, TAKE_OVER_WAIT);
        ASSERT_EQ(c->interface.restore, INTERFACE_RESTORE_NO);

        ASSERT_FALSE(c->has_dns);
        ASSERT_NULL(c->dns.hosted_zone_id);
        ASSERT_NULL(c->dns.name);
        ASSERT_EQ(c->dns.mode, DNS_MODE_NODE);
        ASSERT_EQ(c->dns.ttl, 60);
        ASSERT_FALSE(c->dns.wait_in_sync);
        ASSERT_EQ(c->dns.unpublish_on_stop, UNPUBLISH_ON_STOP_NO);

        ASSERT_FALSE(c->has_signal);
        ASSERT_NULL(c->signal.cloudformation_stack);
        ASSERT_NULL(c->signal.cloudformation_resource);
        ASSERT_NULL(c->signal.lifecycle_hook);

        /* Nothing present, nothing to check. */
        ASSERT_OK(config_validate(c, NULL));

        ASSERT_NULL(config_free(NULL));
}

static void test_enum_tables(void) {
        ASSERT_STREQ(filesystem_to_string(FILESYSTEM_EXT4), "ext4");
        ASSERT_STREQ(filesystem_to_string(FILESYSTEM_XFS), "xfs");
        ASSERT_EQ(filesystem_from_string("xfs"), FILESYSTEM_XFS);
        ASSERT_EQ(filesystem_from_string("XFS"), -EINVAL);
        ASSERT_EQ(filesystem_from_string("btrfs"), -EINVAL);
        ASSERT_EQ(filesystem_from_string(NULL), -EINVAL);
        ASSERT_NULL(filesystem_to_string(_FILESYSTEM_MAX));
        ASSERT_NULL(filesystem_to_string(_FILESYSTEM_INVALID));

        ASSERT_STREQ(format_policy_to_string(FORMAT_NEVER), "never");
        ASSERT_EQ(format_policy_from_string("if-blank"), FORMAT_IF_BLANK);
        ASSERT_STREQ(take_over_policy_to_string(TAKE_OVER_FORCE_DETACH_DEAD), "force-detach-dead");
        ASSERT_EQ(take_over_policy_from_string("wait"), TAKE_OVER_WAIT);
        ASSERT_STREQ(take_over_policy_to_string(TAKE_OVER_HANDOVER), "handover");
        ASSERT_EQ(take_over_policy_from_string("handover"), TAKE_OVER_HANDOVER);
        ASSERT_STREQ(stripe_mode_to_string(STRIPE_RAID0), "raid0");
        ASSERT_EQ(stripe_mode_from_string("none"), STRIPE_NONE);
        ASSERT_EQ(stripe_mode_from_string("raid1"), -EINVAL);
        ASSERT_STREQ(volume_restore_to_string(VOLUME_RESTORE_SNAPSHOT_OR_BLANK), "snapshot-or-blank");
        ASSERT_EQ(volume_restore_from_string("blank"), VOLUME_RESTORE_BLANK);
        ASSERT_EQ(volume_restore_from_string("yes"), -EINVAL);
        ASSERT_STREQ(volume_type_to_string(VOLUME_TYPE_STANDARD), "standard");
        ASSERT_EQ(volume_type_from_string("io2"), VOLUME_TYPE_IO2);
        ASSERT_EQ(volume_type_from_string("gp1"), -EINVAL);
        ASSERT_STREQ(interface_restore_to_string(INTERFACE_RESTORE_CREATE), "create");
        ASSERT_EQ(interface_restore_from_string("no"), INTERFACE_RESTORE_NO);
        ASSERT_STREQ(unpublish_on_stop_to_string(UNPUBLISH_ON_STOP_TERMINATING), "terminating");
        ASSERT_EQ(unpublish_on_stop_from_string("always"), -EINVAL);
        ASSERT_STREQ(routing_mode_to_string(ROUTING_NONE), "none");
        ASSERT_EQ(routing_mode_from_string("agent"), ROUTING_AGENT);
        ASSERT_STREQ(dns_mode_to_string(DNS_MODE_MULTIVALUE), "multivalue");
        ASSERT_EQ(dns_mode_from_string("shared"), DNS_MODE_SHARED);
        ASSERT_STREQ(config_section_to_string(CONFIG_SECTION_DNS), "DNS");
        ASSERT_EQ(config_section_from_string("Signal"), CONFIG_SECTION_SIGNAL);
        ASSERT_EQ(config_section_from_string("signal"), -EINVAL);
}

static void test_id_validation(void) {
        static const struct {
                const char *id;
                bool volume, eni, instance;
        } cases[] = {
                { "vol-12345678",            true,  false, false },
                { "vol-0123456789abcdef0",   true,  false, false },
                { "vol-0123456789ABCDEF0",   false, false, false },
                { "vol-1234567",             false, false, false },
                { "vol-123456789",           false, false, false },
                { "vol-0123456789abcdef",    false, false, false },
                { "vol-0123456789abcdef01",  false, false, false },
                { "vol-1234567g",            false, false, false },
                { "vol-",                    false, false, false },
                { "vol_12345678",            false, false, false },
                { " vol-12345678",           false, false, false },
                { "eni-abcdef01",            false, true,  false },
                { "eni-0123456789abcdef0",   false, true,  false },
                { "eni-0123456789abcdeF0",   false, false, false },
                { "i-12345678",              false, false, true  },
                { "i-0123456789abcdef0",     false, false, true  },
                { "i-0123456789abcdef",      false, false, false },
                { "",                        false, false, false },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                if (volume_id_is_valid(cases[i].id) != cases[i].volume ||
                    eni_id_is_valid(cases[i].id) != cases[i].eni ||
                    instance_id_is_valid(cases[i].id) != cases[i].instance) {
                        test_fail(__FILE__, __LINE__, "id \"%s\" misjudged", cases[i].id);
                        return;
                }
        }
        ASSERT_FALSE(volume_id_is_valid(NULL));
}

/* Every key, good values and bad ones, through --set. */
static void test_values_table(void) {
        static const struct {
                const char *assignment;
                bool ok;
        } cases[] = {
                { "Node.Name=kafka-1", true },
                { "Node.Name=a.b_c-D9", true },
                { "Node.Name=kafka 1", false },
                { "Node.Name=kafka/1", false },
                { "Node.Name=k\xc3\xa4" "fka", false },
                { "Node.Timeout=90s", true },
                { "Node.Timeout=1min 30s", true },
                { "Node.Timeout=42", true },
                { "Node.Timeout=0", false },
                { "Node.Timeout=0s", false },
                { "Node.Timeout=1.5s", false },
                { "Node.Timeout=-5s", false },
                { "Node.Timeout=10 parsecs", false },
                { "Node.Timeout=99999999999999999999s", false },

                { "Volume.Id=vol-0123456789abcdef0", true },
                { "Volume.Id=vol-12345678", true },
                { "Volume.Id=vol-123", false },
                { "Volume.Id=VOL-12345678", false },
                { "Volume.Id=vol-0123456789ABCDEF0", false },
                { "Volume.Id=eni-12345678", false },
                { "Volume.Tag=Name=kafka-1", true },
                { "Volume.Tag=Name", false },
                { "Volume.Tag==kafka", false },
                { "Volume.Device=/dev/sdf", true },
                { "Volume.Device=auto", true },
                { "Interface.NetworkCardIndex=1", true },
                { "Interface.NetworkCardIndex=32", false },
                { "Volume.Device=/dev/sdp", true },
                { "Volume.Device=/dev/sdb", true },
                { "Volume.Device=/dev/sdz", true },
                { "Volume.Device=/dev/xvdf", true },
                { "Volume.Device=/dev/xvdba", true },
                { "Volume.Device=/dev/xvdcz", true },
                { "Volume.Device=/dev/sda", false },
                { "Volume.Device=/dev/sda1", false },
                { "Volume.Device=/dev/sdf1", false },
                { "Volume.Device=/dev/xvda", false },
                { "Volume.Device=/dev/xvdda", false },
                { "Volume.Device=/dev/sdF", false },
                { "Volume.Device=/dev/sdff", false },
                { "Volume.Device=/dev/nvme1n1", false },
                { "Volume.Device=sdf", false },
                { "Volume.Device=/dev/sd", false },
                { "Volume.MountPoint=/var/lib/kafka", true },
                { "Volume.MountPoint=/", false },
                { "Volume.MountPoint=var/lib/kafka", false },
                { "Volume.MountPoint=/var/../etc", false },
                { "Volume.MountPoint=/var/./lib", false },
                { "Volume.FileSystem=ext4", true },
                { "Volume.FileSystem=xfs", true },
                { "Volume.FileSystem=btrfs", false },
                { "Volume.FileSystem=EXT4", false },
                { "Volume.MountOptions=noatime,nodev", true },
                { "Volume.MountOptions=noatime, nodev", false },
                { "Volume.Format=never", true },
                { "Volume.Format=if-blank", true },
                { "Volume.Format=always", false },
                { "Volume.Grow=no", true },
                { "Volume.Grow=maybe", false },
                { "Volume.TakeOver=wait", true },
                { "Volume.TakeOver=force-detach-dead", true },
                { "Volume.TakeOver=force", false },
                { "Volume.TakeOverTimeout=0", true },
                { "Volume.TakeOverTimeout=1h", true },
                { "Volume.TakeOverTimeout=soon", false },
                { "Volume.DetachOnStop=yes", true },
                { "Volume.DetachOnStop=2", false },
                { "Volume.TakeOver=handover", true },
                { "Volume.Id=vol-12345678 vol-0123456789abcdef0", true },
                { "Volume.Id=vol-12345678   vol-87654321 ", true },
                { "Volume.Id=vol-12345678 vol-12345678", false },
                { "Volume.Id=vol-12345678 vol-123", false },
                { "Volume.Id=vol-12345678,vol-87654321", false },
                { "Volume.Count=2", true },
                { "Volume.Count=16", true },
                { "Volume.Count=1", false },
                { "Volume.Count=0", false },
                { "Volume.Count=17", false },
                { "Volume.Count=two", false },
                { "Volume.Stripe=raid0", true },
                { "Volume.Stripe=none", true },
                { "Volume.Stripe=raid1", false },
                { "Volume.Stripe=RAID0", false },
                { "Volume.Restore=no", true },
                { "Volume.Restore=snapshot", true },
                { "Volume.Restore=snapshot-or-blank", true },
                { "Volume.Restore=blank", true },
                { "Volume.Restore=yes", false },
                { "Volume.Restore=create", false },
                { "Volume.Size=1", true },
                { "Volume.Size=65536", true },
                { "Volume.Size=0", false },
                { "Volume.Size=65537", false },
                { "Volume.Size=100G", false },
                { "Volume.VolumeType=gp3", true },
                { "Volume.VolumeType=gp2", true },
                { "Volume.VolumeType=io1", true },
                { "Volume.VolumeType=io2", true },
                { "Volume.VolumeType=st1", true },
                { "Volume.VolumeType=sc1", true },
                { "Volume.VolumeType=standard", true },
                { "Volume.VolumeType=GP3", false },
                { "Volume.VolumeType=magnetic", false },
                { "Volume:log.MountPoint=/var/lib/kafka/log", true },
                { "Volume:log.Id=vol-12345678 vol-87654321", true },
                { "Volume:a-1.Grow=no", true },
                { "Volume:log.Grow=perhaps", false },
                { "Volume:Log.Grow=no", false },
                { "Volume:data.Grow=no", false },
                { "Volume:.Grow=no", false },
                { "Interface:x.Routing=none", false },

                { "Interface.Id=eni-0123456789abcdef0", true },
                { "Interface.Id=eni-1234567", false },
                { "Interface.Id=vol-12345678", false },
                { "Interface.Tag=Role=kafka", true },
                { "Interface.DeviceIndex=1", true },
                { "Interface.DeviceIndex=31", true },
                { "Interface.DeviceIndex=0", false },
                { "Interface.DeviceIndex=32", false },
                { "Interface.DeviceIndex=-1", false },
                { "Interface.DeviceIndex=+1", false },
                { "Interface.DeviceIndex=1x", false },
                { "Interface.DeviceIndex=0x1", false },
                { "Interface.DeviceIndex=one", false },
                { "Interface.Routing=auto", true },
                { "Interface.Routing=agent", true },
                { "Interface.Routing=none", true },
                { "Interface.Routing=manual", false },
                { "Interface.DetachOnStop=off", true },
                { "Interface.TakeOver=handover", true },
                { "Interface.TakeOver=hand-over", false },
                { "Interface.Restore=no", true },
                { "Interface.Restore=create", true },
                { "Interface.Restore=snapshot", false },
                { "Interface.Id=eni-12345678 eni-87654321", false },

                { "DNS.HostedZoneId=Z0123456789ABCDEFGHIJ", true },
                { "DNS.HostedZoneId=/hostedzone/Z0123456789ABCDEFGHIJ", true },
                { "DNS.HostedZoneId=z0123456789abcdefghij", false },
                { "DNS.HostedZoneId=A0123456789", false },
                { "DNS.HostedZoneId=/hostedzone/", false },
                { "DNS.HostedZoneId=hostedzone/Z123", false },
                { "DNS.Name=kafka-1.cluster.internal.", true },
                { "DNS.Name=kafka-1.cluster.internal", true },
                { "DNS.Name=_srv.*.example", true },
                { "DNS.Name=kafka..internal", false },
                { "DNS.Name=.", false },
                { "DNS.Name=.kafka", false },
                { "DNS.Name=kafka 1.internal", false },
                { "DNS.Name=kafka!.internal", false },
                { "DNS.Mode=node", true },
                { "DNS.Mode=multivalue", true },
                { "DNS.Mode=shared", true },
                { "DNS.Mode=weighted", false },
                { "DNS.TTL=0", true },
                { "DNS.TTL=2147483647", true },
                { "DNS.TTL=2147483648", false },
                { "DNS.TTL=99999999999999999999999", false },
                { "DNS.TTL=60s", false },
                { "DNS.WaitInSync=true", true },
                { "DNS.WaitInSync=ja", false },
                { "DNS.UnpublishOnStop=no", true },
                { "DNS.UnpublishOnStop=terminating", true },
                { "DNS.UnpublishOnStop=yes", false },

                { "Signal.CloudFormationStack=my-stack", true },
                { "Signal.CloudFormationStack=arn:aws:cloudformation:eu-west-1:123456789012:stack/my-stack/1c2fa620-982a-11e3-aff7-50e2416294e0", true },
                { "Signal.CloudFormationStack=1stack", false },
                { "Signal.CloudFormationStack=my_stack", false },
                { "Signal.CloudFormationStack=arn:aws:s3:::bucket", false },
                { "Signal.CloudFormationResource=NodeGroup1", true },
                { "Signal.CloudFormationResource=Node-Group", false },
                { "Signal.LifecycleHook=launch/hook_1-a", true },
                { "Signal.LifecycleHook=hook.1", false },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                int r = set_one(cases[i].assignment);

                if ((r >= 0) != cases[i].ok || (r < 0 && r != -EINVAL)) {
                        test_fail(__FILE__, __LINE__, "--set %s: got %d, expected %s",
                                  cases[i].assignment, r, cases[i].ok ? "success" : "-EINVAL");
                        return;
                }
        }
}

static void test_value_limits(void) {
        _cleanup_free_ char *name64 = repeat('n', 64), *name65 = repeat('n', 65);
        _cleanup_free_ char *label63 = repeat('a', 63), *label64 = repeat('a', 64);
        _cleanup_free_ char *zone32 = repeat('Z', 32), *zone33 = repeat('Z', 33);
        _cleanup_free_ char *a = NULL;

        ASSERT_NOT_NULL(name64);
        ASSERT_NOT_NULL(name65);
        ASSERT_NOT_NULL(label63);
        ASSERT_NOT_NULL(label64);
        ASSERT_NOT_NULL(zone32);
        ASSERT_NOT_NULL(zone33);

        ASSERT_TRUE(asprintf(&a, "Node.Name=%s", name64) > 0);
        ASSERT_OK(set_one(a));
        a = mfree(a);
        ASSERT_TRUE(asprintf(&a, "Node.Name=%s", name65) > 0);
        ASSERT_EQ(set_one(a), -EINVAL);
        a = mfree(a);

        ASSERT_TRUE(asprintf(&a, "DNS.Name=%s.example", label63) > 0);
        ASSERT_OK(set_one(a));
        a = mfree(a);
        ASSERT_TRUE(asprintf(&a, "DNS.Name=%s.example", label64) > 0);
        ASSERT_EQ(set_one(a), -EINVAL);
        a = mfree(a);
        /* 4 labels of 63 and a dot each: 255 characters, too long; with
         * the last one at 61: 253, just right, also with the final dot. */
        ASSERT_TRUE(asprintf(&a, "DNS.Name=%s.%s.%s.%s", label63, label63, label63, label63) > 0);
        ASSERT_EQ(set_one(a), -EINVAL);
        a = mfree(a);
        ASSERT_TRUE(asprintf(&a, "DNS.Name=%s.%s.%s.%.61s.", label63, label63, label63, label63) > 0);
        ASSERT_OK(set_one(a));
        a = mfree(a);
        ASSERT_TRUE(asprintf(&a, "DNS.Name=%s.%s.%s.%.62s", label63, label63, label63, label63) > 0);
        ASSERT_EQ(set_one(a), -EINVAL);
        a = mfree(a);

        ASSERT_TRUE(asprintf(&a, "DNS.HostedZoneId=%s", zone32) > 0);
        ASSERT_OK(set_one(a));
        a = mfree(a);
        ASSERT_TRUE(asprintf(&a, "DNS.HostedZoneId=%s", zone33) > 0);
        ASSERT_EQ(set_one(a), -EINVAL);
}

static void test_durations(void) {
        _cleanup_(config_freep) Config *c = parse("[Node]\nTimeout=1min 30s\n[Volume]\nTakeOverTimeout=0\n");

        ASSERT_NOT_NULL(c);
        ASSERT_TRUE(c->node.timeout == 90 * USEC_PER_SEC);
        ASSERT_TRUE(c->volume.take_over_timeout == 0);

        ASSERT_OK(config_apply_set(c, "Node.Timeout=42", NULL));
        ASSERT_TRUE(c->node.timeout == 42 * USEC_PER_SEC);
        ASSERT_OK(config_apply_set(c, "Node.Timeout=1h", NULL));
        ASSERT_TRUE(c->node.timeout == USEC_PER_HOUR);
        ASSERT_OK(config_apply_set(c, "Volume.TakeOverTimeout=250ms", NULL));
        ASSERT_TRUE(c->volume.take_over_timeout == 250 * USEC_PER_MSEC);
        /* A refused value leaves the previous one. */
        ASSERT_EQ(config_apply_set(c, "Node.Timeout=0", NULL), -EINVAL);
        ASSERT_TRUE(c->node.timeout == USEC_PER_HOUR);
}

static void test_booleans(void) {
        static const struct {
                const char *value;
                int expected;
        } cases[] = {
                { "yes", 1 }, { "YES", 1 }, { "true", 1 }, { "True", 1 }, { "on", 1 }, { "On", 1 }, { "1", 1 },
                { "no", 0 }, { "No", 0 }, { "false", 0 }, { "FALSE", 0 }, { "off", 0 }, { "OFF", 0 }, { "0", 0 },
                { "y", -1 }, { "n", -1 }, { "yess", -1 }, { "2", -1 }, { "enable", -1 }, { "-1", -1 },
        };
        _cleanup_(config_freep) Config *c = NULL;

        ASSERT_OK(config_new(&c));
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *a = NULL;
                int r;

                /* Start from the opposite of what is expected. */
                c->volume.grow = cases[i].expected != 1;
                ASSERT_TRUE(asprintf(&a, "Volume.Grow=%s", cases[i].value) > 0);
                r = config_apply_set(c, a, NULL);
                if (cases[i].expected < 0 ? r != -EINVAL : (r < 0 || c->volume.grow != (cases[i].expected == 1))) {
                        test_fail(__FILE__, __LINE__, "boolean \"%s\" misread (r=%d)", cases[i].value, r);
                        return;
                }
        }
}

static void test_tags(void) {
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_free_ char *k128 = repeat('k', 128), *k129 = repeat('k', 129);
        _cleanup_free_ char *v256 = repeat('v', 256), *v257 = repeat('v', 257);
        _cleanup_free_ char *a = NULL, *umlauts = NULL;

        ASSERT_NOT_NULL(k128);
        ASSERT_NOT_NULL(k129);
        ASSERT_NOT_NULL(v256);
        ASSERT_NOT_NULL(v257);
        ASSERT_OK(config_new(&c));

        ASSERT_OK(config_apply_set(c, "Volume.Tag=Name=kafka-1", NULL));
        ASSERT_STREQ(c->volume.tag.key, "Name");
        ASSERT_STREQ(c->volume.tag.value, "kafka-1");

        /* The value may contain "="; the key ends at the first one. */
        ASSERT_OK(config_apply_set(c, "Volume.Tag=cluster=a=b", NULL));
        ASSERT_STREQ(c->volume.tag.key, "cluster");
        ASSERT_STREQ(c->volume.tag.value, "a=b");

        ASSERT_OK(config_apply_set(c, "Interface.Tag=aws:cloudformation:logical-id=Eni1", NULL));
        ASSERT_STREQ(c->interface.tag.key, "aws:cloudformation:logical-id");
        ASSERT_STREQ(c->interface.tag.value, "Eni1");

        /* An empty tag value is a value AWS allows. */
        ASSERT_OK(config_apply_set(c, "Volume.Tag=role=", NULL));
        ASSERT_STREQ(c->volume.tag.key, "role");
        ASSERT_STREQ(c->volume.tag.value, "");

        ASSERT_TRUE(asprintf(&a, "Volume.Tag=%s=x", k128) > 0);
        ASSERT_OK(config_apply_set(c, a, NULL));
        a = mfree(a);
        ASSERT_TRUE(asprintf(&a, "Volume.Tag=%s=x", k129) > 0);
        ASSERT_EQ(config_apply_set(c, a, NULL), -EINVAL);
        a = mfree(a);
        ASSERT_TRUE(asprintf(&a, "Volume.Tag=k=%s", v256) > 0);
        ASSERT_OK(config_apply_set(c, a, NULL));
        a = mfree(a);
        ASSERT_TRUE(asprintf(&a, "Volume.Tag=k=%s", v257) > 0);
        ASSERT_EQ(config_apply_set(c, a, NULL), -EINVAL);
        a = mfree(a);

        /* Lengths are in characters: 128 "ä" are 256 bytes and fine. */
        umlauts = calloc(1, 128 * 2 + 1);
        ASSERT_NOT_NULL(umlauts);
        for (size_t i = 0; i < 128; i++)
                memcpy(umlauts + 2 * i, "\xc3\xa4", 2);
        ASSERT_TRUE(asprintf(&a, "Volume.Tag=%s=%s", umlauts, umlauts) > 0);
        ASSERT_OK(config_apply_set(c, a, NULL));
        ASSERT_STREQ(c->volume.tag.key, umlauts);

        ASSERT_EQ(config_apply_set(c, "Volume.Tag=novalue", NULL), -EINVAL);
        ASSERT_EQ(config_apply_set(c, "Volume.Tag==value", NULL), -EINVAL);

        /* The empty assignment unsets the tag. */
        ASSERT_OK(config_apply_set(c, "Volume.Tag=", NULL));
        ASSERT_NULL(c->volume.tag.key);
        ASSERT_NULL(c->volume.tag.value);
}

static void test_normalization(void) {
        static const struct {
                const char *assignment;
                size_t offset;
                const char *expected;
        } cases[] = {
                { "DNS.HostedZoneId=/hostedzone/Z0123456789ABCDEFGHIJ", offsetof(Config, dns.hosted_zone_id), "Z0123456789ABCDEFGHIJ" },
                { "DNS.HostedZoneId=Z0123456789ABCDEFGHIJ", offsetof(Config, dns.hosted_zone_id), "Z0123456789ABCDEFGHIJ" },
                { "DNS.Name=kafka-1.cluster.internal", offsetof(Config, dns.name), "kafka-1.cluster.internal." },
                { "DNS.Name=kafka-1.cluster.internal.", offsetof(Config, dns.name), "kafka-1.cluster.internal." },
                { "DNS.Name=Kafka-1.Cluster.INTERNAL", offsetof(Config, dns.name), "kafka-1.cluster.internal." },
                { "DNS.Name=localhost", offsetof(Config, dns.name), "localhost." },
                { "Volume.MountPoint=/var/lib/kafka/", offsetof(Config, volume.mount_point), "/var/lib/kafka" },
                { "Volume.MountPoint=//var//lib///kafka//", offsetof(Config, volume.mount_point), "/var/lib/kafka" },
                { "Volume.MountPoint=/data/.hidden/...", offsetof(Config, volume.mount_point), "/data/.hidden/..." },
                { "Volume.MountPoint=/srv/caf\xc3\xa9", offsetof(Config, volume.mount_point), "/srv/caf\xc3\xa9" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_(config_freep) Config *c = NULL;
                const char *got;

                ASSERT_OK(config_new(&c));
                ASSERT_OK(config_apply_set(c, cases[i].assignment, NULL));
                got = *(char **) ((uint8_t *) c + cases[i].offset);
                ASSERT_STREQ(got, cases[i].expected);
        }

        /* Only slashes is the root, which is refused. */
        ASSERT_EQ(set_one("Volume.MountPoint=///"), -EINVAL);
}

static void test_syntax(void) {
        _cleanup_(config_freep) Config *c = parse(
                "# A comment\n"
                "; another comment\n"
                "\n"
                "   \t\n"
                "  [Node]  \n"
                "  Name   =   first  \n"
                "Name=kafka-1\r\n"
                "\t# Indented comment\n"
                "[Volume]\n"
                "Id = vol-12345678\n"
                "MountPoint=/var/lib/kafka\n"
                "MountOptions=noatime\n"
                "[Node]\n"
                "Timeout=2min\n"
                "[Volume]\n"
                "Device=/dev/sdg");

        ASSERT_NOT_NULL(c);
        /* Later assignments win; trimming took spaces, tabs and the CR. */
        ASSERT_STREQ(c->node.name, "kafka-1");
        ASSERT_TRUE(c->node.timeout == 2 * USEC_PER_MINUTE);
        ASSERT_STREQ(c->volume.id, "vol-12345678");
        ASSERT_STREQ(c->volume.mount_point, "/var/lib/kafka");
        ASSERT_STREQ(c->volume.mount_options, "noatime");
        /* The last line has no newline and still counts. */
        ASSERT_STREQ(c->volume.device, "/dev/sdg");
        ASSERT_TRUE(c->has_volume);
        ASSERT_FALSE(c->has_interface);

        /* No comments after a value: the "#" is part of it, and here that
         * makes the value invalid. */
        ASSERT_NULL(parse("[Volume]\nId=vol-12345678 # the data\n"));
        /* An empty file is fine. */
        config_free(TAKE_PTR(c));
        c = parse("");
        ASSERT_NOT_NULL(c);
}

static void test_empty_assignment_resets(void) {
        _cleanup_(config_freep) Config *c = parse(
                "[Node]\nName=kafka-1\nTimeout=1min\n"
                "[Volume]\nDevice=/dev/sdg\nFileSystem=xfs\nGrow=no\nMountOptions=noatime\n"
                "[DNS]\nTTL=5\nMode=shared\n"
                "[Node]\nName=\nTimeout=\n"
                "[Volume]\nDevice=\nFileSystem=\nGrow=\nMountOptions=\n"
                "[DNS]\nTTL=\nMode=\n");

        ASSERT_NOT_NULL(c);
        ASSERT_NULL(c->node.name);
        ASSERT_TRUE(c->node.timeout == 15 * USEC_PER_MINUTE);
        ASSERT_STREQ(c->volume.device, "auto");
        ASSERT_EQ(c->volume.file_system, FILESYSTEM_EXT4);
        ASSERT_TRUE(c->volume.grow);
        ASSERT_NULL(c->volume.mount_options);
        ASSERT_EQ(c->dns.ttl, 60);
        ASSERT_EQ(c->dns.mode, DNS_MODE_NODE);

        /* Also through --set, and with only blanks after "=". */
        ASSERT_OK(config_apply_set(c, "Volume.Device=/dev/sdh", NULL));
        ASSERT_OK(config_apply_set(c, "Volume.Device=   ", NULL));
        ASSERT_STREQ(c->volume.device, "auto");
}

static void test_syntax_errors(void) {
        static const struct {
                const char *text;
                const char *message;
        } cases[] = {
                { "Name=kafka\n",
                  "test.conf:1: Name=kafka: assignment before any [Section] header" },
                { "[Node]\n\nName kafka\n",
                  "test.conf:3: Name kafka: neither [Section], Key=Value nor a comment" },
                { "[Node]\n=kafka\n",
                  "test.conf:2: =kafka: assignment without a key" },
                { "[Nodes]\n",
                  "test.conf:1: [Nodes]: unknown section (sections are Node, Volume, Volume:NAME, Interface, DNS and Signal)" },
                { "[volume]\n",
                  "test.conf:1: [volume]: unknown section (did you mean [Volume]?)" },
                { "[Volume\n",
                  "test.conf:1: [Volume: not a section header ([Section] alone on its line)" },
                { "[Volume] # data\n",
                  "test.conf:1: [Volume] # data: not a section header ([Section] alone on its line)" },
                { "[]\n",
                  "test.conf:1: []: not a section header ([Section] alone on its line)" },
                { "[Volume]\nColour=blue\n",
                  "test.conf:2: [Volume] Colour=blue: unknown key" },
                { "[Volume]\nmountpoint=/data\n",
                  "test.conf:2: [Volume] mountpoint=/data: unknown key (did you mean MountPoint=?)" },
                { "[Node]\nMountPoint=/data\n",
                  "test.conf:2: [Node] MountPoint=/data: unknown key (MountPoint= belongs in [Volume])" },
                { "# c\n[Volume]\nId=vol-123\n",
                  "test.conf:3: [Volume] Id=vol-123: not an EBS volume id (vol- and 8 or 17 lowercase hex digits)" },
                { "[Volume]\nMountOptions=a\x01z\n",
                  "test.conf:2: [Volume] MountOptions=a\\x01z: the value contains control characters" },
                { "[Volume]\nMountOptions=a\tz\n",
                  "test.conf:2: [Volume] MountOptions=a\\x09z: the value contains control characters" },
                { "[Volume]\nMountPoint=/data/\xff\n",
                  "test.conf:2: [Volume] MountPoint=/data/\\xff: the value is not valid UTF-8" },
                { "[Volume]\nMountOptions=noatime,\\\n",
                  "test.conf:2: [Volume] MountOptions=noatime,\\: continuation lines (a trailing \\) are not supported" },
                { "[DNS]\nTTL=-1\n",
                  "test.conf:2: [DNS] TTL=-1: not a TTL from 0 to 2147483647 seconds" },
                { "[Interface]\nRouting=static\n",
                  "test.conf:2: [Interface] Routing=static: not a routing mode (auto, agent or none)" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_(config_freep) Config *c = NULL;
                _cleanup_(config_error_done) ConfigError e = {};

                ASSERT_OK(config_new(&c));
                ASSERT_EQ(config_parse_string(c, "test.conf", cases[i].text, &e), -EINVAL);
                ASSERT_STREQ(e.message, cases[i].message);
                ASSERT_STREQ(e.source, "test.conf");
        }
}

static void test_error_fields(void) {
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_(config_error_done) ConfigError e = {};

        ASSERT_OK(config_new(&c));
        ASSERT_EQ(config_parse_string(c, "/etc/nodeagent/nodeagent.conf",
                                      "[Node]\nName=a\n\n[Volume]\nGrow=perhaps\n", &e), -EINVAL);
        ASSERT_STREQ(e.message, "/etc/nodeagent/nodeagent.conf:5: [Volume] Grow=perhaps: "
                     "not a boolean (yes, no, true, false, on, off, 1 or 0)");
        ASSERT_STREQ(e.source, "/etc/nodeagent/nodeagent.conf");
        ASSERT_EQ(e.line, 5);
        ASSERT_STREQ(e.section, "Volume");
        ASSERT_STREQ(e.key, "Grow");

        /* A second error replaces the first without leaking it. */
        ASSERT_EQ(config_apply_set(c, "Volume.Grow=perhaps", &e), -EINVAL);
        ASSERT_STREQ(e.message, "--set: [Volume] Grow=perhaps: not a boolean (yes, no, true, false, on, off, 1 or 0)");
        ASSERT_STREQ(e.source, "--set");
        ASSERT_EQ(e.line, 0);

        /* Success leaves the error alone; done twice is harmless. */
        ASSERT_OK(config_apply_set(c, "Volume.Grow=no", &e));
        ASSERT_NOT_NULL(e.message);
        config_error_done(&e);
        ASSERT_NULL(e.message);
        config_error_done(&e);
        config_error_done(NULL);

        /* Long values are shortened in messages. */
        {
                _cleanup_free_ char *longval = repeat('x', 1000), *a = NULL;

                ASSERT_NOT_NULL(longval);
                ASSERT_TRUE(asprintf(&a, "Node.Name=%s", longval) > 0);
                ASSERT_EQ(config_apply_set(c, a, &e), -EINVAL);
                ASSERT_TRUE(strlen(e.message) < 400);
                ASSERT_NOT_NULL(strstr(e.message, "xxx...: not a node name"));
        }

        /* ... and cut between characters, never inside one. */
        {
                _cleanup_free_ char *a = NULL, *umlauts = calloc(1, 150 * 2 + 1);

                ASSERT_NOT_NULL(umlauts);
                for (size_t i = 0; i < 150; i++)
                        memcpy(umlauts + 2 * i, "\xc3\xa4", 2);
                ASSERT_TRUE(asprintf(&a, "Volume.MountPoint=x%s", umlauts) > 0);
                ASSERT_EQ(config_apply_set(c, a, &e), -EINVAL);
                ASSERT_NOT_NULL(strstr(e.message, "x\xc3\xa4\xc3\xa4"));
                ASSERT_NOT_NULL(strstr(e.message, "\xc3\xa4...: not an absolute path"));
        }
}

static void test_set(void) {
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_(config_error_done) ConfigError e = {};

        ASSERT_OK(config_new(&c));

        ASSERT_OK(config_apply_set(c, "DNS.Name=kafka-1.example.com", &e));
        ASSERT_STREQ(c->dns.name, "kafka-1.example.com.");
        ASSERT_TRUE(c->has_dns);
        ASSERT_OK(config_apply_set(c, " Volume . Tag = Name=kafka=1 ", &e));
        ASSERT_STREQ(c->volume.tag.key, "Name");
        ASSERT_STREQ(c->volume.tag.value, "kafka=1");
        ASSERT_TRUE(c->has_volume);
        ASSERT_FALSE(c->has_interface);

        ASSERT_EQ(config_apply_set(c, "Volume", &e), -EINVAL);
        ASSERT_STREQ(e.message, "--set: Volume: not Section.Key=Value");
        ASSERT_EQ(config_apply_set(c, "Volume.Id", &e), -EINVAL);
        ASSERT_STREQ(e.message, "--set: Volume.Id: not Section.Key=Value");
        ASSERT_EQ(config_apply_set(c, "VolumeId=vol-12345678", &e), -EINVAL);
        ASSERT_STREQ(e.message, "--set: VolumeId=vol-12345678: not Section.Key=Value");
        ASSERT_EQ(config_apply_set(c, "Volume.=vol-12345678", &e), -EINVAL);
        ASSERT_STREQ(e.message, "--set: Volume.=vol-12345678: not Section.Key=Value");
        ASSERT_EQ(config_apply_set(c, ".Id=vol-12345678", &e), -EINVAL);
        ASSERT_STREQ(e.message, "--set: []: unknown section (sections are Node, Volume, Volume:NAME, Interface, DNS and Signal)");
        ASSERT_EQ(config_apply_set(c, "Disk.Id=vol-12345678", &e), -EINVAL);
        ASSERT_STREQ(e.message, "--set: [Disk]: unknown section (sections are Node, Volume, Volume:NAME, Interface, DNS and Signal)");
        ASSERT_EQ(config_apply_set(c, "dns.TTL=5", &e), -EINVAL);
        ASSERT_STREQ(e.message, "--set: [dns]: unknown section (did you mean [DNS]?)");
        ASSERT_EQ(config_apply_set(c, "DNS.Ttl=5", &e), -EINVAL);
        ASSERT_STREQ(e.message, "--set: [DNS] Ttl=5: unknown key (did you mean TTL=?)");
        ASSERT_STREQ(e.source, "--set");
        ASSERT_STREQ(e.section, "DNS");
        ASSERT_STREQ(e.key, "Ttl");
}

static void test_section_presence(void) {
        _cleanup_(config_freep) Config *c = parse("[Volume]\n[DNS]\n# nothing else\n");

        ASSERT_NOT_NULL(c);
        ASSERT_TRUE(c->has_volume);
        ASSERT_FALSE(c->has_interface);
        ASSERT_TRUE(c->has_dns);
        ASSERT_FALSE(c->has_signal);

        ASSERT_OK(config_apply_set(c, "Interface.Routing=none", NULL));
        ASSERT_TRUE(c->has_interface);
        ASSERT_OK(config_apply_set(c, "Signal.LifecycleHook=", NULL));
        ASSERT_TRUE(c->has_signal);
        /* A refused value does not make a section appear. */
        config_free(TAKE_PTR(c));
        ASSERT_OK(config_new(&c));
        ASSERT_EQ(config_apply_set(c, "Volume.Id=bad", NULL), -EINVAL);
        ASSERT_FALSE(c->has_volume);
}

static void test_parse_file(void) {
        _cleanup_rm_rf_ char *dir = tmpdir_new();
        _cleanup_free_ char *ok = NULL, *gw = NULL, *ow = NULL, *missing = NULL, *nul = NULL, *big = NULL;
        _cleanup_free_ char *bigtext = NULL;
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_(config_error_done) ConfigError e = {};
        _cleanup_close_ int fd = -EBADF;

        ASSERT_NOT_NULL(dir);
        ASSERT_OK(config_new(&c));

        ok = write_file(dir, "ok.conf", "[Node]\nName=from-file\n", 0644);
        ASSERT_NOT_NULL(ok);
        ASSERT_OK(config_parse_file(c, ok, false, &e));
        ASSERT_STREQ(c->node.name, "from-file");
        ASSERT_NULL(e.message);

        gw = write_file(dir, "gw.conf", "[Node]\nName=group\n", 0664);
        ASSERT_NOT_NULL(gw);
        ASSERT_EQ(config_parse_file(c, gw, false, &e), -EPERM);
        ASSERT_NOT_NULL(strstr(e.message, "group or others may write (mode 0664)"));
        ASSERT_TRUE(startswith(e.message, gw) != NULL);
        ASSERT_STREQ(c->node.name, "from-file");

        ow = write_file(dir, "ow.conf", "[Node]\nName=others\n", 0602);
        ASSERT_NOT_NULL(ow);
        ASSERT_EQ(config_parse_file(c, ow, false, &e), -EPERM);

        ASSERT_TRUE(asprintf(&missing, "%s/missing.conf", dir) > 0);
        ASSERT_OK(config_parse_file(c, missing, true, &e));
        ASSERT_EQ(config_parse_file(c, missing, false, &e), -ENOENT);
        ASSERT_NOT_NULL(strstr(e.message, "cannot open"));

        /* A directory is no configuration file. */
        ASSERT_EQ(config_parse_file(c, dir, false, &e), -EINVAL);
        ASSERT_NOT_NULL(strstr(e.message, "not a regular file"));

        ASSERT_TRUE(asprintf(&nul, "%s/nul.conf", dir) > 0);
        fd = open(nul, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        ASSERT_TRUE(fd >= 0);
        ASSERT_EQ(write(fd, "[Node]\0\n", 8), 8);
        fd = safe_close(fd);
        ASSERT_EQ(config_parse_file(c, nul, false, &e), -EINVAL);
        ASSERT_NOT_NULL(strstr(e.message, "NUL byte"));

        bigtext = repeat('#', (size_t) 2 * 1024 * 1024);
        ASSERT_NOT_NULL(bigtext);
        big = write_file(dir, "big.conf", bigtext, 0644);
        ASSERT_NOT_NULL(big);
        ASSERT_EQ(config_parse_file(c, big, false, &e), -EINVAL);
        ASSERT_NOT_NULL(strstr(e.message, "larger than"));

        /* Someone else's file is refused even with a safe mode: they could
         * change it. Only root can give a file away to show this. */
        if (geteuid() == 0) {
                _cleanup_free_ char *theirs = write_file(dir, "theirs.conf", "[Node]\n", 0644);

                ASSERT_NOT_NULL(theirs);
                ASSERT_OK(chown(theirs, 65534, 65534));
                ASSERT_EQ(config_parse_file(c, theirs, false, &e), -EPERM);
                ASSERT_NOT_NULL(strstr(e.message, "owned by uid 65534"));
        }

        /* Errors name the file and the line. */
        free(ok);
        ok = write_file(dir, "bad.conf", "[Node]\n\n[Interface]\nDeviceIndex=0\n", 0600);
        ASSERT_NOT_NULL(ok);
        ASSERT_EQ(config_parse_file(c, ok, false, &e), -EINVAL);
        ASSERT_STREQ(e.source, ok);
        ASSERT_EQ(e.line, 4);
        ASSERT_NOT_NULL(strstr(e.message, ":4: [Interface] DeviceIndex=0: not a device index from 1 to 31"));
}

static void test_load_order(void) {
        _cleanup_rm_rf_ char *dir = tmpdir_new();
        _cleanup_free_ char *main_path = NULL, *confd = NULL;
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_(config_error_done) ConfigError e = {};
        char *sets[] = { (char *) "Node.Name=from-set", (char *) "DNS.Mode=shared", NULL };
        static const struct {
                const char *name, *text;
        } dropins[] = {
                /* strcmp() order: "10-a.conf" < "20-b.conf" < "B.conf" < "a.conf". */
                { "20-b.conf", "[Node]\nName=from-20\n[DNS]\nTTL=20\n" },
                { "10-a.conf", "[Node]\nName=from-10\nTimeout=10min\n[DNS]\nTTL=10\nWaitInSync=yes\n" },
                { "a.conf", "[Volume]\nDevice=/dev/sdh\n" },
                { "B.conf", "[Volume]\nDevice=/dev/sdg\nGrow=no\n" },
                /* Not *.conf, or hidden: never read (they would fail). */
                { "notes.txt", "garbage\n" },
                { "c.conf.bak", "garbage\n" },
                { ".hidden.conf", "garbage\n" },
                { "conf", "garbage\n" },
        };

        ASSERT_NOT_NULL(dir);
        main_path = write_file(dir, "nodeagent.conf",
                               "[Node]\nName=from-main\nTimeout=5min\n[DNS]\nTTL=1\nHostedZoneId=Z1\n", 0644);
        ASSERT_NOT_NULL(main_path);
        ASSERT_TRUE(asprintf(&confd, "%s/conf.d", dir) > 0);
        ASSERT_OK(mkdir(confd, 0755));
        for (size_t i = 0; i < ELEMENTSOF(dropins); i++) {
                _cleanup_free_ char *p = write_file(confd, dropins[i].name, dropins[i].text, 0644);

                ASSERT_NOT_NULL(p);
        }
        {
                /* A directory named like a drop-in is not skipped silently. */
                _cleanup_free_ char *sub = NULL;

                ASSERT_TRUE(asprintf(&sub, "%s/zz.conf", confd) > 0);
                ASSERT_OK(mkdir(sub, 0755));
                ASSERT_OK(config_new(&c));
                ASSERT_EQ(config_load(c, main_path, NULL, &e), -EINVAL);
                ASSERT_NOT_NULL(strstr(e.message, "zz.conf: not a regular file"));
                ASSERT_OK(rmdir(sub));
                config_free(TAKE_PTR(c));
        }

        ASSERT_OK(config_new(&c));
        ASSERT_OK(config_load(c, main_path, sets, &e));
        ASSERT_STREQ(c->node.name, "from-set");
        ASSERT_TRUE(c->node.timeout == 10 * USEC_PER_MINUTE);
        ASSERT_EQ(c->dns.ttl, 20);
        ASSERT_TRUE(c->dns.wait_in_sync);
        ASSERT_STREQ(c->dns.hosted_zone_id, "Z1");
        ASSERT_EQ(c->dns.mode, DNS_MODE_SHARED);
        ASSERT_STREQ(c->volume.device, "/dev/sdh");
        ASSERT_FALSE(c->volume.grow);

        /* User data comes after conf.d and before --set. */
        ASSERT_EQ(config_apply_user_data(c,
                                         "#nodeagent\n"
                                         "[Node]\nName=from-user-data\n"
                                         "[DNS]\nTTL=30\nMode=multivalue\n"
                                         "[Interface]\nId=eni-12345678\n",
                                         sets, &e), 1);
        ASSERT_STREQ(c->node.name, "from-set");
        ASSERT_EQ(c->dns.ttl, 30);
        ASSERT_EQ(c->dns.mode, DNS_MODE_SHARED);
        ASSERT_TRUE(c->has_interface);
        ASSERT_STREQ(c->interface.id, "eni-12345678");
        ASSERT_TRUE(c->node.timeout == 10 * USEC_PER_MINUTE);
}

static void test_load_missing(void) {
        _cleanup_rm_rf_ char *dir = tmpdir_new();
        _cleanup_free_ char *main_path = NULL, *confd = NULL, *dropin = NULL;
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_(config_error_done) ConfigError e = {};

        ASSERT_NOT_NULL(dir);
        ASSERT_TRUE(asprintf(&main_path, "%s/nodeagent.conf", dir) > 0);

        /* Neither the file nor conf.d: all defaults. */
        ASSERT_OK(config_new(&c));
        ASSERT_OK(config_load(c, main_path, NULL, &e));
        ASSERT_NULL(c->node.name);
        ASSERT_FALSE(c->has_volume);

        /* Only conf.d: it is still read. */
        ASSERT_TRUE(asprintf(&confd, "%s/conf.d", dir) > 0);
        ASSERT_OK(mkdir(confd, 0755));
        dropin = write_file(confd, "50-node.conf", "[Node]\n\nName=dropin\n[Volume]\nId=vol-1\n", 0644);
        ASSERT_NOT_NULL(dropin);
        ASSERT_EQ(config_load(c, main_path, NULL, &e), -EINVAL);
        /* The error names the drop-in and its line. */
        ASSERT_TRUE(startswith(e.message, dropin) != NULL);
        ASSERT_NOT_NULL(strstr(e.message, "50-node.conf:5: [Volume] Id=vol-1: not an EBS volume id"));

        free(dropin);
        dropin = write_file(confd, "50-node.conf", "[Node]\nName=dropin\n", 0644);
        ASSERT_NOT_NULL(dropin);
        config_free(TAKE_PTR(c));
        ASSERT_OK(config_new(&c));
        ASSERT_OK(config_load(c, main_path, NULL, &e));
        ASSERT_STREQ(c->node.name, "dropin");

        /* A bad --set fails the load and names itself. */
        {
                char *sets[] = { (char *) "Node.Timeout=0", NULL };

                ASSERT_EQ(config_load(c, main_path, sets, &e), -EINVAL);
                ASSERT_STREQ(e.message, "--set: [Node] Timeout=0: the deadline must be longer than 0");
        }
}

static void test_user_data(void) {
        static const struct {
                const char *text;
                bool ours;
        } cases[] = {
                { "#nodeagent\n[Node]\nName=a\n", true },
                { "#nodeagent", true },
                { "#nodeagent\r\n[Node]\r\n", true },
                { "#nodeagent \t\n", true },
                { "#!/bin/bash\necho hi\n", false },
                { "#cloud-config\n", false },
                { "#nodeagentx\n", false },
                { "#nodeagent v2\n", false },
                { " #nodeagent\n", false },
                { "#NODEAGENT\n", false },
                { "\n#nodeagent\n", false },
                { "", false },
        };
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_(config_error_done) ConfigError e = {};
        char *sets[] = { (char *) "Node.Name=from-set", NULL };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++)
                if (config_is_nodeagent_user_data(cases[i].text) != cases[i].ours) {
                        test_fail(__FILE__, __LINE__, "user data \"%s\" misjudged", cases[i].text);
                        return;
                }
        ASSERT_FALSE(config_is_nodeagent_user_data(NULL));

        ASSERT_OK(config_new(&c));
        /* Not ours: nothing changes, --set is not applied either. */
        ASSERT_EQ(config_apply_user_data(c, "#!/bin/bash\n[Node]\nName=x\n", sets, &e), 0);
        ASSERT_NULL(c->node.name);
        ASSERT_EQ(config_apply_user_data(c, NULL, sets, &e), 0);
        ASSERT_NULL(c->node.name);

        ASSERT_EQ(config_apply_user_data(c, "#nodeagent\n[Node]\nName=ud\n", NULL, &e), 1);
        ASSERT_STREQ(c->node.name, "ud");

        /* Same messages as files, named "user data". */
        ASSERT_EQ(config_apply_user_data(c, "#nodeagent\n[Volume]\nFileSystem=zfs\n", sets, &e), -EINVAL);
        ASSERT_STREQ(e.message, "user data:3: [Volume] FileSystem=zfs: not a supported filesystem (ext4 or xfs)");
        ASSERT_STREQ(e.source, "user data");
        ASSERT_EQ(e.line, 3);
}

static void test_validate(void) {
        static const struct {
                const char *text;
                const char *message; /* NULL: valid */
        } cases[] = {
                { "[Node]\n", NULL },
                { "[Volume]\nId=vol-12345678\nMountPoint=/data\n", NULL },
                { "[Volume]\nTag=Name=kafka-1\nMountPoint=/data\n", NULL },
                { "# x\n[Volume]\nMountPoint=/data\n",
                  "v.conf:2: [Volume] needs Id= or Tag=" },
                { "[Volume]\nId=vol-12345678\n",
                  "v.conf:1: [Volume] needs MountPoint=" },
                { "[Volume]\nId=vol-12345678\nMountPoint=/data\n[Node]\n[Volume]\nTag=Name=x\n",
                  "v.conf:1: [Volume] has both Id= (v.conf:2) and Tag= (v.conf:6): keep one, and reset the other with an empty assignment" },
                /* Resetting one of them is the way out. */
                { "[Volume]\nId=vol-12345678\nMountPoint=/data\nId=\nTag=Name=x\n", NULL },
                { "[Interface]\n",
                  "v.conf:1: [Interface] needs Id= or Tag=" },
                { "[Interface]\nTag=Role=kafka\n", NULL },
                { "[Interface]\nId=eni-12345678\nTag=Role=kafka\n",
                  "v.conf:1: [Interface] has both Id= (v.conf:2) and Tag= (v.conf:3): keep one, and reset the other with an empty assignment" },
                { "[DNS]\nName=a.example\n",
                  "v.conf:1: [DNS] needs HostedZoneId=" },
                { "[DNS]\nHostedZoneId=Z1\n",
                  "v.conf:1: [DNS] needs Name=" },
                { "[DNS]\nHostedZoneId=Z1\nName=a.example\n", NULL },
                { "[Signal]\n", NULL },
                { "[Signal]\nLifecycleHook=launch\n", NULL },
                { "[Signal]\nCloudFormationStack=s\nCloudFormationResource=R\n", NULL },
                { "[Signal]\n\nCloudFormationStack=s\n",
                  "v.conf:3: [Signal] CloudFormationStack= needs CloudFormationResource= too (SignalResource takes both)" },
                { "[Signal]\nCloudFormationResource=R\n",
                  "v.conf:2: [Signal] CloudFormationResource= needs CloudFormationStack= too (SignalResource takes both)" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_(config_freep) Config *c = NULL;
                _cleanup_(config_error_done) ConfigError e = {};
                int r;

                ASSERT_OK(config_new(&c));
                ASSERT_OK(config_parse_string(c, "v.conf", cases[i].text, &e));
                r = config_validate(c, &e);
                if (!cases[i].message) {
                        if (r < 0) {
                                test_fail(__FILE__, __LINE__, "case %zu: unexpected: %s", i, strna(e.message));
                                return;
                        }
                        continue;
                }
                ASSERT_EQ(r, -EINVAL);
                ASSERT_STREQ(e.message, cases[i].message);
        }

        /* Across sources: the message points at where the section began. */
        {
                _cleanup_(config_freep) Config *c = NULL;
                _cleanup_(config_error_done) ConfigError e = {};

                ASSERT_OK(config_new(&c));
                ASSERT_OK(config_apply_set(c, "Volume.MountPoint=/data", &e));
                ASSERT_EQ(config_validate(c, &e), -EINVAL);
                ASSERT_STREQ(e.message, "--set: [Volume] needs Id= or Tag=");
                ASSERT_STREQ(e.section, "Volume");
        }
}

static void test_plan(void) {
        _cleanup_(config_freep) Config *c = NULL, *d = NULL, *empty = NULL;
        _cleanup_free_ char *p = NULL, *q = NULL, *pe = NULL;

        ASSERT_OK(config_new(&empty));
        pe = plan(empty);
        ASSERT_NOT_NULL(pe);
        ASSERT_STREQ(pe,
                     "[Node]\n"
                     "# Name= is empty: the instance id.\n"
                     "Name=\n"
                     "Timeout=15min\n"
                     "\n# [Volume] is absent: no volume is attached or mounted.\n"
                     "\n# [Interface] is absent: no interface is attached; DNS publishes the primary private IP.\n"
                     "\n# [DNS] is absent: no DNS record is published.\n"
                     "\n# [Signal] is absent: no CloudFormation or lifecycle signal is sent.\n");

        c = parse("[Node]\nName=kafka-1\nTimeout=1min 30s\n"
                  "[Volume]\nTag=Name=kafka=1\nMountPoint=/var/lib/kafka/\nFileSystem=xfs\nMountOptions=noatime\n"
                  "TakeOver=force-detach-dead\nTakeOverTimeout=1500us\n"
                  "[Interface]\nId=eni-0123456789abcdef0\nDeviceIndex=2\nRouting=agent\nDetachOnStop=yes\n"
                  "[DNS]\nHostedZoneId=/hostedzone/Z0123\nName=Kafka-1.Cluster.Internal\nMode=shared\nTTL=0\n"
                  "[Signal]\nCloudFormationStack=stack\nCloudFormationResource=Asg\n");
        ASSERT_NOT_NULL(c);
        p = plan(c);
        ASSERT_NOT_NULL(p);
        ASSERT_NOT_NULL(strstr(p, "[Volume]\nId=\nTag=Name=kafka=1\nCount=\nStripe=none\nDevice=auto\n"
                                  "MountPoint=/var/lib/kafka\n"
                                  "FileSystem=xfs\nMountOptions=noatime\nFormat=if-blank\nGrow=yes\n"
                                  "TakeOver=force-detach-dead\nTakeOverTimeout=1500us\nDetachOnStop=no\n"
                                  "Restore=no\nSize=\nVolumeType=gp3\n"));
        ASSERT_NOT_NULL(strstr(p, "Timeout=1min 30s\n"));
        ASSERT_NOT_NULL(strstr(p, "[DNS]\nHostedZoneId=Z0123\nName=kafka-1.cluster.internal.\nMode=shared\nTTL=0\nWaitInSync=no\n"));
        ASSERT_NOT_NULL(strstr(p, "[Signal]\nCloudFormationStack=stack\nCloudFormationResource=Asg\nLifecycleHook=\n"));
        ASSERT_NULL(strstr(p, "absent"));
        ASSERT_NULL(strstr(p, "instance id"));

        /* The plan reads back to the same configuration. */
        d = parse(p);
        ASSERT_NOT_NULL(d);
        q = plan(d);
        ASSERT_NOT_NULL(q);
        ASSERT_STREQ(q, p);
        ASSERT_TRUE(d->volume.take_over_timeout == 1500);
        ASSERT_OK(config_validate(d, NULL));
}

/* [Volume:NAME]: its own section of every [Volume] key, in c->volumes
 * after [Volume], merged by name. */
static void test_named_sections(void) {
        _cleanup_(config_freep) Config *c = parse(
                "[Volume:log]\nId=vol-11111111\nMountPoint=/var/lib/kafka/log\nGrow=no\n"
                "[Volume:wal-2]\nTag=role=wal\n"
                "[Volume]\nId=vol-22222222\nMountPoint=/var/lib/kafka\n"
                "[Volume:log]\nFileSystem=xfs\nTakeOver=handover\n");
        ConfigVolume *log, *wal;

        ASSERT_NOT_NULL(c);
        ASSERT_TRUE(c->has_volume);
        ASSERT_EQ(c->n_volumes, 3);
        /* [Volume] first, though it came last, then the order of first
         * appearance. */
        ASSERT_TRUE(c->volumes[0] == &c->volume);
        ASSERT_STREQ(c->volumes[0]->section, "data");
        ASSERT_STREQ(c->volumes[1]->section, "log");
        ASSERT_STREQ(c->volumes[2]->section, "wal-2");

        log = config_volume_find(c, "log");
        wal = config_volume_find(c, "wal-2");
        ASSERT_TRUE(log == c->volumes[1]);
        ASSERT_TRUE(wal == c->volumes[2]);
        ASSERT_TRUE(config_volume_find(c, "data") == &c->volume);
        ASSERT_NULL(config_volume_find(c, "Log"));
        ASSERT_NULL(config_volume_find(c, "Volume:log"));

        /* Each section has its own values, merged across its headers. */
        ASSERT_STREQ(log->id, "vol-11111111");
        ASSERT_STREQ(log->mount_point, "/var/lib/kafka/log");
        ASSERT_FALSE(log->grow);
        ASSERT_EQ(log->file_system, FILESYSTEM_XFS);
        ASSERT_EQ(log->take_over, TAKE_OVER_HANDOVER);
        ASSERT_STREQ(log->device, "auto");
        ASSERT_STREQ(wal->tag.key, "role");
        ASSERT_NULL(wal->id);
        ASSERT_NULL(wal->mount_point);
        ASSERT_TRUE(wal->grow);
        ASSERT_STREQ(c->volume.id, "vol-22222222");
        ASSERT_TRUE(c->volume.grow);
        ASSERT_EQ(c->volume.file_system, FILESYSTEM_EXT4);

        /* --set reaches one section, and an empty value resets it there. */
        ASSERT_OK(config_apply_set(c, "Volume:log.MountPoint=/x", NULL));
        ASSERT_STREQ(log->mount_point, "/x");
        ASSERT_STREQ(c->volume.mount_point, "/var/lib/kafka");
        ASSERT_OK(config_apply_set(c, "Volume:log.Grow=", NULL));
        ASSERT_TRUE(log->grow);
        ASSERT_FALSE(c->volume.detach_on_stop);

        /* A new section by --set is added at the end. */
        ASSERT_OK(config_apply_set(c, "Volume:z.DetachOnStop=yes", NULL));
        ASSERT_EQ(c->n_volumes, 4);
        ASSERT_STREQ(c->volumes[3]->section, "z");
        ASSERT_TRUE(c->volumes[3]->detach_on_stop);
        /* ... but not when its value is refused. */
        ASSERT_EQ(config_apply_set(c, "Volume:y.Grow=perhaps", NULL), -EINVAL);
        ASSERT_EQ(config_apply_set(c, "Volume:y.Colour=blue", NULL), -EINVAL);
        ASSERT_EQ(c->n_volumes, 4);
        ASSERT_NULL(config_volume_find(c, "y"));

        /* A header alone makes a section present, as for [Volume]. */
        config_free(TAKE_PTR(c));
        c = parse("[Volume:empty]\n");
        ASSERT_NOT_NULL(c);
        ASSERT_FALSE(c->has_volume);
        ASSERT_EQ(c->n_volumes, 1);
        ASSERT_STREQ(c->volumes[0]->section, "empty");
        /* [Volume] arriving later goes in front. */
        ASSERT_OK(config_apply_set(c, "Volume.Grow=no", NULL));
        ASSERT_TRUE(c->has_volume);
        ASSERT_EQ(c->n_volumes, 2);
        ASSERT_TRUE(c->volumes[0] == &c->volume);
        ASSERT_STREQ(c->volumes[1]->section, "empty");
}

static void test_named_section_errors(void) {
        static const struct {
                const char *text;
                const char *message;
        } cases[] = {
                { "[Volume:Log]\n",
                  "t.conf:1: [Volume:Log]: not a volume section name (Volume: and 1 to 32 of a-z 0-9 -)" },
                { "[Volume:]\n",
                  "t.conf:1: [Volume:]: not a volume section name (Volume: and 1 to 32 of a-z 0-9 -)" },
                { "[Volume:a_b]\n",
                  "t.conf:1: [Volume:a_b]: not a volume section name (Volume: and 1 to 32 of a-z 0-9 -)" },
                { "[Volume:a:b]\n",
                  "t.conf:1: [Volume:a:b]: not a volume section name (Volume: and 1 to 32 of a-z 0-9 -)" },
                { "[Volume: log]\n",
                  "t.conf:1: [Volume: log]: not a volume section name (Volume: and 1 to 32 of a-z 0-9 -)" },
                { "[Volume:data]\n",
                  "t.conf:1: [Volume:data]: \"data\" is the name of [Volume]; write [Volume]" },
                { "[Interface:eth1]\n",
                  "t.conf:1: [Interface:eth1]: only volume sections take a name ([Volume:NAME])" },
                { "[volume:log]\n",
                  "t.conf:1: [volume:log]: unknown section (did you mean [Volume:log]?)" },
                { "[Volumes:log]\n",
                  "t.conf:1: [Volumes:log]: unknown section (sections are Node, Volume, Volume:NAME, Interface, DNS and Signal)" },
                { "[Volume:log]\nGrow=perhaps\n",
                  "t.conf:2: [Volume:log] Grow=perhaps: not a boolean (yes, no, true, false, on, off, 1 or 0)" },
                { "[Volume:log]\nRouting=none\n",
                  "t.conf:2: [Volume:log] Routing=none: unknown key (Routing= belongs in [Interface])" },
                { "[Volume:log]\n=x\n",
                  "t.conf:2: =x: assignment without a key" },
        };
        _cleanup_free_ char *n32 = repeat('a', 32), *n33 = repeat('a', 33), *a = NULL;

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_(config_freep) Config *c = NULL;
                _cleanup_(config_error_done) ConfigError e = {};

                ASSERT_OK(config_new(&c));
                ASSERT_EQ(config_parse_string(c, "t.conf", cases[i].text, &e), -EINVAL);
                ASSERT_STREQ(e.message, cases[i].message);
        }

        /* The error's section is the section as written. */
        {
                _cleanup_(config_freep) Config *c = NULL;
                _cleanup_(config_error_done) ConfigError e = {};

                ASSERT_OK(config_new(&c));
                ASSERT_EQ(config_apply_set(c, "Volume:log.Grow=perhaps", &e), -EINVAL);
                ASSERT_STREQ(e.message, "--set: [Volume:log] Grow=perhaps: not a boolean (yes, no, true, false, on, off, 1 or 0)");
                ASSERT_STREQ(e.section, "Volume:log");
                ASSERT_STREQ(e.key, "Grow");
                ASSERT_EQ(config_apply_set(c, "Volume:log.=x", &e), -EINVAL);
                ASSERT_STREQ(e.message, "--set: Volume:log.=x: not Section.Key=Value");
                ASSERT_EQ(c->n_volumes, 0);
        }

        ASSERT_NOT_NULL(n32);
        ASSERT_NOT_NULL(n33);
        ASSERT_TRUE(volume_section_name_is_valid(n32));
        ASSERT_FALSE(volume_section_name_is_valid(n33));
        ASSERT_TRUE(volume_section_name_is_valid("0"));
        ASSERT_TRUE(volume_section_name_is_valid("-"));
        ASSERT_TRUE(volume_section_name_is_valid("data"));
        ASSERT_FALSE(volume_section_name_is_valid(""));
        ASSERT_FALSE(volume_section_name_is_valid("D"));
        ASSERT_FALSE(volume_section_name_is_valid("a.b"));
        ASSERT_FALSE(volume_section_name_is_valid(NULL));
        ASSERT_TRUE(asprintf(&a, "Volume:%s.Grow=no", n32) > 0);
        ASSERT_OK(set_one(a));
        a = mfree(a);
        ASSERT_TRUE(asprintf(&a, "Volume:%s.Grow=no", n33) > 0);
        ASSERT_EQ(set_one(a), -EINVAL);
}

/* Id= takes several ids; a later Id= replaces the list, never appends. */
static void test_id_lists(void) {
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_(config_error_done) ConfigError e = {};

        ASSERT_OK(config_new(&c));
        ASSERT_OK(config_apply_set(c, "Volume.Id=vol-11111111 vol-22222222  vol-33333333", &e));
        ASSERT_EQ(c->volume.n_ids, 3);
        ASSERT_STREQ(c->volume.ids[0], "vol-11111111");
        ASSERT_STREQ(c->volume.ids[1], "vol-22222222");
        ASSERT_STREQ(c->volume.ids[2], "vol-33333333");
        ASSERT_NULL(c->volume.ids[3]);
        ASSERT_TRUE(c->volume.id == c->volume.ids[0]);
        ASSERT_EQ(config_volume_n_members(&c->volume), 3);

        ASSERT_OK(config_apply_set(c, "Volume.Id=vol-44444444", &e));
        ASSERT_EQ(c->volume.n_ids, 1);
        ASSERT_STREQ(c->volume.id, "vol-44444444");
        ASSERT_NULL(c->volume.ids[1]);

        /* A refused list leaves the previous one whole. */
        ASSERT_EQ(config_apply_set(c, "Volume.Id=vol-55555555 vol-55555555", &e), -EINVAL);
        ASSERT_STREQ(e.message, "--set: [Volume] Id=vol-55555555 vol-55555555: the same value appears twice");
        ASSERT_EQ(config_apply_set(c, "Volume.Id=vol-55555555 vol-5", &e), -EINVAL);
        ASSERT_STREQ(e.message, "--set: [Volume] Id=vol-55555555 vol-5: not an EBS volume id (vol- and 8 or 17 lowercase hex digits)");
        ASSERT_EQ(c->volume.n_ids, 1);
        ASSERT_STREQ(c->volume.id, "vol-44444444");

        ASSERT_EQ(config_apply_set(c,
                                   "Volume.Id=vol-00000001 vol-00000002 vol-00000003 vol-00000004 vol-00000005 "
                                   "vol-00000006 vol-00000007 vol-00000008 vol-00000009 vol-0000000a vol-0000000b "
                                   "vol-0000000c vol-0000000d vol-0000000e vol-0000000f vol-00000010", &e), 0);
        ASSERT_EQ(c->volume.n_ids, 16);
        ASSERT_EQ(config_apply_set(c,
                                   "Volume.Id=vol-00000001 vol-00000002 vol-00000003 vol-00000004 vol-00000005 "
                                   "vol-00000006 vol-00000007 vol-00000008 vol-00000009 vol-0000000a vol-0000000b "
                                   "vol-0000000c vol-0000000d vol-0000000e vol-0000000f vol-00000010 vol-00000011", &e),
                  -EINVAL);
        ASSERT_NOT_NULL(strstr(e.message, ": more than 16 volume ids"));

        /* The empty assignment unsets all of it. */
        ASSERT_OK(config_apply_set(c, "Volume.Id=", &e));
        ASSERT_NULL(c->volume.ids);
        ASSERT_NULL(c->volume.id);
        ASSERT_EQ(c->volume.n_ids, 0);

        /* Count= is the member count of a set found by tag. */
        ASSERT_OK(config_apply_set(c, "Volume.Tag=node=kafka-1", &e));
        ASSERT_EQ(config_volume_n_members(&c->volume), 1);
        ASSERT_OK(config_apply_set(c, "Volume.Count=3", &e));
        ASSERT_EQ(config_volume_n_members(&c->volume), 3);
        ASSERT_OK(config_apply_set(c, "Volume.Count=", &e));
        ASSERT_EQ(c->volume.count, 0);
        ASSERT_OK(config_apply_set(c, "Volume.Size=500", &e));
        ASSERT_EQ(c->volume.size_gib, 500);
        ASSERT_OK(config_apply_set(c, "Volume.Size=", &e));
        ASSERT_EQ(c->volume.size_gib, 0);
}

/* The rules of every volume section, and across them. */
static void test_validate_volumes(void) {
        static const struct {
                const char *text;
                const char *message; /* NULL: valid */
        } cases[] = {
                { "[Volume:log]\nId=vol-12345678\nMountPoint=/log\n", NULL },
                { "[Volume:log]\nMountPoint=/log\n",
                  "v.conf:1: [Volume:log] needs Id= or Tag=" },
                { "[Volume]\nId=vol-12345678\nMountPoint=/data\n[Volume:log]\nTag=a=b\n",
                  "v.conf:4: [Volume:log] needs MountPoint=" },
                { "[Volume:log]\nId=vol-12345678\nTag=a=b\nMountPoint=/log\n",
                  "v.conf:1: [Volume:log] has both Id= (v.conf:2) and Tag= (v.conf:3): keep one, and reset the other with an empty assignment" },

                /* Striped sets. */
                { "[Volume]\nId=vol-11111111 vol-22222222\nStripe=raid0\nMountPoint=/data\n", NULL },
                { "[Volume:s]\nTag=set=kafka-1\nCount=3\nStripe=raid0\nMountPoint=/data\n", NULL },
                { "[Volume]\nId=vol-11111111 vol-22222222\nMountPoint=/data\n",
                  "v.conf:2: [Volume] Id= names 2 volumes: a striped set needs Stripe=raid0 (without it a section is one volume)" },
                { "[Volume]\nId=vol-11111111\nStripe=raid0\nMountPoint=/data\n",
                  "v.conf:3: [Volume] Stripe=raid0 needs at least two volumes: several ids in Id=, or Tag= with Count=" },
                { "[Volume]\nTag=a=b\nStripe=raid0\nMountPoint=/data\n",
                  "v.conf:3: [Volume] Stripe=raid0 needs at least two volumes: several ids in Id=, or Tag= with Count=" },
                { "[Volume]\nId=vol-11111111\nCount=2\nStripe=raid0\nMountPoint=/data\n",
                  "v.conf:3: [Volume] Count=2 needs Tag=: it is how many volumes carry the tag" },
                { "[Volume]\nTag=a=b\nCount=2\nMountPoint=/data\n",
                  "v.conf:3: [Volume] Count=2 needs Stripe=raid0 (without it a section is one volume)" },
                { "[Volume]\nId=vol-11111111 vol-22222222\nStripe=raid0\nDevice=/dev/sdg\nMountPoint=/data\n",
                  "v.conf:4: [Volume] Device=/dev/sdg: the members of a striped set take their names from Device=auto" },
                /* Stripe=none spelled out is the default. */
                { "[Volume]\nId=vol-11111111\nStripe=none\nMountPoint=/data\n", NULL },

                /* Restore= needs Tag=. */
                { "[Volume]\nTag=a=b\nRestore=snapshot\nMountPoint=/data\nSize=100\nVolumeType=io2\n", NULL },
                /* A set found by Tag= + Count= restores as a whole (from
                 * one multi-volume snapshot set); one named by Id= cannot. */
                { "[Volume]\nTag=a=b\nCount=2\nStripe=raid0\nRestore=snapshot-or-blank\nMountPoint=/data\n", NULL },
                { "[Volume]\nId=vol-11111111 vol-22222222\nStripe=raid0\nRestore=snapshot\nMountPoint=/data\n",
                  "v.conf:4: [Volume] Restore=snapshot with a striped set named by Id=: a set restores only when "
                  "found by Tag= + Count= (its new members carry the tag)" },
                { "[Volume:log]\nId=vol-11111111\nRestore=blank\nMountPoint=/data\n",
                  "v.conf:3: [Volume:log] Restore=blank needs Tag= (a restore finds volumes by their tag)" },
                { "[Volume]\nId=vol-11111111\nRestore=no\nMountPoint=/data\n", NULL },
                { "[Node]\nName=kafka-1\n[Interface]\nTag=a=b\nRestore=create\nTakeOver=handover\n", NULL },
                /* A handover goes between instances of one named node. */
                { "[Interface]\nTag=a=b\nTakeOver=handover\n",
                  "v.conf:3: [Interface] TakeOver=handover needs [Node] Name= (the name every instance of the node "
                  "carries in its nodeagent:node tag)" },
                { "[Volume:log]\nTag=a=b\nMountPoint=/log\nTakeOver=handover\n",
                  "v.conf:4: [Volume:log] TakeOver=handover needs [Node] Name= (the name every instance of the node "
                  "carries in its nodeagent:node tag)" },
                { "[Interface]\nId=eni-12345678\n\nRestore=create\n",
                  "v.conf:4: [Interface] Restore=create needs Tag= (the new interface is found again by the tag)" },
                { "[DNS]\nHostedZoneId=Z1\nName=a.example\nUnpublishOnStop=terminating\n", NULL },

                /* Across sections: nested mount points are fine, the same
                 * one, the same volume, tag or device name is not. */
                { "[Volume]\nId=vol-11111111\nMountPoint=/data\n"
                  "[Volume:log]\nId=vol-22222222\nMountPoint=/data/log\n"
                  "[Volume:idx]\nTag=a=b\nMountPoint=/data/log/idx\n", NULL },
                { "[Volume]\nId=vol-11111111\nMountPoint=/data\n"
                  "[Volume:log]\nId=vol-22222222\nMountPoint=/data/\n",
                  "v.conf:6: [Volume:log] MountPoint=/data is also [Volume]'s (v.conf:3): each volume section needs its own mount point" },
                { "[Volume:a]\nId=vol-11111111 vol-33333333\nStripe=raid0\nMountPoint=/a\n"
                  "[Volume:b]\nMountPoint=/b\nId=vol-22222222 vol-33333333\nStripe=raid0\n",
                  "v.conf:7: [Volume:b] Id=: vol-33333333 is also in [Volume:a] (v.conf:2): a volume belongs to one section" },
                { "[Volume:a]\nTag=a=b\nMountPoint=/a\n[Volume:b]\nTag=a=b\nMountPoint=/b\n",
                  "v.conf:5: [Volume:b] Tag=a=b is also [Volume:a]'s (v.conf:2): both would find the same volumes" },
                { "[Volume:a]\nTag=a=b\nMountPoint=/a\n[Volume:b]\nTag=a=c\nMountPoint=/b\n", NULL },
                { "[Volume:a]\nTag=a=b\nMountPoint=/a\nDevice=/dev/sdg\n[Volume:b]\nTag=a=c\nMountPoint=/b\nDevice=/dev/sdg\n",
                  "v.conf:8: [Volume:b] Device=/dev/sdg is also [Volume:a]'s (v.conf:4): one name, one attachment" },
                { "[Volume:a]\nTag=a=b\nMountPoint=/a\n[Volume:b]\nTag=a=c\nMountPoint=/b\n[Volume]\n",
                  "v.conf:7: [Volume] needs Id= or Tag=" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_(config_freep) Config *c = NULL;
                _cleanup_(config_error_done) ConfigError e = {};
                int r;

                ASSERT_OK(config_new(&c));
                ASSERT_OK(config_parse_string(c, "v.conf", cases[i].text, &e));
                r = config_validate(c, &e);
                if (!cases[i].message) {
                        if (r < 0) {
                                test_fail(__FILE__, __LINE__, "case %zu: unexpected: %s", i, strna(e.message));
                                return;
                        }
                        continue;
                }
                if (r != -EINVAL || !streq_ptr(e.message, cases[i].message)) {
                        test_fail(__FILE__, __LINE__, "case %zu: got %d \"%s\", expected \"%s\"", i, r,
                                  strna(e.message), cases[i].message);
                        return;
                }
        }

        /* A rule broken by --set points at --set. */
        {
                _cleanup_(config_freep) Config *c = parse("[Volume:log]\nId=vol-11111111\nMountPoint=/log\n");
                _cleanup_(config_error_done) ConfigError e = {};

                ASSERT_NOT_NULL(c);
                ASSERT_OK(config_apply_set(c, "Volume:log.Stripe=raid0", &e));
                ASSERT_EQ(config_validate(c, &e), -EINVAL);
                ASSERT_STREQ(e.message, "--set: [Volume:log] Stripe=raid0 needs at least two volumes: several ids in Id=, or Tag= with Count=");
                ASSERT_STREQ(e.section, "Volume:log");
                ASSERT_STREQ(e.key, "Stripe");
        }
}

static void test_select_volume(void) {
        _cleanup_(config_freep) Config *c = NULL, *none = NULL;
        _cleanup_(config_error_done) ConfigError e = {};

        c = parse("[Volume:log]\nTag=a=b\nMountPoint=/log\n[Volume]\nTag=a=c\nMountPoint=/data\n"
                  "[Volume:wal]\nTag=a=d\nMountPoint=/wal\n");
        ASSERT_NOT_NULL(c);

        ASSERT_OK(config_select_volume(c, "log", &e));
        ASSERT_TRUE(c->only_volume == config_volume_find(c, "log"));
        ASSERT_OK(config_select_volume(c, "data", &e));
        ASSERT_TRUE(c->only_volume == &c->volume);

        ASSERT_EQ(config_select_volume(c, "Volume:log", &e), -EINVAL);
        ASSERT_STREQ(e.message, "--section: Volume:log: no such volume section (volume sections: data ([Volume]), log, wal)");
        ASSERT_EQ(config_select_volume(c, "idx", &e), -EINVAL);
        ASSERT_STREQ(e.message, "--section: idx: no such volume section (volume sections: data ([Volume]), log, wal)");
        ASSERT_TRUE(c->only_volume == &c->volume);

        ASSERT_OK(config_new(&none));
        ASSERT_EQ(config_select_volume(none, "data", &e), -EINVAL);
        ASSERT_STREQ(e.message, "--section: data: no such volume section (volume sections: there is none)");
        ASSERT_NULL(none->only_volume);
}

/* Named sections through every source, in the contract's order. */
static void test_load_named(void) {
        _cleanup_rm_rf_ char *dir = tmpdir_new();
        _cleanup_free_ char *main_path = NULL, *confd = NULL, *dropin = NULL;
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_(config_error_done) ConfigError e = {};
        char *sets[] = { (char *) "Volume:log.MountPoint=/x", (char *) "Volume:set.Count=4", NULL };
        ConfigVolume *log, *set;

        ASSERT_NOT_NULL(dir);
        main_path = write_file(dir, "nodeagent.conf",
                               "[Volume:log]\nId=vol-11111111\nMountPoint=/var/lib/kafka/log\nFileSystem=xfs\n"
                               "[Volume:set]\nTag=set=kafka-1\nCount=2\nStripe=raid0\nMountPoint=/set\n", 0644);
        ASSERT_NOT_NULL(main_path);
        ASSERT_TRUE(asprintf(&confd, "%s/conf.d", dir) > 0);
        ASSERT_OK(mkdir(confd, 0755));
        /* A later Id= replaces; an empty one resets to the default. */
        dropin = write_file(confd, "50-log.conf", "[Volume:log]\nId=vol-22222222\nFileSystem=\n", 0644);
        ASSERT_NOT_NULL(dropin);

        ASSERT_OK(config_new(&c));
        ASSERT_OK(config_load(c, main_path, sets, &e));
        log = config_volume_find(c, "log");
        set = config_volume_find(c, "set");
        ASSERT_NOT_NULL(log);
        ASSERT_NOT_NULL(set);
        ASSERT_EQ(log->n_ids, 1);
        ASSERT_STREQ(log->id, "vol-22222222");
        ASSERT_EQ(log->file_system, FILESYSTEM_EXT4);
        ASSERT_STREQ(log->mount_point, "/x");
        ASSERT_EQ(set->count, 4);

        ASSERT_EQ(config_apply_user_data(c,
                                         "#nodeagent\n"
                                         "[Volume:log]\nMountPoint=/from-user-data\nId=vol-33333333 vol-44444444\nStripe=raid0\n"
                                         "[Volume:set]\nCount=3\n"
                                         "[Volume:ud]\nTag=ud=1\nMountPoint=/ud\n"
                                         "[Volume]\nTag=data=1\nMountPoint=/data\n",
                                         sets, &e), 1);
        ASSERT_EQ(c->n_volumes, 4);
        ASSERT_TRUE(c->volumes[0] == &c->volume);
        ASSERT_STREQ(c->volumes[1]->section, "log");
        ASSERT_STREQ(c->volumes[2]->section, "set");
        ASSERT_STREQ(c->volumes[3]->section, "ud");
        ASSERT_TRUE(log == c->volumes[1]);
        /* --set keeps the last word. */
        ASSERT_STREQ(log->mount_point, "/x");
        ASSERT_EQ(set->count, 4);
        ASSERT_EQ(log->n_ids, 2);
        ASSERT_STREQ(log->ids[1], "vol-44444444");
        ASSERT_OK(config_validate(c, &e));

        /* User data's errors name the section as written. */
        ASSERT_EQ(config_apply_user_data(c, "#nodeagent\n[Volume:ud]\nSize=0\n", NULL, &e), -EINVAL);
        ASSERT_STREQ(e.message, "user data:3: [Volume:ud] Size=0: not a size from 1 to 65536 GiB");
}

static void test_plan_named(void) {
        _cleanup_(config_freep) Config *c = NULL, *d = NULL;
        _cleanup_free_ char *p = NULL, *q = NULL;

        c = parse("[Node]\nName=kafka-1\n"
                  "[Volume:log]\nId=vol-11111111 vol-22222222\nStripe=raid0\nMountPoint=/log\nSize=10\n"
                  "[Volume:b]\nTag=a=b\nMountPoint=/b\nRestore=snapshot\nVolumeType=st1\n"
                  "TakeOver=handover\n"
                  "[Interface]\nTag=a=b\nRestore=create\n"
                  "[DNS]\nHostedZoneId=Z1\nName=a.example\nUnpublishOnStop=terminating\n");
        ASSERT_NOT_NULL(c);
        p = plan(c);
        ASSERT_NOT_NULL(p);
        ASSERT_NOT_NULL(strstr(p, "\n# [Volume] is absent: only the named volume sections below are attached.\n"
                                  "\n[Volume:log]\nId=vol-11111111 vol-22222222\nTag=\nCount=\nStripe=raid0\n"));
        ASSERT_NOT_NULL(strstr(p, "Restore=no\nSize=10\nVolumeType=gp3\n\n[Volume:b]\nId=\nTag=a=b\nCount=\n"));
        ASSERT_NOT_NULL(strstr(p, "TakeOver=handover\n"));
        ASSERT_NOT_NULL(strstr(p, "Restore=snapshot\nSize=\nVolumeType=st1\n\n[Interface]\n"));
        ASSERT_NOT_NULL(strstr(p, "DetachOnStop=no\nRestore=create\n"));
        ASSERT_NOT_NULL(strstr(p, "UnpublishOnStop=terminating\n"));

        /* The plan reads back to the same configuration. */
        d = parse(p);
        ASSERT_NOT_NULL(d);
        q = plan(d);
        ASSERT_NOT_NULL(q);
        ASSERT_STREQ(q, p);
        ASSERT_EQ(d->n_volumes, 2);
        ASSERT_FALSE(d->has_volume);
        ASSERT_EQ(d->volumes[0]->n_ids, 2);
        ASSERT_OK(config_validate(d, NULL));

        /* With [Volume] too, it comes first. */
        ASSERT_OK(config_apply_set(c, "Volume.Id=vol-33333333", NULL));
        p = mfree(p);
        p = plan(c);
        ASSERT_NOT_NULL(p);
        ASSERT_NULL(strstr(p, "absent: only"));
        ASSERT_NOT_NULL(strstr(p, "\n[Volume]\nId=vol-33333333\n"));
        ASSERT_TRUE(strstr(p, "[Volume]\n") < strstr(p, "[Volume:log]\n"));
        ASSERT_TRUE(strstr(p, "[Volume:log]\n") < strstr(p, "[Volume:b]\n"));
}

int main(void) {
        RUN_TEST(test_defaults);
        RUN_TEST(test_enum_tables);
        RUN_TEST(test_id_validation);
        RUN_TEST(test_values_table);
        RUN_TEST(test_value_limits);
        RUN_TEST(test_durations);
        RUN_TEST(test_booleans);
        RUN_TEST(test_tags);
        RUN_TEST(test_normalization);
        RUN_TEST(test_syntax);
        RUN_TEST(test_empty_assignment_resets);
        RUN_TEST(test_syntax_errors);
        RUN_TEST(test_error_fields);
        RUN_TEST(test_set);
        RUN_TEST(test_section_presence);
        RUN_TEST(test_parse_file);
        RUN_TEST(test_load_order);
        RUN_TEST(test_load_missing);
        RUN_TEST(test_user_data);
        RUN_TEST(test_validate);
        RUN_TEST(test_plan);
        RUN_TEST(test_named_sections);
        RUN_TEST(test_named_section_errors);
        RUN_TEST(test_id_lists);
        RUN_TEST(test_validate_volumes);
        RUN_TEST(test_select_volume);
        RUN_TEST(test_load_named);
        RUN_TEST(test_plan_named);
        return tests_finish();
}
