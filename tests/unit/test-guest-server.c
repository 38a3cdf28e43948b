/* vminitd's agent server run on the host: a child process serves a socketpair
 * (standing in for the virtio port) and the test plays the host with the shared
 * codec. Needs root (processes call setgroups). */
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
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "guest/guest-internal.h"

struct host {
    int fd;
    pid_t guest;
    struct agent_decoder dec;
    uint8_t buf[65536];
    size_t have, off;
    uint64_t next_id;
};

static void host_start(struct host *h)
{
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    h->guest = fork();
    assert_true(h->guest >= 0);
    if (h->guest == 0) {
        sigset_t mask;
        close(sv[0]);
        sigemptyset(&mask);
        sigaddset(&mask, SIGCHLD);
        sigprocmask(SIG_BLOCK, &mask, NULL);
        signal(SIGPIPE, SIG_IGN);
        fcntl(sv[1], F_SETFL, O_NONBLOCK);
        guest_serve(sv[1]);
        _exit(0);
    }
    close(sv[1]);
    h->fd = sv[0];
    agent_decoder_init(&h->dec);
    h->have = h->off = 0;
    h->next_id = 1;
}

static void host_stop(struct host *h)
{
    int st;
    close(h->fd);
    assert_int_equal(waitpid(h->guest, &st, 0), h->guest);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    agent_decoder_release(&h->dec);
}

static void send_raw(struct host *h, const void *p, size_t n)
{
    assert_int_equal(ctr_write_all(h->fd, p, n), (ssize_t)n);
}

static uint64_t send_req(struct host *h, struct agent_request *req)
{
    ctr_error_t err = NULL;
    size_t len;
    req->id = h->next_id++;
    char *json = agent_request_encode(req, &len);
    assert_int_equal(agent_frame_write(h->fd, 0, AGENT_FRAME_CONTROL, json, (uint32_t)len, &err),
                     0);
    free(json);
    return req->id;
}

/* Next frame, copied (payload malloc'd); returns false on EOF of the connection. */
static bool next_frame(struct host *h, struct agent_frame *out)
{
    for (;;) {
        ctr_error_t err = NULL;
        size_t used;
        struct agent_frame f;
        if (h->off < h->have) {
            int r = agent_decoder_feed(&h->dec, h->buf + h->off, h->have - h->off, &used, &f, &err);
            h->off += used;
            if (r < 0)
                fail_msg("guest sent a bad frame: %s", err->msg);
            if (r == 1) {
                *out = f;
                out->payload = malloc(f.length + 1);
                memcpy(out->payload, f.payload, f.length + 1);
                return true;
            }
        }
        struct pollfd p = {.fd = h->fd, .events = POLLIN};
        if (poll(&p, 1, 20000) != 1)
            fail_msg("no frame from the guest within 20 s");
        ssize_t n = read(h->fd, h->buf, sizeof(h->buf));
        assert_true(n >= 0);
        if (n == 0)
            return false;
        h->have = (size_t)n;
        h->off = 0;
    }
}

static void next_reply(struct host *h, uint64_t id, struct agent_reply *rep)
{
    struct agent_frame f;
    struct agent_event ev = {0};
    enum agent_guest_msg_kind kind;
    ctr_error_t err = NULL;

    assert_true(next_frame(h, &f));
    assert_int_equal(f.type, AGENT_FRAME_CONTROL);
    if (agent_guest_msg_decode((char *)f.payload, f.length, &kind, rep, &ev, &err) < 0)
        fail_msg("decode `%s`: %s", f.payload, err->msg);
    assert_int_equal(kind, AGENT_MSG_REPLY);
    assert_int_equal(rep->id, id);
    free(f.payload);
}

/* Collect everything about one process until its exit event. */
struct run {
    char out[1 << 20], err[4096];
    size_t n_out, n_err;
    int eofs, status;
};

