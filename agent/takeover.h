/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Taking a volume or an ENI over from the instance that held it before (the
 * predecessor that the Auto Scaling group replaced), as TakeOver= says:
 *   wait               wait, with backoff, until the holder lets go, for at
 *                      most TakeOverTimeout;
 *   force-detach-dead  the same, but force-detach at once from a holder that
 *                      EC2 reports stopped, terminated or shutting-down;
 *                      never from a live one.
 * While it waits it tells systemd (STATUS=, EXTEND_TIMEOUT_USEC=), so a
 * deliberate wait is not killed by TimeoutStartSec=. */

#include "aws.h"
#include "config.h"
#include "path.h"

typedef struct TakeOverView {
        const char *holder;             /* another instance holding it; NULL when none */
        const char *attachment_state;   /* the holder's attachment state */
        bool busy;                      /* not free yet although no holder is listed
                                         * (a detach that is just ending) */
} TakeOverView;

typedef struct TakeOverTarget {
        const char *what;               /* "volume", "network interface": for messages */
        const char *id;
        /* What the last description says; describe() replaces it. */
        void (*view)(void *userdata, TakeOverView *ret);
        int (*describe)(void *userdata);
        int (*force_detach)(void *userdata, const char *holder);
        void *userdata;
} TakeOverTarget;

typedef struct TakeOver {
        Path *path;
        AwsClient *aws;
        TakeOverPolicy policy;
        usec_t timeout;                 /* TakeOverTimeout= */
        usec_t deadline;
        usec_t poll_first;              /* 0: about a second */
} TakeOver;

/* Returns 0 once nobody else holds the target; -EBUSY (logged, naming the
 * holder) when it is still held after the timeout; -ETIME when the deadline
 * passes first. */
int take_over_run(const TakeOver *t, const TakeOverTarget *target);

/* Sleeps until the next poll, telling systemd the wait is on purpose.
 * -ETIME when the deadline has passed. Shared by the attach waits. */
int take_over_wait_for_poll(usec_t deadline, usec_t interval);

/* The next interval of a capped backoff (x1.5). */
usec_t take_over_next_interval(usec_t interval, usec_t cap);

/* Whether an instance in this EC2 state can no longer use what it holds. */
bool take_over_holder_is_dead(const char *instance_state);
