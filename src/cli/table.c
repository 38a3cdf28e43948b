/* Aligned tables and the human formats docker prints (durations, sizes). */
#include "cli/cli.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct cli_table {
    size_t ncols, nrows;
    char **cells; /* nrows+1 rows (headers first) of ncols */
};

struct cli_table *cli_table_new(const char *const *headers)
{
    struct cli_table *t = ctr_xcalloc(1, sizeof(*t));
    while (headers[t->ncols])
        t->ncols++;
    t->cells = ctr_xcalloc(t->ncols, sizeof(char *));
    for (size_t i = 0; i < t->ncols; i++)
        t->cells[i] = ctr_xstrdup(headers[i]);
    return t;
}

void cli_table_add(struct cli_table *t, const char *const *cells)
{
    t->nrows++;
    t->cells = ctr_xrealloc(t->cells, (t->nrows + 1) * t->ncols * sizeof(char *));
    for (size_t i = 0; i < t->ncols; i++)
        t->cells[t->nrows * t->ncols + i] = ctr_xstrdup(cells[i] ? cells[i] : "");
}

/* Display width: UTF-8 continuation bytes take no column. */
static size_t width(const char *s)
{
    size_t w = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xc0) != 0x80)
            w++;
    return w;
}

void cli_table_print(const struct cli_table *t, FILE *f)
{
    cleanup_free size_t *w = ctr_xcalloc(t->ncols, sizeof(size_t));

    for (size_t r = 0; r <= t->nrows; r++)
        for (size_t c = 0; c < t->ncols; c++) {
            size_t cw = width(t->cells[r * t->ncols + c]);
            if (cw > w[c])
                w[c] = cw;
        }
    for (size_t r = 0; r <= t->nrows; r++) {
        for (size_t c = 0; c < t->ncols; c++) {
            const char *cell = t->cells[r * t->ncols + c];
            if (c + 1 == t->ncols) {
                fprintf(f, "%s\n", cell);
                break;
            }
            fprintf(f, "%s%*s", cell, (int)(w[c] - width(cell) + 3), "");
        }
    }
}

void cli_table_free(struct cli_table *t)
{
    if (t == NULL)
        return;
    for (size_t i = 0; i < (t->nrows + 1) * t->ncols; i++)
        free(t->cells[i]);
    free(t->cells);
    free(t);
}

char *cli_human_duration(int64_t seconds)
{
    int64_t hours;

    if (seconds < 1)
        return ctr_xstrdup("Less than a second");
    if (seconds == 1)
        return ctr_xstrdup("1 second");
    if (seconds < 60)
        return ctr_xasprintf("%lld seconds", (long long)seconds);
    if (seconds / 60 == 1)
        return ctr_xstrdup("About a minute");
    if (seconds / 60 < 60)
        return ctr_xasprintf("%lld minutes", (long long)(seconds / 60));
    hours = (seconds + 1800) / 3600; /* rounded, as Go's math.Round(d.Hours()) */
    if (hours == 1)
        return ctr_xstrdup("About an hour");
    if (hours < 48)
        return ctr_xasprintf("%lld hours", (long long)hours);
    if (hours < 24 * 7 * 2)
        return ctr_xasprintf("%lld days", (long long)(hours / 24));
    if (hours < 24 * 30 * 2)
        return ctr_xasprintf("%lld weeks", (long long)(hours / 24 / 7));
    if (hours < 24 * 365 * 2)
        return ctr_xasprintf("%lld months", (long long)(hours / 24 / 30));
    return ctr_xasprintf("%lld years", (long long)(seconds / 3600 / 24 / 365));
}

static char *custom_size(const char *fmt, double v, double base, const char *const *units)
{
    size_t i = 0;
    if (v < 0 || isnan(v))
        v = 0;
    while (v >= base && units[i + 1]) {
        v /= base;
        i++;
    }
    return ctr_xasprintf(fmt, v, units[i]);
}

char *cli_human_size(double bytes)
{
    static const char *const u[] = {"B", "kB", "MB", "GB", "TB", "PB", "EB", NULL};
    return custom_size("%.3g%s", bytes, 1000.0, u);
}

char *cli_human_bytes_binary(double bytes)
{
    static const char *const u[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", NULL};
    return custom_size("%.4g%s", bytes, 1024.0, u);
}

char *cli_short_id(const char *id)
{
    if (id == NULL)
        return ctr_xstrdup("");
    if (strncmp(id, "sha256:", 7) == 0)
        id += 7;
    return ctr_xstrndup(id, 12);
}

char *cli_ellipsis(const char *s, size_t max)
{
    size_t w = 0, i = 0;

    if (s == NULL)
        return ctr_xstrdup("");
    if (width(s) <= max || max == 0)
        return ctr_xstrdup(s);
    /* Keep max-1 characters, then "…". */
    for (; s[i]; i++) {
        if (((unsigned char)s[i] & 0xc0) != 0x80) {
            if (w == max - 1)
                break;
            w++;
        }
    }
    return ctr_xasprintf("%.*s…", (int)i, s);
}

int cli_parse_time(const char *s, int64_t *out)
{
    struct tm tm = {0};
    const char *p;

    if (s == NULL)
        return -1;
    p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (p == NULL)
        return -1;
    if (*p == '.')
        for (p++; *p >= '0' && *p <= '9'; p++)
            ;
    int64_t t = (int64_t)timegm(&tm);
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int hh, mm;
        if (sscanf(p + 1, "%2d:%2d", &hh, &mm) != 2)
            return -1;
        int64_t off = (int64_t)hh * 3600 + mm * 60;
        t += *p == '+' ? -off : off;
        p += 6;
    } else {
        return -1;
    }
    if (*p != '\0')
        return -1;
    *out = t;
    return 0;
}

void cli_print_json(json_t *j, FILE *f)
{
    cleanup_free char *s = json_dumps(j, JSON_INDENT(4) | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER);
    fprintf(f, "%s\n", s ? s : "null");
}
