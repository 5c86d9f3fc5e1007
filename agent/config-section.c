/* SPDX-License-Identifier: Apache-2.0 */
/* The section instances: [Node], [Volume], [Volume:NAME], ... as the
 * sources name them, the ones that are present, and where they and their
 * keys were set. */
#include <strings.h>

#include "config-internal.h"

/* ---- [Volume:NAME] ---- */

static ConfigNamedVolume *named_volume_free(ConfigNamedVolume *nv) {
        if (!nv)
                return NULL;
        for (size_t i = 0; i < config_n_keys; i++)
                if (config_keys[i].section == CONFIG_SECTION_VOLUME)
                        config_key_done(&config_keys[i], &nv->volume);
        if (nv->key_origins)
                for (size_t i = 0; i < config_n_keys; i++)
                        free(nv->key_origins[i].source);
        free(nv->key_origins);
        free(nv->origin.source);
        free(nv->title);
        free(nv->volume.section);
        return mfree(nv);
}
DEFINE_TRIVIAL_CLEANUP_FUNC(ConfigNamedVolume *, named_volume_free);

/* A [Volume:name] with the defaults of every key, not yet in any Config. */
static int named_volume_new(const char *name, ConfigNamedVolume **ret) {
        _cleanup_(named_volume_freep) ConfigNamedVolume *nv = NULL;

        nv = calloc(1, sizeof(ConfigNamedVolume));
        if (!nv)
                return -ENOMEM;
        nv->key_origins = calloc(config_n_keys, sizeof(ConfigOrigin));
        nv->volume.section = strdup(name);
        if (!nv->key_origins || !nv->volume.section || asprintf(&nv->title, "Volume:%s", name) < 0)
                return -ENOMEM;

        for (size_t i = 0; i < config_n_keys; i++) {
                const ConfigKey *k = &config_keys[i];
                int r;

                if (k->section != CONFIG_SECTION_VOLUME)
                        continue;
                r = config_key_reset(k, &nv->volume);
                if (r < 0)
                        return r;
        }

        *ret = TAKE_PTR(nv);
        return 0;
}

/* The named volumes are everything in c->volumes but &c->volume. */
static ConfigNamedVolume *as_named(const Config *c, const ConfigVolume *v) {
        if (v == &c->volume)
                return NULL;
        return (ConfigNamedVolume *) v;
}

void config_free_named_volumes(Config *c) {
        for (size_t i = 0; i < c->n_volumes; i++)
                named_volume_free(as_named(c, c->volumes[i]));
        c->volumes = mfree(c->volumes);
        c->n_volumes = 0;
}

/* Adds v to c->volumes: [Volume] in front, [Volume:NAME] at the end. */
static int volumes_add(Config *c, ConfigVolume *v) {
        ConfigVolume **l = realloc(c->volumes, (c->n_volumes + 1) * sizeof(ConfigVolume *));

        if (!l)
                return -ENOMEM;
        c->volumes = l;
        if (v == &c->volume) {
                memmove(c->volumes + 1, c->volumes, c->n_volumes * sizeof(ConfigVolume *));
                c->volumes[0] = v;
        } else
                c->volumes[c->n_volumes] = v;
        c->n_volumes++;
        return 0;
}

ConfigVolume *config_volume_find(const Config *c, const char *section) {
        if (!c || !section)
                return NULL;
        for (size_t i = 0; i < c->n_volumes; i++)
                if (streq(c->volumes[i]->section, section))
                        return c->volumes[i];
        return NULL;
}

size_t config_volume_n_members(const ConfigVolume *v) {
        if (v->n_ids > 0)
                return v->n_ids;
        if (v->count > 0)
                return v->count;
        return 1;
}

/* ---- Section names ---- */

/* The type of a section name without its ":NAME", with a hint when only
 * the case is wrong. */
static int section_type_lookup(const char *type, const char *shown, const char *source, unsigned line,
                               ConfigError *e, ConfigSection *ret) {
        ConfigSection s = config_section_from_string(type);

        if (s >= 0) {
                *ret = s;
                return 0;
        }

        for (int i = 0; i < _CONFIG_SECTION_MAX; i++)
                if (strcasecmp(type, config_section_to_string(i)) == 0) {
                        const char *colon = strchr(shown, ':');

                        return config_error_set(e, EINVAL, source, line, shown, NULL,
                                                "[%s]: unknown section (did you mean [%s%s]?)",
                                                shown, config_section_to_string(i), strempty(colon));
                }
        return config_error_set(e, EINVAL, source, line, shown, NULL,
                                "[%s]: unknown section (sections are Node, Volume, Volume:NAME, Interface, DNS and Signal)",
                                shown);
}

