"""The integration tests' one harness: how the agent is run, the nodes it
runs on, what a converged node looks like, and where a boot is killed.
conftest.py turns these into fixtures; the test modules import from here.

  VolumeNode  the volume paths (and DNS) on this machine: a fake whose
              AttachVolume makes a loop device from an image of the volume's
              own id; [Volume] and any [Volume:NAME] sections (Disk), each a
              volume of its own; shared by a module, prepare()d before each case
  NetNode     the interface path (and DNS) in network namespaces of its own:
              a fake whose AttachNetworkInterface makes a veth link
  Machine     both paths at once in a sandbox (sandbox.py): a network and
              mount namespace with a udevd of its own

Every assertion here is on outcomes: the fake's world and request log, the
kernel's state (ip -j, the mount table), the image's bytes (blkid), the
state file and exit statuses; never on the wording of the agent's log, which
is free to change. Where the contract wants a message to name something (a
configuration error names file, line and key; an unusable resource names its
holder), the tests check that the name is there, not the sentence around it.

A kill point (Point) is a moment of a boot seen from outside the agent: a
call the fake holds unanswered, a call the fake answered, a child process
running or gone, a device, a mount, a link, an address or a rule that
appeared. run_and_kill() SIGKILLs the agent with all it started (kill_tree,
as systemd kills a unit's control group) once the moment is reached."""

import hashlib
import json
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(TOP, "tests", "fakeaws"))

import sandbox  # noqa: E402
from client import FakeAws  # noqa: E402
from sandbox import Sandbox, descendants, kill_tree  # noqa: E402,F401  (kill_tree: the one there is)
from world import DEFAULT_WORLD_FILE  # noqa: E402

BUILD = os.environ.get("NODEAGENT_BUILD", os.path.join(TOP, "build"))
NODEAGENT = os.environ.get("NODEAGENT_BIN", os.path.join(BUILD, "agent", "nodeagent"))
AWSCALL = os.path.join(BUILD, "tests", "tools", "nodeagent-awscall")

# The default world's names (tests/fakeaws/world-default.json).
VOLUME = "vol-0123456789abcdef0"
ENI = "eni-0123456789abcdef0"
INSTANCE = "i-0123456789abcdef0"
PREDECESSOR = "i-0fedcba9876543210"
ZONE = "Z0123456789ABCDEFGHIJ"
ENI_IP = "10.0.1.10"
ENI_MAC = "02:00:00:00:01:10"
PRIMARY_IP = "10.0.1.5"
TABLE = "10001"
DNS_NAME = "kafka-1.cluster.internal."
GROUP = "kafka-1-asg"          # the default world's aws:autoscaling:groupName tag
STACK = "kafka"
STACK_ID = "arn:aws:cloudformation:us-east-1:123456789012:stack/kafka/0a1b2c3d-4e5f-6789-abcd-ef0123456789"
RESOURCE = "Node1"
HOOK = "boot"

TAG_INITIALIZED = "nodeagent:initialized"
TAG_FORMAT_STARTED = "nodeagent:format-started"
SIZE = 64 * 1024 * 1024
USER_DATA = "#nodeagent\n[Node]\nName=kafka-1\n"

# Variables of the machine that would point the agent elsewhere.
_AWS_VARS = [k for k in os.environ if k.startswith("AWS_")]


# -- running things ---------------------------------------------------------------------


class Result:
    def __init__(self, status, stdout, stderr, elapsed):
        self.status, self.stdout, self.stderr, self.elapsed = status, stdout, stderr, elapsed

    def __repr__(self):
        return f"<exit {self.status} after {self.elapsed:.2f}s\nstdout:\n{self.stdout}\nstderr:\n{self.stderr}>"


def run(argv, env, timeout=60):
    start = time.monotonic()
    proc = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, errors="replace",
                          timeout=timeout)
    return Result(proc.returncode, proc.stdout, proc.stderr, time.monotonic() - start)


def clean_env(extra=None):
    env = {k: v for k, v in os.environ.items() if k not in _AWS_VARS}
    env.update(extra or {})
    return env


def write_config(confdir, text, name="nodeagent.conf", mode=0o644):
    path = os.path.join(confdir, name)
    if os.path.dirname(name):
        os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)
    return path


def wait_until(what, predicate, timeout=5.0, interval=0.05):
    """predicate()'s first true value within timeout seconds; fails naming what."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        time.sleep(interval)


# -- the kernel, the image, the state file ----------------------------------------------------


def ip_json(ns, *args):
    proc = subprocess.run(["ip", "-j", "-n", ns, *args], capture_output=True, text=True)
    if proc.returncode != 0:
        # "ip route show table N" fails for a table that has no routes yet.
        if "table" in args and "route" in args:
            return []
        raise AssertionError(f"ip {' '.join(args)}: {proc.stderr}")
    return json.loads(proc.stdout or "[]")


def eni_link(ns, mac=ENI_MAC):
    """The ENI's link in ns (found by its MAC, as the agent finds it), or None."""
    return next((link for link in ip_json(ns, "link", "show") if link.get("address") == mac), None)


def addresses(ns, ifname):
    return [(a["local"], a["prefixlen"]) for link in ip_json(ns, "addr", "show", "dev", ifname)
            for a in link["addr_info"] if a["family"] == "inet"]


def eni_rules(ns):
    """(src, priority, table) of the rules that route the ENI's address or use its table."""
    return [(r.get("src"), r["priority"], r.get("table")) for r in ip_json(ns, "rule", "show")
            if r.get("src") == ENI_IP or r.get("table") == TABLE]


def eni_routes(ns):
    return sorted((r["dst"], r.get("gateway"), r.get("dev")) for r in ip_json(ns, "route", "show", "table", TABLE))


