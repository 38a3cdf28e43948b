/* OCI / Docker v2 schema 2 indexes and manifests, parsed into typed structs. */
#include "oci/oci-internal.h"

#include <stdlib.h>
#include <string.h>

bool oci_mt_is_index(const char *mt)
{
    return strcmp(mt, OCI_MT_INDEX) == 0 || strcmp(mt, OCI_MT_DOCKER_LIST) == 0;
}

bool oci_mt_is_manifest(const char *mt)
{
    return strcmp(mt, OCI_MT_MANIFEST) == 0 || strcmp(mt, OCI_MT_DOCKER_MANIFEST) == 0;
}

bool oci_mt_is_schema1(const char *mt)
{
    return strcmp(mt, OCI_MT_DOCKER_MANIFEST_V1) == 0 ||
           strcmp(mt, OCI_MT_DOCKER_MANIFEST_V1S) == 0;
}

int oci_schema1_refused(ctr_error_t *err)
{
    return ctr_fail(err, 0,
                    "image manifest schema 1 is not supported (docker deprecated it); "
                    "push the image again with a current docker or skopeo");
}

int oci_layer_compression(const char *mt, enum oci_compression *out, ctr_error_t *err)
{
    if (strcmp(mt, OCI_MT_LAYER) == 0 || strcmp(mt, OCI_MT_LAYER_ND) == 0)
        *out = OCI_COMP_NONE;
    else if (strcmp(mt, OCI_MT_LAYER_GZIP) == 0 || strcmp(mt, OCI_MT_LAYER_ND_GZIP) == 0 ||
             strcmp(mt, OCI_MT_DOCKER_LAYER) == 0 || strcmp(mt, OCI_MT_DOCKER_FOREIGN) == 0)
        *out = OCI_COMP_GZIP;
    else if (strcmp(mt, OCI_MT_LAYER_ZSTD) == 0)
        *out = OCI_COMP_ZSTD;
    else
        return ctr_fail(err, 0, "unsupported layer media type `%.200s`", mt);
    return 0;
}

void oci_platform_release(struct oci_platform *p)
{
    free(p->os);
    free(p->architecture);
    free(p->variant);
    memset(p, 0, sizeof(*p));
}

void oci_descriptor_release(struct oci_descriptor *d)
{
    if (d == NULL)
        return;
    free(d->media_type);
    free(d->digest);
    oci_platform_release(&d->platform);
    oci_kv_free(d->annotations, d->n_annotations);
    memset(d, 0, sizeof(*d));
}

const char *oci_kv_get(const struct oci_kv *kv, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(kv[i].key, key) == 0)
            return kv[i].value;
    return NULL;
}

const char *oci_descriptor_annotation(const struct oci_descriptor *d, const char *key)
{
    return oci_kv_get(d->annotations, d->n_annotations, key);
}

static int parse_descriptor(json_t *v, struct oci_descriptor *d, const char *what, ctr_error_t *err)
{
    json_t *size, *plat;

    memset(d, 0, sizeof(*d));
    if (!json_is_object(v))
        return ctr_fail(err, 0, "%s must be an object", what);
    if (oci_json_string(v, "mediaType", true, &d->media_type, what, err) < 0 ||
        oci_json_string(v, "digest", true, &d->digest, what, err) < 0)
        goto fail;
    if (oci_digest_check(d->digest, err) < 0) {
        ctr_error_wrap(err, "%s", what);
        goto fail;
    }
    size = json_object_get(v, "size");
    if (!json_is_integer(size)) {
        ctr_fail(err, 0, "%s: `size` must be an integer", what);
        goto fail;
    }
    d->size = json_integer_value(size);
    if (d->size < 0 || d->size > OCI_MAX_BLOB_SIZE) {
        ctr_fail(err, 0, "%s: `size` %lld is out of range", what, (long long)d->size);
        goto fail;
    }
    plat = json_object_get(v, "platform");
    if (plat != NULL && !json_is_null(plat)) {
        if (!json_is_object(plat)) {
            ctr_fail(err, 0, "%s: `platform` must be an object", what);
            goto fail;
        }
        if (oci_json_string(plat, "os", true, &d->platform.os, what, err) < 0 ||
            oci_json_string(plat, "architecture", true, &d->platform.architecture, what, err) < 0 ||
            oci_json_string(plat, "variant", false, &d->platform.variant, what, err) < 0)
            goto fail;
        d->has_platform = true;
    }
    if (oci_json_kv(v, "annotations", OCI_MAX_ANNOTATIONS, &d->annotations, &d->n_annotations, what,
                    err) < 0)
        goto fail;
    return 0;
fail:
    oci_descriptor_release(d);
    return -1;
}

