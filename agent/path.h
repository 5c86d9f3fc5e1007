/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* A path of the boot ("volume", "volume:log", "interface", "dns", "signal")
 * and the one function through which each of its state changes goes, so
 * that the journal and systemctl status tell the story in order, in the
 * names of path-state.h:
 *
 *   volume: start -> find: Looking for the volume (Id=vol-0123456789abcdef0).
 *   volume: find -> attach: Attaching vol-0123456789abcdef0 as /dev/sdf.
 *   volume: attach -> wait-device: Waiting for the block device with serial vol0123...
 *
 * A path also keeps the time it spent in each state (its phases, for
 * NODEAGENT_BOOT_PHASES) and, when it failed, the kind of the failure,
 * from which the exit status comes (exit-status.h). */

#include "exit-status.h"
#include "macro.h"
#include "path-state.h"
#include "time-util.h"

#define PATH_PHASES_MAX 24

typedef struct PathPhase {
        PathState state;
        usec_t usec;
} PathPhase;

typedef struct Path {
        const char *name;
        PathState state;
        usec_t started;         /* CLOCK_MONOTONIC of the path's first transition */
        usec_t state_started;

        /* Time per state, in the order the states were first entered. */
        PathPhase phases[PATH_PHASES_MAX];
        unsigned n_phases;

        FailureKind failure;    /* FAILURE_NONE until path_fail() */
        PathState failed_in;    /* the state the failure met it in */
        int error;              /* what path_fail() was given */
} Path;

#define PATH_INIT(n) ((Path) { .name = (n), .state = PATH_STATE_START })

/* Moves p to next, logs the story line at info level ("name: from -> to:
 * detail", or "name: state: detail" when it stays) and sends it as STATUS=
 * to systemd. */
void path_transition(Path *p, PathState next, const char *format, ...) _printf_(3, 4);

/* Logs a failure of the current state at error level, sends it as STATUS=,
 * records kind (the exit status follows from it) and moves p to failed.
 * Returns error (negative errno) for the caller to pass on. The message is
 * the last word; the caller does not log again. A path stopped because
 * another failed (error -ECANCELED, or the boot already cancelled) is
 * logged at info level and recorded as FAILURE_CANCELLED; -ETIME is the
 * boot's deadline wherever it is met, so it is recorded as
 * FAILURE_DEADLINE. %m names error. */
int path_fail(Path *p, FailureKind kind, int error, const char *format, ...) _printf_(4, 5);

/* Records a failure that the module which met it has logged already (fs
 * explains its refusals itself): kind, error and the failed state, sends
 * summary as STATUS=, logs nothing. Returns error. */
int path_fail_logged(Path *p, FailureKind kind, int error, const char *summary);

/* Ends the accounting of the current state (at done, or when the boot
 * ends), so that its time is in the phases. */
void path_finish(Path *p);

/* "name.state=seconds" per phase, space-separated, appended to *buf (a
 * string that grows; NULL to start). States that took no measurable time
 * are left out. Returns 0 or -ENOMEM. */
int path_format_phases(const Path *p, char **buf);

/* When one path fails, the others stop at their next wait rather than
 * finish work nobody will use (wait.h); a write under way runs to its end. */
void path_cancel_all(void);
bool path_cancelled(void);
