/* Executable lookup and exit-status mapping with Docker's semantics: a missing
 * executable is 127, a non-executable one 126, and the message names the file. */
#include "guest/guest-internal.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

const char *guest_env_get(char *const *env, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; env && env[i]; i++)
        if (strncmp(env[i], name, n) == 0 && env[i][n] == '=')
            return env[i] + n + 1;
    return NULL;
}

int guest_wait_status(int wstatus)
{
    if (WIFEXITED(wstatus))
        return WEXITSTATUS(wstatus);
    if (WIFSIGNALED(wstatus))
        return 128 + WTERMSIG(wstatus);
    return 255;
}

int guest_exec_errno_code(int errnum)
{
    return errnum == ENOENT || errnum == ENOTDIR ? 127 : 126;
}

char *guest_exec_errno_msg(const char *file, int errnum)
{
    char *reason = ctr_xstrdup(strerror(errnum));
    char *msg;

    reason[0] = (char)tolower((unsigned char)reason[0]); /* as Go prints errno */
    msg = ctr_xasprintf("exec: \"%s\": %s", file, reason);
    free(reason);
    return msg;
}

static char *join_root(const char *root, const char *path)
{
    if (root == NULL || root[0] == '\0')
        return ctr_xstrdup(path);
    return ctr_xasprintf("%s%s%s", root, path[0] == '/' ? "" : "/", path);
}

/* Docker/Go LookPath: a candidate is a non-directory with some execute bit. */
static int check_candidate(const char *root, const char *path, int *errnum)
{
    cleanup_free char *full = join_root(root, path);
    struct stat st;

    if (stat(full, &st) < 0) {
        *errnum = errno;
        return -1;
    }
    if (S_ISDIR(st.st_mode)) {
        *errnum = EISDIR;
        return -1;
    }
    if ((st.st_mode & 0111) == 0) {
        *errnum = EACCES;
        return -1;
    }
    return 0;
}

int guest_lookup_exec(const char *root, const char *file, const char *path_env, char **out,
                      int *code, ctr_error_t *err)
{
    cleanup_free char *paths = NULL;
    char *save = NULL, *dir;
    int errnum = 0;

    if (file[0] == '\0') {
        *code = 127;
        return ctr_fail(err, 0, "exec: \"\": executable file not found in $PATH");
    }
    if (strchr(file, '/') != NULL) {
        if (check_candidate(root, file, &errnum) < 0) {
            *code = guest_exec_errno_code(errnum);
            if (errnum == ENOENT)
                return ctr_fail(err, 0, "exec: \"%s\": stat %s: no such file or directory", file,
                                file);
            cleanup_free char *msg = guest_exec_errno_msg(file, errnum);
            return ctr_fail(err, 0, "%s", msg);
        }
        *out = ctr_xstrdup(file);
        return 0;
    }
    paths = ctr_xstrdup(path_env ? path_env : GUEST_DEFAULT_PATH);
    /* strtok_r would skip empty entries; an empty entry means "." as in Go. */
    for (dir = paths; dir != NULL; dir = save) {
        save = strchr(dir, ':');
        if (save)
            *save++ = '\0';
        cleanup_free char *cand = ctr_xasprintf("%s/%s", dir[0] ? dir : ".", file);
        if (check_candidate(root, cand, &errnum) == 0) {
            *out = ctr_steal_ptr(cand);
            return 0;
        }
    }
    *code = 127;
    return ctr_fail(err, 0, "exec: \"%s\": executable file not found in $PATH", file);
}
