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
        _TAKE_OVER_MAX,
        _TAKE_OVER_INVALID = -EINVAL,
} TakeOverPolicy;

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

typedef struct ConfigVolume {
        char *id;                       /* vol-...; NULL when found by tag */
        ConfigTag tag;
        char *device;                   /* name passed to AttachVolume; "auto": picked at attach time (devname.h) */
        char *mount_point;              /* absolute, normalised, not "/" */
        FileSystem file_system;
        char *mount_options;            /* NULL: none */
        FormatPolicy format;
        bool grow;
        TakeOverPolicy take_over;
        usec_t take_over_timeout;
        bool detach_on_stop;
} ConfigVolume;

typedef struct ConfigInterface {
        char *id;                       /* eni-...; NULL when found by tag */
        ConfigTag tag;
        unsigned device_index;          /* 1..31 */
        unsigned network_card_index;    /* 0..31, always sent */
        RoutingMode routing;
        TakeOverPolicy take_over;
        usec_t take_over_timeout;
        bool detach_on_stop;
} ConfigInterface;

typedef struct ConfigDns {
        char *hosted_zone_id;           /* without "/hostedzone/" */
        char *name;                     /* lowercase, with the final dot */
        DnsMode mode;
        unsigned ttl;                   /* 0..2147483647 */
        bool wait_in_sync;
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
        ConfigVolume volume;

        bool has_interface;
        ConfigInterface interface;

        bool has_dns;
        ConfigDns dns;

        bool has_signal;
        ConfigSignal signal;

        /* Internal bookkeeping for messages: where each section first
         * appeared and where each key was last set. */
        ConfigOrigin section_origins[_CONFIG_SECTION_MAX];
        ConfigOrigin *key_origins;
} Config;

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

/* The rules across keys, on the final configuration: [Volume] needs exactly
 * one of Id= and Tag=, and MountPoint=; [Interface] needs exactly one of Id=
 * and Tag=; [DNS] needs HostedZoneId= and Name=; [Signal] needs both or
 * neither of CloudFormationStack= and CloudFormationResource=. */
int config_validate(const Config *c, ConfigError *ret_error);

/* Writes the effective configuration as INI that config_parse_string()
 * reads back to the same values: every key of every present section (an
 * unset key as an empty assignment, which means its default), and a
 * comment for each absent section. For --check. */
int config_format_plan(const Config *c, FILE *f);

/* The checks behind the keys, for other modules that meet the same ids. */
bool volume_id_is_valid(const char *s) _pure_;
bool eni_id_is_valid(const char *s) _pure_;
bool instance_id_is_valid(const char *s) _pure_;
