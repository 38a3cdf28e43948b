/* QEMU microvm backend: builds an argv (never a shell) and supervises the process. */
#include "shim/vmm-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define QEMU_AGENT_FD VMM_QEMU_AGENT_FD

/* The kernel command line: only what any boot needs, nothing about the container,
 * so a booted VM without a container can be snapshotted and reused (warm start).
 * Generated from kernel/cmdline and kernel/cmdline-tcg-1cpu (src/shim/module.mk), so
 * the shim and bench/boot/bare.sh boot with the same one; docs/kernel.md says why. */
#include "shim-kernel-cmdline.h"

char *vmm_kernel_cmdline(const struct vmm_config *cfg)
{
    bool tcg = cfg->accel == VMM_ACCEL_TCG;
    cleanup_free char *tsc =
        tcg && cfg->tsc_khz ? ctr_xasprintf(" tsc_early_khz=%llu", (unsigned long long)cfg->tsc_khz)
                            : ctr_xstrdup("");
    /* Without the TSC-deadline timer (TCG) the APIC timer is calibrated for 200 ms;
     * with one vCPU the PIT serves as the clock event device instead. Not with more
     * vCPUs: they would be left with periodic 4 ms broadcast ticks. */
    bool one_cpu = tcg && (cfg->cpus ? cfg->cpus : 1) == 1;

    return ctr_xasprintf("%s%s%s%s%s%s", SHIM_KERNEL_CMDLINE, tsc, one_cpu ? " " : "",
                         one_cpu ? SHIM_KERNEL_CMDLINE_TCG_1CPU : "",
                         cfg->cmdline && cfg->cmdline[0] ? " " : "",
                         cfg->cmdline ? cfg->cmdline : "");
}

/* QEMU option values double their commas. */
static char *opt_escape(const char *s)
{
    size_t n = 0;
    for (const char *p = s; *p; p++)
        n += *p == ',' ? 2 : 1;
    char *out = ctr_xmalloc(n + 1), *o = out;
    for (const char *p = s; *p; p++) {
        *o++ = *p;
        if (*p == ',')
            *o++ = ',';
    }
    *o = '\0';
    return out;
}

static bool serial_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 20) /* virtio-blk ids are 20 bytes */
        return false;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '-' || *p == '_' || *p == '.'))
            return false;
    return true;
}

