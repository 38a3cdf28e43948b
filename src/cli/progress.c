/* `image pull/push --progress none|plain|ansi`: renders the daemon's JSON progress
 * messages. A message whose id is a 12-hex layer id belongs to that layer; other
 * messages are headers ("Pulling from", "The push refers to") or results
 * ("Digest:", "Status:", "Warning:", "<tag>: digest: ... size: ..."). Also the
 * platform that `image pull --platform/--os/--arch` asks for. */
#include "cli/progress.h"
#include "cli/cli.h"
#include "registry/registry.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct layer {
    char id[16];
    char status[48];
    uint64_t current, total;
    uint64_t t_first, cur_first; /* first byte event: rate baseline */
    uint64_t t_line;             /* plain: last bytes line */
    bool bytes_seen;
};

struct cli_progress {
    enum cli_progress_mode mode;
    FILE *out;
    uint64_t (*clock)(void);
    struct layer *l;
    size_t n;
    int drawn; /* ansi: lines of the layer area on screen */
    uint64_t t_redraw, t0;
    bool t0_set;
};

int cli_progress_parse(const char *flag, const char *v, enum cli_progress_mode *out,
                       ctr_error_t *err)
{
    if (strcmp(v, "none") == 0)
        *out = CLI_PROGRESS_NONE;
    else if (strcmp(v, "plain") == 0)
        *out = CLI_PROGRESS_PLAIN;
    else if (strcmp(v, "ansi") == 0)
        *out = CLI_PROGRESS_ANSI;
    else if (strcmp(v, "auto") == 0)
        *out = CLI_PROGRESS_AUTO;
    else
        return ctr_fail(err, 0, "invalid value `%s` for `%s`: use `none`, `plain` or `ansi`", v,
                        flag);
    return 0;
}

struct cli_progress *cli_progress_new(enum cli_progress_mode mode, FILE *out,
                                      uint64_t (*clock)(void))
{
    struct cli_progress *p = ctr_xcalloc(1, sizeof(*p));
    if (mode == CLI_PROGRESS_AUTO)
        mode = isatty(fileno(out)) ? CLI_PROGRESS_ANSI : CLI_PROGRESS_PLAIN;
    p->mode = mode;
    p->out = out;
    p->clock = clock ? clock : ctr_now_ns;
    return p;
}

static bool is_layer_id(const char *id)
{
    if (id == NULL || strlen(id) != 12)
        return false;
    for (const char *c = id; *c; c++)
        if (!isxdigit((unsigned char)*c))
            return false;
    return true;
}

static bool is_result(const char *status)
{
    return strncmp(status, "Digest: ", 8) == 0 || strncmp(status, "Status: ", 8) == 0 ||
           strncmp(status, "Warning: ", 9) == 0 || strstr(status, ": digest: ") != NULL;
}

static bool is_transfer(const char *status)
{
    return strcmp(status, "Downloading") == 0 || strcmp(status, "Pushing") == 0 ||
           strcmp(status, "Extracting") == 0;
}

static bool is_complete(const char *status)
{
    return strcmp(status, "Download complete") == 0 || strcmp(status, "Pull complete") == 0 ||
           strcmp(status, "Pushed") == 0;
}

static struct layer *layer_get(struct cli_progress *p, const char *id)
{
    for (size_t i = 0; i < p->n; i++)
        if (strcmp(p->l[i].id, id) == 0)
            return &p->l[i];
    p->l = ctr_xrealloc(p->l, (p->n + 1) * sizeof(*p->l));
    struct layer *l = &p->l[p->n++];
    memset(l, 0, sizeof(*l));
    snprintf(l->id, sizeof(l->id), "%s", id);
    return l;
}

static double layer_rate(const struct layer *l, uint64_t now)
{
    double secs = (double)(now - l->t_first) / 1e9;
    return l->bytes_seen && secs >= 0.001 ? (double)(l->current - l->cur_first) / secs : 0;
}

/* "1.2MB/3.4MB (800kB/s)" */
static void print_bytes(FILE *out, uint64_t cur, uint64_t total, double rate, bool with_rate)
{
    cleanup_free char *c = cli_human_size((double)cur), *t = cli_human_size((double)total);
    fprintf(out, "%s/%s", c, t);
    if (with_rate) {
        cleanup_free char *r = cli_human_size(rate);
        fprintf(out, " (%s/s)", r);
    }
}

static void plain_layer(struct cli_progress *p, struct layer *l, bool bytes, uint64_t now)
{
    fprintf(p->out, "%s: %s", l->id, l->status);
    if (bytes && l->total)
        fputc(' ', p->out), print_bytes(p->out, l->current, l->total, layer_rate(l, now), true);
    else if (is_complete(l->status) && l->total) {
        cleanup_free char *t = cli_human_size((double)l->total);
        fprintf(p->out, " %s", t);
    }
    fputc('\n', p->out);
}

