"""Striped sets on this host, whose kernel has no md: what the agent does
before any array exists. A set whose members are all there but one holds
something not nodeagent's is refused (exit 5) with every member's bytes as
they were; a set with a member missing is unusable (exit 4). Members carry
md superblocks made in a VM guest (tests/system/raid-fixtures) where a case
needs them. Creating and assembling arrays is the VM suite's
(tests/vm/raid_scenarios.py)."""

import hashlib
import os
import shutil
import subprocess

import pytest

from client import FakeAws
from harness import NODEAGENT, TOP, VOLUME, clean_env, run, write_config

SIZE = 16 * 1024 * 1024
MEMBERS = ["vol-0a000000000000000", "vol-0a000000000000001", "vol-0a000000000000002"]
FIXTURES = os.path.join(TOP, "tests", "system", "raid-fixtures")

CONFIG = """\
[Node]
Name=kafka-1
Timeout=40s

[Volume:stripe]
{lookup}
Stripe=raid0
MountPoint={mount}
"""
SET_TAG = ("nodeagent:volume", "kafka-1-stripe")


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def from_fixture(name, path):
    """A member image from an md fixture (size, then the sectors that are not zeros, as hex)."""
    with open(os.path.join(FIXTURES, name + ".hex")) as src, open(path, "r+b") as dst:
        for line in src:
            if line.startswith("#") or line.startswith("size "):
                continue
            offset, data = line.split()
            dst.seek(int(offset))
            dst.write(bytes.fromhex(data))


class StripeNode:
    def __init__(self, tmp):
        self.tmp = tmp
        self.mount = os.path.join(tmp, "mnt")
        self.state_file = os.path.join(tmp, "state")
        self.images = {v: os.path.join(tmp, v.replace("-", "") + ".img") for v in MEMBERS}
        for path in self.images.values():
            with open(path, "wb") as f:
                f.truncate(SIZE)
        self.fake = FakeAws(backend="loopback:LoopBackend", backend_opts={"volume_dir": tmp, "device_delay": 0.2})
        self.confdir = os.path.join(tmp, "etc")
        os.makedirs(self.confdir, mode=0o755)
        self.configure(MEMBERS)

    def configure(self, ids):
        self.config = write_config(self.confdir, CONFIG.format(lookup="Id=" + " ".join(ids), mount=self.mount))

    def configure_by_tag(self, count):
        lookup = f"Tag={SET_TAG[0]}={SET_TAG[1]}\nCount={count}"
        self.config = write_config(self.confdir, CONFIG.format(lookup=lookup, mount=self.mount))

    def start(self, tags=None):
        self.fake.start()
        template = self.fake.state()["volumes"][VOLUME]
        volumes = {v: dict(template, size=1, attachments=[], tags=dict(tags or {})) for v in MEMBERS}
        self.fake.merge_state({"volumes": volumes, "delays": {"volume_attach": 0.3, "volume_detach": 0.3}})
        return self

    def boot(self):
        env = clean_env(self.fake.env())
        env["NODEAGENT_STATE_FILE"] = self.state_file
        return run([NODEAGENT, "--config", self.config, "--once"], env, 120)

    def digests(self):
        return {v: sha256(p) for v, p in self.images.items()}

    def tags(self, v):
        return self.fake.state()["volumes"][v].get("tags", {})

    def stop(self):
        subprocess.run(["umount", "-l", self.mount], stderr=subprocess.DEVNULL)
        self.fake.stop()


@pytest.fixture
def node(udevd, tmp_path):
    if not shutil.which("mdadm"):
        pytest.skip("needs mdadm")
    n = StripeNode(str(tmp_path))
    try:
        yield n
    finally:
        n.stop()


def refused_untouched(node, r, what):
    assert r.status == 5, r
    assert what in r.stderr, r.stderr[-3000:]
    assert not os.path.ismount(node.mount)
    for v in MEMBERS:
        assert "nodeagent:format-started" not in node.tags(v), v
        assert "nodeagent:initialized" not in node.tags(v), v


