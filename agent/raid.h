/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Striped sets (DESIGN.md, "Several volumes"): Linux md RAID 0 over the
 * proven member devices of one volume section, then one filesystem on the
 * array (fs.h, unchanged). raid-decide.c holds the pure parts (the array's
 * name, what mdadm printed, the decision), raid.c the rest: it reads each
 * member with libblkid (fs_probe()) and `mdadm --examine`, finds the arrays
 * the kernel already runs over them (sysfs holders), and runs mdadm
 * (spawn-util.h) to create, assemble or stop. Only mdadm writes to a member.
 *
 * What the caller (the volume path) does around raid_setup():
 *   1. attach every member and prove each by its serial (fewer found than
 *      named: exit 4, before any of this);
 *   2. fill one RaidMember per member, in the set's recorded order: the
 *      order of Id=, each with .slot = its index; or, for Tag= + Count=,
 *      sorted by raid_members_sort() (volume id), each with .slot = -1
 *      (any slot: the superblocks alone say which member is where);
 *   3. raid_setup(): on success, result.device is /dev/md/<name>;
 *   4. fs_setup(result.device, ..., marks = result.marks);
 *   5. tag every member nodeagent:initialized=<result.uuid> (the array's
 *      UUID, not the filesystem's), in one CreateTags call.
 * options.before_write tags every member nodeagent:format-started before
 * RAID_WRITE_CREATE (the same tag fs_setup()'s before_format writes before
 * mkfs): a boot killed between mdadm --create and the filesystem then finds
 * members that carry our superblocks, never initialised, and knows the
 * array as its own to format.
 *
 * The decision (raid_decide(), "blank" as fs.h's rules that protect data):
 *   CREATE    every member is blank (no signature, reads as zeros, not
 *             tagged nodeagent:initialized) and creation is allowed
 *             (Format=if-blank); or every member is tagged
 *             nodeagent:format-started, none initialised, and each is
 *             blank or carries an md superblock named like ours: the
 *             remains of our own mdadm --create, killed half-way
 *   ASSEMBLE  every member carries an md 1.2 superblock of one RAID 0
 *             array of exactly these members, each in its recorded slot,
 *             whose UUID is ours: the members' nodeagent:initialized tag
 *             names it, or (no tag yet) it is named like ours and every
 *             member is tagged nodeagent:format-started (we created it, and
 *             the boot stopped before the tag), or every member was restored
 *             by nodeagent from the node's snapshot set (.restored)
 *   REFUSE    anything else, nothing written (exit status 5): a member with
 *             another signature (a filesystem, LVM, LUKS, a partition table),
 *             raw data, a member without superblock beside members with one,
 *             a superblock of another array, a member in the wrong slot, an
 *             array of more or fewer members than the section names (a
 *             partial set), a blank set with Format=never
 *
 * An array the kernel already runs over our members (Debian's udev rules
 * run `mdadm --incremental` for every member that shows up, and assemble it
 * by themselves, possibly as an inactive md127 holding some of them) is
 * adopted as it is when it is active, the decision is ASSEMBLE, and it is
 * that array over exactly our members; any other array holding a member is
 * stopped (mdadm --stop) before the decision is acted on. An array in use
 * (mounted, say) that is not ours is refused.
 *
 * Errors, as exit-status.h reads them (the fs.h errnos, so that
 * fs_error_is_refusal() and raid_error_is_refusal() agree):
 *   -EMEDIUMTYPE  a refusal (logged here at error level, once, with the
 *                 member and what it holds)                           -> 5
 *   -ENOTEMPTY    a refusal: a member holds raw data                   -> 5
 *   -ENOPKG       mdadm is not installed (logged, with the package)    -> 1
 *   -ETIME        the deadline passed (mdadm was killed)               -> 6
 *   -EIO          mdadm failed for a reason of its own (its words are
 *                 in the log at warning level)                         -> 1
 * Low-level steps log at debug level; the caller logs a failure once. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fs.h"
#include "macro.h"
#include "time-util.h"

/* The array's md name: "<node>-<section>", [Volume] being section "data".
 * md keeps 32 bytes of name, and mdadm (--homehost=any) stores "any:" in
 * front of it and a NUL after it only when all of it fits: 27 bytes are
 * ours. */
#define RAID_MD_NAME_MAX 27U
#define RAID_HOMEHOST "any"
/* What a member's superblock says for an array named <name>. */
#define RAID_STORED_NAME_PREFIX RAID_HOMEHOST ":"
/* A hash of the whole name ends a shortened one: "-" and 8 hex digits. */
#define RAID_MD_NAME_HASH_SIZE 8U
#define RAID_MEMBERS_MAX 16U
/* "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" and its NUL. */
#define RAID_UUID_STRING_SIZE 37U

/* ---- pure parts (raid-decide.c) ------------------------------------- */

/* "<node>-<section>" when it is at most RAID_MD_NAME_MAX bytes of
 * [A-Za-z0-9._-] (not starting with '.'); otherwise the first bytes of it,
 * with any other byte as '_', then "-" and the first 8 hex digits of the
 * SHA-256 of the whole "<node>-<section>", RAID_MD_NAME_MAX bytes in all.
 * Stable: an array's name must never change between versions. */
int raid_md_name(const char *node, const char *section, char **ret);

/* A UUID in any of the spellings of blkid, mdadm ("a0fe419c:e3b72ffa:...")
 * or the kernel, as "a0fe419c-e3b7-2ffa-19c7-beec7bd0c11a" (lower case).
 * -EINVAL when s does not hold 32 hex digits separated by ':', '-', '.' or
 * ' ' only. */
int raid_uuid_normalize(const char *s, char ret[static RAID_UUID_STRING_SIZE]);

/* The same UUID as mdadm spells it ("a0fe419c:e3b72ffa:19c7beec:7bd0c11a"),
 * for --uuid=. */
int raid_uuid_to_mdadm(const char *s, char ret[static RAID_UUID_STRING_SIZE]);

/* What a member's md superblock says (mdadm --examine). */
typedef struct RaidSuperblock {
        char *metadata;         /* "1.2", "0.90.00", ...; NULL when not said */
        char *array_uuid;       /* normalised (raid_uuid_normalize()); NULL when not said */
        char *name;             /* as stored: "any:kafka-1-data" (1.x only) */
        char *level;            /* "raid0", "raid1", ... */
        int raid_devices;       /* -1 when not said */
        int role;               /* "Active device N": N; -1 for a spare, faulty, journal, unknown */
        uint64_t events;
} RaidSuperblock;

void raid_superblock_done(RaidSuperblock *sb);

/* Parses the text of `mdadm --examine DEVICE` (LC_ALL=C). -ENODATA when it
 * holds no "Array UUID" or "UUID" line (not an md superblock mdadm could
 * read), -ENOMEM. */
int raid_parse_examine(const char *text, RaidSuperblock *ret);

/* One member of a set, as the caller knows it. */
typedef struct RaidMember {
        const char *volume_id;          /* "vol-..." (messages, raid_members_sort()) */
        const char *devnode;            /* the proven device: "/dev/nvme2n1" */
        int slot;                       /* its place in the array (0..n-1), or -1: any place */
        const char *initialized;        /* its nodeagent:initialized tag (the array's UUID), or NULL */
        bool format_started;            /* it carries nodeagent:format-started */
        bool restored;                  /* made by nodeagent from the node's own snapshot (restore.h),
                                         * not yet initialised: its superblock is the node's array, as
                                         * the tag would say when every member is so */
} RaidMember;

/* Sorts members by volume id: the recorded order of a set found by Tag=. */
void raid_members_sort(RaidMember *members, size_t n);

/* What raid.c found on one member. */
typedef struct RaidMemberFound {
        FsProbe probe;                  /* libblkid: any signature */
        bool zeros;                     /* reads as zeros; looked at only when the probe found nothing */
        bool examined;                  /* mdadm --examine read an md superblock */
        RaidSuperblock sb;              /* when examined */
} RaidMemberFound;

void raid_member_found_done(RaidMemberFound *f);

typedef enum RaidAction {
        RAID_ACTION_CREATE,
        RAID_ACTION_ASSEMBLE,
        RAID_ACTION_REFUSE,
        _RAID_ACTION_MAX,
        _RAID_ACTION_INVALID = -EINVAL,
} RaidAction;

typedef enum RaidRefusal {
        RAID_REFUSAL_NONE,
        RAID_REFUSAL_FOREIGN,           /* a member holds a filesystem, LVM, LUKS, a partition table... */
        RAID_REFUSAL_NOT_ZEROS,         /* a member without signature that does not read as zeros */
        RAID_REFUSAL_MISSING_SUPERBLOCK,/* a member without md superblock beside members with one, or
                                         * tagged initialised */
        RAID_REFUSAL_OTHER_ARRAY,       /* a superblock of an array that is not ours, or several arrays */
        RAID_REFUSAL_WRONG_SLOT,        /* a member in another place than recorded */
        RAID_REFUSAL_PARTIAL,           /* the array has more or fewer members than the section names */
        RAID_REFUSAL_FORMAT_NEVER,      /* blank, and Format=never */
        _RAID_REFUSAL_MAX,
        _RAID_REFUSAL_INVALID = -EINVAL,
} RaidRefusal;

const char *raid_action_to_string(RaidAction a) _pure_;
const char *raid_refusal_to_string(RaidRefusal r) _pure_;

/* -ENOTEMPTY for RAID_REFUSAL_NOT_ZEROS, 0 for none, else -EMEDIUMTYPE. */
int raid_refusal_to_errno(RaidRefusal r) _pure_;

typedef struct RaidDecision {
        RaidAction action;
        RaidRefusal refusal;            /* RAID_REFUSAL_NONE unless REFUSE */
        int member;                     /* the member a refusal is about, -1 when about the set */
        char *uuid;                     /* ASSEMBLE: the array's UUID (normalised) */
        bool recreate;                  /* CREATE over the remains of our own interrupted create */
        FsVolumeMarks marks;            /* for the filesystem on the array: initialized when a member
                                         * is tagged so; format_started when every member is */
        char *message;                  /* one sentence for the log, always set */
} RaidDecision;

void raid_decision_done(RaidDecision *d);

/* The decision above, from what was found on members[i] (found[i]).
 * md_name: raid_md_name()'s. allow_create: Format=if-blank. -EINVAL for
 * n == 0, n > RAID_MEMBERS_MAX or a slot out of range, -ENOMEM. */
int raid_decide(const char *md_name, const RaidMember *members, const RaidMemberFound *found, size_t n,
                bool allow_create, RaidDecision *ret);

/* ---- acting (raid.c) -------------------------------------------------- */

/* What member->devnode (a block device, or an image file) holds: libblkid's
 * probe, whether it reads as zeros (when the probe found nothing), and
 * mdadm --examine's reading of an md superblock. Writes nothing. */
int raid_examine(const RaidMember *member, usec_t deadline, RaidMemberFound *ret);

/* The writes raid_setup() makes, for RaidSetupOptions.before_write. */
typedef enum RaidWrite {
        RAID_WRITE_STOP,                /* mdadm --stop of an array holding a member */
        RAID_WRITE_CREATE,              /* mdadm --create */
        RAID_WRITE_ASSEMBLE,            /* mdadm --assemble */
        _RAID_WRITE_MAX,
        _RAID_WRITE_INVALID = -EINVAL,
} RaidWrite;

const char *raid_write_to_string(RaidWrite w) _pure_;

typedef struct RaidSetupOptions {
        bool allow_create;              /* Format=if-blank */
        /* Called right before each write: the caller tags the members
         * nodeagent:format-started before RAID_WRITE_CREATE. A negative
         * return stops the setup there, with nothing written. May be NULL. */
        int (*before_write)(RaidWrite what, const char *md_device, void *userdata);
        void *userdata;
} RaidSetupOptions;

typedef enum RaidOutcome {
        RAID_OUTCOME_CREATED,           /* mdadm --create made it now */
        RAID_OUTCOME_ASSEMBLED,         /* mdadm --assemble started it now */
        RAID_OUTCOME_ADOPTED,           /* it was running already (udev, or an earlier run) */
        _RAID_OUTCOME_MAX,
        _RAID_OUTCOME_INVALID = -EINVAL,
} RaidOutcome;

const char *raid_outcome_to_string(RaidOutcome o) _pure_;

typedef struct RaidResult {
        char *device;                   /* "/dev/md/<md_name>": NODEAGENT_..._DEVICE */
        char *uuid;                     /* the array's UUID: nodeagent:initialized=<uuid> on every member */
        RaidOutcome outcome;
        FsVolumeMarks marks;            /* pass as FsSetupOptions.marks for the array */
} RaidResult;

void raid_result_done(RaidResult *r);

/* The whole step, for members already proven: find the arrays over them,
 * examine every member, decide, stop what must go, then create, assemble
 * or adopt; and check the result (mdadm --detail: our UUID, RAID 0, every
 * member in its place). deadline bounds every program run. */
int raid_setup(const char *md_name, const RaidMember *members, size_t n, const RaidSetupOptions *options,
               usec_t deadline, RaidResult *ret);

/* Whether an error of raid_setup() is a refusal (exit status 5). */
bool raid_error_is_refusal(int r);

/* For --detach and DetachOnStop=: stops /dev/md/<md_name> and any other
 * array that holds one of members' devices (members may be NULL, n 0), so
 * that they can be detached. The filesystem must be unmounted first
 * (-EBUSY, logged, when the array is still in use). Returns 1 when it
 * stopped something, 0 when nothing ran. */
int raid_stop(const char *md_name, const RaidMember *members, size_t n, usec_t deadline);

/* What runs as /dev/md/<md_name> now, for --status. */
typedef struct RaidStatus {
        char *kernel_name;              /* "md127" */
        char *array_state;              /* sysfs md/array_state: "clean", "active", "inactive", ... */
        char *uuid;                     /* normalised, when mdadm --detail says */
        int raid_devices;               /* -1 when unknown */
} RaidStatus;

void raid_status_done(RaidStatus *s);

/* 1 and *ret filled when /dev/md/<md_name> exists, 0 when it does not. */
int raid_status(const char *md_name, usec_t deadline, RaidStatus *ret);
