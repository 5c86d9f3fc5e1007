/* SPDX-License-Identifier: Apache-2.0 */
/* The pure parts of striped sets: the array's name, what mdadm printed, and
 * the decision to create, assemble or refuse. */
#include <ctype.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>

#include "raid.h"
#include "sigv4.h"

/* ---- names ------------------------------------------------------------- */

static bool md_name_char_ok(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '-' || c == '_' || c == '.';
}

int raid_md_name(const char *node, const char *section, char **ret) {
        _cleanup_free_ char *full = NULL;
        char hash[SIGV4_HEX_SIZE];
        bool clean = true;
        size_t len, keep;
        char *name;

        if (isempty(node) || isempty(section) || !ret)
                return -EINVAL;
        if (asprintf(&full, "%s-%s", node, section) < 0)
                return -ENOMEM;

        len = strlen(full);
        for (size_t i = 0; i < len; i++)
                if (!md_name_char_ok(full[i]))
                        clean = false;
        /* /dev/md/.. and hidden names are no names for a device. */
        if (full[0] == '.')
                clean = false;

        if (clean && len <= RAID_MD_NAME_MAX) {
                *ret = TAKE_PTR(full);
                return 0;
        }

        /* The hash is of the name as configured: two names that read alike
         * once cut or cleaned still differ in it. */
        sigv4_sha256_hex(full, len, hash);

        keep = MIN(len, (size_t) (RAID_MD_NAME_MAX - 1 - RAID_MD_NAME_HASH_SIZE));
        for (size_t i = 0; i < keep; i++)
                if (!md_name_char_ok(full[i]) || (i == 0 && full[i] == '.'))
                        full[i] = '_';
        /* "kafka-" + "-1a2b3c4d" would read as a double dash. */
        while (keep > 0 && (full[keep - 1] == '-' || full[keep - 1] == '_' || full[keep - 1] == '.'))
                keep--;

        if (asprintf(&name, "%.*s%s%.*s", (int) keep, full, keep > 0 ? "-" : "", (int) RAID_MD_NAME_HASH_SIZE,
                     hash) < 0)
                return -ENOMEM;
        *ret = name;
        return 0;
}

static int uuid_hex(const char *s, char hex[static 33]) {
        size_t n = 0;

        if (!s)
                return -EINVAL;
        for (; *s; s++) {
                if (isxdigit((unsigned char) *s)) {
                        if (n >= 32)
                                return -EINVAL;
                        hex[n++] = (char) tolower((unsigned char) *s);
                } else if (!strchr(":-. ", *s))
                        return -EINVAL;
        }
        if (n != 32)
                return -EINVAL;
        hex[32] = '\0';
        return 0;
}

int raid_uuid_normalize(const char *s, char ret[static RAID_UUID_STRING_SIZE]) {
        char hex[33];
        int r;

        r = uuid_hex(s, hex);
        if (r < 0)
                return r;
        /* 8-4-4-4-12, as blkid and the kernel print it. */
        (void) snprintf(ret, RAID_UUID_STRING_SIZE, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12, hex + 16,
                        hex + 20);
        return 0;
}

int raid_uuid_to_mdadm(const char *s, char ret[static RAID_UUID_STRING_SIZE]) {
        char hex[33];
        int r;

        r = uuid_hex(s, hex);
        if (r < 0)
                return r;
        (void) snprintf(ret, RAID_UUID_STRING_SIZE, "%.8s:%.8s:%.8s:%.8s", hex, hex + 8, hex + 16, hex + 24);
        return 0;
}

/* ---- mdadm --examine ---------------------------------------------------- */

void raid_superblock_done(RaidSuperblock *sb) {
        if (!sb)
                return;
        free(sb->metadata);
        free(sb->array_uuid);
        free(sb->name);
        free(sb->level);
        *sb = (RaidSuperblock) { .raid_devices = -1, .role = -1 };
}

static int parse_int(const char *s, int *ret) {
        char *end;
        long v;

        if (!s || !isdigit((unsigned char) *s))
                return -EINVAL;
        errno = 0;
        v = strtol(s, &end, 10);
        if (errno != 0 || v < 0 || v > INT32_MAX)
                return -EINVAL;
        if (*end != '\0' && !isspace((unsigned char) *end))
                return -EINVAL;
        *ret = (int) v;
        return 0;
}

