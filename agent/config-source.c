/* SPDX-License-Identifier: Apache-2.0 */
/* The sources of the configuration and how they merge: INI text, the main
 * file and its conf.d drop-ins, --set, user data. */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <strings.h>
#include <sys/stat.h>

#include "config-internal.h"
#include "log.h"

/* Configuration files are small; anything bigger is a mistake (a log file
 * passed with --config), not a configuration. */
#define CONFIG_FILE_MAX ((size_t) 1024 * 1024)

/* Applies one assignment from any source. An empty value resets the key to
 * its default, as in systemd. */
static int config_assign(Config *c, ConfigSectionRef *ref, const char *key, const char *value,
                         const char *source, unsigned line, ConfigError *e) {
        _cleanup_free_ char *shown_key = NULL, *shown_value = NULL;
        ConfigSection section = ref->type;
        const char *section_name = ref->title;
        const char *reason = NULL;
        const ConfigKey *k;
        int r;

        shown_key = escape_for_message(key);
        shown_value = escape_for_message(value);
        if (!shown_key || !shown_value)
                return -ENOMEM;

        k = config_key_find(section, key);
        if (!k) {
                for (size_t i = 0; i < config_n_keys; i++) {
                        const ConfigKey *o = &config_keys[i];

                        if (o->section == section && strcasecmp(o->name, key) == 0)
                                return config_error_set(e, EINVAL, source, line, section_name, key,
                                                        "[%s] %s=%s: unknown key (did you mean %s=?)",
                                                        section_name, shown_key, shown_value, o->name);
                }
                for (size_t i = 0; i < config_n_keys; i++) {
                        const ConfigKey *o = &config_keys[i];

                        if (strcasecmp(o->name, key) == 0)
                                return config_error_set(e, EINVAL, source, line, section_name, key,
                                                        "[%s] %s=%s: unknown key (%s= belongs in [%s])",
                                                        section_name, shown_key, shown_value, o->name,
                                                        config_section_to_string(o->section));
                }
                return config_error_set(e, EINVAL, source, line, section_name, key,
                                        "[%s] %s=%s: unknown key", section_name, shown_key, shown_value);
        }

        if (has_control_chars(value))
                reason = "the value contains control characters";
        else if (!utf8_is_valid(value))
                reason = "the value is not valid UTF-8";
        else if (value[0] != '\0' && value[strlen(value) - 1] == '\\')
                reason = "continuation lines (a trailing \\) are not supported";
        if (reason)
                return config_error_set(e, EINVAL, source, line, section_name, key,
                                        "[%s] %s=%s: %s", section_name, k->name, shown_value, reason);

        if (value[0] == '\0')
                r = config_key_reset(k, ref->data);
        else
                r = config_key_parse(k, ref->data, value, &reason);
        if (r == -EINVAL)
                return config_error_set(e, EINVAL, source, line, section_name, key,
                                        "[%s] %s=%s: %s", section_name, k->name, shown_value,
                                        reason ?: "invalid value");
        if (r < 0)
                return r;

        /* Only a value that was taken makes its section present. */
        r = config_section_ref_mark_present(c, ref, source, line);
        if (r < 0)
                return r;

        return config_origin_set(&ref->key_origins[config_key_index(k)], source, line);
}

int config_parse_string(Config *c, const char *source_name, const char *text, ConfigError *ret_error) {
        _cleanup_free_ char *copy = NULL;
        /* Headers make their section present at once, so nothing is
         * ever pending here. */
        ConfigSectionRef section = {};
        bool in_section = false;
        unsigned line = 0;
        char *next;
        int r;

        if (!c || !source_name || !text)
                return -EINVAL;

        copy = strdup(text);
        if (!copy)
                return -ENOMEM;

        for (char *p = copy; p; p = next) {
                _cleanup_free_ char *shown = NULL;
                char *l, *eq;

                line++;
                next = strchr(p, '\n');
                if (next)
                        *next++ = '\0';

                l = strstrip(p);
                if (l[0] == '\0' || l[0] == '#' || l[0] == ';')
                        continue;

                shown = escape_for_message(l);
                if (!shown)
                        return -ENOMEM;

                if (l[0] == '[') {
                        size_t n = strlen(l);

                        if (n < 3 || l[n - 1] != ']')
                                return config_error_set(ret_error, EINVAL, source_name, line, NULL, NULL,
                                                        "%s: not a section header ([Section] alone on its line)",
                                                        shown);
                        l[n - 1] = '\0';
                        r = config_section_ref(c, l + 1, source_name, line, ret_error, &section);
                        if (r < 0)
                                return r;
                        r = config_section_ref_mark_present(c, &section, source_name, line);
                        if (r < 0) {
                                config_section_ref_done(&section);
                                return r;
                        }
                        in_section = true;
                        continue;
                }

                eq = strchr(l, '=');
                if (!eq)
                        return config_error_set(ret_error, EINVAL, source_name, line, NULL, NULL,
                                                "%s: neither [Section], Key=Value nor a comment", shown);
                if (!in_section)
                        return config_error_set(ret_error, EINVAL, source_name, line, NULL, NULL,
                                                "%s: assignment before any [Section] header", shown);

                *eq = '\0';
                l = strstrip(l);
                if (l[0] == '\0')
                        return config_error_set(ret_error, EINVAL, source_name, line, section.title, NULL,
                                                "%s: assignment without a key", shown);

                r = config_assign(c, &section, l, strstrip(eq + 1), source_name, line, ret_error);
                if (r < 0)
                        return r;
        }

        return 0;
}

