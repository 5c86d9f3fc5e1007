/* SPDX-License-Identifier: Apache-2.0 */
#include <getopt.h>
#include <stdio.h>

#include "check.h"
#include "config.h"
#include "exit-status.h"
#include "http.h"
#include "instance.h"
#include "lock.h"
#include "log.h"
#include "macro.h"
#include "node.h"
#include "node-handover.h"
#include "notify.h"
#include "path.h"
#include "signals.h"
#include "supervise.h"

typedef enum Mode {
        MODE_BOOT,              /* the boot sequence, then supervise until SIGTERM */
        MODE_ONCE,
        MODE_ATTACH_ONLY,
        MODE_DETACH,
        MODE_CHECK,
        MODE_STATUS,
        MODE_UNPUBLISH,
} Mode;

static const char *const mode_option[] = {
        [MODE_BOOT] = "(default)",
        [MODE_ONCE] = "--once",
        [MODE_ATTACH_ONLY] = "--attach-only",
        [MODE_DETACH] = "--detach",
        [MODE_CHECK] = "--check",
        [MODE_STATUS] = "--status",
        [MODE_UNPUBLISH] = "--unpublish",
};

static Mode arg_mode = MODE_BOOT;
static bool arg_mode_set = false;
static const char *arg_config = "/etc/nodeagent/nodeagent.conf";
static char **arg_set = NULL;
static size_t arg_n_set = 0;
static const char *arg_section = NULL;  /* --section NAME: one volume section */
static unsigned arg_verbosity = 0;

static void help(void) {
        printf("Usage: nodeagent [MODE] [OPTIONS]\n"
               "\n"
               "Attaches this node's EBS volume and ENI, checks and mounts the volume,\n"
               "routes the interface, publishes the IP in Route 53, then signals readiness.\n"
               "\n"
               "Modes (at most one):\n"
               "      (none)            Boot sequence, READY=1, then supervise until SIGTERM\n"
               "      --once            Boot sequence, then exit\n"
               "      --attach-only     Attach the volumes and the ENI, print where they are,\n"
               "                        exit (no mount, routing or DNS: manual recovery)\n"
               "      --detach          Unmount and detach the volumes (and the ENI when\n"
               "                        [Interface] DetachOnStop=yes)\n"
               "      --check           Validate configuration, identity and IAM permissions\n"
               "                        (EC2 DryRun), print the plan; change nothing\n"
               "      --status          Show what is attached, mounted, routed and published\n"
               "      --unpublish       Take this node's entry out of Route 53 (a node retired\n"
               "                        for good), then exit\n"
               "\n"
               "Options:\n"
               "      --config FILE     Configuration file (default %s,\n"
               "                        plus conf.d/*.conf beside it)\n"
               "      --set Section.Key=Value\n"
               "                        Override one setting (repeatable); Section is\n"
               "                        Volume:NAME for a named volume section\n"
               "      --section NAME    With --attach-only or --detach: only this volume\n"
               "                        section (data for [Volume], NAME for [Volume:NAME])\n"
               "  -v                    More detail in the log (repeatable, up to -v -v -v)\n"
               "      --version         Show the version\n"
               "  -h, --help            Show this help\n"
               "\n"
               "Exit status: 0 done, 1 other failure, 2 bad usage or configuration,\n"
               "3 AWS refused, 4 volume or ENI unusable, 5 filesystem refused,\n"
               "6 deadline passed.\n",
               arg_config);
}

static int set_mode(Mode m) {
        if (arg_mode_set && arg_mode != m) {
                log_error("%s and %s cannot be combined.", mode_option[arg_mode], mode_option[m]);
                return -EINVAL;
        }
        arg_mode = m;
        arg_mode_set = true;
        return 0;
}

enum {
        ARG_ONCE = 0x100,
        ARG_ATTACH_ONLY,
        ARG_DETACH,
        ARG_CHECK,
        ARG_STATUS,
        ARG_UNPUBLISH,
        ARG_CONFIG,
        ARG_SET,
        ARG_SECTION,
        ARG_VERSION,
};

