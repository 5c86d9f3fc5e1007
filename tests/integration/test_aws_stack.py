"""The agent's AWS stack (IMDSv2, credentials, SigV4, the EC2 and Route 53
protocols, retries) driven call by call through nodeagent-awscall against the
fake AWS, which recomputes every signature with botocore."""

import re

import pytest

from harness import ENI, INSTANCE, VOLUME, ZONE

SUBNET = "subnet-0123456789abcdef0"
NAME = "kafka-1.cluster.internal"


def fields(line):
    """'volume id=vol-1 az=a' -> {'id': 'vol-1', 'az': 'a'}"""
    return dict(kv.split("=", 1) for kv in line.split()[1:] if "=" in kv)


def line_of(result, prefix):
    for line in result.stdout.splitlines():
        if line.startswith(prefix + " "):
            return fields(line)
    raise AssertionError(f"no '{prefix}' line in {result!r}")


def requests_for(fake, action):
    return [r for r in fake.requests() if r.get("action") == action]


# -- every action, with long-term keys and with the instance role's session token


@pytest.mark.parametrize("role", [False, True], ids=["static-keys", "role-session-token"])
def test_every_ec2_action_is_accepted(awscall, fake, role):
    assert awscall("describe-volumes", VOLUME, role=role).status == 0
    r = awscall("attach-volume", VOLUME, INSTANCE, "/dev/sdf", role=role)
    assert r.status == 0, r
    assert line_of(r, "attachment")["state"] == "attaching"
    r = awscall("detach-volume", VOLUME, INSTANCE, role=role)
    assert r.status == 0, r
    r = awscall("describe-network-interfaces", ENI, role=role)
    assert r.status == 0, r
    assert line_of(r, "eni")["mac"] == "02:00:00:00:01:10"
    r = awscall("attach-network-interface", ENI, INSTANCE, "1", role=role)
    assert r.status == 0, r
    attachment = line_of(r, "attachment")["id"]
    assert attachment.startswith("eni-attach-")
    assert awscall("detach-network-interface", attachment, role=role).status == 0
    r = awscall("describe-subnets", SUBNET, role=role)
    assert line_of(r, "subnet")["cidr"] == "10.0.1.0/24"
    r = awscall("describe-instances", INSTANCE, role=role)
    assert line_of(r, "instance")["state"] == "running"
    assert awscall("create-tags", VOLUME, "nodeagent:initialized=test", role=role).status == 0

    seen = fake.requests()
    ec2 = [r for r in seen if r.get("service") == "ec2"]
    assert len(ec2) == 9
    assert all(r["status"] == 200 for r in ec2), ec2
    # The role's keys are temporary (ASIA...), the static ones are not.
    keys = {r["access_key"] for r in ec2}
    assert len(keys) == 1
    assert next(iter(keys)).startswith("ASIA" if role else "AKID")


@pytest.mark.parametrize("role", [False, True], ids=["static-keys", "role-session-token"])
def test_every_route53_action_is_accepted(awscall, fake, role):
    r = awscall("change-rrsets", ZONE, f"CREATE:{NAME}:A:60:10.0.1.10", role=role)
    assert r.status == 0, r
    change = line_of(r, "change")
    assert change["status"] == "PENDING"
    r = awscall("get-change", change["id"], role=role)
    assert r.status == 0, r
    r = awscall("list-rrsets", ZONE, role=role)
    assert r.status == 0, r
    r = awscall("find-rrset", ZONE, NAME, "A", role=role)
    assert line_of(r, "rrset")["values"] == "10.0.1.10"
    route53 = [r for r in fake.requests() if r.get("service") == "route53"]
    assert len(route53) == 4 and all(r["status"] == 200 for r in route53), route53


