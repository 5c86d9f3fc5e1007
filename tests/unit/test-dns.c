/* SPDX-License-Identifier: Apache-2.0 */
#include <stdio.h>

#include "aws-test-util.h"
#include "dns.h"
#include "log.h"
#include "tests.h"

#define ZONE "Z0123456789ABCDEFGHIJ"
#define XMLNS "https://route53.amazonaws.com/doc/2013-04-01/"

/* Listing replies, as Route 53 sends them: from the start name on, so a set
 * of the next name follows ours (and is all there is when ours is absent). */
#define RR(v) "<ResourceRecord><Value>" v "</Value></ResourceRecord>"
#define RRSET(name, ttl, values)                                                        \
        "<ResourceRecordSet><Name>" name "</Name><Type>A</Type><TTL>" #ttl "</TTL>"      \
        "<ResourceRecords>" values "</ResourceRecords></ResourceRecordSet>"
#define RRSET_MV(name, id, ttl, values)                                                 \
        "<ResourceRecordSet><Name>" name "</Name><Type>A</Type><SetIdentifier>" id        \
        "</SetIdentifier><MultiValueAnswer>true</MultiValueAnswer><TTL>" #ttl "</TTL>"    \
        "<ResourceRecords>" values "</ResourceRecords></ResourceRecordSet>"
#define NEXT_SET RRSET("zookeeper.cluster.internal.", 300, RR("10.0.9.9"))
#define LIST(sets)                                                                      \
        "<?xml version=\"1.0\"?>\n<ListResourceRecordSetsResponse xmlns=\"" XMLNS "\">"   \
        "<ResourceRecordSets>" sets "</ResourceRecordSets><IsTruncated>false</IsTruncated>" \
        "<MaxItems>100</MaxItems></ListResourceRecordSetsResponse>"
#define CHANGE_OK(status)                                                               \
        "<?xml version=\"1.0\"?>\n<ChangeResourceRecordSetsResponse xmlns=\"" XMLNS "\">" \
        "<ChangeInfo><Id>/change/C1</Id><Status>" status "</Status>"                      \
        "<SubmittedAt>2024-01-12T08:00:10.123Z</SubmittedAt></ChangeInfo>"                \
        "</ChangeResourceRecordSetsResponse>"
#define GET_CHANGE(status)                                                              \
        "<?xml version=\"1.0\"?>\n<GetChangeResponse xmlns=\"" XMLNS "\">"                 \
        "<ChangeInfo><Id>/change/C1</Id><Status>" status "</Status>"                      \
        "<SubmittedAt>2024-01-12T08:00:10.123Z</SubmittedAt></ChangeInfo></GetChangeResponse>"
#define REFUSED                                                                         \
        "<?xml version=\"1.0\"?>\n<InvalidChangeBatch xmlns=\"" XMLNS "\"><Messages><Message>" \
        "Tried to delete resource record set [name='kafka.cluster.internal.', type='A'] but the " \
        "values provided do not match the current values</Message></Messages>"            \
        "<RequestId>b25f48e8-84fd-11e6-80d9-574e0c4664cb</RequestId></InvalidChangeBatch>"

#define NODE_NAME "kafka-1.cluster.internal."
#define SHARED_NAME "kafka.cluster.internal."
#define IP "10.0.1.10"

static void list_reply(TestAws *t, const char *body) {
        fake_transport_add(t->fake, &(FakeReply) { .method = "GET", .body = body });
}

static void change_reply(TestAws *t, long status, const char *body) {
        fake_transport_add(t->fake, &(FakeReply) { .method = "POST", .status = status, .body = body });
}

/* A comma-separated list as a NULL-terminated vector (test code: aborts on
 * allocation failure). "" is the empty list; NULL stays NULL. */
static char **split(const char *csv) {
        char **l, *copy, *save = NULL;
        size_t n = 0;

        if (!csv)
                return NULL;
        l = calloc(strlen(csv) + 2, sizeof(char *));
        copy = strdup(csv);
        if (!l || !copy)
                abort();
        for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
                l[n] = strdup(tok);
                if (!l[n])
                        abort();
                n++;
        }
        free(copy);
        return l;
}

static char *join(char *const *values) {
        size_t len = 1;
        char *s, *p;

        for (char *const *v = values; v && *v; v++)
                len += strlen(*v) + 1;
        s = calloc(len, 1);
        if (!s)
                abort();
        p = s;
        for (char *const *v = values; v && *v; v++) {
                if (v != values)
                        *p++ = ',';
                p = stpcpy(p, *v);
        }
        return s;
}

static int setup(TestAws *t) {
        unsetenv("AWS_ENDPOINT_URL");
        unsetenv("AWS_ENDPOINT_URL_ROUTE_53");
        return test_aws_init(t, NULL);
}

static DnsPublish publish_args(TestAws *t, Path *path, const ConfigDns *config) {
        return (DnsPublish) {
                .path = path,
                .aws = t->client,
                .config = config,
                .node_name = "kafka-1",
                .ip = IP,
                /* The test's clock (aws-test-util.h): waits pass at once. */
                .deadline = test_aws_deadline(t, 10 * USEC_PER_MINUTE),
        };
}

static ConfigDns config_of(DnsMode mode) {
        return (ConfigDns) {
                .hosted_zone_id = (char *) ZONE,
                .name = (char *) (mode == DNS_MODE_NODE ? NODE_NAME : SHARED_NAME),
                .mode = mode,
                .ttl = 60,
        };
}

/* -- the pure parts ------------------------------------------------------------ */

typedef struct ValuesCase {
        const char *values;
        const char *ip;
        bool add;
        const char *expected;
} ValuesCase;

static const ValuesCase values_cases[] = {
        { NULL,                            "10.0.1.10", true,  "10.0.1.10" },
        { "",                              "10.0.1.10", true,  "10.0.1.10" },
        { "10.0.1.9",                      "10.0.1.10", true,  "10.0.1.9,10.0.1.10" },
        /* Numeric order, not string order. */
        { "10.0.1.10,10.0.1.2,9.1.1.1",    "10.0.1.100", true, "9.1.1.1,10.0.1.2,10.0.1.10,10.0.1.100" },
        { "10.0.1.10,10.0.1.2",            "10.0.1.10", true,  "10.0.1.2,10.0.1.10" },
        { "10.0.1.2,10.0.1.2",             "10.0.1.3",  true,  "10.0.1.2,10.0.1.3" },
        { "10.0.1.10,10.0.1.2",            "10.0.1.10", false, "10.0.1.2" },
        { "10.0.1.10",                     "10.0.1.10", false, "" },
        { "10.0.1.3,10.0.1.1",             "10.0.1.10", false, "10.0.1.1,10.0.1.3" },
        { NULL,                            "10.0.1.10", false, "" },
};

static void test_values_case(const ValuesCase *c) {
        _cleanup_strv_free_ char **values = split(c->values), **out = NULL;
        _cleanup_free_ char *joined = NULL;

        if (c->add)
                ASSERT_OK(dns_values_with(values, c->ip, &out));
        else
                ASSERT_OK(dns_values_without(values, c->ip, &out));
        joined = join(out);
        ASSERT_STREQ(joined, c->expected);
}

static void test_values_equal(void) {
        _cleanup_strv_free_ char **a = split("10.0.1.1,10.0.1.2"), **b = split("10.0.1.2,10.0.1.1"),
                                 **c = split("10.0.1.1"), **d = split("10.0.1.1,10.0.1.3");

        ASSERT_TRUE(dns_values_equal(a, b));
        ASSERT_FALSE(dns_values_equal(a, c));
        ASSERT_FALSE(dns_values_equal(a, d));
        ASSERT_TRUE(dns_values_equal(NULL, NULL));
}