static const struct option options[] = {
        { "once",        no_argument,       NULL, ARG_ONCE },
        { "attach-only", no_argument,       NULL, ARG_ATTACH_ONLY },
        { "detach",      no_argument,       NULL, ARG_DETACH },
        { "check",       no_argument,       NULL, ARG_CHECK },
        { "status",      no_argument,       NULL, ARG_STATUS },
        { "unpublish",   no_argument,       NULL, ARG_UNPUBLISH },
        { "config",      required_argument, NULL, ARG_CONFIG },
        { "set",         required_argument, NULL, ARG_SET },
        { "section",     required_argument, NULL, ARG_SECTION },
        { "verbose",     no_argument,       NULL, 'v' },
        { "version",     no_argument,       NULL, ARG_VERSION },
        { "help",        no_argument,       NULL, 'h' },
        {}
};

/* One --set, kept in arg_set (NULL-terminated) in the order given. */
static int add_set(char *assignment) {
        char **n = realloc(arg_set, (arg_n_set + 2) * sizeof(char *));

        if (!n)
                return log_oom();
        arg_set = n;
        arg_set[arg_n_set++] = assignment;
        arg_set[arg_n_set] = NULL;
        return 0;
}

/* Returns 1 to go on, 0 to exit successfully (--help, --version), or a
 * negative errno for bad usage. */
static int parse_argv(int argc, char *argv[]) {
        int c, r;

        /* getopt prints its own messages; "+" stops at the first non-option. */
        while ((c = getopt_long(argc, argv, "+vh", options, NULL)) >= 0) {
                switch (c) {
                case ARG_ONCE:
                        r = set_mode(MODE_ONCE);
                        break;
                case ARG_ATTACH_ONLY:
                        r = set_mode(MODE_ATTACH_ONLY);
                        break;
                case ARG_DETACH:
                        r = set_mode(MODE_DETACH);
                        break;
                case ARG_CHECK:
                        r = set_mode(MODE_CHECK);
                        break;
                case ARG_STATUS:
                        r = set_mode(MODE_STATUS);
                        break;
                case ARG_UNPUBLISH:
                        r = set_mode(MODE_UNPUBLISH);
                        break;
                case ARG_CONFIG:
                        if (isempty(optarg)) {
                                log_error("--config needs a file name.");
                                return -EINVAL;
                        }
                        arg_config = optarg;
                        r = 0;
                        break;
                case ARG_SET:
                        r = add_set(optarg);
                        break;
                case ARG_SECTION:
                        /* Whether the section exists is known only once the
                         * user data is in; a name no section can have fails now. */
                        if (!volume_section_name_is_valid(optarg)) {
                                log_error("--section %s: not a volume section name (data for [Volume], "
                                          "else NAME of [Volume:NAME]: 1 to 32 of a-z 0-9 -).", optarg);
                                return -EINVAL;
                        }
                        arg_section = optarg;
                        r = 0;
                        break;
                case 'v':
                        arg_verbosity++;
                        r = 0;
                        break;
                case ARG_VERSION:
                        printf("nodeagent %s\n", NODEAGENT_VERSION);
                        return 0;
                case 'h':
                        help();
                        return 0;
                case '?':
                        return -EINVAL;
                default:
                        log_error("Unhandled option %d.", c);
                        return -EINVAL;
                }
                if (r < 0)
                        return r;
        }

        if (optind < argc) {
                log_error("Unexpected argument \"%s\"; see nodeagent --help.", argv[optind]);
                return -EINVAL;
        }
        if (arg_section && !IN_SET(arg_mode, MODE_ATTACH_ONLY, MODE_DETACH)) {
                log_error("--section applies to --attach-only and --detach only.");
                return -EINVAL;
        }
        return 1;
}

