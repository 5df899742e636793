#!/usr/bin/env python3
"""proxycard end-to-end tests: real clients (curl, raw sockets) on the host,
build/proxycard-sim in the middle, nginx (or a Python server) behind it.

Prints TAP on stdout; exit status 0 only if no test failed.
Usage: test_proxy.py [SUBSTRING...]   run only tests whose name contains one
Environment: PCTEST_KEEP=1 keeps the run directory (logs, configs).
"""

import os
import socket
import sys
import threading
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pctest import (  # noqa: E402
    CURL, NGINX, SIM, Card, ConnClosed, EchoServer, HoleServer, HttpConn,
    Nginx, Origin, RunDir, Skip, TestFailure, check, curl, curl_stdin,
    free_port,
    get_request, http_get, many_gets, run_tap, sha256, sha256_file,
    test_registry,
)

TESTS, test = test_registry()


# Files nginx serves from www/: name -> size (random bytes).
FILES = {
    "f0.bin": 0, "f1.bin": 1, "f1000.bin": 1000, "f65537.bin": 64 * 1024 + 1,
    "f1m.bin": 1 << 20, "f10m.bin": 10 << 20,
    "small.bin": 512, "a.bin": 3000, "b.bin": 70000, "c.bin": 5,
}

NGINX_LOCATIONS = """\
        location /up/ {
            dav_methods PUT;
            create_full_put_path on;
            client_max_body_size 20m;
        }
        location = /post {
            client_max_body_size 20m;
            return 200 "ok\\n";
        }
        location = /echo {
            return 200 "$request_uri $remote_port\\n";
        }
"""


class Env:
    """What the tests share: the run directory, one nginx, the files."""

    def __init__(self):
        self.run = RunDir()
        self.files = {}
        self.nginx = None

    def setup(self):
        for name, size in FILES.items():
            self.files[name] = os.urandom(size)
        if not NGINX:
            return                  # the tests that need it skip
        nginx = Nginx(self.run.sub("nginx"), extra=NGINX_LOCATIONS)
        for name, data in self.files.items():
            (nginx.www / name).write_bytes(data)
        (nginx.www / "up").mkdir()
        nginx.start()
        self.nginx = nginx

    def teardown(self):
        if self.nginx:
            self.nginx.stop()
        if os.environ.get("PCTEST_KEEP"):
            print(f"# run directory kept: {self.run.path}")
        else:
            self.run.remove()

    def card(self, name, extra="", forwards=None, listen=True, **kw):
        """A card (not started) whose port 80 is the HTTP proxy to nginx."""
        conf = ""
        if listen:
            if not self.nginx:
                raise Skip("nginx is not installed")
            conf += f"listen 80 http {self.nginx.port}\n"
        conf += extra
        return Card(self.run.sub(name), conf, forwards or {"http": 80}, **kw)

    def url(self, card, path):
        return f"http://127.0.0.1:{card.ports['http']}{path}"

    def log_for(self, token):
        return [l for l in self.nginx.log_lines() if token in l["request"]]


def token():
    return uuid.uuid4().hex[:12]


def assert_healthy(env, card, name="http"):
    """The card still serves a normal GET, runs, and reports no fault."""
    check(card.alive(), "proxycard-sim is not running any more:\n"
          + card.stderr_tail())
    try:
        r = http_get(card.ports[name], "/small.bin", timeout=10)
    except (OSError, ConnClosed) as e:
        raise TestFailure(f"health GET failed: {type(e).__name__}: {e}")
    check(r.status == 200, f"health GET: status {r.status}")
    check(r.body == env.files["small.bin"], "health GET: body differs")
    st = card.stats()
    check(st["firmware"]["fault"] is None,
          f"firmware fault: {st['firmware']['fault']}")


# ------------------------------------------------------------- 1. GET ----

@test("GET bodies of 0 B to 10 MiB through the card with curl, byte-exact")
def t_get_sizes(env):
    if not CURL:
        raise Skip("curl is not installed")
    with env.card("get") as card:
        card.wait_pool(2)
        for name in ("f0.bin", "f1.bin", "f1000.bin", "f65537.bin",
                     "f1m.bin", "f10m.bin"):
            out = card.dir / ("out-" + name)
            hdr = card.dir / ("hdr-" + name)
            r = curl(["--max-time", "60", "-o", str(out), "-D", str(hdr),
                      "-w", "%{http_code}", env.url(card, "/" + name)])
            check(r.returncode == 0, f"{name}: curl exit {r.returncode}: "
                  f"{r.stderr.decode(errors='replace').strip()}")
            check(r.stdout == b"200", f"{name}: status {r.stdout!r}")
            cls = [l.split(b":", 1)[1].strip() for l in hdr.read_bytes().split(b"\r\n")
                   if l.lower().startswith(b"content-length:")]
            check(cls == [str(len(env.files[name])).encode()],
                  f"{name}: Content-Length {cls}, want {len(env.files[name])}")
            check(sha256_file(out) == sha256(env.files[name]),
                  f"{name}: body differs ({out.stat().st_size} bytes, "
                  f"want {len(env.files[name])})")
            out.unlink()


# ------------------------------------------------------------ 2. HEAD ----

