/* SPDX-License-Identifier: Apache-2.0 */
/* The attach lifecycle (attach.c) with a volume's EC2 operations (volume.c)
 * through the fake transport, against a small simulation of EC2's volume
 * attachments, on the test clock: hours of polling run in microseconds.
 * The local side (the block device) is simulated too: it "appears" once
 * EC2 reports the volume attached here. */
#include <stdio.h>
#include <stdlib.h>

#include "attach.h"
#include "devname.h"
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

        const char *mapped[8];          /* this instance's block-device mappings */
        const char *also_refused;       /* a name EC2 refuses although nothing maps it (Xen) */
        unsigned pending_attaches;      /* attaches refused because this instance is not running yet */
        bool pending_as_instance_state; /* ...in AttachNetworkInterface's words (IncorrectInstanceState) */
        bool limit_reached;             /* AttachmentLimitExceeded */
        char device[32];                /* the name of our attachment */

        unsigned n_describe, n_attach, n_detach, n_force_detach, n_instances, n_tag_requests;
        char handover_to[32];           /* the value of nodeagent:handover-to, once tagged */
        bool newer_requester;           /* a running instance of the node launched after this one */
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
                                "<device>%s</device><status>%s</status></item>",
                                s->device[0] ? s->device : "/dev/sdf", s->mine);
        if (asprintf(&xml, "<DescribeVolumesResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\">"
                     "<requestId>r</requestId><volumeSet><item><volumeId>" VOLUME "</volumeId><size>8</size>"
                     "<availabilityZone>" AZ "</availabilityZone><status>%s</status><attachmentSet>%s"
                     "</attachmentSet><tagSet/></item></volumeSet></DescribeVolumesResponse>",
                     items[0] ? "in-use" : "available", items) < 0)
                abort();
        return xml;
}

static char *instances_reply(const Sim *s, const char *id) {
        char *xml = NULL, mappings[512] = "";
        bool me = streq_ptr(id, ME);
        int k = 0;

        for (size_t i = 0; me && i < ELEMENTSOF(s->mapped) && s->mapped[i]; i++)
                k += snprintf(mappings + k, sizeof(mappings) - (size_t) k,
                              "<item><deviceName>%s</deviceName><ebs><volumeId>vol-1</volumeId></ebs></item>",
                              s->mapped[i]);
        if (asprintf(&xml, "<DescribeInstancesResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\">"
                     "<requestId>r</requestId><reservationSet><item><reservationId>r-1</reservationId>"
                     "<instancesSet><item><instanceId>%s</instanceId><instanceState><code>0</code>"
                     "<name>%s</name></instanceState><placement><availabilityZone>" AZ "</availabilityZone>"
                     "</placement><blockDeviceMapping>%s</blockDeviceMapping></item></instancesSet></item>"
                     "</reservationSet></DescribeInstancesResponse>",
                     me ? ME : HOLDER, me ? "running" : s->holder_state, mappings) < 0)
                abort();
        return xml;
}

static bool test_form_value_present(const char *body, const char *name) {
        _cleanup_free_ char *v = test_form_value(body, name);

        return v != NULL;
}

/* This instance and, when the test says so, a newer one of the node. */
static char *node_instances_reply(const Sim *s) {
        char *xml = NULL;

        if (asprintf(&xml, "<DescribeInstancesResponse><requestId>r</requestId><reservationSet><item>"
                     "<reservationId>r-1</reservationId><instancesSet>"
                     "<item><instanceId>" ME "</instanceId><instanceState><code>16</code><name>running</name>"
                     "</instanceState><launchTime>2024-01-02T00:00:00.000Z</launchTime></item>%s"
                     "</instancesSet></item></reservationSet></DescribeInstancesResponse>",
                     s->newer_requester ? "<item><instanceId>i-0ccccccccccccccc3</instanceId><instanceState><code>"
                     "16</code><name>running</name></instanceState><launchTime>2024-01-03T00:00:00.000Z"
                     "</launchTime></item>" : "") < 0)
                abort();
        return xml;
}

