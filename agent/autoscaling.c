/* SPDX-License-Identifier: Apache-2.0 */
#include <string.h>

#include "autoscaling.h"
#include "ec2.h"
#include "log.h"

static const char *const lifecycle_action_results[_LIFECYCLE_ACTION_RESULT_MAX] = {
        [LIFECYCLE_ACTION_CONTINUE] = "CONTINUE",
        [LIFECYCLE_ACTION_ABANDON] = "ABANDON",
};

const char *lifecycle_action_result_to_string(LifecycleActionResult r) {
        if (r < 0 || r >= _LIFECYCLE_ACTION_RESULT_MAX)
                return NULL;
        return lifecycle_action_results[r];
}

void autoscaling_instance_done(AutoScalingInstance *i) {
        if (!i)
                return;
        free(i->instance_id);
        free(i->group);
        free(i->lifecycle_state);
        *i = (AutoScalingInstance) {};
}

/* A reply to action X is <XResponse>: anything else is not an answer to
 * this request (a misrouted endpoint, a proxy's page). */
static int reply_check_root(const char *action, const XmlDoc *reply) {
        const XmlNode *root = xml_doc_root(reply);
        const char *rest;

        rest = root ? startswith(root->name, action) : NULL;
        if (!rest || !streq(rest, "Response"))
                return log_debug_errno(EBADMSG, "%s reply is <%s>, not <%sResponse>.", action,
                                       root ? root->name : "", action);
        return 0;
}

/* Auto Scaling reports every lifecycle call that finds nothing to act on as
 * ValidationError "No active Lifecycle Action found with instance ID i-...":
 * the message is the only thing that tells it from a malformed request. */
static bool error_is_no_active_action(const AwsError *e) {
        return streq_ptr(e->code, "ValidationError") && e->message &&
               strcasestr(e->message, "No active Lifecycle Action");
}

static int lifecycle_call(AwsClient *c, const char *action, const AwsParams *params, const char *instance_id,
                          usec_t deadline, AwsError *ret_error) {
        _cleanup_(aws_error_done) AwsError own_error = {};
        _cleanup_(xml_doc_freep) XmlDoc *reply = NULL;
        AwsError *error = ret_error ?: &own_error;
        int r;

        r = aws_query_call(c, AWS_SERVICE_AUTOSCALING, action, params, deadline, error, &reply);
        if (r == -EREMOTEIO && error_is_no_active_action(error))
                return log_debug_errno(ESRCH, "%s %s: %s", action, instance_id, error->message);
        if (r < 0)
                return r;
        return reply_check_root(action, reply);
}

/* The members both lifecycle calls share, in the model's order:
 * LifecycleHookName, AutoScalingGroupName, then (after the token, which the
 * agent never has) the rest. */
static int add_hook_and_group(AwsParams *p, const char *group, const char *hook) {
        int r;

        r = aws_params_add(p, "LifecycleHookName", hook);
        if (r < 0)
                return r;
        return aws_params_add(p, "AutoScalingGroupName", group);
}

int autoscaling_record_heartbeat(AwsClient *c, const char *group, const char *hook, const char *instance_id,
                                 usec_t deadline, AwsError *ret_error) {
        _cleanup_(aws_params_done) AwsParams params = {};
        int r;

        if (!c || isempty(group) || isempty(hook) || isempty(instance_id))
                return -EINVAL;

        r = add_hook_and_group(&params, group, hook);
        if (r >= 0)
                r = aws_params_add(&params, "InstanceId", instance_id);
        if (r < 0)
                return r;

        return lifecycle_call(c, "RecordLifecycleActionHeartbeat", &params, instance_id, deadline, ret_error);
}

int autoscaling_complete_lifecycle_action(AwsClient *c, const char *group, const char *hook,
                                          const char *instance_id, LifecycleActionResult result,
                                          usec_t deadline, AwsError *ret_error) {
        _cleanup_(aws_params_done) AwsParams params = {};
        const char *result_string = lifecycle_action_result_to_string(result);
        int r;

        if (!c || isempty(group) || isempty(hook) || isempty(instance_id) || !result_string)
                return -EINVAL;

        r = add_hook_and_group(&params, group, hook);
        if (r >= 0)
                r = aws_params_add(&params, "LifecycleActionResult", result_string);
        if (r >= 0)
                r = aws_params_add(&params, "InstanceId", instance_id);
        if (r < 0)
                return r;

        return lifecycle_call(c, "CompleteLifecycleAction", &params, instance_id, deadline, ret_error);
}

static int dup_text(const XmlNode *n, const char *path, char **ret) {
        const char *t = xml_path_text(n, path);

        if (isempty(t)) {
                *ret = NULL;
                return 0;
        }
        *ret = strdup(t);
        return *ret ? 0 : -ENOMEM;
}

