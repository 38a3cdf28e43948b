/* Control messages of the agent protocol: round trips and hostile JSON. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/agent-msg.h"

static void decode_req_ok(const char *json, struct agent_request *req)
{
    ctr_error_t err = NULL;
    if (agent_request_decode(json, strlen(json), req, &err) < 0)
        fail_msg("decode `%s`: %s", json, err->msg);
}

/* The request must be rejected with an error mentioning needle. */
static void req_bad(const char *json, const char *needle)
{
    struct agent_request req = {0};
    ctr_error_t err = NULL;

    if (agent_request_decode(json, strlen(json), &req, &err) == 0)
        fail_msg("accepted `%s`", json);
    assert_non_null(err);
    if (needle && strstr(err->msg, needle) == NULL)
        fail_msg("error `%s` for `%s` does not mention `%s`", err->msg, json, needle);
    ctr_error_free(&err);
    assert_int_equal(req.id, 0); /* out untouched on failure */
}

static void guest_bad(const char *json, const char *needle)
{
    struct agent_reply rep = {0};
    struct agent_event ev = {0};
    enum agent_guest_msg_kind kind = 0;
    ctr_error_t err = NULL;

    if (agent_guest_msg_decode(json, strlen(json), &kind, &rep, &ev, &err) == 0)
        fail_msg("accepted `%s`", json);
    if (needle && strstr(err->msg, needle) == NULL)
        fail_msg("error `%s` for `%s` does not mention `%s`", err->msg, json, needle);
    ctr_error_free(&err);
    assert_int_equal(kind, 0);
    assert_null(rep.error);
    assert_null(ev.process);
}

static void roundtrip_req(const struct agent_request *in, struct agent_request *out)
{
    size_t len;
    char *json = agent_request_encode(in, &len);
    assert_non_null(json);
    assert_int_equal(len, strlen(json));
    decode_req_ok(json, out);
    free(json);
}

static void test_hello(void **state)
{
    struct agent_request in = {.id = 1, .op = AGENT_OP_HELLO, .u.hello.version = 1}, out;
    roundtrip_req(&in, &out);
    assert_int_equal(out.op, AGENT_OP_HELLO);
    assert_int_equal(out.id, 1);
    assert_int_equal(out.u.hello.version, 1);
    agent_request_release(&out);

    decode_req_ok("{\"op\":\"hello\",\"id\":7,\"version\":1}", &out);
    assert_int_equal(out.id, 7);
    agent_request_release(&out);
}

static void test_setup(void **state)
{
    struct agent_mount m[2] = {
        {"serial:vol1", "/data", "ext4", "noatime"},
        {"none", "/tmp", "tmpfs", NULL},
    };
    struct agent_request in = {.id = 2, .op = AGENT_OP_SETUP}, out;
    in.u.setup = (struct agent_setup){"box", "serial:image", "serial:rw", true, m, 2};
    roundtrip_req(&in, &out);
    struct agent_setup *s = &out.u.setup;
    assert_int_equal(out.op, AGENT_OP_SETUP);
    assert_string_equal(s->hostname, "box");
    assert_string_equal(s->root_lower, "serial:image");
    assert_string_equal(s->root_upper, "serial:rw");
    assert_true(s->readonly);
    assert_int_equal(s->n_mounts, 2);
    assert_string_equal(s->mounts[0].source, "serial:vol1");
    assert_string_equal(s->mounts[0].target, "/data");
    assert_string_equal(s->mounts[0].fstype, "ext4");
    assert_string_equal(s->mounts[0].options, "noatime");
    assert_null(s->mounts[1].options);
    agent_request_release(&out);

    /* minimal: no hostname, no upper (tmpfs), no mounts */
    decode_req_ok("{\"op\":\"setup\",\"id\":3,\"root_lower\":\"serial:image\",\"root_upper\":null}",
                  &out);
    assert_null(out.u.setup.hostname);
    assert_null(out.u.setup.root_upper);
    assert_int_equal(out.u.setup.n_mounts, 0);
    agent_request_release(&out);
}

