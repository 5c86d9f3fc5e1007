/* SPDX-License-Identifier: Apache-2.0 */
/* The rules across keys, on the final configuration. */
#include "config-internal.h"

#define ORIGIN_MAX 512

static const ConfigOrigin *key_origin(const Config *c, ConfigSection section, const char *name) {
        const ConfigKey *k = config_key_get(section, name);

        return c->key_origins ? &c->key_origins[config_key_index(k)] : NULL;
}

static int validate_exactly_one(const Config *c, ConfigSection section, const char *a, bool has_a,
                                const char *b, bool has_b, ConfigError *e) {
        const ConfigOrigin *so = &c->section_origins[section];
        const char *name = config_section_to_string(section);

        if (has_a && has_b) {
                char oa[ORIGIN_MAX], ob[ORIGIN_MAX];

                return config_error_set(e, EINVAL, so->source, so->line, name, NULL,
                                        "[%s] has both %s= (%s) and %s= (%s): keep one, and reset the other with an empty assignment",
                                        name,
                                        a, config_origin_to_string(key_origin(c, section, a), oa, sizeof(oa)),
                                        b, config_origin_to_string(key_origin(c, section, b), ob, sizeof(ob)));
        }
        if (!has_a && !has_b)
                return config_error_set(e, EINVAL, so->source, so->line, name, NULL,
                                        "[%s] needs %s= or %s=", name, a, b);
        return 0;
}

static int validate_needs(const Config *c, ConfigSection section, const char *key, bool has,
                          ConfigError *e) {
        const ConfigOrigin *so = &c->section_origins[section];
        const char *name = config_section_to_string(section);

        if (has)
                return 0;
        return config_error_set(e, EINVAL, so->source, so->line, name, key, "[%s] needs %s=", name, key);
}

int config_validate(const Config *c, ConfigError *ret_error) {
        int r;

        if (!c)
                return -EINVAL;

        if (c->has_volume) {
                r = validate_exactly_one(c, CONFIG_SECTION_VOLUME, "Id", c->volume.id, "Tag",
                                         c->volume.tag.key, ret_error);
                if (r < 0)
                        return r;
                r = validate_needs(c, CONFIG_SECTION_VOLUME, "MountPoint", c->volume.mount_point, ret_error);
                if (r < 0)
                        return r;
        }

        if (c->has_interface) {
                r = validate_exactly_one(c, CONFIG_SECTION_INTERFACE, "Id", c->interface.id, "Tag",
                                         c->interface.tag.key, ret_error);
                if (r < 0)
                        return r;
        }

        if (c->has_dns) {
                r = validate_needs(c, CONFIG_SECTION_DNS, "HostedZoneId", c->dns.hosted_zone_id, ret_error);
                if (r < 0)
                        return r;
                r = validate_needs(c, CONFIG_SECTION_DNS, "Name", c->dns.name, ret_error);
                if (r < 0)
                        return r;
        }

        if (c->has_signal && !c->signal.cloudformation_stack != !c->signal.cloudformation_resource) {
                const char *set = c->signal.cloudformation_stack ? "CloudFormationStack" : "CloudFormationResource";
                const char *missing = c->signal.cloudformation_stack ? "CloudFormationResource" : "CloudFormationStack";
                const ConfigOrigin *o = key_origin(c, CONFIG_SECTION_SIGNAL, set);

                return config_error_set(ret_error, EINVAL, o ? o->source : NULL, o ? o->line : 0,
                                        "Signal", missing,
                                        "[Signal] %s= needs %s= too (SignalResource takes both)", set, missing);
        }

        return 0;
}
