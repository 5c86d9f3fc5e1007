"""The volume path end to end: the agent against the fake AWS whose
AttachVolume makes a real loop device carrying the volume's serial
(harness.VolumeNode, the `node` fixture: a new volume each case, no [DNS]).
Every case asserts on the device's bytes, the mount table, the state file or
the fake's state and request log. (Kills at each step: test_crash.py.)"""

import hashlib
import os
import subprocess
import threading

import pytest

from harness import (INSTANCE, PREDECESSOR, SIZE, TAG_FORMAT_STARTED, TAG_INITIALIZED, VolumeNode, blkid, calls,
                     sha256, tag_calls)


# -- first boot and replacement


def test_first_boot_formats_mounts_and_tags(node):
    r = node.boot()
    assert r.status == 0, r
    assert node.is_mounted()
    uuid = blkid(node.image)
    assert uuid and node.tags()[TAG_INITIALIZED] == uuid
    assert node.tags()[TAG_FORMAT_STARTED] == INSTANCE
    assert (INSTANCE, "attached") in node.attachments()
    node.write_file()
    state = node.state()
    assert state["NODEAGENT_VOLUME_ID"] == node.volume_id
    assert state["NODEAGENT_MOUNT_POINT"] == node.mount
    assert state["NODEAGENT_DEVICE"] == node.device() and state["NODEAGENT_DEVICE"].startswith("/dev/loop")


def test_replacement_boot_keeps_the_data(node):
    assert node.boot().status == 0
    node.write_file(text="written by the first instance\n")
    uuid = node.tags()[TAG_INITIALIZED]
    node.release()
    node.fake.clear_requests()

    r = node.boot()
    assert r.status == 0, r
    # Not formatted again: the same filesystem, no format begun.
    assert blkid(node.image) == uuid
    assert tag_calls(node.fake, TAG_FORMAT_STARTED) == []
    assert node.read_file() == "written by the first instance\n"
    assert node.tags()[TAG_INITIALIZED] == uuid


def test_second_run_changes_nothing(node):
    assert node.boot().status == 0
    node.write_file()
    uuid = blkid(node.image)
    node.fake.clear_requests()
    r = node.boot()
    assert r.status == 0, r
    assert calls(node.fake, "AttachVolume") == [] and calls(node.fake, "CreateTags") == []
    assert blkid(node.image) == uuid
    assert node.read_file() == "the node's state\n"


def test_xfs_first_boot(vboot):
    # xfs needs about 300 MiB.
    node = vboot.prepare(dns=False, size=320 * 1024 * 1024, fs="xfs")
    r = node.boot()
    assert r.status == 0, r
    assert blkid(node.image, "TYPE") == "xfs"


# -- content that is not provably blank is never formatted


@pytest.mark.parametrize("content", ["random", "one-byte", "luks", "gpt"])
def test_unknown_content_is_refused_untouched(node, content):
    if content == "random":
        with open(node.image, "r+b") as f:
            f.write(os.urandom(SIZE))
    elif content == "one-byte":
        # Inside the last MiB, which the blank check always reads (between
        # its samples a single byte can go unseen: the design samples).
        with open(node.image, "r+b") as f:
            f.seek(SIZE - 300000)
            f.write(b"\x01")
    elif content == "luks":
        with open(node.image, "r+b") as f:
            f.write(b"LUKS\xba\xbe\x00\x02" + os.urandom(4096 - 8))
    elif content == "gpt":
        subprocess.run(["sfdisk", "--quiet", node.image], input="label: gpt\n,,L\n", text=True, check=True)
    before = sha256(node.image)
    r = node.boot()
    assert r.status == 5, r
    assert not node.is_mounted()
    assert sha256(node.image) == before
    assert TAG_INITIALIZED not in node.tags()


def test_initialized_volume_without_filesystem_is_refused(node):
    node.fake.merge_state({"volumes": {node.volume_id: {"tags": {TAG_INITIALIZED: "0000"}}}})
    before = sha256(node.image)
    r = node.boot()
    assert r.status == 5, r
    assert sha256(node.image) == before
    assert not node.is_mounted()


def test_format_never_refuses_a_blank_volume(node):
    node.configure(volume_extra="Format=never\n")
    r = node.boot()
    assert r.status == 5, r
    assert sha256(node.image) == hashlib.sha256(bytes(SIZE)).hexdigest()


# -- fsck


def make_ext4(node):
    subprocess.run(["mkfs.ext4", "-q", "-F", node.image], check=True)
    node.fake.merge_state({"volumes": {node.volume_id: {"tags": {TAG_INITIALIZED: "x"}}}})


def test_fixable_ext4_errors_are_fixed_and_mounted(node):
    make_ext4(node)
    # A wrong free-blocks count: e2fsck -p fixes it and exits 1.
    subprocess.run(["debugfs", "-w", "-R", "ssv free_blocks_count 12", node.image], check=True,
                   capture_output=True)
    r = node.boot()
    assert r.status == 0, r
    assert node.is_mounted()


