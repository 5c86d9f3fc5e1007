/* SPDX-License-Identifier: Apache-2.0 */
/* The AWS JSON protocol's bodies, with json-c: see aws-json.h. */
#include <ctype.h>
#include <limits.h>
#include <string.h>

#include <json-c/json.h>

#include "aws-json.h"
#include "log.h"

struct JsonDoc {
        struct json_object *root;
};

JsonDoc *json_doc_free(JsonDoc *doc) {
        if (!doc)
                return NULL;
        if (doc->root)
                json_object_put(doc->root);
        free(doc);
        return NULL;
}

static void json_object_putp(struct json_object **o) {
        if (*o)
                json_object_put(*o);
}

static bool all_blank(const char *s, size_t size) {
        for (size_t i = 0; i < size; i++)
                if (!isspace((unsigned char) s[i]))
                        return false;
        return true;
}

int json_doc_parse(const char *data, size_t size, JsonDoc **ret) {
        _cleanup_(json_object_putp) struct json_object *o = NULL;
        struct json_tokener *tok;
        enum json_tokener_error error;
        size_t end;
        JsonDoc *doc;

        if (!ret || (!data && size > 0))
                return -EINVAL;
        if (size > JSON_DOC_SIZE_MAX)
                return -EMSGSIZE;
        /* A NUL inside would end json-c's reading early and hide the rest. */
        if (size > 0 && memchr(data, '\0', size))
                return -EBADMSG;

        if (size == 0 || all_blank(data, size)) {
                o = json_object_new_object();
                if (!o)
                        return -ENOMEM;
        } else {
                tok = json_tokener_new();
                if (!tok)
                        return -ENOMEM;
                /* Strict: AWS sends plain JSON; what json-c would merely
                 * tolerate (comments, single quotes) is not an AWS reply. */
                json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
                o = json_tokener_parse_ex(tok, data, (int) size);
                error = json_tokener_get_error(tok);
                end = json_tokener_get_parse_end(tok);
                json_tokener_free(tok);
                if (!o || error != json_tokener_success || !all_blank(data + end, size - end))
                        return -EBADMSG;
                if (!json_object_is_type(o, json_type_object))
                        return -EBADMSG;
        }

        doc = calloc(1, sizeof(JsonDoc));
        if (!doc)
                return -ENOMEM;
        doc->root = TAKE_PTR(o);
        *ret = doc;
        return 0;
}

/* The value at path ("a/b/c"): each step a member of an object. NULL when a
 * step is missing or not an object, and for a JSON null. */
static struct json_object *lookup(const JsonDoc *doc, const char *path) {
        struct json_object *o;

        if (!doc || !path)
                return NULL;
        o = doc->root;
        for (const char *p = path; o;) {
                const char *slash = strchr(p, '/');
                size_t len = slash ? (size_t) (slash - p) : strlen(p);
                _cleanup_free_ char *name = strndup(p, len);
                struct json_object *next = NULL;

                if (!name || !json_object_is_type(o, json_type_object) ||
                    !json_object_object_get_ex(o, name, &next))
                        return NULL;
                o = next;
                if (!slash)
                        return o;
                p = slash + 1;
        }
        return NULL;
}

const char *json_doc_string(const JsonDoc *doc, const char *path) {
        struct json_object *o = lookup(doc, path);
        const char *s;

        if (!o || !json_object_is_type(o, json_type_string))
                return NULL;
        s = json_object_get_string(o);
        if (!s || strlen(s) != (size_t) json_object_get_string_len(o))
                return NULL;
        return s;
}

int json_doc_bool(const JsonDoc *doc, const char *path, bool *ret) {
        struct json_object *o = lookup(doc, path);

        if (!o)
                return -ENOENT;
        if (!json_object_is_type(o, json_type_boolean))
                return -EBADMSG;
        *ret = json_object_get_boolean(o);
        return 0;
}

int json_doc_number(const JsonDoc *doc, const char *path, double *ret) {
        struct json_object *o = lookup(doc, path);

        if (!o)
                return -ENOENT;
        if (!json_object_is_type(o, json_type_double) && !json_object_is_type(o, json_type_int))
                return -EBADMSG;
        *ret = json_object_get_double(o);
        return 0;
}

int json_encode_string_members(const AwsParams *members, char **ret) {
        _cleanup_(json_object_putp) struct json_object *o = NULL;
        const char *s;
        char *copy;

        if (!ret)
                return -EINVAL;
        o = json_object_new_object();
        if (!o)
                return -ENOMEM;
        for (size_t i = 0; members && i < members->n; i++) {
                struct json_object *v = json_object_new_string(members->items[i].value);

                if (!v)
                        return -ENOMEM;
                /* json-c takes ownership of v, also when adding fails. */
                if (json_object_object_add(o, members->items[i].name, v) < 0)
                        return -ENOMEM;
        }

        /* Plain: no blanks, and "/" left as it is (json-c escapes it by
         * default, which is valid JSON but not what the SDKs send). */
        s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
        if (!s)
                return -ENOMEM;
        copy = strdup(s);
        if (!copy)
                return -ENOMEM;
        *ret = copy;
        return 0;
}

/* "prefix#Code" or "Code:detail" (the header's form) to "Code". */
static int error_code_from(const char *s, const char *stop, char **ret) {
        const char *start, *end;

        if (isempty(s)) {
                *ret = NULL;
                return 0;
        }
        start = strrchr(s, '#');
        start = start ? start + 1 : s;
        end = stop ? strpbrk(start, stop) : NULL;
        if (!end)
                end = start + strlen(start);
        if (end == start) {
                *ret = NULL;
                return 0;
        }
        *ret = strndup(start, (size_t) (end - start));
        return *ret ? 0 : -ENOMEM;
}

int aws_json_error_parse(long http_status, const char *body, size_t body_size, const char *error_type_header,
                         AwsError *ret) {
        _cleanup_(json_doc_freep) JsonDoc *doc = NULL;
        _cleanup_free_ char *code = NULL, *message = NULL;
        const char *m = NULL;
        int r;

        if (!ret)
                return -EINVAL;

        r = json_doc_parse(body, body_size, &doc);
        if (r == -ENOMEM)
                return r;
        if (r >= 0) {
                r = error_code_from(json_doc_string(doc, "__type"), NULL, &code);
                if (r < 0)
                        return r;
                /* The services differ in the member's case; botocore reads both. */
                m = json_doc_string(doc, "message") ?: json_doc_string(doc, "Message");
        }
        if (!code) {
                r = error_code_from(error_type_header, ":", &code);
                if (r < 0)
                        return r;
        }
        if (!doc && !code)
                return -EBADMSG;
        if (m) {
                message = strdup(m);
                if (!message)
                        return -ENOMEM;
        }

        aws_error_done(ret);
        ret->http_status = http_status;
        ret->code = TAKE_PTR(code);
        ret->message = TAKE_PTR(message);
        return 0;
}
