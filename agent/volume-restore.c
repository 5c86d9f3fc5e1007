/* SPDX-License-Identifier: Apache-2.0 */
/* Restore= of a volume (DESIGN.md, "Lost volumes and lost zones"): the
 * volume's restore() and plan_restore() of the attach lifecycle, a single
 * volume's and a striped set's (from one multi-volume snapshot set). The
 * decisions are restore.c's; this file makes the calls. */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <inttypes.h>

#include "log.h"
#include "restore.h"
#include "volume-restore.h"

/* A lost volume attached to a live instance (its zone half there, a split
 * brain) may still be written: it gets TakeOverTimeout to let go before a
 * copy is made here. One that is free, or held by a dead instance, does
 * not hold the restore up. */
static int wait_for_lost_holder(Attach *a, Ec2Volume *old) {
        BackoffPolicy policy = attach_poll_policy();
        Backoff poll = BACKOFF_INIT(&policy);
        usec_t give_up = usec_add(now(CLOCK_MONOTONIC), a->take_over_timeout);
        int r;

        for (;;) {
                _cleanup_(aws_error_done) AwsError e = {};
                _cleanup_free_ char *state = NULL;
                const Ec2VolumeAttachment *held = volume_attachment_elsewhere(old, a->instance_id);
                const char *ids[] = { old->id, NULL };
                Ec2Volume *fresh = NULL;
                size_t n = 0;

                if (!held)
                        return 0;
                r = attach_instance_state(a, held->instance_id, &state);
                if (r < 0)
                        return r;
                if (!streq(state, "running") && !streq(state, "pending") && !streq(state, "stopping"))
                        return 0;
                if (now(CLOCK_MONOTONIC) >= give_up) {
                        log_notice("%s: restore: %s is still attached to %s (%s) after TakeOverTimeout=%s; making "
                                   "the copy here anyway.", a->path->name, old->id, held->instance_id, state,
                                   FORMAT_DURATION(a->take_over_timeout));
                        return 0;
                }
                path_transition(a->path, PATH_STATE_RESTORE, "The lost volume %s is attached to %s, which is %s; "
                                "waiting for it to let go (up to %s more).", old->id, held->instance_id, state,
                                FORMAT_DURATION(usec_left(give_up)));
                r = attach_wait_poll(a, &poll, usec_add(give_up, USEC_PER_MSEC));
                if (r < 0)
                        return path_fail(a->path, FAILURE_DEADLINE, r, "The deadline passed while the lost volume %s "
                                         "was attached to %s.", old->id, held->instance_id);
                r = ec2_describe_volumes(a->aws, ids, NULL, 0, false, a->deadline, &e, &fresh, &n);
                if (r < 0) {
                        ec2_volumes_free(fresh, n);
                        return path_fail(a->path, failure_kind_of_call(r), r, "Failed to describe %s: %s%s%m", old->id,
                                         strempty(e.code), e.code ? ": " : "");
                }
                if (n == 0) {
                        ec2_volumes_free(fresh, n);
                        return 0;
                }
                ec2_volume_done(old);
                *old = fresh[0];
                fresh[0] = (Ec2Volume) {};
                ec2_volumes_free(fresh, n);
        }
}

static int find_snapshots(Attach *a, Ec2Snapshot **ret, size_t *ret_n) {
        _cleanup_(aws_error_done) AwsError e = {};
        _cleanup_free_ char *filter_name = NULL;
        const char *values[] = { a->want_tag->value, NULL };
        int r;

        if (asprintf(&filter_name, "tag:%s", a->want_tag->key) < 0)
                return log_oom();
        r = ec2_describe_snapshots(a->aws, NULL, &(Ec2Filter) { .name = filter_name, .values = values }, 1, false,
                                   a->deadline, &e, ret, ret_n);
        if (r < 0)
                return path_fail(a->path, failure_kind_of_call(r), r, "Failed to look for snapshots tagged %s=%s: "
                                 "%s%s%m", a->want_tag->key, a->want_tag->value, strempty(e.code),
                                 e.code ? ": " : "");
        return 0;
}

/* The new volume's tags from the start: the lost volume's (or the
 * snapshot's) own tags, not nodeagent's record of their history, plus the
 * node's Tag= and where it comes from. */
