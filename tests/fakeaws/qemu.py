"""QemuBackend: attaches become real hotplugs into a QEMU guest, over QMP.

    --backend qemu:QemuBackend --backend-opt qmp=/path/qmp.sock --backend-opt volume_dir=DIR
        [--backend-opt device_delay=0] [--backend-opt detach_delay=0] [--backend-opt unplug_timeout=30]
        [--backend-opt bridge=BRIDGE]

The guest is the world's own instance (`self`); another instance whose
entry in the world's `local_instances` names a `qmp` socket is a second
guest of this machine, its attachments hot-plugged there. Attachments to
other instances make no device (they happen on another machine). A
volume moving from one guest to the other is plugged into the second only
once the first has let go of it (QEMU locks the image file).

AttachVolume, device_delay seconds after EC2 accepted it:
    blockdev-add  {driver: raw, node-name: <volume id>, file: {driver: file, filename: DIR/<serial>.img}}
    device_add    {driver: nvme, id: <volume id>, drive: <volume id>, serial: <serial>}
where <serial> is the volume id without its dash (vol-0123456789abcdef0 ->
vol0123456789abcdef0), as an EBS volume shows it on Nitro: the guest's udev
sees /dev/nvmeXn1 with ID_SERIAL_SHORT=<serial> and sysfs device/serial.
DIR/<serial>.img is made by the test; the backend never truncates or
removes it (a missing one fails the hotplug, logged, state "failed").

CreateVolume (a node restored in another zone) makes the new volume's
DIR/<serial>.img at once, as LoopBackend does: a sparse copy of the
snapshot's image DIR/<snapshot id>.img (left there by the test; reflinked
where the filesystem can), else blank, grown to the size asked for. The
guest then sees the snapshot's bytes under the new volume's serial.

AttachNetworkInterface, device_delay seconds later:
    netdev_add {type: user, id: <eni id>, net: <subnet cidr>, host: <subnet base + 1>}
    device_add {driver: virtio-net-pci, id: <eni id>, netdev: <eni id>, mac: <the ENI's MAC>}
QEMU's user-mode network plays the subnet, its router at base + 1 where a
VPC has it (QEMU's default would be .2). With bridge=BRIDGE the NIC is a tap
instead, enslaved to that bridge (which the caller made in QEMU's network
namespace, with the router's address and a DHCP server on it):
    netdev_add {type: tap, id: <eni id>, ifname: <"tap" + the id's last 8 digits>, script: no, downscript: no}
    ip link set <tap> master BRIDGE up
so that the subnet is a real one: a client there reaches the ENI's address,
and a reply that leaves by another NIC never comes back (user-mode
networking would hide that).

DetachVolume / DetachNetworkInterface, detach_delay seconds later: device_del,
then wait (up to unplug_timeout seconds) until QEMU reports the device gone
(DEVICE_DELETED: the guest acknowledged the ACPI eject), then blockdev-del /
netdev_del. A guest that never lets go leaves the record "stuck" (logged),
like a volume stuck "detaching" on EC2. A force detach behaves the same: a
PCI unplug cannot be forced from outside the guest.

When no QEMU listens on the QMP socket (the guest is powered off), a detach,
stop() and reset() just forget the devices: they went with the machine.

stop() and POST /_fake/reset unplug what the backend plugged (bounded).
GET /_fake/backend (describe()) tells which guest device is which volume or ENI.
"""

import ipaddress
import json
import logging
import os
import socket
import subprocess
import threading
import time

from backends import AttachBackend
from hotplug import Scheduler

log = logging.getLogger("fakeaws")

CONNECT_TIMEOUT = 5.0
REPLY_TIMEOUT = 30.0
RELEASE_WAIT = 5.0     # per device, for stop() and reset()


class QmpError(RuntimeError):
    """QEMU answered a command with an error (class and description in the message)."""


class QmpUnavailable(OSError):
    """Nothing listens on the QMP socket: the guest is not running."""


