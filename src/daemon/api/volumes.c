/* /volumes: Docker's list, create, inspect, delete and prune over the volume service
 * (volumes.c). Only the `local` driver. docs/volumes.md. */
#include "daemon/api/api.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static json_t *volume_json(const struct bundle_volume *v)
{
    char when[64];
    struct tm tm;
    time_t t = (time_t)v->created;
    gmtime_r(&t, &tm);
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
    json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:o, s:s, s:o}", "Name", v->name, "Driver", "local",
                          "Mountpoint", v->mountpoint, "CreatedAt", when, "Labels",
                          bundle_volume_kv_json(v->labels), "Scope", "local", "Options",
                          bundle_volume_kv_json(v->options));
    if (v->block)
        json_object_set_new(j, "Status",
                            json_pack("{s:s, s:I}", "Kind", "block", "Size", (json_int_t)v->size));
    else
        json_object_set_new(j, "Status", json_pack("{s:s}", "Kind", "directory"));
    return j;
}

static bool match_substr(const char *v, void *ctx)
{
    return strstr(ctx, v) != NULL;
}

static bool match_local(const char *v, void *ctx)
{
    (void)ctx;
    return strcmp(v, "local") == 0;
}

static bool match_bool(const char *v, void *ctx)
{
    bool want = strcmp(v, "true") == 0 || strcmp(v, "1") == 0;
    return want == *(bool *)ctx;
}

/* Docker's volume filters: name (substring), label, driver, dangling (unused: in_use is
 * known when the filter has `dangling`). */
static bool volume_matches(const struct dmn_filters *f, const struct bundle_volume *v, bool in_use)
{
    if (!dmn_filters_any(f, "name", match_substr, v->name) ||
        !dmn_filters_any(f, "driver", match_local, NULL))
        return false;
    if (dmn_filters_has(f, "label")) {
        json_t *labels = bundle_volume_kv_json(v->labels);
        bool ok = dmn_filters_labels(f, labels);
        json_decref(labels);
        if (!ok)
            return false;
    }
    if (dmn_filters_has(f, "dangling")) {
        bool unused = !in_use;
        if (!dmn_filters_any(f, "dangling", match_bool, &unused))
            return false;
    }
    return true;
}

int api_handle_volumes_list(struct api_req *r)
{
    static const char *const allowed[] = {"name", "label", "driver", "dangling", NULL};
    ctr_error_t err = NULL;
    struct dmn_filters f = {0};
    struct dmn_volume *v = NULL;
    size_t n = 0;

    if (dmn_filters_parse(api_query(r, "filters"), &f, &err) < 0 ||
        dmn_filters_check(&f, allowed, &err) < 0 ||
        dmn_volumes_list(r->d, dmn_filters_has(&f, "dangling"), &v, &n, &err) < 0) {
        dmn_filters_release(&f);
        return api_reply_ctr_error(r, &err);
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        if (volume_matches(&f, &v[i].vol, v[i].in_use))
            json_array_append_new(arr, volume_json(&v[i].vol));
    dmn_volumes_free(v, n);
    dmn_filters_release(&f);
    return api_reply_json(r, 200, json_pack("{s:o, s:n}", "Volumes", arr, "Warnings"));
}

/* Absent, null, or an object whose values are all strings. */
static bool strmap_ok(json_t *o)
{
    const char *k;
    json_t *v;
    if (o == NULL || json_is_null(o))
        return true;
    if (!json_is_object(o))
        return false;
    json_object_foreach(o, k, v) if (!json_is_string(v)) return false;
    return true;
}

/* {"k":"v",...} as "k=v" strings. */
static char **kv_strv(json_t *o)
{
    char **out = ctr_xcalloc(1, sizeof(char *));
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v)
    {
        cleanup_free char *kv = ctr_xasprintf("%s=%s", k, json_string_value(v));
        ctr_strv_append(&out, kv);
    }
    return out;
}

int api_handle_volume_create(struct api_req *r)
{
    ctr_error_t err = NULL;
    json_t *body = api_body_json(r, &err);
    const char *err_msg = NULL;
    if (body == NULL)
        return api_reply_ctr_error(r, &err);
    json_t *jname = json_object_get(body, "Name"), *jdriver = json_object_get(body, "Driver");
    cleanup_free char *name = json_is_string(jname) ? ctr_xstrdup(json_string_value(jname)) : NULL;

    /* Nothing below may point into body once it is released: copies only. */
    if (jname && !json_is_string(jname) && !json_is_null(jname))
        err_msg = "`Name` must be a string";
    else if (jdriver && !json_is_string(jdriver) && !json_is_null(jdriver))
        err_msg = "`Driver` must be a string";
    else if (!strmap_ok(json_object_get(body, "Labels")))
        err_msg = "`Labels` must be an object of strings";
    else if (!strmap_ok(json_object_get(body, "DriverOpts")))
        err_msg = "`DriverOpts` must be an object of strings";
    if (err_msg) {
        json_decref(body);
        return api_reply_error(r, 400, "%s", err_msg);
    }
    const char *driver = json_string_value(jdriver);
    if (driver && *driver && strcmp(driver, "local") != 0) {
        /* Docker's reply for a driver it has no plugin for. */
        cleanup_free char *drv = ctr_xstrdup(driver);
        json_decref(body);
        return api_reply_error(r, 404,
                               "error looking up volume plugin %s: plugin \"%s\" not found "
                               "(only the `local` driver is supported)",
                               drv, drv);
    }
    cleanup_strv char **labels = kv_strv(json_object_get(body, "Labels"));
    cleanup_strv char **opts = kv_strv(json_object_get(body, "DriverOpts"));
    json_decref(body);
    struct bundle_volume vol = {0};
    if (dmn_volume_create(r->d, name, labels, opts, &vol, &err) < 0)
        return api_reply_ctr_error(r, &err);
    json_t *j = volume_json(&vol);
    bundle_volume_release(&vol);
    return api_reply_json(r, 201, j);
}

