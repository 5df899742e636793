#!/bin/bash
# Run every test layer of proxycard and end with one line:
#   N passed, N failed[, N skipped]
# Each layer prints its own counts first.  Exit status 0 only if nothing
# failed.  Called by `make check` after everything is built.
#
# Environment: BUILD (default build), QEMU_BUILD (default $BUILD/qemu).
set -u

BUILD=${BUILD:-build}
QEMU_BUILD=${QEMU_BUILD:-$BUILD/qemu}
LOGDIR=$BUILD/test-logs
mkdir -p "$LOGDIR"

passed=0 failed=0 skipped=0

# layer NAME PASSED FAILED [SKIPPED]
layer() {
    printf '== %-10s %d passed, %d failed' "$1" "$2" "$3"
    [ "${4:-0}" -gt 0 ] && printf ', %d skipped' "$4"
    printf '\n'
    passed=$((passed + $2)) failed=$((failed + $3)) skipped=$((skipped + ${4:-0}))
}

# --- 1. firmware unit tests (Check): the pieces, then the pool ---
# check_layer NAME BINARY: run a Check runner and count its summary line.
check_layer() {
    local name=$1 bin=$2 log=$LOGDIR/$1.log line n f e rc
    CK_DEFAULT_TIMEOUT=60 timeout 300 "$bin" >"$log" 2>&1
    rc=$?
    cat "$log"
    line=$(grep -E 'Checks: [0-9]+, Failures: [0-9]+, Errors: [0-9]+' "$log" | tail -n 1)
    if [ -n "$line" ]; then
        n=$(sed -E 's/.*Checks: ([0-9]+).*/\1/' <<<"$line")
        f=$(sed -E 's/.*Failures: ([0-9]+).*/\1/' <<<"$line")
        e=$(sed -E 's/.*Errors: ([0-9]+).*/\1/' <<<"$line")
        layer "$name" $((n - f - e)) $((f + e))
    else
        echo "$name: the Check runner printed no summary (exit $rc)"
        layer "$name" 0 1
    fi
}
check_layer unit "$BUILD/tests/unit/fw-unit"
check_layer pool "$BUILD/tests/unit/fw-pool"

# --- 2. static checks: symbol hygiene, datasheet vs header ---
static_pass=0 static_fail=0
for t in tests/static/*.sh; do
    if BUILD=$BUILD timeout 60 "$t" >"$LOGDIR/$(basename "$t").log" 2>&1; then
        echo "ok   $(basename "$t")"
        static_pass=$((static_pass + 1))
    else
        echo "FAIL $(basename "$t"):"
        sed 's/^/    /' "$LOGDIR/$(basename "$t").log"
        static_fail=$((static_fail + 1))
    fi
done
layer static $static_pass $static_fail

# tap_layer NAME LOG RC: count a TAP log ("ok", "not ok", "# SKIP"; a
# "not ok ... # TODO" is an expected failure, counted as skipped); a
# non-zero exit with no failing test (crash, timeout) counts as one failure.
tap_layer() {
    local name=$1 log=$2 rc=$3 p f s t
    grep -E '^(ok|not ok|# )' "$log" | grep -v '^# starting QEMU'
    p=$(grep -cE '^ok ' "$log")
    f=$(grep -cE '^not ok ' "$log")
    t=$(grep -cE '^not ok .*# TODO' "$log")
    s=$(grep -cE '^ok .*# SKIP' "$log")
    p=$((p - s))
    f=$((f - t))
    s=$((s + t))
    if [ "$rc" != 0 ] && [ "$f" = 0 ]; then
        echo "$name: exited with status $rc (crash or timeout); log: $log"
        tail -n 20 "$log"
        f=1
    fi
    layer "$name" "$p" "$f" "$s"
}

# --- 3. harness: the firmware between real clients and nginx ---
harness_log=$LOGDIR/harness.log
BUILD=$BUILD tests/harness/run.sh >"$harness_log" 2>&1
tap_layer harness "$harness_log" $?

# --- 4. qtest: the device in QEMU ---
qtest_log=$LOGDIR/qtest.log
QTEST_QEMU_BINARY=$QEMU_BUILD/qemu-system-x86_64 \
    timeout 600 "$QEMU_BUILD/tests/qtest/proxycard-test" --tap -k >"$qtest_log" 2>&1
tap_layer qtest "$qtest_log" $?

# --- 5. qtest end to end: real clients, the card, a server on the bus ---
e2e_log=$LOGDIR/qtest-e2e.log
QTEST_QEMU_BINARY=$QEMU_BUILD/qemu-system-x86_64 \
    timeout 120 "$QEMU_BUILD/tests/qtest/proxycard-e2e-test" --tap -k >"$e2e_log" 2>&1
tap_layer qtest-e2e "$e2e_log" $?

# --- 5b. fuzz-device: the device fuzzer's reproducers (tests/fuzz-device/*.qtest)
# replayed on the normal build; each must be answered in full and QEMU must
# quit cleanly (a hang, crash or assertion fails).  Fuzzing itself is
# `make fuzz-device` (a second, ASan build): docs/fuzzing-device.md.
fuzz_log=$LOGDIR/fuzz-device.log
timeout 300 tests/fuzz-device/replay.py --qemu "$QEMU_BUILD/qemu-system-x86_64" \
    --timeout 30 tests/fuzz-device/*.qtest >"$fuzz_log" 2>&1
tap_layer fuzz-device "$fuzz_log" $?

# --- 5c. fuzz: each libFuzzer target of tests/fuzz/ (the HTTP parsers, the
# whole firmware on frames) replays its regressions, then fuzzes for
# FUZZ_CHECK_TIME seconds under ASan and UBSan; a crash, sanitizer report,
# timeout or leak fails it.  Long runs are `make fuzz` (docs/fuzzing.md).
fuzz_pass=0 fuzz_fail=0
for t in request response chunked secpath frames; do
    if BUILD=$BUILD tests/fuzz/run.sh "$t" "${FUZZ_CHECK_TIME:-20}"; then
        fuzz_pass=$((fuzz_pass + 1))
    else
        fuzz_fail=$((fuzz_fail + 1))
    fi
done
layer fuzz $fuzz_pass $fuzz_fail

# --- 6. VM: the guest booted with scripts/run-vm.sh, through the card and virtio-net ---
vm_log=$LOGDIR/vm.log
BUILD=$BUILD tests/vm/run.sh >"$vm_log" 2>&1
tap_layer vm "$vm_log" $?

echo
if [ "$skipped" -gt 0 ]; then
    echo "$passed passed, $failed failed, $skipped skipped"
else
    echo "$passed passed, $failed failed"
fi
[ "$failed" = 0 ]
