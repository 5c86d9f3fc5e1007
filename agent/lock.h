/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* One lock, /run/nodeagent/lock (beside the state file), so that the
 * daemon, --once, --attach-only and --detach never act at the same time.
 * The holder writes its pid and mode into the file; a second comer waits
 * briefly, then says who holds it. --check and --status only look, and
 * take no lock. */

#include "time-util.h"

/* Takes the lock, waiting up to wait_usec for it. Returns the lock's fd
 * (held until it is closed, or the process ends), or -EBUSY (logged, naming
 * the holder) when it stays taken. */
int node_lock_acquire(const char *mode, usec_t wait_usec);
