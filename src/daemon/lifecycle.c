/* Container lifecycle: start (spawn the detached shim with `container-runtime
 * start`), stop, kill, restart, wait, resize, top. The shim, not the daemon,
 * holds the container: the daemon only watches it (monitor.c). */
#include "daemon/daemon-internal.h"
#include "shimc/shimc.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int64_t real_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int dmn_parse_signal(const char *s, int *sig)
{
    return ctr_signal_parse(s, sig);
}

int dmn_console_size(json_t *v, uint16_t *rows, uint16_t *cols, ctr_error_t *err)
{
    *rows = *cols = 0;
    if (v == NULL || json_is_null(v))
        return 0;
    json_t *h = json_array_get(v, 0), *w = json_array_get(v, 1);
    if (!json_is_array(v) || json_array_size(v) != 2 || !json_is_integer(h) ||
        !json_is_integer(w) || json_integer_value(h) < 0 || json_integer_value(h) > 65535 ||
        json_integer_value(w) < 0 || json_integer_value(w) > 65535)
        return dmn_fail(err, EINVAL, "`ConsoleSize` must be [height, width] with values 0-65535");
    *rows = (uint16_t)json_integer_value(h);
    *cols = (uint16_t)json_integer_value(w);
    return 0;
}

/* One resize of the main process's terminal through a fresh shim session. */
static int send_resize(const char *bundle, uint16_t rows, uint16_t cols, ctr_error_t *err)
{
    struct shimp_request req = {.op = SHIMP_OP_ATTACH};
    struct shimp_request rs = {.op = SHIMP_OP_RESIZE, .rows = rows, .cols = cols};
    int fd = shimc_request(bundle, &req, err);
    if (fd < 0)
        return -1;
    int ret = shimc_send(fd, NULL, &rs, NULL);
    close(fd);
    return ret < 0 ? dmn_fail(err, errno, "cannot send the resize to the shim") : 0;
}

/* A size given while the container was created (not yet booting) goes into
 * the bundle: the main process starts with it. */
static void apply_created_size(struct dmn *d, struct dmn_container *c)
{
    ctr_error_t err = NULL;
    struct bundle_config bc = {0};

    dmn_lock(d);
    bool pending = c->resize_pending && c->tty;
    uint16_t rows = c->resize_rows, cols = c->resize_cols;
    c->resize_pending = false;
    dmn_unlock(d);
    if (!pending)
        return;
    if (bundle_config_load(c->bundle, &bc, &err) == 0) {
        bc.process.rows = rows;
        bc.process.cols = cols;
        bundle_config_save(c->bundle, &bc, &err);
    }
    if (err) {
        log_warn("container %.12s: terminal size not kept: %s", c->id, err->msg);
        ctr_error_free(&err);
    }
    bundle_config_release(&bc);
}

/* ---- start ---- */

/* Run `container-runtime start BUNDLE`; while it boots, connect pending attaches
 * as soon as the shim listens. *code gets its exit status, *msg its stderr. */
static void run_start(struct dmn *d, struct dmn_container *c, int *code, char **msg)
{
    cleanup_close int ino = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
    int efd = -1;
    ctr_error_t err = NULL;
    char buf[16384];
    size_t have = 0;
    bool connected = false;
    int status;

    *code = 125;
    *msg = NULL;
    if (ino >= 0)
        inotify_add_watch(ino, c->bundle, IN_CREATE | IN_MOVED_TO);
    dmn_lock(d);
    bool had_vlan = false;
    for (size_t i = 0; i < c->n_eps; i++) { /* joined live (netlive.c): now a NIC of its own */
        had_vlan = had_vlan || c->eps[i].vlan;
        dmn_netconf_unsplice(&c->eps[i]);
        c->eps[i].vlan = 0;
        c->eps[i].vlink[0] = c->eps[i].trunk[0] = c->eps[i].trunk_mac[0] = '\0';
    }
    if (had_vlan)
        dmn_container_save_locked(d, c, NULL);
    dmn_unlock(d);
    pid_t pid = shimc_start_spawn(c->bundle, &efd, &err);
    if (pid < 0) {
        *msg = ctr_error_take_msg(&err);
        return;
    }
    for (;;) {
        struct pollfd p[2] = {{.fd = efd, .events = POLLIN},
                              {.fd = connected ? -1 : ino, .events = POLLIN}};
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (p[1].revents & POLLIN) {
            char ev[4096];
            while (read(ino, ev, sizeof(ev)) > 0)
                ;
            dmn_lock(d);
            if (c->pending == NULL || dmn_attach_connect_pending_locked(d, c) == 0)
                connected = c->pending == NULL;
            dmn_unlock(d);
        }
        if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t n = read(efd, buf + have, sizeof(buf) - 1 - have);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                break;
            have += (size_t)n;
            if (have == sizeof(buf) - 1) { /* keep the tail only */
                memmove(buf, buf + have / 2, have - have / 2);
                have -= have / 2;
            }
        }
    }
    close(efd);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    *code = WIFEXITED(status) ? WEXITSTATUS(status) : 125;
    buf[have] = '\0';
    if (*code != 0) {
        char *m = shimc_start_error_text(buf);
        *msg = m ? m : ctr_xstrdup("the runtime failed without a message");
    }
}

