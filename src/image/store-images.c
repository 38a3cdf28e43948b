/* Image records (images.json) and their resolution. */
#include "image/store-internal.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void imgstore_entries_free(struct imgstore_entry *e, size_t n)
{
    for (size_t i = 0; e && i < n; i++) {
        free(e[i].name);
        free(e[i].digest);
    }
    free(e);
}

void imgstore_image_release(struct imgstore_image *img)
{
    if (img == NULL)
        return;
    free(img->name);
    free(img->manifest_digest);
    free(img->config_digest);
    oci_manifest_release(&img->manifest);
    oci_image_config_release(&img->config);
    memset(img, 0, sizeof(*img));
}

int imgstore_index_read(struct imgstore *st, struct imgstore_entry **out, size_t *n,
                        ctr_error_t *err)
{
    cleanup_free char *path = ctr_xasprintf("%s/images.json", st->root);
    cleanup_free char *data = NULL;
    struct imgstore_entry *e = NULL;
    json_t *root, *arr, *item;
    json_error_t jerr;
    size_t len, i, cnt = 0;

    *out = NULL;
    *n = 0;
    if (ctr_read_file(path, IMGSTORE_INDEX_MAX, &data, &len, err) < 0) {
        if (err && *err && (*err)->errnum == ENOENT) {
            ctr_error_free(err);
            *out = ctr_xcalloc(1, sizeof(**out));
            return 0;
        }
        return -1;
    }
    root = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL)
        return ctr_fail(err, 0, "image store index `%s` is corrupt: %s", path, jerr.text);
    arr = json_object_get(root, "images");
    if (!json_is_array(arr)) {
        json_decref(root);
        return ctr_fail(err, 0, "image store index `%s` is corrupt: no `images` array", path);
    }
    e = ctr_xcalloc(json_array_size(arr) + 1, sizeof(*e));
    json_array_foreach(arr, i, item)
    {
        const char *name = json_string_value(json_object_get(item, "name"));
        const char *digest = json_string_value(json_object_get(item, "digest"));
        json_t *created = json_object_get(item, "created_ns");
        if (name == NULL || digest == NULL || !oci_digest_valid(digest)) {
            json_decref(root);
            imgstore_entries_free(e, cnt);
            return ctr_fail(err, 0, "image store index `%s` is corrupt: bad entry %zu", path, i);
        }
        e[cnt].name = ctr_xstrdup(name);
        e[cnt].digest = ctr_xstrdup(digest);
        e[cnt].created_ns = json_is_integer(created) ? json_integer_value(created) : 0;
        cnt++;
    }
    json_decref(root);
    *out = e;
    *n = cnt;
    return 0;
}

static int cmp_entry(const void *a, const void *b)
{
    return strcmp(((const struct imgstore_entry *)a)->name,
                  ((const struct imgstore_entry *)b)->name);
}

int imgstore_index_write(struct imgstore *st, const struct imgstore_entry *e, size_t n,
                         ctr_error_t *err)
{
    cleanup_free char *path = ctr_xasprintf("%s/images.json", st->root);
    cleanup_free char *text = NULL;
    json_t *arr = json_array();
    json_t *root;
    int ret;

    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr,
                              json_pack("{s:s, s:s, s:I}", "name", e[i].name, "digest", e[i].digest,
                                        "created_ns", (json_int_t)e[i].created_ns));
    root = json_pack("{s:i, s:o}", "version", 1, "images", arr);
    text = json_dumps(root, JSON_INDENT(2));
    json_decref(root);
    if (text == NULL)
        return ctr_fail(err, ENOMEM, "encode `%s`", path);
    ret = ctr_write_file_atomic(path, text, strlen(text), 0600, err);
    return ret;
}

int imgstore_index_set(struct imgstore *st, const char *name, const char *digest, ctr_error_t *err)
{
    struct imgstore_entry *e = NULL;
    size_t n, i, w = 0;
    int ret;

    if (imgstore_index_read(st, &e, &n, err) < 0)
        return -1;
    if (*name == '\0') {
        /* untagged (kept by id): only when no other name holds the image */
        for (i = 0; i < n && strcmp(e[i].digest, digest) != 0; i++)
            ;
        if (i < n) {
            imgstore_entries_free(e, n);
            return 0;
        }
    } else {
        /* a name makes the image tagged: its untagged entry goes */
        for (i = 0; i < n; i++) {
            if (e[i].name[0] == '\0' && strcmp(e[i].digest, digest) == 0) {
                free(e[i].name);
                free(e[i].digest);
            } else {
                e[w++] = e[i];
            }
        }
        n = w;
    }
    for (i = 0; *name && i < n && strcmp(e[i].name, name) != 0; i++)
        ;
    if (*name == '\0' || i == n) {
        i = n;
        e = ctr_xrealloc(e, (n + 1) * sizeof(*e));
        e[n].name = ctr_xstrdup(name);
        e[n].digest = NULL;
        n++;
    }
    free(e[i].digest);
    e[i].digest = ctr_xstrdup(digest);
    {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        e[i].created_ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
    }
    qsort(e, n, sizeof(*e), cmp_entry);
    ret = imgstore_index_write(st, e, n, err);
    imgstore_entries_free(e, n);
    return ret;
}

