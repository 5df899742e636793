#!/usr/bin/env python3
"""make bench / make bench-quick: what the card saves the server, in one run.

The same guest (scripts/build-guest.sh: nginx in the guest, 1 vCPU) is served
three ways, with the same load generator, interleaved within each repetition:

  virtio  virtio-net on a TAP device in a network namespace (run-vm.sh --tap
          --virtio); clients in the namespace talk to the guest's nginx at
          10.0.2.15:80.
  nginx   the same virtio-net VM, with a host nginx reverse proxy in front:
          nginx runs in the VM's namespace (ip netns exec), listens on
          10.0.2.2:8080 (the namespace's own address: clients reach it over
          the namespace's loopback) and proxies to 10.0.2.15:80 over the TAP,
          with proxy_buffering on, HTTP/1.1 and upstream keepalive 1024 (more
          than any load's concurrent requests: nginx at its best, no upstream
          connection churn; --nginx-keepalive 8 shows the churn).  This is
          the "software that the card replaces": a buffering proxy on the host
          that absorbs slow clients before they reach the guest.
  card    the proxycard on a TAP device in its own namespace (run-vm.sh --tap);
          clients talk to the card at 10.0.2.15:80, the card to the guest's
          nginx over the bus link through its pool.

Both VMs run during the whole bench (each in its own namespace); an idle VM's
CPU is measured and stated.  The load generator is this script in client mode,
run inside the namespace (ip netns exec), so the clients use the namespace's
Linux TCP: asyncio, non-blocking sockets.

  slow client   a new connection per request; an 85-byte GET sent in 8
                pieces over 2 s; the response read at 4 KB/s (SO_RCVBUF 4 KiB)
  fast client   one keep-alive connection, requests back to back
  ka1           one fast client: latency

Figures per run (a run = one load on one path for D seconds) are deltas over
the load window: the guest's vCPU thread time (QEMU's "CPU n/TCG" threads,
/proc/PID/task/TID/schedstat; QEMU runs with -name ...,debug-threads=on), the
card firmware thread (card-cpu-ns from QMP) and its thread's own schedstat,
QEMU's main loop thread, the whole QEMU process (/proc/PID/stat), host nginx
(master + workers) for the nginx path, requests completed, req/s, latency
p50/p99, client errors, client-side TCP retransmissions (nstat in the
namespace), and the guest nginx's stub_status (accepts, peak active) polled
every 0.5 s through the path under test.  Noise: the load average, the host's
busy CPU during each run, and the part of it used by other processes (named).

Outputs in bench/results/ (or --out): serve-DATE.json, serve-DATE.md and, if
matplotlib is importable (by this python or /usr/bin/python3), PNG plots.

usage: serve_bench.py [--quick] [--reps N] [--duration S] [--loads L,...]
                      [--out DIR] [--paths virtio,nginx,card]
       serve_bench.py client JSON         (the load generator; internal)
       serve_bench.py plot RESULTS.json   (redraw the plots)
Environment: BUILD (default build), VM_ACCEL (auto|tcg|kvm).
"""

import asyncio
import json
import os
import re
import resource
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
TOP = HERE.parent

GUEST_IP = "10.0.2.15"
NS_IP = "10.0.2.2"
PROXY_PORT = 8080
SLOW_PATH = "/f1k.bin"
FAST_PATH = "/f1k.bin"
NS_SYSCTLS = {"net.ipv4.ip_local_port_range": "1024 65000", "net.ipv4.tcp_tw_reuse": "1"}
TICK_NS = 1_000_000_000 // os.sysconf("SC_CLK_TCK")

# ============================================================ client mode ====
# Runs inside the namespace.  Prints "GO t" when the load starts, "END t" when
# it stops, then one JSON line.  Only the standard library.


def slow_request(host):
    req = (f"GET {SLOW_PATH} HTTP/1.1\r\nHost: {host}\r\n"
           "User-Agent: pcbench-slow/1.0\r\nAccept: */*\r\n\r\n").encode()
    return req


def fast_request(host):
    return (f"GET {FAST_PATH} HTTP/1.1\r\nHost: {host}\r\n"
            "User-Agent: pcbench-fast\r\n\r\n").encode()


class Stats:
    def __init__(self):
        self.lat = {}           # kind -> [seconds]
        self.errors = {}
        self.done = 0
        self.bytes = 0
        self.counting = True
        self.stopped = False

    def ok(self, kind, seconds, nbytes):
        if self.counting:
            self.lat.setdefault(kind, []).append(seconds)
            self.done += 1
            self.bytes += nbytes

    def err(self, what):
        if self.counting:
            self.errors[what] = self.errors.get(what, 0) + 1


class BadResponse(Exception):
    pass


def response_len(buf):
    """Bytes of the whole response once its header is in buf, else None."""
    i = buf.find(b"\r\n\r\n")
    if i < 0:
        if len(buf) > 16384:
            raise BadResponse("header too long")
        return None
    head = buf[:i].decode("latin-1")
    status = head.split("\r\n", 1)[0].split()
    if len(status) < 2 or status[1] != "200":
        raise BadResponse(f"status {' '.join(status[1:2]) or '?'}")
    m = re.search(r"(?im)^content-length:\s*(\d+)", head)
    if not m:
        raise BadResponse("no content-length")
    return i + 4 + int(m[1])


