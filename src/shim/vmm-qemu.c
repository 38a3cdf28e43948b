/* QEMU microvm backend: the ops. Starts QEMU on the argv of vmm-qemu-argv.c (a boot,
 * a template, a restore), supervises the process and reads its events monitor (QMP);
 * snapshots are migration streams (vmm-qemu-snapshot.c). */
#include "shim/qmp-internal.h"
#include "shim/vmm-qemu-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* The backend's state of a VM (vm->priv). */
struct qemu_vm {
    size_t n_disks;           /* the drives `disk0`... named in events */
    int control_fd;           /* a template's QMP socket (ours); -1: none */
    struct qmp_reader events; /* the events QMP socket (ours); fd -1: none */
};

static struct qemu_vm *qemu_vm(struct vmm *vm)
{
    if (vm->priv == NULL) {
        struct qemu_vm *q = ctr_xcalloc(1, sizeof(*q));
        q->control_fd = q->events.fd = -1;
        vm->priv = q;
    }
    return vm->priv;
}

static void child_exec(char **argv, int agent_fd, const int *tap_fds, size_t n_taps, int err_fd,
                       int report_fd)
{
    sigset_t none;
    int devnull;

    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGPIPE, SIG_DFL);
    /* Own session: terminal signals meant for the container never hit the VMM. */
    setsid();
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    devnull = open("/dev/null", O_RDWR);
    if (devnull < 0 || dup2(devnull, 0) < 0 || dup2(devnull, 1) < 0 || dup2(err_fd, 2) < 0)
        goto fail;
    /* agent_fd and the TAP fds were put above every target fd by the parent; keep the
     * report pipe clear of the targets too. */
    if (report_fd < VMM_QEMU_TAP_FD0 + (int)n_taps)
        report_fd = fcntl(report_fd, F_DUPFD_CLOEXEC, VMM_QEMU_TAP_FD0 + (int)n_taps);
    if (dup2(agent_fd, VMM_QEMU_AGENT_FD) < 0)
        goto fail;
    for (size_t i = 0; i < n_taps; i++)
        if (dup2(tap_fds[i], VMM_QEMU_TAP_FD0 + (int)i) < 0)
            goto fail;
    /* QEMU gets the fds above and nothing else of the shim's */
    close_range(VMM_QEMU_TAP_FD0 + (unsigned)n_taps, ~0u, CLOSE_RANGE_CLOEXEC);
    execvp(argv[0], argv);
fail : {
    int e = errno;
    (void)!write(report_fd, &e, sizeof(e));
    _exit(127);
}
}

/* Start QEMU for cfg and o. warm_fd: the stream to restore or a template's QMP socket
 * (QEMU's end), -1: none. With o->events, QEMU gets one end of a new socketpair and the
 * VM's events reader the other. */
