/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The readiness signals of [Signal], and when to send which: the policy on
 * top of cloudformation.h and autoscaling.h. (Named signals.h because an
 * agent/signal.h would stand in for <signal.h> in every file built with
 * agent/ on the include path.)
 *
 *   Signal s;
 *   signal_init(&s, aws, config->has_signal ? &config->signal : NULL, instance_id);
 *   r = signal_start(&s, deadline);            before the boot; fails the boot
 *   ... while waiting: if (signal_heartbeat_due(&s, now(CLOCK_MONOTONIC)))
 *                              (void) signal_heartbeat(&s, deadline);
 *   r = signal_success(&s, deadline);          at READY; an error fails the boot
 *   or signal_failure(&s, fresh_deadline);     when the boot failed
 *   signal_done(&s);
 *
 * CloudFormation (CloudFormationStack= and CloudFormationResource=) gets
 * SignalResource SUCCESS or FAILURE with the instance id as UniqueId; the
 * lifecycle hook (LifecycleHook=) gets heartbeats while the boot runs, then
 * CompleteLifecycleAction CONTINUE or ABANDON. At success the lifecycle
 * action is completed first, so that the instance is InService before the
 * stack moves on (an UpdatePolicy's next batch); at failure CloudFormation
 * hears first, before ABANDON has the instance terminated.
 *
 * Either side may find nobody waiting: a stack that is not being created or
 * updated (every replacement of the instance outside a stack operation), a
 * signal that an earlier run already sent, a lifecycle action already
 * completed or timed out. That is logged and counts as done, so that a
 * restarted agent converges like every other step. Each side is signalled
 * once: a second signal_success() or a signal_failure() after a success
 * sends nothing for a side that is done. */

#include <stdbool.h>

#include "aws.h"
#include "config.h"
#include "path.h"

/* Auto Scaling's HeartbeatTimeout is 30 s at least and 3600 s by default;
 * a heartbeat a minute keeps any hook of two minutes or more waiting, and
 * costs one request a minute of a boot that lasts minutes. */
#define SIGNAL_HEARTBEAT_INTERVAL_USEC (60 * USEC_PER_SEC)

typedef enum SignalSide {
        SIGNAL_SIDE_NONE,       /* not configured */
        SIGNAL_SIDE_PENDING,    /* to be signalled */
        SIGNAL_SIDE_DONE,       /* signalled, or nobody waits for it */
} SignalSide;

typedef struct Signal {
        AwsClient *aws;                 /* borrowed */
        const ConfigSignal *config;     /* borrowed; NULL: nothing to signal */
        const char *instance_id;        /* borrowed */
        Path path;

        SignalSide cloudformation;
        SignalSide lifecycle;
        char *group;                    /* the Auto Scaling group, once known */
        usec_t next_heartbeat;          /* CLOCK_MONOTONIC */
} Signal;

/* config is NULL when there is no [Signal] section. Nothing is sent yet.
 * All three pointers are borrowed and must outlive s. */
void signal_init(Signal *s, AwsClient *aws, const ConfigSignal *config, const char *instance_id);
void signal_done(Signal *s);

/* Whether anything is configured to be signalled. */
bool signal_enabled(const Signal *s);

/* With LifecycleHook=: finds the instance's Auto Scaling group (see
 * autoscaling_find_group()) and records a first heartbeat, which restarts
 * the hook's timeout and tells early whether a lifecycle action waits at
 * all. Without a group no lifecycle action can be completed, so a failure
 * to find it is an error (logged) for the caller to fail the boot with; a
 * failed heartbeat is only a warning. 0 when there is nothing to do. */
int signal_start(Signal *s, usec_t deadline);

/* Whether a heartbeat is due at now (CLOCK_MONOTONIC), and when the next
 * one is (USEC_INFINITY: none will be), for wait loops that sleep until
 * their next event. */
bool signal_heartbeat_due(const Signal *s, usec_t now);
usec_t signal_heartbeat_next(const Signal *s);

/* Records a heartbeat now (the caller asked signal_heartbeat_due()). A
 * failure is logged as a warning and returned, never fatal: the hook's
 * timeout may still be far. Nobody waiting any more (the action timed out)
 * is logged too, and ends the heartbeats. */
int signal_heartbeat(Signal *s, usec_t deadline);

/* Completes the lifecycle action with CONTINUE and signals SUCCESS. Both
 * are tried; the first failure is logged as an error and returned (the
 * stack would roll back, the hook would time out). */
int signal_success(Signal *s, usec_t deadline);

/* Signals FAILURE and completes the lifecycle action with ABANDON. The boot
 * is failing already, so a failure here is only logged. Pass a deadline of
 * its own: the boot's may be what failed. */
void signal_failure(Signal *s, usec_t deadline);
