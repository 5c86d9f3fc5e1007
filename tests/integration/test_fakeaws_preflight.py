"""The fake AWS's KMS (JSON protocol) and its Auto Scaling group reads, as
`nodeagent --check` uses them: botocore's own clients and parsers read every
reply (so the shapes are the models'), signatures are verified like the
other services', and the errors are the JSON protocol's."""

import http.client
import json
import os
import sys

import botocore.parsers
import botocore.session
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fakeaws"))

from client import ACCESS_KEY, SECRET_KEY, FakeAws  # noqa: E402

KEY_ID = "1234abcd-12ab-34cd-56ef-1234567890ab"
KEY_ARN = f"arn:aws:kms:us-east-1:123456789012:key/{KEY_ID}"
GROUP = "kafka-1-asg"
VOLUME = "vol-0123456789abcdef0"


@pytest.fixture(scope="module")
def fake_process():
    fake = FakeAws().start()
    yield fake
    assert fake.stop() == 0


@pytest.fixture
def fake(fake_process):
    fake_process.reset()
    return fake_process


def error_of(call, *args, **kwargs):
    with pytest.raises(ClientError) as info:
        call(*args, **kwargs)
    err = info.value.response
    return err["Error"]["Code"], err["ResponseMetadata"]["HTTPStatusCode"], err["Error"].get("Message", "")


def raw(fake, service, body, headers, secret_key=SECRET_KEY):
    """One request signed by botocore's SigV4Auth: (status, headers, body)."""
    hdrs = {"Host": f"{fake.host}:{fake.port}", **headers}
    request = AWSRequest(method="POST", url=fake.url + "/", data=body, headers=hdrs)
    SigV4Auth(Credentials(ACCESS_KEY, secret_key), service, "us-east-1").add_auth(request)
    conn = http.client.HTTPConnection(fake.host, fake.port, timeout=10)
    try:
        conn.request("POST", "/", body=body, headers=dict(request.headers.items()))
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read()
    finally:
        conn.close()


def kms_raw(fake, body, target="TrentService.DescribeKey", content_type="application/x-amz-json-1.1", **kw):
    return raw(fake, "kms", body, {"X-Amz-Target": target, "Content-Type": content_type}, **kw)


# -- KMS ------------------------------------------------------------------------------------

def test_describe_key_by_every_name(fake):
    kms = fake.botocore_client("kms")
    for name in (KEY_ID, KEY_ARN, "alias/kafka", "arn:aws:kms:us-east-1:123456789012:alias/kafka"):
        meta = kms.describe_key(KeyId=name)["KeyMetadata"]
        assert (meta["KeyId"], meta["Arn"], meta["KeyState"], meta["Enabled"]) == (KEY_ID, KEY_ARN, "Enabled", True)
        assert meta["KeyManager"] == "CUSTOMER" and meta["AWSAccountId"] == "123456789012"
    assert [q["service"] for q in fake.requests()] == ["kms"] * 4


@pytest.mark.parametrize("state", ["Disabled", "PendingDeletion", "PendingImport", "Unavailable"])
def test_key_states(fake, state):
    fake.merge_state({"kms_keys": {KEY_ID: {"state": state, "deletion_date": 1893456000}}})
    meta = fake.botocore_client("kms").describe_key(KeyId=KEY_ID)["KeyMetadata"]
    assert (meta["KeyState"], meta["Enabled"]) == (state, False)
    assert ("DeletionDate" in meta) == (state == "PendingDeletion")
    if state == "PendingDeletion":
        assert meta["DeletionDate"].timestamp() == 1893456000 and meta["PendingDeletionWindowInDays"] == 30


def test_describe_key_errors(fake):
    kms = fake.botocore_client("kms")
    code, status, message = error_of(kms.describe_key, KeyId="0987dcba-09fe-87dc-65ba-ab0987654321")
    assert (code, status) == ("NotFoundException", 400) and "does not exist" in message
    assert error_of(kms.describe_key, KeyId="alias/nope")[0] == "NotFoundException"
    # A key of another Region or account is not this endpoint's.
    assert error_of(kms.describe_key, KeyId=KEY_ARN.replace("us-east-1", "eu-west-1"))[0] == "NotFoundException"
    assert error_of(kms.describe_key, KeyId="arn:aws:ec2:us-east-1:123456789012:volume/x")[0] == \
        "InvalidArnException"
    fake.merge_state({"deny": [{"principal": "*", "action": "kms:DescribeKey"}]})
    code, status, message = error_of(kms.describe_key, KeyId=KEY_ID)
    assert (code, status) == ("AccessDeniedException", 400)
    assert "is not authorized to perform: kms:DescribeKey" in message


