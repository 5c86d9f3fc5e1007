/* SPDX-License-Identifier: Apache-2.0 */
#include <assert.h>
#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/fs.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include <blkid.h>
#include <libmount.h>

#include "fs.h"
#include "log.h"
#include "spawn-util.h"

#define MIB ((uint64_t) 1024 * 1024)

/* A device at most this much larger than its filesystem is not worth a
 * resize: the tools round to whole blocks (and resize2fs to groups that
 * hold their metadata), so a remainder this small is never used anyway. */
#define FS_GROW_MIN MIB

/* What of a program's output goes into one log message. */
#define FS_OUTPUT_SUMMARY_MAX 1024U

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
                return -errno;
        if (S_ISBLK(st.st_mode)) {
                if (ioctl(fd, BLKGETSIZE64, &size) < 0)
                        return -errno;
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
static ssize_t pread_full(int fd, void *buf, size_t size, uint64_t offset) {
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

/* Turns a program's output into one line for a log message: lines joined
 * with " | ", and only the end when it is long (the end says why). */
static char *output_summary(const char *output) {
        _cleanup_free_ char *s = NULL;
        size_t n = 0, len;
        bool pending_separator = false;

        if (!output)
                return strdup("");

        s = malloc(strlen(output) * 3 + 1);
        if (!s)
                return NULL;

        for (const char *p = output; *p; p++) {
                if (*p == '\n' || *p == '\r' || *p == '\t') {
                        if (n > 0)
                                pending_separator = true;
                        continue;
                }
                if (pending_separator) {
                        memcpy(s + n, " | ", 3);
                        n += 3;
                        pending_separator = false;
                }
                s[n++] = *p;
        }
        s[n] = '\0';

        len = strlen(s);
        if (len > FS_OUTPUT_SUMMARY_MAX) {
                char *t;

                if (asprintf(&t, "...%s", s + len - FS_OUTPUT_SUMMARY_MAX) < 0)
                        return NULL;
                return t;
        }
        return TAKE_PTR(s);
}

/* The programs are part of the install: a missing one is not a missing
 * volume (-ENOENT would read as exit status 4). spawn() has named the
 * package already. */
static int spawn_program(char *const argv[], usec_t deadline, int log_level, char **ret_output) {
        int r;

        r = spawn(argv, deadline, log_level, ret_output);
        if (r == -ENOENT)
                return -ENOPKG;
        return r;
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

        n = pread_full(fd, buf, size, offset);
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

/* ---- the format decision --------------------------------------------- */

static const char *const fs_action_table[_FS_ACTION_MAX] = {
        [FS_ACTION_FORMAT] = "format",
        [FS_ACTION_MOUNT] = "mount",
        [FS_ACTION_REFUSE] = "refuse",
};

static const char *const fs_refusal_table[_FS_REFUSAL_MAX] = {
        [FS_REFUSAL_NONE] = "none",
        [FS_REFUSAL_AMBIVALENT] = "ambivalent",
        [FS_REFUSAL_PARTITION_TABLE] = "partition-table",
        [FS_REFUSAL_OTHER_FILESYSTEM] = "other-filesystem",
        [FS_REFUSAL_SIGNATURE] = "signature",
        [FS_REFUSAL_TAGGED_NO_FILESYSTEM] = "tagged-no-filesystem",
        [FS_REFUSAL_NOT_ZEROS] = "not-zeros",
        [FS_REFUSAL_BLANK_FORMAT_NEVER] = "blank-format-never",
};

const char *fs_action_to_string(FsAction a) {
        if (a < 0 || a >= _FS_ACTION_MAX)
                return NULL;
        return fs_action_table[a];
}

const char *fs_refusal_to_string(FsRefusal r) {
        if (r < 0 || r >= _FS_REFUSAL_MAX)
                return NULL;
        return fs_refusal_table[r];
}

int fs_refusal_to_errno(FsRefusal r) {
        switch (r) {
        case FS_REFUSAL_NONE:
                return 0;
        /* Holds data we cannot read as ours. */
        case FS_REFUSAL_TAGGED_NO_FILESYSTEM:
        case FS_REFUSAL_NOT_ZEROS:
                return -ENOTEMPTY;
        /* Holds (or lacks) something of the wrong kind. */
        case FS_REFUSAL_AMBIVALENT:
        case FS_REFUSAL_PARTITION_TABLE:
        case FS_REFUSAL_OTHER_FILESYSTEM:
        case FS_REFUSAL_SIGNATURE:
        case FS_REFUSAL_BLANK_FORMAT_NEVER:
        default:
                return -EMEDIUMTYPE;
        }
}

void fs_decision_done(FsDecision *d) {
        if (!d)
                return;
        free(d->message);
        *d = (FsDecision) {};
}

static int decide(FsAction action, FsRefusal refusal, FsDecision *ret, const char *format, ...)
        _printf_(4, 5);

static int decide(FsAction action, FsRefusal refusal, FsDecision *ret, const char *format, ...) {
        char *message;
        va_list ap;
        int r;

        va_start(ap, format);
        r = vasprintf(&message, format, ap);
        va_end(ap);
        if (r < 0)
                return -ENOMEM;

        *ret = (FsDecision) {
                .action = action,
                .refusal = refusal,
                .message = message,
        };
        return 0;
}

int fs_format_decision(FormatPolicy policy, FileSystem file_system, const FsProbe *probe,
                       bool reads_as_zeros, const FsVolumeMarks *marks, FsDecision *ret) {
        _cleanup_free_ char *what = NULL;
        const char *fs_name;
        bool interrupted;

        if (policy < 0 || policy >= _FORMAT_MAX || !probe || !marks || !ret)
                return -EINVAL;
        fs_name = filesystem_to_string(file_system);
        if (!fs_name)
                return -EINVAL;

        if (probe->found) {
                what = fs_probe_describe(probe);
                if (!what)
                        return -ENOMEM;

                if (probe->ambivalent)
                        return decide(FS_ACTION_REFUSE, FS_REFUSAL_AMBIVALENT, ret,
                                      "it has %s (wipefs --no-act lists them): a person must decide "
                                      "what it holds.", what);

                /* A partition table beside a filesystem is refused too: which
                 * of the two is current is for a person to say. */
                if (probe->pttype)
                        return decide(FS_ACTION_REFUSE, FS_REFUSAL_PARTITION_TABLE, ret,
                                      "it has %s; the volume is used as a whole device, so this is "
                                      "not ours: refusing to mount or format it.", what);

                if (probe->type && streq_ptr(probe->usage, "filesystem")) {
                        if (streq(probe->type, fs_name))
                                return decide(FS_ACTION_MOUNT, FS_REFUSAL_NONE, ret,
                                              "it has %s.", what);

                        return decide(FS_ACTION_REFUSE, FS_REFUSAL_OTHER_FILESYSTEM, ret,
                                      "it has %s, but FileSystem=%s: refusing to mount or format it.",
                                      what, fs_name);
                }

                return decide(FS_ACTION_REFUSE, FS_REFUSAL_SIGNATURE, ret,
                              "it has %s, not a filesystem: refusing to format it.", what);
        }

        /* Nothing found. The tag says this volume held our filesystem: its
         * absence now means damage or a wrong device, never a fresh start. */
        if (marks->initialized)
                return decide(FS_ACTION_REFUSE, FS_REFUSAL_TAGGED_NO_FILESYSTEM, ret,
                              "the volume is tagged nodeagent:initialized but has no filesystem: it held "
                              "one before, and formatting could destroy its data; a person must look.");

        /* Bytes but no signature, on a volume where our own mkfs began and
         * never reached the initialised tag: mke2fs writes the superblock
         * last, so these are its unfinished blocks (a kill, a power loss),
         * not anyone's data. Nothing else ever wrote to it: it was mounted
         * only after a complete mkfs, and then it carries a filesystem. */
        interrupted = !reads_as_zeros && marks->format_started;
        if (!reads_as_zeros && !interrupted)
                return decide(FS_ACTION_REFUSE, FS_REFUSAL_NOT_ZEROS, ret,
                              "it has no known signature but does not read as zeros: unknown raw data "
                              "(a snapshot or another tool's format?); refusing to format it.");

        if (policy == FORMAT_NEVER)
                return decide(FS_ACTION_REFUSE, FS_REFUSAL_BLANK_FORMAT_NEVER, ret,
                              "the volume is %s and Format=never: set Format=if-blank to create "
                              "the %s filesystem, or attach the volume that holds the data.",
                              interrupted ? "blank but for an interrupted mkfs of nodeagent's" : "blank", fs_name);

        if (interrupted)
                return decide(FS_ACTION_FORMAT, FS_REFUSAL_NONE, ret,
                              "an earlier mkfs of nodeagent's on this volume was interrupted (tagged "
                              "nodeagent:format-started, never initialised, no signature): creating the "
                              "%s filesystem again.", fs_name);

        return decide(FS_ACTION_FORMAT, FS_REFUSAL_NONE, ret,
                      "the volume is blank (no signature, reads as zeros, never initialised): "
                      "creating an %s filesystem.", fs_name);
}

/* ---- mkfs, fsck ------------------------------------------------------ */

int fs_label_from_name(FileSystem file_system, const char *name, char **ret) {
        size_t max, n;
        char *label;

        if (!name || !ret)
                return -EINVAL;

        switch (file_system) {
        case FILESYSTEM_EXT4:
                max = 16;
                break;
        case FILESYSTEM_XFS:
                max = 12;
                break;
        default:
                return -EINVAL;
        }

        n = strlen(name);
        if (n > max) {
                n = max;
                /* Back up to the start of the character that would be cut. */
                while (n > 0 && ((unsigned char) name[n] & 0xC0) == 0x80)
                        n--;
        }

        label = strndup(name, n);
        if (!label)
                return -ENOMEM;
        *ret = label;
        return 0;
}

int fs_mkfs(const char *device, FileSystem file_system, const char *label, bool redo_interrupted, usec_t deadline,
            char **ret_uuid) {
        _cleanup_(fs_probe_done) FsProbe before = {}, after = {};
        _cleanup_free_ char *l = NULL, *output = NULL, *what = NULL, *uuid = NULL;
        const char *fs_name = filesystem_to_string(file_system);
        bool zeros = false;
        char *argv[16];
        size_t n = 0;
        int r;

        if (isempty(device) || !fs_name)
                return -EINVAL;

        /* The second line of defence, right before the write, so that this
         * function is safe on its own: mkfs.ext4 run without a terminal
         * formats over anything, and mkfs.xfs does not know every signature
         * libblkid does. */
        r = fs_probe(device, &before);
        if (r < 0)
                return r;
        if (before.found) {
                what = fs_probe_describe(&before);
                return log_error_errno(EMEDIUMTYPE, "Refusing to create a filesystem on %s: it has %s.",
                                       device, strna(what));
        }
        if (!redo_interrupted) {
                r = fs_reads_as_zeros(device, &zeros);
                if (r < 0)
                        return r;
                if (!zeros)
                        return log_error_errno(ENOTEMPTY, "Refusing to create a filesystem on %s: it has no "
                                               "known signature but does not read as zeros.", device);
        }

        if (!isempty(label)) {
                r = fs_label_from_name(file_system, label, &l);
                if (r < 0)
                        return r;
        }

        switch (file_system) {
        case FILESYSTEM_EXT4:
                /* No -F: mke2fs still refuses a mounted or busy device.
                 * lazy_itable_init and lazy_journal_init: a blank EBS volume
                 * reads as zeros, which is what eager initialisation would
                 * write, so skipping it loses nothing and saves writing up
                 * to a GiB of journal at boot (the kernel zeroes inode
                 * tables in the background). nodiscard: a discard drops
                 * every block of the device; should the checks above ever
                 * be wrong, mkfs overwrites metadata but leaves the data.
                 * Over an interrupted mkfs the journal may hold its stale
                 * blocks, so it is written out (inode tables are safe
                 * either way: the kernel zeroes those not marked zeroed). */
                argv[n++] = (char *) "mkfs.ext4";
                argv[n++] = (char *) "-q";
                argv[n++] = (char *) "-E";
                argv[n++] = redo_interrupted ? (char *) "lazy_itable_init=1,lazy_journal_init=0,nodiscard"
                                             : (char *) "lazy_itable_init=1,lazy_journal_init=1,nodiscard";
                break;
        case FILESYSTEM_XFS:
                /* No -f: mkfs.xfs refuses a device with a signature it
                 * knows. -K: no discard, as above. */
                argv[n++] = (char *) "mkfs.xfs";
                argv[n++] = (char *) "-q";
                argv[n++] = (char *) "-K";
                break;
        default:
                return -EINVAL;
        }
        if (!isempty(l)) {
                argv[n++] = (char *) "-L";
                argv[n++] = l;
        }
        argv[n++] = (char *) device;
        argv[n] = NULL;

        log_debug("Creating an %s filesystem on %s (label \"%s\").", fs_name, device, strempty(l));
        r = spawn_program(argv, deadline, LOG_INFO, &output);
        if (r < 0)
                return log_debug_errno(r, "Failed to run %s: %m", argv[0]);
        if (r > 0) {
                _cleanup_free_ char *summary = output_summary(output);

                if (file_system == FILESYSTEM_XFS && output &&
                    (strstr(output, "appears to contain") || strstr(output, "existing")))
                        return log_error_errno(EMEDIUMTYPE, "Refusing to create a filesystem on %s: "
                                               "mkfs.xfs found a signature: %s", device, strna(summary));
                return log_debug_errno(EIO, "%s on %s failed with exit status %d: %s", argv[0], device, r,
                                       strna(summary));
        }

        /* Read back what was written: the UUID tags the volume, and a
         * filesystem blkid cannot see would be refused at the next boot. */
        r = fs_probe(device, &after);
        if (r < 0)
                return r;
        if (!after.found || !streq_ptr(after.type, fs_name) || isempty(after.uuid)) {
                what = fs_probe_describe(&after);
                return log_debug_errno(EIO, "After %s, %s has %s instead of an %s filesystem with a UUID.",
                                       argv[0], device, strna(what), fs_name);
        }

        log_debug("Created an %s filesystem on %s, UUID %s.", fs_name, device, after.uuid);
        if (ret_uuid)
                *ret_uuid = TAKE_PTR(after.uuid);
        return 0;
}

static const char *e2fsck_status_to_string(int status) {
        if (status & 128)
                return "shared library error";
        if (status & 32)
                return "cancelled";
        if (status & 16)
                return "usage or syntax error";
        if (status & 8)
                return "operational error";
        if (status & 4)
                return "errors left uncorrected";
        if (status & 2)
                return "errors corrected, reboot requested";
        if (status & 1)
                return "errors corrected";
        return "no errors";
}

int fs_check(const char *device, FileSystem file_system, usec_t deadline) {
        _cleanup_free_ char *output = NULL, *summary = NULL;
        char *argv[] = { (char *) "e2fsck", (char *) "-p", (char *) device, NULL };
        int r;

        if (isempty(device))
                return -EINVAL;

        switch (file_system) {
        case FILESYSTEM_EXT4:
                break;
        case FILESYSTEM_XFS:
                /* Mounting replays the log, which is xfs's check; xfs_repair
                 * without a replayed log can throw away metadata, so it is
                 * for a person, never for us. */
                log_debug("%s: xfs is checked by the mount itself.", device);
                return 0;
        default:
                return -EINVAL;
        }

        /* -p (preen): fixes only what is safe without questions and stops
         * with exit status 4 on anything else. LOG_INFO: what e2fsck did to
         * the volume belongs in the log. */
        r = spawn_program(argv, deadline, LOG_INFO, &output);
        if (r < 0)
                return log_debug_errno(r, "Failed to run e2fsck on %s: %m", device);

        switch (r) {
        case 0:
                log_debug("e2fsck: %s is clean.", device);
                return 0;
        case 1:
                log_notice("e2fsck fixed errors on %s; mounting it.", device);
                return 1;
        default:
                /* DESIGN: 2 or more refuses. 2 ("reboot") only concerns a
                 * mounted root filesystem, which the volume never is; it is
                 * refused anyway rather than guessed about. */
                summary = output_summary(output);
                return log_error_errno(EUCLEAN, "e2fsck -p %s exited with status %d (%s): refusing to "
                                       "mount it; the device is left as it is for a person (e2fsck -f %s "
                                       "by hand). e2fsck said: %s",
                                       device, r, e2fsck_status_to_string(r), device, strna(summary));
        }
}

/* ---- mount ----------------------------------------------------------- */

static void closedirp(DIR **d) {
        if (*d)
                (void) closedir(*d);
}

static void mnt_free_tablep(struct libmnt_table **t) {
        if (*t)
                mnt_free_table(*t);
}

static void mnt_free_iterp(struct libmnt_iter **i) {
        if (*i)
                mnt_free_iter(*i);
}

static void mnt_free_contextp(struct libmnt_context **c) {
        if (*c)
                mnt_free_context(*c);
}

/* Creates path and its parents as directories (0755). */
static int mkdir_parents_and_self(const char *path) {
        _cleanup_free_ char *p = NULL;
        struct stat st;

        p = strdup(path);
        if (!p)
                return -ENOMEM;

        for (char *s = p + 1;; s++) {
                bool end = *s == '\0';

                if (*s != '/' && !end)
                        continue;
                *s = '\0';
                if (mkdir(p, 0755) >= 0) {
                        /* The mode the contract names, whatever our umask. */
                        if (chmod(p, 0755) < 0)
                                return -errno;
                } else if (errno != EEXIST)
                        return -errno;
                if (end)
                        break;
                *s = '/';
        }

        if (stat(path, &st) < 0)
                return -errno;
        if (!S_ISDIR(st.st_mode))
                return -ENOTDIR;
        return 0;
}

/* What is mounted where, from /proc/self/mountinfo: the mount on top of
 * target (NULL when none) and a mount of devno elsewhere (NULL when none).
 * Both point into *ret_table. */
static int mount_table_lookup(const char *target, dev_t devno, struct libmnt_table **ret_table,
                              struct libmnt_fs **ret_top, struct libmnt_fs **ret_elsewhere) {
        _cleanup_(mnt_free_tablep) struct libmnt_table *t = NULL;
        _cleanup_(mnt_free_iterp) struct libmnt_iter *i = NULL;
        struct libmnt_fs *fs, *top = NULL, *elsewhere = NULL;
        int r;

        errno = 0;
        t = mnt_new_table_from_file("/proc/self/mountinfo");
        if (!t)
                return errno > 0 ? -errno : -EIO;
        i = mnt_new_iter(MNT_ITER_FORWARD);
        if (!i)
                return -ENOMEM;

        /* mountinfo lists mounts in the order they were made: the last one
         * on target is the one on top. */
        for (;;) {
                const char *fs_target;

                r = mnt_table_next_fs(t, i, &fs);
                if (r != 0)
                        break;
                fs_target = mnt_fs_get_target(fs);

                if (!fs_target)
                        continue;
                if (target && streq(fs_target, target))
                        top = fs;
                else if (devno != 0 && mnt_fs_get_devno(fs) == devno && !elsewhere)
                        elsewhere = fs;
        }
        if (r < 0)
                return r;       /* 1 is the end of the table */

        *ret_top = top;
        *ret_elsewhere = elsewhere;
        *ret_table = TAKE_PTR(t);
        return 0;
}

static int device_devno(const char *device, dev_t *ret) {
        struct stat st;

        if (stat(device, &st) < 0)
                return log_debug_errno(errno, "Failed to stat %s: %m", device);
        if (!S_ISBLK(st.st_mode))
                return log_debug_errno(ENOTBLK, "%s is not a block device.", device);
        *ret = st.st_rdev;
        return 0;
}

/* Like fs_mount_state(), for a target that is already canonical. */
static int mount_state(const char *device, dev_t devno, const char *target) {
        _cleanup_(mnt_free_tablep) struct libmnt_table *t = NULL;
        struct libmnt_fs *top, *elsewhere;
        int r;

        r = mount_table_lookup(target, devno, &t, &top, &elsewhere);
        if (r < 0)
                return log_debug_errno(r, "Failed to read the mount table: %m");

        if (top) {
                if (mnt_fs_get_devno(top) == devno)
                        return 1;
                return log_error_errno(ENOTEMPTY, "Refusing to mount %s on %s: %s (%s) is mounted there; "
                                       "a person must decide which one belongs there.",
                                       device, target, strna(mnt_fs_get_source(top)),
                                       strna(mnt_fs_get_fstype(top)));
        }
        if (elsewhere)
                return log_error_errno(ENOTEMPTY, "Refusing to mount %s on %s: it is mounted on %s already; "
                                       "a person must decide where it belongs.",
                                       device, target, strna(mnt_fs_get_target(elsewhere)));
        return 0;
}

int fs_mount_state(const char *device, const char *mount_point) {
        _cleanup_free_ char *target = NULL;
        dev_t devno;
        int r;

        if (isempty(device) || isempty(mount_point))
                return -EINVAL;

        r = device_devno(device, &devno);
        if (r < 0)
                return r;

        /* A mount point that does not exist has nothing mounted on it, but
         * the device may still be mounted elsewhere. */
        target = realpath(mount_point, NULL);
        if (!target && errno != ENOENT)
                return log_debug_errno(errno, "Failed to resolve %s: %m", mount_point);

        return mount_state(device, devno, target ?: mount_point);
}

static void log_hidden_entries(const char *target) {
        _cleanup_(closedirp) DIR *d = NULL;
        unsigned n = 0;
        struct dirent *de;

        d = opendir(target);
        if (!d)
                return;
        for (de = readdir(d); de; de = readdir(d))
                if (!streq(de->d_name, ".") && !streq(de->d_name, ".."))
                        n++;
        /* Whatever was written there before the mount (an application that
         * started too early) disappears under the volume. */
        if (n > 0)
                log_notice("Mount point %s is not empty: its %u entries will be hidden under the volume.",
                           target, n);
}

int fs_mount(const char *device, const char *mount_point, FileSystem file_system,
             const char *options, bool *ret_already) {
        _cleanup_(mnt_free_contextp) struct libmnt_context *cxt = NULL;
        _cleanup_free_ char *target = NULL;
        const char *fs_name = filesystem_to_string(file_system);
        dev_t devno;
        int r, error = 0;

        if (isempty(device) || isempty(mount_point) || !fs_name)
                return -EINVAL;

        r = device_devno(device, &devno);
        if (r < 0)
                return r;

        r = mkdir_parents_and_self(mount_point);
        if (r < 0)
                return log_debug_errno(r, "Failed to create mount point %s: %m", mount_point);

        /* mountinfo has canonical paths. */
        target = realpath(mount_point, NULL);
        if (!target)
                return log_debug_errno(errno, "Failed to resolve %s: %m", mount_point);

        r = mount_state(device, devno, target);
        if (r < 0)
                return r;
        if (r > 0) {
                log_debug("%s is already mounted on %s.", device, target);
                if (ret_already)
                        *ret_already = true;
                return 0;
        }

        log_hidden_entries(target);

        cxt = mnt_new_context();
        if (!cxt)
                return -ENOMEM;

        /* Everything is given: no fstab lookup, no /sbin/mount.<type>
         * helper; the mount lands in our (the host's) namespace. */
        if (mnt_context_set_source(cxt, device) < 0 ||
            mnt_context_set_target(cxt, target) < 0 ||
            mnt_context_set_fstype(cxt, fs_name) < 0 ||
            (!isempty(options) && mnt_context_set_options(cxt, options) < 0) ||
            mnt_context_set_optsmode(cxt, MNT_OMODE_IGNORE) < 0 ||
            mnt_context_disable_helpers(cxt, true) < 0)
                return -ENOMEM;

        log_debug("Mounting %s on %s (%s, options \"%s\").", device, target, fs_name, strempty(options));
        r = mnt_context_mount(cxt);
        if (r == 0 && mnt_context_get_status(cxt) == 1) {
                log_debug("Mounted %s on %s.", device, target);
                if (ret_already)
                        *ret_already = false;
                return 0;
        }

        if (mnt_context_syscall_called(cxt))
                error = mnt_context_get_syscall_errno(cxt);
        if (error == 0)
                error = r < 0 && r > -4096 ? -r : EIO;

        /* EUCLEAN is EFSCORRUPTED and EBADMSG is EFSBADCRC inside the
         * kernel: the filesystem is damaged. Neither repair nor format is
         * ours to do. */
        if (error == EUCLEAN || error == EBADMSG)
                return log_error_errno(EUCLEAN, "Mounting %s on %s failed: the kernel found the %s filesystem "
                                       "corrupt (see the kernel log); not repairing, not formatting: a "
                                       "person must look.", device, target, fs_name);

        return log_debug_errno(error, "Failed to mount %s on %s: %m", device, target);
}

/* Up to a few processes whose working directory or root is at or under
 * path, as "1234 (kafka), 99 (bash)", or NULL. */
static char *find_holders(const char *path) {
        _cleanup_(closedirp) DIR *d = NULL;
        _cleanup_free_ char *s = NULL;
        size_t size = 0, path_len = strlen(path);
        unsigned found = 0;
        struct dirent *de;
        FILE *f;

        d = opendir("/proc");
        if (!d)
                return NULL;
        f = open_memstream(&s, &size);
        if (!f)
                return NULL;

        for (de = readdir(d); de && found < 5; de = readdir(d)) {
                static const char *const links[] = { "cwd", "root" };

                if (!isdigit((unsigned char) de->d_name[0]))
                        continue;

                for (size_t i = 0; i < ELEMENTSOF(links); i++) {
                        char link[PATH_MAX], target[PATH_MAX], comm[64] = "";
                        _cleanup_close_ int comm_fd = -EBADF;
                        ssize_t n;

                        (void) snprintf(link, sizeof(link), "/proc/%s/%s", de->d_name, links[i]);
                        n = readlink(link, target, sizeof(target) - 1);
                        if (n < 0)
                                continue;
                        target[n] = '\0';
                        if (strncmp(target, path, path_len) != 0 ||
                            (target[path_len] != '\0' && target[path_len] != '/'))
                                continue;

                        (void) snprintf(link, sizeof(link), "/proc/%s/comm", de->d_name);
                        comm_fd = open(link, O_RDONLY | O_CLOEXEC);
                        if (comm_fd >= 0) {
                                n = read(comm_fd, comm, sizeof(comm) - 1);
                                comm[n > 0 ? n : 0] = '\0';
                                comm[strcspn(comm, "\n")] = '\0';
                        }
                        fprintf(f, "%s%s (%s)", found > 0 ? ", " : "", de->d_name, comm);
                        found++;
                        break;
                }
        }

        if (fclose(f) != 0 || found == 0)
                return NULL;
        return TAKE_PTR(s);
}

int fs_unmount(const char *mount_point) {
        _cleanup_(mnt_free_contextp) struct libmnt_context *cxt = NULL;
        _cleanup_(mnt_free_tablep) struct libmnt_table *t = NULL;
        _cleanup_free_ char *target = NULL;
        struct libmnt_fs *top, *elsewhere;
        int r, error = 0;

        if (isempty(mount_point))
                return -EINVAL;

        target = realpath(mount_point, NULL);
        if (!target) {
                if (errno == ENOENT)
                        return 0;
                return log_debug_errno(errno, "Failed to resolve %s: %m", mount_point);
        }

        r = mount_table_lookup(target, 0, &t, &top, &elsewhere);
        if (r < 0)
                return log_debug_errno(r, "Failed to read the mount table: %m");
        if (!top) {
                log_debug("Nothing is mounted on %s.", target);
                return 0;
        }

        cxt = mnt_new_context();
        if (!cxt)
                return -ENOMEM;
        if (mnt_context_set_target(cxt, target) < 0 ||
            mnt_context_disable_helpers(cxt, true) < 0)
                return -ENOMEM;

        log_debug("Unmounting %s.", target);
        r = mnt_context_umount(cxt);
        if (r == 0 && mnt_context_get_status(cxt) == 1) {
                log_debug("Unmounted %s.", target);
                return 1;
        }

        if (mnt_context_syscall_called(cxt))
                error = mnt_context_get_syscall_errno(cxt);
        if (error == 0)
                error = r < 0 && r > -4096 ? -r : EIO;

        if (error == EBUSY) {
                _cleanup_free_ char *holders = find_holders(target);

                if (holders)
                        return log_error_errno(EBUSY, "Not unmounting %s: it is in use (processes working "
                                               "in it: %s).", target, holders);
                return log_error_errno(EBUSY, "Not unmounting %s: it is in use (open files, or mounts "
                                       "under it).", target);
        }
        return log_debug_errno(error, "Failed to unmount %s: %m", target);
}

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
                n = pread_full(fd, buf, sizeof(buf), 0);
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

        r = device_devno(device, &devno);
        if (r < 0)
                return r;
        target = realpath(mount_point, NULL);
        if (!target)
                return log_debug_errno(errno, "Failed to resolve %s: %m", mount_point);
        /* Both tools grow a mounted filesystem only: make sure it is ours. */
        r = mount_state(device, devno, target);
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
        r = spawn_program(argv, deadline, LOG_INFO, NULL);
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

/* ---- the whole step -------------------------------------------------- */

void fs_setup_result_done(FsSetupResult *r) {
        if (!r)
                return;
        free(r->uuid);
        *r = (FsSetupResult) {};
}

int fs_setup(const char *device, const ConfigVolume *config, const FsSetupOptions *options, usec_t deadline,
             FsSetupResult *ret) {
        _cleanup_(fs_setup_result_done) FsSetupResult result = {};
        _cleanup_(fs_decision_done) FsDecision decision = {};
        _cleanup_(fs_probe_done) FsProbe probe = {};
        bool zeros = false, already = false;
        int r;

        if (isempty(device) || !config || isempty(config->mount_point) || !options || !ret)
                return -EINVAL;

        /* A restart after the mount: the filesystem is in use, so it must
         * not be checked (e2fsck refuses a mounted device anyway). */
        r = fs_mount_state(device, config->mount_point);
        if (r < 0)
                return r;
        if (r > 0) {
                log_info("%s is already mounted on %s.", device, config->mount_point);
                result.already_mounted = true;

                /* Read-only, and the UUID lets the caller tag the volume
                 * when a previous run stopped between mkfs and the tag. */
                r = fs_probe(device, &probe);
                if (r < 0)
                        return r;
                if (probe.uuid)
                        result.uuid = TAKE_PTR(probe.uuid);
        } else {
                r = fs_probe(device, &probe);
                if (r < 0)
                        return r;
                if (!probe.found) {
                        r = fs_reads_as_zeros(device, &zeros);
                        if (r < 0)
                                return r;
                }

                r = fs_format_decision(config->format, config->file_system, &probe, zeros,
                                       &options->marks, &decision);
                if (r < 0)
                        return r;

                switch (decision.action) {
                case FS_ACTION_REFUSE:
                        return log_error_errno(fs_refusal_to_errno(decision.refusal), "Refusing to use %s: %s",
                                               device, decision.message);
                case FS_ACTION_FORMAT:
                        log_info("%s: %s", device, decision.message);
                        if (options->before_format) {
                                r = options->before_format(options->userdata);
                                if (r < 0)
                                        return r;
                        }
                        /* The decision formats a volume that does not read
                         * as zeros only when it holds our interrupted mkfs. */
                        r = fs_mkfs(device, config->file_system, options->label, !zeros, deadline, &result.uuid);
                        if (r < 0)
                                return r;
                        result.formatted = true;
                        break;
                case FS_ACTION_MOUNT:
                        log_debug("%s: %s", device, decision.message);
                        result.uuid = TAKE_PTR(probe.uuid);
                        r = fs_check(device, config->file_system, deadline);
                        if (r < 0)
                                return r;
                        break;
                default:
                        return -EINVAL;
                }

                r = fs_mount(device, config->mount_point, config->file_system, config->mount_options,
                             &already);
                if (r < 0)
                        return r;
                log_info("Mounted %s on %s.", device, config->mount_point);
        }

        if (config->grow) {
                r = fs_grow(device, config->mount_point, config->file_system, deadline);
                /* The data is mounted and usable: a filesystem that could not
                 * grow is worth a warning, not a node that stays down. The
                 * deadline is another matter. */
                if (r == -ETIME)
                        return r;
                if (r < 0)
                        log_warning_errno(r, "Could not grow the filesystem on %s to the volume's size, "
                                          "continuing without: %m", device);
                result.grown = r > 0;
        }

        *ret = result;
        result = (FsSetupResult) {};
        return 0;
}

/* ---- Watching the mount after the boot ---- */

struct FsMountMonitor {
        struct libmnt_monitor *monitor;
        int fd;
};

FsMountMonitor *fs_mount_monitor_free(FsMountMonitor *m) {
        if (!m)
                return NULL;
        mnt_unref_monitor(m->monitor);
        return mfree(m);
}

int fs_mount_monitor_new(FsMountMonitor **ret) {
        _cleanup_(fs_mount_monitor_freep) FsMountMonitor *m = NULL;
        int r;

        m = calloc(1, sizeof(*m));
        if (!m)
                return -ENOMEM;
        m->monitor = mnt_new_monitor();
        if (!m->monitor)
                return -ENOMEM;
        /* The kernel's mount table (/proc/self/mountinfo changes): an
         * unmount by anyone, or a lazy one, shows there. */
        r = mnt_monitor_enable_kernel(m->monitor, 1);
        if (r < 0)
                return r;
        m->fd = mnt_monitor_get_fd(m->monitor);
        if (m->fd < 0)
                return m->fd;
        *ret = TAKE_PTR(m);
        return 0;
}

int fs_mount_monitor_fd(const FsMountMonitor *m) {
        return m->fd;
}

void fs_mount_monitor_drain(FsMountMonitor *m) {
        (void) mnt_monitor_event_cleanup(m->monitor);
}
