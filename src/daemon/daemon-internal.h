/* container-apiserver internals: the HTTP layer (http.c, router.c), the
 * container service (containers.c, lifecycle.c, monitor.c), streams (stream.c,
 * logs.c, exec.c), images (images.c, archive.c), events (events.c) and the
 * Docker JSON shapes (shapes.c). See docs/daemon.md and docs/api.md.
 * Every non-static symbol carries the `dmn_` prefix. */
#ifndef CTR_DAEMON_INTERNAL_H
#define CTR_DAEMON_INTERNAL_H

#include "bundle/bundle.h"
#include "daemon/daemon.h"
#include "image/store.h"
#include "net/net.h"
#include "net/ports.h"
#include "proto/shim.h"
#include "registry/registry.h"

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>

struct imgstore;

#define DMN_API_VERSION "1.43"
#define DMN_API_MAJOR 1
#define DMN_API_MINOR 43
#define DMN_API_MIN_MINOR 24
#define DMN_VERSION "0.1.0"
#define DMN_MAX_BODY (2u << 20) /* a JSON request body (413 above) */
#define DMN_MAX_CONNECTIONS 256 /* one thread each (bounded) */
/* per client process; CONTAINER_API_MAX_CONNECTIONS_PER_CLIENT overrides */
#define DMN_MAX_CONNECTIONS_PER_CLIENT 128
/* seconds a connection may send nothing (mid-request or between requests) before it is
 * closed; CONTAINER_API_IDLE_TIMEOUT overrides, 0 = never */
#define DMN_IDLE_TIMEOUT 60
#define DMN_MAX_EXECS_PER_CTR 256 /* finished exec records kept per container */

/* An error whose errnum classifies it (ENOENT 404, EEXIST/EBUSY 409, EINVAL 400)
 * without strerror text in the message (ctr_fail appends it). */
#define dmn_fail ctr_fail_class
/* The daemon's own error classes, for statuses no errno stands for (not errno values:
 * no system call returns them). api_reply_ctr_error maps them. */
#define DMN_ENOSPACE 0x10000   /* 507: the data root lacks the space a create needs */
#define DMN_EFORBIDDEN 0x10001 /* 403: Docker's refusal to touch a pre-defined object */

/* ---- files.c: copies in and out of a container (api/files.c) ---- */
struct dmn;
struct shimc_path_stat;
struct dmn_container;
/* The stat of path in the container (ENOENT: Docker's "Could not find the file"). */
int dmn_archive_stat(struct dmn *d, struct dmn_container *c, const char *path,
                     struct shimc_path_stat *st, ctr_error_t *err);
/* A tar of path (export_all: the whole file system) written by a worker into a pipe.
 * Returns once the first byte (or the end) is there, so a failure before the tar (the
 * path) is an error here; *st is the path's stat (NULL for export). Read it with
 * dmn_archive_get_read (-1 at the end of a failed tar, so it never looks complete). */
struct dmn_archive_get;
struct dmn_archive_get *dmn_archive_get_start(struct dmn *d, struct dmn_container *c,
                                              const char *path, bool export_all,
                                              const struct shimc_path_stat **st, ctr_error_t *err);
ssize_t dmn_archive_get_read(struct dmn_archive_get *j, char *buf, size_t max);
void dmn_archive_get_free(struct dmn_archive_get *j);
/* Extract a tar into path: the caller writes the body into *body_fd and closes it, then
 * dmn_archive_put_finish gives the verdict (EINVAL: not a whole tar). chown_root: the
 * owners become 0:0 (docker without copyUIDGID). */
struct dmn_archive_put;
struct dmn_archive_put *dmn_archive_put_start(struct dmn *d, struct dmn_container *c,
                                              const char *path, bool chown_root, int *body_fd,
                                              ctr_error_t *err);
int dmn_archive_put_finish(struct dmn_archive_put *j, ctr_error_t *err);
void dmn_archive_put_free(struct dmn_archive_put *j);

/* ---- stats.c: a container's figures, sampled on the host (api/stats.c) ---- */
struct dmn_stats_sample {
    int64_t read_ns;             /* wall clock; 0 = no sample */
    uint64_t user_ns, kernel_ns; /* the QEMU process */
    uint64_t system_ns;          /* the host, all CPUs (/proc/stat) */
    uint64_t rss, io_read, io_write;
};
struct dmn_container;
struct dmn_stats {
    struct dmn *d;
    struct dmn_container *c;
    bool stream, one_shot, done;
    uint64_t limit; /* the VM's memory, bytes */
    struct dmn_stats_sample prev;
};
struct dmn_stats *dmn_stats_open(struct dmn *d, struct dmn_container *c, bool stream,
                                 bool one_shot);
/* The next sample and the one before it (1), 0 after the last (a single one unless
 * stream; a stopped container gets one empty sample), -1 when the client on client_fd
 * left or the daemon stops. Sleeps a second between samples. */
int dmn_stats_next(struct dmn_stats *st, int client_fd, struct dmn_stats_sample *cur,
                   struct dmn_stats_sample *pre);
void dmn_stats_close(struct dmn_stats *st);

/* ---- containers ---- */
enum dmn_status {
    DMN_CREATED = 0,
    DMN_STARTING,
    DMN_RUNNING,
    DMN_EXITED,
    DMN_REMOVING,
    DMN_DEAD,
};
const char *dmn_status_name(enum dmn_status s); /* docker's: created running exited ... */

struct dmn_attach; /* stream.c: an attach waiting for the container to start */

/* restart.c: Docker's restart policies (HostConfig.RestartPolicy) and moby's
 * restartmanager rules; the restart itself is scheduled by monitor.c. */
enum dmn_restart_name {
    DMN_RESTART_NO = 0,
    DMN_RESTART_ALWAYS,
    DMN_RESTART_UNLESS_STOPPED,
    DMN_RESTART_ON_FAILURE,
};
struct dmn_restart_policy {
    enum dmn_restart_name name;
    int max_retries; /* on-failure only; 0: no limit */
};
#define DMN_RESTART_FIRST_MS 100           /* the first back-off, doubled at each restart ... */
#define DMN_RESTART_MAX_MS 60000           /* ... up to a minute */
#define DMN_RESTART_RESET_NS 10000000000LL /* a run this long resets it */
/* name ("" and "no": none) and count checked as dockerd does, with its messages (EINVAL);
 * auto_remove: refused with a policy. */
int dmn_restart_policy_parse(const char *name, long long max, bool auto_remove,
                             struct dmn_restart_policy *out, ctr_error_t *err);
const char *dmn_restart_policy_name(enum dmn_restart_name n); /* "no", "always" ... */
/* Whether an exit (code, the user stopped it) is restarted after restart_count restarts. */
bool dmn_restart_wanted(const struct dmn_restart_policy *p, int restart_count, int exit_code,
                        bool manually_stopped);
/* The next back-off from the previous one (0: none yet) and how long the run lasted. */
int64_t dmn_restart_backoff_ms(int64_t prev_ms, int64_t ran_ns);

