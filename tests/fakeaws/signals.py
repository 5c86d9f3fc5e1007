"""Auto Scaling and CloudFormation (Query protocol): the agent's "I am done"
signals, and the group reads of `nodeagent --check`.

Only what the agent sends is implemented; each accepted signal is recorded
in the world (autoscaling.lifecycle_actions, cloudformation.signals) so tests
assert on it.

DescribeAutoScalingGroups and DescribeLifecycleHooks answer from
autoscaling.groups.{name}: "min_size", "max_size", "desired_capacity"
(default: the members), "instance_maintenance_policy":
{"min_healthy_percentage", "max_healthy_percentage"}, and per hook
"lifecycle_transition" (default launching), "heartbeat_timeout" (3600),
"global_timeout" (default as AWS: the smaller of 100 heartbeat timeouts and
48 h), "default_result" (ABANDON). A world that describes no groups has the
groups its instances' aws:autoscaling:groupName tags name, with one
instance's sizes, no policy and no hooks. InstanceMaintenancePolicy is newer
than Debian's botocore 1.29 model: its reply member is built from AWS's API
reference (AutoScalingGroup and InstanceMaintenancePolicy, Auto Scaling API
Reference), see _MAINTENANCE_POLICY below.

Two levels of strictness, chosen by the world:

- By default any signal is accepted and recorded: a world that says nothing
  about groups or stacks has nobody to refuse with.
- A world that describes them is checked as AWS checks:
  autoscaling.groups.{name}.hooks.{hook} = {"heartbeat_timeout": s,
  "default_result": "ABANDON" | "CONTINUE"} makes every lifecycle call need
  an active action: an instance tagged aws:autoscaling:groupName = {name}
  whose lifecycle_state is "Pending:Wait" (with lifecycle_hook naming the
  hook when the group has several); heartbeats move its lifecycle_timeout_at,
  completion moves it to InService (CONTINUE) or Terminating (ABANDON), and a
  timeout applies the hook's default result. Otherwise: ValidationError "No
  active Lifecycle Action found with instance ID ...", as AWS answers.
  cloudformation.stacks.{name} = {"stack_id": arn, "status":
  "CREATE_IN_PROGRESS", "resources": {logical id: {"status":
  "CREATE_IN_PROGRESS", "count": n}}} makes SignalResource check the stack,
  its state ("... is in UPDATE_COMPLETE state and cannot be signaled"), the
  resource and its state, and refuse a second signal with the same UniqueId;
  n SUCCESS signals complete the resource, one FAILURE fails it and starts
  the stack's rollback.
"""

import awsmodel
from errors import AwsError

_GROUP_TAG = "aws:autoscaling:groupName"
_LAUNCHING = "autoscaling:EC2_INSTANCE_LAUNCHING"
_GLOBAL_TIMEOUT_MAX = 48 * 3600

# AutoScalingGroup.InstanceMaintenancePolicy as AWS's API reference documents
# it (both members Integer; MinHealthyPercentage -1 or 0..100,
# MaxHealthyPercentage -1 or 100..200): not in botocore 1.29's model, so
# declared here for the reply's serializer. A newer model that has it wins.
_MAINTENANCE_POLICY = {"InstanceMaintenancePolicy": {"MinHealthyPercentage": "integer",
                                                     "MaxHealthyPercentage": "integer"}}
awsmodel.add_members("AutoScalingGroup", _MAINTENANCE_POLICY)
_WAITING = "Pending:Wait"
_SIGNALABLE = ("CREATE_IN_PROGRESS", "UPDATE_IN_PROGRESS")


