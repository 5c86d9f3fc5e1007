/* SPDX-License-Identifier: Apache-2.0 */
/* Striped sets, the side that touches the system: what the members hold
 * (libblkid through fs_probe(), mdadm --examine), which arrays the kernel
 * runs over them (sysfs), and mdadm to create, assemble and stop. */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "backoff.h"
#include "log.h"
#include "raid.h"
#include "spawn-util.h"

/* How long /dev/md/<name> may take to appear once the kernel runs the
 * array: udev makes the link from the array's change event. */
#define RAID_LINK_WAIT_USEC (10 * USEC_PER_SEC)

/* An argv for spawn(); the strings stay the caller's. */
#define ARGV(...) ((char *[]) { __VA_ARGS__, NULL })

static void closedirp(DIR **d) {
        if (*d)
                (void) closedir(*d);
}

static const BackoffPolicy link_poll = {
        .initial = 50 * USEC_PER_MSEC,
        .max = 500 * USEC_PER_MSEC,
        .growth_percent = 200,
};

static const char *const raid_write_table[_RAID_WRITE_MAX] = {
        [RAID_WRITE_STOP] = "stop",
        [RAID_WRITE_CREATE] = "create",
        [RAID_WRITE_ASSEMBLE] = "assemble",
};

static const char *const raid_outcome_table[_RAID_OUTCOME_MAX] = {
        [RAID_OUTCOME_CREATED] = "created",
        [RAID_OUTCOME_ASSEMBLED] = "assembled",
        [RAID_OUTCOME_ADOPTED] = "adopted",
};

const char *raid_write_to_string(RaidWrite w) {
        if (w < 0 || w >= _RAID_WRITE_MAX)
                return NULL;
        return raid_write_table[w];
}

const char *raid_outcome_to_string(RaidOutcome o) {
        if (o < 0 || o >= _RAID_OUTCOME_MAX)
                return NULL;
        return raid_outcome_table[o];
}

void raid_result_done(RaidResult *r) {
        if (!r)
                return;
        free(r->device);
        free(r->uuid);
        *r = (RaidResult) {};
}

void raid_status_done(RaidStatus *s) {
        if (!s)
                return;
        free(s->kernel_name);
        free(s->array_state);
        free(s->uuid);
        *s = (RaidStatus) { .raid_devices = -1 };
}

bool raid_error_is_refusal(int r) {
        return r == -EMEDIUMTYPE || r == -ENOTEMPTY;
}

/* ---- small helpers ------------------------------------------------------ */

/* mdadm, with its words in the log at log_level. A missing mdadm is a
 * broken install (exit 1), not a missing volume. */
static int mdadm(char *const argv[], usec_t deadline, int log_level, char **ret_output) {
        int r;

        r = spawn(argv, deadline, log_level, ret_output);
        if (r == -ENOENT)
                return -ENOPKG;
        return r;
}

/* The first line of a sysfs attribute, without its newline. */
static int read_sysfs(const char *path, char **ret) {
        _cleanup_close_ int fd = -EBADF;
        char buf[256];
        ssize_t n;
        char *s;

        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        n = read(fd, buf, sizeof(buf) - 1);
        if (n < 0)
                return -errno;
        buf[n] = '\0';
        buf[strcspn(buf, "\n")] = '\0';
        s = strdup(buf);
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}

/* The kernel name ("nvme1n1", "md127") of the block device at path. */
static int kernel_name(const char *path, char **ret) {
        _cleanup_free_ char *link = NULL, *target = NULL;
        struct stat st;
        const char *slash;
        char *name;

        /* negative_errno(): a failure is never taken for a success that
         * left *ret unset. */
        if (stat(path, &st) < 0)
                return negative_errno();
        if (!S_ISBLK(st.st_mode))
                return -ENOTBLK;
        if (asprintf(&link, "/sys/dev/block/%u:%u", major(st.st_rdev), minor(st.st_rdev)) < 0)
                return -ENOMEM;
        target = realpath(link, NULL);
        if (!target)
                return negative_errno();
        slash = strrchr(target, '/');
        name = strdup(slash ? slash + 1 : target);
        if (!name)
                return -ENOMEM;
        *ret = name;
        return 0;
}

