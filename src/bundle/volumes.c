/* Named volumes of the default (`local`) kind: a directory DATA/volumes/NAME/_data
 * shared with containers over virtio-9p, beside DATA/volumes/NAME/volume.json
 * (name, creation time, labels, options). The block kind (`type=block,size=`) is a
 * sparse ext4 image DATA/volumes/NAME/volume.ext4 attached as a virtio-blk disk. Which containers
 * use a volume is the daemon's knowledge (their bundles' shares), not stored here. */
#include "bundle/bundle-internal.h"
#include "ext4/ext4.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int bundle_volume_check_name(const char *name, ctr_error_t *err)
{
    size_t n = strlen(name);
    bool ok = n >= 2 && n <= 128;
    for (size_t i = 0; ok && i < n; i++) {
        char c = name[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        ok = alnum || (i > 0 && (c == '_' || c == '.' || c == '-'));
    }
    if (!ok)
        return ctr_fail(err, 0, "invalid volume name `%s`: use 2-128 of [a-zA-Z0-9][a-zA-Z0-9_.-]",
                        name);
    return 0;
}

/* `--shm-size`: docker units (b, k, m, g; bare = bytes), at least 1 KiB. */
int bundle_mount_parse_size(const char *s, uint64_t *out, ctr_error_t *err)
{
    char *end = NULL;
    errno = 0;
    unsigned long long v = s && *s >= '0' && *s <= '9' ? strtoull(s, &end, 10) : 0;
    unsigned shift = 0;

    if (end == NULL || errno)
        return ctr_fail(err, 0, "invalid size `%s`: expected a number with b, k, m or g",
                        s ? s : "");
    switch (*end | 0x20) {
    case 'b':
        shift = 0, end++;
        break;
    case 'k':
        shift = 10, end++;
        break;
    case 'm':
        shift = 20, end++;
        break;
    case 'g':
        shift = 30, end++;
        break;
    default:
        break;
    }
    if (*end && strcmp(end, "b") && strcmp(end, "B") && strcmp(end, "ib") && strcmp(end, "iB"))
        return ctr_fail(err, 0, "invalid size `%s`: expected a number with b, k, m or g", s);
    if (v > (UINT64_MAX >> 30) || (v << shift) < 1024)
        return ctr_fail(err, 0, "size `%s` out of range (1k or more)", s);
    *out = (uint64_t)v << shift;
    return 0;
}

static char *vol_dir(const char *root, const char *name)
{
    return ctr_xasprintf("%s/volumes/%s", root, name);
}

json_t *bundle_volume_kv_json(char *const *kv)
{
    json_t *o = json_object();
    for (; kv && *kv; kv++) {
        const char *eq = strchr(*kv, '=');
        cleanup_free char *k = ctr_xstrndup(*kv, eq ? (size_t)(eq - *kv) : strlen(*kv));
        json_object_set_new(o, k, json_string(eq ? eq + 1 : ""));
    }
    return o;
}

static char **obj_strv(json_t *o)
{
    char **v = ctr_xcalloc(1, sizeof(char *));
    const char *k;
    json_t *val;
    json_object_foreach(o, k, val)
    {
        cleanup_free char *kv = ctr_xasprintf("%s=%s", k, json_string_value(val) ?: "");
        ctr_strv_append(&v, kv);
    }
    return v;
}

static int parse_option(const char *kv, bool *block, char **size, ctr_error_t *err)
{
    if (strncmp(kv, "type=", 5) == 0) {
        if (strcmp(kv + 5, "block") == 0)
            *block = true;
        else if (strcmp(kv + 5, "local") && strcmp(kv + 5, "dir") && strcmp(kv + 5, "none"))
            return ctr_fail(err, 0,
                            "volume option `%s` is not supported: use `type=block` (an ext4 "
                            "image) or leave `type` out (a host directory)",
                            kv);
        return 0;
    }
    if (strncmp(kv, "size=", 5) == 0) {
        free(*size);
        *size = ctr_xstrdup(kv + 5);
        return 0;
    }
    return ctr_fail(err, 0, "volume option `%s` is not supported: use `type=block` and `size=`",
                    kv);
}

int bundle_volume_parse_options(char *const *options, bool *block, uint64_t *size, ctr_error_t *err)
{
    cleanup_free char *sz = NULL;
    *block = false;
    *size = 0;
    for (char *const *o = options; o && *o; o++) {
        /* `-o type=block,size=1g` as one option, as docker's local driver takes it */
        cleanup_free char *copy = ctr_xstrdup(*o);
        char *save = NULL;
        for (char *kv = strtok_r(copy, ",", &save); kv; kv = strtok_r(NULL, ",", &save))
            if (parse_option(kv, block, &sz, err) < 0)
                return -1;
    }
    if (!*block) {
        if (sz)
            return ctr_fail(err, 0, "volume option `size=%s` needs `type=block`", sz);
        return 0;
    }
    if (sz == NULL)
        return ctr_fail(err, 0, "a block volume needs a size: add `--opt size=1g`");
    if (bundle_mount_parse_size(sz, size, err) < 0)
        return ctr_error_wrap(err, "block volume");
    if (*size < BUNDLE_VOLUME_BLOCK_MIN || *size > BUNDLE_VOLUME_BLOCK_MAX)
        return ctr_fail(err, 0, "block volume size `%s` out of range: use 16m to 16384g", sz);
    return 0;
}

/* The sparse ext4 image of a block volume (like a container's writable disk). */
static int create_block_image(const char *path, uint64_t size, ctr_error_t *err)
{
    struct ext4w_opts o = {
        .size_bytes = size,
        .inodes = size / 16384,
        .journal = true,
        .lost_found = false, /* an empty volume: the container sees an empty directory */
        .label = "volume",
    };
    ext4w_t *w = NULL;
    if (ext4w_create(path, &o, &w, err) < 0 || ext4w_close(w, err) < 0) {
        unlink(path);
        return ctr_error_wrap(err, "create block image `%s`", path);
    }
    return 0;
}

int bundle_volume_create(const char *data_root, const char *name, char **labels, char **options,
                         bool *existed, ctr_error_t *err)
{
    cleanup_free char *dir = NULL, *data = NULL, *meta = NULL, *text = NULL;
    struct stat st;
    bool block;
    uint64_t size;

    if (bundle_volume_check_name(name, err) < 0)
        return -1;
    if (bundle_volume_parse_options(options, &block, &size, err) < 0)
        return ctr_error_wrap(err, "volume `%s`", name);
    dir = vol_dir(data_root, name);
    data = block ? ctr_xasprintf("%s/volume.ext4", dir) : ctr_xasprintf("%s/_data", dir);
    meta = ctr_xasprintf("%s/volume.json", dir);
    if (stat(meta, &st) == 0) {
        if (existed) {
            *existed = true;
            return 0;
        }
        return ctr_fail(err, EEXIST, "volume `%s` already exists", name);
    }
    if (existed)
        *existed = false;
    if (ctr_mkdir_p(block ? dir : data, 0755, err) < 0 ||
        (block && create_block_image(data, size, err) < 0))
        return ctr_error_wrap(err, "create volume `%s`", name);
    json_t *j =
        json_pack("{s:s, s:I, s:o, s:o}", "name", name, "created", (json_int_t)time(NULL), "labels",
                  bundle_volume_kv_json(labels), "options", bundle_volume_kv_json(options));
    if (block) {
        json_object_set_new(j, "kind", json_string("block"));
        json_object_set_new(j, "size", json_integer((json_int_t)size));
    }
    text = json_dumps(j, JSON_INDENT(2));
    json_decref(j);
    if (ctr_write_file_atomic(meta, text, strlen(text), 0644, err) < 0)
        return ctr_error_wrap(err, "create volume `%s`", name);
    return 0;
}

int bundle_volume_ensure(const char *data_root, const char *name, char **dir, ctr_error_t *err)
{
    bool existed;
    if (bundle_volume_create(data_root, name, NULL, NULL, &existed, err) < 0)
        return -1;
    cleanup_free char *d = vol_dir(data_root, name);
    *dir = ctr_xasprintf("%s/_data", d);
    return 0;
}

void bundle_volume_release(struct bundle_volume *v)
{
    free(v->name);
    free(v->mountpoint);
    ctr_strv_free(v->labels);
    ctr_strv_free(v->options);
    memset(v, 0, sizeof(*v));
}

int bundle_volume_load(const char *data_root, const char *name, struct bundle_volume *out,
                       ctr_error_t *err)
{
    cleanup_free char *dir = NULL, *meta = NULL;
    json_error_t je;

    if (bundle_volume_check_name(name, err) < 0)
        return -1;
    dir = vol_dir(data_root, name);
    meta = ctr_xasprintf("%s/volume.json", dir);
    json_t *j = json_load_file(meta, 0, &je);
    if (j == NULL) {
        if (access(meta, F_OK) < 0)
            return ctr_fail(err, ENOENT, "volume `%s` not found", name);
        return ctr_fail(err, 0, "volume `%s`: `%s`: %s", name, meta, je.text);
    }
    out->name = ctr_xstrdup(name);
    out->block = json_is_string(json_object_get(j, "kind")) &&
                 strcmp(json_string_value(json_object_get(j, "kind")), "block") == 0;
    out->size = out->block ? (uint64_t)json_integer_value(json_object_get(j, "size")) : 0;
    out->mountpoint =
        out->block ? ctr_xasprintf("%s/volume.ext4", dir) : ctr_xasprintf("%s/_data", dir);
    out->created = (int64_t)json_integer_value(json_object_get(j, "created"));
    out->labels = obj_strv(json_object_get(j, "labels"));
    out->options = obj_strv(json_object_get(j, "options"));
    json_decref(j);
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int bundle_volume_list(const char *data_root, char ***names, ctr_error_t *err)
{
    cleanup_free char *dir = ctr_xasprintf("%s/volumes", data_root);
    char **v = ctr_xcalloc(1, sizeof(char *));
    DIR *d = opendir(dir);
    struct dirent *de;

    if (d == NULL) {
        if (errno == ENOENT) {
            *names = v;
            return 0;
        }
        ctr_strv_free(v);
        return ctr_fail(err, errno, "list `%s`", dir);
    }
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.' || bundle_volume_check_name(de->d_name, NULL) < 0)
            continue;
        cleanup_free char *meta = ctr_xasprintf("%s/%s/volume.json", dir, de->d_name);
        if (access(meta, F_OK) == 0)
            ctr_strv_append(&v, de->d_name);
    }
    closedir(d);
    qsort(v, ctr_strv_len(v), sizeof(char *), cmp_str);
    *names = v;
    return 0;
}

int bundle_volume_remove(const char *data_root, const char *name, ctr_error_t *err)
{
    cleanup_free char *dir = NULL, *meta = NULL;

    if (bundle_volume_check_name(name, err) < 0)
        return -1;
    dir = vol_dir(data_root, name);
    meta = ctr_xasprintf("%s/volume.json", dir);
    if (access(meta, F_OK) < 0)
        return ctr_fail(err, ENOENT, "volume `%s` not found", name);
    /* the metadata first: a half-removed volume is no longer listed */
    if (unlink(meta) < 0)
        return ctr_fail(err, errno, "remove `%s`", meta);
    if (ctr_rm_rf(dir, err) < 0)
        return ctr_error_wrap(err, "remove volume `%s`", name);
    return 0;
}
