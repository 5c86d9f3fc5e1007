"""Handover (issue 19): two, three instances of one node at once, each in a
sandbox of its own (sandbox.py, peer=), one fake AWS world with an IMDS per
instance. The holder's daemon runs outside systemd here, so it releases
directly (under systemd it stops its own unit first).

    holder    i-0123456789abcdef0  sandbox a (10.0.1.5), launched first
    new       i-0bbbbbbbbbbbbbbb2  sandbox b (10.0.1.6, a's subnet of two), launched next
    newer     i-0ccccccccccccccc3  sandbox c (10.0.1.7, reaches nobody), launched last

The node: a volume (ext4, data written), the ENI (Routing=agent) and a DNS
record; every instance's configuration says TakeOver=handover. Each test
asserts on outcomes (harness.py): exit statuses, READY, the fake's world
(attachments, tags) and request log, each sandbox's mounts and links, the
image's filesystem and data; the log only where the contract wants a name
said (a refused requester is logged, by its id)."""

import json
import os
import signal
import socket
import subprocess
import threading
import time

import pytest

from harness import DNS_NAME, ENI, ENI_IP, INSTANCE, NODEAGENT, ZONE, clean_env, ip_json, write_config
from harness import VOLUME as DEFAULT_VOLUME

import sandbox
from sandbox import Sandbox, kill_tree
from world import DEFAULT_WORLD_FILE

VOLUME = f"vol-0b00d{os.getpid() % (1 << 48):012x}"
SERIAL = VOLUME.replace("-", "")
HOLDER = INSTANCE
NEW = "i-0bbbbbbbbbbbbbbb2"
NEWER = "i-0ccccccccccccccc3"
OTHER_NODE = "i-0eeeeeeeeeeeeeee5"
STOPPED = "i-0fffffffffffffff6"
EARLIER = "i-0ddddddddddddddd7"
NODE = "kafka-1"
HANDOVER_TO = "nodeagent:handover-to"
HANDED_OVER_BY = "nodeagent:handed-over-by"
SIZE = 64 << 20
LAUNCH = 1704067200  # the holder's launch time: 2024-01-01T00:00:00Z

CONFIG = """\
[Node]
Name=kafka-1
Timeout=120s

[Volume]
Id={volume}
MountPoint={mount}
FileSystem=ext4
TakeOver=handover
TakeOverTimeout=60s

[Interface]
Id={eni}
Routing=agent
TakeOver=handover
TakeOverTimeout=60s

[DNS]
HostedZoneId={zone}
Name=kafka-1.cluster.internal
Mode=node
"""


def instance(n, ip, mac, launch, node=NODE, state="running"):
    """An instance of the world, with its own primary ENI (the caller adds it)."""
    tags = {"Name": node or "other"}
    if node:
        tags["nodeagent:node"] = node
    return {"state": state, "availability_zone": "us-east-1a", "instance_type": "t3.micro",
            "image_id": "ami-0123456789abcdef0", "reservation_id": f"r-0{n}", "launch_time": launch,
            "subnet_id": "subnet-0123456789abcdef0", "vpc_id": "vpc-0123456789abcdef0",
            "primary_eni": f"eni-0{n * 15}0", "tags": tags}, \
        (f"eni-0{n * 15}0", {"subnet_id": "subnet-0123456789abcdef0", "vpc_id": "vpc-0123456789abcdef0",
                             "availability_zone": "us-east-1a", "mac_address": mac, "private_ip_address": ip,
                             "security_groups": [], "tags": {}, "attachment": None})