static void collect(struct host *h, const char *name, uint32_t so, uint32_t se, struct run *r)
{
    struct agent_frame f;
    for (;;) {
        assert_true(next_frame(h, &f));
        if (f.type == AGENT_FRAME_CONTROL) {
            struct agent_reply rep = {0};
            struct agent_event ev = {0};
            enum agent_guest_msg_kind kind;
            ctr_error_t err = NULL;
            assert_int_equal(
                agent_guest_msg_decode((char *)f.payload, f.length, &kind, &rep, &ev, &err), 0);
            assert_int_equal(kind, AGENT_MSG_EVENT);
            bool mine = strcmp(ev.process, name) == 0;
            if (mine) {
                r->status = ev.status;
                int want = (so != 0) + (se != 0);
                if (r->eofs != want)
                    fail_msg("exit event of `%s` before its %d EOF frames", name, want);
            }
            agent_event_release(&ev);
            free(f.payload);
            if (mine)
                return;
            continue;
        }
        if (f.stream == so && f.type == AGENT_FRAME_DATA) {
            assert_true(r->n_out + f.length <= sizeof(r->out));
            memcpy(r->out + r->n_out, f.payload, f.length);
            r->n_out += f.length;
        } else if (f.stream == se && f.type == AGENT_FRAME_DATA) {
            assert_true(r->n_err + f.length <= sizeof(r->err));
            memcpy(r->err + r->n_err, f.payload, f.length);
            r->n_err += f.length;
        } else if (f.type == AGENT_FRAME_EOF && (f.stream == so || f.stream == se)) {
            r->eofs++;
        } else {
            fail_msg("unexpected frame on stream %u", f.stream);
        }
        free(f.payload);
    }
}

static uint64_t exec_req(struct host *h, const char *name, char **args, uint32_t in, uint32_t out,
                         uint32_t err)
{
    static char *env[] = {"PATH=/usr/bin:/bin", NULL};
    struct agent_request req = {.op = AGENT_OP_EXEC};
    req.u.exec = (struct agent_exec){.process = (char *)name,
                                     .args = args,
                                     .env = env,
                                     .stdin_stream = in,
                                     .stdout_stream = out,
                                     .stderr_stream = err};
    return send_req(h, &req);
}

static void hello(struct host *h)
{
    struct agent_request req = {.op = AGENT_OP_HELLO, .u.hello.version = 1};
    struct agent_reply rep;
    uint64_t id = send_req(h, &req);
    next_reply(h, id, &rep);
    assert_true(rep.ok);
    assert_int_equal(rep.version, 1);
    assert_string_equal(rep.agent, GUEST_AGENT_NAME);
    agent_reply_release(&rep);
}

