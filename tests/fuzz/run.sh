#!/bin/bash
# Run one libFuzzer target of tests/fuzz/ (docs/fuzzing.md):
#
#   tests/fuzz/run.sh TARGET SECONDS [LIBFUZZER_ARGS...]
#
# TARGET is request, response, chunked or frames (build/fuzz/fuzz-TARGET).
# First every reproducer in tests/fuzz/regressions/TARGET/ is replayed (each
# must now pass), then the target fuzzes for SECONDS on its working corpus
# build/fuzz/corpus/TARGET (new inputs land there) and the checked-in seeds
# tests/fuzz/corpus/TARGET.  Crashes, sanitizer reports, timeouts (10 s per
# input) and leaks are written to build/fuzz/crashes/TARGET/ and fail the
# run.  Prints one line: "fuzz-TARGET: N executions in S s ...: ok|FAILED".
# Exit status 0 only if nothing failed.
#
# Environment: BUILD (default build).
set -u

BUILD=${BUILD:-build}
[ $# -ge 2 ] || { echo "usage: $0 TARGET SECONDS [LIBFUZZER_ARGS...]" >&2; exit 2; }
t=$1 secs=$2
shift 2
here=$(cd "$(dirname "$0")" && pwd)
bin=$BUILD/fuzz/fuzz-$t
seeds=$here/corpus/$t
work=$BUILD/fuzz/corpus/$t
crashes=$BUILD/fuzz/crashes/$t
logs=$BUILD/fuzz/logs
log=$logs/$t.log
mkdir -p "$work" "$crashes" "$logs"

if [ ! -x "$bin" ]; then
    echo "fuzz-$t: $bin not built (make fuzz-build): FAILED"
    exit 1
fi

# 1. Regressions: each reproducer must pass now.
regs=()
if [ -d "$here/regressions/$t" ]; then
    while IFS= read -r -d '' f; do regs+=("$f"); done < \
        <(find "$here/regressions/$t" -type f ! -name '*.md' -print0 | sort -z)
fi
if [ ${#regs[@]} -gt 0 ]; then
    if ! timeout 300 "$bin" -timeout=10 "${regs[@]}" >"$logs/$t-regressions.log" 2>&1; then
        echo "fuzz-$t: a regression input fails again (log: $logs/$t-regressions.log):"
        grep -E 'ERROR|SUMMARY|invariant|runtime error|Running:' \
            "$logs/$t-regressions.log" | tail -n 8 | sed 's/^/    /'
        echo "fuzz-$t: FAILED"
        exit 1
    fi
fi

# 2. Fuzz.  The wall-clock bound leaves libFuzzer time to stop by itself.
timeout $((secs + 120)) "$bin" -max_total_time="$secs" -timeout=10 \
    -rss_limit_mb=2048 -dict="$here/http.dict" -artifact_prefix="$crashes/" \
    -print_final_stats=1 "$@" "$work" "$seeds" >"$log" 2>&1
rc=$?

runs=$(sed -nE 's/^stat::number_of_executed_units: *([0-9]+).*/\1/p' "$log" | tail -n 1)
took=$(sed -nE 's/^Done [0-9]+ runs in ([0-9]+) second.*/\1/p' "$log" | tail -n 1)
cov=$(grep -E '^#[0-9]+.*(DONE|pulse|NEW|REDUCE)' "$log" | tail -n 1 |
      sed -nE 's/.*cov: ([0-9]+) ft: ([0-9]+) corp: ([0-9]+).*/cov \1, ft \2, corpus \3/p')
bad=$(grep -cE '^==[0-9]+==ERROR|^SUMMARY: |invariant broken|runtime error|ALARM: working on the last Unit' "$log")
if [ "$rc" = 0 ] && [ "$bad" = 0 ] && [ -n "$runs" ]; then
    echo "fuzz-$t: ${runs} executions in ${took:-?} s (${cov:-no stats}): ok"
    exit 0
fi
echo "fuzz-$t: ${runs:-?} executions, exit $rc (log: $log):"
grep -E '^==[0-9]+==ERROR|^SUMMARY: |invariant broken|runtime error|ALARM|^artifact_prefix|Test unit written' \
    "$log" | head -n 12 | sed 's/^/    /'
echo "fuzz-$t: FAILED"
exit 1
