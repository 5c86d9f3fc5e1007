"""The daemon after READY=1 (and the systemd protocol on the way there):
readiness, status, watchdog and timeout extension over a notify socket of
the test's own; losing the mount; SIGTERM with and without DetachOnStop=;
nodeagent --detach against a running daemon."""

import os
import signal
import socket
import subprocess
import threading
import time

import pytest

from conftest import INSTANCE, NODEAGENT, PREDECESSOR, VOLUME, clean_env
from test_volume import VolumeNode, is_mounted


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
    def __init__(self, node, notify, extra_env=None):
        env = clean_env(node.fake.env())
        env["NODEAGENT_STATE_FILE"] = node.state_file
        env["NOTIFY_SOCKET"] = notify.path
        env.update(extra_env or {})
        self.log = open(os.path.join(node.tmp, "daemon.log"), "w+")
        self.proc = subprocess.Popen([NODEAGENT, "--config", node.config], env=env, stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=subprocess.STDOUT)

    def wait(self, timeout=30):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def output(self):
        self.log.seek(0)
        return self.log.read()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


@pytest.fixture
def node(udevd, tmp_path):
    n = VolumeNode(str(tmp_path)).start()
    notify = NotifySocket(os.path.join(str(tmp_path), "notify"))
    n.notify = notify
    daemons = []
    n.daemon = lambda **kw: daemons.append(Daemon(n, notify, **kw)) or daemons[-1]
    try:
        yield n
    finally:
        for d in daemons:
            d.stop()
        notify.close()
        n.stop()


def test_ready_only_after_the_volume_is_mounted(node):
    d = node.daemon()
    assert node.notify.wait_for("READY=1"), d.output()
    assert is_mounted(node.mount)
    statuses = [m for m in node.notify.messages if m.startswith("STATUS=")]
    assert any("volume: " in m for m in statuses), statuses
    # READY comes after every step of the path.
    ready = node.notify.messages.index("READY=1")
    assert any("is mounted at" in m for m in node.notify.messages[:ready])
    assert d.proc.poll() is None


def test_losing_the_mount_exits_1_at_once(node):
    d = node.daemon()
    assert node.notify.wait_for("READY=1"), d.output()
    time.sleep(0.3)
    start = time.monotonic()
    subprocess.run(["umount", node.mount], check=True)
    assert d.wait(10) == 1, d.output()
    assert time.monotonic() - start < 5
    assert "no longer mounted" in d.output()


def test_sigterm_keeps_the_volume_by_default(node):
    d = node.daemon()
    assert node.notify.wait_for("READY=1"), d.output()
    d.proc.send_signal(signal.SIGTERM)
    assert d.wait(30) == 0, d.output()
    assert node.notify.has("STOPPING=1")
    assert is_mounted(node.mount)
    assert (INSTANCE, "attached") in node.attachments()


def test_sigterm_with_detach_on_stop_releases_the_volume(node):
    node.config = node.config  # the same file, one key more
    with open(node.config, "a") as f:
        f.write("DetachOnStop=yes\n")
    d = node.daemon()
    assert node.notify.wait_for("READY=1"), d.output()
    d.proc.send_signal(signal.SIGTERM)
    assert d.wait(60) == 0, d.output()
    assert not is_mounted(node.mount)
    assert node.attachments() == []


def test_detach_tells_the_daemon_first(node):
    d = node.daemon()
    assert node.notify.wait_for("READY=1"), d.output()
    r = node.agent("--detach")
    assert r.status == 0, r
    assert d.wait(10) == 0, d.output()
    assert "stand down" in d.output()
    assert not is_mounted(node.mount)
    assert node.attachments() == []


def test_watchdog_is_fed_when_asked(node):
    d = node.daemon(extra_env={"WATCHDOG_USEC": "400000"})
    assert node.notify.wait_for("READY=1"), d.output()
    time.sleep(1.5)
    assert sum(1 for m in node.notify.messages if m == "WATCHDOG=1") >= 2


def test_take_over_wait_extends_the_start_timeout(node):
    node.fake.merge_state({
        "instances": {PREDECESSOR: {"state": "running"}},
        "volumes": {VOLUME: {"attachments": [
            {"instance_id": PREDECESSOR, "device": "/dev/sdf", "status": "attached", "attach_time": 0,
             "delete_on_termination": False}]}},
    })
    ec2 = node.fake.botocore_client("ec2")
    timer = threading.Timer(3, lambda: ec2.detach_volume(VolumeId=VOLUME, InstanceId=PREDECESSOR))
    timer.start()
    try:
        d = node.daemon()
        assert node.notify.wait_for("READY=1", timeout=60), d.output()
    finally:
        timer.cancel()
    assert node.notify.has("EXTEND_TIMEOUT_USEC=")
    assert any("held by" in m for m in node.notify.messages if m.startswith("STATUS="))


def test_a_second_agent_waits_then_names_the_holder(node):
    d = node.daemon()
    assert node.notify.wait_for("READY=1"), d.output()
    r = node.boot()
    assert r.status == 1, r
    assert f"pid {d.proc.pid}" in r.stderr and "at work" in r.stderr
    assert d.proc.poll() is None