class AutoScaling:
    service = "autoscaling"

    def __init__(self, app):
        self.app = app
        self.actions = {
            "CompleteLifecycleAction": self.complete_lifecycle_action,
            "RecordLifecycleActionHeartbeat": self.record_lifecycle_action_heartbeat,
            "DescribeAutoScalingInstances": self.describe_auto_scaling_instances,
            "DescribeAutoScalingGroups": self.describe_auto_scaling_groups,
            "DescribeLifecycleHooks": self.describe_lifecycle_hooks,
        }

    # -- the strict model ------------------------------------------------------------

    def _groups(self):
        return self.app.world.data["autoscaling"].get("groups") or {}

    def _expire(self, inst, group):
        """Apply the hook's default result to a wait that timed out (lazily, like world.advance())."""
        t = inst.get("lifecycle_timeout_at")
        if inst.get("lifecycle_state") != _WAITING or t is None or self.app.world.now() < t:
            return
        hook = ((group or {}).get("hooks") or {}).get(inst.get("lifecycle_hook")) or {}
        result = hook.get("default_result", "ABANDON")
        inst["lifecycle_state"] = "InService" if result == "CONTINUE" else "Terminating"
        inst["lifecycle_timeout_at"] = None

    def _active_action(self, p):
        """The instance whose lifecycle action the request names; AWS's ValidationError when none is active."""
        w = self.app.world.data
        iid = p.get("InstanceId")
        if not p.get("LifecycleActionToken") and not iid:
            raise AwsError("ValidationError", "Either LifecycleActionToken or InstanceId must be specified")
        groups = self._groups()
        if not groups:
            return None  # Lenient: nothing is described, everything is accepted.
        if iid:
            missing = f"No active Lifecycle Action found with instance ID {iid}"
        else:
            missing = f"No active Lifecycle Action found with token {p['LifecycleActionToken']}"
        group = groups.get(p["AutoScalingGroupName"])
        hooks = (group or {}).get("hooks") or {}
        inst = w["instances"].get(iid) if iid else None
        if group is None or p["LifecycleHookName"] not in hooks or inst is None:
            raise AwsError("ValidationError", missing)
        if (inst.get("tags") or {}).get(_GROUP_TAG) != p["AutoScalingGroupName"]:
            raise AwsError("ValidationError", missing)
        self._expire(inst, group)
        if inst.get("lifecycle_state") != _WAITING:
            raise AwsError("ValidationError", missing)
        waiting_for = inst.get("lifecycle_hook") or (next(iter(hooks)) if len(hooks) == 1 else None)
        if waiting_for != p["LifecycleHookName"]:
            raise AwsError("ValidationError", missing)
        return inst, hooks[p["LifecycleHookName"]]

    def _record(self, kind, p, **extra):
        entry = {"time": self.app.world.now(), "call": kind, "group": p["AutoScalingGroupName"],
                 "hook": p["LifecycleHookName"], "instance_id": p.get("InstanceId"),
                 "token": p.get("LifecycleActionToken")}
        entry.update(extra)
        self.app.world.data["autoscaling"].setdefault("lifecycle_actions", []).append(entry)

    # -- actions -----------------------------------------------------------------------

    def complete_lifecycle_action(self, p):
        if p["LifecycleActionResult"] not in ("CONTINUE", "ABANDON"):
            raise AwsError("ValidationError", f"Invalid LifecycleActionResult: {p['LifecycleActionResult']}")
        active = self._active_action(p)
        if active:
            inst, _ = active
            inst["lifecycle_state"] = "InService" if p["LifecycleActionResult"] == "CONTINUE" else "Terminating"
            inst["lifecycle_timeout_at"] = None
        self._record("CompleteLifecycleAction", p, result=p["LifecycleActionResult"])
        return {}

    def record_lifecycle_action_heartbeat(self, p):
        active = self._active_action(p)
        if active:
            inst, hook = active
            inst["lifecycle_timeout_at"] = self.app.world.now() + float(hook.get("heartbeat_timeout", 3600))
        self._record("RecordLifecycleActionHeartbeat", p)
        return {}

    def describe_auto_scaling_instances(self, p):
        w = self.app.world.data
        ids = p.get("InstanceIds")
        groups = self._groups()
        out = []
        for iid, inst in sorted(w["instances"].items()):
            group = (inst.get("tags") or {}).get(_GROUP_TAG)
            if not group or (ids and iid not in ids) or inst.get("state") == "terminated":
                continue
            self._expire(inst, groups.get(group))
            out.append({"InstanceId": iid, "InstanceType": inst.get("instance_type", "t3.micro"),
                        "AutoScalingGroupName": group, "AvailabilityZone": inst["availability_zone"],
                        "LifecycleState": inst.get("lifecycle_state", "InService"),
                        "HealthStatus": "HEALTHY", "ProtectedFromScaleIn": False})
        return {"AutoScalingInstances": out}


    # -- the group reads -----------------------------------------------------------------

    def _all_groups(self):
        """{name: group}: the described groups, and the ones only instance tags name (lenient worlds)."""
        groups = dict(self._groups())
        for inst in self.app.world.data["instances"].values():
            name = (inst.get("tags") or {}).get(_GROUP_TAG)
            if name and name not in groups and inst.get("state") != "terminated":
                groups[name] = {}
        return groups

    def _members(self, name):
        w = self.app.world.data
        return [(iid, inst) for iid, inst in sorted(w["instances"].items())
                if (inst.get("tags") or {}).get(_GROUP_TAG) == name and inst.get("state") != "terminated"]

    def _group_view(self, name, group):
        w = self.app.world.data
        members = self._members(name)
        for _, inst in members:
            self._expire(inst, group)
        zones = sorted({inst["availability_zone"] for _, inst in members}) or [w["region"] + "a"]
        view = {
            "AutoScalingGroupName": name,
            "AutoScalingGroupARN": f"arn:aws:autoscaling:{w['region']}:{w['account']}:autoScalingGroup:"
                                   f"00000000-0000-4000-8000-000000000000:autoScalingGroupName/{name}",
            "MinSize": group.get("min_size", 1),
            "MaxSize": group.get("max_size", 1),
            "DesiredCapacity": group.get("desired_capacity", max(len(members), 1)),
            "DefaultCooldown": 300,
            "AvailabilityZones": zones,
            "HealthCheckType": "EC2",
            "HealthCheckGracePeriod": group.get("health_check_grace_period", 300),
            "Instances": [{"InstanceId": iid, "InstanceType": inst.get("instance_type", "t3.micro"),
                           "AvailabilityZone": inst["availability_zone"],
                           "LifecycleState": inst.get("lifecycle_state", "InService"),
                           "HealthStatus": "Healthy", "ProtectedFromScaleIn": False} for iid, inst in members],
            "CreatedTime": group.get("created_time", 1704067200),
            "NewInstancesProtectedFromScaleIn": False,
        }
        policy = group.get("instance_maintenance_policy")
        if policy:
            view["InstanceMaintenancePolicy"] = {"MinHealthyPercentage": policy.get("min_healthy_percentage"),
                                                 "MaxHealthyPercentage": policy.get("max_healthy_percentage")}
        return view

    def describe_auto_scaling_groups(self, p):
        names = p.get("AutoScalingGroupNames")
        # Unknown names are left out: an empty list, not an error, as AWS answers.
        out = [self._group_view(name, group) for name, group in sorted(self._all_groups().items())
               if not names or name in names]
        return {"AutoScalingGroups": out}

    def describe_lifecycle_hooks(self, p):
        name = p["AutoScalingGroupName"]
        groups = self._all_groups()
        if name not in groups:
            # AWS refuses an unknown group with ValidationError; the wording is the fake's.
            raise AwsError("ValidationError", f"Group {name} not found")
        wanted = p.get("LifecycleHookNames")
        out = []
        for hook_name, hook in (groups[name].get("hooks") or {}).items():
            if wanted and hook_name not in wanted:
                continue
            heartbeat = int(hook.get("heartbeat_timeout", 3600))
            out.append({"LifecycleHookName": hook_name, "AutoScalingGroupName": name,
                        "LifecycleTransition": hook.get("lifecycle_transition", _LAUNCHING),
                        "HeartbeatTimeout": heartbeat,
                        "GlobalTimeout": int(hook.get("global_timeout", min(100 * heartbeat, _GLOBAL_TIMEOUT_MAX))),
                        "DefaultResult": hook.get("default_result", "ABANDON")})
        return {"LifecycleHooks": out}


