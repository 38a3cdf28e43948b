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

