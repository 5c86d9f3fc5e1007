/* SPDX-License-Identifier: Apache-2.0 */
#include "autoscaling.h"
#include "aws-test-util.h"
#include "signals.h"
#include "tests.h"

/* What --check reads of an Auto Scaling group, and the pure decisions on
 * it. Request bodies are botocore's QuerySerializer output for the same
 * calls (autoscaling 2011-01-01). The replies in tests/unit/replies follow
 * that model's shapes; InstanceMaintenancePolicy, which Debian's botocore
 * 1.29 does not know, follows AWS's API reference (AutoScalingGroup,
 * InstanceMaintenancePolicy). */

#define BODY_DESCRIBE_GROUP \
        "Action=DescribeAutoScalingGroups&Version=2011-01-01&AutoScalingGroupNames.member.1=kafka-1"
#define BODY_DESCRIBE_HOOKS "Action=DescribeLifecycleHooks&Version=2011-01-01&AutoScalingGroupName=kafka-1"

#define GROUP_REPLY(members)                                                                             \
        "<DescribeAutoScalingGroupsResponse xmlns=\"http://autoscaling.amazonaws.com/doc/2011-01-01/\">" \
        "<DescribeAutoScalingGroupsResult><AutoScalingGroups><member>"                                   \
        "<AutoScalingGroupName>kafka-1</AutoScalingGroupName>" members                                   \
        "</member></AutoScalingGroups></DescribeAutoScalingGroupsResult>"                                \
        "</DescribeAutoScalingGroupsResponse>"

static int setup(TestAws *t) {
        unsetenv("AWS_ENDPOINT_URL");
        unsetenv("AWS_ENDPOINT_URL_AUTO_SCALING");
        return test_aws_init(t, NULL);
}

static void test_describe_group(void) {
        _cleanup_(autoscaling_group_done) AutoScalingGroup g = {};
        TestAws t;

        ASSERT_OK(setup(&t));
        test_add_reply(t.fake, 200, "autoscaling-describe-auto-scaling-groups.xml", NULL);

        ASSERT_OK(autoscaling_describe_group(t.client, "kafka-1", USEC_INFINITY, NULL, &g));
        ASSERT_STREQ(t.fake->requests[0].body, BODY_DESCRIBE_GROUP);
        ASSERT_STREQ(t.fake->requests[0].url, "https://autoscaling.us-east-1.amazonaws.com/");
        ASSERT_STREQ(g.name, "kafka-1");
        ASSERT_EQ(g.min_size, 1);
        ASSERT_EQ(g.max_size, 1);
        ASSERT_EQ(g.desired_capacity, 1);
        ASSERT_EQ(g.min_healthy_percentage, 100);
        ASSERT_EQ(g.max_healthy_percentage, 200);
        ASSERT_EQ(g.n_instances, 1);
        ASSERT_EQ(t.fake->mismatches, 0);
        test_aws_done(&t);
}

