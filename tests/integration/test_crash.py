"""Crash consistency: the agent SIGKILLed at every step boundary of a boot,
and at random moments, then started again; the restart must converge.

The kill takes the agent and everything it started (mkfs, e2fsck, each in a
process group of its own), as systemd does with the unit's cgroup. test_volume.py::test_killed_at_a_step_converges kills a first boot at
four steps and checks that the restart mounts; these cases go further:

  first boot    every step of the volume path and of DNS, and the inner
                moments of the filesystem step (mkfs running, mkfs done,
                mounted): the restart mounts the filesystem that the tag names
                (formatted exactly once: the tag's UUID is the filesystem's,
                and a filesystem that existed before the restart keeps its UUID),
                the DNS set holds the node's address once
  replacement   a volume formatted and written by an earlier instance: every
                step, including e2fsck running; the file's checksum and the
                UUID never change, nothing is formatted
  take-over     killed while force-detaching a dead holder
  interface     every step of the interface path in network namespaces: one
                address, one rule, the table's two routes, the DNS set
  random        a seeded loop (NODEAGENT_CRASH_SEED, printed; 10 iterations)
                of kills after a random delay, sometimes twice in a row

A table of kill points tried and converged closes the session
(reliability.Report)."""

import hashlib
import os
import random
import signal
import subprocess
import threading
import time

import pytest

from conftest import INSTANCE, ZONE
from reliability import DNS_NAME, PRIMARY_IP, VolumeBoot, blkid_uuid, image_is_blank, register_report

ENI_IP = "10.0.1.10"
ITERATIONS = int(os.environ.get("NODEAGENT_CRASH_ITERATIONS", "10"))
SEED = int(os.environ.get("NODEAGENT_CRASH_SEED") or int(time.time()) % 100000)

# The log lines a kill follows: path_transition()'s "<path>: <step>:" and,
# inside the filesystem step, the debug lines of fs-*.c (the agent runs with -v).
FIRST_BOOT_POINTS = [
    "volume: find:",
    "volume: attach:",
    "volume: wait-device:",
    "volume: filesystem:",
    "volume: format:",            # tagging nodeagent:format-started
    "Running mkfs.ext4",
    "Running mkfs.ext4+20ms",     # mkfs half-way: killed with the agent
    "Running mkfs.ext4+60ms",
    "mkfs.ext4 exited",
    "Mounted /dev/",
    "volume: tag:",
    "volume: done:",
    "dns: read:",
    "dns: change:",
    "dns: insync:",
    "dns: done:",
]
REPLACEMENT_POINTS = [
    "volume: find:",
    "volume: attach:",
    "volume: wait-device:",
    "volume: filesystem:",
    "Running e2fsck",
    "Running e2fsck+20ms",
    "Mounted /dev/",
    "volume: done:",
    "dns: change:",
]
INTERFACE_POINTS = [
    "interface: find:",
    "interface: attach:",
    "interface: wait-link:",
    "interface: routing:",
    "routing: ",                  # "interface: routing: N change(s) made."
    "interface: done:",
    "dns: read:",
    "dns: change:",
]


@pytest.fixture(autouse=True)
def report(request):
    return register_report(request)


class Killed:
    def __init__(self, status, stderr, hit):
        self.status, self.stderr, self.hit = status, stderr, hit

    def __repr__(self):
        return f"<killed run: marker hit={self.hit} exit {self.status}\n{self.stderr}>"


def descendants(pid):
    """The pids below pid, from /proc (children first found, then theirs)."""
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        for c in children.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out


def kill_tree(pid):
    """SIGKILL for pid and all it started, as systemd kills a unit's cgroup:
    stopped first, so that nothing new is started while we look."""
    try:
        os.kill(pid, signal.SIGSTOP)
    except ProcessLookupError:
        return
    for c in descendants(pid):
        try:
            os.kill(c, signal.SIGKILL)
        except ProcessLookupError:
            pass
    os.kill(pid, signal.SIGKILL)


def run_and_kill(argv, env, marker=None, after=None, timeout=60):
    """Runs the agent and SIGKILLs it with all it started when a stderr line
    contains marker ("text+30ms": that long after it), or after `after`
    seconds. A run that ends first is not killed (hit False)."""
    delay = 0.0
    if marker and "+" in marker and marker.endswith("ms"):
        marker, _, ms = marker.rpartition("+")
        delay = int(ms[:-2]) / 1000
    proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, errors="replace")
    lines = []
    hit = False
    lock = threading.Lock()

    def kill():
        nonlocal hit
        with lock:
            if proc.poll() is None and not hit:
                hit = True
                kill_tree(proc.pid)

    timer = threading.Timer(after, kill) if after is not None else None
    if timer:
        timer.start()
    deadline = time.monotonic() + timeout
    try:
        for line in proc.stderr:
            lines.append(line)
            if marker and marker in line:
                time.sleep(delay)
                kill()
                break
            if time.monotonic() > deadline:
                break
    finally:
        if timer:
            timer.cancel()
        if proc.poll() is None and not hit and marker:
            # The marker never came and the run is still going: stop it.
            kill()
            hit = False
        proc.wait(30)
        lines.extend(proc.stderr.read().splitlines(keepends=True))
        proc.stderr.close()
    return Killed(proc.returncode, "".join(lines), hit)


