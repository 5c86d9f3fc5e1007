"""A machine of its own for one node, on this machine: the whole-boot tests'
sandbox, where both paths of the agent work at once.

Why a sandbox: the interface path needs the agent in a network namespace
(the ENI's veth link appears there; its routes and rules go there), and the
volume path needs udev's processed block events. Those are netlink
multicasts in udevd's own network namespace, so an agent in another one
never hears them. A udevd started in the agent's namespace hears the
kernel's uevents (they go to every namespace) and works, but it binds
/run/udev/control and writes /run/udev/data on the shared filesystem, and
the host's udevd then answers no more. So the sandbox is:

  netns NAME        the "instance": lo, eth0 = the primary interface
                    (10.0.1.5/24, MAC 02:00:00:00:01:05, default route via
                    10.0.1.1), later the ENI's link;
  netns NAME-vpc    the VPC side, where the fake's VethBackend puts the
                    router ends of the ENI links;
  a mount namespace the holder's (below): a slave of the host's, so the
                    host's later mounts (ip netns add by others) show in it
                    but nothing made in it shows outside; in it
                    the copies of loop devices' mounts are unmounted at
                    once (they would keep other tests' volumes busy for
                    as long as the sandbox lives); /sys is a sysfs of NAME (udevd and the agent see the
                    links of NAME, not the host's), /run/udev is a fresh
                    tmpfs (the sandbox udevd's control socket, database and
                    rules) and /run/nodeagent is a fresh tmpfs (the agent's
                    state and pid files at the contract's path);
  the holder        `nsenter --net=/run/netns/NAME unshare --mount
                    --propagation slave sh -c 'mounts; exec sleep infinity'`:
                    one long-lived process that keeps the mount namespace
                    alive; everything else enters it with
                    `nsenter -t HOLDER -m [-n]` (nsenter and unshare exec,
                    so every pid here is the program's own);
  its udevd         /lib/systemd/systemd-udevd in the holder's mount and
                    network namespaces;
  the fake          fakeaws.py in the holder's mount namespace, started with
                    --netns NAME: it binds its port in the test's network
                    namespace, then enters NAME and binds it there too. Its
                    LoopBackend's serial rule is in the sandbox's
                    /run/udev/rules.d, its `udevadm` calls reach the
                    sandbox's udevd, and its busy check reads the sandbox's
                    mount table, where the agent mounts;
  the agent         `nsenter -t HOLDER -m -n nodeagent ...`.

Mounts made by the agent live only in the sandbox: look at them through
/proc/HOLDER/mountinfo (mounts(), is_mounted()) and read the files under
them through /proc/HOLDER/root (path()).

Loop devices are global, and every udevd processes every one: the host's
udevd (when one runs) handles the sandbox's loop devices in its own
database, and the sandbox's udevd handles other test runs' loop devices.
That does not matter to the agent, whose libudev reads the sandbox's
/run/udev only, as long as only this sandbox's images get a serial there:
Sandbox.fake() writes the LoopBackend's serial rule restricted to the
fake's volume_dir before the fake starts (the backend then leaves it
alone). With the backend's own rule ("*/vol*.img") another run's loop
device of the same volume id would carry the same serial here (seen: the
agent mounted another run's device). Both udevds may hold a device open for
a moment while probing it; the backend retries its removal.

Teardown (close(), also on any error in start()) kills only the pids this
module started, in order: processes started with popen() (with whatever they
started), unmount what is mounted in the sandbox under its directory, the
fake (it releases its loop devices and veth pairs), udevd, the holder (the
mount namespace goes with it); then the two network namespaces are deleted
and any loop device still backed by a file under the sandbox's directory is
detached and removed. The holder and udevd run with a parent-death signal
(SIGKILL) and the fake with SIGTERM, so a test process killed outright
leaves only the namespaces' names, which the next Sandbox deletes (names
carry the creating pid). The host's /run/udev is never touched.

The module is also the fake's attach backend `SandboxBackend` (loaded by
file path, BACKEND): LocalBackend with a device delay of its own for each
part, settable at run time through the world.

Two instances of one node (a handover): a second Sandbox made with
peer=<the first> is another instance on the same subnet. It has its own
network namespace, holder, udevd and /run/nodeagent, shares the first
one's VPC namespace, and takes as its eth0 the other end of the first
one's primary veth pair (eth0peer), with its own address: the two
instances reach each other there, as two instances of one subnet do (a
third one gets a pair of its own, and reaches nobody). The one fake runs in
the first sandbox and also listens in the others (fakeaws.py
--also-netns), with an IMDS listener per other instance (--instance):
Sandbox.fake(peers={instance id: sandbox}) starts it so, puts the serial
rule into each peer's /run/udev, and names each peer's namespace in the
world's local_instances, where the backend makes that instance's links.
Loop devices are global: each sandbox's udevd sees every one.
"""

