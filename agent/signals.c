/* SPDX-License-Identifier: Apache-2.0 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "autoscaling.h"
#include "cloudformation.h"
#include "log.h"
#include "signals.h"

void signal_init(Signal *s, AwsClient *aws, const ConfigSignal *config, const char *instance_id) {
        bool cloudformation = config && config->cloudformation_stack && config->cloudformation_resource;
        bool lifecycle = config && !isempty(config->lifecycle_hook);

        *s = (Signal) {
                .aws = aws,
                .config = config,
                .instance_id = instance_id,
                .path = PATH_INIT("signal"),
                .cloudformation = cloudformation ? SIGNAL_SIDE_PENDING : SIGNAL_SIDE_NONE,
                .lifecycle = lifecycle ? SIGNAL_SIDE_PENDING : SIGNAL_SIDE_NONE,
                .next_heartbeat = USEC_INFINITY,
        };
}

void signal_done(Signal *s) {
        if (!s)
                return;
        s->group = mfree(s->group);
}

bool signal_enabled(const Signal *s) {
        return s->cloudformation != SIGNAL_SIDE_NONE || s->lifecycle != SIGNAL_SIDE_NONE;
}

/* " (Code: message)" of the AWS error reply, "" when there was none: the
 * code alone does not say much when it is ValidationError. NULL on OOM,
 * which the "%s" of strempty() survives. */
static char *error_detail(const AwsError *e) {
        char *s;

        if (!e || !e->code)
                return strdup("");
        if (asprintf(&s, " (%s%s%s)", e->code, e->message ? ": " : "", strempty(e->message)) < 0)
                return NULL;
        return s;
}

/* Logs a failed step once, at level: as an error it also becomes systemd's
 * STATUS= through the path, as a warning it stays in the log. The format
 * may use %m for error; the AWS error's detail is appended. */
static int signal_fail(Signal *s, int level, int error, const AwsError *aws_error, const char *format, ...)
        _printf_(5, 6);

static int signal_fail(Signal *s, int level, int error, const AwsError *aws_error, const char *format, ...) {
        _cleanup_free_ char *message = NULL, *detail = error_detail(aws_error);
        va_list ap;
        int r;

        errno = abs(error);
        va_start(ap, format);
        r = vasprintf(&message, format, ap);
        va_end(ap);
        if (r < 0)
                message = NULL;

        if (level <= LOG_ERR)
                return path_fail(&s->path, failure_kind_of_call(error), error, "%s%s", strna(message),
                                 strempty(detail));
        return log_full_errno(level, error, "%s: %s: %s%s", s->path.name, path_state_to_string(s->path.state),
                              strna(message), strempty(detail));
}

/* The group is needed for every lifecycle call; found once. */
static int ensure_group(Signal *s, int level, usec_t deadline) {
        _cleanup_(aws_error_done) AwsError error = {};
        int r;

        if (s->group)
                return 0;

        path_transition(&s->path, PATH_STATE_GROUP, "Looking up the Auto Scaling group of %s for lifecycle hook %s.",
                        s->instance_id, s->config->lifecycle_hook);
        r = autoscaling_find_group(s->aws, s->instance_id, deadline, &error, &s->group);
        if (r == -ENXIO)
                return signal_fail(s, level, r, NULL, "%s is in no Auto Scaling group, but [Signal] LifecycleHook=%s "
                                   "is set.", s->instance_id, s->config->lifecycle_hook);
        if (r < 0)
                return signal_fail(s, level, r, &error, "Failed to find the Auto Scaling group of %s (needed for "
                                   "lifecycle hook %s): %m", s->instance_id, s->config->lifecycle_hook);
        return 0;
}

/* Logs that no lifecycle action waits, at the level the situation deserves,
 * and ends the lifecycle side: there is nothing to heartbeat or complete. */
static void lifecycle_nobody_waits(Signal *s, int level, const char *when) {
        log_full(level, "signal: lifecycle: No lifecycle action of hook %s waits for %s in %s %s (completed "
                 "already, timed out, or the instance was not launched through this hook); nothing to complete.",
                 s->config->lifecycle_hook, s->instance_id, s->group, when);
        s->lifecycle = SIGNAL_SIDE_DONE;
        s->next_heartbeat = USEC_INFINITY;
}

static int record_heartbeat(Signal *s, usec_t deadline, bool first) {
        _cleanup_(aws_error_done) AwsError error = {};
        int r;

        /* Counted from the attempt, not its success, so that a failing
         * Auto Scaling is asked once an interval rather than in a loop. */
        s->next_heartbeat = usec_add(now(CLOCK_MONOTONIC), SIGNAL_HEARTBEAT_INTERVAL_USEC);

        r = autoscaling_record_heartbeat(s->aws, s->group, s->config->lifecycle_hook, s->instance_id, deadline,
                                         &error);
        if (r == -ESRCH) {
                /* At the start this is news (a restart after success, a
                 * wrong hook name); in the middle of the boot it means the
                 * action timed out and Auto Scaling has moved on. */
                lifecycle_nobody_waits(s, first ? LOG_NOTICE : LOG_WARNING, first ? "at the start" : "any more");
                return 0;
        }
        if (r < 0)
                return signal_fail(s, LOG_WARNING, r, &error, "Failed to record a heartbeat for lifecycle hook %s "
                                   "of %s in %s: %m", s->config->lifecycle_hook, s->instance_id, s->group);
        log_debug("signal: heartbeat: Recorded a heartbeat for lifecycle hook %s of %s in %s.",
                  s->config->lifecycle_hook, s->instance_id, s->group);
        return 0;
}

