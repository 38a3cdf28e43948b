/* `container system start|stop|status|version|logs|df|kernel set`. start runs
 * container-apiserver (found next to this binary) in the background after
 * checking the guest kernel and initramfs, and returns once /_ping answers. */
#include "cli/cli.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_ROOT "/var/lib/container"
#define DEFAULT_RUN_ROOT "/run/container"

enum {
    O_ROOT = 1,
    O_RUN_ROOT,
    O_KERNEL,
    O_INITRD,
    O_TIMEOUT,
    O_FORMAT,
    O_FOLLOW,
    O_TAIL,
    O_BINARY,
    O_CONTAINERS,
    O_LOG_LEVEL
};

struct sys_opts {
    const char *root, *run_root, *kernel, *initrd, *binary, *log_level;
    long timeout, tail;
    bool follow, containers;
    enum cli_format format;
};

static int sys_opt(void *opaque, int id, const char *v, ctr_error_t *err)
{
    struct sys_opts *o = opaque;
    switch (id) {
    case O_ROOT:
        o->root = v;
        break;
    case O_RUN_ROOT:
        o->run_root = v;
        break;
    case O_KERNEL:
        o->kernel = v;
        break;
    case O_INITRD:
        o->initrd = v;
        break;
    case O_BINARY:
        o->binary = v;
        break;
    case O_LOG_LEVEL:
        o->log_level = v;
        break;
    case O_FOLLOW:
        o->follow = true;
        break;
    case O_CONTAINERS:
        o->containers = true;
        break;
    case O_TIMEOUT:
        return cli_parse_long("--timeout", v, 1, 3600, &o->timeout, err);
    case O_TAIL:
        return cli_parse_long("-n", v, 0, 1L << 30, &o->tail, err);
    case O_FORMAT:
        return cli_parse_format(v, &o->format, err);
    }
    return 0;
}

static int parse(struct cli_ctx *ctx, const struct cli_option *opts, int argc, char **argv,
                 struct sys_opts *o, ctr_error_t *err)
{
    cleanup_strv char **pos = NULL;
    int r;

    *o = (struct sys_opts){.timeout = 30, .tail = -1};
    r = cli_parse_opts(ctx->name, opts, 0, argc, argv, sys_opt, o, &pos, err);
    if (r == 1)
        cli_print_usage(ctx, opts, stdout);
    if (r != 0)
        return r;
    return cli_check_args(ctx->name, pos, 0, 0, "no arguments", err);
}

static bool ping(const struct cli_ctx *ctx)
{
    ctr_error_t err = NULL;
    struct cli_request req = {.method = "GET", .path = "/_ping", .upload_fd = -1};
    struct cli_response resp = {0};
    bool ok = cli_request(ctx, &req, &resp, &err) == 0;
    ctr_error_free(&err);
    cli_response_release(&resp);
    return ok;
}

