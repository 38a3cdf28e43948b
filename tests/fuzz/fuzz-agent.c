/* libFuzzer target: the host side of the agent protocol against a hostile guest.
 *
 * Each input is what a guest writes on the agent port, fed to the shim's real agent client
 * (src/shim/agent-client.c: frame decoder, message decoder, reply/event/stream dispatch)
 * after the host queued what the shim queues at boot: hello (id 1), setup (2), exec
 * `main` with stdin (3; streams 1 stdin, 2 stdout, 3 stderr), an exec `e1` with a terminal
 * (4; stream 4), archive_get `cp` (5; stream 5), archive_put `put` (6; stream 6),
 * archive_stat (7), signal (8), resize (9).
 *
 * The marker "\xff\xfeACT" followed by one byte splits the input: the bytes before it are
 * fed (one agentc_feed call per piece, so frames arrive in any split) and the byte picks
 * a host action (a new exec or archive transfer, stdin data or EOF, a signal, a resize,
 * forgetting a process, a flush), so replies and events can race the host's own requests
 * as they do in the shim. Callbacks do what the shim's do (forget a failed exec, copy the
 * stat of an archive reply, forget workers at their exit) and touch every byte handed to
 * them. A second decoder pass checks that every guest message that decodes encodes back
 * to the same message. Built and run by tests/fuzz/run.sh agent. */
#include "shim/agent-client-internal.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MARK                                                                                       \
    "\xff\xfe"                                                                                     \
    "ACT"
#define MARK_LEN 5

struct pdata;
struct fz {
    struct agentc c;
    struct pdata *pds; /* every process's data, freed at the end of the input */
    int nproc;         /* names of new processes: p<N> */
    uint64_t sum;      /* every output byte, so that ASan sees each one read */
    struct agentc_proc *last;
    struct agent_path_stat *stat; /* the last archive reply's, as shim-job.c keeps it */
};

struct pdata {
    struct pdata *next;
    struct fz *f;
    struct agentc_proc *p; /* NULL once forgotten */
    bool forget_at_exit;   /* execs and workers: the shim drops them at exit; main stays */
};

static void forget(struct fz *f, struct pdata *pd)
{
    if (f->last == pd->p)
        f->last = NULL;
    agentc_forget(&f->c, pd->p);
    pd->p = NULL;
}

static void on_output(struct agentc_proc *p, int which, const uint8_t *d, size_t len)
{
    struct pdata *pd = p->data;
    if (which != AGENTC_STDOUT && which != AGENTC_STDERR)
        abort();
    for (size_t i = 0; i < len; i++)
        pd->f->sum += d[i];
}

static void on_eof(struct agentc_proc *p, int which)
{
    if (which != AGENTC_STDOUT && which != AGENTC_STDERR)
        abort();
}

static void on_exit_(struct agentc_proc *p, int status)
{
    struct pdata *pd = p->data;
    if (status < 0 || status > 255 || !p->exited || p->in_open || p->out_open || p->err_open)
        abort();
    if (p->exit_error)
        pd->f->sum += strlen(p->exit_error);
    if (pd->p != p)
        abort();
    if (pd->forget_at_exit)
        forget(pd->f, pd);
}

static const struct agentc_proc_ops ops = {.output = on_output, .eof = on_eof, .exit = on_exit_};

static void stat_free(struct fz *f)
{
    if (f->stat) {
        agent_path_stat_release(f->stat);
        free(f->stat);
        f->stat = NULL;
    }
}

static void on_reply(struct agentc *c, const struct agent_reply *rep, void *data)
{
    struct fz *f = data;
    if (!rep->ok && rep->error == NULL)
        abort();
    if (rep->error)
        f->sum += strlen(rep->error);
    if (rep->agent)
        f->sum += strlen(rep->agent);
    if (rep->stat) { /* shim-job.c on_job_reply */
        stat_free(f);
        f->stat = ctr_xcalloc(1, sizeof(*f->stat));
        f->stat->name = ctr_xstrdup(rep->stat->name ? rep->stat->name : "");
        f->stat->size = rep->stat->size;
        f->stat->mode = rep->stat->mode;
        f->stat->mtime = ctr_xstrdup(rep->stat->mtime ? rep->stat->mtime : "");
        f->stat->link_target = rep->stat->link_target ? ctr_xstrdup(rep->stat->link_target) : NULL;
    }
}

