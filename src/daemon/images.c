/* The image service over the local store (src/image/store.h): list, get, remove, tag,
 * load, save and prune (pull and push: pull.c; archives: archive.c). The Docker edge
 * is api/images.c. docs/images.md. */
#include "daemon/daemon-internal.h"
#include "image/store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

char *dmn_image_familiar(const char *name)
{
    struct oci_ref ref = {0};
    if (oci_ref_parse(name, &ref, NULL) < 0)
        return ctr_xstrdup(name);
    char *f = oci_ref_familiar(&ref);
    oci_ref_release(&ref);
    return f;
}

/* Names pointing at digest: tags (familiar), repo@digest names, and all as stored. */
static void names_of(struct imgstore_entry *e, size_t n, struct dmn_image *out)
{
    const char *digest = out->img.manifest_digest;
    out->tags = ctr_xcalloc(1, sizeof(char *));
    out->digests = ctr_xcalloc(1, sizeof(char *));
    out->names = ctr_xcalloc(1, sizeof(char *));
    for (size_t i = 0; i < n; i++) {
        if (strcmp(e[i].digest, digest) != 0 || e[i].name[0] == '\0') /* untagged */
            continue;
        ctr_strv_append(&out->names, e[i].name);
        if (strchr(e[i].name, '@')) {
            ctr_strv_append(&out->digests, e[i].name);
            continue;
        }
        cleanup_free char *f = dmn_image_familiar(e[i].name);
        ctr_strv_append(&out->tags, f);
    }
}

static size_t containers_using(struct dmn *d, const char *digest, char *first_id)
{
    size_t n = 0;
    dmn_lock(d);
    for (size_t i = 0; i < d->n_ctrs; i++) {
        if (d->ctrs[i]->image_id && strcmp(d->ctrs[i]->image_id, digest) == 0) {
            if (n++ == 0 && first_id)
                snprintf(first_id, 65, "%s", d->ctrs[i]->id);
        }
    }
    dmn_unlock(d);
    return n;
}

void dmn_image_release(struct dmn_image *im)
{
    imgstore_image_release(&im->img);
    ctr_strv_free(im->tags);
    ctr_strv_free(im->digests);
    ctr_strv_free(im->names);
    memset(im, 0, sizeof(*im));
}

void dmn_images_free(struct dmn_image *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dmn_image_release(&v[i]);
    free(v);
}

void dmn_image_changes_free(struct dmn_image_change *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i].untagged);
        free(v[i].deleted);
    }
    free(v);
}

static void change_add(struct dmn_image_change **v, size_t *n, const char *untagged,
                       const char *deleted)
{
    *v = ctr_xrealloc(*v, (*n + 1) * sizeof(**v));
    (*v)[*n].untagged = untagged ? ctr_xstrdup(untagged) : NULL;
    (*v)[*n].deleted = deleted ? ctr_xstrdup(deleted) : NULL;
    (*n)++;
}

int64_t dmn_image_created_ns(const struct dmn_image *im)
{
    int64_t ns = 0;
    if (im->img.config.created && dmn_time_parse(im->img.config.created, &ns) == 0)
        return ns;
    return 0;
}

int dmn_images_list(struct dmn *d, bool count_containers, struct dmn_image **out, size_t *n_out,
                    ctr_error_t *err)
{
    struct imgstore_entry *e = NULL;
    size_t n = 0, k = 0;

    dmn_img_lock(d);
    if (imgstore_list(d->images, &e, &n, err) < 0) {
        dmn_img_unlock(d);
        return -1;
    }
    struct dmn_image *v = ctr_xcalloc(n + 1, sizeof(*v));
    for (size_t i = 0; i < n; i++) {
        size_t j;
        for (j = 0; j < i && strcmp(e[j].digest, e[i].digest) != 0; j++)
            ;
        if (j < i)
            continue; /* one entry per manifest */
        ctr_error_t e2 = NULL;
        if (imgstore_resolve(d->images, e[i].digest, &v[k].img, &e2) < 0) {
            log_warn("image `%s`: %s", e[i].name, e2->msg);
            ctr_error_free(&e2);
            continue;
        }
        names_of(e, n, &v[k]);
        v[k].stored_ns = e[i].created_ns;
        if (count_containers)
            v[k].containers = containers_using(d, e[i].digest, NULL);
        k++;
    }
    dmn_img_unlock(d);
    imgstore_entries_free(e, n);
    *out = v;
    *n_out = k;
    return 0;
}

/* imgstore_resolve with Docker's errors: ENOENT `No such image: REF`, EINVAL for what is
 * not a reference. */