static void test_describe_group_policies(void) {
        _cleanup_(autoscaling_group_done) AutoScalingGroup none = {}, cleared = {};
        AutoScalingGroup bad = {};
        TestAws t;

        ASSERT_OK(setup(&t));
        /* No policy, and a cleared one (-1): Auto Scaling's defaults. */
        fake_transport_add(t.fake, &(FakeReply) { .body = GROUP_REPLY("<MinSize>0</MinSize><MaxSize>1</MaxSize>"
                                                                      "<DesiredCapacity>1</DesiredCapacity>") });
        fake_transport_add(t.fake, &(FakeReply) {
                                           .body = GROUP_REPLY("<DesiredCapacity>1</DesiredCapacity>"
                                                               "<InstanceMaintenancePolicy>"
                                                               "<MinHealthyPercentage>-1</MinHealthyPercentage>"
                                                               "<MaxHealthyPercentage>-1</MaxHealthyPercentage>"
                                                               "</InstanceMaintenancePolicy>"),
                                   });
        /* Out of the documented range (0..100): not a reply to trust. */
        fake_transport_add(t.fake, &(FakeReply) {
                                           .body = GROUP_REPLY("<InstanceMaintenancePolicy>"
                                                               "<MinHealthyPercentage>101</MinHealthyPercentage>"
                                                               "</InstanceMaintenancePolicy>"),
                                   });
        test_add_reply(t.fake, 200, "autoscaling-describe-auto-scaling-groups-empty.xml", NULL);
        test_add_reply(t.fake, 403, "query-error-access-denied.xml", NULL);

        ASSERT_OK(autoscaling_describe_group(t.client, "kafka-1", USEC_INFINITY, NULL, &none));
        ASSERT_EQ(none.min_healthy_percentage, AUTOSCALING_NO_PERCENTAGE);
        ASSERT_EQ(none.max_healthy_percentage, AUTOSCALING_NO_PERCENTAGE);
        ASSERT_EQ(none.max_size, 1);
        ASSERT_EQ(none.n_instances, 0);
        ASSERT_OK(autoscaling_describe_group(t.client, "kafka-1", USEC_INFINITY, NULL, &cleared));
        ASSERT_EQ(cleared.min_healthy_percentage, AUTOSCALING_NO_PERCENTAGE);
        ASSERT_EQ(autoscaling_describe_group(t.client, "kafka-1", USEC_INFINITY, NULL, &bad), -EBADMSG);
        ASSERT_NULL(bad.name);
        /* An unknown group is an empty list, not an error. */
        ASSERT_EQ(autoscaling_describe_group(t.client, "kafka-1", USEC_INFINITY, NULL, &bad), -ENXIO);
        ASSERT_EQ(autoscaling_describe_group(t.client, "kafka-1", USEC_INFINITY, NULL, &bad), -EACCES);
        test_aws_done(&t);
}

static void test_describe_hooks(void) {
        AutoScalingHook *hooks = NULL;
        size_t n = 0;
        TestAws t;

        ASSERT_OK(setup(&t));
        test_add_reply(t.fake, 200, "autoscaling-describe-lifecycle-hooks.xml", NULL);
        fake_transport_add(t.fake, &(FakeReply) {
                                           .body = "<DescribeLifecycleHooksResponse xmlns=\"http://autoscaling.amazonaws"
                                                   ".com/doc/2011-01-01/\"><DescribeLifecycleHooksResult>"
                                                   "<LifecycleHooks/></DescribeLifecycleHooksResult>"
                                                   "</DescribeLifecycleHooksResponse>",
                                   });
        test_add_reply(t.fake, 403, "query-error-access-denied.xml", NULL);

        ASSERT_OK(autoscaling_describe_hooks(t.client, "kafka-1", USEC_INFINITY, NULL, &hooks, &n));
        ASSERT_STREQ(t.fake->requests[0].body, BODY_DESCRIBE_HOOKS);
        ASSERT_EQ(n, 2);
        ASSERT_STREQ(hooks[0].name, "boot");
        ASSERT_STREQ(hooks[0].transition, AUTOSCALING_LAUNCHING);
        ASSERT_EQ(hooks[0].heartbeat_timeout, 600);
        ASSERT_EQ(hooks[0].global_timeout, 60000);
        ASSERT_STREQ(hooks[0].default_result, "ABANDON");
        ASSERT_STREQ(hooks[1].name, "drain");
        ASSERT_STREQ(hooks[1].transition, "autoscaling:EC2_INSTANCE_TERMINATING");
        ASSERT_EQ(hooks[1].heartbeat_timeout, 30);
        hooks = autoscaling_hooks_free(hooks, n);

        ASSERT_OK(autoscaling_describe_hooks(t.client, "kafka-1", USEC_INFINITY, NULL, &hooks, &n));
        ASSERT_EQ(n, 0);
        ASSERT_NULL(hooks);
        ASSERT_EQ(autoscaling_describe_hooks(t.client, "kafka-1", USEC_INFINITY, NULL, &hooks, &n), -EACCES);
        test_aws_done(&t);
}

