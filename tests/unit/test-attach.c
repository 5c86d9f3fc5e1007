/* SPDX-License-Identifier: Apache-2.0 */
/* The attach lifecycle (attach.c) with a volume's EC2 operations (volume.c)
 * through the fake transport, against a small simulation of EC2's volume
 * attachments, on the test clock: hours of polling run in microseconds.
 * The local side (the block device) is simulated too: it "appears" once
 * EC2 reports the volume attached here. */
#include <stdio.h>
#include <stdlib.h>

#include "attach.h"
#include "aws-test-util.h"
#include "tests.h"
#include "volume.h"
#include "wait.h"

#define VOLUME "vol-0123456789abcdef0"
#define ME "i-0123456789abcdef0"
#define HOLDER "i-0fedcba9876543210"
#define AZ "us-east-1a"

/* EC2 as far as the lifecycle sees it. A countdown of 0 means "never". */
typedef struct Sim {
        char holder_attachment[16];     /* the holder's attachment: "", attached, detaching */
        char holder_state[16];          /* the holder instance's state */
        int holder_lets_go_after;       /* DescribeVolumes until the holder detaches by itself */
        int holder_dies_after;          /* DescribeInstances until the holder is terminated */

        char mine[16];                  /* our attachment: "", attaching, attached, detaching */
        int attach_takes;               /* DescribeVolumes from attaching to attached; 0: stuck */
        bool first_attach_sticks;       /* only the first attach is stuck */
        bool lose_first_attach_reply;   /* the first AttachVolume applies, its reply is a 503 */

        unsigned n_describe, n_attach, n_detach, n_force_detach, n_instances;
        int countdown_attach, countdown_mine_detach;
} Sim;

static char *volumes_reply(const Sim *s) {
        char *xml = NULL, items[512] = "";
        int k = 0;

        if (s->holder_attachment[0])
                k += snprintf(items + k, sizeof(items) - (size_t) k,
                              "<item><volumeId>" VOLUME "</volumeId><instanceId>" HOLDER "</instanceId>"
                              "<device>/dev/sdf</device><status>%s</status></item>", s->holder_attachment);
        if (s->mine[0])
                (void) snprintf(items + k, sizeof(items) - (size_t) k,
                                "<item><volumeId>" VOLUME "</volumeId><instanceId>" ME "</instanceId>"
                                "<device>/dev/sdf</device><status>%s</status></item>", s->mine);
        if (asprintf(&xml, "<DescribeVolumesResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\">"
                     "<requestId>r</requestId><volumeSet><item><volumeId>" VOLUME "</volumeId><size>8</size>"
                     "<availabilityZone>" AZ "</availabilityZone><status>%s</status><attachmentSet>%s"
                     "</attachmentSet><tagSet/></item></volumeSet></DescribeVolumesResponse>",
                     items[0] ? "in-use" : "available", items) < 0)
                abort();
        return xml;
}

static char *instances_reply(const Sim *s) {
        char *xml = NULL;

        if (asprintf(&xml, "<DescribeInstancesResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\">"
                     "<requestId>r</requestId><reservationSet><item><reservationId>r-1</reservationId>"
                     "<instancesSet><item><instanceId>" HOLDER "</instanceId><instanceState><code>0</code>"
                     "<name>%s</name></instanceState><placement><availabilityZone>" AZ "</availabilityZone>"
                     "</placement></item></instancesSet></item></reservationSet></DescribeInstancesResponse>",
                     s->holder_state) < 0)
                abort();
        return xml;
}

static void error_reply(HttpResponse *ret, long status, const char *code, const char *message) {
        _cleanup_free_ char *xml = NULL;

        if (asprintf(&xml, "<Response><Errors><Error><Code>%s</Code><Message>%s</Message></Error></Errors>"
                     "<RequestID>r</RequestID></Response>", code, message) < 0)
                abort();
        fake_response_fill(ret, status, xml, NULL);
}

