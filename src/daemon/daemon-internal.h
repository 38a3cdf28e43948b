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

/* ---- files.c: /containers/{id}/archive and /export (runtime archive client) ---- */
struct shimc_path_stat;
/* X-Docker-Container-Path-Stat: base64 JSON {name,size,mode,mtime,linkTarget} (caller frees). */
char *dmn_path_stat_header(const struct shimc_path_stat *st);
/* At the headers of a PUT archive: starts the extraction and sets upload_pipe. */

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

/* A container's attachment to a network (netconf.c): its address is the network's
 * IPAM allocation owned by the container id, held until the container is removed. */
struct dmn_endpoint {
    char *net_id, *net_name;
    char **aliases; /* EndpointsConfig.Aliases (DNS names on this network) */
    uint32_t addr, gateway;
    uint8_t prefix;
    bool internal;
    char *bridge;
    char mac[18];
    char tap[16]; /* ctap + 10 hex of the id + index */
};

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
    bool in_restart;
    struct dmn_attach *pending; /* attaches waiting for a start */
    /* a terminal size given before the main process ran: applied at start */
    uint16_t resize_rows, resize_cols;
    bool resize_pending;
    struct dmn_endpoint *eps; /* networks, the first one's address is the container's */
    size_t n_eps;
    struct net_port_binding *ports; /* published, host ports fixed at create */
    size_t n_ports;
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

/* containers.c */
int dmn_containers_load(struct dmn *d, ctr_error_t *err);
/* Lookup by id, unique id prefix or name (with or without '/'); takes a ref.
 * Under d->lock: the _locked variant. */
struct dmn_container *dmn_container_find_locked(struct dmn *d, const char *ref);
struct dmn_container *dmn_container_get(struct dmn *d, const char *ref, ctr_error_t *err);
void dmn_container_put(struct dmn *d, struct dmn_container *c);
int dmn_container_save_locked(struct dmn *d, struct dmn_container *c, ctr_error_t *err);
/* volumes: also remove its anonymous volumes no other container uses (docker's `rm -v`). */
int dmn_container_remove(struct dmn *d, struct dmn_container *c, bool force, bool volumes,
                         ctr_error_t *err);
void dmn_container_free(struct dmn_container *c);
struct dmn_container *dmn_container_new(void);
void dmn_container_add_locked(struct dmn *d, struct dmn_container *c);
void dmn_container_unlink_locked(struct dmn *d, struct dmn_container *c);
/* Bytes allocated on disk under path (sparse files count what they use). */
uint64_t dmn_disk_usage(const char *path);

/* names.c: adjective_surname names for containers created without one */
size_t dmn_names_count(void);
/* A random name; retry > 0 appends a digit (docker's GetRandomName). */
char *dmn_name_random(unsigned retry);
/* Whether a container (one still being created included) has this name. */
bool dmn_name_in_use_locked(struct dmn *d, const char *name);
/* A free random name (a few retries), else the short id. */
char *dmn_name_generate_locked(struct dmn *d, const char *id);

/* validate.c: the JSON types of a container config (Config and HostConfig, as Docker's
 * Go structs take them), EINVAL naming the field. */
int dmn_config_check_types(json_t *body, ctr_error_t *err);
/* A process (main or exec) fits what the shim can send and the guest accepts (the control
 * frame limit, arg counts, path lengths); what names it in the message. */
struct agent_exec;
int dmn_process_check_size(const struct agent_exec *ex, const char *what, ctr_error_t *err);
/* The types of an exec config (POST /containers/{id}/exec) and the size of its process. */
int dmn_exec_config_check(json_t *body, ctr_error_t *err);
/* The types of a network config (POST /networks/create). */
int dmn_network_config_check(json_t *body, ctr_error_t *err);

/* api/mounts.c (the Docker request's side; declared here while create.c and shapes.c use
 * them): HostConfig.Binds, Mounts, Tmpfs, ShmSize as mount specs */
