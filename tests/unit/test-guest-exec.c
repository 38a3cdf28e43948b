/* vminitd executable lookup (126/127 like docker), exit status encoding, and
 * process spawning (pipes, pty, env, cwd) run on the host. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "guest/guest-internal.h"

static char root[] = "/tmp/test-guest-exec.XXXXXX";

static void make_file(const char *rel, mode_t mode)
{
    char *p = ctr_xasprintf("%s/%s", root, rel);
    int fd = open(p, O_CREAT | O_WRONLY | O_TRUNC, mode);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "#!/bin/sh\n", 10), 10);
    close(fd);
    chmod(p, mode);
    free(p);
}

static int setup(void **state)
{
    ctr_error_t err = NULL;
    if (mkdtemp(root) == NULL)
        return -1;
    for (const char *const *d = (const char *const[]){"bin/adir", "usr/bin", "sbin", NULL}; *d;
         d++) {
        char *p = ctr_xasprintf("%s/%s", root, *d);
        if (ctr_mkdir_p(p, 0755, &err) < 0)
            return -1;
        free(p);
    }
    make_file("bin/ok", 0755);
    make_file("bin/noexec", 0644);
    make_file("bin/dup", 0755);
    make_file("usr/bin/dup", 0755);
    make_file("usr/bin/other", 0700);
    make_file("sbin/adir", 0755); /* a file behind a directory of the same name */
    return 0;
}

static int teardown(void **state)
{
    ctr_error_t err = NULL;
    ctr_rm_rf(root, &err);
    ctr_error_free(&err);
    return 0;
}

static void lookup_ok(const char *file, const char *path, const char *expect)
{
    ctr_error_t err = NULL;
    char *out = NULL;
    int code = 0;

    if (guest_lookup_exec(root, file, path, &out, &code, &err) < 0)
        fail_msg("lookup `%s`: %s", file, err->msg);
    assert_string_equal(out, expect);
    free(out);
}

static void lookup_bad(const char *file, const char *path, int code_expect, const char *msg)
{
    ctr_error_t err = NULL;
    char *out = NULL;
    int code = 0;

    if (guest_lookup_exec(root, file, path, &out, &code, &err) == 0)
        fail_msg("lookup `%s` found `%s`", file, out);
    assert_int_equal(code, code_expect);
    assert_string_equal(err->msg, msg);
    ctr_error_free(&err);
}

static void test_lookup(void **state)
{
    lookup_ok("ok", "/bin", "/bin/ok");
    lookup_ok("ok", "/nonexistent:/bin", "/bin/ok");
    lookup_ok("other", NULL, "/usr/bin/other"); /* default docker PATH */
    lookup_ok("dup", "/usr/bin:/bin", "/usr/bin/dup");
    lookup_ok("dup", "/bin:/usr/bin", "/bin/dup");
    lookup_ok("adir", "/bin:/sbin", "/sbin/adir"); /* directories are skipped */
    lookup_ok("/bin/ok", "", "/bin/ok");
    lookup_ok("/usr/bin/../../bin/ok", NULL, "/usr/bin/../../bin/ok");

    lookup_bad("nosuch", NULL, 127, "exec: \"nosuch\": executable file not found in $PATH");
    lookup_bad("noexec", "/bin", 127, "exec: \"noexec\": executable file not found in $PATH");
    lookup_bad("ok", "", 127, "exec: \"ok\": executable file not found in $PATH");
    lookup_bad("", "/bin", 127, "exec: \"\": executable file not found in $PATH");
    lookup_bad("/bin/noexec", NULL, 126, "exec: \"/bin/noexec\": permission denied");
    lookup_bad("/bin/adir", NULL, 126, "exec: \"/bin/adir\": is a directory");
    lookup_bad("/bin/missing", NULL, 127,
               "exec: \"/bin/missing\": stat /bin/missing: no such file or directory");
    lookup_bad("/bin/ok/sub", NULL, 127, "exec: \"/bin/ok/sub\": not a directory");
}

static void test_errno_mapping(void **state)
{
    assert_int_equal(guest_exec_errno_code(ENOENT), 127);
    assert_int_equal(guest_exec_errno_code(ENOTDIR), 127);
    assert_int_equal(guest_exec_errno_code(EACCES), 126);
    assert_int_equal(guest_exec_errno_code(ENOEXEC), 126);
    assert_int_equal(guest_exec_errno_code(EPERM), 126);
    char *m = guest_exec_errno_msg("x", ENOEXEC);
    assert_string_equal(m, "exec: \"x\": exec format error");
    free(m);
}

static int child_status(void (*fn)(void))
{
    int st;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        fn();
    assert_int_equal(waitpid(pid, &st, 0), pid);
    return guest_wait_status(st);
}

static void exit_7(void)
{
    _exit(7);
}
static void exit_0(void)
{
    _exit(0);
}
static void die_kill(void)
{
    raise(SIGKILL);
    _exit(1);
}
static void die_term(void)
{
    signal(SIGTERM, SIG_DFL);
    raise(SIGTERM);
    _exit(1);
}

static void test_wait_status(void **state)
{
    assert_int_equal(child_status(exit_7), 7);
    assert_int_equal(child_status(exit_0), 0);
    assert_int_equal(child_status(die_kill), 137);
    assert_int_equal(child_status(die_term), 143);
}