/* The reply of an exec or a transfer: a refused one is forgotten (shim-server.c). */
static void on_proc_reply(struct agentc *c, const struct agent_reply *rep, void *data)
{
    struct pdata *pd = data;
    struct agentc_proc *p = pd->p;
    on_reply(c, rep, pd->f);
    if (p == NULL) /* forgotten before its reply */
        return;
    if (!rep->ok) {
        if (!p->exited || p->in_open || p->out_open || p->err_open)
            abort();
        if (pd->forget_at_exit)
            forget(pd->f, pd);
    }
}

static struct pdata *pdata_new(struct fz *f, bool forget_at_exit)
{
    struct pdata *pd = ctr_xcalloc(1, sizeof(*pd));
    pd->f = f;
    pd->forget_at_exit = forget_at_exit;
    pd->next = f->pds;
    f->pds = pd;
    return pd;
}

static void new_exec(struct fz *f, const char *name, bool terminal, bool want_stdin,
                     bool forget_at_exit)
{
    char *args[] = {"sh", "-c", "echo hi", NULL};
    char *env[] = {"PATH=/bin", NULL};
    struct agent_exec ex = {.args = args, .env = env, .cwd = "/", .user = "", .terminal = terminal};
    struct pdata *pd = pdata_new(f, forget_at_exit);
    pd->p = agentc_exec(&f->c, &ex, name, want_stdin, &ops, pd, on_proc_reply, pd, NULL);
    if (pd->p)
        f->last = pd->p;
}

static void new_archive(struct fz *f, enum agent_op op, const char *name)
{
    struct pdata *pd = pdata_new(f, true);
    pd->p = agentc_archive(&f->c, op, "/etc", false, name, &ops, pd, on_proc_reply, pd, NULL);
    if (pd->p)
        f->last = pd->p;
}

static void stat_request(struct fz *f)
{
    struct agent_request req = {.op = AGENT_OP_ARCHIVE_STAT};
    req.u.archive.path = "/etc/passwd";
    agentc_request(&f->c, &req, on_reply, f, NULL);
}

static void setup_request(struct fz *f)
{
    struct agent_mount m = {"serial:v0", "/data", "ext4", "rw"};
    struct agent_request req = {.op = AGENT_OP_SETUP};
    req.u.setup.hostname = "fuzz";
    req.u.setup.root_lower = "serial:image";
    req.u.setup.root_upper = "serial:rw";
    req.u.setup.mounts = &m;
    req.u.setup.n_mounts = 1;
    agentc_request(&f->c, &req, on_reply, f, NULL);
}

static void action(struct fz *f, uint8_t a)
{
    char name[32];
    static const uint8_t blob[] = "some stdin bytes\n";

    switch (a % 12) {
    case 0: /* only a split */
        break;
    case 1:
        snprintf(name, sizeof(name), "p%d", f->nproc++);
        new_exec(f, name, a & 0x10, a & 0x20, true);
        break;
    case 2:
        snprintf(name, sizeof(name), "g%d", f->nproc++);
        new_archive(f, AGENT_OP_ARCHIVE_GET, name);
        break;
    case 3:
        snprintf(name, sizeof(name), "u%d", f->nproc++);
        new_archive(f, AGENT_OP_ARCHIVE_PUT, name);
        break;
    case 4:
        stat_request(f);
        break;
    case 5:
        agentc_signal(&f->c, f->last ? f->last->name : "main", a >> 4, NULL);
        break;
    case 6:
        agentc_resize(&f->c, "main", a, (uint16_t)(a << 4), NULL);
        break;
    case 7: {
        struct agentc_proc *p = f->last ? f->last : agentc_find_proc(&f->c, "main");
        if (p)
            agentc_send_stdin(&f->c, p, blob, (a & 0x10) ? sizeof(blob) : 1, NULL);
        break;
    }
    case 8: {
        struct agentc_proc *p = f->last ? f->last : agentc_find_proc(&f->c, "main");
        if (p)
            agentc_close_stdin(&f->c, p, NULL);
        break;
    }
    case 9: /* a client that went away: the shim forgets its process (shim-server.c) */
        if (f->last)
            forget(f, f->last->data);
        break;
    case 10:
        agentc_flush(&f->c, NULL);
        break;
    case 11:
        setup_request(f);
        break;
    }
}

