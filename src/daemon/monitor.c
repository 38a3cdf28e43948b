/* The monitor: one thread, one epoll set holding a pidfd per running shim.
 * When a shim ends, its state.json says how the container ended; the exit is
 * recorded, waiters are woken, and AutoRemove containers are removed (also
 * after a daemon restart, since recovery re-watches running shims). */
#include "daemon/daemon-internal.h"
#include "shimc/shimc.h"

#include <fcntl.h>
#include <poll.h>

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

bool dmn_shim_answers(const char *bundle)
{
    return shimc_answers(bundle);
}

void dmn_wait_shim_gone(const char *bundle, int timeout_ms)
{
    struct bundle_state st = {0};
    if (bundle_state_load(bundle, &st, NULL) < 0)
        return;
    int pid = st.shim_pid;
    bundle_state_release(&st);
    if (pid <= 0)
        return;
    int fd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (fd < 0)
        return; /* gone already */
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, timeout_ms) == 0)
        log_warn("the shim (pid %d) of `%s` is still alive after %d ms", pid, bundle, timeout_ms);
    close(fd);
}

static int64_t real_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif

/* The parent pid of pid (from /proc/PID/stat), or -1. */
static int parent_of(int pid)
{
    char path[64], buf[512];
    snprintf(path, sizeof(path), "/proc/%d/stat", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    const char *p = strrchr(buf, ')'); /* after the command name, which may hold anything */
    int ppid;
    char state;
    if (p == NULL || sscanf(p + 1, " %c %d", &state, &ppid) != 2)
        return -1;
    return ppid;
}

void dmn_kill_hung_shim(struct dmn *d, struct dmn_container *c, const char *why)
{
    struct bundle_state st = {0};
    int shim_fd = -1, vmm_fd = -1;

    /* The monitor's pidfd names the very shim we watch (no pid reuse); QEMU only while
     * it is still that shim's child. */
    dmn_lock(d);
    if (c->pidfd >= 0)
        shim_fd = fcntl(c->pidfd, F_DUPFD_CLOEXEC, 0);
    int shim_pid = c->pid;
    dmn_unlock(d);
    if (shim_fd < 0)
        return; /* not watched: it ended already */
    if (bundle_state_load(c->bundle, &st, NULL) == 0 && st.vmm_pid > 0) {
        vmm_fd = (int)syscall(SYS_pidfd_open, st.vmm_pid, 0);
        if (vmm_fd >= 0 && parent_of(st.vmm_pid) != shim_pid) {
            close(vmm_fd);
            vmm_fd = -1;
        }
    }
    /* The reason goes into state.json first: the monitor reads it when the shim is gone. */
    if (st.status != BUNDLE_STOPPED) {
        st.status = BUNDLE_STOPPED;
        st.exit_code = 137;
        st.finished_ns = real_ns();
        free(st.exit_reason);
        st.exit_reason = vmm_fd >= 0 ? ctr_xasprintf("killed: the shim (pid %d) was unresponsive "
                                                     "(%s); the daemon killed it and its vm (qemu "
                                                     "pid %d)",
                                                     shim_pid, why, st.vmm_pid)
                                     : ctr_xasprintf("killed: the shim (pid %d) was unresponsive "
                                                     "(%s); the daemon killed it",
                                                     shim_pid, why);
        ctr_error_t err = NULL;
        if (bundle_state_save(c->bundle, &st, &err) < 0) {
            log_warn("container %.12s: %s", c->id, err->msg);
            ctr_error_free(&err);
        }
    }
    log_warn("container %.12s: %s", c->id, st.exit_reason ? st.exit_reason : why);
    if (vmm_fd >= 0 && syscall(SYS_pidfd_send_signal, vmm_fd, SIGKILL, NULL, 0) < 0 &&
        errno != ESRCH)
        log_warn("kill qemu (pid %d): %s", st.vmm_pid, strerror(errno));
    if (syscall(SYS_pidfd_send_signal, shim_fd, SIGKILL, NULL, 0) < 0 && errno != ESRCH)
        log_warn("kill the shim (pid %d): %s", shim_pid, strerror(errno));
    struct pollfd p = {.fd = shim_fd, .events = POLLIN};
    if (poll(&p, 1, 5000) == 0)
        log_warn("the shim (pid %d) is still alive 5 s after SIGKILL", shim_pid);
    if (vmm_fd >= 0) {
        p.fd = vmm_fd;
        poll(&p, 1, 5000);
        close(vmm_fd);
    }
    close(shim_fd);
    bundle_state_release(&st);
}

static void *autoremove_thread(void *arg)
{
    struct dmn_container *c = arg;
    struct dmn *d = c->d_owner;
    ctr_error_t err = NULL;
    if (dmn_container_remove(d, c, true, true, &err) < 0) {
        log_warn("auto-remove of container %.12s: %s", c->id, err->msg);
        ctr_error_free(&err);
    }
    dmn_container_put(d, c);
    return NULL;
}

void dmn_autoremove_locked(struct dmn *d, struct dmn_container *c)
{
    pthread_t t;
    pthread_attr_t a;
    if (!c->auto_remove || c->removed || c->status == DMN_REMOVING || c->in_restart)
        return;
    c->refs++;
    c->d_owner = d;
    pthread_attr_init(&a);
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&t, &a, autoremove_thread, c) != 0) {
        c->refs--;
        log_error("cannot start the auto-remove of container %.12s", c->id);
    }
    pthread_attr_destroy(&a);
}

