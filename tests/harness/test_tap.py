#!/usr/bin/env python3
"""proxycard end-to-end tests with real source addresses: the card's NIC port
on a TAP device (proxycard-sim --nic-tap) in a network namespace of our own
(pctest.TapNet), clients in that namespace with their own Linux TCP stacks
and their own addresses (10.0.2.100-107), the server on the host's loopback
behind the card's bus port as in test_proxy.py.

Each test has its own namespace and card, so the namespace's TCP counters
are that test's clients' alone.  Without root or /dev/net/tun every test is
skipped, saying why.

The retransmission test prints the client stack's counters on '#' lines
and fails above PCTEST_RETRANS_MAX retransmitted segments (default 0: the
path loses nothing, so a retransmission is the card's ACK timing).

Prints TAP on stdout; exit status 0 only if no test failed.
Usage: test_tap.py [SUBSTRING...]   run only tests whose name contains one
Environment: PCTEST_KEEP=1 keeps the run directory (logs, configs);
PCTEST_RETRANS_MAX=N (see above).
"""

import contextlib
import os
import socket
import struct
import subprocess
import sys
import threading
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pctest import (  # noqa: E402
    CURL, SIM, Card, HttpConn, Nginx, Origin, RunDir, Skip, TapNet,
    TestFailure, check, free_port, run_tap, sha256, test_registry,
)

TESTS, test = test_registry()


class DataOrigin(Origin):
    """Origin (recording every request head) that answers /data... with
    self.data, framed by Content-Length."""

    def __init__(self, data):
        super().__init__()
        self.data = data

    def _answer(self, conn, n, method, path):
        if not path.startswith("/data"):
            return super()._answer(conn, n, method, path)
        conn.sendall(f"HTTP/1.1 200 OK\r\nContent-Length: {len(self.data)}\r\n"
                     "\r\n".encode() + self.data)
        return True


class Env:
    def __init__(self):
        self.run = RunDir()

    def setup(self):
        pass

    def teardown(self):
        if os.environ.get("PCTEST_KEEP"):
            print(f"# run directory kept: {self.run.path}")
        else:
            self.run.remove()

    @contextlib.contextmanager
    def tap_card(self, name, data=b"", mtu=1500, extra=""):
        """(origin, net, card): a DataOrigin serving data, a TapNet with
        that MTU, and a running card on it whose port 80 is the HTTP proxy
        to the origin, its pool of 2 up; extra: more configuration."""
        with DataOrigin(data) as origin, TapNet(mtu) as net:
            conf = f"listen 80 http {origin.port}\npool 2\n{extra}"
            with Card(self.run.sub(name), conf, {}, tap=net) as card:
                card.wait_pool(2)
                yield origin, net, card


def token():
    return uuid.uuid4().hex[:12]


def head_values(head, name):
    """The values of every `name:` line of a recorded request head."""
    return [ln.split(":", 1)[1].strip() for ln in head[1:]
            if ln.lower().startswith(name + ":")]


def heads_for(origin, tok):
    with origin.lock:
        return [h for h in origin.heads if tok in h[0]]


def check_client_seen(origin, tok, addr):
    """The one request with tok reached the server, naming addr as the
    client in X-Forwarded-For and Forwarded."""
    heads = heads_for(origin, tok)
    check(len(heads) == 1, f"{tok}: the server saw {len(heads)} requests")
    xff = head_values(heads[0], "x-forwarded-for")
    fwd = head_values(heads[0], "forwarded")
    check(xff == [addr], f"{tok}: X-Forwarded-For {xff}, wanted [{addr!r}]")
    check(fwd == [f"for={addr}"], f"{tok}: Forwarded {fwd}, wanted "
          f"['for={addr}']")


def tap_stats(card):
    return card.stats()["harness"]["tap_nic"]


