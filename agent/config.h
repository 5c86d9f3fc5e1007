/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The configuration: systemd-style INI from four sources, later ones
 * overriding earlier ones (DESIGN.md, "Configuration"):
 *
 *   1. nodeagent.conf          config_load()
 *   2. the conf.d drop-ins     config_load(): NAME.conf beside nodeagent.conf,
 *                              in strcmp() order of the names
 *   3. IMDS user data          config_apply_user_data(), at run time
 *   4. --set Section.Key=Value config_load(), and again by config_apply_user_data()
 *
 * User data is only known after IMDS answers, long after the files and --set
 * have been read and checked. So config_load() applies the files and then
 * the --set overrides (a typo fails before any network call), and
 * config_apply_user_data() applies the user data and then the same --set
 * list again, which restores the order above:
 *
 *   _cleanup_(config_freep) Config *c = NULL;
 *   _cleanup_(config_error_done) ConfigError e = {};
 *   r = config_new(&c);
 *   r = config_load(c, "/etc/nodeagent/nodeagent.conf", sets, &e);
 *   ... IMDS ...
 *   r = config_apply_user_data(c, user_data, sets, &e);
 *   r = config_validate(c, &e);
 *
 * Every value is checked when it is read (syntax, ids, ranges), so a bad
 * value fails with file:line at once. The rules that span keys ([Volume]
 * needs Id= or Tag=, ...) are in config_validate(), to be called once all
 * sources are in: a file may legitimately leave MountPoint= to user data.
 *
 * On failure a function leaves the Config partly updated: a configuration
 * error is fatal (exit status 2), so nothing tries to use it afterwards. */

#include <stdbool.h>
#include <stdio.h>

#include "macro.h"
#include "time-util.h"

/* Enums follow systemd: _X_INVALID is -EINVAL, so that x_from_string()
 * returns the value or a negative errno. */

typedef enum FileSystem {
        FILESYSTEM_EXT4,
        FILESYSTEM_XFS,
        _FILESYSTEM_MAX,
        _FILESYSTEM_INVALID = -EINVAL,
} FileSystem;

typedef enum FormatPolicy {
        FORMAT_NEVER,
        FORMAT_IF_BLANK,
        _FORMAT_MAX,
        _FORMAT_INVALID = -EINVAL,
} FormatPolicy;

typedef enum TakeOverPolicy {
        TAKE_OVER_WAIT,
        TAKE_OVER_FORCE_DETACH_DEAD,
        /* Ask a live holder to let go (DESIGN.md, "Handover"); one that
         * does not answer is waited for as with TAKE_OVER_WAIT. */
        TAKE_OVER_HANDOVER,
        _TAKE_OVER_MAX,
        _TAKE_OVER_INVALID = -EINVAL,
} TakeOverPolicy;

/* Stripe=: how a volume section's members make one block device. */
typedef enum StripeMode {
        STRIPE_NONE,                    /* exactly one volume */
        STRIPE_RAID0,                   /* Linux md RAID 0 over every member */
        _STRIPE_MAX,
        _STRIPE_INVALID = -EINVAL,
} StripeMode;

/* [Volume] Restore=: what to do when the volume found by tag is in another
 * AZ (and free), or when none exists (DESIGN.md, "Lost volumes"). */
typedef enum VolumeRestore {
        VOLUME_RESTORE_NO,
        VOLUME_RESTORE_SNAPSHOT,                /* from the newest completed snapshot; none: exit 4 */
        VOLUME_RESTORE_SNAPSHOT_OR_BLANK,       /* from it, else blank */
        VOLUME_RESTORE_BLANK,
        _VOLUME_RESTORE_MAX,
        _VOLUME_RESTORE_INVALID = -EINVAL,
} VolumeRestore;

/* VolumeType=: the EBS type of a volume created by a restore without an
 * old volume or snapshot to copy it from. The names are EC2's. */
typedef enum VolumeType {
        VOLUME_TYPE_GP3,
        VOLUME_TYPE_GP2,
        VOLUME_TYPE_IO1,
        VOLUME_TYPE_IO2,
        VOLUME_TYPE_ST1,
        VOLUME_TYPE_SC1,
        VOLUME_TYPE_STANDARD,
        _VOLUME_TYPE_MAX,
        _VOLUME_TYPE_INVALID = -EINVAL,
} VolumeType;

