/* SPDX-License-Identifier: Apache-2.0 */
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>
#include <systemd/sd-event.h>

#include "eni.h"
#include "fs.h"
#include "handover.h"
#include "log.h"
#include "node-handover.h"
#include "notify.h"
#include "supervise.h"
#include "volume.h"
#include "wait.h"

/* How often EC2 is asked whether the attachments still hold: rarely, since
 * the kernel tells at once when the device or the link goes. */
#define CHECK_INTERVAL_USEC (5 * USEC_PER_MINUTE)

/* A prompt makes the holder look at once, but not more often than this:
 * a requester prompts at every poll of its own. */
#define HANDOVER_PROMPT_SPACING_USEC (1 * USEC_PER_SEC)

typedef struct Supervisor {
        Node *node;
        sd_event *event;
        FsMountMonitor *mounts;
        NetifLinkMonitor *links;
        BlockdevMonitor *disks;
        sd_event_source *recheck;       /* armed while a manager's part is missing */

        /* TakeOver=handover (handover.h): the prompts' socket, the look's
         * timer, and once a request is accepted under systemd, the
         * instance the SIGTERM that follows releases the node to. */
        HandoverHolder handover;
        int handover_fd;
        sd_event_source *handover_look;
        usec_t handover_looked;
        char *handing_to;
} Supervisor;

static int lost(Supervisor *s, const char *format, ...) _printf_(2, 3);
static int lost(Supervisor *s, const char *format, ...) {
        _cleanup_free_ char *message = NULL;
        va_list ap;
        int r;

        va_start(ap, format);
        r = vasprintf(&message, format, ap);
        va_end(ap);
        if (r < 0)
                message = NULL;

        log_error("%s", strna(message));
        notify_status("%s", strna(message));
        return sd_event_exit(s->event, -ENOLINK);
}

static int check_mount(Supervisor *s) {
        Node *n = s->node;
        int r;

        for (size_t i = 0; i < n->n_volumes; i++) {
                const NodeVolume *v = &n->volumes[i];

                if (!v->devnode)
                        continue;
                r = fs_mount_state(v->devnode, v->config->mount_point);
                if (r <= 0)
                        return lost(s, "The filesystem of %s (%s) is no longer mounted at %s; exiting so that "
                                    "systemd brings it back.", v->path.name, v->devnode, v->config->mount_point);
        }
        return 0;
}

/* While the manager's part of the routing is missing, the outcome is
 * looked at again this often (besides every rtnetlink event), so that the
 * grace period ends on time even when nothing else happens. */
#define RECHECK_USEC (1 * USEC_PER_SEC)

static int on_recheck(sd_event_source *source, uint64_t usec, void *userdata);

static int check_link(Supervisor *s) {
        Node *n = s->node;
        const NetifLink *link = &n->interface.eni.link;
        const char *eni = n->interface.eni.ec2.id;
        int r;

        if (!n->interface.have_link)
                return 0;
        switch (node_interface_watch(n, now(CLOCK_MONOTONIC))) {
        case NETIF_SUPERVISE_LOST:
                if (n->interface.routing.link_gone)
                        return lost(s, "The interface %s of %s is gone; exiting so that systemd brings it back.",
                                    link->name, eni);
                return lost(s, "The interface %s of %s is down, or the routing of its address is gone and did "
                            "not come back; exiting so that systemd brings it back.", link->name, eni);
        case NETIF_SUPERVISE_WAIT:
                if (!s->recheck) {
                        r = sd_event_add_time_relative(s->event, &s->recheck, CLOCK_MONOTONIC, RECHECK_USEC, 0,
                                                       on_recheck, s);
                        if (r < 0)
                                log_warning_errno(r, "Failed to arm the routing recheck: %m");
                }
                return 0;
        default:
                return 0;
        }
}

static int on_recheck(sd_event_source *source, uint64_t usec, void *userdata) {
        Supervisor *s = userdata;

        s->recheck = sd_event_source_unref(s->recheck);
        return check_link(s);
}

/* EBS grew a volume under the running daemon (ModifyVolume): the kernel
 * sees the new size and udev says "change". With Grow=yes the filesystem
 * follows, online, at once. */