typedef struct PlanCase {
        const char *name;
        DnsMode mode;
        bool publish;
        /* The set as read; has_current false: none. */
        bool has_current;
        int64_t ttl;
        const char *values;
        const char *identifier;
        bool multivalue;
        bool alias;
        bool other_policy;
        const char *health_check;
        /* Expected. */
        int error;
        DnsAction action;
        const char *desired;
        int64_t desired_ttl;
} PlanCase;

static const PlanCase plan_cases[] = {
        { "plan node: no set -> upsert", DNS_MODE_NODE, true, false, 0, NULL, NULL, false, false, false, NULL,
          0, DNS_ACTION_UPSERT, IP, 60 },
        { "plan node: right -> none", DNS_MODE_NODE, true, true, 60, IP, NULL, false, false, false, NULL,
          0, DNS_ACTION_NONE, NULL, 0 },
        { "plan node: other TTL -> upsert", DNS_MODE_NODE, true, true, 300, IP, NULL, false, false, false, NULL,
          0, DNS_ACTION_UPSERT, IP, 60 },
        { "plan node: other IP -> upsert", DNS_MODE_NODE, true, true, 60, "10.0.1.5", NULL, false, false, false,
          NULL, 0, DNS_ACTION_UPSERT, IP, 60 },
        { "plan node: extra IP -> upsert", DNS_MODE_NODE, true, true, 60, IP ",10.0.1.5", NULL, false, false,
          false, NULL, 0, DNS_ACTION_UPSERT, IP, 60 },
        { "plan node: alias refused", DNS_MODE_NODE, true, true, -1, "", NULL, false, true, false, NULL,
          -EOPNOTSUPP, 0, NULL, 0 },
        { "plan node: weighted refused", DNS_MODE_NODE, true, true, 60, IP, NULL, false, false, true, NULL,
          -EOPNOTSUPP, 0, NULL, 0 },
        { "plan multivalue: no set -> upsert", DNS_MODE_MULTIVALUE, true, false, 0, NULL, NULL, false, false,
          false, NULL, 0, DNS_ACTION_UPSERT, IP, 60 },
        { "plan multivalue: right -> none", DNS_MODE_MULTIVALUE, true, true, 60, IP, "kafka-1", true, false,
          false, NULL, 0, DNS_ACTION_NONE, NULL, 0 },
        { "plan multivalue: other IP -> upsert", DNS_MODE_MULTIVALUE, true, true, 60, "10.0.1.5", "kafka-1",
          true, false, false, NULL, 0, DNS_ACTION_UPSERT, IP, 60 },
        { "plan shared: no set -> create", DNS_MODE_SHARED, true, false, 0, NULL, NULL, false, false, false, NULL,
          0, DNS_ACTION_CREATE, IP, 60 },
        { "plan shared: add -> replace", DNS_MODE_SHARED, true, true, 60, "10.0.1.12,10.0.1.5", NULL, false,
          false, false, NULL, 0, DNS_ACTION_REPLACE, "10.0.1.5," IP ",10.0.1.12", 60 },
        { "plan shared: present -> none", DNS_MODE_SHARED, true, true, 60, "10.0.1.5," IP, NULL, false, false,
          false, NULL, 0, DNS_ACTION_NONE, NULL, 0 },
        { "plan shared: present, other TTL -> replace with the configured TTL", DNS_MODE_SHARED, true, true, 300,
          "10.0.1.5," IP, NULL, false, false, false, NULL, 0, DNS_ACTION_REPLACE, "10.0.1.5," IP, 60 },
        { "plan shared: health check kept", DNS_MODE_SHARED, true, true, 60, "10.0.1.5", NULL, false, false,
          false, "hc-1", 0, DNS_ACTION_REPLACE, "10.0.1.5," IP, 60 },
        { "plan shared: alias refused", DNS_MODE_SHARED, true, true, -1, "", NULL, false, true, false, NULL,
          -EOPNOTSUPP, 0, NULL, 0 },
        { "plan shared: weighted refused", DNS_MODE_SHARED, true, true, 60, "10.0.1.5", NULL, false, false, true,
          NULL, -EOPNOTSUPP, 0, NULL, 0 },
        { "unplan shared: remove one -> replace, TTL kept", DNS_MODE_SHARED, false, true, 300,
          IP ",10.0.1.5", NULL, false, false, false, NULL, 0, DNS_ACTION_REPLACE, "10.0.1.5", 300 },
        { "unplan shared: the last -> delete", DNS_MODE_SHARED, false, true, 60, IP, NULL, false, false, false,
          NULL, 0, DNS_ACTION_DELETE, NULL, 0 },
        { "unplan shared: absent -> none", DNS_MODE_SHARED, false, true, 60, "10.0.1.5", NULL, false, false,
          false, NULL, 0, DNS_ACTION_NONE, NULL, 0 },
        { "unplan shared: no set -> none", DNS_MODE_SHARED, false, false, 0, NULL, NULL, false, false, false,
          NULL, 0, DNS_ACTION_NONE, NULL, 0 },
        { "unplan node: ours -> delete", DNS_MODE_NODE, false, true, 60, IP, NULL, false, false, false, NULL,
          0, DNS_ACTION_DELETE, NULL, 0 },
        { "unplan node: a successor's -> none", DNS_MODE_NODE, false, true, 60, "10.0.1.5", NULL, false, false,
          false, NULL, 0, DNS_ACTION_NONE, NULL, 0 },
        { "unplan multivalue: ours -> delete", DNS_MODE_MULTIVALUE, false, true, 60, IP, "kafka-1", true, false,
          false, NULL, 0, DNS_ACTION_DELETE, NULL, 0 },
};

static void test_plan_case(const PlanCase *c) {
        _cleanup_strv_free_ char **values = split(c->values);
        _cleanup_(dns_plan_done) DnsPlan plan = { .action = _DNS_ACTION_INVALID };
        _cleanup_free_ char *desired = NULL;
        ConfigDns config = config_of(c->mode);
        Route53RecordSet current = {
                .name = config.name,
                .type = (char *) "A",
                .ttl = c->ttl,
                .set_identifier = (char *) c->identifier,
                .multivalue_answer = c->multivalue,
                .health_check_id = (char *) c->health_check,
                .values = values,
                .n_values = 0,
                .alias = c->alias,
                .other_policy = c->other_policy,
        };
        Route53Change changes[2];
        size_t n;
        int r;

        for (char **v = values; v && *v; v++)
                current.n_values++;

        r = dns_plan(&config, "kafka-1", IP, c->publish, c->has_current ? &current : NULL, &plan);
        if (c->error) {
                ASSERT_EQ(r, c->error);
                /* Untouched. */
                ASSERT_EQ(plan.action, _DNS_ACTION_INVALID);
                return;
        }
        ASSERT_OK(r);
        ASSERT_EQ(plan.action, c->action);

        n = dns_plan_changes(&plan, c->has_current ? &current : NULL, changes);
        switch (c->action) {
        case DNS_ACTION_NONE:
                ASSERT_EQ(n, 0);
                ASSERT_NULL(plan.desired.name);
                return;
        case DNS_ACTION_DELETE:
                ASSERT_EQ(n, 1);
                ASSERT_EQ(changes[0].action, ROUTE53_DELETE);
                ASSERT_TRUE(changes[0].set == &current);
                return;
        case DNS_ACTION_UPSERT:
                ASSERT_EQ(n, 1);
                ASSERT_EQ(changes[0].action, ROUTE53_UPSERT);
                break;
        case DNS_ACTION_CREATE:
                ASSERT_EQ(n, 1);
                ASSERT_EQ(changes[0].action, ROUTE53_CREATE);
                break;
        case DNS_ACTION_REPLACE:
                /* The old set exactly as read, then the new one. */
                ASSERT_EQ(n, 2);
                ASSERT_EQ(changes[0].action, ROUTE53_DELETE);
                ASSERT_TRUE(changes[0].set == &current);
                ASSERT_EQ(changes[1].action, ROUTE53_CREATE);
                break;
        default:
                ASSERT_TRUE(false);
        }
        ASSERT_TRUE(changes[n - 1].set == &plan.desired);

        desired = join(plan.desired.values);
        ASSERT_STREQ(desired, c->desired);
        ASSERT_EQ(plan.desired.ttl, c->desired_ttl);
        ASSERT_STREQ(plan.desired.name, config.name);
        ASSERT_STREQ(plan.desired.type, "A");
        if (c->mode == DNS_MODE_MULTIVALUE) {
                ASSERT_STREQ(plan.desired.set_identifier, "kafka-1");
                ASSERT_TRUE(plan.desired.multivalue_answer);
        } else {
                ASSERT_NULL(plan.desired.set_identifier);
                ASSERT_FALSE(plan.desired.multivalue_answer);
        }
        if (c->health_check)
                ASSERT_STREQ(plan.desired.health_check_id, c->health_check);
}

