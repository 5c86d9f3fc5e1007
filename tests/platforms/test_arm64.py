"""arm64 (Graviton): the cross-build (Debian's cross toolchain, the
libraries as :arm64 packages, cross/arm64.ini) with the project's -Werror;
every unit test and every fuzz target's seeds run as arm64 code under
qemu-user; the arm64 .deb from dpkg-buildpackage -a arm64 on the release
tarball, whose own build runs the unit tests under qemu-user too, and
lintian has nothing to say about it. Where char is unsigned, as on arm64,
a parser that compares bytes to negative values or indexes a table with a
char behaves differently: these tests are where that would show."""

import json
import os
import re

import pytest

from conftest import ARM64_BUILD, QEMU, TOP, elf_machine, need_tool, project_version, run

pytestmark = pytest.mark.slow


def unit_test_names():
    with open(os.path.join(TOP, "tests", "unit", "meson.build")) as f:
        return re.findall(r"^\s*\['(test-[\w-]+)'", f.read(), re.M)


def fuzz_target_names():
    with open(os.path.join(TOP, "tests", "fuzz", "meson.build")) as f:
        return [n[len("fuzz-"):] for n in re.findall(r"^\s*'(fuzz-[\w-]+)'", f.read(), re.M)]


def test_cross_build_is_arm64_code(arm64_build):
    binary = os.path.join(ARM64_BUILD, "agent", "nodeagent")
    assert elf_machine(binary) == "AArch64"
    r = run([QEMU, binary, "--version"])
    assert r.returncode == 0 and project_version() in r.stdout, r.stdout + r.stderr


@pytest.mark.parametrize("name", unit_test_names())
def test_unit_test_passes_as_arm64_code(arm64_build, name):
    entry = arm64_build["tests"].get(name)
    assert entry is not None, f"{name} did not run:\n{arm64_build['output'][-3000:]}"
    # Through the cross file's exe_wrapper, so as arm64 code.
    assert os.path.basename(entry["command"][0]) == QEMU, entry["command"]
    assert elf_machine(entry["command"][1]) == "AArch64"
    assert entry["result"] == "OK", entry.get("stdout", "")[-4000:] + (entry.get("stderr") or "")[-2000:]


# The seeds of each target, as tests/fuzz/run.sh gives them to libFuzzer.
SEEDS = {
    "config": ["tests/fuzz/seeds/config"],
    "user-data": ["@user-data"],
    "imds": ["tests/fuzz/seeds/imds"],
    "xml": ["tests/unit/replies"],
    "ec2": ["tests/unit/replies"],
    "route53": ["tests/unit/replies"],
    "sigv4": ["@sigv4"],
    "kms": ["tests/unit/replies"],
    "autoscaling": ["tests/unit/replies"],
}


def made_seeds(kind, dest):
    """The seeds run.sh makes rather than keeps, made the same way: user
    data is a configuration behind "#nodeagent" (and one script that is
    not); SigV4 requests in the target's line format from the AWS test
    suite's .req files."""
    dest.mkdir(parents=True, exist_ok=True)
    if kind == "user-data":
        src = os.path.join(TOP, "tests", "fuzz", "seeds", "config")
        for name in sorted(os.listdir(src)):
            with open(os.path.join(src, name), "rb") as f:
                (dest / name).write_bytes(b"#nodeagent\n" + f.read())
        (dest / "script").write_bytes(b"#!/bin/bash\necho not for nodeagent\n")
    elif kind == "sigv4":
        src = os.path.join(TOP, "tests", "unit", "sigv4-testsuite")
        for root, _, names in os.walk(src):
            for name in names:
                if not name.endswith(".req"):
                    continue
                with open(os.path.join(root, name), "rb") as f:
                    raw = f.read().replace(b"\r\n", b"\n")
                head, _, body = raw.partition(b"\n\n")
                lines = head.split(b"\n")
                parts = lines[0].split(b" ")
                method, target = parts[0], b" ".join(parts[1:-1])
                path, _, query = target.partition(b"?")
                (dest / name[:-4]).write_bytes(b"\n".join([method, path, query] + lines[1:]) + b"\n\n" + body)
    return str(dest)


