/* SPDX-License-Identifier: Apache-2.0 */
/* The rules across keys, on the final configuration. */
#include <stdarg.h>

#include "config-internal.h"

#define ORIGIN_MAX 512

static const ConfigOrigin *key_origin(const ConfigSectionRef *ref, const char *name) {
        const ConfigKey *k = config_key_get(ref->type, name);

        return ref->key_origins ? &ref->key_origins[config_key_index(k)] : NULL;
}

/* A single section ([Node], [Volume], [Interface], ...) as a ref. */
static void single_ref(const Config *c, ConfigSection s, ConfigSectionRef *ret) {
        *ret = (ConfigSectionRef) {
                .type = s,
                .data = (void *) config_section_data_const(c, s),
                .title = config_section_to_string(s),
                .origin = (ConfigOrigin *) &c->section_origins[s],
                .key_origins = c->key_origins,
        };
}

/* An error about one key's value: it points at where the key was set. */
_printf_(4, 5)
static int key_error(const ConfigSectionRef *ref, const char *key, ConfigError *e, const char *format, ...) {
        _cleanup_free_ char *text = NULL;
        const ConfigOrigin *o = key_origin(ref, key);
        va_list ap;
        int k;

        va_start(ap, format);
        k = vasprintf(&text, format, ap);
        va_end(ap);
        if (k < 0)
                return -ENOMEM;
        /* A key set by code rather than parsed has no origin: then the
         * section's, which always has one. */
        if (!o || !o->source)
                o = ref->origin;
        return config_error_set(e, EINVAL, o->source, o->line, ref->title, key, "%s", text);
}

static int validate_exactly_one(const ConfigSectionRef *ref, const char *a, bool has_a,
                                const char *b, bool has_b, ConfigError *e) {
        const ConfigOrigin *so = ref->origin;

        if (has_a && has_b) {
                char oa[ORIGIN_MAX], ob[ORIGIN_MAX];

                return config_error_set(e, EINVAL, so->source, so->line, ref->title, NULL,
                                        "[%s] has both %s= (%s) and %s= (%s): keep one, and reset the other with an empty assignment",
                                        ref->title,
                                        a, config_origin_to_string(key_origin(ref, a), oa, sizeof(oa)),
                                        b, config_origin_to_string(key_origin(ref, b), ob, sizeof(ob)));
        }
        if (!has_a && !has_b)
                return config_error_set(e, EINVAL, so->source, so->line, ref->title, NULL,
                                        "[%s] needs %s= or %s=", ref->title, a, b);
        return 0;
}

static int validate_needs(const ConfigSectionRef *ref, const char *key, bool has, ConfigError *e) {
        const ConfigOrigin *so = ref->origin;

        if (has)
                return 0;
        return config_error_set(e, EINVAL, so->source, so->line, ref->title, key,
                                "[%s] needs %s=", ref->title, key);
}

/* Stripe=, Id= with several ids, Count=: a section is one volume unless
 * Stripe= says otherwise, and a set has at least two members. */
static int validate_stripe(const ConfigSectionRef *ref, ConfigError *e) {
        const ConfigVolume *v = ref->data;

        if (v->count > 0 && !v->tag.key)
                return key_error(ref, "Count", e,
                                 "[%s] Count=%u needs Tag=: it is how many volumes carry the tag",
                                 ref->title, v->count);
        if (v->stripe == STRIPE_NONE && v->n_ids > 1)
                return key_error(ref, "Id", e,
                                 "[%s] Id= names %zu volumes: a striped set needs Stripe=raid0 (without it a section is one volume)",
                                 ref->title, v->n_ids);
        if (v->stripe == STRIPE_NONE && v->count > 0)
                return key_error(ref, "Count", e,
                                 "[%s] Count=%u needs Stripe=raid0 (without it a section is one volume)",
                                 ref->title, v->count);
        if (v->stripe == STRIPE_NONE)
                return 0;

        if (config_volume_n_members(v) < 2)
                return key_error(ref, "Stripe", e,
                                 "[%s] Stripe=%s needs at least two volumes: several ids in Id=, or Tag= with Count=",
                                 ref->title, stripe_mode_to_string(v->stripe));
        /* One name cannot be given to several attachments. */
        if (!streq(v->device, "auto"))
                return key_error(ref, "Device", e,
                                 "[%s] Device=%s: the members of a striped set take their names from Device=auto",
                                 ref->title, v->device);
        return 0;
}