/* A container's attachment to a network (netconf.c): its address is the network's
 * IPAM allocation owned by the container id, held until the container is removed. */
struct dmn_endpoint {
    char *net_id, *net_name;
    char **aliases; /* EndpointsConfig.Aliases (DNS names on this network) */
    uint32_t addr, gateway;
    uint8_t prefix;
    bool internal;
    uint32_t mtu; /* the network's (com.docker.network.driver.mtu) */
    char *bridge;
    char mac[18];
    bool static_ip, static_mac; /* given in the request (IPAMConfig, MacAddress) */
    char tap[16];               /* ctap + 10 hex of the id + index */
    /* Joined while the VM runs (netlive.c; vlan: its id, 0 = a NIC of its own): the
     * address rides on the VM's NIC whose TAP is `trunk` (MAC trunk_mac); the host's veth
     * into the bridge and its netdev table are `vlink` (ctv + 10 hex + index). Cleared at
     * the next start, which gives the network a NIC of its own. */
    uint16_t vlan;
    char vlink[16];
    char trunk[16];
    char trunk_mac[18];
};

/* health.c: Docker's healthchecks (moby daemon/health.go), State.Health (under d->lock) */
enum dmn_health_status {
    DMN_HEALTH_NONE = 0, /* no healthcheck: no State.Health */
    DMN_HEALTH_STARTING,
    DMN_HEALTH_HEALTHY,
    DMN_HEALTH_UNHEALTHY,
};
#define DMN_HEALTH_LOG_KEEP 5      /* results kept (State.Health.Log) */
#define DMN_HEALTH_OUTPUT_MAX 4096 /* output kept of each ("..." marks the cut) */
struct dmn_health_result {
    int64_t start_ns, end_ns;
    int exit_code; /* -1: it could not run or ran past its timeout */
    char *output;
};
struct dmn_health {
    enum dmn_health_status status;
    int failing_streak;
    struct dmn_health_result log[DMN_HEALTH_LOG_KEEP]; /* oldest first */
    size_t n_log;
    uint64_t gen;  /* the checker thread of this value runs; any change ends it */
    bool restored; /* read from daemon.json for a running container the daemon adopted */
};
/* "starting" ... "none" (shapes.c) */
const char *dmn_health_status_name(enum dmn_health_status s);
struct dmn_container;
/* A running container gets a checker thread when Config.Healthcheck has a test (its
 * exec runs without a daemon lock held): monitor.c starts it when it watches the shim
 * (a start, a recovery) and stops it at the exit. */
void dmn_health_start_locked(struct dmn *d, struct dmn_container *c);
void dmn_health_stop_locked(struct dmn *d, struct dmn_container *c);
/* create: the image config's Healthcheck fills what Config.Healthcheck left out. */
void dmn_health_from_image(struct dmn *d, const struct imgstore_image *img, json_t *config);

struct dmn_container {
    char id[65];
    char *name;   /* without the leading '/' */
    char *bundle; /* DATA/containers/<id> */
    int64_t created_ns;
    char *image;    /* as the client gave it */
    char *image_id; /* manifest digest */
    json_t *config; /* docker Config as shown by inspect */
    json_t *host_config;
    char *path;
    char **args;
    bool tty, open_stdin, stdin_once, auto_remove;
    char *stop_signal;
    int stop_timeout; /* -1: default */
    /* state (under d->lock) */
    enum dmn_status status;
    int pid; /* shim pid */
    int exit_code;
    char *error;
    int64_t started_ns, finished_ns;
    int restart_count;
    uint64_t exits; /* incremented at every exit: next-exit waits */
    bool removed;
    bool creating; /* reserved name, bundle being made: invisible */
    bool broken;   /* its record could not be read: dead, listed, only removable */
    int pidfd;
    bool exit_check; /* monitor.c: lifecycle asks the monitor to look at the shim */
    bool in_restart;
    bool paused; /* running with the VM's vCPUs stopped (pause.c); cleared at the exit */
    struct dmn_health health; /* health.c */
    /* restart policy (monitor.c schedules, lifecycle.c starts; under d->lock) */
    struct dmn_restart_policy restart;
    bool manually_stopped;      /* moby's HasBeenManuallyStopped: a stop or kill (persisted) */
    bool restart_cancel;        /* a stop or kill: the coming exit is not restarted */
    bool restart_pending;       /* a restart is scheduled: State.Restarting */
    uint64_t restart_gen;       /* which scheduled restart is current */
    int64_t restart_delay_ms;   /* the back-off of the last restart (0: none) */
    struct dmn_attach *pending; /* attaches waiting for a start */
    /* a terminal size given before the main process ran: applied at start */
    uint16_t resize_rows, resize_cols;
    bool resize_pending;
    struct dmn_endpoint *eps; /* networks, the first one's address is the container's */
    size_t n_eps;
    struct net_port_binding *ports; /* published, host ports fixed at create */
    size_t n_ports;
    char **link_hosts;   /* HostConfig.Links: /etc/hosts lines "IP\tNAMES" (create.c) */
    struct dmn *d_owner; /* for the auto-remove thread */
    int refs;
    pthread_mutex_t op_lock; /* serializes start/stop/kill/remove */
};

struct dmn_exec {
    struct dmn_exec *next;
    char id[65];
    char container_id[65];
    char **cmd, **env;
    char *workdir, *user;
    bool tty, attach_stdin, attach_stdout, attach_stderr, privileged;
    bool started, running;
    int exit_code; /* -1 until it ended */
    int shim_fd;   /* the session, for resizes (under d->lock) */
    pthread_mutex_t wlock;
    int64_t created_ns;
    int refs; /* the list's and a running session's */
    bool dropped;
    uint16_t rows, cols;
    uint8_t detach_keys[CTR_DETACH_KEYS_MAX];
    size_t n_detach_keys;
};

struct dmn_event {
    uint64_t seq;
    int64_t time_ns;
    char *type;   /* container, image */
    char *action; /* create start die ... */
    char *id;
    json_t *attrs; /* Actor.Attributes */
};
#define DMN_EVENTS_KEEP 1024

struct dmn {
    struct dmn_config cfg;
    char *containers_dir, *tmp_dir, *kernel_dir;
    int64_t started_ns;
    pthread_mutex_t lock; /* containers, execs, events */
    pthread_cond_t cond;  /* broadcast at every state change or event */
    struct dmn_container **ctrs;
    size_t n_ctrs, cap_ctrs;
    struct dmn_exec *execs;
    struct dmn_event events[DMN_EVENTS_KEEP];
    uint64_t event_seq; /* next seq */
    pthread_mutex_t img_lock;
    struct imgstore *images;
    int epfd, wake_fd;
    pthread_t monitor;
    bool monitor_running;
    atomic_bool stopping;
    atomic_int streams; /* hijack threads alive */
    int stop_fd;        /* eventfd: main() wakes on it to exit */
    bool stop_containers;
    int stop_timeout;
    char *log_path; /* NULL when logging to stderr */
    /* networking (networks.c): serialized by net_lock, taken before lock */
    pthread_mutex_t net_lock;
    char *net_error;      /* why networking is unavailable; NULL when it is up */
    struct dmn_dns **dns; /* a DNS server per network */
    size_t n_dns;
    char *dns_upstream; /* resolv.conf the DNS servers forward to */
};

