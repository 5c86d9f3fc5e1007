/* SPDX-License-Identifier: Apache-2.0 */
#include "aws-test-util.h"
#include "route53.h"
#include "tests.h"

#define ZONE "Z0123456789ABCDEFGHIJ"
#define LIST_URL "https://route53.amazonaws.com/2013-04-01/hostedzone/" ZONE "/rrset"

static int setup(TestAws *t) {
        unsetenv("AWS_ENDPOINT_URL");
        unsetenv("AWS_ENDPOINT_URL_ROUTE_53");
        return test_aws_init(t, NULL);
}

static void test_ids(void) {
        _cleanup_free_ char *a = NULL, *b = NULL, *c = NULL, *d = NULL;
        char *bad = NULL;

        ASSERT_OK(route53_zone_id_normalize("/hostedzone/" ZONE, &a));
        ASSERT_STREQ(a, ZONE);
        ASSERT_OK(route53_zone_id_normalize(ZONE, &b));
        ASSERT_STREQ(b, ZONE);
        ASSERT_OK(route53_zone_id_normalize("hostedzone/" ZONE, &c));
        ASSERT_STREQ(c, ZONE);
        ASSERT_OK(route53_change_id_normalize("/change/C2682N5HXP0BZ4", &d));
        ASSERT_STREQ(d, "C2682N5HXP0BZ4");

        /* Anything that could leave the path segment is refused. */
        ASSERT_EQ(route53_zone_id_normalize("", &bad), -EINVAL);
        ASSERT_EQ(route53_zone_id_normalize("/hostedzone/", &bad), -EINVAL);
        ASSERT_EQ(route53_zone_id_normalize("Z1/../x", &bad), -EINVAL);
        ASSERT_EQ(route53_zone_id_normalize("Z1?x=1", &bad), -EINVAL);
        ASSERT_EQ(route53_zone_id_normalize("/change/C1", &bad), -EINVAL);
        ASSERT_EQ(route53_change_id_normalize("/hostedzone/Z1", &bad), -EINVAL);
        ASSERT_NULL(bad);
}

static void test_names(void) {
        _cleanup_free_ char *a = NULL, *b = NULL, *c = NULL;

        ASSERT_OK(route53_name_normalize("\\052.Cluster.Internal", &a));
        ASSERT_STREQ(a, "*.cluster.internal.");
        ASSERT_OK(route53_name_normalize("a\\040b.", &b));
        ASSERT_STREQ(b, "a b.");
        ASSERT_OK(route53_name_normalize("", &c));
        ASSERT_STREQ(c, ".");

        ASSERT_TRUE(route53_name_equal("kafka-1.cluster.internal.", "KAFKA-1.cluster.internal"));
        ASSERT_TRUE(route53_name_equal("\\052.cluster.internal.", "*.cluster.internal"));
        ASSERT_FALSE(route53_name_equal("kafka-1.cluster.internal.", "kafka-2.cluster.internal."));
        ASSERT_FALSE(route53_name_equal("kafka-1.cluster.internal", "kafka-1.cluster.internal.x"));
        ASSERT_FALSE(route53_name_equal(NULL, "a"));
}

