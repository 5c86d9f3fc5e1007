"""Restore= (issue 16): a node whose volume or ENI is lost with its
availability zone comes back in the zone where its instance landed.

The volume cases run on harness.VolumeNode: the node's volume (found by
Tag=Name=kafka-1-data) lives in us-east-1a, the instance in us-east-1b.
The fake's loop backend copies <snapshot id>.img of the test's directory
as a new volume's image when CreateVolume names that snapshot, so the
snapshot's bytes are what the mount must show. The ENI cases run on
harness.NetNode: the ENI in us-east-1a's subnet, the instance in
us-east-1b's. Every assertion is on outcomes: the fake's world and request
log, the images' bytes, the mount's files, the kernel's links, addresses,
routes and rules, exit statuses and the state file."""

import calendar
import os
import signal
import subprocess
import time

import pytest

from harness import (AWSCALL, ENI, ENI_IP, INSTANCE, PREDECESSOR, TAG_FORMAT_STARTED, TAG_INITIALIZED, ZONE, addresses,
                     answered, blkid, calls, clean_env, eni_link, make_ext4, run_and_kill, run_with_hook,
                     settled_world, sha256, tag_calls, when)

TAG_KEY, TAG_VALUE = "Name", "kafka-1-data"
ZONE_A, ZONE_B = "us-east-1a", "us-east-1b"
SUBNET_B = "subnet-0b0000000000000b0"
RESTORED_FROM = "nodeagent:restored-from"
REPLACED_BY = "nodeagent:replaced-by"
KMS_KEY = "1234abcd-12ab-34cd-56ef-1234567890ab"
KMS_ARN = f"arn:aws:kms:us-east-1:123456789012:key/{KMS_KEY}"

# Snapshots carrying the node's tag: the newest completed one is the restore
# point; a newer pending one is not one yet.
SNAP_OLDER = "snap-0000000000000a001"
SNAP_NEWEST = "snap-0000000000000a002"
SNAP_PENDING = "snap-0000000000000a003"
SNAP_OTHER_NODE = "snap-0000000000000a004"
GIB = 1 << 30


# -- the node in a lost zone -----------------------------------------------------------------


def snapshot(node, sid, state="completed", start="2024-01-11T03:00:00Z", size=1, tags=None, **extra):
    """A snapshot of the node's volume in the world, and its image (its data) beside the volumes'."""
    uuid = make_ext4(os.path.join(node.dir, sid + ".img"), {"data.txt": f"the data of {sid}\n"})
    start_epoch = calendar.timegm(time.strptime(start, "%Y-%m-%dT%H:%M:%SZ"))
    node.fake.merge_state({"snapshots": {sid: {
        "volume_id": node.volume_id, "state": state, "start_time": start_epoch, "size": size,
        "tags": {TAG_KEY: TAG_VALUE} if tags is None else tags, **extra}}})
    return uuid


def lose_the_zone(vboot, restore, volume=True, old=None, snapshots=(SNAP_OLDER, SNAP_NEWEST, SNAP_PENDING),
                  volume_extra="", **settings):
    """vboot as a node whose instance runs in us-east-1b while its volume
    (tagged Name=kafka-1-data, 1 GiB, holding an ext4 of its own) is in
    us-east-1a; volume=False: no volume carries the tag at all. old: more of
    the old volume's world entry. snapshots: which of the three standard
    ones exist (SNAP_PENDING is the newest and pending)."""
    node = vboot.prepare(dns=False, select=f"Tag={TAG_KEY}={TAG_VALUE}",
                         volume_extra=f"Restore={restore}\n{volume_extra}", **settings)
    node.fake.merge_state({
        "instances": {INSTANCE: {"availability_zone": ZONE_B, "subnet_id": SUBNET_B}},
        "subnets": {SUBNET_B: {"vpc_id": "vpc-0123456789abcdef0", "cidr_block": "10.0.2.0/24",
                               "availability_zone": ZONE_B, "availability_zone_id": "use1-az2",
                               "available_ip_address_count": 249, "tags": {"Name": "kafka-b"}}},
        "volumes": {node.volume_id: dict({"size": 1}, **(old or {})) if volume else None},
    })
    node.old_uuid = make_ext4(node.image, {"data.txt": "the lost zone's data\n"}) if volume else None
    node.old_hash = sha256(node.image) if volume else None
    node.snapshot_uuids = {}
    starts = {SNAP_OLDER: "2024-01-10T03:00:00Z", SNAP_NEWEST: "2024-01-11T03:00:00Z",
              SNAP_PENDING: "2024-01-12T03:00:00Z"}
    for sid in snapshots:
        node.snapshot_uuids[sid] = snapshot(node, sid, state="pending" if sid == SNAP_PENDING else "completed",
                                            start=starts[sid])
    return node


