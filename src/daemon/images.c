/* Image routes over the local store (src/image/store.h): list, inspect,
 * remove, tag, load, save and prune (pull and push: pull.c). */
#include "daemon/api/api.h"
#include "image/store.h"
#include "registry/registry.h"

#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *familiar(const char *name)
{
    struct oci_ref ref = {0};
    if (oci_ref_parse(name, &ref, NULL) < 0)
        return ctr_xstrdup(name);
    char *f = oci_ref_familiar(&ref);
    oci_ref_release(&ref);
    return f;
}

static int64_t created_of(const struct imgstore_image *img)
{
    int64_t ns = 0;
    if (img->config.created && dmn_time_parse(img->config.created, &ns) == 0)
        return ns;
    return 0;
}

static json_t *labels_of(const struct oci_container_config *c)
{
    json_t *o = json_object();
    for (size_t i = 0; i < c->n_labels; i++)
        json_object_set_new(o, c->labels[i].key, json_string(c->labels[i].value));
    return o;
}

/* Names pointing at digest: RepoTags (familiar) and RepoDigests. */
static void names_of(struct imgstore_entry *e, size_t n, const char *digest, json_t *tags,
                     json_t *digests)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(e[i].digest, digest) != 0)
            continue;
        if (strchr(e[i].name, '@')) {
            json_array_append_new(digests, json_string(e[i].name));
            continue;
        }
        char *f = familiar(e[i].name);
        json_array_append_new(tags, json_string(f));
        free(f);
    }
}

static size_t containers_using(struct dmn *d, const char *digest, char *first_id)
{
    size_t n = 0;
    pthread_mutex_lock(&d->lock);
    for (size_t i = 0; i < d->n_ctrs; i++) {
        if (d->ctrs[i]->image_id && strcmp(d->ctrs[i]->image_id, digest) == 0) {
            if (n++ == 0 && first_id)
                snprintf(first_id, 65, "%s", d->ctrs[i]->id);
        }
    }
    pthread_mutex_unlock(&d->lock);
    return n;
}

int api_handle_images_list(struct api_req *r)
{
    static const char *const allowed[] = {"reference", "dangling", "label",
                                          "before",    "since",    NULL};
    struct dmn *d = r->d;
    struct imgstore_entry *e = NULL;
    size_t n = 0;
    ctr_error_t err = NULL;
    struct dmn_filters f = {0};

    if (dmn_filters_parse(api_query(r, "filters"), &f, &err) < 0 ||
        dmn_filters_check(&f, allowed, &err) < 0) {
        dmn_filters_release(&f);
        return api_reply_ctr_error(r, &err);
    }
    pthread_mutex_lock(&d->img_lock);
    if (imgstore_list(d->images, &e, &n, &err) < 0) {
        pthread_mutex_unlock(&d->img_lock);
        dmn_filters_release(&f);
        return api_reply_ctr_error(r, &err);
    }
    json_t *out = json_array(), *done = json_object();
    for (size_t i = 0; i < n; i++) {
        if (json_object_get(done, e[i].digest))
            continue;
        json_object_set_new(done, e[i].digest, json_true());
        struct imgstore_image img = {0};
        if (imgstore_resolve(d->images, e[i].digest, &img, &err) < 0) {
            log_warn("image `%s`: %s", e[i].name, err->msg);
            ctr_error_free(&err);
            continue;
        }
        json_t *tags = json_array(), *digests = json_array();
        names_of(e, n, e[i].digest, tags, digests);
        json_t *labels = labels_of(&img.config.config);
        bool keep = dmn_filters_labels(&f, labels);
        json_t *refs = json_object_get(f.f, "reference");
        if (keep && refs && json_array_size(refs)) {
            keep = false;
            size_t k, t;
            json_t *want, *have;
            json_array_foreach(refs, k, want)
            {
                cleanup_free char *wf = familiar(json_string_value(want));
                json_array_foreach(tags, t, have)
                {
                    const char *h = json_string_value(have);
                    size_t wl = strlen(json_string_value(want));
                    if (strcmp(h, wf) == 0 ||
                        (strncmp(h, json_string_value(want), wl) == 0 && h[wl] == ':'))
                        keep = true;
                }
            }
        }
        if (dmn_filters_has(&f, "dangling"))
            keep = keep && json_array_size(tags) == 0;
        if (keep) {
            int64_t created = created_of(&img);
            json_array_append_new(
                out, json_pack("{s:s,s:s,s:o,s:o,s:I,s:I,s:i,s:I,s:o,s:i}", "Id",
                               img.manifest_digest, "ParentId", "", "RepoTags", tags, "RepoDigests",
                               digests, "Created", (json_int_t)(created / 1000000000), "Size",
                               (json_int_t)img.size, "SharedSize", -1, "VirtualSize",
                               (json_int_t)img.size, "Labels", labels, "Containers", -1));
        } else {
            json_decref(tags);
            json_decref(digests);
            json_decref(labels);
        }
        imgstore_image_release(&img);
    }
    pthread_mutex_unlock(&d->img_lock);
    imgstore_entries_free(e, n);
    json_decref(done);
    dmn_filters_release(&f);
    return api_reply_json(r, 200, out);
}

