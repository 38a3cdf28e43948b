/* The agent server: one epoll loop over the agent port, a signalfd for SIGCHLD
 * and the stdio of every process. Output is framed onto the port through a
 * bounded queue (process output pauses when the host does not read); stdin
 * from the host is buffered per process (the port pauses when it piles up).
 * Exit events go out only after the process's output EOF frames. */
#include "guest/guest-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#define READ_CHUNK (64u * 1024)
#define OUTQ_HIGH (1024u * 1024)
#define OUTQ_LOW (256u * 1024)
#define STDIN_MAX (1024u * 1024)
#define MAX_PROCS 1024
#define HOST_POLL_MS 20 /* while the host is not connected */
/* After the main exit event the host should send `shutdown` at once (its arrival proves
 * it read everything before); without it vminitd powers off by itself after a grace. */
#define EXIT_WAIT_MS 250
#define EXIT_WAIT_GONE_MS 250
#define KILL_WAIT_MS 3000 /* `shutdown`: processes to die and drain */
#define MAX_ERROR_MSG 4000

enum watch_kind { W_PORT, W_SIGNAL, W_OUT, W_ERR, W_IN };

struct watch {
    enum watch_kind kind;
    struct proc *p;
    int fd;
    uint32_t events; /* registered events; 0 = not in the epoll set */
};

struct buf {
    uint8_t *d;
    size_t off, len, cap; /* bytes d[off..len) pending */
};

struct proc {
    struct proc *next;
    char *name;
    pid_t pid;
    bool is_main, pty, reaped, in_eof;
    bool capture_err; /* an archive worker: stderr is its error message, not a stream */
    struct buf errmsg;
    int status;
    uint32_t in_stream, out_stream, err_stream;
    struct watch w_in, w_out, w_err;
    struct buf in;
};

static struct {
    int ep, port;
    struct watch w_port, w_sig;
    struct agent_decoder dec;
    struct buf outq;
    struct proc *procs;
    struct proc *dead; /* finished, freed after the current batch of epoll events */
    size_t n_procs;
    bool hello, setup_done, setup_failed, main_done, host_gone, broken, outputs_paused,
        input_paused;
    bool shutdown_requested, done;
    uint64_t shutdown_id;
    uint64_t deadline_ns; /* 0 = none */
} g;

static void buf_append(struct buf *b, const void *p, size_t n)
{
    if (b->off > 0 && b->off == b->len)
        b->off = b->len = 0;
    if (b->len + n > b->cap) {
        if (b->off > 0) {
            memmove(b->d, b->d + b->off, b->len - b->off);
            b->len -= b->off;
            b->off = 0;
        }
        if (b->len + n > b->cap) {
            b->cap = (b->len + n) * 2;
            b->d = ctr_xrealloc(b->d, b->cap);
        }
    }
    memcpy(b->d + b->len, p, n);
    b->len += n;
}

static size_t buf_pending(const struct buf *b)
{
    return b->len - b->off;
}

static void buf_free(struct buf *b)
{
    free(b->d);
    memset(b, 0, sizeof(*b));
}

/* Register exactly `events` for w (0 removes it: epoll reports HUP even for 0). */
static void watch_set(struct watch *w, uint32_t events)
{
    struct epoll_event ev = {.events = events, .data.ptr = w};
    int op;

    if (w->fd < 0 || w->events == events)
        return;
    op = events == 0 ? EPOLL_CTL_DEL : w->events == 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;
    if (epoll_ctl(g.ep, op, w->fd, &ev) < 0)
        log_warn("epoll_ctl fd %d: %s", w->fd, strerror(errno));
    w->events = events;
}

static void watch_close(struct watch *w)
{
    watch_set(w, 0);
    if (w->fd >= 0)
        close(w->fd);
    w->fd = -1;
}

/* ---------------------------------------------------------------- port output */

