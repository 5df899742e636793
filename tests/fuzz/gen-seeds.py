#!/usr/bin/env python3
"""Write the seed corpora of the fuzz targets (tests/fuzz/corpus/<target>/).

    tests/fuzz/gen-seeds.py [OUTDIR]      (default: tests/fuzz/corpus)

The parser seeds are HTTP heads and bodies behind the two header bytes of
tests/fuzz/fuzz_common.h.  The frame seeds are records of
tests/fuzz/fuzz_frames.c: real TCP handshakes and HTTP exchanges with the
card's listeners, written both as structured records (the harness fills in
addresses and sequence numbers) and as complete Ethernet frames (IPv4, TCP,
checksums) that the harness replays with "fixup", which fills in the
sequence numbers the card chose.  The output is deterministic; the checked-in
corpus is this script's output.
"""

import os
import struct
import sys

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "corpus")


def write(target, name, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def split(sel, pieces, stream):
    """fuzz_common.h layout: selector, K, K piece lengths (b + 1), stream."""
    assert len(pieces) < 32
    return bytes([sel, len(pieces)]) + bytes(p - 1 for p in pieces) + stream


# ---- parser seeds ------------------------------------------------------------

REQUESTS = {
    "get": b"GET / HTTP/1.1\r\nHost: card\r\n\r\n",
    "get10": b"GET /index.html HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
    "post-cl": b"POST /upload HTTP/1.1\r\nHost: card\r\nContent-Length: 5\r\n\r\nhello",
    "post-chunked": b"POST /c HTTP/1.1\r\nHost: card\r\nTransfer-Encoding: chunked\r\n\r\n"
                    b"5;ext=\"q\"\r\nhello\r\n0\r\nTrailer: x\r\n\r\n",
    "put-expect": b"PUT /p HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nabc",
    "options-star": b"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
    "connect": b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
    "absolute": b"GET http://example.com/x?y=1 HTTP/1.1\r\nHost: other\r\n"
                b"Connection: close, x-foo\r\nX-Foo: 1\r\n\r\n",
    "forwarded": b"GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 1.2.3.4\r\n"
                 b"X-Forwarded-For: 5.6.7.8\r\nForwarded: for=1.2.3.4\r\n\r\n",
    "leading-crlf": b"\r\n\r\nHEAD /h HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n"
                    b"Connection: upgrade\r\n\r\n",
    "bare-lf": b"GET / HTTP/1.1\nHost: a\n\n",
    "cl-te": b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n"
             b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "conn-cl": b"POST /a HTTP/1.1\r\nHost: card\r\nConnection: content-length\r\n"
               b"Content-Length: 44\r\n\r\nGET /capture HTTP/1.1\r\nHost: x\r\nX-Ignore: ",
    "obs-fold": b"GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n",
    "pipelined": b"GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n",
    "te-list": b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n"
               b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
}

RESPONSES = {
    "ok-cl": (1, b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"),
    "ok-chunked": (1, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                      b"3\r\nabc\r\n0\r\n\r\n"),
    "close": (1, b"HTTP/1.0 200 OK\r\nServer: x\r\n\r\nbody until close"),
    "keepalive10": (1, b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n"
                       b"Content-Length: 0\r\n\r\n"),
    "head": (2, b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"),
    "continue": (3, b"HTTP/1.1 100 Continue\r\n\r\n"),
    "switching": (1, b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                     b"Connection: Upgrade\r\n\r\n"),
    "no-content": (5, b"HTTP/1.1 204 No Content\r\nContent-Length: 7\r\n\r\n"),
    "not-modified": (1, b"HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\n\r\n"),
    "connect-ok": (8, b"HTTP/1.1 200 Connection established\r\n\r\n"),
    "te-gzip": (1, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n"),
    "keepalive-timeout": (1, b"HTTP/1.1 200 OK\r\nKeep-Alive: timeout=5, max=100\r\n"
                             b"Connection: keep-alive\r\nContent-Length: 2\r\n\r\nok"),
    "no-reason": (1, b"HTTP/1.1 503 \r\nRetry-After: 1\r\nContent-Length: 0\r\n\r\n"),
}

CHUNKED = {
    "simple": b"5\r\nhello\r\n0\r\n\r\n",
    "ext": b"a;name=value;q=\"quo\\\"ted\"\r\n0123456789\r\n0\r\n\r\n",
    "trailer": b"1\r\nx\r\n0\r\nExpires: never\r\nX-T: 1\r\n\r\n",
    "zeros": b"000000000000000000003\r\nabc\r\n0\r\n\r\n",
    "upper": b"1F\r\n" + b"y" * 31 + b"\r\n0\r\n\r\n",
    "bws": b"2 ;a=b\r\nok\r\n0\r\n\r\n",
    "bare-lf": b"2\nok\n0\n\n",
    "overflow": b"fffffffffffffffff\r\n",
    "next": b"0\r\n\r\nGET / HTTP/1.1\r\n",
}


def parser_seeds():
    for name, req in REQUESTS.items():
        write("request", name, split(0, [], req))
        # the same in pieces (1, 7, 3, ... bytes) and with the small limits
        write("request", name + "-split", split(0, [1, 7, 3, 16, 2], req))
        write("request", name + "-small", split(5, [], req))
    for name, (method, resp) in RESPONSES.items():
        write("response", name, split(method, [], resp))
        write("response", name + "-split", split(method, [2, 5, 1, 30], resp))
    for name, body in CHUNKED.items():
        write("chunked", name, split(0, [], body))
        write("chunked", name + "-split", split(2, [1, 1, 4, 2, 9], body))


# ---- frame seeds ---------------------------------------------------------------

FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10
PORT_IDX = {80: 0, 2222: 1, 8081: 2}     # fuzz_frames.c client_ports[]


def client(k, flags, data=b"", port=80):
    return bytes([2 | k << 3 | PORT_IDX[port] << 5, flags]) + \
        struct.pack("<H", len(data)) + data


def server(s, flags, data=b""):
    return bytes([3 | s << 3, flags]) + struct.pack("<H", len(data)) + data


def wait(ms, steps=1, x64=False):
    return bytes([1 | (8 if x64 else 0), steps - 1]) + struct.pack("<H", ms)


def odd(seq_off, wnd256):
    return bytes([4]) + struct.pack("<hB", seq_off, wnd256)


def reconfig(k):
    return bytes([6 | k << 3])


def raw(port, frame, fixup=True):
    return bytes([0 | port << 3 | (16 if fixup else 0)]) + \
        struct.pack("<H", len(frame)) + frame


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff


CARD_MAC = bytes.fromhex("525400123456")
CARD_IP = bytes([10, 0, 2, 15])


def tcp_frame(src_ip, sport, dport, seq, ack, flags, data=b"", mss=True):
    opts = struct.pack("!BBH", 2, 4, 1460) if flags & SYN and mss else b""
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, ack,
                      (20 + len(opts)) // 4 << 4, flags, 65535, 0, 0) + opts + data
    ph = src_ip + CARD_IP + struct.pack("!BBH", 0, 6, len(tcp))
    tcp = tcp[:16] + struct.pack("!H", csum(ph + tcp)) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 1, 0x4000, 64, 6, 0,
                     src_ip, CARD_IP)
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    src_mac = bytes([0x02, 0xfe, 0x00]) + src_ip[1:]
    return CARD_MAC + src_mac + b"\x08\x00" + ip + tcp


GET = b"GET / HTTP/1.1\r\nHost: card\r\nUser-Agent: seed\r\n\r\n"
OK = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\nhello"


def frame_seeds():
    auto = b"\x00"
    write("frames", "get", auto + client(0, SYN) + client(0, PSH | ACK, GET) +
          wait(10) + server(7, PSH | ACK, OK) + wait(10) + client(0, FIN | ACK) +
          wait(250, 8))
    write("frames", "get-close", auto + client(0, SYN) +
          client(0, PSH | ACK, b"GET /a HTTP/1.0\r\n\r\n") + wait(5) +
          server(7, PSH | ACK, b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nbye") +
          server(7, FIN | ACK) + wait(100, 4))
    write("frames", "post-chunked", auto + client(1, SYN) +
          client(1, PSH | ACK, b"POST /up HTTP/1.1\r\nHost: card\r\n"
                 b"Transfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n") +
          client(1, PSH | ACK, b"0\r\n\r\n") + wait(5) +
          server(7, PSH | ACK, b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n"
                 b"2\r\nok\r\n0\r\n\r\n") + wait(5) + client(1, RST))
    write("frames", "pipelined-two-clients", auto + client(0, SYN) + client(1, SYN) +
          client(0, PSH | ACK, GET + GET) + client(1, PSH | ACK, GET) + wait(5) +
          server(0, PSH | ACK, OK) + server(1, PSH | ACK, OK) + wait(5) +
          server(7, PSH | ACK, OK) + wait(30000, 3))
    write("frames", "bad-request", auto + client(2, SYN) +
          client(2, PSH | ACK, b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n"
                 b"Content-Length: 2\r\n\r\n") + wait(10, 3))
    write("frames", "pass-through", auto + client(3, SYN, port=2222) +
          client(3, PSH | ACK, b"SSH-2.0-seed\r\n", port=2222) + wait(5) +
          server(2, PSH | ACK, b"SSH-2.0-server\r\n") + client(3, FIN | ACK) +
          wait(5) + server(2, FIN | ACK) + wait(2000, 64, x64=True))
    write("frames", "unmatched", auto + client(0, SYN, port=8081) +
          client(0, PSH | ACK, b"hello", port=8081) + wait(5) +
          server(2, PSH | ACK, b"world") + server(2, RST))
    write("frames", "server-slow", b"\x02" + client(0, SYN) + client(0, ACK) +
          client(0, PSH | ACK, GET) + wait(1000, 70) + server(7, PSH | ACK, OK))
    write("frames", "ooseq", auto + client(0, SYN) + odd(100, 0xff) +
          client(0, PSH | ACK, b"x" * 50) + odd(-5, 0) + client(0, PSH | ACK, b"GET ") +
          client(0, PSH | ACK, b"/ HTTP/1.1\r\nHost: a\r\n\r\n") + wait(250, 20))
    write("frames", "pool-restart", auto + server(0, RST) + server(1, FIN | ACK) +
          wait(100, 10) + client(0, SYN) + client(0, PSH | ACK, GET) + wait(100, 10) +
          server(7, PSH | ACK, OK))
    write("frames", "request-timeout", auto + client(0, SYN) +
          client(0, PSH | ACK, b"GET / HTTP/1.1\r\nHost:") + wait(500, 8))
    write("frames", "connect-refused", b"\x01" + server(0, RST) + wait(100, 3) +
          server(2, RST | ACK) + client(0, SYN) + client(0, PSH | ACK, GET) +
          wait(100, 3) + server(7, RST | ACK) + wait(500, 6))
    write("frames", "expect-continue", auto + client(0, SYN) +
          client(0, PSH | ACK, b"PUT /f HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n"
                 b"Content-Length: 4\r\n\r\n") + wait(5) + client(0, PSH | ACK, b"data") +
          wait(5) + server(7, PSH | ACK, b"HTTP/1.1 100 Continue\r\n\r\n") +
          server(7, PSH | ACK, OK))
    write("frames", "head", auto + client(0, SYN) +
          client(0, PSH | ACK, b"HEAD / HTTP/1.1\r\nHost: a\r\n\r\n") + wait(5) +
          server(7, PSH | ACK, b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n") +
          client(0, PSH | ACK, GET) + wait(5) + server(7, PSH | ACK, OK))
    big = b"HTTP/1.1 200 OK\r\nContent-Length: 20000\r\n\r\n" + b"z" * 1400
    write("frames", "big-response-zero-window", auto + client(0, SYN) +
          client(0, PSH | ACK, GET) + wait(5) + odd(0, 0) + client(0, ACK) +
          server(7, PSH | ACK, big) + b"".join(server(7, PSH | ACK, b"z" * 1460)
                                               for _ in range(13)) +
          wait(500, 6) + client(0, ACK) + wait(200, 4))
    write("frames", "upgrade", auto + client(0, SYN) +
          client(0, PSH | ACK, b"GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n"
                 b"Connection: upgrade\r\n\r\n") + wait(5) +
          server(7, PSH | ACK, b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                 b"Connection: Upgrade\r\n\r\n") + client(0, PSH | ACK, b"\x81\x01a") +
          server(7, PSH | ACK, b"\x81\x01b") + client(0, FIN | ACK) + server(7, FIN | ACK))
    write("frames", "reconfig", auto + reconfig(1) + wait(100, 3) + client(0, SYN) +
          client(0, PSH | ACK, GET) + wait(5) + server(7, PSH | ACK, OK) + reconfig(4) +
          wait(100, 3) + client(1, SYN) + client(1, PSH | ACK, GET) + wait(5) +
          server(7, PSH | ACK, OK) + reconfig(6) + reconfig(5) + reconfig(2) +
          client(2, SYN) + client(2, PSH | ACK, GET) + reconfig(7) + wait(100, 3))
    write("frames", "pool-idle", auto + wait(1000, 12) + client(0, SYN) +
          client(0, PSH | ACK, GET) + wait(5) + server(7, PSH | ACK, OK) + wait(2000, 4))
    # Complete frames, as a capture would hold them; the harness fixes up
    # the sequence numbers the card chose.
    ip = bytes([10, 0, 2, 77])
    isn = 0x12345678
    f = [tcp_frame(ip, 50000, 80, isn, 0, SYN),
         tcp_frame(ip, 50000, 80, isn + 1, 0, ACK),
         tcp_frame(ip, 50000, 80, isn + 1, 0, PSH | ACK, GET),
         tcp_frame(ip, 50000, 80, isn + 1 + len(GET), 0, FIN | ACK)]
    write("frames", "raw-get", auto + raw(0, f[0]) + raw(0, f[1]) + raw(0, f[2]) +
          wait(5) + server(7, PSH | ACK, OK) + wait(5) + raw(0, f[3]) + wait(200, 4))
    write("frames", "raw-syn-nofix", auto + raw(0, f[0], fixup=False) + wait(100, 2))
    arp = (b"\xff" * 6 + bytes.fromhex("02fe0000024d") + b"\x08\x06" +
           struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1) + bytes.fromhex("02fe0000024d") + ip +
           b"\0" * 6 + CARD_IP)
    write("frames", "raw-arp", auto + raw(0, arp, fixup=False))
    icmp = struct.pack("!BBHHH", 8, 0, 0, 1, 1) + b"ping"
    icmp = icmp[:2] + struct.pack("!H", csum(icmp)) + icmp[4:]
    iph = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(icmp), 2, 0, 64, 1, 0, ip, CARD_IP)
    iph = iph[:10] + struct.pack("!H", csum(iph)) + iph[12:]
    write("frames", "raw-ping", auto + raw(0, CARD_MAC + bytes.fromhex("02fe0000024d") +
                                           b"\x08\x00" + iph + icmp, fixup=False))


def main():
    parser_seeds()
    frame_seeds()


if __name__ == "__main__":
    main()
