/* SPDX-License-Identifier: Apache-2.0 */
#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <strings.h>
#include <sys/stat.h>

#include "config.h"
#include "log.h"

/* Whitespace trimmed around keys, values and lines. "\r" is in it so that a
 * file or user data written with CRLF line ends reads as intended. */
#define WHITESPACE " \t\r"

/* Configuration files are small; anything bigger is a mistake (a log file
 * passed with --config), not a configuration. */
#define CONFIG_FILE_MAX (1024U * 1024U)

/* How much of a bad value an error message repeats. */
#define MESSAGE_VALUE_MAX 200U

/* ---- Enum tables ---- */

typedef struct EnumTable {
        const char * const *names;
        size_t n;
        /* The reason given for a value that is none of the names. */
        const char *expected;
} EnumTable;

static int enum_from_string(const EnumTable *t, const char *s) {
        if (!s)
                return -EINVAL;
        for (size_t i = 0; i < t->n; i++)
                if (t->names[i] && streq(t->names[i], s))
                        return (int) i;
        return -EINVAL;
}

static const char *enum_to_string(const EnumTable *t, int i) {
        if (i < 0 || (size_t) i >= t->n)
                return NULL;
        return t->names[i];
}

#define DEFINE_ENUM_TABLE(name, type, max, expected_text, ...)                  \
        static const char * const name##_names[max] = { __VA_ARGS__ };          \
        static const EnumTable name##_table = {                                 \
                .names = name##_names,                                          \
                .n = max,                                                       \
                .expected = expected_text,                                      \
        };                                                                      \
        const char *name##_to_string(type v) {                                  \
                return enum_to_string(&name##_table, (int) v);                  \
        }                                                                       \
        type name##_from_string(const char *s) {                                \
                return (type) enum_from_string(&name##_table, s);               \
        }

DEFINE_ENUM_TABLE(filesystem, FileSystem, _FILESYSTEM_MAX,
                  "not a supported filesystem (ext4 or xfs)",
                  [FILESYSTEM_EXT4] = "ext4",
                  [FILESYSTEM_XFS] = "xfs");

DEFINE_ENUM_TABLE(format_policy, FormatPolicy, _FORMAT_MAX,
                  "not a format policy (never or if-blank)",
                  [FORMAT_NEVER] = "never",
                  [FORMAT_IF_BLANK] = "if-blank");

DEFINE_ENUM_TABLE(take_over_policy, TakeOverPolicy, _TAKE_OVER_MAX,
                  "not a take-over policy (wait or force-detach-dead)",
                  [TAKE_OVER_WAIT] = "wait",
                  [TAKE_OVER_FORCE_DETACH_DEAD] = "force-detach-dead");

DEFINE_ENUM_TABLE(routing_mode, RoutingMode, _ROUTING_MAX,
                  "not a routing mode (auto, agent or none)",
                  [ROUTING_AUTO] = "auto",
                  [ROUTING_AGENT] = "agent",
                  [ROUTING_NONE] = "none");

DEFINE_ENUM_TABLE(dns_mode, DnsMode, _DNS_MODE_MAX,
                  "not a DNS mode (node, multivalue or shared)",
                  [DNS_MODE_NODE] = "node",
                  [DNS_MODE_MULTIVALUE] = "multivalue",
                  [DNS_MODE_SHARED] = "shared");

DEFINE_ENUM_TABLE(config_section, ConfigSection, _CONFIG_SECTION_MAX,
                  "not a section (Node, Volume, Interface, DNS or Signal)",
                  [CONFIG_SECTION_NODE] = "Node",
                  [CONFIG_SECTION_VOLUME] = "Volume",
                  [CONFIG_SECTION_INTERFACE] = "Interface",
                  [CONFIG_SECTION_DNS] = "DNS",
                  [CONFIG_SECTION_SIGNAL] = "Signal");

/* Enum fields are written through an int pointer by the generic parser;
 * with a negative _INVALID member GCC gives each of them the type int. */
_Static_assert(sizeof(FileSystem) == sizeof(int), "enum size");
_Static_assert(sizeof(FormatPolicy) == sizeof(int), "enum size");
_Static_assert(sizeof(TakeOverPolicy) == sizeof(int), "enum size");
_Static_assert(sizeof(RoutingMode) == sizeof(int), "enum size");
_Static_assert(sizeof(DnsMode) == sizeof(int), "enum size");

/* ---- Character and string helpers ---- */

static char *strstrip(char *s) {
        char *e;

        s += strspn(s, WHITESPACE);
        e = s + strlen(s);
        while (e > s && strchr(WHITESPACE, e[-1]))
                e--;
        *e = '\0';
        return s;
}

