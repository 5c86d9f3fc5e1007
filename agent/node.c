/* SPDX-License-Identifier: Apache-2.0 */
#include <ctype.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "log.h"
#include "node.h"
#include "notify.h"
#include "wait.h"

/* Threads or one event loop? Each path is a straight story of blocking
 * steps (a libcurl transfer, a libblkid probe, mkfs and fsck running for
 * minutes, a libmount call); on one sd-event loop every one of them would
 * have to become asynchronous or still run in a worker thread, and the
 * story would be cut into callbacks. So each path runs in a thread of its
 * own, with an AWS client of its own, and every wait it makes goes through
 * wait.h, whose one cancellation fd reaches them all at once. */

static int make_done_fd(void) {
        int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

        return fd < 0 ? -errno : fd;
}

/* A volume section's path: its name, and a Volume per member. */
static int node_volume_init(NodeVolume *v, const ConfigVolume *config, Instance *instance, const char *node_name,
                            usec_t deadline) {
        size_t n = config_volume_n_members(config);
        int r;

        *v = (NodeVolume) {
                .config = config,
                .mounted_fd = -EBADF,
                .done_fd = -EBADF,
        };
        if (streq_ptr(config->section, CONFIG_VOLUME_DATA))
                r = asprintf(&v->path_name, "volume");
        else
                r = asprintf(&v->path_name, "volume:%s", config->section);
        if (r < 0) {
                v->path_name = NULL;
                return log_oom();
        }
        v->path = PATH_INIT(v->path_name);

        v->members = calloc(MAX(n, 1U), sizeof(Volume));
        if (!v->members)
                return log_oom();
        v->n_members = MAX(n, 1U);
        for (size_t k = 0; k < v->n_members; k++) {
                volume_init(&v->members[k], config, &v->path, instance->aws, instance->instance_id,
                            instance->availability_zone, deadline);
                v->members[k].attach.node_name = node_name;
                volume_set_member(&v->members[k], k);
        }
        return 0;
}

static void node_volume_done(NodeVolume *v) {
        for (size_t k = 0; k < v->n_members; k++)
                volume_done(&v->members[k]);
        v->members = mfree(v->members);
        v->n_members = 0;
        v->devnode = mfree(v->devnode);
        v->md_name = mfree(v->md_name);
        v->array_uuid = mfree(v->array_uuid);
        fs_setup_result_done(&v->fs);
        v->mounted_fd = safe_close(v->mounted_fd);
        v->done_fd = safe_close(v->done_fd);
        v->path_name = mfree(v->path_name);
}

int node_init(Node *n, const Config *config, Instance *instance, usec_t deadline) {
        int r;

        *n = (Node) {
                .config = config,
                .instance = instance,
                .deadline = deadline,
                .name = config->node.name ?: instance->instance_id,
                .interface = { .path = PATH_INIT("interface"), .done_fd = -EBADF },
                .dns = { .path = PATH_INIT("dns"), .done_fd = -EBADF },
        };

        if (config->n_volumes > 0) {
                n->volumes = calloc(config->n_volumes, sizeof(NodeVolume));
                if (!n->volumes)
                        return log_oom();
        }
        for (size_t i = 0; i < config->n_volumes; i++) {
                r = node_volume_init(&n->volumes[n->n_volumes++], config->volumes[i], instance, n->name, deadline);
                if (r < 0)
                        return r;
        }
        if (config->has_interface) {
                eni_init(&n->interface.eni, &config->interface, &n->interface.path, instance->aws,
                         instance->instance_id, instance->availability_zone, deadline);
                n->interface.eni.attach.node_name = n->name;
        }
        return 0;
}

void node_done(Node *n) {
        for (size_t i = 0; i < n->n_volumes; i++)
                node_volume_done(&n->volumes[i]);
        n->volumes = mfree(n->volumes);
        n->n_volumes = 0;
        eni_done(&n->interface.eni);
        n->interface.subnet_cidr = mfree(n->interface.subnet_cidr);
        node_routing_done(&n->interface.routing);
        n->interface.done_fd = safe_close(n->interface.done_fd);
        dns_read_done(&n->dns.read);
        n->dns.done_fd = safe_close(n->dns.done_fd);
}

const char *node_ip(const Node *n) {
        return n->config->has_interface ? n->interface.eni.ec2.private_ip : n->instance->private_ip;
}

