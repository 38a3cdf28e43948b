/* Mounts in container creation (HostConfig.Binds, Mounts, Tmpfs, ShmSize) and the
 * /volumes endpoints. Volumes live in DATA/volumes (src/bundle/volumes.c); which
 * containers use one is read from their bundles' shares and disks; a block volume
 * is refused to a second running container. docs/volumes.md. */
#include "daemon/api/api.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static char **volume_users(struct dmn *d, const char *mountpoint);

static void add_spec(struct bundle_mount_spec **v, size_t *n, struct bundle_mount_spec *m)
{
    *v = ctr_xrealloc(*v, (*n + 1) * sizeof(**v));
    (*v)[(*n)++] = *m;
}

static int mount_object(json_t *m, size_t i, struct bundle_mount_spec *out, ctr_error_t *err)
{
    const char *type = json_string_value(json_object_get(m, "Type"));
    const char *src = json_string_value(json_object_get(m, "Source"));
    const char *dst = json_string_value(json_object_get(m, "Target"));
    bool ro = json_is_true(json_object_get(m, "ReadOnly"));
    json_t *topt = json_object_get(m, "TmpfsOptions");
    cleanup_free char *spec = NULL;

    if (!json_is_object(m) || type == NULL)
        return dmn_fail(err, EINVAL, "`HostConfig.Mounts[%zu]` needs `Type`", i);
    if (strcmp(type, "tmpfs") == 0) {
        json_int_t size = json_integer_value(json_object_get(topt, "SizeBytes"));
        json_int_t mode = json_integer_value(json_object_get(topt, "Mode"));
        cleanup_free char *o =
            size > 0 ? ctr_xasprintf("size=%" JSON_INTEGER_FORMAT, size) : ctr_xstrdup("");
        if (mode > 0) {
            char *o2 = ctr_xasprintf("%s%smode=%o", o, *o ? "," : "", (unsigned)mode);
            free(o);
            o = o2;
        }
        if (bundle_mount_parse_tmpfs(dst, o, out, err) < 0)
            return ctr_error_wrap(err, "`HostConfig.Mounts[%zu]`", i);
        out->readonly = ro;
        return 0;
    }
    if (strcmp(type, "bind") && strcmp(type, "volume"))
        return dmn_fail(err, EINVAL,
                        "`HostConfig.Mounts[%zu].Type` `%s` is not supported: use `bind`, "
                        "`volume` or `tmpfs`",
                        i, type);
    if ((src == NULL || *src == '\0') && strcmp(type, "bind") == 0)
        return dmn_fail(err, EINVAL, "`HostConfig.Mounts[%zu]`: a bind mount needs `Source`", i);
    if ((src && strchr(src, ',')) || (dst && strchr(dst, ',')))
        return dmn_fail(err, EINVAL, "`HostConfig.Mounts[%zu]`: paths with `,` are not supported",
                        i);
    /* a volume without Source: an anonymous one */
    bool nocopy = json_is_true(json_object_get(json_object_get(m, "VolumeOptions"), "NoCopy"));
    spec = ctr_xasprintf("type=%s%s%s,target=%s%s%s", type, src && *src ? ",source=" : "",
                         src && *src ? src : "", dst ? dst : "", ro ? ",readonly" : "",
                         nocopy ? ",volume-nocopy" : "");
    if (bundle_mount_parse_flag(spec, out, err) < 0) {
        (*err)->errnum = EINVAL;
        return ctr_error_wrap(err, "`HostConfig.Mounts[%zu]`", i);
    }
    return 0;
}

