"""scripts/demo's story (scripts/demo-node.py) runs through, explains
itself, and leaves nothing behind; twice in a row."""

import fcntl
import os
import subprocess
import time

import pytest

from conftest import TOP, need_root
import simnode

DEMO = os.path.join(TOP, "scripts", "demo-node.py")
WORKDIR = "/var/tmp/nodeagent-demo"
NAMES = ["nodeagent-demo", "nodeagent-demo-vpc"]


@pytest.fixture
def demo_lock():
    need_root()
    if not simnode.udevd_running():
        pytest.skip("no udevd (scripts/test starts one)")
    os.makedirs("/run/lock", exist_ok=True)
    with open("/run/lock/nodeagent-demo.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # the lock scripts/demo takes
        yield


@pytest.mark.root
def test_demo_runs_twice_and_cleans_up(demo_lock, nodeagent):
    for attempt in (1, 2):
        start = time.monotonic()
        r = subprocess.run(["/usr/bin/python3", DEMO], env={**os.environ, "NODEAGENT_BIN": nodeagent},
                           capture_output=True, text=True, timeout=300)
        elapsed = time.monotonic() - start
        assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-4000:]
        out = r.stdout
        for text in ("[1/5]", "[2/5]", "[3/5]", "[4/5]", "[5/5]", "creating an ext4 filesystem",
                     "e2fsck: kafka-1: clean", "already right", "Route 53   kafka-1.cluster.internal. A 10.0.1.10",
                     "NODEAGENT_IP=\"10.0.1.10\""):
            assert text in out, text
        assert out.count("[ok]") == 4 and "[FAILED]" not in out, out
        assert elapsed < 60, f"the demo took {elapsed:.0f} s"
        # Nothing left behind.
        assert not os.path.exists(WORKDIR)
        assert not any(os.path.exists(f"/run/netns/{n}") for n in NAMES)
        assert simnode.mounts_under(WORKDIR) == []
        assert simnode.loops_backed_by(WORKDIR) == []
