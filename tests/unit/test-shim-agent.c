/* The shim's agent client against a hostile guest: every frame that breaks
 * the protocol fails the client; well-formed traffic reaches the callbacks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
/* cmocka needs the three above first */
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "shim/agent-client-internal.h"

struct rec {
    char out[256];
    size_t out_len;
    int eofs, exits, status, replies;
    bool last_ok;
    int last_code;
};

static void on_output(struct agentc_proc *p, int which, const uint8_t *d, size_t n)
{
    struct rec *r = p->data;
    memcpy(r->out + r->out_len, d, n);
    r->out_len += n;
    r->out[r->out_len] = '\0';
}
static void on_eof(struct agentc_proc *p, int which)
{
    ((struct rec *)p->data)->eofs++;
}
static void on_exit_(struct agentc_proc *p, int status)
{
    struct rec *r = p->data;
    r->exits++;
    r->status = status;
}
static const struct agentc_proc_ops ops = {.output = on_output, .eof = on_eof, .exit = on_exit_};

static void on_reply(struct agentc *c, const struct agent_reply *rep, void *data)
{
    struct rec *r = data;
    r->replies++;
    r->last_ok = rep->ok;
    r->last_code = rep->code;
}

static uint8_t *frame(uint32_t stream, uint8_t type, const void *p, size_t len, size_t *out_len)
{
    uint8_t *buf = malloc(AGENT_FRAME_HDR_LEN + len);
    assert_int_equal(agent_frame_header(buf, stream, type, (uint32_t)len, NULL), 0);
    if (len)
        memcpy(buf + AGENT_FRAME_HDR_LEN, p, len);
    *out_len = AGENT_FRAME_HDR_LEN + len;
    return buf;
}

static int feed_raw(struct agentc *c, const void *b, size_t n, char **msg)
{
    ctr_error_t err = NULL;
    int r = agentc_feed(c, b, n, &err);
    if (msg)
        *msg = r < 0 ? ctr_error_take_msg(&err) : NULL;
    ctr_error_free(&err);
    return r;
}

static int feed(struct agentc *c, uint32_t stream, uint8_t type, const void *p, size_t len,
                char **msg)
{
    size_t n;
    uint8_t *b = frame(stream, type, p, len, &n);
    int r = feed_raw(c, b, n, msg);
    free(b);
    return r;
}

static int feed_json(struct agentc *c, const char *json, char **msg)
{
    return feed(c, 0, AGENT_FRAME_CONTROL, json, strlen(json), msg);
}

static int feed_reply(struct agentc *c, uint64_t id, bool ok, int code, char **msg)
{
    struct agent_reply rep = {.id = id, .ok = ok, .code = code, .error = ok ? NULL : "nope"};
    size_t len;
    if (id == 1) { /* the hello is always request 1 here */
        rep.version = AGENT_PROTO_VERSION;
        rep.agent = "vminitd/test";
    }
    char *json = agent_reply_encode(&rep, &len);
    int r = feed(c, 0, AGENT_FRAME_CONTROL, json, len, msg);
    free(json);
    return r;
}

static int feed_exit(struct agentc *c, const char *proc, int status, char **msg)
{
    struct agent_event ev = {.type = AGENT_EVENT_EXIT, .process = (char *)proc, .status = status};
    size_t len;
    char *json = agent_event_encode(&ev, &len);
    int r = feed(c, 0, AGENT_FRAME_CONTROL, json, len, msg);
    free(json);
    return r;
}

#define EXPECT_FAIL(call, needle)                                                                  \
    do {                                                                                           \
        int r_ = (call);                                                                           \
        expect_fail(r_, msg, needle);                                                              \
    } while (0)

static void expect_fail(int r, char *msg, const char *needle)
{
    if (r == 0)
        fail_msg("accepted a frame that should fail on `%s`", needle);
    assert_non_null(msg);
    if (strstr(msg, needle) == NULL)
        fail_msg("error `%s` does not mention `%s`", msg, needle);
    free(msg);
}

/* A client with hello done and process "main" started (streams 1=stdin, 2=out, 3=err). */
static struct agentc *started(struct rec *r)
{
    struct agentc *c = calloc(1, sizeof(*c));
    struct agent_exec ex = {.args = (char *[]){"sh", NULL}, .env = (char *[]){NULL}, .cwd = "/"};
    agentc_init(c, -1);
    assert_int_equal(agentc_hello(c, on_reply, r, NULL), 0);
    assert_non_null(agentc_exec(c, &ex, "main", true, &ops, r, on_reply, r, NULL));
    assert_int_equal(feed_reply(c, 1, true, 0, NULL), 0);
    assert_int_equal(feed_reply(c, 2, true, 0, NULL), 0);
    assert_true(c->hello_done);
    assert_string_equal(c->agent_name, "vminitd/test");
    return c;
}

