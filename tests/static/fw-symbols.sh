#!/bin/bash
# Symbol hygiene: the linked firmware object exports exactly the entry API
# (guest-fw/exports.txt), and lwIP's names, present in it, are all local, so
# they can never collide with QEMU's or a library's.
set -eu
BUILD=${BUILD:-build}
obj=$BUILD/fw/proxycard-fw.o
full=$BUILD/fw/proxycard-fw-full.o

got=$(nm -g --defined-only "$obj" | awk '{print $3}' | sort)
want=$(sort guest-fw/exports.txt)
if [ "$got" != "$want" ]; then
    echo "exported symbols differ from guest-fw/exports.txt:"
    diff <(echo "$want") <(echo "$got") || true
    exit 1
fi

# The check is only meaningful if lwIP is really inside: its globals exist in
# the unlocalized object and are local (lower-case type) in the final one.
for sym in lwip_init tcp_input tcp_write netif_add etharp_output mem_malloc; do
    nm -g --defined-only "$full" | grep -qw "$sym" || { echo "$sym missing from $full"; exit 1; }
    nm "$obj" | grep -qE " [a-z] $sym\$" || { echo "$sym is not local in $obj"; exit 1; }
done
echo "exports: $(echo $got)"
