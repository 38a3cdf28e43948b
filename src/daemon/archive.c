/* Image archives (libarchive): `docker save` output (docker-archive: manifest.json
 * + config + layer files, with or without an OCI layout inside) and OCI layout
 * archives are loaded into the store; saves write both forms in one tar
 * (manifest.json + index.json + blobs/sha256), so docker and OCI tools read it
 * and the image id (manifest digest) survives a round trip. */
#include "daemon/daemon-internal.h"
#include "image/store.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- manifest.json ---- */

void dmn_docker_manifest_free(struct dmn_docker_manifest *m, size_t n)
{
    for (size_t i = 0; m && i < n; i++) {
        free(m[i].config);
        ctr_strv_free(m[i].repo_tags);
        ctr_strv_free(m[i].layers);
    }
    free(m);
}

static bool safe_rel_path(const char *p)
{
    if (p == NULL || *p == '\0' || p[0] == '/' || strlen(p) > 1024)
        return false;
    for (const char *s = p; *s;) {
        size_t l = strcspn(s, "/");
        if ((l == 2 && strncmp(s, "..", 2) == 0))
            return false;
        s += l;
        if (*s == '/')
            s++;
    }
    return true;
}

int dmn_docker_manifest_parse(const char *json, size_t len, struct dmn_docker_manifest **out,
                              size_t *n, ctr_error_t *err)
{
    json_error_t je;
    json_t *j = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
    size_t i, k;
    json_t *e, *v;

    if (j == NULL)
        return dmn_fail(err, EINVAL, "manifest.json: %s", je.text);
    if (!json_is_array(j) || json_array_size(j) == 0 || json_array_size(j) > 1024) {
        json_decref(j);
        return dmn_fail(err, EINVAL, "manifest.json: expected a list of 1 to 1024 images");
    }
    struct dmn_docker_manifest *m = ctr_xcalloc(json_array_size(j), sizeof(*m));
    json_array_foreach(j, i, e)
    {
        const char *cfg = json_string_value(json_object_get(e, "Config"));
        json_t *tags = json_object_get(e, "RepoTags"), *layers = json_object_get(e, "Layers");
        if (!safe_rel_path(cfg)) {
            dmn_fail(err, EINVAL, "manifest.json: image %zu: `Config` is missing or unsafe", i);
            goto fail;
        }
        if (!json_is_array(layers) || json_array_size(layers) > OCI_MAX_LAYERS) {
            dmn_fail(err, EINVAL, "manifest.json: image %zu: `Layers` must be a list (at most %d)",
                     i, OCI_MAX_LAYERS);
            goto fail;
        }
        if (tags && !json_is_null(tags) && !json_is_array(tags)) {
            dmn_fail(err, EINVAL, "manifest.json: image %zu: `RepoTags` must be a list", i);
            goto fail;
        }
        m[i].config = ctr_xstrdup(cfg);
        m[i].layers = ctr_xcalloc(json_array_size(layers) + 1, sizeof(char *));
        json_array_foreach(layers, k, v)
        {
            if (!safe_rel_path(json_string_value(v))) {
                dmn_fail(err, EINVAL, "manifest.json: image %zu: layer %zu is missing or unsafe", i,
                         k);
                goto fail;
            }
            m[i].layers[k] = ctr_xstrdup(json_string_value(v));
        }
        m[i].repo_tags = ctr_xcalloc(json_array_size(tags) + 1, sizeof(char *));
        json_array_foreach(tags, k, v)
        {
            if (!json_is_string(v)) {
                dmn_fail(err, EINVAL, "manifest.json: image %zu: tag %zu is not a string", i, k);
                goto fail;
            }
            m[i].repo_tags[k] = ctr_xstrdup(json_string_value(v));
        }
    }
    *n = json_array_size(j);
    *out = m;
    json_decref(j);
    return 0;
fail:
    dmn_docker_manifest_free(m, json_array_size(j));
    json_decref(j);
    return -1;
}