def blkid(path, tag="UUID"):
    """A tag of the signature on path, read from its bytes (-p: no cache)."""
    return subprocess.run(["blkid", "-p", "-o", "value", "-s", tag, path], capture_output=True,
                          text=True).stdout.strip()


def sha256(path, skip=None):
    """The file's hash; skip=(start, end) leaves those bytes out."""
    with open(path, "rb") as f:
        data = f.read()
    if skip:
        data = data[:skip[0]] + data[skip[1]:]
    return hashlib.sha256(data).hexdigest()


def image_is_blank(path):
    blank = bytes(1 << 20)
    with open(path, "rb") as f:
        while True:
            block = f.read(1 << 20)
            if not block:
                return True
            if block != blank[:len(block)]:
                return False


def make_ext4(path, files, size=64 << 20, label="kafka-1"):
    """An ext4 image at path holding files ({name: text}), made from a
    directory (mkfs -d): no mount needed. Returns its UUID."""
    with tempfile.TemporaryDirectory() as src:
        for name, text in files.items():
            with open(os.path.join(src, name), "w") as f:
                f.write(text)
        with open(path, "wb") as f:
            f.truncate(size)
        subprocess.run(["mkfs.ext4", "-q", "-F", "-L", label, "-d", src, path], check=True)
    return blkid(path)


def is_mounted(path):
    """Whether path is a mount point in this process's mount namespace."""
    with open("/proc/self/mountinfo") as f:
        return any(line.split()[4] == path for line in f)


def parse_state(text):
    """The state file (environment-file format) as a dict."""
    state = {}
    for line in text.splitlines():
        if line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        state[key] = value.strip('"')
    return state


def read_state(path):
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return parse_state(f.read())


def pop_boot_phases(state):
    """Takes NODEAGENT_BOOT_PHASES out of a state file's dict and checks its
    form ("volume.attach=4.11 interface.wait-link=1.20 ..."; a restart that
    found everything done may have little or nothing to list)."""
    __tracebackhide__ = True
    assert "NODEAGENT_BOOT_PHASES" in state, state
    for phase in state.pop("NODEAGENT_BOOT_PHASES").split():
        assert re.fullmatch(r"[a-z]+(:[a-z0-9-]+)?\.[a-z-]+=[0-9]+(\.[0-9]+)?", phase), phase


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


# -- the fake's world and request log ----------------------------------------------------------


def calls(fake, action, answered=False):
    """The requests of one action; answered=True: only those that succeeded
    (a held or refused attempt changed nothing)."""
    return [q for q in fake.requests(action=action) if not answered or q["status"] == 200]


def tag_calls(fake, key, answered=False):
    """The CreateTags requests that set tag key (from the form parameters the fake logs)."""
    return [q for q in calls(fake, "CreateTags", answered)
            if key in [v for k, v in (q.get("params") or {}).items() if k.startswith("Tag.") and k.endswith(".Key")]]


def records(fake, name=DNS_NAME):
    zone = fake.state()["hosted_zones"][ZONE]
    return [r for r in zone["records"] if r["Name"] == name and r["Type"] == "A"]


def settled_world(fake, timeout=2):
    """The world once no attachment says "attaching" any more: the device and
    the link are the agent's proof of an attachment, and EC2's own status may
    lag behind them a moment (the fake's attach delays)."""
    deadline = time.monotonic() + timeout
    while True:
        world = fake.state()
        statuses = [a["status"] for v in world["volumes"].values() for a in v.get("attachments") or []]
        statuses += [(e.get("attachment") or {}).get("status") for e in world["network_interfaces"].values()]
        if "attaching" not in statuses or time.monotonic() > deadline:
            return world
        time.sleep(0.05)


def lifecycle_actions(fake):
    return [{k: a[k] for k in ("call", "group", "hook", "instance_id", "token", "result") if k in a}
            for a in fake.state()["autoscaling"]["lifecycle_actions"]]


def signals(fake):
    return [{k: s[k] for k in ("stack", "resource", "unique_id", "status")}
            for s in fake.state()["cloudformation"]["signals"]]


def strict_world(fake, lifecycle_state="Pending:Wait", stack_status="CREATE_IN_PROGRESS",
                 resource_status="CREATE_IN_PROGRESS", count=1, timeout_in=3600):
    """A group with a launch hook this instance waits in, and a stack creating its resource."""
    now = fake.state()["clock"]["skew"] + time.time()
    fake.merge_state({
        "autoscaling": {"groups": {GROUP: {"hooks": {HOOK: {"heartbeat_timeout": 600,
                                                            "default_result": "ABANDON"}}}}},
        "instances": {INSTANCE: {"lifecycle_state": lifecycle_state, "lifecycle_hook": HOOK,
                                 "lifecycle_timeout_at": now + timeout_in}},
        "cloudformation": {"stacks": {STACK: {"stack_id": STACK_ID, "status": stack_status,
                                              "resources": {RESOURCE: {"status": resource_status,
                                                                       "count": count}}}}},
    })


def assert_interface_converged(ns, fake, instance=INSTANCE):
    """What a converged interface path leaves: the ENI attached to instance at
    device index 1; its link (found by MAC) up with the ENI's address and no
    other; table 10001 with the subnet's route and the default route through
    the link; one rule from the ENI's address to that table; the record of
    the DNS name holding that address, once. Returns the link's name."""
    __tracebackhide__ = True
    eni = settled_world(fake)["network_interfaces"][ENI]["attachment"]
    assert eni and (eni["instance_id"], eni["status"], eni["device_index"]) == (instance, "attached", 1), eni
    link = eni_link(ns)
    assert link and "UP" in link["flags"], link
    ifname = link["ifname"]
    assert addresses(ns, ifname) == [(ENI_IP, 24)]
    assert eni_routes(ns) == [("10.0.1.0/24", None, ifname), ("default", "10.0.1.1", ifname)]
    assert eni_rules(ns) == [(ENI_IP, 10001, TABLE)]
    [record] = records(fake)
    assert [v["Value"] for v in record["ResourceRecords"]] == [ENI_IP] and record["TTL"] == 60, record
    return ifname


