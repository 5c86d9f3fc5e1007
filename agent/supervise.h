/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* After READY=1 the agent stays as the service's main process, idle but
 * watching: the mount (libmount's monitor) and the link (rtnetlink events)
 * at once, the attachments every few minutes, systemd's watchdog. When the
 * volume or the interface is gone it says so loudly and exits 1, so that
 * systemd's Restart= runs the idempotent boot again. SIGTERM releases what
 * DetachOnStop= says and exits 0; SIGUSR1 (sent by nodeagent --detach, so
 * that an operator and the daemon do not fight) exits 0 at once. */

#include "node.h"

/* The pid file nodeagent --detach reads, beside the state file. */
int supervise_pid_file(char **ret);

/* Runs until SIGTERM or SIGUSR1 (0) or until something is lost (-ENOLINK,
 * logged). */
int supervise_run(Node *n);

/* For --detach: tells a running daemon to stand down and waits for it to
 * exit. 0 when none runs. */
int supervise_stop_daemon(usec_t deadline);