/* containers.c: the registry (table, refs, lookup, daemon.json), list and rename */
/* Lookup by id, unique id prefix or name (with or without '/'); takes a ref.
 * Under d->lock: the _locked variant. */
struct dmn_container *dmn_container_find_locked(struct dmn *d, const char *ref);
/* ENOENT "No such container: x", EINVAL for an ambiguous prefix. */
struct dmn_container *dmn_container_get(struct dmn *d, const char *ref, ctr_error_t *err);
void dmn_container_put(struct dmn *d, struct dmn_container *c);
int dmn_container_save_locked(struct dmn *d, struct dmn_container *c, ctr_error_t *err);
void dmn_container_free(struct dmn_container *c);
struct dmn_container *dmn_container_new(void);
void dmn_container_add_locked(struct dmn *d, struct dmn_container *c);
void dmn_container_unlink_locked(struct dmn *d, struct dmn_container *c);
/* The containers a list shows, newest first: running ones unless all, created strictly
 * between since and before (container refs; NULL: no bound), kept by match, at most
 * limit (<= 0: no limit). match and emit run under d->lock. */
struct dmn_list_query {
    bool all;
    long limit;
    const char *before, *since;
    bool (*match)(struct dmn_container *c, void *ctx); /* NULL: every one */
    void (*emit)(struct dmn *d, struct dmn_container *c, void *ctx);
    void *ctx;
};
void dmn_containers_list(struct dmn *d, const struct dmn_list_query *q);
/* EINVAL: not a valid name; ENOENT: no such container; EEXIST: the name is taken. */
int dmn_container_rename(struct dmn *d, const char *ref, const char *name, ctr_error_t *err);

/* recover.c: the containers of the data root back into the table at start */
int dmn_containers_load(struct dmn *d, ctr_error_t *err);
/* Once the networks are up: start the stopped containers whose restart policy says so
 * (always; unless-stopped not stopped by the user; on-failure after a failure). */
void dmn_containers_autostart(struct dmn *d);

/* remove.c: removal (stops first when forced: above lifecycle.c) and prune */
/* volumes: also remove its anonymous volumes no other container uses (docker's `rm -v`).
 * EBUSY: running and not forced. */
int dmn_container_remove(struct dmn *d, struct dmn_container *c, bool force, bool volumes,
                         ctr_error_t *err);
/* Remove every stopped (exited, created, dead) container created before until and kept
 * by match (under d->lock; NULL: all); *deleted gets their ids, *reclaimed the bytes
 * their bundles took. A container that cannot be removed is logged and skipped. */
struct dmn_prune_req {
    int64_t until; /* INT64_MAX: no bound */
    bool (*match)(struct dmn_container *c, void *ctx);
    void *ctx;
};
void dmn_containers_prune(struct dmn *d, const struct dmn_prune_req *rq, char ***deleted,
                          uint64_t *reclaimed);

/* names.c: adjective_surname names for containers created without one */
size_t dmn_names_count(void);
/* A random name; retry > 0 appends a digit (docker's GetRandomName). */
char *dmn_name_random(unsigned retry);
/* Whether a container (one still being created included) has this name. */
bool dmn_name_in_use_locked(struct dmn *d, const char *name);
/* A free random name (a few retries), else the short id. */
char *dmn_name_generate_locked(struct dmn *d, const char *id);

/* proclimits.c: a process (main or exec) fits what the shim can send and the guest
 * accepts (the control frame limit, arg counts, path lengths); what names it in the
 * message (EINVAL). */
struct agent_exec;
int dmn_process_check_size(const struct agent_exec *ex, const char *what, ctr_error_t *err);

/* volumes.c: the volume service (DATA/volumes, src/bundle/volumes.c) */
/* The anonymous volumes of a bundle (`-v /path`, image VOLUMEs): names, and (when not NULL)
 * their targets and read-only flags, from its shares. */
int dmn_anonymous_volumes(struct dmn *d, const char *bundle, char ***names, char ***targets,
                          bool **readonly, ctr_error_t *err);
/* Remove those of names no container uses any more (`rm -v`, `--rm`); failures are logged. */
void dmn_anonymous_volumes_remove(struct dmn *d, char *const *names);
/* DATA/volumes/NAME/_data; the source a container mounts: volume.ext4 of a block volume,
 * else that directory (caller frees). */
char *dmn_volume_dir(struct dmn *d, const char *name);
char *dmn_volume_source(struct dmn *d, const char *name);
struct dmn_volume {
    struct bundle_volume vol;
    bool in_use; /* a container's bundle shares or attaches it (set when asked for) */
};
/* Every volume; with_use: fill in_use (reads every bundle). */
int dmn_volumes_list(struct dmn *d, bool with_use, struct dmn_volume **out, size_t *n,
                     ctr_error_t *err);
void dmn_volumes_free(struct dmn_volume *v, size_t n);
/* Create (or return the existing one, as docker); EINVAL for a bad name or option. A
 * NULL or empty name: a new anonymous volume (64 hex digits and docker's anonymous
 * label, as docker's volume service). */
int dmn_volume_create(struct dmn *d, const char *name, char *const *labels, char *const *opts,
                      struct bundle_volume *out, ctr_error_t *err);
/* ENOENT (`get NAME: no such volume` for a name no volume can have). */
int dmn_volume_get(struct dmn *d, const char *name, struct bundle_volume *out, ctr_error_t *err);
/* ENOENT, or EBUSY naming the containers that use it. */
int dmn_volume_remove(struct dmn *d, const char *name, ctr_error_t *err);
/* Remove every unused volume match() keeps: *deleted their names, *reclaimed their bytes. */
int dmn_volumes_prune(struct dmn *d, bool (*match)(const struct bundle_volume *v, void *ctx),
                      void *ctx, char ***deleted, uint64_t *reclaimed, ctr_error_t *err);

/* pause.c: pause and unpause a running container (api/lifecycle.c). EBUSY with docker's
 * words: "Container X is not running", "... is already paused", "... is not paused". */
int dmn_container_pause(struct dmn *d, const char *ref, ctr_error_t *err);
int dmn_container_unpause(struct dmn *d, const char *ref, ctr_error_t *err);
/* docker's State.Status: dmn_status_name, "paused" for a paused running container,
 * "restarting" while a restart policy's start waits out its back-off. */
const char *dmn_container_state_name(const struct dmn_container *c);

/* lifecycle.c: start, stop, kill, restart, wait, resize (typed; api/lifecycle.c) */
/* 0 started, 1 running already; a failed start: EINVAL for a missing or non-executable
 * command (127/126), else class 0. */
