#!/bin/bash
# proxycard end-to-end tests: build/proxycard-sim between real clients
# (curl, raw sockets) and nginx on 127.0.0.1 (test_proxy.py), then the HTTP
# vector corpus of tests/http-vectors/ against a strict recording origin
# (test_vectors.py, one line per vector), then clients with their own
# source addresses in a network namespace, the card's NIC port on a TAP
# device there (test_tap.py; as root only, skipped otherwise).  Each prints
# TAP ("1..N", "ok N - name", "not ok N - name" with "#" diagnostics,
# "# SKIP reason", "# TODO reason" for a vector where the card is known
# wrong); exit status 0 only if nothing failed.
#
# Usage: tests/harness/run.sh [SUBSTRING...]  (only the tests and vectors
# whose name contains one of them).  Environment: BUILD (default build), PYTHON
# (default python3), PCTEST_KEEP=1 keeps the run directory with the logs,
# PCTEST_RETRANS_MAX=N makes test_tap.py's retransmission measurement fail
# above N (it only reports otherwise).
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

# A hard bound on the whole run; the suite itself takes well under 3 minutes.
# On SIGTERM the runner stops what it started (by PID) and removes its files.
timeout -k 15 420 "$PY" tests/harness/test_proxy.py "$@"
rc=$?
if [ "$rc" -eq 124 ]; then
    echo "# the suite did not finish within 420 s"
fi
# The vectors take about 30 s.
timeout -k 15 120 "$PY" tests/harness/test_vectors.py "$@"
vrc=$?
if [ "$vrc" -eq 124 ]; then
    echo "# the vectors did not finish within 120 s"
fi
# The TAP tests take under 10 s.
timeout -k 15 90 "$PY" tests/harness/test_tap.py "$@"
trc=$?
if [ "$trc" -eq 124 ]; then
    echo "# the TAP tests did not finish within 90 s"
fi
[ "$rc" -ne 0 ] && exit "$rc"
[ "$vrc" -ne 0 ] && exit "$vrc"
exit "$trc"