/* ---- load ---- */

static int extract(const char *tar, const char *dir, ctr_error_t *err)
{
    struct archive *a = archive_read_new();
    struct archive_entry *e;
    int r, ret = 0;

    archive_read_support_filter_all(a);
    archive_read_support_format_tar(a);
    if (archive_read_open_filename(a, tar, 65536) != ARCHIVE_OK) {
        ret = dmn_fail(err, EINVAL, "not a tar archive: %s", archive_error_string(a));
        goto out;
    }
    while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
        const char *name = archive_entry_pathname(e);
        while (name && strncmp(name, "./", 2) == 0)
            name += 2;
        if (name == NULL || *name == '\0')
            continue;
        if (!safe_rel_path(name)) {
            ret = dmn_fail(err, EINVAL, "unsafe path `%s` in the archive", name);
            goto out;
        }
        cleanup_free char *path = ctr_xasprintf("%s/%s", dir, name);
        if (archive_entry_filetype(e) == AE_IFDIR) {
            if (ctr_mkdir_p(path, 0755, err) < 0) {
                ret = -1;
                goto out;
            }
            continue;
        }
        if (archive_entry_filetype(e) != AE_IFREG)
            continue; /* symlinks etc. are not part of either format */
        cleanup_free char *parent = ctr_xstrdup(path);
        *strrchr(parent, '/') = '\0';
        if (ctr_mkdir_p(parent, 0755, err) < 0) {
            ret = -1;
            goto out;
        }
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (fd < 0) {
            ret = ctr_fail(err, errno, "create `%s`", path);
            goto out;
        }
        if (archive_read_data_into_fd(a, fd) != ARCHIVE_OK) {
            close(fd);
            ret = dmn_fail(err, EINVAL, "read `%s` from the archive: %s", name,
                           archive_error_string(a));
            goto out;
        }
        close(fd);
    }
    if (r != ARCHIVE_EOF)
        ret = dmn_fail(err, EINVAL, "corrupt archive: %s", archive_error_string(a));
out:
    archive_read_free(a);
    return ret;
}

/* Copy a file into layout/blobs/sha256/<digest>; *digest_out and *size_out get it. */
static int add_blob(const char *layout, const char *src, char dg[OCI_DIGEST_STR_LEN + 1],
                    uint64_t *size, ctr_error_t *err)
{
    if (oci_digest_file(src, dg, size, err) < 0)
        return -1;
    cleanup_free char *dst = ctr_xasprintf("%s/blobs/sha256/%s", layout, oci_digest_hex(dg));
    if (access(dst, F_OK) == 0)
        return 0;
    if (link(src, dst) == 0)
        return 0;
    cleanup_free char *data = NULL;
    size_t len;
    if (ctr_read_file(src, 1ull << 36, &data, &len, err) < 0)
        return -1;
    return ctr_write_file_atomic(dst, data, len, 0644, err);
}

static const char *layer_media_type(const char *path)
{
    unsigned char b[4] = {0};
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        if (read(fd, b, 4) < 0)
            b[0] = 0;
        close(fd);
    }
    if (b[0] == 0x1f && b[1] == 0x8b)
        return OCI_MT_LAYER_GZIP;
    if (b[0] == 0x28 && b[1] == 0xb5 && b[2] == 0x2f && b[3] == 0xfd)
        return OCI_MT_LAYER_ZSTD;
    return OCI_MT_LAYER;
}

static int write_json(const char *path, json_t *j, ctr_error_t *err)
{
    char *s = json_dumps(j, JSON_COMPACT);
    int r = ctr_write_file_atomic(path, s, strlen(s), 0644, err);
    free(s);
    return r;
}

