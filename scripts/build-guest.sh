#!/bin/bash
# Build the guest that scripts/run-vm.sh boots: Debian's kernel and two
# initramfs images, one serving nginx behind the proxycard (through the
# driver's pcard0 bus-link interface), one serving the same nginx on a
# virtio-net NIC (for comparisons, and to test the VM set-up without the card).
#
# usage: scripts/build-guest.sh BUILD_DIR [--driver KO --ctl BIN]
#
#   --driver KO   the proxycard driver module (default host-driver/proxycard.ko)
#   --ctl BIN     the control tool (default host-driver/proxycardctl)
#
# The card image is built only when both exist; otherwise the script says so
# and builds the virtio image alone.  Outputs, in BUILD_DIR/guest/:
#
#   vmlinuz                  Debian's kernel (linux-image-<abi>-amd64)
#   initrd-card.cpio.gz      busybox, the driver, proxycardctl, nginx, ethtool
#   initrd-virtio.cpio.gz    the same with virtio-net instead of the card
#   card-boot.conf           the card's configuration at device creation
#                            (`pool` only: run-vm.sh passes it as config=)
#   proxycard.conf           the configuration the guest loads (/etc/proxycard.conf)
#   www/ , www.sha256        the site (the same files are in both images) and
#                            their sha256 sums, for byte-exact tests
#   abi                      the kernel ABI the images were built for
#
# The kernel ABI comes from host-driver/kernel-abi.sh if it exists, else from
# linux-image-amd64's dependency (apt-cache depends), never hard-coded.
# Needs root the first time (apt-get install of busybox-static, cpio, ethtool,
# kmod; apt-get download of the kernel); later runs only redo what is older
# than its inputs.
#
# The guest (both images): busybox init; /etc/init.d/rcS mounts proc, sys,
# dev, loads the NIC driver and its dependencies with insmod (order resolved
# here from the kernel's modules.dep), configures the interface, loads the
# card configuration (card image), starts nginx and prints
#   proxycard-guest: READY variant=... url=...
# on the first serial port (or "proxycard-guest: FAILED: reason").  The second
# serial port (ttyS1) carries a command channel: each line "ID COMMAND" runs
# COMMAND with sh and is answered by "@@BEGIN ID", its output, then
# "@@END ID STATUS".
# run-vm.sh connects it to a Unix socket (run-vm.sh --exec uses it).
set -euo pipefail

usage() {
    sed -n '2,/^set -euo/p' "$0" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//'
    exit "${1:-0}"
}

TOP=$(cd "$(dirname "$0")/.." && pwd)
BUILD=
DRIVER=
CTL=
while [ $# -gt 0 ]; do
    case $1 in
    --driver) DRIVER=${2:?--driver needs a file}; shift 2 ;;
    --ctl) CTL=${2:?--ctl needs a file}; shift 2 ;;
    -h|--help) usage 0 ;;
    -*) echo "build-guest: unknown option $1" >&2; usage 2 >&2 ;;
    *) [ -z "$BUILD" ] || { echo "build-guest: one BUILD_DIR only" >&2; exit 2; }
       BUILD=$1; shift ;;
    esac
done
[ -n "$BUILD" ] || usage 2 >&2
mkdir -p "$BUILD"
BUILD=$(cd "$BUILD" && pwd)
G=$BUILD/guest
mkdir -p "$G"

# Both given, or both defaulted; the card image needs the pair.
explicit_driver=0
if [ -n "$DRIVER$CTL" ]; then
    explicit_driver=1
    [ -n "$DRIVER" ] && [ -n "$CTL" ] || { echo "build-guest: --driver and --ctl go together" >&2; exit 2; }
fi
DRIVER=${DRIVER:-$TOP/host-driver/proxycard.ko}
CTL=${CTL:-$TOP/host-driver/proxycardctl}

POOL=8                  # the card's pool; nginx must see at most this many connections
CARD_ADDR=10.76.0.1     # the server's end of the bus link (datasheet §5)
CARD_BUS_ADDR=10.76.0.2 # the card's own end of it: where nginx's clients come from
NGINX_PORT=8080         # nginx's port on the bus link
NGINX_PP_PORT=8081      # nginx's proxy_protocol port (card port 2222, pass-through)
NIC_ADDR=10.0.2.15      # the virtio guest's address (QEMU user networking's guest)