static void ansi_draw(struct cli_progress *p, uint64_t now)
{
    uint64_t cur = 0, total = 0, moved = 0;
    if (p->drawn)
        fprintf(p->out, "\033[%dA", p->drawn);
    for (size_t i = 0; i < p->n; i++) {
        struct layer *l = &p->l[i];
        fprintf(p->out, "\033[2K\r%s: %-18s", l->id, l->status);
        if (is_transfer(l->status) && l->total) {
            char bar[32];
            int width = 25;
            int fill = (int)((double)l->current / (double)l->total * width);
            fill = fill > width ? width : fill;
            memset(bar, '=', (size_t)fill);
            if (fill < width)
                bar[fill++] = '>';
            memset(bar + fill, ' ', (size_t)(width - fill));
            bar[width] = '\0';
            fprintf(p->out, " [%s] ", bar);
            print_bytes(p->out, l->current, l->total, layer_rate(l, now), true);
        } else if (l->total) {
            cleanup_free char *t = cli_human_size((double)l->total);
            fprintf(p->out, " %s", t);
        }
        fputc('\n', p->out);
        cur += l->current;
        total += l->total;
        moved += l->current - l->cur_first;
    }
    double secs = p->t0_set ? (double)(now - p->t0) / 1e9 : 0;
    fprintf(p->out, "\033[2K\rTotal: ");
    print_bytes(p->out, cur, total, secs >= 0.001 ? (double)moved / secs : 0, true);
    fputc('\n', p->out);
    p->drawn = (int)p->n + 1;
    p->t_redraw = now;
}

/* A header or result line: below the layer area, which stays as drawn. */
static void line(struct cli_progress *p, const char *id, const char *status, uint64_t now)
{
    bool result = is_result(status);
    if (p->mode == CLI_PROGRESS_NONE && !result)
        return;
    if (p->mode == CLI_PROGRESS_ANSI && p->n) {
        ansi_draw(p, now);
        p->n = 0;
        p->drawn = 0;
        p->t0_set = false;
    }
    if (id && *id && (strcmp(status, "Pulling from") == 0 || strcmp(status, "Pulling") == 0))
        fprintf(p->out, "%s %s\n", status, id);
    else if (id && *id)
        fprintf(p->out, "%s: %s\n", id, status);
    else
        fprintf(p->out, "%s\n", status);
}

void cli_progress_msg(struct cli_progress *p, json_t *msg)
{
    const char *status = cli_json_str(msg, "status"), *id = cli_json_str(msg, "id");
    const char *stream = cli_json_str(msg, "stream");
    json_t *pd = json_object_get(msg, "progressDetail");
    json_t *jc = json_object_get(pd, "current"), *jt = json_object_get(pd, "total");
    uint64_t now = p->clock();

    if (stream) {
        if (p->mode != CLI_PROGRESS_NONE)
            fputs(stream, p->out);
    } else if (status && !is_layer_id(id)) {
        line(p, id, status, now);
    } else if (status) {
        struct layer *l = layer_get(p, id);
        bool bytes = json_is_integer(jc);
        bool changed = strcmp(l->status, status) != 0;
        snprintf(l->status, sizeof(l->status), "%s", status);
        if (json_is_integer(jt) && json_integer_value(jt) > 0)
            l->total = (uint64_t)json_integer_value(jt);
        if (bytes) {
            l->current = (uint64_t)json_integer_value(jc);
            if (!l->bytes_seen) {
                l->bytes_seen = true;
                l->t_first = now;
                l->cur_first = l->current;
            }
            if (!p->t0_set) {
                p->t0_set = true;
                p->t0 = now;
            }
        } else if (is_complete(status) && l->total) {
            l->current = l->total;
        }
        if (p->mode == CLI_PROGRESS_PLAIN) {
            if (changed || !bytes || now - l->t_line >= 1000000000ull ||
                (l->total && l->current >= l->total)) {
                plain_layer(p, l, bytes, now);
                if (bytes)
                    l->t_line = now;
            }
        } else if (p->mode == CLI_PROGRESS_ANSI) {
            if (changed || !bytes || now - p->t_redraw >= 100000000ull)
                ansi_draw(p, now);
        }
    }
    fflush(p->out);
}

void cli_progress_free(struct cli_progress *p)
{
    if (p == NULL)
        return;
    if (p->mode == CLI_PROGRESS_ANSI && p->n) {
        ansi_draw(p, p->clock());
        fflush(p->out);
    }
    free(p->l);
    free(p);
}

char *cli_image_platform(const char *platform, const char *os, const char *arch, ctr_error_t *err)
{
    struct oci_platform p = {0};
    char *out;
    if (platform == NULL && os == NULL && arch == NULL)
        return ctr_xstrdup("");
    if (oci_platform_parse(platform, &p, err) < 0)
        return NULL;
    out = ctr_xasprintf("%.31s/%.31s%s%s", os ? os : p.os, arch ? arch : p.architecture,
                        /* a variant belongs to the arch it was given with */
                        !arch && p.variant ? "/" : "", !arch && p.variant ? p.variant : "");
    oci_platform_release(&p);
    return out;
}
