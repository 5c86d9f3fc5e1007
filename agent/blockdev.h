/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The local block device that carries the node's EBS volume: wait for it to
 * show up, find it, and prove it is the volume right before it is touched.
 *
 * Proof is the device's serial, which on EC2 is the volume id without its
 * dash ("vol-0123456789abcdef0" -> "vol0123456789abcdef0"): the NVMe
 * controller's serial on Nitro, the virtio serial elsewhere, or udev's
 * ID_SERIAL_SHORT. A /dev/disk/by-id link is never proof: it can be stale.
 * Only a disk that has no serial at all (Xen instances) may be taken by the
 * name EC2 was asked to attach it as, mapped to its /dev/xvdX form.
 *
 * Errors (negative errno, see exit-status.h):
 *   -ETIME     the deadline passed before the device showed up
 *   -ENOENT    blockdev_find(): no such device is present now
 *   -ENODEV    blockdev_verify(): the device is not that volume
 *   -EINVAL    a malformed volume id or EC2 device name
 *   -ENXIO     no udevd runs, so no device would ever be announced
 *
 * This is the only module that includes <libudev.h>. It logs at debug level
 * only, except for the one notice when the Xen name fallback proves a
 * device. */

#include "macro.h"
#include "time-util.h"

/* Where a device's identity came from, strongest first. */
typedef enum BlockSerialSource {
        BLOCK_SERIAL_SOURCE_NONE,
        BLOCK_SERIAL_SOURCE_NVME,     /* sysfs <disk>/device/serial: the NVMe controller's */
        BLOCK_SERIAL_SOURCE_VIRTIO,   /* sysfs <disk>/serial: virtio_blk's */
        BLOCK_SERIAL_SOURCE_UDEV,     /* udev's ID_SERIAL_SHORT property */
        BLOCK_SERIAL_SOURCE_XEN_NAME, /* no serial at all: the expected /dev/xvdX name */
        _BLOCK_SERIAL_SOURCE_MAX,
} BlockSerialSource;

/* "none", "nvme-sysfs", "virtio-sysfs", "udev", "xen-name"; NULL when out
 * of range. */
const char *block_serial_source_to_string(BlockSerialSource s) _pure_;

typedef struct BlockDevice {
        char *devnode;            /* "/dev/nvme1n1" */
        char *syspath;            /* "/sys/devices/.../nvme1n1" */
        char *serial;             /* trimmed; NULL when proven by the Xen name */
        char *model;              /* trimmed sysfs device/model, or NULL */
        uint64_t size;            /* bytes; 0 when sysfs does not say */
        BlockSerialSource source; /* how it was proven */
} BlockDevice;

/* Frees the strings and zeroes the structure; accepts NULL. */
void block_device_done(BlockDevice *d);

/* ---- pure parts ---------------------------------------------------------- */

/* Length of serial (size bytes of it, or up to its NUL when shorter)
 * without the trailing spaces, newlines, tabs and NULs that some kernels
 * leave in sysfs serials (NVMe pads to 20 characters). */
size_t blockdev_serial_length(const char *serial, size_t size) _pure_;

/* Whether serial is the volume id without its dash: "vol0123456789abcdef0"
 * for "vol-0123456789abcdef0". Trailing padding is ignored, otherwise the
 * comparison is exact and case-sensitive. False for a malformed volume id
 * or a NULL argument. */
bool blockdev_serial_matches_volume(const char *serial, const char *volume_id) _pure_;

/* Whether volume_id looks like an EBS volume id: "vol-" and hex digits. */
bool blockdev_volume_id_is_valid(const char *volume_id) _pure_;

/* What a device offers as its serial; any of them may be NULL. */
typedef struct BlockSerialInputs {
        const char *sysname;         /* kernel name: "nvme1n1", "vdb", "loop3" */
        const char *device_serial;   /* sysfs <disk>/device/serial */
        const char *serial;          /* sysfs <disk>/serial */
        const char *id_serial_short; /* udev property ID_SERIAL_SHORT */
} BlockSerialInputs;

/* Picks the serial by priority: for NVMe disks (nvme*) the controller's
 * device/serial, for virtio disks (vd*) their own serial, else (and when
 * those are missing or blank) udev's ID_SERIAL_SHORT. Sets *ret_serial to
 * the chosen string (untrimmed; see blockdev_serial_length()) and returns
 * its source, or returns BLOCK_SERIAL_SOURCE_NONE and leaves *ret_serial
 * untouched when the device has no serial at all. */
BlockSerialSource blockdev_pick_serial(const BlockSerialInputs *in, const char **ret_serial);