int dmn_container_start(struct dmn *d, struct dmn_container *c, ctr_error_t *err);
/* EBUSY when a running container attaches one of c's block volumes (d->lock held). */
int dmn_block_volumes_check_locked(struct dmn *d, struct dmn_container *c, ctr_error_t *err);
/* 0 stopped (returns once the monitor recorded the exit), 1 not running. */
int dmn_container_stop(struct dmn *d, struct dmn_container *c, int timeout, ctr_error_t *err);
/* The same with c->op_lock already held. timeout < 0: the container's default. */
int dmn_container_stop_locked_op(struct dmn *d, struct dmn_container *c, int timeout,
                                 ctr_error_t *err);
/* One signal (EBUSY: not running); SIGKILL returns once the exit is recorded. */
int dmn_container_kill(struct dmn *d, const char *ref, int sig, ctr_error_t *err);
int dmn_container_restart(struct dmn *d, const char *ref, int timeout, ctr_error_t *err);
/* POST /containers/{id}/update's resources (0: unchanged); update.c */
struct dmn_update_res {
    int64_t memory, memory_reservation, nano_cpus, cpu_shares, cpu_quota, cpu_period, pids_limit;
};
int dmn_container_update_resources(struct dmn *d, const char *ref, const struct dmn_update_res *u,
                                   ctr_error_t *err);
/* POST /containers/{id}/update's RestartPolicy (ENOENT; EINVAL with AutoRemove or for a
 * container being removed); emits `update`. */
int dmn_container_update_restart(struct dmn *d, const char *ref, const struct dmn_restart_policy *p,
                                 ctr_error_t *err);
/* The start of a scheduled restart (restart policy) when gen is still the current one; a
 * user's start (dmn_container_start) resets RestartCount and the back-off, this one not. */
int dmn_container_start_scheduled(struct dmn *d, struct dmn_container *c, uint64_t gen,
                                  ctr_error_t *err);
/* The main process's terminal; remembered until the start when it does not run yet. */
int dmn_container_resize(struct dmn *d, const char *ref, uint16_t rows, uint16_t cols,
                         ctr_error_t *err);
/* BUNDLE/boot.log, open for reading (ENOENT: never booted). */
int dmn_container_bootlog_open(struct dmn *d, const char *ref, ctr_error_t *err);
/* wait: the condition is taken at dmn_waiter_new (next-exit counts from then). */
enum dmn_wait_cond { DMN_WAIT_NOT_RUNNING, DMN_WAIT_NEXT_EXIT, DMN_WAIT_REMOVED };
struct dmn_waiter;
struct dmn_waiter *dmn_waiter_new(struct dmn *d, const char *ref, enum dmn_wait_cond cond,
                                  ctr_error_t *err);
/* Block until the condition holds (0, *code the exit code); -1 when the client on
 * client_fd went away or the daemon stops. */
int dmn_waiter_wait(struct dmn_waiter *w, int client_fd, int *code);
void dmn_waiter_free(struct dmn_waiter *w);
int dmn_parse_signal(const char *s, int *sig);
/* Docker's ConsoleSize [height, width]; absent or null leaves *rows, *cols 0. */
int dmn_console_size(json_t *v, uint16_t *rows, uint16_t *cols, ctr_error_t *err);

/* monitor.c: one epoll thread watching the shims (pidfds) */
int dmn_monitor_start(struct dmn *d, ctr_error_t *err);
void dmn_monitor_stop(struct dmn *d);
/* Watch a running container's shim; if it is gone already, record the exit now. */
void dmn_monitor_watch_locked(struct dmn *d, struct dmn_container *c);
/* The only writers of an exit (status, code, error, `exits`, `die`): read the shim's
 * state.json and record the exit (under d->lock), from the monitor thread or a watch
 * that finds the shim gone; and a start that failed (code, the runtime's message). */
void dmn_record_exit_locked(struct dmn *d, struct dmn_container *c);
void dmn_record_start_failure_locked(struct dmn *d, struct dmn_container *c, int code,
                                     const char *msg);
/* Ask the monitor to look at a running container whose shim no longer answers and record
 * its exit (lifecycle waits on d->cond for it). */
void dmn_monitor_check_locked(struct dmn *d, struct dmn_container *c);
/* Start c again after delay_ms in a thread of its own (restart policy; recovery); the
 * restart is pending (State.Restarting) until then, and a stop, kill, remove or user
 * start cancels it. */
void dmn_restart_schedule_locked(struct dmn *d, struct dmn_container *c, int64_t delay_ms);
/* Remove an AutoRemove container that ended, in a thread of its own. */
void dmn_autoremove_locked(struct dmn *d, struct dmn_container *c);
/* Whether the shim of a bundle answers on its socket. */
bool dmn_shim_answers(const char *bundle);
/* Wait (bounded) until the shim named in the bundle's state.json has exited. */
void dmn_wait_shim_gone(const char *bundle, int timeout_ms);
/* The shim does not answer (why: the error saying so): record exit 137 with the reason in
 * state.json, SIGKILL its QEMU and the shim, wait (bounded) until the shim is gone. Not
 * under d->lock. */
void dmn_kill_hung_shim(struct dmn *d, struct dmn_container *c, const char *why);

/* diskspace.c: create refuses when the data root's filesystem has less than
 * CONTAINER_MIN_FREE_MB (MiB; 0 turns the check off) or DMN_MIN_FREE_MB free. */
#define DMN_MIN_FREE_MB 256
uint64_t dmn_min_free_bytes(void);
/* 0, or -1 with an ENOSPC error saying what is free and what is needed. */
int dmn_check_free_space(struct dmn *d, ctr_error_t *err);
/* Bytes allocated on disk under path (sparse files count what they use). */
uint64_t dmn_disk_usage(const char *path);

/* stream.c: shim sessions and hijacked relays */
/* Called by start once the shim listens: connect every pending attach; -1 when
 * the shim does not answer yet. */
int dmn_attach_connect_pending_locked(struct dmn *d, struct dmn_container *c);
/* The start failed: release the pending attaches. */
void dmn_attach_fail_pending_locked(struct dmn *d, struct dmn_container *c);
/* Relay a hijacked client and a shim session (shimc_relay_run) until the process ends;
 * returns the exit status seen (or -1). */
struct dmn_relay {
    int client_fd, shim_fd;
    bool tty, stdin_open, want_stdout, want_stderr;
    pthread_mutex_t *wlock; /* serializes frames written to shim_fd */
    char *error;            /* set when the shim refused the request (or did not answer) */
    int error_code;
    const char *bundle; /* set: the shim must answer the request in time (shimc.h) */
    /* the client's detach keys (n 0: none); detached: the client sent them, the relay
     * ended and the process runs on */
    uint8_t detach_keys[CTR_DETACH_KEYS_MAX];
    size_t n_detach_keys;
    bool detached;
    bool keep_stdin; /* the client's end does not close the process's stdin */
};
int dmn_relay_run(struct dmn_relay *rl);
/* attach (api/attach.c hijacks the client): in only when the container keeps stdin open */
struct dmn_attach_opts {
    bool in, out, err, logs, stream;
    bool raw;        /* no stream headers even without a tty (the WebSocket attach) */
    bool keep_stdin; /* the client leaving does not close stdin (WebSocket, no StdinOnce) */
    uint8_t detach_keys[CTR_DETACH_KEYS_MAX]; /* detachKeys (default ctrl-p,ctrl-q) */
    size_t n_detach_keys;
};
/* Fix the options for c and announce it (the `attach` event). */
void dmn_attach_begin(struct dmn *d, struct dmn_container *c, struct dmn_attach_opts *o);
/* On the client's fd: the log replayed (logs), then the relay (stream) with the running
 * container, or from its next start (docker run attaches first). pre: bytes the client
 * sent after its request (stdin). */