@pytest.mark.parametrize("args", [
    ("describe-volumes",),
    ("attach-volume", VOLUME, INSTANCE, "/dev/sdf"),
    ("detach-volume", VOLUME),
    ("describe-network-interfaces",),
    ("attach-network-interface", ENI, INSTANCE, "1"),
    ("describe-subnets",),
    ("describe-instances", INSTANCE),
    ("create-tags", VOLUME, "a=b"),
], ids=lambda a: a[0])
def test_dry_run_succeeds_without_changing_anything(awscall, fake, args):
    before = fake.state()
    r = awscall("--dry-run", *args)
    assert r.status == 0, r
    codes = [q["code"] for q in fake.requests() if q.get("service") == "ec2"]
    assert codes == ["DryRunOperation"]
    after = fake.state()
    assert after["volumes"] == before["volumes"]
    assert after["network_interfaces"] == before["network_interfaces"]


def test_dry_run_denied_is_aws_refused(awscall, fake):
    fake.merge_state({"deny": [{"principal": "*", "action": "ec2:AttachVolume"}]})
    r = awscall("--dry-run", "attach-volume", VOLUME, INSTANCE, "/dev/sdf")
    assert r.status == 3, r
    assert "UnauthorizedOperation" in r.stdout


# -- errors that are answers, not faults


def test_missing_volume_is_unusable(awscall, fake):
    r = awscall("describe-volumes", "vol-0000000000000000a")
    assert r.status == 4, r
    assert "InvalidVolume.NotFound" in r.stdout
    assert len(requests_for(fake, "DescribeVolumes")) == 1


def test_missing_eni_is_unusable(awscall):
    r = awscall("describe-network-interfaces", "eni-0000000000000000a")
    assert r.status == 4, r
    assert "InvalidNetworkInterfaceID.NotFound" in r.stdout


def test_volume_in_use_is_reported_not_retried(awscall, fake):
    assert awscall("attach-volume", VOLUME, INSTANCE, "/dev/sdf").status == 0
    r = awscall("attach-volume", VOLUME, INSTANCE, "/dev/sdg")
    assert r.status == 1, r
    assert "VolumeInUse" in r.stdout
    assert len(requests_for(fake, "AttachVolume")) == 2


def test_zone_mismatch(awscall, fake):
    fake.merge_state({"volumes": {VOLUME: {"availability_zone": "us-east-1b"}}})
    r = awscall("attach-volume", VOLUME, INSTANCE, "/dev/sdf")
    assert "InvalidVolume.ZoneMismatch" in r.stdout, r
    assert r.status != 0


def test_wrong_secret_is_refused_once(awscall, fake):
    r = awscall("describe-volumes", env={"AWS_SECRET_ACCESS_KEY": "not-the-secret"})
    assert r.status == 3, r
    assert "AuthFailure" in r.stdout
    assert len(requests_for(fake, "DescribeVolumes")) == 1


def test_route53_signature_mismatch_is_refused(awscall, fake):
    r = awscall("list-rrsets", ZONE, env={"AWS_SECRET_ACCESS_KEY": "not-the-secret"})
    assert r.status == 3, r
    assert "SignatureDoesNotMatch" in r.stdout


def test_route53_create_of_existing_set_is_invalid_change_batch(awscall):
    assert awscall("change-rrsets", ZONE, f"CREATE:{NAME}:A:60:10.0.1.10").status == 0
    r = awscall("change-rrsets", ZONE, f"CREATE:{NAME}:A:60:10.0.1.11")
    assert r.status == 1, r
    assert "InvalidChangeBatch" in r.stdout


def test_route53_delete_with_other_values_is_invalid_and_changes_nothing(awscall):
    assert awscall("change-rrsets", ZONE, f"CREATE:{NAME}:A:60:10.0.1.10,10.0.1.11").status == 0
    r = awscall("change-rrsets", ZONE, f"DELETE:{NAME}:A:60:10.0.1.10",
                f"CREATE:{NAME}:A:60:10.0.1.10,10.0.1.12")
    assert "InvalidChangeBatch" in r.stdout, r
    r = awscall("find-rrset", ZONE, NAME, "A")
    # All or nothing: the batch left the set as it was.
    assert line_of(r, "rrset")["values"] == "10.0.1.10,10.0.1.11"