int api_handle_volume_inspect(struct api_req *r)
{
    ctr_error_t err = NULL;
    struct bundle_volume vol = {0};
    if (dmn_volume_get(r->d, r->params[0], &vol, &err) < 0)
        return api_reply_ctr_error(r, &err);
    json_t *j = volume_json(&vol);
    bundle_volume_release(&vol);
    return api_reply_json(r, 200, j);
}

int api_handle_volume_delete(struct api_req *r)
{
    ctr_error_t err = NULL;
    if (dmn_volume_remove(r->d, r->params[0], &err) < 0)
        return api_reply_ctr_error(r, &err);
    return api_reply_empty(r, 204);
}

static bool prune_match(const struct bundle_volume *v, void *ctx)
{
    return volume_matches(ctx, v, false);
}

/* Docker's `all` prune filter (moby's withPrune): one value, a Go boolean. *all set. */
static int prune_all(const struct dmn_filters *f, bool *all, ctr_error_t *err)
{
    static const char *const yes[] = {"1", "t", "T", "TRUE", "true", "True", NULL};
    static const char *const no[] = {"0", "f", "F", "FALSE", "false", "False", NULL};
    json_t *a = f->f ? json_object_get(f->f, "all") : NULL;
    *all = false;
    if (a == NULL || json_array_size(a) == 0)
        return 0;
    if (json_array_size(a) > 1) {
        cleanup_free char *vs = NULL;
        size_t i;
        json_t *v;
        json_array_foreach(a, i, v)
        {
            char *n = ctr_xasprintf("%s%s%s", vs ? vs : "", vs ? " " : "",
                                    json_string_value(v) ? json_string_value(v) : "");
            free(vs);
            vs = n;
        }
        return dmn_fail(err, EINVAL, "invalid filter 'all=[%s]': only one value is expected", vs);
    }
    const char *v = json_string_value(json_array_get(a, 0));
    v = v ? v : "";
    for (size_t i = 0; yes[i]; i++)
        if (strcmp(v, yes[i]) == 0) {
            *all = true;
            return 0;
        }
    for (size_t i = 0; no[i]; i++)
        if (strcmp(v, no[i]) == 0)
            return 0;
    return dmn_fail(err, EINVAL,
                    "invalid filter 'all': strconv.ParseBool: parsing \"%s\": invalid syntax", v);
}

int api_handle_volumes_prune(struct api_req *r)
{
    /* Docker >= 23 (API >= 1.42) prunes only the anonymous volumes (label
     * com.docker.volume.anonymous) unless the filter all=true is given; older API
     * versions prune every unused volume (moby's postVolumesPrune adds all=true). */
    static const char *const allowed[] = {"label", "all", NULL};
    ctr_error_t err = NULL;
    cleanup_strv char **deleted = NULL;
    uint64_t reclaimed = 0;
    struct dmn_filters f = {0};
    bool all = false;

    if (dmn_filters_parse(api_query(r, "filters"), &f, &err) < 0 ||
        dmn_filters_check(&f, allowed, &err) < 0 || prune_all(&f, &all, &err) < 0) {
        dmn_filters_release(&f);
        return api_reply_ctr_error(r, &err);
    }
    if (!all && r->api_minor >= 42) {
        if (f.f == NULL)
            f.f = json_object();
        json_t *lab = json_object_get(f.f, "label");
        if (lab == NULL) {
            lab = json_array();
            json_object_set_new(f.f, "label", lab);
        }
        json_array_append_new(lab, json_string(BUNDLE_VOLUME_ANONYMOUS_LABEL));
    }
    if (dmn_volumes_prune(r->d, prune_match, &f, &deleted, &reclaimed, &err) < 0) {
        dmn_filters_release(&f);
        return api_reply_ctr_error(r, &err);
    }
    dmn_filters_release(&f);
    return api_reply_json(r, 200,
                          json_pack("{s:o, s:I}", "VolumesDeleted", dmn_strv_json(deleted),
                                    "SpaceReclaimed", (json_int_t)reclaimed));
}
