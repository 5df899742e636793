#!/bin/sh
# Print the ABI of Debian's current kernel (e.g. "6.1.0-56"): the one that
# linux-image-amd64 depends on.  Its headers are
# linux-headers-<abi>-amd64 (in /usr/src/linux-headers-<abi>-amd64), its
# image linux-image-<abi>-amd64.  Resolved from apt's lists, never
# hard-coded; run `apt-get update` first on a fresh machine.
#
# Usage: kernel-abi.sh [--release]
#   --release   print the kernel release instead (e.g. "6.1.0-56-amd64")
# Environment: PROXYCARD_KABI overrides the lookup.
set -eu

flavour=amd64
abi=${PROXYCARD_KABI:-}
if [ -z "$abi" ]; then
    dep=$(apt-cache depends "linux-image-$flavour" 2>/dev/null |
          sed -n "s/^ *Depends: linux-image-\(.*\)-$flavour\$/\1/p" | head -n 1)
    abi=$dep
fi
if [ -z "$abi" ]; then
    echo "kernel-abi.sh: cannot resolve the ABI of linux-image-$flavour" \
         "(run 'apt-get update' first, or set PROXYCARD_KABI)" >&2
    exit 1
fi
case "${1:-}" in
    --release) echo "$abi-$flavour" ;;
    "") echo "$abi" ;;
    *) echo "usage: kernel-abi.sh [--release]" >&2; exit 2 ;;
esac
