# protocol/proto.mk: the kiosk<->host protocol's tests, vectors, fuzzers and
# benchmark.  The library sources (protocol/src/proto_*.c) are picked up by
# protocol/module.mk.

# Known-answer vectors: the generator links the deterministic RNG stub.
PROTO_GEN := $(B)/tests/gen_proto_vectors
$(PROTO_GEN): $(B)/tests/vectors/gen_proto_vectors.o $(B)/tests/unit/rng_stub.o $(LIBPROTO)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $(filter %.o,$^) $(LIBPROTO) $(CMOCKA_LIBS) $(LDLIBS_CRYPTO)

.PHONY: proto-vectors
proto-vectors: $(PROTO_GEN)
	$(PROTO_GEN) > tests/vectors/proto_vectors.h.tmp
	mv tests/vectors/proto_vectors.h.tmp tests/vectors/proto_vectors.h

all-tests: $(PROTO_GEN)

# The session test replays the KAT script, so it needs the same RNG stub.
TEST_OBJS_test_proto_session := $(B)/tests/unit/rng_stub.o

# Benchmark.
PROTO_BENCH := $(B)/bench/bench_proto
$(PROTO_BENCH): $(B)/tests/bench/bench_proto.o $(LIBPROTO)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $(filter %.o,$^) $(LIBPROTO) $(LDLIBS_CRYPTO)
BENCHES += $(PROTO_BENCH)
