/* SPDX-License-Identifier: Apache-2.0 */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>

#include <inttypes.h>

#include "devname.h"
#include "log.h"
#include "restore.h"
#include "volume-restore.h"

const Ec2VolumeAttachment *volume_attachment_of(const Ec2Volume *v, const char *instance_id) {
        for (size_t i = 0; i < v->n_attachments; i++)
                if (streq_ptr(v->attachments[i].instance_id, instance_id))
                        return &v->attachments[i];
        return NULL;
}

/* The first live attachment to another instance, NULL when there is none. */
const Ec2VolumeAttachment *volume_attachment_elsewhere(const Ec2Volume *v, const char *instance_id) {
        for (size_t i = 0; i < v->n_attachments; i++)
                if (!streq_ptr(v->attachments[i].instance_id, instance_id) &&
                    !streq_ptr(v->attachments[i].state, "detached"))
                        return &v->attachments[i];
        return NULL;
}

static void drop_listed(Volume *v) {
        v->listed = ec2_volumes_free(v->listed, v->n_listed);
        v->n_listed = 0;
}

int volume_list(Attach *a, const char *id, const Ec2Filter *filter, AwsError *error, size_t *ret_n) {
        Volume *v = volume_of(a);
        const char *ids[] = { id, NULL };
        int r;

        drop_listed(v);
        r = ec2_describe_volumes(a->aws, id ? ids : NULL, filter, filter ? 1 : 0, false, a->deadline, error,
                                 &v->listed, &v->n_listed);
        if (r < 0)
                return r;
        *ret_n = v->n_listed;
        return 0;
}

static void volume_candidate(const Attach *a, size_t i, ZoneCandidate *ret) {
        const Ec2Volume *e = &volume_of(a)->listed[i];

        *ret = (ZoneCandidate) { .id = e->id, .availability_zone = e->az, .state = e->state };
}

static bool device_auto(const Volume *v) {
        return streq_ptr(v->config->device, "auto");
}

/* The name the volume is attached as, once EC2 says: it wins over a pick. */
static void adopt_attached_name(Volume *v, const char *instance_id) {
        const Ec2VolumeAttachment *mine = volume_attachment_of(&v->ec2, instance_id);
        char *copy;

        if (!mine || isempty(mine->device) || streq_ptr(mine->device, v->device_name))
                return;
        copy = strdup(mine->device);
        if (!copy)
                return;
        if (v->device_name_picked)
                devname_release(v->device_name);
        free(v->device_name);
        v->device_name = copy;
        v->device_name_picked = false;
}

void volume_keep(Attach *a, size_t i) {
        Volume *v = volume_of(a);

        ec2_volume_done(&v->ec2);
        v->ec2 = v->listed[i];
        v->listed[i] = (Ec2Volume) {};
        drop_listed(v);
        a->id = v->ec2.id;
        adopt_attached_name(v, a->instance_id);
}

static const char *volume_candidate_tag(const Attach *a, size_t i, const char *key) {
        const Ec2Volume *e = &volume_of(a)->listed[i];

        return ec2_tags_get(e->tags, e->n_tags, key);
}

static AttachMine mine_of(const char *state) {
        if (streq_ptr(state, "attaching"))
                return ATTACH_MINE_ATTACHING;
        if (streq_ptr(state, "attached") || streq_ptr(state, "busy"))
                return ATTACH_MINE_ATTACHED;
        if (streq_ptr(state, "detaching"))
                return ATTACH_MINE_DETACHING;
        return ATTACH_MINE_NONE;
}

static void volume_view(const Attach *a, AttachView *ret) {
        const Volume *v = volume_of(a);
        const Ec2VolumeAttachment *mine = volume_attachment_of(&v->ec2, a->instance_id);
        const Ec2VolumeAttachment *held = volume_attachment_elsewhere(&v->ec2, a->instance_id);

        *ret = (AttachView) {
                .mine = mine ? mine_of(mine->state) : ATTACH_MINE_NONE,
                .holder = held ? held->instance_id : NULL,
                .holder_state = held ? held->state : NULL,
                /* In use but listing no attachment: a detach that is just ending. */
                .busy = !held && !mine && streq_ptr(v->ec2.state, "in-use"),
        };
}

