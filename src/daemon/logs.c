/* Logs: the shim's container.log (docker json-file lines) read back with
 * tail/since/until/timestamps, multiplexed unless the container has a tty, and
 * followed (inotify on the bundle, no busy polling) while the container runs.
 * api/logs.c streams what dmn_logs_read gives. */
#include "daemon/daemon-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <unistd.h>

struct dmn_logs {
    struct dmn *d;
    struct dmn_container *c;
    int fd, ino, client_fd;
    bool follow, timestamps, out, err, tty;
    int64_t since, until; /* 0: none */
    char *line;           /* partial line read so far */
    size_t line_len, line_cap;
    char *obuf; /* formatted output not sent yet */
    size_t olen, opos, ocap;
    bool finished;
};

static void out_append(struct dmn_logs *l, const void *p, size_t n)
{
    if (l->olen + n > l->ocap) {
        l->ocap = (l->olen + n) * 2 + 4096;
        l->obuf = ctr_xrealloc(l->obuf, l->ocap);
    }
    memcpy(l->obuf + l->olen, p, n);
    l->olen += n;
}

/* One json-file line → output; returns 1 when `until` is passed (stop). */
static int format_line(struct dmn_logs *l, const char *text, size_t len)
{
    json_error_t je;
    json_t *j = json_loadb(text, len, 0, &je);
    const char *log = NULL, *stream = NULL, *time = NULL;
    size_t log_len = 0;
    int ret = 0;

    if (j == NULL || json_unpack(j, "{s:s%,s:s,s:s}", "log", &log, &log_len, "stream", &stream,
                                 "time", &time) < 0)
        goto out;
    int which = strcmp(stream, "stderr") == 0 ? 2 : 1;
    if ((which == 1 && !l->out) || (which == 2 && !l->err))
        goto out;
    int64_t t = 0;
    if ((l->since || l->until) && dmn_time_parse(time, &t) == 0) {
        if (l->since && t < l->since)
            goto out;
        if (l->until && t > l->until) {
            ret = 1;
            goto out;
        }
    }
    size_t ts_len = l->timestamps ? strlen(time) + 1 : 0;
    if (!l->tty) {
        uint8_t hdr[8];
        dmn_mux_header(hdr, which, (uint32_t)(ts_len + log_len));
        out_append(l, hdr, sizeof(hdr));
    }
    if (ts_len) {
        out_append(l, time, ts_len - 1);
        out_append(l, " ", 1);
    }
    out_append(l, log, log_len);
out:
    json_decref(j);
    return ret;
}

/* Read what the file has; returns bytes read (0 at EOF), -1 on error. */
static ssize_t read_more(struct dmn_logs *l)
{
    char buf[32768];
    ssize_t n = read(l->fd, buf, sizeof(buf));
    if (n <= 0)
        return n < 0 && errno == EINTR ? read_more(l) : n;
    for (ssize_t i = 0; i < n && !l->finished; i++) {
        if (buf[i] != '\n') {
            if (l->line_len + 1 > l->line_cap) {
                l->line_cap = l->line_cap ? l->line_cap * 2 : 4096;
                l->line = ctr_xrealloc(l->line, l->line_cap);
            }
            l->line[l->line_len++] = buf[i];
            continue;
        }
        if (format_line(l, l->line, l->line_len) == 1)
            l->finished = true;
        l->line_len = 0;
    }
    return n;
}

/* Offset where the last `tail` lines start. */
static off_t tail_offset(int fd, long tail)
{
    off_t end = lseek(fd, 0, SEEK_END), pos = end;
    long lines = 0;
    char buf[8192];

    if (tail < 0 || end <= 0)
        return 0;
    if (tail == 0)
        return end;
    while (pos > 0) {
        size_t chunk = pos > (off_t)sizeof(buf) ? sizeof(buf) : (size_t)pos;
        pos -= (off_t)chunk;
        if (pread(fd, buf, chunk, pos) != (ssize_t)chunk)
            return 0;
        for (size_t i = chunk; i-- > 0;) {
            if (buf[i] != '\n' || pos + (off_t)i == end - 1)
                continue;
            if (++lines == tail)
                return pos + (off_t)i + 1;
        }
    }
    return 0;
}

