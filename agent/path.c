/* SPDX-License-Identifier: Apache-2.0 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "log.h"
#include "notify.h"
#include "path.h"
#include "wait.h"

static const char *const path_state_table[_PATH_STATE_MAX] = {
        [PATH_STATE_START] = "start",
        [PATH_STATE_FIND] = "find",
        [PATH_STATE_TAKE_OVER] = "take-over",
        [PATH_STATE_FORCE_DETACH] = "force-detach",
        [PATH_STATE_WAIT_RELEASE] = "wait-release",
        [PATH_STATE_ATTACH] = "attach",
        [PATH_STATE_WAIT_DEVICE] = "wait-device",
        [PATH_STATE_WAIT_LINK] = "wait-link",
        [PATH_STATE_WAIT_ATTACHED] = "wait-attached",
        [PATH_STATE_REATTACH] = "reattach",
        [PATH_STATE_RESTORE] = "restore",
        [PATH_STATE_UNMOUNT] = "unmount",
        [PATH_STATE_DETACH] = "detach",
        [PATH_STATE_WAIT_DETACHED] = "wait-detached",
        [PATH_STATE_ARRAY] = "array",
        [PATH_STATE_FILESYSTEM] = "filesystem",
        [PATH_STATE_TAG] = "tag",
        [PATH_STATE_ROUTING] = "routing",
        [PATH_STATE_CARRIER] = "carrier",
        [PATH_STATE_READ] = "read",
        [PATH_STATE_WAIT_VOLUME] = "wait-volume",
        [PATH_STATE_CHANGE] = "change",
        [PATH_STATE_INSYNC] = "insync",
        [PATH_STATE_GROUP] = "group",
        [PATH_STATE_HEARTBEAT] = "heartbeat",
        [PATH_STATE_LIFECYCLE] = "lifecycle",
        [PATH_STATE_CLOUDFORMATION] = "cloudformation",
        [PATH_STATE_DONE] = "done",
        [PATH_STATE_FAILED] = "failed",
};

const char *path_state_to_string(PathState s) {
        if ((unsigned) s >= _PATH_STATE_MAX || !path_state_table[s])
                return "unknown";
        return path_state_table[s];
}

void path_cancel_all(void) {
        wait_cancel_all();
}

bool path_cancelled(void) {
        return wait_cancelled();
}

/* Adds the time since the current state began to its phase. */
static void account(Path *p, usec_t t) {
        PathPhase *phase = NULL;

        if (p->started == 0) {
                p->started = p->state_started = t;
                return;
        }
        if (p->state == PATH_STATE_START || p->state == PATH_STATE_DONE || p->state == PATH_STATE_FAILED)
                goto next;

        for (unsigned i = 0; i < p->n_phases; i++)
                if (p->phases[i].state == p->state)
                        phase = &p->phases[i];
        if (!phase && p->n_phases < PATH_PHASES_MAX) {
                phase = &p->phases[p->n_phases++];
                *phase = (PathPhase) { .state = p->state };
        }
        if (phase && t > p->state_started)
                phase->usec += t - p->state_started;
next:
        p->state_started = t;
}

void path_transition(Path *p, PathState next, const char *format, ...) {
        _cleanup_free_ char *detail = NULL;
        PathState from = p->state;
        va_list ap;
        int r;

        account(p, now(CLOCK_MONOTONIC));
        p->state = next;

        va_start(ap, format);
        r = vasprintf(&detail, format, ap);
        va_end(ap);
        if (r < 0)
                detail = NULL;

        if (from == next)
                log_info("%s: %s: %s", p->name, path_state_to_string(next), strna(detail));
        else
                log_info("%s: %s -> %s: %s", p->name, path_state_to_string(from), path_state_to_string(next),
                         strna(detail));
        notify_status("%s: %s", p->name, strna(detail));
}

void path_finish(Path *p) {
        account(p, now(CLOCK_MONOTONIC));
}

int path_fail(Path *p, FailureKind kind, int error, const char *format, ...) {
        _cleanup_free_ char *detail = NULL;
        PathState failed_in = p->state;
        va_list ap;
        int r;

        /* %m in the format names the error, as in the log functions. */
        errno = abs(error);
        va_start(ap, format);
        r = vasprintf(&detail, format, ap);
        va_end(ap);
        if (r < 0)
                detail = NULL;

        account(p, now(CLOCK_MONOTONIC));
        p->failed_in = failed_in;
        p->state = PATH_STATE_FAILED;

        if (error == -ECANCELED || kind == FAILURE_CANCELLED || path_cancelled()) {
                p->failure = FAILURE_CANCELLED;
                p->error = -ECANCELED;
                log_info("%s: %s: stopped, another path failed.", p->name, path_state_to_string(failed_in));
                return -ECANCELED;
        }

        p->failure = error == -ETIME ? FAILURE_DEADLINE : kind == FAILURE_NONE ? FAILURE_OTHER : kind;
        p->error = error;
        notify_status("%s: failed: %s", p->name, strna(detail));
        return log_error_errno(error, "%s: %s failed: %s", p->name, path_state_to_string(failed_in),
                               strna(detail));
}

int path_fail_logged(Path *p, FailureKind kind, int error, const char *summary) {
        account(p, now(CLOCK_MONOTONIC));
        p->failed_in = p->state;
        p->state = PATH_STATE_FAILED;
        p->failure = kind;
        p->error = error;
        notify_status("%s: failed: %s", p->name, strna(summary));
        return error;
}

int path_format_phases(const Path *p, char **buf) {
        for (unsigned i = 0; i < p->n_phases; i++) {
                const PathPhase *phase = &p->phases[i];
                char *n;
                int r;

                /* Below a millisecond rounds to 0.00: noise, not a phase. */
                if (phase->usec < 5 * USEC_PER_MSEC)
                        continue;
                r = asprintf(&n, "%s%s%s.%s=%.2f", strempty(*buf), isempty(*buf) ? "" : " ", p->name,
                             path_state_to_string(phase->state), (double) phase->usec / (double) USEC_PER_SEC);
                if (r < 0)
                        return -ENOMEM;
                free(*buf);
                *buf = n;
        }
        return 0;
}
