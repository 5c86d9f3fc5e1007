/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Runs the few external programs the agent needs (mkfs, e2fsck, resize2fs,
 * xfs_growfs) without a shell: argv as given, stdin from /dev/null, stdout
 * and stderr through one pipe into the log, line by line, prefixed with the
 * program's name. The child gets a fixed environment (PATH below, LC_ALL=C):
 * never ours, which may hold AWS credentials, and always English output.
 * Thread-safe: no global state, every fd O_CLOEXEC, no SIGCHLD (a pidfd).
 *
 * (Named spawn-util, not spawn: agent/ is on the include path, where a
 * "spawn.h" would hide glibc's <spawn.h>.) */

#include "macro.h"
#include "time-util.h"

/* Programs are looked up here, not in the caller's PATH. */
#define SPAWN_PATH "/usr/sbin:/usr/bin:/sbin:/bin"

/* At most this much of the output is returned to the caller; every line
 * still goes to the log. */
#define SPAWN_OUTPUT_MAX ((size_t) 64 * 1024)

/* After SIGTERM at the deadline, the child has this long before SIGKILL. */
#define SPAWN_KILL_GRACE_USEC (5 * USEC_PER_SEC)

/* Finds name (a bare program name; a name with a '/' is taken as it is) in
 * SPAWN_PATH. Returns -ENOENT when it is not there or not executable. */
int spawn_find_program(const char *name, char **ret_path);

/* The Debian package that ships a program the agent runs, or NULL. */
const char *spawn_program_package(const char *name) _pure_;

/* Runs argv[0] (looked up as above) with argv and waits for it until
 * deadline (absolute CLOCK_MONOTONIC, USEC_INFINITY for none). Each line of
 * output is logged at log_level as "<program>: <line>". When ret_output is
 * not NULL it receives the output (NUL-terminated, the first
 * SPAWN_OUTPUT_MAX bytes) whenever the program ran to its end.
 *
 * Returns the program's exit status (>= 0, whatever it is: the caller
 * decides what it means), or
 *   -ENOENT   the program is not installed (logged at error level, with the
 *             Debian package that ships it: the one message an operator
 *             needs, and only this module knows the name it looked for)
 *   -ETIME    the deadline passed: the program got SIGTERM, then SIGKILL
 *             after SPAWN_KILL_GRACE_USEC, and was reaped
 *   -EPROTO   it was killed by a signal that was not ours
 *   -errno    spawning or waiting failed */
int spawn(char *const argv[], usec_t deadline, int log_level, char **ret_output);