/* A small non-negative decimal (a device count, a slot), or -1. */
static int parse_small(const char *s) {
        char *end;
        long v;

        if (!s || *s < '0' || *s > '9')
                return -1;
        errno = 0;
        v = strtol(s, &end, 10);
        if (errno != 0 || *end != '\0' || v > INT_MAX)
                return -1;
        return (int) v;
}

/* The value of KEY in `mdadm --export` output (KEY=value lines). */
static int export_value(const char *text, const char *key, char **ret) {
        size_t k = strlen(key);

        for (const char *line = text; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
                size_t len = strcspn(line, "\n");
                char *v;

                if (len > k && strncmp(line, key, k) == 0 && line[k] == '=') {
                        v = strndup(line + k + 1, len - k - 1);
                        if (!v)
                                return -ENOMEM;
                        *ret = v;
                        return 1;
                }
        }
        *ret = NULL;
        return 0;
}

/* ---- what a member holds ------------------------------------------------ */

int raid_examine(const RaidMember *m, usec_t deadline, RaidMemberFound *ret) {
        _cleanup_(raid_member_found_done) RaidMemberFound f = { .sb = { .raid_devices = -1, .role = -1 } };
        _cleanup_free_ char *output = NULL;
        int r;

        if (!m || isempty(m->devnode) || !ret)
                return -EINVAL;
        r = fs_probe(m->devnode, &f.probe);
        if (r < 0)
                return log_debug_errno(r, "Failed to probe %s: %m", m->devnode);
        if (!f.probe.found) {
                r = fs_reads_as_zeros(m->devnode, &f.zeros);
                if (r < 0)
                        return r;
        }

        /* libblkid says "an md superblock"; mdadm says what is in it (the
         * member's place is not among what libblkid reports). */
        if (streq_ptr(f.probe.type, "linux_raid_member")) {
                r = mdadm(ARGV((char *) "mdadm", (char *) "--examine", (char *) m->devnode), deadline, LOG_DEBUG, &output);
                if (r < 0)
                        return r;
                if (r == 0 && output) {
                        r = raid_parse_examine(output, &f.sb);
                        if (r == -ENOMEM)
                                return r;
                        f.examined = r >= 0;
                }
                if (!f.examined)
                        log_debug("%s: blkid found an md superblock that mdadm --examine cannot read.", m->devnode);
        }

        if (f.examined)
                log_debug("%s (%s): md superblock of array %s, name %s, %s, device %d of %d.", m->devnode,
                          m->volume_id, strna(f.sb.array_uuid), strna(f.sb.name), strna(f.sb.level), f.sb.role,
                          f.sb.raid_devices);
        else
                log_debug("%s (%s): %s.", m->devnode, m->volume_id,
                          f.probe.found ? strna(f.probe.type) : f.zeros ? "nothing, reads as zeros" :
                                                                          "nothing, but not zeros");
        *ret = f;
        f = (RaidMemberFound) {};
        return 0;
}

/* ---- arrays the kernel runs --------------------------------------------- */

typedef struct Array {
        char *kernel_name;              /* "md127" */
        char *array_state;              /* sysfs md/array_state */
        char *uuid;                     /* normalised; NULL when mdadm does not say (inactive) */
        char *level;
        int raid_devices;
} Array;

static void array_done(Array *a) {
        free(a->kernel_name);
        free(a->array_state);
        free(a->uuid);
        free(a->level);
        *a = (Array) { .raid_devices = -1 };
}

static bool array_active(const Array *a) {
        /* "inactive" (members gathered, not started) and "clear" are not an
         * array one can use; "clean", "active", "read-auto" and the like are. */
        return a->array_state && !streq(a->array_state, "inactive") && !streq(a->array_state, "clear");
}