static int spawn(struct vmm *vm, const struct vmm_config *cfg, const struct vmm_qemu_opts *o,
                 int warm_fd, ctr_error_t *err)
{
    struct qemu_vm *q = qemu_vm(vm);
    cleanup_strv char **argv = NULL;
    cleanup_close int agent_fd = -1, events_fd = -1;

    vm->ops = &vmm_qemu_ops;
    q->n_disks = cfg->n_disks;
    if (o->events && !o->template_vm) {
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
            return ctr_fail(err, errno, "socketpair");
        qmp_reader_release(&q->events);
        q->events.fd = sv[0];
        fcntl(q->events.fd, F_SETFL, O_NONBLOCK);
        events_fd = sv[1];
    }
    /* The TAPs, then the warm-start fd, then the events socket. */
    size_t n_fds = cfg->n_nets + (warm_fd >= 0) + (events_fd >= 0);
    cleanup_free int *taps = ctr_xcalloc(n_fds + 1, sizeof(int));
    int errpipe[2] = {-1, -1}, report[2] = {-1, -1};
    int child_errno = 0;
    ssize_t n;
    pid_t pid;

    argv = vmm_qemu_argv(cfg, o, VMM_QEMU_AGENT_FD, err);
    if (argv == NULL)
        return -1;
    if (ctr_log_get_level() >= CTR_LOG_DEBUG) {
        for (char **a = argv; *a; a++)
            log_debug("qemu argv: %s", *a);
    }
    /* above every fd number the child dup2s onto (not cloexec: dup2 in the child would
     * clear it anyway) */
    int high = VMM_QEMU_TAP_FD0 + (int)n_fds;
    agent_fd = fcntl(cfg->agent_fd, F_DUPFD, high);
    if (agent_fd < 0)
        return ctr_fail(err, errno, "dup agent fd");
    for (size_t i = 0; i < n_fds; i++)
        taps[i] = -1;
    for (size_t i = 0; i < n_fds; i++) {
        int src = i < cfg->n_nets                    ? cfg->tap_fds[i]
                  : i == cfg->n_nets && warm_fd >= 0 ? warm_fd
                                                     : events_fd;
        taps[i] = fcntl(src, F_DUPFD_CLOEXEC, high);
        if (taps[i] < 0) {
            int e = errno;
            for (size_t k = 0; k < i; k++)
                close(taps[k]);
            return ctr_fail(err, e, "dup fd for qemu");
        }
    }
    if (pipe2(errpipe, O_CLOEXEC) < 0 || pipe2(report, O_CLOEXEC) < 0) {
        int e = errno;
        close(errpipe[0]), close(errpipe[1]);
        for (size_t i = 0; i < n_fds; i++)
            close(taps[i]);
        return ctr_fail(err, e, "pipe");
    }
    pid = fork();
    if (pid < 0) {
        int e = errno;
        close(errpipe[0]), close(errpipe[1]), close(report[0]), close(report[1]);
        for (size_t i = 0; i < n_fds; i++)
            close(taps[i]);
        return ctr_fail(err, e, "fork");
    }
    if (pid == 0)
        child_exec(argv, agent_fd, taps, n_fds, errpipe[1], report[1]);
    for (size_t i = 0; i < n_fds; i++)
        close(taps[i]);
    close(errpipe[1]);
    close(report[1]);
    do
        n = read(report[0], &child_errno, sizeof(child_errno));
    while (n < 0 && errno == EINTR);
    close(report[0]);
    vm->pid = pid;
    vm->stderr_fd = errpipe[0];
    fcntl(vm->stderr_fd, F_SETFL, O_NONBLOCK);
    vm->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (n == (ssize_t)sizeof(child_errno)) {
        waitpid(pid, &vm->status, 0);
        vm->reaped = true;
        if (child_errno == ENOENT)
            return ctr_fail(err, child_errno,
                            "start `%s`; install it with `apt-get install qemu-system-x86` or set "
                            "CONTAINER_QEMU",
                            argv[0]);
        return ctr_fail(err, child_errno, "start `%s`", argv[0]);
    }
    return 0;
}

static int qemu_start(struct vmm *vm, const struct vmm_config *cfg, ctr_error_t *err)
{
    struct vmm_qemu_opts o = {.events = cfg->events};
    return spawn(vm, cfg, &o, -1, err);
}

static int qemu_restore(struct vmm *vm, const struct vmm_config *cfg, int state_fd,
                        ctr_error_t *err)
{
    struct vmm_qemu_opts o = {.incoming = true, .events = cfg->events};
    return spawn(vm, cfg, &o, state_fd, err);
}

static int qemu_start_template(struct vmm *vm, const struct vmm_config *cfg, const char *empty_dir,
                               ctr_error_t *err)
{
    cleanup_free uint64_t *sizes = NULL;
    cleanup_free int *taps = ctr_xcalloc(cfg->n_nets + 1, sizeof(int));
    int qmp[2] = {-1, -1}, r = -1;

    for (size_t i = 0; i < cfg->n_nets; i++)
        taps[i] = -1;
    if (vmm_qemu_disk_sizes(cfg, &sizes, err) < 0)
        return -1;
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, qmp) < 0) {
        ctr_fail(err, errno, "socketpair");
        goto out;
    }
    if (vmm_qemu_placeholder_taps(cfg->n_nets, taps, err) < 0)
        goto out;
    struct vmm_config tc = *cfg;
    struct vmm_qemu_opts o = {
        .template_vm = true, .disk_sizes = sizes, .placeholder_dir = empty_dir};
    tc.tap_fds = taps;
    if (spawn(vm, &tc, &o, qmp[1], err) < 0)
        goto out;
    qemu_vm(vm)->control_fd = ctr_steal_fd(qmp[0]);
    r = 0;
