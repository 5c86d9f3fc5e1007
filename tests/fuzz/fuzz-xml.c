/* SPDX-License-Identifier: Apache-2.0 */
/* The XML reader under every AWS reply: parse, walk every node, read every
 * text as the typed readers would; and the writer escaping the input. */
#include <stdio.h>

#include "fuzz-util.h"
#include "xml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Strict UTF-8 that XML 1.0 accepts as characters: no overlong forms, no
 * surrogates, nothing above U+10FFFF, and not U+FFFE or U+FFFF. */
static bool utf8_valid(const char *s) {
        const unsigned char *p = (const unsigned char *) s;

        while (*p) {
                unsigned char lo = 0x80, hi = 0xbf;
                size_t n;

                if (*p < 0x80)
                        n = 1;
                else if (*p >= 0xc2 && *p <= 0xdf)
                        n = 2;
                else if (*p >= 0xe0 && *p <= 0xef) {
                        n = 3;
                        if (*p == 0xe0)
                                lo = 0xa0;
                        else if (*p == 0xed)
                                hi = 0x9f;
                } else if (*p >= 0xf0 && *p <= 0xf4) {
                        n = 4;
                        if (*p == 0xf0)
                                lo = 0x90;
                        else if (*p == 0xf4)
                                hi = 0x8f;
                } else
                        return false;
                if (n > 1 && (p[1] < lo || p[1] > hi))
                        return false;
                for (size_t i = 2; i < n; i++)
                        if ((p[i] & 0xc0) != 0x80)
                                return false;
                if (n == 3 && p[0] == 0xef && p[1] == 0xbf && (p[2] == 0xbe || p[2] == 0xbf))
                        return false;
                p += n;
        }
        return true;
}

static void walk(const XmlNode *n, unsigned depth) {
        bool b;
        uint64_t u;

        if (depth > XML_DEPTH_MAX + 1)
                abort();
        for (; n; n = n->next) {
                if (!n->name || !n->text || strlen(n->text) > n->text_size)
                        abort();
                (void) xml_text_bool(n, &b);
                (void) xml_text_uint64(n, &u);
                (void) xml_next_named(n);
                (void) xml_count(n, "item");
                (void) xml_path_text(n, "item/key");
                walk(n->children, depth + 1);
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_(xml_doc_freep) XmlDoc *doc = NULL;
        _cleanup_free_ char *text = NULL, *out = NULL;
        XmlWriter w = {};
        size_t out_size;

        fuzz_setup_once();
        if (size > (size_t) 1024 * 1024)
                return -1;

        if (xml_parse((const char *) data, size, &doc) >= 0)
                walk(xml_doc_root(doc), 0);

        /* What the writer escapes must parse back to the same text. */
        text = fuzz_string(data, size);
        xml_writer_open(&w, "Comment");
        xml_writer_escaped(&w, text);
        xml_writer_close(&w, "Comment");
        if (xml_writer_finish(&w, &out, &out_size) >= 0) {
                _cleanup_(xml_doc_freep) XmlDoc *back = NULL;

                if (xml_parse(out, out_size, &back) < 0 || !streq(xml_text(xml_doc_root(back)), text)) {
                        /* XML normalises CR to LF, and the writer does not
                         * promise UTF-8 of what it was not given as such;
                         * everything else comes back. */
                        if (!strchr(text, '\r') && utf8_valid(text)) {
                                fprintf(stderr, "escaped text does not read back: %s\n", out);
                                abort();
                        }
                }
        }
        xml_writer_done(&w);
        return 0;
}