int imgstore_list(struct imgstore *st, struct imgstore_entry **out, size_t *n, ctr_error_t *err)
{
    return imgstore_index_read(st, out, n, err);
}

int imgstore_image_load(struct imgstore *st, const char *name, const char *manifest_digest,
                        struct imgstore_image *out, ctr_error_t *err)
{
    struct imgstore_image img = {0};
    cleanup_free char *mdata = NULL;
    cleanup_free char *cdata = NULL;
    size_t mlen, clen;
    const struct oci_platform *p;

    if (imgstore_blob_read(st, manifest_digest, OCI_MAX_MANIFEST_BYTES, &mdata, &mlen, err) < 0 ||
        oci_manifest_parse(mdata, mlen, &img.manifest, err) < 0)
        goto fail;
    if (imgstore_blob_read(st, img.manifest.config.digest, OCI_MAX_CONFIG_BYTES, &cdata, &clen,
                           err) < 0 ||
        oci_image_config_parse(cdata, clen, &img.config, err) < 0)
        goto fail;
    if ((int64_t)clen != img.manifest.config.size) {
        ctr_fail(err, 0, "config blob `%s` has %zu bytes, the manifest says %lld",
                 img.manifest.config.digest, clen, (long long)img.manifest.config.size);
        goto fail;
    }
    p = &img.config.platform;
    if (p->os && p->architecture && !oci_platform_matches_host(p)) {
        cleanup_free char *ps = oci_platform_string(p);
        ctr_fail(err, 0, "image is for `%s`; this host runs linux/amd64", ps);
        goto fail;
    }
    if (img.config.n_diff_ids != 0 && img.config.n_diff_ids != img.manifest.n_layers) {
        ctr_fail(err, 0, "image config lists %zu layers (rootfs.diff_ids) but the manifest has %zu",
                 img.config.n_diff_ids, img.manifest.n_layers);
        goto fail;
    }
    img.size = (int64_t)mlen + (int64_t)clen;
    for (size_t i = 0; i < img.manifest.n_layers; i++)
        img.size += img.manifest.layers[i].size;
    img.name = name ? ctr_xstrdup(name) : NULL;
    img.manifest_digest = ctr_xstrdup(manifest_digest);
    img.config_digest = ctr_xstrdup(img.manifest.config.digest);
    *out = img;
    return 0;
fail:
    imgstore_image_release(&img);
    if (name)
        ctr_error_wrap(err, "image `%s`", name);
    return -1;
}