def tcp_info(sock):
    """Some of Linux's struct tcp_info for sock: rto_ms, rtt_us, rttvar_us,
    total_retrans (8 bytes of u8 fields, then u32 fields)."""
    raw = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)
    u32 = struct.unpack_from("24I", raw, 8)
    return {"rto_ms": u32[0] // 1000, "rtt_us": u32[15], "rttvar_us": u32[16],
            "total_retrans": u32[23]}


# ------------------------------------------------------------ tests ----

@test("a client from 10.0.2.101 through the TAP: curl gets 1 MiB byte-exact, "
      "the server sees 10.0.2.101 in X-Forwarded-For and Forwarded")
def t_one_source(env):
    if not CURL:
        raise Skip("curl is not installed")
    data = os.urandom(1 << 20)
    src = TapNet.CLIENT_ADDRS[1]
    with env.tap_card("one-source", data) as (origin, net, card):
        tok = token()
        out = card.dir / "out.bin"
        r = net.run([CURL, "-sS", "--noproxy", "*", "--max-time", "30",
                     "--interface", src, "-o", str(out), "-w", "%{http_code}",
                     f"http://{TapNet.CARD}/data-{tok}"], timeout=40)
        check(r.returncode == 0, f"curl exit {r.returncode}: "
              f"{r.stderr.decode(errors='replace').strip()}")
        check(r.stdout == b"200", f"status {r.stdout!r}")
        got = out.read_bytes()
        check(len(got) == len(data) and sha256(got) == sha256(data),
              f"body differs: {len(got)} bytes, wanted {len(data)}")
        check_client_seen(origin, tok, src)
        st = tap_stats(card)
        check(st["rx_frames"] > 0 and st["tx_frames"] > 700,
              f"TAP counters {st}")
        print(f"# TAP: {st}")


@test("eight clients at once from 10.0.2.100-107, each seen by the server "
      "with its own address")
def t_many_sources(env):
    with env.tap_card("many-sources") as (origin, net, card):
        toks = {src: token() for src in TapNet.CLIENT_ADDRS}
        conns = {src: net.conn(src) for src in TapNet.CLIENT_ADDRS}
        try:
            # Every connection open before any request: all in flight.
            for src, c in conns.items():
                c.send(f"GET /who-{toks[src]} HTTP/1.1\r\nHost: card\r\n"
                       "\r\n".encode())
            for src, c in conns.items():
                r = c.read_response()
                check(r.status == 200, f"{src}: status {r.status}")
                check(r.body.startswith(f"/who-{toks[src]} ".encode()),
                      f"{src}: body {r.body!r}")
                local = c.sock.getsockname()[0]
                check(local == src, f"socket bound to {local}, not {src}")
        finally:
            for c in conns.values():
                c.close()
        for src, tok in toks.items():
            check_client_seen(origin, tok, src)
        st = card.proxy_stats()
        check(st["clients_accepted"] >= len(toks), f"proxy stats {st}")


RETRANS_KEYS = (("Tcp", "RetransSegs"), ("Tcp", "OutSegs"),
                ("TcpExt", "TCPLossProbes"), ("TcpExt", "TCPTimeouts"),
                ("TcpExt", "TCPSpuriousRTOs"), ("TcpExt", "DelayedACKs"),
                ("TcpExt", "TCPDSACKRecv"))


@test("20 Linux clients at once, each sending its request in 20 pieces "
      "100 ms apart, then reading a 256 KiB response, retransmit nothing")
