"""The VM suite's machinery: the fake AWS in the test's network namespace, QEMU guests, checks.

Runs inside the network namespace tests/vm/run made (ip netns exec), where
lo holds 169.254.169.254 (IMDS) and API_ADDRESS (EC2 and Route 53): the fake
listens on port 80 of both, and a guest reaches both through QEMU's user
network, whose connections start from this namespace.

Every process started here gets PR_SET_PDEATHSIG, so none outlives the
harness, and is stopped by its pid in the `finally` of the session.
"""

import copy
import ctypes
import hashlib
import ipaddress
import json
import os
import shutil
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
FAKEAWS_DIR = os.path.join(TOP, "tests", "fakeaws")
sys.path.insert(0, FAKEAWS_DIR)

from client import FakeAws  # noqa: E402
from qemu import Qmp, QmpUnavailable  # noqa: E402

PYTHON = "/usr/bin/python3"
QEMU = "qemu-system-x86_64"
API_ADDRESS = "192.0.2.1"          # the EC2 / Route 53 endpoint (tests/vm/guest/.../50-vmtest-endpoints.conf)
IMDS_ADDRESS = "169.254.169.254"
API_URL = f"http://{API_ADDRESS}"

T0 = time.monotonic()


def say(msg):
    print(f"[{time.monotonic() - T0:6.1f}s] {msg}", flush=True)


def _die_with_parent():
    # PR_SET_PDEATHSIG = 1: the child gets SIGKILL when the harness dies, even by SIGKILL.
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGKILL, 0, 0, 0)


class TestFailure(Exception):
    pass


def wait_until(what, predicate, timeout, interval=0.5, alive=None):
    """Poll predicate until it returns something true; TestFailure after timeout.

    alive: a callable that raises when what we wait on is gone (a dead VM)."""
    deadline = time.monotonic() + timeout
    while True:
        if alive:
            alive()
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TestFailure(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


# -- the fake AWS -------------------------------------------------------------------------------

def default_world():
    with open(os.path.join(FAKEAWS_DIR, "world-default.json")) as f:
        return json.load(f)


class Fake:
    """fakeaws.py on 0.0.0.0:80 of this namespace, the QEMU backend hot-plugging into the guest."""

    def __init__(self, work, world, qmp, volume_dir, device_delay=0, bridge=None, instances=()):
        self.work = work
        self.instances = list(instances)  # ["i-...=PORT"]: a listener each whose IMDS answers as that instance
        self.world = world
        self.qmp = qmp
        self.volume_dir = volume_dir
        self.device_delay = device_delay
        self.bridge = bridge
        self.log = os.path.join(work, "fakeaws.log")
        self.proc = None
        self.client = FakeAws()
        self.client.host, self.client.port = "127.0.0.1", 80

    def start(self, timeout=20):
        world_file = os.path.join(self.work, "world-initial.json")
        with open(world_file, "w") as f:
            json.dump(self.world, f, indent=1)
        ready = os.path.join(self.work, "fakeaws.ready")
        if os.path.exists(ready):
            os.unlink(ready)
        cmd = [PYTHON, os.path.join(FAKEAWS_DIR, "fakeaws.py"), "--listen", "0.0.0.0", "--port", "80",
               "--ready-file", ready, "--world", world_file, "--log", self.log,
               "--backend", "qemu:QemuBackend", "--backend-opt", f"qmp={self.qmp}",
               "--backend-opt", f"volume_dir={self.volume_dir}",
               "--backend-opt", f"device_delay={self.device_delay}"]
        if self.bridge:
            cmd += ["--backend-opt", f"bridge={self.bridge}"]
        for spec in self.instances:
            cmd += ["--instance", spec]
        with open(os.path.join(self.work, "fakeaws.stderr"), "wb") as err:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=err, stderr=err,
                                         preexec_fn=_die_with_parent)
        deadline = time.monotonic() + timeout
        while not os.path.exists(ready):
            if self.proc.poll() is not None:
                with open(os.path.join(self.work, "fakeaws.stderr"), errors="replace") as f:
                    raise TestFailure(f"fakeaws exited {self.proc.returncode}: {f.read()[-2000:]}")
            if time.monotonic() > deadline:
                raise TestFailure("fakeaws did not become ready")
            time.sleep(0.05)
        say(f"fake AWS up (pid {self.proc.pid}): IMDS {IMDS_ADDRESS}:80, API {API_URL}")
        return self

    def stop(self):
        if self.proc is None:
            return
        proc, self.proc = self.proc, None
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    # Shorthands for the control interface.
    def state(self):
        return self.client.state()

    def requests(self, service=None, action=None, ok=None):
        out = self.client.requests(service=service, action=action)
        if ok is not None:
            out = [r for r in out if (r["status"] == 200) == ok]
        return out

    def ec2(self):
        return self.client.botocore_client("ec2")