static int array_read(const char *kname, usec_t deadline, Array *ret) {
        _cleanup_free_ char *path = NULL, *dev = NULL, *output = NULL, *uuid = NULL, *devices = NULL;
        Array a = { .raid_devices = -1 };
        char normal[RAID_UUID_STRING_SIZE];
        int r;

        a.kernel_name = strdup(kname);
        if (!a.kernel_name)
                return -ENOMEM;
        if (asprintf(&path, "/sys/block/%s/md/array_state", kname) < 0 || asprintf(&dev, "/dev/%s", kname) < 0) {
                array_done(&a);
                return -ENOMEM;
        }
        (void) read_sysfs(path, &a.array_state);

        r = mdadm(ARGV((char *) "mdadm", (char *) "--detail", (char *) "--export", dev), deadline, LOG_DEBUG, &output);
        if (r == 0 && output) {
                if (export_value(output, "MD_UUID", &uuid) > 0 && raid_uuid_normalize(uuid, normal) >= 0)
                        a.uuid = strdup(normal);
                (void) export_value(output, "MD_LEVEL", &a.level);
                if (export_value(output, "MD_DEVICES", &devices) > 0)
                        a.raid_devices = parse_small(devices);
        } else if (r < 0 && r != -ENOPKG && r != -ETIME)
                r = 0;
        if (r < 0) {
                array_done(&a);
                return r;
        }

        log_debug("%s: %s, array %s, %s, %d devices.", kname, strna(a.array_state), strna(a.uuid), strna(a.level),
                  a.raid_devices);
        *ret = a;
        return 0;
}

/* The md arrays that hold member (sysfs holders/), added to *names
 * (NULL-terminated, without duplicates). */
static int add_holders(const char *devnode, char ***names, size_t *n) {
        _cleanup_free_ char *kname = NULL, *path = NULL;
        _cleanup_(closedirp) DIR *d = NULL;
        struct dirent *de;
        int r;

        r = kernel_name(devnode, &kname);
        if (r < 0)
                return log_debug_errno(r, "Failed to find %s in sysfs: %m", devnode);
        if (asprintf(&path, "/sys/class/block/%s/holders", kname) < 0)
                return -ENOMEM;
        d = opendir(path);
        if (!d)
                return errno == ENOENT ? 0 : -errno;

        while ((de = readdir(d))) {
                bool known = false;
                char **grown;

                if (!startswith(de->d_name, "md"))
                        continue;
                for (size_t i = 0; i < *n; i++)
                        if (streq((*names)[i], de->d_name))
                                known = true;
                if (known)
                        continue;
                grown = realloc(*names, (*n + 2) * sizeof(char *));
                if (!grown)
                        return -ENOMEM;
                *names = grown;
                (*names)[*n] = strdup(de->d_name);
                if (!(*names)[*n])
                        return -ENOMEM;
                (*names)[++*n] = NULL;
        }
        return 0;
}

/* The slot of member in the running array kname (sysfs md/dev-X/slot):
 * >= 0, or -1 when it is not there or has no slot. */
static int member_slot(const char *kname, const char *devnode) {
        _cleanup_free_ char *member = NULL, *path = NULL, *value = NULL;

        if (kernel_name(devnode, &member) < 0)
                return -1;
        if (asprintf(&path, "/sys/block/%s/md/dev-%s/slot", kname, member) < 0)
                return -1;
        if (read_sysfs(path, &value) < 0)
                return -1;
        /* "none" for a device without a place. */
        return parse_small(value);
}

/* How many devices the running array kname has (sysfs slaves/). */
static int array_member_count(const char *kname) {
        _cleanup_free_ char *path = NULL;
        _cleanup_(closedirp) DIR *d = NULL;
        struct dirent *de;
        int n = 0;

        if (asprintf(&path, "/sys/block/%s/slaves", kname) < 0)
                return -ENOMEM;
        d = opendir(path);
        if (!d)
                return -errno;
        while ((de = readdir(d)))
                if (de->d_name[0] != '.')
                        n++;
        return n;
}

/* Whether the running array a is the one the decision assembles, over
 * exactly our members, each in the place its superblock gives. */
static bool array_is_ours(const Array *a, const RaidDecision *d, const RaidMember *members,
                          const RaidMemberFound *found, size_t n) {
        if (d->action != RAID_ACTION_ASSEMBLE || !array_active(a) || !streq_ptr(a->uuid, d->uuid) ||
            !streq_ptr(a->level, "raid0") || a->raid_devices != (int) n || array_member_count(a->kernel_name) != (int) n)
                return false;
        for (size_t i = 0; i < n; i++)
                if (member_slot(a->kernel_name, members[i].devnode) != found[i].sb.role)
                        return false;
        return true;
}

/* ---- writing -------------------------------------------------------------- */

/* The last line of a program's output: where mdadm says why. */
static const char *last_line(char *output) {
        char *end, *start;

        if (!output)
                return "";
        end = output + strlen(output);
        while (end > output && (end[-1] == '\n' || end[-1] == ' '))
                *--end = '\0';
        start = strrchr(output, '\n');
        return start ? start + 1 : output;
}

