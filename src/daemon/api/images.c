/* /images: Docker's list, inspect, delete, tag, load, get (save) and prune over the image
 * service (images.c; pull and push: api/pull.c). docs/api.md, docs/images.md. */
#include "daemon/api/api.h"
#include "image/store.h"

#include <microhttpd.h>
#include <stdlib.h>
#include <string.h>

static json_t *labels_of(const struct oci_container_config *c)
{
    json_t *o = json_object();
    for (size_t i = 0; i < c->n_labels; i++)
        json_object_set_new(o, c->labels[i].key, json_string(c->labels[i].value));
    return o;
}

/* The `reference` filter: a familiar name, or a repository (any of its tags). */
static bool reference_matches(const struct dmn_filters *f, char *const *tags)
{
    json_t *refs = json_object_get(f->f, "reference");
    if (!refs || !json_array_size(refs))
        return true;
    bool keep = false;
    size_t k;
    json_t *want;
    json_array_foreach(refs, k, want)
    {
        cleanup_free char *wf = dmn_image_familiar(json_string_value(want));
        size_t wl = strlen(json_string_value(want));
        for (size_t t = 0; tags[t]; t++)
            if (strcmp(tags[t], wf) == 0 ||
                (strncmp(tags[t], json_string_value(want), wl) == 0 && tags[t][wl] == ':'))
                keep = true;
    }
    return keep;
}

int api_handle_images_list(struct api_req *r)
{
    static const char *const allowed[] = {"reference", "dangling", "label",
                                          "before",    "since",    NULL};
    struct dmn_image *v = NULL;
    size_t n = 0;
    ctr_error_t err = NULL;
    struct dmn_filters f = {0};

    if (dmn_filters_parse(api_query(r, "filters"), &f, &err) < 0 ||
        dmn_filters_check(&f, allowed, &err) < 0 ||
        dmn_images_list(r->d, false, &v, &n, &err) < 0) {
        dmn_filters_release(&f);
        return api_reply_ctr_error(r, &err);
    }
    json_t *out = json_array();
    for (size_t i = 0; i < n; i++) {
        const struct imgstore_image *img = &v[i].img;
        json_t *labels = labels_of(&img->config.config);
        bool keep = dmn_filters_labels(&f, labels) && reference_matches(&f, v[i].tags);
        if (dmn_filters_has(&f, "dangling"))
            keep = keep && v[i].tags[0] == NULL;
        if (!keep) {
            json_decref(labels);
            continue;
        }
        int64_t created = dmn_image_created_ns(&v[i]);
        json_array_append_new(
            out,
            json_pack("{s:s,s:s,s:o,s:o,s:I,s:I,s:i,s:I,s:o,s:i}", "Id", img->manifest_digest,
                      "ParentId", "", "RepoTags", dmn_strv_json(v[i].tags), "RepoDigests",
                      dmn_strv_json(v[i].digests), "Created", (json_int_t)(created / 1000000000),
                      "Size", (json_int_t)img->size, "SharedSize", -1, "VirtualSize",
                      (json_int_t)img->size, "Labels", labels, "Containers", -1));
    }
    dmn_images_free(v, n);
    dmn_filters_release(&f);
    return api_reply_json(r, 200, out);
}

/* ContainerConfig as Docker (API < 1.45) shows it for an image the classic builder did
 * not make: an empty container.Config. Compose 1.x reads it when it recreates. */
static json_t *empty_container_config(void)
{
    return json_pack("{s:s,s:s,s:s,s:b,s:b,s:b,s:b,s:b,s:b,s:n,s:n,s:s,s:n,s:s,s:n,s:n,s:n}",
                     "Hostname", "", "Domainname", "", "User", "", "AttachStdin", 0, "AttachStdout",
                     0, "AttachStderr", 0, "Tty", 0, "OpenStdin", 0, "StdinOnce", 0, "Env", "Cmd",
                     "Image", "", "Volumes", "WorkingDir", "", "Entrypoint", "OnBuild", "Labels");
}

