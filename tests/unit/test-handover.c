/* SPDX-License-Identifier: Apache-2.0 */
/* The handover's pure parts (handover.h): the prompt, EC2's launch times,
 * the holder's judgement; and the holder's look and the boot's check
 * through the fake transport, against a small simulation of EC2: one
 * volume, one ENI, a few instances with their states, tags and launch
 * times. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "aws-test-util.h"
#include "handover.h"
#include "tests.h"

#define ME "i-0aaaaaaaaaaaaaaa1"
#define NEW "i-0bbbbbbbbbbbbbbb2"
#define NEWER "i-0ccccccccccccccc3"
#define OLD "i-0ddddddddddddddd4"
#define VOLUME "vol-0123456789abcdef0"
#define ENI "eni-0123456789abcdef0"
#define NODE "kafka-1"

/* ---- pure parts ---- */

static void test_prompt_round_trip(void) {
        _cleanup_free_ char *requester = NULL, *node = NULL;
        char buf[256];

        ASSERT_OK(handover_format_prompt(NEW, NODE, buf, sizeof(buf)));
        ASSERT_STREQ(buf, "nodeagent-handover 1 " NEW " " NODE "\n");
        ASSERT_OK(handover_parse_prompt(buf, strlen(buf), &requester, &node));
        ASSERT_STREQ(requester, NEW);
        ASSERT_STREQ(node, NODE);

        ASSERT_EQ(handover_format_prompt("i-1 2", NODE, buf, sizeof(buf)), -EINVAL);
        ASSERT_EQ(handover_format_prompt(NEW, "", buf, sizeof(buf)), -EINVAL);
        ASSERT_EQ(handover_format_prompt(NEW, NODE, buf, 10), -ENOBUFS);
}

static void test_prompt_refusals(void) {
        static const char *const bad[] = {
                "",
                "nodeagent-handover 1 i-1 kafka-1",             /* no newline */
                "nodeagent-handover 2 i-1 kafka-1\n",           /* another version */
                "nodeagent-handover 1 i-1\n",
                "nodeagent-handover 1  kafka-1\n",
                "nodeagent-handover 1 i-1 kafka-1 more\n",
                "nodeagent-handover 1 i-1 kafka-1\n\n",
                "hello\n",
        };
        char *requester = NULL, *node = NULL;

        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                ASSERT_EQ(handover_parse_prompt(bad[i], strlen(bad[i]), &requester, &node), -EBADMSG);
        /* A NUL inside is not a word character. */
        ASSERT_EQ(handover_parse_prompt("nodeagent-handover 1 i-1\0 k\n", 28, &requester, &node), -EBADMSG);
        ASSERT_NULL(requester);
        ASSERT_NULL(node);
}

static void test_parse_time(void) {
        usec_t t;

        ASSERT_OK(handover_parse_time("2024-01-01T00:00:00.000Z", &t));
        ASSERT_EQ(t, 1704067200ULL * USEC_PER_SEC);
        ASSERT_OK(handover_parse_time("2024-01-01T00:00:01Z", &t));
        ASSERT_EQ(t, 1704067201ULL * USEC_PER_SEC);
        ASSERT_OK(handover_parse_time("2024-01-01T00:00:00.25Z", &t));
        ASSERT_EQ(t, 1704067200ULL * USEC_PER_SEC + 250000);
        ASSERT_OK(handover_parse_time("2024-01-01T00:00:00.123456789Z", &t));
        ASSERT_EQ(t, 1704067200ULL * USEC_PER_SEC + 123456);

        ASSERT_EQ(handover_parse_time(NULL, &t), -EBADMSG);
        ASSERT_EQ(handover_parse_time("", &t), -EBADMSG);
        ASSERT_EQ(handover_parse_time("2024-01-01T00:00:00", &t), -EBADMSG);
        ASSERT_EQ(handover_parse_time("2024-01-01T00:00:00.Z", &t), -EBADMSG);
        ASSERT_EQ(handover_parse_time("2024-01-01 00:00:00Z", &t), -EBADMSG);
        ASSERT_EQ(handover_parse_time("2024-02-30T00:00:00Z", &t), -EBADMSG);
        ASSERT_EQ(handover_parse_time("2024-01-01T00:00:00+01:00", &t), -EBADMSG);
        ASSERT_EQ(handover_parse_time(" 024-01-01T00:00:00Z", &t), -EBADMSG);
}

