/* SPDX-License-Identifier: Apache-2.0 */

/* nodeagent-raid: the striped-set steps of a volume path (raid.h, then fs.h
 * on the array), driven by hand, for the VM suite and the host's fixture
 * tests until the node runs them itself. It does what the volume path is to
 * do around raid_setup(): proves each member by its serial, keeps the
 * members' nodeagent:initialized and nodeagent:format-started tags (in a
 * file standing for EC2's tags), runs raid_setup(), fs_setup() on the
 * array, and tags every member with the array's UUID.
 *
 *   nodeagent-raid setup --name MD --tags FILE [--by-tag] [--format never]
 *                  [--mount-point DIR] [--wait SECONDS] [--pause-at STEP --pause-file FILE] VOLUME...
 *   nodeagent-raid stop --name MD VOLUME...
 *   nodeagent-raid name NODE SECTION
 *   nodeagent-raid decide --name MD [--by-tag] [--tags FILE] VOLUME=FILE...
 *
 * setup: VOLUMEs in the set's order (Id=); --by-tag sorts them by id and
 * lets the superblocks place them (Tag= + Count=). A member not there
 * within --wait seconds: exit 4, nothing touched. --pause-at create|
 * assemble|stop|fs|mkfs|tag stops right before that step (after the
 * format-started tags for create), writes the step to --pause-file, and
 * waits to be killed: the VM suite's kill points. Prints key=value lines;
 * exits as the agent would (5: refused).
 *
 * decide: raid_examine() and raid_decide() over image files (a member's
 * volume id = the file standing for it), prints the decision; writes
 * nothing. Tags FILE: lines "VOLUME KEY=VALUE", later lines win. */

#include <getopt.h>
#include <signal.h>
#include <stdio.h>

#include "blockdev.h"
#include "exit-status.h"
#include "fs.h"
#include "log.h"
#include "raid.h"

#define TAG_INITIALIZED "nodeagent:initialized"
#define TAG_FORMAT_STARTED "nodeagent:format-started"

typedef struct Driver {
        const char *md_name;
        const char *tags_file;
        bool by_tag;
        FormatPolicy format;
        const char *mount_point;
        usec_t wait;
        const char *pause_at;
        const char *pause_file;
        usec_t deadline;

        size_t n;
        char *ids[RAID_MEMBERS_MAX];
        char *devnodes[RAID_MEMBERS_MAX];
        char *initialized[RAID_MEMBERS_MAX];
        bool format_started[RAID_MEMBERS_MAX];
        RaidMember members[RAID_MEMBERS_MAX];
} Driver;

/* Every slot, not only the first n: parse_members() can fail between a
 * member's two allocations, before it counts that member. */
static void driver_done(Driver *d) {
        for (size_t i = 0; i < RAID_MEMBERS_MAX; i++) {
                free(d->ids[i]);
                free(d->devnodes[i]);
                free(d->initialized[i]);
        }
}

/* ---- the tags file ---------------------------------------------------- */

static int read_tags(Driver *d) {
        _cleanup_free_ char *line = NULL;
        size_t size = 0;
        FILE *f;

        if (!d->tags_file)
                return 0;
        f = fopen(d->tags_file, "re");
        if (!f)
                return errno == ENOENT ? 0 : -errno;
        while (getline(&line, &size, f) >= 0) {
                char *key, *value;

                line[strcspn(line, "\n")] = '\0';
                key = strchr(line, ' ');
                if (!key)
                        continue;
                *key++ = '\0';
                value = strchr(key, '=');
                if (!value)
                        continue;
                *value++ = '\0';
                for (size_t i = 0; i < d->n; i++) {
                        if (!streq(d->ids[i], line))
                                continue;
                        if (streq(key, TAG_INITIALIZED)) {
                                free(d->initialized[i]);
                                d->initialized[i] = strdup(value);
                        } else if (streq(key, TAG_FORMAT_STARTED))
                                d->format_started[i] = true;
                }
        }
        /* Only read: closing it cannot lose anything. */
        (void) fclose(f);
        return 0;
}

