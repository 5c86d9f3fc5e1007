/* SPDX-License-Identifier: Apache-2.0 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "attach.h"
#include "attach-internal.h"
#include "backoff.h"
#include "handover.h"
#include "log.h"
#include "notify.h"
#include "wait.h"

/* EC2 is asked again about every second at first, then less often: an
 * attach takes seconds, a predecessor's release up to minutes. */
#define POLL_FIRST_USEC (1 * USEC_PER_SEC)
#define POLL_MAX_USEC (5 * USEC_PER_SEC)
#define TAKE_OVER_POLL_MAX_USEC (10 * USEC_PER_SEC)
/* An attach still "attaching" after this is detached and tried once more:
 * EBS's documented remedy for an attachment stuck in that state. */
#define STUCK_AFTER_USEC (90 * USEC_PER_SEC)
/* Attaches lost in a row to another instance before giving up. */
#define TAKEN_AWAY_MAX 4U

static AttachTiming timing;

void attach_set_timing(const AttachTiming *t) {
        timing = t ? *t : (AttachTiming) {};
}

/* One poll policy per kind of wait, built from the timing in effect. */
static BackoffPolicy poll_policy(PathState state);

BackoffPolicy attach_poll_policy(void) {
        return poll_policy(PATH_STATE_TAKE_OVER);
}

static BackoffPolicy poll_policy(PathState state) {
        return (BackoffPolicy) {
                .initial = timing.poll_first ?: POLL_FIRST_USEC,
                .max = timing.poll_max ?: (state == PATH_STATE_TAKE_OVER ? TAKE_OVER_POLL_MAX_USEC : POLL_MAX_USEC),
                .growth_percent = 150,
        };
}

static usec_t stuck_after(void) {
        return timing.stuck_after ?: STUCK_AFTER_USEC;
}

bool attach_holder_is_dead(const char *state) {
        return streq_ptr(state, "stopped") || streq_ptr(state, "terminated");
}

/* A new instance is "pending" for its first seconds, and EC2 refuses to
 * attach to it (AttachVolume: "Instance 'i-...' is not 'running'.";
 * AttachNetworkInterface: "The pending instance 'i-...' is not in a valid
 * state for this operation."): a wait, not a race for the resource. */
static const BackoffPolicy not_running_policy = {
        .initial = 1 * USEC_PER_SEC,
        .max = 10 * USEC_PER_SEC,
        .growth_percent = 150,
        .jitter = true,
};

/* Every change of state goes through here: the story line (path.h). */
void attach_transition(Attach *a, PathState next, const char *format, ...) {
        _cleanup_free_ char *line = NULL;
        va_list ap;
        int r;

        va_start(ap, format);
        r = vasprintf(&line, format, ap);
        va_end(ap);
        path_transition(a->path, next, "%s", r < 0 ? "(out of memory)" : line);
}

/* An AWS call's failure: its kind follows from its return value (aws.h). */
static int fail_call(Attach *a, int r, const AwsError *e, const char *what) {
        return path_fail(a->path, failure_kind_of_call(r), r, "%s %s: %s%s%s", what, a->id ?: "",
                         strempty(e->code), e->code ? ": " : "", e->message ?: strerror(-r));
}

/* A detach answered "not attached" (already detached, or detaching): the
 * detach has nothing left to do, which is what it wanted. */
static bool detach_already_done(const AwsError *e) {
        return streq_ptr(e->code, "IncorrectState") || streq_ptr(e->code, "InvalidAttachment.NotFound") ||
               streq_ptr(e->code, "InvalidAttachmentID.NotFound");
}

static AttachView view_of(const Attach *a) {
        AttachView v = {};

        a->ops->view(a, &v);
        return v;
}

AttachMine attach_mine(const Attach *a) {
        return view_of(a).mine;
}

/* The state a description calls for. goal: the state that ends the run
 * (the kind's local wait, or wait-attached). */
static PathState decide(const Attach *a, PathState goal) {
        AttachView v = view_of(a);

        switch (v.mine) {
        case ATTACH_MINE_ATTACHING:
        case ATTACH_MINE_ATTACHED:
                return goal;
        case ATTACH_MINE_DETACHING:
                return PATH_STATE_WAIT_RELEASE;
        case ATTACH_MINE_NONE:
        default:
                return v.holder || v.busy ? PATH_STATE_TAKE_OVER : PATH_STATE_ATTACH;
        }
}

