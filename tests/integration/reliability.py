"""What the reliability tests (test_faults, test_crash, test_security) share:
a whole `--once` boot of the volume path (and DNS) on a loop device, reused
across the cases of a module and put back to a blank volume and a fresh world
before each one.

Each case gets a volume id of its own (the test process's pid and a counter),
so that its loop device's serial is not the one any other test on the machine
uses, nor the one of an earlier case's device that something still holds (a
mount namespace made elsewhere meanwhile keeps a copy of our mount, and with
it the device): the agent finds its disk by serial, as on EC2, and two
devices with one serial would hand it the wrong one."""

import json
import os
import subprocess

from client import SECRET_KEY, FakeAws
from conftest import INSTANCE, NODEAGENT, PREDECESSOR, VOLUME, ZONE, clean_env, run, write_config
from test_volume import SIZE, is_mounted

DNS_NAME = "kafka-1.cluster.internal."
PRIMARY_IP = "10.0.1.5"
USER_DATA = "#nodeagent\n[Node]\nName=kafka-1\n"

CONFIG = """\
[Node]
Name=kafka-1
Timeout={timeout}

[Volume]
Id={volume}
MountPoint={mount}
FileSystem=ext4
TakeOver={take_over}
TakeOverTimeout=20s

[DNS]
HostedZoneId={zone}
Name=kafka-1.cluster.internal
WaitInSync=yes
"""


_volumes_made = 0


def unique_volume_id():
    global _volumes_made
    _volumes_made += 1
    return "vol-0fa%08x%06x" % (os.getpid() & 0xffffffff, _volumes_made & 0xffffff)


def blkid_uuid(path):
    return subprocess.run(["blkid", "-p", "-o", "value", "-s", "UUID", path], capture_output=True,
                          text=True).stdout.strip()


def image_is_blank(path):
    blank = bytes(1 << 20)
    with open(path, "rb") as f:
        while True:
            block = f.read(1 << 20)
            if not block:
                return True
            if block != blank[:len(block)]:
                return False


class VolumeBoot:
    """A fake AWS with the loop backend, one volume image, a configuration
    with [Volume] and [DNS], and the agent run with the instance role's
    credentials (so IMDS serves the credentials too) and user data."""

    def __init__(self, tmp, device_delay=0.2):
        self.tmp = tmp
        self.volume_id = self.image = None
        self.mount = os.path.join(tmp, "mnt")
        self.state_file = os.path.join(tmp, "state")
        self.confdir = os.path.join(tmp, "etc")
        os.makedirs(self.confdir, mode=0o755, exist_ok=True)
        self.fake = FakeAws(backend="loopback:LoopBackend",
                            backend_opts={"volume_dir": tmp, "device_delay": device_delay})
        self.fake.start()
        self.takeover = False
        self.config = None

    def prepare(self, takeover=False, timeout="40s", user_data=USER_DATA):
        """A blank, untagged, detached volume, the initial world, no faults."""
        self.takeover = takeover
        self.unmount()
        self.fake.reset()
        if self.image:
            os.unlink(self.image)
        self.volume_id = unique_volume_id()
        self.image = os.path.join(self.tmp, self.volume_id.replace("-", "") + ".img")
        with open(self.image, "wb") as f:
            f.truncate(SIZE)      # sparse: a new volume reads zeros
        if os.path.exists(self.state_file):
            os.unlink(self.state_file)
        world = self.fake.state()
        volume = dict(world["volumes"][VOLUME], id=self.volume_id, tags={"Name": "kafka-1-data"})
        self.fake.merge_state({
            "volumes": {self.volume_id: volume, VOLUME: None},
            "delays": {"volume_attach": 0.2, "volume_detach": 0.2, "route53_change": 0.2},
        })
        if user_data is not None:
            self.fake.imds(user_data=user_data)
        if takeover:
            self.fake.merge_state({
                "instances": {PREDECESSOR: {"state": "terminated"}},
                "volumes": {self.volume_id: {"attachments": [
                    {"instance_id": PREDECESSOR, "device": "/dev/sdf", "status": "attached", "attach_time": 0,
                     "delete_on_termination": False}]}},
            })
        self.configure(timeout)
        return self

    def configure(self, timeout="40s", extra=""):
        self.config = write_config(self.confdir, CONFIG.format(
            timeout=timeout, volume=self.volume_id, mount=self.mount, zone=ZONE,
            take_over="force-detach-dead" if self.takeover else "wait") + extra)

    def env(self, role=True, extra=None):
        e = clean_env(self.fake.env(credentials=not role))
        e["NODEAGENT_STATE_FILE"] = self.state_file
        e.update(extra or {})
        return e

    def argv(self, *args):
        return [NODEAGENT, "--config", self.config, *args]

    def agent(self, *args, role=True, env=None, timeout=120):
        return run(self.argv(*args), self.env(role, env), timeout)

    def boot(self, *args, timeout=120, env=None, role=True):
        return self.agent("--once", "-v", *args, role=role, env=env, timeout=timeout)

    # -- the world and the disk -----------------------------------------------------

    def volume(self):
        return self.fake.state()["volumes"][self.volume_id]

    def tags(self):
        return self.volume().get("tags") or {}

    def attachments(self):
        return [(a.get("instance_id"), a.get("status")) for a in self.volume().get("attachments") or []]

    def records(self):
        zone = self.fake.state()["hosted_zones"][ZONE]
        return [r for r in zone["records"] if r["Name"] == DNS_NAME and r["Type"] == "A"]

    def unmount(self):
        while is_mounted(self.mount):
            subprocess.run(["umount", self.mount], check=True)

    # -- what a finished boot looks like -------------------------------------------

    def assert_booted(self, r):
        assert r.status == 0, r
        assert is_mounted(self.mount), r
        uuid = blkid_uuid(self.image)
        assert uuid, "no filesystem"
        assert self.tags().get("nodeagent:initialized") == uuid, (self.tags(), uuid)
        assert r.stderr.count("Creating an ext4 filesystem") <= 1, r
        assert self.attachments() == [(INSTANCE, "attached")], self.attachments()
        [rec] = self.records()
        assert [v["Value"] for v in rec["ResourceRecords"]] == [PRIMARY_IP], rec
        with open(self.state_file) as f:
            assert f'NODEAGENT_VOLUME_ID="{self.volume_id}"' in f.read()

    def assert_untouched_or_converges(self, r):
        """After a failed boot: a blank volume stayed blank and untagged, or
        the filesystem made is the one the next (fault-free) boot mounts and
        tags, not formatted again."""
        self.fake.clear_faults()
        if image_is_blank(self.image):
            assert "nodeagent:initialized" not in self.tags(), self.tags()
            return
        uuid = blkid_uuid(self.image)
        assert uuid, ("the volume holds bytes but no filesystem", r)
        tag = self.tags().get("nodeagent:initialized")
        assert tag in (None, uuid), (tag, uuid)
        self.configure("40s")
        again = self.boot()
        assert again.status == 0, (r, again)
        assert "Creating an ext4 filesystem" not in again.stderr, again
        assert blkid_uuid(self.image) == uuid
        assert self.tags().get("nodeagent:initialized") == uuid

    def stop(self):
        if is_mounted(self.mount):
            subprocess.run(["umount", "-l", self.mount])
        self.fake.stop()