/* One docker-archive image → an OCI layout dir of its own. */
static int docker_image_layout(const char *root, const struct dmn_docker_manifest *m,
                               const char *layout, ctr_error_t *err)
{
    cleanup_free char *blobs = ctr_xasprintf("%s/blobs/sha256", layout);
    char cdg[OCI_DIGEST_STR_LEN + 1], mdg[OCI_DIGEST_STR_LEN + 1];
    uint64_t csize;

    if (ctr_mkdir_p(blobs, 0755, err) < 0)
        return -1;
    cleanup_free char *cpath = ctr_xasprintf("%s/%s", root, m->config);
    if (add_blob(layout, cpath, cdg, &csize, err) < 0)
        return ctr_error_wrap(err, "config `%s`", m->config);
    json_t *layers = json_array();
    for (size_t i = 0; m->layers[i]; i++) {
        char ldg[OCI_DIGEST_STR_LEN + 1];
        uint64_t lsize;
        cleanup_free char *lpath = ctr_xasprintf("%s/%s", root, m->layers[i]);
        if (add_blob(layout, lpath, ldg, &lsize, err) < 0) {
            json_decref(layers);
            return ctr_error_wrap(err, "layer `%s`", m->layers[i]);
        }
        json_array_append_new(layers,
                              json_pack("{s:s,s:s,s:I}", "mediaType", layer_media_type(lpath),
                                        "digest", ldg, "size", (json_int_t)lsize));
    }
    json_t *man = json_pack("{s:i,s:s,s:{s:s,s:s,s:I},s:o}", "schemaVersion", 2, "mediaType",
                            OCI_MT_MANIFEST, "config", "mediaType", OCI_MT_CONFIG, "digest", cdg,
                            "size", (json_int_t)csize, "layers", layers);
    char *ms = json_dumps(man, JSON_COMPACT);
    json_decref(man);
    oci_digest_buf(ms, strlen(ms), mdg);
    cleanup_free char *mpath = ctr_xasprintf("%s/%s", blobs, oci_digest_hex(mdg));
    int r = ctr_write_file_atomic(mpath, ms, strlen(ms), 0644, err);
    size_t mlen = strlen(ms);
    free(ms);
    if (r < 0)
        return -1;
    cleanup_free char *lo = ctr_xasprintf("%s/oci-layout", layout);
    cleanup_free char *ix = ctr_xasprintf("%s/index.json", layout);
    json_t *layout_j = json_pack("{s:s}", "imageLayoutVersion", "1.0.0");
    json_t *index =
        json_pack("{s:i,s:[{s:s,s:s,s:I}]}", "schemaVersion", 2, "manifests", "mediaType",
                  OCI_MT_MANIFEST, "digest", mdg, "size", (json_int_t)mlen);
    r = write_json(lo, layout_j, err) < 0 || write_json(ix, index, err) < 0 ? -1 : 0;
    json_decref(layout_j);
    json_decref(index);
    return r;
}

static int load_named(struct dmn *d, const char *layout, char **tags, char ***names,
                      ctr_error_t *err)
{
    cleanup_strv char **got = NULL;
    /* no name: the image is kept by id, as Docker loads `docker save IMAGE-ID` */
    const char *first = tags && tags[0] ? tags[0] : IMGSTORE_UNTAGGED;
    dmn_img_lock(d);
    int r = imgstore_load_layout(d->images, layout, first, &got, err);
    for (size_t i = 1; r == 0 && tags && tags[i]; i++)
        r = imgstore_tag(d->images, first, tags[i], err);
    dmn_img_unlock(d);
    if (r < 0)
        return -1;
    for (size_t i = 0; got && got[i]; i++)
        ctr_strv_append(names, got[i]);
    for (size_t i = 1; tags && tags[i]; i++)
        ctr_strv_append(names, tags[i]);
    return 0;
}

/* The manifest.json entry whose config is blobs/sha256/<hex of cfg_digest>. */
static char **tags_for_config(struct dmn_docker_manifest *m, size_t n, const char *cfg_digest)
{
    for (size_t i = 0; i < n; i++) {
        const char *base = strrchr(m[i].config, '/');
        base = base ? base + 1 : m[i].config;
        if (strncmp(base, oci_digest_hex(cfg_digest), OCI_DIGEST_HEX_LEN) == 0)
            return m[i].repo_tags;
    }
    return NULL;
}

