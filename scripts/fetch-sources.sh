#!/bin/sh
# Fetch Debian's source packages of QEMU and lwIP into $BUILD/src with
# `apt-get source` (dpkg-source -x checks every file against the .dsc
# checksums and applies Debian's patches), pin their upstream versions, and
# apply proxycard's own patches (patches/lwip/).
#
# usage: scripts/fetch-sources.sh BUILD_DIR
# Prints nothing and does nothing when both trees are already unpacked.
set -eu

BUILD=${1:?usage: fetch-sources.sh BUILD_DIR}
TOP=$(cd "$(dirname "$0")/.." && pwd)
. "$TOP/scripts/versions.sh"

mkdir -p "$BUILD/src"
cd "$BUILD/src"

# fetch PKG UPSTREAM_PINNED DIRNAME [MIN_DEBIAN_VERSION]
fetch() {
    pkg=$1 pin=$2 dir=$3 min=${4:-}
    [ -f "$dir/.proxycard-fetched" ] && return 0

    ver=$(apt-cache showsrc "$pkg" 2>/dev/null | sed -n 's/^Version: //p' | sort -V | tail -n 1)
    if [ -z "$ver" ]; then
        echo "fetch-sources: apt knows no source package '$pkg' (is there a deb-src entry? run scripts/install-deps.sh)" >&2
        exit 1
    fi
    # Debian version = [epoch:]upstream[-revision]; compare the upstream part.
    up=${ver#*:}
    up=${up%-*}
    if [ "$up" != "$pin" ]; then
        echo "fetch-sources: Debian serves $pkg $ver (upstream $up), but proxycard is pinned to upstream $pin." >&2
        echo "fetch-sources: refusing to build against another upstream version; update scripts/versions.sh deliberately." >&2
        exit 1
    fi
    if [ -n "$min" ] && dpkg --compare-versions "$ver" lt "$min"; then
        echo "fetch-sources: Debian serves $pkg $ver; proxycard needs $min or later (run apt-get update)." >&2
        exit 1
    fi
    echo "fetch-sources: $pkg $ver"
    rm -rf "$dir" "${pkg}_"*
    # apt-get source runs dpkg-source -x, which verifies sizes and checksums
    # against the .dsc and fails on any mismatch.
    # (apt warns that root downloads unsandboxed: expected here, not shown.)
    if ! apt-get source -qq "$pkg=$ver" >apt-source.log 2>&1; then
        cat apt-source.log >&2
        echo "fetch-sources: apt-get source $pkg=$ver failed" >&2
        exit 1
    fi
    grep -v 'Download is performed unsandboxed' apt-source.log >&2 || true
    rm -f apt-source.log
    [ -d "$dir" ] || { echo "fetch-sources: $dir missing after apt-get source" >&2; exit 1; }
    echo "$ver" >"$dir/.proxycard-fetched"
}

# patch PKGDIR PATCHDIR: apply our patches (PATCHDIR/*.patch, in order) to
# a freshly unpacked tree, once; a tree patched with another set is
# unpacked again.  Patched files get LF line ends first (lwIP ships CRLF).
patch_tree() {
    dir=$1 pdir=$2
    set -- "$pdir"/*.patch
    [ -e "$1" ] || return 0
    sum=$(cat "$@" | sha256sum | cut -d' ' -f1)
    [ "$(cat "$dir/.proxycard-patched" 2>/dev/null)" = "$sum" ] && return 0
    if [ -e "$dir/.proxycard-patched" ]; then
        return 1            # patched with another set: caller re-unpacks
    fi
    # Marked before the first patch: a run that fails half-way leaves a
    # tree the next run unpacks again instead of patching twice.
    echo "incomplete" >"$dir/.proxycard-patched"
    for p in "$@"; do
        for f in $(sed -n 's|^+++ b/\([^[:space:]]*\).*|\1|p' "$p"); do
            sed -i 's/\r$//' "$dir/$f"
        done
        echo "fetch-sources: applying $(basename "$p")"
        patch -d "$dir" -p1 --quiet --forward <"$p" || {
            echo "fetch-sources: $p does not apply to $dir" >&2
            exit 1
        }
    done
    echo "$sum" >"$dir/.proxycard-patched"
}

fetch qemu "$QEMU_UPSTREAM" "$QEMU_DIR" "$QEMU_MIN_DEBIAN"
fetch lwip "$LWIP_UPSTREAM" "$LWIP_DIR"
if ! patch_tree "$LWIP_DIR" "$TOP/patches/lwip"; then
    rm -rf "$LWIP_DIR"
    fetch lwip "$LWIP_UPSTREAM" "$LWIP_DIR"
    patch_tree "$LWIP_DIR" "$TOP/patches/lwip"
fi
