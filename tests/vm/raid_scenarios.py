"""The VM suite's striped-set scenarios (issue 15): md RAID 0 over hot-plugged NVMe volumes.

The guest kernel has md (this host's has not). The set's steps run as
nodeagent-raid (tests/tools/raid.c: raid_setup(), then fs_setup() on the
array, the members' tags kept in a file on the 9p share) under the real
nodeagent.service unit: the image's /lib/systemd/system/nodeagent.service
with only ExecStart= pointed at the driver and Type=oneshot (no restart,
no watchdog), so mdadm runs with the unit's capabilities, system call
filter and device policy. The members are attached through the fake's EC2
API (AttachVolume), which the QemuBackend turns into NVMe hotplugs with
the volumes' serials; nodeagent.service itself is masked in these guests.

  stripe-node       the node itself (nodeagent.service, user data) with [Volume], [Volume:log] and a
                    3-member [Volume:stripe] Stripe=raid0: all formatted, the array under its stable name
  stripe-replacement  stripe-node's volumes in a new instance: nothing formatted, every mount's data read
                    back; then --status and --detach (the array stopped before its members go)
  raid-members      the driver over stripe-node's members: attached in reverse order (udev's array adopted),
                    assembled by Id= and by Tag= order; listed out of their places -> exit 5; two of three ->
                    exit 5 (partial); over blank sets: a member missing -> exit 4, no array; foreign bytes on a
                    member -> exit 5, every member's bytes unchanged; an array nodeagent did not make -> stopped,
                    exit 5
  raid-crash        the unit SIGKILLed (systemctl kill -s KILL) before each step of creating and assembling,
                    and inside mdadm --create and mkfs (their remains written by hand): every case converges
                    on the next run, formatting once (twice only where mkfs was cut short)
"""

import copy
import os
import shutil
import subprocess
import time

from harness import TestFailure, blkid, copy_sparse, default_world, load_json, make_blank_volume, save_json, say, \
    sha256_file

NODE = "kafka-1"
SECTION = "stripe"
MD_NAME = "kafka-1-stripe"
MD_DEVICE = f"/dev/md/{MD_NAME}"
MOUNT_POINT = "/var/lib/stripe"
MEMBER_SIZE = 256 << 20
DRIVER = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                      "build", "tests", "tools", "nodeagent-raid")
UNIT = "nodeagent-raid.service"
GUEST_BIN = "/run/vmtest/raid/nodeagent-raid"
CMDLINE = ["systemd.mask=nodeagent.service", "systemd.mask=app.service"]


def member_ids(prefix):
    """Three volume ids: vol-0<prefix>...0, vol-0<prefix>...1, vol-0<prefix>...2 (17 hex digits)."""
    return [f"vol-0{prefix}{'0' * (15 - len(prefix))}{i}" for i in range(3)]




def raid_world(volumes):
    w = default_world()
    w["imds"]["user_data"] = ""
    template = w["volumes"]["vol-0123456789abcdef0"]
    for v in volumes:
        w["volumes"][v] = dict(template, size=1, tags={"Name": f"{MD_NAME}-{v[-1]}"}, attachments=[])
    w["delays"].update({"volume_attach": 1, "volume_detach": 1})
    return w