out: /* QEMU holds the placeholder TAPs now: they vanish with it */
    for (size_t i = 0; i < cfg->n_nets; i++)
        if (taps[i] >= 0)
            close(taps[i]);
    for (int i = 0; i < 2; i++)
        if (qmp[i] >= 0)
            close(qmp[i]);
    return r;
}

static int qemu_snapshot(struct vmm *vm, int state_fd, uint64_t deadline_ns, ctr_error_t *err)
{
    struct qemu_vm *q = vm->priv;
    if (q == NULL || q->control_fd < 0)
        return ctr_fail(err, EINVAL, "snapshot: the VM was not started as a template");
    return vmm_qemu_migrate_to_fd(q->control_fd, state_fd, deadline_ns, err);
}

static int qemu_events_fd(const struct vmm *vm)
{
    const struct qemu_vm *q = vm->priv;
    return q ? q->events.fd : -1;
}

struct events_ctx {
    const struct qemu_vm *q;
    vmm_event_fn fn;
    void *arg;
};

static void on_qmp_event(void *arg, const struct qmp_event *qe)
{
    const struct events_ctx *c = arg;
    unsigned idx;
    char extra;

    if (qe->reply_id) { /* the answer to qemu_pause's `stop` or `cont` */
        bool paused = strcmp(qe->reply_id, "pause") == 0;
        if (!paused && strcmp(qe->reply_id, "resume") != 0)
            return;
        struct vmm_event ev = {.kind = paused ? VMM_EVENT_PAUSED : VMM_EVENT_RESUMED,
                               .disk = SIZE_MAX,
                               .error = qe->error};
        c->fn(c->arg, &ev);
        return;
    }
    if (qe->name == NULL || strcmp(qe->name, "BLOCK_IO_ERROR") != 0)
        return;
    struct vmm_event ev = {.kind = VMM_EVENT_DISK_ERROR,
                           .disk = SIZE_MAX,
                           .device = qe->device,
                           .operation = qe->operation,
                           .reason = qe->reason};
    if (qe->device && sscanf(qe->device, "disk%u%c", &idx, &extra) == 1 && idx < c->q->n_disks)
        ev.disk = idx;
    /* `nospace` comes only with a device's I/O status (not virtio-blk-device's):
     * the reason is QEMU's strerror(ENOSPC) */
    ev.nospace = qe->nospace || (qe->reason && strcmp(qe->reason, strerror(ENOSPC)) == 0);
    c->fn(c->arg, &ev);
}

static int qemu_read_events(struct vmm *vm, vmm_event_fn fn, void *arg)
{
    struct qemu_vm *q = vm->priv;
    if (q == NULL || q->events.fd < 0)
        return 0;
    struct events_ctx c = {.q = q, .fn = fn, .arg = arg};
    return qmp_reader_read(&q->events, on_qmp_event, &c);
}

/* QMP `stop` and `cont` on the events monitor: `stop` answers once every vCPU is
 * stopped, `cont` once they run again; the answer (tagged with the id) becomes the event. */
static int qemu_pause(struct vmm *vm, bool paused, ctr_error_t *err)
{
    struct qemu_vm *q = vm->priv;
    if (q == NULL || q->events.fd < 0)
        return ctr_fail(err, ENOTSUP, "this VM has no monitor to pause it with");
    return qmp_reader_send(&q->events, paused ? "stop" : "cont", paused ? "pause" : "resume", err);
}

