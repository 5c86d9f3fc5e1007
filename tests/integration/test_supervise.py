"""The daemon after READY=1 (and the systemd protocol on the way there):
readiness, status, watchdog and timeout extension over a notify socket of
the test's own; losing the mount; SIGTERM with and without DetachOnStop=;
nodeagent --detach against a running daemon. The volume path alone
(harness.VolumeNode, the `node` fixture); `daemon(node)` starts the agent
without --once."""

import re
import signal
import subprocess
import threading
import time

import pytest

from harness import INSTANCE, PREDECESSOR, TAG_INITIALIZED, blkid


def test_ready_only_after_the_volume_is_mounted(node, notify, daemon):
    d = daemon(node)
    assert notify.wait_for("READY=1"), d.output()
    # What READY promises is there when it comes: mounted, tagged, the state written.
    assert node.is_mounted()
    assert node.tags().get(TAG_INITIALIZED) == blkid(node.image)
    assert node.state()["NODEAGENT_MOUNT_POINT"] == node.mount
    # The way there was told in STATUS= messages.
    ready = notify.messages.index("READY=1")
    assert any(m.startswith("STATUS=") for m in notify.messages[:ready]), notify.messages
    assert d.running()


def test_losing_the_mount_exits_1_at_once(node, notify, daemon):
    d = daemon(node)
    assert notify.wait_for("READY=1"), d.output()
    time.sleep(0.3)
    start = time.monotonic()
    subprocess.run(["umount", node.mount], check=True)
    assert d.wait(10) == 1, d.output()
    assert time.monotonic() - start < 5


def test_sigterm_keeps_the_volume_by_default(node, notify, daemon):
    d = daemon(node)
    assert notify.wait_for("READY=1"), d.output()
    d.proc.send_signal(signal.SIGTERM)
    assert d.wait(30) == 0, d.output()
    assert notify.has("STOPPING=1")
    assert node.is_mounted()
    assert (INSTANCE, "attached") in node.attachments()


def test_sigterm_with_detach_on_stop_releases_the_volume(node, notify, daemon):
    node.configure(volume_extra="DetachOnStop=yes\n")
    d = daemon(node)
    assert notify.wait_for("READY=1"), d.output()
    d.proc.send_signal(signal.SIGTERM)
    assert d.wait(60) == 0, d.output()
    assert not node.is_mounted()
    assert node.attachments() == []


@pytest.mark.parametrize("target, published", [("Terminated", False), ("InService", True), (None, True)])
def test_sigterm_unpublishes_only_when_the_group_terminates_the_instance(vboot, notify, daemon, target, published):
    """UnpublishOnStop=terminating: on SIGTERM the node leaves DNS only when
    IMDS's autoscaling/target-lifecycle-state says Terminated; a reboot or a
    standby (InService), or no Auto Scaling group at all (no such path),
    keeps the entry. The volume stays either way (DetachOnStop=no)."""
    node = vboot.prepare(dns_extra="UnpublishOnStop=terminating\n")
    if target is None:
        node.fake.merge_state({"instances": {INSTANCE: {"tags": {"aws:autoscaling:groupName": None}}}})
    d = daemon(node)
    assert notify.wait_for("READY=1"), d.output()
    assert len(node.records()) == 1
    if target:
        node.fake.merge_state({"instances": {INSTANCE: {"target_lifecycle_state": target}}})
    d.proc.send_signal(signal.SIGTERM)
    assert d.wait(60) == 0, d.output()
    assert (len(node.records()) == 1) == published, d.output()
    assert node.is_mounted()
    assert (INSTANCE, "attached") in node.attachments()


def test_detach_tells_the_daemon_first(node, notify, daemon):
    d = daemon(node)
    assert notify.wait_for("READY=1"), d.output()
    r = node.agent("--detach")
    assert r.status == 0, r
    # The daemon stood down with success (it would exit 1 had it lost its
    # mount first), and then --detach unmounted and detached.
    assert d.wait(10) == 0, d.output()
    assert not node.is_mounted()
    assert node.attachments() == []


def test_watchdog_is_fed_when_asked(node, notify, daemon):
    d = daemon(node, env={"WATCHDOG_USEC": "400000"})
    assert notify.wait_for("READY=1"), d.output()
    time.sleep(1.5)
    assert sum(1 for m in notify.messages if m == "WATCHDOG=1") >= 2


def test_take_over_wait_extends_the_start_timeout(node, notify, daemon):
    node.held_by(PREDECESSOR, "running")
    ec2 = node.fake.botocore_client("ec2")
    timer = threading.Timer(3, lambda: ec2.detach_volume(VolumeId=node.volume_id, InstanceId=PREDECESSOR))
    timer.start()
    try:
        d = daemon(node)
        assert notify.wait_for("READY=1", timeout=60), d.output()
    finally:
        timer.cancel()
    assert notify.has("EXTEND_TIMEOUT_USEC=")
    # The wait was told, naming the holder.
    assert any(PREDECESSOR in m for m in notify.messages if m.startswith("STATUS=")), notify.messages


def test_a_second_agent_waits_then_names_the_holder(node, notify, daemon):
    d = daemon(node)
    assert notify.wait_for("READY=1"), d.output()
    r = node.boot()
    assert r.status == 1, r
    assert re.search(rf"\b{d.pid}\b", r.stderr), r      # It names the process that holds the lock.
    assert d.running()