# -- processes ------------------------------------------------------------------------------


class NotifySocket:
    """A NOTIFY_SOCKET like systemd's: collects every datagram."""

    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.sock.settimeout(0.2)
        self.messages = []
        self.stopped = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stopped:
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                break
            self.messages.extend(data.decode(errors="replace").splitlines())

    def has(self, prefix):
        return any(m.startswith(prefix) for m in self.messages)

    def wait_for(self, prefix, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.has(prefix):
                return True
            time.sleep(0.05)
        return False

    def close(self):
        self.stopped = True
        self.thread.join()
        self.sock.close()


class Daemon:
    """The agent started without --once on a node, talking to notify, its
    output in a file of the node's directory."""

    def __init__(self, node, notify, env=None):
        self.log = tempfile.NamedTemporaryFile("w+", dir=node.dir, prefix="daemon-", suffix=".log", delete=False)
        self.proc = node.spawn(env={"NOTIFY_SOCKET": notify.path, **(env or {})}, stdout=self.log,
                               stderr=subprocess.STDOUT)

    @property
    def pid(self):
        return self.proc.pid

    def running(self):
        return self.proc.poll() is None

    def wait(self, timeout=30):
        """The exit status, or None while it still runs after timeout seconds."""
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def output(self):
        self.log.flush()
        with open(self.log.name, errors="replace") as f:
            return f.read()

    def close(self):
        kill_tree(self.proc)
        self.log.close()


# -- kill points ------------------------------------------------------------------------------

# How long the fake holds a call it is told to hold (the agent is killed within
# milliseconds of its arrival; the fake then drops it unanswered).
HOLD_SECONDS = 2

_NETLINK_CONNECTOR = 11
_CN_IDX_PROC = 1
_PROC_CN_MCAST_LISTEN = 1
_PROC_EVENT_EXEC = 2


class ExecWatch:
    """The programs started below one process, from the kernel's process
    connector (netlink, needs root): each exec is told as it happens,
    however short the program lives. (mkfs.ext4 on a small loop device is
    done in a few milliseconds, before a scan of /proc would find it.) With
    stop=comm, such a child is stopped (SIGSTOP) as soon as it is seen, from
    the stop_from-th on (the ones before run their course). With
    counts_if, a child started while counts_if() is false is not counted
    (nor stopped): a point that needs "the mkfs after the first volume is
    mounted" then does not depend on having seen the first one.

    The reading thread runs at a real-time priority and the interpreter
    switches threads often while a watch is open: on a loaded machine a
    thread of normal priority was scheduled after a short mkfs had already
    exited, its exec then went unseen and a kill point was never reached."""

    SWITCH_INTERVAL = 0.0002        # seconds; the interpreter's default is 0.005

    def __init__(self, stop=None, stop_from=1, counts_if=None):
        self.parent = None          # set once the watched process is started
        self.stop, self.stop_from, self.counts_if = stop, stop_from, counts_if
        self.execs = []             # (pid, comm) of the children started
        self._switch_interval = sys.getswitchinterval()
        sys.setswitchinterval(self.SWITCH_INTERVAL)
        self._sock = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, _NETLINK_CONNECTOR)
        self._sock.bind((0, _CN_IDX_PROC))
        # nlmsghdr, then cn_msg {idx, val, seq, ack, len, flags} with the operation.
        listen = struct.pack("=IIIIHHI", _CN_IDX_PROC, 1, 0, 0, 4, 0, _PROC_CN_MCAST_LISTEN)
        self._sock.send(struct.pack("=IHHII", 16 + len(listen), 3, 0, 0, 0) + listen)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        try:
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(10))   # this thread only
        except OSError:
            pass                    # not allowed here: watch at the normal priority
        while True:
            try:
                data = self._sock.recv(4096)
            except OSError:
                return
            # After nlmsghdr (16) and cn_msg (20): proc_event {what, cpu, timestamp, exec {pid, tgid}}.
            if len(data) < 60 or struct.unpack_from("=I", data, 36)[0] != _PROC_EVENT_EXEC:
                continue
            pid = struct.unpack_from("=i", data, 52)[0]
            try:
                with open(f"/proc/{pid}/stat") as f:
                    stat = f.read()
            except OSError:
                continue
            comm = stat[stat.index("(") + 1:stat.rindex(")")]
            ppid = int(stat.rpartition(")")[2].split()[1])
            if self.parent is None or (ppid != self.parent and ppid not in descendants(self.parent)):
                continue
            if self.counts_if is not None and not self.counts_if():
                continue
            if comm == self.stop and len(self.started(comm)) + 1 >= self.stop_from:
                os.kill(pid, signal.SIGSTOP)
            self.execs.append((pid, comm))

    def started(self, comm):
        """The pids of the children named comm started so far."""
        return [pid for pid, c in self.execs if c == comm]

    def close(self):
        self._sock.close()
        sys.setswitchinterval(self._switch_interval)


class Run:
    """One boot being watched: the node, the agent's process, and what the
    point armed for it (a fault rule, an ExecWatch)."""

    def __init__(self, node, proc, armed):
        self.node, self.proc, self.armed = node, proc, armed


class Point:
    """A moment of a boot seen from outside: arm(node) prepares it before
    the boot starts (what it returns is the Run's `armed`), reached(run)
    says it has come (polled every few milliseconds), then ms more pass, or
    then(run) runs, before the kill."""

    def __init__(self, name, reached, arm=None, ms=0, then=None):
        self.name, self.reached, self.arm, self.ms, self.then = name, reached, arm, ms, then

    def __repr__(self):
        return self.name


