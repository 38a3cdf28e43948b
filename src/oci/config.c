/* Image config (OCI image config / docker container image v1). */
#include "oci/oci-internal.h"

#include <stdlib.h>
#include <string.h>

void oci_container_config_release(struct oci_container_config *c)
{
    if (c == NULL)
        return;
    free(c->user);
    ctr_strv_free(c->env);
    ctr_strv_free(c->entrypoint);
    ctr_strv_free(c->cmd);
    free(c->working_dir);
    ctr_strv_free(c->exposed_ports);
    ctr_strv_free(c->volumes);
    oci_kv_free(c->labels, c->n_labels);
    free(c->stop_signal);
    memset(c, 0, sizeof(*c));
}

void oci_image_config_release(struct oci_image_config *c)
{
    if (c == NULL)
        return;
    oci_platform_release(&c->platform);
    free(c->created);
    free(c->author);
    free(c->comment);
    for (size_t i = 0; i < c->n_history; i++) {
        free(c->history[i].created);
        free(c->history[i].created_by);
        free(c->history[i].author);
        free(c->history[i].comment);
    }
    free(c->history);
    oci_container_config_release(&c->config);
    ctr_strv_free(c->diff_ids);
    memset(c, 0, sizeof(*c));
}

static char **empty_strv(void)
{
    return ctr_xcalloc(1, sizeof(char *));
}

static int parse_container_config(json_t *v, struct oci_container_config *c, ctr_error_t *err)
{
    static const char what[] = "image config: config";

    if (v != NULL && !json_is_null(v)) {
        if (!json_is_object(v))
            return ctr_fail(err, 0, "%s must be an object", what);
        if (oci_json_string(v, "User", false, &c->user, what, err) < 0 ||
            oci_json_strv(v, "Env", OCI_MAX_LIST, &c->env, what, err) < 0 ||
            oci_json_strv(v, "Entrypoint", OCI_MAX_LIST, &c->entrypoint, what, err) < 0 ||
            oci_json_strv(v, "Cmd", OCI_MAX_LIST, &c->cmd, what, err) < 0 ||
            oci_json_string(v, "WorkingDir", false, &c->working_dir, what, err) < 0 ||
            oci_json_keys(v, "ExposedPorts", OCI_MAX_LIST, &c->exposed_ports, what, err) < 0 ||
            oci_json_keys(v, "Volumes", OCI_MAX_LIST, &c->volumes, what, err) < 0 ||
            oci_json_kv(v, "Labels", OCI_MAX_LIST, &c->labels, &c->n_labels, what, err) < 0 ||
            oci_json_string(v, "StopSignal", false, &c->stop_signal, what, err) < 0)
            return -1;
    }
    if (c->env == NULL)
        c->env = empty_strv();
    if (c->exposed_ports == NULL)
        c->exposed_ports = empty_strv();
    if (c->volumes == NULL)
        c->volumes = empty_strv();
    for (size_t i = 0; c->env[i]; i++)
        if (c->env[i][0] == '=' || c->env[i][0] == '\0')
            return ctr_fail(err, 0, "%s: `Env` entry `%.100s` has no variable name", what,
                            c->env[i]);
    return 0;
}

static int parse_history(json_t *v, struct oci_image_config *c, ctr_error_t *err)
{
    static const char what[] = "image config: history";
    size_t i;
    json_t *h;

    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_array(v))
        return ctr_fail(err, 0, "%s must be an array", what);
    if (json_array_size(v) > OCI_MAX_LIST)
        return ctr_fail(err, 0, "%s has more than %d entries", what, OCI_MAX_LIST);
    c->history = ctr_xcalloc(json_array_size(v) + 1, sizeof(*c->history));
    json_array_foreach(v, i, h)
    {
        struct oci_history *e = &c->history[c->n_history++];
        if (!json_is_object(h))
            return ctr_fail(err, 0, "%s[%zu] must be an object", what, i);
        json_t *el = json_object_get(h, "empty_layer");
        if (el && !json_is_boolean(el) && !json_is_null(el))
            return ctr_fail(err, 0, "%s[%zu]: `empty_layer` must be a boolean", what, i);
        e->empty_layer = json_is_true(el);
        if (oci_json_string(h, "created", false, &e->created, what, err) < 0 ||
            oci_json_string(h, "created_by", false, &e->created_by, what, err) < 0 ||
            oci_json_string(h, "author", false, &e->author, what, err) < 0 ||
            oci_json_string(h, "comment", false, &e->comment, what, err) < 0)
            return -1;
    }
    return 0;
}

int oci_image_config_parse(const char *json, size_t len, struct oci_image_config *out,
                           ctr_error_t *err)
{
    static const char what[] = "image config";
    struct oci_image_config c = {0};
    json_t *root, *rootfs;

    root = oci_json_load_object(json, len, OCI_MAX_CONFIG_BYTES, what, err);
    if (root == NULL)
        return -1;
    if (oci_json_string(root, "architecture", false, &c.platform.architecture, what, err) < 0 ||
        oci_json_string(root, "os", false, &c.platform.os, what, err) < 0 ||
        oci_json_string(root, "variant", false, &c.platform.variant, what, err) < 0 ||
        oci_json_string(root, "created", false, &c.created, what, err) < 0 ||
        oci_json_string(root, "author", false, &c.author, what, err) < 0 ||
        oci_json_string(root, "comment", false, &c.comment, what, err) < 0 ||
        parse_history(json_object_get(root, "history"), &c, err) < 0)
        goto fail;
    if (parse_container_config(json_object_get(root, "config"), &c.config, err) < 0)
        goto fail;
    rootfs = json_object_get(root, "rootfs");
    if (rootfs != NULL && !json_is_null(rootfs)) {
        cleanup_free char *type = NULL;
        if (!json_is_object(rootfs)) {
            ctr_fail(err, 0, "image config: `rootfs` must be an object");
            goto fail;
        }
        if (oci_json_string(rootfs, "type", true, &type, "image config: rootfs", err) < 0)
            goto fail;
        if (strcmp(type, "layers") != 0) {
            ctr_fail(err, 0, "image config: rootfs type `%.100s` is not `layers`", type);
            goto fail;
        }
        if (oci_json_strv(rootfs, "diff_ids", OCI_MAX_LAYERS, &c.diff_ids, "image config: rootfs",
                          err) < 0)
            goto fail;
    }
    if (c.diff_ids == NULL)
        c.diff_ids = empty_strv();
    for (; c.diff_ids[c.n_diff_ids]; c.n_diff_ids++) {
        if (oci_digest_check(c.diff_ids[c.n_diff_ids], err) < 0) {
            ctr_error_wrap(err, "image config: rootfs.diff_ids[%zu]", c.n_diff_ids);
            goto fail;
        }
    }
    json_decref(root);
    *out = c;
    return 0;
fail:
    json_decref(root);
    oci_image_config_release(&c);
    return -1;
}