async def read_response(loop, sock, rate=None, timeout=60.0):
    """Read one response; at most `rate` bytes/s if given.  Returns bytes read."""
    buf = b""
    need = None
    t0 = loop.time()
    deadline = t0 + timeout
    while need is None or len(buf) < need:
        if rate:
            # Pace: never ahead of rate * elapsed (512-byte reads).
            ahead = len(buf) / rate - (loop.time() - t0)
            if ahead > 0:
                await asyncio.sleep(ahead)
            n = 512
        else:
            n = 65536
        left = deadline - loop.time()
        if left <= 0:
            raise asyncio.TimeoutError()
        data = await asyncio.wait_for(loop.sock_recv(sock, n), left)
        if not data:
            raise BadResponse("closed early")
        buf += data
        if need is None:
            need = response_len(buf)
    return len(buf)


async def connect(loop, host, port, rcvbuf=None, timeout=10.0):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setblocking(False)
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        await asyncio.wait_for(loop.sock_connect(s, (host, port)), timeout)
    except BaseException:
        s.close()
        raise
    return s


def err_name(e):
    if isinstance(e, asyncio.TimeoutError):
        return "timeout"
    if isinstance(e, BadResponse):
        return str(e)
    if isinstance(e, OSError):
        return (os.strerror(e.errno) if e.errno else str(e)).lower()
    return type(e).__name__


async def slow_client(loop, host, port, stats, start_delay):
    await asyncio.sleep(start_delay)
    req = slow_request(host)
    k = len(req) // 8
    pieces = [req[i * k:(i + 1) * k] for i in range(7)] + [req[7 * k:]]
    while not stats.stopped:
        t0 = loop.time()
        try:
            s = await connect(loop, host, port, rcvbuf=4096)
        except Exception as e:                  # noqa: BLE001
            stats.err("connect " + err_name(e))
            await asyncio.sleep(0.2)
            continue
        try:
            for i, p in enumerate(pieces):
                if i:
                    await asyncio.sleep(2.0 / 7)
                await loop.sock_sendall(s, p)
            n = await read_response(loop, s, rate=4096)
            stats.ok("slow", loop.time() - t0, n)
        except Exception as e:                  # noqa: BLE001
            stats.err(err_name(e))
            await asyncio.sleep(0.2)
        finally:
            s.close()


async def fast_client(loop, host, port, stats, kind):
    req = fast_request(host)
    while not stats.stopped:
        try:
            s = await connect(loop, host, port)
        except Exception as e:                  # noqa: BLE001
            stats.err("connect " + err_name(e))
            await asyncio.sleep(0.2)
            continue
        try:
            while not stats.stopped:
                t0 = loop.time()
                await loop.sock_sendall(s, req)
                n = await read_response(loop, s, timeout=30.0)
                stats.ok(kind, loop.time() - t0, n)
        except Exception as e:                  # noqa: BLE001
            stats.err(err_name(e))
            await asyncio.sleep(0.2)
        finally:
            s.close()


class StatusPoller:
    """stub_status of the guest's nginx, through the path under test."""

    def __init__(self, loop, host, port):
        self.loop, self.host, self.port = loop, host, port
        self.sock = None
        self.peak = 0
        self.samples = []

    async def read(self):
        req = (f"GET /nginx_status HTTP/1.1\r\nHost: {self.host}\r\n\r\n").encode()
        for _ in range(2):
            try:
                if self.sock is None:
                    self.sock = await connect(self.loop, self.host, self.port)
                await self.loop.sock_sendall(self.sock, req)
                buf = b""
                need = None
                while need is None or len(buf) < need:
                    d = await asyncio.wait_for(self.loop.sock_recv(self.sock, 4096), 10)
                    if not d:
                        raise BadResponse("closed")
                    buf += d
                    need = response_len(buf)
                text = buf.decode("latin-1")
                act = int(re.search(r"Active connections:\s*(\d+)", text)[1])
                acc, hnd, reqs = map(int, re.search(
                    r"requests\s*\n\s*(\d+)\s+(\d+)\s+(\d+)", text).groups())
                r = {"active": act, "accepts": acc, "handled": hnd, "requests": reqs}
                self.peak = max(self.peak, act)
                self.samples.append(act)
                return r
            except Exception:                   # noqa: BLE001
                if self.sock:
                    self.sock.close()
                self.sock = None
        return None

    async def run(self):
        while True:
            await asyncio.sleep(0.5)
            await self.read()


def nstat():
    r = subprocess.run(["nstat", "-asz"], capture_output=True, text=True, timeout=10)
    out = {}
    for line in r.stdout.splitlines():
        w = line.split()
        if len(w) >= 2 and w[1].isdigit():
            out[w[0]] = int(w[1])
    return out


NSTAT_KEYS = ["TcpRetransSegs", "TcpExtTCPSynRetrans", "TcpExtTCPTimeouts",
              "TcpExtTCPLostRetransmit", "TcpAttemptFails", "TcpEstabResets",
              "TcpExtListenDrops", "TcpExtListenOverflows"]


