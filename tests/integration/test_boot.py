"""Whole boots: the volume path and the network path (ENI, routing, Route 53)
at once, then the readiness signals, in a sandbox of the node's own
(sandbox.py: network namespaces, a private /run/udev with its own udevd, a
private /run/nodeagent), against the fake AWS whose attaches make a loop
device and a veth link. Every case asserts on the fake's state, the kernel's
state (the sandbox's mounts, links, routes and rules) and the image's bytes.

One machine (sandbox + fake) serves the module; the `machine` fixture makes
it a new machine before each test (Machine.fresh(): nothing running,
mounted, attached, linked or routed, an empty /run/nodeagent, the initial
world with a group and a stack that wait for this instance, a blank image)
and checks that it is."""

import json
import os
import random
import signal
import subprocess
import time

import pytest

import sandbox
from conftest import ENI, INSTANCE, NODEAGENT, ZONE, clean_env, write_config
from conftest import VOLUME as DEFAULT_VOLUME
from sandbox import Sandbox, host_udevd_answers, kill_tree
from test_interface import ENI_IP, ENI_MAC, TABLE, ip_json
from test_signals import GROUP, HOOK, RESOURCE, STACK, lifecycle_actions, signals, strict_world
from test_supervise import NotifySocket
from test_volume import SIZE, sha256
from world import DEFAULT_WORLD_FILE

# The volume has an id of this test run's own: loop devices are global, and
# another run's loop device of the default volume would carry the same
# serial (the sandbox's serial rule also takes only this machine's images).
VOLUME = f"vol-0b007{os.getpid() % (1 << 48):012x}"
SERIAL = VOLUME.replace("-", "")
DNS_NAME = "kafka-1.cluster.internal."
NEW_INSTANCE = "i-0aaaaaaaaaaaaaaa1"

CONFIG = """\
[Node]
Name=kafka-1
Timeout={timeout}

[Volume]
Id={volume}
MountPoint={mount}
FileSystem=ext4
DetachOnStop={detach_on_stop}

[Interface]
Id={eni}
Routing=agent
DetachOnStop={detach_on_stop}

[DNS]
HostedZoneId={zone}
Name=kafka-1.cluster.internal
Mode=node

[Signal]
CloudFormationStack={stack}
CloudFormationResource={resource}
LifecycleHook={hook}
"""


def blkid(path, tag):
    return subprocess.run(["blkid", "-p", "-o", "value", "-s", tag, path], capture_output=True,
                          text=True).stdout.strip()


def debugfs_cat(image, name):
    """A file's content read from the image's bytes (not through any mount)."""
    proc = subprocess.run(["debugfs", "-R", f"cat /{name}", image], capture_output=True, text=True)
    return proc.stdout


def line_index(text, needle):
    for i, line in enumerate(text.splitlines()):
        if needle in line:
            return i
    raise AssertionError(f"no line with {needle!r} in:\n{text}")


def actions_in_order(fake):
    """The actions in the order they arrived (the fake logs each when it has replied)."""
    return [q["action"] for q in sorted(fake.requests(), key=lambda q: q["time"] - q["ms"] / 1000)]


def parse_state(text):
    state = {}
    for line in text.splitlines():
        if line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        state[key] = value.strip('"')
    return state


def initial_world():
    """The default world, with the volume under this run's id."""
    with open(DEFAULT_WORLD_FILE) as f:
        world = json.load(f)
    world["volumes"] = {VOLUME: world["volumes"].pop(DEFAULT_VOLUME)}
    return world


