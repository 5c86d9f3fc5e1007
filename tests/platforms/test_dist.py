"""The release tarball: `meson dist --no-tests` packs HEAD's committed
tree, and it carries what both packages build from (the spec, debian/, the
cross file). The versions of meson.build, the spec and debian/changelog
agree, so that each package is named after the project."""

import re
import subprocess
import tarfile

from conftest import TOP, project_version, run


def test_tarball_holds_the_committed_tree(tarball):
    prefix = f"nodeagent-{project_version()}/"
    with tarfile.open(tarball) as t:
        members = [m for m in t.getmembers() if not m.isdir()]
    assert all(m.name.startswith(prefix) for m in members), [m.name for m in members if not m.name.startswith(prefix)]
    packed = {m.name[len(prefix):] for m in members}
    committed = set(run(["git", "-C", TOP, "ls-tree", "-r", "--name-only", "HEAD"]).stdout.split("\n")) - {""}
    assert packed == committed, (sorted(packed - committed)[:20], sorted(committed - packed)[:20])


def test_tarball_has_what_both_packages_build_from(tarball):
    prefix = f"nodeagent-{project_version()}/"
    with tarfile.open(tarball) as t:
        names = set(t.getnames())
    for path in ("nodeagent.spec", "LICENSE", "systemd/50-nodeagent.preset", "tests/platforms/rpm-macros",
                 "debian/control", "debian/rules", "debian/changelog", "cross/arm64.ini", "meson.build"):
        assert prefix + path in names, path
    # No build tree, no git metadata.
    assert not any(n.startswith((prefix + "build", prefix + ".git/")) for n in names)


def test_versions_agree():
    version = project_version()
    with open(f"{TOP}/nodeagent.spec") as f:
        spec = f.read()
    assert re.search(r"^Version:\s*(\S+)$", spec, re.M).group(1) == version
    assert re.search(r"^\* .* - (\S+)-\d+$", spec, re.M).group(1) == version
    changelog = subprocess.run(["dpkg-parsechangelog", "-l", f"{TOP}/debian/changelog", "-S", "Version"],
                               capture_output=True, text=True).stdout.strip()
    assert changelog == version
