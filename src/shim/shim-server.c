/* The control socket <bundle>/shim.sock: exec, attach, kill, stop, pause and resume from
 * other processes (protocol in proto/shim.h, documented in docs/runtime.md). */
#include "shim/shim-internal.h"
#include "shimc/shimc.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#define CLIENT_OUT_MAX (16u << 20) /* a client this far behind is dropped */
/* An archive client is paced instead: above HIGH the shim stops reading the agent
 * (the guest then pauses its output) until the client is below LOW. */
#define ARCHIVE_OUT_HIGH (4u << 20)
#define ARCHIVE_OUT_LOW (1u << 20)

enum client_kind { CL_NEW, CL_EXEC, CL_ATTACH, CL_WAIT, CL_ARCHIVE };

struct shim_client {
    struct shim_client *next;
    struct shim *s;
    uint64_t id;
    int fd;
    struct shim_watch w;
    struct agent_decoder dec;
    uint8_t *out;
    size_t out_len, out_cap;
    enum client_kind kind;
    struct agentc_proc *proc; /* exec */
    bool in_stdin;            /* client sends stdin */
    bool stopper;             /* waits for the end of a stop */
    enum shim_vm_cmd vm_wait; /* waits for the VMM's answer to a pause or resume */
    bool closing;             /* close once out is flushed */
    bool mute;                /* the peer stopped reading: output is discarded */
    bool dead;
    bool throttling; /* archive get: output above ARCHIVE_OUT_HIGH, agent reads paused */
    bool in_paused;  /* archive put: the agent queue is full, client reads paused */
};

static uint32_t client_events(const struct shim_client *c)
{
    return (c->in_paused ? 0 : EPOLLIN) | (c->out_len ? EPOLLOUT : 0);
}

static struct shim_client *client_by_id(struct shim *s, uint64_t id)
{
    for (struct shim_client *c = s->clients; c; c = c->next)
        if (c->id == id && !c->dead)
            return c;
    return NULL;
}

static void client_drop(struct shim_client *c)
{
    if (c->dead)
        return;
    c->dead = true;
    shim_loop_del(&c->w);
    if (c->proc && c->kind == CL_ARCHIVE && !c->proc->exited) {
        /* nobody takes the tar any more: stop the worker (a put stays partial) */
        c->proc->data = NULL;
        agentc_signal(&c->s->ac, c->proc->name, SIGKILL, NULL);
        c->proc = NULL;
    }
    if (c->throttling) {
        c->throttling = false;
        shim_agent_kick(c->s);
    }
    if (c->proc) {
        /* Nobody listens any more: the exec goes on without stdin. */
        c->proc->data = NULL;
        if (!c->proc->exited)
            agentc_close_stdin(&c->s->ac, c->proc, NULL);
        else
            agentc_forget(&c->s->ac, c->proc);
        c->proc = NULL;
        shim_agent_kick(c->s);
    }
}