/* Warm start: the host's time and random bytes for a restored VM. */
static void test_setup_warm(void **state)
{
    struct agent_request in = {.id = 4, .op = AGENT_OP_SETUP}, out;
    in.u.setup.root_lower = "serial:image";
    in.u.setup.warm = true;
    in.u.setup.warm_time_ns = 1795821493123456789;
    for (int i = 0; i < AGENT_WARM_ENTROPY; i++)
        in.u.setup.warm_entropy[i] = (uint8_t)(i * 37 + 5);
    roundtrip_req(&in, &out);
    assert_true(out.u.setup.warm);
    assert_true(out.u.setup.warm_time_ns == 1795821493123456789);
    assert_memory_equal(out.u.setup.warm_entropy, in.u.setup.warm_entropy, AGENT_WARM_ENTROPY);
    assert_null(out.u.setup.warm_macs);
    agent_request_release(&out);

    char *macs[] = {"02:42:c0:a8:40:05", "02:42:c0:a8:41:07", NULL};
    in.u.setup.warm_macs = macs;
    roundtrip_req(&in, &out);
    assert_non_null(out.u.setup.warm_macs);
    assert_string_equal(out.u.setup.warm_macs[0], macs[0]);
    assert_string_equal(out.u.setup.warm_macs[1], macs[1]);
    assert_null(out.u.setup.warm_macs[2]);
    agent_request_release(&out);
    in.u.setup.warm_macs = NULL;

    /* a cold setup says nothing of it */
    in.u.setup.warm = false;
    size_t len;
    char *json = agent_request_encode(&in, &len);
    assert_null(strstr(json, "warm"));
    free(json);

    char hex64[65];
    memset(hex64, 'a', 64);
    hex64[64] = '\0';
    char buf[768];
#define WARM_BAD(warm, needle)                                                                     \
    do {                                                                                           \
        snprintf(buf, sizeof(buf), "{\"op\":\"setup\",\"id\":1,\"root_lower\":\"a\",\"warm\":%s}", \
                 warm);                                                                            \
        req_bad(buf, needle);                                                                      \
    } while (0)
    WARM_BAD("1", "must be an object");
    WARM_BAD("{\"entropy\":\"00\"}", "missing field `time_ns`");
    char zz[160];
    snprintf(zz, sizeof(zz), "{\"time_ns\":-1,\"entropy\":\"%s\"}", hex64);
    WARM_BAD(zz, "time_ns");
    WARM_BAD("{\"time_ns\":1,\"entropy\":\"abcd\"}", "64 hex digits");
    snprintf(zz, sizeof(zz), "{\"time_ns\":1,\"entropy\":\"%.62szz\"}", hex64);
    WARM_BAD(zz, "hex digits");
    snprintf(zz, sizeof(zz), "{\"time_ns\":1,\"entropy\":\"%s\",\"macs\":[\"02:42\"]}", hex64);
    WARM_BAD(zz, "bad MAC");
    snprintf(zz, sizeof(zz), "{\"time_ns\":1,\"entropy\":\"%s\",\"macs\":[1]}", hex64);
    WARM_BAD(zz, "must be a string");
    snprintf(zz, sizeof(zz), "{\"time_ns\":1,\"entropy\":\"%s\",\"x\":1}", hex64);
    WARM_BAD(zz, "unknown field `x`");
#undef WARM_BAD
}

static void test_exec(void **state)
{
    char *args[] = {"/bin/sh", "-c", "echo \"hi\" \\ \xc3\xa9", NULL};
    char *env[] = {"PATH=/bin", "EMPTY=", "X=a=b", NULL};
    struct agent_rlimit rl[2] = {{7, 1024, 4096}, {4, AGENT_RLIM_INFINITY, AGENT_RLIM_INFINITY}};
    struct agent_request in = {.id = 4, .op = AGENT_OP_EXEC}, out;
    in.u.exec = (struct agent_exec){.process = "main",
                                    .args = args,
                                    .env = env,
                                    .cwd = "/work",
                                    .user = "nobody:nogroup",
                                    .terminal = true,
                                    .rows = 40,
                                    .cols = 120,
                                    .stdin_stream = 1,
                                    .stdout_stream = 2,
                                    .stderr_stream = 0,
                                    .rlimits = rl,
                                    .n_rlimits = 2};
    roundtrip_req(&in, &out);
    struct agent_exec *e = &out.u.exec;
    assert_string_equal(e->process, "main");
    assert_int_equal(ctr_strv_len(e->args), 3);
    assert_string_equal(e->args[2], args[2]);
    assert_int_equal(ctr_strv_len(e->env), 3);
    assert_string_equal(e->env[2], "X=a=b");
    assert_string_equal(e->cwd, "/work");
    assert_string_equal(e->user, "nobody:nogroup");
    assert_true(e->terminal);
    assert_int_equal(e->rows, 40);
    assert_int_equal(e->cols, 120);
    assert_int_equal(e->stdin_stream, 1);
    assert_int_equal(e->stdout_stream, 2);
    assert_int_equal(e->n_rlimits, 2);
    assert_int_equal(e->rlimits[0].resource, 7);
    assert_int_equal(e->rlimits[0].soft, 1024);
    assert_int_equal(e->rlimits[0].hard, 4096);
    assert_true(e->rlimits[1].soft == AGENT_RLIM_INFINITY);
    assert_true(e->rlimits[1].hard == AGENT_RLIM_INFINITY);
    agent_request_release(&out);

    /* minimal: defaults */
    decode_req_ok("{\"op\":\"exec\",\"id\":5,\"process\":\"e1\",\"args\":[\"true\"]}", &out);
    assert_non_null(out.u.exec.env);
    assert_null(out.u.exec.env[0]);
    assert_null(out.u.exec.cwd);
    assert_null(out.u.exec.user);
    assert_false(out.u.exec.terminal);
    assert_int_equal(out.u.exec.stdin_stream, 0);
    agent_request_release(&out);
}