static bool is_lower_hex(char ch) {
        return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f');
}

static bool is_alnum_ascii(char ch) {
        return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

static bool has_control_chars(const char *s) {
        for (const unsigned char *p = (const unsigned char *) s; *p; p++)
                if (*p < 0x20 || *p == 0x7f)
                        return true;
        return false;
}

/* Decodes one UTF-8 sequence; returns its length, or 0 when it is not
 * valid (overlong forms, surrogates and values past U+10FFFF included). */
static size_t utf8_sequence_length(const unsigned char *p) {
        uint32_t cp;
        size_t len;

        if (p[0] < 0x80)
                return 1;
        if (p[0] >= 0xc2 && p[0] <= 0xdf) {
                len = 2;
                cp = p[0] & 0x1f;
        } else if (p[0] >= 0xe0 && p[0] <= 0xef) {
                len = 3;
                cp = p[0] & 0x0f;
        } else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
                len = 4;
                cp = p[0] & 0x07;
        } else
                return 0;

        for (size_t i = 1; i < len; i++) {
                if ((p[i] & 0xc0) != 0x80)
                        return 0;
                cp = (cp << 6) | (p[i] & 0x3f);
        }

        if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
            cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
                return 0;
        return len;
}

static bool utf8_is_valid(const char *s) {
        const unsigned char *p = (const unsigned char *) s;

        while (*p) {
                size_t len = utf8_sequence_length(p);

                if (len == 0)
                        return false;
                p += len;
        }
        return true;
}

/* Characters, not bytes: AWS counts tag lengths in Unicode characters. Only
 * for strings that passed utf8_is_valid(). */
static size_t utf8_length(const char *s, size_t bytes) {
        size_t n = 0;

        for (size_t i = 0; i < bytes; i++)
                if (((unsigned char) s[i] & 0xc0) != 0x80)
                        n++;
        return n;
}

/* A copy of s fit for a log line: control bytes (and every non-ASCII byte
 * when s is not UTF-8) as \xNN, and long values shortened. */
static char *escape_for_message(const char *s) {
        bool utf8 = utf8_is_valid(s);
        char *buf, *out;
        size_t shown = 0;

        /* Each shown byte takes at most 4 ("\xNN"), a character cut at the
         * limit at most 3 more, then "..." and the NUL. */
        buf = malloc(MESSAGE_VALUE_MAX * 4 + 3 + 3 + 1);
        if (!buf)
                return NULL;
        out = buf;
        for (const unsigned char *p = (const unsigned char *) s; *p; p++) {
                /* Cut only between characters, so the message stays UTF-8. */
                if (shown >= MESSAGE_VALUE_MAX && !(utf8 && (*p & 0xc0) == 0x80)) {
                        memcpy(out, "...", 3);
                        out += 3;
                        break;
                }
                if (*p < 0x20 || *p == 0x7f || (*p >= 0x80 && !utf8)) {
                        static const char hex[] = "0123456789abcdef";

                        *out++ = '\\';
                        *out++ = 'x';
                        *out++ = hex[*p >> 4];
                        *out++ = hex[*p & 0xf];
                } else
                        *out++ = (char) *p;
                shown++;
        }
        *out = '\0';
        return buf;
}

/* A decimal number and nothing else: no sign, no space, no "0x". */
static int parse_uint64_strict(const char *s, uint64_t *ret) {
        unsigned long long v;
        char *end = NULL;

        if (!isdigit((unsigned char) s[0]))
                return -EINVAL;
        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno == ERANGE)
                return -ERANGE;
        if (errno != 0 || !end || *end != '\0')
                return -EINVAL;
        *ret = (uint64_t) v;
        return 0;
}

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
_printf_(7, 8)
static int config_error_set(ConfigError *e, int error, const char *source, unsigned line,
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

/* ---- Values ---- */

/* Checks a string value and returns the form to store (newly allocated),
 * or -EINVAL and a reason that completes "[Section] Key=Value: ...". */
typedef int (*NormalizeFn)(const char *value, char **ret, const char **ret_reason);

static int normalize_copy(const char *value, char **ret) {
        char *s = strdup(value);

        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}

static bool ec2_id_is_valid(const char *s, const char *prefix) {
        const char *p;
        size_t n;

        if (!s)
                return false;
        p = startswith(s, prefix);
        if (!p)
                return false;
        n = strlen(p);
        /* Old ids have 8 hex digits, ids since 2016 have 17. */
        if (n != 8 && n != 17)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!is_lower_hex(p[i]))
                        return false;
        return true;
}