/* CreateTags for every member at once: one append, synced, as EC2 keeps a
 * tag once the call returned. */
static int tag_all(Driver *d, const char *key, const char *value) {
        FILE *f;

        if (!d->tags_file)
                return 0;
        f = fopen(d->tags_file, "ae");
        if (!f)
                return -errno;
        for (size_t i = 0; i < d->n; i++)
                fprintf(f, "%s %s=%s\n", d->ids[i], key, value);
        if (fflush(f) != 0 || fsync(fileno(f)) < 0) {
                /* Failed already: the close's own result adds nothing. */
                (void) fclose(f);
                return -EIO;
        }
        if (fclose(f) != 0)
                return -EIO;
        printf("tagged %s=%s\n", key, value);
        return 0;
}

/* ---- kill points -------------------------------------------------------- */

static void pause_point(const Driver *d, const char *step) {
        FILE *f;

        if (!d->pause_at || !streq(d->pause_at, step))
                return;
        log_info("Pausing before %s, to be killed.", step);
        if (d->pause_file) {
                f = fopen(d->pause_file, "we");
                if (f) {
                        fprintf(f, "%s\n", step);
                        /* Best effort: a test that waits for the file and
                         * does not see the step fails by its own timeout. */
                        (void) fclose(f);
                }
        }
        for (;;)
                pause();
}

static int before_write(RaidWrite what, const char *md_device, void *userdata) {
        Driver *d = userdata;
        int r;

        log_info("Before %s of %s.", raid_write_to_string(what), md_device);
        if (what == RAID_WRITE_CREATE) {
                r = tag_all(d, TAG_FORMAT_STARTED, "i-driver");
                if (r < 0)
                        return r;
        }
        pause_point(d, raid_write_to_string(what));
        return 0;
}

static int before_format(void *userdata) {
        Driver *d = userdata;
        int r;

        r = tag_all(d, TAG_FORMAT_STARTED, "i-driver");
        if (r < 0)
                return r;
        pause_point(d, "mkfs");
        return 0;
}

/* ---- commands ------------------------------------------------------------- */

static void fill_members(Driver *d) {
        for (size_t i = 0; i < d->n; i++)
                d->members[i] = (RaidMember) {
                        .volume_id = d->ids[i],
                        .devnode = d->devnodes[i],
                        .slot = d->by_tag ? -1 : (int) i,
                        .initialized = d->initialized[i],
                        .format_started = d->format_started[i],
                };
        if (d->by_tag)
                raid_members_sort(d->members, d->n);
}

static int find_members(Driver *d) {
        usec_t until = usec_add(now(CLOCK_MONOTONIC), d->wait);

        for (size_t i = 0; i < d->n; i++) {
                _cleanup_(block_device_done) BlockDevice dev = {};
                int r;

                r = blockdev_wait(d->ids[i], NULL, MIN(until, d->deadline), &dev);
                if (r == -ETIME)
                        return log_error_errno(ENOENT, "Member %s of %s is not there: the set is all or nothing.",
                                               d->ids[i], d->md_name);
                if (r < 0)
                        return log_error_errno(r, "Failed to find %s: %m", d->ids[i]);
                r = blockdev_verify(dev.devnode, d->ids[i], NULL);
                if (r < 0)
                        return log_error_errno(r, "%s is not %s: %m", dev.devnode, d->ids[i]);
                d->devnodes[i] = TAKE_PTR(dev.devnode);
                printf("member %s %s\n", d->ids[i], d->devnodes[i]);
        }
        return 0;
}