/* Waits for the next poll of EC2, telling systemd the wait is on purpose
 * (a deliberate wait must not be killed by TimeoutStartSec=). */
int attach_wait_poll(Attach *a, Backoff *poll, usec_t not_after) {
        usec_t interval = backoff_next(poll);
        usec_t until = MIN(usec_add(now(CLOCK_MONOTONIC), interval), not_after);
        int r;

        notify_extend_timeout(2 * interval + 30 * USEC_PER_SEC);
        r = wait_until(MIN(until, a->deadline));
        if (r < 0)
                return r;
        return usec_left(a->deadline) == 0 ? -ETIME : 0;
}

/* The holder's EC2 state; "terminated" when EC2 no longer knows it. */
/* The holder's private address, for the handover's prompt; NULL when EC2
 * does not say. */
static char *holder_ip(Attach *a, const char *holder) {
        const char *ids[] = { holder, NULL };
        Ec2Instance *instances = NULL;
        char *ip = NULL;
        size_t n = 0;

        if (ec2_describe_instances(a->aws, ids, NULL, 0, false, a->deadline, NULL, &instances, &n) >= 0 && n > 0 &&
            instances[0].private_ip)
                ip = strdup(instances[0].private_ip);
        ec2_instances_free(instances, n);
        return ip;
}

/* TakeOver=handover: asks a live holder to let go. The tag is the request
 * (once); the prompt makes the holder look now (at every poll: a datagram
 * may be lost). Never a reason to fail: a holder that does not answer is
 * waited for as TakeOver=wait does. */
static void ask_holder(Attach *a, const char *holder) {
        _cleanup_free_ char *ip = NULL;
        int r;

        if (!a->handover_asked) {
                _cleanup_(aws_error_done) AwsError e = {};
                const char *ids[] = { a->id, NULL };
                Ec2Tag tag = { .key = (char *) HANDOVER_TAG_TO, .value = (char *) a->instance_id };

                attach_transition(a, PATH_STATE_TAKE_OVER, "Asking %s to hand %s over (%s=%s).", holder, a->id,
                                  HANDOVER_TAG_TO, a->instance_id);
                r = ec2_create_tags(a->aws, ids, &tag, 1, false, a->deadline, &e);
                if (r < 0)
                        log_warning_errno(r, "%s: take-over: Failed to tag %s %s: %s%s%m; waiting for %s as "
                                          "TakeOver=wait would.", a->path->name, a->id, HANDOVER_TAG_TO,
                                          strempty(e.code), e.code ? ": " : "", holder);
                a->handover_asked = true;
        }
        ip = holder_ip(a, holder);
        r = ip ? handover_prompt(ip, a->instance_id, a->node_name) : -EADDRNOTAVAIL;
        if (r < 0)
                log_debug_errno(r, "%s: take-over: no prompt to %s (%s): %m", a->path->name, holder, strna(ip));
}

int attach_instance_state(Attach *a, const char *holder, char **ret) {
        _cleanup_(aws_error_done) AwsError e = {};
        const char *ids[] = { holder, NULL };
        Ec2Instance *instances = NULL;
        size_t n = 0;
        int r;

        r = ec2_describe_instances(a->aws, ids, NULL, 0, false, a->deadline, &e, &instances, &n);
        if (r == -ENOENT || (r >= 0 && n == 0)) {
                ec2_instances_free(instances, n);
                *ret = strdup("terminated");
                return *ret ? 0 : log_oom();
        }
        if (r < 0)
                return path_fail(a->path, failure_kind_of_call(r), r, "Failed to describe instance %s: %s%s%m", holder,
                                 strempty(e.code), e.code ? ": " : "");
        *ret = strdup(instances[0].state ?: "unknown");
        ec2_instances_free(instances, n);
        return *ret ? 0 : log_oom();
}

/* Force-detaches from a holder EC2 reports as dead. 1 when it did, 0 when
 * the holder lives (never force-detached: it may still be writing). */
