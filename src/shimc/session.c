/* exec and attach sessions: the relay between a shim connection and the caller
 * (a hijacked API client in the daemon, or our own stdio in `container-runtime
 * exec/attach`), and exec with collected output. */
#include "shimc/shimc.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

struct relay_state {
    bool replied;   /* the shim accepted the request */
    bool in_polled; /* in_peer: we still read the caller (stdin, or to notice it leaving) */
    int status;     /* the exit event's, -1 until then */
};

/* One frame from the shim; 1 when the session ended, -1 on a bad frame. */
static int relay_frame(struct shimc_relay *rl, struct relay_state *rs, const struct agent_frame *f,
                       ctr_error_t *err)
{
    if (f->type == AGENT_FRAME_DATA)
        return rl->output(rl->ctx, f->stream == SHIMP_STREAM_STDERR ? 2 : 1, f->payload,
                          f->length) < 0
                   ? ctr_fail(err, EPIPE, "the output of the session cannot be delivered")
                   : 0;
    if (f->type != AGENT_FRAME_CONTROL)
        return 0;
    struct shimp_msg m = {0};
    if (shimp_msg_decode((const char *)f->payload, f->length, &m, err) < 0)
        return -1;
    int ret = 0;
    if (m.kind == SHIMP_MSG_EXIT) {
        rs->status = m.status;
        ret = 1;
    } else if (m.ok) {
        rs->replied = true;
    } else {
        rl->refused = true;
        rl->code = m.code;
        ctr_fail(err, 0, "%s", m.error ? m.error : "the shim refused the request");
        ret = 1;
    }
    shimp_msg_release(&m);
    return ret;
}