/* Directory of this executable. */
static char *self_dir(void)
{
    char buf[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
    if (n <= 0)
        return ctr_xstrdup(".");
    buf[n] = '\0';
    return ctr_xstrdup(dirname(buf));
}

static bool is_file(const char *p)
{
    struct stat st;
    return p && stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* First existing of: flag, env, DATA/kernel/<name>, <bindir>/../<fallback>. */
static char *find_asset(const char *flag, const char *env, const char *root, const char *name,
                        const char *bindir, const char *fallback, char **tried, bool *pass)
{
    const char *e = getenv(env);
    char *cands[4] = {flag ? ctr_xstrdup(flag) : NULL, e && *e ? ctr_xstrdup(e) : NULL,
                      ctr_xasprintf("%s/kernel/%s", root, name),
                      ctr_xasprintf("%s/../%s", bindir, fallback)};
    char *found = NULL;
    *tried = ctr_xstrdup("");
    for (int i = 0; i < 4; i++) {
        if (cands[i] && !found && is_file(cands[i])) {
            found = ctr_steal_ptr(cands[i]);
            *pass = i < 2; /* the daemon finds the others itself (and `kernel set` wins) */
        } else if (cands[i]) {
            char *t = ctr_xasprintf("%s%s`%s`", *tried, **tried ? ", " : "", cands[i]);
            free(*tried);
            *tried = t;
        }
        free(cands[i]);
        if (flag && i == 0 && !found)
            break; /* an explicit flag must be right */
    }
    return found;
}

static void print_tail(const char *path)
{
    cleanup_free char *data = NULL;
    size_t len;
    if (ctr_read_file(path, 1 << 20, &data, &len, NULL) < 0 || len == 0)
        return;
    const char *p = data + len;
    for (int lines = 0; p > data && lines < 11; p--)
        if (p[-1] == '\n')
            lines++;
    fprintf(stderr, "%s", p == data ? p : p + 1);
}

int cli_cmd_system_start(struct cli_ctx *ctx, int argc, char **argv, ctr_error_t *err)
{
    static const struct cli_option opts[] = {
        CLI_OPT_ARG(0, "root", "DIR", O_ROOT, "data directory of the daemon"),
        CLI_OPT_ARG('a', "app-root", "DIR", O_ROOT, NULL),
        CLI_OPT_ARG(0, "run-root", "DIR", O_RUN_ROOT, "runtime directory (socket, pid file)"),
        CLI_OPT_ARG(0, "kernel", "PATH", O_KERNEL, "guest kernel"),
        CLI_OPT_ARG(0, "initrd", "PATH", O_INITRD, "guest initramfs"),
        CLI_OPT_ARG(0, "timeout", "SECONDS", O_TIMEOUT,
                    "how long to wait for the daemon to answer (1-3600)"),
        CLI_OPT_ARG(0, "log-level", "LEVEL", O_LOG_LEVEL,
                    "log level of the daemon (error, warn, info, debug)"),
        CLI_OPT_END,
    };
    struct sys_opts o;
    cleanup_free char *bindir = self_dir(), *server = NULL, *kernel = NULL, *initrd = NULL;
    cleanup_free char *ktried = NULL, *itried = NULL, *sock = NULL, *log = NULL;
    cleanup_strv char **args = NULL;
    const char *root, *run_root;
    bool pass_kernel = false, pass_initrd = false;
    int r = parse(ctx, opts, argc, argv, &o, err);
    pid_t pid;

    if (r != 0)
        return r == 1 ? 0 : -1;
    root = o.root ? o.root : DEFAULT_ROOT;
    run_root = o.run_root ? o.run_root : DEFAULT_RUN_ROOT;
    if (!ctx->socket_explicit && o.run_root) {
        sock = ctr_xasprintf("%s/container.sock", run_root);
        ctx->socket = sock;
    }
    if (ping(ctx)) {
        printf("container system is already running (socket `%s`)\n", ctx->socket);
        return 0;
    }
    server = getenv("CONTAINER_APISERVER") ? ctr_xstrdup(getenv("CONTAINER_APISERVER"))
                                           : ctr_xasprintf("%s/container-apiserver", bindir);
    if (access(server, X_OK) < 0)
        return ctr_fail(err, errno,
                        "cannot run `%s`; install container-apiserver next to "
                        "`container` or set CONTAINER_APISERVER",
                        server);
    kernel = find_asset(o.kernel, "CONTAINER_KERNEL", root, "vmlinux", bindir, "kernel/vmlinux",
                        &ktried, &pass_kernel);
    if (kernel == NULL)
        return ctr_fail(err, 0,
                        "no guest kernel found (looked at %s); build it with "
                        "`kernel/build.sh` or pass `--kernel PATH`",
                        ktried);
    initrd = find_asset(o.initrd, "CONTAINER_INITRD", root, "initramfs.cpio", bindir,
                        "initramfs.cpio", &itried, &pass_initrd);
    if (initrd == NULL)
        return ctr_fail(err, 0,
                        "no initramfs found (looked at %s); make it with "
                        "`scripts/make-initramfs.sh` or pass `--initrd PATH`",
                        itried);
    if (ctr_mkdir_p(run_root, 0755, err) < 0)
        return ctr_error_wrap(err, "run root");
    log = ctr_xasprintf("%s/container-apiserver.out", run_root);

    args = ctr_xcalloc(1, sizeof(char *));
    ctr_strv_append(&args, server);
    const char *pairs[][2] = {{"--root", root},
                              {"--run-root", run_root},
                              {"--socket", ctx->socket},
                              {"--kernel", pass_kernel ? kernel : NULL},
                              {"--initrd", pass_initrd ? initrd : NULL},
                              {"--log-level", o.log_level}};
    for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++)
        if (pairs[i][1]) {
            ctr_strv_append(&args, pairs[i][0]);
            ctr_strv_append(&args, pairs[i][1]);
        }
    if (ctx->debug && !o.log_level) {
        ctr_strv_append(&args, "--log-level");
        ctr_strv_append(&args, "debug");
    }
    pid = fork();
    if (pid < 0)
        return ctr_fail(err, errno, "fork");
    if (pid == 0) {
        int null = open("/dev/null", O_RDWR);
        int out = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0640);
        setsid();
        dup2(null, 0);
        dup2(out >= 0 ? out : null, 1);
        dup2(out >= 0 ? out : null, 2);
        /* none of our caller's fds may live on in the daemon, its shims and VMs: a
         * caller waiting for EOF on a pipe would wait for every container */
        close_range(3, ~0u, 0);
        signal(SIGHUP, SIG_IGN);
        execv(server, args);
        dprintf(2, "container: cannot run `%s`: %s\n", server, strerror(errno));
        _exit(127);
    }
    uint64_t deadline = ctr_now_ns() + (uint64_t)o.timeout * 1000000000ull;
    for (;;) {
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            print_tail(log);
            return ctr_fail(err, 0,
                            "container-apiserver exited at start (%s %d); its output is "
                            "in `%s`",
                            WIFEXITED(status) ? "status" : "signal",
                            WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status), log);
        }
        if (ping(ctx))
            break;
        if (ctr_now_ns() > deadline) {
            print_tail(log);
            return ctr_fail(err, 0,
                            "container-apiserver (pid %d) did not answer on `%s` within "
                            "%ld s; its output is in `%s`",
                            (int)pid, ctx->socket, o.timeout, log);
        }
        usleep(50 * 1000);
    }
    printf("container system started (pid %d, socket `%s`, data root `%s`)\n", (int)pid,
           ctx->socket, root);
    return 0;
}

