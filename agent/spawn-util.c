/* SPDX-License-Identifier: Apache-2.0 */
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "log.h"
#include "spawn-util.h"
#include "wait.h"

/* A line longer than this is logged in pieces: a program that prints a
 * megabyte without a newline must not grow our memory. */
#define SPAWN_LINE_MAX 4096U

/* Without pidfd_open() (Linux before 5.3, and valgrind, which does not know
 * the call) the child is looked at with waitpid(WNOHANG) this often. */
#define SPAWN_WAIT_FALLBACK_MSEC 20

static const struct {
        const char *program;
        const char *package;
} program_packages[] = {
        { "mkfs.ext4",  "e2fsprogs" },
        { "mke2fs",     "e2fsprogs" },
        { "e2fsck",     "e2fsprogs" },
        { "fsck.ext4",  "e2fsprogs" },
        { "resize2fs",  "e2fsprogs" },
        { "tune2fs",    "e2fsprogs" },
        { "debugfs",    "e2fsprogs" },
        { "dumpe2fs",   "e2fsprogs" },
        { "mkfs.xfs",   "xfsprogs" },
        { "xfs_growfs", "xfsprogs" },
        { "xfs_repair", "xfsprogs" },
        { "xfs_admin",  "xfsprogs" },
        { "xfs_db",     "xfsprogs" },
        { "mdadm",      "mdadm" },
};

const char *spawn_program_package(const char *name) {
        if (!name)
                return NULL;
        for (size_t i = 0; i < ELEMENTSOF(program_packages); i++)
                if (streq(program_packages[i].program, name))
                        return program_packages[i].package;
        return NULL;
}

static bool is_executable_file(const char *path) {
        struct stat st;

        if (stat(path, &st) < 0)
                return false;
        return S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

int spawn_find_program(const char *name, char **ret_path) {
        char *path;

        if (isempty(name) || !ret_path)
                return -EINVAL;

        /* A path is the caller's explicit choice (tests use it). */
        if (strchr(name, '/')) {
                if (!is_executable_file(name))
                        return -ENOENT;
                path = strdup(name);
                if (!path)
                        return -ENOMEM;
                *ret_path = path;
                return 0;
        }

        for (const char *dir = SPAWN_PATH; *dir != '\0';) {
                size_t n = strcspn(dir, ":");

                if (n > 0) {
                        if (asprintf(&path, "%.*s/%s", (int) n, dir, name) < 0)
                                return -ENOMEM;
                        if (is_executable_file(path)) {
                                *ret_path = path;
                                return 0;
                        }
                        free(path);
                }
                dir += n;
                if (*dir == ':')
                        dir++;
        }
        return -ENOENT;
}

/* What we collect from the pipe: the line being assembled for the log, and
 * the output for the caller. */
typedef struct Output {
        const char *name;
        int log_level;

        char line[SPAWN_LINE_MAX];
        size_t line_size;

        char *data;
        size_t size;
        size_t allocated;
        bool want_data;
} Output;

static Output *output_free(Output *o) {
        if (!o)
                return NULL;
        free(o->data);
        return mfree(o);
}
DEFINE_TRIVIAL_CLEANUP_FUNC(Output *, output_free);

static void output_flush_line(Output *o) {
        if (o->line_size == 0)
                return;
        /* Programs that talk to terminals end lines with \r\n. */
        if (o->line[o->line_size - 1] == '\r')
                o->line_size--;
        log_full(o->log_level, "%s: %.*s", o->name, (int) o->line_size, o->line);
        o->line_size = 0;
}

static int output_append(Output *o, const char *buf, size_t n) {
        if (o->want_data && o->size < SPAWN_OUTPUT_MAX) {
                size_t take = MIN(n, (size_t) SPAWN_OUTPUT_MAX - o->size);

                if (o->size + take + 1 > o->allocated) {
                        size_t a = MAX(o->allocated * 2, (size_t) 4096);
                        char *d;

                        a = MIN(MAX(a, o->size + take + 1), (size_t) SPAWN_OUTPUT_MAX + 1);
                        d = realloc(o->data, a);
                        if (!d)
                                return -ENOMEM;
                        o->data = d;
                        o->allocated = a;
                }
                memcpy(o->data + o->size, buf, take);
                o->size += take;
                o->data[o->size] = '\0';
        }

        for (size_t i = 0; i < n; i++) {
                if (buf[i] == '\n') {
                        output_flush_line(o);
                        continue;
                }
                if (o->line_size == sizeof(o->line))
                        output_flush_line(o);
                o->line[o->line_size++] = buf[i];
        }
        return 0;
}

/* Reads what the pipe holds now. Returns 1 at end of file, 0 when it would
 * block, or a negative errno. */
static int output_read(Output *o, int fd) {
        char buf[4096];

        for (;;) {
                ssize_t n = read(fd, buf, sizeof(buf));
                int r;

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN)
                                return 0;
                        return -errno;
                }
                if (n == 0)
                        return 1;
                r = output_append(o, buf, (size_t) n);
                if (r < 0)
                        return r;
        }
}