def test_ext4_that_needs_a_person_is_refused(node):
    make_ext4(node)
    # A block count beyond the device: "UNEXPECTED INCONSISTENCY; RUN fsck MANUALLY" (exit 4).
    subprocess.run(["debugfs", "-w", "-R", "ssv blocks_count 99999999", node.image], check=True,
                   capture_output=True)
    # e2fsck -p itself marks the primary superblock (bytes 1024-2047) as having
    # errors; nothing else may change.
    before = sha256(node.image, skip=(1024, 2048))
    r = node.boot()
    assert r.status == 5, r
    assert not node.is_mounted()
    assert sha256(node.image, skip=(1024, 2048)) == before


# -- take-over from a predecessor


def test_waits_for_a_live_predecessor_to_release(node):
    node.held_by(PREDECESSOR, "running")
    ec2 = node.fake.botocore_client("ec2")
    timer = threading.Timer(3, lambda: ec2.detach_volume(VolumeId=node.volume_id, InstanceId=PREDECESSOR))
    timer.start()
    try:
        r = node.boot()
    finally:
        timer.cancel()
    assert r.status == 0, r
    assert node.is_mounted()
    assert r.elapsed >= 3
    # The one detach is the predecessor's (the test's); the agent waited.
    assert len(calls(node.fake, "DetachVolume")) == 1


def test_live_predecessor_past_the_timeout_is_unusable(node):
    node.held_by(PREDECESSOR, "running")
    node.configure(take_over_timeout="3s")
    r = node.boot()
    assert r.status == 4, r
    assert PREDECESSOR in r.stderr      # The contract: the message names the holder.
    assert node.attachments() == [(PREDECESSOR, "attached")]


def test_never_force_detached_from_a_running_holder(node):
    node.held_by(PREDECESSOR, "running")
    node.configure(take_over="force-detach-dead", take_over_timeout="3s")
    r = node.boot()
    assert r.status == 4, r
    assert calls(node.fake, "DetachVolume") == []


def test_force_detaches_a_terminated_holder(node):
    node.held_by(PREDECESSOR, "terminated")
    node.configure(take_over="force-detach-dead")
    r = node.boot()
    assert r.status == 0, r
    assert node.is_mounted()
    assert len(calls(node.fake, "DetachVolume")) == 1


# -- EC2 misbehaving


def test_attach_reply_lost_after_it_took_effect(node):
    node.fake.fault(service="ec2", action="AttachVolume", kind="drop_after_effect")
    r = node.boot()
    assert r.status == 0, r
    assert node.is_mounted()
    assert len(calls(node.fake, "AttachVolume")) == 2


def test_wrong_zone_is_unusable(node):
    node.fake.merge_state({"volumes": {node.volume_id: {"availability_zone": "us-east-1b"}}})
    r = node.boot()
    assert r.status == 4, r
    assert "us-east-1b" in r.stderr
    assert calls(node.fake, "AttachVolume") == []


def test_missing_volume_is_unusable(node):
    node.configure(select="Id=vol-0000000000000000a")
    r = node.boot()
    assert r.status == 4, r
    assert "vol-0000000000000000a" in r.stderr
    assert calls(node.fake, "AttachVolume") == []


def test_several_tagged_volumes_are_unusable(node):
    twin = dict(node.volume(), id="vol-0123456789abcdef1")
    node.fake.merge_state({"volumes": {"vol-0123456789abcdef1": twin}})
    node.configure(select="Tag=Cluster=kafka")
    r = node.boot()
    assert r.status == 4, r
    assert node.volume_id in r.stderr and "vol-0123456789abcdef1" in r.stderr
    assert calls(node.fake, "AttachVolume") == []


def test_device_that_never_appears_is_the_deadline(udevd, tmp_path):
    n = VolumeNode(str(tmp_path), device_delay=3600).prepare(dns=False, timeout="5s")
    try:
        r = n.boot()
        assert r.status == 6, r
        assert (INSTANCE, "attached") in n.attachments()
        assert not n.is_mounted()
    finally:
        n.stop()


# -- the manual tools


def test_attach_only_attaches_and_says_where(node):
    r = node.agent("--attach-only")
    assert r.status == 0, r
    # It names the volume and its local device.
    assert node.volume_id in r.stdout and node.device() in r.stdout
    assert not node.is_mounted()
    assert (INSTANCE, "attached") in node.attachments()


def test_detach_unmounts_and_detaches(node):
    assert node.boot().status == 0
    r = node.agent("--detach")
    assert r.status == 0, r
    assert not node.is_mounted()
    assert node.attachments() == []


def test_detach_refuses_a_busy_mount(node):
    assert node.boot().status == 0
    holder = subprocess.Popen(["sleep", "30"], cwd=node.mount)
    try:
        r = node.agent("--detach")
    finally:
        holder.kill()
        holder.wait()
    assert r.status != 0, r
    assert node.is_mounted()
    assert (INSTANCE, "attached") in node.attachments()
    assert calls(node.fake, "DetachVolume") == []
