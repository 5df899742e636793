#!/bin/sh
# Graft proxycard into the fetched QEMU tree: symbolic links to our sources
# plus a few small, idempotent edits to QEMU's build lists.
#
# usage: scripts/graft-qemu.sh TOP_DIR QEMU_SRC_DIR FW_BUILD_DIR [E2E_PEER_DIR]
#
#   QEMU/hw/proxycard                  -> TOP/hw/proxycard   (device model)
#   QEMU/tests/qtest/proxycard-test.c  -> TOP/tests/qtest/proxycard-test.c
#   QEMU/tests/qtest/proxycard-qtest.h -> TOP/tests/qtest/proxycard-qtest.h (shared helpers)
#   QEMU/tests/qtest/proxycard-e2e-test.c -> TOP/tests/qtest/proxycard-e2e-test.c
#   QEMU/proxycard-fw                  -> FW_BUILD_DIR        (firmware object + API headers)
#   QEMU/proxycard-e2e-peer            -> E2E_PEER_DIR        (the e2e qtest's server side:
#                                         libpcpeer.a + its header; default
#                                         FW_BUILD_DIR/../tests/qtest-peer)
#   hw/meson.build       + subdir('proxycard')
#   hw/Kconfig           + source proxycard/Kconfig
#   meson.build          + 'hw/proxycard' in trace_events_subdirs
#   tests/qtest/meson.build + proxycard-test, proxycard-e2e-test in qtests_x86_64
#                              (when CONFIG_PROXYCARD), + proxycard-e2e-test's
#                              archive in the qtests dict (extra dependencies)
#   tests/qtest/fuzz/generic_fuzz_configs.h + the generic-fuzz-proxycard target
#                              (built only with --enable-fuzzing: make fuzz-device)
set -eu

TOP=$(cd "${1:?TOP}" && pwd)
Q=$(cd "${2:?QEMU_SRC_DIR}" && pwd)
FW=${3:?FW_BUILD_DIR}
mkdir -p "$FW"
FW=$(cd "$FW" && pwd)
PEER=${4:-$(dirname "$FW")/tests/qtest-peer}
mkdir -p "$PEER"
PEER=$(cd "$PEER" && pwd)

link() { # link TARGET NAME
    [ "$(readlink "$2" 2>/dev/null)" = "$1" ] || ln -sfn "$1" "$2"
}

link "$TOP/hw/proxycard" "$Q/hw/proxycard"
link "$TOP/tests/qtest/proxycard-test.c" "$Q/tests/qtest/proxycard-test.c"
link "$TOP/tests/qtest/proxycard-qtest.h" "$Q/tests/qtest/proxycard-qtest.h"
link "$TOP/tests/qtest/proxycard-e2e-test.c" "$Q/tests/qtest/proxycard-e2e-test.c"
link "$FW" "$Q/proxycard-fw"
link "$PEER" "$Q/proxycard-e2e-peer"

# append_once FILE MARKER-LINE: append LINE unless the file already has it.
append_once() {
    grep -qxF "$2" "$1" || printf '%s\n' "$2" >>"$1"
}

append_once "$Q/hw/meson.build" "subdir('proxycard')"
append_once "$Q/hw/Kconfig" "source proxycard/Kconfig"

# insert_after FILE ANCHOR-REGEX NEW-LINE: insert NEW-LINE after the first
# line matching ANCHOR, once; fail loudly if the anchor is gone (a new QEMU).
insert_after() {
    file=$1 anchor=$2 new=$3
    grep -qxF "$new" "$file" && return 0
    if ! grep -q "$anchor" "$file"; then
        echo "graft-qemu: anchor '$anchor' not found in $file (QEMU tree changed?)" >&2
        exit 1
    fi
    awk -v a="$anchor" -v n="$new" '{ print } !done && $0 ~ a { print n; done = 1 }' \
        "$file" >"$file.tmp"
    mv "$file.tmp" "$file"
}

insert_after "$Q/meson.build" "^trace_events_subdirs = \\[" "  'hw/proxycard',"
insert_after "$Q/tests/qtest/meson.build" "^qtests_x86_64 = qtests_i386" \
    "qtests_x86_64 += (config_all_devices.has_key('CONFIG_PROXYCARD') ? ['proxycard-test'] : [])"
insert_after "$Q/tests/qtest/meson.build" "^qtests_x86_64 = qtests_i386" \
    "qtests_x86_64 += (config_all_devices.has_key('CONFIG_PROXYCARD') ? ['proxycard-e2e-test'] : [])"
# The e2e qtest links the server side's archive (built by our Makefile, not
# tracked by meson: the Makefile forces a relink when it changes).
insert_after "$Q/tests/qtest/meson.build" "^qtest_executables = " \
    "qtests += {'proxycard-e2e-test': [declare_dependency(compile_args: ['-I' + meson.project_source_root() / 'proxycard-e2e-peer'], link_args: [meson.project_source_root() / 'proxycard-e2e-peer' / 'libpcpeer.a'])]}"

# The device fuzzer's target (tests/fuzz-device/, docs/fuzzing-device.md):
# generic-fuzz-proxycard, first in QEMU's list of predefined configs.  The
# objects: the device's type name, which takes every MemoryRegion it owns
# (BAR0 "proxycard-mmio", the MSI-X BAR "proxycard-msix" with its table and
# PBA); the netdev makes the NIC live.  Only a fuzzing build compiles it.
fuzz_cfg=$Q/tests/qtest/fuzz/generic_fuzz_configs.h
fuzz_anchor='^const generic_fuzz_config predefined_configs\[\] = {$'
if ! grep -qF '.name = "proxycard",' "$fuzz_cfg"; then
    if ! grep -q "$fuzz_anchor" "$fuzz_cfg"; then
        echo "graft-qemu: anchor '$fuzz_anchor' not found in $fuzz_cfg (QEMU tree changed?)" >&2
        exit 1
    fi
    awk -v a="$fuzz_anchor" '{ print } !done && $0 ~ a {
        print "    {"
        print "        .name = \"proxycard\","
        print "        .args = \"-M q35 -nodefaults \""
        print "        \"-netdev user,id=n0 -device proxycard,netdev=n0\","
        print "        .objects = \"proxycard*\","
        print "    },"
        done = 1 }' "$fuzz_cfg" >"$fuzz_cfg.tmp"
    mv "$fuzz_cfg.tmp" "$fuzz_cfg"
fi