import errno
import fcntl
import itertools
import os
import re
import select
import signal
import subprocess
import time

from local import LocalBackend
from loopback import RULE, RULES_FILE, LoopBackend
from vethback import VethBackend

HERE = os.path.abspath(__file__)
UDEVD = "/lib/systemd/systemd-udevd"
PRIMARY_IP = "10.0.1.5"
PRIMARY_MAC = "02:00:00:00:01:05"
ROUTER_IP = "10.0.1.1"

LOOP_CTL_REMOVE = 0x4C81
LOOP_CLR_FD = 0x4C01

_HOLDER_SCRIPT = """\
set -e
umount -l /sys
mount -t sysfs sysfs /sys
mkdir -p /run/udev /run/nodeagent
mount -t tmpfs -o mode=0755,size=16m sandbox-udev /run/udev
mount -t tmpfs -o mode=0755,size=16m sandbox-nodeagent /run/nodeagent
echo ready
exec sleep infinity
"""

# Should the test process die without its finally blocks (SIGKILL), the
# holder and udevd die with it, and the fake gets SIGTERM (it then releases
# its loop devices and links); the namespaces' names are then all that is left.
_ORPHAN_GUARD = ["setpriv", "--pdeathsig", "KILL", "--"]
_ORPHAN_GUARD_TERM = ["setpriv", "--pdeathsig", "TERM", "--"]

_counter = itertools.count()


class SandboxBackend(LocalBackend):
    """LocalBackend with a device delay of its own for each part, from the
    options volume_device_delay / eni_device_delay, or at run time from the
    world's member "sandbox": {"eni_device_delay": 3600} is an ENI whose link
    never comes while volumes come as usual (POST /_fake/reset drops it with
    the rest of the world)."""

    name = "local"

    def __init__(self, volume_device_delay=None, eni_device_delay=None, **options):
        super().__init__(**options)
        self.app = None
        self._default = {
            "volume_device_delay": getattr(self.volumes, "device_delay", None),
            "eni_device_delay": getattr(self.interfaces, "device_delay", None),
        }
        if volume_device_delay not in (None, ""):
            self._default["volume_device_delay"] = float(volume_device_delay)
        if eni_device_delay not in (None, ""):
            self._default["eni_device_delay"] = float(eni_device_delay)

    def start(self, app):
        self.app = app
        super().start(app)

    def _delay(self, key):
        with self.app.world.lock:
            value = (self.app.world.data.get("sandbox") or {}).get(key)
        return float(value) if value is not None else self._default[key]

    def on_attach_volume(self, volume_id, instance_id, device, volume):
        if isinstance(self.volumes, LoopBackend):
            self.volumes.device_delay = self._delay("volume_device_delay")
        super().on_attach_volume(volume_id, instance_id, device, volume)

    def on_attach_eni(self, eni_id, instance_id, device_index, eni):
        if isinstance(self.interfaces, VethBackend):
            self.interfaces.device_delay = self._delay("eni_device_delay")
        super().on_attach_eni(eni_id, instance_id, device_index, eni)


BACKEND = f"{HERE}:SandboxBackend"


def _unescape(field):
    """A mountinfo field: space, tab, newline and backslash come as \\ooo."""
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


class SandboxError(RuntimeError):
    pass


def _run(argv, check=True, timeout=30):
    proc = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise SandboxError(f"{' '.join(argv)}: exit {proc.returncode}: {proc.stderr.strip()}")
    return proc


def host_udevd_answers():
    """Whether the host's udevd answers on the host's /run/udev/control."""
    return _run(["udevadm", "control", "--ping", "--timeout=2"], check=False).returncode == 0


def _kill(proc, sig=signal.SIGTERM, timeout=5):
    """Stop one process we started, by its pid: sig, then SIGKILL after timeout."""
    if proc is None or proc.poll() is not None:
        return
    try:
        os.kill(proc.pid, sig)
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    except ProcessLookupError:
        proc.wait()


