/* SPDX-License-Identifier: Apache-2.0 */
/* The attach lifecycle's find state: the resource by its id or by its tag
 * (exactly one in this zone; a striped set's member by its place among
 * Count=), and, with Restore= on, a lost one made anew here or the plan of
 * it. The rest of the lifecycle is attach.c's. */
#include <stdio.h>
#include <stdlib.h>

#include "attach.h"
#include "attach-internal.h"
#include "log.h"
#include "zone-match.h"

static void describe_wanted(const Attach *a, char *buf, size_t size) {
        if (a->want_id)
                (void) snprintf(buf, size, "Id=%s", a->want_id);
        else
                (void) snprintf(buf, size, "Tag=%s=%s", strna(a->want_tag ? a->want_tag->key : NULL),
                                strna(a->want_tag ? a->want_tag->value : NULL));
}

static bool state_is_gone(const char *state) {
        return streq_ptr(state, "deleting") || streq_ptr(state, "deleted") || streq_ptr(state, "error");
}

/* anywhere: a resource in another zone will do (--unpublish, FindMode's
 * FIND_ANYWHERE). */
static int find_by_id(Attach *a, bool anywhere) {
        _cleanup_(aws_error_done) AwsError e = {};
        ZoneCandidate c;
        size_t n = 0;
        int r;

        r = a->ops->list(a, a->want_id, NULL, &e, &n);
        if (r == -ENOENT || (r >= 0 && n == 0))
                return path_fail(a->path, FAILURE_UNUSABLE, -ENOENT, "%s %s does not exist in this region.",
                                 a->ops->what_title, a->want_id);
        if (r < 0)
                return path_fail(a->path, failure_kind_of_call(r), r, "Failed to describe %s %s: %s%s%m",
                                 a->ops->what, a->want_id, strempty(e.code), e.code ? ": " : "");

        a->ops->candidate(a, 0, &c);
        if (!streq_ptr(c.availability_zone, a->availability_zone) && !anywhere)
                return path_fail(a->path, FAILURE_UNUSABLE, -EXDEV, "%s %s is in %s, this instance in %s: %s.",
                                 a->ops->what_title, a->want_id, strna(c.availability_zone),
                                 a->availability_zone, a->ops->zone_note);
        a->ops->keep(a, 0);
        return 0;
}

/* Tags the lost resources nodeagent:replaced-by=<the one in this zone>:
 * lookups by tag skip them from then on. A failure is only a warning: the
 * lookup prefers the one in this zone anyway. */
void attach_mark_replaced(Attach *a, const char *const *ids, const char *new_id) {
        _cleanup_(aws_error_done) AwsError e = {};
        Ec2Tag tag = { .key = (char *) ATTACH_TAG_REPLACED_BY, .value = (char *) new_id };
        int r;

        if (!ids[0])
                return;
        log_info("%s: find: tagging %s%s %s=%s.", a->path->name, ids[0], ids[1] ? " and the others" : "",
                 ATTACH_TAG_REPLACED_BY, new_id);
        r = ec2_create_tags(a->aws, ids, &tag, 1, false, a->deadline, &e);
        if (r < 0)
                log_warning_errno(r, "%s: Failed to tag %s %s=%s: %s%s%m", a->path->name, ids[0],
                                  ATTACH_TAG_REPLACED_BY, new_id, strempty(e.code), e.code ? ": " : "");
}

/* restore: the resource found by tag is only in other zones (the lost
 * entries), or none exists: a new one in this zone (the kind's restore()). */
static int step_restore(Attach *a, const size_t *lost, size_t n_lost) {
        if (a->set_count > 0)
                attach_transition(a, PATH_STATE_RESTORE, "The set of Count=%u %ss tagged %s=%s is not in %s; "
                                  "making it here as a whole (Restore=).", a->set_count, a->ops->what,
                                  a->want_tag->key, a->want_tag->value, a->availability_zone);
        else
                attach_transition(a, PATH_STATE_RESTORE, "No %s tagged %s=%s is in %s%s; making one here (Restore=).",
                                  a->ops->what, a->want_tag->key, a->want_tag->value, a->availability_zone,
                                  n_lost > 0 ? ", only in other zones" : "");
        return a->ops->restore(a, lost, n_lost);
}

static const char *candidate_tag(const Attach *a, size_t i, const char *key) {
        return a->ops->candidate_tag ? a->ops->candidate_tag(a, i, key) : NULL;
}

/* How far a find may go when the resource is lost (Restore= on): the
 * boot's find makes the new one; --check and --status only say what it
 * would make; --detach fails as without Restore=. --unpublish takes the one
 * in another zone as it is (FIND_ANYWHERE): what it needs is the address
 * the node published there, which EC2 describes wherever the zone is. */
