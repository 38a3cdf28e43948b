/* The CLI's wire side: the multiplexed stdout/stderr decoder fed hostile and
 * split input, and the API client against a scripted HTTP server on a unix
 * socket (error messages, not-running/permission messages, the hand-made
 * upgrade of hijacked streams, wait headers before the body). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <pty.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/cli.h"

/* ---- demux ---- */
struct collected {
    char out[4096], err[4096];
    size_t out_len, err_len;
    int calls;
};

static int collect(void *opaque, int stream, const char *data, size_t len)
{
    struct collected *c = opaque;
    c->calls++;
    if (stream == 1) {
        memcpy(c->out + c->out_len, data, len);
        c->out_len += len;
    } else {
        memcpy(c->err + c->err_len, data, len);
        c->err_len += len;
    }
    return 0;
}

static size_t frame(char *buf, int stream, const char *payload)
{
    size_t n = strlen(payload);
    buf[0] = (char)stream;
    buf[1] = buf[2] = buf[3] = 0;
    buf[4] = (char)(n >> 24);
    buf[5] = (char)(n >> 16);
    buf[6] = (char)(n >> 8);
    buf[7] = (char)n;
    memcpy(buf + 8, payload, n);
    return n + 8;
}

static void test_demux_split(void **state)
{
    char wire[256];
    size_t len = 0;
    struct collected c = {0};
    struct cli_demux d;
    ctr_error_t err = NULL;

    len += frame(wire + len, 1, "hello ");
    len += frame(wire + len, 2, "oops\n");
    len += frame(wire + len, 1, "");
    len += frame(wire + len, 1, "world\n");
    /* Every split point, byte by byte: same result. */
    for (size_t step = 1; step <= len; step++) {
        memset(&c, 0, sizeof(c));
        cli_demux_init(&d);
        for (size_t off = 0; off < len; off += step) {
            size_t n = len - off < step ? len - off : step;
            assert_int_equal(cli_demux_feed(&d, wire + off, n, collect, &c, &err), 0);
        }
        assert_int_equal(cli_demux_finish(&d, &err), 0);
        assert_int_equal(c.out_len, 12);
        assert_memory_equal(c.out, "hello world\n", 12);
        assert_int_equal(c.err_len, 5);
        assert_memory_equal(c.err, "oops\n", 5);
    }
}

static void test_demux_hostile(void **state)
{
    struct collected c = {0};
    struct cli_demux d;
    ctr_error_t err = NULL;
    static const char bad_stream[8] = {7, 0, 0, 0, 0, 0, 0, 1};
    static const char bad_pad[8] = {1, 0, 1, 0, 0, 0, 0, 1};
    /* A header claiming 4 GiB: bytes are passed on as they come, nothing is buffered. */
    static const char huge[12] = {1,          0,          0,   0,   (char)0xff, (char)0xff,
                                  (char)0xff, (char)0xff, 'a', 'b', 'c',        'd'};

    cli_demux_init(&d);
    assert_int_equal(cli_demux_feed(&d, bad_stream, 8, collect, &c, &err), -1);
    assert_non_null(strstr(err->msg, "malformed stream"));
    ctr_error_free(&err);
    cli_demux_init(&d);
    assert_int_equal(cli_demux_feed(&d, bad_pad, 8, collect, &c, &err), -1);
    ctr_error_free(&err);
    assert_int_equal(c.calls, 0);

    cli_demux_init(&d);
    assert_int_equal(cli_demux_feed(&d, huge, sizeof(huge), collect, &c, &err), 0);
    assert_int_equal(c.out_len, 4);
    assert_int_equal(cli_demux_finish(&d, &err), -1); /* cut inside the frame */
    assert_non_null(strstr(err->msg, "ended inside a frame"));
    ctr_error_free(&err);

    cli_demux_init(&d);
    assert_int_equal(cli_demux_feed(&d, huge, 5, collect, &c, &err), 0);
    assert_int_equal(cli_demux_finish(&d, &err), -1); /* cut inside the header */
    assert_non_null(strstr(err->msg, "frame header"));
    ctr_error_free(&err);

    /* stream 3 (daemon error text) goes to stderr */
    char w[64];
    memset(&c, 0, sizeof(c));
    cli_demux_init(&d);
    size_t n = frame(w, 3, "boom");
    assert_int_equal(cli_demux_feed(&d, w, n, collect, &c, &err), 0);
    assert_int_equal(c.err_len, 4);
}

