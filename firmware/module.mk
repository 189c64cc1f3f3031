# firmware/: the kiosk program tapaid-kiosk.
#
# The portable core (firmware/core) is built into its own archive with the
# hardware-independent backends (store, clock, display, fault wrapper), so
# unit tests link the same objects the program does.  The libnfc and libusb
# backends are separate objects, linked only into the program and the
# integration tests.

KIOSK_CORE_SRCS := $(wildcard firmware/core/*.c)
KIOSK_HAL_SRCS := firmware/hal/store_file.c firmware/hal/clock_posix.c \
	firmware/hal/display_term.c firmware/hal/hal_fault.c \
	firmware/hal/net_tcp.c firmware/kiosk_conf.c
KIOSK_FAKE_SRCS := $(wildcard firmware/hal/*_fake.c)
KIOSK_HW_SRCS := firmware/hal/reader_libnfc.c firmware/hal/usb_libusb.c
LIBKIOSK := $(B)/libkiosk.a
KIOSK_FAKES := $(B)/libkiosk_fakes.a
KIOSK_HW_OBJS := $(KIOSK_HW_SRCS:%.c=$(B)/%.o)
KIOSK_LIBS := $(or $(call PKG_LIBS,libnfc),-lnfc) \
	$(or $(call PKG_LIBS,libusb-1.0),-lusb-1.0) \
	$(or $(call PKG_LIBS,inih),-linih)

$(B)/firmware/%.o: CPPFLAGS += -Ifirmware -Ifirmware/core
$(B)/firmware/hal/reader_libnfc.o: CPPFLAGS += $(call PKG_CFLAGS,libnfc)
$(B)/firmware/hal/usb_libusb.o: CPPFLAGS += $(call PKG_CFLAGS,libusb-1.0)
$(B)/firmware/tapaid-kiosk.o: CPPFLAGS += $(call PKG_CFLAGS,inih)
$(B)/firmware/kiosk_conf.o: CPPFLAGS += $(call PKG_CFLAGS,inih)
$(B)/tests/unit/test_kiosk%.o: CPPFLAGS += -Ifirmware -Ifirmware/core $(call PKG_CFLAGS,inih)
$(B)/tests/bench/%.o $(B)/tests/integration/%.o: CPPFLAGS += -Ifirmware -Ifirmware/core

$(LIBKIOSK): $(KIOSK_CORE_SRCS:%.c=$(B)/%.o) $(KIOSK_HAL_SRCS:%.c=$(B)/%.o)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

# Archives, not objects: the test link rule lists TEST_OBJS after the
# prerequisites' objects, and an object would then be linked twice.
$(KIOSK_FAKES): $(KIOSK_FAKE_SRCS:%.c=$(B)/%.o)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(B)/libkiosk_usb.a: $(KIOSK_HW_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(B)/bin/tapaid-kiosk: $(B)/firmware/tapaid-kiosk.o $(KIOSK_HW_OBJS) $(LIBKIOSK) $(LIBPROTO) | kiosk-core-check
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $(filter %.o,$^) $(LIBKIOSK) $(LIBPROTO) \
		$(KIOSK_LIBS) $(LDLIBS_CRYPTO)

PROGRAMS += $(B)/bin/tapaid-kiosk
MANPAGES += firmware/tapaid-kiosk.1

# The core must stay portable: no libnfc or libusb headers in it.
.PHONY: kiosk-core-check
kiosk-core-check:
	@if grep -nE '#[[:space:]]*include[[:space:]]*[<"](nfc/|libusb)' \
		firmware/core/*.c firmware/core/*.h; then \
		echo "firmware/core includes libnfc or libusb headers" >&2; \
		exit 1; fi

# Unit tests of the kiosk link the core archive and the fakes.
KIOSK_TEST_OBJS := $(KIOSK_FAKES) $(LIBKIOSK)
TEST_OBJS_test_kiosk_core := $(KIOSK_TEST_OBJS)
TEST_OBJS_test_kiosk_store := $(KIOSK_TEST_OBJS)
TEST_OBJS_test_kiosk_msg := $(KIOSK_TEST_OBJS)
TEST_OBJS_test_kiosk_usb := $(B)/libkiosk_usb.a $(KIOSK_TEST_OBJS)
TEST_LIBS_test_kiosk_usb := $(KIOSK_LIBS)
TEST_LIBS_test_kiosk_core := $(or $(call PKG_LIBS,inih),-linih)
TEST_LIBS_test_kiosk_store := $(or $(call PKG_LIBS,inih),-linih)
TEST_LIBS_test_kiosk_msg := $(or $(call PKG_LIBS,inih),-linih)

# Integration: tapaid-kiosk through tapaid-pn532emu and real libnfc,
# against a real-protocol test host (tests/integration/kiosk_itest.c).
KIOSK_ITEST := $(B)/tests/kiosk_itest
$(KIOSK_ITEST): $(B)/tests/integration/kiosk_itest.o $(B)/tests/emu_helper.o \
		$(KIOSK_FAKES) $(LIBPROTO) | $(B)/bin/tapaid-kiosk $(B)/bin/tapaid-pn532emu
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $(filter %.o,$^) $(KIOSK_FAKES) $(LIBPROTO) \
		$(LDLIBS_CRYPTO) -lpthread
$(B)/tests/integration/kiosk_itest.o: CPPFLAGS += -Ifirmware -Itests
ITESTS += $(KIOSK_ITEST)
all-tests: $(KIOSK_ITEST)

# make bench: the kiosk's own work per tap and its peak RSS.
KIOSK_BENCH := $(B)/bin/bench_kiosk
$(KIOSK_BENCH): $(B)/tests/bench/bench_kiosk.o $(B)/tests/emu_helper.o \
		$(KIOSK_FAKES) $(LIBKIOSK) $(LIBPROTO) | $(B)/bin/tapaid-kiosk $(B)/bin/tapaid-pn532emu
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $(filter %.o,$^) $(KIOSK_FAKES) $(LIBKIOSK) \
		$(LIBPROTO) $(LDLIBS_CRYPTO)
$(B)/tests/bench/bench_kiosk.o: CPPFLAGS += -Ifirmware -Itests -Itests/unit
BENCHES += $(KIOSK_BENCH)

# The same chain against the real tapaidd (when the host is in the tree).
ifneq ($(wildcard host/engine.c),)
KIOSK_HD_ITEST := $(B)/tests/kiosk_tapaidd_itest
$(KIOSK_HD_ITEST): $(B)/tests/integration/kiosk_tapaidd_itest.o \
		$(B)/tests/integration/hostd_harness.o $(B)/tests/emu_helper.o \
		$(LIBPROTO) | $(B)/bin/tapaid-kiosk $(B)/bin/tapaid-pn532emu $(TAPAIDD)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $(filter %.o,$^) $(LIBPROTO) \
		$(LDLIBS_SQLITE) $(LDLIBS_CRYPTO) \
		$(or $(call PKG_LIBS,libcjson),-lcjson)
$(B)/tests/integration/kiosk_tapaidd_itest.o: CPPFLAGS += -Itests -Itests/integration \
	$(call PKG_CFLAGS,libcjson)
ITESTS += $(KIOSK_HD_ITEST)
all-tests: $(KIOSK_HD_ITEST)
endif

# Fuzz targets over the kiosk's parsers (tests/fuzz/fuzz_kiosk*.c).  No
# underscore in their names after "fuzz_": replay_main.c takes the corpus
# name after the last one.  The replay rule links only the .o
# prerequisites, so the archives go in FUZZ_LIBS (after libtpproto, hence
# libtpproto again).
$(B)/tests/fuzz/fuzz_kiosk%.o: CPPFLAGS += -Ifirmware -Ifirmware/core
FUZZ_OBJS_kioskndef := $(LIBKIOSK)
FUZZ_LIBS_kioskndef := $(LIBKIOSK) $(LIBPROTO)
FUZZ_OBJS_kioskconf := $(LIBKIOSK)
FUZZ_LIBS_kioskconf := $(LIBKIOSK) $(LIBPROTO) $(or $(call PKG_LIBS,inih),-linih)

# The portability check as a test too (make check, make test).
TESTS += tests/unit/kiosk_core_portable.sh