static void port_update(void)
{
    uint32_t ev = 0;
    if (!g.host_gone) {
        if (!g.input_paused)
            ev |= EPOLLIN;
        if (buf_pending(&g.outq))
            ev |= EPOLLOUT;
    }
    watch_set(&g.w_port, ev);
}

static void outputs_update(void);
static void stdin_pressure(void);

static void port_flush(void)
{
    while (buf_pending(&g.outq) > 0) {
        ssize_t n = write(g.port, g.outq.d + g.outq.off, buf_pending(&g.outq));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN) {
                log_error("write agent port: %s", strerror(errno));
                g.outq.off = g.outq.len = 0; /* the port is gone; nothing can be delivered */
            }
            break;
        }
        g.outq.off += (size_t)n;
    }
    if (g.outputs_paused && buf_pending(&g.outq) < OUTQ_LOW) {
        g.outputs_paused = false;
        outputs_update();
    }
    port_update();
}

static void queue_frame(uint32_t stream, uint8_t type, const void *payload, size_t len)
{
    uint8_t hdr[AGENT_FRAME_HDR_LEN];
    cleanup_error ctr_error_t err = NULL;

    if (agent_frame_header(hdr, stream, type, (uint32_t)len, &err) < 0) {
        log_error("agent frame: %s", err->msg);
        return;
    }
    buf_append(&g.outq, hdr, sizeof(hdr));
    if (len)
        buf_append(&g.outq, payload, len);
    if (!g.outputs_paused && buf_pending(&g.outq) > OUTQ_HIGH) {
        g.outputs_paused = true;
        outputs_update();
    }
    port_flush();
}

static void queue_json(char *json, size_t len)
{
    if (json == NULL)
        return;
    if (len > AGENT_MAX_CONTROL)
        log_error("control message of %zu bytes dropped", len);
    else
        queue_frame(AGENT_CONTROL_STREAM, AGENT_FRAME_CONTROL, json, len);
    free(json);
}

static void reply_ok(struct agent_reply *rep)
{
    size_t len;
    rep->ok = true;
    char *json = agent_reply_encode(rep, &len);
    queue_json(json, len);
}

static void reply_error(uint64_t id, int code, const char *msg)
{
    char trimmed[MAX_ERROR_MSG + 1];
    struct agent_reply rep = {.id = id, .ok = false, .code = code, .error = trimmed};
    size_t len;

    snprintf(trimmed, sizeof(trimmed), "%s", msg);
    char *json = agent_reply_encode(&rep, &len);
    queue_json(json, len);
}

/* ---------------------------------------------------------------- processes */

static void outputs_update(void)
{
    for (struct proc *p = g.procs; p; p = p->next) {
        watch_set(&p->w_out, g.outputs_paused ? 0 : EPOLLIN);
        watch_set(&p->w_err, g.outputs_paused ? 0 : EPOLLIN);
    }
}

static struct proc *find_name(const char *name)
{
    for (struct proc *p = g.procs; p; p = p->next)
        if (strcmp(p->name, name) == 0)
            return p;
    return NULL;
}

static bool stream_in_use(uint32_t s)
{
    for (struct proc *p = g.procs; s && p; p = p->next)
        if (p->in_stream == s || p->out_stream == s || p->err_stream == s)
            return true;
    return false;
}

static void set_deadline(uint32_t ms)
{
    uint64_t t = ctr_now_ns() + (uint64_t)ms * 1000000u;
    if (g.deadline_ns == 0 || t < g.deadline_ns)
        g.deadline_ns = t;
}

