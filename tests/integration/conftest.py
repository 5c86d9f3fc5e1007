"""Fixtures shared by the integration tests: the fake AWS, and runners for
the agent and the test tool, each pointed at that fake."""

import os
import subprocess
import sys
import tempfile
import time

import pytest

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(TOP, "tests", "fakeaws"))

from client import FakeAws  # noqa: E402

BUILD = os.environ.get("NODEAGENT_BUILD", os.path.join(TOP, "build"))
NODEAGENT = os.environ.get("NODEAGENT_BIN", os.path.join(BUILD, "agent", "nodeagent"))
AWSCALL = os.path.join(BUILD, "tests", "tools", "nodeagent-awscall")

VOLUME = "vol-0123456789abcdef0"
ENI = "eni-0123456789abcdef0"
INSTANCE = "i-0123456789abcdef0"
PREDECESSOR = "i-0fedcba9876543210"
ZONE = "Z0123456789ABCDEFGHIJ"

# Variables of the machine that would point the agent elsewhere.
_AWS_VARS = [k for k in os.environ if k.startswith("AWS_")]


class Result:
    def __init__(self, proc, elapsed):
        self.status = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        self.elapsed = elapsed

    def __repr__(self):
        return f"<exit {self.status} after {self.elapsed:.2f}s\nstdout:\n{self.stdout}\nstderr:\n{self.stderr}>"


def run(argv, env, timeout=60):
    start = time.monotonic()
    proc = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, errors="replace",
                          timeout=timeout)
    return Result(proc, time.monotonic() - start)


def clean_env(extra=None):
    env = {k: v for k, v in os.environ.items() if k not in _AWS_VARS}
    env.update(extra or {})
    return env


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


def write_config(confdir, text, name="nodeagent.conf", mode=0o644):
    path = os.path.join(confdir, name)
    if os.path.dirname(name):
        os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)
    return path


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
