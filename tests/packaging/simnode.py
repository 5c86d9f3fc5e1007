"""A simulated EC2 instance on this machine, for the demo and the packaging
tests: the whole boot of a node, volume and interface and DNS at once.

- The instance's network stack is a network namespace with a primary
  interface (eth0, the primary private IP, a default route via the subnet's
  router); a second namespace plays the VPC behind the ENI.
- The fake AWS (tests/fakeaws) serves IMDS, EC2, Route 53, Auto Scaling and
  CloudFormation inside that namespace, with its local backend: AttachVolume
  makes a loop device (serial = the volume id, through a udev rule) from an
  image file, AttachNetworkInterface a veth link with the ENI's MAC wired to
  the VPC namespace.
- The agent runs with `nsenter --net` (the network namespace only), so its
  mount lands in the host's mount namespace as under systemd. (`ip netns
  exec` would give it a private mount namespace: the very pitfall the
  unit's hardening avoids.)
- udevd's processed events are netlink multicasts in udevd's own network
  namespace; a relay thread forwards the block events of the host's udevd
  into the instance's namespace, where the agent waits for them.

Needs root, iproute2, util-linux (nsenter, losetup, umount), a running udevd
in the host's namespace, and Debian's /usr/bin/python3 with python3-botocore.
"""

import copy
import ctypes
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(TOP, "tests", "fakeaws"))

from client import FakeAws  # noqa: E402

# The fake's default world names its volume vol-0123456789abcdef0, and so do
# the integration tests. Loop devices and their udev serials are global to
# the machine: a node here uses a volume id of its own, so that its agent
# can never take another test's loop device for its volume (or the reverse).
VOLUME = "vol-0feedface00000001"
DEFAULT_VOLUME = "vol-0123456789abcdef0"
ENI = "eni-0123456789abcdef0"
INSTANCE = "i-0123456789abcdef0"
ZONE = "Z0123456789ABCDEFGHIJ"
SUBNET = "subnet-0123456789abcdef0"
ENI_IP = "10.0.1.10"
ROUTER = "10.0.1.1"

NETLINK_KOBJECT_UEVENT = 15
UDEV_MONITOR_GROUP = 2
CLONE_NEWNET = 0x40000000


def sh(*args, check=True, **kw):
    return subprocess.run(list(args), check=check, capture_output=True, text=True, **kw)