/* Time passes in EC2 between two looks at a volume. */
static void sim_tick(Sim *s) {
        if (s->holder_lets_go_after > 0 && --s->holder_lets_go_after == 0)
                s->holder_attachment[0] = '\0';
        if (streq(s->holder_attachment, "detaching"))
                s->holder_attachment[0] = '\0';
        if (streq(s->mine, "attaching") && s->countdown_attach > 0 && --s->countdown_attach == 0)
                strcpy(s->mine, "attached");
        if (streq(s->mine, "detaching") && s->countdown_mine_detach > 0 && --s->countdown_mine_detach == 0)
                s->mine[0] = '\0';
}

static int sim_attach(Sim *s, HttpResponse *ret) {
        s->n_attach++;
        if (s->holder_attachment[0] || s->mine[0]) {
                error_reply(ret, 400, "VolumeInUse", "vol-0123456789abcdef0 is already attached to an instance");
                return 0;
        }
        strcpy(s->mine, "attaching");
        s->countdown_attach = s->first_attach_sticks && s->n_attach == 1 ? 0 : s->attach_takes;
        if (s->lose_first_attach_reply && s->n_attach == 1) {
                error_reply(ret, 503, "ServiceUnavailable", "lost");
                return 0;
        }
        fake_response_fill(ret, 200, "<AttachVolumeResponse><requestId>r</requestId><volumeId>" VOLUME
                           "</volumeId><instanceId>" ME "</instanceId><device>/dev/sdf</device>"
                           "<status>attaching</status></AttachVolumeResponse>", NULL);
        return 0;
}

static int sim_detach(Sim *s, const char *body, HttpResponse *ret) {
        _cleanup_free_ char *force = test_form_value(body, "Force");
        _cleanup_free_ char *instance = test_form_value(body, "InstanceId");

        s->n_detach++;
        if (streq_ptr(force, "true"))
                s->n_force_detach++;
        if (streq_ptr(instance, ME)) {
                strcpy(s->mine, "detaching");
                s->countdown_mine_detach = 1;
        } else
                strcpy(s->holder_attachment, "detaching");
        fake_response_fill(ret, 200, "<DetachVolumeResponse><requestId>r</requestId><volumeId>" VOLUME
                           "</volumeId><status>detaching</status></DetachVolumeResponse>", NULL);
        return 0;
}

static int sim_handler(FakeTransport *f, const HttpRequest *request, HttpResponse *ret, void *userdata) {
        Sim *s = userdata;
        _cleanup_free_ char *action = test_form_value(request->body, "Action");
        _cleanup_free_ char *xml = NULL;

        if (streq_ptr(action, "DescribeVolumes")) {
                s->n_describe++;
                sim_tick(s);
                xml = volumes_reply(s);
        } else if (streq_ptr(action, "DescribeInstances")) {
                s->n_instances++;
                if (s->holder_dies_after > 0 && --s->holder_dies_after == 0)
                        strcpy(s->holder_state, "terminated");
                xml = instances_reply(s);
        } else if (streq_ptr(action, "AttachVolume"))
                return sim_attach(s, ret);
        else if (streq_ptr(action, "DetachVolume"))
                return sim_detach(s, request->body, ret);
        else
                abort();
        fake_response_fill(ret, 200, xml, NULL);
        return 0;
}

/* The block device shows up once EC2 says attached. */
static Sim *local_sim;

static int fake_wait_local(Attach *a, usec_t until) {
        int r;

        if (streq(local_sim->mine, "attached"))
                return 1;
        r = wait_until(until);
        return r < 0 ? r : 0;
}

static void fake_local_done(Attach *a) {
}

typedef struct Run {
        TestAws t;
        Sim sim;
        AttachOps ops;
        ConfigVolume config;
        Path path;
        Volume volume;
} Run;

static int run_setup(Run *r, TakeOverPolicy policy, usec_t take_over_timeout) {
        int k;

        k = test_aws_init(&r->t, NULL);
        if (k < 0)
                return k;
        fake_transport_set_handler(r->t.fake, sim_handler, &r->sim);
        local_sim = &r->sim;
        r->ops = *volume_attach_ops();
        r->ops.wait_local = fake_wait_local;
        r->ops.local_done = fake_local_done;
        r->config = (ConfigVolume) {
                .id = (char *) VOLUME,
                .device = (char *) "/dev/sdf",
                .take_over = policy,
                .take_over_timeout = take_over_timeout,
        };
        r->path = PATH_INIT("volume");
        volume_init(&r->volume, &r->config, &r->path, r->t.client, ME, AZ,
                    test_aws_deadline(&r->t, 15 * USEC_PER_MINUTE));
        r->volume.attach.ops = &r->ops;
        if (!r->sim.holder_state[0])
                strcpy(r->sim.holder_state, "running");
        return 0;
}

