/* Named volumes of the default (`local`) kind: a directory DATA/volumes/NAME/_data
 * shared with containers over virtio-9p, beside DATA/volumes/NAME/volume.json
 * (name, creation time, labels, options). Which containers use a volume is the
 * daemon's knowledge (their bundles' shares), not stored here. */
#include "bundle/bundle-internal.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

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

int bundle_volume_create(const char *data_root, const char *name, char **labels, char **options,
                         bool *existed, ctr_error_t *err)
{
    cleanup_free char *dir = NULL, *data = NULL, *meta = NULL, *text = NULL;
    struct stat st;

    if (bundle_volume_check_name(name, err) < 0)
        return -1;
    for (char **o = options; o && *o; o++) {
        if (strncmp(*o, "type=", 5) == 0 && strcmp(*o, "type=local") && strcmp(*o, "type=dir"))
            return ctr_fail(err, 0,
                            "volume option `%s` is not supported yet: volumes are host "
                            "directories shared over 9p",
                            *o);
    }
    dir = vol_dir(data_root, name);
    data = ctr_xasprintf("%s/_data", dir);
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
    if (ctr_mkdir_p(data, 0755, err) < 0)
        return ctr_error_wrap(err, "create volume `%s`", name);
    json_t *j =
        json_pack("{s:s, s:I, s:o, s:o}", "name", name, "created", (json_int_t)time(NULL), "labels",
                  bundle_volume_kv_json(labels), "options", bundle_volume_kv_json(options));
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
    out->mountpoint = ctr_xasprintf("%s/_data", dir);
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