# -- a guest -------------------------------------------------------------------------------------

class VmGone(TestFailure):
    pass


class Vm:
    """One QEMU guest (TCG) booted from the image, its own 9p share, console and QMP sockets.

    A wall-clock bound covers the whole life of the guest: every wait on it
    stops at that bound, and the guest is killed."""

    def __init__(self, name, work, image, qmp, primary_mac, primary_ip, subnet, bound, cmdline=()):
        self.name = name
        self.dir = os.path.join(work, name)
        self.share = os.path.join(self.dir, "share")
        self.out = os.path.join(self.share, "out")
        self.image = image
        self.qmp = qmp
        self.primary_mac = primary_mac
        self.primary_ip = primary_ip
        self.subnet = subnet            # (cidr, router) of the primary interface
        self.bound = bound
        self.cmdline = list(cmdline)
        self.proc = None
        self.deadline = None
        self.serial_log = os.path.join(self.dir, "serial.log")
        self._seq = 0
        os.makedirs(os.path.join(self.share, "cmd"), exist_ok=True)

    def start(self):
        for sock in (self.qmp, os.path.join(self.dir, "console.sock")):
            if os.path.exists(sock):
                os.unlink(sock)
        cidr, router = self.subnet
        append = " ".join(["root=/dev/vda", "rw", "console=ttyS0", "net.ifnames=0", "panic=-1", "quiet",
                           "vmtest=1", "systemd.journald.forward_to_console=1", *self.cmdline])
        argv = [QEMU, "-accel", "tcg", "-machine", "pc", "-m", "1024", "-smp", os.environ.get("VMTEST_SMP", "2"),
                "-nodefaults",
                "-display", "none", "-no-reboot", "-snapshot",
                "-kernel", os.path.join(self.image, "vmlinuz"), "-initrd", os.path.join(self.image, "initrd.img"),
                "-append", append,
                "-drive", f"file={os.path.join(self.image, 'root.img')},if=virtio,format=raw",
                "-virtfs", f"local,path={self.share},mount_tag=vmtest,security_model=none,id=vmtest",
                # The primary ENI: QEMU's user network plays the subnet, its router at .1 as in a VPC.
                "-netdev", f"user,id=primary,net={cidr},host={router},dhcpstart={self.primary_ip}",
                "-device", f"virtio-net-pci,netdev=primary,mac={self.primary_mac}",
                "-device", "virtio-rng-pci",
                "-chardev", f"socket,id=console,path={os.path.join(self.dir, 'console.sock')},server=on,wait=off,"
                            f"logfile={self.serial_log}",
                "-serial", "chardev:console",
                "-qmp", f"unix:{self.qmp},server=on,wait=off", "-monitor", "none"]
        with open(os.path.join(self.dir, "qemu.log"), "wb") as log:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                         preexec_fn=_die_with_parent)
        self.deadline = time.monotonic() + self.bound
        say(f"{self.name}: QEMU started (pid {self.proc.pid}), bound {self.bound:.0f}s; cmdline extra: "
            f"{' '.join(self.cmdline) or '-'}")
        return self

    def left(self):
        return self.deadline - time.monotonic()

    def alive(self):
        """Raises VmGone when QEMU exited or the guest's bound passed (then it is killed)."""
        if self.proc is None or self.proc.poll() is not None:
            rc = None if self.proc is None else self.proc.returncode
            raise VmGone(f"{self.name}: QEMU is not running (exit {rc}); see {self.serial_log}")
        if self.left() <= 0:
            self.kill()
            raise VmGone(f"{self.name}: the guest passed its wall-clock bound of {self.bound:.0f}s: killed")

    def wait(self, what, predicate, timeout, interval=0.5):
        return wait_until(f"{self.name}: {what}", predicate, min(timeout, max(0.0, self.left())),
                          interval, self.alive)

    def sleep(self, seconds):
        end = time.monotonic() + seconds
        while True:
            self.alive()
            left = end - time.monotonic()
            if left <= 0:
                return
            time.sleep(min(0.5, left))

    def wait_up(self, timeout=150):
        up = os.path.join(self.share, "guest-up")
        self.wait("the guest harness (9p share mounted)", lambda: os.path.exists(up), timeout, 0.25)
        with open(up) as f:
            say(f"{self.name}: guest harness up at guest uptime {f.read().strip()}s")

    def _submit(self, script):
        self._seq += 1
        base = os.path.join(self.share, "cmd", f"{self._seq:04d}")
        with open(base + ".sh.tmp", "w") as f:
            f.write(script + "\n")
        os.rename(base + ".sh.tmp", base + ".sh")
        return base

    def run(self, script, timeout=60, check=False):
        """Run a bash script in the guest as root: (exit status, output)."""
        base = self._submit(script)
        self.wait(f"command {self._seq:04d} ({script.splitlines()[0][:60]})",
                  lambda: os.path.exists(base + ".rc"), timeout, 0.1)
        with open(base + ".rc") as f:
            rc = int(f.read().strip() or 255)
        with open(base + ".out", errors="replace") as f:
            out = f.read()
        if check and rc != 0:
            raise TestFailure(f"{self.name}: guest command failed ({rc}): {script}\n{out}")
        return rc, out

    def unit(self, unit, prop):
        return self.run(f"systemctl show -P {prop} {unit}", check=True)[1].strip()

    def wait_boot_settled(self, timeout=150):
        """Until systemd finished starting (running or degraded): nodeagent's start job is over."""
        def settled():
            rc, out = self.run("systemctl is-system-running", timeout=30)
            return out.strip() in ("running", "degraded", "maintenance", "stopping") and out.strip()
        state = self.wait("the boot to finish (systemctl is-system-running)", settled, timeout, 1.0)
        say(f"{self.name}: boot finished: {state}")
        return state

    def collect(self):
        self.run("/usr/local/lib/vmtest/collect", timeout=90)
        say(f"{self.name}: journal and state copied out to {self.out}")

    def poweroff(self, timeout=60):
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            # Not waited for: the guest may be gone before it reports back.
            self._submit("systemctl --no-block poweroff")
            wait_until(f"{self.name}: QEMU to exit after poweroff", lambda: self.proc.poll() is not None,
                       min(timeout, max(1.0, self.left())), 0.25)
            say(f"{self.name}: powered off")
        except TestFailure as e:
            say(f"{self.name}: {e}; killing QEMU")
            self.kill()

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def qmp_query(self, command, **args):
        try:
            with Qmp(self.qmp) as q:
                return q.execute(command, **args)
        except QmpUnavailable:
            return None

    # What collect() copied out.
    def out_text(self, name):
        try:
            with open(os.path.join(self.out, name), errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return None

    def out_json(self, name):
        text = self.out_text(name)
        if text is None:
            return None
        try:
            return json.loads(text)
        except ValueError:
            return None

    def units(self):
        """units.txt -> {unit: {property: value}}."""
        units = {}
        for block in (self.out_text("units.txt") or "").split("\n\n"):
            props = dict(line.split("=", 1) for line in block.splitlines() if "=" in line)
            if "Id" in props:
                units[props["Id"]] = props
        return units

    def unit_journal(self):
        """The nodeagent and app units' journal entries (systemd's lines about them included)."""
        entries = []
        for line in (self.out_text("units-journal.json") or "").splitlines():
            try:
                entries.append(json.loads(line))
            except ValueError:
                pass
        return entries

    def state_env(self):
        env = {}
        for line in (self.out_text("state.env") or "").splitlines():
            if "=" in line and not line.startswith("#"):
                k, v = line.split("=", 1)
                env[k] = v.strip().strip('"')
        return env

    def mounts(self):
        """[(mount point, source, fstype)] from mountinfo."""
        out = []
        for line in (self.out_text("mountinfo.txt") or "").splitlines():
            left, _, right = line.partition(" - ")
            fields, rfields = left.split(), right.split()
            if len(fields) >= 5 and len(rfields) >= 2:
                out.append((fields[4], rfields[1], rfields[0]))
        return out


def message_of(entry):
    m = entry.get("MESSAGE")
    if isinstance(m, list):  # journald gives non-UTF-8 as a byte list
        return bytes(m).decode(errors="replace")
    return m or ""


# -- volume images (the EBS volumes' bytes, read from the host) -----------------------------------

def make_blank_volume(path, size):
    with open(path, "wb") as f:
        f.truncate(size)


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            chunk = f.read(4 << 20)
            if not chunk:
                return h.hexdigest()
            h.update(chunk)


def blkid(path):
    """{TYPE, UUID, LABEL, ...} of a filesystem image, {} when it holds none."""
    proc = subprocess.run(["blkid", "-p", "-o", "export", path], capture_output=True, text=True)
    return dict(line.split("=", 1) for line in proc.stdout.splitlines() if "=" in line)


def debugfs_cat(image, path):
    """A file's content from an ext4 image, read without mounting it; None when absent."""
    proc = subprocess.run(["debugfs", "-R", f"cat {path}", image], capture_output=True, text=True)
    if proc.returncode != 0 or "File not found" in proc.stderr:
        return None
    return proc.stdout


def copy_sparse(src, dst):
    subprocess.run(["cp", "--sparse=always", src, dst], check=True)


# -- checks ---------------------------------------------------------------------------------------

class Checks:
    """Each judgement of a scenario, printed as it is made; the scenario passes when all hold."""

    def __init__(self):
        self.items = []
        self.notes = []

    def note(self, text):
        """An observation worth reporting that is not a judgement."""
        self.notes.append(text)
        print(f"    note {text}", flush=True)

    def check(self, ok, what, detail=""):
        ok = bool(ok)
        self.items.append({"ok": ok, "what": what, "detail": "" if ok else str(detail)})
        line = f"    {'ok  ' if ok else 'FAIL'} {what}"
        if not ok and detail:
            line += f"\n         {str(detail)[:2000]}"
        print(line, flush=True)
        return ok

    def eq(self, got, want, what):
        return self.check(got == want, what, f"got {got!r}, want {want!r}")

    def error(self, what, exc):
        self.check(False, what, f"{type(exc).__name__}: {exc}")

    @property
    def passed(self):
        return bool(self.items) and all(i["ok"] for i in self.items)

    def failures(self):
        return [i for i in self.items if not i["ok"]]


# -- the VPC: the ENIs' subnet on a bridge in this namespace ----------------------------------------

VPC_BRIDGE = "vpc0"
VPC_LEASE = 120     # seconds: short, so that a renewal (at half of it) happens during a scenario


class Vpc:
    """The ENIs' subnet as a bridge in the scenario's namespace holding the
    subnet's router address (base + 1), and dnsmasq on it answering DHCP with
    each ENI's own private IP by MAC, as a VPC's DHCP does. A hot-plugged ENI
    is a tap on the bridge (QemuBackend's bridge=): a client here reaches the
    ENI's address, and a reply that leaves the guest by another NIC never
    comes back. The bridge goes with the namespace; dnsmasq is stopped by pid."""

    def __init__(self, work, world):
        self.work = work
        self.log = os.path.join(work, "dnsmasq.log")
        self.proc = None
        self.world = world

    def start(self):
        enis = self.world["network_interfaces"]
        primary = self.world["instances"][self.world["self"]]["primary_eni"]
        secondary = [e for k, e in sorted(enis.items()) if k != primary]
        cidr = self.world["subnets"][secondary[0]["subnet_id"]]["cidr_block"] if secondary else "10.0.1.0/24"
        subnet = ipaddress.ip_network(cidr)
        net, prefix, mask = str(subnet.network_address), subnet.prefixlen, str(subnet.netmask)
        self.router = str(subnet.network_address + 1)
        for cmd in (["ip", "link", "add", VPC_BRIDGE, "type", "bridge"],
                    ["ip", "addr", "add", f"{self.router}/{prefix}", "dev", VPC_BRIDGE],
                    ["ip", "link", "set", VPC_BRIDGE, "up"]):
            subprocess.run(cmd, check=True, capture_output=True)
        argv = ["dnsmasq", "--keep-in-foreground", "--no-resolv", "--no-hosts", "--port=0", "-u", "root",
                f"--interface={VPC_BRIDGE}", "--bind-interfaces", "--dhcp-authoritative", "--log-dhcp",
                f"--log-facility={self.log}", f"--dhcp-leasefile={os.path.join(self.work, 'dnsmasq.leases')}",
                f"--pid-file={os.path.join(self.work, 'dnsmasq.pid')}",
                f"--dhcp-range={net},static,{mask},{VPC_LEASE}s", f"--dhcp-option=option:router,{self.router}"]
        for e in secondary:
            argv.append(f"--dhcp-host={e['mac_address']},{e['private_ip_address']},{VPC_LEASE}s")
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=open(os.path.join(self.work, "dnsmasq.stderr"), "wb"),
                                     preexec_fn=_die_with_parent)
        say(f"VPC: bridge {VPC_BRIDGE} {self.router}/{prefix}, dnsmasq (pid {self.proc.pid}) leasing "
            f"{', '.join(e['private_ip_address'] + ' to ' + e['mac_address'] for e in secondary)} for {VPC_LEASE}s")
        return self

    def acks(self, mac):
        """How many DHCPACKs dnsmasq sent to mac so far."""
        try:
            with open(self.log, errors="replace") as f:
                return sum(1 for line in f if "DHCPACK" in line and mac.lower() in line.lower())
        except FileNotFoundError:
            return 0

    def requests(self, mac):
        try:
            with open(self.log, errors="replace") as f:
                return sum(1 for line in f if ("DHCPREQUEST" in line or "DHCPDISCOVER" in line)
                           and mac.lower() in line.lower())
        except FileNotFoundError:
            return 0

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