/* ---- restart policies: moby's restartmanager (restart.c has its rules) ---- */

struct restart_job {
    struct dmn *d;
    struct dmn_container *c;
    uint64_t gen;
    int64_t delay_ms;
};

/* Waits out the back-off on d->cond (a stop, kill, remove or start that cancels the
 * restart wakes it), then starts the container through lifecycle's normal start. */
static void *restart_thread(void *arg)
{
    struct restart_job *job = arg;
    struct dmn *d = job->d;
    struct dmn_container *c = job->c;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += job->delay_ms / 1000;
    ts.tv_nsec += (job->delay_ms % 1000) * 1000000;
    if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
    }
    dmn_lock(d);
    while (c->restart_pending && c->restart_gen == job->gen && !c->removed &&
           !atomic_load(&d->stopping))
        if (pthread_cond_timedwait(&d->cond, &d->lock, &ts) == ETIMEDOUT)
            break;
    bool go = c->restart_pending && c->restart_gen == job->gen && !c->removed &&
              !atomic_load(&d->stopping);
    dmn_unlock(d);
    ctr_error_t err = NULL;
    if (go && dmn_container_start_scheduled(d, c, job->gen, &err) < 0) {
        log_warn("container %.12s: the restart its policy asked for failed: %s", c->id, err->msg);
        ctr_error_free(&err);
    }
    dmn_container_put(d, c);
    free(job);
    return NULL;
}

void dmn_restart_schedule_locked(struct dmn *d, struct dmn_container *c, int64_t delay_ms)
{
    pthread_t t;
    pthread_attr_t a;
    struct restart_job *job = ctr_xcalloc(1, sizeof(*job));
    job->d = d;
    job->c = c;
    job->gen = ++c->restart_gen;
    job->delay_ms = delay_ms;
    c->restart_pending = true;
    c->refs++;
    pthread_attr_init(&a);
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&t, &a, restart_thread, job) != 0) {
        c->refs--;
        c->restart_pending = false;
        free(job);
        log_error("cannot schedule the restart of container %.12s", c->id);
    }
    pthread_attr_destroy(&a);
}

/* At an exit (before it is saved): whether the policy restarts it, and when. A stop or
 * kill by the user, a removal and the daemon's shutdown never restart. */
