# container-runtime: the per-container shim (docs/runtime.md).
HOST_SRCS += src/shim/accel.c src/shim/vmm-qemu.c src/shim/loop.c src/shim/agent-client.c \
	src/shim/shim.c src/shim/shim-core.c src/shim/shim-io.c src/shim/shim-server.c src/shim/detach.c src/shim/preflight.c \
	src/shim/shim-job.c \
	src/shim/host-tsc.c src/shim/tap.c src/shim/portproxy.c src/shim/net.c src/shim/warm.c \
	src/shim/vm-events.c
# the QEMU backend beside vmm-qemu.c: command line, snapshots, QMP
HOST_SRCS += src/shim/vmm-qemu-argv.c src/shim/vmm-qemu-snapshot.c src/shim/qmp.c
BINS += container-runtime
container-runtime_SRCS := src/shim/main.c

UNIT_TESTS += test-shim-accel test-shim-qemu test-shim-agent test-shim-log test-bundle test-shim-proxy
UNIT_TESTS += test-shim-proto test-shim-qmp
test-shim-qmp_SRCS := tests/unit/test-shim-qmp.c
test-shim-proto_SRCS := tests/unit/test-shim-proto.c
test-shim-proxy_SRCS := tests/unit/test-shim-proxy.c
test-shim-log_SRCS := tests/unit/test-shim-log.c
test-shim-accel_SRCS := tests/unit/test-shim-accel.c
test-shim-qemu_SRCS := tests/unit/test-shim-qemu.c
test-shim-agent_SRCS := tests/unit/test-shim-agent.c
test-bundle_SRCS := tests/unit/test-bundle.c

# (module.mk files are read before the Makefile's `all`: keep it the default goal)
.DEFAULT_GOAL := all
# The guest kernel command line comes from kernel/cmdline (+ kernel/cmdline-tcg-1cpu):
# one source of truth for the shim and bench/boot/bare.sh. Each file is one line of
# plain arguments (no quotes or backslashes, which would need C escaping).
$(BUILD)/gen/shim-kernel-cmdline.h: kernel/cmdline kernel/cmdline-tcg-1cpu
	@mkdir -p $(dir $@)
	@for f in $^; do \
	    [ "$$(wc -l < $$f)" -le 1 ] && ! grep -q '["\\]' $$f && [ -n "$$(tr -d ' \n' < $$f)" ] || \
	        { echo "$$f: must be one non-empty line without quotes or backslashes" >&2; exit 1; }; \
	done
	@{ echo '/* generated from kernel/cmdline and kernel/cmdline-tcg-1cpu by src/shim/module.mk */'; \
	   printf '#define SHIM_KERNEL_CMDLINE "%s"\n' "$$(tr -s ' \n' '  ' < kernel/cmdline | sed 's/^ *//; s/ *$$//')"; \
	   printf '#define SHIM_KERNEL_CMDLINE_TCG_1CPU "%s"\n' "$$(tr -s ' \n' '  ' < kernel/cmdline-tcg-1cpu | sed 's/^ *//; s/ *$$//')"; \
	} > $@.tmp && mv $@.tmp $@
$(BUILD)/obj/src/shim/vmm-qemu-argv.o: $(BUILD)/gen/shim-kernel-cmdline.h
$(BUILD)/obj/src/shim/vmm-qemu-argv.o: CFLAGS_ALL += -I$(BUILD)/gen
$(BUILD)/obj/tests/unit/test-shim-qemu.o: $(BUILD)/gen/shim-kernel-cmdline.h
$(BUILD)/obj/tests/unit/test-shim-qemu.o: CFLAGS_ALL += -I$(BUILD)/gen

# static UDP echo server run inside test containers (tests/integration/32-runtime-net.sh)
GUEST_BINS += ctr-udp-echo
ctr-udp-echo_SRCS := tests/tools/ctr-udp-echo.c
