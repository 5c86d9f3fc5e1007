"""The VM scenario of issue 16 (tracker; DESIGN.md's issue 13): a node whose zone is lost.

`restore`: the node's volume is in us-east-1a, detached (its instance went
with the zone), and the Auto Scaling group launched the replacement in
us-east-1b. With `[Volume] Tag=... Restore=snapshot` the agent creates a
volume in us-east-1b from the newest *completed* snapshot carrying the
node's tag (an older completed one and a newer pending one beside it), the
QEMU backend gives the guest that snapshot's bytes under the new volume's
serial (tests/fakeaws/qemu.py, on_create_volume), and the node comes up on
it: mounted, not formatted, the application reading the snapshot's data.

One guest boot. The images are made on the host with `mkfs.ext4 -d` (no
mount); the guest is judged from outside, as in scenarios.py.
"""

import hashlib
import os
import shutil
import subprocess
import time

from harness import blkid, debugfs_cat, make_blank_volume, message_of, say, sha256_file

OLD_ZONE = "us-east-1a"
NEW_ZONE = "us-east-1b"
NODE_TAG = ("Name", "kafka-1-data")
FS_UUID = "5b0c7f0e-3a51-4d8e-9c2a-6e1f0d4b7a93"   # the node's filesystem: in the old volume and every snapshot
SNAP_OLDER = "snap-0aaaaaaaaaaaaaaa1"   # completed, three days old
SNAP_NEWEST = "snap-0aaaaaaaaaaaaaaa2"  # completed, a day old: the one to restore from
SNAP_PENDING = "snap-0aaaaaaaaaaaaaaa3"  # the newest of all, still pending: not usable
RESTORED_TAG = "nodeagent:restored-from"
REPLACED_TAG = "nodeagent:replaced-by"
CREATE_DELAY = 3        # seconds a new volume stays "creating", as on EC2

USER_DATA = """#nodeagent
[Node]
Name=kafka-1
Timeout=10min

[Volume]
Tag={tag_key}={tag_value}
MountPoint={mount_point}
FileSystem=ext4
Restore=snapshot

[DNS]
HostedZoneId={zone}
Name={record}
"""


def _image(path, size, files, label):
    """An ext4 volume image of size bytes holding files ({name: text}), the node's filesystem UUID."""
    seed = path + ".seed"
    os.makedirs(seed, exist_ok=True)
    for name, text in files.items():
        with open(os.path.join(seed, name), "w") as f:
            f.write(text)
    make_blank_volume(path, size)
    subprocess.run(["mkfs.ext4", "-q", "-F", "-U", FS_UUID, "-L", label, "-d", seed, path], check=True)
    shutil.rmtree(seed)


def _contents(snapshot, when):
    """What the node's volume held when that snapshot was taken: its data and the application's log."""
    data = f"kafka-1 partition data as of {snapshot} ({when})\n"
    log = f"boot=0 instance=i-0fedcba9876543210 ip=10.0.1.5 nodeagent=active data=none snapshot={snapshot}\n"
    return {"app-data": data, "app-journal.log": log}


