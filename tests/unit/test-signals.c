/* SPDX-License-Identifier: Apache-2.0 */
#include "autoscaling.h"
#include "aws-test-util.h"
#include "cloudformation.h"
#include "signals.h"
#include "tests.h"

/* Expected request bodies are botocore's own serialization of the same
 * calls (botocore.serialize's QuerySerializer on the autoscaling 2011-01-01
 * and cloudformation 2010-05-15 models, members in the model's order). */

#define INSTANCE "i-0123456789abcdef0"
#define STACK_ARN "arn:aws:cloudformation:us-east-1:123456789012:stack/kafka/0a1b2c3d-4e5f-6789-abcd-ef0123456789"

#define BODY_SIGNAL_SUCCESS \
        "Action=SignalResource&Version=2010-05-15&StackName=kafka&LogicalResourceId=Node1" \
        "&UniqueId=i-0123456789abcdef0&Status=SUCCESS"
#define BODY_SIGNAL_FAILURE \
        "Action=SignalResource&Version=2010-05-15&StackName=kafka&LogicalResourceId=Node1" \
        "&UniqueId=i-0123456789abcdef0&Status=FAILURE"
#define BODY_HEARTBEAT \
        "Action=RecordLifecycleActionHeartbeat&Version=2011-01-01&LifecycleHookName=boot" \
        "&AutoScalingGroupName=kafka-1&InstanceId=i-0123456789abcdef0"
#define BODY_CONTINUE \
        "Action=CompleteLifecycleAction&Version=2011-01-01&LifecycleHookName=boot" \
        "&AutoScalingGroupName=kafka-1&LifecycleActionResult=CONTINUE&InstanceId=i-0123456789abcdef0"
#define BODY_ABANDON \
        "Action=CompleteLifecycleAction&Version=2011-01-01&LifecycleHookName=boot" \
        "&AutoScalingGroupName=kafka-1&LifecycleActionResult=ABANDON&InstanceId=i-0123456789abcdef0"
#define BODY_DESCRIBE_INSTANCES "Action=DescribeInstances&Version=2016-11-15&InstanceId.1=i-0123456789abcdef0"
#define BODY_DESCRIBE_ASG_INSTANCES \
        "Action=DescribeAutoScalingInstances&Version=2011-01-01&InstanceIds.member.1=i-0123456789abcdef0"

/* The instance without any Auto Scaling tag. */
#define REPLY_UNTAGGED_INSTANCE                                                                         \
        "<DescribeInstancesResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\">"                \
        "<requestId>r</requestId><reservationSet><item><reservationId>r-1</reservationId>"             \
        "<instancesSet><item><instanceId>i-0123456789abcdef0</instanceId>"                              \
        "<instanceState><code>16</code><name>running</name></instanceState>"                            \
        "<tagSet><item><key>Name</key><value>kafka-1</value></item></tagSet>"                           \
        "</item></instancesSet></item></reservationSet></DescribeInstancesResponse>"

static int setup(TestAws *t) {
        unsetenv("AWS_ENDPOINT_URL");
        unsetenv("AWS_ENDPOINT_URL_EC2");
        unsetenv("AWS_ENDPOINT_URL_AUTO_SCALING");
        unsetenv("AWS_ENDPOINT_URL_CLOUDFORMATION");
        return test_aws_init(t, NULL);
}

static void add_body(TestAws *t, long status, const char *body) {
        fake_transport_add(t->fake, &(FakeReply) { .status = status, .body = body });
}

/* -- cloudformation ------------------------------------------------------------------------ */

static void test_signal_resource(void) {
        _cleanup_(aws_error_done) AwsError e = {};
        TestAws t;

        ASSERT_OK(setup(&t));
        test_add_reply(t.fake, 200, "cloudformation-signal-resource.xml", NULL);
        test_add_reply(t.fake, 200, "cloudformation-signal-resource.xml", NULL);

        ASSERT_OK(cloudformation_signal_resource(t.client, "kafka", "Node1", INSTANCE, true, USEC_INFINITY, &e));
        ASSERT_STREQ(t.fake->requests[0].body, BODY_SIGNAL_SUCCESS);
        ASSERT_TRUE(strstr(t.fake->requests[0].url, "cloudformation.us-east-1.amazonaws.com") != NULL);
        ASSERT_TRUE(strstr(fake_request_header(&t.fake->requests[0], "authorization"),
                           "/us-east-1/cloudformation/aws4_request") != NULL);
        ASSERT_NULL(e.code);

        ASSERT_OK(cloudformation_signal_resource(t.client, STACK_ARN, "Node1", INSTANCE, false, USEC_INFINITY, NULL));
        ASSERT_STREQ(t.fake->requests[1].body,
                     "Action=SignalResource&Version=2010-05-15&StackName=arn%3Aaws%3Acloudformation%3Aus-east-1%3A"
                     "123456789012%3Astack%2Fkafka%2F0a1b2c3d-4e5f-6789-abcd-ef0123456789&LogicalResourceId=Node1"
                     "&UniqueId=i-0123456789abcdef0&Status=FAILURE");
        ASSERT_EQ(t.fake->mismatches, 0);
        test_aws_done(&t);
}