def test_route53_find_checks_the_name_it_gets_back(awscall):
    # Route 53 answers from the start name on: asking for a name that does not
    # exist returns the next sets in its order, which the client must refuse.
    assert awscall("change-rrsets", ZONE, "CREATE:kafka-2.cluster.internal:A:60:10.0.1.20").status == 0
    r = awscall("list-rrsets", ZONE, "kafka-1.cluster.internal", "A")
    assert "kafka-2.cluster.internal." in r.stdout, r
    r = awscall("find-rrset", ZONE, "kafka-1.cluster.internal", "A")
    assert r.status == 4, r


def test_route53_multivalue_sets_are_told_apart(awscall):
    assert awscall("change-rrsets", ZONE, f"CREATE:{NAME}:A:60:10.0.1.10:kafka-1",
                   f"CREATE:{NAME}:A:60:10.0.1.11:kafka-2").status == 0
    r = awscall("find-rrset", ZONE, NAME, "A", "kafka-2")
    assert line_of(r, "rrset")["values"] == "10.0.1.11"
    assert line_of(r, "rrset")["multivalue"] == "yes"


def test_route53_change_becomes_insync(awscall, fake):
    fake.merge_state({"delays": {"route53_insync": 0}})
    change = line_of(awscall("change-rrsets", ZONE, f"UPSERT:{NAME}:A:60:10.0.1.10"), "change")
    r = awscall("get-change", change["id"])
    assert line_of(r, "change")["status"] == "INSYNC"


# -- IMDSv2


def test_imds_identity_and_user_data(awscall, fake):
    r = awscall("imds", "identity")
    assert line_of(r, "identity") == {"instance": INSTANCE, "region": "us-east-1", "az": "us-east-1a",
                                      "account": "123456789012", "ip": "10.0.1.5"}
    r = awscall("imds", "user-data")
    assert r.status == 4, r  # none: -ENOENT


def test_imds_token_is_required_and_reused(awscall, fake):
    r = awscall("imds", "credentials")
    assert r.status == 0, r
    assert line_of(r, "credentials")["token"] == "yes"
    imds = [q for q in fake.requests() if q.get("service") == "imds"]
    assert [q["action"] for q in imds].count("token") == 1
    assert all(q["status"] == 200 for q in imds), imds


def test_imds_expired_token_is_fetched_again(awscall, fake):
    fake.fault(service="imds", action="identity", kind="error", status=401, code="Unauthorized", count=1)
    r = awscall("imds", "identity")
    assert r.status == 0, r
    imds = [q["action"] for q in fake.requests() if q.get("service") == "imds"]
    assert imds.count("token") == 2


def test_imds_disabled_is_refused_clearly(awscall, fake):
    fake._control("POST", "imds", {"disabled": True})
    r = awscall("imds", "identity")
    assert r.status == 3, r
    tokens = [q for q in fake.requests() if q.get("action") == "token"]
    assert len(tokens) == 1  # 403 is final: no retries, no IMDSv1 fallback


def test_credentials_rotate_and_old_ones_still_sign(awscall, fake):
    fake._control("POST", "imds", {"credentials_lifetime": 400, "rotate_credentials": True})
    first = line_of(awscall("imds", "credentials"), "credentials")["access_key"]
    fake._control("POST", "imds", {"rotate_credentials": True})
    second = line_of(awscall("imds", "credentials"), "credentials")["access_key"]
    assert first != second
    assert awscall("describe-volumes", role=True).status == 0


# -- faults: transient ones are retried until the call succeeds


TRANSIENT = [
    {"kind": "throttle"},
    {"kind": "http5xx", "status": 500},
    {"kind": "http5xx", "status": 503},
    {"kind": "reset"},
    {"kind": "timeout", "seconds": 1},
    {"kind": "slow", "seconds": 1},
    {"kind": "malformed"},
    {"kind": "truncated"},
]


def fault_id(f):
    return "-".join(str(v) for v in f.values())


@pytest.mark.parametrize("fault", TRANSIENT, ids=fault_id)
def test_transient_ec2_fault_is_retried(awscall, fake, fault):
    fake.fault(dict(fault, service="ec2", action="DescribeVolumes", count=2))
    r = awscall("describe-volumes", VOLUME)
    assert r.status == 0, r
    assert line_of(r, "volume")["id"] == VOLUME
    if fault["kind"] != "slow":
        assert len(requests_for(fake, "DescribeVolumes")) == 3