static const char *volume_where(const Attach *a) {
        const Volume *v = volume_of(a);
        static _Thread_local char buf[64];

        if (v->device_name)
                (void) snprintf(buf, sizeof(buf), "as %s", v->device_name);
        else
                (void) snprintf(buf, sizeof(buf), "as the first free name from /dev/sd%c to /dev/sd%c",
                                DEVNAME_FIRST, DEVNAME_LAST);
        return buf;
}

/* Device=auto: the first name the instance's block-device mappings (its
 * AMI's, and volumes attached earlier), this boot's other volumes and
 * EC2's refusals leave free. */
static int pick_device_name(Attach *a) {
        _cleanup_(aws_error_done) AwsError e = {};
        Volume *v = volume_of(a);
        const char *ids[] = { a->instance_id, NULL };
        Ec2Instance *instances = NULL;
        size_t n = 0;
        int r;

        r = ec2_describe_instances(a->aws, ids, NULL, 0, false, a->deadline, &e, &instances, &n);
        if (r >= 0 && n == 0)
                r = -ENOENT;
        if (r < 0) {
                ec2_instances_free(instances, n);
                return path_fail(a->path, failure_kind_of_call(r), r, "Failed to read the block-device mappings of "
                                 "%s: %s%s%m", a->instance_id, strempty(e.code), e.code ? ": " : "");
        }
        r = devname_pick(instances[0].block_devices, &v->device_name);
        ec2_instances_free(instances, n);
        if (r == -ENOSPC)
                return path_fail(a->path, FAILURE_UNUSABLE, r, "No device name from /dev/sd%c to /dev/sd%c is free "
                                 "on this instance for %s (its block-device mappings, the other volumes and EC2's "
                                 "refusals take them all).", DEVNAME_FIRST, DEVNAME_LAST, a->id);
        if (r < 0)
                return path_fail(a->path, FAILURE_OTHER, r, "Failed to pick a device name: %m");
        v->device_name_picked = true;
        log_info("%s: attach: %s is free on this instance (Device=auto).", a->path->name, v->device_name);
        return 0;
}

static int volume_send_attach(Attach *a, AwsError *ret_error) {
        Volume *v = volume_of(a);
        int r;

        /* A volume a restore of ours made, found again by the boot after
         * the one that made it was killed: EC2 attaches it only once it is
         * available. */
        if (streq_ptr(v->ec2.state, "creating")) {
                _cleanup_free_ char *id = strdup(a->id);

                if (!id)
                        return log_oom();
                log_info("%s: attach: %s is still being created; waiting until it is available.", a->path->name, id);
                r = volume_wait_available(a, id);
                if (r < 0)
                        return r;
        }
        if (!v->device_name) {
                r = pick_device_name(a);
                if (r < 0)
                        return r;
        }
        return ec2_attach_volume(a->aws, a->id, a->instance_id, v->device_name, false, a->deadline, ret_error,
                                 NULL);
}

/* EC2 says the name is in use here: under Device=auto the next one, never
 * this one again this boot; a configured name is the operator's to change. */
static int volume_name_refused(Attach *a, const AwsError *e) {
        Volume *v = volume_of(a);

        if (!device_auto(v))
                return path_fail(a->path, FAILURE_UNUSABLE, -EADDRINUSE, "Device=%s is in use on this instance "
                                 "(EC2: %s): set Device=auto, or another name that is free.", v->device_name,
                                 strna(e->message));

        log_notice("%s: attach: EC2 refused %s (%s); trying the next free name.", a->path->name, v->device_name,
                   strna(e->message));
        devname_refused(v->device_name);
        v->device_name = mfree(v->device_name);
        v->device_name_picked = false;
        return pick_device_name(a) < 0 ? -EADDRINUSE : 1;
}

static int volume_send_detach(Attach *a, const char *holder, bool force, AwsError *ret_error) {
        return ec2_detach_volume(a->aws, a->id, holder, force, false, a->deadline, ret_error, NULL);
}

static char *volume_local_name(const Attach *a) {
        char *s;

        /* The serial is the id without its dash: vol-0123... -> vol0123... */
        if (asprintf(&s, "the block device with serial %.3s%s", a->id, a->id + 4) < 0)
                return NULL;
        return s;
}

