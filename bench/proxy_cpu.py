#!/usr/bin/env python3
"""CPU per 1,000 proxied requests: the card (proxycard-sim) against nginx.

One origin nginx (1 worker) serves a 1 KiB and a 64 KiB static file.  In front
of it, side by side and for the whole run:

  anchor  Debian's nginx, 1 worker, a buffering reverse proxy (buffering is
          nginx's default) with `upstream { keepalive 8; }`,
          `proxy_http_version 1.1` and `proxy_set_header Connection ""`;
  card    build/proxycard-sim with `listen 80 http ORIGIN` and `pool 8`,
          reached through `--forward PORT:80`.

The same wrk run goes against each of them, for every file size and client
count, REPS times, interleaved (rep 1: anchor then card, rep 2: card then
anchor, ...).  Per run:

  card    delta of harness.card_cpu_ns (thread CPU time inside the firmware's
          entry points only; libslirp, the emulated network on both sides of
          the card, is counted apart as harness.slirp_cpu_ns and reported
          separately, never against the card);
  anchor  delta of utime+stime of the nginx worker process (/proc/PID/stat,
          clock ticks of os.sysconf('SC_CLK_TCK')).

Both are divided by the requests wrk completed, cross-checked against the
card's firmware.proxy.requests delta and the anchor's stub_status request
count (a mismatch beyond the requests in flight at the end is reported).

This file also holds the harness the idle-memory benchmark (idle_memory.py)
shares: temporary directory, free ports, nginx and proxycard-sim start/stop
by PID with bounded waits, /proc readers, the card's statistics.

Python 3.11 standard library only.  Run through bench/run.sh, or directly:
    bench/proxy_cpu.py [--duration 10] [--reps 3] [--conns 50,200] [--json F]
"""

import argparse
import json
import os
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_SIM = os.path.join(ROOT, "build", "proxycard-sim")
CLK_TCK = os.sysconf("SC_CLK_TCK")
FILES = {"1k.bin": 1024, "64k.bin": 65536}
POOL = 8                        # the card's pool = the anchor's keepalive


class BenchError(Exception):
    """A benchmark that cannot go on: the message says why."""


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def wait_for(cond, timeout, what, interval=0.02):
    """Poll cond() until it returns a true value; BenchError after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise BenchError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


def raise_nofile():
    """Soft RLIMIT_NOFILE up to the hard limit (children inherit it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)


def sigterm_as_interrupt():
    """SIGTERM ends us like ^C does, so that every `finally` cleans up."""
    def handler(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")
    signal.signal(signal.SIGTERM, handler)


# ---- /proc ------------------------------------------------------------------

def proc_stat_fields(pid):
    """/proc/PID/stat fields after the command name: [0] is field 3 (state)."""
    with open(f"/proc/{pid}/stat") as f:
        text = f.read()
    return text[text.rindex(")") + 2:].split()


def proc_cpu_ticks(pid):
    """utime + stime of one process, in clock ticks."""
    fields = proc_stat_fields(pid)
    return int(fields[11]) + int(fields[12])     # fields 14 and 15


def proc_rss_bytes(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise BenchError(f"no VmRSS for pid {pid}")


def proc_children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(x) for x in f.read().split()]
    except FileNotFoundError:
        return []


def proc_nofile_limit(pid):
    """The soft 'Max open files' of a running process (None: unlimited)."""
    with open(f"/proc/{pid}/limits") as f:
        for line in f:
            if line.startswith("Max open files"):
                soft = line.split()[3]
                return None if soft == "unlimited" else int(soft)
    raise BenchError(f"no 'Max open files' in /proc/{pid}/limits")


def tail(path, lines=15):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError:
        return ""


# ---- the environment: temp dir, ports, processes ----------------------------

class Env:
    """Temporary directory and every process started; all undone on exit."""

    def __init__(self, keep=False):
        self.keep = keep
        self.dir = None
        self.procs = []             # Proc, in start order
        self.ports = set()

    def __enter__(self):
        self.dir = tempfile.mkdtemp(prefix="proxycard-bench-")
        return self

    def __exit__(self, *exc):
        for p in reversed(self.procs):
            p.stop()
        if self.dir and not self.keep:
            shutil.rmtree(self.dir, ignore_errors=True)
        elif self.dir:
            log(f"kept {self.dir}")
        return False

    def path(self, *parts):
        return os.path.join(self.dir, *parts)

    def free_port(self):
        """A TCP port on 127.0.0.1 that nobody listens on just now."""
        for _ in range(100):
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                s.bind(("127.0.0.1", 0))
                port = s.getsockname()[1]
            if port not in self.ports:
                self.ports.add(port)
                return port
        raise BenchError("no free port")

    def spawn(self, name, argv):
        out = open(self.path(f"{name}.stdout"), "wb")
        err = open(self.path(f"{name}.stderr"), "wb")
        try:
            popen = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                     stdout=out, stderr=err, cwd=self.dir)
        finally:
            out.close()
            err.close()
        proc = Proc(name, popen, self.path(f"{name}.stderr"))
        self.procs.append(proc)
        return proc


