/* The shim's lifecycle: preflight, boot, agent handshake, main process, exit,
 * final state. What the other parts call back (state, fatal error, agent kick,
 * stop sequence) lives in shim-core.c, I/O helpers in shim-io.c, the control
 * socket in shim-server.c. */
#include "shim/shim-internal.h"
#include "shim/warm.h"
#include "shimc/shimc.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---- agent channel ---- */

static void agent_io(struct shim_watch *w, uint32_t ev)
{
    struct shim *s = w->data;
    uint8_t buf[65536];

    if (ev & EPOLLOUT)
        shim_agent_kick(s);
    if (ev & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
        cleanup_error ctr_error_t err = NULL;
        ssize_t n = read(s->agent_fd, buf, sizeof(buf));
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        if (n <= 0) {
            /* The guest is gone (power-off or crash): the VMM's exit tells the rest. */
            shim_loop_del(&s->agent_w);
            return;
        }
        if (agentc_feed(&s->ac, buf, (size_t)n, &err) < 0) {
            shim_fatal(s, 125, "%s; the vm was stopped", err->msg);
            shim_loop_del(&s->agent_w);
            return;
        }
        shim_agent_kick(s);
    }
}

static void on_hello(struct agentc *c, const struct agent_reply *rep, void *data)
{
    struct shim *s = data;
    if (!rep->ok) {
        shim_fatal(s, 125, "the guest agent refused the hello: %s", rep->error);
        return;
    }
    shim_trace(s, "agent hello reply");
    if (s->phase == SHIM_BOOTING)
        s->phase = SHIM_STARTING;
}

static void on_setup(struct agentc *c, const struct agent_reply *rep, void *data)
{
    struct shim *s = data;
    if (!rep->ok) {
        shim_fatal(s, 125, "container setup failed in the guest: %s", rep->error);
        return;
    }
    shim_trace(s, "agent setup reply");
    if (s->job)
        s->phase = SHIM_RUNNING; /* no boot deadline for the transfer itself */
}

static void on_main_exec(struct agentc *c, const struct agent_reply *rep, void *data)
{
    struct shim *s = data;
    cleanup_error ctr_error_t err = NULL;

    if (s->error)
        return;
    if (!rep->ok) {
        /* The process never ran: report like docker (127 not found, 126 not executable). */
        s->main_exited = true;
        s->phase = SHIM_EXITED;
        shim_fatal(s, rep->code ? rep->code : 126, "%s", rep->error ? rep->error : "exec failed");
        return;
    }
    shim_trace(s, "main process started");
    s->phase = SHIM_RUNNING;
    shim_proxy_set_running(s->proxy);
    s->st.started_ns = shim_realtime_ns();
    shim_write_state(s, BUNDLE_RUNNING);
    shim_notify(s, 0, "running");
    if (s->local)
        shim_local_start_stdin(s);
    if (s->cfg.open_stdin && s->local == NULL && s->main && !s->main->in_open)
        log_debug("main stdin closed already");
}

static void main_output(struct agentc_proc *p, int which, const uint8_t *data, size_t len)
{
    struct shim *s = p->data;
    shim_logw_write(&s->log, which, data, len);
    if (s->local)
        shim_local_output(s, which, data, len);
    shim_server_main_output(s, which, data, len);
}

static void main_eof(struct agentc_proc *p, int which)
{
    struct shim *s = p->data;
    shim_logw_flush(&s->log, which);
    shim_server_main_eof(s, which);
}

static void main_exit(struct agentc_proc *p, int status)
{
    struct shim *s = p->data;

    shim_trace(s, "main process exited");
    s->main_exited = true;
    s->phase = SHIM_EXITED;
    s->exit_code = status;
    free(s->exit_reason);
    s->exit_reason = status > 128 ? ctr_xasprintf("exited: killed by signal %d", status - 128)
                                  : ctr_xasprintf("exited with status %d", status);
    shim_server_main_exit(s, status);
    if (s->local)
        shim_loop_del(&s->local->in_w);
    shim_shutdown_vm(s);
}