static void on_disk_changed(const char *devnode, uint64_t size, void *userdata) {
        Supervisor *s = userdata;
        Node *n = s->node;

        for (size_t i = 0; i < n->n_volumes; i++) {
                NodeVolume *v = &n->volumes[i];
                int r;

                if (!streq_ptr(v->devnode, devnode) || size <= v->size)
                        continue;
                log_info("%s: %s grew from %" PRIu64 " to %" PRIu64 " MiB.", v->path.name, devnode, v->size >> 20,
                         size >> 20);
                v->size = size;
                if (v->n_members > 1) {
                        log_info("%s: a striped set grows by adding members, not by growing one: nothing to do.",
                                 v->path.name);
                        continue;
                }
                if (!v->config->grow) {
                        log_info("%s: Grow=no: leaving the filesystem at its size.", v->path.name);
                        continue;
                }
                r = fs_grow(devnode, v->config->mount_point, v->config->file_system,
                            usec_add(now(CLOCK_MONOTONIC), 5 * USEC_PER_MINUTE));
                if (r < 0)
                        log_warning_errno(r, "%s: Failed to grow the filesystem on %s, it keeps its size: %m",
                                          v->path.name, devnode);
        }
}

static int on_disk_event(sd_event_source *source, int fd, uint32_t revents, void *userdata) {
        Supervisor *s = userdata;

        (void) blockdev_monitor_drain(s->disks, on_disk_changed, s);
        return 0;
}

static int on_mount_event(sd_event_source *source, int fd, uint32_t revents, void *userdata) {
        Supervisor *s = userdata;

        fs_mount_monitor_drain(s->mounts);
        return check_mount(s);
}

static int on_link_event(sd_event_source *source, int fd, uint32_t revents, void *userdata) {
        Supervisor *s = userdata;

        netif_link_monitor_drain(s->links);
        return check_link(s);
}

/* A time source fires once (sd-event's ONESHOT) and is then off: moving
 * its time alone would never fire it again. */
static int rearm(sd_event_source *source, usec_t usec) {
        int r;

        r = sd_event_source_set_time(source, usec);
        if (r < 0)
                return r;
        return sd_event_source_set_enabled(source, SD_EVENT_ONESHOT);
}

/* EC2's view, every few minutes: an attachment can end without the kernel
 * noticing at once (a force-detach by someone else). */
static int on_check_timer(sd_event_source *source, uint64_t usec, void *userdata) {
        Supervisor *s = userdata;
        Node *n = s->node;
        usec_t deadline = usec_add(now(CLOCK_MONOTONIC), 2 * USEC_PER_MINUTE);

        for (size_t i = 0; i < n->n_volumes; i++)
                for (size_t k = 0; k < n->volumes[i].n_members; k++) {
                        Attach *a = &n->volumes[i].members[k].attach;

                        if (!a->id)
                                continue;
                        a->deadline = deadline;
                        if (attach_refresh(a) >= 0 && attach_mine(a) == ATTACH_MINE_NONE)
                                return lost(s, "EC2 no longer lists volume %s as attached to this instance (%s); "
                                            "exiting so that systemd brings it back.", a->id,
                                            n->instance->instance_id);
                }
        if (n->config->has_interface && n->interface.eni.attach.id) {
                Attach *a = &n->interface.eni.attach;

                a->deadline = deadline;
                if (attach_refresh(a) >= 0 && attach_mine(a) == ATTACH_MINE_NONE)
                        return lost(s, "EC2 no longer lists network interface %s as attached to this instance "
                                    "(%s); exiting so that systemd brings it back.", a->id, n->instance->instance_id);
        }

        return rearm(source, usec + CHECK_INTERVAL_USEC);
}

/* SIGTERM: the service stops. A stop that is a handover's releases
 * everything and leaves DNS alone (the address moves with the ENI to the
 * new instance, so an unpublish would take the node out for nothing).
 * Any other stop unpublishes when the instance is being terminated and
 * UnpublishOnStop= asks for it, and releases what DetachOnStop= asks for. */
static int on_sigterm(sd_event_source *source, const struct signalfd_siginfo *si, void *userdata) {
        Supervisor *s = userdata;
        int r;

        notify_stopping();
        log_info("Stopping (%s).", strsignal((int) si->ssi_signo));
        if (s->handing_to)
                r = node_handover_release(s->node, s->handing_to);
        else
                r = node_stop(s->node);
        return sd_event_exit(s->event, r < 0 ? r : 0);
}

