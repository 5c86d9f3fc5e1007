"""The VM scenario of a striped set restored in another zone (issues 15 and 16 of the tracker).

`stripe-restore`: stripe-node's 3-member RAID 0 set lived in us-east-1a; the
zone is lost and the Auto Scaling group launched the replacement in
us-east-1b. EC2 holds one multi-volume snapshot set of the members (one
CreateSnapshots: the same StartTime, the set's tag, completed), made from
stripe-node's final member images, and beside it a lone newer snapshot of
one member. With `[Volume:stripe] Tag=... Count=3 Stripe=raid0
Restore=snapshot` the agent creates the three members in us-east-1b from
the set (never from the lone snapshot: per-volume snapshots of a RAID 0 are
not consistent with each other), attaches them, assembles the array (the
same array UUID), checks and mounts its filesystem without formatting, and
the data stripe-node wrote through the array reads back. The old members
are tagged nodeagent:replaced-by= and otherwise untouched.

The host has no kernel md: this is where a restored set is assembled for
real (tests/integration/test_stripe.py stops at the array step). One guest
boot; the guest is judged from outside, as in scenarios.py, and by what it
prints.
"""

import os
import subprocess
import time

from harness import TestFailure, copy_sparse, load_json, message_of, say, sha256_file

OLD_ZONE = "us-east-1a"
NEW_ZONE = "us-east-1b"
SET_TAG = ("Name", "kafka-1-stripe")
INSTANCE = "i-0ddddddddddddddd0"
# One CreateSnapshots of the three members (index k: of member k), and a
# lone snapshot of member 1 taken later (an operator's, or a per-volume
# policy's): complete, tagged, the newest of all, and no set.
SNAP_SET = [f"snap-0d{'0' * 14}{k}" for k in range(3)]
SNAP_LONE = f"snap-0e{'0' * 14}1"
RESTORED_TAG = "nodeagent:restored-from"
REPLACED_TAG = "nodeagent:replaced-by"
CREATE_DELAY = 3        # seconds a new volume stays "creating", as on EC2

USER_DATA = """#nodeagent
[Node]
Name={node}
Timeout=10min

[Volume:stripe]
Tag={tag_key}={tag_value}
Count=3
Stripe=raid0
Restore=snapshot
FileSystem=ext4
MountPoint={mount_point}
"""


def fs_uuid_in_member(path):
    """The UUID of the filesystem on a RAID 0 array, read from its first member's image on this host (no
    kernel md): the ext4 superblock lies in the array's first chunk, at the member's data offset."""
    kv = {}
    for line in subprocess.run(["mdadm", "--examine", path], capture_output=True, text=True).stdout.splitlines():
        k, sep, v = line.partition(" : ")
        if sep:
            kv[k.strip()] = v.strip()
    sectors = kv.get("Data Offset", "").split(" ")[0]
    if kv.get("Device Role") != "Active device 0" or not sectors.isdigit():
        return None
    proc = subprocess.run(["blkid", "-p", "-o", "value", "-s", "UUID", "-O", str(int(sectors) * 512), path],
                          capture_output=True, text=True)
    return proc.stdout.strip() or None


def lost_zone_world(before, R):
    """stripe-node's final world after its zone went: the instance replaced in us-east-1b, the members
    still in us-east-1a and detached, tagged as a set, and the snapshots."""
    world = R.replaced_world(before, INSTANCE)
    inst = world["instances"][INSTANCE]
    inst["availability_zone"] = NEW_ZONE
    world["subnets"][inst["subnet_id"]].update(availability_zone=NEW_ZONE, availability_zone_id="use1-az2")
    for eni in world["network_interfaces"].values():
        if eni.get("subnet_id") == inst["subnet_id"]:
            eni["availability_zone"] = NEW_ZONE
    for v in R.STRIPE:
        world["volumes"][v]["availability_zone"] = OLD_ZONE
        world["volumes"][v]["tags"][SET_TAG[0]] = SET_TAG[1]
    world["imds"]["user_data"] = USER_DATA.format(node=R.NODE, tag_key=SET_TAG[0], tag_value=SET_TAG[1],
                                                  mount_point=R.MOUNTS["stripe"])
    world["delays"]["volume_create"] = CREATE_DELAY
    now = int(time.time())
    snaps = [(sid, R.STRIPE[k], now - 86400) for k, sid in enumerate(SNAP_SET)]
    snaps.append((SNAP_LONE, R.STRIPE[1], now - 3600))
    for sid, vol, started in snaps:
        world["snapshots"][sid] = {"volume_id": vol, "state": "completed", "start_time": started, "size": 1,
                                   "description": "kafka-1 stripe", "tags": {SET_TAG[0]: SET_TAG[1]}}
    return world