static int force_detach_if_dead(Attach *a, const char *holder) {
        _cleanup_(aws_error_done) AwsError e = {};
        _cleanup_free_ char *state = NULL;
        int r;

        r = attach_instance_state(a, holder, &state);
        if (r < 0)
                return r;
        if (!attach_holder_is_dead(state)) {
                if (!a->holder_seen_alive)
                        log_info("%s: take-over: %s holds %s and is %s: never force-detached from a live "
                                 "instance; waiting.", a->path->name, holder, a->id, strna(state));
                a->holder_seen_alive = true;
                return 0;
        }

        attach_transition(a, PATH_STATE_FORCE_DETACH, "Force-detaching %s from %s, which is %s.", a->id, holder,
                          state);
        r = a->ops->detach(a, holder, true, &e);
        if (r < 0 && !detach_already_done(&e))
                return fail_call(a, r, &e, "Failed to force-detach");
        a->force_detached = true;
        return 1;
}

/* TakeOver=handover, the resource free after our request: it goes to the
 * newest running instance of the node only, as the holder judges (two
 * requesters at once: the older one would otherwise race the newer one
 * for each resource, and they could split the node). 1 and *ret when a
 * newer one exists: this boot leaves it alone; 0, or a negative errno when
 * EC2 could not say (then it attaches, as a boot without handover would). */
static int leave_to_newer(Attach *a, const AttachView *v, char **ret) {
        if (a->take_over != TAKE_OVER_HANDOVER || !a->handover_asked || v->mine != ATTACH_MINE_NONE || v->holder ||
            v->busy)
                return 0;
        return handover_newer_requester(a->aws, a->instance_id, a->node_name, a->deadline, ret);
}

/* Waits once for a resource left to a newer instance: 0, or a failure. */
static int wait_for_newer(Attach *a, Backoff *poll, usec_t give_up, const char *newer) {
        int r;

        if (now(CLOCK_MONOTONIC) >= give_up)
                return path_fail(a->path, FAILURE_UNUSABLE, -EBUSY, "The %s %s was left to %s, a newer instance of "
                                 "node %s, for TakeOverTimeout=%s: only the newest instance gets a node handed "
                                 "over.", a->ops->what, a->id, newer, a->node_name,
                                 FORMAT_DURATION(a->take_over_timeout));
        attach_transition(a, PATH_STATE_TAKE_OVER, "The %s %s is free, but %s is a newer instance of node %s: leaving "
                          "it to that one (up to %s more).", a->ops->what, a->id, newer, a->node_name,
                          FORMAT_DURATION(usec_left(give_up)));
        r = attach_wait_poll(a, poll, usec_add(give_up, USEC_PER_MSEC));
        if (r < 0)
                return path_fail(a->path, FAILURE_DEADLINE, r, "The deadline passed while the %s %s was left to %s.",
                                 a->ops->what, a->id, newer);
        return attach_describe(a);
}

/* take-over: another instance holds the resource. Waits, with backoff,
 * until it lets go, for at most TakeOverTimeout; force-detaches a dead
 * holder under TakeOver=force-detach-dead. */
static int step_take_over(Attach *a, PathState goal) {
        BackoffPolicy policy = poll_policy(PATH_STATE_TAKE_OVER);
        Backoff poll = BACKOFF_INIT(&policy);
        usec_t give_up = usec_add(now(CLOCK_MONOTONIC), a->take_over_timeout);
        int r;

        for (;;) {
                AttachView v = view_of(a);
                _cleanup_free_ char *newer = NULL;

                r = leave_to_newer(a, &v, &newer);
                if (r == -ECANCELED)
                        return path_fail(a->path, FAILURE_CANCELLED, r, "Cancelled.");
                if (r > 0) {
                        r = wait_for_newer(a, &poll, give_up, newer);
                        if (r < 0)
                                return r;
                        continue;
                }
                if (v.mine != ATTACH_MINE_NONE || (!v.holder && !v.busy))
                        return decide(a, goal);

                if (v.holder && a->take_over == TAKE_OVER_HANDOVER && !isempty(a->node_name))
                        ask_holder(a, v.holder);

                if (v.holder && a->take_over == TAKE_OVER_FORCE_DETACH_DEAD && !a->force_detached) {
                        r = force_detach_if_dead(a, v.holder);
                        if (r < 0)
                                return r;
                        if (r > 0) {
                                /* What EC2 says now, not before the detach. */
                                r = attach_describe(a);
                                if (r < 0)
                                        return r;
                                continue;
                        }
                }

                if (v.holder && now(CLOCK_MONOTONIC) >= give_up)
                        return path_fail(a->path, FAILURE_UNUSABLE, -EBUSY, "The %s %s is still held by %s (%s) after "
                                         "TakeOverTimeout=%s.", a->ops->what, a->id, v.holder,
                                         strna(v.holder_state), FORMAT_DURATION(a->take_over_timeout));
                if (v.holder)
                        attach_transition(a, PATH_STATE_TAKE_OVER, "The %s %s is held by %s (%s); waiting for it "
                                          "to be released (up to %s more).", a->ops->what, a->id, v.holder,
                                          strna(v.holder_state), FORMAT_DURATION(usec_left(give_up)));
                else
                        attach_transition(a, PATH_STATE_TAKE_OVER, "The %s %s is being released.", a->ops->what,
                                          a->id);

                r = attach_wait_poll(a, &poll, v.holder ? usec_add(give_up, USEC_PER_MSEC) : USEC_INFINITY);
                if (r < 0)
                        return path_fail(a->path, FAILURE_DEADLINE, r, "The deadline passed while the %s %s was %s.",
                                         a->ops->what, a->id, v.holder ? "held by another instance" :
                                         "being released");
                r = attach_describe(a);
                if (r < 0)
                        return r;
        }
}