int signal_start(Signal *s, usec_t deadline) {
        int r;

        if (s->cloudformation == SIGNAL_SIDE_PENDING)
                log_info("signal: start: Will signal %s in stack %s when %s is ready or has failed.",
                         s->config->cloudformation_resource, s->config->cloudformation_stack, s->instance_id);

        if (s->lifecycle != SIGNAL_SIDE_PENDING)
                return 0;

        r = ensure_group(s, LOG_ERR, deadline);
        if (r < 0)
                return r;
        path_transition(&s->path, PATH_STATE_HEARTBEAT, "Lifecycle hook %s of %s in %s: heartbeats until ready, then "
                        "CONTINUE (ABANDON on failure).", s->config->lifecycle_hook, s->instance_id, s->group);
        (void) record_heartbeat(s, deadline, true);
        return 0;
}

bool signal_heartbeat_due(const Signal *s, usec_t now_usec) {
        return s->lifecycle == SIGNAL_SIDE_PENDING && s->group && now_usec >= s->next_heartbeat;
}

usec_t signal_heartbeat_next(const Signal *s) {
        if (s->lifecycle != SIGNAL_SIDE_PENDING || !s->group)
                return USEC_INFINITY;
        return s->next_heartbeat;
}

int signal_heartbeat(Signal *s, usec_t deadline) {
        /* Without a group signal_start() failed and said so already. */
        if (s->lifecycle != SIGNAL_SIDE_PENDING || !s->group)
                return 0;
        return record_heartbeat(s, deadline, false);
}

/* Completes the lifecycle action with result; a failure is logged at level
 * and returned. */
static int complete_lifecycle(Signal *s, LifecycleActionResult result, int level, const char *consequence,
                              usec_t deadline) {
        _cleanup_(aws_error_done) AwsError error = {};
        const char *what = lifecycle_action_result_to_string(result);
        int r;

        if (s->lifecycle != SIGNAL_SIDE_PENDING)
                return 0;
        r = ensure_group(s, level, deadline);
        if (r < 0)
                return r;

        path_transition(&s->path, PATH_STATE_LIFECYCLE, "Completing lifecycle hook %s of %s in %s with %s.",
                        s->config->lifecycle_hook, s->instance_id, s->group, what);
        r = autoscaling_complete_lifecycle_action(s->aws, s->group, s->config->lifecycle_hook, s->instance_id,
                                                  result, deadline, &error);
        if (r == -ESRCH) {
                lifecycle_nobody_waits(s, LOG_NOTICE, "now");
                return 0;
        }
        if (r < 0)
                return signal_fail(s, level, r, &error, "Failed to complete lifecycle hook %s of %s in %s with %s%s: %m",
                                   s->config->lifecycle_hook, s->instance_id, s->group, what, consequence);
        log_info("signal: lifecycle: Auto Scaling accepted %s for %s.", what, s->instance_id);
        s->lifecycle = SIGNAL_SIDE_DONE;
        s->next_heartbeat = USEC_INFINITY;
        return 0;
}

/* Signals SUCCESS or FAILURE; a failure is logged at level and returned. */
static int signal_cloudformation(Signal *s, bool success, int level, const char *consequence, usec_t deadline) {
        _cleanup_(aws_error_done) AwsError error = {};
        const char *stack, *resource, *what = success ? "SUCCESS" : "FAILURE";
        int r;

        if (s->cloudformation != SIGNAL_SIDE_PENDING)
                return 0;
        stack = s->config->cloudformation_stack;
        resource = s->config->cloudformation_resource;

        path_transition(&s->path, PATH_STATE_CLOUDFORMATION, "Signalling %s to %s in stack %s for %s.", what, resource,
                        stack, s->instance_id);
        r = cloudformation_signal_resource(s->aws, stack, resource, s->instance_id, success, deadline, &error);
        if (r == -EALREADY)
                log_info("signal: cloudformation: %s in %s already has the signal of %s; nothing to send (%s).",
                         resource, stack, s->instance_id, strna(error.message));
        else if (r == -ESRCH)
                /* The usual answer outside a stack operation: this instance
                 * replaces one that failed, long after the stack was made. */
                log_info("signal: cloudformation: %s in %s waits for no signal; nothing to send (%s).", resource,
                         stack, strna(error.message));
        else if (r < 0)
                return signal_fail(s, level, r, &error, "Failed to signal %s to %s in stack %s%s: %m", what,
                                   resource, stack, consequence);
        else
                log_info("signal: cloudformation: CloudFormation accepted %s for %s from %s.", what, resource,
                         s->instance_id);
        s->cloudformation = SIGNAL_SIDE_DONE;
        return 0;
}

int signal_success(Signal *s, usec_t deadline) {
        int r, ret;

        /* Both are tried, whatever the first did: each undoes the boot on
         * its own when it is not sent. */
        ret = complete_lifecycle(s, LIFECYCLE_ACTION_CONTINUE, LOG_ERR,
                                 " (Auto Scaling applies the hook's default result when it times out)", deadline);
        r = signal_cloudformation(s, true, LOG_ERR, " (the stack operation times out and rolls back)", deadline);
        return ret < 0 ? ret : r;
}

void signal_failure(Signal *s, usec_t deadline) {
        (void) signal_cloudformation(s, false, LOG_WARNING, "", deadline);
        (void) complete_lifecycle(s, LIFECYCLE_ACTION_ABANDON, LOG_WARNING, "", deadline);
}
