/* SPDX-License-Identifier: Apache-2.0 */
/* The values of the configuration: enums, ids, names, paths, tags,
 * booleans, checked and brought to the form that is stored. */
#include <ctype.h>
#include <limits.h>
#include <strings.h>

#include "config-internal.h"

/* How much of a bad value an error message repeats. */
#define MESSAGE_VALUE_MAX 200U

/* ---- Enum tables ---- */

int enum_from_string(const EnumTable *t, const char *s) {
        if (!s)
                return -EINVAL;
        for (size_t i = 0; i < t->n; i++)
                if (t->names[i] && streq(t->names[i], s))
                        return (int) i;
        return -EINVAL;
}

const char *enum_to_string(const EnumTable *t, int i) {
        if (i < 0 || (size_t) i >= t->n)
                return NULL;
        return t->names[i];
}

#define DEFINE_ENUM_TABLE(name, type, max, expected_text, ...)                  \
        static const char * const name##_names[max] = { __VA_ARGS__ };          \
        const EnumTable name##_table = {                                        \
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
                  "not a take-over policy (wait, force-detach-dead or handover)",
                  [TAKE_OVER_WAIT] = "wait",
                  [TAKE_OVER_FORCE_DETACH_DEAD] = "force-detach-dead",
                  [TAKE_OVER_HANDOVER] = "handover");

DEFINE_ENUM_TABLE(stripe_mode, StripeMode, _STRIPE_MAX,
                  "not a stripe mode (none or raid0)",
                  [STRIPE_NONE] = "none",
                  [STRIPE_RAID0] = "raid0");

DEFINE_ENUM_TABLE(volume_restore, VolumeRestore, _VOLUME_RESTORE_MAX,
                  "not a restore policy (no, snapshot, snapshot-or-blank or blank)",
                  [VOLUME_RESTORE_NO] = "no",
                  [VOLUME_RESTORE_SNAPSHOT] = "snapshot",
                  [VOLUME_RESTORE_SNAPSHOT_OR_BLANK] = "snapshot-or-blank",
                  [VOLUME_RESTORE_BLANK] = "blank");

DEFINE_ENUM_TABLE(volume_type, VolumeType, _VOLUME_TYPE_MAX,
                  "not an EBS volume type (gp3, gp2, io1, io2, st1, sc1 or standard)",
                  [VOLUME_TYPE_GP3] = "gp3",
                  [VOLUME_TYPE_GP2] = "gp2",
                  [VOLUME_TYPE_IO1] = "io1",
                  [VOLUME_TYPE_IO2] = "io2",
                  [VOLUME_TYPE_ST1] = "st1",
                  [VOLUME_TYPE_SC1] = "sc1",
                  [VOLUME_TYPE_STANDARD] = "standard");

DEFINE_ENUM_TABLE(interface_restore, InterfaceRestore, _INTERFACE_RESTORE_MAX,
                  "not a restore policy for an interface (no or create)",
                  [INTERFACE_RESTORE_NO] = "no",
                  [INTERFACE_RESTORE_CREATE] = "create");

DEFINE_ENUM_TABLE(unpublish_on_stop, UnpublishOnStop, _UNPUBLISH_ON_STOP_MAX,
                  "not an unpublish policy (no or terminating)",
                  [UNPUBLISH_ON_STOP_NO] = "no",
                  [UNPUBLISH_ON_STOP_TERMINATING] = "terminating");

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
_Static_assert(sizeof(StripeMode) == sizeof(int), "enum size");
_Static_assert(sizeof(VolumeRestore) == sizeof(int), "enum size");
_Static_assert(sizeof(VolumeType) == sizeof(int), "enum size");
_Static_assert(sizeof(InterfaceRestore) == sizeof(int), "enum size");
_Static_assert(sizeof(UnpublishOnStop) == sizeof(int), "enum size");
_Static_assert(sizeof(RoutingMode) == sizeof(int), "enum size");
_Static_assert(sizeof(DnsMode) == sizeof(int), "enum size");

/* ---- Character and string helpers ---- */

char *strstrip(char *s) {
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

bool has_control_chars(const char *s) {
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

bool utf8_is_valid(const char *s) {
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
char *escape_for_message(const char *s) {
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
int parse_uint64_strict(const char *s, uint64_t *ret) {
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

/* ---- Values ---- */

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

bool volume_section_name_is_valid(const char *s) {
        size_t n;

        if (!s)
                return false;
        /* It becomes part of the md array's name, of state file keys
         * (upper-cased, - as _) and of log lines: this set is safe in all. */
        n = strlen(s);
        if (n < 1 || n > 32)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
                        return false;
        return true;
}

int normalize_volume_id(const char *value, char **ret, const char **ret_reason) {
        if (!volume_id_is_valid(value)) {
                *ret_reason = "not an EBS volume id (vol- and 8 or 17 lowercase hex digits)";
                return -EINVAL;
        }
        return normalize_copy(value, ret);
}

int normalize_eni_id(const char *value, char **ret, const char **ret_reason) {
        if (!eni_id_is_valid(value)) {
                *ret_reason = "not a network interface id (eni- and 8 or 17 lowercase hex digits)";
                return -EINVAL;
        }
        return normalize_copy(value, ret);
}

int normalize_node_name(const char *value, char **ret, const char **ret_reason) {
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

int normalize_device(const char *value, char **ret, const char **ret_reason) {
        const char *p;
        bool ok = false;

        /* "auto": the first free name from /dev/sdf to /dev/sdp, picked at
         * attach time (devname.h). */
        if (streq(value, "auto"))
                return normalize_copy(value, ret);

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
                *ret_reason = "not a device name for AttachVolume (auto, /dev/sd[b-z], /dev/xvd[b-z] or /dev/xvd[b-c][a-z])";
                return -EINVAL;
        }
        return normalize_copy(value, ret);
}

int normalize_mount_point(const char *value, char **ret, const char **ret_reason) {
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

int normalize_mount_options(const char *value, char **ret, const char **ret_reason) {
        /* A space here is a typo ("noatime, nodev") that mount would only
         * refuse at boot; options are separated by commas alone. */
        if (value[strcspn(value, " \t")] != '\0') {
                *ret_reason = "mount options contain whitespace (separate them with commas alone)";
                return -EINVAL;
        }
        return normalize_copy(value, ret);
}

int normalize_hosted_zone_id(const char *value, char **ret, const char **ret_reason) {
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

int normalize_dns_name(const char *value, char **ret, const char **ret_reason) {
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

int normalize_stack(const char *value, char **ret, const char **ret_reason) {
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

int normalize_logical_id(const char *value, char **ret, const char **ret_reason) {
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

int normalize_hook_name(const char *value, char **ret, const char **ret_reason) {
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

int parse_tag(const char *value, ConfigTag *ret, const char **ret_reason) {
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

int parse_boolean(const char *value, bool *ret) {
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