def new_volumes(node):
    """The volumes a restore made: {id: world entry}."""
    return {vid: v for vid, v in node.fake.state()["volumes"].items() if RESTORED_FROM in (v.get("tags") or {})}


def image_of(node, vid):
    return os.path.join(node.dir, vid.replace("-", "") + ".img")


def the_new_volume(node):
    __tracebackhide__ = True
    made = new_volumes(node)
    assert len(made) == 1, made
    [(vid, vol)] = made.items()
    return vid, vol


def assert_restored(node, r, source):
    """Booted on a new volume in us-east-1b made from source (a snapshot id
    or "blank"): attached here, mounted, tagged, the state file naming it;
    the old volume tagged replaced-by and its bytes untouched. Returns the
    new volume's id."""
    __tracebackhide__ = True
    assert r.status == 0, r
    vid, vol = the_new_volume(node)
    assert vol["availability_zone"] == ZONE_B
    assert vol["tags"][RESTORED_FROM] == source
    assert vol["tags"][TAG_KEY] == TAG_VALUE
    assert [(a["instance_id"], a["status"]) for a in settled_world(node.fake)["volumes"][vid]["attachments"]] == \
        [(INSTANCE, "attached")]
    assert node.is_mounted()
    uuid = blkid(image_of(node, vid))
    assert uuid and vol["tags"][TAG_INITIALIZED] == uuid
    assert node.state()["NODEAGENT_VOLUME_ID"] == vid
    if node.old_hash:
        old = node.volume()
        assert old["tags"][REPLACED_BY] == vid, old["tags"]
        assert old["attachments"] == [] or all(a["instance_id"] != INSTANCE for a in old["attachments"])
        assert sha256(node.image) == node.old_hash
    assert calls(node.fake, "DeleteVolume") == []
    return vid


@pytest.fixture
def vrestore(vboot):
    """vboot, and afterwards the images that restores and snapshots made removed (sparse, but many)."""
    yield vboot
    vboot.stop_procs()
    vboot.unmount()
    vboot.fake.reset()
    for name in os.listdir(vboot.dir):
        if name.endswith(".img") and name != os.path.basename(vboot.image or ""):
            os.unlink(os.path.join(vboot.dir, name))


# -- Restore=snapshot and its neighbours --------------------------------------------------------


def test_snapshot_restore_in_the_new_zone(vrestore):
    node = lose_the_zone(vrestore, "snapshot")
    r = node.boot()
    vid = assert_restored(node, r, SNAP_NEWEST)

    # From the newest completed snapshot, not the newer pending one; its
    # data read back from the mount; nothing formatted: the snapshot's own
    # filesystem, grown to the volume's size.
    [create] = calls(node.fake, "CreateVolume", answered=True)
    assert create["params"]["SnapshotId"] == SNAP_NEWEST
    assert create["params"]["AvailabilityZone"] == ZONE_B
    assert create["params"].get("ClientToken")
    assert node.read_file() == f"the data of {SNAP_NEWEST}\n"
    assert blkid(image_of(node, vid)) == node.snapshot_uuids[SNAP_NEWEST]
    assert tag_calls(node.fake, TAG_FORMAT_STARTED) == []
    assert os.path.getsize(image_of(node, vid)) == 1 * GIB

    # A restart finds the restored volume in its zone: nothing made again.
    node.fake.clear_requests()
    again = node.boot()
    assert again.status == 0, again
    assert calls(node.fake, "CreateVolume") == [] and calls(node.fake, "DescribeSnapshots") == []
    assert list(new_volumes(node)) == [vid]
    assert node.read_file() == f"the data of {SNAP_NEWEST}\n"


