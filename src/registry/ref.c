/* References and digests (thin wrappers over src/oci), platforms, scheme, base64, sha256. */
#include "oci/oci.h"
#include "registry/registry-internal.h"

#include <ctype.h>
#include <errno.h>
#include <openssl/evp.h>
#include <string.h>
#include <sys/utsname.h>

bool registry_digest_valid(const char *d)
{
    return d != NULL && oci_digest_valid(d);
}

int registry_ref_parse(const char *s, struct registry_ref *out, ctr_error_t *err)
{
    struct oci_ref r = {0};
    if (oci_ref_parse(s, &r, err) < 0)
        return -1;
    out->domain = ctr_steal_ptr(r.domain);
    out->repo = ctr_steal_ptr(r.path);
    out->tag = ctr_steal_ptr(r.tag);
    out->digest = ctr_steal_ptr(r.digest);
    oci_ref_release(&r);
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
        return registry_fail_code(err, EINVAL,
                                  "invalid platform `%s`: expected `os/arch[/variant]`", s);
    const char *v = strchr(a + 1, '/');
    if (v && (v[1] == '\0' || strchr(v + 1, '/')))
        return registry_fail_code(err, EINVAL,
                                  "invalid platform `%s`: expected `os/arch[/variant]`", s);
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
        return registry_fail_code(err, EINVAL, "invalid scheme `%s`: use `http`, `https` or `auto`",
                                  s);
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
