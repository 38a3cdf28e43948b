/* Streams between hijacked API clients and the shims: the shim's control
 * socket sessions (proto/shim.h), the relay (raw with a tty, Docker's 8-byte
 * multiplexed frames without), and attach, including attaches made before a
 * start (docker run attaches first, then starts). */
#include "daemon/api/api.h"
#include "shim/shim.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

int dmn_shim_send(int fd, pthread_mutex_t *wlock, const void *req_json, size_t len)
{
    if (wlock)
        pthread_mutex_lock(wlock);
    int r = agent_frame_write(fd, AGENT_CONTROL_STREAM, AGENT_FRAME_CONTROL, req_json,
                              (uint32_t)len, NULL);
    if (wlock)
        pthread_mutex_unlock(wlock);
    return r;
}

int dmn_shim_request(const char *bundle, const struct shimp_request *req, ctr_error_t *err)
{
    size_t len;
    int fd = shim_client_connect(bundle, err);
    if (fd < 0)
        return -1;
    cleanup_free char *json = shimp_request_encode(req, &len);
    if (json == NULL || dmn_shim_send(fd, NULL, json, len) < 0) {
        close(fd);
        return ctr_fail(err, errno, "cannot send a request to the shim of `%s`", bundle);
    }
    return fd;
}

static int client_write(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int client_output(struct dmn_relay *rl, uint32_t stream, const uint8_t *data, size_t len)
{
    int which = stream == SHIMP_STREAM_STDERR ? 2 : 1;
    if ((which == 1 && !rl->want_stdout) || (which == 2 && !rl->want_stderr))
        return 0;
    if (rl->tty)
        return client_write(rl->client_fd, data, len);
    uint8_t hdr[8];
    dmn_mux_header(hdr, which, (uint32_t)len);
    if (client_write(rl->client_fd, hdr, sizeof(hdr)) < 0)
        return -1;
    return client_write(rl->client_fd, data, len);
}

static int send_stdin(struct dmn_relay *rl, uint8_t type, const void *data, size_t len)
{
    if (rl->wlock)
        pthread_mutex_lock(rl->wlock);
    int r = agent_frame_write(rl->shim_fd, SHIMP_STREAM_STDIN, type, data, (uint32_t)len, NULL);
    if (rl->wlock)
        pthread_mutex_unlock(rl->wlock);
    return r;
}

int dmn_relay_run(struct dmn_relay *rl)
{
    struct agent_decoder dec;
    uint8_t buf[65536];
    bool client_in = true; /* we still read the client (stdin, or to notice it leaving) */
    int status = -1;
    bool done = false;
    /* The control exchange has a deadline (the reply, shim.h); the stream after it none. */
    bool replied = rl->bundle == NULL, extended = false;
    int64_t deadline = (int64_t)ctr_now_ns() + (int64_t)shim_control_timeout_ms() * 1000000;

    agent_decoder_init(&dec);
    while (!done) {
        struct pollfd p[2] = {{.fd = rl->shim_fd, .events = POLLIN},
                              {.fd = client_in ? rl->client_fd : -1, .events = POLLIN | POLLRDHUP}};
        int ms = -1;
        if (!replied) {
            int64_t left = deadline - (int64_t)ctr_now_ns();
            if (left <= 0 && !extended && !shim_request_unread(rl->shim_fd)) {
                extended = true; /* read, not answered yet (a slow guest): once more */
                deadline += (int64_t)shim_control_timeout_ms() * 1000000;
                continue;
            }
            if (left <= 0) {
                ctr_error_t e = NULL;
                shim_fail_no_answer(rl->bundle, "the request", shim_control_timeout_ms(), &e);
                rl->error = ctr_error_take_msg(&e);
                rl->error_code = 126;
                log_warn("%s", rl->error);
                break;
            }
            ms = (int)((left + 999999) / 1000000);
        }
        if (poll(p, 2, ms) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (p[1].revents & (POLLIN | POLLHUP | POLLERR | POLLRDHUP)) {
            ssize_t n = recv(rl->client_fd, buf, sizeof(buf), 0);
            if (n < 0 && errno == EINTR)
                continue;
            if (n > 0) {
                if (rl->stdin_open && send_stdin(rl, AGENT_FRAME_DATA, buf, (size_t)n) < 0)
                    rl->stdin_open = false;
            } else {
                /* half-close (or gone): the container's stdin ends; output goes on */
                client_in = false;
                if (rl->stdin_open) {
                    send_stdin(rl, AGENT_FRAME_EOF, NULL, 0);
                    rl->stdin_open = false;
                }
                if (n < 0 || (p[1].revents & (POLLHUP | POLLERR)))
                    break; /* the client is gone entirely */
            }
        }
        if (!(p[0].revents & (POLLIN | POLLHUP | POLLERR)))
            continue;
        ssize_t n = read(rl->shim_fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        size_t off = 0;
        while (off < (size_t)n && !done) {
            struct agent_frame f;
            size_t used;
            int r = agent_decoder_feed(&dec, buf + off, (size_t)n - off, &used, &f, NULL);
            off += used;
            if (r < 0) {
                done = true;
                break;
            }
            if (r == 0)
                break;
            if (f.type == AGENT_FRAME_DATA) {
                if (client_output(rl, f.stream, f.payload, f.length) < 0)
                    done = true;
            } else if (f.type == AGENT_FRAME_CONTROL) {
                struct shimp_msg m = {0};
                if (shimp_msg_decode((const char *)f.payload, f.length, &m, NULL) < 0) {
                    done = true;
                    break;
                }
                if (m.kind == SHIMP_MSG_EXIT) {
                    status = m.status;
                    done = true;
                } else if (m.ok) {
                    replied = true;
                } else {
                    rl->error = ctr_xstrdup(m.error ? m.error : "the shim refused the request");
                    rl->error_code = m.code;
                    done = true;
                }
                shimp_msg_release(&m);
            }
        }
    }
    agent_decoder_release(&dec);
    return status;
}

/* ---- attach ---- */

struct dmn_attach {
    struct dmn_attach *next;
    struct dmn *d;
    struct dmn_container *c;
    bool in, out, err, logs, stream, tty;
    int shim_fd;
    bool failed;
};

int dmn_attach_connect_pending_locked(struct dmn *d, struct dmn_container *c)
{
    while (c->pending) {
        struct dmn_attach *a = c->pending;
        struct shimp_request req = {.op = SHIMP_OP_ATTACH, .stdin_open = a->in};
        int fd = dmn_shim_request(c->bundle, &req, NULL);
        if (fd < 0)
            return -1;
        a->shim_fd = fd;
        c->pending = a->next;
        a->next = NULL;
        pthread_cond_broadcast(&d->cond);
    }
    return 0;
}

void dmn_attach_fail_pending_locked(struct dmn *d, struct dmn_container *c)
{
    while (c->pending) {
        struct dmn_attach *a = c->pending;
        a->failed = true;
        c->pending = a->next;
        a->next = NULL;
    }
    pthread_cond_broadcast(&d->cond);
}

static void unlink_pending_locked(struct dmn_attach *a)
{
    for (struct dmn_attach **pp = &a->c->pending; *pp; pp = &(*pp)->next) {
        if (*pp == a) {
            *pp = a->next;
            return;
        }
    }
}

/* Connect to the running shim, or queue for the next start and wait. */
static int attach_connect(struct dmn_attach *a, int client_fd)
{
    struct dmn *d = a->d;
    struct dmn_container *c = a->c;

    pthread_mutex_lock(&d->lock);
    if (c->status == DMN_RUNNING) {
        struct shimp_request req = {.op = SHIMP_OP_ATTACH, .stdin_open = a->in};
        a->shim_fd = dmn_shim_request(c->bundle, &req, NULL);
        pthread_mutex_unlock(&d->lock);
        return a->shim_fd;
    }
    a->next = c->pending;
    c->pending = a;
    while (a->shim_fd < 0 && !a->failed && !c->removed) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1;
        pthread_cond_timedwait(&d->cond, &d->lock, &ts);
        if (a->shim_fd < 0 && ctr_fd_peer_gone(client_fd))
            break;
    }
    if (a->shim_fd < 0)
        unlink_pending_locked(a);
    pthread_mutex_unlock(&d->lock);
    return a->shim_fd;
}

static void attach_run(void *ctx, int fd, const char *pre, size_t pre_len)
{
    struct dmn_attach *a = ctx;

    if (a->logs)
        dmn_logs_replay(a->c->bundle, fd, a->tty, a->out, a->err);
    if (!a->stream)
        return;
    if (attach_connect(a, fd) < 0)
        return;
    struct dmn_relay rl = {.client_fd = fd,
                           .shim_fd = a->shim_fd,
                           .bundle = a->c->bundle,
                           .tty = a->tty,
                           .stdin_open = a->in,
                           .want_stdout = a->out,
                           .want_stderr = a->err};
    if (pre_len && a->in)
        send_stdin(&rl, AGENT_FRAME_DATA, pre, pre_len);
    dmn_relay_run(&rl);
    free(rl.error);
    shutdown(fd, SHUT_RDWR);
}

static void attach_free(void *ctx)
{
    struct dmn_attach *a = ctx;
    if (a->shim_fd >= 0)
        close(a->shim_fd);
    dmn_container_put(a->d, a->c);
    free(a);
}

int api_handle_attach(struct api_req *r)
{
    ctr_error_t err = NULL;
    struct dmn_container *c = dmn_container_get(r->d, r->params[0], &err);
    if (c == NULL)
        return api_reply_ctr_error(r, &err);
    struct dmn_attach *a = ctr_xcalloc(1, sizeof(*a));
    a->d = r->d;
    a->c = c;
    a->shim_fd = -1;
    a->in = api_query_bool(r, "stdin") && c->open_stdin;
    a->out = api_query_bool(r, "stdout");
    a->err = api_query_bool(r, "stderr");
    a->logs = api_query_bool(r, "logs");
    a->stream = api_query_bool(r, "stream");
    a->tty = c->tty;
    pthread_mutex_lock(&r->d->lock);
    dmn_event_container_locked(r->d, c, "attach", NULL);
    pthread_mutex_unlock(&r->d->lock);
    return api_reply_hijack(r,
                            a->tty ? "application/vnd.docker.raw-stream"
                                   : "application/vnd.docker.multiplexed-stream",
                            attach_run, a, attach_free);
}
