HOST_SRCS += $(wildcard src/proto/*.c)
