# ext4 image writer/reader on libext2fs (no OCI inside).
HOST_SRCS += $(wildcard src/ext4/*.c)
UNIT_TESTS += test-ext4
test-ext4_SRCS := tests/unit/test-ext4.c
