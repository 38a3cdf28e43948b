/* /containers: list, inspect, delete, prune, rename. The query (filters, flags) is
 * parsed here; the container service (containers.c, remove.c) does the work and the
 * Docker shapes (api/shapes.c) make the reply. */
#include "daemon/api/api.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int api_handle_delete(struct api_req *r)
{
    ctr_error_t err = NULL;
    struct dmn_container *c = dmn_container_get(r->d, r->params[0], &err);
    if (c == NULL)
        return api_reply_ctr_error(r, &err);
    int ret =
        dmn_container_remove(r->d, c, api_query_bool(r, "force"), api_query_bool(r, "v"), &err);
    dmn_container_put(r->d, c);
    return ret < 0 ? api_reply_ctr_error(r, &err) : api_reply_empty(r, 204);
}

static bool match_id(const char *v, void *ctx)
{
    return strncmp(((struct dmn_container *)ctx)->id, v, strlen(v)) == 0;
}
static bool match_name(const char *v, void *ctx)
{
    /* docker: a regexp on the name; a substring covers the common uses */
    struct dmn_container *c = ctx;
    return strstr(c->name, v[0] == '/' ? v + 1 : v) != NULL;
}
static bool match_status(const char *v, void *ctx)
{
    return strcmp(dmn_container_state_name(ctx), v) == 0;
}
static bool match_exited(const char *v, void *ctx)
{
    struct dmn_container *c = ctx;
    return c->status == DMN_EXITED && atoi(v) == c->exit_code;
}
static bool match_ancestor(const char *v, void *ctx)
{
    struct dmn_container *c = ctx;
    return strcmp(c->image, v) == 0 ||
           (c->image_id &&
            (strcmp(c->image_id, v) == 0 || strncmp(c->image_id + 7, v, strlen(v)) == 0));
}

static bool match_health(const char *v, void *ctx)
{
    return strcmp(dmn_health_status_name(((struct dmn_container *)ctx)->health.status), v) == 0;
}

struct list_ctx {
    struct dmn_filters f;
    json_t *out;
};

static bool list_match(struct dmn_container *c, void *ctx)
{
    const struct dmn_filters *f = &((struct list_ctx *)ctx)->f;
    return dmn_filters_any(f, "id", match_id, c) && dmn_filters_any(f, "name", match_name, c) &&
           dmn_filters_any(f, "status", match_status, c) &&
           dmn_filters_any(f, "exited", match_exited, c) &&
           dmn_filters_any(f, "ancestor", match_ancestor, c) &&
           dmn_filters_any(f, "health", match_health, c) &&
           dmn_filters_labels(f, json_object_get(c->config, "Labels"));
}

static void list_emit(struct dmn *d, struct dmn_container *c, void *ctx)
{
    json_array_append_new(((struct list_ctx *)ctx)->out, api_container_summary_json(d, c));
}

/* The first value of a filter key (before, since), NULL when absent. */
static const char *filter_first(const struct dmn_filters *f, const char *key)
{
    json_t *a = json_object_get(f->f, key);
    return a && json_array_size(a) ? json_string_value(json_array_get(a, 0)) : NULL;
}

int api_handle_list(struct api_req *r)
{
    static const char *const allowed[] = {"id",       "name",   "status", "label",  "exited",
                                          "ancestor", "before", "since",  "health", NULL};
    struct list_ctx lc = {0};
    ctr_error_t err = NULL;

    if (dmn_filters_parse(api_query(r, "filters"), &lc.f, &err) < 0 ||
        dmn_filters_check(&lc.f, allowed, &err) < 0) {
        dmn_filters_release(&lc.f);
        return api_reply_ctr_error(r, &err);
    }
    json_t *hv = json_object_get(lc.f.f, "health");
    for (size_t i = 0; i < json_array_size(hv); i++) {
        const char *v = json_string_value(json_array_get(hv, i));
        static const char *const ok[] = {"starting", "healthy", "unhealthy", "none", NULL};
        size_t j = 0;
        while (ok[j] && strcmp(ok[j], v ? v : "") != 0)
            j++;
        if (ok[j] == NULL) {
            dmn_fail(&err, EINVAL, "Unrecognised filter value for health: %s", v ? v : "");
            dmn_filters_release(&lc.f);
            return api_reply_ctr_error(r, &err);
        }
    }
    struct dmn_list_query q = {
        /* a status filter may ask for stopped ones */
        .all = api_query_bool(r, "all") || dmn_filters_has(&lc.f, "status") ||
               dmn_filters_has(&lc.f, "exited"),
        .limit = api_query(r, "limit") ? atol(api_query(r, "limit")) : -1,
        .before = filter_first(&lc.f, "before"),
        .since = filter_first(&lc.f, "since"),
        .match = list_match,
        .emit = list_emit,
        .ctx = &lc,
    };
    lc.out = json_array();
    dmn_containers_list(r->d, &q);
    dmn_filters_release(&lc.f);
    return api_reply_json(r, 200, lc.out);
}

int api_handle_inspect(struct api_req *r)
{
    ctr_error_t err = NULL;
    struct dmn_container *c = dmn_container_get(r->d, r->params[0], &err);
    if (c == NULL)
        return api_reply_ctr_error(r, &err);
    dmn_lock(r->d);
    json_t *j = api_container_inspect_json(r->d, c);
    dmn_unlock(r->d);
    dmn_container_put(r->d, c);
    return api_reply_json(r, 200, j);
}

static bool prune_match(struct dmn_container *c, void *ctx)
{
    return dmn_filters_labels(ctx, json_object_get(c->config, "Labels"));
}

int api_handle_prune(struct api_req *r)
{
    static const char *const allowed[] = {"label", "until", NULL};
    struct dmn_filters f = {0};
    ctr_error_t err = NULL;
    struct dmn_prune_req rq = {.until = INT64_MAX, .match = prune_match, .ctx = &f};
    cleanup_strv char **deleted = NULL;
    uint64_t reclaimed = 0;

    if (dmn_filters_parse(api_query(r, "filters"), &f, &err) < 0 ||
        dmn_filters_check(&f, allowed, &err) < 0) {
        dmn_filters_release(&f);
        return api_reply_ctr_error(r, &err);
    }
    const char *until = filter_first(&f, "until");
    if (until && dmn_time_parse(until, &rq.until) < 0) {
        dmn_filters_release(&f);
        dmn_fail(&err, EINVAL, "invalid filter `until`: expected a timestamp");
        return api_reply_ctr_error(r, &err);
    }
    dmn_containers_prune(r->d, &rq, &deleted, &reclaimed);
    dmn_filters_release(&f);
    return api_reply_json(r, 200,
                          json_pack("{s:o,s:I}", "ContainersDeleted", dmn_strv_json(deleted),
                                    "SpaceReclaimed", (json_int_t)reclaimed));
}

int api_handle_rename(struct api_req *r)
{
    ctr_error_t err = NULL;
    const char *name = api_query(r, "name");

    if (name == NULL || *name == '\0')
        dmn_fail(&err, EINVAL, "the new name is missing: `name` query parameter");
    else if (dmn_container_rename(r->d, r->params[0], name, &err) == 0)
        return api_reply_empty(r, 204);
    return api_reply_ctr_error(r, &err);
}
