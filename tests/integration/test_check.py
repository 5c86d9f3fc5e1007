"""nodeagent --check's preflight for what fails boots in the field (issue 14
item 7): an encrypted volume's KMS key, the Auto Scaling group's instance
maintenance policy, the launch hook's timeouts against [Node] Timeout=, and
the permissions those reads need. The contract: a missing permission exits
3, a resource or setting that would make the boot fail exits 4, and --check
changes nothing."""

import copy

import pytest

from harness import ENI, VOLUME, write_config

KEY_ID = "1234abcd-12ab-34cd-56ef-1234567890ab"   # the default world's customer managed key
KEY_ARN = f"arn:aws:kms:us-east-1:123456789012:key/{KEY_ID}"
GROUP = "kafka-1-asg"                              # the default instance's aws:autoscaling:groupName

CONFIG = """\
[Node]
Name=kafka-1
Timeout=15min

[Volume]
Id=vol-0123456789abcdef0
MountPoint=/var/lib/kafka

[Interface]
Id=eni-0123456789abcdef0

[Signal]
LifecycleHook=boot
"""

# The node template's group: one instance, no maintenance policy, a launch
# hook of 600 s that nodeagent completes.
GROUP_OK = {"min_size": 1, "max_size": 1, "desired_capacity": 1,
            "hooks": {"boot": {"heartbeat_timeout": 600, "default_result": "ABANDON"}}}


def encrypted(fake, key=KEY_ID):
    fake.merge_state({"volumes": {VOLUME: {"encrypted": True, "kms_key_id": key}}})


def group(fake, **settings):
    fake.merge_state({"autoscaling": {"groups": {GROUP: {**copy.deepcopy(GROUP_OK), **settings}}}})


def check(agent, confdir, text=CONFIG, **kw):
    return agent("--check", "--config", write_config(confdir, text), **kw)


def test_all_fine_is_0_and_changes_nothing(agent, fake, confdir):
    encrypted(fake)
    group(fake, instance_maintenance_policy={"min_healthy_percentage": 0, "max_healthy_percentage": 100})
    before = fake.state()
    r = check(agent, confdir, role=True)
    assert r.status == 0, r
    assert f"encrypted with KMS key {KEY_ARN} (Enabled, customer managed)" in r.stdout
    assert "instance maintenance policy: min healthy 0%, max healthy 100%" in r.stdout
    assert "nodeagent's hook: heartbeats every 1min" in r.stdout
    assert "FINDING" not in r.stdout and "DENIED" not in r.stdout
    after = fake.state()
    for key in ("volumes", "network_interfaces", "instances", "kms_keys", "autoscaling", "hosted_zones"):
        assert after[key] == before[key], key
    # Each read went to its service, signed for it (the fake verifies every
    # signature with botocore, the instance role's session token included).
    calls = {(q["service"], q["action"]): q for q in fake.requests()}
    for call in (("kms", "DescribeKey"), ("autoscaling", "DescribeAutoScalingGroups"),
                 ("autoscaling", "DescribeLifecycleHooks")):
        assert calls[call]["status"] == 200, calls[call]
        assert calls[call]["access_key"].startswith("ASIA"), calls[call]
    assert not [q for q in fake.requests() if q["service"] in ("kms", "autoscaling") and q["status"] != 200]


def test_disabled_kms_key_is_4(agent, fake, confdir):
    encrypted(fake)
    fake.merge_state({"kms_keys": {KEY_ID: {"state": "Disabled"}}})
    r = check(agent, confdir)
    assert r.status == 4, r
    assert "FINDING" in r.stdout and KEY_ARN in r.stdout and "Disabled" in r.stdout
    assert f"Volume {VOLUME} is encrypted with KMS key {KEY_ARN} (state Disabled)" in r.stderr
    assert "finding(s) would make the boot fail" in r.stderr


@pytest.mark.parametrize("state,words", [("PendingDeletion", ["deletion on", "scheduled for deletion"]),
                                         ("PendingImport", ["key material"]),
                                         ("Unavailable", ["key store"])])
def test_other_unusable_key_states_are_4(agent, fake, confdir, state, words):
    encrypted(fake)
    fake.merge_state({"kms_keys": {KEY_ID: {"state": state, "deletion_date": 1893456000}}})
    r = check(agent, confdir)
    assert r.status == 4, r
    for w in [state, *words]:
        assert w in r.stderr, (w, r)


def test_deleted_kms_key_is_4(agent, fake, confdir):
    encrypted(fake, "0987dcba-09fe-87dc-65ba-ab0987654321")
    r = check(agent, confdir)
    assert r.status == 4, r
    assert "does not exist" in r.stderr


