#!/bin/bash
# proxycard VM tests: the guest (scripts/build-guest.sh) booted with
# scripts/run-vm.sh, through the card and, for comparison, through virtio-net:
# boot, curl, byte-exact downloads up to 10 MiB, ethtool -S counters, driver
# unload and reload under traffic, poweroff, 200 concurrent clients from a
# network namespace on a TAP device (nginx sees at most the card's pool),
# slowhttptest's slow headers, slow body and slow reads (a small and a
# 64 KiB response) from that namespace with a probe client served
# throughout (the card only), Ctrl-C; for the card's driver: cached
# statistics, a 64 KiB configuration,
# ethtool -G, INTx (a boot with pci=nomsi).  Prints TAP ("1..N", "ok N -
# name", "not ok N - name" with "#" diagnostics and the guest's console,
# "# SKIP reason"); exit status 0 only if nothing failed.  The card's tests
# skip while build/guest/initrd-card.cpio.gz does not exist (it needs the
# driver).
#
# Usage: tests/vm/run.sh [SUBSTRING...]  (only the tests whose name contains
# one of them, e.g. "virtio:" or "card: 200").  Environment: BUILD (default
# build), PYTHON (default python3), VM_ACCEL (auto|tcg|kvm, default auto),
# PCTEST_KEEP=1 keeps the run directory (console logs, run-vm.sh output),
# PCTEST_SLOW_CONNS=N slowhttptest's connections a mode (default 2000; 5000
# takes up to ~6 minutes for the three modes: run it alone, "card: slow").
set -u
cd "$(dirname "$0")/../.." || exit 1

PY=${PYTHON:-python3}
if ! command -v "$PY" >/dev/null 2>&1; then
    echo "1..0 # SKIP $PY not found"
    exit 0
fi
if ! "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    echo "1..0 # SKIP $PY is older than 3.11"
    exit 0
fi

# A hard bound on the whole run: five TCG boots and the tests take about
# 3 minutes on 2 cores, slowhttptest's three modes about 75 s more (plus a
# 20 s KVM probe the first time).  On SIGTERM
# the runner stops what it started (by PID) and removes its files.
timeout -k 30 600 "$PY" tests/vm/test_vm.py "$@"
rc=$?
if [ "$rc" -eq 124 ]; then
    echo "# the suite did not finish within 600 s"
fi
exit "$rc"
