/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* One lifecycle for an attachable resource, an EBS volume or an ENI: named
 * states (path-state.h), one function through which every change of state
 * goes, and a table of operations per kind. volume.c and eni.c hold only
 * what differs between the two; everything about EC2's attach semantics,
 * the take-over from a predecessor and the wait for the local device or
 * link is here, once.
 *
 *   find ──> decide ──(attached or attaching here)──────────────────┐
 *               │  └──(our own attachment detaching)─> wait-release │
 *               │  └──(held by another instance)──> take-over       │
 *               │         (force-detach a dead holder)  │           │
 *               └──(free)────────────────────> attach <─┘           v
 *                                                 ^          wait-device / wait-link ──> done
 *                                                 │                 │ (--attach-only: wait-attached)
 *                                                 └── reattach <────┘ EC2 dropped it, or it is
 *                                                                     stuck "attaching": once
 *
 * decide is not a state: it reads EC2's latest description and names the
 * next one. Every wait (polls, the take-over, the local appearance) is
 * event-driven or a backoff under the boot's deadline and cancellation
 * (wait.h, backoff.h). Each failure is logged once, with its kind
 * (path_fail()). */

#include "aws.h"
#include "backoff.h"
#include "config.h"
#include "ec2.h"
#include "path.h"
#include "zone-match.h"

typedef struct Attach Attach;

/* The tags of a restore (DESIGN.md, "Lost volumes and lost zones"):
 * RESTORED_FROM on the resource made in this zone (the snapshot, "blank", or
 * the lost ENI's id); REPLACED_BY on the lost one (the new id). Lookups by
 * tag skip what carries REPLACED_BY. */
#define ATTACH_TAG_RESTORED_FROM "nodeagent:restored-from"
#define ATTACH_TAG_REPLACED_BY "nodeagent:replaced-by"

/* The resource's attachment to this instance, as EC2 last described it. */
typedef enum AttachMine {
        ATTACH_MINE_NONE,               /* not attached here (or only "detached") */
        ATTACH_MINE_ATTACHING,
        ATTACH_MINE_ATTACHED,
        ATTACH_MINE_DETACHING,          /* our own attachment on its way out */
} AttachMine;

/* What the lifecycle needs to know of the latest description. */
typedef struct AttachView {
        AttachMine mine;
        const char *holder;             /* another instance holding it; NULL when none */
        const char *holder_state;       /* that attachment's state */
        bool busy;                      /* in use, but nobody listed: a detach just ending */
} AttachView;

typedef struct AttachOps {
        const char *what;               /* "volume", "network interface": for messages */
        const char *what_title;         /* "Volume", "Network interface" */
        const char *zone_note;          /* why the AZ matters: "an EBS volume attaches only
                                         * within its availability zone" */
        PathState wait_state;           /* PATH_STATE_WAIT_DEVICE, PATH_STATE_WAIT_LINK */

        /* EC2's side. list() describes by id (id set) or by tag (filter
         * set) and keeps the result; candidate() shows its i-th entry to
         * zone matching; keep() makes the i-th the resource and drops the
         * rest. The resource's id is then a->id. */
        int (*list)(Attach *a, const char *id, const Ec2Filter *filter, AwsError *error, size_t *ret_n);
        void (*candidate)(const Attach *a, size_t i, ZoneCandidate *ret);
        /* The i-th entry's tag key, NULL when it does not carry it. */
        const char *(*candidate_tag)(const Attach *a, size_t i, const char *key);
        void (*keep)(Attach *a, size_t i);
        void (*view)(const Attach *a, AttachView *ret);
        /* "as /dev/sdf", "at device index 1": log lines of the attach. */
        const char *(*where)(const Attach *a);
        int (*attach)(Attach *a, AwsError *ret_error);
        /* EC2 refused the device name the attach asked for ("Attachment
         * point ... is already in use"): 1 when the kind picked another
         * (attach again), or a failure it has logged. NULL: no name to pick. */
        int (*name_refused)(Attach *a, const AwsError *e);
        /* Detaches from holder (this instance or another one). */
        int (*detach)(Attach *a, const char *holder, bool force, AwsError *ret_error);

        /* Restore= (DESIGN.md, "Lost volumes and lost zones"): the resource
         * found by tag is only in other zones (lost: the listed entries
         * there), or none exists (n_lost 0). Makes a new one in this zone,
         * and keeps it as the resource. NULL: the kind cannot. A member of
         * a set (set_count) makes the whole set: lost is then every listed
         * entry, also those a killed boot's restore made here already. */
        int (*restore)(Attach *a, const size_t *lost, size_t n_lost);
        /* What restore() would make, asking EC2 only to describe (for
         * --check and --status): a sentence in a->restore_plan, and
         * ATTACH_RESTORE_PLANNED; a restore that could not happen (no
         * completed snapshot) fails as restore() would. NULL: not said. */
        int (*plan_restore)(Attach *a, const size_t *lost, size_t n_lost);

        /* The local side. local_name: "the block device with serial
         * vol0123...", for the wait's log line (the caller frees). Called
         * once after EC2 accepted the attach, before the wait: work that
         * needs the resource but not its local device (the subnet's CIDR).
         * May be NULL. */
        char *(*local_name)(const Attach *a);
        int (*while_attaching)(Attach *a);
        /* Waits until the resource shows up here (and is proven to be it)
         * or until `until`: 1 it is here, 0 not yet, negative errno. The
         * kind keeps what it watches with (a udev monitor, an rtnetlink
         * socket) open from the first call until local_done(), so no event
         * between two calls is lost. */
        int (*wait_local)(Attach *a, usec_t until);
        void (*local_done)(Attach *a);
} AttachOps;

