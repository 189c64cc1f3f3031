# tests/: unit tests (cmocka), fuzz targets and their corpus replay.
#
# tests/unit/test_X.c becomes $(B)/tests/test_X, linked with libtpproto,
# cmocka and mbedTLS.  A part that needs more sets, in its own module.mk:
#   TEST_OBJS_test_X := objects to link in
#   TEST_LIBS_test_X := libraries to link in
# Integration tests are scripts (tests/integration/*.sh) speaking TAP.
#
# tests/fuzz/fuzz_X.c is a libFuzzer target.  `make fuzz` builds it with
# clang -fsanitize=fuzzer; `make test` links it with replay_main.c and runs
# it over tests/fuzz/corpus/X/, so every finding stays fixed.

UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(B)/tests/%)
TESTS += $(UNIT_BINS)
TEST_HELPERS := $(B)/tests/unit/rng_stub.o
CMOCKA_LIBS := $(or $(call PKG_LIBS,cmocka),-lcmocka)

.SECONDARY:
.SECONDEXPANSION:
$(B)/tests/test_%: $(B)/tests/unit/test_%.o $$(TEST_OBJS_test_$$*) $(LIBPROTO)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $(filter %.o,$^) $(filter-out %.o,$(TEST_OBJS_test_$*)) \
		$(LIBPROTO) $(TEST_LIBS_test_$*) $(CMOCKA_LIBS) $(LDLIBS_CRYPTO)

FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_NAMES := $(FUZZ_SRCS:tests/fuzz/fuzz_%.c=%)
REPLAY_BINS := $(FUZZ_NAMES:%=$(B)/tests/replay_%)
TESTS += $(REPLAY_BINS)
FUZZ_BINS := $(FUZZ_NAMES:%=$(B)/fuzz/fuzz_%)

$(B)/tests/replay_%: $(B)/tests/fuzz/fuzz_%.o $(B)/tests/fuzz/replay_main.o $$(FUZZ_OBJS_$$*) $(LIBPROTO)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $(filter %.o,$^) $(LIBPROTO) $(FUZZ_LIBS_$*) $(LDLIBS_CRYPTO)

$(B)/fuzz/fuzz_%: $(B)/tests/fuzz/fuzz_%.o $$(FUZZ_OBJS_$$*) $(LIBPROTO)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -fsanitize=fuzzer -o $@ $(filter %.o,$^) $(LIBPROTO) $(FUZZ_LIBS_$*) $(LDLIBS_CRYPTO)

.PHONY: fuzz-run
fuzz-run: $(FUZZ_BINS)
	@for n in $(FUZZ_NAMES); do \
		mkdir -p tests/fuzz/corpus/$$n $(B)/fuzz/artifacts; \
		echo "fuzz $$n for $(FUZZ_SECONDS)s"; \
		$(B)/fuzz/fuzz_$$n -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
			-artifact_prefix=$(B)/fuzz/artifacts/$$n- \
			tests/fuzz/corpus/$$n >$(B)/fuzz/$$n.log 2>&1; rc=$$?; \
		tail -n 12 $(B)/fuzz/$$n.log; [ $$rc -eq 0 ] || exit 1; \
	done