class CloudFormation:
    service = "cloudformation"

    def __init__(self, app):
        self.app = app
        self.actions = {"SignalResource": self.signal_resource}

    def _check(self, p):
        """The stack and resource a strict world describes, or None when it describes none."""
        stacks = self.app.world.data["cloudformation"].get("stacks") or {}
        if not stacks:
            return None
        name = p["StackName"]
        stack = stacks.get(name) or next((s for s in stacks.values() if s.get("stack_id") == name), None)
        if stack is None:
            raise AwsError("ValidationError", f"Stack with id {name} does not exist")
        stack_id = stack.get("stack_id", name)
        if stack.get("status") not in _SIGNALABLE:
            raise AwsError("ValidationError", f"Stack {stack_id} is in {stack.get('status')} state and cannot be "
                                              "signaled")
        logical = p["LogicalResourceId"]
        resource = (stack.get("resources") or {}).get(logical)
        if resource is None:
            raise AwsError("ValidationError", f"Resource {logical} does not exist for stack {stack_id}")
        if resource.get("status") not in _SIGNALABLE:
            raise AwsError("ValidationError", f"Resource {logical} is in {resource.get('status')} state and cannot "
                                              "be signaled")
        if any(s["unique_id"] == p["UniqueId"] for s in resource.get("received") or []):
            raise AwsError("ValidationError", f"Signal with UniqueId {p['UniqueId']} has already been received for "
                                              f"resource {logical}")
        return stack, resource

    def signal_resource(self, p):
        if p["Status"] not in ("SUCCESS", "FAILURE"):
            raise AwsError("ValidationError", f"Invalid Status: {p['Status']}")
        checked = self._check(p)
        if checked:
            stack, resource = checked
            resource.setdefault("received", []).append({"unique_id": p["UniqueId"], "status": p["Status"]})
            verb = "UPDATE" if resource["status"].startswith("UPDATE") else "CREATE"
            if p["Status"] == "FAILURE":
                resource["status"] = f"{verb}_FAILED"
                stack["status"] = "UPDATE_ROLLBACK_IN_PROGRESS" if verb == "UPDATE" else "ROLLBACK_IN_PROGRESS"
            elif sum(s["status"] == "SUCCESS" for s in resource["received"]) >= int(resource.get("count", 1)):
                resource["status"] = f"{verb}_COMPLETE"
        self.app.world.data["cloudformation"].setdefault("signals", []).append({
            "time": self.app.world.now(), "stack": p["StackName"], "resource": p["LogicalResourceId"],
            "unique_id": p["UniqueId"], "status": p["Status"]})
        return {}