def setns_thread(path):
    """Moves the calling thread (only) into the network namespace at path."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        if hasattr(os, "setns"):
            os.setns(fd, CLONE_NEWNET)
            return
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.setns(fd, CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"setns {path}: {os.strerror(err)}")
    finally:
        os.close(fd)


class UdevRelay:
    """Forwards udevd's processed block-device events from the host's
    network namespace into another one, where libudev monitors (the agent's)
    receive them as if a udevd ran there. The messages are passed on byte
    for byte: libudev checks their magic, filter hashes and that the sender
    is root, all of which hold."""

    def __init__(self, netns):
        self.path = f"/run/netns/{netns}"
        self.host = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_KOBJECT_UEVENT)
        self.host.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self.host.bind((0, UDEV_MONITOR_GROUP))
        self.host.settimeout(0.2)
        self.stopped = threading.Event()
        self.ready = threading.Event()
        self.error = None
        self.forwarded = 0
        self.thread = threading.Thread(target=self._run, name="udev-relay", daemon=True)
        self.thread.start()
        if not self.ready.wait(5) or self.error:
            self.stop()
            raise RuntimeError(f"udev relay into {netns}: {self.error}")

    def _run(self):
        try:
            setns_thread(self.path)
            inner = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_KOBJECT_UEVENT)
            inner.bind((0, 0))
        except OSError as e:
            self.error = e
            self.ready.set()
            return
        self.ready.set()
        with inner:
            while not self.stopped.is_set():
                try:
                    data = self.host.recv(1 << 17)
                except socket.timeout:
                    continue
                except OSError:
                    break
                # Only block devices: the agent's monitor filters on them.
                if b"SUBSYSTEM=block\0" not in data:
                    continue
                try:
                    inner.sendto(data, (0, UDEV_MONITOR_GROUP))
                    self.forwarded += 1
                except OSError:
                    pass

    def stop(self):
        self.stopped.set()
        self.thread.join(5)
        self.host.close()


def udevd_running():
    return sh("udevadm", "control", "--ping", check=False).returncode == 0


def mounts_under(prefix):
    """Mount points at or below prefix, deepest first."""
    found = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            point = line.split()[4].replace("\\040", " ")
            if point == prefix or point.startswith(prefix.rstrip("/") + "/"):
                found.append(point)
    return sorted(found, key=len, reverse=True)


def loops_backed_by(directory):
    """Loop devices whose backing file is in directory."""
    out = sh("losetup", "--list", "--noheadings", "--output", "NAME,BACK-FILE", check=False).stdout
    found = []
    for line in out.splitlines():
        parts = line.split(None, 1)
        if len(parts) == 2 and parts[1].startswith(directory.rstrip("/") + "/"):
            found.append(parts[0])
    return found


def cleanup_leftovers(workdir, names):
    """What an earlier run killed without its cleanup may have left: mounts
    and loop devices of workdir, the namespaces named names."""
    for point in mounts_under(workdir):
        sh("umount", "-l", point, check=False)
    for dev in loops_backed_by(workdir):
        sh("losetup", "-d", dev, check=False)
    for name in names:
        if os.path.exists(f"/run/netns/{name}"):
            sh("ip", "netns", "del", name, check=False)


class Result:
    def __init__(self, argv, status, stdout, stderr, elapsed):
        self.argv = argv
        self.status = status
        self.stdout = stdout
        self.stderr = stderr
        self.elapsed = elapsed

    def __repr__(self):
        return (f"<{' '.join(self.argv)}: exit {self.status} after {self.elapsed:.2f}s\n"
                f"stdout:\n{self.stdout}\nstderr:\n{self.stderr}>")


class SimNode:
    """One node: the instance (a namespace), its volume (an image file), its
    ENI, the fake AWS around them, and the agent."""

    def __init__(self, workdir, name, volume_size=256 << 20, user_data=None, nodeagent=None,
                 primary_ip="10.0.1.5", device_delay=0.2, volume_id=VOLUME):
        self.workdir = workdir
        self.ns = name
        self.vpc = f"{name}-vpc"
        self.nodeagent = nodeagent or os.path.join(TOP, "build", "agent", "nodeagent")
        self.volume_dir = os.path.join(workdir, "volumes")
        self.volume_id = volume_id
        self.image = os.path.join(self.volume_dir, volume_id.replace("-", "") + ".img")
        self.state_file = os.path.join(workdir, "run", "state")
        self.config = os.path.join(workdir, "etc", "nodeagent.conf")
        self.mount_point = os.path.join(workdir, "var", "lib", "kafka")
        self.fake_log = os.path.join(workdir, "fakeaws.log")
        self.primary_ip = primary_ip
        self.device_delay = device_delay
        self.user_data = user_data
        self.volume_size = volume_size
        self.fake = None
        self.relay = None
        self.instance_id = INSTANCE
        os.makedirs(self.volume_dir, exist_ok=True)
        os.makedirs(os.path.dirname(self.state_file), exist_ok=True)
        os.makedirs(os.path.dirname(self.config), mode=0o755, exist_ok=True)

    # -- set-up and tear-down ---------------------------------------------------------

    def default_world(self):
        """The fake's default world with this node's volume id and user data."""
        with open(os.path.join(TOP, "tests", "fakeaws", "world-default.json")) as f:
            world = json.load(f)
        volume = world["volumes"].pop(DEFAULT_VOLUME)
        volume["tags"] = {"Name": "kafka-1-data", "nodeagent:cluster": "kafka", "nodeagent:node": "kafka-1"}
        world["volumes"][self.volume_id] = volume
        world["imds"]["user_data"] = self.user_data
        return world

    def start(self, world=None):
        if not udevd_running():
            raise RuntimeError("no udevd answers in this namespace (udevadm control --ping)")
        if not os.path.exists(self.image):
            with open(self.image, "wb") as f:
                f.truncate(self.volume_size)  # sparse and zero: a new EBS volume
        self._make_namespaces()
        try:
            self.relay = UdevRelay(self.ns)
            self.fake = FakeAws(world=world or self.default_world(), backend="local:LocalBackend",
                                backend_opts={"volume_dir": self.volume_dir, "router_netns": self.vpc,
                                              "device_delay": self.device_delay},
                                netns=self.ns, log=self.fake_log)
            self.fake.start()
        except BaseException:
            self.stop()
            raise
        return self

    def _make_namespaces(self):
        for ns in (self.ns, self.vpc):
            if os.path.exists(f"/run/netns/{ns}"):
                sh("ip", "netns", "del", ns, check=False)
        try:
            for ns in (self.ns, self.vpc):
                sh("ip", "netns", "add", ns)
                sh("ip", "-n", ns, "link", "set", "lo", "up")
            # The primary interface: one end of a veth pair, its address, and
            # the main table's default route via the subnet's router.
            sh("ip", "-n", self.ns, "link", "add", "eth0", "type", "veth", "peer", "name", "eth0peer")
            sh("ip", "-n", self.ns, "addr", "add", f"{self.primary_ip}/24", "dev", "eth0")
            sh("ip", "-n", self.ns, "link", "set", "eth0", "up")
            sh("ip", "-n", self.ns, "link", "set", "eth0peer", "up")
            sh("ip", "-n", self.ns, "route", "add", "default", "via", ROUTER, "dev", "eth0")
        except subprocess.CalledProcessError as e:
            self._remove_namespaces()
            raise RuntimeError(f"setting up the namespaces: {e.stderr}") from e

    def _remove_namespaces(self):
        for ns in (self.ns, self.vpc):
            sh("ip", "netns", "del", ns, check=False)

    def _stop_fake(self):
        if self.fake is not None:
            try:
                self.fake.stop()
            finally:
                self.fake = None
        if self.relay is not None:
            self.relay.stop()
            self.relay = None

    def stop(self):
        """Everything undone, in an order that works from any state: the
        mount first (the fake cannot release a mounted loop device)."""
        for point in mounts_under(self.workdir):
            sh("umount", point, check=False)
            if point in mounts_under(self.workdir):
                sh("umount", "-l", point, check=False)
        try:
            self._stop_fake()
        finally:
            for dev in loops_backed_by(self.volume_dir):
                sh("losetup", "-d", dev, check=False)
            self._remove_namespaces()

    # -- the agent --------------------------------------------------------------------

    def env(self, extra=None):
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k != "NOTIFY_SOCKET"}
        env.update(self.fake.env(credentials=False))  # the instance role, from IMDS
        env["NODEAGENT_STATE_FILE"] = self.state_file
        env.update(extra or {})
        return env

    def command(self, *args, wrapper=()):
        return ["nsenter", f"--net=/run/netns/{self.ns}", "--", *wrapper, self.nodeagent, "--config", self.config,
                *args]

    def agent(self, *args, wrapper=(), env=None, timeout=120, on_line=None):
        """Runs the agent in the instance; on_line(text) gets each log line
        as it comes (stderr), for a live view."""
        argv = self.command(*args, wrapper=wrapper)
        start = time.monotonic()
        proc = subprocess.Popen(argv, env=self.env(env), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, errors="replace")
        out_chunks = []
        out_thread = threading.Thread(target=lambda: out_chunks.append(proc.stdout.read()), daemon=True)
        out_thread.start()
        err_lines = []
        try:
            deadline = start + timeout
            for line in proc.stderr:
                err_lines.append(line)
                if on_line:
                    on_line(line.rstrip("\n"), time.monotonic() - start)
                if time.monotonic() > deadline:
                    proc.kill()
                    break
            proc.wait(max(1, deadline - time.monotonic()))
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        out_thread.join(5)
        return Result(argv, proc.returncode, "".join(out_chunks), "".join(err_lines), time.monotonic() - start)

    # -- the world --------------------------------------------------------------------

    def replace_instance(self, new_id, new_primary_ip):
        """The Auto Scaling group replaced the instance: EC2 outlives it (the
        fake's world is carried over), the old instance is terminated, the
        new one gets a fresh network stack (a new namespace) and the same
        user data. Volume and ENI must have been released by then."""
        world = self.fake.state()
        self._stop_fake()
        self._remove_namespaces()
        old = world["self"]
        old_instance = world["instances"][old]
        new_instance = copy.deepcopy(old_instance)
        old_instance["state"] = "terminated"
        # The old primary interface is deleted with its instance.
        old_primary = old_instance.get("primary_eni")
        old_eni = world["network_interfaces"].pop(old_primary, None) if old_primary else None
        old_instance["primary_eni"] = None
        new_primary = "eni-0b" + new_id[-15:]
        mac_tail = [int(x) for x in new_primary_ip.split(".")[-2:]]
        eni = copy.deepcopy(old_eni) if old_eni else {}
        eni.update({
            "private_ip_address": new_primary_ip,
            "mac_address": "02:00:00:00:%02x:%02x" % (mac_tail[0], mac_tail[1]),
            "attachment": {
                "attachment_id": "eni-attach-0b" + new_id[-15:], "instance_id": new_id, "device_index": 0,
                "status": "attached", "attach_time": int(time.time()), "delete_on_termination": True,
                "transition_at": None, "attached_at": int(time.time())},
        })
        world["network_interfaces"][new_primary] = eni
        new_instance.update({"state": "running", "launch_time": int(time.time()), "primary_eni": new_primary,
                             "reservation_id": "r-0b" + new_id[-15:]})
        world["instances"][new_id] = new_instance
        world["self"] = new_id
        # A new instance starts with no IMDS session and new role keys.
        world["imds"]["current_key"] = None
        world["keys"] = {k: v for k, v in world["keys"].items() if "user" in v}
        self.primary_ip = new_primary_ip
        self.instance_id = new_id
        self._make_namespaces()
        try:
            self.relay = UdevRelay(self.ns)
            self.fake = FakeAws(world=world, backend="local:LocalBackend",
                                backend_opts={"volume_dir": self.volume_dir, "router_netns": self.vpc,
                                              "device_delay": self.device_delay},
                                netns=self.ns, log=self.fake_log + ".2")
            self.fake.start()
        except BaseException:
            self.stop()
            raise

    # -- what happened ----------------------------------------------------------------

    def is_mounted(self):
        return self.mount_point in mounts_under(self.mount_point)

    def findmnt(self):
        out = sh("findmnt", "-J", "-o", "SOURCE,TARGET,FSTYPE,OPTIONS", self.mount_point, check=False).stdout
        return json.loads(out)["filesystems"][0] if out.strip() else None

    def ip(self, *args):
        return sh("ip", "-n", self.ns, *args, check=False).stdout

    def record(self, name):
        zone = self.fake.state()["hosted_zones"][ZONE]
        return [r for r in zone["records"] if r["Name"].rstrip(".") == name.rstrip(".")]

    def change_requests(self):
        return [r for r in self.fake.requests(service="route53") if r.get("action") == "ChangeResourceRecordSets"]


def parse_journal(line):
    """"<6>volume: attach: ..." -> (6, "volume: attach: ...")."""
    m = re.match(r"<(\d)>(.*)", line)
    return (int(m.group(1)), m.group(2)) if m else (6, line)
