/* SPDX-License-Identifier: Apache-2.0 */
#include <fcntl.h>
#include <libudev.h>
#include <poll.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "blockdev.h"
#include "wait.h"
#include "log.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(struct udev *, udev_unref);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct udev_monitor *, udev_monitor_unref);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct udev_enumerate *, udev_enumerate_unref);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct udev_device *, udev_device_unref);

#define EBS_NVME_MODEL "Amazon Elastic Block Store"
#define EBS_IO_TIMEOUT "4294967295"
#define EC2_NVME_RULES "70-ec2-nvme-devices.rules"
#define VOLUME_ID_PREFIX "vol-"
#define VOLUME_ID_HEX_MAX 32U

static const char *const block_serial_source_table[_BLOCK_SERIAL_SOURCE_MAX] = {
        [BLOCK_SERIAL_SOURCE_NONE]     = "none",
        [BLOCK_SERIAL_SOURCE_NVME]     = "nvme-sysfs",
        [BLOCK_SERIAL_SOURCE_VIRTIO]   = "virtio-sysfs",
        [BLOCK_SERIAL_SOURCE_UDEV]     = "udev",
        [BLOCK_SERIAL_SOURCE_XEN_NAME] = "xen-name",
};

const char *block_serial_source_to_string(BlockSerialSource s) {
        if ((unsigned) s >= ELEMENTSOF(block_serial_source_table))
                return NULL;
        return block_serial_source_table[s];
}

void block_device_done(BlockDevice *d) {
        if (!d)
                return;
        free(d->devnode);
        free(d->syspath);
        free(d->serial);
        free(d->model);
        *d = (BlockDevice) {};
}

/* ---- pure parts ---------------------------------------------------------- */

static bool is_padding(char c) {
        return c == ' ' || c == '\t' || c == '\n' || c == '\0';
}

size_t blockdev_serial_length(const char *serial, size_t size) {
        size_t n;

        if (!serial)
                return 0;

        /* Sysfs values may carry NULs inside the buffer read; everything
         * from the first NUL on is padding as far as a serial goes. */
        n = strnlen(serial, size);
        while (n > 0 && is_padding(serial[n - 1]))
                n--;
        return n;
}

bool blockdev_volume_id_is_valid(const char *volume_id) {
        const char *hex;
        size_t n = 0;

        if (!volume_id)
                return false;
        hex = startswith(volume_id, VOLUME_ID_PREFIX);
        if (!hex)
                return false;

        /* EC2 ids are lowercase; accepting only them keeps the comparison
         * with the serial exact. */
        for (const char *p = hex; *p; p++, n++)
                if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
                        return false;
        return n >= 1 && n <= VOLUME_ID_HEX_MAX;
}

bool blockdev_serial_matches_volume(const char *serial, const char *volume_id) {
        const char *rest;
        size_t n, hex_len;

        if (!serial || !blockdev_volume_id_is_valid(volume_id))
                return false;

        /* The serial is the id with the dash dropped: "vol" + the hex part. */
        n = blockdev_serial_length(serial, SIZE_MAX);
        rest = startswith(serial, "vol");
        if (!rest || n < 3)
                return false;

        hex_len = strlen(volume_id) - strlen(VOLUME_ID_PREFIX);
        return n - 3 == hex_len && strncmp(rest, volume_id + strlen(VOLUME_ID_PREFIX), hex_len) == 0;
}

static bool has_serial(const char *s) {
        return blockdev_serial_length(s, SIZE_MAX) > 0;
}

BlockSerialSource blockdev_pick_serial(const BlockSerialInputs *in, const char **ret_serial) {
        const char *sysname;

        if (!in)
                return BLOCK_SERIAL_SOURCE_NONE;
        sysname = strempty(in->sysname);

        /* Sysfs first: it is what the device says now, while the udev
         * database reflects the last event udev processed. */
        if (startswith(sysname, "nvme") && has_serial(in->device_serial)) {
                *ret_serial = in->device_serial;
                return BLOCK_SERIAL_SOURCE_NVME;
        }
        if (startswith(sysname, "vd") && has_serial(in->serial)) {
                *ret_serial = in->serial;
                return BLOCK_SERIAL_SOURCE_VIRTIO;
        }
        if (has_serial(in->id_serial_short)) {
                *ret_serial = in->id_serial_short;
                return BLOCK_SERIAL_SOURCE_UDEV;
        }
        return BLOCK_SERIAL_SOURCE_NONE;
}

