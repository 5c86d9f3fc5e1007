/* SPDX-License-Identifier: Apache-2.0 */
/* The filesystem step of the volume path, from the pieces of the fs-*.c
 * files: already mounted? probe, decide, mkfs or fsck, mount, grow. */
#include "fs.h"
#include "log.h"

/* ---- the whole step -------------------------------------------------- */

void fs_setup_result_done(FsSetupResult *r) {
        if (!r)
                return;
        free(r->uuid);
        *r = (FsSetupResult) {};
}

/* Found mounted: a restart after the mount. Read-only, and the UUID lets
 * the caller tag the volume when a previous run stopped between mkfs and
 * the tag. */
static int setup_mounted(const char *device, const ConfigVolume *config, FsSetupResult *result) {
        _cleanup_(fs_probe_done) FsProbe probe = {};
        int r;

        log_info("%s is already mounted on %s.", device, config->mount_point);
        result->already_mounted = true;

        r = fs_probe(device, &probe);
        if (r < 0)
                return r;
        if (probe.uuid)
                result->uuid = TAKE_PTR(probe.uuid);
        return 0;
}

/* Acts on the decision: refuse, or mkfs (after options->before_format), or
 * fsck what is there. */
static int setup_act(const char *device, const ConfigVolume *config, const FsSetupOptions *options,
                     usec_t deadline, const FsDecision *decision, FsProbe *probe, bool zeros,
                     FsSetupResult *result) {
        int r;

        switch (decision->action) {
        case FS_ACTION_REFUSE:
                return log_error_errno(fs_refusal_to_errno(decision->refusal), "Refusing to use %s: %s",
                                       device, decision->message);
        case FS_ACTION_FORMAT:
                log_info("%s: %s", device, decision->message);
                if (options->before_format) {
                        r = options->before_format(options->userdata);
                        if (r < 0)
                                return r;
                }
                /* The decision formats a volume that does not read
                 * as zeros only when it holds our interrupted mkfs. */
                r = fs_mkfs_proven(device, config->file_system, options->label, probe, zeros, !zeros, deadline,
                                   &result->uuid);
                if (r < 0)
                        return r;
                result->formatted = true;
                return 0;
        case FS_ACTION_MOUNT:
                log_debug("%s: %s", device, decision->message);
                result->uuid = TAKE_PTR(probe->uuid);
                r = fs_check(device, config->file_system, deadline);
                return r < 0 ? r : 0;
        default:
                return -EINVAL;
        }
}

/* Not mounted: probe, decide (fs_format_decision), mkfs or fsck, mount. */
static int setup_unmounted(const char *device, const ConfigVolume *config, const FsSetupOptions *options,
                           usec_t deadline, FsSetupResult *result) {
        _cleanup_(fs_decision_done) FsDecision decision = {};
        _cleanup_(fs_probe_done) FsProbe probe = {};
        bool zeros = false, already = false;
        int r;

        r = fs_probe(device, &probe);
        if (r < 0)
                return r;
        if (!probe.found) {
                r = fs_reads_as_zeros(device, &zeros);
                if (r < 0)
                        return r;
        }

        r = fs_format_decision(config->format, config->file_system, &probe, zeros, &options->marks, &decision);
        if (r < 0)
                return r;
        r = setup_act(device, config, options, deadline, &decision, &probe, zeros, result);
        if (r < 0)
                return r;

        r = fs_mount(device, config->mount_point, config->file_system, config->mount_options, &already);
        if (r < 0)
                return r;
        log_info("Mounted %s on %s.", device, config->mount_point);
        return 0;
}

int fs_setup(const char *device, const ConfigVolume *config, const FsSetupOptions *options, usec_t deadline,
             FsSetupResult *ret) {
        _cleanup_(fs_setup_result_done) FsSetupResult result = {};
        int r;

        if (isempty(device) || !config || isempty(config->mount_point) || !options || !ret)
                return -EINVAL;

        /* A restart after the mount: the filesystem is in use, so it must
         * not be checked (e2fsck refuses a mounted device anyway). */
        r = fs_mount_state(device, config->mount_point);
        if (r < 0)
                return r;
        if (r > 0)
                r = setup_mounted(device, config, &result);
        else
                r = setup_unmounted(device, config, options, deadline, &result);
        if (r < 0)
                return r;

        if (config->grow) {
                r = fs_grow(device, config->mount_point, config->file_system, deadline);
                /* The data is mounted and usable: a filesystem that could not
                 * grow is worth a warning, not a node that stays down. The
                 * deadline is another matter. */
                if (r == -ETIME)
                        return r;
                if (r < 0)
                        log_warning_errno(r, "Could not grow the filesystem on %s to the volume's size, "
                                          "continuing without: %m", device);
                result.grown = r > 0;
        }

        *ret = result;
        result = (FsSetupResult) {};
        return 0;
}

bool fs_error_is_refusal(int r) {
        return r == -EMEDIUMTYPE || r == -ENOTEMPTY || r == -EUCLEAN;
}
