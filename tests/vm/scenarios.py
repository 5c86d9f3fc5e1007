#!/usr/bin/python3
"""The VM suite's scenarios: whole EC2 node boots in QEMU guests, judged from outside.

    scenarios.py run NAME --work DIR --image DIR --shared DIR [--bound SECONDS]
    scenarios.py junit OUT.xml RESULT.json...

`run` plays one scenario inside the network namespace tests/vm/run made,
prints each judgement, writes DIR/result.json and exits 0 when every
judgement held, 1 otherwise. The guests are judged by what can be seen from
outside them: the fake's world and request log, the volume image's bytes
(blkid, debugfs, sha256), and the journal, unit states and network state
the guest harness copied out over 9p (DIR/<vm>/share/out/).

Scenarios (tests/vm/README.md tells more):
  new-node      blank volume: formatted, mounted, tagged; ENI routed; DNS published; app after READY
  replacement   a new instance, the same volume and ENI: data intact, nothing formatted, same IP and record
  handover      the volume held by a live predecessor that lets go after a while: the unit waits
                (EXTEND_TIMEOUT_USEC) past its TimeoutStartSec, then proceeds
  refusal       a volume holding unknown bytes: not formatted, bytes unchanged, exit 5, app not started
  crash         the agent SIGKILLed twice mid-boot: systemd restarts it, the node converges, nothing twice
  recovery      `nodeagent --attach-only` by hand in a guest whose unit is masked: attaches both, says where;
                then `nodeagent --detach`: the volume is unplugged from the guest and available in EC2
  restore       the volume's zone is lost: the instance lands in another, Restore=snapshot makes a volume there
                from the newest completed snapshot (restore_scenario.py); the node comes up on the snapshot's data
  handover-two  two guests of one node: the first hands the volume and ENI to the second (TakeOver=handover),
                its application stopped first (handover_scenario.py); the second reads the data back
  mgr-networkd, mgr-ec2, mgr-nm, mgr-ifupdown
                one guest per network manager of a real AMI (managers.py): Routing=auto, then a detach and
                Routing=agent; the outcome holds through the manager's restarts, reconfigures and renewals
"""

import argparse
import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

from harness import (API_URL, TestFailure, Session, blkid, copy_sparse, debugfs_cat, default_world, load_json,
                     make_blank_volume, message_of, save_json, say, sha256_file, world_copy)

VOLUME = "vol-0123456789abcdef0"
ENI = "eni-0123456789abcdef0"
ENI_IP = "10.0.1.10"
ENI_MAC = "02:00:00:00:01:10"
ROUTER = "10.0.1.1"
ZONE = "Z0123456789ABCDEFGHIJ"
RECORD = "kafka-1.cluster.internal."
MOUNT_POINT = "/var/lib/kafka"
INIT_TAG = "nodeagent:initialized"
FORMAT_TAG = "nodeagent:format-started"
PREDECESSOR = "i-0fedcba9876543210"
REPLACEMENT = "i-0bbbbbbbbbbbbbbb0"
VOLUME_SIZE = 1 << 30

USER_DATA = f"""#nodeagent
[Node]
Name=kafka-1
Timeout=10min

[Volume]
Id={VOLUME}
MountPoint={MOUNT_POINT}
FileSystem=ext4

[Interface]
Id={ENI}

[DNS]
HostedZoneId={ZONE}
Name={RECORD}
"""

SCENARIOS = {}


def scenario(name):
    def register(fn):
        SCENARIOS[name] = fn
        return fn
    return register


def base_world():
    """The fake's default world, configured by user data, with a 1 GiB volume and EC2-like delays."""
    w = default_world()
    w["imds"]["user_data"] = USER_DATA
    w["volumes"][VOLUME]["size"] = VOLUME_SIZE >> 30
    w["delays"].update({"volume_attach": 1, "eni_attach": 1, "volume_detach": 2, "eni_detach": 1})
    return w


# -- judgements shared by the scenarios --------------------------------------------------------

def records_named(world, name):
    return [r for r in world["hosted_zones"][ZONE]["records"] if r["Name"].rstrip(".") == name.rstrip(".")]


def agent_runs(vm):
    """How each run of nodeagent.service ended, from systemd's lines in the journal."""
    return [message_of(e) for e in vm.unit_journal()
            if e.get("UNIT") == "nodeagent.service" or (e.get("_PID") == "1" and "nodeagent" in message_of(e))]