def test_missing_kms_permission_is_3(agent, fake, confdir):
    encrypted(fake)
    fake.merge_state({"deny": [{"principal": "*", "action": "kms:DescribeKey"}]})
    r = check(agent, confdir)
    assert r.status == 3, r
    assert "kms:DescribeKey" in r.stdout and "DENIED (AccessDeniedException" in r.stdout
    assert "permission(s) missing" in r.stderr


def test_a_missing_permission_outranks_a_finding(agent, fake, confdir):
    encrypted(fake)
    fake.merge_state({"deny": [{"principal": "*", "action": "kms:DescribeKey"}]})
    group(fake, instance_maintenance_policy={"min_healthy_percentage": 100, "max_healthy_percentage": 200})
    r = check(agent, confdir)
    assert r.status == 3, r
    assert "FINDING" in r.stdout and "DENIED" in r.stdout


def test_unencrypted_volume_asks_kms_nothing(agent, fake, confdir):
    fake.merge_state({"deny": [{"principal": "*", "action": "kms:*"}]})
    r = check(agent, confdir)
    assert r.status == 0, r
    assert "not encrypted" in r.stdout
    assert fake.requests(service="kms") == []


def test_deadlocking_maintenance_policy_is_4(agent, fake, confdir):
    group(fake, instance_maintenance_policy={"min_healthy_percentage": 100, "max_healthy_percentage": 200})
    r = check(agent, confdir)
    assert r.status == 4, r
    assert "instance maintenance policy: min healthy 100%, max healthy 200%" in r.stdout
    assert "MinHealthyPercentage=100" in r.stderr and "deadlocks" in r.stderr
    # The request named the group the instance's tag names.
    assert [q for q in fake.requests(service="autoscaling") if q["action"] == "DescribeAutoScalingGroups"]


def test_launch_before_terminate_is_fine_with_handover(agent, fake, confdir):
    group(fake, instance_maintenance_policy={"min_healthy_percentage": 100, "max_healthy_percentage": 200})
    r = check(agent, confdir, CONFIG.replace("[Interface]\n", "[Interface]\nTakeOver=handover\n"))
    assert r.status == 0, r
    assert "TakeOver=handover: a replacement launched first asks this instance" in r.stdout
    assert "deadlocks" not in r.stderr


def test_fraction_of_one_instance_is_a_warning(agent, fake, confdir):
    group(fake, instance_maintenance_policy={"min_healthy_percentage": 90, "max_healthy_percentage": 190})
    r = check(agent, confdir)
    assert r.status == 0, r
    assert "WARNING: MinHealthyPercentage=90" in r.stdout


def test_policy_matters_only_with_a_volume_or_interface(agent, fake, confdir):
    group(fake, instance_maintenance_policy={"min_healthy_percentage": 100, "max_healthy_percentage": 200})
    text = "[Node]\nTimeout=15min\n[Signal]\nLifecycleHook=boot\n"
    r = check(agent, confdir, text)
    assert r.status == 0, r
    assert [q["action"] for q in fake.requests(service="autoscaling")
            if q["action"] == "DescribeAutoScalingGroups"] == []


def test_missing_autoscaling_permission_is_3(agent, fake, confdir):
    group(fake)
    fake.merge_state({"deny": [{"principal": "*", "action": "autoscaling:DescribeAutoScalingGroups"}]})
    r = check(agent, confdir)
    assert r.status == 3, r
    assert "autoscaling:DescribeAutoScalingGroups" in r.stdout and "DENIED" in r.stdout


def test_missing_lifecycle_hooks_permission_is_3(agent, fake, confdir):
    group(fake)
    fake.merge_state({"deny": [{"principal": "*", "action": "autoscaling:DescribeLifecycleHooks"}]})
    r = check(agent, confdir)
    assert r.status == 3, r
    assert "autoscaling:DescribeLifecycleHooks" in r.stdout and "DENIED" in r.stdout


@pytest.mark.parametrize("hook,words", [
    ({"heartbeat_timeout": 30}, ["ends 30 s after the last heartbeat", "1min 30s or more"]),
    ({"heartbeat_timeout": 600, "global_timeout": 600}, ["global timeout, 600 s", "Timeout=15min"]),
], ids=["heartbeat", "global"])
def test_hook_that_ends_before_the_boot_is_4(agent, fake, confdir, hook, words):
    group(fake, hooks={"boot": {**hook, "default_result": "ABANDON"}})
    r = check(agent, confdir)
    assert r.status == 4, r
    for w in ["Lifecycle hook boot", "ABANDON", *words]:
        assert w in r.stderr, (w, r)