async def client_main(cfg):
    loop = asyncio.get_running_loop()
    host, port = cfg["host"], cfg["port"]
    stats = Stats()
    poller = StatusPoller(loop, host, port)
    # Settle: the previous run's connections close at the server (a direct
    # path's 1,000 slow clients leave hundreds closing).  Wait until the
    # guest nginx's active connections hold still for 1.5 s, at most 20 s.
    t_settle = loop.time()
    same, prev = 0, None
    while loop.time() - t_settle < 20:
        st = await poller.read()
        a = st["active"] if st else None
        same = same + 1 if a is not None and a == prev else 0
        prev = a
        if same >= 3:
            break
        await asyncio.sleep(0.5)
    settle_s = loop.time() - t_settle
    poller.peak = 0
    poller.samples = []
    st0 = await poller.read()
    n0 = nstat()
    ru0 = resource.getrusage(resource.RUSAGE_SELF)
    t_go = time.time()
    print(f"GO {t_go}", flush=True)
    tasks = []
    kind, n = cfg["kind"], cfg["n"]
    for i in range(n):
        if kind == "slow":
            # Spread the first connections over one request's time.
            tasks.append(loop.create_task(slow_client(loop, host, port, stats,
                                                      2.3 * i / n)))
        else:
            tasks.append(loop.create_task(fast_client(loop, host, port, stats,
                                                      "fast" if kind == "fast" else kind)))
    ptask = loop.create_task(poller.run())
    await asyncio.sleep(cfg["duration"])
    stats.counting = False
    t_end = time.time()
    print(f"END {t_end}", flush=True)
    ru1 = resource.getrusage(resource.RUSAGE_SELF)
    ptask.cancel()
    st1 = await poller.read()
    n1 = nstat()
    # Python 3.11's wait_for can swallow a cancellation: stop by the flag
    # too, and cancel until every task is done.
    stats.stopped = True
    pending = set(tasks) | {ptask}
    for _ in range(20):
        for t in pending:
            t.cancel()
        _, pending = await asyncio.wait(pending, timeout=0.5)
        if not pending:
            break
    lat = {}
    for k, v in stats.lat.items():
        v.sort()
        lat[k] = {"n": len(v), "p50_ms": 1000 * v[len(v) // 2],
                  "p99_ms": 1000 * v[min(len(v) - 1, int(len(v) * 0.99))]}
    res = {
        "t_go": t_go, "t_end": t_end, "requests": stats.done, "bytes": stats.bytes,
        "latency": lat, "errors": stats.errors,
        "status_before": st0, "status_after": st1,
        "peak_active": poller.peak, "settle_s": settle_s,
        "active_before": (st0 or {}).get("active"), "status_samples": len(poller.samples),
        "nstat": {k: n1.get(k, 0) - n0.get(k, 0) for k in NSTAT_KEYS},
        "client_cpu_s": (ru1.ru_utime + ru1.ru_stime) - (ru0.ru_utime + ru0.ru_stime),
    }
    print(json.dumps(res), flush=True)


def client_entry(arg):
    cfg = json.loads(arg)
    need = cfg["n"] * 2 + 256
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(max(need, soft), hard), hard))
    asyncio.run(client_main(cfg))


# ============================================================ measurement ====

def read_stat(pid, tid=None):
    p = f"/proc/{pid}/task/{tid}/stat" if tid else f"/proc/{pid}/stat"
    with open(p) as f:
        s = f.read()
    comm = s[s.index("(") + 1:s.rindex(")")]
    w = s[s.rindex(")") + 2:].split()
    return comm, (int(w[11]) + int(w[12])) * TICK_NS    # utime + stime


def thread_ns(pid, tid):
    try:
        with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return read_stat(pid, tid)[1]


def qemu_threads(pid):
    """{'vcpu': ns, 'main': ns, 'card_thread': ns, 'other': ns} (schedstat)."""
    out = {"vcpu": 0, "main": 0, "card_thread": 0, "other_threads": 0}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            comm, _ = read_stat(pid, tid)
            ns = thread_ns(pid, tid)
        except OSError:
            continue
        if re.match(r"CPU \d+/", comm):
            out["vcpu"] += ns
        elif int(tid) == pid:
            out["main"] += ns
        elif comm.startswith("proxycard"):
            out["card_thread"] += ns
        else:
            out["other_threads"] += ns
    return out


def all_procs():
    """{pid: (comm, cpu ns)} for every process (the noise statement)."""
    out = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                out[int(d)] = read_stat(d)
            except (OSError, ValueError):
                pass
    return out


def host_cpu():
    with open("/proc/stat") as f:
        w = f.readline().split()[1:]
    v = list(map(int, w))
    idle = v[3] + v[4]
    return sum(v[:8]) * TICK_NS, (sum(v[:8]) - idle) * TICK_NS


def loadavg():
    with open("/proc/loadavg") as f:
        return [float(x) for x in f.read().split()[:3]]


def nginx_pids(master):
    pids = [master]
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    s = f.read()
                if int(s[s.rindex(")") + 2:].split()[1]) == master:
                    pids.append(int(d))
            except (OSError, ValueError):
                pass
    return pids


# ============================================================ orchestration ===

sys.path.insert(0, str(TOP / "tests" / "vm"))
sys.path.insert(0, str(TOP / "tests" / "harness"))


def say(*a):
    print("serve-bench:", *a, flush=True)


HOST_NGINX_CONF = """\
# proxycard bench: the host reverse proxy in front of the virtio-net guest.
worker_processes 1;
worker_rlimit_nofile 65536;
pid {d}/nginx.pid;
error_log {d}/error.log notice;
events {{ worker_connections 30000; }}
http {{
    access_log off;
    client_body_temp_path {d}/body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    keepalive_timeout 300s;
    keepalive_requests 1000000;
    upstream guest {{
        server {guest}:80;
        keepalive {keepalive};
    }}
    server {{
        listen {ns}:{port} backlog=4096;
        location / {{
            proxy_pass http://guest;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffering on;
        }}
    }}
}}
"""


