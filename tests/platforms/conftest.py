"""The platforms suite: the release tarball (`meson dist --no-tests`), the
RPM built from it by nodeagent.spec with Debian's rpmbuild, the arm64
cross-build whose unit tests and fuzz seeds run as arm64 code under
qemu-user, and the arm64 .deb built from the same tarball. Run by
`sudo ./scripts/test platforms`, which installs what it needs (the :arm64
libraries too, scripts/lib.sh) and then sets NODEAGENT_ARM64_UNAVAILABLE
when the mirror could not give them at amd64's versions; or directly:

    NODEAGENT_BUILD=build /usr/bin/python3 -m pytest tests/platforms

The packages are built once per run, in a temporary directory; the
cross-build tree is build-arm64/ at the top of the repository, kept
between runs like the other build trees.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tarfile

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)

BUILD = os.path.abspath(os.environ.get("NODEAGENT_BUILD", os.path.join(TOP, "build")))
ARM64_BUILD = os.path.join(TOP, "build-arm64")
CROSS_FILE = os.path.join(TOP, "cross", "arm64.ini")
RPM_MACROS = os.path.join(HERE, "rpm-macros")
QEMU = "qemu-aarch64-static"


# What the run built, for the summary at its end: name -> path; and what
# it must say there.
BUILT = {}
NOTES = []


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: takes minutes (builds a package)")


def pytest_terminal_summary(terminalreporter):
    """The sizes of the tarball and the packages, whatever the outcome."""
    for note in NOTES:
        terminalreporter.write_line(note)
    for what, path in BUILT.items():
        if os.path.exists(path):
            terminalreporter.write_line(f"{what}: {os.path.getsize(path)} bytes ({os.path.basename(path)})")


def need_tool(name):
    path = shutil.which(name)
    if not path:
        pytest.skip(f"{name} is not installed (sudo ./scripts/test platforms installs it)")
    return path


def run(argv, timeout=120, **kw):
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, **kw)


def project_version():
    with open(os.path.join(TOP, "meson.build")) as f:
        return re.search(r"version\s*:\s*'([^']+)'", f.read()).group(1)


def need_arm64():
    """The arm64 tests need the :arm64 libraries. When scripts/test could
    not install them (the mirror mid-update: one architecture has a version
    the other has not yet), each arm64 test fails with its reason rather
    than being skipped: the suite must never pass without having run."""
    reason = os.environ.get("NODEAGENT_ARM64_UNAVAILABLE")
    if reason:
        pytest.fail(f"the :arm64 libraries are not installed: {reason}", pytrace=False)
    if not shutil.which("aarch64-linux-gnu-pkg-config"):
        pytest.fail("aarch64-linux-gnu-pkg-config is missing: the :arm64 libraries are not installed "
                    "(sudo ./scripts/test platforms installs them)", pytrace=False)
    need_tool(QEMU)
    need_tool("aarch64-linux-gnu-gcc")


def elf_machine(path):
    out = run(["readelf", "-h", path]).stdout
    m = re.search(r"Machine:\s*(.+)", out)
    return m.group(1).strip() if m else None


@pytest.fixture(scope="session")
def work(tmp_path_factory):
    return tmp_path_factory.mktemp("platforms")


@pytest.fixture(scope="session")
def tarball(work):
    """meson dist from the configured native tree: the tarball holds HEAD's
    committed files (git archive), so uncommitted changes are in neither
    package; --allow-dirty lets a developer run the suite anyway, and the
    warning says so."""
    need_tool("meson")
    need_tool("git")
    if not os.path.exists(os.path.join(BUILD, "build.ninja")):
        pytest.fail(f"{BUILD} is not configured (meson setup {BUILD})")
    dirty = run(["git", "-C", TOP, "status", "--porcelain", "--untracked-files=no"]).stdout.strip()
    if dirty:
        NOTES.append(f"WARNING: uncommitted changes are not in the tarball nor in the packages:\n{dirty}")
    r = run(["meson", "dist", "-C", BUILD, "--no-tests", "--allow-dirty", "--formats", "xztar"], timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    name = f"nodeagent-{project_version()}.tar.xz"
    path = work / name
    shutil.copy2(os.path.join(BUILD, "meson-dist", name), path)
    BUILT["tarball"] = str(path)
    return path


def unpack(tarball, dest):
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(tarball) as t:
        t.extractall(dest)
    return dest / f"nodeagent-{project_version()}"


@pytest.fixture(scope="session")
def rpm_package(work, tarball):
    """rpmbuild -ta: the spec inside the tarball, --nodeps (this machine's
    libraries are Debian's, under Debian's names), the test-only macros for
    what Debian's meson and systemd do not ship. %check runs the unit tests."""
    need_tool("rpmbuild")
    top = work / "rpmbuild"
    r = run(["rpmbuild", "-ta", "--nodeps", "--load", RPM_MACROS, "--define", f"_topdir {top}", str(tarball)],
            timeout=1200)
    log = r.stdout + r.stderr
    assert r.returncode == 0, log[-6000:]
    arch = run(["rpm", "--eval", "%{_arch}"]).stdout.strip()
    version = project_version()
    rpm = top / "RPMS" / arch / f"nodeagent-{version}-1.{arch}.rpm"
    srpm = top / "SRPMS" / f"nodeagent-{version}-1.src.rpm"
    assert rpm.exists() and srpm.exists(), sorted(str(p) for p in top.rglob("*.rpm"))
    BUILT["RPM"] = str(rpm)
    BUILT["source RPM"] = str(srpm)
    return {"rpm": str(rpm), "srpm": str(srpm), "log": log}


