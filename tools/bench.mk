# tools/bench.mk: what `make bench` needs beyond the BENCHES programs.
# The root Makefile's bench target runs tools/bench-table.sh, which runs
# every program in BENCHES plus tools/bench-import.sh (tapaidctl member
# import of 400,000 members) and tools/bench-logverify.sh (tapaidctl log
# verify over 10,000,000 rows made once by gen-bench-db), and prints one
# table: what | figure | floor | ratio.
BENCH_TOOLS += $(B)/bin/tapaidctl
ifneq ($(wildcard host/engine.c),)
BENCH_TOOLS += $(TAPAIDD) $(B)/bin/gen-bench-db
endif