/* The pid of the process listening on the socket, as our pid namespace sees it (0 when
 * unknown): the kernel records the listener's credentials at listen(). */
static pid_t daemon_pid(const char *sock)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    struct ucred cred = {0};
    socklen_t len = sizeof(cred);
    if (strlen(sock) >= sizeof(sa.sun_path))
        return 0;
    strcpy(sa.sun_path, sock);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return 0;
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
        getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
        cred.pid = 0;
    close(fd);
    return cred.pid;
}

/* Whether pid has ended (a zombie has: it holds no lock and no fd any more). */
static bool pid_gone(pid_t pid)
{
    char path[64], buf[512];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return kill(pid, 0) < 0 && errno == ESRCH;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return true;
    buf[n] = '\0';
    const char *rp = strrchr(buf, ')');
    return rp && (rp[2] == 'Z' || rp[2] == 'X');
}

int cli_cmd_system_stop(struct cli_ctx *ctx, int argc, char **argv, ctr_error_t *err)
{
    static const struct cli_option opts[] = {
        CLI_OPT_BOOL(0, "containers", O_CONTAINERS, "stop every container first"),
        CLI_OPT_ARG(0, "timeout", "SECONDS", O_TIMEOUT,
                    "how long to wait for each container to stop"),
        CLI_OPT_END,
    };
    struct sys_opts o;
    cleanup_free char *path = NULL;
    int r = parse(ctx, opts, argc, argv, &o, err);

    if (r != 0)
        return r == 1 ? 0 : -1;
    if (!ping(ctx)) {
        printf("container system is not running\n");
        return 0;
    }
    path = o.containers ? ctr_xstrdup("/container/system/stop?containers=1")
                        : ctr_xstrdup("/container/system/stop");
    /* Its pid before it goes: the socket disappears first, the pid-file lock and the
     * networks only when the process ends, and a `system start` needs both. */
    pid_t pid = daemon_pid(ctx->socket);
    int pidfd = pid > 0 ? (int)syscall(SYS_pidfd_open, pid, 0) : -1;
    if (cli_call(ctx, "POST", path, NULL, NULL, err) < 0) {
        if (pidfd >= 0)
            close(pidfd);
        return -1;
    }
    uint64_t deadline = ctr_now_ns() + (uint64_t)o.timeout * 1000000000ull;
    for (;;) {
        bool gone;
        if (pidfd >= 0) {
            struct pollfd p = {.fd = pidfd, .events = POLLIN};
            gone = poll(&p, 1, 50) > 0; /* readable once the process has ended */
        } else {
            gone = pid > 0 ? pid_gone(pid) : !ping(ctx);
            if (!gone)
                usleep(50 * 1000);
        }
        if (gone)
            break;
        if (ctr_now_ns() > deadline) {
            if (pidfd >= 0)
                close(pidfd);
            return pid > 0
                       ? ctr_fail(err, 0, "container-apiserver (pid %d) has not exited after %ld s",
                                  (int)pid, o.timeout)
                       : ctr_fail(err, 0, "container-apiserver still answers after %ld s",
                                  o.timeout);
        }
    }
    if (pidfd >= 0)
        close(pidfd);
    printf("container system stopped\n");
    return 0;
}