class HostNginx:
    def __init__(self, d, netns, keepalive):
        self.dir, self.netns, self.proc = d, netns, None
        self.keepalive = keepalive

    def start(self):
        self.dir.mkdir(parents=True, exist_ok=True)
        conf = self.dir / "nginx.conf"
        conf.write_text(HOST_NGINX_CONF.format(d=self.dir, guest=GUEST_IP, ns=NS_IP,
                                               port=PROXY_PORT, keepalive=self.keepalive))
        # ip netns exec execs nginx: the Popen pid is nginx's master.
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", self.netns, "/usr/sbin/nginx", "-c", str(conf),
             "-p", str(self.dir), "-g", "daemon off;"],
            stdin=subprocess.DEVNULL, stdout=open(self.dir / "stdout", "wb"),
            stderr=subprocess.STDOUT, preexec_fn=pdeathsig)
        for _ in range(50):
            time.sleep(0.1)
            if self.proc.poll() is not None:
                raise RuntimeError("host nginx exited: " +
                                   (self.dir / "error.log").read_text()[-500:])
            if len(nginx_pids(self.proc.pid)) > 1:
                return self
        raise RuntimeError("host nginx has no worker after 5 s")

    def cpu_ns(self):
        t = 0
        for p in nginx_pids(self.proc.pid):
            try:
                t += read_stat(p)[1]
            except OSError:
                pass
        return t

    def reload(self, timeout=15.0):
        """SIGHUP: new workers; the old one closes its idle upstream
        connections and exits (else the guest's nginx counts hundreds of idle
        keep-alive connections from earlier runs as active on every path)."""
        old = set(nginx_pids(self.proc.pid)) - {self.proc.pid}
        os.kill(self.proc.pid, signal.SIGHUP)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not old & set(nginx_pids(self.proc.pid)):
                return True
            time.sleep(0.2)
        return False

    def stop(self):
        if self.proc and self.proc.poll() is None:
            from pctest import stop_process
            stop_process(self.proc, signal.SIGTERM, 10)


def pdeathsig():
    import ctypes
    try:
        ctypes.CDLL(None).prctl(1, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):
        pass


class Path_:
    def __init__(self, name, vm, host, port, nginx=None):
        self.name, self.vm, self.host, self.port, self.nginx = name, vm, host, port, nginx


def snapshot(path, others_vm):
    vm = path.vm
    s = {"t": time.time(), "mono": time.monotonic()}
    s["qemu_ns"] = read_stat(vm.qemu_pid)[1]
    s.update(qemu_threads(vm.qemu_pid))
    s["card_cpu_ns"] = None
    if vm.variant == "card":
        try:
            st = vm.qmp_stats()
            s["card_stats"] = st
            s["card_cpu_ns"] = st.get("card-cpu-ns")
        except Exception as e:                  # noqa: BLE001
            s["card_stats_error"] = str(e)
    s["nginx_ns"] = path.nginx.cpu_ns() if path.nginx else None
    s["idle_vm_ns"] = read_stat(others_vm.qemu_pid)[1] if others_vm else 0
    s["host_total_ns"], s["host_busy_ns"] = host_cpu()
    s["procs"] = all_procs()
    s["loadavg"] = loadavg()
    return s


def run_load(path, kind, n, duration, others_vm):
    cfg = {"host": path.host, "port": path.port, "kind": kind, "n": n,
           "duration": duration}
    proc = subprocess.Popen(
        ["ip", "netns", "exec", path.vm.netns, sys.executable, str(Path(__file__).resolve()),
         "client", json.dumps(cfg)],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=open(path.vm.dir / "client.err", "w"),
        text=True, preexec_fn=pdeathsig)
    before = after = None
    result = None
    deadline = time.monotonic() + duration + 120
    import threading
    watchdog = threading.Timer(duration + 120, lambda: proc.poll() is None and proc.kill())
    watchdog.start()
    try:
        for line in proc.stdout:
            if line.startswith("GO "):
                before = snapshot(path, others_vm)
            elif line.startswith("END "):
                after = snapshot(path, others_vm)
            elif line.startswith("{"):
                result = json.loads(line)
                break
            if time.monotonic() > deadline:
                break
        proc.wait(timeout=30)
    finally:
        watchdog.cancel()
        if proc.poll() is None:
            from pctest import stop_process
            stop_process(proc, signal.SIGTERM, 5)
    if result is None or before is None or after is None:
        raise RuntimeError(f"load generator failed ({proc.returncode}): "
                           + (path.vm.dir / "client.err").read_text()[-2000:])
    excl = {proc.pid} | ({others_vm.qemu_pid} if others_vm else set())
    return figures(path, kind, n, before, after, result, excl)