static int resolve_or_reply(struct api_req *r, const char *ref, struct imgstore_image *img)
{
    ctr_error_t err = NULL;
    pthread_mutex_lock(&r->d->img_lock);
    int rc = imgstore_resolve(r->d->images, ref, img, &err);
    pthread_mutex_unlock(&r->d->img_lock);
    if (rc < 0) {
        ctr_error_t e2 = NULL;
        cleanup_free char *norm = err->errnum == 0 ? oci_ref_normalize(ref, &e2) : NULL;
        ctr_error_free(&e2);
        if (err->errnum == ENOENT) {
            ctr_error_free(&err);
            api_reply_error(r, 404, "No such image: %s", ref);
        } else if (err->errnum == 0 && norm == NULL) {
            err->errnum = EINVAL; /* not a reference: Docker's 400 invalid reference format */
            api_reply_ctr_error(r, &err);
        } else {
            api_reply_ctr_error(r, &err);
        }
        return -1;
    }
    return 0;
}

int api_handle_image_inspect(struct api_req *r)
{
    struct dmn *d = r->d;
    struct imgstore_image img = {0};
    struct imgstore_entry *e = NULL;
    size_t n = 0;
    ctr_error_t err = NULL;

    if (resolve_or_reply(r, r->params[0], &img) < 0)
        return 0;
    pthread_mutex_lock(&d->img_lock);
    if (imgstore_list(d->images, &e, &n, &err) < 0)
        ctr_error_free(&err);
    pthread_mutex_unlock(&d->img_lock);
    json_t *tags = json_array(), *digests = json_array();
    names_of(e, n, img.manifest_digest, tags, digests);
    imgstore_entries_free(e, n);
    const struct oci_container_config *c = &img.config.config;
    cleanup_free char *created = dmn_time_rfc3339(created_of(&img));
    json_t *ports = json_object();
    for (size_t i = 0; c->exposed_ports[i]; i++)
        json_object_set_new(ports, c->exposed_ports[i], json_object());
    json_t *vols = json_object();
    for (size_t i = 0; c->volumes[i]; i++)
        json_object_set_new(vols, c->volumes[i], json_object());
    json_t *config =
        json_pack("{s:s,s:o,s:o,s:o,s:s,s:o,s:o,s:o}", "User", c->user ? c->user : "", "Env",
                  dmn_strv_json(c->env), "Cmd", c->cmd ? dmn_strv_json(c->cmd) : json_null(),
                  "Entrypoint", c->entrypoint ? dmn_strv_json(c->entrypoint) : json_null(),
                  "WorkingDir", c->working_dir ? c->working_dir : "", "Labels", labels_of(c),
                  "ExposedPorts", ports, "Volumes", vols);
    if (c->stop_signal)
        json_object_set_new(config, "StopSignal", json_string(c->stop_signal));
    json_t *j = json_pack(
        "{s:s,s:o,s:o,s:s,s:s,s:s,s:s,s:s,s:s,s:o,s:s,s:s,s:I,s:I,s:{s:s,s:n},s:{s:s,s:o},"
        "s:{s:s}}",
        "Id", img.manifest_digest, "RepoTags", tags, "RepoDigests", digests, "Parent", "",
        "Comment", "", "Created", created, "DockerVersion", "", "Author", "", "Container", "",
        "Config", config, "Architecture",
        img.config.platform.architecture ? img.config.platform.architecture : "", "Os",
        img.config.platform.os ? img.config.platform.os : "", "Size", (json_int_t)img.size,
        "VirtualSize", (json_int_t)img.size, "GraphDriver", "Name", "ext4", "Data", "RootFS",
        "Type", "layers", "Layers", dmn_strv_json(img.config.diff_ids), "Metadata", "LastTagTime",
        "0001-01-01T00:00:00Z");
    imgstore_image_release(&img);
    return api_reply_json(r, 200, j);
}