static void test_signal_resource_nobody_waits(void) {
        _cleanup_(aws_error_done) AwsError e = {};
        TestAws t;

        ASSERT_OK(setup(&t));
        test_add_reply(t.fake, 400, "cloudformation-error-already-signaled.xml", NULL);
        test_add_reply(t.fake, 400, "cloudformation-error-not-waiting.xml", NULL);
        add_body(&t, 400, "<ErrorResponse><Error><Code>ValidationError</Code><Message>Resource Node1 is in "
                          "CREATE_COMPLETE state and can not be signaled</Message></Error></ErrorResponse>");

        ASSERT_EQ(cloudformation_signal_resource(t.client, "kafka", "Node1", INSTANCE, true, USEC_INFINITY, &e),
                  -EALREADY);
        ASSERT_STREQ(e.code, "ValidationError");
        ASSERT_EQ(cloudformation_signal_resource(t.client, "kafka", "Node1", INSTANCE, true, USEC_INFINITY, &e),
                  -ESRCH);
        ASSERT_TRUE(strstr(e.message, "UPDATE_COMPLETE") != NULL);
        ASSERT_EQ(cloudformation_signal_resource(t.client, "kafka", "Node1", INSTANCE, false, USEC_INFINITY, NULL),
                  -ESRCH);
        /* Refusals are answers: none is retried. */
        ASSERT_EQ(t.fake->n_requests, 3);
        test_aws_done(&t);
}

static void test_signal_resource_errors(void) {
        _cleanup_(aws_error_done) AwsError e = {};
        TestAws t;

        ASSERT_OK(setup(&t));
        test_add_reply(t.fake, 400, "cloudformation-error-no-stack.xml", NULL);
        test_add_reply(t.fake, 403, "query-error-access-denied.xml", NULL);
        /* The answer to another question. */
        test_add_reply(t.fake, 200, "autoscaling-record-heartbeat.xml", NULL);
        /* Some other ValidationError, which is no reason to stop. */
        add_body(&t, 400, "<ErrorResponse><Error><Code>ValidationError</Code><Message>1 validation error "
                          "detected: Value 'x' at 'status' failed to satisfy constraint</Message></Error>"
                          "</ErrorResponse>");

        ASSERT_EQ(cloudformation_signal_resource(t.client, "kafka", "Node1", INSTANCE, true, USEC_INFINITY, &e),
                  -EREMOTEIO);
        ASSERT_STREQ(e.message, "Stack with id kafka does not exist");
        ASSERT_EQ(cloudformation_signal_resource(t.client, "kafka", "Node1", INSTANCE, true, USEC_INFINITY, &e),
                  -EACCES);
        ASSERT_STREQ(e.code, "AccessDenied");
        ASSERT_EQ(cloudformation_signal_resource(t.client, "kafka", "Node1", INSTANCE, true, USEC_INFINITY, &e),
                  -EBADMSG);
        ASSERT_EQ(cloudformation_signal_resource(t.client, "kafka", "Node1", INSTANCE, true, USEC_INFINITY, &e),
                  -EREMOTEIO);

        ASSERT_EQ(cloudformation_signal_resource(t.client, "", "Node1", INSTANCE, true, USEC_INFINITY, &e), -EINVAL);
        ASSERT_EQ(cloudformation_signal_resource(t.client, "kafka", NULL, INSTANCE, true, USEC_INFINITY, &e), -EINVAL);
        ASSERT_EQ(cloudformation_signal_resource(t.client, "kafka", "Node1", NULL, true, USEC_INFINITY, &e), -EINVAL);
        ASSERT_EQ(t.fake->n_requests, 4);
        test_aws_done(&t);
}

static void test_signal_resource_throttled_then_accepted(void) {
        TestAws t;

        ASSERT_OK(setup(&t));
        test_add_reply(t.fake, 400, "query-error-throttling.xml", NULL);
        test_add_reply(t.fake, 200, "cloudformation-signal-resource.xml", NULL);
        ASSERT_OK(cloudformation_signal_resource(t.client, "kafka", "Node1", INSTANCE, true, USEC_INFINITY, NULL));
        ASSERT_EQ(t.fake->n_requests, 2);
        ASSERT_STREQ(t.fake->requests[1].body, BODY_SIGNAL_SUCCESS);
        test_aws_done(&t);
}

/* -- autoscaling --------------------------------------------------------------------------- */

