/* SPDX-License-Identifier: Apache-2.0 */
/* The key table: every key of every section, its type, default and checks,
 * and a key's field parsed, reset, freed and written back. */
#include <stddef.h>
#include <stdio.h>

#include "config-internal.h"

/* The struct of each section's values, for the offsets of its keys. */
#define SECTION_TYPE_NODE ConfigNode
#define SECTION_TYPE_VOLUME ConfigVolume
#define SECTION_TYPE_INTERFACE ConfigInterface
#define SECTION_TYPE_DNS ConfigDns
#define SECTION_TYPE_SIGNAL ConfigSignal

/* Designated initialisers throughout, so that each entry names only what
 * its type uses. f is the field in the section's struct. */
#define KEY(s, n, t, f, d, ...)                                 \
        {                                                       \
                .section = CONFIG_SECTION_##s,                  \
                .name = n,                                      \
                .type = t,                                      \
                .offset = offsetof(SECTION_TYPE_##s, f),        \
                .default_value = d,                             \
                __VA_ARGS__                                     \
        }

/* Id= of a volume section: id is the first of ids, for the callers that
 * take a section as one volume. */
static void volume_ids_changed(void *data) {
        ConfigVolume *v = data;
        size_t n = 0;

        while (v->ids && v->ids[n])
                n++;
        v->n_ids = n;
        v->id = n > 0 ? v->ids[0] : NULL;
}

const ConfigKey config_keys[] = {
        KEY(NODE, "Name", KEY_STRING, name, NULL,
            .normalize = normalize_node_name, .unset_means = "the instance id"),
        KEY(NODE, "Timeout", KEY_DURATION, timeout, "15min",
            .min = 1, .max = UINT64_MAX, .range_reason = "the deadline must be longer than 0"),

        /* Several ids make a striped set (with Stripe=). */
        KEY(VOLUME, "Id", KEY_LIST, ids, NULL,
            .normalize = normalize_volume_id, .max = CONFIG_STRIPE_MEMBERS_MAX,
            .range_reason = "more than 16 volume ids", .changed = volume_ids_changed),
        KEY(VOLUME, "Tag", KEY_TAG, tag, NULL),
        KEY(VOLUME, "Count", KEY_UNSIGNED, count, NULL,
            .min = 2, .max = CONFIG_STRIPE_MEMBERS_MAX,
            .range_reason = "not a member count from 2 to 16 (without Count=, Tag= finds one volume)"),
        KEY(VOLUME, "Stripe", KEY_ENUM, stripe, "none",
            .enum_table = &stripe_mode_table),
        KEY(VOLUME, "Device", KEY_STRING, device, "auto",
            .normalize = normalize_device),
        KEY(VOLUME, "MountPoint", KEY_STRING, mount_point, NULL,
            .normalize = normalize_mount_point),
        KEY(VOLUME, "FileSystem", KEY_ENUM, file_system, "ext4",
            .enum_table = &filesystem_table),
        KEY(VOLUME, "MountOptions", KEY_STRING, mount_options, NULL,
            .normalize = normalize_mount_options),
        KEY(VOLUME, "Format", KEY_ENUM, format, "if-blank",
            .enum_table = &format_policy_table),
        KEY(VOLUME, "Grow", KEY_BOOL, grow, "yes"),
        KEY(VOLUME, "TakeOver", KEY_ENUM, take_over, "wait",
            .enum_table = &take_over_policy_table),
        KEY(VOLUME, "TakeOverTimeout", KEY_DURATION, take_over_timeout, "10min",
            .min = 0, .max = UINT64_MAX),
        KEY(VOLUME, "DetachOnStop", KEY_BOOL, detach_on_stop, "no"),
        KEY(VOLUME, "Restore", KEY_ENUM, restore, "no",
            .enum_table = &volume_restore_table),
        /* EBS's largest volume (io2 Block Express); CreateVolume refuses
         * sizes outside a type's own range with its own message. */
        KEY(VOLUME, "Size", KEY_UNSIGNED, size_gib, NULL,
            .min = 1, .max = 65536, .range_reason = "not a size from 1 to 65536 GiB"),
        KEY(VOLUME, "VolumeType", KEY_ENUM, volume_type, "gp3",
            .enum_table = &volume_type_table),

        KEY(INTERFACE, "Id", KEY_STRING, id, NULL,
            .normalize = normalize_eni_id),
        KEY(INTERFACE, "Tag", KEY_TAG, tag, NULL),
        /* Index 0 is the primary interface, which the instance always has;
         * 31 is above the largest interface count of any instance type. */
        KEY(INTERFACE, "DeviceIndex", KEY_UNSIGNED, device_index, "1",
            .min = 1, .max = 31, .range_reason = "not a device index from 1 to 31"),
        /* Sent with every attach: instances with several network cards have
         * refused an attach without it. */
        KEY(INTERFACE, "NetworkCardIndex", KEY_UNSIGNED, network_card_index, "0",
            .min = 0, .max = 31, .range_reason = "not a network card index from 0 to 31"),
        KEY(INTERFACE, "Routing", KEY_ENUM, routing, "auto",
            .enum_table = &routing_mode_table),
        /* Under Routing=agent only (no DHCP tells the link its MTU then).
         * 9216 is the largest an EC2 interface takes; 0 takes the primary
         * interface's, which the VPC's DHCP gave it. */
        KEY(INTERFACE, "MTU", KEY_UNSIGNED, mtu, "0",
            .min = 0, .max = 9216, .range_reason = "not an MTU up to 9216 (0: the primary interface's)"),
        /* An extension of the contract: the ENI's predecessor is handled as
         * the volume's is, with keys of its own since [Volume] may be absent. */
        KEY(INTERFACE, "TakeOver", KEY_ENUM, take_over, "wait",
            .enum_table = &take_over_policy_table),
        KEY(INTERFACE, "TakeOverTimeout", KEY_DURATION, take_over_timeout, "10min",
            .min = 0, .max = UINT64_MAX),
        KEY(INTERFACE, "DetachOnStop", KEY_BOOL, detach_on_stop, "no"),
        KEY(INTERFACE, "Restore", KEY_ENUM, restore, "no",
            .enum_table = &interface_restore_table),

        KEY(DNS, "HostedZoneId", KEY_STRING, hosted_zone_id, NULL,
            .normalize = normalize_hosted_zone_id),
        KEY(DNS, "Name", KEY_STRING, name, NULL,
            .normalize = normalize_dns_name),
        KEY(DNS, "Mode", KEY_ENUM, mode, "node",
            .enum_table = &dns_mode_table),
        /* Route 53's own limits for TTL. */
        KEY(DNS, "TTL", KEY_UNSIGNED, ttl, "60",
            .min = 0, .max = 2147483647, .range_reason = "not a TTL from 0 to 2147483647 seconds"),
        KEY(DNS, "WaitInSync", KEY_BOOL, wait_in_sync, "no"),
        KEY(DNS, "UnpublishOnStop", KEY_ENUM, unpublish_on_stop, "no",
            .enum_table = &unpublish_on_stop_table),

        KEY(SIGNAL, "CloudFormationStack", KEY_STRING, cloudformation_stack, NULL,
            .normalize = normalize_stack),
        KEY(SIGNAL, "CloudFormationResource", KEY_STRING, cloudformation_resource, NULL,
            .normalize = normalize_logical_id),
        KEY(SIGNAL, "LifecycleHook", KEY_STRING, lifecycle_hook, NULL,
            .normalize = normalize_hook_name),
};

const size_t config_n_keys = ELEMENTSOF(config_keys);

void *config_section_data(Config *c, ConfigSection s) {
        switch (s) {
        case CONFIG_SECTION_NODE:
                return &c->node;
        case CONFIG_SECTION_VOLUME:
                return &c->volume;
        case CONFIG_SECTION_INTERFACE:
                return &c->interface;
        case CONFIG_SECTION_DNS:
                return &c->dns;
        case CONFIG_SECTION_SIGNAL:
                return &c->signal;
        default:
                abort();
        }
}

const void *config_section_data_const(const Config *c, ConfigSection s) {
        return config_section_data((Config *) c, s);
}

static void *key_field(const ConfigKey *k, void *data) {
        return (uint8_t *) data + k->offset;
}

static const void *key_field_const(const ConfigKey *k, const void *data) {
        return (const uint8_t *) data + k->offset;
}

size_t config_key_index(const ConfigKey *k) {
        return (size_t) (k - config_keys);
}

const ConfigKey *config_key_find(ConfigSection section, const char *name) {
        for (size_t i = 0; i < config_n_keys; i++)
                if (config_keys[i].section == section && streq(config_keys[i].name, name))
                        return &config_keys[i];
        return NULL;
}

const ConfigKey *config_key_get(ConfigSection section, const char *name) {
        const ConfigKey *k = config_key_find(section, name);

        if (!k)
                abort();
        return k;
}

static void tag_done(ConfigTag *t) {
        t->key = mfree(t->key);
        t->value = mfree(t->value);
}

static int key_parse_string(const ConfigKey *k, char **field, const char *value, const char **ret_reason) {
        char *s = NULL;
        int r;

        if (value) {
                r = k->normalize(value, &s, ret_reason);
                if (r < 0)
                        return r;
        }
        free(*field);
        *field = s;
        return 0;
}

static bool strv_contains(char * const *l, const char *s) {
        for (char * const *i = l; i && *i; i++)
                if (streq(*i, s))
                        return true;
        return false;
}

static int key_parse_list(const ConfigKey *k, char ***field, const char *value, const char **ret_reason) {
        _cleanup_strv_free_ char **l = NULL;
        size_t n = 0;
        int r;

        for (const char *p = value; p && *p;) {
                _cleanup_free_ char *word = NULL, *s = NULL;
                size_t len;
                char **m;

                p += strspn(p, " ");
                len = strcspn(p, " ");
                if (len == 0)
                        break;
                word = strndup(p, len);
                if (!word)
                        return -ENOMEM;
                p += len;

                r = k->normalize(word, &s, ret_reason);
                if (r < 0)
                        return r;
                if (strv_contains(l, s)) {
                        *ret_reason = "the same value appears twice";
                        return -EINVAL;
                }
                if (n >= k->max) {
                        *ret_reason = k->range_reason;
                        return -EINVAL;
                }
                m = realloc(l, (n + 2) * sizeof(char *));
                if (!m)
                        return -ENOMEM;
                l = m;
                l[n++] = TAKE_PTR(s);
                l[n] = NULL;
        }

        strv_free(*field);
        *field = TAKE_PTR(l);
        return 0;
}

static int key_parse_tag(ConfigTag *field, const char *value, const char **ret_reason) {
        ConfigTag t = {};
        int r;

        if (value) {
                r = parse_tag(value, &t, ret_reason);
                if (r < 0)
                        return r;
        }
        tag_done(field);
        *field = t;
        return 0;
}

static int key_parse_bool(bool *field, const char *value, const char **ret_reason) {
        bool b;

        if (!value || parse_boolean(value, &b) < 0) {
                *ret_reason = "not a boolean (yes, no, true, false, on, off, 1 or 0)";
                return -EINVAL;
        }
        *field = b;
        return 0;
}

static int key_parse_duration(const ConfigKey *k, usec_t *field, const char *value, const char **ret_reason) {
        usec_t u;
        int r;

        r = value ? parse_duration(value, &u) : -EINVAL;
        if (r == -ERANGE) {
                *ret_reason = "duration too long";
                return -EINVAL;
        }
        if (r < 0) {
                *ret_reason = "not a duration (such as 90s, 15min, 1h or 1min 30s; a bare number is seconds)";
                return -EINVAL;
        }
        if (u < k->min || u > k->max) {
                *ret_reason = k->range_reason;
                return -EINVAL;
        }
        *field = u;
        return 0;
}

static int key_parse_unsigned(const ConfigKey *k, unsigned *field, const char *value, const char **ret_reason) {
        uint64_t v;
        int r;

        /* Unset, for a key without a default: 0, below every such key's min. */
        if (!value && !k->default_value) {
                *field = 0;
                return 0;
        }

        r = value ? parse_uint64_strict(value, &v) : -EINVAL;
        if (r < 0 || v < k->min || v > k->max) {
                *ret_reason = k->range_reason;
                return -EINVAL;
        }
        *field = (unsigned) v;
        return 0;
}

/* Enum fields are written through an int pointer (see the _Static_asserts
 * in config-value.c). */
static int key_parse_enum(const ConfigKey *k, int *field, const char *value, const char **ret_reason) {
        int i = enum_from_string(k->enum_table, value);

        if (i < 0) {
                *ret_reason = k->enum_table->expected;
                return -EINVAL;
        }
        *field = i;
        return 0;
}

static int key_parse_field(const ConfigKey *k, void *field, const char *value, const char **ret_reason) {
        switch (k->type) {
        case KEY_STRING:
                return key_parse_string(k, field, value, ret_reason);
        case KEY_LIST:
                return key_parse_list(k, field, value, ret_reason);
        case KEY_TAG:
                return key_parse_tag(field, value, ret_reason);
        case KEY_BOOL:
                return key_parse_bool(field, value, ret_reason);
        case KEY_DURATION:
                return key_parse_duration(k, field, value, ret_reason);
        case KEY_UNSIGNED:
                return key_parse_unsigned(k, field, value, ret_reason);
        case KEY_ENUM:
                return key_parse_enum(k, field, value, ret_reason);
        }

        abort();
}

int config_key_parse(const ConfigKey *k, void *data, const char *value, const char **ret_reason) {
        int r = key_parse_field(k, key_field(k, data), value, ret_reason);

        if (r >= 0 && k->changed)
                k->changed(data);
        return r;
}

/* The defaults are constants of this file that parse, so -ENOMEM is the
 * only failure possible. */
int config_key_reset(const ConfigKey *k, void *data) {
        const char *reason = NULL;

        return config_key_parse(k, data, k->default_value, &reason);
}

void config_key_done(const ConfigKey *k, void *data) {
        if (k->type == KEY_STRING)
                free(*(char **) key_field(k, data));
        else if (k->type == KEY_LIST)
                strv_free(*(char ***) key_field(k, data));
        else if (k->type == KEY_TAG)
                tag_done(key_field(k, data));
}

/* Writes the key's value as it would be written in a file, or nothing when
 * unset. */
void config_key_format(const ConfigKey *k, const void *data, FILE *f) {
        const void *field = key_field_const(k, data);

        switch (k->type) {

        case KEY_STRING:
                fputs(strempty(*(char * const *) field), f);
                return;

        case KEY_LIST:
                for (char * const *i = *(char * const * const *) field; i && *i; i++)
                        fprintf(f, "%s%s", i == *(char * const * const *) field ? "" : " ", *i);
                return;

        case KEY_TAG: {
                const ConfigTag *t = field;

                if (t->key)
                        fprintf(f, "%s=%s", t->key, strempty(t->value));
                return;
        }

        case KEY_BOOL:
                fputs(*(const bool *) field ? "yes" : "no", f);
                return;

        case KEY_DURATION: {
                usec_t u = *(const usec_t *) field;

                /* format_duration() stops at milliseconds; microseconds
                 * are written as such so that the plan reads back exactly. */
                if (u % USEC_PER_MSEC != 0)
                        fprintf(f, "%lluus", (unsigned long long) u);
                else
                        fputs(FORMAT_DURATION(u), f);
                return;
        }

        case KEY_UNSIGNED:
                if (config_key_is_set(k, data))
                        fprintf(f, "%u", *(const unsigned *) field);
                return;

        case KEY_ENUM:
                fputs(strempty(enum_to_string(k->enum_table, *(const int *) field)), f);
                return;
        }

        abort();
}

bool config_key_is_set(const ConfigKey *k, const void *data) {
        const void *field = key_field_const(k, data);

        switch (k->type) {
        case KEY_STRING:
                return *(char * const *) field != NULL;
        case KEY_LIST:
                return *(char * const * const *) field != NULL;
        case KEY_TAG:
                return ((const ConfigTag *) field)->key != NULL;
        case KEY_UNSIGNED:
                return k->default_value || *(const unsigned *) field != 0;
        default:
                return true;
        }
}
