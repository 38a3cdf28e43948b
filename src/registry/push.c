/* Push: blobs first (in parallel, skipping or mounting what the registry has),
 * then the manifest; an index after all of its manifests. Blobs are read from the
 * image store or from an OCI layout directory; a push never writes any. */
#include "image/store.h"
#include "registry/registry-internal.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

/* Where a push reads blobs: the image store, or else an OCI layout directory. */
struct source {
    struct imgstore *st;
    const char *layout;
    char *name; /* for messages */
};

static bool src_has(const struct source *s, const char *digest, int64_t size)
{
    return s->st ? imgstore_blob_has(s->st, digest, size)
                 : oci_layout_blob_has(s->layout, digest, size);
}

static char *src_path(const struct source *s, const char *digest)
{
    return s->st ? imgstore_blob_path(s->st, digest) : oci_layout_blob_path(s->layout, digest);
}

static int src_read(const struct source *s, const char *digest, char **data, size_t *len,
                    ctr_error_t *err)
{
    if (s->st)
        return imgstore_blob_read(s->st, digest, OCI_MAX_MANIFEST_BYTES, data, len, err);
    return oci_layout_blob_read(s->layout, digest, OCI_MAX_MANIFEST_BYTES, data, len, err);
}

struct blob_jobs {
    const struct oci_manifest *m;
    const char *repo;
    const struct source *src;
    const struct registry_push_opts *po;
};

static int blob_job(struct registry_client *c, void *conn, void *opaque, size_t i, ctr_error_t *err)
{
    struct blob_jobs *j = opaque;
    const struct oci_descriptor *d = i == 0 ? &j->m->config : &j->m->layers[i - 1];
    cleanup_free char *path = src_path(j->src, d->digest);
    for (size_t k = 0; i > 0 && k + 1 < i; k++)
        if (strcmp(j->m->layers[k].digest, d->digest) == 0)
            return 0;
    return registry_upload_blob(c, conn, j->repo, d->digest, d->size, path,
                                j->po ? j->po->mount_from : NULL, i == 0 ? "config" : "layer", err);
}

static int read_manifest(const struct source *src, const char *digest, char **data, size_t *len,
                         struct oci_document *doc, ctr_error_t *err)
{
    if (src_read(src, digest, data, len, err) < 0)
        return ctr_error_wrap(err, "manifest `%s`", digest);
    if (oci_document_parse(*data, *len, NULL, doc, err) < 0) {
        free(*data);
        *data = NULL;
        return ctr_error_wrap(err, "manifest `%s`", digest);
    }
    return 0;
}

/* Push one image manifest and its blobs; tag it as `tag` (a digest when NULL). */
static int push_image(struct registry_client *c, const char *repo, const struct source *src,
                      const char *digest, const char *tag, const struct registry_push_opts *po,
                      ctr_error_t *err)
{
    cleanup_free char *data = NULL;
    size_t len;
    struct oci_document doc = {0};
    const struct oci_manifest *m = &doc.manifest;
    int rc;

    if (read_manifest(src, digest, &data, &len, &doc, err) < 0)
        return -1;
    if (doc.kind != OCI_DOC_MANIFEST) {
        oci_document_release(&doc);
        return registry_fail_code(err, EINVAL, "`%s` is not an image manifest", digest);
    }
    for (size_t i = 0; i <= m->n_layers; i++) {
        const struct oci_descriptor *d = i == 0 ? &m->config : &m->layers[i - 1];
        if (!src_has(src, d->digest, d->size)) {
            rc = registry_fail_code(err, ENOENT, "blob `%s` of manifest `%s` is missing from `%s`",
                                    d->digest, digest, src->name);
            oci_document_release(&doc);
            return rc;
        }
    }
    struct blob_jobs jobs = {.m = m, .repo = repo, .src = src, .po = po};
    rc = registry_parallel(c, m->n_layers + 1, blob_job, &jobs, err);
    if (rc == 0)
        rc = registry_put_manifest(c, repo, tag ? tag : digest, doc.media_type, data, len, NULL,
                                   err);
    if (rc == 0)
        registry_progress(c, REGISTRY_PROGRESS_DONE, digest, "manifest", true, len, len);
    oci_document_release(&doc);
    return rc;
}

