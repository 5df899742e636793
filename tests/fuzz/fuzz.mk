# libFuzzer targets (tests/fuzz/, docs/fuzzing.md): the HTTP parsers and the
# whole firmware on raw frames, built with clang-14 under ASan and UBSan.
# A fragment for the top-level Makefile, included after BUILD, LWIP_SRC,
# LWIP_FILES, FW_FILES, FW_INCLUDES, LWIP_FLAGS, FW_OWN_FLAGS and STAMP_SRC
# are defined:
#
#     include tests/fuzz/fuzz.mk
#
#   make fuzz-build         build the targets ($(FUZZ_BINS))
#   make fuzz [FUZZ_TIME=600] [FUZZ_TARGETS="request frames"]
#                           run each target FUZZ_TIME seconds on its corpus
#
# `make check` builds them and scripts/run-checks.sh runs each for
# FUZZ_CHECK_TIME seconds (20), after replaying tests/fuzz/regressions/.

fuzz_default_goal := $(.DEFAULT_GOAL)

FUZZ_CC       ?= clang-14
FUZZ_TIME     ?= 600
FUZZ_TARGETS  ?= request response chunked secpath frames
FUZZ_DIR      := $(BUILD)/fuzz
FUZZ_SAN      := -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_CFLAGS   := -g -O1 -fno-omit-frame-pointer $(FUZZ_SAN)
FUZZ_LDFLAGS  := -fsanitize=fuzzer $(FUZZ_SAN)
FUZZ_ALL      := request response chunked secpath frames
FUZZ_BINS     := $(patsubst %,$(FUZZ_DIR)/fuzz-%,$(FUZZ_ALL))

.PHONY: fuzz fuzz-build

# ---- parser targets: http_parse.c compiled in with the target ----
FUZZ_PARSE_HDRS := $(wildcard tests/fuzz/*.h) guest-fw/src/http_parse.h

$(FUZZ_DIR)/fuzz-request $(FUZZ_DIR)/fuzz-response $(FUZZ_DIR)/fuzz-chunked: \
		$(FUZZ_DIR)/fuzz-%: tests/fuzz/fuzz_%.c guest-fw/src/http_parse.c \
		$(FUZZ_PARSE_HDRS) | $(STAMP_DEPS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) -std=c11 $(FUZZ_CFLAGS) $(FUZZ_LDFLAGS) -Wall -Wextra -Werror \
		-Iguest-fw/src $< guest-fw/src/http_parse.c -o $@

# ---- the security proxy's parsers: sec_parse.c compiled in ----
$(FUZZ_DIR)/fuzz-secpath: tests/fuzz/fuzz_secpath.c guest-fw/src/sec_parse.c \
		guest-fw/src/sec_parse.h | $(STAMP_DEPS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) -std=c11 $(FUZZ_CFLAGS) $(FUZZ_LDFLAGS) -Wall -Wextra -Werror \
		-Iguest-fw/src $< guest-fw/src/sec_parse.c -o $@

# ---- the frame target: the whole firmware, instrumented ----
# The same sources as build/fw/proxycard-fw.o, compiled with coverage and
# the sanitizers, linked into one object the same way (one global per entry
# point), with its .data and .bss renamed (.data.rel.ro is read-only once
# relocated) so that the target can snapshot
# and restore the firmware's whole state between inputs (fuzz_frames.c).
FUZZ_FW_DIR    := $(FUZZ_DIR)/fw
FUZZ_FW_CFLAGS := $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -fPIC -MMD -MP $(FW_INCLUDES)
FUZZ_LWIP_OBJS := $(patsubst %.c,$(FUZZ_FW_DIR)/lwip/%.o,$(LWIP_FILES))
FUZZ_OWN_OBJS  := $(patsubst %.c,$(FUZZ_FW_DIR)/own/%.o,$(FW_FILES))
FUZZ_FW_OBJ    := $(FUZZ_FW_DIR)/proxycard-fw.o

# lwIP without comparison tracing: its compares are of its own state, which
# the fuzzer reaches through the harness's reply awareness, and tracing them
# halved the executions per second.
$(FUZZ_FW_DIR)/lwip/%.o: $(LWIP_SRC)/src/%.c guest-fw/port/lwipopts.h $(STAMP_SRC)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FW_CFLAGS) -fno-sanitize-coverage=trace-cmp $(LWIP_FLAGS) -c $< -o $@

# Of the firmware's own files, only those that compare bytes a client or the
# server sent keep comparison tracing; the rest compare the card's own state
# (the arena's bins, the configuration texts the target loads, timers), and
# tracing those compares took a third of the target's time.
FUZZ_FW_TRACED := http_parse.c http_proxy.c sec_parse.c security.c pass_proxy.c
FUZZ_FW_UNTRACED := $(filter-out $(FUZZ_FW_TRACED),$(FW_FILES))
$(patsubst %.c,$(FUZZ_FW_DIR)/own/%.o,$(FUZZ_FW_UNTRACED)): \
	FUZZ_FW_CMP := -fno-sanitize-coverage=trace-cmp

$(FUZZ_FW_DIR)/own/%.o: guest-fw/src/%.c $(STAMP_SRC)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FW_CFLAGS) $(FUZZ_FW_CMP) $(FW_OWN_FLAGS) -c $< -o $@

$(FUZZ_FW_OBJ): $(FUZZ_LWIP_OBJS) $(FUZZ_OWN_OBJS) guest-fw/exports.txt
	ld -r -o $(FUZZ_FW_DIR)/proxycard-fw-full.o $(FUZZ_LWIP_OBJS) $(FUZZ_OWN_OBJS)
	objcopy --keep-global-symbols=guest-fw/exports.txt \
		--rename-section .data=pcfw_snap_data \
		--rename-section .bss=pcfw_snap_bss \
		$(FUZZ_FW_DIR)/proxycard-fw-full.o $@
	@if readelf -SW $@ | grep -vF '.data.rel.ro' | grep -qE ' \.(data|bss)[. ]'; then \
		echo "$@: a .data or .bss section escaped the snapshot" >&2; \
		rm -f $@; exit 1; fi

$(FUZZ_DIR)/fuzz-frames: tests/fuzz/fuzz_frames.c $(FUZZ_FW_OBJ) guest-fw/include/pcfw.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) -std=c11 $(FUZZ_CFLAGS) $(FUZZ_LDFLAGS) -Wall -Wextra -Werror \
		-fno-sanitize-coverage=trace-cmp -Iguest-fw/include $< $(FUZZ_FW_OBJ) -o $@

fuzz-build: $(FUZZ_BINS)

# Each target FUZZ_TIME seconds on a working copy of its corpus.
fuzz: fuzz-build
	@rc=0; for t in $(FUZZ_TARGETS); do \
		BUILD=$(BUILD) tests/fuzz/run.sh $$t $(FUZZ_TIME) || rc=1; \
	done; exit $$rc

-include $(FUZZ_LWIP_OBJS:.o=.d) $(FUZZ_OWN_OBJS:.o=.d)

.DEFAULT_GOAL := $(fuzz_default_goal)