def file_sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


# -- the volume boots --------------------------------------------------------------------


@pytest.fixture(scope="module")
def vboot(udevd, tmp_path_factory):
    b = VolumeBoot(str(tmp_path_factory.mktemp("crash")))
    try:
        yield b
    finally:
        b.stop()


def release(b):
    """The instance goes away cleanly: unmount, detach, until EC2 says so."""
    r = b.agent("--detach")
    assert r.status == 0, r
    for _ in range(50):
        if not b.attachments():
            return
        time.sleep(0.1)
    raise AssertionError(f"still attached: {b.attachments()}")


def replacement_volume(b):
    """A volume an earlier instance formatted, tagged and wrote a file to:
    returns (uuid, checksum of the file)."""
    r = b.boot()
    b.assert_booted(r)
    data = os.path.join(b.mount, "data.bin")
    with open(data, "wb") as f:
        f.write(os.urandom(256 * 1024))
    os.sync()
    sha = file_sha(data)
    uuid = blkid_uuid(b.image)
    release(b)
    # The replacement comes with another address than its predecessor had
    # (here: the record says the predecessor's), so DNS has a change to make.
    world = b.fake.state()
    for rec in world["hosted_zones"][ZONE]["records"]:
        if rec["Name"] == DNS_NAME and rec["Type"] == "A":
            rec["ResourceRecords"] = [{"Value": "10.0.1.99"}]
    b.fake.set_state(world)
    return uuid, sha


def assert_converged(b, restart, killed, uuid_before=None, sha=None):
    __tracebackhide__ = True
    assert restart.status == 0, (killed, restart)
    b.assert_booted(restart)
    uuid = blkid_uuid(b.image)
    if uuid_before:
        # The filesystem that existed before the restart is the one mounted.
        assert uuid == uuid_before, (uuid_before, uuid, killed, restart)
        assert "Creating an ext4 filesystem" not in restart.stderr, restart
    if sha:
        assert file_sha(os.path.join(b.mount, "data.bin")) == sha
    # Formatted once in all: never a second mkfs over a filesystem.
    made = killed.stderr.count("Created an ext4 filesystem") + restart.stderr.count("Created an ext4 filesystem")
    assert made <= 1, (killed, restart)
    assert b.records()[0]["ResourceRecords"] == [{"Value": PRIMARY_IP}]


def uuid_after_kill(b):
    """The filesystem's UUID as the kill left it, None when the volume is blank."""
    if image_is_blank(b.image):
        return None
    return blkid_uuid(b.image) or None


def partial_mkfs(b):
    """The image's hash when it holds bytes but no filesystem (mkfs died
    half-way), else None."""
    if uuid_after_kill(b) or image_is_blank(b.image):
        return None
    return file_sha(b.image)


def formatted_again(b, partial, restart, report, where):
    """mkfs died half-way: the volume holds some of its blocks but no
    superblock yet, and the tag nodeagent:format-started. The restart must
    know them as its own mkfs's and format again (not refuse the volume for
    ever), which assert_converged then checks like any other case."""
    __tracebackhide__ = True
    if not partial:
        return
    assert "mkfs of nodeagent's on this volume was interrupted" in restart.stderr, restart
    report.note("kill points", f"{where}: mkfs killed half-way, the restart formatted again")


@pytest.mark.parametrize("marker", FIRST_BOOT_POINTS)
def test_first_boot_killed_converges(vboot, report, marker):
    report("kill points", "first boot", marker.strip(" :"))
    b = vboot.prepare()
    killed = run_and_kill(b.argv("--once", "-v"), b.env(), marker=marker)
    assert killed.hit, f"the boot never reached {marker!r}: {killed!r}"
    uuid = uuid_after_kill(b)
    partial = partial_mkfs(b)
    restart = b.boot()
    formatted_again(b, partial, restart, report, f"first boot, {marker}")
    assert_converged(b, restart, killed, uuid_before=uuid)
    assert len(b.records()) == 1


@pytest.mark.parametrize("marker", REPLACEMENT_POINTS)
def test_replacement_boot_killed_keeps_the_data(vboot, report, marker):
    report("kill points", "replacement boot", marker.strip(" :"))
    b = vboot.prepare()
    uuid, sha = replacement_volume(b)
    killed = run_and_kill(b.argv("--once", "-v"), b.env(), marker=marker)
    assert killed.hit, f"the boot never reached {marker!r}: {killed!r}"
    assert blkid_uuid(b.image) == uuid
    restart = b.boot()
    assert_converged(b, restart, killed, uuid_before=uuid, sha=sha)
    assert "Creating an ext4 filesystem" not in killed.stderr