void dmn_attach_run(struct dmn *d, struct dmn_container *c, int fd, const struct dmn_attach_opts *o,
                    const char *pre, size_t pre_len);

/* logs.c: container.log read back (api/logs.c streams it) */
struct dmn_logs_opts {
    bool follow, timestamps, out, err;
    int64_t since, until; /* 0: none */
    long tail;            /* -1: all */
    int client_fd;        /* a follower ends when it goes away */
};
struct dmn_logs;
/* name: the container as the client named it (for messages); class 0 errors. */
struct dmn_logs *dmn_logs_open(struct dmn *d, struct dmn_container *c, const char *name,
                               const struct dmn_logs_opts *o, ctr_error_t *err);
/* Formatted bytes (>0), 0 at the end, -1 when the client left or the daemon stops. */
ssize_t dmn_logs_read(struct dmn_logs *l, char *buf, size_t max);
void dmn_logs_close(struct dmn_logs *l);
/* Write the container's whole log to fd (attach logs=1), multiplexed unless tty. */
void dmn_logs_replay(const char *bundle, int fd, bool tty, bool out, bool err);

/* exec.c: exec records, their sessions, top (typed; api/exec.c) */
void dmn_execs_drop_locked(struct dmn *d, const char *container_id);
struct dmn_exec_spec {
    char **cmd, **env; /* env NULL: none */
    const char *workdir, *user;
    uint8_t detach_keys[CTR_DETACH_KEYS_MAX]; /* DetachKeys (default ctrl-p,ctrl-q) */
    size_t n_detach_keys;
    bool tty, attach_stdin, attach_stdout, attach_stderr;
    uint16_t rows, cols;
};
/* A new exec in a running container (EBUSY when it is not; EINVAL: relative workdir). */
int dmn_exec_create(struct dmn *d, const char *ref, const struct dmn_exec_spec *spec,
                    char id_out[65], ctr_error_t *err);
/* What inspect shows of an exec (a copy). */
struct dmn_exec_info {
    char id[65], container_id[65];
    char **cmd;
    char *user;
    bool tty, attach_stdin, attach_stdout, attach_stderr, running;
    int exit_code; /* -1 while it runs */
};
int dmn_exec_inspect(struct dmn *d, const char *id, struct dmn_exec_info *out, ctr_error_t *err);
void dmn_exec_info_release(struct dmn_exec_info *info);
int dmn_exec_resize(struct dmn *d, const char *id, uint16_t rows, uint16_t cols, ctr_error_t *err);
/* Start: mark the exec started (ENOENT, EBUSY: started already or container not running)
 * and return its run; then either dmn_exec_run_session on a client's fd (its exit code
 * is recorded before the fd is shut down) and dmn_exec_run_free, or
 * dmn_exec_run_detached (takes the run). dmn_exec_start_undo: the session never ran.
 * raw: the stream is raw bytes, else Docker's 8-byte frames; Docker decides by the start
 * request's Tty, whatever the exec's (which gives the process its terminal). */
struct dmn_exec_run;
struct dmn_exec_run *dmn_exec_start(struct dmn *d, const char *id, bool set_size, uint16_t rows,
                                    uint16_t cols, bool raw, ctr_error_t *err);
void dmn_exec_run_session(struct dmn_exec_run *x, int client_fd, const char *pre, size_t pre_len);
int dmn_exec_run_detached(struct dmn_exec_run *x, ctr_error_t *err);
void dmn_exec_run_free(struct dmn_exec_run *x);
void dmn_exec_start_undo(struct dmn *d, const char *id);
/* `ps ps_args` (default -ef) in the container: its output (EBUSY: not running). */
int dmn_container_top(struct dmn *d, const char *ref, const char *ps_args, char **out,
                      ctr_error_t *err);

/* events.c */
void dmn_event_emit_locked(struct dmn *d, const char *type, const char *action, const char *id,
                           json_t *attrs); /* steals attrs */
void dmn_event_container_locked(struct dmn *d, struct dmn_container *c, const char *action,
                                json_t *extra); /* steals extra */
void dmn_events_release(struct dmn *d);
/* A reader's cursor: the oldest event kept, or the next one to come. */
uint64_t dmn_events_cursor(struct dmn *d, bool oldest);
/* The next event from *next on with time >= since for which take(e, ctx) is true (take
 * runs under d->lock; e is only valid then): 1. 0 once until (0: none) has passed; -1
 * when the client on client_fd went away or the daemon stops. Waits for new events. */
int dmn_events_next(struct dmn *d, uint64_t *next, int64_t since, int64_t until, int client_fd,
                    bool (*take)(const struct dmn_event *e, void *ctx), void *ctx);

/* networks.c: the networks' host side (bridges, nft table, DNS) and /networks */
/* At start: the default network, every stored network's bridge, the nft table, IP
 * forwarding and the DNS servers. Never fatal: a failure is kept in d->net_error. */
void dmn_networks_init(struct dmn *d);
/* At exit: stop the DNS servers; with no container running, also remove the bridges
 * and the nft table (the next start makes them again). */
void dmn_networks_shutdown(struct dmn *d);
/* EHOSTUNREACH with the reason when networking is unavailable. */
int dmn_networks_check(struct dmn *d, ctr_error_t *err);
/* Under net_lock: rebuild the nft table from the stored networks; start or stop the
 * DNS server of one network. */
int dmn_networks_apply_nft(struct dmn *d, ctr_error_t *err);
struct net_network;
int dmn_dns_start(struct dmn *d, const struct net_network *nw, ctr_error_t *err);
void dmn_dns_stop(struct dmn *d, const char *net_id);

/* netconf.c, netbundle.c: a container's networks, ports, /etc/hosts and resolv.conf */
/* One EndpointSettings of a create or connect request. */
struct dmn_epreq {
    char **aliases; /* Aliases, NULL-terminated (may be NULL) */
    uint32_t ip;    /* IPAMConfig.IPv4Address; 0: the network's allocator picks */
    char mac[18];   /* MacAddress (lowercase); "": 02:42 + the address */
};
void dmn_epreq_release(struct dmn_epreq *e);
struct dmn_netreq {
    bool none;             /* NetworkMode none: loopback only */
    char **networks;       /* names or ids as given, first = the primary */
    struct dmn_epreq *eps; /* per network */
    size_t n_networks;
    struct net_port_binding *ports; /* host_port 0: any free one (picked at create) */
    size_t n_ports;
};
/* Made by api_netreq_parse (api/api.h). */
void dmn_netreq_release(struct dmn_netreq *rq);
/* netbundle.c: an ExtraHosts entry, "name:ip" (docker) or "name=ip"; ip may be
 * `host-gateway`. */
