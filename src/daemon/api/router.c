/* Path handling of the API: the optional /vMAJOR.MINOR prefix, version checks
 * with Docker's messages, and pattern matching of routes. Pure functions. */
#include "daemon/api/api.h"

#include <stdlib.h>
#include <string.h>

static int parse_uint(const char **p, unsigned *out)
{
    unsigned long v = 0;
    const char *s = *p;
    if (*s < '0' || *s > '9')
        return -1;
    while (*s >= '0' && *s <= '9') {
        v = v * 10 + (unsigned long)(*s - '0');
        if (v > 100000)
            return -1;
        s++;
    }
    *out = (unsigned)v;
    *p = s;
    return 0;
}

int api_route_version(const char *path, bool *has_version, unsigned *major, unsigned *minor,
                      const char **rest)
{
    const char *p = path;

    *has_version = false;
    *rest = path;
    /* Docker's router: /v{version:[0-9.]+}/... */
    if (p[0] != '/' || p[1] != 'v' || p[2] < '0' || p[2] > '9')
        return 0;
    p += 2;
    if (parse_uint(&p, major) < 0)
        return -1;
    *minor = 0;
    if (*p == '.') {
        p++;
        if (parse_uint(&p, minor) < 0)
            return -1;
    }
    if (*p != '/' && *p != '\0')
        return -1;
    *has_version = true;
    *rest = *p ? p : "/";
    return 0;
}

char *api_version_check(unsigned major, unsigned minor)
{
    if (major > DMN_API_MAJOR || (major == DMN_API_MAJOR && minor > DMN_API_MINOR))
        return ctr_xasprintf("client version %u.%u is too new. Maximum supported API version is %s",
                             major, minor, DMN_API_VERSION);
    if (major < DMN_API_MAJOR || minor < DMN_API_MIN_MINOR)
        return ctr_xasprintf("client version %u.%u is too old. Minimum supported API version is "
                             "%u.%u, please upgrade your client to a newer version",
                             major, minor, DMN_API_MAJOR, DMN_API_MIN_MINOR);
    return NULL;
}

/* Next segment of *p (after skipping one '/'): start and length; false at the end. */
static bool next_seg(const char **p, const char **seg, size_t *len)
{
    const char *s = *p;
    if (*s == '/')
        s++;
    if (*s == '\0')
        return false;
    *seg = s;
    *len = strcspn(s, "/");
    *p = s + *len;
    return true;
}

static bool match_from(const char *pat, const char *path, char *params[], size_t np)
{
    const char *ps, *ss;
    size_t pl, sl;
    bool have_p = next_seg(&pat, &ps, &pl);
    const char *path_before = path;
    bool have_s = next_seg(&path, &ss, &sl);

    if (!have_p)
        return !have_s && (*path_before == '\0' || strcmp(path_before, "/") == 0);
    if (!have_s || sl == 0)
        return false;
    if (pl == 2 && memcmp(ps, "{}", 2) == 0) {
        if (np >= API_ROUTE_MAX_PARAMS || !match_from(pat, path, params, np + 1))
            return false;
        params[np] = ctr_xstrndup(ss, sl);
        return true;
    }
    if (pl == 3 && memcmp(ps, "{*}", 3) == 0) {
        /* Greedy: try the longest capture first. */
        const char *ends[512];
        size_t n = 0;
        const char *q = path;
        ends[n++] = q;
        const char *s2;
        size_t l2;
        while (n < 512 && next_seg(&q, &s2, &l2))
            ends[n++] = q;
        if (np >= API_ROUTE_MAX_PARAMS)
            return false;
        for (size_t i = n; i-- > 0;) {
            if (match_from(pat, ends[i], params, np + 1)) {
                params[np] = ctr_xstrndup(ss, (size_t)(ends[i] - ss));
                return true;
            }
        }
        return false;
    }
    if (pl != sl || memcmp(ps, ss, pl) != 0)
        return false;
    return match_from(pat, path, params, np);
}

bool api_route_match(const char *pattern, const char *path, char *params[API_ROUTE_MAX_PARAMS])
{
    char *tmp[API_ROUTE_MAX_PARAMS] = {0};
    if (!match_from(pattern, path, tmp, 0)) {
        for (size_t i = 0; i < API_ROUTE_MAX_PARAMS; i++)
            free(tmp[i]);
        return false;
    }
    for (size_t i = 0; i < API_ROUTE_MAX_PARAMS; i++) {
        free(params[i]);
        params[i] = tmp[i];
    }
    return true;
}
