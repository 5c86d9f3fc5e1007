/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* A node's volume lost with its availability zone, or gone (DESIGN.md,
 * "Lost volumes and lost zones"): what to make in this zone instead, from
 * the newest completed snapshot carrying the node's tag, or blank, and with
 * which parameters. Pure: the volume path (volume.c) does the calls.
 *
 * Parameters come from the lost volume when it is known (its type, size,
 * IOPS, throughput, encryption and KMS key), else from the snapshot (its
 * size, encryption and key), else from the section's Size= and VolumeType=. */

#include "attach.h"
#include "config.h"
#include "ec2.h"

/* The volume's tags that record a restore. RESTORED_FROM is on the new
 * volume (the snapshot id, or "blank"); REPLACED_BY on the lost one (the
 * new volume's id): lookups by Tag= skip a volume that carries it. */
#define RESTORE_TAG_RESTORED_FROM ATTACH_TAG_RESTORED_FROM
#define RESTORE_TAG_REPLACED_BY ATTACH_TAG_REPLACED_BY
#define RESTORE_FROM_BLANK "blank"

typedef struct RestorePlan {
        const Ec2Snapshot *snapshot;    /* borrowed; NULL: blank */
        uint64_t size_gib;
        const char *volume_type;        /* borrowed */
        uint64_t iops;                  /* 0: EC2's default for the type */
        uint64_t throughput;
        bool encrypted;
        const char *kms_key_id;         /* borrowed; NULL: the account's default */
} RestorePlan;

/* The newest completed snapshot among n (by start time), NULL when none:
 * a pending one is not a restore point yet. */
const Ec2Snapshot *restore_newest_snapshot(const Ec2Snapshot *snapshots, size_t n);

/* A striped set's restore point (Tag= + Count=): the newest complete
 * multi-volume snapshot set among n, since per-volume snapshots of a RAID 0
 * are not consistent with each other. A set is what one CreateSnapshots
 * makes: snapshots with the same start time (EC2 gives them one). It is
 * complete when exactly count snapshots have that start time and every one
 * is completed; a set with a pending member, or of another size, is
 * skipped whole. include (NULL-terminated, may be NULL): snapshot ids the
 * set must contain, those a killed boot's restore began from, so that its
 * volumes and the rest come from one set. Fills ret_indexes (count entries)
 * with the set's indexes into snapshots, ordered by snapshot id: -ENOENT
 * when there is no such set. */
int restore_pick_snapshot_set(const Ec2Snapshot *snapshots, size_t n, size_t count, const char *const *include,
                              size_t *ret_indexes);

/* A set's restore is count slots, each made from slot_from[k] (a snapshot
 * id, or RESTORE_FROM_BLANK). existing: the restored-from values of the
 * set's volumes already in this zone (a killed boot's restore); each takes
 * the first free slot of its origin, so that only the rest are created.
 * Fills ret_slot (n_existing entries). -EXDEV when one fits no free slot:
 * the volumes in this zone are not of this restore, and a set is never a
 * mix. */
int restore_match_slots(const char *const *slot_from, size_t count, const char *const *existing, size_t n_existing,
                        size_t *ret_slot);

/* Decides what to restore from. old: the lost volume (NULL when none is
 * known). snapshots: those carrying the node's tag.
 *   -ENOENT    Restore=snapshot and no completed snapshot
 *   -EINVAL    a blank volume with nothing to size it by (no lost volume,
 *              no snapshot, no Size=)
 *   -EOPNOTSUPP Restore=no */
int restore_plan_volume(const ConfigVolume *config, const Ec2Volume *old, const Ec2Snapshot *snapshots,
                        size_t n_snapshots, RestorePlan *ret);

/* Whether a tag key is nodeagent's own record of a volume's history (those
 * are never copied to a new volume: it has a history of its own). */
bool restore_tag_is_internal(const char *key);

/* The client token of a restore: the same for every attempt of this
 * instance for this section (a boot killed after CreateVolume gets the same
 * volume back), at most 64 characters as EC2 allows. */
int restore_client_token(const char *instance_id, const char *what, const char *section, char **ret);
