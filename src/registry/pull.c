/* Pull: resolve the reference, walk indexes down to the platform's image
 * manifest, then fetch config and layers (in parallel) into the content store. */
#include "registry/registry-internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void registry_pull_result_free(struct registry_pull_result *r)
{
    free(r->index_digest);
    free(r->manifest_digest);
    free(r->config_digest);
    memset(r, 0, sizeof(*r));
}

/* Manifest `ref` (tag or digest) of repo: from the store when we have it (by the
 * digest a HEAD returns), else GET, verified and stored. */
static int load_manifest(struct registry_client *c, const char *repo, const char *ref,
                         const char *root, struct registry_manifest *m, char **digest_out,
                         ctr_error_t *err)
{
    cleanup_free char *digest = NULL, *mt = NULL, *data = NULL;
    struct registry_fetched f = {0};
    size_t len = 0;

    if (registry_digest_valid(ref)) {
        digest = ctr_xstrdup(ref);
    } else if (registry_resolve(c, repo, ref, &digest, &mt, err) < 0) {
        return -1;
    }
    if (digest && registry_cas_has(root, digest, -1) &&
        registry_cas_read(root, digest, REGISTRY_MAX_MANIFEST_SIZE, &data, &len, NULL) == 0) {
        log_debug("manifest `%s` already in the store", digest);
    } else {
        if (registry_get_manifest(c, repo, digest ? digest : ref, &f, err) < 0)
            return -1;
        free(mt);
        mt = ctr_steal_ptr(f.media_type);
        free(digest);
        digest = ctr_steal_ptr(f.digest);
        data = ctr_steal_ptr(f.data);
        len = f.len;
        registry_fetched_free(&f);
    }
    if (registry_manifest_parse(data, len, mt, m, err) < 0)
        return ctr_error_wrap(err, "manifest `%s` of `%s/%s`", digest, c->host, repo);
    if (registry_cas_put(root, digest, data, len, err) < 0) {
        registry_manifest_free(m);
        return -1;
    }
    *digest_out = ctr_steal_ptr(digest);
    return 0;
}

static bool platform_match(const struct registry_descriptor *d, const struct registry_platform *p)
{
    if (d->os == NULL || d->arch == NULL)
        return false;
    if (strcmp(d->os, p->os) != 0 || strcmp(d->arch, p->arch) != 0)
        return false;
    if (p->variant[0] == '\0' || d->variant == NULL || d->variant[0] == '\0')
        return true;
    return strcmp(d->variant, p->variant) == 0;
}

static int select_platform(const struct registry_manifest *idx, const struct registry_platform *p,
                           const char *what, const struct registry_descriptor **out,
                           ctr_error_t *err)
{
    const struct registry_descriptor *nested = NULL;
    cleanup_free char *avail = ctr_xstrdup("");
    for (size_t i = 0; i < idx->n_manifests; i++) {
        const struct registry_descriptor *d = &idx->manifests[i];
        if (registry_media_is_manifest(d->media_type) && platform_match(d, p)) {
            *out = d;
            return 0;
        }
        if (registry_media_is_index(d->media_type) && d->os == NULL && nested == NULL)
            nested = d;
        if (d->os && d->arch && strcmp(d->os, "unknown") != 0) {
            char *n =
                ctr_xasprintf("%s%s%s/%s%s%s", avail, avail[0] ? ", " : "", d->os, d->arch,
                              d->variant && d->variant[0] ? "/" : "", d->variant ? d->variant : "");
            free(avail);
            avail = n;
        }
    }
    if (nested) {
        *out = nested;
        return 0;
    }
    return registry_fail_code(
        err, ENOENT, "%s has no image for platform `%s/%s%s%s` (available: %s)", what, p->os,
        p->arch, p->variant[0] ? "/" : "", p->variant, avail[0] ? avail : "none");
}

struct layer_jobs {
    const struct registry_manifest *m;
    const char *repo, *root;
    uint64_t *bytes; /* per job */
    bool *fetched;
};