def judge_app(c, s, vm, instance):
    """The application started, only after READY, and wrote into the volume (read back from its bytes)."""
    units = vm.units()
    agent = units.get("nodeagent.service", {})
    app = units.get("app.service", {})
    c.eq(app.get("ActiveState"), "active", "app.service is active")
    ready = int(agent.get("ActiveEnterTimestampMonotonic") or 0)
    app_start = int(app.get("InactiveExitTimestampMonotonic") or 0)
    c.check(ready > 0 and app_start >= ready, "app.service started after nodeagent's READY",
            f"app started at {app_start}us, nodeagent ready at {ready}us (monotonic)")
    device = vm.state_env().get("NODEAGENT_DEVICE")
    log = debugfs_cat(s.volume(VOLUME), "/app-journal.log") or ""
    last = log.strip().splitlines()[-1] if log.strip() else ""
    c.check(f"instance={instance}" in last and "nodeagent=active" in last and f"source={device}" in last,
            "the application's line is in the volume's bytes (the mount is in the host's namespace), "
            "written while nodeagent was active", f"app-journal.log: {log!r}")


def judge_agent_log(c, vm):
    """What the agent told systemd and the journal is readable: no garbage in its messages."""
    bad_status = [message_of(e) for e in vm.unit_journal() if "not UTF-8 clean" in message_of(e)]
    c.check(not bad_status, "systemd accepted every STATUS= the agent sent (no \"not UTF-8 clean\")",
            f"{len(bad_status)} refused: {bad_status[:3]}")


def judge_node(c, s, vm, world, instance, expect_restarts=0, app=True):
    """The node is up: agent ready, volume mounted where every unit sees it, ENI routed, record right,
    and (app=True) the application started only after READY."""
    units = vm.units()
    agent = units.get("nodeagent.service", {})
    c.eq((agent.get("ActiveState"), agent.get("SubState")), ("active", "running"),
         "nodeagent.service is active (READY=1 sent, agent supervising)")
    c.eq(agent.get("NRestarts"), str(expect_restarts), "nodeagent.service restarts")
    if app:
        judge_app(c, s, vm, instance)
    judge_agent_log(c, vm)

    env = vm.state_env()
    c.eq((env.get("NODEAGENT_INSTANCE_ID"), env.get("NODEAGENT_VOLUME_ID"), env.get("NODEAGENT_MOUNT_POINT"),
          env.get("NODEAGENT_ENI_ID"), env.get("NODEAGENT_IP"), env.get("NODEAGENT_DNS_NAME", "").rstrip(".")),
         (instance, VOLUME, MOUNT_POINT, ENI, ENI_IP, RECORD.rstrip(".")), "/run/nodeagent/state")
    device = env.get("NODEAGENT_DEVICE")
    lsblk = {d["name"]: d for d in (vm.out_json("lsblk.json") or {}).get("blockdevices", [])}
    nvme = [d for d in lsblk.values() if (d.get("serial") or "").strip() == VOLUME.replace("-", "")]
    c.check(len(nvme) == 1 and device == f"/dev/{nvme[0]['name']}",
            "the state's device is the NVMe disk whose serial is the volume id", f"device {device}, lsblk {lsblk}")
    mounted = [m for m in vm.mounts() if m[0] == MOUNT_POINT]
    c.check(len(mounted) == 1 and mounted[0][1] == device and mounted[0][2] == "ext4",
            f"{MOUNT_POINT} is mounted once, from {device}, ext4", f"mounts there: {mounted}")

    vol = world["volumes"][VOLUME]
    atts = vol.get("attachments") or []
    c.check(len(atts) == 1 and atts[0]["instance_id"] == instance and atts[0]["status"] == "attached",
            f"EC2: {VOLUME} attached to {instance}", f"attachments {atts}")
    image = s.volume(VOLUME)
    fs = blkid(image)
    c.check(fs.get("TYPE") == "ext4" and fs.get("UUID") and vol["tags"].get(INIT_TAG) == fs.get("UUID"),
            f"the volume image holds ext4 and EC2 tags it {INIT_TAG}=<its UUID>",
            f"blkid {fs}, tags {vol.get('tags')}")

    eni = world["network_interfaces"][ENI]
    att = eni.get("attachment") or {}
    c.check(att.get("instance_id") == instance and att.get("status") == "attached" and att.get("device_index") == 1,
            f"EC2: {ENI} attached to {instance} at device index 1", f"attachment {att}")
    links = {l["ifname"]: l for l in vm.out_json("link.json") or []}
    ifname = env.get("NODEAGENT_INTERFACE")
    c.check(ifname in links and links[ifname].get("address") == ENI_MAC and "UP" in links[ifname].get("flags", []),
            f"the state's interface {ifname} has the ENI's MAC and is up", f"links {sorted(links)}")
    addrs = [(a["ifname"], i["local"], i["prefixlen"]) for a in vm.out_json("addr.json") or []
             for i in a.get("addr_info", []) if i.get("family") == "inet"]
    c.eq([a for a in addrs if a[1] == ENI_IP], [(ifname, ENI_IP, 24)], f"{ENI_IP}/24 is on {ifname}, once")
    rules = [r for r in vm.out_json("rule.json") or [] if r.get("src") == ENI_IP]
    c.check(len(rules) == 1, f"one policy rule \"from {ENI_IP}\"", f"rules {rules}")
    table = rules[0].get("table") if rules else None
    routes = [r for r in vm.out_json("route.json") or [] if str(r.get("table")) == str(table)]
    c.check(any(r.get("dst") == "default" and r.get("gateway") == ROUTER and r.get("dev") == ifname
                for r in routes), f"table {table}: default via {ROUTER} dev {ifname}", f"routes {routes}")
    got = vm.out_json("route-get.json") or [{}]
    c.eq((got[0].get("dev"), got[0].get("gateway")), (ifname, ROUTER),
         f"a packet from {ENI_IP} leaves by {ifname} through the router")
    c.eq((vm.out_text("via-eni.rc") or "").strip(), "0",
         f"a connection from {ENI_IP} reaches the fake through the ENI's own network "
         f"({(vm.out_text('via-eni.err') or '').strip()})")

    sets = records_named(world, RECORD)
    c.eq([(r["Type"], r.get("TTL"), [v["Value"] for v in r.get("ResourceRecords", [])]) for r in sets],
         [("A", 60, [ENI_IP])], f"Route 53: one A record {RECORD} -> {ENI_IP}")
    timeouts = [m for m in agent_runs(vm) if "timed out" in m.lower()]
    c.check(not timeouts, "no start timeout of nodeagent.service", timeouts)


