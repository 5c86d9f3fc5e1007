"""debian/: dpkg-buildpackage -us -uc -b on a copy of the tree builds
nodeagent_<version>_<arch>.deb with the binary, the unit (enabled on
install, never started or restarted by the package), the manual pages, a
commented configuration (a conffile) and conf.d/; lintian finds no error.
Slow: it builds the package (the unit tests run inside it)."""

import os
import re
import shutil
import subprocess

import pytest

from conftest import TOP, need_tool, run

pytestmark = pytest.mark.slow


def project_version():
    with open(os.path.join(TOP, "meson.build")) as f:
        return re.search(r"version\s*:\s*'([^']+)'", f.read()).group(1)


def source_files():
    """The files of the tree as git knows them (committed or not, ignored
    ones left out), or, without git, everything but build trees."""
    r = run(["git", "-C", TOP, "ls-files", "-z", "--cached", "--others", "--exclude-standard"])
    if r.returncode == 0:
        return [p for p in r.stdout.split("\0") if p and os.path.exists(os.path.join(TOP, p))]
    files = []
    for d, dirs, names in os.walk(TOP):
        dirs[:] = [x for x in dirs if not x.startswith(("build", ".git", "__pycache__"))]
        files += [os.path.relpath(os.path.join(d, n), TOP) for n in names]
    return files


@pytest.fixture(scope="module")
def package(tmp_path_factory):
    need_tool("dpkg-buildpackage")
    need_tool("dh")
    work = tmp_path_factory.mktemp("deb")
    src = work / "nodeagent"
    for rel in source_files():
        dest = src / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(os.path.join(TOP, rel), dest, follow_symlinks=False)
    r = run(["dpkg-buildpackage", "-us", "-uc", "-b"], cwd=src, timeout=1800,
            env={**os.environ, "DEB_BUILD_OPTIONS": os.environ.get("DEB_BUILD_OPTIONS", "")})
    assert r.returncode == 0, (r.stdout + r.stderr)[-6000:]
    arch = run(["dpkg-architecture", "-qDEB_HOST_ARCH"]).stdout.strip()
    deb = work / f"nodeagent_{project_version()}_{arch}.deb"
    assert deb.exists(), sorted(os.listdir(work))
    return {"deb": str(deb), "changes": str(work / f"nodeagent_{project_version()}_{arch}.changes"),
            "work": work}


def contents(deb):
    out = run(["dpkg-deb", "-c", deb]).stdout
    return {line.split()[-1].lstrip(".") for line in out.splitlines()}


def field(deb, name):
    return run(["dpkg-deb", "-f", deb, name]).stdout.strip()


def control_file(deb, tmp_path, name):
    d = tmp_path / "control"
    run(["dpkg-deb", "-e", deb, str(d)])
    p = d / name
    return p.read_text() if p.exists() else ""


def test_package_is_named_after_the_project_version(package):
    assert field(package["deb"], "Version") == project_version()
    assert field(package["deb"], "Package") == "nodeagent"


def test_package_holds_binary_unit_pages_and_configuration(package):
    files = contents(package["deb"])
    for path in ("/usr/sbin/nodeagent", "/lib/systemd/system/nodeagent.service",
                 "/usr/lib/modules-load.d/nodeagent.conf",
                 "/usr/share/man/man8/nodeagent.8.gz", "/usr/share/man/man5/nodeagent.conf.5.gz",
                 "/etc/nodeagent/nodeagent.conf", "/etc/nodeagent/conf.d/",
                 "/usr/share/doc/nodeagent/copyright",
                 "/usr/share/doc/nodeagent/examples/cloudformation/base.yaml",
                 "/usr/share/doc/nodeagent/examples/cloudformation/node.yaml",
                 "/usr/share/doc/nodeagent/examples/cloudformation/iam-policy.json",
                 "/usr/share/doc/nodeagent/examples/app-example.service"):
        assert path in files, path
    # Nothing of the tests: no fake, no test tools.
    assert not any("fakeaws" in f or "awscall" in f for f in files)


def test_depends_come_from_shlibs_and_the_tools_the_agent_runs(package):
    depends = field(package["deb"], "Depends")
    for lib in ("libcurl4", "libssl3", "libjson-c5", "libexpat1", "libudev1", "libmount1", "libblkid1", "libmnl0",
                "libsystemd0", "libc6"):
        assert re.search(rf"\b{lib}\b", depends), (lib, depends)
    assert re.search(r"\be2fsprogs\b", depends) and re.search(r"\budev\b", depends)
    assert "xfsprogs" in field(package["deb"], "Recommends")
    assert "mdadm" in field(package["deb"], "Recommends")


def test_configuration_is_a_conffile(package, tmp_path):
    assert control_file(package["deb"], tmp_path, "conffiles").split() == ["/etc/nodeagent/nodeagent.conf"]


def test_unit_is_enabled_but_never_started_or_restarted_by_the_package(package, tmp_path):
    postinst = control_file(package["deb"], tmp_path, "postinst")
    prerm = control_file(package["deb"], tmp_path, "prerm")
    assert "deb-systemd-helper enable 'nodeagent.service'" in postinst
    assert "deb-systemd-invoke" not in postinst  # no start, no restart
    # Stopped on removal only: an upgrade would stop the application with it.
    assert re.search(r'"\$1" = remove \].*\n\s*deb-systemd-invoke stop nodeagent.service', prerm), prerm
    assert prerm.count("deb-systemd-invoke") == 1


def test_installed_tree_works(package, tmp_path):
    root = tmp_path / "root"
    run(["dpkg-deb", "-x", package["deb"], str(root)])
    binary = root / "usr" / "sbin" / "nodeagent"
    r = run([str(binary), "--version"])
    assert r.returncode == 0 and project_version() in r.stdout
    # The shipped configuration is all comments: it parses, and configures nothing.
    conf = root / "etc" / "nodeagent" / "nodeagent.conf"
    conf.chmod(0o644)
    with open(conf) as f:
        assert all(not line.strip() or line.startswith("#") for line in f)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["AWS_EC2_METADATA_SERVICE_ENDPOINT"] = "http://127.0.0.1:9/"
    env["NODEAGENT_STATE_FILE"] = str(tmp_path / "state")
    proc = subprocess.Popen([str(binary), "--check", "--config", str(conf)], env=env, stderr=subprocess.PIPE,
                            text=True)
    try:
        assert proc.wait(3) != 2, proc.stderr.read()
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def test_lintian_reports_no_errors_or_warnings(package):
    need_tool("lintian")
    r = run(["lintian", "--fail-on", "error,warning", "--display-info", package["changes"]], timeout=600)
    tags = [line for line in r.stdout.splitlines() if re.match(r"^[EW]: ", line)]
    print(r.stdout)
    assert tags == [] and r.returncode == 0, r.stdout + r.stderr
    print(f"package size: {os.path.getsize(package['deb'])} bytes")
