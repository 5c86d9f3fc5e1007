"""Tests of tests/fakeaws, with botocore as the independent client.

Run: /usr/bin/python3 -m pytest tests/integration/test_fakeaws.py

Every reply is parsed by botocore's own parsers (through its clients, or
directly for raw requests), which proves the reply shapes; every request is
signed by botocore, which proves the fake's SigV4 verification accepts a
correct signer (and the tampering tests prove it refuses the rest).

One fake process serves the whole module; each test starts from a reset
world. Time-driven behaviour (attach delays, token and credential expiry)
is driven by moving the fake's clock forward, not by sleeping.
"""

import http.client
import json
import os
import sys
import time
import urllib.parse
from email.utils import parsedate_to_datetime
from xml.etree import ElementTree as ET

import botocore.parsers
import botocore.session
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest, HeadersDict
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from botocore.parsers import ResponseParserError

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fakeaws"))

from client import ACCESS_KEY, SECRET_KEY, FakeAws  # noqa: E402

INSTANCE = "i-0123456789abcdef0"
PREDECESSOR = "i-0fedcba9876543210"
VOLUME = "vol-0123456789abcdef0"
ENI = "eni-0123456789abcdef0"
SUBNET = "subnet-0123456789abcdef0"
ZONE = "Z0123456789ABCDEFGHIJ"
ZONE_NAME = "cluster.internal."
ROLE = "nodeagent-role"

_session = botocore.session.get_session()


# -- fixtures -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def fake_process():
    fake = FakeAws().start()
    yield fake
    assert fake.stop() == 0  # SIGTERM is a clean exit.


@pytest.fixture
def fake(fake_process):
    fake_process.reset()
    return fake_process


@pytest.fixture
def ec2(fake):
    return fake.botocore_client("ec2")


@pytest.fixture
def r53(fake):
    return fake.botocore_client("route53")


# -- helpers -----------------------------------------------------------------------------

def error_of(call, *args, **kwargs):
    """Run a botocore call that must fail; return (code, HTTP status, message)."""
    with pytest.raises(ClientError) as info:
        call(*args, **kwargs)
    err = info.value.response
    return err["Error"]["Code"], err["ResponseMetadata"]["HTTPStatusCode"], err["Error"].get("Message", "")


def advance(fake, seconds):
    """Move the fake's clock forward (it only ever moves by the skew)."""
    fake.clock_skew(fake.clock()["skew"] + seconds)


def sign(fake, method, path, body=b"", service="ec2", headers=None, access_key=ACCESS_KEY,
         secret_key=SECRET_KEY, token=None, region="us-east-1"):
    """A request signed by botocore's SigV4Auth: (method, path, headers, body)."""
    hdrs = {"Host": f"{fake.host}:{fake.port}"}
    if method == "POST" and service != "route53":
        hdrs["Content-Type"] = "application/x-www-form-urlencoded; charset=utf-8"
    hdrs.update(headers or {})
    request = AWSRequest(method=method, url=fake.url + path, data=body, headers=hdrs)
    SigV4Auth(Credentials(access_key, secret_key, token), service, region).add_auth(request)
    return method, path, dict(request.headers.items()), body