/* The daemon stops its containers: their exits are no user's stop (unless-stopped ones
 * come back at the next start) and are not restarted. */
static bool shutting_down(struct dmn *d)
{
    return d->stop_containers || atomic_load(&d->stopping);
}

/* A stop or kill by the user: the coming exit is not restarted (moby's ExitOnNext, cancel:
 * also a pending restart) and unless-stopped stays stopped (HasBeenManuallyStopped). */
static void stopped_by_user_locked(struct dmn *d, struct dmn_container *c, bool cancel)
{
    if (!shutting_down(d))
        c->manually_stopped = true;
    if (cancel) {
        c->restart_cancel = true;
        c->restart_pending = false;
    }
    dmn_container_save_locked(d, c, NULL);
    pthread_cond_broadcast(&d->cond);
}

/* gen: the scheduled restart this start is (restart policy), NULL for a user's start,
 * which resets RestartCount and the back-off (moby's ResetRestartManager). 1: running
 * already, or the scheduled restart was cancelled meanwhile. */
static int start_locked_op(struct dmn *d, struct dmn_container *c, const uint64_t *gen,
                           ctr_error_t *err)
{
    int code;
    cleanup_free char *msg = NULL;

    dmn_lock(d);
    if (gen && (!c->restart_pending || c->restart_gen != *gen || c->removed)) {
        dmn_unlock(d);
        return 1;
    }
    c->restart_pending = false;
    c->restart_cancel = false;
    if (gen == NULL && c->status != DMN_RUNNING) {
        c->restart_count = 0;
        c->restart_delay_ms = 0;
        c->manually_stopped = false;
    }
    if (c->removed || c->status == DMN_REMOVING || c->status == DMN_DEAD) {
        dmn_unlock(d);
        return dmn_fail(err, EBUSY, "container `%s` is marked for removal and cannot be started",
                        c->name);
    }
    if (c->status == DMN_RUNNING) {
        dmn_unlock(d);
        return 1;
    }
    if (dmn_block_volumes_check_locked(d, c, err) < 0) {
        dmn_unlock(d);
        return -1;
    }
    c->status = DMN_STARTING;
    pthread_cond_broadcast(&d->cond);
    dmn_unlock(d);

    /* Stale runtime files of an earlier run (state.json, shim.sock) go first. */
    ctr_error_t e2 = NULL;
    if (shimc_delete(c->bundle, false, &e2) < 0) {
        log_warn("container %.12s: %s", c->id, e2->msg);
        ctr_error_free(&e2);
    }
    apply_created_size(d, c);
    run_start(d, c, &code, &msg);

    dmn_lock(d);
    struct bundle_state st = {0};
    if (code == 0 && bundle_state_load(c->bundle, &st, &e2) == 0) {
        c->status = DMN_RUNNING;
        c->pid = st.shim_pid;
        c->started_ns = st.started_ns ? st.started_ns : real_ns();
        c->finished_ns = 0;
        c->exit_code = 0;
        free(c->error);
        c->error = NULL;
        dmn_attach_connect_pending_locked(d, c);
        dmn_event_container_locked(d, c, "start", NULL);
        dmn_container_save_locked(d, c, NULL);
        dmn_monitor_watch_locked(d, c); /* records the exit at once if it is over already */
        bundle_state_release(&st);
        /* a resize that came while the VM booted */
        bool resize = c->resize_pending && c->tty;
        uint16_t rows = c->resize_rows, cols = c->resize_cols;
        c->resize_pending = false;
        pthread_cond_broadcast(&d->cond);
        dmn_unlock(d);
        log_info("container %.12s started (shim pid %d)", c->id, c->pid);
        if (resize && send_resize(c->bundle, rows, cols, &e2) < 0) {
            log_warn("container %.12s: %s", c->id, e2->msg);
            ctr_error_free(&e2);
        }
        return 0;
    }
    if (code == 0) {
        code = 125;
        msg = ctr_xasprintf("the runtime started but left no state: %s", e2->msg);
        ctr_error_free(&e2);
    }
    dmn_attach_fail_pending_locked(d, c);
    dmn_record_start_failure_locked(d, c, code, msg);
    dmn_unlock(d);
    /* docker: a missing or non-executable command is the caller's fault */
    dmn_fail(err, code == 126 || code == 127 ? EINVAL : 0,
             "failed to create task for container: %s", msg);
    return -1;
}