static bool is_disk_name_suffix(const char *s) {
        const char *p = s;

        /* One or more lowercase letters, then optional digits: "f", "ba". */
        while (*p >= 'a' && *p <= 'z')
                p++;
        if (p == s)
                return false;
        while (*p >= '0' && *p <= '9')
                p++;
        return *p == '\0';
}

int blockdev_xen_devnode(const char *device_name, char **ret) {
        const char *name, *suffix;
        char *devnode;

        if (!device_name)
                return -EINVAL;

        name = startswith(device_name, "/dev/");
        if (!name)
                name = device_name;

        suffix = startswith(name, "xvd");
        if (!suffix)
                suffix = startswith(name, "sd");
        if (!suffix || !is_disk_name_suffix(suffix))
                return -EINVAL;

        if (asprintf(&devnode, "/dev/xvd%s", suffix) < 0)
                return -ENOMEM;
        *ret = devnode;
        return 0;
}

static bool is_nvme_namespace_name(const char *sysname) {
        const char *p;

        /* nvme<controller>n<namespace>, nothing after: a partition would
         * go on with "p<number>". */
        p = startswith(strempty(sysname), "nvme");
        if (!p || !(*p >= '0' && *p <= '9'))
                return false;
        while (*p >= '0' && *p <= '9')
                p++;
        if (*p != 'n')
                return false;
        p++;
        if (!(*p >= '0' && *p <= '9'))
                return false;
        while (*p >= '0' && *p <= '9')
                p++;
        return *p == '\0';
}

bool blockdev_wants_ebs_io_timeout(const char *sysname, const char *model, bool ec2_rules_present) {
        size_t n;

        if (ec2_rules_present || !model || !is_nvme_namespace_name(sysname))
                return false;

        /* udev ignores trailing whitespace when it matches ATTRS{model}; the
         * NVMe model is space-padded to 40 characters. */
        n = blockdev_serial_length(model, SIZE_MAX);
        return n == strlen(EBS_NVME_MODEL) && strncmp(model, EBS_NVME_MODEL, n) == 0;
}

/* ---- the rules file check (small I/O, testable under a root) ------------- */

bool blockdev_ec2_nvme_rules_present(const char *root) {
        static const char *const dirs[] = {
                /* udev's own order: the first directory holding the name wins. */
                "/etc/udev/rules.d",
                "/run/udev/rules.d",
                "/usr/local/lib/udev/rules.d",
                "/usr/lib/udev/rules.d",
                "/lib/udev/rules.d",
        };

        if (isempty(root) || streq(root, "/"))
                root = "";

        for (size_t i = 0; i < ELEMENTSOF(dirs); i++) {
                _cleanup_free_ char *path = NULL;
                struct stat st;

                /* cppcheck-suppress nullPointer ; isempty() above turned a NULL root into "" */
                if (asprintf(&path, "%s%s/%s", root, dirs[i], EC2_NVME_RULES) < 0)
                        return false;
                if (lstat(path, &st) < 0)
                        continue;

                /* A link to /dev/null, or an empty file, masks the rules of
                 * the directories after it. */
                if (stat(path, &st) < 0 || S_ISCHR(st.st_mode) || (S_ISREG(st.st_mode) && st.st_size == 0)) {
                        log_debug("%s masks the EC2 NVMe udev rules.", path);
                        return false;
                }
                log_debug("EC2 NVMe udev rules found at %s.", path);
                return true;
        }
        return false;
}

/* ---- kernel-facing parts ------------------------------------------------- */

/* What the caller is looking for, and the one notice of the Xen fallback. */
typedef struct Matcher {
        const char *volume_id;
        char *xen_devnode;
        bool xen_notice_logged;
} Matcher;

static void matcher_done(Matcher *m) {
        m->xen_devnode = mfree(m->xen_devnode);
}

static int matcher_init(Matcher *m, const char *volume_id, const char *xen_device_name) {
        int r;

        if (!blockdev_volume_id_is_valid(volume_id))
                return log_debug_errno(EINVAL, "Not a volume id: \"%s\".", strempty(volume_id));

        *m = (Matcher) { .volume_id = volume_id };
        if (xen_device_name) {
                r = blockdev_xen_devnode(xen_device_name, &m->xen_devnode);
                if (r < 0)
                        return log_debug_errno(r, "Cannot map \"%s\" to a Xen device name: %m",
                                               xen_device_name);
        }
        return 0;
}