/* The ids of every resource the node holds, for the look. */
static const char **volume_ids(const Node *n) {
        size_t k = 0, total = 0;
        const char **ids;

        for (size_t i = 0; i < n->n_volumes; i++)
                total += n->volumes[i].n_members;
        ids = calloc(total + 1, sizeof(char *));
        for (size_t i = 0; ids && i < n->n_volumes; i++)
                for (size_t m = 0; m < n->volumes[i].n_members; m++)
                        if (n->volumes[i].members[m].attach.id)
                                ids[k++] = n->volumes[i].members[m].attach.id;
        return ids;
}

/* Whether this daemon's own SIGTERM has come (blocked: the event loop
 * reads it once the current callback returns). systemd stops a unit by
 * signalling its whole control group, so a systemctl still exiting after
 * it queued the stop job (a loaded machine) dies by that SIGTERM too: its
 * failure then says nothing against the stop it asked for, which is under
 * way. */
static bool own_stop_pending(void) {
        sigset_t pending;

        return sigpending(&pending) == 0 && sigismember(&pending, SIGTERM) == 1;
}

/* A request passed the judgement: under systemd, stop the own unit the
 * way systemctl stop does (the application, which requires it, stops
 * first; then the SIGTERM releases); outside systemd release at once. */
static int hand_over(Supervisor *s, char *to) {
        _cleanup_free_ char *unit = NULL;
        int r;

        log_notice("Accepted the request to hand node %s over to %s: it runs, carries the node's tag, was launched "
                   "after this instance and is the newest of the node.", s->node->name, to);
        if (handover_own_unit(&unit) > 0) {
                log_info("Stopping %s: the units that require it stop first, then it releases the node.", unit);
                r = handover_stop_unit(unit);
                if (r < 0 && own_stop_pending()) {
                        log_info_errno(r, "systemctl ended early (%m), but the stop of %s is under way: the "
                                       "SIGTERM that came releases the node.", unit);
                        r = 0;
                }
                if (r >= 0) {
                        s->handing_to = to;
                        return sd_event_source_set_enabled(s->handover_look, SD_EVENT_OFF);
                }
                log_error_errno(r, "Failed to stop %s for the handover to %s; keeping the node: %m", unit, to);
                free(to);
                return rearm(s->handover_look, usec_add(now(CLOCK_MONOTONIC), handover_look_interval()));
        }

        notify_stopping();
        r = node_handover_release(s->node, to);
        free(to);
        return sd_event_exit(s->event, r < 0 ? r : 0);
}

static int on_handover_look(sd_event_source *source, uint64_t usec, void *userdata) {
        Supervisor *s = userdata;
        Node *n = s->node;
        _cleanup_free_ const char **ids = volume_ids(n);
        char *to = NULL;
        int r;

        r = handover_look(&s->handover, ids, n->config->has_interface ? n->interface.eni.attach.id : NULL,
                          usec_add(now(CLOCK_MONOTONIC), 2 * USEC_PER_MINUTE), &to);
        if (r > 0)
                return hand_over(s, to);
        /* The next look counts from the end of this one, not from usec:
         * the first look is armed at 0 ("now"), and a prompt's at any
         * time, so usec + interval could lie in the past and make the
         * looks run back to back. */
        s->handover_looked = now(CLOCK_MONOTONIC);
        return rearm(source, usec_add(s->handover_looked, handover_look_interval()));
}

/* A prompt: look now (or right after the last look). */
static int on_handover_prompt(sd_event_source *source, int fd, uint32_t revents, void *userdata) {
        Supervisor *s = userdata;
        usec_t t;

        if (handover_drain(fd) <= 0 || s->handing_to)
                return 0;
        if (sd_event_now(s->event, CLOCK_MONOTONIC, &t) < 0)
                return 0;
        t = MAX(t, usec_add(s->handover_looked, HANDOVER_PROMPT_SPACING_USEC));
        return rearm(s->handover_look, t);
}

/* TakeOver=handover: a look at READY (a request made while this boot ran
 * was not heard), then every minute and at each prompt. */