class Machine:
    """One node's machine: a Sandbox, the fake in it (SandboxBackend: loop
    devices from volumes/, veth links into the sandbox's VPC namespace), the
    volume's image, a configuration, and the agent run inside."""

    def __init__(self, directory):
        self.dir = directory
        self.volume_dir = os.path.join(directory, "volumes")
        self.image = os.path.join(self.volume_dir, SERIAL + ".img")
        self.mount = os.path.join(directory, "mnt")
        self.confdir = os.path.join(directory, "etc")
        for d in (self.volume_dir, self.mount, self.confdir):
            os.makedirs(d, mode=0o755, exist_ok=True)
        os.chmod(self.confdir, 0o755)
        self.sb = Sandbox(directory)
        self.fake = None

    @property
    def ns(self):
        return self.sb.name

    def start(self):
        self.sb.start()
        try:
            self.fake = self.sb.fake(world=initial_world(), backend=sandbox.BACKEND,
                                     backend_opts={"volume_dir": self.volume_dir, "router_netns": self.sb.vpc})
        except BaseException:
            self.sb.close()
            raise
        return self

    def close(self):
        self.sb.close()

    # -- a new machine ------------------------------------------------------------------

    def fresh(self, world=None, blank_image=True):
        """Make this a machine that never ran the agent: stop what runs, unmount,
        the world reset (to `world` if given, else the initial one with a
        group and a stack waiting for this instance), the devices released,
        policy routing and /run/nodeagent emptied, the image blank."""
        for proc in self.sb.procs:
            kill_tree(proc)
        self.sb.procs = []
        self.sb.unmount_all()
        self.fake.reset()
        if world is not None:
            self.fake.set_state(world)
        else:
            self.fake.merge_state({"delays": {"volume_attach": 0.3, "eni_attach": 0.3}})
            strict_world(self.fake)
        for rule in ip_json(self.ns, "rule", "show"):
            if rule.get("table") not in ("local", "main", "default"):
                subprocess.run(["ip", "-n", self.ns, "rule", "del", "priority", str(rule["priority"])],
                               capture_output=True)
        self.sb.run_raw(["find", "/run/nodeagent", "-mindepth", "1", "-delete"])
        assert [b for b in self.loops().values() if b.startswith(self.volume_dir)] == []
        if blank_image:
            with open(self.image, "wb") as f:
                f.truncate(SIZE)
        self.configure()
        self.assert_fresh(world is None)

    def assert_fresh(self, initial_world=True):
        assert [m for m in self.sb.mounts() if m["target"].startswith(self.dir)] == []
        assert self.link() is None
        assert [r for r in ip_json(self.ns, "rule", "show") if r.get("table") not in ("local", "main", "default")] == []
        assert os.listdir(self.sb.path("/run/nodeagent")) == []
        assert [b for b in self.loops().values() if b.startswith(self.volume_dir)] == []
        if initial_world:
            world = self.fake.state()
            assert world["volumes"][VOLUME]["attachments"] == []
            assert world["network_interfaces"][ENI]["attachment"] is None

    def configure(self, timeout="60s", detach_on_stop="no"):
        self.config = write_config(self.confdir, CONFIG.format(
            timeout=timeout, volume=VOLUME, mount=self.mount, eni=ENI, detach_on_stop=detach_on_stop, zone=ZONE,
            stack=STACK, resource=RESOURCE, hook=HOOK))

    # -- the agent ----------------------------------------------------------------------

    def env(self, extra=None):
        env = clean_env(self.fake.env())
        env.update(extra or {})
        return env

    def agent(self, *args, env=None, timeout=90):
        return self.sb.run([NODEAGENT, "--config", self.config, *args], self.env(env), timeout)

    def boot(self, timeout=90):
        return self.agent("--once", timeout=timeout)

    def spawn(self, *args, env=None, **kwargs):
        return self.sb.popen([NODEAGENT, "--config", self.config, *args], self.env(env), **kwargs)

    # -- what is there --------------------------------------------------------------------

    @staticmethod
    def loops():
        """Every bound loop device: {"/dev/loopN": backing file}."""
        found = {}
        for name in os.listdir("/sys/block"):
            try:
                with open(f"/sys/block/{name}/loop/backing_file") as f:
                    found[f"/dev/{name}"] = f.read().strip()
            except OSError:
                pass
        return found

    def link(self):
        for link in ip_json(self.ns, "link", "show"):
            if link.get("address") == ENI_MAC:
                return link
        return None

    def routes(self):
        return sorted((r["dst"], r.get("gateway"), r.get("dev")) for r in ip_json(self.ns, "route", "show", "table",
                                                                                    TABLE))

    def rules(self):
        return [(r.get("src"), r["priority"]) for r in ip_json(self.ns, "rule", "show") if r.get("table") == TABLE]

    def addresses(self, ifname):
        return [(a["local"], a["prefixlen"]) for link in ip_json(self.ns, "addr", "show", "dev", ifname)
                for a in link["addr_info"] if a["family"] == "inet"]

    def state_file(self):
        path = self.sb.path("/run/nodeagent/state")
        if not os.path.exists(path):
            return None
        return parse_state(self.sb.read(path))

    def volume(self):
        return self.fake.state()["volumes"][VOLUME]

    def records(self, name=DNS_NAME):
        zone = self.fake.state()["hosted_zones"][ZONE]
        return [r for r in zone["records"] if r["Name"] == name and r["Type"] == "A"]

    def calls(self, action):
        return [q for q in self.fake.requests() if q.get("action") == action]

    def write_file(self, name="data.txt", text="the node's state\n"):
        with open(os.path.join(self.sb.path(self.mount), name), "w") as f:
            f.write(text)
        os.sync()

    def read_file(self, name="data.txt"):
        with open(os.path.join(self.sb.path(self.mount), name)) as f:
            return f.read()

    # -- the assertions a converged node passes --------------------------------------------

    def assert_node_up(self, instance=INSTANCE):
        """Attached once, mounted, routed once, published, signalled once: on
        the fake, in the kernel and in the image."""
        # The device and the link are the agent's proof of the attachments;
        # EC2's own status may say "attaching" a moment longer (here the
        # link comes 0.2 s after the attach, the status 0.3 s).
        deadline = time.monotonic() + 2
        while True:
            world = self.fake.state()
            statuses = [a["status"] for a in world["volumes"][VOLUME]["attachments"]]
            statuses.append((world["network_interfaces"][ENI].get("attachment") or {}).get("status"))
            if "attaching" not in statuses or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        vol = world["volumes"][VOLUME]
        assert [(a["instance_id"], a["status"]) for a in vol["attachments"]] == [(instance, "attached")]
        eni = world["network_interfaces"][ENI]["attachment"]
        assert (eni["instance_id"], eni["status"], eni["device_index"]) == (instance, "attached", 1)

        backend = self.fake.backend_state()
        device = backend["loopback"]["volumes"][VOLUME]["device"]
        assert self.loops()[device] == self.image
        assert self.sb.udev_property(device, "ID_SERIAL_SHORT") == SERIAL
        [mount] = self.sb.mounted(self.mount)
        assert (mount["source"], mount["fstype"]) == (device, "ext4")

        uuid = blkid(self.image, "UUID")
        assert blkid(self.image, "TYPE") == "ext4"
        assert uuid and vol["tags"].get("nodeagent:initialized") == uuid

        ifname = backend["veth"]["interfaces"][ENI]["ifname"]
        link = self.link()
        assert link and link["ifname"] == ifname and "UP" in link["flags"]
        assert self.addresses(ifname) == [(ENI_IP, 24)]
        assert self.routes() == [("10.0.1.0/24", None, ifname), ("default", "10.0.1.1", ifname)]
        assert self.rules() == [(ENI_IP, 10001)]

        [record] = self.records()
        assert [v["Value"] for v in record["ResourceRecords"]] == [ENI_IP] and record["TTL"] == 60

        assert self.state_file() == {
            "NODEAGENT_INSTANCE_ID": instance, "NODEAGENT_VOLUME_ID": VOLUME, "NODEAGENT_DEVICE": device,
            "NODEAGENT_MOUNT_POINT": self.mount, "NODEAGENT_ENI_ID": ENI, "NODEAGENT_INTERFACE": ifname,
            "NODEAGENT_IP": ENI_IP, "NODEAGENT_DNS_NAME": DNS_NAME,
        }
        return {"device": device, "ifname": ifname, "uuid": uuid}