char **vmm_qemu_argv(const struct vmm_config *cfg, int agent_fd_in_child, ctr_error_t *err)
{
    cleanup_strv char **av = ctr_xcalloc(1, sizeof(char *));
    cleanup_free char *console = NULL, *cmdline = NULL;

    if (cfg->kernel == NULL || cfg->kernel[0] == '\0')
        return ctr_fail(err, EINVAL, "no kernel given"), NULL;
    ctr_strv_append(&av, cfg->binary ? cfg->binary : "qemu-system-x86_64");
#define ARG(s) ctr_strv_append(&av, (s))
#define ARGF(...)                                                                                  \
    do {                                                                                           \
        char *_s = ctr_xasprintf(__VA_ARGS__);                                                     \
        ctr_strv_append(&av, _s);                                                                  \
        free(_s);                                                                                  \
    } while (0)
    ARG("-M");
    ARG("microvm,acpi=off,x-option-roms=off");
    ARG("-nodefaults");
    ARG("-no-user-config");
    ARG("-nographic");
    ARG("-no-reboot");
    ARG("-accel");
    if (cfg->accel == VMM_ACCEL_KVM) {
        ARG("kvm");
        ARG("-cpu");
        ARG("host");
    } else {
        ARG("tcg,thread=multi");
        ARG("-cpu");
        ARG("max");
    }
    ARG("-m");
    ARGF("%llu", (unsigned long long)cfg->memory_mib);
    ARG("-smp");
    ARGF("%u", cfg->cpus ? cfg->cpus : 1);
    ARG("-kernel");
    ARG(cfg->kernel);
    if (cfg->initrd) {
        ARG("-initrd");
        ARG(cfg->initrd);
    }
    ARG("-append");
    cmdline = vmm_kernel_cmdline(cfg);
    ARG(cmdline);
    if (cfg->console) {
        console = opt_escape(cfg->console);
        ARG("-chardev");
        ARGF("file,id=console,path=%s,append=on", console);
        ARG("-serial");
        ARG("chardev:console");
    }
    for (size_t i = 0; i < cfg->n_disks; i++) {
        const struct bundle_disk *d = &cfg->disks[i];
        if (!serial_ok(d->serial))
            return ctr_fail(err, EINVAL,
                            "disk serial `%s` must be 1-20 characters of [A-Za-z0-9._-]",
                            d->serial),
                   NULL;
        cleanup_free char *path = opt_escape(d->path);
        ARG("-drive");
        if (cfg->template_vm)
            ARGF("id=disk%zu,driver=null-co,size=%llu,read-zeroes=on,if=none%s", i,
                 (unsigned long long)cfg->disk_sizes[i],
                 d->readonly ? ",readonly=on" : ",discard=unmap");
        else /* a write error (a full host disk) goes to the guest instead of pausing
              * the VM unseen (QEMU's default werror=enospc); the events monitor tells us */
            ARGF("id=disk%zu,file=%s,if=none,format=raw%s", i, path,
                 d->readonly ? ",readonly=on" : ",discard=unmap,werror=report,rerror=report");
        ARG("-device");
        ARGF("virtio-blk-device,drive=disk%zu,serial=%s", i, d->serial);
    }
    if (cfg->n_disks + cfg->n_shares + cfg->n_nets + BUNDLE_FIXED_VIRTIO_DEVICES >
        BUNDLE_MAX_VIRTIO_DEVICES)
        return ctr_fail(err, E2BIG,
                        "%zu disks, %zu shared directories and %zu network interfaces need more "
                        "than the %d virtio devices a microvm has (%d are taken by the agent port "
                        "and rng)",
                        cfg->n_disks, cfg->n_shares, cfg->n_nets, BUNDLE_MAX_VIRTIO_DEVICES,
                        BUNDLE_FIXED_VIRTIO_DEVICES),
               NULL;
    for (size_t i = 0; i < cfg->n_nets; i++) {
        uint8_t mac[6];
        /* a template's NICs get placeholder MACs: vminitd sets the container's */
        cleanup_free char *tmac =
            cfg->template_vm ? ctr_xasprintf(AGENT_WARM_MAC_PREFIX ":%02zx", i + 1) : NULL;
        if (!agent_mac_parse(tmac ? tmac : cfg->nets[i].mac, mac))
            return ctr_fail(err, EINVAL, "network interface %zu: bad MAC `%s`", i,
                            cfg->nets[i].mac),
                   NULL;
        ARG("-netdev");
        ARGF("tap,id=net%zu,fd=%d%s", i, VMM_QEMU_TAP_FD0 + (int)i,
             cfg->vhost_net ? ",vhost=on" : "");
        ARG("-device");
        ARGF("virtio-net-device,netdev=net%zu,mac=%02x:%02x:%02x:%02x:%02x:%02x", i, mac[0], mac[1],
             mac[2], mac[3], mac[4], mac[5]);
    }
    for (size_t i = 0; i < cfg->n_shares; i++) {
        const struct bundle_share *sh = &cfg->shares[i];
        cleanup_free char *path = opt_escape(cfg->template_vm ? cfg->placeholder_dir : sh->path);
        if (!serial_ok(sh->tag))
            return ctr_fail(err, EINVAL, "share tag `%s` must be 1-20 characters of [A-Za-z0-9._-]",
                            sh->tag),
                   NULL;
        /* passthrough: files keep the guest's uid/gid/mode on the host, as docker shows
         * them (QEMU runs as root); docs/volumes.md */
        ARG("-fsdev");
        ARGF("local,id=fs%zu,path=%s,security_model=passthrough%s", i, path,
             sh->readonly ? ",readonly=on" : "");
        ARG("-device");
        ARGF("virtio-9p-device,fsdev=fs%zu,mount_tag=%s", i, sh->tag);
    }
    /* Entropy at once: without it the guest's first getrandom/urandom read (jansson's
     * hash seed in vminitd) spins in try_to_generate_entropy, ~1 s under TCG. */
    ARG("-device");
    ARG("virtio-rng-device");
    ARG("-chardev");
    ARGF("socket,id=agent,fd=%d", agent_fd_in_child);
    ARG("-device");
    ARG("virtio-serial-device,max_ports=2");
    ARG("-device");
    ARG("virtserialport,chardev=agent,name=" AGENT_PORT_NAME);
    if (cfg->template_vm) {
        ARG("-chardev");
        ARGF("socket,id=qmp,fd=%d", vmm_qemu_warm_fd(cfg));
        ARG("-mon");
        ARG("chardev=qmp,mode=control");
        /* The stream then says nothing of the run state, so the restored VM runs at
         * once although the template was paused when saved. */
        ARG("-global");
        ARG("migration.store-global-state=off");
    }
    if (cfg->events && !cfg->template_vm) {
        ARG("-chardev");
        ARGF("socket,id=events,fd=%d", vmm_qemu_events_fd(cfg));
        ARG("-mon");
        ARG("chardev=events,mode=control");
    }
    if (cfg->restore) {
        ARG("-incoming");
        ARGF("fd:%d", vmm_qemu_warm_fd(cfg));
    }
#undef ARG
#undef ARGF
    return ctr_steal_ptr(av);
}

int vmm_qemu_warm_fd(const struct vmm_config *cfg)
{
    return VMM_QEMU_TAP_FD0 + (int)cfg->n_nets;
}

int vmm_qemu_events_fd(const struct vmm_config *cfg)
{
    return VMM_QEMU_TAP_FD0 + (int)cfg->n_nets + (cfg->restore || cfg->template_vm ? 1 : 0);
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
    if (dup2(agent_fd, QEMU_AGENT_FD) < 0)
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

static int qemu_start(struct vmm *vm, const struct vmm_config *cfg, ctr_error_t *err)
{
    cleanup_strv char **argv = NULL;
    cleanup_close int agent_fd = -1;
    /* The TAPs, then the warm-start fd (the stream to restore, or a template's QMP). */
    int warm_fd = cfg->restore ? cfg->incoming_fd : cfg->template_vm ? cfg->qmp_fd : -1;
    int events_fd = cfg->events && !cfg->template_vm ? cfg->events_fd : -1;
    size_t n_fds = cfg->n_nets + (warm_fd >= 0) + (events_fd >= 0);
    cleanup_free int *taps = ctr_xcalloc(n_fds + 1, sizeof(int));
    int errpipe[2] = {-1, -1}, report[2] = {-1, -1};
    int child_errno = 0;
    ssize_t n;
    pid_t pid;

    argv = vmm_qemu_argv(cfg, QEMU_AGENT_FD, err);
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
}

const struct vmm_ops vmm_qemu_ops = {
    .name = "qemu",
    .start = qemu_start,
    .stop = qemu_stop,
    .kill = qemu_kill,
    .wait = qemu_wait,
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