static int validate_volume(const ConfigSectionRef *ref, ConfigError *e) {
        const ConfigVolume *v = ref->data;
        int r;

        r = validate_exactly_one(ref, "Id", v->ids, "Tag", v->tag.key, e);
        if (r < 0)
                return r;
        r = validate_needs(ref, "MountPoint", v->mount_point, e);
        if (r < 0)
                return r;
        r = validate_stripe(ref, e);
        if (r < 0)
                return r;
        /* A set named by Id= is those volumes and no others: new members
         * made in another zone could never be named by it. */
        if (v->restore != VOLUME_RESTORE_NO && v->stripe != STRIPE_NONE && !v->tag.key)
                return key_error(ref, "Restore", e, "[%s] Restore=%s with a striped set named by Id=: a set restores "
                                 "only when found by Tag= + Count= (its new members carry the tag)", ref->title,
                                 volume_restore_to_string(v->restore));
        /* A restore finds its volume again, and the old one, by the tag. */
        if (v->restore != VOLUME_RESTORE_NO && !v->tag.key)
                return key_error(ref, "Restore", e, "[%s] Restore=%s needs Tag= (a restore finds volumes by their tag)",
                                 ref->title, volume_restore_to_string(v->restore));
        /* A set found by Tag= + Count= restores as a whole, from one
         * multi-volume snapshot set (restore.h): per-volume snapshots of a
         * RAID 0 are not consistent with each other. */
        return 0;
}

static const char *first_shared_id(const ConfigVolume *a, const ConfigVolume *b) {
        for (size_t i = 0; i < a->n_ids; i++)
                for (size_t j = 0; j < b->n_ids; j++)
                        if (streq(a->ids[i], b->ids[j]))
                                return a->ids[i];
        return NULL;
}

/* What two volume sections may not share. A mount point inside another
 * one's is fine (it is mounted after it), the same one is not. */
static int validate_volume_pair(const ConfigSectionRef *ref, const ConfigSectionRef *earlier, ConfigError *e) {
        const ConfigVolume *v = ref->data, *w = earlier->data;
        char o[ORIGIN_MAX];
        const char *id;

        if (v->mount_point && w->mount_point && streq(v->mount_point, w->mount_point))
                return key_error(ref, "MountPoint", e,
                                 "[%s] MountPoint=%s is also [%s]'s (%s): each volume section needs its own mount point",
                                 ref->title, v->mount_point, earlier->title,
                                 config_origin_to_string(key_origin(earlier, "MountPoint"), o, sizeof(o)));
        id = first_shared_id(v, w);
        if (id)
                return key_error(ref, "Id", e, "[%s] Id=: %s is also in [%s] (%s): a volume belongs to one section",
                                 ref->title, id, earlier->title,
                                 config_origin_to_string(key_origin(earlier, "Id"), o, sizeof(o)));
        if (v->tag.key && w->tag.key && streq(v->tag.key, w->tag.key) && streq(v->tag.value, w->tag.value))
                return key_error(ref, "Tag", e,
                                 "[%s] Tag=%s=%s is also [%s]'s (%s): both would find the same volumes",
                                 ref->title, v->tag.key, v->tag.value, earlier->title,
                                 config_origin_to_string(key_origin(earlier, "Tag"), o, sizeof(o)));
        if (!streq(v->device, "auto") && streq(v->device, w->device))
                return key_error(ref, "Device", e, "[%s] Device=%s is also [%s]'s (%s): one name, one attachment",
                                 ref->title, v->device, earlier->title,
                                 config_origin_to_string(key_origin(earlier, "Device"), o, sizeof(o)));
        return 0;
}

