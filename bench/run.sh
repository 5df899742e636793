#!/bin/bash
# proxycard firmware benchmark: the card (build/proxycard-sim) against
# Debian's nginx as a buffering reverse proxy with upstream keep-alive, in
# front of the same origin nginx.  Prints a table; docs/performance.md says
# what is measured and how to read it.
#
#   bench/run.sh
#
# Settings (environment):
#   BENCH_DURATION  seconds per wrk run (default 10)
#   BENCH_REPS      repetitions of every setting (default 3)
#   BENCH_CONNS     wrk -c settings, comma-separated (default 50,200)
#   BENCH_CLIENTS   idle clients for the memory figure (default 10000)
#   BENCH_OUT       keep the JSON results in this directory (default: a
#                   temporary directory, removed at the end)
#   PROXYCARD_SIM   the sim to measure (default build/proxycard-sim)
#
# Needs wrk and nginx (installed here with apt-get when missing, as root),
# python3 (3.8 or later, standard library only) and build/proxycard-sim
# (built with `make fw sim` when missing).  Not part of `make check`.
# Everything it starts listens on 127.0.0.1 only and is stopped by its PID.

set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH="$ROOT/bench"
DURATION=${BENCH_DURATION:-10}
REPS=${BENCH_REPS:-3}
CONNS=${BENCH_CONNS:-50,200}
CLIENTS=${BENCH_CLIENTS:-10000}
SIM=${PROXYCARD_SIM:-$ROOT/build/proxycard-sim}

say() { printf '%s\n' "$*" >&2; }
die() { say "bench: $*"; exit 1; }

# ---- what it needs ------------------------------------------------------------

# apt-get install; apt-get update first only if the install fails.
apt_install() {
    [ "$(id -u)" -eq 0 ] || die "$* missing: install it (apt-get install $*) or run as root"
    say "bench: installing $* (apt-get)"
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" >&2; then
        say "bench: install failed; apt-get update and retry"
        apt-get update -q >&2 || die "apt-get update failed"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" >&2 \
            || die "cannot install $*"
    fi
}

missing=()
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx)
if [ ${#missing[@]} -gt 0 ]; then
    # Debian's nginx package would start a system nginx on port 80 at
    # install: policy-rc.d keeps services from starting, as
    # scripts/install-deps.sh does.
    policy=/usr/sbin/policy-rc.d
    made_policy=
    if [ "$(id -u)" -eq 0 ] && [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" \
            && made_policy=1
    fi
    status=0
    ( apt_install "${missing[@]}" ) || status=$?
    [ -z "$made_policy" ] || rm -f "$policy"
    [ "$status" -eq 0 ] || exit "$status"
fi
export PATH="$PATH:/usr/sbin"
command -v python3 >/dev/null 2>&1 || die "python3 missing"
python3 -c 'import sys; sys.exit(sys.version_info < (3, 8))' \
    || die "python3 is older than 3.8"

if [ ! -x "$SIM" ]; then
    [ -z "${PROXYCARD_SIM:-}" ] || die "$SIM is not executable"
    say "bench: $SIM missing: make fw sim"
    make -C "$ROOT" fw sim >&2 || die "make fw sim failed"
fi

# Idle clients: this shell's children (python, the sim) need CLIENTS open
# files and a margin; as root, raise the limit if it is lower.
need=$((CLIENTS + 1024))
if [ "$(ulimit -Hn)" != unlimited ] && [ "$(ulimit -Hn)" -lt "$need" ]; then
    ulimit -n "$need" 2>/dev/null \
        || say "bench: open-file hard limit $(ulimit -Hn) < $need and cannot be raised; idle_memory.py will say whether it suffices"
fi

# ---- run ----------------------------------------------------------------------

if [ -n "${BENCH_OUT:-}" ]; then
    mkdir -p "$BENCH_OUT"
    OUT=$(cd "$BENCH_OUT" && pwd)
    cleanup() { :; }
else
    OUT=$(mktemp -d /tmp/proxycard-bench-out.XXXXXX)
    cleanup() { rm -rf "$OUT"; }
fi
# The Python parts run in the background and are waited for, so that a
# signal reaches this shell at once; it is passed on to the running part by
# its PID, which stops everything it started, and then we stop.
child=
on_signal() {
    if [ -n "$child" ]; then
        kill -TERM "$child" 2>/dev/null || true
        wait "$child" 2>/dev/null || true
    fi
    exit 130
}
trap cleanup EXIT
trap on_signal INT TERM

# run_part OUTFILE SCRIPT ARGS...: one Python part, its table to OUTFILE.
run_part() {
    local out=$1
    shift
    python3 "$@" >"$out" &
    child=$!
    local status=0
    wait "$child" || status=$?
    child=
    [ "$status" -eq 0 ] || die "$(basename "$1") failed (status $status)"
}

# Measure one binary throughout, even if build/ is rebuilt meanwhile.
cp "$SIM" "$OUT/proxycard-sim"
SIM_BUILT=$(date -u -r "$SIM" '+%Y-%m-%d %H:%M UTC')
SIM="$OUT/proxycard-sim"

started=$(date +%s)
{
    echo "proxycard firmware benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$ROOT" diff --quiet HEAD -- guest-fw 2>/dev/null || echo ' (guest-fw modified)'), sim built $SIM_BUILT"
    echo "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(nproc) CPUs, Linux $(uname -r)"
    echo "$(nginx -v 2>&1 | sed 's/^nginx version: //'), $(wrk -v 2>&1 | head -1 | awk '{print "wrk " $2}'), $(python3 -V)"
    echo "wrk -t2 -c{$CONNS} -d${DURATION}s, $REPS repetitions; $CLIENTS idle clients"
    echo
} | tee "$OUT/header.txt"

nconns=$(echo "$CONNS" | tr ',' '\n' | wc -l)
say "bench: CPU per request (about $(( (DURATION + 1) * REPS * 2 * 3 * nconns / 60 + 1 )) min: $REPS x 2 files x $nconns settings x 3 proxies)"
run_part "$OUT/proxy_cpu.txt" "$BENCH/proxy_cpu.py" --sim "$SIM" \
    --duration "$DURATION" --reps "$REPS" --conns "$CONNS" \
    --json "$OUT/proxy_cpu.json"
say "bench: memory per idle client ($CLIENTS clients)"
run_part "$OUT/idle_memory.txt" "$BENCH/idle_memory.py" --sim "$SIM" \
    --clients "$CLIENTS" --json "$OUT/idle_memory.json"

echo
cat "$OUT/proxy_cpu.txt"
echo
cat "$OUT/idle_memory.txt"
echo
python3 - "$OUT" <<'EOF'
import json, sys
out = sys.argv[1]
cpu = json.load(open(f"{out}/proxy_cpu.json"))
mem = json.load(open(f"{out}/idle_memory.json"))
print("Targets")
for r in cpu["summary"]:
    q = r["ratio"]["median"]
    print(f"  card CPU per request <= nginx's, {r['file']} -c{r['conns']}: "
          f"{'met' if r['target_met'] else 'MISSED'} (card/nginx {q:.2f}; "
          f"net of the sim's timing {r['ratio_net']['median']:.2f})")
for v in mem["results"]:
    b = v["card"]["bytes_per_client"]
    print(f"  card memory per idle client <= 4096 B, {v['name']}: "
          f"{'met' if b <= 4096 else 'MISSED'} ({b:.0f} B)")
for w in cpu["warnings"]:
    print(f"  warning: {w}")
EOF
say "bench: done in $(( $(date +%s) - started )) s${BENCH_OUT:+; results in $OUT}"