/* Sweep what no name and no container reaches (containers run from the snapshot). */
static int gc_store(struct dmn *d, struct imgstore_gc_result *out, ctr_error_t *err)
{
    cleanup_strv char **in_use = ctr_xcalloc(1, sizeof(char *));
    pthread_mutex_lock(&d->lock);
    for (size_t i = 0; i < d->n_ctrs; i++)
        if (d->ctrs[i]->image_id)
            ctr_strv_append(&in_use, d->ctrs[i]->image_id);
    pthread_mutex_unlock(&d->lock);
    pthread_mutex_lock(&d->img_lock);
    int rc = imgstore_gc(d->images, (const char *const *)in_use, out, err);
    pthread_mutex_unlock(&d->img_lock);
    if (rc == 0)
        log_info("image store gc: %zu blobs, %zu snapshots, %llu bytes freed", out->blobs_removed,
                 out->snapshots_removed, (unsigned long long)out->bytes_freed);
    return rc;
}

int api_handle_image_delete(struct api_req *r)
{
    struct dmn *d = r->d;
    struct imgstore_image img = {0};
    struct imgstore_entry *e = NULL;
    size_t n = 0;
    ctr_error_t err = NULL;
    const char *ref = r->params[0];
    bool force = api_query_bool(r, "force");
    char user[65] = "";

    if (resolve_or_reply(r, ref, &img) < 0)
        return 0;
    cleanup_free char *digest = ctr_xstrdup(img.manifest_digest);
    bool by_name = img.name != NULL;
    cleanup_free char *name = img.name ? ctr_xstrdup(img.name) : NULL;
    imgstore_image_release(&img);
    pthread_mutex_lock(&d->img_lock);
    if (imgstore_list(d->images, &e, &n, &err) < 0) {
        pthread_mutex_unlock(&d->img_lock);
        return api_reply_ctr_error(r, &err);
    }
    /* The image goes with its last tag; repo@digest names go with it (docker's
     * RepoDigests). */
    size_t others = 0;
    for (size_t i = 0; i < n; i++)
        others += strcmp(e[i].digest, digest) == 0 && !strchr(e[i].name, '@') &&
                  (!by_name || strcmp(e[i].name, name) != 0);
    bool last = !by_name || others == 0;
    if (last && !force && containers_using(d, digest, user) > 0) {
        pthread_mutex_unlock(&d->img_lock);
        imgstore_entries_free(e, n);
        return api_reply_error(r, 409,
                               "conflict: unable to remove repository reference \"%s\" (must "
                               "force) - container %.12s is using its referenced image %.12s",
                               ref, user, digest + 7);
    }
    json_t *out = json_array();
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (strcmp(e[i].digest, digest) != 0 || (!last && strcmp(e[i].name, name) != 0))
            continue;
        rc = imgstore_remove(d->images, e[i].name, &err);
        char *f = familiar(e[i].name);
        if (rc == 0)
            json_array_append_new(out, json_pack("{s:s}", "Untagged", f));
        free(f);
    }
    pthread_mutex_unlock(&d->img_lock);
    imgstore_entries_free(e, n);
    if (rc < 0) {
        json_decref(out);
        return api_reply_ctr_error(r, &err);
    }
    if (last) {
        json_array_append_new(out, json_pack("{s:s}", "Deleted", digest));
        struct imgstore_gc_result gc;
        if (gc_store(d, &gc, &err) < 0) {
            json_decref(out);
            return api_reply_ctr_error(r, &err);
        }
        pthread_mutex_lock(&d->lock);
        dmn_event_emit_locked(d, "image", "delete", digest, json_pack("{s:s}", "name", ref));
        pthread_mutex_unlock(&d->lock);
    } else {
        pthread_mutex_lock(&d->lock);
        dmn_event_emit_locked(d, "image", "untag", digest, json_pack("{s:s}", "name", ref));
        pthread_mutex_unlock(&d->lock);
    }
    return api_reply_json(r, 200, out);
}