int dmn_mounts_from_host_config(json_t *hc, struct bundle_mount_spec **out, size_t *n_out,
                                uint64_t *shm, ctr_error_t *err)
{
    struct bundle_mount_spec *v = NULL;
    size_t n = 0, i;
    json_t *e;
    const char *k;

    *shm = 0;
    json_array_foreach(json_object_get(hc, "Binds"), i, e)
    {
        struct bundle_mount_spec m;
        if (!json_is_string(e)) {
            bundle_mount_specs_free(v, n);
            return dmn_fail(err, EINVAL, "`HostConfig.Binds[%zu]` must be a string", i);
        }
        if (bundle_mount_parse_bind(json_string_value(e), &m, err) < 0) {
            bundle_mount_specs_free(v, n);
            (*err)->errnum = EINVAL;
            return -1;
        }
        add_spec(&v, &n, &m);
    }
    json_array_foreach(json_object_get(hc, "Mounts"), i, e)
    {
        struct bundle_mount_spec m;
        if (mount_object(e, i, &m, err) < 0) {
            bundle_mount_specs_free(v, n);
            return -1;
        }
        add_spec(&v, &n, &m);
    }
    json_object_foreach(json_object_get(hc, "Tmpfs"), k, e)
    {
        struct bundle_mount_spec m;
        if (bundle_mount_parse_tmpfs(k, json_string_value(e), &m, err) < 0) {
            bundle_mount_specs_free(v, n);
            (*err)->errnum = EINVAL;
            return -1;
        }
        add_spec(&v, &n, &m);
    }
    json_int_t shm_size = json_integer_value(json_object_get(hc, "ShmSize"));
    if (shm_size < 0) {
        bundle_mount_specs_free(v, n);
        return dmn_fail(err, EINVAL, "`HostConfig.ShmSize` must not be negative");
    }
    *shm = (uint64_t)shm_size;
    *out = v;
    *n_out = n;
    return 0;
}

int dmn_mounts_add_config_volumes(json_t *volumes, struct bundle_mount_spec **v, size_t *n,
                                  ctr_error_t *err)
{
    const char *k;
    json_t *e;

    if (volumes && !json_is_null(volumes) && !json_is_object(volumes))
        return dmn_fail(err, EINVAL, "`Volumes` must be an object of container paths");
    json_object_foreach(volumes, k, e)
    {
        bool covered = false;
        for (size_t i = 0; i < *n && !covered; i++)
            covered = strcmp((*v)[i].target, k) == 0;
        if (covered)
            continue; /* a bind or named volume on that path wins, as docker */
        struct bundle_mount_spec m = {0};
        if (k[0] != '/' || bundle_mount_parse_bind(k, &m, err) < 0) {
            if (k[0] != '/')
                dmn_fail(err, EINVAL, "`Volumes`: `%s` must be an absolute container path", k);
            (*err)->errnum = EINVAL;
            return -1;
        }
        add_spec(v, n, &m);
    }
    return 0;
}

/* DATA/volumes/NAME/_data → NAME when that volume is anonymous (caller frees). */
static char *anonymous_volume_name(struct dmn *d, const char *dir)
{
    cleanup_free char *prefix = ctr_xasprintf("%s/volumes/", d->cfg.root);
    size_t pl = strlen(prefix), dl = strlen(dir);
    struct bundle_volume v = {0};
    cleanup_error ctr_error_t e = NULL;

    if (strncmp(dir, prefix, pl) != 0 || dl < pl + 7 || strcmp(dir + dl - 6, "/_data") != 0)
        return NULL;
    cleanup_free char *name = ctr_xstrndup(dir + pl, dl - pl - 6);
    if (strchr(name, '/') || bundle_volume_load(d->cfg.root, name, &v, &e) < 0)
        return NULL;
    bool anon = false;
    size_t ll = strlen(BUNDLE_VOLUME_ANONYMOUS_LABEL);
    for (size_t i = 0; v.labels && v.labels[i]; i++)
        anon = anon || (strncmp(v.labels[i], BUNDLE_VOLUME_ANONYMOUS_LABEL, ll) == 0 &&
                        (v.labels[i][ll] == '=' || v.labels[i][ll] == '\0'));
    bundle_volume_release(&v);
    return anon ? ctr_steal_ptr(name) : NULL;
}

