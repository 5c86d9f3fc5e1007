/* SPDX-License-Identifier: Apache-2.0 */
#include <stdlib.h>

#include "ec2.h"
#include "log.h"
#include "notify.h"
#include "takeover.h"

#define POLL_FIRST_USEC (1 * USEC_PER_SEC)
#define POLL_MAX_USEC (10 * USEC_PER_SEC)

usec_t take_over_next_interval(usec_t interval, usec_t cap) {
        return MIN(interval + interval / 2, cap);
}

int take_over_wait_for_poll(usec_t deadline, usec_t interval) {
        usec_t left = usec_left(deadline);

        if (path_cancelled())
                return -ECANCELED;
        if (left == 0)
                return -ETIME;
        notify_extend_timeout(2 * interval + 30 * USEC_PER_SEC);
        sleep_usec(MIN(interval, left));
        return 0;
}

bool take_over_holder_is_dead(const char *state) {
        return streq_ptr(state, "stopped") || streq_ptr(state, "terminated") ||
               streq_ptr(state, "shutting-down");
}

/* The holder's state as EC2 reports it; "terminated" when EC2 no longer
 * knows the instance (it is long gone). */
static int holder_state(const TakeOver *t, const char *holder, char **ret) {
        _cleanup_(aws_error_done) AwsError error = {};
        const char *ids[] = { holder, NULL };
        Ec2Instance *instances = NULL;
        size_t n = 0;
        int r;

        r = ec2_describe_instances(t->aws, ids, NULL, 0, false, t->deadline, &error, &instances, &n);
        if (r == -ENOENT || (r >= 0 && n == 0)) {
                ec2_instances_free(instances, n);
                *ret = strdup("terminated");
                return *ret ? 0 : -ENOMEM;
        }
        if (r < 0)
                return path_fail(t->path, r, "Failed to describe instance %s: %s%s%m", holder, strempty(error.code),
                                 error.code ? ": " : "");
        *ret = strdup(instances[0].state ?: "unknown");
        ec2_instances_free(instances, n);
        return *ret ? 0 : -ENOMEM;
}

int take_over_run(const TakeOver *t, const TakeOverTarget *target) {
        usec_t give_up = usec_add(now(CLOCK_MONOTONIC), t->timeout);
        usec_t interval = t->poll_first ?: POLL_FIRST_USEC;
        bool forced = false;
        int r;

        for (;;) {
                _cleanup_free_ char *state = NULL;
                TakeOverView v = {};

                target->view(target->userdata, &v);
                if (!v.holder && !v.busy)
                        return 0;

                if (v.holder && t->policy == TAKE_OVER_FORCE_DETACH_DEAD && !forced) {
                        r = holder_state(t, v.holder, &state);
                        if (r < 0)
                                return r;
                        if (take_over_holder_is_dead(state)) {
                                path_transition(t->path, "take-over", "Force-detaching %s from %s, which is %s.",
                                                target->id, v.holder, state);
                                r = target->force_detach(target->userdata, v.holder);
                                if (r < 0)
                                        return r;
                                forced = true;
                        } else
                                log_info("%s: take-over: %s holds %s and is %s: never force-detached from a live "
                                         "instance; waiting.", t->path->name, v.holder, target->id, strna(state));
                }

                if (v.holder && now(CLOCK_MONOTONIC) >= give_up)
                        return path_fail(t->path, -EBUSY, "The %s %s is still held by %s (%s) after "
                                         "TakeOverTimeout=%s.", target->what, target->id, v.holder,
                                         strna(v.attachment_state), FORMAT_DURATION(t->timeout));

                if (v.holder)
                        path_transition(t->path, "take-over", "The %s %s is held by %s (%s); waiting for it to "
                                        "be released (up to %s more).", target->what, target->id, v.holder,
                                        strna(v.attachment_state), FORMAT_DURATION(usec_left(give_up)));

                r = take_over_wait_for_poll(t->deadline, v.holder ? MIN(interval, usec_left(give_up) +
                                                                         USEC_PER_MSEC) : interval);
                if (r < 0)
                        return path_fail(t->path, r, "The deadline passed while the %s %s was %s.",
                                         target->what, target->id, v.holder ? "held by another instance" :
                                         "being released");
                interval = take_over_next_interval(interval, POLL_MAX_USEC);

                r = target->describe(target->userdata);
                if (r < 0)
                        return r;
        }
}