def figures(path, kind, n, b, a, r, excl):
    req = r["requests"]
    wall = a["mono"] - b["mono"]

    def per_req(key):
        if b.get(key) is None or a.get(key) is None:
            return None
        return (a[key] - b[key]) / 1e6 / req if req else None
    ours = {path.vm.qemu_pid} | excl
    if path.nginx:
        ours.update(nginx_pids(path.nginx.proc.pid))
    others = {}
    for pid, (comm, ns) in a["procs"].items():
        if pid in ours:
            continue
        # A process started during the run counts whole.
        d = ns - b["procs"][pid][1] if pid in b["procs"] else ns
        if d > 0:
            others[comm] = others.get(comm, 0) + d
    client = r["client_cpu_s"] * 1e9
    busy = a["host_busy_ns"] - b["host_busy_ns"]
    total = a["host_total_ns"] - b["host_total_ns"]
    top = sorted(others.items(), key=lambda kv: -kv[1])[:4]
    sb, sa = r["status_before"] or {}, r["status_after"] or {}
    out = {
        "path": path.name, "load": kind, "clients": n, "wall_s": wall,
        "requests": req, "req_s": req / wall if wall else 0,
        "guest_vcpu_ms_req": per_req("vcpu"),
        "card_fw_ms_req": per_req("card_cpu_ns"),
        "card_thread_ms_req": per_req("card_thread") if path.vm.variant == "card" else None,
        "qemu_main_ms_req": per_req("main"),
        "qemu_ms_req": per_req("qemu_ns"),
        "host_nginx_ms_req": per_req("nginx_ns"),
        "server_accepts": (sa.get("accepts", 0) - sb.get("accepts", 0)) if sa and sb else None,
        "server_peak_active": r["peak_active"],
        "server_active_before": r.get("active_before"), "settle_s": r.get("settle_s"),
        "latency": r["latency"], "errors": r["errors"],
        "client_errors": sum(r["errors"].values()),
        "retrans": r["nstat"].get("TcpRetransSegs", 0),
        "syn_retrans": r["nstat"].get("TcpExtTCPSynRetrans", 0),
        "nstat": r["nstat"],
        "client_cpu_ms_req": client / 1e6 / req if req else None,
        "noise": {
            "loadavg_before": b["loadavg"], "loadavg_after": a["loadavg"],
            "host_busy_cpus": busy / wall / 1e9 if wall else None,
            "host_cpus": total / wall / 1e9 if wall else None,
            "others_cpus": sum(others.values()) / wall / 1e9 if wall else None,
            "others_top": [[c, ns / wall / 1e9] for c, ns in top],
            "idle_vm_cpus": (a["idle_vm_ns"] - b["idle_vm_ns"]) / wall / 1e9 if wall else None,
        },
    }
    if path.vm.variant == "card" and "card_stats" in a and "card_stats" in b:
        out["card_stats_delta"] = {
            k: a["card_stats"][k] - b["card_stats"].get(k, 0)
            for k, v in a["card_stats"].items()
            if isinstance(v, (int, float)) and not isinstance(v, bool)}
    return out


# ------------------------------------------------------------ summary ---------

METRICS = [
    ("guest_vcpu_ms_req", "guest vCPU ms/req", 2),
    ("qemu_ms_req", "QEMU process ms/req", 2),
    ("qemu_main_ms_req", "QEMU main loop ms/req", 2),
    ("card_fw_ms_req", "card firmware ms/req", 2),
    ("host_nginx_ms_req", "host nginx ms/req", 2),
    ("server_accepts", "server accepts", 0),
    ("server_peak_active", "server peak active", 0),
    ("server_active_before", "active before", 0),
    ("req_s", "req/s", 0),
    ("p50_ms", "p50 ms", 1),
    ("p99_ms", "p99 ms", 1),
    ("client_errors", "client errors", 0),
    ("retrans", "client-side retrans", 0),
]


def metric(run, key):
    if key in ("p50_ms", "p99_ms"):
        lat = run["latency"]
        k = {"slow": "slow", "fast": "fast", "ka1": "ka1"}[run["load"]]
        return lat.get(k, {}).get(key)
    return run.get(key)


def mmm(vals):
    vals = [v for v in vals if v is not None]
    if not vals:
        return None
    return (min(vals), statistics.median(vals), max(vals))


def fmt(t, nd):
    if t is None:
        return "–"
    lo, med, hi = t

    def f(x):
        return f"{x:,.{nd}f}"
    if f(lo) == f(hi):
        return f(med)
    return f"{f(med)} ({f(lo)}–{f(hi)})"


def ratio(a, b):
    if a is None or b is None or not b[1]:
        return "–"
    return f"{a[1] / b[1]:.2f}"


def load_label(load, n):
    return {"slow": f"{n} slow", "fast": f"{n} fast keep-alive",
            "ka1": "1 keep-alive (latency)"}[load]