def test_killed_while_force_detaching_a_dead_holder(vboot, report):
    report("kill points", "take-over", "force-detach")
    b = vboot.prepare(takeover=True)
    killed = run_and_kill(b.argv("--once", "-v"), b.env(), marker="volume: take-over:")
    assert killed.hit, killed
    uuid = uuid_after_kill(b)
    restart = b.boot()
    assert_converged(b, restart, killed, uuid_before=uuid)
    assert [q for q in b.fake.requests(service="ec2", action="DetachVolume")], "no force-detach"


# -- the interface boot -------------------------------------------------------------------


@pytest.fixture
def net(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("needs root: network namespaces")
    from test_interface import NetNode
    n = NetNode(str(tmp_path)).start()
    try:
        yield n
    finally:
        n.stop()


def assert_interface_converged(net, restart, killed):
    from test_interface import TABLE, ip_json
    __tracebackhide__ = True
    assert restart.status == 0, (killed, restart)
    name = net.link()
    assert name, restart
    addrs = [a["local"] for link in ip_json(net.ns, "addr", "show", "dev", name) for a in link["addr_info"]
             if a["family"] == "inet"]
    assert addrs == [ENI_IP], addrs
    rules = [x for x in ip_json(net.ns, "rule", "show") if x.get("src") == ENI_IP]
    assert len(rules) == 1, rules
    routes = sorted((x["dst"], x.get("gateway")) for x in ip_json(net.ns, "route", "show", "table", TABLE))
    assert routes == [("10.0.1.0/24", None), ("default", "10.0.1.1")], routes
    zone = net.fake.state()["hosted_zones"]["Z0123456789ABCDEFGHIJ"]
    recs = [x for x in zone["records"] if x["Name"] == DNS_NAME and x["Type"] == "A"]
    assert len(recs) == 1 and recs[0]["ResourceRecords"] == [{"Value": ENI_IP}], recs
    eni = net.fake.state()["network_interfaces"]["eni-0123456789abcdef0"]
    assert eni["attachment"]["instance_id"] == INSTANCE


def net_argv(net):
    from conftest import NODEAGENT
    return ["ip", "netns", "exec", net.ns, NODEAGENT, "--config", net.config, "--once", "-v"]


def net_env(net):
    from conftest import clean_env
    e = clean_env(net.fake.env())
    e["NODEAGENT_STATE_FILE"] = net.state_file
    return e


@pytest.mark.parametrize("marker", INTERFACE_POINTS)
def test_interface_boot_killed_converges(net, report, marker):
    report("kill points", "interface boot", marker.strip(" :"))
    net.configure(routing="agent")
    killed = run_and_kill(net_argv(net), net_env(net), marker=marker)
    assert killed.hit, f"the boot never reached {marker!r}: {killed!r}"
    restart = net.agent("--once", "-v")
    assert_interface_converged(net, restart, killed)


# -- random moments -----------------------------------------------------------------------


@pytest.mark.parametrize("iteration", range(ITERATIONS), ids=lambda i: f"seed{SEED}-{i}")
def test_killed_at_a_random_moment_converges(vboot, report, iteration):
    rng = random.Random(SEED * 1000 + iteration)
    report("kill points", f"random (seed {SEED})", f"#{iteration}")
    if iteration == 0:
        report.note("kill points", f"random kills: NODEAGENT_CRASH_SEED={SEED}, {ITERATIONS} iterations")
    print(f"NODEAGENT_CRASH_SEED={SEED} iteration {iteration}")
    b = vboot.prepare()
    replacement = rng.random() < 0.4
    uuid = sha = None
    if replacement:
        uuid, sha = replacement_volume(b)
    kills = []
    # A boot here takes about 1.5 s: kill somewhere in it, once or twice.
    for _ in range(1 + (rng.random() < 0.3)):
        delay = rng.uniform(0.05, 1.8)
        killed = run_and_kill(b.argv("--once", "-v"), b.env(), after=delay)
        kills.append((round(delay, 3), killed.hit))
        if killed.status not in (0, -signal.SIGKILL):
            raise AssertionError(f"a killed run failed on its own: {killed!r}")
        if uuid:
            assert blkid_uuid(b.image) == uuid, kills
    before = uuid or uuid_after_kill(b)
    partial = partial_mkfs(b)
    restart = b.boot()
    formatted_again(b, partial, restart, report, f"random #{iteration} (seed {SEED}), kills {kills}")
    assert_converged(b, restart, killed, uuid_before=before, sha=sha)
    print(f"kills (delay, hit): {kills}; replacement: {replacement}")