static void test_list(void) {
        _cleanup_(route53_record_set_page_done) Route53RecordSetPage p = {};
        TestAws t;

        ASSERT_OK(setup(&t));
        test_add_reply(t.fake, 200, "route53-list-rrsets.xml", NULL);
        ASSERT_OK(route53_list_resource_record_sets(t.client, "/hostedzone/" ZONE, "kafka-1.cluster.internal.", "A",
                                                    NULL, 4, USEC_INFINITY, NULL, &p));
        ASSERT_STREQ(t.fake->requests[0].method, "GET");
        ASSERT_STREQ(t.fake->requests[0].url, LIST_URL "?name=kafka-1.cluster.internal.&type=A&maxitems=4");

        ASSERT_EQ(p.n_sets, 4);
        ASSERT_STREQ(p.sets[0].name, "kafka-1.cluster.internal.");
        ASSERT_STREQ(p.sets[0].type, "A");
        ASSERT_EQ(p.sets[0].ttl, 60);
        ASSERT_NULL(p.sets[0].set_identifier);
        ASSERT_FALSE(p.sets[0].multivalue_answer);
        ASSERT_EQ(p.sets[0].n_values, 1);
        ASSERT_STREQ(p.sets[0].values[0], "10.0.3.17");
        ASSERT_NULL(p.sets[0].values[1]);

        ASSERT_STREQ(p.sets[1].type, "TXT");
        ASSERT_EQ(p.sets[1].ttl, 300);
        ASSERT_EQ(p.sets[1].n_values, 2);
        ASSERT_STREQ(p.sets[1].values[0], "\"owner=i-0123456789abcdef0\"");
        ASSERT_STREQ(p.sets[1].values[1], "\"a & b <c>\"");

        /* Listed as "\052.cluster.internal.". */
        ASSERT_STREQ(p.sets[2].name, "*.cluster.internal.");
        ASSERT_STREQ(p.sets[2].type, "CNAME");

        ASSERT_STREQ(p.sets[3].name, "www.cluster.internal.");
        ASSERT_TRUE(p.sets[3].alias);
        ASSERT_EQ(p.sets[3].ttl, -1);
        ASSERT_EQ(p.sets[3].n_values, 0);

        ASSERT_TRUE(p.is_truncated);
        ASSERT_STREQ(p.next_name, "zookeeper.cluster.internal.");
        ASSERT_STREQ(p.next_type, "A");
        ASSERT_NULL(p.next_identifier);

        ASSERT_EQ(route53_list_resource_record_sets(t.client, "bad/zone", NULL, NULL, NULL, 0, USEC_INFINITY, NULL, &p),
                  -EINVAL);
        ASSERT_EQ(route53_list_resource_record_sets(t.client, ZONE, NULL, "A", NULL, 0, USEC_INFINITY, NULL, &p),
                  -EINVAL);
        ASSERT_EQ(t.fake->n_requests, 1);
        test_aws_done(&t);
}

static void test_find(void) {
        _cleanup_(route53_record_set_done) Route53RecordSet s = {};
        TestAws t;

        ASSERT_OK(setup(&t));
        test_add_reply(t.fake, 200, "route53-list-rrsets.xml", NULL);
        ASSERT_OK(route53_find_record_set(t.client, ZONE, "KAFKA-1.cluster.internal", "A", NULL, USEC_INFINITY, NULL, &s));
        ASSERT_STREQ(t.fake->requests[0].url, LIST_URL "?name=KAFKA-1.cluster.internal&type=A&maxitems=100");
        ASSERT_STREQ(s.name, "kafka-1.cluster.internal.");
        ASSERT_STREQ(s.values[0], "10.0.3.17");
        test_aws_done(&t);
}

static void test_find_other_name_first(void) {
        Route53RecordSet s = { .ttl = 12345 };
        TestAws t;

        ASSERT_OK(setup(&t));
        /* kafka-1 does not exist: Route 53 answers from where it would be,
         * which is kafka-2. */
        test_add_reply(t.fake, 200, "route53-list-rrsets-other-name.xml", NULL);
        /* The name exists but with another type first. */
        test_add_reply(t.fake, 200, "route53-list-rrsets.xml", NULL);
        /* An empty zone. */
        fake_transport_add(t.fake, &(FakeReply) {
                                           .body = "<ListResourceRecordSetsResponse><ResourceRecordSets/>"
                                                   "<IsTruncated>false</IsTruncated><MaxItems>100</MaxItems>"
                                                   "</ListResourceRecordSetsResponse>",
                                   });

        ASSERT_EQ(route53_find_record_set(t.client, ZONE, "kafka-1.cluster.internal.", "A", NULL, USEC_INFINITY, NULL,
                                          &s),
                  -ENOENT);
        ASSERT_EQ(route53_find_record_set(t.client, ZONE, "kafka-1.cluster.internal.", "AAAA", NULL, USEC_INFINITY,
                                          NULL, &s),
                  -ENOENT);
        ASSERT_EQ(route53_find_record_set(t.client, ZONE, "kafka-1.cluster.internal.", "A", NULL, USEC_INFINITY, NULL,
                                          &s),
                  -ENOENT);
        /* Untouched. */
        ASSERT_EQ(s.ttl, 12345);
        ASSERT_NULL(s.name);
        ASSERT_EQ(t.fake->n_requests, 3);
        test_aws_done(&t);
}