def initial_world():
    with open(DEFAULT_WORLD_FILE) as f:
        world = json.load(f)
    world["volumes"] = {VOLUME: world["volumes"].pop(DEFAULT_VOLUME)}
    world["instances"][HOLDER]["tags"]["nodeagent:node"] = NODE
    world["instances"][HOLDER]["launch_time"] = LAUNCH
    for iid, n, ip, mac, launch, node, state in (
            (NEW, "b", "10.0.1.6", "02:00:00:00:01:06", LAUNCH + 86400, NODE, "running"),
            # Stopped: only the test of two requesters runs it.
            (NEWER, "c", "10.0.1.7", "02:00:00:00:01:07", LAUNCH + 2 * 86400, NODE, "stopped"),
            (OTHER_NODE, "e", "10.0.1.8", "02:00:00:00:01:08", LAUNCH + 86400, "kafka-2", "running"),
            (STOPPED, "f", "10.0.1.9", "02:00:00:00:01:09", LAUNCH + 86400, NODE, "stopped"),
            (EARLIER, "d", "10.0.1.11", "02:00:00:00:01:11", LAUNCH - 86400, NODE, "running")):
        inst, (eid, eni) = instance(n, ip, mac, launch, node, state)
        world["instances"][iid] = inst
        world["network_interfaces"][eid] = eni
    # EC2 says detached only after the old device is gone, as on EC2 (the
    # old instance's kernel lets go first). Here both instances share one
    # kernel: with a detach at once, the new instance could find the old
    # instance's loop device, with the same serial, in its last moment.
    world["delays"].update({"volume_attach": 0.3, "eni_attach": 0.3, "volume_detach": 1.5})
    return world


def blkid(path, tag):
    return subprocess.run(["blkid", "-p", "-o", "value", "-s", tag, path], capture_output=True,
                          text=True).stdout.strip()