/* One path of the boot in a thread of its own. */
typedef struct NodeRun {
        Node *node;
        Path *path;
        AwsClient **aws;                /* where the path's own client goes */
        int *done_fd;
        int *also_fd;                   /* also written at the end, unless written before (NULL: none) */
        int (*run)(struct NodeRun *r);
        NodeVolume *volume;             /* for run_volume */
        AwsSession *session;
        pthread_t thread;
        bool started;
        int result;
} NodeRun;

static pthread_mutex_t failure_lock = PTHREAD_MUTEX_INITIALIZER;

static int run_volume(NodeRun *r) {
        return node_run_volume(r->node, r->volume);
}

static int run_interface(NodeRun *r) {
        return node_run_interface(r->node);
}

static int run_dns(NodeRun *r) {
        return node_run_dns(r->node);
}

static void *path_thread(void *userdata) {
        NodeRun *p = userdata;
        uint64_t one = 1;

        p->result = p->run(p);
        path_finish(p->path);

        /* The first failure that was not a cancellation is the boot's; the
         * others stop at their next wait. */
        if (p->result < 0) {
                pthread_mutex_lock(&failure_lock);
                if (p->node->failure == FAILURE_NONE && p->path->failure != FAILURE_CANCELLED)
                        p->node->failure = p->path->failure != FAILURE_NONE ? p->path->failure : FAILURE_OTHER;
                pthread_mutex_unlock(&failure_lock);
                path_cancel_all();
        }
        if (p->also_fd)
                (void) !write(*p->also_fd, &one, sizeof(one));
        (void) !write(*p->done_fd, &one, sizeof(one));
        return NULL;
}

/* Waits until every fd of fds is readable: the paths that ended. */
static int wait_all_done(const int *fds, size_t n, WaitFlags flags, usec_t until) {
        _cleanup_free_ struct pollfd *p = calloc(MAX(n, 1U), sizeof(struct pollfd));
        size_t pending = 0;
        int r;

        if (!p)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                struct pollfd one = { .fd = fds[i], .events = POLLIN };

                /* Ended already? */
                if (fds[i] < 0 || poll(&one, 1, 0) > 0)
                        continue;
                p[pending++] = one;
        }
        if (pending == 0)
                return 1;
        r = wait_for_fds(p, pending, until, flags);
        return r < 0 ? r : 0;
}

void node_volume_mounted(NodeVolume *v) {
        uint64_t one = 1;

        atomic_store(&v->mounted, true);
        (void) !write(v->mounted_fd, &one, sizeof(one));
}

/* Whether path is below dir ("/a/b" is below "/a", "/ab" is not). */
static bool path_below(const char *path, const char *dir) {
        size_t l = strlen(dir);

        return strncmp(path, dir, l) == 0 && path[l] == '/';
}

NodeVolume *node_parent_volume(Node *n, const NodeVolume *v) {
        NodeVolume *parent = NULL;

        for (size_t i = 0; i < n->n_volumes; i++) {
                NodeVolume *p = &n->volumes[i];

                if (p == v || !path_below(v->config->mount_point, p->config->mount_point))
                        continue;
                /* The nearest: the longest mount point above. */
                if (!parent || strlen(p->config->mount_point) > strlen(parent->config->mount_point))
                        parent = p;
        }
        return parent;
}

int node_wait_for_parent_mount(Node *n, const NodeVolume *v) {
        NodeVolume *parent = node_parent_volume(n, v);
        int fd, r;

        if (!parent)
                return 0;
        fd = parent->mounted_fd;
        do
                r = wait_all_done(&fd, 1, WAIT_CANCELLABLE, USEC_INFINITY);
        while (r == 0);
        if (r < 0)
                return r;
        return atomic_load(&parent->mounted) ? 0 : -ECANCELED;
}

int node_wait_for_others(Node *n) {
        _cleanup_free_ int *fds = calloc(n->n_volumes + 1, sizeof(int));
        size_t k = 0;
        int r;

        if (!fds)
                return -ENOMEM;
        for (size_t i = 0; i < n->n_volumes; i++)
                fds[k++] = n->volumes[i].mounted_fd;
        if (n->config->has_interface)
                fds[k++] = n->interface.done_fd;

        do
                r = wait_all_done(fds, k, WAIT_CANCELLABLE, USEC_INFINITY);
        while (r == 0);
        if (r < 0)
                return r;

        /* A volume path that ended without mounting failed. */
        for (size_t i = 0; i < n->n_volumes; i++)
                if (!atomic_load(&n->volumes[i].mounted))
                        return -ECANCELED;
        if (n->config->has_interface && n->interface.path.failure != FAILURE_NONE)
                return -ECANCELED;
        return 0;
}