/* A restored interface: its new address replaces the lost one's in a shared
 * set in one compare-and-swap batch; the other nodes' stay. */
static void test_plan_replacing(void) {
        _cleanup_strv_free_ char **values = split("10.0.1.3,10.0.9.9,10.0.1.20");
        _cleanup_(dns_plan_done) DnsPlan plan = {};
        _cleanup_(dns_plan_done) DnsPlan node_plan = {};
        _cleanup_free_ char *desired = NULL;
        ConfigDns shared = config_of(DNS_MODE_SHARED), node = config_of(DNS_MODE_NODE);
        Route53RecordSet current = {
                .name = shared.name, .type = (char *) "A", .ttl = 60, .values = values, .n_values = 3,
        };
        Route53Change changes[2];

        ASSERT_OK(dns_plan_replacing(&shared, "kafka-1", IP, "10.0.9.9", &current, &plan));
        ASSERT_EQ(plan.action, DNS_ACTION_REPLACE);
        desired = join(plan.desired.values);
        ASSERT_STREQ(desired, "10.0.1.3,10.0.1.10,10.0.1.20");
        ASSERT_EQ(dns_plan_changes(&plan, &current, changes), 2);
        ASSERT_EQ(changes[0].action, ROUTE53_DELETE);
        ASSERT_TRUE(changes[0].set == &current);

        /* The lost address is not there (already taken out): a plain publish. */
        dns_plan_done(&plan);
        ASSERT_OK(dns_plan_replacing(&shared, "kafka-1", IP, "10.0.7.7", &current, &plan));
        ASSERT_EQ(plan.action, DNS_ACTION_REPLACE);
        free(desired);
        desired = join(plan.desired.values);
        ASSERT_STREQ(desired, "10.0.1.3,10.0.1.10,10.0.1.20,10.0.9.9");

        /* A node's own set is overwritten anyway. */
        ASSERT_OK(dns_plan_replacing(&node, "kafka-1", IP, "10.0.9.9", NULL, &node_plan));
        ASSERT_EQ(node_plan.action, DNS_ACTION_UPSERT);
}

static void test_plan_bad_arguments(void) {
        ConfigDns node = config_of(DNS_MODE_NODE), mv = config_of(DNS_MODE_MULTIVALUE);
        DnsPlan plan = {};

        ASSERT_EQ(dns_plan(&node, "kafka-1", "10.0.1", true, NULL, &plan), -EINVAL);
        ASSERT_EQ(dns_plan(&node, "kafka-1", "fe80::1", true, NULL, &plan), -EINVAL);
        ASSERT_EQ(dns_plan(&node, "kafka-1", NULL, true, NULL, &plan), -EINVAL);
        ASSERT_EQ(dns_plan(&mv, NULL, IP, true, NULL, &plan), -EINVAL);
        ASSERT_EQ(dns_plan(&mv, "", IP, true, NULL, &plan), -EINVAL);
        ASSERT_NULL(plan.desired.name);
}

/* -- through the fake transport ------------------------------------------------ */

static void test_node_already_right(void) {
        _cleanup_(dns_result_done) DnsResult res = { .ttl = -1 };
        ConfigDns config = config_of(DNS_MODE_NODE);
        Path path = PATH_INIT("dns");
        DnsPublish p;
        TestAws t;

        ASSERT_OK(setup(&t));
        p = publish_args(&t, &path, &config);
        list_reply(&t, LIST(RRSET(NODE_NAME, 60, RR(IP)) NEXT_SET));
        ASSERT_OK(dns_publish(&p, &res));
        ASSERT_EQ(t.fake->n_requests, 1);
        ASSERT_STREQ(t.fake->requests[0].method, "GET");
        ASSERT_NOT_NULL(strstr(t.fake->requests[0].url, "?name=" NODE_NAME "&type=A&"));
        ASSERT_EQ(res.action, DNS_ACTION_NONE);
        ASSERT_EQ(res.n_changes, 0);
        ASSERT_NULL(res.change_id);
        ASSERT_STREQ(res.values[0], IP);
        ASSERT_EQ(res.ttl, 60);
        ASSERT_EQ(path.state, PATH_STATE_DONE);
        test_aws_done(&t);
}

static void test_node_upsert(void) {
        _cleanup_(dns_result_done) DnsResult res = { .ttl = -1 };
        ConfigDns config = config_of(DNS_MODE_NODE);
        Path path = PATH_INIT("dns");
        DnsPublish p;
        TestAws t;

        ASSERT_OK(setup(&t));
        p = publish_args(&t, &path, &config);
        /* The old instance's IP with another TTL. */
        list_reply(&t, LIST(RRSET(NODE_NAME, 300, RR("10.0.1.5")) NEXT_SET));
        change_reply(&t, 200, CHANGE_OK("PENDING"));
        /* No set at all: the listing starts at the next name. */
        list_reply(&t, LIST(NEXT_SET));
        change_reply(&t, 200, CHANGE_OK("PENDING"));

        ASSERT_OK(dns_publish(&p, &res));
        ASSERT_EQ(t.fake->n_requests, 2);
        ASSERT_NOT_NULL(strstr(t.fake->requests[1].body,
                               "<Changes><Change><Action>UPSERT</Action><ResourceRecordSet><Name>" NODE_NAME
                               "</Name><Type>A</Type><TTL>60</TTL><ResourceRecords>" RR(IP)
                               "</ResourceRecords></ResourceRecordSet></Change></Changes>"));
        ASSERT_NOT_NULL(strstr(t.fake->requests[1].body, "<Comment>nodeagent kafka-1</Comment>"));
        ASSERT_EQ(res.action, DNS_ACTION_UPSERT);
        ASSERT_STREQ(res.change_id, "C1");
        ASSERT_FALSE(res.in_sync);
        ASSERT_EQ(res.n_changes, 1);

        dns_result_done(&res);
        ASSERT_OK(dns_publish(&p, &res));
        ASSERT_EQ(t.fake->n_requests, 4);
        ASSERT_NOT_NULL(strstr(t.fake->requests[3].body, "<Action>UPSERT</Action>"));
        ASSERT_EQ(res.action, DNS_ACTION_UPSERT);
        ASSERT_EQ(fake_transport_pending(t.fake), 0);
        ASSERT_EQ(t.fake->mismatches, 0);
        test_aws_done(&t);
}