def send(fake, method, path, headers, body, conn=None):
    own = conn is None
    conn = conn or http.client.HTTPConnection(fake.host, fake.port, timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
        return resp.status, HeadersDict(resp.getheaders()), resp.read()
    finally:
        if own:
            conn.close()


def query_body(action, version="2016-11-15", **params):
    return urllib.parse.urlencode(dict({"Action": action, "Version": version}, **params)).encode()


def parse(service, action, status, headers, body):
    """Parse a raw reply with botocore's parser for the service's protocol."""
    model = _session.get_service_model(service)
    parser = botocore.parsers.create_parser(model.metadata["protocol"])
    # An error reply needs no output shape; an unknown action has none.
    op = model.operation_model(action if action in model.operation_names else "DescribeVolumes")
    return parser.parse({"status_code": status, "headers": headers, "body": body}, op.output_shape)


def raw_ec2(fake, action, **params):
    status, headers, body = send(fake, *sign(fake, "POST", "/", query_body(action, **params)))
    return status, parse("ec2", action, status, headers, body)


# -- SigV4 -------------------------------------------------------------------------------

def test_botocore_signed_request_passes_and_one_byte_change_fails(fake):
    method, path, headers, body = sign(fake, "POST", "/", query_body("DescribeVolumes"))
    status, rh, rb = send(fake, method, path, headers, body)
    assert status == 200
    assert parse("ec2", "DescribeVolumes", status, rh, rb)["Volumes"][0]["VolumeId"] == VOLUME

    tampered = body.replace(b"DescribeVolumes", b"DescribeVolumeS")
    assert len(tampered) == len(body) and tampered != body
    status, rh, rb = send(fake, method, path, headers, tampered)
    assert status == 401
    assert parse("ec2", "DescribeVolumes", status, rh, rb)["Error"]["Code"] == "AuthFailure"

    # A signed header changed by one byte fails too.
    method, path, headers, body = sign(fake, "POST", "/", query_body("DescribeVolumes"), headers={"X-Custom": "a"})
    headers["X-Custom"] = "b"
    assert send(fake, method, path, headers, body)[0] == 401


def test_route53_tampered_path_reports_canonical_request(fake):
    method, path, headers, body = sign(fake, "GET", f"/2013-04-01/hostedzone/{ZONE}/rrset", service="route53")
    assert send(fake, method, path, headers, body)[0] == 200
    status, rh, rb = send(fake, method, path + "?maxitems=1", headers, body)
    err = parse("route53", "ListResourceRecordSets", status, rh, rb)["Error"]
    assert (status, err["Code"]) == (403, "SignatureDoesNotMatch")
    assert "The Canonical String for this request should have been" in err["Message"]


def test_unknown_key_and_wrong_secret(fake):
    bad_key = fake.botocore_client("ec2", access_key="AKIDUNKNOWN000000000")
    assert error_of(bad_key.describe_volumes)[:2] == ("AuthFailure", 401)
    bad_key53 = fake.botocore_client("route53", access_key="AKIDUNKNOWN000000000")
    assert error_of(bad_key53.get_change, Id="C1")[:2] == ("InvalidClientTokenId", 403)
    bad_secret = fake.botocore_client("ec2", secret_key="wrong")
    assert error_of(bad_secret.describe_volumes)[:2] == ("AuthFailure", 401)
    bad_secret53 = fake.botocore_client("route53", secret_key="wrong")
    assert error_of(bad_secret53.get_change, Id="C1")[:2] == ("SignatureDoesNotMatch", 403)


def test_session_token_rules(fake):
    fake.merge_state({"keys": {
        "ASIATEMPORARY0000001": {"secret": "s1", "token": "tok1", "expiration": time.time() + 3600},
        "ASIAEXPIRED000000001": {"secret": "s2", "token": "tok2", "expiration": time.time() - 10},
    }})
    good = fake.botocore_client("ec2", "ASIATEMPORARY0000001", "s1", token="tok1")
    assert good.describe_volumes()["Volumes"]
    no_token = fake.botocore_client("ec2", "ASIATEMPORARY0000001", "s1")
    assert error_of(no_token.describe_volumes)[:2] == ("AuthFailure", 401)
    wrong_token = fake.botocore_client("route53", "ASIATEMPORARY0000001", "s1", token="nope")
    assert error_of(wrong_token.get_change, Id="C1")[:2] == ("InvalidClientTokenId", 403)
    expired = fake.botocore_client("ec2", "ASIAEXPIRED000000001", "s2", token="tok2")
    assert error_of(expired.describe_volumes)[:2] == ("ExpiredToken", 400)
    expired53 = fake.botocore_client("route53", "ASIAEXPIRED000000001", "s2", token="tok2")
    assert error_of(expired53.get_change, Id="C1")[:2] == ("ExpiredToken", 403)


def test_clock_skew_and_date_header(fake, ec2, r53):
    fake.clock_skew(600)
    with pytest.raises(ClientError) as info:
        ec2.describe_volumes()
    resp = info.value.response
    assert (resp["Error"]["Code"], resp["ResponseMetadata"]["HTTPStatusCode"]) == ("RequestExpired", 400)
    served = parsedate_to_datetime(resp["ResponseMetadata"]["HTTPHeaders"]["date"]).timestamp()
    assert abs(served - (time.time() + 600)) < 5
    code, status, message = error_of(r53.get_change, Id="C1")
    assert (code, status) == ("SignatureDoesNotMatch", 403) and message.startswith("Signature expired")
    fake.clock_skew(-600)
    code, status, message = error_of(r53.get_change, Id="C1")
    assert code == "SignatureDoesNotMatch" and message.startswith("Signature not yet current")
    fake.clock_skew(200)  # Within 5 minutes: accepted.
    assert ec2.describe_volumes()["Volumes"]


def test_missing_authorization_and_wrong_scope(fake):
    status, headers, body = send(fake, "POST", "/", {"Content-Type": "application/x-www-form-urlencoded"},
                                 query_body("DescribeVolumes"))
    assert (status, parse("ec2", "DescribeVolumes", status, headers, body)["Error"]["Code"]) == (401, "AuthFailure")
    status, headers, body = send(fake, "GET", f"/2013-04-01/hostedzone/{ZONE}/rrset", {}, b"")
    assert (status, parse("route53", "ListResourceRecordSets", status, headers, body)["Error"]["Code"]) == \
        (403, "MissingAuthenticationToken")
    eu = fake.botocore_client("ec2", region="eu-west-1")
    assert error_of(eu.describe_volumes)[:2] == ("AuthFailure", 401)


def test_query_services_signed_and_recorded(fake):
    asg = fake.botocore_client("autoscaling")
    cfn = fake.botocore_client("cloudformation")
    asg.complete_lifecycle_action(AutoScalingGroupName="kafka-1-asg", LifecycleHookName="boot",
                                  LifecycleActionResult="CONTINUE", InstanceId=INSTANCE)
    asg.record_lifecycle_action_heartbeat(AutoScalingGroupName="kafka-1-asg", LifecycleHookName="boot",
                                          InstanceId=INSTANCE)
    cfn.signal_resource(StackName="kafka", LogicalResourceId="Node1", UniqueId=INSTANCE, Status="SUCCESS")
    groups = asg.describe_auto_scaling_instances(InstanceIds=[INSTANCE])["AutoScalingInstances"]
    assert groups[0]["AutoScalingGroupName"] == "kafka-1-asg"
    state = fake.state()
    assert [a["call"] for a in state["autoscaling"]["lifecycle_actions"]] == \
        ["CompleteLifecycleAction", "RecordLifecycleActionHeartbeat"]
    assert state["cloudformation"]["signals"][0]["status"] == "SUCCESS"
    assert error_of(cfn.signal_resource, StackName="kafka", LogicalResourceId="Node1", UniqueId="x",
                    Status="MAYBE")[:2] == ("ValidationError", 400)
    bad = fake.botocore_client("autoscaling", secret_key="wrong")
    assert error_of(bad.describe_auto_scaling_instances)[:2] == ("SignatureDoesNotMatch", 403)


# -- EC2: volumes ---------------------------------------------------------------------

def test_describe_volumes_by_id_and_filters(fake, ec2):
    def ids(**kw):
        return [v["VolumeId"] for v in ec2.describe_volumes(**kw)["Volumes"]]
    assert ids(VolumeIds=[VOLUME]) == [VOLUME]
    assert ids(Filters=[{"Name": "tag:Name", "Values": ["kafka-1-data"]}]) == [VOLUME]
    assert ids(Filters=[{"Name": "tag:Cluster", "Values": ["kaf*"]},
                        {"Name": "availability-zone", "Values": ["us-east-1a"]}]) == [VOLUME]
    assert ids(Filters=[{"Name": "availability-zone", "Values": ["us-east-1b"]}]) == []
    assert ids(Filters=[{"Name": "status", "Values": ["in-use"]}]) == []
    assert ids(Filters=[{"Name": "tag-key", "Values": ["Cluster"]}]) == [VOLUME]
    vol = ec2.describe_volumes(VolumeIds=[VOLUME])["Volumes"][0]
    assert (vol["Size"], vol["State"], vol["AvailabilityZone"]) == (10, "available", "us-east-1a")
    assert {"Key": "Name", "Value": "kafka-1-data"} in vol["Tags"]
    assert error_of(ec2.describe_volumes, VolumeIds=["vol-0123456789abcdef9"])[:2] == ("InvalidVolume.NotFound", 400)
    assert error_of(ec2.describe_volumes, VolumeIds=["vol-nope"])[0] == "InvalidVolumeID.Malformed"
    assert error_of(ec2.describe_volumes, Filters=[{"Name": "colour", "Values": ["x"]}])[0] == "InvalidParameterValue"


def test_describe_volumes_pagination(fake, ec2):
    extra = {f"vol-00000000000000{i:03d}": {"size": 1, "availability_zone": "us-east-1a", "tags": {},
                                            "attachments": []} for i in range(6)}
    fake.merge_state({"volumes": extra})
    first = ec2.describe_volumes(MaxResults=5)
    assert len(first["Volumes"]) == 5 and first["NextToken"]
    second = ec2.describe_volumes(MaxResults=5, NextToken=first["NextToken"])
    assert len(second["Volumes"]) == 2 and "NextToken" not in second


def test_attach_and_detach_volume_with_delays(fake, ec2):
    fake.merge_state({"delays": {"volume_attach": 5, "volume_detach": 5}})
    att = ec2.attach_volume(VolumeId=VOLUME, InstanceId=INSTANCE, Device="/dev/sdf")
    assert (att["State"], att["Device"], att["InstanceId"]) == ("attaching", "/dev/sdf", INSTANCE)
    vol = ec2.describe_volumes(Filters=[{"Name": "attachment.instance-id", "Values": [INSTANCE]}])["Volumes"][0]
    assert (vol["State"], vol["Attachments"][0]["State"]) == ("in-use", "attaching")
    advance(fake, 6)
    vol = ec2.describe_volumes(VolumeIds=[VOLUME])["Volumes"][0]
    assert vol["Attachments"][0]["State"] == "attached"
    inst = ec2.describe_instances(InstanceIds=[INSTANCE])["Reservations"][0]["Instances"][0]
    assert inst["BlockDeviceMappings"][0]["Ebs"]["VolumeId"] == VOLUME

    det = ec2.detach_volume(VolumeId=VOLUME, InstanceId=INSTANCE)
    assert det["State"] == "detaching"
    assert ec2.describe_volumes(VolumeIds=[VOLUME])["Volumes"][0]["Attachments"][0]["State"] == "detaching"
    advance(fake, 6)
    vol = ec2.describe_volumes(VolumeIds=[VOLUME])["Volumes"][0]
    assert (vol["State"], vol["Attachments"]) == ("available", [])


def test_stuck_attach_with_negative_delay(fake, ec2):
    fake.merge_state({"delays": {"volume_attach": -1}})
    ec2.attach_volume(VolumeId=VOLUME, InstanceId=INSTANCE, Device="/dev/sdf")
    advance(fake, 250)  # Far beyond any delay, still inside the 5-minute signing window.
    assert ec2.describe_volumes(VolumeIds=[VOLUME])["Volumes"][0]["Attachments"][0]["State"] == "attaching"


def test_attach_volume_errors(fake, ec2):
    fake.merge_state({"volumes": {
        "vol-0000000000000000b": {"size": 5, "availability_zone": "us-east-1b", "tags": {}, "attachments": []},
        "vol-0000000000000000c": {"size": 5, "availability_zone": "us-east-1a", "tags": {}, "attachments": []},
    }})
    attach = ec2.attach_volume
    assert error_of(attach, VolumeId="vol-0000000000000000b", InstanceId=INSTANCE, Device="/dev/sdg")[:2] == \
        ("InvalidVolume.ZoneMismatch", 400)
    assert error_of(attach, VolumeId=VOLUME, InstanceId=PREDECESSOR, Device="/dev/sdf")[0] == "IncorrectState"
    assert error_of(attach, VolumeId=VOLUME, InstanceId="i-0000000000000dead", Device="/dev/sdf")[0] == \
        "InvalidInstanceID.NotFound"
    assert error_of(attach, VolumeId="vol-000000000000dead0", InstanceId=INSTANCE, Device="/dev/sdf")[0] == \
        "InvalidVolume.NotFound"
    assert error_of(attach, VolumeId=VOLUME, InstanceId=INSTANCE, Device="sdf")[0] == "InvalidParameterValue"
    attach(VolumeId=VOLUME, InstanceId=INSTANCE, Device="/dev/sdf")
    code, status, message = error_of(attach, VolumeId=VOLUME, InstanceId=INSTANCE, Device="/dev/sdf")
    assert (code, status) == ("VolumeInUse", 400) and VOLUME in message
    code, _, message = error_of(attach, VolumeId="vol-0000000000000000c", InstanceId=INSTANCE, Device="/dev/sdf")
    assert code == "InvalidParameterValue" and "already in use" in message


def test_detach_volume_errors_and_force_from_dead_holder(fake, ec2):
    assert error_of(ec2.detach_volume, VolumeId=VOLUME)[0] == "IncorrectState"
    fake.merge_state({"volumes": {VOLUME: {"attachments": [{
        "instance_id": PREDECESSOR, "device": "/dev/sdf", "status": "attached", "attach_time": 1703980800,
        "delete_on_termination": False, "transition_at": None}]}}})
    assert error_of(ec2.detach_volume, VolumeId=VOLUME, InstanceId=INSTANCE)[0] == "InvalidAttachment.NotFound"
    holder = ec2.describe_instances(InstanceIds=[PREDECESSOR])["Reservations"][0]["Instances"][0]["State"]
    assert holder == {"Code": 48, "Name": "terminated"}
    assert ec2.detach_volume(VolumeId=VOLUME, Force=True)["State"] == "detaching"
    assert ec2.describe_volumes(VolumeIds=[VOLUME])["Volumes"][0]["State"] == "available"


def test_dry_run_and_unauthorized(fake, ec2):
    code, status, message = error_of(ec2.attach_volume, VolumeId=VOLUME, InstanceId=INSTANCE,
                                     Device="/dev/sdf", DryRun=True)
    assert (code, status, message) == ("DryRunOperation", 412, "Request would have succeeded, but DryRun flag is set.")
    assert ec2.describe_volumes(VolumeIds=[VOLUME])["Volumes"][0]["State"] == "available"
    assert error_of(ec2.describe_instances, DryRun=True)[0] == "DryRunOperation"

    fake.merge_state({"deny": [{"principal": "nodeagent-test", "action": "ec2:AttachVolume"}]})
    for dry in (True, False):
        assert error_of(ec2.attach_volume, VolumeId=VOLUME, InstanceId=INSTANCE, Device="/dev/sdf",
                        DryRun=dry)[:2] == ("UnauthorizedOperation", 403)
    assert error_of(ec2.describe_volumes, DryRun=True)[0] == "DryRunOperation"


# -- EC2: network interfaces, subnets, instances, tags -------------------------------

def test_network_interface_attach_detach(fake, ec2):
    fake.merge_state({"delays": {"eni_attach": 2, "eni_detach": 2}})
    enis = ec2.describe_network_interfaces(Filters=[{"Name": "tag:Name", "Values": ["kafka-1-eni"]},
                                                    {"Name": "availability-zone", "Values": ["us-east-1a"]}])
    eni = enis["NetworkInterfaces"][0]
    assert (eni["NetworkInterfaceId"], eni["Status"], eni["PrivateIpAddress"], eni["MacAddress"]) == \
        (ENI, "available", "10.0.1.10", "02:00:00:00:01:10")
    assert eni["PrivateIpAddresses"][0] == {"Primary": True, "PrivateIpAddress": "10.0.1.10",
                                            "PrivateDnsName": "ip-10-0-1-10.ec2.internal"}
    assert "Attachment" not in eni

    attachment_id = ec2.attach_network_interface(NetworkInterfaceId=ENI, InstanceId=INSTANCE,
                                                 DeviceIndex=1)["AttachmentId"]
    assert attachment_id.startswith("eni-attach-")
    eni = ec2.describe_network_interfaces(NetworkInterfaceIds=[ENI])["NetworkInterfaces"][0]
    assert eni["Attachment"]["Status"] == "attaching" and eni["Attachment"]["DeviceIndex"] == 1
    advance(fake, 3)
    mine = ec2.describe_network_interfaces(Filters=[{"Name": "attachment.instance-id", "Values": [INSTANCE]}])
    assert {e["NetworkInterfaceId"] for e in mine["NetworkInterfaces"]} == {"eni-0aaaaaaaaaaaaaaa0", ENI}
    eni = ec2.describe_network_interfaces(NetworkInterfaceIds=[ENI])["NetworkInterfaces"][0]
    assert (eni["Status"], eni["Attachment"]["Status"], eni["Attachment"]["InstanceId"]) == \
        ("in-use", "attached", INSTANCE)
    assert error_of(ec2.attach_network_interface, NetworkInterfaceId=ENI, InstanceId=INSTANCE,
                    DeviceIndex=2)[0] == "InvalidNetworkInterface.InUse"

    ec2.detach_network_interface(AttachmentId=attachment_id)
    eni = ec2.describe_network_interfaces(NetworkInterfaceIds=[ENI])["NetworkInterfaces"][0]
    assert eni["Attachment"]["Status"] == "detaching"
    advance(fake, 3)
    eni = ec2.describe_network_interfaces(NetworkInterfaceIds=[ENI])["NetworkInterfaces"][0]
    assert eni["Status"] == "available" and "Attachment" not in eni
    assert error_of(ec2.detach_network_interface, AttachmentId=attachment_id)[:2] == \
        ("InvalidAttachmentID.NotFound", 400)


def test_network_interface_errors(fake, ec2):
    fake.merge_state({"network_interfaces": {"eni-0000000000000000b": {
        "subnet_id": SUBNET, "vpc_id": "vpc-0123456789abcdef0", "availability_zone": "us-east-1b",
        "mac_address": "02:00:00:00:02:20", "private_ip_address": "10.0.2.20", "tags": {}, "attachment": None}}})
    assert error_of(ec2.attach_network_interface, NetworkInterfaceId="eni-0000000000000000b",
                    InstanceId=INSTANCE, DeviceIndex=1)[0] == "InvalidParameterCombination"
    assert error_of(ec2.attach_network_interface, NetworkInterfaceId=ENI, InstanceId=INSTANCE,
                    DeviceIndex=0)[0] == "InvalidParameterValue"
    assert error_of(ec2.describe_network_interfaces, NetworkInterfaceIds=["eni-000000000000dead0"])[0] == \
        "InvalidNetworkInterfaceID.NotFound"
    assert error_of(ec2.attach_network_interface, NetworkInterfaceId=ENI, InstanceId=PREDECESSOR,
                    DeviceIndex=1)[0] == "IncorrectInstanceState"
    assert error_of(ec2.detach_network_interface, AttachmentId="eni-attach-0aaaaaaaaaaaaaaa0")[0] == \
        "OperationNotPermitted"


def test_describe_subnets_and_instances(fake, ec2):
    sub = ec2.describe_subnets(SubnetIds=[SUBNET])["Subnets"][0]
    assert (sub["CidrBlock"], sub["AvailabilityZone"], sub["VpcId"]) == ("10.0.1.0/24", "us-east-1a",
                                                                        "vpc-0123456789abcdef0")
    assert error_of(ec2.describe_subnets, SubnetIds=["subnet-000000000000dead0"])[0] == "InvalidSubnetID.NotFound"
    res = ec2.describe_instances(InstanceIds=[INSTANCE, PREDECESSOR])["Reservations"]
    by_id = {r["Instances"][0]["InstanceId"]: r["Instances"][0] for r in res}
    me = by_id[INSTANCE]
    assert me["State"] == {"Code": 16, "Name": "running"}
    assert me["Placement"]["AvailabilityZone"] == "us-east-1a" and me["PrivateIpAddress"] == "10.0.1.5"
    assert {"Key": "aws:autoscaling:groupName", "Value": "kafka-1-asg"} in me["Tags"]
    assert by_id[PREDECESSOR]["State"]["Name"] == "terminated"
    running = ec2.describe_instances(Filters=[{"Name": "instance-state-name", "Values": ["running"]}])
    assert [r["Instances"][0]["InstanceId"] for r in running["Reservations"]] == [INSTANCE]
    code, _, message = error_of(ec2.describe_instances, InstanceIds=["i-0000000000000dead"])
    assert code == "InvalidInstanceID.NotFound" and "i-0000000000000dead" in message


def test_create_tags(fake, ec2):
    ec2.create_tags(Resources=[VOLUME, ENI], Tags=[{"Key": "nodeagent:initialized", "Value": "2024"}])
    assert {"Key": "nodeagent:initialized", "Value": "2024"} in \
        ec2.describe_volumes(VolumeIds=[VOLUME])["Volumes"][0]["Tags"]
    assert ec2.describe_volumes(Filters=[{"Name": "tag-key", "Values": ["nodeagent:initialized"]}])["Volumes"]
    # All or nothing: one unknown resource and nothing is tagged.
    assert error_of(ec2.create_tags, Resources=[VOLUME, "vol-000000000000dead0"],
                    Tags=[{"Key": "x", "Value": "y"}])[0] == "InvalidVolume.NotFound"
    assert "x" not in {t["Key"] for t in ec2.describe_volumes(VolumeIds=[VOLUME])["Volumes"][0]["Tags"]}
    assert error_of(ec2.create_tags, Resources=[VOLUME], Tags=[{"Key": "aws:x", "Value": "y"}])[0] == \
        "InvalidParameterValue"
    assert error_of(ec2.create_tags, Resources=["i-0000000000000dead"], Tags=[{"Key": "a", "Value": "b"}])[0] == \
        "InvalidInstanceID.NotFound"


def test_query_protocol_parameter_errors(fake):
    status, parsed = raw_ec2(fake, "AttachVolume", VolumeId=VOLUME, InstanceId=INSTANCE)
    assert (status, parsed["Error"]["Code"]) == (400, "MissingParameter")
    assert "Device" in parsed["Error"]["Message"]
    status, parsed = raw_ec2(fake, "LaunchMissiles")
    assert parsed["Error"]["Code"] == "InvalidAction"
    status, parsed = raw_ec2(fake, "DescribeVolumes", Colour="blue")
    assert parsed["Error"]["Code"] == "UnknownParameter"
    status, parsed = raw_ec2(fake, "DescribeVolumes", DryRun="maybe")
    assert parsed["Error"]["Code"] == "InvalidParameterValue"
    status, parsed = raw_ec2(fake, "AttachNetworkInterface", NetworkInterfaceId=ENI, InstanceId=INSTANCE,
                             DeviceIndex="one")
    assert parsed["Error"]["Code"] == "InvalidParameterValue"
    # EC2 errors carry the request id where botocore finds it.
    assert parsed["ResponseMetadata"]["RequestId"]


# -- Route 53 -------------------------------------------------------------------------

def _rrset(name, value, rtype="A", ttl=60, set_id=None):
    rr = {"Name": name, "Type": rtype, "TTL": ttl, "ResourceRecords": [{"Value": v} for v in value.split(",")]}
    if set_id:
        rr.update(SetIdentifier=set_id, MultiValueAnswer=True)
    return rr


def _change(r53, *changes):
    return r53.change_resource_record_sets(HostedZoneId=ZONE, ChangeBatch={
        "Changes": [{"Action": action, "ResourceRecordSet": rr} for action, rr in changes]})


def _populate(r53):
    _change(r53,
            ("CREATE", _rrset("kafka-2.cluster.internal", "10.0.1.12")),
            ("CREATE", _rrset("a.cluster.internal", "10.0.1.1")),
            ("CREATE", _rrset("x.a.cluster.internal", "10.0.1.2")),
            ("CREATE", _rrset("a-b.cluster.internal", "10.0.1.3")),
            ("CREATE", _rrset("b.cluster.internal", "10.0.1.4")),
            ("CREATE", _rrset("kafka-1.cluster.internal", "10.0.1.10")),
            ("CREATE", _rrset("kafka-1.cluster.internal", '"node=kafka-1"', rtype="TXT")),
            ("CREATE", _rrset("shared.cluster.internal", "10.0.1.21", set_id="node-2")),
            ("CREATE", _rrset("shared.cluster.internal", "10.0.1.20", set_id="node-1")))


# Route 53's order: name with labels reversed as a string ending in "." (so
# "a-b" sorts before "a": '-' < '.'), then type, then SetIdentifier.
EXPECTED_ORDER = [
    ("cluster.internal.", "NS", None), ("cluster.internal.", "SOA", None),
    ("a-b.cluster.internal.", "A", None), ("a.cluster.internal.", "A", None),
    ("x.a.cluster.internal.", "A", None), ("b.cluster.internal.", "A", None),
    ("kafka-1.cluster.internal.", "A", None), ("kafka-1.cluster.internal.", "TXT", None),
    ("kafka-2.cluster.internal.", "A", None),
    ("shared.cluster.internal.", "A", "node-1"), ("shared.cluster.internal.", "A", "node-2"),
]


def _keys(sets):
    return [(s["Name"], s["Type"], s.get("SetIdentifier")) for s in sets]


def test_list_resource_record_sets_order_and_start(fake, r53):
    _populate(r53)
    listing = r53.list_resource_record_sets(HostedZoneId=ZONE)
    assert _keys(listing["ResourceRecordSets"]) == EXPECTED_ORDER and listing["IsTruncated"] is False
    # Starting at a name that does not exist answers from the next one on
    # ("internal.cluster.kafka-1x." sorts between kafka-1 and kafka-2).
    got = r53.list_resource_record_sets(HostedZoneId=ZONE, StartRecordName="kafka-1x.cluster.internal",
                                        MaxItems="1")
    assert _keys(got["ResourceRecordSets"]) == [("kafka-2.cluster.internal.", "A", None)]
    got = r53.list_resource_record_sets(HostedZoneId=ZONE, StartRecordName="KAFKA-1.cluster.internal.",
                                        StartRecordType="TXT", MaxItems="2")
    assert _keys(got["ResourceRecordSets"]) == EXPECTED_ORDER[7:9]
    assert (got["IsTruncated"], got["NextRecordName"], got["NextRecordType"]) == \
        (True, "shared.cluster.internal.", "A")
    assert got["NextRecordIdentifier"] == "node-1"
    # Paging by Next* walks the whole zone once.
    seen, kw = [], {}
    while True:
        page = r53.list_resource_record_sets(HostedZoneId=ZONE, MaxItems="3", **kw)
        seen += _keys(page["ResourceRecordSets"])
        if not page["IsTruncated"]:
            break
        kw = {"StartRecordName": page["NextRecordName"], "StartRecordType": page["NextRecordType"]}
        if "NextRecordIdentifier" in page:
            kw["StartRecordIdentifier"] = page["NextRecordIdentifier"]
    assert seen == EXPECTED_ORDER


def test_list_resource_record_sets_errors(fake, r53):
    assert error_of(r53.list_resource_record_sets, HostedZoneId="Z000000000000000NONE")[:2] == \
        ("NoSuchHostedZone", 404)
    method, path, headers, body = sign(fake, "GET", f"/2013-04-01/hostedzone/{ZONE}/rrset?type=A", service="route53")
    status, rh, rb = send(fake, method, path, headers, body)
    assert (status, parse("route53", "ListResourceRecordSets", status, rh, rb)["Error"]["Code"]) == (400, "InvalidInput")


def test_hosted_zone_id_with_prefix_in_path(fake):
    for zone_part in (urllib.parse.quote(f"/hostedzone/{ZONE}", safe=""), f"/hostedzone/{ZONE}"):
        method, path, headers, body = sign(fake, "GET", f"/2013-04-01/hostedzone/{zone_part}/rrset", service="route53")
        status, rh, rb = send(fake, method, path, headers, body)
        assert status == 200, rb
        assert parse("route53", "ListResourceRecordSets", status, rh, rb)["ResourceRecordSets"]


def test_change_resource_record_sets_and_get_change(fake, r53):
    fake.merge_state({"delays": {"route53_change": 30}})
    info = _change(r53, ("UPSERT", _rrset("kafka-1.cluster.internal.", "10.0.1.10")))["ChangeInfo"]
    assert info["Status"] == "PENDING" and info["Id"].startswith("/change/C")
    assert r53.get_change(Id=info["Id"])["ChangeInfo"]["Status"] == "PENDING"
    advance(fake, 31)
    assert r53.get_change(Id=info["Id"])["ChangeInfo"]["Status"] == "INSYNC"
    assert error_of(r53.get_change, Id="CNOSUCHCHANGE")[:2] == ("NoSuchChange", 404)

    # UPSERT replaces; DELETE must match exactly.
    _change(r53, ("UPSERT", _rrset("kafka-1.cluster.internal.", "10.0.1.11", ttl=30)))
    got = r53.list_resource_record_sets(HostedZoneId=ZONE, StartRecordName="kafka-1.cluster.internal",
                                        StartRecordType="A", MaxItems="1")["ResourceRecordSets"][0]
    assert (got["TTL"], got["ResourceRecords"]) == (30, [{"Value": "10.0.1.11"}])
    code, status, message = error_of(_change, r53, ("DELETE", _rrset("kafka-1.cluster.internal.", "10.0.1.11")))
    assert (code, status) == ("InvalidChangeBatch", 400) and "do not match the current values" in message
    _change(r53, ("DELETE", _rrset("kafka-1.cluster.internal.", "10.0.1.11", ttl=30)))
    code, _, message = error_of(_change, r53, ("DELETE", _rrset("kafka-1.cluster.internal.", "10.0.1.11", ttl=30)))
    assert code == "InvalidChangeBatch" and "but it was not found" in message


def test_change_batch_errors_are_all_or_nothing(fake, r53):
    _change(r53, ("CREATE", _rrset("kafka-1.cluster.internal", "10.0.1.10")))
    code, status, message = error_of(_change, r53,
                                     ("CREATE", _rrset("kafka-9.cluster.internal", "10.0.1.19")),
                                     ("CREATE", _rrset("kafka-1.cluster.internal", "10.0.1.10")))
    assert (code, status) == ("InvalidChangeBatch", 400)
    assert "Tried to create resource record set [name='kafka-1.cluster.internal.', type='A'] but it already exists" \
        in message
    names = [s["Name"] for s in r53.list_resource_record_sets(HostedZoneId=ZONE)["ResourceRecordSets"]]
    assert "kafka-9.cluster.internal." not in names
    assert error_of(_change, r53, ("UPSERT", _rrset("k.cluster.internal", "10.0.1.1")),
                    ("UPSERT", _rrset("k.cluster.internal", "10.0.1.2")))[0] == "InvalidChangeBatch"
    assert error_of(_change, r53, ("CREATE", _rrset("kafka-1.elsewhere.", "10.0.1.1")))[0] == "InvalidChangeBatch"
    assert error_of(_change, r53, ("CREATE", _rrset("bad.cluster.internal", "10.0.1.300")))[0] == "InvalidChangeBatch"
    # A simple set and a multivalue set cannot share a name and type.
    assert error_of(_change, r53, ("CREATE", _rrset("kafka-1.cluster.internal", "10.0.1.9", set_id="n9")))[0] == \
        "InvalidChangeBatch"
    bad = {"Name": "m.cluster.internal", "Type": "A", "TTL": 60, "ResourceRecords": [{"Value": "10.0.0.1"}],
           "MultiValueAnswer": True}
    assert error_of(_change, r53, ("CREATE", bad))[0] == "InvalidInput"
    assert error_of(r53.change_resource_record_sets, HostedZoneId="Z000000000000000NONE", ChangeBatch={
        "Changes": [{"Action": "CREATE", "ResourceRecordSet": _rrset("a.cluster.internal", "10.0.0.1")}]})[:2] == \
        ("NoSuchHostedZone", 404)


def test_shared_mode_delete_and_create_in_one_batch(fake, r53):
    _change(r53, ("CREATE", _rrset("kafka.cluster.internal", "10.0.1.10,10.0.1.11")))
    _change(r53, ("DELETE", _rrset("kafka.cluster.internal", "10.0.1.11,10.0.1.10")),
            ("CREATE", _rrset("kafka.cluster.internal", "10.0.1.10,10.0.1.11,10.0.1.12")))
    got = r53.list_resource_record_sets(HostedZoneId=ZONE, StartRecordName="kafka.cluster.internal",
                                        StartRecordType="A", MaxItems="1")["ResourceRecordSets"][0]
    assert len(got["ResourceRecords"]) == 3


def test_route53_throttling_faults_and_rate_limit(fake, r53):
    fake.fault(service="route53", action="ChangeResourceRecordSets", kind="throttle")
    fake.fault(service="route53", action="ChangeResourceRecordSets", kind="throttle", code="PriorRequestNotComplete")
    code, status, message = error_of(_change, r53, ("UPSERT", _rrset("k.cluster.internal", "10.0.0.1")))
    assert (code, status, message) == ("Throttling", 400, "Rate exceeded")
    assert error_of(_change, r53, ("UPSERT", _rrset("k.cluster.internal", "10.0.0.1")))[:2] == \
        ("PriorRequestNotComplete", 400)
    _change(r53, ("UPSERT", _rrset("k.cluster.internal", "10.0.0.1")))

    fake.merge_state({"rate_limits": {"route53": {"rate": 0.5, "burst": 2}}})
    r53.get_change(Id=fake.state()["changes"].popitem()[1]["Id"])
    r53.list_resource_record_sets(HostedZoneId=ZONE)
    assert error_of(r53.list_resource_record_sets, HostedZoneId=ZONE)[:2] == ("Throttling", 400)

    fake.merge_state({"rate_limits": None, "deny": [{"principal": "*", "action": "route53:ChangeResourceRecordSets"}]})
    assert error_of(_change, r53, ("UPSERT", _rrset("k.cluster.internal", "10.0.0.1")))[:2] == ("AccessDenied", 403)


# -- IMDS ---------------------------------------------------------------------------------

def test_imds_token_rules(fake):
    assert fake.http("PUT", "/latest/api/token")[0] == 400
    for ttl in ("0", "21601", "x"):
        assert fake.http("PUT", "/latest/api/token", headers={"X-aws-ec2-metadata-token-ttl-seconds": ttl})[0] == 400
    assert fake.http("PUT", "/latest/api/token", headers={"X-aws-ec2-metadata-token-ttl-seconds": "60",
                                                          "X-Forwarded-For": "10.0.0.1"})[0] == 403
    assert fake.http("GET", "/latest/meta-data/instance-id")[0] == 401
    assert fake.http("GET", "/latest/meta-data/instance-id", headers={"X-aws-ec2-metadata-token": "bogus"})[0] == 401
    token = fake.imds_token(ttl=60)
    assert fake.imds_get("meta-data/instance-id", token) == (200, INSTANCE)
    advance(fake, 61)  # The token's TTL runs on the fake's clock.
    assert fake.imds_get("meta-data/instance-id", token)[0] == 401
    token = fake.imds_token()
    fake.imds(expire_tokens=True)
    assert fake.imds_get("meta-data/instance-id", token)[0] == 401
    fake.imds(disabled=True)
    assert fake.http("PUT", "/latest/api/token", headers={"X-aws-ec2-metadata-token-ttl-seconds": "60"})[0] == 403
    fake.imds(disabled=False)
    assert fake.imds_get("meta-data/instance-id")[0] == 200


def test_imds_metadata_paths(fake, ec2):
    token = fake.imds_token()

    def get(path):
        return fake.imds_get(path, token)

    assert get("meta-data/placement/availability-zone") == (200, "us-east-1a")
    assert get("meta-data/placement/region") == (200, "us-east-1")
    assert get("meta-data/mac") == (200, "02:00:00:00:01:05")
    assert get("meta-data/local-ipv4") == (200, "10.0.1.5")
    assert "placement/" in get("meta-data/")[1].split("\n")
    assert get("meta-data/network/interfaces/macs/")[1] == "02:00:00:00:01:05/"
    assert get("meta-data/tags/instance/aws:autoscaling:groupName") == (200, "kafka-1-asg")
    assert get("meta-data/no-such-thing")[0] == 404
    doc = json.loads(get("dynamic/instance-identity/document")[1])
    assert (doc["accountId"], doc["instanceId"], doc["region"], doc["availabilityZone"], doc["privateIp"]) == \
        ("123456789012", INSTANCE, "us-east-1", "us-east-1a", "10.0.1.5")
    assert get("user-data")[0] == 404
    fake.merge_state({"imds": {"user_data": "#nodeagent\n[Node]\nName=kafka-1\n"}})
    assert get("user-data") == (200, "#nodeagent\n[Node]\nName=kafka-1\n")

    # An attached ENI shows up under macs/, lagging behind EC2 for a while.
    fake.merge_state({"delays": {"imds_interface_lag": 10}})
    ec2.attach_network_interface(NetworkInterfaceId=ENI, InstanceId=INSTANCE, DeviceIndex=1)
    base = "meta-data/network/interfaces/macs/02:00:00:00:01:10/"
    assert get(base + "device-number") == (200, "0")
    assert get(base + "subnet-id")[0] == 404
    advance(fake, 11)
    token = fake.imds_token()
    assert get(base + "device-number") == (200, "1")
    assert get(base + "subnet-ipv4-cidr-block") == (200, "10.0.1.0/24")
    assert get(base + "local-ipv4s") == (200, "10.0.1.10")


def test_imds_role_credentials_rotate_and_sign(fake):
    token = fake.imds_token()
    assert fake.imds_get("meta-data/iam/security-credentials/", token) == (200, ROLE)
    fake.imds(credentials_lifetime=10, rotate_credentials=True)

    def creds():
        status, text = fake.imds_get(f"meta-data/iam/security-credentials/{ROLE}", token)
        assert status == 200
        return json.loads(text)

    first = creds()
    assert (first["Code"], first["Type"]) == ("Success", "AWS-HMAC")
    assert first["AccessKeyId"].startswith("ASIA") and first["Token"] and first["Expiration"].endswith("Z")
    assert creds()["AccessKeyId"] == first["AccessKeyId"]  # Not yet in the refresh window.

    def client(c):
        return fake.botocore_client("ec2", c["AccessKeyId"], c["SecretAccessKey"], token=c["Token"])

    assert client(first).describe_volumes()["Volumes"]
    advance(fake, 6)  # Within the refresh window: a new set; the old one still works.
    second = creds()
    assert second["AccessKeyId"] != first["AccessKeyId"]
    assert client(first).describe_volumes()["Volumes"]
    advance(fake, 5)  # Past the first set's Expiration.
    assert error_of(client(first).describe_volumes)[:2] == ("ExpiredToken", 400)
    assert client(second).describe_volumes()["Volumes"]

    # The deny list can name the role.
    fake.merge_state({"deny": [{"principal": ROLE, "action": "ec2:DescribeVolumes"}]})
    assert error_of(client(second).describe_volumes)[0] == "UnauthorizedOperation"
    assert fake.botocore_client("ec2").describe_volumes()["Volumes"]

    fake.imds(role=None)  # (A merge patch's null would restore the default role.)
    assert fake.imds_get("meta-data/iam/security-credentials/", token)[0] == 404


# -- faults -------------------------------------------------------------------------------

def test_throttle_fault_count_and_request_log(fake, ec2):
    fake.fault(service="ec2", action="AttachVolume", kind="throttle", count=2)
    for _ in range(2):
        assert error_of(ec2.attach_volume, VolumeId=VOLUME, InstanceId=INSTANCE, Device="/dev/sdf")[:2] == \
            ("RequestLimitExceeded", 503)
    assert ec2.attach_volume(VolumeId=VOLUME, InstanceId=INSTANCE, Device="/dev/sdf")["State"] == "attaching"
    log = fake.requests(service="ec2", action="AttachVolume")
    assert [(e["status"], e["code"]) for e in log] == [(503, "RequestLimitExceeded")] * 2 + [(200, None)]
    assert all(e["access_key"] == ACCESS_KEY for e in log) and log[0]["fault"] == "throttle"
    assert fake.faults() == []
    fake.clear_requests()
    assert fake.requests() == []


def test_request_log_holds_the_query_parameters(fake, ec2):
    ec2.create_tags(Resources=[VOLUME], Tags=[{"Key": "nodeagent:initialized", "Value": "x"}])
    fake.fault(service="ec2", action="AttachVolume", kind="timeout", seconds=0.1)
    with pytest.raises(Exception):  # The connection closes without a reply.
        ec2.attach_volume(VolumeId=VOLUME, InstanceId=INSTANCE, Device="/dev/sdf")
    [tags] = fake.requests(service="ec2", action="CreateTags")
    assert tags["params"] == {"ResourceId.1": VOLUME, "Tag.1.Key": "nodeagent:initialized", "Tag.1.Value": "x"}
    # Also for a request a fault answered instead of the action.
    [attach] = fake.requests(service="ec2", action="AttachVolume")
    assert (attach["status"], attach["params"]["Device"]) == (0, "/dev/sdf")
    fake.imds_get("meta-data/instance-id")
    assert [e["params"] for e in fake.requests(service="imds")] == [None, None]


def test_http5xx_error_and_latency_faults(fake, ec2):
    fake.fault({"service": "ec2", "kind": "http5xx"},
               {"service": "ec2", "kind": "http5xx", "status": 503},
               {"service": "*", "action": "DescribeVolumes", "kind": "error", "code": "Boom", "status": 418,
                "message": "teapot"})
    assert error_of(ec2.describe_volumes)[:2] == ("InternalError", 500)
    assert error_of(ec2.describe_volumes)[:2] == ("Unavailable", 503)
    assert error_of(ec2.describe_volumes) == ("Boom", 418, "teapot")
    fake.fault(service="ec2", kind="latency", seconds=0.3)
    started = time.monotonic()
    ec2.describe_volumes()
    assert time.monotonic() - started >= 0.3


def test_skip_and_forever_rules(fake, ec2):
    fake.fault(service="ec2", action="DescribeSubnets", kind="http5xx", skip=1, count=-1)
    ec2.describe_subnets()
    for _ in range(3):
        assert error_of(ec2.describe_subnets)[1] == 500
    assert len(fake.faults()) == 1
    fake.clear_faults()
    ec2.describe_subnets()


def test_connection_faults(fake):
    request = sign(fake, "POST", "/", query_body("DescribeVolumes"))
    fake.fault(service="ec2", kind="reset")
    with pytest.raises((ConnectionResetError, http.client.RemoteDisconnected)):
        send(fake, *request)
    fake.fault(service="ec2", kind="timeout", seconds=0.3)
    started = time.monotonic()
    with pytest.raises(http.client.RemoteDisconnected):
        send(fake, *request)
    assert time.monotonic() - started >= 0.3
    fake.fault(service="ec2", kind="truncated")
    with pytest.raises(http.client.IncompleteRead):
        send(fake, *request)
    fake.fault(service="ec2", kind="slow", seconds=0.4)
    started = time.monotonic()
    status, headers, body = send(fake, *request)
    assert status == 200 and time.monotonic() - started >= 0.35
    assert parse("ec2", "DescribeVolumes", status, headers, body)["Volumes"]
    fake.fault(service="ec2", kind="malformed")
    status, _, body = send(fake, *request)
    assert status == 200
    with pytest.raises(ET.ParseError):
        ET.fromstring(body)
    with pytest.raises(ValueError):
        json.loads(body)
    assert [e["fault"] for e in fake.requests()] == ["reset", "timeout", "truncated", "slow", "malformed"]


def test_malformed_reply_breaks_botocore(fake, ec2):
    fake.fault(service="ec2", action="DescribeVolumes", kind="malformed")
    with pytest.raises(ResponseParserError):
        ec2.describe_volumes()


def test_drop_after_effect(fake, ec2):
    fake.fault(service="ec2", action="AttachVolume", kind="drop_after_effect")
    request = sign(fake, "POST", "/", query_body("AttachVolume", VolumeId=VOLUME, InstanceId=INSTANCE,
                                                 Device="/dev/sdf"))
    with pytest.raises((ConnectionResetError, http.client.RemoteDisconnected)):
        send(fake, *request)
    # The attach happened even though no reply came: a retry meets VolumeInUse.
    assert ec2.describe_volumes(VolumeIds=[VOLUME])["Volumes"][0]["State"] == "in-use"
    assert error_of(ec2.attach_volume, VolumeId=VOLUME, InstanceId=INSTANCE, Device="/dev/sdf")[0] == "VolumeInUse"


def test_imds_faults(fake):
    token = fake.imds_token()
    fake.fault(service="imds", action="token", kind="throttle")
    assert fake.http("PUT", "/latest/api/token", headers={"X-aws-ec2-metadata-token-ttl-seconds": "60"})[0] == 429
    fake.fault(service="imds", action="credentials", kind="http5xx", status=503)
    assert fake.imds_get(f"meta-data/iam/security-credentials/{ROLE}", token)[0] == 503
    fake.fault(service="imds", action="/latest/meta-data/placement", kind="error", status=404)
    assert fake.imds_get("meta-data/placement/region", token)[0] == 404
    assert fake.imds_get("meta-data/placement/region", token) == (200, "us-east-1")


# -- control interface, HTTP and CLI ----------------------------------------------------

def test_state_merge_replace_and_reset(fake):
    state = fake.state()
    assert state["self"] == INSTANCE and state["region"] == "us-east-1"
    fake.merge_state({"volumes": {VOLUME: {"tags": {"Cluster": None, "Extra": "1"}}}})
    assert fake.state()["volumes"][VOLUME]["tags"] == {"Name": "kafka-1-data", "Extra": "1"}
    state["hosted_zones"] = {}
    fake.set_state(state)
    assert fake.state()["hosted_zones"] == {}
    fake.reset()
    assert ZONE in fake.state()["hosted_zones"]
    with open(os.path.join(os.path.dirname(__file__), "..", "fakeaws", "world-default.json")) as f:
        assert json.load(f)["volumes"] == fake.state()["volumes"]
    status, _, body = fake.http("POST", "/_fake/faults", {"kind": "explode"})
    assert status == 400 and b"unknown fault kind" in body
    assert fake.http("GET", "/_fake/nothing")[0] == 404


def test_keep_alive_and_headers(fake):
    conn = http.client.HTTPConnection(fake.host, fake.port, timeout=10)
    try:
        for _ in range(3):
            status, headers, body = send(fake, *sign(fake, "POST", "/", query_body("DescribeSubnets")), conn=conn)
            assert status == 200 and int(headers["Content-Length"]) == len(body)
            assert headers["Date"].endswith("GMT")
            assert body.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<DescribeSubnetsResponse '
                                   b'xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>')
    finally:
        conn.close()


