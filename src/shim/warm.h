/* Warm start (docs/runtime.md "Warm start"): instead of booting, the shim restores a
 * snapshot of a VM of the same shape that booted with placeholder disks and stopped
 * with vminitd waiting for `hello` (a "template"). Templates live under
 * CONTAINER_TEMPLATE_DIR (default SHIM_TEMPLATE_DIR), one directory per shape key. */
#ifndef CTR_SHIM_WARM_H
#define CTR_SHIM_WARM_H

#include "shim/vmm-internal.h"

#define SHIM_TEMPLATE_DIR "/var/cache/container-runtime/templates"
#define SHIM_TEMPLATES_KEPT 16 /* least recently used ones beyond this are removed */

struct shim_warm {
    char *key;       /* hex sha256 of the shape */
    char *dir;       /* the template's directory */
    int fd;          /* its snapshot (DIR/state), open for reading; -1: boot cold */
    double create_s; /* > 0: this run made the template, in that many seconds */
    char *why_cold;  /* when fd < 0: why (static or malloc'd, see below) */
};

/* Is warm start wanted? CONTAINER_WARM_START=0 turns it off. */
bool shim_warm_enabled(void);

/* The shape key of vc: the backend's snapshot shape (for QEMU the template's command
 * line: memory, vCPUs, accelerator, kernel command line, disks' sizes/read-only
 * flags/serials, shares' tags/read-only flags), the VMM program, the kernel and the
 * initramfs. */
int shim_warm_key(const struct vmm_ops *ops, const struct vmm_config *vc, char **key,
                  ctr_error_t *err);

/* Find the template of vc's shape, making it when missing (serialised by a lock; another
 * shim making the same one is waited for). On success w->fd is open; on any failure
 * w->fd is -1 and w->why_cold says why (the caller boots cold). timeout_ms bounds the
 * template VM's boot. */
void shim_warm_prepare(const struct vmm_ops *ops, const struct vmm_config *vc, unsigned timeout_ms,
                       struct shim_warm *w);

/* The restored VM did not come up: remove its template so that the next run makes a new
 * one. */
void shim_warm_discard(struct shim_warm *w);

/* Append the template's boot log to fd (the bundle's boot log), with a header line. */
void shim_warm_copy_bootlog(const struct shim_warm *w, int fd);

void shim_warm_release(struct shim_warm *w);

/* A restored VM's `setup` carries the host's time, 32 random bytes (getrandom) and the
 * NICs' MACs (setup->warm_macs: malloc'd, the caller frees it with ctr_strv_free). */
struct agent_setup;
int shim_warm_setup(struct agent_setup *setup, const struct vmm_config *vc, ctr_error_t *err);

/* How long a restored VM gets to answer `hello` before the shim boots cold instead. */
#define WARM_HELLO_TIMEOUT_MS 15000u

/* One blocking `hello` round trip on the agent socket: returns 0 when vminitd answered
 * ok, -1 (err set) when the VMM (pidfd) exited, the guest answered an error, or
 * timeout_ms passed. */
int shim_agent_sync_hello(int agent_fd, int pidfd, unsigned timeout_ms, ctr_error_t *err);

#endif