static void test_env_get(void **state)
{
    char *env[] = {"PATH=/x", "PATHX=y", "HOME=", NULL};
    assert_string_equal(guest_env_get(env, "PATH"), "/x");
    assert_string_equal(guest_env_get(env, "HOME"), "");
    assert_null(guest_env_get(env, "PAT"));
    assert_null(guest_env_get(NULL, "PATH"));
}

/* ---- guest_spawn on the host: needs root (setgroups) ---- */

static char *read_all_fd(int fd)
{
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 5000) <= 0)
            break;
        ssize_t n = read(fd, buf + len, cap - len - 1);
        if (n <= 0)
            break; /* EOF, or EIO on a pty master */
        len += (size_t)n;
        if (len + 1 == cap)
            buf = realloc(buf, cap *= 2);
    }
    buf[len] = '\0';
    return buf;
}

static int reap(pid_t pid)
{
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    return guest_wait_status(st);
}

static struct agent_exec base_exec(char **args, char **env)
{
    return (struct agent_exec){
        .process = "t", .args = args, .env = env, .stdout_stream = 1, .stderr_stream = 2};
}

static void test_spawn_pipes(void **state)
{
    if (geteuid() != 0)
        skip();
    char *args[] = {"sh", "-c", "cat; echo \"$HOME|$FOO|$(pwd)\"; echo err >&2; exit 3", NULL};
    char *env[] = {"FOO=bar", "PATH=/usr/bin:/bin", NULL};
    char *cwd = ctr_xasprintf("%s/work/dir", root);
    struct agent_exec e = base_exec(args, env);
    struct guest_spawned sp;
    ctr_error_t err = NULL;
    int code;

    e.stdin_stream = 3;
    e.cwd = cwd;
    if (guest_spawn(&e, &sp, &code, &err) < 0)
        fail_msg("spawn: %s", err->msg);
    assert_false(sp.pty);
    assert_true(sp.in_fd >= 0 && sp.out_fd >= 0 && sp.err_fd >= 0);
    assert_true(fcntl(sp.out_fd, F_GETFL) & O_NONBLOCK);
    fcntl(sp.in_fd, F_SETFL, 0);
    assert_int_equal(write(sp.in_fd, "abc\n", 4), 4);
    close(sp.in_fd);
    char *out = read_all_fd(sp.out_fd), *errs = read_all_fd(sp.err_fd);
    char *expect = ctr_xasprintf("abc\n/root|bar|%s\n", cwd);
    assert_string_equal(out, expect);
    assert_string_equal(errs, "err\n");
    assert_int_equal(reap(sp.pid), 3);
    close(sp.out_fd);
    close(sp.err_fd);
    free(out);
    free(errs);
    free(expect);
    free(cwd);
}

static void test_spawn_failures(void **state)
{
    if (geteuid() != 0)
        skip();
    char *noexec = ctr_xasprintf("%s/bin/noexec", root);
    char *args[] = {"nosuch", NULL};
    char *env[] = {"PATH=/usr/bin:/bin", NULL};
    struct agent_exec e = base_exec(args, env);
    struct guest_spawned sp;
    ctr_error_t err = NULL;
    int code = 0;

    assert_int_equal(guest_spawn(&e, &sp, &code, &err), -1);
    assert_int_equal(code, 127);
    assert_string_equal(err->msg, "exec: \"nosuch\": executable file not found in $PATH");
    ctr_error_free(&err);

    args[0] = noexec;
    assert_int_equal(guest_spawn(&e, &sp, &code, &err), -1);
    assert_int_equal(code, 126);
    assert_non_null(strstr(err->msg, "permission denied"));
    assert_non_null(strstr(err->msg, noexec));
    ctr_error_free(&err);

    args[0] = "true";
    e.user = "no-such-user-here";
    assert_int_equal(guest_spawn(&e, &sp, &code, &err), -1);
    assert_non_null(strstr(err->msg, "unable to find user no-such-user-here"));
    ctr_error_free(&err);
    free(noexec);
}

static void test_spawn_pty(void **state)
{
    if (geteuid() != 0)
        skip();
    char *args[] = {"sh", "-c", "tty; stty size", NULL};
    char *env[] = {"PATH=/usr/bin:/bin", NULL};
    struct agent_exec e = base_exec(args, env);
    struct guest_spawned sp;
    ctr_error_t err = NULL;
    int code;

    e.terminal = true;
    e.rows = 40;
    e.cols = 123;
    if (guest_spawn(&e, &sp, &code, &err) < 0) {
        if (err->errnum == ENOENT || err->errnum == EACCES)
            skip(); /* no usable devpts in this environment */
        fail_msg("spawn: %s", err->msg);
    }
    assert_true(sp.pty);
    assert_int_equal(sp.err_fd, -1);
    char *out = read_all_fd(sp.out_fd);
    assert_int_equal(reap(sp.pid), 0);
    assert_non_null(strstr(out, "/dev/pts/"));
    assert_non_null(strstr(out, "40 123"));
    close(sp.out_fd);
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lookup),      cmocka_unit_test(test_errno_mapping),
        cmocka_unit_test(test_wait_status), cmocka_unit_test(test_env_get),
        cmocka_unit_test(test_spawn_pipes), cmocka_unit_test(test_spawn_failures),
        cmocka_unit_test(test_spawn_pty),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