class Raid:
    """One guest's striped-set machinery: the driver unit, attaches, runs and what they printed."""

    def __init__(self, s, vm):
        self.s = s
        self.vm = vm
        self.share = os.path.join(vm.share, "raid")
        os.makedirs(self.share, exist_ok=True)
        shutil.copy2(DRIVER, os.path.join(self.share, "nodeagent-raid"))
        self.runs = 0
        self.out_offset = 0
        self.devices = {}

    def install_unit(self):
        # The real unit, only ExecStart= and the service type changed; the
        # arguments come from an environment file each run rewrites.
        self.vm.run(f"""set -e
mkdir -p /run/systemd/system
sed -e 's|^ExecStart=.*|EnvironmentFile=/run/nodeagent-raid.env\\nExecStart={GUEST_BIN} -v $RAID_ARGS\\nStandardOutput=append:/run/vmtest/raid/out.txt|' \\
    -e 's|^Type=.*|Type=oneshot|' -e '/^WatchdogSec=/d' -e '/^Restart/d' \\
    /lib/systemd/system/nodeagent.service > /run/systemd/system/{UNIT}
systemctl daemon-reload""", check=True)

    # -- EC2 ---------------------------------------------------------------------------------

    def attach(self, volumes, wait=True):
        ec2 = self.s.fake.ec2()
        me = self.s.fake.state()["self"]
        for i, v in enumerate(volumes):
            device = "/dev/sd" + "fghijklmnop"[len(self.devices) % 11]
            ec2.attach_volume(VolumeId=v, InstanceId=me, Device=device)
            self.devices[v] = device
            say(f"AttachVolume {v} as {device}")
        if wait:
            serials = [v.replace("-", "") for v in volumes]
            self.vm.wait(f"{len(volumes)} NVMe disks with serials {serials}",
                         lambda: all(sr in self.vm.run("lsblk -dn -o SERIAL", timeout=30)[1] for sr in serials),
                         60, 1.0)

    def detach(self, volumes):
        ec2 = self.s.fake.ec2()
        for v in volumes:
            ec2.detach_volume(VolumeId=v)
            self.devices.pop(v, None)
        serials = [v.replace("-", "") for v in volumes]
        self.vm.wait("the disks to leave the guest",
                     lambda: not any(sr in self.vm.run("lsblk -dn -o SERIAL", timeout=30)[1] for sr in serials),
                     60, 1.0)

    # -- the driver under the unit --------------------------------------------------------------

    def tags_file(self, name):
        return f"/run/vmtest/raid/tags-{name}.txt"

    def tags_text(self, name):
        path = os.path.join(self.share, f"tags-{name}.txt")
        with open(path) as f:
            return f.read()

    def host_tags(self, name):
        """{volume: {key: value}} from the tags file."""
        tags = {}
        path = os.path.join(self.share, f"tags-{name}.txt")
        if os.path.exists(path):
            with open(path) as f:
                for line in f:
                    vol, _, kv = line.strip().partition(" ")
                    k, _, v = kv.partition("=")
                    tags.setdefault(vol, {})[k] = v
        return tags

    def _start(self, args, block):
        self.runs += 1
        path = os.path.join(self.share, "out.txt")
        self.out_offset = os.path.getsize(path) if os.path.exists(path) else 0
        self.vm.run(f"printf 'RAID_ARGS=%s\\n' '{args}' > /run/nodeagent-raid.env; "
                    f"systemctl reset-failed {UNIT} 2>/dev/null; true", check=True)
        if block:
            self.vm.run(f"systemctl start {UNIT}", timeout=240)
        else:
            self.vm.run(f"systemctl start --no-block {UNIT}", check=True)

    def output(self):
        """What the last run printed (stdout and its log: out.txt keeps every run's), and its exit status."""
        with open(os.path.join(self.share, "out.txt"), errors="replace") as f:
            f.seek(self.out_offset)
            out = f.read()
        status = self.vm.unit(UNIT, "ExecMainStatus")
        return out, int(status or -1)

    def setup(self, volumes, tags="set", extra=""):
        args = f"setup --name {MD_NAME} --tags {self.tags_file(tags)} --mount-point {MOUNT_POINT} {extra} " + \
            " ".join(volumes)
        self._start(args, block=True)
        out, status = self.output()
        say(f"nodeagent-raid {args}: exit {status}\n" + "\n".join("    | " + l for l in out.splitlines()[-40:]))
        return status, out

    def setup_killed(self, volumes, step, tags="set", extra=""):
        """Runs setup paused before step, SIGKILLs the unit there (systemctl kill -s KILL)."""
        pause = f"/run/vmtest/raid/paused-{self.runs + 1}"
        host_pause = os.path.join(self.share, f"paused-{self.runs + 1}")
        args = f"setup --name {MD_NAME} --tags {self.tags_file(tags)} --mount-point {MOUNT_POINT} " \
               f"--pause-at {step} --pause-file {pause} {extra} " + " ".join(volumes)
        self._start(args, block=False)
        self.vm.wait(f"the driver to pause before {step}", lambda: os.path.exists(host_pause), 180, 0.5)
        state = self.vm.unit(UNIT, "ActiveState")
        self.vm.run(f"systemctl kill -s KILL {UNIT}", check=True)
        self.vm.wait(f"{UNIT} to end", lambda: self.vm.unit(UNIT, "ActiveState") in ("failed", "inactive"), 30, 0.5)
        result = self.vm.unit(UNIT, "Result")
        say(f"killed before {step} (unit was {state}, now {result})")
        return state, result

    def stop(self, volumes):
        self._start(f"stop --name {MD_NAME} " + " ".join(volumes), block=True)
        return self.output()

    def umount(self):
        self.vm.run(f"umount {MOUNT_POINT} 2>/dev/null; true")

    # -- what the guest shows --------------------------------------------------------------

    def md_state(self):
        _, out = self.vm.run(f"cat /proc/mdstat; echo; readlink -f {MD_DEVICE} 2>/dev/null; "
                             f"findmnt -n -o SOURCE,FSTYPE {MOUNT_POINT} 2>/dev/null; true", timeout=30)
        return out

    def arrays(self, volumes=None):
        """The md arrays the kernel runs ([name]), or those holding one of volumes."""
        if volumes is None:
            _, out = self.vm.run("ls /sys/block | grep '^md' || true", timeout=30)
            return out.split()
        serials = " ".join(v.replace("-", "") for v in volumes)
        _, out = self.vm.run(f"for s in {serials}; do d=$(lsblk -dn -o NAME,SERIAL | awk -v s=$s '$2==s{{print $1}}'); "
                             f"[ -n \"$d\" ] && ls /sys/class/block/$d/holders; done | sort -u", timeout=30)
        return out.split()

    def clean(self, volumes):
        """Whatever a case left running over volumes: unmounted, stopped (mdadm by hand)."""
        self.umount()
        for md in self.arrays(volumes):
            self.vm.run(f"mdadm --stop /dev/{md}")

    def member_roles(self, volumes):
        """{volume: (array uuid, name, role)} from mdadm --examine in the guest."""
        roles = {}
        for v in volumes:
            _, out = self.vm.run(f"d=$(lsblk -dn -o NAME,SERIAL | awk '$2==\"{v.replace('-', '')}\"{{print $1}}'); "
                                 f"mdadm --examine /dev/$d", timeout=30)
            kv = {}
            for line in out.splitlines():
                k, sep, val = line.partition(" : ")
                if sep:
                    kv[k.strip()] = val.strip()
            role = kv.get("Device Role", "")
            roles[v] = (kv.get("Array UUID"), kv.get("Name"),
                        int(role.rsplit(" ", 1)[1]) if role.startswith("Active device") else None)
        return roles


