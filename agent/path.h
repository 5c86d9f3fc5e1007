/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* A path of the boot sequence ("volume", "interface", "dns") and the one
 * function through which each of its steps changes, so that the journal and
 * systemctl status tell the story in order:
 *
 *   volume: find: Looking for vol-0123456789abcdef0.
 *   volume: attach: Attaching vol-0123456789abcdef0 as /dev/sdf.
 *   volume: wait-device: Waiting for the device with serial vol0123...
 */

#include "macro.h"
#include "time-util.h"

typedef struct Path {
        const char *name;
        const char *step;
        usec_t started;         /* CLOCK_MONOTONIC of the path's start */
        usec_t step_started;
} Path;

#define PATH_INIT(n) ((Path) { .name = (n), .step = "start" })

/* Moves p to step, logs the story line at info level and sends it as
 * STATUS= to systemd. */
void path_transition(Path *p, const char *step, const char *format, ...) _printf_(3, 4);

/* When one path fails, the others stop at their next wait rather than
 * finish work nobody will use: path_cancel_all() marks that, and the waits
 * (take_over_wait_for_poll(), the device and link waits) return -ECANCELED
 * once path_cancelled() says so. A step that writes (mkfs, fsck, a route)
 * is never interrupted. */
void path_cancel_all(void);
bool path_cancelled(void);

/* Logs a failure of the current step at error level, sends it as STATUS=,
 * and returns error (negative errno) for the caller to pass on. The
 * message is the last word; the caller does not log again. -ECANCELED (the
 * path stopped because another failed) is logged at info level only. */
int path_fail(Path *p, int error, const char *format, ...) _printf_(3, 4);
