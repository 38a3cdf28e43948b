/* Manifest and index parsing with validation: anything a hostile registry could
 * use to make us allocate, loop or write unexpected things is refused here. */
#include "registry/registry-internal.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define MT_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MT_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"

static const char *const layer_types[] = {
    "application/vnd.oci.image.layer.v1.tar",
    "application/vnd.oci.image.layer.v1.tar+gzip",
    "application/vnd.oci.image.layer.v1.tar+zstd",
    "application/vnd.oci.image.layer.nondistributable.v1.tar",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
    "application/vnd.docker.image.rootfs.diff.tar.gzip",
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
    NULL,
};
static const char *const config_types[] = {
    "application/vnd.oci.image.config.v1+json",
    "application/vnd.docker.container.image.v1+json",
    NULL,
};

static bool in_list(const char *s, const char *const *list)
{
    for (; *list; list++)
        if (strcmp(s, *list) == 0)
            return true;
    return false;
}

bool registry_media_is_index(const char *mt)
{
    return mt && (strcmp(mt, MT_OCI_INDEX) == 0 || strcmp(mt, MT_DOCKER_LIST) == 0);
}

bool registry_media_is_manifest(const char *mt)
{
    return mt && (strcmp(mt, MT_OCI_MANIFEST) == 0 || strcmp(mt, MT_DOCKER_MANIFEST) == 0);
}

static bool media_is_schema1(const char *mt)
{
    return mt && strncmp(mt, "application/vnd.docker.distribution.manifest.v1", 47) == 0;
}

static void descriptor_free(struct registry_descriptor *d)
{
    free(d->media_type);
    free(d->digest);
    free(d->os);
    free(d->arch);
    free(d->variant);
    free(d->ref_name);
    memset(d, 0, sizeof(*d));
}

void registry_manifest_free(struct registry_manifest *m)
{
    if (m == NULL)
        return;
    free(m->media_type);
    descriptor_free(&m->config);
    for (size_t i = 0; i < m->n_layers; i++)
        descriptor_free(&m->layers[i]);
    free(m->layers);
    for (size_t i = 0; i < m->n_manifests; i++)
        descriptor_free(&m->manifests[i]);
    free(m->manifests);
    memset(m, 0, sizeof(*m));
}

static char *opt_string(json_t *o, const char *key, size_t max)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_string(v) || json_string_length(v) > max)
        return NULL;
    return ctr_xstrdup(json_string_value(v));
}

/* Parse one descriptor; `what` names it in errors ("layer 3"). */
static int parse_descriptor(json_t *o, const char *what, int64_t max_size,
                            struct registry_descriptor *d, ctr_error_t *err)
{
    json_t *mt = json_object_get(o, "mediaType");
    json_t *dg = json_object_get(o, "digest");
    json_t *sz = json_object_get(o, "size");

    if (!json_is_object(o))
        return registry_fail_code(err, EBADMSG, "%s is not an object", what);
    if (!json_is_string(mt) || json_string_length(mt) == 0 || json_string_length(mt) > 255)
        return registry_fail_code(err, EBADMSG, "%s has no valid `mediaType`", what);
    if (!json_is_string(dg))
        return registry_fail_code(err, EBADMSG, "%s has no `digest`", what);
    if (!registry_digest_valid(json_string_value(dg)))
        return ctr_fail(err, EBADMSG,
                        "%s has digest `%.80s`: only `sha256:` with 64 lowercase hex digits is "
                        "accepted",
                        what, json_string_value(dg));
    if (!json_is_integer(sz) || json_integer_value(sz) < 0)
        return registry_fail_code(err, EBADMSG, "%s has no valid `size`", what);
    if (json_integer_value(sz) > max_size)
        return registry_fail_code(
            err, EFBIG, "%s `%s` declares %lld bytes, more than the limit of %lld", what,
            json_string_value(dg), (long long)json_integer_value(sz), (long long)max_size);
    d->media_type = ctr_xstrdup(json_string_value(mt));
    d->digest = ctr_xstrdup(json_string_value(dg));
    d->size = json_integer_value(sz);
    return 0;
}

static int parse_image(json_t *root, struct registry_manifest *m, ctr_error_t *err)
{
    json_t *layers = json_object_get(root, "layers");
    size_t i;
    json_t *l;

    if (parse_descriptor(json_object_get(root, "config"), "config", REGISTRY_MAX_CONFIG_SIZE,
                         &m->config, err) < 0)
        return -1;
    if (!in_list(m->config.media_type, config_types))
        return registry_fail_code(err, EBADMSG, "config has unsupported media type `%s`",
                                  m->config.media_type);
    if (!json_is_array(layers))
        return registry_fail_code(err, EBADMSG, "manifest has no `layers` array");
    if (json_array_size(layers) > REGISTRY_MAX_ENTRIES)
        return registry_fail_code(err, EFBIG, "manifest has %zu layers, more than the limit of %d",
                                  json_array_size(layers), REGISTRY_MAX_ENTRIES);
    m->layers = ctr_xcalloc(json_array_size(layers) + 1, sizeof(*m->layers));
    json_array_foreach(layers, i, l)
    {
        char what[48];
        snprintf(what, sizeof(what), "layer %zu", i);
        m->n_layers = i + 1;
        if (parse_descriptor(l, what, REGISTRY_MAX_BLOB_SIZE, &m->layers[i], err) < 0)
            return -1;
        if (!in_list(m->layers[i].media_type, layer_types))
            return registry_fail_code(err, EBADMSG, "layer %zu has unsupported media type `%s`", i,
                                      m->layers[i].media_type);
    }
    return 0;
}