int api_handle_image_inspect(struct api_req *r)
{
    struct dmn_image im = {0};
    ctr_error_t err = NULL;

    if (dmn_image_get(r->d, r->params[0], &im, &err) < 0)
        return api_reply_ctr_error(r, &err);
    const struct imgstore_image *img = &im.img;
    const struct oci_container_config *c = &img->config.config;
    cleanup_free char *created = dmn_time_rfc3339(dmn_image_created_ns(&im));
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
        "Id", img->manifest_digest, "RepoTags", dmn_strv_json(im.tags), "RepoDigests",
        dmn_strv_json(im.digests), "Parent", "", "Comment",
        img->config.comment ? img->config.comment : "", "Created", created, "DockerVersion", "",
        "Author", img->config.author ? img->config.author : "", "Container", "", "Config", config,
        "Architecture", img->config.platform.architecture ? img->config.platform.architecture : "",
        "Os", img->config.platform.os ? img->config.platform.os : "", "Size", (json_int_t)img->size,
        "VirtualSize", (json_int_t)img->size, "GraphDriver", "Name", "ext4", "Data", "RootFS",
        "Type", "layers", "Layers", dmn_strv_json(img->config.diff_ids), "Metadata", "LastTagTime",
        "0001-01-01T00:00:00Z");
    if (r->api_minor < 45) /* removed in API 1.45 */
        json_object_set_new(j, "ContainerConfig", empty_container_config());
    dmn_image_release(&im);
    return api_reply_json(r, 200, j);
}

/* [{"Untagged": name} or {"Deleted": digest}, ...] */
static json_t *changes_json(struct dmn_image_change *ch, size_t n)
{
    json_t *out = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(out, ch[i].untagged ? json_pack("{s:s}", "Untagged", ch[i].untagged)
                                                  : json_pack("{s:s}", "Deleted", ch[i].deleted));
    dmn_image_changes_free(ch, n);
    return out;
}

int api_handle_image_delete(struct api_req *r)
{
    ctr_error_t err = NULL;
    struct dmn_image_change *ch = NULL;
    size_t n = 0;

    if (dmn_image_remove(r->d, r->params[0], api_query_bool(r, "force"), &ch, &n, &err) < 0)
        return api_reply_ctr_error(r, &err);
    return api_reply_json(r, 200, changes_json(ch, n));
}

int api_handle_image_tag(struct api_req *r)
{
    ctr_error_t err = NULL;
    const char *repo = api_query(r, "repo"), *tag = api_query(r, "tag");

    if (repo == NULL || *repo == '\0')
        return api_reply_error(r, 400, "repository name (`repo`) is missing");
    if (tag && *tag && !oci_tag_valid(tag))
        return api_reply_error(r, 400, "invalid tag format `%s`", tag);
    if (dmn_image_tag(r->d, r->params[0], repo, tag, &err) < 0)
        return api_reply_ctr_error(r, &err);
    return api_reply_empty(r, 201);
}

