#!/usr/bin/python3
"""Prints "PASSED FAILED" for a meson testlog.json or a JUnit XML file."""
import json
import sys
import xml.etree.ElementTree as ET


def meson_counts(path):
    """Counts the TAP lines of each test program; a program that failed
    without a failing TAP line (a crash, a sanitizer report) counts as one
    failure more."""
    passed = failed = 0
    with open(path) as f:
        for line in f:
            if not line.strip():
                continue
            entry = json.loads(line)
            out = entry.get("stdout") or ""
            ok = sum(1 for l in out.splitlines() if l.startswith("ok "))
            bad = sum(1 for l in out.splitlines() if l.startswith("not ok "))
            program_ok = entry["result"] in ("OK", "EXPECTEDFAIL", "SKIP")
            if ok + bad == 0:
                ok, bad = (1, 0) if program_ok else (0, 1)
            elif not program_ok and bad == 0:
                bad = 1
            passed += ok
            failed += bad
    return passed, failed


def junit_counts(path):
    root = ET.parse(path).getroot()
    suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
    tests = failed = skipped = 0
    for s in suites:
        tests += int(s.get("tests", 0))
        failed += int(s.get("failures", 0)) + int(s.get("errors", 0))
        skipped += int(s.get("skipped", 0))
    return tests - failed - skipped, failed


def main():
    path = sys.argv[1]
    try:
        counts = junit_counts(path) if path.endswith(".xml") else meson_counts(path)
    except (OSError, ValueError, ET.ParseError) as e:
        print(f"cannot read {path}: {e}", file=sys.stderr)
        counts = (0, 1)
    print(*counts)


if __name__ == "__main__":
    main()
