/* SPDX-License-Identifier: Apache-2.0 */
/* A volume path of the boot: the attach lifecycle up to the proven device
 * of each volume of the section (volume.c, attach.c), for a striped set the
 * array over them, then the filesystem (fs), then the volumes' tags. */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>

#include "log.h"
#include "notify.h"
#include "node.h"
#include "raid.h"
#include "restore.h"

/* The ids of every member, for one CreateTags call. */
static const char **member_ids(const NodeVolume *v) {
        const char **ids = calloc(v->n_members + 1, sizeof(char *));

        for (size_t k = 0; ids && k < v->n_members; k++)
                ids[k] = v->members[k].ec2.id;
        return ids;
}

/* Whether every member carries the tag key already. */
static bool members_tagged(const NodeVolume *v, const char *key) {
        for (size_t k = 0; k < v->n_members; k++)
                if (!ec2_tags_get(v->members[k].ec2.tags, v->members[k].ec2.n_tags, key))
                        return false;
        return true;
}

/* Sets one of the volumes' tags (volume.h) on every member that lacks it,
 * in one CreateTags call for the whole set. */
static int tag_volumes(NodeVolume *v, PathState state, const char *key, const char *value, const char *why) {
        _cleanup_(aws_error_done) AwsError error = {};
        _cleanup_free_ const char **ids = NULL;
        Ec2Tag tag = { .key = (char *) key, .value = (char *) value };
        int r;

        if (members_tagged(v, key))
                return 0;
        ids = member_ids(v);
        if (!ids)
                return log_oom();

        path_transition(&v->path, state, "Tagging %s%s %s=%s%s.", v->members[0].ec2.id,
                        v->n_members > 1 ? " and the set's other members" : "", key, value, why);
        r = ec2_create_tags(v->aws, ids, &tag, 1, false, v->members[0].attach.deadline, &error);
        if (r < 0)
                return path_fail(&v->path, failure_kind_of_call(r), r, "Failed to tag %s %s: %s%s%m",
                                 v->members[0].ec2.id, key, strempty(error.code), error.code ? ": " : "");
        return 0;
}

/* Tags the volumes as initialised when they carry a filesystem and no tag
 * yet: after our own mkfs, and also when an earlier run died between mkfs
 * and tagging. From then on a volume that shows no filesystem is refused,
 * never formatted. */
static int tag_initialized(NodeVolume *v) {
        /* A set's members carry the array's UUID, which names the array
         * they must assemble into (raid.h); a volume its filesystem's. */
        const char *uuid = v->md_name ? v->array_uuid : v->fs.uuid;

        if (isempty(uuid))
                return 0;
        return tag_volumes(v, PATH_STATE_TAG, VOLUME_TAG_INITIALIZED, uuid, "");
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

        return tag_volumes(i->volume, PATH_STATE_FILESYSTEM, VOLUME_TAG_FORMAT_STARTED, i->instance_id,
                           " before mkfs");
}

/* What the volumes' tags say about their contents. A volume restored from
 * a snapshot holds the snapshot's data: never formatted, as an initialised
 * one. */
static FsVolumeMarks volume_marks(const NodeVolume *v) {
        FsVolumeMarks m = { .initialized = members_tagged(v, VOLUME_TAG_INITIALIZED) };

        /* A set: what raid_setup() made of the members' tags (format-started
         * on every member, not on one), and a restore below. */
        if (v->md_name)
                m = v->array_marks;

        for (size_t k = 0; k < v->n_members; k++) {
                const Ec2Volume *e = &v->members[k].ec2;
                const char *from = ec2_tags_get(e->tags, e->n_tags, RESTORE_TAG_RESTORED_FROM);

                if (ec2_tags_get(e->tags, e->n_tags, VOLUME_TAG_INITIALIZED) ||
                    (from && !streq(from, RESTORE_FROM_BLANK)))
                        m.initialized = true;
                if (!v->md_name && ec2_tags_get(e->tags, e->n_tags, VOLUME_TAG_FORMAT_STARTED))
                        m.format_started = true;
        }
        return m;
}

static bool restored_from_snapshot(const NodeVolume *v) {
        for (size_t k = 0; k < v->n_members; k++) {
                const Ec2Volume *e = &v->members[k].ec2;
                const char *from = ec2_tags_get(e->tags, e->n_tags, RESTORE_TAG_RESTORED_FROM);

                if (from && !streq(from, RESTORE_FROM_BLANK) && !ec2_tags_get(e->tags, e->n_tags,
                                                                                VOLUME_TAG_INITIALIZED))
                        return true;
        }
        return false;
}