static int resolve(struct dmn *d, const char *ref, struct imgstore_image *img, ctr_error_t *err)
{
    dmn_img_lock(d);
    int rc = imgstore_resolve(d->images, ref, img, err);
    dmn_img_unlock(d);
    if (rc == 0)
        return 0;
    if ((*err)->errnum == ENOENT) {
        ctr_error_free(err);
        return dmn_fail(err, ENOENT, "No such image: %s", ref);
    }
    if ((*err)->errnum == 0) {
        ctr_error_t e2 = NULL;
        cleanup_free char *norm = oci_ref_normalize(ref, &e2);
        ctr_error_free(&e2);
        if (norm == NULL)
            (*err)->errnum = EINVAL; /* not a reference: Docker's 400 invalid reference format */
    }
    return -1;
}

int dmn_image_get(struct dmn *d, const char *ref, struct dmn_image *out, ctr_error_t *err)
{
    struct imgstore_entry *e = NULL;
    size_t n = 0;
    ctr_error_t e2 = NULL;

    memset(out, 0, sizeof(*out));
    if (resolve(d, ref, &out->img, err) < 0)
        return -1;
    dmn_img_lock(d);
    if (imgstore_list(d->images, &e, &n, &e2) < 0)
        ctr_error_free(&e2);
    dmn_img_unlock(d);
    names_of(e, n, out);
    imgstore_entries_free(e, n);
    return 0;
}

/* Sweep what no name and no container reaches (containers run from the snapshot). */
static int gc_store(struct dmn *d, struct imgstore_gc_result *out, ctr_error_t *err)
{
    cleanup_strv char **in_use = ctr_xcalloc(1, sizeof(char *));
    dmn_lock(d);
    for (size_t i = 0; i < d->n_ctrs; i++)
        if (d->ctrs[i]->image_id)
            ctr_strv_append(&in_use, d->ctrs[i]->image_id);
    dmn_unlock(d);
    dmn_img_lock(d);
    int rc = imgstore_gc(d->images, (const char *const *)in_use, out, err);
    dmn_img_unlock(d);
    if (rc == 0)
        log_info("image store gc: %zu blobs, %zu snapshots, %llu bytes freed", out->blobs_removed,
                 out->snapshots_removed, (unsigned long long)out->bytes_freed);
    return rc;
}

int dmn_image_remove(struct dmn *d, const char *ref, bool force, struct dmn_image_change **out,
                     size_t *n_out, ctr_error_t *err)
{
    struct imgstore_image img = {0};
    struct imgstore_entry *e = NULL;
    size_t n = 0;
    char user[65] = "";
    struct dmn_image_change *ch = NULL;
    size_t nch = 0;

    if (resolve(d, ref, &img, err) < 0)
        return -1;
    cleanup_free char *digest = ctr_xstrdup(img.manifest_digest);
    bool by_name = img.name != NULL;
    cleanup_free char *name = img.name ? ctr_xstrdup(img.name) : NULL;
    imgstore_image_release(&img);
    dmn_img_lock(d);
    if (imgstore_list(d->images, &e, &n, err) < 0) {
        dmn_img_unlock(d);
        return -1;
    }
    /* The image goes with its last tag; repo@digest names go with it (docker's
     * RepoDigests). */
    size_t others = 0;
    for (size_t i = 0; i < n; i++)
        others += strcmp(e[i].digest, digest) == 0 && e[i].name[0] && !strchr(e[i].name, '@') &&
                  (!by_name || strcmp(e[i].name, name) != 0);
    bool last = !by_name || others == 0;
    if (last && !force && containers_using(d, digest, user) > 0) {
        dmn_img_unlock(d);
        imgstore_entries_free(e, n);
        return dmn_fail(err, EBUSY,
                        "conflict: unable to remove repository reference \"%s\" (must force) - "
                        "container %.12s is using its referenced image %.12s",
                        ref, user, digest + 7);
    }
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (strcmp(e[i].digest, digest) != 0 || (!last && strcmp(e[i].name, name) != 0))
            continue;
        if (e[i].name[0] == '\0') { /* untagged: it goes by id, with no Untagged line */
            rc = imgstore_remove(d->images, digest, err);
            continue;
        }
        rc = imgstore_remove(d->images, e[i].name, err);
        cleanup_free char *f = dmn_image_familiar(e[i].name);
        if (rc == 0)
            change_add(&ch, &nch, f, NULL);
    }
    dmn_img_unlock(d);
    imgstore_entries_free(e, n);
    if (rc < 0) {
        dmn_image_changes_free(ch, nch);
        return -1;
    }
    if (last) {
        change_add(&ch, &nch, NULL, digest);
        struct imgstore_gc_result gc;
        if (gc_store(d, &gc, err) < 0) {
            dmn_image_changes_free(ch, nch);
            return -1;
        }
        dmn_lock(d);
        dmn_event_emit_locked(d, "image", "delete", digest, json_pack("{s:s}", "name", ref));
        dmn_unlock(d);
    } else {
        dmn_lock(d);
        dmn_event_emit_locked(d, "image", "untag", digest, json_pack("{s:s}", "name", ref));
        dmn_unlock(d);
    }
    *out = ch;
    *n_out = nch;
    return 0;
}