static void test_lifecycle_action_result_to_string(void) {
        ASSERT_STREQ(lifecycle_action_result_to_string(LIFECYCLE_ACTION_CONTINUE), "CONTINUE");
        ASSERT_STREQ(lifecycle_action_result_to_string(LIFECYCLE_ACTION_ABANDON), "ABANDON");
        ASSERT_NULL(lifecycle_action_result_to_string(_LIFECYCLE_ACTION_RESULT_MAX));
        ASSERT_NULL(lifecycle_action_result_to_string((LifecycleActionResult) -1));
}

static void test_record_heartbeat(void) {
        _cleanup_(aws_error_done) AwsError e = {};
        TestAws t;

        ASSERT_OK(setup(&t));
        test_add_reply(t.fake, 200, "autoscaling-record-heartbeat.xml", NULL);
        ASSERT_OK(autoscaling_record_heartbeat(t.client, "kafka-1", "boot", INSTANCE, USEC_INFINITY, &e));
        ASSERT_STREQ(t.fake->requests[0].body, BODY_HEARTBEAT);
        ASSERT_TRUE(strstr(t.fake->requests[0].url, "autoscaling.us-east-1.amazonaws.com") != NULL);
        ASSERT_TRUE(strstr(fake_request_header(&t.fake->requests[0], "authorization"),
                           "/us-east-1/autoscaling/aws4_request") != NULL);
        ASSERT_EQ(autoscaling_record_heartbeat(t.client, NULL, "boot", INSTANCE, USEC_INFINITY, &e), -EINVAL);
        ASSERT_EQ(autoscaling_record_heartbeat(t.client, "kafka-1", "", INSTANCE, USEC_INFINITY, &e), -EINVAL);
        ASSERT_EQ(t.fake->n_requests, 1);
        test_aws_done(&t);
}

static void test_complete_lifecycle_action(void) {
        TestAws t;

        ASSERT_OK(setup(&t));
        test_add_reply(t.fake, 200, "autoscaling-complete-lifecycle-action.xml", NULL);
        test_add_reply(t.fake, 200, "autoscaling-complete-lifecycle-action.xml", NULL);

        ASSERT_OK(autoscaling_complete_lifecycle_action(t.client, "kafka-1", "boot", INSTANCE,
                                                        LIFECYCLE_ACTION_CONTINUE, USEC_INFINITY, NULL));
        ASSERT_STREQ(t.fake->requests[0].body, BODY_CONTINUE);
        ASSERT_OK(autoscaling_complete_lifecycle_action(t.client, "kafka 1/asg", "boot", INSTANCE,
                                                        LIFECYCLE_ACTION_ABANDON, USEC_INFINITY, NULL));
        ASSERT_STREQ(t.fake->requests[1].body,
                     "Action=CompleteLifecycleAction&Version=2011-01-01&LifecycleHookName=boot"
                     "&AutoScalingGroupName=kafka%201%2Fasg&LifecycleActionResult=ABANDON"
                     "&InstanceId=i-0123456789abcdef0");
        ASSERT_EQ(autoscaling_complete_lifecycle_action(t.client, "kafka-1", "boot", INSTANCE,
                                                        _LIFECYCLE_ACTION_RESULT_MAX, USEC_INFINITY, NULL),
                  -EINVAL);
        ASSERT_EQ(t.fake->n_requests, 2);
        test_aws_done(&t);
}

static void test_lifecycle_errors(void) {
        _cleanup_(aws_error_done) AwsError e = {};
        TestAws t;

        ASSERT_OK(setup(&t));
        test_add_reply(t.fake, 400, "autoscaling-error-no-active-action.xml", NULL);
        test_add_reply(t.fake, 400, "autoscaling-error-no-active-action.xml", NULL);
        test_add_reply(t.fake, 403, "query-error-access-denied.xml", NULL);
        add_body(&t, 400, "<ErrorResponse><Error><Code>ValidationError</Code><Message>Group kafka-2 not found"
                          "</Message></Error></ErrorResponse>");
        test_add_reply(t.fake, 200, "cloudformation-signal-resource.xml", NULL);

        ASSERT_EQ(autoscaling_record_heartbeat(t.client, "kafka-1", "boot", INSTANCE, USEC_INFINITY, &e), -ESRCH);
        ASSERT_STREQ(e.code, "ValidationError");
        ASSERT_EQ(autoscaling_complete_lifecycle_action(t.client, "kafka-1", "boot", INSTANCE,
                                                        LIFECYCLE_ACTION_CONTINUE, USEC_INFINITY, &e),
                  -ESRCH);
        ASSERT_EQ(autoscaling_complete_lifecycle_action(t.client, "kafka-1", "boot", INSTANCE,
                                                        LIFECYCLE_ACTION_CONTINUE, USEC_INFINITY, &e),
                  -EACCES);
        ASSERT_TRUE(strstr(e.message, "autoscaling:CompleteLifecycleAction") != NULL);
        ASSERT_EQ(autoscaling_complete_lifecycle_action(t.client, "kafka-2", "boot", INSTANCE,
                                                        LIFECYCLE_ACTION_CONTINUE, USEC_INFINITY, &e),
                  -EREMOTEIO);
        ASSERT_EQ(autoscaling_record_heartbeat(t.client, "kafka-1", "boot", INSTANCE, USEC_INFINITY, &e), -EBADMSG);
        test_aws_done(&t);
}