static void test_session(void **state)
{
    struct host h;
    struct agent_reply rep;
    struct run *r = calloc(1, sizeof(*r));
    uint64_t id;

    if (geteuid() != 0)
        skip();
    host_start(&h);

    /* exec before hello, garbage, then hello */
    id = exec_req(&h, "x", (char *[]){"true", NULL}, 0, 0, 0);
    next_reply(&h, id, &rep);
    assert_false(rep.ok);
    assert_non_null(strstr(rep.error, "hello"));
    agent_reply_release(&rep);
    const char *junk = "{\"op\":";
    ctr_error_t err = NULL;
    assert_int_equal(agent_frame_write(h.fd, 0, AGENT_FRAME_CONTROL, junk, 6, &err), 0);
    next_reply(&h, 0, &rep);
    assert_false(rep.ok);
    agent_reply_release(&rep);
    hello(&h);

    /* output on separate streams, EOFs before the exit event */
    id =
        exec_req(&h, "e1", (char *[]){"sh", "-c", "echo hi; echo oops >&2; exit 3", NULL}, 0, 5, 6);
    next_reply(&h, id, &rep);
    assert_true(rep.ok);
    assert_true(rep.pid > 0);
    agent_reply_release(&rep);
    collect(&h, "e1", 5, 6, r);
    assert_int_equal(r->n_out, 3);
    assert_memory_equal(r->out, "hi\n", 3);
    assert_int_equal(r->n_err, 5);
    assert_int_equal(r->status, 3);

    /* 127 */
    id = exec_req(&h, "e2", (char *[]){"nosuch-binary", NULL}, 0, 7, 8);
    next_reply(&h, id, &rep);
    assert_false(rep.ok);
    assert_int_equal(rep.code, 127);
    assert_string_equal(rep.error, "exec: \"nosuch-binary\": executable file not found in $PATH");
    agent_reply_release(&rep);

    /* 300 KiB through cat: stdin buffering and output framing */
    size_t big = 300 * 1024;
    uint8_t *data = malloc(big);
    for (size_t i = 0; i < big; i++)
        data[i] = (uint8_t)(i * 31 + i / 7);
    id = exec_req(&h, "cat", (char *[]){"cat", NULL}, 9, 9, 10);
    next_reply(&h, id, &rep);
    assert_true(rep.ok);
    agent_reply_release(&rep);
    for (size_t off = 0; off < big; off += 50000) {
        size_t n = big - off < 50000 ? big - off : 50000;
        assert_int_equal(
            agent_frame_write(h.fd, 9, AGENT_FRAME_DATA, data + off, (uint32_t)n, &err), 0);
    }
    assert_int_equal(agent_frame_write(h.fd, 9, AGENT_FRAME_EOF, NULL, 0, &err), 0);
    memset(r, 0, sizeof(*r));
    collect(&h, "cat", 9, 10, r);
    assert_int_equal(r->n_out, big);
    assert_memory_equal(r->out, data, big);
    assert_int_equal(r->status, 0);
    free(data);

    /* signal */
    id = exec_req(&h, "s", (char *[]){"sleep", "100", NULL}, 0, 0, 0);
    next_reply(&h, id, &rep);
    assert_true(rep.ok);
    agent_reply_release(&rep);
    struct agent_request sig = {.op = AGENT_OP_SIGNAL, .u.signal = {"s", SIGTERM}};
    id = send_req(&h, &sig);
    next_reply(&h, id, &rep);
    assert_true(rep.ok);
    agent_reply_release(&rep);
    memset(r, 0, sizeof(*r));
    collect(&h, "s", 0, 0, r);
    assert_int_equal(r->status, 143);
    id = send_req(&h, &sig);
    next_reply(&h, id, &rep);
    assert_false(rep.ok); /* gone */
    agent_reply_release(&rep);

    /* main ends with a background child holding stdout: it is killed, EOF, exit */
    id = exec_req(&h, "main", (char *[]){"sh", "-c", "sleep 100 & echo bye; exit 4", NULL}, 0, 11,
                  12);
    next_reply(&h, id, &rep);
    assert_true(rep.ok);
    agent_reply_release(&rep);
    memset(r, 0, sizeof(*r));
    collect(&h, "main", 11, 12, r);
    assert_int_equal(r->status, 4);
    assert_int_equal(r->n_out, 4);
    id = exec_req(&h, "late", (char *[]){"true", NULL}, 0, 0, 0);
    next_reply(&h, id, &rep);
    assert_false(rep.ok);
    agent_reply_release(&rep);
    struct agent_request sd = {.op = AGENT_OP_SHUTDOWN};
    id = send_req(&h, &sd);
    next_reply(&h, id, &rep);
    assert_true(rep.ok);
    agent_reply_release(&rep);
    struct agent_frame f;
    assert_false(next_frame(&h, &f)); /* the guest is done */
    host_stop(&h);
    free(r);
}

/* A broken frame stream from the host: the guest survives, keeps its processes
 * and still reports the main exit, then ends on its own. */
static void test_hostile_host(void **state)
{
    struct host h;
    struct agent_reply rep;
    struct run *r = calloc(1, sizeof(*r));
    uint64_t id;

    if (geteuid() != 0)
        skip();
    host_start(&h);
    hello(&h);
    id = exec_req(&h, "main", (char *[]){"sh", "-c", "sleep 0.5; echo done", NULL}, 0, 1, 2);
    next_reply(&h, id, &rep);
    assert_true(rep.ok);
    agent_reply_release(&rep);
    uint8_t bad[12] = {0xff, 0xff, 0xff, 0xff, 1, 0, 0, 0, 2, 0, 0, 0}; /* 4 GiB data frame */
    send_raw(&h, bad, sizeof(bad));
    send_raw(&h, "garbage after the bad header", 28);
    collect(&h, "main", 1, 2, r);
    assert_int_equal(r->status, 0);
    assert_int_equal(r->n_out, 5);
    struct agent_frame f;
    assert_false(next_frame(&h, &f)); /* powers off without a shutdown request */
    host_stop(&h);
    free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_session),
        cmocka_unit_test(test_hostile_host),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
