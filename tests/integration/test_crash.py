"""Crash consistency: the agent SIGKILLed at every step boundary of a boot,
and at random moments, then started again; the restart must converge.

The kill takes the agent and everything it started (mkfs, e2fsck, each in a
process group of its own), as systemd does with the unit's cgroup
(harness.run_and_kill). Each kill point is a moment seen from outside the
agent (harness.Point): a call the fake holds unanswered (the agent dies as
the step begins; the call never takes effect), a call the fake answered (it
dies right after the step's call took effect), a child process running,
some milliseconds into its work or gone, a device, a mount, a link, an
address or a rule that appeared.

  first boot    every step of the volume path and of DNS, and the inner
                moments of the filesystem step (mkfs running, mkfs done,
                mounted): the restart mounts the filesystem that the tag names
                (formatted exactly once: the tag's UUID is the filesystem's,
                and a filesystem that existed before the restart keeps its UUID),
                the DNS set holds the node's address once
  replacement   a volume formatted and written by an earlier instance: every
                step, including e2fsck running; the file's checksum and the
                UUID never change, nothing is formatted
  take-over     killed while force-detaching a dead holder
  interface     every step of the interface path in network namespaces: one
                address, one rule, the table's two routes, the DNS set
  random        a seeded loop (NODEAGENT_CRASH_SEED, printed; 10 iterations)
                of kills after a random delay, sometimes twice in a row

A table of kill points tried and converged closes the session
(reliability.Report)."""

import os
import random
import signal
import subprocess
import time

import pytest

from harness import (ENI_IP, PRIMARY_IP, TAG_FORMAT_STARTED, ZONE, DNS_NAME, addresses, answered, blkid, calls,
                     child, child_exited, eni_rules, held, image_is_blank, run_and_kill, sha256, tag_calls, when)
from reliability import register_report

ITERATIONS = int(os.environ.get("NODEAGENT_CRASH_ITERATIONS", "10"))
SEED = int(os.environ.get("NODEAGENT_CRASH_SEED") or int(time.time()) % 100000)

FIRST_BOOT_POINTS = [
    held("ec2", "DescribeVolumes"),            # find
    held("ec2", "AttachVolume"),               # attach
    answered("ec2", "AttachVolume"),           # waiting for the device
    when("device appeared", lambda b: b.device()),
    held("ec2", "CreateTags"),                 # nodeagent:format-started
    child("mkfs.ext4"),
    child("mkfs.ext4", ms=20),                 # mkfs half-way: killed with the agent
    child("mkfs.ext4", ms=60),
    child_exited("mkfs.ext4"),
    when("mounted", lambda b: b.is_mounted()),
    held("ec2", "CreateTags", skip=1),         # nodeagent:initialized
    answered("ec2", "CreateTags", n=2),        # the volume path done
    held("route53", "ListResourceRecordSets"),
    held("route53", "ChangeResourceRecordSets"),
    answered("route53", "ChangeResourceRecordSets"),   # waiting for INSYNC
    held("route53", "GetChange"),
]
REPLACEMENT_POINTS = [
    held("ec2", "DescribeVolumes"),
    held("ec2", "AttachVolume"),
    answered("ec2", "AttachVolume"),
    when("device appeared", lambda b: b.device()),
    child("e2fsck"),
    child("e2fsck", ms=20),
    child_exited("e2fsck"),
    when("mounted", lambda b: b.is_mounted()),
    held("route53", "ChangeResourceRecordSets"),
]
# Routing is over in milliseconds, and only DNS's change comes after it:
# the fake holds that change, so the agent is still there when routing's
# work shows.
PUBLISH = ("route53", "ChangeResourceRecordSets")
INTERFACE_POINTS = [
    held("ec2", "DescribeNetworkInterfaces"),
    held("ec2", "AttachNetworkInterface"),
    answered("ec2", "AttachNetworkInterface"),        # waiting for the link
    when("link appeared", lambda n: n.link(), hold=PUBLISH),
    when("address added", lambda n: n.link() and addresses(n.ns, n.link()), hold=PUBLISH),
    when("rule added", lambda n: eni_rules(n.ns), hold=PUBLISH),
    held("route53", "ListResourceRecordSets"),
    held(*PUBLISH),
]


@pytest.fixture(autouse=True)
def report(request):
    return register_report(request)


# -- the volume boots --------------------------------------------------------------------


def replacement_volume(b):
    """A volume an earlier instance formatted, tagged and wrote a file to:
    returns (uuid, checksum of the file). Its filesystem is due for a check
    (mounted more often than its maximum), so that the restart's e2fsck -p
    reads it all, long enough to be killed in."""
    r = b.boot()
    b.assert_booted(r)
    data = os.path.join(b.mount, "data.bin")
    with open(data, "wb") as f:
        f.write(os.urandom(256 * 1024))
    os.sync()
    sha = sha256(data)
    uuid = blkid(b.image)
    b.release()
    subprocess.run(["tune2fs", "-c", "1", "-C", "2", b.image], check=True, capture_output=True)
    # The replacement comes with another address than its predecessor had
    # (here: the record says the predecessor's), so DNS has a change to make.
    world = b.fake.state()
    for rec in world["hosted_zones"][ZONE]["records"]:
        if rec["Name"] == DNS_NAME and rec["Type"] == "A":
            rec["ResourceRecords"] = [{"Value": "10.0.1.99"}]
    b.fake.set_state(world)
    b.fake.clear_requests()
    return uuid, sha


