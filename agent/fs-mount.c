/* SPDX-License-Identifier: Apache-2.0 */
/* libmount: mount, unmount, what is mounted where, and the mount table's
 * changes after the boot. */
#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <sys/stat.h>

#include <libmount.h>

#include "fs-internal.h"
#include "fs.h"
#include "log.h"

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
                return negative_errno();
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

int fs_device_devno(const char *device, dev_t *ret) {
        struct stat st;

        if (stat(device, &st) < 0)
                return log_debug_errno(errno, "Failed to stat %s: %m", device);
        if (!S_ISBLK(st.st_mode))
                return log_debug_errno(ENOTBLK, "%s is not a block device.", device);
        *ret = st.st_rdev;
        return 0;
}

/* Like fs_mount_state(), for a target that is already canonical. */
int fs_mount_state_at(const char *device, dev_t devno, const char *target) {
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

        r = fs_device_devno(device, &devno);
        if (r < 0)
                return r;

        /* A mount point that does not exist has nothing mounted on it, but
         * the device may still be mounted elsewhere. */
        target = realpath(mount_point, NULL);
        if (!target && errno != ENOENT)
                return log_debug_errno(errno, "Failed to resolve %s: %m", mount_point);

        return fs_mount_state_at(device, devno, target ?: mount_point);
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

        r = fs_device_devno(device, &devno);
        if (r < 0)
                return r;

        r = mkdir_parents_and_self(mount_point);
        if (r < 0)
                return log_debug_errno(r, "Failed to create mount point %s: %m", mount_point);

        /* mountinfo has canonical paths. */
        target = realpath(mount_point, NULL);
        if (!target)
                return log_debug_errno(errno, "Failed to resolve %s: %m", mount_point);

        r = fs_mount_state_at(device, devno, target);
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
