#!/bin/bash
# Boot the proxycard guest (built by scripts/build-guest.sh) in QEMU.
#
# usage: scripts/run-vm.sh [OPTIONS] [-- EXTRA QEMU ARGS]
#        scripts/run-vm.sh [--port N | --tap | --state DIR] --exec 'COMMAND'
#        scripts/run-vm.sh [--port N | --tap | --state DIR] --stats
#
#   --virtio          a virtio-net NIC instead of the card (for comparisons)
#   --port N          host port forwarded to the guest's port 80 (default 8080;
#                     QEMU user networking: hostfwd=tcp:127.0.0.1:N-:80)
#   --tap             no user networking: the NIC is on a TAP device inside a
#                     network namespace this script creates (pcard-PID, the
#                     namespace's side 10.0.2.2/24; the guest is 10.0.2.15) and
#                     removes at exit.  Clients run in it:
#                       ip netns exec pcard-PID curl http://10.0.2.15/
#                     This is the path for many concurrent clients: QEMU's
#                     user networking (libslirp) accepts forwarded
#                     connections with a listen backlog of 1.
#   --kvm | --tcg     the accelerator; by default TCG, and KVM only if a
#                     20-second probe boot under KVM reached READY (the result
#                     is cached in BUILD/guest/kvm-probe; delete it to probe
#                     again)
#   --console FILE    the guest's serial console goes to FILE and the script
#                     waits for READY, prints what to do next, then waits for
#                     the VM to end.  Without it, and with a terminal on stdin,
#                     the console is the terminal (Ctrl-A x or Ctrl-C quits,
#                     Ctrl-A c the QEMU monitor); without a terminal it goes to
#                     STATE/console.log.
#   --state DIR       where the VM's sockets and logs live (default
#                     BUILD/guest/vm-PORT, or BUILD/guest/vm-tap with --tap)
#   --build DIR       the build directory (default $BUILD or build)
#   --mem SIZE        guest memory (default 512M); --smp N vCPUs (default 1)
#   --boot-timeout S  seconds to wait for READY with --console (default 180)
#   --exec 'COMMAND'  run COMMAND in the running guest over its command
#                     channel (the second serial port) and print its output;
#                     exits with COMMAND's status.  E.g. 'proxycardctl stats',
#                     'ethtool -S pcard0', 'poweroff'
#   --stats           print the running card's statistics (QMP qom-get of the
#                     device's stats property; docs/datasheet.md §6a)
#
# The card: -device proxycard,id=card,netdev=n0,config=BUILD/guest/card-boot.conf
# (no listener, the pool size only: a pool cannot change once the card runs);
# the guest's init loads /etc/proxycard.conf ("listen 80 http 8080") with
# proxycardctl, which opens port 80.  User networking is restrict=on: the
# guest reaches nothing outside, forwarded connections still come in.
#
# The VM ends with 'poweroff' in the guest (QEMU runs with -no-reboot), with
# Ctrl-C, or with SIGTERM to this script: QEMU is stopped by its PID (SIGTERM,
# then SIGKILL after 10 s) and the namespace removed.  Exit status: 0 when the
# guest powered off or the script was asked to stop, 1 on a failure (the
# console log is printed).
set -u

TOP=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$TOP/build}
VARIANT=card
PORT=8080
TAP=0
ACCEL=auto
CONSOLE=
STATE=
MEM=512M
SMP=1
BOOT_TIMEOUT=180
ACTION=run
EXEC_CMD=
EXTRA=()

usage() {
    sed -n '2,/^set -u/p' "$0" | sed -e '/^set -u/d' -e 's/^# \{0,1\}//'
    exit "${1:-0}"
}
die() { printf 'run-vm: %s\n' "$*" >&2; exit 1; }
say() { printf 'run-vm: %s\n' "$*"; }