static int before_write(const RaidSetupOptions *o, RaidWrite what, const char *md_device) {
        if (!o || !o->before_write)
                return 0;
        return o->before_write(what, md_device, o->userdata);
}

/* mdadm --stop. -EBUSY when the array is in use (mdadm's words logged at
 * debug level: the caller knows what the array was to us). */
static int stop_array(const char *kname, usec_t deadline) {
        _cleanup_free_ char *dev = NULL, *output = NULL;
        int r;

        if (asprintf(&dev, "/dev/%s", kname) < 0)
                return -ENOMEM;
        r = mdadm(ARGV((char *) "mdadm", (char *) "--stop", dev), deadline, LOG_DEBUG, &output);
        if (r < 0)
                return r;
        if (r != 0)
                return log_debug_errno(EBUSY, "mdadm --stop %s failed (exit %d): %s", dev, r, last_line(output));
        return 0;
}

/* The arrays that hold our members: the one the decision assembles is
 * kept as it runs (*ret_adopted: its kernel name), every other is
 * stopped. One that cannot be stopped is in use by someone: refused. */
static int settle_holders(const char *md_name, const RaidMember *members, const RaidMemberFound *found, size_t n,
                          const RaidDecision *d, const RaidSetupOptions *o, usec_t deadline, char **ret_adopted) {
        _cleanup_free_ char *adopted = NULL;
        char **names = NULL;
        size_t n_names = 0;
        int r = 0;

        for (size_t i = 0; i < n && r >= 0; i++)
                r = add_holders(members[i].devnode, &names, &n_names);

        for (size_t i = 0; i < n_names && r >= 0; i++) {
                _cleanup_(array_done) Array a = { .raid_devices = -1 };
                _cleanup_free_ char *dev = NULL;

                r = array_read(names[i], deadline, &a);
                if (r < 0)
                        break;
                if (!adopted && array_is_ours(&a, d, members, found, n)) {
                        log_info("%s: array %s already runs as %s (%s): using it.", md_name, a.uuid, a.kernel_name,
                                 a.array_state);
                        adopted = strdup(a.kernel_name);
                        r = adopted ? 0 : -ENOMEM;
                        continue;
                }
                log_info("%s: %s (%s, array %s) holds members of the set and is not the array to use: "
                         "stopping it.", md_name, a.kernel_name, strna(a.array_state), strna(a.uuid));
                r = asprintf(&dev, "/dev/%s", a.kernel_name) < 0 ? -ENOMEM : 0;
                if (r >= 0)
                        r = before_write(o, RAID_WRITE_STOP, dev);
                if (r >= 0)
                        r = stop_array(a.kernel_name, deadline);
                if (r == -EBUSY)
                        r = log_error_errno(EMEDIUMTYPE, "Refusing striped set %s: %s (array %s) holds its "
                                            "members and is in use; a person must look.", md_name,
                                            a.kernel_name, strna(a.uuid));
        }

        for (size_t i = 0; i < n_names; i++)
                free(names[i]);
        free(names);
        if (r < 0)
                return r;
        *ret_adopted = TAKE_PTR(adopted);
        return 0;
}

/* The second look, right before mdadm --create writes (mdadm does not
 * refuse a member that holds a filesystem when told --run): every member
 * is still blank, or holds our own interrupted create when that is what
 * the decision saw. */
static int check_still_blank(const char *md_name, const RaidMember *members, size_t n, bool recreate) {
        for (size_t i = 0; i < n; i++) {
                _cleanup_(fs_probe_done) FsProbe p = {};
                _cleanup_free_ char *what = NULL;
                int r;

                r = fs_probe(members[i].devnode, &p);
                if (r < 0)
                        return r;
                if (!p.found)
                        continue;
                if (recreate && streq_ptr(p.type, "linux_raid_member") && p.label &&
                    streq(strempty(startswith(p.label, RAID_STORED_NAME_PREFIX)), md_name))
                        continue;
                what = fs_probe_describe(&p);
                return log_error_errno(EMEDIUMTYPE, "Refusing to create striped set %s: %s (%s) now has %s.",
                                       md_name, members[i].devnode, members[i].volume_id, strna(what));
        }
        return 0;
}