typedef enum FindMode {
        FIND_LOOK,
        FIND_ANYWHERE,
        FIND_PLAN,
        FIND_RESTORE,
} FindMode;

/* A set's restore that a killed boot began (Restore= on): every member in
 * this zone was made by a restore, and the rest are missing. A set of ours
 * with other members here is a partial set, never completed by a restore. */
static bool set_restore_begun(const Attach *a, const ZoneCandidate *candidates, const size_t *indexes, size_t k) {
        size_t here = 0;

        if (a->set_count == 0 || !a->restore || !a->ops->restore)
                return false;
        for (size_t i = 0; i < k; i++) {
                if (!streq_ptr(candidates[i].availability_zone, a->availability_zone))
                        continue;
                if (!candidate_tag(a, indexes[i], ATTACH_TAG_RESTORED_FROM))
                        return false;
                here++;
        }
        return here > 0;
}

/* Why no resource could be chosen among those tagged (r from
 * zone_match_pick() or zone_match_pick_nth()): the path's failure. */
static int fail_pick(Attach *a, int r, const char *listed) {
        if (r == -ENOENT)
                return path_fail(a->path, FAILURE_UNUSABLE, r, "No %s is tagged %s=%s.", a->ops->what,
                                 a->want_tag->key, a->want_tag->value);
        if (r == -EXDEV)
                return path_fail(a->path, FAILURE_UNUSABLE, r, "No %s tagged %s=%s is in %s, where this instance "
                                 "runs; found: %s.", a->ops->what, a->want_tag->key, a->want_tag->value,
                                 a->availability_zone, strna(listed));
        if (r == -ERANGE)
                return path_fail(a->path, FAILURE_UNUSABLE, r, "Fewer than Count=%u %ss in %s are tagged %s=%s: %s; "
                                 "a striped set is all or nothing.", a->set_count, a->ops->what,
                                 a->availability_zone, a->want_tag->key, a->want_tag->value, strna(listed));
        if (r == -ENOTUNIQ && a->set_count > 0)
                return path_fail(a->path, FAILURE_UNUSABLE, r, "More than Count=%u %ss in %s are tagged %s=%s: %s.",
                                 a->set_count, a->ops->what, a->availability_zone, a->want_tag->key,
                                 a->want_tag->value, strna(listed));
        if (r == -ENOTUNIQ)
                return path_fail(a->path, FAILURE_UNUSABLE, r, "Several %ss in %s are tagged %s=%s, expected exactly "
                                 "one: %s.", a->ops->what, a->availability_zone, a->want_tag->key,
                                 a->want_tag->value, strna(listed));
        return path_fail(a->path, FAILURE_OTHER, r, "Failed to choose among the %ss tagged %s=%s: %m",
                         a->ops->what, a->want_tag->key, a->want_tag->value);
}

/* A restore of ours that a killed boot left before it could tag the lost
 * ones: they get their tag now (the chosen one, candidate_index among the
 * listed, carries restored-from). */
static int mark_lost_ones(Attach *a, const ZoneCandidate *candidates, size_t k, size_t index,
                          size_t candidate_index) {
        _cleanup_free_ const char **others = calloc(k + 1, sizeof(char *));
        size_t n_others = 0;

        if (!others)
                return log_oom();
        if (candidate_tag(a, candidate_index, ATTACH_TAG_RESTORED_FROM))
                for (size_t i = 0; i < k; i++)
                        /* Not the set's other members, which are here too. */
                        if (i != index && !streq_ptr(candidates[i].availability_zone, a->availability_zone))
                                others[n_others++] = candidates[i].id;
        if (n_others > 0) {
                _cleanup_free_ char *id = strdup(candidates[index].id);

                if (!id)
                        return log_oom();
                attach_mark_replaced(a, others, id);
                /* mark_replaced() does not list again: the entries stand. */
        }
        return 0;
}

