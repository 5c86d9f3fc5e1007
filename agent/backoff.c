/* SPDX-License-Identifier: Apache-2.0 */
#include "backoff.h"
#include "clock.h"
#include "wait.h"

static usec_t grow(const BackoffPolicy *p, usec_t ceiling) {
        usec_t next;

        if (p->growth_percent <= 100 || ceiling >= p->max)
                return MIN(ceiling, p->max);
        /* Saturates long before it could overflow: max bounds it. */
        next = ceiling / 100 * p->growth_percent + ceiling % 100 * p->growth_percent / 100;
        return MIN(MAX(next, ceiling + 1), p->max);
}

static usec_t draw(const BackoffPolicy *p, usec_t ceiling) {
        if (!p->jitter)
                return ceiling;
        if (ceiling == USEC_INFINITY)
                return random_u64();
        return random_u64() % (ceiling + 1);
}

static usec_t next_with(Backoff *b, unsigned percent) {
        const BackoffPolicy *p = b->policy;
        usec_t ceiling = b->ceiling;
        usec_t wait;

        if (percent > 100)
                ceiling = MIN(ceiling / 100 * percent, MAX(p->max, ceiling));
        wait = draw(p, ceiling);
        b->ceiling = grow(p, b->ceiling);
        b->n++;
        return wait;
}

usec_t backoff_next(Backoff *b) {
        return next_with(b, 100);
}

usec_t backoff_next_throttled(Backoff *b) {
        return next_with(b, b->policy->throttle_percent);
}

void backoff_set_contention(Backoff *b, unsigned n) {
        const BackoffPolicy *p = b->policy;
        usec_t sized;

        if (p->contention_slot == 0)
                return;
        sized = n > 0 && p->contention_slot > USEC_INFINITY / n ? USEC_INFINITY : p->contention_slot * n;
        b->ceiling = MIN(MAX(sized, p->initial), p->max);
}

void backoff_reset(Backoff *b) {
        b->ceiling = b->policy->initial;
        b->n = 0;
}

int backoff_wait(Backoff *b, bool throttled, usec_t deadline, usec_t *ret_waited) {
        usec_t wait = throttled ? backoff_next_throttled(b) : backoff_next(b);

        if (ret_waited)
                *ret_waited = wait;
        if (deadline != USEC_INFINITY && usec_add(now(CLOCK_MONOTONIC), wait) > deadline)
                return -ETIME;
        return wait_for(wait, USEC_INFINITY);
}