/* schemaVersion must be 2 (1 is the refused docker schema 1). */
int oci_check_schema(json_t *root, int *out, const char *what, ctr_error_t *err)
{
    json_t *v = json_object_get(root, "schemaVersion");
    if (!json_is_integer(v))
        return ctr_fail(err, 0, "%s: `schemaVersion` is missing or not an integer", what);
    if (json_integer_value(v) == 1)
        return oci_schema1_refused(err);
    if (json_integer_value(v) != 2)
        return ctr_fail(err, 0, "%s: unsupported `schemaVersion` %lld (expected 2)", what,
                        (long long)json_integer_value(v));
    *out = 2;
    return 0;
}

int oci_doc_kind(const char *json, size_t len, const char *hint, enum oci_doc_kind *out,
                 ctr_error_t *err)
{
    json_t *root;
    json_t *mtv;
    const char *mt = NULL;
    enum oci_doc_kind kind = OCI_DOC_UNKNOWN, hinted = OCI_DOC_UNKNOWN;
    int schema;

    if (hint != NULL) {
        if (oci_mt_is_schema1(hint))
            return oci_schema1_refused(err);
        if (oci_mt_is_index(hint))
            hinted = OCI_DOC_INDEX;
        else if (oci_mt_is_manifest(hint))
            hinted = OCI_DOC_MANIFEST;
        else
            return ctr_fail(err, 0, "unsupported manifest media type `%.200s`", hint);
    }
    root = oci_json_load_object(json, len, OCI_MAX_MANIFEST_BYTES, "manifest", err);
    if (root == NULL)
        return -1;
    if (oci_check_schema(root, &schema, "manifest", err) < 0)
        goto fail;
    mtv = json_object_get(root, "mediaType");
    if (json_is_string(mtv)) {
        mt = json_string_value(mtv);
        if (oci_mt_is_index(mt))
            kind = OCI_DOC_INDEX;
        else if (oci_mt_is_manifest(mt))
            kind = OCI_DOC_MANIFEST;
        else {
            ctr_fail(err, 0, "unsupported manifest media type `%.200s`", mt);
            goto fail;
        }
    } else if (mtv != NULL) {
        ctr_fail(err, 0, "manifest: `mediaType` must be a string");
        goto fail;
    } else if (json_object_get(root, "manifests") != NULL) {
        kind = OCI_DOC_INDEX;
    } else if (json_object_get(root, "config") != NULL) {
        kind = OCI_DOC_MANIFEST;
    }
    if (kind == OCI_DOC_UNKNOWN)
        kind = hinted;
    if (kind == OCI_DOC_UNKNOWN) {
        ctr_fail(err, 0, "manifest is neither an image index nor an image manifest");
        goto fail;
    }
    if (hinted != OCI_DOC_UNKNOWN && hinted != kind) {
        ctr_fail(err, 0, "manifest content does not match its media type `%s`", hint);
        goto fail;
    }
    json_decref(root);
    *out = kind;
    return 0;
fail:
    json_decref(root);
    return -1;
}

void oci_index_release(struct oci_index *ix)
{
    if (ix == NULL)
        return;
    for (size_t i = 0; i < ix->n_manifests; i++)
        oci_descriptor_release(&ix->manifests[i]);
    free(ix->manifests);
    free(ix->media_type);
    memset(ix, 0, sizeof(*ix));
}

int oci_index_parse(const char *json, size_t len, struct oci_index *out, ctr_error_t *err)
{
    json_t *root = oci_json_load_object(json, len, OCI_MAX_MANIFEST_BYTES, "image index", err);
    int ret;
    if (root == NULL)
        return -1;
    ret = oci_index_from_json(root, out, err);
    json_decref(root);
    return ret;
}

