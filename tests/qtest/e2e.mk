# The end-to-end qtest's server side (tests/qtest/proxycard-e2e-test.c):
# a second, ordinary lwIP plus tests/qtest/proxycard-e2e-peer.c, linked into
# one relocatable object whose only globals are pcpeer_* (the list in
# tests/qtest/proxycard-e2e-peer.exports) and archived as
# $(E2E_PEER_LIB).  QEMU's build links that archive into the qtest through
# link_args (the graft links $(E2E_PEER_DIR) into the QEMU tree as
# proxycard-e2e-peer/), like the firmware archive into QEMU.
#
# A fragment for the top-level Makefile, included after BUILD, CC, LWIP_SRC,
# LWIP_FILES and STAMP_SRC are defined:
#
#     include tests/qtest/e2e.mk
#
# Before integration:  make -f Makefile -f tests/qtest/e2e.mk e2e-peer

# Wherever this is included, it must not become the default goal.
e2e_default_goal := $(.DEFAULT_GOAL)

E2E_PEER_DIR  := $(BUILD)/tests/qtest-peer
E2E_PEER_LIB  := $(E2E_PEER_DIR)/libpcpeer.a
E2E_PEER_OBJ  := $(E2E_PEER_DIR)/pcpeer.o

# The unit tests' peer options: tests/unit/peer first, guest-fw/port never
# (each object's dependency file is checked, as in tests/unit/pool.mk).
E2E_INCLUDES  := -Itests/unit/peer -I$(LWIP_SRC)/src/include
E2E_OPTS      := tests/unit/peer/lwipopts.h tests/unit/peer/arch/cc.h
E2E_LWIP_FLAGS := -std=gnu11 -O1 -g -fPIC -Wall -Wno-address -MMD -MP \
	$(E2E_INCLUDES)
E2E_OWN_FLAGS := -std=c11 -D_DEFAULT_SOURCE -O1 -g -fPIC -Wall -Wextra \
	-Wno-unused-parameter -Werror -MMD -MP $(E2E_INCLUDES)
E2E_LWIP_OBJS := $(patsubst %.c,$(E2E_PEER_DIR)/lwip/%.o,$(LWIP_FILES))
E2E_OWN_OBJS  := $(E2E_PEER_DIR)/own/proxycard-e2e-peer.o

.PHONY: e2e-peer

define e2e_check_deps
	@if grep -q 'guest-fw/port' $(@:.o=.d); then \
		echo "$@: compiled against guest-fw/port" >&2; rm -f $@; exit 1; fi
endef

$(E2E_PEER_DIR)/lwip/%.o: $(LWIP_SRC)/src/%.c $(E2E_OPTS) $(STAMP_SRC)
	@mkdir -p $(dir $@)
	$(CC) $(E2E_LWIP_FLAGS) -c $< -o $@
	$(e2e_check_deps)

$(E2E_PEER_DIR)/own/proxycard-e2e-peer.o: tests/qtest/proxycard-e2e-peer.c \
		tests/qtest/proxycard-e2e-peer.h $(E2E_OPTS) $(STAMP_SRC)
	@mkdir -p $(dir $@)
	$(CC) $(E2E_OWN_FLAGS) -c $< -o $@
	$(e2e_check_deps)

# One object, every global but pcpeer_* made local: lwIP's names cannot meet
# QEMU's (libqemuutil, libqos) in the qtest program.  The header goes next
# to the archive, where the qtest's compile finds it.
$(E2E_PEER_LIB): $(E2E_LWIP_OBJS) $(E2E_OWN_OBJS) \
		tests/qtest/proxycard-e2e-peer.exports
	ld -r -o $(E2E_PEER_DIR)/pcpeer-full.o $(E2E_LWIP_OBJS) $(E2E_OWN_OBJS)
	objcopy --keep-global-symbols=tests/qtest/proxycard-e2e-peer.exports \
		$(E2E_PEER_DIR)/pcpeer-full.o $(E2E_PEER_OBJ)
	@bad=$$(nm -g --defined-only $(E2E_PEER_OBJ) | awk '$$3 !~ /^pcpeer_/ { print $$3 }'); \
	if [ -n "$$bad" ]; then echo "$@: unexpected globals: $$bad" >&2; exit 1; fi
	rm -f $@
	ar rcs $@ $(E2E_PEER_OBJ)
	ln -sfn $(TOP)/tests/qtest/proxycard-e2e-peer.h \
		$(E2E_PEER_DIR)/proxycard-e2e-peer.h

e2e-peer: $(E2E_PEER_LIB)

-include $(E2E_LWIP_OBJS:.o=.d) $(E2E_OWN_OBJS:.o=.d)

.DEFAULT_GOAL := $(e2e_default_goal)