static void test_describe_instance(void) {
        _cleanup_(autoscaling_instance_done) AutoScalingInstance i = {};
        AutoScalingInstance untouched = { .group = (char *) "untouched" };
        TestAws t;

        ASSERT_OK(setup(&t));
        test_add_reply(t.fake, 200, "query-describe-auto-scaling-instances.xml", NULL);
        test_add_reply(t.fake, 200, "autoscaling-describe-auto-scaling-instances-empty.xml", NULL);

        ASSERT_OK(autoscaling_describe_instance(t.client, INSTANCE, USEC_INFINITY, NULL, &i));
        ASSERT_STREQ(t.fake->requests[0].body, BODY_DESCRIBE_ASG_INSTANCES);
        ASSERT_STREQ(i.instance_id, INSTANCE);
        ASSERT_STREQ(i.group, "kafka-1");
        ASSERT_STREQ(i.lifecycle_state, "Pending:Wait");

        ASSERT_EQ(autoscaling_describe_instance(t.client, INSTANCE, USEC_INFINITY, NULL, &untouched), -ENXIO);
        ASSERT_STREQ(untouched.group, "untouched");
        test_aws_done(&t);
}

static void test_find_group_from_tag(void) {
        _cleanup_free_ char *group = NULL;
        TestAws t;

        ASSERT_OK(setup(&t));
        test_add_reply(t.fake, 200, "ec2-describe-instances.xml", NULL);
        ASSERT_OK(autoscaling_find_group(t.client, INSTANCE, USEC_INFINITY, NULL, &group));
        ASSERT_STREQ(group, "kafka-1");
        /* One EC2 call: the tag answers, Auto Scaling is not asked. */
        ASSERT_EQ(t.fake->n_requests, 1);
        ASSERT_STREQ(t.fake->requests[0].body, BODY_DESCRIBE_INSTANCES);
        test_aws_done(&t);
}

static void test_find_group_fallback(void) {
        _cleanup_(aws_error_done) AwsError e = {};
        char *group = NULL;
        TestAws t;

        ASSERT_OK(setup(&t));
        /* No tag (yet): Auto Scaling answers. */
        add_body(&t, 200, REPLY_UNTAGGED_INSTANCE);
        test_add_reply(t.fake, 200, "query-describe-auto-scaling-instances.xml", NULL);
        /* DescribeInstances refused: Auto Scaling answers. */
        test_add_reply(t.fake, 403, "ec2-error-unauthorized.xml", NULL);
        test_add_reply(t.fake, 200, "query-describe-auto-scaling-instances.xml", NULL);
        /* Not visible to EC2 yet: Auto Scaling answers. */
        add_body(&t, 400, "<Response><Errors><Error><Code>InvalidInstanceID.NotFound</Code><Message>The instance "
                          "ID 'i-0123456789abcdef0' does not exist</Message></Error></Errors></Response>");
        test_add_reply(t.fake, 200, "query-describe-auto-scaling-instances.xml", NULL);

        ASSERT_OK(autoscaling_find_group(t.client, INSTANCE, USEC_INFINITY, &e, &group));
        ASSERT_STREQ(group, "kafka-1");
        ASSERT_EQ(t.fake->n_requests, 2);
        ASSERT_STREQ(t.fake->requests[0].body, BODY_DESCRIBE_INSTANCES);
        ASSERT_STREQ(t.fake->requests[1].body, BODY_DESCRIBE_ASG_INSTANCES);
        group = mfree(group);

        ASSERT_OK(autoscaling_find_group(t.client, INSTANCE, USEC_INFINITY, &e, &group));
        ASSERT_STREQ(group, "kafka-1");
        ASSERT_NULL(e.code);
        group = mfree(group);

        ASSERT_OK(autoscaling_find_group(t.client, INSTANCE, USEC_INFINITY, &e, &group));
        ASSERT_STREQ(group, "kafka-1");
        group = mfree(group);
        ASSERT_EQ(t.fake->n_requests, 6);
        test_aws_done(&t);
}

