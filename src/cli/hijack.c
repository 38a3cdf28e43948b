/* Hijacked streams (attach, exec start): the HTTP/1.1 upgrade is done by hand
 * on a raw unix-socket connection, since the upgraded socket is what we need
 * and curl does not hand it out. Then cli_pump relays stdin/stdout/stderr,
 * puts the terminal in raw mode, forwards SIGWINCH as resizes and watches for
 * the detach keys (Ctrl-P Ctrl-Q). */
#include "cli/cli.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#define HDR_MAX (64 * 1024)

static int connect_socket(const char *path, ctr_error_t *err)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    cleanup_close int fd = -1;

    if (strlen(path) >= sizeof(sa.sun_path))
        return ctr_fail(err, 0, "API socket path `%s` is too long", path);
    strcpy(sa.sun_path, path);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return ctr_fail(err, errno, "socket");
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
        return cli_connect_error(path, errno, err);
    return ctr_steal_fd(fd);
}

/* Body of an error response after the headers: Content-Length bytes, or what
 * arrives until EOF (bounded). */
static char *read_error_body(int fd, const char *hdrs, const char *pre, size_t pre_len)
{
    const char *cl = strcasestr(hdrs, "\r\ncontent-length:");
    size_t want = cl ? strtoul(cl + 17, NULL, 10) : 4096;
    char *buf;
    size_t len = pre_len;

    if (want > 4096)
        want = 4096;
    buf = ctr_xmalloc(want + pre_len + 1);
    memcpy(buf, pre, pre_len);
    while (len < want) {
        ssize_t r = read(fd, buf + len, want - len);
        if (r <= 0)
            break;
        len += (size_t)r;
    }
    buf[len] = '\0';
    /* A chunked body starts with a hex size line; skip it. */
    if (strcasestr(hdrs, "transfer-encoding: chunked")) {
        char *nl = strstr(buf, "\r\n");
        if (nl)
            memmove(buf, nl + 2, strlen(nl + 2) + 1);
    }
    return buf;
}

int cli_hijack(const struct cli_ctx *ctx, const char *method, const char *path, json_t *body,
               int *fd_out, char **pre, size_t *pre_len, ctr_error_t *err)
{
    cleanup_close int fd = -1;
    cleanup_free char *json = body ? json_dumps(body, JSON_COMPACT) : NULL;
    cleanup_free char *req = NULL;
    cleanup_free char *buf = ctr_xmalloc(HDR_MAX + 1);
    size_t len = 0;
    char *end = NULL;
    int major, minor, status;

    fd = connect_socket(ctx->socket, err);
    if (fd < 0)
        return -1;
    req = ctr_xasprintf("%s %s HTTP/1.1\r\nHost: localhost\r\nUser-Agent: container/%s\r\n"
                        "Connection: Upgrade\r\nUpgrade: tcp\r\n"
                        "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
                        method, path, CLI_VERSION, json ? strlen(json) : 0, json ? json : "");
    if (ctx->debug)
        fprintf(stderr, "[http] %s", req);
    if (ctr_send_all(fd, req, strlen(req)) < 0)
        return ctr_fail(err, errno, "sending `%s %s` to the daemon", method, path);
    while (end == NULL) {
        if (len == HDR_MAX)
            return ctr_fail(err, 0, "the daemon's response headers to `%s %s` exceed %d bytes",
                            method, path, HDR_MAX);
        ssize_t r = read(fd, buf + len, HDR_MAX - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return ctr_fail(err, errno, "reading the daemon's answer to `%s %s`", method, path);
        if (r == 0)
            return ctr_fail(err, 0, "the daemon closed the connection during `%s %s`", method,
                            path);
        len += (size_t)r;
        buf[len] = '\0';
        end = strstr(buf, "\r\n\r\n");
    }
    *end = '\0';
    if (ctx->debug)
        fprintf(stderr, "[http] %s\n", buf);
    if (sscanf(buf, "HTTP/%d.%d %d", &major, &minor, &status) != 3)
        return ctr_fail(err, 0, "the daemon sent a malformed status line to `%s %s`", method, path);
    const char *rest = end + 4;
    size_t rest_len = len - (size_t)(rest - buf);
    if (status >= 400) {
        cleanup_free char *b = read_error_body(fd, buf, rest, rest_len);
        cleanup_free char *m = cli_error_message(status, b, strlen(b));
        return ctr_fail(err, 0, "%s", m);
    }
    if (status != 101 && status != 200)
        return ctr_fail(err, 0, "unexpected answer HTTP %d to `%s %s`", status, method, path);
    *pre = ctr_xmalloc(rest_len + 1);
    memcpy(*pre, rest, rest_len);
    *pre_len = rest_len;
    *fd_out = ctr_steal_fd(fd);
    return 0;
}

/* ---- the pump ---- */
static int sig_pipe[2] = {-1, -1};

static void on_signal(int sig)
{
    int saved = errno;
    unsigned char c = (unsigned char)sig;
    if (write(sig_pipe[1], &c, 1) < 0) {
        /* pipe full: the signal is dropped, a resize or kill is repeated later */
    }
    errno = saved;
}

void cli_resize(const struct cli_ctx *ctx, const char *resize_path)
{
    struct winsize ws;
    ctr_error_t err = NULL;
    cleanup_free char *p = NULL;

    if (resize_path == NULL || ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) < 0 || ws.ws_row == 0)
        return;
    p = ctr_xasprintf("%s?h=%u&w=%u", resize_path, ws.ws_row, ws.ws_col);
    if (cli_call(ctx, "POST", p, NULL, NULL, &err) < 0) {
        log_debug("resize failed: %s", err->msg);
        ctr_error_free(&err);
    }
}

