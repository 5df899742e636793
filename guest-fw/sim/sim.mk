# proxycard-sim: the card firmware as an ordinary process on two libslirp
# networks, or its NIC port on a TAP device (guest-fw/sim/, see the top of
# sim_main.c).  A fragment for the top-level Makefile, included after BUILD,
# CC, FW_LIB and STAMP_DEPS are defined (rule prerequisites are expanded as
# the rules are read):
#
#     include guest-fw/sim/sim.mk
#
# then `make $(SIM_BIN)` builds build/proxycard-sim.  Needs libslirp-dev
# (4.7) and glib, libslirp's dependency, through pkg-config; both come with
# scripts/install-deps.sh.

# Wherever this is included, it must not become the default goal.
sim_default_goal := $(.DEFAULT_GOAL)

SIM_BIN    := $(BUILD)/proxycard-sim
SIM_DIR    := $(BUILD)/sim
SIM_SRCS   := guest-fw/sim/sim_main.c guest-fw/sim/sim_slirp.c \
	guest-fw/sim/sim_tap.c
SIM_OBJS   := $(patsubst guest-fw/sim/%.c,$(SIM_DIR)/%.o,$(SIM_SRCS))
# Deferred (=): pkg-config runs when a recipe needs it, after the packages
# are installed.
SIM_CFLAGS  = -std=c11 -D_GNU_SOURCE -O2 -g -Wall -Wextra -Werror \
	-MMD -MP -Iguest-fw/include $(shell pkg-config --cflags slirp glib-2.0)
SIM_LIBS    = $(shell pkg-config --libs slirp glib-2.0)

.PHONY: sim sim-clean

# Objects depend on their headers (pcfw.h included) through the .d files and
# wait for the packages; the binary depends on the firmware archive, so a
# rebuilt firmware relinks it.
$(SIM_DIR)/%.o: guest-fw/sim/%.c | $(STAMP_DEPS)
	@mkdir -p $(dir $@)
	$(CC) $(SIM_CFLAGS) -c $< -o $@

$(SIM_BIN): $(SIM_OBJS) $(FW_LIB)
	$(CC) -o $@ $(SIM_OBJS) $(FW_LIB) $(SIM_LIBS)

sim: $(SIM_BIN)

sim-clean:
	rm -rf $(SIM_DIR) $(SIM_BIN)

clean: sim-clean

-include $(SIM_OBJS:.o=.d)

.DEFAULT_GOAL := $(sim_default_goal)
