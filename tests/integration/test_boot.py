"""Whole boots: the volume path and the network path (ENI, routing, Route 53)
at once, then the readiness signals, in a sandbox of the node's own
(sandbox.py: network namespaces, a private /run/udev with its own udevd, a
private /run/nodeagent), against the fake AWS whose attaches make a loop
device and a veth link. Every case asserts on the fake's state and request
log, the kernel's state (the sandbox's mounts, links, routes and rules) and
the image's bytes.

One machine (harness.Machine: sandbox + fake) serves the module; the
`machine` fixture makes it a new machine before each test (Machine.fresh():
nothing running, mounted, attached, linked or routed, an empty
/run/nodeagent, the initial world with a group and a stack that wait for
this instance, a blank image) and checks that it is."""

import os
import random
import signal
import subprocess
import time

import pytest

from harness import (ENI, ENI_IP, ENI_MAC, GROUP, HOOK, INSTANCE, MACHINE_SERIAL, RESOURCE, STACK, TAG_FORMAT_STARTED,
                     TAG_INITIALIZED, Machine, answered, blkid, child, held, kill_tree,
                     eni_rules, lifecycle_actions, loops, run_and_kill, sha256, signals, tag_calls, when)
from sandbox import host_udevd_answers

VOLUME = Machine.volume_id
NEW_INSTANCE = "i-0aaaaaaaaaaaaaaa1"


def debugfs_cat(image, name):
    """A file's content read from the image's bytes (not through any mount)."""
    proc = subprocess.run(["debugfs", "-R", f"cat /{name}", image], capture_output=True, text=True)
    return proc.stdout


def actions_in_order(fake):
    """The actions in the order they arrived (the fake logs each when it has replied)."""
    return [q["action"] for q in sorted(fake.requests(), key=lambda q: q["time"] - q["ms"] / 1000)]


def assert_in_order(actions, *wanted):
    """Each of wanted came, the first of each after the first of the one before."""
    __tracebackhide__ = True
    seen = [actions.index(a) if a in actions else None for a in wanted]
    assert None not in seen and seen == sorted(seen), (wanted, actions)


# -- the sandbox itself


def test_sandbox_keeps_udev_to_itself(tmp_path):
    """A sandbox with its own udevd: the serial rule, the udev database and
    the processed events stay inside; the host's udevd answers before,
    during and after as it did (other sessions may run host udevds and
    their own rules meanwhile, so only what is ours is checked)."""
    if os.geteuid() != 0:
        pytest.skip("needs root")
    host_before = host_udevd_answers()
    m = Machine(str(tmp_path)).start()
    holder = m.sb.pid
    ns = (m.sb.name, m.sb.vpc)
    try:
        m.fresh()
        # The sandbox's /run/udev is a filesystem of its own.
        assert os.stat(m.sb.path("/run/udev")).st_dev != os.stat("/run/udev").st_dev
        assert os.path.exists(m.sb.path("/run/udev/rules.d/99-nodeagent-fakeaws.rules"))
        ec2 = m.fake.botocore_client("ec2")
        ec2.attach_volume(VolumeId=VOLUME, InstanceId=INSTANCE, Device="/dev/sdf")
        deadline = time.monotonic() + 10
        while not m.fake.backend_state()["loopback"]["volumes"][VOLUME]["device"]:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        device = m.fake.backend_state()["loopback"]["volumes"][VOLUME]["device"]
        while m.sb.udev_property(device, "ID_SERIAL_SHORT") != MACHINE_SERIAL:
            assert time.monotonic() < deadline, "the sandbox's udevd did not give the loop device its serial"
            time.sleep(0.05)
        # Its udevd's event reaches a monitor in the sandbox: what the agent's libudev hears.
        monitor = m.sb.popen(["udevadm", "monitor", "--udev", "--subsystem-match=block"], None,
                             stdout=subprocess.PIPE, text=True)
        time.sleep(0.3)
        subprocess.run(["udevadm", "trigger", "--action=change", device], check=True)
        deadline = time.monotonic() + 10
        heard = ""
        while device.split("/")[-1] not in heard and time.monotonic() < deadline:
            heard += monitor.stdout.readline()
        kill_tree(monitor)
        assert device.split("/")[-1] in heard
        # The host's udevd (when one runs) handles the same device in its own
        # database; the agent reads the sandbox's, where the serial is.
        host = subprocess.run(["udevadm", "info", "--query=property", device], capture_output=True, text=True)
        print(f"\nhost udevd answers: {host_before}; the host's udev database for {device}: "
              f"{'an entry' if host.returncode == 0 and 'ID_' in host.stdout else 'none'}"
              f"{' with the serial (another session rule)' if MACHINE_SERIAL in host.stdout else ''}")
        assert host_udevd_answers() == host_before
        assert sorted(m.sb.run_raw(["ls", "/sys/class/net"]).stdout.split()) == ["eth0", "eth0peer", "lo"]
    finally:
        m.close()
    assert not os.path.exists(f"/proc/{holder}")
    assert not any(os.path.exists(f"/run/netns/{n}") for n in ns)
    assert [b for b in loops().values() if b.startswith(str(tmp_path))] == []
    assert host_udevd_answers() == host_before