static int parse_u64(const char *s, uint64_t *ret) {
        unsigned long long v;
        char *end;

        if (!s || !isdigit((unsigned char) *s))
                return -EINVAL;
        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno != 0)
                return -EINVAL;
        if (*end != '\0' && !isspace((unsigned char) *end))
                return -EINVAL;
        *ret = (uint64_t) v;
        return 0;
}

/* "Active device 2" -> 2; anything else (spare, faulty, Journal,
 * "Replacement device 1") is no place in the array. */
static int parse_role(const char *value) {
        const char *p = startswith(value, "Active device ");
        int role;

        if (!p || parse_int(p, &role) < 0)
                return -1;
        return role;
}

static int set_string(char **field, const char *value) {
        char *s = strdup(value);

        if (!s)
                return -ENOMEM;
        free(*field);
        *field = s;
        return 0;
}

/* One "Key : value" line of mdadm --examine. */
static int examine_line(RaidSuperblock *sb, const char *key, char *value) {
        char uuid[RAID_UUID_STRING_SIZE];
        char *suffix;

        if (streq(key, "Version"))
                return set_string(&sb->metadata, value);
        if (streq(key, "Array UUID") || streq(key, "UUID")) {
                /* 0.90 superblocks say "UUID", 1.x "Array UUID" (and
                 * "Device UUID" for the member itself). */
                if (raid_uuid_normalize(value, uuid) < 0)
                        return 0;
                return set_string(&sb->array_uuid, uuid);
        }
        if (streq(key, "Name")) {
                /* mdadm adds "  (local to host H)" after the name. */
                suffix = strstr(value, "  (local to host ");
                if (suffix)
                        *suffix = '\0';
                return set_string(&sb->name, value);
        }
        if (streq(key, "Raid Level"))
                return set_string(&sb->level, value);
        /* An unreadable count or event counter is not an error of the whole
         * superblock: the field keeps its "unknown" (parse_*() leave it
         * untouched on failure) and the decision treats it as such. */
        if (streq(key, "Raid Devices")) {
                (void) parse_int(value, &sb->raid_devices);
                return 0;
        }
        if (streq(key, "Device Role")) {
                sb->role = parse_role(value);
                return 0;
        }
        if (streq(key, "Events")) {
                (void) parse_u64(value, &sb->events);
                return 0;
        }
        return 0;
}

static char *strip(char *s) {
        size_t n;

        while (isspace((unsigned char) *s))
                s++;
        n = strlen(s);
        while (n > 0 && isspace((unsigned char) s[n - 1]))
                s[--n] = '\0';
        return s;
}

int raid_parse_examine(const char *text, RaidSuperblock *ret) {
        _cleanup_(raid_superblock_done) RaidSuperblock sb = { .raid_devices = -1, .role = -1 };
        _cleanup_free_ char *copy = NULL;
        char *line, *next;
        int r;

        if (!text || !ret)
                return -EINVAL;
        copy = strdup(text);
        if (!copy)
                return -ENOMEM;

        /* NOLINTNEXTLINE(clang-analyzer-unix.Malloc): line points into copy, freed by its _cleanup_free_, which clang 14 does not run. */
        for (line = copy; line; line = next) {
                char *colon, *key, *value;

                next = strchr(line, '\n');
                if (next)
                        *next++ = '\0';
                /* Keys are right-aligned before " : "; a value may hold a
                 * colon of its own (a name, a UUID). */
                colon = strstr(line, " : ");
                if (!colon)
                        continue;
                *colon = '\0';
                key = strip(line);
                value = strip(colon + 3);
                r = examine_line(&sb, key, value);
                if (r < 0)
                        return r; /* NOLINT(clang-analyzer-unix.Malloc): key points into copy, freed by its _cleanup_free_, which clang 14 does not run. */
        }

        if (!sb.array_uuid)
                return -ENODATA;
        *ret = sb;
        sb = (RaidSuperblock) {};
        return 0;
}

/* ---- the decision -------------------------------------------------------- */

static const char *const raid_action_table[_RAID_ACTION_MAX] = {
        [RAID_ACTION_CREATE] = "create",
        [RAID_ACTION_ASSEMBLE] = "assemble",
        [RAID_ACTION_REFUSE] = "refuse",
};