static bool container_done(struct dmn_logs *l)
{
    dmn_lock(l->d);
    bool done = l->c->status != DMN_RUNNING && l->c->status != DMN_STARTING;
    dmn_unlock(l->d);
    return done;
}

ssize_t dmn_logs_read(struct dmn_logs *l, char *buf, size_t max)
{

    while (l->opos == l->olen) {
        l->opos = l->olen = 0;
        if (l->finished)
            return 0;
        ssize_t n = read_more(l);
        if (n < 0)
            return -1;
        if (n > 0)
            continue;
        if (!l->follow)
            return 0;
        if (container_done(l)) {
            /* a last look: the shim writes its final lines before it exits */
            while (read_more(l) > 0)
                ;
            l->finished = true;
            continue;
        }
        struct pollfd p = {.fd = l->ino, .events = POLLIN};
        if (poll(&p, 1, 1000) > 0) {
            char ev[4096];
            while (read(l->ino, ev, sizeof(ev)) > 0)
                ;
        }
        if (ctr_fd_peer_gone(l->client_fd) || atomic_load(&l->d->stopping))
            return -1;
    }
    size_t n = l->olen - l->opos < max ? l->olen - l->opos : max;
    memcpy(buf, l->obuf + l->opos, n);
    l->opos += n;
    return (ssize_t)n;
}

/* Every fd field starts at -1: dmn_logs_close closes only what was opened (a 0 would be
 * the daemon's stdin, then whatever connection reused fd 0). */
static struct dmn_logs *logs_new(void)
{
    struct dmn_logs *l = ctr_xcalloc(1, sizeof(*l));
    l->fd = -1;
    l->ino = -1;
    l->client_fd = -1;
    return l;
}

void dmn_logs_close(struct dmn_logs *l)
{
    if (l == NULL)
        return;
    if (l->fd >= 0)
        close(l->fd);
    if (l->ino >= 0)
        close(l->ino);
    if (l->c)
        dmn_container_put(l->d, l->c);
    free(l->line);
    free(l->obuf);
    free(l);
}

static int open_log(const char *bundle)
{
    cleanup_free char *path = ctr_xasprintf("%s/container.log", bundle);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT)
        fd = open("/dev/null", O_RDONLY | O_CLOEXEC); /* never started: no output */
    return fd;
}

void dmn_logs_replay(const char *bundle, int fd, bool tty, bool out, bool err)
{
    struct dmn_logs l = {.fd = open_log(bundle), .ino = -1, .out = out, .err = err, .tty = tty};
    if (l.fd < 0)
        return;
    while (read_more(&l) > 0) {
        if (ctr_send_all(fd, l.obuf, l.olen) < 0)
            break;
        l.olen = 0;
    }
    close(l.fd);
    free(l.line);
    free(l.obuf);
}

struct dmn_logs *dmn_logs_open(struct dmn *d, struct dmn_container *c, const char *name,
                               const struct dmn_logs_opts *o, ctr_error_t *err)
{
    struct dmn_logs *l = logs_new();
    l->d = d;
    l->client_fd = o->client_fd;
    l->follow = o->follow;
    l->timestamps = o->timestamps;
    l->out = o->out;
    l->err = o->err;
    l->since = o->since;
    l->until = o->until;
    l->tty = c->tty;
    l->fd = open_log(c->bundle);
    if (l->fd < 0) {
        dmn_fail(err, 0, "cannot open the log of container `%s`: %s", name, strerror(errno));
        dmn_logs_close(l);
        return NULL;
    }
    if (lseek(l->fd, tail_offset(l->fd, o->tail), SEEK_SET) < 0) {
        dmn_fail(err, 0, "cannot seek in the log of container `%s`", name);
        dmn_logs_close(l);
        return NULL;
    }
    if (l->follow) {
        l->ino = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
        if (l->ino >= 0)
            inotify_add_watch(l->ino, c->bundle, IN_MODIFY | IN_CREATE | IN_MOVED_TO);
    }
    dmn_lock(d);
    c->refs++; /* the reader's, put by dmn_logs_close */
    dmn_unlock(d);
    l->c = c;
    return l;
}
