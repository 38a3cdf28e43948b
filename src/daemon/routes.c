/* The route table: method + path pattern → handler (docs/api.md). */
#include "daemon/daemon-internal.h"

#include <string.h>

struct route {
    const char *method; /* "GET" also answers HEAD */
    const char *pattern;
    int (*handler)(struct dmn_req *r);
};

static const struct route routes[] = {
    {"GET", "/_ping", dmn_handle_ping},
    {"GET", "/version", dmn_handle_version},
    {"GET", "/info", dmn_handle_info},
    {"GET", "/events", dmn_handle_events},
    {"GET", "/system/df", dmn_handle_df},
    /* containers */
    {"POST", "/containers/create", dmn_handle_create},
    {"GET", "/containers/json", dmn_handle_list},
    {"POST", "/containers/prune", dmn_handle_prune},
    {"GET", "/containers/{}/json", dmn_handle_inspect},
    {"POST", "/containers/{}/start", dmn_handle_start},
    {"POST", "/containers/{}/stop", dmn_handle_stop},
    {"POST", "/containers/{}/kill", dmn_handle_kill},
    {"POST", "/containers/{}/restart", dmn_handle_restart},
    {"POST", "/containers/{}/wait", dmn_handle_wait},
    {"POST", "/containers/{}/attach", dmn_handle_attach},
    {"GET", "/containers/{}/logs", dmn_handle_logs},
    {"POST", "/containers/{}/resize", dmn_handle_resize},
    {"GET", "/containers/{}/top", dmn_handle_top},
    {"GET", "/containers/{}/stats", dmn_handle_stats},
    {"POST", "/containers/{}/rename", dmn_handle_rename},
    {"DELETE", "/containers/{}", dmn_handle_delete},
    {"GET", "/containers/{}/archive", dmn_handle_archive_get},
    {"PUT", "/containers/{}/archive", dmn_handle_archive_put},
    {"GET", "/containers/{}/export", dmn_handle_export},
    {"POST", "/containers/{}/exec", dmn_handle_exec_create},
    {"POST", "/exec/{}/start", dmn_handle_exec_start},
    {"GET", "/exec/{}/json", dmn_handle_exec_inspect},
    {"POST", "/exec/{}/resize", dmn_handle_exec_resize},
    {"GET", "/networks", dmn_handle_networks_list},
    {"POST", "/networks/create", dmn_handle_network_create},
    {"POST", "/networks/prune", dmn_handle_networks_prune},
    {"GET", "/networks/{}", dmn_handle_network_inspect},
    {"DELETE", "/networks/{}", dmn_handle_network_delete},
    {"POST", "/networks/{}/connect", dmn_handle_network_connect},
    {"POST", "/networks/{}/disconnect", dmn_handle_network_disconnect},
    {"GET", "/volumes", dmn_handle_volumes_list},
    {"POST", "/volumes/create", dmn_handle_volume_create},
    {"POST", "/volumes/prune", dmn_handle_volumes_prune},
    {"GET", "/volumes/{}", dmn_handle_volume_inspect},
    {"DELETE", "/volumes/{}", dmn_handle_volume_delete},
    /* images (names may hold slashes) */
    {"GET", "/images/json", dmn_handle_images_list},
    {"POST", "/images/load", dmn_handle_images_load},
    {"GET", "/images/get", dmn_handle_images_get},
    {"POST", "/images/create", dmn_handle_images_create},
    {"POST", "/images/prune", dmn_handle_images_prune},
    {"GET", "/images/{*}/json", dmn_handle_image_inspect},
    {"GET", "/images/{*}/get", dmn_handle_images_get},
    {"POST", "/images/{*}/tag", dmn_handle_image_tag},
    {"POST", "/images/{*}/push", dmn_handle_image_push},
    {"DELETE", "/images/{*}", dmn_handle_image_delete},
    /* project routes */
    {"GET", "/container/system/status", dmn_handle_sys_status},
    {"GET", "/container/system/df", dmn_handle_sys_df},
    {"GET", "/container/system/kernel", dmn_handle_sys_kernel},
    {"POST", "/container/system/kernel", dmn_handle_sys_kernel},
    {"GET", "/container/system/logs", dmn_handle_sys_logs},
    {"POST", "/container/system/stop", dmn_handle_sys_stop},
    {"GET", "/container/containers/{}/bootlog", dmn_handle_bootlog},
};

static bool method_ok(const char *want, const char *have)
{
    return strcmp(want, have) == 0 || (strcmp(want, "GET") == 0 && strcmp(have, "HEAD") == 0);
}

bool dmn_route_wants_upload(const char *method, const char *path)
{
    return strcmp(method, "POST") == 0 &&
           (strcmp(path, "/images/load") == 0 || strcmp(path, "/container/system/kernel") == 0);
}

void dmn_dispatch(struct dmn_req *r)
{
    bool path_known = false;

    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        if (!dmn_route_match(routes[i].pattern, r->path, r->params))
            continue;
        path_known = true;
        if (!method_ok(routes[i].method, r->method))
            continue;
        routes[i].handler(r);
        return;
    }
    if (path_known)
        dmn_reply_error(r, 405, "method %s is not allowed on `%s`", r->method, r->path);
    else
        dmn_reply_error(r, 404, "page not found: %s %s", r->method, r->path);
}
