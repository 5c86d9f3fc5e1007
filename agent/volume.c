/* SPDX-License-Identifier: Apache-2.0 */
#include <stdio.h>

#include "log.h"
#include "takeover.h"
#include "volume.h"
#include "zone-match.h"

#define POLL_FIRST_USEC (1 * USEC_PER_SEC)
#define POLL_MAX_USEC (5 * USEC_PER_SEC)
#define STUCK_AFTER_USEC (90 * USEC_PER_SEC)

static int find_by_id(AwsClient *aws, const char *id, const char *az, usec_t deadline, Ec2Volume *ret) {
        _cleanup_(aws_error_done) AwsError error = {};
        const char *ids[] = { id, NULL };
        Ec2Volume *volumes = NULL;
        size_t n = 0;
        int r;

        r = ec2_describe_volumes(aws, ids, NULL, 0, false, deadline, &error, &volumes, &n);
        if (r == -ENOENT || (r >= 0 && n == 0)) {
                ec2_volumes_free(volumes, n);
                return log_error_errno(ENOENT, "Volume %s does not exist in this region.", id);
        }
        if (r < 0)
                return log_error_errno(r, "Failed to describe volume %s: %s%s%m", id,
                                       strempty(error.code), error.code ? ": " : "");

        if (!streq_ptr(volumes[0].az, az)) {
                log_error("Volume %s is in %s, this instance in %s: an EBS volume attaches only "
                          "within its availability zone.", id, strna(volumes[0].az), az);
                ec2_volumes_free(volumes, n);
                return -EXDEV;
        }

        *ret = volumes[0];
        volumes[0] = (Ec2Volume) {};
        ec2_volumes_free(volumes, n);
        return 0;
}

static int find_by_tag(AwsClient *aws, const ConfigTag *tag, const char *az, usec_t deadline, Ec2Volume *ret) {
        _cleanup_(aws_error_done) AwsError error = {};
        _cleanup_free_ char *filter_name = NULL, *listed = NULL;
        _cleanup_free_ ZoneCandidate *candidates = NULL;
        const char *values[] = { tag->value, NULL };
        Ec2Volume *volumes = NULL;
        size_t n = 0, index = 0;
        Ec2Filter filter;
        int r;

        if (asprintf(&filter_name, "tag:%s", tag->key) < 0)
                return log_oom();
        filter = (Ec2Filter) { .name = filter_name, .values = values };

        /* No AZ filter: a volume that exists only elsewhere deserves its own message. */
        r = ec2_describe_volumes(aws, NULL, &filter, 1, false, deadline, &error, &volumes, &n);
        if (r < 0)
                return log_error_errno(r, "Failed to look for volumes tagged %s=%s: %s%s%m", tag->key,
                                       tag->value, strempty(error.code), error.code ? ": " : "");

        candidates = calloc(MAX(n, 1U), sizeof(ZoneCandidate));
        if (!candidates) {
                ec2_volumes_free(volumes, n);
                return log_oom();
        }
        for (size_t i = 0; i < n; i++)
                candidates[i] = (ZoneCandidate) { volumes[i].id, volumes[i].az, volumes[i].state };
        listed = zone_match_format(candidates, n);

        r = zone_match_pick(candidates, n, az, &index);
        if (r == -ENOENT)
                log_error("No volume is tagged %s=%s.", tag->key, tag->value);
        else if (r == -EXDEV)
                log_error("No volume tagged %s=%s is in %s, where this instance runs; found: %s.",
                          tag->key, tag->value, az, strna(listed));
        else if (r == -ENOTUNIQ)
                log_error("Several volumes in %s are tagged %s=%s, expected exactly one: %s.",
                          az, tag->key, tag->value, strna(listed));
        else {
                *ret = volumes[index];
                volumes[index] = (Ec2Volume) {};
        }

        ec2_volumes_free(volumes, n);
        return r;
}

int volume_find(AwsClient *aws, const ConfigVolume *config, const char *availability_zone,
                usec_t deadline, Ec2Volume *ret) {
        if (config->id)
                return find_by_id(aws, config->id, availability_zone, deadline, ret);
        return find_by_tag(aws, &config->tag, availability_zone, deadline, ret);
}

const Ec2VolumeAttachment *volume_attachment_of(const Ec2Volume *v, const char *instance_id) {
        for (size_t i = 0; i < v->n_attachments; i++)
                if (streq_ptr(v->attachments[i].instance_id, instance_id))
                        return &v->attachments[i];
        return NULL;
}