static int volume_wait_local(Attach *a, usec_t until) {
        Volume *v = volume_of(a);
        int r;

        if (!v->watch) {
                r = blockdev_watch_new(a->id, v->device_name, &v->watch);
                if (r < 0)
                        return r;
        }
        r = blockdev_watch_wait(v->watch, until, &v->device);
        if (r <= 0)
                return r;

        log_info("%s: %s: %s is %s (serial %s, proven by %s).", a->path->name,
                 path_state_to_string(a->path->state), a->id, v->device.devnode, strna(v->device.serial),
                 block_serial_source_to_string(v->device.source));
        return 1;
}

static void volume_local_done(Attach *a) {
        Volume *v = volume_of(a);

        v->watch = blockdev_watch_free(v->watch);
}

static const AttachOps volume_ops = {
        .what = "volume",
        .what_title = "Volume",
        .zone_note = "an EBS volume attaches only within its availability zone",
        .wait_state = PATH_STATE_WAIT_DEVICE,
        .list = volume_list,
        .candidate = volume_candidate,
        .candidate_tag = volume_candidate_tag,
        .keep = volume_keep,
        .view = volume_view,
        .where = volume_where,
        .attach = volume_send_attach,
        .name_refused = volume_name_refused,
        .restore = volume_restore,
        .plan_restore = volume_plan_restore,
        .detach = volume_send_detach,
        .local_name = volume_local_name,
        .wait_local = volume_wait_local,
        .local_done = volume_local_done,
};

const AttachOps *volume_attach_ops(void) {
        return &volume_ops;
}

void volume_init(Volume *v, const ConfigVolume *config, Path *path, AwsClient *aws, const char *instance_id,
                 const char *availability_zone, usec_t deadline) {
        *v = (Volume) {
                .config = config,
                .attach = {
                        .ops = &volume_ops,
                        .kind = v,
                        .path = path,
                        .aws = aws,
                        .instance_id = instance_id,
                        .availability_zone = availability_zone,
                        .deadline = deadline,
                        .want_id = config->id,
                        .want_tag = &config->tag,
                        .take_over = config->take_over,
                        .take_over_timeout = config->take_over_timeout,
                        .restore = config->restore != VOLUME_RESTORE_NO,
                },
        };
        if (!streq_ptr(config->device, "auto"))
                v->device_name = strdup(config->device);
}

void volume_set_member(Volume *v, size_t k) {
        const ConfigVolume *config = v->config;

        if (config->n_ids > 1) {
                assert(k < config->n_ids);
                v->attach.want_id = config->ids[k];
        } else if (config->count > 0) {
                assert(k < config->count);
                v->attach.set_count = config->count;
                v->attach.set_index = k;
        }
}

void volume_done(Volume *v) {
        if (!v)
                return;
        drop_listed(v);
        v->watch = blockdev_watch_free(v->watch);
        ec2_volume_done(&v->ec2);
        block_device_done(&v->device);
        if (v->device_name_picked)
                devname_release(v->device_name);
        v->device_name = mfree(v->device_name);
        v->attach.restore_plan = mfree(v->attach.restore_plan);
        v->attach.id = NULL;
}

static void set_io_timeout(Volume *v) {
        int r;

        r = blockdev_set_ebs_io_timeout(&v->device);
        if (r < 0)
                log_warning_errno(r, "%s: Failed to set the NVMe I/O timeout of %s, continuing: %m", v->attach.path->name,
                                  v->device.devnode);
}

int volume_attach_complete(Volume *v) {
        int r;

        r = attach_complete(&v->attach);
        if (r < 0)
                return r;
        set_io_timeout(v);
        return 0;
}

int volume_attach(Volume *v) {
        int r;

        r = attach_run(&v->attach);
        if (r < 0)
                return r;

        set_io_timeout(v);
        return 0;
}

int volume_attach_to_ec2(Volume *v) {
        return attach_run_to_ec2(&v->attach);
}

int volume_find(Volume *v) {
        return attach_find(&v->attach);
}

int volume_find_or_plan(Volume *v) {
        return attach_find_or_plan(&v->attach);
}

int volume_detach(Volume *v) {
        return attach_release(&v->attach);
}