class Proc:
    """A child we started; stopped by its own PID, with bounded waits."""

    def __init__(self, name, popen, stderr_path):
        self.name = name
        self.popen = popen
        self.pid = popen.pid
        self.stderr_path = stderr_path
        self.extra_pids = []        # (pid, start time): nginx's worker

    def alive(self):
        return self.popen.poll() is None

    def stop(self, sig=signal.SIGTERM, timeout=10.0):
        if self.alive():
            try:
                os.kill(self.pid, sig)
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                log(f"{self.name} (pid {self.pid}) did not stop in "
                    f"{timeout:g} s: SIGKILL")
                os.kill(self.pid, signal.SIGKILL)
                try:
                    self.popen.wait(5)
                except subprocess.TimeoutExpired:
                    log(f"{self.name} (pid {self.pid}) survives SIGKILL")
            except ProcessLookupError:
                pass
        for pid, started in self.extra_pids:
            # A worker outliving its master (normally gone with it): killed
            # only while it is still the very process we saw (same start
            # time), never a stranger that reused the PID.
            deadline = time.monotonic() + 3
            while True:
                try:
                    fields = proc_stat_fields(pid)
                except (FileNotFoundError, ProcessLookupError):
                    break
                if fields[19] != started or fields[0] in "ZX":
                    break
                if time.monotonic() >= deadline:
                    log(f"{self.name}: pid {pid} outlived its master: "
                        "SIGKILL")
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                    break
                time.sleep(0.05)

    def check(self):
        if not self.alive():
            raise BenchError(f"{self.name} exited with status "
                             f"{self.popen.returncode}:\n"
                             f"{tail(self.stderr_path)}")