static Ec2Tag node_tag[] = { { .key = (char *) HANDOVER_TAG_NODE, .value = (char *) NODE } };
static Ec2Tag other_tag[] = { { .key = (char *) HANDOVER_TAG_NODE, .value = (char *) "kafka-2" } };

static Ec2Instance instance(const char *id, const char *state, const char *launch, Ec2Tag *tags) {
        return (Ec2Instance) {
                .id = (char *) id,
                .state = (char *) state,
                .launch_time = (char *) launch,
                .tags = tags,
                .n_tags = tags ? 1 : 0,
        };
}

static void test_judge(void) {
        usec_t me;
        Ec2Instance new = instance(NEW, "running", "2024-01-02T00:00:00.000Z", node_tag);
        Ec2Instance newer = instance(NEWER, "running", "2024-01-03T00:00:00.000Z", node_tag);
        Ec2Instance stopped_newer = instance(NEWER, "stopped", "2024-01-03T00:00:00.000Z", node_tag);
        Ec2Instance both[] = { new, newer };
        HandoverFacts f;

        ASSERT_OK(handover_parse_time("2024-01-01T00:00:00.000Z", &me));
        f = (HandoverFacts) { .node_name = NODE, .self_launch = me, .requester = &new };
        ASSERT_EQ(handover_judge(&f), HANDOVER_ACCEPT);

        /* With the node's other running instances: only the newest. */
        f.node_instances = both;
        f.n_node_instances = 2;
        ASSERT_EQ(handover_judge(&f), HANDOVER_NOT_NEWEST);
        f.requester = &newer;
        ASSERT_EQ(handover_judge(&f), HANDOVER_ACCEPT);
        f.node_instances = &stopped_newer;
        f.n_node_instances = 1;
        f.requester = &new;
        ASSERT_EQ(handover_judge(&f), HANDOVER_ACCEPT);
        f.node_instances = NULL;
        f.n_node_instances = 0;

        /* The forged or stale ones. */
        f.requester = NULL;
        ASSERT_EQ(handover_judge(&f), HANDOVER_UNKNOWN);
        f.requester = &(Ec2Instance) { .id = (char *) NEW, .state = (char *) "stopped",
                                       .launch_time = new.launch_time, .tags = node_tag, .n_tags = 1 };
        ASSERT_EQ(handover_judge(&f), HANDOVER_NOT_RUNNING);
        f.requester = &(Ec2Instance) { .id = (char *) NEW, .state = (char *) "pending",
                                       .launch_time = new.launch_time, .tags = node_tag, .n_tags = 1 };
        ASSERT_EQ(handover_judge(&f), HANDOVER_NOT_RUNNING);
        f.requester = &(Ec2Instance) { .id = (char *) NEW, .state = (char *) "running",
                                       .launch_time = new.launch_time, .tags = other_tag, .n_tags = 1 };
        ASSERT_EQ(handover_judge(&f), HANDOVER_OTHER_NODE);
        f.requester = &(Ec2Instance) { .id = (char *) NEW, .state = (char *) "running",
                                       .launch_time = new.launch_time };
        ASSERT_EQ(handover_judge(&f), HANDOVER_OTHER_NODE);
        f.requester = &(Ec2Instance) { .id = (char *) OLD, .state = (char *) "running",
                                       .launch_time = (char *) "2023-12-31T00:00:00.000Z", .tags = node_tag,
                                       .n_tags = 1 };
        ASSERT_EQ(handover_judge(&f), HANDOVER_NOT_LATER);
        f.requester = &(Ec2Instance) { .id = (char *) OLD, .state = (char *) "running",
                                       .launch_time = (char *) "2024-01-01T00:00:00.000Z", .tags = node_tag,
                                       .n_tags = 1 };
        ASSERT_EQ(handover_judge(&f), HANDOVER_NOT_LATER);
        f.requester = &(Ec2Instance) { .id = (char *) NEW, .state = (char *) "running", .tags = node_tag,
                                       .n_tags = 1 };
        ASSERT_EQ(handover_judge(&f), HANDOVER_NOT_LATER);

        /* This instance's own launch time unknown: nothing is later. */
        f.requester = &new;
        f.self_launch = 0;
        ASSERT_EQ(handover_judge(&f), HANDOVER_NOT_LATER);
        /* No node name: no request is this node's. */
        f.self_launch = me;
        f.node_name = NULL;
        ASSERT_EQ(handover_judge(&f), HANDOVER_OTHER_NODE);

        for (int v = 0; v < _HANDOVER_VERDICT_MAX; v++)
                ASSERT_NOT_NULL(handover_verdict_to_string(v));
        ASSERT_NULL(handover_verdict_to_string(_HANDOVER_VERDICT_MAX));
}