static void done(struct agentc *c)
{
    agentc_release(c);
    free(c);
}

static void normal_flow(void **state)
{
    struct rec r = {0};
    struct agentc *c = started(&r);
    struct agentc_proc *p = agentc_find_proc(c, "main");

    assert_true(p->started);
    assert_int_equal(p->stdin_stream, 1);
    assert_int_equal(feed(c, 2, AGENT_FRAME_DATA, "hel", 3, NULL), 0);
    assert_int_equal(feed(c, 3, AGENT_FRAME_DATA, "lo", 2, NULL), 0);
    assert_string_equal(r.out, "hello");
    /* a frame split across feeds in odd places */
    size_t n;
    uint8_t *b = frame(2, AGENT_FRAME_DATA, "!", 1, &n);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(feed_raw(c, b + i, 1, NULL), 0);
    free(b);
    assert_string_equal(r.out, "hello!");
    assert_int_equal(feed(c, 2, AGENT_FRAME_EOF, NULL, 0, NULL), 0);
    assert_int_equal(feed(c, 3, AGENT_FRAME_EOF, NULL, 0, NULL), 0);
    assert_int_equal(r.eofs, 2);
    assert_int_equal(feed_exit(c, "main", 7, NULL), 0);
    assert_int_equal(r.exits, 1);
    assert_int_equal(r.status, 7);
    /* the client queued hello + exec for the guest */
    assert_true(agentc_want_write(c));
    done(c);
}

static void failed_exec_closes_the_process(void **state)
{
    struct rec r = {0};
    struct agentc *c = calloc(1, sizeof(*c));
    struct agent_exec ex = {.args = (char *[]){"nope", NULL}, .env = (char *[]){NULL}, .cwd = "/"};
    char *msg;
    agentc_init(c, -1);
    agentc_hello(c, on_reply, &r, NULL);
    agentc_exec(c, &ex, "main", false, &ops, &r, on_reply, &r, NULL);
    assert_int_equal(feed_reply(c, 1, true, 0, NULL), 0);
    assert_int_equal(feed_reply(c, 2, false, 127, NULL), 0);
    assert_false(r.last_ok);
    assert_int_equal(r.last_code, 127);
    /* nothing may flow for a process that never started */
    EXPECT_FAIL(feed(c, 2, AGENT_FRAME_DATA, "x", 1, &msg), "after it was closed");
    done(c);
}

static void unknown_and_duplicate_replies(void **state)
{
    struct rec r = {0};
    struct agentc *c = started(&r);
    char *msg;
    EXPECT_FAIL(feed_reply(c, 99, true, 0, &msg), "unknown request id 99");
    done(c);
    c = started(&r);
    EXPECT_FAIL(feed_reply(c, 2, true, 0, &msg), "unknown request id 2"); /* answered already */
    done(c);
}

static void anything_before_hello_is_out_of_order(void **state)
{
    struct rec r = {0};
    struct agentc c;
    struct agent_exec ex = {.args = (char *[]){"sh", NULL}, .env = (char *[]){NULL}, .cwd = "/"};
    char *msg;

    agentc_init(&c, -1);
    agentc_hello(&c, on_reply, &r, NULL);
    agentc_exec(&c, &ex, "main", false, &ops, &r, on_reply, &r, NULL);
    EXPECT_FAIL(feed_reply(&c, 2, true, 0, &msg), "before the hello reply");
    /* the client stays failed */
    EXPECT_FAIL(feed_reply(&c, 1, true, 0, &msg), "already failed");
    agentc_release(&c);

    agentc_init(&c, -1);
    agentc_hello(&c, on_reply, &r, NULL);
    EXPECT_FAIL(feed(&c, 2, AGENT_FRAME_DATA, "x", 1, &msg), "before the hello");
    agentc_release(&c);

    agentc_init(&c, -1);
    agentc_hello(&c, on_reply, &r, NULL);
    EXPECT_FAIL(feed_exit(&c, "main", 0, &msg), "before the hello");
    agentc_release(&c);
}

static void wrong_version_is_refused(void **state)
{
    struct rec r = {0};
    struct agentc c;
    char *msg;
    agentc_init(&c, -1);
    agentc_hello(&c, on_reply, &r, NULL);
    EXPECT_FAIL(feed_json(&c, "{\"id\":1,\"ok\":true,\"version\":99,\"agent\":\"x\"}", &msg),
                "version 99");
    agentc_release(&c);
}