def port_listens(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


# ---- nginx --------------------------------------------------------------------

def _nginx_common(d, worker_connections, nofile):
    user = "user root;\n" if os.geteuid() == 0 else ""
    rlimit = f"worker_rlimit_nofile {nofile};\n" if nofile else ""
    return f"""{user}worker_processes 1;
{rlimit}pid {d}/nginx.pid;
error_log {d}/logs/error.log warn;
events {{ worker_connections {worker_connections}; }}
"""


def _nginx_temp_paths(d):
    return (f"  client_body_temp_path {d}/client_body_temp;\n"
            f"  proxy_temp_path {d}/proxy_temp;\n"
            f"  fastcgi_temp_path {d}/fastcgi_temp;\n"
            f"  uwsgi_temp_path {d}/uwsgi_temp;\n"
            f"  scgi_temp_path {d}/scgi_temp;\n")


def origin_conf(d, port, status_port):
    """The server both proxies forward to: static files, 1 worker; its
    stub_status counts the connections and requests the proxies make."""
    return _nginx_common(d, 4096, 0) + f"""http {{
  default_type application/octet-stream;
  access_log off;
{_nginx_temp_paths(d)}  keepalive_requests 100000000;
  keepalive_timeout 10m;
  server {{
    listen 127.0.0.1:{port} backlog=4096;
    root {d}/html;
  }}
  server {{
    listen 127.0.0.1:{status_port};
    location = /status {{ stub_status; }}
  }}
}}
"""


def anchor_conf(d, port, status_port, origin_port, worker_connections=4096,
                nofile=0, keepalive=POOL):
    """The anchor: nginx as a buffering reverse proxy with upstream
    keep-alive.  access_log off (counting is stub_status's, on its own port)
    so that the anchor pays no log write per request, as the card does not.
    Long client timeouts so that idle clients stay (idle_memory.py)."""
    return _nginx_common(d, worker_connections, nofile) + f"""http {{
  default_type application/octet-stream;
  access_log off;
{_nginx_temp_paths(d)}  keepalive_requests 100000000;
  keepalive_timeout 10m;
  client_header_timeout 10m;
  upstream origin {{
    server 127.0.0.1:{origin_port};
    keepalive {keepalive};
  }}
  server {{
    listen 127.0.0.1:{port} backlog=4096;
    location / {{
      proxy_pass http://origin;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering on;
    }}
  }}
  server {{
    listen 127.0.0.1:{status_port};
    location = /status {{ stub_status; }}
  }}
}}
"""


class Nginx:
    def __init__(self, env, name, conf_fn, **kw):
        self.env = env
        self.name = name
        self.dir = env.path(name)
        os.makedirs(os.path.join(self.dir, "logs"))
        self.port = env.free_port()
        self.status_port = None
        self.conf_fn = conf_fn
        self.kw = kw
        self.proc = None
        self.worker = None
        self.status_calls = 0

    def start(self):
        conf = os.path.join(self.dir, "nginx.conf")
        with open(conf, "w") as f:
            f.write(self.conf_fn(self.dir, self.port, **self.kw))
        self.proc = self.env.spawn(self.name, [
            "nginx", "-p", self.dir + "/", "-c", conf,
            "-e", os.path.join(self.dir, "logs", "error.log"),
            "-g", "daemon off;"])

        def up():
            self.proc.check()
            kids = proc_children(self.proc.pid)
            return len(kids) == 1 and port_listens(self.port) and kids[0]
        try:
            self.worker = wait_for(up, 10, f"nginx {self.name} to listen")
        except BenchError as e:
            raise BenchError(f"{e}\n{tail(os.path.join(self.dir, 'logs', 'error.log'))}")
        self.proc.extra_pids.append((self.worker,
                                     proc_stat_fields(self.worker)[19]))
        return self

    def cpu_ticks(self):
        return proc_cpu_ticks(self.worker)

    def rss(self):
        return proc_rss_bytes(self.worker)

    def stub_status(self):
        """{'active', 'accepts', 'handled', 'requests', 'reading', 'writing',
        'waiting'} from stub_status (its own request and connection
        included: self.status_calls counts them)."""
        self.status_calls += 1
        with socket.create_connection(("127.0.0.1", self.status_port),
                                      timeout=5) as s:
            s.sendall(b"GET /status HTTP/1.0\r\nHost: bench\r\n\r\n")
            data = b""
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
        text = data.decode("ascii", "replace")
        m = re.search(r"Active connections:\s*(\d+).*?\n\s*(\d+)\s+(\d+)\s+(\d+)"
                      r".*?Reading:\s*(\d+)\s+Writing:\s*(\d+)\s+Waiting:\s*(\d+)",
                      text, re.S)
        if not m:
            raise BenchError(f"cannot parse stub_status of {self.name}: {text!r}")
        keys = ("active", "accepts", "handled", "requests", "reading",
                "writing", "waiting")
        return dict(zip(keys, map(int, m.groups())))


def start_origin(env):
    origin = Nginx(env, "origin", origin_conf)
    origin.status_port = env.free_port()
    origin.kw["status_port"] = origin.status_port
    html = os.path.join(origin.dir, "html")
    os.makedirs(html)
    for name, size in FILES.items():
        with open(os.path.join(html, name), "wb") as f:
            f.write(os.urandom(size))
    return origin.start()


def start_anchor(env, origin, worker_connections=4096, nofile=0,
                 name="anchor", keepalive=POOL):
    anchor = Nginx(env, name, anchor_conf, origin_port=origin.port,
                   keepalive=keepalive,
                   worker_connections=worker_connections, nofile=nofile)
    anchor.status_port = env.free_port()
    anchor.kw["status_port"] = anchor.status_port
    return anchor.start()


# ---- the card ---------------------------------------------------------------------

class Card:
    """build/proxycard-sim with an HTTP listener in front of the origin."""

    def __init__(self, env, sim, origin_port, mem_size="256M",
                 max_clients=20000, extra_config="", name="card"):
        self.env = env
        self.sim = sim
        self.name = name
        self.port = env.free_port()
        self.config = (f"listen 80 http {origin_port}\n"
                       f"pool {POOL}\n"
                       f"max-clients {max_clients}\n"
                       "timeout idle 10m\n"
                       "timeout request 10m\n"
                       "timeout pool-idle 5m\n" + extra_config)
        self.mem_size = mem_size
        self.stats_path = env.path(f"{name}-stats.json")
        self.ready_path = env.path(f"{name}-ready")
        self.proc = None

    def start(self):
        conf = self.env.path(f"{self.name}.conf")
        with open(conf, "w") as f:
            f.write(self.config)
        self.proc = self.env.spawn(self.name, [
            self.sim, "--config", conf, "--forward", f"{self.port}:80",
            "--mem-size", self.mem_size, "--stats", self.stats_path,
            "--ready-file", self.ready_path])

        def ready():
            self.proc.check()
            return os.path.exists(self.ready_path)
        wait_for(ready, 10, "proxycard-sim to be ready")
        # The pool is opened at boot; measure only once it is all up.
        wait_for(lambda: self.stats()["firmware"]["proxy"]["srv_idle"] >= POOL,
                 10, f"the card's pool of {POOL} server connections",
                 interval=0.1)
        return self

    def stats(self, timeout=10.0):
        """A fresh statistics snapshot (SIGUSR1; the sim writes the file
        through a rename, so once it exists it is whole)."""
        try:
            os.unlink(self.stats_path)
        except FileNotFoundError:
            pass
        self.proc.check()
        os.kill(self.proc.pid, signal.SIGUSR1)

        def written():
            self.proc.check()
            return os.path.exists(self.stats_path)
        wait_for(written, timeout, "the card's statistics", interval=0.002)
        with open(self.stats_path) as f:
            st = json.load(f)
        if st["firmware"]["fault"]:
            raise BenchError(f"firmware fault: {st['firmware']['fault']}")
        return st

    def rss(self):
        return proc_rss_bytes(self.proc.pid)


def find_sim(path):
    if not os.access(path, os.X_OK):
        raise BenchError(f"{path} missing: build it with "
                         f"`cd {ROOT} && make fw sim`")
    return path


# ---- wrk ----------------------------------------------------------------------------

WRK_LUA = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "WRKJSON {\\"requests\\": %d, \\"bytes\\": %d, \\"duration_us\\": %d, "
    .. "\\"connect\\": %d, \\"read\\": %d, \\"write\\": %d, \\"status\\": %d, "
    .. "\\"timeout\\": %d, \\"lat_p50_us\\": %d, \\"lat_p99_us\\": %d}\\n",
    summary.requests, summary.bytes, summary.duration, e.connect, e.read,
    e.write, e.status, e.timeout, latency:percentile(50),
    latency:percentile(99)))
