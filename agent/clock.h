/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The agent's one source of time and randomness. Every module reads the
 * time with now() (time-util.h), waits through wait.h and draws jitter from
 * random_u64(), so that a test replaces all three at once with
 * clock_set_hooks() and runs an hour of backoff in a millisecond, without
 * any module having test knobs of its own. */

#include <stdint.h>

#include "time-util.h"

typedef struct ClockHooks {
        /* Instead of clock_gettime(). */
        usec_t (*now)(clockid_t clock, void *userdata);
        /* Instead of letting usec pass: wait.h calls it for a wait on time
         * alone (no file descriptor to watch). A test clock advances. */
        void (*sleep)(usec_t usec, void *userdata);
        /* Instead of getrandom(). */
        uint64_t (*random)(void *userdata);
        void *userdata;
} ClockHooks;

/* Replaces the clock for the whole process (NULL: the real one again).
 * Tests only: call it before the code under test starts threads. */
void clock_set_hooks(const ClockHooks *hooks);

/* The hooks in effect, NULL when the clock is the real one. */
const ClockHooks *clock_get_hooks(void);

/* 64 random bits for jitter. Jitter needs no cryptographic quality, only
 * that two nodes that failed together do not retry together: when the
 * kernel has no randomness to spare, the clock and the pid will do. */
uint64_t random_u64(void);