static int cmd_setup(Driver *d) {
        _cleanup_(raid_result_done) RaidResult raid = {};
        _cleanup_(fs_setup_result_done) FsSetupResult fs = {};
        RaidSetupOptions options = {
                .allow_create = d->format == FORMAT_IF_BLANK,
                .before_write = before_write,
                .userdata = d,
        };
        ConfigVolume cfg = {
                .mount_point = (char *) d->mount_point,
                .file_system = FILESYSTEM_EXT4,
                .format = d->format,
        };
        FsSetupOptions fs_options = { .label = "raid", .before_format = before_format, .userdata = d };
        int r;

        r = find_members(d);
        if (r < 0)
                return r == -ENOENT ? -ENODEV : r;
        r = read_tags(d);
        if (r < 0)
                return r;
        fill_members(d);

        r = raid_setup(d->md_name, d->members, d->n, &options, d->deadline, &raid);
        if (r < 0)
                return r;
        printf("device %s\nuuid %s\noutcome %s\n", raid.device, raid.uuid, raid_outcome_to_string(raid.outcome));
        if (!d->mount_point)
                return 0;

        pause_point(d, "fs");
        fs_options.marks = raid.marks;
        r = fs_setup(raid.device, &cfg, &fs_options, d->deadline, &fs);
        if (r < 0)
                return r;
        printf("filesystem %s\nformatted %s\n", strna(fs.uuid), fs.formatted ? "yes" : "no");

        /* As the volume path does: a tag already there is not written again. */
        for (size_t i = 0; i < d->n; i++)
                if (!streq_ptr(d->initialized[i], raid.uuid)) {
                        pause_point(d, "tag");
                        return tag_all(d, TAG_INITIALIZED, raid.uuid);
                }
        return 0;
}

static int cmd_stop(Driver *d) {
        int r;

        for (size_t i = 0; i < d->n; i++) {
                _cleanup_(block_device_done) BlockDevice dev = {};

                if (blockdev_find(d->ids[i], NULL, &dev) >= 0)
                        d->devnodes[i] = TAKE_PTR(dev.devnode);
        }
        fill_members(d);
        r = raid_stop(d->md_name, d->members, d->n, d->deadline);
        if (r >= 0)
                printf("stopped %s\n", r > 0 ? "yes" : "no");
        return r;
}

/* VOLUME=FILE arguments: a member's volume id and the image standing for it. */
static int cmd_decide(Driver *d) {
        _cleanup_(raid_decision_done) RaidDecision decision = {};
        RaidMemberFound found[RAID_MEMBERS_MAX] = {};
        int r;

        r = read_tags(d);
        if (r < 0)
                return r;
        fill_members(d);
        for (size_t i = 0; i < d->n && r >= 0; i++)
                r = raid_examine(&d->members[i], d->deadline, &found[i]);
        if (r >= 0)
                r = raid_decide(d->md_name, d->members, found, d->n, d->format == FORMAT_IF_BLANK, &decision);
        for (size_t i = 0; i < d->n; i++) {
                if (r >= 0)
                        printf("member %zu %s role=%d array=%s\n", i, d->members[i].volume_id, found[i].sb.role,
                               strna(found[i].sb.array_uuid));
                raid_member_found_done(&found[i]);
        }
        if (r < 0)
                return r;
        printf("action %s\nrefusal %s\nmember %d\nuuid %s\nmessage %s\n", raid_action_to_string(decision.action),
               raid_refusal_to_string(decision.refusal), decision.member, strna(decision.uuid), decision.message);
        return 0;
}

static int parse_members(Driver *d, int argc, char *argv[], bool with_files) {
        if (argc < 1 || (size_t) argc > RAID_MEMBERS_MAX)
                return log_error_errno(EINVAL, "Name 1 to %u members.", RAID_MEMBERS_MAX);
        for (int i = 0; i < argc; i++) {
                char *eq = with_files ? strchr(argv[i], '=') : NULL;

                if (with_files && !eq)
                        return log_error_errno(EINVAL, "decide needs VOLUME=FILE: %s", argv[i]);
                /* NOLINTBEGIN(clang-analyzer-unix.Malloc): d's strings are freed by main()'s _cleanup_(driver_done), which clang 14 does not run. */
                d->ids[d->n] = eq ? strndup(argv[i], (size_t) (eq - argv[i])) : strdup(argv[i]);
                d->devnodes[d->n] = eq ? strdup(eq + 1) : NULL;
                if (!d->ids[d->n] || (eq && !d->devnodes[d->n]))
                        return -ENOMEM;
                /* NOLINTEND(clang-analyzer-unix.Malloc) */
                d->n++;
        }
        return 0;
}

