/* SPDX-License-Identifier: Apache-2.0 */
#include <stdlib.h>

#include "handover.h"
#include "log.h"
#include "node-handover.h"
#include "notify.h"

/* How long a release may take: inside systemd's TimeoutStopSec=3min. */
#define RELEASE_TIMEOUT_USEC (2 * USEC_PER_MINUTE)

bool node_handover_enabled(const Node *n) {
        for (size_t i = 0; i < n->n_volumes; i++)
                if (n->volumes[i].config->take_over == TAKE_OVER_HANDOVER)
                        return true;
        return n->config->has_interface && n->config->interface.take_over == TAKE_OVER_HANDOVER;
}

/* Every resource of the node (each volume of each section, the ENI), as
 * the lifecycle knows it; ret has room for all. */
static size_t node_attaches(Node *n, Attach **ret) {
        size_t k = 0;

        for (size_t i = 0; i < n->n_volumes; i++)
                for (size_t m = 0; m < n->volumes[i].n_members; m++)
                        ret[k++] = &n->volumes[i].members[m].attach;
        if (n->config->has_interface)
                ret[k++] = &n->interface.eni.attach;
        return k;
}

static size_t node_n_resources(const Node *n) {
        size_t k = n->config->has_interface ? 1 : 0;

        for (size_t i = 0; i < n->n_volumes; i++)
                k += n->volumes[i].n_members;
        return k;
}

static bool attached_here(const Attach *a) {
        return a->id && attach_mine(a) != ATTACH_MINE_NONE;
}

static bool volume_attached_here(const NodeVolume *v) {
        for (size_t m = 0; m < v->n_members; m++)
                if (attached_here(&v->members[m].attach))
                        return true;
        return false;
}

/* Unmounts every volume section attached here, nested mount points
 * first, and stops a striped set's array before its members go. A volume
 * in use stops the release before anything is given away. */
static int unmount_all(Node *n) {
        _cleanup_free_ NodeVolume **order = calloc(MAX(n->n_volumes, 1U), sizeof(NodeVolume *));
        size_t k;
        int r;

        if (!order)
                return log_oom();
        k = node_release_order(n, order);
        for (size_t i = 0; i < k; i++) {
                NodeVolume *v = order[i];
                const char *mp = v->config->mount_point;

                if (!volume_attached_here(v))
                        continue;
                r = fs_unmount(mp);
                if (r == -EBUSY)
                        return path_fail(&v->path, FAILURE_UNUSABLE, r, "%s is in use: the handover stops here, "
                                         "nothing is detached (fuser -vm %s tells what uses it).", mp, mp);
                if (r < 0)
                        return path_fail(&v->path, FAILURE_OTHER, r, "Failed to unmount %s: %m", mp);
                if (r > 0)
                        path_transition(&v->path, PATH_STATE_UNMOUNT, "Unmounted %s.", mp);
                r = node_stop_array(n, v);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Tags what is attached here handed-over-by=<self> and handover-to=<to>
 * in one call: the mark a restart finds (node_handover_boot_check()), and
 * every resource naming the one instance it goes to. A failure is only a
 * warning: the release goes on, a restart would then boot as usual and
 * hand over again at the next request. */
static void tag_all(Node *n, Attach **list, size_t k, const char *to) {
        _cleanup_(aws_error_done) AwsError e = {};
        _cleanup_free_ const char **ids = calloc(k + 1, sizeof(char *));
        Ec2Tag tags[] = {
                { .key = (char *) HANDOVER_TAG_BY, .value = (char *) n->instance->instance_id },
                { .key = (char *) HANDOVER_TAG_TO, .value = (char *) to },
        };
        size_t n_ids = 0;
        int r;

        if (!ids) {
                log_oom();
                return;
        }
        for (size_t i = 0; i < k; i++)
                if (attached_here(list[i]))
                        ids[n_ids++] = list[i]->id;
        if (n_ids == 0)
                return;
        log_info("handover: tagging %s%s %s=%s, %s=%s.", ids[0], n_ids > 1 ? " and the others" : "",
                 HANDOVER_TAG_BY, n->instance->instance_id, HANDOVER_TAG_TO, to);
        r = ec2_create_tags(n->instance->aws, ids, tags, ELEMENTSOF(tags), false, n->deadline, &e);
        if (r < 0)
                log_warning_errno(r, "handover: Failed to tag %s%s as handed over: %s%s%m; releasing anyway.",
                                  ids[0], n_ids > 1 ? " and the others" : "", strempty(e.code), e.code ? ": " : "");
}

/* The release of what this boot (or the check's finds) knows as attached
 * here. */
static int release(Node *n, const char *to) {
        _cleanup_free_ Attach **list = calloc(node_n_resources(n) + 1, sizeof(Attach *));
        size_t k;
        int r;

        if (!list)
                return log_oom();
        n->deadline = usec_add(now(CLOCK_MONOTONIC), RELEASE_TIMEOUT_USEC);
        k = node_attaches(n, list);
        for (size_t i = 0; i < k; i++)
                list[i]->deadline = n->deadline;

        r = unmount_all(n);
        if (r < 0)
                return r;
        tag_all(n, list, k, to);
        return node_detach_together(n, list, k);
}

int node_handover_release(Node *n, const char *to) {
        int r;

        log_notice("Handing node %s over to %s: unmounting and detaching every volume and the interface.", n->name,
                   to);
        notify_status("Handing node %s over to %s.", n->name, to);
        r = release(n, to);
        if (r < 0)
                return log_error_errno(r, "The handover of node %s to %s did not finish: %m", n->name, to);
        log_notice("Handed node %s over to %s: nothing of it is attached here any more.", n->name, to);
        return 0;
}

/* Finds each resource of the node (nothing is known yet at the boot's
 * start); one that cannot be found is skipped: nothing of it is here. */
static void find_all(Node *n) {
        for (size_t i = 0; i < n->n_volumes; i++)
                for (size_t m = 0; m < n->volumes[i].n_members; m++)
                        (void) volume_find(&n->volumes[i].members[m]);
        if (n->config->has_interface)
                (void) eni_find(&n->interface.eni);
}

int node_handover_boot_check(Node *n) {
        _cleanup_(handover_holder_done) HandoverHolder h = {
                .aws = n->instance->aws,
                .instance_id = n->instance->instance_id,
                .node_name = n->name,
        };
        _cleanup_free_ char *to = NULL;
        int r;

        if (!node_handover_enabled(n))
                return 0;
        r = handover_given(&h, n->deadline, &to);
        if (r < 0) {
                log_warning_errno(r, "Failed to learn whether this instance handed node %s over; booting as "
                                  "usual: %m", n->name);
                return 0;
        }
        if (r == 0)
                return 0;

        log_notice("This instance handed node %s over to %s, a running instance of the node launched after it: "
                   "not taking the node back.", n->name, to);
        notify_status("Handed node %s over to %s: not taking it back.", n->name, to);
        find_all(n);
        r = release(n, to);
        if (r < 0)
                return log_error_errno(r, "Failed to release what of node %s is still attached here: %m", n->name);
        log_notice("Nothing of node %s is attached here; exiting without READY.", n->name);
        return 1;
}