/* While the paths run, the main thread keeps systemd's watchdog fed and
 * the lifecycle hook waiting (heartbeats). It waits for the paths' ends,
 * never cancelled: a failed boot still waits for its writes to finish. */
static void supervise_paths(Node *n, NodeRun *runs, size_t n_runs) {
        _cleanup_free_ int *fds = calloc(MAX(n_runs, 1U), sizeof(int));
        usec_t watchdog = notify_watchdog_usec();
        usec_t tick = watchdog > 0 ? watchdog / 2 : 30 * USEC_PER_SEC;

        /* Without memory for the list the joins that follow still wait. */
        if (!fds)
                return;
        for (size_t i = 0; i < n_runs; i++)
                fds[i] = runs[i].started ? *runs[i].done_fd : -EBADF;

        for (;;) {
                usec_t until = usec_add(now(CLOCK_MONOTONIC), tick);
                int r;

                if (n->signal && signal_heartbeat_next(n->signal) != USEC_INFINITY)
                        until = MIN(until, usec_add(signal_heartbeat_next(n->signal), USEC_PER_MSEC));
                r = wait_all_done(fds, n_runs, WAIT_UNCANCELLABLE, until);
                if (r != 0)
                        return;

                if (watchdog > 0)
                        notify_watchdog();
                if (n->signal && signal_heartbeat_due(n->signal, now(CLOCK_MONOTONIC)))
                        (void) signal_heartbeat(n->signal, n->deadline);
        }
}

const char *node_state_file_path(void) {
        /* Tests run many nodes on one machine; systemd units use the contract's path. */
        const char *p = getenv("NODEAGENT_STATE_FILE");

        return !isempty(p) ? p : NODEAGENT_STATE_FILE;
}

/* "volume.attach=4.11 interface.wait-link=1.20 dns.change=0.10": where the
 * boot's time went, path by path, state by state. */
static char *format_boot_phases(const Node *n) {
        char *text = NULL;
        int r = 0;

        for (size_t i = 0; r >= 0 && i < n->n_volumes; i++)
                r = path_format_phases(&n->volumes[i].path, &text);
        if (r >= 0 && n->config->has_interface)
                r = path_format_phases(&n->interface.path, &text);
        if (r >= 0 && n->config->has_dns)
                r = path_format_phases(&n->dns.path, &text);
        if (r < 0)
                return mfree(text);
        return text ?: strdup("");
}

/* A volume section's ids as the state file says them: its volume's, or a
 * set's members' separated by spaces. NULL before any was found. */
static char *volume_ids(const NodeVolume *v) {
        char *text = NULL;
        size_t size = 0;
        FILE *f;

        if (!v->members[0].ec2.id)
                return NULL;
        f = open_memstream(&text, &size);
        if (!f)
                return NULL;
        for (size_t k = 0; k < v->n_members; k++)
                fprintf(f, "%s%s", k > 0 ? " " : "", strna(v->members[k].ec2.id));
        if (fclose(f) != 0)
                return mfree(text);
        return text;
}

/* NODEAGENT_VOLUME_<NAME>_<what>: NAME upper-cased, '-' as '_'. */
static char *section_key(const NodeVolume *v, const char *what) {
        char *key;

        if (asprintf(&key, "NODEAGENT_VOLUME_%s_%s", v->config->section, what) < 0)
                return NULL;
        for (char *p = key; *p; p++)
                *p = (char) (*p == '-' ? '_' : toupper((unsigned char) *p));
        return key;
}

typedef struct StateVars {
        NodeStateVar *vars;
        size_t n;
        char **owned;                   /* the strings to free */
        size_t n_owned;
} StateVars;

static void state_vars_done(StateVars *s) {
        for (size_t i = 0; i < s->n_owned; i++)
                free(s->owned[i]);
        free(s->owned);
        free(s->vars);
}