static int find_by_tag(Attach *a, FindMode mode) {
        _cleanup_(aws_error_done) AwsError e = {};
        _cleanup_free_ char *filter_name = NULL, *listed = NULL;
        _cleanup_free_ ZoneCandidate *candidates = NULL;
        _cleanup_free_ size_t *indexes = NULL;
        const char *values[] = { a->want_tag->value, NULL };
        size_t n = 0, k = 0, index = 0;
        int r;

        if (asprintf(&filter_name, "tag:%s", a->want_tag->key) < 0)
                return log_oom();

        /* No AZ filter: a resource that exists only elsewhere deserves its
         * own message. */
        r = a->ops->list(a, NULL, &(Ec2Filter) { .name = filter_name, .values = values }, &e, &n);
        if (r < 0)
                return path_fail(a->path, failure_kind_of_call(r), r, "Failed to look for %ss tagged %s=%s: %s%s%m",
                                 a->ops->what, a->want_tag->key, a->want_tag->value, strempty(e.code),
                                 e.code ? ": " : "");

        candidates = calloc(MAX(n, 1U), sizeof(ZoneCandidate));
        indexes = calloc(MAX(n, 1U), sizeof(size_t));
        if (!candidates || !indexes)
                return log_oom();
        for (size_t i = 0; i < n; i++) {
                ZoneCandidate c;

                a->ops->candidate(a, i, &c);
                /* A volume on its way out (or broken) still carries its
                 * tags: it is not a second match, nor a match at all; nor
                 * is one a restore replaced. */
                if (state_is_gone(c.state) || candidate_tag(a, i, ATTACH_TAG_REPLACED_BY)) {
                        log_debug("%s: find: skipping %s (%s%s).", a->path->name, c.id, c.state,
                                  candidate_tag(a, i, ATTACH_TAG_REPLACED_BY) ? ", replaced" : "");
                        continue;
                }
                indexes[k] = i;
                candidates[k++] = c;
        }
        listed = zone_match_format(candidates, k);

        if (a->set_count > 0)
                r = zone_match_pick_nth(candidates, k, a->availability_zone, a->set_count, a->set_index, &index);
        else
                r = zone_match_pick(candidates, k, a->availability_zone, &index);
        if (r == -ERANGE && (mode == FIND_PLAN || mode == FIND_RESTORE) && set_restore_begun(a, candidates, indexes, k))
                /* Fewer than Count= here, all made by a restore a killed boot
                 * began: it goes on (the kind's restore() makes the rest). */
                r = -EXDEV;
        if ((r == -ENOENT || r == -EXDEV) && a->restore && a->ops->restore) {
                if (mode == FIND_RESTORE)
                        return step_restore(a, indexes, k);
                if (mode == FIND_PLAN && a->ops->plan_restore)
                        return a->ops->plan_restore(a, indexes, k);
        }
        if (r == -EXDEV && mode == FIND_ANYWHERE && a->set_count == 0 && k == 1) {
                /* Only in another zone, and only one: the node's, so its
                 * address is the one the node published. Several there
                 * leave that unknown (exit 4 below, as without it). */
                index = 0;
                r = 0;
        }
        if (r < 0)
                return fail_pick(a, r, listed);

        r = mark_lost_ones(a, candidates, k, index, indexes[index]);
        if (r < 0)
                return r;
        a->ops->keep(a, indexes[index]);
        return 0;
}

static int find(Attach *a, FindMode mode) {
        char wanted[256];

        describe_wanted(a, wanted, sizeof(wanted));
        attach_transition(a, PATH_STATE_FIND, "Looking for the %s (%s).", a->ops->what, wanted);
        return a->want_id ? find_by_id(a, mode == FIND_ANYWHERE) : find_by_tag(a, mode);
}

int attach_find(Attach *a) {
        return find(a, FIND_LOOK);
}

int attach_find_anywhere(Attach *a) {
        return find(a, FIND_ANYWHERE);
}

int attach_find_or_plan(Attach *a) {
        return find(a, FIND_PLAN);
}

int attach_find_or_restore(Attach *a) {
        return find(a, FIND_RESTORE);
}

/* Describes the resource again by its id. */
int attach_describe(Attach *a) {
        _cleanup_(aws_error_done) AwsError e = {};
        size_t n = 0;
        int r;

        r = a->ops->list(a, a->id, NULL, &e, &n);
        if (r == -ENOENT || (r >= 0 && n == 0))
                return path_fail(a->path, FAILURE_UNUSABLE, -ENOENT, "%s %s disappeared.", a->ops->what_title, a->id);
        if (r < 0)
                return path_fail(a->path, failure_kind_of_call(r), r, "Failed to describe %s %s: %s%s%m",
                                 a->ops->what, a->id, strempty(e.code), e.code ? ": " : "");
        a->ops->keep(a, 0);
        return 0;
}

int attach_refresh(Attach *a) {
        _cleanup_(aws_error_done) AwsError e = {};
        size_t n = 0;
        int r;

        r = a->ops->list(a, a->id, NULL, &e, &n);
        if (r < 0)
                return log_debug_errno(r, "Failed to describe %s %s: %s%s%m", a->ops->what, a->id, strempty(e.code),
                                       e.code ? ": " : "");
        if (n == 0)
                return -ENOENT;
        a->ops->keep(a, 0);
        return 0;
}