static void test_find_group_none(void) {
        _cleanup_(aws_error_done) AwsError e = {};
        char *group = (char *) "untouched";
        TestAws t;

        ASSERT_OK(setup(&t));
        /* Neither a tag nor a group: not in Auto Scaling. */
        add_body(&t, 200, REPLY_UNTAGGED_INSTANCE);
        test_add_reply(t.fake, 200, "autoscaling-describe-auto-scaling-instances-empty.xml", NULL);
        /* Both refused. */
        test_add_reply(t.fake, 403, "ec2-error-unauthorized.xml", NULL);
        test_add_reply(t.fake, 403, "query-error-access-denied.xml", NULL);
        /* EC2 failing otherwise is the answer. */
        test_add_reply(t.fake, 503, "ec2-error-internal.xml", NULL);
        fake_transport_set_fallback(t.fake, &(FakeReply) { .status = 503, .body = "" });

        ASSERT_EQ(autoscaling_find_group(t.client, INSTANCE, USEC_INFINITY, &e, &group), -ENXIO);
        ASSERT_EQ(autoscaling_find_group(t.client, INSTANCE, USEC_INFINITY, &e, &group), -EACCES);
        ASSERT_STREQ(e.code, "AccessDenied");
        ASSERT_EQ(autoscaling_find_group(t.client, INSTANCE, USEC_INFINITY, &e, &group), -EREMOTEIO);
        ASSERT_STREQ(group, "untouched");
        /* No Auto Scaling request after the EC2 failure. */
        for (size_t i = 4; i < t.fake->n_requests; i++)
                ASSERT_TRUE(strstr(t.fake->requests[i].body, "Action=DescribeInstances&") != NULL);
        test_aws_done(&t);
}

/* -- signals: the policy ------------------------------------------------------------------- */

static ConfigSignal config_both = {
        .cloudformation_stack = (char *) "kafka",
        .cloudformation_resource = (char *) "Node1",
        .lifecycle_hook = (char *) "boot",
};

static ConfigSignal config_cloudformation = {
        .cloudformation_stack = (char *) "kafka",
        .cloudformation_resource = (char *) "Node1",
};

static ConfigSignal config_lifecycle = {
        .lifecycle_hook = (char *) "boot",
};

static char *action_of(const TestAws *t, size_t i) {
        if (i >= t->fake->n_requests)
                return strdup("(none)");
        return test_form_value(t->fake->requests[i].body, "Action");
}

/* _action is freed by its _cleanup_, which clang 14 does not run; the
 * analyzer reports it leaked under the name of ASSERT_STREQ()'s copy, _a,
 * hence the NOLINT. */
#define ASSERT_ACTION(t, i, name)                                       \
        do {                                                            \
                _cleanup_free_ char *_action = action_of((t), (i));     \
                ASSERT_STREQ(_action, (name)); /* NOLINT(clang-analyzer-unix.Malloc) */ \
        } while (0)

static void test_signal_nothing_configured(void) {
        ConfigSignal empty = {};
        Signal s;
        TestAws t;

        ASSERT_OK(setup(&t));
        signal_init(&s, t.client, NULL, INSTANCE);
        ASSERT_FALSE(signal_enabled(&s));
        ASSERT_OK(signal_start(&s, USEC_INFINITY));
        ASSERT_FALSE(signal_heartbeat_due(&s, USEC_INFINITY - 1));
        ASSERT_EQ(signal_heartbeat_next(&s), USEC_INFINITY);
        ASSERT_OK(signal_heartbeat(&s, USEC_INFINITY));
        ASSERT_OK(signal_success(&s, USEC_INFINITY));
        signal_failure(&s, USEC_INFINITY);
        signal_done(&s);

        /* An empty [Signal] section is the same. */
        signal_init(&s, t.client, &empty, INSTANCE);
        ASSERT_FALSE(signal_enabled(&s));
        ASSERT_OK(signal_start(&s, USEC_INFINITY));
        ASSERT_OK(signal_success(&s, USEC_INFINITY));
        signal_done(&s);

        ASSERT_EQ(t.fake->n_requests, 0);
        test_aws_done(&t);
}

