/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdlib.h>

#include "exit-status.h"
#include "macro.h"

ExitStatus exit_status_from_error(int error) {
        switch (abs(error)) {
        case 0:
                return EXIT_STATUS_DONE;
        case EACCES:
        case EPERM:
        case ENOKEY:
                return EXIT_STATUS_AWS_REFUSED;
        case ENOENT:
        case EXDEV:
        case EBUSY:
        case ENOTUNIQ:
        case ENODEV:
                return EXIT_STATUS_UNUSABLE;
        case EUCLEAN:
        case EMEDIUMTYPE:
        case ENOTEMPTY:
                return EXIT_STATUS_FILESYSTEM;
        case ETIME:
                return EXIT_STATUS_DEADLINE;
        default:
                return EXIT_STATUS_FAILURE;
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