# -- whole boots


def test_full_node_boot(machine):
    r = machine.boot()
    assert r.status == 0, r
    up = machine.assert_node_up()
    # The mount is the sandbox's: the test's own mount namespace does not have it.
    with open("/proc/self/mountinfo") as f:
        assert not any(line.split()[4] == machine.mount for line in f)

    # The two paths ran at once: each path's first call came before the
    # other path's last one (from the fake's log: start = end - handling).
    def span(actions):
        times = [(q["time"] - q["ms"] / 1000, q["time"]) for q in machine.fake.requests() if q["action"] in actions]
        return min(t[0] for t in times), max(t[1] for t in times)
    volume = span(("DescribeVolumes", "AttachVolume", "CreateTags"))
    interface = span(("DescribeNetworkInterfaces", "AttachNetworkInterface", "DescribeSubnets"))
    assert max(volume[0], interface[0]) < min(volume[1], interface[1]), (volume, interface)

    # Each change once.
    assert [len(machine.calls(a)) for a in ("AttachVolume", "AttachNetworkInterface", "ChangeResourceRecordSets",
                                            "SignalResource", "CompleteLifecycleAction")] == [1] * 5
    # nodeagent:format-started before mkfs, nodeagent:initialized after.
    assert [len(tag_calls(machine.fake, k)) for k in (TAG_FORMAT_STARTED, TAG_INITIALIZED)] == [1, 1]
    assert len(machine.calls("CreateTags")) == 2
    assert machine.volume()["tags"][TAG_FORMAT_STARTED] == INSTANCE

    # The readiness signals, after everything else.
    assert signals(machine.fake) == [{"stack": STACK, "resource": RESOURCE, "unique_id": INSTANCE,
                                      "status": "SUCCESS"}]
    assert [a for a in lifecycle_actions(machine.fake) if a["call"] == "CompleteLifecycleAction"] == [
        {"call": "CompleteLifecycleAction", "group": GROUP, "hook": HOOK, "instance_id": INSTANCE, "token": None,
         "result": "CONTINUE"}]
    world = machine.fake.state()
    assert world["instances"][INSTANCE]["lifecycle_state"] == "InService"
    assert world["cloudformation"]["stacks"][STACK]["resources"][RESOURCE]["status"] == "CREATE_COMPLETE"
    actions = actions_in_order(machine.fake)
    last_change = max(actions.index("CreateTags"), actions.index("ChangeResourceRecordSets"))
    assert actions.index("CompleteLifecycleAction") > last_change
    assert actions.index("SignalResource") > last_change

    # The filesystem is usable, and what is written reaches the image.
    machine.write_file(text="written through the sandbox's mount\n")
    subprocess.run(machine.sb.cmd(["fsfreeze", "--freeze", machine.mount], net=False), check=True)
    subprocess.run(machine.sb.cmd(["fsfreeze", "--unfreeze", machine.mount], net=False), check=True)
    assert debugfs_cat(machine.image, "data.txt") == "written through the sandbox's mount\n"
    assert up["uuid"] == blkid(machine.image)


