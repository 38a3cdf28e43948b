/* The route table: method + path pattern → handler (docs/api.md). */
#include "daemon/api/api.h"

#include <string.h>

struct route {
    const char *method; /* "GET" also answers HEAD; "*" every method */
    const char *pattern;
    int (*handler)(struct api_req *r);
};

static const struct route routes[] = {
    {"GET", "/_ping", api_handle_ping},
    {"GET", "/version", api_handle_version},
    {"GET", "/info", api_handle_info},
    {"GET", "/events", api_handle_events},
    {"GET", "/system/df", api_handle_df},
    /* containers */
    {"POST", "/containers/create", api_handle_create},
    {"GET", "/containers/json", api_handle_list},
    {"POST", "/containers/prune", api_handle_prune},
    {"GET", "/containers/{}/json", api_handle_inspect},
    {"POST", "/containers/{}/start", api_handle_start},
    {"POST", "/containers/{}/stop", api_handle_stop},
    {"POST", "/containers/{}/kill", api_handle_kill},
    {"POST", "/containers/{}/pause", api_handle_pause},
    {"POST", "/containers/{}/unpause", api_handle_unpause},
    {"POST", "/containers/{}/restart", api_handle_restart},
    {"POST", "/containers/{}/update", api_handle_update},
    {"POST", "/containers/{}/wait", api_handle_wait},
    {"POST", "/containers/{}/attach", api_handle_attach},
    {"GET", "/containers/{}/attach/ws", api_handle_attach_ws},
    {"GET", "/containers/{}/logs", api_handle_logs},
    {"POST", "/containers/{}/resize", api_handle_resize},
    {"GET", "/containers/{}/top", api_handle_top},
    {"GET", "/containers/{}/stats", api_handle_stats},
    {"POST", "/containers/{}/rename", api_handle_rename},
    {"DELETE", "/containers/{}", api_handle_delete},
    {"GET", "/containers/{}/archive", api_handle_archive_get},
    {"PUT", "/containers/{}/archive", api_handle_archive_put},
    {"GET", "/containers/{}/export", api_handle_export},
    {"GET", "/containers/{}/changes", api_handle_changes},
    {"POST", "/commit", api_handle_commit},
    {"POST", "/containers/{}/exec", api_handle_exec_create},
    {"POST", "/exec/{}/start", api_handle_exec_start},
    {"GET", "/exec/{}/json", api_handle_exec_inspect},
    {"POST", "/exec/{}/resize", api_handle_exec_resize},
    {"GET", "/networks", api_handle_networks_list},
    {"POST", "/networks/create", api_handle_network_create},
    {"POST", "/networks/prune", api_handle_networks_prune},
    {"GET", "/networks/{}", api_handle_network_inspect},
    {"DELETE", "/networks/{}", api_handle_network_delete},
    {"POST", "/networks/{}/connect", api_handle_network_connect},
    {"POST", "/networks/{}/disconnect", api_handle_network_disconnect},
    {"GET", "/volumes", api_handle_volumes_list},
    {"POST", "/volumes/create", api_handle_volume_create},
    {"POST", "/volumes/prune", api_handle_volumes_prune},
    {"GET", "/volumes/{}", api_handle_volume_inspect},
    {"DELETE", "/volumes/{}", api_handle_volume_delete},
    /* images (names may hold slashes) */
    {"GET", "/images/json", api_handle_images_list},
    {"POST", "/images/load", api_handle_images_load},
    {"GET", "/images/get", api_handle_images_get},
    {"POST", "/images/create", api_handle_images_create},
    {"POST", "/images/prune", api_handle_images_prune},
    {"GET", "/images/{*}/json", api_handle_image_inspect},
    {"GET", "/images/{*}/get", api_handle_images_get},
    {"GET", "/images/{*}/history", api_handle_image_history},
    {"POST", "/images/{*}/tag", api_handle_image_tag},
    {"POST", "/images/{*}/push", api_handle_image_push},
    {"GET", "/distribution/{*}/json", api_handle_distribution},
    {"DELETE", "/images/{*}", api_handle_image_delete},
    /* swarm: never a manager here ("*": every method) */
    {"*", "/swarm", api_handle_swarm},
    {"*", "/swarm/{*}", api_handle_swarm},
    {"*", "/nodes", api_handle_swarm},
    {"*", "/nodes/{*}", api_handle_swarm},
    {"*", "/services", api_handle_swarm},
    {"*", "/services/{*}", api_handle_swarm},
    {"*", "/tasks", api_handle_swarm},
    {"*", "/tasks/{*}", api_handle_swarm},
    {"*", "/secrets", api_handle_swarm},
    {"*", "/secrets/{*}", api_handle_swarm},
    {"*", "/configs", api_handle_swarm},
    {"*", "/configs/{*}", api_handle_swarm},
    /* project routes */
    {"GET", "/container/system/status", api_handle_sys_status},
    {"GET", "/container/system/df", api_handle_sys_df},
    {"GET", "/container/system/kernel", api_handle_sys_kernel},
    {"POST", "/container/system/kernel", api_handle_sys_kernel},
    {"GET", "/container/system/logs", api_handle_sys_logs},
    {"POST", "/container/system/stop", api_handle_sys_stop},
    {"GET", "/container/containers/{}/bootlog", api_handle_bootlog},
};

static bool method_ok(const char *want, const char *have)
{
    return strcmp(want, have) == 0 || strcmp(want, "*") == 0 ||
           (strcmp(want, "GET") == 0 && strcmp(have, "HEAD") == 0);
}

bool api_route_wants_upload(const char *method, const char *path)
{
    return strcmp(method, "POST") == 0 &&
           (strcmp(path, "/images/load") == 0 || strcmp(path, "/images/create") == 0 ||
            strcmp(path, "/container/system/kernel") == 0);
}

void api_dispatch(struct api_req *r)
{
    bool path_known = false;

    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        if (!api_route_match(routes[i].pattern, r->path, r->params))
            continue;
        path_known = true;
        if (!method_ok(routes[i].method, r->method))
            continue;
        routes[i].handler(r);
        return;
    }
    if (path_known)
        api_reply_error(r, 405, "method %s is not allowed on `%s`", r->method, r->path);
    else
        api_reply_error(r, 404, "page not found: %s %s", r->method, r->path);
}
