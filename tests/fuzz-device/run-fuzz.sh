#!/bin/bash
# Run QEMU's generic device fuzzer on proxycard (generic-fuzz-proxycard) for
# a bounded time and say whether it found anything.  docs/fuzzing-device.md.
#
# usage: tests/fuzz-device/run-fuzz.sh --bin QEMU_FUZZ_BIN [--time SECONDS]
#            [--dir OUT_DIR] [--timeout SECONDS] [-- LIBFUZZER_ARGS...]
#
#   --time     libFuzzer's -max_total_time (default 600)
#   --dir      corpus/, artifacts/ (crash-*, timeout-*, ...) and fuzz.log
#              (default build/fuzz-device)
#   --timeout  seconds one input may run before libFuzzer calls it a hang
#              (default 10)
#
# Hangs: generic-fuzz stops an input after QEMU_FUZZ_TIMEOUT microseconds
# (default 100 ms) by _Exit(0) in the forked child, i.e. silently.  A
# deadlock is a finding here, so QEMU_FUZZ_TIMEOUT=0 and libFuzzer's own
# -timeout reports it as timeout-<sha1> instead.
#
# Exit status: 0 if the fuzzer ran to its time with no report, 1 otherwise.
# Every process of the run lives in one session (setsid) that is killed by
# its id afterwards: a deadlocked child outlives libFuzzer otherwise.
set -u

here=$(cd "$(dirname "$0")" && pwd)
bin="" time=600 dir=build/fuzz-device timeout=10
while [ $# -gt 0 ]; do
    case $1 in
    --bin) bin=$2; shift 2 ;;
    --time) time=$2; shift 2 ;;
    --dir) dir=$2; shift 2 ;;
    --timeout) timeout=$2; shift 2 ;;
    --) shift; break ;;
    *) echo "usage: $0 --bin QEMU_FUZZ_BIN [--time S] [--dir DIR] [--timeout S] [-- ARGS]" >&2
       exit 2 ;;
    esac
done
[ -x "$bin" ] || { echo "run-fuzz: no fuzzer binary '$bin' (make fuzz-device builds it)" >&2; exit 2; }

mkdir -p "$dir/corpus" "$dir/artifacts"
log=$dir/fuzz.log
before=$(ls "$dir/artifacts" | wc -l)

export QEMU_FUZZ_TIMEOUT=0
# detect_leaks=0 as QEMU's oss-fuzz build: the forked children _Exit().
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:abort_on_error=0:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
if [ -z "${ASAN_SYMBOLIZER_PATH:-}" ] && [ -x /usr/bin/llvm-symbolizer-14 ]; then
    export ASAN_SYMBOLIZER_PATH=/usr/bin/llvm-symbolizer-14
fi

echo "run-fuzz: $bin --fuzz-target=generic-fuzz-proxycard for ${time} s," \
     "hang timeout ${timeout} s; log $log"
# The seeds (tests/fuzz-device/seeds, if any) are read; new inputs go to
# corpus/.
seeds=()
[ -d "$here/seeds" ] && seeds=("$here/seeds")
setsid "$bin" --fuzz-target=generic-fuzz-proxycard \
    -max_total_time="$time" -timeout="$timeout" -print_final_stats=1 \
    -artifact_prefix="$dir/artifacts/" "$@" \
    "$dir/corpus" "${seeds[@]}" >"$log" 2>&1 &
pid=$!
wait $pid
rc=$?
# The session's id is the fuzzer's pid: end whatever of it is left.
kill -KILL -- "-$pid" 2>/dev/null

runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
secs=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log" | tail -n 1)
after=$(ls "$dir/artifacts" | wc -l)
echo "run-fuzz: exit $rc, ${runs:-?} executions in ${secs:-?} s," \
     "$((after - before)) new report(s) in $dir/artifacts/"
if [ "$rc" != 0 ] || [ "$after" != "$before" ]; then
    grep -E '^==[0-9]+==ERROR|^SUMMARY|runtime error|ALARM|libFuzzer: ' "$log" | head -n 20
    ls -t "$dir/artifacts" | head -n 5 | sed "s|^|run-fuzz: report $dir/artifacts/|"
    exit 1
fi
exit 0
