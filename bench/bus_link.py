#!/usr/bin/env python3
"""Bus link throughput: frames/s and Gbit/s through the proxycard's TX ring,
the ARP round-trip rate through its RX ring, and QEMU's e1000e under the same
drive as the anchor.

The endpoint is this script, speaking QEMU's qtest protocol (the text protocol
of softmmu/qtest.c) over a UNIX socket, the way tests/qtest/proxycard-test.c
drives the rings through libqtest; no guest OS, no vCPU (`-accel qtest`).
Each target is its own QEMU process (q35, -nodefaults, 512 MiB):

  card          -device proxycard (no netdev).  The firmware gets every TX
                frame; frames of EtherType 0x88B5 (local experimental) to
                ff:ff:ff:ff:ff:ff are dropped by lwIP's ethernet_input after
                the Ethernet header (pcfw_ports_input has copied the frame
                into a pbuf chain before that).
  e1000e        -device e1000e without a netdev.  QEMU's NIC processes each
                descriptor (legacy TX descriptors, EOP|IFCS|RS, status write
                back), maps the buffer, parses the headers and hands the
                packet to the net layer, which drops it at once (no peer):
                the frame's bytes are never copied.
  e1000e+slirp  -device e1000e with -netdev user,restrict=on: the same, and
                the frame is delivered to slirp (one flat copy of the frame,
                slirp drops an unknown EtherType).  Also the anchor for the
                ARP round trip: slirp answers ARP for 10.0.2.2.

Method, per target and frame size (64, 128, 512, 1514, 4096, 9014 bytes of
Ethernet frame, no FCS, as the ring carries them): 4096-descriptor TX ring;
every descriptor has its own buffer (9216 bytes apart) holding the frame,
written once at start.  One batch = rewrite the ring's descriptors, status 0
(untimed), then [timer starts] one doorbell write moving the tail by 4095,
poll the head register with readl until it equals the tail [timer stops].
Batches repeat until --duration seconds of timed work; frames/s = frames /
timed seconds, Gbit/s = frames * size * 8 / timed seconds (frame bytes only).
Repetitions are interleaved (rep 1: every size on every target, then rep 2,
...); the median is reported.  Interrupts are masked on both devices.  After
every measurement the device's own counters must show every frame (card:
stats bus-rx-frames + bus-rx-dropped, e1000e: TPT), and the card's ERROR 0;
frames the card's firmware dropped are reported.

The timed interval holds qtest round trips besides the device's work: the
doorbell writel, and the readl polls (the last one after the work is done).
Both are measured (`readl` round trip on an idle register) and reported with
the number of polls per batch.  Polling is back to back by default (--poll
predict: sleep 80% of the shortest recent batch first).  e1000e processes its
TX ring synchronously inside the TDT write (main loop, BQL held), so it needs
one poll; the card's firmware thread processes it asynchronously after the
doorbell, and the polls overlap its work.

Where it can (2 CPUs or more), the script pins the thread doing the device's
work to CPU 1 (card: the firmware thread proxycard-fw; e1000e: QEMU's main
loop, where its TX runs) and itself to the CPU of QEMU's main loop (which
serves qtest), so that polling never competes with the device.  Besides wall
time it records each QEMU thread's CPU time and run-queue wait in the timed
interval (/proc/PID/task/TID/schedstat): CPU time per frame of the worker
thread is the figure least disturbed by other processes.  Other processes'
CPU use during each measurement is measured (/proc/stat less ours); a
measurement they took more than 10% of a CPU from is repeated, up to 3 times
while --retry-budget lasts, and the least disturbed one is kept.

ARP round trip (RX path): 4095 ARP requests (10.76.0.1 asking for 10.76.0.2;
for the anchor, 10.0.2.15 asking slirp for 10.0.2.2) posted with one
doorbell, 4095 RX buffers posted; timed until the RX head has advanced by
4095 (the replies are in the RX buffers; the last one is checked, and the
device's counters must match).  Then one request at a time (doorbell, poll
the RX head): the latency, qtest round trips included.

With --perf S, `perf record --call-graph dwarf` profiles the QEMU process for
S seconds of a few of these runs (PERF_RUNS): CPU share by thread and the
inclusive share of the functions in PERF_SYMS.

Python 3.11 standard library only.  Run through bench/bus_link.sh, or:
    bench/bus_link.py [--qemu build/qemu-system-x86_64] [--reps 3]
                      [--duration 0.5] [--sizes 64,...] [--perf 1]
                      [--json F] [--md F]
"""

import argparse
import base64
import datetime
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REGS_H = os.path.join(ROOT, "hw", "proxycard", "proxycard_regs.h")
SIZES = [64, 128, 512, 1514, 4096, 9014]
RING = 4096                     # descriptors per ring (the card's maximum)
BATCH = RING - 1                # at most SIZE - 1 are handed over at once
STRIDE = 9216                   # bytes between buffers (>= 9014, 64-aligned)
BAR0 = 0xE0000000               # where BAR0 is put (libqos' first MMIO address)
WORKER_CPU, DRIVER_CPU = 1, 0   # the device's worker thread; the rest

# Guest-physical layout (512 MiB of RAM; all below it)
TX_RING = 0x0100_0000
RX_RING = 0x0101_0000
TX_BUF = 0x0110_0000            # RING * STRIDE = 36 MiB
RX_BUF = 0x0400_0000            # RING * STRIDE = 36 MiB
ARP_BUF = 0x0700_0000           # the ARP request (one buffer, every descriptor)

ETH_BCAST = b"\xff" * 6
HOST_MAC = bytes([0x02, 0, 0, 0, 0, 0x01])      # as proxycard-test.c
ETHERTYPE_EXP = 0x88B5          # IEEE local experimental 1


class BenchError(Exception):
    pass


def log(msg):
    print(f"bus_link: {msg}", file=sys.stderr, flush=True)


def regs_h():
    """The constants of proxycard_regs.h (the one source of truth)."""
    consts = {}
    with open(REGS_H) as f:
        for line in f:
            m = re.match(r"#define\s+(PROXYCARD_\w+)\s+(.*?)\s*(/\*.*)?$",
                         line)
            if not m:
                continue
            val = m.group(2)
            s = re.fullmatch(r"\(1u << (\d+)\)", val)
            if s:
                consts[m.group(1)] = 1 << int(s.group(1))
                continue
            try:
                consts[m.group(1)] = int(val.rstrip("u"), 0)
            except ValueError:
                pass
    return consts


R = regs_h()


def die_with_parent():
    """In the child: SIGTERM when this script dies, however it dies."""
    try:
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


# ---- QEMU under qtest ------------------------------------------------------