def fields(out):
    """The driver's key value lines."""
    got = {}
    for line in out.splitlines():
        k, _, v = line.partition(" ")
        if k in ("device", "uuid", "outcome", "filesystem", "formatted", "error", "stopped"):
            got[k] = v.strip()
    return got


def count_lines(out, text):
    return sum(1 for l in out.splitlines() if text in l)


def unit_clean(c, raid, what):
    """The driver's runs under the unit met no sandbox refusal."""
    _, journal = raid.vm.run(f"journalctl -b --no-pager -o cat -u {UNIT}", timeout=60)
    bad = [l for l in journal.splitlines()
           if "Operation not permitted" in l or "Permission denied" in l or "unexpected failure" in l]
    c.check(not bad, f"{what}: no EPERM/EACCES from mdadm or the driver under nodeagent.service's sandbox", bad[:5])


def start(s, name, volumes, world_extra=None):
    world = raid_world(volumes)
    if world_extra:
        world_extra(world)
    s.start_fake(world)
    vm = s.vm(name, world, cmdline=CMDLINE)
    # Many runs of the driver (kill points, several sets) in one guest, a
    # few boots' worth of work: twice the bound, as a manager scenario's.
    vm.bound *= 2
    vm.deadline += vm.bound / 2
    vm.wait_up()
    vm.wait_boot_settled()
    raid = Raid(s, vm)
    raid.install_unit()
    return world, vm, raid


# -- raid-members: the driver over stripe-node's members, and over blank sets --------------------

SET_B = member_ids("b")
SET_C = member_ids("c")


