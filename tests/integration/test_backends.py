"""The fake's device backends against the real kernel: loop devices with udev, veth pairs in namespaces.

Run as root: /usr/bin/python3 -m pytest tests/integration/test_backends.py

LoopBackend: AttachVolume -> a new /dev/loopN whose udev properties carry
the volume's serial, backed by the test's image; DetachVolume -> gone.
VethBackend: with the fake in the agent's namespace, AttachNetworkInterface
-> a link with the ENI's MAC there, its peer with the subnet's router
address in the VPC namespace; DetachNetworkInterface -> gone.
Every test removes what it made (devices, namespaces, files) also on failure.
"""

import fcntl
import json
import os
import shutil
import subprocess
import sys
import time

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fakeaws"))

from botocore.exceptions import ClientError  # noqa: E402
from client import FakeAws, FakeAwsError  # noqa: E402

INSTANCE = "i-0123456789abcdef0"
VOLUME = "vol-0123456789abcdef0"
SERIAL = "vol0123456789abcdef0"
ENI = "eni-0123456789abcdef0"
ENI_MAC = "02:00:00:00:01:10"
RULES_FILE = "/run/udev/rules.d/99-nodeagent-fakeaws.rules"
IMAGE_SIZE = 64 * 1024 * 1024

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root: loop devices, udev rules, network namespaces"),
    pytest.mark.skipif(not os.path.exists("/dev/loop-control"), reason="no /dev/loop-control (loop module)"),
    pytest.mark.skipif(shutil.which("ip") is None, reason="needs iproute2 (ip)"),
]


