/* SPDX-License-Identifier: Apache-2.0 */
/* The pure parsers of what IMDS sends as JSON: the role credentials, the
 * instance identity document, and their timestamps. */
#include <ctype.h>
#include <limits.h>
#include <stddef.h>
#include <time.h>

#include <json-c/json.h>

#include "imds.h"
#include "log.h"

static void json_object_putp(struct json_object **o) {
        if (*o)
                json_object_put(*o);
}

/* Parses a whole reply as one JSON object: trailing bytes other than blanks
 * mean the reply is not what IMDS sends. */
static int json_parse_object(const char *s, size_t size, struct json_object **ret) {
        _cleanup_(json_object_putp) struct json_object *o = NULL;
        struct json_tokener *tok;
        enum json_tokener_error error;
        size_t end;

        if (!s || size > INT_MAX || strlen(s) != size)
                return -EBADMSG;

        tok = json_tokener_new();
        if (!tok)
                return -ENOMEM;
        /* Strict: IMDS sends plain JSON, so anything json-c would merely
         * tolerate is a reply that is not from IMDS. */
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
        o = json_tokener_parse_ex(tok, s, (int) size);
        error = json_tokener_get_error(tok);
        end = json_tokener_get_parse_end(tok);
        json_tokener_free(tok);

        if (!o || error != json_tokener_success)
                return -EBADMSG;
        for (; end < size; end++)
                if (!isspace((unsigned char) s[end]))
                        return -EBADMSG;
        if (!json_object_is_type(o, json_type_object))
                return -EBADMSG;

        *ret = TAKE_PTR(o);
        return 0;
}

/* A required, non-empty string member. */
static int json_get_string(struct json_object *o, const char *key, const char **ret) {
        struct json_object *v;
        const char *s;

        if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
                return log_debug_errno(EBADMSG, "imds: \"%s\" is missing or not a string.", key);
        s = json_object_get_string(v);
        if (isempty(s) || strlen(s) != (size_t) json_object_get_string_len(v))
                return log_debug_errno(EBADMSG, "imds: \"%s\" is empty or holds a NUL.", key);
        *ret = s;
        return 0;
}

int imds_parse_timestamp(const char *s, usec_t *ret) {
        static const char shape[] = "dddd-dd-ddTdd:dd:ddZ";
        struct tm tm = {}, parsed;
        const char *end;
        time_t t;

        if (!s || !ret || strlen(s) != strlen(shape))
                return -EBADMSG;
        /* strptime() alone would take blanks, fewer digits and signs. */
        for (size_t i = 0; shape[i]; i++)
                if (shape[i] == 'd' ? !isdigit((unsigned char) s[i]) : s[i] != shape[i])
                        return -EBADMSG;

        end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm);
        if (!end || *end != '\0')
                return -EBADMSG;

        parsed = tm;
        t = timegm(&tm);
        if (t == (time_t) -1 || t < 0)
                return -EBADMSG;
        /* timegm() turns February 30 into March 2; a date that does not
         * survive the round trip was not a date. */
        if (tm.tm_year != parsed.tm_year || tm.tm_mon != parsed.tm_mon || tm.tm_mday != parsed.tm_mday ||
            tm.tm_hour != parsed.tm_hour || tm.tm_min != parsed.tm_min || tm.tm_sec != parsed.tm_sec)
                return -EBADMSG;
        if ((uint64_t) t > (USEC_INFINITY - 1) / USEC_PER_SEC)
                return -EBADMSG;

        *ret = (usec_t) t * USEC_PER_SEC;
        return 0;
}

int imds_parse_credentials(const char *json, size_t size, AwsCredentials *ret) {
        _cleanup_(json_object_putp) struct json_object *o = NULL;
        _cleanup_(aws_credentials_done) AwsCredentials c = {};
        const char *code, *key_id, *secret, *token, *expiration;
        int r;

        if (!ret)
                return -EINVAL;

        r = json_parse_object(json, size, &o);
        if (r < 0)
                return log_debug_errno(r, "imds: the role credentials are not a JSON object.");

        r = json_get_string(o, "Code", &code);
        if (r < 0)
                return r;
        if (!streq(code, "Success")) {
                struct json_object *m;
                const char *message = NULL;

                if (json_object_object_get_ex(o, "Message", &m) && json_object_is_type(m, json_type_string))
                        message = json_object_get_string(m);
                return log_debug_errno(EACCES, "imds: the role credentials are not available: %s%s%s",
                                       code, message ? ": " : "", strempty(message));
        }

        r = json_get_string(o, "AccessKeyId", &key_id);
        if (r < 0)
                return r;
        r = json_get_string(o, "SecretAccessKey", &secret);
        if (r < 0)
                return r;
        r = json_get_string(o, "Token", &token);
        if (r < 0)
                return r;
        r = json_get_string(o, "Expiration", &expiration);
        if (r < 0)
                return r;

        r = imds_parse_timestamp(expiration, &c.expiration);
        if (r < 0)
                return log_debug_errno(r, "imds: Expiration \"%s\" is not a UTC timestamp.", expiration);

        c.access_key_id = strdup(key_id);
        c.secret_access_key = strdup(secret);
        c.session_token = strdup(token);
        if (!c.access_key_id || !c.secret_access_key || !c.session_token)
                return -ENOMEM;

        *ret = c;
        c = (AwsCredentials) {};
        return 0;
}

void imds_identity_done(ImdsIdentity *identity) {
        if (!identity)
                return;
        free(identity->account_id);
        free(identity->instance_id);
        free(identity->region);
        free(identity->availability_zone);
        free(identity->private_ip);
        *identity = (ImdsIdentity) {};
}

int imds_parse_identity(const char *json, size_t size, ImdsIdentity *ret) {
        _cleanup_(json_object_putp) struct json_object *o = NULL;
        _cleanup_(imds_identity_done) ImdsIdentity id = {};
        static const struct {
                const char *key;
                size_t offset;
        } fields[] = {
                { "accountId",        offsetof(ImdsIdentity, account_id) },
                { "instanceId",       offsetof(ImdsIdentity, instance_id) },
                { "region",           offsetof(ImdsIdentity, region) },
                { "availabilityZone", offsetof(ImdsIdentity, availability_zone) },
                { "privateIp",        offsetof(ImdsIdentity, private_ip) },
        };
        int r;

        if (!ret)
                return -EINVAL;

        r = json_parse_object(json, size, &o);
        if (r < 0)
                return log_debug_errno(r, "imds: the identity document is not a JSON object.");

        for (size_t i = 0; i < ELEMENTSOF(fields); i++) {
                char **field = (char **) ((uint8_t *) &id + fields[i].offset);
                const char *v;

                r = json_get_string(o, fields[i].key, &v);
                if (r < 0)
                        return r; /* NOLINT(clang-analyzer-unix.Malloc): what the loop strdup()s into id is freed by id's _cleanup_, which clang 14 does not run. */
                *field = strdup(v);
                if (!*field)
                        return -ENOMEM;
        }

        *ret = id;
        id = (ImdsIdentity) {};
        return 0;
}
