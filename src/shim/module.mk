# container-runtime: the per-container shim (docs/runtime.md).
HOST_SRCS += src/shim/accel.c src/shim/vmm-qemu.c src/shim/loop.c src/shim/agent-client.c \
	src/shim/shim.c src/shim/shim-io.c src/shim/shim-server.c src/shim/shim-client.c src/shim/preflight.c
BINS += container-runtime
container-runtime_SRCS := src/shim/main.c

UNIT_TESTS += test-shim-accel test-shim-qemu test-shim-agent test-shim-log test-bundle
test-shim-log_SRCS := tests/unit/test-shim-log.c
test-shim-accel_SRCS := tests/unit/test-shim-accel.c
test-shim-qemu_SRCS := tests/unit/test-shim-qemu.c
test-shim-agent_SRCS := tests/unit/test-shim-agent.c
test-bundle_SRCS := tests/unit/test-bundle.c