def wait_for(what, predicate, timeout=3.0, interval=0.02):
    """Poll predicate() until it returns something true; fail naming what after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"not within {timeout}s: {what}")
        time.sleep(interval)


def run(*cmd, check=True):
    return subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, check=check)


def udev_events(monitor_output, devname):
    """[(ACTION, properties)] of one device from `udevadm monitor --udev --property` output."""
    events = []
    for block in monitor_output.split("\n\n"):
        props = dict(line.split("=", 1) for line in block.splitlines() if "=" in line and not line.startswith(" "))
        if props.get("DEVNAME") == devname:
            events.append((props.get("ACTION"), props))
    return events


def udev_properties(device):
    out = run("udevadm", "info", "--query=property", f"--name={device}", check=False).stdout
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


# -- loop devices -------------------------------------------------------------------------------

def release_leftover_loops(folder):
    """Safety net for a fake that was killed before it released: loop devices backed by files in folder."""
    left = []
    for name in os.listdir("/sys/block"):
        try:
            with open(f"/sys/block/{name}/loop/backing_file") as f:
                backing = f.read().strip()
        except OSError:
            continue
        if backing.startswith(str(folder) + "/"):
            left.append(name)
            run("losetup", "-d", f"/dev/{name}", check=False)
            number = int(name[len("loop"):])
            control = os.open("/dev/loop-control", os.O_RDWR | os.O_CLOEXEC)
            try:
                for _ in range(50):
                    try:
                        fcntl.ioctl(control, 0x4C81, number)  # LOOP_CTL_REMOVE
                        break
                    except OSError:
                        time.sleep(0.05)
            finally:
                os.close(control)
    return left


@pytest.fixture
def volume_dir(tmp_path):
    """A folder with a sparse 64 MiB image for vol-0123456789abcdef0."""
    image = tmp_path / f"{SERIAL}.img"
    with open(image, "wb") as f:
        f.truncate(IMAGE_SIZE)
    return tmp_path


@pytest.fixture
def loop_fake(udevd, volume_dir):
    """A fake with the loop backend; stops it (releasing its devices) whatever happens."""
    fakes = []

    def start(**opts):
        f = FakeAws(backend="loopback:LoopBackend", backend_opts={"volume_dir": str(volume_dir), **opts})
        f.start()
        fakes.append(f)
        return f

    yield start
    for f in fakes:
        f.stop()
    assert release_leftover_loops(volume_dir) == [], "the fake left loop devices behind"


def volume_device(fake, volume=VOLUME, timeout=3.0):
    """The loop device the backend made for volume, once attached."""
    def attached():
        entry = fake.backend_state()["volumes"].get(volume)
        return entry["device"] if entry and entry["state"] == "attached" else None
    return wait_for(f"{volume} has a loop device", attached, timeout)


def test_loop_attach_makes_a_device_with_the_serial_and_detach_removes_it(loop_fake, volume_dir):
    rule_was_there = os.path.exists(RULES_FILE)
    fake = loop_fake()
    assert os.path.exists(RULES_FILE)
    ec2 = fake.botocore_client("ec2")
    image = str(volume_dir / f"{SERIAL}.img")

    monitor = subprocess.Popen(["udevadm", "monitor", "--udev", "--property", "--subsystem-match=block"],
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        time.sleep(0.3)  # Listening before the attach.
        device, number = attach_check_and_detach(fake, ec2, image)
        time.sleep(0.3)  # The last events out.
    finally:
        monitor.terminate()
        output = monitor.communicate(timeout=10)[0]
    events = udev_events(output, device)
    actions = [action for action, _ in events]
    assert actions[0] == "add" and actions[-1] == "remove", actions
    assert any(props.get("ID_SERIAL_SHORT") == SERIAL for _, props in events), events
    assert os.path.getsize(image) == IMAGE_SIZE

    assert fake.stop() == 0
    assert os.path.exists(RULES_FILE) == rule_was_there


def attach_check_and_detach(fake, ec2, image):
    started = time.monotonic()
    assert ec2.attach_volume(VolumeId=VOLUME, InstanceId=INSTANCE, Device="/dev/sdf")["State"] == "attaching"
    device = volume_device(fake)
    number = int(device[len("/dev/loop"):])
    assert number >= 64
    assert time.monotonic() - started < 2.0
    # udev's part: 2 s more at most (it is well under 1 s on an idle machine;
    # other suites running beside this one can slow udevd down).
    props = wait_for(f"{device} has ID_SERIAL_SHORT", lambda: (
        (p := udev_properties(device)).get("ID_SERIAL_SHORT") and p), timeout=2.0)
    assert props["ID_SERIAL_SHORT"] == SERIAL
    assert props["DEVTYPE"] == "disk"
    with open(f"/sys/block/loop{number}/loop/backing_file") as f:
        assert f.read().strip() == image
    with open(f"/sys/block/loop{number}/loop/autoclear") as f:
        assert f.read().strip() == "0"
    with open(f"/sys/block/loop{number}/size") as f:
        assert int(f.read()) * 512 == IMAGE_SIZE
    assert os.path.getsize(image) == IMAGE_SIZE  # Never truncated or grown.

    # Bytes written to the device land in the image.
    data = os.urandom(4096)
    fd = os.open(device, os.O_RDWR | os.O_CLOEXEC)
    try:
        os.pwrite(fd, data, 1024 * 1024)
        os.fsync(fd)
    finally:
        os.close(fd)
    with open(image, "rb") as f:
        f.seek(1024 * 1024)
        assert f.read(4096) == data

    ec2.detach_volume(VolumeId=VOLUME)
    wait_for(f"{device} is gone", lambda: not os.path.exists(device) and not os.path.exists(f"/sys/block/loop{number}"))
    assert fake.backend_state()["volumes"] == {}
    assert fake.backend_state()["releasing"] == []
    return device, number


def test_loop_stop_releases_every_device(loop_fake, volume_dir):
    other = "vol-0aaaaaaaaaaaaaaa1"
    with open(volume_dir / "vol0aaaaaaaaaaaaaaa1.img", "wb") as f:
        f.truncate(IMAGE_SIZE)
    fake = loop_fake()
    fake.merge_state({"volumes": {other: {"size": 1, "availability_zone": "us-east-1a", "attachments": []}}})
    ec2 = fake.botocore_client("ec2")
    ec2.attach_volume(VolumeId=VOLUME, InstanceId=INSTANCE, Device="/dev/sdf")
    ec2.attach_volume(VolumeId=other, InstanceId=INSTANCE, Device="/dev/sdg")
    devices = [volume_device(fake, VOLUME), volume_device(fake, other)]
    assert len(set(devices)) == 2
    props = wait_for("both serials", lambda: [udev_properties(d).get("ID_SERIAL_SHORT") for d in devices]
                     if all(udev_properties(d).get("ID_SERIAL_SHORT") for d in devices) else None)
    assert props == [SERIAL, "vol0aaaaaaaaaaaaaaa1"]
    assert fake.stop() == 0
    for d in devices:
        assert not os.path.exists(d)
    assert sorted(os.listdir(volume_dir)) == [f"{SERIAL}.img", "vol0aaaaaaaaaaaaaaa1.img"]


def test_loop_reset_releases_devices(loop_fake):
    fake = loop_fake()
    ec2 = fake.botocore_client("ec2")
    ec2.attach_volume(VolumeId=VOLUME, InstanceId=INSTANCE, Device="/dev/sdf")
    device = volume_device(fake)
    fake.reset()
    assert not os.path.exists(device)
    assert fake.backend_state()["volumes"] == {}
    # The world is back to "available": attach again, a new device.
    ec2.attach_volume(VolumeId=VOLUME, InstanceId=INSTANCE, Device="/dev/sdf")
    assert os.path.exists(volume_device(fake))


def test_loop_device_appears_after_the_delay_and_not_when_detached_before(loop_fake):
    fake = loop_fake(device_delay=1.5)
    ec2 = fake.botocore_client("ec2")
    ec2.attach_volume(VolumeId=VOLUME, InstanceId=INSTANCE, Device="/dev/sdf")
    time.sleep(0.2)
    entry = fake.backend_state()["volumes"][VOLUME]
    assert (entry["state"], entry["device"]) == ("attaching", None)
    ec2.detach_volume(VolumeId=VOLUME, Force=True)
    time.sleep(1.8)
    state = fake.backend_state()
    assert (state["volumes"], state["releasing"]) == ({}, [])
    log = open(fake.log).read()
    assert "is /dev/loop" not in log


def test_loop_attach_to_another_instance_makes_no_device(loop_fake):
    fake = loop_fake()
    other = "i-0bbbbbbbbbbbbbbb2"
    fake.merge_state({"instances": {other: {"state": "running", "availability_zone": "us-east-1a"}}})
    fake.botocore_client("ec2").attach_volume(VolumeId=VOLUME, InstanceId=other, Device="/dev/sdf")
    time.sleep(0.5)
    assert fake.backend_state()["volumes"] == {}


def test_loop_missing_backing_file_is_an_internal_error(loop_fake, volume_dir):
    os.unlink(volume_dir / f"{SERIAL}.img")
    fake = loop_fake()
    with pytest.raises(ClientError) as info:
        fake.botocore_client("ec2").attach_volume(VolumeId=VOLUME, InstanceId=INSTANCE, Device="/dev/sdf")
    err = info.value.response
    assert err["Error"]["Code"] == "InternalError" and err["ResponseMetadata"]["HTTPStatusCode"] == 500
    assert "no backing file" in err["Error"]["Message"]
    assert fake.backend_state()["volumes"] == {}
    assert not os.path.exists(volume_dir / f"{SERIAL}.img")  # Never created.


def test_loop_backend_refuses_to_start_without_volume_dir(udevd):
    with pytest.raises(FakeAwsError, match="volume_dir"):
        FakeAws(backend="loopback:LoopBackend").start()


@pytest.fixture
def mountpoint(tmp_path):
    path = tmp_path / "mnt"
    path.mkdir()
    yield str(path)
    if os.path.ismount(path):
        run("umount", str(path), check=False)


@pytest.mark.skipif(shutil.which("mkfs.ext4") is None, reason="needs e2fsprogs (mkfs.ext4)")
@pytest.mark.parametrize("force", [False, True])
def test_loop_busy_device_stays_until_unmounted(loop_fake, mountpoint, force):
    fake = loop_fake(detach_delay=0.1)
    ec2 = fake.botocore_client("ec2")
    ec2.attach_volume(VolumeId=VOLUME, InstanceId=INSTANCE, Device="/dev/sdf")
    device = volume_device(fake)
    run("mkfs.ext4", "-q", "-F", device)
    run("mount", device, mountpoint)
    with open(os.path.join(mountpoint, "data"), "w") as f:
        f.write("kept")

    ec2.detach_volume(VolumeId=VOLUME, Force=force)
    time.sleep(1.0)
    assert os.path.exists(device)  # Mounted: it stays (lazily cleared when forced).
    (entry,) = fake.backend_state()["releasing"]
    assert entry["device"] == device and entry["state"] == "detaching" and entry["force"] is force
    with open(os.path.join(mountpoint, "data")) as f:
        assert f.read() == "kept"

    run("umount", mountpoint)
    wait_for(f"{device} is gone after the unmount", lambda: not os.path.exists(device), timeout=3.0)
    assert fake.backend_state()["releasing"] == []


# -- veth pairs in namespaces ----------------------------------------------------------------------

@pytest.fixture
def namespaces():
    """natest-<pid> (the agent's) and natest-<pid>-vpc (the VPC router's); always removed."""
    agent_ns, vpc_ns = f"natest-{os.getpid()}", f"natest-{os.getpid()}-vpc"
    made = []
    try:
        for ns in (agent_ns, vpc_ns):
            run("ip", "netns", "add", ns)
            made.append(ns)
        yield agent_ns, vpc_ns
    finally:
        for ns in made:
            run("ip", "netns", "delete", ns, check=False)


def links(ns):
    return json.loads(run("ip", "-n", ns, "-j", "-d", "address", "show").stdout or "[]")


def link_by_mac(ns, mac):
    return next((link for link in links(ns) if link.get("address") == mac), None)


def router_link(ns):
    """The VPC side's end, once it is up with an IPv4 address."""
    return next((link for link in links(ns) if link["ifname"] != "lo" and "UP" in link["flags"]
                 and any(a["family"] == "inet" for a in link.get("addr_info", []))), None)


