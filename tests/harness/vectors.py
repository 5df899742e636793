"""vectors: the HTTP vector corpus of tests/http-vectors/ and a strict
recording origin to replay it through a proxy.

A vector file (format in tests/http-vectors/README.md) is a header block of
`key: value` lines, a line `---`, then the raw bytes written with escapes.
load_vectors() reads them all; run_vector() sends one through a proxy on a
fresh client connection, in front of a StrictOrigin, and returns what
happened as an outcome string ("reject:400", "forward-one",
"forward-each:2", "cut", ...) plus a list of problems (bytes across a
request boundary, a late request, a request on a busy connection, a
response that belongs to another request, a failed check, a poisoned
probe).  Used by test_vectors.py (the card, in make check) and by
scripts/compare-proxies.py (the card, nginx, HAProxy side by side).
"""

import random
import re
import socket
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pctest import LOCAL, _Server  # noqa: E402

HERE = Path(__file__).resolve().parent
VECTOR_DIR = HERE.parent / "http-vectors"

# ------------------------------------------------------------ the files ----

_ESC = {"r": b"\r", "n": b"\n", "t": b"\t", "0": b"\0", "\\": b"\\",
        "s": b" "}


def unescape(text):
    """A data line's bytes: \\r \\n \\t \\0 \\s \\\\ and \\xHH; anything else
    verbatim (latin-1)."""
    out = bytearray()
    i = 0
    while i < len(text):
        ch = text[i]
        if ch != "\\":
            out += ch.encode("latin-1")
            i += 1
            continue
        nxt = text[i + 1:i + 2]
        if nxt == "x":
            out.append(int(text[i + 2:i + 4], 16))
            i += 4
        elif nxt in _ESC:
            out += _ESC[nxt]
            i += 2
        else:
            raise ValueError(f"unknown escape \\{nxt}")
    return bytes(out)


def parse_data(lines):
    """Data lines to a list of segments (bytes) and pauses (float seconds).
    `@pause MS` ends a segment; `@repeat N TEXT` is TEXT N times; every
    other line is unescaped, its file line end dropped."""
    segs, cur = [], bytearray()
    for line in lines:
        if line.startswith("@pause "):
            segs.append(bytes(cur))
            segs.append(int(line.split()[1]) / 1000.0)
            cur = bytearray()
        elif line.startswith("@repeat "):
            _, n, text = line.split(" ", 2)
            cur += unescape(text) * int(n)
        else:
            cur += unescape(line)
    segs.append(bytes(cur))
    return [s for s in segs if s != b""]


class Vector:
    """One file: name, kind (request|response), expect (outcome string),
    note, card (None, or why the card is believed wrong), checks, data
    (segments), request (response vectors: the client's request)."""

    DEFAULT_REQUEST = b"GET /resp HTTP/1.1\r\nHost: card\r\n\r\n"

    def __init__(self, path):
        self.path = Path(path)
        self.name = self.path.stem
        text = self.path.read_text(encoding="utf-8")
        head, sep, data = text.partition("\n---\n")
        if not sep:
            raise ValueError(f"{path}: no '---' line")
        self.meta = {}
        for line in head.splitlines():
            if not line.strip() or line.startswith("#"):
                continue
            k, _, v = line.partition(":")
            k, v = k.strip().lower(), v.strip()
            self.meta[k] = (self.meta[k] + " " + v) if k in self.meta else v
        self.kind = self.meta.get("kind", "request")
        self.expect = self.meta["expect"]
        self.note = self.meta.get("note", "")
        self.card = self.meta.get("card")
        self.data = parse_data(data.splitlines())
        self.request = (parse_data([self.meta["request"]])
                        if "request" in self.meta else [self.DEFAULT_REQUEST])
        self.origin_close = self.meta.get("origin-close") == "yes"
        self.method = self.meta.get("client-method", "GET")
        if self.kind not in ("request", "response"):
            raise ValueError(f"{path}: kind {self.kind!r}")

    @property
    def want(self):
        """What must be right on this proxy: the expectation."""
        return self.expect


def load_vectors(directory=VECTOR_DIR):
    return [Vector(p) for p in sorted(Path(directory).glob("*.vec"))]


