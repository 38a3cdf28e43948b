# Unpack: OCI layers -> ext4 image (the only place OCI meets the ext4 writer).
# Registry and store files in src/image are added by their own module.mk lines.
HOST_SRCS += $(filter-out src/image/unpack-main.c,$(wildcard src/image/unpack*.c))

BINS += container-unpack
container-unpack_SRCS := src/image/unpack-main.c

UNIT_TESTS += test-unpack
test-unpack_SRCS := tests/unit/test-unpack.c

# zlib's crc32() checks gzip trailers (libarchive does not).
PKG_LIBS += $(shell pkg-config --libs zlib 2>/dev/null || echo -lz)