/* Push the document `data` (digest `digest`): an image manifest, or an index whose
 * manifests are in src. */
static int push_document(struct registry_client *c, const struct oci_ref *ref,
                         const struct source *src, const char *digest, const char *data, size_t len,
                         const struct registry_push_opts *po, char **pushed, ctr_error_t *err)
{
    cleanup_free char *refstr = oci_ref_string(ref);
    const char *tag = ref->tag ? ref->tag : digest;
    struct oci_document doc = {0};
    int rc = 0;

    if (ref->digest && strcmp(ref->digest, digest) != 0)
        return registry_fail_code(err, EINVAL, "push `%s`: the local image has digest `%s`", refstr,
                                  digest);
    if (oci_document_parse(data, len, NULL, &doc, err) < 0) {
        ctr_error_wrap(err, "manifest `%s`", digest);
        return ctr_error_wrap(err, "push `%s`", refstr);
    }
    if (doc.kind == OCI_DOC_MANIFEST) {
        oci_document_release(&doc);
        if (push_image(c, ref->path, src, digest, tag, po, err) < 0)
            return ctr_error_wrap(err, "push `%s`", refstr);
    } else {
        for (size_t i = 0; i < doc.index.n_manifests && rc == 0; i++) {
            const struct oci_descriptor *d = &doc.index.manifests[i];
            if (!oci_mt_is_manifest(d->media_type))
                rc = registry_fail_code(err, ENOTSUP, "nested index `%s` cannot be pushed",
                                        d->digest);
            else if (!src_has(src, d->digest, d->size))
                rc = ctr_fail(err, ENOENT,
                              "index `%s` lists manifest `%s` (%s/%s) which is not stored "
                              "locally; push a single platform by its digest instead",
                              digest, d->digest, d->has_platform ? d->platform.os : "?",
                              d->has_platform ? d->platform.architecture : "?");
            else
                rc = push_image(c, ref->path, src, d->digest, NULL, po, err);
        }
        if (rc == 0)
            rc = registry_put_manifest(c, ref->path, tag, doc.media_type, data, len, NULL, err);
        oci_document_release(&doc);
        if (rc < 0)
            return ctr_error_wrap(err, "push `%s`", refstr);
    }
    if (pushed)
        *pushed = ctr_xstrdup(digest);
    return 0;
}

/* Push the image (manifest or index) `digest` of src as ref. */
static int push_digest(struct registry_client *c, const struct oci_ref *ref,
                       const struct source *src, const char *digest,
                       const struct registry_push_opts *po, char **pushed, ctr_error_t *err)
{
    cleanup_free char *data = NULL;
    size_t len;

    if (ref->digest && strcmp(ref->digest, digest) != 0) {
        cleanup_free char *refstr = oci_ref_string(ref);
        return registry_fail_code(err, EINVAL, "push `%s`: the local image has digest `%s`", refstr,
                                  digest);
    }
    if (src_read(src, digest, &data, &len, err) < 0) {
        cleanup_free char *refstr = oci_ref_string(ref);
        ctr_error_wrap(err, "manifest `%s`", digest);
        return ctr_error_wrap(err, "push `%s`", refstr);
    }
    return push_document(c, ref, src, digest, data, len, po, pushed, err);
}

int registry_push_image(struct registry_client *c, const struct oci_ref *ref, struct imgstore *st,
                        const char *local, const struct registry_push_opts *po, char **pushed,
                        ctr_error_t *err)
{
    struct source src = {.st = st, .name = ctr_xasprintf("%s/content", imgstore_root(st))};
    struct imgstore_image img = {0};
    int rc;

    if (imgstore_resolve(st, local, &img, err) < 0) {
        free(src.name);
        return -1;
    }
    rc = push_digest(c, ref, &src, img.manifest_digest, po, pushed, err);
    imgstore_image_release(&img);
    free(src.name);
    return rc;
}