/* wait-release: our own attachment is on its way out (an earlier detach,
 * or the one retry of a stuck attach): it ends before we attach again. */
static int step_wait_release(Attach *a, PathState goal) {
        BackoffPolicy policy = poll_policy(PATH_STATE_WAIT_RELEASE);
        Backoff poll = BACKOFF_INIT(&policy);
        int r;

        attach_transition(a, PATH_STATE_WAIT_RELEASE, "Our own attachment of %s is detaching; waiting for it to "
                          "end before attaching again.", a->id);
        while (view_of(a).mine == ATTACH_MINE_DETACHING) {
                r = attach_wait_poll(a, &poll, USEC_INFINITY);
                if (r < 0)
                        return path_fail(a->path, FAILURE_DEADLINE, r, "The deadline passed while %s was detaching "
                                         "from this instance.", a->id);
                r = attach_describe(a);
                if (r < 0)
                        return r;
        }
        return decide(a, goal);
}

static bool code_means_in_use(const char *code) {
        return streq_ptr(code, "VolumeInUse") || streq_ptr(code, "IncorrectState") ||
               (code && startswith(code, "InvalidNetworkInterface.InUse"));
}

static bool code_means_unusable(const char *code) {
        return streq_ptr(code, "InvalidVolume.ZoneMismatch") || streq_ptr(code, "InvalidParameterCombination");
}

/* What an attach's refusal means. EC2 uses IncorrectState both for "this
 * instance is not running yet" and for "the resource is busy", and
 * InvalidParameterValue both for a device name in use and for a device
 * index in use: the message tells them apart. */
typedef enum AttachRefusal {
        REFUSAL_IN_USE,                 /* someone (maybe us: a lost reply) holds it: look again */
        REFUSAL_NOT_RUNNING,            /* this instance is still pending: wait, attach again */
        REFUSAL_NAME_TAKEN,             /* the device name is in use here */
        REFUSAL_INDEX_TAKEN,            /* the ENI's device index is in use here */
        REFUSAL_LIMIT,                  /* the instance's attachment limit is reached */
        REFUSAL_UNUSABLE,               /* another zone, or not attachable to this instance */
        REFUSAL_OTHER,
} AttachRefusal;

/* IncorrectInstanceState is about the instance by its name; IncorrectState
 * is about the instance only when the message says so (it is also what a
 * busy volume answers). */
static bool refusal_is_not_running(const AwsError *e) {
        const char *m = strempty(e->message);

        if (streq_ptr(e->code, "IncorrectInstanceState"))
                return true;
        if (!streq_ptr(e->code, "IncorrectState"))
                return false;
        return strstr(m, "is not 'running'") || (strstr(m, "instance") && strstr(m, "not in a valid state"));
}

static AttachRefusal refusal_of(const AwsError *e) {
        const char *m = strempty(e->message);

        if (refusal_is_not_running(e))
                return REFUSAL_NOT_RUNNING;
        if (streq_ptr(e->code, "InvalidParameterValue") && strstr(m, "already in use"))
                return REFUSAL_NAME_TAKEN;
        if (streq_ptr(e->code, "InvalidParameterValue") && strstr(m, "already has an interface attached"))
                return REFUSAL_INDEX_TAKEN;
        if (streq_ptr(e->code, "AttachmentLimitExceeded"))
                return REFUSAL_LIMIT;
        if (code_means_in_use(e->code))
                return REFUSAL_IN_USE;
        if (code_means_unusable(e->code))
                return REFUSAL_UNUSABLE;
        return REFUSAL_OTHER;
}

