"""systemd/nodeagent.service and its examples: what the unit promises
(Type=notify, ordering, timeouts, restart, watchdog), hardening that never
gives the service a mount namespace of its own, and what systemd-analyze
says about it."""

import os
import re
import shutil
import subprocess

import pytest

from conftest import TOP, need_tool, run

UNIT = os.path.join(TOP, "systemd", "nodeagent.service")
APP_EXAMPLE = os.path.join(TOP, "systemd", "app-example.service")
APP_DROPIN = os.path.join(TOP, "systemd", "app-dropin-example.conf")
AGENT_DROPIN = os.path.join(TOP, "systemd", "nodeagent-dropin-example.conf")

# Every option of systemd.exec(5) (systemd 252) that sets up a mount
# namespace for the service (exec_needs_mount_namespace() and the options
# documented to "disconnect propagation of mounts"), plus those that make
# the service's view of /proc/sys read-only (the agent writes rp_filter).
MOUNT_NAMESPACE_OPTIONS = {
    "RootDirectory", "RootImage", "RootImageOptions", "RootHash", "RootVerity", "MountAPIVFS",
    "ReadWritePaths", "ReadOnlyPaths", "InaccessiblePaths", "ExecPaths", "NoExecPaths",
    "BindPaths", "BindReadOnlyPaths", "TemporaryFileSystem", "MountImages", "ExtensionImages",
    "ExtensionDirectories", "MountFlags", "PrivateTmp", "PrivateDevices", "PrivateMounts",
    "ProtectSystem", "ProtectHome", "ProtectKernelTunables", "ProtectKernelModules",
    "ProtectKernelLogs", "ProtectControlGroups", "ProtectProc", "ProcSubset", "LogNamespace",
    "PrivateUsers", "DynamicUser", "StateDirectory", "CacheDirectory", "LogsDirectory",
    "ReadOnlyDirectories", "ReadWriteDirectories", "InaccessibleDirectories", "PrivateNetwork",
    "NetworkNamespacePath", "PrivateIPC", "IPCNamespacePath",
}

# What mount, mkfs/fsck/grow, rtnetlink, sysctl, /proc and mdadm's temporary
# md nodes need (see the unit).
CAPABILITIES = {"CAP_SYS_ADMIN", "CAP_NET_ADMIN", "CAP_SYS_RESOURCE", "CAP_DAC_OVERRIDE", "CAP_SYS_PTRACE",
                "CAP_MKNOD"}


def parse_unit(path):
    """{section: [(key, value), ...]}, assignments in order, comments out."""
    sections, current = {}, None
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith(("#", ";")):
                continue
            if line.startswith("["):
                current = sections.setdefault(line.strip("[]"), [])
                continue
            key, _, value = line.partition("=")
            current.append((key.strip(), value.strip()))
    return sections


def values(unit, section, key):
    return [v for k, v in unit.get(section, []) if k == key]


def last(unit, section, key):
    v = values(unit, section, key)
    return v[-1] if v else None


def seconds(text):
    """A systemd time span ("17min", "1min 30s", "5s", "300") in seconds."""
    units = {"us": 1e-6, "ms": 1e-3, "s": 1, "sec": 1, "min": 60, "m": 60, "h": 3600, "hr": 3600, "d": 86400}
    total = 0.0
    for number, unit in re.findall(r"(\d+(?:\.\d+)?)\s*([a-z]*)", text):
        total += float(number) * units[unit or "s"]
    return total


@pytest.fixture(scope="module")
def unit():
    return parse_unit(UNIT)


def test_is_type_notify_and_runs_the_installed_binary(unit):
    assert last(unit, "Service", "Type") == "notify"
    assert last(unit, "Service", "ExecStart") == "/usr/sbin/nodeagent"
    assert last(unit, "Install", "WantedBy") == "multi-user.target"


def test_waits_for_the_network_imds_needs(unit):
    assert "network-online.target" in " ".join(values(unit, "Unit", "Wants"))
    assert "network-online.target" in " ".join(values(unit, "Unit", "After"))


def test_orders_no_target_after_itself(unit):
    # A take-over wait would hold back every unit after such a target,
    # logins included; only the application waits, by its own After=.
    assert values(unit, "Unit", "Before") == []


def test_start_timeout_outlasts_the_boot_deadline_and_its_failure_signals(unit):
    # [Node] Timeout=15min by default, then up to a minute of failure signals.
    assert seconds(last(unit, "Service", "TimeoutStartSec")) >= 15 * 60 + 60


def test_restarts_on_failure_but_not_when_a_person_is_needed(unit):
    assert last(unit, "Service", "Restart") == "on-failure"
    prevented = " ".join(values(unit, "Service", "RestartPreventExitStatus")).split()
    assert "2" in prevented and "5" in prevented
    # A node handed over: exit 0 before READY=1, which systemd counts as a failure.
    assert "0" in prevented
    assert not {"1", "3", "4", "6"} & set(prevented)


def test_watchdog_outlasts_one_supervision_check(unit):
    # The daemon's periodic attachment check may block up to 2 minutes.
    assert seconds(last(unit, "Service", "WatchdogSec")) > 2 * 60


def test_no_option_gives_the_service_a_mount_namespace(unit):
    used = {k for section in unit.values() for k, _ in section}
    assert used & MOUNT_NAMESPACE_OPTIONS == set()


def test_capabilities_are_what_the_agent_needs(unit):
    assert set(" ".join(values(unit, "Service", "CapabilityBoundingSet")).split()) == CAPABILITIES
    assert values(unit, "Service", "AmbientCapabilities") == []