/* The first attachment to another instance, NULL when there is none. */
static const Ec2VolumeAttachment *attachment_elsewhere(const Ec2Volume *v, const char *instance_id) {
        for (size_t i = 0; i < v->n_attachments; i++)
                if (!streq_ptr(v->attachments[i].instance_id, instance_id) &&
                    !streq_ptr(v->attachments[i].state, "detached"))
                        return &v->attachments[i];
        return NULL;
}

static usec_t poll_first(const VolumeAttach *a) {
        return a->poll_first ?: POLL_FIRST_USEC;
}


/* Describes the volume again by id, replacing *v. */
static int refresh(const VolumeAttach *a, Ec2Volume *v) {
        _cleanup_(aws_error_done) AwsError error = {};
        const char *ids[] = { v->id, NULL };
        Ec2Volume *volumes = NULL;
        size_t n = 0;
        int r;

        r = ec2_describe_volumes(a->aws, ids, NULL, 0, false, a->deadline, &error, &volumes, &n);
        if (r < 0)
                return log_error_errno(r, "Failed to describe volume %s: %s%s%m", v->id, strempty(error.code),
                                       error.code ? ": " : "");
        if (n == 0) {
                ec2_volumes_free(volumes, n);
                return log_error_errno(ENOENT, "Volume %s disappeared.", v->id);
        }
        ec2_volume_done(v);
        *v = volumes[0];
        volumes[0] = (Ec2Volume) {};
        ec2_volumes_free(volumes, n);
        return 0;
}

/* The take-over's view of the volume: who else holds it. */
typedef struct VolumeTakeOver {
        const VolumeAttach *attach;
        Ec2Volume *volume;
} VolumeTakeOver;

static void volume_take_over_view(void *userdata, TakeOverView *ret) {
        VolumeTakeOver *t = userdata;
        const Ec2VolumeAttachment *held = attachment_elsewhere(t->volume, t->attach->instance_id);

        *ret = (TakeOverView) {
                .holder = held ? held->instance_id : NULL,
                .attachment_state = held ? held->state : NULL,
                /* In use but listing no other attachment: a detach that is just ending. */
                .busy = !held && !volume_attachment_of(t->volume, t->attach->instance_id) &&
                        streq_ptr(t->volume->state, "in-use"),
        };
}

static int volume_take_over_describe(void *userdata) {
        VolumeTakeOver *t = userdata;

        return refresh(t->attach, t->volume);
}

static int volume_take_over_force_detach(void *userdata, const char *holder) {
        _cleanup_(aws_error_done) AwsError error = {};
        VolumeTakeOver *t = userdata;
        int r;

        r = ec2_detach_volume(t->attach->aws, t->volume->id, holder, true, false, t->attach->deadline, &error, NULL);
        /* IncorrectState: it is being detached already. */
        if (r < 0 && !streq_ptr(error.code, "IncorrectState"))
                return path_fail(t->attach->path, r, "DetachVolume of %s from %s failed: %s%s%m", t->volume->id,
                                 holder, strempty(error.code), error.code ? ": " : "");
        return 0;
}

static int take_over(const VolumeAttach *a, Ec2Volume *v) {
        /* The describe() callback replaces the description, id and all:
         * the target keeps a copy of its own. */
        _cleanup_free_ char *id = strdup(v->id);
        VolumeTakeOver state = { .attach = a, .volume = v };
        TakeOver t = {
                .path = a->path,
                .aws = a->aws,
                .policy = a->config->take_over,
                .timeout = a->config->take_over_timeout,
                .deadline = a->deadline,
                .poll_first = a->poll_first,
        };
        TakeOverTarget target = {
                .what = "volume",
                .id = id,
                .view = volume_take_over_view,
                .describe = volume_take_over_describe,
                .force_detach = volume_take_over_force_detach,
                .userdata = &state,
        };

        if (!id)
                return log_oom();
        return take_over_run(&t, &target);
}

/* Sends AttachVolume. Its reply may have been lost after EC2 acted on it:
 * then the retry meets VolumeInUse, and the volume turns out to be attached
 * here already, which is success. */