def test_restore_no_is_unusable_as_before(vrestore):
    node = lose_the_zone(vrestore, "no")
    r = node.boot()
    assert r.status == 4, r
    assert ZONE_A in r.stderr and node.volume_id in r.stderr
    assert calls(node.fake, "CreateVolume") == [] and calls(node.fake, "CreateTags") == []
    assert new_volumes(node) == {}
    assert sha256(node.image) == node.old_hash


def test_snapshot_without_a_completed_one_is_unusable(vrestore):
    node = lose_the_zone(vrestore, "snapshot", snapshots=(SNAP_PENDING,))
    r = node.boot()
    assert r.status == 4, r
    assert calls(node.fake, "CreateVolume") == [] and calls(node.fake, "CreateTags") == []
    assert REPLACED_BY not in node.tags()


def test_blank_restore_is_formatted_and_empty(vrestore):
    node = lose_the_zone(vrestore, "blank")
    r = node.boot()
    vid = assert_restored(node, r, "blank")
    [create] = calls(node.fake, "CreateVolume", answered=True)
    assert "SnapshotId" not in create["params"]
    image = image_of(node, vid)
    assert blkid(image, "TYPE") == "ext4" and blkid(image) not in node.snapshot_uuids.values()
    assert new_volumes(node)[vid]["tags"][TAG_FORMAT_STARTED] == INSTANCE
    assert sorted(os.listdir(node.mount)) == ["lost+found"]


def test_snapshot_or_blank_without_a_snapshot_is_blank(vrestore):
    # Only a pending snapshot, and one of another node: neither is a restore point.
    node = lose_the_zone(vrestore, "snapshot-or-blank", snapshots=(SNAP_PENDING,))
    snapshot(node, SNAP_OTHER_NODE, tags={TAG_KEY: "kafka-2-data"}, start="2024-01-13T03:00:00Z")
    r = node.boot()
    vid = assert_restored(node, r, "blank")
    assert "SnapshotId" not in calls(node.fake, "CreateVolume", answered=True)[0]["params"]
    assert blkid(image_of(node, vid), "TYPE") == "ext4"
    assert sorted(os.listdir(node.mount)) == ["lost+found"]


def test_snapshot_or_blank_takes_the_snapshot_when_there_is_one(vrestore):
    node = lose_the_zone(vrestore, "snapshot-or-blank", snapshots=(SNAP_OLDER,))
    assert_restored(node, node.boot(), SNAP_OLDER)
    assert node.read_file() == f"the data of {SNAP_OLDER}\n"


# -- a lost volume that is still attached ---------------------------------------------------------


def test_lost_volume_held_by_a_running_instance_is_waited_for(vrestore):
    """Its zone half there, the old instance may still write: the restore
    waits TakeOverTimeout for it, then copies the snapshot anyway. The old
    volume is never detached."""
    node = lose_the_zone(vrestore, "snapshot", take_over_timeout="2s")
    node.held_by(PREDECESSOR, "running")
    r = node.boot()
    assert_restored(node, r, SNAP_NEWEST)
    [create] = calls(node.fake, "CreateVolume")
    first = calls(node.fake, "DescribeVolumes")[0]
    assert create["time"] - first["time"] >= 2.0, (first, create)
    asked = [q for q in calls(node.fake, "DescribeInstances") if q["params"].get("InstanceId.1") == PREDECESSOR]
    assert len(asked) >= 2, asked
    assert calls(node.fake, "DetachVolume") == []
    assert [(a["instance_id"], a["status"]) for a in node.volume()["attachments"]] == [(PREDECESSOR, "attached")]