@pytest.fixture(scope="module")
def shared_machine(tmp_path_factory):
    if os.geteuid() != 0:
        pytest.skip("needs root: namespaces, loop devices, udevd")
    m = Machine(str(tmp_path_factory.mktemp("boot"))).start()
    try:
        yield m
    finally:
        m.close()


@pytest.fixture
def machine(shared_machine):
    shared_machine.fresh()
    yield shared_machine
    # What a failed test leaves running (a daemon, a killed boot's leftovers) stops now.
    for proc in shared_machine.sb.procs:
        kill_tree(proc)
    shared_machine.sb.procs = []


@pytest.fixture
def notify(tmp_path):
    n = NotifySocket(str(tmp_path / "notify"))
    try:
        yield n
    finally:
        n.close()


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
        while m.sb.udev_property(device, "ID_SERIAL_SHORT") != SERIAL:
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
              f"{' with the serial (another session rule)' if SERIAL in host.stdout else ''}")
        assert host_udevd_answers() == host_before
        assert sorted(m.sb.run_raw(["ls", "/sys/class/net"]).stdout.split()) == ["eth0", "eth0peer", "lo"]
    finally:
        m.close()
    assert not os.path.exists(f"/proc/{holder}")
    assert not any(os.path.exists(f"/run/netns/{n}") for n in ns)
    assert [b for b in Machine.loops().values() if b.startswith(str(tmp_path))] == []
    assert host_udevd_answers() == host_before


