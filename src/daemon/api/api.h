/* The API edge of container-apiserver: the only layer that knows HTTP, libmicrohttpd and
 * Docker's JSON. http.c serves the socket, router.c/routes.c map a method and path to a
 * handler; each handler turns its request into typed values, calls the services
 * (daemon-internal.h) and turns their result or error into Docker's reply. See
 * docs/daemon.md and docs/hacking.md. Non-static symbols carry the `api_` prefix. */
#ifndef CTR_DAEMON_API_H
#define CTR_DAEMON_API_H

#include "daemon/daemon-internal.h"

struct MHD_Connection;
struct MHD_Response;

/* ---- router (router.c, pure: unit tested) ---- */
/* Split "/v1.43/containers/json" into version and rest. *has_version is false
 * without a prefix. Returns -1 when the prefix is malformed. */
int api_route_version(const char *path, bool *has_version, unsigned *major, unsigned *minor,
                      const char **rest);
/* Check a requested version against the supported range; NULL when accepted,
 * else Docker's message (caller frees). */
char *api_version_check(unsigned major, unsigned minor);
#define API_ROUTE_MAX_PARAMS 4
/* Match a path against a pattern: `{}` takes one segment, `{*}` one or more
 * (greedy, the rest of the pattern must match the tail). params get copies. */
bool api_route_match(const char *pattern, const char *path, char *params[API_ROUTE_MAX_PARAMS]);

