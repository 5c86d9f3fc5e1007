/* SPDX-License-Identifier: Apache-2.0 */
#include <stdio.h>

#include "macro.h"
#include "tests.h"
#include "xml.h"

static int parse_str(const char *s, XmlDoc **ret) {
        return xml_parse(s, strlen(s), ret);
}

static void test_parse_tree(void) {
        _cleanup_(xml_doc_freep) XmlDoc *doc = NULL;
        const XmlNode *root, *set;
        size_t k = 0;

        ASSERT_OK(parse_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                            "<R xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\">\n"
                            "  <requestId>abc</requestId>\n"
                            "  <set><item><id>1</id></item><other/><item><id>2</id></item><item><id>3</id></item></set>\n"
                            "  <text>a &amp; b &lt;c&gt; &quot;d&quot; &apos;e&apos; &#x41;&#66;<![CDATA[<raw>&]]></text>\n"
                            "  <empty/>\n"
                            "</R>",
                            &doc));
        root = xml_doc_root(doc);
        ASSERT_NOT_NULL(root);
        ASSERT_STREQ(root->name, "R");
        ASSERT_STREQ(xml_path_text(root, "requestId"), "abc");
        ASSERT_STREQ(xml_path_text(root, "set/item/id"), "1");
        ASSERT_STREQ(xml_path_text(root, "text"), "a & b <c> \"d\" 'e' AB<raw>&");
        ASSERT_STREQ(xml_path_text(root, "empty"), "");
        ASSERT_NULL(xml_path_text(root, "missing"));
        ASSERT_NULL(xml_path_text(root, "set/missing/id"));
        ASSERT_NULL(xml_path(root, "set//item"));
        ASSERT_NULL(xml_path_text(NULL, "set"));

        set = xml_child(root, "set");
        ASSERT_EQ(xml_count(set, "item"), 3);
        ASSERT_EQ(xml_count(set, "other"), 1);
        XML_FOREACH(i, set, "item") {
                char expect[2] = { (char) ('1' + k), 0 };

                ASSERT_STREQ(xml_path_text(i, "id"), expect);
                k++;
        }
        ASSERT_EQ(k, 3);
        ASSERT_TRUE(xml_name_is(set, "set"));
        ASSERT_FALSE(xml_name_is(NULL, "set"));
        ASSERT_NULL(xml_child(NULL, "x"));
        ASSERT_NULL(xml_next_named(NULL));
}

static void test_parse_namespace_prefixes(void) {
        _cleanup_(xml_doc_freep) XmlDoc *doc = NULL;
        const XmlNode *root;

        /* A prefix, a default namespace and none at all: names are local. */
        ASSERT_OK(parse_str("<a:Root xmlns:a=\"urn:a\" xmlns=\"urn:b\"><Child>x</Child><a:Other>y</a:Other>"
                            "<plain xmlns=\"\">z</plain></a:Root>",
                            &doc));
        root = xml_doc_root(doc);
        ASSERT_STREQ(root->name, "Root");
        ASSERT_STREQ(xml_path_text(root, "Child"), "x");
        ASSERT_STREQ(xml_path_text(root, "Other"), "y");
        ASSERT_STREQ(xml_path_text(root, "plain"), "z");
}

static void test_parse_refuses(void) {
        XmlDoc *doc = NULL;

        ASSERT_EQ(parse_str("", &doc), -EBADMSG);
        ASSERT_EQ(parse_str("   ", &doc), -EBADMSG);
        ASSERT_EQ(parse_str("not xml", &doc), -EBADMSG);
        /* Truncated. */
        ASSERT_EQ(parse_str("<a><b>text</b>", &doc), -EBADMSG);
        ASSERT_EQ(parse_str("<a><b>te", &doc), -EBADMSG);
        /* Mismatched, two roots, garbage after the root. */
        ASSERT_EQ(parse_str("<a></b>", &doc), -EBADMSG);
        ASSERT_EQ(parse_str("<a/><b/>", &doc), -EBADMSG);
        ASSERT_EQ(parse_str("<a/>junk", &doc), -EBADMSG);
        /* Undeclared prefix and undefined entity. */
        ASSERT_EQ(parse_str("<x:a/>", &doc), -EBADMSG);
        ASSERT_EQ(parse_str("<a>&nope;</a>", &doc), -EBADMSG);
        /* A DOCTYPE, whether harmless or a billion laughs. */
        ASSERT_EQ(parse_str("<!DOCTYPE a><a/>", &doc), -EBADMSG);
        ASSERT_EQ(parse_str("<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\">"
                            "<!ENTITY lol2 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">]>"
                            "<lolz>&lol2;</lolz>",
                            &doc),
                  -EBADMSG);
        ASSERT_EQ(parse_str("<!DOCTYPE a SYSTEM \"file:///etc/passwd\"><a/>", &doc), -EBADMSG);
        ASSERT_EQ(xml_parse(NULL, 5, &doc), -EINVAL);
        ASSERT_NULL(doc);
}