bool volume_id_is_valid(const char *s) {
        return ec2_id_is_valid(s, "vol-");
}

bool eni_id_is_valid(const char *s) {
        return ec2_id_is_valid(s, "eni-");
}

bool instance_id_is_valid(const char *s) {
        return ec2_id_is_valid(s, "i-");
}

static int normalize_volume_id(const char *value, char **ret, const char **ret_reason) {
        if (!volume_id_is_valid(value)) {
                *ret_reason = "not an EBS volume id (vol- and 8 or 17 lowercase hex digits)";
                return -EINVAL;
        }
        return normalize_copy(value, ret);
}

static int normalize_eni_id(const char *value, char **ret, const char **ret_reason) {
        if (!eni_id_is_valid(value)) {
                *ret_reason = "not a network interface id (eni- and 8 or 17 lowercase hex digits)";
                return -EINVAL;
        }
        return normalize_copy(value, ret);
}

static int normalize_node_name(const char *value, char **ret, const char **ret_reason) {
        size_t n = strlen(value);
        bool ok = n >= 1 && n <= 64;

        /* The name ends up in Route 53 SetIdentifiers, tags and log lines;
         * this set is safe in all of them. */
        for (size_t i = 0; ok && i < n; i++)
                ok = is_alnum_ascii(value[i]) || strchr("._-", value[i]);
        if (!ok) {
                *ret_reason = "not a node name (1 to 64 of A-Z a-z 0-9 . _ -)";
                return -EINVAL;
        }
        return normalize_copy(value, ret);
}

static int normalize_device(const char *value, char **ret, const char **ret_reason) {
        const char *p;
        bool ok = false;

        /* The names AWS documents for attaching EBS volumes on Linux:
         * /dev/sd[b-z] (/dev/sd[f-p] recommended), /dev/xvd[b-z] and
         * /dev/xvd[b-c][a-z]. The "a" names belong to the root device and
         * partitions (digits) cannot be attached, so both are refused. */
        p = startswith(value, "/dev/sd");
        if (p)
                ok = p[0] >= 'b' && p[0] <= 'z' && p[1] == '\0';
        else {
                p = startswith(value, "/dev/xvd");
                if (p)
                        ok = (p[0] >= 'b' && p[0] <= 'z' && p[1] == '\0') ||
                             (p[0] >= 'b' && p[0] <= 'c' && p[1] >= 'a' && p[1] <= 'z' && p[2] == '\0');
        }
        if (!ok) {
                *ret_reason = "not a device name for AttachVolume (/dev/sd[b-z], /dev/xvd[b-z] or /dev/xvd[b-c][a-z])";
                return -EINVAL;
        }
        return normalize_copy(value, ret);
}

static int normalize_mount_point(const char *value, char **ret, const char **ret_reason) {
        _cleanup_free_ char *path = NULL;
        size_t n = 0;

        if (value[0] != '/') {
                *ret_reason = "not an absolute path";
                return -EINVAL;
        }
        if (strlen(value) >= PATH_MAX) {
                *ret_reason = "path too long";
                return -EINVAL;
        }

        path = malloc(strlen(value) + 1);
        if (!path)
                return -ENOMEM;

        /* Doubled and trailing slashes are harmless spelling and are
         * dropped; "." and ".." would make the path mean something other
         * than it reads, so they are refused. */
        for (const char *p = value; *p;) {
                size_t len;

                p += strspn(p, "/");
                len = strcspn(p, "/");
                if (len == 0)
                        break;
                if ((len == 1 && p[0] == '.') || (len == 2 && p[0] == '.' && p[1] == '.')) {
                        *ret_reason = "path contains . or .. components";
                        return -EINVAL;
                }
                path[n++] = '/';
                memcpy(path + n, p, len);
                n += len;
                p += len;
        }
        if (n == 0) {
                *ret_reason = "the root directory cannot be a mount point for the volume";
                return -EINVAL;
        }
        path[n] = '\0';

        *ret = TAKE_PTR(path);
        return 0;
}

static int normalize_mount_options(const char *value, char **ret, const char **ret_reason) {
        /* A space here is a typo ("noatime, nodev") that mount would only
         * refuse at boot; options are separated by commas alone. */
        if (value[strcspn(value, " \t")] != '\0') {
                *ret_reason = "mount options contain whitespace (separate them with commas alone)";
                return -EINVAL;
        }
        return normalize_copy(value, ret);
}