static bool restart_plan_locked(struct dmn *d, struct dmn_container *c, bool was_running,
                                int64_t *delay_ms)
{
    bool cancel = c->restart_cancel;
    c->restart_cancel = false;
    if (c->restart.name == DMN_RESTART_NO || cancel || !was_running || c->removed ||
        c->in_restart || c->broken || d->stop_containers || atomic_load(&d->stopping))
        return false;
    if (!dmn_restart_wanted(&c->restart, c->restart_count, c->exit_code, c->manually_stopped))
        return false;
    int64_t ran = c->finished_ns > c->started_ns ? c->finished_ns - c->started_ns : 0;
    c->restart_delay_ms = dmn_restart_backoff_ms(c->restart_delay_ms, ran);
    c->restart_count++;
    *delay_ms = c->restart_delay_ms;
    return true;
}

void dmn_record_exit_locked(struct dmn *d, struct dmn_container *c)
{
    struct bundle_state st = {0};
    cleanup_free char *json = NULL;
    cleanup_error ctr_error_t err = NULL;

    if (c->status != DMN_RUNNING && c->status != DMN_STARTING)
        return;
    bool was_running = c->status == DMN_RUNNING;
    if (shimc_state(c->bundle, &json, &err) < 0 || bundle_state_load(c->bundle, &st, &err) < 0) {
        c->exit_code = 137;
        free(c->error);
        c->error = ctr_xasprintf("the container's state is unreadable: %s", err->msg);
        c->finished_ns = real_ns();
    } else if (st.status != BUNDLE_STOPPED) {
        /* The shim is gone (its pidfd fired) without a last word: a zombie nobody
         * reaped yet still passes kill(pid, 0). */
        st.status = BUNDLE_STOPPED;
        st.exit_code = 137;
        free(st.exit_reason);
        st.exit_reason = ctr_xasprintf("the shim (pid %d) died", st.shim_pid);
        st.finished_ns = real_ns();
        bundle_state_save(c->bundle, &st, NULL);
    }
    if (st.status == BUNDLE_STOPPED) {
        c->exit_code = st.exit_code;
        c->finished_ns = st.finished_ns ? st.finished_ns : real_ns();
        free(c->error);
        c->error = NULL;
        if (st.exit_reason && strncmp(st.exit_reason, "exited", 6) != 0)
            c->error = ctr_xstrdup(st.exit_reason);
        else if (st.error) /* it ended on its own, after a problem it saw (a full disk) */
            c->error = ctr_xstrdup(st.error);
    }
    bundle_state_release(&st);
    c->status = DMN_EXITED;
    c->paused = false;
    dmn_health_stop_locked(d, c);
    c->exits++;
    if (c->pidfd >= 0) {
        epoll_ctl(d->epfd, EPOLL_CTL_DEL, c->pidfd, NULL);
        close(c->pidfd);
        c->pidfd = -1;
        c->refs--; /* the monitor's */
    }
    int64_t delay_ms = 0;
    bool restart = restart_plan_locked(d, c, was_running, &delay_ms);
    dmn_container_save_locked(d, c, NULL);
    cleanup_free char *code = ctr_xasprintf("%d", c->exit_code);
    dmn_event_container_locked(d, c, "die", json_pack("{s:s}", "exitCode", code));
    log_info("container %.12s exited with %d%s%s", c->id, c->exit_code, c->error ? ": " : "",
             c->error ? c->error : "");
    if (restart) {
        log_info("container %.12s: restart policy `%s`: restart %d in %lld ms", c->id,
                 dmn_restart_policy_name(c->restart.name), c->restart_count, (long long)delay_ms);
        dmn_restart_schedule_locked(d, c, delay_ms);
    }
    pthread_cond_broadcast(&d->cond);
    if (!restart)
        dmn_autoremove_locked(d, c);
}

void dmn_record_start_failure_locked(struct dmn *d, struct dmn_container *c, int code,
                                     const char *msg)
{
    c->status = DMN_EXITED;
    c->exit_code = code;
    free(c->error);
    c->error = ctr_xstrdup(msg);
    c->started_ns = c->started_ns ? c->started_ns : real_ns();
    c->finished_ns = real_ns();
    c->exits++;
    dmn_container_save_locked(d, c, NULL);
    cleanup_free char *cs = ctr_xasprintf("%d", code);
    dmn_event_container_locked(d, c, "die", json_pack("{s:s}", "exitCode", cs));
    pthread_cond_broadcast(&d->cond);
    dmn_autoremove_locked(d, c);
}