static const char *const raid_refusal_table[_RAID_REFUSAL_MAX] = {
        [RAID_REFUSAL_NONE] = "none",
        [RAID_REFUSAL_FOREIGN] = "foreign",
        [RAID_REFUSAL_NOT_ZEROS] = "not-zeros",
        [RAID_REFUSAL_MISSING_SUPERBLOCK] = "missing-superblock",
        [RAID_REFUSAL_OTHER_ARRAY] = "other-array",
        [RAID_REFUSAL_WRONG_SLOT] = "wrong-slot",
        [RAID_REFUSAL_PARTIAL] = "partial",
        [RAID_REFUSAL_FORMAT_NEVER] = "format-never",
};

const char *raid_action_to_string(RaidAction a) {
        if (a < 0 || a >= _RAID_ACTION_MAX)
                return NULL;
        return raid_action_table[a];
}

const char *raid_refusal_to_string(RaidRefusal r) {
        if (r < 0 || r >= _RAID_REFUSAL_MAX)
                return NULL;
        return raid_refusal_table[r];
}

int raid_refusal_to_errno(RaidRefusal r) {
        switch (r) {
        case RAID_REFUSAL_NONE:
                return 0;
        case RAID_REFUSAL_NOT_ZEROS:
                return -ENOTEMPTY;
        default:
                return -EMEDIUMTYPE;
        }
}

void raid_member_found_done(RaidMemberFound *f) {
        if (!f)
                return;
        fs_probe_done(&f->probe);
        raid_superblock_done(&f->sb);
        *f = (RaidMemberFound) { .sb = { .raid_devices = -1, .role = -1 } };
}

void raid_decision_done(RaidDecision *d) {
        if (!d)
                return;
        free(d->uuid);
        free(d->message);
        *d = (RaidDecision) { .member = -1 };
}

/* What one member holds, as far as the decision goes. */
typedef enum Holds {
        HOLDS_NOTHING,          /* no signature at all */
        HOLDS_MD,               /* an md superblock mdadm read */
        HOLDS_OTHER,            /* anything else */
} Holds;

static Holds holds(const RaidMemberFound *f) {
        if (!f->probe.found)
                return HOLDS_NOTHING;
        if (f->examined && !f->probe.ambivalent && !f->probe.pttype &&
            streq_ptr(f->probe.type, "linux_raid_member"))
                return HOLDS_MD;
        return HOLDS_OTHER;
}

typedef struct Ctx {
        const char *md_name;
        const char *stored_name;        /* "any:<md_name>" */
        const RaidMember *members;
        const RaidMemberFound *found;
        size_t n;
        const char *tagged;             /* the UUID the members' initialized tags name */
        char tagged_buf[RAID_UUID_STRING_SIZE]; /* where tagged points when not NULL */
        bool all_format_started;
        RaidDecision *ret;
} Ctx;

static int decide(Ctx *c, RaidAction action, RaidRefusal refusal, int member, const char *format, ...)
        _printf_(5, 6);

static int decide(Ctx *c, RaidAction action, RaidRefusal refusal, int member, const char *format, ...) {
        _cleanup_free_ char *body = NULL;
        char *message;
        va_list ap;
        int r;

        va_start(ap, format);
        r = vasprintf(&body, format, ap);
        va_end(ap);
        if (r < 0)
                return -ENOMEM;
        if (member >= 0)
                r = asprintf(&message, "member %d of %zu, %s (%s): %s", member + 1, c->n,
                             c->members[member].volume_id, strna(c->members[member].devnode), body);
        else
                r = asprintf(&message, "%s", body);
        if (r < 0)
                return -ENOMEM;

        free(c->ret->message);
        c->ret->message = message;
        c->ret->action = action;
        c->ret->refusal = refusal;
        c->ret->member = member;
        return 0;
}

static int refuse(Ctx *c, RaidRefusal refusal, int member, const char *what) {
        return decide(c, RAID_ACTION_REFUSE, refusal, member, "%s; refusing the set, nothing written.", what);
}

static bool named_ours(const Ctx *c, const RaidSuperblock *sb) {
        return streq_ptr(sb->name, c->stored_name);
}

/* Whether every member carries a superblock of one RAID 0 array of
 * exactly n members with this UUID, each in its recorded slot. On a
 * mismatch, *ret_refusal and *ret_member say what and where. */