def test_member_with_raw_data_is_refused_untouched(node):
    with open(node.images[MEMBERS[1]], "r+b") as f:
        f.seek(512 * 1024)
        f.write(os.urandom(4096))
    before = node.digests()
    node.start()
    r = node.boot()
    refused_untouched(node, r, "does not read as zeros")
    assert node.digests() == before


def test_member_with_a_filesystem_is_refused_untouched(node):
    subprocess.run(["mkfs.ext4", "-q", "-F", node.images[MEMBERS[2]]], check=True)
    before = node.digests()
    node.start()
    r = node.boot()
    refused_untouched(node, r, "ext4 filesystem")
    assert node.digests() == before


def array_uuid(image):
    out = subprocess.run(["mdadm", "--examine", image], capture_output=True, text=True).stdout
    return next(l.split(" : ")[1].strip() for l in out.splitlines() if "Array UUID" in l)


def test_member_of_another_array_is_refused_untouched(node):
    # Two members of nodeagent's array, one of another, tagged as nodeagent
    # tags the members of an array it made.
    from_fixture("ours-0", node.images[MEMBERS[0]])
    from_fixture("ours-1", node.images[MEMBERS[1]])
    from_fixture("other-0", node.images[MEMBERS[2]])
    before = node.digests()
    node.start(tags={"nodeagent:initialized": array_uuid(node.images[MEMBERS[0]])})
    r = node.boot()
    assert r.status == 5, r
    assert "not to nodeagent's RAID 0 array" in r.stderr, r.stderr[-3000:]
    assert node.digests() == before


def test_an_array_nodeagent_did_not_make_is_refused(node):
    # Superblocks named like the section's array, but no member tagged.
    for i, v in enumerate(MEMBERS):
        from_fixture(f"ours-{i}", node.images[v])
    before = node.digests()
    node.start()
    r = node.boot()
    assert r.status == 5, r
    assert "did not make this array" in r.stderr, r.stderr[-3000:]
    assert node.digests() == before


def test_members_listed_out_of_their_places_are_refused(node):
    for i, v in enumerate(MEMBERS):
        from_fixture(f"ours-{i}", node.images[v])
    node.configure([MEMBERS[1], MEMBERS[0], MEMBERS[2]])
    before = node.digests()
    node.start(tags={"nodeagent:initialized": array_uuid(node.images[MEMBERS[0]])})
    r = node.boot()
    assert r.status == 5, r
    assert "another order" in r.stderr, r.stderr[-3000:]
    assert node.digests() == before


def test_a_member_missing_is_unusable(node):
    before = node.digests()
    node.configure(MEMBERS[:2] + ["vol-0a00000000000000f"])
    node.start()
    r = node.boot()
    assert r.status == 4, r
    assert node.digests() == before
    assert not os.path.ismount(node.mount)


def attached(node):
    return sorted({q["params"]["VolumeId"] for q in node.fake.requests(service="ec2", action="AttachVolume")})


def test_a_set_by_tag_and_count_attaches_every_member(node):
    """Tag= + Count=3: the three tagged volumes are the set (each attached
    and proven); one holding raw data refuses the set as with Id=."""
    with open(node.images[MEMBERS[1]], "r+b") as f:
        f.seek(512 * 1024)
        f.write(os.urandom(4096))
    before = node.digests()
    node.configure_by_tag(3)
    node.start(tags=dict([SET_TAG]))
    r = node.boot()
    refused_untouched(node, r, "does not read as zeros")
    assert attached(node) == MEMBERS
    assert node.digests() == before


@pytest.mark.parametrize("count", [2, 4])
def test_a_set_by_tag_of_another_size_is_unusable(node, count):
    """Tag= + Count= where the tag is on more or fewer volumes than Count=:
    exit 4, and not one member attached (a set is all or nothing)."""
    before = node.digests()
    node.configure_by_tag(count)
    node.start(tags=dict([SET_TAG]))
    r = node.boot()
    assert r.status == 4, r
    assert attached(node) == []
    assert node.digests() == before
    assert not os.path.ismount(node.mount)