static int load_oci_layout(struct dmn *d, const char *dir, struct dmn_docker_manifest *m, size_t nm,
                           char ***names, ctr_error_t *err)
{
    cleanup_free char *ixp = ctr_xasprintf("%s/index.json", dir);
    cleanup_free char *text = NULL;
    size_t len;
    struct oci_index ix = {0};
    int ret = 0;

    if (ctr_read_file(ixp, OCI_MAX_MANIFEST_BYTES, &text, &len, err) < 0 ||
        oci_index_parse(text, len, &ix, err) < 0)
        return -1;
    if (ix.n_manifests <= 1 && nm == 0) {
        oci_index_release(&ix);
        return load_named(d, dir, NULL, names, err);
    }
    /* One sub-layout per entry, sharing the blobs, so each image keeps its names. */
    for (size_t i = 0; i < ix.n_manifests && ret == 0; i++) {
        struct oci_descriptor *de = &ix.manifests[i];
        cleanup_free char *sub = ctr_xasprintf("%s/.entry-%zu", dir, i);
        cleanup_free char *blobs = ctr_xasprintf("%s/blobs", sub);
        cleanup_free char *target = ctr_xasprintf("%s/blobs", dir);
        cleanup_free char *lo = ctr_xasprintf("%s/oci-layout", sub);
        cleanup_free char *sixp = ctr_xasprintf("%s/index.json", sub);
        char **tags = NULL;
        if (ctr_mkdir_p(sub, 0755, err) < 0 || symlink(target, blobs) < 0) {
            ret = *err ? -1 : ctr_fail(err, errno, "symlink `%s`", blobs);
            break;
        }
        json_t *one =
            json_pack("{s:i,s:[{s:s,s:s,s:I}]}", "schemaVersion", 2, "manifests", "mediaType",
                      de->media_type, "digest", de->digest, "size", (json_int_t)de->size);
        const char *aname = oci_descriptor_annotation(de, OCI_ANNOT_CONTAINERD_NAME);
        json_t *ann = json_object();
        if (aname)
            json_object_set_new(ann, OCI_ANNOT_CONTAINERD_NAME, json_string(aname));
        const char *rname = oci_descriptor_annotation(de, OCI_ANNOT_REF_NAME);
        if (rname)
            json_object_set_new(ann, OCI_ANNOT_REF_NAME, json_string(rname));
        json_object_set_new(json_array_get(json_object_get(one, "manifests"), 0), "annotations",
                            ann);
        json_t *lj = json_pack("{s:s}", "imageLayoutVersion", "1.0.0");
        if (write_json(lo, lj, err) < 0 || write_json(sixp, one, err) < 0)
            ret = -1;
        json_decref(lj);
        json_decref(one);
        if (ret < 0)
            break;
        if (nm) {
            /* docker-archive names win: find the entry's config digest */
            cleanup_free char *mp =
                ctr_xasprintf("%s/blobs/sha256/%s", dir, oci_digest_hex(de->digest));
            cleanup_free char *mt = NULL;
            size_t ml;
            struct oci_manifest man = {0};
            if (ctr_read_file(mp, OCI_MAX_MANIFEST_BYTES, &mt, &ml, NULL) == 0 &&
                oci_manifest_parse(mt, ml, &man, NULL) == 0) {
                tags = tags_for_config(m, nm, man.config.digest);
                oci_manifest_release(&man);
            }
        }
        ret = load_named(d, sub, tags && tags[0] ? tags : NULL, names, err);
    }
    oci_index_release(&ix);
    return ret;
}