static bool one_array(const Ctx *c, const char *uuid, RaidRefusal *ret_refusal, int *ret_member) {
        bool seen[RAID_MEMBERS_MAX] = {};

        for (size_t i = 0; i < c->n; i++) {
                const RaidSuperblock *sb = &c->found[i].sb;

                *ret_member = (int) i;
                if (holds(&c->found[i]) != HOLDS_MD) {
                        *ret_refusal = RAID_REFUSAL_MISSING_SUPERBLOCK;
                        return false;
                }
                if (!streq_ptr(sb->array_uuid, uuid) || !streq_ptr(sb->level, "raid0") ||
                    !streq_ptr(sb->metadata, "1.2")) {
                        *ret_refusal = RAID_REFUSAL_OTHER_ARRAY;
                        return false;
                }
                if (sb->raid_devices != (int) c->n) {
                        *ret_refusal = RAID_REFUSAL_PARTIAL;
                        return false;
                }
                if (sb->role < 0 || sb->role >= (int) c->n || seen[sb->role] ||
                    (c->members[i].slot >= 0 && sb->role != c->members[i].slot)) {
                        *ret_refusal = RAID_REFUSAL_WRONG_SLOT;
                        return false;
                }
                seen[sb->role] = true;
        }
        *ret_member = -1;
        *ret_refusal = RAID_REFUSAL_NONE;
        return true;
}

static int refuse_mismatch(Ctx *c, RaidRefusal refusal, int member, const char *uuid) {
        const RaidSuperblock *sb = &c->found[member].sb;
        _cleanup_free_ char *what = NULL;
        int r = 0;

        switch (refusal) {
        case RAID_REFUSAL_MISSING_SUPERBLOCK:
                r = asprintf(&what, "it carries no md superblock, while the set's other members (or its "
                             "nodeagent:initialized tag) say array %s: a member was replaced or wiped", uuid);
                break;
        case RAID_REFUSAL_OTHER_ARRAY:
                r = asprintf(&what, "it belongs to array %s (%s, metadata %s, name \"%s\"), not to "
                             "nodeagent's RAID 0 array %s", strna(sb->array_uuid), strna(sb->level),
                             strna(sb->metadata), strna(sb->name), uuid);
                break;
        case RAID_REFUSAL_PARTIAL:
                r = asprintf(&what, "its array %s has %d members, the section names %zu: only part of an "
                             "array, or more than it", uuid, sb->raid_devices, c->n);
                break;
        case RAID_REFUSAL_WRONG_SLOT:
                if (sb->role < 0 || sb->role >= (int) c->n)
                        r = asprintf(&what, "it holds no active place in array %s (a spare, a failed "
                                     "device, or place %d)", uuid, sb->role);
                else if (c->members[member].slot >= 0 && sb->role != c->members[member].slot)
                        r = asprintf(&what, "it is device %d of array %s, but the section records it in place "
                                     "%d: members swapped or listed in another order", sb->role, uuid,
                                     c->members[member].slot);
                else
                        r = asprintf(&what, "it is device %d of array %s, and so is another member: a copy of "
                                     "a member (a volume restored beside its original?)", sb->role, uuid);
                break;
        default:
                return -EINVAL;
        }
        if (r < 0)
                return -ENOMEM;
        return refuse(c, refusal, member, what);
}

/* Every member blank by probe: a new array, if nothing says otherwise. */
static int decide_blank(Ctx *c, bool allow_create) {
        for (size_t i = 0; i < c->n; i++) {
                if (c->members[i].initialized)
                        return refuse(c, RAID_REFUSAL_MISSING_SUPERBLOCK, (int) i,
                                      "it is tagged nodeagent:initialized but carries no md superblock: it "
                                      "held the array, and creating one could destroy its data");
                /* Our own mdadm --create writes only its superblock; bytes
                 * without one on a member we marked are that write, torn. */
                if (!c->found[i].zeros && !c->members[i].format_started)
                        return refuse(c, RAID_REFUSAL_NOT_ZEROS, (int) i,
                                      "it has no known signature but does not read as zeros: unknown raw "
                                      "data (a snapshot, another tool's format?)");
        }
        if (!allow_create)
                return refuse(c, RAID_REFUSAL_FORMAT_NEVER, -1,
                              "every member is blank and Format=never: set Format=if-blank to create the "
                              "array, or attach the volumes that hold it");
        for (size_t i = 0; i < c->n; i++)
                if (!c->found[i].zeros)
                        return decide(c, RAID_ACTION_CREATE, RAID_REFUSAL_NONE, -1,
                                      "every member is blank but for the bytes of an interrupted mdadm --create "
                                      "of nodeagent's (tagged nodeagent:format-started, never initialised): "
                                      "creating RAID 0 array %s over %zu members again.", c->md_name, c->n);
        return decide(c, RAID_ACTION_CREATE, RAID_REFUSAL_NONE, -1,
                      "every member is blank (no signature, reads as zeros, never initialised): creating "
                      "RAID 0 array %s over %zu members.", c->md_name, c->n);
}