def in_netns(ns, code):
    """Run Python code inside a namespace, as an agent there would."""
    return run("ip", "netns", "exec", ns, sys.executable, "-c", code, check=False)


@pytest.fixture
def veth_fake(namespaces):
    agent_ns, vpc_ns = namespaces
    fakes = []

    def start(**opts):
        f = FakeAws(backend="vethback:VethBackend", backend_opts={"router_netns": vpc_ns, **opts}, netns=agent_ns)
        f.start()
        fakes.append(f)
        return f

    yield start
    for f in fakes:
        f.stop()


def test_netns_fake_answers_on_both_sides_with_one_url(veth_fake, namespaces):
    agent_ns, _ = namespaces
    fake = veth_fake()
    pid = fake.health()["pid"]
    # An agent in the namespace reaches the same process at the same URL.
    proc = in_netns(agent_ns, "import json, urllib.request; "
                    f"print(json.load(urllib.request.urlopen('{fake.url}/_fake/health', timeout=5))['pid'])")
    assert proc.returncode == 0, proc.stderr
    assert int(proc.stdout) == pid
    # And it is in there: lo is up, and its children run there too.
    assert "UP" in links(agent_ns)[0]["flags"]


def test_veth_attach_makes_the_link_and_the_router_detach_removes_them(veth_fake, namespaces):
    agent_ns, vpc_ns = namespaces
    fake = veth_fake()
    ec2 = fake.botocore_client("ec2")
    aid = ec2.attach_network_interface(NetworkInterfaceId=ENI, InstanceId=INSTANCE, DeviceIndex=1)["AttachmentId"]

    link = wait_for(f"a link with {ENI_MAC} in {agent_ns}", lambda: link_by_mac(agent_ns, ENI_MAC))
    assert link["ifname"] == "eth1"
    assert link["linkinfo"]["info_kind"] == "veth"
    assert "UP" not in link["flags"]  # A hot-plugged NIC comes down; the agent sets it up.
    peer = wait_for("the router's end, up with its address", lambda: router_link(vpc_ns))
    assert peer["ifname"] == "vpc020000000110"
    assert "UP" in peer["flags"]
    assert [(a["local"], a["prefixlen"]) for a in peer["addr_info"] if a["family"] == "inet"] == [("10.0.1.1", 24)]
    assert not any(l["ifname"] == peer["ifname"] for l in links(agent_ns))  # Never seen on the agent's side.
    entry = fake.backend_state()["interfaces"][ENI]
    assert (entry["ifname"], entry["ifindex"], entry["state"]) == ("eth1", link["ifindex"], "attached")

    # The agent's side, configured as the agent would, reaches the router:
    # a refused connection is an answer from 10.0.1.1.
    run("ip", "-n", agent_ns, "address", "add", "10.0.1.10/24", "dev", "eth1")
    run("ip", "-n", agent_ns, "link", "set", "eth1", "up")
    proc = in_netns(agent_ns, "import socket\n"
                    "try:\n socket.create_connection(('10.0.1.1', 9), timeout=3)\n"
                    "except ConnectionRefusedError:\n print('refused')\n")
    assert proc.stdout.strip() == "refused", proc.stderr

    ec2.detach_network_interface(AttachmentId=aid)
    wait_for("the link is gone", lambda: link_by_mac(agent_ns, ENI_MAC) is None)
    wait_for("the router's end is gone", lambda: not any(l["ifname"] == "vpc020000000110" for l in links(vpc_ns)))
    assert fake.backend_state()["interfaces"] == {}