static void streams_never_opened(void **state)
{
    struct rec r = {0};
    struct agentc *c = started(&r);
    char *msg;
    EXPECT_FAIL(feed(c, 42, AGENT_FRAME_DATA, "x", 1, &msg), "stream 42 that was never opened");
    done(c);
    c = started(&r);
    EXPECT_FAIL(feed(c, 42, AGENT_FRAME_EOF, NULL, 0, &msg), "never opened");
    done(c);
    c = started(&r);
    EXPECT_FAIL(feed(c, 1, AGENT_FRAME_DATA, "x", 1, &msg), "stdin stream 1");
    done(c);
}

static void data_after_eof_and_double_eof(void **state)
{
    struct rec r = {0};
    struct agentc *c = started(&r);
    char *msg;
    assert_int_equal(feed(c, 2, AGENT_FRAME_EOF, NULL, 0, NULL), 0);
    EXPECT_FAIL(feed(c, 2, AGENT_FRAME_DATA, "x", 1, &msg), "after it was closed");
    done(c);
    c = started(&r);
    assert_int_equal(feed(c, 3, AGENT_FRAME_EOF, NULL, 0, NULL), 0);
    EXPECT_FAIL(feed(c, 3, AGENT_FRAME_EOF, NULL, 0, &msg), "second eof");
    done(c);
}

static void bad_exit_events(void **state)
{
    struct rec r = {0};
    struct agentc *c = started(&r);
    char *msg;
    EXPECT_FAIL(feed_exit(c, "ghost", 0, &msg), "unknown process `ghost`");
    done(c);
    c = started(&r);
    assert_int_equal(feed_exit(c, "main", 0, NULL), 0);
    EXPECT_FAIL(feed_exit(c, "main", 0, &msg), "second exit");
    done(c);
    /* exit before the exec reply */
    struct agentc c2;
    struct agent_exec ex = {.args = (char *[]){"sh", NULL}, .env = (char *[]){NULL}, .cwd = "/"};
    agentc_init(&c2, -1);
    agentc_hello(&c2, on_reply, &r, NULL);
    agentc_exec(&c2, &ex, "main", false, &ops, &r, on_reply, &r, NULL);
    assert_int_equal(feed_reply(&c2, 1, true, 0, NULL), 0);
    EXPECT_FAIL(feed_exit(&c2, "main", 0, &msg), "before its exec reply");
    agentc_release(&c2);
    c = started(&r);
    EXPECT_FAIL(feed_json(c, "{\"event\":\"exit\",\"process\":\"main\",\"status\":300}", &msg), "");
    done(c);
}

/* archive_get: stat in the reply, tar on the stdout stream, the exit event's error;
 * archive_put: the guest may not write on the upload stream. */
static void archive_transfers(void **state)
{
    struct rec r = {0};
    struct agentc *c = started(&r);
    struct agentc_proc *get, *put;
    char *msg = NULL;

    get = agentc_archive(c, AGENT_OP_ARCHIVE_GET, "/etc", false, "cp-1", &ops, &r, on_reply, &r,
                         NULL);
    assert_non_null(get);
    assert_int_equal(get->stdin_stream, 0);
    assert_int_equal(get->stdout_stream, 4);
    assert_null(
        agentc_archive(c, AGENT_OP_ARCHIVE_STAT, "/", false, "cp-x", &ops, &r, NULL, NULL, NULL));
    assert_int_equal(feed_json(c,
                               "{\"id\":3,\"ok\":true,\"stat\":{\"name\":\"etc\",\"size\":1,"
                               "\"mode\":2147484141,\"mtime\":\"2026-01-01T00:00:00Z\"}}",
                               NULL),
                     0);
    assert_true(get->started);
    assert_int_equal(feed(c, 4, AGENT_FRAME_DATA, "tar", 3, NULL), 0);
    assert_string_equal(r.out, "tar");
    assert_int_equal(feed(c, 4, AGENT_FRAME_EOF, NULL, 0, NULL), 0);
    assert_int_equal(feed_json(c,
                               "{\"event\":\"exit\",\"process\":\"cp-1\",\"status\":1,"
                               "\"error\":\"read `/etc/x`: Permission denied\"}",
                               NULL),
                     0);
    assert_int_equal(r.status, 1);
    assert_string_equal(get->exit_error, "read `/etc/x`: Permission denied");
    agentc_forget(c, get);

    put = agentc_archive(c, AGENT_OP_ARCHIVE_PUT, "/dst", false, "cp-2", &ops, &r, on_reply, &r,
                         NULL);
    assert_non_null(put);
    assert_int_equal(put->stdin_stream, 5);
    assert_int_equal(put->stdout_stream, 0);
    assert_int_equal(feed_json(c, "{\"id\":4,\"ok\":true}", NULL), 0);
    assert_int_equal(agentc_send_stdin(c, put, "tar", 3, NULL), 0);
    EXPECT_FAIL(feed(c, 5, AGENT_FRAME_DATA, "x", 1, &msg), "stdin stream 5");
    done(c);
}