/* The [Volume:NAME] sections' keys: _ID, _DEVICE, _MOUNT_POINT each. */
static int named_section_vars(const Node *n, bool ok, StateVars *ret) {
        ret->vars = calloc(3 * n->n_volumes + 1, sizeof(NodeStateVar));
        ret->owned = calloc(6 * n->n_volumes + 1, sizeof(char *));
        if (!ret->vars || !ret->owned)
                return -ENOMEM;
        for (size_t i = 0; i < n->n_volumes; i++) {
                const NodeVolume *v = &n->volumes[i];
                const char *what[] = { "ID", "DEVICE", "MOUNT_POINT" };
                char *value[3];

                if (streq_ptr(v->config->section, CONFIG_VOLUME_DATA))
                        continue;
                value[0] = volume_ids(v);
                value[1] = v->devnode ? strdup(v->devnode) : NULL;
                value[2] = ok || atomic_load(&v->mounted) ? strdup(v->config->mount_point) : NULL;
                for (size_t k = 0; k < 3; k++) {
                        char *key = section_key(v, what[k]);

                        if (!key) {
                                for (size_t m = k; m < 3; m++)
                                        free(value[m]);
                                return -ENOMEM;
                        }
                        ret->owned[ret->n_owned++] = key;
                        if (value[k])
                                ret->owned[ret->n_owned++] = value[k];
                        ret->vars[ret->n++] = (NodeStateVar) { .name = key, .value = value[k] };
                }
        }
        return 0;
}

static const NodeVolume *data_volume(const Node *n) {
        for (size_t i = 0; i < n->n_volumes; i++)
                if (streq_ptr(n->volumes[i].config->section, CONFIG_VOLUME_DATA))
                        return &n->volumes[i];
        return NULL;
}

/* The state file: at READY, and also when a boot fails (failed: the exit
 * status; what is known by then is in it too). */
static int write_state(Node *n, const char *failed) {
        const NodeVolume *v = data_volume(n);
        _cleanup_free_ char *phases = format_boot_phases(n), *ids = v ? volume_ids(v) : NULL;
        _cleanup_(state_vars_done) StateVars extra = {};
        bool ok = !failed;
        NodeState s = {
                .instance_id = n->instance->instance_id,
                .volume_id = ids,
                .device = v ? v->devnode : NULL,
                .mount_point = v && (ok || atomic_load(&v->mounted)) ? v->config->mount_point : NULL,
                .eni_id = n->config->has_interface ? n->interface.eni.ec2.id : NULL,
                .interface = n->interface.have_link ? n->interface.eni.link.name : NULL,
                /* Without [Interface], DNS publishes the primary private IP. */
                .ip = ok || n->interface.have_link || !n->config->has_interface ? node_ip(n) : NULL,
                .dns_name = n->config->has_dns && ok ? n->config->dns.name : NULL,
                .boot_phases = phases,
                .failed = failed,
        };
        int r;

        r = named_section_vars(n, ok, &extra);
        if (r < 0)
                return log_oom();
        s.extra = extra.vars;
        s.n_extra = extra.n;

        log_info("Boot phases: %s", isempty(phases) ? "(none)" : phases);
        r = notify_write_state(node_state_file_path(), &s);
        if (r < 0)
                return log_error_errno(r, "Failed to write %s: %m", node_state_file_path());
        return 0;
}

void node_record_failure(Node *n, ExitStatus status) {
        char failed[16];

        (void) snprintf(failed, sizeof(failed), "%d", (int) status);
        (void) write_state(n, failed);
}

/* The paths of this boot, in the order they are listed in the journal. */
static size_t plan_runs(Node *n, NodeRun *runs) {
        size_t k = 0;

        for (size_t i = 0; i < n->n_volumes; i++)
                runs[k++] = (NodeRun) {
                        .node = n,
                        .path = &n->volumes[i].path,
                        .aws = &n->volumes[i].aws,
                        .done_fd = &n->volumes[i].done_fd,
                        .also_fd = &n->volumes[i].mounted_fd,
                        .run = run_volume,
                        .volume = &n->volumes[i],
                };
        if (n->config->has_interface)
                runs[k++] = (NodeRun) {
                        .node = n,
                        .path = &n->interface.path,
                        .aws = &n->interface.aws,
                        .done_fd = &n->interface.done_fd,
                        .run = run_interface,
                };
        if (n->config->has_dns)
                runs[k++] = (NodeRun) {
                        .node = n,
                        .path = &n->dns.path,
                        .aws = &n->dns.aws,
                        .done_fd = &n->dns.done_fd,
                        .run = run_dns,
                };
        return k;
}

