# protocol/: pure codec and crypto, built as one static library.
PROTO_SRCS := $(wildcard protocol/src/*.c)
PROTO_OBJS := $(PROTO_SRCS:%.c=$(B)/%.o)
LIBPROTO := $(B)/libtpproto.a

$(LIBPROTO): $(PROTO_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^