def _hold(service, action, skip=0):
    def arm(node):
        node.fake.fault(service=service, action=action, kind="timeout", seconds=HOLD_SECONDS, count=1, skip=skip,
                        kill_point=True)
    return arm


def held(service, action, skip=0):
    """The call arrives and the fake holds it unanswered (its "timeout"
    fault), so it never takes effect: the agent dies as a step begins."""
    def reached(run):
        return not any(f.get("kill_point") for f in run.node.fake.faults())
    return Point(f"{action}{f' #{skip + 1}' if skip else ''} held", reached, _hold(service, action, skip))


def answered(service, action, n=1):
    """The fake has answered the call (the n-th success of it): the agent
    dies right after the step's call took effect."""
    def reached(run):
        return len([q for q in run.node.fake.requests(service, action) if q["status"] == 200]) >= n
    return Point(f"{action} answered", reached)


def child(comm, ms=0, stop=False, then=None, n=1, name=None, stop_from=None, when=None):
    """The n-th child process named comm has started (and ms milliseconds
    have passed); stop=True: it and any later one is stopped at once, for
    then(run) to go on (the ones before it are not, unless stop_from says
    from which one on). when(node): only the children started while it
    holds count."""
    nth = f" #{n}" if n > 1 else ""

    def arm(node):
        return ExecWatch(stop=comm if stop else None, stop_from=stop_from or n,
                         counts_if=(lambda: when(node)) if when else None)
    return Point(name or f"{comm}{nth} running{f' +{ms}ms' if ms else ''}",
                 lambda run: len(run.armed.started(comm)) >= n, arm=arm, ms=ms, then=then)


def child_exited(comm, n=1, also=None, name=None):
    """n children named comm have started and exited (and also(run), when
    given, holds as well)."""
    def reached(run):
        gone = [pid for pid in run.armed.started(comm) if not os.path.exists(f"/proc/{pid}")]
        return len(gone) >= n and (also is None or also(run))
    nth = f" #{n}" if n > 1 else ""
    return Point(name or f"{comm}{nth} exited", reached, arm=lambda node: ExecWatch())


def when(name, predicate, hold=None):
    """The node's state shows it: predicate(node) is true. hold=(service,
    action): the fake holds that call (as held() does), for a moment after
    which the agent would otherwise end before it could be killed."""
    return Point(name, lambda run: predicate(run.node), arm=_hold(*hold) if hold else None)


class Killed:
    def __init__(self, status, stderr, hit):
        self.status, self.stderr, self.hit = status, stderr, hit

    def __repr__(self):
        return f"<killed run: point reached={self.hit} exit {self.status}\n{self.stderr}>"


def _watched(node, point, args, after, timeout, **popen):
    """Starts the agent on node with point armed; polls until point is
    reached (then its ms and then), `after` seconds passed, the run ended or
    timeout seconds passed. Returns (process, whether it came to that moment)."""
    armed = point.arm(node) if point is not None and point.arm else None
    start = time.monotonic()
    try:
        proc = node.spawn(*args, **popen)
        if isinstance(armed, ExecWatch):
            armed.parent = proc.pid
        run = Run(node, proc, armed)
        while proc.poll() is None and time.monotonic() - start < timeout:
            if point is not None and point.reached(run):
                if point.ms:
                    time.sleep(point.ms / 1000)
                if point.then:
                    point.then(run)
                return proc, True
            if after is not None and time.monotonic() - start >= after:
                return proc, True
            time.sleep(0.002)
        return proc, False
    finally:
        if isinstance(armed, ExecWatch):
            armed.close()


def run_and_kill(node, point=None, after=None, args=("--once", "-v"), timeout=60):
    """Boots node and SIGKILLs the agent with all it started when point is
    reached, or after `after` seconds. A run that ends first is not killed
    (hit False); one that neither ends nor reaches the point in timeout
    seconds is killed with hit False."""
    with tempfile.TemporaryFile("w+") as log:
        proc, reached = _watched(node, point, args, after, timeout, stdout=subprocess.DEVNULL, stderr=log)
        try:
            hit = reached and proc.poll() is None
        finally:
            kill_tree(proc)
            node.procs.remove(proc)
        log.seek(0)
        output = log.read()
    if point is not None and point.arm and any(f.get("kill_point") for f in node.fake.faults()):
        node.fake.clear_faults()
    return Killed(proc.returncode, output, hit)


def run_with_hook(node, point, hook, args=("--once", "-v"), timeout=120):
    """Boots node and calls hook() once point is reached; returns (Result, whether the hook ran)."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        start = time.monotonic()
        proc, hooked = _watched(node, point, args, None, timeout, stdout=out, stderr=err)
        try:
            if hooked:
                hook()
            proc.wait(timeout)
        finally:
            kill_tree(proc)
            node.procs.remove(proc)
        out.seek(0)
        err.seek(0)
        return Result(proc.returncode, out.read(), err.read(), time.monotonic() - start), hooked


# -- the volume path on this machine -------------------------------------------------------------

VOLUME_CONFIG = """\
[Node]
Name=kafka-1
Timeout={timeout}

