# Unpack: OCI layers -> ext4 image (the only place OCI meets the ext4 writer),
# and the local image store (store*.c).
HOST_SRCS += $(filter-out src/image/unpack-main.c,$(wildcard src/image/unpack*.c))
HOST_SRCS += $(wildcard src/image/store*.c)
# A writable layer read back: changes and layer tars (commit, diff, the builder).
HOST_SRCS += src/image/layerdiff.c

BINS += container-unpack
container-unpack_SRCS := src/image/unpack-main.c

# zlib's crc32() checks gzip trailers (libarchive does not).
PKG_LIBS += $(shell pkg-config --libs zlib 2>/dev/null || echo -lz)
