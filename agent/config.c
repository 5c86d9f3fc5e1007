/* SPDX-License-Identifier: Apache-2.0 */
/* The Config: its defaults, its sections' presence, where each setting came
 * from, its errors, and the plan that --check prints. */
#include <stdarg.h>
#include <stdio.h>

#include "config-internal.h"
#include "log.h"

/* ---- Errors ---- */

void config_error_done(ConfigError *e) {
        if (!e)
                return;
        free(e->message);
        free(e->source);
        free(e->section);
        free(e->key);
        *e = (ConfigError) {};
}

/* Fills *e with "source:line: " and the formatted text, logs it at debug
 * level (the caller decides whether it is an error worth a line of its own)
 * and returns -error. */
int config_error_set(ConfigError *e, int error, const char *source, unsigned line,
                     const char *section, const char *key, const char *format, ...) {
        _cleanup_free_ char *body = NULL, *message = NULL;
        ConfigError n = {};
        va_list ap;
        int k;

        error = abs(error);

        va_start(ap, format);
        k = vasprintf(&body, format, ap);
        va_end(ap);
        if (k < 0)
                return -ENOMEM;

        if (source && line > 0)
                k = asprintf(&message, "%s:%u: %s", source, line, body);
        else if (source)
                k = asprintf(&message, "%s: %s", source, body);
        else
                k = asprintf(&message, "%s", body);
        if (k < 0)
                return -ENOMEM;

        log_debug("%s", message);

        if (!e)
                return -error;

        n.line = line;
        if (source) {
                n.source = strdup(source);
                if (!n.source)
                        goto oom;
        }
        if (section) {
                n.section = strdup(section);
                if (!n.section)
                        goto oom;
        }
        if (key) {
                n.key = strdup(key);
                if (!n.key)
                        goto oom;
        }
        n.message = TAKE_PTR(message);

        config_error_done(e);
        *e = n;
        return -error;

oom:
        config_error_done(&n);
        return -ENOMEM;
}

/* ---- Config ---- */

int config_origin_set(ConfigOrigin *o, const char *source, unsigned line) {
        char *s = strdup(source);

        if (!s)
                return -ENOMEM;
        free(o->source);
        *o = (ConfigOrigin) { .source = s, .line = line };
        return 0;
}

static void origin_done(ConfigOrigin *o) {
        o->source = mfree(o->source);
        o->line = 0;
}

/* "/etc/nodeagent/nodeagent.conf:12", "--set", or "unknown" for a Config
 * filled in by code rather than parsed. */
const char *config_origin_to_string(const ConfigOrigin *o, char *buf, size_t size) {
        if (!o || !o->source)
                snprintf(buf, size, "unknown");
        else if (o->line > 0)
                snprintf(buf, size, "%s:%u", o->source, o->line);
        else
                snprintf(buf, size, "%s", o->source);
        return buf;
}

int config_new(Config **ret) {
        _cleanup_(config_freep) Config *c = NULL;

        c = calloc(1, sizeof(Config));
        if (!c)
                return -ENOMEM;
        c->key_origins = calloc(config_n_keys, sizeof(ConfigOrigin));
        c->volume.section = strdup(CONFIG_VOLUME_DATA);
        if (!c->key_origins || !c->volume.section)
                return -ENOMEM;

        for (size_t i = 0; i < config_n_keys; i++) {
                const ConfigKey *k = &config_keys[i];
                int r = config_key_reset(k, config_section_data(c, k->section));

                if (r < 0)
                        return r;
        }

        *ret = TAKE_PTR(c);
        return 0;
}

Config *config_free(Config *c) {
        if (!c)
                return NULL;

        for (size_t i = 0; i < config_n_keys; i++) {
                const ConfigKey *k = &config_keys[i];

                config_key_done(k, config_section_data(c, k->section));
        }
        free(c->volume.section);
        config_free_named_volumes(c);
        for (size_t i = 0; i < _CONFIG_SECTION_MAX; i++)
                origin_done(&c->section_origins[i]);
        if (c->key_origins)
                for (size_t i = 0; i < config_n_keys; i++)
                        origin_done(&c->key_origins[i]);
        free(c->key_origins);
        return mfree(c);
}

static bool section_is_absent(const Config *c, ConfigSection s) {
        switch (s) {
        case CONFIG_SECTION_VOLUME:
                return !c->has_volume;
        case CONFIG_SECTION_INTERFACE:
                return !c->has_interface;
        case CONFIG_SECTION_DNS:
                return !c->has_dns;
        case CONFIG_SECTION_SIGNAL:
                return !c->has_signal;
        default:
                return false;
        }
}

/* ---- The plan ---- */

/* One present section: its header and every key. */
static void format_section(const char *title, ConfigSection s, const void *data, FILE *f) {
        fprintf(f, "[%s]\n", title);
        for (size_t i = 0; i < config_n_keys; i++) {
                const ConfigKey *k = &config_keys[i];

                if (k->section != s)
                        continue;
                if (k->unset_means && !config_key_is_set(k, data))
                        fprintf(f, "# %s= is empty: %s.\n", k->name, k->unset_means);
                fprintf(f, "%s=", k->name);
                config_key_format(k, data, f);
                fputc('\n', f);
        }
}

int config_format_plan(const Config *c, FILE *f) {
        static const char * const absent[_CONFIG_SECTION_MAX] = {
                [CONFIG_SECTION_VOLUME] = "no volume is attached or mounted",
                [CONFIG_SECTION_INTERFACE] = "no interface is attached; DNS publishes the primary private IP",
                [CONFIG_SECTION_DNS] = "no DNS record is published",
                [CONFIG_SECTION_SIGNAL] = "no CloudFormation or lifecycle signal is sent",
        };

        if (!c || !f)
                return -EINVAL;

        for (ConfigSection s = 0; s < _CONFIG_SECTION_MAX; s++) {
                if (s > 0)
                        fputc('\n', f);

                if (s == CONFIG_SECTION_VOLUME) {
                        /* [Volume] is volumes[0] when present; the
                         * [Volume:NAME] sections follow it. */
                        if (!c->has_volume)
                                fprintf(f, "# [Volume] is absent: %s.\n",
                                        c->n_volumes > 0 ? "only the named volume sections below are attached"
                                                         : absent[s]);
                        for (size_t i = 0; i < c->n_volumes; i++) {
                                ConfigSectionRef ref;

                                config_volume_ref(c, c->volumes[i], &ref);
                                if (i > 0 || !c->has_volume)
                                        fputc('\n', f);
                                format_section(ref.title, s, c->volumes[i], f);
                        }
                        continue;
                }

                if (section_is_absent(c, s)) {
                        fprintf(f, "# [%s] is absent: %s.\n", config_section_to_string(s), absent[s]);
                        continue;
                }
                format_section(config_section_to_string(s), s, config_section_data_const(c, s), f);
        }

        if (fflush(f) != 0 || ferror(f))
                return -EIO;
        return 0;
}
