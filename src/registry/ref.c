/* References, digests, platforms, small encoders. Kept here until src/oci offers
 * the same (then these become thin wrappers). */
#include "registry/registry-internal.h"

#include <ctype.h>
#include <errno.h>
#include <openssl/evp.h>
#include <string.h>
#include <sys/utsname.h>

bool registry_digest_valid(const char *d)
{
    if (d == NULL || strncmp(d, "sha256:", 7) != 0 || strlen(d) != 7 + 64)
        return false;
    for (const char *p = d + 7; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return false;
    return true;
}

static bool is_domain(const char *s, size_t n)
{
    if (n == 9 && strncmp(s, "localhost", 9) == 0)
        return true;
    for (size_t i = 0; i < n; i++)
        if (s[i] == '.' || s[i] == ':' || isupper((unsigned char)s[i]))
            return true;
    return false;
}

/* Path components: [a-z0-9]+ separated by `.`, `_`, `__` or runs of `-`. */
static bool repo_valid(const char *r)
{
    size_t n = strlen(r);
    if (n == 0 || n > 255)
        return false;
    for (const char *comp = r; comp;) {
        const char *end = strchr(comp, '/');
        size_t len = end ? (size_t)(end - comp) : strlen(comp);
        if (len == 0)
            return false;
        for (size_t i = 0; i < len; i++) {
            char ch = comp[i];
            bool alnum = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9');
            if (alnum)
                continue;
            if (ch != '.' && ch != '_' && ch != '-')
                return false;
            if (i == 0 || i == len - 1)
                return false;
        }
        comp = end ? end + 1 : NULL;
    }
    return true;
}

static bool tag_valid(const char *t)
{
    size_t n = strlen(t);
    if (n == 0 || n > 128 || !(isalnum((unsigned char)t[0]) || t[0] == '_'))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!(isalnum((unsigned char)t[i]) || t[i] == '_' || t[i] == '.' || t[i] == '-'))
            return false;
    return true;
}

int registry_ref_parse(const char *s, struct registry_ref *out, ctr_error_t *err)
{
    cleanup_free char *work = ctr_xstrdup(s);
    cleanup_free char *domain = NULL, *repo = NULL, *tag = NULL, *digest = NULL;
    char *at, *slash, *name, *colon;

    if (*s == '\0')
        return registry_fail_code(err, EINVAL, "empty image reference");
    at = strchr(work, '@');
    if (at) {
        *at = '\0';
        digest = ctr_xstrdup(at + 1);
        if (!registry_digest_valid(digest))
            return ctr_fail(err, EINVAL,
                            "invalid digest in reference `%s`: expected `sha256:` and 64 hex digits",
                            s);
    }
    slash = strchr(work, '/');
    if (slash && is_domain(work, (size_t)(slash - work))) {
        domain = ctr_xstrndup(work, (size_t)(slash - work));
        name = slash + 1;
    } else {
        domain = ctr_xstrdup("docker.io");
        name = work;
    }
    if (strcmp(domain, "index.docker.io") == 0) {
        free(domain);
        domain = ctr_xstrdup("docker.io");
    }
    slash = strrchr(name, '/');
    colon = strrchr(slash ? slash : name, ':');
    if (colon) {
        *colon = '\0';
        tag = ctr_xstrdup(colon + 1);
        if (!tag_valid(tag))
            return registry_fail_code(err, EINVAL, "invalid tag `%s` in reference `%s`", tag, s);
    }
    if (strcmp(domain, "docker.io") == 0 && strchr(name, '/') == NULL)
        repo = ctr_xasprintf("library/%s", name);
    else
        repo = ctr_xstrdup(name);
    if (!repo_valid(repo))
        return ctr_fail(err, EINVAL,
                        "invalid repository name `%s` in reference `%s`: use lowercase letters, "
                        "digits and separators",
                        repo, s);
    if (tag == NULL && digest == NULL)
        tag = ctr_xstrdup("latest");
    out->domain = ctr_steal_ptr(domain);
    out->repo = ctr_steal_ptr(repo);
    out->tag = ctr_steal_ptr(tag);
    out->digest = ctr_steal_ptr(digest);
    return 0;
}

