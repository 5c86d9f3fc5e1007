"""The fault matrix: every AWS call a whole `--once` boot makes, with every
fault the fake can inject, once transient (the boot completes: mounted,
tagged, routed, published) and once permanent (the contract's exit status
under a short Timeout, 3 for a refusal, and the data untouched: a volume that
was never formatted is still zeros, one that was is never formatted again by
the next boot). Then the faults that are not per call: clock skew, an IMDS
token expired mid-run, credentials expiring mid-run.

Three boots are exercised:
  volume     the volume path on a loop device (harness.VolumeNode) with
             the instance role's credentials, user data and [DNS] WaitInSync=yes
             (DNS publishes the instance's primary IP): IMDS token, identity,
             user-data, credentials; DescribeVolumes, AttachVolume, CreateTags;
             ListResourceRecordSets, ChangeResourceRecordSets, GetChange
  takeover   the same volume held by a terminated predecessor with
             TakeOver=force-detach-dead: DescribeInstances, DetachVolume
  interface  the interface path in network namespaces (harness.NetNode):
             DescribeNetworkInterfaces, AttachNetworkInterface, DescribeSubnets

At the end of the session a table per mode says which faults were tried on
which call and how many passed (reliability.Report; NODEAGENT_REPORT_DIR, when
set, also gets them as JSON for the README's figures)."""

import pytest

from harness import Point, eni_rules, run_with_hook
from reliability import register_report

# Seconds of the short deadline under which a permanent fault must end the boot.
PERMANENT_TIMEOUT = 4


# -- the calls and the faults ----------------------------------------------------------

# (id, service, action, boot, mutating)
CALLS = [
    ("imds-token", "imds", "token", "volume", False),
    ("imds-identity", "imds", "identity", "volume", False),
    ("imds-user-data", "imds", "user-data", "volume", False),
    ("imds-credentials", "imds", "credentials", "volume", False),
    ("DescribeVolumes", "ec2", "DescribeVolumes", "volume", False),
    ("AttachVolume", "ec2", "AttachVolume", "volume", True),
    ("CreateTags", "ec2", "CreateTags", "volume", True),
    ("ListResourceRecordSets", "route53", "ListResourceRecordSets", "volume", False),
    ("ChangeResourceRecordSets", "route53", "ChangeResourceRecordSets", "volume", True),
    ("GetChange", "route53", "GetChange", "volume", False),
    ("DescribeInstances", "ec2", "DescribeInstances", "takeover", False),
    ("DetachVolume", "ec2", "DetachVolume", "takeover", True),
    ("DescribeNetworkInterfaces", "ec2", "DescribeNetworkInterfaces", "interface", False),
    ("AttachNetworkInterface", "ec2", "AttachNetworkInterface", "interface", True),
    ("DescribeSubnets", "ec2", "DescribeSubnets", "interface", False),
]

# Every kind of tests/fakeaws/faults.py; short delays keep the matrix quick.
TRANSIENT = [
    {"kind": "throttle"},
    {"kind": "http5xx", "status": 500},
    {"kind": "http5xx", "status": 503},
    {"kind": "reset"},
    {"kind": "timeout", "seconds": 1},
    {"kind": "slow", "seconds": 0.3},
    {"kind": "malformed"},
    {"kind": "truncated"},
    {"kind": "latency", "seconds": 0.3},
]
# A reply lost after the action took effect: on every mutating call.
DROP = {"kind": "drop_after_effect"}

# The kinds that act on the handled reply: the action happened.
AFTER_EFFECT = ("drop_after_effect", "malformed", "truncated")

# A slow reply or latency that goes on forever still arrives: not a failure.
PERMANENT = [f for f in TRANSIENT if f["kind"] not in ("slow", "latency") and f.get("status") != 503]


def fault_name(f):
    return "-".join(str(v) for v in f.values())


def transient_cases():
    for call in CALLS:
        faults = TRANSIENT + ([DROP] if call[4] else [])
        for f in faults:
            yield pytest.param(call, f, id=f"{call[0]}-{fault_name(f)}")