class Qemu:
    """One QEMU process driven over qtest (and QMP), stopped by its PID."""

    def __init__(self, binary, tmpdir, name, extra):
        self.name = name
        self.dir = tmpdir
        self.driver_cpu = None      # pin(): the CPU the script runs on
        qpath = os.path.join(tmpdir, f"{name}.qtest")
        mpath = os.path.join(tmpdir, f"{name}.qmp")
        self.stderr_path = os.path.join(tmpdir, f"{name}.stderr")
        lq = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        lm = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        lq.bind(qpath)
        lm.bind(mpath)
        lq.listen(1)
        lm.listen(1)
        # -qtest-log none: by default qtest logs every command to stderr
        argv = [binary, "-qtest", f"unix:{qpath}", "-qtest-log", "none",
                "-accel", "qtest",
                "-chardev", f"socket,path={mpath},id=qmp0",
                "-mon", "chardev=qmp0,mode=control",
                "-M", "q35", "-m", "512M", "-nodefaults", "-display", "none",
                "-name", f"{name},debug-threads=on",
                ] + extra
        self.argv = argv
        err = open(self.stderr_path, "wb")
        try:
            self.popen = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                          stdout=err, stderr=err, cwd=tmpdir,
                                          preexec_fn=die_with_parent)
        finally:
            err.close()
        self.pid = self.popen.pid
        try:
            self.q = self._accept(lq)
            self.m = self._accept(lm)
        finally:
            lq.close()
            lm.close()
            os.unlink(qpath)
            os.unlink(mpath)
        self.qf = self.q.makefile("rb", buffering=1 << 16)
        self.mf = self.m.makefile("rb")
        try:
            self.qmp_greeting = json.loads(self.mf.readline())
            self.qmp("qmp_capabilities")
        except (OSError, ValueError) as e:
            self.popen.poll()
            raise BenchError(f"{self.name}: QEMU failed ({e}): "
                             f"{self.stderr_tail()}") from None

    def _accept(self, lsock):
        lsock.settimeout(0.2)
        deadline = time.monotonic() + 30
        while True:
            try:
                conn, _ = lsock.accept()
                conn.settimeout(60)
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
                return conn
            except socket.timeout:
                if self.popen.poll() is not None:
                    raise BenchError(f"{self.name}: QEMU exited "
                                     f"({self.popen.returncode}): "
                                     f"{self.stderr_tail()}")
                if time.monotonic() > deadline:
                    raise BenchError(f"{self.name}: QEMU did not connect")

    def thread_cpu(self):
        """Per thread name: CPU ns so far and ns spent runnable but waiting
        for a CPU (schedstat); the main loop (qtest, MMIO, e1000e's TX) is
        "main", its run-queue wait "main wait"."""
        out = {}
        base = f"/proc/{self.pid}/task"
        for tid in os.listdir(base):
            try:
                with open(f"{base}/{tid}/schedstat") as f:
                    run, wait = (int(x) for x in f.read().split()[:2])
                with open(f"{base}/{tid}/comm") as f:
                    comm = f.read().strip()
            except (OSError, ValueError):
                continue
            name = "main" if int(tid) == self.pid else comm
            out[name] = out.get(name, 0) + run
            out[name + " wait"] = out.get(name + " wait", 0) + wait
        return out

    def threads(self):
        """{tid: name} of the QEMU process's threads."""
        out = {}
        base = f"/proc/{self.pid}/task"
        for tid in os.listdir(base):
            try:
                with open(f"{base}/{tid}/comm") as f:
                    out[int(tid)] = f.read().strip()
            except OSError:
                pass
        return out

    def pin(self, worker_name, worker_cpu, other_cpu):
        """The thread doing the device's work on worker_cpu, the rest of
        QEMU (its main loop serves qtest) on other_cpu, and the driver (this
        script) with the main loop.  worker_name None: the main loop is the
        worker (e1000e), everything on worker_cpu."""
        for tid, name in self.threads().items():
            if worker_name is None or name == worker_name:
                cpu = worker_cpu
            else:
                cpu = other_cpu
            os.sched_setaffinity(tid, {cpu})
        self.driver_cpu = worker_cpu if worker_name is None else other_cpu

    def attach(self):
        """Before driving this QEMU: the script on its driver CPU."""
        if self.driver_cpu is not None:
            os.sched_setaffinity(0, {self.driver_cpu})

    def stderr_tail(self):
        try:
            with open(self.stderr_path, errors="replace") as f:
                return f.read()[-2000:]
        except OSError:
            return ""

    # qtest: one line out, one line back (no IRQ interception: no events)
    def cmd(self, line):
        self.q.sendall(line.encode() + b"\n")
        resp = self.qf.readline()
        if not resp:
            raise BenchError(f"{self.name}: qtest connection closed: "
                             f"{self.stderr_tail()}")
        if not resp.startswith(b"OK"):
            raise BenchError(f"{self.name}: qtest '{line[:60]}': {resp!r}")
        return resp

    def readl(self, addr):
        return int(self.cmd(f"readl 0x{addr:x}").split()[1], 16)

    def writel(self, addr, val):
        self.cmd(f"writel 0x{addr:x} 0x{val:x}")

    def inl(self, port):
        return int(self.cmd(f"inl 0x{port:x}").split()[1], 16)

    def outl(self, port, val):
        self.cmd(f"outl 0x{port:x} 0x{val:x}")

    def memwrite(self, addr, data):
        # qtest reads 1 KiB at a time and rescans its whole input line each
        # time: keep lines short (12 KiB of data is 16 KiB of base64).
        for off in range(0, len(data), 12288):
            chunk = data[off:off + 12288]
            self.cmd(f"b64write 0x{addr + off:x} {len(chunk)} "
                     + base64.b64encode(chunk).decode())

    def memread(self, addr, size):
        resp = self.cmd(f"b64read 0x{addr:x} {size}")
        return base64.b64decode(resp.split()[1])

    def qmp(self, command, **args):
        msg = {"execute": command}
        if args:
            msg["arguments"] = args
        self.m.sendall(json.dumps(msg).encode() + b"\n")
        while True:
            line = self.mf.readline()
            if not line:
                raise BenchError(f"{self.name}: QMP closed")
            resp = json.loads(line)
            if "event" in resp:
                continue
            if "error" in resp:
                raise BenchError(f"{self.name}: QMP {command}: "
                                 f"{resp['error']}")
            return resp.get("return")

    # PCI configuration through 0xcf8/0xcfc, bus 0
    def cfg_read(self, devfn, reg):
        self.outl(0xCF8, 0x8000_0000 | (devfn << 8) | (reg & 0xFC))
        return self.inl(0xCFC)

    def cfg_write(self, devfn, reg, val):
        self.outl(0xCF8, 0x8000_0000 | (devfn << 8) | (reg & 0xFC))
        self.outl(0xCFC, val)

    def find_pci(self, vendor, device):
        for devfn in range(256):
            if self.cfg_read(devfn, 0) == (device << 16) | vendor:
                return devfn
        raise BenchError(f"{self.name}: no PCI device {vendor:04x}:"
                         f"{device:04x} on bus 0")

    def enable_pci(self, devfn):
        """BAR0 at BAR0; memory space and bus mastering on."""
        self.cfg_write(devfn, 0x10, BAR0)
        bar = self.cfg_read(devfn, 0x10)
        if bar & ~0xF != BAR0:
            raise BenchError(f"{self.name}: BAR0 reads {bar:#x}")
        cmd = self.cfg_read(devfn, 0x04) & 0xFFFF
        self.cfg_write(devfn, 0x04, cmd | 0x6)

    def stop(self, timeout=10.0):
        """quit over QMP, then SIGTERM, then SIGKILL: by our own PID only."""
        if self.popen.poll() is None:
            try:
                self.qmp("quit")
            except (BenchError, OSError, ValueError):
                pass
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                log(f"{self.name} (pid {self.pid}) ignored quit: SIGTERM")
                os.kill(self.pid, signal.SIGTERM)
                try:
                    self.popen.wait(timeout)
                except subprocess.TimeoutExpired:
                    log(f"{self.name} (pid {self.pid}): SIGKILL")
                    os.kill(self.pid, signal.SIGKILL)
                    self.popen.wait(5)
        for s in (self.qf, self.mf, self.q, self.m):
            try:
                s.close()
            except OSError:
                pass