class Session:
    """One scenario's fake and guests; cleans up on every way out (exception, SIGTERM)."""

    def __init__(self, name, work, image, bound):
        self.name = name
        self.work = work
        self.image = image
        self.bound = bound
        self.qmp = os.path.join(work, "qmp.sock")
        self.volume_dir = os.path.join(work, "volumes")
        os.makedirs(self.volume_dir, exist_ok=True)
        self.fake = None
        self.vpc = None
        self.vms = []
        self.checks = Checks()

    def start_fake(self, world, device_delay=0, instances=()):
        """instances: ["i-...=PORT"], more instances of the world with an IMDS of their own (a second guest)."""
        self.vpc = Vpc(self.work, world).start()
        self.fake = Fake(self.work, world, self.qmp, self.volume_dir, device_delay, bridge=VPC_BRIDGE,
                         instances=instances).start()
        return self.fake

    def vm(self, name, world, cmdline=(), instance=None, qmp=None, bound=None):
        """A guest that is instance (default: the world's self), its QMP on qmp (default: the session's)."""
        inst = world["instances"][instance or world["self"]]
        eni = world["network_interfaces"][inst["primary_eni"]]
        subnet = world["subnets"][eni["subnet_id"]]["cidr_block"]
        base = subnet.split("/")[0].rsplit(".", 1)[0]
        vm = Vm(name, self.work, self.image, qmp or self.qmp, eni["mac_address"], eni["private_ip_address"],
                (subnet, f"{base}.1"), bound or self.bound, cmdline)
        self.vms.append(vm)
        return vm.start()

    def volume(self, volume_id):
        return os.path.join(self.volume_dir, volume_id.replace("-", "") + ".img")

    def close(self, failed, interrupted=False):
        try:
            for vm in self.vms:
                alive = vm.proc is not None and vm.proc.poll() is None
                if (alive and failed and not interrupted and vm.left() > 10
                        and not os.path.exists(os.path.join(vm.out, "journal.txt"))):
                    # The journal is what tells why: fetch it while the guest lives.
                    try:
                        vm.collect()
                    except TestFailure as e:
                        say(f"{vm.name}: could not copy the journal out: {e}")
        finally:
            for vm in self.vms:
                vm.kill()
            if self.fake:
                self.fake.stop()
            if self.vpc:
                self.vpc.stop()


def world_copy(world):
    return copy.deepcopy(world)


def save_json(path, value):
    with open(path, "w") as f:
        json.dump(value, f, indent=1, sort_keys=True)


def load_json(path):
    with open(path) as f:
        return json.load(f)


def remove_tree(path):
    shutil.rmtree(path, ignore_errors=True)
