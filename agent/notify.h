/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Talking to systemd (sd_notify: READY=1, STATUS=, EXTEND_TIMEOUT_USEC=,
 * WATCHDOG=1) and to other units (the state file). Outside systemd
 * ($NOTIFY_SOCKET unset) the notifications are no-ops. */

#include "macro.h"
#include "time-util.h"

#define NODEAGENT_STATE_FILE "/run/nodeagent/state"

/* STATUS=... for systemctl status. */
void notify_status(const char *format, ...) _printf_(1, 2);

/* Asks systemd for usec more start-up time from now (while a predecessor
 * holds the volume, say), so TimeoutStartSec= does not kill a boot that is
 * waiting on purpose. */
void notify_extend_timeout(usec_t usec);

void notify_ready(const char *status);
void notify_stopping(void);
void notify_watchdog(void);

/* The watchdog interval systemd asked for, 0 when none. */
usec_t notify_watchdog_usec(void);

/* One more variable of the state file (the named volume sections'). */
typedef struct NodeStateVar {
        const char *name;
        const char *value;
} NodeStateVar;

/* The state file's variables; NULL leaves the key out (a skipped path). */
typedef struct NodeState {
        const char *instance_id;
        const char *volume_id;
        const char *device;
        const char *mount_point;
        const char *eni_id;
        const char *interface;
        const char *ip;
        const char *dns_name;
        const NodeStateVar *extra;      /* after the above, in order */
        size_t n_extra;
        const char *boot_phases;        /* NODEAGENT_BOOT_PHASES: "path.state=seconds ..." */
        const char *failed;             /* NODEAGENT_FAILED: the exit status of a failed boot */
} NodeState;

/* Writes the state in environment-file format, atomically (a temporary
 * file renamed over the old one). path NULL: NODEAGENT_STATE_FILE; its
 * directory is created when missing. */
int notify_write_state(const char *path, const NodeState *state);

/* Formats the state file's text (pure, for tests). Values are quoted for
 * systemd's EnvironmentFile= and a shell's ".". */
int notify_format_state(const NodeState *state, char **ret);
