/* Progress renderers: plain lines (logs, pipes) and ANSI bars redrawn in place. */
#include "registry/registry-internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct entry {
    char digest[72];
    char what[16];
    const char *state;
    uint64_t done, total, start_done;
    uint64_t t_start, t_last_line;
};

struct registry_progress_renderer {
    enum registry_progress_style style;
    FILE *out;
    pthread_mutex_t lock;
    struct entry *e;
    size_t n;
    int drawn; /* ANSI lines currently on screen */
    uint64_t t_redraw;
};

int registry_progress_style_parse(const char *s, enum registry_progress_style *out,
                                  ctr_error_t *err)
{
    if (strcmp(s, "none") == 0)
        *out = REGISTRY_PROGRESS_NONE;
    else if (strcmp(s, "plain") == 0)
        *out = REGISTRY_PROGRESS_PLAIN;
    else if (strcmp(s, "ansi") == 0)
        *out = REGISTRY_PROGRESS_ANSI;
    else
        return registry_fail_code(err, EINVAL,
                                  "invalid progress style `%s`: use `none`, `plain` or `ansi`", s);
    return 0;
}

struct registry_progress_renderer *
registry_progress_renderer_new(enum registry_progress_style style, FILE *out)
{
    struct registry_progress_renderer *r = ctr_xcalloc(1, sizeof(*r));
    r->style = style;
    r->out = out;
    pthread_mutex_init(&r->lock, NULL);
    return r;
}

static void human(char *buf, size_t n, uint64_t b)
{
    if (b >= (1ull << 30))
        snprintf(buf, n, "%.2f GiB", (double)b / (double)(1ull << 30));
    else if (b >= (1ull << 20))
        snprintf(buf, n, "%.1f MiB", (double)b / (double)(1ull << 20));
    else if (b >= 1024)
        snprintf(buf, n, "%.1f KiB", (double)b / 1024.0);
    else
        snprintf(buf, n, "%llu B", (unsigned long long)b);
}

static double rate(const struct entry *e, uint64_t now)
{
    double secs = (double)(now - e->t_start) / 1e9;
    return secs > 0.001 ? (double)(e->done - e->start_done) / secs : 0;
}

static struct entry *entry_get(struct registry_progress_renderer *r, const char *digest,
                               const char *what)
{
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->e[i].digest, digest) == 0)
            return &r->e[i];
    r->e = ctr_xrealloc(r->e, (r->n + 1) * sizeof(*r->e));
    struct entry *e = &r->e[r->n++];
    memset(e, 0, sizeof(*e));
    snprintf(e->digest, sizeof(e->digest), "%s", digest);
    snprintf(e->what, sizeof(e->what), "%s", what ? what : "blob");
    e->state = "waiting";
    e->t_start = ctr_now_ns();
    return e;
}

static const char *short_id(const char *digest)
{
    const char *c = strchr(digest, ':');
    return c ? c + 1 : digest;
}

static void plain_line(struct registry_progress_renderer *r, struct entry *e, uint64_t now)
{
    char d[32], t[32];
    human(d, sizeof(d), e->done);
    human(t, sizeof(t), e->total);
    fprintf(r->out, "%.12s %s: %s %s/%s", short_id(e->digest), e->what, e->state, d, t);
    if (strcmp(e->state, "done") == 0 || strstr(e->state, "ing")) {
        char rt[32];
        human(rt, sizeof(rt), (uint64_t)rate(e, now));
        fprintf(r->out, " (%s/s)", rt);
    }
    fputc('\n', r->out);
    fflush(r->out);
    e->t_last_line = now;
}

static void ansi_draw(struct registry_progress_renderer *r, uint64_t now)
{
    uint64_t done = 0, total = 0;
    char d[32], t[32];
    if (r->drawn)
        fprintf(r->out, "\033[%dA", r->drawn);
    for (size_t i = 0; i < r->n; i++) {
        struct entry *e = &r->e[i];
        int width = 30, fill = e->total ? (int)((double)e->done / (double)e->total * width) : 0;
        char bar[64];
        if (fill > width)
            fill = width;
        memset(bar, '=', (size_t)fill);
        if (fill < width)
            bar[fill++] = '>';
        memset(bar + fill, ' ', (size_t)(width - fill));
        bar[width] = '\0';
        human(d, sizeof(d), e->done);
        human(t, sizeof(t), e->total);
        fprintf(r->out, "\033[2K%.12s %-8s %-12s [%s] %s/%s", short_id(e->digest), e->what,
                e->state, bar, d, t);
        if (strstr(e->state, "ing")) {
            char rt[32];
            human(rt, sizeof(rt), (uint64_t)rate(e, now));
            fprintf(r->out, " %s/s", rt);
        }
        fputc('\n', r->out);
        done += e->done;
        total += e->total;
    }
    human(d, sizeof(d), done);
    human(t, sizeof(t), total);
    fprintf(r->out, "\033[2Ktotal %s/%s\n", d, t);
    fflush(r->out);
    r->drawn = (int)r->n + 1;
    r->t_redraw = now;
}

void registry_progress_renderer_event(void *opaque, const struct registry_progress_event *ev)
{
    struct registry_progress_renderer *r = opaque;
    uint64_t now = ctr_now_ns();
    bool change = ev->kind != REGISTRY_PROGRESS_BYTES;

    if (r == NULL || r->style == REGISTRY_PROGRESS_NONE)
        return;
    pthread_mutex_lock(&r->lock);
    struct entry *e = entry_get(r, ev->digest, ev->what);
    e->done = ev->done;
    e->total = ev->total;
    switch (ev->kind) {
    case REGISTRY_PROGRESS_START:
        e->state = ev->push ? "pushing" : (ev->done ? "resuming" : "downloading");
        e->t_start = now;
        e->start_done = ev->done;
        break;
    case REGISTRY_PROGRESS_BYTES:
        break;
    case REGISTRY_PROGRESS_DONE:
        e->state = "done";
        break;
    case REGISTRY_PROGRESS_EXISTS:
        e->state = "exists";
        break;
    case REGISTRY_PROGRESS_MOUNTED:
        e->state = "mounted";
        break;
    case REGISTRY_PROGRESS_RETRY:
        e->state = "retrying";
        break;
    case REGISTRY_PROGRESS_FAILED:
        e->state = "failed";
        break;
    }
    if (r->style == REGISTRY_PROGRESS_PLAIN) {
        if (change || now - e->t_last_line >= 1000000000ull)
            plain_line(r, e, now);
    } else if (change || now - r->t_redraw >= 100000000ull) {
        ansi_draw(r, now);
    }
    if (ev->kind == REGISTRY_PROGRESS_RETRY)
        e->state = ev->push ? "pushing" : "downloading";
    pthread_mutex_unlock(&r->lock);
}

void registry_progress_renderer_free(struct registry_progress_renderer *r)
{
    if (r == NULL)
        return;
    if (r->style == REGISTRY_PROGRESS_ANSI && r->n)
        ansi_draw(r, ctr_now_ns());
    pthread_mutex_destroy(&r->lock);
    free(r->e);
    free(r);
}