int autoscaling_describe_instance(AwsClient *c, const char *instance_id, usec_t deadline, AwsError *ret_error,
                                  AutoScalingInstance *ret) {
        _cleanup_(aws_params_done) AwsParams params = {};
        _cleanup_(xml_doc_freep) XmlDoc *reply = NULL;
        _cleanup_(autoscaling_instance_done) AutoScalingInstance i = {};
        const XmlNode *list;
        int r;

        if (!c || isempty(instance_id) || !ret)
                return -EINVAL;

        /* One id answers with at most one member: no NextToken to follow. */
        r = aws_params_add(&params, "InstanceIds.member.1", instance_id);
        if (r < 0)
                return r;

        r = aws_query_call(c, AWS_SERVICE_AUTOSCALING, "DescribeAutoScalingInstances", &params, deadline,
                           ret_error, &reply);
        if (r < 0)
                return r;
        r = reply_check_root("DescribeAutoScalingInstances", reply);
        if (r < 0)
                return r;

        list = xml_path(xml_doc_root(reply), "DescribeAutoScalingInstancesResult/AutoScalingInstances");
        XML_FOREACH(member, list, "member") {
                if (!streq_ptr(xml_path_text(member, "InstanceId"), instance_id))
                        continue;
                r = dup_text(member, "InstanceId", &i.instance_id);
                if (r >= 0)
                        r = dup_text(member, "AutoScalingGroupName", &i.group);
                if (r >= 0)
                        r = dup_text(member, "LifecycleState", &i.lifecycle_state);
                if (r < 0)
                        return r;
                if (!i.group)
                        return log_debug_errno(EBADMSG, "DescribeAutoScalingInstances reply has %s without "
                                               "AutoScalingGroupName.", instance_id);
                *ret = i;
                i = (AutoScalingInstance) {};
                return 0;
        }
        return log_debug_errno(ENXIO, "Auto Scaling knows no group of %s.", instance_id);
}

/* The group tag of instance_id; NULL (and 0) when the instance or the tag
 * is missing. */
static int group_from_tag(const Ec2Instance *instances, size_t n, const char *instance_id, char **ret) {
        for (size_t i = 0; i < n; i++) {
                const char *v;

                if (!streq_ptr(instances[i].id, instance_id))
                        continue;
                v = ec2_tags_get(instances[i].tags, instances[i].n_tags, AUTOSCALING_GROUP_TAG);
                if (isempty(v))
                        break;
                *ret = strdup(v);
                return *ret ? 0 : -ENOMEM;
        }
        *ret = NULL;
        return 0;
}

int autoscaling_find_group(AwsClient *c, const char *instance_id, usec_t deadline, AwsError *ret_error,
                           char **ret_group) {
        _cleanup_(autoscaling_instance_done) AutoScalingInstance asi = {};
        _cleanup_free_ char *group = NULL;
        const char *ids[] = { instance_id, NULL };
        Ec2Instance *instances = NULL;
        size_t n = 0;
        int r;

        if (!c || isempty(instance_id) || !ret_group)
                return -EINVAL;

        r = ec2_describe_instances(c, ids, NULL, 0, false, deadline, ret_error, &instances, &n);
        if (r >= 0) {
                r = group_from_tag(instances, n, instance_id, &group);
                instances = ec2_instances_free(instances, n);
                if (r < 0)
                        return r;
                if (group) {
                        log_debug("%s is in Auto Scaling group %s (its %s tag).", instance_id, group,
                                  AUTOSCALING_GROUP_TAG);
                        *ret_group = TAKE_PTR(group);
                        return 0;
                }
                log_debug("%s has no %s tag; asking Auto Scaling.", instance_id, AUTOSCALING_GROUP_TAG);
        } else if (r == -EACCES || r == -ENOENT)
                /* Refused, or not visible yet (EC2 is eventually consistent
                 * right after a launch): Auto Scaling may still answer. */
                (void) log_debug_errno(r, "DescribeInstances %s failed, asking Auto Scaling: %m", instance_id);
        else
                return r;

        r = autoscaling_describe_instance(c, instance_id, deadline, ret_error, &asi);
        if (r < 0)
                return r;

        log_debug("%s is in Auto Scaling group %s (DescribeAutoScalingInstances, %s).", instance_id, asi.group,
                  strna(asi.lifecycle_state));
        /* NOLINTNEXTLINE(clang-analyzer-unix.Malloc): asi's other fields are freed by its _cleanup_, which clang 14 does not run. */
        *ret_group = TAKE_PTR(asi.group);
        return 0;
}

