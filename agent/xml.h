/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The only user of expat. A reply is parsed into a small tree of elements:
 * each has its local name (any namespace is dropped: AWS replies put
 * everything in one default namespace, and the names alone identify the
 * model's members), the character data directly inside it, and its children
 * in document order. Attributes are not kept; no AWS reply this agent reads
 * carries information in them.
 *
 * The parser refuses what an AWS reply never contains and what could make a
 * small document expensive: a DOCTYPE (and so every entity declaration),
 * documents larger than XML_SIZE_MAX, nesting deeper than XML_DEPTH_MAX and
 * more than XML_NODES_MAX elements. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "macro.h"

#define XML_SIZE_MAX ((size_t) 4 * 1024 * 1024)
#define XML_DEPTH_MAX 64U
#define XML_NODES_MAX ((size_t) 256 * 1024)

typedef struct XmlNode XmlNode;
struct XmlNode {
        char *name;             /* local name, without namespace */
        char *text;             /* character data directly inside; never NULL, "" when none */
        size_t text_size;
        size_t text_allocated;
        XmlNode *parent;
        XmlNode *children;      /* first child */
        XmlNode *last_child;
        XmlNode *next;          /* next sibling */
};

typedef struct XmlDoc {
        XmlNode *root;
        size_t n_nodes;
} XmlDoc;

/* Parses a whole document. -EBADMSG when it is not well-formed XML (that
 * includes an empty or truncated one), has a DOCTYPE, or exceeds the depth or
 * element caps; -EMSGSIZE when it is larger than XML_SIZE_MAX; -ENOMEM. */
int xml_parse(const char *data, size_t size, XmlDoc **ret);

XmlDoc *xml_doc_free(XmlDoc *doc);
DEFINE_TRIVIAL_CLEANUP_FUNC(XmlDoc *, xml_doc_free);

/* Every lookup accepts NULL and then returns NULL, so that paths chain
 * without a check at each step. */
const XmlNode *xml_doc_root(const XmlDoc *doc);
bool xml_name_is(const XmlNode *n, const char *name);

/* The first child named name. */
const XmlNode *xml_child(const XmlNode *n, const char *name);

/* The next sibling with the same name as n: with xml_child(), the way to walk
 * a list such as volumeSet's items. */
const XmlNode *xml_next_named(const XmlNode *n);

/* Follows "a/b/c", taking the first child of each name. */
const XmlNode *xml_path(const XmlNode *n, const char *path);

/* The node's text; NULL when n is NULL. */
const char *xml_text(const XmlNode *n);

/* The text at path below n; NULL when there is no such element. */
const char *xml_path_text(const XmlNode *n, const char *path);

/* Children named name. */
size_t xml_count(const XmlNode *n, const char *name);

/* Typed text, as the AWS models encode it: booleans "true"/"false" and
 * decimal integers without sign or blanks. -ENOENT when n is NULL, -EBADMSG
 * when the text is anything else (-ERANGE when it overflows); ret is
 * untouched on failure. */
int xml_text_bool(const XmlNode *n, bool *ret);
int xml_text_uint64(const XmlNode *n, uint64_t *ret);

/* i names the loop variable, which cannot be put in parentheses: hence
 * the NOLINT. */
#define XML_FOREACH(i, parent, name) \
        for (const XmlNode *i = xml_child((parent), (name)); i; i = xml_next_named(i)) /* NOLINT(bugprone-macro-parentheses) */

/* A tiny writer for request bodies (Route 53): building XML by hand is fine
 * as long as every piece of text goes through the escaping below. */
typedef struct XmlWriter {
        char *buf;
        size_t size;
        size_t allocated;
        int error;              /* the first failure; later calls do nothing */
} XmlWriter;

void xml_writer_done(XmlWriter *w);

/* Appends s as is (markup the caller wrote). */
void xml_writer_raw(XmlWriter *w, const char *s);

/* Appends s with &, <, >, ' and " escaped. Control characters other than
 * tab, newline and carriage return fail the writer with -EINVAL: XML 1.0
 * cannot carry them. */
void xml_writer_escaped(XmlWriter *w, const char *s);

/* Appends <name>escaped text</name>; name is written as is. */
void xml_writer_element(XmlWriter *w, const char *name, const char *text);

void xml_writer_open(XmlWriter *w, const char *name);
void xml_writer_close(XmlWriter *w, const char *name);

/* Hands over the document, or returns the first failure (-ENOMEM, -EINVAL). */
int xml_writer_finish(XmlWriter *w, char **ret, size_t *ret_size);
