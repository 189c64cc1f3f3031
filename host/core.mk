# host/core.mk - the host library: storage (SQLite), decision engine, hash
# chain, name masking.  The daemon (host/module.mk) links $(LIBHOST) before
# $(LIBPROTO) and adds $(LDLIBS_HOST).
HOSTCORE_SRCS := host/store_sqlite.c host/engine.c host/chain.c host/mask.c
HOSTCORE_SRCS := $(wildcard $(HOSTCORE_SRCS))
HOSTCORE_OBJS := $(HOSTCORE_SRCS:%.c=$(B)/%.o)
LIBHOST := $(B)/libtphost.a
LDLIBS_SQLITE := $(or $(call PKG_LIBS,sqlite3),-lsqlite3)
LDLIBS_HOST := $(LDLIBS_SQLITE) $(LDLIBS_CRYPTO) -lpthread

$(B)/host/%.o: CPPFLAGS += $(call PKG_CFLAGS,sqlite3)

$(LIBHOST): $(HOSTCORE_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

all: $(LIBHOST)

# Unit tests of the core: each links the library and SQLite.
HOSTCORE_TESTS := test_store test_engine test_chain test_mask
$(foreach t,$(HOSTCORE_TESTS),$(eval TEST_OBJS_$(t) := $(LIBHOST)) \
	$(eval TEST_LIBS_$(t) := $(LDLIBS_SQLITE) -lpthread))

# Bench: tools/gen-bench-db builds the data directory once (400,000
# members, 150,000 cards, 2,000,000 redemptions; about 80 s here) and keeps
# a copy of it as generated (bench-db.orig), which tools/bench-table.sh
# puts back before each `make bench`: every bench run appends redemptions.
# Then bench_engine measures durable taps/s beside the floor.  Not in make
# test.
$(B)/bin/gen-bench-db: $(B)/tools/gen-bench-db.o $(LIBHOST) $(LIBPROTO)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $(filter %.o,$^) $(LIBHOST) $(LIBPROTO) \
		$(LDLIBS_HOST)

BENCH_DB_DIR := $(B)/bench-db
$(BENCH_DB_DIR)/tapaid.db: | $(B)/bin/gen-bench-db
	rm -rf $(BENCH_DB_DIR) $(BENCH_DB_DIR).orig
	$(B)/bin/gen-bench-db $(BENCH_DB_DIR)
	cp -a $(BENCH_DB_DIR) $(BENCH_DB_DIR).orig

$(B)/bench/bench_engine: $(B)/tests/bench/bench_engine.o $(LIBHOST) \
		$(LIBPROTO) | $(BENCH_DB_DIR)/tapaid.db
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $(filter %.o,$^) $(LIBHOST) $(LIBPROTO) \
		$(LDLIBS_HOST)
BENCHES += $(B)/bench/bench_engine