static void test_signal_resize_shutdown(void **state)
{
    struct agent_request in = {.id = 6, .op = AGENT_OP_SIGNAL}, out;
    in.u.signal = (struct agent_signal){"main", 9};
    roundtrip_req(&in, &out);
    assert_string_equal(out.u.signal.process, "main");
    assert_int_equal(out.u.signal.signal, 9);
    agent_request_release(&out);

    in = (struct agent_request){.id = 7, .op = AGENT_OP_RESIZE};
    in.u.resize = (struct agent_resize){"main", 50, 200};
    roundtrip_req(&in, &out);
    assert_int_equal(out.u.resize.rows, 50);
    assert_int_equal(out.u.resize.cols, 200);
    agent_request_release(&out);

    in = (struct agent_request){.id = UINT64_C(0x7fffffffffffffff), .op = AGENT_OP_SHUTDOWN};
    roundtrip_req(&in, &out);
    assert_int_equal(out.op, AGENT_OP_SHUTDOWN);
    assert_true(out.id == UINT64_C(0x7fffffffffffffff));
    agent_request_release(&out);

    /* clock: after a pause the host sets the guest's wall clock */
    in = (struct agent_request){.id = 8, .op = AGENT_OP_CLOCK};
    in.u.clock.time_ns = INT64_C(1796650871123456789);
    roundtrip_req(&in, &out);
    assert_int_equal(out.op, AGENT_OP_CLOCK);
    assert_true(out.u.clock.time_ns == INT64_C(1796650871123456789));
    agent_request_release(&out);
    assert_string_equal(agent_op_name(AGENT_OP_CLOCK), "clock");
    req_bad("{\"op\":\"clock\",\"id\":1}", "time_ns");
    req_bad("{\"op\":\"clock\",\"id\":1,\"time_ns\":0}", "time_ns");
    req_bad("{\"op\":\"clock\",\"id\":1,\"time_ns\":-5}", "time_ns");
    req_bad("{\"op\":\"clock\",\"id\":1,\"time_ns\":\"now\"}", "time_ns");
    req_bad("{\"op\":\"clock\",\"id\":1,\"time_ns\":5,\"zone\":\"UTC\"}", "zone");

    in.op = 99;
    assert_null(agent_request_encode(&in, NULL));
    assert_string_equal(agent_op_name(AGENT_OP_RESIZE), "resize");
    assert_null(agent_op_name(0));
}

static void test_reply_event(void **state)
{
    struct agent_reply r = {.id = 1, .ok = true, .version = 1, .agent = "vminitd/0.1"}, o = {0};
    struct agent_event ev = {.type = AGENT_EVENT_EXIT, .process = "main", .status = 137}, oe = {0};
    enum agent_guest_msg_kind kind;
    ctr_error_t err = NULL;
    size_t len;
    char *json;

    json = agent_reply_encode(&r, &len);
    assert_int_equal(agent_guest_msg_decode(json, len, &kind, &o, &oe, &err), 0);
    assert_int_equal(kind, AGENT_MSG_REPLY);
    assert_true(o.ok);
    assert_int_equal(o.version, 1);
    assert_string_equal(o.agent, "vminitd/0.1");
    assert_null(o.error);
    agent_reply_release(&o);
    free(json);

    r = (struct agent_reply){.id = 3,
                             .ok = false,
                             .code = 127,
                             .error = "exec: \"nosuch\": executable file not found in $PATH"};
    json = agent_reply_encode(&r, &len);
    assert_int_equal(agent_guest_msg_decode(json, len, &kind, &o, &oe, &err), 0);
    assert_false(o.ok);
    assert_int_equal(o.code, 127);
    assert_string_equal(o.error, r.error);
    agent_reply_release(&o);
    free(json);

    r = (struct agent_reply){.id = 4, .ok = true, .pid = 42};
    json = agent_reply_encode(&r, &len);
    assert_int_equal(agent_guest_msg_decode(json, len, &kind, &o, &oe, &err), 0);
    assert_int_equal(o.pid, 42);
    agent_reply_release(&o);
    free(json);

    json = agent_event_encode(&ev, &len);
    assert_int_equal(agent_guest_msg_decode(json, len, &kind, &o, &oe, &err), 0);
    assert_int_equal(kind, AGENT_MSG_EVENT);
    assert_int_equal(oe.type, AGENT_EVENT_EXIT);
    assert_string_equal(oe.process, "main");
    assert_int_equal(oe.status, 137);
    agent_event_release(&oe);
    free(json);

    ev.type = 5;
    assert_null(agent_event_encode(&ev, &len));
}

