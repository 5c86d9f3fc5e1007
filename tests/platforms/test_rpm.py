"""nodeagent.spec, checked with Debian's rpmbuild and rpmlint: it builds
from the release tarball (its %check runs the unit tests), installs what
the .deb installs where Fedora-family distributions keep it, enables the
unit by a preset and never starts, stops or restarts it on install or
upgrade, keeps the configuration on upgrade, and rpmlint says nothing that
is not explained below. The RPM built here links Debian's libraries: it
checks the spec and is no deliverable (README: build it on the target)."""

import os
import re

import pytest

from conftest import TOP, need_tool, project_version, run

pytestmark = pytest.mark.slow


def query(rpm, *args):
    r = run(["rpm", "-qp", *args, rpm])
    assert r.returncode == 0, r.stderr
    return r.stdout


def files(rpm):
    """Path -> (flags, mode) of every file and directory the package owns."""
    out = query(rpm, "--qf", "[%{FILEFLAGS:fflags}|%{FILEMODES:perms}|%{FILENAMES}\n]")
    result = {}
    for line in out.splitlines():
        flags, mode, path = line.split("|", 2)
        result[path] = (flags, mode)
    return result


def test_rpm_is_named_after_the_project(rpm_package):
    assert query(rpm_package["rpm"], "--qf", "%{NAME} %{VERSION} %{RELEASE}") == f"nodeagent {project_version()} 1"
    assert query(rpm_package["srpm"], "--qf", "%{LICENSE}") == "Apache-2.0"


def test_check_ran_the_unit_tests(rpm_package):
    log = rpm_package["log"]
    check = log[log.index("Executing(%check)"):]
    ok = re.search(r"^Ok:\s+(\d+)", check, re.M)
    assert ok and int(ok.group(1)) > 0, check[-3000:]
    assert re.search(r"^Fail:\s+0\b", check, re.M), check[-3000:]


def test_rpm_holds_binary_unit_preset_pages_and_configuration(rpm_package):
    owned = files(rpm_package["rpm"])
    for path in ("/usr/sbin/nodeagent", "/usr/lib/systemd/system/nodeagent.service",
                 "/usr/lib/systemd/system-preset/50-nodeagent.preset", "/usr/lib/modules-load.d/nodeagent.conf",
                 "/usr/share/man/man8/nodeagent.8.gz", "/usr/share/man/man5/nodeagent.conf.5.gz",
                 "/etc/nodeagent", "/etc/nodeagent/conf.d", "/etc/nodeagent/nodeagent.conf",
                 "/usr/share/licenses/nodeagent/LICENSE",
                 "/usr/share/doc/nodeagent/README.md",
                 "/usr/share/doc/nodeagent/examples/cloudformation/base.yaml",
                 "/usr/share/doc/nodeagent/examples/cloudformation/node.yaml",
                 "/usr/share/doc/nodeagent/examples/cloudformation/iam-policy.json",
                 "/usr/share/doc/nodeagent/examples/app-example.service"):
        assert path in owned, path
    assert owned["/usr/sbin/nodeagent"][1] == "-rwxr-xr-x"
    assert owned["/etc/nodeagent/conf.d"][1].startswith("d")
    # The templates are documentation (%doc), nothing of the tests ships.
    assert "d" in owned["/usr/share/doc/nodeagent/examples/cloudformation/node.yaml"][0]
    assert not any("fakeaws" in f or "awscall" in f for f in owned)


def test_configuration_is_kept_on_upgrade(rpm_package):
    """%config(noreplace): an edited nodeagent.conf stays, the new one lands
    beside it as .rpmnew. It is the only configuration file."""
    config = {p: flags for p, (flags, _) in files(rpm_package["rpm"]).items() if "c" in flags}
    assert list(config) == ["/etc/nodeagent/nodeagent.conf"]
    assert "n" in config["/etc/nodeagent/nodeagent.conf"]


def test_unit_is_enabled_by_its_preset_and_never_started_or_restarted(rpm_package, tmp_path):
    scripts = query(rpm_package["rpm"], "--scripts")
    parts = dict(re.findall(r"^(\w+) scriptlet \(using /bin/sh\):\n(.*?)(?=^\w+ scriptlet|\Z)", scripts,
                            re.M | re.S))
    assert set(parts) == {"postinstall", "preuninstall", "postuninstall"}, scripts
    # Installation: systemctl preset, which enables it by the package's preset.
    assert re.search(r"\$1 -eq 1 .*(\n.*)*systemd-update-helper install-system-units nodeagent.service",
                     parts["postinstall"]), parts["postinstall"]
    # Removal (not upgrade): disable --now, the one stop.
    assert re.search(r"\$1 -eq 0 .*(\n.*)*systemd-update-helper remove-system-units nodeagent.service",
                     parts["preuninstall"]), parts["preuninstall"]
    # Upgrade: a daemon-reload, no restart (that would restart the cluster
    # application with it).
    assert "mark-reload-system-units" in parts["postuninstall"]
    code = "\n".join(line for line in scripts.splitlines() if not line.strip().startswith("#"))
    assert not re.search(r"restart|systemctl (start|stop)", code), code
    root = tmp_path / "root"
    root.mkdir()
    extract(rpm_package["rpm"], root)
    preset = (root / "usr/lib/systemd/system-preset/50-nodeagent.preset").read_text()
    assert [line for line in preset.splitlines() if line and not line.startswith("#")] == \
        ["enable nodeagent.service"]