int api_handle_image_tag(struct api_req *r)
{
    struct dmn *d = r->d;
    ctr_error_t err = NULL;
    const char *repo = api_query(r, "repo"), *tag = api_query(r, "tag");
    struct imgstore_image img = {0};

    if (repo == NULL || *repo == '\0')
        return api_reply_error(r, 400, "repository name (`repo`) is missing");
    if (tag && *tag && !oci_tag_valid(tag))
        return api_reply_error(r, 400, "invalid tag format `%s`", tag);
    if (resolve_or_reply(r, r->params[0], &img) < 0)
        return 0;
    cleanup_free char *dst = ctr_xasprintf("%s:%s", repo, tag && *tag ? tag : "latest");
    cleanup_free char *norm = oci_ref_normalize(dst, &err);
    if (norm == NULL) {
        imgstore_image_release(&img);
        err->errnum = EINVAL;
        return api_reply_ctr_error(r, &err);
    }
    pthread_mutex_lock(&d->img_lock);
    int rc = imgstore_tag(d->images, img.manifest_digest, norm, &err);
    pthread_mutex_unlock(&d->img_lock);
    if (rc == 0) {
        pthread_mutex_lock(&d->lock);
        cleanup_free char *f = familiar(norm);
        dmn_event_emit_locked(d, "image", "tag", img.manifest_digest,
                              json_pack("{s:s}", "name", f));
        pthread_mutex_unlock(&d->lock);
    }
    imgstore_image_release(&img);
    return rc < 0 ? api_reply_ctr_error(r, &err) : api_reply_empty(r, 201);
}

int api_handle_images_load(struct api_req *r)
{
    struct dmn *d = r->d;
    ctr_error_t err = NULL;
    cleanup_strv char **names = NULL;

    if (r->upload_path == NULL)
        return api_reply_error(r, 400, "the request body must be an image archive (tar)");
    if (dmn_archive_load(d, r->upload_path, &names, &err) < 0) {
        err->errnum = err->errnum == EINVAL || err->errnum == 0 ? EINVAL : err->errnum;
        return api_reply_ctr_error(r, &err);
    }
    cleanup_free char *text = ctr_xstrdup("");
    for (size_t i = 0; names[i]; i++) {
        cleanup_free char *f = familiar(names[i]);
        json_t *m = json_pack("{s:s}", "stream", "");
        cleanup_free char *line = ctr_xasprintf("Loaded image: %s\n", f);
        json_object_set_new(m, "stream", json_string(line));
        char *s = json_dumps(m, JSON_COMPACT);
        char *nt = ctr_xasprintf("%s%s\n", text, s);
        free(s);
        free(text);
        text = nt;
        json_decref(m);
        pthread_mutex_lock(&d->lock);
        dmn_event_emit_locked(d, "image", "load", names[i], json_pack("{s:s}", "name", f));
        pthread_mutex_unlock(&d->lock);
    }
    return api_reply_text(r, 200, "application/json", text, strlen(text));
}