static int strdup_trimmed(const char *s, char **ret) {
        char *copy;

        if (!s) {
                *ret = NULL;
                return 0;
        }
        copy = strndup(s, blockdev_serial_length(s, SIZE_MAX));
        if (!copy)
                return -ENOMEM;
        *ret = copy;
        return 0;
}

/* The size sysfs reports, in 512-byte sectors whatever the block size. */
static uint64_t device_size(struct udev_device *d) {
        const char *s = udev_device_get_sysattr_value(d, "size");
        unsigned long long sectors;
        char *end = NULL;

        if (!s || !(*s >= '0' && *s <= '9'))
                return 0;
        errno = 0;
        sectors = strtoull(s, &end, 10);
        if (errno != 0 || end == s || *end != '\0' || sectors > UINT64_MAX / 512)
                return 0;
        return (uint64_t) sectors * 512;
}

static int block_device_fill(struct udev_device *d, const char *serial, BlockSerialSource source,
                             BlockDevice *ret) {
        _cleanup_(block_device_done) BlockDevice b = { .source = source };
        int r;

        b.devnode = strdup(udev_device_get_devnode(d));
        b.syspath = strdup(udev_device_get_syspath(d));
        if (!b.devnode || !b.syspath)
                return -ENOMEM;
        r = strdup_trimmed(serial, &b.serial);
        if (r < 0)
                return r;
        r = strdup_trimmed(udev_device_get_sysattr_value(d, "device/model"), &b.model);
        if (r < 0)
                return r;
        b.size = device_size(d);

        *ret = b;
        b = (BlockDevice) {};
        return 0;
}

/* Decides whether d is the volume. Returns 1 and fills ret when it is, 0
 * when it is not (or cannot tell yet), negative errno on failure. */
static int check_device(Matcher *m, struct udev_device *d, bool skip_uninitialized, BlockDevice *ret) {
        const char *devnode, *serial = NULL;
        BlockSerialInputs in;
        BlockSerialSource source;
        int r;

        devnode = udev_device_get_devnode(d);
        if (!devnode || !streq_ptr(udev_device_get_devtype(d), "disk"))
                return 0;

        /* The monitor on the "udev" source hands out only processed events;
         * a disk found by enumeration may still be waiting for udev, and
         * its event will come. */
        if (skip_uninitialized && udev_device_get_is_initialized(d) <= 0) {
                log_debug("%s: not initialised by udev yet, waiting for its event.", devnode);
                return 0;
        }

        in = (BlockSerialInputs) {
                .sysname = udev_device_get_sysname(d),
                .device_serial = udev_device_get_sysattr_value(d, "device/serial"),
                .serial = udev_device_get_sysattr_value(d, "serial"),
                .id_serial_short = udev_device_get_property_value(d, "ID_SERIAL_SHORT"),
        };
        source = blockdev_pick_serial(&in, &serial);

        if (source != BLOCK_SERIAL_SOURCE_NONE) {
                if (!blockdev_serial_matches_volume(serial, m->volume_id)) {
                        log_debug("%s: serial \"%.*s\" (%s) is not %s.", devnode,
                                  (int) blockdev_serial_length(serial, SIZE_MAX), serial,
                                  block_serial_source_to_string(source), m->volume_id);
                        return 0;
                }
                r = block_device_fill(d, serial, source, ret);
                if (r < 0)
                        return r;
                log_debug("%s: serial %s (%s) proves volume %s.", devnode, ret->serial,
                          block_serial_source_to_string(source), m->volume_id);
                return 1;
        }

        /* Only a disk without any serial may be taken by its name: on Xen
         * the name is all EC2 gives. */
        if (!m->xen_devnode || !streq(devnode, m->xen_devnode))
                return 0;

        r = block_device_fill(d, NULL, BLOCK_SERIAL_SOURCE_XEN_NAME, ret);
        if (r < 0)
                return r;
        if (!m->xen_notice_logged) {
                log_notice("%s has no serial; taking it as volume %s by its Xen device name.",
                           devnode, m->volume_id);
                m->xen_notice_logged = true;
        }
        return 1;
}