def test_sockets_are_unix_inet_and_netlink(unit):
    assert set(last(unit, "Service", "RestrictAddressFamilies").split()) == {
        "AF_UNIX", "AF_INET", "AF_INET6", "AF_NETLINK"}


def test_hardening_switches_are_on(unit):
    for key in ("NoNewPrivileges", "RestrictNamespaces", "RestrictRealtime", "RestrictSUIDSGID",
                "LockPersonality", "MemoryDenyWriteExecute", "ProtectHostname", "ProtectClock"):
        assert last(unit, "Service", key) == "yes", key
    assert last(unit, "Service", "SystemCallArchitectures") == "native"
    assert last(unit, "Service", "SystemCallErrorNumber") == "EPERM"


def syscall_groups():
    out = run(["systemd-analyze", "syscall-filter"]).stdout
    groups, current = {}, None
    for line in out.splitlines():
        if line.startswith("@"):
            current = groups.setdefault(line.split()[0], [])
        elif current is not None and line.strip() and not line.strip().startswith("#"):
            current.append(line.strip())
    return groups


def expand(groups, names):
    out = set()
    for name in names:
        out |= expand(groups, groups[name]) if name.startswith("@") else {name}
    return out


def allowed_syscalls(unit):
    """The system calls the unit's SystemCallFilter= lines allow."""
    groups = syscall_groups()
    allowed = None
    for value in values(unit, "Service", "SystemCallFilter"):
        deny = value.startswith("~")
        names = expand(groups, value.lstrip("~").split())
        if deny:
            allowed = (allowed if allowed is not None else expand(groups, ["@known"])) - names
        else:
            allowed = names if allowed is None else allowed | names
    return allowed


def test_syscall_filter_lets_the_agent_and_its_children_work(unit):
    need_tool("systemd-analyze")
    allowed = allowed_syscalls(unit)
    # mount(2) and the new mount API (libmount may use either), rtnetlink,
    # udev's netlink monitor, sysctl writes, spawning mkfs/e2fsck/resize2fs/
    # xfs_growfs, the ioctls they use, and timers and events.
    for call in ("mount", "umount2", "fsopen", "fsmount", "move_mount", "socket", "bind", "sendmsg",
                 "recvmsg", "setsockopt", "openat", "write", "ioctl", "clone3", "execve", "wait4",
                 "pidfd_open", "timerfd_create", "epoll_wait", "inotify_init1", "fsync", "fallocate",
                 "pwrite64", "statfs", "prlimit64"):
        assert call in allowed, call
    for call in ("chown", "setuid", "ptrace", "init_module", "reboot", "swapon", "settimeofday", "kexec_load",
                 "sched_setscheduler"):
        assert call not in allowed, call


def systemd_analyze_copy(tmp_path, nodeagent):
    """The unit with ExecStart= pointing at the built binary, for verify."""
    path = tmp_path / "nodeagent.service"
    with open(UNIT) as f:
        text = f.read()
    path.write_text(text.replace("ExecStart=/usr/sbin/nodeagent", f"ExecStart={nodeagent}"))
    return path


def test_systemd_analyze_verify_is_clean(tmp_path, nodeagent):
    need_tool("systemd-analyze")
    unit = systemd_analyze_copy(tmp_path, nodeagent)
    app = tmp_path / "app-example.service"
    shutil.copy(APP_EXAMPLE, app)
    r = run(["systemd-analyze", "verify", "--man=no", str(unit), str(app)])
    assert r.returncode == 0 and r.stdout + r.stderr == "", r.stdout + r.stderr


def test_systemd_analyze_security_exposure_is_about_5():
    need_tool("systemd-analyze")
    r = run(["systemd-analyze", "security", "--offline=yes", "--no-pager", UNIT])
    m = re.search(r"Overall exposure level for nodeagent.service: (\d+\.\d)", r.stdout)
    assert m, r.stdout + r.stderr
    exposure = float(m.group(1))
    print(f"systemd-analyze security: exposure {exposure}")
    assert exposure <= 5.0


def test_unit_documents_what_the_application_adds():
    with open(UNIT) as f:
        text = f.read()
    assert "#   Requires=nodeagent.service" in text and "#   After=nodeagent.service" in text


@pytest.mark.parametrize("path", [APP_EXAMPLE, APP_DROPIN])
def test_application_examples_wait_for_nodeagent(path):
    unit = parse_unit(path)
    assert "nodeagent.service" in values(unit, "Unit", "Requires")
    assert "nodeagent.service" in values(unit, "Unit", "After")


def test_application_example_is_wanted_by_nodeagent():
    # When nodeagent's first attempt fails or is killed, systemd 252 fails
    # the application's pending start; the Wants= link from nodeagent makes
    # nodeagent's automatic restart start the application again (shown by
    # tests/vm's crash scenario).
    assert "nodeagent.service" in " ".join(values(parse_unit(APP_EXAMPLE), "Install", "WantedBy")).split()
    with open(UNIT) as f:
        assert "systemctl add-wants nodeagent.service" in f.read()
    with open(APP_DROPIN) as f:
        assert "systemctl add-wants nodeagent.service" in f.read()


def test_application_example_reads_the_state_file():
    unit = parse_unit(APP_EXAMPLE)
    assert values(unit, "Service", "EnvironmentFile") == ["/run/nodeagent/state"]


def test_nodeagent_dropin_example_adds_no_mount_namespace():
    unit = parse_unit(AGENT_DROPIN)
    used = {k for section in unit.values() for k, _ in section}
    assert used & MOUNT_NAMESPACE_OPTIONS == set()
