/* Images from registries: pull and push through the registry client (src/registry),
 * in the caller's thread; progress goes to a typed sink (the Docker edge, api/pull.c,
 * turns it into Docker's JSON message lines). Credentials come only from the request
 * (as dockerd: the daemon keeps none). */
#include "daemon/daemon-internal.h"
#include "image/store.h"
#include "registry/registry.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct xfer {
    struct dmn *d;
    const struct dmn_xfer_opts *o;
    const struct dmn_xfer_sink *sink;
};

static void xfer_status(struct xfer *x, const char *status, const char *id)
{
    x->sink->status(x->sink->ctx, status, id);
}

static void xfer_progress(void *opaque, const struct registry_progress_event *ev)
{
    struct xfer *x = opaque;
    x->sink->layer(x->sink->ctx, ev);
}

static int xfer_client(struct xfer *x, const char *host, struct registry_client **cl,
                       ctr_error_t *err)
{
    struct registry_options o = {.scheme = x->o->scheme,
                                 .max_concurrent = x->o->max_concurrent,
                                 .max_retries = -1,
                                 .username = x->o->user,
                                 .password = x->o->pass,
                                 .anonymous = x->o->user == NULL,
                                 .progress = xfer_progress,
                                 .progress_opaque = x};
    return registry_client_new(host, &o, cl, err);
}

int dmn_image_pull(struct dmn *d, const char *refstr, const struct dmn_xfer_opts *xo,
                   const struct dmn_xfer_sink *sink, ctr_error_t *err)
{
    struct xfer x = {.d = d, .o = xo, .sink = sink};
    struct oci_ref ref = {0};
    struct registry_client *cl = NULL;
    struct registry_pull_result res = {0};
    struct oci_platform plat = {0}, host = {0};
    int rc = -1;

    if (oci_platform_parse(xo->platform, &plat, err) < 0 || oci_ref_parse(refstr, &ref, err) < 0)
        goto out;
    xfer_status(&x, ref.tag ? "Pulling from" : "Pulling", ref.path);
    if (xfer_client(&x, ref.domain, &cl, err) < 0)
        goto out;
    dmn_img_lock(d);
    rc = registry_pull_image(cl, &ref, xo->platform ? &plat : NULL, d->images, &res, err);
    dmn_img_unlock(d);
    if (rc == 0) {
        cleanup_free char *full = oci_ref_string(&ref);
        cleanup_free char *dg = ctr_xasprintf("Digest: %s", res.index_digest);
        cleanup_free char *st = ctr_xasprintf(
            "Status: %s for %s",
            res.bytes_downloaded ? "Downloaded newer image" : "Image is up to date", full);
        xfer_status(&x, dg, NULL);
        oci_platform_parse(NULL, &host, NULL);
        if (xo->platform &&
            (strcmp(plat.os, host.os) != 0 || strcmp(plat.architecture, host.architecture) != 0)) {
            /* registry_pull_image keeps other platforms' images untagged. */
            cleanup_free char *w = ctr_xasprintf(
                "Warning: %s for %s/%s is stored but not tagged: this host runs %s/%s",
                res.manifest_digest, plat.os, plat.architecture, host.os, host.architecture);
            xfer_status(&x, w, NULL);
        }
        xfer_status(&x, st, NULL);
        dmn_lock(d);
        dmn_event_emit_locked(d, "image", "pull", full, NULL);
        dmn_unlock(d);
    }
out:
    registry_pull_result_free(&res);
    registry_client_free(cl);
    oci_ref_release(&ref);
    oci_platform_release(&plat);
    oci_platform_release(&host);
    return rc;
}

static int push_one(struct xfer *x, const char *name, ctr_error_t *err)
{
    struct dmn *d = x->d;
    struct oci_ref ref = {0};
    struct registry_client *cl = NULL;
    cleanup_free char *pushed = NULL, *blob = NULL;
    struct stat sb;
    int rc = -1;

    if (oci_ref_parse(name, &ref, err) < 0)
        return -1;
    if (xfer_client(x, ref.domain, &cl, err) == 0) {
        dmn_img_lock(d);
        rc = registry_push_image(cl, &ref, d->images, name, NULL, &pushed, err);
        if (rc == 0) {
            blob = imgstore_blob_path(d->images, pushed);
            if (stat(blob, &sb) < 0)
                sb.st_size = 0;
        }
        dmn_img_unlock(d);
    }
    if (rc == 0) {
        const char *tag = ref.tag ? ref.tag : ref.digest;
        cleanup_free char *line =
            ctr_xasprintf("%s: digest: %s size: %lld", tag, pushed, (long long)sb.st_size);
        xfer_status(x, line, NULL);
        x->sink->pushed(x->sink->ctx, tag, pushed, (uint64_t)sb.st_size);
        dmn_lock(d);
        dmn_event_emit_locked(d, "image", "push", name, NULL);
        dmn_unlock(d);
    }
    registry_client_free(cl);
    oci_ref_release(&ref);
    return rc;
}

int dmn_image_push(struct dmn *d, const char *refstr, char *const *names,
                   const struct dmn_xfer_opts *xo, const struct dmn_xfer_sink *sink,
                   ctr_error_t *err)
{
    struct xfer x = {.d = d, .o = xo, .sink = sink};
    struct oci_ref r = {0};

    if (oci_ref_parse(refstr, &r, err) < 0)
        return -1;
    cleanup_free char *repo = oci_ref_repo(&r);
    oci_ref_release(&r);
    cleanup_free char *line = ctr_xasprintf("The push refers to repository [%s]", repo);
    xfer_status(&x, line, NULL);
    for (size_t i = 0; names[i]; i++)
        if (push_one(&x, names[i], err) < 0)
            return -1;
    return 0;
}