def descendants(pid):
    """Pids below pid, from /proc's parent links."""
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat.rpartition(")")[2].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def kill_tree(proc):
    """SIGKILL a process we started and everything it started (a mkfs, an
    e2fsck), as systemd kills a unit's control group: stop them all first,
    so none starts another in between, then kill."""
    if proc.poll() is not None:
        return
    stopped = {proc.pid}
    try:
        os.kill(proc.pid, signal.SIGSTOP)
    except ProcessLookupError:
        pass
    while True:
        more = [p for p in descendants(proc.pid) if p not in stopped]
        if not more:
            break
        for p in more:
            stopped.add(p)
            try:
                os.kill(p, signal.SIGSTOP)
            except ProcessLookupError:
                pass
    for p in stopped:
        try:
            os.kill(p, signal.SIGKILL)
        except ProcessLookupError:
            pass
    proc.wait()


class Sandbox:
    """One node's machine: see the module's text. Use as a context manager,
    or start() and close()."""

    def __init__(self, directory, name=None, udevd=True, peer=None, primary_ip=PRIMARY_IP, primary_mac=PRIMARY_MAC):
        """peer: a started Sandbox this one is a second instance beside (the module's text)."""
        self.dir = os.path.abspath(directory)
        os.makedirs(self.dir, exist_ok=True)
        self.name = name or f"nasbx-{os.getpid()}-{next(_counter)}"
        self.peer = peer
        self.vpc = peer.vpc if peer else f"{self.name}-vpc"
        self.primary_ip = primary_ip
        self.primary_mac = primary_mac
        self.want_udevd = udevd
        self.holder = None
        self.udevd = None
        self.fakes = []
        self.procs = []
        self._made_ns = []
        self._wrapper = None

    # -- life -------------------------------------------------------------------------

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()

    def start(self):
        try:
            self._make_namespaces()
            self._start_holder()
            if self.want_udevd:
                self._start_udevd()
        except BaseException:
            self.close()
            raise
        return self

    @staticmethod
    def _reap_stale_namespaces():
        """Namespaces of this scheme whose test process died without its
        finally blocks (their processes died with it, see _ORPHAN_GUARD)."""
        for name in os.listdir("/run/netns") if os.path.isdir("/run/netns") else []:
            parts = name.split("-")
            if len(parts) >= 3 and parts[0] == "nasbx" and parts[1].isdigit() and \
                    not os.path.exists(f"/proc/{parts[1]}"):
                _run(["ip", "netns", "del", name], check=False)

    def _make_namespaces(self):
        self._reap_stale_namespaces()
        for ns in (self.name,) if self.peer else (self.name, self.vpc):
            _run(["ip", "netns", "add", ns])
            self._made_ns.append(ns)
            _run(["ip", "-n", ns, "link", "set", "lo", "up"])
        ns = self.name
        if self.peer and _run(["ip", "-n", self.peer.name, "link", "show", "eth0peer"], check=False).returncode == 0:
            # The other end of the peer's primary interface: the two instances' subnet.
            _run(["ip", "-n", self.peer.name, "link", "set", "eth0peer", "netns", ns])
            _run(["ip", "-n", ns, "link", "set", "eth0peer", "name", "eth0"])
            _run(["ip", "-n", ns, "link", "set", "eth0", "address", self.primary_mac])
        else:
            # The primary interface: one end of a veth pair whose other end
            # stays in the same namespace (this kernel has no dummy links).
            _run(["ip", "-n", ns, "link", "add", "eth0", "address", self.primary_mac, "type", "veth", "peer",
                  "name", "eth0peer"])
            _run(["ip", "-n", ns, "link", "set", "eth0peer", "up"])
        _run(["ip", "-n", ns, "addr", "add", f"{self.primary_ip}/24", "dev", "eth0"])
        _run(["ip", "-n", ns, "link", "set", "eth0", "up"])
        _run(["ip", "-n", ns, "route", "add", "default", "via", ROUTER_IP, "dev", "eth0"])

    def _start_holder(self):
        self.holder = subprocess.Popen(
            ["nsenter", f"--net=/run/netns/{self.name}", "--", "unshare", "--mount", "--propagation", "slave",
             "--", *_ORPHAN_GUARD, "/bin/sh", "-c", _HOLDER_SCRIPT],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
        ready, _, _ = select.select([self.holder.stdout], [], [], 10)
        line = self.holder.stdout.readline() if ready else b""
        if line.strip() != b"ready":
            try:
                self.holder.wait(2)
                err = self.holder.stderr.read().decode(errors="replace")
            except subprocess.TimeoutExpired:
                err = "(still running)"
            raise SandboxError(f"the sandbox's holder did not start: {line!r} {err}")
        self.holder.stdout.close()
        self.holder.stderr.close()
        if os.readlink(f"/proc/{self.holder.pid}/ns/mnt") == os.readlink("/proc/self/ns/mnt"):
            raise SandboxError("the holder is in the test's own mount namespace")
        # The sandbox's copies of other tests' volume mounts would keep their
        # loop devices busy (a host umount does not reach a private copy).
        for m in sorted(self.mounts(), key=lambda m: -len(m["target"])):
            if m["source"].startswith("/dev/loop"):
                _run(self.cmd(["umount", "-l", m["target"]], net=False), check=False)

    def _start_udevd(self):
        self.udevd_log = os.path.join(self.dir, "udevd.log")
        with open(self.udevd_log, "wb") as log:
            self.udevd = subprocess.Popen(self.cmd([*_ORPHAN_GUARD, UDEVD]), stdin=subprocess.DEVNULL, stdout=log,
                                          stderr=log, start_new_session=True)
        deadline = time.monotonic() + 10
        while True:
            if self.udevd.poll() is not None:
                raise SandboxError(f"the sandbox's udevd exited {self.udevd.returncode}: {self.read(self.udevd_log)}")
            if self.run_raw(["udevadm", "control", "--ping", "--timeout=1"]).returncode == 0:
                break
            if time.monotonic() > deadline:
                raise SandboxError("the sandbox's udevd does not answer")
            time.sleep(0.02)

    def close(self):
        """Tear everything down; safe to call twice, and after a failed start()."""
        errors = []

        def step(fn, *args):
            try:
                fn(*args)
            except Exception as e:  # Go on: the rest must be released whatever failed.
                errors.append(f"{getattr(fn, '__name__', fn)}: {e}")

        for proc in self.procs:
            step(kill_tree, proc)
        self.procs = []
        if self.holder is not None and self.holder.poll() is None:
            step(self.unmount_all)
        for fake in self.fakes:
            step(fake.stop)
        self.fakes = []
        step(_kill, self.udevd)
        self.udevd = None
        step(_kill, self.holder, signal.SIGKILL)
        self.holder = None
        for ns in reversed(self._made_ns):
            step(_run, ["ip", "netns", "del", ns])
        self._made_ns = []
        step(release_loops, self.dir)
        if errors:
            raise SandboxError("sandbox teardown: " + "; ".join(errors))

    # -- running things inside --------------------------------------------------------

    @property
    def pid(self):
        return self.holder.pid

    def cmd(self, argv, net=True):
        """argv run in the sandbox (mount namespace, and the network namespace unless net=False)."""
        return ["nsenter", "-t", str(self.pid), "-m", *(["-n"] if net else []), "--", *argv]

    def run_raw(self, argv, timeout=30):
        return subprocess.run(self.cmd(argv), stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              errors="replace", timeout=timeout)

    def run(self, argv, env, timeout=90):
        """harness.run() inside the sandbox."""
        from harness import run
        return run(self.cmd(argv), env, timeout)

    def popen(self, argv, env, **kwargs):
        """A process in the sandbox, killed (with what it started) at close() if still running."""
        kwargs.setdefault("stdin", subprocess.DEVNULL)
        proc = subprocess.Popen(self.cmd(argv), env=env, **kwargs)
        self.procs.append(proc)
        return proc

    def fake(self, peers=None, **kwargs):
        """A FakeAws started in the sandbox's mount namespace and, with --netns, its network namespace.

        peers: {instance id: Sandbox} of other instances of the world (made with peer=): the fake
        also listens in their namespaces, with an IMDS of their own (fake.env(instance=id)), and
        makes their devices there (the world's local_instances: `world` must then be a dict)."""
        from client import FakeAws, PYTHON
        peers = dict(peers or {})
        if peers:
            world = dict(kwargs.get("world") or {})
            world["local_instances"] = {**(world.get("local_instances") or {}),
                                        **{iid: {"netns": sb.name} for iid, sb in peers.items()}}
            kwargs["world"] = world
            kwargs["instances"] = list(peers)
            kwargs["also_netns"] = [sb.name for sb in peers.values()]
        if self._wrapper is None:
            # FakeAws runs [python, fakeaws.py, ...]: this python is the fake in the sandbox.
            self._wrapper = os.path.join(self.dir, "python-in-sandbox")
            prefix = " ".join(["nsenter", "-t", str(self.pid), "-m", "--", *_ORPHAN_GUARD_TERM, PYTHON])
            with open(self._wrapper, "w") as f:
                f.write(f'#!/bin/sh\nexec {prefix} "$@"\n')
            os.chmod(self._wrapper, 0o755)
        volume_dir = (kwargs.get("backend_opts") or {}).get("volume_dir")
        if volume_dir:
            self.serial_rule(volume_dir)
            for sb in peers.values():
                sb.serial_rule(volume_dir)
        kwargs.setdefault("log", os.path.join(self.dir, f"fakeaws-{len(self.fakes)}.log"))
        fake = FakeAws(netns=self.name, python=self._wrapper, **kwargs)
        self.fakes.append(fake)
        fake.start()
        return fake

    def serial_rule(self, volume_dir):
        """The LoopBackend's serial rule, for loop devices backed by files in
        volume_dir only, written where the backend would write it (it then
        leaves it alone). Loop devices are global: with the backend's own
        rule ("*/vol*.img"), another test run's loop device of the same
        volume id would carry the same serial in this sandbox too."""
        path = self.path(RULES_FILE)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        pattern = '"*/vol*.img"'
        assert pattern in RULE, "the LoopBackend's rule changed"
        with open(path, "w") as f:
            f.write(RULE.replace(pattern, f'"{os.path.abspath(volume_dir)}/vol*.img"'))
        if self.udevd is not None:
            self.run_raw(["udevadm", "control", "--reload"])

    # -- looking inside ----------------------------------------------------------------

    def path(self, path):
        """Where the sandbox's path is seen from here (through its mounts)."""
        return f"/proc/{self.pid}/root{os.path.abspath(path)}"

    def read(self, path):
        with open(path, errors="replace") as f:
            return f.read()

    def mounts(self):
        """The sandbox's mount table: [{"target", "source", "fstype", "devno"}]."""
        result = []
        with open(f"/proc/{self.pid}/mountinfo") as f:
            for line in f:
                fields = line.split()
                sep = fields.index("-")
                result.append({"target": _unescape(fields[4]), "devno": fields[2],
                               "fstype": fields[sep + 1], "source": _unescape(fields[sep + 2])})
        return result

    def mounted(self, target):
        return [m for m in self.mounts() if m["target"] == os.path.abspath(target)]

    def is_mounted(self, target):
        return bool(self.mounted(target))

    def unmount_all(self):
        """Unmount what is mounted under the sandbox's directory (the agent's volume mounts), innermost first."""
        for m in sorted(self.mounts(), key=lambda m: -len(m["target"])):
            if m["target"].startswith(self.dir + "/"):
                _run(self.cmd(["umount", "-l", m["target"]], net=False), check=False)

    def udev_property(self, devnode, key):
        """A property in the sandbox's udev database."""
        proc = self.run_raw(["udevadm", "info", "--query=property", f"--property={key}", "--value", devnode])
        return proc.stdout.strip() if proc.returncode == 0 else None


def release_loops(directory):
    """Detach and remove every loop device backed by a file under directory
    (what a fake that died left behind)."""
    directory = os.path.abspath(directory) + "/"
    for name in os.listdir("/sys/block"):
        if not name.startswith("loop"):
            continue
        try:
            with open(f"/sys/block/{name}/loop/backing_file") as f:
                backing = f.read().strip()
        except OSError:
            continue
        if not backing.startswith(directory):
            continue
        number = int(name[4:])
        try:
            fd = os.open(f"/dev/{name}", os.O_RDONLY | os.O_CLOEXEC)
            try:
                fcntl.ioctl(fd, LOOP_CLR_FD)
            finally:
                os.close(fd)
        except OSError:
            pass
        control = os.open("/dev/loop-control", os.O_RDWR | os.O_CLOEXEC)
        try:
            for _ in range(60):
                try:
                    fcntl.ioctl(control, LOOP_CTL_REMOVE, number)
                    break
                except OSError as e:
                    if e.errno != errno.EBUSY:
                        break
                    time.sleep(0.05)
        finally:
            os.close(control)