static void test_signal_success(void) {
        usec_t t0;
        Signal s;
        TestAws t;

        ASSERT_OK(setup(&t));
        test_add_reply(t.fake, 200, "ec2-describe-instances.xml", NULL);
        test_add_reply(t.fake, 200, "autoscaling-record-heartbeat.xml", NULL);
        test_add_reply(t.fake, 200, "autoscaling-record-heartbeat.xml", NULL);
        test_add_reply(t.fake, 200, "autoscaling-complete-lifecycle-action.xml", NULL);
        test_add_reply(t.fake, 200, "cloudformation-signal-resource.xml", NULL);

        signal_init(&s, t.client, &config_both, INSTANCE);
        ASSERT_TRUE(signal_enabled(&s));

        t0 = now(CLOCK_MONOTONIC);
        ASSERT_OK(signal_start(&s, USEC_INFINITY));
        ASSERT_STREQ(s.group, "kafka-1");
        ASSERT_EQ(t.fake->n_requests, 2);
        ASSERT_STREQ(t.fake->requests[0].body, BODY_DESCRIBE_INSTANCES);
        ASSERT_STREQ(t.fake->requests[1].body, BODY_HEARTBEAT);

        /* The next heartbeat a minute after the first. */
        ASSERT_FALSE(signal_heartbeat_due(&s, now(CLOCK_MONOTONIC)));
        ASSERT_TRUE(signal_heartbeat_next(&s) >= t0 + SIGNAL_HEARTBEAT_INTERVAL_USEC);
        ASSERT_TRUE(signal_heartbeat_next(&s) <= now(CLOCK_MONOTONIC) + SIGNAL_HEARTBEAT_INTERVAL_USEC);
        ASSERT_TRUE(signal_heartbeat_due(&s, signal_heartbeat_next(&s)));
        ASSERT_OK(signal_heartbeat(&s, USEC_INFINITY));
        ASSERT_STREQ(t.fake->requests[2].body, BODY_HEARTBEAT);
        ASSERT_FALSE(signal_heartbeat_due(&s, now(CLOCK_MONOTONIC)));

        /* CONTINUE first, then SUCCESS. */
        ASSERT_OK(signal_success(&s, USEC_INFINITY));
        ASSERT_EQ(t.fake->n_requests, 5);
        ASSERT_STREQ(t.fake->requests[3].body, BODY_CONTINUE);
        ASSERT_STREQ(t.fake->requests[4].body, BODY_SIGNAL_SUCCESS);
        ASSERT_EQ(s.lifecycle, SIGNAL_SIDE_DONE);
        ASSERT_EQ(s.cloudformation, SIGNAL_SIDE_DONE);

        /* Done is done: no more heartbeats, no second signal, no failure
         * after success. */
        ASSERT_FALSE(signal_heartbeat_due(&s, USEC_INFINITY - 1));
        ASSERT_EQ(signal_heartbeat_next(&s), USEC_INFINITY);
        ASSERT_OK(signal_heartbeat(&s, USEC_INFINITY));
        ASSERT_OK(signal_success(&s, USEC_INFINITY));
        signal_failure(&s, USEC_INFINITY);
        ASSERT_EQ(t.fake->n_requests, 5);
        ASSERT_EQ(t.fake->mismatches, 0);
        signal_done(&s);
        test_aws_done(&t);
}

static void test_signal_failure(void) {
        Signal s;
        TestAws t;

        ASSERT_OK(setup(&t));
        test_add_reply(t.fake, 200, "ec2-describe-instances.xml", NULL);
        test_add_reply(t.fake, 200, "autoscaling-record-heartbeat.xml", NULL);
        test_add_reply(t.fake, 200, "cloudformation-signal-resource.xml", NULL);
        test_add_reply(t.fake, 200, "autoscaling-complete-lifecycle-action.xml", NULL);

        signal_init(&s, t.client, &config_both, INSTANCE);
        ASSERT_OK(signal_start(&s, USEC_INFINITY));
        /* FAILURE first, then ABANDON. */
        signal_failure(&s, USEC_INFINITY);
        ASSERT_EQ(t.fake->n_requests, 4);
        ASSERT_STREQ(t.fake->requests[2].body, BODY_SIGNAL_FAILURE);
        ASSERT_STREQ(t.fake->requests[3].body, BODY_ABANDON);

        /* A late success sends nothing. */
        ASSERT_OK(signal_success(&s, USEC_INFINITY));
        signal_failure(&s, USEC_INFINITY);
        ASSERT_EQ(t.fake->n_requests, 4);
        signal_done(&s);
        test_aws_done(&t);
}

static void test_signal_nobody_waits(void) {
        Signal s;
        TestAws t;

        ASSERT_OK(setup(&t));
        /* The usual replacement of an instance: the stack is complete, and
         * a hook (here) still waits. */
        test_add_reply(t.fake, 200, "ec2-describe-instances.xml", NULL);
        test_add_reply(t.fake, 200, "autoscaling-record-heartbeat.xml", NULL);
        test_add_reply(t.fake, 400, "autoscaling-error-no-active-action.xml", NULL);
        test_add_reply(t.fake, 400, "cloudformation-error-not-waiting.xml", NULL);

        signal_init(&s, t.client, &config_both, INSTANCE);
        ASSERT_OK(signal_start(&s, USEC_INFINITY));
        ASSERT_OK(signal_success(&s, USEC_INFINITY));
        ASSERT_EQ(t.fake->n_requests, 4);
        ASSERT_ACTION(&t, 2, "CompleteLifecycleAction");
        ASSERT_ACTION(&t, 3, "SignalResource");
        ASSERT_EQ(s.lifecycle, SIGNAL_SIDE_DONE);
        ASSERT_EQ(s.cloudformation, SIGNAL_SIDE_DONE);
        signal_done(&s);

        /* A signal an earlier run sent. */
        fake_transport_clear_requests(t.fake);
        test_add_reply(t.fake, 400, "cloudformation-error-already-signaled.xml", NULL);
        signal_init(&s, t.client, &config_cloudformation, INSTANCE);
        ASSERT_OK(signal_start(&s, USEC_INFINITY));
        ASSERT_EQ(t.fake->n_requests, 0);
        ASSERT_OK(signal_success(&s, USEC_INFINITY));
        ASSERT_EQ(t.fake->n_requests, 1);
        ASSERT_STREQ(t.fake->requests[0].body, BODY_SIGNAL_SUCCESS);
        signal_done(&s);
        ASSERT_EQ(t.fake->mismatches, 0);
        test_aws_done(&t);
}