/* Sources 1, 2 and 4 of the configuration, before any network call, so
 * that a typo fails at once. */
static int load_config(Config **ret) {
        _cleanup_(config_freep) Config *config = NULL;
        _cleanup_(config_error_done) ConfigError error = {};
        int r;

        r = config_new(&config);
        if (r < 0)
                return log_oom();

        r = config_load(config, arg_config, arg_set, &error);
        if (r < 0)
                return log_error_errno(r, "%s", error.message ?: "Failed to read the configuration: %m");

        *ret = TAKE_PTR(config);
        return 0;
}

/* Source 3, the user data, then the rules across keys on the final
 * configuration. */
static int complete_config(Config *config, Instance *instance, usec_t deadline) {
        _cleanup_(config_error_done) ConfigError error = {};
        int r;

        /* 1 (applied) goes on: the rules below hold for the user data's
         * sections too, and --section may name one of them. */
        r = instance_apply_user_data(instance, config, arg_set, deadline);
        if (r < 0)
                return r;

        r = config_validate(config, &error);
        if (r < 0)
                return log_error_errno(r, "%s", error.message ?: "Invalid configuration.");

        if (arg_section) {
                r = config_select_volume(config, arg_section, &error);
                if (r < 0)
                        return log_error_errno(r, "%s", error.message ?: "Failed to select the volume section: %m");
        }
        return 0;
}

/* How long a second nodeagent waits for the first to finish. */
#define LOCK_WAIT_USEC (10 * USEC_PER_SEC)

/* How long the failure signals may take once the boot's deadline is gone. */
#define FAILURE_SIGNAL_TIMEOUT_USEC (60 * USEC_PER_SEC)

/* The boot sequence between the readiness signals: CloudFormation and the
 * lifecycle hook hear SUCCESS / CONTINUE when it is done, FAILURE / ABANDON
 * when it is not. */
/* The failure of a node mode: a path's own kind, or the signals'. */
static FailureKind boot_failure_kind(const Node *node, const Signal *signal, int r) {
        FailureKind k = node_failure_kind(node, r);

        if (k == FAILURE_OTHER && !IN_SET(signal->path.failure, FAILURE_NONE, FAILURE_CANCELLED))
                return signal->path.failure;
        return k;
}

static int boot_and_signal(Node *node, Signal *signal) {
        int r;

        r = signal_start(signal, node->deadline);
        if (r >= 0)
                r = node_boot(node);
        if (r >= 0)
                r = signal_success(signal, node->deadline);
        if (r < 0)
                signal_failure(signal, usec_add(now(CLOCK_MONOTONIC), FAILURE_SIGNAL_TIMEOUT_USEC));
        return r;
}

/* The kind of an identity or credentials failure, as instance.h and
 * credentials.h document their errors: IMDS disabled or a request refused,
 * or no credentials at all, is AWS refusing; the deadline is the deadline. */
static FailureKind instance_failure_kind(int r) {
        if (IN_SET(r, -EACCES, -EPERM, -ENOKEY))
                return FAILURE_AWS_REFUSED;
        return failure_kind_of_call(r);
}

/* What arg_mode does, once the node is set up. A failure whose kind is
 * known here (--check's verdict, a loss after READY) is put in *failure;
 * *booted says that READY was sent, so that a later failure is not the
 * boot's. */
static int run_mode(Node *node, Signal *signal, FailureKind *failure, bool *booted) {
        int r;

        switch (arg_mode) {
        case MODE_CHECK:
                return check_run(node->config, node->instance, node->deadline, failure);
        case MODE_ONCE:
                return boot_and_signal(node, signal);
        case MODE_BOOT:
                r = boot_and_signal(node, signal);
                if (r >= 0) {
                        *booted = true;
                        r = supervise_run(node);
                        /* Lost after READY, or a release on SIGTERM failed. */
                        if (r < 0)
                                *failure = node_failure_kind(node, r);
                }
                return r;
        case MODE_ATTACH_ONLY:
                return node_attach_only(node);
        case MODE_DETACH:
                return node_detach(node);
        case MODE_STATUS:
                return node_status(node);
        case MODE_UNPUBLISH:
                return node_unpublish(node);
        default:
                return -EINVAL;
        }
}

