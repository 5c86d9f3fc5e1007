#!/usr/bin/python3
"""The static analysis suite: clang-tidy (the checks of .clang-tidy) and
cppcheck (the options below, the suppressions in cppcheck-suppressions.txt)
over every C file of agent/ and tests/ that the build compiles, fuzz targets
included.

    tests/static/run.py -b BUILD_DIR [-j JOBS] [--junit FILE]

BUILD_DIR is a meson tree configured with clang and -Dfuzz=true (for its
compile_commands.json: nothing is built). Prints each finding, then a count
per check; writes a JUnit file in which each finding is one failing test
case and each clean (tool, file) pair one passing test case. Exit status 1
when anything was found.

One kind of report is dropped here rather than suppressed line by line:
clang 14's analyzer and cppcheck 2.10 do not run __attribute__((cleanup))
functions at the end of a scope (clang's CFG has them from clang 18 on), so
memory held by a variable declared with _cleanup_ looks leaked after the
variable's last use, and a store to it (TAKE_PTR() leaving NULL,
"x = (T) {}" after a hand-over) looks never read. A report is dropped only
when all of these hold: it is a leak report (clang-analyzer-unix.Malloc
"Potential leak of memory pointed to by 'x'", cppcheck memleak or
resourceLeak "x") or a dead store report (clang-analyzer-deadcode.DeadStores
"Value stored to 'x'"); the variable it names (or the struct whose field it
names) is declared with a _cleanup_ attribute in the function around the
reported line (or in a macro of the same file, for the tests' ASSERT
helpers); and, for a leak, the reported line does not assign that variable:
a leak where a _cleanup_ pointer is overwritten while it still holds memory
is a real one and is still reported. The count of dropped reports is
printed.
"""
import argparse
import collections
import concurrent.futures
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET

TOP = os.path.realpath(os.path.join(os.path.dirname(__file__), "..", ".."))
HERE = os.path.join(TOP, "tests", "static")

# cppcheck's classes of checks: "warning" (likely bugs), "portability" and
# "performance". Not "style": its variableScope, redundantInitialization
# and constParameter argue with the project's conventions (a _cleanup_
# variable is declared at the top of its function and initialized to NULL
# on purpose) and find no bugs that the other classes or clang-tidy miss.
CPPCHECK_OPTIONS = [
    "--std=c11",
    "--enable=warning,portability,performance",
    "--library=posix", "--library=gnu",
    # One configuration, the one gcc and clang build: without -D, cppcheck
    # tries every combination of #ifdefs, most of which never compile.
    "-D_GNU_SOURCE", "-D__GNUC__", "-D__linux__",
    "-Iagent", "-Itests/unit",
    "--inline-suppr",
    "--suppressions-list=" + os.path.join("tests", "static", "cppcheck-suppressions.txt"),
    "--error-exitcode=0",
]

Finding = collections.namedtuple("Finding", "tool file line col check message")

LINE_RE = re.compile(r"^(?P<file>[^\s:][^:]*):(?P<line>\d+):(?P<col>\d+): (?P<sev>warning|error): (?P<msg>.*)$")
CHECK_RE = re.compile(r"^(?P<msg>.*?)\s*\[(?P<check>[A-Za-z0-9_.,-]+)\]$")


def rel(path, base):
    path = os.path.normpath(os.path.join(base, path))
    return os.path.relpath(path, TOP)


def source_files(build, database_dir):
    """The C files of agent/ and tests/ in the build's
    compile_commands.json, once each, with the directory each is compiled
    in. The first command of each file is written to a database of
    database_dir: given the build's own, clang-tidy would analyze
    tests/unit/tests.c once for each of the 24 tests it is compiled into."""
    with open(os.path.join(build, "compile_commands.json")) as f:
        entries = json.load(f)
    files, once = {}, []
    for e in entries:
        path = rel(e["file"], e["directory"])
        if path.startswith(("agent/", "tests/")) and path not in files:
            files[path] = e["directory"]
            once.append(e)
    with open(os.path.join(database_dir, "compile_commands.json"), "w") as f:
        json.dump(once, f)
    return files