def test_lost_volume_released_during_the_wait_is_restored_at_once(vrestore):
    node = lose_the_zone(vrestore, "snapshot", take_over_timeout="60s")
    node.held_by(PREDECESSOR, "running")

    def holder_asked(n):
        return any(q["params"].get("InstanceId.1") == PREDECESSOR for q in calls(n.fake, "DescribeInstances"))

    r, hooked = run_with_hook(node, when("the holder's state was read", holder_asked),
                              lambda: node.fake.merge_state({"volumes": {node.volume_id: {"attachments": []}}}))
    assert hooked
    assert_restored(node, r, SNAP_NEWEST)
    assert r.elapsed < 30, r
    assert calls(node.fake, "DetachVolume") == []


def test_lost_volume_of_a_terminated_holder_is_not_waited_for(vrestore):
    node = lose_the_zone(vrestore, "snapshot", take_over_timeout="60s")
    node.held_by(PREDECESSOR, "terminated")
    r = node.boot()
    assert_restored(node, r, SNAP_NEWEST)
    assert r.elapsed < 30, r
    assert calls(node.fake, "DetachVolume") == []


# -- crash safety ---------------------------------------------------------------------------------


def test_killed_after_create_volume_uses_that_volume(vrestore):
    """The boot dies right after EC2 answered CreateVolume (the new volume
    still "creating", the old one not tagged yet): the next boot finds the
    volume it made, waits for it, tags the old one, and makes no second."""
    node = lose_the_zone(vrestore, "snapshot")
    node.fake.merge_state({"delays": {"volume_create": 3}})
    killed = run_and_kill(node, answered("ec2", "CreateVolume"))
    assert killed.hit, killed
    vid, vol = the_new_volume(node)
    assert REPLACED_BY not in node.tags()
    assert node.fake.state()["volumes"][vid].get("state") == "creating"

    r = node.boot()
    assert assert_restored(node, r, SNAP_NEWEST) == vid
    assert node.read_file() == f"the data of {SNAP_NEWEST}\n"


# -- the new volume's parameters -------------------------------------------------------------------


@pytest.mark.parametrize("old, want", [
    ({"volume_type": "gp3", "size": 2, "iops": 4000, "throughput": 250, "encrypted": False},
     {"volume_type": "gp3", "size": 2, "iops": 4000, "throughput": 250, "encrypted": False, "kms": None}),
    ({"volume_type": "io2", "size": 3, "iops": 6000, "throughput": None, "encrypted": True, "kms_key_id": KMS_KEY},
     {"volume_type": "io2", "size": 3, "iops": 6000, "throughput": None, "encrypted": True, "kms": KMS_ARN}),
], ids=["gp3", "io2-encrypted"])
def test_parameters_come_from_the_lost_volume(vrestore, old, want):
    node = lose_the_zone(vrestore, "snapshot", old=old, volume_extra="Size=7\nVolumeType=st1\n")
    vid = assert_restored(node, node.boot(), SNAP_NEWEST)
    vol = node.fake.state()["volumes"][vid]
    got = {k: vol.get(k) for k in ("volume_type", "size", "iops", "throughput", "encrypted")}
    got["kms"] = vol.get("kms_key_id")
    assert got == want


def test_parameters_come_from_the_snapshot_without_a_lost_volume(vrestore):
    node = lose_the_zone(vrestore, "snapshot", volume=False, snapshots=())
    snapshot(node, SNAP_NEWEST, size=3, encrypted=True, kms_key_id=KMS_ARN)
    node.configure(volume_extra="Restore=snapshot\nVolumeType=gp2\n")
    vid = assert_restored(node, node.boot(), SNAP_NEWEST)
    vol = node.fake.state()["volumes"][vid]
    assert (vol["volume_type"], vol["size"], vol["encrypted"], vol["kms_key_id"]) == ("gp2", 3, True, KMS_ARN)
    assert node.read_file() == f"the data of {SNAP_NEWEST}\n"


def test_parameters_come_from_the_section_for_a_blank_one(vrestore):
    node = lose_the_zone(vrestore, "blank", volume=False, snapshots=(SNAP_NEWEST,),
                         volume_extra="Size=2\nVolumeType=gp2\n")
    vid = assert_restored(node, node.boot(), "blank")
    vol = node.fake.state()["volumes"][vid]
    assert (vol["volume_type"], vol["size"], vol["encrypted"]) == ("gp2", 2, False)
    assert blkid(image_of(node, vid), "TYPE") == "ext4"