static int layer_job(struct registry_client *c, void *conn, void *opaque, size_t i,
                     ctr_error_t *err)
{
    struct layer_jobs *j = opaque;
    const struct registry_descriptor *l = &j->m->layers[i];
    /* A digest listed twice is fetched by its first occurrence only. */
    for (size_t k = 0; k < i; k++)
        if (strcmp(j->m->layers[k].digest, l->digest) == 0)
            return 0;
    if (registry_fetch_blob(c, conn, j->repo, l->digest, l->size, j->root, "layer", &j->bytes[i],
                            err) < 0)
        return -1;
    j->fetched[i] = j->bytes[i] > 0;
    return 0;
}

int registry_pull(struct registry_client *c, const struct registry_ref *ref,
                  const struct registry_platform *platform, const char *root,
                  struct registry_pull_result *out, ctr_error_t *err)
{
    struct registry_pull_result res = {0};
    struct registry_manifest m = {0};
    struct registry_platform host_platform;
    cleanup_free char *refstr = registry_ref_string(ref);
    cleanup_free char *digest = NULL;
    cleanup_strv char **visited = NULL;
    cleanup_free uint64_t *bytes = NULL;
    cleanup_free bool *fetched = NULL;
    int rc = -1;

    if (platform == NULL) {
        registry_platform_parse(NULL, &host_platform, NULL);
        platform = &host_platform;
    }
    if (load_manifest(c, ref->repo, ref->digest ? ref->digest : ref->tag, root, &m, &digest, err) <
        0)
        return ctr_error_wrap(err, "pull `%s`", refstr);
    res.index_digest = ctr_xstrdup(digest);
    for (int depth = 0; m.kind == REGISTRY_MANIFEST_INDEX; depth++) {
        const struct registry_descriptor *d = NULL;
        cleanup_free char *what = ctr_xasprintf("index `%s` of `%s`", digest, refstr);
        cleanup_free char *child = NULL;
        if (depth >= REGISTRY_MAX_INDEX_DEPTH) {
            registry_fail_code(err, ELOOP, "pull `%s`: indexes nested deeper than %d levels",
                               refstr, REGISTRY_MAX_INDEX_DEPTH);
            goto out;
        }
        ctr_strv_append(&visited, digest);
        if (select_platform(&m, platform, what, &d, err) < 0)
            goto out;
        child = ctr_xstrdup(d->digest);
        for (char **v = visited; *v; v++)
            if (strcmp(*v, child) == 0) {
                registry_fail_code(err, ELOOP, "pull `%s`: index `%s` refers back to `%s`", refstr,
                                   digest, child);
                goto out;
            }
        registry_manifest_free(&m);
        free(digest);
        digest = NULL;
        if (load_manifest(c, ref->repo, child, root, &m, &digest, err) < 0) {
            ctr_error_wrap(err, "pull `%s`", refstr);
            goto out;
        }
    }
    res.manifest_digest = ctr_xstrdup(digest);
    res.config_digest = ctr_xstrdup(m.config.digest);
    if (registry_fetch_blob(c, c->conn, ref->repo, m.config.digest, m.config.size, root, "config",
                            &res.bytes_downloaded, err) < 0) {
        ctr_error_wrap(err, "pull `%s`", refstr);
        goto out;
    }
    bytes = ctr_xcalloc(m.n_layers + 1, sizeof(*bytes));
    fetched = ctr_xcalloc(m.n_layers + 1, sizeof(*fetched));
    struct layer_jobs jobs = {
        .m = &m, .repo = ref->repo, .root = root, .bytes = bytes, .fetched = fetched};
    if (registry_parallel(c, m.n_layers, layer_job, &jobs, err) < 0) {
        ctr_error_wrap(err, "pull `%s`", refstr);
        goto out;
    }
    res.layers_total = m.n_layers;
    for (size_t i = 0; i < m.n_layers; i++) {
        res.bytes_downloaded += bytes[i];
        res.layers_fetched += fetched[i];
    }
    *out = res;
    memset(&res, 0, sizeof(res));
    rc = 0;
out:
    registry_pull_result_free(&res);
    registry_manifest_free(&m);
    return rc;
}
