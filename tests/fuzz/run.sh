#!/bin/bash
# Runs the libFuzzer targets (built by tests/fuzz/build.sh), each for a while,
# seeded from the recorded replies, the sample configurations and the SigV4
# test suite; the corpus each run grows is kept in the work directory and used
# again by the next run.
#
#   tests/fuzz/run.sh [-t SECONDS] [-b BUILD_DIR] [-w WORK_DIR] [-j JUNIT.xml] [TARGET...]
#
#   -t   seconds per target (default 20; CI's short form). The long form:
#        tests/fuzz/run.sh -t 3600
#   -b   the fuzz build tree (default build-fuzz)
#   -w   where corpora, crash artifacts and logs go (default build-fuzz/fuzz-work)
#   -j   also write a JUnit file: one test case per target
#   TARGET: config, user-data, imds, xml, ec2, route53, sigv4, kms, autoscaling (default all)
#
# Prints one line per target: executions, corpus size, crashes. Exit status 1
# when any target found a crash, a leak or a sanitizer report (the input that
# did it is in WORK_DIR/artifacts/: rerun it with BUILD_DIR/tests/fuzz/fuzz-X FILE).
set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
seconds=20
build=$top/build-fuzz
work=
junit=
while getopts "t:b:w:j:" opt; do
        case $opt in
        t) seconds=$OPTARG ;;
        b) build=$OPTARG ;;
        w) work=$OPTARG ;;
        j) junit=$OPTARG ;;
        *) exit 2 ;;
        esac
done
shift $((OPTIND - 1))
work=${work:-$build/fuzz-work}
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(config user-data imds xml ec2 route53 sigv4 kms autoscaling)

replies=$top/tests/unit/replies
seeds=$top/tests/fuzz/seeds
mkdir -p "$work/artifacts" "$work/logs" "$work/seeds"

# Seeds that are made rather than kept: user data is a configuration behind
# "#nodeagent"; SigV4 requests in the target's line format, from the AWS
# test suite's .req files ("METHOD PATH?QUERY HTTP/1.1", headers, blank, body).
make_seeds() {
        local d=$work/seeds/user-data f
        mkdir -p "$d"
        for f in "$seeds"/config/*.conf; do
                { echo "#nodeagent"; cat "$f"; } > "$d/$(basename "$f")"
        done
        printf '#!/bin/bash\necho not for nodeagent\n' > "$d/script"
        d=$work/seeds/sigv4
        mkdir -p "$d"
        /usr/bin/python3 - "$top/tests/unit/sigv4-testsuite" "$d" <<'PY'
import os, sys
src, out = sys.argv[1], sys.argv[2]
for root, _, files in os.walk(src):
    for name in files:
        if not name.endswith(".req"):
            continue
        raw = open(os.path.join(root, name), "rb").read().replace(b"\r\n", b"\n")
        head, _, body = raw.partition(b"\n\n")
        lines = head.split(b"\n")
        parts = lines[0].split(b" ")
        method, target = parts[0], b" ".join(parts[1:-1])
        path, _, query = target.partition(b"?")
        open(os.path.join(out, name[:-4]), "wb").write(
            b"\n".join([method, path, query] + lines[1:]) + b"\n\n" + body)
PY
}
make_seeds

seed_dirs() {
        case $1 in
        config) echo "$seeds/config" ;;
        user-data) echo "$work/seeds/user-data" ;;
        imds) echo "$seeds/imds" ;;
        xml|ec2|route53|kms|autoscaling) echo "$replies" ;;
        sigv4) echo "$work/seeds/sigv4" ;;
        *) echo "unknown fuzz target: $1" >&2; return 1 ;;
        esac
}

failed=0
cases=()
printf '%-16s %12s %10s %8s %8s\n' target executions exec/s corpus crashes
for t in "${targets[@]}"; do
        bin=$build/tests/fuzz/fuzz-$t
        [ -x "$bin" ] || { echo "missing $bin: run tests/fuzz/build.sh" >&2; exit 2; }
        src=$(seed_dirs "$t")
        corpus=$work/corpus/$t
        mkdir -p "$corpus"
        log=$work/logs/$t.log
        rc=0
        # stderr of the target (the agent's log lines) is closed; libFuzzer and
        # the sanitizers report on their own copy of it. A small quarantine:
        # page faults, not the code, cost most in a VM with the default 256 MiB.
        ASAN_OPTIONS=detect_leaks=1:quarantine_size_mb=16:malloc_context_size=10 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
                "$bin" -max_total_time="$seconds" -close_fd_mask=2 -print_final_stats=1 -timeout=10 \
                -rss_limit_mb=2048 -artifact_prefix="$work/artifacts/$t-" "$corpus" "$src" \
                > "$log" 2>&1 || rc=$?
        execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
        rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
        size=$(find "$corpus" -type f | wc -l)
        crashes=0
        if [ "$rc" -ne 0 ] || grep -q -e "ERROR: AddressSanitizer" -e "runtime error:" -e "ERROR: LeakSanitizer" \
                        -e "ERROR: libFuzzer" "$log"; then
                crashes=1
                failed=1
        fi
        printf '%-16s %12s %10s %8s %8s\n' "fuzz-$t" "${execs:-0}" "${rate:-0}" "$size" "$crashes"
        if [ "$crashes" -ne 0 ]; then
                echo "--- fuzz-$t failed (exit $rc); log $log:" >&2
                grep -A30 -m1 -e "ERROR:" -e "runtime error:" -e "==ERROR" "$log" >&2 || tail -30 "$log" >&2
        fi
        cases+=("$t ${execs:-0} $crashes")
done

if [ -n "$junit" ]; then
        {
                n=${#cases[@]}
                echo '<?xml version="1.0" encoding="utf-8"?>'
                echo "<testsuite name=\"fuzz\" tests=\"$n\" failures=\"$(printf '%s\n' "${cases[@]}" | awk '$3 != 0' | wc -l)\" errors=\"0\" skipped=\"0\">"
                for c in "${cases[@]}"; do
                        read -r name execs crashed <<< "$c"
                        echo "  <testcase classname=\"fuzz\" name=\"fuzz-$name ($execs executions, ${seconds}s)\">"
                        [ "$crashed" -eq 0 ] || echo "    <failure message=\"crash or sanitizer report; see $work/logs/$name.log\"/>"
                        echo "  </testcase>"
                done
                echo '</testsuite>'
        } > "$junit"
fi
exit $failed