static void test_multivalue(void) {
        _cleanup_(dns_result_done) DnsResult res = { .ttl = -1 };
        ConfigDns config = config_of(DNS_MODE_MULTIVALUE);
        Path path = PATH_INIT("dns");
        DnsPublish p;
        TestAws t;

        ASSERT_OK(setup(&t));
        p = publish_args(&t, &path, &config);
        /* Our set holds the old IP; the others' sets are not touched. */
        list_reply(&t, LIST(RRSET_MV(SHARED_NAME, "kafka-1", 60, RR("10.0.1.5"))
                                    RRSET_MV(SHARED_NAME, "kafka-2", 60, RR("10.0.1.6"))));
        change_reply(&t, 200, CHANGE_OK("PENDING"));
        /* Right: nothing to do. */
        list_reply(&t, LIST(RRSET_MV(SHARED_NAME, "kafka-1", 60, RR(IP))
                                    RRSET_MV(SHARED_NAME, "kafka-2", 60, RR("10.0.1.6"))));

        ASSERT_OK(dns_publish(&p, &res));
        ASSERT_NOT_NULL(strstr(t.fake->requests[0].url, "?name=" SHARED_NAME "&type=A&"));
        ASSERT_NOT_NULL(strstr(t.fake->requests[1].body,
                               "<Changes><Change><Action>UPSERT</Action><ResourceRecordSet><Name>" SHARED_NAME
                               "</Name><Type>A</Type><SetIdentifier>kafka-1</SetIdentifier>"
                               "<MultiValueAnswer>true</MultiValueAnswer><TTL>60</TTL><ResourceRecords>" RR(IP)
                               "</ResourceRecords></ResourceRecordSet></Change></Changes>"));
        ASSERT_EQ(res.action, DNS_ACTION_UPSERT);

        dns_result_done(&res);
        ASSERT_OK(dns_publish(&p, &res));
        ASSERT_EQ(res.action, DNS_ACTION_NONE);
        ASSERT_EQ(t.fake->n_requests, 3);
        test_aws_done(&t);
}

static void test_shared_create(void) {
        _cleanup_(dns_result_done) DnsResult res = { .ttl = -1 };
        ConfigDns config = config_of(DNS_MODE_SHARED);
        Path path = PATH_INIT("dns");
        DnsPublish p;
        TestAws t;

        ASSERT_OK(setup(&t));
        p = publish_args(&t, &path, &config);
        list_reply(&t, LIST(NEXT_SET));
        change_reply(&t, 200, CHANGE_OK("PENDING"));
        ASSERT_OK(dns_publish(&p, &res));
        ASSERT_EQ(t.fake->n_requests, 2);
        ASSERT_NOT_NULL(strstr(t.fake->requests[1].body,
                               "<Changes><Change><Action>CREATE</Action><ResourceRecordSet><Name>" SHARED_NAME
                               "</Name><Type>A</Type><TTL>60</TTL><ResourceRecords>" RR(IP)
                               "</ResourceRecords></ResourceRecordSet></Change></Changes>"));
        ASSERT_EQ(res.action, DNS_ACTION_CREATE);
        ASSERT_STREQ(res.values[0], IP);
        ASSERT_NULL(res.values[1]);
        test_aws_done(&t);
}

static void test_shared_add(void) {
        _cleanup_(dns_result_done) DnsResult res = { .ttl = -1 };
        ConfigDns config = config_of(DNS_MODE_SHARED);
        Path path = PATH_INIT("dns");
        DnsPublish p;
        TestAws t;

        ASSERT_OK(setup(&t));
        p = publish_args(&t, &path, &config);
        list_reply(&t, LIST(RRSET(SHARED_NAME, 60, RR("10.0.1.12") RR("10.0.1.5")) NEXT_SET));
        change_reply(&t, 200, CHANGE_OK("PENDING"));
        ASSERT_OK(dns_publish(&p, &res));
        ASSERT_EQ(t.fake->n_requests, 2);
        /* One batch: the set exactly as read (in its order), then the new one, sorted. */
        ASSERT_NOT_NULL(strstr(t.fake->requests[1].body,
                               "<Changes><Change><Action>DELETE</Action><ResourceRecordSet><Name>" SHARED_NAME
                               "</Name><Type>A</Type><TTL>60</TTL><ResourceRecords>" RR("10.0.1.12") RR("10.0.1.5")
                               "</ResourceRecords></ResourceRecordSet></Change>"
                               "<Change><Action>CREATE</Action><ResourceRecordSet><Name>" SHARED_NAME
                               "</Name><Type>A</Type><TTL>60</TTL><ResourceRecords>" RR("10.0.1.5") RR(IP)
                               RR("10.0.1.12") "</ResourceRecords></ResourceRecordSet></Change></Changes>"));
        ASSERT_NULL(strstr(t.fake->requests[1].body, "UPSERT"));
        ASSERT_EQ(res.action, DNS_ACTION_REPLACE);
        ASSERT_EQ(res.n_conflicts, 0);
        test_aws_done(&t);
}

static void test_shared_already_present(void) {
        _cleanup_(dns_result_done) DnsResult res = { .ttl = -1 };
        ConfigDns config = config_of(DNS_MODE_SHARED);
        Path path = PATH_INIT("dns");
        DnsPublish p;
        TestAws t;

        ASSERT_OK(setup(&t));
        p = publish_args(&t, &path, &config);
        config.wait_in_sync = true;
        list_reply(&t, LIST(RRSET(SHARED_NAME, 60, RR("10.0.1.5") RR(IP)) NEXT_SET));
        ASSERT_OK(dns_publish(&p, &res));
        ASSERT_EQ(t.fake->n_requests, 1);
        ASSERT_EQ(res.action, DNS_ACTION_NONE);
        ASSERT_FALSE(res.in_sync);
        ASSERT_STREQ(res.values[0], "10.0.1.5");
        ASSERT_STREQ(res.values[1], IP);
        test_aws_done(&t);
}

static void test_shared_conflict_then_success(void) {
        _cleanup_(dns_result_done) DnsResult res = { .ttl = -1 };
        ConfigDns config = config_of(DNS_MODE_SHARED);
        Path path = PATH_INIT("dns");
        DnsPublish p;
        TestAws t;

        ASSERT_OK(setup(&t));
        p = publish_args(&t, &path, &config);
        list_reply(&t, LIST(RRSET(SHARED_NAME, 60, RR("10.0.1.5")) NEXT_SET));
        change_reply(&t, 400, REFUSED);
        /* kafka-3 got in first. */
        list_reply(&t, LIST(RRSET(SHARED_NAME, 60, RR("10.0.1.5") RR("10.0.1.7")) NEXT_SET));
        change_reply(&t, 200, CHANGE_OK("PENDING"));

        ASSERT_OK(dns_publish(&p, &res));
        ASSERT_EQ(t.fake->n_requests, 4);
        /* Refused batches are not repeated by the aws layer. */
        ASSERT_STREQ(t.fake->requests[2].method, "GET");
        ASSERT_NOT_NULL(strstr(t.fake->requests[3].body,
                               "<Action>DELETE</Action><ResourceRecordSet><Name>" SHARED_NAME "</Name><Type>A</Type>"
                               "<TTL>60</TTL><ResourceRecords>" RR("10.0.1.5") RR("10.0.1.7") "</ResourceRecords>"));
        ASSERT_NOT_NULL(strstr(t.fake->requests[3].body,
                               "<Action>CREATE</Action><ResourceRecordSet><Name>" SHARED_NAME "</Name><Type>A</Type>"
                               "<TTL>60</TTL><ResourceRecords>" RR("10.0.1.5") RR("10.0.1.7") RR(IP)
                               "</ResourceRecords>"));
        ASSERT_EQ(res.n_changes, 2);
        ASSERT_EQ(res.n_conflicts, 1);
        ASSERT_EQ(res.action, DNS_ACTION_REPLACE);
        ASSERT_STREQ(res.change_id, "C1");
        test_aws_done(&t);
}

