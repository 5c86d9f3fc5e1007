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
import signal
import subprocess
import time

import pytest

from client import FakeAws
from harness import INSTANCE, NODEAGENT, TOP, VOLUME, clean_env, run, write_config

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


# -- Restore= of a set found by Tag= + Count= (issue 16) ---------------------------------------
#
# The set's three volumes are in us-east-1a, the instance in us-east-1b. A
# set restores only from one multi-volume snapshot set (one CreateSnapshots:
# the same start time): here set A (older, complete), set B (newer, one
# member still pending) and a lone newest snapshot. The fake's loop backend
# copies <snapshot>.img as the new volume's image. This host has no kernel
# md: the array step then fails, with every restored member attached and
# its bytes as the snapshot's.

ZONE_B = "us-east-1b"
SUBNET_B = "subnet-0b0000000000000b0"
RESTORED_FROM = "nodeagent:restored-from"
REPLACED_BY = "nodeagent:replaced-by"
SET_A = ["snap-0000000000000a001", "snap-0000000000000a002", "snap-0000000000000a003"]
SET_B = ["snap-0000000000000b001", "snap-0000000000000b002", "snap-0000000000000b003"]
LONE = "snap-0000000000000c001"


def lose_the_sets_zone(node, restore, snapshots=True):
    node.configure_by_tag(3)
    with open(node.config, "a") as f:
        f.write(f"Restore={restore}\n")
    node.start(tags=dict([SET_TAG]))
    node.fake.merge_state({
        "instances": {INSTANCE: {"availability_zone": ZONE_B, "subnet_id": SUBNET_B}},
        "subnets": {SUBNET_B: {"vpc_id": "vpc-0123456789abcdef0", "cidr_block": "10.0.2.0/24",
                               "availability_zone": ZONE_B, "availability_zone_id": "use1-az2",
                               "available_ip_address_count": 249, "tags": {}}},
    })
    if not snapshots:
        return
    snaps = {}
    for start, ids, states in ((1704855600, SET_A, ["completed"] * 3),
                               (1704942000, SET_B, ["completed", "pending", "completed"]),
                               (1705028400, [LONE], ["completed"])):
        for k, (sid, state) in enumerate(zip(ids, states)):
            with open(os.path.join(node.tmp, sid + ".img"), "wb") as f:
                f.truncate(SIZE)
                f.seek(1 << 20)
                f.write(f"the data of {sid}\n".encode())
            snaps[sid] = {"volume_id": MEMBERS[k % 3], "state": state, "start_time": start, "size": 1,
                          "tags": dict([SET_TAG])}
    node.fake.merge_state({"snapshots": snaps})


def restored(node):
    """{new volume id: its world entry} of the volumes a restore made."""
    return {v: e for v, e in node.fake.state()["volumes"].items() if RESTORED_FROM in (e.get("tags") or {})}


def head_sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read(SIZE)).hexdigest()


def assert_set_restored(node, r, sources):
    """Three new volumes in us-east-1b, one per source (snapshot ids, or
    "blank" thrice), each tagged like a single restore; the old members
    tagged replaced-by (by the volume made from their own snapshot) and
    untouched; the new ones attached here, and their bytes the snapshots'."""
    __tracebackhide__ = True
    made = restored(node)
    assert sorted(e["tags"][RESTORED_FROM] for e in made.values()) == sorted(sources), made
    for vid, e in made.items():
        assert e["availability_zone"] == ZONE_B
        assert e["tags"][SET_TAG[0]] == SET_TAG[1]
        assert REPLACED_BY not in e["tags"]
        src = e["tags"][RESTORED_FROM]
        if src != "blank":
            # Never a new array over a snapshot's data (a blank set may get one).
            assert "nodeagent:initialized" not in e["tags"] and "nodeagent:format-started" not in e["tags"]
            assert e["snapshot_id"] == src
            assert head_sha256(os.path.join(node.tmp, vid.replace("-", "") + ".img")) == \
                head_sha256(os.path.join(node.tmp, src + ".img"))
    by_source = {e["tags"][RESTORED_FROM]: vid for vid, e in made.items()}
    for k, v in enumerate(MEMBERS):
        by = node.tags(v).get(REPLACED_BY)
        assert by in made, (v, node.tags(v))
        if sources[0] != "blank":
            assert by == by_source[sources[k]]
    assert sorted(attached(node)) == sorted(made)
    assert not set(attached(node)) & set(MEMBERS)
    assert node.fake.requests(service="ec2", action="DeleteVolume") == []
    return made


