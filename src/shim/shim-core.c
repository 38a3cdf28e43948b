/* What the parts of the supervisor call back into: the trace, state.json and the
 * start notification, the fatal error, the agent channel's kick, and the end of a
 * container (shutdown request, stop sequence). The lifecycle that drives them (boot,
 * agent replies, the VMM's exit) is shim.c. */
#include "shim/shim-internal.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#define SHIM_POWEROFF_GRACE_MS 10000 /* main exited -> VM should be off by then */
#define SHIM_KILL_GRACE_MS 3000

int64_t shim_realtime_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

void shim_trace(struct shim *s, const char *what)
{
    if (s->trace)
        fprintf(stderr, "container-runtime: +%.3fs %s\n", (double)(ctr_now_ns() - s->t0) / 1e9,
                what);
}

/* ---- state and notifications ---- */

int shim_write_state(struct shim *s, enum bundle_status status)
{
    cleanup_error ctr_error_t err = NULL;

    if (s->job)
        return 0; /* maintenance mode leaves the stopped container's state alone */
    s->st.status = status;
    s->st.paused = status == BUNDLE_RUNNING && s->paused;
    s->st.shim_pid = (int)getpid();
    s->st.vmm_pid = (int)s->vm.pid;
    free(s->st.accel);
    s->st.accel = ctr_xstrdup(vmm_accel_name(s->accel));
    if (status == BUNDLE_STOPPED) {
        s->st.exit_code = s->exit_code;
        free(s->st.exit_reason);
        s->st.exit_reason = s->exit_reason ? ctr_xstrdup(s->exit_reason) : NULL;
        s->st.finished_ns = shim_realtime_ns();
    }
    if (bundle_state_save(s->bundle, &s->st, &err) < 0) {
        log_warn("%s", err->msg);
        return -1;
    }
    return 0;
}

void shim_notify(struct shim *s, int code, const char *msg)
{
    if (s->notify_fd < 0)
        return;
    cleanup_free char *line = ctr_xasprintf("%d %s\n", code, msg ? msg : "");
    (void)ctr_write_all(s->notify_fd, line, strlen(line));
    close(s->notify_fd);
    s->notify_fd = -1;
}

char *shim_bootlog_tail(struct shim *s, int lines)
{
    cleanup_free char *path = ctr_xasprintf("%s/%s", s->bundle, s->bootlog_name);
    cleanup_free char *text = NULL;
    size_t len = 0;
    const char *p;
    int seen = 0;

    if (ctr_read_file(path, 64u << 20, &text, &len, NULL) < 0 || len == 0)
        return ctr_xasprintf("(%s is empty)", s->bootlog_name);
    while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r'))
        text[--len] = '\0';
    for (p = text + len; p > text; p--)
        if (p[-1] == '\n' && ++seen == lines)
            break;
    return ctr_xstrdup(p);
}

void shim_fatal(struct shim *s, int code, const char *fmt, ...)
{
    va_list ap;
    char *msg;

    va_start(ap, fmt);
    if (vasprintf(&msg, fmt, ap) < 0)
        abort();
    va_end(ap);
    if (s->error != NULL) { /* the first error is the cause; later ones are fallout */
        log_debug("after the first error: %s", msg);
        free(msg);
    } else {
        s->error = msg;
        s->exit_code = code;
        free(s->exit_reason);
        s->exit_reason = ctr_xstrdup(msg);
        shim_notify(s, code, msg);
    }
    if (s->phase < SHIM_DONE && s->vm.pid > 0) {
        s->vm_killed_by_us = true;
        s->vmm_ops->kill(&s->vm, SIGKILL, NULL);
    }
}

/* ---- agent channel ---- */

