# vminitd: the guest's PID 1 (static, jansson only). Its unit tests compile the guest
# files they test (libctr.a has no guest objects).
GUEST_BINS += vminitd
# deferred (=): src/proto and src/common are read after this file
vminitd_SRCS = $(wildcard src/guest/*.c) $(PROTO_GUEST_SRCS) $(COMMON_SRCS)
# libarchive for cp/export (archive.c), static with its dependencies; --gc-sections drops
# the formats and filters we never call (about +1 MB instead of +3 MB).
vminitd_LIBS := -Wl,--gc-sections -l:libarchive.a -l:libacl.a -l:libnettle.a -l:liblzma.a \
	-l:libzstd.a -l:liblz4.a -l:libbz2.a -l:libz.a -l:libxml2.a -lm