static void archive_refused(void **state)
{
    struct rec r = {0};
    struct agentc *c = started(&r);
    struct agentc_proc *put =
        agentc_archive(c, AGENT_OP_ARCHIVE_PUT, "/x", false, "cp-3", &ops, &r, on_reply, &r, NULL);
    char *msg = NULL;

    assert_int_equal(feed_json(c,
                               "{\"id\":3,\"ok\":false,\"error\":\"no such file or directory: "
                               "/x\",\"code\":0,\"errno\":2}",
                               NULL),
                     0);
    assert_false(r.last_ok);
    assert_true(put->exited);
    assert_false(put->in_open);
    /* nothing may flow for a refused transfer */
    EXPECT_FAIL(feed_exit(c, "cp-3", 0, &msg), "exit event for process `cp-3`");
    done(c);
}

static void truncated_oversized_unknown_frames(void **state)
{
    struct rec r = {0};
    struct agentc *c = started(&r);
    uint8_t hdr[AGENT_FRAME_HDR_LEN] = {0};
    char *msg;

    /* truncated: half a header and half a payload are buffered, nothing dispatched */
    size_t n;
    uint8_t *b = frame(2, AGENT_FRAME_DATA, "abcdef", 6, &n);
    assert_int_equal(feed_raw(c, b, 5, NULL), 0);
    assert_false(agent_decoder_idle(&c->dec));
    assert_int_equal(feed_raw(c, b + 5, 10, NULL), 0);
    assert_int_equal(r.out_len, 0);
    assert_int_equal(feed_raw(c, b + 15, n - 15, NULL), 0);
    assert_string_equal(r.out, "abcdef");
    free(b);
    done(c);

    /* oversized control frame */
    c = started(&r);
    hdr[0] = 0x00, hdr[1] = 0x00, hdr[2] = 0x10; /* 1 MiB */
    hdr[8] = AGENT_FRAME_CONTROL;
    EXPECT_FAIL(feed_raw(c, hdr, sizeof(hdr), &msg), "limit");
    done(c);
    /* oversized data frame */
    c = started(&r);
    hdr[4] = 2;
    hdr[8] = AGENT_FRAME_DATA;
    hdr[2] = 0x40; /* 4 MiB */
    EXPECT_FAIL(feed_raw(c, hdr, sizeof(hdr), &msg), "limit");
    done(c);
    /* unknown frame type */
    c = started(&r);
    memset(hdr, 0, sizeof(hdr));
    hdr[0] = 1;
    hdr[8] = 9;
    EXPECT_FAIL(feed_raw(c, hdr, sizeof(hdr), &msg), "unknown frame type");
    done(c);
    /* garbage and unknown control messages */
    c = started(&r);
    EXPECT_FAIL(feed_json(c, "not json", &msg), "protocol violation");
    done(c);
    c = started(&r);
    EXPECT_FAIL(feed_json(c, "{\"event\":\"reboot\"}", &msg), "protocol violation");
    done(c);
}

static void requests_are_framed(void **state)
{
    struct agentc c;
    struct agent_decoder d;
    struct agent_frame f;
    size_t used;
    struct agent_request req = {0};
    agentc_init(&c, -1);
    assert_int_equal(agentc_hello(&c, NULL, NULL, NULL), 0);
    agent_decoder_init(&d);
    assert_int_equal(agent_decoder_feed(&d, c.out, c.out_len, &used, &f, NULL), 1);
    assert_int_equal(used, c.out_len);
    assert_int_equal(agent_request_decode((char *)f.payload, f.length, &req, NULL), 0);
    assert_int_equal(req.op, AGENT_OP_HELLO);
    assert_int_equal(req.id, 1);
    assert_int_equal(req.u.hello.version, AGENT_PROTO_VERSION);
    agent_request_release(&req);
    agent_decoder_release(&d);
    agentc_release(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(normal_flow),
        cmocka_unit_test(failed_exec_closes_the_process),
        cmocka_unit_test(unknown_and_duplicate_replies),
        cmocka_unit_test(anything_before_hello_is_out_of_order),
        cmocka_unit_test(wrong_version_is_refused),
        cmocka_unit_test(streams_never_opened),
        cmocka_unit_test(data_after_eof_and_double_eof),
        cmocka_unit_test(bad_exit_events),
        cmocka_unit_test(truncated_oversized_unknown_frames),
        cmocka_unit_test(requests_are_framed),
        cmocka_unit_test(archive_transfers),
        cmocka_unit_test(archive_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