def test_json_protocol_errors_on_the_wire(fake):
    status, headers, body = kms_raw(fake, b'{"KeyId": "nope"}')
    assert status == 400 and headers["Content-Type"] == "application/x-amz-json-1.1"
    assert json.loads(body) == {"__type": "NotFoundException",
                                "message": "Key 'arn:aws:kms:us-east-1:123456789012:key/nope' does not exist"}
    assert headers.get("x-amzn-RequestId")
    # The model's validation, in the JSON services' words.
    status, _, body = kms_raw(fake, b"{}")
    assert (status, json.loads(body)["__type"]) == (400, "ValidationException")
    assert "'keyId' failed to satisfy constraint: Member must not be null" in json.loads(body)["message"]
    status, _, body = kms_raw(fake, b'{"KeyId": ""}')
    assert json.loads(body)["__type"] == "ValidationException"
    for bad in (b"{", b"[]", b'{"KeyId": 5}', b'{"KeyId": "x", "Extra": 1}'):
        status, _, body = kms_raw(fake, bad)
        assert (status, json.loads(body)["__type"]) == (400, "SerializationException"), bad
    status, _, body = kms_raw(fake, b'{"KeyId": "x"}', content_type="application/json")
    assert json.loads(body)["__type"] == "SerializationException"
    status, _, body = kms_raw(fake, b'{"KeyId": "x"}', target="TrentService.DeleteEverything")
    assert json.loads(body)["__type"] == "UnknownOperationException"


def test_kms_signatures_are_verified(fake):
    status, _, body = kms_raw(fake, b'{"KeyId": "alias/kafka"}')
    assert status == 200 and json.loads(body)["KeyMetadata"]["KeyId"] == KEY_ID
    status, _, body = kms_raw(fake, b'{"KeyId": "alias/kafka"}', secret_key="wrong")
    assert (status, json.loads(body)["__type"]) == (400, "InvalidSignatureException")
    bad_key = fake.botocore_client("kms", access_key="AKIDUNKNOWN000000000")
    assert error_of(bad_key.describe_key, KeyId=KEY_ID)[:2] == ("UnrecognizedClientException", 400)
    fake.clock_skew(600)
    code, status, message = error_of(fake.botocore_client("kms").describe_key, KeyId=KEY_ID)
    assert (code, status) == ("InvalidSignatureException", 400) and message.startswith("Signature expired")
    fake.clock_skew(0)
    # Unsigned: refused in the JSON services' form, routed by the target.
    conn = http.client.HTTPConnection(fake.host, fake.port, timeout=10)
    conn.request("POST", "/", body=b"{}", headers={"X-Amz-Target": "TrentService.DescribeKey",
                                                    "Content-Type": "application/x-amz-json-1.1"})
    resp = conn.getresponse()
    assert (resp.status, json.loads(resp.read())["__type"]) == (400, "MissingAuthenticationTokenException")
    conn.close()


def test_kms_faults_in_the_json_form(fake):
    fake.fault(service="kms", action="DescribeKey", kind="throttle", count=1)
    code, status, _ = error_of(fake.botocore_client("kms").describe_key, KeyId=KEY_ID)
    assert (code, status) == ("ThrottlingException", 400)


def test_volume_names_its_key_by_arn(fake):
    fake.merge_state({"volumes": {VOLUME: {"encrypted": True, "kms_key_id": KEY_ID}}})
    (vol,) = fake.botocore_client("ec2").describe_volumes(VolumeIds=[VOLUME])["Volumes"]
    assert (vol["Encrypted"], vol["KmsKeyId"]) == (True, KEY_ARN)


# -- Auto Scaling ---------------------------------------------------------------------------

