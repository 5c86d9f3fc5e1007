/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The contract's exit statuses, and the kinds of failure that lead to them.
 * The kind is decided where the failure is understood (path_fail() names
 * it: a volume that is not found is "unusable", a permission refused by AWS
 * is "AWS refused", an rtnetlink EPERM is "other"), never guessed later from
 * an errno. */

typedef enum ExitStatus {
        EXIT_STATUS_DONE = 0,
        EXIT_STATUS_FAILURE = 1,
        EXIT_STATUS_USAGE = 2,
        EXIT_STATUS_AWS_REFUSED = 3,
        EXIT_STATUS_UNUSABLE = 4,
        EXIT_STATUS_FILESYSTEM = 5,
        EXIT_STATUS_DEADLINE = 6,
} ExitStatus;

typedef enum FailureKind {
        FAILURE_NONE,           /* no failure */
        FAILURE_OTHER,          /* anything not below: 1 */
        FAILURE_CONFIG,         /* bad usage or configuration: 2 */
        FAILURE_AWS_REFUSED,    /* authentication, permission, IMDS disabled: 3 */
        FAILURE_UNUSABLE,       /* volume or ENI not found, wrong AZ, held past the timeout: 4 */
        FAILURE_FILESYSTEM,     /* fsck errors, a format that could destroy data: 5 */
        FAILURE_DEADLINE,       /* the deadline passed: 6 */
        FAILURE_CANCELLED,      /* stopped because another path failed: never the boot's own kind */
        _FAILURE_KIND_MAX,
} FailureKind;

ExitStatus exit_status_from_failure(FailureKind kind);
const char *exit_status_to_string(ExitStatus s);
const char *failure_kind_to_string(FailureKind kind);

/* The kind of a failed AWS or IMDS call, from the return values aws.h and
 * imds.h document: refused (-EACCES), the deadline (-ETIME), cancelled
 * (-ECANCELED), else other. Callers that know better (a volume that does
 * not exist is unusable) say so themselves. */
FailureKind failure_kind_of_call(int r);