int api_handle_images_load(struct api_req *r)
{
    ctr_error_t err = NULL;
    cleanup_strv char **names = NULL;

    if (r->upload_path == NULL)
        return api_reply_error(r, 400, "the request body must be an image archive (tar)");
    if (dmn_image_load(r->d, r->upload_path, &names, &err) < 0) {
        /* Docker's postImagesLoad: the status is sent before the archive is read, so a
         * failure is a line of the JSON stream (streamformatter.FormatError), whatever
         * `quiet` says */
        json_t *m = json_pack("{s:{s:o},s:o}", "errorDetail", "message", ctr_json_str(err->msg),
                              "error", ctr_json_str(err->msg));
        ctr_error_free(&err);
        char *s = json_dumps(m, JSON_COMPACT);
        json_decref(m);
        if (s == NULL)
            return api_reply_error(r, 500, "cannot encode the load error");
        cleanup_free char *line = ctr_xasprintf("%s\n", s);
        free(s);
        return api_reply_text(r, 200, "application/json", line, strlen(line));
    }
    cleanup_free char *text = ctr_xstrdup("");
    for (size_t i = 0; names[i]; i++) {
        bool by_id = strncmp(names[i], OCI_DIGEST_PREFIX, strlen(OCI_DIGEST_PREFIX)) == 0;
        cleanup_free char *line =
            ctr_xasprintf("Loaded image%s: %s\n", by_id ? " ID" : "", names[i]);
        json_t *m = json_pack("{s:s}", "stream", line);
        char *s = json_dumps(m, JSON_COMPACT);
        char *nt = ctr_xasprintf("%s%s\n", text, s);
        free(s);
        free(text);
        text = nt;
        json_decref(m);
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
    ctr_error_t err = NULL;
    cleanup_strv char **refs = ctr_xcalloc(1, sizeof(char *));
    int fd;

    if (r->params[0])
        ctr_strv_append(&refs, r->params[0]);
    else
        MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, collect_names, &refs);
    if (refs[0] == NULL)
        return api_reply_error(r, 400, "no image named: give `names`");
    if (dmn_image_save(r->d, refs, &fd, &err) < 0)
        return api_reply_ctr_error(r, &err);
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
    ctr_error_t err = NULL;
    struct dmn_filters f = {0};
    struct dmn_image_change *ch = NULL;
    size_t n = 0;
    uint64_t reclaimed = 0;

    if (dmn_filters_parse(api_query(r, "filters"), &f, &err) < 0 ||
        dmn_filters_check(&f, allowed, &err) < 0) {
        dmn_filters_release(&f);
        return api_reply_ctr_error(r, &err);
    }
    bool all = dmn_filters_has(&f, "dangling") && dmn_filters_any(&f, "dangling", is_false, NULL);
    dmn_filters_release(&f);
    if (dmn_images_prune(r->d, all, &ch, &n, &reclaimed, &err) < 0)
        return api_reply_ctr_error(r, &err);
    return api_reply_json(r, 200,
                          json_pack("{s:o,s:I}", "ImagesDeleted", changes_json(ch, n),
                                    "SpaceReclaimed", (json_int_t)reclaimed));
}

/* GET /images/{name}/history: the config's history, newest first, as Docker lists it;
 * the entry that made the top layer carries the image's id. */
int api_handle_image_history(struct api_req *r)
{
    struct dmn_image im = {0};
    ctr_error_t err = NULL;

    if (dmn_image_get(r->d, r->params[0], &im, &err) < 0)
        return api_reply_ctr_error(r, &err);
    const struct oci_image_config *c = &im.img.config;
    const struct oci_manifest *m = &im.img.manifest;
    json_t *out = json_array();
    size_t layer = m->n_layers;
    for (size_t i = c->n_history; i-- > 0;) {
        const struct oci_history *h = &c->history[i];
        int64_t size = 0, ns = 0;
        if (!h->empty_layer && layer > 0)
            size = m->layers[--layer].size;
        if (h->created)
            (void)dmn_time_parse(h->created, &ns);
        json_array_append_new(
            out, json_pack("{s:s,s:I,s:s,s:o,s:I,s:s}", "Id",
                           i + 1 == c->n_history ? im.img.manifest_digest : "<missing>", "Created",
                           (json_int_t)(ns / 1000000000), "CreatedBy",
                           h->created_by ? h->created_by : "", "Tags",
                           i + 1 == c->n_history ? dmn_strv_json(im.tags) : json_null(), "Size",
                           (json_int_t)size, "Comment", h->comment ? h->comment : ""));
    }
    if (c->n_history == 0) /* an image without history: one line for the image */
        json_array_append_new(out, json_pack("{s:s,s:I,s:s,s:o,s:I,s:s}", "Id",
                                             im.img.manifest_digest, "Created",
                                             (json_int_t)(dmn_image_created_ns(&im) / 1000000000),
                                             "CreatedBy", "", "Tags", dmn_strv_json(im.tags),
                                             "Size", (json_int_t)im.img.size, "Comment", ""));
    dmn_image_release(&im);
    return api_reply_json(r, 200, out);
}