int dmn_anonymous_volumes(struct dmn *d, const char *bundle, char ***names, char ***targets,
                          bool **readonly, ctr_error_t *err)
{
    struct bundle_config cfg = {0};
    char **nv = ctr_xcalloc(1, sizeof(char *)), **tv = ctr_xcalloc(1, sizeof(char *));
    bool *ro = NULL;
    size_t n = 0;

    if (bundle_config_load(bundle, &cfg, err) < 0) {
        ctr_strv_free(nv);
        ctr_strv_free(tv);
        return -1;
    }
    for (size_t i = 0; i < cfg.setup.n_mounts; i++) {
        const struct agent_mount *m = &cfg.setup.mounts[i];
        if (m->fstype == NULL || strcmp(m->fstype, "9p") != 0)
            continue;
        for (size_t s = 0; s < cfg.n_shares; s++) {
            if (strcmp(cfg.shares[s].tag, m->source) != 0)
                continue;
            cleanup_free char *name = anonymous_volume_name(d, cfg.shares[s].path);
            if (name == NULL)
                break;
            ctr_strv_append(&nv, name);
            ctr_strv_append(&tv, m->target);
            ro = ctr_xrealloc(ro, (n + 1) * sizeof(*ro));
            ro[n++] =
                m->options && (strstr(m->options, ",ro,") || strncmp(m->options, "ro,", 3) == 0 ||
                               (strlen(m->options) >= 3 &&
                                strcmp(m->options + strlen(m->options) - 3, ",ro") == 0));
            break;
        }
    }
    bundle_config_release(&cfg);
    *names = nv;
    if (targets)
        *targets = tv;
    else
        ctr_strv_free(tv);
    if (readonly)
        *readonly = ro;
    else
        free(ro);
    return 0;
}

json_t *dmn_container_mounts_json(struct dmn *d, struct dmn_container *c)
{
    struct bundle_mount_spec *m = NULL;
    size_t n = 0;
    uint64_t shm;
    cleanup_error ctr_error_t err = NULL;
    json_t *arr = json_array();

    if (c->host_config == NULL ||
        dmn_mounts_from_host_config(c->host_config, &m, &n, &shm, &err) < 0)
        return arr;
    for (size_t i = 0; i < n; i++) {
        if (m[i].type == BUNDLE_MOUNT_VOLUME && m[i].source == NULL)
            continue; /* anonymous: below, named from the bundle */
        static const char *const types[] = {"bind", "volume", "tmpfs"};
        json_t *j = json_pack("{s:s, s:s, s:s, s:b, s:s}", "Type", types[m[i].type], "Destination",
                              m[i].target, "Mode", m[i].readonly ? "ro" : "", "RW", !m[i].readonly,
                              "Propagation", m[i].type == BUNDLE_MOUNT_BIND ? "rprivate" : "");
        if (m[i].type == BUNDLE_MOUNT_BIND) {
            json_object_set_new(j, "Source", json_string(m[i].source));
        } else if (m[i].type == BUNDLE_MOUNT_VOLUME) {
            cleanup_free char *src =
                ctr_xasprintf("%s/volumes/%s/volume.ext4", d->cfg.root, m[i].source);
            if (access(src, F_OK) < 0) { /* not a block volume */
                free(src);
                src = ctr_xasprintf("%s/volumes/%s/_data", d->cfg.root, m[i].source);
            }
            json_object_set_new(j, "Name", json_string(m[i].source));
            json_object_set_new(j, "Source", json_string(src));
            json_object_set_new(j, "Driver", json_string("local"));
        } else {
            json_object_set_new(j, "Source", json_string(""));
        }
        json_array_append_new(arr, j);
    }
    bundle_mount_specs_free(m, n);
    cleanup_strv char **names = NULL, **targets = NULL;
    cleanup_free bool *ro = NULL;
    if (c->bundle && dmn_anonymous_volumes(d, c->bundle, &names, &targets, &ro, &err) == 0) {
        for (size_t i = 0; names[i]; i++) {
            cleanup_free char *src = ctr_xasprintf("%s/volumes/%s/_data", d->cfg.root, names[i]);
            json_array_append_new(arr,
                                  json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:b, s:s}", "Type",
                                            "volume", "Name", names[i], "Source", src,
                                            "Destination", targets[i], "Driver", "local", "Mode",
                                            ro[i] ? "ro" : "", "RW", !ro[i], "Propagation", ""));
        }
    }
    return arr;
}

