"""pctest: a small library for proxycard's end-to-end tests.

Everything here runs on 127.0.0.1 only and cleans up after itself: every
process is started by us, remembered by its PID and stopped by that PID with
bounded waits (SIGTERM, then SIGKILL); every temporary file lives under one
per-run directory from tempfile.mkdtemp, removed at the end.

Pieces:
  free_port()            a port nobody listens on (outside the ephemeral range)
  RunDir                 the per-run directory
  Nginx                  nginx as a test server (one worker, logs in the run dir)
  Card                   build/proxycard-sim with a config, forwards, stats
  TapNet                 a network namespace with a TAP device for the card's
                         NIC port (Card(..., tap=net)): clients with their own
                         TCP stacks and source addresses (root only)
  EchoServer, HoleServer Python TCP servers (echo; accept and never answer)
  HttpConn               a raw-socket HTTP/1.1 client that parses responses
  curl()                 runs the real curl with a timeout
  test_registry()        a test file's list of tests and its @test(name)
  run_tap()              the test files' runner: TAP lines, skips, set-up

TapNet is the one exception to "127.0.0.1 only": it makes a network
namespace of its own, deleted by its name at the end.
"""

import atexit
import ctypes
import errno
import hashlib
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
TOP = HERE.parent.parent
BUILD = Path(os.environ.get("BUILD", TOP / "build"))
if not BUILD.is_absolute():
    BUILD = TOP / BUILD
SIM = BUILD / "proxycard-sim"
NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK) else None)
CURL = shutil.which("curl")

LOCAL = "127.0.0.1"


class Skip(Exception):
    """Raised by a test that cannot run here (a missing tool)."""


class TestFailure(AssertionError):
    pass


def check(cond, msg):
    if not cond:
        raise TestFailure(msg)


def failure_message(e):
    """The diagnostic of a failed test: the assertion's text, or for an
    unexpected exception its type, text and where it was raised; then any
    notes attached to it."""
    if isinstance(e, (TestFailure, AssertionError)):
        msg = str(e)
        for note in getattr(e, "__notes__", []):
            msg += "\n" + note
    else:
        # format_exception_only() already includes the notes.
        msg = "".join(traceback.format_exception_only(e)).strip()
        tb = traceback.extract_tb(e.__traceback__)
        if tb:
            fr = tb[-1]
            msg += f"\n(at {os.path.basename(fr.filename)}:{fr.lineno})"
    return msg


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


# ---------------------------------------------------------------- ports ----

_used_ports = set()


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on now, below the
    kernel's ephemeral range (so our own client sockets never take it)."""
    for _ in range(200):
        port = random.randint(20000, 32000)
        if port in _used_ports:
            continue
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.bind((LOCAL, port))
        except OSError:
            continue
        finally:
            s.close()
        _used_ports.add(port)
        return port
    raise RuntimeError("no free port found")