def summarise(runs, meta):
    loads = []
    for r in runs:
        k = (r["load"], r["clients"])
        if k not in loads:
            loads.append(k)
    paths = [p for p in ("virtio", "nginx", "card") if any(r["path"] == p for r in runs)]
    agg = {}
    for load in loads:
        for p in paths:
            rs = [r for r in runs if (r["load"], r["clients"]) == load and r["path"] == p]
            agg[(load, p)] = {key: mmm([metric(r, key) for r in rs]) for key, _, _ in METRICS}
            agg[(load, p)]["reps"] = len(rs)
    lines = []
    lines.append(f"# serve bench {meta['started']} ({'quick' if meta['quick'] else 'full'})\n")
    lines.append(f"Commit {meta['commit']}; accelerator {meta['accel']}; 1 vCPU, {meta['mem']} guest; "
                 f"D = {meta['duration']} s per run; {meta['reps']} repetition(s); "
                 f"host nginx: 1 worker, proxy_buffering on, upstream keepalive "
                 f"{meta.get('nginx_keepalive', '?')}; "
                 f"slow = new connection, {len(slow_request(GUEST_IP))}-byte GET {SLOW_PATH} in 8 pieces "
                 "over 2 s, response read at 4 KB/s; fast = keep-alive, back to back. "
                 "Cells: median (min–max) over repetitions.\n")
    lines.append("## Ratios (medians)\n")
    lines.append("| load | guest vCPU ms/req: card / virtio / nginx | card/virtio | card/nginx "
                 "| QEMU ms/req: card / virtio / nginx | card/virtio | card/nginx "
                 "| card+fw? note | server conns (accepts): card / virtio / nginx |")
    lines[-1] = ("| load | guest vCPU ms/req card / virtio / nginx | card÷virtio | card÷nginx "
                 "| QEMU process ms/req card / virtio / nginx | card÷virtio "
                 "| card QEMU ÷ (nginx-path QEMU + host nginx) | server accepts card / virtio / nginx |")
    lines.append("|---|---|---|---|---|---|---|---|")
    for load in loads:
        c, v, n = (agg.get((load, p), {}) for p in ("card", "virtio", "nginx"))

        def med(a, key, nd=2):
            t = a.get(key)
            return "–" if t is None else f"{t[1]:,.{nd}f}"
        nq = n.get("qemu_ms_req")
        nh = n.get("host_nginx_ms_req")
        nsum = (None if nq is None or nh is None else (0, nq[1] + nh[1], 0))
        lines.append(
            f"| {load_label(*load)} | {med(c, 'guest_vcpu_ms_req')} / {med(v, 'guest_vcpu_ms_req')} / "
            f"{med(n, 'guest_vcpu_ms_req')} | {ratio(c.get('guest_vcpu_ms_req'), v.get('guest_vcpu_ms_req'))} "
            f"| {ratio(c.get('guest_vcpu_ms_req'), n.get('guest_vcpu_ms_req'))} "
            f"| {med(c, 'qemu_ms_req')} / {med(v, 'qemu_ms_req')} / {med(n, 'qemu_ms_req')} "
            f"| {ratio(c.get('qemu_ms_req'), v.get('qemu_ms_req'))} "
            f"| {ratio(c.get('qemu_ms_req'), nsum)} "
            f"| {med(c, 'server_accepts', 0)} / {med(v, 'server_accepts', 0)} / "
            f"{med(n, 'server_accepts', 0)} |")
    lines.append("")
    lines.append("## All figures\n")
    lines.append("| load | path | " + " | ".join(h for _, h, _ in METRICS) + " |")
    lines.append("|---|---|" + "---|" * len(METRICS))
    for load in loads:
        for p in paths:
            a = agg[(load, p)]
            lines.append(f"| {load_label(*load)} | {p} | " +
                         " | ".join(fmt(a[key], nd) for key, _, nd in METRICS) + " |")
    lines.append("")
    # Noise.
    busy = [r["noise"]["host_busy_cpus"] for r in runs if r["noise"]["host_busy_cpus"] is not None]
    oth = [r["noise"]["others_cpus"] for r in runs if r["noise"]["others_cpus"] is not None]
    idle = [r["noise"]["idle_vm_cpus"] for r in runs if r["noise"]["idle_vm_cpus"] is not None]
    la = [r["noise"]["loadavg_before"][0] for r in runs] + [r["noise"]["loadavg_after"][0] for r in runs]
    tops = {}
    for r in runs:
        for c, x in r["noise"]["others_top"]:
            tops.setdefault(c, []).append(x)
    topl = sorted(((c, statistics.median(v) * len(v) / len(runs)) for c, v in tops.items()),
                  key=lambda kv: -kv[1])[:4]
    ccpu = [r["client_cpu_ms_req"] for r in runs if r["client_cpu_ms_req"]]
    if meta.get("idle_ms_per_s"):
        lines.append("## Idle cost (no load, 5 s), ms of CPU per second\n")
        lines.append("| VM | guest vCPU | QEMU process | QEMU main loop | card firmware |")
        lines.append("|---|---|---|---|---|")
        for k, v in meta["idle_ms_per_s"].items():
            lines.append(f"| {k} | " + " | ".join(
                f"{v[key]:.1f}" if key in v else "–"
                for key in ("vcpu", "qemu_ns", "main", "card_cpu_ns")) + " |")
        lines.append("\nEvery per-request figure includes this floor (CPU over the run ÷ "
                     "requests); at low request rates it dominates.\n")
    lines.append("## Noise\n")
    lines.append(
        f"Machine: {meta['cpus']} CPUs, shared. Load average (1 min) during the runs "
        f"{min(la):.2f}–{max(la):.2f}. Host CPU busy during the runs: "
        f"{min(busy):.2f}–{max(busy):.2f} of {meta['cpus']} CPUs; other processes (not this "
        f"bench's QEMUs, host nginx or load generator) used {min(oth):.2f}–{max(oth):.2f} CPUs, "
        f"mostly: "
        + ", ".join(f"{c} {x:.2f}" for c, x in topl)
        + f". The other, idle VM used {min(idle):.3f}–{max(idle):.3f} CPUs. "
        f"The load generator itself used {min(ccpu):.2f}–{max(ccpu):.2f} ms of CPU per request. "
        "CPU times are per thread (schedstat) or per process (/proc stat, 10 ms ticks), so "
        "they do not include time stolen by others; the wall-clock figures (req/s, latency) do.\n")
    return "\n".join(lines)