void dmn_anonymous_volumes_remove(struct dmn *d, char *const *names)
{
    for (size_t i = 0; names && names[i]; i++) {
        cleanup_error ctr_error_t e = NULL;
        cleanup_free char *dir = ctr_xasprintf("%s/volumes/%s/_data", d->cfg.root, names[i]);
        char **users = volume_users(d, dir);
        bool used = users[0] != NULL;
        ctr_strv_free(users);
        if (used) /* docker leaves a volume another container uses */
            continue;
        if (bundle_volume_remove(d->cfg.root, names[i], &e) < 0)
            log_warn("remove anonymous volume `%s`: %s", names[i], e->msg);
        else {
            pthread_mutex_lock(&d->lock);
            dmn_event_emit_locked(d, "volume", "destroy", names[i], NULL);
            pthread_mutex_unlock(&d->lock);
        }
    }
}

/* Names of the containers whose bundle shares the volume's directory (caller frees). */
static char **volume_users(struct dmn *d, const char *mountpoint)
{
    char **users = ctr_xcalloc(1, sizeof(char *));
    char **bundles = ctr_xcalloc(1, sizeof(char *)), **names = ctr_xcalloc(1, sizeof(char *));

    pthread_mutex_lock(&d->lock);
    for (size_t i = 0; i < d->n_ctrs; i++) {
        if (d->ctrs[i]->removed || d->ctrs[i]->bundle == NULL)
            continue;
        ctr_strv_append(&bundles, d->ctrs[i]->bundle);
        ctr_strv_append(&names, d->ctrs[i]->name ? d->ctrs[i]->name : d->ctrs[i]->id);
    }
    pthread_mutex_unlock(&d->lock);
    for (size_t i = 0; bundles[i]; i++) {
        struct bundle_config cfg = {0};
        cleanup_error ctr_error_t e = NULL;
        if (bundle_config_load(bundles[i], &cfg, &e) < 0)
            continue;
        bool uses = false;
        for (size_t s = 0; s < cfg.n_shares && !uses; s++)
            uses = strcmp(cfg.shares[s].path, mountpoint) == 0;
        for (size_t s = 0; s < cfg.n_disks && !uses; s++)
            uses = strcmp(cfg.disks[s].path, mountpoint) == 0;
        if (uses)
            ctr_strv_append(&users, names[i]);
        bundle_config_release(&cfg);
    }
    ctr_strv_free(bundles);
    ctr_strv_free(names);
    return users;
}

/* A block volume's ext4 cannot be mounted by two VMs at once (not even read-only
 * beside a writer: the reader's cache goes stale and the journal is replayed twice),
 * so c may not start while a running container attaches one of c's block volumes,
 * unless both attach it read-only. Called with d->lock held. */
int dmn_block_volumes_check_locked(struct dmn *d, struct dmn_container *c, ctr_error_t *err)
{
    struct bundle_config mine = {0};
    size_t prefix = strlen(BUNDLE_VOLUME_SERIAL_PREFIX);
    int r = 0;

    if (bundle_config_load(c->bundle, &mine, err) < 0)
        return -1;
    for (size_t i = 0; i < d->n_ctrs && r == 0; i++) {
        struct dmn_container *o = d->ctrs[i];
        if (o == c || o->removed || o->bundle == NULL ||
            (o->status != DMN_RUNNING && o->status != DMN_STARTING))
            continue;
        struct bundle_config cfg = {0};
        cleanup_error ctr_error_t e = NULL;
        if (bundle_config_load(o->bundle, &cfg, &e) < 0)
            continue;
        for (size_t a = 0; a < mine.n_disks && r == 0; a++) {
            if (strncmp(mine.disks[a].serial, BUNDLE_VOLUME_SERIAL_PREFIX, prefix) != 0)
                continue;
            for (size_t b = 0; b < cfg.n_disks && r == 0; b++) {
                if (strcmp(mine.disks[a].path, cfg.disks[b].path) != 0 ||
                    (mine.disks[a].readonly && cfg.disks[b].readonly))
                    continue;
                /* DATA/volumes/NAME/volume.ext4 */
                const char *end = strrchr(mine.disks[a].path, '/'), *start = end;
                while (start > mine.disks[a].path && start[-1] != '/')
                    start--;
                r = dmn_fail(err, EBUSY,
                             "block volume `%.*s` is attached by running container `%s`: an "
                             "ext4 volume can be used by one running container at a time "
                             "(several only if all mount it read-only); stop `%s` first or use "
                             "a directory volume",
                             (int)(end - start), start, o->name ? o->name : o->id,
                             o->name ? o->name : o->id);
            }
        }
        bundle_config_release(&cfg);
    }
    bundle_config_release(&mine);
    return r;
}

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