say() { printf 'build-guest: %s\n' "$*"; }
die() { printf 'build-guest: %s\n' "$*" >&2; exit 1; }

# stale OUT IN...: true if OUT is missing or older than one of IN.
stale() {
    local out=$1 f
    shift
    [ -e "$out" ] || return 0
    for f in "$@"; do
        [ "$f" -nt "$out" ] && return 0
    done
    return 1
}

# ---- packages ----------------------------------------------------------------
PKGS="busybox-static cpio ethtool kmod nginx iproute2"
missing=
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing="$missing $p"
done
if [ -n "$missing" ]; then
    [ "$(id -u)" = 0 ] || die "must run as root to install:$missing"
    say "installing$missing"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
BUSYBOX=/bin/busybox
[ -x "$BUSYBOX" ] || die "$BUSYBOX missing (busybox-static)"
NGINX=/usr/sbin/nginx
[ -x "$NGINX" ] || die "$NGINX missing (package nginx)"

# ---- kernel ABI and image ----------------------------------------------------
resolve_abi() {
    if [ -x "$TOP/host-driver/kernel-abi.sh" ]; then
        "$TOP/host-driver/kernel-abi.sh"
        return
    fi
    apt-cache depends linux-image-amd64 2>/dev/null |
        sed -n 's/^ *|\{0,1\}Depends: linux-image-\(.*\)-amd64$/\1/p' | head -n 1
}
ABI=$(resolve_abi || true)
if [ -z "$ABI" ]; then
    [ "$(id -u)" = 0 ] || die "cannot resolve the kernel ABI (apt-get update needed, as root)"
    apt-get update -qq
    ABI=$(resolve_abi)
fi
[ -n "$ABI" ] || die "cannot resolve the kernel ABI from linux-image-amd64"
KREL=$ABI-amd64
say "kernel $KREL"

DEBDIR=$G/deb
KROOT=$G/kernel-$KREL            # the unpacked linux-image package
mkdir -p "$DEBDIR"
deb=$(ls "$DEBDIR"/linux-image-"$KREL"_*.deb 2>/dev/null | tail -n 1 || true)
if [ -z "$deb" ]; then
    [ "$(id -u)" = 0 ] || die "must run as root to download linux-image-$KREL"
    say "downloading linux-image-$KREL"
    (cd "$DEBDIR" && apt-get download -q -o APT::Sandbox::User=root "linux-image-$KREL" >/dev/null)
    deb=$(ls "$DEBDIR"/linux-image-"$KREL"_*.deb | tail -n 1)
fi
if stale "$KROOT/.unpacked" "$deb"; then
    say "unpacking $(basename "$deb")"
    # Another ABI's kernel (Debian moved on) is of no more use.
    for old in "$G"/kernel-*; do
        [ "$old" = "$KROOT" ] || [ ! -d "$old" ] || rm -rf "$old"
    done
    find "$DEBDIR" -name 'linux-image-*.deb' ! -name "linux-image-${KREL}_*" -delete
    rm -rf "$KROOT"
    mkdir -p "$KROOT"
    dpkg-deb -x "$deb" "$KROOT"
    # The package has no modules.dep: make one (needed to resolve dependencies).
    depmod -b "$KROOT" "$KREL"
    touch "$KROOT/.unpacked"
fi
MODDIR=$KROOT/lib/modules/$KREL
# Copied only when it differs: its date keys run-vm.sh's cached KVM probe.
cmp -s "$KROOT/boot/vmlinuz-$KREL" "$G/vmlinuz" 2>/dev/null || cp "$KROOT/boot/vmlinuz-$KREL" "$G/vmlinuz"
echo "$ABI" >"$G/abi.new"
cmp -s "$G/abi.new" "$G/abi" 2>/dev/null && rm "$G/abi.new" || mv "$G/abi.new" "$G/abi"