/* No initialized tag, every member tagged format-started, and every
 * superblock there named like ours: our own creation, interrupted. */
static bool interrupted_create(const Ctx *c) {
        if (c->tagged || !c->all_format_started)
                return false;
        for (size_t i = 0; i < c->n; i++)
                if (holds(&c->found[i]) == HOLDS_MD && !named_ours(c, &c->found[i].sb))
                        return false;
        return true;
}

static int decide_interrupted(Ctx *c, bool allow_create) {
        const char *uuid = c->found[0].sb.array_uuid;
        RaidRefusal refusal;
        int member;

        /* Killed after mdadm --create finished: the array is whole. */
        if (holds(&c->found[0]) == HOLDS_MD && one_array(c, uuid, &refusal, &member)) {
                c->ret->uuid = strdup(uuid);
                if (!c->ret->uuid)
                        return -ENOMEM;
                return decide(c, RAID_ACTION_ASSEMBLE, RAID_REFUSAL_NONE, -1,
                              "every member carries array %s, named %s, created by nodeagent (tagged "
                              "nodeagent:format-started) and never initialised: assembling it.",
                              uuid, c->md_name);
        }
        if (!allow_create)
                return refuse(c, RAID_REFUSAL_FORMAT_NEVER, -1,
                              "the members hold only an interrupted mdadm --create of nodeagent's and "
                              "Format=never");
        c->ret->recreate = true;
        return decide(c, RAID_ACTION_CREATE, RAID_REFUSAL_NONE, -1,
                      "the members hold only an interrupted mdadm --create of nodeagent's (tagged "
                      "nodeagent:format-started, never initialised, superblocks named %s or none): "
                      "creating the array again.", c->md_name);
}

/* A superblock on member, no initialized tag, and not our interrupted
 * create: an array someone else made, even when it is named like ours. */
static int refuse_untagged(Ctx *c, int member) {
        const RaidSuperblock *sb = &c->found[member].sb;
        _cleanup_free_ char *what = NULL;

        if (asprintf(&what, "it carries array %s (%s, name \"%s\"), but no member is tagged "
                     "nodeagent:initialized and %s: nodeagent did not make this array for this section (to "
                     "adopt it, tag every member nodeagent:initialized=%s)", strna(sb->array_uuid),
                     strna(sb->level), strna(sb->name),
                     c->all_format_started ? "the name is not this section's" :
                                             "not every member is tagged nodeagent:format-started",
                     strna(sb->array_uuid)) < 0)
                return -ENOMEM;
        return refuse(c, RAID_REFUSAL_OTHER_ARRAY, member, what);
}

/* Members with superblocks that are not an interrupted create of ours:
 * assemble only the array the tags name, whole and in order. */
static int decide_existing(Ctx *c) {
        const char *uuid;
        RaidRefusal refusal;
        int member;

        if (!c->tagged) {
                for (size_t i = 0; i < c->n; i++)
                        if (holds(&c->found[i]) == HOLDS_MD)
                                return refuse_untagged(c, (int) i);
                return -EINVAL;
        }
        uuid = c->tagged;
        if (!one_array(c, uuid, &refusal, &member))
                return refuse_mismatch(c, refusal, member, uuid);

        c->ret->uuid = strdup(uuid);
        if (!c->ret->uuid)
                return -ENOMEM;
        return decide(c, RAID_ACTION_ASSEMBLE, RAID_REFUSAL_NONE, -1,
                      "every member carries array %s (%s), each in its place: assembling it as %s.", uuid,
                      c->members[0].restored && !c->members[0].initialized ?
                      "restored from the node's snapshot set" : "tagged nodeagent:initialized", c->md_name);
}

/* The UUID the members' nodeagent:initialized tags name, into c->tagged
 * (NULL: none tagged); 1 when they disagree or one holds no UUID (then
 * decided: refused). */