int dmn_mounts_from_host_config(json_t *hc, struct bundle_mount_spec **out, size_t *n_out,
                                uint64_t *shm, ctr_error_t *err);
/* Config.Volumes {"/path":{}}: anonymous volumes for paths no spec in *v covers. */
int dmn_mounts_add_config_volumes(json_t *volumes, struct bundle_mount_spec **v, size_t *n,
                                  ctr_error_t *err);
/* Docker's `Mounts` of inspect and list, from the container's HostConfig and bundle. */
json_t *dmn_container_mounts_json(struct dmn *d, struct dmn_container *c);

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
/* Create (or return the existing one, as docker); EINVAL for a bad name or option. */
int dmn_volume_create(struct dmn *d, const char *name, char *const *labels, char *const *opts,
                      struct bundle_volume *out, ctr_error_t *err);
/* ENOENT (`get NAME: no such volume` for a name no volume can have). */
int dmn_volume_get(struct dmn *d, const char *name, struct bundle_volume *out, ctr_error_t *err);
/* ENOENT, or EBUSY naming the containers that use it. */
int dmn_volume_remove(struct dmn *d, const char *name, ctr_error_t *err);
/* Remove every unused volume match() keeps: *deleted their names, *reclaimed their bytes. */
int dmn_volumes_prune(struct dmn *d, bool (*match)(const struct bundle_volume *v, void *ctx),
                      void *ctx, char ***deleted, uint64_t *reclaimed, ctr_error_t *err);

/* lifecycle.c */
int dmn_container_start(struct dmn *d, struct dmn_container *c, ctr_error_t *err);
/* EBUSY when a running container attaches one of c's block volumes (d->lock held). */
int dmn_block_volumes_check_locked(struct dmn *d, struct dmn_container *c, ctr_error_t *err);
int dmn_container_stop(struct dmn *d, struct dmn_container *c, int timeout, ctr_error_t *err);
/* The same with c->op_lock already held. timeout < 0: the container's default. */
int dmn_container_stop_locked_op(struct dmn *d, struct dmn_container *c, int timeout,
                                 ctr_error_t *err);
int dmn_parse_signal(const char *s, int *sig);
/* Docker's ConsoleSize [height, width]; absent or null leaves *rows, *cols 0. */
int dmn_console_size(json_t *v, uint16_t *rows, uint16_t *cols, ctr_error_t *err);

/* monitor.c: one epoll thread watching the shims (pidfds) */
int dmn_monitor_start(struct dmn *d, ctr_error_t *err);
void dmn_monitor_stop(struct dmn *d);
/* Watch a running container's shim; if it is gone already, record the exit now. */
void dmn_monitor_watch_locked(struct dmn *d, struct dmn_container *c);
/* Read the shim's state.json and record the exit (under d->lock). */
void dmn_record_exit_locked(struct dmn *d, struct dmn_container *c);
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
};
int dmn_relay_run(struct dmn_relay *rl);

/* logs.c */
/* Write the container's whole log to fd (attach logs=1), multiplexed unless tty. */
void dmn_logs_replay(const char *bundle, int fd, bool tty, bool out, bool err);

/* exec.c */
void dmn_execs_drop_locked(struct dmn *d, const char *container_id);

/* events.c */
void dmn_event_emit_locked(struct dmn *d, const char *type, const char *action, const char *id,
                           json_t *attrs); /* steals attrs */
void dmn_event_container_locked(struct dmn *d, struct dmn_container *c, const char *action,
                                json_t *extra); /* steals extra */
void dmn_events_release(struct dmn *d);

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
struct dmn_netreq {
    bool none;       /* NetworkMode none: loopback only */
    char **networks; /* names or ids as given, first = the primary */
    char ***aliases; /* per network, NULL-terminated (may be NULL) */
    size_t n_networks;
    struct net_port_binding *ports; /* host_port 0: any free one (picked at create) */
    size_t n_ports;
};
/* api/netreq.c (the Docker request's side; declared here while create.c uses it):
 * parse NetworkMode, NetworkingConfig.EndpointsConfig and HostConfig.PortBindings, and
 * check Dns/DnsSearch/DnsOptions/ExtraHosts (EINVAL naming the field). */