def raid_members(s, shared):
    """stripe-node's array found again in every way a boot can find it, then every refusal."""
    src = os.path.join(shared, "stripe-node-world.json")
    if not os.path.exists(src):
        raise TestFailure("needs what a passing stripe-node leaves (run it first)")
    node = load_json(os.path.join(shared, "stripe-node.json"))
    before = load_json(src)
    for v in STRIPE:
        copy_sparse(os.path.join(shared, f"stripe-node-{v}.img"), s.volume(v))
    for v in SET_B + SET_C:
        make_blank_volume(s.volume(v), MEMBER_SIZE)
    world, vm, raid = start(s, "vmr1", STRIPE + SET_B + SET_C)
    # The members' tags as stripe-node left them in EC2.
    with open(os.path.join(raid.share, "tags-set.txt"), "w") as f:
        for v in STRIPE:
            for k, val in before["volumes"][v]["tags"].items():
                f.write(f"{v} {k}={val}\n")
    tags_before = raid.tags_text("set")
    c = s.checks

    # 1. Attached one by one in reverse order: udev assembles the array as the last arrives; adopted.
    for v in reversed(STRIPE):
        raid.attach([v])
    vm.wait("udev to assemble the array (mdadm --incremental)", lambda: "active raid0" in raid.md_state(), 60, 1.0)
    status, out = raid.setup(STRIPE)
    got = fields(out)
    c.eq((status, got.get("device"), got.get("uuid"), got.get("outcome"), got.get("formatted")),
         (0, MD_DEVICE, node["uuid"], "adopted", "no"),
         "members attached in reverse order: udev's array adopted under the stable name, nothing formatted")
    _, data = vm.run(f"cat {MOUNT_POINT}/node-data", timeout=30)
    c.eq(data.strip(), "first node, stripe", "the node's data read back through the array")
    c.eq(raid.tags_text("set"), tags_before, "no tag written (every member already initialised)")

    # 2. Assembled by the driver itself (no udev array), in Id= order, then in Tag= order.
    for label, ids, extra in (("Id= order", STRIPE, ""), ("Tag= order", [STRIPE[2], STRIPE[0], STRIPE[1]], "--by-tag")):
        raid.umount()
        raid.stop(STRIPE)
        c.eq(raid.arrays(STRIPE), [], f"{label}: array stopped")
        status, out = raid.setup(ids, extra=extra)
        got = fields(out)
        c.eq((status, got.get("outcome"), got.get("uuid"), got.get("formatted")),
             (0, "assembled", node["uuid"], "no"), f"{label}: mdadm --assemble --uuid from exactly the members")
        _, data = vm.run(f"cat {MOUNT_POINT}/node-data", timeout=30)
        c.eq(data.strip(), "first node, stripe", f"{label}: data read back")
    c.eq([r[2] for r in raid.member_roles(STRIPE).values()], [0, 1, 2], "the members kept their places")

    # 3. Listed in another order than their places: refused, udev's array stopped.
    raid.umount()
    raid.stop(STRIPE)
    raid.detach(STRIPE)
    raid.attach(STRIPE)
    vm.wait("udev to assemble the array again", lambda: "active raid0" in raid.md_state(), 60, 1.0)
    status, out = raid.setup([STRIPE[1], STRIPE[0], STRIPE[2]])
    c.eq(status, 5, "members listed in another order than their places: exit 5")
    c.check("another order" in out, "the refusal names the member out of place", out[-2000:])
    c.check(vm.run(f"findmnt {MOUNT_POINT}")[0] != 0, "nothing mounted")
    c.eq(raid.arrays(STRIPE), [], "the array udev assembled, refused, was stopped")
    raid.clean(STRIPE)

    # 4. Two of its three members: a partial set; udev gathers them in an inactive array.
    raid.detach(STRIPE)
    raid.attach(STRIPE[:2])
    vm.wait("udev to gather the two members (inactive)", lambda: "inactive" in raid.md_state(), 60, 1.0)
    status, out = raid.setup(STRIPE[:2])
    c.eq(status, 5, "two members of a three-member array: exit 5 (partial)")
    c.check("only part of an array" in out, "the refusal says the set is partial", out[-2000:])
    c.eq(raid.arrays(STRIPE), [], "the inactive array udev gathered from the two was stopped")
    raid.clean(STRIPE)
    raid.detach(STRIPE[:2])

    # 5. A member missing: all or nothing.
    raid.attach(SET_B[:2])
    digests = {v: sha256_file(s.volume(v)) for v in SET_B}
    status, out = raid.setup(SET_B, tags="b", extra="--wait 5s")
    c.eq(status, 4, "one member missing: exit 4")
    c.eq(raid.arrays(SET_B), [], "one member missing: no array created")
    c.eq({v: sha256_file(s.volume(v)) for v in SET_B}, digests, "one member missing: no member's bytes changed")

    # 6. Foreign bytes on one member (written before it is attached), where a
    # program's data starts: no signature blkid knows, but not zeros.
    with open(s.volume(SET_B[2]), "r+b") as f:
        f.seek(256 << 10)
        f.write(os.urandom(256 << 10))
    digests = {v: sha256_file(s.volume(v)) for v in SET_B}
    raid.attach(SET_B[2:])
    status, out = raid.setup(SET_B, tags="b")
    c.eq(status, 5, "a member with foreign data: exit 5")
    c.check("raw data" in out, "the refusal names the member's raw data", out[-2000:])
    c.eq(raid.arrays(SET_B), [], "a member with foreign data: no array created")
    c.eq({v: sha256_file(s.volume(v)) for v in SET_B}, digests, "a member with foreign data: every member's "
         "bytes unchanged")
    raid.clean(SET_B)
    raid.detach(SET_B)

    # 7. An array nodeagent did not make (another tool's, on blank volumes),
    # running: the driver stops it and refuses.
    raid.attach(SET_C)
    vm.run(f"mdadm --create /dev/md/other --run --level=0 --raid-devices=3 --metadata=1.2 --name=other "
           f"$(for s in {' '.join(v.replace('-', '') for v in SET_C)}; do "
           f"echo /dev/$(lsblk -dn -o NAME,SERIAL | awk -v s=$s '$2==s{{print $1}}'); done) && udevadm settle",
           check=True)
    status, out = raid.setup(SET_C, tags="c")
    c.eq(status, 5, "another array on the members: exit 5")
    c.check("did not make" in out, "the refusal says the array is not nodeagent's", out[-2000:])
    c.eq(raid.arrays(SET_C), [], "the other array, which held the members, was stopped")
    unit_clean(c, raid, "members")
    vm.collect()
    vm.poweroff()


