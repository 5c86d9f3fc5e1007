/* SPDX-License-Identifier: Apache-2.0 */
#include <expat.h>
#include <limits.h>

#include "log.h"
#include "xml.h"

/* Expat hands element names as "uri<sep>local" when namespace processing is
 * on. A newline cannot appear in a namespace name that anyone would use, so
 * it is a safe separator. */
#define XML_NS_SEPARATOR '\n'

typedef struct XmlParseState {
        XML_Parser parser;
        XmlDoc *doc;
        XmlNode *current;       /* the innermost open element */
        unsigned depth;
        int error;
} XmlParseState;

static void xml_node_free(XmlNode *n) {
        /* Iterative, so that a deep tree cannot exhaust the stack: children
         * are spliced into the sibling chain before their parent goes. */
        while (n) {
                XmlNode *next;

                if (n->children) {
                        n->last_child->next = n->next;
                        n->next = n->children;
                        n->children = n->last_child = NULL;
                }
                next = n->next;
                free(n->name);
                free(n->text);
                free(n);
                n = next;
        }
}

XmlDoc *xml_doc_free(XmlDoc *doc) {
        if (!doc)
                return NULL;
        xml_node_free(doc->root);
        free(doc);
        return NULL;
}

static void xml_fail(XmlParseState *s, int error) {
        if (s->error == 0)
                s->error = error;
        (void) XML_StopParser(s->parser, XML_FALSE);
}

static void on_start(void *userdata, const XML_Char *name, const XML_Char **attrs) {
        XmlParseState *s = userdata;
        const char *local;
        XmlNode *n;

        if (s->error != 0)
                return;
        if (s->depth >= XML_DEPTH_MAX || s->doc->n_nodes >= XML_NODES_MAX) {
                log_debug("XML reply nests too deep or has too many elements, refusing.");
                return xml_fail(s, -EBADMSG);
        }

        local = strrchr(name, XML_NS_SEPARATOR);
        local = local ? local + 1 : name;

        n = calloc(1, sizeof(XmlNode));
        if (!n)
                return xml_fail(s, -ENOMEM);
        n->name = strdup(local);
        n->text = strdup("");
        n->text_allocated = 1;
        if (!n->name || !n->text) {
                xml_node_free(n);
                return xml_fail(s, -ENOMEM);
        }

        n->parent = s->current;
        if (s->current) {
                if (s->current->last_child)
                        s->current->last_child->next = n;
                else
                        s->current->children = n;
                s->current->last_child = n;
        } else
                /* Expat reports a second root element as an error itself. */
                s->doc->root = n;

        s->current = n;
        s->depth++;
        s->doc->n_nodes++;
}

static void on_end(void *userdata, const XML_Char *name) {
        XmlParseState *s = userdata;

        if (s->error != 0 || !s->current)
                return;
        s->current = s->current->parent;
        s->depth--;
}

static void on_text(void *userdata, const XML_Char *data, int len) {
        XmlParseState *s = userdata;
        XmlNode *n = s->current;
        char *t;

        if (s->error != 0 || !n || len <= 0)
                return;

        /* The whole document is at most XML_SIZE_MAX, so the text of one
         * element cannot overflow size_t. Expat hands text in pieces (one
         * per line and per entity), hence the doubling. */
        if (n->text_size + (size_t) len + 1 > n->text_allocated) {
                size_t want = MAX(n->text_size + (size_t) len + 1, n->text_allocated * 2);

                t = realloc(n->text, want);
                if (!t)
                        return xml_fail(s, -ENOMEM);
                n->text = t;
                n->text_allocated = want;
        }
        memcpy(n->text + n->text_size, data, (size_t) len);
        n->text_size += (size_t) len;
        n->text[n->text_size] = '\0';
}