def finish_vm(s, vm):
    """Copy the guest's state out, take the fake's, power the guest off (flushes the volume)."""
    vm.collect()
    world = s.fake.state()
    save_json(os.path.join(s.work, f"world-{vm.name}.json"), world)
    save_json(os.path.join(s.work, f"requests-{vm.name}.json"), s.fake.requests())
    vm.poweroff()
    return world


def count(requests, action, ok=True):
    return len([r for r in requests if r["action"] == action and (ok is None or (r["status"] == 200) == ok)])


# -- 1. new node ----------------------------------------------------------------------------------

@scenario("new-node")
def new_node(s, shared):
    world = base_world()
    make_blank_volume(s.volume(VOLUME), VOLUME_SIZE)
    s.start_fake(world)
    vm = s.vm("vm1", world)
    vm.wait_up()
    vm.wait_boot_settled()
    final = finish_vm(s, vm)
    c = s.checks
    judge_node(c, s, vm, final, world["self"])
    reqs = s.fake.requests()
    c.eq(count(reqs, "AttachVolume"), 1, "one AttachVolume")
    c.eq(count(reqs, "AttachNetworkInterface"), 1, "one AttachNetworkInterface")
    c.eq(count(reqs, "ChangeResourceRecordSets"), 1, "one Route 53 change")
    log = debugfs_cat(s.volume(VOLUME), "/app-journal.log") or ""
    c.eq(len(log.strip().splitlines()), 1, "the application ran once")
    if c.passed:
        # The replacement scenario starts from here: the volume's bytes and the world.
        copy_sparse(s.volume(VOLUME), os.path.join(shared, "new-node-volume.img"))
        save_json(os.path.join(shared, "new-node-world.json"), final)


# -- 2. replacement --------------------------------------------------------------------------------

