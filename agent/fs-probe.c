/* SPDX-License-Identifier: Apache-2.0 */
/* What a device holds: libblkid's probe, and whether it reads as zeros. */
#include <ctype.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
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

/* ---- the zeros check ------------------------------------------------- */

/* The proof reads the first and last MiB in chunks of a sample's size,
 * and each sample: at most 97 reads of 64 KiB, 6 MiB whatever the device's
 * size. They are made with O_DIRECT, so that none is served from, or
 * fills, the page cache (a buffered read of a block device also reads
 * ahead, which doubles what is read), and FS_ZERO_READERS of them are in
 * flight at once: on an EBS volume each read is a round trip over the
 * network, and one after the other they were the largest part of the
 * agent's own time in a first boot. Chunks of 64 KiB keep the readers'
 * buffers at 512 KiB in all (with 256 KiB, the largest read EBS counts as
 * one operation, they were 2 MiB: the peak of a first boot's memory); the
 * 24 reads more cost EBS nothing that shows.
 *
 * Threads rather than io_uring or Linux AIO: a handful of reads in flight
 * is all a device's queue needs, and threads work wherever the agent does,
 * while io_uring is switched off by kernel.io_uring_disabled and by
 * container seccomp profiles, and neither it nor AIO exists under
 * qemu-user (the arm64 tests): either would need a second, sequential way
 * that the tests would rarely take, and liburing would be one more
 * library to load at every start. The readers never allocate, so no
 * thread gets a malloc arena of its own. */
#define FS_ZERO_CHUNK FS_ZERO_SAMPLE_SIZE
#define FS_ZERO_READERS 8U
/* O_DIRECT wants buffers, offsets and sizes aligned to the logical block
 * size: 4 KiB covers 512-byte and 4Kn devices. */
#define FS_ZERO_ALIGN 4096U
/* The first MiB, the last (one chunk more when the device's size is not
 * aligned) and the samples. */
#define FS_ZERO_READS_MAX (2U * (FS_ZERO_EDGE_SIZE / FS_ZERO_CHUNK) + 1U + FS_ZERO_SAMPLES)
/* Small: a reader only calls pread() and memcmp(). */
#define FS_ZERO_READER_STACK ((size_t) 128U * 1024U)

_Static_assert(FS_ZERO_SAMPLE_SIZE <= FS_ZERO_CHUNK, "a sample is read at once");
_Static_assert(FS_ZERO_EDGE_SIZE % FS_ZERO_CHUNK == 0, "the edges are read in whole chunks");

typedef struct ZeroRead {
        uint64_t offset;
        size_t size;
} ZeroRead;

typedef struct ZeroJob {
        int fd;
        ZeroRead reads[FS_ZERO_READS_MAX];
        size_t n_reads;
        uint64_t tail;                  /* where the reads of the last MiB start */

        atomic_size_t next;             /* the next read to take */
        atomic_bool stop;               /* the answer is known: take no more */
        pthread_mutex_t lock;           /* guards the answer below */
        int error;                      /* the first failed read's -errno, else 0 */
        bool found;                     /* a read held a byte that is not zero ... */
        uint64_t found_at;              /* ... the read at this offset */
} ZeroJob;

typedef struct ZeroReader {
        ZeroJob *job;
        uint8_t *buffer;                /* FS_ZERO_CHUNK, FS_ZERO_ALIGN aligned */
        pthread_t thread;
        bool started;
} ZeroReader;

/* The places the proof reads: the first and the last MiB (the whole device
 * when it is smaller; on a small device the places overlap, and are read
 * twice) and the samples. */
static void zero_job_plan(ZeroJob *j, uint64_t size) {
        uint64_t edge = MIN(size, (uint64_t) FS_ZERO_EDGE_SIZE);

        j->tail = (size - edge) & ~(uint64_t) (FS_ZERO_ALIGN - 1);
        j->n_reads = 0;
        for (uint64_t o = 0; o < edge; o += FS_ZERO_CHUNK)
                j->reads[j->n_reads++] = (ZeroRead) { o, FS_ZERO_CHUNK };
        for (uint64_t o = j->tail; o < size; o += FS_ZERO_CHUNK)
                j->reads[j->n_reads++] = (ZeroRead) { o, FS_ZERO_CHUNK };
        for (unsigned i = 0; size > FS_ZERO_SAMPLE_SIZE && i < FS_ZERO_SAMPLES; i++)
                j->reads[j->n_reads++] = (ZeroRead) { fs_zero_sample_offset(size, i), FS_ZERO_SAMPLE_SIZE };
}

static bool buffer_is_zero(const uint8_t *p, size_t n) {
        return n == 0 || (p[0] == 0 && memcmp(p, p + 1, n - 1) == 0);
}

/* Takes reads off the job until none is left or the answer is known: a
 * byte that is not zero (the device is not blank, whatever else is read),
 * or a failed read (the proof cannot be made). */