def register(scenario, S, R):
    """Adds `stripe-restore`; S is scenarios.py, R raid_scenarios.py (stripe-node's names and helpers)."""

    @scenario("stripe-restore")
    def stripe_restore(s, shared):
        src = os.path.join(shared, "stripe-node-world.json")
        if not os.path.exists(src):
            raise TestFailure("needs what a passing stripe-node leaves (run it first)")
        node = load_json(os.path.join(shared, "stripe-node.json"))
        world = lost_zone_world(load_json(src), R)
        # The old members' bytes, and the snapshots' (<snapshot id>.img is what the backend copies):
        # the set's from each member's final image, the lone one a copy of member 1's.
        for v in R.STRIPE:
            copy_sparse(os.path.join(shared, f"stripe-node-{v}.img"), s.volume(v))
        for sid, snap in world["snapshots"].items():
            copy_sparse(os.path.join(shared, f"stripe-node-{snap['volume_id']}.img"),
                        os.path.join(s.volume_dir, sid + ".img"))
        old_digests = {v: sha256_file(s.volume(v)) for v in R.STRIPE}
        fs_uuid = fs_uuid_in_member(s.volume(R.STRIPE[0]))
        md_device = f"/dev/md/{R.NODE}-stripe"

        s.start_fake(world)
        # No [Volume]: the application stand-in, which writes under [Volume]'s mount point, stays off.
        vm = s.vm("vms3", world, cmdline=["systemd.mask=app.service"])
        vm.wait_up()
        vm.wait_boot_settled()
        _, data = vm.run(f"cat {R.MOUNTS['stripe']}/node-data", timeout=30)
        _, md = vm.run(f"mdadm --detail --export {md_device}; echo FS=$(blkid -o value -s UUID {md_device})",
                       timeout=60)
        final = S.finish_vm(s, vm)
        c = s.checks
        md = dict(l.split("=", 1) for l in md.splitlines() if "=" in l)

        agent = vm.units().get("nodeagent.service", {})
        c.eq((agent.get("ActiveState"), agent.get("SubState"), agent.get("NRestarts")), ("active", "running", "0"),
             "nodeagent.service is active (READY=1 sent), no restart")
        S.judge_agent_log(c, vm)

        # EC2: three new volumes in this zone, one from each snapshot of the set; the lone one unused.
        reqs = s.fake.requests()
        creates = [(r["status"], (r.get("params") or {}).get("SnapshotId"),
                    (r.get("params") or {}).get("AvailabilityZone")) for r in reqs if r["action"] == "CreateVolume"]
        c.eq(sorted(creates), [(200, sid, NEW_ZONE) for sid in SNAP_SET],
             f"three CreateVolume in {NEW_ZONE}, one from each snapshot of the set")
        c.check(all(sid != SNAP_LONE for _, sid, _ in creates), f"the lone newer snapshot {SNAP_LONE} of one "
                "member (no set) is not used", creates)
        new = {v: e for v, e in final["volumes"].items() if v not in world["volumes"]}
        by_snap = {e.get("snapshot_id"): v for v, e in new.items()}
        c.eq(sorted(by_snap), SNAP_SET, "EC2: three new volumes, from the set's snapshots")
        for sid, v in sorted(by_snap.items()):
            e = new[v]
            tags = e.get("tags") or {}
            atts = e.get("attachments") or []
            c.check(e.get("availability_zone") == NEW_ZONE and tags.get(RESTORED_TAG) == sid
                    and tags.get(SET_TAG[0]) == SET_TAG[1] and S.FORMAT_TAG not in tags
                    and len(atts) == 1 and atts[0]["instance_id"] == INSTANCE and atts[0]["status"] == "attached",
                    f"{v}: in {NEW_ZONE}, tagged {RESTORED_TAG}={sid} and {SET_TAG[0]}={SET_TAG[1]}, not "
                    f"{S.FORMAT_TAG}, attached here", e)
        c.eq({v: (new[v].get("tags") or {}).get(S.INIT_TAG) for v in new}, {v: node["uuid"] for v in new},
             f"every new member tagged {S.INIT_TAG}=<the array's UUID> once mounted")

        # The old members: each tagged with the volume made from its own snapshot, otherwise untouched.
        was = {v: final["volumes"][v] for v in R.STRIPE}
        c.eq({v: (e["tags"].get(REPLACED_TAG), e.get("availability_zone"), e.get("attachments"))
              for v, e in was.items()},
             {v: (by_snap.get(SNAP_SET[k]), OLD_ZONE, []) for k, v in enumerate(R.STRIPE)},
             f"each old member tagged {REPLACED_TAG}=<the volume from its snapshot>, still in {OLD_ZONE}, detached")
        touched = [r["action"] for r in reqs if r["action"] in ("AttachVolume", "DetachVolume", "DeleteVolume",
                                                                "ModifyVolume")
                   and set(R.STRIPE) & set((r.get("params") or {}).values())]
        c.eq(touched, [], "no attach, detach, delete or change of an old member")
        c.eq({v: sha256_file(s.volume(v)) for v in R.STRIPE}, old_digests, "the old members' bytes are unchanged")

        # The array: assembled from the new members under its stable name, the same UUID, each member in
        # the place its snapshot's volume had; its filesystem the node's (nothing formatted), data read back.
        env = vm.state_env()
        c.eq((env.get("NODEAGENT_VOLUME_STRIPE_DEVICE"), sorted((env.get("NODEAGENT_VOLUME_STRIPE_ID") or "").split()),
              env.get("NODEAGENT_VOLUME_STRIPE_MOUNT_POINT")),
             (md_device, sorted(new), R.MOUNTS["stripe"]), "the state's set keys: the stable name, the new members")
        c.eq((md.get("MD_LEVEL"), md.get("MD_DEVICES"), R.array_uuid_of(s.volume(by_snap.get(SNAP_SET[0], "x")))),
             ("raid0", "3", node["uuid"]), f"{md_device}: RAID 0 of three, stripe-node's array UUID")
        c.eq([R.examine_image(s.volume(by_snap.get(sid, "x"))).get("Device Role") for sid in SNAP_SET],
             [f"Active device {k}" for k in range(3)], "each new member holds the place of the member its "
             "snapshot was taken of (mdadm --examine on this host)")
        mounted = [m for m in vm.mounts() if m[0] == R.MOUNTS["stripe"]]
        c.check(len(mounted) == 1 and mounted[0][1].startswith("/dev/md") and mounted[0][2] == "ext4",
                f"{R.MOUNTS['stripe']} is mounted once, from the array, ext4", mounted)
        c.check(fs_uuid and md.get("FS") == fs_uuid, "the array's filesystem is stripe-node's (UUID): nothing "
                "formatted", f"{md.get('FS')} vs {fs_uuid}")
        c.eq(data.strip(), "first node, stripe", "the data stripe-node wrote through the array reads back")

        lines = [message_of(e) for e in vm.unit_journal() if e.get("SYSLOG_IDENTIFIER") == "nodeagent"]
        restore = [m for m in lines if "restore" in m or "snapshot set" in m]
        say("agent's restore lines:\n      " + "\n      ".join(restore))
        # Assembled by the agent (its decision says why: the members restored from the node's snapshot set),
        # or udev's mdadm --incremental was first and the agent adopted that array: either, never created.
        arrays = [m for m in lines if "array" in m]
        c.check(any(f"is array {node['uuid']}" in m and m.rstrip(".").endswith(("assembled)", "adopted)"))
                    for m in lines)
                and (any("restored from the node's snapshot set" in m for m in lines)
                     or any("already runs as" in m for m in lines)),
                "the journal: the array assembled (restored from the node's snapshot set) or adopted from udev, "
                "not created", arrays[-6:])
        c.check(any("restored from a snapshot, its first check" in m for m in lines),
                "the journal says the restored filesystem is checked first (EXTEND_TIMEOUT while it runs)",
                [m for m in lines if "filesystem" in m][-6:])
        c.check(not [m for m in lines if "mkfs" in m.lower() or "formatting" in m.lower()],
                "no format in the agent's journal", [m for m in lines if "mkfs" in m.lower()])
        c.note(f"time to READY of the set's restore (TCG, CreateVolume {CREATE_DELAY}s to available): "
               f"{R.ready_seconds(vm)}s; phases: {env.get('NODEAGENT_BOOT_PHASES', '')}")

    return stripe_restore