static int timeout_ms(usec_t until) {
        usec_t left;

        if (until == USEC_INFINITY)
                return -1;
        left = usec_left(until);
        /* Round up, so that we do not wake up just before the deadline and
         * spin with a zero timeout. */
        return (int) MIN((left + USEC_PER_MSEC - 1) / USEC_PER_MSEC, (usec_t) INT_MAX);
}

static void file_actions_destroyp(posix_spawn_file_actions_t **fa) {
        if (*fa)
                (void) posix_spawn_file_actions_destroy(*fa);
}

static void spawnattr_destroyp(posix_spawnattr_t **a) {
        if (*a)
                (void) posix_spawnattr_destroy(*a);
}

static char *format_command(char *const argv[]) {
        _cleanup_free_ char *s = NULL;
        size_t size = 0;
        FILE *f;

        f = open_memstream(&s, &size);
        if (!f)
                return NULL;
        for (size_t i = 0; argv[i]; i++)
                fprintf(f, "%s%s", i > 0 ? " " : "", argv[i]);
        if (fclose(f) != 0)
                return NULL;
        return TAKE_PTR(s);
}

/* Waits for the child, with no deadline: after SIGKILL it cannot linger. */
static int reap(pid_t pid, int *ret_status) {
        for (;;) {
                if (waitpid(pid, ret_status, 0) >= 0)
                        return 0;
                if (errno != EINTR)
                        return -errno;
        }
}

/* spawn_find_program(), and for a program that is not there the one
 * message an operator needs: which Debian package ships it. */
static int find_program(const char *arg0, const char *name, char **ret_path) {
        int r;

        r = spawn_find_program(arg0, ret_path);
        if (r == -ENOENT) {
                const char *package = spawn_program_package(name);

                if (package)
                        return log_error_errno(ENOENT, "%s is not installed (looked in %s): "
                                               "it comes with the Debian package %s.",
                                               name, SPAWN_PATH, package);
                return log_error_errno(ENOENT, "%s is not installed (looked in %s).", name, SPAWN_PATH);
        }
        return r;
}

/* Starts path with argv, stdin from /dev/null, stdout and stderr into
 * pipe_w, the fixed environment, default signal handling and a process
 * group of its own. */
