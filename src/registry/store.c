/* Pull into and push from the image store: the registry writes blobs straight into
 * the store's content directory (its layout is blobs/sha256 + ingest, verified and
 * renamed the same way), then asks the store to tag the manifest. */
#include "image/store.h"
#include "registry/registry-internal.h"

#include <string.h>

static char *content_root(struct imgstore *st)
{
    return ctr_xasprintf("%s/content", imgstore_root(st));
}

int registry_pull_image(struct registry_client *c, const struct registry_ref *ref,
                        const struct registry_platform *platform, struct imgstore *st,
                        struct registry_pull_result *out, ctr_error_t *err)
{
    cleanup_free char *root = content_root(st);
    struct registry_pull_result res = {0};

    struct registry_platform host;
    registry_platform_parse(NULL, &host, NULL);
    if (registry_pull(c, ref, platform, root, &res, err) < 0)
        return -1;
    /* The store only names images this host can run; other platforms' blobs stay
     * in the content store, reachable by digest (e.g. to push them on). */
    bool foreign =
        platform && (strcmp(platform->os, host.os) != 0 || strcmp(platform->arch, host.arch) != 0);
    if (foreign)
        log_warn("`%s` for %s/%s is stored but not tagged: this host runs %s/%s",
                 res.manifest_digest, platform->os, platform->arch, host.os, host.arch);
    if (!foreign) {
        /* By tag: the tag; by digest only: repo@digest (docker's RepoDigests). */
        struct registry_ref named = *ref;
        if (ref->tag)
            named.digest = NULL;
        cleanup_free char *name = registry_ref_string(&named);
        if (imgstore_tag_manifest(st, name, res.manifest_digest, err) < 0) {
            registry_pull_result_free(&res);
            return ctr_error_wrap(err, "record `%s`", name);
        }
    }
    *out = res;
    return 0;
}

int registry_push_image(struct registry_client *c, const struct registry_ref *ref,
                        struct imgstore *st, const char *local, const struct registry_push_opts *po,
                        char **pushed, ctr_error_t *err)
{
    cleanup_free char *root = content_root(st);
    struct imgstore_image img = {0};
    int rc;

    if (imgstore_resolve(st, local, &img, err) < 0)
        return -1;
    rc = registry_push(c, ref, root, img.manifest_digest, po, pushed, err);
    imgstore_image_release(&img);
    return rc;
}