/* Runs the mdadm command begun in argv[0..k) ("mdadm", the mode, the md
 * device, its options) over exactly the members' devices; argv has room
 * for them and the NULL. An exit status other than 0 is -EIO, with
 * mdadm's last line. */
static int mdadm_on_members(char **argv, size_t k, const RaidMember *members, size_t n, usec_t deadline) {
        _cleanup_free_ char *output = NULL;
        const char *mode = argv[1], *md_device = argv[2];
        int r;

        for (size_t i = 0; i < n; i++)
                argv[k++] = (char *) members[i].devnode;
        argv[k] = NULL;

        r = mdadm(argv, deadline, LOG_DEBUG, &output);
        if (r < 0)
                return r;
        if (r != 0)
                return log_warning_errno(EIO, "mdadm %s %s failed (exit %d): %s", mode, md_device, r,
                                         last_line(output));
        return 0;
}

static int create_array(const char *md_name, const char *md_device, const RaidMember *members, size_t n,
                        bool recreate, usec_t deadline) {
        _cleanup_free_ char *devices = NULL, *name = NULL;
        char *argv[12 + RAID_MEMBERS_MAX];
        size_t k = 0;
        int r;

        r = check_still_blank(md_name, members, n, recreate);
        if (r < 0)
                return r;
        if (asprintf(&devices, "--raid-devices=%zu", n) < 0 || asprintf(&name, "--name=%s", md_name) < 0)
                return -ENOMEM;

        /* --run: no question on a terminal there is none of (the members
         * were looked at above); --homehost=any: the array is the node's,
         * not this instance's, whose hostname a replacement does not have. */
        argv[k++] = (char *) "mdadm";
        argv[k++] = (char *) "--create";
        argv[k++] = (char *) md_device;
        argv[k++] = (char *) "--run";
        argv[k++] = (char *) "--level=0";
        argv[k++] = devices;
        argv[k++] = (char *) "--metadata=1.2";
        argv[k++] = (char *) "--homehost=" RAID_HOMEHOST;
        argv[k++] = name;
        return mdadm_on_members(argv, k, members, n, deadline);
}

static int assemble_array(const char *md_device, const char *uuid, const RaidMember *members, size_t n,
                          usec_t deadline) {
        _cleanup_free_ char *uuid_arg = NULL;
        char mdadm_uuid[RAID_UUID_STRING_SIZE];
        char *argv[6 + RAID_MEMBERS_MAX];
        size_t k = 0;
        int r;

        r = raid_uuid_to_mdadm(uuid, mdadm_uuid);
        if (r < 0)
                return r;
        if (asprintf(&uuid_arg, "--uuid=%s", mdadm_uuid) < 0)
                return -ENOMEM;

        /* By UUID, from exactly these devices: never a scan of the system,
         * which could pick up another array's members. */
        argv[k++] = (char *) "mdadm";
        argv[k++] = (char *) "--assemble";
        argv[k++] = (char *) md_device;
        argv[k++] = uuid_arg;
        return mdadm_on_members(argv, k, members, n, deadline);
}

/* Waits (bounded) until md_device resolves to a running md array; its
 * kernel name into *ret. -ETIME when it does not. */
static int wait_for_link(const char *md_device, usec_t deadline, char **ret) {
        Backoff b = BACKOFF_INIT(&link_poll);
        usec_t until = MIN(deadline, usec_add(now(CLOCK_MONOTONIC), RAID_LINK_WAIT_USEC));
        int r;

        for (;;) {
                r = kernel_name(md_device, ret);
                if (r >= 0 && startswith(*ret, "md"))
                        return 0;
                if (r >= 0)
                        *ret = mfree(*ret);
                r = backoff_wait(&b, false, until, NULL);
                if (r < 0)
                        return r;
        }
}

/* The array now running as md_device is the one wanted: RAID 0 of n
 * devices, every member in its place (slots[i]), and (uuid not NULL) that
 * UUID. Its UUID into *ret_uuid. */
