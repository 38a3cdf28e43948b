/* Image snapshots: one ext4 image per manifest, made by the unpacker from the
 * manifest's layers in order, plus a copy of the image config. */
#include "image/store-internal.h"
#include "image/unpack.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static bool is_file(const char *p)
{
    struct stat s;
    return lstat(p, &s) == 0 && S_ISREG(s.st_mode);
}

static int make_snapshot(struct imgstore *st, const struct imgstore_image *img, const char *dir,
                         const char *path, ctr_error_t *err)
{
    struct unpack_layer *layers = NULL;
    char **blob_paths = NULL;
    struct unpack_opts uo = {0};
    cleanup_free char *cfg = NULL;
    cleanup_free char *cfg_path = NULL;
    size_t n = img->manifest.n_layers, clen;
    int ret = -1;

    if (ctr_mkdir_p(dir, 0700, err) < 0)
        return -1;
    layers = ctr_xcalloc(n + 1, sizeof(*layers));
    blob_paths = ctr_xcalloc(n + 1, sizeof(char *));
    for (size_t i = 0; i < n; i++) {
        const struct oci_descriptor *d = &img->manifest.layers[i];
        struct stat s;
        blob_paths[i] = imgstore_blob_path(st, d->digest);
        if (lstat(blob_paths[i], &s) < 0 || !S_ISREG(s.st_mode)) {
            ctr_fail(err, 0, "layer `%s` is missing from the image store", d->digest);
            goto out;
        }
        if ((int64_t)s.st_size != d->size) {
            ctr_fail(err, 0, "layer `%s` in the image store has %lld bytes, the manifest says %lld",
                     d->digest, (long long)s.st_size, (long long)d->size);
            goto out;
        }
        layers[i].path = blob_paths[i];
        layers[i].fd = -1;
        layers[i].media_type = d->media_type;
        layers[i].digest = d->digest;
    }
    /* The config next to the image, for whoever wants it without the store. */
    if (imgstore_blob_read(st, img->config_digest, OCI_MAX_CONFIG_BYTES, &cfg, &clen, err) < 0)
        goto out;
    cfg_path = ctr_xasprintf("%s/config.json", dir);
    if (ctr_write_file_atomic(cfg_path, cfg, clen, 0644, err) < 0)
        goto out;
    if (unpack_layers(path, layers, n, &uo, NULL, err) < 0)
        goto out;
    ret = 0;
out:
    ctr_strv_free(blob_paths);
    free(layers);
    return ret;
}

int imgstore_snapshot(struct imgstore *st, const struct imgstore_image *img, char **path_out,
                      ctr_error_t *err)
{
    cleanup_free char *dir = NULL;
    cleanup_free char *path = NULL;
    int ret = 0;

    if (!oci_digest_valid(img->manifest_digest))
        return ctr_fail(err, 0, "image has no valid manifest digest");
    dir = ctr_xasprintf("%s/snapshots/%s", st->root, oci_digest_hex(img->manifest_digest));
    path = ctr_xasprintf("%s/%s", dir, IMGSTORE_SNAPSHOT_FILE);
    /* The unpacker renames a finished image into place: if it exists, it is whole. */
    if (!is_file(path)) {
        if (imgstore_lock(st, err) < 0)
            return -1;
        if (!is_file(path))
            ret = make_snapshot(st, img, dir, path, err);
        imgstore_unlock(st);
        if (ret < 0)
            return ctr_error_wrap(err, "unpack image `%s`",
                                  img->name ? img->name : img->manifest_digest);
    }
    *path_out = ctr_steal_ptr(path);
    return 0;
}
