/* Value formats shared by the services and the api layer: Docker's times, filters,
 * string lists as JSON, container status names and the multiplexed stream header. The
 * container documents (list, inspect) are api/shapes.c. */
#include "daemon/daemon-internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

char *dmn_time_rfc3339(int64_t ns)
{
    struct tm tm;
    time_t t;
    char date[64], frac[16] = "";
    long sub;

    if (ns <= 0)
        return ctr_xstrdup("0001-01-01T00:00:00Z");
    t = (time_t)(ns / 1000000000);
    sub = (long)(ns % 1000000000);
    gmtime_r(&t, &tm);
    strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
    if (sub) {
        /* Go's RFC3339Nano: trailing zeros dropped */
        snprintf(frac, sizeof(frac), ".%09ld", sub);
        size_t l = strlen(frac);
        while (l > 1 && frac[l - 1] == '0')
            frac[--l] = '\0';
    }
    return ctr_xasprintf("%s%sZ", date, frac);
}

static int parse_digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if ((*p)[i] < '0' || (*p)[i] > '9')
            return -1;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *out = v;
    return 0;
}

int dmn_time_parse(const char *s, int64_t *ns)
{
    const char *p = s;
    int64_t frac_ns = 0;
    int scale = 100000000;

    if (s == NULL || *s == '\0')
        return -1;
    if (strspn(s, "0123456789.") == strlen(s)) {
        /* unix seconds[.nanoseconds], as docker's GetTimestamp sends them */
        char *end;
        errno = 0;
        long long sec = strtoll(s, &end, 10);
        if (errno || end == s)
            return -1;
        if (*end == '.') {
            for (end++; *end >= '0' && *end <= '9'; end++) {
                frac_ns += (*end - '0') * (int64_t)scale;
                scale /= 10;
            }
        }
        if (*end != '\0')
            return -1;
        *ns = (int64_t)sec * 1000000000 + frac_ns;
        return 0;
    }
    struct tm tm = {0};
    int y, mo, d, h, mi, se;
    if (parse_digits(&p, 4, &y) < 0 || *p++ != '-' || parse_digits(&p, 2, &mo) < 0 || *p++ != '-' ||
        parse_digits(&p, 2, &d) < 0 || (*p != 'T' && *p != 't' && *p != ' '))
        return -1;
    p++;
    if (parse_digits(&p, 2, &h) < 0 || *p++ != ':' || parse_digits(&p, 2, &mi) < 0 || *p++ != ':' ||
        parse_digits(&p, 2, &se) < 0)
        return -1;
    if (*p == '.') {
        for (p++; *p >= '0' && *p <= '9'; p++) {
            frac_ns += (*p - '0') * (int64_t)scale;
            scale /= 10;
        }
    }
    int64_t off = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p == '-' ? -1 : 1, oh, om;
        p++;
        if (parse_digits(&p, 2, &oh) < 0 || *p++ != ':' || parse_digits(&p, 2, &om) < 0)
            return -1;
        off = sign * (oh * 3600 + om * 60);
    } else {
        return -1;
    }
    if (*p != '\0' || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60)
        return -1;
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = se;
    *ns = ((int64_t)timegm(&tm) - off) * 1000000000 + frac_ns;
    return 0;
}

/* ---- filters ---- */

int dmn_filters_parse(const char *s, struct dmn_filters *out, ctr_error_t *err)
{
    json_error_t je;
    const char *key;
    json_t *v;

    out->f = json_object();
    if (s == NULL || *s == '\0')
        return 0;
    json_t *in = json_loads(s, 0, &je);
    if (in == NULL || !json_is_object(in)) {
        json_decref(in);
        return dmn_fail(err, EINVAL,
                        "invalid filter: `filters` must be a JSON object such as "
                        "{\"status\":[\"running\"]}");
    }
    json_object_foreach(in, key, v)
    {
        json_t *arr = json_array();
        if (json_is_array(v)) {
            size_t i;
            json_t *e;
            json_array_foreach(v, i, e)
            {
                if (!json_is_string(e)) {
                    dmn_fail(err, EINVAL, "invalid filter `%s`: values must be strings", key);
                    json_decref(arr);
                    json_decref(in);
                    return -1;
                }
                json_array_append(arr, e);
            }
        } else if (json_is_object(v)) {
            /* the older shape: {"status": {"running": true}} */
            const char *k2;
            json_t *v2;
            json_object_foreach(v, k2, v2)
            {
                if (json_is_true(v2))
                    json_array_append_new(arr, json_string(k2));
            }
        } else {
            dmn_fail(err, EINVAL, "invalid filter `%s`: expected a list of values", key);
            json_decref(arr);
            json_decref(in);
            return -1;
        }
        json_object_set_new(out->f, key, arr);
    }
    json_decref(in);
    return 0;
}

