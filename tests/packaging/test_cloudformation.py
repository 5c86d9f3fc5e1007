"""scripts/cloudformation: the base and node templates and the IAM policy.
Structure (every reference resolves, every parameter and condition is
used), the policy (exactly the calls the agent makes, each scoped), the
Auto Scaling group's timings, cfn-lint, and the node's user data read by
the agent's own configuration parser."""

import base64
import glob
import json
import os
import re
import subprocess
import sys
import time

import pytest

import cfn
from conftest import CFN_LINT, TOP, run

DIR = os.path.join(TOP, "scripts", "cloudformation")
BASE = os.path.join(DIR, "base.yaml")
NODE = os.path.join(DIR, "node.yaml")
POLICY_JSON = os.path.join(DIR, "iam-policy.json")

sys.path.insert(0, os.path.join(TOP, "tests", "fakeaws"))

# Sample values for rendering.
BASE_PARAMS = {"ClusterName": "kafka", "VpcId": "vpc-0123456789abcdef0", "DomainName": "kafka.internal"}
NODE_PARAMS = {"BaseStackName": "kafka-base", "NodeName": "kafka-1", "AvailabilityZone": "us-east-1a",
               "SubnetId": "subnet-0123456789abcdef0", "PrivateIpAddress": "10.0.1.10",
               "ImageId": "ami-0123456789abcdef0"}
IMPORTS = {"kafka-base-ClusterName": "kafka", "kafka-base-DomainName": "kafka.internal",
           "kafka-base-HostedZoneId": "Z0123456789ABCDEFGHIJ", "kafka-base-SecurityGroupId": "sg-0123456789abcdef0",
           "kafka-base-InstanceProfileArn": "arn:aws:iam::123456789012:instance-profile/kafka-base-InstanceProfile"}
NODE_RESOURCES = {"Volume": "vol-0123456789abcdef0", "NetworkInterface": "eni-0123456789abcdef0",
                  "LaunchTemplate": "lt-0123456789abcdef0", "AutoScalingGroup": "kafka-node-1-AutoScalingGroup",
                  "ExtraVolume1": "vol-0e100000000000001", "ExtraVolume2": "vol-0e100000000000002",
                  "ExtraVolume3": "vol-0e100000000000003", "StripeMember1": "vol-05100000000000001",
                  "StripeMember2": "vol-05100000000000002", "StripeMember3": "vol-05100000000000003",
                  "StripeMember4": "vol-05100000000000004"}
BASE_RESOURCES = {"HostedZone": "Z0HOSTEDZONE0000000001", "Role": "role", "SnapshotRole": "snapshot-role",
                  "SnapshotPolicy": "policy-0123456789abcdef0", "InstanceProfile": "profile",
                  "SecurityGroup": "sg-0123456789abcdef0"}
BASE_ATTRIBUTES = {"SecurityGroup.GroupId": "sg-0123456789abcdef0",
                   "InstanceProfile.Arn": "arn:aws:iam::123456789012:instance-profile/x",
                   "SnapshotRole.Arn": "arn:aws:iam::123456789012:role/kafka-base-SnapshotRole"}


@pytest.fixture(scope="module")
def base():
    return cfn.load(BASE)


@pytest.fixture(scope="module")
def node():
    return cfn.load(NODE)


TEMPLATES = [BASE, NODE]


# -- structure ----------------------------------------------------------------------------


@pytest.mark.parametrize("path", TEMPLATES, ids=os.path.basename)
def test_every_reference_resolves(path):
    t = cfn.load(path)
    params, resources = set(t.get("Parameters") or {}), set(t["Resources"])
    conditions = set(t.get("Conditions") or {})
    unknown = []
    for kind, name, where in cfn.references(t):
        if kind == "Condition":
            ok = name in conditions
        elif kind == "GetAtt":
            ok = name in resources
        elif kind == "Sub" and "." in name:
            ok = name.split(".", 1)[0] in resources
        else:
            ok = name in params or name in resources or name in cfn.PSEUDO
        if kind in ("Ref", "Sub") and where and where[0] == "Rules":
            ok = ok and name in params  # rules see parameters only
        if not ok:
            unknown.append(f"{kind} {name} at {'/'.join(map(str, where))}")
    assert unknown == []


@pytest.mark.parametrize("path", TEMPLATES, ids=os.path.basename)
def test_every_parameter_and_condition_is_used(path):
    t = cfn.load(path)
    refs = cfn.references(t)
    used = {name.split(".", 1)[0] for kind, name, where in refs if kind in ("Ref", "Sub")}
    used_conditions = {name for kind, name, _ in refs if kind == "Condition"}
    # Conditions used by other conditions.
    for _, cond in (t.get("Conditions") or {}).items():
        used_conditions |= {n for k, n, _ in cfn.references({"x": cond}) if k == "Condition"}
    assert set(t.get("Parameters") or {}) - used == set()
    assert set(t.get("Conditions") or {}) - used_conditions == set()


@pytest.mark.parametrize("path", TEMPLATES, ids=os.path.basename)
def test_parameter_defaults_match_their_constraints(path):
    t = cfn.load(path)
    for name, spec in (t.get("Parameters") or {}).items():
        if "Default" not in spec:
            continue
        value = str(spec["Default"])
        if "AllowedPattern" in spec:
            assert re.fullmatch(spec["AllowedPattern"], value), name
        if "AllowedValues" in spec:
            assert value in [str(v) for v in spec["AllowedValues"]], name


def test_node_imports_only_what_base_exports(base, node):
    exported = {o["Export"]["Name"]["Fn::Sub"].replace("${AWS::StackName}", "${BaseStackName}")
                for o in base["Outputs"].values() if "Export" in o}
    imported = {v["Fn::ImportValue"]["Fn::Sub"] for _, v in cfn.walk(node)
                if isinstance(v, dict) and "Fn::ImportValue" in v}
    assert imported and imported <= exported


# -- the IAM policy ------------------------------------------------------------------------


def agent_actions():
    """service:Action for every AWS call in agent/*.c: Query actions by name,
    Route 53's REST paths by what they are."""
    actions = set()
    services = {"ec2.c": "ec2", "ec2-create.c": "ec2", "autoscaling.c": "autoscaling",
                "cloudformation.c": "cloudformation", "kms.c": "kms"}
    for path in glob.glob(os.path.join(TOP, "agent", "*.c")):
        with open(path) as f:
            src = f.read()
        name = os.path.basename(path)
        if name in services:
            for call in re.findall(r'aws_(?:query|json)_call\([^,]+,\s*AWS_SERVICE_\w+,\s*"(\w+)"', src):
                actions.add(f"{services[name]}:{call}")
            for call in re.findall(r'lifecycle_call\([^,]+,\s*"(\w+)"', src):
                actions.add(f"{services[name]}:{call}")
            for call in re.findall(r'ec2_describe(?:_items)?\([^,]+,\s*"(\w+)"', src):
                actions.add(f"ec2:{call}")
        if name == "route53.c":
            calls = re.findall(r'ROUTE53_API "(/[^"]+)"[^;]*;[\s\S]{0,400}?aws_rest_xml_call\([^,]+,\s*'
                               r'AWS_SERVICE_ROUTE53,\s*"(\w+)"', src)
            # Every REST call must have been recognised by its path.
            if len(calls) != src.count("AWS_SERVICE_ROUTE53,"):
                actions.add("route53:UNKNOWN call (update agent_actions())")
            for path_fmt, method in calls:
                if path_fmt.startswith("/hostedzone/%s/rrset"):
                    actions.add("route53:ChangeResourceRecordSets" if method == "POST"
                                else "route53:ListResourceRecordSets")
                elif path_fmt.startswith("/change/"):
                    actions.add("route53:GetChange")
                else:
                    actions.add(f"route53:UNKNOWN {method} {path_fmt}")
    return actions