static void kv(const char *k, const char *v)
{
    printf("%-20s %s\n", k, v ? v : "");
}

int cli_cmd_system_status(struct cli_ctx *ctx, int argc, char **argv, ctr_error_t *err)
{
    static const struct cli_option opts[] = {
        CLI_OPT_ARG(0, "format", "json|table", O_FORMAT, "output format"),
        CLI_OPT_END,
    };
    struct sys_opts o;
    json_t *st = NULL;
    int r = parse(ctx, opts, argc, argv, &o, err);

    if (r != 0)
        return r == 1 ? 0 : -1;
    if (cli_call(ctx, "GET", "/container/system/status", NULL, &st, err) < 0)
        return -1;
    if (o.format == CLI_FORMAT_JSON) {
        cli_print_json(st, stdout);
    } else {
        json_t *k = json_object_get(st, "Kernel"), *i = json_object_get(st, "Initrd");
        cleanup_free char *pid = ctr_xasprintf("%lld", (long long)cli_json_int(st, "Pid"));
        cleanup_free char *ctrs =
            ctr_xasprintf("%lld (%lld running)", (long long)cli_json_int(st, "Containers"),
                          (long long)cli_json_int(st, "ContainersRunning"));
        cleanup_free char *imgs = ctr_xasprintf("%lld", (long long)cli_json_int(st, "Images"));
        cleanup_free char *ks =
            ctr_xasprintf("%s%s", cli_json_str(k, "Path") ? cli_json_str(k, "Path") : "",
                          cli_json_bool(k, "Present") ? "" : " (missing)");
        cleanup_free char *is =
            ctr_xasprintf("%s%s", cli_json_str(i, "Path") ? cli_json_str(i, "Path") : "",
                          cli_json_bool(i, "Present") ? "" : " (missing)");
        kv("status", "running");
        kv("version", cli_json_str(st, "Version"));
        kv("api version", cli_json_str(st, "ApiVersion"));
        kv("pid", pid);
        kv("started", cli_json_str(st, "StartedAt"));
        kv("socket", cli_json_str(st, "Socket"));
        kv("data root", cli_json_str(st, "DataRoot"));
        kv("run root", cli_json_str(st, "RunRoot"));
        kv("kernel", ks);
        kv("initrd", is);
        kv("containers", ctrs);
        kv("images", imgs);
    }
    json_decref(st);
    return 0;
}