/* top: ps_args out, the table back; setup's cgroup and init fields */
static void test_top_and_ctr_setup(void **state)
{
    struct agent_request in = {.id = 9, .op = AGENT_OP_TOP}, out;
    struct agent_reply r = {.id = 9, .ok = true, .output = "PID CMD\n1 sh\n"}, o = {0};
    struct agent_event oe = {0};
    enum agent_guest_msg_kind kind;
    ctr_error_t err = NULL;
    size_t len;
    char *json;

    in.u.top.ps_args = "aux";
    roundtrip_req(&in, &out);
    assert_int_equal(out.op, AGENT_OP_TOP);
    assert_string_equal(out.u.top.ps_args, "aux");
    agent_request_release(&out);
    decode_req_ok("{\"op\":\"top\",\"id\":3}", &out);
    assert_null(out.u.top.ps_args);
    agent_request_release(&out);
    req_bad("{\"op\":\"top\",\"id\":3,\"ps_args\":1}", "must be a string");
    req_bad("{\"op\":\"top\",\"id\":3,\"pid\":1}", "unknown field `pid`");

    json = agent_reply_encode(&r, &len);
    assert_int_equal(agent_guest_msg_decode(json, len, &kind, &o, &oe, &err), 0);
    assert_string_equal(o.output, "PID CMD\n1 sh\n");
    agent_reply_release(&o);
    free(json);
    guest_bad("{\"id\":1,\"ok\":true,\"output\":7}", "must be a string");

    in = (struct agent_request){.id = 2, .op = AGENT_OP_SETUP};
    in.u.setup.root_lower = "serial:image";
    in.u.setup.pids_limit = 12;
    in.u.setup.init = true;
    roundtrip_req(&in, &out);
    assert_int_equal(out.u.setup.pids_limit, 12);
    assert_true(out.u.setup.init);
    agent_request_release(&out);
    req_bad("{\"op\":\"setup\",\"id\":3,\"root_lower\":\"x\",\"pids_limit\":-1}", "outside");
    req_bad("{\"op\":\"setup\",\"id\":3,\"root_lower\":\"x\",\"init\":1}", "boolean");
}