[Volume]
{select}
MountPoint={mount}
FileSystem={fs}
TakeOver={take_over}
TakeOverTimeout={take_over_timeout}
{volume_extra}"""

DNS_SECTION = """
[DNS]
HostedZoneId={zone}
Name=kafka-1.cluster.internal
WaitInSync=yes
{dns_extra}"""

_volumes_made = 0


def unique_volume_id():
    """A volume id of this test process's own (its pid and a counter): the
    agent finds its disk by serial, as on EC2, and a loop device of another
    test (or of an earlier case that something still holds: a mount namespace
    made elsewhere keeps a copy of our mount, and with it the device) must
    never carry the same one."""
    global _volumes_made
    _volumes_made += 1
    return "vol-0fa%08x%06x" % (os.getpid() & 0xffffffff, _volumes_made & 0xffffff)


class Disk:
    """One volume section of a VolumeNode: its volume (an id of this test
    process's own, a sparse image named after it in the node's directory),
    its mount point, and the section's own lines. "data" is [Volume]."""

    def __init__(self, node, name, mount, fs="ext4", size=SIZE, extra=""):
        self.node, self.name, self.mount, self.fs, self.size, self.extra = node, name, mount, fs, size, extra
        self.volume_id = unique_volume_id()
        self.serial = self.volume_id.replace("-", "")
        self.image = os.path.join(node.dir, self.serial + ".img")
        with open(self.image, "wb") as f:
            f.truncate(size)

    def __repr__(self):
        return f"<{self.name}: {self.volume_id} at {self.mount}>"

    @property
    def title(self):
        return "[Volume]" if self.name == "data" else f"[Volume:{self.name}]"

    def state_keys(self):
        """The state file's keys of this section (the contract's names)."""
        if self.name == "data":
            return {"id": "NODEAGENT_VOLUME_ID", "device": "NODEAGENT_DEVICE", "mount": "NODEAGENT_MOUNT_POINT"}
        prefix = "NODEAGENT_VOLUME_" + self.name.upper().replace("-", "_")
        return {"id": prefix + "_ID", "device": prefix + "_DEVICE", "mount": prefix + "_MOUNT_POINT"}

    def section_text(self):
        return (f"\n[Volume:{self.name}]\nId={self.volume_id}\nMountPoint={self.mount}\nFileSystem={self.fs}\n"
                f"{self.extra}")

    def volume(self):
        return self.node.fake.state()["volumes"][self.volume_id]

    def tags(self):
        return self.volume().get("tags") or {}

    def attachments(self):
        return [(a.get("instance_id"), a.get("status")) for a in self.volume().get("attachments") or []]

    def device(self):
        """The loop device standing for the volume, once the backend made it."""
        entry = self.node.fake.backend_state()["volumes"].get(self.volume_id) or {}
        return entry.get("device") if entry.get("state") == "attached" else None

    def uuid(self):
        return blkid(self.image)

    def mounted(self):
        """(source, fstype) of the mount at the mount point (the top one), or None."""
        found = None
        with open("/proc/self/mountinfo") as f:
            for line in f:
                fields = line.split()
                if fields[4] == self.mount:
                    sep = fields.index("-")
                    found = (fields[sep + 2], fields[sep + 1])
        return found

    def is_mounted(self):
        return is_mounted(self.mount)

    def size_seen(self):
        """The size of the filesystem mounted there, as df sees it (bytes)."""
        st = os.statvfs(self.mount)
        return st.f_blocks * st.f_frsize

    def write_file(self, name="data.txt", text=None):
        with open(os.path.join(self.mount, name), "w") as f:
            f.write(text if text is not None else f"the node's {self.name}\n")
        os.sync()

    def read_file(self, name="data.txt"):
        with open(os.path.join(self.mount, name)) as f:
            return f.read()

    def grow_image(self, size):
        """EBS grew the volume (ModifyVolume): the image is made larger and
        the kernel told (losetup -c), which sends udev a "change"."""
        with open(self.image, "r+b") as f:
            f.truncate(size)
        device = self.device()
        assert device, f"{self} has no device"
        subprocess.run(["losetup", "-c", device], check=True)
        self.size = size