static int setup_handover(Supervisor *s) {
        Node *n = s->node;
        int r;

        s->handover = (HandoverHolder) {
                .aws = n->instance->aws,
                .instance_id = n->instance->instance_id,
                .node_name = n->name,
        };
        r = sd_event_add_time(s->event, &s->handover_look, CLOCK_MONOTONIC, 0, USEC_PER_MSEC, on_handover_look, s);
        if (r < 0)
                return r;
        s->handover_fd = handover_listen();
        if (s->handover_fd < 0) {
                log_warning_errno(s->handover_fd, "Failed to listen for handover prompts on UDP port %d; "
                                  "requests are still found every %s: %m", HANDOVER_PORT,
                                  FORMAT_DURATION(handover_look_interval()));
                return 0;
        }
        return sd_event_add_io(s->event, NULL, s->handover_fd, EPOLLIN, on_handover_prompt, s);
}

static int on_stand_down(sd_event_source *source, const struct signalfd_siginfo *si, void *userdata) {
        Supervisor *s = userdata;

        log_notice("nodeagent --detach asked the daemon to stand down; exiting without releasing anything.");
        notify_stopping();
        return sd_event_exit(s->event, 0);
}

int supervise_pid_file(char **ret) {
        const char *state = getenv("NODEAGENT_STATE_FILE");
        _cleanup_free_ char *copy = NULL;

        copy = strdup(!isempty(state) ? state : NODEAGENT_STATE_FILE);
        if (!copy)
                return -ENOMEM;
        return asprintf(ret, "%s/nodeagent.pid", dirname(copy)) < 0 ? -ENOMEM : 0;
}

static int write_pid_file(void) {
        _cleanup_free_ char *path = NULL;
        _cleanup_fclose_ FILE *f = NULL;
        int r;

        r = supervise_pid_file(&path);
        if (r < 0)
                return r;
        f = fopen(path, "we");
        if (!f)
                return -errno;
        fprintf(f, "%d\n", (int) getpid());
        return fflush(f) == 0 ? 0 : -errno;
}

/* Whether pid still runs: a zombie has exited and only waits for its
 * parent to reap it. */
static bool process_runs(int pid) {
        _cleanup_free_ char *path = NULL, *line = NULL;
        _cleanup_fclose_ FILE *f = NULL;
        size_t size = 0;
        const char *p;

        if (asprintf(&path, "/proc/%d/stat", pid) < 0)
                return kill(pid, 0) == 0;
        f = fopen(path, "re");
        if (!f || getline(&line, &size, f) < 0)
                return false;
        /* "pid (comm) S ...": the state follows the last ')'. */
        p = strrchr(line, ')');
        return p && p[1] == ' ' && p[2] != 'Z' && p[2] != 'X';
}

/* The pid a pid file names, or 0 when it names none that could be a
 * running nodeagent other than this one. A number too large for a pid is
 * none (fscanf("%d") would have made it undefined). */
static int read_pid(FILE *f) {
        _cleanup_free_ char *line = NULL;
        size_t size = 0;
        char *end = NULL;
        long v;

        if (getline(&line, &size, f) < 0)
                return 0;
        errno = 0;
        v = strtol(line, &end, 10);
        if (errno != 0 || end == line || (*end != '\n' && *end != '\0'))
                return 0;
        if (v <= 1 || v > INT_MAX || v == (long) getpid())
                return 0;
        return (int) v;
}

int supervise_stop_daemon(usec_t deadline) {
        _cleanup_free_ char *path = NULL, *comm_path = NULL, *comm = NULL;
        _cleanup_fclose_ FILE *f = NULL, *c = NULL;
        size_t size = 0;
        int pid = 0, r;

        r = supervise_pid_file(&path);
        if (r < 0)
                return r;
        f = fopen(path, "re");
        if (!f)
                return errno == ENOENT ? 0 : -errno;
        pid = read_pid(f);
        if (pid == 0)
                return 0;

        /* Only a nodeagent: a stale pid file may name anything by now. */
        if (asprintf(&comm_path, "/proc/%d/comm", pid) < 0)
                return -ENOMEM;
        c = fopen(comm_path, "re");
        if (!c || getline(&comm, &size, c) < 0 || !startswith(comm, "nodeagent"))
                return 0;

        log_info("Asking the running nodeagent (pid %d) to stand down.", pid);
        if (kill(pid, SIGUSR1) < 0)
                return errno == ESRCH ? 0 : -errno;
        while (process_runs(pid)) {
                if (usec_left(deadline) == 0)
                        return log_error_errno(ETIME, "The running nodeagent (pid %d) did not stand down.", pid);
                r = wait_until(usec_add(now(CLOCK_MONOTONIC), 100 * USEC_PER_MSEC));
                if (r < 0)
                        return r;
        }
        return 0;
}

