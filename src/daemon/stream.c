/* Streams between hijacked API clients and the shims: the shim's control
 * socket sessions (proto/shim.h), the relay (raw with a tty, Docker's 8-byte
 * multiplexed frames without), and attach, including attaches made before a
 * start (docker run attaches first, then starts). */
#include "daemon/daemon-internal.h"
#include "shimc/shimc.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int client_output(void *ctx, int which, const uint8_t *data, size_t len)
{
    struct dmn_relay *rl = ctx;
    if ((which == 1 && !rl->want_stdout) || (which == 2 && !rl->want_stderr))
        return 0;
    if (rl->tty)
        return ctr_send_all(rl->client_fd, data, len);
    uint8_t hdr[8];
    dmn_mux_header(hdr, which, (uint32_t)len);
    if (ctr_send_all(rl->client_fd, hdr, sizeof(hdr)) < 0)
        return -1;
    return ctr_send_all(rl->client_fd, data, len);
}

int dmn_relay_run(struct dmn_relay *rl)
{
    ctr_error_t e = NULL;
    struct shimc_relay sr = {.shim_fd = rl->shim_fd,
                             .bundle = rl->bundle,
                             .wlock = rl->wlock,
                             .in_fd = rl->client_fd,
                             .stdin_open = rl->stdin_open,
                             .in_peer = true,
                             .sig_fd = -1,
                             .output = client_output,
                             .ctx = rl,
                             .detach_keys = rl->detach_keys,
                             .n_detach_keys = rl->n_detach_keys,
                             .in_end_keeps_stdin = rl->keep_stdin};
    int status = shimc_relay_run(&sr, &e);
    rl->detached = sr.detached;

    rl->stdin_open = sr.stdin_open;
    if (sr.refused) {
        rl->error = ctr_error_take_msg(&e);
        rl->error_code = sr.code;
    } else if (sr.timed_out) {
        rl->error = ctr_error_take_msg(&e);
        rl->error_code = 126;
        log_warn("%s", rl->error);
    }
    ctr_error_free(&e);
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
        int fd = shimc_request(c->bundle, &req, NULL);
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

    dmn_lock(d);
    if (c->status == DMN_RUNNING) {
        struct shimp_request req = {.op = SHIMP_OP_ATTACH, .stdin_open = a->in};
        a->shim_fd = shimc_request(c->bundle, &req, NULL);
        dmn_unlock(d);
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
    dmn_unlock(d);
    return a->shim_fd;
}

void dmn_attach_begin(struct dmn *d, struct dmn_container *c, struct dmn_attach_opts *o)
{
    o->in = o->in && c->open_stdin;
    dmn_lock(d);
    dmn_event_container_locked(d, c, "attach", NULL);
    dmn_unlock(d);
}

void dmn_attach_run(struct dmn *d, struct dmn_container *c, int fd, const struct dmn_attach_opts *o,
                    const char *pre, size_t pre_len)
{
    struct dmn_attach at = {.d = d,
                            .c = c,
                            .in = o->in,
                            .out = o->out,
                            .err = o->err,
                            .logs = o->logs,
                            .stream = o->stream,
                            .tty = c->tty || o->raw,
                            .shim_fd = -1};
    struct dmn_attach *a = &at;

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
                           .want_stderr = a->err,
                           .n_detach_keys = a->in ? o->n_detach_keys : 0,
                           .keep_stdin = o->keep_stdin};
    memcpy(rl.detach_keys, o->detach_keys, sizeof(rl.detach_keys));
    if (pre_len && a->in)
        shimc_send_stdin(rl.shim_fd, NULL, pre, pre_len);
    dmn_relay_run(&rl);
    if (rl.detached)
        log_debug("container %.12s: a client detached (its detach keys)", c->id);
    free(rl.error);
    shutdown(fd, SHUT_RDWR);
    close(a->shim_fd);
}