static void run_done(Run *r) {
        volume_done(&r->volume);
        test_aws_done(&r->t);
}

/* The rule that protects data: a live holder may still be writing, so it
 * is never force-detached, however long it holds on. */
static void test_live_holder_is_never_force_detached(void) {
        Run r = { .sim = { .holder_attachment = "attached", .attach_takes = 1 } };

        ASSERT_OK(run_setup(&r, TAKE_OVER_FORCE_DETACH_DEAD, 2 * USEC_PER_MINUTE));
        ASSERT_EQ(attach_run(&r.volume.attach), -EBUSY);
        ASSERT_EQ(r.path.failure, FAILURE_UNUSABLE);
        ASSERT_EQ(r.path.failed_in, PATH_STATE_TAKE_OVER);
        ASSERT_EQ(r.sim.n_force_detach, 0);
        ASSERT_EQ(r.sim.n_attach, 0);
        /* It did look at the holder, more than once, for 2 minutes. */
        ASSERT_TRUE(r.sim.n_instances > 3);
        run_done(&r);
}

static void test_dead_holder_is_force_detached(void) {
        Run r = { .sim = { .holder_attachment = "attached", .holder_state = "stopped", .attach_takes = 1 } };

        ASSERT_OK(run_setup(&r, TAKE_OVER_FORCE_DETACH_DEAD, 10 * USEC_PER_MINUTE));
        ASSERT_OK(attach_run(&r.volume.attach));
        ASSERT_EQ(r.sim.n_force_detach, 1);
        ASSERT_EQ(r.sim.n_attach, 1);
        ASSERT_STREQ(r.sim.mine, "attached");
        run_done(&r);
}

/* The holder lives when the boot starts, then dies while it waits: it is
 * taken over then, without waiting for TakeOverTimeout. */
static void test_holder_that_dies_mid_wait_is_taken_over(void) {
        Run r = { .sim = { .holder_attachment = "attached", .holder_dies_after = 4, .attach_takes = 2 } };

        ASSERT_OK(run_setup(&r, TAKE_OVER_FORCE_DETACH_DEAD, 10 * USEC_PER_MINUTE));
        ASSERT_OK(attach_run(&r.volume.attach));
        ASSERT_EQ(r.sim.n_force_detach, 1);
        /* Forced only once it was dead: the fourth look. */
        ASSERT_EQ(r.sim.n_instances, 4);
        ASSERT_STREQ(r.sim.mine, "attached");
        run_done(&r);
}

/* TakeOver=wait never force-detaches, not even a dead holder. */
static void test_wait_policy_waits_for_the_holder(void) {
        Run r = { .sim = { .holder_attachment = "attached", .holder_state = "terminated",
                           .holder_lets_go_after = 6, .attach_takes = 1 } };

        ASSERT_OK(run_setup(&r, TAKE_OVER_WAIT, 10 * USEC_PER_MINUTE));
        ASSERT_OK(attach_run(&r.volume.attach));
        ASSERT_EQ(r.sim.n_force_detach, 0);
        ASSERT_EQ(r.sim.n_instances, 0);
        ASSERT_EQ(r.sim.n_attach, 1);
        run_done(&r);
}

/* An attach stuck in "attaching" is detached and attached once more, once. */
static void test_stuck_attach_is_retried_once(void) {
        Run r = { .sim = { .attach_takes = 2, .first_attach_sticks = true } };

        ASSERT_OK(run_setup(&r, TAKE_OVER_WAIT, 10 * USEC_PER_MINUTE));
        ASSERT_OK(attach_run(&r.volume.attach));
        ASSERT_EQ(r.sim.n_attach, 2);
        ASSERT_EQ(r.sim.n_detach, 1);
        ASSERT_EQ(r.sim.n_force_detach, 0);
        ASSERT_STREQ(r.sim.mine, "attached");
        run_done(&r);
}