# -- what --check and --status say, and that they make nothing -----------------------------------


def assert_nothing_made(fake):
    """No call that makes, tags or attaches anything went to EC2 (a DryRun,
    which only asks for the permission, is not one)."""
    __tracebackhide__ = True
    for action in ("CreateVolume", "CreateNetworkInterface", "CreateTags", "AttachVolume",
                   "AttachNetworkInterface", "DetachVolume", "DetachNetworkInterface"):
        assert [q for q in calls(fake, action) if not q["params"].get("DryRun")] == [], action


@pytest.mark.parametrize("mode", ["--check", "--status"])
def test_check_and_status_name_the_snapshot_and_make_nothing(vrestore, mode):
    node = lose_the_zone(vrestore, "snapshot")
    r = node.agent(mode)
    assert r.status == 0, r
    [line] = [x for x in r.stdout.splitlines() if SNAP_NEWEST in x]
    assert ZONE_B in line and node.volume_id in line and "restore" in line, r.stdout
    assert SNAP_PENDING not in r.stdout and SNAP_OLDER not in r.stdout
    assert_nothing_made(node.fake)
    assert new_volumes(node) == {} and REPLACED_BY not in node.tags()
    assert sha256(node.image) == node.old_hash

    # The boot then restores from the snapshot --check named.
    assert_restored(node, node.boot(), SNAP_NEWEST)
    node.fake.clear_requests()
    after = node.agent("--status")
    assert after.status == 0, after
    vid, _ = the_new_volume(node)
    assert any(vid in x for x in after.stdout.splitlines()), after.stdout
    assert any(SNAP_NEWEST in x for x in after.stdout.splitlines()), after.stdout
    assert_nothing_made(node.fake)


def test_check_says_blank_for_a_blank_restore(vrestore):
    node = lose_the_zone(vrestore, "snapshot-or-blank", snapshots=(SNAP_PENDING,))
    r = node.agent("--check")
    assert r.status == 0, r
    [line] = [x for x in r.stdout.splitlines() if "restore" in x and node.volume_id in x]
    assert "blank" in line and ZONE_B in line, r.stdout
    assert SNAP_PENDING not in r.stdout
    assert_nothing_made(node.fake)
    # The restore's permission is asked of EC2, by DryRun.
    assert [q["params"].get("DryRun") for q in calls(node.fake, "CreateVolume")] == ["true"]


@pytest.mark.parametrize("mode, status", [("--check", 4), ("--status", 4)])
def test_check_and_status_without_a_restore_point_fail_as_the_boot_would(vrestore, mode, status):
    node = lose_the_zone(vrestore, "snapshot", snapshots=(SNAP_PENDING,))
    r = node.agent(mode)
    assert r.status == status, r
    assert_nothing_made(node.fake)
    assert node.boot().status == 4


def test_detach_releases_nothing_and_makes_nothing(vrestore):
    node = lose_the_zone(vrestore, "snapshot")
    r = node.agent("--detach")
    assert r.status == 4, r
    assert_nothing_made(node.fake)
    assert new_volumes(node) == {}


def test_attach_only_restores_as_a_boot_would(vrestore):
    node = lose_the_zone(vrestore, "snapshot")
    r = node.agent("--attach-only")
    assert r.status == 0, r
    vid, vol = the_new_volume(node)
    assert vol["tags"][RESTORED_FROM] == SNAP_NEWEST
    assert [a["instance_id"] for a in settled_world(node.fake)["volumes"][vid]["attachments"]] == [INSTANCE]
    assert node.tags()[REPLACED_BY] == vid


# -- the ENI in a lost zone (NetNode: the ENI in us-east-1a's subnet, the instance in us-east-1b's) --

ENI_TAG = "kafka-1-eni"
NODE_RECORD = "kafka-1.cluster.internal."
SUBNET_B_ENTRY = {"vpc_id": "vpc-0123456789abcdef0", "cidr_block": "10.0.2.0/24", "availability_zone": ZONE_B,
                  "availability_zone_id": "use1-az2", "available_ip_address_count": 249, "tags": {"Name": "kafka-b"}}