static void test_parse_caps(void) {
        _cleanup_free_ char *deep = NULL, *big = NULL;
        _cleanup_(xml_doc_freep) XmlDoc *ok = NULL;
        XmlDoc *doc = NULL;
        size_t len = 0;

        /* XML_DEPTH_MAX levels parse, one more does not. */
        deep = malloc((XML_DEPTH_MAX + 1) * 7 + 1);
        ASSERT_NOT_NULL(deep);
        for (unsigned i = 0; i < XML_DEPTH_MAX; i++) {
                memcpy(deep + len, "<a>", 3);
                len += 3;
        }
        for (unsigned i = 0; i < XML_DEPTH_MAX; i++) {
                memcpy(deep + len, "</a>", 4);
                len += 4;
        }
        ASSERT_OK(xml_parse(deep, len, &ok));

        len = 0;
        for (unsigned i = 0; i <= XML_DEPTH_MAX; i++) {
                memcpy(deep + len, "<a>", 3);
                len += 3;
        }
        for (unsigned i = 0; i <= XML_DEPTH_MAX; i++) {
                memcpy(deep + len, "</a>", 4);
                len += 4;
        }
        ASSERT_EQ(xml_parse(deep, len, &doc), -EBADMSG);

        /* Larger than the cap is refused before parsing. */
        big = malloc(XML_SIZE_MAX + 1);
        ASSERT_NOT_NULL(big);
        memset(big, ' ', XML_SIZE_MAX + 1);
        memcpy(big, "<a>", 3);
        memcpy(big + XML_SIZE_MAX + 1 - 4, "</a>", 4);
        ASSERT_EQ(xml_parse(big, XML_SIZE_MAX + 1, &doc), -EMSGSIZE);

        /* Too many elements, each of them tiny. */
        free(big);
        big = malloc(3 + (XML_NODES_MAX + 1) * 4 + 4 + 1);
        ASSERT_NOT_NULL(big);
        memcpy(big, "<r>", 3);
        len = 3;
        for (unsigned i = 0; i < XML_NODES_MAX; i++) {
                memcpy(big + len, "<i/>", 4);
                len += 4;
        }
        memcpy(big + len, "</r>", 4);
        len += 4;
        ASSERT_EQ(xml_parse(big, len, &doc), -EBADMSG);
        ASSERT_NULL(doc);
}

static void test_long_text(void) {
        _cleanup_(xml_doc_freep) XmlDoc *doc = NULL;
        _cleanup_free_ char *s = NULL;
        size_t len = 0, n = 20000;

        /* Many entity references make expat hand the text in many pieces. */
        s = malloc(3 + n * 5 + 4 + 1);
        ASSERT_NOT_NULL(s);
        memcpy(s, "<a>", 3);
        len = 3;
        for (size_t i = 0; i < n; i++) {
                memcpy(s + len, "&amp;", 5);
                len += 5;
        }
        memcpy(s + len, "</a>", 4);
        len += 4;
        ASSERT_OK(xml_parse(s, len, &doc));
        ASSERT_EQ(doc->root->text_size, n);
        ASSERT_EQ(strlen(xml_text(doc->root)), n);
        ASSERT_EQ(strspn(xml_text(doc->root), "&"), n);
}