int dmn_archive_load(struct dmn *d, const char *tar_path, char ***names, ctr_error_t *err)
{
    cleanup_free char *dir = ctr_xasprintf("%s/load-XXXXXX", d->tmp_dir);
    cleanup_free char *mpath = NULL, *ixpath = NULL, *mtext = NULL;
    struct dmn_docker_manifest *m = NULL;
    size_t nm = 0, mlen;
    int ret = -1;

    *names = ctr_xcalloc(1, sizeof(char *));
    if (mkdtemp(dir) == NULL)
        return ctr_fail(err, errno, "create a directory in `%s`", d->tmp_dir);
    if (extract(tar_path, dir, err) < 0)
        goto out;
    mpath = ctr_xasprintf("%s/manifest.json", dir);
    ixpath = ctr_xasprintf("%s/index.json", dir);
    bool has_manifest = access(mpath, F_OK) == 0, has_index = access(ixpath, F_OK) == 0;
    if (!has_manifest && !has_index) {
        dmn_fail(err, EINVAL,
                 "neither a docker-archive (no manifest.json) nor an OCI layout "
                 "(no index.json)");
        goto out;
    }
    if (has_manifest && (ctr_read_file(mpath, 16u << 20, &mtext, &mlen, err) < 0 ||
                         dmn_docker_manifest_parse(mtext, mlen, &m, &nm, err) < 0))
        goto out;
    if (has_index) {
        ret = load_oci_layout(d, dir, m, nm, names, err);
        goto out;
    }
    for (size_t i = 0; i < nm; i++) {
        cleanup_free char *layout = ctr_xasprintf("%s/.image-%zu", dir, i);
        if (docker_image_layout(dir, &m[i], layout, err) < 0 ||
            load_named(d, layout, m[i].repo_tags, names, err) < 0)
            goto out;
    }
    ret = 0;
out:
    dmn_docker_manifest_free(m, nm);
    ctr_error_t e2 = NULL;
    if (ctr_rm_rf(dir, &e2) < 0)
        ctr_error_free(&e2);
    return ret;
}

/* ---- save ---- */

static int tar_file(struct archive *a, const char *name, const char *path, ctr_error_t *err)
{
    struct stat st;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) < 0) {
        if (fd >= 0)
            close(fd);
        return ctr_fail(err, errno, "open `%s`", path);
    }
    struct archive_entry *e = archive_entry_new();
    archive_entry_set_pathname(e, name);
    archive_entry_set_size(e, st.st_size);
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_mtime(e, 0, 0);
    int ret = 0;
    if (archive_write_header(a, e) != ARCHIVE_OK) {
        ret = ctr_fail(err, 0, "tar: %s", archive_error_string(a));
    } else {
        char buf[65536];
        ssize_t n;
        while ((n = read(fd, buf, sizeof(buf))) > 0)
            if (archive_write_data(a, buf, (size_t)n) != n) {
                ret = ctr_fail(err, 0, "tar: %s", archive_error_string(a));
                break;
            }
    }
    archive_entry_free(e);
    close(fd);
    return ret;
}

static int tar_buf(struct archive *a, const char *name, const char *data, ctr_error_t *err)
{
    struct archive_entry *e = archive_entry_new();
    size_t len = strlen(data);
    archive_entry_set_pathname(e, name);
    archive_entry_set_size(e, (la_int64_t)len);
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    int ret = archive_write_header(a, e) != ARCHIVE_OK ||
                      archive_write_data(a, data, len) != (la_ssize_t)len
                  ? ctr_fail(err, 0, "tar: %s", archive_error_string(a))
                  : 0;
    archive_entry_free(e);
    return ret;
}

static bool seen(json_t *set, const char *digest)
{
    if (json_object_get(set, digest))
        return true;
    json_object_set_new(set, digest, json_true());
    return false;
}

static int save_blob(struct archive *a, struct dmn *d, json_t *set, const char *digest,
                     ctr_error_t *err)
{
    if (seen(set, digest))
        return 0;
    cleanup_free char *path = imgstore_blob_path(d->images, digest);
    cleanup_free char *name = ctr_xasprintf("blobs/sha256/%s", oci_digest_hex(digest));
    return tar_file(a, name, path, err);
}