static void on_doctype(void *userdata, const XML_Char *name, const XML_Char *sysid,
                       const XML_Char *pubid, int has_internal_subset) {
        XmlParseState *s = userdata;

        /* No AWS reply has a DOCTYPE; refusing it removes entity expansion
         * (and with it every entity-based attack) altogether. */
        log_debug("XML reply has a DOCTYPE, refusing.");
        xml_fail(s, -EBADMSG);
}

int xml_parse(const char *data, size_t size, XmlDoc **ret) {
        _cleanup_(xml_doc_freep) XmlDoc *doc = NULL;
        XmlParseState s = {};
        enum XML_Status status;

        if (!data && size > 0)
                return -EINVAL;
        if (size > XML_SIZE_MAX)
                return -EMSGSIZE;
        /* Expat takes an int length. */
        if (size > INT_MAX)
                return -EMSGSIZE;

        doc = calloc(1, sizeof(XmlDoc));
        if (!doc)
                return -ENOMEM;

        s.parser = XML_ParserCreateNS(NULL, XML_NS_SEPARATOR);
        if (!s.parser)
                return -ENOMEM;
        s.doc = doc;
        XML_SetUserData(s.parser, &s);
        XML_SetElementHandler(s.parser, on_start, on_end);
        XML_SetCharacterDataHandler(s.parser, on_text);
        XML_SetStartDoctypeDeclHandler(s.parser, on_doctype);

        status = XML_Parse(s.parser, data ?: "", (int) size, XML_TRUE);
        if (status != XML_STATUS_OK && s.error == 0) {
                log_debug("Malformed XML reply at line %lu, column %lu: %s",
                          (unsigned long) XML_GetCurrentLineNumber(s.parser),
                          (unsigned long) XML_GetCurrentColumnNumber(s.parser),
                          XML_ErrorString(XML_GetErrorCode(s.parser)));
                s.error = -EBADMSG;
        }
        XML_ParserFree(s.parser);

        if (s.error != 0)
                return s.error;
        if (!doc->root)
                return -EBADMSG;

        *ret = TAKE_PTR(doc);
        return 0;
}

const XmlNode *xml_doc_root(const XmlDoc *doc) {
        return doc ? doc->root : NULL;
}

bool xml_name_is(const XmlNode *n, const char *name) {
        return n && name && streq(n->name, name);
}

const XmlNode *xml_child(const XmlNode *n, const char *name) {
        if (!n || !name)
                return NULL;
        for (const XmlNode *c = n->children; c; c = c->next)
                if (streq(c->name, name))
                        return c;
        return NULL;
}

const XmlNode *xml_next_named(const XmlNode *n) {
        if (!n)
                return NULL;
        for (const XmlNode *c = n->next; c; c = c->next)
                if (streq(c->name, n->name))
                        return c;
        return NULL;
}

const XmlNode *xml_path(const XmlNode *n, const char *path) {
        const char *p = path;

        if (!path)
                return NULL;

        while (n && *p != '\0') {
                const char *slash = strchr(p, '/');
                size_t len = slash ? (size_t) (slash - p) : strlen(p);
                const XmlNode *found = NULL;

                if (len == 0)
                        return NULL;
                for (const XmlNode *c = n->children; c; c = c->next)
                        if (strlen(c->name) == len && strncmp(c->name, p, len) == 0) {
                                found = c;
                                break;
                        }
                n = found;
                p += len;
                if (*p == '/')
                        p++;
        }
        return n;
}

const char *xml_text(const XmlNode *n) {
        return n ? n->text : NULL;
}

const char *xml_path_text(const XmlNode *n, const char *path) {
        return xml_text(xml_path(n, path));
}

size_t xml_count(const XmlNode *n, const char *name) {
        size_t k = 0;

        XML_FOREACH(i, n, name)
                k++;
        return k;
}

int xml_text_bool(const XmlNode *n, bool *ret) {
        if (!n)
                return -ENOENT;
        if (streq(n->text, "true"))
                *ret = true;
        else if (streq(n->text, "false"))
                *ret = false;
        else
                return -EBADMSG;
        return 0;
}