# ------------------------------------------------------ strict parsing ----

TCHAR = rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]"
REQ_LINE = re.compile(rb"^(" + TCHAR + rb"+) ([^\x00-\x20\x7f]+) HTTP/1\.([01])$")
FIELD = re.compile(rb"^(" + TCHAR + rb"+):[ \t]*(.*?)[ \t]*$", re.S)
VALUE_OK = re.compile(rb"^[\t\x20-\x7e\x80-\xff]*$")


class Bad(Exception):
    """Bytes that do not make a valid request at a request boundary."""


class NeedMore(Exception):
    pass


def parse_strict(buf):
    """One request from the front of buf, strictly (RFC 9112 with none of
    its leniencies: CRLF only, one Host, framing by exactly one
    Content-Length or a lone 'chunked', chunk sizes of bare hex digits, no
    obs-fold even in trailers).  Returns (request dict, bytes
    used); raises NeedMore or Bad."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        if len(buf) > 70000:
            raise Bad("no end of head in 70000 bytes")
        # A bare LF or CR already there is fatal whatever follows.
        chk = bytes(buf)
        if re.search(rb"(?<!\r)\n|\r(?!\n)", chk[:-1]):
            raise Bad("bare LF or CR in the head")
        raise NeedMore()
    head = bytes(buf[:end])
    if re.search(rb"(?<!\r)\n|\r(?!\n)", head):
        raise Bad("bare LF or CR in the head")
    lines = head.split(b"\r\n")
    m = REQ_LINE.match(lines[0])
    if not m:
        raise Bad(f"request line {lines[0][:80]!r}")
    method, target, minor = m[1].decode(), m[2].decode("latin-1"), int(m[3])
    fields = []
    for ln in lines[1:]:
        fm = FIELD.match(ln)
        if not fm or not VALUE_OK.match(fm[2]):
            raise Bad(f"field line {ln[:80]!r}")
        fields.append((fm[1].decode().lower(), fm[2].decode("latin-1")))
    names = [k for k, _ in fields]
    if names.count("host") != 1 and not (minor == 0 and names.count("host") == 0):
        raise Bad(f"{names.count('host')} Host fields")
    cls = [v for k, v in fields if k == "content-length"]
    tes = [v for k, v in fields if k == "transfer-encoding"]
    if len(cls) > 1 or (cls and not cls[0].isdigit()):
        raise Bad(f"Content-Length {cls}")
    if tes and (cls or [t.lower() for t in tes] != ["chunked"] or minor == 0):
        raise Bad(f"Transfer-Encoding {tes} with Content-Length {cls}")
    pos = end + 4
    if cls:
        n = int(cls[0])
        if len(buf) < pos + n:
            raise NeedMore()
        body = bytes(buf[pos:pos + n])
        pos += n
    elif tes:
        body = bytearray()
        while True:
            e = buf.find(b"\r\n", pos)
            if e < 0:
                raise NeedMore()
            size = bytes(buf[pos:e])
            if not re.match(rb"^[0-9a-fA-F]{1,8}$", size):
                raise Bad(f"chunk size {size[:40]!r}")
            n = int(size, 16)
            pos = e + 2
            if n == 0:
                # The trailer section: field lines, strictly, then CRLF.
                while True:
                    e = buf.find(b"\r\n", pos)
                    if e < 0:
                        raise NeedMore()
                    line = bytes(buf[pos:e])
                    pos = e + 2
                    if not line:
                        break
                    fm = FIELD.match(line)
                    if not fm or not VALUE_OK.match(fm[2]):
                        raise Bad(f"trailer line {line[:80]!r}")
                break
            if len(buf) < pos + n + 2:
                raise NeedMore()
            body += buf[pos:pos + n]
            if buf[pos + n:pos + n + 2] != b"\r\n":
                raise Bad("chunk data not followed by CRLF")
            pos += n + 2
        body = bytes(body)
    else:
        body = b""
    return dict(method=method, target=target, minor=minor, fields=fields,
                body=body, raw=bytes(buf[:pos])), pos


# ------------------------------------------------------ strict origin ----

class StrictOrigin(_Server):
    """A keep-alive origin on 127.0.0.1 that records every request it gets,
    per connection, parses each strictly and flags what a front-end proxy
    must never do to it:

      - bytes after a request boundary that do not begin a valid request
        (answered 400, then the connection is closed);
      - request bytes arriving on a connection while the exchange before
        them on it is still running (before its response was sent);
      - bytes left over, not a whole request, when asked (leftovers());

    Late requests (after the client's exchange was answered) are the
    runner's check: each request has its arrival time.

    The answer is 200 with `X-Seq: N` and the body "seq=N conn=C METHOD
    TARGET\\n", framed by Content-Length, unless a scripted response is
    set (script()): the next request whose target starts with /resp gets
    those bytes (segments, pauses), and the connection closes after them
    if asked.
    """

    HOLD = 0.01     # seconds each request waits before its answer

    def __init__(self, port=None):
        super().__init__(port)
        self.reqs = []          # request dicts with conn, seq, t
        self.flags = []         # (monotonic time, text)
        self.bufs = {}          # conn -> bytearray not yet a request
        self.seq = 0
        self._script = None

    def script(self, segments, close=False):
        with self.lock:
            self._script = (segments, close)

    def flag(self, text):
        with self.lock:
            self.flags.append((time.monotonic(), text))

    def leftovers(self):
        with self.lock:
            return {n: bytes(b) for n, b in self.bufs.items() if b}

    def _recv(self, conn, timeout):
        conn.settimeout(timeout)
        try:
            data = conn.recv(65536)
        except socket.timeout:
            return b""
        return data if data else None

    def _serve(self, conn):
        with self.lock:
            n = self.conns.index(conn)  # accept order (_Server's list)
            buf = self.bufs[n] = bytearray()
        try:
            while not self.stopping.is_set():
                try:
                    with self.lock:
                        req, used = parse_strict(buf)
                except NeedMore:
                    data = self._recv(conn, 0.2)
                    if data is None:
                        return
                    with self.lock:
                        buf += data
                    continue
                except Bad as e:
                    with self.lock:
                        raw = bytes(buf[:120])
                        del buf[:]
                    self.flag(f"conn {n}: bytes at a request boundary that are "
                              f"not a valid request ({e}): {raw!r}")
                    conn.sendall(b"HTTP/1.1 400 Bad Request\r\nConnection: close"
                                 b"\r\nContent-Length: 0\r\n\r\n")
                    return
                with self.lock:
                    del buf[:used]
                    req.update(conn=n, seq=self.seq, t=time.monotonic())
                    self.seq += 1
                    self.reqs.append(req)
                    script = None
                    if self._script and req["target"].startswith("/resp"):
                        script, self._script = self._script, None
                # Anything arriving before the answer is a second request
                # on a connection whose exchange is still running.
                time.sleep(self.HOLD)
                data = self._recv(conn, 0.001)
                with self.lock:
                    if data:
                        buf += data
                    early = bytes(buf)
                if early:
                    self.flag(f"conn {n}: request bytes before the answer to "
                              f"{req['method']} {req['target']} was sent "
                              f"(another exchange on a busy connection): "
                              f"{early[:80]!r}")
                if script:
                    for seg in script[0]:
                        if isinstance(seg, float):
                            time.sleep(seg)
                        else:
                            conn.sendall(seg)
                    if script[1]:
                        conn.shutdown(socket.SHUT_WR)
                        while self._recv(conn, 0.5):
                            pass
                        return
                    continue
                body = (f"seq={req['seq']} conn={n} {req['method']} "
                        f"{req['target']}\n").encode("latin-1")
                conn.sendall(f"HTTP/1.1 200 OK\r\nX-Seq: {req['seq']}\r\n"
                             f"Content-Length: {len(body)}\r\n\r\n".encode()
                             + body)
        except OSError:
            pass
        finally:
            try:
                conn.close()
            except OSError:
                pass


# --------------------------------------------------- the client's side ----

class ClientRead:
    """The responses a client got: a list of (status, headers, body,
    complete) and how the connection ended."""

    def __init__(self):
        self.responses = []
        self.raw = b""
        self.end = "open"       # open, eof, reset
        self.rest = b""         # bytes that did not make a response


def _parse_responses(buf, methods):
    """Split buf into responses (1xx skipped); returns (list, rest, whether
    the last one needs the close to end)."""
    out = []
    pos = 0
    while True:
        e = buf.find(b"\r\n\r\n", pos)
        le = buf.find(b"\n\n", pos)
        if e < 0 and le < 0:
            break
        if e < 0 or (0 <= le < e):
            hlen = le + 2
        else:
            hlen = e + 4
        head = buf[pos:hlen].decode("latin-1").replace("\r\n", "\n")
        lines = head.strip("\n").split("\n")
        m = re.match(r"^HTTP/\d\.\d (\d{3})", lines[0])
        if not m:
            break
        status = int(m[1])
        hdrs = []
        for ln in lines[1:]:
            k, _, v = ln.partition(":")
            hdrs.append((k.strip().lower(), v.strip()))
        h = dict(hdrs)
        if 100 <= status < 200:
            pos = hlen
            continue
        method = methods[len(out)] if len(out) < len(methods) else "GET"
        if method == "HEAD" or status in (204, 304):
            out.append((status, hdrs, b"", True))
            pos = hlen
            continue
        if "chunked" in h.get("transfer-encoding", "").lower():
            body = bytearray()
            p = hlen
            done = False
            while True:
                ce = buf.find(b"\r\n", p)
                if ce < 0:
                    break
                try:
                    size = int(buf[p:ce].split(b";")[0].strip() or b"x", 16)
                except ValueError:
                    break
                if size == 0:
                    te = buf.find(b"\r\n\r\n", ce)
                    if te < 0:
                        break
                    p = te + 4
                    done = True
                    break
                if len(buf) < ce + 2 + size + 2:
                    break
                body += buf[ce + 2:ce + 2 + size]
                p = ce + 2 + size + 2
            if not done:
                out.append((status, hdrs, bytes(body), False))
                return out, b"", True
            out.append((status, hdrs, bytes(body), True))
            pos = p
            continue
        if "content-length" in h and h["content-length"].isdigit():
            n = int(h["content-length"])
            if len(buf) < hlen + n:
                out.append((status, hdrs, buf[hlen:], False))
                return out, b"", True
            out.append((status, hdrs, buf[hlen:hlen + n], True))
            pos = hlen + n
            continue
        out.append((status, hdrs, buf[hlen:], None))   # to the close
        return out, b"", True
    return out, buf[pos:], False


_next_port = [random.randrange(40000, 60000)]


def fresh_socket(port):
    """A client connection to port from a local port this process has not
    used before.  The kernel may hand out an ephemeral port again soon
    after it was used, and the card (lwIP) drops a SYN that hits one of its
    TIME_WAIT connections instead of starting a new one (RFC 1122
    §4.2.2.13 lets it accept one), so a reused port can stall a connect
    until TIME_WAIT ends: that is not what the vectors test."""
    for _ in range(2000):
        lport = _next_port[0]
        _next_port[0] = 40000 + (lport - 40000 + 1) % 20000
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.bind((LOCAL, lport))
            s.settimeout(2)
            s.connect((LOCAL, port))
            return s
        except OSError:
            s.close()
    raise OSError("no free local port")


def client_exchange(port, segments, nresp, methods, timeout=2.0, linger=0.15):
    """Send segments (with pauses) on a fresh connection, read until nresp
    complete responses came and `linger` passed with nothing more, or the
    connection ended, or `timeout`."""
    res = ClientRead()
    s = fresh_socket(port)
    buf = bytearray()
    try:
        try:
            for seg in segments:
                if isinstance(seg, float):
                    time.sleep(seg)
                else:
                    s.sendall(seg)
        except (BrokenPipeError, ConnectionResetError):
            pass
        deadline = time.monotonic() + timeout
        quiet_until = None
        while True:
            now = time.monotonic()
            limit = deadline if quiet_until is None else min(deadline, quiet_until)
            if now >= limit:
                break
            s.settimeout(limit - now)
            try:
                data = s.recv(65536)
            except socket.timeout:
                break
            except ConnectionResetError:
                res.end = "reset"
                break
            if not data:
                res.end = "eof"
                break
            buf += data
            got, _, _ = _parse_responses(bytes(buf), methods)
            if len([r for r in got if r[3]]) >= nresp:
                quiet_until = time.monotonic() + linger
    finally:
        s.close()
    res.raw = bytes(buf)
    res.responses, res.rest, _ = _parse_responses(res.raw, methods)
    if res.responses and res.responses[-1][3] is None:
        # Close-delimited: complete only if the connection ended cleanly.
        st, h, b, _ = res.responses[-1]
        res.responses[-1] = (st, h, b, res.end == "eof")
    return res


# ------------------------------------------------------------ one run ----

def _expected_items(expect):
    """'forward-each:3' -> ['fwd']*3, 'reject:400' -> ['reject:400'],
    'forward-one' -> ['fwd'], or a space-separated list of those."""
    items = []
    for w in expect.split():
        if w == "forward-one":
            items.append("fwd")
        elif w.startswith("forward-each:"):
            items += ["fwd"] * int(w.split(":")[1])
        else:
            items.append(w)
    return items


def summarize(items):
    if items and all(i == "fwd" for i in items):
        return "forward-one" if len(items) == 1 else f"forward-each:{len(items)}"
    return " ".join("forward-one" if i == "fwd" else i for i in items)


def _script_status(vec):
    """The status of the final response in a response vector's bytes."""
    data = b"".join(s for s in vec.data if isinstance(s, bytes))
    for m in re.finditer(rb"HTTP/\d\.\d (\d{3})", data):
        if not m[1].startswith(b"1"):
            return int(m[1])
    return None


class Result:
    def __init__(self, vec):
        self.vec = vec
        self.outcome = "?"
        self.problems = []
        self.client = None
        self.seen = []

    @property
    def ok(self):
        return self.outcome == self.vec.expect and not self.problems

    def describe(self):
        return (f"outcome {self.outcome}, expected {self.vec.expect}"
                + ("; " + "; ".join(self.problems) if self.problems else ""))


def run_vector(vec, port, origin, probe_id, timeout=2.0, settle=0.15):
    """Replay one vector through the proxy on port in front of origin."""
    r = Result(vec)
    want = _expected_items(vec.expect)
    with origin.lock:
        first_req, first_flag = len(origin.reqs), len(origin.flags)
    if vec.kind == "response":
        origin.script(vec.data, close=vec.origin_close)
        segments, methods = vec.request, [vec.method]
        nresp = 1
    else:
        segments = vec.data
        methods = [m.decode() for m in re.findall(
            rb"(?:^|\n)([A-Z]+) [^ ]+ HTTP/", b"".join(
                s for s in segments if isinstance(s, bytes)))] or ["GET"]
        nresp = max(1, len(want))
    t_sent = time.monotonic()
    try:
        cl = client_exchange(port, segments, nresp, methods, timeout)
    except OSError as e:
        r.outcome = f"connect-failed ({e})"
        return r
    t_answered = time.monotonic()
    r.client = cl
    time.sleep(settle)
    with origin.lock:
        seen = origin.reqs[first_req:]
    r.seen = seen

    # What the client got, response by response.
    items = []
    fwd_seqs = []
    script_st = _script_status(vec) if vec.kind == "response" else None
    for status, hdrs, body, complete in cl.responses:
        h = dict(hdrs)
        if not complete:
            items.append("cut")
            break
        if vec.kind == "request" and "x-seq" in h:
            items.append("fwd")
            fwd_seqs.append(int(h["x-seq"]))
        elif vec.kind == "response" and status == script_st and status != 502:
            items.append("fwd")
        else:
            items.append(("reject:" if status >= 400 else "local:") + str(status))
    if not items:
        items = ["cut" if cl.end in ("eof", "reset") else "timeout"]
    r.outcome = summarize(items)

    # What the origin saw must be what the client got: each forwarded
    # response answers one request the origin saw, in order, and nothing
    # else reached the origin.
    if vec.kind == "request":
        seqs = [q["seq"] for q in seen]
        if seqs != fwd_seqs:
            r.problems.append(
                f"origin saw {len(seen)} request(s) {[q['method'] + ' ' + q['target'] for q in seen]}"
                f" (seq {seqs}), client got answers to seq {fwd_seqs}")
    else:
        if len(seen) > 1:
            r.problems.append(f"origin saw {len(seen)} requests for one: "
                              f"{[q['method'] + ' ' + q['target'] for q in seen]}")
    for q in seen:
        if q["t"] > t_answered:
            r.problems.append(f"late request: {q['method']} {q['target']} reached "
                              f"the origin {q['t'] - t_answered:.2f}s after the "
                              "client's exchange was over")
    if cl.rest.strip(b"\r\n"):
        r.problems.append(f"client got bytes that are no response: {cl.rest[:80]!r}")
    elif len(cl.responses) > len(want) and r.outcome == vec.expect:
        pass

    # Checks named in the vector.
    _checks(vec, r, cl, seen)

    # The probe: a fresh client's GET must get its own answer.
    pid = f"/probe-{probe_id}"
    try:
        pr = client_exchange(port, [f"GET {pid} HTTP/1.1\r\nHost: card\r\n"
                                    "Connection: close\r\n\r\n".encode()],
                             1, ["GET"], timeout)
        got = pr.responses[0] if pr.responses else None
        if not got or got[0] != 200 or not got[2].rstrip().endswith(pid.encode()):
            r.problems.append(f"probe after it got {got[0] if got else pr.end}"
                              f" {got[2][:80] if got else pr.raw[:80]!r}")
    except OSError as e:
        r.problems.append(f"probe: {e}")
    time.sleep(0.02)
    with origin.lock:
        flags = origin.flags[first_flag:]
        probe_seen = [q for q in origin.reqs[first_req + len(seen):]]
    if [q["target"] for q in probe_seen] != [pid]:
        r.problems.append(f"origin during the probe saw "
                          f"{[q['method'] + ' ' + q['target'] for q in probe_seen]}")
    for _, text in flags:
        r.problems.append("origin: " + text)
    for n, left in origin.leftovers().items():
        r.problems.append(f"origin: conn {n} holds {len(left)} bytes after a "
                          f"request boundary that are not a whole request: {left[:80]!r}")
        with origin.lock:
            origin.bufs[n].clear()
    return r


def _checks(vec, r, cl, seen):
    m = vec.meta
    first = cl.responses[0] if cl.responses else None
    if "body" in m and first is not None:
        want = unescape(m["body"])
        if first[2] != want:
            r.problems.append(f"check body: got {first[2][:80]!r}, want {want!r}")
    if "status" in m and first is not None and str(first[0]) != m["status"]:
        r.problems.append(f"check status: got {first[0]}, want {m['status']}")
    if "no-header" in m and first is not None:
        for name in m["no-header"].lower().split():
            if any(k == name for k, _ in first[1]):
                r.problems.append(f"check no-header: the client got {name}")
    if "client-end" in m and cl.end != m["client-end"]:
        r.problems.append(f"check client-end: {cl.end}, want {m['client-end']}")
    q = seen[0] if seen else None
    if q is None:
        return
    if "seen-target" in m and q["target"] != m["seen-target"]:
        r.problems.append(f"check seen-target: origin got {q['target']!r}, "
                          f"want {m['seen-target']!r}")
    if "seen-host" in m:
        hosts = [v for k, v in q["fields"] if k == "host"]
        if hosts != [m["seen-host"]]:
            r.problems.append(f"check seen-host: origin got {hosts}, want "
                              f"[{m['seen-host']!r}]")
    if "seen-body" in m and q["body"] != unescape(m["seen-body"]):
        r.problems.append(f"check seen-body: origin got {q['body'][:80]!r}, "
                          f"want {unescape(m['seen-body'])!r}")
    if "seen-no-header" in m:
        for name in m["seen-no-header"].lower().split():
            if any(k == name for k, _ in q["fields"]):
                r.problems.append(f"check seen-no-header: origin got {name}")
