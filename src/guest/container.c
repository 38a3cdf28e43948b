/* The container as Docker shapes it inside the VM (docs/runtime.md, "Inside the
 * guest"): the main process is PID 1 of its own PID, mount, UTS and IPC namespaces
 * with its own /proc; exec'd processes join those namespaces; every container
 * process is in the cgroup /sys/fs/cgroup/container (pids.max = PidsLimit).
 * vminitd itself stays in the VM's namespaces, so it still sees every process.
 * Outside the VM (host unit tests, getpid() != 1) processes are plain forks. */
#include "guest/guest-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define CGROUP_ROOT "/sys/fs/cgroup"
#define CGROUP_DIR CGROUP_ROOT "/container"

enum { NS_PID, NS_MNT, NS_UTS, NS_IPC, NS_N };
static const char *const ns_names[NS_N] = {"pid", "mnt", "uts", "ipc"};
static const int ns_types[NS_N] = {CLONE_NEWPID, CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC};

static struct {
    bool ready;      /* setup ran in the VM: namespaces in use */
    bool init;       /* HostConfig.Init: the main process runs under docker-init */
    int cg_procs;    /* cgroup.procs of the container's cgroup, -1: none */
    int exe;         /* vminitd's own binary (O_PATH), for docker-init */
    int ns[NS_N];    /* the main process's namespaces, -1 until it runs */
    ino_t pidns_ino; /* its PID namespace, for top */
} gc = {false, false, -1, -1, {-1, -1, -1, -1}, 0};

static void write_file(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0 || write(fd, text, strlen(text)) < 0)
        log_warn("write `%s` to `%s`: %s", text, path, strerror(errno));
    if (fd >= 0)
        close(fd);
}

int guest_ctr_setup(const struct agent_setup *s, ctr_error_t *err)
{
    static const char *const controllers[] = {"+pids", "+memory", "+cpu"};
    struct stat st;

    if (getpid() != 1)
        return 0;
    gc.init = s->init;
    gc.exe = open("/proc/self/exe", O_PATH | O_CLOEXEC);
    if (gc.exe < 0)
        return ctr_fail(err, errno, "open vminitd's own binary");
    if (stat(CGROUP_ROOT "/cgroup.controllers", &st) < 0) {
        if (s->pids_limit > 0)
            return ctr_fail(err, ENOTSUP,
                            "the guest kernel has no cgroup v2: `PidsLimit` needs it");
        gc.ready = true;
        return 0;
    }
    for (size_t i = 0; i < sizeof(controllers) / sizeof(controllers[0]); i++)
        write_file(CGROUP_ROOT "/cgroup.subtree_control", controllers[i]);
    if (mkdir(CGROUP_DIR, 0755) < 0 && errno != EEXIST)
        return ctr_fail(err, errno, "create the container's cgroup `" CGROUP_DIR "`");
    if (s->pids_limit > 0) {
        char v[32];
        snprintf(v, sizeof(v), "%lld", (long long)s->pids_limit);
        int fd = open(CGROUP_DIR "/pids.max", O_WRONLY | O_CLOEXEC);
        if (fd < 0 || write(fd, v, strlen(v)) < 0) {
            int e = errno;
            if (fd >= 0)
                close(fd);
            return ctr_fail(err, e, "set `pids.max` to %s", v);
        }
        close(fd);
    }
    gc.cg_procs = open(CGROUP_DIR "/cgroup.procs", O_WRONLY | O_CLOEXEC);
    if (gc.cg_procs < 0)
        return ctr_fail(err, errno, "open `" CGROUP_DIR "/cgroup.procs`");
    gc.ready = true;
    return 0;
}

bool guest_ctr_init_mode(void)
{
    return gc.ready && gc.init;
}

int guest_ctr_exe_fd(void)
{
    return gc.exe;
}

/* The main process: a fork into new namespaces (raw clone: no stack means fork's
 * semantics). An exec: vminitd's children go into the main process's PID namespace for
 * this one fork; the child joins the others itself (guest_ctr_child). */
pid_t guest_ctr_fork(bool is_main)
{
    if (!gc.ready)
        return fork();
    if (is_main)
        return (pid_t)syscall(SYS_clone,
                              SIGCHLD | CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC,
                              NULL, NULL, NULL, NULL);
    if (gc.ns[NS_PID] < 0)
        return fork(); /* no main process yet (a bare agent client): the VM's namespaces */
    int self = open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC);
    if (self < 0)
        return -1;
    if (setns(gc.ns[NS_PID], CLONE_NEWPID) < 0) {
        int e = errno;
        close(self);
        errno = e;
        return -1;
    }
    pid_t pid = fork();
    int e = errno;
    if (setns(self, CLONE_NEWPID) < 0)
        log_error("return to vminitd's PID namespace: %s", strerror(errno));
    close(self);
    errno = e;
    return pid;
}

void guest_ctr_main_started(pid_t pid)
{
    struct stat st;

    if (!gc.ready)
        return;
    for (int i = 0; i < NS_N; i++) {
        char p[64];
        snprintf(p, sizeof(p), "/proc/%d/ns/%s", (int)pid, ns_names[i]);
        if (gc.ns[i] >= 0)
            close(gc.ns[i]);
        gc.ns[i] = open(p, O_RDONLY | O_CLOEXEC);
        if (gc.ns[i] < 0)
            log_warn("open `%s`: %s", p, strerror(errno));
    }
    if (gc.ns[NS_PID] >= 0 && fstat(gc.ns[NS_PID], &st) == 0)
        gc.pidns_ino = st.st_ino;
}

void guest_ctr_release(void)
{
    for (int i = 0; i < NS_N; i++) {
        if (gc.ns[i] >= 0)
            close(gc.ns[i]);
        gc.ns[i] = -1;
    }
}

bool guest_ctr_pidns(ino_t *ino)
{
    *ino = gc.pidns_ino;
    return gc.ready && gc.pidns_ino != 0;
}

/* In the child, before anything else: the cgroup, then (exec) the namespaces of the
 * main process, or (main) a private mount tree with a /proc of the new PID namespace.
 * Returns -1 with errno and *what naming the step. */
int guest_ctr_child(bool is_main, const char **what)
{
    if (!gc.ready)
        return 0;
    if (gc.cg_procs >= 0 && write(gc.cg_procs, "0", 1) < 0) {
        *what = "join the container's cgroup";
        return -1;
    }
    if (is_main) {
        if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
            *what = "make the container's mounts private";
            return -1;
        }
        umount2("/proc", MNT_DETACH);
        if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0) {
            *what = "mount the container's /proc";
            return -1;
        }
        return 0;
    }
    for (int i = NS_MNT; i < NS_N; i++)
        if (gc.ns[i] >= 0 && setns(gc.ns[i], ns_types[i]) < 0) {
            *what = "join the container's namespaces";
            return -1;
        }
    return 0;
}
