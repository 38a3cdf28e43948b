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

/* What the shim asks of a VMM. Paths are absolute. Backend-neutral: what only one VMM
 * needs (QEMU's monitors, fd numbers, placeholder drivers) lives in its backend. */
struct vmm_config {
    const char *binary; /* the VMM program, e.g. "qemu-system-x86_64" (searched in PATH) */
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
    bool events;         /* report the VM's events (vmm_ops.read_events); not for templates */
};

/* Something the VM reports (vmm_ops.read_events). */
enum vmm_event_kind {
    VMM_EVENT_DISK_ERROR, /* a drive's I/O error, reported to the guest; the VM runs on */
    VMM_EVENT_PAUSED,     /* vmm_ops.pause(true) is done: the vCPUs are stopped (or error) */
    VMM_EVENT_RESUMED,    /* vmm_ops.pause(false) is done: the vCPUs run again (or error) */
};

struct vmm_event {
    enum vmm_event_kind kind;
    /* VMM_EVENT_DISK_ERROR */
    size_t disk;           /* index in vmm_config.disks; SIZE_MAX: unknown */
    const char *device;    /* the VMM's name of the drive, may be NULL */
    const char *operation; /* "read", "write", may be NULL */
    const char *reason;    /* may be NULL */
    bool nospace;          /* for want of space on the host (a full host disk) */
    /* VMM_EVENT_PAUSED, VMM_EVENT_RESUMED */
    const char *error; /* why it failed (the run state did not change); NULL: done */
};
typedef void (*vmm_event_fn)(void *arg, const struct vmm_event *ev);

/* A VM. Zero it, then set pidfd and stderr_fd to -1, before start. */
struct vmm {
    const struct vmm_ops *ops;
    pid_t pid;
    int pidfd;       /* readable when the VMM exits (-1 when unsupported) */
    int stderr_fd;   /* read end of the VMM's stderr pipe, nonblocking */
    char tail[2048]; /* last bytes of the VMM's stderr */
    size_t tail_len;
    bool reaped;
    int status; /* waitpid status once reaped */
    void *priv; /* the backend's own state (monitors), freed by release */
};

/* A backend. Snapshots (warm start, docs/runtime.md) are VMM operations, as in
 * firecracker's persist.rs: the backend owns how a VM is paused, saved and restored
 * and the format of the saved state; the caller (warm.c) owns which snapshots exist,
 * where, and when they are made or dropped. */
struct vmm_ops {
    const char *name;            /* "qemu": logs and the template key */
    const char *display_name;    /* "QEMU": messages */
    const char *snapshot_format; /* what a snapshot file is, for messages */
    /* Boot a VM. */
    int (*start)(struct vmm *vm, const struct vmm_config *cfg, ctr_error_t *err);
    /* Boot a VM of cfg's shape meant to be snapshotted: every backend a placeholder of
     * the same shape (disks of the real sizes reading zeroes, shares exporting
     * empty_dir, NICs on TAPs of no bridge with placeholder MACs that vminitd replaces
     * after a restore; cfg->tap_fds is not used). No events. */
    int (*start_template)(struct vmm *vm, const struct vmm_config *cfg, const char *empty_dir,
                          ctr_error_t *err);
    /* Pause a VM made by start_template and write its whole state to state_fd (the
     * caller's: it syncs and names the file), by deadline_ns (ctr_now_ns()). */
    int (*snapshot)(struct vmm *vm, int state_fd, uint64_t deadline_ns, ctr_error_t *err);
    /* Start a VM from the state in state_fd (the caller's, read only), with cfg's real
     * backends: the guest runs on from where it was saved. */
    int (*restore)(struct vmm *vm, const struct vmm_config *cfg, int state_fd, ctr_error_t *err);
    /* What a snapshot of cfg depends on: *words differ whenever a snapshot made for one
     * config cannot be restored with the other; *program is the VMM program's path. Both
     * malloc'd. Paths of disks, shares, the console and fds are not in it. */
    int (*snapshot_shape)(const struct vmm_config *cfg, char ***words, char **program,
                          ctr_error_t *err);
    /* Does fd start like a snapshot of this backend? */
    bool (*snapshot_valid)(int fd);
    /* Stop (paused) or continue the VM's vCPUs; devices, memory and the VMM process stay,
     * and nothing in the guest can notice (its clocks stop too). Does not wait: the
     * outcome comes as VMM_EVENT_PAUSED or VMM_EVENT_RESUMED through read_events. Only
     * a VM started with cfg->events. */
    int (*pause)(struct vmm *vm, bool paused, ctr_error_t *err);
    /* Ask the VMM to quit now (the guest gets no say). */
    int (*stop)(struct vmm *vm, ctr_error_t *err);
    int (*kill)(struct vmm *vm, int sig, ctr_error_t *err);
    /* Reap the VMM: returns 1 and fills vm->status when it exited, 0 when still running. */
    int (*wait)(struct vmm *vm, bool block, ctr_error_t *err);
    /* The fd that is readable when read_events has something; -1: no events. */
    int (*events_fd)(const struct vmm *vm);
    /* Read what the VM reported and hand each event to fn; returns 0 once the VMM closed
     * the channel (it is gone), 1 otherwise. */
    int (*read_events)(struct vmm *vm, vmm_event_fn fn, void *arg);
    void (*release)(struct vmm *vm);
};

extern const struct vmm_ops vmm_qemu_ops;

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
