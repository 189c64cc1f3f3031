# tapaid - root Makefile.
#
# One non-recursive make over the whole tree.  Each part adds its objects,
# programs and tests in its own module.mk, so that the parts can grow apart
# without fighting over this file.
#
#   make              build everything (-Wall -Wextra -Werror)
#   make test         install missing Debian packages, build, run every test
#   make check        unit tests and fuzz-corpus replay only
#   make check-asan   every test (unit, integration, fault) under ASan + UBSan
#   make fuzz         each libFuzzer target for FUZZ_SECONDS (default 60)
#   make bench        benchmarks, each figure beside its measured floor
#   make demo         the whole system on emulated readers
#   make install      PREFIX=/usr/local DESTDIR=

PREFIX ?= /usr/local
DESTDIR ?=
B ?= build
CC ?= cc
OPT ?= -O2
CFLAGS ?= $(OPT) -g
SAN ?=
WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
	-Wmissing-prototypes -Wpointer-arith -Wformat=2 -Wno-unused-parameter
ALL_CFLAGS = -std=gnu11 $(WARN) $(CFLAGS) $(SAN) -MMD -MP
ALL_CPPFLAGS = -D_GNU_SOURCE -Iprotocol/include $(CPPFLAGS)
LDLIBS_CRYPTO := -lmbedcrypto
PKG_CFLAGS = $(shell pkg-config --cflags $(1) 2>/dev/null)
PKG_LIBS = $(shell pkg-config --libs $(1) 2>/dev/null)

# Filled in by the module.mk files.
PROGRAMS :=
TESTS :=
ITESTS :=
FUZZERS :=
BENCHES :=
MANPAGES :=

.PHONY: all
all:

include $(sort $(wildcard protocol/*.mk))
include $(sort $(wildcard firmware/*.mk))
include $(sort $(wildcard host/*.mk))
include $(sort $(wildcard tools/*.mk))
include tests/module.mk
include $(filter-out tests/module.mk,$(sort $(wildcard tests/*.mk)))

all: $(PROGRAMS)

$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) -c -o $@ $<

# ---- dependencies -------------------------------------------------------
.PHONY: deps
deps:
	@tools/install-deps.sh

$(B)/.deps-ok: tools/install-deps.sh
	@tools/install-deps.sh
	@mkdir -p $(B) && touch $@

# ---- test ladder ----------------------------------------------------------
.PHONY: test check check-asan check-integration fuzz bench format-check analyze

test: $(B)/.deps-ok
	@$(MAKE) --no-print-directory all-tests
	@tests/run.sh $(B) $(TESTS) -- $(ITESTS)

check: $(B)/.deps-ok
	@$(MAKE) --no-print-directory all-tests
	@tests/run.sh $(B) $(TESTS) --

check-integration: $(B)/.deps-ok
	@$(MAKE) --no-print-directory all-tests
	@tests/run.sh $(B) -- $(ITESTS)

.PHONY: all-tests
all-tests: all $(TESTS)

check-asan: $(B)/.deps-ok
	@$(MAKE) --no-print-directory B=build-asan OPT=-O1 \
		SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" \
		test

FUZZ_SECONDS ?= 60
fuzz: $(B)/.deps-ok
	@$(MAKE) --no-print-directory B=build-fuzz CC=clang OPT=-O1 \
		SAN="-fsanitize=address,undefined,fuzzer-no-link -fno-omit-frame-pointer" \
		fuzz-run

bench: $(B)/.deps-ok
	@$(MAKE) --no-print-directory all $(BENCHES) $(BENCH_TOOLS)
	@tools/bench-table.sh $(B) $(BENCHES)

format-check:
	@clang-format --dry-run --Werror $$(git ls-files '*.c' '*.h')

analyze:
	scan-build-14 --status-bugs $(MAKE) B=build-analyze all

# ---- the demo -----------------------------------------------------------
.PHONY: demo
demo: $(B)/.deps-ok
	@$(MAKE) --no-print-directory all
	@TAPAID_BUILD=$(B) tools/demo.sh $(CURDIR)/demo

# ---- install -------------------------------------------------------------
.PHONY: install
install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 \
		$(DESTDIR)$(PREFIX)/share/man/man8
	for p in $(PROGRAMS); do install -m 0755 $$p $(DESTDIR)$(PREFIX)/bin/; done
	for m in $(MANPAGES); do \
		s=$${m##*.}; install -m 0644 $$m $(DESTDIR)$(PREFIX)/share/man/man$$s/; done
	install -d $(DESTDIR)$(PREFIX)/share/tapaid
	install -m 0644 host/tapaidd.service host/tapaidd.conf.example \
		firmware/kiosk.conf.example $(DESTDIR)$(PREFIX)/share/tapaid/

.PHONY: clean
clean:
	rm -rf build build-asan build-fuzz build-analyze

-include $(shell find $(B) -name '*.d' 2>/dev/null)