static int exit_status(int r) {
        if (r >= 0)
                return EXIT_STATUS_DONE;
        if (raid_error_is_refusal(r) || fs_error_is_refusal(r))
                return EXIT_STATUS_FILESYSTEM;
        if (r == -ENODEV)
                return EXIT_STATUS_UNUSABLE;
        if (r == -ETIME)
                return EXIT_STATUS_DEADLINE;
        if (r == -EINVAL)
                return EXIT_STATUS_USAGE;
        return EXIT_STATUS_FAILURE;
}

int main(int argc, char *argv[]) {
        static const struct option options[] = {
                { "name",        required_argument, NULL, 'n' },
                { "tags",        required_argument, NULL, 't' },
                { "by-tag",      no_argument,       NULL, 'b' },
                { "format",      required_argument, NULL, 'f' },
                { "mount-point", required_argument, NULL, 'm' },
                { "wait",        required_argument, NULL, 'w' },
                { "pause-at",    required_argument, NULL, 'p' },
                { "pause-file",  required_argument, NULL, 'P' },
                { "verbose",     no_argument,       NULL, 'v' },
                {}
        };
        _cleanup_(driver_done) Driver d = { .format = FORMAT_IF_BLANK, .wait = 60 * USEC_PER_SEC };
        unsigned verbosity = 0;
        const char *cmd;
        int c, r;

        log_set_show_priority(false);
        while ((c = getopt_long(argc, argv, "n:t:bf:m:w:p:P:v", options, NULL)) >= 0)
                switch (c) {
                case 'n':
                        d.md_name = optarg;
                        break;
                case 't':
                        d.tags_file = optarg;
                        break;
                case 'b':
                        d.by_tag = true;
                        break;
                case 'f':
                        d.format = format_policy_from_string(optarg);
                        if (d.format < 0)
                                return EXIT_STATUS_USAGE;
                        break;
                case 'm':
                        d.mount_point = optarg;
                        break;
                case 'w':
                        if (parse_duration(optarg, &d.wait) < 0)
                                return EXIT_STATUS_USAGE;
                        break;
                case 'p':
                        d.pause_at = optarg;
                        break;
                case 'P':
                        d.pause_file = optarg;
                        break;
                case 'v':
                        verbosity++;
                        break;
                default:
                        return EXIT_STATUS_USAGE;
                }
        log_set_verbosity(verbosity);
        if (optind >= argc) {
                fprintf(stderr, "usage: nodeagent-raid setup|stop|name|decide ... (see the source)\n");
                return EXIT_STATUS_USAGE;
        }
        cmd = argv[optind++];
        d.deadline = usec_add(now(CLOCK_MONOTONIC), 5 * USEC_PER_MINUTE);
        /* Line-buffered so the test sees each line as it is printed; when
         * setvbuf() fails, stdout keeps its buffering and the lines still
         * come, at exit. */
        (void) setvbuf(stdout, NULL, _IOLBF, 0);

        if (streq(cmd, "name")) {
                _cleanup_free_ char *name = NULL;

                if (argc - optind != 2)
                        return EXIT_STATUS_USAGE;
                r = raid_md_name(argv[optind], argv[optind + 1], &name);
                if (r >= 0)
                        printf("%s\n", name);
                return exit_status(r);
        }
        if (!d.md_name)
                return EXIT_STATUS_USAGE;
        r = parse_members(&d, argc - optind, argv + optind, streq(cmd, "decide"));
        if (r >= 0) {
                if (streq(cmd, "setup"))
                        r = cmd_setup(&d);
                else if (streq(cmd, "stop"))
                        r = cmd_stop(&d);
                else if (streq(cmd, "decide"))
                        r = cmd_decide(&d);
                else
                        r = -EINVAL;
        }
        /* NOLINTNEXTLINE(clang-analyzer-unix.Malloc): d's strings are freed by its _cleanup_(driver_done), which clang 14 does not run. */
        if (r < 0)
                printf("error %s\n", strerrorname_np(-r) ?: "?");
        return exit_status(r);
}