/* Send the exit event once the process is reaped and its outputs hit EOF. */
static void proc_maybe_finish(struct proc *p)
{
    struct agent_event ev = {.type = AGENT_EVENT_EXIT, .process = p->name};
    size_t len;

    if (!p->reaped || p->w_out.fd >= 0 || p->w_err.fd >= 0)
        return;
    ev.status = p->status;
    if (p->capture_err && p->status != 0) {
        while (p->errmsg.len > p->errmsg.off && p->errmsg.d[p->errmsg.len - 1] == '\n')
            p->errmsg.len--;
        buf_append(&p->errmsg, "", 1);
        ev.error = (char *)p->errmsg.d + p->errmsg.off;
        if (ev.error[0] == '\0')
            ev.error = p->status > 128 ? "the archive worker was killed" : "archive worker failed";
    }
    char *json = agent_event_encode(&ev, &len);
    queue_json(json, len);
    if (p->is_main) {
        log_info("main process exited with status %d", p->status);
        g.main_done = true;
        set_deadline(g.host_gone ? EXIT_WAIT_GONE_MS : EXIT_WAIT_MS);
    }
    watch_close(&p->w_in);
    for (struct proc **pp = &g.procs; *pp; pp = &(*pp)->next)
        if (*pp == p) {
            *pp = p->next;
            break;
        }
    g.n_procs--;
    p->next = g.dead;
    g.dead = p;
    stdin_pressure();
}

static void free_dead(void)
{
    while (g.dead) {
        struct proc *p = g.dead;
        g.dead = p->next;
        buf_free(&p->in);
        buf_free(&p->errmsg);
        free(p->name);
        free(p);
    }
}

/* Stop reading the port while too much stdin waits for processes that do not read it. */
static void stdin_pressure(void)
{
    size_t total = 0;
    bool paused;

    for (struct proc *q = g.procs; q; q = q->next)
        total += buf_pending(&q->in);
    paused = g.input_paused ? total >= STDIN_MAX / 2 : total > STDIN_MAX;
    if (paused != g.input_paused) {
        g.input_paused = paused;
        port_update();
    }
}

static void stdin_flush(struct proc *p)
{
    while (p->w_in.fd >= 0 && buf_pending(&p->in) > 0) {
        ssize_t n = write(p->w_in.fd, p->in.d + p->in.off, buf_pending(&p->in));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN) {
                watch_set(&p->w_in, EPOLLOUT);
                return;
            }
            p->in.off = p->in.len = 0; /* EPIPE: the reader is gone */
            p->in_eof = true;
            break;
        }
        p->in.off += (size_t)n;
    }
    watch_set(&p->w_in, 0);
    if (p->in_eof)
        watch_close(&p->w_in);
    stdin_pressure();
}

static void output_readable(struct proc *p, struct watch *w, uint32_t stream)
{
    static uint8_t chunk[READ_CHUNK];
    ssize_t n = read(w->fd, chunk, sizeof(chunk));

    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n > 0) {
        if (stream)
            queue_frame(stream, AGENT_FRAME_DATA, chunk, (size_t)n);
        else if (p->capture_err && buf_pending(&p->errmsg) < MAX_ERROR_MSG)
            buf_append(&p->errmsg, chunk,
                       (size_t)n < MAX_ERROR_MSG - buf_pending(&p->errmsg)
                           ? (size_t)n
                           : MAX_ERROR_MSG - buf_pending(&p->errmsg));
        return;
    }
    /* EOF; a pty master reads EIO once every slave fd is closed */
    if (stream)
        queue_frame(stream, AGENT_FRAME_EOF, NULL, 0);
    watch_close(w);
    proc_maybe_finish(p);
}

/* As PID 1 every other process goes; elsewhere (host unit tests) only the process
 * groups of our own processes, each a session leader. */
static void kill_all(void)
{
    if (getpid() == 1) {
        kill(-1, SIGKILL);
        return;
    }
    for (struct proc *p = g.procs; p; p = p->next)
        kill(-p->pid, SIGKILL); /* also after the leader was reaped: its group may live on */
}