RECORDER = '''
import json
from backends import AttachBackend

class Recorder(AttachBackend):
    def _note(self, *call):
        with open(self.options["out"], "a") as f:
            f.write(json.dumps(call) + "\\n")
    def on_attach_volume(self, volume_id, instance_id, device, volume):
        self._note("attach_volume", volume_id, instance_id, device)
    def on_detach_volume(self, volume_id, instance_id, device, force, volume):
        self._note("detach_volume", volume_id, instance_id, device, force)
    def on_attach_eni(self, eni_id, instance_id, device_index, eni):
        self._note("attach_eni", eni_id, instance_id, device_index, eni["mac_address"])
    def on_detach_eni(self, eni_id, instance_id, attachment_id, force, eni):
        self._note("detach_eni", eni_id, instance_id, force)
'''


def test_cli_world_file_backend_hooks_and_sigterm(tmp_path):
    (tmp_path / "recorder.py").write_text(RECORDER)
    out = tmp_path / "calls.jsonl"
    with open(os.path.join(os.path.dirname(__file__), "..", "fakeaws", "world-default.json")) as f:
        world = json.load(f)
    world["delays"]["volume_attach"] = 1
    fake = FakeAws(world=world, backend=f"{tmp_path}/recorder.py:Recorder", backend_opts={"out": str(out)})
    fake.start()
    try:
        assert fake.health()["pid"] == fake.pid
        ec2 = fake.botocore_client("ec2")
        ec2.attach_volume(VolumeId=VOLUME, InstanceId=INSTANCE, Device="/dev/sdf")
        ec2.detach_volume(VolumeId=VOLUME, Force=True)
        aid = ec2.attach_network_interface(NetworkInterfaceId=ENI, InstanceId=INSTANCE, DeviceIndex=1)["AttachmentId"]
        ec2.detach_network_interface(AttachmentId=aid)
        fake.reset()  # Back to the --world file, not the built-in default.
        assert fake.state()["delays"]["volume_attach"] == 1
    finally:
        assert fake.stop() == 0
    calls = [json.loads(line) for line in out.read_text().splitlines()]
    assert calls == [["attach_volume", VOLUME, INSTANCE, "/dev/sdf"],
                     ["detach_volume", VOLUME, INSTANCE, "/dev/sdf", True],
                     ["attach_eni", ENI, INSTANCE, 1, "02:00:00:00:01:10"],
                     ["detach_eni", ENI, INSTANCE, False]]


