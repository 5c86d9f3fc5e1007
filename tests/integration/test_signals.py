"""The readiness signals (CloudFormation SignalResource, Auto Scaling lifecycle
hooks) through nodeagent-awscall against the fake AWS: each call on its own,
then the whole policy of agent/signals.c as the agent runs it."""

import pytest

from harness import GROUP, HOOK, INSTANCE, RESOURCE, STACK, STACK_ID, lifecycle_actions, signals, strict_world

LIFECYCLE_CALLS = ("RecordLifecycleActionHeartbeat", "CompleteLifecycleAction")


def fields(line):
    return dict(kv.split("=", 1) for kv in line.split()[1:] if "=" in kv)


def line_of(result, prefix):
    for line in result.stdout.splitlines():
        if line.startswith(prefix + " "):
            return fields(line)
    raise AssertionError(f"no '{prefix}' line in {result!r}")


def actions(fake, service=None):
    return [r["action"] for r in fake.requests() if r.get("service") in ((service,) if service else
                                                                          ("ec2", "autoscaling", "cloudformation"))]


def replies(fake, action):
    """(status, code) of each request of action, as the fake answered it."""
    return [(q["status"], q["code"]) for q in fake.requests(action=action)]


# -- each call, against the lenient default world


@pytest.mark.parametrize("status", ["SUCCESS", "FAILURE"])
@pytest.mark.parametrize("role", [False, True], ids=["static-keys", "role-session-token"])
def test_signal_resource_is_recorded(awscall, fake, status, role):
    r = awscall("signal-resource", STACK, RESOURCE, INSTANCE, status, role=role)
    assert r.status == 0, r
    assert line_of(r, "signalled")["status"] == status
    assert signals(fake) == [{"stack": STACK, "resource": RESOURCE, "unique_id": INSTANCE, "status": status}]
    cfn = [q for q in fake.requests() if q.get("service") == "cloudformation"]
    assert [(q["action"], q["status"]) for q in cfn] == [("SignalResource", 200)]
    assert cfn[0]["access_key"].startswith("ASIA" if role else "AKID")


def test_signal_resource_by_stack_id(awscall, fake):
    r = awscall("signal-resource", STACK_ID, RESOURCE, INSTANCE, "SUCCESS")
    assert r.status == 0, r
    assert signals(fake)[0]["stack"] == STACK_ID


@pytest.mark.parametrize("role", [False, True], ids=["static-keys", "role-session-token"])
def test_lifecycle_calls_are_recorded(awscall, fake, role):
    r = awscall("record-heartbeat", GROUP, HOOK, INSTANCE, role=role)
    assert r.status == 0, r
    r = awscall("complete-lifecycle-action", GROUP, HOOK, INSTANCE, "CONTINUE", role=role)
    assert r.status == 0, r
    r = awscall("complete-lifecycle-action", GROUP, HOOK, INSTANCE, "ABANDON", role=role)
    assert r.status == 0, r
    assert lifecycle_actions(fake) == [
        {"call": "RecordLifecycleActionHeartbeat", "group": GROUP, "hook": HOOK, "instance_id": INSTANCE,
         "token": None},
        {"call": "CompleteLifecycleAction", "group": GROUP, "hook": HOOK, "instance_id": INSTANCE,
         "token": None, "result": "CONTINUE"},
        {"call": "CompleteLifecycleAction", "group": GROUP, "hook": HOOK, "instance_id": INSTANCE,
         "token": None, "result": "ABANDON"},
    ]
    assert all(q["status"] == 200 for q in fake.requests() if q.get("service") == "autoscaling")


def test_describe_auto_scaling_instance(awscall, fake):
    r = awscall("describe-auto-scaling-instance", INSTANCE)
    assert r.status == 0, r
    assert line_of(r, "asg-instance") == {"id": INSTANCE, "group": GROUP, "state": "InService"}
    # The terminated predecessor is no member any more.
    r = awscall("describe-auto-scaling-instance", "i-0fedcba9876543210")
    assert r.status == 1, r
    assert "errno=ENXIO" in r.stdout


# -- the group name


def test_group_found_from_the_tag(awscall, fake):
    r = awscall("find-group", INSTANCE)
    assert r.status == 0, r
    assert line_of(r, "group")["name"] == GROUP
    # The tag answers: Auto Scaling is not asked.
    assert actions(fake) == ["DescribeInstances"]


def test_group_found_through_auto_scaling_when_ec2_refuses(awscall, fake):
    fake.merge_state({"deny": [{"principal": "*", "action": "ec2:DescribeInstances"}]})
    r = awscall("find-group", INSTANCE)
    assert r.status == 0, r
    assert line_of(r, "group")["name"] == GROUP
    assert actions(fake) == ["DescribeInstances", "DescribeAutoScalingInstances"]


