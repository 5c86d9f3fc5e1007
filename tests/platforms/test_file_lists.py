"""The RPM and the .deb install the same files: `rpm -qlp` and `dpkg -c`
list the same paths once each difference that is a distribution's
convention, named below, is accounted for. Every named difference must
still occur, so that a convention that no longer applies is noticed too.
The RPM is x86_64 and the .deb arm64: no installed path depends on the
architecture (there is no library in a multiarch directory)."""

import re

import pytest

from conftest import run

pytestmark = pytest.mark.slow

DOC = "/usr/share/doc/nodeagent"

# Each convention: what Debian does, what the RPM does. The functions below
# apply them.
DIFFERENCES = {
    "unit directory": "Debian 12's packages install units under /lib/systemd/system (debhelper; the /usr "
                      "merge moves them later); the RPM's %{_unitdir} is /usr/lib/systemd/system",
    "compressed documents": "dh_compress gzips documents over 4 kB in /usr/share/doc; rpm compresses only "
                            "manual pages (brp-compress), so README.md and configuration.md stay as they are",
    "license": "Debian has /usr/share/doc/nodeagent/copyright (DEP-5); the RPM has the license text as "
               "%license, /usr/share/licenses/nodeagent/LICENSE",
    "changelog": "Debian installs debian/changelog as /usr/share/doc/nodeagent/changelog.gz; the RPM's "
                 "%changelog is in the package header (rpm -q --changelog)",
    "preset": "the RPM enables the unit through /usr/lib/systemd/system-preset/50-nodeagent.preset and "
              "systemctl preset in %post; Debian's postinst enables it (deb-systemd-helper)",
    "build-id link": "the RPM owns /usr/lib/.build-id/xx/... -> /usr/sbin/nodeagent, rpm's link for finding the "
                     "binary's debuginfo; Debian keeps its build-id files in the -dbgsym package",
}


def deb_paths(deb):
    """Files and the package's own directories (dpkg -c lists /usr/ and the
    like too, which belong to the base system and the RPM does not own)."""
    out = run(["dpkg-deb", "-c", deb]).stdout
    paths = set()
    for line in out.splitlines():
        path = line.split()[5][1:]
        if path.endswith("/"):
            if "nodeagent" not in path:
                continue
            path = path.rstrip("/")
        paths.add(path)
    return paths


def rpm_paths(rpm):
    return set(run(["rpm", "-qlp", rpm]).stdout.split())


def normalise_deb(paths, used):
    result = set()
    for p in paths:
        if p.startswith("/lib/systemd/system/"):
            used.add("unit directory")
            p = "/usr" + p
        if p in (f"{DOC}/copyright",):
            used.add("license")
            continue
        if p == f"{DOC}/changelog.gz":
            used.add("changelog")
            continue
        if p.startswith(DOC + "/") and p.endswith(".gz"):
            used.add("compressed documents")
            p = p[:-len(".gz")]
        result.add(p)
    return result


def normalise_rpm(paths, used):
    result = set()
    for p in paths:
        if p.startswith("/usr/share/licenses/nodeagent"):
            used.add("license")
            continue
        if p == "/usr/lib/systemd/system-preset/50-nodeagent.preset":
            used.add("preset")
            continue
        if p.startswith("/usr/lib/.build-id"):
            if re.fullmatch(r"/usr/lib/\.build-id/[0-9a-f]{2}/[0-9a-f]+", p):
                used.add("build-id link")
            continue
        result.add(p)
    return result


def test_rpm_and_deb_list_the_same_files(rpm_package, arm64_deb):
    used = set()
    deb = normalise_deb(deb_paths(arm64_deb["deb"]), used)
    rpm = normalise_rpm(rpm_paths(rpm_package["rpm"]), used)
    assert sorted(rpm - deb) == [] and sorted(deb - rpm) == [], \
        {"only in the RPM": sorted(rpm - deb), "only in the .deb": sorted(deb - rpm)}
    assert used == set(DIFFERENCES), f"named but not seen: {sorted(set(DIFFERENCES) - used)}"
    assert "/usr/sbin/nodeagent" in rpm and "/etc/nodeagent/nodeagent.conf" in rpm


def test_rpm_and_deb_install_files_with_the_same_modes(rpm_package, arm64_deb):
    deb = {}
    for line in run(["dpkg-deb", "-c", arm64_deb["deb"]]).stdout.splitlines():
        fields = line.split()
        deb[fields[5][1:].rstrip("/")] = fields[0]
    out = run(["rpm", "-qp", "--qf", "[%{FILEMODES:perms} %{FILENAMES}\n]", rpm_package["rpm"]]).stdout
    rpm = dict(reversed(line.split(" ", 1)) for line in out.splitlines())
    for path in ("/usr/sbin/nodeagent", "/etc/nodeagent/nodeagent.conf", "/etc/nodeagent/conf.d",
                 "/usr/share/man/man8/nodeagent.8.gz"):
        assert rpm[path] == deb[path], (path, rpm[path], deb[path])
    assert rpm["/usr/lib/systemd/system/nodeagent.service"] == deb["/lib/systemd/system/nodeagent.service"]