const struct agentc_proc_ops shim_main_ops = {
    .output = main_output,
    .eof = main_eof,
    .exit = main_exit,
};

/* ---- the VMM process ---- */

static void vmm_stderr(struct shim_watch *w, uint32_t ev)
{
    struct shim *s = w->data;
    if (vmm_drain_stderr(&s->vm, s->bootlog_fd) == 0)
        shim_loop_del(w);
}

static void vmm_exited(struct shim_watch *w, uint32_t ev)
{
    struct shim *s = w->data;
    cleanup_error ctr_error_t err = NULL;
    cleanup_free char *how = NULL;

    if (s->vmm_ops->wait(&s->vm, false, &err) <= 0)
        return;
    shim_trace(s, "vmm exited");
    shim_loop_del(w);
    vmm_drain_stderr(&s->vm, s->bootlog_fd);
    shim_events_drain(s);
    how = vmm_describe_status(s->vm.status);
    s->phase = SHIM_DONE;
    if (s->error == NULL && !s->main_exited) {
        if (WIFSIGNALED(s->vm.status)) {
            int sig = WTERMSIG(s->vm.status);
            s->exit_code = 128 + sig;
            free(s->exit_reason);
            s->exit_reason = ctr_xasprintf("vm died: qemu (pid %d) %s", (int)s->vm.pid, how);
            if (!s->vm_killed_by_us) {
                s->error = ctr_xstrdup(s->exit_reason);
                shim_notify(s, s->exit_code, s->error);
            }
        } else {
            cleanup_free char *tail = NULL;
            size_t n = s->vm.tail_len;
            while (n > 0 && (s->vm.tail[n - 1] == '\n' || s->vm.tail[n - 1] == '\r'))
                n--;
            tail = n ? ctr_xstrndup(s->vm.tail, n) : shim_bootlog_tail(s, 15);
            shim_fatal(s, 125,
                       "the vm ended before the container process did: qemu %s (accelerator "
                       "`%s`); %s:\n%s",
                       how, vmm_accel_name(s->accel),
                       n ? "qemu stderr" : "last lines of the boot log", tail);
        }
    }
    shim_loop_quit(&s->loop);
}

/* ---- signals delivered to the shim ---- */