static int normalize_hosted_zone_id(const char *value, char **ret, const char **ret_reason) {
        const char *p = startswith(value, "/hostedzone/") ?: value;
        size_t n = strlen(p);
        bool ok = n >= 1 && n <= 32 && p[0] == 'Z';

        for (size_t i = 0; ok && i < n; i++)
                ok = (p[i] >= 'A' && p[i] <= 'Z') || (p[i] >= '0' && p[i] <= '9');
        if (!ok) {
                *ret_reason = "not a hosted zone id (Z and up to 31 uppercase letters or digits, optionally after /hostedzone/)";
                return -EINVAL;
        }
        return normalize_copy(p, ret);
}

static int normalize_dns_name(const char *value, char **ret, const char **ret_reason) {
        _cleanup_free_ char *name = NULL;
        size_t n = strlen(value), label = 0;
        bool ok = true;

        /* The final dot is optional on input and always there when stored,
         * so that comparisons with Route 53's answers are plain strcmp(). */
        if (n > 0 && value[n - 1] == '.')
                n--;
        if (n == 0 || n > 253)
                ok = false;

        for (size_t i = 0; ok && i < n; i++) {
                char ch = value[i];

                if (ch == '.') {
                        ok = label > 0;
                        label = 0;
                } else if (is_alnum_ascii(ch) || ch == '-' || ch == '_' || ch == '*')
                        ok = ++label <= 63;
                else
                        ok = false;
        }
        if (ok && label == 0)
                ok = false;
        if (!ok) {
                *ret_reason = "not a DNS name (labels of 1 to 63 of A-Z a-z 0-9 - _ *, at most 253 characters)";
                return -EINVAL;
        }

        name = malloc(n + 2);
        if (!name)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                name[i] = (char) tolower((unsigned char) value[i]);
        name[n] = '.';
        name[n + 1] = '\0';

        *ret = TAKE_PTR(name);
        return 0;
}

static int normalize_stack(const char *value, char **ret, const char **ret_reason) {
        size_t n = strlen(value);
        bool ok;

        /* SignalResource takes a stack name or a stack id (an ARN). */
        if (startswith(value, "arn:"))
                ok = n <= 2048 && strstr(value, ":cloudformation:") && strstr(value, ":stack/") &&
                     value[strcspn(value, " \t")] == '\0';
        else {
                ok = n >= 1 && n <= 128 && isalpha((unsigned char) value[0]);
                for (size_t i = 1; ok && i < n; i++)
                        ok = is_alnum_ascii(value[i]) || value[i] == '-';
        }
        if (!ok) {
                *ret_reason = "not a CloudFormation stack name (a letter, then letters, digits and -, at most 128) or stack id (arn:...:cloudformation:...:stack/...)";
                return -EINVAL;
        }
        return normalize_copy(value, ret);
}

static int normalize_logical_id(const char *value, char **ret, const char **ret_reason) {
        size_t n = strlen(value);
        bool ok = n >= 1 && n <= 255;

        for (size_t i = 0; ok && i < n; i++)
                ok = is_alnum_ascii(value[i]);
        if (!ok) {
                *ret_reason = "not a CloudFormation logical resource id (1 to 255 letters and digits)";
                return -EINVAL;
        }
        return normalize_copy(value, ret);
}

static int normalize_hook_name(const char *value, char **ret, const char **ret_reason) {
        size_t n = strlen(value);
        bool ok = n >= 1 && n <= 255;

        /* The pattern of the Auto Scaling API: [A-Za-z0-9\-_\/]+ */
        for (size_t i = 0; ok && i < n; i++)
                ok = is_alnum_ascii(value[i]) || strchr("-_/", value[i]);
        if (!ok) {
                *ret_reason = "not a lifecycle hook name (1 to 255 of A-Z a-z 0-9 - _ /)";
                return -EINVAL;
        }
        return normalize_copy(value, ret);
}

static int parse_tag(const char *value, ConfigTag *ret, const char **ret_reason) {
        _cleanup_free_ char *key = NULL, *val = NULL;
        const char *eq = strchr(value, '=');

        /* The key ends at the first "=": a tag value may contain "=", a
         * key that we would have to split cannot be told apart. */
        if (!eq) {
                *ret_reason = "not a tag (Key=Value)";
                return -EINVAL;
        }
        if (eq == value) {
                *ret_reason = "the tag key is empty";
                return -EINVAL;
        }
        if (utf8_length(value, (size_t) (eq - value)) > 128) {
                *ret_reason = "the tag key is longer than 128 characters";
                return -EINVAL;
        }
        if (utf8_length(eq + 1, strlen(eq + 1)) > 256) {
                *ret_reason = "the tag value is longer than 256 characters";
                return -EINVAL;
        }

        key = strndup(value, (size_t) (eq - value));
        val = strdup(eq + 1);
        if (!key || !val)
                return -ENOMEM;

        *ret = (ConfigTag) {
                .key = TAKE_PTR(key),
                .value = TAKE_PTR(val),
        };
        return 0;
}

