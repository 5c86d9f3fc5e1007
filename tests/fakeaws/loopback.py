"""LoopBackend: AttachVolume makes a real block device, a loop device that carries the volume's serial.

    --backend loopback:LoopBackend --backend-opt volume_dir=DIR
        [--backend-opt device_delay=0.2] [--backend-opt detach_delay=0.2]

DIR holds one backing file per volume, `vol<id without the dash>.img`
(vol-0123456789abcdef0 -> vol0123456789abcdef0.img), made by the test; the
backend opens it read-write and never creates, truncates or removes it.

An AttachVolume to an instance on this machine (the world's `self`, or
another one with a listener of its own or in the world's `local_instances`:
App.is_local()), device_delay seconds after EC2 accepted it (the hotplug), creates a NEW loop device with
LOOP_CTL_ADD (udev "add"), numbered from 64 up, skipping numbers that exist,
then binds the backing file with LOOP_CONFIGURE, autoclear off (udev
"change"). The test-only rule written at start() gives the device
ID_SERIAL_SHORT = the backing file's name without .img = the volume id
without its dash, as an EBS volume on Nitro shows it. Attachments to other
instances make no device: they happen on another machine.

DetachVolume, detach_delay seconds later: LOOP_CLR_FD, then LOOP_CTL_REMOVE
(udev "remove"; the node goes). A device that is busy (mounted in the fake's
mount namespace, or held by a device-mapper/md holder) is left in place like
EC2 leaves a busy volume detaching: the backend logs it and retries every
half second until it is free or the fake stops. A force detach clears the
loop at once (lazily: a mounted device keeps working until it is unmounted,
then the kernel unbinds it) and removes it as soon as the kernel lets it.

stop() and POST /_fake/reset release every loop device the backend made;
stop() also removes the rule file when it wrote it. GET /_fake/backend
(describe()) tells which device is which volume.
"""

import errno
import fcntl
import logging
import os
import struct
import subprocess
import threading
import time

from backends import AttachBackend
from hotplug import Scheduler

log = logging.getLogger("fakeaws")

# <linux/loop.h>
LOOP_SET_FD = 0x4C00
LOOP_CLR_FD = 0x4C01
LOOP_SET_STATUS64 = 0x4C04
LOOP_CONFIGURE = 0x4C0A
LOOP_CTL_ADD = 0x4C80
LOOP_CTL_REMOVE = 0x4C81
LO_NAME_SIZE = 64
_LOOP_INFO64_SIZE = 232       # struct loop_info64
_LO_FILE_NAME_OFFSET = 56     # its lo_file_name[64]

LOOP_CONTROL = "/dev/loop-control"
FIRST_LOOP = 64
LAST_LOOP = 1023

RULES_DIR = "/run/udev/rules.d"
RULES_FILE = os.path.join(RULES_DIR, "99-nodeagent-fakeaws.rules")
RULE = ('# Written by the fakeaws LoopBackend (tests only): a loop device backed by .../vol<hex>.img\n'
        '# gets ID_SERIAL_SHORT=vol<hex>, the serial of EBS volume vol-<hex>.\n'
        'SUBSYSTEM=="block", KERNEL=="loop[0-9]*", ATTR{loop/backing_file}=="*/vol*.img", '
        'PROGRAM="/bin/sh -c \'basename %s{loop/backing_file} .img\'", ENV{ID_SERIAL_SHORT}="%c"\n')

BUSY_RETRY = 0.5      # seconds between tries while a device is busy
REMOVE_RETRY = 0.05   # while udevd still has the device open for a moment
RELEASE_WAIT = 3.0    # how long stop()/reset() wait for udevd to let go


def _loop_info64(path):
    info = bytearray(_LOOP_INFO64_SIZE)  # offset 0, no size limit, lo_flags 0: no autoclear
    name = os.fsencode(path)[:LO_NAME_SIZE - 1]
    info[_LO_FILE_NAME_OFFSET:_LO_FILE_NAME_OFFSET + len(name)] = name
    return bytes(info)


def _udevadm(*args):
    # Bounded: a udevd that is going away must not hold up the fake's own stop.
    try:
        proc = subprocess.run(["udevadm", *args], stdin=subprocess.DEVNULL, capture_output=True,
                              text=True, timeout=4)
    except (OSError, subprocess.TimeoutExpired) as e:
        log.warning("loopback: udevadm %s: %s", " ".join(args), e)
        return False
    if proc.returncode != 0:
        log.warning("loopback: udevadm %s: exit %d: %s", " ".join(args), proc.returncode, proc.stderr.strip())
    return proc.returncode == 0