def wait_port(port, timeout=5.0):
    """Wait until something accepts connections on 127.0.0.1:port."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((LOCAL, port), timeout=0.5):
                return True
        except OSError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.02)


# ------------------------------------------------------------ processes ----

def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie is not alive for our purposes.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def children_of(pid):
    """PIDs of the direct children of pid (from /proc)."""
    kids = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            try:
                with open(f"/proc/{pid}/task/{tid}/children") as f:
                    kids += [int(x) for x in f.read().split()]
            except OSError:
                pass
    except OSError:
        pass
    return kids


def stop_process(proc, sig=signal.SIGTERM, timeout=5.0):
    """Stop a subprocess.Popen by its PID: sig, bounded wait, then SIGKILL.
    Returns its exit status (negative: killed by a signal)."""
    if proc.poll() is not None:
        return proc.returncode
    try:
        os.kill(proc.pid, sig)
    except ProcessLookupError:
        pass
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        pass
    try:
        os.kill(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    try:
        return proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        return None


def describe_status(rc):
    if rc is None:
        return "did not exit"
    if rc < 0:
        try:
            return f"killed by {signal.Signals(-rc).name}"
        except ValueError:
            return f"killed by signal {-rc}"
    return f"exit status {rc}"


# --------------------------------------------------------------- run dir ----

class RunDir:
    """The per-run temporary directory; remove() deletes it."""

    def __init__(self, prefix="pctest-"):
        self.path = Path(tempfile.mkdtemp(prefix=prefix))
        self._n = 0

    def sub(self, name):
        self._n += 1
        p = self.path / f"{self._n:03d}-{name}"
        p.mkdir(parents=True)
        return p

    def remove(self):
        shutil.rmtree(self.path, ignore_errors=True)


# ----------------------------------------------------------------- nginx ----

NGINX_CONF = """\
user root;
worker_processes 1;
daemon off;
master_process on;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 8192; }}
http {{
    log_format pc '$connection $connection_requests $request_time $status '
                  '$body_bytes_sent $request_length "$http_transfer_encoding" '
                  '"$request"';
    access_log {dir}/access.log pc;
    client_body_temp_path {dir}/client_body_temp;
    proxy_temp_path {dir}/proxy_temp;
    fastcgi_temp_path {dir}/fastcgi_temp;
    uwsgi_temp_path {dir}/uwsgi_temp;
    scgi_temp_path {dir}/scgi_temp;
    default_type application/octet-stream;
    keepalive_requests 1000000;
    keepalive_timeout 300s;
    server {{
        listen {addr}:{port};
        root {dir}/www;
{extra}
    }}
}}
"""


class Nginx:
    """nginx serving dir/www on 127.0.0.1:port, access log with $connection."""

    def __init__(self, dir, port=None, extra=""):
        if not NGINX:
            raise Skip("nginx is not installed")
        self.dir = Path(dir)
        self.port = port or free_port()
        self.www = self.dir / "www"
        self.www.mkdir(parents=True, exist_ok=True)
        self.access_log = self.dir / "access.log"
        self.error_log = self.dir / "error.log"
        self.conf = self.dir / "nginx.conf"
        self.conf.write_text(NGINX_CONF.format(dir=self.dir, addr=LOCAL,
                                               port=self.port, extra=extra))
        self.proc = None
        self.workers = []

    def start(self, timeout=10.0):
        self.proc = subprocess.Popen(
            [NGINX, "-p", str(self.dir), "-c", str(self.conf)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=open(self.dir / "nginx.stderr", "wb"))
        deadline = time.monotonic() + timeout
        while not wait_port(self.port, 0.2):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("nginx did not start: " + self.tail_error())
        self.workers = children_of(self.proc.pid)
        return self

    def tail_error(self, n=20):
        out = []
        for f in (self.dir / "nginx.stderr", self.error_log):
            try:
                out += f.read_text(errors="replace").splitlines()[-n:]
            except OSError:
                pass
        return "\n".join(out)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        if not self.proc:
            return
        self.workers = list(set(self.workers + children_of(self.proc.pid)))
        stop_process(self.proc, signal.SIGTERM, timeout=5)
        # A master killed hard leaves its workers: end them by PID.
        for pid in self.workers:
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    if b"nginx" not in f.read():
                        continue
                os.kill(pid, signal.SIGKILL)
            except (OSError, ProcessLookupError):
                pass
        self.proc = None

    def log_lines(self):
        """Parsed access-log lines: dicts with conn, conn_requests,
        request_time, status, bytes, request_length, te, request."""
        rx = re.compile(r'^(\d+) (\d+) ([\d.]+) (\d+) (\d+) (\d+) "([^"]*)" "(.*)"$')
        lines = []
        try:
            text = self.access_log.read_text(errors="replace")
        except OSError:
            return lines
        for line in text.splitlines():
            m = rx.match(line)
            if m:
                lines.append(dict(conn=int(m[1]), conn_requests=int(m[2]),
                                  request_time=float(m[3]), status=int(m[4]),
                                  bytes=int(m[5]), request_length=int(m[6]),
                                  te=m[7], request=m[8]))
        return lines

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


# ------------------------------------------------------------------ card ----

class Card:
    """build/proxycard-sim with a configuration and forwards.

    forwards: {name: card_port}; each gets a free host port, in
    self.ports[name].  Started with -v, stderr in dir/sim.stderr.
    """

    def __init__(self, dir, config, forwards, mem_size=None, verbose=1,
                 backlog=None, tap=None):
        if not SIM.exists():
            raise Skip(f"{SIM} is not built (make fw sim)")
        self.dir = Path(dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.config_text = config
        self.config = self.dir / "card.conf"
        self.config.write_text(config)
        self.ports = {name: free_port() for name in forwards}
        self.forwards = forwards
        self.ready = self.dir / "ready"
        self.stats_path = self.dir / "stats.json"
        self.stderr_path = self.dir / "sim.stderr"
        self.mem_size = mem_size
        self.verbose = verbose
        self.backlog = backlog
        # A TapNet: the NIC port on its TAP device, no forwards.
        self.tap = tap
        if tap and forwards:
            raise ValueError("a card on a TapNet has no forwards")
        self.proc = None
        self.rc = None
        self._stats_lock = threading.Lock()

    @property
    def port(self):
        return next(iter(self.ports.values()))

    def start(self, timeout=10.0):
        cmd = [str(SIM), "--config", str(self.config),
               "--ready-file", str(self.ready), "--stats", str(self.stats_path)]
        for name, cport in self.forwards.items():
            cmd += ["--forward", f"{LOCAL}:{self.ports[name]}:{cport}"]
        if self.tap:
            cmd += ["--nic-tap", self.tap.dev, "--nic-netns", self.tap.name]
        if self.mem_size:
            cmd += ["--mem-size", str(self.mem_size)]
        if self.backlog:
            cmd += ["--backlog", str(self.backlog)]
        if self.verbose:
            cmd.append("-" + "v" * self.verbose)
        self._stderr = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL,
                                     stderr=self._stderr)
        deadline = time.monotonic() + timeout
        while not self.ready.exists():
            if self.proc.poll() is not None:
                raise RuntimeError(f"proxycard-sim exited with {self.proc.returncode}"
                                   f" before ready:\n{self.stderr_tail()}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("proxycard-sim not ready in time:\n"
                                   + self.stderr_tail())
            time.sleep(0.01)
        return self

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stderr_text(self):
        try:
            return self.stderr_path.read_text(errors="replace")
        except OSError:
            return ""

    def stderr_tail(self, n=25):
        lines = self.stderr_text().splitlines()
        return "\n".join(lines[-n:])

    def stats(self, timeout=5.0):
        """Fresh statistics (SIGUSR1), as a dict; the whole JSON object."""
        with self._stats_lock:
            if not self.alive():
                raise TestFailure("proxycard-sim is not running (exit status "
                                  f"{self.proc.returncode if self.proc else None})\n"
                                  + self.stderr_tail())
            try:
                self.stats_path.unlink()
            except FileNotFoundError:
                pass
            os.kill(self.proc.pid, signal.SIGUSR1)
            deadline = time.monotonic() + timeout
            while not self.stats_path.exists():
                if time.monotonic() > deadline or not self.alive():
                    raise TestFailure("no statistics after SIGUSR1\n"
                                      + self.stderr_tail())
                time.sleep(0.01)
            return json.loads(self.stats_path.read_text())

    def proxy_stats(self):
        return self.stats()["firmware"]["proxy"]

    def wait_stats(self, pred, timeout=5.0, interval=0.1):
        """Poll statistics until pred(proxy_stats) holds; returns the last
        proxy stats and whether pred held."""
        deadline = time.monotonic() + timeout
        while True:
            st = self.proxy_stats()
            if pred(st):
                return st, True
            if time.monotonic() > deadline:
                return st, False
            time.sleep(interval)

    def reload(self, text, timeout=5.0):
        """Write text as the --config file and load it (SIGHUP); the last
        lines of the card's log once it answered."""
        before = self.stderr_text().count("loaded")
        self.config.write_text(text)
        os.kill(self.proc.pid, signal.SIGHUP)
        deadline = time.monotonic() + timeout
        while self.stderr_text().count("loaded") == before:
            check(time.monotonic() < deadline, "no answer to SIGHUP:\n"
                  + self.stderr_tail())
            time.sleep(0.02)
        return self.stderr_tail(3)

    def wait_pool(self, n, timeout=8.0):
        st, ok = self.wait_stats(lambda p: p["srv_idle"] >= n, timeout)
        check(ok, f"pool not up: srv_idle {st['srv_idle']}, wanted {n}; "
                  f"stats {st}")
        return st

    def final_stats(self):
        try:
            return json.loads(self.stats_path.read_text())
        except (OSError, ValueError):
            return None

    def stop(self, timeout=5.0):
        if self.proc is None:
            return self.rc
        self.rc = stop_process(self.proc, signal.SIGTERM, timeout)
        self.proc = None
        try:
            self._stderr.close()
        except Exception:
            pass
        return self.rc

    def __enter__(self):
        return self.start()

    def __exit__(self, et, ev, tb):
        was_alive = self.alive()
        rc = self.stop()
        if ev is not None:
            # rc: 0 after our SIGTERM; anything else (a SIGSEGV, say) means
            # it ended on its own, perhaps just before we looked.
            if not was_alive or rc != 0:
                ev.add_note("proxycard-sim " + ("had died during the test: "
                            if not was_alive else "ended with ")
                            + describe_status(rc))
            ev.add_note("--- proxycard-sim stderr (tail) ---\n" + self.stderr_tail())
            return False
        if not was_alive or (rc is not None and rc < 0):
            raise TestFailure("proxycard-sim died during the test: "
                              f"{describe_status(rc)}\n"
                              + self.stderr_tail())
        if rc != 0:
            raise TestFailure(f"proxycard-sim exited with status {rc} on SIGTERM\n"
                              + self.stderr_tail())
        st = self.final_stats()
        if st is None:
            raise TestFailure("no final statistics at exit")
        if st["firmware"]["fault"] is not None:
            raise TestFailure(f"firmware fault: {st['firmware']['fault']}")
        return False