/* What tests make quicker: the polls of EC2 while waiting, and how long an
 * attach may stay "attaching" before it is tried once more. 0: defaults
 * (1 s growing to 5 s; 90 s). */
typedef struct AttachTiming {
        usec_t poll_first;
        usec_t poll_max;
        usec_t stuck_after;
} AttachTiming;

struct Attach {
        const AttachOps *ops;
        void *kind;                     /* the kind's own state (volume.c, eni.c) */

        Path *path;
        AwsClient *aws;
        const char *instance_id;
        const char *availability_zone;
        usec_t deadline;

        /* What the configuration asks for. */
        const char *want_id;            /* Id=; NULL: by want_tag */
        const ConfigTag *want_tag;
        unsigned set_count;             /* Tag= + Count=: the set's size; 0: one resource */
        unsigned set_index;             /* ... and this member's place among them, ordered by id */
        TakeOverPolicy take_over;
        usec_t take_over_timeout;
        bool restore;                   /* Restore= is on: a lost resource is made anew here */
        const char *node_name;          /* [Node] Name=: the handover's prompt names it */

        const char *id;                 /* the resource's id, once found (the kind's string) */
        char *restore_plan;             /* attach_find_or_plan(): what a boot's restore would make
                                         * (owned; the kind's done() frees it) */

        /* The lifecycle's own bookkeeping, per state. */
        usec_t take_over_give_up;       /* when the take-over ends; 0: not waiting */
        bool force_detached;            /* a dead holder was force-detached once */
        bool holder_seen_alive;         /* said once: a live holder is waited for */
        bool handover_asked;            /* TakeOver=handover: the resource carries our request */
        unsigned taken_away;            /* attaches lost to another instance in a row */
        usec_t attached_at;             /* when EC2 accepted our attach */
        Backoff not_running;            /* waits while this instance is not "running" yet */
        PathState next;                 /* where attach_complete() goes on */
        bool reattached;                /* the one retry of a dropped or stuck attach is used */
        bool while_attaching_done;
};

/* Find, take over, attach, and wait until the resource shows up here
 * (proven by the kind): the boot's way. 0 on success, else negative errno,
 * logged once with its kind in a->path. */
int attach_run(Attach *a);

/* attach_run() in two halves, for the members of a set: attach_start()
 * goes as far as the wait for the local side (found, taken over, Attach
 * sent) and returns; attach_complete() waits for it. Starting every member
 * before completing any overlaps their attaches. */
int attach_start(Attach *a);
int attach_complete(Attach *a);

/* The same up to EC2's "attached", without waiting for the local side: for
 * --attach-only. */
int attach_run_to_ec2(Attach *a);

/* Finds the resource (a->want_id / a->want_tag). For modes that release
 * (--detach, --unpublish): never makes one, so a lost resource fails as
 * without Restore=. */
int attach_find(Attach *a);

/* The same, except that the one resource found in another zone is kept
 * (not attachable here, but described): for --unpublish, which needs only
 * what EC2 says of it. Several in other zones fail as attach_find(). */
int attach_find_anywhere(Attach *a);

/* The same for modes that report (--check, --status), which make nothing
 * either: where a boot would restore (Restore=), ATTACH_RESTORE_PLANNED
 * with a->restore_plan saying from what, and no resource (a->id NULL). */
#define ATTACH_RESTORE_PLANNED 1
int attach_find_or_plan(Attach *a);

/* For the kinds' restore(): the polls of EC2 while waiting (the take-over's
 * policy); one wait (telling systemd it is on purpose), not past not_after
 * nor the deadline: 0, -ETIME at the deadline, -ECANCELED; an instance's
 * EC2 state ("terminated" when EC2 no longer knows it; a failure is logged). */
BackoffPolicy attach_poll_policy(void);
int attach_wait_poll(Attach *a, Backoff *poll, usec_t not_after);
int attach_instance_state(Attach *a, const char *instance_id, char **ret);

/* Tags the lost resources (ids, NULL-terminated) replaced by new_id; a
 * failure is only a warning. For the kinds' restore(). */
void attach_mark_replaced(Attach *a, const char *const *ids, const char *new_id);

/* Describes the found resource again by its id, quietly (for the daemon's
 * periodic look after READY): 0, or the negative errno of the call. */
int attach_refresh(Attach *a);

/* Its attachment here, as last described. */
AttachMine attach_mine(const Attach *a);

/* Detaches the found resource from this instance and waits until EC2 says
 * it is free. Nothing to do when it is not attached here. */
int attach_release(Attach *a);

/* attach_release() in two halves, for releasing several resources at
 * once (a handover): the detach is sent (1; 0 when there is nothing to
 * detach), then each is waited for. */
int attach_release_start(Attach *a);
int attach_release_wait(Attach *a);

/* The holder's EC2 state decides the take-over: an instance that can no
 * longer use what it holds (stopped, terminated) may be force-detached
 * under TakeOver=force-detach-dead; a live one never, and neither one that
 * is shutting-down: a terminate is a graceful shutdown, its OS may still be
 * flushing and unmounting. */
bool attach_holder_is_dead(const char *instance_state);

/* For tests: replaces the timing of every attach (NULL: defaults). */
void attach_set_timing(const AttachTiming *timing);
