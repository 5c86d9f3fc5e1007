/* SPDX-License-Identifier: Apache-2.0 */
#include <stdlib.h>
#include <sys/random.h>
#include <unistd.h>

#include "clock.h"
#include "macro.h"

static const ClockHooks *hooks;

void clock_set_hooks(const ClockHooks *h) {
        hooks = h;
}

const ClockHooks *clock_get_hooks(void) {
        return hooks;
}

usec_t now(clockid_t clock) {
        struct timespec ts;

        if (hooks && hooks->now)
                return hooks->now(clock, hooks->userdata);

        /* Only fails for an invalid clock id, which is a programming error. */
        if (clock_gettime(clock, &ts) < 0)
                abort();
        return (usec_t) ts.tv_sec * USEC_PER_SEC + (usec_t) ts.tv_nsec / 1000U;
}

uint64_t random_u64(void) {
        uint64_t v;

        if (hooks && hooks->random)
                return hooks->random(hooks->userdata);
        if (getrandom(&v, sizeof(v), GRND_NONBLOCK) == (ssize_t) sizeof(v))
                return v;
        v = now(CLOCK_MONOTONIC) ^ ((uint64_t) getpid() << 32);
        /* splitmix64's finaliser spreads the few changing bits over all 64. */
        v = (v ^ (v >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
        v = (v ^ (v >> 27)) * UINT64_C(0x94D049BB133111EB);
        return v ^ (v >> 31);
}
