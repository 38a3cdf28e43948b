/* The QEMU backend's own parts (vmm-qemu*.c), beside the neutral vmm_config:
 * the command line (vmm-qemu-argv.c), the process and the ops (vmm-qemu.c), and
 * snapshots as migration streams (vmm-qemu-snapshot.c). Files depend one way:
 * vmm-qemu.c -> vmm-qemu-snapshot.c -> vmm-qemu-argv.c, qmp.c. */
#ifndef CTR_SHIM_VMM_QEMU_INTERNAL_H
#define CTR_SHIM_VMM_QEMU_INTERNAL_H

#include "shim/vmm-internal.h"

/* Fixed fd numbers inside the QEMU process: the agent socket, then one per TAP, then
 * the warm-start fd (a restore's stream or a template's QMP socket), then the events
 * QMP socket. */
#define VMM_QEMU_AGENT_FD 3
#define VMM_QEMU_TAP_FD0 4

/* What the command line holds beyond cfg. */
struct vmm_qemu_opts {
    /* A template VM (warm start): placeholder disks (null-co of disk_sizes[i] bytes, same
     * read-only flag and serial), every share exported from placeholder_dir, placeholder
     * MACs, and a QMP monitor on the warm-start fd. */
    bool template_vm;
    const uint64_t *disk_sizes;
    const char *placeholder_dir;
    /* A restore: `-incoming` of the migration stream on the warm-start fd. */
    bool incoming;
    /* A QMP monitor for events (BLOCK_IO_ERROR) on the events fd; not for templates. */
    bool events;
};

/* The QEMU command line for cfg and o (NULL: a plain boot), with the agent socket at fd
 * agent_fd_in_child and TAP i at VMM_QEMU_TAP_FD0 + i. */
char **vmm_qemu_argv(const struct vmm_config *cfg, const struct vmm_qemu_opts *o,
                     int agent_fd_in_child, ctr_error_t *err);
/* The fd number in QEMU of a restore's stream or a template's QMP socket: after the TAPs. */
int vmm_qemu_warm_fd(const struct vmm_config *cfg);
/* The fd number in QEMU of the events QMP socket: after the TAPs and the warm-start fd. */
int vmm_qemu_events_fd(const struct vmm_config *cfg, const struct vmm_qemu_opts *o);

/* ---- snapshots (vmm-qemu-snapshot.c) ---- */

#define VMM_QEMU_STREAM_MAGIC "QEVM" /* QEMU_VM_FILE_MAGIC, big-endian */

/* The sizes of cfg's disks in bytes (n_disks of them, malloc'd). */
int vmm_qemu_disk_sizes(const struct vmm_config *cfg, uint64_t **sizes, ctr_error_t *err);
/* One placeholder TAP per NIC (same flags as the real ones, on no bridge, down; gone with
 * the last fd): taps[i], -1 filled on failure. */
int vmm_qemu_placeholder_taps(size_t n, int *taps, ctr_error_t *err);
/* Pause the VM behind the QMP socket qmp_fd and save it to state_fd with `migrate`. */
int vmm_qemu_migrate_to_fd(int qmp_fd, int state_fd, uint64_t deadline_ns, ctr_error_t *err);
int vmm_qemu_snapshot_shape(const struct vmm_config *cfg, char ***words, char **program,
                            ctr_error_t *err);
bool vmm_qemu_snapshot_valid(int fd);

#endif