static int restore_tags(Attach *a, const Ec2Volume *old, const RestorePlan *plan, Ec2Tag **ret, size_t *ret_n) {
        const Ec2Tag *from = old ? old->tags : plan->snapshot ? plan->snapshot->tags : NULL;
        size_t n_from = old ? old->n_tags : plan->snapshot ? plan->snapshot->n_tags : 0, k = 0;
        Ec2Tag *tags = calloc(n_from + 2, sizeof(Ec2Tag));

        if (!tags)
                return log_oom();
        for (size_t i = 0; i < n_from; i++)
                if (!restore_tag_is_internal(from[i].key) && !streq_ptr(from[i].key, a->want_tag->key))
                        tags[k++] = from[i];
        tags[k++] = (Ec2Tag) { .key = a->want_tag->key, .value = a->want_tag->value };
        tags[k++] = (Ec2Tag) { .key = (char *) RESTORE_TAG_RESTORED_FROM,
                               .value = plan->snapshot ? plan->snapshot->id : (char *) RESTORE_FROM_BLANK };
        *ret = tags;
        *ret_n = k;
        return 0;
}

/* member: "volume", or "volume<k>" for the k-th slot of a set (its own
 * client token). */
static int create_restored(Attach *a, const Ec2Volume *old, const RestorePlan *plan, const char *member,
                           char **ret_id) {
        _cleanup_(aws_error_done) AwsError e = {};
        _cleanup_(ec2_volume_done) Ec2Volume created = {};
        _cleanup_free_ Ec2Tag *tags = NULL;
        _cleanup_free_ char *token = NULL;
        Volume *v = volume_of(a);
        size_t n_tags = 0;
        int r;

        r = restore_tags(a, old, plan, &tags, &n_tags);
        if (r < 0)
                return r;
        r = restore_client_token(a->instance_id, member, v->config->section, &token);
        if (r < 0)
                return log_oom();

        path_transition(a->path, PATH_STATE_RESTORE, "Creating a %" PRIu64 " GiB %s volume in %s %s%s%s.",
                        plan->size_gib, strna(plan->volume_type), a->availability_zone,
                        plan->snapshot ? "from " : "blank", plan->snapshot ? plan->snapshot->id : "",
                        plan->encrypted ? ", encrypted" : "");
        r = ec2_create_volume(a->aws,
                              &(Ec2NewVolume) {
                                      .availability_zone = a->availability_zone,
                                      .snapshot_id = plan->snapshot ? plan->snapshot->id : NULL,
                                      .size_gib = plan->size_gib,
                                      .volume_type = plan->volume_type,
                                      .iops = plan->iops,
                                      .throughput = plan->throughput,
                                      .encrypted = plan->encrypted,
                                      .kms_key_id = plan->kms_key_id,
                                      .tags = tags,
                                      .n_tags = n_tags,
                                      .client_token = token,
                              },
                              false, a->deadline, &e, &created);
        if (r < 0)
                return path_fail(a->path, failure_kind_of_call(r), r, "CreateVolume in %s failed: %s%s%s",
                                 a->availability_zone, strempty(e.code), e.code ? ": " : "",
                                 e.message ?: strerror(-r));
        log_info("%s: restore: %s is %s.", a->path->name, created.id, strna(created.state));
        *ret_id = TAKE_PTR(created.id);
        return 0;
}

/* A new volume is "creating" for seconds: it can be attached once
 * "available". Leaves it as the resource. */
int volume_wait_available(Attach *a, const char *id) {
        BackoffPolicy policy = attach_poll_policy();
        Backoff poll = BACKOFF_INIT(&policy);
        Volume *v = volume_of(a);
        int r;

        for (;;) {
                _cleanup_(aws_error_done) AwsError e = {};
                size_t n = 0;

                r = volume_list(a, id, NULL, &e, &n);
                if (r < 0 && r != -ENOENT)
                        return path_fail(a->path, failure_kind_of_call(r), r, "Failed to describe %s: %s%s%m", id,
                                         strempty(e.code), e.code ? ": " : "");
                if (r >= 0 && n > 0) {
                        volume_keep(a, 0);
                        if (streq_ptr(v->ec2.state, "available"))
                                return 0;
                        if (streq_ptr(v->ec2.state, "error"))
                                return path_fail(a->path, FAILURE_UNUSABLE, -EIO, "The new volume %s ended in state "
                                                 "\"error\".", id);
                }
                r = attach_wait_poll(a, &poll, USEC_INFINITY);
                if (r < 0)
                        return path_fail(a->path, FAILURE_DEADLINE, r, "The new volume %s was not available before the "
                                         "deadline.", id);
        }
}