static void test_find_multivalue_paging(void) {
        _cleanup_(route53_record_set_done) Route53RecordSet s = {};
        Route53RecordSet none = {};
        TestAws t;

        ASSERT_OK(setup(&t));
        test_add_reply(t.fake, 200, "route53-list-rrsets-multivalue-page1.xml", NULL);
        test_add_reply(t.fake, 200, "route53-list-rrsets-multivalue-page2.xml", NULL);
        ASSERT_OK(route53_find_record_set(t.client, ZONE, "kafka.cluster.internal.", "A", "kafka-2", USEC_INFINITY, NULL,
                                          &s));
        ASSERT_EQ(t.fake->n_requests, 2);
        ASSERT_STREQ(t.fake->requests[1].url,
                     LIST_URL "?name=kafka.cluster.internal.&type=A&identifier=kafka-2&maxitems=100");
        ASSERT_STREQ(s.set_identifier, "kafka-2");
        ASSERT_TRUE(s.multivalue_answer);
        ASSERT_STREQ(s.values[0], "10.0.3.27");
        ASSERT_STREQ(s.health_check_id, "abcdef11-2222-3333-4444-555555fedcba");

        /* On the first page. */
        route53_record_set_done(&s);
        test_add_reply(t.fake, 200, "route53-list-rrsets-multivalue-page1.xml", NULL);
        ASSERT_OK(route53_find_record_set(t.client, ZONE, "kafka.cluster.internal", "a", "kafka-1", USEC_INFINITY, NULL,
                                          &s));
        ASSERT_STREQ(s.values[0], "10.0.3.17");

        /* Not there: the sets of the name and type end on page 2. */
        test_add_reply(t.fake, 200, "route53-list-rrsets-multivalue-page1.xml", NULL);
        test_add_reply(t.fake, 200, "route53-list-rrsets-multivalue-page2.xml", NULL);
        ASSERT_EQ(route53_find_record_set(t.client, ZONE, "kafka.cluster.internal.", "A", "kafka-9", USEC_INFINITY, NULL,
                                          &none),
                  -ENOENT);
        /* A simple set is not one with an identifier. */
        test_add_reply(t.fake, 200, "route53-list-rrsets-multivalue-page1.xml", NULL);
        test_add_reply(t.fake, 200, "route53-list-rrsets-multivalue-page2.xml", NULL);
        ASSERT_EQ(route53_find_record_set(t.client, ZONE, "kafka.cluster.internal.", "A", NULL, USEC_INFINITY, NULL,
                                          &none),
                  -ENOENT);
        ASSERT_EQ(fake_transport_pending(t.fake), 0);
        test_aws_done(&t);
}

static void test_list_errors(void) {
        _cleanup_(aws_error_done) AwsError e = {};
        Route53RecordSetPage p = {};
        TestAws t;

        ASSERT_OK(setup(&t));
        test_add_reply(t.fake, 404, "route53-error-no-such-zone.xml", NULL);
        fake_transport_add(t.fake, &(FakeReply) {
                                           .body = "<ListResourceRecordSetsResponse><ResourceRecordSets><ResourceRecordSet>"
                                                   "<Name>a.</Name><Type>A</Type><TTL>abc</TTL></ResourceRecordSet>"
                                                   "</ResourceRecordSets></ListResourceRecordSetsResponse>",
                                   });
        fake_transport_add(t.fake, &(FakeReply) {
                                           .body = "<ListResourceRecordSetsResponse><ResourceRecordSets/>"
                                                   "<IsTruncated>true</IsTruncated></ListResourceRecordSetsResponse>",
                                   });

        ASSERT_EQ(route53_list_resource_record_sets(t.client, ZONE, NULL, NULL, NULL, 0, USEC_INFINITY, &e, &p), -ENOENT);
        ASSERT_STREQ(e.code, "NoSuchHostedZone");
        ASSERT_STREQ(t.fake->requests[0].url, LIST_URL);
        ASSERT_EQ(route53_list_resource_record_sets(t.client, ZONE, NULL, NULL, NULL, 0, USEC_INFINITY, &e, &p), -EBADMSG);
        ASSERT_EQ(route53_list_resource_record_sets(t.client, ZONE, NULL, NULL, NULL, 0, USEC_INFINITY, &e, &p), -EBADMSG);
        ASSERT_NULL(p.sets);
        test_aws_done(&t);
}