/* "in use": the resource turns out to be attached here already (a retry
 * after a lost reply), or someone else got it first. */
static int attach_found_in_use(Attach *a, PathState goal) {
        AttachMine mine;
        int r;

        r = attach_describe(a);
        if (r < 0)
                return r;
        mine = view_of(a).mine;
        if (mine == ATTACH_MINE_ATTACHING || mine == ATTACH_MINE_ATTACHED) {
                log_info("%s: attach: %s is attached here already (an earlier attempt went through).", a->path->name,
                         a->id);
                a->attached_at = now(CLOCK_MONOTONIC);
                return goal;
        }
        if (++a->taken_away >= TAKEN_AWAY_MAX)
                return path_fail(a->path, FAILURE_UNUSABLE, -EBUSY, "%s %s keeps being taken by another instance.",
                                 a->ops->what_title, a->id);
        return decide(a, goal);
}

/* This instance is not "running" yet: attach again after a wait, until the
 * deadline. */
static int attach_when_running(Attach *a, const AwsError *e) {
        usec_t wait;
        int r;

        if (!a->not_running.policy)
                a->not_running = BACKOFF_INIT(&not_running_policy);
        r = backoff_wait(&a->not_running, false, a->deadline, &wait);
        if (r == -ETIME)
                return path_fail(a->path, FAILURE_DEADLINE, r, "This instance was still not running at the deadline "
                                 "(EC2: %s).", strna(e->message));
        if (r < 0)
                return path_fail(a->path, FAILURE_CANCELLED, r, "Cancelled.");
        log_info("%s: attach: this instance is not running yet (EC2: %s); attached again after %s.", a->path->name,
                 strna(e->message), FORMAT_DURATION(wait));
        return PATH_STATE_ATTACH;
}

/* attach: the Attach call, and what its refusal means. */
static int step_attach(Attach *a, PathState goal) {
        _cleanup_(aws_error_done) AwsError e = {};
        int r;

        attach_transition(a, PATH_STATE_ATTACH, "Attaching %s %s.", a->id, a->ops->where(a));
        r = a->ops->attach(a, &e);
        if (r >= 0) {
                a->attached_at = now(CLOCK_MONOTONIC);
                a->taken_away = 0;
                /* Pick up the attachment EC2 now reports. */
                r = attach_describe(a);
                return r < 0 ? r : (int) goal;
        }
        if (a->path->state == PATH_STATE_FAILED)
                /* The kind failed before the call, and said why. */
                return r;

        switch (refusal_of(&e)) {
        case REFUSAL_IN_USE:
                return attach_found_in_use(a, goal);
        case REFUSAL_NOT_RUNNING:
                return attach_when_running(a, &e);
        case REFUSAL_NAME_TAKEN:
                if (!a->ops->name_refused)
                        break;
                r = a->ops->name_refused(a, &e);
                return r < 0 ? r : PATH_STATE_ATTACH;
        case REFUSAL_INDEX_TAKEN:
                return path_fail(a->path, FAILURE_UNUSABLE, -EADDRINUSE, "%s %s cannot be attached %s: another "
                                 "interface is there (EC2: %s). Choose a free DeviceIndex= (or NetworkCardIndex=).",
                                 a->ops->what_title, a->id, a->ops->where(a), strna(e.message));
        case REFUSAL_LIMIT:
                return path_fail(a->path, FAILURE_UNUSABLE, -EDQUOT, "%s %s cannot be attached: this instance has "
                                 "reached its attachment limit (%s: %s). On Nitro instances EBS volumes and network "
                                 "interfaces share one limit per instance type; choose a larger type or attach "
                                 "fewer.", a->ops->what_title, a->id, e.code, strna(e.message));
        case REFUSAL_UNUSABLE:
                return path_fail(a->path, FAILURE_UNUSABLE, -EXDEV, "%s %s cannot be attached here: %s",
                                 a->ops->what_title, a->id, strna(e.message));
        case REFUSAL_OTHER:
        default:
                break;
        }
        return fail_call(a, r, &e, "Failed to attach");
}

