HOST_SRCS += $(wildcard src/common/*.c)