/* ---- the look and the boot's check, through the fake transport ---- */

typedef struct SimInstance {
        const char *id;
        const char *state;
        const char *launch;
        const char *node;               /* its nodeagent:node tag; NULL: none */
} SimInstance;

typedef struct Sim {
        const char *volume_to, *eni_to; /* handover-to on each; NULL: none */
        const char *volume_by, *eni_by; /* handed-over-by on each */
        SimInstance instances[4];
        unsigned n_volumes, n_enis, n_instances, n_filtered;
} Sim;

static void append(char **buf, const char *format, ...) _printf_(2, 3);
static void append(char **buf, const char *format, ...) {
        _cleanup_free_ char *more = NULL;
        char *joined;
        va_list ap;

        va_start(ap, format);
        if (vasprintf(&more, format, ap) < 0)
                abort();
        va_end(ap);
        if (asprintf(&joined, "%s%s", *buf ? *buf : "", more) < 0)
                abort();
        free(*buf);
        *buf = joined;
}

static void append_tags(char **xml, const char *to, const char *by) {
        append(xml, "<tagSet>");
        if (to)
                append(xml, "<item><key>" HANDOVER_TAG_TO "</key><value>%s</value></item>", to);
        if (by)
                append(xml, "<item><key>" HANDOVER_TAG_BY "</key><value>%s</value></item>", by);
        append(xml, "</tagSet>");
}

/* The filter values of Filter.1 and Filter.2 as the request sent them. */
static bool filter_matches(const char *body, const SimInstance *i) {
        for (int k = 1; k <= 2; k++) {
                _cleanup_free_ char *name = NULL;
                bool any = false;
                char key[64];

                (void) snprintf(key, sizeof(key), "Filter.%d.Name", k);
                name = test_form_value(body, key);
                if (!name)
                        break;
                for (int v = 1; v <= 8; v++) {
                        _cleanup_free_ char *value = NULL;

                        (void) snprintf(key, sizeof(key), "Filter.%d.Value.%d", k, v);
                        value = test_form_value(body, key);
                        if (!value)
                                break;
                        if (streq(name, "instance-id"))
                                any = any || streq(value, i->id);
                        else if (streq(name, "instance-state-name"))
                                any = any || streq(value, i->state);
                        else if (streq(name, "tag%3Anodeagent%3Anode"))
                                any = any || streq_ptr(value, i->node);
                        else
                                abort();
                }
                if (!any)
                        return false;
        }
        return true;
}

/* A resource matches the handed-over-by filter when it carries the value. */
static bool by_matches(const char *body, const char *by) {
        _cleanup_free_ char *name = test_form_value(body, "Filter.1.Name");
        _cleanup_free_ char *value = test_form_value(body, "Filter.1.Value.1");

        if (!name)
                return true;
        if (!streq(name, "tag%3Anodeagent%3Ahanded-over-by"))
                abort();
        return streq_ptr(by, value);
}