# -- snapshots and new resources (restoring a node in another zone) ---------------------

def test_snapshots_and_create_volume_from_one(fake, ec2):
    fake.merge_state({"snapshots": {
        "snap-0123456789abcdef0": {"volume_id": VOLUME, "state": "completed", "start_time": 1704000000,
                                   "size": 4, "tags": {"Name": "kafka-1"}},
        "snap-0fedcba9876543210": {"volume_id": VOLUME, "state": "pending", "start_time": 1704100000,
                                   "size": 4, "tags": {"Name": "kafka-1"}},
    }, "delays": {"volume_create": 5}})
    snaps = ec2.describe_snapshots(OwnerIds=["self"], Filters=[{"Name": "tag:Name", "Values": ["kafka-1"]}])
    assert sorted((s["SnapshotId"], s["State"]) for s in snaps["Snapshots"]) == [
        ("snap-0123456789abcdef0", "completed"), ("snap-0fedcba9876543210", "pending")]
    assert ec2.describe_snapshots(OwnerIds=["amazon"])["Snapshots"] == []

    with pytest.raises(ClientError) as e:
        ec2.create_volume(AvailabilityZone="us-east-1a", SnapshotId="snap-0fedcba9876543210")
    assert e.value.response["Error"]["Code"] == "IncorrectState"
    # As EC2: AWS's own tag keys (CloudFormation's, on every volume a stack
    # makes) are not the caller's to set, at creation either.
    assert error_of(ec2.create_volume, AvailabilityZone="us-east-1b", SnapshotId="snap-0123456789abcdef0",
                    TagSpecifications=[{"ResourceType": "volume", "Tags": [
                        {"Key": "aws:cloudformation:stack-name", "Value": "kafka-node-1"}]}])[0] == \
        "InvalidParameterValue"
    assert len(fake.state()["volumes"]) == 1

    v = ec2.create_volume(AvailabilityZone="us-east-1b", SnapshotId="snap-0123456789abcdef0", VolumeType="gp3",
                          ClientToken="t-1", TagSpecifications=[{"ResourceType": "volume", "Tags": [
                              {"Key": "nodeagent:restored-from", "Value": "snap-0123456789abcdef0"}]}])
    assert v["State"] == "creating" and v["Size"] == 4 and v["AvailabilityZone"] == "us-east-1b"
    assert v["Tags"] == [{"Key": "nodeagent:restored-from", "Value": "snap-0123456789abcdef0"}]
    # The same client token answers with the same volume, never a second one.
    again = ec2.create_volume(AvailabilityZone="us-east-1b", SnapshotId="snap-0123456789abcdef0",
                              VolumeType="gp3", ClientToken="t-1", TagSpecifications=[{
                                  "ResourceType": "volume", "Tags": [{"Key": "nodeagent:restored-from",
                                                                      "Value": "snap-0123456789abcdef0"}]}])
    assert again["VolumeId"] == v["VolumeId"]
    assert len(fake.state()["volumes"]) == 2
    with pytest.raises(ClientError) as e:
        ec2.create_volume(AvailabilityZone="us-east-1b", Size=9, ClientToken="t-1")
    assert e.value.response["Error"]["Code"] == "IdempotentParameterMismatch"

    advance(fake, 6)
    [vol] = ec2.describe_volumes(VolumeIds=[v["VolumeId"]])["Volumes"]
    assert vol["State"] == "available" and vol["SnapshotId"] == "snap-0123456789abcdef0"


