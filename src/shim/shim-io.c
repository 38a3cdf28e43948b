/* Shim I/O: the container log (docker json-file lines) and the foreground
 * caller's stdio for `run` (raw tty, stdin relay, window size). */
#include "shim/shim-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define LOG_MAX_LINE (16u * 1024u) /* longer lines are split, as docker does */

/* ---- container.log ---- */

int shim_logw_open(struct shim_logw *l, const char *path, ctr_error_t *err)
{
    memset(l, 0, sizeof(*l));
    l->fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (l->fd < 0)
        return ctr_fail(err, errno, "open container log `%s`", path);
    return 0;
}

/* Length of the valid UTF-8 sequence at p (1..4), or 0 if invalid. */
static size_t utf8_seq(const uint8_t *p, size_t n)
{
    size_t len;
    uint32_t cp;

    if (p[0] < 0x80)
        return 1;
    if ((p[0] & 0xE0) == 0xC0) {
        len = 2;
        cp = p[0] & 0x1F;
    } else if ((p[0] & 0xF0) == 0xE0) {
        len = 3;
        cp = p[0] & 0x0F;
    } else if ((p[0] & 0xF8) == 0xF0) {
        len = 4;
        cp = p[0] & 0x07;
    } else {
        return 0;
    }
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3F);
    }
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

/* JSON string body; invalid UTF-8 becomes U+FFFD (as Go's encoding/json does). */
static void json_escape(FILE *f, const uint8_t *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint8_t c = p[i];
        size_t k;
        if (c == '"' || c == '\\') {
            fprintf(f, "\\%c", c);
            i++;
        } else if (c == '\n') {
            fputs("\\n", f);
            i++;
        } else if (c == '\r') {
            fputs("\\r", f);
            i++;
        } else if (c == '\t') {
            fputs("\\t", f);
            i++;
        } else if (c < 0x20 || c == 0x7F) {
            fprintf(f, "\\u%04x", c);
            i++;
        } else if ((k = utf8_seq(p + i, n - i)) == 0) {
            fputs("\\ufffd", f);
            i++;
        } else {
            fwrite(p + i, 1, k, f);
            i += k;
        }
    }
}

static void log_record(struct shim_logw *l, int which, const uint8_t *p, size_t n)
{
    char *buf = NULL;
    size_t len = 0;
    struct timespec ts;
    struct tm tm;
    char date[32];
    FILE *f;

    if (l->fd < 0 || n == 0)
        return;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
    f = open_memstream(&buf, &len);
    if (f == NULL)
        return;
    fputs("{\"log\":\"", f);
    json_escape(f, p, n);
    fprintf(f, "\",\"stream\":\"%s\",\"time\":\"%s.%09ldZ\"}\n",
            which == AGENTC_STDERR ? "stderr" : "stdout", date, ts.tv_nsec);
    fclose(f);
    if (ctr_write_all(l->fd, buf, len) < 0)
        log_warn("write container log: %s", strerror(errno));
    free(buf);
}

void shim_logw_write(struct shim_logw *l, int which, const uint8_t *data, size_t len)
{
    while (len > 0) {
        const uint8_t *nl = memchr(data, '\n', len);
        size_t take = nl ? (size_t)(nl - data) + 1 : len;
        size_t room = LOG_MAX_LINE - l->part_len[which]; /* > 0: full lines are flushed */
        bool ends = nl != NULL;
        if (take > room) {
            take = room;
            ends = false;
        }
        if (ends && l->part_len[which] == 0) {
            log_record(l, which, data, take); /* a whole line: no copy */
        } else {
            l->part[which] = ctr_xrealloc(l->part[which], l->part_len[which] + take);
            memcpy(l->part[which] + l->part_len[which], data, take);
            l->part_len[which] += take;
            if (ends || l->part_len[which] == LOG_MAX_LINE)
                shim_logw_flush(l, which);
        }
        data += take;
        len -= take;
    }
}

void shim_logw_flush(struct shim_logw *l, int which)
{
    if (l->part_len[which] == 0)
        return;
    log_record(l, which, (const uint8_t *)l->part[which], l->part_len[which]);
    l->part_len[which] = 0;
}