static void test_stuck_attach_is_not_retried_twice(void) {
        Run r = { .sim = { .attach_takes = 0 } };

        ASSERT_OK(run_setup(&r, TAKE_OVER_WAIT, 10 * USEC_PER_MINUTE));
        ASSERT_EQ(attach_run(&r.volume.attach), -ETIME);
        ASSERT_EQ(r.path.failure, FAILURE_DEADLINE);
        ASSERT_EQ(r.sim.n_attach, 2);
        ASSERT_EQ(r.sim.n_detach, 1);
        run_done(&r);
}

/* The reply of AttachVolume was lost after EC2 acted on it: the retry meets
 * "in use", and the volume is ours. */
static void test_lost_attach_reply_is_success(void) {
        Run r = { .sim = { .attach_takes = 1, .lose_first_attach_reply = true } };

        ASSERT_OK(run_setup(&r, TAKE_OVER_WAIT, 10 * USEC_PER_MINUTE));
        ASSERT_OK(attach_run(&r.volume.attach));
        ASSERT_EQ(r.sim.n_attach, 2);
        ASSERT_EQ(r.sim.n_detach, 0);
        run_done(&r);
}

/* Our own attachment still detaching (an earlier --detach, a restart right
 * after one) is waited out, then the volume is attached again: it does not
 * count as attached. */
static void test_own_detaching_attachment_is_waited_out(void) {
        Run r = { .sim = { .mine = "detaching", .attach_takes = 1 } };

        ASSERT_OK(run_setup(&r, TAKE_OVER_WAIT, 10 * USEC_PER_MINUTE));
        r.sim.countdown_mine_detach = 3;
        ASSERT_OK(attach_run(&r.volume.attach));
        ASSERT_EQ(r.sim.n_attach, 1);
        ASSERT_STREQ(r.sim.mine, "attached");
        run_done(&r);
}

/* Every wait stops at once when another path fails the boot. */
static void test_cancelled_boot_stops_the_take_over(void) {
        Run r = { .sim = { .holder_attachment = "attached", .attach_takes = 1 } };

        ASSERT_OK(run_setup(&r, TAKE_OVER_WAIT, 10 * USEC_PER_MINUTE));
        wait_cancel_all();
        ASSERT_EQ(attach_run(&r.volume.attach), -ECANCELED);
        ASSERT_EQ(r.path.failure, FAILURE_CANCELLED);
        ASSERT_EQ(r.sim.n_attach, 0);
        wait_cancel_reset();
        run_done(&r);
}

static void test_holder_is_dead(void) {
        ASSERT_TRUE(attach_holder_is_dead("stopped"));
        ASSERT_TRUE(attach_holder_is_dead("terminated"));
        ASSERT_FALSE(attach_holder_is_dead("running"));
        ASSERT_FALSE(attach_holder_is_dead("pending"));
        ASSERT_FALSE(attach_holder_is_dead("stopping"));
        ASSERT_FALSE(attach_holder_is_dead(NULL));
}

int main(int argc, char *argv[]) {
        if (argc > 1)
                test_replies_dir = argv[1];
        unsetenv("AWS_ENDPOINT_URL");
        unsetenv("AWS_ENDPOINT_URL_EC2");
        RUN_TEST(test_live_holder_is_never_force_detached);
        RUN_TEST(test_dead_holder_is_force_detached);
        RUN_TEST(test_holder_that_dies_mid_wait_is_taken_over);
        RUN_TEST(test_wait_policy_waits_for_the_holder);
        RUN_TEST(test_stuck_attach_is_retried_once);
        RUN_TEST(test_stuck_attach_is_not_retried_twice);
        RUN_TEST(test_lost_attach_reply_is_success);
        RUN_TEST(test_own_detaching_attachment_is_waited_out);
        RUN_TEST(test_cancelled_boot_stops_the_take_over);
        RUN_TEST(test_holder_is_dead);
        return tests_finish();
}