/* -- DescribeAutoScalingGroups, DescribeLifecycleHooks ----------------------------------- */

void autoscaling_group_done(AutoScalingGroup *g) {
        if (!g)
                return;
        free(g->name);
        *g = (AutoScalingGroup) {};
}

/* A count the model types as Int: unsigned decimal. An absent one is 0. */
static int parse_count(const XmlNode *n, const char *name, uint64_t *ret) {
        int r = xml_text_uint64(xml_child(n, name), ret);

        if (r == -ENOENT) {
                *ret = 0;
                return 0;
        }
        if (r < 0)
                return log_debug_errno(EBADMSG, "DescribeAutoScalingGroups reply has a bad %s.", name);
        return 0;
}

/* A percentage of the instance maintenance policy: absent or -1 ("cleared")
 * is AUTOSCALING_NO_PERCENTAGE, else it must be within [min, max]. */
static int parse_percentage(const XmlNode *n, const char *name, int min, int max, int *ret) {
        const XmlNode *p = xml_child(n, name);
        uint64_t v;
        int r;

        if (!p || streq(xml_text(p), "-1")) {
                *ret = AUTOSCALING_NO_PERCENTAGE;
                return 0;
        }
        r = xml_text_uint64(p, &v);
        if (r < 0 || v < (uint64_t) min || v > (uint64_t) max)
                return log_debug_errno(EBADMSG, "DescribeAutoScalingGroups reply has a bad %s \"%s\".", name,
                                       xml_text(p));
        *ret = (int) v;
        return 0;
}

static int parse_group(const XmlNode *member, AutoScalingGroup *ret) {
        _cleanup_(autoscaling_group_done) AutoScalingGroup g = {};
        const XmlNode *policy = xml_child(member, "InstanceMaintenancePolicy");
        int r;

        r = dup_text(member, "AutoScalingGroupName", &g.name);
        if (r < 0)
                return r;
        r = parse_count(member, "MinSize", &g.min_size);
        if (r >= 0)
                r = parse_count(member, "MaxSize", &g.max_size);
        if (r >= 0)
                r = parse_count(member, "DesiredCapacity", &g.desired_capacity);
        if (r >= 0)
                r = parse_percentage(policy, "MinHealthyPercentage", 0, 100, &g.min_healthy_percentage);
        if (r >= 0)
                r = parse_percentage(policy, "MaxHealthyPercentage", 100, 200, &g.max_healthy_percentage);
        if (r < 0)
                return r;
        g.n_instances = xml_count(xml_child(member, "Instances"), "member");

        *ret = g;
        g = (AutoScalingGroup) {};
        return 0;
}

int autoscaling_describe_group(AwsClient *c, const char *group, usec_t deadline, AwsError *ret_error,
                               AutoScalingGroup *ret) {
        _cleanup_(aws_params_done) AwsParams params = {};
        _cleanup_(xml_doc_freep) XmlDoc *reply = NULL;
        const XmlNode *list;
        int r;

        if (!c || isempty(group) || !ret)
                return -EINVAL;

        /* One name answers with at most one group: no NextToken to follow. */
        r = aws_params_add(&params, "AutoScalingGroupNames.member.1", group);
        if (r < 0)
                return r;
        r = aws_query_call(c, AWS_SERVICE_AUTOSCALING, "DescribeAutoScalingGroups", &params, deadline, ret_error,
                           &reply);
        if (r < 0)
                return r;
        r = reply_check_root("DescribeAutoScalingGroups", reply);
        if (r < 0)
                return r;

        list = xml_path(xml_doc_root(reply), "DescribeAutoScalingGroupsResult/AutoScalingGroups");
        XML_FOREACH(member, list, "member")
                if (streq_ptr(xml_path_text(member, "AutoScalingGroupName"), group))
                        return parse_group(member, ret);
        return log_debug_errno(ENXIO, "Auto Scaling knows no group %s.", group);
}

AutoScalingHook *autoscaling_hooks_free(AutoScalingHook *hooks, size_t n) {
        for (size_t i = 0; hooks && i < n; i++) {
                free(hooks[i].name);
                free(hooks[i].transition);
                free(hooks[i].default_result);
        }
        free(hooks);
        return NULL;
}

