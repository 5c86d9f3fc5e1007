/* SPDX-License-Identifier: Apache-2.0 */
/* A volume path of the boot: the attach lifecycle up to the proven device
 * (volume.c, attach.c), then the filesystem (fs), then the volume's tags. */
#include "log.h"
#include "node.h"

/* Sets one of the volume's tags (volume.h) unless it carries it already. */
static int tag_volume(NodeVolume *v, PathState state, const char *key, const char *value, const char *why) {
        _cleanup_(aws_error_done) AwsError error = {};
        const Ec2Volume *e = &v->volume.ec2;
        const char *ids[] = { e->id, NULL };
        Ec2Tag tag = { .key = (char *) key, .value = (char *) value };
        int r;

        if (ec2_tags_get(e->tags, e->n_tags, key))
                return 0;

        path_transition(&v->path, state, "Tagging %s %s=%s%s.", e->id, key, value, why);
        r = ec2_create_tags(v->aws, ids, &tag, 1, false, v->volume.attach.deadline, &error);
        if (r < 0)
                return path_fail(&v->path, failure_kind_of_call(r), r, "Failed to tag %s %s: %s%s%m", e->id, key,
                                 strempty(error.code), error.code ? ": " : "");
        return 0;
}

/* Tags the volume as initialised when it carries a filesystem and no tag
 * yet: after our own mkfs, and also when an earlier run died between mkfs
 * and tagging. From then on a volume that shows no filesystem is refused,
 * never formatted. */
static int tag_initialized(NodeVolume *v) {
        if (isempty(v->fs.uuid))
                return 0;
        return tag_volume(v, PATH_STATE_TAG, VOLUME_TAG_INITIALIZED, v->fs.uuid, "");
}

typedef struct FormatIntent {
        NodeVolume *volume;
        const char *instance_id;
} FormatIntent;

/* fs_setup()'s before_format: the intent, recorded before mkfs writes its
 * first block. Should the boot die inside mkfs, the next one knows the
 * half-written blocks as ours and formats again instead of refusing the
 * volume for ever; if the tag cannot be written, nothing is formatted. */
static int tag_format_started(void *userdata) {
        FormatIntent *i = userdata;

        return tag_volume(i->volume, PATH_STATE_FILESYSTEM, VOLUME_TAG_FORMAT_STARTED, i->instance_id,
                          " before mkfs");
}

int node_run_volume(Node *n, NodeVolume *v) {
        const ConfigVolume *cfg = v->config;
        const Ec2Volume *e = &v->volume.ec2;
        const char *devnode;
        FormatIntent intent = { .volume = v, .instance_id = n->instance->instance_id };
        FsSetupOptions options = {
                .label = n->name,
                .before_format = tag_format_started,
                .userdata = &intent,
        };
        int r;

        r = volume_attach(&v->volume);
        if (r < 0)
                return r;
        devnode = v->volume.device.devnode;

        /* Proven once by its arrival; proven again right before it is touched. */
        r = blockdev_verify(devnode, e->id, v->volume.device_name);
        if (r < 0)
                return path_fail(&v->path, r == -ENODEV ? FAILURE_UNUSABLE : FAILURE_OTHER, r,
                                 "%s is no longer the device of %s: %m", devnode, e->id);

        options.marks = (FsVolumeMarks) {
                .initialized = ec2_tags_get(e->tags, e->n_tags, VOLUME_TAG_INITIALIZED) != NULL,
                .format_started = ec2_tags_get(e->tags, e->n_tags, VOLUME_TAG_FORMAT_STARTED) != NULL,
        };
        path_transition(&v->path, PATH_STATE_FILESYSTEM, "Checking and mounting %s (%s) at %s.", devnode,
                        filesystem_to_string(cfg->file_system), cfg->mount_point);
        r = fs_setup(devnode, cfg, &options, n->deadline, &v->fs);
        if (fs_error_is_refusal(r))
                /* fs has said why, once; the path only records the kind. */
                return path_fail_logged(&v->path, FAILURE_FILESYSTEM, r,
                                        "refused: the filesystem needs a person (see the journal)");
        if (r < 0 && v->path.state == PATH_STATE_FAILED)
                /* before_format failed and said why. */
                return r;
        if (r < 0)
                return path_fail(&v->path, FAILURE_OTHER, r, "Failed to set up the filesystem on %s: %m", devnode);

        /* The node may serve from here: DNS publishes while the tag below
         * is written (READY waits for both). */
        node_volume_mounted(v);

        r = tag_initialized(v);
        if (r < 0)
                return r;

        path_transition(&v->path, PATH_STATE_DONE, "%s (%s) is mounted at %s%s%s.", e->id, devnode,
                        cfg->mount_point, v->fs.formatted ? ", newly formatted" : "", v->fs.grown ? ", grown" : "");
        return 0;
}