static int sim_handler(FakeTransport *f, const HttpRequest *request, HttpResponse *ret, void *userdata) {
        Sim *s = userdata;
        _cleanup_free_ char *action = test_form_value(request->body, "Action");
        _cleanup_free_ char *xml = NULL;

        if (streq_ptr(action, "DescribeVolumes")) {
                s->n_volumes++;
                append(&xml, "<DescribeVolumesResponse><requestId>r</requestId><volumeSet>");
                if (by_matches(request->body, s->volume_by)) {
                        append(&xml, "<item><volumeId>" VOLUME "</volumeId><availabilityZone>us-east-1a"
                               "</availabilityZone><status>in-use</status><attachmentSet/>");
                        append_tags(&xml, s->volume_to, s->volume_by);
                        append(&xml, "</item>");
                }
                append(&xml, "</volumeSet></DescribeVolumesResponse>");
        } else if (streq_ptr(action, "DescribeNetworkInterfaces")) {
                s->n_enis++;
                append(&xml, "<DescribeNetworkInterfacesResponse><requestId>r</requestId><networkInterfaceSet>");
                if (by_matches(request->body, s->eni_by)) {
                        append(&xml, "<item><networkInterfaceId>" ENI "</networkInterfaceId><status>in-use"
                               "</status>");
                        append_tags(&xml, s->eni_to, s->eni_by);
                        append(&xml, "</item>");
                }
                append(&xml, "</networkInterfaceSet></DescribeNetworkInterfacesResponse>");
        } else if (streq_ptr(action, "DescribeInstances")) {
                _cleanup_free_ char *by_id = test_form_value(request->body, "InstanceId.1");

                s->n_instances++;
                /* Only by filters: ids EC2 forgot must not fail the call. */
                if (by_id)
                        abort();
                append(&xml, "<DescribeInstancesResponse><requestId>r</requestId><reservationSet><item>"
                       "<reservationId>r-1</reservationId><instancesSet>");
                for (size_t i = 0; i < ELEMENTSOF(s->instances) && s->instances[i].id; i++) {
                        const SimInstance *in = &s->instances[i];

                        if (!filter_matches(request->body, in))
                                continue;
                        s->n_filtered++;
                        append(&xml, "<item><instanceId>%s</instanceId><instanceState><code>16</code><name>%s"
                               "</name></instanceState><launchTime>%s</launchTime><tagSet>", in->id, in->state,
                               in->launch);
                        if (in->node)
                                append(&xml, "<item><key>" HANDOVER_TAG_NODE "</key><value>%s</value></item>",
                                       in->node);
                        append(&xml, "</tagSet></item>");
                }
                append(&xml, "</instancesSet></item></reservationSet></DescribeInstancesResponse>");
        } else
                abort();
        fake_response_fill(ret, 200, xml, NULL);
        return 0;
}

typedef struct Look {
        TestAws t;
        Sim sim;
        HandoverHolder holder;
} Look;

static int look_setup(Look *l) {
        int r = test_aws_init(&l->t, NULL);

        if (r < 0)
                return r;
        fake_transport_set_handler(l->t.fake, sim_handler, &l->sim);
        l->holder = (HandoverHolder) { .aws = l->t.client, .instance_id = ME, .node_name = NODE };
        /* This instance, launched first, unless the test says otherwise. */
        if (!l->sim.instances[0].id)
                l->sim.instances[0] = (SimInstance) { ME, "running", "2024-01-01T00:00:00.000Z", NODE };
        return 0;
}

static void look_done(Look *l) {
        handover_holder_done(&l->holder);
        test_aws_done(&l->t);
}

static int look(Look *l, char **ret) {
        const char *ids[] = { VOLUME, NULL };

        return handover_look(&l->holder, ids, ENI, test_aws_deadline(&l->t, USEC_PER_MINUTE), ret);
}