static void reap_children(void)
{
    struct signalfd_siginfo si;
    int st;
    pid_t pid;

    while (read(g.w_sig.fd, &si, sizeof(si)) == (ssize_t)sizeof(si))
        ;
    while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
        struct proc *p = g.procs;
        while (p && p->pid != pid)
            p = p->next;
        if (p == NULL || p->reaped)
            continue; /* an orphan re-parented to PID 1: reaped, nothing to report */
        p->reaped = true;
        p->status = guest_wait_status(st);
        if (p->is_main && !g.main_done) {
            /* The container is over: nothing else may outlive its main process. */
            kill_all();
        }
        proc_maybe_finish(p);
    }
    if (g.main_done || g.shutdown_requested)
        kill_all(); /* catch anything forked meanwhile */
}

/* ---------------------------------------------------------------- requests */

static struct proc *proc_add(const char *name, const struct guest_spawned *sp, uint32_t in,
                             uint32_t out, uint32_t errs)
{
    struct proc *p = ctr_xcalloc(1, sizeof(*p));
    p->name = ctr_xstrdup(name);
    p->pid = sp->pid;
    p->pty = sp->pty;
    p->in_stream = in;
    p->out_stream = out;
    p->err_stream = errs;
    p->w_in = (struct watch){W_IN, p, sp->in_fd, 0};
    p->w_out = (struct watch){W_OUT, p, sp->out_fd, 0};
    p->w_err = (struct watch){W_ERR, p, sp->err_fd, 0};
    p->next = g.procs;
    g.procs = p;
    g.n_procs++;
    return p;
}

static void reply_path_error(uint64_t id, ctr_error_t err)
{
    char trimmed[MAX_ERROR_MSG + 1];
    struct agent_reply rep = {.id = id, .ok = false, .error = trimmed};
    size_t len;

    snprintf(trimmed, sizeof(trimmed), "%s", err->msg);
    rep.errnum = err->errnum > 0 && err->errnum <= AGENT_MAX_ERRNO ? err->errnum : 0;
    char *json = agent_reply_encode(&rep, &len);
    queue_json(json, len);
}

/* archive_stat answers from PID 1; get and put fork a tar worker (archive.c). */
static void do_archive(uint64_t id, enum agent_op op, const struct agent_archive *a)
{
    cleanup_error ctr_error_t err = NULL;
    struct agent_path_stat st = {0};
    struct agent_reply rep = {.id = id};
    struct guest_resolved r;
    struct guest_spawned sp;
    struct proc *p;
    bool put = op == AGENT_OP_ARCHIVE_PUT;

    if (g.main_done || g.shutdown_requested)
        return reply_error(id, 0, "the container has exited");
    if (!g.setup_done) /* never read or write the initramfs instead of the container */
        return reply_error(id, 0,
                           g.setup_failed ? "the container root could not be set up"
                                          : "archive requests need `setup` first");
    if (op == AGENT_OP_ARCHIVE_STAT) {
        if (guest_archive_stat(a->path, &st, &err) < 0)
            return reply_path_error(id, err);
        rep.stat = &st;
        reply_ok(&rep);
        agent_path_stat_release(&st);
        return;
    }
    if (find_name(a->process))
        return reply_error(id, 0, "a process with that name is already running");
    if (g.n_procs >= MAX_PROCS)
        return reply_error(id, 0, "too many processes");
    if (stream_in_use(a->stream))
        return reply_error(id, 0, "stream already in use by another process");
    if (guest_archive_resolve(a->path, put, &r, &err) < 0)
        return reply_path_error(id, err);
    if (put && !S_ISDIR(r.st.st_mode)) {
        guest_resolved_release(&r);
        ctr_fail_class(&err, ENOTDIR, "extraction point is not a directory: %s", a->path);
        return reply_path_error(id, err);
    }
    if (!put) {
        st.name = ctr_xstrdup(r.name);
        st.size = r.st.st_size;
        st.mode = guest_go_filemode(r.st.st_mode);
        st.mtime = guest_rfc3339(&r.st.st_mtim);
    }
    if (guest_archive_spawn(op, a, &r, &sp, &err) < 0) {
        guest_resolved_release(&r);
        agent_path_stat_release(&st);
        return reply_error(id, 0, err->msg);
    }
    guest_resolved_release(&r);
    p = proc_add(a->process, &sp, put ? a->stream : 0, put ? 0 : a->stream, 0);
    p->capture_err = true;
    rep.stat = put ? NULL : &st;
    reply_ok(&rep); /* before any of its data */
    agent_path_stat_release(&st);
    outputs_update();
}

