#!/usr/bin/env python3
"""Replay the HTTP vector corpus (tests/http-vectors/) through the card
(build/proxycard-sim), Debian's nginx (reverse proxy, upstream keepalive)
and HAProxy (http mode, http-reuse always), each in front of its own strict
recording origin on 127.0.0.1, and print a table: vector | expected | card
| nginx | haproxy.  Not part of make check; docs/http-vectors.md has its
output and what the differences mean.

A cell is the outcome the client saw (reject:STATUS, forward-one,
forward-each:N, cut, timeout, ...); a cell ending in `*` had problems on
top (what the origin flagged, a failed check, a poisoned probe), listed
under the table.

Usage: scripts/compare-proxies.py [--only card,nginx,haproxy] [SUBSTRING...]
Installs HAProxy with apt-get (update first) when it is missing and this
runs as root, as scripts/install-deps.sh does; otherwise that column says
"n/a".  Every server it starts is stopped by its PID, with bounded waits;
its files live in one temporary directory, removed at the end
(PCTEST_KEEP=1 keeps it).  Environment: BUILD as for make check.
"""

import argparse
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

TOP = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(TOP / "tests" / "harness"))
from pctest import (NGINX, SIM, Card, Nginx, RunDir, free_port,  # noqa: E402
                    stop_process, wait_port)
from vectors import StrictOrigin, load_vectors, run_vector  # noqa: E402

CARD_CONF = ("listen 80 http {port}\npool 1\ntimeout header 3s\n"
             "timeout body 3s\ntimeout server 3s\n")

# Inside pctest's nginx server block, plus an upstream block before it.
NGINX_UPSTREAM = """\
    upstream origin {{
        server 127.0.0.1:{origin};
        keepalive 1;
    }}
"""
NGINX_LOCATION = """\
        server_name card;
        location / {
            proxy_pass http://origin;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_read_timeout 3s;
        }
"""

HAPROXY_CONF = """\
global
    maxconn 1000
defaults
    mode http
    timeout connect 3s
    timeout client 5s
    timeout server 3s
    timeout http-request 3s
    http-reuse always
frontend fe
    bind 127.0.0.1:{port}
    default_backend be
backend be
    server s1 127.0.0.1:{origin}
"""


def haproxy_binary():
    """HAProxy's path, installing Debian's package first where missing (as
    root, apt-get update first, like scripts/install-deps.sh)."""
    found = shutil.which("haproxy") or (
        "/usr/sbin/haproxy" if os.access("/usr/sbin/haproxy", os.X_OK) else None)
    if found or os.geteuid() != 0:
        return found
    print("# installing haproxy (apt-get update, apt-get install haproxy)",
          file=sys.stderr)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for cmd in (["apt-get", "update", "-qq"],
                ["apt-get", "install", "-y", "-qq", "--no-install-recommends",
                 "haproxy"]):
        if subprocess.run(cmd, env=env, stdin=subprocess.DEVNULL,
                          timeout=600).returncode != 0:
            return None
    return shutil.which("haproxy") or "/usr/sbin/haproxy"


class Haproxy:
    def __init__(self, binary, dir, origin_port):
        self.binary = binary
        self.dir = Path(dir)
        self.port = free_port()
        self.conf = self.dir / "haproxy.cfg"
        self.conf.write_text(HAPROXY_CONF.format(port=self.port,
                                                 origin=origin_port))
        self.proc = None

    def start(self):
        # -db: foreground, one process, no master (its PID is the server).
        self.proc = subprocess.Popen(
            [self.binary, "-db", "-f", str(self.conf)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=open(self.dir / "haproxy.stderr", "wb"))
        if not wait_port(self.port, 10):
            self.stop()
            raise RuntimeError("haproxy did not start: "
                               + (self.dir / "haproxy.stderr").read_text())
        return self

    def stop(self):
        if self.proc:
            stop_process(self.proc, signal.SIGTERM, timeout=5)
            self.proc = None


def start_proxy(kind, run, origin):
    """(object with stop(), client port) for kind, or None if unavailable."""
    if kind == "card":
        if not SIM.exists():
            return None
        card = Card(run.sub("card"), CARD_CONF.format(port=origin.port),
                    {"http": 80})
        card.start()
        card.wait_pool(1)
        return card, card.port
    if kind == "nginx":
        if not NGINX:
            return None
        ng = Nginx(run.sub("nginx"), extra=NGINX_LOCATION)
        conf = ng.conf.read_text().replace(
            "    server {", NGINX_UPSTREAM.format(origin=origin.port)
            + "    server {", 1)
        ng.conf.write_text(conf)
        return ng.start(), ng.port
    if kind == "haproxy":
        binary = haproxy_binary()
        if not binary:
            return None
        hp = Haproxy(binary, run.sub("haproxy"), origin.port)
        return hp.start(), hp.port
    raise ValueError(kind)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", default="card,nginx,haproxy")
    ap.add_argument("names", nargs="*")
    args = ap.parse_args()
    kinds = args.only.split(",")
    vecs = [v for v in load_vectors()
            if not args.names or any(n in v.name for n in args.names)]
    run = RunDir("pccmp-")
    results = {}        # kind -> {vector name: Result or None}

    def on_term(signum, frame):
        raise SystemExit(f"killed by signal {signum}")
    signal.signal(signal.SIGTERM, on_term)
    try:
        for kind in kinds:
            origin = StrictOrigin().start()
            proxy = None
            try:
                started = start_proxy(kind, run, origin)
                if started is None:
                    print(f"# {kind}: not available", file=sys.stderr)
                    results[kind] = None
                    continue
                proxy, port = started
                t0 = time.monotonic()
                results[kind] = {}
                for i, v in enumerate(vecs):
                    results[kind][v.name] = run_vector(v, port, origin, i)
                print(f"# {kind}: {len(vecs)} vectors in "
                      f"{time.monotonic() - t0:.1f}s", file=sys.stderr)
            finally:
                if proxy:
                    proxy.stop()
                origin.stop()
    finally:
        if os.environ.get("PCTEST_KEEP"):
            print(f"# run directory kept: {run.path}", file=sys.stderr)
        else:
            run.remove()

    def cell(kind, v):
        if results.get(kind) is None:
            return "n/a"
        r = results[kind][v.name]
        return r.outcome + ("*" if r.problems else "")

    print("| vector | expected | " + " | ".join(kinds) + " |")
    print("|---|---|" + "---|" * len(kinds))
    for v in vecs:
        exp = v.expect + (" (card: TODO)" if v.card else "")
        print(f"| {v.name} | {exp} | "
              + " | ".join(cell(k, v) for k in kinds)
              + " |")
    print()
    for kind in kinds:
        if results.get(kind) is None:
            continue
        ok = sum(1 for v in vecs if results[kind][v.name].ok)
        print(f"- {kind}: {ok} of {len(vecs)} as expected")
    print()
    print("Problems (`*`):")
    print()
    for v in vecs:
        for kind in kinds:
            r = (results.get(kind) or {}).get(v.name)
            if r and r.problems:
                text = "; ".join(r.problems).replace("|", "\\|")
                print(f"- {v.name}, {kind}: {text[:400]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
