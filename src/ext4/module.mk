# ext4 image writer/reader on libext2fs (no OCI inside).
HOST_SRCS += $(wildcard src/ext4/*.c)
