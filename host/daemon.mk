# host/daemon.mk - tapaidd, the host daemon (see host/tapaidd.8).
# Links the host core ($(LIBHOST), host/core.mk) and the protocol library.
TAPAIDD_SRCS := host/tapaidd.c host/loop.c host/net.c host/control.c \
	host/config.c host/log.c host/keys.c host/walckpt.c host/import.c
TAPAIDD_OBJS := $(TAPAIDD_SRCS:%.c=$(B)/%.o)
TAPAIDD := $(B)/bin/tapaidd
LDLIBS_TAPAIDD := $(LDLIBS_HOST) $(or $(call PKG_LIBS,inih),-linih) \
	$(or $(call PKG_LIBS,libcjson),-lcjson)
MANPAGES += host/tapaidd.8

$(TAPAIDD_OBJS): CPPFLAGS += $(call PKG_CFLAGS,libcjson) $(call PKG_CFLAGS,inih)

$(TAPAIDD): $(TAPAIDD_OBJS) $(LIBHOST) $(LIBPROTO)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $(TAPAIDD_OBJS) $(LIBHOST) $(LIBPROTO) \
		$(LDLIBS_TAPAIDD) -lpthread

# The daemon links once the engine (hostcore) is in the tree; until then
# its objects are still compiled by `make`.
ifneq ($(wildcard host/engine.c),)
PROGRAMS += $(TAPAIDD)
else
all: $(TAPAIDD_OBJS)
endif

# ---- tests and benchmark ----------------------------------------------------
KIOSKCLIENT_OBJS := $(B)/tests/kioskclient.o
HOSTD_HARNESS_OBJS := $(B)/tests/integration/hostd_harness.o
HOSTD_ITEST := $(B)/tests/hostd_test
HOSTD_BENCH := $(B)/bench/bench_host
# Test code builds paths from a temp dir with snprintf; cutting is harmless.
$(B)/tests/integration/%.o $(B)/tests/bench/%.o $(KIOSKCLIENT_OBJS): \
	ALL_CFLAGS += -Wno-unknown-warning-option -Wno-format-truncation

$(HOSTD_ITEST): $(B)/tests/integration/hostd_test.o $(HOSTD_HARNESS_OBJS) \
		$(KIOSKCLIENT_OBJS) $(LIBPROTO)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $(filter %.o,$^) $(LIBPROTO) \
		$(LDLIBS_SQLITE) $(LDLIBS_CRYPTO)

$(HOSTD_BENCH): $(B)/tests/bench/bench_host.o $(B)/tests/bench/hostd_sun.o \
		$(HOSTD_HARNESS_OBJS) \
		$(KIOSKCLIENT_OBJS) $(LIBHOST) $(LIBPROTO)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $(filter %.o,$^) $(LIBHOST) $(LIBPROTO) \
		$(LDLIBS_HOST) -lm

ifneq ($(wildcard host/engine.c),)
ITESTS += $(HOSTD_ITEST)
all-tests: $(HOSTD_ITEST) $(TAPAIDD)
BENCHES += $(HOSTD_BENCH)
# The generated bench database (hostcore's core.mk rule), when there is one.
ifneq ($(BENCH_DB_DIR),)
$(HOSTD_BENCH): | $(BENCH_DB_DIR)/tapaid.db $(TAPAIDD)
else
$(HOSTD_BENCH): | $(TAPAIDD)
endif
endif

# Unit test of the config parser.
TEST_OBJS_test_hostd_config := $(B)/host/config.o $(B)/host/log.o
TEST_LIBS_test_hostd_config := $(or $(call PKG_LIBS,inih),-linih)
$(B)/tests/unit/test_hostd_config.o: CPPFLAGS += $(call PKG_CFLAGS,sqlite3)

# Unit test of the WAL checkpoint thread: links it with the store.
TEST_OBJS_test_walckpt := $(B)/host/walckpt.o $(B)/host/log.o $(LIBHOST)
TEST_LIBS_test_walckpt := $(LDLIBS_HOST)
$(B)/tests/unit/test_walckpt.o: CPPFLAGS += $(call PKG_CFLAGS,sqlite3)

# Fuzz target for the big-request parse (tests/fuzz/fuzz_ctl_import.c).
$(B)/tests/fuzz/fuzz_ctl_import.o: CPPFLAGS += $(call PKG_CFLAGS,libcjson) \
	$(call PKG_CFLAGS,sqlite3) -Ihost
FUZZ_OBJS_ctl_import := $(B)/host/import.o
FUZZ_LIBS_ctl_import := $(or $(call PKG_LIBS,libcjson),-lcjson)

# Unit test of the import rows and the big-request parse (host/import.c).
TEST_OBJS_test_import := $(B)/host/import.o
TEST_LIBS_test_import := $(or $(call PKG_LIBS,libcjson),-lcjson)
$(B)/tests/unit/test_import.o: CPPFLAGS += $(call PKG_CFLAGS,libcjson) \
	$(call PKG_CFLAGS,sqlite3)