static int validate_volumes(const Config *c, ConfigError *e) {
        int r;

        for (size_t i = 0; i < c->n_volumes; i++) {
                ConfigSectionRef ref;

                config_volume_ref(c, c->volumes[i], &ref);
                r = validate_volume(&ref, e);
                if (r < 0)
                        return r;
                for (size_t j = 0; j < i; j++) {
                        ConfigSectionRef earlier;

                        config_volume_ref(c, c->volumes[j], &earlier);
                        r = validate_volume_pair(&ref, &earlier, e);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

static int validate_interface(const Config *c, ConfigError *e) {
        ConfigSectionRef ref;
        int r;

        single_ref(c, CONFIG_SECTION_INTERFACE, &ref);
        r = validate_exactly_one(&ref, "Id", c->interface.id, "Tag", c->interface.tag.key, e);
        if (r < 0)
                return r;
        if (c->interface.restore != INTERFACE_RESTORE_NO && !c->interface.tag.key)
                return key_error(&ref, "Restore", e,
                                 "[Interface] Restore=%s needs Tag= (the new interface is found again by the tag)",
                                 interface_restore_to_string(c->interface.restore));
        return 0;
}

/* A handover goes between instances of one node, which each one's
 * nodeagent:node tag names: the default name, the instance id, differs on
 * every instance, so no request could ever pass. */
static int validate_handover(const Config *c, ConfigError *e) {
        ConfigSectionRef ref;

        if (c->node.name)
                return 0;
        for (size_t i = 0; i < c->n_volumes; i++)
                if (c->volumes[i]->take_over == TAKE_OVER_HANDOVER) {
                        config_volume_ref(c, c->volumes[i], &ref);
                        return key_error(&ref, "TakeOver", e, "[%s] TakeOver=handover needs [Node] Name= (the name "
                                         "every instance of the node carries in its nodeagent:node tag)", ref.title);
                }
        if (c->has_interface && c->interface.take_over == TAKE_OVER_HANDOVER) {
                single_ref(c, CONFIG_SECTION_INTERFACE, &ref);
                return key_error(&ref, "TakeOver", e, "[Interface] TakeOver=handover needs [Node] Name= (the name "
                                 "every instance of the node carries in its nodeagent:node tag)");
        }
        return 0;
}

int config_validate(const Config *c, ConfigError *ret_error) {
        ConfigSectionRef ref;
        int r;

        if (!c)
                return -EINVAL;

        r = validate_volumes(c, ret_error);
        if (r < 0)
                return r;

        if (c->has_interface) {
                r = validate_interface(c, ret_error);
                if (r < 0)
                        return r;
        }

        r = validate_handover(c, ret_error);
        if (r < 0)
                return r;

        if (c->has_dns) {
                single_ref(c, CONFIG_SECTION_DNS, &ref);
                r = validate_needs(&ref, "HostedZoneId", c->dns.hosted_zone_id, ret_error);
                if (r < 0)
                        return r;
                r = validate_needs(&ref, "Name", c->dns.name, ret_error);
                if (r < 0)
                        return r;
        }

        if (c->has_signal && !c->signal.cloudformation_stack != !c->signal.cloudformation_resource) {
                const char *set = c->signal.cloudformation_stack ? "CloudFormationStack" : "CloudFormationResource";
                const char *missing = c->signal.cloudformation_stack ? "CloudFormationResource" : "CloudFormationStack";
                const ConfigOrigin *o;

                single_ref(c, CONFIG_SECTION_SIGNAL, &ref);
                o = key_origin(&ref, set);
                return config_error_set(ret_error, EINVAL, o ? o->source : NULL, o ? o->line : 0,
                                        "Signal", missing,
                                        "[Signal] %s= needs %s= too (SignalResource takes both)", set, missing);
        }

        return 0;
}

/* "data ([Volume]), log, wal", or "none" when there is no volume section. */
static int volume_sections_list(const Config *c, char **ret) {
        char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);

        if (!f)
                return -ENOMEM;
        for (size_t i = 0; i < c->n_volumes; i++)
                fprintf(f, "%s%s%s", i > 0 ? ", " : "", c->volumes[i]->section,
                        c->volumes[i] == &c->volume ? " ([Volume])" : "");
        if (c->n_volumes == 0)
                fputs("there is none", f);
        if (fclose(f) != 0) {
                free(buf);
                return -ENOMEM;
        }
        *ret = buf;
        return 0;
}

int config_select_volume(Config *c, const char *name, ConfigError *ret_error) {
        _cleanup_free_ char *list = NULL, *shown = NULL;
        const ConfigVolume *v;
        int r;

        if (!c || !name)
                return -EINVAL;

        v = config_volume_find(c, name);
        if (v) {
                c->only_volume = v;
                return 0;
        }

        r = volume_sections_list(c, &list);
        if (r < 0)
                return r;
        shown = escape_for_message(name);
        if (!shown)
                return -ENOMEM;
        return config_error_set(ret_error, EINVAL, "--section", 0, NULL, NULL,
                                "%s: no such volume section (volume sections: %s)", shown, list);
}