class VolumeNode:
    """One node's volumes on this machine: a fake AWS with the loop backend,
    a volume image per volume section (Disk: [Volume] is "data", and any
    [Volume:NAME] asked for), a configuration with those sections (and
    [DNS], publishing the instance's primary IP with WaitInSync=yes, unless
    dns=False), and the agent run with the instance role's credentials
    (IMDS serves them) and user data. One serves a module; prepare() makes
    it a new node. The [Volume] section's disk is also there as the node's
    own volume_id, serial, image and mount."""

    def __init__(self, tmp, device_delay=0.2):
        self.dir = tmp
        self.volume_id = self.serial = self.image = self.config = None
        self.mount = os.path.join(tmp, "mnt")
        self.state_file = os.path.join(tmp, "state")
        self.confdir = os.path.join(tmp, "etc")
        os.makedirs(self.confdir, mode=0o755, exist_ok=True)
        self.procs = []
        self.settings = {}
        self.disks = {}
        self.fake = FakeAws(backend="loopback:LoopBackend",
                            backend_opts={"volume_dir": tmp, "device_delay": device_delay})
        self.fake.start()

    def prepare(self, takeover=False, dns=True, size=SIZE, user_data=USER_DATA, sections=None, **settings):
        """Nothing running or mounted; a blank (sparse: it reads zeros),
        detached volume of a new id with the default world's tags for
        [Volume], and one for each of sections ({NAME: {"mount": path
        (relative: under the node's directory), "fs", "size", "extra":
        lines}}, each a [Volume:NAME] in that order); the initial world, no
        faults, no state file. takeover: a terminated predecessor holds the
        [Volume] volume and TakeOver=force-detach-dead. settings: see
        configure()."""
        self.stop_procs()
        self.unmount()
        self.fake.reset()
        for disk in self.disks.values():
            if os.path.exists(disk.image):
                os.unlink(disk.image)
        self.disks = {}
        data = self.disks["data"] = Disk(self, "data", self.mount, settings.get("fs", "ext4"), size)
        self.volume_id, self.serial, self.image = data.volume_id, data.serial, data.image
        for name, opts in (sections or {}).items():
            opts = dict(opts)
            mount = os.path.join(self.dir, opts.pop("mount", f"mnt-{name}"))
            self.disks[name] = Disk(self, name, mount, **opts)
        if os.path.exists(self.state_file):
            os.unlink(self.state_file)
        template = self.fake.state()["volumes"][VOLUME]
        volumes = {VOLUME: None}
        for disk in self.disks.values():
            volumes[disk.volume_id] = dict(template, id=disk.volume_id,
                                           tags=dict(template.get("tags") or {}, Name=f"kafka-1-{disk.name}"))
        self.fake.merge_state({
            "volumes": volumes,
            "delays": {"volume_attach": 0.2, "volume_detach": 0.2, "route53_change": 0.2},
        })
        if user_data is not None:
            self.fake.imds(user_data=user_data)
        if takeover:
            self.held_by(PREDECESSOR, "terminated")
        self.settings = {"timeout": "40s", "select": f"Id={self.volume_id}", "fs": "ext4",
                         "take_over": "force-detach-dead" if takeover else "wait", "take_over_timeout": "20s",
                         "volume_extra": "", "dns": dns, "dns_extra": ""}
        self.configure(**settings)
        return self

    @property
    def named(self):
        """The [Volume:NAME] sections' disks, in the configuration's order."""
        return [d for d in self.disks.values() if d.name != "data"]

    def configure(self, sections=None, **changes):
        """Rewrites the configuration with changes to the settings: timeout,
        select ("Id=..." or "Tag=K=V"), fs, take_over, take_over_timeout,
        volume_extra (more [Volume] lines), dns (a [DNS] section or not),
        dns_extra (more [DNS] lines); sections: {NAME: {"extra": lines,
        "fs": ...}}, changes to a [Volume:NAME] section."""
        self.settings.update(changes)
        for name, attrs in (sections or {}).items():
            for key, value in attrs.items():
                setattr(self.disks[name], key, value)
        if self.disks:
            self.disks["data"].fs, self.disks["data"].extra = self.settings["fs"], self.settings["volume_extra"]
        text = VOLUME_CONFIG.format(mount=self.mount, **self.settings)
        for disk in self.named:
            text += disk.section_text()
        if self.settings["dns"]:
            text += DNS_SECTION.format(zone=ZONE, dns_extra=self.settings["dns_extra"])
        self.config = write_config(self.confdir, text)

    def held_by(self, instance=PREDECESSOR, state="running"):
        """The volume attached to another instance in that state."""
        self.fake.merge_state({
            "instances": {instance: {"state": state}},
            "volumes": {self.volume_id: {"attachments": [
                {"instance_id": instance, "device": "/dev/sdf", "status": "attached", "attach_time": 0,
                 "delete_on_termination": False}]}},
        })

    # -- the agent ------------------------------------------------------------------------

    def env(self, role=True, extra=None):
        e = clean_env(self.fake.env(credentials=not role))
        e["NODEAGENT_STATE_FILE"] = self.state_file
        e.update(extra or {})
        return e

    def argv(self, *args):
        return [NODEAGENT, "--config", self.config, *args]

    def agent(self, *args, role=True, env=None, timeout=120):
        return run(self.argv(*args), self.env(role, env), timeout)

    def boot(self, *args, role=True, env=None, timeout=120):
        return self.agent("--once", "-v", *args, role=role, env=env, timeout=timeout)

    def spawn(self, *args, env=None, **kwargs):
        """The agent as a process of its own (stopped by prepare() and stop() if still running)."""
        kwargs.setdefault("stdin", subprocess.DEVNULL)
        proc = subprocess.Popen(self.argv(*args), env=self.env(extra=env), **kwargs)
        self.procs.append(proc)
        return proc

    def stop_procs(self):
        for proc in self.procs:
            kill_tree(proc)
        self.procs = []

    # -- the world, the disk ----------------------------------------------------------------

    def volume(self):
        return self.fake.state()["volumes"][self.volume_id]

    def tags(self):
        return self.volume().get("tags") or {}

    def attachments(self):
        return [(a.get("instance_id"), a.get("status")) for a in self.volume().get("attachments") or []]

    def device(self):
        """The loop device standing for the volume, once the backend made it."""
        entry = self.fake.backend_state()["volumes"].get(self.volume_id) or {}
        return entry.get("device") if entry.get("state") == "attached" else None

    def records(self):
        return records(self.fake)

    def state(self):
        return read_state(self.state_file)

    def is_mounted(self):
        return is_mounted(self.mount)

    def write_file(self, name="data.txt", text="the node's state\n"):
        with open(os.path.join(self.mount, name), "w") as f:
            f.write(text)
        os.sync()

    def read_file(self, name="data.txt"):
        with open(os.path.join(self.mount, name)) as f:
            return f.read()

    def unmount(self):
        """Every mount under the node's directory, the latest first: a
        nested mount holds its parent busy, and one mounted before its
        parent (an agent that got the order wrong) is hidden under it."""
        with open("/proc/self/mountinfo") as f:
            mounts = [line.split()[4] for line in f]
        for mount in reversed(mounts):
            if mount == self.dir or mount.startswith(self.dir + "/"):
                subprocess.run(["umount", mount], check=True)

    def release(self):
        """The instance goes away cleanly: --detach unmounts and detaches
        every section's volume, until EC2 says so."""
        r = self.agent("--detach")
        assert r.status == 0, r
        for disk in self.disks.values() or [self]:
            wait_until(f"{disk.volume_id} detached", lambda: not disk.attachments())

    # -- what a finished boot looks like -----------------------------------------------------

    def assert_booted(self, r):
        """Mounted, the filesystem's UUID in nodeagent:initialized, attached
        here only, the record holding the primary IP (with [DNS]), the state file written."""
        __tracebackhide__ = True
        assert r.status == 0, r
        assert self.is_mounted(), r
        uuid = blkid(self.image)
        assert uuid, "no filesystem"
        assert self.tags().get(TAG_INITIALIZED) == uuid, (self.tags(), uuid)
        assert self.attachments() == [(INSTANCE, "attached")], self.attachments()
        if self.settings["dns"]:
            [rec] = self.records()
            assert [v["Value"] for v in rec["ResourceRecords"]] == [PRIMARY_IP], rec
        assert (self.state() or {}).get("NODEAGENT_VOLUME_ID") == self.volume_id, self.state()

    def assert_untouched_or_converges(self, r):
        """After a failed boot: a blank volume stayed blank and untagged, or
        the filesystem made is the one the next (fault-free) boot mounts and
        tags, not formatted again."""
        __tracebackhide__ = True
        self.fake.clear_faults()
        if image_is_blank(self.image):
            assert TAG_INITIALIZED not in self.tags(), self.tags()
            return
        uuid = blkid(self.image)
        assert uuid, ("the volume holds bytes but no filesystem", r)
        tag = self.tags().get(TAG_INITIALIZED)
        assert tag in (None, uuid), (tag, uuid)
        self.configure(timeout="40s")
        self.fake.clear_requests()
        again = self.boot()
        assert again.status == 0, (r, again)
        assert blkid(self.image) == uuid
        assert self.tags().get(TAG_INITIALIZED) == uuid
        assert tag_calls(self.fake, TAG_FORMAT_STARTED) == [], again

    def stop(self):
        self.stop_procs()
        mounts = {self.mount} | {d.mount for d in self.disks.values()}
        for mount in sorted(mounts, key=len, reverse=True):
            if is_mounted(mount):
                subprocess.run(["umount", "-l", mount])
        self.fake.stop()


