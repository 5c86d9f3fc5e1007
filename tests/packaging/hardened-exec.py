#!/usr/bin/python3
"""Runs a command under the sandbox a systemd unit file describes, without
systemd: the parts of nodeagent.service's hardening that act on the process
itself, so that a test can boot the agent under them on a machine where
systemd is not PID 1.

    hardened-exec.py UNIT -- COMMAND [ARG...]

Applied, as systemd applies them: CapabilityBoundingSet= (PR_CAPBSET_DROP,
so the exec'd program and its children keep only those), NoNewPrivileges=,
SystemCallFilter= (allow list, then ~deny lists, groups expanded with
`systemd-analyze syscall-filter`) with SystemCallErrorNumber=,
RestrictAddressFamilies= (socket(2) of any other family fails) and
SystemCallArchitectures=native. Not applied: what needs the service manager
(DeviceAllow=, ProtectClock='s device rule, ProtectHostname='s UTS
namespace, RestrictNamespaces=, MemoryDenyWriteExecute=, LockPersonality=,
RestrictRealtime=, RestrictSUIDSGID=). Needs python3-seccomp."""

import ctypes
import errno
import os
import socket
import subprocess
import sys

import seccomp

PR_CAPBSET_DROP = 24
PR_SET_NO_NEW_PRIVS = 38

# linux/capability.h
CAPS = ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
        "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE",
        "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE",
        "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT",
        "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
        "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN",
        "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",
        "CAP_CHECKPOINT_RESTORE"]


def service_settings(path):
    settings = {}
    section = None
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith(("#", ";")):
                continue
            if line.startswith("["):
                section = line.strip("[]")
                continue
            if section == "Service":
                key, _, value = line.partition("=")
                settings.setdefault(key.strip(), []).append(value.strip())
    return settings


def syscall_groups():
    out = subprocess.run(["systemd-analyze", "syscall-filter"], capture_output=True, text=True,
                         check=True).stdout
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


def allowed_syscalls(settings):
    groups = syscall_groups()
    allowed = None
    for value in settings.get("SystemCallFilter", []):
        names = expand(groups, value.lstrip("~").split())
        if value.startswith("~"):
            allowed = (allowed if allowed is not None else expand(groups, ["@known"])) - names
        else:
            allowed = names if allowed is None else allowed | names
    return allowed


def main():
    unit, sep, command = sys.argv[1], sys.argv[2], sys.argv[3:]
    if sep != "--" or not command:
        sys.exit(__doc__)
    settings = service_settings(unit)
    libc = ctypes.CDLL(None, use_errno=True)

    keep = set(" ".join(settings.get("CapabilityBoundingSet", [])).split())
    if keep:
        for number, name in enumerate(CAPS):
            if name not in keep and libc.prctl(PR_CAPBSET_DROP, number, 0, 0, 0) != 0:
                err = ctypes.get_errno()
                if err != errno.EINVAL:  # a capability this kernel does not know
                    sys.exit(f"PR_CAPBSET_DROP {name}: {os.strerror(err)}")

    if settings.get("NoNewPrivileges", ["no"])[-1] == "yes":
        if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            sys.exit(f"PR_SET_NO_NEW_PRIVS: {os.strerror(ctypes.get_errno())}")

    allowed = allowed_syscalls(settings)
    if allowed is not None:
        error = getattr(errno, settings.get("SystemCallErrorNumber", ["EPERM"])[-1])
        f = seccomp.SyscallFilter(defaction=seccomp.ERRNO(error))
        families = settings.get("RestrictAddressFamilies", [""])[-1].split()
        # The exec below must get through the filter too.
        allowed |= {"execve", "exit_group"}
        for name in sorted(allowed):
            if families and name == "socket":
                continue
            try:
                f.add_rule(seccomp.ALLOW, name)
            except (RuntimeError, ValueError, OSError):
                pass  # a name this libseccomp or architecture does not know
        if families:
            for fam in families:
                f.add_rule(seccomp.ALLOW, "socket", seccomp.Arg(0, seccomp.EQ, getattr(socket, fam)))
        f.load()

    os.execvp(command[0], command)


if __name__ == "__main__":
    main()