/* reattach: the one more try of an attach that EC2 dropped or that is
 * stuck "attaching". */
static int step_reattach(Attach *a, PathState goal, bool stuck) {
        _cleanup_(aws_error_done) AwsError e = {};
        int r;

        a->reattached = true;
        if (!stuck) {
                attach_transition(a, PATH_STATE_REATTACH, "EC2 no longer lists %s as attached here; attaching "
                                  "again.", a->id);
                return decide(a, goal);
        }

        attach_transition(a, PATH_STATE_REATTACH, "%s is stuck in \"attaching\" after %s; detaching and attaching "
                          "once more.", a->id, FORMAT_DURATION(stuck_after()));
        r = a->ops->detach(a, a->instance_id, false, &e);
        if (r < 0 && !detach_already_done(&e))
                return fail_call(a, r, &e, "Failed to detach the stuck");
        r = attach_describe(a);
        return r < 0 ? r : (int) decide(a, goal);
}

/* wait-device / wait-link: waits for the resource to show up here, the
 * kind's watch open all along, while EC2 is polled beside it to notice an
 * attach that failed or is stuck. The arrival is the proof. */
static int step_wait_local(Attach *a, PathState goal) {
        BackoffPolicy policy = poll_policy(goal);
        Backoff poll = BACKOFF_INIT(&policy);
        _cleanup_free_ char *name = a->ops->local_name(a);
        int r;

        attach_transition(a, goal, "Waiting for %s.", strna(name));
        if (a->ops->while_attaching && !a->while_attaching_done) {
                a->while_attaching_done = true;
                r = a->ops->while_attaching(a);
                if (r < 0)
                        return r;
        }

        for (;;) {
                AttachView v;
                usec_t until = MIN(usec_add(now(CLOCK_MONOTONIC), backoff_next(&poll)), a->deadline);

                r = a->ops->wait_local(a, until);
                if (r > 0)
                        return PATH_STATE_DONE;
                if (r == -ECANCELED)
                        return path_fail(a->path, FAILURE_CANCELLED, r, "Cancelled.");
                if (r < 0)
                        return path_fail(a->path, FAILURE_OTHER, r, "Failed to watch for %s: %m", strna(name));
                if (usec_left(a->deadline) == 0) {
                        v = view_of(a);
                        return path_fail(a->path, FAILURE_DEADLINE, -ETIME, "%s did not appear before the deadline "
                                         "(EC2 says %s).", strna(name),
                                         v.mine == ATTACH_MINE_NONE ? "not attached" :
                                         v.mine == ATTACH_MINE_ATTACHING ? "attaching" :
                                         v.mine == ATTACH_MINE_ATTACHED ? "attached" : "detaching");
                }

                r = attach_describe(a);
                if (r < 0)
                        return r;
                v = view_of(a);
                if (v.mine == ATTACH_MINE_NONE || v.mine == ATTACH_MINE_DETACHING) {
                        if (a->reattached)
                                return path_fail(a->path, FAILURE_OTHER, -EIO, "The attachment of %s failed twice.",
                                                 a->id);
                        return step_reattach(a, goal, false);
                }
                if (v.mine == ATTACH_MINE_ATTACHING && !a->reattached &&
                    now(CLOCK_MONOTONIC) - a->attached_at >= stuck_after())
                        return step_reattach(a, goal, true);
        }
}

/* wait-attached (--attach-only): EC2's word is the goal. */
static int step_wait_attached(Attach *a) {
        BackoffPolicy policy = poll_policy(PATH_STATE_WAIT_ATTACHED);
        Backoff poll = BACKOFF_INIT(&policy);
        int r;

        attach_transition(a, PATH_STATE_WAIT_ATTACHED, "Waiting for EC2 to report %s attached.", a->id);
        for (;;) {
                AttachView v = view_of(a);

                if (v.mine == ATTACH_MINE_ATTACHED)
                        return PATH_STATE_DONE;
                if (v.mine != ATTACH_MINE_ATTACHING)
                        return path_fail(a->path, FAILURE_OTHER, -EIO, "EC2 no longer lists %s as attached here.",
                                         a->id);
                r = attach_wait_poll(a, &poll, USEC_INFINITY);
                if (r < 0)
                        return path_fail(a->path, FAILURE_DEADLINE, r, "EC2 did not report %s attached before the "
                                         "deadline.", a->id);
                r = attach_describe(a);
                if (r < 0)
                        return r;
        }
}

