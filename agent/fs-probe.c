/* SPDX-License-Identifier: Apache-2.0 */
/* What a device holds: libblkid's probe, and whether it reads as zeros. */
#include <ctype.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/fs.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include <blkid.h>

#include "fs-internal.h"
#include "fs.h"
#include "log.h"

/* ---- small helpers --------------------------------------------------- */

static int parse_u64(const char *s, uint64_t *ret) {
        unsigned long long v;
        char *end;

        if (isempty(s) || !isdigit((unsigned char) s[0]))
                return -EINVAL;
        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno != 0)
                return -errno;
        if (*end != '\0')
                return -EINVAL;
        *ret = (uint64_t) v;
        return 0;
}

static int fd_size(int fd, uint64_t *ret) {
        struct stat st;
        uint64_t size;

        if (fstat(fd, &st) < 0)
                return negative_errno();
        if (S_ISBLK(st.st_mode)) {
                if (ioctl(fd, BLKGETSIZE64, &size) < 0)
                        return negative_errno();
        } else if (S_ISREG(st.st_mode))
                size = (uint64_t) st.st_size;
        else
                return -ENOTBLK;

        *ret = size;
        return 0;
}

int fs_device_size(const char *device, uint64_t *ret) {
        _cleanup_close_ int fd = -EBADF;
        uint64_t size;
        int r;

        if (isempty(device) || !ret)
                return -EINVAL;

        fd = open(device, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return log_debug_errno(errno, "Failed to open %s: %m", device);
        r = fd_size(fd, &size);
        if (r < 0)
                return log_debug_errno(r, "Failed to get the size of %s: %m", device);

        *ret = size;
        return 0;
}

/* Reads exactly size bytes at offset, or fewer at the end of the device.
 * Returns the number of bytes read. */
ssize_t fs_pread_full(int fd, void *buf, size_t size, uint64_t offset) {
        size_t done = 0;

        while (done < size) {
                ssize_t n = pread(fd, (uint8_t *) buf + done, size - done, (off_t) (offset + done));

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        break;
                done += (size_t) n;
        }
        return (ssize_t) done;
}


/* ---- probing --------------------------------------------------------- */

void fs_probe_done(FsProbe *p) {
        if (!p)
                return;
        free(p->type);
        free(p->usage);
        free(p->uuid);
        free(p->label);
        free(p->version);
        free(p->pttype);
        free(p->ptuuid);
        *p = (FsProbe) {};
}

static void blkid_free_probep(blkid_probe *pr) {
        if (*pr)
                blkid_free_probe(*pr);
}

static int probe_value(blkid_probe pr, const char *name, char **ret) {
        const char *v = NULL;

        if (blkid_probe_lookup_value(pr, name, &v, NULL) < 0 || !v) {
                *ret = NULL;
                return 0;
        }
        *ret = strdup(v);
        return *ret ? 1 : -ENOMEM;
}

static int probe_offset(blkid_probe pr, const char *name, FsProbe *p) {
        const char *v = NULL;
        uint64_t offset = 0;

        if (p->has_offset)
                return 0;
        if (blkid_probe_lookup_value(pr, name, &v, NULL) < 0 || !v)
                return 0;
        if (parse_u64(v, &offset) < 0)
                return 0;
        p->offset = offset;
        p->has_offset = true;
        return 0;
}

int fs_probe(const char *device, FsProbe *ret) {
        _cleanup_close_ int fd = -EBADF;
        _cleanup_(blkid_free_probep) blkid_probe pr = NULL;
        _cleanup_(fs_probe_done) FsProbe p = {};
        int r;

        if (isempty(device) || !ret)
                return -EINVAL;

        fd = open(device, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return log_debug_errno(errno, "Failed to open %s: %m", device);

        pr = blkid_new_probe();
        if (!pr)
                return -ENOMEM;

        /* Offset 0 and size 0: the whole device, so that the probers that
         * look at the end (MD 0.90 and 1.0, the backup GPT, DDF RAID, ...)
         * see the real end. */
        errno = 0;
        if (blkid_probe_set_device(pr, fd, 0, 0) < 0)
                return log_debug_errno(errno > 0 ? errno : EIO, "Failed to set up a probe of %s: %m", device);

        /* Every superblock type is probed (no filter): a LUKS header, an LVM
         * label, a RAID member or swap means data as much as a filesystem.
         * A bad checksum does not make a superblock less of a signature. */
        blkid_probe_enable_superblocks(pr, true);
        blkid_probe_set_superblocks_flags(pr, BLKID_SUBLKS_LABEL | BLKID_SUBLKS_UUID | BLKID_SUBLKS_TYPE |
                                              BLKID_SUBLKS_USAGE | BLKID_SUBLKS_VERSION |
                                              BLKID_SUBLKS_MAGIC | BLKID_SUBLKS_BADCSUM);
        /* FORCE_GPT: a GPT whose protective MBR is gone (and whose primary
         * header is gone: the backup at the end is read then) is still a
         * partition table. */
        blkid_probe_enable_partitions(pr, true);
        blkid_probe_set_partitions_flags(pr, BLKID_PARTS_FORCE_GPT | BLKID_PARTS_MAGIC);
        blkid_probe_enable_topology(pr, false);

        errno = 0;
        r = blkid_do_safeprobe(pr);
        if (r == -2) {
                /* Ambivalent: several signatures that exclude each other.
                 * libblkid gives no values then, but it found something. */
                log_debug("%s: blkid found several contradicting signatures.", device);
                p.found = true;
                p.ambivalent = true;
        } else if (r == 1) {
                log_debug("%s: blkid found no signature.", device);
        } else if (r < 0) {
                return log_debug_errno(errno > 0 ? errno : EIO, "Failed to probe %s: %m", device);
        } else {
                if (probe_value(pr, "TYPE", &p.type) < 0 ||
                    probe_value(pr, "USAGE", &p.usage) < 0 ||
                    probe_value(pr, "UUID", &p.uuid) < 0 ||
                    probe_value(pr, "LABEL", &p.label) < 0 ||
                    probe_value(pr, "VERSION", &p.version) < 0 ||
                    probe_value(pr, "PTTYPE", &p.pttype) < 0 ||
                    probe_value(pr, "PTUUID", &p.ptuuid) < 0)
                        return -ENOMEM;
                (void) probe_offset(pr, "SBMAGIC_OFFSET", &p);
                (void) probe_offset(pr, "PTMAGIC_OFFSET", &p);

                /* safeprobe reports success only with a result, but a
                 * result without a type would still be something. */
                p.found = true;
                log_debug("%s: blkid found TYPE=%s USAGE=%s UUID=%s PTTYPE=%s.", device,
                          strna(p.type), strna(p.usage), strna(p.uuid), strna(p.pttype));
        }

        *ret = p;
        p = (FsProbe) {};
        return 0;
}

/* "a" or "an" before a name, by its first letter: good enough for the
 * names libblkid uses. */
static const char *article(const char *name) {
        return name[0] != '\0' && strchr("aeiouAEIOU", name[0]) ? "an" : "a";
}

char *fs_probe_describe(const FsProbe *p) {
        _cleanup_free_ char *s = NULL;
        size_t size = 0;
        FILE *f;

        if (!p)
                return NULL;

        f = open_memstream(&s, &size);
        if (!f)
                return NULL;

        if (!p->found)
                fputs("no signature", f);
        else if (p->ambivalent)
                fputs("several signatures that contradict each other", f);
        else {
                if (p->type) {
                        fprintf(f, "%s %s %s", article(p->type), p->type,
                                streq_ptr(p->usage, "filesystem") ? "filesystem" : "signature");
                        if (p->usage && !streq(p->usage, "filesystem"))
                                fprintf(f, " (%s)", p->usage);
                        if (p->version)
                                fprintf(f, ", version %s", p->version);
                        if (p->uuid)
                                fprintf(f, ", UUID %s", p->uuid);
                        if (p->label)
                                fprintf(f, ", label \"%s\"", p->label);
                }
                if (p->pttype) {
                        fprintf(f, "%s%s %s partition table", p->type ? " and " : "", article(p->pttype),
                                p->pttype);
                        if (p->ptuuid)
                                fprintf(f, " (id %s)", p->ptuuid);
                }
                if (!p->type && !p->pttype)
                        fputs("an unnamed signature", f);
                if (p->has_offset)
                        fprintf(f, " at offset %" PRIu64, p->offset);
        }

        if (fclose(f) != 0)
                return NULL;
        return TAKE_PTR(s);
}

uint64_t fs_zero_sample_offset(uint64_t size, unsigned i) {
        const uint64_t n = FS_ZERO_SAMPLES - 1;
        uint64_t span, offset;

        if (size <= FS_ZERO_SAMPLE_SIZE)
                return 0;
        if (i > n)
                i = (unsigned) n;

        /* i * span / n without overflowing, for any device size. */
        span = size - FS_ZERO_SAMPLE_SIZE;
        offset = (span / n) * i + (span % n) * i / n;
        return offset & ~(uint64_t) 4095;
}

static bool buffer_is_zero(const uint8_t *p, size_t n) {
        return n == 0 || (p[0] == 0 && memcmp(p, p + 1, n - 1) == 0);
}

/* Returns 1 when [offset, offset + size) reads as zeros, 0 when not. */
static int range_is_zero(int fd, uint8_t *buf, uint64_t offset, size_t size) {
        ssize_t n;

        n = fs_pread_full(fd, buf, size, offset);
        if (n < 0)
                return (int) n;
        return buffer_is_zero(buf, (size_t) n);
}

int fs_reads_as_zeros(const char *device, bool *ret) {
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ uint8_t *buf = NULL;
        uint64_t size, edge;
        int r;

        if (isempty(device) || !ret)
                return -EINVAL;

        fd = open(device, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return log_debug_errno(errno, "Failed to open %s: %m", device);
        r = fd_size(fd, &size);
        if (r < 0)
                return log_debug_errno(r, "Failed to get the size of %s: %m", device);

        buf = malloc(FS_ZERO_EDGE_SIZE);
        if (!buf)
                return -ENOMEM;

        edge = MIN(size, (uint64_t) FS_ZERO_EDGE_SIZE);

        r = range_is_zero(fd, buf, 0, (size_t) edge);
        if (r == 0)
                log_debug("%s: the first MiB does not read as zeros.", device);
        if (r > 0) {
                r = range_is_zero(fd, buf, size - edge, (size_t) edge);
                if (r == 0)
                        log_debug("%s: the last MiB does not read as zeros.", device);
        }
        for (unsigned i = 0; r > 0 && size > FS_ZERO_SAMPLE_SIZE && i < FS_ZERO_SAMPLES; i++) {
                uint64_t offset = fs_zero_sample_offset(size, i);

                r = range_is_zero(fd, buf, offset, FS_ZERO_SAMPLE_SIZE);
                if (r == 0)
                        log_debug("%s: the sample at offset %" PRIu64 " does not read as zeros.", device, offset);
        }
        if (r < 0)
                return log_debug_errno(r, "Failed to read %s: %m", device);

        *ret = r > 0;
        return 0;
}