static int attach(const VolumeAttach *a, Ec2Volume *v) {
        _cleanup_(aws_error_done) AwsError error = {};
        int r;

        path_transition(a->path, "attach", "Attaching %s as %s.", v->id, a->config->device);

        r = ec2_attach_volume(a->aws, v->id, a->instance_id, a->config->device, false, a->deadline, &error, NULL);
        if (r >= 0)
                return 0;

        if (streq_ptr(error.code, "VolumeInUse") || streq_ptr(error.code, "IncorrectState")) {
                int k = refresh(a, v);

                if (k < 0)
                        return k;
                if (volume_attachment_of(v, a->instance_id)) {
                        log_info("volume: attach: %s is attached here already (an earlier attempt went through).",
                                 v->id);
                        return 0;
                }
                /* Someone else got it, or it is still being released: back to the take-over. */
                return -EAGAIN;
        }
        if (streq_ptr(error.code, "InvalidVolume.ZoneMismatch"))
                return path_fail(a->path, -EXDEV, "Volume %s is not in %s: %s", v->id, a->availability_zone,
                                 strna(error.message));
        return path_fail(a->path, r, "AttachVolume of %s failed: %s%s%s", v->id, strempty(error.code),
                         error.code ? ": " : "", error.message ?: strerror(-r));
}

/* Find, take over and attach, repeating the take-over when another instance
 * got in between. */
static int find_and_attach(const VolumeAttach *a, Ec2Volume *v) {
        int r;

        path_transition(a->path, "find", "Looking for the volume (%s%s%s%s).", a->config->id ? "Id=" : "Tag=",
                        a->config->id ?: strempty(a->config->tag.key), a->config->id ? "" : "=",
                        a->config->id ? "" : strempty(a->config->tag.value));
        r = volume_find(a->aws, a->config, a->availability_zone, a->deadline, v);
        if (r < 0)
                return r;

        for (unsigned tries = 0;; tries++) {
                const Ec2VolumeAttachment *mine = volume_attachment_of(v, a->instance_id);

                if (mine && !streq_ptr(mine->state, "detaching") && !streq_ptr(mine->state, "detached")) {
                        log_info("volume: attach: %s is attached here already as %s (%s).", v->id,
                                 strna(mine->device), strna(mine->state));
                        return 0;
                }

                r = take_over(a, v);
                if (r < 0)
                        return r;

                r = attach(a, v);
                if (r >= 0)
                        /* Pick up the attachment EC2 now reports. */
                        return refresh(a, v);
                if (r != -EAGAIN)
                        return r;
                if (tries >= 3)
                        return path_fail(a->path, -EBUSY, "Volume %s keeps being taken by another instance.",
                                         v->id);
        }
}

/* Waits for the device with the volume's serial, polling EC2 beside it to
 * notice an attach that failed or is stuck. The device's arrival is the
 * proof of the attachment: blockdev_wait() returns the moment udev has it. */
static int wait_for_device(const VolumeAttach *a, Ec2Volume *v, BlockDevice *ret) {
        usec_t attached_at = now(CLOCK_MONOTONIC);
        usec_t interval = poll_first(a), poll_max = a->poll_max ?: POLL_MAX_USEC;
        usec_t stuck_after = a->stuck_after ?: STUCK_AFTER_USEC;
        bool retried = false;
        int r;

        path_transition(a->path, "wait-device", "Waiting for the block device with serial %.3s%s.", v->id,
                        v->id + 4);

        for (;;) {
                const Ec2VolumeAttachment *mine;
                usec_t until = MIN(usec_add(now(CLOCK_MONOTONIC), interval), a->deadline);

                r = blockdev_wait(v->id, a->config->device, until, ret);
                if (r >= 0)
                        return 0;
                if (r != -ETIME)
                        return path_fail(a->path, r, "Failed to watch for the block device of %s: %m", v->id);
                if (path_cancelled())
                        return path_fail(a->path, -ECANCELED, "Cancelled.");
                if (usec_left(a->deadline) == 0)
                        return path_fail(a->path, -ETIME, "No block device with serial %.3s%s appeared before "
                                         "the deadline (EC2 says %s).", v->id, v->id + 4,
                                         volume_attachment_of(v, a->instance_id) ?
                                         strna(volume_attachment_of(v, a->instance_id)->state) : "not attached");

                r = refresh(a, v);
                if (r < 0)
                        return r;
                mine = volume_attachment_of(v, a->instance_id);

                if (!mine || streq_ptr(mine->state, "detached")) {
                        /* EC2 dropped the attachment: the attach failed. */
                        if (retried)
                                return path_fail(a->path, -EIO, "The attachment of %s failed twice.", v->id);
                        log_warning("volume: wait-device: EC2 no longer lists %s as attached here; attaching again.",
                                    v->id);
                        retried = true;
                        r = find_and_attach(a, v);
                        if (r < 0)
                                return r;
                        attached_at = now(CLOCK_MONOTONIC);
                } else if (streq_ptr(mine->state, "attaching") &&
                           now(CLOCK_MONOTONIC) - attached_at >= stuck_after && !retried) {
                        _cleanup_(aws_error_done) AwsError error = {};

                        log_warning("volume: wait-device: %s is stuck in \"attaching\" after %s; detaching and "
                                    "attaching once more.", v->id, FORMAT_DURATION(stuck_after));
                        retried = true;
                        r = ec2_detach_volume(a->aws, v->id, a->instance_id, false, false, a->deadline, &error,
                                              NULL);
                        if (r < 0 && !streq_ptr(error.code, "IncorrectState"))
                                return path_fail(a->path, r, "DetachVolume of the stuck %s failed: %s%s%m", v->id,
                                                 strempty(error.code), error.code ? ": " : "");
                        r = refresh(a, v);
                        if (r < 0)
                                return r;
                        r = find_and_attach(a, v);
                        if (r < 0)
                                return r;
                        attached_at = now(CLOCK_MONOTONIC);
                }

                interval = take_over_next_interval(interval, poll_max);
        }
}