/* An OCI index over several platform manifests of a layout, in memory. */
static int make_index(const struct oci_index *idx, const size_t *pick, size_t n, char **text,
                      char digest[OCI_DIGEST_STR_LEN + 1], ctr_error_t *err)
{
    json_t *root = json_object(), *arr = json_array();
    json_object_set_new(root, "schemaVersion", json_integer(2));
    json_object_set_new(root, "mediaType", json_string(OCI_MT_INDEX));
    for (size_t i = 0; i < n; i++) {
        const struct oci_descriptor *d = &idx->manifests[pick[i]];
        json_t *e = json_object(), *p = json_object();
        json_object_set_new(e, "mediaType", json_string(d->media_type));
        json_object_set_new(e, "digest", json_string(d->digest));
        json_object_set_new(e, "size", json_integer(d->size));
        if (!d->has_platform) {
            json_decref(e);
            json_decref(p);
            json_decref(arr);
            json_decref(root);
            return ctr_fail(err, EINVAL,
                            "layout entry `%s` has no platform, so it cannot go into an index",
                            d->digest);
        }
        json_object_set_new(p, "architecture", json_string(d->platform.architecture));
        json_object_set_new(p, "os", json_string(d->platform.os));
        if (d->platform.variant && d->platform.variant[0])
            json_object_set_new(p, "variant", json_string(d->platform.variant));
        json_object_set_new(e, "platform", p);
        json_array_append_new(arr, e);
    }
    json_object_set_new(root, "manifests", arr);
    *text = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    oci_digest_buf(*text, strlen(*text), digest);
    return 0;
}

int registry_push_layout(struct registry_client *c, const struct oci_ref *ref, const char *layout,
                         const char *name, const struct registry_push_opts *po, char **pushed,
                         ctr_error_t *err)
{
    cleanup_free char *path = ctr_xasprintf("%s/index.json", layout);
    cleanup_free char *data = NULL;
    cleanup_free size_t *pick = NULL;
    struct source src = {.layout = layout, .name = (char *)layout};
    struct oci_document idx = {0};
    size_t len, n = 0;
    int rc;

    if (ctr_read_file(path, OCI_MAX_MANIFEST_BYTES, &data, &len, err) < 0)
        return ctr_error_wrap(err, "read OCI layout `%s`", layout);
    if (oci_document_parse(data, len, NULL, &idx, err) < 0)
        return ctr_error_wrap(err, "OCI layout `%s`", path);
    if (idx.kind != OCI_DOC_INDEX) {
        oci_document_release(&idx);
        return registry_fail_code(err, EINVAL, "`%s` is not an image index", path);
    }
    pick = ctr_xcalloc(idx.index.n_manifests + 1, sizeof(*pick));
    for (size_t i = 0; i < idx.index.n_manifests; i++) {
        const char *rn = oci_descriptor_annotation(&idx.index.manifests[i], OCI_ANNOT_REF_NAME);
        if (name == NULL || (rn && strcmp(rn, name) == 0))
            pick[n++] = i;
    }
    if (n == 0) {
        rc = name ? registry_fail_code(err, ENOENT, "OCI layout `%s` has no image named `%s`",
                                       layout, name)
                  : registry_fail_code(err, ENOENT, "OCI layout `%s` is empty", layout);
    } else if (n == 1 || oci_mt_is_index(idx.index.manifests[pick[0]].media_type)) {
        rc = push_digest(c, ref, &src, idx.index.manifests[pick[0]].digest, po, pushed, err);
    } else {
        cleanup_free char *text = NULL;
        char digest[OCI_DIGEST_STR_LEN + 1];
        rc = make_index(&idx.index, pick, n, &text, digest, err);
        if (rc == 0)
            rc = push_document(c, ref, &src, digest, text, strlen(text), po, pushed, err);
    }
    oci_document_release(&idx);
    return rc;
}
