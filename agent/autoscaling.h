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

/* -- what --check reads of the group (DescribeAutoScalingGroups, DescribeLifecycleHooks) -- */

/* The percentages of an instance maintenance policy are -1 when the group
 * has none (Auto Scaling's default behaviour: it terminates an unhealthy
 * instance before launching its replacement). */
#define AUTOSCALING_NO_PERCENTAGE (-1)

typedef struct AutoScalingGroup {
        char *name;
        uint64_t min_size;
        uint64_t max_size;
        uint64_t desired_capacity;
        int min_healthy_percentage;     /* 0..100, or AUTOSCALING_NO_PERCENTAGE */
        int max_healthy_percentage;     /* 100..200, or AUTOSCALING_NO_PERCENTAGE */
        size_t n_instances;             /* the group's members now */
} AutoScalingGroup;

void autoscaling_group_done(AutoScalingGroup *g);

/* DescribeAutoScalingGroups of one group. -ENXIO when Auto Scaling knows
 * no group of that name (it answers an empty list, not an error); else the
 * errors of aws_query_call(). InstanceMaintenancePolicy is newer than some
 * SDK models (Debian's botocore 1.29 lacks it); its members are read as
 * AWS's API reference names them. */
int autoscaling_describe_group(AwsClient *c, const char *group, usec_t deadline, AwsError *ret_error,
                               AutoScalingGroup *ret);

typedef struct AutoScalingHook {
        char *name;
        char *transition;               /* autoscaling:EC2_INSTANCE_LAUNCHING or _TERMINATING */
        uint64_t heartbeat_timeout;     /* seconds */
        uint64_t global_timeout;        /* seconds; 0 when the reply did not say */
        char *default_result;           /* CONTINUE or ABANDON */
} AutoScalingHook;

#define AUTOSCALING_LAUNCHING "autoscaling:EC2_INSTANCE_LAUNCHING"

AutoScalingHook *autoscaling_hooks_free(AutoScalingHook *hooks, size_t n);

/* DescribeLifecycleHooks of a group: all of them, in Auto Scaling's order.
 * *ret_hooks is NULL when there are none. Errors of aws_query_call(). */
int autoscaling_describe_hooks(AwsClient *c, const char *group, usec_t deadline, AwsError *ret_error,
                               AutoScalingHook **ret_hooks, size_t *ret_n);

/* What an instance maintenance policy means for a node's hand-over, where
 * the new instance can start only once the old one let go of the volume
 * and the ENI. Pure. */
typedef enum MaintenanceVerdict {
        MAINTENANCE_OK,                 /* no policy, or one that lets the old instance go first */
        MAINTENANCE_MAY_DEADLOCK,       /* keeps a fraction of one instance: how Auto Scaling rounds it
                                         * is not documented */
        MAINTENANCE_DEADLOCKS,          /* every instance must stay in service until its replacement is
                                         * healthy: the replacement waits for the volume forever */
} MaintenanceVerdict;

MaintenanceVerdict autoscaling_maintenance_verdict(uint64_t desired_capacity, int min_healthy_percentage);

/* What a launch hook's timeouts mean for a boot of boot_timeout that sends
 * a heartbeat every heartbeat_interval (signals.h). Pure. */
typedef enum HookVerdict {
        HOOK_OK,
        HOOK_HEARTBEAT_TOO_SHORT,       /* the hook times out between two heartbeats */
        HOOK_GLOBAL_TOO_SHORT,          /* heartbeats cannot keep it past its global timeout */
} HookVerdict;

/* How late a heartbeat may come after its interval: the one before it may
 * have needed its retries (aws.c: about 12 s at most), and the first one
 * comes only once the instance has booted and nodeagent runs, while the
 * hook's clock started at the launch. */
#define AUTOSCALING_HEARTBEAT_SLACK_USEC (30 * USEC_PER_SEC)

/* Auto Scaling's own cap on a hook's global timeout, and its default: the
 * smaller of 48 hours and 100 heartbeat timeouts. */
#define AUTOSCALING_GLOBAL_TIMEOUT_MAX_SEC (48U * 3600U)

HookVerdict autoscaling_hook_verdict(const AutoScalingHook *hook, usec_t boot_timeout, usec_t heartbeat_interval);
