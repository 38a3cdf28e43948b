/* Push: blobs first (in parallel, skipping or mounting what the registry has),
 * then the manifest; an index after all of its manifests. */
#include "registry/registry-internal.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

struct blob_jobs {
    const struct registry_manifest *m;
    const char *repo, *root;
    const struct registry_push_opts *po;
};

static int blob_job(struct registry_client *c, void *conn, void *opaque, size_t i, ctr_error_t *err)
{
    struct blob_jobs *j = opaque;
    const struct registry_descriptor *d = i == 0 ? &j->m->config : &j->m->layers[i - 1];
    cleanup_free char *path = registry_cas_blob_path(j->root, d->digest);
    for (size_t k = 0; i > 0 && k + 1 < i; k++)
        if (strcmp(j->m->layers[k].digest, d->digest) == 0)
            return 0;
    return registry_upload_blob(c, conn, j->repo, d->digest, d->size, path,
                                j->po ? j->po->mount_from : NULL, i == 0 ? "config" : "layer", err);
}

static int read_manifest(const char *root, const char *digest, char **data, size_t *len,
                         struct registry_manifest *m, ctr_error_t *err)
{
    if (registry_cas_read(root, digest, REGISTRY_MAX_MANIFEST_SIZE, data, len, err) < 0)
        return ctr_error_wrap(err, "manifest `%s`", digest);
    if (registry_manifest_parse(*data, *len, NULL, m, err) < 0) {
        free(*data);
        *data = NULL;
        return ctr_error_wrap(err, "manifest `%s`", digest);
    }
    return 0;
}

/* Push one image manifest and its blobs; tag it as `tag` (a digest when NULL). */
static int push_image(struct registry_client *c, const char *repo, const char *root,
                      const char *digest, const char *tag, const struct registry_push_opts *po,
                      ctr_error_t *err)
{
    cleanup_free char *data = NULL;
    size_t len;
    struct registry_manifest m = {0};
    int rc;

    if (read_manifest(root, digest, &data, &len, &m, err) < 0)
        return -1;
    if (m.kind != REGISTRY_MANIFEST_IMAGE) {
        registry_manifest_free(&m);
        return registry_fail_code(err, EINVAL, "`%s` is not an image manifest", digest);
    }
    for (size_t i = 0; i <= m.n_layers; i++) {
        const struct registry_descriptor *d = i == 0 ? &m.config : &m.layers[i - 1];
        if (!registry_cas_has(root, d->digest, d->size)) {
            rc = registry_fail_code(err, ENOENT, "blob `%s` of manifest `%s` is missing from `%s`",
                                    d->digest, digest, root);
            registry_manifest_free(&m);
            return rc;
        }
    }
    struct blob_jobs jobs = {.m = &m, .repo = repo, .root = root, .po = po};
    rc = registry_parallel(c, m.n_layers + 1, blob_job, &jobs, err);
    if (rc == 0)
        rc = registry_put_manifest(c, repo, tag ? tag : digest, m.media_type, data, len, NULL, err);
    if (rc == 0)
        registry_progress(c, REGISTRY_PROGRESS_DONE, digest, "manifest", true, len, len);
    registry_manifest_free(&m);
    return rc;
}

int registry_push(struct registry_client *c, const struct registry_ref *ref, const char *root,
                  const char *digest, const struct registry_push_opts *po, char **pushed,
                  ctr_error_t *err)
{
    cleanup_free char *data = NULL;
    cleanup_free char *refstr = registry_ref_string(ref);
    const char *tag = ref->tag ? ref->tag : digest;
    size_t len;
    struct registry_manifest m = {0};
    int rc = 0;

    if (ref->digest && strcmp(ref->digest, digest) != 0)
        return registry_fail_code(err, EINVAL, "push `%s`: the local image has digest `%s`", refstr,
                                  digest);
    if (read_manifest(root, digest, &data, &len, &m, err) < 0)
        return ctr_error_wrap(err, "push `%s`", refstr);
    if (m.kind == REGISTRY_MANIFEST_IMAGE) {
        registry_manifest_free(&m);
        if (push_image(c, ref->repo, root, digest, tag, po, err) < 0)
            return ctr_error_wrap(err, "push `%s`", refstr);
    } else {
        for (size_t i = 0; i < m.n_manifests && rc == 0; i++) {
            const struct registry_descriptor *d = &m.manifests[i];
            if (!registry_media_is_manifest(d->media_type))
                rc = registry_fail_code(err, ENOTSUP, "nested index `%s` cannot be pushed",
                                        d->digest);
            else if (!registry_cas_has(root, d->digest, d->size))
                rc = ctr_fail(err, ENOENT,
                              "index `%s` lists manifest `%s` (%s/%s) which is not stored "
                              "locally; push a single platform by its digest instead",
                              digest, d->digest, d->os ? d->os : "?", d->arch ? d->arch : "?");
            else
                rc = push_image(c, ref->repo, root, d->digest, NULL, po, err);
        }
        if (rc == 0)
            rc = registry_put_manifest(c, ref->repo, tag, m.media_type, data, len, NULL, err);
        registry_manifest_free(&m);
        if (rc < 0)
            return ctr_error_wrap(err, "push `%s`", refstr);
    }
    if (pushed)
        *pushed = ctr_xstrdup(digest);
    return 0;
}