/* restore_plan_volume(), its refusals logged as the boot fails with them. */
static int plan_or_fail(Attach *a, const Ec2Volume *old, const Ec2Snapshot *snapshots, size_t n_snapshots,
                        RestorePlan *ret) {
        int r;

        r = restore_plan_volume(volume_of(a)->config, old, snapshots, n_snapshots, ret);
        if (r == -ENOENT)
                return path_fail(a->path, FAILURE_UNUSABLE, r, "Restore=snapshot, and no completed snapshot carries "
                                 "%s=%s.", a->want_tag->key, a->want_tag->value);
        if (r == -EINVAL)
                return path_fail(a->path, FAILURE_UNUSABLE, r, "Nothing tells the size of a blank volume: no lost "
                                 "volume, no snapshot; set Size= of the section.");
        if (r < 0)
                return path_fail(a->path, FAILURE_OTHER, r, "Failed to plan the restore: %m");
        return 0;
}

/* A set's slots (restore.h): each one's snapshot, from the newest complete
 * snapshot set (the one a killed boot's restore began from, when it did),
 * or NULL: blank. ret_slot has set_count entries. */
static int plan_set_slots(Attach *a, const Ec2Snapshot *snapshots, size_t n_snapshots, const char *const *existing,
                          size_t n_existing, const Ec2Snapshot **ret_slot) {
        _cleanup_free_ const char **include = calloc(n_existing + 1, sizeof(char *));
        _cleanup_free_ size_t *ix = calloc(a->set_count, sizeof(size_t));
        VolumeRestore mode = volume_of(a)->config->restore;
        size_t n_include = 0;
        int r;

        if (!include || !ix)
                return log_oom();
        for (size_t i = 0; i < a->set_count; i++)
                ret_slot[i] = NULL;
        if (mode == VOLUME_RESTORE_BLANK)
                return 0;

        for (size_t i = 0; i < n_existing; i++)
                if (!streq_ptr(existing[i], RESTORE_FROM_BLANK))
                        include[n_include++] = existing[i];
        r = restore_pick_snapshot_set(snapshots, n_snapshots, a->set_count, include, ix);
        if (r == -ENOENT && mode == VOLUME_RESTORE_SNAPSHOT_OR_BLANK && n_include == 0)
                return 0;
        if (r == -ENOENT)
                return path_fail(a->path, FAILURE_UNUSABLE, r, "Restore=%s, and no complete snapshot set carries "
                                 "%s=%s: %u completed snapshots with one start time (one CreateSnapshots)%s; "
                                 "per-volume snapshots of a RAID 0 do not make a set.",
                                 volume_restore_to_string(mode), a->want_tag->key, a->want_tag->value, a->set_count,
                                 n_include > 0 ? " that holds the snapshots an earlier boot restored from" : "");
        if (r < 0)
                return path_fail(a->path, FAILURE_OTHER, r, "Failed to choose a snapshot set: %m");
        for (size_t i = 0; i < a->set_count; i++)
                ret_slot[i] = &snapshots[ix[i]];
        return 0;
}

/* The lost volume a slot replaces: the one its snapshot was taken of, else
 * the k-th lost one (their type and size), else none. */
static const Ec2Volume *slot_old(const Ec2Snapshot *snap, Ec2Volume *const *old, size_t n_old, size_t k) {
        for (size_t i = 0; snap && i < n_old; i++)
                if (streq_ptr(old[i]->id, snap->volume_id))
                        return old[i];
        return n_old > 0 ? old[MIN(k, n_old - 1)] : NULL;
}

/* The index of the nth of ids by id: the member this Attach is. */
static size_t nth_by_id(char *const *ids, size_t n, size_t nth) {
        for (size_t i = 0; i < n; i++) {
                size_t below = 0;

                for (size_t j = 0; j < n; j++)
                        if (strcmp(strempty(ids[j]), strempty(ids[i])) < 0)
                                below++;
                if (below == nth)
                        return i;
        }
        return 0;
}