/* The NAME of [Volume:NAME]. */
static int volume_name_check(const char *name, const char *shown, const char *source, unsigned line,
                             ConfigError *e) {
        if (!volume_section_name_is_valid(name))
                return config_error_set(e, EINVAL, source, line, shown, NULL,
                                        "[%s]: not a volume section name (Volume: and 1 to 32 of a-z 0-9 -)",
                                        shown);
        if (streq(name, CONFIG_VOLUME_DATA))
                return config_error_set(e, EINVAL, source, line, shown, NULL,
                                        "[%s]: \"" CONFIG_VOLUME_DATA "\" is the name of [Volume]; write [Volume]",
                                        shown);
        return 0;
}

static bool section_is_present(const Config *c, ConfigSection s) {
        switch (s) {
        case CONFIG_SECTION_VOLUME:
                return c->has_volume;
        case CONFIG_SECTION_INTERFACE:
                return c->has_interface;
        case CONFIG_SECTION_DNS:
                return c->has_dns;
        case CONFIG_SECTION_SIGNAL:
                return c->has_signal;
        default:
                /* [Node] has no path of its own to skip. */
                return true;
        }
}

int config_section_ref(Config *c, const char *name, const char *source, unsigned line,
                       ConfigError *e, ConfigSectionRef *ret) {
        _cleanup_free_ char *shown = NULL, *type_name = NULL;
        ConfigNamedVolume *pending = NULL;
        const char *colon, *volume_name;
        ConfigVolume *v;
        ConfigSection type = _CONFIG_SECTION_INVALID;
        int r;

        shown = escape_for_message(name);
        colon = strchr(name, ':');
        type_name = colon ? strndup(name, (size_t) (colon - name)) : strdup(name);
        if (!shown || !type_name)
                return -ENOMEM;

        r = section_type_lookup(type_name, shown, source, line, e, &type);
        if (r < 0)
                return r;

        if (!colon) {
                *ret = (ConfigSectionRef) {
                        .type = type,
                        .data = config_section_data(c, type),
                        .title = config_section_to_string(type),
                        .origin = &c->section_origins[type],
                        .key_origins = c->key_origins,
                };
                return 0;
        }

        if (type != CONFIG_SECTION_VOLUME)
                return config_error_set(e, EINVAL, source, line, shown, NULL,
                                        "[%s]: only volume sections take a name ([Volume:NAME])", shown);
        volume_name = colon + 1;
        r = volume_name_check(volume_name, shown, source, line, e);
        if (r < 0)
                return r;

        v = config_volume_find(c, volume_name);
        if (!v) {
                r = named_volume_new(volume_name, &pending);
                if (r < 0)
                        return r;
                v = &pending->volume;
        }

        *ret = (ConfigSectionRef) {
                .type = CONFIG_SECTION_VOLUME,
                .data = v,
                .title = ((ConfigNamedVolume *) v)->title,
                .origin = &((ConfigNamedVolume *) v)->origin,
                .key_origins = ((ConfigNamedVolume *) v)->key_origins,
                .pending = pending,
        };
        return 0;
}

int config_section_ref_mark_present(Config *c, ConfigSectionRef *ref, const char *source, unsigned line) {
        int r;

        if (ref->pending) {
                r = volumes_add(c, &ref->pending->volume);
                if (r < 0)
                        return r;
                ref->pending = NULL;
        } else if (ref->data == config_section_data(c, ref->type) && !section_is_present(c, ref->type)) {
                /* A single section (a [Volume:NAME] is not one). Only
                 * [Volume] is both that and in c->volumes. */
                if (ref->type == CONFIG_SECTION_VOLUME) {
                        r = volumes_add(c, &c->volume);
                        if (r < 0)
                                return r;
                        c->has_volume = true;
                } else if (ref->type == CONFIG_SECTION_INTERFACE)
                        c->has_interface = true;
                else if (ref->type == CONFIG_SECTION_DNS)
                        c->has_dns = true;
                else if (ref->type == CONFIG_SECTION_SIGNAL)
                        c->has_signal = true;
        }

        /* The first appearance is what a "needs Key=" message points at. */
        if (ref->origin->source)
                return 0;
        return config_origin_set(ref->origin, source, line);
}

void config_section_ref_done(ConfigSectionRef *ref) {
        ref->pending = named_volume_free(ref->pending);
}

void config_volume_ref(const Config *c, const ConfigVolume *v, ConfigSectionRef *ret) {
        ConfigNamedVolume *nv = as_named(c, v);

        /* The bookkeeping is written only by the sources: casting const
         * away here lets the checks share the ref type, not write. */
        if (!nv) {
                *ret = (ConfigSectionRef) {
                        .type = CONFIG_SECTION_VOLUME,
                        .data = (ConfigVolume *) v,
                        .title = config_section_to_string(CONFIG_SECTION_VOLUME),
                        .origin = (ConfigOrigin *) &c->section_origins[CONFIG_SECTION_VOLUME],
                        .key_origins = c->key_origins,
                };
                return;
        }
        *ret = (ConfigSectionRef) {
                .type = CONFIG_SECTION_VOLUME,
                .data = &nv->volume,
                .title = nv->title,
                .origin = &nv->origin,
                .key_origins = nv->key_origins,
        };
}