def test_create_network_interface(fake, ec2):
    world = fake.state()
    world["subnets"]["subnet-0bbbbbbbbbbbbbbbb"] = {
        "vpc_id": "vpc-0123456789abcdef0", "cidr_block": "10.0.2.0/24", "availability_zone": "us-east-1b",
        "availability_zone_id": "use1-az2", "tags": {}}
    fake.set_state(world)
    eni = ec2.create_network_interface(SubnetId="subnet-0bbbbbbbbbbbbbbbb", Description="kafka-1 fixed IP",
                                       Groups=["sg-0123456789abcdef0"], ClientToken="c-1",
                                       TagSpecifications=[{"ResourceType": "network-interface",
                                                           "Tags": [{"Key": "Name", "Value": "kafka-1"}]}])
    n = eni["NetworkInterface"]
    assert error_of(ec2.create_network_interface, SubnetId="subnet-0bbbbbbbbbbbbbbbb",
                    TagSpecifications=[{"ResourceType": "network-interface",
                                        "Tags": [{"Key": "AWS:CloudFormation:logical-id", "Value": "Eni"}]}])[0] == \
        "InvalidParameterValue"
    assert n["AvailabilityZone"] == "us-east-1b" and n["PrivateIpAddress"].startswith("10.0.2.")
    assert [g["GroupId"] for g in n["Groups"]] == ["sg-0123456789abcdef0"]
    assert n["TagSet"] == [{"Key": "Name", "Value": "kafka-1"}]
    again = ec2.create_network_interface(SubnetId="subnet-0bbbbbbbbbbbbbbbb", Description="kafka-1 fixed IP",
                                         Groups=["sg-0123456789abcdef0"], ClientToken="c-1",
                                         TagSpecifications=[{"ResourceType": "network-interface",
                                                             "Tags": [{"Key": "Name", "Value": "kafka-1"}]}])
    assert again["NetworkInterface"]["NetworkInterfaceId"] == n["NetworkInterfaceId"]