void dmn_filters_release(struct dmn_filters *f)
{
    json_decref(f->f);
    f->f = NULL;
}

int dmn_filters_check(const struct dmn_filters *f, const char *const *allowed, ctr_error_t *err)
{
    const char *key;
    json_t *v;
    json_object_foreach(f->f, key, v)
    {
        size_t i;
        for (i = 0; allowed[i] && strcmp(allowed[i], key) != 0; i++)
            ;
        if (allowed[i] == NULL)
            return dmn_fail(err, EINVAL, "invalid filter '%s'", key);
    }
    return 0;
}

bool dmn_filters_has(const struct dmn_filters *f, const char *key)
{
    json_t *a = json_object_get(f->f, key);
    return a && json_array_size(a) > 0;
}

bool dmn_filters_any(const struct dmn_filters *f, const char *key,
                     bool (*match)(const char *value, void *ctx), void *ctx)
{
    json_t *a = json_object_get(f->f, key), *e;
    size_t i;
    if (a == NULL || json_array_size(a) == 0)
        return true;
    json_array_foreach(a, i, e)
    {
        if (match(json_string_value(e), ctx))
            return true;
    }
    return false;
}

bool dmn_filters_labels(const struct dmn_filters *f, json_t *labels)
{
    json_t *a = json_object_get(f->f, "label"), *e;
    size_t i;
    json_array_foreach(a, i, e)
    {
        const char *want = json_string_value(e);
        const char *eq = strchr(want, '=');
        cleanup_free char *k = eq ? ctr_xstrndup(want, (size_t)(eq - want)) : ctr_xstrdup(want);
        json_t *have = json_object_get(labels, k);
        if (have == NULL)
            return false;
        if (eq && strcmp(json_string_value(have) ? json_string_value(have) : "", eq + 1) != 0)
            return false;
    }
    return true;
}

/* ---- containers ---- */

const char *dmn_status_name(enum dmn_status s)
{
    switch (s) {
    case DMN_CREATED:
        return "created";
    case DMN_STARTING:
        return "created"; /* docker: created until the process runs */
    case DMN_RUNNING:
        return "running";
    case DMN_EXITED:
        return "exited";
    case DMN_REMOVING:
        return "removing";
    case DMN_DEAD:
        return "dead";
    }
    return "unknown";
}

json_t *dmn_strv_json(char *const *v)
{
    json_t *a = json_array();
    for (size_t i = 0; v && v[i]; i++)
        json_array_append_new(a, json_string(v[i]));
    return a;
}

char **dmn_json_strv(json_t *a)
{
    size_t i;
    json_t *e;
    if (!json_is_array(a))
        return NULL;
    char **v = ctr_xcalloc(json_array_size(a) + 1, sizeof(char *));
    json_array_foreach(a, i, e) v[i] = ctr_xstrdup(json_is_string(e) ? json_string_value(e) : "");
    return v;
}

void dmn_mux_header(uint8_t hdr[8], int stream, uint32_t len)
{
    hdr[0] = (uint8_t)stream;
    hdr[1] = hdr[2] = hdr[3] = 0;
    hdr[4] = (uint8_t)(len >> 24);
    hdr[5] = (uint8_t)(len >> 16);
    hdr[6] = (uint8_t)(len >> 8);
    hdr[7] = (uint8_t)len;
}

const char *dmn_health_status_name(enum dmn_health_status s)
{
    switch (s) {
    case DMN_HEALTH_STARTING:
        return "starting";
    case DMN_HEALTH_HEALTHY:
        return "healthy";
    case DMN_HEALTH_UNHEALTHY:
        return "unhealthy";
    default:
        return "none";
    }
}