def assert_converged(b, restart, killed, uuid_before=None, sha=None):
    __tracebackhide__ = True
    b.assert_booted(restart)
    if uuid_before:
        # The filesystem that existed before the restart is the one mounted,
        # never formatted over.
        assert blkid(b.image) == uuid_before, (uuid_before, killed, restart)
    if sha:
        assert sha256(os.path.join(b.mount, "data.bin")) == sha
    # One format begun in all (a restart after a half-way mkfs finds the tag and formats again without it).
    assert len(tag_calls(b.fake, TAG_FORMAT_STARTED, answered=True)) <= 1, (killed, restart)
    assert b.records()[0]["ResourceRecords"] == [{"Value": PRIMARY_IP}]


def uuid_after_kill(b):
    """The filesystem's UUID as the kill left it, None when the volume is blank."""
    if image_is_blank(b.image):
        return None
    return blkid(b.image) or None


def partial_mkfs(b):
    """Whether the image holds bytes but no filesystem (mkfs died half-way)."""
    return not uuid_after_kill(b) and not image_is_blank(b.image)


@pytest.mark.parametrize("point", FIRST_BOOT_POINTS, ids=repr)
def test_first_boot_killed_converges(vboot, report, point):
    report("kill points", "first boot", point.name)
    b = vboot.prepare()
    killed = run_and_kill(b, point)
    assert killed.hit, f"the boot never reached {point}: {killed!r}"
    uuid = uuid_after_kill(b)
    if partial_mkfs(b):
        # mkfs died half-way: the volume holds some of its blocks but no
        # superblock, and the tag nodeagent:format-started. The restart must
        # know them as its own mkfs's and format again (not refuse the volume
        # for ever), which assert_converged then checks like any other case.
        assert b.tags().get(TAG_FORMAT_STARTED), b.tags()
        report.note("kill points", f"first boot, {point}: mkfs killed half-way, the restart formatted again")
    restart = b.boot()
    assert_converged(b, restart, killed, uuid_before=uuid)
    assert len(b.records()) == 1


@pytest.mark.parametrize("point", REPLACEMENT_POINTS, ids=repr)
def test_replacement_boot_killed_keeps_the_data(vboot, report, point):
    report("kill points", "replacement boot", point.name)
    b = vboot.prepare()
    uuid, sha = replacement_volume(b)
    killed = run_and_kill(b, point)
    assert killed.hit, f"the boot never reached {point}: {killed!r}"
    assert blkid(b.image) == uuid
    restart = b.boot()
    assert_converged(b, restart, killed, uuid_before=uuid, sha=sha)
    assert tag_calls(b.fake, TAG_FORMAT_STARTED) == []


def test_killed_while_force_detaching_a_dead_holder(vboot, report):
    report("kill points", "take-over", "force-detach")
    b = vboot.prepare(takeover=True)
    killed = run_and_kill(b, held("ec2", "DetachVolume"))
    assert killed.hit, killed
    uuid = uuid_after_kill(b)
    restart = b.boot()
    assert_converged(b, restart, killed, uuid_before=uuid)
    assert calls(b.fake, "DetachVolume", answered=True), "no force-detach"


# -- the interface boot -------------------------------------------------------------------


@pytest.mark.parametrize("point", INTERFACE_POINTS, ids=repr)
def test_interface_boot_killed_converges(net, report, point):
    report("kill points", "interface boot", point.name)
    killed = run_and_kill(net, point)
    assert killed.hit, f"the boot never reached {point}: {killed!r}"
    restart = net.boot("-v")
    assert restart.status == 0, (killed, restart)
    net.assert_converged(restart)
    assert addresses(net.ns, net.link()) == [(ENI_IP, 24)]


# -- random moments -----------------------------------------------------------------------


@pytest.mark.parametrize("iteration", range(ITERATIONS), ids=lambda i: f"seed{SEED}-{i}")
def test_killed_at_a_random_moment_converges(vboot, report, iteration):
    rng = random.Random(SEED * 1000 + iteration)
    report("kill points", f"random (seed {SEED})", f"#{iteration}")
    if iteration == 0:
        report.note("kill points", f"random kills: NODEAGENT_CRASH_SEED={SEED}, {ITERATIONS} iterations")
    print(f"NODEAGENT_CRASH_SEED={SEED} iteration {iteration}")
    b = vboot.prepare()
    replacement = rng.random() < 0.4
    uuid = sha = None
    if replacement:
        uuid, sha = replacement_volume(b)
    kills = []
    # A boot here takes about 1.5 s: kill somewhere in it, once or twice.
    for _ in range(1 + (rng.random() < 0.3)):
        delay = rng.uniform(0.05, 1.8)
        killed = run_and_kill(b, after=delay)
        kills.append((round(delay, 3), killed.hit))
        if killed.status not in (0, -signal.SIGKILL):
            raise AssertionError(f"a killed run failed on its own: {killed!r}")
        if uuid:
            assert blkid(b.image) == uuid, kills
    before = uuid or uuid_after_kill(b)
    if partial_mkfs(b):
        report.note("kill points", f"random #{iteration} (seed {SEED}), kills {kills}: mkfs killed half-way, "
                    "the restart formatted again")
    restart = b.boot()
    assert_converged(b, restart, killed, uuid_before=before, sha=sha)
    print(f"kills (delay, hit): {kills}; replacement: {replacement}")
