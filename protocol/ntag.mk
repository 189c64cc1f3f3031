# protocol/ntag.mk - NTAG 424 DNA card crypto: tests, fuzz targets, bench.
# The sources (protocol/src/ntag_*.c) go into $(LIBPROTO) by the wildcard in
# protocol/module.mk.
#
# tests/module.mk links TEST_OBJS_test_X twice (once through $^, once by
# name), which breaks a plain .o with "multiple definition"; an archive may
# be named twice, so the extra objects go in through small archives.

NTAG_RNG_A := $(B)/tests/libntag_rng.a
$(NTAG_RNG_A): $(B)/tests/unit/rng_stub.o
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

NTAG_CTL_A := $(B)/tests/libntag_ctl.a
$(NTAG_CTL_A): $(B)/tools/tapaidctl/ctl_sun.o
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

TEST_OBJS_test_ntag := $(NTAG_RNG_A)
TEST_OBJS_test_ntag_ev2 := $(NTAG_RNG_A)
TEST_OBJS_test_ntag_ctl := $(NTAG_CTL_A)

BENCH_SUN := $(B)/bin/bench_sun
BENCHES += $(BENCH_SUN)
$(BENCH_SUN): $(B)/tests/bench/bench_sun.o $(LIBPROTO)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $(filter %.o,$^) $(LIBPROTO) $(LDLIBS_CRYPTO)
