/* Starting a container process: fork, then in the child a new session, stdio
 * (pty or pipes), user, rlimits, cwd, PATH lookup and execve. Failures before
 * or at execve travel back through a CLOEXEC pipe, so the exec reply carries
 * Docker's 126/127 and a message naming the file. */
#include "guest/guest-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

struct child_err {
    int code;
    char msg[1024];
};

struct child_fds {
    int in, out, err; /* child's ends, -1 = /dev/null */
    const char *pty_path;
    int report; /* CLOEXEC error pipe */
};

static _Noreturn void child_fail(int report, int code, const char *msg)
{
    struct child_err ce = {.code = code};
    snprintf(ce.msg, sizeof(ce.msg), "%s", msg);
    if (write(report, &ce, sizeof(ce)) < 0) {
        /* nothing left to tell */
    }
    _exit(code);
}

static _Noreturn void child_fail_err(int report, int code, ctr_error_t *err)
{
    child_fail(report, code, (*err)->msg);
}

static _Noreturn void child_fail_errno(int report, const char *what)
{
    char buf[512];
    snprintf(buf, sizeof(buf), "%s: %s", what, strerror(errno));
    child_fail(report, 1, buf);
}

static void child_stdio(const struct child_fds *f)
{
    int fds[3] = {f->in, f->out, f->err};

    if (f->pty_path) {
        int tty = open(f->pty_path, O_RDWR);
        if (tty < 0)
            child_fail_errno(f->report, "open terminal");
        if (ioctl(tty, TIOCSCTTY, 0) < 0)
            child_fail_errno(f->report, "set controlling terminal");
        fds[0] = fds[1] = fds[2] = tty;
    }
    for (int i = 0; i < 3; i++) {
        int fd = fds[i];
        if (fd < 0) {
            fd = open("/dev/null", O_RDWR);
            if (fd < 0)
                child_fail_errno(f->report, "open /dev/null");
        }
        /* dup2 of an fd onto itself keeps CLOEXEC; the pipes were made CLOEXEC */
        if (fd == i) {
            int fl = fcntl(fd, F_GETFD);
            if (fl >= 0)
                fcntl(fd, F_SETFD, fl & ~FD_CLOEXEC);
        } else if (dup2(fd, i) < 0) {
            child_fail_errno(f->report, "dup2 stdio");
        }
    }
}

static void child_reset_signals(void)
{
    sigset_t all;
    struct sigaction sa = {.sa_handler = SIG_DFL};

    for (int s = 1; s < NSIG; s++)
        sigaction(s, &sa, NULL); /* EINVAL for SIGKILL/SIGSTOP and RT internals: ignored */
    sigemptyset(&all);
    sigprocmask(SIG_SETMASK, &all, NULL);
}

/* docker-init's argv: vminitd's binary re-executed as `/sbin/docker-init -- ARGS`
 * (guest_init_main), the name tini and Docker show as PID 1. */
static _Noreturn void exec_init(const struct agent_exec *e, char **env, const struct child_fds *f)
{
    size_t n = ctr_strv_len(e->args);
    char **argv = ctr_xcalloc(n + 3, sizeof(char *));

    argv[0] = GUEST_INIT_ARGV0;
    argv[1] = "--";
    for (size_t i = 0; i < n; i++)
        argv[i + 2] = e->args[i];
    syscall(SYS_execveat, guest_ctr_exe_fd(), "", argv, env, AT_EMPTY_PATH);
    child_fail_errno(f->report, "exec docker-init");
}

static _Noreturn void child_main(const struct agent_exec *e, const struct child_fds *f,
                                 bool is_main)
{
    cleanup_error ctr_error_t err = NULL;
    struct guest_user u;
    char **env = ctr_strv_dup(e->env);
    const char *cwd = e->cwd ? e->cwd : "/";
    char *path = NULL;
    int code = 0;

    const char *what = NULL;

    child_reset_signals();
    if (guest_ctr_child(is_main, &what) < 0)
        child_fail_errno(f->report, what);
    if (setsid() < 0)
        child_fail_errno(f->report, "setsid");
    child_stdio(f);
    if (guest_user_resolve("", e->user, &u, &err) < 0 ||
        guest_user_add_groups("", &u, e->groups, &err) < 0)
        child_fail_err(f->report, 1, &err);
    if (guest_env_get(env, "HOME") == NULL) {
        char *home = ctr_xasprintf("HOME=%s", u.home);
        ctr_strv_append(&env, home);
        free(home);
    }
    for (size_t i = 0; i < e->n_rlimits; i++) {
        struct rlimit rl = {e->rlimits[i].soft, e->rlimits[i].hard};
        if (setrlimit(e->rlimits[i].resource, &rl) < 0)
            child_fail_errno(f->report, "setrlimit");
    }
    if (f->pty_path && fchown(0, u.uid, (gid_t)-1) < 0) {
        /* a read-only /dev/pts is not worth failing for */
    }
    if (ctr_mkdir_p(cwd, 0755, &err) < 0)
        child_fail_err(f->report, 1, &err);
    if (setgroups(u.n_groups, u.groups) < 0)
        child_fail_errno(f->report, "setgroups");
    if (setresgid(u.gid, u.gid, u.gid) < 0)
        child_fail_errno(f->report, "setgid");
    if (setresuid(u.uid, u.uid, u.uid) < 0)
        child_fail_errno(f->report, "setuid");
    if (chdir(cwd) < 0) {
        char buf[256 + AGENT_MAX_PATH];
        snprintf(buf, sizeof(buf), "chdir to cwd (\"%s\") set in config.json failed: %s", cwd,
                 strerror(errno));
        child_fail(f->report, 1, buf);
    }
    if (guest_lookup_exec("", e->args[0], guest_env_get(env, "PATH"), &path, &code, &err) < 0)
        child_fail_err(f->report, code, &err);
    if (is_main && guest_ctr_init_mode())
        exec_init(e, env, f);
    execve(path, e->args, env);
    int errnum = errno;
    char *msg = guest_exec_errno_msg(e->args[0], errnum);
    child_fail(f->report, guest_exec_errno_code(errnum), msg);
}