def test_replacement_keeps_the_data_the_ip_and_the_record(machine):
    machine.configure(detach_on_stop="yes")
    r = machine.boot()
    assert r.status == 0, r
    first = machine.assert_node_up()
    machine.write_file(text="written by the first instance\n")

    # The first instance goes: unmount, detach the volume and (DetachOnStop=yes) the ENI.
    r = machine.agent("--detach")
    assert r.status == 0, r
    assert not machine.is_mounted()
    world = machine.fake.state()
    assert world["volumes"][VOLUME]["attachments"] == []
    assert world["network_interfaces"][ENI]["attachment"] is None
    # Its routing left with it, although --detach never saw the boot's plan:
    # no "from <ip>" rule of the old instance points into an empty table.
    assert eni_rules(machine.ns) == []
    assert debugfs_cat(machine.image, "data.txt") == "written by the first instance\n"

    # A new instance on a new machine: the same world, with the old
    # instance terminated and the new one waiting in the launch hook of a
    # stack being updated.
    old = world["instances"][INSTANCE]
    world["instances"][INSTANCE] = dict(old, state="terminated", lifecycle_state="Terminated")
    world["instances"][NEW_INSTANCE] = dict(old, state="running", reservation_id="r-0aaaaaaaaaaaaaaa1",
                                            lifecycle_state="Pending:Wait", lifecycle_hook=HOOK,
                                            lifecycle_timeout_at=time.time() + 3600)
    world["network_interfaces"]["eni-0aaaaaaaaaaaaaaa0"]["attachment"]["instance_id"] = NEW_INSTANCE
    world["self"] = NEW_INSTANCE
    stack = world["cloudformation"]["stacks"][STACK]
    stack["status"] = "UPDATE_IN_PROGRESS"
    stack["resources"][RESOURCE].update(status="UPDATE_IN_PROGRESS", received=[])
    machine.fresh(world=world, blank_image=False)

    r = machine.boot()
    assert r.status == 0, r
    print(f"\nreplacement boot, both paths, start to done: {r.elapsed:.2f} s")
    up = machine.assert_node_up(instance=NEW_INSTANCE)
    # Not formatted: the first instance's filesystem and file; no tag written.
    assert up["uuid"] == first["uuid"]
    assert machine.read_file() == "written by the first instance\n"
    assert machine.calls("CreateTags") == []
    # The fixed IP: the record is right already, so Route 53 is only read.
    assert machine.calls("ChangeResourceRecordSets") == []
    assert machine.calls("ListResourceRecordSets")
    assert signals(machine.fake)[-1] == {"stack": STACK, "resource": RESOURCE, "unique_id": NEW_INSTANCE,
                                         "status": "SUCCESS"}
    assert machine.fake.state()["instances"][NEW_INSTANCE]["lifecycle_state"] == "InService"


def test_a_failing_path_stops_the_other(machine, notify, daemon):
    # Not provably blank: the first MiB is random.
    with open(machine.image, "r+b") as f:
        f.write(os.urandom(1 << 20))
    before = sha256(machine.image)
    # The link comes late, so the network path is waiting for it when the volume path fails.
    machine.fake.merge_state({"sandbox": {"eni_device_delay": 30}})
    start = time.monotonic()
    d = daemon(machine)
    status = d.wait(30)
    elapsed = time.monotonic() - start
    assert status == 5, d.output()
    # The interface path stopped waiting for its link at once (it was 30 s away).
    assert elapsed < 15, d.output()
    print(f"\nfailed volume path to exit: {elapsed:.2f} s (the link was 30 s away)")

    assert sha256(machine.image) == before
    assert not machine.is_mounted()
    assert TAG_INITIALIZED not in machine.volume()["tags"]
    assert machine.records() == []
    # The state file tells the failure.
    assert machine.state()["NODEAGENT_FAILED"] == "5"
    assert not notify.has("READY=1")
    assert signals(machine.fake) == [{"stack": STACK, "resource": RESOURCE, "unique_id": INSTANCE,
                                      "status": "FAILURE"}]
    assert [a.get("result") for a in lifecycle_actions(machine.fake) if a["call"] == "CompleteLifecycleAction"] == [
        "ABANDON"]
    assert machine.fake.state()["instances"][INSTANCE]["lifecycle_state"] == "Terminating"


def test_a_failed_boot_publishes_nothing(machine):
    """The volume path fails while the network path is in (or about to
    start) a slow Route 53 call: the boot has failed, so the node must not
    be published (clients would be sent to a node that Auto Scaling is about
    to terminate), and the exit does not wait for Route 53."""
    with open(machine.image, "r+b") as f:
        f.write(os.urandom(1 << 20))
    # The device comes at 1.5 s, when a DNS read (answered after 4 s) would be in flight.
    machine.fake.merge_state({"sandbox": {"volume_device_delay": 1.5}})
    machine.fake.fault(service="route53", action="ListResourceRecordSets", kind="latency", seconds=4)
    r = machine.boot()
    assert r.status == 5, r
    print(f"\nexit {r.elapsed:.2f} s after the start; the volume path failed at about 1.6 s")
    assert r.elapsed < 4, r
    assert machine.calls("ChangeResourceRecordSets") == [], r
    assert machine.records() == []


