# tools/pn532emu.mk: tapaid-pn532emu, the PN532 emulator on a pty with
# virtual NTAG 424 DNA cards (the hardware-free test rig), its C test
# helper and its tests.

EMU_SRCS := $(wildcard tools/pn532emu/*.c)
EMU_OBJS := $(EMU_SRCS:%.c=$(B)/%.o)
# Everything but main(): what the unit tests and the fuzz target link.
EMU_LIB_OBJS := $(filter-out $(B)/tools/pn532emu/main.o,$(EMU_OBJS))
EMU_BIN := $(B)/bin/tapaid-pn532emu

PROGRAMS += $(EMU_BIN)
MANPAGES += tools/tapaid-pn532emu.1

$(EMU_BIN): $(EMU_OBJS) $(LIBPROTO)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $(EMU_OBJS) $(LIBPROTO) $(LDLIBS_CRYPTO)

# The emulator without main(), as an archive: tests/module.mk names
# TEST_OBJS_test_X twice on the link line, which an archive survives.
EMU_A := $(B)/tests/libemu.a
$(EMU_A): $(EMU_LIB_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

# The test helper other parts use to run the emulator (emu_helper.h):
# $(B)/tests/emu_helper.o from the pattern rule, or this archive for
# TEST_OBJS_test_X.
EMU_HELPER_A := $(B)/tests/libemu_helper.a
$(EMU_HELPER_A): $(B)/tests/emu_helper.o
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

# In-process tests of the frame codec, the chip and the card.
TEST_OBJS_test_emu := $(EMU_A)

# libnfc (Debian's pn532_uart driver) through the emulator's pty.
$(B)/tests/unit/test_emu_libnfc.o: CPPFLAGS += $(call PKG_CFLAGS,libnfc)
TEST_OBJS_test_emu_libnfc := $(EMU_HELPER_A)
TEST_LIBS_test_emu_libnfc := $(or $(call PKG_LIBS,libnfc),-lnfc)
$(B)/tests/test_emu_libnfc: | $(EMU_BIN)

# nfc-list from Debian's libnfc-bin lists a virtual card.
ITESTS += tests/integration/emu_nfc_list.sh

# Fuzz target (tests/fuzz/fuzz_pn532_frame.c): the decoder and the chip.
# FUZZ_OBJS makes the archive a prerequisite, FUZZ_LIBS links it.
FUZZ_OBJS_pn532_frame := $(EMU_A)
FUZZ_LIBS_pn532_frame := $(EMU_A) $(LIBPROTO)
# tests/fuzz/fuzz_pn532_chip.c: command sequences, framed by the harness.
FUZZ_OBJS_pn532_chip := $(EMU_A)
FUZZ_LIBS_pn532_chip := $(EMU_A) $(LIBPROTO)