int xml_text_uint64(const XmlNode *n, uint64_t *ret) {
        uint64_t v = 0;

        if (!n)
                return -ENOENT;
        if (n->text[0] == '\0')
                return -EBADMSG;

        /* By hand rather than strtoull: no sign, no blanks, no base prefix
         * and an exact overflow check. */
        for (const char *p = n->text; *p != '\0'; p++) {
                unsigned d;

                if (*p < '0' || *p > '9')
                        return -EBADMSG;
                d = (unsigned) (*p - '0');
                if (v > (UINT64_MAX - d) / 10)
                        return -ERANGE;
                v = v * 10 + d;
        }
        *ret = v;
        return 0;
}

void xml_writer_done(XmlWriter *w) {
        if (!w)
                return;
        w->buf = mfree(w->buf);
        w->size = w->allocated = 0;
}

static void xml_writer_append(XmlWriter *w, const char *s, size_t len) {
        if (w->error != 0)
                return;

        /* Room for len bytes and the NUL, asked so that it cannot wrap
         * around (w->size + len + 1 could, and then nothing would be
         * allocated). Without a buffer, allocated is 0 and this holds
         * anyway; said explicitly for the analyzer. */
        if (!w->buf || len >= w->allocated - w->size) {
                size_t want;
                char *b;

                if (len > SIZE_MAX / 2 - w->size) {
                        w->error = -ENOMEM;
                        return;
                }
                want = MAX(w->size + len + 1, MAX(w->allocated * 2, (size_t) 256));

                b = realloc(w->buf, want);
                if (!b) {
                        w->error = -ENOMEM;
                        return;
                }
                w->buf = b;
                w->allocated = want;
        }
        memcpy(w->buf + w->size, s, len);
        w->size += len;
        w->buf[w->size] = '\0';
}

void xml_writer_raw(XmlWriter *w, const char *s) {
        xml_writer_append(w, s, strlen(s));
}

void xml_writer_escaped(XmlWriter *w, const char *s) {
        const char *run = s;

        for (const char *p = s;; p++) {
                const char *entity;

                switch (*p) {
                case '&':
                        entity = "&amp;";
                        break;
                case '<':
                        entity = "&lt;";
                        break;
                case '>':
                        entity = "&gt;";
                        break;
                case '\'':
                        entity = "&apos;";
                        break;
                case '"':
                        entity = "&quot;";
                        break;
                case '\0':
                        xml_writer_append(w, run, (size_t) (p - run));
                        return;
                default:
                        /* XML 1.0 cannot carry these at all, not even as
                         * character references. */
                        if ((unsigned char) *p < 0x20 && *p != '\t' && *p != '\n' && *p != '\r') {
                                if (w->error == 0)
                                        w->error = -EINVAL;
                                return;
                        }
                        continue;
                }
                xml_writer_append(w, run, (size_t) (p - run));
                xml_writer_raw(w, entity);
                run = p + 1;
        }
}

void xml_writer_open(XmlWriter *w, const char *name) {
        xml_writer_raw(w, "<");
        xml_writer_raw(w, name);
        xml_writer_raw(w, ">");
}

void xml_writer_close(XmlWriter *w, const char *name) {
        xml_writer_raw(w, "</");
        xml_writer_raw(w, name);
        xml_writer_raw(w, ">");
}

void xml_writer_element(XmlWriter *w, const char *name, const char *text) {
        xml_writer_open(w, name);
        xml_writer_escaped(w, text);
        xml_writer_close(w, name);
}

int xml_writer_finish(XmlWriter *w, char **ret, size_t *ret_size) {
        if (w->error != 0)
                return w->error;
        if (!w->buf) {
                /* Nothing written: still hand out a valid empty string. */
                xml_writer_append(w, "", 0);
                if (w->error != 0)
                        return w->error;
        }
        *ret = TAKE_PTR(w->buf);
        if (ret_size)
                *ret_size = w->size;
        w->size = w->allocated = 0;
        return 0;
}