typedef struct SetRestore {
        Ec2Volume **old;                /* the lost members, in other zones (borrowed) */
        size_t n_old;
        const char **existing;          /* restored-from of those a killed boot made here */
        const char **existing_ids;
        size_t n_existing;
        const Ec2Snapshot **slot;       /* per slot: its snapshot, NULL blank */
        char **new_ids;                 /* per slot: the volume here (owned) */
} SetRestore;

/* Each slot's volume: the one a killed boot made already, else a new one
 * (its own client token: a CreateVolume retried after a kill gives the same
 * volume back). */
static int make_set_volumes(Attach *a, SetRestore *s) {
        _cleanup_free_ const char **slot_from = calloc(a->set_count, sizeof(char *));
        _cleanup_free_ size_t *existing_slot = calloc(s->n_existing + 1, sizeof(size_t));
        int r;

        if (!slot_from || !existing_slot)
                return log_oom();
        for (size_t k = 0; k < a->set_count; k++)
                slot_from[k] = s->slot[k] ? s->slot[k]->id : RESTORE_FROM_BLANK;
        r = restore_match_slots(slot_from, a->set_count, s->existing, s->n_existing, existing_slot);
        if (r == -EXDEV)
                return path_fail(a->path, FAILURE_UNUSABLE, r, "The volumes in %s tagged %s=%s are not of one "
                                 "restore of the set: a striped set is never a mix.", a->availability_zone,
                                 a->want_tag->key, a->want_tag->value);
        if (r < 0)
                return path_fail(a->path, FAILURE_OTHER, r, "Failed to match the restored volumes: %m");
        for (size_t i = 0; i < s->n_existing; i++) {
                log_info("%s: restore: %s (restored-from=%s) is one of the set's, made by an earlier boot.",
                         a->path->name, s->existing_ids[i], s->existing[i]);
                s->new_ids[existing_slot[i]] = strdup(s->existing_ids[i]);
                if (!s->new_ids[existing_slot[i]])
                        return log_oom();
        }

        for (size_t k = 0; k < a->set_count; k++) {
                char member[32];
                RestorePlan plan;

                if (s->new_ids[k])
                        continue;
                r = plan_or_fail(a, slot_old(s->slot[k], s->old, s->n_old, k), s->slot[k], s->slot[k] ? 1 : 0,
                                 &plan);
                if (r < 0)
                        return r;
                (void) snprintf(member, sizeof(member), "volume%zu", k);
                r = create_restored(a, slot_old(s->slot[k], s->old, s->n_old, k), &plan, member, &s->new_ids[k]);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* A striped set found by Tag= + Count= restores as a whole, from one
 * multi-volume snapshot set or blank: per-volume snapshots of a RAID 0 are
 * not consistent with each other. lost: every listed member, those in other
 * zones and those a killed boot's restore made here. Keeps this member's. */
static int volume_restore_set(Attach *a, const size_t *lost, size_t n_lost) {
        Volume *v = volume_of(a);
        Ec2Volume *listed = TAKE_PTR(v->listed);
        size_t n_listed = v->n_listed, mine = 0;
        Ec2Snapshot *snapshots = NULL;
        size_t n_snapshots = 0;
        SetRestore s = {
                .old = calloc(n_lost + 1, sizeof(Ec2Volume *)),
                .existing = calloc(n_lost + 1, sizeof(char *)),
                .existing_ids = calloc(n_lost + 1, sizeof(char *)),
                .slot = calloc(a->set_count, sizeof(Ec2Snapshot *)),
                .new_ids = calloc(a->set_count, sizeof(char *)),
        };
        int r;

        v->n_listed = 0;
        if (!s.old || !s.existing || !s.existing_ids || !s.slot || !s.new_ids) {
                r = log_oom();
                goto finish;
        }
        for (size_t i = 0; i < n_lost; i++) {
                Ec2Volume *e = &listed[lost[i]];

                if (!streq_ptr(e->az, a->availability_zone)) {
                        s.old[s.n_old++] = e;
                        continue;
                }
                s.existing[s.n_existing] = ec2_tags_get(e->tags, e->n_tags, RESTORE_TAG_RESTORED_FROM);
                s.existing_ids[s.n_existing++] = e->id;
        }
        for (size_t i = 0; i < s.n_old; i++) {
                r = wait_for_lost_holder(a, s.old[i]);
                if (r < 0)
                        goto finish;
        }
        r = find_snapshots(a, &snapshots, &n_snapshots);
        if (r < 0)
                goto finish;
        r = plan_set_slots(a, snapshots, n_snapshots, s.existing, s.n_existing, s.slot);
        if (r < 0)
                goto finish;
        r = make_set_volumes(a, &s);
        if (r < 0)
                goto finish;

        /* Every member available; this member's last, which stays kept. */
        mine = nth_by_id(s.new_ids, a->set_count, a->set_index);
        for (size_t k = 0; k <= a->set_count; k++) {
                size_t i = k < a->set_count ? k : mine;

                if (k == mine)
                        continue;
                r = volume_wait_available(a, s.new_ids[i]);
                if (r < 0)
                        goto finish;
        }
        for (size_t i = 0; i < s.n_old; i++) {
                /* Blank: one old member to each new one, in their order. */
                const char *by = s.new_ids[MIN(i, (size_t) a->set_count - 1)];

                for (size_t k = 0; k < a->set_count; k++)
                        if (s.slot[k] && streq_ptr(s.slot[k]->volume_id, s.old[i]->id))
                                by = s.new_ids[k];
                attach_mark_replaced(a, (const char *const[]) { s.old[i]->id, NULL }, by);
        }
        r = 0;
finish:
        for (size_t k = 0; s.new_ids && k < a->set_count; k++)
                free(s.new_ids[k]);
        free(s.new_ids);
        free(s.slot);
        free(s.existing_ids);
        free(s.existing);
        free(s.old);
        ec2_snapshots_free(snapshots, n_snapshots);
        ec2_volumes_free(listed, n_listed);
        return r;
}

static int restore_one(Attach *a, const size_t *lost, size_t n_lost) {
        Volume *v = volume_of(a);
        Ec2Volume *listed = TAKE_PTR(v->listed);
        size_t n_listed = v->n_listed;
        _cleanup_free_ const char **lost_ids = calloc(n_lost + 1, sizeof(char *));
        Ec2Snapshot *snapshots = NULL;
        _cleanup_free_ char *new_id = NULL;
        Ec2Volume *old = n_lost > 0 ? &listed[lost[0]] : NULL;
        size_t n_snapshots = 0;
        RestorePlan plan;
        int r;

        v->n_listed = 0;
        if (!lost_ids) {
                r = log_oom();
                goto finish;
        }
        if (old) {
                r = wait_for_lost_holder(a, old);
                if (r < 0)
                        goto finish;
        }
        r = find_snapshots(a, &snapshots, &n_snapshots);
        if (r < 0)
                goto finish;

        r = plan_or_fail(a, old, snapshots, n_snapshots, &plan);
        if (r < 0)
                goto finish;

        r = create_restored(a, old, &plan, "volume", &new_id);
        if (r < 0)
                goto finish;
        r = volume_wait_available(a, new_id);
        if (r < 0)
                goto finish;

        for (size_t i = 0; i < n_lost; i++)
                lost_ids[i] = listed[lost[i]].id;
        attach_mark_replaced(a, lost_ids, new_id);
        r = 0;
finish:
        ec2_snapshots_free(snapshots, n_snapshots);
        ec2_volumes_free(listed, n_listed);
        return r;
}

int volume_restore(Attach *a, const size_t *lost, size_t n_lost) {
        if (a->set_count > 0)
                return volume_restore_set(a, lost, n_lost);
        return restore_one(a, lost, n_lost);
}

/* --check and --status for a set: the snapshot set (or blank) every
 * member would come from, said alike by each member. */
static int plan_restore_set(Attach *a, const size_t *lost, size_t n_lost) {
        Volume *v = volume_of(a);
        _cleanup_free_ const char **existing = calloc(n_lost + 1, sizeof(char *));
        _cleanup_free_ const Ec2Snapshot **slot = calloc(a->set_count, sizeof(Ec2Snapshot *));
        _cleanup_free_ char *ids = NULL;
        Ec2Snapshot *snapshots = NULL;
        size_t n_snapshots = 0, n_existing = 0, size = 0;
        FILE *f;
        int r;

        if (!existing || !slot)
                return log_oom();
        /* lost indexes v->listed: there is a list whenever there are lost ones. */
        assert(n_lost == 0 || v->listed);
        for (size_t i = 0; i < n_lost; i++) {
                const Ec2Volume *e = &v->listed[lost[i]];

                if (streq_ptr(e->az, a->availability_zone))
                        existing[n_existing++] = ec2_tags_get(e->tags, e->n_tags, RESTORE_TAG_RESTORED_FROM);
        }
        r = find_snapshots(a, &snapshots, &n_snapshots);
        if (r < 0)
                return r;
        r = plan_set_slots(a, snapshots, n_snapshots, existing, n_existing, slot);
        if (r < 0)
                goto finish;

        f = open_memstream(&ids, &size);
        if (!f) {
                r = log_oom();
                goto finish;
        }
        for (size_t k = 0; k < a->set_count; k++)
                fprintf(f, "%s%s", k > 0 ? ", " : "", slot[k] ? slot[k]->id : RESTORE_FROM_BLANK);
        if (fclose(f) != 0) {
                r = log_oom();
                goto finish;
        }
        free(a->restore_plan);
        if (slot[0])
                r = asprintf(&a->restore_plan, "restore the set of %u from the snapshot set of %s (%s): %u volumes in "
                             "%s%s", a->set_count, strna(slot[0]->start_time), ids, a->set_count,
                             a->availability_zone, n_existing > 0 ? ", some made already by an earlier boot" : "");
        else
                r = asprintf(&a->restore_plan, "restore the set of %u blank: %u volumes in %s, a new array, "
                             "formatted%s", a->set_count, a->set_count, a->availability_zone,
                             n_existing > 0 ? ", some made already by an earlier boot" : "");
        if (r < 0) {
                a->restore_plan = NULL;
                r = log_oom();
                goto finish;
        }
        r = ATTACH_RESTORE_PLANNED;
finish:
        ec2_snapshots_free(snapshots, n_snapshots);
        return r;
}

/* --check and --status: what volume_restore() would make, from what, and
 * instead of what, asking EC2 only to describe snapshots. */
int volume_plan_restore(Attach *a, const size_t *lost, size_t n_lost) {
        Volume *v = volume_of(a);
        const Ec2Volume *old = n_lost > 0 ? &v->listed[lost[0]] : NULL;
        const char *holder = old && old->n_attachments > 0 ? old->attachments[0].instance_id : NULL;
        _cleanup_free_ char *replacing = NULL;
        Ec2Snapshot *snapshots = NULL;
        size_t n_snapshots = 0;
        RestorePlan p;
        int r;

        if (a->set_count > 0)
                return plan_restore_set(a, lost, n_lost);
        r = find_snapshots(a, &snapshots, &n_snapshots);
        if (r < 0)
                return r;
        r = plan_or_fail(a, old, snapshots, n_snapshots, &p);
        if (r < 0)
                goto finish;

        if (!old)
                r = asprintf(&replacing, "no volume carries %s=%s", a->want_tag->key, a->want_tag->value);
        else
                r = asprintf(&replacing, "replacing %s in %s%s%s%s", old->id, strna(old->az),
                             holder ? " (attached to " : "", strempty(holder), holder ? ", waited for first)" : "");
        if (r < 0) {
                r = log_oom();
                goto finish;
        }
        free(a->restore_plan);
        if (p.snapshot)
                r = asprintf(&a->restore_plan, "restore from %s (%s, %s): a %" PRIu64 " GiB %s volume in %s, %s",
                             p.snapshot->id, strna(p.snapshot->start_time), strna(p.snapshot->state), p.size_gib,
                             p.volume_type, a->availability_zone, replacing);
        else
                r = asprintf(&a->restore_plan, "restore blank: a %" PRIu64 " GiB %s volume in %s, formatted, %s",
                             p.size_gib, p.volume_type, a->availability_zone, replacing);
        if (r < 0) {
                a->restore_plan = NULL;
                r = log_oom();
                goto finish;
        }
        r = ATTACH_RESTORE_PLANNED;
finish:
        ec2_snapshots_free(snapshots, n_snapshots);
        return r;
}
