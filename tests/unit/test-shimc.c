/* The shim client library (src/shimc): the socket address rule, and the exec/attach
 * relay against a fake shim on a socketpair: output and exit, a refusal, a shim that
 * never reads (the deadline), a caller that half-closes (stdin EOF); the error text of
 * `container-runtime start`. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
/* cmocka needs the three above first */
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shimc/shimc.h"

struct collected {
    char out[256], err[256];
    size_t out_len, err_len;
};

static int collect(void *ctx, int which, const uint8_t *data, size_t len)
{
    struct collected *c = ctx;
    char *buf = which == 2 ? c->err : c->out;
    size_t *n = which == 2 ? &c->err_len : &c->out_len;
    if (*n + len >= sizeof(c->out))
        return -1;
    memcpy(buf + *n, data, len);
    *n += len;
    buf[*n] = '\0';
    return 0;
}

static void shim_says(int fd, const struct shimp_msg *m)
{
    size_t len;
    char *json = shimp_msg_encode(m, &len);
    assert_int_equal(
        agent_frame_write(fd, AGENT_CONTROL_STREAM, AGENT_FRAME_CONTROL, json, (uint32_t)len, NULL),
        0);
    free(json);
}

static void shim_data(int fd, uint32_t stream, const char *s)
{
    assert_int_equal(agent_frame_write(fd, stream, AGENT_FRAME_DATA, s, (uint32_t)strlen(s), NULL),
                     0);
}

static void sock_addr_long_bundle(void **state)
{
    char dir[] = "/tmp/shimc-test.XXXXXX";
    assert_non_null(mkdtemp(dir));
    struct sockaddr_un sa;
    int dirfd;
    assert_int_equal(shimc_sock_addr(dir, &sa, &dirfd, NULL), 0);
    assert_int_equal(dirfd, -1);
    char *want = ctr_xasprintf("%s/shim.sock", dir);
    assert_string_equal(sa.sun_path, want);
    free(want);

    /* a bundle path longer than sun_path goes through /proc/self/fd/N */
    char *deep = ctr_xstrdup(dir);
    while (strlen(deep) < sizeof(sa.sun_path) + 10) {
        char *next = ctr_xasprintf("%s/%s", deep, "abcdefghijklmnopqrstuvwxyz");
        free(deep);
        deep = next;
        assert_int_equal(mkdir(deep, 0700), 0);
    }
    assert_int_equal(shimc_sock_addr(deep, &sa, &dirfd, NULL), 0);
    assert_true(dirfd >= 0);
    char *proc = ctr_xasprintf("/proc/self/fd/%d/shim.sock", dirfd);
    assert_string_equal(sa.sun_path, proc);
    free(proc);
    close(dirfd);
    /* no shim there: connect says so */
    ctr_error_t err = NULL;
    assert_int_equal(shimc_connect(deep, &err), -1);
    assert_non_null(strstr(err->msg, "is the container running?"));
    ctr_error_free(&err);
    assert_false(shimc_answers(deep));
    free(deep);
    ctr_error_free(&err);
    char *cmd = ctr_xasprintf("rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
    free(cmd);
}

static void relay_output_and_exit(void **state)
{
    int sp[2];
    struct collected c = {0};
    ctr_error_t err = NULL;
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp), 0);
    shim_says(sp[1], &(struct shimp_msg){.kind = SHIMP_MSG_REPLY, .ok = true});
    shim_data(sp[1], SHIMP_STREAM_STDOUT, "hello ");
    shim_data(sp[1], SHIMP_STREAM_STDERR, "oops");
    shim_data(sp[1], SHIMP_STREAM_STDOUT, "world");
    shim_says(sp[1], &(struct shimp_msg){.kind = SHIMP_MSG_EXIT, .status = 3});
    struct shimc_relay rl = {.shim_fd = sp[0],
                             .bundle = "/nonexistent",
                             .in_fd = -1,
                             .sig_fd = -1,
                             .output = collect,
                             .ctx = &c};
    assert_int_equal(shimc_relay_run(&rl, &err), 3);
    assert_null(err);
    assert_false(rl.refused);
    assert_string_equal(c.out, "hello world");
    assert_string_equal(c.err, "oops");
    close(sp[0]);
    close(sp[1]);
}

static void relay_refused(void **state)
{
    int sp[2];
    struct collected c = {0};
    ctr_error_t err = NULL;
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp), 0);
    shim_says(sp[1], &(struct shimp_msg){.kind = SHIMP_MSG_REPLY,
                                         .error = "executable file `nope` not found",
                                         .code = 127});
    struct shimc_relay rl = {
        .shim_fd = sp[0], .bundle = "/x", .in_fd = -1, .sig_fd = -1, .output = collect, .ctx = &c};
    assert_int_equal(shimc_relay_run(&rl, &err), -1);
    assert_true(rl.refused);
    assert_false(rl.timed_out);
    assert_int_equal(rl.code, 127);
    assert_string_equal(err->msg, "executable file `nope` not found");
    ctr_error_free(&err);
    /* the shim closing without an exit event is no refusal */
    close(sp[1]);
    struct shimc_relay rl2 = {
        .shim_fd = sp[0], .bundle = "/x", .in_fd = -1, .sig_fd = -1, .output = collect, .ctx = &c};
    assert_int_equal(shimc_relay_run(&rl2, &err), -1);
    assert_false(rl2.refused);
    assert_false(rl2.timed_out);
    assert_non_null(strstr(err->msg, "the shim closed the connection"));
    ctr_error_free(&err);
    close(sp[0]);
}