#define SIM_NEW { NEW, "running", "2024-01-02T00:00:00.000Z", NODE }

static void test_look_without_request(void) {
        Look l = { .sim = { .instances = { [1] = SIM_NEW } } };
        char *to = NULL;

        ASSERT_OK(look_setup(&l));
        ASSERT_EQ(look(&l, &to), 0);
        ASSERT_NULL(to);
        /* Two reads, no instance looked at. */
        ASSERT_EQ(l.sim.n_volumes, 1);
        ASSERT_EQ(l.sim.n_enis, 1);
        ASSERT_EQ(l.sim.n_instances, 0);

        /* A tag naming this instance is history: the node came here. */
        l.sim.volume_to = ME;
        ASSERT_EQ(look(&l, &to), 0);
        ASSERT_EQ(l.sim.n_instances, 0);
        look_done(&l);
}

static void test_look_accepts_the_new_instance(void) {
        Look l = { .sim = { .volume_to = NEW, .instances = { [1] = SIM_NEW } } };
        _cleanup_free_ char *to = NULL;

        ASSERT_OK(look_setup(&l));
        ASSERT_EQ(look(&l, &to), 1);
        ASSERT_STREQ(to, NEW);
        ASSERT_EQ(l.holder.launch_time, 1704067200ULL * USEC_PER_SEC);
        look_done(&l);
}

static void test_look_refuses_forged_requests(void) {
        static const SimInstance forged[] = {
                { NEW, "running", "2024-01-02T00:00:00.000Z", "kafka-2" },      /* another node's */
                { NEW, "running", "2024-01-02T00:00:00.000Z", NULL },           /* no node at all */
                { NEW, "stopped", "2024-01-02T00:00:00.000Z", NODE },
                { NEW, "running", "2023-12-31T00:00:00.000Z", NODE },           /* launched before */
                { NULL, NULL, NULL, NULL },                                     /* unknown to EC2 */
        };

        for (size_t i = 0; i < ELEMENTSOF(forged); i++) {
                Look l = { .sim = { .eni_to = NEW, .instances = { [1] = forged[i] } } };
                char *to = NULL;

                ASSERT_OK(look_setup(&l));
                ASSERT_EQ(look(&l, &to), 0);
                ASSERT_NULL(to);
                /* Reported once, then quietly. */
                ASSERT_EQ(l.holder.n_refused, 1);
                ASSERT_EQ(look(&l, &to), 0);
                ASSERT_EQ(l.holder.n_refused, 1);
                look_done(&l);
        }
}

static void test_look_two_requesters(void) {
        Look l = { .sim = {
                .volume_to = NEW,
                .eni_to = NEWER,
                .instances = { [1] = SIM_NEW, [2] = { NEWER, "running", "2024-01-03T00:00:00.000Z", NODE } },
        } };
        _cleanup_free_ char *to = NULL;

        ASSERT_OK(look_setup(&l));
        ASSERT_EQ(look(&l, &to), 1);
        ASSERT_STREQ(to, NEWER);
        look_done(&l);

        /* Only the older one asked (or its tags came last): the node still
         * goes to the newest, which attaches what it finds free. */
        l = (Look) { .sim = {
                .volume_to = NEW,
                .eni_to = NEW,
                .instances = { [1] = SIM_NEW, [2] = { NEWER, "running", "2024-01-03T00:00:00.000Z", NODE } },
        } };
        to = mfree(to);
        ASSERT_OK(look_setup(&l));
        ASSERT_EQ(look(&l, &to), 1);
        ASSERT_STREQ(to, NEWER);
        look_done(&l);

        /* A newer one of another node does not count. */
        l = (Look) { .sim = {
                .volume_to = NEW,
                .instances = { [1] = SIM_NEW, [2] = { NEWER, "running", "2024-01-03T00:00:00.000Z", "kafka-2" } },
        } };
        to = mfree(to);
        ASSERT_OK(look_setup(&l));
        ASSERT_EQ(look(&l, &to), 1);
        ASSERT_STREQ(to, NEW);
        look_done(&l);
}

