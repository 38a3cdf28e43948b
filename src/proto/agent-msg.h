/* Typed control messages of the agent protocol (see docs/agent-protocol.md).
 * JSON is parsed once here into these structs; nothing further in walks JSON.
 *
 * Requests go host -> guest: {"op": "...", "id": N, ...}; every request gets
 * exactly one reply guest -> host: {"id": N, "ok": true, ...} or
 * {"id": N, "ok": false, "error": "message", "code": N}.
 * Events go guest -> host unprompted: {"event": "...", ...}. */
#ifndef CTR_PROTO_AGENT_MSG_H
#define CTR_PROTO_AGENT_MSG_H

#include "proto/agent.h"

#define AGENT_MAX_ARGS 4096 /* args, env entries */
#define AGENT_MAX_MOUNTS 64
#define AGENT_MAX_RLIMITS 16           /* RLIMIT_NLIMITS on Linux */
#define AGENT_MAX_NAME 128             /* process names, agent string */
#define AGENT_MAX_HOSTNAME 64          /* HOST_NAME_MAX */
#define AGENT_MAX_PATH 4096            /* paths, mount sources/options, user, error messages */
#define AGENT_MAX_ERRNO 4095           /* "errno" of an error reply */
#define AGENT_RLIM_INFINITY UINT64_MAX /* encoded as -1 */

/* setup.network: interfaces (one virtio-mmio slot each), bytes of hosts / resolv */
#define AGENT_MAX_IFACES 8
#define AGENT_MAX_NETFILE (64u * 1024u)

enum agent_op {
    AGENT_OP_HELLO = 1,    /* version handshake, first request */
    AGENT_OP_SETUP,        /* container identity: hostname, root disks, mounts */
    AGENT_OP_EXEC,         /* start a process (the main one, or an exec) */
    AGENT_OP_SIGNAL,       /* send a signal to a process */
    AGENT_OP_RESIZE,       /* terminal window size of a process */
    AGENT_OP_SHUTDOWN,     /* sync, unmount, power off */
    AGENT_OP_ARCHIVE_STAT, /* lstat a path of the container (docker's path stat) */
    AGENT_OP_ARCHIVE_GET,  /* tar of a path (or the whole root) on a data stream */
    AGENT_OP_ARCHIVE_PUT,  /* extract a tar from a data stream into a directory */
    AGENT_OP_CLOCK,        /* set the wall clock (after the VM was paused: its clocks stopped) */
    AGENT_OP_TOP,          /* the container's processes, as `ps` prints them */
    AGENT_OP_NET,          /* join or leave a network while running (an address on a NIC) */
};

/* net: a network joined or left while the container runs (docs/agent-protocol.md). Join:
 * `address` (no route but its subnet's) on the NIC whose MAC is `parent` (the host splices
 * its frames to the network's bridge). Leave: the NIC `parent` (joined live) or `mac` (a
 * NIC of its own) loses the address. hosts, when set, is the new /etc/hosts. */
#define AGENT_MAX_VLAN 4094
struct agent_net {
    bool leave;
    char *parent;  /* MAC of the NIC carrying the network (required to join) */
    uint32_t vlan; /* the host's id of the link, 1..AGENT_MAX_VLAN; 0 (leave only): none */
    char *mac;     /* the endpoint's MAC (its own NIC's from the next start) */
    char *address; /* IPv4 CIDR */
    uint32_t mtu;  /* join: 68..65535 (1500 when not given) */
    char *hosts;   /* optional */
};
void agent_net_release(struct agent_net *n);

struct agent_rlimit {
    int resource; /* RLIMIT_* number */
    uint64_t soft, hard;
};

struct agent_mount {
    char *
        source; /* device ("serial:NAME" = the virtio-blk disk with that serial), path or fs name */
    char *target;  /* absolute path inside the container root */
    char *fstype;  /* "ext4", "9p", "tmpfs", "bind", ... */
    char *options; /* comma separated mount options (may be NULL) */
};

