/* Maintenance mode (`container-runtime archive BUNDLE stat|get|put PATH`): the VM of a
 * stopped container boots with its disks and mounts, runs `setup` but no main
 * process, performs one archive operation with the caller's fds as the data, and
 * shuts down cleanly (vminitd unmounts, so the writable disk stays consistent). */
#include "shim/shim-internal.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <unistd.h>

static void job_fail(struct shim *s, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void job_fail(struct shim *s, int errnum, const char *fmt, ...)
{
    va_list ap;

    if (s->job_error)
        return; /* the first error is the cause */
    va_start(ap, fmt);
    if (vasprintf(&s->job_error, fmt, ap) < 0)
        abort();
    va_end(ap);
    s->job_errnum = errnum > 0 ? errnum : EIO;
}

static void job_end(struct shim *s)
{
    shim_loop_del(&s->job_in_w);
    if (!s->main_exited)
        shim_shutdown_vm(s);
}

static void job_output(struct agentc_proc *p, int which, const uint8_t *d, size_t len)
{
    struct shim *s = p->data;

    if (s->job_error)
        return;
    /* blocking: the one consumer paces the guest (which pauses when we stop reading) */
    if (ctr_write_all_wait(s->job->out_fd, d, len) < 0) {
        job_fail(s, errno, "write the tar: %s", strerror(errno));
        agentc_signal(&s->ac, p->name, SIGKILL, NULL);
        shim_agent_kick(s);
    }
}

static void job_exit(struct agentc_proc *p, int status)
{
    struct shim *s = p->data;

    if (status != 0)
        job_fail(s, EIO, "%s",
                 p->exit_error ? p->exit_error : "the archive worker failed in the guest");
    s->job_proc = NULL;
    agentc_forget(&s->ac, p);
    job_end(s);
}

static const struct agentc_proc_ops job_ops = {.output = job_output, .exit = job_exit};

static void job_in_ready(struct shim_watch *w, uint32_t ev)
{
    shim_job_pump(w->data);
}

static void on_job_reply(struct agentc *ac, const struct agent_reply *rep, void *data)
{
    struct shim *s = data;
    cleanup_error ctr_error_t err = NULL;
    struct stat st;

    if (!rep->ok) {
        job_fail(s, rep->errnum, "%s", rep->error ? rep->error : "the guest refused the request");
        if (s->job_proc) {
            agentc_forget(ac, s->job_proc);
            s->job_proc = NULL;
        }
        job_end(s);
        return;
    }
    if (rep->stat) {
        s->job_stat = ctr_xcalloc(1, sizeof(*s->job_stat));
        s->job_stat->name = ctr_xstrdup(rep->stat->name ? rep->stat->name : "");
        s->job_stat->size = rep->stat->size;
        s->job_stat->mode = rep->stat->mode;
        s->job_stat->mtime = ctr_xstrdup(rep->stat->mtime ? rep->stat->mtime : "");
        s->job_stat->link_target =
            rep->stat->link_target ? ctr_xstrdup(rep->stat->link_target) : NULL;
    }
    if (s->job->op == SHIMP_OP_ARCHIVE_STAT) {
        job_end(s);
        return;
    }
    if (s->job->op != SHIMP_OP_ARCHIVE_PUT)
        return;
    /* put: feed the tar now that the destination is known to be a directory; a regular
     * file cannot be watched by epoll but never blocks either */
    if (fstat(s->job->in_fd, &st) == 0 && S_ISREG(st.st_mode))
        s->job_in_file = true;
    else if (shim_loop_add(&s->loop, &s->job_in_w, s->job->in_fd, EPOLLIN, job_in_ready, s, &err) <
             0)
        s->job_in_file = true; /* not pollable: read it blocking */
    shim_job_pump(s);
}

void shim_job_start(struct shim *s)
{
    const struct shim_archive_job *j = s->job;
    cleanup_error ctr_error_t err = NULL;

    if (j->op == SHIMP_OP_ARCHIVE_STAT) {
        struct agent_request req = {.op = AGENT_OP_ARCHIVE_STAT};
        req.u.archive.path = (char *)j->path;
        if (agentc_request(&s->ac, &req, on_job_reply, s, &err) < 0)
            shim_fatal(s, 125, "%s", err->msg);
        return;
    }
    s->job_proc = agentc_archive(
        &s->ac, j->op == SHIMP_OP_ARCHIVE_GET ? AGENT_OP_ARCHIVE_GET : AGENT_OP_ARCHIVE_PUT,
        j->path, j->export_all ? AGENTC_GET_EXPORT : 0, "cp", &job_ops, s, on_job_reply, s, &err);
    if (s->job_proc == NULL)
        shim_fatal(s, 125, "%s", err->msg);
}

void shim_job_pump(struct shim *s)
{
    static uint8_t buf[64 * 1024];
    struct agentc_proc *p = s->job_proc;
    bool queued = false;

    if (s->job_pumping || s->job_in_eof || p == NULL || !p->started || !p->in_open)
        return;
    s->job_pumping = true;
    while (s->ac.out_len < AGENTC_OUT_HIGH && !s->job_error) {
        struct pollfd pfd = {.fd = s->job->in_fd, .events = POLLIN};
        ssize_t n;

        if (!s->job_in_file && (poll(&pfd, 1, 0) <= 0 || pfd.revents == 0))
            break;
        n = read(s->job->in_fd, buf, sizeof(buf));
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            break;
        if (n < 0) {
            job_fail(s, errno, "read the tar: %s", strerror(errno));
            agentc_signal(&s->ac, p->name, SIGKILL, NULL);
            break;
        }
        if (n == 0) {
            agentc_close_stdin(&s->ac, p, NULL);
            s->job_in_eof = true;
            shim_loop_del(&s->job_in_w);
            queued = true;
            break;
        }
        agentc_send_stdin(&s->ac, p, buf, (size_t)n, NULL);
        queued = true;
    }
    if (s->job_in_w.loop)
        shim_loop_mod(&s->job_in_w, s->ac.out_len < AGENTC_OUT_HIGH ? EPOLLIN : 0);
    if (queued)
        shim_agent_kick(s);
    s->job_pumping = false;
}

void shim_job_release(struct shim *s)
{
    shim_loop_del(&s->job_in_w);
    agent_path_stat_release(s->job_stat);
    free(s->job_stat);
    s->job_stat = NULL;
    free(s->job_error);
    s->job_error = NULL;
}