static int parse_boolean(const char *value, bool *ret) {
        static const char * const yes[] = { "yes", "true", "on", "1" };
        static const char * const no[] = { "no", "false", "off", "0" };

        for (size_t i = 0; i < ELEMENTSOF(yes); i++) {
                if (strcasecmp(value, yes[i]) == 0) {
                        *ret = true;
                        return 0;
                }
                if (strcasecmp(value, no[i]) == 0) {
                        *ret = false;
                        return 0;
                }
        }
        return -EINVAL;
}

/* ---- The keys ---- */

typedef enum KeyType {
        KEY_STRING,
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
        size_t offset;
        /* The default as it would be written in a file, so that defaults
         * go through the same parser as values; NULL: unset. */
        const char *default_value;
        /* KEY_STRING */
        NormalizeFn normalize;
        /* KEY_ENUM */
        const EnumTable *enum_table;
        /* KEY_DURATION and KEY_UNSIGNED: the accepted range, and the reason
         * given for a value outside it. */
        uint64_t min, max;
        const char *range_reason;
        /* For the plan: what an unset key means, when that is not obvious. */
        const char *unset_means;
} ConfigKey;

/* Designated initialisers throughout, so that each entry names only what
 * its type uses. */
#define KEY(s, n, t, f, d, ...)                                 \
        {                                                       \
                .section = CONFIG_SECTION_##s,                  \
                .name = n,                                      \
                .type = t,                                      \
                .offset = offsetof(Config, f),                  \
                .default_value = d,                             \
                __VA_ARGS__                                     \
        }

static const ConfigKey config_keys[] = {
        KEY(NODE, "Name", KEY_STRING, node.name, NULL,
            .normalize = normalize_node_name, .unset_means = "the instance id"),
        KEY(NODE, "Timeout", KEY_DURATION, node.timeout, "15min",
            .min = 1, .max = UINT64_MAX, .range_reason = "the deadline must be longer than 0"),

        KEY(VOLUME, "Id", KEY_STRING, volume.id, NULL,
            .normalize = normalize_volume_id),
        KEY(VOLUME, "Tag", KEY_TAG, volume.tag, NULL),
        KEY(VOLUME, "Device", KEY_STRING, volume.device, "/dev/sdf",
            .normalize = normalize_device),
        KEY(VOLUME, "MountPoint", KEY_STRING, volume.mount_point, NULL,
            .normalize = normalize_mount_point),
        KEY(VOLUME, "FileSystem", KEY_ENUM, volume.file_system, "ext4",
            .enum_table = &filesystem_table),
        KEY(VOLUME, "MountOptions", KEY_STRING, volume.mount_options, NULL,
            .normalize = normalize_mount_options),
        KEY(VOLUME, "Format", KEY_ENUM, volume.format, "if-blank",
            .enum_table = &format_policy_table),
        KEY(VOLUME, "Grow", KEY_BOOL, volume.grow, "yes"),
        KEY(VOLUME, "TakeOver", KEY_ENUM, volume.take_over, "wait",
            .enum_table = &take_over_policy_table),
        KEY(VOLUME, "TakeOverTimeout", KEY_DURATION, volume.take_over_timeout, "10min",
            .min = 0, .max = UINT64_MAX),
        KEY(VOLUME, "DetachOnStop", KEY_BOOL, volume.detach_on_stop, "no"),

        KEY(INTERFACE, "Id", KEY_STRING, interface.id, NULL,
            .normalize = normalize_eni_id),
        KEY(INTERFACE, "Tag", KEY_TAG, interface.tag, NULL),
        /* Index 0 is the primary interface, which the instance always has;
         * 31 is above the largest interface count of any instance type. */
        KEY(INTERFACE, "DeviceIndex", KEY_UNSIGNED, interface.device_index, "1",
            .min = 1, .max = 31, .range_reason = "not a device index from 1 to 31"),
        KEY(INTERFACE, "Routing", KEY_ENUM, interface.routing, "auto",
            .enum_table = &routing_mode_table),
        /* An extension of the contract: the ENI's predecessor is handled as
         * the volume's is, with keys of its own since [Volume] may be absent. */
        KEY(INTERFACE, "TakeOver", KEY_ENUM, interface.take_over, "wait",
            .enum_table = &take_over_policy_table),
        KEY(INTERFACE, "TakeOverTimeout", KEY_DURATION, interface.take_over_timeout, "10min",
            .min = 0, .max = UINT64_MAX),
        KEY(INTERFACE, "DetachOnStop", KEY_BOOL, interface.detach_on_stop, "no"),

        KEY(DNS, "HostedZoneId", KEY_STRING, dns.hosted_zone_id, NULL,
            .normalize = normalize_hosted_zone_id),
        KEY(DNS, "Name", KEY_STRING, dns.name, NULL,
            .normalize = normalize_dns_name),
        KEY(DNS, "Mode", KEY_ENUM, dns.mode, "node",
            .enum_table = &dns_mode_table),
        /* Route 53's own limits for TTL. */
        KEY(DNS, "TTL", KEY_UNSIGNED, dns.ttl, "60",
            .min = 0, .max = 2147483647, .range_reason = "not a TTL from 0 to 2147483647 seconds"),
        KEY(DNS, "WaitInSync", KEY_BOOL, dns.wait_in_sync, "no"),

        KEY(SIGNAL, "CloudFormationStack", KEY_STRING, signal.cloudformation_stack, NULL,
            .normalize = normalize_stack),
        KEY(SIGNAL, "CloudFormationResource", KEY_STRING, signal.cloudformation_resource, NULL,
            .normalize = normalize_logical_id),
        KEY(SIGNAL, "LifecycleHook", KEY_STRING, signal.lifecycle_hook, NULL,
            .normalize = normalize_hook_name),
};