/* Reads a whole regular file of at most max bytes. */
static int read_full_fd(int fd, size_t max, char **ret, size_t *ret_size) {
        _cleanup_free_ char *buf = NULL;
        size_t size = 0, allocated = 0;

        for (;;) {
                ssize_t k;

                if (size == allocated) {
                        size_t n = allocated == 0 ? 4096 : allocated * 2;
                        char *b;

                        /* One byte more than allowed, to see a file that is
                         * too large, plus the terminating NUL. */
                        n = MIN(n, max + 1);
                        if (n <= allocated)
                                return -EFBIG;
                        b = realloc(buf, n + 1);
                        if (!b)
                                return -ENOMEM;
                        buf = b;
                        allocated = n;
                }

                k = read(fd, buf + size, allocated - size);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                if (k == 0)
                        break;
                size += (size_t) k;
        }
        if (size > max)
                return -EFBIG;

        if (!buf) {
                buf = malloc(1);
                if (!buf)
                        return -ENOMEM;
        }
        buf[size] = '\0';
        *ret = TAKE_PTR(buf);
        *ret_size = size;
        return 0;
}

int config_parse_file(Config *c, const char *path, bool missing_ok, ConfigError *ret_error) {
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ char *text = NULL;
        struct stat st;
        size_t size = 0;
        int r;

        if (!c || !path)
                return -EINVAL;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0) {
                r = errno;
                if (r == ENOENT && missing_ok) {
                        log_debug("%s: not found, read as empty.", path);
                        return 0;
                }
                return config_error_set(ret_error, r, path, 0, NULL, NULL, "cannot open: %s", strerror(r));
        }

        if (fstat(fd, &st) < 0) {
                r = errno;
                return config_error_set(ret_error, r, path, 0, NULL, NULL, "cannot stat: %s", strerror(r));
        }
        if (!S_ISREG(st.st_mode))
                return config_error_set(ret_error, EINVAL, path, 0, NULL, NULL, "not a regular file");

        /* The configuration decides which device gets formatted: whoever
         * can write it can destroy the node's data, so like sshd we take
         * it only from its owner, and the owner only as root or ourselves. */
        if (st.st_mode & (S_IWGRP | S_IWOTH))
                return config_error_set(ret_error, EPERM, path, 0, NULL, NULL,
                                        "refusing a configuration file that group or others may write (mode %04o); run chmod go-w on it",
                                        (unsigned) (st.st_mode & 07777));
        if (st.st_uid != 0 && st.st_uid != geteuid())
                return config_error_set(ret_error, EPERM, path, 0, NULL, NULL,
                                        "refusing a configuration file owned by uid %u, neither root nor us",
                                        (unsigned) st.st_uid);

        r = read_full_fd(fd, CONFIG_FILE_MAX, &text, &size);
        if (r == -EFBIG)
                return config_error_set(ret_error, EINVAL, path, 0, NULL, NULL,
                                        "larger than %zu bytes, not a configuration file", CONFIG_FILE_MAX);
        if (r < 0)
                return config_error_set(ret_error, r, path, 0, NULL, NULL, "cannot read: %s", strerror(-r));
        if (memchr(text, '\0', size))
                return config_error_set(ret_error, EINVAL, path, 0, NULL, NULL,
                                        "contains a NUL byte, not a text file");

        log_debug("%s: reading.", path);
        return config_parse_string(c, path, text, ret_error);
}

int config_apply_set(Config *c, const char *assignment, ConfigError *ret_error) {
        _cleanup_free_ char *copy = NULL, *shown = NULL;
        _cleanup_(config_section_ref_done) ConfigSectionRef section = {};
        char *eq, *dot, *section_name, *key;
        int r;

        if (!c || !assignment)
                return -EINVAL;

        copy = strdup(assignment);
        shown = escape_for_message(assignment);
        if (!copy || !shown)
                return -ENOMEM;

        /* The value may contain "." and "=" (tags, DNS names): the first "="
         * ends Section.Key, and the "." inside it splits the two (section
         * names, Volume:NAME included, have no "."). */
        eq = strchr(copy, '=');
        if (eq) {
                *eq = '\0';
                dot = strchr(copy, '.');
        } else
                dot = NULL;
        if (!dot)
                return config_error_set(ret_error, EINVAL, "--set", 0, NULL, NULL,
                                        "%s: not Section.Key=Value", shown);
        *dot = '\0';
        section_name = strstrip(copy);
        key = strstrip(dot + 1);

        r = config_section_ref(c, section_name, "--set", 0, ret_error, &section);
        if (r < 0)
                return r;
        if (key[0] == '\0')
                return config_error_set(ret_error, EINVAL, "--set", 0, section.title, NULL,
                                        "%s: not Section.Key=Value", shown);

        /* A new [Volume:NAME] appears only when its value is taken;
         * otherwise the cleanup frees it. */
        return config_assign(c, &section, key, strstrip(eq + 1), "--set", 0, ret_error);
}