static void test_bad_requests(void **state)
{
    req_bad("", "invalid JSON");
    req_bad("{", "invalid JSON");
    req_bad("nonsense", "invalid JSON");
    req_bad("[1,2]", "not a JSON object");
    req_bad("\"hello\"", NULL);
    req_bad("{\"op\":\"hello\",\"id\":1,\"version\":1} trailing", "invalid JSON");
    req_bad("{\"id\":1,\"version\":1}", "missing field `op`");
    req_bad("{\"op\":\"hello\",\"version\":1}", "missing field `id`");
    req_bad("{\"op\":\"hello\",\"id\":0,\"version\":1}", "positive");
    req_bad("{\"op\":\"hello\",\"id\":-1,\"version\":1}", "outside");
    req_bad("{\"op\":\"hello\",\"id\":\"1\",\"version\":1}", "must be an integer");
    req_bad("{\"op\":\"hello\",\"id\":1.0,\"version\":1}", "must be an integer");
    req_bad("{\"op\":\"hello\",\"id\":99999999999999999999,\"version\":1}", "invalid JSON");
    req_bad("{\"op\":\"launch\",\"id\":1}", "unknown op `launch`");
    req_bad("{\"op\":7,\"id\":1}", "must be a string");
    req_bad("{\"op\":\"hello\",\"id\":1}", "missing field `version`");
    req_bad("{\"op\":\"hello\",\"id\":1,\"version\":0}", "outside");
    req_bad("{\"op\":\"hello\",\"id\":1,\"version\":1,\"extra\":true}", "unknown field `extra`");
    req_bad("{\"op\":\"hello\",\"op\":\"exec\",\"id\":1,\"version\":1}", "invalid JSON");
    req_bad("{\"op\":\"hel\\u0000lo\",\"id\":1,\"version\":1}", NULL);
    req_bad("{\"op\":\"hello\",\"id\":1,\"version\":1,\"x\":\"\xff\xfe\"}", "invalid JSON");
    req_bad("{\"op\":\"shutdown\",\"id\":1,\"version\":1}", "unknown field");
    /* setup */
    req_bad("{\"op\":\"setup\",\"id\":1}", "missing field `root_lower`");
    req_bad("{\"op\":\"setup\",\"id\":1,\"root_lower\":5}", "must be a string");
    req_bad("{\"op\":\"setup\",\"id\":1,\"root_lower\":\"a\",\"readonly\":1}", "must be a boolean");
    req_bad("{\"op\":\"setup\",\"id\":1,\"root_lower\":\"a\",\"hostname\":"
            "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}",
            "limit 64");
    req_bad("{\"op\":\"setup\",\"id\":1,\"root_lower\":\"a\",\"mounts\":{}}", "must be an array");
    req_bad("{\"op\":\"setup\",\"id\":1,\"root_lower\":\"a\",\"mounts\":[1]}", "must be objects");
    req_bad("{\"op\":\"setup\",\"id\":1,\"root_lower\":\"a\",\"mounts\":[{\"source\":\"x\"}]}",
            "missing field `target`");
    req_bad("{\"op\":\"setup\",\"id\":1,\"root_lower\":\"a\",\"mounts\":[{\"source\":\"x\","
            "\"target\":\"rel\",\"fstype\":\"tmpfs\"}]}",
            "absolute path");
    req_bad("{\"op\":\"setup\",\"id\":1,\"root_lower\":\"a\",\"mounts\":[{\"source\":\"x\","
            "\"target\":\"/a\",\"fstype\":\"tmpfs\",\"uid\":0}]}",
            "unknown field `uid`");
    /* exec */
    req_bad("{\"op\":\"exec\",\"id\":1,\"args\":[\"a\"]}", "missing field `process`");
    req_bad("{\"op\":\"exec\",\"id\":1,\"process\":\"m\"}", "missing field `args`");
    req_bad("{\"op\":\"exec\",\"id\":1,\"process\":\"m\",\"args\":[]}", "non-empty");
    req_bad("{\"op\":\"exec\",\"id\":1,\"process\":\"m\",\"args\":[\"\"]}", "non-empty");
    req_bad("{\"op\":\"exec\",\"id\":1,\"process\":\"\",\"args\":[\"a\"]}", "empty");
    req_bad("{\"op\":\"exec\",\"id\":1,\"process\":\"m\",\"args\":[\"a\",1]}", "must be a string");
    req_bad("{\"op\":\"exec\",\"id\":1,\"process\":\"m\",\"args\":\"a\"}", "must be an array");
    req_bad("{\"op\":\"exec\",\"id\":1,\"process\":\"m\",\"args\":[\"a\"],\"env\":[\"NOEQ\"]}",
            "NAME=VALUE");
    req_bad("{\"op\":\"exec\",\"id\":1,\"process\":\"m\",\"args\":[\"a\"],\"env\":[\"=x\"]}",
            "NAME=VALUE");
    req_bad("{\"op\":\"exec\",\"id\":1,\"process\":\"m\",\"args\":[\"a\"],\"cwd\":\"tmp\"}",
            "absolute");
    req_bad("{\"op\":\"exec\",\"id\":1,\"process\":\"m\",\"args\":[\"a\"],\"rows\":65536}",
            "outside");
    req_bad("{\"op\":\"exec\",\"id\":1,\"process\":\"m\",\"args\":[\"a\"],\"stdin\":-1}",
            "outside");
    req_bad("{\"op\":\"exec\",\"id\":1,\"process\":\"m\",\"args\":[\"a\"],\"stdout\":4294967296}",
            "outside");
    req_bad(
        "{\"op\":\"exec\",\"id\":1,\"process\":\"m\",\"args\":[\"a\"],\"stdout\":2,\"stderr\":2}",
        "share");
    req_bad("{\"op\":\"exec\",\"id\":1,\"process\":\"m\",\"args\":[\"a\"],\"rlimits\":[{"
            "\"resource\":16,\"soft\":1,\"hard\":1}]}",
            "outside");
    req_bad("{\"op\":\"exec\",\"id\":1,\"process\":\"m\",\"args\":[\"a\"],\"rlimits\":[{"
            "\"resource\":7,\"soft\":10,\"hard\":1}]}",
            "soft limit above");
    req_bad("{\"op\":\"exec\",\"id\":1,\"process\":\"m\",\"args\":[\"a\"],\"rlimits\":[{"
            "\"resource\":7,\"soft\":-2,\"hard\":1}]}",
            "outside");
    req_bad("{\"op\":\"exec\",\"id\":1,\"process\":\"m\",\"args\":[\"a\"],\"terminal\":\"yes\"}",
            "boolean");
    /* signal, resize */
    req_bad("{\"op\":\"signal\",\"id\":1,\"process\":\"m\",\"signal\":0}", "outside");
    req_bad("{\"op\":\"signal\",\"id\":1,\"process\":\"m\",\"signal\":65}", "outside");
    req_bad("{\"op\":\"signal\",\"id\":1,\"signal\":9}", "missing field `process`");
    req_bad("{\"op\":\"resize\",\"id\":1,\"process\":\"m\",\"rows\":1}", "missing field `cols`");
    /* a reply sent the wrong way */
    req_bad("{\"id\":1,\"ok\":true}", "missing field `op`");
}

/* Arrays and strings over the limits. */
static void test_limits(void **state)
{
    size_t cap = 64 * 1024, n;
    char *buf = malloc(cap + 1024);

    n = (size_t)sprintf(buf, "{\"op\":\"exec\",\"id\":1,\"process\":\"m\",\"args\":[");
    for (int i = 0; i <= AGENT_MAX_ARGS; i++)
        n += (size_t)sprintf(buf + n, "%s\"a\"", i ? "," : "");
    strcpy(buf + n, "]}");
    req_bad(buf, "limit 4096");

    n = (size_t)sprintf(buf, "{\"op\":\"setup\",\"id\":1,\"root_lower\":\"a\",\"mounts\":[");
    for (int i = 0; i <= AGENT_MAX_MOUNTS; i++)
        n += (size_t)sprintf(buf + n, "%s{\"source\":\"s\",\"target\":\"/t\",\"fstype\":\"tmpfs\"}",
                             i ? "," : "");
    strcpy(buf + n, "]}");
    req_bad(buf, "limit 64");

    n = (size_t)sprintf(buf, "{\"op\":\"exec\",\"id\":1,\"process\":\"");
    memset(buf + n, 'p', AGENT_MAX_NAME + 1);
    strcpy(buf + n + AGENT_MAX_NAME + 1, "\",\"args\":[\"a\"]}");
    req_bad(buf, "limit 128");

    n = (size_t)sprintf(buf, "{\"op\":\"exec\",\"id\":1,\"process\":\"m\",\"cwd\":\"/");
    memset(buf + n, 'c', AGENT_MAX_PATH);
    strcpy(buf + n + AGENT_MAX_PATH, "\",\"args\":[\"a\"]}");
    req_bad(buf, "limit 4096");

    /* whole message over the control limit */
    n = (size_t)sprintf(buf, "{\"op\":\"exec\",\"id\":1,\"process\":\"m\",\"args\":[\"");
    memset(buf + n, 'x', cap);
    strcpy(buf + n + cap, "\"]}");
    req_bad(buf, "limit 65536");
    free(buf);
}