#define N_CONFIG_KEYS ELEMENTSOF(config_keys)

static void *key_field(Config *c, const ConfigKey *k) {
        return (uint8_t *) c + k->offset;
}

static const void *key_field_const(const Config *c, const ConfigKey *k) {
        return (const uint8_t *) c + k->offset;
}

static size_t key_index(const ConfigKey *k) {
        return (size_t) (k - config_keys);
}

static const ConfigKey *key_find(ConfigSection section, const char *name) {
        for (size_t i = 0; i < N_CONFIG_KEYS; i++)
                if (config_keys[i].section == section && streq(config_keys[i].name, name))
                        return &config_keys[i];
        return NULL;
}

/* For names that are in the table by construction. */
static const ConfigKey *key_get(ConfigSection section, const char *name) {
        const ConfigKey *k = key_find(section, name);

        if (!k)
                abort();
        return k;
}

static void tag_done(ConfigTag *t) {
        t->key = mfree(t->key);
        t->value = mfree(t->value);
}

/* Parses value into the key's field. A NULL value unsets a key that has no
 * default. Returns -EINVAL and a reason for a bad value. */
static int key_parse(Config *c, const ConfigKey *k, const char *value, const char **ret_reason) {
        void *field = key_field(c, k);
        int r;

        switch (k->type) {

        case KEY_STRING: {
                char *s = NULL;

                if (value) {
                        r = k->normalize(value, &s, ret_reason);
                        if (r < 0)
                                return r;
                }
                free(*(char **) field);
                *(char **) field = s;
                return 0;
        }

        case KEY_TAG: {
                ConfigTag t = {};

                if (value) {
                        r = parse_tag(value, &t, ret_reason);
                        if (r < 0)
                                return r;
                }
                tag_done(field);
                *(ConfigTag *) field = t;
                return 0;
        }

        case KEY_BOOL: {
                bool b;

                if (!value || parse_boolean(value, &b) < 0) {
                        *ret_reason = "not a boolean (yes, no, true, false, on, off, 1 or 0)";
                        return -EINVAL;
                }
                *(bool *) field = b;
                return 0;
        }

        case KEY_DURATION: {
                usec_t u;

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
                *(usec_t *) field = u;
                return 0;
        }

        case KEY_UNSIGNED: {
                uint64_t v;

                r = value ? parse_uint64_strict(value, &v) : -EINVAL;
                if (r < 0 || v < k->min || v > k->max) {
                        *ret_reason = k->range_reason;
                        return -EINVAL;
                }
                *(unsigned *) field = (unsigned) v;
                return 0;
        }

        case KEY_ENUM: {
                int i = enum_from_string(k->enum_table, value);

                if (i < 0) {
                        *ret_reason = k->enum_table->expected;
                        return -EINVAL;
                }
                *(int *) field = i;
                return 0;
        }
        }

        abort();
}

/* Back to the default. The defaults are constants of this file that parse,
 * so -ENOMEM is the only failure possible. */