static void log_attached_already(const Attach *a) {
        log_info("%s: find: %s is attached here already %s.", a->path->name, a->id, a->ops->where(a));
}

/* The lifecycle: one state after the other until goal is reached. Each
 * step returns the next state, or a failure it has logged. With stop set,
 * it returns as soon as the next state is the goal, leaving it in a->next
 * for attach_complete(). */
static int run_from(Attach *a, PathState state, PathState goal, bool stop) {
        int r;

        for (unsigned steps = 0;; steps++) {
                if (stop && state == goal) {
                        a->next = state;
                        return 0;
                }
                switch (state) {
                case PATH_STATE_TAKE_OVER:
                        r = step_take_over(a, goal);
                        break;
                case PATH_STATE_WAIT_RELEASE:
                        r = step_wait_release(a, goal);
                        break;
                case PATH_STATE_ATTACH:
                        r = step_attach(a, goal);
                        break;
                case PATH_STATE_WAIT_ATTACHED:
                        r = step_wait_attached(a);
                        break;
                case PATH_STATE_WAIT_DEVICE:
                case PATH_STATE_WAIT_LINK:
                        r = step_wait_local(a, goal);
                        break;
                case PATH_STATE_DONE:
                        return 0;
                default:
                        return path_fail(a->path, FAILURE_OTHER, -EINVAL, "Unexpected state %s.",
                                         path_state_to_string(state));
                }
                if (r < 0)
                        return r;
                state = (PathState) r;

                /* Every step either waits or ends in a failure of its own;
                 * this only guards against a loop without either. */
                if (steps > 1000)
                        return path_fail(a->path, FAILURE_OTHER, -ELOOP, "The %s %s does not settle.", a->ops->what,
                                         a->id);
        }
}

static int run(Attach *a, PathState goal, bool stop) {
        PathState state;
        int r;

        r = attach_find_or_restore(a);
        if (r < 0)
                return r;
        state = decide(a, goal);
        if (state == goal)
                log_attached_already(a);
        return run_from(a, state, goal, stop);
}

int attach_run(Attach *a) {
        int r;

        r = run(a, a->ops->wait_state, false);
        if (a->ops->local_done)
                a->ops->local_done(a);
        return r;
}

int attach_start(Attach *a) {
        return run(a, a->ops->wait_state, true);
}

int attach_complete(Attach *a) {
        int r;

        r = run_from(a, a->next, a->ops->wait_state, false);
        if (a->ops->local_done)
                a->ops->local_done(a);
        return r;
}

int attach_run_to_ec2(Attach *a) {
        return run(a, PATH_STATE_WAIT_ATTACHED, false);
}

int attach_release_start(Attach *a) {
        _cleanup_(aws_error_done) AwsError e = {};
        int r;

        if (view_of(a).mine == ATTACH_MINE_NONE) {
                log_info("%s: detach: %s is not attached here; nothing to detach.", a->path->name, a->id);
                return 0;
        }

        attach_transition(a, PATH_STATE_DETACH, "Detaching %s.", a->id);
        r = a->ops->detach(a, a->instance_id, false, &e);
        if (r < 0 && !detach_already_done(&e))
                return fail_call(a, r, &e, "Failed to detach");
        if (r < 0)
                log_info("%s: detach: EC2 says %s is not attached here any more (%s).", a->path->name, a->id,
                         e.code);
        return 1;
}

int attach_release_wait(Attach *a) {
        BackoffPolicy policy = poll_policy(PATH_STATE_WAIT_DETACHED);
        Backoff poll = BACKOFF_INIT(&policy);
        int r;

        for (;;) {
                r = attach_describe(a);
                if (r < 0)
                        return r;
                if (view_of(a).mine == ATTACH_MINE_NONE)
                        break;
                r = attach_wait_poll(a, &poll, USEC_INFINITY);
                if (r < 0)
                        return path_fail(a->path, FAILURE_DEADLINE, r, "The %s %s was not free before the deadline.",
                                         a->ops->what, a->id);
        }
        attach_transition(a, PATH_STATE_DONE, "%s is no longer attached here.", a->id);
        return 0;
}

int attach_release(Attach *a) {
        int r;

        r = attach_release_start(a);
        if (r <= 0)
                return r;
        return attach_release_wait(a);
}
