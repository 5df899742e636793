#!/usr/bin/env python3
"""Card memory per idle client connection, at N (default 10,000) idle clients.

The same set-up as proxy_cpu.py (whose harness this imports): an origin nginx,
the anchor nginx (1 worker, buffering reverse proxy with upstream keep-alive)
and proxycard-sim (`listen 80 http ORIGIN`, `pool 8`, `max-clients 20000`,
`timeout idle 10m`, `timeout request 10m`, `--mem-size 256M`).

Variants, each on a freshly started card and anchor (memory a process freed
stays resident and would hide the next variant's growth in RSS):

  silent      N connections that send nothing;
  partial     N connections that each send the 20 bytes "GET /1k.bin HTTP/1.1"
              (a request line without its CRLF: an incomplete request);
  keep-alive  N connections that each make one whole request, read the
              response, and stay open (the usual idle keep-alive client).

The N connections go to the card's forwarded port in batches, each batch
waited for until the card has accepted it.  Then, once
firmware.proxy.clients_active is N, the card has received every byte sent
and firmware.mem.in_use is steady:

    card memory per idle client = (in_use with N idle clients - before) / N

(target: at most 4 KiB).  The same against the anchor gives the side figure
(worker VmRSS growth) / N.  Then the connections are reset (SO_LINGER 0: no
TIME_WAIT piles up here), in batches again, and the card must return to
its baseline.

N is never reduced silently: if this process, proxycard-sim (one host socket
per client inside libslirp) or the nginx worker cannot have N + a margin open
files, or the card does not hold N clients, the run fails and says why.

Python 3.11 standard library only.  Run through bench/run.sh, or directly:
    bench/idle_memory.py [--clients 10000] [--json FILE]
"""

import argparse
import json
import os
import socket
import struct
import sys
import time

sys.dont_write_bytecode = True        # no __pycache__ left in bench/
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import proxy_cpu as h                                   # noqa: E402

PARTIAL = b"GET /1k.bin HTTP/1.1"                       # 20 bytes, no CRLF
assert len(PARTIAL) == 20
REQUEST = b"GET /1k.bin HTTP/1.1\r\nHost: bench\r\n\r\n"
FD_MARGIN = 64