def test_preset_enables_the_unit_over_the_distributions_disable_all(rpm_package, tmp_path):
    """systemctl preset, as %post runs it, on the installed tree with the
    distributions' closing "disable *" (RHEL's 99-default-disable.preset):
    the package's preset is read first and enables the unit."""
    need_tool("systemctl")
    root = tmp_path / "root"
    root.mkdir()
    extract(rpm_package["rpm"], root)
    (root / "usr/lib/systemd/system-preset/99-default-disable.preset").write_text("disable *\n")
    r = run(["systemctl", f"--root={root}", "preset", "nodeagent.service"])
    assert r.returncode == 0, r.stdout + r.stderr
    link = root / "etc/systemd/system/multi-user.target.wants/nodeagent.service"
    assert link.is_symlink() and os.readlink(link) == "/usr/lib/systemd/system/nodeagent.service", \
        r.stdout + r.stderr


def test_requires_the_tools_and_libraries_the_agent_uses(rpm_package):
    requires = query(rpm_package["rpm"], "-R").split("\n")
    for name in ("e2fsprogs", "systemd-udev"):
        assert name in requires, requires
    # The libraries come from rpm's ELF dependency generator.
    for lib in ("libcurl.so.4", "libcrypto.so.3", "libjson-c.so.5", "libexpat.so.1", "libudev.so.1",
                "libmount.so.1", "libblkid.so.1", "libmnl.so.0", "libsystemd.so.0"):
        assert any(r.startswith(lib) for r in requires), (lib, requires)
    assert "xfsprogs" in query(rpm_package["rpm"], "--recommends").split()
    assert "mdadm" in query(rpm_package["rpm"], "--recommends").split()
    spec = query(rpm_package["srpm"], "-R")
    for name in ("libcurl-devel", "openssl-devel", "json-c-devel", "expat-devel", "systemd-devel",
                 "libmount-devel", "libblkid-devel", "libmnl-devel", "meson", "gcc", "systemd-rpm-macros"):
        assert name in spec.split(), (name, spec)


def extract(rpm, root):
    r = run(["sh", "-c", f"rpm2cpio '{rpm}' | cpio -idm --quiet"], cwd=root)
    assert r.returncode == 0, r.stderr


def test_installed_tree_works(rpm_package, tmp_path):
    need_tool("rpm2cpio")
    root = tmp_path / "root"
    root.mkdir()
    extract(rpm_package["rpm"], root)
    r = run([str(root / "usr/sbin/nodeagent"), "--version"])
    assert r.returncode == 0 and project_version() in r.stdout, r.stdout + r.stderr


# Every message rpmlint 2.4 (Debian's, with its default, openSUSE-derived
# configuration) gives for the spec, the RPM and the source RPM, with why it
# stays. Any other message fails the test, and so does an explanation that
# no longer matches any message.
EXPLAINED = {
    "no-signature": "a package is signed by whoever publishes it (rpmsign --addsign); a build from the spec is not",
    "no-packager-tag": "openSUSE's rule; Fedora's packaging guidelines (and so RHEL's and Amazon Linux's) "
                       "say not to set Packager:",
    "no-group-tag": "openSUSE's rule; Group: is not used by Fedora-family distributions",
    "no-buildroot-tag": "BuildRoot: has been ignored since rpm 4.6; Fedora's guidelines say not to set it",
    "no-url-tag": "the project has no public address yet; the tarball comes from meson dist",
    "invalid-url": "Source0 is the meson dist tarball's name, there being no public address to fetch it from",
    "invalid-license": "Apache-2.0 is the SPDX identifier Fedora requires; rpmlint's default list of valid "
                       "licenses here is empty",
    "unstripped-binary-or-object": "Debian's rpm has no debuginfo machinery (find-debuginfo); on the target "
                                   "the symbols go to nodeagent-debuginfo and the binary is stripped",
    "manpage-not-compressed": "rpmlint's default expects bzip2 (openSUSE's); Fedora-family distributions "
                              "gzip manual pages (brp-compress), as here",
    "no-manual-page-for-binary": "rpmlint 2.4 collects the section numbers of manual pages instead of their "
                                 "names (FilesCheck), so it finds none for any binary; nodeagent.8.gz is "
                                 "there (test_rpm_holds_binary_unit_preset_pages_and_configuration)",
}


def test_rpmlint_says_nothing_unexplained(rpm_package):
    need_tool("rpmlint")
    spec = os.path.join(TOP, "nodeagent.spec")
    r = run(["rpmlint", spec, rpm_package["rpm"], rpm_package["srpm"]], timeout=300)
    print(r.stdout)
    messages = re.findall(r"^\S+: ([EW]): (\S+)(.*)$", r.stdout, re.M)
    assert messages or "0 errors, 0 warnings" in r.stdout, r.stdout + r.stderr
    unexplained = [f"{level}: {tag}{rest}" for level, tag, rest in messages if tag not in EXPLAINED]
    assert unexplained == [], unexplained
    stale = set(EXPLAINED) - {tag for _, tag, _ in messages}
    assert not stale, f"explained but no longer reported (remove from EXPLAINED): {sorted(stale)}"
