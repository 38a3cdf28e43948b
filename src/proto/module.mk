HOST_SRCS += $(wildcard src/proto/*.c)
UNIT_TESTS += test-proto-net
test-proto-net_SRCS := tests/unit/test-proto-net.c
