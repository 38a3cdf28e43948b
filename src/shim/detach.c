/* `container-runtime start`: the shim detaches itself (setsid, double fork) and
 * reports to its caller once the main process runs. */
#include "shim/shim-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int shim_start_detached(const char *bundle, int *exit_code, ctr_error_t *err)
{
    cleanup_free char *abs = realpath(bundle, NULL);
    int p[2];
    pid_t pid;
    char line[8192];
    size_t have = 0;

    *exit_code = 125;
    if (abs == NULL)
        return ctr_fail(err, errno, "bundle `%s`", bundle);
    if (pipe2(p, O_CLOEXEC) < 0)
        return ctr_fail(err, errno, "pipe");
    pid = fork();
    if (pid < 0)
        return ctr_fail(err, errno, "fork");
    if (pid == 0) {
        close(p[0]);
        setsid();
        if (fork() != 0)
            _exit(0); /* the grandchild is reparented: it survives the caller */
        cleanup_free char *logpath = ctr_xasprintf("%s/shim.log", abs);
        int null = open("/dev/null", O_RDWR | O_CLOEXEC);
        int logfd = open(logpath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        dup2(null, 0);
        dup2(null, 1);
        dup2(logfd >= 0 ? logfd : null, 2);
        /* the shim (and its VM) keep no fd of whoever started it but the notify pipe */
        int notify = p[1] == 3 ? 3 : dup3(p[1], 3, O_CLOEXEC);
        close_range(4, ~0u, 0);
        if (notify < 0 || chdir("/") < 0)
            _exit(125);
        struct shim_run_opts o = {.foreground = false, .notify_fd = notify};
        ctr_error_t e = NULL;
        int code = 125;
        if (shim_run(abs, &o, &code, &e) < 0)
            ctr_error_print("container-runtime", e);
        ctr_error_free(&e);
        _exit(code & 0xff);
    }
    close(p[1]);
    waitpid(pid, NULL, 0);
    for (;;) {
        ssize_t n = read(p[0], line + have, sizeof(line) - 1 - have);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        have += (size_t)n;
        if (have == sizeof(line) - 1)
            break;
    }
    close(p[0]);
    line[have] = '\0';
    if (have == 0)
        return ctr_fail(err, 0, "the shim died before the container started; see `%s/shim.log`",
                        abs);
    char *msg = NULL;
    long code = strtol(line, &msg, 10);
    if (code == 0)
        return 0;
    while (*msg == ' ')
        msg++;
    /* the whole message: a VMM failure carries QEMU's stderr on the lines after the first */
    size_t mlen = strlen(msg);
    while (mlen > 0 && (msg[mlen - 1] == '\n' || msg[mlen - 1] == '\r' || msg[mlen - 1] == ' '))
        msg[--mlen] = '\0';
    *exit_code = (int)code;
    return ctr_fail(err, 0, "%s", msg);
}