class Qmp:
    """One QMP session on a unix socket: capabilities negotiated, commands, events kept.

    with Qmp(path) as q:
        q.execute("query-status")
        q.execute("device_del", id="vol-...")
        q.wait_event("DEVICE_DELETED", lambda data: data.get("device") == "vol-...", timeout=30)
    """

    def __init__(self, path, timeout=CONNECT_TIMEOUT):
        self.path = path
        self.events = []
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        self._sock.settimeout(timeout)
        try:
            self._sock.connect(path)
        except (FileNotFoundError, ConnectionRefusedError) as e:
            self._sock.close()
            raise QmpUnavailable(e.errno, f"no QEMU on {path}: {e.strerror}") from None
        except OSError:
            self._sock.close()
            raise
        self._buf = b""
        try:
            greeting = self._read(timeout)
            if "QMP" not in greeting:
                raise QmpError(f"not a QMP greeting: {greeting}")
            self.execute("qmp_capabilities")
        except BaseException:
            self.close()
            raise

    def close(self):
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _read(self, timeout):
        """The next JSON message, or TimeoutError."""
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"QMP {self.path}: no message within {timeout:.1f}s")
            self._sock.settimeout(left)
            try:
                chunk = self._sock.recv(65536)
            except socket.timeout:
                continue
            if not chunk:
                raise ConnectionError(f"QMP {self.path}: QEMU closed the connection")
            self._buf += chunk
        line, _, self._buf = self._buf.partition(b"\n")
        return json.loads(line)

    def execute(self, command, timeout=REPLY_TIMEOUT, **arguments):
        msg = {"execute": command}
        if arguments:
            msg["arguments"] = arguments
        self._sock.sendall(json.dumps(msg).encode() + b"\n")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._read(max(0.0, deadline - time.monotonic()))
            if "event" in reply:
                self.events.append(reply)
                continue
            if "error" in reply:
                err = reply["error"]
                raise QmpError(f"{command}: {err.get('class')}: {err.get('desc')}")
            return reply.get("return")

    def wait_event(self, name, match=lambda data: True, timeout=REPLY_TIMEOUT, poll=None):
        """Wait for event `name` whose data satisfies match; events seen earlier count.

        poll: a callable run about every second that returns True when the
        wait is over anyway (e.g. the device no longer exists)."""
        deadline = time.monotonic() + timeout
        while True:
            for ev in self.events:
                if ev.get("event") == name and match(ev.get("data") or {}):
                    self.events.remove(ev)
                    return ev
            if poll is not None and poll():
                return None
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"QMP {self.path}: no {name} within {timeout:.0f}s")
            try:
                ev = self._read(min(1.0, left))
            except TimeoutError:
                continue
            if "event" in ev:
                self.events.append(ev)


class _Plug:
    """One attachment, from the accepted attach until its device is gone."""

    def __init__(self, kind, resource_id, details):
        self.kind = kind                # "volume" | "interface"
        self.resource_id = resource_id  # vol-... | eni-...
        self.details = details          # what describe() shows besides the state
        self.state = "attaching"        # attaching -> attached -> detaching -> gone; failed; stuck
        self.error = None
        self.handle = None
        self.force = False

    def view(self):
        return {("volume_id" if self.kind == "volume" else "eni_id"): self.resource_id,
                **self.details, "state": self.state, "force": self.force, "error": self.error}