# -- raid-crash -----------------------------------------------------------------------------------

# Volume ids are hex: the sets are named by a hex digit.
CRASH_SETS = {"d": member_ids("d"), "e": member_ids("e"), "f": member_ids("f"), "9": member_ids("9"),
              "8": member_ids("8")}


def mkfs_lines(out):
    return count_lines(out, "creating an ext4 filesystem") + count_lines(out, "creating the ext4 filesystem again")


def converge(c, raid, ids, tags, label, expect_formatted):
    status, out = raid.setup(ids, tags=tags)
    got = fields(out)
    c.eq((status, got.get("device")), (0, MD_DEVICE), f"{label}: the next run converges ({MD_DEVICE})")
    if expect_formatted is not None:
        c.eq(got.get("formatted"), "yes" if expect_formatted else "no",
             f"{label}: the next run {'formats' if expect_formatted else 'formats nothing'}")
    t = raid.host_tags(tags)
    c.check(all(t.get(v, {}).get("nodeagent:initialized") == got.get("uuid") for v in ids),
            f"{label}: every member tagged with the array's UUID", t)
    rc, _ = raid.vm.run(f"umount {MOUNT_POINT} && e2fsck -fn {MD_DEVICE}", timeout=120)
    c.eq(rc, 0, f"{label}: the filesystem on the array checks clean")
    return got, out


def crash_case(c, raid, ids, tags, step, label, outcome, between=None, expect_formatted=True):
    """Attach a blank set, kill the driver before step, maybe leave what a kill inside a program would
    (between), then the next run: outcome (created: mdadm --create ran then; adopted: the array the killed
    run made was running) and whether it formatted. The killed runs stop before any mkfs, so a set is
    formatted once in all, or (expect_formatted) by the run that converges."""
    raid.attach(ids)
    state, result = raid.setup_killed(ids, step, tags=tags)
    c.eq((state, result), ("activating", "signal"), f"{label}: SIGKILLed while the unit was starting")
    if between:
        between()
    got, out = converge(c, raid, ids, tags, label, expect_formatted)
    c.eq(got.get("outcome"), outcome, f"{label}: the next run's array was {outcome}")
    return got


def finish_case(raid, ids):
    raid.umount()
    raid.stop(ids)
    raid.detach(ids)


def raid_crash(s, shared):
    all_ids = [v for ids in CRASH_SETS.values() for v in ids]
    for v in all_ids:
        make_blank_volume(s.volume(v), MEMBER_SIZE)
    world, vm, raid = start(s, "vmr4", all_ids)
    c = s.checks

    def guest_devs(ids):
        return " ".join(f"/dev/$(lsblk -dn -o NAME,SERIAL | awk -v s={v.replace('-', '')} '$2==s{{print $1}}')"
                        for v in ids)

    # 1. Before mdadm --create (the format-started tags are written).
    ids = CRASH_SETS["d"]
    crash_case(c, raid, ids, "d", "create", "killed before mdadm --create", "created")
    finish_case(raid, ids)

    # 2. Inside mdadm --create: superblocks on two members of three, no array running.
    ids = CRASH_SETS["e"]

    def half_created():
        # udevadm settle: the change events of mdadm's own closes must not
        # start udev's mdadm --incremental after the stop.
        vm.run(f"mdadm --create {MD_DEVICE} --run --level=0 --raid-devices=3 --metadata=1.2 --homehost=any "
               f"--name={MD_NAME} {guest_devs(ids)} && udevadm settle && mdadm --stop {MD_DEVICE} && "
               f"udevadm settle && mdadm --zero-superblock {guest_devs(ids[1:2])} && udevadm settle", check=True)
    crash_case(c, raid, ids, "e", "create", "killed inside mdadm --create", "created", between=half_created)
    finish_case(raid, ids)

    # 3. After mdadm --create, before mkfs: the array runs, blank.
    ids = CRASH_SETS["f"]
    crash_case(c, raid, ids, "f", "mkfs", "killed between mdadm --create and mkfs", "adopted")
    finish_case(raid, ids)

    # 4. Inside mkfs: its blocks half written, no superblock yet.

    ids = CRASH_SETS["9"]

    def half_formatted():
        # What a killed mke2fs leaves: its blocks here and there, no superblock yet.
        vm.run(f"dd if=/dev/urandom of={MD_DEVICE} bs=1M seek=64 count=4 conv=notrunc status=none && "
               f"dd if=/dev/urandom of={MD_DEVICE} bs=1M seek=400 count=4 conv=notrunc status=none && sync",
               check=True)
    crash_case(c, raid, ids, "9", "mkfs", "killed inside mkfs", "adopted", between=half_formatted)
    finish_case(raid, ids)

    # 5. After the mount, before the initialized tag; then the assembly's kill points on the same set.
    ids = CRASH_SETS["8"]
    got = crash_case(c, raid, ids, "8", "tag", "killed between mount and the initialized tag", "adopted",
                     expect_formatted=False)
    vm.run(f"mount {MD_DEVICE} {MOUNT_POINT} && echo kept > {MOUNT_POINT}/data && umount {MOUNT_POINT}",
           check=True)
    for step, label in (("assemble", "killed before mdadm --assemble"),
                        ("fs", "killed after the assembly, before fsck and mount")):
        raid.stop(ids)
        state, result = raid.setup_killed(ids, step, tags="8")
        c.eq((state, result), ("activating", "signal"), f"{label}: SIGKILLed while the unit was starting")
        g2, _ = converge(c, raid, ids, "8", label, False)
        c.eq(g2.get("uuid"), got.get("uuid"), f"{label}: the same array")
        vm.run(f"mount {MD_DEVICE} {MOUNT_POINT}")
        c.eq(vm.run(f"cat {MOUNT_POINT}/data")[1].strip(), "kept", f"{label}: the data is intact")
        raid.umount()
    unit_clean(c, raid, "kill points")
    vm.collect()
    vm.poweroff()


