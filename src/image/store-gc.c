/* Garbage collection of the store: mark every blob reachable from a named image
 * (or from an image a caller still uses, e.g. a container's), sweep the rest of
 * content/blobs and of snapshots/. Runs under the store lock. */
#include "image/store-internal.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void mark(json_t *set, const char *digest)
{
    if (digest && oci_digest_valid(digest))
        json_object_set_new(set, oci_digest_hex(digest), json_true());
}

/* Mark an image's manifest, config and layers; a manifest that cannot be read
 * keeps only itself (and its snapshot). */
static void mark_image(struct imgstore *st, const char *manifest, json_t *blobs, json_t *snaps)
{
    struct imgstore_image img = {0};
    ctr_error_t err = NULL;

    mark(blobs, manifest);
    mark(snaps, manifest);
    if (imgstore_image_load(st, NULL, manifest, &img, &err) < 0) {
        log_warn("image store gc: keeping `%s` alone: %s", manifest, err->msg);
        ctr_error_free(&err);
        return;
    }
    mark(blobs, img.config_digest);
    for (size_t i = 0; i < img.manifest.n_layers; i++)
        mark(blobs, img.manifest.layers[i].digest);
    imgstore_image_release(&img);
}

static uint64_t file_bytes(const char *path)
{
    struct stat s;
    return lstat(path, &s) == 0 ? (uint64_t)s.st_blocks * 512 : 0;
}

static uint64_t tree_bytes(const char *path)
{
    struct stat s;
    uint64_t n = 0;
    DIR *d;
    struct dirent *de;

    if (lstat(path, &s) < 0)
        return 0;
    n = (uint64_t)s.st_blocks * 512;
    if (!S_ISDIR(s.st_mode) || (d = opendir(path)) == NULL)
        return n;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        cleanup_free char *p = ctr_xasprintf("%s/%s", path, de->d_name);
        n += tree_bytes(p);
    }
    closedir(d);
    return n;
}

/* Remove entries of dir (named by a digest's hex) that are not in keep. */
static int sweep(const char *dir, json_t *keep, bool trees, struct imgstore_gc_result *res,
                 ctr_error_t *err)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    int ret = 0;

    if (d == NULL)
        return errno == ENOENT ? 0 : ctr_fail(err, errno, "open `%s`", dir);
    while (ret == 0 && (de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.' || json_object_get(keep, de->d_name))
            continue;
        cleanup_free char *p = ctr_xasprintf("%s/%s", dir, de->d_name);
        uint64_t bytes = trees ? tree_bytes(p) : file_bytes(p);
        if (trees) {
            ret = ctr_rm_rf(p, err);
            res->snapshots_removed += ret == 0;
        } else if (unlink(p) < 0) {
            ret = ctr_fail(err, errno, "remove blob `%s`", p);
        } else {
            res->blobs_removed++;
        }
        if (ret == 0)
            res->bytes_freed += bytes;
    }
    closedir(d);
    return ret;
}

int imgstore_gc(struct imgstore *st, const char *const *in_use, struct imgstore_gc_result *out,
                ctr_error_t *err)
{
    struct imgstore_entry *e = NULL;
    struct imgstore_gc_result res = {0};
    size_t n = 0;
    cleanup_json json_t *blobs = json_object(), *snaps = json_object();
    cleanup_free char *bdir = ctr_xasprintf("%s/content/blobs/sha256", st->root);
    cleanup_free char *sdir = ctr_xasprintf("%s/snapshots", st->root);
    int ret = -1;

    if (imgstore_lock(st, err) < 0)
        return -1;
    if (imgstore_index_read(st, &e, &n, err) < 0)
        goto unlock;
    for (size_t i = 0; i < n; i++)
        mark_image(st, e[i].digest, blobs, snaps);
    for (size_t i = 0; in_use && in_use[i]; i++)
        mark_image(st, in_use[i], blobs, snaps);
    if (sweep(bdir, blobs, false, &res, err) < 0 || sweep(sdir, snaps, true, &res, err) < 0)
        goto unlock;
    if (imgstore_ingest_cleanup(st, err) < 0)
        goto unlock;
    *out = res;
    ret = 0;
unlock:
    imgstore_unlock(st);
    imgstore_entries_free(e, n);
    return ret;
}
