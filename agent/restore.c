/* SPDX-License-Identifier: Apache-2.0 */
#include <stdio.h>
#include <stdlib.h>
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
