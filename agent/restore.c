/* SPDX-License-Identifier: Apache-2.0 */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "restore.h"

const Ec2Snapshot *restore_newest_snapshot(const Ec2Snapshot *snapshots, size_t n) {
        const Ec2Snapshot *best = NULL;

        for (size_t i = 0; i < n; i++) {
                const Ec2Snapshot *s = &snapshots[i];

                if (!streq_ptr(s->state, "completed") || isempty(s->start_time))
                        continue;
                /* ISO 8601 in one format and zone: the string order is the
                 * time order. */
                if (!best || strcmp(s->start_time, best->start_time) > 0)
                        best = s;
        }
        return best;
}

/* Whether the snapshots with start time t are count completed ones. */
static bool set_complete(const Ec2Snapshot *snapshots, size_t n, const char *t, size_t count) {
        size_t members = 0;

        for (size_t i = 0; i < n; i++) {
                if (!streq_ptr(snapshots[i].start_time, t))
                        continue;
                if (!streq_ptr(snapshots[i].state, "completed"))
                        return false;
                members++;
        }
        return members == count;
}

static bool set_contains(const Ec2Snapshot *snapshots, size_t n, const char *t, const char *id) {
        for (size_t i = 0; i < n; i++)
                if (streq_ptr(snapshots[i].start_time, t) && streq_ptr(snapshots[i].id, id))
                        return true;
        return false;
}

int restore_pick_snapshot_set(const Ec2Snapshot *snapshots, size_t n, size_t count, const char *const *include,
                              size_t *ret_indexes) {
        const char *best = NULL;
        size_t k = 0;

        if (count == 0)
                return -EINVAL;

        for (size_t i = 0; i < n; i++) {
                const char *t = snapshots[i].start_time;
                bool ok = true;

                if (isempty(t) || (best && strcmp(t, best) <= 0))
                        continue;
                if (!set_complete(snapshots, n, t, count))
                        continue;
                for (size_t j = 0; include && include[j] && ok; j++)
                        ok = set_contains(snapshots, n, t, include[j]);
                if (ok)
                        best = t;
        }
        if (!best)
                return -ENOENT;

        /* The set's members by id, so that every boot numbers them alike
         * (the slots of restore_match_slots() and their client tokens). */
        for (size_t i = 0; i < n; i++) {
                size_t below = 0;

                if (!streq_ptr(snapshots[i].start_time, best))
                        continue;
                for (size_t j = 0; j < n; j++)
                        if (streq_ptr(snapshots[j].start_time, best) &&
                            strcmp(strempty(snapshots[j].id), strempty(snapshots[i].id)) < 0)
                                below++;
                if (below >= count)
                        return -EINVAL; /* two snapshots with one id: EC2 never says so */
                ret_indexes[below] = i;
                k++;
        }
        assert(k == count);
        return 0;
}

int restore_match_slots(const char *const *slot_from, size_t count, const char *const *existing, size_t n_existing,
                        size_t *ret_slot) {
        _cleanup_free_ bool *taken = calloc(MAX(count, 1U), sizeof(bool));
        _cleanup_free_ size_t *slot = calloc(MAX(n_existing, 1U), sizeof(size_t));

        if (!taken || !slot)
                return -ENOMEM;
        if (n_existing > count)
                return -EXDEV;
        for (size_t i = 0; i < n_existing; i++) {
                size_t k;

                for (k = 0; k < count; k++)
                        if (!taken[k] && streq_ptr(slot_from[k], existing[i]))
                                break;
                if (k == count)
                        return -EXDEV;
                taken[k] = true;
                slot[i] = k;
        }
        memcpy(ret_slot, slot, n_existing * sizeof(size_t));
        return 0;
}

int restore_plan_volume(const ConfigVolume *config, const Ec2Volume *old, const Ec2Snapshot *snapshots,
                        size_t n_snapshots, RestorePlan *ret) {
        const Ec2Snapshot *snap = NULL;
        RestorePlan p = {};

        switch (config->restore) {
        case VOLUME_RESTORE_SNAPSHOT:
                snap = restore_newest_snapshot(snapshots, n_snapshots);
                if (!snap)
                        return -ENOENT;
                break;
        case VOLUME_RESTORE_SNAPSHOT_OR_BLANK:
                snap = restore_newest_snapshot(snapshots, n_snapshots);
                break;
        case VOLUME_RESTORE_BLANK:
                break;
        case VOLUME_RESTORE_NO:
        default:
                return -EOPNOTSUPP;
        }

        p.snapshot = snap;
        if (old) {
                p.size_gib = old->size_gib;
                p.volume_type = old->volume_type;
                p.iops = old->iops;
                p.throughput = old->throughput;
                p.encrypted = old->encrypted;
                p.kms_key_id = old->kms_key_id;
        } else if (snap) {
                p.size_gib = snap->size_gib;
                p.encrypted = snap->encrypted;
                p.kms_key_id = snap->kms_key_id;
        }
        if (p.size_gib == 0)
                p.size_gib = config->size_gib;
        /* A volume from a snapshot is at least as large as it. */
        if (snap && p.size_gib < snap->size_gib)
                p.size_gib = snap->size_gib;
        if (p.size_gib == 0 && !snap)
                return -EINVAL;
        if (isempty(p.volume_type))
                p.volume_type = volume_type_to_string(config->volume_type);
        /* IOPS and throughput belong to their type: only io1/io2/gp3 take
         * them, and only from a volume of that same type. */
        *ret = p;
        return 0;
}

/* Tags a restore does not copy: nodeagent's record of the old resource's
 * history, and AWS's own (aws:cloudformation:*, aws:autoscaling:*, Data
 * Lifecycle Manager's aws:dlm:*), which no caller may set: EC2 refuses a
 * CreateVolume or CreateNetworkInterface carrying one, and every resource
 * CloudFormation makes carries some. */
bool restore_tag_is_internal(const char *key) {
        if (!key)
                return false;
        if (strncasecmp(key, "aws:", 4) == 0)
                return true;
        return startswith(key, "nodeagent:") && !streq(key, "nodeagent:cluster") && !streq(key, "nodeagent:node");
}

int restore_client_token(const char *instance_id, const char *what, const char *section, char **ret) {
        char *t;

        if (asprintf(&t, "nodeagent-%s-%s-%s", strna(instance_id), strna(what), strna(section)) < 0)
                return -ENOMEM;
        /* EC2 takes 64 characters: the instance id and the start of the
         * section name are what keep it unique. */
        if (strlen(t) > 64)
                t[64] = '\0';
        *ret = t;
        return 0;
}