static void test_maintenance_verdict(void) {
        /* No policy, or one that lets the old instance go first. */
        ASSERT_EQ(autoscaling_maintenance_verdict(1, AUTOSCALING_NO_PERCENTAGE), MAINTENANCE_OK);
        ASSERT_EQ(autoscaling_maintenance_verdict(1, 0), MAINTENANCE_OK);
        ASSERT_EQ(autoscaling_maintenance_verdict(0, 100), MAINTENANCE_OK);
        /* A node's group of one at 100 %: launch before terminating, and the
         * new instance cannot get the volume while the old one must stay. */
        ASSERT_EQ(autoscaling_maintenance_verdict(1, 100), MAINTENANCE_DEADLOCKS);
        /* Any group at 100 % keeps every instance until its replacement is
         * healthy. */
        ASSERT_EQ(autoscaling_maintenance_verdict(3, 100), MAINTENANCE_DEADLOCKS);
        /* A fraction of the one instance: rounded up it is the instance. */
        ASSERT_EQ(autoscaling_maintenance_verdict(1, 90), MAINTENANCE_MAY_DEADLOCK);
        ASSERT_EQ(autoscaling_maintenance_verdict(1, 1), MAINTENANCE_MAY_DEADLOCK);
        ASSERT_EQ(autoscaling_maintenance_verdict(2, 60), MAINTENANCE_MAY_DEADLOCK);
        /* One of several may leave first. */
        ASSERT_EQ(autoscaling_maintenance_verdict(2, 50), MAINTENANCE_OK);
        ASSERT_EQ(autoscaling_maintenance_verdict(10, 90), MAINTENANCE_OK);
        ASSERT_EQ(autoscaling_maintenance_verdict(UINT64_MAX, 100), MAINTENANCE_OK);
}

static HookVerdict verdict(uint64_t heartbeat, uint64_t global, usec_t boot) {
        AutoScalingHook h = { .heartbeat_timeout = heartbeat, .global_timeout = global };

        return autoscaling_hook_verdict(&h, boot, SIGNAL_HEARTBEAT_INTERVAL_USEC);
}

static void test_hook_verdict(void) {
        const usec_t boot = 15 * USEC_PER_MINUTE;

        /* The template's hook: 600 s with heartbeats every minute. */
        ASSERT_EQ(verdict(600, 60000, boot), HOOK_OK);
        /* 90 s is a minute's interval plus the slack: heartbeats keep it. */
        ASSERT_EQ(verdict(90, 9000, boot), HOOK_OK);
        /* Shorter than a heartbeat interval (plus slack): it ends between two. */
        ASSERT_EQ(verdict(30, 3000, boot), HOOK_HEARTBEAT_TOO_SHORT);
        ASSERT_EQ(verdict(60, 6000, boot), HOOK_HEARTBEAT_TOO_SHORT);
        ASSERT_EQ(verdict(89, 8900, boot), HOOK_HEARTBEAT_TOO_SHORT);
        /* ... unless the boot ends before it could. */
        ASSERT_EQ(verdict(60, 6000, 45 * USEC_PER_SEC), HOOK_OK);
        /* Heartbeats cannot pass the global timeout. */
        ASSERT_EQ(verdict(600, 600, boot), HOOK_GLOBAL_TOO_SHORT);
        ASSERT_EQ(verdict(120, 899, boot), HOOK_GLOBAL_TOO_SHORT);
        ASSERT_EQ(verdict(120, 900, boot), HOOK_OK);
        /* Not said: Auto Scaling's own, 100 heartbeat timeouts up to 48 h. */
        ASSERT_EQ(verdict(120, 0, 3 * USEC_PER_HOUR), HOOK_OK);
        ASSERT_EQ(verdict(120, 0, 4 * USEC_PER_HOUR), HOOK_GLOBAL_TOO_SHORT);
        ASSERT_EQ(verdict(7200, 0, 49 * USEC_PER_HOUR), HOOK_GLOBAL_TOO_SHORT);
        ASSERT_EQ(verdict(UINT64_MAX, UINT64_MAX, boot), HOOK_OK);
        ASSERT_EQ(verdict(0, 0, boot), HOOK_HEARTBEAT_TOO_SHORT);
}

int main(int argc, char *argv[]) {
        if (argc > 1)
                test_replies_dir = argv[1];

        RUN_TEST(test_describe_group);
        RUN_TEST(test_describe_group_policies);
        RUN_TEST(test_describe_hooks);
        RUN_TEST(test_maintenance_verdict);
        RUN_TEST(test_hook_verdict);
        return tests_finish();
}
