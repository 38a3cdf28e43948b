/* A manifest or an index as a registry serves it (or a layout's index.json): its kind
 * decided from its own mediaType, the Content-Type it came with, or its shape, then
 * parsed by the index / manifest parsers with the limits of what a pull fetches. */
#include "oci/oci-internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void oci_document_release(struct oci_document *d)
{
    if (d == NULL)
        return;
    free(d->media_type);
    oci_index_release(&d->index);
    oci_manifest_release(&d->manifest);
    memset(d, 0, sizeof(*d));
}

static int check_size(const struct oci_descriptor *d, const char *what, int64_t max,
                      ctr_error_t *err)
{
    if (d->size <= max)
        return 0;
    return ctr_fail_class(err, EFBIG, "%s `%s` declares %lld bytes, more than the limit of %lld",
                          what, d->digest, (long long)d->size, (long long)max);
}

/* What a registry may list and what a pull would fetch, beyond the parsers' own checks. */
static int check_fetchable(const struct oci_document *doc, ctr_error_t *err)
{
    char what[48];

    if (doc->kind == OCI_DOC_INDEX) {
        for (size_t i = 0; i < doc->index.n_manifests; i++) {
            const struct oci_descriptor *d = &doc->index.manifests[i];
            snprintf(what, sizeof(what), "index entry %zu", i);
            if (!oci_mt_is_manifest(d->media_type) && !oci_mt_is_index(d->media_type))
                return ctr_fail_class(err, EBADMSG, "%s has unsupported media type `%.200s`", what,
                                      d->media_type);
            if (check_size(d, what, OCI_MAX_MANIFEST_BYTES, err) < 0)
                return -1;
        }
        return 0;
    }
    if (check_size(&doc->manifest.config, "config", OCI_MAX_CONFIG_BYTES, err) < 0)
        return -1;
    for (size_t i = 0; i < doc->manifest.n_layers; i++) {
        snprintf(what, sizeof(what), "layer %zu", i);
        if (check_size(&doc->manifest.layers[i], what, OCI_MAX_LAYER_BYTES, err) < 0)
            return -1;
    }
    return 0;
}

int oci_document_parse(const char *json, size_t len, const char *content_type,
                       struct oci_document *out, ctr_error_t *err)
{
    struct oci_document doc = {0};
    cleanup_free char *ct = NULL;
    const char *type = NULL;
    json_t *root, *mt;
    int schema, ret = -1;

    if (content_type) {
        ct = ctr_xstrdup(content_type);
        ct[strcspn(ct, "; ")] = '\0';
        if (oci_mt_is_schema1(ct))
            return oci_schema1_refused(err);
        /* Anything else (application/json, text/plain ...) says nothing about the kind. */
        if (!oci_mt_is_index(ct) && !oci_mt_is_manifest(ct)) {
            free(ct);
            ct = NULL;
        }
    }
    root = oci_json_load_object(json, len, OCI_MAX_MANIFEST_BYTES, "manifest", err);
    if (root == NULL)
        return -1;
    if (oci_check_schema(root, &schema, "manifest", err) < 0)
        goto out;
    mt = json_object_get(root, "mediaType");
    if (mt && !json_is_string(mt)) {
        ctr_fail(err, 0, "manifest: `mediaType` must be a string");
        goto out;
    }
    type = json_string_value(mt);
    if (type && ct && strcmp(type, ct) != 0) {
        ctr_fail_class(err, EBADMSG, "manifest says `%.200s` but was served as `%s`", type, ct);
        goto out;
    }
    if (type == NULL)
        type = ct;
    if (type == NULL) /* OCI allows omitting mediaType: decide from the structure */
        type = json_object_get(root, "manifests") ? OCI_MT_INDEX : OCI_MT_MANIFEST;
    if (oci_mt_is_index(type)) {
        if (json_object_get(root, "layers") || json_object_get(root, "config")) {
            ctr_fail_class(err, EBADMSG, "index `%s` also has `layers` or `config`", type);
            goto out;
        }
        doc.kind = OCI_DOC_INDEX;
        if (oci_index_from_json(root, &doc.index, err) < 0)
            goto out;
    } else if (oci_mt_is_manifest(type)) {
        if (json_object_get(root, "manifests")) {
            ctr_fail_class(err, EBADMSG, "image manifest `%s` also has `manifests`", type);
            goto out;
        }
        doc.kind = OCI_DOC_MANIFEST;
        if (oci_manifest_from_json(root, &doc.manifest, err) < 0)
            goto out;
    } else {
        ctr_fail(err, 0, "unsupported manifest media type `%.200s`", type);
        goto out;
    }
    doc.media_type = ctr_xstrdup(type);
    if (check_fetchable(&doc, err) < 0)
        goto out;
    *out = doc;
    memset(&doc, 0, sizeof(doc));
    ret = 0;
out:
    json_decref(root);
    oci_document_release(&doc);
    return ret;
}