static void do_exec(uint64_t id, struct agent_exec *e)
{
    cleanup_error ctr_error_t err = NULL;
    struct guest_spawned sp;
    struct agent_reply rep = {.id = id};
    struct proc *p;
    int code;

    if (g.main_done || g.shutdown_requested)
        return reply_error(id, 0, "the container has exited");
    if (g.setup_failed) /* never run a pipelined exec outside the container root */
        return reply_error(id, 0, "the container root could not be set up");
    if (find_name(e->process))
        return reply_error(id, 0, "a process with that name is already running");
    if (g.n_procs >= MAX_PROCS)
        return reply_error(id, 0, "too many processes");
    if (stream_in_use(e->stdin_stream) || stream_in_use(e->stdout_stream) ||
        stream_in_use(e->stderr_stream))
        return reply_error(id, 0, "stream already in use by another process");
    if (guest_spawn(e, &sp, &code, &err) < 0)
        return reply_error(id, code, err->msg);
    p = proc_add(e->process, &sp, e->stdin_stream, e->stdout_stream,
                 e->terminal ? 0 : e->stderr_stream);
    p->is_main = strcmp(e->process, "main") == 0;
    if (sp.pty && e->stdin_stream)
        p->w_in.fd = fcntl(sp.out_fd, F_DUPFD_CLOEXEC, 3); /* own fd for its own epoll entry */
    rep.pid = sp.pid;
    reply_ok(&rep); /* before any of its output */
    outputs_update();
}

static struct proc *live_proc(uint64_t id, const char *name)
{
    struct proc *p = find_name(name);
    if (p == NULL || p->reaped) {
        char *msg = ctr_xasprintf("no running process `%s`", name);
        reply_error(id, 0, msg);
        free(msg);
        return NULL;
    }
    return p;
}