static bool str_eq(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

/* Whatever decodes must encode to a message that decodes to the same thing. */
static void check_round_trip(const struct agent_frame *fr)
{
    enum agent_guest_msg_kind kind, kind2;
    struct agent_reply rep = {0}, rep2 = {0};
    struct agent_event ev = {0}, ev2 = {0};
    ctr_error_t err = NULL;

    if (agent_guest_msg_decode((const char *)fr->payload, fr->length, &kind, &rep, &ev, &err) < 0) {
        if (err == NULL || err->msg == NULL)
            abort();
        ctr_error_free(&err);
        return;
    }
    size_t len = 0;
    char *json =
        kind == AGENT_MSG_REPLY ? agent_reply_encode(&rep, &len) : agent_event_encode(&ev, &len);
    if (json == NULL)
        abort();
    if (agent_guest_msg_decode(json, len, &kind2, &rep2, &ev2, &err) < 0 || kind2 != kind)
        abort();
    if (kind == AGENT_MSG_REPLY) {
        if (rep.id != rep2.id || rep.ok != rep2.ok || !str_eq(rep.error, rep2.error) ||
            rep.code != rep2.code || rep.version != rep2.version ||
            !str_eq(rep.agent, rep2.agent) || rep.pid != rep2.pid || rep.errnum != rep2.errnum ||
            !rep.stat != !rep2.stat)
            abort();
        if (rep.stat &&
            (!str_eq(rep.stat->name, rep2.stat->name) || rep.stat->size != rep2.stat->size ||
             rep.stat->mode != rep2.stat->mode || !str_eq(rep.stat->mtime, rep2.stat->mtime) ||
             !str_eq(rep.stat->link_target ? rep.stat->link_target : "",
                     rep2.stat->link_target ? rep2.stat->link_target : "")))
            abort();
    } else if (ev.type != ev2.type || !str_eq(ev.process, ev2.process) || ev.status != ev2.status ||
               !str_eq(ev.error, ev2.error)) {
        abort();
    }
    free(json);
    agent_reply_release(&rep);
    agent_reply_release(&rep2);
    agent_event_release(&ev);
    agent_event_release(&ev2);
}

static void decode_pass(const uint8_t *data, size_t size)
{
    struct agent_decoder dec;
    agent_decoder_init(&dec);
    while (size > 0) {
        struct agent_frame fr;
        size_t used = 0;
        ctr_error_t err = NULL;
        int r = agent_decoder_feed(&dec, data, size, &used, &fr, &err);
        if (used > size)
            abort();
        data += used;
        size -= used;
        if (r < 0) {
            ctr_error_free(&err);
            break;
        }
        if (r == 0)
            break;
        if (fr.length > AGENT_MAX_PAYLOAD || fr.payload[fr.length] != '\0')
            abort();
        if (fr.type == AGENT_FRAME_CONTROL)
            check_round_trip(&fr);
    }
    agent_decoder_release(&dec);
}

static int devnull = -1;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz f = {0};
    ctr_error_t err = NULL;

    if (devnull < 0)
        devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
    agentc_init(&f.c, devnull);
    /* what shim.c queues at boot, then an exec and transfers as the shim's clients make */
    if (agentc_hello(&f.c, on_reply, &f, NULL) < 0)
        abort();
    setup_request(&f);
    new_exec(&f, "main", false, true, false);
    new_exec(&f, "e1", true, false, true);
    new_archive(&f, AGENT_OP_ARCHIVE_GET, "cp");
    new_archive(&f, AGENT_OP_ARCHIVE_PUT, "put");
    stat_request(&f);
    agentc_signal(&f.c, "main", 15, NULL);
    agentc_resize(&f.c, "main", 24, 80, NULL);
    f.last = NULL;

    const uint8_t *p = data, *end = data + size;
    while (p < end) {
        const uint8_t *m = memmem(p, (size_t)(end - p), MARK, MARK_LEN);
        const uint8_t *stop = m ? m : end;
        if (stop > p && agentc_feed(&f.c, p, (size_t)(stop - p), &err) < 0) {
            if (!f.c.failed || err == NULL)
                abort();
            ctr_error_free(&err);
            break; /* the shim drops the VM */
        }
        if (m == NULL)
            break;
        p = m + MARK_LEN;
        if (p < end)
            action(&f, *p++);
    }
    /* a failed client refuses everything after */
    if (f.c.failed && agentc_feed(&f.c, (const uint8_t *)"x", 1, &err) == 0)
        abort();
    ctr_error_free(&err);
    agentc_flush(&f.c, NULL);

    agentc_release(&f.c);
    while (f.pds) {
        struct pdata *n = f.pds->next;
        free(f.pds);
        f.pds = n;
    }
    stat_free(&f);

    decode_pass(data, size);
    return 0;
}