/* Looks at every block disk present now. */
static int scan(Matcher *m, struct udev *udev, BlockDevice *ret) {
        _cleanup_(udev_enumerate_unrefp) struct udev_enumerate *e = NULL;
        struct udev_list_entry *entry;
        int r;

        e = udev_enumerate_new(udev);
        if (!e)
                return -errno ?: -ENOMEM;
        r = udev_enumerate_add_match_subsystem(e, "block");
        if (r < 0)
                return r;
        r = udev_enumerate_add_match_property(e, "DEVTYPE", "disk");
        if (r < 0)
                return r;
        r = udev_enumerate_scan_devices(e);
        if (r < 0)
                return r;

        udev_list_entry_foreach(entry, udev_enumerate_get_list_entry(e)) {
                _cleanup_(udev_device_unrefp) struct udev_device *d = NULL;

                /* A disk may vanish between the scan and this look. */
                d = udev_device_new_from_syspath(udev, udev_list_entry_get_name(entry));
                if (!d)
                        continue;
                r = check_device(m, d, true, ret);
                if (r != 0)
                        return r;
        }
        return 0;
}

/* Handles every event queued on the monitor. */
static int drain(Matcher *m, struct udev *udev, struct udev_monitor *monitor, BlockDevice *ret) {
        for (;;) {
                _cleanup_(udev_device_unrefp) struct udev_device *d = NULL;
                int r;

                errno = 0;
                d = udev_monitor_receive_device(monitor);
                if (!d) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == 0)
                                return 0;
                        if (errno == ENOBUFS) {
                                /* The socket overflowed and events were lost:
                                 * what they said is in sysfs and the udev
                                 * database now. */
                                log_debug("Lost udev events, looking at all disks again.");
                                return scan(m, udev, ret);
                        }
                        return -errno;
                }

                if (streq_ptr(udev_device_get_action(d), "remove"))
                        continue;
                r = check_device(m, d, false, ret);
                if (r != 0)
                        return r;
        }
}

static int udev_new_checked(struct udev **ret) {
        struct udev *udev = udev_new();

        if (!udev)
                return -errno ?: -ENOMEM;
        *ret = udev;
        return 0;
}

int blockdev_find(const char *volume_id, const char *xen_device_name, BlockDevice *ret) {
        _cleanup_(matcher_done) Matcher m = {};
        _cleanup_(udev_unrefp) struct udev *udev = NULL;
        int r;

        r = matcher_init(&m, volume_id, xen_device_name);
        if (r < 0)
                return r;
        r = udev_new_checked(&udev);
        if (r < 0)
                return r;

        r = scan(&m, udev, ret);
        if (r < 0)
                return log_debug_errno(r, "Failed to look at block devices: %m");
        if (r == 0)
                return log_debug_errno(ENOENT, "No disk present carries volume %s.", volume_id);
        return 0;
}

struct BlockdevWatch {
        char *volume_id;                /* the matcher's: the caller's string may not live as long */
        Matcher matcher;
        struct udev *udev;
        struct udev_monitor *monitor;
        bool scanned;
        BlockDevice found;
        bool have_found;
};

BlockdevWatch *blockdev_watch_free(BlockdevWatch *w) {
        if (!w)
                return NULL;
        matcher_done(&w->matcher);
        free(w->volume_id);
        udev_monitor_unref(w->monitor);
        udev_unref(w->udev);
        block_device_done(&w->found);
        return mfree(w);
}

int blockdev_watch_new(const char *volume_id, const char *xen_device_name, BlockdevWatch **ret) {
        _cleanup_(blockdev_watch_freep) BlockdevWatch *w = NULL;
        int r;

        w = calloc(1, sizeof(BlockdevWatch));
        if (!w)
                return -ENOMEM;
        w->volume_id = strdup(strempty(volume_id));
        if (!w->volume_id)
                return -ENOMEM;
        r = matcher_init(&w->matcher, w->volume_id, xen_device_name);
        if (r < 0)
                return r;

        /* Without udevd no event would ever come; say so instead of waiting
         * for the deadline. */
        if (access("/run/udev/control", F_OK) < 0)
                return log_debug_errno(ENXIO, "systemd-udevd is not running, no device would be announced.");

        r = udev_new_checked(&w->udev);
        if (r < 0)
                return r;
        w->monitor = udev_monitor_new_from_netlink(w->udev, "udev");
        if (!w->monitor)
                return log_debug_errno(errno ?: ENOMEM, "Failed to create a udev monitor: %m");
        r = udev_monitor_filter_add_match_subsystem_devtype(w->monitor, "block", "disk");
        if (r < 0)
                return log_debug_errno(r, "Failed to filter the udev monitor: %m");
        /* A larger buffer makes overflows (handled by a rescan) rarer. */
        (void) udev_monitor_set_receive_buffer_size(w->monitor, 4 * 1024 * 1024);

        /* Listen first, then look (at the first wait): a disk that appears
         * in between is then either seen by the scan or announced to the
         * monitor, or both. */
        r = udev_monitor_enable_receiving(w->monitor);
        if (r < 0)
                return log_debug_errno(r, "Failed to start the udev monitor: %m");

        *ret = TAKE_PTR(w);
        return 0;
}