static int open_pty(uint16_t rows, uint16_t cols, char **slave, ctr_error_t *err)
{
    cleanup_close int m = open("/dev/pts/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
    int unlock = 0;
    unsigned int n;

    if (m < 0)
        m = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (m < 0)
        return ctr_fail(err, errno, "open `/dev/ptmx`");
    if (ioctl(m, TIOCSPTLCK, &unlock) < 0 || ioctl(m, TIOCGPTN, &n) < 0)
        return ctr_fail(err, errno, "unlock pty");
    if (rows && cols)
        guest_pty_resize(m, rows, cols);
    *slave = ctr_xasprintf("/dev/pts/%u", n);
    return ctr_steal_fd(m);
}

int guest_pty_resize(int master, uint16_t rows, uint16_t cols)
{
    struct winsize ws = {.ws_row = rows, .ws_col = cols};
    return ioctl(master, TIOCSWINSZ, &ws);
}

static void close_pair(int p[2])
{
    for (int i = 0; i < 2; i++)
        if (p[i] >= 0) {
            close(p[i]);
            p[i] = -1;
        }
}

int guest_spawn(const struct agent_exec *e, struct guest_spawned *out, int *code, ctr_error_t *err)
{
    int in[2] = {-1, -1}, o[2] = {-1, -1}, er[2] = {-1, -1}, rep[2] = {-1, -1};
    cleanup_close int master = -1;
    cleanup_free char *slave = NULL;
    struct child_fds cf = {-1, -1, -1, NULL, -1};
    struct child_err ce;
    ssize_t n;
    pid_t pid;
    int status;

    *code = 1;
    if (e->terminal) {
        master = open_pty(e->rows, e->cols, &slave, err);
        if (master < 0)
            return -1;
        cf.pty_path = slave;
    } else {
        if ((e->stdin_stream && pipe2(in, O_CLOEXEC) < 0) ||
            (e->stdout_stream && pipe2(o, O_CLOEXEC) < 0) ||
            (e->stderr_stream && pipe2(er, O_CLOEXEC) < 0)) {
            ctr_fail(err, errno, "create stdio pipes");
            goto fail;
        }
        cf.in = in[0];
        cf.out = o[1];
        cf.err = er[1];
    }
    if (pipe2(rep, O_CLOEXEC) < 0) {
        ctr_fail(err, errno, "create exec status pipe");
        goto fail;
    }
    cf.report = rep[1];
    bool is_main = strcmp(e->process, "main") == 0;
    pid = guest_ctr_fork(is_main);
    if (pid < 0) {
        ctr_fail(err, errno, is_main ? "start the container's main process" : "fork");
        goto fail;
    }
    if (pid == 0) {
        close(rep[0]);
        if (master >= 0)
            close(master);
        child_main(e, &cf, is_main);
    }
    close(rep[1]);
    rep[1] = -1;
    do
        n = read(rep[0], &ce, sizeof(ce));
    while (n < 0 && errno == EINTR);
    close(rep[0]);
    rep[0] = -1;
    if (n > 0) {
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
            ;
        ce.msg[sizeof(ce.msg) - 1] = '\0';
        *code = n == (ssize_t)sizeof(ce) ? ce.code : 1;
        ctr_fail(err, 0, "%s", n == (ssize_t)sizeof(ce) ? ce.msg : "process setup failed");
        goto fail;
    }
    if (is_main)
        guest_ctr_main_started(pid);
    out->pid = pid;
    out->pty = master >= 0;
    out->in_fd = master >= 0 ? -1 : in[1];
    out->out_fd = master >= 0 ? ctr_steal_fd(master) : o[0];
    out->err_fd = er[0];
    for (int *fd = (int[]){out->in_fd, out->out_fd, out->err_fd, -2}; *fd != -2; fd++)
        if (*fd >= 0)
            fcntl(*fd, F_SETFL, fcntl(*fd, F_GETFL) | O_NONBLOCK);
    if (in[0] >= 0)
        close(in[0]);
    if (o[1] >= 0)
        close(o[1]);
    if (er[1] >= 0)
        close(er[1]);
    return 0;
fail:
    close_pair(in);
    close_pair(o);
    close_pair(er);
    close_pair(rep);
    return -1;
}