def test_a_set_restores_from_the_newest_complete_snapshot_set(node):
    """Restore=snapshot: set B has a pending member and the lone snapshot is
    no set of three: the set comes back from set A, as a whole."""
    before = node.digests()
    lose_the_sets_zone(node, "snapshot")
    r = node.boot()
    creates = node.fake.requests(service="ec2", action="CreateVolume")
    assert sorted(q["params"].get("SnapshotId") for q in creates) == SET_A, creates
    assert_set_restored(node, r, SET_A)
    # No kernel md here: the array step fails, and nothing is formatted.
    assert r.status != 0, r
    assert node.digests() == before
    assert not os.path.ismount(node.mount)


def test_a_set_killed_after_the_second_create_volume_converges(node):
    """The boot dies after EC2 answered two of the three CreateVolume calls
    (the third held): the next boot keeps those two, makes only the third,
    and no volume more exists."""
    lose_the_sets_zone(node, "snapshot")
    # The third CreateVolume is held (then dropped unanswered, never made).
    node.fake.fault(service="ec2", action="CreateVolume", kind="timeout", seconds=4, skip=2)
    env = clean_env(node.fake.env())
    env["NODEAGENT_STATE_FILE"] = node.state_file
    proc = subprocess.Popen([NODEAGENT, "--config", node.config, "--once"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            if len([q for q in node.fake.requests(service="ec2", action="CreateVolume") if q["status"] == 200]) >= 2:
                break
            time.sleep(0.01)
        time.sleep(1)
        assert proc.poll() is None, "the boot ended before its third CreateVolume"
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    first = restored(node)
    assert len(first) == 2, first
    assert not any(REPLACED_BY in node.tags(v) for v in MEMBERS)
    node.fake.clear_faults()

    time.sleep(4)       # the held third CreateVolume is dropped
    r = node.boot()
    made = assert_set_restored(node, r, SET_A)
    assert set(first) < set(made) and len(made) == 3
    assert r.status != 0, r


def test_a_blank_set_is_three_blank_volumes(node):
    lose_the_sets_zone(node, "blank")
    r = node.boot()
    creates = node.fake.requests(service="ec2", action="CreateVolume")
    assert len(creates) == 3 and not any(q["params"].get("SnapshotId") for q in creates), creates
    assert_set_restored(node, r, ["blank"] * 3)


def test_a_set_without_a_complete_snapshot_set_is_unusable(node):
    """Restore=snapshot, and only per-volume snapshots (no three with one
    start time, all completed): exit 4, nothing made."""
    lose_the_sets_zone(node, "snapshot")
    node.fake.merge_state({"snapshots": {SET_A[1]: {"start_time": 1704855601}}})
    r = node.boot()
    assert r.status == 4, r
    assert "no complete snapshot set" in r.stderr, r.stderr[-3000:]
    assert node.fake.requests(service="ec2", action="CreateVolume") == []
    assert restored(node) == {} and attached(node) == []


def test_a_partial_set_is_unusable_never_a_mix(node):
    """One member in this zone, two elsewhere: exit 4, nothing made."""
    lose_the_sets_zone(node, "snapshot")
    node.fake.merge_state({"volumes": {MEMBERS[0]: {"availability_zone": ZONE_B}}})
    r = node.boot()
    assert r.status == 4, r
    assert node.fake.requests(service="ec2", action="CreateVolume") == []
    assert attached(node) == []