static void test_bad_guest_msgs(void **state)
{
    guest_bad("", "invalid JSON");
    guest_bad("[]", "not a JSON object");
    guest_bad("{}", "exactly one");
    guest_bad("{\"id\":1,\"ok\":true,\"event\":\"exit\"}", "exactly one");
    guest_bad("{\"id\":1}", "missing field `ok`");
    guest_bad("{\"id\":1,\"ok\":\"true\"}", "boolean");
    guest_bad("{\"id\":1,\"ok\":false}", "missing field `error`");
    guest_bad("{\"id\":1,\"ok\":false,\"error\":null}", "must be a string");
    guest_bad("{\"id\":1,\"ok\":true,\"error\":\"x\"}", "successful");
    guest_bad("{\"id\":1,\"ok\":false,\"error\":\"x\",\"code\":256}", "outside");
    guest_bad("{\"id\":1,\"ok\":true,\"pid\":0}", "outside");
    guest_bad("{\"id\":1,\"ok\":true,\"pid\":-5}", "outside");
    guest_bad("{\"id\":-1,\"ok\":true}", "outside");
    guest_bad("{\"id\":1,\"ok\":true,\"status\":0}", "unknown field `status`");
    guest_bad("{\"event\":\"boom\",\"process\":\"m\",\"status\":0}", "unknown event `boom`");
    guest_bad("{\"event\":\"exit\",\"status\":0}", "missing field `process`");
    guest_bad("{\"event\":\"exit\",\"process\":\"m\"}", "missing field `status`");
    guest_bad("{\"event\":\"exit\",\"process\":\"m\",\"status\":256}", "outside");
    guest_bad("{\"event\":\"exit\",\"process\":\"m\",\"status\":-1}", "outside");
    guest_bad("{\"event\":\"exit\",\"process\":[],\"status\":0}", "must be a string");
    guest_bad("{\"event\":1}", "must be a string");
    /* a request sent the wrong way */
    guest_bad("{\"op\":\"hello\",\"id\":1,\"version\":1}", "unknown field `op`");
}

/* Every strict prefix of a valid message is rejected (a truncated control frame). */
static void test_truncated_json(void **state)
{
    const char *msgs[] = {
        "{\"op\":\"exec\",\"id\":12,\"process\":\"main\",\"args\":[\"/bin/echo\",\"hi\"],"
        "\"env\":[\"A=b\"],\"rlimits\":[{\"resource\":7,\"soft\":1,\"hard\":2}]}",
        "{\"op\":\"setup\",\"id\":2,\"root_lower\":\"serial:image\",\"mounts\":[{\"source\":"
        "\"none\",\"target\":\"/t\",\"fstype\":\"tmpfs\"}]}",
    };
    for (size_t m = 0; m < 2; m++) {
        struct agent_request req;
        decode_req_ok(msgs[m], &req);
        agent_request_release(&req);
        for (size_t cut = 0; cut < strlen(msgs[m]); cut++) {
            ctr_error_t err = NULL;
            memset(&req, 0, sizeof(req));
            assert_int_equal(agent_request_decode(msgs[m], cut, &req, &err), -1);
            ctr_error_free(&err);
        }
    }
    const char *ev = "{\"event\":\"exit\",\"process\":\"main\",\"status\":3}";
    for (size_t cut = 0; cut < strlen(ev); cut++) {
        struct agent_reply r = {0};
        struct agent_event e = {0};
        enum agent_guest_msg_kind k;
        ctr_error_t err = NULL;
        assert_int_equal(agent_guest_msg_decode(ev, cut, &k, &r, &e, &err), -1);
        ctr_error_free(&err);
    }
}