static int start_child(const char *path, char *const argv[], const char *command, int pipe_w,
                       pid_t *ret_pid) {
        _cleanup_(file_actions_destroyp) posix_spawn_file_actions_t *fa = NULL;
        _cleanup_(spawnattr_destroyp) posix_spawnattr_t *attr = NULL;
        posix_spawn_file_actions_t fa_storage;
        posix_spawnattr_t attr_storage;
        char *envp[] = { (char *) "PATH=" SPAWN_PATH, (char *) "LC_ALL=C", NULL };
        sigset_t mask, defaults;
        int r;

        r = posix_spawn_file_actions_init(&fa_storage);
        if (r != 0)
                return -r;
        fa = &fa_storage;
        /* dup2() leaves the copies without O_CLOEXEC, so the child keeps
         * them; both pipe ends themselves close at exec. */
        r = posix_spawn_file_actions_addopen(fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
        if (r == 0)
                r = posix_spawn_file_actions_adddup2(fa, pipe_w, STDOUT_FILENO);
        if (r == 0)
                r = posix_spawn_file_actions_adddup2(fa, pipe_w, STDERR_FILENO);
        if (r != 0)
                return -r;

        r = posix_spawnattr_init(&attr_storage);
        if (r != 0)
                return -r;
        attr = &attr_storage;
        /* The child starts clean whatever this process blocks or ignores
         * (an ignored SIGPIPE would be inherited through exec), and in a
         * process group of its own, so that the deadline reaches whatever
         * it started too. */
        sigemptyset(&mask);
        sigfillset(&defaults);
        r = posix_spawnattr_setsigmask(attr, &mask);
        if (r == 0)
                r = posix_spawnattr_setsigdefault(attr, &defaults);
        if (r == 0)
                r = posix_spawnattr_setpgroup(attr, 0);
        if (r == 0)
                r = posix_spawnattr_setflags(attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
                                                   POSIX_SPAWN_SETPGROUP);
        if (r != 0)
                return -r;

        log_debug("Running %s", command);
        r = posix_spawn(ret_pid, path, fa, attr, argv, envp);
        if (r != 0)
                return log_debug_errno(r, "Failed to start %s: %m", path);
        return 0;
}

/* A started child and how far the wait for it has got. The fds belong to
 * spawn(). */
typedef struct Child {
        const char *name;
        pid_t pid;
        int pipe_r;
        int pidfd;              /* -EBADF without pidfd_open() */
        int status;
        bool exited, reaped, pipe_open;
        unsigned kills;         /* 1: SIGTERM sent, 2: SIGKILL sent */
        usec_t until;           /* the deadline, then the end of the grace period */
} Child;

/* The deadline, then the grace period after SIGTERM, has passed. */
static void child_deadline_passed(Child *c) {
        if (c->kills == 0) {
                log_debug("%s did not finish before the deadline, sending SIGTERM.", c->name);
                (void) kill(-c->pid, SIGTERM);
                c->until = usec_add(now(CLOCK_MONOTONIC), SPAWN_KILL_GRACE_USEC);
        } else {
                log_debug("%s did not exit after SIGTERM, sending SIGKILL.", c->name);
                (void) kill(-c->pid, SIGKILL);
                c->until = USEC_INFINITY;
        }
        c->kills++;
}

/* Waits until the child has exited, logging its output as it comes and
 * killing it at the deadline. Returns 0, or a negative errno after which
 * the child must be killed. */
static int child_wait(Child *c, Output *o) {
        int r;

        while (!c->exited) {
                struct pollfd p[2];
                nfds_t n = 0;
                int pipe_index = -1, wait_ms = timeout_ms(c->until);

                if (c->pipe_open) {
                        pipe_index = (int) n;
                        p[n++] = (struct pollfd) { .fd = c->pipe_r, .events = POLLIN };
                }
                if (c->pidfd >= 0)
                        p[n++] = (struct pollfd) { .fd = c->pidfd, .events = POLLIN };
                else if (wait_ms < 0 || wait_ms > SPAWN_WAIT_FALLBACK_MSEC)
                        wait_ms = SPAWN_WAIT_FALLBACK_MSEC;

                /* A program that writes (mkfs, fsck) runs to its end: the
                 * wait is not cancelled with the boot, only the deadline
                 * ends it. */
                r = wait_for_fds(p, n, wait_ms < 0 ? USEC_INFINITY :
                                                     usec_add(now(CLOCK_MONOTONIC), (usec_t) wait_ms * USEC_PER_MSEC),
                                 WAIT_UNCANCELLABLE);
                if (r < 0)
                        return r;

                if (r == 0 && (c->pidfd >= 0 || (c->until != USEC_INFINITY && usec_left(c->until) == 0))) {
                        child_deadline_passed(c);
                        continue;
                }

                if (pipe_index >= 0 && p[pipe_index].revents != 0) {
                        r = output_read(o, c->pipe_r);
                        if (r < 0)
                                return r;
                        if (r > 0)
                                c->pipe_open = false;
                }

                if (c->pidfd >= 0) {
                        if (p[n - 1].revents != 0)
                                c->exited = true;
                } else {
                        pid_t w = waitpid(c->pid, &c->status, WNOHANG);

                        if (w == c->pid)
                                c->exited = c->reaped = true;
                        else if (w < 0 && errno != EINTR)
                                return -errno;
                }
        }
        return 0;
}

/* After a failure while it runs: the child is killed and reaped. */
static int child_kill(Child *c, int error) {
        (void) kill(-c->pid, SIGKILL);
        (void) reap(c->pid, &c->status);
        return log_debug_errno(error, "Failed to run %s: %m", c->name);
}

/* The child has exited: reaps it and turns its end into spawn()'s result. */
static int child_end(Child *c, Output *o, char **ret_output) {
        int r;

        if (!c->reaped) {
                r = reap(c->pid, &c->status);
                if (r < 0)
                        return log_debug_errno(r, "Failed to wait for %s: %m", c->name);
        }

        if (c->kills > 0)
                return log_debug_errno(ETIME, "%s was killed at the deadline.", c->name);
        if (WIFSIGNALED(c->status))
                return log_debug_errno(EPROTO, "%s was killed by signal %s.", c->name,
                                       strsignal(WTERMSIG(c->status)));
        if (!WIFEXITED(c->status))
                return log_debug_errno(EPROTO, "%s ended in an unexpected way (wait status 0x%x).", c->name,
                                       (unsigned) c->status);

        log_debug("%s exited with status %d.", c->name, WEXITSTATUS(c->status));

        if (ret_output) {
                if (!o->data) {
                        o->data = strdup("");
                        if (!o->data)
                                return -ENOMEM;
                }
                *ret_output = TAKE_PTR(o->data);
        }
        return WEXITSTATUS(c->status);
}

int spawn(char *const argv[], usec_t deadline, int log_level, char **ret_output) {
        _cleanup_close_ int pipe_r = -EBADF, pipe_w = -EBADF, pidfd = -EBADF;
        _cleanup_free_ char *path = NULL, *command = NULL;
        _cleanup_(output_freep) Output *o = NULL;
        const char *name;
        int fds[2], r;
        Child c;

        if (!argv || isempty(argv[0]))
                return -EINVAL;

        name = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];

        r = find_program(argv[0], name, &path);
        if (r < 0)
                return r;

        command = format_command(argv);
        if (!command)
                return -ENOMEM;

        /* A program started after the deadline could only be killed again. */
        if (deadline != USEC_INFINITY && usec_left(deadline) == 0)
                return log_debug_errno(ETIME, "Not running %s: the deadline has passed.", command);

        /* On the heap: callers may run on threads with small stacks. */
        o = calloc(1, sizeof(Output));
        if (!o)
                return -ENOMEM;
        o->name = name;
        o->log_level = log_level;
        o->want_data = ret_output != NULL;

        if (pipe2(fds, O_CLOEXEC) < 0)
                return -errno;
        pipe_r = fds[0];
        pipe_w = fds[1];

        c = (Child) { .name = name, .pipe_r = pipe_r, .pidfd = -EBADF, .pipe_open = true, .until = deadline };
        r = start_child(path, argv, command, pipe_w, &c.pid);
        if (r < 0)
                return r;

        pipe_w = safe_close(pipe_w);

        /* The child stays a zombie until we reap it, so its pid cannot be
         * reused in between: the pidfd and kill(-pid) are safe. */
        pidfd = pidfd_open(c.pid, 0);
        if (pidfd < 0 && errno != ENOSYS) {
                r = -errno;
                (void) kill(-c.pid, SIGKILL);
                (void) reap(c.pid, &c.status);
                return log_debug_errno(r, "Failed to open a pidfd for %s: %m", name);
        }
        c.pidfd = pidfd;

        if (fcntl(pipe_r, F_SETFL, O_NONBLOCK) < 0)
                return child_kill(&c, -errno);

        r = child_wait(&c, o);
        /* What the program wrote before it exited is in the pipe now. A
         * child it left behind may keep the pipe open: we do not wait for
         * that one. */
        if (r >= 0 && c.pipe_open)
                r = output_read(o, pipe_r);
        if (r < 0)
                return child_kill(&c, r);
        output_flush_line(o);

        return child_end(&c, o, ret_output);
}
