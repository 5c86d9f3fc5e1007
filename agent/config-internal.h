/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* What the config*.c files share, and nothing else includes:
 *
 *   config-value.c   the values: enums, ids, names, paths, tags, booleans
 *   config-keys.c    the key table, and a key's field read, written, reset
 *   config-source.c  the sources: INI text, files, conf.d, --set, user data
 *   config-check.c   the rules across keys (config_validate())
 *   config-section.c the section instances: [Volume:NAME], presence, origins
 *   config.c         the Config itself, its errors and origins, the plan */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "config.h"
#include "macro.h"

/* Whitespace trimmed around keys, values and lines. "\r" is in it so that a
 * file or user data written with CRLF line ends reads as intended. */
#define WHITESPACE " \t\r"

/* ---- config-value.c ---- */

typedef struct EnumTable {
        const char * const *names;
        size_t n;
        /* The reason given for a value that is none of the names. */
        const char *expected;
} EnumTable;

int enum_from_string(const EnumTable *t, const char *s);
const char *enum_to_string(const EnumTable *t, int i);

/* The tables behind filesystem_from_string() and the like, for the keys. */
extern const EnumTable filesystem_table;
extern const EnumTable format_policy_table;
extern const EnumTable take_over_policy_table;
extern const EnumTable stripe_mode_table;
extern const EnumTable volume_restore_table;
extern const EnumTable volume_type_table;
extern const EnumTable interface_restore_table;
extern const EnumTable unpublish_on_stop_table;
extern const EnumTable routing_mode_table;
extern const EnumTable dns_mode_table;
extern const EnumTable config_section_table;

/* Trims WHITESPACE at both ends, in place; returns the new start. */
char *strstrip(char *s);
bool has_control_chars(const char *s) _pure_;
bool utf8_is_valid(const char *s) _pure_;
/* A copy of s fit for a log line (see config-value.c); NULL: no memory. */
char *escape_for_message(const char *s);
/* A decimal number and nothing else: no sign, no space, no "0x". */
int parse_uint64_strict(const char *s, uint64_t *ret);
/* yes, true, on, 1 and no, false, off, 0, in any case. */
int parse_boolean(const char *value, bool *ret);
/* "Key=Value" with AWS's limits on both. */
int parse_tag(const char *value, ConfigTag *ret, const char **ret_reason);

/* Checks a string value and returns the form to store (newly allocated),
 * or -EINVAL and a reason that completes "[Section] Key=Value: ...". */
typedef int (*NormalizeFn)(const char *value, char **ret, const char **ret_reason);

int normalize_volume_id(const char *value, char **ret, const char **ret_reason);
int normalize_eni_id(const char *value, char **ret, const char **ret_reason);
int normalize_node_name(const char *value, char **ret, const char **ret_reason);
int normalize_device(const char *value, char **ret, const char **ret_reason);
int normalize_mount_point(const char *value, char **ret, const char **ret_reason);
int normalize_mount_options(const char *value, char **ret, const char **ret_reason);
int normalize_hosted_zone_id(const char *value, char **ret, const char **ret_reason);
int normalize_dns_name(const char *value, char **ret, const char **ret_reason);
int normalize_stack(const char *value, char **ret, const char **ret_reason);
int normalize_logical_id(const char *value, char **ret, const char **ret_reason);
int normalize_hook_name(const char *value, char **ret, const char **ret_reason);

/* ---- config-keys.c ---- */

typedef enum KeyType {
        KEY_STRING,
        /* Values separated by spaces, each checked by normalize, no value
         * twice, at most max of them: a NULL-terminated char **, NULL when
         * unset. A later assignment replaces the whole list. */
        KEY_LIST,
        KEY_TAG,
        KEY_BOOL,
        KEY_DURATION,
        KEY_UNSIGNED,
        KEY_ENUM,
} KeyType;

typedef struct ConfigKey {
        ConfigSection section;
        const char *name;
        KeyType type;
        /* Where the value lives in its section's struct (ConfigNode,
         * ConfigVolume, ...; see config_section_data()), so that every
         * instance of a section type can share the section's keys. */
        size_t offset;
        /* The default as it would be written in a file, so that defaults
         * go through the same parser as values; NULL: unset. */
        const char *default_value;
        /* KEY_STRING and KEY_LIST */
        NormalizeFn normalize;
        /* KEY_ENUM */
        const EnumTable *enum_table;
        /* KEY_DURATION and KEY_UNSIGNED: the accepted range, and the reason
         * given for a value outside it; KEY_LIST: at most max values. A
         * KEY_UNSIGNED without a default reads 0 when unset, so its min
         * must be 1 or more. */
        uint64_t min, max;
        const char *range_reason;
        /* Called after the field changed, for fields derived from it. */
        void (*changed)(void *data);
        /* For the plan: what an unset key means, when that is not obvious. */
        const char *unset_means;
} ConfigKey;