def test_veth_name_falls_back_to_enx_mac_when_eth_is_taken(veth_fake, namespaces):
    agent_ns, _ = namespaces
    run("ip", "-n", agent_ns, "link", "add", "eth1", "type", "veth", "peer", "name", "taken1")  # No dummy module here.
    fake = veth_fake()
    fake.botocore_client("ec2").attach_network_interface(NetworkInterfaceId=ENI, InstanceId=INSTANCE, DeviceIndex=1)
    link = wait_for("the link", lambda: link_by_mac(agent_ns, ENI_MAC))
    assert link["ifname"] == "enx020000000110"


def test_veth_stop_and_reset_delete_every_link(veth_fake, namespaces):
    agent_ns, vpc_ns = namespaces
    fake = veth_fake()
    ec2 = fake.botocore_client("ec2")
    ec2.attach_network_interface(NetworkInterfaceId=ENI, InstanceId=INSTANCE, DeviceIndex=1)
    wait_for("the link", lambda: link_by_mac(agent_ns, ENI_MAC))
    fake.reset()
    assert link_by_mac(agent_ns, ENI_MAC) is None
    ec2.attach_network_interface(NetworkInterfaceId=ENI, InstanceId=INSTANCE, DeviceIndex=2)
    assert wait_for("the link again", lambda: link_by_mac(agent_ns, ENI_MAC))["ifname"] == "eth2"
    assert fake.stop() == 0
    assert link_by_mac(agent_ns, ENI_MAC) is None
    assert [l["ifname"] for l in links(vpc_ns)] == ["lo"]


