/* A container's writable layer: its changes (`docker diff`) and a new image made of the
 * container's image plus that layer (`docker commit`). The layer is read by
 * src/image/layerdiff.c: from the writable disk on the host when the container is not
 * running (its guest unmounted the disk cleanly), through the shim and vminitd when it
 * runs (an ext4 a live guest writes cannot be read safely from the host). The new image
 * enters the store through ingest (blobs verified, then named), as a pull does; a crash
 * part way leaves nothing visible. docs/images.md ("Changes and layers"). */
#include "daemon/daemon-internal.h"
#include "image/layerdiff.h"
#include "image/store.h"
#include "shimc/shimc.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The digest of an empty tar (1024 zero bytes): Docker adds no layer for it. */
#define EMPTY_TAR_DIGEST "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef"

/* ---- the running container's upper directory, through the shim ---- */

struct live_get {
    struct dmn_container *c;
    int wfd;
    ctr_error_t err;
    int rc;
};

static void *live_get_thread(void *arg)
{
    struct live_get *g = arg;
    g->rc = shimc_archive_get_upper(g->c->bundle, g->wfd, &g->err);
    close(g->wfd);
    g->wfd = -1;
    return NULL;
}

static int open_live(struct dmn *d, struct dmn_container *c, const char *lower,
                     struct layerdiff **ld, ctr_error_t *err)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0)
        return ctr_fail(err, errno, "pipe");
    struct live_get g = {.c = c, .wfd = p[1]};
    pthread_t t;
    if (pthread_create(&t, NULL, live_get_thread, &g) != 0) {
        close(p[0]);
        close(p[1]);
        return dmn_fail(err, EAGAIN, "cannot start a thread");
    }
    int rc = layerdiff_open_tar(p[0], d->tmp_dir, lower, ld, err);
    close(p[0]); /* the worker sees EPIPE if the reader gave up */
    pthread_join(t, NULL);
    if (g.rc < 0) {
        if (rc == 0) {
            layerdiff_free(*ld);
            *ld = NULL;
        }
        ctr_error_free(err);
        *err = ctr_steal_ptr(g.err);
        return ctr_error_wrap(err, "read the writable layer of container `%s`", c->name);
    }
    ctr_error_free(&g.err);
    return rc;
}

/* The image snapshot of the container's image (the lower layer), or NULL without one. */
static char *lower_of(struct dmn *d, struct dmn_container *c, ctr_error_t *err)
{
    struct imgstore_image img = {0};
    char *path = NULL;
    if (c->image_id == NULL)
        return ctr_xstrdup("");
    dmn_img_lock(d);
    int rc = imgstore_resolve(d->images, c->image_id, &img, err);
    if (rc == 0)
        rc = imgstore_snapshot(d->images, &img, &path, err);
    dmn_img_unlock(d);
    imgstore_image_release(&img);
    if (rc < 0)
        return NULL;
    return path;
}

/* Read the container's layer; *op_locked says whether its op_lock is held (a container
 * that is not running: start waits until the disk was read). */
static int open_layer(struct dmn *d, struct dmn_container *c, struct layerdiff **ld,
                      bool *op_locked, ctr_error_t *err)
{
    *op_locked = false;
    cleanup_free char *lower = lower_of(d, c, err);
    if (lower == NULL)
        return -1;
    dmn_lock(d);
    bool running = c->status == DMN_RUNNING || c->status == DMN_STARTING;
    bool gone = c->removed || c->status == DMN_REMOVING || c->status == DMN_DEAD;
    bool paused = c->paused;
    dmn_unlock(d);
    if (gone)
        return dmn_fail(err, ENOENT, "No such container: %s", c->name);
    /* its guest reads the layer, and a paused VM runs nothing */
    if (paused)
        return dmn_fail(err, EBUSY, "container %s is paused: unpause it to read its changes",
                        c->name);
    if (!running) {
        dmn_op_lock(c);
        dmn_lock(d);
        running = c->status == DMN_RUNNING || c->status == DMN_STARTING;
        dmn_unlock(d);
        if (running)
            dmn_op_unlock(c);
        else
            *op_locked = true;
    }
    if (running)
        return open_live(d, c, *lower ? lower : NULL, ld, err);
    cleanup_free char *disk = ctr_xasprintf("%s/disks/rw.ext4", c->bundle);
    if (layerdiff_open_disk(disk, "/upper", *lower ? lower : NULL, ld, err) < 0)
        return ctr_error_wrap(err, "read the writable layer of container `%s`", c->name);
    return 0;
}