@pytest.fixture(scope="module")
def replay_link_args(arm64_build):
    """The agent's library and its dependencies' link flags, from the
    cross-build's own introspection (so from meson.build, for arm64)."""
    r = run(["meson", "introspect", "--dependencies", ARM64_BUILD])
    assert r.returncode == 0, r.stderr
    args = []
    for dep in json.loads(r.stdout):
        args += [a for a in dep.get("link_args", []) if a not in args]
    return [os.path.join(ARM64_BUILD, "agent", "libnodeagent.a")] + args


@pytest.mark.parametrize("target", fuzz_target_names())
def test_fuzz_seeds_replay_as_arm64_code(replay_link_args, target, tmp_path):
    """Each target linked with tests/fuzz/replay.c instead of libFuzzer
    (which would need aarch64 compiler-rt), run over its seeds: no crash and
    no abort() of the target's own checks."""
    assert target in SEEDS, f"fuzz-{target} has no seeds here: add it to SEEDS in {__file__}"
    binary = tmp_path / f"replay-{target}"
    r = run(["aarch64-linux-gnu-gcc", "-std=gnu17", "-D_GNU_SOURCE", "-O1", "-g", "-Wall", "-Wextra", "-Werror",
             "-Wno-unused-parameter", "-Wmissing-prototypes", "-I", os.path.join(TOP, "agent"),
             "-o", str(binary), os.path.join(TOP, "tests", "fuzz", f"fuzz-{target}.c"),
             os.path.join(TOP, "tests", "fuzz", "replay.c"), *replay_link_args], timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert elf_machine(str(binary)) == "AArch64"
    dirs = [made_seeds(s[1:], tmp_path / s[1:]) if s.startswith("@") else os.path.join(TOP, s) for s in SEEDS[target]]
    expected = sum(1 for d in dirs for n in os.listdir(d)
                   if not n.startswith(".") and os.path.isfile(os.path.join(d, n)))
    # The targets log every line at the most detail (that code meets the
    # inputs too); their stderr is not the result.
    r = run([QEMU, str(binary), *dirs], timeout=600)
    assert r.returncode == 0, f"exit {r.returncode}\n{r.stdout}\n{r.stderr[-4000:]}"
    assert f"replayed {expected} inputs" in r.stdout, (expected, r.stdout)


def deb_field(deb, name):
    return run(["dpkg-deb", "-f", deb, name]).stdout.strip()


def test_deb_is_arm64(arm64_deb, tmp_path):
    assert deb_field(arm64_deb["deb"], "Architecture") == "arm64"
    assert deb_field(arm64_deb["deb"], "Version") == project_version()
    root = tmp_path / "root"
    run(["dpkg-deb", "-x", arm64_deb["deb"], str(root)])
    binary = str(root / "usr" / "sbin" / "nodeagent")
    assert elf_machine(binary) == "AArch64"
    r = run([QEMU, binary, "--version"])
    assert r.returncode == 0 and project_version() in r.stdout, r.stdout + r.stderr


def test_deb_build_ran_the_unit_tests_as_arm64_code(arm64_deb):
    log = arm64_deb["log"]
    tests = log[log.index("meson test"):]
    assert re.search(r"^Ok:\s+(\d+)", tests, re.M).group(1) == str(len(unit_test_names())), tests[-3000:]
    assert re.search(r"^Fail:\s+0\b", tests, re.M) and re.search(r"^Skipped:\s+0\b", tests, re.M), tests[-3000:]
    testlog = arm64_deb["src"] / "obj-aarch64-linux-gnu" / "meson-logs" / "testlog.txt"
    assert QEMU in testlog.read_text()


def test_deb_depends_on_the_arm64_libraries(arm64_deb):
    depends = deb_field(arm64_deb["deb"], "Depends")
    for lib in ("libcurl4", "libssl3", "libjson-c5", "libexpat1", "libudev1", "libmount1", "libblkid1", "libmnl0",
                "libsystemd0", "libc6"):
        assert re.search(rf"\b{lib}\b", depends), (lib, depends)
    assert re.search(r"\be2fsprogs\b", depends) and re.search(r"\budev\b", depends)


def test_lintian_reports_no_errors_or_warnings(arm64_deb):
    need_tool("lintian")
    r = run(["lintian", "--fail-on", "error,warning", "--display-info", arm64_deb["changes"]], timeout=600)
    print(r.stdout)
    tags = [line for line in r.stdout.splitlines() if re.match(r"^[EW]: ", line)]
    assert tags == [] and r.returncode == 0, r.stdout + r.stderr
