/* SPDX-License-Identifier: Apache-2.0 */
/* Growing a mounted filesystem to its device, and the sizes that decide it. */
#include <assert.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sys/ioctl.h>

#include "fs-internal.h"
#include "fs.h"
#include "log.h"

#define MIB ((uint64_t) 1024 * 1024)

/* A device at most this much larger than its filesystem is not worth a
 * resize: the tools round to whole blocks (and resize2fs to groups that
 * hold their metadata), so a remainder this small is never used anyway. */
#define FS_GROW_MIN MIB

/* ---- grow ------------------------------------------------------------ */

static uint32_t le32(const uint8_t *p) {
        return (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16 | (uint32_t) p[3] << 24;
}

static uint16_t le16(const uint8_t *p) {
        return (uint16_t) (p[0] | p[1] << 8);
}

static uint32_t be32(const uint8_t *p) {
        return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16 | (uint32_t) p[2] << 8 | (uint32_t) p[3];
}

static uint64_t be64(const uint8_t *p) {
        return (uint64_t) be32(p) << 32 | be32(p + 4);
}

int fs_superblock_size(FileSystem file_system, const void *buf, size_t size, uint64_t *ret) {
        const uint8_t *b = buf;
        uint64_t blocks, block_size;

        if (!buf || !ret)
                return -EINVAL;

        switch (file_system) {
        case FILESYSTEM_EXT4: {
                /* The ext4 superblock starts at 1024 (fields as in the
                 * kernel's struct ext4_super_block). */
                const uint8_t *sb = b + 1024;
                uint32_t log_block_size;

                if (size < 2048 || le16(sb + 0x38) != 0xEF53)
                        return -EINVAL;
                log_block_size = le32(sb + 0x18);
                if (log_block_size > 6)         /* 64 KiB blocks at most */
                        return -EINVAL;
                block_size = 1024ULL << log_block_size;
                blocks = le32(sb + 0x04);
                if (le32(sb + 0x60) & 0x80)     /* INCOMPAT_64BIT: s_blocks_count_hi */
                        blocks |= (uint64_t) le32(sb + 0x150) << 32;
                break;
        }
        case FILESYSTEM_XFS:
                /* struct xfs_dsb: magic "XFSB", sb_blocksize, sb_dblocks. */
                if (size < 512 || memcmp(b, "XFSB", 4) != 0)
                        return -EINVAL;
                block_size = be32(b + 4);
                blocks = be64(b + 8);
                if (block_size < 512 || block_size > 65536)
                        return -EINVAL;
                break;
        default:
                return -EINVAL;
        }

        if (blocks > UINT64_MAX / block_size)
                return -EINVAL;
        *ret = blocks * block_size;
        return 0;
}

/* XFS_IOC_FSGEOMETRY_V1 from the kernel's xfs_fs.h, a stable interface;
 * xfsprogs' headers are not a build dependency for one ioctl. */
struct xfs_geometry_v1 {
        uint32_t blocksize;
        uint32_t rtextsize;
        uint32_t agblocks;
        uint32_t agcount;
        uint32_t logblocks;
        uint32_t sectsize;
        uint32_t inodesize;
        uint32_t imaxpct;
        uint64_t datablocks;
        uint64_t rtblocks;
        uint64_t rtextents;
        uint64_t logstart;
        unsigned char uuid[16];
        uint32_t sunit;
        uint32_t swidth;
        int32_t version;
        uint32_t flags;
        uint32_t logsectsize;
        uint32_t rtsectsize;
        uint32_t dirblocksize;
};
static_assert(sizeof(struct xfs_geometry_v1) == 112, "XFS_IOC_FSGEOMETRY_V1 layout");
#define XFS_IOC_FSGEOMETRY_V1 _IOR('X', 100, struct xfs_geometry_v1)

int fs_filesystem_size(const char *device, const char *mount_point, FileSystem file_system,
                       uint64_t *ret) {
        _cleanup_close_ int fd = -EBADF;
        uint64_t size;
        int r;

        if (isempty(device) || isempty(mount_point) || !ret)
                return -EINVAL;

        switch (file_system) {
        case FILESYSTEM_EXT4: {
                uint8_t buf[4096];
                ssize_t n;

                /* ext4 keeps its superblock in the block device's page
                 * cache, so a buffered read sees the current one even while
                 * mounted. */
                fd = open(device, O_RDONLY | O_CLOEXEC);
                if (fd < 0)
                        return log_debug_errno(errno, "Failed to open %s: %m", device);
                n = fs_pread_full(fd, buf, sizeof(buf), 0);
                if (n < 0)
                        return log_debug_errno((int) n, "Failed to read %s: %m", device);
                r = fs_superblock_size(file_system, buf, (size_t) n, &size);
                if (r < 0)
                        return log_debug_errno(r, "%s has no ext4 superblock.", device);
                break;
        }
        case FILESYSTEM_XFS: {
                struct xfs_geometry_v1 g = {};

                /* xfs keeps its superblock in its own buffers, and the one on
                 * the disk lags behind a grow: ask the mounted filesystem. */
                fd = open(mount_point, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (fd < 0)
                        return log_debug_errno(errno, "Failed to open %s: %m", mount_point);
                if (ioctl(fd, XFS_IOC_FSGEOMETRY_V1, &g) < 0)
                        return log_debug_errno(errno, "Failed to get the xfs geometry of %s: %m", mount_point);
                if (g.blocksize == 0 || g.datablocks > UINT64_MAX / g.blocksize)
                        return -EIO;
                size = g.datablocks * g.blocksize;
                break;
        }
        default:
                return -EINVAL;
        }

        *ret = size;
        return 0;
}

int fs_grow(const char *device, const char *mount_point, FileSystem file_system, usec_t deadline) {
        _cleanup_free_ char *target = NULL;
        uint64_t device_size, before, after;
        char *argv[3];
        dev_t devno;
        int r;

        if (isempty(device) || isempty(mount_point))
                return -EINVAL;

        r = fs_device_devno(device, &devno);
        if (r < 0)
                return r;
        target = realpath(mount_point, NULL);
        if (!target)
                return log_debug_errno(errno, "Failed to resolve %s: %m", mount_point);
        /* Both tools grow a mounted filesystem only: make sure it is ours. */
        r = fs_mount_state_at(device, devno, target);
        if (r < 0)
                return r;
        if (r == 0)
                return log_debug_errno(ENXIO, "Cannot grow the filesystem on %s: it is not mounted on %s.",
                                       device, target);

        r = fs_device_size(device, &device_size);
        if (r < 0)
                return r;
        r = fs_filesystem_size(device, target, file_system, &before);
        if (r < 0)
                return r;

        if (device_size < before || device_size - before < FS_GROW_MIN) {
                log_debug("The filesystem on %s spans the device (%" PRIu64 " of %" PRIu64 " bytes).",
                          device, before, device_size);
                return 0;
        }

        switch (file_system) {
        case FILESYSTEM_EXT4:
                /* resize2fs grows a mounted ext4 online, given the device. */
                argv[0] = (char *) "resize2fs";
                argv[1] = (char *) device;
                break;
        case FILESYSTEM_XFS:
                argv[0] = (char *) "xfs_growfs";
                argv[1] = target;
                break;
        default:
                return -EINVAL;
        }
        argv[2] = NULL;

        /* LOG_INFO: growing is an event, and when it fails the tool says
         * why (resize2fs needs CAP_SYS_RESOURCE, for one). */
        r = fs_spawn_program(argv, deadline, LOG_INFO, NULL);
        if (r < 0)
                return log_debug_errno(r, "Failed to run %s: %m", argv[0]);
        if (r > 0)
                return log_debug_errno(EIO, "%s %s failed with exit status %d.", argv[0], argv[1], r);

        r = fs_filesystem_size(device, target, file_system, &after);
        if (r < 0)
                return r;
        if (after <= before) {
                log_debug("%s left the filesystem on %s at %" PRIu64 " bytes (device: %" PRIu64 ").",
                          argv[0], device, after, device_size);
                return 0;
        }

        log_info("Grew the filesystem on %s from %" PRIu64 " MiB to %" PRIu64 " MiB (device: %" PRIu64 " MiB).",
                 device, before / MIB, after / MIB, device_size / MIB);
        return 1;
}
