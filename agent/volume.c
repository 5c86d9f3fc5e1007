/* SPDX-License-Identifier: Apache-2.0 */
#include <stdio.h>
#include <stdlib.h>

#include "log.h"
#include "volume.h"

static Volume *volume_of(const Attach *a) {
        return a->kind;
}

const Ec2VolumeAttachment *volume_attachment_of(const Ec2Volume *v, const char *instance_id) {
        for (size_t i = 0; i < v->n_attachments; i++)
                if (streq_ptr(v->attachments[i].instance_id, instance_id))
                        return &v->attachments[i];
        return NULL;
}

/* The first live attachment to another instance, NULL when there is none. */
static const Ec2VolumeAttachment *attachment_elsewhere(const Ec2Volume *v, const char *instance_id) {
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

static int volume_list(Attach *a, const char *id, const Ec2Filter *filter, AwsError *error, size_t *ret_n) {
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

static void volume_keep(Attach *a, size_t i) {
        Volume *v = volume_of(a);

        ec2_volume_done(&v->ec2);
        v->ec2 = v->listed[i];
        v->listed[i] = (Ec2Volume) {};
        drop_listed(v);
        a->id = v->ec2.id;
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
        const Ec2VolumeAttachment *held = attachment_elsewhere(&v->ec2, a->instance_id);

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
        const Ec2VolumeAttachment *mine = volume_attachment_of(&v->ec2, a->instance_id);
        static _Thread_local char buf[64];

        (void) snprintf(buf, sizeof(buf), "as %s", mine && mine->device ? mine->device : v->config->device);
        return buf;
}

static int volume_send_attach(Attach *a, AwsError *ret_error) {
        Volume *v = volume_of(a);

        return ec2_attach_volume(a->aws, a->id, a->instance_id, v->config->device, false, a->deadline, ret_error,
                                 NULL);
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
                r = blockdev_watch_new(a->id, v->config->device, &v->watch);
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
        .keep = volume_keep,
        .view = volume_view,
        .where = volume_where,
        .attach = volume_send_attach,
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
                },
        };
}

void volume_done(Volume *v) {
        if (!v)
                return;
        drop_listed(v);
        v->watch = blockdev_watch_free(v->watch);
        ec2_volume_done(&v->ec2);
        block_device_done(&v->device);
        v->attach.id = NULL;
}

int volume_attach(Volume *v) {
        int r;

        r = attach_run(&v->attach);
        if (r < 0)
                return r;

        r = blockdev_set_ebs_io_timeout(&v->device);
        if (r < 0)
                log_warning_errno(r, "%s: Failed to set the NVMe I/O timeout of %s, continuing: %m", v->attach.path->name,
                                  v->device.devnode);
        return 0;
}

int volume_attach_to_ec2(Volume *v) {
        return attach_run_to_ec2(&v->attach);
}

int volume_find(Volume *v) {
        return attach_find(&v->attach);
}

int volume_detach(Volume *v) {
        return attach_release(&v->attach);
}