/* A competitor that always gets in between: every listing has one more IP,
 * every batch is refused. */
static int always_changing(FakeTransport *f, const HttpRequest *request, HttpResponse *ret, void *userdata) {
        unsigned *n_lists = userdata;
        _cleanup_free_ char *body = NULL;

        if (streq(request->method, "POST")) {
                fake_response_fill(ret, 400, REFUSED, NULL);
                return 0;
        }
        (*n_lists)++;
        if (asprintf(&body,
                     LIST("<ResourceRecordSet><Name>" SHARED_NAME "</Name><Type>A</Type><TTL>60</TTL>"
                          "<ResourceRecords>" RR("10.0.1.5") RR("10.0.2.%u") "</ResourceRecords></ResourceRecordSet>"),
                     *n_lists) < 0)
                abort();
        fake_response_fill(ret, 200, body, NULL);
        return 0;
}

/* There is no count of attempts: a fleet in one shared set may lose many
 * races before its turn comes; the deadline decides, and the waits between
 * attempts grow (jittered) up to the cap. */
static void test_shared_keeps_trying_until_the_deadline(void) {
        DnsResult res = { .ttl = 12345 };
        ConfigDns config = config_of(DNS_MODE_SHARED);
        Path path = PATH_INIT("dns");
        unsigned n_lists = 0;
        usec_t longest = 0;
        DnsPublish p;
        TestAws t;

        ASSERT_OK(setup(&t));
        t.clock.random = UINT64_C(0x9E3779B97F4A7C15);
        p = publish_args(&t, &path, &config);
        p.deadline = test_aws_deadline(&t, 5 * USEC_PER_MINUTE);
        fake_transport_set_handler(t.fake, always_changing, &n_lists);
        ASSERT_EQ(dns_publish(&p, &res), -ETIME);
        ASSERT_EQ(path.failure, FAILURE_DEADLINE);
        /* Far more than a handful of rounds: read and change each time. */
        ASSERT_TRUE(n_lists > 10);
        ASSERT_TRUE(t.fake->n_requests >= 2 * n_lists - 1);
        for (unsigned i = 0; i < MIN(t.clock.n_sleeps, (unsigned) TEST_SLEEPS_MAX); i++)
                longest = MAX(longest, t.clock.sleeps[i]);
        ASSERT_TRUE(longest > 1 * USEC_PER_SEC);
        ASSERT_TRUE(longest <= 30 * USEC_PER_SEC);
        /* Untouched on failure. */
        ASSERT_EQ(res.ttl, 12345);
        ASSERT_NULL(res.values);
        test_aws_done(&t);
}

static void test_refused_for_another_reason(void) {
        ConfigDns shared = config_of(DNS_MODE_SHARED), node = config_of(DNS_MODE_NODE);
        Path path = PATH_INIT("dns");
        DnsPublish p;
        TestAws t;

        ASSERT_OK(setup(&t));
        /* The set does not change, yet the batch is refused: after the one
         * extra try a compare-and-swap gets, it is Route 53's final word. */
        p = publish_args(&t, &path, &shared);
        for (unsigned i = 0; i < 2; i++) {
                list_reply(&t, LIST(RRSET(SHARED_NAME, 60, RR("10.0.1.5")) NEXT_SET));
                change_reply(&t, 400, REFUSED);
        }
        list_reply(&t, LIST(RRSET(SHARED_NAME, 60, RR("10.0.1.5")) NEXT_SET));
        ASSERT_EQ(dns_publish(&p, NULL), -EREMOTEIO);
        ASSERT_EQ(t.fake->n_requests, 5);

        /* An UPSERT never loses a race: once is enough. */
        fake_transport_clear_requests(t.fake);
        p = publish_args(&t, &path, &node);
        list_reply(&t, LIST(NEXT_SET));
        change_reply(&t, 400, REFUSED);
        list_reply(&t, LIST(NEXT_SET));
        ASSERT_EQ(dns_publish(&p, NULL), -EREMOTEIO);
        ASSERT_EQ(t.fake->n_requests, 3);
        ASSERT_EQ(fake_transport_pending(t.fake), 0);
        test_aws_done(&t);
}

static void test_alias_refused(void) {
        ConfigDns node = config_of(DNS_MODE_NODE), shared = config_of(DNS_MODE_SHARED);
        Path path = PATH_INIT("dns");
        DnsPublish p;
        TestAws t;

        ASSERT_OK(setup(&t));
        p = publish_args(&t, &path, &node);
        list_reply(&t, LIST("<ResourceRecordSet><Name>" NODE_NAME "</Name><Type>A</Type><AliasTarget>"
                            "<HostedZoneId>Z2FDTNDATAQYW2</HostedZoneId><DNSName>d111111abcdef8.cloudfront.net."
                            "</DNSName><EvaluateTargetHealth>false</EvaluateTargetHealth></AliasTarget>"
                            "</ResourceRecordSet>"));
        ASSERT_EQ(dns_publish(&p, NULL), -EOPNOTSUPP);
        ASSERT_EQ(t.fake->n_requests, 1);

        p = publish_args(&t, &path, &shared);
        list_reply(&t, LIST("<ResourceRecordSet><Name>" SHARED_NAME "</Name><Type>A</Type><SetIdentifier>a"
                            "</SetIdentifier><Weight>10</Weight><TTL>60</TTL><ResourceRecords>" RR("10.0.1.5")
                            "</ResourceRecords></ResourceRecordSet>"));
        /* A weighted set has an identifier, so the simple set is absent:
         * the CREATE is Route 53's to refuse (a conflicting set). */
        change_reply(&t, 400, REFUSED);
        list_reply(&t, LIST("<ResourceRecordSet><Name>" SHARED_NAME "</Name><Type>A</Type><SetIdentifier>a"
                            "</SetIdentifier><Weight>10</Weight><TTL>60</TTL><ResourceRecords>" RR("10.0.1.5")
                            "</ResourceRecords></ResourceRecordSet>"));
        change_reply(&t, 400, REFUSED);
        list_reply(&t, LIST("<ResourceRecordSet><Name>" SHARED_NAME "</Name><Type>A</Type><SetIdentifier>a"
                            "</SetIdentifier><Weight>10</Weight><TTL>60</TTL><ResourceRecords>" RR("10.0.1.5")
                            "</ResourceRecords></ResourceRecordSet>"));
        ASSERT_EQ(dns_publish(&p, NULL), -EREMOTEIO);

        /* Multivalue: our own identifier on a weighted set. */
        {
                ConfigDns mv = config_of(DNS_MODE_MULTIVALUE);

                p = publish_args(&t, &path, &mv);
                list_reply(&t, LIST("<ResourceRecordSet><Name>" SHARED_NAME "</Name><Type>A</Type><SetIdentifier>"
                                    "kafka-1</SetIdentifier><Weight>10</Weight><TTL>60</TTL><ResourceRecords>"
                                    RR("10.0.1.5") "</ResourceRecords></ResourceRecordSet>"));
                ASSERT_EQ(dns_publish(&p, NULL), -EOPNOTSUPP);
        }
        ASSERT_EQ(fake_transport_pending(t.fake), 0);
        test_aws_done(&t);
}