@pytest.mark.parametrize("fault", TRANSIENT, ids=fault_id)
def test_transient_route53_fault_is_retried(awscall, fake, fault):
    fault = dict(fault, service="route53", action="ChangeResourceRecordSets", count=2)
    if fault["kind"] == "throttle":
        fault["code"] = "PriorRequestNotComplete"
    fake.fault(fault)
    r = awscall("change-rrsets", ZONE, f"UPSERT:{NAME}:A:60:10.0.1.10")
    assert r.status == 0, r
    r = awscall("find-rrset", ZONE, NAME, "A")
    assert line_of(r, "rrset")["values"] == "10.0.1.10"


@pytest.mark.parametrize("fault", TRANSIENT, ids=fault_id)
def test_transient_imds_fault_is_retried(awscall, fake, fault):
    if fault["kind"] == "throttle":
        fault = {"kind": "error", "status": 429, "code": "TooManyRequests"}
    fake.fault(dict(fault, service="imds", action="identity", count=2))
    r = awscall("imds", "identity")
    assert r.status == 0, r
    assert line_of(r, "identity")["instance"] == INSTANCE


def test_reply_lost_after_the_attach_took_effect(awscall, fake):
    # The attach happened, the reply never came: the retry meets VolumeInUse,
    # and the volume is attached here (the volume path goes on from there).
    fake.fault(service="ec2", action="AttachVolume", kind="drop_after_effect")
    r = awscall("attach-volume", VOLUME, INSTANCE, "/dev/sdf")
    assert "VolumeInUse" in r.stdout or r.status == 0, r
    assert len(requests_for(fake, "AttachVolume")) == 2
    r = awscall("describe-volumes", VOLUME)
    assert INSTANCE in line_of(r, "volume")["attachment"]


def test_clock_skew_is_corrected_from_the_date_header(awscall, fake):
    fake.clock_skew(20 * 60)
    r = awscall("describe-volumes", VOLUME)
    assert r.status == 0, r
    attempts = requests_for(fake, "DescribeVolumes")
    assert [q["status"] for q in attempts] == [400, 200], attempts
    assert attempts[0]["code"] == "RequestExpired"


def test_route53_clock_skew_is_corrected(awscall, fake):
    fake.clock_skew(-20 * 60)
    r = awscall("list-rrsets", ZONE)
    assert r.status == 0, r


def test_credentials_expiring_mid_run_are_refreshed(awscall, fake):
    # Keys that IMDS still hands out but EC2 already considers expired.
    fake.fault(service="ec2", action="DescribeVolumes", kind="error", status=400, code="ExpiredToken",
               message="The security token included in the request is expired")
    r = awscall("describe-volumes", VOLUME, role=True)
    assert r.status == 0, r
    assert len(requests_for(fake, "DescribeVolumes")) == 2


# -- faults that do not go away end with the contract's exit status


# A slow reply that arrives is a success; one slower than the deadline is not.
PERMANENT = [f if f["kind"] != "slow" else {"kind": "slow", "seconds": 6} for f in TRANSIENT]


@pytest.mark.parametrize("fault", PERMANENT, ids=fault_id)
def test_permanent_fault_stops_with_a_status(awscall, fake, fault):
    fake.fault(dict(fault, service="ec2", action="DescribeVolumes", count=-1))
    r = awscall("--deadline", "3s", "describe-volumes", VOLUME, timeout=30)
    # 6 when the deadline passed first, 1 when the bounded attempts ran out.
    assert r.status in (1, 6), r
    if fault["kind"] != "slow":
        assert len(requests_for(fake, "DescribeVolumes")) >= 2
    assert r.elapsed < 10


def test_permanent_throttling_gives_up_after_bounded_attempts(awscall, fake):
    fake.fault(service="ec2", action="DescribeVolumes", kind="throttle", count=-1)
    r = awscall("--deadline", "60s", "describe-volumes", VOLUME, timeout=90)
    assert r.status == 1, r
    assert "RequestLimitExceeded" in r.stdout
    assert len(requests_for(fake, "DescribeVolumes")) == 8