/* The event sources of what the node has: its disks (a volume grown by
 * EBS), the mount table and the links. The monitors are handed to the
 * caller, which keeps them for the whole loop. */
static int add_monitors(Supervisor *s, BlockdevMonitor **disks, FsMountMonitor **mounts,
                        NetifLinkMonitor **links) {
        Node *n = s->node;
        int r;

        if (n->n_volumes > 0 && n->volumes[0].devnode) {
                r = blockdev_monitor_new(disks);
                if (r < 0)
                        log_warning_errno(r, "Failed to watch the disks, a volume grown by EBS is not grown "
                                          "here until the next boot: %m");
                else {
                        s->disks = *disks;
                        r = sd_event_add_io(s->event, NULL, blockdev_monitor_fd(*disks), EPOLLIN, on_disk_event, s);
                        if (r < 0)
                                return r;
                }
                r = fs_mount_monitor_new(mounts);
                if (r < 0)
                        return log_error_errno(r, "Failed to watch the mount table: %m");
                s->mounts = *mounts;
                r = sd_event_add_io(s->event, NULL, fs_mount_monitor_fd(*mounts), EPOLLIN, on_mount_event, s);
                if (r < 0)
                        return r;
        }
        if (n->interface.have_link) {
                r = netif_link_monitor_new(links);
                if (r < 0)
                        return log_error_errno(r, "Failed to watch the links: %m");
                s->links = *links;
                r = sd_event_add_io(s->event, NULL, netif_link_monitor_fd(*links), EPOLLIN, on_link_event, s);
                if (r < 0)
                        return r;
        }
        return 0;
}

int supervise_run(Node *n) {
        _cleanup_(fs_mount_monitor_freep) FsMountMonitor *mounts = NULL;
        _cleanup_(netif_link_monitor_freep) NetifLinkMonitor *links = NULL;
        _cleanup_(blockdev_monitor_freep) BlockdevMonitor *disks = NULL;
        sd_event *event = NULL;
        Supervisor s = { .node = n, .handover_fd = -EBADF };
        sigset_t mask;
        int r;

        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGUSR1);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
                return log_error_errno(errno, "Failed to block signals: %m");

        r = sd_event_default(&event);
        if (r < 0)
                return log_error_errno(r, "Failed to create the event loop: %m");
        s.event = event;

        (void) sd_event_add_signal(event, NULL, SIGTERM, on_sigterm, &s);
        (void) sd_event_add_signal(event, NULL, SIGINT, on_sigterm, &s);
        (void) sd_event_add_signal(event, NULL, SIGUSR1, on_stand_down, &s);
        /* WATCHDOG=1 as often as systemd's WatchdogSec= asks for it. */
        (void) sd_event_set_watchdog(event, true);

        r = add_monitors(&s, &disks, &mounts, &links);
        if (r < 0)
                goto finish;
        r = sd_event_add_time_relative(event, NULL, CLOCK_MONOTONIC, CHECK_INTERVAL_USEC, USEC_PER_SEC,
                                       on_check_timer, &s);
        if (r < 0)
                goto finish;

        if (node_handover_enabled(n)) {
                r = setup_handover(&s);
                if (r < 0)
                        goto finish;
        }

        r = write_pid_file();
        if (r < 0)
                log_warning_errno(r, "Failed to write the pid file, nodeagent --detach cannot reach this daemon: %m");

        notify_ready("The node is ready.");
        log_info("Ready; supervising the mount, the link and its routing until SIGTERM.");

        /* Something lost between the boot and now counts as lost. */
        r = check_mount(&s);
        if (r >= 0)
                r = check_link(&s);
        if (r >= 0)
                r = sd_event_loop(event);

finish:
        s.recheck = sd_event_source_unref(s.recheck);
        s.handover_look = sd_event_source_unref(s.handover_look);
        sd_event_unref(event);
        safe_close(s.handover_fd);
        handover_holder_done(&s.handover);
        free(s.handing_to);
        {
                _cleanup_free_ char *pid_file = NULL;

                if (supervise_pid_file(&pid_file) >= 0)
                        (void) unlink(pid_file);
        }
        if (r < 0 && r != -ENOLINK)
                return log_error_errno(r, "Supervision failed: %m");
        return r;
}