/* [Interface] Restore=: an ENI found by tag in another AZ is replaced by a
 * new one in this instance's subnet (create), or refused as today (no). */
typedef enum InterfaceRestore {
        INTERFACE_RESTORE_NO,
        INTERFACE_RESTORE_CREATE,
        _INTERFACE_RESTORE_MAX,
        _INTERFACE_RESTORE_INVALID = -EINVAL,
} InterfaceRestore;

/* [DNS] UnpublishOnStop=: terminating unpublishes on SIGTERM only when IMDS
 * says the instance is being terminated. */
typedef enum UnpublishOnStop {
        UNPUBLISH_ON_STOP_NO,
        UNPUBLISH_ON_STOP_TERMINATING,
        _UNPUBLISH_ON_STOP_MAX,
        _UNPUBLISH_ON_STOP_INVALID = -EINVAL,
} UnpublishOnStop;

typedef enum RoutingMode {
        ROUTING_AUTO,
        ROUTING_AGENT,
        ROUTING_NONE,
        _ROUTING_MAX,
        _ROUTING_INVALID = -EINVAL,
} RoutingMode;

typedef enum DnsMode {
        DNS_MODE_NODE,
        DNS_MODE_MULTIVALUE,
        DNS_MODE_SHARED,
        _DNS_MODE_MAX,
        _DNS_MODE_INVALID = -EINVAL,
} DnsMode;

/* The section types. CONFIG_SECTION_VOLUME is [Volume] and every
 * [Volume:NAME]; the other types appear once. */
typedef enum ConfigSection {
        CONFIG_SECTION_NODE,
        CONFIG_SECTION_VOLUME,
        CONFIG_SECTION_INTERFACE,
        CONFIG_SECTION_DNS,
        CONFIG_SECTION_SIGNAL,
        _CONFIG_SECTION_MAX,
        _CONFIG_SECTION_INVALID = -EINVAL,
} ConfigSection;

/* The *_to_string() functions return NULL for values out of range. */
const char *filesystem_to_string(FileSystem f) _pure_;
FileSystem filesystem_from_string(const char *s) _pure_;
const char *format_policy_to_string(FormatPolicy f) _pure_;
FormatPolicy format_policy_from_string(const char *s) _pure_;
const char *take_over_policy_to_string(TakeOverPolicy t) _pure_;
TakeOverPolicy take_over_policy_from_string(const char *s) _pure_;
const char *stripe_mode_to_string(StripeMode m) _pure_;
StripeMode stripe_mode_from_string(const char *s) _pure_;
const char *volume_restore_to_string(VolumeRestore r) _pure_;
VolumeRestore volume_restore_from_string(const char *s) _pure_;
const char *volume_type_to_string(VolumeType t) _pure_;
VolumeType volume_type_from_string(const char *s) _pure_;
const char *interface_restore_to_string(InterfaceRestore r) _pure_;
InterfaceRestore interface_restore_from_string(const char *s) _pure_;
const char *unpublish_on_stop_to_string(UnpublishOnStop u) _pure_;
UnpublishOnStop unpublish_on_stop_from_string(const char *s) _pure_;
const char *routing_mode_to_string(RoutingMode r) _pure_;
RoutingMode routing_mode_from_string(const char *s) _pure_;
const char *dns_mode_to_string(DnsMode m) _pure_;
DnsMode dns_mode_from_string(const char *s) _pure_;
const char *config_section_to_string(ConfigSection s) _pure_;
ConfigSection config_section_from_string(const char *s) _pure_;

/* Tag=Key=Value: the resource carrying this tag. key is NULL when unset. */
typedef struct ConfigTag {
        char *key;
        char *value;
} ConfigTag;

typedef struct ConfigNode {
        char *name;                     /* NULL: the instance id */
        usec_t timeout;                 /* > 0 */
} ConfigNode;

/* The name of [Volume] where a volume section needs a name (the md array
 * <node>-data, --section data). */
#define CONFIG_VOLUME_DATA "data"

/* The most members of a striped set, by Id= or Count=. */
#define CONFIG_STRIPE_MEMBERS_MAX 16U

