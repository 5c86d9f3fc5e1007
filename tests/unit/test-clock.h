/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The test clock: the process's time, waits and randomness (clock.h) under
 * the test's control. A wait on time alone advances the clock at once and
 * is recorded, so backoff runs for hours in microseconds and its waits can
 * be checked exactly. Header-only, as each test is one executable. */

#include "clock.h"
#include "macro.h"
#include "wait.h"

/* 2024-01-12T08:00:00Z: requests are signed with this date. */
#define TEST_REALTIME ((usec_t) 1705046400ULL * USEC_PER_SEC)
#define TEST_MONOTONIC_START ((usec_t) 1000 * USEC_PER_SEC)

#define TEST_SLEEPS_MAX 16

typedef struct TestClock {
        usec_t realtime;
        usec_t monotonic;
        uint64_t random;
        usec_t sleeps[TEST_SLEEPS_MAX];
        unsigned n_sleeps;
} TestClock;

static inline usec_t test_clock_now(clockid_t clock, void *userdata) {
        TestClock *t = userdata;

        return clock == CLOCK_REALTIME ? t->realtime : t->monotonic;
}

static inline void test_clock_sleep(usec_t usec, void *userdata) {
        TestClock *t = userdata;

        if (t->n_sleeps < TEST_SLEEPS_MAX)
                t->sleeps[t->n_sleeps] = usec;
        t->n_sleeps++;
        t->monotonic += usec;
        t->realtime += usec;
}

static inline uint64_t test_clock_random(void *userdata) {
        TestClock *t = userdata;

        return t->random;
}

/* Makes c (set to the test's start) the process's clock until
 * test_clock_remove(); hooks is where the table lives meanwhile. Also
 * forgets an earlier test's cancellation. */
static inline void test_clock_install(TestClock *c, ClockHooks *hooks) {
        *c = (TestClock) {
                .realtime = TEST_REALTIME,
                .monotonic = TEST_MONOTONIC_START,
        };
        *hooks = (ClockHooks) {
                .now = test_clock_now,
                .sleep = test_clock_sleep,
                .random = test_clock_random,
                .userdata = c,
        };
        clock_set_hooks(hooks);
        wait_cancel_reset();
}

static inline void test_clock_remove(void) {
        clock_set_hooks(NULL);
}

/* Lets usec pass without a wait (between two calls of the code under test). */
static inline void test_clock_advance(TestClock *c, usec_t usec) {
        c->monotonic += usec;
        c->realtime += usec;
}
