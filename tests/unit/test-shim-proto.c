/* The shim control protocol's archive requests and replies (proto/shim.h): round
 * trips and refusals of malformed input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
/* cmocka needs the three above first */
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "proto/shim.h"

static void req_roundtrip(const struct shimp_request *in, struct shimp_request *out)
{
    size_t len;
    char *json = shimp_request_encode(in, &len);
    ctr_error_t err = NULL;
    if (shimp_request_decode(json, len, out, &err) < 0)
        fail_msg("decode `%s`: %s", json, err->msg);
    free(json);
}

static void req_bad(const char *json, const char *needle)
{
    struct shimp_request r = {0};
    ctr_error_t err = NULL;
    if (shimp_request_decode(json, strlen(json), &r, &err) == 0)
        fail_msg("accepted `%s`", json);
    if (strstr(err->msg, needle) == NULL)
        fail_msg("error `%s` for `%s` does not mention `%s`", err->msg, json, needle);
    ctr_error_free(&err);
}

static void msg_bad(const char *json, const char *needle)
{
    struct shimp_msg m = {0};
    ctr_error_t err = NULL;
    if (shimp_msg_decode(json, strlen(json), &m, &err) == 0)
        fail_msg("accepted `%s`", json);
    if (strstr(err->msg, needle) == NULL)
        fail_msg("error `%s` for `%s` does not mention `%s`", err->msg, json, needle);
    ctr_error_free(&err);
}

static void archive_requests(void **state)
{
    struct shimp_request in = {.op = SHIMP_OP_ARCHIVE_GET, .path = "/", .export_all = true}, out;

    req_roundtrip(&in, &out);
    assert_int_equal(out.op, SHIMP_OP_ARCHIVE_GET);
    assert_string_equal(out.path, "/");
    assert_true(out.export_all);
    shimp_request_release(&out);
    in = (struct shimp_request){.op = SHIMP_OP_ARCHIVE_PUT, .path = "/dst dir/x"};
    req_roundtrip(&in, &out);
    assert_int_equal(out.op, SHIMP_OP_ARCHIVE_PUT);
    assert_string_equal(out.path, "/dst dir/x");
    assert_false(out.export_all);
    shimp_request_release(&out);
    in = (struct shimp_request){.op = SHIMP_OP_ARCHIVE_STAT, .path = "/etc/passwd"};
    req_roundtrip(&in, &out);
    assert_int_equal(out.op, SHIMP_OP_ARCHIVE_STAT);
    shimp_request_release(&out);

    req_bad("{\"op\":\"archive_stat\"}", "absolute `path`");
    req_bad("{\"op\":\"archive_get\",\"path\":\"etc\"}", "absolute `path`");
    req_bad("{\"op\":\"archive_put\",\"path\":7}", "must be a string");
    req_bad("{\"op\":\"archive_get\",\"path\":\"/etc\",\"export\":true}", "`export` needs");
    req_bad("{\"op\":\"archive_get\",\"path\":\"/a\\u0000b\"}", "not a JSON object");
    req_bad("{\"op\":\"archive_remove\",\"path\":\"/\"}", "unknown shim op");
}

/* pause and resume: the op alone, exactly as sent (the VM's vCPUs stop or go on) */
static void pause_requests(void **state)
{
    struct shimp_request in = {.op = SHIMP_OP_PAUSE}, out;
    size_t len;
    char *json = shimp_request_encode(&in, &len);

    assert_string_equal(json, "{\"op\":\"pause\"}");
    free(json);
    req_roundtrip(&in, &out);
    assert_int_equal(out.op, SHIMP_OP_PAUSE);
    shimp_request_release(&out);
    in = (struct shimp_request){.op = SHIMP_OP_RESUME};
    json = shimp_request_encode(&in, &len);
    assert_string_equal(json, "{\"op\":\"resume\"}");
    free(json);
    req_roundtrip(&in, &out);
    assert_int_equal(out.op, SHIMP_OP_RESUME);
    shimp_request_release(&out);
    /* extra members are ignored, as for every op; a wrong name is refused */
    const char *extra = "{\"op\":\"pause\",\"timeout\":3}";
    assert_int_equal(shimp_request_decode(extra, strlen(extra), &out, NULL), 0);
    assert_int_equal(out.op, SHIMP_OP_PAUSE);
    shimp_request_release(&out);
    req_bad("{\"op\":\"unpause\"}", "unknown shim op `unpause`");
    req_bad("{\"op\":\"Pause\"}", "unknown shim op");
}

static void archive_replies(void **state)
{
    struct agent_path_stat st = {.name = "pa\"ss",
                                 .size = 5,
                                 .mode = 0x80000000u | 0755,
                                 .mtime = "2026-01-01T00:00:00Z",
                                 .link_target = "/etc"};
    struct shimp_msg in = {.kind = SHIMP_MSG_REPLY, .ok = true, .stat = &st}, out = {0};
    ctr_error_t err = NULL;
    size_t len;
    char *json = shimp_msg_encode(&in, &len);

    assert_int_equal(shimp_msg_decode(json, len, &out, &err), 0);
    free(json);
    assert_true(out.ok);
    assert_non_null(out.stat);
    assert_string_equal(out.stat->name, "pa\"ss");
    assert_int_equal(out.stat->size, 5);
    assert_int_equal(out.stat->mode, 0x80000000u | 0755);
    assert_string_equal(out.stat->link_target, "/etc");
    shimp_msg_release(&out);

    in = (struct shimp_msg){.kind = SHIMP_MSG_REPLY,
                            .error = "no such file or directory: /x",
                            .code = 1,
                            .errnum = ENOENT};
    json = shimp_msg_encode(&in, &len);
    assert_int_equal(shimp_msg_decode(json, len, &out, &err), 0);
    free(json);
    assert_false(out.ok);
    assert_int_equal(out.errnum, ENOENT);
    assert_string_equal(out.error, "no such file or directory: /x");
    shimp_msg_release(&out);

    /* invalid UTF-8 from the guest still encodes */
    in = (struct shimp_msg){.kind = SHIMP_MSG_EXIT, .status = 1, .exit_error = "bad \xff name"};
    json = shimp_msg_encode(&in, &len);
    assert_int_equal(shimp_msg_decode(json, len, &out, &err), 0);
    free(json);
    assert_int_equal(out.kind, SHIMP_MSG_EXIT);
    assert_int_equal(out.status, 1);
    assert_string_equal(out.exit_error, "bad \xef\xbf\xbd name");
    shimp_msg_release(&out);

    msg_bad("{\"ok\":true,\"stat\":[]}", "must be an object");
    msg_bad("{\"ok\":true,\"stat\":{\"name\":\"a\",\"size\":-1,\"mtime\":\"t\"}}", "`size`");
    msg_bad("{\"ok\":true,\"stat\":{\"size\":1,\"mtime\":\"t\"}}", "needs `name`");
    msg_bad("{\"ok\":false,\"error\":\"x\",\"errno\":99999}", "`errno`");
    msg_bad("{\"event\":\"exit\",\"status\":1,\"error\":5}", "must be a string");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(archive_requests),
        cmocka_unit_test(pause_requests),
        cmocka_unit_test(archive_replies),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