static int parse_hook(const XmlNode *member, AutoScalingHook *h) {
        int r;

        r = dup_text(member, "LifecycleHookName", &h->name);
        if (r >= 0)
                r = dup_text(member, "LifecycleTransition", &h->transition);
        if (r >= 0)
                r = dup_text(member, "DefaultResult", &h->default_result);
        if (r < 0)
                return r;
        if (!h->name)
                return log_debug_errno(EBADMSG, "DescribeLifecycleHooks reply has a hook without a name.");
        /* Auto Scaling always says both; a missing one reads as 0, which the
         * verdict treats as "unknown" (global) or as too short (heartbeat). */
        r = xml_text_uint64(xml_child(member, "HeartbeatTimeout"), &h->heartbeat_timeout);
        if (r == -ENOENT)
                r = 0;
        if (r >= 0) {
                r = xml_text_uint64(xml_child(member, "GlobalTimeout"), &h->global_timeout);
                if (r == -ENOENT)
                        r = 0;
        }
        if (r < 0)
                return log_debug_errno(EBADMSG, "DescribeLifecycleHooks reply has a bad timeout for hook %s.",
                                       h->name);
        return 0;
}

int autoscaling_describe_hooks(AwsClient *c, const char *group, usec_t deadline, AwsError *ret_error,
                               AutoScalingHook **ret_hooks, size_t *ret_n) {
        _cleanup_(aws_params_done) AwsParams params = {};
        _cleanup_(xml_doc_freep) XmlDoc *reply = NULL;
        AutoScalingHook *hooks = NULL;
        const XmlNode *list;
        size_t n = 0, k;
        int r;

        if (!c || isempty(group) || !ret_hooks || !ret_n)
                return -EINVAL;

        r = aws_params_add(&params, "AutoScalingGroupName", group);
        if (r < 0)
                return r;
        r = aws_query_call(c, AWS_SERVICE_AUTOSCALING, "DescribeLifecycleHooks", &params, deadline, ret_error,
                           &reply);
        if (r < 0)
                return r;
        r = reply_check_root("DescribeLifecycleHooks", reply);
        if (r < 0)
                return r;

        list = xml_path(xml_doc_root(reply), "DescribeLifecycleHooksResult/LifecycleHooks");
        k = xml_count(list, "member");
        if (k > 0) {
                hooks = calloc(k, sizeof(AutoScalingHook));
                if (!hooks)
                        return -ENOMEM;
        }
        XML_FOREACH(member, list, "member") {
                /* xml_count() counted these very members: the bound holds,
                 * said so that no reader (nor the analyzer) has to trust it. */
                if (n >= k)
                        break;
                r = parse_hook(member, &hooks[n++]);
                if (r < 0) {
                        autoscaling_hooks_free(hooks, n);
                        return r;
                }
        }

        *ret_hooks = hooks;
        *ret_n = n;
        return 0;
}

MaintenanceVerdict autoscaling_maintenance_verdict(uint64_t desired_capacity, int min_healthy_percentage) {
        uint64_t kept, rest;

        /* No policy (or a cleared one), 0 %, or an empty group: Auto
         * Scaling may take the old instance out of service first. */
        if (min_healthy_percentage <= 0 || desired_capacity == 0 || desired_capacity > UINT64_MAX / 100)
                return MAINTENANCE_OK;

        kept = desired_capacity * (uint64_t) min_healthy_percentage / 100;
        rest = desired_capacity * (uint64_t) min_healthy_percentage % 100;
        if (kept >= desired_capacity)
                return MAINTENANCE_DEADLOCKS;
        /* A fraction that, rounded up, keeps every instance: a group of one
         * at 50 % keeps half an instance. */
        if (rest != 0 && kept + 1 >= desired_capacity)
                return MAINTENANCE_MAY_DEADLOCK;
        return MAINTENANCE_OK;
}

/* Seconds as usec_t, USEC_INFINITY when they do not fit. */
static usec_t sec_to_usec(uint64_t sec) {
        if (sec >= USEC_INFINITY / USEC_PER_SEC)
                return USEC_INFINITY;
        return sec * USEC_PER_SEC;
}

HookVerdict autoscaling_hook_verdict(const AutoScalingHook *hook, usec_t boot_timeout, usec_t heartbeat_interval) {
        uint64_t global = hook->global_timeout;
        usec_t heartbeat = sec_to_usec(hook->heartbeat_timeout);

        if (global == 0)
                global = MIN(hook->heartbeat_timeout, (uint64_t) AUTOSCALING_GLOBAL_TIMEOUT_MAX_SEC) * 100;
        global = MIN(global, (uint64_t) AUTOSCALING_GLOBAL_TIMEOUT_MAX_SEC);

        /* A boot that ends before a timeout completes the action itself. */
        if (heartbeat < boot_timeout &&
            heartbeat < usec_add(heartbeat_interval, AUTOSCALING_HEARTBEAT_SLACK_USEC))
                return HOOK_HEARTBEAT_TOO_SHORT;
        if (sec_to_usec(global) < boot_timeout)
                return HOOK_GLOBAL_TOO_SHORT;
        return HOOK_OK;
}