# -- the interface path in network namespaces ---------------------------------------------------

NET_CONFIG = """\
[Node]
Name=kafka-1
Timeout={timeout}

[Interface]
{select}
Routing={routing}
{interface_extra}
[DNS]
HostedZoneId={zone}
Name=kafka-1.cluster.internal
{dns_extra}"""


def sh(*args, check=True):
    return subprocess.run(list(args), capture_output=True, text=True, check=check)


class NetNode:
    """The agent's network namespace with a primary interface (eth0,
    10.0.1.5, the main table's default route), a VPC namespace, and the fake
    in between, whose attaches make veth links with the ENI's MAC."""

    def __init__(self, tmp, device_delay=0.2):
        tag = f"{os.getpid()}-{abs(hash(tmp)) % 10000}"
        self.ns = f"na-{tag}"
        self.vpc = f"na-{tag}-vpc"
        self.dir = tmp
        self.state_file = os.path.join(tmp, "state")
        self.confdir = os.path.join(tmp, "etc")
        os.makedirs(self.confdir, mode=0o755)
        self.procs = []
        try:
            for ns in (self.ns, self.vpc):
                sh("ip", "netns", "add", ns)
                sh("ip", "-n", ns, "link", "set", "lo", "up")
            # The primary interface: one end of a veth pair (this kernel has no dummy links).
            sh("ip", "-n", self.ns, "link", "add", "eth0", "type", "veth", "peer", "name", "eth0peer")
            sh("ip", "-n", self.ns, "addr", "add", f"{PRIMARY_IP}/24", "dev", "eth0")
            sh("ip", "-n", self.ns, "link", "set", "eth0", "up")
            sh("ip", "-n", self.ns, "link", "set", "eth0peer", "up")
            sh("ip", "-n", self.ns, "route", "add", "default", "via", "10.0.1.1", "dev", "eth0")
        except subprocess.CalledProcessError:
            self.remove_namespaces()
            raise
        self.fake = FakeAws(netns=self.ns, backend="vethback:VethBackend",
                            backend_opts={"router_netns": self.vpc, "device_delay": device_delay})
        self.configure()

    def configure(self, routing="agent", timeout="30s", select=f"Id={ENI}", interface_extra="", dns_extra=""):
        """interface_extra, dns_extra: more lines of [Interface] and [DNS]."""
        self.config = write_config(self.confdir, NET_CONFIG.format(routing=routing, timeout=timeout, select=select,
                                                                   zone=ZONE, interface_extra=interface_extra,
                                                                   dns_extra=dns_extra))

    def held_by(self, instance=PREDECESSOR, state="running"):
        """The ENI attached (device index 1) to another instance in that state."""
        self.fake.merge_state({
            "instances": {instance: {"state": state}},
            "network_interfaces": {ENI: {"attachment": {
                "attachment_id": "eni-attach-0fedcba987654321a", "instance_id": instance, "device_index": 1,
                "status": "attached", "attach_time": 0, "delete_on_termination": False}}},
        })

    def start(self):
        try:
            self.fake.start()
        except BaseException:
            self.remove_namespaces()
            raise
        return self

    def env(self, extra=None):
        e = clean_env(self.fake.env())
        e["NODEAGENT_STATE_FILE"] = self.state_file
        e.update(extra or {})
        return e

    def argv(self, *args):
        # ip netns exec execs the agent: the pid is the agent's own.
        return ["ip", "netns", "exec", self.ns, NODEAGENT, "--config", self.config, *args]

    def agent(self, *args, timeout=90):
        return run(self.argv(*args), self.env(), timeout)

    def boot(self, *args):
        return self.agent("--once", *args)

    def spawn(self, *args, env=None, **kwargs):
        kwargs.setdefault("stdin", subprocess.DEVNULL)
        proc = subprocess.Popen(self.argv(*args), env=self.env(env), **kwargs)
        self.procs.append(proc)
        return proc

    def link(self):
        """The ENI's link's name, or None."""
        return (eni_link(self.ns) or {}).get("ifname")

    def kernel_state(self):
        """Addresses, routes and rules, without counters and timers."""
        addrs = sorted((link["ifname"], a["local"], a["prefixlen"], bool(a.get("noprefixroute")))
                       for link in ip_json(self.ns, "addr", "show") for a in link.get("addr_info", [])
                       if a["family"] == "inet")
        routes = sorted(json.dumps(r, sort_keys=True) for r in ip_json(self.ns, "-4", "route", "show", "table", "all"))
        rules = [json.dumps(r, sort_keys=True) for r in ip_json(self.ns, "rule", "show")]
        return addrs, routes, rules

    def route_get(self, *args):
        return ip_json(self.ns, "route", "get", *args)[0]

    def state(self):
        return read_state(self.state_file)

    def assert_converged(self, r):
        __tracebackhide__ = True
        assert r.status == 0, r
        return assert_interface_converged(self.ns, self.fake)

    def remove_namespaces(self):
        for ns in (self.ns, self.vpc):
            sh("ip", "netns", "del", ns, check=False)

    def stop(self):
        for proc in self.procs:
            kill_tree(proc)
        self.fake.stop()
        self.remove_namespaces()


