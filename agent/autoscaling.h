/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The Auto Scaling actions of a launch lifecycle hook, and how to learn
 * which group this instance belongs to. Names on the wire follow botocore's
 * model (autoscaling 2011-01-01, Query protocol). The lifecycle calls name
 * the action by group, hook and instance id: the token Auto Scaling sends to
 * a notification target never reaches the instance, and the instance id
 * identifies the action as well. */

#include "aws.h"

/* The tag Auto Scaling puts on every instance it launches or attaches. */
#define AUTOSCALING_GROUP_TAG "aws:autoscaling:groupName"

typedef enum LifecycleActionResult {
        LIFECYCLE_ACTION_CONTINUE,
        LIFECYCLE_ACTION_ABANDON,
        _LIFECYCLE_ACTION_RESULT_MAX,
} LifecycleActionResult;

/* "CONTINUE", "ABANDON"; NULL when out of range. */
const char *lifecycle_action_result_to_string(LifecycleActionResult r);

/* Both lifecycle calls return 0 when Auto Scaling accepted them, -ESRCH when
 * no lifecycle action of that hook is waiting for the instance ("No active
 * Lifecycle Action found": completed already, timed out, or never started,
 * e.g. an instance launched before the hook existed, or a wrong hook name),
 * else the errors of aws_query_call(). ret_error (may be NULL, else
 * initialized) describes the error reply, also for -ESRCH. */

/* Extends the wait of the hook by its heartbeat timeout. */
int autoscaling_record_heartbeat(AwsClient *c, const char *group, const char *hook, const char *instance_id,
                                 usec_t deadline, AwsError *ret_error);

/* Ends the wait: CONTINUE lets the launch proceed (InService), ABANDON
 * terminates the instance. */
int autoscaling_complete_lifecycle_action(AwsClient *c, const char *group, const char *hook,
                                          const char *instance_id, LifecycleActionResult result,
                                          usec_t deadline, AwsError *ret_error);

typedef struct AutoScalingInstance {
        char *instance_id;
        char *group;
        char *lifecycle_state;  /* Pending, Pending:Wait, InService, Terminating, ... */
} AutoScalingInstance;

void autoscaling_instance_done(AutoScalingInstance *i);

/* DescribeAutoScalingInstances for one instance. -ENXIO when Auto Scaling
 * does not know it (not in any group, or not any more). */
int autoscaling_describe_instance(AwsClient *c, const char *instance_id, usec_t deadline, AwsError *ret_error,
                                  AutoScalingInstance *ret);

/* The name of the group the instance belongs to. First from the instance's
 * aws:autoscaling:groupName tag, read with ec2:DescribeInstances: the agent's
 * role holds that permission already (the volume take-over looks at the
 * previous holder), and EC2 answers it without the instance metadata tags
 * option. When the tag is not there (yet: Auto Scaling may tag an instance a
 * moment after launching it), or EC2 refuses or does not show the instance
 * yet, Auto Scaling is asked (DescribeAutoScalingInstances, which needs its
 * own permission). -ENXIO when neither knows a group (the instance is in
 * none); -EACCES when Auto Scaling, asked, refused; other errors of either
 * call as they come. ret_error then describes the last AWS error. */
int autoscaling_find_group(AwsClient *c, const char *instance_id, usec_t deadline, AwsError *ret_error,
                           char **ret_group);