def parse_clang_tidy(output, directory):
    """Findings from clang-tidy's output. A message may run over several
    lines (the padding checker lists the better order of the fields): its
    check name then ends the last of them."""
    findings = []
    lines = output.splitlines()
    i = 0
    while i < len(lines):
        m = LINE_RE.match(lines[i])
        i += 1
        if not m:
            continue
        msg = m.group("msg")
        c = CHECK_RE.match(msg)
        while not c and i < len(lines) and not LINE_RE.match(lines[i]):
            msg += " " + lines[i].strip()
            i += 1
            c = CHECK_RE.match(msg)
        check = c.group("check") if c else "clang-tidy-unknown"
        msg = c.group("msg") if c else msg
        if "note" in m.group("sev"):
            continue
        findings.append(Finding("clang-tidy", rel(m.group("file"), directory), int(m.group("line")),
                                int(m.group("col")), check, msg))
    return findings


def run_clang_tidy(path, database_dir, directory):
    p = subprocess.run(["clang-tidy", "--quiet", "-p", database_dir, path], cwd=TOP,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    findings = parse_clang_tidy(p.stdout, directory)
    if p.returncode != 0 and not findings:
        findings.append(Finding("clang-tidy", path, 0, 0, "clang-tidy-failed",
                                f"clang-tidy exited {p.returncode}: {p.stdout[-2000:]}"))
    return findings


def run_cppcheck(paths, jobs):
    p = subprocess.run(["cppcheck", "-q", f"-j{jobs}",
                        "--template={file}:{line}:{column}: warning: {message} [{id}]"]
                       + CPPCHECK_OPTIONS + list(paths),
                       cwd=TOP, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    findings = []
    for line in p.stderr.splitlines():
        m = LINE_RE.match(line)
        c = CHECK_RE.match(m.group("msg")) if m else None
        if m and c:
            findings.append(Finding("cppcheck", rel(m.group("file"), TOP), int(m.group("line")),
                                    int(m.group("col")), c.group("check"), c.group("msg")))
        elif line.strip():
            findings.append(Finding("cppcheck", "cppcheck", 0, 0, "cppcheck-output", line))
    if p.returncode != 0:
        findings.append(Finding("cppcheck", "cppcheck", 0, 0, "cppcheck-failed",
                                f"cppcheck exited {p.returncode}"))
    return findings


# The _cleanup_ filter (see the top of this file).
CLEANUP_REPORTS = [
    ("clang-analyzer-unix.Malloc", re.compile(r"^Potential leak of memory pointed to by '([^']+)'$"), True),
    ("clang-analyzer-deadcode.DeadStores", re.compile(r"^Value stored to '([^']+)' is never read$"), False),
    ("clang-analyzer-deadcode.DeadStores",
     re.compile(r"^Although the value stored to '([^']+)' is used in the enclosing expression"), False),
    ("memleak", re.compile(r"^Memory leak: (\S+)$"), True),
    ("resourceLeak", re.compile(r"^Resource leak: (\S+)$"), True),
]
# The first line of a function's definition: at column 0, "type name(".
FUNCTION_START = re.compile(r"^[A-Za-z_][\w\s*]*?\b\w+\(")
CLEANUP_DECL = re.compile(r"\b_cleanup_\w*(?:\([^()]*\))?\s+([^;]*);", re.S)
_source_cache = {}


def source_lines(path):
    if path not in _source_cache:
        try:
            with open(os.path.join(TOP, path), errors="replace") as f:
                _source_cache[path] = f.read().split("\n")
        except OSError:
            _source_cache[path] = []
    return _source_cache[path]


def file_macros(path):
    """The bodies of the file's multi-line #defines."""
    macros, cur = [], None
    for line in source_lines(path):
        if cur is None and line.startswith("#define") and line.endswith("\\"):
            cur = [line]
        elif cur is not None:
            cur.append(line)
        if cur is not None and not line.endswith("\\"):
            macros.append("\n".join(cur))
            cur = None
    return macros


def declared_names(declarators):
    """The names a declaration list declares: "char *a = NULL, *b = f(x, y)"
    gives a and b (initializers and their commas left out)."""
    names, depth, seg = [], 0, ""
    for ch in declarators + ",":
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        if ch == "," and depth == 0:
            ids = re.findall(r"[A-Za-z_]\w*", seg.split("=", 1)[0].split("[", 1)[0])
            if ids:
                names.append(ids[-1])
            seg = ""
        else:
            seg += ch
    return names


def cleanup_false_positive(f):
    for check, pattern, is_leak in CLEANUP_REPORTS:
        if f.check != check:
            continue
        m = pattern.match(f.message)
        if not m:
            continue
        var = re.split(r"\.|->|\[", m.group(1))[0]
        lines = source_lines(f.file)
        if not 0 < f.line <= len(lines):
            return False
        if is_leak and re.search(r"(?<![.>])\b" + re.escape(var) + r"\s*=(?!=)", lines[f.line - 1]):
            return False
        start = f.line - 1
        while start > 0 and not FUNCTION_START.match(lines[start]):
            start -= 1
        scopes = ["\n".join(lines[start:f.line])] + file_macros(f.file)
        return any(var in declared_names(d.group(1)) for s in scopes for d in CLEANUP_DECL.finditer(s))
    return False


def junit(path, findings, checked, seconds):
    suite = ET.Element("testsuite", name="static", time=f"{seconds:.1f}")
    by_file = collections.defaultdict(list)
    for f in findings:
        by_file[(f.tool, f.file)].append(f)
    tests = failures = 0
    for tool, file in sorted(checked):
        if not by_file.get((tool, file)):
            ET.SubElement(suite, "testcase", classname=tool, name=file)
            tests += 1
    for f in findings:
        case = ET.SubElement(suite, "testcase", classname=f"{f.tool}.{f.check}",
                             name=f"{f.file}:{f.line}:{f.col}")
        ET.SubElement(case, "failure", message=f.message)
        tests += 1
        failures += 1
    suite.set("tests", str(tests))
    suite.set("failures", str(failures))
    suite.set("errors", "0")
    suite.set("skipped", "0")
    ET.ElementTree(suite).write(path, encoding="unicode", xml_declaration=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-b", "--build", required=True)
    ap.add_argument("-j", "--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--junit")
    ap.add_argument("files", nargs="*", help="only these files (as agent/x.c)")
    args = ap.parse_args()
    build = os.path.realpath(args.build)
    start = time.monotonic()

    database_dir = tempfile.mkdtemp(prefix="nodeagent-static.")
    try:
        files = source_files(build, database_dir)
        if args.files:
            files = {p: d for p, d in files.items() if p in args.files}
        raw = []
        with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
            for result in pool.map(lambda p: run_clang_tidy(p, database_dir, files[p]), sorted(files)):
                raw += result
    finally:
        shutil.rmtree(database_dir, ignore_errors=True)
    tidy_seconds = time.monotonic() - start
    raw += run_cppcheck(sorted(files), args.jobs)

    # A header's findings come once per file that includes it.
    findings, seen, dropped = [], set(), collections.Counter()
    for f in raw:
        key = (f.tool, f.file, f.line, f.col, f.check, f.message)
        if key in seen:
            continue
        seen.add(key)
        if cleanup_false_positive(f):
            dropped[f.check] += 1
            continue
        findings.append(f)
    findings.sort(key=lambda f: (f.file, f.line, f.col, f.check))

    for f in findings:
        print(f"{f.file}:{f.line}:{f.col}: {f.tool}: {f.message} [{f.check}]")
    print("== static: findings per check:")
    for check, n in sorted(collections.Counter(f.check for f in findings).items()):
        print(f"   {n:4d} {check}")
    if dropped:
        print("== static: dropped as _cleanup_ false positives (see tests/static/run.py): "
              + ", ".join(f"{c} {n}" for c, n in sorted(dropped.items())))
    seconds = time.monotonic() - start
    print(f"== static: {len(files)} files, {len(findings)} findings "
          f"(clang-tidy {tidy_seconds:.0f} s, cppcheck {seconds - tidy_seconds:.0f} s)")
    if args.junit:
        checked = {(t, p) for p in files for t in ("clang-tidy", "cppcheck")}
        junit(args.junit, findings, checked, seconds)
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
