/* The VMM backend of the shim: accelerator choice and an ops struct per VMM
 * (kvmtool's disk_image_operations style) so another VMM can be added. */
#ifndef CTR_SHIM_VMM_INTERNAL_H
#define CTR_SHIM_VMM_INTERNAL_H

#include "proto/bundle.h"

#include <sys/types.h>

enum vmm_accel { VMM_ACCEL_TCG = 0, VMM_ACCEL_KVM };

/* Where accelerator detection looks; tests point these at a fake tree. */
struct vmm_host {
    const char *sysfs;   /* "/sys" */
    const char *kvm_dev; /* "/dev/kvm" */
};

/* Choose the accelerator. requested: the bundle's `vm.accel`; env: the value of
 * CONTAINER_VIRTUALIZATION (may be NULL). A bundle setting other than auto wins
 * over the environment. *why gets a short reason (static string). Never blocks:
 * only stat/open/ioctl(KVM_GET_API_VERSION). */
int vmm_accel_choose(const struct vmm_host *host, enum bundle_accel requested, const char *env,
                     enum vmm_accel *out, const char **why, ctr_error_t *err);
const char *vmm_accel_name(enum vmm_accel a);

/* What the shim asks of a VMM. Paths are absolute. */
struct vmm_config {
    const char *binary; /* e.g. "qemu-system-x86_64" (searched in PATH) */
    const char *kernel;
    const char *initrd;  /* may be NULL */
    const char *cmdline; /* extra kernel arguments, may be NULL */
    uint64_t tsc_khz;    /* host TSC rate for `tsc_early_khz=` under TCG; 0: leave it out */
    unsigned cpus;
    uint64_t memory_mib;
    enum vmm_accel accel;
    const struct bundle_disk *disks; /* paths absolute */
    size_t n_disks;
    const struct bundle_share *shares; /* virtio-9p exports */
    size_t n_shares;
    const struct bundle_net *nets; /* NICs: virtio-net on the TAP fds tap_fds[i] */
    const int *tap_fds;
    size_t n_nets;
    bool vhost_net;      /* vhost=on for the TAPs (KVM with /dev/vhost-net only) */
    int agent_fd;        /* guest end of the agent socketpair */
    const char *console; /* file receiving the guest console (boot log) */
    /* Warm start (src/shim/warm.c). A template VM gets placeholder disks (null-co of
     * disk_sizes[i] bytes, same read-only flag and serial), every share exported from
     * placeholder_dir, and a QMP monitor on qmp_fd; a restored VM loads the migration
     * stream on incoming_fd instead of booting. */
    bool template_vm;
    const uint64_t *disk_sizes;  /* template_vm: n_disks sizes in bytes */
    const char *placeholder_dir; /* template_vm: an empty directory */
    int qmp_fd;                  /* template_vm: our end is elsewhere */
    bool restore;
    int incoming_fd; /* restore: a file holding the template's migration stream */
    /* A QMP monitor for events (BLOCK_IO_ERROR: a full host disk) on events_fd; not for
     * template VMs (they have their own). */
    bool events;
    int events_fd;
};

struct vmm {
    const struct vmm_ops *ops;
    pid_t pid;
    int pidfd;       /* readable when the VMM exits (-1 when unsupported) */
    int stderr_fd;   /* read end of the VMM's stderr pipe, nonblocking */
    char tail[2048]; /* last bytes of the VMM's stderr */
    size_t tail_len;
    bool reaped;
    int status; /* waitpid status once reaped */
};

struct vmm_ops {
    const char *name;
    int (*start)(struct vmm *vm, const struct vmm_config *cfg, ctr_error_t *err);
    /* Ask the VMM to quit now (the guest gets no say). */
    int (*stop)(struct vmm *vm, ctr_error_t *err);
    int (*kill)(struct vmm *vm, int sig, ctr_error_t *err);
    /* Reap the VMM: returns 1 and fills vm->status when it exited, 0 when still running. */
    int (*wait)(struct vmm *vm, bool block, ctr_error_t *err);
    void (*release)(struct vmm *vm);
};

extern const struct vmm_ops vmm_qemu_ops;

/* Fixed fd numbers inside the QEMU process: the agent socket, then one per TAP. */
#define VMM_QEMU_AGENT_FD 3
#define VMM_QEMU_TAP_FD0 4

/* The QEMU command line for cfg, with the agent socket at fd agent_fd_in_child and TAP i
 * at VMM_QEMU_TAP_FD0 + i (exposed for tests). */
char **vmm_qemu_argv(const struct vmm_config *cfg, int agent_fd_in_child, ctr_error_t *err);
/* The fd number in QEMU of a restore's stream or a template's QMP socket: after the TAPs. */
int vmm_qemu_warm_fd(const struct vmm_config *cfg);
/* The fd number in QEMU of the events QMP socket: after the TAPs and the warm-start fd. */
int vmm_qemu_events_fd(const struct vmm_config *cfg);
/* The kernel command line of every boot: kernel/cmdline (compiled in), under TCG
 * `tsc_early_khz=` when cfg->tsc_khz is set and kernel/cmdline-tcg-1cpu with one vCPU,
 * then cfg->cmdline. malloc'd. */
char *vmm_kernel_cmdline(const struct vmm_config *cfg);
/* The host's TSC rate in kHz: from cache (a file keyed by the host's boot id; NULL: no
 * cache) or measured (75 ms) and cached. */
int vmm_host_tsc_khz(const char *cache, uint64_t *khz, ctr_error_t *err);
int vmm_host_tsc_measure(uint64_t *khz, ctr_error_t *err);
/* Read what is available on vm->stderr_fd into the tail; returns 0 at EOF, >0 if data, <0 if
 * nothing. */
ssize_t vmm_drain_stderr(struct vmm *vm, int copy_fd);
/* Describe the exit (e.g. "killed by signal 9", "exited with status 1"); malloc'd. */
char *vmm_describe_status(int status);

#endif
