/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Every wait between attempts and polls, in one place. A policy says how
 * the waits grow; a Backoff is one sequence of them.
 *
 *   jitter  "full jitter" (AWS's architecture blog, and the SDKs): each
 *           wait is uniformly random in [0, ceiling], and the ceiling grows
 *           by growth_percent per wait up to max. Nodes that failed
 *           together (a fleet booting at once, a throttled account) then
 *           spread out instead of failing together again.
 *   plain   the wait is the ceiling itself: polls of a state that changes
 *           on its own (an attachment, a change going INSYNC), where
 *           spreading buys nothing and a steady rhythm reads well in logs.
 *
 * Two inputs from the world adjust a sequence:
 *   backoff_next_throttled()  the service said "slow down": this wait's
 *                             ceiling is throttle_percent of the normal one
 *                             (the SDKs start throttled retries at 500 ms
 *                             where others start at 100-200 ms);
 *   backoff_set_contention()  n others compete for the same thing (nodes
 *                             changing one Route 53 set): the ceiling is
 *                             sized to n x contention_slot, so the group
 *                             spreads over about one slot each.
 *
 * Randomness and time come from clock.h, so tests are exact. */

#include <stdbool.h>

#include "macro.h"
#include "time-util.h"

typedef struct BackoffPolicy {
        usec_t initial;                 /* the first ceiling (or interval) */
        usec_t max;                     /* the ceiling's cap */
        unsigned growth_percent;        /* per wait: 200 doubles, 150 is x1.5, 100 stays */
        bool jitter;                    /* full jitter, else plain */
        unsigned throttle_percent;      /* backoff_next_throttled(); 0: as normal */
        usec_t contention_slot;         /* backoff_set_contention(); 0: not used */
} BackoffPolicy;

typedef struct Backoff {
        const BackoffPolicy *policy;
        usec_t ceiling;
        unsigned n;                     /* waits handed out */
} Backoff;

#define BACKOFF_INIT(p) ((Backoff) { .policy = (p), .ceiling = (p)->initial })

/* The next wait, and the ceiling grows. */
usec_t backoff_next(Backoff *b);

/* The next wait after a throttling answer (see above), and the ceiling
 * grows as for backoff_next(). */
usec_t backoff_next_throttled(Backoff *b);

/* Sizes the ceiling to n contenders (at least the policy's initial, at
 * most its max). */
void backoff_set_contention(Backoff *b, unsigned n);

/* Back to the first wait. */
void backoff_reset(Backoff *b);

/* Waits the next wait (throttled: backoff_next_throttled()'s), unless it
 * would end past deadline: then it does not wait and returns -ETIME. 0, or
 * -ECANCELED when the boot failed meanwhile (wait.h). *ret_waited (may be
 * NULL) gets the wait chosen, for log lines. */
int backoff_wait(Backoff *b, bool throttled, usec_t deadline, usec_t *ret_waited);