def t_retransmissions(env):
    data = os.urandom(256 << 10)
    n_clients = 20
    with env.tap_card("retrans", data) as (origin, net, card):
        req_of = {}
        results = {}

        def slow_client(k):
            src = TapNet.CLIENT_ADDRS[k % len(TapNet.CLIENT_ADDRS)]
            tok = token()
            req = (f"GET /data-{tok} HTTP/1.1\r\nHost: card\r\n"
                   "User-Agent: a-slow-client-sending-its-head-in-pieces\r\n"
                   "Accept: */*\r\nX-Padding: " + "p" * 60 + "\r\n\r\n").encode()
            step = -(-len(req) // 20)
            req_of[k] = (tok, src)
            try:
                with net.conn(src, timeout=20) as c:
                    # Nagle stays on, as in a real client: pieces wait for
                    # the card's ACKs, which is what the counters show.
                    for i in range(0, len(req), step):
                        c.send(req[i:i + step])
                        time.sleep(0.1)
                    r = c.read_response()
                    results[k] = (r.status, r.body == data, tcp_info(c.sock))
            except Exception as e:          # reported below, per client
                results[k] = (repr(e), False, None)

        before = net.snmp()
        t0 = time.monotonic()
        threads = [threading.Thread(target=slow_client, args=(k,))
                   for k in range(n_clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        took = time.monotonic() - t0
        after = net.snmp()
        for k in range(n_clients):
            status, exact, _ = results.get(k, ("no result", False, None))
            check(status == 200 and exact, f"client {k}: status {status}, "
                  f"body exact {exact}")
            check_client_seen(origin, *req_of[k])
        delta = {f"{g}.{k}": after[g].get(k, 0) - before[g].get(k, 0)
                 for g, k in RETRANS_KEYS}
        print(f"# {n_clients} slow clients at once, counters over {took:.2f}s: "
              + ", ".join(f"{k} {v}" for k, v in delta.items()))
        print(f"# client 0's socket at the end: {results[0][2]}")
        print(f"# TAP: {tap_stats(card)}")
        # No loss on this path: any retransmission is the card's ACK
        # timing (issue 14: 2-3 per run before its delayed ACKs were fixed).
        limit = int(os.environ.get("PCTEST_RETRANS_MAX", "0"))
        check(delta["Tcp.RetransSegs"] <= limit,
              f"{delta['Tcp.RetransSegs']} retransmitted segments, at most "
              f"{limit} wanted (PCTEST_RETRANS_MAX)")


@test("a client port used again at once after the card closed first "
      "connects at once (the card's TIME_WAIT takes the new SYN)")
def t_port_reuse(env):
    src, sport = TapNet.CLIENT_ADDRS[5], 43210
    with env.tap_card("port-reuse", b"reuse\n") as (origin, net, card):
        took = []
        for round_ in range(2):
            if round_:
                time.sleep(1.0)     # the client's own side is CLOSED again
            s = net.socket(None)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((src, sport))
            tok = token()
            t0 = time.monotonic()
            with HttpConn(80, 15, addr=net.CARD, sock=s) as c:
                took.append(time.monotonic() - t0)
                c.send(f"GET /data-{tok} HTTP/1.1\r\nHost: card\r\n"
                       "Connection: close\r\n\r\n".encode())
                r = c.read_response()
                check(r.status == 200 and r.body == b"reuse\n",
                      f"round {round_}: status {r.status}, body {r.body[:40]!r}")
                # The card closes first, so its side keeps the TIME_WAIT.
                check(c.sock.recv(1) == b"", "the card did not close")
        print(f"# connect times from {src}:{sport}: "
              + ", ".join(f"{t * 1000:.1f} ms" for t in took))
        check(took[1] < 1.0, f"the second connect took {took[1]:.1f}s (before "
              "the TIME_WAIT patch: a 12 s failure)")


@test("frames longer than the card's 1514 bytes from the TAP are dropped "
      "and counted; the card still serves")
def t_oversize(env):
    with env.tap_card("oversize", b"ok\n", mtu=9000) as (origin, net, card):
        tok = token()
        # First a request: the namespace learns the card's MAC (ARP), and
        # TCP is unhurt by the larger MTU (the card's MSS is 1460).
        with net.conn(TapNet.CLIENT_ADDRS[0]) as c:
            c.send(f"GET /data-{tok} HTTP/1.1\r\nHost: card\r\n\r\n".encode())
            r = c.read_response()
        check(r.status == 200 and r.body == b"ok\n", f"first GET: {r}")
        before = tap_stats(card)
        # One UDP datagram of 4000 bytes: a single 4042-byte frame.
        u = net.socket(TapNet.CLIENT_ADDRS[0], kind=socket.SOCK_DGRAM)
        try:
            for _ in range(3):
                u.sendto(b"x" * 4000, (TapNet.CARD, 9))
        finally:
            u.close()
        deadline = time.monotonic() + 3
        while True:
            st = tap_stats(card)
            if st["rx_oversize"] - before["rx_oversize"] >= 3:
                break
            check(time.monotonic() < deadline,
                  f"oversized frames not counted: before {before}, now {st}")
            time.sleep(0.05)
        with net.conn(TapNet.CLIENT_ADDRS[0]) as c:
            tok = token()
            c.send(f"GET /data-{tok} HTTP/1.1\r\nHost: card\r\n\r\n".encode())
            r = c.read_response()
        check(r.status == 200 and r.body == b"ok\n", f"GET after: {r}")
        print(f"# TAP: {st}")


# ------------------------------------ the PROXY protocol (issue 11) ----

@test("PROXY protocol: pass-through listeners with proxy-protocol v1 and v2 "
      "in front of nginx's proxy_protocol listener: the client from "
      "10.0.2.103 gets its own address and port back; a plain pass-through "
      "listener still works against a plain nginx listener")
def t_proxy_protocol(env):
    src = TapNet.CLIENT_ADDRS[3]
    pp_port = free_port()
    # One nginx, two listeners: $server_port says which one answered.
    extra = (f"        listen 127.0.0.1:{pp_port} proxy_protocol;\n"
             "        return 200 \"$server_port "
             "$proxy_protocol_addr:$proxy_protocol_port\\n\";\n")
    with Nginx(env.run.sub("pp-nginx"), extra=extra) as nginx, \
            TapNet() as net:
        conf = (f"listen 81 pass {pp_port} proxy-protocol v1\n"
                f"listen 82 pass {pp_port} proxy-protocol v2\n"
                f"listen 83 pass {nginx.port}\n")
        with Card(env.run.sub("pp-card"), conf, {}, tap=net):
            cases = ((81, pp_port, True), (82, pp_port, True),
                     (83, nginx.port, False))
            for card_port, srv_port, named in cases:
                with net.conn(src, port=card_port, timeout=10) as c:
                    sport = c.sock.getsockname()[1]
                    c.send(b"GET / HTTP/1.1\r\nHost: card\r\n"
                           b"Connection: close\r\n\r\n")
                    r = c.read_response()
                want = (f"{srv_port} {src}:{sport}\n" if named
                        else f"{srv_port} :\n").encode()
                print(f"# card port {card_port}: {r.status} {r.body!r}")
                check(r.status == 200 and r.body == want,
                      f"card port {card_port}: status {r.status}, body "
                      f"{r.body!r}, wanted {want!r}\n" + nginx.tail_error())


# ------------------------------------------------------------- runner ----

# ------------------------------------------- the security proxy (issue 11) ----

# scripts/proxycard-passwd alice secret --salt 73616c74 (salt "salt")
USER_ALICE = ("user alice 73616c74 "
              "bede90386d450cea8b77b822f8887065e4e5abf132c2f9dccfcc7fbd4cba5e35")
# scripts/proxycard-passwd --token tok-123
TOKEN_123 = "token c8963414bf6c4c869eeac5f8a057c3dc574d422f1b108397b66f67bab3d2f981"


def attempt(net, src, path, headers="", port=80):
    """A GET from src on a new connection to the card's port: the Response,
    or "reset" when the card refused the connection (reset at accept,
    before any byte)."""
    try:
        with net.conn(src, port=port, timeout=5) as c:
            c.send(f"GET {path} HTTP/1.1\r\nHost: card\r\n{headers}"
                   "\r\n".encode())
            return c.read_response()
    except (ConnectionResetError, BrokenPipeError):
        return "reset"
    except TestFailure as e:
        if "reset" in str(e) or "closed" in str(e):
            return "reset"
        raise


def seen(origin, tok):
    return len(heads_for(origin, tok))


@test("security: allow/deny by source address, first match wins; a refused "
      "connection is reset at accept and the server sees nothing")
def t_sec_acl(env):
    A = TapNet.CLIENT_ADDRS
    extra = f"deny {A[1]}\nallow 10.0.2.100/30\ndeny all\n"
    with env.tap_card("sec-acl", b"ok\n", extra=extra) as (origin, net, card):
        want = {A[0]: 200, A[1]: "reset", A[2]: 200, A[4]: "reset"}
        for src, expect in want.items():
            tok = token()
            r = attempt(net, src, f"/data-{tok}")
            got = r if r == "reset" else r.status
            check(got == expect, f"{src}: {got}, wanted {expect}")
            check(seen(origin, tok) == (1 if expect == 200 else 0),
                  f"{src}: the server saw {seen(origin, tok)} requests")
        st = card.proxy_stats()
        print(f"# sec_acl_denied {st['sec_acl_denied']}, clients_refused "
              f"{st['clients_refused']}")
        check(st["sec_acl_denied"] == 2, f"sec_acl_denied {st['sec_acl_denied']}")
        check("denied by rule 1" in card.stderr_text(), "no log line for the "
              "refusal:\n" + card.stderr_tail())


@test("security: a pass-through listener gets the accept-time checks too: "
      "deny by source and limit-conn, nothing reaches the server")
def t_sec_pass(env):
    A = TapNet.CLIENT_ADDRS
    with DataOrigin(b"raw\n") as origin, TapNet() as net:
        conf = (f"listen 80 http {origin.port}\npool 1\n"
                f"listen 2222 pass {origin.port}\n"
                f"deny {A[1]} port 2222\nlimit-conn 1\n")
        with Card(env.run.sub("sec-pass"), conf, {}, tap=net) as card:
            card.wait_pool(1)
            tok = token()
            r = attempt(net, A[0], f"/data-{tok}", port=2222)
            check(r != "reset" and r.status == 200 and r.body == b"raw\n",
                  f"{A[0]} through the pass listener: {r}")
            check(seen(origin, tok) == 1, "the allowed one did not arrive")
            tok = token()
            r = attempt(net, A[1], f"/data-{tok}", port=2222)
            check(r == "reset", f"{A[1]} denied on port 2222: {r}")
            check(seen(origin, tok) == 0, "the denied one reached the server")
            r = attempt(net, A[1], "/data-http")       # port 80: allowed
            check(r != "reset" and r.status == 200, f"{A[1]} on port 80: {r}")
            with net.conn(A[2], port=2222, timeout=5) as held:
                held.send(b"GET /data-held HTTP/1.1\r\nHost: card\r\n\r\n")
                check(held.read_response().status == 200, "held")
                r = attempt(net, A[2], "/data-second", port=2222)
                check(r == "reset", f"a second pass connection from {A[2]}: {r}")
            st = card.proxy_stats()
            check(st["sec_acl_denied"] == 1 and st["sec_conn_limited"] == 1,
                  f"counters: acl {st['sec_acl_denied']}, conn "
                  f"{st['sec_conn_limited']}")


@test("security: limit-conn caps one source's connections, released as they "
      "close; another source is not affected")
def t_sec_limit_conn(env):
    A = TapNet.CLIENT_ADDRS
    with env.tap_card("sec-conn", b"ok\n", extra="limit-conn 2\n") as \
            (origin, net, card):
        held = [net.conn(A[2], timeout=5) for _ in range(2)]
        try:
            for c in held:      # both admitted and served, kept open
                c.send(b"GET /data-a HTTP/1.1\r\nHost: card\r\n\r\n")
                check(c.read_response().status == 200, "held connection")
            r = attempt(net, A[2], "/data-third")
            check(r == "reset", f"a third connection from {A[2]}: {r}")
            r = attempt(net, A[3], "/data-other")
            check(r != "reset" and r.status == 200, f"{A[3]}: {r}")
        finally:
            held[0].close()
        deadline = time.monotonic() + 5
        while card.proxy_stats()["clients_active"] > 1:
            check(time.monotonic() < deadline, "the closed connection stays")
            time.sleep(0.05)
        r = attempt(net, A[2], "/data-again")
        check(r != "reset" and r.status == 200, f"after one closed: {r}")
        held[1].close()
        st = card.proxy_stats()
        print(f"# sec_conn_limited {st['sec_conn_limited']}, sec_sources "
              f"{st['sec_sources']}")
        check(st["sec_conn_limited"] == 1, f"sec_conn_limited "
              f"{st['sec_conn_limited']}")


@test("security: limit-req answers 429 with Retry-After past the burst, per "
      "source, and the server never sees those requests")
def t_sec_limit_req(env):
    A = TapNet.CLIENT_ADDRS
    with env.tap_card("sec-req", b"ok\n", extra="limit-req 1/s burst 3\n") as \
            (origin, net, card):
        got, toks = [], []
        for _ in range(6):
            tok = token()
            toks.append(tok)
            got.append(attempt(net, A[4], f"/data-{tok}"))
        codes = [r if r == "reset" else r.status for r in got]
        print(f"# six requests at once from {A[4]}: {codes}")
        check(codes[:3] == [200] * 3, f"the burst: {codes}")
        check(all(c == 429 for c in codes[3:]), f"past the burst: {codes}")
        retry = got[3].header("retry-after")
        check(retry is not None and int(retry) >= 1, f"Retry-After {retry!r}")
        check([seen(origin, t) for t in toks] == [1, 1, 1, 0, 0, 0],
              "the server saw refused requests")
        r = attempt(net, A[5], "/data-other")
        check(r != "reset" and r.status == 200, f"another source: {r}")
        time.sleep(1.1)
        r = attempt(net, A[4], "/data-later")
        check(r != "reset" and r.status == 200, f"a second later: {r}")
        st = card.proxy_stats()
        check(st["sec_req_limited"] == 3, f"sec_req_limited {st['sec_req_limited']}")


@test("security: per-listener limits (limit-conn and limit-req with a port) "
      "count a source on that card port only, beside a global limit-conn; "
      "each refusal is counted on its own rule (sec-rule-N) and logged with "
      "its number and line")
def t_sec_per_listener(env):
    A = TapNet.CLIENT_ADDRS
    with DataOrigin(b"ok\n") as origin, TapNet() as net:
        # Rules 1-3 are on lines 4-6.
        conf = (f"listen 80 http {origin.port}\npool 2\n"
                f"listen 8081 http {origin.port}\n"
                "limit-conn 3\n"
                "limit-conn 1 port 8081\n"
                "limit-req 1/s burst 2 port 8081\n")
        with Card(env.run.sub("sec-listener"), conf, {}, tap=net) as card:
            card.wait_pool(2)

            def get(c, tok):
                c.send(f"GET /data-{tok} HTTP/1.1\r\nHost: card\r\n"
                       "\r\n".encode())
                return c.read_response().status

            def status(r):
                return r if r == "reset" else r.status

            on_8081 = net.conn(A[6], port=8081, timeout=5)
            on_80 = []
            try:
                check(get(on_8081, "a") == 200, "first on 8081")
                r = attempt(net, A[6], "/data-second", port=8081)
                check(r == "reset", f"a second connection on 8081: {r}")
                tok = token()
                codes = [get(on_8081, "b"), get(on_8081, tok)]
                check(codes == [200, 429], f"requests 2 and 3 on 8081 (burst "
                      f"2): {codes}")
                check(seen(origin, tok) == 0, "the 429 reached the server")
                on_80 += [net.conn(A[6], timeout=5) for _ in range(2)]
                for c in on_80:
                    check(get(c, "p") == 200, "held on port 80")
                codes = [get(on_80[0], "q") for _ in range(5)]
                check(codes == [200] * 5, f"port 80 has no request limit: "
                      f"{codes}")
                r = attempt(net, A[6], "/data-fourth")
                check(r == "reset", f"a fourth connection (global limit 3): "
                      f"{r}")
                r = attempt(net, A[7], "/data-other", port=8081)
                check(status(r) == 200, f"another source on 8081: {r}")
                st = card.proxy_stats()
                hits = st["sec_rule_hits"]
                print(f"# sec_rule_hits {hits[:4]}, sec_conn_limited "
                      f"{st['sec_conn_limited']}, sec_req_limited "
                      f"{st['sec_req_limited']}")
                check(hits[:4] == [1, 1, 1, 0], f"per-rule counters {hits[:4]}")
                check(len(hits) == 32 and sum(hits) == 3, f"counters {hits}")
                check(st["sec_conn_limited"] == 2 and
                      st["sec_req_limited"] == 1, f"per-kind counters {st}")
                log = card.stderr_text()
                for want in ("limit-conn, rule 1, line 4",
                             "limit-conn, rule 2, line 5",
                             "limit-req, rule 3, line 6"):
                    check(want in log, f"no log line with {want!r}:\n"
                          + card.stderr_tail())

                # The same rules again: the table and its counts are kept,
                # the per-rule counters start again.
                card.reload(conf)
                st = card.proxy_stats()
                check(sum(st["sec_rule_hits"]) == 0,
                      f"after a reload: {st['sec_rule_hits']}")
                r = attempt(net, A[6], "/data-fourth-again")
                check(r == "reset", f"after a reload, a fourth connection: {r}")
                check(card.proxy_stats()["sec_rule_hits"][0] == 1,
                      "rule 1 did not count it")
            finally:
                on_8081.close()
                for c in on_80:
                    c.close()
            st, ok = card.wait_stats(lambda p: p["clients_active"] == 0)
            check(ok, f"connections stay open: {st['clients_active']}")
            time.sleep(1.1)     # a token back in the 8081 bucket
            r = attempt(net, A[6], "/data-released", port=8081)
            check(status(r) == 200, f"8081 after its connection closed: {r}")


@test("security: auth basic and bearer by path, http-deny by path; every "
      "spelling of a guarded path is guarded; refused requests never reach "
      "the server")
def t_sec_auth(env):
    A = TapNet.CLIENT_ADDRS
    extra = ("auth basic Staff path /data/admin\n" + USER_ALICE + "\n"
             "auth bearer api path /data/api/\n" + TOKEN_123 + "\n"
             "http-deny path /data/private\n")
    good = "Authorization: Basic YWxpY2U6c2VjcmV0\r\n"           # alice:secret
    wrong = "Authorization: Basic YWxpY2U6c2VjcmV1\r\n"          # alice:secreu
    cases = [
        ("/data/admin/x", "", 401), ("/data/admin/x", wrong, 401),
        ("/data/admin/x", good, 200), ("/data/ADMIN/x", "", 401),
        ("/data/%61dmin/x", "", 401), ("/data//admin/x", "", 401),
        ("/data/x/../admin/x", "", 401), ("/data/admin/x", good + good, 401),
        ("/data/api/v1", "Authorization: Bearer tok-123\r\n", 200),
        ("/data/api/v1", "Authorization: Bearer tok-124\r\n", 401),
        ("/data/api/v1", good, 401),
        ("/data/private/x", good, 403), ("/data/Private", "", 403),
        ("/data/%2570rivate", "", 403), ("/data/public", "", 200),
        ("/data/a%zz", "", 400),
        # Review findings: a final dot segment, Tomcat's path parameters,
        # IIS's trailing dots; a '%' that decoding made is no escape.
        ("/data/admin/.", "", 401), ("/data/admin/x/%2e%2e", "", 401),
        ("/data/admin;x/", "", 401), ("/data/public/..;/admin/x", "", 401),
        ("/data/admin./x", "", 401), ("/data/50%25off", "", 200),
    ]
    # The constants are what scripts/proxycard-passwd prints.
    tool = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                        "scripts", "proxycard-passwd")
    for argv, want in ((["alice", "secret", "--salt", "73616c74"], USER_ALICE),
                       (["--token", "tok-123"], TOKEN_123)):
        out = subprocess.run([tool] + argv, capture_output=True, text=True,
                             timeout=10).stdout.strip()
        check(out == want, f"proxycard-passwd {argv}: {out!r}")
    with env.tap_card("sec-auth", b"ok\n", extra=extra) as (origin, net, card):
        for path, hdr, expect in cases:
            tok = token()
            sep = "&" if "?" in path else "?"
            r = attempt(net, A[6], f"{path}{sep}t={tok}", hdr)
            check(r != "reset", f"{path}: reset")
            check(r.status == expect, f"{path} {hdr.strip()!r}: {r.status}, "
                  f"wanted {expect}")
            check(seen(origin, tok) == (1 if expect == 200 else 0),
                  f"{path}: the server saw {seen(origin, tok)} requests")
            if expect == 401:
                wa = r.header("www-authenticate") or ""
                want = ('Basic realm="Staff"' if "admin" in path.lower()
                        or "%61" in path else 'Bearer realm="api"')
                check(wa.startswith(want), f"{path}: WWW-Authenticate {wa!r}")
        # Fields a server could route on around the rules are not passed on.
        tok = token()
        r = attempt(net, A[6], f"/data/public?t={tok}",
                    "X-Forwarded-Host: secret.example\r\n"
                    "X-Original-URL: /data/admin/\r\n"
                    "X-HTTP-Method-Override: DELETE\r\n"
                    "Forwarded: host=secret.example\r\n")
        check(r != "reset" and r.status == 200, f"rerouting fields: {r}")
        head = heads_for(origin, tok)[0]
        for name in ("x-forwarded-host", "x-original-url",
                     "x-http-method-override"):
            check(not head_values(head, name), f"{name} reached the server")
        check(head_values(head, "forwarded") == [f"for={A[6]}"],
              f"Forwarded {head_values(head, 'forwarded')}")
        st = card.proxy_stats()
        print(f"# sec_auth_failed {st['sec_auth_failed']}, sec_http_denied "
              f"{st['sec_http_denied']}")
        check(st["sec_auth_failed"] == 14 and st["sec_http_denied"] == 4,
              f"counters {st['sec_auth_failed']} / {st['sec_http_denied']}")


@test("security: a reload that adds limit-conn counts the connections "
      "already open, and leaves them served")
def t_sec_reload(env):
    A = TapNet.CLIENT_ADDRS
    with env.tap_card("sec-reload", b"ok\n") as (origin, net, card):
        c = net.conn(A[7], timeout=5)
        try:
            c.send(b"GET /data-1 HTTP/1.1\r\nHost: card\r\n\r\n")
            check(c.read_response().status == 200, "before the reload")
            out = card.reload(card.config_text + "limit-conn 1\n")
            check("configuration loaded" in out, f"not loaded: {out}")
            r = attempt(net, A[7], "/data-2")
            check(r == "reset", f"a second connection from {A[7]}: {r}")
            c.send(b"GET /data-3 HTTP/1.1\r\nHost: card\r\n\r\n")
            check(c.read_response().status == 200, "the admitted client")
        finally:
            c.close()
        st = card.proxy_stats()
        check(st["sec_conn_limited"] == 1, f"sec_conn_limited "
              f"{st['sec_conn_limited']}")


def main(argv):
    skip = (f"{SIM} is not built (make fw sim)" if not SIM.exists()
            else TapNet.unavailable())
    return run_tap(TESTS, argv, Env(), skip)


if __name__ == "__main__":
    sys.exit(main(sys.argv))