int cli_cmd_system_version(struct cli_ctx *ctx, int argc, char **argv, ctr_error_t *err)
{
    static const struct cli_option opts[] = {
        CLI_OPT_ARG(0, "format", "json|table", O_FORMAT, "output format"),
        CLI_OPT_END,
    };
    static const char *const hdr[] = {"COMPONENT", "VERSION", "API VERSION", "OS/ARCH", NULL};
    struct sys_opts o;
    json_t *v = NULL, *arr = json_array();
    ctr_error_t verr = NULL;
    int r = parse(ctx, opts, argc, argv, &o, err);

    if (r != 0) {
        json_decref(arr);
        return r == 1 ? 0 : -1;
    }
    struct utsname u;
    const char *arch = uname(&u) == 0 ? u.machine : "";
    if (strcmp(arch, "x86_64") == 0)
        arch = "amd64"; /* Go's names, as the daemon reports them */
    else if (strcmp(arch, "aarch64") == 0)
        arch = "arm64";
    cleanup_free char *mine = ctr_xasprintf("linux/%s", arch);
    json_array_append_new(arr,
                          json_pack("{s:s,s:s,s:s,s:s}", "appName", "container", "version",
                                    CLI_VERSION, "apiVersion", CLI_API_PREFIX + 2, "osArch", mine));
    if (cli_call(ctx, "GET", "/version", NULL, &v, &verr) == 0) {
        cleanup_free char *osarch =
            ctr_xasprintf("%s/%s", cli_json_str(v, "Os") ?: "", cli_json_str(v, "Arch") ?: "");
        json_array_append_new(arr,
                              json_pack("{s:s,s:s,s:s,s:s}", "appName", "container-apiserver",
                                        "version", cli_json_str(v, "Version") ?: "", "apiVersion",
                                        cli_json_str(v, "ApiVersion") ?: "", "osArch", osarch));
    } else {
        fprintf(stderr, "container: %s\n", verr->msg);
        ctr_error_free(&verr);
    }
    json_decref(v);
    if (o.format == CLI_FORMAT_JSON) {
        cli_print_json(arr, stdout);
    } else {
        struct cli_table *t = cli_table_new(hdr);
        json_t *e;
        size_t i;
        json_array_foreach(arr, i, e)
        {
            const char *cells[] = {cli_json_str(e, "appName"), cli_json_str(e, "version"),
                                   cli_json_str(e, "apiVersion"), cli_json_str(e, "osArch")};
            cli_table_add(t, cells);
        }
        cli_table_print(t, stdout);
        cli_table_free(t);
    }
    json_decref(arr);
    return 0;
}

static int out_sink(void *opaque, const char *data, size_t len)
{
    return ctr_write_all(STDOUT_FILENO, data, len) < 0 ? -1 : 0;
}

int cli_cmd_system_logs(struct cli_ctx *ctx, int argc, char **argv, ctr_error_t *err)
{
    static const struct cli_option opts[] = {
        CLI_OPT_BOOL('f', "follow", O_FOLLOW, "keep printing new lines"),
        CLI_OPT_ARG('n', "tail", "N", O_TAIL, "only the last N lines"),
        CLI_OPT_END,
    };
    struct sys_opts o;
    cleanup_free char *path = NULL;
    int r = parse(ctx, opts, argc, argv, &o, err);

    if (r != 0)
        return r == 1 ? 0 : -1;
    path = o.tail >= 0
               ? ctr_xasprintf("/container/system/logs?follow=%d&tail=%ld", o.follow, o.tail)
               : ctr_xasprintf("/container/system/logs?follow=%d", o.follow);
    struct cli_request req = {.method = "GET", .path = path, .upload_fd = -1, .sink = out_sink};
    return cli_request(ctx, &req, NULL, err);
}