int dmn_extra_host_split(const char *s, char **name, char **ip);
/* Allocate an address on each network (ENOENT: unknown network, EBUSY: pool
 * exhausted) and the ports (EBUSY naming `ip:port/proto` in use) into c. Takes
 * net_lock. */
int dmn_netconf_attach(struct dmn *d, struct dmn_container *c, const struct dmn_netreq *rq,
                       ctr_error_t *err);
/* Join one more network (connect; the caller holds net_lock). */
int dmn_netconf_join(struct dmn *d, struct dmn_container *c, const char *network,
                     const struct dmn_epreq *rq, ctr_error_t *err);
/* Release c's address on one network (net_id) or all of them (NULL). */
void dmn_netconf_release(struct dmn *d, struct dmn_container *c, const char *net_id);
/* Write c's networks, ports and setup.network into the bundle config. */
int dmn_netconf_fill(struct dmn_container *c, struct bundle_config *bc, ctr_error_t *err);
/* Load, fill, save the bundle config of c. */
int dmn_netconf_rewrite(struct dmn_container *c, ctr_error_t *err);
/* c's /etc/hosts as setup.network has it (NULL: none; err set on a failure). */
char *dmn_netconf_hosts(struct dmn_container *c, ctr_error_t *err);
/* netlive.c: a running container joins (after dmn_netconf_join made its endpoint, the
 * last of c->eps) or leaves a network: the host's splice and the guest's address.
 * net_lock and c's op_lock held. */
int dmn_netlive_join(struct dmn *d, struct dmn_container *c, ctr_error_t *err);
int dmn_netlive_leave(struct dmn *d, struct dmn_container *c, const char *net_id, ctr_error_t *err);
/* The host's side of a live endpoint (veth pair, netdev table) deleted: at leave, at the
 * next start, at removal. */
void dmn_netconf_unsplice(const struct dmn_endpoint *ep);
void dmn_endpoints_free(struct dmn_endpoint *eps, size_t n);
/* An address as a string (caller frees); a binding's host address, "0.0.0.0" for every
 * one, as the shim and Docker show it; the container's Config.Hostname, NULL when unset
 * (netbundle.c). */
char *dmn_ip_str(uint32_t a);
const char *dmn_port_host_ip(const struct net_port_binding *p);
const char *dmn_container_hostname(struct dmn_container *c);
/* daemon.json: {"Endpoints":[...],"Ports":[...]} to and from c. */
void dmn_netconf_save(struct dmn_container *c, json_t *meta);
int dmn_netconf_load(struct dmn_container *c, json_t *meta, ctr_error_t *err);
/* The container's DNS names on network net_id match name (under d->lock). */
bool dmn_netconf_has_name(struct dmn_container *c, const char *net_id, const char *name,
                          uint32_t *addr);

/* netapi.c: the networks of /networks (their Docker edge: api/networks.c) */
struct dmn_net_member { /* a container with an address on the network */
    char id[65];
    char *name;
    char mac[18];
    uint32_t addr;
    uint8_t prefix;
};
struct dmn_network {
    struct net_network nw;
    struct dmn_net_member *members; /* creating containers are not listed */
    size_t n_members;
};
void dmn_network_release(struct dmn_network *n);
void dmn_networks_free(struct dmn_network *v, size_t n);
int dmn_networks_list(struct dmn *d, struct dmn_network **out, size_t *n, ctr_error_t *err);
/* By name, id or id prefix; ENOENT `network X not found`. */
int dmn_network_get(struct dmn *d, const char *ref, struct dmn_network *out, ctr_error_t *err);
struct dmn_network_spec {
    const char *name;
    const char *subnet;   /* NULL: the next free one */
    const char *ip_range; /* IPAM IPRange (NULL: the whole subnet) */
    bool internal;
    char *const *labels;  /* "k=v" */
    char *const *options; /* the driver options, "k=v": stored and shown, as given */
};
/* Store it, make its bridge, nft rules and DNS server; *id gets its id. */
int dmn_network_create(struct dmn *d, const struct dmn_network_spec *spec, char **id,
                       ctr_error_t *err);
/* ENOENT; DMN_EFORBIDDEN for the default network; EBUSY while containers use it. */
int dmn_network_remove(struct dmn *d, const char *ref, ctr_error_t *err);
/* Remove every unused network but the default one that match() keeps; *deleted: names. */
int dmn_networks_prune(struct dmn *d, bool (*match)(const struct net_network *nw, void *ctx),
                       void *ctx, char ***deleted, ctr_error_t *err);
/* A container joins or leaves a network (a running one live: netlive.c; EBUSY while it
 * starts, is paused or is removed); rq: the endpoint's EndpointConfig. */
int dmn_network_connect(struct dmn *d, const char *network, const char *ctr_ref,
                        const struct dmn_epreq *rq, ctr_error_t *err);
int dmn_network_disconnect(struct dmn *d, const char *network, const char *ctr_ref,
                           ctr_error_t *err);

/* images.c: the image service (its Docker edge: api/images.c) */
struct dmn_image {
    struct imgstore_image img;
    char **tags;       /* familiar names (RepoTags) */
    char **digests;    /* repo@digest names (RepoDigests) */
    char **names;      /* every name, as stored */
    int64_t stored_ns; /* when its first name was stored */
    size_t containers; /* containers made from it (when counted) */
};
void dmn_image_release(struct dmn_image *im);
void dmn_images_free(struct dmn_image *v, size_t n);
/* docker.io/library/busybox:latest → busybox:latest (caller frees). */
char *dmn_image_familiar(const char *name);
/* The config's `created`, 0 when absent or unreadable. */
int64_t dmn_image_created_ns(const struct dmn_image *im);
/* One entry per manifest; count_containers: fill `containers`. */
int dmn_images_list(struct dmn *d, bool count_containers, struct dmn_image **out, size_t *n,
                    ctr_error_t *err);
/* By name, id or digest: ENOENT `No such image: REF`, EINVAL when ref is no reference. */
int dmn_image_get(struct dmn *d, const char *ref, struct dmn_image *out, ctr_error_t *err);
/* What a remove or prune did, in order: one of the two is set. */
struct dmn_image_change {
    char *untagged; /* a familiar name */
    char *deleted;  /* a manifest digest */
};
void dmn_image_changes_free(struct dmn_image_change *v, size_t n);
/* Untag ref; the image goes with its last tag (EBUSY while a container uses it, unless
 * force), then the store GC. */
int dmn_image_remove(struct dmn *d, const char *ref, bool force, struct dmn_image_change **out,
                     size_t *n, ctr_error_t *err);
/* repo:tag (tag NULL or "": latest) names ref's image. */
int dmn_image_tag(struct dmn *d, const char *ref, const char *repo, const char *tag,
                  ctr_error_t *err);
