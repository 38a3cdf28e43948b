/* Bounded, typed access to JSON members for the OCI parsers. */
#include "oci/oci-internal.h"

#include <stdlib.h>
#include <string.h>

json_t *oci_json_load_object(const char *json, size_t len, size_t max, const char *what,
                             ctr_error_t *err)
{
    json_error_t jerr;
    json_t *root;

    if (len > max) {
        ctr_fail(err, 0, "%s is too large (%zu bytes, limit %zu)", what, len, max);
        return NULL;
    }
    root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        ctr_fail(err, 0, "%s is not valid JSON: %s at line %d column %d", what, jerr.text,
                 jerr.line, jerr.column);
        return NULL;
    }
    if (!json_is_object(root)) {
        json_decref(root);
        ctr_fail(err, 0, "%s is not a JSON object", what);
        return NULL;
    }
    return root;
}

static int take_string(json_t *v, const char *key, char **out, const char *what, ctr_error_t *err)
{
    size_t n;
    if (!json_is_string(v))
        return ctr_fail(err, 0, "%s: `%s` must be a string", what, key);
    n = json_string_length(v);
    if (n > OCI_MAX_STRING)
        return ctr_fail(err, 0, "%s: `%s` is too long (%zu bytes, limit %u)", what, key, n,
                        OCI_MAX_STRING);
    *out = ctr_xstrndup(json_string_value(v), n);
    return 0;
}

int oci_json_string(json_t *obj, const char *key, bool required, char **out, const char *what,
                    ctr_error_t *err)
{
    json_t *v = json_object_get(obj, key);
    *out = NULL;
    if (v == NULL || json_is_null(v)) {
        if (required)
            return ctr_fail(err, 0, "%s: `%s` is missing", what, key);
        return 0;
    }
    return take_string(v, key, out, what, err);
}

int oci_json_strv(json_t *obj, const char *key, size_t max, char ***out, const char *what,
                  ctr_error_t *err)
{
    json_t *v = json_object_get(obj, key), *item;
    cleanup_strv char **vec = NULL;
    size_t i;

    *out = NULL;
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_array(v))
        return ctr_fail(err, 0, "%s: `%s` must be an array of strings", what, key);
    if (json_array_size(v) > max)
        return ctr_fail(err, 0, "%s: `%s` has too many entries (%zu, limit %zu)", what, key,
                        json_array_size(v), max);
    vec = ctr_xcalloc(json_array_size(v) + 1, sizeof(char *));
    json_array_foreach(v, i, item)
    {
        if (take_string(item, key, &vec[i], what, err) < 0)
            return -1;
    }
    *out = ctr_steal_ptr(vec);
    return 0;
}

void oci_kv_free(struct oci_kv *kv, size_t n)
{
    for (size_t i = 0; kv && i < n; i++) {
        free(kv[i].key);
        free(kv[i].value);
    }
    free(kv);
}

int oci_json_kv(json_t *obj, const char *key, size_t max, struct oci_kv **out, size_t *n,
                const char *what, ctr_error_t *err)
{
    json_t *v = json_object_get(obj, key), *item;
    struct oci_kv *kv;
    const char *k;
    size_t i = 0;

    *out = NULL;
    *n = 0;
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_object(v))
        return ctr_fail(err, 0, "%s: `%s` must be an object of strings", what, key);
    if (json_object_size(v) > max)
        return ctr_fail(err, 0, "%s: `%s` has too many entries (%zu, limit %zu)", what, key,
                        json_object_size(v), max);
    kv = ctr_xcalloc(json_object_size(v) + 1, sizeof(*kv));
    json_object_foreach(v, k, item)
    {
        if (strlen(k) > OCI_MAX_STRING || take_string(item, key, &kv[i].value, what, err) < 0) {
            oci_kv_free(kv, i + 1);
            return err && *err ? -1 : ctr_fail(err, 0, "%s: a key of `%s` is too long", what, key);
        }
        kv[i].key = ctr_xstrdup(k);
        i++;
    }
    *out = kv;
    *n = i;
    return 0;
}

int oci_json_keys(json_t *obj, const char *key, size_t max, char ***out, const char *what,
                  ctr_error_t *err)
{
    json_t *v = json_object_get(obj, key), *item;
    char **vec;
    const char *k;
    size_t i = 0;

    *out = NULL;
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_object(v))
        return ctr_fail(err, 0, "%s: `%s` must be an object", what, key);
    if (json_object_size(v) > max)
        return ctr_fail(err, 0, "%s: `%s` has too many entries (%zu, limit %zu)", what, key,
                        json_object_size(v), max);
    vec = ctr_xcalloc(json_object_size(v) + 1, sizeof(char *));
    json_object_foreach(v, k, item)
    {
        (void)item;
        if (strlen(k) > OCI_MAX_STRING) {
            ctr_strv_free(vec);
            return ctr_fail(err, 0, "%s: a key of `%s` is too long", what, key);
        }
        vec[i++] = ctr_xstrdup(k);
    }
    *out = vec;
    return 0;
}
