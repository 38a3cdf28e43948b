/* Image references, parsed and normalized as docker's distribution/reference
 * package does (ParseDockerRef): the grammar is checked by hand, component by
 * component, so each error can say which part is wrong. */
#include "oci/oci.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

static bool is_lower_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool is_alnum(char c)
{
    return is_lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

static bool is_word(char c)
{
    return is_alnum(c) || c == '_';
}

/* path-component := [a-z0-9]+ (separator [a-z0-9]+)*, separator := [._] | __ | -+ */
static bool path_component_valid(const char *s, size_t n)
{
    size_t i = 0;
    if (n == 0 || !is_lower_alnum(s[0]))
        return false;
    while (i < n) {
        while (i < n && is_lower_alnum(s[i]))
            i++;
        if (i == n)
            return true;
        if (s[i] == '.') {
            i++;
        } else if (s[i] == '_') {
            i++;
            if (i < n && s[i] == '_')
                i++;
        } else if (s[i] == '-') {
            while (i < n && s[i] == '-')
                i++;
        } else {
            return false;
        }
        if (i == n || !is_lower_alnum(s[i]))
            return false;
    }
    return true;
}

/* domain-component := [a-zA-Z0-9] | [a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9] */
static bool domain_component_valid(const char *s, size_t n)
{
    if (n == 0 || !is_alnum(s[0]) || !is_alnum(s[n - 1]))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!is_alnum(s[i]) && s[i] != '-')
            return false;
    return true;
}

/* host[:port] where host is a dotted domain name, an IPv4 address or [IPv6]. */
static bool domain_valid(const char *s)
{
    const char *end = s + strlen(s);
    const char *colon;

    if (*s == '[') {
        const char *close = strchr(s, ']');
        if (close == NULL || close == s + 1)
            return false;
        for (const char *p = s + 1; p < close; p++)
            if (!isxdigit((unsigned char)*p) && *p != ':')
                return false;
        colon = close + 1;
        if (*colon == '\0')
            return true;
        if (*colon != ':')
            return false;
    } else {
        const char *p = s, *hend;
        colon = strchr(s, ':');
        hend = colon ? colon : end;
        while (p < hend) {
            const char *dot = memchr(p, '.', (size_t)(hend - p));
            const char *cend = dot ? dot : hend;
            if (!domain_component_valid(p, (size_t)(cend - p)))
                return false;
            if (dot == NULL)
                break;
            p = dot + 1;
            if (p == hend)
                return false;
        }
        if (colon == NULL)
            return hend > s;
    }
    if (colon[1] == '\0')
        return false;
    for (const char *p = colon + 1; *p; p++)
        if (*p < '0' || *p > '9')
            return false;
    return true;
}

bool oci_tag_valid(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > OCI_TAG_MAX || !is_word(s[0]))
        return false;
    for (size_t i = 1; i < n; i++)
        if (!is_word(s[i]) && s[i] != '.' && s[i] != '-')
            return false;
    return true;
}

static bool is_hex64(const char *s)
{
    if (strlen(s) != 64)
        return false;
    for (int i = 0; i < 64; i++)
        if (!isxdigit((unsigned char)s[i]) || isupper((unsigned char)s[i]))
            return false;
    return true;
}

void oci_ref_release(struct oci_ref *r)
{
    if (r == NULL)
        return;
    free(r->domain);
    free(r->path);
    free(r->tag);
    free(r->digest);
    memset(r, 0, sizeof(*r));
}

