#!/bin/sh
# Configure the grafted QEMU tree for proxycard: x86_64 system emulation only,
# TCG and KVM, libslirp for -netdev user, nothing else optional.
#
# usage: scripts/configure-qemu.sh QEMU_SRC_DIR QEMU_BUILD_DIR
set -eu

SRC=$(cd "${1:?QEMU_SRC_DIR}" && pwd)
B=${2:?QEMU_BUILD_DIR}
mkdir -p "$B"
cd "$B"

# --disable-install-blobs: Debian's dfsg tarball ships no firmware blobs;
# booting a guest uses Debian's seabios and qemu-system-data through -L.
"$SRC/configure" \
    --target-list=x86_64-softmmu \
    --without-default-features \
    --enable-tcg --enable-kvm --enable-slirp \
    --disable-docs --disable-install-blobs \
    >configure.log 2>&1 || {
        tail -n 30 configure.log >&2
        echo "configure-qemu: QEMU's configure failed; full log in $B/configure.log" >&2
        exit 1
    }

if ! grep -qx 'CONFIG_PROXYCARD=y' x86_64-softmmu-config-devices.mak; then
    echo "configure-qemu: CONFIG_PROXYCARD is not enabled in $B (graft failed?)" >&2
    exit 1
fi
echo "configure-qemu: configured $B (CONFIG_PROXYCARD=y)"