static bool is_hex(const char *s)
{
    if (*s == '\0')
        return false;
    for (; *s; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
            return false;
    return true;
}

/* Find the entry index for a user's reference: a name first (as docker), then a
 * digest, then a unique hex prefix of a manifest digest. -1 = not found. */
static ssize_t find_entry(const struct imgstore_entry *e, size_t n, const char *ref,
                          char **digest_only)
{
    struct oci_ref r = {0};
    ctr_error_t perr = NULL;
    const char *hex = NULL;
    ssize_t found = -1;

    *digest_only = NULL;
    if (oci_ref_parse(ref, &r, &perr) == 0) {
        cleanup_free char *full = oci_ref_string(&r);
        for (size_t i = 0; i < n && found < 0; i++)
            if (strcmp(e[i].name, full) == 0)
                found = (ssize_t)i;
        if (found < 0 && r.digest) {
            /* repo@digest: any local name of that repository with that manifest. */
            cleanup_free char *repo = oci_ref_repo(&r);
            size_t rl = strlen(repo);
            for (size_t i = 0; i < n && found < 0; i++)
                if (strcmp(e[i].digest, r.digest) == 0 && strncmp(e[i].name, repo, rl) == 0 &&
                    (e[i].name[rl] == ':' || e[i].name[rl] == '@'))
                    found = (ssize_t)i;
        }
        oci_ref_release(&r);
        if (found >= 0)
            return found;
    }
    ctr_error_free(&perr);
    if (strncmp(ref, OCI_DIGEST_PREFIX, strlen(OCI_DIGEST_PREFIX)) == 0)
        hex = ref + strlen(OCI_DIGEST_PREFIX);
    else if (is_hex(ref))
        hex = ref;
    if (hex && is_hex(hex)) {
        size_t hl = strlen(hex);
        const char *match = NULL;
        for (size_t i = 0; i < n; i++) {
            if (strncmp(oci_digest_hex(e[i].digest), hex, hl) != 0)
                continue;
            if (match && strcmp(match, e[i].digest) != 0)
                return -2; /* ambiguous */
            match = e[i].digest;
            found = (ssize_t)i;
        }
        if (match)
            *digest_only = ctr_xstrdup(match);
    }
    return found;
}

/* errnum ENOENT lets callers (the API's 404) tell this apart, without strerror text. */
static int not_found(const char *ref, ctr_error_t *err)
{
    struct oci_ref r = {0};
    ctr_error_t perr = NULL;

    /* Something that is neither a reference nor an id: say what is wrong with it. */
    if (!is_hex(ref) && strncmp(ref, OCI_DIGEST_PREFIX, strlen(OCI_DIGEST_PREFIX)) != 0 &&
        oci_ref_parse(ref, &r, &perr) < 0) {
        if (err && *err == NULL)
            *err = ctr_steal_ptr(perr);
        ctr_error_free(&perr);
        return -1;
    }
    oci_ref_release(&r);
    ctr_fail(err, 0, "image `%s` not found locally", ref);
    if (err && *err)
        (*err)->errnum = ENOENT;
    return -1;
}

int imgstore_resolve(struct imgstore *st, const char *ref, struct imgstore_image *out,
                     ctr_error_t *err)
{
    struct imgstore_entry *e = NULL;
    cleanup_free char *digest_only = NULL;
    size_t n;
    ssize_t i;
    int ret;

    if (ref == NULL || *ref == '\0')
        return ctr_fail(err, 0, "no image given");
    if (imgstore_index_read(st, &e, &n, err) < 0)
        return -1;
    i = find_entry(e, n, ref, &digest_only);
    if (i == -2) {
        imgstore_entries_free(e, n);
        return ctr_fail(err, 0, "image id prefix `%s` is ambiguous; give more digits", ref);
    }
    if (i < 0) {
        imgstore_entries_free(e, n);
        return not_found(ref, err);
    }
    ret = imgstore_image_load(st, digest_only ? NULL : e[i].name, e[i].digest, out, err);
    imgstore_entries_free(e, n);
    return ret;
}

int imgstore_tag_manifest(struct imgstore *st, const char *name, const char *manifest_digest,
                          ctr_error_t *err)
{
    struct imgstore_image img = {0};
    cleanup_free char *full = NULL;
    int ret;

    full = *name ? oci_ref_normalize(name, err) : ctr_xstrdup(IMGSTORE_UNTAGGED);
    if (full == NULL)
        return -1;
    /* repo@digest names record pulls by digest (docker's RepoDigests); a tag plus a
     * digest names nothing stable. */
    struct oci_ref r = {0};
    if (*full && oci_ref_parse(full, &r, err) < 0)
        return -1;
    bool both = r.tag && r.digest;
    oci_ref_release(&r);
    if (both)
        return ctr_fail(err, 0, "cannot tag `%s`: a name with a digest is not a tag", name);
    if (imgstore_lock(st, err) < 0)
        return -1;
    ret = imgstore_image_load(st, NULL, manifest_digest, &img, err);
    for (size_t i = 0; ret == 0 && i < img.manifest.n_layers; i++)
        if (!imgstore_blob_exists(st, img.manifest.layers[i].digest))
            ret = ctr_fail(err, 0, "layer `%s` of `%s` is missing from the image store",
                           img.manifest.layers[i].digest, manifest_digest);
    if (ret == 0)
        ret = imgstore_index_set(st, full, manifest_digest, err);
    imgstore_unlock(st);
    imgstore_image_release(&img);
    return ret;
}

int imgstore_tag(struct imgstore *st, const char *src, const char *dst, ctr_error_t *err)
{
    struct imgstore_image img = {0};
    int ret;
    if (imgstore_resolve(st, src, &img, err) < 0)
        return -1;
    ret = imgstore_tag_manifest(st, dst, img.manifest_digest, err);
    imgstore_image_release(&img);
    return ret;
}

int imgstore_remove(struct imgstore *st, const char *ref, ctr_error_t *err)
{
    struct imgstore_entry *e = NULL;
    cleanup_free char *digest_only = NULL;
    size_t n, w = 0;
    ssize_t i;
    int ret;

    if (imgstore_lock(st, err) < 0)
        return -1;
    if (imgstore_index_read(st, &e, &n, err) < 0) {
        imgstore_unlock(st);
        return -1;
    }
    i = find_entry(e, n, ref, &digest_only);
    if (i < 0) {
        imgstore_entries_free(e, n);
        imgstore_unlock(st);
        if (i == -2)
            return ctr_fail(err, 0, "image id prefix `%s` is ambiguous; give more digits", ref);
        return not_found(ref, err);
    }
    /* By name: that name only. By id: every name of that image. */
    for (size_t r = 0; r < n; r++) {
        bool drop = digest_only ? strcmp(e[r].digest, digest_only) == 0 : r == (size_t)i;
        if (drop) {
            free(e[r].name);
            free(e[r].digest);
        } else {
            e[w++] = e[r];
        }
    }
    ret = imgstore_index_write(st, e, w, err);
    imgstore_entries_free(e, w);
    imgstore_unlock(st);
    return ret;
}