static int qemu_kill(struct vmm *vm, int sig, ctr_error_t *err)
{
    if (vm->reaped || vm->pid <= 0)
        return 0;
    if (vm->pidfd >= 0) {
        if (syscall(SYS_pidfd_send_signal, vm->pidfd, sig, NULL, 0) < 0 && errno != ESRCH)
            return ctr_fail(err, errno, "signal qemu `%d`", (int)vm->pid);
        return 0;
    }
    if (kill(vm->pid, sig) < 0 && errno != ESRCH)
        return ctr_fail(err, errno, "signal qemu `%d`", (int)vm->pid);
    return 0;
}

static int qemu_stop(struct vmm *vm, ctr_error_t *err)
{
    /* QEMU quits cleanly on SIGTERM (the guest does not get a say). */
    return qemu_kill(vm, SIGTERM, err);
}

static int qemu_wait(struct vmm *vm, bool block, ctr_error_t *err)
{
    pid_t r;

    if (vm->reaped)
        return 1;
    do
        r = waitpid(vm->pid, &vm->status, block ? 0 : WNOHANG);
    while (r < 0 && errno == EINTR);
    if (r < 0)
        return ctr_fail(err, errno, "wait for qemu `%d`", (int)vm->pid);
    if (r == 0)
        return 0;
    vm->reaped = true;
    return 1;
}

static void qemu_release(struct vmm *vm)
{
    if (vm->pid > 0 && !vm->reaped) {
        qemu_kill(vm, SIGKILL, NULL);
        qemu_wait(vm, true, NULL);
    }
    if (vm->pidfd >= 0)
        close(vm->pidfd);
    if (vm->stderr_fd >= 0)
        close(vm->stderr_fd);
    vm->pidfd = vm->stderr_fd = -1;
    struct qemu_vm *q = vm->priv;
    if (q) {
        if (q->control_fd >= 0)
            close(q->control_fd);
        qmp_reader_release(&q->events);
        free(q);
        vm->priv = NULL;
    }
}

const struct vmm_ops vmm_qemu_ops = {
    .name = "qemu",
    .display_name = "QEMU",
    .snapshot_format = "QEMU migration stream",
    .start = qemu_start,
    .start_template = qemu_start_template,
    .snapshot = qemu_snapshot,
    .restore = qemu_restore,
    .snapshot_shape = vmm_qemu_snapshot_shape,
    .snapshot_valid = vmm_qemu_snapshot_valid,
    .pause = qemu_pause,
    .stop = qemu_stop,
    .kill = qemu_kill,
    .wait = qemu_wait,
    .events_fd = qemu_events_fd,
    .read_events = qemu_read_events,
    .release = qemu_release,
};

ssize_t vmm_drain_stderr(struct vmm *vm, int copy_fd)
{
    char buf[4096];
    ssize_t total = 0;

    if (vm->stderr_fd < 0)
        return 0;
    for (;;) {
        ssize_t n = read(vm->stderr_fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return total > 0 ? total : -1;
        if (n == 0)
            return 0;
        if (copy_fd >= 0)
            (void)ctr_write_all(copy_fd, buf, (size_t)n);
        /* Keep the last sizeof(tail) bytes. */
        size_t keep = sizeof(vm->tail);
        if ((size_t)n >= keep) {
            memcpy(vm->tail, buf + n - keep, keep);
            vm->tail_len = keep;
        } else {
            if (vm->tail_len + (size_t)n > keep) {
                size_t drop = vm->tail_len + (size_t)n - keep;
                memmove(vm->tail, vm->tail + drop, vm->tail_len - drop);
                vm->tail_len -= drop;
            }
            memcpy(vm->tail + vm->tail_len, buf, (size_t)n);
            vm->tail_len += (size_t)n;
        }
        total += n;
    }
}

char *vmm_describe_status(int status)
{
    if (WIFSIGNALED(status))
        return ctr_xasprintf("killed by signal %d (%s)", WTERMSIG(status),
                             strsignal(WTERMSIG(status)));
    if (WIFEXITED(status))
        return ctr_xasprintf("exited with status %d", WEXITSTATUS(status));
    return ctr_xasprintf("ended with wait status %#x", status);
}