# ---- frames ------------------------------------------------------------------

def test_frame(size):
    """Broadcast, EtherType 0x88B5, a counting payload."""
    hdr = ETH_BCAST + HOST_MAC + struct.pack(">H", ETHERTYPE_EXP)
    return (hdr + bytes(i & 0xFF for i in range(size - len(hdr))))[:size]


def arp_request(sha, spa, tpa):
    """An ARP request from sha/spa for tpa, padded to 60 bytes."""
    f = (ETH_BCAST + sha + b"\x08\x06" +
         bytes([0, 1, 8, 0, 6, 4, 0, 1]) + sha + bytes(spa) +
         b"\x00" * 6 + bytes(tpa))
    return f + b"\x00" * (60 - len(f))


def is_arp_reply(f, spa, tha):
    return (len(f) >= 42 and f[12:14] == b"\x08\x06" and f[20:22] == b"\x00\x02"
            and f[28:32] == bytes(spa) and f[32:38] == tha)


# ---- the two devices -----------------------------------------------------------

class Card:
    """proxycard: rings as docs/datasheet.md section 5 and bus_up()."""

    kind = "card"
    WORKER = "proxycard-fw"     # the firmware thread runs the rings
    MAX = R["PROXYCARD_BUS_MAX_FRAME"]

    def __init__(self, vm):
        self.vm = vm
        devfn = vm.find_pci(R["PROXYCARD_PCI_VENDOR_ID"],
                            R["PROXYCARD_PCI_DEVICE_ID"])
        vm.enable_pci(devfn)
        if self.rd("PROXYCARD_REG_ID") != R["PROXYCARD_ID_MAGIC"]:
            raise BenchError("card: bad ID register")
        self.wr("PROXYCARD_REG_TX_BASE_LO", TX_RING)
        self.wr("PROXYCARD_REG_TX_BASE_HI", 0)
        self.wr("PROXYCARD_REG_TX_SIZE", RING)
        self.wr("PROXYCARD_REG_RX_BASE_LO", RX_RING)
        self.wr("PROXYCARD_REG_RX_BASE_HI", 0)
        self.wr("PROXYCARD_REG_RX_SIZE", RING)
        self.wr("PROXYCARD_REG_BUS_CONTROL", R["PROXYCARD_BUS_ENABLE"])
        if self.rd("PROXYCARD_REG_BUS_STATUS") != R["PROXYCARD_BUS_RUNNING"]:
            raise BenchError(f"card: link not running, ERROR "
                             f"{self.rd('PROXYCARD_REG_ERROR')}")
        self.tx_tail = 0
        self.rx_tail = 0
        # Every RX buffer but one posted (descriptor i -> buffer i)
        self.vm.memwrite(RX_RING, b"".join(
            self.desc(RX_BUF + i * STRIDE, self.MAX) for i in range(RING)))
        self.rx_tail = RING - 1
        self.wr("PROXYCARD_REG_RX_TAIL", self.rx_tail)
        self.head_addr = BAR0 + R["PROXYCARD_REG_TX_HEAD"]
        self.tail_addr = BAR0 + R["PROXYCARD_REG_TX_TAIL"]
        self.rx_head_addr = BAR0 + R["PROXYCARD_REG_RX_HEAD"]
        self.idle_addr = BAR0 + R["PROXYCARD_REG_SCRATCH"]

    def rd(self, reg):
        return self.vm.readl(BAR0 + R[reg])

    def wr(self, reg, val):
        self.vm.writel(BAR0 + R[reg], val)

    @staticmethod
    def desc(addr, length):
        return struct.pack("<QIHH", addr, length, 0, 0)

    def tx_ring_bytes(self, size, bufaddr=None):
        if bufaddr is not None:
            d = self.desc(bufaddr, size)
            return d * RING
        return b"".join(self.desc(TX_BUF + i * STRIDE, size)
                        for i in range(RING))

    def error(self):
        return self.rd("PROXYCARD_REG_ERROR")

    def stats(self):
        return self.vm.qmp("qom-get", path="/machine/peripheral/card0",
                           property="stats")

    def tx_count(self):
        """Frames the firmware got from the TX ring: (taken, dropped)."""
        st = self.stats()
        return st["bus-rx-frames"] + st["bus-rx-dropped"], st["bus-rx-dropped"]

    def rx_count(self):
        """Frames the card put on the RX ring (the firmware's bus sends)."""
        st = self.stats()
        return st["bus-tx-frames"], st["bus-tx-dropped"]

    def rxdesc(self, addr):
        return self.desc(addr, self.MAX)

    def repost_rx(self, n):
        """Give back the n buffers the card filled (descriptors rewritten)."""
        repost_rx(self, n, BAR0 + R["PROXYCARD_REG_RX_TAIL"])


def repost_rx(dev, n, tail_addr):
    """Rewrite the n descriptors from the RX tail on, then move the tail."""
    start = dev.rx_tail
    while n > 0:
        cnt = min(n, RING - start)
        dev.vm.memwrite(RX_RING + start * 16, b"".join(
            dev.rxdesc(RX_BUF + i * STRIDE) for i in range(start, start + cnt)))
        start = (start + cnt) % RING
        n -= cnt
    dev.rx_tail = start
    dev.vm.writel(tail_addr, dev.rx_tail)


