/* SPDX-License-Identifier: Apache-2.0 */
/* The format decision: pure, from what the probe found and what the
 * volume's tags say. */
#include <stdarg.h>
#include <stdio.h>

#include "fs.h"

/* ---- the format decision --------------------------------------------- */

static const char *const fs_action_table[_FS_ACTION_MAX] = {
        [FS_ACTION_FORMAT] = "format",
        [FS_ACTION_MOUNT] = "mount",
        [FS_ACTION_REFUSE] = "refuse",
};

static const char *const fs_refusal_table[_FS_REFUSAL_MAX] = {
        [FS_REFUSAL_NONE] = "none",
        [FS_REFUSAL_AMBIVALENT] = "ambivalent",
        [FS_REFUSAL_PARTITION_TABLE] = "partition-table",
        [FS_REFUSAL_OTHER_FILESYSTEM] = "other-filesystem",
        [FS_REFUSAL_SIGNATURE] = "signature",
        [FS_REFUSAL_TAGGED_NO_FILESYSTEM] = "tagged-no-filesystem",
        [FS_REFUSAL_NOT_ZEROS] = "not-zeros",
        [FS_REFUSAL_BLANK_FORMAT_NEVER] = "blank-format-never",
};

const char *fs_action_to_string(FsAction a) {
        if (a < 0 || a >= _FS_ACTION_MAX)
                return NULL;
        return fs_action_table[a];
}

const char *fs_refusal_to_string(FsRefusal r) {
        if (r < 0 || r >= _FS_REFUSAL_MAX)
                return NULL;
        return fs_refusal_table[r];
}

int fs_refusal_to_errno(FsRefusal r) {
        switch (r) {
        case FS_REFUSAL_NONE:
                return 0;
        /* Holds data we cannot read as ours. */
        case FS_REFUSAL_TAGGED_NO_FILESYSTEM:
        case FS_REFUSAL_NOT_ZEROS:
                return -ENOTEMPTY;
        /* Holds (or lacks) something of the wrong kind. */
        case FS_REFUSAL_AMBIVALENT:
        case FS_REFUSAL_PARTITION_TABLE:
        case FS_REFUSAL_OTHER_FILESYSTEM:
        case FS_REFUSAL_SIGNATURE:
        case FS_REFUSAL_BLANK_FORMAT_NEVER:
        default:
                return -EMEDIUMTYPE;
        }
}

void fs_decision_done(FsDecision *d) {
        if (!d)
                return;
        free(d->message);
        *d = (FsDecision) {};
}

static int decide(FsAction action, FsRefusal refusal, FsDecision *ret, const char *format, ...)
        _printf_(4, 5);

static int decide(FsAction action, FsRefusal refusal, FsDecision *ret, const char *format, ...) {
        char *message;
        va_list ap;
        int r;

        va_start(ap, format);
        r = vasprintf(&message, format, ap);
        va_end(ap);
        if (r < 0)
                return -ENOMEM;

        *ret = (FsDecision) {
                .action = action,
                .refusal = refusal,
                .message = message,
        };
        return 0;
}

int fs_format_decision(FormatPolicy policy, FileSystem file_system, const FsProbe *probe,
                       bool reads_as_zeros, const FsVolumeMarks *marks, FsDecision *ret) {
        _cleanup_free_ char *what = NULL;
        const char *fs_name;
        bool interrupted;

        if (policy < 0 || policy >= _FORMAT_MAX || !probe || !marks || !ret)
                return -EINVAL;
        fs_name = filesystem_to_string(file_system);
        if (!fs_name)
                return -EINVAL;

        if (probe->found) {
                what = fs_probe_describe(probe);
                if (!what)
                        return -ENOMEM;

                if (probe->ambivalent)
                        return decide(FS_ACTION_REFUSE, FS_REFUSAL_AMBIVALENT, ret,
                                      "it has %s (wipefs --no-act lists them): a person must decide "
                                      "what it holds.", what);

                /* A partition table beside a filesystem is refused too: which
                 * of the two is current is for a person to say. */
                if (probe->pttype)
                        return decide(FS_ACTION_REFUSE, FS_REFUSAL_PARTITION_TABLE, ret,
                                      "it has %s; the volume is used as a whole device, so this is "
                                      "not ours: refusing to mount or format it.", what);

                if (probe->type && streq_ptr(probe->usage, "filesystem")) {
                        if (streq(probe->type, fs_name))
                                return decide(FS_ACTION_MOUNT, FS_REFUSAL_NONE, ret,
                                              "it has %s.", what);

                        return decide(FS_ACTION_REFUSE, FS_REFUSAL_OTHER_FILESYSTEM, ret,
                                      "it has %s, but FileSystem=%s: refusing to mount or format it.",
                                      what, fs_name);
                }

                return decide(FS_ACTION_REFUSE, FS_REFUSAL_SIGNATURE, ret,
                              "it has %s, not a filesystem: refusing to format it.", what);
        }

        /* Nothing found. The tag says this volume held our filesystem: its
         * absence now means damage or a wrong device, never a fresh start. */
        if (marks->initialized)
                return decide(FS_ACTION_REFUSE, FS_REFUSAL_TAGGED_NO_FILESYSTEM, ret,
                              "the volume is tagged nodeagent:initialized but has no filesystem: it held "
                              "one before, and formatting could destroy its data; a person must look.");

        /* Bytes but no signature, on a volume where our own mkfs began and
         * never reached the initialised tag: mke2fs writes the superblock
         * last, so these are its unfinished blocks (a kill, a power loss),
         * not anyone's data. Nothing else ever wrote to it: it was mounted
         * only after a complete mkfs, and then it carries a filesystem. */
        interrupted = !reads_as_zeros && marks->format_started;
        if (!reads_as_zeros && !interrupted)
                return decide(FS_ACTION_REFUSE, FS_REFUSAL_NOT_ZEROS, ret,
                              "it has no known signature but does not read as zeros: unknown raw data "
                              "(a snapshot or another tool's format?); refusing to format it.");

        if (policy == FORMAT_NEVER)
                return decide(FS_ACTION_REFUSE, FS_REFUSAL_BLANK_FORMAT_NEVER, ret,
                              "the volume is %s and Format=never: set Format=if-blank to create "
                              "the %s filesystem, or attach the volume that holds the data.",
                              interrupted ? "blank but for an interrupted mkfs of nodeagent's" : "blank", fs_name);

        if (interrupted)
                return decide(FS_ACTION_FORMAT, FS_REFUSAL_NONE, ret,
                              "an earlier mkfs of nodeagent's on this volume was interrupted (tagged "
                              "nodeagent:format-started, never initialised, no signature): creating the "
                              "%s filesystem again.", fs_name);

        return decide(FS_ACTION_FORMAT, FS_REFUSAL_NONE, ret,
                      "the volume is blank (no signature, reads as zeros, never initialised): "
                      "creating an %s filesystem.", fs_name);
}
