"""The volume path end to end: the agent against the fake AWS whose
AttachVolume makes a real loop device carrying the volume's serial. Every
case asserts on the device's bytes or the fake's state."""

import hashlib
import os
import subprocess
import threading
import time

import pytest

from client import FakeAws
from conftest import INSTANCE, NODEAGENT, PREDECESSOR, VOLUME, clean_env, run, write_config

SERIAL = VOLUME.replace("-", "")
SIZE = 64 * 1024 * 1024

CONFIG = """\
[Node]
Name=kafka-1
Timeout={timeout}

[Volume]
Id={volume}
MountPoint={mount}
FileSystem={fs}
TakeOver={take_over}
TakeOverTimeout={take_over_timeout}
"""


def sha256(path, skip=None):
    """The image's hash; skip=(start, end) leaves those bytes out."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        data = f.read()
    if skip:
        data = data[:skip[0]] + data[skip[1]:]
    h.update(data)
    return h.hexdigest()


def is_mounted(path):
    with open("/proc/self/mountinfo") as f:
        return any(line.split()[4] == path for line in f)


class VolumeNode:
    """One node's volume on this machine: a backing image, a fake AWS whose
    attaches make loop devices from it, a configuration, and the agent."""

    def __init__(self, tmp, fs="ext4", device_delay=0.2):
        self.tmp = tmp
        self.image = os.path.join(tmp, SERIAL + ".img")
        self.mount = os.path.join(tmp, "mnt")
        self.state_file = os.path.join(tmp, "state")
        self.fs = fs
        with open(self.image, "wb") as f:
            f.truncate(SIZE)
        self.fake = FakeAws(backend="loopback:LoopBackend",
                            backend_opts={"volume_dir": tmp, "device_delay": device_delay})
        self.confdir = os.path.join(tmp, "etc")
        os.makedirs(self.confdir, mode=0o755)
        self.configure()

    def configure(self, timeout="40s", take_over="wait", take_over_timeout="30s", fs=None):
        self.config = write_config(self.confdir, CONFIG.format(
            timeout=timeout, volume=VOLUME, mount=self.mount, fs=fs or self.fs, take_over=take_over,
            take_over_timeout=take_over_timeout))

    def start(self):
        self.fake.start()
        self.fake.merge_state({"delays": {"volume_attach": 0.3, "volume_detach": 0.3}})
        return self

    def agent(self, *args, timeout=120):
        env = clean_env(self.fake.env())
        env["NODEAGENT_STATE_FILE"] = self.state_file
        return run([NODEAGENT, "--config", self.config, *args], env, timeout)

    def boot(self, timeout=120):
        return self.agent("--once", timeout=timeout)

    def volume(self):
        return self.fake.state()["volumes"][VOLUME]

    def attachments(self):
        return [(a.get("instance_id"), a.get("status")) for a in self.volume().get("attachments") or []]

    def tags(self):
        return self.volume().get("tags", {})

    def mkfs_count(self, result):
        return result.stderr.count("Creating") + result.stderr.count("mkfs")

    def unmount(self):
        if is_mounted(self.mount):
            subprocess.run(["umount", self.mount], check=True)

    def release(self):
        """The instance goes away: unmount and let EC2 detach it."""
        self.unmount()
        r = self.agent("--detach")
        assert r.status == 0, r

    def stop(self):
        if is_mounted(self.mount):
            subprocess.run(["umount", "-l", self.mount])
        self.fake.stop()


@pytest.fixture
def node(udevd, tmp_path):
    n = VolumeNode(str(tmp_path)).start()
    try:
        yield n
    finally:
        n.stop()


def write_file(node, name="data.txt", text="the node's state\n"):
    path = os.path.join(node.mount, name)
    with open(path, "w") as f:
        f.write(text)
    os.sync()
    return path


# -- first boot and replacement


def test_first_boot_formats_mounts_and_tags(node):
    r = node.boot()
    assert r.status == 0, r
    assert is_mounted(node.mount)
    assert node.tags().get("nodeagent:initialized"), node.tags()
    uuid = subprocess.run(["blkid", "-o", "value", "-s", "UUID", node.image], capture_output=True,
                          text=True).stdout.strip()
    assert node.tags()["nodeagent:initialized"] == uuid
    assert (INSTANCE, "attached") in node.attachments()
    write_file(node)
    with open(node.state_file) as f:
        state = f.read()
    assert f'NODEAGENT_VOLUME_ID="{VOLUME}"' in state
    assert f'NODEAGENT_MOUNT_POINT="{node.mount}"' in state
    assert 'NODEAGENT_DEVICE="/dev/loop' in state


def test_replacement_boot_keeps_the_data(node):
    assert node.boot().status == 0
    write_file(node, text="written by the first instance\n")
    uuid = node.tags()["nodeagent:initialized"]
    node.release()
    assert node.attachments() == [] or all(s == "detached" for _, s in node.attachments())

    r = node.boot()
    assert r.status == 0, r
    assert "newly formatted" not in r.stderr
    with open(os.path.join(node.mount, "data.txt")) as f:
        assert f.read() == "written by the first instance\n"
    assert node.tags()["nodeagent:initialized"] == uuid


def test_second_run_changes_nothing(node):
    assert node.boot().status == 0
    write_file(node)
    calls = len(node.fake.requests())
    r = node.boot()
    assert r.status == 0, r
    attaches = [q for q in node.fake.requests()[calls:] if q.get("action") == "AttachVolume"]
    assert attaches == []
    assert "already" in r.stderr


def test_xfs_first_boot(udevd, tmp_path):
    n = VolumeNode(str(tmp_path), fs="xfs")
    # xfs needs about 300 MiB.
    with open(n.image, "wb") as f:
        f.truncate(320 * 1024 * 1024)
    n.start()
    try:
        r = n.boot()
        assert r.status == 0, r
        assert subprocess.run(["blkid", "-o", "value", "-s", "TYPE", n.image], capture_output=True,
                              text=True).stdout.strip() == "xfs"
    finally:
        n.stop()


# -- content that is not provably blank is never formatted


def fill_random(node, offset=0, size=SIZE):
    with open(node.image, "r+b") as f:
        f.seek(offset)
        f.write(os.urandom(size))


@pytest.mark.parametrize("content", ["random", "one-byte", "luks", "gpt"])
def test_unknown_content_is_refused_untouched(node, content):
    if content == "random":
        fill_random(node)
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
    assert not is_mounted(node.mount)
    assert sha256(node.image) == before
    assert "nodeagent:initialized" not in node.tags()


def test_initialized_volume_without_filesystem_is_refused(node):
    node.fake.merge_state({"volumes": {VOLUME: {"tags": {"nodeagent:initialized": "0000"}}}})
    before = sha256(node.image)
    r = node.boot()
    assert r.status == 5, r
    assert sha256(node.image) == before
    assert not is_mounted(node.mount)


def test_format_never_refuses_a_blank_volume(node):
    node.config = write_config(node.confdir, open(node.config).read() + "Format=never\n")
    r = node.boot()
    assert r.status == 5, r
    assert sha256(node.image) == sha256_of_zeros()


def sha256_of_zeros():
    h = hashlib.sha256()
    block = bytes(1 << 20)
    for _ in range(SIZE >> 20):
        h.update(block)
    return h.hexdigest()


# -- fsck


def make_ext4(node):
    subprocess.run(["mkfs.ext4", "-q", "-F", node.image], check=True)
    node.fake.merge_state({"volumes": {VOLUME: {"tags": {"nodeagent:initialized": "x"}}}})


def test_fixable_ext4_errors_are_fixed_and_mounted(node):
    make_ext4(node)
    # A wrong free-blocks count: e2fsck -p fixes it and exits 1.
    subprocess.run(["debugfs", "-w", "-R", "ssv free_blocks_count 12", node.image], check=True,
                   capture_output=True)
    r = node.boot()
    assert r.status == 0, r
    assert is_mounted(node.mount)


def test_ext4_that_needs_a_person_is_refused(node):
    make_ext4(node)
    # The root inode cleared: e2fsck -p cannot fix that unattended.
    # A block count beyond the device: "UNEXPECTED INCONSISTENCY; RUN fsck MANUALLY" (exit 4).
    subprocess.run(["debugfs", "-w", "-R", "ssv blocks_count 99999999", node.image], check=True,
                   capture_output=True)
    # e2fsck -p itself marks the primary superblock (bytes 1024-2047) as having
    # errors; nothing else may change.
    before = sha256(node.image, skip=(1024, 2048))
    r = node.boot()
    assert r.status == 5, r
    assert "e2fsck" in r.stderr
    assert not is_mounted(node.mount)
    assert sha256(node.image, skip=(1024, 2048)) == before


# -- take-over from a predecessor


def held_by_predecessor(node, state="running"):
    node.fake.merge_state({
        "instances": {PREDECESSOR: {"state": state}},
        "volumes": {VOLUME: {"attachments": [
            {"instance_id": PREDECESSOR, "device": "/dev/sdf", "status": "attached", "attach_time": 0,
             "delete_on_termination": False}]}},
    })


def test_waits_for_a_live_predecessor_to_release(node):
    held_by_predecessor(node)
    ec2 = node.fake.botocore_client("ec2")
    timer = threading.Timer(3, lambda: ec2.detach_volume(VolumeId=VOLUME, InstanceId=PREDECESSOR))
    timer.start()
    try:
        r = node.boot()
    finally:
        timer.cancel()
    assert r.status == 0, r
    assert is_mounted(node.mount)
    assert "held by" in r.stderr
    assert r.elapsed >= 3


def test_live_predecessor_past_the_timeout_is_unusable(node):
    held_by_predecessor(node)
    node.configure(take_over_timeout="3s")
    r = node.boot()
    assert r.status == 4, r
    assert PREDECESSOR in r.stderr
    assert node.attachments() == [(PREDECESSOR, "attached")]


def test_never_force_detached_from_a_running_holder(node):
    held_by_predecessor(node, state="running")
    node.configure(take_over="force-detach-dead", take_over_timeout="3s")
    r = node.boot()
    assert r.status == 4, r
    detaches = [q for q in node.fake.requests() if q.get("action") == "DetachVolume"]
    assert detaches == []


def test_force_detaches_a_terminated_holder(node):
    held_by_predecessor(node, state="terminated")
    node.configure(take_over="force-detach-dead")
    r = node.boot()
    assert r.status == 0, r
    assert is_mounted(node.mount)
    detaches = [q for q in node.fake.requests() if q.get("action") == "DetachVolume"]
    assert len(detaches) == 1


# -- EC2 misbehaving


def test_attach_reply_lost_after_it_took_effect(node):
    node.fake.fault(service="ec2", action="AttachVolume", kind="drop_after_effect")
    r = node.boot()
    assert r.status == 0, r
    assert is_mounted(node.mount)
    attaches = [q for q in node.fake.requests() if q.get("action") == "AttachVolume"]
    assert len(attaches) == 2


def test_wrong_zone_is_unusable(node):
    node.fake.merge_state({"volumes": {VOLUME: {"availability_zone": "us-east-1b"}}})
    r = node.boot()
    assert r.status == 4, r
    assert "us-east-1b" in r.stderr


def test_missing_volume_is_unusable(node):
    node.config = write_config(node.confdir, open(node.config).read().replace(VOLUME, "vol-0000000000000000a"))
    r = node.boot()
    assert r.status == 4, r
    assert "does not exist" in r.stderr


def test_several_tagged_volumes_are_unusable(node):
    twin = dict(node.volume(), id="vol-0123456789abcdef1")
    node.fake.merge_state({"volumes": {"vol-0123456789abcdef1": twin}})
    node.config = write_config(node.confdir, open(node.config).read().replace(f"Id={VOLUME}", "Tag=Cluster=kafka"))
    r = node.boot()
    assert r.status == 4, r
    assert "vol-0123456789abcdef1" in r.stderr


def test_device_that_never_appears_is_the_deadline(udevd, tmp_path):
    n = VolumeNode(str(tmp_path), device_delay=3600).start()
    try:
        n.configure(timeout="5s")
        r = n.boot()
        assert r.status == 6, r
        assert "serial" in r.stderr
    finally:
        n.stop()


# -- the manual tools


def test_attach_only_attaches_and_says_where(node):
    r = node.agent("--attach-only")
    assert r.status == 0, r
    assert f"{VOLUME} -> /dev/loop" in r.stdout
    assert not is_mounted(node.mount)
    assert (INSTANCE, "attached") in node.attachments()


def test_detach_unmounts_and_detaches(node):
    assert node.boot().status == 0
    r = node.agent("--detach")
    assert r.status == 0, r
    assert not is_mounted(node.mount)
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
    assert "in use" in r.stderr
    assert is_mounted(node.mount)
    assert (INSTANCE, "attached") in node.attachments()


# -- crash consistency


@pytest.mark.parametrize("step", ["attach", "wait-device", "filesystem", "tag"])
def test_killed_at_a_step_converges(node, step):
    env = clean_env(node.fake.env())
    env["NODEAGENT_STATE_FILE"] = node.state_file
    proc = subprocess.Popen([NODEAGENT, "--once", "--config", node.config], env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    marker = f"volume: {step}:"
    deadline = time.monotonic() + 60
    seen = ""
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        seen += line
        if marker in line:
            proc.kill()
            break
    proc.wait()
    proc.stdout.close()
    proc.stderr.close()
    r = node.boot()
    assert r.status == 0, (seen, r)
    assert is_mounted(node.mount)
    write_file(node)
    assert node.tags().get("nodeagent:initialized")
    attaches = [a for a in node.attachments() if a[0] == INSTANCE]
    assert len(attaches) == 1