static const char *const values_multi[] = { "10.0.3.17", NULL };
static const char *const values_txt[] = { "\"a & b <c>\"", "\"it's\"", NULL };

static void test_change_batch_xml(void) {
        _cleanup_(xml_doc_freep) XmlDoc *doc = NULL;
        _cleanup_free_ char *xml = NULL;
        char *bad = NULL;
        const Route53RecordSet old = {
                .name = (char *) "kafka.cluster.internal.",
                .type = (char *) "A",
                .ttl = 60,
                .set_identifier = (char *) "kafka-1",
                .multivalue_answer = true,
                .values = (char **) values_multi,
        };
        const Route53RecordSet txt = {
                .name = (char *) "kafka-1.cluster.internal.",
                .type = (char *) "TXT",
                .ttl = 300,
                .values = (char **) values_txt,
        };
        const Route53RecordSet alias = {
                .name = (char *) "www.cluster.internal.",
                .type = (char *) "A",
                .ttl = -1,
                .alias = true,
                .values = (char **) values_multi,
        };

        ASSERT_OK(route53_change_batch_to_xml((const Route53Change[]) { { ROUTE53_DELETE, &old }, { ROUTE53_UPSERT, &txt } },
                                              2, "nodeagent <kafka-1> & co", &xml));
        ASSERT_STREQ(xml,
                     "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                     "<ChangeResourceRecordSetsRequest xmlns=\"https://route53.amazonaws.com/doc/2013-04-01/\">"
                     "<ChangeBatch><Comment>nodeagent &lt;kafka-1&gt; &amp; co</Comment><Changes>"
                     "<Change><Action>DELETE</Action><ResourceRecordSet><Name>kafka.cluster.internal.</Name><Type>A</Type>"
                     "<SetIdentifier>kafka-1</SetIdentifier><MultiValueAnswer>true</MultiValueAnswer><TTL>60</TTL>"
                     "<ResourceRecords><ResourceRecord><Value>10.0.3.17</Value></ResourceRecord></ResourceRecords>"
                     "</ResourceRecordSet></Change>"
                     "<Change><Action>UPSERT</Action><ResourceRecordSet><Name>kafka-1.cluster.internal.</Name><Type>TXT</Type>"
                     "<TTL>300</TTL><ResourceRecords><ResourceRecord><Value>&quot;a &amp; b &lt;c&gt;&quot;</Value>"
                     "</ResourceRecord><ResourceRecord><Value>&quot;it&apos;s&quot;</Value></ResourceRecord>"
                     "</ResourceRecords></ResourceRecordSet></Change>"
                     "</Changes></ChangeBatch></ChangeResourceRecordSetsRequest>");

        /* It reads back as written. */
        ASSERT_OK(xml_parse(xml, strlen(xml), &doc));
        ASSERT_STREQ(xml_path_text(xml_doc_root(doc),
                                   "ChangeBatch/Changes/Change/ResourceRecordSet/ResourceRecords/ResourceRecord/Value"),
                     "10.0.3.17");
        ASSERT_STREQ(xml_path_text(xml_doc_root(doc), "ChangeBatch/Comment"), "nodeagent <kafka-1> & co");

        /* What cannot be written back exactly is refused. */
        ASSERT_EQ(route53_change_batch_to_xml((const Route53Change[]) { { ROUTE53_DELETE, &alias } }, 1, NULL, &bad),
                  -EOPNOTSUPP);
        ASSERT_EQ(route53_change_batch_to_xml((const Route53Change[]) { { _ROUTE53_CHANGE_ACTION_MAX, &txt } }, 1, NULL,
                                              &bad),
                  -EINVAL);
        ASSERT_EQ(route53_change_batch_to_xml(NULL, 0, NULL, &bad), -EINVAL);
        ASSERT_NULL(bad);
}