static void client_flush(struct shim_client *c)
{
    size_t done = 0;
    while (done < c->out_len) {
        ssize_t n = send(c->fd, c->out + done, c->out_len - done, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            break;
        if (n < 0) {
            /* The peer may have closed after writing its last requests (a
             * one-shot resize): keep reading them until EOF, send nothing. */
            c->out_len = 0;
            c->mute = true;
            if (c->closing)
                client_drop(c);
            else
                shim_loop_mod(&c->w, EPOLLIN);
            return;
        }
        done += (size_t)n;
    }
    memmove(c->out, c->out + done, c->out_len - done);
    c->out_len -= done;
    if (c->out_len == 0 && c->closing) {
        client_drop(c);
        return;
    }
    shim_loop_mod(&c->w, client_events(c));
    if (c->throttling && c->out_len < ARCHIVE_OUT_LOW) {
        c->throttling = false;
        shim_agent_kick(c->s);
    }
}

static void client_send(struct shim_client *c, uint32_t stream, uint8_t type, const void *data,
                        size_t len)
{
    uint8_t hdr[AGENT_FRAME_HDR_LEN];

    if (c->dead || c->mute || agent_frame_header(hdr, stream, type, (uint32_t)len, NULL) < 0)
        return;
    if (c->kind == CL_ARCHIVE && !c->throttling && c->out_len + len > ARCHIVE_OUT_HIGH) {
        c->throttling = true; /* shim_agent_kick stops reading the guest */
    } else if (c->kind != CL_ARCHIVE && c->out_len + len > CLIENT_OUT_MAX) {
        log_warn("control client %llu is too slow; dropping it", (unsigned long long)c->id);
        client_drop(c);
        return;
    }
    if (c->out_len + sizeof(hdr) + len > c->out_cap) {
        c->out_cap = (c->out_len + sizeof(hdr) + len) * 2;
        c->out = ctr_xrealloc(c->out, c->out_cap);
    }
    memcpy(c->out + c->out_len, hdr, sizeof(hdr));
    if (len)
        memcpy(c->out + c->out_len + sizeof(hdr), data, len);
    c->out_len += sizeof(hdr) + len;
    client_flush(c);
}

static void client_data(struct shim_client *c, uint32_t stream, const uint8_t *d, size_t len)
{
    while (len > 0 && !c->dead) {
        size_t n = len > AGENT_MAX_PAYLOAD ? AGENT_MAX_PAYLOAD : len;
        client_send(c, stream, AGENT_FRAME_DATA, d, n);
        d += n;
        len -= n;
    }
}

static void client_msg(struct shim_client *c, const struct shimp_msg *m)
{
    size_t len;
    cleanup_free char *json = shimp_msg_encode(m, &len);
    client_send(c, AGENT_CONTROL_STREAM, AGENT_FRAME_CONTROL, json, len);
}

static void client_reply(struct shim_client *c, bool ok, const char *error, int code)
{
    struct shimp_msg m = {.kind = SHIMP_MSG_REPLY, .ok = ok, .error = (char *)error, .code = code};
    client_msg(c, &m);
    if (!ok)
        c->closing = true, client_flush(c);
}

static void client_exit_error(struct shim_client *c, int status, const char *error)
{
    struct shimp_msg m = {.kind = SHIMP_MSG_EXIT, .status = status, .exit_error = (char *)error};
    client_msg(c, &m);
    c->closing = true;
    client_flush(c);
}

static void client_exit(struct shim_client *c, int status)
{
    struct shimp_msg m = {.kind = SHIMP_MSG_EXIT, .status = status};
    client_msg(c, &m);
    c->closing = true;
    client_flush(c);
}

/* ---- exec processes ---- */

static void exec_output(struct agentc_proc *p, int which, const uint8_t *d, size_t len)
{
    struct shim_client *c = p->data;
    if (c)
        client_data(c, which == AGENTC_STDERR ? SHIMP_STREAM_STDERR : SHIMP_STREAM_STDOUT, d, len);
}

static void exec_eof(struct agentc_proc *p, int which)
{
    struct shim_client *c = p->data;
    if (c)
        client_send(c, which == AGENTC_STDERR ? SHIMP_STREAM_STDERR : SHIMP_STREAM_STDOUT,
                    AGENT_FRAME_EOF, NULL, 0);
}

static void exec_exit(struct agentc_proc *p, int status)
{
    struct shim_client *c = p->data;
    struct shim *s = c ? c->s : NULL;
    if (c) {
        c->proc = NULL;
        client_exit(c, status);
        agentc_forget(&s->ac, p);
    }
    /* without a client the record is freed in client_drop or at the end */
}

static const struct agentc_proc_ops exec_ops = {
    .output = exec_output, .eof = exec_eof, .exit = exec_exit};

static void on_exec_reply(struct agentc *ac, const struct agent_reply *rep, void *data)
{
    struct shim *s = ac == NULL ? NULL : (struct shim *)((char *)ac - offsetof(struct shim, ac));
    struct shim_client *c = client_by_id(s, (uint64_t)(uintptr_t)data);

    if (c == NULL)
        return;
    if (rep->ok) {
        client_reply(c, true, NULL, 0);
        return;
    }
    if (c->proc) {
        agentc_forget(ac, c->proc);
        c->proc = NULL;
    }
    client_reply(c, false, rep->error ? rep->error : "exec failed", rep->code ? rep->code : 126);
}

/* Docker's exec: the container's env with the request's entries on top. */
static char **merge_env(char *const *base, char *const *extra)
{
    char **env = ctr_strv_dup(base);
    for (size_t i = 0; extra && extra[i]; i++) {
        size_t klen = strcspn(extra[i], "=");
        bool replaced = false;
        for (size_t k = 0; env[k]; k++) {
            if (strncmp(env[k], extra[i], klen) == 0 && env[k][klen] == '=') {
                free(env[k]);
                env[k] = ctr_xstrdup(extra[i]);
                replaced = true;
                break;
            }
        }
        if (!replaced)
            ctr_strv_append(&env, extra[i]);
    }
    return env;
}

static void start_exec(struct shim_client *c, struct shimp_request *req)
{
    struct shim *s = c->s;
    cleanup_error ctr_error_t err = NULL;
    cleanup_strv char **env = NULL;
    cleanup_free char *name = NULL;
    struct agent_exec ex = req->exec;

    if (s->phase != SHIM_RUNNING || s->main_exited) {
        client_reply(c, false, "the container is not running", 125);
        return;
    }
    if (s->paused || s->vm_cmd == SHIM_VM_CMD_PAUSE) {
        client_reply(c, false, "the container is paused", 125);
        return;
    }
    env = merge_env(s->cfg.process.env, req->exec.env);
    ex.env = env;
    if (ex.cwd == NULL)
        ex.cwd = s->cfg.process.cwd;
    if (ex.user == NULL)
        ex.user = s->cfg.process.user;
    ex.groups = s->cfg.process.groups; /* GroupAdd: every process of the container */
    name = ctr_xasprintf("exec-%u", ++s->exec_seq);
    c->kind = CL_EXEC;
    c->in_stdin = req->stdin_open;
    c->proc = agentc_exec(&s->ac, &ex, name, req->stdin_open, &exec_ops, c, on_exec_reply,
                          (void *)(uintptr_t)c->id, &err);
    if (c->proc == NULL) {
        client_reply(c, false, err->msg, 125);
        return;
    }
    shim_agent_kick(s);
}

static void on_kill_reply(struct agentc *ac, const struct agent_reply *rep, void *data)
{
    struct shim *s = (struct shim *)((char *)ac - offsetof(struct shim, ac));
    struct shim_client *c = client_by_id(s, (uint64_t)(uintptr_t)data);
    if (c) {
        client_reply(c, rep->ok, rep->error, 1);
        c->closing = true;
        client_flush(c);
    }
}

static void on_top_reply(struct agentc *ac, const struct agent_reply *rep, void *data)
{
    struct shim *s = (struct shim *)((char *)ac - offsetof(struct shim, ac));
    struct shim_client *c = client_by_id(s, (uint64_t)(uintptr_t)data);
    if (c) {
        struct shimp_msg m = {.kind = SHIMP_MSG_REPLY, .ok = rep->ok, .output = rep->output};
        if (!rep->ok) {
            m.error = rep->error ? rep->error : "the guest refused the request";
            m.code = 1;
            m.errnum = rep->errnum;
        }
        client_msg(c, &m);
        c->closing = true;
        client_flush(c);
    }
}

/* ---- files in and out: archive_stat/get/put (docs/runtime.md, "Files") ---- */

static void archive_output(struct agentc_proc *p, int which, const uint8_t *d, size_t len)
{
    struct shim_client *c = p->data;
    if (c)
        client_data(c, SHIMP_STREAM_STDOUT, d, len);
}

static void archive_eof(struct agentc_proc *p, int which)
{
    struct shim_client *c = p->data;
    if (c && which == AGENTC_STDOUT)
        client_send(c, SHIMP_STREAM_STDOUT, AGENT_FRAME_EOF, NULL, 0);
}

static void archive_exit(struct agentc_proc *p, int status)
{
    struct shim_client *c = p->data;
    if (c) {
        struct shim *s = c->s;
        c->proc = NULL;
        client_exit_error(c, status, p->exit_error);
        agentc_forget(&s->ac, p);
    }
}

static const struct agentc_proc_ops archive_ops = {
    .output = archive_output, .eof = archive_eof, .exit = archive_exit};

static void archive_reply(struct shim_client *c, const struct agent_reply *rep)
{
    struct shimp_msg m = {.kind = SHIMP_MSG_REPLY, .ok = rep->ok, .stat = rep->stat};
    if (!rep->ok) {
        m.error = rep->error ? rep->error : "the guest refused the request";
        m.code = 1;
        m.errnum = rep->errnum;
    }
    client_msg(c, &m);
    if (!rep->ok) {
        c->closing = true;
        client_flush(c);
    }
}

static void on_archive_reply(struct agentc *ac, const struct agent_reply *rep, void *data)
{
    struct shim *s = (struct shim *)((char *)ac - offsetof(struct shim, ac));
    struct shim_client *c = client_by_id(s, (uint64_t)(uintptr_t)data);

    if (c == NULL)
        return;
    if (!rep->ok && c->proc) {
        agentc_forget(ac, c->proc);
        c->proc = NULL;
    }
    archive_reply(c, rep);
}

static void start_archive(struct shim_client *c, struct shimp_request *req)
{
    struct shim *s = c->s;
    cleanup_error ctr_error_t err = NULL;
    cleanup_free char *name = NULL;
    enum agent_op op = req->op == SHIMP_OP_ARCHIVE_STAT  ? AGENT_OP_ARCHIVE_STAT
                       : req->op == SHIMP_OP_ARCHIVE_GET ? AGENT_OP_ARCHIVE_GET
                                                         : AGENT_OP_ARCHIVE_PUT;

    bool paused = s->paused || s->vm_cmd == SHIM_VM_CMD_PAUSE;
    if (s->phase != SHIM_RUNNING || s->main_exited || paused) {
        struct shimp_msg m = {.kind = SHIMP_MSG_REPLY,
                              .error = paused
                                           ? "the container is paused"
                                           : "the container is not running (starting or stopping)",
                              .code = 1,
                              .errnum = EBUSY};
        client_msg(c, &m);
        c->closing = true;
        client_flush(c);
        return;
    }
    if (op == AGENT_OP_ARCHIVE_STAT) {
        struct agent_request ar = {.op = op};
        c->kind = CL_WAIT;
        ar.u.archive.path = req->path;
        if (agentc_request(&s->ac, &ar, on_archive_reply, (void *)(uintptr_t)c->id, &err) < 0)
            client_reply(c, false, err->msg, 1);
        shim_agent_kick(s);
        return;
    }
    name = ctr_xasprintf("cp-%u", ++s->exec_seq);
    c->kind = CL_ARCHIVE;
    c->in_stdin = op == AGENT_OP_ARCHIVE_PUT;
    c->proc = agentc_archive(
        &s->ac, op, req->path,
        (req->export_all ? AGENTC_GET_EXPORT : 0) | (req->upper ? AGENTC_GET_UPPER : 0), name,
        &archive_ops, c, on_archive_reply, (void *)(uintptr_t)c->id, &err);
    if (c->proc == NULL) {
        client_reply(c, false, err->msg, 1);
        return;
    }
    shim_agent_kick(s);
}

/* ---- pause and resume: the VM's vCPUs (vmm_ops.pause; docs/runtime.md) ---- */

/* Send the VMM a pause or resume unless one is on its way; the answer comes as a VM
 * event (vm-events.c), then shim_server_vm_paused. */
static int vm_run_send(struct shim *s, enum shim_vm_cmd cmd, ctr_error_t *err)
{
    if (s->vm_cmd == cmd)
        return 0;
    if (s->vmm_ops->pause(&s->vm, cmd == SHIM_VM_CMD_PAUSE, err) < 0)
        return -1;
    s->vm_cmd = cmd;
    return 0;
}

static void vm_run_request(struct shim_client *c, enum shim_vm_cmd cmd)
{
    struct shim *s = c->s;
    cleanup_error ctr_error_t err = NULL;
    bool pause = cmd == SHIM_VM_CMD_PAUSE;

    if (s->phase != SHIM_RUNNING || s->main_exited || s->stopping) {
        client_reply(c, false, "the container is not running", 1);
        return;
    }
    if (s->vm_cmd != SHIM_VM_CMD_NONE && s->vm_cmd != cmd) {
        client_reply(c, false,
                     pause ? "the container is being resumed" : "the container is being paused", 1);
        return;
    }
    c->kind = CL_WAIT;
    if (s->vm_cmd == SHIM_VM_CMD_NONE && s->paused == pause) {
        client_reply(c, true, NULL, 0); /* so it is already */
        c->closing = true;
        client_flush(c);
        return;
    }
    if (vm_run_send(s, cmd, &err) < 0) {
        client_reply(c, false, err->msg, 1);
        return;
    }
    c->vm_wait = cmd;
}

/* kill and stop reach the guest's processes only while its vCPUs run (as docker's kill
 * of a paused container, which resumes it) */
static void vm_run_for_signal(struct shim *s)
{
    cleanup_error ctr_error_t err = NULL;

    if (!s->paused && s->vm_cmd != SHIM_VM_CMD_PAUSE)
        return;
    if (vm_run_send(s, SHIM_VM_CMD_RESUME, &err) < 0)
        log_warn("resume the paused vm: %s", err->msg);
}

void shim_server_vm_paused(struct shim *s, bool paused, const char *error)
{
    enum shim_vm_cmd cmd = paused ? SHIM_VM_CMD_PAUSE : SHIM_VM_CMD_RESUME;
    for (struct shim_client *c = s->clients; c; c = c->next) {
        if (c->dead || c->vm_wait != cmd)
            continue;
        c->vm_wait = SHIM_VM_CMD_NONE;
        client_reply(c, error == NULL, error, 1);
        c->closing = true;
        client_flush(c);
    }
}

bool shim_server_throttled(struct shim *s)
{
    for (struct shim_client *c = s->clients; c; c = c->next)
        if (c->throttling && !c->dead)
            return true;
    return false;
}

void shim_server_resume_inputs(struct shim *s)
{
    for (struct shim_client *c = s->clients; c; c = c->next)
        if (c->in_paused && !c->dead) {
            c->in_paused = false;
            shim_loop_mod(&c->w, client_events(c));
        }
}

static void handle_request(struct shim_client *c, struct shimp_request *req)
{
    struct shim *s = c->s;
    struct agentc_proc *target = c->kind == CL_EXEC || c->kind == CL_ARCHIVE ? c->proc : s->main;

    if (c->kind != CL_NEW) {
        /* In-session controls. */
        if (target == NULL && c->kind == CL_ATTACH && req->op == SHIMP_OP_RESIZE) {
            /* no main process yet: it starts with this size */
            s->cfg.process.rows = req->rows;
            s->cfg.process.cols = req->cols;
        }
        if (target == NULL || target->exited)
            return;
        if (req->op == SHIMP_OP_RESIZE)
            agentc_resize(&s->ac, target->name, req->rows, req->cols, NULL);
        else if (req->op == SHIMP_OP_SIGNAL && req->signal > 0)
            agentc_signal(&s->ac, target->name, req->signal, NULL);
        shim_agent_kick(s);
        return;
    }
    switch (req->op) {
    case SHIMP_OP_EXEC:
        start_exec(c, req);
        return;
    case SHIMP_OP_ATTACH:
        c->kind = CL_ATTACH;
        c->in_stdin = req->stdin_open && s->main && s->main->in_open;
        client_reply(c, true, NULL, 0);
        if (s->main_exited)
            client_exit(c, s->exit_code);
        return;
    case SHIMP_OP_KILL: {
        struct agent_request ar = {.op = AGENT_OP_SIGNAL};
        if (s->phase != SHIM_RUNNING || s->main_exited) {
            client_reply(c, false, "the container is not running", 1);
            return;
        }
        vm_run_for_signal(s);
        c->kind = CL_WAIT;
        ar.u.signal.process = "main";
        ar.u.signal.signal = req->signal > 0 ? req->signal : 15;
        if (agentc_request(&s->ac, &ar, on_kill_reply, (void *)(uintptr_t)c->id, NULL) < 0)
            client_reply(c, false, "the agent connection is down", 1);
        shim_agent_kick(s);
        return;
    }
    case SHIMP_OP_TOP: {
        struct agent_request ar = {.op = AGENT_OP_TOP};
        if (s->phase != SHIM_RUNNING || s->main_exited) {
            client_reply(c, false, "the container is not running", 1);
            return;
        }
        if (s->paused || s->vm_cmd == SHIM_VM_CMD_PAUSE) {
            struct shimp_msg m = {.kind = SHIMP_MSG_REPLY,
                                  .error = "the container is paused",
                                  .code = 1,
                                  .errnum = EBUSY};
            client_msg(c, &m);
            c->closing = true;
            client_flush(c);
            return;
        }
        c->kind = CL_WAIT;
        ar.u.top.ps_args = req->ps_args;
        if (agentc_request(&s->ac, &ar, on_top_reply, (void *)(uintptr_t)c->id, NULL) < 0)
            client_reply(c, false, "the agent connection is down", 1);
        shim_agent_kick(s);
        return;
    }
    case SHIMP_OP_STOP:
        vm_run_for_signal(s);
        c->kind = CL_WAIT;
        c->stopper = true;
        shim_begin_stop(s, req->timeout_s);
        return;
    case SHIMP_OP_ARCHIVE_STAT:
    case SHIMP_OP_ARCHIVE_GET:
    case SHIMP_OP_ARCHIVE_PUT:
        start_archive(c, req);
        return;
    case SHIMP_OP_NET: { /* a network joined or left live: the agent does it */
        struct agent_request ar = {.op = AGENT_OP_NET};
        if (s->phase != SHIM_RUNNING || s->main_exited || s->paused) {
            client_reply(c, false,
                         s->paused ? "the container is paused" : "the container is not running", 1);
            return;
        }
        c->kind = CL_WAIT;
        ar.u.net = req->net;
        if (agentc_request(&s->ac, &ar, on_kill_reply, (void *)(uintptr_t)c->id, NULL) < 0)
            client_reply(c, false, "the agent connection is down", 1);
        shim_agent_kick(s);
        return;
    }
    case SHIMP_OP_PAUSE:
        vm_run_request(c, SHIM_VM_CMD_PAUSE);
        return;
    case SHIMP_OP_RESUME:
        vm_run_request(c, SHIM_VM_CMD_RESUME);
        return;
    default:
        client_reply(c, false, "this request needs an exec or attach session first", 1);
        return;
    }
}

static int client_frame(struct shim_client *c, const struct agent_frame *f)
{
    struct shim *s = c->s;
    struct agentc_proc *target = c->kind == CL_EXEC || c->kind == CL_ARCHIVE ? c->proc : s->main;

    if (f->type == AGENT_FRAME_CONTROL) {
        struct shimp_request req = {0};
        cleanup_error ctr_error_t err = NULL;
        if (shimp_request_decode((const char *)f->payload, f->length, &req, &err) < 0) {
            client_reply(c, false, err->msg, 1);
            return -1;
        }
        handle_request(c, &req);
        shimp_request_release(&req);
        return 0;
    }
    if (f->stream != SHIMP_STREAM_STDIN || !c->in_stdin)
        return -1;
    if (target && !target->exited) {
        if (f->type == AGENT_FRAME_EOF) {
            c->in_stdin = false;
            agentc_close_stdin(&s->ac, target, NULL);
        } else {
            agentc_send_stdin(&s->ac, target, f->payload, f->length, NULL);
            if (c->kind == CL_ARCHIVE && s->ac.out_len >= AGENTC_OUT_HIGH && !c->in_paused) {
                c->in_paused = true; /* resumed by shim_agent_kick once the guest caught up */
                shim_loop_mod(&c->w, client_events(c));
            }
        }
        shim_agent_kick(s);
    }
    return 0;
}

static void client_io(struct shim_watch *w, uint32_t ev)
{
    struct shim_client *c = w->data;
    uint8_t buf[65536];

    if (ev & EPOLLOUT)
        client_flush(c);
    if (c->dead || !(ev & (EPOLLIN | EPOLLHUP | EPOLLERR)))
        return;
    ssize_t n = read(c->fd, buf, sizeof(buf));
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) {
        client_drop(c);
        return;
    }
    size_t off = 0;
    while (off < (size_t)n && !c->dead) {
        struct agent_frame f;
        size_t used;
        int r = agent_decoder_feed(&c->dec, buf + off, (size_t)n - off, &used, &f, NULL);
        off += used;
        if (r < 0 || (r == 1 && client_frame(c, &f) < 0)) {
            client_drop(c);
            return;
        }
        if (r == 0)
            break;
    }
}

