/* Image config (OCI image config / docker container image v1) and platforms. */
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
        oci_json_string(root, "created", false, &c.created, what, err) < 0)
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

/* ---- platforms ---- */

static const char *norm_arch(const char *a)
{
    if (a == NULL)
        return NULL;
    if (strcmp(a, "x86_64") == 0 || strcmp(a, "x86-64") == 0)
        return "amd64";
    if (strcmp(a, "aarch64") == 0)
        return "arm64";
    if (strcmp(a, "i386") == 0 || strcmp(a, "i686") == 0)
        return "386";
    return a;
}

void oci_platform_host(struct oci_platform *out)
{
    out->os = ctr_xstrdup("linux");
    out->architecture = ctr_xstrdup("amd64");
    out->variant = NULL;
}

char *oci_platform_string(const struct oci_platform *p)
{
    const char *os = p->os && *p->os ? p->os : "unknown";
    const char *arch = p->architecture && *p->architecture ? norm_arch(p->architecture) : "unknown";
    if (p->variant && *p->variant)
        return ctr_xasprintf("%s/%s/%s", os, arch, p->variant);
    return ctr_xasprintf("%s/%s", os, arch);
}

/* 0 = no match; higher is better. */
static int host_score(const struct oci_platform *p)
{
    if (p->os == NULL || p->architecture == NULL || strcmp(p->os, "linux") != 0 ||
        strcmp(norm_arch(p->architecture), "amd64") != 0)
        return 0;
    if (p->variant == NULL || *p->variant == '\0')
        return 4;
    /* x86-64 microarchitecture levels this host (and TCG's -cpu max) surely runs. */
    if (strcmp(p->variant, "v2") == 0)
        return 3;
    if (strcmp(p->variant, "v1") == 0)
        return 2;
    return 0;
}

bool oci_platform_matches_host(const struct oci_platform *p)
{
    return host_score(p) > 0;
}

ssize_t oci_index_select_host(const struct oci_index *ix, ctr_error_t *err)
{
    ssize_t best = -1;
    int best_score = 0;
    cleanup_free char *seen = NULL;

    for (size_t i = 0; i < ix->n_manifests; i++) {
        const struct oci_descriptor *d = &ix->manifests[i];
        int score;
        if (strcmp(d->media_type, OCI_MT_MANIFEST) != 0 &&
            strcmp(d->media_type, OCI_MT_DOCKER_MANIFEST) != 0 &&
            strcmp(d->media_type, OCI_MT_INDEX) != 0 && strcmp(d->media_type, OCI_MT_DOCKER_LIST))
            continue;
        /* An entry without a platform is a candidate of last resort (single-platform
         * layouts often omit it); its config's platform is checked later. */
        score = d->has_platform ? host_score(&d->platform) : 1;
        if (score > best_score) {
            best = (ssize_t)i;
            best_score = score;
        }
    }
    if (best >= 0)
        return best;
    for (size_t i = 0; i < ix->n_manifests && i < 16; i++) {
        const struct oci_descriptor *d = &ix->manifests[i];
        cleanup_free char *p =
            d->has_platform ? oci_platform_string(&d->platform) : ctr_xstrdup("unknown");
        char *n = ctr_xasprintf("%s%s%s", seen ? seen : "", seen ? ", " : "", p);
        free(seen);
        seen = n;
    }
    return ctr_fail(err, 0, "no image for linux/amd64 in the index (it offers: %s)",
                    seen ? seen : "nothing");
}