class E1000e:
    """QEMU's e1000e: legacy TX/RX descriptors, as tests/qtest/libqos/e1000e.c."""

    kind = "e1000e"
    WORKER = None               # TX runs in the main loop, in the TDT write
    CTRL, STATUS, RCTL, TCTL, RFCTL, IMC = 0x0, 0x8, 0x100, 0x400, 0x5008, 0xD8
    RDBAL, RDBAH, RDLEN, RDH, RDT = 0x2800, 0x2804, 0x2808, 0x2810, 0x2818
    TDBAL, TDBAH, TDLEN, TDH, TDT = 0x3800, 0x3804, 0x3808, 0x3810, 0x3818
    TPT, TPR = 0x40D4, 0x40D0
    CTRL_RST, CTRL_SLU, STATUS_LU = 1 << 26, 1 << 6, 1 << 1
    TCTL_EN, RCTL_EN, RCTL_UPE, RCTL_BAM, RCTL_SECRC = 2, 2, 8, 1 << 15, 1 << 26
    TXD_EOP, TXD_IFCS, TXD_RS = 1 << 24, 1 << 25, 1 << 27
    MAX = 2048                  # RX buffer size (RCTL.BSIZE = 0)

    def __init__(self, vm):
        self.vm = vm
        devfn = vm.find_pci(0x8086, 0x10D3)
        vm.enable_pci(devfn)
        self.wr(self.CTRL, self.rd(self.CTRL) | self.CTRL_RST | self.CTRL_SLU)
        if not self.rd(self.STATUS) & self.STATUS_LU:
            raise BenchError("e1000e: link not up")
        self.wr(self.IMC, 0xFFFFFFFF)           # no interrupts (as the card)
        self.wr(self.RCTL, 0)
        self.wr(self.TCTL, 0)
        self.wr(self.TDBAL, TX_RING)
        self.wr(self.TDBAH, 0)
        self.wr(self.TDLEN, RING * 16)
        self.wr(self.TDH, 0)
        self.wr(self.TDT, 0)
        self.wr(self.TCTL, self.TCTL_EN)
        self.wr(self.RDBAL, RX_RING)
        self.wr(self.RDBAH, 0)
        self.wr(self.RDLEN, RING * 16)
        self.wr(self.RDH, 0)
        self.wr(self.RDT, 0)
        self.wr(self.RFCTL, 0)                  # legacy RX descriptors
        self.vm.memwrite(RX_RING, b"".join(
            self.rxdesc(RX_BUF + i * STRIDE) for i in range(RING)))
        self.wr(self.RCTL, self.RCTL_EN | self.RCTL_UPE | self.RCTL_BAM |
                self.RCTL_SECRC)
        self.rx_tail = RING - 1
        self.wr(self.RDT, self.rx_tail)
        self.tx_tail = 0
        self.head_addr = BAR0 + self.TDH
        self.tail_addr = BAR0 + self.TDT
        self.rx_head_addr = BAR0 + self.RDH
        self.idle_addr = BAR0 + self.STATUS
        self.rd(self.TPT)                       # read-to-clear counters
        self.rd(self.TPR)
        self.sent = self.received = 0

    def rd(self, reg):
        return self.vm.readl(BAR0 + reg)

    def wr(self, reg, val):
        self.vm.writel(BAR0 + reg, val)

    def desc(self, addr, length):
        return struct.pack("<QII", addr, length | self.TXD_EOP |
                           self.TXD_IFCS | self.TXD_RS, 0)

    @staticmethod
    def rxdesc(addr):
        return struct.pack("<QQ", addr, 0)

    def tx_ring_bytes(self, size, bufaddr=None):
        if bufaddr is not None:
            return self.desc(bufaddr, size) * RING
        return b"".join(self.desc(TX_BUF + i * STRIDE, size)
                        for i in range(RING))

    def error(self):
        return 0

    def tx_count(self):
        """Frames sent (TPT, read to clear), none dropped by the device."""
        self.sent += self.rd(self.TPT)
        return self.sent, 0

    def repost_rx(self, n):
        repost_rx(self, n, BAR0 + self.RDT)

    def rx_count(self):
        """Frames received (TPR, read to clear)."""
        self.received += self.rd(self.TPR)
        return self.received, 0


# ---- measurements ----------------------------------------------------------------

def readl_rtt(dev, n=2000):
    """Seconds per qtest readl round trip of an idle device register."""
    vm, addr = dev.vm, dev.idle_addr
    vm.attach()
    t0 = time.perf_counter()
    for _ in range(n):
        vm.readl(addr)
    return (time.perf_counter() - t0) / n


class Poller:
    """Doorbell, then poll a head register until it reaches a value.

    tight (the default): polls back to back.  Otherwise (--poll predict)
    sleeps 80% of the shortest of the last batches first, so that polls
    (each a qtest round trip served by QEMU's main loop) take less CPU
    when the device shares one with the driver."""

    def __init__(self, tight=False):
        self.tight = tight
        self.recent = []

    def run(self, dev, tail_addr, tail, head_addr, want):
        """Returns (seconds, polls, {thread: CPU ns})."""
        vm = dev.vm
        polls = 0
        c0 = vm.thread_cpu()
        t0 = time.perf_counter()
        vm.writel(tail_addr, tail)
        if self.recent and not self.tight:
            time.sleep(min(self.recent) * 0.8)
        deadline = t0 + 30
        while True:
            polls += 1
            h = vm.readl(head_addr)
            if h == want:
                break
            if time.perf_counter() > deadline:
                raise BenchError(f"{vm.name}: head stuck at {h}, want "
                                 f"{want}, error {dev.error()}")
        dt = time.perf_counter() - t0
        c1 = vm.thread_cpu()
        self.recent = (self.recent + [dt])[-5:]
        return dt, polls, {k: c1[k] - c0.get(k, 0) for k in c1}