/* ---- a scripted server ---- */
struct server {
    char path[108];
    int lfd;
    pthread_t thread;
    const char *responses[4]; /* one per connection */
    size_t n;
    char request[4][8192];
    const char *late_body; /* sent after a pause on the last connection */
    int late_fd;
};

static size_t read_request(int fd, char *buf, size_t cap)
{
    size_t len = 0;
    /* Headers, then Content-Length bytes. */
    while (len < cap - 1) {
        ssize_t r = read(fd, buf + len, cap - 1 - len);
        if (r <= 0)
            break;
        len += (size_t)r;
        buf[len] = '\0';
        char *end = strstr(buf, "\r\n\r\n");
        if (end) {
            const char *cl = strcasestr(buf, "content-length:");
            size_t want = cl ? strtoul(cl + 15, NULL, 10) : 0;
            if (len >= (size_t)(end + 4 - buf) + want)
                break;
        }
    }
    buf[len] = '\0';
    return len;
}

static void *serve(void *opaque)
{
    struct server *s = opaque;
    for (size_t i = 0; i < s->n; i++) {
        int fd = accept(s->lfd, NULL, NULL);
        if (fd < 0)
            break;
        read_request(fd, s->request[i], sizeof(s->request[i]));
        ctr_write_all(fd, s->responses[i], strlen(s->responses[i]));
        if (i + 1 == s->n && s->late_body) {
            usleep(200 * 1000);
            ctr_write_all(fd, s->late_body, strlen(s->late_body));
        }
        close(fd);
    }
    return NULL;
}

static void server_start(struct server *s)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(s->path, sizeof(s->path), "/tmp/cli-test-%d.sock", (int)getpid());
    unlink(s->path);
    strcpy(sa.sun_path, s->path);
    s->lfd = socket(AF_UNIX, SOCK_STREAM, 0);
    assert_int_equal(bind(s->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(s->lfd, 4), 0);
    assert_int_equal(pthread_create(&s->thread, NULL, serve, s), 0);
}

static void server_stop(struct server *s)
{
    pthread_join(s->thread, NULL);
    close(s->lfd);
    unlink(s->path);
}