while [ $# -gt 0 ]; do
    case $1 in
    --virtio) VARIANT=virtio ;;
    --card) VARIANT=card ;;
    --port) PORT=${2:?--port needs a number}; shift ;;
    --tap) TAP=1 ;;
    --kvm) ACCEL=kvm ;;
    --tcg) ACCEL=tcg ;;
    --console) CONSOLE=${2:?--console needs a file}; shift ;;
    --state) STATE=${2:?--state needs a directory}; shift ;;
    --build) BUILD=${2:?--build needs a directory}; shift ;;
    --mem) MEM=${2:?}; shift ;;
    --smp) SMP=${2:?}; shift ;;
    --boot-timeout) BOOT_TIMEOUT=${2:?}; shift ;;
    --exec) ACTION=exec; EXEC_CMD=${2:?--exec needs a command}; shift ;;
    --stats) ACTION=stats ;;
    -h|--help) usage 0 ;;
    --) shift; EXTRA=("$@"); break ;;
    *) echo "run-vm: unknown argument '$1'" >&2; usage 2 >&2 ;;
    esac
    shift
done
case $PORT in ''|*[!0-9]*) die "--port needs a number, not '$PORT'" ;; esac
[ "$PORT" -ge 1 ] && [ "$PORT" -le 65535 ] || die "--port $PORT is not a TCP port"