static void *zero_reader_run(void *userdata) {
        ZeroReader *reader = userdata;
        ZeroJob *j = reader->job;

        while (!atomic_load(&j->stop)) {
                size_t i = atomic_fetch_add(&j->next, 1);
                const ZeroRead *read;
                ssize_t n;

                if (i >= j->n_reads)
                        break;
                read = &j->reads[i];
                n = fs_pread_full(j->fd, reader->buffer, read->size, read->offset);
                if (n >= 0 && buffer_is_zero(reader->buffer, (size_t) n))
                        continue;

                pthread_mutex_lock(&j->lock);
                if (n < 0 && j->error == 0)
                        j->error = (int) n;
                if (n >= 0 && (!j->found || read->offset < j->found_at)) {
                        j->found = true;
                        j->found_at = read->offset;
                }
                pthread_mutex_unlock(&j->lock);
                if (n >= 0)
                        atomic_store(&j->stop, true);
        }
        return NULL;
}

/* Runs the job with FS_ZERO_READERS readers, this thread one of them. A
 * reader that cannot be started leaves its share to the others. */
static void zero_job_run(ZeroJob *j, uint8_t *buffers) {
        ZeroReader readers[FS_ZERO_READERS] = {};
        pthread_attr_t attr;
        bool attr_ok;

        atomic_store(&j->next, 0);
        atomic_store(&j->stop, false);
        j->error = 0;
        j->found = false;
        for (size_t i = 0; i < FS_ZERO_READERS; i++)
                readers[i] = (ZeroReader) { .job = j, .buffer = buffers + i * FS_ZERO_CHUNK };

        attr_ok = pthread_attr_init(&attr) == 0;
        if (attr_ok)
                (void) pthread_attr_setstacksize(&attr, FS_ZERO_READER_STACK);
        for (size_t i = 1; i < MIN((size_t) FS_ZERO_READERS, j->n_reads); i++)
                readers[i].started = pthread_create(&readers[i].thread, attr_ok ? &attr : NULL, zero_reader_run,
                                                    &readers[i]) == 0;
        if (attr_ok)
                (void) pthread_attr_destroy(&attr);

        (void) zero_reader_run(&readers[0]);
        for (size_t i = 1; i < FS_ZERO_READERS; i++)
                if (readers[i].started)
                        (void) pthread_join(readers[i].thread, NULL);
}

static ZeroJob *zero_job_free(ZeroJob *j) {
        if (j) {
                (void) pthread_mutex_destroy(&j->lock);
                free(j);
        }
        return NULL;
}
DEFINE_TRIVIAL_CLEANUP_FUNC(ZeroJob *, zero_job_free);

static int zero_job_new(ZeroJob **ret) {
        ZeroJob *j = calloc(1, sizeof(ZeroJob));
        int r;

        if (!j)
                return -ENOMEM;
        r = pthread_mutex_init(&j->lock, NULL);
        if (r != 0) {
                free(j);
                /* A positive error number, as pthread functions return:
                 * -r is a failure, never a success with no job. */
                r = -r;
                ANALYZER_ASSUME(r < 0);
                return r;
        }
        *ret = j;
        return 0;
}

static void zero_job_log_found(const char *device, const ZeroJob *j) {
        if (j->found_at < FS_ZERO_EDGE_SIZE)
                log_debug("%s: the first MiB does not read as zeros.", device);
        else if (j->found_at >= j->tail)
                log_debug("%s: the last MiB does not read as zeros.", device);
        else
                log_debug("%s: the sample at offset %" PRIu64 " does not read as zeros.", device, j->found_at);
}

/* Opens device for the proof: O_DIRECT where the device or filesystem
 * allows it (a tmpfs file, in tests, may not). */
static int zero_open(const char *device, bool direct) {
        int fd = open(device, O_RDONLY | O_CLOEXEC | (direct ? O_DIRECT : 0));

        if (fd < 0 && direct && errno == EINVAL)
                fd = open(device, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        return fd;
}

int fs_reads_as_zeros(const char *device, bool *ret) {
        _cleanup_(zero_job_freep) ZeroJob *j = NULL;
        _cleanup_free_ uint8_t *buffers = NULL;
        uint64_t size;
        int r;

        if (isempty(device) || !ret)
                return -EINVAL;

        r = zero_job_new(&j);
        if (r < 0)
                return r;
        r = posix_memalign((void **) &buffers, FS_ZERO_ALIGN, FS_ZERO_READERS * FS_ZERO_CHUNK);
        if (r != 0)
                return -r;

        for (bool direct = true;; direct = false) {
                _cleanup_close_ int fd = zero_open(device, direct);

                if (fd < 0)
                        return log_debug_errno(fd, "Failed to open %s: %m", device);
                r = fd_size(fd, &size);
                if (r < 0)
                        return log_debug_errno(r, "Failed to get the size of %s: %m", device);

                j->fd = fd;
                zero_job_plan(j, size);
                zero_job_run(j, buffers);
                /* A read O_DIRECT refuses (a block size larger than
                 * FS_ZERO_ALIGN): the page cache's reads will do. */
                if (j->error != -EINVAL || !direct || j->found)
                        break;
                log_debug("%s: O_DIRECT reads refused, reading through the page cache.", device);
        }

        /* A byte that is not zero answers whatever else failed. */
        if (j->found) {
                zero_job_log_found(device, j);
                *ret = false;
                return 0;
        }
        if (j->error < 0)
                return log_debug_errno(j->error, "Failed to read %s: %m", device);
        *ret = true;
        return 0;
}