static void test_signal_no_action_at_start(void) {
        Signal s;
        TestAws t;

        ASSERT_OK(setup(&t));
        /* No lifecycle action waits from the start (a restarted agent, a
         * hook added after the launch): no heartbeats, no completion. */
        test_add_reply(t.fake, 200, "ec2-describe-instances.xml", NULL);
        test_add_reply(t.fake, 400, "autoscaling-error-no-active-action.xml", NULL);
        test_add_reply(t.fake, 200, "cloudformation-signal-resource.xml", NULL);

        signal_init(&s, t.client, &config_both, INSTANCE);
        ASSERT_OK(signal_start(&s, USEC_INFINITY));
        ASSERT_EQ(s.lifecycle, SIGNAL_SIDE_DONE);
        ASSERT_FALSE(signal_heartbeat_due(&s, USEC_INFINITY - 1));
        ASSERT_EQ(signal_heartbeat_next(&s), USEC_INFINITY);
        ASSERT_OK(signal_success(&s, USEC_INFINITY));
        ASSERT_EQ(t.fake->n_requests, 3);
        ASSERT_STREQ(t.fake->requests[2].body, BODY_SIGNAL_SUCCESS);
        signal_done(&s);
        test_aws_done(&t);
}

static void test_signal_heartbeat_failures(void) {
        Signal s;
        TestAws t;

        ASSERT_OK(setup(&t));
        test_add_reply(t.fake, 200, "ec2-describe-instances.xml", NULL);
        /* A refused first heartbeat is only a warning. */
        test_add_reply(t.fake, 403, "query-error-access-denied.xml", NULL);
        /* Later the action times out. */
        test_add_reply(t.fake, 400, "autoscaling-error-no-active-action.xml", NULL);

        signal_init(&s, t.client, &config_lifecycle, INSTANCE);
        ASSERT_OK(signal_start(&s, USEC_INFINITY));
        ASSERT_EQ(s.lifecycle, SIGNAL_SIDE_PENDING);
        ASSERT_TRUE(signal_heartbeat_next(&s) != USEC_INFINITY);
        ASSERT_OK(signal_heartbeat(&s, USEC_INFINITY));
        ASSERT_EQ(s.lifecycle, SIGNAL_SIDE_DONE);
        ASSERT_EQ(signal_heartbeat_next(&s), USEC_INFINITY);
        /* Nothing left to complete. */
        ASSERT_OK(signal_success(&s, USEC_INFINITY));
        ASSERT_EQ(t.fake->n_requests, 3);
        signal_done(&s);
        test_aws_done(&t);
}

static void test_signal_success_errors(void) {
        Signal s;
        TestAws t;

        ASSERT_OK(setup(&t));
        test_add_reply(t.fake, 200, "ec2-describe-instances.xml", NULL);
        test_add_reply(t.fake, 200, "autoscaling-record-heartbeat.xml", NULL);
        /* CONTINUE refused; SUCCESS is still sent. */
        test_add_reply(t.fake, 403, "query-error-access-denied.xml", NULL);
        test_add_reply(t.fake, 200, "cloudformation-signal-resource.xml", NULL);
        /* Asked again: only CONTINUE is left, and now accepted. */
        test_add_reply(t.fake, 200, "autoscaling-complete-lifecycle-action.xml", NULL);

        signal_init(&s, t.client, &config_both, INSTANCE);
        ASSERT_OK(signal_start(&s, USEC_INFINITY));
        ASSERT_EQ(signal_success(&s, USEC_INFINITY), -EACCES);
        ASSERT_EQ(t.fake->n_requests, 4);
        ASSERT_STREQ(t.fake->requests[3].body, BODY_SIGNAL_SUCCESS);
        ASSERT_EQ(s.lifecycle, SIGNAL_SIDE_PENDING);
        ASSERT_EQ(s.cloudformation, SIGNAL_SIDE_DONE);

        ASSERT_OK(signal_success(&s, USEC_INFINITY));
        ASSERT_EQ(t.fake->n_requests, 5);
        ASSERT_STREQ(t.fake->requests[4].body, BODY_CONTINUE);
        signal_done(&s);

        /* SUCCESS refused by CloudFormation. */
        fake_transport_clear_requests(t.fake);
        add_body(&t, 400, "<ErrorResponse><Error><Code>ValidationError</Code><Message>Stack with id kafka does "
                          "not exist</Message></Error></ErrorResponse>");
        signal_init(&s, t.client, &config_cloudformation, INSTANCE);
        ASSERT_EQ(signal_success(&s, USEC_INFINITY), -EREMOTEIO);
        ASSERT_EQ(s.cloudformation, SIGNAL_SIDE_PENDING);
        signal_done(&s);
        test_aws_done(&t);
}