# -- whole boots


def test_full_node_boot(machine):
    r = machine.boot()
    assert r.status == 0, r
    up = machine.assert_node_up()
    # The mount is the sandbox's: the test's own mount namespace does not have it.
    with open("/proc/self/mountinfo") as f:
        assert not any(line.split()[4] == machine.mount for line in f)

    # The two paths ran at once: both started before either finished.
    log = r.stderr
    started = max(line_index(log, "volume: find:"), line_index(log, "interface: find:"))
    assert started < min(line_index(log, "volume: done:"), line_index(log, "interface: done:")), log
    assert "newly formatted" in log

    # Each change once.
    assert [len(machine.calls(a)) for a in ("AttachVolume", "AttachNetworkInterface", "ChangeResourceRecordSets",
                                            "SignalResource", "CompleteLifecycleAction")] == [1] * 5
    # nodeagent:format-started before mkfs, nodeagent:initialized after.
    assert len(machine.calls("CreateTags")) == 2
    assert machine.volume()["tags"]["nodeagent:format-started"] == INSTANCE

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
    assert up["uuid"] == blkid(machine.image, "UUID")


def test_replacement_keeps_the_data_the_ip_and_the_record(machine):
    machine.configure(detach_on_stop="yes")
    r = machine.boot()
    assert r.status == 0, r
    first = machine.assert_node_up()
    machine.write_file(text="written by the first instance\n")

    # The first instance goes: unmount, detach the volume and (DetachOnStop=yes) the ENI.
    r = machine.agent("--detach")
    assert r.status == 0, r
    assert not machine.sb.is_mounted(machine.mount)
    world = machine.fake.state()
    assert world["volumes"][VOLUME]["attachments"] == []
    assert world["network_interfaces"][ENI]["attachment"] is None
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
    assert "creating an ext4 filesystem" not in r.stderr and "newly formatted" not in r.stderr
    assert up["uuid"] == first["uuid"]
    assert machine.read_file() == "written by the first instance\n"
    # The fixed IP: the record is right already, so Route 53 is only read.
    assert machine.calls("ChangeResourceRecordSets") == []
    assert "already right" in r.stderr
    assert machine.calls("CreateTags") == []
    assert signals(machine.fake)[-1] == {"stack": STACK, "resource": RESOURCE, "unique_id": NEW_INSTANCE,
                                         "status": "SUCCESS"}
    assert machine.fake.state()["instances"][NEW_INSTANCE]["lifecycle_state"] == "InService"