/* Signals for the process: SIGWINCH becomes a resize to the terminal's size. */
static void relay_signals(struct shimc_relay *rl)
{
    struct signalfd_siginfo si;
    while (read(rl->sig_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
        struct shimp_request r = {.op = SHIMP_OP_SIGNAL, .signal = (int)si.ssi_signo};
        if (si.ssi_signo == SIGWINCH) {
            struct winsize ws;
            if (ioctl(rl->in_fd, TIOCGWINSZ, &ws) < 0)
                continue;
            r = (struct shimp_request){.op = SHIMP_OP_RESIZE, .rows = ws.ws_row, .cols = ws.ws_col};
        }
        shimc_send(rl->shim_fd, rl->wlock, &r, NULL);
    }
}

static void relay_stdin(struct shimc_relay *rl, const uint8_t *p, size_t n)
{
    if (n && rl->stdin_open && shimc_send_stdin(rl->shim_fd, rl->wlock, p, n) < 0)
        rl->stdin_open = false;
}

/* The caller's bytes through the detach keys (moby's escape proxy); true once the whole
 * sequence has been read (what followed it is dropped). */
static bool relay_escape(struct shimc_relay *rl, const uint8_t *buf, size_t n)
{
    size_t start = 0;
    for (size_t i = 0; i < n; i++) {
        if (buf[i] != rl->detach_keys[rl->detach_idx] && rl->detach_idx > 0) {
            relay_stdin(rl, rl->detach_keys, rl->detach_idx); /* not the sequence after all */
            rl->detach_idx = 0;
            start = i;
        }
        if (buf[i] != rl->detach_keys[rl->detach_idx])
            continue;
        if (rl->detach_idx == 0)
            relay_stdin(rl, buf + start, i - start);
        start = i + 1;
        if (++rl->detach_idx == rl->n_detach_keys) {
            rl->detached = true;
            return true;
        }
    }
    if (rl->detach_idx == 0)
        relay_stdin(rl, buf + start, n - start);
    return false;
}

/* The caller's input is readable; 1 when the caller is gone (the relay ends). */
static int relay_input(struct shimc_relay *rl, struct relay_state *rs, short revents, uint8_t *buf,
                       size_t size)
{
    ssize_t n = read(rl->in_fd, buf, size);
    if (n < 0 && errno == EINTR)
        return 0;
    if (n < 0 && errno == EAGAIN && !rl->in_peer)
        return 0;
    if (n > 0) {
        if (rl->n_detach_keys)
            return relay_escape(rl, buf, (size_t)n) ? 1 : 0;
        relay_stdin(rl, buf, (size_t)n);
        return 0;
    }
    /* EOF or an error: the process's stdin ends; output goes on */
    rs->in_polled = false;
    if (rl->stdin_open && !rl->in_end_keeps_stdin)
        shimc_send_stdin_eof(rl->shim_fd, rl->wlock);
    rl->stdin_open = false;
    /* a peer that hung up entirely (not just half-closed) ends the relay */
    return rl->in_peer && (n < 0 || (revents & (POLLHUP | POLLERR)));
}

int shimc_relay_run(struct shimc_relay *rl, ctr_error_t *err)
{
    struct agent_decoder dec;
    struct relay_state rs = {.replied = rl->bundle == NULL, .in_polled = true, .status = -1};
    uint8_t buf[65536];
    bool extended = false, done = false;
    int64_t deadline = (int64_t)ctr_now_ns() + (int64_t)shimc_control_timeout_ms() * 1000000;
    int ret = -1;

    rl->refused = rl->timed_out = rl->detached = false;
    rl->code = 0;
    rl->detach_idx = 0;
    agent_decoder_init(&dec);
    while (!done) {
        bool read_in =
            rl->in_fd >= 0 && (rl->in_peer ? rs.in_polled : rl->stdin_open && rs.replied);
        struct pollfd p[3] = {
            {.fd = rl->shim_fd, .events = POLLIN},
            {.fd = read_in ? rl->in_fd : -1, .events = POLLIN | (rl->in_peer ? POLLRDHUP : 0)},
            {.fd = rl->sig_fd, .events = POLLIN}};
        int ms = -1;
        if (!rs.replied) {
            int64_t left = deadline - (int64_t)ctr_now_ns();
            if (left <= 0 && !extended && !shimc_request_unread(rl->shim_fd)) {
                /* read but not answered yet (a slow guest): once more the deadline */
                extended = true;
                deadline += (int64_t)shimc_control_timeout_ms() * 1000000;
                continue;
            }
            if (left <= 0) {
                shimc_fail_no_answer(rl->bundle, "the request", shimc_control_timeout_ms(), err);
                rl->timed_out = true;
                break;
            }
            ms = (int)((left + 999999) / 1000000);
        }
        if (poll(p, 3, ms) < 0) {
            if (errno == EINTR)
                continue;
            ctr_fail(err, errno, "poll");
            break;
        }
        if (p[2].revents & POLLIN)
            relay_signals(rl);
        if ((p[1].revents & (POLLIN | POLLHUP | POLLERR | POLLRDHUP)) &&
            relay_input(rl, &rs, p[1].revents, buf, sizeof(buf))) {
            if (rl->detached) {
                ret = -2; /* the caller detached: the process runs on */
                break;
            }
            ctr_fail(err, 0, "the client is gone");
            break;
        }
        if (!(p[0].revents & (POLLIN | POLLHUP | POLLERR)))
            continue;
        ssize_t n = read(rl->shim_fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            ctr_fail(err, n < 0 ? errno : 0, "the shim closed the connection");
            break;
        }
        size_t off = 0;
        while (off < (size_t)n) {
            struct agent_frame f;
            size_t used;
            int d = agent_decoder_feed(&dec, buf + off, (size_t)n - off, &used, &f, err);
            off += used;
            int r = d < 0 ? -1 : d == 1 ? relay_frame(rl, &rs, &f, err) : 0;
            if (r != 0) {
                done = true;
                ret = r == 1 && !rl->refused ? rs.status : -1;
                break;
            }
            if (d == 0)
                break;
        }
    }
    agent_decoder_release(&dec);
    return ret;
}

/* ---- our own stdio: `container-runtime exec/attach` ---- */

static int stdio_output(void *ctx, int which, const uint8_t *data, size_t len)
{
    (void)ctr_write_all(which, data, len);
    return 0;
}

struct term {
    bool raw;
    struct termios saved;
};

static void raw_on(struct term *t)
{
    struct termios raw;
    if (!isatty(0) || tcgetattr(0, &t->saved) < 0)
        return;
    raw = t->saved;
    cfmakeraw(&raw);
    if (tcsetattr(0, TCSANOW, &raw) == 0)
        t->raw = true;
}

static void raw_off(struct term *t)
{
    if (t->raw)
        tcsetattr(0, TCSADRAIN, &t->saved);
    t->raw = false;
}

/* Relay a session on our stdio, forwarding our signals; returns the exit status or -1. */
static int stdio_session(const char *bundle, int fd, bool interactive, bool raw, int *refused_code,
                         ctr_error_t *err)
{
    static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH};
    struct term t = {0};
    sigset_t set;

    sigemptyset(&set);
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
        sigaddset(&set, sigs[i]);
    sigprocmask(SIG_BLOCK, &set, NULL);
    cleanup_close int sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    struct shimc_relay rl = {.shim_fd = fd,
                             .bundle = bundle,
                             .in_fd = 0,
                             .stdin_open = interactive,
                             .sig_fd = sfd,
                             .output = stdio_output};
    if (raw)
        raw_on(&t);
    int ret = shimc_relay_run(&rl, err);
    raw_off(&t);
    sigprocmask(SIG_UNBLOCK, &set, NULL);
    if (ret < 0 && rl.refused)
        *refused_code = rl.code ? rl.code : 1;
    return ret;
}