@pytest.fixture(scope="session")
def arm64_deb(work, tarball):
    """dpkg-buildpackage -a arm64 on the unpacked tarball. debhelper is
    given the tree's cross file (DH_MESON_CROSS_FILE) instead of the one it
    would generate, for its exe_wrapper: the package's own build then runs
    the unit tests as arm64 code under qemu-user, and
    crossbuildcanrunhostbinaries tells debhelper that it may."""
    need_arm64()
    need_tool("dpkg-buildpackage")
    src = unpack(tarball, work / "deb-arm64")
    env = {**os.environ, "DH_MESON_CROSS_FILE": str(src / "cross" / "arm64.ini"),
           "DEB_BUILD_OPTIONS": "crossbuildcanrunhostbinaries"}
    r = run(["dpkg-buildpackage", "-a", "arm64", "-us", "-uc", "-b"], cwd=src, timeout=1800, env=env)
    log = r.stdout + r.stderr
    assert r.returncode == 0, log[-6000:]
    version = project_version()
    deb = src.parent / f"nodeagent_{version}_arm64.deb"
    assert deb.exists(), sorted(os.listdir(src.parent))
    BUILT["arm64 .deb"] = str(deb)
    return {"deb": str(deb), "changes": str(src.parent / f"nodeagent_{version}_arm64.changes"), "log": log,
            "src": src}


@pytest.fixture(scope="session")
def arm64_build():
    """build-arm64: the cross-build with the project's own options
    (-Werror), then its unit tests through the cross file's exe_wrapper.
    Returns the tree and the tests' results by name."""
    need_arm64()
    if not os.path.exists(os.path.join(ARM64_BUILD, "build.ninja")):
        r = run(["meson", "setup", ARM64_BUILD, "--cross-file", CROSS_FILE], cwd=TOP, timeout=300)
        assert r.returncode == 0, r.stdout + r.stderr
    r = run(["meson", "compile", "-C", ARM64_BUILD], timeout=1200)
    assert r.returncode == 0, (r.stdout + r.stderr)[-6000:]
    log = os.path.join(ARM64_BUILD, "meson-logs", "unit.json")
    if os.path.exists(log):
        os.unlink(log)
    # Slower than native under emulation: the timed tests get three times
    # their limit.
    r = run(["meson", "test", "-C", ARM64_BUILD, "--suite", "unit", "--logbase", "unit", "--num-processes", "2",
             "--timeout-multiplier", "3", "--print-errorlogs"], timeout=1200)
    print(r.stdout[-3000:])
    results = {}
    with open(log) as f:
        for line in f:
            if line.strip():
                entry = json.loads(line)
                results[entry["name"].split(" / ")[-1]] = entry
    return {"dir": ARM64_BUILD, "tests": results, "output": r.stdout + r.stderr}