def secrets_of(fake):
    """Every secret the fake's world knows: secret keys, session tokens."""
    out = [SECRET_KEY]
    for entry in fake.state().get("keys", {}).values():
        for field in ("secret", "token"):
            if entry.get(field):
                out.append(entry[field])
    return out




# -- the figures: a pytest plugin that tables what the reliability tests tried ---------


class Report:
    """Registered by the first reliability test of a session (report()
    fixture below). Each case tags itself with (table, row, column) through
    user_properties; at the end of the session every table is printed with
    its totals: tried, passed. NODEAGENT_REPORT_DIR, when set, also gets
    each table as <table>.json (the README's figures come from there)."""

    name = "nodeagent-reliability-report"

    def __init__(self):
        self.tables = {}       # table -> {(row, column): passed}
        self.notes = {}        # table -> [lines]

    def pytest_runtest_logreport(self, report):
        props = dict(report.user_properties)
        tag = props.get("reliability")
        for note in (v for k, v in report.user_properties if k == "reliability_note"):
            if report.when == "call":
                self.notes.setdefault(note[0], []).append(note[1])
        if not tag:
            return
        table, row, column = tag
        cells = self.tables.setdefault(table, {})
        if report.skipped:
            # An expected failure (a known gap) is tried, not passed.
            if hasattr(report, "wasxfail"):
                cells[(row, column)] = "known gap"
            return
        if report.when == "call":
            cells[(row, column)] = report.passed
        elif report.failed:          # setup or teardown
            cells[(row, column)] = False

    @staticmethod
    def totals(cells):
        return len(cells), sum(1 for ok in cells.values() if ok is True)

    def pytest_terminal_summary(self, terminalreporter):
        tr = terminalreporter
        out = os.environ.get("NODEAGENT_REPORT_DIR")
        for table, cells in sorted(self.tables.items()):
            tried, passed = self.totals(cells)
            rows = {}
            for (row, column), ok in cells.items():
                rows.setdefault(row, {})[column] = ok
            tr.section(table)
            tr.write_line(f"{'':<30} {'tried':>5} {'passed':>6}  (x: failed, ~: known gap)")
            for row, cols in sorted(rows.items()):
                ok = sum(1 for v in cols.values() if v is True)
                names = " ".join(c if v is True else (f"~{c}" if v == "known gap" else f"x:{c}")
                                 for c, v in sorted(cols.items()))
                tr.write_line(f"{row:<30} {len(cols):>5} {ok:>6}  {names}")
            for line in self.notes.get(table, []):
                tr.write_line(line)
            gaps = sum(1 for v in cells.values() if v == "known gap")
            tr.write_line(f"{table}: {tried} tried, {passed} passed" + (f", {gaps} known gap(s) (~)" if gaps else ""))
            if out:
                os.makedirs(out, exist_ok=True)
                with open(os.path.join(out, table.replace(" ", "-") + ".json"), "w") as f:
                    json.dump({"table": table, "tried": tried, "passed": passed,
                           "known_gaps": sum(1 for v in cells.values() if v == "known gap"),
                               "notes": self.notes.get(table, []),
                               "rows": {r: c for r, c in sorted(rows.items())}}, f, indent=1)


def register_report(request):
    pm = request.config.pluginmanager
    if not pm.has_plugin(Report.name):
        pm.register(Report(), Report.name)

    def tag(table, row, column):
        request.node.user_properties.append(("reliability", (table, row, column)))

    def note(table, line):
        request.node.user_properties.append(("reliability_note", (table, line)))
    tag.note = note
    return tag