static enum MHD_Result collect_names(void *cls, enum MHD_ValueKind kind, const char *key,
                                     const char *value)
{
    if (key && value && strcmp(key, "names") == 0)
        ctr_strv_append((char ***)cls, value);
    return MHD_YES;
}

int api_handle_images_get(struct api_req *r)
{
    struct dmn *d = r->d;
    ctr_error_t err = NULL;
    cleanup_strv char **refs = ctr_xcalloc(1, sizeof(char *));

    if (r->params[0])
        ctr_strv_append(&refs, r->params[0]);
    else
        MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, collect_names, &refs);
    if (refs[0] == NULL)
        return api_reply_error(r, 400, "no image named: give `names`");
    for (size_t i = 0; refs[i]; i++) {
        struct imgstore_image img = {0};
        if (resolve_or_reply(r, refs[i], &img) < 0)
            return 0;
        imgstore_image_release(&img);
    }
    cleanup_free char *path = ctr_xasprintf("%s/save-XXXXXX", d->tmp_dir);
    int fd = mkostemp(path, O_CLOEXEC);
    if (fd < 0)
        return api_reply_error(r, 500, "cannot create a file in `%s`: %s", d->tmp_dir,
                               strerror(errno));
    unlink(path);
    if (dmn_archive_save(d, refs, fd, &err) < 0) {
        close(fd);
        return api_reply_ctr_error(r, &err);
    }
    return api_reply_fd(r, 200, "application/x-tar", fd);
}

static bool is_false(const char *v, void *ctx)
{
    return strcmp(v, "false") == 0 || strcmp(v, "0") == 0;
}

/* Docker's image prune: untagged images (only repo@digest names), or with
 * dangling=false (`prune -a`) every image no container uses; then the store GC. */
int api_handle_images_prune(struct api_req *r)
{
    static const char *const allowed[] = {"dangling", NULL};
    struct dmn *d = r->d;
    ctr_error_t err = NULL;
    struct dmn_filters f = {0};
    struct imgstore_entry *e = NULL;
    size_t n = 0;
    struct imgstore_gc_result gc;

    if (dmn_filters_parse(api_query(r, "filters"), &f, &err) < 0 ||
        dmn_filters_check(&f, allowed, &err) < 0) {
        dmn_filters_release(&f);
        return api_reply_ctr_error(r, &err);
    }
    bool all = dmn_filters_has(&f, "dangling") && dmn_filters_any(&f, "dangling", is_false, NULL);
    dmn_filters_release(&f);
    json_t *deleted = json_array(), *done = json_object();
    pthread_mutex_lock(&d->img_lock);
    int rc = imgstore_list(d->images, &e, &n, &err);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        const char *dg = e[i].digest;
        bool tagged = false;
        if (json_object_get(done, dg))
            continue;
        json_object_set_new(done, dg, json_true());
        for (size_t k = 0; k < n; k++)
            tagged = tagged || (strcmp(e[k].digest, dg) == 0 && !strchr(e[k].name, '@'));
        if ((tagged && !all) || containers_using(d, dg, NULL) > 0)
            continue;
        for (size_t k = 0; rc == 0 && k < n; k++) {
            if (strcmp(e[k].digest, dg) != 0)
                continue;
            rc = imgstore_remove(d->images, e[k].name, &err);
            cleanup_free char *fam = familiar(e[k].name);
            json_array_append_new(deleted, json_pack("{s:s}", "Untagged", fam));
        }
        json_array_append_new(deleted, json_pack("{s:s}", "Deleted", dg));
    }
    pthread_mutex_unlock(&d->img_lock);
    imgstore_entries_free(e, n);
    json_decref(done);
    if (rc == 0)
        rc = gc_store(d, &gc, &err);
    if (rc < 0) {
        json_decref(deleted);
        return api_reply_ctr_error(r, &err);
    }
    return api_reply_json(r, 200,
                          json_pack("{s:o,s:I}", "ImagesDeleted", deleted, "SpaceReclaimed",
                                    (json_int_t)gc.bytes_freed));
}