OTHERS = "10.0.9.9"         # another node's entry in the record, there before the boot


def lose_the_enis_zone(net, mode="node", restore="create"):
    """net's instance in us-east-1b; its ENI (tagged Name=kafka-1-eni) in
    us-east-1a, published in the record (with another node's IP in shared mode)."""
    net.fake.merge_state({
        "instances": {INSTANCE: {"availability_zone": ZONE_B, "subnet_id": SUBNET_B}},
        "subnets": {SUBNET_B: SUBNET_B_ENTRY},
    })
    world = net.fake.state()
    ips = [ENI_IP] + ([OTHERS] if mode == "shared" else [])
    world["hosted_zones"][ZONE]["records"].append(
        {"Name": NODE_RECORD, "Type": "A", "TTL": 60, "ResourceRecords": [{"Value": ip} for ip in ips]})
    net.fake.set_state(world)
    net.configure(select=f"Tag=Name={ENI_TAG}", interface_extra=f"Restore={restore}\n",
                  dns_extra=f"Mode={mode}\n")
    return net


def new_enis(fake):
    return {eid: e for eid, e in fake.state()["network_interfaces"].items()
            if RESTORED_FROM in (e.get("tags") or {})}


def record_ips(fake):
    [rec] = [r for r in fake.state()["hosted_zones"][ZONE]["records"]
             if r["Name"] == NODE_RECORD and r["Type"] == "A"]
    return sorted(v["Value"] for v in rec["ResourceRecords"])


def assert_eni_restored(net, r):
    """A new ENI in us-east-1b's subnet with the old one's groups,
    description and tags, attached here, its new IP on its link; the old
    one tagged replaced-by, left where it was. Returns (id, IP)."""
    __tracebackhide__ = True
    assert r.status == 0, r
    made = new_enis(net.fake)
    assert len(made) == 1, made
    [(eid, eni)] = made.items()
    old = net.fake.state()["network_interfaces"][ENI]
    assert (eni["subnet_id"], eni["availability_zone"]) == (SUBNET_B, ZONE_B)
    assert eni["security_groups"] == old["security_groups"] and eni["description"] == old["description"]
    assert eni["tags"] == {"Name": ENI_TAG, "Cluster": "kafka", RESTORED_FROM: ENI}, eni["tags"]
    ip = eni["private_ip_address"]
    assert ip.startswith("10.0.2.") and ip != ENI_IP
    att = settled_world(net.fake)["network_interfaces"][eid]["attachment"]
    assert (att["instance_id"], att["status"]) == (INSTANCE, "attached"), att
    assert old["tags"][REPLACED_BY] == eid and old["attachment"] is None
    link = eni_link(net.ns, eni["mac_address"])
    assert link and "UP" in link["flags"], link
    assert addresses(net.ns, link["ifname"]) == [(ip, 24)]
    assert net.state()["NODEAGENT_ENI_ID"] == eid and net.state()["NODEAGENT_IP"] == ip
    assert calls(net.fake, "DeleteNetworkInterface") == []
    return eid, ip


def test_lost_eni_is_replaced_and_the_node_record_moves(net):
    lose_the_enis_zone(net)
    eid, ip = assert_eni_restored(net, net.boot())
    [create] = calls(net.fake, "CreateNetworkInterface", answered=True)
    assert create["params"]["SubnetId"] == SUBNET_B and create["params"].get("ClientToken")
    assert record_ips(net.fake) == [ip]

    # The next boot keeps the new one: nothing made again, the record as it is.
    net.fake.clear_requests()
    again = net.boot()
    assert again.status == 0, again
    assert calls(net.fake, "CreateNetworkInterface") == [] and list(new_enis(net.fake)) == [eid]
    assert record_ips(net.fake) == [ip]


def test_lost_eni_without_restore_is_unusable(net):
    lose_the_enis_zone(net, restore="no")
    r = net.boot()
    assert r.status == 4, r
    assert_nothing_made(net.fake)
    assert record_ips(net.fake) == [ENI_IP]