int dmn_container_changes(struct dmn *d, const char *ref, struct layerdiff_change **out, size_t *n,
                          ctr_error_t *err)
{
    struct dmn_container *c = dmn_container_get(d, ref, err);
    struct layerdiff *ld = NULL;
    bool locked;
    if (c == NULL)
        return -1;
    int rc = open_layer(d, c, &ld, &locked, err);
    if (rc == 0)
        rc = layerdiff_changes(ld, out, n, err);
    layerdiff_free(ld);
    if (locked)
        dmn_op_unlock(c);
    dmn_container_put(d, c);
    return rc;
}

/* ---- a new image from a base image and one layer ---- */

static char *now_rfc3339(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return dmn_time_rfc3339((int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec);
}

int dmn_image_build(struct dmn *d, const struct dmn_image_build *b, char **id_out, ctr_error_t *err)
{
    struct imgstore_image base = {0};
    cleanup_free char *base_cfg = NULL;
    cleanup_free char *created = NULL;
    size_t base_len = 0;
    bool empty = b->layer_fd < 0 || strcmp(b->diff_id, EMPTY_TAR_DIGEST) == 0;
    int rc = -1;

    dmn_img_lock(d);
    if (b->base && (imgstore_resolve(d->images, b->base, &base, err) < 0 ||
                    imgstore_blob_read(d->images, base.config_digest, OCI_MAX_CONFIG_BYTES,
                                       &base_cfg, &base_len, err) < 0))
        goto out;
    /* the image config: the base's, with the new config, rootfs and history */
    json_error_t je;
    json_t *cfg = base_cfg ? json_loadb(base_cfg, base_len, 0, &je) : json_object();
    if (!json_is_object(cfg)) {
        json_decref(cfg);
        ctr_fail(err, 0, "the config of image `%s` is not a JSON object", b->base);
        goto out;
    }
    created = now_rfc3339();
    if (!json_object_get(cfg, "architecture"))
        json_object_set_new(cfg, "architecture", json_string("amd64"));
    if (!json_object_get(cfg, "os"))
        json_object_set_new(cfg, "os", json_string("linux"));
    json_object_set_new(cfg, "created", json_string(created));
    json_object_set(cfg, "config", b->config);
    if (b->container_config) {
        json_object_set(cfg, "container_config", b->container_config);
        json_object_set_new(cfg, "container", json_string(b->container_id));
    } else {
        json_object_del(cfg, "container_config");
        json_object_del(cfg, "container");
    }
    json_object_set_new(cfg, "docker_version", json_string(""));
    if (b->author && *b->author)
        json_object_set_new(cfg, "author", json_string(b->author));
    else
        json_object_del(cfg, "author");
    if (b->comment && *b->comment)
        json_object_set_new(cfg, "comment", json_string(b->comment));
    else
        json_object_del(cfg, "comment");
    json_t *rootfs = json_object_get(cfg, "rootfs");
    if (!json_is_object(rootfs)) {
        rootfs = json_pack("{s:s,s:[]}", "type", "layers", "diff_ids");
        json_object_set_new(cfg, "rootfs", rootfs);
    }
    if (!json_is_array(json_object_get(rootfs, "diff_ids")))
        json_object_set_new(rootfs, "diff_ids", json_array());
    if (!empty)
        json_array_append_new(json_object_get(rootfs, "diff_ids"), json_string(b->diff_id));
    json_t *hist = json_object_get(cfg, "history");
    if (!json_is_array(hist)) {
        hist = json_array();
        json_object_set_new(cfg, "history", hist);
    }
    json_t *h = json_pack("{s:s}", "created", created);
    if (b->author && *b->author)
        json_object_set_new(h, "author", json_string(b->author));
    if (b->created_by && *b->created_by)
        json_object_set_new(h, "created_by", json_string(b->created_by));
    if (b->comment && *b->comment)
        json_object_set_new(h, "comment", json_string(b->comment));
    if (empty)
        json_object_set_new(h, "empty_layer", json_true());
    json_array_append_new(hist, h);
    char *cs = json_dumps(cfg, JSON_COMPACT);
    json_decref(cfg);
    if (cs == NULL) {
        ctr_fail(err, ENOMEM, "encode the image config");
        goto out;
    }
    /* the manifest: the base's layers and the new one */
    char cdg[OCI_DIGEST_STR_LEN + 1], mdg[OCI_DIGEST_STR_LEN + 1];
    oci_digest_buf(cs, strlen(cs), cdg);
    json_t *layers = json_array();
    for (size_t i = 0; i < base.manifest.n_layers; i++) {
        const struct oci_descriptor *l = &base.manifest.layers[i];
        json_array_append_new(layers, json_pack("{s:s,s:s,s:I}", "mediaType", l->media_type,
                                                "digest", l->digest, "size", (json_int_t)l->size));
    }
    if (!empty)
        json_array_append_new(layers,
                              json_pack("{s:s,s:s,s:I}", "mediaType", OCI_MT_LAYER, "digest",
                                        b->diff_id, "size", (json_int_t)b->layer_size));
    json_t *man = json_pack("{s:i,s:s,s:{s:s,s:s,s:I},s:o}", "schemaVersion", 2, "mediaType",
                            OCI_MT_MANIFEST, "config", "mediaType", OCI_MT_CONFIG, "digest", cdg,
                            "size", (json_int_t)strlen(cs), "layers", layers);
    char *ms = json_dumps(man, JSON_COMPACT);
    json_decref(man);
    oci_digest_buf(ms, strlen(ms), mdg);
    /* blobs first (each verified), the name last: all or nothing visible */
    rc = 0;
    if (!empty) {
        if (lseek(b->layer_fd, 0, SEEK_SET) < 0)
            rc = ctr_fail(err, errno, "rewind the layer");
        else
            rc = imgstore_ingest_fd(d->images, b->layer_fd, b->diff_id, b->layer_size, err);
    }
    if (rc == 0)
        rc = imgstore_ingest_buf(d->images, cs, strlen(cs), cdg, err);
    if (rc == 0)
        rc = imgstore_ingest_buf(d->images, ms, strlen(ms), mdg, err);
    if (rc == 0)
        rc = imgstore_tag_manifest(d->images, b->name ? b->name : IMGSTORE_UNTAGGED, mdg, err);
    free(cs);
    free(ms);
    if (rc == 0)
        *id_out = ctr_xstrdup(mdg);
out:
    dmn_img_unlock(d);
    imgstore_image_release(&base);
    return rc;
}

/* ---- commit ---- */

/* moby's merge(userConf, imageConf) of daemon/commit.go: what the request and its
 * changes left empty comes from the container's config. */
static void merge_config(json_t *u, json_t *c)
{
    static const char *const strs[] = {"User", "WorkingDir", "StopSignal"};
    for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
        const char *v = json_string_value(json_object_get(u, strs[i]));
        if ((v == NULL || *v == '\0') && json_object_get(c, strs[i]))
            json_object_set(u, strs[i], json_object_get(c, strs[i]));
    }
    static const char *const sets[] = {"ExposedPorts", "Volumes", "Labels"};
    for (size_t i = 0; i < sizeof(sets) / sizeof(sets[0]); i++) {
        json_t *uo = json_object_get(u, sets[i]), *co = json_object_get(c, sets[i]);
        if (!json_is_object(co))
            continue;
        if (!json_is_object(uo)) {
            json_object_set_new(u, sets[i], json_deep_copy(co));
            continue;
        }
        const char *k;
        json_t *v;
        json_object_foreach(co, k, v) if (!json_object_get(uo, k)) json_object_set(uo, k, v);
    }
    json_t *ue = json_object_get(u, "Env"), *ce = json_object_get(c, "Env");
    if (json_is_array(ce)) {
        if (!json_is_array(ue) || json_array_size(ue) == 0) {
            json_object_set_new(u, "Env", json_deep_copy(ce));
        } else {
            size_t i, j;
            json_t *ie, *x;
            json_array_foreach(ce, i, ie)
            {
                const char *s = json_string_value(ie);
                if (!s)
                    continue;
                size_t kl = strcspn(s, "=");
                bool found = false;
                json_array_foreach(ue, j, x)
                {
                    const char *t = json_string_value(x);
                    if (t && strcspn(t, "=") == kl && strncmp(t, s, kl) == 0)
                        found = true;
                }
                if (!found)
                    json_array_append(ue, ie);
            }
        }
    }
    json_t *uep = json_object_get(u, "Entrypoint");
    if (!json_is_array(uep) || json_array_size(uep) == 0) {
        json_t *uc = json_object_get(u, "Cmd");
        if ((!json_is_array(uc) || json_array_size(uc) == 0) && json_object_get(c, "Cmd"))
            json_object_set(u, "Cmd", json_object_get(c, "Cmd"));
        if (uep == NULL || json_is_null(uep))
            json_object_set(u, "Entrypoint",
                            json_object_get(c, "Entrypoint") ? json_object_get(c, "Entrypoint")
                                                             : json_null());
    }
    if (!json_object_get(u, "Healthcheck") && json_object_get(c, "Healthcheck"))
        json_object_set(u, "Healthcheck", json_object_get(c, "Healthcheck"));
    /* the rest of the container's Config (Hostname, Image, Tty ...), as Docker keeps it */
    const char *k;
    json_t *v;
    json_object_foreach(c, k, v) if (!json_object_get(u, k)) json_object_set(u, k, v);
}

