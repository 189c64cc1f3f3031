# tests/fault.mk: the whole-system fault tests (tests/fault/*.sh, TAP),
# run by `make test` and `make check-integration` after the unit and
# integration tests.  Each drives the real tapaidd, tapaid-kiosk,
# tapaidctl and tapaid-pn532emu; tests/fault/lib.sh is their harness.
# Their helpers: loadgen (many kiosk sessions through tests/kioskclient.c,
# retrying across host crashes), tcpproxy (a relay that can partition
# the network) and libskewclock.so (LD_PRELOAD: one process's wall clock
# moved).

FAULT_TESTS := $(sort $(filter-out tests/fault/lib.sh,$(wildcard tests/fault/*.sh)))
FAULT_HELPERS := $(B)/tests/fault/loadgen $(B)/tests/fault/tcpproxy \
	$(B)/tests/fault/libskewclock.so

$(B)/tests/fault/loadgen: $(B)/tests/fault/loadgen.o \
		$(B)/tests/integration/hostd_harness.o $(B)/tests/kioskclient.o \
		$(LIBPROTO)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $(filter %.o,$^) $(LIBPROTO) \
		$(LDLIBS_SQLITE) $(LDLIBS_CRYPTO)
$(B)/tests/fault/loadgen.o: CPPFLAGS += -Itests -Itests/integration

$(B)/tests/fault/tcpproxy: $(B)/tests/fault/tcpproxy.o
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $^

# A shared object: position-independent, and never sanitized (it is
# preloaded into a program that may not be).
$(B)/tests/fault/libskewclock.so: tests/fault/skewclock.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CPPFLAGS) -std=gnu11 $(WARN) $(OPT) -fPIC -shared \
		-o $@ $< -ldl

ifneq ($(wildcard host/engine.c),)
ITESTS += $(FAULT_TESTS)
all-tests: $(FAULT_HELPERS) $(TAPAIDD) $(B)/bin/tapaidctl \
	$(B)/bin/tapaid-kiosk $(B)/bin/tapaid-pn532emu
endif