static void test_typed_text(void) {
        _cleanup_(xml_doc_freep) XmlDoc *doc = NULL;
        const XmlNode *r;
        uint64_t u = 7;
        bool b = false;

        ASSERT_OK(parse_str("<r><t>true</t><f>false</f><x>True</x><n>42</n><z>0</z><big>18446744073709551615</big>"
                            "<over>18446744073709551616</over><neg>-1</neg><sp> 1</sp><e/><hex>0x10</hex></r>",
                            &doc));
        r = xml_doc_root(doc);
        ASSERT_OK(xml_text_bool(xml_child(r, "t"), &b));
        ASSERT_TRUE(b);
        ASSERT_OK(xml_text_bool(xml_child(r, "f"), &b));
        ASSERT_FALSE(b);
        ASSERT_EQ(xml_text_bool(xml_child(r, "x"), &b), -EBADMSG);
        ASSERT_EQ(xml_text_bool(xml_child(r, "missing"), &b), -ENOENT);

        ASSERT_OK(xml_text_uint64(xml_child(r, "n"), &u));
        ASSERT_EQ(u, 42);
        ASSERT_OK(xml_text_uint64(xml_child(r, "z"), &u));
        ASSERT_EQ(u, 0);
        ASSERT_OK(xml_text_uint64(xml_child(r, "big"), &u));
        ASSERT_TRUE(u == UINT64_MAX);
        u = 7;
        ASSERT_EQ(xml_text_uint64(xml_child(r, "over"), &u), -ERANGE);
        ASSERT_EQ(xml_text_uint64(xml_child(r, "neg"), &u), -EBADMSG);
        ASSERT_EQ(xml_text_uint64(xml_child(r, "sp"), &u), -EBADMSG);
        ASSERT_EQ(xml_text_uint64(xml_child(r, "e"), &u), -EBADMSG);
        ASSERT_EQ(xml_text_uint64(xml_child(r, "hex"), &u), -EBADMSG);
        ASSERT_EQ(xml_text_uint64(NULL, &u), -ENOENT);
        ASSERT_EQ(u, 7);
}

static void test_writer(void) {
        _cleanup_(xml_writer_done) XmlWriter w = {};
        _cleanup_(xml_doc_freep) XmlDoc *doc = NULL;
        _cleanup_free_ char *out = NULL;
        size_t size = 0;

        xml_writer_open(&w, "Root");
        xml_writer_element(&w, "Value", "\"a & b\" <c> 'd'");
        xml_writer_element(&w, "Empty", "");
        xml_writer_element(&w, "Tab", "x\ty\nz");
        xml_writer_close(&w, "Root");
        ASSERT_OK(xml_writer_finish(&w, &out, &size));
        ASSERT_STREQ(out, "<Root><Value>&quot;a &amp; b&quot; &lt;c&gt; &apos;d&apos;</Value><Empty></Empty>"
                          "<Tab>x\ty\nz</Tab></Root>");
        ASSERT_EQ(size, strlen(out));

        /* What the writer writes, the parser reads back unchanged. */
        ASSERT_OK(xml_parse(out, size, &doc));
        ASSERT_STREQ(xml_path_text(xml_doc_root(doc), "Value"), "\"a & b\" <c> 'd'");
        ASSERT_STREQ(xml_path_text(xml_doc_root(doc), "Tab"), "x\ty\nz");
}

static void test_writer_refuses_control_characters(void) {
        _cleanup_(xml_writer_done) XmlWriter w = {};
        _cleanup_free_ char *out = NULL;

        xml_writer_open(&w, "Root");
        xml_writer_element(&w, "Value", "a\001b");
        xml_writer_close(&w, "Root");
        ASSERT_EQ(xml_writer_finish(&w, &out, NULL), -EINVAL);
        ASSERT_NULL(out);
}

static void test_writer_empty(void) {
        _cleanup_(xml_writer_done) XmlWriter w = {};
        _cleanup_free_ char *out = NULL;

        ASSERT_OK(xml_writer_finish(&w, &out, NULL));
        ASSERT_STREQ(out, "");
}

int main(void) {
        RUN_TEST(test_parse_tree);
        RUN_TEST(test_parse_namespace_prefixes);
        RUN_TEST(test_parse_refuses);
        RUN_TEST(test_parse_caps);
        RUN_TEST(test_long_text);
        RUN_TEST(test_typed_text);
        RUN_TEST(test_writer);
        RUN_TEST(test_writer_refuses_control_characters);
        RUN_TEST(test_writer_empty);
        return tests_finish();
}