static int key_reset(Config *c, const ConfigKey *k) {
        const char *reason = NULL;

        return key_parse(c, k, k->default_value, &reason);
}

/* Writes the key's value as it would be written in a file, or nothing when
 * unset. */
static void key_format(const Config *c, const ConfigKey *k, FILE *f) {
        const void *field = key_field_const(c, k);

        switch (k->type) {

        case KEY_STRING:
                fputs(strempty(*(char * const *) field), f);
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
                fprintf(f, "%u", *(const unsigned *) field);
                return;

        case KEY_ENUM:
                fputs(strempty(enum_to_string(k->enum_table, *(const int *) field)), f);
                return;
        }

        abort();
}

static bool key_is_set(const Config *c, const ConfigKey *k) {
        const void *field = key_field_const(c, k);

        switch (k->type) {
        case KEY_STRING:
                return *(char * const *) field != NULL;
        case KEY_TAG:
                return ((const ConfigTag *) field)->key != NULL;
        default:
                return true;
        }
}

/* ---- Config ---- */

static int origin_set(ConfigOrigin *o, const char *source, unsigned line) {
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
static const char *origin_to_string(const ConfigOrigin *o, char *buf, size_t size) {
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
        c->key_origins = calloc(N_CONFIG_KEYS, sizeof(ConfigOrigin));
        if (!c->key_origins)
                return -ENOMEM;

        for (size_t i = 0; i < N_CONFIG_KEYS; i++) {
                int r = key_reset(c, &config_keys[i]);

                if (r < 0)
                        return r;
        }

        *ret = TAKE_PTR(c);
        return 0;
}

Config *config_free(Config *c) {
        if (!c)
                return NULL;

        for (size_t i = 0; i < N_CONFIG_KEYS; i++) {
                const ConfigKey *k = &config_keys[i];

                if (k->type == KEY_STRING)
                        free(*(char **) key_field(c, k));
                else if (k->type == KEY_TAG)
                        tag_done(key_field(c, k));
        }
        for (size_t i = 0; i < _CONFIG_SECTION_MAX; i++)
                origin_done(&c->section_origins[i]);
        if (c->key_origins)
                for (size_t i = 0; i < N_CONFIG_KEYS; i++)
                        origin_done(&c->key_origins[i]);
        free(c->key_origins);
        return mfree(c);
}

/* The has_ flag of a section; NULL for [Node], which has no path of its own
 * to skip. */
static bool *section_present(Config *c, ConfigSection s) {
        switch (s) {
        case CONFIG_SECTION_VOLUME:
                return &c->has_volume;
        case CONFIG_SECTION_INTERFACE:
                return &c->has_interface;
        case CONFIG_SECTION_DNS:
                return &c->has_dns;
        case CONFIG_SECTION_SIGNAL:
                return &c->has_signal;
        default:
                return NULL;
        }
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

static int section_mark_present(Config *c, ConfigSection s, const char *source, unsigned line) {
        bool *present = section_present(c, s);

        if (present)
                *present = true;
        /* The first appearance is what a "needs Key=" message points at. */
        if (c->section_origins[s].source)
                return 0;
        return origin_set(&c->section_origins[s], source, line);
}

/* Refuses an unknown section, with a hint when only the case is wrong. */
static int section_lookup(const char *name, const char *source, unsigned line, ConfigError *e,
                          ConfigSection *ret) {
        _cleanup_free_ char *shown = NULL;
        ConfigSection s = config_section_from_string(name);

        if (s >= 0) {
                *ret = s;
                return 0;
        }

        shown = escape_for_message(name);
        if (!shown)
                return -ENOMEM;
        for (int i = 0; i < _CONFIG_SECTION_MAX; i++)
                if (strcasecmp(name, config_section_to_string(i)) == 0)
                        return config_error_set(e, EINVAL, source, line, name, NULL,
                                                "[%s]: unknown section (did you mean [%s]?)",
                                                shown, config_section_to_string(i));
        return config_error_set(e, EINVAL, source, line, name, NULL,
                                "[%s]: unknown section (sections are Node, Volume, Interface, DNS and Signal)",
                                shown);
}

/* Applies one assignment from any source. An empty value resets the key to
 * its default, as in systemd. */
static int config_assign(Config *c, ConfigSection section, const char *key, const char *value,
                         const char *source, unsigned line, ConfigError *e) {
        _cleanup_free_ char *shown_key = NULL, *shown_value = NULL;
        const char *section_name = config_section_to_string(section);
        const char *reason = NULL;
        const ConfigKey *k;
        int r;

        shown_key = escape_for_message(key);
        shown_value = escape_for_message(value);
        if (!shown_key || !shown_value)
                return -ENOMEM;

        k = key_find(section, key);
        if (!k) {
                for (size_t i = 0; i < N_CONFIG_KEYS; i++) {
                        const ConfigKey *o = &config_keys[i];

                        if (o->section == section && strcasecmp(o->name, key) == 0)
                                return config_error_set(e, EINVAL, source, line, section_name, key,
                                                        "[%s] %s=%s: unknown key (did you mean %s=?)",
                                                        section_name, shown_key, shown_value, o->name);
                }
                for (size_t i = 0; i < N_CONFIG_KEYS; i++) {
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
                r = key_reset(c, k);
        else
                r = key_parse(c, k, value, &reason);
        if (r == -EINVAL)
                return config_error_set(e, EINVAL, source, line, section_name, key,
                                        "[%s] %s=%s: %s", section_name, k->name, shown_value,
                                        reason ?: "invalid value");
        if (r < 0)
                return r;

        /* Only a value that was taken makes its section present. */
        r = section_mark_present(c, section, source, line);
        if (r < 0)
                return r;

        return origin_set(&c->key_origins[key_index(k)], source, line);
}

int config_parse_string(Config *c, const char *source_name, const char *text, ConfigError *ret_error) {
        _cleanup_free_ char *copy = NULL;
        ConfigSection section = _CONFIG_SECTION_INVALID;
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
                        r = section_lookup(l + 1, source_name, line, ret_error, &section);
                        if (r < 0)
                                return r;
                        r = section_mark_present(c, section, source_name, line);
                        if (r < 0)
                                return r;
                        continue;
                }

                eq = strchr(l, '=');
                if (!eq)
                        return config_error_set(ret_error, EINVAL, source_name, line, NULL, NULL,
                                                "%s: neither [Section], Key=Value nor a comment", shown);
                if (section < 0)
                        return config_error_set(ret_error, EINVAL, source_name, line, NULL, NULL,
                                                "%s: assignment before any [Section] header", shown);

                *eq = '\0';
                l = strstrip(l);
                if (l[0] == '\0')
                        return config_error_set(ret_error, EINVAL, source_name, line,
                                                config_section_to_string(section), NULL,
                                                "%s: assignment without a key", shown);

                r = config_assign(c, section, l, strstrip(eq + 1), source_name, line, ret_error);
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
                        return -errno;
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
                                        "larger than %u bytes, not a configuration file", CONFIG_FILE_MAX);
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
        ConfigSection section;
        char *eq, *dot, *section_name, *key;
        int r;

        if (!c || !assignment)
                return -EINVAL;

        copy = strdup(assignment);
        shown = escape_for_message(assignment);
        if (!copy || !shown)
                return -ENOMEM;

        /* The value may contain "." and "=" (tags, DNS names): the first "="
         * ends Section.Key, and the "." inside it splits the two. */
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

        r = section_lookup(section_name, "--set", 0, ret_error, &section);
        if (r < 0)
                return r;
        if (key[0] == '\0')
                return config_error_set(ret_error, EINVAL, "--set", 0, section_name, NULL,
                                        "%s: not Section.Key=Value", shown);

        return config_assign(c, section, key, strstrip(eq + 1), "--set", 0, ret_error);
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
                return -errno;
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

/* ---- Rules across keys ---- */

#define ORIGIN_MAX 512

static const ConfigOrigin *key_origin(const Config *c, ConfigSection section, const char *name) {
        const ConfigKey *k = key_get(section, name);

        return c->key_origins ? &c->key_origins[key_index(k)] : NULL;
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
                                        a, origin_to_string(key_origin(c, section, a), oa, sizeof(oa)),
                                        b, origin_to_string(key_origin(c, section, b), ob, sizeof(ob)));
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

/* ---- The plan ---- */

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
                if (section_is_absent(c, s)) {
                        fprintf(f, "# [%s] is absent: %s.\n", config_section_to_string(s), absent[s]);
                        continue;
                }

                fprintf(f, "[%s]\n", config_section_to_string(s));
                for (size_t i = 0; i < N_CONFIG_KEYS; i++) {
                        const ConfigKey *k = &config_keys[i];

                        if (k->section != s)
                                continue;
                        if (k->unset_means && !key_is_set(c, k))
                                fprintf(f, "# %s= is empty: %s.\n", k->name, k->unset_means);
                        fprintf(f, "%s=", k->name);
                        key_format(c, k, f);
                        fputc('\n', f);
                }
        }

        if (fflush(f) != 0 || ferror(f))
                return -EIO;
        return 0;
}