static void test_lost_reply(void) {
        _cleanup_(dns_result_done) DnsResult res = { .ttl = -1 };
        ConfigDns config = config_of(DNS_MODE_SHARED);
        Path path = PATH_INIT("dns");
        DnsPublish p;
        TestAws t;

        ASSERT_OK(setup(&t));
        p = publish_args(&t, &path, &config);
        config.wait_in_sync = true;
        list_reply(&t, LIST(RRSET(SHARED_NAME, 60, RR("10.0.1.5")) NEXT_SET));
        /* The batch applies, its reply is lost; the aws layer sends it
         * again, and that copy is refused: the set is no longer the old one. */
        fake_transport_add(t.fake, &(FakeReply) { .method = "POST", .error = -ECONNRESET });
        change_reply(&t, 400, REFUSED);
        list_reply(&t, LIST(RRSET(SHARED_NAME, 60, RR("10.0.1.5") RR(IP)) NEXT_SET));

        ASSERT_OK(dns_publish(&p, &res));
        ASSERT_EQ(t.fake->n_requests, 4);
        ASSERT_EQ(res.action, DNS_ACTION_REPLACE);
        ASSERT_NULL(res.change_id);
        ASSERT_EQ(res.n_changes, 1);
        ASSERT_STREQ(res.values[1], IP);

        /* The network fails on every attempt: the batch may or may not have
         * applied, so it is read again before anything else is sent. */
        dns_result_done(&res);
        fake_transport_clear_requests(t.fake);
        list_reply(&t, LIST(RRSET(SHARED_NAME, 60, RR("10.0.1.5")) NEXT_SET));
        for (unsigned i = 0; i < 8; i++)
                fake_transport_add(t.fake, &(FakeReply) { .method = "POST", .error = -ECONNRESET });
        list_reply(&t, LIST(RRSET(SHARED_NAME, 60, RR("10.0.1.5")) NEXT_SET));
        change_reply(&t, 200, CHANGE_OK("INSYNC"));
        ASSERT_OK(dns_publish(&p, &res));
        ASSERT_EQ(t.fake->n_requests, 11);
        ASSERT_STREQ(t.fake->requests[9].method, "GET");
        ASSERT_EQ(res.n_changes, 2);
        ASSERT_EQ(res.n_conflicts, 0);
        ASSERT_STREQ(res.change_id, "C1");
        ASSERT_TRUE(res.in_sync);
        ASSERT_EQ(fake_transport_pending(t.fake), 0);
        test_aws_done(&t);
}

static void test_wait_in_sync(void) {
        _cleanup_(dns_result_done) DnsResult res = { .ttl = -1 };
        ConfigDns config = config_of(DNS_MODE_NODE);
        Path path = PATH_INIT("dns");
        DnsPublish p;
        TestAws t;

        ASSERT_OK(setup(&t));
        p = publish_args(&t, &path, &config);
        config.wait_in_sync = true;
        list_reply(&t, LIST(NEXT_SET));
        change_reply(&t, 200, CHANGE_OK("PENDING"));
        fake_transport_add(t.fake, &(FakeReply) { .method = "GET", .url = "/2013-04-01/change/C1",
                                                  .body = GET_CHANGE("PENDING") });
        fake_transport_add(t.fake, &(FakeReply) { .method = "GET", .url = "/2013-04-01/change/C1",
                                                  .body = GET_CHANGE("INSYNC") });
        ASSERT_OK(dns_publish(&p, &res));
        ASSERT_EQ(t.fake->n_requests, 4);
        ASSERT_EQ(t.fake->mismatches, 0);
        ASSERT_TRUE(res.in_sync);
        ASSERT_EQ(path.state, PATH_STATE_DONE);

        /* A change Route 53 forgot is an error, not a wait until the deadline. */
        dns_result_done(&res);
        list_reply(&t, LIST(NEXT_SET));
        change_reply(&t, 200, CHANGE_OK("PENDING"));
        fake_transport_add(t.fake, &(FakeReply) {
                                           .method = "GET", .status = 404,
                                           .body = "<?xml version=\"1.0\"?>\n<ErrorResponse xmlns=\"" XMLNS "\"><Error>"
                                                   "<Type>Sender</Type><Code>NoSuchChange</Code><Message>A change with "
                                                   "the specified change ID does not exist.</Message></Error>"
                                                   "</ErrorResponse>",
                                   });
        ASSERT_EQ(dns_publish(&p, &res), -ENOENT);
        ASSERT_EQ(path.failed_in, PATH_STATE_INSYNC);
        ASSERT_EQ(fake_transport_pending(t.fake), 0);
        test_aws_done(&t);
}

/* A fleet booting at once shares one account's five requests a second:
 * a read that stays throttled through the aws layer's attempts is tried
 * again under the deadline, not given up. */
/* n replies of Route 53's throttling error to requests of this method. */
static void add_throttled(TestAws *t, const char *method, unsigned n) {
        for (unsigned i = 0; i < n; i++)
                fake_transport_add(t->fake, &(FakeReply) {
                        .method = method, .status = 400,
                        .body = "<?xml version=\"1.0\"?>\n<ErrorResponse xmlns=\"" XMLNS "\"><Error>"
                                "<Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message>"
                                "</Error></ErrorResponse>" });
}

static void get_change_reply(TestAws *t, const char *body) {
        fake_transport_add(t->fake, &(FakeReply) { .method = "GET", .url = "/2013-04-01/change/C1", .body = body });
}

/* The polls for INSYNC come every 200 ms plus a twentieth of the time since
 * the change: INSYNC is seen within 5 % of the time it took plus 200 ms. */
static void test_insync_schedule(void) {
        _cleanup_(dns_result_done) DnsResult res = { .ttl = -1 };
        ConfigDns config = config_of(DNS_MODE_NODE);
        Path path = PATH_INIT("dns");
        usec_t elapsed = 0;
        DnsPublish p;
        TestAws t;

        ASSERT_OK(setup(&t));
        p = publish_args(&t, &path, &config);
        config.wait_in_sync = true;
        list_reply(&t, LIST(NEXT_SET));
        change_reply(&t, 200, CHANGE_OK("PENDING"));
        for (unsigned i = 0; i < 12; i++)
                get_change_reply(&t, GET_CHANGE("PENDING"));
        get_change_reply(&t, GET_CHANGE("INSYNC"));

        ASSERT_OK(dns_publish(&p, &res));
        ASSERT_TRUE(res.in_sync);
        ASSERT_EQ(fake_transport_pending(t.fake), 0);
        ASSERT_EQ(t.clock.n_sleeps, 13);
        for (unsigned i = 0; i < 13 && i < TEST_SLEEPS_MAX; i++) {
                ASSERT_EQ(t.clock.sleeps[i], 200 * USEC_PER_MSEC + elapsed / 20);
                elapsed += t.clock.sleeps[i];
        }
        test_aws_done(&t);
}

/* A poll Route 53 throttles is not tried again by the aws layer; from then
 * on this node polls no more often than a floor each throttled poll
 * raises, so that a fleet polling at once finds the account's rate. */
