#!/bin/bash
# proxycard bus link benchmark: frames/s and Gbit/s through the card's TX
# ring for frame sizes 64 to 9014 bytes, the ARP round-trip rate through its
# RX ring, with QEMU's e1000e under the same qtest drive as the anchor.
# bench/bus_link.py says how it measures; docs/performance-bus-link.md how
# to read the numbers.
#
#   bench/bus_link.sh
#
# Settings (environment):
#   BUS_LINK_REPS        repetitions (default 3; the median is reported)
#   BUS_LINK_DURATION    timed seconds per measurement (default 0.5)
#   BUS_LINK_SIZES       frame sizes (default 64,128,512,1514,4096,9014)
#   BUS_LINK_TARGETS     card,e1000e,e1000e+slirp (default: all three)
#   BUS_LINK_PERF        seconds of `perf record` per profiled run, 0 for
#                        none (default 1, when perf is installed and usable)
#   BUS_LINK_WAIT_QUIET  wait up to this many seconds for the machine to be
#                        under 25% busy before starting (default 20)
#   BUS_LINK_OUT         directory for the results (default bench/results);
#                        the report goes to bus_link-DATE.md and .json there
#   QEMU                 the QEMU to measure (default build/qemu-system-x86_64)
#
# Needs python3 (3.11, standard library only) and a built QEMU with the
# proxycard (`make qemu`; this script does not build).  Not part of
# `make check`.  Everything runs on this machine: the QEMUs talk to the
# script over UNIX sockets in a temporary directory; e1000e+slirp has
# -netdev user,restrict=on and is only sent frames slirp drops or ARP
# requests it answers itself.  Every process started is stopped by its own
# PID with bounded waits, and the temporary directory is removed.

set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
QEMU=${QEMU:-$ROOT/build/qemu-system-x86_64}
OUT=${BUS_LINK_OUT:-$ROOT/bench/results}
PERF_SECS=${BUS_LINK_PERF:-1}

say() { printf '%s\n' "$*" >&2; }
die() { say "bus_link: $*"; exit 1; }

command -v python3 >/dev/null 2>&1 || die "python3 missing"
python3 -c 'import sys; sys.exit(sys.version_info < (3, 8))' \
    || die "python3 is older than 3.8"
[ -x "$QEMU" ] || die "$QEMU missing: build it first (make qemu)"
"$QEMU" -device help 2>/dev/null | grep -q '"proxycard"' \
    || die "$QEMU has no proxycard device"

if [ "$PERF_SECS" != 0 ]; then
    if ! command -v perf >/dev/null 2>&1 ||
       ! perf record -q -o /dev/null -- true >/dev/null 2>&1; then
        say "bus_link: perf missing or not permitted: no profiles"
        PERF_SECS=0
    fi
fi

mkdir -p "$OUT"
# The sockets and perf data live here; removed on any exit of this script,
# even if the Python side was killed.
TMP=$(mktemp -d /tmp/proxycard-buslink.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
stamp=$(date -u '+%Y%m%d-%H%M')
md="$OUT/bus_link-$stamp.md"
json="$OUT/bus_link-$stamp.json"

args=(--reps "${BUS_LINK_REPS:-3}" --duration "${BUS_LINK_DURATION:-0.5}"
      --perf "$PERF_SECS" --wait-quiet "${BUS_LINK_WAIT_QUIET:-20}"
      --qemu "$QEMU" --md "$md" --json "$json" --tmpdir "$TMP")
[ -z "${BUS_LINK_SIZES:-}" ] || args+=(--sizes "$BUS_LINK_SIZES")
[ -z "${BUS_LINK_TARGETS:-}" ] || args+=(--targets "$BUS_LINK_TARGETS")

# The Python script owns the QEMUs (and perf) and stops them by PID on exit,
# on SIGINT and on SIGTERM; they also get SIGTERM if it dies (PDEATHSIG).
# Here: forward INT/TERM to it and wait for it, boundedly.
py=
stop_py() {
    trap - INT TERM
    if [ -n "$py" ] && kill -0 "$py" 2>/dev/null; then
        kill -TERM "$py" 2>/dev/null || true
        for _ in $(seq 1 100); do
            kill -0 "$py" 2>/dev/null || break
            sleep 0.2
        done
        if kill -0 "$py" 2>/dev/null; then
            say "bus_link: pid $py did not stop in 20 s: SIGKILL"
            kill -KILL "$py" 2>/dev/null || true
        fi
    fi
    exit 130
}
trap stop_py INT TERM

started=$(date +%s)
note="commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$ROOT" diff --quiet HEAD -- hw/proxycard guest-fw 2>/dev/null || echo ' (hw/proxycard or guest-fw modified)'), QEMU built $(date -u -r "$(readlink -f "$QEMU")" '+%Y-%m-%d %H:%M UTC') (sha256 $(sha256sum "$(readlink -f "$QEMU")" | cut -c1-12))"
args+=(--note "$note")
python3 "$ROOT/bench/bus_link.py" "${args[@]}" &
py=$!
status=0
wait "$py" || status=$?
py=
[ "$status" -eq 0 ] || die "bus_link.py failed (status $status)"
say "bus_link: done in $(( $(date +%s) - started )) s; results in $md and $json"