def permanent_cases():
    for call in CALLS:
        faults = PERMANENT + ([DROP] if call[4] else [])
        for f in faults:
            yield pytest.param(call, f, id=f"{call[0]}-{fault_name(f)}")


def refusal(service):
    """The permission refusal of each service, as AWS words it."""
    if service == "ec2":
        return {"kind": "error", "status": 403, "code": "UnauthorizedOperation",
                "message": "You are not authorized to perform this operation."}
    if service == "imds":
        return {"kind": "error", "status": 403, "code": "Forbidden"}
    return {"kind": "error", "status": 403, "code": "AccessDenied", "message": "User is not authorized"}


@pytest.fixture(autouse=True)
def matrix(request):
    tag = register_report(request)

    def matrix_tag(call, mode, fault):
        tag(f"fault matrix ({mode})", call, fault)
    return matrix_tag


# -- the interface boot -------------------------------------------------------------------


def interface_boot(net, timeout):
    net.configure(routing="agent", timeout=timeout)
    return net.boot("-v")


# -- the matrix ---------------------------------------------------------------------------


def add_fault(fake, call, fault, count):
    _, service, action, _, _ = call
    fake.fault(dict(fault, service=service, action=action, count=count))


def applied(fake, call):
    """Whether the call met its fault: a used-up rule is gone from the list,
    a lasting one counts what it applied to."""
    _, service, action, _, _ = call
    rules = [f for f in fake.faults() if f["service"] == service and f["action"] == action]
    return not rules or any(f["applied"] > 0 for f in rules)


@pytest.mark.parametrize("call,fault", list(transient_cases()))
def test_transient_fault_boot_completes(request, matrix, call, fault):
    matrix(call[0], "transient", fault_name(fault))
    count = 1 if fault["kind"] in ("drop_after_effect", "timeout") else 2
    if call[3] == "interface":
        net = request.getfixturevalue("net")
        add_fault(net.fake, call, fault, count)
        r = interface_boot(net, "40s")
        assert applied(net.fake, call), f"the fault never met {call[0]}"
        net.assert_converged(r)
        return
    b = request.getfixturevalue("vboot").prepare(takeover=call[3] == "takeover")
    add_fault(b.fake, call, fault, count)
    r = b.boot()
    assert applied(b.fake, call), f"the fault never met {call[0]}: {r!r}"
    b.assert_booted(r)
    if call[0] == "AttachVolume" and fault["kind"] == "drop_after_effect":
        assert len(b.fake.requests(service="ec2", action="AttachVolume")) >= 2


@pytest.mark.parametrize("call,fault", list(permanent_cases()))
def test_permanent_fault_stops_with_the_status(request, matrix, call, fault):
    matrix(call[0], "permanent", fault_name(fault))
    timeout = f"{PERMANENT_TIMEOUT}s"
    allowed = (1, 6)
    if call[4] and fault["kind"] in AFTER_EFFECT:
        # The action took effect every time, only its reply was lost or
        # mangled: a boot that finds that out by looking and completes is
        # right too.
        allowed = (0, 1, 6)
    if call[0] == "imds-user-data" and fault["kind"] == "malformed":
        # User data that is not "#nodeagent" is someone else's: ignored.
        allowed = (0,)
    if call[3] == "interface":
        net = request.getfixturevalue("net")
        add_fault(net.fake, call, fault, -1)
        r = interface_boot(net, timeout)
        assert r.status in allowed, r
        assert r.elapsed < PERMANENT_TIMEOUT + 8, r
        assert len(eni_rules(net.ns)) <= 1
        if r.status == 0:
            net.assert_converged(r)
        return
    b = request.getfixturevalue("vboot").prepare(takeover=call[3] == "takeover", timeout=timeout)
    add_fault(b.fake, call, fault, -1)
    r = b.boot()
    assert applied(b.fake, call), f"the fault never met {call[0]}: {r!r}"
    assert r.status in allowed, r
    assert r.elapsed < PERMANENT_TIMEOUT + 8, r
    if r.status == 0:
        b.assert_booted(r)
    else:
        b.assert_untouched_or_converges(r)