static bool sim_name_taken(const Sim *s, const char *device) {
        for (size_t i = 0; i < ELEMENTSOF(s->mapped) && s->mapped[i]; i++)
                if (streq(s->mapped[i], device))
                        return true;
        return streq_ptr(s->also_refused, device);
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

static int sim_attach(Sim *s, const char *body, HttpResponse *ret) {
        _cleanup_free_ char *device = test_form_value(body, "Device");
        _cleanup_free_ char *m = NULL;

        s->n_attach++;
        if (s->pending_attaches > 0) {
                s->pending_attaches--;
                if (s->pending_as_instance_state)
                        error_reply(ret, 400, "IncorrectInstanceState",
                                    "The pending instance '" ME "' is not in a valid state for this operation.");
                else
                        error_reply(ret, 400, "IncorrectState", "Instance '" ME "' is not 'running'.");
                return 0;
        }
        if (s->limit_reached) {
                error_reply(ret, 400, "AttachmentLimitExceeded", "You have reached the limit of attachments.");
                return 0;
        }
        /* The form value is percent-encoded: /dev/sdf is %2Fdev%2Fsdf. */
        if (device && strncmp(device, "%2Fdev%2F", 9) == 0) {
                char decoded[32];

                (void) snprintf(decoded, sizeof(decoded), "/dev/%s", device + 9);
                if (sim_name_taken(s, decoded)) {
                        if (asprintf(&m, "Invalid value '%s' for unixDevice. Attachment point %s is already in use",
                                     decoded, decoded) < 0)
                                abort();
                        error_reply(ret, 400, "InvalidParameterValue", m);
                        return 0;
                }
                (void) snprintf(s->device, sizeof(s->device), "%s", decoded);
        }
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
        if (streq_ptr(instance, ME) && !s->mine[0]) {
                error_reply(ret, 400, "IncorrectState", "Volume '" VOLUME "' is in the 'available' state.");
                return 0;
        }
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
        } else if (streq_ptr(action, "DescribeInstances") && test_form_value_present(request->body, "Filter.1.Name")) {
                /* The running instances of the node (TakeOver=handover). */
                xml = node_instances_reply(s);
        } else if (streq_ptr(action, "DescribeInstances")) {
                _cleanup_free_ char *id = test_form_value(request->body, "InstanceId.1");

                if (!streq_ptr(id, ME)) {
                        s->n_instances++;
                        if (s->holder_dies_after > 0 && --s->holder_dies_after == 0)
                                strcpy(s->holder_state, "terminated");
                }
                xml = instances_reply(s, id);
        } else if (streq_ptr(action, "CreateTags")) {
                _cleanup_free_ char *key = test_form_value(request->body, "Tag.1.Key");
                _cleanup_free_ char *value = test_form_value(request->body, "Tag.1.Value");

                s->n_tag_requests++;
                if (streq_ptr(key, "nodeagent%3Ahandover-to"))
                        (void) snprintf(s->handover_to, sizeof(s->handover_to), "%s", strempty(value));
                fake_response_fill(ret, 200, "<CreateTagsResponse><requestId>r</requestId><return>true</return>"
                                   "</CreateTagsResponse>", NULL);
                return 0;
        } else if (streq_ptr(action, "AttachVolume"))
                return sim_attach(s, request->body, ret);
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
        const char *device;             /* Device=; NULL: /dev/sdf */
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
                .device = (char *) (r->device ?: "/dev/sdf"),
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
        devname_reset();
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

/* TakeOver=handover: the live holder is asked (the resource tagged with
 * the request, once), then waited for as TakeOver=wait does; never
 * force-detached. */
static void test_handover_asks_a_live_holder(void) {
        Run r = { .sim = { .holder_attachment = "attached", .holder_lets_go_after = 5, .attach_takes = 1 } };

        ASSERT_OK(run_setup(&r, TAKE_OVER_HANDOVER, 10 * USEC_PER_MINUTE));
        r.volume.attach.node_name = "kafka-1";
        ASSERT_OK(attach_run(&r.volume.attach));
        ASSERT_STREQ(r.sim.handover_to, ME);
        ASSERT_EQ(r.sim.n_tag_requests, 1);
        ASSERT_EQ(r.sim.n_force_detach, 0);
        ASSERT_EQ(r.sim.n_attach, 1);
        run_done(&r);
}

/* TakeOver=handover with two requesters: the holder let go, but a newer
 * instance of the node asked too; the older one leaves it alone until
 * TakeOverTimeout, then fails as a take-over does. */
static void test_handover_leaves_it_to_a_newer_requester(void) {
        Run r = { .sim = { .holder_attachment = "attached", .holder_lets_go_after = 3, .attach_takes = 1,
                           .newer_requester = true } };

        ASSERT_OK(run_setup(&r, TAKE_OVER_HANDOVER, 2 * USEC_PER_MINUTE));
        r.volume.attach.node_name = "kafka-1";
        ASSERT_EQ(attach_run(&r.volume.attach), -EBUSY);
        ASSERT_EQ(r.path.failure, FAILURE_UNUSABLE);
        ASSERT_EQ(r.path.failed_in, PATH_STATE_TAKE_OVER);
        ASSERT_STREQ(r.sim.handover_to, ME);
        ASSERT_EQ(r.sim.n_attach, 0);
        ASSERT_EQ(r.sim.n_force_detach, 0);
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

/* The first seconds of an instance: "pending", and EC2 refuses the attach
 * with IncorrectState. A wait, not a race for the volume. */
static void test_attach_waits_for_a_pending_instance(void) {
        Run r = { .sim = { .pending_attaches = 5, .attach_takes = 1 } };

        ASSERT_OK(run_setup(&r, TAKE_OVER_WAIT, 10 * USEC_PER_MINUTE));
        ASSERT_OK(attach_run(&r.volume.attach));
        ASSERT_EQ(r.sim.n_attach, 6);
        ASSERT_STREQ(r.sim.mine, "attached");
        run_done(&r);
}

/* The same wait when EC2 words it as the interface's attach does: the
 * instance's state, not the resource's. */
static void test_attach_waits_for_a_pending_instance_in_its_other_words(void) {
        Run r = { .sim = { .pending_attaches = 5, .pending_as_instance_state = true, .attach_takes = 1 } };

        ASSERT_OK(run_setup(&r, TAKE_OVER_WAIT, 10 * USEC_PER_MINUTE));
        ASSERT_OK(attach_run(&r.volume.attach));
        ASSERT_EQ(r.sim.n_attach, 6);
        ASSERT_STREQ(r.sim.mine, "attached");
        run_done(&r);
}

/* Device=auto: the AMI maps /dev/sdf to /dev/sdh, so /dev/sdi. */
static void test_device_auto_skips_mapped_names(void) {
        Run r = { .device = "auto", .sim = { .mapped = { "/dev/xvda", "/dev/sdf", "/dev/xvdg", "/dev/sdh" },
                                             .attach_takes = 1 } };

        ASSERT_OK(run_setup(&r, TAKE_OVER_WAIT, 10 * USEC_PER_MINUTE));
        ASSERT_OK(attach_run(&r.volume.attach));
        ASSERT_STREQ(r.volume.device_name, "/dev/sdi");
        ASSERT_STREQ(r.sim.device, "/dev/sdi");
        ASSERT_EQ(r.sim.n_attach, 1);
        run_done(&r);
}

/* A name EC2 refuses (a Xen instance's just released one) is not asked for
 * again: the next one is. */
static void test_device_auto_refused_name_is_not_asked_again(void) {
        Run r = { .device = "auto", .sim = { .also_refused = "/dev/sdf", .attach_takes = 1 } };

        ASSERT_OK(run_setup(&r, TAKE_OVER_WAIT, 10 * USEC_PER_MINUTE));
        ASSERT_OK(attach_run(&r.volume.attach));
        ASSERT_STREQ(r.volume.device_name, "/dev/sdg");
        ASSERT_EQ(r.sim.n_attach, 2);
        run_done(&r);
}

/* A configured name is used as given: in use, the boot says so (exit 4). */
static void test_configured_device_in_use_is_unusable(void) {
        Run r = { .device = "/dev/sdf", .sim = { .mapped = { "/dev/sdf" }, .attach_takes = 1 } };

        ASSERT_OK(run_setup(&r, TAKE_OVER_WAIT, 10 * USEC_PER_MINUTE));
        ASSERT_EQ(attach_run(&r.volume.attach), -EADDRINUSE);
        ASSERT_EQ(r.path.failure, FAILURE_UNUSABLE);
        ASSERT_EQ(r.sim.n_attach, 1);
        run_done(&r);
}

static void test_attachment_limit_is_unusable(void) {
        Run r = { .sim = { .limit_reached = true } };

        ASSERT_OK(run_setup(&r, TAKE_OVER_WAIT, 10 * USEC_PER_MINUTE));
        ASSERT_EQ(attach_run(&r.volume.attach), -EDQUOT);
        ASSERT_EQ(r.path.failure, FAILURE_UNUSABLE);
        ASSERT_EQ(r.sim.n_attach, 1);
        run_done(&r);
}

/* A detach that already happened (EC2: not attached) is success. */
static void test_detach_already_done_is_success(void) {
        Run r = { .sim = { .mine = "attached" } };

        ASSERT_OK(run_setup(&r, TAKE_OVER_WAIT, 10 * USEC_PER_MINUTE));
        ASSERT_OK(attach_find(&r.volume.attach));
        /* Gone between the look and the detach. */
        r.sim.mine[0] = '\0';
        ASSERT_OK(attach_release(&r.volume.attach));
        ASSERT_EQ(r.sim.n_detach, 1);
        run_done(&r);
}

static void test_device_names(void) {
        char *const mapped[] = { (char *) "/dev/xvda", (char *) "xvdf", (char *) "/dev/sdg", NULL };
        char *const picked[] = { (char *) "/dev/sdh", NULL };
        char *const refused[] = { (char *) "/dev/xvdi", NULL };
        char *const all[] = { (char *) "/dev/sdf", (char *) "/dev/sdg", (char *) "/dev/sdh", (char *) "/dev/sdi",
                              (char *) "/dev/sdj", (char *) "/dev/sdk", (char *) "/dev/sdl", (char *) "/dev/sdm",
                              (char *) "/dev/sdn", (char *) "/dev/sdo", (char *) "/dev/sdp", NULL };
        _cleanup_free_ char *name = NULL, *a = NULL, *b = NULL;

        ASSERT_TRUE(devname_same("/dev/sdf", "xvdf"));
        ASSERT_TRUE(devname_same("sdf", "/dev/xvdf"));
        ASSERT_FALSE(devname_same("/dev/sdf", "/dev/sdg"));
        ASSERT_FALSE(devname_same("/dev/xvda1", "/dev/sda"));
        ASSERT_OK(devname_first_free(mapped, picked, refused, &name));
        ASSERT_STREQ(name, "/dev/sdj");
        ASSERT_EQ(devname_first_free(all, NULL, NULL, &b), -ENOSPC);

        /* The registry gives two paths of one boot two names. */
        devname_reset();
        ASSERT_OK(devname_pick(NULL, &a));
        ASSERT_OK(devname_pick(NULL, &b));
        ASSERT_STREQ(a, "/dev/sdf");
        ASSERT_STREQ(b, "/dev/sdg");
        devname_release(a);
        devname_refused(b);
        free(b);
        b = NULL;
        ASSERT_OK(devname_pick(NULL, &b));
        ASSERT_STREQ(b, "/dev/sdf");
        devname_reset();
}

/* Restore=: only a boot (attach_run()) makes a lost volume anew; the
 * modes that release (attach_find()) fail as without Restore=, and those
 * that report (attach_find_or_plan()) only ask the kind what it would make. */
static unsigned n_restores, n_plans;

static int count_restore(Attach *a, const size_t *lost, size_t n_lost) {
        n_restores++;
        return -ECANCELED;
}

static int count_plan(Attach *a, const size_t *lost, size_t n_lost) {
        n_plans++;
        return n_lost == 1 ? ATTACH_RESTORE_PLANNED : -EINVAL;
}

static void test_only_the_boot_restores(void) {
        Run r = { .sim = { .attach_takes = 1 } };

        ASSERT_OK(run_setup(&r, TAKE_OVER_WAIT, USEC_PER_MINUTE));
        /* The volume is in us-east-1a; this instance in us-east-1b. */
        volume_done(&r.volume);
        r.config.id = NULL;
        r.config.tag = (ConfigTag) { .key = (char *) "Name", .value = (char *) "kafka-1-data" };
        r.config.restore = VOLUME_RESTORE_SNAPSHOT;
        volume_init(&r.volume, &r.config, &r.path, r.t.client, ME, "us-east-1b",
                    test_aws_deadline(&r.t, 15 * USEC_PER_MINUTE));
        r.volume.attach.ops = &r.ops;
        r.ops.restore = count_restore;
        r.ops.plan_restore = count_plan;
        n_restores = n_plans = 0;

        ASSERT_EQ(attach_find(&r.volume.attach), -EXDEV);
        ASSERT_EQ(r.path.failure, FAILURE_UNUSABLE);
        ASSERT_EQ(n_restores + n_plans, 0U);

        r.path = PATH_INIT("volume");
        ASSERT_EQ(attach_find_or_plan(&r.volume.attach), ATTACH_RESTORE_PLANNED);
        ASSERT_EQ(n_plans, 1U);
        ASSERT_EQ(n_restores, 0U);

        r.path = PATH_INIT("volume");
        ASSERT_EQ(attach_run(&r.volume.attach), -ECANCELED);
        ASSERT_EQ(n_restores, 1U);
        ASSERT_EQ(n_plans, 1U);
        ASSERT_EQ(r.sim.n_attach + r.sim.n_tag_requests, 0U);

        /* --unpublish's find keeps the one lost in the other zone as it
         * is (by Tag=, then by Id=): it needs only its address. */
        n_restores = n_plans = 0;
        r.path = PATH_INIT("volume");
        ASSERT_OK(attach_find_anywhere(&r.volume.attach));
        ASSERT_STREQ(r.volume.attach.id, VOLUME);
        volume_done(&r.volume);
        r.config.id = (char *) VOLUME;
        volume_init(&r.volume, &r.config, &r.path, r.t.client, ME, "us-east-1b",
                    test_aws_deadline(&r.t, 15 * USEC_PER_MINUTE));
        r.volume.attach.ops = &r.ops;
        r.path = PATH_INIT("volume");
        ASSERT_EQ(attach_find(&r.volume.attach), -EXDEV);
        r.path = PATH_INIT("volume");
        ASSERT_OK(attach_find_anywhere(&r.volume.attach));
        ASSERT_STREQ(r.volume.attach.id, VOLUME);
        ASSERT_EQ(n_restores + n_plans, 0U);
        ASSERT_EQ(r.sim.n_attach + r.sim.n_tag_requests, 0U);
        run_done(&r);
}

/* A striped set by Tag= + Count=3 in us-east-1b: which listed volumes
 * make a set restore go on, and which are a partial set (exit 4). The
 * entries stand in for DescribeVolumes. */
typedef struct SetEntry {
        const char *id, *az, *restored_from;
} SetEntry;

static const SetEntry *set_entries;
static size_t n_set_entries;
static char *set_kept;

static int set_list(Attach *a, const char *id, const Ec2Filter *filter, AwsError *error, size_t *ret_n) {
        *ret_n = n_set_entries;
        return 0;
}

static void set_candidate(const Attach *a, size_t i, ZoneCandidate *ret) {
        *ret = (ZoneCandidate) { .id = set_entries[i].id, .availability_zone = set_entries[i].az,
                                 .state = "available" };
}

static const char *set_candidate_tag(const Attach *a, size_t i, const char *key) {
        return streq(key, ATTACH_TAG_RESTORED_FROM) ? set_entries[i].restored_from : NULL;
}

static void set_keep(Attach *a, size_t i) {
        set_kept = (char *) set_entries[i].id;
        a->id = set_kept;
}

static void test_set_restore_goes_on_only_over_its_own_volumes(void) {
        static const SetEntry begun[] = {
                { "vol-a1", "us-east-1a", NULL }, { "vol-a2", "us-east-1a", NULL }, { "vol-a3", "us-east-1a", NULL },
                { "vol-b1", "us-east-1b", "snap-1" }, { "vol-b2", "us-east-1b", "snap-2" },
        };
        static const SetEntry partial[] = {
                { "vol-a1", "us-east-1a", NULL }, { "vol-a2", "us-east-1a", NULL },
                { "vol-b1", "us-east-1b", NULL },
        };
        static const SetEntry done[] = {
                { "vol-a1", "us-east-1a", NULL }, { "vol-b3", "us-east-1b", "snap-3" },
                { "vol-b1", "us-east-1b", "snap-1" }, { "vol-b2", "us-east-1b", "snap-2" },
        };
        Run r = { .sim = { .attach_takes = 1 } };

        ASSERT_OK(run_setup(&r, TAKE_OVER_WAIT, USEC_PER_MINUTE));
        volume_done(&r.volume);
        r.config.id = NULL;
        r.config.tag = (ConfigTag) { .key = (char *) "set", .value = (char *) "kafka-1" };
        r.config.restore = VOLUME_RESTORE_SNAPSHOT;
        volume_init(&r.volume, &r.config, &r.path, r.t.client, ME, "us-east-1b",
                    test_aws_deadline(&r.t, 15 * USEC_PER_MINUTE));
        r.volume.attach.ops = &r.ops;
        r.volume.attach.set_count = 3;
        r.volume.attach.set_index = 1;
        r.ops.restore = count_restore;
        r.ops.plan_restore = count_plan;
        r.ops.list = set_list;
        r.ops.candidate = set_candidate;
        r.ops.candidate_tag = set_candidate_tag;
        r.ops.keep = set_keep;

        /* Two made here by a killed boot's restore: the boot goes on
         * restoring (the plan says so too); the releasing modes do not. */
        set_entries = begun;
        n_set_entries = ELEMENTSOF(begun);
        n_restores = n_plans = 0;
        r.path = PATH_INIT("volume");
        ASSERT_EQ(attach_find_or_plan(&r.volume.attach), -EINVAL);   /* count_plan: 5 listed, not 1 */
        ASSERT_EQ(n_plans, 1U);
        r.path = PATH_INIT("volume");
        ASSERT_EQ(attach_run(&r.volume.attach), -ECANCELED);
        ASSERT_EQ(n_restores, 1U);
        r.path = PATH_INIT("volume");
        ASSERT_EQ(attach_find(&r.volume.attach), -ERANGE);
        /* Nor --unpublish's, which keeps a lost resource only alone. */
        r.path = PATH_INIT("volume");
        ASSERT_EQ(attach_find_anywhere(&r.volume.attach), -ERANGE);

        /* One here that no restore made: a partial set, never completed. */
        n_restores = 0;
        r.path = PATH_INIT("volume");
        set_entries = partial;
        n_set_entries = ELEMENTSOF(partial);
        ASSERT_EQ(attach_run(&r.volume.attach), -ERANGE);
        ASSERT_EQ(r.path.failure, FAILURE_UNUSABLE);
        ASSERT_EQ(n_restores, 0U);

        /* All three here: the member's own by id (index 1: vol-b2). */
        r.path = PATH_INIT("volume");
        set_entries = done;
        n_set_entries = ELEMENTSOF(done);
        ASSERT_OK(attach_find(&r.volume.attach));
        ASSERT_STREQ(set_kept, "vol-b2");
        run_done(&r);
}

static void test_holder_is_dead(void) {
        ASSERT_TRUE(attach_holder_is_dead("stopped"));
        ASSERT_TRUE(attach_holder_is_dead("terminated"));
        /* Its OS may still be flushing and unmounting. */
        ASSERT_FALSE(attach_holder_is_dead("shutting-down"));
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
        RUN_TEST(test_handover_asks_a_live_holder);
        RUN_TEST(test_handover_leaves_it_to_a_newer_requester);
        RUN_TEST(test_stuck_attach_is_retried_once);
        RUN_TEST(test_stuck_attach_is_not_retried_twice);
        RUN_TEST(test_lost_attach_reply_is_success);
        RUN_TEST(test_own_detaching_attachment_is_waited_out);
        RUN_TEST(test_cancelled_boot_stops_the_take_over);
        RUN_TEST(test_attach_waits_for_a_pending_instance);
        RUN_TEST(test_attach_waits_for_a_pending_instance_in_its_other_words);
        RUN_TEST(test_device_auto_skips_mapped_names);
        RUN_TEST(test_device_auto_refused_name_is_not_asked_again);
        RUN_TEST(test_configured_device_in_use_is_unusable);
        RUN_TEST(test_attachment_limit_is_unusable);
        RUN_TEST(test_detach_already_done_is_success);
        RUN_TEST(test_device_names);
        RUN_TEST(test_holder_is_dead);
        RUN_TEST(test_only_the_boot_restores);
        RUN_TEST(test_set_restore_goes_on_only_over_its_own_volumes);
        return tests_finish();
}
