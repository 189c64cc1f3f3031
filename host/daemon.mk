# host/daemon.mk - tapaidd, the host daemon (see host/tapaidd.8).
# Links the host core ($(LIBHOST), host/core.mk) and the protocol library.
TAPAIDD_SRCS := host/tapaidd.c host/loop.c host/net.c host/control.c \
	host/config.c host/log.c host/keys.c
TAPAIDD_OBJS := $(TAPAIDD_SRCS:%.c=$(B)/%.o)
TAPAIDD := $(B)/bin/tapaidd
LDLIBS_TAPAIDD := $(LDLIBS_HOST) $(or $(call PKG_LIBS,inih),-linih) \
	$(or $(call PKG_LIBS,libcjson),-lcjson)
MANPAGES += host/tapaidd.8

$(TAPAIDD_OBJS): CPPFLAGS += $(call PKG_CFLAGS,libcjson) $(call PKG_CFLAGS,inih)

$(TAPAIDD): $(TAPAIDD_OBJS) $(LIBHOST) $(LIBPROTO)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $(TAPAIDD_OBJS) $(LIBHOST) $(LIBPROTO) \
		$(LDLIBS_TAPAIDD)

# The daemon links once the engine (hostcore) is in the tree; until then
# its objects are still compiled by `make`.
ifneq ($(wildcard host/engine.c),)
PROGRAMS += $(TAPAIDD)
else
all: $(TAPAIDD_OBJS)
endif