void dmn_monitor_check_locked(struct dmn *d, struct dmn_container *c)
{
    uint64_t one = 1;
    if (!d->monitor_running) { /* no thread (tests, shutdown): look at it here */
        if (c->status == DMN_RUNNING && !dmn_shim_answers(c->bundle))
            dmn_record_exit_locked(d, c);
        return;
    }
    c->exit_check = true;
    if (write(d->wake_fd, &one, sizeof(one)) < 0)
        log_warn("monitor: wakeup: %s", strerror(errno));
}

/* The containers lifecycle asked about (dmn_monitor_check_locked). */
static void check_requested_locked(struct dmn *d)
{
    for (size_t i = 0; i < d->n_ctrs; i++) {
        struct dmn_container *c = d->ctrs[i];
        if (!c->exit_check)
            continue;
        c->exit_check = false;
        if (c->status == DMN_RUNNING && !dmn_shim_answers(c->bundle))
            dmn_record_exit_locked(d, c);
    }
}

void dmn_monitor_watch_locked(struct dmn *d, struct dmn_container *c)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};

    if (c->pidfd >= 0)
        return;
    int fd = c->pid > 0 ? (int)syscall(SYS_pidfd_open, c->pid, 0) : -1;
    if (fd < 0) {
        dmn_record_exit_locked(d, c);
        return;
    }
    if (fcntl(fd, F_SETFD, FD_CLOEXEC) < 0 || epoll_ctl(d->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
        log_error("cannot watch the shim of container %.12s: %s", c->id, strerror(errno));
        close(fd);
        return;
    }
    c->pidfd = fd;
    c->refs++;
    dmn_health_start_locked(d, c); /* a start, or a running container recovered */
}

static void *monitor_thread(void *arg)
{
    struct dmn *d = arg;
    struct epoll_event evs[32];

    for (;;) {
        int n = epoll_wait(d->epfd, evs, 32, -1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            log_error("monitor: epoll_wait: %s", strerror(errno));
            return NULL;
        }
        dmn_lock(d);
        bool quit = false;
        for (int i = 0; i < n; i++) {
            if (evs[i].data.ptr == NULL) {
                uint64_t v;
                if (read(d->wake_fd, &v, sizeof(v)) < 0) {
                    /* nothing to do: only a wakeup */
                }
                quit = atomic_load(&d->stopping);
                check_requested_locked(d);
                continue;
            }
            struct dmn_container *c = evs[i].data.ptr;
            struct dmn_container *hold = c;
            hold->refs++;
            dmn_record_exit_locked(d, c);
            if (--hold->refs == 0) {
                dmn_unlock(d);
                dmn_container_free(hold);
                dmn_lock(d);
            }
        }
        dmn_unlock(d);
        if (quit)
            return NULL;
    }
}

int dmn_monitor_start(struct dmn *d, ctr_error_t *err)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    d->epfd = epoll_create1(EPOLL_CLOEXEC);
    d->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (d->epfd < 0 || d->wake_fd < 0 || epoll_ctl(d->epfd, EPOLL_CTL_ADD, d->wake_fd, &ev) < 0)
        return ctr_fail(err, errno, "monitor: epoll");
    if (pthread_create(&d->monitor, NULL, monitor_thread, d) != 0)
        return ctr_fail(err, errno, "monitor: thread");
    d->monitor_running = true;
    return 0;
}

void dmn_monitor_stop(struct dmn *d)
{
    uint64_t one = 1;
    if (!d->monitor_running)
        return;
    atomic_store(&d->stopping, true);
    if (write(d->wake_fd, &one, sizeof(one)) < 0)
        log_warn("monitor: wakeup: %s", strerror(errno));
    pthread_join(d->monitor, NULL);
    d->monitor_running = false;
}