int dmn_netreq_parse(json_t *body, struct dmn_netreq *out, ctr_error_t *err);
void dmn_netreq_release(struct dmn_netreq *rq);
/* api/netreq.c: one EndpointsConfig entry of network net (also connect's EndpointConfig): its
 * aliases (DNS names; NULL when none); static addresses, links, MACs → EINVAL. */
int dmn_endpoint_parse(const char *net, json_t *ep, char ***aliases, ctr_error_t *err);
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
                     char *const *aliases, ctr_error_t *err);
/* Release c's address on one network (net_id) or all of them (NULL). */
void dmn_netconf_release(struct dmn *d, struct dmn_container *c, const char *net_id);
/* Write c's networks, ports and setup.network into the bundle config. */
int dmn_netconf_fill(struct dmn_container *c, struct bundle_config *bc, ctr_error_t *err);
/* Load, fill, save the bundle config of c. */
int dmn_netconf_rewrite(struct dmn_container *c, ctr_error_t *err);
void dmn_endpoints_free(struct dmn_endpoint *eps, size_t n);
/* daemon.json: {"Endpoints":[...],"Ports":[...]} to and from c. */
void dmn_netconf_save(struct dmn_container *c, json_t *meta);
int dmn_netconf_load(struct dmn_container *c, json_t *meta, ctr_error_t *err);
/* api/netjson.c (declared here while shapes.c uses them): Docker's
 * NetworkSettings.Networks, NetworkSettings.Ports, the list's Ports. */
json_t *dmn_netconf_networks_json(struct dmn_container *c);
json_t *dmn_netconf_ports_json(struct dmn_container *c);
json_t *dmn_netconf_ports_list_json(struct dmn_container *c);
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
    const char *subnet; /* NULL: the next free one */
    bool internal;
    char *const *labels; /* "k=v" */
};
/* Store it, make its bridge, nft rules and DNS server; *id gets its id. */
int dmn_network_create(struct dmn *d, const struct dmn_network_spec *spec, char **id,
                       ctr_error_t *err);
/* ENOENT; EPERM for the default network (Docker's 403); EBUSY while containers use it. */
int dmn_network_remove(struct dmn *d, const char *ref, ctr_error_t *err);
/* Remove every unused network but the default one that match() keeps; *deleted: names. */
int dmn_networks_prune(struct dmn *d, bool (*match)(const struct net_network *nw, void *ctx),
                       void *ctx, char ***deleted, ctr_error_t *err);
/* A stopped container (EBUSY while it runs or is removed) joins or leaves a network. */
int dmn_network_connect(struct dmn *d, const char *network, const char *ctr_ref,
                        char *const *aliases, ctr_error_t *err);
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
    size_t total, running, stopped; /* containers (those being created not counted) */
    size_t images;                  /* distinct manifests */
};
void dmn_system_counts(struct dmn *d, struct dmn_counts *out);
/* Bytes allocated under the data root. */
struct dmn_usage {
    struct dmn_counts counts;
    uint64_t content, snapshots, kernel;    /* DATA/content, snapshots, kernel */
    uint64_t containers, containers_active; /* bundles, those of running containers */
};
void dmn_system_usage(struct dmn *d, struct dmn_usage *out);
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

/* shapes.c: Docker's JSON shapes and value formats (pure parts unit tested) */
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
json_t *dmn_container_inspect_json(struct dmn *d, struct dmn_container *c);
json_t *dmn_container_summary_json(struct dmn *d, struct dmn_container *c);
json_t *dmn_container_state_json(struct dmn_container *c);
json_t *dmn_strv_json(char *const *v);
char **dmn_json_strv(json_t *a); /* array of strings → strv; NULL if not an array */
/* Docker's 8-byte header of a multiplexed stream. */
void dmn_mux_header(uint8_t hdr[8], int stream, uint32_t len);

#endif