# -- both paths at once, in a sandbox of the node's own ------------------------------------------

# The volume has an id of this test run's own: loop devices are global, and
# another run's loop device of the default volume would carry the same
# serial (the sandbox's serial rule also takes only this machine's images).
MACHINE_VOLUME = f"vol-0b007{os.getpid() % (1 << 48):012x}"
MACHINE_SERIAL = MACHINE_VOLUME.replace("-", "")

MACHINE_CONFIG = """\
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


def machine_world():
    """The default world, with the volume under this run's id."""
    with open(DEFAULT_WORLD_FILE) as f:
        world = json.load(f)
    world["volumes"] = {MACHINE_VOLUME: world["volumes"].pop(VOLUME)}
    return world


class Machine:
    """One node's machine: a Sandbox, the fake in it (SandboxBackend: loop
    devices from volumes/, veth links into the sandbox's VPC namespace), the
    volume's image, a configuration, and the agent run inside."""

    volume_id = MACHINE_VOLUME

    def __init__(self, directory):
        self.dir = directory
        self.volume_dir = os.path.join(directory, "volumes")
        self.image = os.path.join(self.volume_dir, MACHINE_SERIAL + ".img")
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

    @property
    def procs(self):
        return self.sb.procs

    def start(self):
        self.sb.start()
        try:
            self.fake = self.sb.fake(world=machine_world(), backend=sandbox.BACKEND,
                                     backend_opts={"volume_dir": self.volume_dir, "router_netns": self.sb.vpc})
        except BaseException:
            self.sb.close()
            raise
        return self

    def close(self):
        self.sb.close()

    def stop_procs(self):
        for proc in self.sb.procs:
            kill_tree(proc)
        self.sb.procs = []

    # -- a new machine ------------------------------------------------------------------

    def fresh(self, world=None, blank_image=True):
        """Make this a machine that never ran the agent: stop what runs, unmount,
        the world reset (to `world` if given, else the initial one with a
        group and a stack waiting for this instance), the devices released,
        policy routing and /run/nodeagent emptied, the image blank."""
        self.stop_procs()
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
        assert [b for b in loops().values() if b.startswith(self.volume_dir)] == []
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
        assert [b for b in loops().values() if b.startswith(self.volume_dir)] == []
        if initial_world:
            world = self.fake.state()
            assert world["volumes"][MACHINE_VOLUME]["attachments"] == []
            assert world["network_interfaces"][ENI]["attachment"] is None

    def configure(self, timeout="60s", detach_on_stop="no"):
        self.config = write_config(self.confdir, MACHINE_CONFIG.format(
            timeout=timeout, volume=MACHINE_VOLUME, mount=self.mount, eni=ENI, detach_on_stop=detach_on_stop,
            zone=ZONE, stack=STACK, resource=RESOURCE, hook=HOOK))

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

    def link(self):
        return (eni_link(self.ns) or {}).get("ifname")

    def state(self):
        return read_state(self.sb.path("/run/nodeagent/state"))

    def volume(self):
        return self.fake.state()["volumes"][MACHINE_VOLUME]

    def device(self):
        entry = self.fake.backend_state()["loopback"]["volumes"].get(MACHINE_VOLUME) or {}
        return entry.get("device") if entry.get("state") == "attached" else None

    def records(self):
        return records(self.fake)

    def calls(self, action, answered=False):
        return calls(self.fake, action, answered)

    def is_mounted(self):
        return self.sb.is_mounted(self.mount)

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
        __tracebackhide__ = True
        world = settled_world(self.fake)
        vol = world["volumes"][MACHINE_VOLUME]
        assert [(a["instance_id"], a["status"]) for a in vol["attachments"]] == [(instance, "attached")]

        backend = self.fake.backend_state()
        device = backend["loopback"]["volumes"][MACHINE_VOLUME]["device"]
        assert loops()[device] == self.image
        assert self.sb.udev_property(device, "ID_SERIAL_SHORT") == MACHINE_SERIAL
        [mount] = self.sb.mounted(self.mount)
        assert (mount["source"], mount["fstype"]) == (device, "ext4")

        uuid = blkid(self.image)
        assert blkid(self.image, "TYPE") == "ext4"
        assert uuid and vol["tags"].get(TAG_INITIALIZED) == uuid

        ifname = assert_interface_converged(self.ns, self.fake, instance)
        assert ifname == backend["veth"]["interfaces"][ENI]["ifname"]

        state = self.state()
        pop_boot_phases(state)
        assert state == {
            "NODEAGENT_INSTANCE_ID": instance, "NODEAGENT_VOLUME_ID": MACHINE_VOLUME, "NODEAGENT_DEVICE": device,
            "NODEAGENT_MOUNT_POINT": self.mount, "NODEAGENT_ENI_ID": ENI, "NODEAGENT_INTERFACE": ifname,
            "NODEAGENT_IP": ENI_IP, "NODEAGENT_DNS_NAME": DNS_NAME,
        }
        return {"device": device, "ifname": ifname, "uuid": uuid}
