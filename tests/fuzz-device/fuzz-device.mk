# The device fuzzer (docs/fuzzing-device.md): QEMU's generic-fuzz on
# proxycard, from a second build of the grafted tree (clang-14, libFuzzer,
# ASan, UBSan) in $(QEMU_FUZZ_BUILD).
#
#   make fuzz-device [FUZZ_TIME=600] [FUZZ_DIR=build/fuzz-device]
#                    [FUZZ_TIMEOUT=10] [FUZZ_ARGS="-jobs=2 ..."]
#       build qemu-fuzz-x86_64 (and an ASan qemu-system-x86_64), replay the
#       checked-in reproducers (tests/fuzz-device/*.qtest) on it, then fuzz
#       for FUZZ_TIME seconds; fails on any crash, hang or sanitizer report
#   make fuzz-device-build   only the build
#
# A fragment for the top-level Makefile, included after QEMU_SRC, FW_LIB,
# STAMP_GRAFT, BUILD and JOBS are defined.

fuzz_device_default_goal := $(.DEFAULT_GOAL)

QEMU_FUZZ_BUILD := $(BUILD)/qemu-fuzz
QEMU_FUZZ_BIN   := $(QEMU_FUZZ_BUILD)/qemu-fuzz-x86_64
QEMU_FUZZ_SYS   := $(QEMU_FUZZ_BUILD)/qemu-system-x86_64
STAMP_DEPS_FUZZ := $(BUILD)/.stamp-deps-fuzz
FUZZ_TIME    ?= 600
FUZZ_DIR     ?= $(BUILD)/fuzz-device
FUZZ_TIMEOUT ?= 10
FUZZ_ARGS    ?=
FUZZ_TRACES  := $(wildcard tests/fuzz-device/*.qtest)

.PHONY: fuzz-device-build

$(STAMP_DEPS_FUZZ): scripts/install-deps.sh | $(STAMP_DEPS)
	scripts/install-deps.sh --fuzz
	@touch $@

$(QEMU_FUZZ_BUILD)/build.ninja: $(STAMP_GRAFT) $(STAMP_DEPS_FUZZ) \
		scripts/configure-qemu-fuzz.sh | $(FW_LIB)
	scripts/configure-qemu-fuzz.sh $(QEMU_SRC) $(QEMU_FUZZ_BUILD)

# As for the normal build: ninja does not see the firmware archive.
fuzz-device-build: $(QEMU_FUZZ_BUILD)/build.ninja $(FW_LIB)
	@for b in $(QEMU_FUZZ_BIN) $(QEMU_FUZZ_SYS); do \
		if [ $(FW_LIB) -nt $$b ]; then rm -f $$b; fi; done
	ninja -C $(QEMU_FUZZ_BUILD) -j $(JOBS) qemu-fuzz-x86_64 qemu-system-x86_64
	scripts/link-firmware.sh $(QEMU_FUZZ_BUILD)

fuzz-device: fuzz-device-build
	ASAN_OPTIONS=detect_leaks=0 tests/fuzz-device/replay.py \
		--qemu $(QEMU_FUZZ_SYS) $(FUZZ_TRACES)
	tests/fuzz-device/run-fuzz.sh --bin $(QEMU_FUZZ_BIN) --time $(FUZZ_TIME) \
		--dir $(FUZZ_DIR) --timeout $(FUZZ_TIMEOUT) -- $(FUZZ_ARGS)

.DEFAULT_GOAL := $(fuzz_device_default_goal)