/* 1 when the disk is known (w->found), 0 when not yet. */
static int watch_check(BlockdevWatch *w) {
        int r;

        if (w->have_found)
                return 1;
        if (!w->scanned) {
                w->scanned = true;
                r = scan(&w->matcher, w->udev, &w->found);
        } else
                r = drain(&w->matcher, w->udev, w->monitor, &w->found);
        if (r < 0)
                return log_debug_errno(r, "Failed to look for the disk of %s: %m", w->matcher.volume_id);
        w->have_found = r > 0;
        return r;
}

static int watch_take(BlockdevWatch *w, BlockDevice *ret) {
        *ret = w->found;
        w->found = (BlockDevice) {};
        w->have_found = false;
        return 1;
}

int blockdev_watch_wait(BlockdevWatch *w, usec_t until, BlockDevice *ret) {
        int r;

        for (;;) {
                struct pollfd p = { .fd = udev_monitor_get_fd(w->monitor), .events = POLLIN };

                r = watch_check(w);
                if (r != 0)
                        return r < 0 ? r : watch_take(w, ret);

                /* POLLERR is how a netlink socket reports an overflow; the
                 * receive in drain() picks it up as ENOBUFS. */
                p.events |= POLLERR;
                r = wait_for_fds(&p, 1, until, WAIT_CANCELLABLE);
                if (r < 0)
                        return log_debug_errno(r, "Failed to wait for udev events: %m");
                if (r == 0)
                        return 0;
                if (p.revents & (POLLHUP | POLLNVAL))
                        return log_debug_errno(EIO, "The udev monitor closed.");
        }
}

int blockdev_wait(const char *volume_id, const char *xen_device_name, usec_t deadline, BlockDevice *ret) {
        _cleanup_(blockdev_watch_freep) BlockdevWatch *w = NULL;
        int r;

        r = blockdev_watch_new(volume_id, xen_device_name, &w);
        if (r < 0)
                return r;
        log_debug("Waiting for the disk of volume %s (deadline in %s).", volume_id,
                  FORMAT_DURATION(usec_left(deadline)));
        r = blockdev_watch_wait(w, deadline, ret);
        if (r == 0)
                return log_debug_errno(ETIME, "Volume %s did not show up before the deadline.", volume_id);
        return r < 0 ? r : 0;
}

int blockdev_verify(const char *devnode, const char *volume_id, const char *xen_device_name) {
        _cleanup_(matcher_done) Matcher m = {};
        _cleanup_(udev_unrefp) struct udev *udev = NULL;
        _cleanup_(udev_device_unrefp) struct udev_device *d = NULL;
        _cleanup_(block_device_done) BlockDevice b = {};
        struct stat st;
        int r;

        if (isempty(devnode))
                return -EINVAL;
        r = matcher_init(&m, volume_id, xen_device_name);
        if (r < 0)
                return r;

        /* The device number, not the path, names the device: a link such as
         * /dev/disk/by-id/... is followed here and what it points to is
         * proven by its own serial. */
        if (stat(devnode, &st) < 0)
                return log_debug_errno(errno, "Cannot look at %s: %m", devnode);
        if (!S_ISBLK(st.st_mode))
                return log_debug_errno(ENODEV, "%s is not a block device.", devnode);

        r = udev_new_checked(&udev);
        if (r < 0)
                return r;
        d = udev_device_new_from_devnum(udev, 'b', st.st_rdev);
        if (!d)
                return log_debug_errno(ENODEV, "%s (%u:%u) is not known to sysfs.", devnode,
                                       major(st.st_rdev), minor(st.st_rdev));
        if (!streq_ptr(udev_device_get_devtype(d), "disk"))
                return log_debug_errno(ENODEV, "%s is not a whole disk.", devnode);

        /* Read from sysfs and the udev database as they are now, initialised
         * or not: a serial in sysfs is proof either way. The Xen fallback is
         * logged at notice by the wait that found the device, not again. */
        m.xen_notice_logged = true;
        /* NOLINTNEXTLINE(clang-analyzer-unix.Malloc): what check_device() puts in b is freed by b's _cleanup_, which clang 14 does not run. */
        r = check_device(&m, d, false, &b);
        if (r < 0)
                return r;
        if (r == 0)
                return log_debug_errno(ENODEV, "%s is not volume %s.", devnode, volume_id);
        return 0;
}

