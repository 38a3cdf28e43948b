/* Parsing of docker run option values: env files, memory sizes, cpus,
 * ulimits, container names and ids. */
#include "bundle/bundle-internal.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>

const char *bundle_create_lookup(const struct bundle_create_opts *opts, const char *name)
{
    if (opts->lookup_env)
        return opts->lookup_env(name, opts->lookup_ctx);
    return getenv(name);
}

#define ENV_FILE_MAX (1u << 20)
#define ENV_LINE_MAX (64u << 10) /* bufio.Scanner's token limit, as docker */

/* Strict UTF-8 (no overlongs, no surrogates), like Go's utf8.Valid. */
static bool utf8_valid(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        size_t len;
        uint32_t cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            len = 2;
            cp = c & 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            len = 3;
            cp = c & 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            len = 4;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (i + len > n)
            return false;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
            cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += len;
    }
    return true;
}

int bundle_create_parse_env_file(const char *path, const struct bundle_create_opts *opts,
                                 char ***env, ctr_error_t *err)
{
    cleanup_free char *data = NULL;
    size_t len, lineno = 0;
    char *p, *end;

    if (ctr_read_file(path, ENV_FILE_MAX, &data, &len, err) < 0)
        return ctr_error_wrap(err, "env file");
    p = data;
    end = data + len;
    while (p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *le = nl ? nl : end;
        char *line = p, *eq;
        size_t n;

        lineno++;
        p = nl ? nl + 1 : end;
        if (le > line && le[-1] == '\r') /* bufio.ScanLines drops a final CR */
            le--;
        n = (size_t)(le - line);
        if (n > ENV_LINE_MAX)
            return ctr_fail(err, 0, "`%s`:%zu: line is longer than %u bytes", path, lineno,
                            ENV_LINE_MAX);
        if (memchr(line, '\0', n) != NULL)
            return ctr_fail(err, 0, "`%s`:%zu: line contains a NUL byte", path, lineno);
        if (!utf8_valid((unsigned char *)line, n))
            return ctr_fail(err, 0, "`%s`:%zu: line contains invalid UTF-8", path, lineno);
        if (lineno == 1 && n >= 3 && memcmp(line, "\xef\xbb\xbf", 3) == 0) {
            line += 3;
            n -= 3;
        }
        *le = '\0';
        while (*line == ' ' || *line == '\t' || *line == '\n' || *line == '\v' || *line == '\f' ||
               *line == '\r')
            line++;
        if (*line == '\0' || *line == '#')
            continue;
        eq = strchr(line, '=');
        {
            size_t klen = eq ? (size_t)(eq - line) : strlen(line);
            if (klen == 0)
                return ctr_fail(err, 0, "`%s`:%zu: no variable name on line `%s`", path, lineno,
                                line);
            if (memchr(line, ' ', klen) || memchr(line, '\t', klen))
                return ctr_fail(err, 0, "`%s`:%zu: variable `%.*s` contains whitespace", path,
                                lineno, (int)klen, line);
        }
        if (eq) {
            ctr_strv_append(env, line); /* the value is passed through verbatim */
        } else {
            const char *val = bundle_create_lookup(opts, line);
            if (val != NULL) {
                cleanup_free char *kv = ctr_xasprintf("%s=%s", line, val);
                ctr_strv_append(env, kv);
            } else {
                ctr_strv_append(env, line);
            }
        }
    }
    return 0;
}