/* One volume section: [Volume] or [Volume:NAME]. A section is one volume,
 * or with Stripe=raid0 a set of members: the ids of Id=, or the Count=
 * volumes that carry Tag= (config_volume_n_members()). */
typedef struct ConfigVolume {
        char *section;                  /* "data" for [Volume], NAME for [Volume:NAME] */
        char **ids;                     /* Id=: vol-... in the order given, NULL-terminated; NULL when found by tag */
        size_t n_ids;                   /* entries of ids; > 1 only with Stripe=raid0 */
        char *id;                       /* ids[0] (owned by ids): the volume of a section that is one volume; NULL when found by tag */
        ConfigTag tag;
        unsigned count;                 /* Count=: volumes carrying Tag= in a striped set, 2..16; 0: unset (one volume) */
        StripeMode stripe;
        char *device;                   /* name passed to AttachVolume; "auto": picked at attach time (devname.h); only "auto" for a set */
        char *mount_point;              /* absolute, normalised, not "/" */
        FileSystem file_system;
        char *mount_options;            /* NULL: none */
        FormatPolicy format;
        bool grow;
        TakeOverPolicy take_over;
        usec_t take_over_timeout;
        bool detach_on_stop;
        VolumeRestore restore;          /* only with Tag= */
        unsigned size_gib;              /* Size=: 1..65536 GiB for a volume created blank; 0: unset */
        VolumeType volume_type;
} ConfigVolume;

typedef struct ConfigInterface {
        char *id;                       /* eni-...; NULL when found by tag */
        ConfigTag tag;
        unsigned device_index;          /* 1..31 */
        unsigned network_card_index;    /* 0..31, always sent */
        RoutingMode routing;
        unsigned mtu;                   /* Routing=agent; 0: the primary interface's */
        TakeOverPolicy take_over;
        usec_t take_over_timeout;
        bool detach_on_stop;
        InterfaceRestore restore;       /* only with Tag= */
} ConfigInterface;

typedef struct ConfigDns {
        char *hosted_zone_id;           /* without "/hostedzone/" */
        char *name;                     /* lowercase, with the final dot */
        DnsMode mode;
        unsigned ttl;                   /* 0..2147483647 */
        bool wait_in_sync;
        UnpublishOnStop unpublish_on_stop;
} ConfigDns;

typedef struct ConfigSignal {
        char *cloudformation_stack;     /* stack name or stack id (ARN) */
        char *cloudformation_resource;  /* logical resource id */
        char *lifecycle_hook;
} ConfigSignal;

/* Where a setting came from, for messages: "/etc/nodeagent/nodeagent.conf"
 * and a line, "user data" and a line, or "--set" and line 0. */
typedef struct ConfigOrigin {
        char *source;
        unsigned line;
} ConfigOrigin;

typedef struct Config {
        ConfigNode node;

        /* A section that is absent is a path that is skipped; a section
         * that appears, even empty, is present. */
        bool has_volume;
        ConfigVolume volume;            /* [Volume], section "data" */

        /* Every volume section that is present: &volume first when
         * has_volume, then each [Volume:NAME] in the order in which the
         * sources first named it. The pointers stay valid as long as the
         * Config. */
        ConfigVolume **volumes;
        size_t n_volumes;

        /* --section NAME (config_select_volume()): the one volume section
         * that --attach-only and --detach act on; NULL: every one. */
        const ConfigVolume *only_volume;

        bool has_interface;
        ConfigInterface interface;

        bool has_dns;
        ConfigDns dns;

        bool has_signal;
        ConfigSignal signal;

        /* Internal bookkeeping for messages: where each section first
         * appeared and where each key was last set ([Volume:NAME]
         * sections keep theirs beside them, see config-internal.h). */
        ConfigOrigin section_origins[_CONFIG_SECTION_MAX];
        ConfigOrigin *key_origins;
} Config;

/* The member count of a volume section: the ids of Id=, else Count=,
 * else 1 (a section found by Tag= without Count= is one volume). */
size_t config_volume_n_members(const ConfigVolume *v) _pure_;

/* The volume section named section ("data" for [Volume]); NULL when none
 * is present. */
ConfigVolume *config_volume_find(const Config *c, const char *section);

/* A name that [Volume:NAME] may carry: 1 to 32 of a-z 0-9 -. ("data" is
 * one, but it is [Volume]'s and refused in [Volume:data].) */
