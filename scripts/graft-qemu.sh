#!/bin/sh
# Graft proxycard into the fetched QEMU tree: symbolic links to our sources
# plus four small, idempotent edits to QEMU's build lists.
#
# usage: scripts/graft-qemu.sh TOP_DIR QEMU_SRC_DIR FW_BUILD_DIR
#
#   QEMU/hw/proxycard                  -> TOP/hw/proxycard   (device model)
#   QEMU/tests/qtest/proxycard-test.c  -> TOP/tests/qtest/proxycard-test.c
#   QEMU/proxycard-fw                  -> FW_BUILD_DIR        (firmware object + API headers)
#   hw/meson.build       + subdir('proxycard')
#   hw/Kconfig           + source proxycard/Kconfig
#   meson.build          + 'hw/proxycard' in trace_events_subdirs
#   tests/qtest/meson.build + proxycard-test in qtests_x86_64 (when CONFIG_PROXYCARD)
set -eu

TOP=$(cd "${1:?TOP}" && pwd)
Q=$(cd "${2:?QEMU_SRC_DIR}" && pwd)
FW=${3:?FW_BUILD_DIR}
mkdir -p "$FW"
FW=$(cd "$FW" && pwd)

link() { # link TARGET NAME
    [ "$(readlink "$2" 2>/dev/null)" = "$1" ] || ln -sfn "$1" "$2"
}

link "$TOP/hw/proxycard" "$Q/hw/proxycard"
link "$TOP/tests/qtest/proxycard-test.c" "$Q/tests/qtest/proxycard-test.c"
link "$FW" "$Q/proxycard-fw"

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
