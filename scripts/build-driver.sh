#!/bin/sh
# Build the guest's proxycard driver and control tool into BUILD_DIR, out of
# the source tree: the kernel module against Debian's headers for the kernel
# the guest boots (linux-headers-<abi>-amd64, <abi> from linux-image-amd64's
# dependency, host-driver/kernel-abi.sh), installed here when missing.
#
# usage: scripts/build-driver.sh BUILD_DIR    (e.g. build/host-driver)
# Produces BUILD_DIR/proxycard.ko and BUILD_DIR/proxycardctl (static).
set -eu

TOP=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:?usage: build-driver.sh BUILD_DIR}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

abi=$(sh "$TOP/host-driver/kernel-abi.sh" 2>/dev/null || true)
if [ -z "$abi" ]; then
    apt-get update -qq
    abi=$(sh "$TOP/host-driver/kernel-abi.sh")
fi
KDIR=/usr/src/linux-headers-$abi-amd64
if [ ! -d "$KDIR" ]; then
    [ "$(id -u)" = 0 ] || { echo "build-driver: need root to install linux-headers-$abi-amd64" >&2; exit 1; }
    echo "build-driver: installing linux-headers-$abi-amd64"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "linux-headers-$abi-amd64" >/dev/null 2>&1 || {
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
            "linux-headers-$abi-amd64"
    }
fi

# kbuild builds where the sources are: give it a tree of links in OUT.
for f in "$TOP"/host-driver/Kbuild "$TOP"/host-driver/*.c "$TOP"/host-driver/*.h; do
    case "$f" in */proxycardctl.c) continue ;; esac
    ln -sfn "$f" "$OUT/$(basename "$f")"
done
make -s -C "$KDIR" M="$OUT" PROXYCARD_HW="$TOP/hw/proxycard" modules
cc -static -O2 -Wall -Wextra -Werror -o "$OUT/proxycardctl" \
    "$TOP/host-driver/proxycardctl.c"
echo "build-driver: $OUT/proxycard.ko for $abi-amd64, $OUT/proxycardctl"