/* Mutated valid messages: never crash or leak (ASan build), ok or error both fine. */
static void test_mutations(void **state)
{
    const char *base = "{\"op\":\"exec\",\"id\":12,\"process\":\"main\",\"args\":[\"/bin/echo\","
                       "\"hi\"],\"env\":[\"A=b\"],\"cwd\":\"/\",\"rlimits\":[{\"resource\":7,"
                       "\"soft\":1,\"hard\":2}],\"stdout\":1,\"stderr\":2}";
    const char *alphabet = "{}[]\":,0123456789-aeoxz\\ ";
    size_t len = strlen(base);
    char *buf = malloc(len + 1);
    uint32_t seed = 42;

    for (int i = 0; i < 20000; i++) {
        memcpy(buf, base, len + 1);
        for (int k = 0; k < 1 + i % 4; k++) {
            seed = seed * 1103515245u + 12345u;
            buf[(seed >> 8) % len] = alphabet[(seed >> 20) % strlen(alphabet)];
        }
        struct agent_request req;
        ctr_error_t err = NULL;
        if (agent_request_decode(buf, len, &req, &err) == 0)
            agent_request_release(&req);
        else
            ctr_error_free(&err);
        struct agent_reply r = {0};
        struct agent_event e = {0};
        enum agent_guest_msg_kind k;
        if (agent_guest_msg_decode(buf, len, &k, &r, &e, &err) == 0) {
            agent_reply_release(&r);
            agent_event_release(&e);
        } else {
            ctr_error_free(&err);
        }
    }
    free(buf);
}

static void test_archive(void **state)
{
    struct agent_request in = {.op = AGENT_OP_ARCHIVE_GET, .id = 9}, out = {0};
    struct agent_path_stat st = {.name = "passwd",
                                 .size = 1234,
                                 .mode = 0x80000000u | 0755,
                                 .mtime = "2026-11-27T23:00:00.5Z",
                                 .link_target = "/etc/x"};
    struct agent_reply rep = {.id = 9, .ok = true, .stat = &st}, rrep = {0};
    struct agent_event ev = {.type = AGENT_EVENT_EXIT,
                             .process = "cp-1",
                             .status = 1,
                             .error = "no space left on device"},
                       rev = {0};
    enum agent_guest_msg_kind kind;
    ctr_error_t err = NULL;
    size_t len;
    char *json;

    in.u.archive =
        (struct agent_archive){.process = "cp-1", .path = "/", .stream = 5, .export_all = true};
    roundtrip_req(&in, &out);
    assert_int_equal(out.op, AGENT_OP_ARCHIVE_GET);
    assert_string_equal(out.u.archive.process, "cp-1");
    assert_string_equal(out.u.archive.path, "/");
    assert_int_equal(out.u.archive.stream, 5);
    assert_true(out.u.archive.export_all);
    agent_request_release(&out);

    in.op = AGENT_OP_ARCHIVE_PUT;
    in.u.archive.path = "/dst";
    roundtrip_req(&in, &out);
    assert_int_equal(out.op, AGENT_OP_ARCHIVE_PUT);
    assert_string_equal(out.u.archive.path, "/dst");
    assert_false(out.u.archive.export_all);
    agent_request_release(&out);

    in.op = AGENT_OP_ARCHIVE_STAT;
    in.u.archive.path = "/etc/passwd";
    roundtrip_req(&in, &out);
    assert_int_equal(out.op, AGENT_OP_ARCHIVE_STAT);
    assert_null(out.u.archive.process);
    agent_request_release(&out);

    json = agent_reply_encode(&rep, &len);
    if (agent_guest_msg_decode(json, len, &kind, &rrep, &rev, &err) < 0)
        fail_msg("%s", err->msg);
    free(json);
    assert_int_equal(kind, AGENT_MSG_REPLY);
    assert_non_null(rrep.stat);
    assert_string_equal(rrep.stat->name, "passwd");
    assert_int_equal(rrep.stat->size, 1234);
    assert_int_equal(rrep.stat->mode, 0x80000000u | 0755);
    assert_string_equal(rrep.stat->mtime, "2026-11-27T23:00:00.5Z");
    assert_string_equal(rrep.stat->link_target, "/etc/x");
    agent_reply_release(&rrep);

    rep = (struct agent_reply){
        .id = 3, .ok = false, .error = "no such file or directory: /x", .errnum = ENOENT};
    json = agent_reply_encode(&rep, &len);
    if (agent_guest_msg_decode(json, len, &kind, &rrep, &rev, &err) < 0)
        fail_msg("%s", err->msg);
    free(json);
    assert_false(rrep.ok);
    assert_int_equal(rrep.errnum, ENOENT);
    assert_null(rrep.stat);
    agent_reply_release(&rrep);

    json = agent_event_encode(&ev, &len);
    if (agent_guest_msg_decode(json, len, &kind, &rrep, &rev, &err) < 0)
        fail_msg("%s", err->msg);
    free(json);
    assert_int_equal(kind, AGENT_MSG_EVENT);
    assert_string_equal(rev.error, "no space left on device");
    agent_event_release(&rev);
}