def test_instance_in_no_group(awscall, fake):
    fake.merge_state({"instances": {INSTANCE: {"tags": {"aws:autoscaling:groupName": None}}}})
    r = awscall("find-group", INSTANCE)
    assert r.status == 1, r
    assert "errno=ENXIO" in r.stdout
    assert actions(fake) == ["DescribeInstances", "DescribeAutoScalingInstances"]
    # The policy refuses to start: no lifecycle action could be completed.
    r = awscall("signal", "success", INSTANCE, f"hook={HOOK}")
    assert r.status == 1, r
    assert not set(actions(fake)) & set(LIFECYCLE_CALLS), actions(fake)


# -- refused


@pytest.mark.parametrize("denied, args", [
    ("cloudformation:SignalResource", ("signal-resource", STACK, RESOURCE, INSTANCE, "SUCCESS")),
    ("autoscaling:RecordLifecycleActionHeartbeat", ("record-heartbeat", GROUP, HOOK, INSTANCE)),
    ("autoscaling:CompleteLifecycleAction", ("complete-lifecycle-action", GROUP, HOOK, INSTANCE, "CONTINUE")),
    ("autoscaling:*", ("describe-auto-scaling-instance", INSTANCE)),
], ids=lambda v: v if isinstance(v, str) else v[0])
def test_permission_denied_is_aws_refused(awscall, fake, denied, args):
    fake.merge_state({"deny": [{"principal": "*", "action": denied}]})
    r = awscall(*args)
    assert r.status == 3, r
    assert "code=AccessDenied" in r.stdout
    assert signals(fake) == [] and lifecycle_actions(fake) == []


def test_group_lookup_refused_everywhere(awscall, fake):
    fake.merge_state({"deny": [{"principal": "*", "action": "ec2:DescribeInstances"},
                               {"principal": "*", "action": "autoscaling:DescribeAutoScalingInstances"}]})
    r = awscall("find-group", INSTANCE)
    assert r.status == 3, r
    r = awscall("signal", "success", INSTANCE, f"hook={HOOK}")
    assert r.status == 3, r
    assert not set(actions(fake)) & set(LIFECYCLE_CALLS), actions(fake)


def test_policy_success_refused_is_aws_refused(awscall, fake):
    strict_world(fake)
    fake.merge_state({"deny": [{"principal": "*", "action": "cloudformation:SignalResource"}]})
    r = awscall("signal", "success", INSTANCE, f"stack={STACK}", f"resource={RESOURCE}", f"hook={HOOK}")
    assert r.status == 3, r
    assert replies(fake, "SignalResource") == [(403, "AccessDenied")] and signals(fake) == []
    # The lifecycle side went out regardless.
    assert [a["call"] for a in lifecycle_actions(fake)] == ["RecordLifecycleActionHeartbeat",
                                                            "CompleteLifecycleAction"]


def test_policy_failure_refused_is_only_logged(awscall, fake):
    strict_world(fake)
    fake.merge_state({"deny": [{"principal": "*", "action": "cloudformation:SignalResource"},
                               {"principal": "*", "action": "autoscaling:CompleteLifecycleAction"}]})
    r = awscall("signal", "failure", INSTANCE, f"stack={STACK}", f"resource={RESOURCE}", f"hook={HOOK}")
    assert r.status == 0, r
    # Both were tried, FAILURE and ABANDON, and refused.
    assert replies(fake, "SignalResource") == [(403, "AccessDenied")]
    [complete] = fake.requests(action="CompleteLifecycleAction")
    assert (complete["status"], complete["params"]["LifecycleActionResult"]) == (403, "ABANDON"), complete
    assert signals(fake) == []


# -- the policy against a world that waits for the signals


def test_policy_success(awscall, fake):
    strict_world(fake)
    r = awscall("signal", "success", INSTANCE, f"stack={STACK}", f"resource={RESOURCE}", f"hook={HOOK}",
                "heartbeats=2")
    assert r.status == 0, r
    assert line_of(r, "group")["name"] == GROUP
    # Group from the tag, a heartbeat at the start and two more, CONTINUE,
    # then SUCCESS: the instance is InService before the stack moves on.
    assert actions(fake) == ["DescribeInstances", "RecordLifecycleActionHeartbeat",
                             "RecordLifecycleActionHeartbeat", "RecordLifecycleActionHeartbeat",
                             "CompleteLifecycleAction", "SignalResource"]
    beat = {"call": "RecordLifecycleActionHeartbeat", "group": GROUP, "hook": HOOK, "instance_id": INSTANCE,
            "token": None}
    assert lifecycle_actions(fake) == [beat, beat, beat, {
        "call": "CompleteLifecycleAction", "group": GROUP, "hook": HOOK, "instance_id": INSTANCE, "token": None,
        "result": "CONTINUE"}]
    assert signals(fake) == [{"stack": STACK, "resource": RESOURCE, "unique_id": INSTANCE, "status": "SUCCESS"}]
    state = fake.state()
    assert state["instances"][INSTANCE]["lifecycle_state"] == "InService"
    assert state["cloudformation"]["stacks"][STACK]["resources"][RESOURCE]["status"] == "CREATE_COMPLETE"

    # A restarted agent converges: nobody waits any more, nothing is sent,
    # and that is success.
    fake.clear_requests()
    r = awscall("signal", "success", INSTANCE, f"stack={STACK}", f"resource={RESOURCE}", f"hook={HOOK}")
    assert r.status == 0, r
    assert len(lifecycle_actions(fake)) == 4 and len(signals(fake)) == 1
    assert actions(fake) == ["DescribeInstances", "RecordLifecycleActionHeartbeat", "SignalResource"]