/* Every key of every section, in the order of the plan. */
extern const ConfigKey config_keys[];
extern const size_t config_n_keys;

/* The struct that holds the values of the single section s in c:
 * &c->node, &c->volume ([Volume]), ... */
void *config_section_data(Config *c, ConfigSection s);
const void *config_section_data_const(const Config *c, ConfigSection s);

/* The key's position in config_keys (an index of Config.key_origins). */
size_t config_key_index(const ConfigKey *k);
/* NULL when section has no key of that exact name. */
const ConfigKey *config_key_find(ConfigSection section, const char *name);
/* For names that are in the table by construction: aborts otherwise. */
const ConfigKey *config_key_get(ConfigSection section, const char *name);

/* Parses value into the key's field in data (its section's struct). A NULL
 * value unsets a key that has no default. Returns -EINVAL and a reason for
 * a bad value. */
int config_key_parse(const ConfigKey *k, void *data, const char *value, const char **ret_reason);
/* Back to the default; -ENOMEM is the only failure possible. */
int config_key_reset(const ConfigKey *k, void *data);
/* Frees what the key's field holds. */
void config_key_done(const ConfigKey *k, void *data);
/* Writes the value as it would be written in a file; nothing when unset. */
void config_key_format(const ConfigKey *k, const void *data, FILE *f);
bool config_key_is_set(const ConfigKey *k, const void *data);

/* ---- config.c ---- */

/* Fills *e with "source:line: " and the formatted text, logs it at debug
 * level and returns -error. */
_printf_(7, 8)
int config_error_set(ConfigError *e, int error, const char *source, unsigned line,
                     const char *section, const char *key, const char *format, ...);

int config_origin_set(ConfigOrigin *o, const char *source, unsigned line);
/* "/etc/nodeagent/nodeagent.conf:12", "--set", or "unknown". */
const char *config_origin_to_string(const ConfigOrigin *o, char *buf, size_t size);

/* A [Volume:NAME] section, allocated as this so that a ConfigVolume * of
 * Config.volumes converts back to it (volume is the first member). */
typedef struct ConfigNamedVolume {
        ConfigVolume volume;
        char *title;                    /* "Volume:NAME", for messages */
        ConfigOrigin origin;            /* where the section first appeared */
        ConfigOrigin *key_origins;      /* by config_key_index(), as Config.key_origins */
} ConfigNamedVolume;

/* One section instance as the sources name it: [Node], [Volume],
 * [Volume:log]. Resolved by config_section_ref(); released with
 * config_section_ref_done(). */
typedef struct ConfigSectionRef {
        ConfigSection type;
        void *data;                     /* its struct: &c->node, a ConfigVolume, ... */
        const char *title;              /* "Node", "Volume", "Volume:log" */
        ConfigOrigin *origin;           /* where it first appeared */
        ConfigOrigin *key_origins;      /* where each key was last set, by config_key_index() */
        /* A [Volume:NAME] that is not present yet: config_section_ref_mark_present()
         * adds it to the Config, config_section_ref_done() frees it otherwise. */
        ConfigNamedVolume *pending;
} ConfigSectionRef;

/* The section named by a header or by --set, without its brackets:
 * "Node", "Volume", "Volume:log". A [Volume:NAME] that is not present yet
 * is made, with its defaults, but not added. Returns -EINVAL with a message
 * (naming source and line) for a name that is no section. */
int config_section_ref(Config *c, const char *name, const char *source, unsigned line,
                       ConfigError *e, ConfigSectionRef *ret);
/* Marks the section present (adding a pending [Volume:NAME] to
 * c->volumes); its first appearance is remembered. */
int config_section_ref_mark_present(Config *c, ConfigSectionRef *ref, const char *source, unsigned line);
void config_section_ref_done(ConfigSectionRef *ref);

/* The same, read-only, for a volume section of c->volumes. */
void config_volume_ref(const Config *c, const ConfigVolume *v, ConfigSectionRef *ret);

/* Frees every [Volume:NAME] and c->volumes, for config_free(). */
void config_free_named_volumes(Config *c);