/* An OCI index over several platform manifests of a layout, stored in the layout. */
static int make_index(const char *layout, const struct registry_manifest *idx, const size_t *pick,
                      size_t n, char **digest, ctr_error_t *err)
{
    json_t *root = json_object(), *arr = json_array();
    json_object_set_new(root, "schemaVersion", json_integer(2));
    json_object_set_new(root, "mediaType", json_string("application/vnd.oci.image.index.v1+json"));
    for (size_t i = 0; i < n; i++) {
        const struct registry_descriptor *d = &idx->manifests[pick[i]];
        json_t *e = json_object(), *p = json_object();
        json_object_set_new(e, "mediaType", json_string(d->media_type));
        json_object_set_new(e, "digest", json_string(d->digest));
        json_object_set_new(e, "size", json_integer(d->size));
        if (d->os == NULL || d->arch == NULL) {
            json_decref(e);
            json_decref(p);
            json_decref(arr);
            json_decref(root);
            return ctr_fail(err, EINVAL,
                            "layout entry `%s` has no platform, so it cannot go into an index",
                            d->digest);
        }
        json_object_set_new(p, "architecture", json_string(d->arch));
        json_object_set_new(p, "os", json_string(d->os));
        if (d->variant && d->variant[0])
            json_object_set_new(p, "variant", json_string(d->variant));
        json_object_set_new(e, "platform", p);
        json_array_append_new(arr, e);
    }
    json_object_set_new(root, "manifests", arr);
    cleanup_free char *text = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    cleanup_free char *d = registry_sha256_digest(text, strlen(text));
    if (registry_cas_put(layout, d, text, strlen(text), err) < 0)
        return -1;
    *digest = ctr_steal_ptr(d);
    return 0;
}

int registry_push_layout(struct registry_client *c, const struct registry_ref *ref,
                         const char *layout, const char *name, const struct registry_push_opts *po,
                         char **pushed, ctr_error_t *err)
{
    cleanup_free char *path = ctr_xasprintf("%s/index.json", layout);
    cleanup_free char *data = NULL;
    cleanup_free size_t *pick = NULL;
    cleanup_free char *digest = NULL;
    struct registry_manifest idx = {0};
    size_t len, n = 0;
    int rc;

    if (ctr_read_file(path, REGISTRY_MAX_MANIFEST_SIZE, &data, &len, err) < 0)
        return ctr_error_wrap(err, "read OCI layout `%s`", layout);
    if (registry_manifest_parse(data, len, NULL, &idx, err) < 0)
        return ctr_error_wrap(err, "OCI layout `%s`", path);
    if (idx.kind != REGISTRY_MANIFEST_INDEX) {
        registry_manifest_free(&idx);
        return registry_fail_code(err, EINVAL, "`%s` is not an image index", path);
    }
    pick = ctr_xcalloc(idx.n_manifests + 1, sizeof(*pick));
    for (size_t i = 0; i < idx.n_manifests; i++)
        if (name == NULL ||
            (idx.manifests[i].ref_name && strcmp(idx.manifests[i].ref_name, name) == 0))
            pick[n++] = i;
    if (n == 0) {
        rc = name ? registry_fail_code(err, ENOENT, "OCI layout `%s` has no image named `%s`",
                                       layout, name)
                  : registry_fail_code(err, ENOENT, "OCI layout `%s` is empty", layout);
    } else if (n == 1 || registry_media_is_index(idx.manifests[pick[0]].media_type)) {
        rc = registry_push(c, ref, layout, idx.manifests[pick[0]].digest, po, pushed, err);
    } else {
        rc = make_index(layout, &idx, pick, n, &digest, err);
        if (rc == 0)
            rc = registry_push(c, ref, layout, digest, po, pushed, err);
    }
    registry_manifest_free(&idx);
    return rc;
}