def test_a_failing_path_stops_the_other(machine, notify):
    # Not provably blank: the first MiB is random.
    with open(machine.image, "r+b") as f:
        f.write(os.urandom(1 << 20))
    before = sha256(machine.image)
    # The link comes late, so the network path is waiting for it when the volume path fails.
    machine.fake.merge_state({"sandbox": {"eni_device_delay": 30}})
    log = open(os.path.join(machine.dir, "failing.log"), "w+")
    proc = machine.spawn(env={"NOTIFY_SOCKET": notify.path}, stdout=log, stderr=subprocess.STDOUT)
    start = time.monotonic()
    try:
        status = proc.wait(30)
    finally:
        elapsed = time.monotonic() - start
        log.seek(0)
        output = log.read()
        log.close()
    assert status == 5, output
    assert "Refusing to use" in output
    assert "interface: wait-link: stopped, another path failed." in output
    assert elapsed < 15, output
    print(f"\nfailed volume path to exit: {elapsed:.2f} s (the link was 30 s away)")

    assert sha256(machine.image) == before
    assert not machine.sb.is_mounted(machine.mount)
    assert "nodeagent:initialized" not in machine.volume()["tags"]
    assert machine.records() == []
    assert machine.state_file() is None
    assert not notify.has("READY=1")
    assert [m for m in notify.messages if m.startswith("STATUS=")][-1].startswith("STATUS=failed:")
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
    assert "dns: change:" not in r.stderr


def test_the_deadline_ends_the_boot(machine):
    machine.configure(timeout="5s")
    machine.fake.merge_state({"sandbox": {"eni_device_delay": 3600}})
    r = machine.boot()
    assert r.status == 6, r
    assert 4.5 <= r.elapsed < 7.5, r
    assert f"No link with MAC address {ENI_MAC} appeared before the deadline" in r.stderr
    assert "volume: done:" in r.stderr or "stopped, another path failed" in r.stderr
    assert machine.link() is None
    assert machine.state_file() is None
    assert signals(machine.fake)[-1]["status"] == "FAILURE"


# Each path's STATUS= messages, in the order of its steps.
STATUS_ORDER = {
    "volume": ["Looking for the volume", "Attaching", "Waiting for the block device", "Checking and mounting",
               "Tagging", "is mounted at"],
    "interface": ["Looking for the network interface", "Attaching", "Waiting for the link", "Routing",
                  f"is eth1 with {ENI_IP}"],
    "dns": ["Reading", f"nothing -> {ENI_IP}", "changed"],
}


def test_daemon_ready_then_the_link_goes(machine, notify):
    log = open(os.path.join(machine.dir, "daemon.log"), "w+")
    proc = machine.spawn(env={"NOTIFY_SOCKET": notify.path}, stdout=log, stderr=subprocess.STDOUT)
    try:
        assert notify.wait_for("READY=1", timeout=60), open(log.name).read()
        # READY came after the mount, the routes and the record.
        machine.assert_node_up()
        ready = notify.messages.index("READY=1")
        statuses = [m for m in notify.messages[:ready] if m.startswith("STATUS=")]
        for path, steps in STATUS_ORDER.items():
            seen = [next((i for i, m in enumerate(statuses) if m.startswith(f"STATUS={path}: ") and step in m), None)
                    for step in steps]
            assert None not in seen and seen == sorted(seen), (path, steps, statuses)
        assert proc.poll() is None

        ifname = machine.link()["ifname"]
        start = time.monotonic()
        subprocess.run(["ip", "-n", machine.ns, "link", "del", ifname], check=True)
        status = proc.wait(10)
        elapsed = time.monotonic() - start
    finally:
        log.seek(0)
        output = log.read()
        log.close()
    assert status == 1, output
    assert elapsed < 3, output
    assert f"The interface {ifname} of {ENI} is gone" in output
    # The mount stays: systemd's restart brings the rest back.
    assert machine.sb.is_mounted(machine.mount)