@scenario("replacement")
def replacement(s, shared):
    src_img = os.path.join(shared, "new-node-volume.img")
    src_world = os.path.join(shared, "new-node-world.json")
    if not (os.path.exists(src_img) and os.path.exists(src_world)):
        raise TestFailure("needs the volume and world that a passing new-node scenario leaves (run it first)")
    before = load_json(src_world)
    old = before["self"]
    world = world_copy(before)
    # Auto Scaling replaced the instance: the old one is terminated, EC2 let go
    # of its volume and ENI; the new one has a primary ENI of its own.
    world["instances"][old]["state"] = "terminated"
    world["volumes"][VOLUME]["attachments"] = []
    world["network_interfaces"][ENI]["attachment"] = None
    world["network_interfaces"].pop(world["instances"][old]["primary_eni"], None)
    world["instances"][old]["primary_eni"] = None
    world["instances"][REPLACEMENT] = dict(world_copy(before["instances"][old]), state="running",
                                           primary_eni="eni-0bbbbbbbbbbbbbbb0", launch_time=int(time.time()),
                                           reservation_id="r-0bbbbbbbbbbbbbbb0")
    world["network_interfaces"]["eni-0bbbbbbbbbbbbbbb0"] = dict(
        world_copy(default_world()["network_interfaces"]["eni-0aaaaaaaaaaaaaaa0"]),
        mac_address="02:00:00:00:01:06", private_ip_address="10.0.1.6")
    world["network_interfaces"]["eni-0bbbbbbbbbbbbbbb0"]["attachment"].update(
        attachment_id="eni-attach-0bbbbbbbbbbbbbbb0", instance_id=REPLACEMENT)
    world["self"] = REPLACEMENT
    world["imds"]["current_key"] = None
    copy_sparse(src_img, s.volume(VOLUME))
    uuid_before = blkid(s.volume(VOLUME)).get("UUID")
    data_before = debugfs_cat(s.volume(VOLUME), "/app-data")
    log_before = debugfs_cat(s.volume(VOLUME), "/app-journal.log") or ""
    records_before = records_named(before, RECORD)

    s.start_fake(world)
    # The replacement boots with NetworkManager at its defaults (as on RHEL):
    # the one replacement boot among the managers' guests (managers.py).
    vm = s.vm("vm2", world, cmdline=["vmtest.manager=nm"])
    vm.wait_up()
    vm.wait_boot_settled()
    final = finish_vm(s, vm)
    c = s.checks
    judge_node(c, s, vm, final, REPLACEMENT)
    c.eq(blkid(s.volume(VOLUME)).get("UUID"), uuid_before, "the filesystem is the same one (UUID): nothing formatted")
    c.check(data_before is not None and debugfs_cat(s.volume(VOLUME), "/app-data") == data_before,
            "the data written by the first node is intact", data_before)
    log = debugfs_cat(s.volume(VOLUME), "/app-journal.log") or ""
    c.check(log.startswith(log_before) and len(log.strip().splitlines()) == len(log_before.strip().splitlines()) + 1,
            "the application's log kept the first node's line and has one more", log)
    c.eq(records_named(final, RECORD), records_before, "the DNS record is unchanged")
    reqs = s.fake.requests()
    c.eq(count(reqs, "ChangeResourceRecordSets", ok=None), 0, "no Route 53 change was sent (record already right)")
    c.eq(count(reqs, "CreateTags", ok=None), 0, "no tag written (the volume is already initialised)")
    c.eq(final["volumes"][VOLUME]["tags"].get(INIT_TAG), uuid_before, f"the {INIT_TAG} tag is unchanged")


# -- 3. handover -------------------------------------------------------------------------------------

HANDOVER_TIMEOUT = 25   # the unit's TimeoutStartSec in this scenario
HANDOVER_HOLD = 60      # how long the predecessor keeps the volume once the new agent asks