/* A shim that never reads the request: the deadline, not extended. */
static void relay_deadline(void **state)
{
    int sp[2];
    struct collected c = {0};
    ctr_error_t err = NULL;
    setenv("CONTAINER_SHIM_TIMEOUT", "1", 1);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp), 0);
    struct shimp_request req = {.op = SHIMP_OP_ATTACH};
    assert_int_equal(shimc_send(sp[0], NULL, &req, NULL), 0);
    assert_true(shimc_request_unread(sp[0]));
    struct shimc_relay rl = {.shim_fd = sp[0],
                             .bundle = "/nonexistent",
                             .in_fd = -1,
                             .sig_fd = -1,
                             .output = collect,
                             .ctx = &c};
    uint64_t t0 = ctr_now_ns();
    assert_int_equal(shimc_relay_run(&rl, &err), -1);
    assert_true(rl.timed_out);
    assert_int_equal(err->errnum, ETIMEDOUT);
    assert_non_null(strstr(err->msg, "did not answer the request within 1 s (hung?)"));
    assert_true(ctr_now_ns() - t0 >= 900000000ull);
    ctr_error_free(&err);
    unsetenv("CONTAINER_SHIM_TIMEOUT");
    close(sp[0]);
    close(sp[1]);
}

/* A peer caller: its data goes on as stdin, its half-close as stdin EOF, and the
 * relay goes on until the exit event. */
static void relay_peer_stdin(void **state)
{
    int sp[2], cp[2];
    struct collected c = {0};
    ctr_error_t err = NULL;
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp), 0);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, cp), 0);
    assert_int_equal(write(cp[1], "input", 5), 5);
    shutdown(cp[1], SHUT_WR);
    shim_says(sp[1], &(struct shimp_msg){.kind = SHIMP_MSG_REPLY, .ok = true});
    struct shimc_relay rl = {.shim_fd = sp[0],
                             .in_fd = cp[0],
                             .stdin_open = true,
                             .in_peer = true,
                             .sig_fd = -1,
                             .output = collect,
                             .ctx = &c};
    /* the fake shim answers the exit once it saw stdin's EOF: run it in a child */
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct agent_decoder dec;
        uint8_t buf[4096];
        bool data = false, eof = false;
        agent_decoder_init(&dec);
        while (!eof) {
            ssize_t n = read(sp[1], buf, sizeof(buf));
            if (n <= 0)
                _exit(2);
            for (size_t off = 0; off < (size_t)n;) {
                struct agent_frame f;
                size_t used;
                int r = agent_decoder_feed(&dec, buf + off, (size_t)n - off, &used, &f, NULL);
                off += used;
                if (r < 0)
                    _exit(3);
                if (r == 0)
                    break;
                if (f.stream == SHIMP_STREAM_STDIN && f.type == AGENT_FRAME_DATA)
                    data = f.length == 5 && memcmp(f.payload, "input", 5) == 0;
                if (f.stream == SHIMP_STREAM_STDIN && f.type == AGENT_FRAME_EOF)
                    eof = true;
            }
        }
        shim_says(sp[1], &(struct shimp_msg){.kind = SHIMP_MSG_EXIT, .status = data ? 0 : 9});
        _exit(0);
    }
    assert_int_equal(shimc_relay_run(&rl, &err), 0);
    assert_null(err);
    assert_false(rl.stdin_open);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    close(sp[0]);
    close(sp[1]);
    close(cp[0]);
    close(cp[1]);
}

/* The error in `container-runtime start`'s stderr: the last error line that is not a
 * log line, with the lines after it (QEMU's stderr). */
static void start_error_text(void **state)
{
    char *m = shimc_start_error_text("container-runtime: warn: slow disk\n"
                                     "container-runtime: the vm ended: qemu exited 1\n"
                                     "qemu: bad option\n"
                                     "container-runtime: info: bye\n");
    assert_string_equal(m, "the vm ended: qemu exited 1\nqemu: bad option\n"
                           "container-runtime: info: bye");
    free(m);
    assert_null(shimc_start_error_text("  \n"));
    m = shimc_start_error_text("plain text\n");
    assert_string_equal(m, "plain text");
    free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sock_addr_long_bundle), cmocka_unit_test(relay_output_and_exit),
        cmocka_unit_test(relay_refused),         cmocka_unit_test(relay_deadline),
        cmocka_unit_test(relay_peer_stdin),      cmocka_unit_test(start_error_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
