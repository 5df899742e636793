# proxycard: top-level build.
#
#   make          install missing packages, fetch QEMU and lwIP, build the
#                 firmware, graft into QEMU and build qemu-system-x86_64
#   make check    all of the above, then every test layer, ending with
#                 "N passed, N failed"
#   make run      boot the guest: nginx served through the card
#                 (PORT=8080, RUN_ARGS="--virtio|--tap|...")
#   make bench    virtio-net, a host nginx proxy and the card, same guest,
#                 same slow and fast clients (bench/serve_bench.py; about
#                 25 min; make bench-quick: about 3 min; BENCH_ARGS=...)
#   make fuzz-device  QEMU's device fuzzer on the card, ASan+UBSan build in
#                 build/qemu-fuzz (FUZZ_TIME=600 s; docs/fuzzing-device.md)
#   make clean    remove what we built (keeps the fetched sources)
#   make distclean  remove build/ entirely
#
# Settings come from config.mk (written by ./configure); without it the
# defaults below apply, so a fresh clone needs nothing but `make check`.

-include config.mk

BUILD        ?= build
CC           ?= cc
FW_CFLAGS    ?= -O2 -g
JOBS         ?= $(shell nproc 2>/dev/null || echo 2)

TOP          := $(CURDIR)
include scripts/versions.sh

QEMU_SRC     := $(BUILD)/src/$(QEMU_DIR)
QEMU_BUILD   := $(BUILD)/qemu
LWIP_SRC     := $(BUILD)/src/$(LWIP_DIR)
FW_DIR       := $(BUILD)/fw
FW_OBJ       := $(FW_DIR)/proxycard-fw.o
FW_LIB       := $(FW_DIR)/libproxycard-fw.a
UNIT_BIN     := $(BUILD)/tests/unit/fw-unit
QEMU_BIN     := $(BUILD)/qemu-system-x86_64

STAMP_DEPS   := $(BUILD)/.stamp-deps
STAMP_SRC    := $(BUILD)/.stamp-src
STAMP_GRAFT  := $(BUILD)/.stamp-graft

.PHONY: all check clean distclean qemu fw unit sim driver guest run help \
	fuzz fuzz-device bench bench-quick
.DELETE_ON_ERROR:

all: qemu sim guest

help:
	@sed -n '3,18p' Makefile

# ---- set-up: packages, sources ----------------------------------------------

$(STAMP_DEPS): scripts/install-deps.sh
	@mkdir -p $(BUILD)
	scripts/install-deps.sh
	@touch $@