int shimc_exec(const char *bundle, const struct shimc_exec_opts *o, int *exit_code,
               ctr_error_t *err)
{
    struct shimp_request req = {.op = SHIMP_OP_EXEC};
    struct winsize ws;
    int code = 125;

    *exit_code = 125;
    req.exec.args = o->args;
    req.exec.env = o->env;
    req.exec.cwd = (char *)o->cwd;
    req.exec.user = (char *)o->user;
    req.exec.terminal = o->tty;
    req.stdin_open = o->interactive;
    if (o->tty && ioctl(0, TIOCGWINSZ, &ws) == 0) {
        req.exec.rows = ws.ws_row;
        req.exec.cols = ws.ws_col;
    }
    cleanup_close int fd = shimc_connect(bundle, err);
    if (fd < 0 || shimc_send(fd, NULL, &req, err) < 0)
        return -1;
    int ret = stdio_session(bundle, fd, o->interactive, o->tty && o->interactive, &code, err);
    *exit_code = ret < 0 ? code : ret;
    return ret < 0 ? -1 : 0;
}

int shimc_attach(const char *bundle, bool interactive, int *exit_code, ctr_error_t *err)
{
    struct shimp_request req = {.op = SHIMP_OP_ATTACH, .stdin_open = interactive};
    int code = 125;

    *exit_code = 125;
    cleanup_close int fd = shimc_connect(bundle, err);
    if (fd < 0 || shimc_send(fd, NULL, &req, err) < 0)
        return -1;
    int ret = stdio_session(bundle, fd, interactive, false, &code, err);
    if (ret < 0)
        return -1;
    *exit_code = ret;
    return 0;
}

/* ---- exec with collected output (`top`) ---- */

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int shimc_exec_collect_run(const char *bundle, struct shimc_collect *c, ctr_error_t *err)
{
    struct shimp_request req = {.op = SHIMP_OP_EXEC};
    struct agent_decoder dec;
    uint8_t buf[65536];
    cleanup_free char *failure = NULL;
    int64_t deadline = c->timeout_ms > 0 ? mono_ms() + c->timeout_ms : 0;

    c->out = NULL;
    c->len = 0;
    c->truncated = c->timed_out = false;
    c->status = -1;
    req.exec.args = c->args;
    req.exec.user = c->user;
    req.exec.cwd = c->cwd;
    int fd = shimc_request(bundle, &req, err);
    if (fd < 0)
        return -1;
    char *o = ctr_xmalloc(c->max + 1);
    agent_decoder_init(&dec);
    for (bool done = false; !done;) {
        if (deadline) {
            int64_t left = deadline - mono_ms();
            if (left <= 0) {
                c->timed_out = true;
                break;
            }
            struct pollfd pfd = {.fd = fd, .events = POLLIN};
            int pr = poll(&pfd, 1, (int)left + 1);
            if (pr < 0 && errno == EINTR)
                continue;
            if (pr < 0)
                break;
            if (pr == 0)
                continue;
        }
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        for (size_t off = 0; off < (size_t)n && !done;) {
            struct agent_frame f;
            size_t used;
            int rr = agent_decoder_feed(&dec, buf + off, (size_t)n - off, &used, &f, NULL);
            off += used;
            if (rr <= 0) {
                done = rr < 0;
                break;
            }
            if (f.type == AGENT_FRAME_DATA &&
                (f.stream == SHIMP_STREAM_STDOUT ||
                 (c->with_stderr && f.stream == SHIMP_STREAM_STDERR))) {
                size_t take = f.length < c->max - c->len ? f.length : c->max - c->len;
                memcpy(o + c->len, f.payload, take);
                c->len += take;
                if (take < f.length)
                    c->truncated = true;
            } else if (f.type == AGENT_FRAME_CONTROL) {
                struct shimp_msg m = {0};
                if (shimp_msg_decode((const char *)f.payload, f.length, &m, NULL) == 0) {
                    if (m.kind == SHIMP_MSG_EXIT) {
                        c->status = m.status;
                        done = true;
                    } else if (!m.ok) {
                        failure = ctr_xstrdup(m.error ? m.error : "exec failed");
                        done = true;
                    }
                }
                shimp_msg_release(&m);
            }
        }
    }
    agent_decoder_release(&dec);
    if (c->timed_out) {
        struct shimp_request k = {.op = SHIMP_OP_SIGNAL, .signal = SIGKILL};
        shimc_send(fd, NULL, &k, NULL);
    }
    close(fd);
    if (failure) {
        free(o);
        return ctr_fail(err, 0, "%s", failure);
    }
    o[c->len] = '\0';
    c->out = o;
    return 0;
}

int shimc_exec_collect(const char *bundle, char **args, char **out, size_t max, int *status,
                       ctr_error_t *err)
{
    struct shimc_collect c = {.args = args, .max = max};
    *status = -1;
    if (shimc_exec_collect_run(bundle, &c, err) < 0)
        return -1;
    *out = c.out;
    *status = c.status;
    return 0;
}