def test_daemon_sigterm_releases_both_with_detach_on_stop(machine, notify):
    machine.configure(detach_on_stop="yes")
    log = open(os.path.join(machine.dir, "daemon.log"), "w+")
    proc = machine.spawn(env={"NOTIFY_SOCKET": notify.path}, stdout=log, stderr=subprocess.STDOUT)
    try:
        assert notify.wait_for("READY=1", timeout=60), open(log.name).read()
        machine.assert_node_up()
        changes = len(machine.calls("ChangeResourceRecordSets"))
        proc.send_signal(signal.SIGTERM)
        status = proc.wait(30)
    finally:
        log.seek(0)
        output = log.read()
        log.close()
    assert status == 0, output
    assert notify.has("STOPPING=1")
    assert not machine.sb.is_mounted(machine.mount)
    world = machine.fake.state()
    assert world["volumes"][VOLUME]["attachments"] == []
    assert world["network_interfaces"][ENI]["attachment"] is None
    deadline = time.monotonic() + 5
    while machine.link() is not None or [b for b in machine.loops().values() if b == machine.image]:
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

MARKERS = [
    "volume: find:",
    "volume: attach: Attaching",
    "interface: attach: Attaching",
    "volume: wait-device: Waiting",
    "interface: wait-link: Waiting",
    "interface: routing: Routing",
    "dns: read:",
    "dns: change:",
    "volume: filesystem:",
    "creating an ext4 filesystem",
    "volume: format: Tagging",
    "Mounted /dev/",
    "volume: tag:",
    "signal: lifecycle: Completing",
    "signal: cloudformation: Signalling",
]


def _child(proc, comm):
    """The pid of a process named comm below proc, or None."""
    for pid in sandbox.descendants(proc.pid):
        try:
            with open(f"/proc/{pid}/comm") as f:
                if f.read().strip() == comm:
                    return pid
        except OSError:
            pass
    return None


def _stop_when_writing(proc, comm, at_least=256 << 10):
    """Wait for a child named comm to have written at_least bytes, and
    freeze it there. (mke2fs begins with a few blocks of zeros: a kill at
    its first write leaves the device blank.)"""
    pid = None
    while proc.poll() is None:
        if pid is None:
            pid = _child(proc, comm)
            continue
        try:
            with open(f"/proc/{pid}/io") as f:
                io = dict(line.split(": ") for line in f.read().splitlines())
        except OSError:
            return  # It has finished.
        if int(io["wchar"]) >= at_least:
            os.kill(pid, signal.SIGSTOP)
            return