int dmn_archive_save(struct dmn *d, char *const *refs, int fd, ctr_error_t *err)
{
    struct archive *a = archive_write_new();
    json_t *set = json_object(), *manifests = json_array(), *docker = json_array();
    int ret = -1;

    archive_write_set_format_pax_restricted(a);
    if (archive_write_open_fd(a, fd) != ARCHIVE_OK) {
        ctr_fail(err, 0, "tar: %s", archive_error_string(a));
        goto out;
    }
    dmn_img_lock(d);
    for (size_t i = 0; refs[i]; i++) {
        struct imgstore_image img = {0};
        if (imgstore_resolve(d->images, refs[i], &img, err) < 0) {
            dmn_img_unlock(d);
            goto out;
        }
        cleanup_free char *mpath = imgstore_blob_path(d->images, img.manifest_digest);
        struct stat st;
        json_t *layers = json_array();
        int r = stat(mpath, &st) < 0 ? ctr_fail(err, errno, "stat `%s`", mpath) : 0;
        if (r == 0)
            r = save_blob(a, d, set, img.manifest_digest, err);
        if (r == 0)
            r = save_blob(a, d, set, img.config_digest, err);
        for (size_t k = 0; r == 0 && k < img.manifest.n_layers; k++) {
            r = save_blob(a, d, set, img.manifest.layers[k].digest, err);
            json_array_append_new(
                layers,
                json_sprintf("blobs/sha256/%s", oci_digest_hex(img.manifest.layers[k].digest)));
        }
        json_t *tags = json_array(), *ann = json_object();
        if (img.name) {
            struct oci_ref ref = {0};
            if (oci_ref_parse(img.name, &ref, NULL) == 0) {
                cleanup_free char *fam = oci_ref_familiar(&ref);
                json_array_append_new(tags, json_string(fam));
                json_object_set_new(ann, OCI_ANNOT_CONTAINERD_NAME, json_string(img.name));
                if (ref.tag)
                    json_object_set_new(ann, OCI_ANNOT_REF_NAME, json_string(ref.tag));
                oci_ref_release(&ref);
            }
        }
        json_array_append_new(
            manifests,
            json_pack("{s:s,s:s,s:I,s:o}", "mediaType",
                      img.manifest.media_type ? img.manifest.media_type : OCI_MT_MANIFEST, "digest",
                      img.manifest_digest, "size", (json_int_t)st.st_size, "annotations", ann));
        json_array_append_new(
            docker, json_pack("{s:o,s:o,s:o}", "Config",
                              json_sprintf("blobs/sha256/%s", oci_digest_hex(img.config_digest)),
                              "RepoTags", tags, "Layers", layers));
        imgstore_image_release(&img);
        if (r < 0) {
            dmn_img_unlock(d);
            goto out;
        }
    }
    dmn_img_unlock(d);
    json_t *index = json_pack("{s:i,s:s,s:O}", "schemaVersion", 2, "mediaType", OCI_MT_INDEX,
                              "manifests", manifests);
    char *ix = json_dumps(index, JSON_COMPACT), *mj = json_dumps(docker, JSON_COMPACT);
    json_decref(index);
    int r = tar_buf(a, "oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}", err);
    if (r == 0)
        r = tar_buf(a, "index.json", ix, err);
    if (r == 0)
        r = tar_buf(a, "manifest.json", mj, err);
    free(ix);
    free(mj);
    if (r < 0)
        goto out;
    if (archive_write_close(a) != ARCHIVE_OK) {
        ctr_fail(err, 0, "tar: %s", archive_error_string(a));
        goto out;
    }
    ret = 0;
out:
    archive_write_free(a);
    json_decref(set);
    json_decref(manifests);
    json_decref(docker);
    return ret;
}