static char *joined(json_t *a)
{
    char *s = ctr_xstrdup("");
    size_t i;
    json_t *v;
    json_array_foreach(a, i, v)
    {
        char *n = ctr_xasprintf("%s%s%s", s, i ? " " : "", json_string_value(v));
        free(s);
        s = n;
    }
    return s;
}

int dmn_container_commit(struct dmn *d, const struct dmn_commit_req *rq, char **id_out,
                         ctr_error_t *err)
{
    cleanup_free char *name = NULL;
    if (rq->repo && *rq->repo) {
        /* the repository may carry the tag itself (the CLI's import sends it so) */
        cleanup_free char *r =
            rq->tag && *rq->tag ? ctr_xasprintf("%s:%s", rq->repo, rq->tag) : ctr_xstrdup(rq->repo);
        if ((name = oci_ref_normalize(r, err)) == NULL) {
            (*err)->errnum = EINVAL;
            return -1;
        }
    } else if (rq->tag && *rq->tag) {
        return dmn_fail(err, EINVAL, "invalid reference format: a tag without a repository");
    }
    json_t *user = rq->config ? json_deep_copy(rq->config) : json_object();
    if (dmn_commit_changes_apply(user, rq->changes, err) < 0) {
        json_decref(user);
        return -1;
    }
    struct dmn_container *c = dmn_container_get(d, rq->container, err);
    if (c == NULL) {
        json_decref(user);
        return -1;
    }
    struct layerdiff *ld = NULL;
    bool locked = false;
    int fd = -1, rc;
    cleanup_free char *diff_id = NULL;
    int64_t size = 0;
    cleanup_free char *tmp = ctr_xasprintf("%s/commit-XXXXXX", d->tmp_dir);
    rc = open_layer(d, c, &ld, &locked, err);
    if (rc == 0) {
        fd = mkostemp(tmp, O_CLOEXEC);
        if (fd < 0)
            rc = ctr_fail(err, errno, "create a file in `%s`", d->tmp_dir);
        else
            unlink(tmp);
    }
    if (rc == 0)
        rc = layerdiff_write_tar(ld, fd, &diff_id, &size, err);
    layerdiff_free(ld);
    if (locked)
        dmn_op_unlock(c);
    if (rc == 0) {
        dmn_lock(d);
        json_t *cc = json_deep_copy(c->config);
        char *image_id = c->image_id ? ctr_xstrdup(c->image_id) : NULL;
        dmn_unlock(d);
        merge_config(user, cc);
        cleanup_free char *created_by = joined(json_object_get(cc, "Cmd"));
        struct dmn_image_build b = {
            .base = image_id,
            .layer_fd = fd,
            .diff_id = diff_id,
            .layer_size = size,
            .config = user,
            .container_config = cc,
            .container_id = c->id,
            .author = rq->author,
            .comment = rq->comment,
            .created_by = created_by,
            .name = name,
        };
        rc = dmn_image_build(d, &b, id_out, err);
        json_decref(cc);
        free(image_id);
    }
    if (fd >= 0)
        close(fd);
    if (rc == 0) {
        dmn_lock(d);
        cleanup_free char *f = name ? dmn_image_familiar(name) : NULL;
        dmn_event_emit_locked(d, "container", "commit", c->id,
                              json_pack("{s:s,s:s}", "name", c->name, "imageID", *id_out));
        if (f)
            dmn_event_emit_locked(d, "image", "tag", *id_out, json_pack("{s:s}", "name", f));
        dmn_unlock(d);
    }
    json_decref(user);
    dmn_container_put(d, c);
    return rc;
}