static void test_client_errors(void **state)
{
    struct server s = {.n = 2,
                       .responses = {"HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\n"
                                     "Content-Length: 46\r\n\r\n"
                                     "{\"message\":\"no such container: `nosuchthing`\"}",
                                     "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                     "Content-Length: 20\r\n\r\n[{\"Id\":\"abc\"},\"x\"]  "}};
    struct cli_ctx ctx = {0};
    ctr_error_t err = NULL;
    json_t *j = NULL;

    server_start(&s);
    ctx.socket = s.path;
    assert_int_equal(cli_call(&ctx, "GET", "/v1.43/containers/nosuchthing/json", NULL, &j, &err),
                     -1);
    assert_string_equal(err->msg, "no such container: `nosuchthing`");
    ctr_error_free(&err);
    assert_int_equal(cli_call(&ctx, "GET", "/v1.43/containers/json", NULL, &j, &err), 0);
    assert_int_equal(json_array_size(j), 2);
    json_decref(j);
    server_stop(&s);
    assert_non_null(strstr(s.request[0], "GET /v1.43/containers/nosuchthing/json HTTP/1.1"));

    /* Nobody listens: the not-running message, naming the socket. */
    assert_int_equal(cli_call(&ctx, "GET", "/_ping", NULL, NULL, &err), -1);
    assert_non_null(strstr(err->msg, "container system is not running; start it with "
                                     "`container system start`"));
    assert_non_null(strstr(err->msg, s.path));
    ctr_error_free(&err);

    /* The permission message names the socket's group. */
    assert_int_equal(cli_connect_error("/", EACCES, &err), -1);
    assert_non_null(strstr(err->msg, "permission denied on the API socket `/`"));
    ctr_error_free(&err);

    char *m = cli_error_message(500, "plain text\n", 11);
    assert_string_equal(m, "plain text");
    free(m);
    m = cli_error_message(502, NULL, 0);
    assert_string_equal(m, "the daemon answered HTTP 502");
    free(m);
}

static void test_hijack(void **state)
{
    struct server s = {.n = 2,
                       .responses = {"HTTP/1.1 101 UPGRADED\r\nContent-Type: "
                                     "application/vnd.docker.multiplexed-stream\r\n"
                                     "Connection: Upgrade\r\nUpgrade: tcp\r\n\r\nearly bytes",
                                     "HTTP/1.1 409 Conflict\r\nContent-Type: application/json\r\n"
                                     "Content-Length: 39\r\n\r\n"
                                     "{\"message\":\"container is not running\"}"}};
    struct cli_ctx ctx = {0};
    ctr_error_t err = NULL;
    char *pre = NULL;
    size_t pre_len = 0;
    int fd = -1;
    json_t *body = json_pack("{s:b,s:b}", "Detach", 0, "Tty", 1);

    server_start(&s);
    ctx.socket = s.path;
    assert_int_equal(
        cli_hijack(&ctx, "POST", "/v1.43/exec/e1/start", body, &fd, &pre, &pre_len, &err), 0);
    assert_int_equal(pre_len, 11);
    assert_memory_equal(pre, "early bytes", 11);
    free(pre);
    close(fd);
    assert_int_equal(
        cli_hijack(&ctx, "POST", "/v1.43/containers/c/attach", NULL, &fd, &pre, &pre_len, &err),
        -1);
    assert_string_equal(err->msg, "container is not running");
    ctr_error_free(&err);
    server_stop(&s);
    json_decref(body);
    assert_non_null(strstr(s.request[0], "Upgrade: tcp\r\n"));
    assert_non_null(strstr(s.request[0], "Connection: Upgrade\r\n"));
    assert_non_null(strstr(s.request[0], "{\"Detach\":false,\"Tty\":true}"));
}

static void test_wait_headers_first(void **state)
{
    /* Headers at once, body 200 ms later: begin returns before the body. */
    struct server s = {.n = 1,
                       .responses = {"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                     "Transfer-Encoding: chunked\r\n\r\n"},
                       .late_body = "20\r\n{\"StatusCode\":42,\"Error\":null}\n\r\n0\r\n\r\n"};
    struct cli_ctx ctx = {0};
    struct cli_waiter *w = NULL;
    ctr_error_t err = NULL;
    int code = -1;

    server_start(&s);
    ctx.socket = s.path;
    uint64_t t0 = ctr_now_ns();
    assert_int_equal(cli_wait_begin(&ctx, "web", "next-exit", &w, &err), 0);
    assert_true(ctr_now_ns() - t0 < 150ull * 1000 * 1000);
    assert_int_equal(cli_wait_end(w, &code, &err), 0);
    assert_int_equal(code, 42);
    server_stop(&s);
    assert_non_null(strstr(s.request[0], "POST /v1.43/containers/web/wait?condition=next-exit"));
}

/* ---- the pump, in a child whose stdio we control ---- */
/* Child: stdin/stdout replaced, pump on fd; exits 10 + detached, or 1 on error. */
static void pump_child(int fd, int in, int out, bool tty)
{
    struct cli_ctx ctx = {.socket = "/nonexistent"};
    struct cli_pump_opts po = {
        .tty = tty, .send_stdin = true, .detach_keys = tty ? CTR_DETACH_KEYS_DEFAULT : NULL};
    ctr_error_t err = NULL;
    bool detached = false;

    dup2(in, STDIN_FILENO);
    dup2(out, STDOUT_FILENO);
    if (cli_pump(&ctx, fd, "pre:", 4, &po, &detached, &err) < 0) {
        fprintf(stderr, "pump: %s\n", err->msg);
        _exit(1);
    }
    _exit(10 + detached);
}

static void test_pump_half_close(void **state)
{
    int sp[2], in[2], out[2], st;
    char buf[256];
    size_t len = 0;
    ssize_t r;

    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
    assert_int_equal(pipe(in), 0);
    assert_int_equal(pipe(out), 0);
    pid_t pid = fork();
    if (pid == 0) {
        close(sp[0]);
        close(in[1]);
        close(out[0]);
        pump_child(sp[1], in[0], out[1], false);
    }
    close(sp[1]);
    close(in[0]);
    close(out[1]);
    /* stdin data then EOF: the daemon side reads it, then sees the half-close */
    assert_int_equal(write(in[1], "input", 5), 5);
    close(in[1]);
    while ((r = read(sp[0], buf + len, sizeof(buf) - len)) > 0)
        len += (size_t)r;
    assert_int_equal(len, 5);
    assert_memory_equal(buf, "input", 5);
    close(sp[0]);
    waitpid(pid, &st, 0);
    /* Without a tty "pre:" is half a header: a stream ending there is an error. */
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 1);
    close(out[0]);
}

static void test_pump_demux_output(void **state)
{
    int sp[2], in[2], out[2], st;
    char buf[256];
    size_t len = 0;
    ssize_t r;
    char wire[64];

    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
    assert_int_equal(pipe(in), 0);
    assert_int_equal(pipe(out), 0);
    pid_t pid = fork();
    if (pid == 0) {
        struct cli_ctx ctx = {.socket = "/nonexistent"};
        struct cli_pump_opts po = {.tty = false, .send_stdin = false};
        ctr_error_t err = NULL;
        bool detached;
        char pre[16];
        size_t pn = frame(pre, 1, "A");
        close(sp[0]);
        dup2(out[1], STDOUT_FILENO);
        _exit(cli_pump(&ctx, sp[1], pre, pn, &po, &detached, &err) < 0 ? 1 : 0);
    }
    close(sp[1]);
    close(in[0]);
    close(in[1]);
    close(out[1]);
    size_t n = frame(wire, 1, "BC");
    n += frame(wire + n, 2, "to-stderr\n"); /* goes to the child's stderr, not stdout */
    n += frame(wire + n, 1, "D\n");
    assert_int_equal(write(sp[0], wire, n), (ssize_t)n);
    close(sp[0]);
    while ((r = read(out[0], buf + len, sizeof(buf) - len)) > 0)
        len += (size_t)r;
    waitpid(pid, &st, 0);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    assert_int_equal(len, 5);
    assert_memory_equal(buf, "ABCD\n", 5);
    close(out[0]);
}

static void test_pump_detach(void **state)
{
    int sp[2], master, slave, out[2], st;
    char buf[256];
    size_t len = 0;
    ssize_t r;

    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
    assert_int_equal(openpty(&master, &slave, NULL, NULL, NULL), 0);
    assert_int_equal(pipe(out), 0);
    pid_t pid = fork();
    if (pid == 0) {
        close(sp[0]);
        close(master);
        pump_child(sp[1], slave, out[1], true);
    }
    close(sp[1]);
    close(slave);
    close(out[1]);
    /* The tty's raw mode lets bytes through at once; a Ctrl-P followed by
     * another byte is sent as typed, Ctrl-P Ctrl-Q detaches. */
    usleep(100 * 1000);
    assert_int_equal(write(master,
                           "ab\x10"
                           "c\x10\x11"
                           "zz",
                           8),
                     8);
    while ((r = read(sp[0], buf + len, sizeof(buf) - len)) > 0)
        len += (size_t)r;
    waitpid(pid, &st, 0);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 11); /* detached */
    /* the keys follow, for the daemon to end the stream as a detach */
    assert_int_equal(len, 6);
    assert_memory_equal(buf,
                        "ab\x10"
                        "c\x10\x11",
                        6);
    /* the raw "pre:" bytes (tty: no headers) reached stdout */
    len = 0;
    while ((r = read(out[0], buf + len, sizeof(buf) - len)) > 0)
        len += (size_t)r;
    assert_true(len >= 4);
    assert_memory_equal(buf, "pre:", 4);
    close(out[0]);
    close(master);
    close(sp[0]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_demux_split),        cmocka_unit_test(test_demux_hostile),
        cmocka_unit_test(test_client_errors),      cmocka_unit_test(test_hijack),
        cmocka_unit_test(test_wait_headers_first), cmocka_unit_test(test_pump_half_close),
        cmocka_unit_test(test_pump_demux_output),  cmocka_unit_test(test_pump_detach),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