/* A mount point inside another volume's mount: that one first. */
static int wait_for_parent(Node *n, NodeVolume *v) {
        NodeVolume *parent = node_parent_volume(n, v);
        int r;

        if (!parent)
                return 0;
        if (!atomic_load(&parent->mounted))
                path_transition(&v->path, PATH_STATE_FILESYSTEM, "%s is inside %s: waiting for %s to be mounted.",
                                v->config->mount_point, parent->config->mount_point, parent->path.name);
        r = node_wait_for_parent_mount(n, v);
        if (r == -ECANCELED)
                return path_fail(&v->path, FAILURE_CANCELLED, r, "Not mounting: %s failed.", parent->path.name);
        if (r < 0)
                return path_fail(&v->path, FAILURE_OTHER, r, "Failed to wait for %s: %m", parent->path.name);
        return 0;
}

/* The filesystem on v->devnode: check (or format, when provably blank),
 * mount, grow; then the tags. */
static int setup_filesystem(Node *n, NodeVolume *v) {
        const ConfigVolume *cfg = v->config;
        FormatIntent intent = { .volume = v, .instance_id = n->instance->instance_id };
        FsSetupOptions options = {
                .label = n->name,
                .marks = volume_marks(v),
                .before_format = tag_format_started,
                .userdata = &intent,
        };
        int r;

        r = wait_for_parent(n, v);
        if (r < 0)
                return r;

        path_transition(&v->path, PATH_STATE_FILESYSTEM, "Checking and mounting %s (%s) at %s.", v->devnode,
                        filesystem_to_string(cfg->file_system), cfg->mount_point);
        if (restored_from_snapshot(v)) {
                /* Its blocks load lazily from S3 as they are first read: the
                 * first fsck can take long. Not a hang: tell systemd. */
                log_info("%s: filesystem: restored from a snapshot, its first check reads it from S3 and can be "
                         "slow.", v->path.name);
                notify_extend_timeout(usec_add(usec_left(n->deadline), 30 * USEC_PER_SEC));
        }
        r = fs_setup(v->devnode, cfg, &options, n->deadline, &v->fs);
        if (fs_error_is_refusal(r))
                /* fs has said why, once; the path only records the kind. */
                return path_fail_logged(&v->path, FAILURE_FILESYSTEM, r,
                                        "refused: the filesystem needs a person (see the journal)");
        if (r < 0 && v->path.state == PATH_STATE_FAILED)
                /* before_format failed and said why. */
                return r;
        if (r < 0)
                return path_fail(&v->path, FAILURE_OTHER, r, "Failed to set up the filesystem on %s: %m", v->devnode);

        /* The node may serve from here: DNS publishes while the tag below
         * is written (READY waits for both). */
        node_volume_mounted(v);

        r = tag_initialized(v);
        if (r < 0)
                return r;

        path_transition(&v->path, PATH_STATE_DONE, "%s (%s) is mounted at %s%s%s.", v->members[0].ec2.id, v->devnode,
                        cfg->mount_point, v->fs.formatted ? ", newly formatted" : "", v->fs.grown ? ", grown" : "");
        return 0;
}

/* Proven once by its arrival; proven again right before it is touched. A
 * Xen instance's disks carry no serial: only one volume can be told apart
 * there, by the name it was attached as. */
static int verify_member(Node *n, NodeVolume *v, Volume *m) {
        int r;

        if (m->device.source == BLOCK_SERIAL_SOURCE_XEN_NAME && (n->n_volumes > 1 || v->n_members > 1))
                return path_fail(&v->path, FAILURE_CONFIG, -EINVAL, "%s shows no serial (a Xen instance): only one "
                                 "[Volume] can be told apart by its device name there; [Volume:NAME] sections and "
                                 "striped sets need a Nitro instance.", m->device.devnode);

        r = blockdev_verify(m->device.devnode, m->ec2.id, m->device_name);
        if (r < 0)
                return path_fail(&v->path, r == -ENODEV ? FAILURE_UNUSABLE : FAILURE_OTHER, r,
                                 "%s is no longer the device of %s: %m", m->device.devnode, m->ec2.id);
        return 0;
}

static int run_plain(Node *n, NodeVolume *v) {
        Volume *m = &v->members[0];
        int r;

        r = volume_attach(m);
        if (r < 0)
                return r;
        r = verify_member(n, v, m);
        if (r < 0)
                return r;
        v->devnode = strdup(m->device.devnode);
        if (!v->devnode)
                return log_oom();
        v->size = m->device.size;
        return setup_filesystem(n, v);
}

