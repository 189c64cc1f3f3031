# tools/tapaidctl.mk: tapaidctl, the staff and administrator CLI.
#
# Links libcjson (admin socket JSON), libcsv (member import), libnfc (card
# issue on the staff reader), libtpproto and mbedcrypto.  ctl_sun.c (owned
# by the ntag part) is linked in when present and adds "sun verify".

CTL_SRCS := $(filter-out tools/tapaidctl/ctl_sun.c,$(wildcard tools/tapaidctl/*.c))
CTL_HAVE_SUN := $(wildcard tools/tapaidctl/ctl_sun.c)
CTL_SRCS += $(CTL_HAVE_SUN)
CTL_OBJS := $(CTL_SRCS:%.c=$(B)/%.o)
# Everything but main(), for unit tests.
CTL_LIB_OBJS := $(filter-out $(B)/tools/tapaidctl/tapaidctl.o,$(CTL_OBJS))
CTL_LIBS := $(or $(call PKG_LIBS,libcjson),-lcjson) -lcsv \
	$(or $(call PKG_LIBS,libnfc),-lnfc)

$(B)/tools/tapaidctl/%.o: CPPFLAGS += $(call PKG_CFLAGS,libcjson) \
	$(call PKG_CFLAGS,libnfc) $(if $(CTL_HAVE_SUN),-DCTL_HAVE_SUN)

$(B)/bin/tapaidctl: $(CTL_OBJS) $(LIBPROTO)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $(CTL_OBJS) $(LIBPROTO) $(CTL_LIBS) $(LDLIBS_CRYPTO)

PROGRAMS += $(B)/bin/tapaidctl
MANPAGES += tools/tapaidctl.1

# Unit tests of the client-side pieces (tests/unit/test_ctl*.c).
$(B)/tests/unit/test_ctl.o $(B)/tests/unit/test_ctl_%.o: CPPFLAGS += $(call PKG_CFLAGS,libcjson) -Itools/tapaidctl
# (An archive, since tests/module.mk names TEST_OBJS twice.)
CTL_A := $(B)/tests/libctl.a
$(CTL_A): $(CTL_LIB_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^
TEST_OBJS_test_ctl := $(CTL_A)
TEST_LIBS_test_ctl := $(CTL_LIBS)

# Integration tests (scripts speaking TAP) need these programs built.
ITESTS += $(sort $(wildcard tests/integration/*ctl*.sh))

# Fuzz target for the member CSV checker (tests/fuzz/fuzz_ctl_csv.c).
$(B)/tests/fuzz/fuzz_ctl_csv.o: CPPFLAGS += $(call PKG_CFLAGS,libcjson) -Itools/tapaidctl
FUZZ_OBJS_ctl_csv := $(CTL_A)
FUZZ_LIBS_ctl_csv := $(CTL_A) $(LIBPROTO) $(CTL_LIBS)
BENCHES += tests/bench/bench_ctl_import.sh