@test("HEAD: headers right, no body, then a GET on the same connection")
def t_head(env):
    with env.card("head") as card:
        card.wait_pool(2)
        with HttpConn(card.port) as c:
            c.send(b"HEAD /f1m.bin HTTP/1.1\r\nHost: card\r\n\r\n")
            r = c.read_response("HEAD")
            check(r.status == 200, f"HEAD status {r.status}")
            check(r.header("content-length") == str(1 << 20),
                  f"HEAD Content-Length {r.header('content-length')}")
            check((r.header("connection") or "").lower() == "keep-alive",
                  f"HEAD Connection: {r.header('connection')}")
            extra = c.pending(0.5)
            check(extra == b"", f"bytes after the HEAD response: "
                  f"{'EOF' if extra is None else repr(extra[:60])}")
            c.send(get_request("/a.bin"))
            r = c.read_response()
            check(r.status == 200, f"GET after HEAD: status {r.status}")
            check(r.body == env.files["a.bin"], "GET after HEAD: body differs")


# ---------------------------------------------------- 3. request bodies ----

@test("PUT with Content-Length (1 MiB, curl -T file), read back byte-exact")
def t_put_length(env):
    if not CURL:
        raise Skip("curl is not installed")
    data = os.urandom(1 << 20)
    tok = token()
    with env.card("put-cl", "max-body 4m\n") as card:
        card.wait_pool(2)
        src = card.dir / "src.bin"
        src.write_bytes(data)
        r = curl(["--max-time", "60", "-T", str(src), "-o", "/dev/null",
                  "-w", "%{http_code}", env.url(card, f"/up/cl-{tok}.bin")])
        check(r.returncode == 0, f"curl exit {r.returncode}: {r.stderr!r}")
        check(r.stdout in (b"201", b"204"), f"PUT status {r.stdout!r}")
        lines = env.log_for(f"cl-{tok}")
        check(lines and lines[0]["te"] == "-" and
              lines[0]["request_length"] > len(data),
              f"nginx did not see a Content-Length PUT: {lines}")
        r = http_get(card.port, f"/up/cl-{tok}.bin", timeout=30)
        check(r.status == 200, f"GET back: status {r.status}")
        check(sha256(r.body) == sha256(data),
              f"GET back: {len(r.body)} bytes, differ from the {len(data)} put")


@test("PUT chunked (curl -T -): de-chunked to the server, read back byte-exact")
def t_put_chunked_curl(env):
    if not CURL:
        raise Skip("curl is not installed")
    data = os.urandom(1 << 20)
    tok = token()
    with env.card("put-chunked-curl", "max-body 4m\n") as card:
        card.wait_pool(2)
        src = card.dir / "src.bin"
        src.write_bytes(data)
        r = curl_stdin(["--max-time", "60", "-T", "-", "-o", "/dev/null",
                        "-w", "%{http_code}", env.url(card, f"/up/ch-{tok}.bin")],
                       src)
        check(r.returncode == 0, f"curl exit {r.returncode}: {r.stderr!r}")
        check(r.stdout in (b"201", b"204"), f"PUT status {r.stdout!r}")
        lines = env.log_for(f"ch-{tok}")
        # The card de-chunks a buffered body and writes Content-Length.
        check(lines and lines[0]["te"] == "-",
              f"nginx saw the client's chunked framing: {lines}")
        r = http_get(card.port, f"/up/ch-{tok}.bin", timeout=30)
        check(r.status == 200, f"GET back: status {r.status}")
        check(sha256(r.body) == sha256(data),
              f"GET back: {len(r.body)} bytes, differ from the {len(data)} put")


@test("PUT chunked by hand (several chunks, sent piecewise): de-chunked, read back")
def t_put_chunked_raw(env):
    data = os.urandom(300000)
    sizes = [1, 4095, 65536, 100000, 7, len(data) - (1 + 4095 + 65536 + 100000 + 7)]
    tok = token()
    with env.card("put-chunked-raw", "max-body 4m\n") as card:
        card.wait_pool(2)
        with HttpConn(card.port, timeout=30) as c:
            c.send(f"PUT /up/raw-{tok}.bin HTTP/1.1\r\nHost: card\r\n"
                   "Transfer-Encoding: chunked\r\n\r\n".encode())
            off = 0
            for i, n in enumerate(sizes):
                ext = ";ext=1" if i == 2 else ""
                c.send(f"{n:x}{ext}\r\n".encode() + data[off:off + n] + b"\r\n")
                off += n
                time.sleep(0.05)
            c.send(b"0\r\n\r\n")
            r = c.read_response()
            check(r.status in (201, 204), f"PUT status {r.status}")
            c.send(get_request(f"/up/raw-{tok}.bin"))
            r = c.read_response()
            check(r.status == 200, f"GET back: status {r.status}")
            check(sha256(r.body) == sha256(data),
                  f"GET back: {len(r.body)} bytes, differ from the {len(data)} put")
        lines = env.log_for(f"raw-{tok}")
        # The card de-chunks a buffered body and writes Content-Length.
        check(lines and lines[0]["te"] == "-",
              f"nginx saw the client's chunked framing: {lines}")