struct agent_hello {
    uint32_t version;
    char *agent; /* reply only: "vminitd/VERSION" */
};

/* One NIC of the guest, found by its MAC (setup.network.interfaces; docs/agent-protocol.md). */
struct agent_iface {
    char *mac;     /* "02:42:c0:a8:40:05" */
    char *address; /* IPv4 CIDR "192.168.64.5/24" */
    char *gateway; /* default route via this IPv4 address; NULL: no default route */
    uint32_t mtu;  /* 68..65535 (1500 when not given) */
};

#define AGENT_WARM_ENTROPY 32                  /* random bytes from the host for the guest's CRNG */
#define AGENT_WARM_MAC_PREFIX "0e:57:a7:00:00" /* + ":%02x" (NIC index + 1) in templates */
#define AGENT_MAX_NICS 8

struct agent_setup {
    char *hostname;
    char *root_lower; /* read-only image disk, e.g. "serial:image" */
    char *root_upper; /* writable disk, e.g. "serial:rw"; NULL = tmpfs upper */
    bool readonly;    /* container root mounted read-only */
    struct agent_mount *mounts;
    size_t n_mounts;
    /* setup.network (net-config.c): NICs to configure (lo is always up) */
    struct agent_iface *ifaces;
    size_t n_ifaces;
    char *hosts;  /* /etc/hosts text; NULL: vminitd's minimal one */
    char *resolv; /* /etc/resolv.conf text; NULL: keep the image's */
    /* Warm start (docs/runtime.md): the VM was restored from a template snapshot, so
     * vminitd sets the clock, reseeds the CRNG and drops the disks' cached blocks. */
    bool warm;
    int64_t warm_time_ns; /* host CLOCK_REALTIME when sent; 0: leave the clock */
    uint8_t warm_entropy[AGENT_WARM_ENTROPY];
    /* The real MAC of NIC i, in the VM's NIC order; the template's NIC i has
     * AGENT_WARM_MAC_PREFIX:<i+1> until vminitd sets it. NULL-terminated; may be NULL. */
    char **warm_macs;
    /* The container's cgroup (docs/runtime.md, "Inside the guest") */
    int64_t pids_limit; /* pids.max; 0: unlimited (HostConfig.PidsLimit) */
    bool init;          /* the main process runs under docker-init (HostConfig.Init) */
};

struct agent_exec {
    char *process; /* name chosen by the host: "main" or an exec id; unique while alive */
    char **args;   /* argv, NULL terminated, at least one */
    char **env;    /* NAME=VALUE, NULL terminated */
    char *cwd;     /* absolute; created if missing, as docker does */
    char *user;    /* "", "name", "uid", "name:group", "uid:gid" resolved in the container */
    char **groups; /* supplementary groups added (GroupAdd): names or gids; NULL: none */
    bool terminal; /* a pty: stdout carries both outputs, stderr stream unused */
    uint16_t rows, cols;
    uint32_t stdin_stream;  /* 0 = no stdin (reads /dev/null) */
    uint32_t stdout_stream; /* 0 = discard */
    uint32_t stderr_stream; /* 0 = discard (ignored with terminal) */
    struct agent_rlimit *rlimits;
    size_t n_rlimits;
};

struct agent_signal {
    char *process;
    int signal;
};

struct agent_resize {
    char *process;
    uint16_t rows, cols;
};

struct agent_top {
    char *ps_args; /* "" or NULL: -ef */
};

struct agent_clock {
    int64_t time_ns; /* the host's CLOCK_REALTIME, ns since the epoch (> 0) */
};

/* archive_stat/archive_get/archive_put: the tar work runs in a worker process named
 * `process` (its exit event ends the transfer); `stream` carries the tar. */
