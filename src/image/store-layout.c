/* Loading an OCI image layout directory into the store. */
#include "image/store-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LAYOUT_MAX_DEPTH 4 /* nested indexes followed */

/* Open <layout>/blobs/sha256/<hex> (the digest is validated, so the path is safe). */
static int layout_blob_open(const char *dir, const char *digest, ctr_error_t *err)
{
    cleanup_free char *p = oci_layout_blob_path(dir, digest);
    int fd = open(p, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return ctr_fail(err, errno, "blob `%s` of layout `%s`", digest, dir);
    return fd;
}

static int ingest_from_layout(struct imgstore *st, const char *dir, const struct oci_descriptor *d,
                              ctr_error_t *err)
{
    cleanup_close int fd = -1;
    if (imgstore_blob_exists(st, d->digest))
        return 0;
    fd = layout_blob_open(dir, d->digest, err);
    if (fd < 0)
        return -1;
    if (imgstore_ingest_fd(st, fd, d->digest, d->size, err) < 0)
        return ctr_error_wrap(err, "layout `%s`", dir);
    return 0;
}

/* Read a small verified blob from the layout. */
static int layout_blob_read(const char *dir, const struct oci_descriptor *d, size_t max, char **out,
                            size_t *len, ctr_error_t *err)
{
    cleanup_free char *p = oci_layout_blob_path(dir, d->digest);
    cleanup_free char *data = NULL;
    char got[OCI_DIGEST_STR_LEN + 1];
    size_t n;

    if (d->size > (int64_t)max)
        return ctr_fail(err, 0, "blob `%s` of layout `%s` is too large (%lld bytes)", d->digest,
                        dir, (long long)d->size);
    if (ctr_read_file(p, max, &data, &n, err) < 0)
        return -1;
    oci_digest_buf(data, n, got);
    if ((int64_t)n != d->size || strcmp(got, d->digest) != 0)
        return ctr_fail(err, 0, "blob `%s` of layout `%s` does not match its descriptor", d->digest,
                        dir);
    *out = ctr_steal_ptr(data);
    *len = n;
    return 0;
}

/* From the candidate entries of one image, find the host platform's manifest,
 * following nested indexes. *out gets a copy of its descriptor's digest and size. */
static int select_manifest(const char *dir, const struct oci_index *ix, int depth, char **digest,
                           int64_t *size, ctr_error_t *err)
{
    const struct oci_descriptor *d;
    ssize_t k = oci_index_select_host(ix, err);
    enum oci_doc_kind kind;
    cleanup_free char *data = NULL;
    size_t len = 0;

    if (k < 0)
        return -1;
    d = &ix->manifests[k];
    if (layout_blob_read(dir, d, OCI_MAX_MANIFEST_BYTES, &data, &len, err) < 0 ||
        oci_doc_kind(data, len, d->media_type, &kind, err) < 0)
        return -1;
    if (kind == OCI_DOC_MANIFEST) {
        *digest = ctr_xstrdup(d->digest);
        *size = d->size;
        return 0;
    }
    if (depth >= LAYOUT_MAX_DEPTH)
        return ctr_fail(err, 0, "image indexes nested deeper than %d levels", LAYOUT_MAX_DEPTH);
    {
        struct oci_index sub = {0};
        int ret;
        if (oci_index_parse(data, len, &sub, err) < 0)
            return -1;
        ret = select_manifest(dir, &sub, depth + 1, digest, size, err);
        oci_index_release(&sub);
        return ret;
    }
}

/* Copy manifest, config and layers in, verifying each. */
static int ingest_image(struct imgstore *st, const char *dir, const char *digest, int64_t size,
                        ctr_error_t *err)
{
    struct oci_descriptor md = {.digest = (char *)digest, .size = size};
    struct imgstore_image img = {0};
    int ret = 0;

    if (ingest_from_layout(st, dir, &md, err) < 0)
        return -1;
    /* The config is small: ingest it, then load + check the whole image. */
    {
        cleanup_free char *mdata = NULL;
        size_t mlen;
        struct oci_manifest m = {0};
        if (imgstore_blob_read(st, digest, OCI_MAX_MANIFEST_BYTES, &mdata, &mlen, err) < 0 ||
            oci_manifest_parse(mdata, mlen, &m, err) < 0)
            return -1;
        ret = ingest_from_layout(st, dir, &m.config, err);
        oci_manifest_release(&m);
        if (ret < 0)
            return -1;
    }
    if (imgstore_image_load(st, NULL, digest, &img, err) < 0)
        return -1;
    for (size_t i = 0; i < img.manifest.n_layers && ret == 0; i++)
        ret = ingest_from_layout(st, dir, &img.manifest.layers[i], err);
    imgstore_image_release(&img);
    return ret;
}

/* The name an index entry carries, or NULL. */
static const char *entry_name(const struct oci_descriptor *d)
{
    const char *n = oci_descriptor_annotation(d, OCI_ANNOT_CONTAINERD_NAME);
    return n ? n : oci_descriptor_annotation(d, OCI_ANNOT_REF_NAME);
}

static bool same_name(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

static int check_layout_file(const char *dir, ctr_error_t *err)
{
    cleanup_free char *p = ctr_xasprintf("%s/oci-layout", dir);
    cleanup_free char *data = NULL;
    json_t *root;
    const char *v;
    size_t len = 0;

    if (ctr_read_file(p, 4096, &data, &len, err) < 0) {
        ctr_error_free(err);
        return ctr_fail(err, 0, "`%s` is not an OCI image layout: no readable `oci-layout` file",
                        dir);
    }
    root = json_loadb(data, len, 0, NULL);
    v = json_string_value(json_object_get(root, "imageLayoutVersion"));
    if (v == NULL || strncmp(v, "1.", 2) != 0) {
        json_decref(root);
        return ctr_fail(err, 0, "`%s`: unsupported OCI layout version (expected 1.x)", p);
    }
    json_decref(root);
    return 0;
}

int imgstore_load_layout(struct imgstore *st, const char *dir, const char *name, char ***names_out,
                         ctr_error_t *err)
{
    cleanup_free char *ixpath = ctr_xasprintf("%s/index.json", dir);
    cleanup_free char *ixdata = NULL;
    cleanup_free char *given = NULL;
    cleanup_strv char **names = ctr_xcalloc(1, sizeof(char *));
    struct oci_index ix = {0};
    bool *done = NULL;
    size_t ixlen, groups = 0;
    int ret = -1;

    bool keep_id = name && *name == '\0';
    if (keep_id)
        name = NULL;
    if (name && (given = oci_ref_normalize(name, err)) == NULL)
        return -1;
    if (given && strchr(given, '@')) {
        return ctr_fail(err, 0, "cannot name an image `%s`: a name with a digest is not a tag",
                        name);
    }
    if (check_layout_file(dir, err) < 0)
        return -1;
    if (ctr_read_file(ixpath, OCI_MAX_MANIFEST_BYTES, &ixdata, &ixlen, err) < 0 ||
        oci_index_parse(ixdata, ixlen, &ix, err) < 0)
        return ctr_error_wrap(err, "layout `%s`", dir);
    if (ix.n_manifests == 0) {
        oci_index_release(&ix);
        return ctr_fail(err, 0, "layout `%s` holds no image (index.json is empty)", dir);
    }
    for (size_t i = 0; i < ix.n_manifests; i++) {
        bool seen = false;
        for (size_t j = 0; j < i && !seen; j++)
            seen = same_name(entry_name(&ix.manifests[i]), entry_name(&ix.manifests[j]));
        groups += !seen;
    }
    if (given && groups > 1) {
        ctr_fail(err, 0,
                 "layout `%s` holds %zu differently named images; load it without a "
                 "name to keep theirs",
                 dir, groups);
        goto out;
    }
    if (imgstore_lock(st, err) < 0)
        goto out;
    (void)imgstore_ingest_cleanup(st, NULL);
    done = ctr_xcalloc(ix.n_manifests, sizeof(bool));
    /* One image per distinct name: its entries are the platforms to choose from. */
    for (size_t i = 0; i < ix.n_manifests; i++) {
        const char *ename = entry_name(&ix.manifests[i]);
        struct oci_index sub = {.schema_version = 2};
        cleanup_free char *digest = NULL;
        cleanup_free char *full = NULL;
        int64_t size = 0;

        if (done[i])
            continue;
        sub.manifests = ctr_xcalloc(ix.n_manifests, sizeof(*sub.manifests));
        for (size_t j = i; j < ix.n_manifests; j++) {
            if (!done[j] && same_name(ename, entry_name(&ix.manifests[j]))) {
                sub.manifests[sub.n_manifests++] = ix.manifests[j]; /* borrowed */
                done[j] = true;
            }
        }
        ret = select_manifest(dir, &sub, 0, &digest, &size, err);
        free(sub.manifests);
        if (ret < 0) {
            ctr_error_wrap(err, "layout `%s`%s%s%s", dir, ename ? " image `" : "",
                           ename ? ename : "", ename ? "`" : "");
            goto unlock;
        }
        if (given) {
            full = ctr_xstrdup(given);
        } else if (ename == NULL && keep_id) {
            full = ctr_xstrdup(IMGSTORE_UNTAGGED);
        } else if (ename == NULL) {
            ret = ctr_fail(err, 0,
                           "image in layout `%s` has no name annotation; load it with a "
                           "name",
                           dir);
            goto unlock;
        } else if (strpbrk(ename, "/:@") == NULL) {
            /* OCI's ref.name is often only a tag (`latest`): no repository to file it under. */
            ret = ctr_fail(err, 0,
                           "image in layout `%s` is named only `%s` (no repository); "
                           "load it with a name",
                           dir, ename);
            goto unlock;
        } else if ((full = oci_ref_normalize(ename, err)) == NULL) {
            ret = ctr_error_wrap(err, "layout `%s`: annotation name", dir);
            goto unlock;
        }
        ret = ingest_image(st, dir, digest, size, err);
        if (ret == 0)
            ret = imgstore_index_set(st, full, digest, err);
        if (ret < 0) {
            ctr_error_wrap(err, "load `%s` from layout `%s`", full, dir);
            goto unlock;
        }
        ctr_strv_append(&names, *full ? full : digest);
    }
    ret = 0;
unlock:
    imgstore_unlock(st);
out:
    free(done);
    oci_index_release(&ix);
    if (ret == 0 && names_out)
        *names_out = ctr_steal_ptr(names);
    return ret;
}