/* The local names a push covers: name[:tag] itself, or every tag of the repository
 * when neither the name nor the query gives one (docker push --all-tags). */
int dmn_image_push_names(struct dmn *d, const char *ref, char ***out, ctr_error_t *err)
{
    struct oci_ref r = {0};
    struct imgstore_entry *e = NULL;
    size_t n = 0;
    const char *base = strrchr(ref, '/') ? strrchr(ref, '/') : ref;

    if (oci_ref_parse(ref, &r, err) < 0)
        return -1;
    cleanup_free char *full = oci_ref_string(&r), *repo = oci_ref_repo(&r);
    oci_ref_release(&r);
    char **names = ctr_xcalloc(1, sizeof(char *));
    dmn_img_lock(d);
    int rc = imgstore_list(d->images, &e, &n, err);
    dmn_img_unlock(d);
    if (rc < 0) {
        ctr_strv_free(names);
        return -1;
    }
    bool explicit_tag = strchr(base, ':') || strchr(base, '@');
    size_t rl = strlen(repo);
    for (size_t i = 0; i < n; i++) {
        if (explicit_tag ? strcmp(e[i].name, full) == 0
                         : strncmp(e[i].name, repo, rl) == 0 && e[i].name[rl] == ':')
            ctr_strv_append(&names, e[i].name);
    }
    imgstore_entries_free(e, n);
    if (names[0] == NULL) {
        ctr_strv_free(names);
        return ctr_fail(err, ENOENT, "No such image: %s", ref);
    }
    *out = names;
    return 0;
}

/* ---- GET /distribution/{name}/json ---- */

static void add_platform(struct dmn_distribution *x, const struct oci_platform *p)
{
    x->platforms = ctr_xrealloc(x->platforms, (x->n_platforms + 1) * sizeof(*x->platforms));
    x->platforms[x->n_platforms++] =
        (struct oci_platform){.os = ctr_xstrdup(p->os ? p->os : ""),
                              .architecture = ctr_xstrdup(p->architecture ? p->architecture : ""),
                              .variant = p->variant ? ctr_xstrdup(p->variant) : NULL};
}

int dmn_distribution_inspect(struct dmn *d, const char *refstr, const struct dmn_xfer_opts *xo,
                             struct dmn_distribution *out, ctr_error_t *err)
{
    struct oci_ref ref = {0};
    struct registry_client *cl = NULL;
    struct registry_fetched f = {0};
    cleanup_oci_document struct oci_document doc = {0};
    struct dmn_distribution res = {0};
    int rc = -1;

    if (oci_ref_parse(refstr, &ref, err) < 0) {
        (*err)->errnum = EINVAL;
        return -1;
    }
    struct registry_options o = {.scheme = xo->scheme,
                                 .max_retries = -1,
                                 .username = xo->user,
                                 .password = xo->pass,
                                 .anonymous = xo->user == NULL};
    if (registry_client_new(ref.domain, &o, &cl, err) < 0)
        goto out;
    if (registry_get_manifest(cl, ref.path,
                              ref.digest ? ref.digest
                              : ref.tag  ? ref.tag
                                         : "latest",
                              &f, err) < 0 ||
        oci_document_parse(f.data, f.len, f.media_type, &doc, err) < 0)
        goto out;
    res.media_type = ctr_xstrdup(doc.media_type ? doc.media_type : "");
    res.digest = ctr_xstrdup(f.digest);
    res.size = (int64_t)f.len;
    if (doc.kind == OCI_DOC_INDEX) {
        for (size_t i = 0; i < doc.index.n_manifests; i++)
            if (doc.index.manifests[i].has_platform)
                add_platform(&res, &doc.index.manifests[i].platform);
    } else {
        cleanup_free char *cfg = NULL;
        size_t len = 0;
        struct oci_image_config ic = {0};
        cleanup_error ctr_error_t e2 = NULL;
        /* moby's: a config that cannot be read leaves the platforms empty */
        if (registry_get_small_blob(cl, ref.path, doc.manifest.config.digest, OCI_MAX_CONFIG_BYTES,
                                    &cfg, &len, &e2) == 0 &&
            oci_image_config_parse(cfg, len, &ic, &e2) == 0 &&
            (ic.platform.os || ic.platform.architecture))
            add_platform(&res, &ic.platform);
        oci_image_config_release(&ic);
    }
    *out = res;
    memset(&res, 0, sizeof(res));
    rc = 0;
out:
    if (rc < 0 && *err && (*err)->errnum != ENOENT && (*err)->errnum != EINVAL)
        (*err)->errnum = EIO;
    dmn_distribution_release(&res);
    registry_fetched_free(&f);
    registry_client_free(cl);
    oci_ref_release(&ref);
    return rc;
}

void dmn_distribution_release(struct dmn_distribution *x)
{
    free(x->media_type);
    free(x->digest);
    for (size_t i = 0; i < x->n_platforms; i++)
        oci_platform_release(&x->platforms[i]);
    free(x->platforms);
    memset(x, 0, sizeof(*x));
}
