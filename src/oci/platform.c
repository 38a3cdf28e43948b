/* Platforms: parsing "os/arch[/variant]", matching, and choosing an index entry. */
#include "oci/oci.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

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

#define PLATFORM_PART_MAX 32 /* each of os, arch, variant, with its NUL */

int oci_platform_parse(const char *s, struct oci_platform *out, ctr_error_t *err)
{
    struct utsname u;
    const char *a, *v;
    size_t os_len, arch_len;

    memset(out, 0, sizeof(*out));
    if (s == NULL || *s == '\0') {
        out->os = ctr_xstrdup("linux");
        if (uname(&u) == 0 && strcmp(u.machine, "aarch64") == 0) {
            out->architecture = ctr_xstrdup("arm64");
            out->variant = ctr_xstrdup("v8");
        } else {
            out->architecture = ctr_xstrdup("amd64");
        }
        return 0;
    }
    a = strchr(s, '/');
    if (a == NULL || a == s || a[1] == '\0' || a[1] == '/')
        return ctr_fail_class(err, EINVAL, "invalid platform `%s`: expected `os/arch[/variant]`",
                              s);
    v = strchr(a + 1, '/');
    if (v && (v[1] == '\0' || strchr(v + 1, '/')))
        return ctr_fail_class(err, EINVAL, "invalid platform `%s`: expected `os/arch[/variant]`",
                              s);
    os_len = (size_t)(a - s);
    arch_len = v ? (size_t)(v - a - 1) : strlen(a + 1);
    if (os_len >= PLATFORM_PART_MAX || arch_len >= PLATFORM_PART_MAX ||
        (v && strlen(v + 1) >= PLATFORM_PART_MAX))
        return ctr_fail_class(err, EINVAL, "invalid platform `%s`: too long", s);
    out->os = ctr_xstrndup(s, os_len);
    out->architecture = ctr_xstrndup(a + 1, arch_len);
    if (v)
        out->variant = ctr_xstrdup(v + 1);
    else if (strcmp(out->architecture, "arm64") == 0)
        out->variant = ctr_xstrdup("v8");
    return 0;
}

bool oci_platform_match(const struct oci_platform *want, const struct oci_platform *have)
{
    if (have->os == NULL || have->architecture == NULL || want->os == NULL ||
        want->architecture == NULL)
        return false;
    if (strcmp(have->os, want->os) != 0 || strcmp(have->architecture, want->architecture) != 0)
        return false;
    if (want->variant == NULL || want->variant[0] == '\0' || have->variant == NULL ||
        have->variant[0] == '\0')
        return true;
    return strcmp(have->variant, want->variant) == 0;
}

ssize_t oci_index_select(const struct oci_index *ix, const struct oci_platform *p, const char *what,
                         ctr_error_t *err)
{
    ssize_t nested = -1;
    cleanup_free char *avail = ctr_xstrdup("");
    const char *variant = p->variant ? p->variant : "";

    for (size_t i = 0; i < ix->n_manifests; i++) {
        const struct oci_descriptor *d = &ix->manifests[i];
        const struct oci_platform *dp = &d->platform;
        if (oci_mt_is_manifest(d->media_type) && d->has_platform && oci_platform_match(p, dp))
            return (ssize_t)i;
        if (oci_mt_is_index(d->media_type) && !d->has_platform && nested < 0)
            nested = (ssize_t)i;
        if (d->has_platform && strcmp(dp->os, "unknown") != 0) {
            char *n = ctr_xasprintf("%s%s%s/%s%s%s", avail, avail[0] ? ", " : "", dp->os,
                                    dp->architecture, dp->variant && dp->variant[0] ? "/" : "",
                                    dp->variant ? dp->variant : "");
            free(avail);
            avail = n;
        }
    }
    if (nested >= 0)
        return nested;
    return ctr_fail_class(err, ENOENT, "%s has no image for platform `%s/%s%s%s` (available: %s)",
                          what, p->os, p->architecture, variant[0] ? "/" : "", variant,
                          avail[0] ? avail : "none");
}