static void test_archive_hostile(void **state)
{
    /* requests */
    req_bad("{\"op\":\"archive_stat\",\"id\":1}", "missing field `path`");
    req_bad("{\"op\":\"archive_stat\",\"id\":1,\"path\":\"etc\"}", "absolute path");
    req_bad("{\"op\":\"archive_stat\",\"id\":1,\"path\":\"/x\",\"stream\":3}", "unknown field");
    req_bad("{\"op\":\"archive_stat\",\"id\":1,\"path\":\"/x\\u0000y\"}", "NUL");
    req_bad("{\"op\":\"archive_get\",\"id\":1,\"path\":\"/x\",\"stream\":3}", "`process`");
    req_bad("{\"op\":\"archive_get\",\"id\":1,\"process\":\"\",\"path\":\"/x\",\"stream\":3}",
            "must not be empty");
    req_bad("{\"op\":\"archive_get\",\"id\":1,\"process\":\"c\",\"path\":\"/x\"}",
            "missing field `stream`");
    req_bad("{\"op\":\"archive_get\",\"id\":1,\"process\":\"c\",\"path\":\"/x\",\"stream\":0}",
            "outside");
    req_bad("{\"op\":\"archive_get\",\"id\":1,\"process\":\"c\",\"path\":\"/x\","
            "\"stream\":4294967296}",
            "outside");
    req_bad("{\"op\":\"archive_get\",\"id\":1,\"process\":\"c\",\"path\":\"/x\",\"stream\":\"1\"}",
            "must be an integer");
    req_bad("{\"op\":\"archive_get\",\"id\":1,\"process\":\"c\",\"path\":\"/etc\",\"stream\":1,"
            "\"export\":true}",
            "`export` needs `path`");
    req_bad("{\"op\":\"archive_get\",\"id\":1,\"process\":\"c\",\"path\":\"/\",\"stream\":1,"
            "\"export\":1}",
            "must be a boolean");
    req_bad("{\"op\":\"archive_put\",\"id\":1,\"process\":\"c\",\"path\":\"/\",\"stream\":1,"
            "\"export\":false}",
            "unknown field `export`");
    req_bad("{\"op\":\"archive_put\",\"id\":1,\"process\":\"c\",\"path\":\"/\",\"stream\":1,"
            "\"path\":\"/y\"}",
            "invalid JSON");
    /* replies and events */
    guest_bad("{\"id\":1,\"ok\":true,\"stat\":[]}", "must be an object");
    guest_bad("{\"id\":1,\"ok\":true,\"stat\":{\"name\":\"a\",\"size\":-1,\"mode\":0,"
              "\"mtime\":\"t\"}}",
              "outside");
    guest_bad("{\"id\":1,\"ok\":true,\"stat\":{\"name\":\"a\",\"size\":1,\"mode\":4294967296,"
              "\"mtime\":\"t\"}}",
              "outside");
    guest_bad("{\"id\":1,\"ok\":true,\"stat\":{\"name\":\"a\",\"size\":1,\"mode\":1}}",
              "missing field `mtime`");
    guest_bad("{\"id\":1,\"ok\":true,\"stat\":{\"name\":\"a\",\"size\":1,\"mode\":1,"
              "\"mtime\":\"t\",\"owner\":0}}",
              "unknown field `owner`");
    guest_bad("{\"id\":1,\"ok\":false,\"error\":\"x\",\"stat\":{\"name\":\"a\",\"size\":1,"
              "\"mode\":1,\"mtime\":\"t\"}}",
              "`stat` set on a failed reply");
    guest_bad("{\"id\":1,\"ok\":true,\"errno\":2}", "set on a successful reply");
    guest_bad("{\"id\":1,\"ok\":false,\"error\":\"x\",\"errno\":0}", "outside");
    guest_bad("{\"id\":1,\"ok\":false,\"error\":\"x\",\"errno\":4096}", "outside");
    guest_bad("{\"event\":\"exit\",\"process\":\"c\",\"status\":1,\"error\":7}",
              "must be a string");
}

static void test_peek_id(void **state)
{
    const char *j = "{\"op\":\"launch\",\"id\":33}";
    uint64_t id = 0;
    assert_true(agent_request_peek_id(j, strlen(j), &id));
    assert_int_equal(id, 33);
    j = "{\"op\":\"launch\",\"id\":\"33\"}";
    assert_false(agent_request_peek_id(j, strlen(j), &id));
    j = "{\"op\":\"launch\",\"id\":0}";
    assert_false(agent_request_peek_id(j, strlen(j), &id));
    j = "{\"op\":";
    assert_false(agent_request_peek_id(j, strlen(j), &id));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hello),
        cmocka_unit_test(test_setup),
        cmocka_unit_test(test_setup_warm),
        cmocka_unit_test(test_exec),
        cmocka_unit_test(test_signal_resize_shutdown),
        cmocka_unit_test(test_reply_event),
        cmocka_unit_test(test_top_and_ctr_setup),
        cmocka_unit_test(test_bad_requests),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_bad_guest_msgs),
        cmocka_unit_test(test_truncated_json),
        cmocka_unit_test(test_mutations),
        cmocka_unit_test(test_peek_id),
        cmocka_unit_test(test_archive),
        cmocka_unit_test(test_archive_hostile),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