static int read_tags(Ctx *c, char buf[static RAID_UUID_STRING_SIZE]) {
        char uuid[RAID_UUID_STRING_SIZE];
        int first = -1;

        for (size_t i = 0; i < c->n; i++) {
                const char *tag = c->members[i].initialized;
                int r;

                if (!tag)
                        continue;
                if (raid_uuid_normalize(tag, uuid) < 0) {
                        r = refuse(c, RAID_REFUSAL_OTHER_ARRAY, (int) i,
                                   "its nodeagent:initialized tag holds no array UUID (a single volume's "
                                   "filesystem tag?)");
                        return r < 0 ? r : 1;
                }
                if (first < 0) {
                        first = (int) i;
                        memcpy(buf, uuid, RAID_UUID_STRING_SIZE);
                        continue;
                }
                if (!streq(buf, uuid)) {
                        _cleanup_free_ char *what = NULL;

                        if (asprintf(&what, "its nodeagent:initialized tag names array %s, member %d's names "
                                     "%s: members of different arrays", uuid, first + 1, buf) < 0)
                                return -ENOMEM;
                        r = refuse(c, RAID_REFUSAL_OTHER_ARRAY, (int) i, what);
                        return r < 0 ? r : 1;
                }
        }
        c->tagged = first >= 0 ? buf : NULL;
        if (c->tagged)
                return 0;

        /* No tag yet, but every member restored by nodeagent from the
         * node's own snapshot set: the superblock they carry (the first's;
         * the others must agree) is the node's array. */
        for (size_t i = 0; i < c->n; i++)
                if (!c->members[i].restored || holds(&c->found[i]) != HOLDS_MD)
                        return 0;
        (void) snprintf(buf, RAID_UUID_STRING_SIZE, "%s", c->found[0].sb.array_uuid);
        c->tagged = buf;
        return 0;
}

static int decide_members(Ctx *c, bool allow_create) {
        bool all_blank = true;
        int r;

        /* In c, not on this stack: c->tagged points at it and c outlives
         * this call. */
        r = read_tags(c, c->tagged_buf);
        if (r != 0)
                return r < 0 ? r : 0;

        c->all_format_started = true;
        for (size_t i = 0; i < c->n; i++)
                if (!c->members[i].format_started)
                        c->all_format_started = false;
        c->ret->marks = (FsVolumeMarks) {
                .initialized = c->tagged != NULL,
                .format_started = c->all_format_started,
        };

        for (size_t i = 0; i < c->n; i++) {
                Holds h = holds(&c->found[i]);

                if (h == HOLDS_OTHER) {
                        _cleanup_free_ char *what = NULL, *found = fs_probe_describe(&c->found[i].probe);

                        if (!found)
                                return -ENOMEM;
                        if (asprintf(&what, "it has %s%s, not a member of nodeagent's array", found,
                                     streq_ptr(c->found[i].probe.type, "linux_raid_member") ?
                                     " that mdadm cannot read" : "") < 0)
                                return -ENOMEM;
                        return refuse(c, RAID_REFUSAL_FOREIGN, (int) i, what);
                }
                if (h != HOLDS_NOTHING)
                        all_blank = false;
        }

        if (all_blank)
                return decide_blank(c, allow_create);
        if (interrupted_create(c))
                return decide_interrupted(c, allow_create);
        return decide_existing(c);
}

int raid_decide(const char *md_name, const RaidMember *members, const RaidMemberFound *found, size_t n,
                bool allow_create, RaidDecision *ret) {
        _cleanup_(raid_decision_done) RaidDecision d = { .member = -1 };
        _cleanup_free_ char *stored_name = NULL;
        Ctx c;
        int r;

        if (isempty(md_name) || !members || !found || n == 0 || n > RAID_MEMBERS_MAX || !ret)
                return -EINVAL;
        for (size_t i = 0; i < n; i++)
                if (members[i].slot < -1 || members[i].slot >= (int) n || isempty(members[i].volume_id))
                        return -EINVAL;
        if (asprintf(&stored_name, "%s%s", RAID_STORED_NAME_PREFIX, md_name) < 0)
                return -ENOMEM;

        c = (Ctx) {
                .md_name = md_name,
                .stored_name = stored_name,
                .members = members,
                .found = found,
                .n = n,
                .ret = &d,
        };
        r = decide_members(&c, allow_create);
        if (r < 0)
                return r;
        /* Every way through decide_members() ends in decide(). */
        if (!d.message)
                return -EINVAL;

        *ret = d;
        d = (RaidDecision) { .member = -1 };
        return 0;
}

static int compare_members(const void *a, const void *b) {
        const RaidMember *x = a, *y = b;

        return strcmp(x->volume_id, y->volume_id);
}

void raid_members_sort(RaidMember *members, size_t n) {
        if (members && n > 1)
                qsort(members, n, sizeof(RaidMember), compare_members);
}