def test_the_deadline_ends_the_boot(machine):
    machine.configure(timeout="5s")
    machine.fake.merge_state({"sandbox": {"eni_device_delay": 3600}})
    r = machine.boot()
    assert r.status == 6, r
    assert 4.5 <= r.elapsed < 7.5, r
    assert ENI_MAC in r.stderr      # It names what never came.
    # The volume path, not at fault, finished or was stopped: never half-way
    # (a filesystem the boot made is the one its tag names).
    uuid = blkid(machine.image)
    assert machine.volume()["tags"].get(TAG_INITIALIZED) in (None, uuid), (uuid, machine.volume()["tags"])
    assert machine.link() is None
    assert machine.state()["NODEAGENT_FAILED"] == "6"
    assert signals(machine.fake)[-1]["status"] == "FAILURE"


def test_daemon_ready_then_the_link_goes(machine, notify, daemon):
    d = daemon(machine)
    assert notify.wait_for("READY=1", timeout=60), d.output()
    # READY came after the mount, the routes and the record.
    machine.assert_node_up()
    ready = notify.messages.index("READY=1")
    assert any(m.startswith("STATUS=") for m in notify.messages[:ready]), notify.messages
    # Each path's steps in their order, as the fake saw their calls.
    actions = actions_in_order(machine.fake)
    assert_in_order(actions, "DescribeVolumes", "AttachVolume", "CreateTags")
    assert_in_order(actions, "DescribeNetworkInterfaces", "AttachNetworkInterface")
    assert_in_order(actions, "ListResourceRecordSets", "ChangeResourceRecordSets")
    assert d.running()

    ifname = machine.link()
    start = time.monotonic()
    subprocess.run(["ip", "-n", machine.ns, "link", "del", ifname], check=True)
    status = d.wait(10)
    elapsed = time.monotonic() - start
    assert status == 1, d.output()
    assert elapsed < 3, d.output()
    assert ifname in d.output()     # It names the interface it lost.
    # The mount stays: systemd's restart brings the rest back.
    assert machine.is_mounted()


def test_daemon_sigterm_releases_both_with_detach_on_stop(machine, notify, daemon):
    machine.configure(detach_on_stop="yes")
    d = daemon(machine)
    assert notify.wait_for("READY=1", timeout=60), d.output()
    machine.assert_node_up()
    changes = len(machine.calls("ChangeResourceRecordSets"))
    d.proc.send_signal(signal.SIGTERM)
    assert d.wait(30) == 0, d.output()
    assert notify.has("STOPPING=1")
    assert not machine.is_mounted()
    world = machine.fake.state()
    assert world["volumes"][VOLUME]["attachments"] == []
    assert world["network_interfaces"][ENI]["attachment"] is None
    deadline = time.monotonic() + 5
    while machine.link() is not None or [b for b in loops().values() if b == machine.image]:
        assert time.monotonic() < deadline, "the link or the loop device stayed after the detach"
        time.sleep(0.05)
    # (The rule "from 10.0.1.10 lookup 10001" stays, pointing at an empty
    # table, until the next boot finds it right again.)
    # The record keeps the fixed IP for the replacement.
    assert len(machine.calls("ChangeResourceRecordSets")) == changes
    assert [v["Value"] for v in machine.records()[0]["ResourceRecords"]] == [ENI_IP]
    # The filesystem was unmounted cleanly: the image needs no recovery.
    fsck = subprocess.run(["e2fsck", "-n", "-f", machine.image], capture_output=True, text=True)
    assert fsck.returncode == 0, fsck.stdout + fsck.stderr


# -- crash consistency: killed anywhere, the next run converges

# Each step of both paths and of the signals, seen from outside the agent
# (harness.Point): "held" is the call arriving at the fake, which holds it
# unanswered (the agent dies as the step begins, the call never takes
# effect); "answered" right after the call took effect.
POINTS = [
    held("ec2", "DescribeVolumes"),
    held("ec2", "AttachVolume"),
    held("ec2", "AttachNetworkInterface"),
    answered("ec2", "AttachVolume"),
    answered("ec2", "AttachNetworkInterface"),
    when("the ENI's link appeared", lambda m: m.link()),
    held("route53", "ListResourceRecordSets"),
    held("route53", "ChangeResourceRecordSets"),
    when("the volume's device appeared", lambda m: m.device()),
    child("mkfs.ext4"),
    held("ec2", "CreateTags"),                 # nodeagent:format-started
    when("mounted", lambda m: m.is_mounted()),
    held("ec2", "CreateTags", skip=1),         # nodeagent:initialized
    held("autoscaling", "CompleteLifecycleAction"),
    held("cloudformation", "SignalResource"),
]