def read_response(s):
    """One whole HTTP response with a Content-Length, from a blocking
    socket; BenchError unless it is a 200."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        if not chunk:
            raise h.BenchError(f"connection closed before a response head: "
                               f"{data[:200]!r}")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    if lines[0].split()[1:2] != ["200"]:
        raise h.BenchError(f"response {lines[0]!r}")
    length = None
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value)
    if length is None:
        raise h.BenchError(f"no Content-Length in {head!r}")
    while len(body) < length:
        chunk = s.recv(65536)
        if not chunk:
            raise h.BenchError("connection closed inside the body")
        body += chunk
    if len(body) != length:
        raise h.BenchError("more bytes than the response")


def open_clients(port, n, batch, payload, accepted, what, reply=False):
    """N connections to 127.0.0.1:port, each sending `payload` (may be
    empty) and, with `reply`, reading one whole response to it; after each
    batch, wait until accepted() counts them all."""
    socks = []
    try:
        while len(socks) < n:
            new = []
            for _ in range(min(batch, n - len(socks))):
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                socks.append(s)
                new.append(s)
                s.settimeout(10)
                s.connect(("127.0.0.1", port))
                if payload:
                    s.sendall(payload)
            if reply:
                for s in new:
                    read_response(s)
            want = len(socks)
            last = [0]

            def caught_up():
                last[0] = accepted()
                return last[0] >= want
            try:
                h.wait_for(caught_up, 60, f"{what} to accept {want} clients",
                           interval=0.05)
            except h.BenchError as e:
                raise h.BenchError(f"{e} (it holds {last[0]})")
    except BaseException:
        reset_clients(socks)
        raise
    return socks


def reset_clients(socks):
    """Close with a reset: no FIN handshake, no TIME_WAIT."""
    linger = struct.pack("ii", 1, 0)
    for s in socks:
        try:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
        except OSError:
            pass
        s.close()
    socks.clear()


def close_clients(socks, batch, held, what):
    """Reset the clients `batch` at a time, waiting after each batch until
    held() has dropped them.  Pacing matters for the card: proxycard-sim
    queues at most 4096 frames from libslirp to the card (SIM_QUEUE_FRAMES)
    and drops the rest, like a full receive ring; 10,000 resets at once
    would lose thousands of RSTs, and those connections would stay on the
    card until `timeout idle`."""
    try:
        while socks:
            chunk = socks[-batch:]
            del socks[-batch:]
            reset_clients(chunk)
            left = len(socks)
            last = [None]

            def dropped():
                last[0] = held()
                return last[0] <= left
            try:
                h.wait_for(dropped, 60, f"{what} to drop reset clients "
                           f"(down to {left})", interval=0.05)
            except h.BenchError as e:
                raise h.BenchError(f"{e}: it still holds {last[0]}")
    finally:
        reset_clients(socks)


def steady(read, what, settle=0.3, timeout=30):
    """read() until two readings `settle` s apart are equal; the last one."""
    prev = [read()]

    def same():
        time.sleep(settle)
        cur = read()
        done = cur == prev[0]
        prev[0] = cur
        return done
    h.wait_for(same, timeout, f"{what} to settle", interval=0)
    return prev[0]


def measure_card(card, n, batch, payload, reply):
    def snap():
        st = card.stats()
        return st["firmware"], st["firmware"]["proxy"]

    fw0, p0 = snap()
    if p0["clients_active"]:
        h.wait_for(lambda: snap()[1]["clients_active"] == 0, 30,
                   "the card's clients of the previous variant to go")
    base = steady(lambda: card.stats()["firmware"]["mem"]["in_use"],
                  "the card's memory")
    st0 = card.stats()
    rss0 = card.rss()
    t0 = time.monotonic()
    socks = open_clients(
        card.port, n, batch, payload,
        lambda: card.stats()["firmware"]["proxy"]["clients_active"],
        "the card", reply)
    try:
        opened_s = time.monotonic() - t0
        want_bytes = (st0["firmware"]["proxy"]["bytes_from_clients"]
                      + n * len(payload))
        h.wait_for(lambda: card.stats()["firmware"]["proxy"]
                   ["bytes_from_clients"] >= want_bytes, 60,
                   f"the card to receive {n} x {len(payload)} bytes",
                   interval=0.1)
        in_use = steady(lambda: card.stats()["firmware"]["mem"]["in_use"],
                        "the card's memory with idle clients")
        st1 = card.stats()
        fw1, p1 = st1["firmware"], st1["firmware"]["proxy"]
        rss1 = card.rss()
        if p1["clients_active"] != n:
            raise h.BenchError(f"the card holds {p1['clients_active']} "
                               f"clients, not {n} (refused "
                               f"{p1['clients_refused'] - st0['firmware']['proxy']['clients_refused']}, "
                               f"memory failures {fw1['mem']['failures']})")
    except BaseException:
        reset_clients(socks)
        raise
    close_clients(socks, batch, lambda: card.stats()["firmware"]["proxy"]
                  ["clients_active"], "the card")
    # Back to the baseline once they are gone?
    after = steady(lambda: card.stats()["firmware"]["mem"]["in_use"],
                   "the card's memory after the reset")
    return {
        "target": "card", "clients": n, "payload_bytes": len(payload),
        "read_response": reply,
        "open_seconds": opened_s,
        "in_use_before": base, "in_use_idle": in_use, "in_use_after": after,
        "bytes_per_client": (in_use - base) / n,
        "allocs_per_client": ((fw1["mem"]["allocs"] - fw1["mem"]["frees"])
                              - (st0["firmware"]["mem"]["allocs"]
                                 - st0["firmware"]["mem"]["frees"])) / n,
        "high_water": fw1["mem"]["high_water"],
        "mem_failures": fw1["mem"]["failures"]
                        - st0["firmware"]["mem"]["failures"],
        "sim_rss_per_client": (rss1 - rss0) / n,
    }


def measure_anchor(anchor, n, batch, payload, reply):
    def active():
        return anchor.stub_status()["active"] - 1   # minus our own request

    h.wait_for(lambda: active() == 0, 30,
               "the anchor's clients of the previous variant to go")
    rss0 = steady(anchor.rss, "the anchor worker's RSS")
    t0 = time.monotonic()
    socks = open_clients(anchor.port, n, batch, payload, active, "the anchor",
                         reply)
    try:
        opened_s = time.monotonic() - t0
        if payload and not reply:
            # nginx counts a connection as Reading once its first bytes
            # arrived and a request was created for them.
            h.wait_for(lambda: anchor.stub_status()["reading"] >= n, 60,
                       f"the anchor to read {n} partial requests",
                       interval=0.1)
        rss1 = steady(anchor.rss, "the anchor worker's RSS with idle clients")
        st = anchor.stub_status()
        if st["active"] - 1 != n:
            raise h.BenchError(f"the anchor holds {st['active'] - 1} "
                               f"clients, not {n}")
    except BaseException:
        reset_clients(socks)
        raise
    close_clients(socks, batch, active, "the anchor")
    return {
        "target": "nginx", "clients": n, "payload_bytes": len(payload),
        "open_seconds": opened_s, "rss_before": rss0, "rss_idle": rss1,
        "bytes_per_client": (rss1 - rss0) / n,
    }


def print_table(results, n, out=sys.stdout):
    def p(*a):
        print(*a, file=out)
    p(f"Memory per idle client connection at {n} idle clients (bytes)")
    p(f"{'variant':>22} | {'card mem':>9} | {'met (<=4096)':>12} |"
      f" {'blocks':>6} | {'card back to base':>17} |"
      f" {'sim RSS(1)':>10} | {'nginx RSS(2)':>12}")
    for v in results:
        c, a = v["card"], v.get("nginx")
        back = c["in_use_after"] - c["in_use_before"]
        p(f"{v['name']:>22} | {c['bytes_per_client']:9.0f} |"
          f" {'yes' if c['bytes_per_client'] <= 4096 else 'NO':>12} |"
          f" {c['allocs_per_client']:6.2f} | {back:+15d} B |"
          f" {c['sim_rss_per_client']:10.0f} |"
          f" {a['bytes_per_client'] if a else float('nan'):12.0f}")
    p("  card mem = firmware.mem.in_use delta / N (arena blocks, 16-byte"
      " headers included); blocks = arena")
    p("  blocks held per client; card back to base = in_use after resetting"
      " them minus before.")
    p("  (1) proxycard-sim's whole RSS growth / N: libslirp's host sockets"
      " and buffers plus card pages")
    p("      touched; not card memory.  (2) the anchor nginx worker's VmRSS"
      " growth / N (user space only:")
    p("      kernel socket memory is not in it, nor the connection array"
      " nginx allocates at start).")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sim", default=h.DEFAULT_SIM)
    ap.add_argument("--clients", type=int, default=10000,
                    help="idle clients N (default 10000)")
    ap.add_argument("--batch", type=int, default=500,
                    help="connections opened before waiting for the "
                    "accepts (default 500)")
    ap.add_argument("--mem-size", default="256M")
    ap.add_argument("--no-nginx", action="store_true",
                    help="skip the anchor's side figure")
    ap.add_argument("--json", help="write the results here")
    ap.add_argument("--keep", action="store_true",
                    help="keep the temporary directory")
    args = ap.parse_args(argv)
    h.sigterm_as_interrupt()
    sim = h.find_sim(args.sim)
    n = args.clients
    if n < 1:
        raise h.BenchError("--clients must be at least 1")
    soft, hard = h.raise_nofile()
    if soft != h.resource.RLIM_INFINITY and soft < n + FD_MARGIN:
        raise h.BenchError(
            f"cannot hold {n} idle clients: this process may open {soft} "
            f"files (hard limit {hard}), it needs {n + FD_MARGIN}; raise the "
            f"hard limit (ulimit -Hn) or lower --clients")

    variants = [("silent (sent nothing)", b"", False),
                ("partial (20-byte line)", PARTIAL, False),
                ("keep-alive (1 request)", REQUEST, True)]
    results = []
    with h.Env(keep=args.keep) as env:
        origin = h.start_origin(env)
        # A fresh card and a fresh anchor for every variant: memory freed by
        # the previous variant stays resident in a process (malloc keeps
        # it), which would hide the next variant's growth in RSS.
        for i, (name, payload, reply) in enumerate(variants, 1):
            card = h.Card(env, sim, origin.port, mem_size=args.mem_size,
                          max_clients=max(20000, n + 100),
                          name=f"card-{i}").start()
            limit = h.proc_nofile_limit(card.proc.pid)
            if limit is not None and limit < n + FD_MARGIN:
                raise h.BenchError(
                    f"proxycard-sim (pid {card.proc.pid}) may open {limit} "
                    f"files (/proc/{card.proc.pid}/limits), fewer than the "
                    f"{n} host sockets libslirp needs for {n} clients plus "
                    f"{FD_MARGIN}: it cannot hold {n} idle clients")
            h.log(f"{name}: card :{card.port} (sim pid {card.proc.pid}), "
                  f"{n} idle clients")
            c = measure_card(card, n, args.batch, payload, reply)
            c["final_stats"] = card.stats()
            card.proc.stop()
            h.log(f"card  {name}: {c['bytes_per_client']:.0f} bytes per "
                  f"client (in_use {c['in_use_before']} -> "
                  f"{c['in_use_idle']} -> {c['in_use_after']}; opened in "
                  f"{c['open_seconds']:.1f} s)")
            v = {"name": name, "card": c}
            if not args.no_nginx:
                # nginx starts closing idle connections once fewer than
                # 1/16 of worker_connections are free: keep it far above N.
                anchor = h.start_anchor(
                    env, origin, worker_connections=2 * n + FD_MARGIN,
                    nofile=2 * n + 2 * FD_MARGIN, name=f"anchor-{i}")
                limit = h.proc_nofile_limit(anchor.worker)
                if limit is not None and limit < n + FD_MARGIN:
                    raise h.BenchError(f"the anchor's worker may open "
                                       f"{limit} files, fewer than "
                                       f"{n + FD_MARGIN}")
                a = measure_anchor(anchor, n, args.batch, payload, reply)
                anchor.proc.stop()
                h.log(f"nginx {name}: {a['bytes_per_client']:.0f} bytes of "
                      f"worker RSS per client")
                v["nginx"] = a
            results.append(v)

    print_table(results, n)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"clients": n, "results": results,
                       "settings": vars(args)},
                      f, indent=1)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except h.BenchError as e:
        h.log(f"idle_memory: {e}")
        sys.exit(1)
    except KeyboardInterrupt:
        h.log("idle_memory: interrupted")
        sys.exit(130)