int dmn_container_start(struct dmn *d, struct dmn_container *c, ctr_error_t *err)
{
    dmn_op_lock(c);
    int r = start_locked_op(d, c, NULL, err);
    dmn_op_unlock(c);
    return r;
}

int dmn_container_start_scheduled(struct dmn *d, struct dmn_container *c, uint64_t gen,
                                  ctr_error_t *err)
{
    dmn_op_lock(c);
    int r = start_locked_op(d, c, &gen, err);
    dmn_op_unlock(c);
    return r;
}

/* ---- stop ---- */

/* A kill or stop goes to a paused container (pause.c): the shim resumes its VM first, as
 * docker's kill unpauses it, and its resume is logged as `unpause` (d->lock held). */
static void resuming_locked(struct dmn *d, struct dmn_container *c)
{
    if (!c->paused)
        return;
    c->paused = false;
    dmn_event_container_locked(d, c, "unpause", NULL);
}

/* Wait (bounded) until the monitor recorded the exit. The monitor is the only writer of
 * an exit: when the time is up and the shim no longer answers (its exit not seen: not
 * watched, or not gone yet), the monitor is asked to look at it, and we wait for that. */
static void await_exit(struct dmn *d, struct dmn_container *c, int seconds)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += seconds;
    dmn_lock(d);
    while (c->status == DMN_RUNNING) {
        if (pthread_cond_timedwait(&d->cond, &d->lock, &ts) == ETIMEDOUT)
            break;
    }
    if (c->status == DMN_RUNNING && !dmn_shim_answers(c->bundle)) {
        uint64_t exits0 = c->exits;
        dmn_monitor_check_locked(d, c);
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 2;
        while (c->status == DMN_RUNNING && c->exits == exits0) {
            if (pthread_cond_timedwait(&d->cond, &d->lock, &ts) == ETIMEDOUT)
                break;
        }
    }
    dmn_unlock(d);
}

int dmn_container_stop_locked_op(struct dmn *d, struct dmn_container *c, int timeout,
                                 ctr_error_t *err)
{
    int sig = SIGTERM;

    dmn_lock(d);
    if (c->status != DMN_RUNNING && c->restart_pending) {
        /* restarting: the stop cancels the restart (docker's 204) */
        stopped_by_user_locked(d, c, true);
        dmn_event_container_locked(d, c, "stop", NULL);
        dmn_unlock(d);
        return 0;
    }
    if (c->status != DMN_RUNNING) {
        dmn_unlock(d);
        return 1;
    }
    stopped_by_user_locked(d, c, true);
    if (timeout < 0)
        timeout = c->stop_timeout >= 0 ? c->stop_timeout : 10;
    if (c->stop_signal && dmn_parse_signal(c->stop_signal, &sig) < 0)
        sig = SIGTERM;
    cleanup_free char *sigs = ctr_xasprintf("%d", sig);
    dmn_event_container_locked(d, c, "kill", json_pack("{s:s}", "signal", sigs));
    resuming_locked(d, c);
    dmn_unlock(d);
    ctr_error_t e = NULL;
    if (sig != SIGTERM && timeout > 0) {
        /* the image's StopSignal first; the shim's stop sends SIGTERM, then SIGKILL */
        if (shimc_kill(c->bundle, sig, &e) < 0 && e->errnum != ETIMEDOUT)
            ctr_error_free(&e);
    }
    if (e == NULL && shimc_stop(c->bundle, (unsigned)timeout, &e) < 0 && e->errnum != ETIMEDOUT) {
        if (dmn_shim_answers(c->bundle)) {
            *err = e;
            return ctr_error_wrap(err, "stop container `%s`", c->name);
        }
        ctr_error_free(&e); /* gone meanwhile: stopped all the same */
    }
    if (e) { /* a hung shim: stop ends it and its VM (docs/daemon.md) */
        dmn_kill_hung_shim(d, c, e->msg);
        ctr_error_free(&e);
    }
    await_exit(d, c, 15);
    dmn_lock(d);
    dmn_event_container_locked(d, c, "stop", NULL);
    dmn_unlock(d);
    return 0;
}