static void df_row(struct cli_table *t, const char *name, json_t *o)
{
    cleanup_free char *total = ctr_xasprintf("%lld", (long long)cli_json_int(o, "Count"));
    cleanup_free char *active = ctr_xasprintf("%lld", (long long)cli_json_int(o, "Active"));
    cleanup_free char *size = cli_human_size((double)cli_json_int(o, "Size"));
    int64_t sz = cli_json_int(o, "Size"), rec = cli_json_int(o, "Reclaimable");
    cleanup_free char *r = cli_human_size((double)rec);
    cleanup_free char *rp = ctr_xasprintf("%s (%d%%)", r, sz > 0 ? (int)(rec * 100 / sz) : 0);
    const char *cells[] = {name, total, active, size, rp};
    cli_table_add(t, cells);
}

int cli_cmd_system_df(struct cli_ctx *ctx, int argc, char **argv, ctr_error_t *err)
{
    static const struct cli_option opts[] = {
        CLI_OPT_ARG(0, "format", "json|table", O_FORMAT, "output format"),
        CLI_OPT_END,
    };
    static const char *const hdr[] = {"TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE", NULL};
    struct sys_opts o;
    json_t *df = NULL;
    int r = parse(ctx, opts, argc, argv, &o, err);

    if (r != 0)
        return r == 1 ? 0 : -1;
    if (cli_call(ctx, "GET", "/container/system/df", NULL, &df, err) < 0)
        return -1;
    if (o.format == CLI_FORMAT_JSON) {
        cli_print_json(df, stdout);
    } else {
        struct cli_table *t = cli_table_new(hdr);
        df_row(t, "Images", json_object_get(df, "Images"));
        df_row(t, "Containers", json_object_get(df, "Containers"));
        cli_table_print(t, stdout);
        cli_table_free(t);
        cleanup_free char *c = cli_human_size((double)cli_json_int(df, "Content"));
        cleanup_free char *s = cli_human_size((double)cli_json_int(df, "Snapshots"));
        cleanup_free char *k = cli_human_size((double)cli_json_int(df, "Kernel"));
        printf("\ncontent store %s, image snapshots %s, kernel %s\n", c, s, k);
    }
    json_decref(df);
    return 0;
}

int cli_cmd_system_kernel_set(struct cli_ctx *ctx, int argc, char **argv, ctr_error_t *err)
{
    static const struct cli_option opts[] = {
        CLI_OPT_ARG(0, "binary", "PATH", O_BINARY, "the kernel image to install"),
        CLI_OPT_END,
    };
    struct sys_opts o;
    char abs[PATH_MAX];
    json_t *body, *resp = NULL;
    int r = parse(ctx, opts, argc, argv, &o, err);

    if (r != 0)
        return r == 1 ? 0 : -1;
    if (o.binary == NULL)
        return ctr_fail(err, 0, "`container system kernel set` needs `--binary PATH`");
    if (realpath(o.binary, abs) == NULL)
        return ctr_fail(err, errno, "kernel `%s`", o.binary);
    body = json_pack("{s:o}", "Binary", ctr_json_str(abs));
    r = cli_call(ctx, "POST", "/container/system/kernel", body, &resp, err);
    json_decref(body);
    if (r == 0)
        printf("kernel set: %s (%s)\n", cli_json_str(resp, "Path") ?: abs,
               cli_json_str(resp, "Sha256") ?: "");
    json_decref(resp);
    return r;
}
