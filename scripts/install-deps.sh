#!/bin/sh
# Install the Debian packages proxycard needs to build and test, and make sure
# apt has a deb-src entry so that `apt-get source` can fetch QEMU and lwIP.
#
# usage: scripts/install-deps.sh [--fuzz]
#   --fuzz  accepted for older callers; what the fuzzers need is always
#           installed now, since `make check` runs them (docs/fuzzing.md)
#
# Idempotent: installs only what is missing; runs `apt-get update` only when it
# installs something or adds the deb-src entry.  Must run as root (or with
# nothing to do).
set -eu

# Build: QEMU 7.2 (meson, ninja, glib, pixman, slirp, zlib), lwIP, the firmware.
# Run: SeaBIOS and QEMU's option ROMs (Debian's dfsg QEMU source has none).
# Test: Check for unit tests, binutils' nm for the symbol check, a real
# server (nginx) and client (curl) for the end-to-end tests, slowhttptest for
# the VM test of slow headers, slow bodies and slow readers (tests/vm/).
PKGS="build-essential pkg-config dpkg-dev ninja-build meson python3 \
      libglib2.0-dev libpixman-1-dev zlib1g-dev libslirp-dev libfdt-dev \
      flex bison check binutils xz-utils seabios qemu-system-data \
      nginx curl slowhttptest"

# Fuzzing (make check runs each libFuzzer target of tests/fuzz/ briefly;
# make fuzz, make fuzz-device): clang-14; libFuzzer and the sanitizers'
# runtimes are in libclang-rt-14-dev, llvm-symbolizer (in llvm-14)
# symbolises ASan's and UBSan's reports.
PKGS="$PKGS clang-14 libclang-rt-14-dev llvm-14"

# Benchmarks (make bench, not part of make check): the PNG plots of
# bench/serve_bench.py.  Debian's python3 (/usr/bin/python3) has it.
PKGS="$PKGS python3-matplotlib"
case "${1:-}" in
--fuzz | "") ;;
*) echo "usage: $0 [--fuzz]" >&2; exit 2 ;;
esac

SRC_LIST=/etc/apt/sources.list.d/proxycard-deb-src.sources

say() { printf 'install-deps: %s\n' "$*"; }

need_root() {
    if [ "$(id -u)" != 0 ]; then
        say "must run as root to $1 (missing: $2)" >&2
        exit 1
    fi
}

has_deb_src() {
    grep -rqsE '^[[:space:]]*(deb-src|Types:.*deb-src)' \
        /etc/apt/sources.list /etc/apt/sources.list.d/ >/dev/null 2>&1
}

updated=0
apt_update() {
    if [ "$updated" = 0 ]; then
        say "apt-get update"
        apt-get update -qq
        updated=1
    fi
}

if ! has_deb_src; then
    need_root "add a deb-src entry" "deb-src"
    say "adding deb-src entry $SRC_LIST"
    cat >"$SRC_LIST" <<SRC
# Added by proxycard's scripts/install-deps.sh: source packages for apt-get source.
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
    apt_update
fi

missing=""
for p in $PKGS; do
    st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
    [ "$st" = installed ] || missing="$missing $p"
done

if [ -n "$missing" ]; then
    need_root "install packages" "$missing"
    apt_update
    say "installing$missing"
    # Packages such as nginx start a system service when installed; the
    # tests start their own servers, so keep invoke-rc.d from starting any
    # (policy-rc.d exit 101: "action forbidden"), unless a policy exists.
    policy=""
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        policy=/usr/sbin/policy-rc.d
        printf '#!/bin/sh\nexit 101\n' >"$policy"
        chmod +x "$policy"
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing
    [ -z "$policy" ] || rm -f "$policy"
fi

# apt-get source needs a package list that knows about sources.
if ! ls /var/lib/apt/lists/*_source_Sources* >/dev/null 2>&1; then
    need_root "update apt's source lists" "Sources"
    apt_update
fi
say "ok"