case $BUILD in /*) ;; *) BUILD=$PWD/$BUILD ;; esac
G=$BUILD/guest
QEMU=$BUILD/qemu-system-x86_64
if [ -z "$STATE" ]; then
    if [ $TAP = 1 ]; then STATE=$G/vm-tap; else STATE=$G/vm-$PORT; fi
fi
case $STATE in /*) ;; *) STATE=$PWD/$STATE ;; esac

# ---- helpers that talk to a running VM ----------------------------------------
if [ "$ACTION" = exec ]; then
    [ -S "$STATE/cmd.sock" ] || die "no running VM with state in $STATE (no cmd.sock)"
    exec python3 - "$STATE/cmd.sock" "$EXEC_CMD" <<'PY'
import os, socket, sys, time
path, cmd = sys.argv[1], sys.argv[2]
if "\n" in cmd:
    sys.exit("run-vm: the command must be one line")
tag = f"x{os.getpid()}{int(time.time() * 1000) % 100000}"
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(300)
try:
    s.connect(path)
except OSError as e:
    sys.exit(f"run-vm: cannot connect to {path}: {e}")
s.sendall(f"{tag} {cmd}\n".encode())
buf = b""
begun = False
begin, end = f"@@BEGIN {tag}\n".encode(), f"@@END {tag} ".encode()
while True:
    try:
        data = s.recv(65536)
    except socket.timeout:
        sys.exit("run-vm: no answer from the guest in 300 s")
    if not data:
        if cmd.strip() in ("poweroff", "reboot", "halt"):
            sys.exit(0)
        sys.exit("run-vm: the command channel closed")
    buf += data
    if not begun:
        i = buf.find(begin)
        if i < 0:
            continue
        buf = buf[i + len(begin):]
        begun = True
    i = buf.find(end)
    if i >= 0 and buf.find(b"\n", i) >= 0:
        sys.stdout.buffer.write(buf[:i])
        rc = int(buf[i + len(end):buf.find(b"\n", i)].strip() or 1)
        if cmd.strip() in ("poweroff", "reboot", "halt"):
            rc = 0
        sys.exit(rc)
    # Output before the end marker: print what cannot be part of it.
    keep = len(end) + 8
    if len(buf) > keep:
        sys.stdout.buffer.write(buf[:-keep])
        sys.stdout.flush()
        buf = buf[-keep:]
PY
fi
if [ "$ACTION" = stats ]; then
    [ -S "$STATE/qmp.sock" ] || die "no running VM with state in $STATE (no qmp.sock)"
    exec python3 - "$STATE/qmp.sock" <<'PY'
import json, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(10)
s.connect(sys.argv[1])
f = s.makefile("rwb")
def cmd(execute, **args):
    msg = {"execute": execute}
    if args:
        msg["arguments"] = args
    f.write(json.dumps(msg).encode() + b"\n")
    f.flush()
    while True:
        r = json.loads(f.readline())
        if "return" in r or "error" in r:
            return r
json.loads(f.readline())                      # greeting
cmd("qmp_capabilities")
r = cmd("qom-get", path="/machine/peripheral/card", property="stats")
if "error" in r:
    sys.exit("run-vm: no card statistics: " + r["error"].get("desc", str(r)))
print(json.dumps(r["return"], indent=2))
PY
fi

# ---- boot ------------------------------------------------------------------------
[ -x "$QEMU" ] || die "$QEMU is not built (make qemu)"
KERNEL=$G/vmlinuz
INITRD=$G/initrd-$VARIANT.cpio.gz
[ -f "$KERNEL" ] || die "$KERNEL missing: build the guest first (scripts/build-guest.sh $BUILD)"
if [ ! -f "$INITRD" ]; then
    if [ $VARIANT = card ]; then
        die "$INITRD missing: it needs the driver (host-driver/proxycard.ko and proxycardctl), then scripts/build-guest.sh $BUILD; --virtio boots the virtio-net guest"
    fi
    die "$INITRD missing: scripts/build-guest.sh $BUILD"
fi
if [ $TAP = 1 ] && [ "$(id -u)" != 0 ]; then
    die "--tap needs root (it creates a network namespace and a TAP device)"
fi

mkdir -p "$STATE"
if [ -f "$STATE/pid" ] && kill -0 "$(cat "$STATE/pid")" 2>/dev/null; then
    die "a VM already runs with state in $STATE (pid $(cat "$STATE/pid")); use another --port or --state"
fi
echo $$ >"$STATE/pid"
rm -f "$STATE/qmp.sock" "$STATE/cmd.sock" "$STATE/netns" "$STATE/ready"

if [ $TAP = 0 ] && (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
    rm -f "$STATE/pid"
    die "127.0.0.1:$PORT is in use; choose another with --port"
fi

QPID=
NS=
PROBE_PID=
cleanup() {
    local i
    for pid in $PROBE_PID $QPID; do
        if kill -0 "$pid" 2>/dev/null; then
            kill -TERM "$pid" 2>/dev/null
            for i in $(seq 100); do
                kill -0 "$pid" 2>/dev/null || break
                sleep 0.1
            done
            kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
            wait "$pid" 2>/dev/null
        fi
    done
    PROBE_PID= QPID=
    if [ -n "$NS" ]; then
        ip netns del "$NS" 2>/dev/null
        NS=
    fi
    rm -f "$STATE/pid" "$STATE/qemu.pid" "$STATE/qmp.sock" "$STATE/cmd.sock" "$STATE/netns" \
        "$STATE/ready"
}
on_signal() {
    trap - INT TERM HUP
    echo
    say "stopping the VM"
    cleanup
    exit 0
}
trap cleanup EXIT
trap on_signal INT TERM HUP

# ---- accelerator: TCG unless a short KVM boot proves KVM works -------------------
KVM_WHY=
kvm_probe() {   # true if KVM works; KVM_WHY says why not
    local cache=$G/kvm-probe log=$STATE/kvm-probe.log i
    if [ ! -r /dev/kvm ] || [ ! -w /dev/kvm ]; then
        KVM_WHY="no usable /dev/kvm"
        return 1
    fi
    # Whether KVM works is a matter of this machine, QEMU and the kernel:
    # a rebuilt initramfs keeps the cached answer.
    if [ ! -f "$cache" ] || [ "$KERNEL" -nt "$cache" ] || [ "$QEMU" -nt "$cache" ]; then
        say "probing KVM: booting the guest under KVM for at most 20 s (once; cached in $cache)"
        rm -f "$log"
        "$QEMU" -M q35 -accel kvm -m 256M -smp 1 -nodefaults -display none -no-reboot \
            -kernel "$KERNEL" -initrd "$G/initrd-virtio.cpio.gz" \
            -append "console=ttyS0 panic=-1" -serial "file:$log" \
            -device virtio-net-pci,netdev=p0,romfile= -netdev user,id=p0,restrict=on \
            </dev/null >"$STATE/kvm-probe.stderr" 2>&1 &
        PROBE_PID=$!
        for i in $(seq 200); do
            grep -q 'proxycard-guest: READY' "$log" 2>/dev/null && break
            kill -0 $PROBE_PID 2>/dev/null || break
            sleep 0.1
        done
        if grep -q 'proxycard-guest: READY' "$log" 2>/dev/null; then
            echo "ok: the guest reached READY under KVM in $((i / 10)) s" >"$cache"
        elif ! kill -0 $PROBE_PID 2>/dev/null; then
            echo "fails: QEMU under KVM exited: $(tail -n 1 "$STATE/kvm-probe.stderr")" >"$cache"
        else
            echo "fails: no READY within 20 s under KVM ($(wc -c <"$log" 2>/dev/null || echo 0) console bytes)" >"$cache"
        fi
        kill -KILL $PROBE_PID 2>/dev/null
        wait $PROBE_PID 2>/dev/null
        PROBE_PID=
    fi
    KVM_WHY=$(sed -n 1p "$cache")
    grep -q '^ok' "$cache"
}
if [ $ACCEL = auto ]; then
    if kvm_probe; then
        say "using KVM (probe: $KVM_WHY)"
        ACCEL=kvm
    else
        say "using TCG (KVM probe: $KVM_WHY)"
        ACCEL=tcg
    fi
fi

# ---- network ------------------------------------------------------------------------
PREFIX=()
if [ $TAP = 1 ]; then
    NS=pcard-$$
    TAPDEV=pctap$$
    ip netns add "$NS" || { NS=; die "cannot create network namespace pcard-$$"; }
    ip -n "$NS" link set lo up &&
    ip -n "$NS" tuntap add dev "$TAPDEV" mode tap &&
    ip -n "$NS" addr add 10.0.2.2/24 dev "$TAPDEV" &&
    ip -n "$NS" link set "$TAPDEV" up || die "cannot set up $TAPDEV in namespace $NS"
    echo "$NS" >"$STATE/netns"
    NETDEV="tap,id=n0,ifname=$TAPDEV,script=no,downscript=no"
    PREFIX=(ip netns exec "$NS")
    URL=http://10.0.2.15/
    CLIENT="ip netns exec $NS curl"
else
    NETDEV="user,id=n0,restrict=on,hostfwd=tcp:127.0.0.1:$PORT-:80"
    URL=http://127.0.0.1:$PORT/
    CLIENT=curl
fi
if [ $VARIANT = card ]; then
    NIC=(-device "proxycard,id=card,netdev=n0,config=$G/card-boot.conf")
    IFACE=pcard0
else
    NIC=(-device "virtio-net-pci,id=nic,netdev=n0,romfile=")
    IFACE=eth0
fi

# ---- console ----------------------------------------------------------------------
INTERACTIVE=0
if [ -z "$CONSOLE" ] && [ -t 0 ]; then
    INTERACTIVE=1
    CONSOLE=$STATE/console.log
    SERIAL=(-chardev "stdio,id=con,mux=on,signal=on,logfile=$CONSOLE"
            -serial chardev:con -mon chardev=con,mode=readline)
else
    CONSOLE=${CONSOLE:-$STATE/console.log}
    case $CONSOLE in /*) ;; *) CONSOLE=$PWD/$CONSOLE ;; esac
    SERIAL=(-serial "file:$CONSOLE")
fi
: >"$CONSOLE"

ARGS=(-M q35 -accel "$ACCEL" -m "$MEM" -smp "$SMP" -nodefaults -display none -no-reboot
      -kernel "$KERNEL" -initrd "$INITRD" -append "console=ttyS0 panic=-1"
      "${SERIAL[@]}"
      -chardev "socket,id=cmd,path=$STATE/cmd.sock,server=on,wait=off" -serial chardev:cmd
      -qmp "unix:$STATE/qmp.sock,server=on,wait=off"
      "${NIC[@]}" -netdev "$NETDEV" "${EXTRA[@]+"${EXTRA[@]}"}")
printf '%q ' "${PREFIX[@]+"${PREFIX[@]}"}" "$QEMU" "${ARGS[@]}" >"$STATE/qemu-cmdline"
echo >>"$STATE/qemu-cmdline"

self=$0
[ "$self" -ef "$TOP/scripts/run-vm.sh" ] && self=scripts/run-vm.sh
if [ $TAP = 1 ]; then WHERE="--tap"; else WHERE="--port $PORT"; fi
[ "$STATE" = "$G/vm-$PORT" ] || [ "$STATE" = "$G/vm-tap" ] || WHERE="--state $STATE"
next_steps() {
    cat <<EOF
------------------------------------------------------------------------------
The guest ($VARIANT, $ACCEL) serves nginx$( [ $VARIANT = card ] && echo " through the card" ).$(
    [ $TAP = 1 ] && printf '\nClients live in network namespace %s (the guest is 10.0.2.15):' "$NS" )
  $CLIENT ${URL}
  $CLIENT -o f10m.bin ${URL}f10m.bin     # 10 MiB; sums in $G/www.sha256
  $CLIENT ${URL}nginx_status             # nginx's connection counts
EOF
    if [ $VARIANT = card ]; then cat <<EOF
The card's statistics:
  $self $WHERE --stats                            # from QEMU (QMP)
  $self $WHERE --exec 'proxycardctl stats'        # from the driver, in the guest
  $self $WHERE --exec 'ethtool -S pcard0'
  $self $WHERE --exec 'proxycardctl log'
EOF
    else cat <<EOF
In the guest:
  $self $WHERE --exec 'ethtool -S eth0'
EOF
    fi
    cat <<EOF
Stop it: $self $WHERE --exec poweroff   (or 'poweroff' on the console, or Ctrl-C)
Console: $CONSOLE
------------------------------------------------------------------------------
EOF
}

if [ $INTERACTIVE = 1 ]; then
    next_steps
    echo "Booting; wait for 'proxycard-guest: READY'.  Ctrl-A x or Ctrl-C quits, Ctrl-A c is the QEMU monitor."
    "${PREFIX[@]+"${PREFIX[@]}"}" "$QEMU" "${ARGS[@]}" <&0 &
    QPID=$!
    echo "$QPID" >"$STATE/qemu.pid"
    wait "$QPID"
    rc=$?
    QPID=
    exit $rc
fi

t0=$(date +%s.%N)
"${PREFIX[@]+"${PREFIX[@]}"}" "$QEMU" "${ARGS[@]}" </dev/null &
QPID=$!
echo "$QPID" >"$STATE/qemu.pid"
say "booting the $VARIANT guest under $ACCEL (QEMU pid $QPID; console $CONSOLE)"
deadline=$(( $(date +%s) + BOOT_TIMEOUT ))
while :; do
    if grep -q 'proxycard-guest: READY' "$CONSOLE" 2>/dev/null; then
        break
    fi
    if grep -q 'proxycard-guest: FAILED' "$CONSOLE" 2>/dev/null ||
       ! kill -0 "$QPID" 2>/dev/null || [ "$(date +%s)" -ge "$deadline" ]; then
        if ! kill -0 "$QPID" 2>/dev/null; then
            wait "$QPID"
            say "QEMU exited with status $? before the guest was ready"
            QPID=
        elif [ "$(date +%s)" -ge "$deadline" ]; then
            say "the guest did not print READY within $BOOT_TIMEOUT s"
        else
            say "the guest failed to start: $(grep -a 'proxycard-guest: FAILED' "$CONSOLE" | head -n 1)"
        fi
        echo "---- console ($CONSOLE) ----"
        tr -d '\r' <"$CONSOLE"
        echo "---- end of console ----"
        exit 1
    fi
    sleep 0.2
done
took=$(echo "$t0 $(date +%s.%N)" | awk '{ printf "%.1f", $2 - $1 }')
echo "$took" >"$STATE/ready"
say "READY after $took s"
next_steps
wait "$QPID"
rc=$?
QPID=
if grep -aq 'Kernel panic' "$CONSOLE"; then
    say "the guest kernel panicked:"
    grep -a -A 20 'Kernel panic' "$CONSOLE" | tr -d '\r' | head -n 30
    exit 1
fi
if grep -q 'proxycard-guest: powering off' "$CONSOLE"; then
    say "the guest powered off"
    exit 0
fi
say "QEMU exited with status $rc"
exit $rc