/* Maps the name given to AttachVolume to the node a Xen instance shows:
 * "/dev/sdf" and "sdf" -> "/dev/xvdf"; "/dev/xvdf" and "xvdf" stay.
 * -EINVAL for anything else (e.g. "/dev/nvme1n1"). */
int blockdev_xen_devnode(const char *device_name, char **ret);

/* Whether to do what amazon-ec2-utils' 70-ec2-nvme-devices.rules does for an
 * EBS NVMe disk (queue/io_timeout = 4294967295, i.e. never time out I/O):
 * only when those rules are not installed, the disk is an NVMe namespace
 * (nvmeXnY, not a partition) and its model is "Amazon Elastic Block Store"
 * (trailing padding ignored). */
bool blockdev_wants_ebs_io_timeout(const char *sysname, const char *model, bool ec2_rules_present) _pure_;

/* Whether 70-ec2-nvme-devices.rules is in effect below root (NULL: "/"):
 * the first of /etc/udev/rules.d, /run/udev/rules.d, /usr/local/lib/udev/
 * rules.d, /usr/lib/udev/rules.d, /lib/udev/rules.d that holds the name
 * decides, as udev decides; a link to /dev/null or an empty file masks. */
bool blockdev_ec2_nvme_rules_present(const char *root);

/* ---- kernel-facing parts ------------------------------------------------- */

/* Waits until the disk that carries volume_id is present and udev has
 * processed it, or the deadline (absolute CLOCK_MONOTONIC, USEC_INFINITY:
 * none) passes (-ETIME). Disks already present are checked first, with the
 * udev monitor already listening, so no event between the two is lost.
 * xen_device_name: the name given to AttachVolume ("/dev/sdf"), used only
 * for disks without any serial; NULL disables that fallback. */
int blockdev_wait(const char *volume_id, const char *xen_device_name, usec_t deadline, BlockDevice *ret);

/* A watch for the disk of one volume that lives for a whole wait: the
 * udev monitor is opened once, listening before the first look, so no
 * event between two waits is lost (the attach lifecycle polls EC2 between
 * them). blockdev_watch_wait() returns 1 and fills ret when the disk is
 * there, 0 when `until` came first, -ECANCELED when the boot was cancelled
 * (wait.h), or another negative errno. blockdev_watch_new() fails with
 * -ENXIO when no udevd runs. */
typedef struct BlockdevWatch BlockdevWatch;

int blockdev_watch_new(const char *volume_id, const char *xen_device_name, BlockdevWatch **ret);
BlockdevWatch *blockdev_watch_free(BlockdevWatch *w);
DEFINE_TRIVIAL_CLEANUP_FUNC(BlockdevWatch *, blockdev_watch_free);
int blockdev_watch_wait(BlockdevWatch *w, usec_t until, BlockDevice *ret);

/* Disks that change after the boot (EBS grew a volume: the kernel sees the
 * new size and udev says "change"), for the supervisor: poll the fd, then
 * drain, which calls changed() with each changed disk's node and size in
 * bytes (0 when sysfs does not say). */
typedef struct BlockdevMonitor BlockdevMonitor;
typedef void (*BlockdevChanged)(const char *devnode, uint64_t size, void *userdata);

int blockdev_monitor_new(BlockdevMonitor **ret);
BlockdevMonitor *blockdev_monitor_free(BlockdevMonitor *m);
DEFINE_TRIVIAL_CLEANUP_FUNC(BlockdevMonitor *, blockdev_monitor_free);
int blockdev_monitor_fd(const BlockdevMonitor *m);
int blockdev_monitor_drain(BlockdevMonitor *m, BlockdevChanged changed, void *userdata);

/* Like blockdev_wait(), without waiting: looks only at the disks present
 * now (for --status and --attach-only). -ENOENT when none is the volume. */
int blockdev_find(const char *volume_id, const char *xen_device_name, BlockDevice *ret);

/* Proves again, from sysfs and the udev database as they are now, that
 * devnode (a path that resolves to a block device) is the whole disk that
 * carries volume_id. Returns 0 when it is, -ENODEV when it is not (another
 * serial, a partition, not a block device), -ENOENT when the path does not
 * exist. xen_device_name as for blockdev_wait(). */
int blockdev_verify(const char *devnode, const char *volume_id, const char *xen_device_name);

/* For an EBS NVMe disk on a system without amazon-ec2-utils' rules, sets
 * queue/io_timeout as those rules would. Returns 1 when it wrote, 0 when
 * there was nothing to do, negative errno when the write failed. */
int blockdev_set_ebs_io_timeout(const BlockDevice *d);