def test_lenient_world_has_the_groups_its_tags_name(fake):
    asg = fake.botocore_client("autoscaling")
    (g,) = asg.describe_auto_scaling_groups(AutoScalingGroupNames=[GROUP])["AutoScalingGroups"]
    assert (g["AutoScalingGroupName"], g["DesiredCapacity"], g["MinSize"], g["MaxSize"]) == (GROUP, 1, 1, 1)
    assert [i["InstanceId"] for i in g["Instances"]] == ["i-0123456789abcdef0"]  # the terminated one is gone
    assert asg.describe_lifecycle_hooks(AutoScalingGroupName=GROUP)["LifecycleHooks"] == []
    # An unknown name is left out, not an error; its hooks are.
    assert asg.describe_auto_scaling_groups(AutoScalingGroupNames=["nope"])["AutoScalingGroups"] == []
    assert error_of(asg.describe_lifecycle_hooks, AutoScalingGroupName="nope")[:2] == ("ValidationError", 400)


def test_described_group_and_hooks(fake):
    fake.merge_state({"autoscaling": {"groups": {GROUP: {
        "min_size": 1, "max_size": 2, "desired_capacity": 1,
        "instance_maintenance_policy": {"min_healthy_percentage": 100, "max_healthy_percentage": 200},
        "hooks": {"boot": {"heartbeat_timeout": 600},
                  "drain": {"heartbeat_timeout": 30, "global_timeout": 300, "default_result": "CONTINUE",
                            "lifecycle_transition": "autoscaling:EC2_INSTANCE_TERMINATING"}}}}}})
    asg = fake.botocore_client("autoscaling")
    (g,) = asg.describe_auto_scaling_groups(AutoScalingGroupNames=[GROUP])["AutoScalingGroups"]
    assert (g["MaxSize"], g["DesiredCapacity"]) == (2, 1)
    hooks = {h["LifecycleHookName"]: h for h in asg.describe_lifecycle_hooks(AutoScalingGroupName=GROUP)
             ["LifecycleHooks"]}
    assert hooks["boot"]["LifecycleTransition"] == "autoscaling:EC2_INSTANCE_LAUNCHING"
    # The global timeout AWS sets by itself: 100 heartbeat timeouts, at most 48 h.
    assert (hooks["boot"]["HeartbeatTimeout"], hooks["boot"]["GlobalTimeout"]) == (600, 60000)
    assert hooks["boot"]["DefaultResult"] == "ABANDON"
    assert (hooks["drain"]["GlobalTimeout"], hooks["drain"]["DefaultResult"]) == (300, "CONTINUE")
    assert [h["LifecycleHookName"] for h in asg.describe_lifecycle_hooks(
        AutoScalingGroupName=GROUP, LifecycleHookNames=["drain"])["LifecycleHooks"]] == ["drain"]


def test_instance_maintenance_policy_on_the_wire(fake):
    """botocore 1.29's model has no InstanceMaintenancePolicy: the member is
    built from AWS's API reference, so the raw XML is what shows it (and
    botocore's parser, which skips what its model lacks, still reads the
    rest of the reply)."""
    fake.merge_state({"autoscaling": {"groups": {GROUP: {
        "instance_maintenance_policy": {"min_healthy_percentage": 100, "max_healthy_percentage": 200}}}}})
    body = b"Action=DescribeAutoScalingGroups&Version=2011-01-01&AutoScalingGroupNames.member.1=" + GROUP.encode()
    status, headers, reply = raw(fake, "autoscaling", body,
                                 {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
    assert status == 200
    text = reply.decode()
    assert ("<InstanceMaintenancePolicy><MinHealthyPercentage>100</MinHealthyPercentage>"
            "<MaxHealthyPercentage>200</MaxHealthyPercentage></InstanceMaintenancePolicy>") in text
    model = botocore.session.get_session().get_service_model("autoscaling")
    op = model.operation_model("DescribeAutoScalingGroups")
    parsed = botocore.parsers.create_parser("query").parse(
        {"status_code": status, "headers": headers, "body": reply}, op.output_shape)
    assert parsed["AutoScalingGroups"][0]["AutoScalingGroupName"] == GROUP
    # Without a policy, no element at all.
    fake.reset()
    status, _, reply = raw(fake, "autoscaling", body,
                           {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
    assert b"InstanceMaintenancePolicy" not in reply