@pytest.mark.parametrize("call", [pytest.param(c, id=c[0]) for c in CALLS if c[1] != "imds" or c[2] == "token"])
def test_refused_call_is_aws_refused(request, matrix, call):
    matrix(call[0], "permanent", "refused-403")
    fault = refusal(call[1])
    if call[3] == "interface":
        net = request.getfixturevalue("net")
        add_fault(net.fake, call, fault, -1)
        r = interface_boot(net, "20s")
        assert r.status == 3, r
        assert len(eni_rules(net.ns)) <= 1
        return
    b = request.getfixturevalue("vboot").prepare(takeover=call[3] == "takeover", timeout="20s")
    add_fault(b.fake, call, fault, -1)
    r = b.boot()
    assert r.status == 3, r
    # Refused at once: no retries that the deadline has to end.
    assert r.elapsed < 15, r
    b.assert_untouched_or_converges(r)


# -- faults that are not one call's ------------------------------------------------------


@pytest.mark.parametrize("skew", [20 * 60, -20 * 60], ids=["ahead-20min", "behind-20min"])
def test_clock_skew(vboot, matrix, skew):
    matrix("all calls", "transient", f"clock-skew{skew:+d}s")
    b = vboot.prepare()
    b.fake.clock_skew(skew)
    r = b.boot()
    b.assert_booted(r)
    # The first signed request of each client learnt the offset; no request
    # failed after that.
    codes = [q["code"] for q in b.fake.requests() if q["service"] in ("ec2", "route53")]
    assert codes.count("RequestExpired") + codes.count("SignatureDoesNotMatch") <= 3, codes


def test_imds_token_expired_mid_run(vboot, matrix):
    """Every IMDS token dies while the boot runs; the next IMDS call (the
    credentials, short-lived here so that they are fetched again) gets 401 and
    must get a new token, not fail."""
    matrix("imds-token", "transient", "expired-mid-run")
    b = vboot.prepare()
    fake = b.fake
    fake.imds(credentials_lifetime=6, rotate_credentials=True)
    # The attach takes a while, so the boot is still running when the tokens die.
    fake.fault(service="ec2", action="AttachVolume", kind="latency", seconds=1.5)
    attaching = Point("AttachVolume in flight",
                      lambda run: not [f for f in fake.faults() if f["action"] == "AttachVolume"])
    r, hooked = run_with_hook(b, attaching, lambda: fake.imds(expire_tokens=True))
    assert hooked, r
    b.assert_booted(r)
    imds = fake.requests(service="imds")
    assert [q["action"] for q in imds].count("token") >= 2, imds
    assert any(q["status"] == 401 for q in imds), imds


def test_credentials_expiring_mid_run(vboot, matrix):
    """Role credentials that live 6 s, and a boot that takes longer: the
    agent moves to the new key set before the old one expires; nothing is
    refused as expired in the end."""
    matrix("imds-credentials", "transient", "expiring-mid-run")
    b = vboot.prepare()
    fake = b.fake
    fake.imds(credentials_lifetime=6, rotate_credentials=True)
    fake.fault(service="ec2", action="AttachVolume", kind="latency", seconds=3.5)
    fake.fault(service="ec2", action="CreateTags", kind="latency", seconds=3.5)
    r = b.boot()
    b.assert_booted(r)
    signed = [q for q in fake.requests() if q["service"] in ("ec2", "route53")]
    keys = {q["access_key"] for q in signed}
    assert len(keys) >= 2, signed
    # A request may meet an expiry once (then the agent refreshes); the last
    # request of every action succeeded.
    last = {}
    for q in signed:
        last[q["action"]] = q
    assert all(q["status"] == 200 for q in last.values()), last


def test_expired_token_refusal_is_refreshed_once(vboot, matrix):
    """EC2 says the session token expired although IMDS still hands it out:
    the agent fetches the credentials again and retries once."""
    matrix("DescribeVolumes", "transient", "ExpiredToken")
    b = vboot.prepare()
    b.fake.fault(service="ec2", action="DescribeVolumes", kind="error", status=400, code="ExpiredToken",
                      message="The security token included in the request is expired")
    r = b.boot()
    b.assert_booted(r)