static void on_signal(struct shim_watch *w, uint32_t ev)
{
    struct shim *s = w->data;
    struct signalfd_siginfo si;

    while (read(w->fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
        int sig = (int)si.ssi_signo;
        if (sig == SIGWINCH) {
            if (s->local && s->main && s->cfg.process.terminal && !s->main_exited) {
                uint16_t rows = 0, cols = 0;
                shim_local_winsize(s->local, &rows, &cols);
                if (rows && cols)
                    agentc_resize(&s->ac, "main", rows, cols, NULL);
            }
        } else if (s->job) {
            if (sig != SIGWINCH)
                shim_fatal(s, 128 + sig, "interrupted by signal %d", sig);
        } else if (s->phase == SHIM_RUNNING && !s->main_exited) {
            agentc_signal(&s->ac, "main", sig, NULL); /* forwarded, as runc run does */
        } else if (s->phase < SHIM_RUNNING) {
            shim_fatal(s, 128 + sig, "interrupted by signal %d before the container started", sig);
        }
    }
    shim_agent_kick(s);
}

/* ---- boot ---- */

/* Under TCG the guest is told the host's TSC rate (docs/kernel.md). A failure only
 * costs boot time (the guest falls back to the jiffies clocksource). */
static uint64_t host_tsc_khz(struct shim *s)
{
    cleanup_error ctr_error_t err = NULL;
    const char *env = getenv("CONTAINER_TSC_KHZ");
    uint64_t khz = 0;

    if (env && env[0]) {
        char *end;
        unsigned long long v = strtoull(env, &end, 10);
        if (*end == '\0')
            return v; /* 0 leaves tsc_early_khz out */
        log_warn("ignoring CONTAINER_TSC_KHZ=`%s`: not a number of kHz", env);
    }
    if (vmm_host_tsc_khz(SHIM_TSC_CACHE, &khz, &err) < 0) {
        log_warn("%s; booting without `tsc_early_khz` (slower boot, coarse guest clock)", err->msg);
        return 0;
    }
    shim_trace(s, "host tsc rate known");
    return khz;
}

/* Start the VMM with a new agent socketpair: cold, or restoring w's template. */
static int start_vm(struct shim *s, struct vmm_config *vc, struct shim_warm *w, ctr_error_t *err)
{
    int sv[2];
    bool restore = w->fd >= 0;

    vc->events = true;
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return ctr_fail(err, errno, "socketpair");
    s->agent_fd = sv[0];
    vc->agent_fd = sv[1];
    if (restore)
        shim_warm_copy_bootlog(w, s->bootlog_fd);
    int r =
        restore ? s->vmm_ops->restore(&s->vm, vc, w->fd, err) : s->vmm_ops->start(&s->vm, vc, err);
    close(sv[1]);
    if (r < 0)
        return -1;
    if (!restore)
        return 0;
    /* A restore that fails (a corrupt or incompatible template) must not cost the
     * container: check with one hello, else boot cold. */
    if (shim_agent_sync_hello(s->agent_fd, s->vm.pidfd, WARM_HELLO_TIMEOUT_MS, err) == 0) {
        shim_trace(s, "agent hello reply (restored)");
        return 0;
    }
    vmm_drain_stderr(&s->vm, s->bootlog_fd);
    log_warn("warm start from `%s` failed (%s%s%.*s); booting cold and removing the template",
             w->dir, (*err)->msg, s->vm.tail_len ? "; QEMU said: " : "", (int)s->vm.tail_len,
             s->vm.tail);
    ctr_error_free(err);
    s->vmm_ops->release(&s->vm);
    s->vm = (struct vmm){.pidfd = -1, .stderr_fd = -1};
    close(s->agent_fd);
    s->agent_fd = -1;
    shim_warm_discard(w);
    shim_warm_release(w);
    w->why_cold = ctr_xstrdup("the restore failed");
    shim_trace(s, "cold boot (restore failed)");
    return start_vm(s, vc, w, err);
}

static int boot(struct shim *s, ctr_error_t *err)
{
    struct vmm_config vc = {0};
    struct agent_request setup = {.op = AGENT_OP_SETUP};
    const char *qemu = getenv("CONTAINER_QEMU");
    struct vmm_host host = {.sysfs = "/sys", .kvm_dev = "/dev/kvm"};
    uint16_t rows = s->cfg.process.rows, cols = s->cfg.process.cols;
    struct shim_warm w = {.fd = -1};

    if (vmm_accel_choose(&host, s->cfg.vm.accel, getenv("CONTAINER_VIRTUALIZATION"), &s->accel,
                         &s->accel_why, err) < 0)
        return -1;
    vc.binary = qemu ? qemu : "qemu-system-x86_64";
    vc.kernel = s->cfg.vm.kernel;
    vc.initrd = s->cfg.vm.initrd;
    vc.cmdline = s->cfg.vm.cmdline;
    vc.cpus = bundle_vm_cpus(&s->cfg.vm, s->accel == VMM_ACCEL_KVM);
    if (s->accel == VMM_ACCEL_TCG)
        vc.tsc_khz = host_tsc_khz(s);
    vc.memory_mib = s->cfg.vm.memory_mib;
    vc.accel = s->accel;
    vc.disks = s->cfg.disks;
    vc.n_disks = s->cfg.n_disks;
    vc.shares = s->cfg.shares;
    vc.n_shares = s->cfg.n_shares;
    vc.nets = s->cfg.nets;
    vc.tap_fds = s->tap_fds;
    vc.n_nets = s->job ? 0 : s->cfg.n_nets;
    vc.vhost_net = s->accel == VMM_ACCEL_KVM && s->cfg.n_nets && shim_vhost_net_usable();
    cleanup_free char *console = ctr_xasprintf("%s/%s", s->bundle, s->bootlog_name);
    vc.console = console;
    if (shim_warm_enabled()) {
        shim_warm_prepare(s->vmm_ops, &vc, s->cfg.vm.boot_timeout_ms, &w);
        if (s->trace && w.create_s > 0) {
            cleanup_free char *what =
                ctr_xasprintf("warm-start template made in %.3f s", w.create_s);
            shim_trace(s, what);
        }
    } else {
        w.why_cold = ctr_xstrdup("CONTAINER_WARM_START=0");
    }
    if (s->trace) {
        cleanup_free char *what =
            w.fd >= 0 ? ctr_xasprintf("warm start (template %.12s)", w.key)
                      : ctr_xasprintf("cold boot (%s)", w.why_cold ? w.why_cold : "?");
        shim_trace(s, what);
        free(what);
        what = ctr_xasprintf("starting vmm (%s, %u vCPU, %llu MiB)", vmm_accel_name(s->accel),
                             vc.cpus, (unsigned long long)vc.memory_mib);
        shim_trace(s, what);
    }
    int r = start_vm(s, &vc, &w, err);
    bool warm = w.fd >= 0;
    shim_warm_release(&w);
    /* QEMU holds the TAPs now: with our copies closed they vanish with it */
    for (size_t i = 0; s->tap_fds && i < s->cfg.n_nets; i++) {
        if (s->tap_fds[i] >= 0)
            close(s->tap_fds[i]);
        s->tap_fds[i] = -1;
    }
    if (r < 0)
        return -1;
    fcntl(s->agent_fd, F_SETFL, O_NONBLOCK);
    shim_trace(s, "vmm started");
    if (shim_loop_add(&s->loop, &s->vmm_w, s->vm.pidfd, EPOLLIN, vmm_exited, s, err) < 0 ||
        shim_loop_add(&s->loop, &s->stderr_w, s->vm.stderr_fd, EPOLLIN, vmm_stderr, s, err) < 0 ||
        shim_loop_add(&s->loop, &s->agent_w, s->agent_fd, EPOLLIN, agent_io, s, err) < 0 ||
        shim_events_watch(s, err) < 0)
        return -1;
    /* Pipelined: the guest answers in order, so hello, setup and exec go at once. */
    agentc_init(&s->ac, s->agent_fd);
    if (agentc_hello(&s->ac, on_hello, s, err) < 0)
        return -1;
    setup.u.setup = s->cfg.setup;
    if (s->job) { /* no NICs in a maintenance VM */
        setup.u.setup.ifaces = NULL;
        setup.u.setup.n_ifaces = 0;
    }
    if (setup.u.setup.hostname == NULL)
        setup.u.setup.hostname = s->cfg.id;
    if (warm && shim_warm_setup(&setup.u.setup, &vc, err) < 0)
        return -1;
    r = agentc_request(&s->ac, &setup, on_setup, s, err);
    ctr_strv_free(setup.u.setup.warm_macs); /* encoded by now */
    if (r < 0)
        return -1;
    if (s->job) {
        shim_job_start(s); /* instead of the main process */
        shim_agent_kick(s);
        return shim_loop_timer(&s->loop, &s->timer_w, s->cfg.vm.boot_timeout_ms, shim_vm_timer, s,
                               err);
    }
    if (s->local)
        shim_local_winsize(s->local, &rows, &cols);
    struct agent_exec ex = s->cfg.process;
    ex.rows = rows;
    ex.cols = cols;
    s->main = agentc_exec(&s->ac, &ex, "main", s->cfg.open_stdin, &shim_main_ops, s, on_main_exec,
                          s, err);
    if (s->main == NULL)
        return -1;
    shim_agent_kick(s);
    return shim_loop_timer(&s->loop, &s->timer_w, s->cfg.vm.boot_timeout_ms, shim_vm_timer, s, err);
}

/* One VM per bundle at a time: a running shim and a maintenance VM both hold an
 * exclusive flock on BUNDLE/archive.lock (so the writable disk is never attached twice). */
static int lock_bundle(struct shim *s, const char *bundle, ctr_error_t *err)
{
    cleanup_free char *path = ctr_xasprintf("%s/archive.lock", bundle);

    s->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (s->lock_fd < 0)
        return ctr_fail(err, errno, "open `%s`", path);
    if (flock(s->lock_fd, LOCK_EX | LOCK_NB) < 0) {
        int e = errno;
        close(s->lock_fd);
        s->lock_fd = -1;
        if (e == EWOULDBLOCK)
            return ctr_fail_class(err, EBUSY,
                                  "container `%s` is busy: it runs, or a `cp`/`export` of it runs "
                                  "(bundle `%s`)",
                                  s->cfg.id, bundle);
        return ctr_fail(err, e, "lock `%s`", path);
    }
    return 0;
}

static int run_bundle(const char *bundle, const struct shim_run_opts *opts,
                      const struct shim_archive_job *job, struct agent_path_stat **job_stat,
                      int *exit_code, ctr_error_t *err);

int shim_run(const char *bundle, const struct shim_run_opts *opts, int *exit_code, ctr_error_t *err)
{
    return run_bundle(bundle, opts, NULL, NULL, exit_code, err);
}

static void job_result(const struct shim_archive_job *job, const struct shimp_msg *m)
{
    size_t len;
    cleanup_free char *json = NULL;

    if (job->result_fd < 0)
        return;
    json = shimp_msg_encode(m, &len);
    json = ctr_xrealloc(json, len + 2);
    json[len++] = '\n';
    (void)ctr_write_all(job->result_fd, json, len);
}

int shim_archive_offline(const char *bundle, const struct shim_archive_job *job, ctr_error_t *err)
{
    struct shim_run_opts o = {.foreground = false, .notify_fd = -1};
    struct shimp_msg m = {.kind = SHIMP_MSG_REPLY};
    struct agent_path_stat *pst = NULL;
    int code = 0, r;

    r = run_bundle(bundle, &o, job, &pst, &code, err);
    if (r < 0) {
        m.error = (*err)->msg;
        m.errnum = (*err)->errnum > 0 && (*err)->errnum <= AGENT_MAX_ERRNO ? (*err)->errnum : EIO;
        m.code = 1;
    } else {
        m.ok = true;
        m.stat = pst;
    }
    job_result(job, &m);
    agent_path_stat_release(pst);
    free(pst);
    return r;
}

static int run_bundle(const char *bundle, const struct shim_run_opts *opts,
                      const struct shim_archive_job *job, struct agent_path_stat **job_stat,
                      int *exit_code, ctr_error_t *err)
{
    static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH};
    struct shim s = {0};
    struct shim_local local = {0};
    cleanup_free char *bootlog = NULL, *logpath = NULL;
    int ret = -1;

    *exit_code = 125;
    s.trace = getenv("CONTAINER_RUNTIME_TRACE") != NULL;
    s.t0 = ctr_now_ns();
    s.bundle = realpath(bundle, NULL);
    if (s.bundle == NULL)
        return ctr_fail(err, errno, "bundle `%s`", bundle);
    bundle = s.bundle;
    s.vmm_ops = &vmm_qemu_ops;
    s.vm.pidfd = s.vm.stderr_fd = -1;
    s.agent_fd = s.listen_fd = s.bootlog_fd = s.log.fd = s.lock_fd = -1;
    s.notify_fd = opts->notify_fd;
    s.job = job;
    s.bootlog_name = job ? "archive-boot.log" : "boot.log";
    s.loop.epfd = -1;
    signal(SIGPIPE, SIG_IGN);
    if (bundle_config_load(bundle, &s.cfg, err) < 0)
        goto out_notify;
    if (shimc_answers(bundle)) { /* a live shim answers; a stale socket does not */
        ctr_fail(err, EBUSY, "container `%s` is running already (bundle `%s`)", s.cfg.id, bundle);
        goto out_notify;
    }
    if (lock_bundle(&s, bundle, err) < 0)
        goto out_notify;
    s.st.created_ns = shim_realtime_ns();
    /* a maintenance VM has no network: no TAPs, no published ports */
    if (shim_preflight(&s, err) < 0 || (!job && shim_net_setup(&s, err) < 0))
        goto out_state;
    bootlog = ctr_xasprintf("%s/%s", bundle, s.bootlog_name);
    logpath = ctr_xasprintf("%s/container.log", bundle);
    s.bootlog_fd = open(bootlog, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
    if (s.bootlog_fd < 0) {
        ctr_fail(err, errno, "create `%s`", bootlog);
        goto out_state;
    }
    if ((!job && !s.cfg.no_log && shim_logw_open(&s.log, logpath, err) < 0) ||
        shim_loop_init(&s.loop, err) < 0 ||
        shim_loop_signals(&s.loop, &s.sig_w, sigs, sizeof(sigs) / sizeof(sigs[0]), on_signal, &s,
                          err) < 0)
        goto out_state;
    s.loop.after = shim_server_reap;
    s.loop.after_data = &s;
    if (opts->foreground) {
        if (shim_local_setup(&s, &local, err) < 0)
            goto out_state;
        s.local = &local;
    }
    if (!job && shim_server_listen(&s, err) < 0)
        goto out_state;
    if (boot(&s, err) < 0)
        goto out_state;
    shim_write_state(&s, BUNDLE_CREATED);
    if (shim_loop_run(&s.loop, err) < 0)
        shim_fatal(&s, 125, "event loop failed");
    ret = 0;
out_state:
    if (ret < 0 && s.error == NULL) {
        s.error = ctr_xstrdup((*err)->msg);
        s.exit_code = 125;
        s.exit_reason = ctr_xstrdup((*err)->msg);
        ctr_error_free(err);
    }
    if (s.local)
        shim_local_restore(s.local);
    /* The VM is gone. Everything is final before anyone hears that it stopped (a
     * `stop` client, attach): the log, the published ports, state.json, and the
     * bundle is free for the next VM. */
    shim_net_release(&s);
    shim_logw_close(&s.log);
    shim_write_state(&s, BUNDLE_STOPPED);
    if (s.lock_fd >= 0)
        close(s.lock_fd);
    s.lock_fd = -1;
    shim_server_vm_gone(&s);
    shim_server_close(&s);
    s.vmm_ops->release(&s.vm);
    shim_notify(&s, s.exit_code, s.error ? s.error : "exited");
    *exit_code = s.exit_code;
    ret = 0;
    if (s.error) {
        ctr_fail(err, 0, "%s", s.error);
        ret = -1;
    } else if (job && s.job_error) {
        ctr_fail_class(err, s.job_errnum, "%s", s.job_error);
        ret = -1;
    } else if (job) {
        *job_stat = ctr_steal_ptr(s.job_stat);
    }
    goto out;
out_notify:
    if (*err)
        shim_notify(&s, 125, (*err)->msg);
out:
    shim_loop_del(&s.timer_w);
    shim_loop_del(&s.sig_w);
    shim_events_close(&s);
    agentc_release(&s.ac);
    if (s.agent_fd >= 0)
        close(s.agent_fd);
    if (s.bootlog_fd >= 0)
        close(s.bootlog_fd);
    shim_job_release(&s);
    shim_loop_release(&s.loop);
    if (s.lock_fd >= 0)
        close(s.lock_fd);
    bundle_config_release(&s.cfg);
    bundle_state_release(&s.st);
    free(s.exit_reason);
    free(s.error);
    free(s.bundle);
    return ret;
}