static ExitStatus run(void) {
        _cleanup_(config_freep) Config *config = NULL;
        _cleanup_(instance_freep) Instance *instance = NULL;
        _cleanup_close_ int lock_fd = -EBADF;
        FailureKind failure = FAILURE_NONE;
        bool booted = false;            /* READY was sent: a later failure is not the boot's */
        Node node;
        Signal signal;
        usec_t deadline;
        int r;

        r = load_config(&config);
        if (r < 0)
                return EXIT_STATUS_USAGE;

        deadline = usec_add(now(CLOCK_MONOTONIC), config->node.timeout);

        r = instance_open(deadline, &instance);
        if (r < 0)
                return exit_status_from_failure(instance_failure_kind(r));

        r = complete_config(config, instance, deadline);
        if (r == -EINVAL)
                return EXIT_STATUS_USAGE;
        if (r < 0)
                return exit_status_from_failure(instance_failure_kind(r));

        if (IN_SET(arg_mode, MODE_BOOT, MODE_ONCE, MODE_ATTACH_ONLY, MODE_DETACH)) {
                /* A running daemon would take the detach for a loss and fight it. */
                if (arg_mode == MODE_DETACH) {
                        r = supervise_stop_daemon(deadline);
                        if (r < 0)
                                return exit_status_from_failure(failure_kind_of_call(r));
                }
                lock_fd = node_lock_acquire(mode_option[arg_mode], LOCK_WAIT_USEC);
                if (lock_fd < 0)
                        return EXIT_STATUS_FAILURE;
        }

        r = node_init(&node, config, instance, deadline);
        if (r < 0)
                return EXIT_STATUS_FAILURE;
        signal_init(&signal, instance->aws, config->has_signal ? &config->signal : NULL, instance->instance_id);
        node.signal = &signal;

        /* A node this instance handed over stays with its new instance:
         * the boot ends here, without READY (node-handover.h). */
        r = 0;
        if (IN_SET(arg_mode, MODE_BOOT, MODE_ONCE))
                r = node_handover_boot_check(&node);
        if (r == 0)
                r = run_mode(&node, &signal, &failure, &booted);
        else
                r = MIN(r, 0);
        if (r < 0 && failure == FAILURE_NONE)
                failure = boot_failure_kind(&node, &signal, r);
        if (r < 0 && IN_SET(arg_mode, MODE_BOOT, MODE_ONCE) && !booted)
                node_record_failure(&node, exit_status_from_failure(failure));
        node_done(&node);
        signal_done(&signal);

        if (r < 0)
                notify_status("failed: %s", exit_status_to_string(exit_status_from_failure(failure)));
        return exit_status_from_failure(failure);
}

int main(int argc, char *argv[]) {
        int r;

        /* journald reads the "<N>" prefixes; systemd says, with
         * $JOURNAL_STREAM, when stderr goes there. A terminal, a pipe or a
         * file gets plain lines. */
        log_set_show_priority(!isempty(getenv("JOURNAL_STREAM")));

        r = parse_argv(argc, argv);
        if (r <= 0) {
                free(arg_set);
                return r < 0 ? EXIT_STATUS_USAGE : EXIT_STATUS_DONE;
        }
        log_set_verbosity(MIN(arg_verbosity, 3U));

        r = http_global_init();
        if (r < 0) {
                log_error_errno(r, "Failed to initialise libcurl: %m");
                free(arg_set);
                return EXIT_STATUS_FAILURE;
        }
        r = (int) run();

        http_global_cleanup();
        log_forget_secrets();
        free(arg_set);
        return r;
}
