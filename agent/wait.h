/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The one way the agent waits during a boot: for file descriptors (a udev
 * monitor, an rtnetlink socket, a child's pipe and pidfd, curl's sockets)
 * and for time, under the boot's cancellation.
 *
 * Cancellation is one eventfd for the whole process: when a path fails,
 * wait_cancel_all() makes it readable for good, and every wait in every
 * thread that watches it returns -ECANCELED at once: the udev and rtnetlink
 * waits, the sleeps between polls and retries, and the HTTP reads in
 * flight (curl_multi_poll() watches the same fd). A wait that guards a
 * write (mkfs and fsck running, a mutating AWS call) is made with
 * WAIT_UNCANCELLABLE and runs to its end.
 *
 * Time is read from clock.h, so a test clock turns a wait on time alone
 * into an instant advance of that clock. */

#include <poll.h>
#include <stdbool.h>

#include "macro.h"
#include "time-util.h"

/* Marks the boot as failed: every cancellable wait returns -ECANCELED. */
void wait_cancel_all(void);
bool wait_cancelled(void);

/* The eventfd that turns readable on cancellation, for a poll loop that is
 * not this module's (curl_multi_poll()'s extra fds); -errno when it cannot
 * be made. Never closed. */
int wait_cancel_fd(void);

/* Forgets a cancellation: for tests, which run many boots in one process. */
void wait_cancel_reset(void);

typedef enum WaitFlags {
        WAIT_CANCELLABLE = 0,
        WAIT_UNCANCELLABLE = 1 << 0,    /* a write is under way: it runs to its end */
} WaitFlags;

/* Waits until one of fds reports one of its events (revents set; entries
 * with a negative fd are ignored, as poll() does), until `until` (absolute
 * CLOCK_MONOTONIC; USEC_INFINITY: no limit) or cancellation. Returns the
 * number of fds with events (> 0), 0 when `until` came first, -ECANCELED,
 * or -errno when poll() fails. EINTR is waited through. */
int wait_for_fds(struct pollfd *fds, size_t n, usec_t until, WaitFlags flags);

/* Waits until `until`: 0, or -ECANCELED. */
int wait_until(usec_t until);

/* Waits usec from now, but not past deadline: 0 when the whole wait was
 * done, -ETIME when the deadline came first (it has passed when this
 * returns), -ECANCELED. */
int wait_for(usec_t usec, usec_t deadline);