def test_policy_failure(awscall, fake):
    strict_world(fake)
    r = awscall("signal", "failure", INSTANCE, f"stack={STACK}", f"resource={RESOURCE}", f"hook={HOOK}")
    assert r.status == 0, r
    # FAILURE first, then ABANDON.
    assert actions(fake)[-2:] == ["SignalResource", "CompleteLifecycleAction"]
    assert signals(fake) == [{"stack": STACK, "resource": RESOURCE, "unique_id": INSTANCE, "status": "FAILURE"}]
    assert lifecycle_actions(fake)[-1] == {"call": "CompleteLifecycleAction", "group": GROUP, "hook": HOOK,
                                           "instance_id": INSTANCE, "token": None, "result": "ABANDON"}
    state = fake.state()
    assert state["instances"][INSTANCE]["lifecycle_state"] == "Terminating"
    assert state["cloudformation"]["stacks"][STACK]["status"] == "ROLLBACK_IN_PROGRESS"


def test_stack_not_in_an_operation(awscall, fake):
    """The usual replacement: the stack was created long ago and waits for nothing."""
    strict_world(fake, stack_status="UPDATE_COMPLETE", resource_status="UPDATE_COMPLETE")
    r = awscall("signal-resource", STACK, RESOURCE, INSTANCE, "SUCCESS")
    assert r.status == 1, r
    assert "errno=ESRCH" in r.stdout and "UPDATE_COMPLETE state and cannot be signaled" in r.stdout
    r = awscall("signal", "success", INSTANCE, f"stack={STACK}", f"resource={RESOURCE}")
    assert r.status == 0, r
    assert signals(fake) == []


def test_signal_already_received(awscall, fake):
    strict_world(fake, count=2)
    assert awscall("signal-resource", STACK, RESOURCE, INSTANCE, "SUCCESS").status == 0
    r = awscall("signal-resource", STACK, RESOURCE, INSTANCE, "SUCCESS")
    assert r.status == 1, r
    assert "errno=EALREADY" in r.stdout
    r = awscall("signal", "success", INSTANCE, f"stack={STACK}", f"resource={RESOURCE}")
    assert r.status == 0, r
    assert len(signals(fake)) == 1


def test_unknown_stack_fails_success(awscall, fake):
    strict_world(fake)
    r = awscall("signal", "success", INSTANCE, "stack=other", f"resource={RESOURCE}")
    assert r.status == 1, r
    [signal] = fake.requests(action="SignalResource")
    assert (signal["params"]["StackName"], signal["code"]) == ("other", "ValidationError"), signal
    assert signals(fake) == []


def test_no_active_lifecycle_action(awscall, fake):
    strict_world(fake, lifecycle_state="InService")
    r = awscall("complete-lifecycle-action", GROUP, HOOK, INSTANCE, "CONTINUE")
    assert r.status == 1, r
    assert "errno=ESRCH" in r.stdout and "No active Lifecycle Action found with instance ID" in r.stdout
    r = awscall("record-heartbeat", GROUP, HOOK, INSTANCE)
    assert "errno=ESRCH" in r.stdout
    # The policy: noticed at the start, nothing to complete, success.
    r = awscall("signal", "success", INSTANCE, f"hook={HOOK}")
    assert r.status == 0, r
    assert "CompleteLifecycleAction" not in actions(fake)[-2:]
    assert lifecycle_actions(fake) == []


def test_wrong_hook_name_is_told(awscall, fake):
    strict_world(fake)
    r = awscall("signal", "success", INSTANCE, "hook=other")
    assert r.status == 0, r
    # It asked about the hook it was given; none waits under that name.
    assert [q["params"]["LifecycleHookName"] for q in fake.requests(action="RecordLifecycleActionHeartbeat")] == [
        "other"]
    assert "CompleteLifecycleAction" not in actions(fake)
    assert lifecycle_actions(fake) == []
    assert fake.state()["instances"][INSTANCE]["lifecycle_state"] == "Pending:Wait"


def test_heartbeat_extends_the_wait(awscall, fake):
    strict_world(fake, timeout_in=5)
    before = fake.state()["instances"][INSTANCE]["lifecycle_timeout_at"]
    assert awscall("record-heartbeat", GROUP, HOOK, INSTANCE).status == 0
    after = fake.state()["instances"][INSTANCE]["lifecycle_timeout_at"]
    assert after > before + 500


def test_timed_out_action_takes_the_default_result(awscall, fake):
    strict_world(fake, timeout_in=-1)
    r = awscall("record-heartbeat", GROUP, HOOK, INSTANCE)
    assert r.status == 1 and "errno=ESRCH" in r.stdout, r
    assert fake.state()["instances"][INSTANCE]["lifecycle_state"] == "Terminating"