/* ---- HTTP requests and replies (http.c; routes.c dispatches) ---- */
struct dmn;
struct api_req {
    struct dmn *d;
    struct MHD_Connection *conn;
    const char *method;
    const char *path; /* without the version prefix */
    unsigned api_minor;
    char *params[API_ROUTE_MAX_PARAMS];
    char *body;
    size_t body_len, body_cap;
    bool body_too_large;
    int upload_fd; /* raw uploads (images/load, kernel): streamed into a temp file */
    char *upload_path;
    bool upload_failed;
    int upload_errno; /* why it failed */
    struct MHD_Response *resp;
    unsigned status;
    char *path_copy;   /* the URL (path points into it) */
    char *bad_version; /* refused API version (or URL): the message */
    bool url_has_nul;  /* the URL as sent holds `%00` */
    bool streaming;    /* answered with a stream or a hijack: no idle timeout */
    void *hijack;      /* http.c's upgrade context, freed with the request */
    /* bodies streamed as they arrive (PUT archive): written to upload_pipe, which is
     * closed at the end of the body; upload_job is the route's, freed with the request */
    int upload_pipe;
    void *upload_job;
    void (*upload_job_free)(void *);
};
const char *api_query(struct api_req *r, const char *key);
/* Docker's boolean query values: 1/true/True (anything but "", 0, false). */
bool api_query_bool(struct api_req *r, const char *key);
const char *api_header(struct api_req *r, const char *key);
/* Replies: exactly one per request. */
int api_reply_json(struct api_req *r, unsigned status, json_t *j); /* steals j */
int api_reply_error(struct api_req *r, unsigned status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The one mapping of an error class to a status: ENOENT 404, EEXIST/EBUSY 409,
 * EINVAL 400, DMN_ENOSPACE 507, DMN_EFORBIDDEN 403, else 500. */
int api_reply_ctr_error(struct api_req *r, ctr_error_t *err);
int api_reply_empty(struct api_req *r, unsigned status);
/* Add a header to the reply made (after a api_reply_*). */
void api_reply_header(struct api_req *r, const char *key, const char *value);
int api_reply_text(struct api_req *r, unsigned status, const char *ctype, const char *text,
                   size_t len);
/* A streamed body: fill(buf, max) returns bytes (>0), 0 at the end, -1 on error;
 * it may block (one thread per connection). free_ctx runs when the response ends. */
typedef ssize_t (*api_fill_fn)(void *ctx, char *buf, size_t max);
int api_reply_stream(struct api_req *r, unsigned status, const char *ctype, api_fill_fn fill,
                     void *ctx, void (*free_ctx)(void *));
/* A file's content (fd is taken). */
int api_reply_fd(struct api_req *r, unsigned status, const char *ctype, int fd);
/* Hijack: 101 then run(ctx, fd, pre, pre_len) in its own thread with the raw
 * (blocking) socket; pre holds bytes the client sent after its request. The
 * client must ask for the upgrade (`Connection: Upgrade`, `Upgrade: tcp`). */
typedef void (*api_hijack_fn)(void *ctx, int fd, const char *pre, size_t pre_len);
/* A WebSocket upgrade (101, Sec-WebSocket-Accept); run gets the raw socket as a hijack
 * does. 400 when the request is not a WebSocket handshake. */
int api_reply_websocket(struct api_req *r, api_hijack_fn run, void *ctx, void (*free_ctx)(void *));
/* websocket.c: Sec-WebSocket-Accept for a key (NULL on failure), and the bridge between a
 * WebSocket and a plain socket (client frames' payloads to local_fd, what local_fd gives
 * as text frames) until either side ends; pre: bytes read after the request. */
char *api_ws_accept(const char *key);
void api_ws_bridge(int ws_fd, const char *pre, size_t pre_len, int local_fd);
int api_reply_hijack(struct api_req *r, const char *ctype, api_hijack_fn run, void *ctx,
                     void (*free_ctx)(void *));
/* The connection's socket, to notice a client that went away. */
int api_req_fd(struct api_req *r);
/* True when the peer closed or reset fd (checked without blocking). */
bool ctr_fd_peer_gone(int fd);
json_t *api_body_json(struct api_req *r, ctr_error_t *err);
/* Start serving on an AF_UNIX listening fd with the route table (serve.c); NULL on
 * failure. */
void *api_http_start(struct dmn *d, int listen_fd, ctr_error_t *err);
/* What http.c calls of the routes, given at start: through pointers, so that http.c
 * (which every handler calls) calls no handler file back. */
struct api_http_ops {
    void (*dispatch)(struct api_req *r);
    bool (*wants_upload)(const char *method, const char *path);   /* to a temp file */
    bool (*streams_upload)(const char *method, const char *path); /* into a pipe: */
    void (*stream_begin)(struct api_req *r); /* at the headers, sets upload_pipe */
};
void *api_http_serve(struct dmn *d, int listen_fd, const struct api_http_ops *ops,
                     ctr_error_t *err);
void api_http_stop(void *h);
/* Route r (routes.c): every handler replies exactly once. */
void api_dispatch(struct api_req *r);
/* Whether a request on this route streams its body to a file (images/load, kernel). */
bool api_route_wants_upload(const char *method, const char *path);
/* Whether its body streams into a pipe (PUT archive, files.c). */
bool api_route_streams_upload(const char *method, const char *path);

/* ---- request checks (validate.c): the JSON types Docker's Go structs take, EINVAL
 * naming the field ---- */
/* A container config (Config and HostConfig). */
int api_config_check_types(json_t *body, ctr_error_t *err);
/* A create body's keys (top level, HostConfig, its RestartPolicy and LogConfig) as Go's
 * encoding/json reads them: matched case-insensitively and renamed to the field's name;
 * keys no field has are dropped (Docker ignores them). */
void api_config_canon(json_t *body);
/* HostConfig.LogConfig: a driver this daemon honours (json-file, local, none) and its
 * options; EINVAL with moby's messages. */
int api_log_config_check(json_t *hc, ctr_error_t *err);
/* An exec config (POST /containers/{id}/exec), and the size of its process; its keys
 * become the fields' names first (any case; unknown ones dropped), as Go decodes. */
int api_exec_config_check(json_t *body, ctr_error_t *err);
/* A network config (POST /networks/create). */
int api_network_config_check(json_t *body, ctr_error_t *err);

/* ---- a create's mounts and networks (mounts.c, netreq.c) and their Docker shapes
 * (mounts.c, netjson.c) ---- */
/* HostConfig.Binds, Mounts, Tmpfs, ShmSize as mount specs. */
int api_mounts_from_host_config(json_t *hc, struct bundle_mount_spec **out, size_t *n_out,
                                uint64_t *shm, ctr_error_t *err);
/* HostConfig.VolumesFrom: the named containers' binds and volumes, appended to *v;
 * locked: the caller holds d->lock (inspect, list). */
int api_mounts_add_volumes_from(struct dmn *d, json_t *vf, bool locked,
                                struct bundle_mount_spec **v, size_t *n, ctr_error_t *err);
/* Config.Volumes {"/path":{}}: anonymous volumes for paths no spec in *v covers. */
int api_mounts_add_config_volumes(json_t *volumes, struct bundle_mount_spec **v, size_t *n,
                                  ctr_error_t *err);
/* Parse NetworkMode, NetworkingConfig.EndpointsConfig and HostConfig.PortBindings, and
 * check Dns/DnsSearch/DnsOptions/ExtraHosts (EINVAL naming the field). */
int api_netreq_parse(json_t *body, struct dmn_netreq *out, ctr_error_t *err);
/* One EndpointsConfig entry of network net (also connect's EndpointConfig): its aliases
 * (DNS names; NULL when none); static addresses, links, MACs → EINVAL. */
int api_endpoint_parse(const char *net, json_t *ep, struct dmn_epreq *out, ctr_error_t *err);
/* Docker's `Mounts` of inspect and list, from the container's HostConfig and bundle. */
json_t *api_container_mounts_json(struct dmn *d, struct dmn_container *c);
/* NetworkSettings.Networks, NetworkSettings.Ports, the list's Ports. */
json_t *api_netconf_networks_json(struct dmn_container *c);
/* The key of an endpoint in NetworkSettings.Networks: the network's name, `bridge` for
 * the default network (docker's name for it). */
const char *api_netconf_network_name(const struct dmn_endpoint *ep);
json_t *api_netconf_ports_json(struct dmn_container *c);
json_t *api_netconf_ports_list_json(struct dmn_container *c);

/* ---- container documents (shapes.c), under d->lock ---- */
json_t *api_container_inspect_json(struct dmn *d, struct dmn_container *c);
json_t *api_container_summary_json(struct dmn *d, struct dmn_container *c);
json_t *api_container_state_json(struct dmn_container *c);

/* files.c: X-Docker-Container-Path-Stat, base64 JSON {name,size,mode,mtime,linkTarget}
 * (caller frees). */
struct shimc_path_stat;
char *api_path_stat_header(const struct shimc_path_stat *st);

/* ---- handlers (one per route, routes.c) ---- */
int api_handle_archive_head(struct api_req *r);
int api_handle_archive_get(struct api_req *r); /* GET and HEAD */
int api_handle_archive_put(struct api_req *r);
int api_handle_export(struct api_req *r);
void api_archive_put_begin(struct api_req *r);
int api_handle_create(struct api_req *r);
int api_handle_list(struct api_req *r);
int api_handle_inspect(struct api_req *r);
int api_handle_delete(struct api_req *r);
int api_handle_prune(struct api_req *r);
int api_handle_rename(struct api_req *r);
int api_handle_volumes_list(struct api_req *r);
int api_handle_volume_create(struct api_req *r);
int api_handle_volume_inspect(struct api_req *r);
int api_handle_volume_delete(struct api_req *r);
int api_handle_volumes_prune(struct api_req *r);
int api_handle_start(struct api_req *r);
int api_handle_stop(struct api_req *r);
int api_handle_kill(struct api_req *r);
int api_handle_pause(struct api_req *r);
int api_handle_unpause(struct api_req *r);
int api_handle_restart(struct api_req *r);
int api_handle_update(struct api_req *r); /* lifecycle.c: RestartPolicy only */
int api_handle_wait(struct api_req *r);
int api_handle_resize(struct api_req *r);
int api_handle_top(struct api_req *r);
int api_handle_stats(struct api_req *r); /* stats.c */
int api_handle_bootlog(struct api_req *r);
int api_handle_attach(struct api_req *r);
int api_handle_attach_ws(struct api_req *r);
int api_handle_logs(struct api_req *r);
int api_handle_exec_create(struct api_req *r);
int api_handle_exec_start(struct api_req *r);
int api_handle_exec_inspect(struct api_req *r);
int api_handle_exec_resize(struct api_req *r);
int api_handle_events(struct api_req *r);
int api_handle_networks_list(struct api_req *r);
int api_handle_network_inspect(struct api_req *r);
int api_handle_network_create(struct api_req *r);
int api_handle_network_delete(struct api_req *r);
int api_handle_networks_prune(struct api_req *r);
int api_handle_network_connect(struct api_req *r);
int api_handle_network_disconnect(struct api_req *r);
int api_handle_images_list(struct api_req *r);
int api_handle_image_inspect(struct api_req *r);
int api_handle_image_delete(struct api_req *r);
int api_handle_image_tag(struct api_req *r);
int api_handle_images_load(struct api_req *r);
int api_handle_images_get(struct api_req *r);
int api_handle_images_create(struct api_req *r);
/* commit.c: changes, commit, import (images/create with fromSrc) */
int api_handle_changes(struct api_req *r);
int api_handle_image_history(struct api_req *r); /* images.c */
int api_handle_commit(struct api_req *r);
int api_handle_images_import(struct api_req *r);
int api_handle_image_push(struct api_req *r);
int api_handle_distribution(struct api_req *r);
int api_handle_images_prune(struct api_req *r);
int api_handle_ping(struct api_req *r);
int api_handle_version(struct api_req *r);
int api_handle_info(struct api_req *r);
int api_handle_df(struct api_req *r);
int api_handle_sys_status(struct api_req *r);
int api_handle_sys_df(struct api_req *r);
int api_handle_sys_kernel(struct api_req *r);
int api_handle_sys_logs(struct api_req *r);
int api_handle_sys_stop(struct api_req *r);
int api_handle_swarm(struct api_req *r);

#endif