$(STAMP_SRC): scripts/fetch-sources.sh scripts/versions.sh $(STAMP_DEPS) \
		$(wildcard patches/lwip/*.patch)
	scripts/fetch-sources.sh $(BUILD)
	@touch $@

# ---- firmware: guest-fw + lwIP as one object --------------------------------

LWIP_FILES := \
	core/init.c core/def.c core/inet_chksum.c core/ip.c core/mem.c \
	core/memp.c core/netif.c core/pbuf.c core/stats.c core/sys.c \
	core/tcp.c core/tcp_in.c core/tcp_out.c core/timeouts.c core/udp.c \
	core/ipv4/dhcp.c core/ipv4/etharp.c core/ipv4/icmp.c \
	core/ipv4/ip4_frag.c core/ipv4/ip4.c core/ipv4/ip4_addr.c \
	netif/ethernet.c
FW_FILES := arena.c bytequeue.c cbguard.c client.c config.c fw.c http_parse.c \
	http_proxy.c master.c pass_proxy.c pool.c ports.c sec_parse.c security.c \
	sha256.c shed.c sys.c tcpio.c

FW_INCLUDES := -Iguest-fw/include -Iguest-fw/src -Iguest-fw/port \
	-I$(LWIP_SRC)/src/include
FW_COMMON   := $(FW_CFLAGS) -fPIC -MMD -MP $(FW_INCLUDES)
# Our code is plain C11 and warning-free; lwIP is compiled as upstream ships it.
FW_OWN_FLAGS  := -std=c11 -Wall -Wextra -Wno-unused-parameter -Werror
LWIP_FLAGS    := -std=gnu11 -Wall -Wno-address

LWIP_OBJS := $(patsubst %.c,$(FW_DIR)/lwip/%.o,$(LWIP_FILES))
FW_OBJS   := $(patsubst %.c,$(FW_DIR)/own/%.o,$(FW_FILES))

# lwIP's sources exist once fetched.
$(addprefix $(LWIP_SRC)/src/,$(LWIP_FILES)): $(STAMP_SRC)
	@test -f $@ || { echo "$@ missing after fetching lwIP"; exit 1; }

# $(STAMP_SRC) is a prerequisite of every object that sees lwIP's headers,
# not an order-only one: a changed patch set re-unpacks lwIP during this very
# run, after make has looked at the headers' times, so their dependency files
# cannot tell; without it one `make` linked objects built against two layouts
# of struct tcp_pcb (a heap overrun at boot).
$(FW_DIR)/lwip/%.o: $(LWIP_SRC)/src/%.c guest-fw/port/lwipopts.h $(STAMP_SRC)
	@mkdir -p $(dir $@)
	$(CC) $(FW_COMMON) $(LWIP_FLAGS) -c $< -o $@

$(FW_DIR)/own/%.o: guest-fw/src/%.c $(STAMP_SRC)
	@mkdir -p $(dir $@)
	$(CC) $(FW_COMMON) $(FW_OWN_FLAGS) -c $< -o $@

# One relocatable object; every global but the entry API is made local, so
# lwIP's names can never collide with QEMU's (checked by tests/fw-symbols.sh).
$(FW_OBJ): $(LWIP_OBJS) $(FW_OBJS) guest-fw/exports.txt
	ld -r -o $(FW_DIR)/proxycard-fw-full.o $(LWIP_OBJS) $(FW_OBJS)
	objcopy --keep-global-symbols=guest-fw/exports.txt \
		$(FW_DIR)/proxycard-fw-full.o $@

$(FW_LIB): $(FW_OBJ)
	rm -f $@
	ar rcs $@ $<
	ln -sfn $(TOP)/guest-fw/include $(FW_DIR)/include

fw: $(FW_LIB)

# The host harness (build/proxycard-sim): the firmware on libslirp.
include guest-fw/sim/sim.mk

-include $(LWIP_OBJS:.o=.d) $(FW_OBJS:.o=.d)

# The end-to-end qtest's server side (a second lwIP), linked into the qtest.
include tests/qtest/e2e.mk

# ---- QEMU: graft, configure, build ------------------------------------------

$(STAMP_GRAFT): scripts/graft-qemu.sh $(STAMP_SRC)
	scripts/graft-qemu.sh $(TOP) $(QEMU_SRC) $(FW_DIR) $(E2E_PEER_DIR)
	@touch $@

$(QEMU_BUILD)/build.ninja: $(STAMP_GRAFT) $(FW_LIB) scripts/configure-qemu.sh
	scripts/configure-qemu.sh $(QEMU_SRC) $(QEMU_BUILD)

# ninja decides what is stale; with nothing to do it returns in a second.
# It does not see the firmware archive or the e2e qtest's peer archive (link
# arguments), hence the rm.
E2E_QTEST := $(QEMU_BUILD)/tests/qtest/proxycard-e2e-test
qemu: $(QEMU_BUILD)/build.ninja $(FW_LIB) $(E2E_PEER_LIB)
	@if [ $(FW_LIB) -nt $(QEMU_BUILD)/qemu-system-x86_64 ]; then \
		rm -f $(QEMU_BUILD)/qemu-system-x86_64; fi
	@if [ $(E2E_PEER_LIB) -nt $(E2E_QTEST) ]; then rm -f $(E2E_QTEST); fi
	ninja -C $(QEMU_BUILD) -j $(JOBS) qemu-system-x86_64 tests/qtest/proxycard-test \
		tests/qtest/proxycard-e2e-test
	scripts/link-firmware.sh $(QEMU_BUILD)
	ln -sfn qemu/qemu-system-x86_64 $(QEMU_BIN)

# The device fuzzer: a second QEMU build (clang, libFuzzer, ASan, UBSan).
include tests/fuzz-device/fuzz-device.mk

# ---- the guest: driver, control tool, image, VM -------------------------------

DRV_DIR  := $(BUILD)/host-driver
DRV_KO   := $(DRV_DIR)/proxycard.ko
DRV_CTL  := $(DRV_DIR)/proxycardctl
PORT     ?= 8080
RUN_ARGS ?=

$(DRV_KO): $(wildcard host-driver/*.c host-driver/*.h) host-driver/Kbuild \
		hw/proxycard/proxycard_regs.h hw/proxycard/proxycard_stats.h \
		scripts/build-driver.sh | $(STAMP_DEPS)
	scripts/build-driver.sh $(DRV_DIR)

$(DRV_CTL): $(DRV_KO)

driver: $(DRV_KO)

# build-guest.sh is incremental itself.
guest: $(DRV_KO) $(DRV_CTL) | $(STAMP_DEPS)
	scripts/build-guest.sh $(BUILD) --driver $(DRV_KO) --ctl $(DRV_CTL)

# Boot the guest with nginx behind the card: make run [PORT=8080]
# [RUN_ARGS="--virtio | --tap | --kvm ..."] (scripts/run-vm.sh --help).
run: qemu guest
	BUILD=$(BUILD) scripts/run-vm.sh --port $(PORT) $(RUN_ARGS)

# Not part of make check: the server's CPU per request with slow and fast
# clients, three ways (docs/performance.md, "Serving benchmark").  Needs root.
bench: qemu guest
	BUILD=$(abspath $(BUILD)) python3 bench/serve_bench.py $(BENCH_ARGS)

bench-quick: qemu guest
	BUILD=$(abspath $(BUILD)) python3 bench/serve_bench.py --quick $(BENCH_ARGS)

# ---- unit tests (Check) ------------------------------------------------------

UNIT_SRCS := tests/unit/fw_unit_main.c tests/unit/test_arena.c \
	tests/unit/test_bytequeue.c tests/unit/test_list.c \
	tests/unit/test_config.c tests/unit/test_http_parse.c \
	tests/unit/test_sec_parse.c \
	guest-fw/src/arena.c guest-fw/src/bytequeue.c guest-fw/src/config.c \
	guest-fw/src/http_parse.c guest-fw/src/sec_parse.c guest-fw/src/sha256.c

$(UNIT_BIN): $(UNIT_SRCS) $(wildcard tests/unit/*.h guest-fw/src/*.h guest-fw/include/*.h) | $(STAMP_DEPS)
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -D_DEFAULT_SOURCE -O1 -g -Wall -Wextra -Werror \
		-Iguest-fw/include -Iguest-fw/src -Itests/unit \
		$(UNIT_SRCS) -o $@ $$(pkg-config --cflags --libs check)

# The pool tests: the firmware against a second lwIP in the same process.
include tests/unit/pool.mk

include tests/fuzz/fuzz.mk

unit: $(UNIT_BIN) $(POOL_BIN)

# ---- check -------------------------------------------------------------------

check: qemu sim unit guest fuzz-build
	BUILD=$(BUILD) QEMU_BUILD=$(QEMU_BUILD) scripts/run-checks.sh

clean:
	rm -rf $(FW_DIR) $(BUILD)/tests $(QEMU_BIN)
	[ ! -d $(QEMU_BUILD) ] || ninja -C $(QEMU_BUILD) -t clean >/dev/null

distclean:
	rm -rf $(BUILD) config.mk