# ------------------------------------------------------------ plots -----------

def plot(results_json):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        alt = "/usr/bin/python3"
        if os.path.exists(alt) and os.path.realpath(alt) != os.path.realpath(sys.executable):
            r = subprocess.run([alt, str(Path(__file__).resolve()), "plot", str(results_json)])
            return r.returncode == 0
        say("matplotlib is not available: no plots (apt-get install python3-matplotlib)")
        return False
    data = json.loads(Path(results_json).read_text())
    runs = [r for r in data["runs"] if r["load"] == "slow"]
    if not runs:
        return False
    stem = Path(results_json).with_suffix("")
    colours = {"virtio": "tab:blue", "nginx": "tab:orange", "card": "tab:green"}
    for key, ylabel, name in (
            ("guest_vcpu_ms_req", "guest vCPU ms per request", "guest-cpu"),
            ("server_accepts", "connections the guest's nginx accepted", "server-conns"),
            ("server_peak_active", "guest nginx peak active connections", "server-active")):
        fig, ax = plt.subplots(figsize=(6, 4))
        for p in ("virtio", "nginx", "card"):
            rs = [r for r in runs if r["path"] == p and r.get(key) is not None]
            if not rs:
                continue
            xs = sorted({r["clients"] for r in rs})
            med = [statistics.median(r[key] for r in rs if r["clients"] == x) for x in xs]
            lo = [min(r[key] for r in rs if r["clients"] == x) for x in xs]
            hi = [max(r[key] for r in rs if r["clients"] == x) for x in xs]
            ax.errorbar(xs, med, yerr=[[m - l for m, l in zip(med, lo)],
                                       [h - m for m, h in zip(med, hi)]],
                        marker="o", capsize=3, label=p, color=colours[p])
        ax.set_xscale("log")
        ax.set_ylim(bottom=0)
        ax.set_xlabel("slow clients")
        ax.set_ylabel(ylabel)
        ax.set_title(f"{ylabel} ({data['meta']['started']})", fontsize=9)
        ax.grid(True, alpha=0.3)
        ax.legend()
        fig.tight_layout()
        out = f"{stem}-{name}.png"
        fig.savefig(out, dpi=100)
        plt.close(fig)
        print(f"serve-bench: wrote {out}")
    return True


# ------------------------------------------------------------ main ------------