void shim_agent_kick(struct shim *s)
{
    cleanup_error ctr_error_t err = NULL;

    if (s->agent_w.loop == NULL)
        return;
    if (agentc_flush(&s->ac, &err) < 0) {
        /* The VMM closed its end: its exit (watched on the pidfd) says why. */
        log_debug("%s", err->msg);
        shim_loop_del(&s->agent_w);
        return;
    }
    shim_loop_mod(&s->agent_w, (shim_server_throttled(s) ? 0 : EPOLLIN) |
                                   (agentc_want_write(&s->ac) ? EPOLLOUT : 0));
    if (s->local && s->local->in_w.loop && s->local->in_w.events == 0 &&
        s->ac.out_len < AGENTC_OUT_HIGH)
        shim_loop_mod(&s->local->in_w, EPOLLIN);
    if (s->ac.out_len < AGENTC_OUT_HIGH) {
        shim_server_resume_inputs(s);
        if (s->job)
            shim_job_pump(s);
    }
}

/* ---- the end: shutdown and the stop sequence ---- */

static void stop_step(struct shim *s);

void shim_shutdown_vm(struct shim *s)
{
    cleanup_error ctr_error_t err = NULL;

    s->main_exited = true;
    s->phase = SHIM_EXITED;
    /* Tell vminitd at once that all was read (it would wait 250 ms for this), then
     * give it time to sync and power off before the stop sequence steps in. */
    s->stopping = true;
    s->stop_stage = 2;
    stop_step(s);
    if (shim_loop_timer(&s->loop, &s->timer_w, SHIM_POWEROFF_GRACE_MS, shim_vm_timer, s, &err) < 0)
        log_warn("%s", err->msg);
}

/* ---- stop sequence: SIGTERM, grace, SIGKILL, power-off, kill the VMM ---- */

static void stop_step(struct shim *s)
{
    cleanup_error ctr_error_t err = NULL;
    uint64_t next_ms = SHIM_KILL_GRACE_MS;
    bool main_alive = s->main && s->phase == SHIM_RUNNING && !s->main_exited;

    switch (s->stop_stage++) {
    case 0:
        if (main_alive) {
            agentc_signal(&s->ac, "main", SIGTERM, NULL);
            next_ms = (uint64_t)s->stop_timeout_s * 1000;
            break;
        }
        s->stop_stage = 2;
        /* fallthrough */
    case 1:
        if (main_alive) {
            agentc_signal(&s->ac, "main", SIGKILL, NULL);
            break;
        }
        s->stop_stage = 3;
        /* fallthrough */
    case 2: {
        struct agent_request req = {.op = AGENT_OP_SHUTDOWN};
        if (s->ac.hello_done && !s->ac.failed && s->agent_w.loop)
            agentc_request(&s->ac, &req, NULL, NULL, NULL);
        break;
    }
    case 3:
        log_info("the vm did not power off; stopping qemu");
        s->vm_killed_by_us = true;
        s->vmm_ops->stop(&s->vm, NULL);
        break;
    default:
        s->vm_killed_by_us = true;
        s->vmm_ops->kill(&s->vm, SIGKILL, NULL);
        next_ms = 60000;
        break;
    }
    shim_agent_kick(s);
    if (shim_loop_timer(&s->loop, &s->timer_w, next_ms, shim_vm_timer, s, &err) < 0)
        log_warn("%s", err->msg);
}

void shim_begin_stop(struct shim *s, unsigned timeout_s)
{
    if (s->stopping)
        return;
    s->stopping = true;
    s->stop_timeout_s = timeout_s;
    s->stop_stage = 0;
    if (s->phase < SHIM_RUNNING) {
        shim_fatal(s, 137, "stopped before the container process started");
        return;
    }
    stop_step(s);
}

void shim_vm_timer(struct shim_watch *w, uint32_t ev)
{
    struct shim *s = w->data;
    uint64_t ticks;

    (void)!read(w->fd, &ticks, sizeof(ticks));
    if (s->phase < SHIM_RUNNING && !s->stopping) {
        cleanup_free char *tail = shim_bootlog_tail(s, 15);
        shim_fatal(s, 125,
                   "the guest agent did not %s within %u ms (accelerator `%s`: %s); "
                   "last lines of `%s/%s`:\n%s",
                   s->phase == SHIM_BOOTING ? "answer" : "start the container process",
                   s->cfg.vm.boot_timeout_ms, vmm_accel_name(s->accel), s->accel_why, s->bundle,
                   s->bootlog_name, tail);
        return;
    }
    if (s->stopping)
        stop_step(s);
}