static int verify_array(const char *md_name, const char *kname, const RaidMember *members, const int *slots,
                        size_t n, const char *uuid, usec_t deadline, char **ret_uuid) {
        _cleanup_(array_done) Array a = { .raid_devices = -1 };
        int r;

        r = array_read(kname, deadline, &a);
        if (r < 0)
                return r;
        if (!array_active(&a) || !a.uuid || !streq_ptr(a.level, "raid0") || a.raid_devices != (int) n ||
            (uuid && !streq(a.uuid, uuid)))
                /* NOLINTNEXTLINE(clang-analyzer-unix.Malloc): a's fields are freed by its _cleanup_, which clang 14 does not run. */
                return log_warning_errno(EIO, "%s: /dev/%s is %s, array %s, %s, %d devices: not the array "
                                         "expected.", md_name, kname, strna(a.array_state), strna(a.uuid),
                                         strna(a.level), a.raid_devices);
        for (size_t i = 0; i < n; i++) {
                int slot = member_slot(kname, members[i].devnode);

                if (slot != slots[i])
                        return log_warning_errno(EIO, "%s: %s (%s) is in place %d of /dev/%s, not %d.", md_name,
                                                 members[i].devnode, members[i].volume_id, slot, kname, slots[i]);
        }
        *ret_uuid = TAKE_PTR(a.uuid);
        return 0;
}

/* Creates or assembles as decided, unless adopted already runs it. Its
 * kernel name into *ret_kname. */
static int act(const char *md_name, const char *md_device, const RaidMember *members, size_t n,
               const RaidDecision *d, const RaidSetupOptions *o, const char *adopted, usec_t deadline,
               char **ret_kname) {
        int r;

        if (adopted) {
                /* udev makes /dev/md/<name> from the array's own event; an
                 * array it assembled may be a moment ahead of its link. */
                r = wait_for_link(md_device, deadline, ret_kname);
                if (r >= 0 && streq(*ret_kname, adopted))
                        return 0;
                if (r >= 0)
                        *ret_kname = mfree(*ret_kname);
                log_info("%s: %s runs the array but %s does not lead to it: stopping it to assemble it again.",
                         md_name, adopted, md_device);
                r = before_write(o, RAID_WRITE_STOP, adopted);
                if (r >= 0)
                        r = stop_array(adopted, deadline);
                if (r < 0)
                        return r;
        }

        if (d->action == RAID_ACTION_CREATE) {
                r = before_write(o, RAID_WRITE_CREATE, md_device);
                if (r >= 0)
                        r = create_array(md_name, md_device, members, n, d->recreate, deadline);
        } else {
                r = before_write(o, RAID_WRITE_ASSEMBLE, md_device);
                if (r >= 0)
                        r = assemble_array(md_device, d->uuid, members, n, deadline);
        }
        if (r < 0)
                return r;
        return wait_for_link(md_device, deadline, ret_kname);
}

static int examine_all(const RaidMember *members, size_t n, usec_t deadline, RaidMemberFound *found) {
        for (size_t i = 0; i < n; i++) {
                int r;

                if (isempty(members[i].devnode) || isempty(members[i].volume_id))
                        return -EINVAL;
                r = raid_examine(&members[i], deadline, &found[i]);
                if (r < 0)
                        return r;
        }
        return 0;
}