def main(argv):
    import argparse
    ap = argparse.ArgumentParser(description="make bench: virtio / host nginx / card")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--reps", type=int)
    ap.add_argument("--duration", type=float)
    ap.add_argument("--loads", help="e.g. slow:50,slow:200,fast:50,ka1:1")
    ap.add_argument("--paths", default="virtio,nginx,card")
    ap.add_argument("--out", default=str(HERE / "results"))
    ap.add_argument("--nginx-keepalive", type=int, default=1024,
                    help="the host nginx's upstream keepalive (default 1024)")
    ap.add_argument("--with-10k", action="store_true", help="add 10,000 slow clients (full)")
    args = ap.parse_args(argv)
    if args.quick:
        loads = "slow:50,fast:50"
        reps, dur = 1, 15.0
    else:
        loads = "slow:50,slow:200,slow:1000,fast:50,ka1:1"
        if args.with_10k:
            loads += ",slow:10000"
        reps, dur = 3, 30.0
    loads = [(k, int(n)) for k, n in (x.split(":") for x in (args.loads or loads).split(","))]
    reps = args.reps or reps
    dur = args.duration or dur
    paths = args.paths.split(",")
    if os.geteuid() != 0:
        sys.exit("serve-bench: needs root (network namespaces, TAP devices)")

    import test_vm
    from pctest import RunDir                  # noqa: F401
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    started = time.strftime("%Y%m%d-%H%M%S")
    work = Path(f"/tmp/serve-bench-{os.getpid()}")
    work.mkdir(parents=True, exist_ok=True)
    commit = subprocess.run(["git", "-C", str(TOP), "describe", "--always", "--dirty"],
                            capture_output=True, text=True).stdout.strip()
    extra = ["-name", "pcbench,debug-threads=on"]
    vms = {}
    failure = None
    idle = {}
    accel = "?"
    nginx = None
    stopping = []

    def on_term(signum, frame):
        raise SystemExit(f"serve-bench: killed by signal {signum}")
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGHUP, on_term)
    t_start = time.monotonic()
    runs = []
    try:
        need = {"virtio"} if {"virtio", "nginx"} & set(paths) else set()
        if "card" in paths:
            need.add("card")
        for variant in sorted(need, reverse=True):      # virtio, then card
            d = work / variant
            d.mkdir(exist_ok=True)
            vm = test_vm.VM(d, variant, tap=True, extra=extra)
            say(f"booting the {variant} guest on a TAP (state {d})")
            vm.start()
            vms[variant] = vm
            stopping.append(vm)
            say(f"{variant}: READY after {vm.boot_time:.1f} s; QEMU pid {vm.qemu_pid}, "
                f"namespace {vm.netns}")
        for vm in vms.values():
            # The clients' side: many short connections from one address.  A
            # wide ephemeral port range and TIME_WAIT reuse for outgoing
            # connections (namespaced sysctls; only this namespace's).
            for k, v in NS_SYSCTLS.items():
                subprocess.run(["ip", "netns", "exec", vm.netns, "sysctl", "-qw", f"{k}={v}"],
                               timeout=10, check=False)
        if "nginx" in paths:
            nginx = HostNginx(work / "host-nginx", vms["virtio"].netns,
                              args.nginx_keepalive).start()
            say(f"host nginx: master pid {nginx.proc.pid} in {vms['virtio'].netns}, "
                f"{NS_IP}:{PROXY_PORT} -> {GUEST_IP}:80")
        objs = {}
        if "virtio" in paths:
            objs["virtio"] = Path_("virtio", vms["virtio"], GUEST_IP, 80)
        if "nginx" in paths:
            objs["nginx"] = Path_("nginx", vms["virtio"], NS_IP, PROXY_PORT, nginx)
        if "card" in paths:
            objs["card"] = Path_("card", vms["card"], GUEST_IP, 80)
        try:
            accel = "kvm" if "-accel kvm" in (vms[next(iter(vms))].state /
                                              "qemu-cmdline").read_text() else "tcg"
        except OSError:
            pass
        # Warm-up: a few requests on every path (nginx's first worker pages,
        # the card's pool dialling).
        for p in objs.values():
            run_load(p, "fast", 2, 2.0, None)
        if nginx:
            nginx.reload()
        # What each VM costs with no load: the floor under every per-request
        # figure (a TCG guest's timer ticks, QEMU's main loop, the card's poll).
        idle = {}
        for k, vm in vms.items():
            p = objs.get(k) or objs.get("virtio")
            b = snapshot(p, None)
            time.sleep(5.0)
            a = snapshot(p, None)
            w = a["mono"] - b["mono"]
            idle[k] = {key: (a[key] - b[key]) / 1e6 / w
                       for key in ("vcpu", "qemu_ns", "main", "card_cpu_ns")
                       if a.get(key) is not None and b.get(key) is not None}
            say(f"idle {k} VM, ms of CPU per second: " +
                ", ".join(f"{key} {v:.1f}" for key, v in idle[k].items()))
        for rep in range(reps):
            for li, (kind, n) in enumerate(loads):
                order = paths[(rep + li) % len(paths):] + paths[:(rep + li) % len(paths)]
                for pn in order:
                    p = objs[pn]
                    other = [v for k, v in vms.items() if v is not p.vm]
                    r = run_load(p, kind, n, dur, other[0] if other else None)
                    r["rep"] = rep
                    runs.append(r)
                    say(f"rep {rep + 1}/{reps} {load_label(kind, n)} {pn}: "
                        f"{r['requests']} req, {r['req_s']:.0f} req/s, vCPU "
                        f"{(r['guest_vcpu_ms_req'] or 0):.2f} ms/req, QEMU "
                        f"{(r['qemu_ms_req'] or 0):.2f} ms/req, accepts {r['server_accepts']}, "
                        f"peak {r['server_peak_active']}, errors {r['client_errors']}, "
                        f"retrans {r['retrans']}")
                    if p.nginx and not p.nginx.reload():
                        say("host nginx: the old worker did not exit in 15 s")
                    time.sleep(1.0)     # let closing connections settle
    except BaseException as e:                  # noqa: BLE001 (SIGTERM, Ctrl-C too)
        # Keep what was measured: write the partial results, then fail.
        failure = f"{type(e).__name__}: {e}"
        say("FAILED: " + failure)
    finally:
        if nginx:
            nginx.stop()
        for vm in reversed(stopping):
            vm.stop(timeout=20)
    meta = {"started": started, "quick": args.quick, "commit": commit, "accel": accel,
            "mem": "512M", "duration": dur, "reps": reps, "loads": loads, "paths": paths,
            "nginx_keepalive": args.nginx_keepalive, "namespace_sysctls": NS_SYSCTLS,
            "cpus": os.cpu_count(), "idle_ms_per_s": idle, "failure": failure, "wall_s": time.monotonic() - t_start,
            "boot_s": {k: v.boot_time for k, v in vms.items()},
            "host_nginx": HOST_NGINX_CONF.format(d="DIR", guest=GUEST_IP, ns=NS_IP,
                                                 port=PROXY_PORT,
                                                 keepalive=args.nginx_keepalive)}
    stem = out / f"serve-{started}{'-quick' if args.quick else ''}"
    Path(f"{stem}.json").write_text(json.dumps({"meta": meta, "runs": runs}, indent=1))
    md = summarise(runs, meta) if runs else "# serve bench: no runs\n"
    if failure:
        md += f"\n**The bench failed: {failure}** (the figures above are partial).\n"
    md += f"\nWall time of the bench: {meta['wall_s']:.0f} s.\n"
    Path(f"{stem}.md").write_text(md)
    print(md)
    say(f"wrote {stem}.json, {stem}.md")
    if runs:
        plot(f"{stem}.json")
    return 1 if failure else 0


if __name__ == "__main__":
    import faulthandler
    faulthandler.register(signal.SIGUSR1)
    if len(sys.argv) > 1 and sys.argv[1] == "client":
        client_entry(sys.argv[2])
    elif len(sys.argv) > 1 and sys.argv[1] == "plot":
        sys.exit(0 if plot(sys.argv[2]) else 1)
    else:
        sys.exit(main(sys.argv[1:]))