static void test_change_and_get(void) {
        _cleanup_(route53_change_info_done) Route53ChangeInfo info = {}, status = {};
        _cleanup_(aws_error_done) AwsError e = {};
        const Route53RecordSet set = {
                .name = (char *) "kafka-1.cluster.internal.",
                .type = (char *) "A",
                .ttl = 60,
                .values = (char **) values_multi,
        };
        TestAws t;

        ASSERT_OK(setup(&t));
        test_add_reply(t.fake, 200, "route53-change.xml", NULL);
        test_add_reply(t.fake, 200, "route53-get-change.xml", NULL);
        test_add_reply(t.fake, 400, "route53-error-invalid-change-batch.xml", NULL);

        ASSERT_OK(route53_change_resource_record_sets(t.client, "/hostedzone/" ZONE,
                                                      (const Route53Change[]) { { ROUTE53_UPSERT, &set } }, 1,
                                                      "nodeagent kafka-1", USEC_INFINITY, &e, &info));
        ASSERT_STREQ(t.fake->requests[0].method, "POST");
        ASSERT_STREQ(t.fake->requests[0].url, LIST_URL "/");
        ASSERT_TRUE(strstr(t.fake->requests[0].body, "<Action>UPSERT</Action>") != NULL);
        ASSERT_NOT_NULL(strstr(fake_request_header(&t.fake->requests[0], "Authorization"), "/us-east-1/route53/aws4_request"));
        ASSERT_STREQ(info.id, "C2682N5HXP0BZ4");
        ASSERT_STREQ(info.status, "PENDING");

        ASSERT_OK(route53_get_change(t.client, "/change/C2682N5HXP0BZ4", USEC_INFINITY, &e, &status));
        ASSERT_STREQ(t.fake->requests[1].method, "GET");
        ASSERT_STREQ(t.fake->requests[1].url, "https://route53.amazonaws.com/2013-04-01/change/C2682N5HXP0BZ4");
        ASSERT_STREQ(status.id, "C2682N5HXP0BZ4");
        ASSERT_STREQ(status.status, "INSYNC");

        /* A batch that does not apply is an API error the caller handles. */
        ASSERT_EQ(route53_change_resource_record_sets(t.client, ZONE, (const Route53Change[]) { { ROUTE53_CREATE, &set } },
                                                      1, NULL, USEC_INFINITY, &e, NULL),
                  -EREMOTEIO);
        ASSERT_STREQ(e.code, "InvalidChangeBatch");
        ASSERT_EQ(e.http_status, 400);
        ASSERT_EQ(t.fake->n_requests, 3);
        test_aws_done(&t);
}

static void test_throttled_change_retried(void) {
        _cleanup_(route53_change_info_done) Route53ChangeInfo info = {};
        const Route53RecordSet set = {
                .name = (char *) "kafka-1.cluster.internal.",
                .type = (char *) "A",
                .ttl = 60,
                .values = (char **) values_multi,
        };
        TestAws t;

        ASSERT_OK(setup(&t));
        test_add_reply(t.fake, 400, "route53-error-prior-request.xml", NULL);
        test_add_reply(t.fake, 200, "route53-change.xml", NULL);
        ASSERT_OK(route53_change_resource_record_sets(t.client, ZONE, (const Route53Change[]) { { ROUTE53_UPSERT, &set } },
                                                      1, NULL, USEC_INFINITY, NULL, &info));
        ASSERT_EQ(t.fake->n_requests, 2);
        ASSERT_EQ(t.clock.n_sleeps, 1);
        /* The same body both times. */
        ASSERT_STREQ(t.fake->requests[0].body, t.fake->requests[1].body);
        ASSERT_STREQ(info.status, "PENDING");
        test_aws_done(&t);
}

int main(int argc, char *argv[]) {
        if (argc > 1)
                test_replies_dir = argv[1];

        RUN_TEST(test_ids);
        RUN_TEST(test_names);
        RUN_TEST(test_list);
        RUN_TEST(test_find);
        RUN_TEST(test_find_other_name_first);
        RUN_TEST(test_find_multivalue_paging);
        RUN_TEST(test_list_errors);
        RUN_TEST(test_change_batch_xml);
        RUN_TEST(test_change_and_get);
        RUN_TEST(test_throttled_change_retried);
        return tests_finish();
}
