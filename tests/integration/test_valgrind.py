"""Valgrind memcheck over whole agent runs: a first `--once` boot of the
volume path (loop device, the instance role, user data, DNS with
WaitInSync=yes), a replacement boot, `--status`, `--check` and `--detach`.
Each must report no error and no definite or indirect leak
(--error-exitcode=99). Suppressions, if any, live in tests/valgrind.supp and
may only name one-time global allocations of libcurl and OpenSSL.

Slow (memcheck runs the agent some 20 times slower), so it runs only when
NODEAGENT_VALGRIND=1: `sudo ./scripts/test valgrind`."""

import os
import re
import shutil

import pytest

from harness import TOP, run

pytestmark = [pytest.mark.skipif(os.environ.get("NODEAGENT_VALGRIND") != "1",
                                 reason="valgrind runs in its own suite: NODEAGENT_VALGRIND=1"),
              pytest.mark.skipif(not shutil.which("valgrind"), reason="no valgrind")]

SUPPRESSIONS = os.path.join(TOP, "tests", "valgrind.supp")


def memcheck(b, tmp, name, *args, role=True):
    log = os.path.join(tmp, f"valgrind-{name}.log")
    argv = ["valgrind", "--quiet", "--error-exitcode=99", "--leak-check=full", "--show-leak-kinds=definite,indirect",
            "--errors-for-leak-kinds=definite,indirect", "--track-origins=yes", "--num-callers=30",
            f"--log-file={log}"]
    if os.path.exists(SUPPRESSIONS):
        argv.append(f"--suppressions={SUPPRESSIONS}")
    r = run(argv + b.argv(*args), b.env(role), timeout=600)
    with open(log) as f:
        report = f.read()
    return r, report


def errors_in(report):
    m = re.findall(r"ERROR SUMMARY: (\d+) errors", report)
    return int(m[-1]) if m else None


def test_whole_boot_and_tools_under_memcheck(vboot, tmp_path):
    b = vboot.prepare(timeout="180s")
    runs = [("first-boot", ("--once", "-v")),
            ("second-boot", ("--once", "-v")),
            ("status", ("--status",)),
            ("check", ("--check",)),
            ("detach", ("--detach",)),
            ("replacement-boot", ("--once", "-v", "-v", "-v"))]
    for name, args in runs:
        r, report = memcheck(b, str(tmp_path), name, *args)
        assert r.status != 99, f"{name}: valgrind found errors or leaks:\n{report}"
        assert r.status == 0, (name, r, report)
        assert "definitely lost" not in report and "Invalid " not in report, report
    b.assert_booted(r)