/* raid_setup()'s before_write: before mdadm --create writes its first
 * superblock, every member is tagged nodeagent:format-started, so that a
 * boot killed between the array and its filesystem knows both as its own
 * (and formats the array, not refuses it for ever). */
static int before_array_write(RaidWrite what, const char *md_device, void *userdata) {
        FormatIntent *i = userdata;

        if (what != RAID_WRITE_CREATE)
                return 0;
        return tag_volumes(i->volume, PATH_STATE_ARRAY, VOLUME_TAG_FORMAT_STARTED, i->instance_id,
                           " before mdadm --create");
}

/* The md array over the proven members (raid.h): created, assembled or
 * adopted; its /dev/md/<name> becomes the section's device. */
static int setup_array(Node *n, NodeVolume *v) {
        _cleanup_(raid_result_done) RaidResult result = {};
        _cleanup_free_ RaidMember *members = NULL;
        FormatIntent intent = { .volume = v, .instance_id = n->instance->instance_id };
        RaidSetupOptions options = {
                /* A set restored from snapshots holds their data, even
                 * where it reads as zeros: never a new array over it. */
                .allow_create = v->config->format == FORMAT_IF_BLANK && !restored_from_snapshot(v),
                .before_write = before_array_write,
                .userdata = &intent,
        };
        int r;

        /* node_volume_init() gives every volume one member at least. */
        assert(v->n_members > 0);
        members = calloc(v->n_members, sizeof(RaidMember));
        if (!members)
                return log_oom();
        r = raid_md_name(n->name, v->config->section, &v->md_name);
        if (r < 0)
                return path_fail(&v->path, FAILURE_OTHER, r, "Failed to name the array: %m");

        /* Id= records the members' places in its order; Tag= + Count= by
         * volume id, and the superblocks alone say which is where. */
        for (size_t k = 0; k < v->n_members; k++) {
                const Ec2Volume *e = &v->members[k].ec2;
                const char *from = ec2_tags_get(e->tags, e->n_tags, RESTORE_TAG_RESTORED_FROM);

                members[k] = (RaidMember) {
                        .volume_id = e->id,
                        .devnode = v->members[k].device.devnode,
                        .slot = v->config->n_ids > 1 ? (int) k : -1,
                        .initialized = ec2_tags_get(e->tags, e->n_tags, VOLUME_TAG_INITIALIZED),
                        .format_started = ec2_tags_get(e->tags, e->n_tags, VOLUME_TAG_FORMAT_STARTED) != NULL,
                        .restored = from && !streq(from, RESTORE_FROM_BLANK),
                };
        }
        if (v->config->n_ids <= 1)
                raid_members_sort(members, v->n_members);

        path_transition(&v->path, PATH_STATE_ARRAY, "Setting up md array %s (RAID 0) over %zu members.", v->md_name,
                        v->n_members);
        r = raid_setup(v->md_name, members, v->n_members, &options, n->deadline, &result);
        if (raid_error_is_refusal(r))
                /* raid has said why, once. */
                return path_fail_logged(&v->path, FAILURE_FILESYSTEM, r,
                                        "refused: the set needs a person (see the journal)");
        if (r < 0 && v->path.state == PATH_STATE_FAILED)
                /* before_write failed and said why. */
                return r;
        if (r < 0)
                return path_fail(&v->path, r == -ETIME ? FAILURE_DEADLINE : FAILURE_OTHER, r,
                                 "Failed to set up md array %s: %m", v->md_name);

        (void) fs_device_size(result.device, &v->size);
        v->devnode = TAKE_PTR(result.device);
        v->array_uuid = TAKE_PTR(result.uuid);
        v->array_marks = result.marks;
        return 0;
}

/* A striped set: every member attached (their attaches overlapping), each
 * proven, then the array over them. */
static int run_set(Node *n, NodeVolume *v) {
        int r;

        for (size_t k = 0; k < v->n_members; k++) {
                r = attach_start(&v->members[k].attach);
                if (r < 0)
                        return r;
        }
        for (size_t k = 0; k < v->n_members; k++) {
                r = volume_attach_complete(&v->members[k]);
                if (r < 0)
                        return r;
                r = verify_member(n, v, &v->members[k]);
                if (r < 0)
                        return r;
        }
        r = setup_array(n, v);
        if (r < 0)
                return r;
        return setup_filesystem(n, v);
}

int node_run_volume(Node *n, NodeVolume *v) {
        if (v->config->stripe != STRIPE_NONE)
                return run_set(n, v);
        return run_plain(n, v);
}