class Agent:
    """A daemon in a sandbox: its output timestamped line by line as it
    comes, and its sd_notify messages (a NOTIFY_SOCKET of its own)."""

    def __init__(self, cluster, sb, instance_id, extra_args=(), env=None, name="agent"):
        self.lines = []
        self.notes = []
        self.path = os.path.join(cluster.dir, f"notify-{name}-{time.monotonic_ns()}")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.settimeout(0.2)
        e = clean_env(cluster.fake.env(instance=None if instance_id == HOLDER else instance_id))
        e["NOTIFY_SOCKET"] = self.path
        e.update(env or {})
        self.proc = sb.popen([NODEAGENT, "--config", cluster.config, *extra_args], e, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT)
        self.threads = [threading.Thread(target=self._read, daemon=True),
                        threading.Thread(target=self._notes, daemon=True)]
        for t in self.threads:
            t.start()

    def _read(self):
        for raw in self.proc.stdout:
            self.lines.append((time.monotonic(), raw.decode(errors="replace").rstrip("\n")))

    def _notes(self):
        while True:
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                if self.proc.poll() is not None:
                    return
                continue
            except OSError:
                return
            for m in data.decode(errors="replace").splitlines():
                self.notes.append((time.time(), m))

    def output(self):
        return "\n".join(line for _, line in self.lines)

    def lines_naming(self, name):
        return [line for _, line in self.lines if name in line]

    def wait_named(self, name, timeout=60):
        """Waits until a line of the output names name (an id); True when one does."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.lines_naming(name):
                return True
            if self.proc.poll() is not None:
                time.sleep(0.2)  # the last lines
                return bool(self.lines_naming(name))
            time.sleep(0.05)
        return False

    def ready_at(self):
        """When READY=1 came (wall-clock time, as the fake's request log); None before."""
        return next((t for t, m in self.notes if m == "READY=1"), None)

    def wait_ready(self, timeout=90):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.proc.poll() is None:
            if self.ready_at() is not None:
                return self.ready_at()
            time.sleep(0.05)
        return self.ready_at()

    def wait(self, timeout=60):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        finally:
            for t in self.threads:
                t.join(2)

    def close(self):
        if self.proc.poll() is None:
            kill_tree(self.proc)
        self.sock.close()
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass


class Cluster:
    """Three instances' sandboxes, one fake, one configuration, the volume's image."""

    def __init__(self, directory):
        self.dir = directory
        self.volume_dir = os.path.join(directory, "volumes")
        self.image = os.path.join(self.volume_dir, SERIAL + ".img")
        self.mount = os.path.join(directory, "mnt")
        self.confdir = os.path.join(directory, "etc")
        for d in (self.volume_dir, self.mount, self.confdir):
            os.makedirs(d, mode=0o755, exist_ok=True)
        os.chmod(self.confdir, 0o755)
        self.config = write_config(self.confdir, CONFIG.format(volume=VOLUME, mount=self.mount, eni=ENI, zone=ZONE))
        self.sandboxes = []
        self.agents = []
        self.fake = None

    def start(self):
        try:
            self.a = self._sandbox("a")
            self.b = self._sandbox("b", peer=self.a, primary_ip="10.0.1.6", primary_mac="02:00:00:00:01:06")
            self.c = self._sandbox("c", peer=self.a, primary_ip="10.0.1.7", primary_mac="02:00:00:00:01:07")
            self.fake = self.a.fake(world=initial_world(), backend=sandbox.BACKEND, peers={NEW: self.b, NEWER: self.c},
                                    backend_opts={"volume_dir": self.volume_dir, "router_netns": self.a.vpc})
        except BaseException:
            self.close()
            raise
        return self

    def _sandbox(self, name, **kwargs):
        sb = Sandbox(os.path.join(self.dir, name), **kwargs).start()
        self.sandboxes.append(sb)
        return sb

    def close(self):
        self.stop_agents()
        for sb in reversed(self.sandboxes):
            sb.close()

    def stop_agents(self):
        for agent in self.agents:
            agent.close()
        self.agents = []

    def fresh(self):
        """No agent, nothing mounted, attached, linked or routed anywhere; the initial world; a blank image."""
        self.stop_agents()
        for sb in self.sandboxes:
            for proc in sb.procs:
                kill_tree(proc)
            sb.procs = []
            sb.run_raw(["umount", "-l", self.mount])
        self.fake.reset()
        for sb in self.sandboxes:
            for rule in ip_json(sb.name, "rule", "show"):
                if rule.get("table") not in ("local", "main", "default"):
                    subprocess.run(["ip", "-n", sb.name, "rule", "del", "priority", str(rule["priority"])],
                                   capture_output=True)
            sb.run_raw(["find", "/run/nodeagent", "-mindepth", "1", "-delete"])
            sb.run_raw(["ip", "link", "set", "eth0", "up"])
        with open(self.image, "wb") as f:
            f.truncate(SIZE)
        # The request log outlives a reset, and a call a fault held is
        # logged when the hold ends: calls() counts those arriving from here.
        self.since = time.time()

    def agent(self, sb, instance_id, *args, **kwargs):
        a = Agent(self, sb, instance_id, args, **kwargs)
        self.agents.append(a)
        return a

    # -- looking --------------------------------------------------------------------------

    def world(self):
        return self.fake.state()

    def holders(self):
        """(the volume's attachments, the ENI's attachment) as (instance, status)."""
        w = self.world()
        eni = w["network_interfaces"][ENI]["attachment"]
        return ([(a["instance_id"], a["status"]) for a in w["volumes"][VOLUME]["attachments"]],
                (eni["instance_id"], eni["status"]) if eni else None)

    def wait_holders(self, instance_id, timeout=30):
        want = ([(instance_id, "attached")], (instance_id, "attached"))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.holders() != want:
            time.sleep(0.1)
        return self.holders() == want

    def tags(self):
        w = self.world()
        return w["volumes"][VOLUME]["tags"], w["network_interfaces"][ENI]["tags"]

    def wait_tags(self, key, value, timeout=30):
        """Waits until the volume and the ENI both carry key=value."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(t.get(key) == value for t in self.tags()):
                return True
            time.sleep(0.1)
        return False

    def calls(self, instance_id, prefix):
        """The EC2 calls instance_id made in this test whose action starts with prefix."""
        return [q for q in self.fake.requests(service="ec2") if q["action"].startswith(prefix) and
                q.get("instance") == instance_id and q["time"] - q["ms"] / 1000 >= self.since]

    def released_at(self, instance_id):
        """When the first detach of instance_id's release reached EC2 (wall-clock time); None: none did."""
        starts = [q["time"] - q["ms"] / 1000 for q in self.calls(instance_id, "Detach")]
        return min(starts) if starts else None

    def eni_link(self, sb):
        for link in ip_json(sb.name, "addr", "show"):
            if any(a.get("local") == ENI_IP for a in link.get("addr_info", [])):
                return link["ifname"]
        return None

    def rules(self, sb):
        return [(r.get("src"), r["priority"]) for r in ip_json(sb.name, "rule", "show") if r.get("table") == "10001"]

    def table(self, sb):
        return ip_json(sb.name, "route", "show", "table", "10001")

    def write(self, sb, text):
        with open(os.path.join(sb.path(self.mount), "data.txt"), "w") as f:
            f.write(text)
        subprocess.run(sb.cmd(["sync", "-f", self.mount], net=False), check=True)

    def read(self, sb):
        with open(os.path.join(sb.path(self.mount), "data.txt")) as f:
            return f.read()

    def records(self):
        zone = self.world()["hosted_zones"][ZONE]
        return [r for r in zone["records"] if r["Name"] == DNS_NAME and r["Type"] == "A"]

    def prompt(self, sb, requester=NEW):
        """A prompt datagram to the holder, sent inside sandbox sb (to its own 127.0.0.1)."""
        code = ("import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); "
                f"s.sendto(b'nodeagent-handover 1 {requester} {NODE}\\n', ('127.0.0.1', 7465))")
        subprocess.run(["ip", "netns", "exec", sb.name, "/usr/bin/python3", "-c", code], check=True)

    def serving(self, agent, sb):
        """The holder still runs, mounted, with both attachments and the link."""
        return (agent.proc.poll() is None and sb.is_mounted(self.mount) and self.holders() ==
                ([(HOLDER, "attached")], (HOLDER, "attached")) and self.eni_link(sb) is not None)


@pytest.fixture(scope="module")
def shared_cluster(tmp_path_factory):
    if os.geteuid() != 0:
        pytest.skip("needs root: namespaces, loop devices, udevd")
    c = Cluster(str(tmp_path_factory.mktemp("handover"))).start()
    try:
        yield c
    finally:
        c.close()


@pytest.fixture
def cluster(shared_cluster):
    shared_cluster.fresh()
    yield shared_cluster
    shared_cluster.stop_agents()


def holder_up(cluster, args=(), env=None):
    """The holder's daemon, READY, with data written on the volume."""
    a = cluster.agent(cluster.a, HOLDER, *args, name="holder", env=env)
    assert a.wait_ready(), a.output()
    cluster.write(cluster.a, "written by the holder\n")
    return a


def assert_handed_over(cluster, holder, to):
    """Both resources attached to `to` alone, tagged handover-to=to and handed-over-by=holder."""
    __tracebackhide__ = True
    assert cluster.wait_holders(to), cluster.holders()
    for tags in cluster.tags():
        assert tags.get(HANDOVER_TO) == to and tags.get(HANDED_OVER_BY) == holder, tags


def assert_not_taken_back(cluster, again, holder, to):
    """The old instance's daemon, started again, exits 0 without READY and
    without attaching anything: the node stays with `to`."""
    __tracebackhide__ = True
    attaches = len(cluster.calls(holder, "Attach"))
    assert again.wait(60) == 0, again.output()
    assert again.ready_at() is None, again.output()
    assert len(cluster.calls(holder, "Attach")) == attaches
    assert not cluster.a.is_mounted(cluster.mount)
    assert cluster.holders() == ([(to, "attached")], (to, "attached"))


def test_handover_moves_the_node(cluster):
    # The Auto Scaling group already means to terminate the holder, and it
    # unpublishes on such a stop: a handover still leaves the record alone.
    cluster.fake.merge_state({"instances": {HOLDER: {"target_lifecycle_state": "Terminated"}}})
    a = holder_up(cluster, args=["--set", "DNS.UnpublishOnStop=terminating"])
    uuid = blkid(cluster.image, "UUID")
    assert uuid and cluster.records()[0]["ResourceRecords"] == [{"Value": ENI_IP}]
    changes = len(cluster.fake.requests(service="route53", action="ChangeResourceRecordSets"))

    b = cluster.agent(cluster.b, NEW, name="new")
    assert a.wait(90) == 0, a.output() + "\n--- new:\n" + b.output()
    assert b.wait_ready(90), b.output()
    released = cluster.released_at(HOLDER)
    assert released is not None
    print(f"\nhandover downtime (the holder's first detach -> the new instance's READY): "
          f"{b.ready_at() - released:.2f}s")

    # The holder let go of everything, never forced, and tagged it.
    assert not cluster.a.is_mounted(cluster.mount)
    # The link left with the ENI, and so did the routing the holder made for
    # it: no "from <ip>" rule sends the moved address into an empty table.
    assert cluster.eni_link(cluster.a) is None
    assert cluster.rules(cluster.a) == [] and cluster.table(cluster.a) == [], ip_json(cluster.a.name, "rule", "show")
    assert_handed_over(cluster, HOLDER, NEW)
    detaches = cluster.calls(HOLDER, "Detach")
    assert sorted(q["action"] for q in detaches) == ["DetachNetworkInterface", "DetachVolume"], detaches
    assert all((q["params"] or {}).get("Force") in (None, "false") for q in detaches), detaches

    # The new instance has the same filesystem, with the data, and routes the same IP.
    assert blkid(cluster.image, "UUID") == uuid
    [mount] = cluster.b.mounted(cluster.mount)
    assert mount["fstype"] == "ext4"
    assert cluster.read(cluster.b) == "written by the holder\n"
    ifname = cluster.eni_link(cluster.b)
    assert ifname and cluster.rules(cluster.b) == [(ENI_IP, 10001)]
    # The record stays as it was: the address moved with the interface.
    assert cluster.records()[0]["ResourceRecords"] == [{"Value": ENI_IP}]
    assert len(cluster.fake.requests(service="route53", action="ChangeResourceRecordSets")) == changes

    # The old instance's daemon, started again, does not take the node back.
    again = cluster.agent(cluster.a, HOLDER, name="holder-again")
    assert_not_taken_back(cluster, again, HOLDER, NEW)
    assert b.proc.poll() is None and cluster.b.is_mounted(cluster.mount)


def test_detach_on_stop_takes_the_routing_along(cluster):
    # Terminate-then-launch: SIGTERM with DetachOnStop=yes releases the
    # volume and the ENI together, and the ENI's rules and table with it.
    a = holder_up(cluster, args=["--set", "Volume.DetachOnStop=yes", "--set", "Interface.DetachOnStop=yes"])
    assert cluster.rules(cluster.a) == [(ENI_IP, 10001)] and cluster.table(cluster.a)
    a.proc.send_signal(signal.SIGTERM)
    assert a.wait(60) == 0, a.output()
    assert cluster.holders() == ([], None)
    assert not cluster.a.is_mounted(cluster.mount)
    assert cluster.eni_link(cluster.a) is None
    assert cluster.rules(cluster.a) == [] and cluster.table(cluster.a) == [], ip_json(cluster.a.name, "rule", "show")
    # Both detaches were sent before either was done: the volume's takes
    # 1.5 s in this world, and the ENI's went out while it ran.
    detaches = sorted(cluster.calls(HOLDER, "Detach"), key=lambda q: q["time"] - q["ms"] / 1000)
    assert [q["action"] for q in detaches] == ["DetachVolume", "DetachNetworkInterface"], detaches
    volume_free = [q for q in cluster.calls(HOLDER, "DescribeVolumes") if q["time"] > detaches[0]["time"]]
    assert volume_free and detaches[1]["time"] - detaches[1]["ms"] / 1000 < volume_free[-1]["time"], detaches


def test_forged_requests_are_ignored(cluster):
    a = holder_up(cluster, env={"NODEAGENT_TEST_HANDOVER_INTERVAL": "1s"})
    ec2 = cluster.fake.botocore_client("ec2")
    # Another node's instance, a stopped one, one launched earlier, one EC2 does not know.
    for requester in (OTHER_NODE, STOPPED, EARLIER, "i-0123456701234567f"):
        ec2.create_tags(Resources=[VOLUME], Tags=[{"Key": HANDOVER_TO, "Value": requester}])
        cluster.prompt(cluster.a, requester)
        # The refusal is logged, naming the requester; the holder keeps serving.
        assert a.wait_named(requester, 20), a.output()
        time.sleep(1.5)  # a periodic look meets the request again
        assert cluster.serving(a, cluster.a), a.output()
    assert cluster.read(cluster.a) == "written by the holder\n"
    assert not cluster.calls(HOLDER, "Detach")
    assert all(HANDED_OVER_BY not in t for t in cluster.tags())
    # Each refusal once, though the look met it every second.
    for requester in (OTHER_NODE, STOPPED, EARLIER, "i-0123456701234567f"):
        assert len(a.lines_naming(requester)) == 1, a.output()


def test_requester_that_dies_after_tagging(cluster):
    """The requester tags and dies before the holder looks: refused, the
    holder keeps serving. Then one that dies after the holder released
    (before it attached): the next instance takes the node over as usual."""
    a = holder_up(cluster)
    # The requester cannot reach the holder: its tags are all it leaves.
    cluster.b.run_raw(["ip", "link", "set", "eth0", "down"])
    b = cluster.agent(cluster.b, NEW, name="new")
    assert cluster.wait_tags(HANDOVER_TO, NEW), (cluster.tags(), b.output())
    kill_tree(b.proc)
    cluster.fake.merge_state({"instances": {NEW: {"state": "terminated"}}})
    cluster.prompt(cluster.a)
    assert a.wait_named(NEW, 20), a.output()
    assert cluster.serving(a, cluster.a), a.output()
    assert not cluster.calls(HOLDER, "Detach")

    # Now a requester the holder accepts, which dies before it attaches.
    cluster.fake.merge_state({"instances": {NEW: {"state": "running"}}})
    cluster.b.run_raw(["ip", "link", "set", "eth0", "up"])
    cluster.fake.fault({"service": "ec2", "action": "AttachVolume", "kind": "timeout", "seconds": 30, "count": -1},
                       {"service": "ec2", "action": "AttachNetworkInterface", "kind": "timeout", "seconds": 30,
                        "count": -1})
    b = cluster.agent(cluster.b, NEW, name="new-2")
    assert a.wait(60) == 0, a.output()
    kill_tree(b.proc)
    cluster.fake.merge_state({"instances": {NEW: {"state": "terminated"}}})
    cluster.fake.clear_faults()
    assert cluster.holders() == ([], None)

    # The next instance finds the node free and takes it as any boot would,
    # without asking anyone.
    cluster.fake.merge_state({"instances": {NEWER: {"state": "running"}}})
    c = cluster.agent(cluster.c, NEWER, name="newer")
    assert c.wait_ready(60), c.output()
    assert cluster.wait_holders(NEWER)
    assert cluster.read(cluster.c) == "written by the holder\n"
    assert all(t.get(HANDOVER_TO) == NEW for t in cluster.tags()), cluster.tags()


def test_holder_killed_mid_release_converges(cluster):
    a = holder_up(cluster)
    # The volume's detach is slow to come back: the holder dies waiting
    # for it, before it sent the interface's (EC2 still carries it out).
    cluster.fake.fault(service="ec2", action="DetachVolume", kind="latency", seconds=5, count=1, kill_point=True)
    b = cluster.agent(cluster.b, NEW, name="new")
    deadline = time.monotonic() + 60
    while any(f.get("kill_point") for f in cluster.fake.faults()):
        assert time.monotonic() < deadline and a.proc.poll() is None, a.output()
        time.sleep(0.02)
    kill_tree(a.proc)
    assert not cluster.calls(HOLDER, "DetachNetworkInterface")
    # The requester gets the volume, and waits for the interface.
    deadline = time.monotonic() + 30
    while cluster.holders()[0] != [(NEW, "attached")]:
        assert time.monotonic() < deadline, cluster.holders()
        time.sleep(0.2)
    assert cluster.holders()[1] == (HOLDER, "attached") and b.ready_at() is None

    # The holder's daemon, started again, releases the rest and leaves.
    again = cluster.agent(cluster.a, HOLDER, name="holder-again")
    assert again.wait(60) == 0, again.output()
    assert again.ready_at() is None
    assert b.wait_ready(60), b.output()
    assert_handed_over(cluster, HOLDER, NEW)
    assert cluster.read(cluster.b) == "written by the holder\n"
    assert not cluster.a.is_mounted(cluster.mount) and cluster.eni_link(cluster.a) is None


def test_two_requesters_the_newest_gets_it(cluster):
    cluster.fake.merge_state({"instances": {NEWER: {"state": "running"}}})
    a = holder_up(cluster)
    short = ["--set", "Volume.TakeOverTimeout=15s", "--set", "Interface.TakeOverTimeout=15s"]
    b = cluster.agent(cluster.b, NEW, *short, name="new")
    c = cluster.agent(cluster.c, NEWER, name="newer")
    assert a.wait(90) == 0, a.output()
    assert c.wait_ready(90), c.output()
    assert_handed_over(cluster, HOLDER, NEWER)
    assert cluster.read(cluster.c) == "written by the holder\n"
    # The older one left both to the newer one and gave up at its TakeOverTimeout.
    assert b.wait(60) == 4, b.output()
    assert b.ready_at() is None
    assert not cluster.calls(NEW, "Attach")


def test_request_while_the_holder_boots(cluster):
    """The holder's volume is slow to show up: the request comes while it
    boots. It finishes its boot (READY), then hands over."""
    cluster.fake.merge_state({"sandbox": {"volume_device_delay": 4}})
    a = cluster.agent(cluster.a, HOLDER, name="holder")
    deadline = time.monotonic() + 30
    while cluster.holders() != ([(HOLDER, "attached")], (HOLDER, "attached")):
        assert time.monotonic() < deadline and a.proc.poll() is None, a.output()
        time.sleep(0.05)
    assert a.ready_at() is None
    b = cluster.agent(cluster.b, NEW, name="new")
    # Asked while the holder still boots.
    assert cluster.wait_tags(HANDOVER_TO, NEW), (cluster.tags(), b.output())
    asked = time.time()
    assert a.ready_at() is None, "the holder was READY before the request; the device delay is too short"
    assert a.wait(90) == 0, a.output()
    # The holder finished its boot first, then released.
    ready, released = a.ready_at(), cluster.released_at(HOLDER)
    assert ready is not None and released is not None, a.output()
    assert asked < ready < released, (asked, ready, released)
    assert b.wait_ready(90), b.output()
    assert_handed_over(cluster, HOLDER, NEW)
    assert cluster.b.is_mounted(cluster.mount)


def test_partition_the_tag_path_still_works(cluster):
    """No prompt reaches the holder (the requester's primary link is down):
    its periodic look finds the request."""
    a = holder_up(cluster, env={"NODEAGENT_TEST_HANDOVER_INTERVAL": "3s"})
    cluster.b.run_raw(["ip", "link", "set", "eth0", "down"])
    b = cluster.agent(cluster.b, NEW, name="new")
    assert a.wait(90) == 0, a.output()
    assert b.wait_ready(90), b.output()
    assert_handed_over(cluster, HOLDER, NEW)