# -- the node: [Volume] + [Volume:log] + a striped [Volume:stripe], by nodeagent itself ------------

LOG = "vol-01111111111111111"
STRIPE = member_ids("5")
MOUNTS = {"data": "/var/lib/kafka", "log": "/var/lib/kafka-log", "stripe": "/var/lib/kafka-stripe"}
NODE_REPLACEMENT = "i-0ccccccccccccccc0"


def node_user_data():
    return f"""#nodeagent
[Node]
Name={NODE}
Timeout=10min

[Volume]
Id={S.VOLUME}
MountPoint={MOUNTS["data"]}

[Volume:log]
Id={LOG}
MountPoint={MOUNTS["log"]}

[Volume:stripe]
Id={" ".join(STRIPE)}
Stripe=raid0
MountPoint={MOUNTS["stripe"]}

[Interface]
Id={S.ENI}

[DNS]
HostedZoneId={S.ZONE}
Name={S.RECORD}
"""


def node_world():
    w = S.base_world()
    w["imds"]["user_data"] = node_user_data()
    template = w["volumes"][S.VOLUME]
    for v in [LOG] + STRIPE:
        w["volumes"][v] = dict(template, size=1, tags={"Name": f"{NODE}-{v[-3:]}"}, attachments=[])
    return w


def examine_image(path):
    """mdadm --examine of a member image, on this host (no kernel md needed): {key: value}."""
    proc = subprocess.run(["mdadm", "--examine", path], capture_output=True, text=True)
    kv = {}
    for line in proc.stdout.splitlines():
        k, sep, v = line.partition(" : ")
        if sep:
            kv[k.strip()] = v.strip()
    return kv


def array_uuid_of(path):
    u = examine_image(path).get("Array UUID", "").replace(":", "")
    return f"{u[:8]}-{u[8:12]}-{u[12:16]}-{u[16:20]}-{u[20:]}" if len(u) == 32 else None


def ready_seconds(vm):
    """From the start of nodeagent.service to its READY (monotonic timestamps)."""
    agent = vm.units().get("nodeagent.service", {})
    start = int(agent.get("InactiveExitTimestampMonotonic") or 0)
    ready = int(agent.get("ActiveEnterTimestampMonotonic") or 0)
    return (ready - start) / 1e6 if start and ready else None