static void test_signal_failure_errors_ignored(void) {
        Signal s;
        TestAws t;

        ASSERT_OK(setup(&t));
        test_add_reply(t.fake, 200, "ec2-describe-instances.xml", NULL);
        test_add_reply(t.fake, 200, "autoscaling-record-heartbeat.xml", NULL);
        test_add_reply(t.fake, 403, "query-error-access-denied.xml", NULL);
        test_add_reply(t.fake, 403, "query-error-access-denied.xml", NULL);

        signal_init(&s, t.client, &config_both, INSTANCE);
        ASSERT_OK(signal_start(&s, USEC_INFINITY));
        /* Both refused: logged, and nothing else happens. */
        signal_failure(&s, USEC_INFINITY);
        ASSERT_EQ(t.fake->n_requests, 4);
        ASSERT_ACTION(&t, 2, "SignalResource");
        ASSERT_ACTION(&t, 3, "CompleteLifecycleAction");
        signal_done(&s);
        test_aws_done(&t);
}

static void test_signal_start_no_group(void) {
        Signal s;
        TestAws t;

        ASSERT_OK(setup(&t));
        add_body(&t, 200, REPLY_UNTAGGED_INSTANCE);
        test_add_reply(t.fake, 200, "autoscaling-describe-auto-scaling-instances-empty.xml", NULL);
        test_add_reply(t.fake, 403, "ec2-error-unauthorized.xml", NULL);
        test_add_reply(t.fake, 403, "query-error-access-denied.xml", NULL);
        /* At failure the group is looked up once more, and the CloudFormation
         * side goes out regardless. */
        test_add_reply(t.fake, 200, "cloudformation-signal-resource.xml", NULL);
        test_add_reply(t.fake, 200, "ec2-describe-instances.xml", NULL);
        test_add_reply(t.fake, 200, "autoscaling-complete-lifecycle-action.xml", NULL);

        signal_init(&s, t.client, &config_both, INSTANCE);
        ASSERT_EQ(signal_start(&s, USEC_INFINITY), -ENXIO);
        ASSERT_NULL(s.group);
        ASSERT_FALSE(signal_heartbeat_due(&s, USEC_INFINITY - 1));
        ASSERT_OK(signal_heartbeat(&s, USEC_INFINITY));
        ASSERT_EQ(t.fake->n_requests, 2);
        ASSERT_EQ(signal_start(&s, USEC_INFINITY), -EACCES);
        ASSERT_EQ(t.fake->n_requests, 4);

        signal_failure(&s, USEC_INFINITY);
        ASSERT_EQ(t.fake->n_requests, 7);
        ASSERT_STREQ(t.fake->requests[4].body, BODY_SIGNAL_FAILURE);
        ASSERT_STREQ(t.fake->requests[6].body, BODY_ABANDON);
        signal_done(&s);
        test_aws_done(&t);
}

int main(int argc, char *argv[]) {
        if (argc > 1)
                test_replies_dir = argv[1];

        RUN_TEST(test_signal_resource);
        RUN_TEST(test_signal_resource_nobody_waits);
        RUN_TEST(test_signal_resource_errors);
        RUN_TEST(test_signal_resource_throttled_then_accepted);
        RUN_TEST(test_lifecycle_action_result_to_string);
        RUN_TEST(test_record_heartbeat);
        RUN_TEST(test_complete_lifecycle_action);
        RUN_TEST(test_lifecycle_errors);
        RUN_TEST(test_describe_instance);
        RUN_TEST(test_find_group_from_tag);
        RUN_TEST(test_find_group_fallback);
        RUN_TEST(test_find_group_none);
        RUN_TEST(test_signal_nothing_configured);
        RUN_TEST(test_signal_success);
        RUN_TEST(test_signal_failure);
        RUN_TEST(test_signal_nobody_waits);
        RUN_TEST(test_signal_no_action_at_start);
        RUN_TEST(test_signal_heartbeat_failures);
        RUN_TEST(test_signal_success_errors);
        RUN_TEST(test_signal_failure_errors_ignored);
        RUN_TEST(test_signal_start_no_group);
        return tests_finish();
}