static void test_insync_throttled(void) {
        _cleanup_(dns_result_done) DnsResult res = { .ttl = -1 };
        ConfigDns config = config_of(DNS_MODE_NODE);
        Path path = PATH_INIT("dns");
        DnsPublish p;
        TestAws t;

        ASSERT_OK(setup(&t));
        t.clock.random = UINT64_MAX - 1;
        p = publish_args(&t, &path, &config);
        config.wait_in_sync = true;
        list_reply(&t, LIST(NEXT_SET));
        change_reply(&t, 200, CHANGE_OK("PENDING"));
        add_throttled(&t, "GET", 3);
        get_change_reply(&t, GET_CHANGE("PENDING"));
        get_change_reply(&t, GET_CHANGE("INSYNC"));

        ASSERT_OK(dns_publish(&p, &res));
        ASSERT_TRUE(res.in_sync);
        ASSERT_EQ(fake_transport_pending(t.fake), 0);
        /* One request per throttled poll: GET, POST, 3 throttled, 2 polls. */
        ASSERT_EQ(t.fake->n_requests, 7);
        ASSERT_EQ(t.clock.n_sleeps, 5);
        ASSERT_EQ(t.clock.sleeps[0], 200 * USEC_PER_MSEC);
        /* After throttled polls: draws under 1, 2 and 4 s, at least the floor
         * (half the last ceiling), ... */
        ASSERT_TRUE(t.clock.sleeps[1] >= 500 * USEC_PER_MSEC && t.clock.sleeps[1] <= 1 * USEC_PER_SEC);
        ASSERT_TRUE(t.clock.sleeps[2] >= 1 * USEC_PER_SEC && t.clock.sleeps[2] <= 2 * USEC_PER_SEC);
        ASSERT_TRUE(t.clock.sleeps[3] >= 2 * USEC_PER_SEC && t.clock.sleeps[3] <= 4 * USEC_PER_SEC);
        /* ... which stays after a poll that got through. */
        ASSERT_TRUE(t.clock.sleeps[4] >= 2 * USEC_PER_SEC);
        test_aws_done(&t);
}

static void test_throttled_read_is_tried_again(void) {
        _cleanup_(dns_result_done) DnsResult res = { .ttl = -1 };
        ConfigDns config = config_of(DNS_MODE_SHARED);
        Path path = PATH_INIT("dns");
        DnsPublish p;
        TestAws t;

        ASSERT_OK(setup(&t));
        p = publish_args(&t, &path, &config);
        add_throttled(&t, "GET", 8);
        list_reply(&t, LIST(RRSET(SHARED_NAME, 60, RR("10.0.1.5")) NEXT_SET));
        change_reply(&t, 200, CHANGE_OK("PENDING"));

        ASSERT_OK(dns_publish(&p, &res));
        ASSERT_EQ(t.fake->n_requests, 10);
        ASSERT_EQ(res.action, DNS_ACTION_REPLACE);
        ASSERT_EQ(fake_transport_pending(t.fake), 0);
        test_aws_done(&t);
}

/* A change Route 53 throttled was not applied. An UPSERT goes again as it
 * is, also once the aws layer's own attempts are used up, without a
 * request spent on reading the set again (a fleet shares five a second).
 * A compare-and-swap (shared) gets no attempts from the aws layer (the
 * throttling comes back at once) but goes again in short steps, 20 times,
 * while the read it was built on may still be good; after that it is built
 * again on a fresh read, as the set has most likely changed meanwhile. */
static void test_throttled_change(void) {
        _cleanup_(dns_result_done) DnsResult res = { .ttl = -1 };
        ConfigDns configs[] = { config_of(DNS_MODE_MULTIVALUE), config_of(DNS_MODE_NODE),
                                config_of(DNS_MODE_SHARED) };

        for (size_t c = 0; c < ELEMENTSOF(configs); c++) {
                bool shared = configs[c].mode == DNS_MODE_SHARED;
                unsigned throttled = shared ? 21 : 10;
                Path path = PATH_INIT("dns");
                DnsPublish p;
                TestAws t;

                ASSERT_OK(setup(&t));
                p = publish_args(&t, &path, &configs[c]);
                list_reply(&t, LIST(RRSET(SHARED_NAME, 60, RR("10.0.1.5")) NEXT_SET));
                add_throttled(&t, "POST", throttled);
                if (shared)
                        list_reply(&t, LIST(RRSET(SHARED_NAME, 60, RR("10.0.1.5") RR("10.0.1.7")) NEXT_SET));
                change_reply(&t, 200, CHANGE_OK("PENDING"));

                dns_result_done(&res);
                ASSERT_OK(dns_publish(&p, &res));
                ASSERT_EQ(fake_transport_pending(t.fake), 0);
                ASSERT_STREQ(t.fake->requests[0].method, "GET");
                for (size_t i = 1; i <= throttled; i++) {
                        ASSERT_STREQ(t.fake->requests[i].method, "POST");
                        ASSERT_STREQ(t.fake->requests[i].body, t.fake->requests[1].body);
                }
                if (shared) {
                        /* GET, 21 POSTs, GET, POST. */
                        ASSERT_EQ(t.fake->n_requests, 24);
                        ASSERT_STREQ(t.fake->requests[22].method, "GET");
                        ASSERT_NOT_NULL(strstr(t.fake->requests[23].body, RR("10.0.1.7") RR(IP)));
                        ASSERT_EQ(res.n_changes, 2);
                } else {
                        ASSERT_EQ(t.fake->n_requests, 12);
                        ASSERT_STREQ(t.fake->requests[11].body, t.fake->requests[1].body);
                        ASSERT_EQ(res.n_changes, 1);
                }
                ASSERT_EQ(res.n_conflicts, 0);
                ASSERT_STREQ(res.change_id, "C1");
                test_aws_done(&t);
        }
}

/* A compare-and-swap throttled a few times lands on the read it was built
 * on: no second read. The waits between are short (under a second). */
static void test_throttled_cas_sent_again(void) {
        _cleanup_(dns_result_done) DnsResult res = { .ttl = -1 };
        ConfigDns config = config_of(DNS_MODE_SHARED);
        Path path = PATH_INIT("dns");
        DnsPublish p;
        TestAws t;

        ASSERT_OK(setup(&t));
        t.clock.random = UINT64_MAX - 1;
        p = publish_args(&t, &path, &config);
        list_reply(&t, LIST(RRSET(SHARED_NAME, 60, RR("10.0.1.5")) NEXT_SET));
        add_throttled(&t, "POST", 3);
        change_reply(&t, 200, CHANGE_OK("PENDING"));

        ASSERT_OK(dns_publish(&p, &res));
        ASSERT_EQ(t.fake->n_requests, 5);
        ASSERT_EQ(fake_transport_pending(t.fake), 0);
        ASSERT_EQ(t.clock.n_sleeps, 3);
        for (unsigned i = 0; i < 3; i++)
                ASSERT_TRUE(t.clock.sleeps[i] < 1 * USEC_PER_SEC);
        ASSERT_EQ(res.n_changes, 1);
        ASSERT_EQ(res.action, DNS_ACTION_REPLACE);
        test_aws_done(&t);
}

/* The read made ahead (while the volume attaches) is where the publish
 * starts: no second read. A compare-and-swap built on it that Route 53
 * refuses (the set changed since) reads again. */
