/* Pull: resolve the reference, walk indexes down to the platform's image manifest,
 * then fetch config and layers (in parallel) into the image store. */
#include "image/store.h"
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
                         struct imgstore *st, struct oci_document *doc, char **digest_out,
                         ctr_error_t *err)
{
    cleanup_free char *digest = NULL, *mt = NULL, *data = NULL;
    struct registry_fetched f = {0};
    size_t len = 0;

    if (oci_digest_valid(ref)) {
        digest = ctr_xstrdup(ref);
    } else if (registry_resolve(c, repo, ref, &digest, &mt, err) < 0) {
        return -1;
    }
    if (digest && imgstore_blob_exists(st, digest) &&
        imgstore_blob_read(st, digest, OCI_MAX_MANIFEST_BYTES, &data, &len, NULL) == 0) {
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
    if (oci_document_parse(data, len, mt, doc, err) < 0)
        return ctr_error_wrap(err, "manifest `%s` of `%s/%s`", digest, c->host, repo);
    if (imgstore_ingest_buf(st, data, len, digest, err) < 0) {
        oci_document_release(doc);
        return -1;
    }
    *digest_out = ctr_steal_ptr(digest);
    return 0;
}

struct layer_jobs {
    const struct oci_manifest *m;
    const char *repo;
    struct imgstore *st;
    uint64_t *bytes; /* per job */
    bool *fetched;
};

static int layer_job(struct registry_client *c, void *conn, void *opaque, size_t i,
                     ctr_error_t *err)
{
    struct layer_jobs *j = opaque;
    const struct oci_descriptor *l = &j->m->layers[i];
    /* A digest listed twice is fetched by its first occurrence only. */
    for (size_t k = 0; k < i; k++)
        if (strcmp(j->m->layers[k].digest, l->digest) == 0)
            return 0;
    if (registry_fetch_blob(c, conn, j->repo, l->digest, l->size, j->st, "layer", &j->bytes[i],
                            err) < 0)
        return -1;
    j->fetched[i] = j->bytes[i] > 0;
    return 0;
}

int registry_pull(struct registry_client *c, const struct oci_ref *ref,
                  const struct oci_platform *platform, struct imgstore *st,
                  struct registry_pull_result *out, ctr_error_t *err)
{
    cleanup_registry_pull_result struct registry_pull_result res = {0};
    cleanup_oci_document struct oci_document doc = {0};
    cleanup_oci_platform struct oci_platform default_platform = {0};
    cleanup_free char *refstr = oci_ref_string(ref);
    cleanup_free char *digest = NULL;
    cleanup_strv char **visited = NULL;
    cleanup_free uint64_t *bytes = NULL;
    cleanup_free bool *fetched = NULL;
    const struct oci_manifest *m;

    if (platform == NULL) {
        oci_platform_parse(NULL, &default_platform, NULL);
        platform = &default_platform;
    }
    if (load_manifest(c, ref->path, ref->digest ? ref->digest : ref->tag, st, &doc, &digest, err) <
        0)
        return ctr_error_wrap(err, "pull `%s`", refstr);
    res.index_digest = ctr_xstrdup(digest);
    for (int depth = 0; doc.kind == OCI_DOC_INDEX; depth++) {
        cleanup_free char *what = ctr_xasprintf("index `%s` of `%s`", digest, refstr);
        cleanup_free char *child = NULL;
        ssize_t k;
        if (depth >= OCI_MAX_INDEX_DEPTH) {
            return registry_fail_code(err, ELOOP, "pull `%s`: indexes nested deeper than %d levels",
                                      refstr, OCI_MAX_INDEX_DEPTH);
        }
        ctr_strv_append(&visited, digest);
        if ((k = oci_index_select(&doc.index, platform, what, err)) < 0)
            return -1;
        child = ctr_xstrdup(doc.index.manifests[k].digest);
        for (char **v = visited; *v; v++)
            if (strcmp(*v, child) == 0) {
                return registry_fail_code(err, ELOOP, "pull `%s`: index `%s` refers back to `%s`",
                                          refstr, digest, child);
            }
        oci_document_release(&doc);
        free(digest);
        digest = NULL;
        if (load_manifest(c, ref->path, child, st, &doc, &digest, err) < 0)
            return ctr_error_wrap(err, "pull `%s`", refstr);
    }
    m = &doc.manifest;
    res.manifest_digest = ctr_xstrdup(digest);
    res.config_digest = ctr_xstrdup(m->config.digest);
    if (registry_fetch_blob(c, c->conn, ref->path, m->config.digest, m->config.size, st, "config",
                            &res.bytes_downloaded, err) < 0)
        return ctr_error_wrap(err, "pull `%s`", refstr);
    bytes = ctr_xcalloc(m->n_layers + 1, sizeof(*bytes));
    fetched = ctr_xcalloc(m->n_layers + 1, sizeof(*fetched));
    struct layer_jobs jobs = {
        .m = m, .repo = ref->path, .st = st, .bytes = bytes, .fetched = fetched};
    if (registry_parallel(c, m->n_layers, layer_job, &jobs, err) < 0)
        return ctr_error_wrap(err, "pull `%s`", refstr);
    res.layers_total = m->n_layers;
    for (size_t i = 0; i < m->n_layers; i++) {
        res.bytes_downloaded += bytes[i];
        res.layers_fetched += fetched[i];
    }
    *out = res;
    memset(&res, 0, sizeof(res)); /* moved to *out */
    return 0;
}

int registry_pull_image(struct registry_client *c, const struct oci_ref *ref,
                        const struct oci_platform *platform, struct imgstore *st,
                        struct registry_pull_result *out, ctr_error_t *err)
{
    struct registry_pull_result res = {0};
    struct oci_platform host = {0};
    bool foreign;

    if (registry_pull(c, ref, platform, st, &res, err) < 0)
        return -1;
    /* The store only names images this host can run; other platforms' blobs stay
     * in the content store, reachable by digest (e.g. to push them on). */
    oci_platform_parse(NULL, &host, NULL);
    foreign = platform && (strcmp(platform->os, host.os) != 0 ||
                           strcmp(platform->architecture, host.architecture) != 0);
    if (foreign) {
        log_warn("`%s` for %s/%s is stored but not tagged: this host runs %s/%s",
                 res.manifest_digest, platform->os, platform->architecture, host.os,
                 host.architecture);
    } else {
        /* By tag: the tag; by digest only: repo@digest (docker's RepoDigests). */
        struct oci_ref named = *ref;
        if (ref->tag)
            named.digest = NULL;
        cleanup_free char *name = oci_ref_string(&named);
        if (imgstore_tag_manifest(st, name, res.manifest_digest, err) < 0) {
            registry_pull_result_free(&res);
            oci_platform_release(&host);
            return ctr_error_wrap(err, "record `%s`", name);
        }
    }
    oci_platform_release(&host);
    *out = res;
    return 0;
}