int blockdev_set_ebs_io_timeout(const BlockDevice *d) {
        _cleanup_free_ char *path = NULL;
        _cleanup_close_ int fd = -EBADF;
        const char *sysname;
        ssize_t n;

        if (!d || !d->syspath)
                return -EINVAL;
        sysname = strrchr(d->syspath, '/');
        sysname = sysname ? sysname + 1 : d->syspath;

        if (!blockdev_wants_ebs_io_timeout(sysname, d->model, blockdev_ec2_nvme_rules_present(NULL))) {
                log_debug("%s: leaving queue/io_timeout alone (not EBS NVMe, or amazon-ec2-utils' rules handle it).",
                          strna(d->devnode));
                return 0;
        }

        if (asprintf(&path, "%s/queue/io_timeout", d->syspath) < 0)
                return -ENOMEM;
        fd = open(path, O_WRONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return log_debug_errno(errno, "Failed to open %s: %m", path);
        n = write(fd, EBS_IO_TIMEOUT, strlen(EBS_IO_TIMEOUT));
        if (n < 0)
                return log_debug_errno(errno, "Failed to write %s: %m", path);
        if ((size_t) n != strlen(EBS_IO_TIMEOUT))
                return log_debug_errno(EIO, "Short write to %s.", path);
        log_debug("%s: set queue/io_timeout to " EBS_IO_TIMEOUT " ms, as amazon-ec2-utils would.",
                  strna(d->devnode));
        return 1;
}

struct BlockdevMonitor {
        struct udev *udev;
        struct udev_monitor *monitor;
};

BlockdevMonitor *blockdev_monitor_free(BlockdevMonitor *m) {
        if (!m)
                return NULL;
        udev_monitor_unref(m->monitor);
        udev_unref(m->udev);
        return mfree(m);
}

int blockdev_monitor_new(BlockdevMonitor **ret) {
        _cleanup_(blockdev_monitor_freep) BlockdevMonitor *m = NULL;
        int r;

        m = calloc(1, sizeof(BlockdevMonitor));
        if (!m)
                return -ENOMEM;
        r = udev_new_checked(&m->udev);
        if (r < 0)
                return r;
        m->monitor = udev_monitor_new_from_netlink(m->udev, "udev");
        if (!m->monitor)
                return log_debug_errno(errno ?: ENOMEM, "Failed to create a udev monitor: %m");
        r = udev_monitor_filter_add_match_subsystem_devtype(m->monitor, "block", "disk");
        if (r < 0)
                return r;
        r = udev_monitor_enable_receiving(m->monitor);
        if (r < 0)
                return log_debug_errno(r, "Failed to start the udev monitor: %m");
        *ret = TAKE_PTR(m);
        return 0;
}

int blockdev_monitor_fd(const BlockdevMonitor *m) {
        return udev_monitor_get_fd(m->monitor);
}

int blockdev_monitor_drain(BlockdevMonitor *m, BlockdevChanged changed, void *userdata) {
        for (;;) {
                _cleanup_(udev_device_unrefp) struct udev_device *d = NULL;
                const char *devnode;

                errno = 0;
                d = udev_monitor_receive_device(m->monitor);
                if (!d) {
                        if (errno == EINTR)
                                continue;
                        /* ENOBUFS: events were lost; the next one, or the
                         * supervisor's periodic look, still tells the size. */
                        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == 0 || errno == ENOBUFS)
                                return 0;
                        return -errno;
                }
                if (!streq_ptr(udev_device_get_action(d), "change"))
                        continue;
                devnode = udev_device_get_devnode(d);
                if (devnode)
                        changed(devnode, device_size(d), userdata);
        }
}