int dmn_image_tag(struct dmn *d, const char *ref, const char *repo, const char *tag,
                  ctr_error_t *err)
{
    struct imgstore_image img = {0};

    if (resolve(d, ref, &img, err) < 0)
        return -1;
    cleanup_free char *dst = ctr_xasprintf("%s:%s", repo, tag && *tag ? tag : "latest");
    cleanup_free char *norm = oci_ref_normalize(dst, err);
    if (norm == NULL) {
        imgstore_image_release(&img);
        (*err)->errnum = EINVAL;
        return -1;
    }
    dmn_img_lock(d);
    int rc = imgstore_tag(d->images, img.manifest_digest, norm, err);
    dmn_img_unlock(d);
    if (rc == 0) {
        dmn_lock(d);
        cleanup_free char *f = dmn_image_familiar(norm);
        dmn_event_emit_locked(d, "image", "tag", img.manifest_digest,
                              json_pack("{s:s}", "name", f));
        dmn_unlock(d);
    }
    imgstore_image_release(&img);
    return rc;
}

int dmn_image_load(struct dmn *d, const char *tar_path, char ***loaded, ctr_error_t *err)
{
    cleanup_strv char **names = NULL;

    if (dmn_archive_load(d, tar_path, &names, err) < 0) {
        (*err)->errnum = (*err)->errnum == EINVAL || (*err)->errnum == 0 ? EINVAL : (*err)->errnum;
        return -1;
    }
    char **out = ctr_xcalloc(1, sizeof(char *));
    for (size_t i = 0; names[i]; i++) {
        /* an image loaded by id (no name) comes back as its digest */
        cleanup_free char *f = strncmp(names[i], OCI_DIGEST_PREFIX, strlen(OCI_DIGEST_PREFIX)) == 0
                                   ? ctr_xstrdup(names[i])
                                   : dmn_image_familiar(names[i]);
        ctr_strv_append(&out, f);
        dmn_lock(d);
        dmn_event_emit_locked(d, "image", "load", names[i], json_pack("{s:s}", "name", f));
        dmn_unlock(d);
    }
    *loaded = out;
    return 0;
}

int dmn_image_save(struct dmn *d, char *const *refs, int *fd_out, ctr_error_t *err)
{
    for (size_t i = 0; refs[i]; i++) {
        struct imgstore_image img = {0};
        if (resolve(d, refs[i], &img, err) < 0)
            return -1;
        imgstore_image_release(&img);
    }
    cleanup_free char *path = ctr_xasprintf("%s/save-XXXXXX", d->tmp_dir);
    int fd = mkostemp(path, O_CLOEXEC);
    if (fd < 0)
        return dmn_fail(err, EIO, "cannot create a file in `%s`: %s", d->tmp_dir, strerror(errno));
    unlink(path);
    if (dmn_archive_save(d, refs, fd, err) < 0) {
        close(fd);
        return -1;
    }
    *fd_out = fd;
    return 0;
}

int dmn_images_prune(struct dmn *d, bool all, struct dmn_image_change **out, size_t *n_out,
                     uint64_t *reclaimed, ctr_error_t *err)
{
    struct imgstore_entry *e = NULL;
    size_t n = 0;
    struct imgstore_gc_result gc;
    struct dmn_image_change *ch = NULL;
    size_t nch = 0;

    json_t *done = json_object();
    dmn_img_lock(d);
    int rc = imgstore_list(d->images, &e, &n, err);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        const char *dg = e[i].digest;
        bool tagged = false;
        if (json_object_get(done, dg))
            continue;
        json_object_set_new(done, dg, json_true());
        for (size_t k = 0; k < n; k++)
            tagged =
                tagged || (strcmp(e[k].digest, dg) == 0 && e[k].name[0] && !strchr(e[k].name, '@'));
        if ((tagged && !all) || containers_using(d, dg, NULL) > 0)
            continue;
        for (size_t k = 0; rc == 0 && k < n; k++) {
            if (strcmp(e[k].digest, dg) != 0)
                continue;
            if (e[k].name[0] == '\0') { /* dangling: removed by id */
                rc = imgstore_remove(d->images, dg, err);
                continue;
            }
            rc = imgstore_remove(d->images, e[k].name, err);
            cleanup_free char *fam = dmn_image_familiar(e[k].name);
            change_add(&ch, &nch, fam, NULL);
        }
        change_add(&ch, &nch, NULL, dg);
    }
    dmn_img_unlock(d);
    imgstore_entries_free(e, n);
    json_decref(done);
    if (rc == 0)
        rc = gc_store(d, &gc, err);
    if (rc < 0) {
        dmn_image_changes_free(ch, nch);
        return -1;
    }
    *out = ch;
    *n_out = nch;
    *reclaimed = gc.bytes_freed;
    return 0;
}
