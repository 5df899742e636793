#!/usr/bin/env python3
"""Replay qtest traces against a QEMU binary and check that it survives them.

usage: replay.py --qemu QEMU [--timeout S] [--repeat N] TRACE...

A trace is what the device fuzzer's reproducers are (docs/fuzzing-device.md):
one qtest command per line (outl 0xcf8 0x80000804, writel 0xe000000c 0x1,
clock_step, ...), '#' comments and blank lines ignored.  Each trace runs in a
fresh QEMU with the fuzz target's arguments (generic-fuzz-proxycard):

    -display none -machine accel=qtest -m 512M -M q35 -nodefaults
    -netdev user,id=n0 -device proxycard,netdev=n0 -qtest stdio

The whole trace is written at once (qtest then runs command after command
with the BQL held, as the fuzzer does: that is what makes the races of
tests/fuzz-device/*.qtest likely).  A trace passes when

  - QEMU answers every command ("OK ..."; "FAIL"/"ERR" means a broken trace)
    within --timeout seconds: otherwise it hangs (a deadlock);
  - QMP "quit" then ends it with status 0 within 10 s: otherwise it crashed,
    asserted or hangs at exit;
  - its standard error has no sanitizer report (a build with
    --enable-sanitizers: build/qemu-fuzz/qemu-system-x86_64).

Prints TAP ("ok N - TRACE", "not ok N - TRACE: why") and exits 1 if any
trace failed.  QEMU is stopped by its own pid only.
"""

import argparse
import json
import os
import select
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

QEMU_ARGS = [
    "-display", "none", "-machine", "accel=qtest", "-m", "512M",
    "-M", "q35", "-nodefaults",
    "-netdev", "user,id=n0", "-device", "proxycard,netdev=n0",
]

SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                   "runtime error:", "ERROR: UndefinedBehaviorSanitizer")


def read_trace(path):
    cmds = []
    with open(path, encoding="ascii") as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#"):
                cmds.append(line)
    return cmds


def qmp_quit(sock_path, deadline):
    """Send QMP quit; return None or why it could not be sent."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(max(0.1, deadline - time.monotonic()))
    try:
        s.connect(sock_path)
        f = s.makefile("rw", encoding="utf-8", newline="\n")
        json.loads(f.readline())                     # greeting
        for cmd in ({"execute": "qmp_capabilities"}, {"execute": "quit"}):
            f.write(json.dumps(cmd) + "\n")
            f.flush()
            while True:
                msg = json.loads(f.readline())
                if "return" in msg or "error" in msg:
                    break
        return None
    except (OSError, ValueError) as e:
        return "QMP quit failed: %s" % e
    finally:
        s.close()


def replay(qemu, path, timeout, repeat):
    cmds = read_trace(path) * repeat
    if not cmds:
        return "empty trace"
    tmp = tempfile.mkdtemp(prefix="pc-replay-")
    qmp = os.path.join(tmp, "qmp.sock")
    err_path = os.path.join(tmp, "stderr")
    with open(err_path, "wb") as err:
        proc = subprocess.Popen(
            [qemu] + QEMU_ARGS + ["-qtest", "stdio",
                                  "-qmp", "unix:%s,server=on,wait=off" % qmp],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err)
    why = None
    try:
        data = ("\n".join(cmds) + "\n").encode("ascii")

        def writer():
            try:
                proc.stdin.write(data)
                proc.stdin.flush()
            except OSError:
                pass            # QEMU died: the reader sees it
        threading.Thread(target=writer, daemon=True).start()

        deadline = time.monotonic() + timeout
        answered, buf = 0, b""
        fd = proc.stdout.fileno()
        while answered < len(cmds) and why is None:
            left = deadline - time.monotonic()
            if left <= 0:
                why = "hang: %d of %d commands answered in %g s" % (
                    answered, len(cmds), timeout)
                break
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                why = "QEMU closed stdout after %d of %d commands (exit %s)" % (
                    answered, len(cmds), proc.wait(10))
                break
            buf += chunk
            *lines, buf = buf.split(b"\n")
            for line in lines:
                if line.startswith(b"OK"):
                    answered += 1
                elif line.startswith((b"FAIL", b"ERR")):
                    why = "command %d (%s) answered %r: not a valid trace" % (
                        answered + 1, cmds[answered], line.decode(errors="replace"))
                    break
                # anything else (IRQ raise/lower) is an event, not an answer
        if why is None:
            why = qmp_quit(qmp, time.monotonic() + 10)
        if why is None:
            try:
                rc = proc.wait(10)
                if rc != 0:
                    why = "exit status %d after quit" % rc
            except subprocess.TimeoutExpired:
                why = "no exit within 10 s of QMP quit"
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
        with open(err_path, encoding="utf-8", errors="replace") as f:
            stderr = f.read()
        for name in (qmp, err_path):
            if os.path.exists(name):
                os.unlink(name)
        os.rmdir(tmp)
    if why is None and any(m in stderr for m in SANITIZER_MARKS):
        why = "sanitizer report"
    if why is not None and stderr.strip():
        tail = stderr.strip().splitlines()[-15:]
        why += "\n" + "\n".join("#   " + line for line in tail)
    return why


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--qemu", required=True)
    ap.add_argument("--timeout", type=float, default=30,
                    help="seconds for QEMU to answer a whole trace")
    ap.add_argument("--repeat", type=int, default=1,
                    help="run each trace's commands N times in one QEMU")
    ap.add_argument("traces", nargs="+")
    args = ap.parse_args()

    print("1..%d" % len(args.traces))
    failed = 0
    for i, path in enumerate(args.traces, 1):
        t0 = time.monotonic()
        why = replay(args.qemu, path, args.timeout, args.repeat)
        name = os.path.basename(path)
        if why is None:
            print("ok %d - %s (%.1f s)" % (i, name, time.monotonic() - t0))
        else:
            failed += 1
            print("not ok %d - %s: %s" % (i, name, why))
        sys.stdout.flush()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