static void handle_request(const char *json, size_t len)
{
    cleanup_error ctr_error_t err = NULL;
    struct agent_request req;
    struct agent_reply rep = {0};
    struct proc *p;

    if (agent_request_decode(json, len, &req, &err) < 0) {
        uint64_t id = 0;
        agent_request_peek_id(json, len, &id);
        log_warn("%s", err->msg);
        return reply_error(id, 0, err->msg);
    }
    rep.id = req.id;
    if (!g.hello && req.op != AGENT_OP_HELLO) {
        reply_error(req.id, 0, "`hello` must be the first request");
        goto out;
    }
    switch (req.op) {
    case AGENT_OP_HELLO:
        if (req.u.hello.version != AGENT_PROTO_VERSION) {
            char *msg = ctr_xasprintf("unsupported agent protocol version %u (vminitd speaks %d)",
                                      req.u.hello.version, AGENT_PROTO_VERSION);
            reply_error(req.id, 0, msg);
            free(msg);
            break;
        }
        g.hello = true;
        rep.version = AGENT_PROTO_VERSION;
        rep.agent = GUEST_AGENT_NAME;
        reply_ok(&rep);
        break;
    case AGENT_OP_SETUP:
        if (g.setup_done || g.procs) {
            reply_error(req.id, 0, "setup must come once, before any process");
        } else if (guest_warm_apply(&req.u.setup, &err) < 0 ||
                   guest_setup_root(&req.u.setup, &err) < 0 ||
                   guest_ctr_setup(&req.u.setup, &err) < 0) {
            log_error("setup: %s", err->msg);
            g.setup_failed = true;
            reply_error(req.id, 0, err->msg);
        } else {
            g.setup_done = true;
            reply_ok(&rep);
        }
        break;
    case AGENT_OP_EXEC:
        do_exec(req.id, &req.u.exec);
        break;
    case AGENT_OP_SIGNAL:
        if ((p = live_proc(req.id, req.u.signal.process)) == NULL)
            break;
        if (kill(p->pid, req.u.signal.signal) < 0)
            reply_error(req.id, 0, strerror(errno));
        else
            reply_ok(&rep);
        break;
    case AGENT_OP_RESIZE:
        if ((p = live_proc(req.id, req.u.resize.process)) == NULL)
            break;
        if (!p->pty || p->w_out.fd < 0)
            reply_error(req.id, 0, "the process has no terminal");
        else if (guest_pty_resize(p->w_out.fd, req.u.resize.rows, req.u.resize.cols) < 0)
            reply_error(req.id, 0, strerror(errno));
        else
            reply_ok(&rep);
        break;
    case AGENT_OP_ARCHIVE_STAT:
    case AGENT_OP_ARCHIVE_GET:
    case AGENT_OP_ARCHIVE_PUT:
        do_archive(req.id, req.op, &req.u.archive);
        break;
    case AGENT_OP_CLOCK: { /* the VM was paused: its clocks stood still meanwhile */
        struct timespec ts = {.tv_sec = req.u.clock.time_ns / 1000000000,
                              .tv_nsec = req.u.clock.time_ns % 1000000000};
        if (clock_settime(CLOCK_REALTIME, &ts) < 0)
            reply_error(req.id, 0, strerror(errno));
        else
            reply_ok(&rep);
        break;
    }
    case AGENT_OP_TOP: {
        cleanup_free char *out = NULL;
        if (g.main_done || g.shutdown_requested) {
            reply_error(req.id, 0, "the container has exited");
        } else if (guest_top(req.u.top.ps_args, &out, &err) < 0) {
            reply_path_error(req.id, err);
        } else {
            rep.output = out;
            reply_ok(&rep);
        }
        break;
    }
    case AGENT_OP_NET: {
        cleanup_error ctr_error_t e = NULL;
        if (guest_net_change(&req.u.net, &e) < 0)
            reply_error(req.id, 0, e->msg);
        else
            reply_ok(&rep);
        break;
    }
    case AGENT_OP_SHUTDOWN:
        /* Replied once every process is gone and its exit event sent. */
        g.shutdown_requested = true;
        g.shutdown_id = req.id;
        kill_all();
        set_deadline(KILL_WAIT_MS);
        break;
    }
out:
    agent_request_release(&req);
}

static void handle_frame(const struct agent_frame *f)
{
    struct proc *p = g.procs;

    if (f->type == AGENT_FRAME_CONTROL)
        return handle_request((const char *)f->payload, f->length);
    while (p && p->in_stream != f->stream)
        p = p->next;
    if (p == NULL || p->w_in.fd < 0)
        return; /* late data for a process that is gone or closed its stdin */
    if (f->type == AGENT_FRAME_EOF) {
        p->in_eof = true;
    } else {
        buf_append(&p->in, f->payload, f->length);
    }
    stdin_flush(p);
}

static void host_gone(void)
{
    if (!g.host_gone)
        log_info("host disconnected from the agent port");
    g.host_gone = true;
    g.broken = false;
    /* a frame may have been cut: the next host gets a fresh stream */
    g.outq.off = g.outq.len = 0;
    if (g.outputs_paused) {
        g.outputs_paused = false;
        outputs_update();
    }
    agent_decoder_release(&g.dec); /* a reconnecting host starts with a fresh stream */
    agent_decoder_init(&g.dec);
    if (g.main_done)
        set_deadline(EXIT_WAIT_GONE_MS);
    port_update();
}