def test_shared_set_swaps_the_ip_under_concurrent_publishers(net):
    """The old IP leaves the shared set in the batch that adds the new one,
    while 19 other nodes publish theirs into the same set at the same time:
    every one of theirs is kept, and the old IP is gone."""
    lose_the_enis_zone(net, mode="shared")
    others = [f"10.0.3.{10 + i}" for i in range(19)]
    env = clean_env(net.fake.env())
    procs = [subprocess.Popen(["ip", "netns", "exec", net.ns, AWSCALL, "--deadline", "60s", "dns-publish", ZONE,
                               NODE_RECORD, "shared", "60", other, f"kafka-{i + 2}"],
                              env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True)
             for i, other in enumerate(others)]
    r = net.boot()
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, (out, err)
    eid, ip = assert_eni_restored(net, r)
    key = lambda a: tuple(map(int, a.split(".")))  # noqa: E731
    assert sorted(record_ips(net.fake), key=key) == sorted(others + [OTHERS, ip], key=key)
    assert ENI_IP not in record_ips(net.fake)
    # Every applied change kept the set whole: none of the agent's left the
    # old IP and the new one side by side, or either without the other's
    # neighbours (the fake applies a batch all or nothing).
    applied = [q for q in calls(net.fake, "ChangeResourceRecordSets") if q["status"] == 200]
    assert len(applied) == len(others) + 1, len(applied)


@pytest.mark.parametrize("mode", ["--check", "--status"])
def test_check_and_status_say_the_eni_would_be_replaced(net, mode):
    lose_the_enis_zone(net)
    r = net.agent(mode)
    assert r.status == 0, r
    [line] = [x for x in r.stdout.splitlines() if ENI in x and "restore" in x]
    assert SUBNET_B in line and ZONE_B in line and ENI_IP in line, r.stdout
    assert_nothing_made(net.fake)
    assert new_enis(net.fake) == {} and record_ips(net.fake) == [ENI_IP]


def test_killed_after_create_network_interface_the_next_boot_swaps_the_ip(net):
    """The boot dies right after EC2 made the new ENI, before DNS: the next
    boot finds that ENI (nodeagent:restored-from names the lost one), makes
    no second, and still takes the lost one's IP out of the shared set."""
    lose_the_enis_zone(net, mode="shared")
    killed = run_and_kill(net, answered("ec2", "CreateNetworkInterface"), args=("--once",))
    assert killed.hit, killed
    assert len(new_enis(net.fake)) == 1
    assert record_ips(net.fake) == sorted([ENI_IP, OTHERS])

    eid, ip = assert_eni_restored(net, net.boot())
    assert len(calls(net.fake, "CreateNetworkInterface", answered=True)) == 1
    assert record_ips(net.fake) == sorted([OTHERS, ip])


@pytest.mark.parametrize("mode", ["node", "shared"])
def test_sigterm_of_a_restored_node_unpublishes_its_new_address(net, notify, daemon, mode):
    """UnpublishOnStop=terminating on a node whose ENI was replaced in this
    zone: the address it published (the new ENI's) leaves the record on a
    terminating SIGTERM, and another node's stays."""
    lose_the_enis_zone(net, mode=mode)
    net.configure(select=f"Tag=Name={ENI_TAG}", interface_extra="Restore=create\n",
                  dns_extra=f"Mode={mode}\nUnpublishOnStop=terminating\n")
    d = daemon(net)
    assert notify.wait_for("READY=1", timeout=60), d.output()
    ip = net.state()["NODEAGENT_IP"]
    assert ip != ENI_IP and record_ips(net.fake) == sorted([ip] + ([OTHERS] if mode == "shared" else []))
    net.fake.merge_state({"instances": {INSTANCE: {"target_lifecycle_state": "Terminated"}}})
    d.proc.send_signal(signal.SIGTERM)
    assert d.wait(60) == 0, d.output()
    if mode == "shared":
        assert record_ips(net.fake) == [OTHERS], d.output()
    else:
        assert not [r for r in net.fake.state()["hosted_zones"][ZONE]["records"] if r["Name"] == NODE_RECORD], \
            d.output()
