"""Auto Scaling and CloudFormation (Query protocol): the agent's "I am done" signals.

Only what the agent sends is implemented; each call is recorded in the world
(autoscaling.lifecycle_actions, cloudformation.signals) so tests assert on it.
"""

from errors import AwsError

_GROUP_TAG = "aws:autoscaling:groupName"


class AutoScaling:
    service = "autoscaling"

    def __init__(self, app):
        self.app = app
        self.actions = {
            "CompleteLifecycleAction": self.complete_lifecycle_action,
            "RecordLifecycleActionHeartbeat": self.record_lifecycle_action_heartbeat,
            "DescribeAutoScalingInstances": self.describe_auto_scaling_instances,
        }

    def _record(self, kind, p, **extra):
        if not p.get("LifecycleActionToken") and not p.get("InstanceId"):
            raise AwsError("ValidationError", "Either LifecycleActionToken or InstanceId must be specified")
        entry = {"time": self.app.world.now(), "call": kind, "group": p["AutoScalingGroupName"],
                 "hook": p["LifecycleHookName"], "instance_id": p.get("InstanceId"),
                 "token": p.get("LifecycleActionToken")}
        entry.update(extra)
        self.app.world.data["autoscaling"].setdefault("lifecycle_actions", []).append(entry)

    def complete_lifecycle_action(self, p):
        if p["LifecycleActionResult"] not in ("CONTINUE", "ABANDON"):
            raise AwsError("ValidationError", f"Invalid LifecycleActionResult: {p['LifecycleActionResult']}")
        self._record("CompleteLifecycleAction", p, result=p["LifecycleActionResult"])
        return {}

    def record_lifecycle_action_heartbeat(self, p):
        self._record("RecordLifecycleActionHeartbeat", p)
        return {}

    def describe_auto_scaling_instances(self, p):
        w = self.app.world.data
        ids = p.get("InstanceIds")
        out = []
        for iid, inst in sorted(w["instances"].items()):
            group = (inst.get("tags") or {}).get(_GROUP_TAG)
            if not group or (ids and iid not in ids) or inst.get("state") == "terminated":
                continue
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

    def signal_resource(self, p):
        if p["Status"] not in ("SUCCESS", "FAILURE"):
            raise AwsError("ValidationError", f"Invalid Status: {p['Status']}")
        self.app.world.data["cloudformation"].setdefault("signals", []).append({
            "time": self.app.world.now(), "stack": p["StackName"], "resource": p["LogicalResourceId"],
            "unique_id": p["UniqueId"], "status": p["Status"]})
        return {}
