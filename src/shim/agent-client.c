#include "shim/agent-client-internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void agentc_init(struct agentc *c, int fd)
{
    memset(c, 0, sizeof(*c));
    c->fd = fd;
    c->next_id = 1;
    c->next_stream = 1;
    agent_decoder_init(&c->dec);
}

static void proc_free(struct agentc_proc *p)
{
    free(p->name);
    free(p->exit_error);
    free(p);
}

void agentc_release(struct agentc *c)
{
    while (c->pending) {
        struct agentc_pending *n = c->pending->next;
        free(c->pending);
        c->pending = n;
    }
    while (c->procs) {
        struct agentc_proc *n = c->procs->next;
        proc_free(c->procs);
        c->procs = n;
    }
    agent_decoder_release(&c->dec);
    free(c->agent_name);
    free(c->out);
    memset(c, 0, sizeof(*c));
    c->fd = -1;
}

static int fail(struct agentc *c, ctr_error_t *err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(struct agentc *c, ctr_error_t *err, const char *fmt, ...)
{
    va_list ap;
    char *msg;

    va_start(ap, fmt);
    if (vasprintf(&msg, fmt, ap) < 0)
        abort();
    va_end(ap);
    c->failed = true;
    ctr_fail(err, EPROTO, "agent protocol violation: %s", msg);
    free(msg);
    return -1;
}

static void queue(struct agentc *c, const uint8_t *hdr, const void *payload, size_t len)
{
    size_t need = c->out_len + AGENT_FRAME_HDR_LEN + len;
    if (need > c->out_cap) {
        c->out_cap = need * 2;
        c->out = ctr_xrealloc(c->out, c->out_cap);
    }
    memcpy(c->out + c->out_len, hdr, AGENT_FRAME_HDR_LEN);
    if (len)
        memcpy(c->out + c->out_len + AGENT_FRAME_HDR_LEN, payload, len);
    c->out_len = need;
}

static int queue_frame(struct agentc *c, uint32_t stream, uint8_t type, const void *payload,
                       size_t len, ctr_error_t *err)
{
    uint8_t hdr[AGENT_FRAME_HDR_LEN];

    if (c->failed)
        return ctr_fail(err, EPIPE, "agent connection is down");
    if (agent_frame_header(hdr, stream, type, (uint32_t)len, err) < 0)
        return -1;
    queue(c, hdr, payload, len);
    return 0;
}

static int send_request(struct agentc *c, struct agent_request *req, agentc_reply_fn fn, void *data,
                        struct agentc_proc *proc, ctr_error_t *err)
{
    cleanup_free char *json = NULL;
    size_t len = 0;
    struct agentc_pending *p, **tail;

    req->id = c->next_id++;
    json = agent_request_encode(req, &len);
    if (json == NULL)
        return ctr_fail(err, EINVAL, "encode agent request");
    if (len > AGENT_MAX_CONTROL)
        return ctr_fail(err, E2BIG, "agent request of %zu bytes exceeds the limit of %u", len,
                        AGENT_MAX_CONTROL);
    if (queue_frame(c, AGENT_CONTROL_STREAM, AGENT_FRAME_CONTROL, json, len, err) < 0)
        return -1;
    p = ctr_xcalloc(1, sizeof(*p));
    p->id = req->id;
    p->op = req->op;
    p->fn = fn;
    p->data = data;
    p->proc = proc;
    for (tail = &c->pending; *tail; tail = &(*tail)->next)
        ;
    *tail = p; /* replies are matched by id, but keep send order for readability */
    return 0;
}

int agentc_hello(struct agentc *c, agentc_reply_fn fn, void *data, ctr_error_t *err)
{
    struct agent_request req = {.op = AGENT_OP_HELLO};
    req.u.hello.version = AGENT_PROTO_VERSION;
    if (send_request(c, &req, fn, data, NULL, err) < 0)
        return -1;
    c->hello_id = req.id;
    return 0;
}

int agentc_request(struct agentc *c, struct agent_request *req, agentc_reply_fn fn, void *data,
                   ctr_error_t *err)
{
    if (req->op == AGENT_OP_HELLO || req->op == AGENT_OP_EXEC)
        return ctr_fail(err, EINVAL, "use agentc_hello/agentc_exec");
    return send_request(c, req, fn, data, NULL, err);
}

struct agentc_proc *agentc_find_proc(struct agentc *c, const char *name)
{
    for (struct agentc_proc *p = c->procs; p; p = p->next)
        if (strcmp(p->name, name) == 0)
            return p;
    return NULL;
}

struct agentc_proc *agentc_exec(struct agentc *c, const struct agent_exec *tmpl, const char *name,
                                bool want_stdin, const struct agentc_proc_ops *ops, void *proc_data,
                                agentc_reply_fn fn, void *data, ctr_error_t *err)
{
    struct agent_request req = {.op = AGENT_OP_EXEC};
    struct agentc_proc *p;

    if (agentc_find_proc(c, name) != NULL) {
        ctr_fail(err, EEXIST, "a process named `%s` exists already", name);
        return NULL;
    }
    p = ctr_xcalloc(1, sizeof(*p));
    p->name = ctr_xstrdup(name);
    p->ops = ops;
    p->data = proc_data;
    if (want_stdin) {
        p->stdin_stream = c->next_stream++;
        p->in_open = true;
    }
    p->stdout_stream = c->next_stream++;
    p->out_open = true;
    if (!tmpl->terminal) {
        p->stderr_stream = c->next_stream++;
        p->err_open = true;
    }
    req.u.exec = *tmpl;
    req.u.exec.process = p->name;
    req.u.exec.stdin_stream = p->stdin_stream;
    req.u.exec.stdout_stream = p->stdout_stream;
    req.u.exec.stderr_stream = p->stderr_stream;
    if (send_request(c, &req, fn, data, p, err) < 0) {
        proc_free(p);
        return NULL;
    }
    p->next = c->procs;
    c->procs = p;
    return p;
}

struct agentc_proc *agentc_archive(struct agentc *c, enum agent_op op, const char *path,
                                   unsigned get_flags, const char *name,
                                   const struct agentc_proc_ops *ops, void *proc_data,
                                   agentc_reply_fn fn, void *data, ctr_error_t *err)
{
    struct agent_request req = {.op = op};
    struct agentc_proc *p;

    if (op != AGENT_OP_ARCHIVE_GET && op != AGENT_OP_ARCHIVE_PUT) {
        ctr_fail(err, EINVAL, "agentc_archive: not a transfer op");
        return NULL;
    }
    if (agentc_find_proc(c, name) != NULL) {
        ctr_fail(err, EEXIST, "a process named `%s` exists already", name);
        return NULL;
    }
    p = ctr_xcalloc(1, sizeof(*p));
    p->name = ctr_xstrdup(name);
    p->ops = ops;
    p->data = proc_data;
    if (op == AGENT_OP_ARCHIVE_PUT) {
        p->stdin_stream = c->next_stream++;
        p->in_open = true;
    } else {
        p->stdout_stream = c->next_stream++;
        p->out_open = true;
    }
    req.u.archive.process = p->name;
    req.u.archive.path = (char *)path;
    req.u.archive.stream = p->stdin_stream ? p->stdin_stream : p->stdout_stream;
    req.u.archive.export_all = get_flags & AGENTC_GET_EXPORT;
    req.u.archive.upper = get_flags & AGENTC_GET_UPPER;
    if (send_request(c, &req, fn, data, p, err) < 0) {
        proc_free(p);
        return NULL;
    }
    p->next = c->procs;
    c->procs = p;
    return p;
}

void agentc_forget(struct agentc *c, struct agentc_proc *p)
{
    for (struct agentc_proc **pp = &c->procs; *pp; pp = &(*pp)->next) {
        if (*pp == p) {
            *pp = p->next;
            break;
        }
    }
    for (struct agentc_pending *q = c->pending; q; q = q->next)
        if (q->proc == p)
            q->proc = NULL;
    proc_free(p);
}

int agentc_send_stdin(struct agentc *c, struct agentc_proc *p, const void *data, size_t len,
                      ctr_error_t *err)
{
    const uint8_t *d = data;
    if (!p->in_open)
        return 0; /* the process is gone or never had stdin: drop */
    while (len > 0) {
        size_t n = len > AGENT_MAX_PAYLOAD ? AGENT_MAX_PAYLOAD : len;
        if (queue_frame(c, p->stdin_stream, AGENT_FRAME_DATA, d, n, err) < 0)
            return -1;
        d += n;
        len -= n;
    }
    return 0;
}

int agentc_close_stdin(struct agentc *c, struct agentc_proc *p, ctr_error_t *err)
{
    if (!p->in_open)
        return 0;
    p->in_open = false;
    return queue_frame(c, p->stdin_stream, AGENT_FRAME_EOF, NULL, 0, err);
}

int agentc_signal(struct agentc *c, const char *process, int sig, ctr_error_t *err)
{
    struct agent_request req = {.op = AGENT_OP_SIGNAL};
    req.u.signal.process = (char *)process;
    req.u.signal.signal = sig;
    return send_request(c, &req, NULL, NULL, NULL, err);
}

int agentc_resize(struct agentc *c, const char *process, uint16_t rows, uint16_t cols,
                  ctr_error_t *err)
{
    struct agent_request req = {.op = AGENT_OP_RESIZE};
    req.u.resize.process = (char *)process;
    req.u.resize.rows = rows;
    req.u.resize.cols = cols;
    return send_request(c, &req, NULL, NULL, NULL, err);
}

static void close_outputs(struct agentc_proc *p)
{
    if (p->out_open) {
        p->out_open = false;
        if (p->ops && p->ops->eof)
            p->ops->eof(p, AGENTC_STDOUT);
    }
    if (p->err_open) {
        p->err_open = false;
        if (p->ops && p->ops->eof)
            p->ops->eof(p, AGENTC_STDERR);
    }
}

static int handle_reply(struct agentc *c, struct agent_reply *rep, ctr_error_t *err)
{
    struct agentc_pending **pp, *q;

    if (!c->hello_done && rep->id != c->hello_id)
        return fail(c, err, "reply to request %llu before the hello reply",
                    (unsigned long long)rep->id);
    for (pp = &c->pending; *pp; pp = &(*pp)->next)
        if ((*pp)->id == rep->id)
            break;
    if (*pp == NULL)
        return fail(c, err, "reply to unknown request id %llu", (unsigned long long)rep->id);
    q = *pp;
    *pp = q->next;
    if (q->op == AGENT_OP_HELLO) {
        if (rep->ok && rep->version != AGENT_PROTO_VERSION) {
            free(q);
            return fail(c, err, "guest agent speaks protocol version %u, this runtime speaks %d",
                        rep->version, AGENT_PROTO_VERSION);
        }
        c->hello_done = true;
        free(c->agent_name);
        c->agent_name = rep->agent ? ctr_xstrdup(rep->agent) : NULL;
    }
    if (q->proc) { /* exec, archive_get, archive_put */
        struct agentc_proc *p = q->proc;
        if (rep->ok) {
            p->started = true;
        } else {
            /* Never started: nothing will flow on its streams. */
            p->in_open = p->out_open = p->err_open = false;
            p->exited = true;
            p->status = rep->code ? rep->code : 126;
        }
    }
    if (q->fn)
        q->fn(c, rep, q->data);
    free(q);
    return 0;
}

static int handle_event(struct agentc *c, struct agent_event *ev, ctr_error_t *err)
{
    struct agentc_proc *p;

    if (!c->hello_done)
        return fail(c, err, "event before the hello reply");
    if (ev->type != AGENT_EVENT_EXIT)
        return fail(c, err, "unknown event type %d", (int)ev->type);
    p = ev->process ? agentc_find_proc(c, ev->process) : NULL;
    if (p == NULL)
        return fail(c, err, "exit event for unknown process `%s`", ev->process ? ev->process : "");
    if (!p->started)
        return fail(c, err, "exit event for process `%s` before its exec reply", p->name);
    if (p->exited)
        return fail(c, err, "second exit event for process `%s`", p->name);
    if (ev->status < 0 || ev->status > 255)
        return fail(c, err, "exit status %d of process `%s` is out of range", ev->status, p->name);
    p->exited = true;
    p->status = ev->status;
    p->exit_error = ctr_steal_ptr(ev->error);
    p->in_open = false;
    close_outputs(p);
    if (p->ops && p->ops->exit)
        p->ops->exit(p, p->status); /* may forget p */
    return 0;
}

static int handle_stream(struct agentc *c, const struct agent_frame *f, ctr_error_t *err)
{
    if (!c->hello_done)
        return fail(c, err, "stream frame before the hello reply");
    for (struct agentc_proc *p = c->procs; p; p = p->next) {
        int which;
        bool *open;
        if (f->stream == p->stdout_stream) {
            which = AGENTC_STDOUT;
            open = &p->out_open;
        } else if (f->stream != 0 && f->stream == p->stderr_stream) {
            which = AGENTC_STDERR;
            open = &p->err_open;
        } else if (f->stream != 0 && f->stream == p->stdin_stream) {
            return fail(c, err, "guest wrote on stdin stream %u of process `%s`", f->stream,
                        p->name);
        } else {
            continue;
        }
        if (!*open)
            return fail(c, err, "%s on stream %u of process `%s` after it was closed",
                        f->type == AGENT_FRAME_EOF ? "second eof" : "data", f->stream, p->name);
        if (f->type == AGENT_FRAME_EOF) {
            *open = false;
            if (p->ops && p->ops->eof)
                p->ops->eof(p, which);
        } else if (f->length > 0 && p->ops && p->ops->output) {
            p->ops->output(p, which, f->payload, f->length);
        }
        return 0;
    }
    return fail(c, err, "%s on stream %u that was never opened",
                f->type == AGENT_FRAME_EOF ? "eof" : "data", f->stream);
}

static int dispatch(struct agentc *c, const struct agent_frame *f, ctr_error_t *err)
{
    enum agent_guest_msg_kind kind;
    struct agent_reply rep = {0};
    struct agent_event ev = {0};
    int ret;

    if (f->type != AGENT_FRAME_CONTROL)
        return handle_stream(c, f, err);
    if (agent_guest_msg_decode((const char *)f->payload, f->length, &kind, &rep, &ev, err) < 0) {
        c->failed = true;
        return ctr_error_wrap(err, "agent protocol violation");
    }
    ret = kind == AGENT_MSG_REPLY ? handle_reply(c, &rep, err) : handle_event(c, &ev, err);
    agent_reply_release(&rep);
    agent_event_release(&ev);
    return ret;
}

int agentc_feed(struct agentc *c, const uint8_t *buf, size_t len, ctr_error_t *err)
{
    if (c->failed)
        return ctr_fail(err, EPROTO, "agent connection already failed");
    while (len > 0) {
        struct agent_frame f;
        size_t used = 0;
        int r = agent_decoder_feed(&c->dec, buf, len, &used, &f, err);
        if (r < 0) {
            c->failed = true;
            return ctr_error_wrap(err, "agent protocol violation");
        }
        buf += used;
        len -= used;
        if (r == 1 && dispatch(c, &f, err) < 0)
            return -1;
        if (r == 0)
            break;
    }
    return 0;
}

int agentc_flush(struct agentc *c, ctr_error_t *err)
{
    size_t done = 0;

    while (done < c->out_len) {
        ssize_t n = write(c->fd, c->out + done, c->out_len - done);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN)
                break;
            c->failed = true;
            return ctr_fail(err, errno, "write to the agent channel");
        }
        done += (size_t)n;
    }
    memmove(c->out, c->out + done, c->out_len - done);
    c->out_len -= done;
    return 0;
}