int oci_index_from_json(json_t *root, struct oci_index *out, ctr_error_t *err)
{
    json_t *arr, *item;
    struct oci_index ix = {0};
    size_t i;

    if (oci_check_schema(root, &ix.schema_version, "image index", err) < 0 ||
        oci_json_string(root, "mediaType", false, &ix.media_type, "image index", err) < 0)
        goto fail;
    if (ix.media_type && !oci_mt_is_index(ix.media_type)) {
        ctr_fail(err, 0, "image index has media type `%.200s`", ix.media_type);
        goto fail;
    }
    arr = json_object_get(root, "manifests");
    if (!json_is_array(arr)) {
        ctr_fail(err, 0, "image index: `manifests` must be an array");
        goto fail;
    }
    if (json_array_size(arr) > OCI_MAX_MANIFESTS) {
        ctr_fail(err, 0, "image index has too many manifests (%zu, limit %d)", json_array_size(arr),
                 OCI_MAX_MANIFESTS);
        goto fail;
    }
    ix.manifests = ctr_xcalloc(json_array_size(arr) + 1, sizeof(*ix.manifests));
    json_array_foreach(arr, i, item)
    {
        cleanup_free char *what = ctr_xasprintf("image index: manifests[%zu]", i);
        if (parse_descriptor(item, &ix.manifests[i], what, err) < 0)
            goto fail;
        ix.n_manifests++;
    }
    *out = ix;
    return 0;
fail:
    oci_index_release(&ix);
    return -1;
}

void oci_manifest_release(struct oci_manifest *m)
{
    if (m == NULL)
        return;
    free(m->media_type);
    oci_descriptor_release(&m->config);
    for (size_t i = 0; i < m->n_layers; i++)
        oci_descriptor_release(&m->layers[i]);
    free(m->layers);
    memset(m, 0, sizeof(*m));
}

int oci_manifest_parse(const char *json, size_t len, struct oci_manifest *out, ctr_error_t *err)
{
    json_t *root = oci_json_load_object(json, len, OCI_MAX_MANIFEST_BYTES, "image manifest", err);
    int ret;
    if (root == NULL)
        return -1;
    ret = oci_manifest_from_json(root, out, err);
    json_decref(root);
    return ret;
}

int oci_manifest_from_json(json_t *root, struct oci_manifest *out, ctr_error_t *err)
{
    json_t *arr, *item;
    struct oci_manifest m = {0};
    enum oci_compression comp;
    size_t i;

    if (oci_check_schema(root, &m.schema_version, "image manifest", err) < 0 ||
        oci_json_string(root, "mediaType", false, &m.media_type, "image manifest", err) < 0)
        goto fail;
    if (m.media_type == NULL)
        m.media_type = ctr_xstrdup(OCI_MT_MANIFEST);
    if (oci_mt_is_index(m.media_type)) {
        ctr_fail(err, 0, "image manifest: `%s` is an image index, not a manifest", m.media_type);
        goto fail;
    }
    if (!oci_mt_is_manifest(m.media_type)) {
        ctr_fail(err, 0, "unsupported manifest media type `%.200s`", m.media_type);
        goto fail;
    }
    m.docker = strcmp(m.media_type, OCI_MT_DOCKER_MANIFEST) == 0;
    if (parse_descriptor(json_object_get(root, "config"), &m.config, "image manifest: config",
                         err) < 0)
        goto fail;
    if (strcmp(m.config.media_type, OCI_MT_CONFIG) != 0 &&
        strcmp(m.config.media_type, OCI_MT_DOCKER_CONFIG) != 0) {
        ctr_fail(err, 0, "not a container image: config media type is `%.200s`",
                 m.config.media_type);
        goto fail;
    }
    arr = json_object_get(root, "layers");
    if (!json_is_array(arr)) {
        ctr_fail(err, 0, "image manifest: `layers` must be an array");
        goto fail;
    }
    if (json_array_size(arr) > OCI_MAX_LAYERS) {
        ctr_fail(err, 0, "image manifest has too many layers (%zu, limit %d)", json_array_size(arr),
                 OCI_MAX_LAYERS);
        goto fail;
    }
    m.layers = ctr_xcalloc(json_array_size(arr) + 1, sizeof(*m.layers));
    json_array_foreach(arr, i, item)
    {
        cleanup_free char *what = ctr_xasprintf("image manifest: layers[%zu]", i);
        if (parse_descriptor(item, &m.layers[i], what, err) < 0)
            goto fail;
        m.n_layers++;
        if (oci_layer_compression(m.layers[i].media_type, &comp, err) < 0) {
            ctr_error_wrap(err, "%s", what);
            goto fail;
        }
    }
    *out = m;
    return 0;
fail:
    oci_manifest_release(&m);
    return -1;
}