struct agent_archive {
    char *process;   /* get/put: worker name, unique among live processes */
    char *path;      /* absolute path in the container */
    uint32_t stream; /* get: guest -> host; put: host -> guest */
    bool export_all; /* get: the whole root filesystem (`path` must be "/") */
    bool upper;      /* get: the overlay's upper directory as it is on the writable disk
                      * (whiteouts, opaque xattrs, numeric owners; `path` must be "/") */
};

/* Docker's X-Docker-Container-Path-Stat. */
struct agent_path_stat {
    char *name; /* base name of the requested path */
    int64_t size;
    uint32_t mode;     /* Go os.FileMode bits */
    char *mtime;       /* RFC 3339 */
    char *link_target; /* symlinks: the target, else NULL/"" */
};

struct agent_request {
    uint64_t id;
    enum agent_op op;
    union {
        struct agent_hello hello;
        struct agent_setup setup;
        struct agent_exec exec;
        struct agent_signal signal;
        struct agent_resize resize;
        struct agent_archive archive;
        struct agent_clock clock;
        struct agent_top top;
        struct agent_net net;
    } u;
};

struct agent_reply {
    uint64_t id;
    bool ok;
    char *error; /* when !ok */
    int code;    /* when !ok: suggested exit code (127 not found, 126 not executable), else 0 */
    uint32_t version; /* hello */
    char *agent;      /* hello */
    int pid;          /* exec: guest pid */
    int errnum;       /* when !ok, optional: the errno class of the failure (JSON "errno") */
    struct agent_path_stat *stat; /* archive_stat, archive_get */
    char *output;                 /* top: the table */
};

enum agent_event_type {
    AGENT_EVENT_EXIT = 1, /* a process ended; all its output EOF frames were sent before */
};

struct agent_event {
    enum agent_event_type type;
    char *process;
    int status;  /* exit code, or 128 + signal number */
    char *error; /* optional: why an archive worker failed */
};

/* Encoding returns a malloc'd JSON text (NUL-terminated, the NUL not counted in *len),
 * or NULL when the struct names an unknown op/event. Encoding does not validate
 * further: the receiving side's decoder is the gate. */
char *agent_request_encode(const struct agent_request *req, size_t *len);
char *agent_reply_encode(const struct agent_reply *rep, size_t *len);
char *agent_event_encode(const struct agent_event *ev, size_t *len);

/* Decoding validates strictly: unknown op/event, missing or mistyped fields, over-long
 * arrays or strings are errors. What is decoded is owned by the struct. */
int agent_request_decode(const char *json, size_t len, struct agent_request *out, ctr_error_t *err);
/* A control frame from the guest is either a reply (has "id") or an event (has "event"). */
enum agent_guest_msg_kind { AGENT_MSG_REPLY = 1, AGENT_MSG_EVENT = 2 };
int agent_guest_msg_decode(const char *json, size_t len, enum agent_guest_msg_kind *kind,
                           struct agent_reply *reply, struct agent_event *event, ctr_error_t *err);

/* Best effort: the "id" of a request that failed to decode, so that the error reply
 * can carry it. Returns false when no valid id can be read. */
bool agent_request_peek_id(const char *json, size_t len, uint64_t *id);
/* Name of an op ("hello", ...), or NULL. */
const char *agent_op_name(enum agent_op op);

void agent_request_release(struct agent_request *req);
/* Free the setup.network part (ifaces, hosts, resolv) of a setup. */
void agent_setup_net_release(struct agent_setup *s);

/* Validators of network values (net-config.c), shared by both decoders and vminitd.
 * MAC: six colon separated hex pairs, unicast, not all zero. IPv4: dotted quad;
 * *addr in host order. CIDR: IPv4/prefix with prefix 1..32. */
bool agent_mac_parse(const char *s, uint8_t mac[6]);
bool agent_ipv4_parse(const char *s, uint32_t *addr);
bool agent_cidr_parse(const char *s, uint32_t *addr, uint8_t *prefix);
void agent_reply_release(struct agent_reply *rep);
void agent_event_release(struct agent_event *ev);
void agent_path_stat_release(struct agent_path_stat *st);

#endif