static void port_readable(void)
{
    static uint8_t buf[READ_CHUNK];
    ssize_t n = read(g.port, buf, sizeof(buf));
    size_t off = 0;

    if (n < 0) {
        if (errno != EAGAIN && errno != EINTR)
            host_gone();
        return;
    }
    if (n == 0)
        return host_gone();
    while (!g.broken && off < (size_t)n) {
        cleanup_error ctr_error_t err = NULL;
        struct agent_frame f;
        size_t used;
        int r = agent_decoder_feed(&g.dec, buf + off, (size_t)n - off, &used, &f, &err);
        off += used;
        if (r < 0) {
            /* No way to resynchronise a byte stream: ignore input until the host reconnects. */
            log_error("agent protocol error from the host: %s", err->msg);
            g.broken = true;
        } else if (r == 0) {
            break;
        } else {
            handle_frame(&f);
        }
    }
}

/* ---------------------------------------------------------------- loop */

static void check_host(void)
{
    struct pollfd pfd = {.fd = g.port, .events = POLLIN};
    if (poll(&pfd, 1, 0) >= 0 && !(pfd.revents & (POLLHUP | POLLERR | POLLNVAL))) {
        log_info("host connected to the agent port");
        g.host_gone = false;
        port_update();
    }
}

static void flush_before_exit(void)
{
    uint64_t end = ctr_now_ns() + 1000000000u;

    while (buf_pending(&g.outq) > 0 && !g.host_gone && ctr_now_ns() < end) {
        struct pollfd pfd = {.fd = g.port, .events = POLLOUT};
        if (poll(&pfd, 1, 100) < 0 && errno != EINTR)
            break;
        if (pfd.revents & POLLHUP)
            break;
        port_flush();
    }
}

static void dispatch(struct watch *w, uint32_t events)
{
    if (w->fd < 0)
        return; /* closed by an earlier event of the same batch */
    switch (w->kind) {
    case W_PORT:
        if (events & EPOLLOUT)
            port_flush();
        if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
            port_readable();
        break;
    case W_SIGNAL:
        reap_children();
        break;
    case W_OUT:
        output_readable(w->p, w, w->p->out_stream);
        break;
    case W_ERR:
        output_readable(w->p, w, w->p->err_stream);
        break;
    case W_IN:
        stdin_flush(w->p);
        break;
    }
}

void guest_serve(int port_fd)
{
    sigset_t mask;

    memset(&g, 0, sizeof(g));
    g.port = port_fd;
    agent_decoder_init(&g.dec);
    g.ep = epoll_create1(EPOLL_CLOEXEC);
    sigemptyset(&mask);
    sigaddset(&mask, SIGCHLD);
    g.w_sig = (struct watch){W_SIGNAL, NULL, signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC), 0};
    g.w_port = (struct watch){W_PORT, NULL, port_fd, 0};
    if (g.ep < 0 || g.w_sig.fd < 0) {
        log_error("epoll/signalfd: %s", strerror(errno));
        return;
    }
    watch_set(&g.w_sig, EPOLLIN);
    g.host_gone = true;
    check_host();
    while (!g.done) {
        struct epoll_event evs[16];
        int timeout = g.host_gone ? HOST_POLL_MS : -1, n;
        if (g.deadline_ns) {
            uint64_t now = ctr_now_ns();
            int left = now >= g.deadline_ns ? 0 : (int)((g.deadline_ns - now) / 1000000u) + 1;
            if (timeout < 0 || left < timeout)
                timeout = left;
        }
        n = epoll_wait(g.ep, evs, 16, timeout);
        if (n < 0 && errno != EINTR) {
            log_error("epoll_wait: %s", strerror(errno));
            break;
        }
        for (int i = 0; i < n; i++)
            dispatch(evs[i].data.ptr, evs[i].events);
        free_dead();
        if (g.host_gone)
            check_host();
        if (g.shutdown_requested && (g.procs == NULL || ctr_now_ns() >= g.deadline_ns)) {
            struct agent_reply rep = {.id = g.shutdown_id};
            reply_ok(&rep);
            g.done = true;
        } else if (g.main_done && g.deadline_ns && ctr_now_ns() >= g.deadline_ns) {
            log_info("no shutdown request from the host; powering off");
            g.done = true;
        }
    }
    flush_before_exit();
}