/* Load an image archive (EINVAL when it is not one); *loaded: familiar names tagged. */
int dmn_image_load(struct dmn *d, const char *tar_path, char ***loaded, ctr_error_t *err);
/* Save refs as one tar into an unlinked temp file, *fd (ENOENT, EINVAL as get). */
int dmn_image_save(struct dmn *d, char *const *refs, int *fd, ctr_error_t *err);
/* Untagged images no container uses (all: every such image), then the store GC. */
int dmn_images_prune(struct dmn *d, bool all, struct dmn_image_change **out, size_t *n,
                     uint64_t *reclaimed, ctr_error_t *err);

/* pull.c: pull and push through the registry client, in the caller's thread */
struct dmn_xfer_opts {
    enum registry_scheme scheme;
    unsigned max_concurrent; /* 0: the client's default */
    const char *user, *pass; /* NULL: anonymous */
    const char *platform;    /* pull: "os/arch[/variant]", NULL: the host's */
};
/* Where a transfer reports its progress (called from the transfer's threads). */
struct dmn_xfer_sink {
    void (*layer)(void *ctx, const struct registry_progress_event *ev);
    /* a status line; id: what it is about (a repository path), or NULL */
    void (*status)(void *ctx, const char *status, const char *id);
    /* push: tag pushed as the manifest digest of size bytes */
    void (*pushed)(void *ctx, const char *tag, const char *digest, uint64_t size);
    void *ctx;
};
int dmn_image_pull(struct dmn *d, const char *ref, const struct dmn_xfer_opts *o,
                   const struct dmn_xfer_sink *sink, ctr_error_t *err);
/* The local names a push of ref covers: ref itself, or every tag of the repository when
 * ref names no tag (docker push --all-tags); ENOENT when none. */
int dmn_image_push_names(struct dmn *d, const char *ref, char ***names, ctr_error_t *err);
/* Push names (from dmn_image_push_names) to ref's repository. */
int dmn_image_push(struct dmn *d, const char *ref, char *const *names,
                   const struct dmn_xfer_opts *o, const struct dmn_xfer_sink *sink,
                   ctr_error_t *err);

/* commit.c, changes.c, import.c: a container's writable layer and new images from a
 * layer (docs/images.md, "Changes and layers") */
struct layerdiff_change;
/* Docker's change list of the container (ENOENT: no such container). */
int dmn_container_changes(struct dmn *d, const char *ref, struct layerdiff_change **out, size_t *n,
                          ctr_error_t *err);
struct dmn_commit_req {
    const char *container;
    const char *repo, *tag; /* repo NULL or "": the image stays untagged */
    const char *comment, *author;
    json_t *config;       /* the request's Config overrides (NULL: none) */
    char *const *changes; /* Dockerfile instructions (NULL-terminated, may be NULL) */
};
/* A new image: the container's image plus its writable layer; *id_out its id. */
int dmn_container_commit(struct dmn *d, const struct dmn_commit_req *rq, char **id_out,
                         ctr_error_t *err);
/* The `changes` instructions (CMD ENTRYPOINT ENV EXPOSE LABEL ONBUILD STOPSIGNAL USER
 * VOLUME WORKDIR) applied to a Docker Config; EINVAL with Docker's message otherwise. */
int dmn_commit_changes_apply(json_t *config, char *const *changes, ctr_error_t *err);
/* One image from an optional base and an optional layer (commit, import). */
struct dmn_image_build {
    const char *base;    /* image reference or id, NULL: none */
    int layer_fd;        /* the layer tar (read from 0), -1: no layer */
    const char *diff_id; /* its sha256 */
    int64_t layer_size;
    json_t *config;           /* the image's `config` */
    json_t *container_config; /* commit: the container's Config, else NULL */
    const char *container_id;
    const char *author, *comment, *created_by;
    const char *name; /* normalized reference, NULL: untagged */
};
int dmn_image_build(struct dmn *d, const struct dmn_image_build *b, char **id_out,
                    ctr_error_t *err);
struct dmn_import_req {
    const char *src_path; /* the uploaded body (fromSrc=-), else NULL */
    const char *url;      /* fromSrc=URL */
    const char *repo, *tag, *message, *platform;
    char *const *changes;
};
/* status(ctx, line) reports progress ("Downloading from URL"). */
int dmn_image_import(struct dmn *d, const struct dmn_import_req *rq,
                     void (*status)(void *ctx, const char *msg), void *ctx, char **id_out,
                     ctr_error_t *err);
/* GET /distribution/{name}/json: what the registry serves for ref (its descriptor and
 * the platforms it offers: an index's entries, or a manifest's config). */
struct dmn_distribution {
    char *media_type, *digest;
    int64_t size;
    struct oci_platform *platforms;
    size_t n_platforms;
};
int dmn_distribution_inspect(struct dmn *d, const char *ref, const struct dmn_xfer_opts *o,
                             struct dmn_distribution *out, ctr_error_t *err);
void dmn_distribution_release(struct dmn_distribution *x);

/* archive.c */
/* Load a docker-archive or OCI-archive tar into the store; *names gets what was tagged. */
int dmn_archive_load(struct dmn *d, const char *tar_path, char ***names, ctr_error_t *err);
/* Write images (references) as one docker-archive + OCI layout tar to fd. */
int dmn_archive_save(struct dmn *d, char *const *refs, int fd, ctr_error_t *err);
/* docker-archive manifest.json: parsed (pure: unit tested). */
struct dmn_docker_manifest {
    char *config; /* path in the archive */
    char **repo_tags;
    char **layers; /* paths in the archive */
};
int dmn_docker_manifest_parse(const char *json, size_t len, struct dmn_docker_manifest **out,
                              size_t *n, ctr_error_t *err);
void dmn_docker_manifest_free(struct dmn_docker_manifest *m, size_t n);

/* system.c: the system service (its routes: api/system.c) */
/* Kernel and initrd new containers get. */
char *dmn_kernel_path(struct dmn *d);
char *dmn_initrd_path(struct dmn *d);
/* Set the kernel (DATA/kernel/vmlinux) from an open file or a host path: EINVAL when it
 * is no ELF vmlinux or bzImage; ENOENT when path does not exist. */
int dmn_kernel_install(struct dmn *d, int src, ctr_error_t *err);
int dmn_kernel_install_file(struct dmn *d, const char *path, ctr_error_t *err);
struct dmn_file_info {
    bool present; /* a regular file */
    uint64_t size;
    char sha256[OCI_DIGEST_STR_LEN + 1]; /* when asked for; "" if unreadable */
};
void dmn_file_info(const char *path, bool digest, struct dmn_file_info *out);
struct dmn_counts {
    size_t total, running, paused, stopped; /* containers (those being created not counted) */
    size_t images;                          /* distinct manifests */
};
void dmn_system_counts(struct dmn *d, struct dmn_counts *out);
/* Bytes allocated under the data root. */
struct dmn_usage {
    struct dmn_counts counts;
    uint64_t content, snapshots, kernel;    /* DATA/content, snapshots, kernel */
    uint64_t containers, containers_active; /* bundles, those of running containers */
};
void dmn_system_usage(struct dmn *d, struct dmn_usage *out);
/* Every container (those being created excepted) in the table's order, emit under
 * d->lock (GET /system/df). */
