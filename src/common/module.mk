HOST_SRCS += $(wildcard src/common/*.c)
# also compiled into the static guest binaries (the guest module)
COMMON_SRCS := $(wildcard src/common/*.c)