int dmn_container_stop(struct dmn *d, struct dmn_container *c, int timeout, ctr_error_t *err)
{
    dmn_op_lock(c);
    int r = dmn_container_stop_locked_op(d, c, timeout, err);
    dmn_op_unlock(c);
    return r;
}

/* ---- kill, restart ---- */

int dmn_container_kill(struct dmn *d, const char *ref, int sig, ctr_error_t *err)
{
    struct dmn_container *c = dmn_container_get(d, ref, err);
    if (c == NULL)
        return -1;
    dmn_op_lock(c);
    dmn_lock(d);
    bool running = c->status == DMN_RUNNING;
    bool restarting = !running && c->restart_pending;
    if (running || restarting) {
        cleanup_free char *ss = ctr_xasprintf("%d", sig);
        dmn_event_container_locked(d, c, "kill", json_pack("{s:s}", "signal", ss));
        resuming_locked(d, c);
        /* moby: SIGKILL, or the stop signal (any signal without one), ends the restarts */
        int stop_sig = 0;
        if (c->stop_signal && dmn_parse_signal(c->stop_signal, &stop_sig) < 0)
            stop_sig = 0;
        stopped_by_user_locked(d, c, sig == SIGKILL || stop_sig == 0 || sig == stop_sig);
    }
    dmn_unlock(d);
    int ret = 0;
    if (restarting)
        ret = 0; /* a restart pending: cancelled, no process to signal */
    else if (!running)
        ret = dmn_fail(err, EBUSY, "Container %s is not running", c->id);
    else if (shimc_kill(c->bundle, sig, err) < 0 && (*err)->errnum == ETIMEDOUT && sig == SIGKILL) {
        /* a hung shim: SIGKILL ends it and its VM, as stop does */
        dmn_kill_hung_shim(d, c, (*err)->msg);
        ctr_error_free(err);
    } else if (*err && (*err)->errnum != ETIMEDOUT && !dmn_shim_answers(c->bundle)) {
        ctr_error_free(err);
        ret = dmn_fail(err, EBUSY, "Container %s is not running", c->id);
    } else if (*err)
        ret = -1;
    dmn_op_unlock(c);
    if (ret == 0 && sig == SIGKILL)
        await_exit(d, c, 10); /* docker ps right after shows it exited */
    dmn_container_put(d, c);
    return ret;
}

int dmn_container_restart(struct dmn *d, const char *ref, int timeout, ctr_error_t *err)
{
    struct dmn_container *c = dmn_container_get(d, ref, err);
    if (c == NULL)
        return -1;
    dmn_op_lock(c);
    dmn_lock(d);
    c->in_restart = true;
    dmn_unlock(d);
    int ret = dmn_container_stop_locked_op(d, c, timeout, err);
    if (ret >= 0)
        ret = start_locked_op(d, c, NULL, err);
    dmn_lock(d);
    c->in_restart = false;
    if (ret >= 0)
        dmn_event_container_locked(d, c, "restart", NULL);
    else
        dmn_autoremove_locked(d, c);
    dmn_unlock(d);
    dmn_op_unlock(c);
    dmn_container_put(d, c);
    return ret < 0 ? -1 : 0;
}

/* ---- update (docker update --restart) ---- */

