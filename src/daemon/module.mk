# container-apiserver: the Docker Engine API daemon (docs/daemon.md, docs/api.md).
HOST_SRCS += $(filter-out src/daemon/main.c,$(wildcard src/daemon/*.c src/daemon/api/*.c))
BINS += container-apiserver
container-apiserver_SRCS := src/daemon/main.c

UNIT_TESTS += test-daemon
test-daemon_SRCS := tests/unit/test-daemon.c

UNIT_TESTS += test-daemon-net
test-daemon-net_SRCS := tests/unit/test-daemon-net.c

UNIT_TESTS += test-daemon-names
test-daemon-names_SRCS := tests/unit/test-daemon-names.c

UNIT_TESTS += test-daemon-input
test-daemon-input_SRCS := tests/unit/test-daemon-input.c
