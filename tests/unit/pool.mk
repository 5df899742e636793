# The pool tests (build/tests/unit/fw-pool): the linked firmware archive
# against a second, ordinary lwIP that plays its clients and server in the
# same process (tests/unit/peer/peer.c explains the idea).  A fragment for
# the top-level Makefile, included after BUILD, CC, LWIP_SRC, LWIP_FILES,
# FW_LIB and STAMP_SRC are defined:
#
#     include tests/unit/pool.mk
#
# then `make pool-test` builds and runs it.  Before integration:
#
#     make -f Makefile -f tests/unit/pool.mk pool-test
#
# Needs Check through pkg-config (scripts/install-deps.sh installs it).

# Wherever this is included, it must not become the default goal.
pool_default_goal := $(.DEFAULT_GOAL)

POOL_BIN      := $(BUILD)/tests/unit/fw-pool
POOL_DIR      := $(BUILD)/tests/unit/pool
PEER_DIR      := $(BUILD)/tests/peer

# The peer's lwIP: the firmware's file list, the peer's options.
# tests/unit/peer comes first and guest-fw/port never appears, so lwIP's
# #include "lwipopts.h" and "arch/cc.h" can only find the peer's; the
# recipe also checks each object's dependency file to be sure.
PEER_INCLUDES   := -Itests/unit/peer -I$(LWIP_SRC)/src/include
PEER_LWIP_FLAGS := -std=gnu11 -O1 -g -Wall -Wno-address -MMD -MP $(PEER_INCLUDES)
PEER_LWIP_OBJS  := $(patsubst %.c,$(PEER_DIR)/lwip/%.o,$(LWIP_FILES))
PEER_OPTS       := tests/unit/peer/lwipopts.h tests/unit/peer/arch/cc.h

# Our own sources: plain C11, warning-free.  -Itests/unit for "peer/peer.h".
POOL_CFLAGS = -std=c11 -D_DEFAULT_SOURCE -O1 -g -Wall -Wextra \
	-Wno-unused-parameter -Werror -MMD -MP -DPOOL_TEST_MAIN \
	-Iguest-fw/include -Itests/unit $(PEER_INCLUDES) \
	$(shell pkg-config --cflags check)
POOL_LIBS   = $(shell pkg-config --libs check)
POOL_OBJS   := $(POOL_DIR)/test_pool.o $(POOL_DIR)/test_attack.o \
	$(POOL_DIR)/test_proxy_protocol.o $(POOL_DIR)/peer.o

.PHONY: pool-test

$(PEER_DIR)/lwip/%.o: $(LWIP_SRC)/src/%.c $(PEER_OPTS) $(STAMP_SRC)
	@mkdir -p $(dir $@)
	$(CC) $(PEER_LWIP_FLAGS) -c $< -o $@
	@if grep -q 'guest-fw/port' $(@:.o=.d); then \
		echo "$@: compiled against guest-fw/port" >&2; rm -f $@; exit 1; fi

$(POOL_DIR)/test_pool.o: tests/unit/test_pool.c $(PEER_OPTS) $(STAMP_SRC)
	@mkdir -p $(dir $@)
	$(CC) $(POOL_CFLAGS) -c $< -o $@

$(POOL_DIR)/test_attack.o: tests/unit/test_attack.c $(PEER_OPTS) $(STAMP_SRC)
	@mkdir -p $(dir $@)
	$(CC) $(POOL_CFLAGS) -c $< -o $@

$(POOL_DIR)/test_proxy_protocol.o: tests/unit/test_proxy_protocol.c $(PEER_OPTS) $(STAMP_SRC)
	@mkdir -p $(dir $@)
	$(CC) $(POOL_CFLAGS) -c $< -o $@

$(POOL_DIR)/peer.o: tests/unit/peer/peer.c $(PEER_OPTS) $(STAMP_SRC)
	@mkdir -p $(dir $@)
	$(CC) $(POOL_CFLAGS) -c $< -o $@
	@if grep -q 'guest-fw/port' $(@:.o=.d); then \
		echo "$@: compiled against guest-fw/port" >&2; rm -f $@; exit 1; fi

# The firmware archive exports only pcfw_*, so its lwIP and the peer's
# never meet at link time.
$(POOL_BIN): $(POOL_OBJS) $(FW_LIB) $(PEER_LWIP_OBJS)
	@mkdir -p $(dir $@)
	$(CC) -o $@ $(POOL_OBJS) $(FW_LIB) $(PEER_LWIP_OBJS) $(POOL_LIBS)

pool-test: $(POOL_BIN)
	$(POOL_BIN)

-include $(PEER_LWIP_OBJS:.o=.d) $(POOL_OBJS:.o=.d)

.DEFAULT_GOAL := $(pool_default_goal)