# What EBS does with a customer managed key on the agent's behalf, besides
# the agent's own calls: a grant for EC2 when a volume encrypted with it is
# attached, and the data key of a volume a restore makes (from a snapshot
# encrypted with it, re-encrypted when the snapshot's key differs).
EXTRA_FOR_ENCRYPTED_VOLUMES = {"kms:CreateGrant", "kms:Decrypt", "kms:GenerateDataKeyWithoutPlaintext",
                               "kms:ReEncryptFrom", "kms:ReEncryptTo"}


def policy_statements(base, params):
    """The statements of every IAM policy in base.yaml, rendered."""
    ctx = cfn.Context(base, parameters=params, resources=BASE_RESOURCES, attributes=BASE_ATTRIBUTES,
                      pseudo={"AWS::StackName": "kafka-base"})
    statements = []
    for name, res in base["Resources"].items():
        if res["Type"] not in ("AWS::IAM::ManagedPolicy", "AWS::IAM::Policy"):
            continue
        if "Condition" in res and not ctx.condition(res["Condition"]):
            continue
        statements += ctx.eval(res["Properties"]["PolicyDocument"])["Statement"]
    return statements


def actions_of(statements):
    out = set()
    for s in statements:
        out |= set([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    return out


KMS_KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def test_agent_calls_are_found():
    found = agent_actions()
    assert not any("UNKNOWN" in a for a in found), found
    assert {"ec2:AttachVolume", "route53:ChangeResourceRecordSets", "route53:GetChange",
            "cloudformation:SignalResource", "autoscaling:CompleteLifecycleAction"} <= found


def test_policy_allows_exactly_the_calls_the_agent_makes(base):
    agent = agent_actions()
    assert actions_of(policy_statements(base, BASE_PARAMS)) == agent
    with_kms = actions_of(policy_statements(base, {**BASE_PARAMS, "VolumeKmsKeyArn": KMS_KEY}))
    assert with_kms == agent | EXTRA_FOR_ENCRYPTED_VOLUMES


def test_policy_allows_only(base):
    for s in policy_statements(base, {**BASE_PARAMS, "VolumeKmsKeyArn": KMS_KEY}):
        assert s["Effect"] == "Allow"
        assert "NotAction" not in s and "NotResource" not in s
        assert not any("*" in a for a in actions_of([s])), s


def statement_for(statements, action, resource_kind):
    return [s for s in statements if action in actions_of([s]) and resource_kind in str(s["Resource"])]


def test_attach_and_detach_need_the_clusters_tag_on_every_resource(base):
    st = policy_statements(base, BASE_PARAMS)
    for action, kinds in {"ec2:AttachVolume": ("volume/", "instance/"), "ec2:DetachVolume": ("volume/", "instance/"),
                          "ec2:AttachNetworkInterface": ("network-interface/", "instance/"),
                          "ec2:DetachNetworkInterface": ("network-interface/", "instance/")}.items():
        granting = [s for s in st if action in actions_of([s])]
        assert {k for k in kinds for s in granting if k in s["Resource"]} == set(kinds), action
        for s in granting:
            assert s["Condition"]["StringEquals"]["aws:ResourceTag/nodeagent:cluster"] == "kafka", s


def test_create_tags_is_nodeagents_keys_on_the_clusters_resources(base):
    """Tags on existing resources: only nodeagent's own keys, only on the
    cluster's volumes and interfaces. Tags at creation: only with the
    CreateVolume or CreateNetworkInterface that makes the resource (whose
    own statements require the cluster's tag on it)."""
    granting = [s for s in policy_statements(base, BASE_PARAMS) if "ec2:CreateTags" in actions_of([s])]
    existing = [s for s in granting if "ec2:CreateAction" not in s["Condition"].get("StringEquals", {})]
    at_creation = [s for s in granting if s not in existing]
    assert sorted(s["Resource"] for s in existing) == ["arn:aws:ec2:us-east-1:123456789012:network-interface/*",
                                                      "arn:aws:ec2:us-east-1:123456789012:volume/*"]
    for s in existing:
        assert s["Condition"]["StringEquals"]["aws:ResourceTag/nodeagent:cluster"] == "kafka"
        assert all(k.startswith("nodeagent:") for k in s["Condition"]["ForAllValues:StringEquals"]["aws:TagKeys"])
    volumes = [s for s in existing if s["Resource"].endswith(":volume/*")][0]
    assert {"nodeagent:format-started", "nodeagent:initialized"} <= set(
        volumes["Condition"]["ForAllValues:StringEquals"]["aws:TagKeys"])
    (created,) = at_creation
    assert sorted(created["Condition"]["StringEquals"]["ec2:CreateAction"]) == ["CreateNetworkInterface",
                                                                               "CreateVolume"]


def test_restore_creates_only_what_carries_the_clusters_tag(base):
    st = policy_statements(base, BASE_PARAMS)
    for action in ("ec2:CreateVolume", "ec2:CreateNetworkInterface"):
        granting = [s for s in st if action in actions_of([s])]
        made = [s for s in granting if s["Resource"].endswith(("volume/*", "network-interface/*"))]
        assert made and all(s["Condition"]["StringEquals"]["aws:RequestTag/nodeagent:cluster"] == "kafka"
                            for s in made), granting
        for s in granting:
            assert s.get("Condition"), s


def test_route53_is_scoped_to_the_zone_and_the_clusters_a_records(base):
    for params, zone in ((BASE_PARAMS, "Z0HOSTEDZONE0000000001"),
                         ({**BASE_PARAMS, "ExistingHostedZoneId": "Z9EXISTING"}, "Z9EXISTING")):
        st = policy_statements(base, params)
        for action in ("route53:ListResourceRecordSets", "route53:ChangeResourceRecordSets"):
            (s,) = [s for s in st if action in actions_of([s])]
            assert s["Resource"] == f"arn:aws:route53:::hostedzone/{zone}"
        (change,) = [s for s in st if "route53:ChangeResourceRecordSets" in actions_of([s])]
        cond = change["Condition"]
        assert cond["ForAllValues:StringEquals"]["route53:ChangeResourceRecordSetsRecordTypes"] == ["A"]
        assert cond["ForAllValues:StringLike"]["route53:ChangeResourceRecordSetsNormalizedRecordNames"] == [
            "kafka.internal", "*.kafka.internal"]


def test_only_actions_without_resources_get_a_star(base):
    for s in policy_statements(base, BASE_PARAMS):
        if s["Resource"] == "*":
            assert actions_of([s]) <= {"ec2:DescribeVolumes", "ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets",
                                       "ec2:DescribeInstances", "ec2:DescribeSnapshots",
                                       "autoscaling:DescribeAutoScalingInstances",
                                       "autoscaling:DescribeAutoScalingGroups",
                                       "autoscaling:DescribeLifecycleHooks"}, s
            assert s["Condition"]["StringEquals"]["aws:RequestedRegion"] == "us-east-1"


def test_describe_key_is_the_clusters_key_or_the_accounts_in_the_region(base):
    (with_key,) = [s for s in policy_statements(base, {**BASE_PARAMS, "VolumeKmsKeyArn": KMS_KEY})
                   if "kms:DescribeKey" in actions_of([s])]
    assert with_key["Resource"] == KMS_KEY and actions_of([with_key]) == {"kms:DescribeKey"}
    (managed,) = [s for s in policy_statements(base, BASE_PARAMS) if "kms:DescribeKey" in actions_of([s])]
    assert managed["Resource"] == "arn:aws:kms:us-east-1:123456789012:key/*"
    assert actions_of([managed]) == {"kms:DescribeKey"}


def test_kms_is_the_clusters_key_used_only_through_ec2(base):
    """With a customer managed key: the grant only for an AWS resource, the
    data-key calls only through EC2, both on that key alone. With the AWS
    managed key (whose policy lets EC2 use it for the account) none of it."""
    st = policy_statements(base, {**BASE_PARAMS, "VolumeKmsKeyArn": KMS_KEY})
    ec2 = "ec2.us-east-1.amazonaws.com"
    for action in EXTRA_FOR_ENCRYPTED_VOLUMES:
        (s,) = [s for s in st if action in actions_of([s])]
        assert s["Resource"] == KMS_KEY, s
        assert s["Condition"]["StringEquals"]["kms:ViaService"] == ec2, s
    (grant,) = [s for s in st if "kms:CreateGrant" in actions_of([s])]
    assert grant["Condition"]["Bool"]["kms:GrantIsForAWSResource"] == "true"
    managed = actions_of(policy_statements(base, BASE_PARAMS))
    assert not managed & EXTRA_FOR_ENCRYPTED_VOLUMES


def test_signals_are_scoped_to_the_clusters_stacks_and_groups(base):
    st = policy_statements(base, BASE_PARAMS)
    (sig,) = [s for s in st if "cloudformation:SignalResource" in actions_of([s])]
    assert sig["Resource"] == "arn:aws:cloudformation:us-east-1:123456789012:stack/kafka-*/*"
    (hook,) = [s for s in st if "autoscaling:CompleteLifecycleAction" in actions_of([s])]
    assert hook["Condition"]["StringEquals"]["aws:ResourceTag/nodeagent:cluster"] == "kafka"


def test_standalone_policy_is_the_templates(base):
    """iam-policy.json, its placeholders filled in, says what base.yaml's
    policies say (with a customer managed key)."""
    with open(POLICY_JSON) as f:
        text = f.read()
    for placeholder, value in {"REGION": "us-east-1", "ACCOUNT": "123456789012", "CLUSTER": "kafka",
                               "ZONE_ID": "Z0HOSTEDZONE0000000001", "KMS_KEY_ARN": KMS_KEY,
                               "DOMAIN": "kafka.internal", "VPC_ID": BASE_PARAMS["VpcId"]}.items():
        text = text.replace(placeholder, value)
    standalone = json.loads(text)["Statement"]
    ours = policy_statements(base, {**BASE_PARAMS, "VolumeKmsKeyArn": KMS_KEY})
    key = lambda s: s["Sid"]  # noqa: E731
    assert sorted(standalone, key=key) == sorted(ours, key=key)


def test_node_tags_what_the_policy_conditions_on(node):
    """Every volume (the extra ones and the striped set's members too) and
    the ENI carry the cluster's tag: the role may attach only those, and
    restore only from snapshots that carry it (copied from their volume)."""
    tagged = [name for name, r in node["Resources"].items()
              if r["Type"] in ("AWS::EC2::Volume", "AWS::EC2::NetworkInterface")]
    assert len(tagged) == 2 + 3 + 4
    for name in tagged:
        tags = {t["Key"]: t["Value"] for t in node["Resources"][name]["Properties"]["Tags"]}
        assert tags["nodeagent:cluster"] == {"Fn::ImportValue": {"Fn::Sub": "${BaseStackName}-ClusterName"}}, name
    asg_tags = {t["Key"]: t for t in node["Resources"]["AutoScalingGroup"]["Properties"]["Tags"]}
    assert asg_tags["nodeagent:cluster"]["PropagateAtLaunch"] is True  # the instances carry it too


# -- the snapshots a restore comes back from --------------------------------------------------


def base_resources(base, params):
    """base.yaml's resources that its conditions create, evaluated."""
    ctx = cfn.Context(base, parameters=params, resources=BASE_RESOURCES, attributes=BASE_ATTRIBUTES,
                      pseudo={"AWS::StackName": "kafka-base"})
    return {name: ctx.eval(res) for name, res in base["Resources"].items()
            if "Condition" not in res or ctx.condition(res["Condition"])}


def test_snapshot_policy_takes_each_node_as_one_set(base):
    """Data Lifecycle Manager snapshots the cluster's instances (one
    CreateSnapshots each: a node's volumes at one point in time, what a
    striped set needs), copies each volume's tags onto its snapshot, and
    expires them by age."""
    policy = base_resources(base, BASE_PARAMS)["SnapshotPolicy"]["Properties"]
    assert policy["State"] == "ENABLED"
    assert policy["ExecutionRoleArn"] == BASE_ATTRIBUTES["SnapshotRole.Arn"]
    details = policy["PolicyDetails"]
    assert details["PolicyType"] == "EBS_SNAPSHOT_MANAGEMENT"
    assert details["ResourceTypes"] == ["INSTANCE"]
    assert details["TargetTags"] == [{"Key": "nodeagent:cluster", "Value": "kafka"}]
    assert details["Parameters"] == {"ExcludeBootVolume": True}
    (schedule,) = details["Schedules"]
    assert schedule["CopyTags"] is True
    assert schedule["CreateRule"] == {"Interval": "24", "IntervalUnit": "HOURS", "Times": ["03:00"]}
    # By age: a count's snapshots are forgotten when their instance is
    # terminated, as every replacement does.
    assert schedule["RetainRule"] == {"Interval": "7", "IntervalUnit": "DAYS"}
    # Renaming a schedule orphans its snapshots: the name is not a parameter's.
    assert base["Resources"]["SnapshotPolicy"]["Properties"]["PolicyDetails"]["Schedules"][0]["Name"] == "nodeagent"
    off = base_resources(base, {**BASE_PARAMS, "SnapshotIntervalHours": "0"})
    assert "SnapshotPolicy" not in off and "SnapshotRole" not in off


def test_node_instances_are_the_snapshot_policys_targets(base, node):
    targets = base_resources(base, BASE_PARAMS)["SnapshotPolicy"]["Properties"]["PolicyDetails"]["TargetTags"]
    ctx = cfn.Context(node, parameters=NODE_PARAMS, resources=NODE_RESOURCES, imports=IMPORTS)
    tags = ctx.eval(node["Resources"]["AutoScalingGroup"]["Properties"]["Tags"])
    launched = {t["Key"]: t["Value"] for t in tags if t["PropagateAtLaunch"] is True}
    assert all(launched.get(t["Key"]) == t["Value"] for t in targets)


def test_snapshot_role_is_data_lifecycle_managers_and_expires_only_the_clusters(base):
    role = base_resources(base, BASE_PARAMS)["SnapshotRole"]["Properties"]
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust == {"Effect": "Allow", "Principal": {"Service": "dlm.amazonaws.com"}, "Action": "sts:AssumeRole"}
    st = [s for p in role["Policies"] for s in p["PolicyDocument"]["Statement"]]
    assert actions_of(st) == {"ec2:DescribeInstances", "ec2:DescribeVolumes", "ec2:DescribeSnapshots",
                              "ec2:CreateSnapshots", "ec2:CreateTags", "ec2:DeleteSnapshot"}
    snapshots = "arn:aws:ec2:us-east-1::snapshot/*"
    for s in st:
        assert s["Effect"] == "Allow" and not any("*" in a for a in actions_of([s])), s
        if s["Resource"] == "*":
            assert actions_of([s]) <= {"ec2:DescribeInstances", "ec2:DescribeVolumes", "ec2:DescribeSnapshots"}
            assert s["Condition"]["StringEquals"]["aws:RequestedRegion"] == "us-east-1"
    (instances,) = [s for s in st if s["Resource"] == "arn:aws:ec2:us-east-1:123456789012:instance/*"]
    assert actions_of([instances]) == {"ec2:CreateSnapshots"}
    assert instances["Condition"]["StringEquals"]["aws:ResourceTag/nodeagent:cluster"] == "kafka"
    (tagging,) = [s for s in st if "ec2:CreateTags" in actions_of([s])]
    assert tagging["Resource"] == snapshots
    (expiring,) = [s for s in st if "ec2:DeleteSnapshot" in actions_of([s])]
    assert expiring["Resource"] == snapshots and actions_of([expiring]) == {"ec2:DeleteSnapshot"}
    assert expiring["Condition"]["StringEquals"]["aws:ResourceTag/nodeagent:cluster"] == "kafka"


# -- the node layer ---------------------------------------------------------------------------


def duration(text):
    """ISO 8601 (PT25M) or nodeagent's (15min, 10min, 90s) to seconds."""
    m = re.fullmatch(r"PT(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?", text)
    if m:
        h, mi, s = (int(x or 0) for x in m.groups())
        return h * 3600 + mi * 60 + s
    total = 0
    for number, unit in re.findall(r"(\d+)\s*(h|min|s)?", text):
        total += int(number) * {"h": 3600, "min": 60, "s": 1, None: 1, "": 1}[unit]
    return total


def render_user_data(node, **params):
    ctx = cfn.Context(node, parameters={**NODE_PARAMS, **params}, resources=NODE_RESOURCES, imports=IMPORTS)
    lt = node["Resources"]["LaunchTemplate"]["Properties"]["LaunchTemplateData"]
    return base64.b64decode(ctx.eval(lt["UserData"])).decode()


def user_data_settings(text):
    settings, section = {}, None
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
        elif line and not line.startswith(("#", ";")) and "=" in line:
            key, _, value = line.partition("=")
            settings[f"{section}.{key}"] = value
    return settings


@pytest.fixture(scope="module")
def settings(node):
    return user_data_settings(render_user_data(node))


VOLUMES = ["Volume", "ExtraVolume1", "ExtraVolume2", "ExtraVolume3",
           "StripeMember1", "StripeMember2", "StripeMember3", "StripeMember4"]


def test_volumes_keep_a_snapshot_when_deleted_or_replaced(node):
    assert [n for n, r in node["Resources"].items() if r["Type"] == "AWS::EC2::Volume"] == VOLUMES
    for name in VOLUMES:
        v = node["Resources"][name]
        assert v["DeletionPolicy"] == "Snapshot" and v["UpdateReplacePolicy"] == "Snapshot", name
        assert v["Properties"]["AvailabilityZone"] == {"Ref": "AvailabilityZone"}, name
        assert v["Properties"]["Encrypted"] is True, name
        assert v["Properties"]["KmsKeyId"] == node["Resources"]["Volume"]["Properties"]["KmsKeyId"], name


def node_resources(node, **params):
    """node.yaml's resources that its conditions create, evaluated."""
    ctx = cfn.Context(node, parameters={**NODE_PARAMS, **params}, resources=NODE_RESOURCES, imports=IMPORTS,
                      attributes={"LaunchTemplate.LatestVersionNumber": "1",
                                  "NetworkInterface.PrimaryPrivateIpAddress": NODE_PARAMS["PrivateIpAddress"]})
    return {name: ctx.eval(res) for name, res in node["Resources"].items()
            if "Condition" not in res or ctx.condition(res["Condition"])}


@pytest.mark.parametrize("params,created", [
    ({}, ["Volume"]),
    ({"ExtraVolume2Name": "log"}, ["Volume", "ExtraVolume2"]),
    ({"ExtraVolume1Name": "a", "ExtraVolume2Name": "b", "ExtraVolume3Name": "c"},
     ["Volume", "ExtraVolume1", "ExtraVolume2", "ExtraVolume3"]),
    ({"StripeMembers": "2"}, ["Volume", "StripeMember1", "StripeMember2"]),
    ({"StripeMembers": "3"}, ["Volume", "StripeMember1", "StripeMember2", "StripeMember3"]),
    ({"StripeMembers": "4", "ExtraVolume1Name": "log"},
     ["Volume", "ExtraVolume1", "StripeMember1", "StripeMember2", "StripeMember3", "StripeMember4"]),
], ids=["none", "slot2", "slots123", "stripe2", "stripe3", "stripe4+slot1"])
def test_slots_make_exactly_their_volumes(node, params, created):
    sizes = {"Volume": "VolumeSize", "ExtraVolume1": "ExtraVolume1Size", "ExtraVolume2": "ExtraVolume2Size",
             "ExtraVolume3": "ExtraVolume3Size", "StripeMember": "StripeMemberSize"}
    types = {k: v.replace("Size", "Type") for k, v in sizes.items()}
    types["StripeMember"] = "StripeVolumeType"
    # Each its own size and type (distinct values, to see which is which).
    given = {p: str(100 + i) for i, p in enumerate(sizes.values())}
    given.update({t: v for t, v in zip(types.values(), ["gp3", "io2", "st1", "sc1", "gp2"])})
    made = node_resources(node, **params, **given)
    assert [n for n in made if made[n]["Type"] == "AWS::EC2::Volume"] == created
    for name in created:
        slot = name.rstrip("1234") if name.startswith("StripeMember") else name
        assert made[name]["Properties"]["Size"] == given[sizes[slot]], name
        assert made[name]["Properties"]["VolumeType"] == given[types[slot]], name


def failed_rules(node, **params):
    """The names of node.yaml's rules (but the subnet's, which needs
    EC2) whose assertions fail for these parameters."""
    ctx = cfn.Context(node, parameters={**NODE_PARAMS, **params})
    failed = []
    for name, rule in node["Rules"].items():
        if name == "SubnetInTheVolumesZone":
            continue
        if "RuleCondition" in rule and not ctx.eval(rule["RuleCondition"]):
            continue
        failed += [name for a in rule["Assertions"] if not ctx.eval(a["Assert"])]
    return failed


@pytest.mark.parametrize("params,failed", [
    ({}, []),
    ({"ExtraVolume1Name": "log", "ExtraVolume2Name": "index", "ExtraVolume3Name": "journal", "StripeMembers": "3"},
     []),
    # The set's default name is free while there is no set.
    ({"ExtraVolume2Name": "stripe"}, []),
    ({"ExtraVolume1Name": "log", "ExtraVolume3Name": "log"}, ["VolumeNamesDiffer"]),
    ({"ExtraVolume2Name": "log", "ExtraVolume3Name": "log"}, ["VolumeNamesDiffer"]),
    ({"ExtraVolume1Name": "log", "ExtraVolume2Name": "log"}, ["VolumeNamesDiffer"]),
    ({"ExtraVolume3Name": "data"}, ["VolumeNamesDiffer"]),
    ({"ExtraVolume1Name": "data"}, ["VolumeNamesDiffer"]),
    ({"StripeMembers": "2", "ExtraVolume2Name": "stripe"}, ["StripeNameDiffers"]),
    ({"StripeMembers": "4", "StripeName": "data"}, ["StripeNameDiffers"]),
    ({"RestorePolicy": "snapshot", "ExtraVolume1Name": "log"}, []),
    ({"RestorePolicy": "snapshot", "StripeMembers": "2"}, ["RestoreWithoutStripe"]),
    ({"RestorePolicy": "snapshot-or-blank", "StripeMembers": "4"}, ["RestoreWithoutStripe"]),
], ids=["none", "all-distinct", "stripe-name-without-set", "slots-1-3", "slots-2-3", "slots-1-2", "slot3-data",
        "slot1-data", "stripe-slot2", "stripe-data", "restore-slots", "restore-stripe2", "restore-stripe4"])
def test_volume_names_are_distinct_sections(node, params, failed):
    """Each name is a [Volume:NAME] section: the same one twice would merge
    two volumes into one section, and "data" is [Volume]'s. Rules refuse
    both before anything is created, and RestorePolicy with a striped set
    (nodeagent refuses Restore= on a set: exit 2)."""
    assert failed_rules(node, **params) == failed


def group_properties(node, **params):
    ctx = cfn.Context(node, parameters={**NODE_PARAMS, **params}, resources=NODE_RESOURCES, imports=IMPORTS,
                      attributes={"LaunchTemplate.LatestVersionNumber": "1"})
    asg = node["Resources"]["AutoScalingGroup"]
    return ctx.eval(asg["Properties"]), ctx.eval(asg["UpdatePolicy"])


def test_group_is_one_instance_in_the_volumes_subnet(node):
    p, _ = group_properties(node)
    assert p["MinSize"] == p["MaxSize"] == p["DesiredCapacity"] == "1"
    assert node_resources(node)["AutoScalingGroup"]["Properties"]["VPCZoneIdentifier"] == [NODE_PARAMS["SubnetId"]]
    assert node["Resources"]["NetworkInterface"]["Properties"]["SubnetId"] == {"Ref": "SubnetId"}
    # The subnet must be in the volume's zone: a rule checks it before anything is created.
    rule = node["Rules"]["SubnetInTheVolumesZone"]
    assert rule["Assertions"][0]["Assert"] == {
        "Fn::Equals": [{"Ref": "AvailabilityZone"}, {"Fn::ValueOf": ["SubnetId", "AvailabilityZone"]}]}


OTHER_SUBNETS = {"OtherSubnetId1": "subnet-0123456789abcdef1", "OtherSubnetId2": "subnet-0123456789abcdef2"}


@pytest.mark.parametrize("params,subnets", [
    (OTHER_SUBNETS, ["subnet-0123456789abcdef0"]),  # without RestorePolicy: one zone
    ({"RestorePolicy": "snapshot"}, ["subnet-0123456789abcdef0"]),
    ({"RestorePolicy": "snapshot", "OtherSubnetId2": "subnet-0123456789abcdef2"},
     ["subnet-0123456789abcdef0", "subnet-0123456789abcdef2"]),
    ({"RestorePolicy": "snapshot-or-blank", **OTHER_SUBNETS},
     ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1", "subnet-0123456789abcdef2"]),
], ids=["no-restore", "restore-one-zone", "restore-two-zones", "restore-three-zones"])
def test_group_spans_zones_only_with_restore(node, params, subnets):
    """The group may launch in other zones only when nodeagent may restore
    the node there; the volumes and the ENI stay in the node's own zone
    and subnet, where the stack makes them."""
    made = node_resources(node, **params)
    assert made["AutoScalingGroup"]["Properties"]["VPCZoneIdentifier"] == subnets
    assert made["NetworkInterface"]["Properties"]["SubnetId"] == NODE_PARAMS["SubnetId"]
    assert {made[n]["Properties"]["AvailabilityZone"] for n in made if made[n]["Type"] == "AWS::EC2::Volume"} == {
        NODE_PARAMS["AvailabilityZone"]}


def test_update_replaces_the_instance_without_waiting_for_a_second_one(node):
    _, policy = group_properties(node)
    u = policy["AutoScalingRollingUpdate"]
    assert u["MinInstancesInService"] == 0 and u["MaxBatchSize"] == 1 and u["WaitOnResourceSignals"] is True
    assert "AutoScalingReplacingUpdate" not in policy
    settings = user_data_settings(render_user_data(node))
    assert settings["Volume.TakeOver"] == settings["Interface.TakeOver"] == "wait"


def test_handover_launches_the_new_instance_first(node):
    """ReplacementStrategy=handover: the new instance comes first (one in
    service throughout, room for a second), signals at READY, and asks the
    old one for the node; every instance carries the node's tag."""
    p, policy = group_properties(node, ReplacementStrategy="handover")
    u = policy["AutoScalingRollingUpdate"]
    assert u["MinInstancesInService"] == 1 and u["MaxBatchSize"] == 1 and u["WaitOnResourceSignals"] is True
    assert p["MinSize"] == p["DesiredCapacity"] == "1" and p["MaxSize"] == "2"
    assert int(p["MaxSize"]) > u["MinInstancesInService"]
    settings = user_data_settings(render_user_data(node, ReplacementStrategy="handover"))
    assert settings["Volume.TakeOver"] == settings["Interface.TakeOver"] == "handover"
    assert settings["Node.Name"] == "kafka-1"
    assert settings["Signal.CloudFormationResource"] == "AutoScalingGroup"
    tags = {t["Key"]: t for t in p["Tags"]}
    assert tags["nodeagent:node"]["Value"] == settings["Node.Name"] and tags["nodeagent:node"]["PropagateAtLaunch"]
    # The launch hook works the same way in both strategies.
    p, _ = group_properties(node, ReplacementStrategy="handover", UseLaunchLifecycleHook="true")
    assert [h["LifecycleHookName"] for h in p["LifecycleHookSpecificationList"]] == ["nodeagent-launch"]


def test_nodes_reach_each_other_with_the_prompt_clients_do_not(base):
    """The handover prompt (UDP 7465) between nodes: the group lets its
    members send anything to each other, and clients only ClientPort."""
    ctx = cfn.Context(base, parameters=BASE_PARAMS, attributes={"SecurityGroup.GroupId": "sg-0123456789abcdef0"})
    nodes = ctx.eval(base["Resources"]["SecurityGroupIngressNodes"]["Properties"])
    assert nodes["IpProtocol"] == "-1" and nodes["SourceSecurityGroupId"] == nodes["GroupId"]
    ingress = ctx.eval(base["Resources"]["SecurityGroup"]["Properties"]["SecurityGroupIngress"])
    assert ingress and all(r["IpProtocol"] == "tcp" and r["FromPort"] == r["ToPort"] for r in ingress), ingress


def test_signals_are_waited_for_longer_than_the_boot(node, settings):
    asg = node["Resources"]["AutoScalingGroup"]
    boot = duration(settings["Node.Timeout"])
    c = asg["CreationPolicy"]["ResourceSignal"]
    assert c["Count"] == 1 and duration(c["Timeout"]) >= boot
    assert duration(asg["UpdatePolicy"]["AutoScalingRollingUpdate"]["PauseTime"]) >= boot
    assert duration(asg["UpdatePolicy"]["AutoScalingRollingUpdate"]["PauseTime"]) <= 3600  # CloudFormation's maximum


def test_health_check_grace_outlasts_the_take_over(node, settings):
    grace = node["Resources"]["AutoScalingGroup"]["Properties"]["HealthCheckGracePeriod"]
    assert grace > duration(settings["Volume.TakeOverTimeout"])
    assert grace > duration(settings.get("Interface.TakeOverTimeout", "10min"))
    assert grace >= duration(settings["Node.Timeout"])


def test_user_data_signals_the_resource_that_waits(node, settings):
    assert settings["Signal.CloudFormationStack"] == "kafka-node-1"
    resource = settings["Signal.CloudFormationResource"]
    assert "CreationPolicy" in node["Resources"][resource]
    assert node["Resources"][resource]["UpdatePolicy"]["AutoScalingRollingUpdate"]["WaitOnResourceSignals"]


def test_user_data_points_at_the_stacks_own_resources(settings):
    assert settings["Volume.Id"] == NODE_RESOURCES["Volume"]
    assert settings["Interface.Id"] == NODE_RESOURCES["NetworkInterface"]
    assert settings["DNS.HostedZoneId"] == IMPORTS["kafka-base-HostedZoneId"]
    assert settings["DNS.Name"] == "kafka-1.kafka.internal"


def test_lifecycle_hook_is_optional_and_named_alike(node):
    off = user_data_settings(render_user_data(node))
    on = user_data_settings(render_user_data(node, UseLaunchLifecycleHook="true"))
    assert off["Signal.LifecycleHook"] == ""
    ctx = cfn.Context(node, parameters={**NODE_PARAMS, "UseLaunchLifecycleHook": "true"}, resources=NODE_RESOURCES,
                      imports=IMPORTS)
    hooks = ctx.eval(node["Resources"]["AutoScalingGroup"]["Properties"]["LifecycleHookSpecificationList"])
    assert [h["LifecycleHookName"] for h in hooks] == [on["Signal.LifecycleHook"]]
    assert hooks[0]["LifecycleTransition"] == "autoscaling:EC2_INSTANCE_LAUNCHING"
    assert hooks[0]["DefaultResult"] == "ABANDON"
    ctx = cfn.Context(node, parameters=NODE_PARAMS, resources=NODE_RESOURCES, imports=IMPORTS)
    assert ctx.eval(node["Resources"]["AutoScalingGroup"]["Properties"]["LifecycleHookSpecificationList"]) is cfn.NO_VALUE


def test_launch_template_requires_imdsv2(node):
    lt = node["Resources"]["LaunchTemplate"]["Properties"]["LaunchTemplateData"]
    assert lt["MetadataOptions"]["HttpTokens"] == "required"


# -- the agent reads the user data --------------------------------------------------------------


VARIANTS = [{}, {"UseLaunchLifecycleHook": "true"}, {"DnsMode": "shared", "DnsRecordName": "kafka.kafka.internal"},
            {"FileSystem": "ext4", "MountPoint": "/srv/mongodb"}, {"ReplacementStrategy": "handover"}]
# Each slot on and off, the striped set of each size, by id and by tag.
SLOT_VARIANTS = [
    {"ExtraVolume1Name": "log"},
    {"ExtraVolume2Name": "journal", "ExtraVolume2MountPoint": "/srv/journal"},
    {"ExtraVolume1Name": "log", "ExtraVolume2Name": "index", "ExtraVolume3Name": "journal", "FileSystem": "ext4"},
    {"StripeMembers": "2"},
    {"StripeMembers": "3", "StripeName": "fast", "StripeMountPoint": "/srv/fast"},
    {"StripeMembers": "4", "ExtraVolume3Name": "log"},
    {"RestorePolicy": "snapshot"},
    {"RestorePolicy": "snapshot-or-blank", "ExtraVolume1Name": "log", "ExtraVolume3Name": "index", **OTHER_SUBNETS},
    {"ReplacementStrategy": "handover", "ExtraVolume1Name": "log", "StripeMembers": "2"},
]


def world_of_the_stack(node, params):
    """The fake's default world, its volumes and the ENI replaced by those
    the node stack makes with these parameters: its ids, sizes, types, zone
    and tags."""
    with open(os.path.join(TOP, "tests", "fakeaws", "world-default.json")) as f:
        world = json.load(f)
    made = node_resources(node, **params)
    like = world["volumes"].pop(NODE_RESOURCES["Volume"])
    assert world["volumes"] == {}
    for name, res in made.items():
        p = res["Properties"]
        if res["Type"] == "AWS::EC2::Volume":
            world["volumes"][NODE_RESOURCES[name]] = {**like, "size": int(p["Size"]), "volume_type": p["VolumeType"],
                                                      "availability_zone": p["AvailabilityZone"],
                                                      "tags": {t["Key"]: t["Value"] for t in p["Tags"]}}
        elif res["Type"] == "AWS::EC2::NetworkInterface":
            world["network_interfaces"][NODE_RESOURCES[name]]["tags"] = {t["Key"]: t["Value"] for t in p["Tags"]}
    return world


def user_data_sections(text):
    """{section: {key: value}}, in the order the user data has them."""
    sections = {}
    for key, value in user_data_settings(text).items():
        section, _, name = key.rpartition(".")
        sections.setdefault(section, {})[name] = value
    return sections


@pytest.mark.parametrize("params", [{}] + SLOT_VARIANTS,
                         ids=lambda p: ",".join(f"{k}={v}" for k, v in p.items()) or "defaults")
def test_user_data_has_a_section_per_volume(node, params):
    """A [Volume:NAME] per slot whose name is set and one for the striped
    set; by id (the stack's volumes, a set's in array order), or with
    RestorePolicy by the tag the stack put on them, with Restore= and what a
    blank volume would be made with."""
    p = {**{k: v["Default"] for k, v in node["Parameters"].items() if "Default" in v}, **NODE_PARAMS, **params}
    p = {k: str(v) for k, v in p.items()}
    sections = user_data_sections(render_user_data(node, **params))
    restore = p["RestorePolicy"] != "no"
    expected = {"Volume": ("data", ["Volume"], p["MountPoint"], p["VolumeSize"], p["VolumeType"])}
    for i in (1, 2, 3):
        name = p[f"ExtraVolume{i}Name"]
        if name:
            expected[f"Volume:{name}"] = (name, [f"ExtraVolume{i}"],
                                          p[f"ExtraVolume{i}MountPoint"] or f"{p['MountPoint']}/{name}",
                                          p[f"ExtraVolume{i}Size"], p[f"ExtraVolume{i}Type"])
    members = int(p["StripeMembers"])
    if members:
        expected[f"Volume:{p['StripeName']}"] = (p["StripeName"], [f"StripeMember{k}" for k in range(1, members + 1)],
                                                 p["StripeMountPoint"] or f"{p['MountPoint']}/{p['StripeName']}",
                                                 p["StripeMemberSize"], p["StripeVolumeType"])
    assert [s for s in sections if s.startswith("Volume")] == list(expected)
    for section, (name, resources, mount, size, kind) in expected.items():
        got = sections[section]
        assert got["MountPoint"] == mount and got["FileSystem"] == p["FileSystem"], section
        assert got["DetachOnStop"] == "yes" and got["Format"] == "if-blank", section
        # The node's resources move together: every section hands over, or none.
        assert got["TakeOver"] == ("handover" if p["ReplacementStrategy"] == "handover" else "wait"), section
        assert (got.get("Stripe") == "raid0") == (len(resources) > 1), section
        if restore:
            assert "Id" not in got, section
            assert got["Tag"] == f"nodeagent:volume={p['NodeName']}-{name}", section
            assert got["Restore"] == p["RestorePolicy"], section
            assert (got["Size"], got["VolumeType"]) == (size, kind), section
            assert got.get("Count") == (str(len(resources)) if len(resources) > 1 else None), section
        else:
            assert not {"Tag", "Restore", "Count", "Size", "VolumeType"} & set(got), section
            assert got["Id"] == " ".join(NODE_RESOURCES[r] for r in resources), section
    if restore:
        assert sections["Interface"]["Tag"] == f"nodeagent:interface={p['NodeName']}"
        assert sections["Interface"]["Restore"] == "create" and "Id" not in sections["Interface"]
    else:
        assert sections["Interface"]["Id"] == NODE_RESOURCES["NetworkInterface"]
        assert not {"Tag", "Restore"} & set(sections["Interface"])


@pytest.mark.parametrize("params", [{"RestorePolicy": "snapshot"},
                                    {"RestorePolicy": "snapshot", "ExtraVolume1Name": "log",
                                     "ExtraVolume2Name": "index", "ExtraVolume3Name": "journal"}],
                         ids=["one-volume", "every-slot"])
def test_snapshots_carry_what_a_restore_looks_for(node, params):
    """A restore looks for the newest snapshot carrying the section's Tag=
    (agent/volume.c, find_snapshots()); the base stack's snapshot policy
    copies each volume's tags onto its snapshot. So each section's tag is on
    exactly that section's volume, along with the cluster's tag the role
    may restore from; the ENI's tag on the ENI. (A striped set, whose
    members share one tag, is refused with RestorePolicy.)"""
    made = node_resources(node, **params)
    tags = {name: {t["Key"]: t["Value"] for t in res["Properties"]["Tags"]} for name, res in made.items()
            if res["Type"] in ("AWS::EC2::Volume", "AWS::EC2::NetworkInterface")}
    sections = user_data_sections(render_user_data(node, **params))
    covered = []
    for section, settings in sections.items():
        if section.startswith("Volume") or section == "Interface":
            key, _, value = settings["Tag"].partition("=")
            carriers = [name for name, t in tags.items() if t.get(key) == value]
            kind = "AWS::EC2::NetworkInterface" if section == "Interface" else "AWS::EC2::Volume"
            assert carriers and all(made[n]["Type"] == kind for n in carriers), section
            assert len(carriers) == int(settings.get("Count", 1)), section
            covered += carriers
    assert sorted(covered) == sorted(tags)
    assert all(t["nodeagent:cluster"] == "kafka" for t in tags.values())


@pytest.mark.parametrize("params", VARIANTS, ids=lambda p: ",".join(f"{k}={v}" for k, v in p.items()) or "defaults")
def test_agent_accepts_the_user_data_as_a_file(node, nodeagent, tmp_path, params):
    """The user data is a configuration file as it is (#nodeagent is a
    comment). A configuration error exits 2 before any network call; a valid
    file goes on to IMDS, which does not answer here."""
    path = tmp_path / "nodeagent.conf"
    path.write_text(render_user_data(node, **params))
    path.chmod(0o644)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["AWS_EC2_METADATA_SERVICE_ENDPOINT"] = "http://127.0.0.1:9/"
    env["NODEAGENT_STATE_FILE"] = str(tmp_path / "run" / "state")
    proc = subprocess.Popen([nodeagent, "--check", "--config", str(path)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        status = proc.wait(3)
    except subprocess.TimeoutExpired:
        status = None  # still waiting for IMDS: the file was accepted
        proc.kill()
        proc.wait()
    err = proc.stderr.read()
    assert status != 2, err


@pytest.mark.parametrize("params", VARIANTS + SLOT_VARIANTS,
                         ids=lambda p: ",".join(f"{k}={v}" for k, v in p.items()) or "defaults")
def test_agent_checks_the_user_data_from_imds(node, nodeagent, tmp_path, params):
    """The same user data served by the fake IMDS: the agent fetches it,
    validates it with every rule across keys, and --check finds the plan
    feasible against a world holding the stack's volumes, ENI and zone as
    the template makes them (ids, and the tags a lookup by tag finds)."""
    from client import FakeAws

    user_data = render_user_data(node, **params)
    world = world_of_the_stack(node, params)
    world["imds"]["user_data"] = user_data
    domain = user_data_settings(user_data)["DNS.Name"].split(".", 1)[1] + "."
    world["hosted_zones"]["Z0123456789ABCDEFGHIJ"]["name"] = domain
    for rec in world["hosted_zones"]["Z0123456789ABCDEFGHIJ"]["records"]:
        rec["Name"] = domain
    fake = FakeAws(world=world)
    fake.start()
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(fake.env(credentials=False))
        env["NODEAGENT_STATE_FILE"] = str(tmp_path / "run" / "state")
        r = run([nodeagent, "--check", "--config", str(tmp_path / "absent.conf")], env=env, timeout=60)
    finally:
        fake.stop()
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Applied the configuration from the user data." in r.stderr
    # Found (by id, or by the tag the stack put on them) in the world.
    # (--check plans [Volume] and the interface; [Volume:NAME] sections are
    # only in its effective configuration.)
    assert "Volume vol-0123456789abcdef0 (us-east-1a" in r.stdout and "Interface eni-0123456789abcdef0 (" in r.stdout
    effective = user_data_sections(r.stdout.split("Effective configuration:", 1)[1])
    for section, settings in user_data_sections(user_data).items():
        if not section.startswith(("Volume", "Interface")):
            continue
        for key, value in settings.items():
            assert effective[section][key] == value, (section, key)


# -- cfn-lint (npm) ------------------------------------------------------------------------------

# The npm package cfn-lint (1.9.7, the last release, 2019: CloudFormation
# resource specification 2.29.0) predates properties the templates use and
# does not know the Rules section's functions. These messages, and only
# these, are its being out of date, not the templates being wrong.
CFN_LINT_OUTDATED = {
    ("Resources > Role > Properties > Description",
     "Description is not a valid property of AWS::IAM::Role"),  # since late 2019
    ("Resources > Role > Properties > Tags",
     "Tags is not a valid property of AWS::IAM::Role"),  # since late 2019
    ("Resources > LaunchTemplate > Properties > LaunchTemplateData > MetadataOptions",
     "MetadataOptions is not a valid property of AWS::EC2::LaunchTemplate.LaunchTemplateData"),  # since 2020
    # A Fn::If that yields a list of objects is valid CloudFormation.
    ("Resources > AutoScalingGroup > Properties > LifecycleHookSpecificationList",
     "Fn::If does not allow LifecycleHookName as a nested function within an array"),
    # Fn::ImportValue of a Fn::Sub is not resolved; the import is an ARN.
    ("Resources > LaunchTemplate > Properties > LaunchTemplateData > IamInstanceProfile > Arn",
     "Expecting an ARN, got 'IMPORTEDVALUE${kafka-base}-InstanceProfileArn'"),
    # Its Data Lifecycle Manager knows count-based retention of volumes only:
    # policy types, instance parameters (ExcludeBootVolume) and age-based
    # retention (which made Count optional) came in 2020.
    ("Resources > SnapshotPolicy > Properties > PolicyDetails > PolicyType",
     "PolicyType is not a valid property of AWS::DLM::LifecyclePolicy.PolicyDetails"),
    ("Resources > SnapshotPolicy > Properties > PolicyDetails > Parameters",
     "Parameters is not a valid property of AWS::DLM::LifecyclePolicy.PolicyDetails"),
    ("Resources > SnapshotPolicy > Properties > PolicyDetails > Schedules > 0 > RetainRule",
     "Required property Count missing for type AWS::DLM::LifecyclePolicy.RetainRule"),
    ("Resources > SnapshotPolicy > Properties > PolicyDetails > Schedules > 0 > RetainRule > Interval",
     "Interval is not a valid property of AWS::DLM::LifecyclePolicy.RetainRule"),
    ("Resources > SnapshotPolicy > Properties > PolicyDetails > Schedules > 0 > RetainRule > IntervalUnit",
     "IntervalUnit is not a valid property of AWS::DLM::LifecyclePolicy.RetainRule"),
}


# It implements no function of the Rules section (conditions or
# assertions): any of them there is reported so.
CFN_LINT_RULES_UNSUPPORTED = re.compile(
    r"Rules > \w+ > (RuleCondition|Assertions > \d+ > Assert)$")


def cfn_lint_outdated(resource, message):
    if (resource, message) in CFN_LINT_OUTDATED:
        return True
    return bool(CFN_LINT_RULES_UNSUPPORTED.match(resource)) and bool(
        re.fullmatch(r"Intrinsic function Fn::(Equals|Not|And|Or) is not supported here", message))


def cfn_lint(path, params):
    if not os.access(CFN_LINT, os.X_OK):
        pytest.skip(f"the npm package cfn-lint is not installed at {CFN_LINT} (scripts/test packaging installs it)")
    argv = [CFN_LINT, "validate", path, "--parameters", ",".join(f"{k}={v}" for k, v in params.items())]
    if path == NODE:
        argv += ["--import-values", ",".join(f"{k}={v}" for k, v in IMPORTS.items())]
    r = run(argv, env={**os.environ, "FORCE_COLOR": "0", "NO_COLOR": "1"})
    out = re.sub(r"\x1b\[[0-9;]*m", "", r.stdout + r.stderr)
    found = set(re.findall(r"Resource: (.*)\nMessage: (.*)\n", out))
    counts = re.search(r"(\d+) infos\s+(\d+) warn\s+(\d+) crit", out)
    assert counts, out
    return found, out


@pytest.mark.parametrize("path,params", [
    (BASE, BASE_PARAMS),
    (BASE, {**BASE_PARAMS, "ExistingHostedZoneId": "Z0123456789ABCDEFGHIJ", "VolumeKmsKeyArn": KMS_KEY}),
    (NODE, NODE_PARAMS),
    (NODE, {**NODE_PARAMS, "UseLaunchLifecycleHook": "true", "KeyName": "ops", "RestoreSnapshotId": "snap-0123456789abcdef0",
            "VolumeKmsKeyArn": KMS_KEY, "DnsMode": "shared", "DnsRecordName": "kafka.kafka.internal",
            "ReplacementStrategy": "handover"}),
    (BASE, {**BASE_PARAMS, "SnapshotIntervalHours": "0"}),
    (NODE, {**NODE_PARAMS, "ExtraVolume1Name": "log", "ExtraVolume2Name": "index", "ExtraVolume2MountPoint": "/srv/index",
            "ExtraVolume3Name": "journal", "StripeMembers": "4", "StripeMountPoint": "/srv/fast"}),
    (NODE, {**NODE_PARAMS, "RestorePolicy": "snapshot-or-blank", "ExtraVolume1Name": "log", **OTHER_SUBNETS}),
], ids=["base", "base-existing-zone-kms", "node", "node-all-options", "base-no-snapshots", "node-every-slot",
        "node-restorable"])
def test_cfn_lint_reports_nothing_but_its_own_age(path, params):
    found, out = cfn_lint(path, params)
    unexpected = {f for f in found if not cfn_lint_outdated(*f)}
    assert unexpected == set(), out
    print(out)
