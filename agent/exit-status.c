/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>

#include "exit-status.h"
#include "macro.h"

ExitStatus exit_status_from_failure(FailureKind kind) {
        switch (kind) {
        case FAILURE_NONE:
                return EXIT_STATUS_DONE;
        case FAILURE_CONFIG:
                return EXIT_STATUS_USAGE;
        case FAILURE_AWS_REFUSED:
                return EXIT_STATUS_AWS_REFUSED;
        case FAILURE_UNUSABLE:
                return EXIT_STATUS_UNUSABLE;
        case FAILURE_FILESYSTEM:
                return EXIT_STATUS_FILESYSTEM;
        case FAILURE_DEADLINE:
                return EXIT_STATUS_DEADLINE;
        case FAILURE_OTHER:
        case FAILURE_CANCELLED:
        default:
                return EXIT_STATUS_FAILURE;
        }
}

FailureKind failure_kind_of_call(int r) {
        switch (r) {
        case 0:
                return FAILURE_NONE;
        case -EACCES:
                return FAILURE_AWS_REFUSED;
        case -ETIME:
                return FAILURE_DEADLINE;
        case -ECANCELED:
                return FAILURE_CANCELLED;
        default:
                return r > 0 ? FAILURE_NONE : FAILURE_OTHER;
        }
}

const char *exit_status_to_string(ExitStatus s) {
        static const char *const table[] = {
                [EXIT_STATUS_DONE] = "done",
                [EXIT_STATUS_FAILURE] = "failure",
                [EXIT_STATUS_USAGE] = "bad usage or configuration",
                [EXIT_STATUS_AWS_REFUSED] = "AWS refused",
                [EXIT_STATUS_UNUSABLE] = "volume or interface unusable",
                [EXIT_STATUS_FILESYSTEM] = "filesystem refused",
                [EXIT_STATUS_DEADLINE] = "deadline passed",
        };

        if ((size_t) s >= ELEMENTSOF(table) || !table[s])
                return "unknown";
        return table[s];
}

const char *failure_kind_to_string(FailureKind kind) {
        static const char *const table[_FAILURE_KIND_MAX] = {
                [FAILURE_NONE] = "none",
                [FAILURE_OTHER] = "other",
                [FAILURE_CONFIG] = "configuration",
                [FAILURE_AWS_REFUSED] = "AWS refused",
                [FAILURE_UNUSABLE] = "unusable",
                [FAILURE_FILESYSTEM] = "filesystem refused",
                [FAILURE_DEADLINE] = "deadline",
                [FAILURE_CANCELLED] = "cancelled",
        };

        if ((unsigned) kind >= _FAILURE_KIND_MAX)
                return "unknown";
        return table[kind];
}