def judge_sections(c, s, vm, world, label):
    """[Volume:log] and the set, beside what judge_node() checks of [Volume]."""
    env = vm.state_env()
    mounts = {m[0]: m for m in vm.mounts()}
    lsblk = {d["name"]: d for d in (vm.out_json("lsblk.json") or {}).get("blockdevices", [])}
    log_dev = env.get("NODEAGENT_VOLUME_LOG_DEVICE", "")
    nvme = [n for n, d in lsblk.items() if (d.get("serial") or "").strip() == LOG.replace("-", "")]
    c.check(nvme and log_dev == f"/dev/{nvme[0]}" and env.get("NODEAGENT_VOLUME_LOG_ID") == LOG and
            env.get("NODEAGENT_VOLUME_LOG_MOUNT_POINT") == MOUNTS["log"],
            f"{label}: the state's [Volume:log] keys: its NVMe disk, id, mount point", env)
    c.check(mounts.get(MOUNTS["log"], (None, None, None))[1:] == (log_dev, "ext4"),
            f"{label}: {MOUNTS['log']} is mounted from the log volume, ext4", mounts.get(MOUNTS["log"]))
    c.eq((env.get("NODEAGENT_VOLUME_STRIPE_DEVICE"), env.get("NODEAGENT_VOLUME_STRIPE_ID"),
          env.get("NODEAGENT_VOLUME_STRIPE_MOUNT_POINT")),
         (f"/dev/md/{NODE}-stripe", " ".join(STRIPE), MOUNTS["stripe"]),
         f"{label}: the state's set keys: /dev/md/{NODE}-stripe (the stable name), every member's id")
    m = mounts.get(MOUNTS["stripe"], (None, "", None))
    c.check(m[1].startswith("/dev/md") and m[2] == "ext4", f"{label}: {MOUNTS['stripe']} is mounted from the "
            f"md array, ext4", m)
    uuid = array_uuid_of(s.volume(STRIPE[0]))
    roles = [examine_image(s.volume(v)).get("Device Role") for v in STRIPE]
    c.eq(roles, [f"Active device {i}" for i in range(3)], f"{label}: each member in its Id= place (mdadm "
         f"--examine on this host)")
    c.eq({v: world["volumes"][v]["tags"].get(S.INIT_TAG) for v in STRIPE}, {v: uuid for v in STRIPE},
         f"{label}: every member tagged {S.INIT_TAG}=<the array's UUID>")
    c.check(all(S.FORMAT_TAG in world["volumes"][v]["tags"] for v in STRIPE),
            f"{label}: every member tagged {S.FORMAT_TAG} (before mdadm --create)", world["volumes"][STRIPE[0]])
    log_fs = blkid(s.volume(LOG)).get("UUID")
    c.check(log_fs and world["volumes"][LOG]["tags"].get(S.INIT_TAG) == log_fs,
            f"{label}: the log volume tagged {S.INIT_TAG}=<its filesystem's UUID>", world["volumes"][LOG]["tags"])
    return uuid, log_fs


def stripe_node(s, shared):
    make_blank_volume(s.volume(S.VOLUME), S.VOLUME_SIZE)
    for v in [LOG] + STRIPE:
        make_blank_volume(s.volume(v), MEMBER_SIZE)
    world = node_world()
    s.start_fake(world)
    vm = s.vm("vmn1", world)
    vm.wait_up()
    vm.wait_boot_settled()
    vm.run(" && ".join(f"echo 'first node, {k}' > {p}/node-data" for k, p in MOUNTS.items()) + " && sync",
           check=True)
    final = S.finish_vm(s, vm)
    c = s.checks
    S.judge_node(c, s, vm, final, world["self"])
    uuid, log_fs = judge_sections(c, s, vm, final, "first boot")
    phases = vm.state_env().get("NODEAGENT_BOOT_PHASES", "")
    c.check("volume:stripe.array=" in phases, "the set's array is a phase of its own in NODEAGENT_BOOT_PHASES",
            phases)
    c.note(f"time to READY with [Volume], [Volume:log] and a 3-member set (first boot, TCG): "
           f"{ready_seconds(vm)}s; phases: {phases}")
    reqs = s.fake.requests()
    c.eq(S.count(reqs, "AttachVolume"), 5, "five AttachVolume (data, log, three members)")
    if c.passed:
        for v in [S.VOLUME, LOG] + STRIPE:
            copy_sparse(s.volume(v), os.path.join(shared, f"stripe-node-{v}.img"))
        save_json(os.path.join(shared, "stripe-node-world.json"), final)
        save_json(os.path.join(shared, "stripe-node.json"), {"uuid": uuid, "log": log_fs})