class QemuBackend(AttachBackend):
    name = "qemu"

    def __init__(self, qmp=None, volume_dir=None, device_delay=0, detach_delay=None, unplug_timeout=30,
                 bridge=None, **options):
        super().__init__(qmp=qmp, volume_dir=volume_dir, device_delay=device_delay, detach_delay=detach_delay,
                         unplug_timeout=unplug_timeout, bridge=bridge, **options)
        self.bridge = bridge or None
        if options:
            raise ValueError(f"QemuBackend: unknown option(s) {sorted(options)}")
        if not qmp:
            raise ValueError("QemuBackend needs qmp (the path of the guest's QMP unix socket)")
        self.qmp_path = os.path.abspath(qmp)
        self.volume_dir = os.path.abspath(volume_dir) if volume_dir else None
        self.device_delay = float(device_delay)
        self.detach_delay = self.device_delay if detach_delay in (None, "") else float(detach_delay)
        self.unplug_timeout = float(unplug_timeout)
        self.app = None
        self._lock = threading.RLock()      # the records
        self._qmp_locks = {}                # socket -> lock: one QMP session at a time, QEMU serves one client
        self._current = {}                  # volume or ENI id -> _Plug of its live attachment
        self._releasing = []
        self._sched = None
        self._stopped = False

    # -- life -----------------------------------------------------------------------------

    def start(self, app):
        self.app = app
        if self.volume_dir and not os.path.isdir(self.volume_dir):
            raise ValueError(f"QemuBackend: volume_dir {self.volume_dir} is not a directory")
        self._sched = Scheduler("qemu")

    def stop(self):
        with self._lock:
            self._stopped = True
        if self._sched:
            self._sched.stop()
        self._release_all()

    def reset(self):
        self._release_all()

    def _qmp_lock(self, path):
        with self._lock:
            return self._qmp_locks.setdefault(path, threading.Lock())

    # -- hooks (server threads, outside the world lock) -------------------------------------

    def _guest(self, instance_id):
        """The QMP socket of the guest that is instance_id, or None when it is none of ours."""
        with self.app.world.lock:
            if instance_id == self.app.world.data.get("self"):
                return self.qmp_path
        qmp = self.app.local_instance(instance_id).get("qmp")
        return os.path.abspath(qmp) if qmp else None

    @staticmethod
    def serial_of(volume_id):
        return volume_id.replace("-", "")

    def backing_file(self, volume_id):
        if not self.volume_dir:
            raise ValueError("QemuBackend: no volume_dir given, so no volume can be attached")
        return os.path.join(self.volume_dir, self.serial_of(volume_id) + ".img")

    def _subnet(self, eni):
        """(cidr, router): the subnet's network and its address + 1, where a VPC has its router."""
        with self.app.world.lock:
            subnet = self.app.world.data["subnets"].get(eni.get("subnet_id") or "")
            cidr = subnet and subnet.get("cidr_block")
        if not cidr:
            raise ValueError(f"QemuBackend: the world has no subnet {eni.get('subnet_id')!r} with a cidr_block")
        net = ipaddress.ip_network(cidr, strict=False)
        return str(net), str(net.network_address + 1)

    def _begin(self, rec):
        with self._lock:
            if self._stopped:
                raise RuntimeError("QemuBackend: stopped")
            old = self._current.pop(rec.resource_id, None)
            if old is not None:
                # Only when the world was replaced under a live attachment.
                log.warning("qemu: %s attached again while an earlier device stands for it: unplugging that",
                            rec.resource_id)
                self._begin_detach(old, delay=0)
            self._current[rec.resource_id] = rec
            rec.handle = self._sched.call_later(self.device_delay, self._plug, rec)
        log.info("qemu: %s -> %s hotplug in %.2fs", rec.resource_id, rec.kind, self.device_delay)

    def on_create_volume(self, volume_id, snapshot_id, size_gib, volume):
        """The new volume's backing file: the snapshot's data, else blank, of the size asked for."""
        path = self.backing_file(volume_id)
        if snapshot_id:
            source = os.path.join(self.volume_dir, snapshot_id + ".img")
            if not os.path.isfile(source):
                raise FileNotFoundError(f"QemuBackend: no image {source} for snapshot {snapshot_id}")
            subprocess.run(["cp", "--sparse=always", "--reflink=auto", source, path], check=True,
                           capture_output=True)
        with open(path, "ab") as f:
            if f.tell() < size_gib << 30:
                f.truncate(size_gib << 30)
        log.info("qemu: %s made from %s (%d GiB): %s", volume_id, snapshot_id or "nothing", size_gib, path)

    def on_attach_volume(self, volume_id, instance_id, device, volume):
        qmp = self._guest(instance_id)
        if not qmp:
            return
        path = self.backing_file(volume_id)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"QemuBackend: no backing file {path} for {volume_id}")
        serial = self.serial_of(volume_id)
        self._begin(_Plug("volume", volume_id, {"serial": serial, "node_name": volume_id, "device_id": volume_id,
                                                "backing_file": path, "ec2_device": device, "qmp": qmp}))

    def on_attach_eni(self, eni_id, instance_id, device_index, eni):
        qmp = self._guest(instance_id)
        if not qmp:
            return
        cidr, router = self._subnet(eni)
        details = {"netdev": eni_id, "device_id": eni_id, "mac": eni["mac_address"].lower(),
                   "device_index": device_index, "net": cidr, "router": router, "qmp": qmp}
        if self.bridge:
            details.update(tap="tap" + eni_id[-8:], bridge=self.bridge)
        self._begin(_Plug("interface", eni_id, details))

    def _on_detach(self, resource_id, force):
        with self._lock:
            rec = self._current.pop(resource_id, None)
            if rec is None:
                return
            rec.force = force
            self._begin_detach(rec, self.detach_delay)

    def on_detach_volume(self, volume_id, instance_id, device, force, volume):
        self._on_detach(volume_id, force)

    def on_detach_eni(self, eni_id, instance_id, attachment_id, force, eni):
        self._on_detach(eni_id, force)

    def _begin_detach(self, rec, delay):
        if rec.state == "attaching":  # Not plugged yet: it never will be.
            rec.handle.cancel()
            rec.state = "gone"
            return
        if rec.state not in ("attached", "failed"):
            return
        rec.state = "detaching"
        self._releasing.append(rec)
        rec.handle = self._sched.call_later(delay, self._unplug, rec)

    # -- QMP work (the scheduler thread) ---------------------------------------------------

    def _plug(self, rec):
        with self._lock:
            if rec.state != "attaching" or self._stopped:
                return None
            # Moving from one guest to the other: the first lets go first.
            if any(r.resource_id == rec.resource_id for r in self._releasing):
                return 0.25
        d = rec.details
        try:
            with self._qmp_lock(d["qmp"]), Qmp(d["qmp"]) as q:
                if rec.kind == "volume":
                    q.execute("blockdev-add", driver="raw", **{"node-name": d["node_name"]},
                              file={"driver": "file", "filename": d["backing_file"]})
                    try:
                        q.execute("device_add", driver="nvme", id=d["device_id"], drive=d["node_name"],
                                  serial=d["serial"])
                    except (QmpError, OSError):
                        q.execute("blockdev-del", **{"node-name": d["node_name"]})
                        raise
                else:
                    if d.get("tap"):
                        q.execute("netdev_add", type="tap", id=d["netdev"], ifname=d["tap"], script="no",
                                  downscript="no")
                    else:
                        q.execute("netdev_add", type="user", id=d["netdev"], net=d["net"], host=d["router"])
                    try:
                        if d.get("tap"):
                            subprocess.run(["ip", "link", "set", d["tap"], "master", d["bridge"], "up"],
                                           check=True, capture_output=True)
                        q.execute("device_add", driver="virtio-net-pci", id=d["device_id"], netdev=d["netdev"],
                                  mac=d["mac"])
                    except (QmpError, OSError, subprocess.CalledProcessError):
                        q.execute("netdev_del", id=d["netdev"])
                        raise
        except (QmpError, OSError) as e:
            with self._lock:
                rec.state, rec.error = "failed", str(e)
            log.error("qemu: could not hot-plug %s: %s", rec.resource_id, e)
            return None
        with self._lock:
            if rec.state == "attaching":
                rec.state = "attached"
            elif rec.state == "gone":
                # Detached while QEMU was plugging it: unplug what was just plugged.
                rec.state = "detaching"
                self._releasing.append(rec)
                rec.handle = self._sched.call_later(self.detach_delay, self._unplug, rec)
                return None
        if rec.kind == "volume":
            log.info("qemu: %s is NVMe device %s, serial %s (%s)", rec.resource_id, d["device_id"], d["serial"],
                     d["backing_file"])
        else:
            log.info("qemu: %s is virtio-net device %s, MAC %s, %s %s (router %s)", rec.resource_id,
                     d["device_id"], d["mac"], f"tap {d['tap']} on bridge {d['bridge']}," if d.get("tap") else
                     "user network", d["net"], d["router"])
        return None

    def _unplug(self, rec, timeout=None):
        """device_del, wait until QEMU reports it gone, free the backend; None when done or given up."""
        with self._lock:
            if rec.state != "detaching":
                return None
        d = rec.details
        timeout = self.unplug_timeout if timeout is None else timeout
        try:
            with self._qmp_lock(d["qmp"]), Qmp(d["qmp"]) as q:
                if self._device_exists(q, d["device_id"]):
                    q.execute("device_del", id=d["device_id"])
                    q.wait_event("DEVICE_DELETED", lambda data: data.get("device") == d["device_id"],
                                 timeout=timeout, poll=lambda: not self._device_exists(q, d["device_id"]))
                if rec.kind == "volume":
                    self._delete_block_node(q, d["node_name"])
                else:
                    self._quietly(q, "netdev_del", id=d["netdev"])
        except QmpUnavailable:
            log.info("qemu: %s: no guest running; its device went with it", rec.resource_id)
        except (TimeoutError, QmpError, OSError) as e:
            with self._lock:
                rec.state, rec.error = "stuck", str(e)
                if rec in self._releasing:
                    self._releasing.remove(rec)
            log.error("qemu: %s (%s) did not unplug: %s", rec.resource_id, d["device_id"], e)
            return None
        with self._lock:
            rec.state = "gone"
            if rec in self._releasing:
                self._releasing.remove(rec)
        log.info("qemu: %s unplugged (%s)", rec.resource_id, d["device_id"])
        return None

    @staticmethod
    def _device_exists(q, device_id):
        try:
            q.execute("qom-get", path=f"/machine/peripheral/{device_id}", property="type")
            return True
        except QmpError:
            return False

    BLOCK_NODE_RELEASE_TIMEOUT = 10.0   # seconds

    @staticmethod
    def _delete_block_node(q, node_name):
        """blockdev-del, until the node is gone: the device leaves the QOM
        tree (and DEVICE_DELETED comes) before it lets go of its drive, and
        a blockdev-del in between is refused as "in use"; the node then
        stayed, and the next attach of the volume failed with "Duplicate
        nodes" (seen on a loaded machine)."""
        deadline = time.monotonic() + QemuBackend.BLOCK_NODE_RELEASE_TIMEOUT
        while True:
            try:
                q.execute("blockdev-del", **{"node-name": node_name})
                return
            except QmpError as e:
                nodes = q.execute("query-named-block-nodes", flat=True)
                if not any(n.get("node-name") == node_name for n in nodes or []):
                    return      # gone already (a failed plug cleaned it up)
                if time.monotonic() >= deadline:
                    raise QmpError(f"block node {node_name} still in use after "
                                   f"{QemuBackend.BLOCK_NODE_RELEASE_TIMEOUT:.0f}s: {e}") from e
            time.sleep(0.1)

    @staticmethod
    def _quietly(q, command, **arguments):
        # The node or netdev may already be gone (a failed plug cleaned it up).
        try:
            q.execute(command, **arguments)
        except QmpError as e:
            log.debug("qemu: %s", e)

    def _release_all(self):
        with self._lock:
            for rec in list(self._current.values()):
                self._begin_detach(rec, delay=3600)  # Done right here, not by the timer.
            self._current = {}
            pending = list(self._releasing)
            for rec in pending:
                if rec.handle:
                    rec.handle.cancel()
        for rec in pending:
            self._unplug(rec, timeout=RELEASE_WAIT)

    def describe(self):
        with self._lock:
            return {
                "backend": self.name,
                "qmp": self.qmp_path,
                "volume_dir": self.volume_dir,
                "volumes": {k: r.view() for k, r in sorted(self._current.items()) if r.kind == "volume"},
                "interfaces": {k: r.view() for k, r in sorted(self._current.items()) if r.kind == "interface"},
                "releasing": [r.view() for r in self._releasing],
            }