static int compare_strings(const void *a, const void *b) {
        return strcmp(*(char * const *) a, *(char * const *) b);
}

/* The names of the NAME.conf files in dir, sorted with strcmp(); an empty
 * list when dir does not exist. Hidden files are skipped: editors leave them
 * behind (Emacs's ".#x.conf" lock links end in .conf too). */
static int conf_d_list(const char *dir, char ***ret) {
        _cleanup_strv_free_ char **names = NULL;
        DIR *d;
        size_t n = 0;
        int r = 0;

        names = calloc(1, sizeof(char *));
        if (!names)
                return -ENOMEM;

        d = opendir(dir);
        if (!d) {
                if (errno == ENOENT) {
                        *ret = TAKE_PTR(names);
                        return 0;
                }
                return negative_errno();
        }

        for (;;) {
                struct dirent *de;
                size_t len;
                char **l;

                errno = 0;
                de = readdir(d);
                if (!de) {
                        r = -errno;
                        break;
                }
                len = strlen(de->d_name);
                if (de->d_name[0] == '.' || len <= 5 || !streq(de->d_name + len - 5, ".conf"))
                        continue;

                l = realloc(names, (n + 2) * sizeof(char *));
                if (!l) {
                        r = -ENOMEM;
                        break;
                }
                names = l;
                names[n] = strdup(de->d_name);
                names[n + 1] = NULL;
                if (!names[n]) {
                        r = -ENOMEM;
                        break;
                }
                n++;
        }
        (void) closedir(d);
        if (r < 0)
                return r;

        qsort(names, n, sizeof(char *), compare_strings);
        *ret = TAKE_PTR(names);
        return 0;
}

int config_load(Config *c, const char *main_path, char **set_overrides, ConfigError *ret_error) {
        _cleanup_strv_free_ char **names = NULL;
        _cleanup_free_ char *dir = NULL;
        const char *slash;
        int r;

        if (!c || !main_path)
                return -EINVAL;

        r = config_parse_file(c, main_path, true, ret_error);
        if (r < 0)
                return r;

        slash = strrchr(main_path, '/');
        if (slash)
                r = asprintf(&dir, "%.*sconf.d", (int) (slash - main_path + 1), main_path);
        else
                r = asprintf(&dir, "conf.d");
        if (r < 0)
                return -ENOMEM;

        r = conf_d_list(dir, &names);
        if (r < 0)
                return config_error_set(ret_error, r, dir, 0, NULL, NULL, "cannot list: %s", strerror(-r));

        for (char **name = names; *name; name++) {
                _cleanup_free_ char *path = NULL;

                if (asprintf(&path, "%s/%s", dir, *name) < 0)
                        return -ENOMEM;
                /* A drop-in removed between listing and opening is gone,
                 * which is what its owner wanted. */
                r = config_parse_file(c, path, true, ret_error);
                if (r < 0)
                        return r;
        }

        /* NOLINTNEXTLINE(clang-analyzer-unix.Malloc): the names are freed with names (_cleanup_strv_free_), which clang 14 does not run. */
        for (char **s = set_overrides; s && *s; s++) {
                r = config_apply_set(c, *s, ret_error);
                if (r < 0)
                        return r;
        }

        return 0;
}

bool config_is_nodeagent_user_data(const char *text) {
        const char *p;

        if (!text)
                return false;
        p = startswith(text, "#nodeagent");
        if (!p)
                return false;
        /* "#nodeagent" and nothing but trailing blanks: "#nodeagentx" or
         * "#nodeagent v2" are something else. */
        p += strspn(p, WHITESPACE);
        return *p == '\n' || *p == '\0';
}

int config_apply_user_data(Config *c, const char *text, char **set_overrides, ConfigError *ret_error) {
        int r;

        if (!c)
                return -EINVAL;
        if (!config_is_nodeagent_user_data(text)) {
                log_debug("User data is not nodeagent configuration, ignored.");
                return 0;
        }

        r = config_parse_string(c, "user data", text, ret_error);
        if (r < 0)
                return r;

        for (char **s = set_overrides; s && *s; s++) {
                r = config_apply_set(c, *s, ret_error);
                if (r < 0)
                        return r;
        }

        return 1;
}