def replaced_world(before, new_instance):
    """The world after Auto Scaling replaced the node's instance: the old one terminated, EC2 let go of
    every volume and the ENI; the new one with a primary ENI of its own (as scenarios.replacement)."""
    old = before["self"]
    world = copy.deepcopy(before)
    world["instances"][old]["state"] = "terminated"
    for v in world["volumes"].values():
        v["attachments"] = []
    world["network_interfaces"][S.ENI]["attachment"] = None
    world["network_interfaces"].pop(world["instances"][old]["primary_eni"], None)
    world["instances"][old]["primary_eni"] = None
    eni = "eni-0ccccccccccccccc0"
    world["instances"][new_instance] = dict(copy.deepcopy(before["instances"][old]), state="running",
                                            primary_eni=eni, launch_time=int(time.time()),
                                            reservation_id="r-0ccccccccccccccc0")
    world["network_interfaces"][eni] = dict(
        copy.deepcopy(default_world()["network_interfaces"]["eni-0aaaaaaaaaaaaaaa0"]),
        mac_address="02:00:00:00:01:07", private_ip_address="10.0.1.7")
    world["network_interfaces"][eni]["attachment"].update(attachment_id="eni-attach-0ccccccccccccccc0",
                                                          instance_id=new_instance)
    world["self"] = new_instance
    world["imds"]["current_key"] = None
    return world


def stripe_replacement(s, shared):
    src = os.path.join(shared, "stripe-node-world.json")
    if not os.path.exists(src):
        raise TestFailure("needs what a passing stripe-node leaves (run it first)")
    before = load_json(src)
    ids = load_json(os.path.join(shared, "stripe-node.json"))
    for v in [S.VOLUME, LOG] + STRIPE:
        copy_sparse(os.path.join(shared, f"stripe-node-{v}.img"), s.volume(v))
    data_fs = blkid(s.volume(S.VOLUME)).get("UUID")
    world = replaced_world(before, NODE_REPLACEMENT)
    s.start_fake(world)
    vm = s.vm("vmn2", world)
    vm.wait_up()
    vm.wait_boot_settled()
    _, data = vm.run(" ; ".join(f"cat {p}/node-data" for p in MOUNTS.values()), timeout=30)
    _, status = vm.run(f"AWS_ENDPOINT_URL={S.API_URL} timeout 100 nodeagent --status", timeout=120)
    vm.collect()
    final = s.fake.state()
    save_json(os.path.join(s.work, "world-vmn2.json"), final)
    # The node taken out of service by hand: the array is stopped before its members are detached.
    vm.run("systemctl stop app.service nodeagent.service", timeout=120)
    rc, detach = vm.run(f"AWS_ENDPOINT_URL={S.API_URL} timeout 150 nodeagent --detach", timeout=170)
    say(f"nodeagent --detach: exit {rc}\n{detach}")
    serials = [v.replace("-", "") for v in STRIPE]
    vm.wait("the members to leave the guest",
            lambda: not any(sr in vm.run("lsblk -dn -o SERIAL", timeout=30)[1] for sr in serials), 90, 1.0)
    _, mdstat = vm.run("ls /sys/block | grep ^md || true", timeout=30)
    after = s.fake.state()
    vm.poweroff()
    c = s.checks
    c.check(f"md array /dev/md/{NODE}-stripe" in status and "mounted at" in status,
            "nodeagent --status shows the set's array and its mount", status)
    c.eq(rc, 0, "nodeagent --detach exits 0 with the array running and mounted")
    c.eq(mdstat.split(), [], "--detach stopped the array (before its members were detached)")
    c.eq({v: after["volumes"][v].get("attachments") for v in STRIPE}, {v: [] for v in STRIPE},
         "--detach detached every member")
    S.judge_node(c, s, vm, final, NODE_REPLACEMENT)
    uuid, log_fs = judge_sections(c, s, vm, final, "replacement")
    c.eq(data.split("\n")[:3], [f"first node, {k}" for k in MOUNTS], "the first node's data is read back from "
         "the data mount, the log mount and the array")
    c.eq((blkid(s.volume(S.VOLUME)).get("UUID"), log_fs, uuid), (data_fs, ids["log"], ids["uuid"]),
         "nothing formatted: the data and log filesystems and the array are the first node's (UUIDs)")
    c.eq(S.count(s.fake.requests(), "CreateTags", ok=None), 0, "no tag written (everything initialised)")
    lines = [S.message_of(e) for e in vm.unit_journal() if "array" in S.message_of(e) and "kafka-1-stripe" in
             S.message_of(e)]
    c.check(any("using it" in l or "(adopted)" in l or "(assembled)" in l for l in lines),
            "the array was assembled (or adopted from udev) under its stable name, not created", lines[-6:])
    c.note(f"time to READY of the replacement: {ready_seconds(vm)}s; "
           f"phases: {vm.state_env().get('NODEAGENT_BOOT_PHASES', '')}")


S = None


def register(scenario, base):
    """base: the scenarios module (its world, judgements and constants)."""
    global S
    S = base
    scenario("raid-members")(raid_members)
    scenario("raid-crash")(raid_crash)
    scenario("stripe-node")(stripe_node)
    scenario("stripe-replacement")(stripe_replacement)