# -------------------------------------------------------------- TAP net ----

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


class TapNet:
    """The clients' side of a card whose NIC port is a TAP device.

    A network namespace pcsim-<pid>-<n> holding TAP device pctap<n> with
    10.0.2.2/24 (the card's gateway) and CLIENT_ADDRS (10.0.2.100-107/24),
    so that clients pick their source address; the card, Card(..., tap=net),
    is 10.0.2.15 on that link.  Only the card's TAP is in the namespace
    (proxycard-sim --nic-netns enters it to open the device and comes back):
    the card's bus port, hence the servers, stay on the host's loopback.

    Clients: socket(src) makes a socket in the namespace from this process
    (setns(2) on this thread around socket(); the socket stays in the
    namespace), conn(src) an HttpConn to the card; run(argv) runs a
    program there (ip netns exec).  snmp() reads the namespace's Tcp
    counters.  remove() (also at exit) deletes the namespace by its name,
    which takes the TAP device with it; needs root, /dev/net/tun and ip.
    """

    CARD = "10.0.2.15"
    GATEWAY = "10.0.2.2"
    CLIENT_ADDRS = [f"10.0.2.{100 + i}" for i in range(8)]
    _count = 0

    def __init__(self, mtu=1500):
        TapNet._count += 1
        self.name = f"pcsim-{os.getpid()}-{TapNet._count}"
        self.dev = f"pctap{TapNet._count}"
        self.mtu = mtu
        self.created = False

    @staticmethod
    def unavailable():
        """Why TapNet cannot work here, or None."""
        if os.geteuid() != 0:
            return "needs root (a network namespace and a TAP device)"
        if not os.path.exists("/dev/net/tun"):
            return "no /dev/net/tun"
        if not shutil.which("ip"):
            return "ip (iproute2) is not installed"
        if not hasattr(_libc, "setns"):
            return "no setns(2) in the C library"
        return None

    def _ip(self, *args, timeout=10):
        r = subprocess.run(["ip"] + list(args), capture_output=True,
                           timeout=timeout, stdin=subprocess.DEVNULL)
        if r.returncode != 0:
            raise RuntimeError(f"ip {' '.join(args)}: "
                               + r.stderr.decode(errors="replace").strip())

    def start(self):
        why = self.unavailable()
        if why:
            raise Skip(why)
        self._ip("netns", "add", self.name)
        self.created = True
        atexit.register(self.remove)
        try:
            ns = ["-n", self.name]
            self._ip(*ns, "link", "set", "lo", "up")
            self._ip(*ns, "tuntap", "add", "dev", self.dev, "mode", "tap")
            self._ip(*ns, "link", "set", self.dev, "mtu", str(self.mtu))
            for a in [self.GATEWAY] + self.CLIENT_ADDRS:
                self._ip(*ns, "addr", "add", f"{a}/24", "dev", self.dev)
            self._ip(*ns, "link", "set", self.dev, "up")
            # No IPv6 chatter (router solicitations, MLD) on the card's link.
            self.run(["sysctl", "-q", "-w",
                      f"net.ipv6.conf.{self.dev}.disable_ipv6=1"], check=True)
        except Exception:
            self.remove()
            raise
        return self

    def remove(self):
        """Delete the namespace (bounded), by its name; idempotent."""
        if not self.created:
            return
        self.created = False
        try:
            atexit.unregister(self.remove)
        except Exception:
            pass
        try:
            subprocess.run(["ip", "netns", "del", self.name], timeout=10,
                           capture_output=True, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            pass

    def run(self, argv, timeout=30, check=False, **kw):
        """Run argv in the namespace; CompletedProcess (bytes output)."""
        kw.setdefault("capture_output", True)
        kw.setdefault("stdin", subprocess.DEVNULL)
        try:
            r = subprocess.run(["ip", "netns", "exec", self.name] + list(argv),
                               timeout=timeout, **kw)
        except subprocess.TimeoutExpired as e:
            raise TestFailure(f"timed out after {timeout}s in {self.name}: "
                              f"{argv}") from e
        if check and r.returncode != 0:
            raise RuntimeError(f"{argv} in {self.name}: exit {r.returncode}: "
                               + (r.stderr or b"").decode(errors="replace"))
        return r

    def socket(self, src=None, kind=socket.SOCK_STREAM):
        """A socket made in the namespace (bound to src if given)."""
        own = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        try:
            ns = os.open(f"/run/netns/{self.name}", os.O_RDONLY | os.O_CLOEXEC)
            try:
                if _libc.setns(ns, CLONE_NEWNET) != 0:
                    e = ctypes.get_errno()
                    raise OSError(e, f"setns {self.name}: {os.strerror(e)}")
                try:
                    s = socket.socket(socket.AF_INET, kind)
                finally:
                    if _libc.setns(own, CLONE_NEWNET) != 0:
                        # Every later socket would be in the wrong place.
                        os.abort()
            finally:
                os.close(ns)
        finally:
            os.close(own)
        if src:
            s.bind((src, 0))
        return s

    def conn(self, src=None, port=80, timeout=10.0, **kw):
        """An HttpConn from src (in the namespace) to the card's port."""
        return HttpConn(port, timeout, addr=self.CARD, sock=self.socket(src),
                        **kw)

    def snmp(self):
        """The namespace's counters: {"Tcp": {...}, "TcpExt": {...}, ...}
        from /proc/net/snmp and /proc/net/netstat."""
        r = self.run(["cat", "/proc/net/snmp", "/proc/net/netstat"],
                     check=True)
        out, lines = {}, r.stdout.decode().splitlines()
        for head, vals in zip(lines[0::2], lines[1::2]):
            name, _, keys = head.partition(":")
            out[name] = dict(zip(keys.split(), map(int, vals.split(":")[1].split())))
        return out

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.remove()


# ---------------------------------------------------------- TCP servers ----

class _Server:
    def __init__(self, port=None):
        self.port = port or free_port()
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind((LOCAL, self.port))
        self.lsock.listen(128)
        self.lsock.settimeout(0.2)
        self.stopping = threading.Event()
        self.threads = []
        self.conns = []
        self.accepted = 0
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._accept_loop, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def _accept_loop(self):
        while not self.stopping.is_set():
            try:
                conn, _ = self.lsock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with self.lock:
                self.accepted += 1
                self.conns.append(conn)
            t = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self.threads.append(t)
            t.start()

    def _serve(self, conn):
        pass

    def stop(self):
        self.stopping.set()
        self.thread.join(timeout=2)
        self.lsock.close()
        with self.lock:
            for c in self.conns:
                try:
                    c.close()
                except OSError:
                    pass
        for t in self.threads:
            t.join(timeout=2)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


class EchoServer(_Server):
    """Echoes every byte; after the client's FIN waits `linger` seconds,
    sends `trailer`, then closes."""

    def __init__(self, port=None, trailer=b"", linger=0.0):
        super().__init__(port)
        self.trailer = trailer
        self.linger = linger
        self.received = 0

    def _serve(self, conn):
        conn.settimeout(0.5)
        try:
            while not self.stopping.is_set():
                try:
                    data = conn.recv(65536)
                except socket.timeout:
                    continue
                if not data:
                    break
                self.received += len(data)
                conn.sendall(data)
            else:
                return
            if self.linger:
                time.sleep(self.linger)
            if self.trailer:
                conn.sendall(self.trailer)
            conn.shutdown(socket.SHUT_WR)
        except OSError:
            pass


class HoleServer(_Server):
    """Accepts connections, reads whatever comes and never answers."""

    def __init__(self, port=None):
        super().__init__(port)
        self.received = bytearray()

    def _serve(self, conn):
        conn.settimeout(0.2)
        while not self.stopping.is_set():
            try:
                data = conn.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                return
            if not data:
                return
            with self.lock:
                self.received += data


# ------------------------------------------------------------------ HTTP ----

class Response:
    def __init__(self, version, status, reason, headers, body, raw_head):
        self.version = version
        self.status = status
        self.reason = reason
        self.headers = headers      # list of (name, value)
        self.body = body
        self.raw_head = raw_head

    def header(self, name, default=None):
        name = name.lower()
        for k, v in self.headers:
            if k.lower() == name:
                return v
        return default

    def __repr__(self):
        return (f"<Response {self.status} {self.reason!r} "
                f"{len(self.body) if self.body is not None else None} body bytes>")


class ConnClosed(Exception):
    pass


class HttpConn:
    """A raw TCP connection to 127.0.0.1:port speaking HTTP/1.1 by hand."""

    def __init__(self, port, timeout=10.0, rcvbuf=None, addr=LOCAL, sock=None):
        # sock: an unconnected TCP socket to use (TapNet.socket()).
        self.sock = sock or socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        self.sock.connect((addr, port))
        self.timeout = timeout
        self.buf = bytearray()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send(self, data):
        self.sock.sendall(data)

    def _fill(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout("timed out waiting for the response")
        self.sock.settimeout(left)
        data = self.sock.recv(1 << 20)
        if not data:
            raise ConnClosed("connection closed by the peer")
        self.buf += data

    def _read_until(self, marker, deadline):
        while True:
            i = self.buf.find(marker)
            if i >= 0:
                out = bytes(self.buf[:i + len(marker)])
                del self.buf[:i + len(marker)]
                return out
            self._fill(deadline)

    def _read_n(self, n, deadline):
        while len(self.buf) < n:
            self._fill(deadline)
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    def read_response(self, method="GET", timeout=None, skip_interim=True):
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            head = self._read_until(b"\r\n\r\n", deadline)
            lines = head[:-4].decode("latin-1").split("\r\n")
            m = re.match(r"^(HTTP/\d\.\d) (\d{3})(?: (.*))?$", lines[0])
            if not m:
                raise TestFailure(f"bad status line {lines[0]!r}")
            version, status, reason = m[1], int(m[2]), m[3] or ""
            headers = []
            for line in lines[1:]:
                k, _, v = line.partition(":")
                headers.append((k.strip(), v.strip()))
            if 100 <= status < 200 and skip_interim:
                continue
            break
        resp = Response(version, status, reason, headers, None, head)
        te = (resp.header("transfer-encoding") or "").lower()
        cl = resp.header("content-length")
        if method == "HEAD" or status < 200 or status in (204, 304):
            resp.body = b""
        elif "chunked" in te:
            body = bytearray()
            while True:
                line = self._read_until(b"\r\n", deadline)
                size = int(line.split(b";")[0].strip(), 16)
                if size == 0:
                    while self._read_until(b"\r\n", deadline) != b"\r\n":
                        pass
                    break
                body += self._read_n(size, deadline)
                check(self._read_n(2, deadline) == b"\r\n", "bad chunk end")
            resp.body = bytes(body)
        elif cl is not None:
            resp.body = self._read_n(int(cl), deadline)
        else:
            resp.body = self.read_to_eof(timeout=max(0.1, deadline - time.monotonic()))[0]
        return resp

    def read_to_eof(self, timeout=5.0):
        """Read until the peer closes: (bytes, how) with how 'eof', 'reset'
        or 'timeout'."""
        deadline = time.monotonic() + timeout
        data = bytearray(self.buf)
        self.buf.clear()
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return bytes(data), "timeout"
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(1 << 20)
            except socket.timeout:
                return bytes(data), "timeout"
            except ConnectionResetError:
                return bytes(data), "reset"
            if not chunk:
                return bytes(data), "eof"
            data += chunk

    def pending(self, wait=0.3):
        """Bytes that arrive within `wait` seconds without asking (None on
        EOF/reset)."""
        if self.buf:
            return bytes(self.buf)
        self.sock.settimeout(wait)
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            return b""
        except ConnectionResetError:
            return None
        if not data:
            return None
        self.buf += data
        return data


def get_request(path, host="card", extra=""):
    return (f"GET {path} HTTP/1.1\r\nHost: {host}\r\n{extra}\r\n").encode()


def http_get(port, path, timeout=10.0, method="GET"):
    with HttpConn(port, timeout) as c:
        c.send(f"{method} {path} HTTP/1.1\r\nHost: card\r\n"
               "Connection: close\r\n\r\n".encode())
        return c.read_response(method)


# ------------------------------------------------------------------ curl ----

def curl(args, timeout=60.0):
    """Run curl with args; returns CompletedProcess (text output)."""
    if not CURL:
        raise Skip("curl is not installed")
    try:
        return subprocess.run([CURL, "-sS", "--noproxy", "*"] + args,
                              capture_output=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as e:
        raise TestFailure(f"curl timed out after {timeout}s: {args}") from e


def curl_stdin(args, data_path, timeout=60.0):
    if not CURL:
        raise Skip("curl is not installed")
    with open(data_path, "rb") as f:
        try:
            return subprocess.run([CURL, "-sS", "--noproxy", "*"] + args,
                                  capture_output=True, timeout=timeout, stdin=f)
        except subprocess.TimeoutExpired as e:
            raise TestFailure(f"curl timed out after {timeout}s: {args}") from e


# ------------------------------------------------------ many clients ----

def many_gets(port, paths, timeout=60.0):
    """Open one connection per path at once (non-blocking, one selector),
    send one GET on each, read each whole response (Content-Length framed).
    Returns a list, per path, of (status or None, body or None, error)."""
    import selectors

    sel = selectors.DefaultSelector()
    results = [None] * len(paths)
    live = 0
    for i, path in enumerate(paths):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        err = s.connect_ex((LOCAL, port))
        if err not in (0, errno.EINPROGRESS):
            results[i] = (None, None, f"connect: {os.strerror(err)}")
            s.close()
            continue
        st = {"i": i, "out": get_request(path), "buf": bytearray(),
              "sent": False}
        sel.register(s, selectors.EVENT_WRITE, st)
        live += 1

    def finish(sock, st, result):
        nonlocal live
        results[st["i"]] = result
        sel.unregister(sock)
        sock.close()
        live -= 1

    def parse(buf):
        i = buf.find(b"\r\n\r\n")
        if i < 0:
            return None
        head = bytes(buf[:i]).decode("latin-1").split("\r\n")
        m = re.match(r"^HTTP/1\.\d (\d{3})", head[0])
        if not m:
            return ("bad", head[0])
        cl = None
        for line in head[1:]:
            k, _, v = line.partition(":")
            if k.strip().lower() == "content-length":
                cl = int(v.strip())
        if cl is None:
            return ("bad", "no Content-Length")
        if len(buf) - (i + 4) < cl:
            return None
        return (int(m[1]), bytes(buf[i + 4:i + 4 + cl]))

    deadline = time.monotonic() + timeout
    while live and time.monotonic() < deadline:
        for key, ev in sel.select(timeout=0.5):
            sock, st = key.fileobj, key.data
            try:
                if not st["sent"]:
                    err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                    if err:
                        finish(sock, st, (None, None, f"connect: {os.strerror(err)}"))
                        continue
                    n = sock.send(st["out"])
                    st["out"] = st["out"][n:]
                    if not st["out"]:
                        st["sent"] = True
                        sel.modify(sock, selectors.EVENT_READ, st)
                    continue
                data = sock.recv(1 << 16)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError as e:
                finish(sock, st, (None, None, f"{type(e).__name__}: {e}"))
                continue
            if not data:
                finish(sock, st, (None, None, f"EOF after {len(st['buf'])} bytes"))
                continue
            st["buf"] += data
            r = parse(st["buf"])
            if r is None:
                continue
            if r[0] == "bad":
                finish(sock, st, (None, None, f"bad response: {r[1]}"))
            else:
                finish(sock, st, (r[0], r[1], None))
    for key in list(sel.get_map().values()):
        st = key.data
        results[st["i"]] = (None, None, f"timeout ({len(st['buf'])} bytes read)")
        key.fileobj.close()
    sel.close()
    return results


# ---------------------------------------------------- a scripted origin ----

class Origin(_Server):
    # Only _Server's context-manager methods are inherited: its own
    # listener and serving loop are replaced below.

    """A keep-alive HTTP/1.1 origin on 127.0.0.1 whose misbehaviour the test
    controls, recording every request it receives.

    Each request's answer is `200` with the body "PATH CONN\\n" (CONN: the
    connection's number, in accept order), framed by Content-Length, unless
    the path asks otherwise:
      /bad...        400 with Connection: close, then the connection closes
                     (as a server does after a request it rejects)
      /close...      200 with Connection: close, then close
      /stall...      a head with Content-Length 1000 and 10 body bytes, then
                     nothing more (the connection stays open)
      /silent...     nothing at all (the connection stays open)
      /big...        a 200 with a 30,000-byte body
    Options: idle_timeout (s): close a connection idle that long (the
    server's own keep-alive timeout); keepalive_hint: send
    `Keep-Alive: timeout=N` on every response; restart(gap): close the
    listener and every connection, reopen after gap seconds.

    self.log: (monotonic time, conn, method, path) per request received;
    self.heads: the head's lines (start line first) per request received.
    """

    def __init__(self, port=None, idle_timeout=None, keepalive_hint=None):
        self.port = port or free_port()
        self.idle_timeout = idle_timeout
        self.keepalive_hint = keepalive_hint
        self.lock = threading.Lock()
        self.log = []
        self.heads = []             # each request's head lines, as received
        self.conns = {}             # conn number -> socket
        self.accepted = 0
        self.closed_idle = 0        # closed on their idle timeout
        self.threads = []
        self.stopping = threading.Event()
        self.lsock = None
        self.acceptor = None

    # -- listener --
    def _listen(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((LOCAL, self.port))
        s.listen(128)
        s.settimeout(0.1)
        self.lsock = s
        self.acceptor = threading.Thread(target=self._accept_loop, args=(s,),
                                         daemon=True)
        self.acceptor.start()

    def _accept_loop(self, lsock):
        while not self.stopping.is_set() and self.lsock is lsock:
            try:
                conn, _ = lsock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with self.lock:
                n = self.accepted
                self.accepted += 1
                self.conns[n] = conn
            t = threading.Thread(target=self._serve, args=(conn, n), daemon=True)
            self.threads.append(t)
            t.start()

    def start(self):
        self._listen()
        return self

    def _close_listener(self):
        s, self.lsock = self.lsock, None
        if s:
            s.close()
        if self.acceptor:
            self.acceptor.join(timeout=2)
            self.acceptor = None

    def close_all(self):
        with self.lock:
            conns = list(self.conns.values())
            self.conns.clear()
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            try:
                c.close()
            except OSError:
                pass

    def restart(self, gap=0.2):
        """A server restart: every connection and the listener go away;
        after gap seconds it listens again."""
        self._close_listener()
        self.close_all()
        time.sleep(gap)
        self._listen()

    def stop(self):
        self.stopping.set()
        self._close_listener()
        self.close_all()
        for t in self.threads:
            t.join(timeout=2)

    def requests_for(self, token):
        with self.lock:
            return [r for r in self.log if token in r[3]]

    # -- one connection --
    def _serve(self, conn, n):
        buf = bytearray()
        try:
            while not self.stopping.is_set():
                i = buf.find(b"\r\n\r\n")
                if i < 0:
                    conn.settimeout(self.idle_timeout if not buf and
                                    self.idle_timeout else 0.5)
                    try:
                        data = conn.recv(65536)
                    except socket.timeout:
                        if not buf and self.idle_timeout:
                            with self.lock:
                                self.closed_idle += 1
                            return
                        continue
                    if not data:
                        return
                    buf += data
                    continue
                head = bytes(buf[:i]).decode("latin-1").split("\r\n")
                method, path = (head[0].split(" ") + ["", ""])[:2]
                length = 0
                for line in head[1:]:
                    k, _, v = line.partition(":")
                    if k.strip().lower() == "content-length":
                        length = int(v.strip())
                while len(buf) < i + 4 + length:
                    data = conn.recv(65536)
                    if not data:
                        return
                    buf += data
                del buf[:i + 4 + length]
                with self.lock:
                    self.log.append((time.monotonic(), n, method, path))
                    self.heads.append(head)
                if not self._answer(conn, n, method, path):
                    return
        except OSError:
            pass
        finally:
            with self.lock:
                self.conns.pop(n, None)
            try:
                conn.close()
            except OSError:
                pass

    def _answer(self, conn, n, method, path):
        """Send the answer; False when the connection is to end."""
        hint = (f"Keep-Alive: timeout={self.keepalive_hint}\r\n"
                if self.keepalive_hint is not None else "")
        if path.startswith("/silent"):
            while not self.stopping.wait(0.1) and n in self.conns:
                pass
            return False
        if path.startswith("/stall"):
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"
                         + b"x" * 10)
            while not self.stopping.wait(0.1) and n in self.conns:
                pass
            return False
        if path.startswith("/bad"):
            body = b"bad request\n"
            conn.sendall(b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\n"
                         + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
            return False
        body = (b"y" * 30000 if path.startswith("/big")
                else f"{path} {n}\n".encode())
        close = path.startswith("/close")
        conn.sendall(f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\n{hint}"
                     f"{'Connection: close' if close else 'Connection: keep-alive'}"
                     "\r\n\r\n".encode() + body)
        return not close


# ---------------------------------------------------------------- runner ----

def test_registry():
    """(tests, test): a list, and a decorator @test(name) appending
    (name, function) to it in the order the file defines them."""
    tests = []

    def test(name):
        def reg(fn):
            tests.append((name, fn))
            return fn
        return reg
    return tests, test


def run_tap(tests, argv, env, skip=None):
    """Run tests, [(name, fn)] each called as fn(env), printing TAP; returns
    the exit status (1 if any failed).  argv[1:]: substrings of the names
    (or function names) to run, all if none.  env.setup() runs first, unless
    skip says why every test is skipped; env.teardown() always at the end.
    A test raising Skip is skipped with its reason."""
    wanted = argv[1:]
    tests = [(n, f) for n, f in tests
             if not wanted or any(w in n or w == f.__name__ for w in wanted)]

    def on_term(signum, frame):
        raise SystemExit(f"killed by signal {signum}")
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGHUP, on_term)

    print(f"1..{len(tests)}", flush=True)
    setup_error = None
    if not skip:
        try:
            env.setup()
        except Exception as e:
            setup_error = f"set-up failed: {type(e).__name__}: {e}"
    failed = 0
    t_all = time.monotonic()
    try:
        for i, (name, fn) in enumerate(tests, 1):
            if skip:
                print(f"ok {i} - {name} # SKIP {skip}", flush=True)
                continue
            if setup_error:
                print(f"not ok {i} - {name}\n# {setup_error}", flush=True)
                failed += 1
                continue
            t0 = time.monotonic()
            try:
                fn(env)
            except Skip as e:
                print(f"ok {i} - {name} # SKIP {e}", flush=True)
                continue
            except Exception as e:
                failed += 1
                took = time.monotonic() - t0
                print(f"not ok {i} - {name}")
                msg = failure_message(e)
                for line in msg.splitlines():
                    print(f"#   {line}")
                print(f"# time {took:.2f}s", flush=True)
                continue
            print(f"ok {i} - {name}")
            print(f"# time {time.monotonic() - t0:.2f}s", flush=True)
    finally:
        env.teardown()
    print(f"# {len(tests) - failed} of {len(tests)} passed in "
          f"{time.monotonic() - t_all:.1f}s", flush=True)
    return 1 if failed else 0