int oci_ref_parse(const char *s, struct oci_ref *out, ctr_error_t *err)
{
    cleanup_free char *domain = NULL;
    cleanup_free char *rest = NULL;
    cleanup_free char *tag = NULL;
    cleanup_free char *digest = NULL;
    const char *slash, *at, *p;
    char *colon, *lastslash;
    size_t remote_len;

    if (s == NULL || *s == '\0')
        return ctr_fail(err, 0,
                        "invalid reference format: repository name must have at least "
                        "one component");
    if (strlen(s) > 4096)
        return ctr_fail(err, 0, "invalid reference format: reference is too long");
    if (is_hex64(s))
        return ctr_fail(
            err, 0, "invalid repository name `%s`: cannot specify 64-byte hexadecimal strings", s);
    for (p = s; *p; p++)
        if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f)
            return ctr_fail(err, 0,
                            "invalid reference format: `%s` contains a space or a "
                            "non-ASCII character",
                            s);

    /* docker's splitDockerDomain: the first component is a registry only if it looks
     * like one (has a dot or a colon, is `localhost`, or has an uppercase letter). */
    slash = strchr(s, '/');
    if (slash != NULL) {
        size_t n = (size_t)(slash - s);
        bool has_upper = false, has_dotcolon = false;
        for (size_t i = 0; i < n; i++) {
            has_upper |= (s[i] >= 'A' && s[i] <= 'Z');
            has_dotcolon |= (s[i] == '.' || s[i] == ':');
        }
        if (has_dotcolon || has_upper || (n == 9 && strncmp(s, "localhost", 9) == 0)) {
            domain = ctr_xstrndup(s, n);
            rest = ctr_xstrdup(slash + 1);
        }
    }
    if (domain == NULL) {
        domain = ctr_xstrdup(OCI_DEFAULT_DOMAIN);
        rest = ctr_xstrdup(s);
    }
    if (strcmp(domain, "index.docker.io") == 0) {
        free(domain);
        domain = ctr_xstrdup(OCI_DEFAULT_DOMAIN);
    }
    if (strcmp(domain, OCI_DEFAULT_DOMAIN) == 0 && strchr(rest, '/') == NULL) {
        char *r = ctr_xasprintf("library/%s", rest);
        free(rest);
        rest = r;
    }

    /* The repository part (up to the first colon) must be lowercase. */
    remote_len = strcspn(rest, ":@");
    for (size_t i = 0; i < remote_len; i++)
        if (rest[i] >= 'A' && rest[i] <= 'Z')
            return ctr_fail(err, 0,
                            "invalid reference format: repository name `%.*s` must be lowercase",
                            (int)remote_len, rest);

    at = strchr(rest, '@');
    if (at != NULL) {
        digest = ctr_xstrdup(at + 1);
        rest[at - rest] = '\0';
        if (oci_digest_check(digest, err) < 0)
            return ctr_error_wrap(err, "invalid reference `%s`", s);
    }
    lastslash = strrchr(rest, '/');
    colon = strrchr(rest, ':');
    if (colon != NULL && (lastslash == NULL || colon > lastslash)) {
        tag = ctr_xstrdup(colon + 1);
        *colon = '\0';
        if (!oci_tag_valid(tag))
            return ctr_fail(err, 0,
                            "invalid reference format: tag `%s` must match "
                            "[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}",
                            tag);
    }
    if (!domain_valid(domain))
        return ctr_fail(
            err, 0, "invalid reference format: registry `%s` is not a valid host[:port]", domain);
    if (*rest == '\0')
        return ctr_fail(err, 0,
                        "invalid reference format: repository name must have at least "
                        "one component");
    for (p = rest;;) {
        const char *e = strchr(p, '/');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (!path_component_valid(p, n))
            return ctr_fail(err, 0,
                            "invalid reference format: `%s`: repository path component `%.*s` "
                            "must be lowercase letters and digits separated by `.`, `_`, `__` or "
                            "`-`",
                            s, (int)n, p);
        if (e == NULL)
            break;
        p = e + 1;
    }
    if (strlen(domain) + 1 + strlen(rest) > OCI_REF_NAME_MAX)
        return ctr_fail(err, 0,
                        "invalid reference format: repository name must not be more than "
                        "%d characters",
                        OCI_REF_NAME_MAX);

    /* ParseDockerRef: a digest wins over a tag; no tag and no digest means :latest. */
    if (digest != NULL && tag != NULL) {
        free(tag);
        tag = NULL;
    }
    if (digest == NULL && tag == NULL)
        tag = ctr_xstrdup(OCI_DEFAULT_TAG);
    out->domain = ctr_steal_ptr(domain);
    out->path = ctr_steal_ptr(rest);
    out->tag = ctr_steal_ptr(tag);
    out->digest = ctr_steal_ptr(digest);
    return 0;
}

char *oci_ref_repo(const struct oci_ref *r)
{
    return ctr_xasprintf("%s/%s", r->domain, r->path);
}

char *oci_ref_string(const struct oci_ref *r)
{
    return ctr_xasprintf("%s/%s%s%s%s%s", r->domain, r->path, r->tag ? ":" : "",
                         r->tag ? r->tag : "", r->digest ? "@" : "", r->digest ? r->digest : "");
}

char *oci_ref_familiar(const struct oci_ref *r)
{
    cleanup_free char *name = NULL;
    if (strcmp(r->domain, OCI_DEFAULT_DOMAIN) == 0) {
        const char *p = r->path;
        if (strncmp(p, "library/", 8) == 0 && strchr(p + 8, '/') == NULL)
            p += 8;
        name = ctr_xstrdup(p);
    } else {
        name = oci_ref_repo(r);
    }
    return ctr_xasprintf("%s%s%s%s%s", name, r->tag ? ":" : "", r->tag ? r->tag : "",
                         r->digest ? "@" : "", r->digest ? r->digest : "");
}

char *oci_ref_normalize(const char *s, ctr_error_t *err)
{
    struct oci_ref r = {0};
    char *out;
    if (oci_ref_parse(s, &r, err) < 0)
        return NULL;
    out = oci_ref_string(&r);
    oci_ref_release(&r);
    return out;
}
