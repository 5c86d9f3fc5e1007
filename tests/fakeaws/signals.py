"""Auto Scaling and CloudFormation (Query protocol): the agent's "I am done" signals.

Only what the agent sends is implemented; each accepted call is recorded in
the world (autoscaling.lifecycle_actions, cloudformation.signals) so tests
assert on it.

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

from errors import AwsError

_GROUP_TAG = "aws:autoscaling:groupName"
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