@test("POST 100 KiB to a 'return 200' location: 200, connection reusable")
def t_post_discard(env):
    body = os.urandom(100 * 1024)
    with env.card("post") as card:
        card.wait_pool(2)
        with HttpConn(card.port) as c:
            c.send(f"POST /post HTTP/1.1\r\nHost: card\r\n"
                   f"Content-Type: application/octet-stream\r\n"
                   f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
            r = c.read_response()
            check(r.status == 200, f"POST status {r.status}")
            check(r.body == b"ok\n", f"POST body {r.body[:40]!r}")
            c.send(get_request("/small.bin"))
            r = c.read_response()
            check(r.status == 200 and r.body == env.files["small.bin"],
                  f"GET after POST: status {r.status}, body ok "
                  f"{r.body == env.files['small.bin']}")


# -------------------------------------------- 4. keep-alive, pipelining ----

@test("pipelining: 3 GETs in one write, 3 responses in order, byte-exact")
def t_pipelining(env):
    tok = token()
    names = ["b.bin", "c.bin", "a.bin"]
    with env.card("pipeline") as card:
        card.wait_pool(2)
        with HttpConn(card.port, timeout=20) as c:
            c.send(b"".join(get_request(f"/{n}?pipe={tok}") for n in names))
            for n in names:
                r = c.read_response()
                check(r.status == 200, f"{n}: status {r.status}")
                check(r.body == env.files[n],
                      f"{n}: body differs ({len(r.body)} bytes, want "
                      f"{len(env.files[n])}) -- responses out of order?")
            extra = c.pending(0.3)
            check(extra == b"", f"extra bytes after 3 responses: {extra!r:.80}")
        st = card.proxy_stats()
        check(st["requests"] == 3 and st["clients_accepted"] == 1,
              f"stats: {st}")
    check(len(env.log_for(tok)) == 3, f"nginx saw {env.log_for(tok)}")


@test("keep-alive: curl fetches 3 URLs over one client connection")
def t_curl_keepalive(env):
    if not CURL:
        raise Skip("curl is not installed")
    names = ["a.bin", "f65537.bin", "c.bin"]
    with env.card("curl-keepalive") as card:
        card.wait_pool(2)
        args = ["--max-time", "30", "-w", "%{num_connects} %{http_code}\\n"]
        outs = []
        for n in names:
            out = card.dir / ("out-" + n)
            outs.append(out)
            args += ["-o", str(out), env.url(card, "/" + n)]
        r = curl(args)
        check(r.returncode == 0, f"curl exit {r.returncode}: {r.stderr!r}")
        rows = [l.split() for l in r.stdout.decode().splitlines()]
        check(len(rows) == 3 and all(x[1] == "200" for x in rows),
              f"curl: {rows}")
        connects = sum(int(x[0]) for x in rows)
        check(connects == 1, f"curl opened {connects} connections for 3 URLs")
        for n, out in zip(names, outs):
            check(out.read_bytes() == env.files[n], f"{n}: body differs")
        st = card.proxy_stats()
        check(st["clients_accepted"] == 1 and st["requests"] == 3,
              f"card stats: accepted {st['clients_accepted']}, "
              f"requests {st['requests']}")


# ------------------------------------------------------------ 5. pool ----

@test("pool 2: 1000 concurrent clients all served over <= 2 server connections")
def t_pool(env):
    n = 1000
    tok = token()
    with env.card("pool", "pool 2\ntimeout pool-idle 120s\n") as card:
        card.wait_pool(2)
        t0 = time.monotonic()
        # Each client's answer names its own request (nginx echoes the URI):
        # a response delivered to the wrong client would not match.
        paths = [f"/echo?pool={tok}-{i}" for i in range(n)]
        res = many_gets(card.port, paths, timeout=90)
        took = time.monotonic() - t0

        def mine(i, body):
            return body is not None and body.startswith(paths[i].encode() + b" ")

        bad = [(i, r) for i, r in enumerate(res) if r[0] != 200 or not mine(i, r[1])]
        if bad:
            kinds = {}
            for i, r in bad:
                k = r[2] or f"status {r[0]}, own body {mine(i, r[1])}"
                kinds[k] = kinds.get(k, 0) + 1
            raise TestFailure(f"{len(bad)} of {n} clients not served in "
                              f"{took:.1f}s: {kinds}; stats {card.proxy_stats()}")
        lines = env.log_for(f"pool={tok}")
        conns = sorted({l["conn"] for l in lines})
        check(len(lines) == n, f"nginx logged {len(lines)} requests, want {n}")
        check(len(conns) <= 2, f"nginx saw {len(conns)} connections: {conns}")
        st, ok = card.wait_stats(lambda p: p["clients_active"] == 0, 10)
        check(ok, f"clients_active {st['clients_active']} 10 s after the run")
        check(st["clients_accepted"] == n and st["clients_refused"] == 0 and
              st["responses"][2] == n, f"stats: {st}")
        print(f"# {n} clients served in {took:.2f}s over nginx connections "
              f"{conns}; srv_connects {st['srv_connects']}")


@test("pool 8: every pooled connection is open within 1 s of start-up")
def t_pool_startup(env):
    # Not one of the numbered tests: docs/config.md says the pool's
    # connections are opened at start-up; a client arriving then finds them.
    with env.card("pool-startup", "pool 8\n") as card:
        t0 = time.monotonic()
        st, ok = card.wait_stats(lambda p: p["srv_idle"] == 8, 1.0, 0.05)
        took = time.monotonic() - t0
        if not ok:
            st2, ok2 = card.wait_stats(lambda p: p["srv_idle"] == 8, 8.0, 0.1)
            raise TestFailure(
                f"1 s after start: srv_idle {st['srv_idle']} of 8 "
                f"(srv_connects {st['srv_connects']}, failures "
                f"{st['srv_connect_failures']}); all 8 "
                + (f"after {time.monotonic() - t0:.2f}s" if ok2 else
                   f"not even after 9 s (srv_idle {st2['srv_idle']})"))
        print(f"# 8 pooled connections up after {took:.2f}s")


# ---------------------------------------------------- 6. slow request ----

@test("a request trickled over 3 s reaches the server only once complete")
def t_trickle(env):
    tok = token()
    req = (f"GET /small.bin?trickle={tok} HTTP/1.1\r\nHost: card\r\n"
           "User-Agent: trickle\r\n\r\n").encode()
    pieces = 16                     # 15 pauses of 200 ms: 3 s
    cuts = [round(k * len(req) / pieces) for k in range(pieces + 1)]
    with env.card("trickle") as card:
        card.wait_pool(2)
        with HttpConn(card.port, timeout=20) as c:
            t0 = time.monotonic()
            for k in range(pieces):
                c.send(req[cuts[k]:cuts[k + 1]])
                if k + 1 < pieces:
                    time.sleep(0.2)
                if k == pieces // 2:
                    mid = card.proxy_stats()
                    check(mid["requests"] == 0 and mid["bytes_to_server"] == 0,
                          f"mid-trickle the card already forwarded: {mid}")
                    check(not env.log_for(tok), "nginx saw the request early")
            r = c.read_response()
            took = time.monotonic() - t0
        check(r.status == 200 and r.body == env.files["small.bin"],
              f"status {r.status}, body ok {r.body == env.files['small.bin']}")
        check(took >= 2.9, f"trickle took only {took:.2f}s")
    lines = env.log_for(tok)
    check(len(lines) == 1, f"nginx log: {lines}")
    check(lines[0]["request_time"] < 0.5,
          f"nginx request_time {lines[0]['request_time']} s: the server saw "
          "the request before it was complete")
    print(f"# trickled for {took:.2f}s; nginx request_time "
          f"{lines[0]['request_time']:.3f}s")


# ------------------------------------------------------ 7. slow reader ----

@test("slow reader of 10 MiB: server connection released at once, body exact")
def t_slow_reader(env):
    tok = token()
    # The whole 10 MiB in card memory: `buffer` above the default (1 MiB).
    with env.card("slow-reader", "pool 2\nbuffer 16m\n") as card:
        card.wait_pool(2)
        with HttpConn(card.port, timeout=60, rcvbuf=16384) as c:
            c.send(get_request(f"/f10m.bin?slow={tok}"))
            t0 = time.monotonic()
            time.sleep(2.0)
            st = card.stats()
            p = st["firmware"]["proxy"]
            check(p["srv_in_use"] == 0 and p["srv_idle"] == 2,
                  f"after 2 s of not reading: srv_in_use {p['srv_in_use']}, "
                  f"srv_idle {p['srv_idle']} (want 0 and 2); "
                  f"bytes_from_server {p['bytes_from_server']}, "
                  f"bytes_to_clients {p['bytes_to_clients']}")
            check(p["bytes_to_clients"] < (10 << 20),
                  "the client was not slow: everything already left the card")
            lines = env.log_for(tok)
            check(len(lines) == 1 and lines[0]["status"] == 200 and
                  lines[0]["bytes"] == 10 << 20,
                  f"nginx has not finished the response: {lines}")
            r = c.read_response()
            took = time.monotonic() - t0
        check(r.status == 200, f"status {r.status}")
        check(sha256(r.body) == sha256(env.files["f10m.bin"]),
              f"body differs ({len(r.body)} bytes)")
        print(f"# card memory in use while the client waited: "
              f"{st['firmware']['mem']['in_use']} bytes; nginx request_time "
              f"{lines[0]['request_time']}s; client done after {took:.2f}s")


# ---------------------------------------------------- 8. pass-through ----

@test("pass-through: 100 KiB echoed byte-exact, half-close, then EOF")
def t_pass(env):
    data = os.urandom(100 * 1024)
    tail = os.urandom(1000)
    trailer = b"SENT-AFTER-THE-CLIENT-FIN"
    with EchoServer(trailer=trailer, linger=0.3) as echo, \
            env.card("pass", f"listen 7777 pass {echo.port}\n",
                     forwards={"pass": 7777}, listen=False) as card:
        s = socket.create_connection(("127.0.0.1", card.ports["pass"]), timeout=10)
        got = bytearray()
        state = {"how": None}

        def reader():
            try:
                while True:
                    b = s.recv(65536)
                    if not b:
                        state["how"] = "eof"
                        return
                    got.extend(b)
            except socket.timeout:
                state["how"] = "timeout"
            except OSError as e:
                state["how"] = f"{type(e).__name__}: {e}"

        th = threading.Thread(target=reader, daemon=True)
        th.start()
        try:
            s.sendall(data)
            deadline = time.monotonic() + 10
            while len(got) < len(data) and time.monotonic() < deadline and th.is_alive():
                time.sleep(0.02)
            check(bytes(got[:len(data)]) == data,
                  f"echo of 100 KiB: got {len(got)} bytes, "
                  f"{'equal' if bytes(got) == data[:len(got)] else 'different'}"
                  f" ({state['how']})")
            s.sendall(tail)
            s.shutdown(socket.SHUT_WR)
            th.join(timeout=10)
            check(not th.is_alive(), f"no EOF 10 s after the half-close "
                  f"({len(got)} bytes so far)")
            check(state["how"] == "eof", f"the connection ended with {state['how']}")
            check(bytes(got) == data + tail + trailer,
                  f"after half-close: got {len(got)} bytes, want "
                  f"{len(data) + len(tail) + len(trailer)}; trailer present: "
                  f"{bytes(got).endswith(trailer)}")
        finally:
            s.close()
            th.join(timeout=2)
        check(echo.accepted == 1, f"echo server saw {echo.accepted} connections")


# ---------------------------------------------------------- 9. errors ----

ERR_CONF = "pool 2\nmax-header 1k\nmax-body 10k\ntimeout request 2s\ntimeout server 2s\n"


def expect_error(c, status, timeout=10):
    """Read the card's error response; assert status, Connection: close and
    that the connection then closes.  Returns the seconds it took."""
    t0 = time.monotonic()
    try:
        r = c.read_response(timeout=timeout)
    except ConnClosed:
        raise TestFailure(f"connection closed without a response (want {status})")
    except ConnectionResetError:
        raise TestFailure(f"connection reset without a response (want {status})")
    except socket.timeout:
        raise TestFailure(f"no response within {timeout}s (want {status})")
    took = time.monotonic() - t0
    check(r.status == status, f"status {r.status} {r.reason!r}, want {status}; "
          f"body {r.body[:80]!r}")
    check((r.header("connection") or "").lower() == "close",
          f"{status} without Connection: close")
    rest, how = c.read_to_eof(timeout=7)
    check(how in ("eof", "reset"), f"connection still open 7 s after the {status}")
    check(rest == b"", f"bytes after the {status}: {rest[:80]!r}")
    return took


def error_case(env, name, request, status, extra="", timeout=10,
               card_port=80, min_t=None, max_t=None, before=None):
    conf = ERR_CONF + extra
    with env.card(name, conf, forwards={"http": 80, "t": card_port}) as card:
        card.wait_pool(2)
        if before:
            before(card)
        with HttpConn(card.ports["t"]) as c:
            t0 = time.monotonic()
            for part in (request if isinstance(request, list) else [request]):
                c.send(part)
            took = expect_error(c, status, timeout)
            took = time.monotonic() - t0 if took is not None else took
        if min_t is not None:
            check(took >= min_t, f"{status} after {took:.2f}s, before {min_t}s")
        if max_t is not None:
            check(took <= max_t, f"{status} after {took:.2f}s, later than {max_t}s")
        assert_healthy(env, card)
        return took


@test("error: malformed request line -> 400, connection closed")
def t_err_400(env):
    error_case(env, "err-400", b"GARBAGE\r\n\r\n", 400)


@test("error: request head over max-header 1k -> 431")
def t_err_431(env):
    req = (b"GET /small.bin HTTP/1.1\r\nHost: card\r\nX-Big: " + b"a" * 2000 +
           b"\r\n\r\n")
    error_case(env, "err-431", req, 431)


@test("error: Content-Length over max-body 10k -> 413")
def t_err_413_length(env):
    req = (b"POST /post HTTP/1.1\r\nHost: card\r\nContent-Length: 20000\r\n"
           b"\r\n")
    error_case(env, "err-413-cl", req, 413)


@test("error: chunked body over max-body 10k -> 413")
def t_err_413_chunked(env):
    chunk = b"2000\r\n" + b"x" * 0x2000 + b"\r\n"
    req = [b"POST /post HTTP/1.1\r\nHost: card\r\nTransfer-Encoding: chunked\r\n\r\n",
           chunk, chunk, b"0\r\n\r\n"]
    error_case(env, "err-413-chunked", req, 413)


@test("error: half a request and silence, timeout request 2s -> 408 in ~3 s")
def t_err_408(env):
    took = error_case(env, "err-408",
                      b"GET /small.bin HTTP/1.1\r\nHost: card\r\n", 408,
                      timeout=8, min_t=1.8, max_t=3.5)
    print(f"# 408 after {took:.2f}s")


@test("error: server port where nothing listens -> 502")
def t_err_502(env):
    # docs/firmware.md: 502 once no server connection could be made within
    # `timeout connect` while the request waited; 504 (timeout server) would
    # come first with the default 5 s, so connect gets 1 s here.
    dead = free_port()
    took = error_case(env, "err-502", get_request("/small.bin"), 502,
                      extra=f"listen 81 http {dead}\ntimeout connect 1s\n",
                      card_port=81, timeout=15, max_t=3.5,
                      before=lambda card: card.wait_stats(
                          lambda p: p["srv_connect_failures"] >= 2, 5))
    print(f"# 502 after {took:.2f}s")


@test("error: server accepts and never answers, timeout server 2s -> 504")
def t_err_504(env):
    with HoleServer() as hole:
        took = error_case(env, "err-504", get_request("/small.bin"), 504,
                          extra=f"listen 82 http {hole.port}\n", card_port=82,
                          timeout=8, min_t=1.8, max_t=4.5)
        check(b"GET /small.bin HTTP/1.1" in hole.received,
              "the silent server never got the request")
    print(f"# 504 after {took:.2f}s")


@test("error: Transfer-Encoding: gzip -> 501")
def t_err_501(env):
    req = (b"POST /post HTTP/1.1\r\nHost: card\r\nTransfer-Encoding: gzip\r\n"
           b"\r\n")
    error_case(env, "err-501", req, 501)


@test("error: HTTP/2.0 in the request line -> 505")
def t_err_505(env):
    error_case(env, "err-505", b"GET /small.bin HTTP/2.0\r\nHost: card\r\n\r\n",
               505)


@test("max-clients 5: a 6th connection is refused, the first 5 are served")
def t_max_clients(env):
    with env.card("max-clients", "pool 2\nmax-clients 5\n") as card:
        card.wait_pool(2)
        conns = []
        try:
            for _ in range(5):
                conns.append(HttpConn(card.port, timeout=10))
            st, ok = card.wait_stats(lambda p: p["clients_active"] == 5, 5)
            check(ok, f"5 connections, clients_active {st['clients_active']}")
            with HttpConn(card.port, timeout=5) as sixth:
                try:
                    sixth.send(get_request("/small.bin"))
                except OSError:
                    pass                # refused already: fine
                data, how = sixth.read_to_eof(timeout=5)
                check(how in ("eof", "reset") and data == b"",
                      f"6th connection: {how}, {len(data)} bytes "
                      f"{data[:60]!r}")
            st = card.proxy_stats()
            check(st["clients_refused"] >= 1, f"clients_refused 0: {st}")
            for i, c in enumerate(conns):
                c.send(get_request("/small.bin"))
                r = c.read_response()
                check(r.status == 200 and r.body == env.files["small.bin"],
                      f"client {i + 1} of 5: status {r.status}")
        finally:
            for c in conns:
                c.close()
        st, ok = card.wait_stats(lambda p: p["clients_active"] == 0, 8)
        check(ok, f"clients_active {st['clients_active']} after closing all")
        assert_healthy(env, card)


@test("unmatched pass: a port with no listener goes through to the same server port")
def t_unmatched(env):
    with EchoServer() as echo:
        # The card port is the echo server's port: pass-through keeps it.
        for conf, want in (("unmatched pass\n", "echo"), ("", "refused")):
            with env.card(f"unmatched-{want}", conf,
                          forwards={"http": 80, "other": echo.port}) as card:
                with HttpConn(card.ports["other"], timeout=5) as c:
                    try:
                        c.send(b"to a port without a listener")
                    except OSError:
                        pass
                    if want == "echo":
                        got = b""
                        deadline = time.monotonic() + 5
                        while len(got) < 28 and time.monotonic() < deadline:
                            try:
                                b = c.sock.recv(100)
                            except socket.timeout:
                                break
                            if not b:
                                break
                            got += b
                        check(got == b"to a port without a listener",
                              f"unmatched pass: echo {got!r}")
                    else:
                        data, how = c.read_to_eof(timeout=5)
                        check(how in ("eof", "reset") and data == b"",
                              f"no listener, refuse: {how} {data[:40]!r}")
                assert_healthy(env, card)


@test("configuration loaded into the running card (SIGHUP): listeners, limits")
def t_reconfigure(env):
    with EchoServer() as echo, \
            env.card("reconf", "pool 2\n",
                     forwards={"http": 80, "pass": 7000}) as card:
        card.wait_pool(2)
        r = http_get(card.ports["http"], "/small.bin")
        check(r.status == 200, f"before: status {r.status}")

        reload = card.reload

        # A new pass-through listener and a smaller head limit, live.
        out = reload(f"listen 80 http {env.nginx.port}\npool 2\n"
                     f"listen 7000 pass {echo.port}\nmax-header 1k\n")
        check(": loaded" in out, f"not loaded: {out}")
        with socket.create_connection(("127.0.0.1", card.ports["pass"]),
                                      timeout=10) as sck:
            sck.sendall(b"ping through the new listener")
            got = b""
            while len(got) < 29:
                b = sck.recv(100)
                if not b:
                    break
                got += b
            check(got == b"ping through the new listener", f"echo: {got!r}")
        with HttpConn(card.ports["http"]) as c:
            c.send(b"GET /small.bin HTTP/1.1\r\nHost: card\r\nX-Big: " +
                   b"a" * 2000 + b"\r\n\r\n")
            r = c.read_response()
            check(r.status == 431, f"max-header 1k after reload: {r.status}")

        # A configuration the running card refuses leaves the old one.
        out = reload(f"listen 80 http {env.nginx.port}\npool 3\n")
        check("not loaded" in out and "'pool' cannot change" in out,
              f"pool change accepted? {out}")
        out = reload("listen 80 http\nbogus\n")
        check("not loaded" in out and "line 2: unknown directive 'bogus'" in out,
              f"bad text accepted? {out}")
        with HttpConn(card.ports["http"]) as c:
            c.send(b"GET /small.bin HTTP/1.1\r\nHost: card\r\nX-Big: " +
                   b"a" * 2000 + b"\r\n\r\n")
            r = c.read_response()
            check(r.status == 431, f"the refused loads changed the limit: {r.status}")

        # Removing the listener: new connections are refused.
        out = reload(f"listen 80 http {env.nginx.port}\npool 2\n")
        check(": loaded" in out, f"not loaded: {out}")
        with HttpConn(card.ports["pass"], timeout=5) as c:
            try:
                c.send(b"x")
            except OSError:
                pass
            data, how = c.read_to_eof(timeout=5)
            check(how in ("eof", "reset") and data == b"",
                  f"removed listener still answers: {how} {data[:40]!r}")
        assert_healthy(env, card)


# ------------------------------------------------ 10. pool under churn ----

def timed_get(port, path, timeout=15.0, host="card"):
    """One GET on a fresh connection (Connection: close).  Returns a dict:
    status, body, err, t0 (sent), t1 (answered), extra (bytes after the
    response, None if the connection did not end cleanly)."""
    out = {"status": None, "body": None, "err": None, "extra": None,
           "t0": time.monotonic(), "t1": None}
    try:
        with HttpConn(port, timeout=timeout) as c:
            c.send(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n"
                   "Connection: close\r\n\r\n".encode())
            r = c.read_response(timeout=timeout)
            out["t1"] = time.monotonic()
            out["status"], out["body"] = r.status, r.body
            data, how = c.read_to_eof(timeout=5)
            out["extra"] = data if how == "eof" else None
    except Exception as e:      # noqa: BLE001 - reported per request
        out["err"] = f"{type(e).__name__}: {e}"
        out["t1"] = time.monotonic()
    return out


def burst(port, paths, timeout=15.0):
    """timed_get() on each path at once, one thread each."""
    res = [None] * len(paths)

    def run(i):
        res[i] = timed_get(port, paths[i], timeout)
    th = [threading.Thread(target=run, args=(i,), daemon=True)
          for i in range(len(paths))]
    for t in th:
        t.start()
    for t in th:
        t.join(timeout + 10)
    return res


@test("pool churn: bursts while the server and the card close pooled "
      "connections; every request answered once, within 1 s")
def t_pool_churn(env):
    import random as _random
    rnd = _random.Random(8)
    tok = token()
    # The server's own keep-alive timeout and the card's pool-idle race:
    # pooled connections die on both sides, at every age.
    with Origin(idle_timeout=0.9) as origin, \
            env.card("churn", f"listen 80 http {origin.port}\npool 4\n"
                     "timeout pool-idle 1s\ntimeout connect 3s\n",
                     listen=False) as card:
        card.wait_pool(4)
        served_from = 0.0           # the server can serve from then on
        results = []
        t_end = time.monotonic() + 20
        k = 0
        while time.monotonic() < t_end:
            if k % 9 == 8:
                origin.restart(gap=0.3)
                served_from = time.monotonic()
            paths = [f"/churn-{tok}-{k}-{j}" for j in range(3)]
            if k % 4 == 1:
                paths[0] = f"/bad-{tok}-{k}-0"
            for r, p in zip(burst(card.port, paths), paths):
                results.append((p, r, served_from))
            time.sleep(rnd.choice([0.05, 0.3, 0.6, 0.85, 0.95, 1.1]))
            k += 1
        problems = []
        worst = 0.0
        for p, r, since in results:
            want = 400 if p.startswith("/bad") else 200
            late = r["t1"] - max(r["t0"], since)
            worst = max(worst, late)
            if r["err"] or r["status"] != want:
                problems.append(f"{p}: {r['err'] or r['status']} after "
                                f"{r['t1'] - r['t0']:.2f}s")
            elif want == 200 and not r["body"].startswith(p.encode() + b" "):
                problems.append(f"{p}: another request's body {r['body'][:60]!r}")
            elif r["extra"] != b"":
                problems.append(f"{p}: after the response: {r['extra']!r}")
            elif late > 1.0:
                problems.append(f"{p}: answered {late:.2f}s after the server "
                                "could serve it")
        st = card.proxy_stats()
        check(not problems, f"{len(problems)} of {len(results)} requests: "
              + "; ".join(problems[:8]) + f"; stats {st}")
        print(f"# {len(results)} requests in {k} bursts, worst {worst:.2f}s; "
              f"origin accepted {origin.accepted} connections, closed "
              f"{origin.closed_idle} idle; card retries {st['retries']}, "
              f"srv_connects {st['srv_connects']}")


@test("smuggling: Connection naming Content-Length/Transfer-Encoding/Host "
      "-> 400; the next client's request is its own")
def t_conn_names_framing(env):
    tok = token()
    # The attack of issue 8: on a pool of one, a body framed by a field the
    # card would drop as hop-by-hop becomes the head of the next request.
    smuggled = f"GET /capture-{tok} HTTP/1.1\r\nHost: x\r\nX-Ignore: "
    attacks = [
        "POST /a HTTP/1.1\r\nHost: card\r\nConnection: content-length\r\n"
        f"Content-Length: {len(smuggled)}\r\n\r\n" + smuggled,
        "POST /a HTTP/1.1\r\nHost: card\r\nConnection: close, "
        "Transfer-Encoding\r\nTransfer-Encoding: chunked\r\n\r\n"
        f"{len(smuggled):x}\r\n{smuggled}\r\n0\r\n\r\n",
        "GET /a HTTP/1.1\r\nHost: card\r\nConnection: host\r\n\r\n",
    ]
    with Origin() as origin, \
            env.card("connframing", f"listen 80 http {origin.port}\npool 1\n",
                     listen=False) as card:
        card.wait_pool(1)
        for i, attack in enumerate(attacks):
            with HttpConn(card.port) as a, HttpConn(card.port) as v:
                a.send(attack.encode())
                time.sleep(0.2)
                victim = f"/victim-{tok}-{i}"
                v.send(f"GET {victim} HTTP/1.1\r\nHost: card\r\n"
                       "Cookie: secret\r\n\r\n".encode())
                expect_error(a, 400)
                r = v.read_response(timeout=10)
                check(r.status == 200 and r.body.startswith(
                      victim.encode() + b" "),
                      f"attack {i}: the victim got {r.status} {r.body[:80]!r}")
        paths = [p for (_, _, _, p) in origin.log]
        check(not any("capture" in p or p == "/a" for p in paths),
              f"an attack reached the server: {paths}")
        check(len(paths) == len(attacks) and
              all(p.startswith(f"/victim-{tok}-") for p in paths),
              f"the server saw {paths}, want the {len(attacks)} victims only")


@test("request-target forms: absolute-form made origin-form with its Host; "
      "'*' outside OPTIONS and targets without '/' -> 400")
def t_target_forms(env):
    tok = token()
    with Origin() as origin, \
            env.card("targets", f"listen 80 http {origin.port}\npool 1\n",
                     listen=False) as card:
        card.wait_pool(1)
        for bad in (b"GET * HTTP/1.1", b"DELETE x/y HTTP/1.1",
                    b"GET host:80 HTTP/1.1", b"GET http://u@h/ HTTP/1.1"):
            with HttpConn(card.port) as c:
                c.send(bad + b"\r\nHost: card\r\n\r\n")
                expect_error(c, 400)
        with HttpConn(card.port) as c:
            c.send(f"GET http://Other.Example:8/abs-{tok}?q=1 HTTP/1.1\r\n"
                   "Host: card\r\n\r\n".encode())
            r = c.read_response(timeout=10)
            check(r.status == 200, f"absolute-form: {r.status}")
            c.send(b"OPTIONS * HTTP/1.1\r\nHost: card\r\n\r\n")
            r = c.read_response(timeout=10)
            check(r.status == 200, f"OPTIONS *: {r.status}")
        heads = list(origin.heads)
        check(len(heads) == 2, f"the server saw {[h[0] for h in heads]}")
        check(heads[0][0] == f"GET /abs-{tok}?q=1 HTTP/1.1",
              f"absolute-form forwarded as {heads[0][0]!r}")
        hosts = [ln for ln in heads[0][1:] if ln.lower().startswith("host:")]
        check(hosts == ["Host: Other.Example:8"],
              f"Host lines upstream {hosts}, want the target's authority only")
        check(heads[1][0] == "OPTIONS * HTTP/1.1", f"{heads[1][0]!r}")


@test("X-Forwarded-For and Forwarded: the client's address on the last "
      "line; Via added; a malformed Forwarded -> 400")
def t_forwarded(env):
    with Origin() as origin, \
            env.card("forwarded", f"listen 80 http {origin.port}\npool 1\n",
                     listen=False) as card:
        card.wait_pool(1)
        with HttpConn(card.port) as c:
            c.send(b"GET /xff HTTP/1.1\r\nHost: card\r\n"
                   b"X-Forwarded-For: 9.9.9.9\r\nForwarded: for=9.9.9.9\r\n"
                   b"X-Forwarded-For: 8.8.8.8\r\nForwarded: for=8.8.8.8\r\n"
                   b"Via: 1.0 fred\r\n\r\n")
            check(c.read_response(timeout=10).status == 200, "xff request")
            c.send(b"GET /plain HTTP/1.1\r\nHost: card\r\n\r\n")
            check(c.read_response(timeout=10).status == 200, "plain request")
        with HttpConn(card.port) as c:
            c.send(b"GET /badfwd HTTP/1.1\r\nHost: card\r\n"
                   b"Forwarded: for=1.1.1.1, junk\r\n\r\n")
            expect_error(c, 400)
        heads = list(origin.heads)
        check(len(heads) == 2, f"the server saw {[h[0] for h in heads]}")

        def lines(h, name):
            return [ln.split(":", 1)[1].strip() for ln in h[1:]
                    if ln.lower().startswith(name + ":")]
        xff, fwd, via = (lines(heads[0], n) for n in
                         ("x-forwarded-for", "forwarded", "via"))
        check(xff[:1] == ["9.9.9.9"] and len(xff) == 2 and
              xff[1].startswith("8.8.8.8, ") and
              xff[1].split(", ")[-1].count(".") == 3,
              f"X-Forwarded-For upstream {xff}")
        check(fwd[:1] == ["for=9.9.9.9"] and len(fwd) == 2 and
              fwd[1].startswith("for=8.8.8.8, for="), f"Forwarded upstream {fwd}")
        check(via == ["1.0 fred, 1.1 proxycard"], f"Via upstream {via}")
        check(lines(heads[1], "via") == ["1.1 proxycard"],
              f"Via on a request without one: {lines(heads[1], 'via')}")
        client = lines(heads[1], "x-forwarded-for")
        check(len(client) == 1 and xff[1].endswith(", " + client[0]),
              f"the client's address {client} is not the rightmost {xff}")


# ------------------------------------------------------------- runner ----

def main(argv):
    skip = None if SIM.exists() else f"{SIM} is not built (make fw sim)"
    return run_tap(TESTS, argv, Env(), skip)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