struct out_ctx {
    int out_fd, err_fd;
};

static int demux_out(void *opaque, int stream, const char *data, size_t len)
{
    struct out_ctx *o = opaque;
    int fd = stream == 2 || stream == 3 ? o->err_fd : o->out_fd;
    return ctr_write_all(fd, data, len) < 0 ? -1 : 0;
}

static int deliver(struct cli_demux *d, bool tty, const char *data, size_t len, ctr_error_t *err)
{
    struct out_ctx o = {STDOUT_FILENO, STDERR_FILENO};
    if (tty)
        return ctr_write_all(STDOUT_FILENO, data, len) < 0
                   ? ctr_fail(err, errno, "writing to stdout")
                   : 0;
    return cli_demux_feed(d, data, len, demux_out, &o, err);
}

int cli_pump(const struct cli_ctx *ctx, int fd, const char *pre, size_t pre_len,
             const struct cli_pump_opts *o, bool *detached, ctr_error_t *err)
{
    struct cli_demux d;
    struct termios saved_tio;
    bool raw = false, stdin_open = o->send_stdin;
    uint8_t keyv[CTR_DETACH_KEYS_MAX];
    size_t n_keys = 0, held = 0; /* held: the part of the keys read so far */
    bool keys = o->detach_keys && isatty(STDIN_FILENO) &&
                ctr_detach_keys_parse(o->detach_keys, keyv, &n_keys) == 0 && n_keys > 0;
    struct sigaction sa = {.sa_handler = on_signal}, old_winch, old_int, old_term;
    char buf[32 * 1024];
    int ret = -1;

    *detached = false;
    cli_demux_init(&d);
    if (pipe2(sig_pipe, O_CLOEXEC | O_NONBLOCK) < 0)
        return ctr_fail(err, errno, "pipe");
    sigemptyset(&sa.sa_mask);
    sigaction(SIGWINCH, &sa, &old_winch);
    if (!o->tty && o->kill_path) {
        sigaction(SIGINT, &sa, &old_int);
        sigaction(SIGTERM, &sa, &old_term);
    }
    if (o->tty && o->send_stdin && isatty(STDIN_FILENO) &&
        tcgetattr(STDIN_FILENO, &saved_tio) == 0) {
        struct termios tio = saved_tio;
        cfmakeraw(&tio);
        tio.c_oflag |= OPOST; /* keep \n -> \r\n for our own messages */
        raw = tcsetattr(STDIN_FILENO, TCSANOW, &tio) == 0;
    }
    if (o->tty)
        cli_resize(ctx, o->resize_path);
    if (pre_len && deliver(&d, o->tty, pre, pre_len, err) < 0)
        goto out;

    for (;;) {
        struct pollfd p[3] = {{.fd = fd, .events = POLLIN},
                              {.fd = sig_pipe[0], .events = POLLIN},
                              {.fd = stdin_open ? STDIN_FILENO : -1, .events = POLLIN}};
        if (poll(p, 3, -1) < 0) {
            if (errno == EINTR)
                continue;
            ctr_fail(err, errno, "poll");
            goto out;
        }
        if (p[1].revents & POLLIN) {
            unsigned char sig;
            while (read(sig_pipe[0], &sig, 1) == 1) {
                if (sig == SIGWINCH && o->tty) {
                    cli_resize(ctx, o->resize_path);
                } else if (sig != SIGWINCH && o->kill_path) {
                    cleanup_free char *kp = ctr_xasprintf("%s?signal=%d", o->kill_path, sig);
                    ctr_error_t kerr = NULL;
                    if (cli_call(ctx, "POST", kp, NULL, NULL, &kerr) < 0) {
                        log_warn("forwarding signal %d failed: %s", sig, kerr->msg);
                        ctr_error_free(&kerr);
                    }
                }
            }
        }
        if (p[2].revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t r = read(STDIN_FILENO, buf, sizeof(buf));
            if (r < 0 && (errno == EINTR || errno == EAGAIN))
                continue;
            if (r <= 0) {
                stdin_open = false;
                shutdown(fd, SHUT_WR); /* half-close: the container sees EOF */
            } else {
                size_t n = (size_t)r;
                char *out = buf;
                if (keys) {
                    /* the detach keys: a prefix is held back, sent when the next byte
                     * does not continue it */
                    static char tmp[sizeof(buf) + CTR_DETACH_KEYS_MAX];
                    size_t m = 0;
                    for (size_t i = 0; i < n && !*detached; i++) {
                        if ((uint8_t)buf[i] != keyv[held] && held > 0) {
                            memcpy(tmp + m, keyv, held);
                            m += held;
                            held = 0;
                        }
                        if ((uint8_t)buf[i] != keyv[held])
                            tmp[m++] = buf[i];
                        else if (++held == n_keys)
                            *detached = true;
                    }
                    out = tmp;
                    n = m;
                }
                if (n && ctr_send_all(fd, out, n) < 0 && errno != EPIPE) {
                    ctr_fail(err, errno, "sending stdin to the container");
                    goto out;
                }
                if (*detached) {
                    /* the daemon got the same keys (detachKeys): it ends the stream as a
                     * detach, which leaves the container's stdin open; a plain close
                     * would close it */
                    if (ctr_send_all(fd, keyv, n_keys) < 0)
                        log_debug("the daemon is gone: %s", strerror(errno));
                    ret = 0;
                    goto out;
                }
            }
        }
        if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t r = read(fd, buf, sizeof(buf));
            if (r < 0 && errno == EINTR)
                continue;
            if (r < 0 && errno != ECONNRESET) {
                ctr_fail(err, errno, "reading the container's output");
                goto out;
            }
            if (r <= 0)
                break;
            if (deliver(&d, o->tty, buf, (size_t)r, err) < 0)
                goto out;
        }
    }
    ret = o->tty ? 0 : cli_demux_finish(&d, err);
out:
    if (raw)
        tcsetattr(STDIN_FILENO, TCSANOW, &saved_tio);
    sigaction(SIGWINCH, &old_winch, NULL);
    if (!o->tty && o->kill_path) {
        sigaction(SIGINT, &old_int, NULL);
        sigaction(SIGTERM, &old_term, NULL);
    }
    close(sig_pipe[0]);
    close(sig_pipe[1]);
    sig_pipe[0] = sig_pipe[1] = -1;
    return ret;
}