int bundle_create_parse_memory(const char *s, uint64_t *bytes, ctr_error_t *err)
{
    /* go-units RAMInBytes: ^(\d+(\.\d+)?) ?([kKmMgGtTpP])?[iI]?[bB]?$, binary multiples. */
    const char *p = s;
    char *numend;
    double v, mul = 1;
    static const char units[] = "kmgtp";

    if (s == NULL || *s == '\0')
        return ctr_fail(err, 0,
                        "invalid memory size ``: expected a number with an optional "
                        "unit b, k, m, g");
    if (!(*p >= '0' && *p <= '9'))
        goto bad;
    while (*p >= '0' && *p <= '9')
        p++;
    if (*p == '.') {
        p++;
        if (!(*p >= '0' && *p <= '9'))
            goto bad;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    errno = 0;
    v = strtod(s, &numend);
    if (numend != p || errno != 0 || !isfinite(v))
        goto bad;
    if (*p == ' ')
        p++;
    if (*p) {
        const char *u = strchr(units, *p | 0x20);
        if (u != NULL && *u) {
            for (const char *q = units; q <= u; q++)
                mul *= 1024;
            p++;
        }
    }
    if (*p == 'i' || *p == 'I')
        p++;
    if (*p == 'b' || *p == 'B')
        p++;
    if (*p != '\0')
        goto bad;
    v *= mul;
    if (v >= (double)BUNDLE_CREATE_MAX_MEMORY * 2)
        return ctr_fail(err, 0, "memory `%s` is above the maximum of %llu GiB", s,
                        (unsigned long long)(BUNDLE_CREATE_MAX_MEMORY >> 30));
    *bytes = (uint64_t)v;
    if (*bytes > BUNDLE_CREATE_MAX_MEMORY)
        return ctr_fail(err, 0, "memory `%s` is above the maximum of %llu GiB", s,
                        (unsigned long long)(BUNDLE_CREATE_MAX_MEMORY >> 30));
    if (*bytes < BUNDLE_CREATE_MIN_MEMORY)
        return ctr_fail(err, 0, "memory `%s` is below the minimum of %llu MiB", s,
                        (unsigned long long)(BUNDLE_CREATE_MIN_MEMORY >> 20));
    return 0;
bad:
    return ctr_fail(err, 0,
                    "invalid memory size `%s`: expected a number with an optional unit "
                    "b, k, m, g (e.g. `512m`, `2g`)",
                    s);
}

int bundle_create_parse_cpus(const char *s, unsigned *out, ctr_error_t *err)
{
    char *end;
    unsigned long v;

    if (s == NULL || !(*s >= '0' && *s <= '9'))
        return ctr_fail(err, 0, "invalid cpus `%s`: expected a whole number of vCPUs", s ? s : "");
    errno = 0;
    v = strtoul(s, &end, 10);
    if (*end == '.' || *end == ',')
        return ctr_fail(err, 0, "invalid cpus `%s`: a VM gets a whole number of vCPUs", s);
    if (*end != '\0' || errno != 0)
        return ctr_fail(err, 0, "invalid cpus `%s`: expected a whole number of vCPUs", s);
    if (v < 1 || v > BUNDLE_CREATE_MAX_CPUS)
        return ctr_fail(err, 0, "invalid cpus `%s`: use 1 to %d", s, BUNDLE_CREATE_MAX_CPUS);
    *out = (unsigned)v;
    return 0;
}

static const struct {
    const char *name;
    int resource;
} ulimit_names[] = {
    {"core", RLIMIT_CORE},         {"cpu", RLIMIT_CPU},
    {"data", RLIMIT_DATA},         {"fsize", RLIMIT_FSIZE},
    {"locks", RLIMIT_LOCKS},       {"memlock", RLIMIT_MEMLOCK},
    {"msgqueue", RLIMIT_MSGQUEUE}, {"nice", RLIMIT_NICE},
    {"nofile", RLIMIT_NOFILE},     {"nproc", RLIMIT_NPROC},
    {"rss", RLIMIT_RSS},           {"rtprio", RLIMIT_RTPRIO},
    {"rttime", RLIMIT_RTTIME},     {"sigpending", RLIMIT_SIGPENDING},
    {"stack", RLIMIT_STACK},
};

static int parse_limit(const char *s, size_t n, const char *whole, int64_t *out, ctr_error_t *err)
{
    cleanup_free char *v = ctr_xstrndup(s, n);
    char *end;
    long long x;

    errno = 0;
    x = strtoll(v, &end, 10);
    if (*v == '\0' || *end != '\0' || errno != 0 ||
        (*v != '-' && *v != '+' && (*v < '0' || *v > '9')))
        return ctr_fail(err, 0, "invalid ulimit `%s`: `%s` is not a number", whole, v);
    if (x < -1)
        return ctr_fail(err, 0, "invalid ulimit `%s`: limits are -1 (unlimited) or positive",
                        whole);
    *out = x;
    return 0;
}

int bundle_create_parse_ulimit(const char *s, struct agent_rlimit *out, ctr_error_t *err)
{
    const char *eq = strchr(s, '=');
    const char *vals, *colon;
    int64_t soft, hard;
    int res = -1;

    if (eq == NULL)
        return ctr_fail(err, 0, "invalid ulimit argument `%s`: expected name=soft[:hard]", s);
    for (size_t i = 0; i < sizeof(ulimit_names) / sizeof(ulimit_names[0]); i++)
        if (strlen(ulimit_names[i].name) == (size_t)(eq - s) &&
            strncmp(ulimit_names[i].name, s, (size_t)(eq - s)) == 0)
            res = ulimit_names[i].resource;
    if (res < 0)
        return ctr_fail(err, 0,
                        "invalid ulimit type `%.*s`: use one of core, cpu, data, fsize, locks, "
                        "memlock, msgqueue, nice, nofile, nproc, rss, rtprio, rttime, "
                        "sigpending, stack",
                        (int)(eq - s), s);
    vals = eq + 1;
    colon = strchr(vals, ':');
    if (colon && strchr(colon + 1, ':'))
        return ctr_fail(err, 0, "invalid ulimit `%s`: too many values, use soft[:hard]", s);
    if (parse_limit(vals, colon ? (size_t)(colon - vals) : strlen(vals), s, &soft, err) < 0)
        return -1;
    hard = soft;
    if (colon && parse_limit(colon + 1, strlen(colon + 1), s, &hard, err) < 0)
        return -1;
    if (hard != -1 && (soft == -1 || soft > hard))
        return ctr_fail(err, 0,
                        "invalid ulimit `%s`: soft limit must be less than or equal to hard "
                        "limit",
                        s);
    out->resource = res;
    out->soft = soft == -1 ? (uint64_t)RLIM_INFINITY : (uint64_t)soft;
    out->hard = hard == -1 ? (uint64_t)RLIM_INFINITY : (uint64_t)hard;
    return 0;
}

int bundle_create_check_name(const char *name, ctr_error_t *err)
{
    const char *n = name && name[0] == '/' ? name + 1 : name;
    size_t len = n ? strlen(n) : 0;
    bool ok = len >= 2 && len <= 253;

    for (size_t i = 0; ok && i < len; i++) {
        char c = n[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        ok = alnum || (i > 0 && (c == '_' || c == '.' || c == '-'));
    }
    if (!ok)
        return ctr_fail(err, 0,
                        "invalid container name `%s`: only [a-zA-Z0-9][a-zA-Z0-9_.-] are "
                        "allowed, at least 2 characters",
                        name ? name : "");
    return 0;
}

int bundle_create_new_id(char out[BUNDLE_CREATE_ID_LEN + 1], ctr_error_t *err)
{
    static const char hex[] = "0123456789abcdef";
    for (;;) {
        unsigned char b[BUNDLE_CREATE_ID_LEN / 2];
        bool all_digits = true;
        if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b))
            return ctr_fail(err, errno, "getrandom");
        for (size_t i = 0; i < sizeof(b); i++) {
            out[2 * i] = hex[b[i] >> 4];
            out[2 * i + 1] = hex[b[i] & 15];
        }
        out[BUNDLE_CREATE_ID_LEN] = '\0';
        /* As docker: the short id doubles as the hostname, which must not be all digits. */
        for (int i = 0; i < 12; i++)
            all_digits &= out[i] >= '0' && out[i] <= '9';
        if (!all_digits)
            return 0;
    }
}