static void test_read_ahead(void) {
        ConfigDns multivalue = config_of(DNS_MODE_MULTIVALUE), shared = config_of(DNS_MODE_SHARED);
        _cleanup_(dns_result_done) DnsResult res = { .ttl = -1 };
        _cleanup_(dns_read_done) DnsRead ahead = {};
        Path path = PATH_INIT("dns");
        DnsPublish p;
        TestAws t;

        ASSERT_OK(setup(&t));
        p = publish_args(&t, &path, &multivalue);
        list_reply(&t, LIST(NEXT_SET));
        ASSERT_OK(dns_read_ahead(&p, &ahead));
        ASSERT_TRUE(ahead.done);
        ASSERT_FALSE(ahead.found);
        ASSERT_EQ(path.state, PATH_STATE_READ);
        change_reply(&t, 200, CHANGE_OK("PENDING"));
        p.read_ahead = &ahead;
        ASSERT_OK(dns_publish(&p, &res));
        ASSERT_EQ(t.fake->n_requests, 2);
        ASSERT_STREQ(t.fake->requests[1].method, "POST");
        ASSERT_EQ(res.action, DNS_ACTION_UPSERT);
        test_aws_done(&t);

        dns_read_done(&ahead);
        dns_result_done(&res);
        ASSERT_OK(setup(&t));
        p = publish_args(&t, &path, &shared);
        list_reply(&t, LIST(RRSET(SHARED_NAME, 60, RR("10.0.1.5")) NEXT_SET));
        ASSERT_OK(dns_read_ahead(&p, &ahead));
        ASSERT_TRUE(ahead.found);
        /* kafka-3 got in while the volume attached. */
        change_reply(&t, 400, REFUSED);
        list_reply(&t, LIST(RRSET(SHARED_NAME, 60, RR("10.0.1.5") RR("10.0.1.7")) NEXT_SET));
        change_reply(&t, 200, CHANGE_OK("PENDING"));
        p.read_ahead = &ahead;
        ASSERT_OK(dns_publish(&p, &res));
        ASSERT_EQ(t.fake->n_requests, 4);
        ASSERT_STREQ(t.fake->requests[1].method, "POST");
        ASSERT_STREQ(t.fake->requests[2].method, "GET");
        ASSERT_NOT_NULL(strstr(t.fake->requests[3].body, RR("10.0.1.5") RR("10.0.1.7") RR(IP)));
        ASSERT_EQ(res.n_conflicts, 1);
        /* Taken: a second publish reads for itself. */
        ASSERT_FALSE(ahead.found && ahead.set.values);
        test_aws_done(&t);
}

static void test_fatal_errors(void) {
        ConfigDns config = config_of(DNS_MODE_SHARED);
        Path path = PATH_INIT("dns");
        DnsPublish p;
        TestAws t;

        ASSERT_OK(setup(&t));
        p = publish_args(&t, &path, &config);
        test_add_reply(t.fake, 404, "route53-error-no-such-zone.xml", NULL);
        ASSERT_EQ(dns_publish(&p, NULL), -ENOENT);
        ASSERT_EQ(path.failed_in, PATH_STATE_READ);

        list_reply(&t, LIST(NEXT_SET));
        change_reply(&t, 403, "<?xml version=\"1.0\"?>\n<ErrorResponse xmlns=\"" XMLNS "\"><Error><Type>Sender</Type>"
                              "<Code>AccessDenied</Code><Message>not authorized</Message></Error></ErrorResponse>");
        ASSERT_EQ(dns_publish(&p, NULL), -EACCES);
        ASSERT_EQ(path.failed_in, PATH_STATE_CHANGE);

        list_reply(&t, LIST(NEXT_SET));
        change_reply(&t, 400, "<?xml version=\"1.0\"?>\n<ErrorResponse xmlns=\"" XMLNS "\"><Error><Type>Sender</Type>"
                              "<Code>InvalidInput</Code><Message>bad</Message></Error></ErrorResponse>");
        ASSERT_EQ(dns_publish(&p, NULL), -EREMOTEIO);

        p.ip = "not-an-ip";
        ASSERT_EQ(dns_publish(&p, NULL), -EINVAL);
        ASSERT_EQ(t.fake->n_requests, 5);
        ASSERT_EQ(fake_transport_pending(t.fake), 0);
        test_aws_done(&t);
}

static void test_unpublish(void) {
        _cleanup_(dns_result_done) DnsResult res = { .ttl = -1 };
        ConfigDns shared = config_of(DNS_MODE_SHARED), node = config_of(DNS_MODE_NODE);
        Path path = PATH_INIT("dns");
        DnsPublish p;
        TestAws t;

        ASSERT_OK(setup(&t));
        p = publish_args(&t, &path, &shared);
        list_reply(&t, LIST(RRSET(SHARED_NAME, 300, RR(IP) RR("10.0.1.5")) NEXT_SET));
        change_reply(&t, 200, CHANGE_OK("PENDING"));
        ASSERT_OK(dns_unpublish(&p, &res));
        ASSERT_NOT_NULL(strstr(t.fake->requests[1].body,
                               "<Action>DELETE</Action><ResourceRecordSet><Name>" SHARED_NAME "</Name><Type>A</Type>"
                               "<TTL>300</TTL><ResourceRecords>" RR(IP) RR("10.0.1.5") "</ResourceRecords>"
                               "</ResourceRecordSet></Change><Change><Action>CREATE</Action><ResourceRecordSet><Name>"
                               SHARED_NAME "</Name><Type>A</Type><TTL>300</TTL><ResourceRecords>" RR("10.0.1.5")
                               "</ResourceRecords>"));
        ASSERT_EQ(res.action, DNS_ACTION_REPLACE);

        /* The last IP: the set goes. */
        dns_result_done(&res);
        list_reply(&t, LIST(RRSET(SHARED_NAME, 60, RR(IP)) NEXT_SET));
        change_reply(&t, 200, CHANGE_OK("PENDING"));
        ASSERT_OK(dns_unpublish(&p, &res));
        ASSERT_NOT_NULL(strstr(t.fake->requests[3].body,
                               "<Changes><Change><Action>DELETE</Action><ResourceRecordSet><Name>" SHARED_NAME
                               "</Name><Type>A</Type><TTL>60</TTL><ResourceRecords>" RR(IP)
                               "</ResourceRecords></ResourceRecordSet></Change></Changes>"));
        ASSERT_EQ(res.action, DNS_ACTION_DELETE);
        ASSERT_NULL(res.values[0]);

        /* A node record that points at a successor stays. */
        dns_result_done(&res);
        p = publish_args(&t, &path, &node);
        list_reply(&t, LIST(RRSET(NODE_NAME, 60, RR("10.0.1.5")) NEXT_SET));
        ASSERT_OK(dns_unpublish(&p, &res));
        ASSERT_EQ(res.action, DNS_ACTION_NONE);
        ASSERT_EQ(t.fake->n_requests, 5);
        ASSERT_EQ(fake_transport_pending(t.fake), 0);
        test_aws_done(&t);
}

int main(int argc, char *argv[]) {
        static char names[ELEMENTSOF(values_cases)][64];

        if (argc > 1)
                test_replies_dir = argv[1];
        log_set_show_priority(false);

        for (size_t i = 0; i < ELEMENTSOF(values_cases); i++) {
                (void) snprintf(names[i], sizeof(names[i]), "values %zu: %s %s", i,
                                values_cases[i].add ? "with" : "without", values_cases[i].ip);
                RUN_TEST_WITH(names[i], test_values_case, &values_cases[i]);
        }
        RUN_TEST(test_values_equal);
        for (size_t i = 0; i < ELEMENTSOF(plan_cases); i++)
                RUN_TEST_WITH(plan_cases[i].name, test_plan_case, &plan_cases[i]);
        RUN_TEST(test_plan_replacing);
        RUN_TEST(test_plan_bad_arguments);
        RUN_TEST(test_node_already_right);
        RUN_TEST(test_node_upsert);
        RUN_TEST(test_multivalue);
        RUN_TEST(test_shared_create);
        RUN_TEST(test_shared_add);
        RUN_TEST(test_shared_already_present);
        RUN_TEST(test_shared_conflict_then_success);
        RUN_TEST(test_shared_keeps_trying_until_the_deadline);
        RUN_TEST(test_refused_for_another_reason);
        RUN_TEST(test_alias_refused);
        RUN_TEST(test_lost_reply);
        RUN_TEST(test_wait_in_sync);
        RUN_TEST(test_insync_schedule);
        RUN_TEST(test_insync_throttled);
        RUN_TEST(test_throttled_read_is_tried_again);
        RUN_TEST(test_throttled_change);
        RUN_TEST(test_throttled_cas_sent_again);
        RUN_TEST(test_read_ahead);
        RUN_TEST(test_fatal_errors);
        RUN_TEST(test_unpublish);
        return tests_finish();
}
