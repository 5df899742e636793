# Pinned upstream versions of the third-party sources.  Read by both sh
# (scripts/*) and make (Makefile): plain NAME=value lines only.
# Debian's revision (e.g. +deb12uN security updates) may change; the upstream
# part may not without a deliberate edit here.
QEMU_UPSTREAM=7.2+dfsg
# The device needs QEMU's DMA re-entrancy guard (qemu_bh_new_guarded, the
# six-argument qemu_new_nic): upstream 7.2.7, Debian's first is this one.
QEMU_MIN_DEBIAN=1:7.2+dfsg-7+deb12u3
QEMU_DIR=qemu-7.2+dfsg
LWIP_UPSTREAM=2.1.3+dfsg1
LWIP_DIR=lwip-2.1.3+dfsg1