def kill_at(machine, marker=None, after=None, child=None):
    """Start a boot and SIGKILL it (with its children, as systemd kills a
    unit) when its log shows marker (and then, with child, as soon as a
    child process of that name has written something), or after `after`
    seconds. Returns what it logged and whether it was killed before it
    ended by itself."""
    proc = machine.spawn("--once", stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    seen = []
    killed = False
    try:
        if marker:
            for line in proc.stderr:
                seen.append(line)
                if marker in line:
                    break
            if child:
                _stop_when_writing(proc, child)
            killed = proc.poll() is None
            kill_tree(proc)
        else:
            try:
                proc.wait(after)
            except subprocess.TimeoutExpired:
                kill_tree(proc)
                killed = True
    finally:
        kill_tree(proc)
        seen.append(proc.stderr.read())
        proc.stderr.close()
        machine.sb.procs.remove(proc)
    return "".join(seen), killed


def device_content(machine):
    """What the volume's device holds now: "filesystem UUID", "zeros" or "other"."""
    device = machine.fake.backend_state()["loopback"]["volumes"].get(VOLUME, {}).get("device")
    if not device:
        return "no device"
    subprocess.run(["blockdev", "--flushbufs", device], capture_output=True)
    uuid = blkid(device, "UUID")
    if uuid:
        return f"filesystem {uuid}"
    with open(device, "rb") as f:
        while True:
            block = f.read(1 << 20)
            if not block:
                return "zeros"
            if block.count(0) != len(block):
                return "other"


def assert_converged(machine, first, second, after_kill):
    """The run after the kill ended with the node up, each change made once
    over both runs, and a filesystem the first run completed kept."""
    up = machine.assert_node_up()
    if after_kill.startswith("filesystem "):
        assert up["uuid"] == after_kill.split()[1]
        assert "creating an ext4 filesystem" not in second, second
    assert (first + second).count("newly formatted") <= 1
    machine.write_file(text="after the crash\n")
    assert machine.read_file() == "after the crash\n"
    for action in ("AttachVolume", "AttachNetworkInterface", "ChangeResourceRecordSets"):
        assert len(machine.calls(action)) == 1, (action, first, second)
    # The volume started blank: nodeagent:format-started before the one
    # mkfs that completed, nodeagent:initialized after it, once each.
    assert len(machine.calls("CreateTags")) == 2, (first, second)
    assert set(machine.volume()["tags"]) >= {"nodeagent:format-started", "nodeagent:initialized"}
    assert [s["status"] for s in signals(machine.fake)] == ["SUCCESS"]
    assert [a["result"] for a in lifecycle_actions(machine.fake) if a["call"] == "CompleteLifecycleAction"] == [
        "CONTINUE"]
    return up


@pytest.mark.parametrize("marker", MARKERS)
def test_killed_at_a_step_converges(machine, marker):
    first, killed = kill_at(machine, marker=marker)
    assert killed, first
    after_kill = device_content(machine)
    r = machine.boot()
    assert r.status == 0, (first, after_kill, r)
    assert_converged(machine, first, r.stderr, after_kill)


@pytest.mark.parametrize("seed", range(5))
def test_killed_at_a_random_moment_converges(machine, seed):
    # A whole first boot takes about a second here.
    after = random.Random(seed).uniform(0.1, 1.3)
    first, killed = kill_at(machine, after=after)
    after_kill = device_content(machine)
    r = machine.boot()
    assert r.status == 0, (after, first, after_kill, r)
    assert_converged(machine, first, r.stderr, after_kill)
    print(f"\nseed {seed}: killed after {after:.2f} s{'' if killed else ' (it had finished)'}; device: {after_kill}")


def test_killed_while_mkfs_writes_converges(machine):
    """Killed (with its mkfs, as systemd kills the unit's control group on a
    crash or a start timeout) while mkfs.ext4 is half-way: the device then
    has neither a signature nor zeros, and the volume no
    nodeagent:initialized tag, but nodeagent:format-started: the next boot
    knows the blocks as its own mkfs's and formats again."""
    for attempt in range(8):
        first, killed = kill_at(machine, marker="creating an ext4 filesystem", child="mkfs.ext4")
        after_kill = device_content(machine)
        if killed and after_kill == "other":
            print(f"\nmkfs caught half-way at attempt {attempt + 1}")
            break
        machine.fresh()
    else:
        pytest.skip(f"mkfs was never caught half-way in 8 attempts (last: {after_kill})")
    r = machine.boot()
    assert r.status == 0, (first, after_kill, r)
    assert "mkfs of nodeagent's on this volume was interrupted" in r.stderr, r.stderr
    assert_converged(machine, first, r.stderr, after_kill)


