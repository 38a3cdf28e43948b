HOST_SRCS += $(wildcard src/proto/*.c)
# the shim<->agent contract, also compiled into the static guest agent (the guest module)
PROTO_GUEST_SRCS := src/proto/agent-frame.c src/proto/agent-msg.c src/proto/net-config.c
