#!/bin/sh
# Make the QEMU build find Debian's firmware (SeaBIOS, option ROMs) without
# -L: QEMU run from its build tree searches
# qemu-bundle/<prefix>/share/qemu-firmware first, so link Debian's files there.
# Debian's dfsg QEMU tarball ships no blobs (and we build with
# --disable-install-blobs), hence packages seabios and qemu-system-data.
#
# usage: scripts/link-firmware.sh QEMU_BUILD_DIR
set -eu

B=${1:?QEMU_BUILD_DIR}
dir=$(sed -n 's/^#define CONFIG_QEMU_FIRMWAREPATH "\([^"]*\)".*/\1/p' "$B/config-host.h")
[ -n "$dir" ] || { echo "link-firmware: no CONFIG_QEMU_FIRMWAREPATH in $B/config-host.h" >&2; exit 1; }
dest=$B/qemu-bundle$dir
mkdir -p "$dest"
for src in /usr/share/seabios /usr/share/qemu; do
    [ -d "$src" ] || { echo "link-firmware: $src missing (install seabios and qemu-system-data)" >&2; exit 1; }
    for f in "$src"/*; do
        name=$(basename "$f")
        [ -e "$dest/$name" ] || ln -s "$f" "$dest/$name"
    done
done