def test_veth_subnet_cidr_gives_the_router_address(veth_fake, namespaces):
    _, vpc_ns = namespaces
    fake = veth_fake()
    fake.merge_state({"subnets": {"subnet-0123456789abcdef0": {"cidr_block": "172.31.16.0/20"}}})
    fake.botocore_client("ec2").attach_network_interface(NetworkInterfaceId=ENI, InstanceId=INSTANCE, DeviceIndex=1)
    peer = wait_for("the router's end, up with its address", lambda: router_link(vpc_ns))
    assert peer["ifname"] == "vpc020000000110"
    assert [(a["local"], a["prefixlen"]) for a in peer["addr_info"] if a["family"] == "inet"] == [("172.31.16.1", 20)]


def test_veth_backend_refuses_a_missing_router_namespace(namespaces):
    agent_ns, _ = namespaces
    with pytest.raises(FakeAwsError, match="no network namespace"):
        FakeAws(backend="vethback:VethBackend", backend_opts={"router_netns": "natest-absent"}, netns=agent_ns).start()


# -- both ------------------------------------------------------------------------------------------

def test_local_backend_attaches_both_and_stop_releases_both(udevd, volume_dir, namespaces):
    agent_ns, vpc_ns = namespaces
    fake = FakeAws(backend="local:LocalBackend",
                   backend_opts={"volume_dir": str(volume_dir), "router_netns": vpc_ns}, netns=agent_ns)
    fake.start()
    try:
        ec2 = fake.botocore_client("ec2")
        ec2.attach_volume(VolumeId=VOLUME, InstanceId=INSTANCE, Device="/dev/sdf")
        aid = ec2.attach_network_interface(NetworkInterfaceId=ENI, InstanceId=INSTANCE, DeviceIndex=1)["AttachmentId"]

        def loop_device():
            entry = fake.backend_state()["loopback"]["volumes"].get(VOLUME)
            return entry["device"] if entry and entry["state"] == "attached" else None
        device = wait_for("the loop device", loop_device)
        assert wait_for("its serial", lambda: udev_properties(device).get("ID_SERIAL_SHORT")) == SERIAL
        assert wait_for("the link", lambda: link_by_mac(agent_ns, ENI_MAC))["ifname"] == "eth1"
        state = fake.backend_state()
        assert state["backend"] == "local" and state["veth"]["interfaces"][ENI]["ifname"] == "eth1"
        ec2.detach_network_interface(AttachmentId=aid)
        wait_for("the link is gone", lambda: link_by_mac(agent_ns, ENI_MAC) is None)
    finally:
        status = fake.stop()
        left = release_leftover_loops(volume_dir)
    assert status == 0 and left == []
    assert not os.path.exists(device)
    assert [l["ifname"] for l in links(vpc_ns)] == ["lo"]
