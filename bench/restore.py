#!/usr/bin/python3
"""Time to READY of a restore from a snapshot (issue 16) against a plain
replacement boot, both in the fake's EC2-like latency profile.

    sudo flock /tmp/nodeagent-integration.lock /usr/bin/python3 bench/restore.py [--repeat 3] [--seed N]

The baseline, measured in the same run: a plain replacement. The node's
volume is in this instance's AZ, detached, holding its ext4 and tagged
nodeagent:initialized: find, attach, wait for the device, fsck, mount.

The restore: the same node's volume is in another AZ and the node's newest
completed snapshot (a pending newer one beside it) is in the world, with
Restore=snapshot: find, DescribeSnapshots, CreateVolume from the snapshot,
wait until EC2 says "available" (the profile's volume_create), then the same
attach, fsck and mount, and CreateTags on the lost volume.

Both run on tests/integration/harness.py's VolumeNode (the loop backend:
the new volume's image is a copy of the snapshot's), [Volume] alone, with
`nodeagent --once`; the attach takes the profile's volume_attach, every API
call the profile's latency. Boots alternate, so that the machine's load
falls on both alike. Prints each boot, the medians and the ratio restore /
plain; what a restore adds is about the creating -> available wait and three
calls (DescribeSnapshots, CreateVolume, CreateTags), each 80-150 ms.
"""

import argparse
import calendar
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(TOP, "tests", "integration"))

from bench import Profile  # noqa: E402
from harness import INSTANCE, TAG_INITIALIZED, VolumeNode, make_ext4  # noqa: E402

TAG = ("Name", "kafka-1-data")
ZONE_B, SUBNET_B = "us-east-1b", "subnet-0b0000000000000b0"
SNAPSHOT, PENDING = "snap-0000000000000b001", "snap-0000000000000b002"


def epoch(text):
    return calendar.timegm(time.strptime(text, "%Y-%m-%dT%H:%M:%SZ"))


def prepare(node, profile, restore):
    """node as a replacement instance: its volume holds the node's ext4;
    restore: the volume in us-east-1a and the instance in us-east-1b, the
    node's snapshots in the world."""
    t = profile.transitions
    node.prepare(dns=False, select=f"Tag={TAG[0]}={TAG[1]}", take_over="wait",
                 volume_extra="Restore=snapshot\n" if restore else "")
    uuid = make_ext4(node.image, {"data.txt": "the node's data\n"})
    node.fake.merge_state({
        "delays": {"volume_attach": t["volume_attach"], "volume_create": t["volume_create"]},
        "volumes": {node.volume_id: {"size": 1, "tags": {TAG[0]: TAG[1], TAG_INITIALIZED: uuid}}},
    })
    if not restore:
        return
    make_ext4(os.path.join(node.dir, SNAPSHOT + ".img"), {"data.txt": "the snapshot's data\n"})
    node.fake.merge_state({
        "instances": {INSTANCE: {"availability_zone": ZONE_B, "subnet_id": SUBNET_B}},
        "subnets": {SUBNET_B: {"vpc_id": "vpc-0123456789abcdef0", "cidr_block": "10.0.2.0/24",
                               "availability_zone": ZONE_B, "availability_zone_id": "use1-az2",
                               "available_ip_address_count": 249, "tags": {}}},
        "snapshots": {
            SNAPSHOT: {"volume_id": node.volume_id, "state": "completed", "size": 1,
                       "start_time": epoch("2024-01-11T03:00:00Z"), "tags": {TAG[0]: TAG[1]}},
            PENDING: {"volume_id": node.volume_id, "state": "pending", "size": 1,
                      "start_time": epoch("2024-01-12T03:00:00Z"), "tags": {TAG[0]: TAG[1]}},
        },
    })


def boot(node, restore):
    """One boot: its time from exec to exit, checked for what it must have done."""
    node.fake.set_latency_profile(None)
    node.fake.clear_requests()
    node.fake.set_latency_profile(node.profile_latency)
    start = time.monotonic()
    r = node.boot()
    elapsed = time.monotonic() - start
    node.fake.set_latency_profile(None)
    if r.status != 0:
        raise SystemExit(f"{'restore' if restore else 'plain'} boot failed: {r!r}")
    made = [q for q in node.fake.requests(action="CreateVolume") if q["status"] == 200]
    if restore != bool(made) or (restore and made[0]["params"].get("SnapshotId") != SNAPSHOT):
        raise SystemExit(f"the boot did not do what it measures: CreateVolume {made}")
    with open(os.path.join(node.mount, "data.txt")) as f:
        want = "the snapshot's data\n" if restore else "the node's data\n"
        if f.read() != want:
            raise SystemExit("the mount does not hold the expected data")
    return elapsed


def cleanup(node):
    node.stop_procs()
    node.unmount()
    node.fake.reset()
    for name in os.listdir(node.dir):
        if name.endswith(".img") and os.path.join(node.dir, name) != node.image:
            os.unlink(os.path.join(node.dir, name))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeat", type=int, default=3, help="boots of each kind (default 3)")
    p.add_argument("--seed", type=int, help="the profile's seed (default: bench/profile.json's)")
    p.add_argument("--profile", default=os.path.join(HERE, "profile.json"))
    p.add_argument("--json", help="write the figures here too")
    args = p.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("needs root: loop devices and udev")
    if subprocess.run(["udevadm", "control", "--ping"], capture_output=True).returncode != 0:
        raise SystemExit("needs a running udevd (systemd-udevd)")

    profile = Profile(args.profile, args.seed)
    t = profile.transitions
    tmp = tempfile.mkdtemp(prefix="nodeagent-bench-restore-")
    node = VolumeNode(tmp, device_delay=t["volume_attach"])
    node.profile_latency = profile.latency
    times = {"plain": [], "restore": []}
    try:
        for i in range(args.repeat):
            for kind in ("plain", "restore"):
                prepare(node, profile, kind == "restore")
                took = boot(node, kind == "restore")
                times[kind].append(took)
                print(f"  {kind:8} boot {i + 1}: {took:6.2f} s", flush=True)
                cleanup(node)
    finally:
        cleanup(node)
        node.stop()
        shutil.rmtree(tmp, ignore_errors=True)

    plain, restore = statistics.median(times["plain"]), statistics.median(times["restore"])
    print(f"\nprofile {os.path.relpath(args.profile, TOP)}, seed {profile.seed}: volume_attach "
          f"{t['volume_attach']:.2f} s, volume_create {t['volume_create']:.2f} s, API calls "
          f"{profile.latency['rules'][-1]['seconds']} s")
    print(f"time to READY, median of {args.repeat}:")
    print(f"  plain replacement (baseline)   {plain:6.2f} s")
    print(f"  restore from a snapshot        {restore:6.2f} s   ratio {restore / plain:.2f}, "
          f"+{restore - plain:.2f} s (volume_create {t['volume_create']:.2f} s)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"seed": profile.seed, "transitions": t, "boots": times,
                       "median": {"plain": plain, "restore": restore}, "ratio": restore / plain}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