int raid_setup(const char *md_name, const RaidMember *members, size_t n, const RaidSetupOptions *options,
               usec_t deadline, RaidResult *ret) {
        _cleanup_(raid_decision_done) RaidDecision d = { .member = -1 };
        _cleanup_free_ char *md_device = NULL, *adopted = NULL, *kname = NULL, *uuid = NULL;
        RaidMemberFound found[RAID_MEMBERS_MAX] = {};
        int slots[RAID_MEMBERS_MAX];
        RaidOutcome outcome;
        FsVolumeMarks marks;
        int r;

        if (isempty(md_name) || strlen(md_name) > RAID_MD_NAME_MAX || !members || n == 0 || n > RAID_MEMBERS_MAX ||
            !options || !ret)
                return -EINVAL;
        if (asprintf(&md_device, "/dev/md/%s", md_name) < 0)
                return -ENOMEM;

        r = examine_all(members, n, deadline, found);
        if (r >= 0)
                r = raid_decide(md_name, members, found, n, options->allow_create, &d);
        /* Arrays over our members are settled before a refusal too: one
         * that is not ours is stopped (nothing of it is in use, or the
         * refusal says so), ours is left running. */
        if (r >= 0)
                r = settle_holders(md_name, members, found, n, &d, options, deadline, &adopted);
        if (r >= 0 && d.action == RAID_ACTION_REFUSE)
                r = log_error_errno(raid_refusal_to_errno(d.refusal), "Refusing striped set %s: %s", md_name,
                                    d.message);
        if (r >= 0) {
                if (!adopted)
                        log_info("%s: %s", md_name, d.message);
                r = act(md_name, md_device, members, n, &d, options, adopted, deadline, &kname);
        }
        if (r >= 0) {
                /* Created: member i is device i. Otherwise where its
                 * superblock puts it (the decision checked that against
                 * the recorded slot). */
                for (size_t i = 0; i < n; i++)
                        slots[i] = d.action == RAID_ACTION_CREATE ? (int) i : found[i].sb.role;
                r = verify_array(md_name, kname, members, slots, n,
                                 d.action == RAID_ACTION_CREATE ? NULL : d.uuid, deadline, &uuid);
        }
        for (size_t i = 0; i < n; i++)
                raid_member_found_done(&found[i]);
        if (r < 0)
                return r;

        outcome = d.action == RAID_ACTION_CREATE ? RAID_OUTCOME_CREATED :
                  adopted && streq(adopted, kname) ? RAID_OUTCOME_ADOPTED : RAID_OUTCOME_ASSEMBLED;
        log_info("%s: %s is array %s (/dev/%s, %s).", md_name, md_device, uuid, kname,
                 raid_outcome_to_string(outcome));
        /* A new array is ours by making, its bytes the blank members' (or
         * our own create's remains). */
        marks = d.marks;
        if (d.action == RAID_ACTION_CREATE)
                marks = (FsVolumeMarks) { .format_started = true };
        *ret = (RaidResult) {
                .device = TAKE_PTR(md_device),
                .uuid = TAKE_PTR(uuid),
                .outcome = outcome,
                .marks = marks,
        };
        return 0;
}

/* ---- stopping, status ------------------------------------------------------ */

int raid_stop(const char *md_name, const RaidMember *members, size_t n, usec_t deadline) {
        _cleanup_free_ char *md_device = NULL, *kname = NULL;
        char **names = NULL;
        size_t n_names = 0;
        bool stopped = false;
        int r = 0;

        if (isempty(md_name) || (n > 0 && !members))
                return -EINVAL;
        if (asprintf(&md_device, "/dev/md/%s", md_name) < 0)
                return -ENOMEM;

        /* The named array first, then whatever else holds a member (an
         * array udev assembled under another name). */
        if (kernel_name(md_device, &kname) >= 0 && startswith(kname, "md")) {
                names = calloc(2, sizeof(char *));
                if (!names)
                        return -ENOMEM;
                names[n_names++] = TAKE_PTR(kname);
        }
        for (size_t i = 0; i < n && r >= 0; i++)
                if (members[i].devnode && access(members[i].devnode, F_OK) >= 0)
                        r = add_holders(members[i].devnode, &names, &n_names);

        for (size_t i = 0; i < n_names && r >= 0; i++) {
                r = stop_array(names[i], deadline);
                if (r == -EBUSY)
                        r = log_error_errno(EBUSY, "Cannot stop /dev/%s (%s): it is in use (still mounted?).",
                                            names[i], md_device);
                else if (r >= 0) {
                        log_info("Stopped /dev/%s (%s).", names[i], md_device);
                        stopped = true;
                }
        }
        for (size_t i = 0; i < n_names; i++)
                free(names[i]);
        free(names);
        if (r < 0)
                return r;
        return stopped;
}

int raid_status(const char *md_name, usec_t deadline, RaidStatus *ret) {
        _cleanup_free_ char *md_device = NULL, *kname = NULL;
        _cleanup_(array_done) Array a = { .raid_devices = -1 };
        int r;

        if (isempty(md_name) || !ret)
                return -EINVAL;
        if (asprintf(&md_device, "/dev/md/%s", md_name) < 0)
                return -ENOMEM;
        r = kernel_name(md_device, &kname);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        r = array_read(kname, deadline, &a);
        if (r < 0)
                return r;

        /* Field by field: cppcheck 2.10 cannot parse TAKE_PTR() of a
         * struct's field inside a compound literal. */
        *ret = (RaidStatus) { .raid_devices = a.raid_devices };
        ret->kernel_name = TAKE_PTR(a.kernel_name);
        ret->array_state = TAKE_PTR(a.array_state);
        ret->uuid = TAKE_PTR(a.uuid);
        return 1;
}