def register(scenario, S):
    """Adds `restore` to scenarios.py's table; S is scenarios.py (its constants and judgements)."""

    @scenario("restore")
    def restore(s, shared):
        world = S.base_world()
        me = world["self"]
        inst = world["instances"][me]
        # The replacement landed in us-east-1b, with its subnet and primary ENI.
        inst["availability_zone"] = NEW_ZONE
        subnet = world["subnets"][inst["subnet_id"]]
        subnet.update(availability_zone=NEW_ZONE, availability_zone_id="use1-az2")
        for eni in world["network_interfaces"].values():
            if eni["subnet_id"] == inst["subnet_id"]:
                eni["availability_zone"] = NEW_ZONE
        world["imds"]["user_data"] = USER_DATA.format(tag_key=NODE_TAG[0], tag_value=NODE_TAG[1],
                                                      mount_point=S.MOUNT_POINT, zone=S.ZONE, record=S.RECORD)
        world["delays"]["volume_create"] = CREATE_DELAY
        primary_ip = world["network_interfaces"][inst["primary_eni"]]["private_ip_address"]

        # The node's volume, left in the lost zone: detached, initialised, its own newer data.
        old = world["volumes"][S.VOLUME]
        old.update(availability_zone=OLD_ZONE, attachments=[])
        old["tags"].update({NODE_TAG[0]: NODE_TAG[1], S.INIT_TAG: FS_UUID})
        _image(s.volume(S.VOLUME), S.VOLUME_SIZE,
               {"app-data": "kafka-1 data of the lost zone: never to be read here\n"}, "kafka-1")
        old_digest = sha256_file(s.volume(S.VOLUME))

        # Its snapshots: <snapshot id>.img beside the volumes is what the backend copies.
        now = int(time.time())
        snaps = {SNAP_OLDER: ("completed", now - 3 * 86400), SNAP_NEWEST: ("completed", now - 86400),
                 SNAP_PENDING: ("pending", now - 600)}
        for sid, (state, started) in snaps.items():
            world["snapshots"][sid] = {"volume_id": S.VOLUME, "state": state, "start_time": started,
                                       "size": S.VOLUME_SIZE >> 30, "description": "kafka-1 nightly",
                                       "tags": {NODE_TAG[0]: NODE_TAG[1], "Cluster": "kafka"}}
            _image(os.path.join(s.volume_dir, sid + ".img"), S.VOLUME_SIZE, _contents(sid, state), "kafka-1")
        expected = _contents(SNAP_NEWEST, "completed")
        data_digest = hashlib.sha256(expected["app-data"].encode()).hexdigest()[:16]

        s.start_fake(world)
        vm = s.vm("vm7", world)
        vm.wait_up()
        vm.wait_boot_settled()
        # The application's view, from inside the guest: the snapshot's file under the mount.
        _, seen = vm.run(f"cat {S.MOUNT_POINT}/app-data", timeout=30)
        final = S.finish_vm(s, vm)
        c = s.checks

        units = vm.units()
        agent = units.get("nodeagent.service", {})
        c.eq((agent.get("ActiveState"), agent.get("SubState"), agent.get("NRestarts")), ("active", "running", "0"),
             "nodeagent.service is active (READY=1 sent), no restart")
        S.judge_agent_log(c, vm)

        # EC2: one new volume, in this zone, from the newest completed snapshot.
        new = [v for v in final["volumes"] if v not in world["volumes"]]
        c.eq(len(new), 1, "EC2: one new volume")
        new_id = new[0] if new else "vol-none"
        vol = final["volumes"].get(new_id, {})
        c.eq((vol.get("availability_zone"), vol.get("snapshot_id")), (NEW_ZONE, SNAP_NEWEST),
             f"the new volume is in {NEW_ZONE}, from the newest completed snapshot {SNAP_NEWEST} "
             f"(not the older {SNAP_OLDER}, not the pending {SNAP_PENDING})")
        tags = vol.get("tags") or {}
        c.eq((tags.get(RESTORED_TAG), tags.get(NODE_TAG[0]), tags.get("Cluster")),
             (SNAP_NEWEST, NODE_TAG[1], "kafka"),
             f"the new volume is tagged {RESTORED_TAG}={SNAP_NEWEST} and carries the node's tags")
        c.check(S.FORMAT_TAG not in tags, f"the new volume is not tagged {S.FORMAT_TAG} (no mkfs began)", tags)
        c.eq(tags.get(S.INIT_TAG), FS_UUID, f"the new volume is tagged {S.INIT_TAG}=<the snapshot's filesystem "
             "UUID> once mounted (a later boot finds it initialised)")
        atts = vol.get("attachments") or []
        c.check(len(atts) == 1 and atts[0]["instance_id"] == me and atts[0]["status"] == "attached",
                f"EC2: the new volume is attached to {me}", atts)
        creates = [r for r in s.fake.requests() if r["action"] == "CreateVolume"]
        c.eq([(r["status"], (r.get("params") or {}).get("SnapshotId"),
               (r.get("params") or {}).get("AvailabilityZone")) for r in creates],
             [(200, SNAP_NEWEST, NEW_ZONE)], "one CreateVolume, from the newest completed snapshot, in this zone")

        # The old volume: tagged, otherwise untouched.
        was = final["volumes"][S.VOLUME]
        c.eq((was["tags"].get(REPLACED_TAG), was.get("availability_zone"), was.get("attachments")),
             (new_id, OLD_ZONE, []), f"the old volume is tagged {REPLACED_TAG}={new_id}, still in {OLD_ZONE}, "
             "detached")
        touched = [r["action"] for r in s.fake.requests() if r["action"] in ("AttachVolume", "DetachVolume",
                                                                             "DeleteVolume", "ModifyVolume")
                   and S.VOLUME in (r.get("params") or {}).values()]
        c.eq(touched, [], "no attach, detach, delete or change of the old volume")
        c.eq(sha256_file(s.volume(S.VOLUME)), old_digest, "the old volume's bytes are unchanged")

        # The guest: the new volume's device, mounted, holding the snapshot's filesystem.
        env = vm.state_env()
        device = env.get("NODEAGENT_DEVICE")
        c.eq((env.get("NODEAGENT_VOLUME_ID"), env.get("NODEAGENT_MOUNT_POINT"), env.get("NODEAGENT_IP")),
             (new_id, S.MOUNT_POINT, primary_ip), "/run/nodeagent/state names the new volume")
        lsblk = (vm.out_json("lsblk.json") or {}).get("blockdevices", [])
        nvme = [d for d in lsblk if (d.get("serial") or "").strip() == new_id.replace("-", "")]
        c.check(len(nvme) == 1 and device == f"/dev/{nvme[0]['name']}",
                "the state's device is the NVMe disk whose serial is the new volume's id", f"{device} {lsblk}")
        mounted = [m for m in vm.mounts() if m[0] == S.MOUNT_POINT]
        c.check(len(mounted) == 1 and mounted[0][1] == device and mounted[0][2] == "ext4",
                f"{S.MOUNT_POINT} is mounted once, from {device}, ext4", mounted)
        image = s.volume(new_id)
        c.eq(blkid(image).get("UUID"), FS_UUID, "the new volume holds the snapshot's filesystem (UUID): "
             "nothing formatted")
        c.eq(seen, expected["app-data"], f"in the guest, {S.MOUNT_POINT}/app-data is the snapshot's")
        c.eq(debugfs_cat(image, "/app-data"), expected["app-data"], "the snapshot's data is intact in the new volume")

        # The application: started after READY, read the snapshot's file, appended to the snapshot's log.
        app = units.get("app.service", {})
        ready = int(agent.get("ActiveEnterTimestampMonotonic") or 0)
        app_start = int(app.get("InactiveExitTimestampMonotonic") or 0)
        c.check(app.get("ActiveState") == "active" and ready > 0 and app_start >= ready,
                "app.service is active, started after nodeagent's READY", f"{app} ready at {ready}us")
        log = (debugfs_cat(image, "/app-journal.log") or "").splitlines()
        last = log[-1] if log else ""
        c.check(len(log) == 2 and log[0] == expected["app-journal.log"].strip()
                and all(f in last for f in (f"instance={me}", "nodeagent=active", f"source={device}",
                                            f"data={data_digest}")),
                "the application's log in the new volume: the snapshot's line, then this boot's, which read "
                "the snapshot's app-data (its digest) from the mount", log)

        sets = S.records_named(final, S.RECORD)
        c.eq([(r["Type"], [v["Value"] for v in r.get("ResourceRecords", [])]) for r in sets],
             [("A", [primary_ip])], f"Route 53: {S.RECORD} -> the instance's primary IP {primary_ip}")
        restore_lines = [message_of(e) for e in vm.unit_journal()
                         if e.get("SYSLOG_IDENTIFIER") == "nodeagent" and "restore" in message_of(e)]
        c.check(any(SNAP_NEWEST in m for m in restore_lines), "the agent's journal tells the restore and its "
                "snapshot", restore_lines)
        start = int(agent.get("InactiveExitTimestampMonotonic") or 0)
        took = f"{(ready - start) / 1e6:.1f}" if start and ready else "?"
        say("agent's restore lines:\n      " + "\n      ".join(restore_lines))
        c.note(f"time to READY of the restore (TCG guest, CreateVolume {CREATE_DELAY}s to available): {took}s; "
               f"phases: {env.get('NODEAGENT_BOOT_PHASES', '')}")

    return restore