# modpath NAME: the module's path relative to MODDIR (modules.dep key), or "".
modpath() {
    local want=${1//-/_}
    awk -F: -v want="$want" '{
        n = $1; sub(/.*\//, "", n); sub(/\.ko(\.[a-z]+)?$/, "", n); gsub(/-/, "_", n)
        if (n == want) { print $1; exit }
    }' "$MODDIR/modules.dep"
}
# moddeps PATH: the dependency paths of a module (modules.dep), one a line.
moddeps() {
    awk -F: -v key="$1" '$1 == key { n = split($2, d, " "); for (i = 1; i <= n; i++) print d[i] }' \
        "$MODDIR/modules.dep"
}
builtin() {
    local want=${1//-/_}
    sed 's,.*/,,; s,\.ko$,,; s,-,_,g' "$MODDIR/modules.builtin" | grep -qx "$want"
}
# Load order: each module after its dependencies (depth first), no repeats.
ORDER=()
visit() {
    local p=$1 d x
    for x in "${ORDER[@]+"${ORDER[@]}"}"; do [ "$x" = "$p" ] && return 0; done
    for d in $(moddeps "$p"); do visit "$d"; done
    ORDER+=("$p")
}
# resolve NAME...: append NAMEs (and their dependencies) to ORDER.
resolve() {
    local n p
    for n in "$@"; do
        if builtin "$n"; then continue; fi
        p=$(modpath "$n")
        [ -n "$p" ] || die "module $n is neither in $KREL's modules nor built in"
        visit "$p"
    done
}

# ---- the site -----------------------------------------------------------------
# Files of fixed, seeded content (Python's Mersenne Twister seeded by the
# name): the same bytes on every build; www.sha256 lists their sums.
WWW=$G/www
if stale "$G/www.sha256" "$0"; then
    say "generating the site in $WWW"
    rm -rf "$WWW"
    mkdir -p "$WWW"
    python3 - "$WWW" <<'PY'
import random, sys, os
www = sys.argv[1]
files = {"f0.bin": 0, "f1.bin": 1, "f1k.bin": 1000, "f64k1.bin": 65537,
         "f1m.bin": 1 << 20, "f10m.bin": 10 << 20}
for name, size in files.items():
    data = random.Random("proxycard-" + name).randbytes(size)
    with open(os.path.join(www, name), "wb") as f:
        f.write(data)
with open(os.path.join(www, "index.html"), "w") as f:
    f.write("""<!DOCTYPE html>
<html><head><title>proxycard guest</title></head>
<body><h1>proxycard guest</h1>
<p>Served by nginx in the guest.</p>
<p>Test files: f0.bin f1.bin f1k.bin f64k1.bin f1m.bin f10m.bin
(sha256 sums in build/guest/www.sha256); server status: /nginx_status</p>
</body></html>
""")
PY
    (cd "$WWW" && sha256sum -- * >"$G/www.sha256.new")
    mv "$G/www.sha256.new" "$G/www.sha256"
fi

# ---- configuration files ---------------------------------------------------------
write_if_changed() {    # write_if_changed FILE < content
    local f=$1
    cat >"$f.new"
    if cmp -s "$f.new" "$f" 2>/dev/null; then rm -f "$f.new"; else mv "$f.new" "$f"; fi
}
write_if_changed "$G/card-boot.conf" <<EOF
# The card's configuration at device creation (run-vm.sh: config=).  No
# listener: the guest enables port 80 by loading /etc/proxycard.conf.  The
# pool is sized at boot and cannot change afterwards (docs/datasheet.md §8),
# so it is set here, and the guest's file repeats the same value.
pool $POOL
EOF
write_if_changed "$G/proxycard.conf" <<EOF
# Loaded by the guest's init with 'proxycardctl load /etc/proxycard.conf'.
listen 80 http $NGINX_PORT
# Pass-through with the client's address in a PROXY protocol v2 header, to
# nginx's proxy_protocol listener (docs/security.md).
listen 2222 pass $NGINX_PP_PORT proxy-protocol v2
pool $POOL
EOF

# ---- the image ---------------------------------------------------------------------
# copy_bin SRC DEST_IN_ROOT ROOT: a binary and every library ldd names.
copy_bin() {
    local src=$1 dst=$2 root=$3 lib
    install -D -m 0755 "$src" "$root$dst"
    if ldd "$src" >/dev/null 2>&1; then
        for lib in $(ldd "$src" | awk '/=>/ { print $3 } !/=>/ && $1 ~ /^\// { print $1 }'); do
            [ -e "$root$lib" ] || install -D -m 0755 "$(readlink -f "$lib")" "$root$lib"
        done
    fi
}

gen_nginx_conf() {   # gen_nginx_conf LISTEN [CARD]
    local realip=
    # Behind the card every connection comes from the card's bus address;
    # the card names the client in the last X-Forwarded-For (docs/security.md,
    # "Client identity to the server").  Trusted from the card only, and the
    # last address only (no real_ip_recursive), so that a client's own
    # X-Forwarded-For cannot pose as another address.
    local pp=
    if [ -n "${2:-}" ]; then
        realip="    set_real_ip_from $2;
    real_ip_header X-Forwarded-For;"
        # The pass-through listener's server: it answers with the address
        # the card's PROXY protocol header named.
        pp="    server {
        listen ${1%:*}:$NGINX_PP_PORT proxy_protocol;
        location / {
            return 200 \"\$proxy_protocol_addr\\n\";
        }
    }"
    fi
    cat <<EOF
# nginx in the proxycard guest.  Error log to the file (the console shows
# nothing unless it fails to start); access log with the connection number,
# so a test can count the connections nginx saw, and the client's address.
worker_processes auto;
worker_rlimit_nofile 65536;
error_log /var/log/nginx/error.log notice;
pid /run/nginx.pid;
events {
    worker_connections 8192;
}
http {
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    log_format pc '\$connection \$connection_requests \$remote_addr \$status '
                  '\$body_bytes_sent "\$request"';
    access_log /var/log/nginx/access.log pc;
$realip
    sendfile on;
    tcp_nopush on;
    keepalive_timeout 300s;
    keepalive_requests 1000000;
    server {
        listen $1 backlog=4096;
        root /srv/www;
        location = /nginx_status {
            stub_status;
        }
    }
$pp
}
EOF
}

# build_image VARIANT OUT MODULES...: the initramfs of one variant.
build_image() {
    local variant=$1 out=$2
    shift 2
    local R=$G/root-$variant m f
    rm -rf "$R"
    mkdir -p "$R"/{bin,sbin,usr/bin,usr/sbin,etc/init.d,proc,sys,dev,run,tmp,root,srv/www} \
        "$R"/{var/lib/nginx,var/log/nginx,usr/share/nginx,etc/nginx} "$R/lib/modules/$KREL"
    chmod 1777 "$R/tmp"
    mknod -m 600 "$R/dev/console" c 5 1
    mknod -m 666 "$R/dev/null" c 1 3

    # busybox and its applets (links at the paths busybox names).
    install -m 0755 "$BUSYBOX" "$R/bin/busybox"
    for f in $("$BUSYBOX" --list-full); do
        [ -e "$R/$f" ] || ln -s /bin/busybox "$R/$f"
    done
    ln -sf bin/busybox "$R/init"

    # nginx, ethtool (and the control tool), with their libraries.
    copy_bin "$NGINX" /usr/sbin/nginx "$R"
    copy_bin /usr/sbin/ethtool /usr/sbin/ethtool "$R"
    cp /etc/nginx/mime.types "$R/etc/nginx/mime.types"

    # Modules, in load order, then a modules.dep for busybox modprobe.
    : >"$R/etc/nic-modules"
    for m in "$@"; do
        install -D -m 0644 "$MODDIR/$m" "$R/lib/modules/$KREL/$m"
        echo "$m" >>"$R/etc/nic-modules"
    done
    for f in modules.builtin modules.builtin.modinfo modules.order; do
        cp "$MODDIR/$f" "$R/lib/modules/$KREL/$f"
    done

    # Users nginx's workers run as; name service from files.
    cat >"$R/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
    cat >"$R/etc/group" <<'EOF'
root:x:0:
nogroup:x:65534:
EOF
    printf 'passwd: files\ngroup: files\nhosts: files\n' >"$R/etc/nsswitch.conf"
    printf '127.0.0.1 localhost\n' >"$R/etc/hosts"
    echo proxycard-guest >"$R/etc/hostname"

    cp -a "$WWW"/. "$R/srv/www/"

    # The guest's settings, read by the scripts below.
    if [ "$variant" = card ]; then
        cat >"$R/etc/guest.env" <<EOF
VARIANT=card
KREL=$KREL
IFACE=pcard0
ADDR=$CARD_ADDR/24
MTU=9000
NIC_MODULE=proxycard
URL=http://$CARD_ADDR:$NGINX_PORT/
EOF
        cp "$G/proxycard.conf" "$R/etc/proxycard.conf"
        gen_nginx_conf "$CARD_ADDR:$NGINX_PORT" "$CARD_BUS_ADDR" >"$R/etc/nginx/nginx.conf"
    else
        cat >"$R/etc/guest.env" <<EOF
VARIANT=virtio
KREL=$KREL
IFACE=eth0
ADDR=$NIC_ADDR/24
MTU=
NIC_MODULE=virtio_net
URL=http://$NIC_ADDR:80/
EOF
        gen_nginx_conf "80" >"$R/etc/nginx/nginx.conf"
    fi

    cat >"$R/etc/inittab" <<'EOF'
# busybox init: rcS brings the guest up; a shell on the console; the test
# command channel on ttyS1; poweroff ends QEMU (run with -no-reboot).
::sysinit:/etc/init.d/rcS
ttyS0::respawn:-/bin/sh
::respawn:/sbin/cmdchan
::shutdown:/sbin/guest-shutdown
EOF

    cat >"$R/etc/init.d/rcS" <<'EOF'
#!/bin/sh
# The guest's start-up: filesystems, the NIC, nginx, then READY.
export PATH=/sbin:/bin:/usr/sbin:/usr/bin
. /etc/guest.env
say() { echo "proxycard-guest: $*"; }
fail() { say "FAILED: $*"; exit 1; }

mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev 2>/dev/null
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs -o mode=0755 run /run
hostname -F /etc/hostname
say "init at $(cut -d' ' -f1 /proc/uptime)s, variant $VARIANT, kernel $(uname -r)"

# Room for many clients.
sysctl -q -w net.core.somaxconn=4096 net.ipv4.tcp_max_syn_backlog=4096 \
    net.ipv4.ip_local_port_range="10000 65535" >/dev/null 2>&1
ulimit -n 65536
ip link set lo up

# The interface first (nginx binds its address), the card's listeners last:
# loaded before nginx is up, the card's pool would dial a closed port and
# count connect failures for a server that is merely starting (issue 14).
/sbin/net-up --no-config || fail "network set-up"

mkdir -p /var/lib/nginx /var/log/nginx
nginx 2>/run/nginx.stderr || fail "nginx did not start: $(cat /run/nginx.stderr; tail -n 3 /var/log/nginx/error.log 2>/dev/null)"
i=0
until wget -q -O /dev/null "$URL" 2>/dev/null; do
    i=$((i + 1))
    [ $i -lt 100 ] || fail "nginx does not answer at $URL"
    sleep 0.1
done
if [ "$VARIANT" = card ]; then
    proxycardctl load /etc/proxycard.conf || fail "proxycardctl load failed"
fi
say "READY variant=$VARIANT iface=$IFACE addr=$ADDR server=$URL uptime=$(cut -d' ' -f1 /proc/uptime)s"
EOF

    cat >"$R/sbin/net-up" <<'EOF'
#!/bin/sh
# Load the NIC driver (and what it needs), configure the interface and, on the
# card, load the card configuration.  Idempotent: used at boot and after
# 'net-down' (module reload).  Option --no-config: do not load the card
# configuration.
. /etc/guest.env
load_config=1
[ "${1:-}" = --no-config ] && load_config=0
while read -r m; do
    name=$(basename "$m" .ko | tr - _)
    grep -q "^$name " /proc/modules && continue
    insmod "/lib/modules/$KREL/$m" || { echo "net-up: insmod $m failed" >&2; exit 1; }
done </etc/nic-modules
i=0
until [ -e "/sys/class/net/$IFACE" ]; do
    i=$((i + 1))
    [ $i -lt 100 ] || { echo "net-up: no interface $IFACE after loading the driver" >&2; exit 1; }
    sleep 0.1
done
if [ -n "$MTU" ]; then
    ip link set "$IFACE" mtu "$MTU" || exit 1
fi
ip link set "$IFACE" up || exit 1
ip -4 addr show dev "$IFACE" | grep -q "inet ${ADDR%/*}/" || ip addr add "$ADDR" dev "$IFACE" || exit 1
if [ "$VARIANT" = card ] && [ $load_config = 1 ]; then
    proxycardctl load /etc/proxycard.conf || { echo "net-up: proxycardctl load failed" >&2; exit 1; }
fi
exit 0
EOF

    cat >"$R/sbin/net-down" <<'EOF'
#!/bin/sh
# Unload the NIC driver (the interface goes with it).
. /etc/guest.env
rmmod "$NIC_MODULE"
EOF

    cat >"$R/sbin/cmdchan" <<'EOF'
#!/bin/sh
# The command channel on the second serial port (ttyS1): each line
# "ID COMMAND" runs COMMAND with sh (stdin /dev/null, stderr into stdout) and
# is answered by "@@BEGIN ID", its output, then a line "@@END ID STATUS".  Without a
# second serial port it sleeps (busybox init respawns it otherwise).
export PATH=/sbin:/bin:/usr/sbin:/usr/bin
if ! stty -F /dev/ttyS1 raw -echo 115200 2>/dev/null ||
   ! (: </dev/ttyS1) 2>/dev/null; then
    exec sleep 2147483647
fi
exec </dev/ttyS1 >/dev/ttyS1 2>&1
echo "@@HELLO"
while IFS= read -r line; do
    id=${line%% *}
    cmd=${line#* }
    [ -n "$id" ] || continue
    echo "@@BEGIN $id"
    sh -c "$cmd" </dev/null 2>&1
    echo "@@END $id $?"
done
EOF

    cat >"$R/sbin/guest-shutdown" <<'EOF'
#!/bin/sh
echo "proxycard-guest: powering off"
nginx -s quit 2>/dev/null
sleep 0.2
EOF
    chmod 0755 "$R/etc/init.d/rcS" "$R/sbin/net-up" "$R/sbin/net-down" \
        "$R/sbin/cmdchan" "$R/sbin/guest-shutdown"

    if [ "$variant" = card ]; then
        install -D -m 0644 "$DRIVER" "$R/lib/modules/$KREL/extra/proxycard.ko"
        echo "extra/proxycard.ko" >>"$R/etc/nic-modules"
        copy_bin "$CTL" /usr/sbin/proxycardctl "$R"
    fi
    depmod -b "$R" "$KREL" 2>/dev/null || true

    (cd "$R" && find . -print0 | LC_ALL=C sort -z |
        cpio --null -o -H newc --quiet -R 0:0) | gzip -6 >"$out.new"
    mv "$out.new" "$out"
    rm -rf "$R"
    say "wrote $out ($(du -h "$out" | cut -f1))"
}

INPUTS=("$0" "$KROOT/.unpacked" "$G/www.sha256" "$BUSYBOX" "$NGINX" /usr/sbin/ethtool
        /etc/nginx/mime.types "$G/proxycard.conf")

# The virtio image: virtio_pci is not a declared dependency of virtio_net.
ORDER=()
resolve virtio_pci virtio_net
if stale "$G/initrd-virtio.cpio.gz" "${INPUTS[@]}"; then
    say "building initrd-virtio ($(printf '%s ' "${ORDER[@]##*/}"))"
    build_image virtio "$G/initrd-virtio.cpio.gz" "${ORDER[@]}"
else
    say "initrd-virtio is up to date"
fi

# The card image: the driver and its declared dependencies.
if [ -f "$DRIVER" ] && [ -f "$CTL" ]; then
    vermagic=$(modinfo -F vermagic "$DRIVER" 2>/dev/null | awk '{print $1}')
    [ "$vermagic" = "$KREL" ] ||
        die "$DRIVER is built for kernel '$vermagic', the guest runs $KREL"
    ORDER=()
    deps=$(modinfo -F depends "$DRIVER" | tr , ' ')
    [ -z "$deps" ] || resolve $deps
    if stale "$G/initrd-card.cpio.gz" "${INPUTS[@]}" "$DRIVER" "$CTL"; then
        say "building initrd-card (driver $DRIVER; dependencies: ${deps:-none})"
        build_image card "$G/initrd-card.cpio.gz" "${ORDER[@]+"${ORDER[@]}"}"
    else
        say "initrd-card is up to date"
    fi
else
    [ $explicit_driver = 0 ] || die "$DRIVER or $CTL does not exist"
    say "no card image: $DRIVER and $CTL are not built yet (the virtio image is ready)"
fi