int volume_attach(const VolumeAttach *a, Ec2Volume *ret_volume, BlockDevice *ret_device) {
        _cleanup_(ec2_volume_done) Ec2Volume v = {};
        _cleanup_(block_device_done) BlockDevice d = {};
        int r;

        r = find_and_attach(a, &v);
        if (r < 0)
                return r;

        r = wait_for_device(a, &v, &d);
        if (r < 0)
                return r;

        log_info("volume: wait-device: %s is %s (serial %s, proven by %s).", v.id, d.devnode, strna(d.serial),
                 block_serial_source_to_string(d.source));

        r = blockdev_set_ebs_io_timeout(&d);
        if (r < 0)
                log_warning_errno(r, "volume: Failed to set the NVMe I/O timeout of %s, continuing: %m", d.devnode);

        *ret_volume = v;
        v = (Ec2Volume) {};
        *ret_device = d;
        d = (BlockDevice) {};
        return 0;
}

int volume_attach_only(const VolumeAttach *a, Ec2Volume *ret_volume) {
        _cleanup_(ec2_volume_done) Ec2Volume v = {};
        usec_t interval = poll_first(a), poll_max = a->poll_max ?: POLL_MAX_USEC;
        int r;

        r = find_and_attach(a, &v);
        if (r < 0)
                return r;

        path_transition(a->path, "wait-attached", "Waiting for EC2 to report %s attached.", v.id);
        for (;;) {
                const Ec2VolumeAttachment *mine = volume_attachment_of(&v, a->instance_id);

                if (mine && streq_ptr(mine->state, "attached"))
                        break;
                if (!mine)
                        return path_fail(a->path, -EIO, "EC2 no longer lists %s as attached here.", v.id);
                r = take_over_wait_for_poll(a->deadline, interval);
                if (r < 0)
                        return path_fail(a->path, r, "EC2 did not report %s attached before the deadline.", v.id);
                interval = take_over_next_interval(interval, poll_max);
                r = refresh(a, &v);
                if (r < 0)
                        return r;
        }

        *ret_volume = v;
        v = (Ec2Volume) {};
        return 0;
}

int volume_detach(const VolumeAttach *a, const Ec2Volume *volume) {
        _cleanup_(aws_error_done) AwsError error = {};
        _cleanup_(ec2_volume_done) Ec2Volume v = {};
        usec_t interval = poll_first(a), poll_max = a->poll_max ?: POLL_MAX_USEC;
        int r;

        if (!volume_attachment_of(volume, a->instance_id)) {
                log_info("volume: detach: %s is not attached here; nothing to detach.", volume->id);
                return 0;
        }

        path_transition(a->path, "detach", "Detaching %s.", volume->id);
        r = ec2_detach_volume(a->aws, volume->id, a->instance_id, false, false, a->deadline, &error, NULL);
        if (r < 0 && !streq_ptr(error.code, "IncorrectState"))
                return path_fail(a->path, r, "DetachVolume of %s failed: %s%s%m", volume->id, strempty(error.code),
                                 error.code ? ": " : "");

        v.id = strdup(volume->id);
        if (!v.id)
                return log_oom();
        for (;;) {
                r = refresh(a, &v);
                if (r < 0)
                        return r;
                if (!volume_attachment_of(&v, a->instance_id) || streq_ptr(v.state, "available"))
                        break;
                r = take_over_wait_for_poll(a->deadline, interval);
                if (r < 0)
                        return path_fail(a->path, r, "Volume %s was not available before the deadline.", v.id);
                interval = take_over_next_interval(interval, poll_max);
        }
        log_info("volume: detach: %s is available.", v.id);
        return 0;
}