int dmn_container_update_restart(struct dmn *d, const char *ref, const struct dmn_restart_policy *p,
                                 ctr_error_t *err)
{
    struct dmn_container *c = dmn_container_get(d, ref, err);
    if (c == NULL)
        return -1;
    int ret = 0;
    dmn_lock(d);
    if (c->removed || c->status == DMN_REMOVING || c->status == DMN_DEAD)
        ret = dmn_fail(err, EINVAL,
                       "Cannot update container %s: container is marked for removal and cannot "
                       "be \"update\"",
                       c->id);
    else if (c->auto_remove && p->name != DMN_RESTART_NO)
        ret = dmn_fail(err, EINVAL,
                       "Cannot update container %s: Restart policy cannot be updated because "
                       "AutoRemove is enabled for the container",
                       c->id);
    if (ret == 0) {
        c->restart = *p;
        dmn_container_save_locked(d, c, NULL);
        dmn_event_container_locked(d, c, "update", NULL);
    }
    dmn_unlock(d);
    dmn_container_put(d, c);
    return ret;
}

/* ---- wait ---- */

struct dmn_waiter {
    struct dmn *d;
    struct dmn_container *c;
    enum dmn_wait_cond cond;
    uint64_t exits0;
};

struct dmn_waiter *dmn_waiter_new(struct dmn *d, const char *ref, enum dmn_wait_cond cond,
                                  ctr_error_t *err)
{
    struct dmn_container *c = dmn_container_get(d, ref, err);
    if (c == NULL)
        return NULL;
    struct dmn_waiter *w = ctr_xcalloc(1, sizeof(*w));
    w->d = d;
    w->c = c;
    w->cond = cond;
    dmn_lock(d);
    w->exits0 = c->exits;
    dmn_unlock(d);
    return w;
}

static bool wait_holds(struct dmn_waiter *w)
{
    struct dmn_container *c = w->c;
    switch (w->cond) {
    case DMN_WAIT_NOT_RUNNING:
        return c->status != DMN_RUNNING && c->status != DMN_STARTING;
    case DMN_WAIT_NEXT_EXIT:
        return c->exits > w->exits0 || c->removed;
    case DMN_WAIT_REMOVED:
        return c->removed;
    }
    return true;
}

int dmn_waiter_wait(struct dmn_waiter *w, int client_fd, int *code)
{
    struct dmn *d = w->d;
    dmn_lock(d);
    while (!wait_holds(w)) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1;
        pthread_cond_timedwait(&d->cond, &d->lock, &ts);
        if (!wait_holds(w) && (ctr_fd_peer_gone(client_fd) || atomic_load(&d->stopping))) {
            dmn_unlock(d);
            return -1;
        }
    }
    *code = w->c->exit_code;
    dmn_unlock(d);
    return 0;
}

void dmn_waiter_free(struct dmn_waiter *w)
{
    if (w == NULL)
        return;
    dmn_container_put(w->d, w->c);
    free(w);
}

/* ---- resize, boot log ---- */

int dmn_container_resize(struct dmn *d, const char *ref, uint16_t rows, uint16_t cols,
                         ctr_error_t *err)
{
    struct dmn_container *c = dmn_container_get(d, ref, err);
    if (c == NULL)
        return -1;
    /* Before the main process runs the size is remembered (docker clients
     * resize right after start; ours may race the boot). */
    dmn_lock(d);
    enum dmn_status st = c->status;
    if (st == DMN_CREATED || st == DMN_STARTING) {
        c->resize_rows = rows;
        c->resize_cols = cols;
        c->resize_pending = true;
    }
    dmn_unlock(d);
    int ret = 0;
    if (st == DMN_RUNNING)
        ret = send_resize(c->bundle, rows, cols, err);
    else if (st != DMN_CREATED && st != DMN_STARTING)
        ret = dmn_fail(err, EBUSY, "Container %s is not running", c->id);
    dmn_container_put(d, c);
    return ret;
}

int dmn_container_bootlog_open(struct dmn *d, const char *ref, ctr_error_t *err)
{
    struct dmn_container *c = dmn_container_get(d, ref, err);
    if (c == NULL)
        return -1;
    cleanup_free char *path = ctr_xasprintf("%s/boot.log", c->bundle);
    dmn_container_put(d, c);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return dmn_fail(err, ENOENT, "no boot log: the container never booted");
    return fd;
}
