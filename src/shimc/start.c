/* The container-runtime binary: which one, `container-runtime start` for a detached
 * shim (the daemon's start), and the error in its stderr. */
#include "shimc/shimc-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern char **environ;

static char *runtime_path;

void shimc_set_runtime(const char *path)
{
    free(runtime_path);
    runtime_path = path ? ctr_xstrdup(path) : NULL;
}

char *shimc_runtime(void)
{
    const char *env = getenv("CONTAINER_RUNTIME_BIN");
    char self[4096];
    ssize_t n;

    if (runtime_path)
        return ctr_xstrdup(runtime_path);
    if (env && env[0])
        return ctr_xstrdup(env);
    n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n > 0) {
        self[n] = '\0';
        char *p = ctr_xasprintf("%s/container-runtime", dirname(self));
        if (access(p, X_OK) == 0)
            return p;
        free(p);
    }
    return ctr_xstrdup("container-runtime");
}

pid_t shimc_start_spawn(const char *bundle, int *err_fd, ctr_error_t *err)
{
    int p[2];
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    sigset_t none, all;
    pid_t pid;
    cleanup_free char *rt = shimc_runtime();
    char *argv[] = {rt, "start", (char *)bundle, NULL};

    if (pipe2(p, O_CLOEXEC) < 0)
        return ctr_fail(err, errno, "pipe");
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, p[1], 2);
    posix_spawnattr_init(&at);
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setsigdefault(&at, &all);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    int r = posix_spawn(&pid, rt, &fa, &at, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    close(p[1]);
    if (r != 0) {
        close(p[0]);
        return ctr_fail(err, r, "cannot run the runtime `%s`", rt);
    }
    *err_fd = p[0];
    return pid;
}

static bool is_log_line(const char *rest)
{
    static const char *const levels[] = {"error: ", "warn: ", "info: ", "debug: "};
    for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++)
        if (strncmp(rest, levels[i], strlen(levels[i])) == 0)
            return true;
    return false;
}

char *shimc_start_error_text(const char *out)
{
    static const char prefix[] = "container-runtime: ";
    const size_t plen = sizeof(prefix) - 1;
    const char *start = NULL;

    /* The error is the last `container-runtime: ` line that is not a log line, with the
     * lines after it (a VMM failure: QEMU's stderr); log lines before it are left out. */
    for (const char *p = out; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
        if (strncmp(p, prefix, plen) == 0 && !is_log_line(p + plen))
            start = p + plen;
    if (start == NULL)
        start = out;
    while (*start == ' ' || *start == '\n' || *start == '\r')
        start++;
    size_t len = strlen(start);
    while (len > 0 && (start[len - 1] == '\n' || start[len - 1] == '\r' || start[len - 1] == ' '))
        len--;
    if (len == 0)
        return NULL;
    /* Bounded: the first line, then at most the last SHIMC_START_ERROR_LINES lines. */
    const char *first_end = memchr(start, '\n', len);
    if (first_end == NULL)
        return ctr_xstrndup(start, len > 4096 ? 4096 : len);
    const char *tail = start + len;
    int lines = 0;
    while (tail > first_end + 1 && lines < SHIMC_START_ERROR_LINES) {
        tail--;
        while (tail > first_end + 1 && tail[-1] != '\n')
            tail--;
        lines++;
    }
    size_t tlen = (size_t)(start + len - tail);
    if (tlen > 4096) {
        tail += tlen - 4096;
        tlen = 4096;
    }
    size_t flen = (size_t)(first_end - start);
    if (flen > 1024)
        flen = 1024;
    return ctr_xasprintf("%.*s%s\n%.*s", (int)flen, start, tail > first_end + 1 ? "\n..." : "",
                         (int)tlen, tail);
}