end
"""


def run_wrk(env, url, threads, conns, duration):
    script = env.path("report.lua")
    if not os.path.exists(script):
        with open(script, "w") as f:
            f.write(WRK_LUA)
    argv = ["wrk", f"-t{threads}", f"-c{conns}", f"-d{duration}s",
            "--timeout", "5s", "-s", script, url]
    try:
        res = subprocess.run(argv, capture_output=True, text=True,
                             timeout=duration + 30)
    except subprocess.TimeoutExpired:
        raise BenchError(f"wrk did not finish: {' '.join(argv)}")
    m = re.search(r"^WRKJSON (\{.*\})$", res.stdout, re.M)
    if res.returncode != 0 or not m:
        raise BenchError(f"wrk failed ({res.returncode}): {res.stdout}"
                         f"{res.stderr}")
    out = json.loads(m.group(1))
    out["errors"] = sum(out[k] for k in
                        ("connect", "read", "write", "status", "timeout"))
    return out


# ---- one measured run --------------------------------------------------------------

def measure_anchor(env, anchor, origin, fname, threads, conns, duration,
                   label="nginx"):
    url = f"http://127.0.0.1:{anchor.port}/{fname}"
    st0, os0 = anchor.stub_status(), origin.stub_status()
    calls0 = anchor.status_calls
    t0, o0 = anchor.cpu_ticks(), origin.cpu_ticks()
    w = run_wrk(env, url, threads, conns, duration)
    # wrk closes its connections as it exits: let the anchor finish them.
    wait_for(lambda: anchor.stub_status()["active"] <= 1, 10,
             "the anchor's clients to close")
    t1, o1 = anchor.cpu_ticks(), origin.cpu_ticks()
    st1, os1 = anchor.stub_status(), origin.stub_status()
    # Not proxied: the status requests after st0 (st1's included).
    counted = (st1["requests"] - st0["requests"]
               - (anchor.status_calls - calls0))
    return {
        "proxy": label, "wrk": w, "counted": counted,
        "cpu_ns": (t1 - t0) * 1_000_000_000 // CLK_TCK,
        "origin_cpu_ns": (o1 - o0) * 1_000_000_000 // CLK_TCK,
        # Connections to the origin: `keepalive 8` caches 8 idle ones, it
        # does not cap them; beyond 8 busy, nginx opens more and closes
        # them when idle again.
        "upstream_connects": os1["accepts"] - os0["accepts"] - 1,
        "origin_requests": os1["requests"] - os0["requests"] - 1,
    }


def measure_card(env, card, origin, fname, threads, conns, duration):
    url = f"http://127.0.0.1:{card.port}/{fname}"
    s0, os0 = card.stats(), origin.stub_status()
    o0 = origin.cpu_ticks()
    w = run_wrk(env, url, threads, conns, duration)
    wait_for(lambda: card.stats()["firmware"]["proxy"]["clients_active"] == 0,
             10, "the card's clients to close", interval=0.05)
    o1 = origin.cpu_ticks()
    s1, os1 = card.stats(), origin.stub_status()
    h0, h1 = s0["harness"], s1["harness"]
    p0, p1 = s0["firmware"]["proxy"], s1["firmware"]["proxy"]
    # Firmware entry-point calls in between: one pcfw_input per frame
    # delivered (counted as received or dropped), at least one pcfw_poll per
    # poll round, one pcfw_get_stats per snapshot.
    calls = h1["poll_rounds"] - h0["poll_rounds"] + 1
    for port in s0["firmware"]["ports"]:
        a, b = s0["firmware"]["ports"][port], s1["firmware"]["ports"][port]
        calls += (b["rx_frames"] - a["rx_frames"]
                  + b["rx_dropped"] - a["rx_dropped"])
    return {
        "proxy": "card", "wrk": w, "counted": p1["requests"] - p0["requests"],
        "cpu_ns": h1["card_cpu_ns"] - h0["card_cpu_ns"],
        "slirp_cpu_ns": h1["slirp_cpu_ns"] - h0["slirp_cpu_ns"],
        "process_cpu_ns": h1["process_cpu_ns"] - h0["process_cpu_ns"],
        "fw_calls": calls,
        "origin_cpu_ns": (o1 - o0) * 1_000_000_000 // CLK_TCK,
        "upstream_connects": os1["accepts"] - os0["accepts"] - 1,
        "origin_requests": os1["requests"] - os0["requests"] - 1,
        "errors_5xx": p1["responses"][4] - p0["responses"][4],
        "proxy_errors": p1["errors"] - p0["errors"],
        "mem_failures": (s1["firmware"]["mem"]["failures"]
                         - s0["firmware"]["mem"]["failures"]),
    }


def check_run(r, fsize, conns):
    """Warnings for a run whose counts do not add up."""
    w = r["wrk"]
    warn = []
    if w["requests"] == 0:
        return ["no request completed"]
    if w["errors"]:
        warn.append(f"wrk errors: connect {w['connect']} read {w['read']} "
                    f"write {w['write']} status {w['status']} "
                    f"timeout {w['timeout']}")
    if w["bytes"] / w["requests"] < fsize:
        warn.append(f"{w['bytes'] / w['requests']:.0f} bytes per response, "
                    f"less than the file's {fsize}")
    # The proxy may have taken up to one request per connection that wrk
    # did not see completed when it stopped.
    extra = r["counted"] - w["requests"]
    if not 0 <= extra <= conns:
        warn.append(f"{r['proxy']} counted {r['counted']} requests, wrk "
                    f"{w['requests']} (difference {extra}, expected 0..{conns})")
    # The origin's count may differ from the proxy's by a few requests at
    # the edges of a run (seen: up to 8 with nginx), hence the slack.
    extra = r["origin_requests"] - w["requests"]
    if not 0 <= extra <= conns + 16:
        warn.append(f"the origin served {r['origin_requests']} requests "
                    f"behind {r['proxy']}, wrk completed {w['requests']}")
    for key in ("errors_5xx", "proxy_errors", "mem_failures"):
        if r.get(key):
            warn.append(f"card {key}: {r[key]}")
    return warn


def thread_clock_cost_ns(samples=100000):
    """Estimated cost of one clock_gettime(CLOCK_THREAD_CPUTIME_ID) here.

    proxycard-sim's SIM_CARD_CALL reads the thread CPU clock before and after
    every firmware entry point; what it adds to card_cpu_ns is about one whole
    read per call (a system call, not a vDSO one: about 0.5 us in a VM,
    where the scheduler's run-queue lock is expensive).  Estimated as the
    median of two back-to-back thread-clock reads minus that of two
    back-to-back CLOCK_MONOTONIC reads (vDSO), which takes Python's own call
    overhead out."""
    get = time.clock_gettime_ns

    def median_pair(clk):
        d = []
        for _ in range(samples):
            a = get(clk)
            b = get(clk)
            d.append(b - a)
        return statistics.median(d)
    return max(0.0, median_pair(time.CLOCK_THREAD_CPUTIME_ID)
               - median_pair(time.CLOCK_MONOTONIC))


def per_k(ns, requests):
    """ns over `requests` -> ms per 1,000 requests."""
    return ns / requests * 1000 / 1e6


def _mm(values):
    return {"min": min(values), "median": statistics.median(values),
            "all": values}


def summarize(runs, clock_ns):
    """Per (file, conns): per-1,000 figures and card/nginx ratios."""
    rows = []
    keys = sorted({(r["file"], r["conns"]) for r in runs},
                  key=lambda k: (FILES[k[0]], k[1]))
    for fname, conns in keys:
        sel = [r for r in runs if r["file"] == fname and r["conns"] == conns]
        by = {}
        for r in sel:
            by.setdefault(r["proxy"], {})[r["rep"]] = r
        reps = sorted(set.intersection(*(set(v) for v in by.values())))
        proxies = list(by)

        def figs(proxy, key="cpu_ns"):
            return [per_k(by[proxy][i][key], by[proxy][i]["wrk"]["requests"])
                    for i in reps]

        def rates(proxy):
            return statistics.median(
                by[proxy][i]["wrk"]["requests"]
                / (by[proxy][i]["wrk"]["duration_us"] / 1e6) for i in reps)
        ng, cd = figs("nginx"), figs("card")
        net = [per_k(by["card"][i]["cpu_ns"]
                     - by["card"][i]["fw_calls"] * clock_ns,
                     by["card"][i]["wrk"]["requests"]) for i in reps]
        calls = [by["card"][i]["fw_calls"] / by["card"][i]["wrk"]["requests"]
                 for i in reps]
        ratio = [c / n for c, n in zip(cd, ng)]
        row = {
            "file": fname, "conns": conns, "reps": len(reps),
            "nginx_ms_per_k": _mm(ng),
            "card_ms_per_k": _mm(cd),
            "ratio": _mm(ratio),
            "target_met": statistics.median(ratio) <= 1.0,
            "card_net_ms_per_k": _mm(net),
            "ratio_net": _mm([c / n for c, n in zip(net, ng)]),
            "fw_calls_per_request": statistics.median(calls),
            "slirp_ms_per_k": _mm(figs("card", "slirp_cpu_ns")),
            "sim_process_ms_per_k": _mm(figs("card", "process_cpu_ns")),
            "origin_ms_per_k": {p: statistics.median(figs(p, "origin_cpu_ns"))
                                for p in proxies},
            "upstream_connects_per_k": {
                p: statistics.median(
                    by[p][i]["upstream_connects"] * 1000
                    / by[p][i]["wrk"]["requests"] for i in reps)
                for p in proxies},
            "req_per_s": {p: rates(p) for p in proxies},
            "requests": {p: sum(by[p][i]["wrk"]["requests"] for i in reps)
                         for p in proxies},
        }
        if "nginx-ka" in by:
            ka = figs("nginx-ka")
            row["nginx_ka_ms_per_k"] = _mm(ka)
            row["ratio_ka"] = _mm([c / n for c, n in zip(cd, ka)])
        rows.append(row)
    return rows


def print_table(rows, clock_ns, ka_size, out=sys.stdout):
    def p(*a):
        print(*a, file=out)

    def mm(d, fmt="6.1f"):
        return f"{d['min']:{fmt}} / {d['median']:{fmt}}"
    nreps = max(r["reps"] for r in rows)
    p(f"CPU per 1,000 proxied requests, ms (min / median of {nreps} "
      "repetitions)")
    p(f"{'file':>7} {'-c':>4} | {'nginx worker':>15} | {'card firmware':>15} |"
      f" {'card/nginx':>11} | met |"
      f" {'card net(1)':>15} | {'net/nginx':>11} |"
      f" {'slirp(2)':>8} | {'req/s nginx':>11} {'card':>6}")
    for r in rows:
        p(f"{r['file']:>7} {r['conns']:>4} |"
          f" {mm(r['nginx_ms_per_k'])} | {mm(r['card_ms_per_k'])} |"
          f" {mm(r['ratio'], '4.2f')} |"
          f" {'yes' if r['target_met'] else 'NO ':>3} |"
          f" {mm(r['card_net_ms_per_k'])} | {mm(r['ratio_net'], '4.2f')} |"
          f" {r['slirp_ms_per_k']['median']:8.1f} |"
          f" {r['req_per_s']['nginx']:11.0f} {r['req_per_s']['card']:6.0f}")
    p("  nginx worker = utime+stime of the anchor nginx's worker process;"
      " card firmware = delta of")
    p("  harness.card_cpu_ns; met = median of the per-repetition ratios"
      " card/nginx <= 1.")
    p(f"  (1) card firmware minus the sim's own timing of each entry point:"
      f" {clock_ns:.0f} ns per")
    p("      clock_gettime(CLOCK_THREAD_CPUTIME_ID) x firmware calls"
      " (frames in + poll rounds; per request:")
    p("      " + ", ".join(f"{r['file']} -c{r['conns']} "
                           f"{r['fw_calls_per_request']:.1f}" for r in rows)
      + "); an estimate.")
    p("  (2) harness.slirp_cpu_ns, median: the emulated network on both sides"
      " of the card, not the card.")
    p("")
    p("Side figures, medians per 1,000 requests.  New connections to the"
      " origin: nginx's `keepalive 8`")
    p("caches 8 idle upstream connections but does not cap them, so beyond 8"
      " concurrent requests it")
    p("opens and closes others; the card's pool of 8 queues requests instead."
      f"  nginx-ka: the same anchor")
    p(f"with `keepalive {ka_size}` (no such churn), same runs.")
    has_ka = all("nginx_ka_ms_per_k" in r for r in rows)
    p(f"{'file':>7} {'-c':>4} | {'new origin conns':>26} |"
      f" {'origin worker CPU ms':>26} |"
      + (f" {'nginx-ka CPU ms':>15} | {'card/nginx-ka':>13} |"
         if has_ka else "") + f" {'sim process':>11}")
    p(f"{'':>12} | {'nginx':>8} {'nginx-ka':>8} {'card':>8} |"
      f" {'nginx':>8} {'nginx-ka':>8} {'card':>8} |"
      + (f" {'min / median':>15} | {'min / median':>13} |" if has_ka else "")
      + f" {'CPU ms':>11}")
    nan = float("nan")
    for r in rows:
        u, o = r["upstream_connects_per_k"], r["origin_ms_per_k"]
        line = (f"{r['file']:>7} {r['conns']:>4} |"
                f" {u['nginx']:8.1f} {u.get('nginx-ka', nan):8.1f}"
                f" {u['card']:8.1f} |"
                f" {o['nginx']:8.1f} {o.get('nginx-ka', nan):8.1f}"
                f" {o['card']:8.1f} |")
        if has_ka:
            line += (f" {mm(r['nginx_ka_ms_per_k'])} |"
                     f" {mm(r['ratio_ka'], '4.2f'):>13} |")
        line += f" {r['sim_process_ms_per_k']['median']:11.1f}"
        p(line)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sim", default=DEFAULT_SIM)
    ap.add_argument("--duration", type=int, default=10,
                    help="seconds per wrk run (default 10)")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--conns", default="50,200",
                    help="wrk -c settings, comma-separated (default 50,200)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--files", default="1k.bin,64k.bin")
    ap.add_argument("--no-side-anchor", action="store_true",
                    help="skip nginx-ka, the anchor with a large keepalive")
    ap.add_argument("--json", help="write every run and the summary here")
    ap.add_argument("--keep", action="store_true",
                    help="keep the temporary directory")
    args = ap.parse_args(argv)
    sigterm_as_interrupt()
    sim = find_sim(args.sim)
    if not shutil.which("wrk") or not shutil.which("nginx"):
        raise BenchError("needs wrk and nginx on PATH (bench/run.sh "
                         "installs them)")
    conns_list = [int(x) for x in args.conns.split(",")]
    files = args.files.split(",")
    for f in files:
        if f not in FILES:
            raise BenchError(f"unknown file {f}: one of {', '.join(FILES)}")
    raise_nofile()

    runs = []
    warnings = []
    clock_samples = []
    ka_size = max(1024, max(conns_list))
    with Env(keep=args.keep) as env:
        origin = start_origin(env)
        anchors = {"nginx": start_anchor(env, origin)}
        if not args.no_side_anchor:
            anchors["nginx-ka"] = start_anchor(env, origin, name="anchor-ka",
                                               keepalive=ka_size)
        card = Card(env, sim, origin.port).start()
        log(f"origin :{origin.port} (worker {origin.worker}), anchor "
            f":{anchors['nginx'].port} (worker {anchors['nginx'].worker}), "
            f"card :{card.port} (sim pid {card.proc.pid}); {args.reps} x "
            f"{len(files)} files x {len(conns_list)} settings x "
            f"{len(anchors) + 1} proxies x {args.duration} s")
        # Warm-up, not measured: files in the page cache, pools in use.
        for fname in files:
            for port in [a.port for a in anchors.values()] + [card.port]:
                run_wrk(env, f"http://127.0.0.1:{port}/{fname}", 1, 8, 1)
        proxies = list(anchors) + ["card"]
        for rep in range(1, args.reps + 1):
            for fname in files:
                for conns in conns_list:
                    # A different order in each repetition.
                    k = (rep - 1) % len(proxies)
                    order = proxies[k:] + proxies[:k]
                    for proxy in order:
                        if proxy == "card":
                            clock_samples.append(thread_clock_cost_ns(30000))
                            r = measure_card(env, card, origin, fname,
                                             args.threads, conns,
                                             args.duration)
                        else:
                            r = measure_anchor(env, anchors[proxy], origin,
                                               fname, args.threads, conns,
                                               args.duration, label=proxy)
                        r.update(rep=rep, file=fname, conns=conns)
                        runs.append(r)
                        w = r["wrk"]
                        log(f"rep {rep} {fname:>7} -c{conns:<4} {proxy:>8}: "
                            f"{w['requests']:>7} requests (counted "
                            f"{r['counted']}), "
                            f"{per_k(r['cpu_ns'], max(w['requests'], 1)):7.2f}"
                            f" ms CPU per 1,000")
                        for msg in check_run(r, FILES[fname], conns):
                            msg = f"rep {rep} {fname} -c{conns} {proxy}: {msg}"
                            warnings.append(msg)
                            log("WARNING: " + msg)
        final = card.stats()

    clock_ns = statistics.median(clock_samples)
    rows = summarize(runs, clock_ns)
    print_table(rows, clock_ns, ka_size)
    for msg in warnings:
        print("WARNING: " + msg)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"runs": runs, "summary": rows, "warnings": warnings,
                       "card_final_stats": final,
                       "thread_clock_read_ns": clock_ns,
                       "thread_clock_samples": clock_samples,
                       "settings": vars(args)}, f, indent=1)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as e:
        log(f"proxy_cpu: {e}")
        sys.exit(1)
    except KeyboardInterrupt:
        log("proxy_cpu: interrupted")
        sys.exit(130)
