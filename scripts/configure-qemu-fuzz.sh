#!/bin/sh
# Configure a second build of the grafted QEMU tree for QEMU's own device
# fuzzer (tests/qtest/fuzz/, generic-fuzz): clang-14 with libFuzzer,
# AddressSanitizer and UndefinedBehaviorSanitizer, x86_64 system emulation
# only, libslirp for -netdev user.  The firmware archive (proxycard-fw/) is
# the one the normal build links: built by gcc, so neither instrumented for
# coverage nor checked by ASan (docs/fuzzing-device.md).
#
# usage: scripts/configure-qemu-fuzz.sh QEMU_SRC_DIR QEMU_FUZZ_BUILD_DIR
#
# Builds with `ninja -C QEMU_FUZZ_BUILD_DIR qemu-fuzz-x86_64`.
set -eu

SRC=$(cd "${1:?QEMU_SRC_DIR}" && pwd)
B=${2:?QEMU_FUZZ_BUILD_DIR}
CC_FUZZ=${CC_FUZZ:-clang-14}
CXX_FUZZ=${CXX_FUZZ:-clang++-14}
mkdir -p "$B"
cd "$B"

# --disable-werror: clang-14 warns where QEMU 7.2 was only built with gcc
# (QEMU's own oss-fuzz build, scripts/oss-fuzz/build.sh, does the same).
# --enable-sanitizers: -fsanitize=address,undefined on everything QEMU
# compiles; --enable-fuzzing: -fsanitize=fuzzer-no-link and the coverage
# filter scripts/oss-fuzz/instrumentation-filter-template (hw/, net/, slirp/).
"$SRC/configure" \
    --cc="$CC_FUZZ" --cxx="$CXX_FUZZ" \
    --enable-fuzzing --enable-sanitizers --disable-werror \
    --target-list=x86_64-softmmu \
    --without-default-features \
    --enable-tcg --enable-slirp \
    --disable-docs --disable-install-blobs \
    >configure.log 2>&1 || {
        tail -n 30 configure.log >&2
        echo "configure-qemu-fuzz: QEMU's configure failed; full log in $B/configure.log" >&2
        exit 1
    }

if ! grep -qx 'CONFIG_PROXYCARD=y' x86_64-softmmu-config-devices.mak; then
    echo "configure-qemu-fuzz: CONFIG_PROXYCARD is not enabled in $B (graft failed?)" >&2
    exit 1
fi
if ! grep -q '^#define CONFIG_FUZZ' config-host.h; then
    echo "configure-qemu-fuzz: CONFIG_FUZZ is not set in $B (clang without libFuzzer?)" >&2
    exit 1
fi
echo "configure-qemu-fuzz: configured $B (fuzzing, ASan, UBSan, CONFIG_PROXYCARD=y)"