bool volume_section_name_is_valid(const char *s) _pure_;

/* A configuration error, ready for the log, e.g.
 * "/etc/nodeagent/nodeagent.conf:12: [Volume] Id=vol-123: not an EBS volume
 * id (vol- and 8 or 17 lowercase hex digits)". Initialise with {} and release
 * with config_error_done(); the fields other than message are for callers
 * and tests that want the parts. */
typedef struct ConfigError {
        char *message;
        char *source;                   /* file, "user data" or "--set"; may be NULL */
        unsigned line;                  /* 0 when not tied to a line */
        char *section;                  /* NULL when not tied to a section */
        char *key;                      /* NULL when not tied to a key */
} ConfigError;

void config_error_done(ConfigError *e);

/* A Config holding the defaults of the contract, with no section present. */
int config_new(Config **ret);
Config *config_free(Config *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(Config *, config_free);

/* Every function below returns -EINVAL for anything wrong in the text and
 * describes it in *ret_error (when ret_error is not NULL; it must start
 * zeroed or done, and is left untouched on success). Other errors:
 * -ENOENT for a missing file unless missing_ok, -EPERM for a file that
 * group or others may write (or that someone other than root or us owns),
 * -ENOMEM, and the errno of a failed read. */

/* Section headers are [Section] or, for volumes, [Volume:NAME]; --set
 * takes Volume:NAME.Key=Value. A [Volume:NAME] named by several sources is
 * one section, merged key by key like any other. */

/* Parses one INI text. source_name names it in messages. */
int config_parse_string(Config *c, const char *source_name, const char *text, ConfigError *ret_error);

/* Parses one file; with missing_ok a missing file is read as empty. */
int config_parse_file(Config *c, const char *path, bool missing_ok, ConfigError *ret_error);

/* Applies one "Section.Key=Value" (the argument of --set). */
int config_apply_set(Config *c, const char *assignment, ConfigError *ret_error);

/* Sources 1, 2 and 4: main_path (missing reads as empty), then the *.conf
 * files of the conf.d directory beside it (missing reads as empty), then
 * each entry of set_overrides (NULL-terminated; NULL for none). */
int config_load(Config *c, const char *main_path, char **set_overrides, ConfigError *ret_error);

/* True when text is nodeagent user data: its first line is "#nodeagent". */
bool config_is_nodeagent_user_data(const char *text);

/* Source 3: applies user data (named "user data" in messages) and then the
 * set_overrides again, so that --set keeps the last word. Returns 1 when
 * applied, 0 when text is NULL or not nodeagent user data (then nothing
 * changes, not even --set), or a negative errno. */
int config_apply_user_data(Config *c, const char *text, char **set_overrides, ConfigError *ret_error);

/* The rules across keys, on the final configuration. Each volume section
 * needs exactly one of Id= and Tag=, and MountPoint=; several ids or
 * Count= need Stripe=raid0, which needs at least two members (and
 * Device=auto); Count= needs Tag=; Restore= needs Tag=. No two volume
 * sections share a mount point, a volume id, a tag or a Device= name (a
 * mount point inside another's is fine: it is mounted after it).
 * [Interface] needs exactly one of Id= and Tag=, and Tag= for Restore=;
 * [DNS] needs HostedZoneId= and Name=; [Signal] needs both or neither of
 * CloudFormationStack= and CloudFormationResource=. */
int config_validate(const Config *c, ConfigError *ret_error);

/* --section NAME: sets c->only_volume to the volume section named name, or
 * returns -EINVAL with a message that lists the volume sections there are.
 * On the final configuration (user data may add sections). */
int config_select_volume(Config *c, const char *name, ConfigError *ret_error);

/* Writes the effective configuration as INI that config_parse_string()
 * reads back to the same values: every key of every present section,
 * [Volume:NAME] sections after [Volume] (an unset key as an empty
 * assignment, which means its default), and a comment for each absent
 * section. For --check. */
int config_format_plan(const Config *c, FILE *f);

/* The checks behind the keys, for other modules that meet the same ids. */
bool volume_id_is_valid(const char *s) _pure_;
bool eni_id_is_valid(const char *s) _pure_;
bool instance_id_is_valid(const char *s) _pure_;