def step_until_written(run, comm="mkfs.ext4", at_least=256 << 10):
    """The child named comm, stopped as it started, let run a millisecond
    at a time until it has written at_least bytes, and left stopped there.
    (mke2fs begins with a few blocks of zeros: a kill at its first write
    leaves the device blank.)"""
    pid = run.armed.started(comm)[0]
    while True:
        try:
            with open(f"/proc/{pid}/io") as f:
                io = dict(line.split(": ") for line in f.read().splitlines())
        except OSError:
            return  # It has finished.
        if int(io["wchar"]) >= at_least:
            return
        try:
            os.kill(pid, signal.SIGCONT)
            time.sleep(0.001)
            os.kill(pid, signal.SIGSTOP)
        except ProcessLookupError:
            return  # It finished within its millisecond (and was reaped): the caller tries again.


def device_content(machine):
    """What the volume's device holds now: "filesystem UUID", "zeros" or "other"."""
    device = machine.fake.backend_state()["loopback"]["volumes"].get(VOLUME, {}).get("device")
    if not device:
        return "no device"
    subprocess.run(["blockdev", "--flushbufs", device], capture_output=True)
    uuid = blkid(device)
    if uuid:
        return f"filesystem {uuid}"
    with open(device, "rb") as f:
        while True:
            block = f.read(1 << 20)
            if not block:
                return "zeros"
            if block.count(0) != len(block):
                return "other"


def assert_converged(machine, killed, restart, after_kill):
    """The run after the kill ended with the node up, each change made once
    over both runs, and a filesystem the first run completed kept."""
    __tracebackhide__ = True
    assert restart.status == 0, (killed, after_kill, restart)
    up = machine.assert_node_up()
    if after_kill.startswith("filesystem "):
        assert up["uuid"] == after_kill.split()[1], (killed, restart)
    machine.write_file(text="after the crash\n")
    assert machine.read_file() == "after the crash\n"
    for action in ("AttachVolume", "AttachNetworkInterface", "ChangeResourceRecordSets"):
        assert len(machine.calls(action, answered=True)) == 1, (action, killed, restart)
    # The volume started blank: nodeagent:format-started before the one
    # mkfs that completed, nodeagent:initialized after it, once each.
    for key in (TAG_FORMAT_STARTED, TAG_INITIALIZED):
        assert len(tag_calls(machine.fake, key, answered=True)) == 1, (key, killed, restart)
    assert set(machine.volume()["tags"]) >= {TAG_FORMAT_STARTED, TAG_INITIALIZED}
    assert [s["status"] for s in signals(machine.fake)] == ["SUCCESS"]
    assert [a["result"] for a in lifecycle_actions(machine.fake) if a["call"] == "CompleteLifecycleAction"] == [
        "CONTINUE"]
    return up


@pytest.mark.parametrize("point", POINTS, ids=repr)
def test_killed_at_a_step_converges(machine, point):
    killed = run_and_kill(machine, point, args=("--once",))
    assert killed.hit, killed
    after_kill = device_content(machine)
    restart = machine.boot()
    assert_converged(machine, killed, restart, after_kill)


@pytest.mark.parametrize("seed", range(5))
def test_killed_at_a_random_moment_converges(machine, seed):
    # A whole first boot takes about a second here.
    after = random.Random(seed).uniform(0.1, 1.3)
    killed = run_and_kill(machine, after=after, args=("--once",))
    after_kill = device_content(machine)
    restart = machine.boot()
    assert_converged(machine, killed, restart, after_kill)
    print(f"\nseed {seed}: killed after {after:.2f} s{'' if killed.hit else ' (it had finished)'}; "
          f"device: {after_kill}")


def test_killed_while_mkfs_writes_converges(machine):
    """Killed (with its mkfs, as systemd kills the unit's control group on a
    crash or a start timeout) while mkfs.ext4 is half-way: the device then
    has neither a signature nor zeros, and the volume no
    nodeagent:initialized tag, but nodeagent:format-started: the next boot
    knows the blocks as its own mkfs's and formats again."""
    half_way = child("mkfs.ext4", stop=True, then=step_until_written)
    for attempt in range(8):
        killed = run_and_kill(machine, half_way, args=("--once",))
        after_kill = device_content(machine)
        if killed.hit and after_kill == "other":
            print(f"\nmkfs caught half-way at attempt {attempt + 1}")
            break
        machine.fresh()
    else:
        pytest.skip(f"mkfs was never caught half-way in 8 attempts (last: {after_kill})")
    assert machine.volume()["tags"].get(TAG_FORMAT_STARTED) == INSTANCE
    restart = machine.boot()
    # Formatted again: a filesystem where the kill left neither one nor
    # zeros (assert_converged: mounted, tagged with its UUID).
    assert_converged(machine, killed, restart, after_kill)