/* Each path gets its own AWS client and its done fd before any starts. */
static int prepare_runs(Node *n, NodeRun *runs, size_t n_runs) {
        int r;

        for (size_t i = 0; i < n_runs; i++) {
                r = aws_session_new(n->instance, &runs[i].session);
                if (r < 0)
                        return log_error_errno(r, "Failed to set up an AWS client: %m");
                *runs[i].aws = runs[i].session->aws;
                r = make_done_fd();
                if (r < 0)
                        return log_error_errno(r, "Failed to make an eventfd: %m");
                *runs[i].done_fd = r;
                if (runs[i].also_fd) {
                        r = make_done_fd();
                        if (r < 0)
                                return log_error_errno(r, "Failed to make an eventfd: %m");
                        *runs[i].also_fd = r;
                }
        }
        for (size_t i = 0; i < n->n_volumes; i++)
                for (size_t k = 0; k < n->volumes[i].n_members; k++)
                        n->volumes[i].members[k].attach.aws = n->volumes[i].aws;
        if (n->config->has_interface)
                n->interface.eni.attach.aws = n->interface.aws;
        return 0;
}

static void start_runs(Node *n, NodeRun *runs, size_t n_runs) {
        for (size_t i = 0; i < n_runs; i++) {
                int r = pthread_create(&runs[i].thread, NULL, path_thread, &runs[i]);

                if (r != 0) {
                        log_error_errno(r, "Failed to start a thread: %m");
                        n->failure = FAILURE_OTHER;
                        path_cancel_all();
                        break;
                }
                runs[i].started = true;
        }
}

int node_boot(Node *n) {
        _cleanup_free_ NodeRun *runs = calloc(n->n_volumes + 2, sizeof(NodeRun));
        size_t n_runs;
        int r;

        if (!runs)
                return log_oom();
        n_runs = plan_runs(n, runs);
        n->failure = FAILURE_NONE;

        r = prepare_runs(n, runs, n_runs);
        if (r < 0)
                n->failure = FAILURE_OTHER;
        else {
                start_runs(n, runs, n_runs);
                supervise_paths(n, runs, n_runs);
        }
        for (size_t i = 0; i < n_runs; i++)
                if (runs[i].started)
                        (void) pthread_join(runs[i].thread, NULL);

        r = n->failure == FAILURE_NONE ? 0 : -ECANCELED;
        for (size_t i = 0; r < 0 && i < n_runs; i++)
                if (runs[i].result < 0 && runs[i].path->failure == n->failure)
                        r = runs[i].result;
        if (r >= 0) {
                r = write_state(n, NULL);
                if (r < 0)
                        n->failure = FAILURE_OTHER;
        }

        /* The manual modes and the supervisor after READY use the main
         * thread's client. */
        for (size_t i = 0; i < n->n_volumes; i++) {
                n->volumes[i].aws = n->instance->aws;
                for (size_t k = 0; k < n->volumes[i].n_members; k++)
                        n->volumes[i].members[k].attach.aws = n->instance->aws;
        }
        if (n->config->has_interface)
                n->interface.eni.attach.aws = n->interface.aws = n->instance->aws;
        n->dns.aws = n->instance->aws;
        for (size_t i = 0; i < n_runs; i++)
                aws_session_free(runs[i].session);
        return r;
}

FailureKind node_failure_kind(const Node *n, int r) {
        if (r >= 0)
                return FAILURE_NONE;
        if (n->failure != FAILURE_NONE)
                return n->failure;
        for (size_t i = 0; i < n->n_volumes; i++)
                if (!IN_SET(n->volumes[i].path.failure, FAILURE_NONE, FAILURE_CANCELLED))
                        return n->volumes[i].path.failure;
        if (!IN_SET(n->interface.path.failure, FAILURE_NONE, FAILURE_CANCELLED))
                return n->interface.path.failure;
        if (!IN_SET(n->dns.path.failure, FAILURE_NONE, FAILURE_CANCELLED))
                return n->dns.path.failure;
        return FAILURE_OTHER;
}