void shim_logw_close(struct shim_logw *l)
{
    for (int i = 1; i <= 2; i++) {
        shim_logw_flush(l, i);
        free(l->part[i]);
        l->part[i] = NULL;
    }
    if (l->fd >= 0)
        close(l->fd);
    l->fd = -1;
}

/* ---- the foreground caller's stdio ---- */

void shim_local_winsize(struct shim_local *loc, uint16_t *rows, uint16_t *cols)
{
    struct winsize ws;
    if (ioctl(loc->out_fd, TIOCGWINSZ, &ws) == 0 || ioctl(loc->in_fd, TIOCGWINSZ, &ws) == 0) {
        if (ws.ws_row && ws.ws_col) {
            *rows = ws.ws_row;
            *cols = ws.ws_col;
        }
    }
}

int shim_local_setup(struct shim *s, struct shim_local *loc, ctr_error_t *err)
{
    memset(loc, 0, sizeof(*loc));
    loc->in_fd = 0;
    loc->out_fd = 1;
    loc->err_fd = 2;
    loc->relay_stdin = s->cfg.open_stdin;
    if (s->cfg.process.terminal && loc->relay_stdin && isatty(loc->in_fd)) {
        struct termios raw;
        if (tcgetattr(loc->in_fd, &loc->saved) < 0)
            return ctr_fail(err, errno, "read terminal settings");
        raw = loc->saved;
        cfmakeraw(&raw);
        if (tcsetattr(loc->in_fd, TCSANOW, &raw) < 0)
            return ctr_fail(err, errno, "set the terminal to raw mode");
        loc->raw = true;
    }
    return 0;
}

void shim_local_restore(struct shim_local *loc)
{
    if (loc->raw) {
        tcsetattr(loc->in_fd, TCSADRAIN, &loc->saved);
        loc->raw = false;
    }
    shim_loop_del(&loc->in_w);
}

static void close_main_stdin(struct shim *s)
{
    shim_loop_del(&s->local->in_w);
    if (s->main && !s->main->exited)
        agentc_close_stdin(&s->ac, s->main, NULL);
    shim_agent_kick(s);
}

static void local_stdin(struct shim_watch *w, uint32_t ev)
{
    struct shim *s = w->data;
    uint8_t buf[65536];
    ssize_t n = read(w->fd, buf, sizeof(buf));

    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) {
        close_main_stdin(s);
        return;
    }
    if (s->main && !s->main->exited)
        agentc_send_stdin(&s->ac, s->main, buf, (size_t)n, NULL);
    if (s->ac.out_len >= AGENTC_OUT_HIGH)
        shim_loop_mod(w, 0); /* resumed by shim_agent_kick once the guest caught up */
    shim_agent_kick(s);
}

void shim_local_start_stdin(struct shim *s)
{
    struct shim_local *loc = s->local;
    cleanup_error ctr_error_t err = NULL;

    if (!loc->relay_stdin || s->main == NULL || !s->main->in_open)
        return;
    if (shim_loop_add(&s->loop, &loc->in_w, loc->in_fd, EPOLLIN, local_stdin, s, &err) == 0)
        return;
    /* Regular files and /dev/null cannot be polled: they never block, read them now. */
    for (;;) {
        uint8_t buf[65536];
        ssize_t n = read(loc->in_fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        agentc_send_stdin(&s->ac, s->main, buf, (size_t)n, NULL);
    }
    agentc_close_stdin(&s->ac, s->main, NULL);
    shim_agent_kick(s);
}

void shim_local_output(struct shim *s, int which, const uint8_t *data, size_t len)
{
    int fd = which == AGENTC_STDERR ? s->local->err_fd : s->local->out_fd;
    if (fd >= 0 && ctr_write_all(fd, data, len) < 0 && errno == EPIPE) {
        /* Reader gone: keep logging, stop writing there. */
        if (which == AGENTC_STDERR)
            s->local->err_fd = -1;
        else
            s->local->out_fd = -1;
    }
}