void dmn_system_containers(struct dmn *d,
                           void (*emit)(struct dmn *d, struct dmn_container *c, void *ctx),
                           void *ctx);
/* The daemon's log file (ENOENT when it logs to stderr): from the last `want` lines when
 * tail_given (want <= 0: from the end); follow goes on across rotations. */
struct dmn_logtail;
int dmn_logtail_open(struct dmn *d, bool tail_given, long want, bool follow,
                     struct dmn_logtail **out, ctr_error_t *err);
/* Bytes read, 0 at the end (not following), -1 once gone(ctx) or the daemon stops. */
ssize_t dmn_logtail_read(struct dmn_logtail *t, char *buf, size_t max, bool (*gone)(void *ctx),
                         void *ctx);
void dmn_logtail_free(struct dmn_logtail *t);

/* Wake dmn_run (daemon.c) to stop the daemon (containers: stop them too, timeout each). */
int dmn_request_stop(struct dmn *d, bool containers, int timeout, ctr_error_t *err);

/* create.c: a new container from a parsed request (api/create.c). The request's
 * strings stay the caller's. Errors by class: EINVAL a request the image or the bundle
 * refuses, ENOENT no such image or network, EEXIST the name is taken, EBUSY a published
 * port in use, ENOSPC too little free space on the data root, else internal. */
struct dmn_create_req {
    const char *name; /* NULL: a generated one */
    /* image, cmd, entrypoint, env, ...; memory, cpus NULL: the daemon's defaults; id,
     * accel and lookup_env are set by the service */
    struct bundle_create_opts opts;
    uint16_t rows, cols; /* HostConfig.ConsoleSize (0: none) */
    bool stdin_once, auto_remove;
    bool stop_signal_given;  /* StopSignal was in the request (even null or ""): */
    const char *stop_signal; /* then this one, NULL or "" for none; else the image's */
    int stop_timeout;        /* -1: the default */
    struct dmn_restart_policy restart;
    bool entrypoint_given; /* for the Config shown: the image's Entrypoint ... */
    bool cmd_empty;        /* ... and Cmd fill in what the request left out */
    struct dmn_netreq net;
    /* HostConfig.CpusetCpus ("0-1,3", NULL for none) and its highest CPU (-1): checked
     * against the VM's vCPUs, stored and shown (the VM has only the container's CPUs) */
    const char *cpuset_cpus;
    int cpuset_highest;
    /* Stored for inspect: the request's Config (no HostConfig, NetworkingConfig,
     * Platform), completed by the service with the merged values, and HostConfig as
     * shown (Docker's defaults filled in). */
    json_t *config, *host_config;
};
int dmn_container_create(struct dmn *d, const struct dmn_create_req *rq,
                         char out_id[BUNDLE_CREATE_ID_LEN + 1], ctr_error_t *err);

/* shapes.c: Docker's value formats the services share with api/ (unit tested); the
 * container documents are api/shapes.c */
char *
dmn_time_rfc3339(int64_t ns); /* "2024-01-02T03:04:05.123456789Z"; 0 → "0001-01-01T00:00:00Z" */
int dmn_time_parse(const char *s, int64_t *ns); /* RFC 3339 or unix seconds[.frac] */
/* filters={"status":["running"],"label":["a=b"]} (also the old {"status":{"running":true}}). */
struct dmn_filters {
    json_t *f; /* object: key -> array of strings */
};
int dmn_filters_parse(const char *s, struct dmn_filters *out, ctr_error_t *err);
void dmn_filters_release(struct dmn_filters *f);
/* Reject keys not in allowed (NULL-terminated): Docker's "invalid filter 'x'". */
int dmn_filters_check(const struct dmn_filters *f, const char *const *allowed, ctr_error_t *err);
bool dmn_filters_has(const struct dmn_filters *f, const char *key);
/* True when any value of key satisfies match(value, ctx) (or the key is absent). */
bool dmn_filters_any(const struct dmn_filters *f, const char *key,
                     bool (*match)(const char *value, void *ctx), void *ctx);
/* label filters: every "k" or "k=v" must hold against labels (object). */
bool dmn_filters_labels(const struct dmn_filters *f, json_t *labels);
json_t *dmn_strv_json(char *const *v);
char **dmn_json_strv(json_t *a); /* array of strings → strv; NULL if not an array */
/* Docker's 8-byte header of a multiplexed stream. */
void dmn_mux_header(uint8_t hdr[8], int stream, uint32_t len);

/* ---- Locks (locks.c): the order, checked ----
 * A thread takes the daemon's locks in this order only (rank increasing):
 *   1. c->op_lock   per container: serializes start/stop/kill/remove of one container;
 *                   never two at once
 *   2. d->net_lock  networks, addresses, nft table, DNS servers
 *   3. d->img_lock  the image store
 *   4. d->lock      containers, execs, events (d->cond waits on it)
 *   5. job locks    a transfer job's own state (files.c)
 * Leaves, which no daemon lock is taken under: an exec's `wlock` (frames to its shim
 * session; shimc takes it around each write) and the HTTP layer's own locks (api/).
 * Take and release them with dmn_mutex_lock/unlock (or the dmn_lock()... shorthands):
 * a lock of a lower or equal rank taken while a higher one is held is logged as
 * "lock order violated" (tests fail on it) and aborts debug builds (CTR_DEBUG). */
enum dmn_rank {
    DMN_RANK_OP = 1,
    DMN_RANK_NET,
    DMN_RANK_IMG,
    DMN_RANK_CTRS,
    DMN_RANK_JOB,
    DMN_RANK_COUNT
};
void dmn_mutex_lock(pthread_mutex_t *m, enum dmn_rank rank);
void dmn_mutex_unlock(pthread_mutex_t *m, enum dmn_rank rank);
bool dmn_rank_held(enum dmn_rank rank);
const char *dmn_rank_name(enum dmn_rank rank);
unsigned dmn_lock_violations(void);
#define dmn_lock(d) dmn_mutex_lock(&(d)->lock, DMN_RANK_CTRS)
#define dmn_unlock(d) dmn_mutex_unlock(&(d)->lock, DMN_RANK_CTRS)
#define dmn_img_lock(d) dmn_mutex_lock(&(d)->img_lock, DMN_RANK_IMG)
#define dmn_img_unlock(d) dmn_mutex_unlock(&(d)->img_lock, DMN_RANK_IMG)
#define dmn_net_lock(d) dmn_mutex_lock(&(d)->net_lock, DMN_RANK_NET)
#define dmn_net_unlock(d) dmn_mutex_unlock(&(d)->net_lock, DMN_RANK_NET)
#define dmn_op_lock(c) dmn_mutex_lock(&(c)->op_lock, DMN_RANK_OP)
#define dmn_op_unlock(c) dmn_mutex_unlock(&(c)->op_lock, DMN_RANK_OP)

#endif
