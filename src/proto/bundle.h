/* The bundle: what the daemon (or a test) hands the shim, container-runtime.
 * A bundle is a directory holding `config.json` (this struct, versioned JSON)
 * and, written by the shim: `state.json`, `container.log` (JSON lines),
 * `boot.log` (guest console), `shim.sock` (control socket), `shim.pid`.
 * See docs/runtime.md for the JSON layout and the shim's command interface. */
#ifndef CTR_PROTO_BUNDLE_H
#define CTR_PROTO_BUNDLE_H

#include "proto/agent-msg.h"

#define BUNDLE_CONFIG_VERSION 1

enum bundle_accel { BUNDLE_ACCEL_AUTO = 0, BUNDLE_ACCEL_KVM, BUNDLE_ACCEL_TCG };

struct bundle_disk {
    char *serial; /* virtio-blk serial the guest finds it by ("image", "rw", ...) */
    char *path;   /* host path of the raw disk image */
    bool readonly;
};

/* A host directory exported to the guest over virtio-9p; setup.mounts refer to it by
 * `tag` with fstype `9p` (docs/volumes.md). */
struct bundle_share {
    char *tag;  /* mount tag: 1-20 of [A-Za-z0-9._-] */
    char *path; /* absolute host directory */
    bool readonly;
};

/* A NIC: the shim creates TAP `tap` (IFF_VNET_HDR, not persistent), attaches it to the
 * existing bridge `bridge` and hands its fd to QEMU as virtio-net with `mac`. The guest
 * side (address, route) is setup.network.interfaces with the same MAC. */
struct bundle_net {
    char *tap;    /* interface name: 1-15 of [A-Za-z0-9._-] */
    char *bridge; /* interface name of an existing bridge */
    char *mac;
    uint32_t mtu; /* 68..65535, 1500 when not given */
};

/* A published port, proxied by the shim from host_ip:host_port to
 * container_ip:container_port (docs/runtime.md). */
struct bundle_port {
    char *proto;   /* "tcp" or "udp" */
    char *host_ip; /* IPv4 to bind, "0.0.0.0" for all */
    uint16_t host_port;
    char *container_ip;
    uint16_t container_port;
};

#define BUNDLE_MAX_NETS AGENT_MAX_IFACES
#define BUNDLE_MAX_PORTS 256

/* microvm with acpi=off finds at most 8 virtio-mmio devices on the kernel command line;
 * every container uses its disks, shares and NICs, the agent's virtio-serial and virtio-rng. */
#define BUNDLE_MAX_VIRTIO_DEVICES 8
#define BUNDLE_FIXED_VIRTIO_DEVICES 2 /* virtio-serial, virtio-rng */

/* `"cpus": "auto"`: BUNDLE_CPUS_AUTO_KVM under KVM, BUNDLE_CPUS_AUTO_TCG under TCG, where
 * each further vCPU costs ~0.6 s of boot (docs/performance.md). */
#define BUNDLE_CPUS_AUTO 0u
#define BUNDLE_CPUS_AUTO_KVM 2u
#define BUNDLE_CPUS_AUTO_TCG 1u

struct bundle_vm {
    char *kernel;  /* vmlinux (PVH) */
    char *initrd;  /* initramfs with vminitd as /init */
    char *cmdline; /* extra kernel command line, may be NULL */
    unsigned cpus; /* vCPUs; BUNDLE_CPUS_AUTO: chosen by the shim per accelerator */
    uint64_t memory_mib;
    enum bundle_accel accel;
    unsigned boot_timeout_ms; /* from QEMU start to the agent's hello reply */
};

/* A Linux interface name the shim may create or use: 1-15 of [A-Za-z0-9._-], not `.`/`..`. */
bool bundle_ifname_ok(const char *name);

/* The vCPUs a bundle's VM gets with the given accelerator (kvm: true for KVM). */
unsigned bundle_vm_cpus(const struct bundle_vm *vm, bool kvm);

struct bundle_config {
    uint32_t version;
    char *id;
    struct bundle_vm vm;
    struct bundle_disk *disks;
    size_t n_disks;
    struct bundle_share *shares; /* virtio-9p exports */
    size_t n_shares;
    struct bundle_net *nets; /* `networks`: NICs (TAPs) */
    size_t n_nets;
    struct bundle_port *ports; /* `ports`: published ports */
    size_t n_ports;
    struct agent_setup setup;  /* hostname, root (lower/upper), mounts */
    struct agent_exec process; /* the main process; stream ids are chosen by the shim */
    bool open_stdin;           /* keep stdin open for attach (-i) */
    bool no_log;               /* `no_log`: no container.log (Docker's LogConfig `none`) */
    char **labels;             /* KEY=VALUE, informational */
};

int bundle_config_load(const char *bundle_dir, struct bundle_config *out, ctr_error_t *err);
int bundle_config_save(const char *bundle_dir, const struct bundle_config *cfg, ctr_error_t *err);
void bundle_config_release(struct bundle_config *cfg);

/* State written atomically by the shim to <bundle>/state.json. */
enum bundle_status { BUNDLE_CREATED = 0, BUNDLE_RUNNING, BUNDLE_STOPPED };

struct bundle_state {
    enum bundle_status status;
    int shim_pid;
    int vmm_pid;
    int exit_code;                               /* valid when STOPPED */
    char *exit_reason;                           /* "exited", "killed", "vm crashed: ...", ... */
    int64_t created_ns, started_ns, finished_ns; /* CLOCK_REALTIME */
    char *accel;                                 /* "kvm" or "tcg" actually used */
    char *error; /* a problem seen while running (e.g. the host disk is full), or NULL */
    bool paused; /* running with the VM's vCPUs stopped (`pause`); written only when true */
};

int bundle_state_load(const char *bundle_dir, struct bundle_state *out, ctr_error_t *err);
int bundle_state_save(const char *bundle_dir, const struct bundle_state *st, ctr_error_t *err);
void bundle_state_release(struct bundle_state *st);

#endif
