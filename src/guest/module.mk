# vminitd: the guest's PID 1 (static, jansson only) and its unit tests.
UNIT_TESTS += test-agent-frame test-agent-msg
test-agent-frame_SRCS := tests/unit/test-agent-frame.c
test-agent-msg_SRCS := tests/unit/test-agent-msg.c
# guest code under test is compiled into the test (libctr.a has no guest objects)
UNIT_TESTS += test-guest-archive
test-guest-archive_SRCS := tests/unit/test-guest-archive.c src/guest/archive.c
UNIT_TESTS += test-guest-user test-guest-exec test-guest-server test-guest-net
test-guest-net_SRCS := tests/unit/test-guest-net.c src/guest/net.c
test-guest-user_SRCS := tests/unit/test-guest-user.c src/guest/user.c
test-guest-exec_SRCS := tests/unit/test-guest-exec.c src/guest/exec-util.c src/guest/user.c \
	src/guest/process.c
test-guest-server_SRCS := tests/unit/test-guest-server.c src/guest/server.c src/guest/process.c \
	src/guest/user.c src/guest/exec-util.c src/guest/mounts.c src/guest/copyup.c \
	src/guest/net.c src/guest/archive.c src/guest/warm.c

GUEST_BINS += vminitd
vminitd_SRCS := $(wildcard src/guest/*.c) src/proto/agent-frame.c src/proto/agent-msg.c src/proto/net-config.c $(wildcard src/common/*.c)
# libarchive for cp/export (archive.c), static with its dependencies; --gc-sections drops
# the formats and filters we never call (about +1 MB instead of +3 MB).
vminitd_LIBS := -Wl,--gc-sections -l:libarchive.a -l:libacl.a -l:libnettle.a -l:liblzma.a \
	-l:libzstd.a -l:liblz4.a -l:libbz2.a -l:libz.a -l:libxml2.a -lm
