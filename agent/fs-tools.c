/* SPDX-License-Identifier: Apache-2.0 */
/* The programs: mkfs and e2fsck, and what their exit statuses mean. */
#include <stdio.h>

#include "fs-internal.h"
#include "fs.h"
#include "log.h"
#include "spawn-util.h"

/* What of a program's output goes into one log message. */
#define FS_OUTPUT_SUMMARY_MAX 1024U

/* ---- running the programs ------------------------------------------ */

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
int fs_spawn_program(char *const argv[], usec_t deadline, int log_level, char **ret_output) {
        int r;

        r = spawn(argv, deadline, log_level, ret_output);
        if (r == -ENOENT)
                return -ENOPKG;
        return r;
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

/* The second line of defence, right before the write, so that fs_mkfs()
 * is safe on its own: mkfs.ext4 run without a terminal formats over
 * anything, and mkfs.xfs does not know every signature libblkid does. It
 * reads what the caller found (fs_mkfs_proven()) or what fs_mkfs() just
 * probed. */
static int mkfs_refuse_unless_blank(const char *device, const FsProbe *probe, bool reads_as_zeros,
                                    bool redo_interrupted) {
        _cleanup_free_ char *what = NULL;

        if (probe->found) {
                what = fs_probe_describe(probe);
                return log_error_errno(EMEDIUMTYPE, "Refusing to create a filesystem on %s: it has %s.",
                                       device, strna(what));
        }
        if (!redo_interrupted && !reads_as_zeros)
                return log_error_errno(ENOTEMPTY, "Refusing to create a filesystem on %s: it has no "
                                       "known signature but does not read as zeros.", device);
        return 0;
}

/* The command line of file_system's mkfs, NULL-terminated in argv (room for
 * MKFS_ARGV_MAX); label may be NULL or empty. */
#define MKFS_ARGV_MAX 16
static int mkfs_argv(FileSystem file_system, const char *device, char *label, bool redo_interrupted,
                     char *argv[static MKFS_ARGV_MAX]) {
        size_t n = 0;

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
        if (!isempty(label)) {
                argv[n++] = (char *) "-L";
                argv[n++] = label;
        }
        argv[n++] = (char *) device;
        argv[n] = NULL;
        return 0;
}

/* Runs mkfs: an exit status other than 0 fails, and is a refusal when
 * mkfs.xfs says it found a signature. */
static int mkfs_run(char *const argv[], FileSystem file_system, const char *device, usec_t deadline) {
        _cleanup_free_ char *output = NULL, *summary = NULL;
        int r;

        r = fs_spawn_program(argv, deadline, LOG_INFO, &output);
        if (r < 0)
                return log_debug_errno(r, "Failed to run %s: %m", argv[0]);
        if (r == 0)
                return 0;

        summary = output_summary(output);
        if (file_system == FILESYSTEM_XFS && output &&
            (strstr(output, "appears to contain") || strstr(output, "existing")))
                return log_error_errno(EMEDIUMTYPE, "Refusing to create a filesystem on %s: "
                                       "mkfs.xfs found a signature: %s", device, strna(summary));
        return log_debug_errno(EIO, "%s on %s failed with exit status %d: %s", argv[0], device, r,
                               strna(summary));
}

/* Reads back what program wrote: the UUID tags the volume, and a
 * filesystem blkid cannot see would be refused at the next boot. */
static int mkfs_read_back(const char *device, const char *fs_name, const char *program, char **ret_uuid) {
        _cleanup_(fs_probe_done) FsProbe after = {};
        _cleanup_free_ char *what = NULL;
        int r;

        r = fs_probe(device, &after);
        if (r < 0)
                return r;
        if (!after.found || !streq_ptr(after.type, fs_name) || isempty(after.uuid)) {
                what = fs_probe_describe(&after);
                return log_debug_errno(EIO, "After %s, %s has %s instead of an %s filesystem with a UUID.",
                                       program, device, strna(what), fs_name);
        }

        log_debug("Created an %s filesystem on %s, UUID %s.", fs_name, device, after.uuid);
        if (ret_uuid)
                *ret_uuid = TAKE_PTR(after.uuid);
        return 0;
}

int fs_mkfs_proven(const char *device, FileSystem file_system, const char *label, const FsProbe *probe,
                   bool reads_as_zeros, bool redo_interrupted, usec_t deadline, char **ret_uuid) {
        _cleanup_free_ char *l = NULL;
        const char *fs_name = filesystem_to_string(file_system);
        char *argv[MKFS_ARGV_MAX];
        int r;

        if (isempty(device) || !fs_name || !probe)
                return -EINVAL;

        r = mkfs_refuse_unless_blank(device, probe, reads_as_zeros, redo_interrupted);
        if (r < 0)
                return r;

        if (!isempty(label)) {
                r = fs_label_from_name(file_system, label, &l);
                if (r < 0)
                        return r;
        }
        r = mkfs_argv(file_system, device, l, redo_interrupted, argv);
        if (r < 0)
                return r;

        log_debug("Creating an %s filesystem on %s (label \"%s\").", fs_name, device, strempty(l));
        r = mkfs_run(argv, file_system, device, deadline);
        if (r < 0)
                return r;

        return mkfs_read_back(device, fs_name, argv[0], ret_uuid);
}

int fs_mkfs(const char *device, FileSystem file_system, const char *label, bool redo_interrupted, usec_t deadline,
            char **ret_uuid) {
        _cleanup_(fs_probe_done) FsProbe probe = {};
        bool zeros = false;
        int r;

        if (isempty(device) || !filesystem_to_string(file_system))
                return -EINVAL;

        r = fs_probe(device, &probe);
        if (r < 0)
                return r;
        if (!probe.found && !redo_interrupted) {
                r = fs_reads_as_zeros(device, &zeros);
                if (r < 0)
                        return r;
        }
        return fs_mkfs_proven(device, file_system, label, &probe, zeros, redo_interrupted, deadline, ret_uuid);
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
        r = fs_spawn_program(argv, deadline, LOG_INFO, &output);
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