void registry_ref_free(struct registry_ref *r)
{
    if (r == NULL)
        return;
    free(r->domain);
    free(r->repo);
    free(r->tag);
    free(r->digest);
    memset(r, 0, sizeof(*r));
}

char *registry_ref_string(const struct registry_ref *r)
{
    return ctr_xasprintf("%s/%s%s%s%s%s", r->domain, r->repo, r->tag ? ":" : "",
                         r->tag ? r->tag : "", r->digest ? "@" : "", r->digest ? r->digest : "");
}

const char *registry_ref_api_host(const struct registry_ref *r)
{
    return strcmp(r->domain, "docker.io") == 0 ? "registry-1.docker.io" : r->domain;
}

static void copy_field(char *dst, size_t cap, const char *s, size_t n)
{
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, s, n);
    dst[n] = '\0';
}

int registry_platform_parse(const char *s, struct registry_platform *out, ctr_error_t *err)
{
    struct utsname u;
    memset(out, 0, sizeof(*out));
    if (s == NULL || *s == '\0') {
        strcpy(out->os, "linux");
        if (uname(&u) == 0 && strcmp(u.machine, "aarch64") == 0) {
            strcpy(out->arch, "arm64");
            strcpy(out->variant, "v8");
        } else {
            strcpy(out->arch, "amd64");
        }
        return 0;
    }
    const char *a = strchr(s, '/');
    if (a == NULL || a == s || a[1] == '\0' || a[1] == '/')
        return registry_fail_code(err, EINVAL, "invalid platform `%s`: expected `os/arch[/variant]`", s);
    const char *v = strchr(a + 1, '/');
    if (v && (v[1] == '\0' || strchr(v + 1, '/')))
        return registry_fail_code(err, EINVAL, "invalid platform `%s`: expected `os/arch[/variant]`", s);
    size_t arch_len = v ? (size_t)(v - a - 1) : strlen(a + 1);
    if ((size_t)(a - s) >= sizeof(out->os) || arch_len >= sizeof(out->arch) ||
        (v && strlen(v + 1) >= sizeof(out->variant)))
        return registry_fail_code(err, EINVAL, "invalid platform `%s`: too long", s);
    copy_field(out->os, sizeof(out->os), s, (size_t)(a - s));
    copy_field(out->arch, sizeof(out->arch), a + 1, arch_len);
    if (v)
        copy_field(out->variant, sizeof(out->variant), v + 1, strlen(v + 1));
    if (strcmp(out->arch, "arm64") == 0 && out->variant[0] == '\0')
        strcpy(out->variant, "v8");
    return 0;
}

int registry_scheme_parse(const char *s, enum registry_scheme *out, ctr_error_t *err)
{
    if (strcmp(s, "https") == 0)
        *out = REGISTRY_SCHEME_HTTPS;
    else if (strcmp(s, "http") == 0)
        *out = REGISTRY_SCHEME_HTTP;
    else if (strcmp(s, "auto") == 0)
        *out = REGISTRY_SCHEME_AUTO;
    else
        return registry_fail_code(err, EINVAL, "invalid scheme `%s`: use `http`, `https` or `auto`", s);
    return 0;
}

char *registry_b64_encode(const void *data, size_t len)
{
    char *out = ctr_xmalloc(4 * ((len + 2) / 3) + 1);
    EVP_EncodeBlock((unsigned char *)out, data, (int)len);
    return out;
}

char *registry_b64_decode(const char *s, size_t *out_len)
{
    size_t n = strlen(s);
    if (n % 4 != 0)
        return NULL;
    char *out = ctr_xmalloc(n / 4 * 3 + 1);
    int r = EVP_DecodeBlock((unsigned char *)out, (const unsigned char *)s, (int)n);
    if (r < 0) {
        free(out);
        return NULL;
    }
    /* EVP_DecodeBlock counts padding as zero bytes. */
    if (n >= 1 && s[n - 1] == '=')
        r--;
    if (n >= 2 && s[n - 2] == '=')
        r--;
    out[r] = '\0';
    if (out_len)
        *out_len = (size_t)r;
    return out;
}

char *registry_sha256_digest(const void *data, size_t len)
{
    unsigned char md[32];
    char hex[65];
    EVP_Digest(data, len, md, NULL, EVP_sha256(), NULL);
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    return ctr_xasprintf("sha256:%s", hex);
}