/* Docker's volume filters: name (substring), label, driver, dangling (unused). */
static bool volume_matches(struct dmn *d, const struct dmn_filters *f,
                           const struct bundle_volume *v)
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
        char **users = volume_users(d, v->mountpoint);
        bool unused = users[0] == NULL;
        ctr_strv_free(users);
        if (!dmn_filters_any(f, "dangling", match_bool, &unused))
            return false;
    }
    return true;
}

int api_handle_volumes_list(struct api_req *r)
{
    static const char *const allowed[] = {"name", "label", "driver", "dangling", NULL};
    ctr_error_t err = NULL;
    cleanup_strv char **names = NULL;
    struct dmn_filters f = {0};
    if (dmn_filters_parse(api_query(r, "filters"), &f, &err) < 0 ||
        dmn_filters_check(&f, allowed, &err) < 0 ||
        bundle_volume_list(r->d->cfg.root, &names, &err) < 0) {
        dmn_filters_release(&f);
        return api_reply_ctr_error(r, &err);
    }
    json_t *arr = json_array();
    for (size_t i = 0; names[i]; i++) {
        struct bundle_volume v = {0};
        cleanup_error ctr_error_t e = NULL;
        if (bundle_volume_load(r->d->cfg.root, names[i], &v, &e) < 0)
            continue; /* removed meanwhile */
        if (volume_matches(r->d, &f, &v))
            json_array_append_new(arr, volume_json(&v));
        bundle_volume_release(&v);
    }
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

int api_handle_volume_create(struct api_req *r)
{
    ctr_error_t err = NULL;
    json_t *body = api_body_json(r, &err);
    const char *err_msg = NULL;
    if (body == NULL)
        return api_reply_ctr_error(r, &err);
    json_t *jname = json_object_get(body, "Name"), *jdriver = json_object_get(body, "Driver");
    cleanup_free char *name = json_is_string(jname) ? ctr_xstrdup(json_string_value(jname)) : NULL;
    cleanup_strv char **labels = ctr_xcalloc(1, sizeof(char *));
    cleanup_strv char **opts = ctr_xcalloc(1, sizeof(char *));
    const char *k;
    json_t *v;
    int ret;

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
    if (name == NULL || *name == '\0') {
        json_decref(body);
        return api_reply_error(r, 400,
                               "`Name` is required: anonymous volumes are not supported "
                               "yet");
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
    json_object_foreach(json_object_get(body, "Labels"), k, v)
    {
        cleanup_free char *kv = ctr_xasprintf("%s=%s", k, json_string_value(v));
        ctr_strv_append(&labels, kv);
    }
    json_object_foreach(json_object_get(body, "DriverOpts"), k, v)
    {
        cleanup_free char *kv = ctr_xasprintf("%s=%s", k, json_string_value(v));
        ctr_strv_append(&opts, kv);
    }
    /* docker: creating an existing volume returns it */
    bool existed = false;
    ret = bundle_volume_create(r->d->cfg.root, name, labels, opts, &existed, &err);
    json_decref(body);
    if (ret < 0) {
        if (err->errnum == ENOTSUP || err->errnum == 0)
            err->errnum = EINVAL;
        return api_reply_ctr_error(r, &err);
    }
    struct bundle_volume vol = {0};
    if (bundle_volume_load(r->d->cfg.root, name, &vol, &err) < 0)
        return api_reply_ctr_error(r, &err);
    json_t *j = volume_json(&vol);
    bundle_volume_release(&vol);
    return api_reply_json(r, 201, j);
}

int api_handle_volume_inspect(struct api_req *r)
{
    ctr_error_t err = NULL;
    struct bundle_volume vol = {0};
    /* A name no volume can have is one that does not exist (Docker's 404). */
    if (bundle_volume_check_name(r->params[0], NULL) < 0)
        return api_reply_error(r, 404, "get %s: no such volume", r->params[0]);
    if (bundle_volume_load(r->d->cfg.root, r->params[0], &vol, &err) < 0) {
        if (err->errnum == EINVAL)
            err->errnum = ENOENT;
        return api_reply_ctr_error(r, &err);
    }
    json_t *j = volume_json(&vol);
    bundle_volume_release(&vol);
    return api_reply_json(r, 200, j);
}

int api_handle_volume_delete(struct api_req *r)
{
    ctr_error_t err = NULL;
    struct bundle_volume vol = {0};
    if (bundle_volume_load(r->d->cfg.root, r->params[0], &vol, &err) < 0) {
        err->errnum = ENOENT;
        return api_reply_ctr_error(r, &err);
    }
    cleanup_strv char **users = volume_users(r->d, vol.mountpoint);
    bundle_volume_release(&vol);
    if (users[0]) {
        cleanup_free char *list = ctr_xstrdup("");
        for (size_t i = 0; users[i]; i++) {
            char *l = ctr_xasprintf("%s%s`%s`", list, i ? ", " : "", users[i]);
            free(list);
            list = l;
        }
        return api_reply_error(r, 409,
                               "volume `%s` is in use by container %s: remove the container%s "
                               "first",
                               r->params[0], list, users[1] ? "s" : "");
    }
    if (bundle_volume_remove(r->d->cfg.root, r->params[0], &err) < 0)
        return api_reply_ctr_error(r, &err);
    return api_reply_empty(r, 204);
}

int api_handle_volumes_prune(struct api_req *r)
{
    /* `all`: docker >= 23 prunes only anonymous volumes without it; we have none, so
     * every unused volume goes either way (docs/volumes.md) */
    static const char *const allowed[] = {"label", "all", NULL};
    ctr_error_t err = NULL;
    cleanup_strv char **names = NULL;
    json_t *deleted = json_array();
    uint64_t reclaimed = 0;
    struct dmn_filters f = {0};

    if (dmn_filters_parse(api_query(r, "filters"), &f, &err) < 0 ||
        dmn_filters_check(&f, allowed, &err) < 0 ||
        bundle_volume_list(r->d->cfg.root, &names, &err) < 0) {
        dmn_filters_release(&f);
        json_decref(deleted);
        return api_reply_ctr_error(r, &err);
    }
    for (size_t i = 0; names[i]; i++) {
        struct bundle_volume vol = {0};
        cleanup_error ctr_error_t e = NULL;
        if (bundle_volume_load(r->d->cfg.root, names[i], &vol, &e) < 0)
            continue;
        cleanup_strv char **users = volume_users(r->d, vol.mountpoint);
        uint64_t size = dmn_disk_usage(vol.mountpoint);
        bool match = volume_matches(r->d, &f, &vol);
        bundle_volume_release(&vol);
        if (users[0] || !match)
            continue;
        if (bundle_volume_remove(r->d->cfg.root, names[i], &e) < 0) {
            log_warn("prune volume `%s`: %s", names[i], e->msg);
            continue;
        }
        json_array_append_new(deleted, json_string(names[i]));
        reclaimed += size;
    }
    dmn_filters_release(&f);
    return api_reply_json(r, 200,
                          json_pack("{s:o, s:I}", "VolumesDeleted", deleted, "SpaceReclaimed",
                                    (json_int_t)reclaimed));
}