POLL_TIGHT = True              # main() sets it from --poll
CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_snapshot(pids):
    """(monotonic s, CPU s busy on the whole machine, CPU s of @pids and
    of this script): what else ran meanwhile, by difference."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    busy = sum(v[:8]) - v[3] - v[4]             # less idle and iowait
    ours = 0
    for pid in pids:
        with open(f"/proc/{pid}/stat") as f:
            st = f.read()
        fields = st[st.rindex(")") + 2:].split()
        ours += int(fields[11]) + int(fields[12])
    t = os.times()
    return (time.monotonic(), busy / CLK_TCK,
            ours / CLK_TCK + t.user + t.system)


def foreign_share(a, b):
    """CPUs' worth of other processes' work between two cpu_snapshot()s."""
    wall = b[0] - a[0]
    return max(0.0, ((b[1] - a[1]) - (b[2] - a[2])) / wall) if wall else 0.0


def measured(fn, dev, *args, tries=3, most=0.10):
    """Run a measurement; again (up to @tries in all) while other processes
    took more than @most of a CPU during it; keep the cleanest."""
    best = None
    for attempt in range(tries):
        a = cpu_snapshot([dev.vm.pid])
        r = fn(dev, *args)
        r["foreign_cpu"] = foreign_share(a, cpu_snapshot([dev.vm.pid]))
        r["attempts"] = attempt + 1
        if best is None or r["foreign_cpu"] < best["foreign_cpu"]:
            best = r
        if r["foreign_cpu"] <= most or time.monotonic() > RETRY_UNTIL:
            break
        log(f"{dev.vm.name}: other processes took "
            f"{r['foreign_cpu']:.0%} of a CPU during the measurement: again")
    best["attempts"] = attempt + 1
    return best


RETRY_UNTIL = float("inf")      # main() sets a deadline for retries


def add_cpu(acc, cpu):
    for k, v in cpu.items():
        acc[k] = acc.get(k, 0) + v


def measure_tx(dev, size, duration, min_batches=3):
    """TX ring throughput at one frame size."""
    vm = dev.vm
    vm.attach()
    ring = dev.tx_ring_bytes(size)
    before = dev.tx_count()
    secs, frames, polls, batches, cpu = 0.0, 0, 0, 0, {}
    poller = Poller(POLL_TIGHT)
    while secs < duration or batches < min_batches:
        # Rewrite every descriptor (the host owns them all: head == tail),
        # status 0, as a driver would: untimed.
        vm.memwrite(TX_RING, ring)
        start = dev.tx_tail
        dev.tx_tail = (start + BATCH) % RING
        dt, p, c = poller.run(dev, dev.tail_addr, dev.tx_tail, dev.head_addr,
                              dev.tx_tail)
        secs += dt
        frames += BATCH
        polls += p
        batches += 1
        add_cpu(cpu, c)
    # The card publishes its counters after each pass of the firmware loop,
    # just after the head moves: give it a moment.
    deadline = time.monotonic() + 5
    while True:
        after = dev.tx_count()
        got, dropped = after[0] - before[0], after[1] - before[1]
        if got >= frames or time.monotonic() > deadline:
            break
        time.sleep(0.01)
    err = dev.error()
    if got != frames or err:
        raise BenchError(f"{vm.name}: {frames} frames posted, the device "
                         f"counted {got}; error {err}")
    return {"frames": frames, "dropped": dropped, "seconds": secs,
            "batches": batches, "polls_per_batch": polls / batches,
            "fps": frames / secs, "gbps": frames * size * 8 / secs / 1e9,
            "cpu_ns_per_frame": {k: v / frames for k, v in cpu.items()}}


def measure_arp(dev, request, check, duration, batch, min_batches=3):
    """ARP requests through TX, replies through RX: pipelined rate, then
    one at a time (latency, qtest round trips included)."""
    vm = dev.vm
    vm.attach()
    vm.memwrite(ARP_BUF, request)
    ring = dev.tx_ring_bytes(len(request), bufaddr=ARP_BUF)
    secs, replies, polls, batches, cpu = 0.0, 0, 0, 0, {}
    rx_head = vm.readl(dev.rx_head_addr)
    sent0 = dev.rx_count()
    poller = Poller(POLL_TIGHT)
    while secs < duration or batches < min_batches:
        vm.memwrite(TX_RING, ring)
        dev.tx_tail = (dev.tx_tail + batch) % RING
        want = (rx_head + batch) % RING
        dt, p, c = poller.run(dev, dev.tail_addr, dev.tx_tail,
                              dev.rx_head_addr, want)
        # The last one is an ARP reply to us (untimed check)
        last = (want - 1) % RING
        frame = reply_frame(dev, last)
        if not check(frame):
            raise BenchError(f"{vm.name}: RX {last} is not the ARP reply: "
                             f"{frame[:42].hex()}")
        dev.repost_rx(batch)
        rx_head = want
        secs += dt
        replies += batch
        polls += p
        batches += 1
        add_cpu(cpu, c)
    if vm.readl(dev.head_addr) != dev.tx_tail:
        raise BenchError(f"{vm.name}: TX head behind after the ARP batches")
    deadline = time.monotonic() + 5
    while True:
        sent1 = dev.rx_count()
        sent, dropped = sent1[0] - sent0[0], sent1[1] - sent0[1]
        if sent >= replies or time.monotonic() > deadline:
            break
        time.sleep(0.01)
    if sent != replies or dropped or dev.error():
        raise BenchError(f"{vm.name}: {replies} replies seen, the device "
                         f"counted {sent} sent, {dropped} dropped; error "
                         f"{dev.error()}")
    lat = []
    one = dev.tx_ring_bytes(len(request), ARP_BUF)[:16]
    tight = Poller(tight=True)
    for _ in range(200):
        vm.memwrite(TX_RING + dev.tx_tail * 16, one)
        dev.tx_tail = (dev.tx_tail + 1) % RING
        want = (rx_head + 1) % RING
        dt, p, c = tight.run(dev, dev.tail_addr, dev.tx_tail,
                             dev.rx_head_addr, want)
        lat.append(dt)
        rx_head = want
        dev.repost_rx(1)
    lat.sort()
    return {"replies": replies, "seconds": secs, "batches": batches,
            "batch": batch, "polls_per_batch": polls / batches,
            "rps": replies / secs,
            "cpu_ns_per_reply": {k: v / replies for k, v in cpu.items()},
            "latency_us": statistics.median(lat) * 1e6,
            "latency_p90_us": lat[int(len(lat) * 0.9)] * 1e6}


def reply_frame(dev, i):
    vm = dev.vm
    d = vm.memread(RX_RING + i * 16, 16)
    if dev.kind == "card":
        length = struct.unpack_from("<I", d, 8)[0]
    else:
        length = struct.unpack_from("<H", d, 8)[0]
    return vm.memread(RX_BUF + i * STRIDE, min(length, 64))


# ---- perf ---------------------------------------------------------------------

# Functions whose inclusive share (perf --children) says where time goes
PERF_SYMS = [
    # the card: ring engine, DMA, firmware
    "proxycard_bus_tx", "proxycard_bus_dma", "proxycard_bus_send",
    "proxycard_bus_rx_one", "pcfw_input", "pbuf_alloc", "pbuf_take",
    "ethernet_input", "etharp_input", "etharp_raw", "port_linkoutput",
    "pcfw_poll", "proxycard_fw_publish",
    # interrupts: the bottom half that delivers them, and its wake-up
    "qemu_bh_schedule", "event_notifier_set",
    # e1000e, the net layer, slirp
    "e1000e_start_xmit", "net_tx_pkt_add_raw_fragment", "net_tx_pkt_parse",
    "net_tx_pkt_send", "iov_to_buf_full", "slirp_input",
    # both: guest memory copies; the qtest driver's share of the main loop
    "address_space_rw", "qtest_process_inbuf", "g_base64_decode_inplace",
]


# What is profiled (target, TX frame size or "arp")
PERF_RUNS = [("card", 64), ("card", 1514), ("card", 9014), ("card", "arp"),
             ("e1000e", 64), ("e1000e+slirp", 9014)]


def perf_profile(dev, what, seconds, outdir):
    """perf record (DWARF call graphs) on the QEMU process while TX batches
    of @what bytes (or ARP round trips, @what "arp") run; CPU share by
    thread, and the inclusive share of PERF_SYMS."""
    perf = shutil.which("perf")
    if not perf:
        return None
    data = os.path.join(outdir, f"perf-{dev.vm.name}-{what}.data")
    errf = open(data + ".log", "wb")
    try:
        p = subprocess.Popen([perf, "record", "-q", "-F", "1000",
                              "--call-graph", "dwarf,8192", "-o", data,
                              "-p", str(dev.vm.pid)],
                             stdin=subprocess.DEVNULL, stdout=errf,
                             stderr=errf, preexec_fn=die_with_parent)
    finally:
        errf.close()
    time.sleep(0.5)
    try:
        if what == "arp":
            req, chk = arp_for(dev.kind if dev.kind == "card" else "slirp")
            r = measure_arp(dev, req, chk, seconds, BATCH)
            r["fps"] = r["rps"]
        else:
            r = measure_tx(dev, what, seconds)
    finally:
        p.send_signal(signal.SIGINT)
        try:
            p.wait(30)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(5)

    def report(*extra):
        rep = subprocess.run([perf, "report", "-i", data, "--stdio",
                              "-g", "none"] + list(extra),
                             capture_output=True, text=True, timeout=120)
        return [ln.rstrip() for ln in rep.stdout.splitlines()
                if ln.strip() and not ln.startswith("#")]

    threads = report("--no-children", "--sort", "comm")
    children = report("--children", "--sort", "comm,sym",
                      "--percent-limit", "0.5")
    selftop = report("--no-children", "--sort", "comm,dso,sym",
                     "--percent-limit", "2")
    for f in (data, data + ".log", data + ".old"):
        if os.path.exists(f):
            os.unlink(f)
    incl = []
    for ln in children:
        parts = ln.split()
        # "12.34%  0.56%  comm  [.]  symbol"
        if len(parts) >= 5 and parts[-1] in PERF_SYMS:
            incl.append(f"{parts[0]:>7} {parts[2]} {parts[-1]}")
    if not threads:
        log(f"perf: no samples for {dev.vm.name} {what}")
    return {"fps": r["fps"], "threads": threads[:6], "inclusive": incl,
            "self": selftop[:8]}


# ---- main ----------------------------------------------------------------------

TARGETS = {
    "card": (["-device", "proxycard,id=card0"], Card),
    "e1000e": (["-device", "e1000e,id=nic0,romfile="], E1000e),
    "e1000e+slirp": (["-netdev", "user,id=n0,restrict=on",
                      "-device", "e1000e,id=nic0,netdev=n0,romfile="], E1000e),
}


def fmt_table(rows, headers):
    w = [max(len(str(h)), *(len(str(r[i])) for r in rows))
         for i, h in enumerate(headers)]
    out = ["| " + " | ".join(str(h).ljust(w[i]) for i, h in enumerate(headers))
           + " |",
           "|" + "|".join("-" * (x + 2) for x in w) + "|"]
    for r in rows:
        out.append("| " + " | ".join(str(c).rjust(w[i])
                                     for i, c in enumerate(r)) + " |")
    return "\n".join(out)


def cpu_busy(seconds=1.0):
    """(fraction of all CPUs busy, [(pct of one CPU, pid, comm)]) over
    @seconds: what else runs on the machine."""
    def total():
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        return sum(v), v[3] + v[4]

    def procs():
        out = {}
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                with open(f"/proc/{pid}/stat") as f:
                    st = f.read()
            except OSError:
                continue
            comm = st[st.index("(") + 1:st.rindex(")")]
            fields = st[st.rindex(")") + 2:].split()
            out[int(pid)] = (comm, int(fields[11]) + int(fields[12]))
        return out

    t0, i0 = total()
    p0 = procs()
    time.sleep(seconds)
    t1, i1 = total()
    p1 = procs()
    busy = 1 - (i1 - i0) / max(1, t1 - t0)
    tck = os.sysconf("SC_CLK_TCK")
    top = []
    for pid, (comm, ticks) in p1.items():
        if pid in p0 and pid != os.getpid():
            pct = (ticks - p0[pid][1]) / tck / seconds * 100
            if pct >= 5:
                top.append((round(pct), pid, comm))
    return busy, sorted(top, reverse=True)


def wait_quiet(limit, most):
    """Wait up to @limit seconds for the machine to be at most @most busy."""
    deadline = time.monotonic() + limit
    while True:
        busy, top = cpu_busy()
        if busy <= most or time.monotonic() >= deadline:
            return busy, top
        log(f"machine {busy:.0%} busy ({', '.join(f'{c} {p}%' for p, _, c in top[:4])}); "
            "waiting for it to calm down")


def arp_for(t):
    """(request, reply check) of target @t."""
    if t == "card":
        return (arp_request(HOST_MAC, [10, 76, 0, 1], [10, 76, 0, 2]),
                lambda f: is_arp_reply(f, [10, 76, 0, 2], HOST_MAC))
    mac = bytes([0x52, 0x54, 0, 0x12, 0x34, 0x56])   # e1000e's default MAC
    return (arp_request(mac, [10, 0, 2, 15], [10, 0, 2, 2]),
            lambda f: is_arp_reply(f, [10, 0, 2, 2], mac))


def main():
    global POLL_TIGHT, RETRY_UNTIL
    ap = argparse.ArgumentParser(
        description="proxycard bus link benchmark (see the module docstring)")
    ap.add_argument("--qemu", default=os.path.join(ROOT, "build",
                                                   "qemu-system-x86_64"))
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--duration", type=float, default=0.5,
                    help="timed seconds per measurement (default 0.5)")
    ap.add_argument("--sizes", default=",".join(map(str, SIZES)))
    ap.add_argument("--targets", default=",".join(TARGETS))
    ap.add_argument("--poll", choices=["predict", "tight"], default="tight")
    ap.add_argument("--no-pin", dest="pin", action="store_false",
                    help="do not pin the device's worker thread to CPU 1 "
                         "and this script to the CPU of QEMU's main loop")
    ap.add_argument("--perf", type=float, default=0.0,
                    help="seconds of perf record per profiled run "
                         "(PERF_RUNS; 0: none)")
    ap.add_argument("--wait-quiet", type=float, default=0.0,
                    help="wait up to this many seconds for the machine to "
                         "be under 25%% busy before starting")
    ap.add_argument("--retry-budget", type=float, default=120,
                    help="seconds from the start during which a measurement "
                         "that other processes disturbed (more than 10%% of "
                         "a CPU) is repeated, up to 3 times in all")
    ap.add_argument("--note", default="",
                    help="a line for the report's header (commit, build)")
    ap.add_argument("--json")
    ap.add_argument("--md")
    ap.add_argument("--tmpdir", help="an existing directory for the sockets "
                    "and perf data, left in place (default: a new one, "
                    "removed at the end)")
    args = ap.parse_args()
    sizes = [int(x) for x in args.sizes.split(",")]
    targets = args.targets.split(",")
    for x in sizes:
        if not 60 <= x <= Card.MAX:
            raise SystemExit(f"size {x}: 60 to {Card.MAX}")
    for t in targets:
        if t not in TARGETS:
            raise SystemExit(f"target {t}: one of {', '.join(TARGETS)}")
    POLL_TIGHT = args.poll == "tight"

    pin = args.pin and len(os.sched_getaffinity(0)) >= 2 and \
        {WORKER_CPU, DRIVER_CPU} <= os.sched_getaffinity(0)
    if pin:
        os.sched_setaffinity(0, {DRIVER_CPU})
    elif args.pin:
        log("fewer than 2 CPUs (or not CPUs 0 and 1): not pinning")
    busy, top = wait_quiet(args.wait_quiet, 0.25)
    result = {"date": datetime.datetime.now(datetime.timezone.utc)
              .strftime("%Y-%m-%d %H:%M UTC"),
              "sizes": sizes, "targets": targets, "reps": args.reps,
              "duration": args.duration, "poll": args.poll, "ring": RING,
              "batch": BATCH, "tx": {}, "arp": {}, "rtt_us": {},
              "perf": {}, "note": args.note, "pinned": pin,
              "busy_before": busy, "others_before": top,
              "argv": {t: None for t in targets}}
    if busy > 0.25:
        log(f"warning: the machine is {busy:.0%} busy before the run: "
            + ", ".join(f"{c} (pid {pid}) {p}%" for p, pid, c in top[:6]))
    tmp = args.tmpdir or tempfile.mkdtemp(prefix="proxycard-buslink-")
    vms, devs = {}, {}
    started = time.monotonic()
    RETRY_UNTIL = started + args.retry_budget
    try:
        for t in targets:
            extra, cls = TARGETS[t]
            vms[t] = Qemu(args.qemu, tmp, t.replace("+", "-"), extra)
            result["argv"][t] = " ".join(vms[t].argv[1:]).replace(tmp, "TMP")
            devs[t] = cls(vms[t])
            if pin:
                vms[t].pin(cls.WORKER, WORKER_CPU, DRIVER_CPU)
            t0 = time.monotonic()
            # Every TX buffer holds the largest frame; a smaller size is its
            # beginning (the same header).
            frame = test_frame(Card.MAX)
            for i in range(RING):
                vms[t].memwrite(TX_BUF + i * STRIDE, frame)
            log(f"{t}: QEMU pid {vms[t].pid}, {RING} buffers written in "
                f"{time.monotonic() - t0:.1f} s")
        result["qemu_version"] = vms[targets[0]].qmp_greeting["QMP"][
            "version"]["qemu"]
        for t in targets:
            result["rtt_us"][t] = readl_rtt(devs[t]) * 1e6

        for rep in range(args.reps):
            order = targets if rep % 2 == 0 else targets[::-1]
            for size in sizes:
                for t in order:
                    r = measured(measure_tx, devs[t], size, args.duration)
                    result["tx"].setdefault(t, {}).setdefault(
                        str(size), []).append(r)
                    cpu = r["cpu_ns_per_frame"]
                    log(f"rep {rep + 1} {t:12s} {size:5d} B: "
                        f"{r['fps'] / 1e3:8.1f} kframes/s "
                        f"{r['gbps']:6.2f} Gbit/s, "
                        f"{r['polls_per_batch']:5.1f} polls/batch; ns/frame "
                        + " ".join(f"{k} {v:.0f}" for k, v in cpu.items()
                                   if v >= 1 and not k.endswith(" wait"))
                        + (f"; {r['dropped']} dropped by the firmware"
                           if r["dropped"] else ""))
            for t in order:
                if t == "e1000e":
                    continue            # no peer: nobody answers ARP
                req, chk = arp_for(t)
                r = measured(measure_arp, devs[t], req, chk, args.duration,
                             BATCH)
                result["arp"].setdefault(t, []).append(r)
                log(f"rep {rep + 1} {t:12s} ARP: {r['rps'] / 1e3:.1f} k "
                    f"round trips/s pipelined; one at a time "
                    f"{r['latency_us']:.0f} us")
        for t in targets:
            result.setdefault("rtt_after_us", {})[t] = \
                readl_rtt(devs[t]) * 1e6
        if "card" in devs:
            result["card_stats"] = devs["card"].stats()
        if args.perf > 0:
            for t, what in PERF_RUNS:
                if t in devs and (what == "arp" or what in sizes):
                    log(f"perf: {t} {what}")
                    result["perf"][f"{t} {what}"] = perf_profile(
                        devs[t], what, args.perf, tmp)
    finally:
        for vm in vms.values():
            vm.stop()
        if not args.tmpdir:
            shutil.rmtree(tmp, ignore_errors=True)
    result["elapsed_s"] = time.monotonic() - started
    result["busy_after"], result["others_after"] = cpu_busy(0.5)
    report(result, args)


def med(rs, key, sub=None):
    if sub is None:
        return statistics.median(r[key] for r in rs)
    return statistics.median(r[key].get(sub, 0) for r in rs)


def spread(rs, key):
    v = [r[key] for r in rs]
    if len(v) < 2:
        return ""
    return f"±{(max(v) - min(v)) / 2 / statistics.median(v):.0%}"


def machine_line():
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} CPUs, Linux {os.uname().release}"


def report(res, args):
    sizes, targets = res["sizes"], res["targets"]
    tx = res["tx"]
    out = [f"proxycard bus link benchmark, {res['date']}",
           f"QEMU {res['qemu_version']['major']}.{res['qemu_version']['minor']}.{res['qemu_version']['micro']} under qtest (-accel qtest), "
           f"{machine_line()}, Python {platform.python_version()}"]
    if res["note"]:
        out.append(res["note"])
    out += [
           f"TX ring of {RING}, {BATCH} frames per doorbell, "
           f"{res['reps']} repetitions x {res['duration']:g} s timed, "
           f"medians; polling: {res['poll']}; "
           + ("pinned: the device's worker thread on CPU 1 (card: "
              "proxycard-fw; e1000e: the main loop), the driver (this "
              "script) on the CPU of QEMU's main loop" if res["pinned"]
              else "not pinned"),
           f"machine busy before the run: {res['busy_before']:.0%}"
           + ("" if not res["others_before"] else " (" + ", ".join(
               f"{c} {p}%" for p, _, c in res["others_before"][:5]) + ")")
           + f"; after: {res['busy_after']:.0%}", ""]

    h = ["frame B"]
    for t in targets:
        h += [f"{t} kframes/s", f"{t} Gbit/s"]
    others = [t for t in targets if t != "card"] if "card" in targets else []
    h += [f"card/{t}" for t in others]
    rows = []
    for x in sizes:
        row = [x]
        for t in targets:
            rs = tx[t][str(x)]
            row += [f"{med(rs, 'fps') / 1e3:.0f} {spread(rs, 'fps')}",
                    f"{med(rs, 'gbps'):.2f}"]
        for t in others:
            row.append(f"{med(tx['card'][str(x)], 'fps') / med(tx[t][str(x)], 'fps'):.2f}")
        rows.append(row)
    out += ["Throughput, host -> device (TX ring), wall time from doorbell "
            "to the head reaching the tail (± half the range of the "
            "repetitions, relative to the median)", "", fmt_table(rows, h),
            ""]

    h = ["frame B"]
    cols = []
    for t in targets:
        threads = sorted({k for x in sizes for r in tx[t][str(x)]
                          for k, v in r["cpu_ns_per_frame"].items()
                          if v >= 5 and not k.endswith(" wait")})
        threads = [k for k in ("proxycard-fw", "main") if k in threads] + \
            [k for k in threads if k not in ("proxycard-fw", "main")]
        for k in threads:
            cols.append((t, k))
            h.append(f"{t} {k}")
    rows = []
    for x in sizes:
        rows.append([x] + [f"{med(tx[t][str(x)], 'cpu_ns_per_frame', k):.0f}"
                           for t, k in cols])
    waits = []
    for t, k in cols:
        share = [statistics.median(
            r["cpu_ns_per_frame"].get(k + " wait", 0) * r["frames"] /
            (r["seconds"] * 1e9) for r in tx[t][str(x)]) for x in sizes]
        waits.append(f"{t} {k} {min(share):.0%} to {max(share):.0%}")
    out += ["CPU time per frame (ns) of the QEMU threads in the timed "
            "interval (schedstat). \"main\" is QEMU's main loop: qtest, MMIO, "
            "and e1000e's whole TX path; proxycard-fw is the card's firmware "
            "thread, where the card's ring engine runs", "",
            fmt_table(rows, h),
            "Runnable but waiting for a CPU, share of the timed wall time "
            "(schedstat; high means the machine was short of CPUs): "
            + "; ".join(waits), ""]

    # The rate each device's worker thread could sustain on a CPU of its
    # own: 1 / its CPU time per frame (less sensitive to other processes).
    h = ["frame B"]
    workers = [(t, TARGETS[t][1].WORKER or "main") for t in targets]
    for t, k in workers:
        h += [f"{t} kframes/s", f"{t} Gbit/s"]
    cap = {}
    rows = []
    for x in sizes:
        row = [x]
        for t, k in workers:
            ns = med(tx[t][str(x)], "cpu_ns_per_frame", k)
            cap[t, x] = 1e9 / ns if ns else 0
            row += [f"{cap[t, x] / 1e3:.0f}", f"{cap[t, x] * x * 8 / 1e9:.2f}"]
        rows.append(row)
    out += ["CPU-bound rate: 1 / the worker thread's CPU time per frame "
            "(card: proxycard-fw; e1000e: the main loop, qtest included), "
            "what it would sustain with a CPU to itself", "",
            fmt_table(rows, h), ""]

    h = ["frame B"]
    for t in targets:
        h += [f"{t} ms/batch", f"{t} polls"]
    rows = []
    for x in sizes:
        row = [x]
        for t in targets:
            rs = tx[t][str(x)]
            row += [f"{statistics.median(r['seconds'] / r['batches'] for r in rs) * 1e3:.2f}",
                    f"{med(rs, 'polls_per_batch'):.1f}"]
        rows.append(row)
    out += [f"Per batch of {BATCH} frames: timed milliseconds and readl polls "
            "(the doorbell writel and each poll are one qtest round trip)",
            "", fmt_table(rows, h), ""]
    allr = [r for t in targets for x in sizes for r in tx[t][str(x)]] + \
        [r for rs in res["arp"].values() for r in rs]
    fc = [r["foreign_cpu"] for r in allr]
    out.append(f"Other processes on the machine during the measurements: "
               f"median {statistics.median(fc):.0%} of a CPU, max "
               f"{max(fc):.0%}; {sum(r['attempts'] > 1 for r in allr)} of "
               f"{len(allr)} measurements repeated because of them "
               "(over 10%), the least disturbed attempt kept")
    out.append("qtest readl round trip on an idle register, us (before / "
               "after): " + "; ".join(
                   f"{t} {res['rtt_us'][t]:.1f} / "
                   f"{res['rtt_after_us'][t]:.1f}" for t in targets))
    if "card" in targets:
        drops = [f"{x} B: {med(tx['card'][str(x)], 'dropped') / med(tx['card'][str(x)], 'frames'):.0%}"
                 for x in sizes if med(tx["card"][str(x)], "dropped")]
        if drops:
            out.append("card: TX frames the firmware dropped on arrival "
                       "(bus-rx-dropped; frame over its netif MTU): "
                       + ", ".join(drops))
    out.append("")
    if res["arp"]:
        rows = []
        for t, rs in res["arp"].items():
            cpu = sorted(k for k in rs[0]["cpu_ns_per_reply"]
                         if not k.endswith(" wait"))
            rows.append([t, f"{med(rs, 'rps') / 1e3:.0f} {spread(rs, 'rps')}",
                         " ".join(f"{k} {med(rs, 'cpu_ns_per_reply', k):.0f}"
                                  for k in cpu
                                  if med(rs, 'cpu_ns_per_reply', k) >= 5),
                         f"{med(rs, 'latency_us'):.0f}",
                         f"{med(rs, 'latency_p90_us'):.0f}"])
        out += [f"ARP request -> reply (request on the TX ring, reply into "
                f"the RX ring): {BATCH} requests per doorbell, timed until "
                f"the RX head has moved by {BATCH}; then one at a time "
                f"(doorbell, poll RX head: qtest round trips included)", "",
                fmt_table(rows, ["target", "k round trips/s",
                                 "CPU ns per round trip",
                                 "one at a time: median us", "p90 us"]), ""]
    for k, v in res["perf"].items():
        if v:
            out.append(f"perf, {k}{' round trips' if k.endswith('arp') else ' B TX'} "
                       f"({v['fps'] / 1e3:.0f} k/s while profiled; whole "
                       "QEMU process, the untimed ring rewrites included). "
                       "Samples by thread:")
            out += ["    " + ln for ln in v["threads"]]
            out.append("  inclusive (--children), % of all samples:")
            out += ["    " + ln for ln in v["inclusive"]]
            out.append("  self, top symbols:")
            out += ["    " + ln for ln in v["self"]]
            out.append("")
    out.append(f"run took {res['elapsed_s']:.0f} s")
    text = "\n".join(out)
    print(text)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=1)
    if args.md:
        with open(args.md, "w") as f:
            f.write("```\n" + text + "\n```\n")


def sigterm_as_interrupt(signum, frame):
    raise KeyboardInterrupt


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, sigterm_as_interrupt)
    try:
        main()
    except BenchError as e:
        log(f"error: {e}")
        sys.exit(1)
    except KeyboardInterrupt:
        log("interrupted")
        sys.exit(130)
