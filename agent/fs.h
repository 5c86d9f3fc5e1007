/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The filesystem on the node's volume: probe it, decide whether it may be
 * formatted, create it, check it, mount it, grow it (DESIGN.md, "Rules that
 * protect data"). One job per file: fs-probe.c (libblkid, the zeros check),
 * fs-decide.c (the pure decision), fs-tools.c (mkfs, e2fsck and their exit
 * statuses), fs-mount.c (libmount), fs-grow.c, and fs.c (fs_setup(), the
 * whole step). Only fs-probe.c includes libblkid, only fs-mount.c libmount.
 *
 * Logging: the functions here log their steps at debug level. A refusal
 * (exit status 5) is logged here at error level, once, because only this
 * module has its details (what blkid found, what e2fsck said, what is
 * mounted where); the caller just returns the errno. Other failures are
 * returned for the caller to log.
 *
 * Errors, as exit-status.h reads them:
 *   -EMEDIUMTYPE  the device holds something that is not our filesystem, or
 *                 is blank with Format=never                          -> 5
 *   -ENOTEMPTY    the device holds unknown data, was initialised before but
 *                 has no filesystem now, or the mount point or the device
 *                 is taken by another mount                            -> 5
 *   -EUCLEAN      e2fsck needs a person, or the kernel found the
 *                 filesystem corrupt at mount                          -> 5
 *   -ETIME        the deadline passed (a program was killed)          -> 6
 *   -ENOPKG       mkfs, e2fsck, resize2fs or xfs_growfs is missing     -> 1
 *   -EBUSY        fs_unmount(): the filesystem is in use               -> 4 */

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "macro.h"
#include "time-util.h"

/* ---- probing -------------------------------------------------------- */

/* What libblkid found on a device. */
typedef struct FsProbe {
        bool found;             /* any signature at all */
        bool ambivalent;        /* several signatures that contradict each other; no details */
        char *type;             /* superblock: "ext4", "xfs", "crypto_LUKS", "LVM2_member",
                                 * "linux_raid_member", "swap", ...; NULL when none */
        char *usage;            /* "filesystem", "raid", "crypto", "other"; NULL when none */
        char *uuid;
        char *label;
        char *version;
        char *pttype;           /* partition table: "dos", "gpt", ...; NULL when none */
        char *ptuuid;
        bool has_offset;
        uint64_t offset;        /* where the superblock's (else the table's) magic is */
} FsProbe;

void fs_probe_done(FsProbe *p);

/* Probes device (a block device or an image file) with every superblock
 * type libblkid knows (filesystems, LUKS, LVM2, MD RAID at either end of the
 * device, swap, ...), accepting bad checksums (a damaged superblock still
 * means data), and every partition table (GPT even without its protective
 * MBR, so a backup GPT at the end is found). An ambivalent result counts as
 * found. *ret is filled on success only. */
int fs_probe(const char *device, FsProbe *ret);

/* "ext4 (UUID ..., label ...) at offset 1080" and the like, for messages. */
char *fs_probe_describe(const FsProbe *p);

/* Size in bytes of a block device (BLKGETSIZE64) or of a regular file. */
int fs_device_size(const char *device, uint64_t *ret);

/* Where fs_reads_as_zeros() looks, besides the first and last MiB. */
#define FS_ZERO_EDGE_SIZE ((size_t) 1024 * 1024)
#define FS_ZERO_SAMPLES 64U
#define FS_ZERO_SAMPLE_SIZE ((size_t) 64 * 1024)

/* Offset of sample i (0 <= i < FS_ZERO_SAMPLES) on a device of size bytes:
 * spread evenly from the start to the end, 4 KiB aligned. Deterministic, so
 * tests can aim at a sample. */
uint64_t fs_zero_sample_offset(uint64_t size, unsigned i) _pure_;

/* Whether the device reads as zeros in its first and last MiB and in the
 * samples across it (a device shorter than that is read whole). */
int fs_reads_as_zeros(const char *device, bool *ret);

/* ---- the format decision (pure) ------------------------------------- */

typedef enum FsAction {
        FS_ACTION_FORMAT,       /* blank, and Format=if-blank */
        FS_ACTION_MOUNT,        /* holds a filesystem of the configured type */
        FS_ACTION_REFUSE,       /* anything else: a person must look */
        _FS_ACTION_MAX,
        _FS_ACTION_INVALID = -EINVAL,
} FsAction;

typedef enum FsRefusal {
        FS_REFUSAL_NONE,
        FS_REFUSAL_AMBIVALENT,          /* several signatures */
        FS_REFUSAL_PARTITION_TABLE,     /* a partition table */
        FS_REFUSAL_OTHER_FILESYSTEM,    /* a filesystem of another type */
        FS_REFUSAL_SIGNATURE,           /* LUKS, LVM, RAID, swap, ...: not a filesystem */
        FS_REFUSAL_TAGGED_NO_FILESYSTEM,/* tagged nodeagent:initialized, no filesystem now */
        FS_REFUSAL_NOT_ZEROS,           /* no signature, but data */
        FS_REFUSAL_BLANK_FORMAT_NEVER,  /* blank, and Format=never */
        _FS_REFUSAL_MAX,
        _FS_REFUSAL_INVALID = -EINVAL,
} FsRefusal;

typedef struct FsDecision {
        FsAction action;
        FsRefusal refusal;      /* FS_REFUSAL_NONE unless action is FS_ACTION_REFUSE */
        char *message;          /* one sentence for the log, always set */
} FsDecision;

void fs_decision_done(FsDecision *d);

const char *fs_action_to_string(FsAction a) _pure_;
const char *fs_refusal_to_string(FsRefusal r) _pure_;

/* The errno a refusal is returned as: -EMEDIUMTYPE or -ENOTEMPTY (exit
 * status 5); 0 for FS_REFUSAL_NONE. */
int fs_refusal_to_errno(FsRefusal r) _pure_;

/* What the volume's EC2 tags say of its past (the caller reads them). */
typedef struct FsVolumeMarks {
        bool initialized;       /* nodeagent:initialized: it held our filesystem */
        bool format_started;    /* nodeagent:format-started: our mkfs began on it
                                 * (it may have been killed half-way) */
} FsVolumeMarks;

/* The rules that protect data, in this order:
 *   1. anything found that is not exactly one filesystem of the configured
 *      type (several signatures, a partition table, another filesystem,
 *      LUKS, LVM, RAID, swap...)                       -> refuse
 *   2. a filesystem of the configured type            -> mount
 *   3. nothing found, but the volume is tagged nodeagent:initialized: it
 *      held our filesystem before                      -> refuse
 *   4. nothing found, not zeros, and no mkfs of ours
 *      was ever started on it: raw data                -> refuse
 *   5. blank (or our own mkfs interrupted), Format=never -> refuse
 *   6. blank, Format=if-blank                          -> format
 *   7. not zeros, but tagged nodeagent:format-started and never initialised:
 *      what is there is our own mkfs's unfinished work (mke2fs writes the
 *      superblock last), Format=if-blank               -> format again
 * reads_as_zeros is only looked at from 4 on (the caller may skip reading
 * when something was found). Returns 0, or -EINVAL / -ENOMEM. */
int fs_format_decision(FormatPolicy policy, FileSystem file_system, const FsProbe *probe,
                       bool reads_as_zeros, const FsVolumeMarks *marks, FsDecision *ret);

/* ---- programs ------------------------------------------------------- */

/* The label for [Node] Name: cut to the filesystem's limit (ext4 16 bytes,
 * xfs 12), never inside a UTF-8 character. */
int fs_label_from_name(FileSystem file_system, const char *name, char **ret);

/* Creates file_system on device, after checking once more right before
 * that it has no signature and reads as zeros (-EMEDIUMTYPE / -ENOTEMPTY
 * otherwise, logged): mkfs.ext4 does not refuse an existing filesystem when
 * run without a terminal. redo_interrupted (fs_format_decision's rule 7):
 * the device holds the unfinished blocks of our own mkfs, so it need not
 * read as zeros, and the ext4 journal is written out in full rather than
 * trusted to be zeros. Never forces, never discards. Returns the new
 * filesystem's UUID, read back with blkid, so the caller can tag the volume
 * nodeagent:initialized=<uuid>. label may be NULL. */
int fs_mkfs(const char *device, FileSystem file_system, const char *label, bool redo_interrupted, usec_t deadline,
            char **ret_uuid);

/* fs_mkfs() on what the caller found right before (its fs_probe() and,
 * when that found nothing, its fs_reads_as_zeros()) instead of probing and
 * reading again: the same refusals, without a second probe and a second
 * proof between the decision and mkfs (fs_setup() decides on the same
 * device a moment earlier, and nothing else writes to it). */
int fs_mkfs_proven(const char *device, FileSystem file_system, const char *label, const FsProbe *probe,
                   bool reads_as_zeros, bool redo_interrupted, usec_t deadline, char **ret_uuid);

/* The check before mount. ext4: e2fsck -p; exit status 0 or 1 (errors
 * fixed, logged at notice) is fine, 2 and above is -EUCLEAN with e2fsck's
 * words, and nothing else touches the device. xfs: nothing (mounting replays
 * the log; xfs_repair is for a person). Returns e2fsck's exit status (0 or 1)
 * on success. The device must not be mounted. */
int fs_check(const char *device, FileSystem file_system, usec_t deadline);

/* Mounts device on mount_point (created with mode 0755 when missing) as
 * file_system with options (NULL for none), in the caller's mount
 * namespace. Already mounted there: success, *ret_already = true.
 * Another filesystem on mount_point, or device mounted elsewhere:
 * -ENOTEMPTY. The kernel finds the filesystem corrupt: -EUCLEAN (never a
 * reason to repair or format). */
int fs_mount(const char *device, const char *mount_point, FileSystem file_system,
             const char *options, bool *ret_already);

/* Whether device is mounted on mount_point (1), not mounted at all (0), or
 * something else is the case (-ENOTEMPTY, logged: another filesystem on
 * mount_point, or device mounted elsewhere). */
int fs_mount_state(const char *device, const char *mount_point);

/* Unmounts whatever is mounted on mount_point. Returns 1 when it unmounted,
 * 0 when nothing was mounted there, -EBUSY (logged, with the processes
 * whose working directory is inside, when any) when it is in use. */
int fs_unmount(const char *mount_point);

/* The size in bytes the mounted filesystem spans on its device. */
int fs_filesystem_size(const char *device, const char *mount_point, FileSystem file_system,
                       uint64_t *ret);

/* Grows the mounted filesystem to the device's size when the device is
 * larger (resize2fs DEVICE online, xfs_growfs MOUNT_POINT). Returns 1 when it
 * grew (logged at info, with both sizes), 0 when there was nothing to do. */
int fs_grow(const char *device, const char *mount_point, FileSystem file_system, usec_t deadline);

/* The size the superblock at the start of a device gives (pure; buf holds
 * at least the device's first 2 KiB for ext4, 512 bytes for xfs).
 * -EINVAL when buf does not hold that superblock. */
int fs_superblock_size(FileSystem file_system, const void *buf, size_t size, uint64_t *ret);

/* ---- the whole step ------------------------------------------------- */

typedef struct FsSetupResult {
        bool already_mounted;   /* found mounted: nothing else was done but growing */
        bool formatted;         /* mkfs ran */
        bool grown;
        char *uuid;             /* the filesystem's UUID: the caller tags the volume
                                 * nodeagent:initialized=<uuid> whenever it is not
                                 * tagged yet (also after a run that stopped between
                                 * mkfs and the tag) */
} FsSetupResult;

void fs_setup_result_done(FsSetupResult *r);

typedef struct FsSetupOptions {
        const char *label;      /* for a new filesystem ([Node] Name); may be NULL */
        FsVolumeMarks marks;
        /* Called once the decision is to format, right before mkfs: the
         * caller tags the volume nodeagent:format-started, so that a mkfs
         * killed half-way is known as ours on the next boot. A negative
         * return stops the setup with the device untouched. May be NULL. */
        int (*before_format)(void *userdata);
        void *userdata;
} FsSetupOptions;

/* The volume path after the device is proven: already mounted? -> grow
 * only; else probe, decide (fs_format_decision), mkfs or fsck, mount, grow
 * when config->grow. */
int fs_setup(const char *device, const ConfigVolume *config, const FsSetupOptions *options, usec_t deadline,
             FsSetupResult *ret);

/* Whether an error of this module is a refusal to touch the filesystem
 * (-EMEDIUMTYPE, -ENOTEMPTY, -EUCLEAN, above): the volume path's failure of
 * kind "filesystem refused" (exit status 5). The message was logged here. */
bool fs_error_is_refusal(int r);

/* Changes of the mount table, for the supervisor after READY: poll the fd,
 * drain it, then ask fs_mount_state() again. */
typedef struct FsMountMonitor FsMountMonitor;

int fs_mount_monitor_new(FsMountMonitor **ret);
FsMountMonitor *fs_mount_monitor_free(FsMountMonitor *m);
DEFINE_TRIVIAL_CLEANUP_FUNC(FsMountMonitor *, fs_mount_monitor_free);
int fs_mount_monitor_fd(const FsMountMonitor *m);
void fs_mount_monitor_drain(FsMountMonitor *m);