static void test_given_handover_stands(void) {
        Look l = { .sim = { .volume_to = NEW, .volume_by = ME, .instances = { [1] = SIM_NEW } } };
        _cleanup_free_ char *to = NULL;

        ASSERT_OK(look_setup(&l));
        ASSERT_EQ(handover_given(&l.holder, test_aws_deadline(&l.t, USEC_PER_MINUTE), &to), 1);
        ASSERT_STREQ(to, NEW);
        look_done(&l);

        /* Nothing handed over by this instance: one read of each kind. */
        l = (Look) { .sim = { .volume_to = NEW, .volume_by = OLD, .instances = { [1] = SIM_NEW } } };
        to = mfree(to);
        ASSERT_OK(look_setup(&l));
        ASSERT_EQ(handover_given(&l.holder, test_aws_deadline(&l.t, USEC_PER_MINUTE), &to), 0);
        ASSERT_EQ(l.sim.n_instances, 0);
        look_done(&l);

        /* Handed over to one that died since: the node comes back. */
        l = (Look) { .sim = { .eni_to = NEW, .eni_by = ME,
                              .instances = { [1] = { NEW, "terminated", "2024-01-02T00:00:00.000Z", NODE } } } };
        ASSERT_OK(look_setup(&l));
        ASSERT_EQ(handover_given(&l.holder, test_aws_deadline(&l.t, USEC_PER_MINUTE), &to), 0);
        ASSERT_NULL(to);
        look_done(&l);
}

static void test_newer_requester(void) {
        Look l = { .sim = { .instances = { [1] = SIM_NEW,
                                          [2] = { NEWER, "running", "2024-01-03T00:00:00.000Z", NODE } } } };
        _cleanup_free_ char *newer = NULL;
        usec_t deadline;

        ASSERT_OK(look_setup(&l));
        deadline = test_aws_deadline(&l.t, USEC_PER_MINUTE);
        ASSERT_EQ(handover_newer_requester(l.t.client, NEW, NODE, deadline, &newer), 1);
        ASSERT_STREQ(newer, NEWER);
        newer = mfree(newer);
        ASSERT_EQ(handover_newer_requester(l.t.client, NEWER, NODE, deadline, &newer), 0);
        ASSERT_NULL(newer);
        /* Not an instance of the node: nothing to compare with. */
        ASSERT_EQ(handover_newer_requester(l.t.client, OLD, NODE, deadline, &newer), 0);
        look_done(&l);
}

static void test_look_interval(void) {
        ASSERT_OK(unsetenv(HANDOVER_TEST_INTERVAL_ENV));
        ASSERT_EQ(handover_look_interval(), 60 * USEC_PER_SEC);
        ASSERT_OK(setenv(HANDOVER_TEST_INTERVAL_ENV, "2s", 1));
        ASSERT_EQ(handover_look_interval(), 2 * USEC_PER_SEC);
        ASSERT_OK(setenv(HANDOVER_TEST_INTERVAL_ENV, "nonsense", 1));
        ASSERT_EQ(handover_look_interval(), 60 * USEC_PER_SEC);
        ASSERT_OK(unsetenv(HANDOVER_TEST_INTERVAL_ENV));
}

int main(int argc, char *argv[]) {
        RUN_TEST(test_prompt_round_trip);
        RUN_TEST(test_prompt_refusals);
        RUN_TEST(test_parse_time);
        RUN_TEST(test_judge);
        RUN_TEST(test_look_without_request);
        RUN_TEST(test_look_accepts_the_new_instance);
        RUN_TEST(test_look_refuses_forged_requests);
        RUN_TEST(test_look_two_requesters);
        RUN_TEST(test_given_handover_stands);
        RUN_TEST(test_newer_requester);
        RUN_TEST(test_look_interval);
        return tests_finish();
}