@scenario("handover")
def handover(s, shared):
    world = base_world()
    world["instances"][PREDECESSOR]["state"] = "running"
    # The predecessor's data, in a filesystem the predecessor made and tagged.
    seed = os.path.join(s.work, "seed")
    os.makedirs(seed, exist_ok=True)
    with open(os.path.join(seed, "predecessor-data"), "w") as f:
        f.write("written by the predecessor\n")
    uuid = "8a7a6d2e-5e52-4c5a-9d7e-3f0a1b2c3d4e"
    make_blank_volume(s.volume(VOLUME), VOLUME_SIZE)
    subprocess.run(["mkfs.ext4", "-q", "-F", "-U", uuid, "-L", "kafka-1", "-d", seed, s.volume(VOLUME)], check=True)
    world["volumes"][VOLUME]["tags"][INIT_TAG] = uuid
    world["volumes"][VOLUME]["attachments"] = [{
        "instance_id": PREDECESSOR, "device": "/dev/sdf", "status": "attached", "attach_time": int(time.time()) - 3600,
        "delete_on_termination": False, "transition_at": None}]

    s.start_fake(world)
    vm = s.vm("vm3", world, cmdline=[f"vmtest.nodeagent.timeout={HANDOVER_TIMEOUT}s"])
    vm.wait_up()
    vm.wait("the agent to look at the held volume",
            lambda: s.fake.requests(service="ec2", action="DescribeVolumes"), 120, 0.5)
    say(f"agent is waiting for {VOLUME}; the predecessor holds it {HANDOVER_HOLD}s more "
        f"(the unit's TimeoutStartSec is {HANDOVER_TIMEOUT}s)")
    vm.sleep(HANDOVER_HOLD)
    c = s.checks
    c.eq(vm.unit("nodeagent.service", "ActiveState"), "activating",
         f"after {HANDOVER_HOLD}s of waiting, past TimeoutStartSec={HANDOVER_TIMEOUT}s, nodeagent is still starting")
    c.eq(count(s.fake.requests(), "AttachVolume", ok=None), 0, "no AttachVolume while the predecessor holds it")
    # The predecessor shuts down and releases the volume, as its own nodeagent would (DetachOnStop).
    s.fake.ec2().detach_volume(VolumeId=VOLUME, InstanceId=PREDECESSOR)
    released = time.time()
    say(f"predecessor released {VOLUME}")
    vm.wait_boot_settled()
    final = finish_vm(s, vm)
    judge_node(c, s, vm, final, world["self"])
    agent = vm.units().get("nodeagent.service", {})
    c.eq(agent.get("TimeoutStartUSec"), f"{HANDOVER_TIMEOUT}s", "the unit ran with the scenario's TimeoutStartSec")
    took = (int(agent.get("ActiveEnterTimestampMonotonic") or 0)
            - int(agent.get("ExecMainStartTimestampMonotonic") or 0)) / 1e6
    c.check(took > HANDOVER_TIMEOUT + 15, f"the start took {took:.0f}s, well past TimeoutStartSec: "
            "extended (EXTEND_TIMEOUT_USEC), not timed out", f"took {took:.1f}s")
    attaches = [r for r in s.fake.requests() if r["action"] == "AttachVolume"]
    c.check(attaches and all(r["time"] >= released for r in attaches),
            "AttachVolume came only after the predecessor's release", attaches)
    c.eq(blkid(s.volume(VOLUME)).get("UUID"), uuid, "the predecessor's filesystem is kept (nothing formatted)")
    c.eq(debugfs_cat(s.volume(VOLUME), "/predecessor-data"), "written by the predecessor\n",
         "the predecessor's data is intact")
    waits = [message_of(e) for e in vm.unit_journal()
             if "take-over:" in message_of(e) and e.get("SYSLOG_IDENTIFIER") == "nodeagent"]
    c.check(len(waits) >= 2, "the agent logged its wait for the predecessor, poll after poll", waits)
    c.check(all(VOLUME in m for m in waits), "every take-over line names the volume it waits for",
            [m for m in waits if VOLUME not in m][:4])


# -- 4. refusal ----------------------------------------------------------------------------------------

REFUSAL_SETTLE = 45     # how long the refusal is watched once the agent first exited 5