static int parse_index(json_t *root, struct registry_manifest *m, ctr_error_t *err)
{
    json_t *arr = json_object_get(root, "manifests");
    size_t i;
    json_t *e;

    if (!json_is_array(arr))
        return registry_fail_code(err, EBADMSG, "index has no `manifests` array");
    if (json_array_size(arr) > REGISTRY_MAX_ENTRIES)
        return registry_fail_code(err, EFBIG, "index has %zu entries, more than the limit of %d",
                                  json_array_size(arr), REGISTRY_MAX_ENTRIES);
    m->manifests = ctr_xcalloc(json_array_size(arr) + 1, sizeof(*m->manifests));
    json_array_foreach(arr, i, e)
    {
        char what[48];
        struct registry_descriptor *d = &m->manifests[i];
        json_t *p = json_object_get(e, "platform");
        snprintf(what, sizeof(what), "index entry %zu", i);
        m->n_manifests = i + 1;
        if (parse_descriptor(e, what, REGISTRY_MAX_MANIFEST_SIZE, d, err) < 0)
            return -1;
        if (!registry_media_is_manifest(d->media_type) && !registry_media_is_index(d->media_type))
            return registry_fail_code(
                err, EBADMSG, "index entry %zu has unsupported media type `%s`", i, d->media_type);
        if (json_is_object(p)) {
            d->os = opt_string(p, "os", 31);
            d->arch = opt_string(p, "architecture", 31);
            d->variant = opt_string(p, "variant", 31);
        }
        d->ref_name =
            opt_string(json_object_get(e, "annotations"), "org.opencontainers.image.ref.name", 255);
    }
    return 0;
}

int registry_manifest_parse(const char *data, size_t len, const char *content_type,
                            struct registry_manifest *out, ctr_error_t *err)
{
    struct registry_manifest m = {0};
    cleanup_free char *ct = NULL;
    json_error_t jerr;
    json_t *root, *sv, *mt;
    const char *type = NULL;
    int rc = -1;

    if (content_type) {
        ct = ctr_xstrdup(content_type);
        ct[strcspn(ct, "; ")] = '\0';
        if (media_is_schema1(ct))
            return ctr_fail(err, ENOTSUP,
                            "manifest is docker schema 1 (`%s`), which is not supported; push the "
                            "image again with a current docker, buildah or skopeo",
                            ct);
    }
    if (len > REGISTRY_MAX_MANIFEST_SIZE)
        return registry_fail_code(err, EFBIG, "manifest is %zu bytes, more than the limit of %u",
                                  len, REGISTRY_MAX_MANIFEST_SIZE);
    root = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL || !json_is_object(root)) {
        rc = registry_fail_code(err, EBADMSG, "manifest is not a JSON object: %s",
                                root ? "wrong type" : jerr.text);
        goto out;
    }
    sv = json_object_get(root, "schemaVersion");
    if (json_is_integer(sv) && json_integer_value(sv) == 1) {
        rc = ctr_fail(err, ENOTSUP,
                      "manifest is docker schema 1, which is not supported; push the image again "
                      "with a current docker, buildah or skopeo");
        goto out;
    }
    if (!json_is_integer(sv) || json_integer_value(sv) != 2) {
        rc = registry_fail_code(err, EBADMSG, "manifest has no `schemaVersion` 2");
        goto out;
    }
    mt = json_object_get(root, "mediaType");
    if (mt && !json_is_string(mt)) {
        rc = registry_fail_code(err, EBADMSG, "manifest `mediaType` is not a string");
        goto out;
    }
    type = json_string_value(mt);
    if (type && ct && (registry_media_is_index(ct) || registry_media_is_manifest(ct)) &&
        strcmp(type, ct) != 0) {
        rc =
            registry_fail_code(err, EBADMSG, "manifest says `%s` but was served as `%s`", type, ct);
        goto out;
    }
    if (type == NULL && ct && (registry_media_is_index(ct) || registry_media_is_manifest(ct)))
        type = ct;
    if (type == NULL) /* OCI allows omitting mediaType: decide from the structure */
        type = json_object_get(root, "manifests") ? MT_OCI_INDEX : MT_OCI_MANIFEST;
    if (registry_media_is_index(type)) {
        if (json_object_get(root, "layers") || json_object_get(root, "config")) {
            rc = registry_fail_code(err, EBADMSG, "index `%s` also has `layers` or `config`", type);
            goto out;
        }
        m.kind = REGISTRY_MANIFEST_INDEX;
        rc = parse_index(root, &m, err);
    } else if (registry_media_is_manifest(type)) {
        if (json_object_get(root, "manifests")) {
            rc = registry_fail_code(err, EBADMSG, "image manifest `%s` also has `manifests`", type);
            goto out;
        }
        m.kind = REGISTRY_MANIFEST_IMAGE;
        rc = parse_image(root, &m, err);
    } else {
        rc = registry_fail_code(err, EBADMSG, "unsupported manifest media type `%s`", type);
        goto out;
    }
    m.media_type = ctr_xstrdup(type);
out:
    json_decref(root);
    if (rc < 0)
        registry_manifest_free(&m);
    else
        *out = m;
    return rc;
}