static void on_accept(struct shim_watch *w, uint32_t ev)
{
    struct shim *s = w->data;
    int fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    struct shim_client *c;

    if (fd < 0)
        return;
    c = ctr_xcalloc(1, sizeof(*c));
    c->s = s;
    c->fd = fd;
    c->id = ++s->next_client_id;
    agent_decoder_init(&c->dec);
    if (shim_loop_add(&s->loop, &c->w, fd, EPOLLIN, client_io, c, NULL) < 0) {
        close(fd);
        free(c);
        return;
    }
    c->next = s->clients;
    s->clients = c;
}

void shim_server_reap(void *data)
{
    struct shim *s = data;
    for (struct shim_client **pp = &s->clients; *pp;) {
        struct shim_client *c = *pp;
        if (!c->dead) {
            pp = &c->next;
            continue;
        }
        *pp = c->next;
        close(c->fd);
        agent_decoder_release(&c->dec);
        free(c->out);
        free(c);
    }
}

int shim_server_listen(struct shim *s, ctr_error_t *err)
{
    struct sockaddr_un sa;
    int dirfd;
    cleanup_free char *path = ctr_xasprintf("%s/%s", s->bundle, SHIMP_SOCKET_NAME);

    if (shimc_sock_addr(s->bundle, &sa, &dirfd, err) < 0)
        return -1;
    unlink(path);
    s->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (s->listen_fd < 0 || bind(s->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
        listen(s->listen_fd, 16) < 0) {
        int e = errno;
        if (dirfd >= 0)
            close(dirfd);
        return ctr_fail(err, e, "listen on `%s`", path);
    }
    if (dirfd >= 0)
        close(dirfd);
    return shim_loop_add(&s->loop, &s->listen_w, s->listen_fd, EPOLLIN, on_accept, s, err);
}

void shim_server_close(struct shim *s)
{
    cleanup_free char *path = ctr_xasprintf("%s/%s", s->bundle, SHIMP_SOCKET_NAME);
    shim_loop_del(&s->listen_w);
    if (s->listen_fd >= 0) {
        close(s->listen_fd);
        unlink(path);
    }
    s->listen_fd = -1;
    for (struct shim_client *c = s->clients; c; c = c->next)
        client_drop(c);
    shim_server_reap(s);
}

/* ---- fan-out of the main process ---- */

void shim_server_main_output(struct shim *s, int which, const uint8_t *data, size_t len)
{
    for (struct shim_client *c = s->clients; c; c = c->next)
        if (c->kind == CL_ATTACH && !c->dead)
            client_data(c, which == AGENTC_STDERR ? SHIMP_STREAM_STDERR : SHIMP_STREAM_STDOUT, data,
                        len);
}

void shim_server_main_eof(struct shim *s, int which)
{
    for (struct shim_client *c = s->clients; c; c = c->next)
        if (c->kind == CL_ATTACH && !c->dead)
            client_send(c, which == AGENTC_STDERR ? SHIMP_STREAM_STDERR : SHIMP_STREAM_STDOUT,
                        AGENT_FRAME_EOF, NULL, 0);
}

void shim_server_main_exit(struct shim *s, int status)
{
    for (struct shim_client *c = s->clients; c; c = c->next)
        if (c->kind == CL_ATTACH && !c->dead)
            client_exit(c, status);
}

/* The VM is gone: answer everyone still waiting, then flush with a short deadline. */
void shim_server_vm_gone(struct shim *s)
{
    for (struct shim_client *c = s->clients; c; c = c->next) {
        if (c->dead)
            continue;
        if (c->stopper)
            client_reply(c, true, NULL, 0);
        else if (c->kind == CL_EXEC || c->kind == CL_ATTACH)
            client_exit(c, c->kind == CL_ATTACH ? s->exit_code : 137);
        else if (c->kind == CL_ARCHIVE)
            client_exit_error(c, 137, "the container stopped during the transfer");
        else
            client_reply(c, false, "the container stopped", 1);
        if (c->dead || c->out_len == 0)
            continue;
        fcntl(c->fd, F_SETFL, 0);
        struct timeval tv = {.tv_sec = 2};
        setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
        client_flush(c);
    }
}
