/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "clock.h"
#include "wait.h"

static atomic_bool cancelled = false;
static int cancel_fd = -EBADF;
static pthread_once_t cancel_fd_once = PTHREAD_ONCE_INIT;

static void cancel_fd_make(void) {
        int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

        cancel_fd = fd < 0 ? -errno : fd;
}

int wait_cancel_fd(void) {
        (void) pthread_once(&cancel_fd_once, cancel_fd_make);
        return cancel_fd;
}

void wait_cancel_all(void) {
        uint64_t one = 1;
        int fd;

        atomic_store(&cancelled, true);
        fd = wait_cancel_fd();
        /* Never read by the waits, the counter stays non-zero: the fd is
         * readable for every wait from now on, not just the next one. */
        if (fd >= 0)
                (void) !write(fd, &one, sizeof(one));
}

bool wait_cancelled(void) {
        return atomic_load(&cancelled);
}

void wait_cancel_reset(void) {
        uint64_t v;
        int fd = wait_cancel_fd();

        if (fd >= 0)
                (void) !read(fd, &v, sizeof(v));
        atomic_store(&cancelled, false);
}

/* poll()'s timeout for an absolute time: rounded up, so that a wait never
 * returns just before `until` and is then repeated for nothing. */
static int timeout_ms(usec_t until) {
        usec_t left, ms;

        if (until == USEC_INFINITY)
                return -1;
        left = usec_left(until);
        ms = (left + USEC_PER_MSEC - 1) / USEC_PER_MSEC;
        return ms > (usec_t) INT_MAX ? INT_MAX : (int) ms;
}

static bool any_fd(const struct pollfd *fds, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (fds[i].fd >= 0)
                        return true;
        return false;
}

/* A test clock: time passes by the hook, at once. */
static int wait_with_hooks(const ClockHooks *hooks, usec_t until, WaitFlags flags) {
        usec_t t = now(CLOCK_MONOTONIC);

        if (!(flags & WAIT_UNCANCELLABLE) && wait_cancelled())
                return -ECANCELED;
        if (until == USEC_INFINITY)
                /* Nothing would ever wake this wait: a test that asks for it
                 * has a bug, and hanging would hide it. */
                abort();
        /* Even a wait of zero is one: the test clock counts the waits. */
        hooks->sleep(until > t ? until - t : 0, hooks->userdata);
        return 0;
}

int wait_for_fds(struct pollfd *fds, size_t n, usec_t until, WaitFlags flags) {
        const ClockHooks *hooks = clock_get_hooks();
        bool cancellable = !(flags & WAIT_UNCANCELLABLE);
        _cleanup_free_ struct pollfd *all = NULL;
        int cfd = -EBADF;

        if (hooks && hooks->sleep && !any_fd(fds, n))
                return wait_with_hooks(hooks, until, flags);

        if (cancellable) {
                if (wait_cancelled())
                        return -ECANCELED;
                cfd = wait_cancel_fd();
                if (cfd < 0)
                        return cfd;
        }

        all = calloc(n + 1, sizeof(struct pollfd));
        if (!all)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                all[i] = fds[i];
                all[i].revents = 0;
        }
        all[n] = (struct pollfd) { .fd = cfd, .events = POLLIN };

        for (;;) {
                int k;

                k = poll(all, n + 1, timeout_ms(until));
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return -errno;
                if (cancellable && (all[n].revents & POLLIN))
                        return -ECANCELED;
                if (k == 0) {
                        /* poll() may wake a moment early by its own clock. */
                        if (usec_left(until) > 0)
                                continue;
                        return 0;
                }
                for (size_t i = 0; i < n; i++)
                        fds[i].revents = all[i].revents;
                return k;
        }
}

int wait_until(usec_t until) {
        return wait_for_fds(NULL, 0, until, WAIT_CANCELLABLE);
}

int wait_for(usec_t usec, usec_t deadline) {
        usec_t until = usec_add(now(CLOCK_MONOTONIC), usec);
        int r;

        r = wait_until(MIN(until, deadline));
        if (r < 0)
                return r;
        return until > deadline ? -ETIME : 0;
}
