/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The contract's exit statuses, and the errno convention that leads to them.
 * Modules return negative errno; the kind of failure is told by the errno,
 * so that main.c can map any failure to its status in one place:
 *
 *   -EACCES, -EPERM, -ENOKEY     AWS refused: authentication, permission,
 *                                 no credentials, IMDS disabled        -> 3
 *   -ENOENT, -EXDEV, -EBUSY,     volume or ENI unusable: not found,
 *   -ENOTUNIQ, -ENODEV           wrong AZ, held by a live instance past
 *                                 the timeout, several matches         -> 4
 *   -EUCLEAN, -EMEDIUMTYPE,      filesystem refused: fsck errors, a
 *   -ENOTEMPTY                   format that could destroy data        -> 5
 *   -ETIME                       the deadline passed                  -> 6
 *   anything else                                                      -> 1
 *
 * Bad usage and configuration (2) are decided by main.c itself, before
 * anything else runs, and by the user-data check. */

typedef enum ExitStatus {
        EXIT_STATUS_DONE = 0,
        EXIT_STATUS_FAILURE = 1,
        EXIT_STATUS_USAGE = 2,
        EXIT_STATUS_AWS_REFUSED = 3,
        EXIT_STATUS_UNUSABLE = 4,
        EXIT_STATUS_FILESYSTEM = 5,
        EXIT_STATUS_DEADLINE = 6,
} ExitStatus;

ExitStatus exit_status_from_error(int error);
const char *exit_status_to_string(ExitStatus s);
