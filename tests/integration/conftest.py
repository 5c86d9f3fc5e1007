"""Fixtures of the integration tests, built from harness.py: the fake AWS
and runners for the agent and the test tool pointed at it, the udevd, and
the nodes (the volume path on this machine, the interface path in network
namespaces, both at once in a sandbox)."""

import os
import subprocess
import tempfile
import time

import pytest

from harness import AWSCALL, NODEAGENT, Daemon, FakeAws, Machine, NetNode, NotifySocket, VolumeNode, clean_env, run


@pytest.fixture
def fake():
    f = FakeAws()
    f.start()
    try:
        yield f
    finally:
        f.stop()


@pytest.fixture
def confdir():
    """A configuration directory with the permissions the agent accepts."""
    with tempfile.TemporaryDirectory(prefix="nodeagent-conf-") as d:
        os.chmod(d, 0o755)
        yield d


@pytest.fixture
def agent(fake):
    """Runs the agent against the fake: agent(args..., env=..., role=True)."""
    def _run(*args, env=None, role=False, timeout=60):
        e = clean_env(fake.env(credentials=not role))
        e.update(env or {})
        return run([NODEAGENT, *args], e, timeout)
    return _run


@pytest.fixture
def awscall(fake):
    """Runs one AWS call through the agent's stack: awscall("describe-volumes", ...)."""
    def _run(*args, role=False, env=None, timeout=60):
        e = clean_env(fake.env(credentials=not role))
        e.update(env or {})
        return run([AWSCALL, *args], e, timeout)
    return _run


def _udevd_answers():
    return subprocess.run(["udevadm", "control", "--ping"], capture_output=True).returncode == 0


@pytest.fixture(scope="session")
def udevd():
    """A udevd for tests that wait for block devices: the running one, or a
    standalone one started here and stopped by its pid afterwards."""
    if os.geteuid() != 0:
        pytest.skip("needs root: loop devices and udev")
    if _udevd_answers():
        yield None
        return
    made_run_udev = not os.path.isdir("/run/udev")
    proc = subprocess.Popen(["/lib/systemd/systemd-udevd"], stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        for _ in range(100):
            if _udevd_answers():
                break
            time.sleep(0.05)
        else:
            raise RuntimeError("systemd-udevd did not start")
        yield proc.pid
    finally:
        proc.terminate()
        proc.wait(10)
        if made_run_udev:
            subprocess.run(["rm", "-rf", "/run/udev"])


def _need_root(what):
    if os.geteuid() != 0:
        pytest.skip(f"needs root: {what}")


@pytest.fixture(scope="module")
def vboot(udevd, tmp_path_factory):
    """The volume path (and DNS) on this machine, one fake for the module:
    each case begins with vboot.prepare(...)."""
    b = VolumeNode(str(tmp_path_factory.mktemp("vboot")))
    try:
        yield b
    finally:
        b.stop()


@pytest.fixture
def node(vboot):
    """The volume path alone: a new volume, a configuration without [DNS]."""
    return vboot.prepare(dns=False)


@pytest.fixture
def net(tmp_path):
    """The interface path (and DNS) in network namespaces of the test's own."""
    _need_root("network namespaces")
    n = NetNode(str(tmp_path)).start()
    try:
        yield n
    finally:
        n.stop()


@pytest.fixture(scope="module")
def shared_machine(tmp_path_factory):
    _need_root("namespaces, loop devices, udevd")
    m = Machine(str(tmp_path_factory.mktemp("boot"))).start()
    try:
        yield m
    finally:
        m.close()


@pytest.fixture
def machine(shared_machine):
    """Both paths at once in a sandbox, one for the module: made a new
    machine before each case (Machine.fresh()), and whatever a failed case
    left running stopped after it."""
    shared_machine.fresh()
    yield shared_machine
    shared_machine.stop_procs()


@pytest.fixture
def notify(tmp_path):
    n = NotifySocket(str(tmp_path / "notify"))
    try:
        yield n
    finally:
        n.close()


@pytest.fixture
def daemon(notify):
    """daemon(node, env=None): the agent started as a daemon on node, talking to notify; stopped afterwards."""
    started = []

    def start(node, env=None):
        started.append(Daemon(node, notify, env))
        return started[-1]
    yield start
    for d in started:
        d.close()