def test_short_hook_is_fine_for_a_short_boot(agent, fake, confdir):
    group(fake, hooks={"boot": {"heartbeat_timeout": 60}})
    r = check(agent, confdir, CONFIG.replace("Timeout=15min", "Timeout=50s"))
    assert r.status == 0, r


def test_hooks_that_are_not_nodeagents(agent, fake, confdir):
    """A terminating hook, or another launch hook, is listed, never judged;
    a LifecycleHook= the group lacks is a warning (the boot proceeds)."""
    group(fake, hooks={"drain": {"heartbeat_timeout": 30, "lifecycle_transition": "autoscaling:EC2_INSTANCE_TERMINATING"},
                       "other": {"heartbeat_timeout": 30}})
    r = check(agent, confdir)
    assert r.status == 0, r
    assert "lifecycle hook drain (autoscaling:EC2_INSTANCE_TERMINATING)" in r.stdout
    assert "not nodeagent's" in r.stdout
    assert "has no launch hook boot" in r.stdout


def test_lifecycle_hook_without_a_group_is_4(agent, fake, confdir):
    fake.merge_state({"instances": {"i-0123456789abcdef0": {"tags": {"aws:autoscaling:groupName": None}}}})
    r = check(agent, confdir)
    assert r.status == 4, r
    assert "is in no Auto Scaling group, but [Signal] LifecycleHook=boot is set" in r.stderr


def test_kms_reads_are_retried_like_the_others(agent, fake, confdir):
    encrypted(fake)
    fake.fault(service="kms", action="DescribeKey", kind="throttle", count=1)
    fake.fault(service="kms", action="DescribeKey", kind="malformed", count=1)
    r = check(agent, confdir)
    assert r.status == 0, r
    codes = [q["code"] for q in fake.requests(service="kms")]
    assert codes == ["ThrottlingException", "malformed", None], codes


def test_kms_endpoint_of_its_own(agent, fake, confdir):
    """AWS_ENDPOINT_URL_KMS wins over AWS_ENDPOINT_URL for KMS alone."""
    encrypted(fake)
    r = check(agent, confdir, env={"AWS_ENDPOINT_URL_KMS": "http://127.0.0.1:9"}, timeout=120)
    assert "kms http://127.0.0.1:9" in r.stdout, r
    assert fake.requests(service="kms") == []
    assert "could not be read" in r.stdout
    assert ENI in r.stdout


def fields(r, kind):
    """{key: value} of the tool's first "kind key=value ..." line."""
    for line in r.stdout.splitlines():
        if line.startswith(kind + " "):
            return dict(part.split("=", 1) for part in line.split()[1:] if "=" in part)
    raise AssertionError(f"no {kind} line in {r}")


@pytest.mark.parametrize("role", [False, True], ids=["static-keys", "role-session-token"])
def test_preflight_reads_through_the_agents_stack(awscall, fake, role):
    group(fake, instance_maintenance_policy={"min_healthy_percentage": 100, "max_healthy_percentage": 200})
    k = fields(awscall("describe-key", "alias/kafka", role=role), "key")
    assert (k["id"], k["arn"], k["state"], k["usable"]) == (KEY_ID, KEY_ARN, "Enabled", "yes")
    g = fields(awscall("describe-group", GROUP, role=role), "group")
    assert (g["desired"], g["min_healthy"], g["max_healthy"], g["instances"]) == ("1", "100", "200", "1")
    h = fields(awscall("describe-hooks", GROUP, role=role), "hook")
    assert (h["name"], h["heartbeat"], h["global"]) == ("boot", "600", "60000")
    calls = [q for q in fake.requests() if q["service"] in ("kms", "autoscaling")]
    assert [q["status"] for q in calls] == [200] * 3, calls
    assert {q["access_key"][:4] for q in calls} == {"ASIA" if role else "AKID"}


def test_kms_errors_through_the_agents_stack(awscall, fake):
    r = awscall("describe-key", "alias/nope")
    assert r.status == 4 and "code=NotFoundException" in r.stdout, r
    fake.merge_state({"deny": [{"principal": "*", "action": "kms:*"}]})
    r = awscall("describe-key", KEY_ID)
    assert r.status == 3 and "code=AccessDeniedException" in r.stdout, r
    fake.merge_state({"deny": []})
    fake.fault(service="kms", action="DescribeKey", kind="http5xx", status=500, count=2)
    r = awscall("describe-key", KEY_ID)
    assert r.status == 0, r
    assert [q["status"] for q in fake.requests(service="kms")][-3:] == [500, 500, 200]