@scenario("refusal")
def refusal(s, shared):
    world = base_world()
    image = s.volume(VOLUME)
    make_blank_volume(image, VOLUME_SIZE)
    # Unknown content: no filesystem, no partition table, no signature blkid
    # knows, but not zeros either (raw data, a volume from a foreign snapshot).
    with open(image, "r+b") as f:
        for offset in (0, VOLUME_SIZE // 2, VOLUME_SIZE - (1 << 20)):
            f.seek(offset)
            f.write(os.urandom(1 << 20))
    c = s.checks
    c.eq(blkid(image), {}, "the volume image holds nothing blkid recognises (precondition)")
    digest = sha256_file(image)
    s.start_fake(world)
    vm = s.vm("vm4", world)
    vm.wait_up()
    vm.wait("nodeagent to exit with status 5",
            lambda: vm.unit("nodeagent.service", "ExecMainStatus") == "5", 150, 1.0)
    say(f"nodeagent exited 5; watching {REFUSAL_SETTLE}s for what systemd does next")
    try:
        vm.wait("nodeagent.service to end failed",
                lambda: vm.unit("nodeagent.service", "ActiveState") == "failed", REFUSAL_SETTLE, 1.0)
    except TestFailure as e:
        say(str(e))  # Judged below, with the journal's account of every run.
    final = finish_vm(s, vm)
    units = vm.units()
    agent, app = units.get("nodeagent.service", {}), units.get("app.service", {})
    c.eq((agent.get("ActiveState"), agent.get("Result"), agent.get("ExecMainStatus")), ("failed", "exit-code", "5"),
         "nodeagent.service failed with exit status 5")
    c.check(app.get("ActiveState") != "active" and not app.get("ExecMainStartTimestampMonotonic", "0").strip("0"),
            "app.service never started", app)
    started = [message_of(e) for e in vm.unit_journal() if "cluster-app: started" in message_of(e)]
    c.check(not started, "the application never ran", started)
    c.eq(sha256_file(image), digest, "the volume image's bytes are unchanged")
    c.check(not (final["volumes"][VOLUME].get("tags") or {}).get(INIT_TAG), f"the volume is not tagged {INIT_TAG}")
    c.check(not [m for m in vm.mounts() if m[0] == MOUNT_POINT], f"nothing is mounted at {MOUNT_POINT}")
    statuses = [m for m in agent_runs(vm) if "Main process exited" in m]
    c.check(statuses and all("status=5" in m for m in statuses), "every run of the agent exited 5", statuses)
    judge_agent_log(c, vm)
    refusal_lines = [message_of(e) for e in vm.unit_journal()
                     if e.get("SYSLOG_IDENTIFIER") == "nodeagent" and "efus" in message_of(e)]
    c.check(refusal_lines, "the agent's journal says why it refused", "no line with 'refus'")
    if records_named(final, RECORD):
        c.note(f"{RECORD} was published ({records_named(final, RECORD)[0]['ResourceRecords']}) although the "
               "node's volume was refused and nodeagent failed: the DNS path does not wait for the volume path")


# -- 5. crash ------------------------------------------------------------------------------------------

CRASH_DEVICE_DELAY = 8   # the hotplug comes this long after EC2 accepted the attach
CRASH_DNS_HOLD = 25      # the first Route 53 change is held this long


def kill_agent(vm, label):
    """SIGKILL nodeagent's main process while the unit is still starting; returns (pid, state)."""
    rc, out = vm.run("state=$(systemctl show -P ActiveState nodeagent.service); "
                     "pid=$(systemctl show -P MainPID nodeagent.service); "
                     "[ \"$state\" = activating ] && [ \"$pid\" != 0 ] && kill -KILL \"$pid\"; "
                     "echo \"$pid $state\"", timeout=30)
    pid, _, state = out.strip().partition(" ")
    say(f"{label}: SIGKILL to nodeagent pid {pid} (unit {state})")
    return pid, state


@scenario("crash")
def crash(s, shared):
    world = base_world()
    make_blank_volume(s.volume(VOLUME), VOLUME_SIZE)
    s.start_fake(world, device_delay=CRASH_DEVICE_DELAY)
    s.fake.client.fault(service="route53", action="ChangeResourceRecordSets", kind="latency",
                        seconds=CRASH_DNS_HOLD, count=1)
    vm = s.vm("vm5", world)
    vm.wait_up()
    c = s.checks
    # Crash 1: EC2 accepted the attach, the device is not there yet.
    vm.wait("AttachVolume", lambda: s.fake.requests(service="ec2", action="AttachVolume", ok=True), 120, 0.2)
    pid1, state1 = kill_agent(vm, "crash 1 (waiting for the volume's device)")
    c.eq(state1, "activating", "crash 1 hit the agent mid-boot (waiting for the device)")
    # Crash 2: the restarted agent formatted, mounted and tagged the volume; DNS is held.
    vm.wait(f"the {INIT_TAG} tag", lambda: s.fake.state()["volumes"][VOLUME]["tags"].get(INIT_TAG), 120, 0.3)
    pid2, state2 = kill_agent(vm, "crash 2 (volume mounted and tagged, DNS change in flight)")
    c.eq(state2, "activating", "crash 2 hit the restarted agent mid-boot (after the tag, before READY)")
    c.check(pid2 != pid1, "crash 2 hit another process: systemd had restarted the agent", f"{pid1} {pid2}")
    # The boot's jobs may be over (a start job fails at the first crash); the agent's restarts go on.
    vm.wait("nodeagent to converge after its restarts",
            lambda: vm.unit("nodeagent.service", "ActiveState") in ("active", "failed"), 180, 1.0)
    vm.wait_boot_settled()
    final = finish_vm(s, vm)
    judge_node(c, s, vm, final, world["self"], expect_restarts=2, app=False)
    reqs = s.fake.requests()
    c.eq(count(reqs, "AttachVolume", ok=None), 1, "AttachVolume sent once in all (the restarts saw it attached)")
    c.eq(count(reqs, "AttachNetworkInterface", ok=None), 1, "AttachNetworkInterface sent once in all")
    c.eq(count(reqs, "CreateTags", ok=None), 2, f"{FORMAT_TAG} and {INIT_TAG} tagged once each")
    formats = [message_of(e) for e in vm.unit_journal()
               if e.get("SYSLOG_IDENTIFIER") == "nodeagent" and "creating an" in message_of(e)]
    c.note(f"the agent's journal has {len(formats)} line(s) about creating a filesystem")
    # The application: Requires=/After= nodeagent.service, as the unit file documents.
    app_state = vm.units().get("app.service", {}).get("ActiveState")
    dependency = [message_of(e) for e in vm.unit_journal()
                  if e.get("UNIT") == "app.service" and "ependency" in message_of(e)]
    c.check(app_state == "active",
            "app.service started once nodeagent converged after the crashes",
            f"app.service is {app_state}; systemd: {dependency}")
    if app_state == "active":
        judge_app(c, s, vm, world["self"])
        log = debugfs_cat(s.volume(VOLUME), "/app-journal.log") or ""
        c.eq(len(log.strip().splitlines()), 1, "the application ran once")


# -- 6. recovery tool ----------------------------------------------------------------------------------

@scenario("recovery")
def recovery(s, shared):
    world = base_world()
    image = s.volume(VOLUME)
    make_blank_volume(image, VOLUME_SIZE)
    digest = sha256_file(image)
    s.start_fake(world)
    # The unit does not run at boot (an operator took the node out of service).
    vm = s.vm("vm6", world, cmdline=["systemd.mask=nodeagent.service"])
    vm.wait_up()
    vm.wait_boot_settled()
    c = s.checks
    c.eq(vm.unit("nodeagent.service", "LoadState"), "masked", "nodeagent.service does not run in this guest")
    c.eq(s.fake.requests(service="ec2"), [], "no EC2 call before the operator's")
    # The operator, by hand, as root; the endpoint is the fake's, as the unit's drop-in has it.
    env = f"AWS_ENDPOINT_URL={API_URL}"
    rc, out = vm.run(f"{env} timeout 150 nodeagent --attach-only", timeout=170)
    say(f"nodeagent --attach-only: exit {rc}\n{out}")
    c.eq(rc, 0, "nodeagent --attach-only exited 0")
    serial = VOLUME.replace("-", "")
    _, devices = vm.run("lsblk -dn -o NAME,SERIAL; ip -o link", timeout=30)
    nvme = [l.split()[0] for l in devices.splitlines() if l.split()[1:2] == [serial]]
    eth = [l.split(":")[1].strip() for l in devices.splitlines() if f"link/ether {ENI_MAC}" in l]
    c.check(len(nvme) == 1 and f"{VOLUME} -> /dev/{nvme[0]}" in out,
            "it printed the volume's local device (the NVMe disk with the volume's serial)", f"{nvme} {out!r}")
    c.check(len(eth) == 1 and f"{ENI} -> {eth[0]}" in out and ENI_IP in out,
            "it printed the ENI's local interface (the link with the ENI's MAC) and its IP", f"{eth} {out!r}")
    attached = s.fake.state()
    atts = attached["volumes"][VOLUME].get("attachments") or []
    c.check(len(atts) == 1 and atts[0]["instance_id"] == world["self"] and atts[0]["status"] == "attached",
            f"EC2: {VOLUME} attached here", atts)
    att = attached["network_interfaces"][ENI].get("attachment") or {}
    c.check(att.get("instance_id") == world["self"] and att.get("status") == "attached",
            f"EC2: {ENI} attached here", att)

    # And back: `nodeagent --detach` lets the volume go (the ENI stays: DetachOnStop=no).
    rc, out = vm.run(f"{env} timeout 150 nodeagent --detach", timeout=170)
    say(f"nodeagent --detach: exit {rc}\n{out}")
    c.eq(rc, 0, "nodeagent --detach exited 0")
    gone = vm.wait(f"the NVMe disk {serial} to leave the guest",
                   lambda: serial not in vm.run("lsblk -dn -o SERIAL", timeout=30)[1], 60, 1.0)
    c.check(gone, "the guest saw the volume's disk unplugged (device_del acknowledged)")
    final = finish_vm(s, vm)
    c.eq(final["volumes"][VOLUME].get("attachments"), [], f"EC2: {VOLUME} is available again")
    att = final["network_interfaces"][ENI].get("attachment") or {}
    c.check(att.get("instance_id") == world["self"], f"EC2: {ENI} stays attached (DetachOnStop=no)", att)
    c.check(not [m for m in vm.mounts() if m[0] == MOUNT_POINT], f"nothing mounted at {MOUNT_POINT}")
    c.eq(sha256_file(image), digest, "the volume's bytes are unchanged (no mkfs)")
    c.eq([r for r in vm.out_json("rule.json") or [] if r.get("src") == ENI_IP], [], f"no rule for {ENI_IP}")
    c.eq(count(s.fake.requests(), "ChangeResourceRecordSets", ok=None), 0, "no Route 53 change")
    c.eq(records_named(final, RECORD), [], "no DNS record")


# -- 7. a node restored in another zone (restore_scenario.py, issue 16) ------------------------------

import restore_scenario  # noqa: E402 -- its scenario uses the helpers above

restore_scenario.register(scenario, sys.modules[__name__])


# -- 8. the network managers of real AMIs (managers.py) ----------------------------------------------

import managers  # noqa: E402 -- its scenarios use the helpers above

SCENARIOS.update(managers.scenarios(sys.modules[__name__]))


# -- striped sets (issue 15), in a file of their own --------------------------------------------------

import raid_scenarios  # noqa: E402

raid_scenarios.register(scenario, sys.modules[__name__])

import stripe_restore_scenario  # noqa: E402 -- stripe-node's set restored in another zone (issues 15 and 16)

stripe_restore_scenario.register(scenario, sys.modules[__name__], raid_scenarios)


# -- a node handed from one live guest to the next (issue 19), in a file of its own -----------------

import handover_scenario  # noqa: E402

handover_scenario.register(scenario, sys.modules[__name__])


# -- command line --------------------------------------------------------------------------------------

def run(args):
    os.makedirs(args.work, exist_ok=True)
    os.makedirs(args.shared, exist_ok=True)
    s = Session(args.name, args.work, args.image, args.bound)
    started = time.monotonic()
    completed = interrupted = False
    try:
        say(f"scenario {args.name}")
        SCENARIOS[args.name](s, args.shared)
        completed = True
    except Exception as e:  # noqa: BLE001 -- every failure becomes a judgement, with its cause
        s.checks.error("the scenario ran to its end", e)
    except SystemExit:
        interrupted = True
        s.checks.check(False, "the scenario ran to its end",
                       "interrupted by SIGTERM (the runner's time bound, or the runner stopping)")
        raise
    finally:
        passed = completed and s.checks.passed
        s.close(not passed, interrupted)
        result = {"name": args.name, "passed": passed, "seconds": round(time.monotonic() - started, 1),
                  "checks": s.checks.items, "notes": s.checks.notes, "vms": [vm.dir for vm in s.vms]}
        save_json(os.path.join(args.work, "result.json"), result)
    return 0 if result["passed"] else 1


def _xml_text(text):
    # Journal lines can carry control characters that XML 1.0 does not allow.
    return "".join(ch if ch in "\n\t" or ord(ch) >= 0x20 else f"\\x{ord(ch):02x}" for ch in str(text))


def junit(args):
    suite = ET.Element("testsuite", name="vm")
    tests = failures = 0
    total = 0.0
    for path in args.results:
        tests += 1
        try:
            r = load_json(path)
        except (OSError, ValueError) as e:
            r = {"name": os.path.basename(os.path.dirname(path)), "passed": False, "seconds": 0,
                 "checks": [{"ok": False, "what": "result file", "detail": str(e)}]}
        total += r.get("seconds", 0)
        case = ET.SubElement(suite, "testcase", classname="vm", name=r["name"], time=str(r.get("seconds", 0)))
        if not r.get("passed"):
            failures += 1
            bad = [c for c in r.get("checks", []) if not c["ok"]] or [{"what": "no judgement made", "detail": ""}]
            fail = ET.SubElement(case, "failure", message=_xml_text(bad[0]["what"]))
            fail.text = _xml_text("\n".join(f"{c['what']}: {c['detail']}" for c in bad))
        lines = [f"{'ok  ' if c['ok'] else 'FAIL'} {c['what']}" for c in r.get("checks", [])]
        lines += [f"note {n}" for n in r.get("notes", [])]
        ET.SubElement(case, "system-out").text = _xml_text("\n".join(lines))
    suite.set("tests", str(tests))
    suite.set("failures", str(failures))
    suite.set("errors", "0")
    suite.set("skipped", "0")
    suite.set("time", f"{total:.1f}")
    ET.ElementTree(suite).write(args.out, encoding="utf-8", xml_declaration=True)
    return 0


def main(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("name", choices=sorted(SCENARIOS))
    r.add_argument("--work", required=True)
    r.add_argument("--image", required=True)
    r.add_argument("--shared", required=True)
    r.add_argument("--bound", type=float, default=240, help="wall-clock bound of each guest (seconds)")
    j = sub.add_parser("junit")
    j.add_argument("out")
    j.add_argument("results", nargs="*")
    args = p.parse_args(argv)
    return run(args) if args.cmd == "run" else junit(args)


if __name__ == "__main__":
    # SIGTERM (the runner's timeout) unwinds through the finally blocks: guests and fake stopped.
    import signal

    def _term(signum, frame):
        # Once: the cleanup that follows is not to be interrupted again (the
        # runner's `timeout -k` still bounds it).
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        raise SystemExit(143)
    signal.signal(signal.SIGTERM, _term)
    sys.exit(main(sys.argv[1:]))