class _Loop:
    """One attachment: from the accepted AttachVolume until its loop device is gone."""

    def __init__(self, volume_id, backing_file):
        self.volume_id = volume_id
        self.backing_file = backing_file
        self.state = "attaching"   # attaching -> attached -> detaching -> gone; or failed
        self.number = None
        self.force = False
        self.cleared = False       # LOOP_CLR_FD done
        self.busy_since = None
        self.told_busy = False     # the "still open" warning was logged
        self.error = None
        self.handle = None

    @property
    def device(self):
        return f"/dev/loop{self.number}" if self.number is not None else None

    def view(self):
        return {"volume_id": self.volume_id, "device": self.device, "state": self.state,
                "backing_file": self.backing_file, "force": self.force, "busy": self.busy_since is not None,
                "error": self.error}


class LoopBackend(AttachBackend):
    name = "loopback"

    def __init__(self, volume_dir=None, device_delay=0.2, detach_delay=None, **options):
        super().__init__(volume_dir=volume_dir, device_delay=device_delay, detach_delay=detach_delay, **options)
        if options:
            raise ValueError(f"LoopBackend: unknown option(s) {sorted(options)}")
        if not volume_dir:
            raise ValueError("LoopBackend needs volume_dir (the folder of vol<id>.img backing files)")
        self.volume_dir = os.path.abspath(volume_dir)
        self.device_delay = float(device_delay)
        self.detach_delay = self.device_delay if detach_delay in (None, "") else float(detach_delay)
        self.app = None
        self._lock = threading.RLock()
        self._current = {}     # volume id -> _Loop of its live attachment
        self._releasing = []   # _Loop being detached
        self._sched = None
        self._wrote_rule = False
        self._made_rules_dir = False
        self._stopped = False

    # -- life -------------------------------------------------------------------------

    def start(self, app):
        self.app = app
        if not os.path.isdir(self.volume_dir):
            raise ValueError(f"LoopBackend: volume_dir {self.volume_dir} is not a directory")
        self._install_rule()
        self._sched = Scheduler("loopback")

    def stop(self):
        with self._lock:
            self._stopped = True
        if self._sched:
            self._sched.stop()
        self._release_all()
        self._remove_rule()

    def reset(self):
        self._release_all()

    def _install_rule(self):
        if not os.path.isdir("/run/udev"):
            log.warning("loopback: no /run/udev (no udevd runs): devices get no serial")
            return
        if os.path.exists(RULES_FILE):
            return  # Another fake (or a previous run) put it there; it stays theirs.
        if not os.path.isdir(RULES_DIR):
            os.mkdir(RULES_DIR, 0o755)
            self._made_rules_dir = True
        tmp = f"{RULES_FILE}.tmp.{os.getpid()}"
        with open(tmp, "w") as f:
            f.write(RULE)
        os.replace(tmp, RULES_FILE)
        self._wrote_rule = True
        _udevadm("control", "--timeout=3", "--reload")

    def _remove_rule(self):
        if self._wrote_rule:
            try:
                os.unlink(RULES_FILE)
            except FileNotFoundError:
                pass
            self._wrote_rule = False
            _udevadm("control", "--timeout=3", "--reload")
        if self._made_rules_dir:
            try:
                os.rmdir(RULES_DIR)  # Only when empty: others may have put rules there since.
            except OSError:
                pass
            self._made_rules_dir = False

    # -- hooks (server threads, outside the world lock) ---------------------------------

    def _is_self(self, instance_id):
        # Any instance on this machine: the world's self, or another instance's agent beside it
        # (fakeaws.py --instance, the world's local_instances); loop devices are the machine's.
        return self.app.is_local(instance_id)

    def backing_file(self, volume_id):
        return os.path.join(self.volume_dir, volume_id.replace("-", "") + ".img")

    def on_create_volume(self, volume_id, snapshot_id, size_gib, volume):
        """A new volume's image: the snapshot's data (<snapshot_id>.img in
        volume_dir, as the test left it), else blank, of the size asked for
        (sparse: a few GiB cost nothing)."""
        path = self.backing_file(volume_id)
        if snapshot_id:
            source = os.path.join(self.volume_dir, snapshot_id + ".img")
            if not os.path.isfile(source):
                raise FileNotFoundError(f"LoopBackend: no image {source} for snapshot {snapshot_id}")
            subprocess.run(["cp", "--sparse=always", source, path], check=True)
        with open(path, "ab") as f:
            if f.tell() < size_gib << 30:
                f.truncate(size_gib << 30)
        log.info("loopback: %s made from %s (%d GiB)", volume_id, snapshot_id or "nothing", size_gib)

    def on_attach_volume(self, volume_id, instance_id, device, volume):
        if not self._is_self(instance_id):
            return
        path = self.backing_file(volume_id)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"LoopBackend: no backing file {path} for {volume_id}")
        with self._lock:
            if self._stopped:
                raise RuntimeError("LoopBackend: stopped")
            old = self._current.pop(volume_id, None)
            if old is not None:
                # Only when the world was replaced under a live attachment.
                log.warning("loopback: %s attached again while %s still stands for it: releasing that",
                            volume_id, old.device or "a pending attach")
                self._begin_detach(old, force=True, delay=0)
            rec = _Loop(volume_id, path)
            self._current[volume_id] = rec
            rec.handle = self._sched.call_later(self.device_delay, self._plug, rec)
        log.info("loopback: %s -> device in %.2fs", volume_id, self.device_delay)

    def on_detach_volume(self, volume_id, instance_id, device, force, volume):
        with self._lock:
            rec = self._current.pop(volume_id, None)
            if rec is None:
                # A force detach of one already detaching hurries it along.
                for r in self._releasing:
                    if r.volume_id == volume_id and force and not r.force:
                        r.force = True
                        log.info("loopback: %s forced while detaching", r.device)
                return
            self._begin_detach(rec, force, self.detach_delay)

    def _begin_detach(self, rec, force, delay):
        if rec.state == "attaching":  # Not plugged yet: it never will be.
            rec.handle.cancel()
            rec.state = "gone"
            return
        if rec.state != "attached":
            return
        rec.state = "detaching"
        rec.force = force
        self._releasing.append(rec)
        rec.handle = self._sched.call_later(delay, self._unplug, rec)

    # -- device work (the scheduler thread) ----------------------------------------------

    def _plug(self, rec):
        with self._lock:
            if rec.state != "attaching" or self._stopped:
                return None
            # The volume moving between two instances of this machine: the
            # old device goes first, or both would carry its serial.
            if any(r.volume_id == rec.volume_id for r in self._releasing):
                return 0.1
            try:
                rec.number = self._create(rec.backing_file)
            except OSError as e:
                rec.state, rec.error = "failed", str(e)
                log.error("loopback: could not make a loop device for %s: %s", rec.volume_id, e)
                return None
            rec.state = "attached"
        log.info("loopback: %s is %s (%s)", rec.volume_id, rec.device, rec.backing_file)
        return None

    def _create(self, path):
        control = os.open(LOOP_CONTROL, os.O_RDWR | os.O_CLOEXEC)
        try:
            for number in range(FIRST_LOOP, LAST_LOOP + 1):
                if os.path.exists(f"/dev/loop{number}"):
                    continue
                try:
                    fcntl.ioctl(control, LOOP_CTL_ADD, number)
                except OSError as e:
                    if e.errno == errno.EEXIST:
                        continue
                    raise
                try:
                    self._bind(number, path)
                except OSError as e:
                    if e.errno == errno.EBUSY:
                        # Someone else bound our new device first (losetup -f): leave it to them.
                        log.warning("loopback: loop%d was taken before we bound it; trying another", number)
                        continue
                    self._remove_number(control, number)
                    raise
                return number
        finally:
            os.close(control)
        raise OSError(errno.ENOSPC, f"no free loop number in {FIRST_LOOP}..{LAST_LOOP}")

    @staticmethod
    def _bind(number, path):
        backing = os.open(path, os.O_RDWR | os.O_CLOEXEC)  # never O_CREAT, never O_TRUNC
        try:
            fd = os.open(f"/dev/loop{number}", os.O_RDWR | os.O_CLOEXEC)
            try:
                info = _loop_info64(path)
                try:
                    # struct loop_config: fd, block_size (0: default), loop_info64, reserved[8]
                    fcntl.ioctl(fd, LOOP_CONFIGURE, struct.pack("II", backing, 0) + info + bytes(64))
                except OSError as e:
                    if e.errno not in (errno.EINVAL, errno.ENOTTY):
                        raise
                    fcntl.ioctl(fd, LOOP_SET_FD, backing)  # Kernels before 5.8.
                    fcntl.ioctl(fd, LOOP_SET_STATUS64, info)
            finally:
                os.close(fd)
        finally:
            os.close(backing)

    @staticmethod
    def _remove_number(control, number):
        try:
            fcntl.ioctl(control, LOOP_CTL_REMOVE, number)
            return True
        except OSError as e:
            if e.errno == errno.EBUSY:
                return False
            if e.errno == errno.ENODEV:
                return True
            raise

    def _busy(self, rec):
        """Mounted in our mount namespace, or held by a holder (dm, md)."""
        sysdir = f"/sys/block/loop{rec.number}"
        try:
            if os.listdir(os.path.join(sysdir, "holders")):
                return True
            with open(os.path.join(sysdir, "dev")) as f:
                majmin = f.read().strip()
        except OSError:
            return False
        try:
            with open("/proc/self/mountinfo") as f:
                return any(line.split()[2] == majmin for line in f if line.strip())
        except OSError:
            return False

    def _clear(self, rec):
        """LOOP_CLR_FD: unbinds now when nobody else has it open, else at the last close (lazy)."""
        if rec.cleared:
            return
        try:
            fd = os.open(rec.device, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            rec.cleared = True
            return
        try:
            fcntl.ioctl(fd, LOOP_CLR_FD)
        except OSError as e:
            if e.errno != errno.ENXIO:  # ENXIO: not bound any more.
                raise
        finally:
            os.close(fd)
        rec.cleared = True

    def _unplug(self, rec):
        """One try at removing a detached device; returns the delay of the next try, or None when done."""
        with self._lock:
            if rec.state != "detaching":
                return None
            if not rec.force and not rec.cleared and self._busy(rec):
                if rec.busy_since is None:
                    rec.busy_since = time.monotonic()
                    log.warning("loopback: %s (%s) is busy (mounted?): it stays until it is free",
                                rec.device, rec.volume_id)
                return BUSY_RETRY
            try:
                self._clear(rec)
                control = os.open(LOOP_CONTROL, os.O_RDWR | os.O_CLOEXEC)
                try:
                    removed = self._remove_number(control, rec.number)
                finally:
                    os.close(control)
            except OSError as e:
                log.error("loopback: releasing %s: %s; trying again", rec.device, e)
                return BUSY_RETRY
            if not removed:
                # udevd probes it for a moment; a forced, mounted one waits for the unmount.
                if rec.busy_since is None:
                    rec.busy_since = time.monotonic()
                elif time.monotonic() - rec.busy_since > 2 and not rec.told_busy:
                    rec.told_busy = True
                    log.warning("loopback: %s is still open (mounted?): removed when it is free", rec.device)
                return REMOVE_RETRY if time.monotonic() - rec.busy_since < 2 else BUSY_RETRY
            rec.state = "gone"
            self._releasing.remove(rec)
        log.info("loopback: %s of %s removed", rec.device, rec.volume_id)
        return None

    def _release_all(self):
        """Force-release every device made (stop, reset): wait a little for udevd, then leave what stays busy."""
        with self._lock:
            for rec in list(self._current.values()):
                self._begin_detach(rec, force=True, delay=3600)  # Done right here, not by the timer.
            self._current = {}
            pending = list(self._releasing)
            for rec in pending:
                rec.force = True
                if rec.handle:
                    rec.handle.cancel()
        deadline = time.monotonic() + RELEASE_WAIT
        for rec in pending:
            while True:
                again = self._unplug(rec)
                if again is None:
                    break
                if time.monotonic() > deadline:
                    log.error("loopback: %s (%s) stays: still in use", rec.device, rec.volume_id)
                    with self._lock:
                        rec.state = "gone"
                        if rec in self._releasing:
                            self._releasing.remove(rec)
                    break
                time.sleep(REMOVE_RETRY)

    def describe(self):
        with self._lock:
            return {
                "backend": self.name,
                "volume_dir": self.volume_dir,
                "rules_file": RULES_FILE,
                "volumes": {vid: rec.view() for vid, rec in sorted(self._current.items())},
                "releasing": [rec.view() for rec in self._releasing],
            }
