/* Unit tests of the daemon's handling of outside input (issue 11): text that is not
 * UTF-8 made valid with U+FFFD as Go does, the JSON types of a container config, and the
 * process size limits checked at create. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/api/api.h" /* the request checks (api/validate.c) */

#define FFFD "\xef\xbf\xbd"

static void test_utf8_valid(void **state)
{
    assert_true(ctr_utf8_valid(""));
    assert_true(ctr_utf8_valid("plain ascii"));
    assert_true(ctr_utf8_valid("caf\xc3\xa9 " FFFD " \xf0\x9f\x90\xb3"));
    assert_false(ctr_utf8_valid("caf\xe9"));
    assert_false(ctr_utf8_valid("\xff"));
    assert_false(ctr_utf8_valid("\xc0\xaf"));         /* overlong '/' */
    assert_false(ctr_utf8_valid("\xed\xa0\x80"));     /* a surrogate */
    assert_false(ctr_utf8_valid("\xf4\x90\x80\x80")); /* past U+10FFFF */
    assert_false(ctr_utf8_valid("\xe2\x82"));         /* cut short at the end */
    assert_false(ctr_utf8_valid("\xf0\x9f\x90"));
}

static void test_utf8_fix(void **state)
{
    char *s = ctr_utf8_fix("caf\xe9");
    assert_string_equal(s, "caf" FFFD);
    free(s);
    /* one U+FFFD per invalid byte, as Go's encoding/json */
    s = ctr_utf8_fix("\xff\xfe/x");
    assert_string_equal(s, FFFD FFFD "/x");
    free(s);
    s = ctr_utf8_fix("a\xe2\x82");
    assert_string_equal(s, "a" FFFD FFFD);
    free(s);
    s = ctr_utf8_fix("ok \xc3\xa9");
    assert_string_equal(s, "ok \xc3\xa9");
    free(s);
    s = ctr_utf8_fix("");
    assert_string_equal(s, "");
    free(s);
}

static void test_json_str(void **state)
{
    json_t *j = ctr_json_str("No such container: \xff");
    assert_non_null(j);
    assert_string_equal(json_string_value(j), "No such container: " FFFD);
    json_decref(j);
    j = ctr_json_str(NULL);
    assert_true(json_is_null(j));
    json_decref(j);
    /* every byte value survives as valid JSON */
    char all[256];
    for (int i = 1; i < 256; i++)
        all[i - 1] = (char)i;
    all[255] = '\0';
    j = ctr_json_str(all);
    char *dump = json_dumps(j, JSON_ENCODE_ANY);
    assert_non_null(dump);
    free(dump);
    json_decref(j);
}

static void expect_type_error(const char *json, const char *needle)
{
    json_t *j = json_loads(json, 0, NULL);
    ctr_error_t err = NULL;
    assert_non_null(j);
    assert_int_equal(api_config_check_types(j, &err), -1);
    assert_non_null(err);
    assert_int_equal(err->errnum, EINVAL);
    if (strstr(err->msg, needle) == NULL)
        fail_msg("`%s` not in `%s`", needle, err->msg);
    ctr_error_free(&err);
    json_decref(j);
}

static void expect_types_ok(const char *json)
{
    json_t *j = json_loads(json, 0, NULL);
    ctr_error_t err = NULL;
    assert_non_null(j);
    if (api_config_check_types(j, &err) < 0)
        fail_msg("%s: %s", json, err->msg);
    json_decref(j);
}

static void test_config_types(void **state)
{
    expect_type_error("{\"Image\":42}", "invalid `Image`: a string is expected, not an integer");
    expect_type_error("{\"Image\":\"b\",\"HostConfig\":{\"Memory\":\"1g\"}}",
                      "invalid `HostConfig.Memory`: an integer (int64) is expected, not a string");
    expect_type_error("{\"Image\":\"b\",\"HostConfig\":{\"Memory\":1.5}}", "`HostConfig.Memory`");
    expect_type_error("{\"Image\":\"b\",\"StopTimeout\":99999999999}",
                      "`StopTimeout`: 99999999999 is out of range");
    expect_type_error("{\"Image\":\"b\",\"Tty\":\"yes\"}", "`Tty`: true or false");
    expect_type_error("{\"Image\":\"b\",\"Env\":\"A=1\"}", "`Env`: a list of strings");
    expect_type_error("{\"Image\":\"b\",\"Cmd\":[\"a\",1]}", "`Cmd[1]`");
    expect_type_error("{\"Image\":\"b\",\"Labels\":{\"k\":1}}", "`Labels.k`");
    expect_type_error("{\"Image\":\"b\",\"HostConfig\":{\"BlkioWeight\":70000}}",
                      "`HostConfig.BlkioWeight`");
    expect_type_error("{\"Image\":\"b\",\"HostConfig\":{\"Binds\":\"/a:/b\"}}",
                      "`HostConfig.Binds`");
    expect_types_ok("{\"Image\":\"b\",\"Cmd\":\"echo hi\",\"Entrypoint\":null,\"StopTimeout\":10,"
                    "\"HostConfig\":{\"Memory\":1073741824,\"Binds\":[\"/a:/b\"],\"Init\":null}}");
    expect_types_ok("{\"Image\":\"b\",\"HostConfig\":null}");
    expect_type_error("{\"Image\":\"b\",\"HostConfig\":{\"RestartPolicy\":{\"Name\":5}}}",
                      "`HostConfig.RestartPolicy.Name`");
    expect_type_error("{\"Image\":\"b\",\"HostConfig\":{\"LogConfig\":{\"Config\":{\"a\":1}}}}",
                      "`HostConfig.LogConfig.Config.a`");
    expect_type_error("{\"Image\":\"b\",\"ExposedPorts\":{\"80/tcp\":5}}", "`ExposedPorts.80/tcp`");
    expect_types_ok("{\"Image\":\"b\",\"ExposedPorts\":{\"80/tcp\":{}},\"Volumes\":{\"/v\":{}},"
                    "\"HostConfig\":{\"RestartPolicy\":{\"Name\":\"no\",\"MaximumRetryCount\":0},"
                    "\"LogConfig\":{\"Type\":\"json-file\",\"Config\":{}}}}");
}

static void test_process_size(void **state)
{
    char *args[] = {"echo", NULL, NULL};
    struct agent_exec ex = {.args = args, .cwd = "/", .user = ""};
    ctr_error_t err = NULL;
    args[1] = "hello";
    assert_int_equal(dmn_process_check_size(&ex, "process", &err), 0);
    /* 100 KB of argument: over the guest's control frame */
    char *big = malloc(100001);
    memset(big, 'x', 100000);
    big[100000] = '\0';
    args[1] = big;
    assert_int_equal(dmn_process_check_size(&ex, "container's process", &err), -1);
    assert_int_equal(err->errnum, EINVAL);
    assert_non_null(strstr(err->msg, "container's process"));
    assert_non_null(strstr(err->msg, "at most 65536"));
    ctr_error_free(&err);
    /* a working directory longer than the guest takes */
    big[5000] = '\0';
    big[0] = '/';
    args[1] = "hello";
    ex.cwd = big;
    assert_int_equal(dmn_process_check_size(&ex, "process", &err), -1);
    ctr_error_free(&err);
    free(big);
}

static void test_exec_config(void **state)
{
    ctr_error_t err = NULL;
    json_t *j = json_loads("{\"Cmd\":[\"true\"],\"Env\":\"A=1\"}", 0, NULL);
    assert_int_equal(api_exec_config_check(j, &err), -1);
    assert_non_null(strstr(err->msg, "`Env`"));
    ctr_error_free(&err);
    json_decref(j);
    j = json_loads("{\"Cmd\":[\"true\"],\"Env\":[\"A=1\"],\"WorkingDir\":\"/\"}", 0, NULL);
    assert_int_equal(api_exec_config_check(j, &err), 0);
    json_decref(j);
    /* what the docker CLI sends: empty WorkingDir and User are none */
    j = json_loads("{\"Cmd\":[\"true\"],\"WorkingDir\":\"\",\"User\":\"\"}", 0, NULL);
    if (api_exec_config_check(j, &err) < 0)
        fail_msg("%s", err->msg);
    json_decref(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_utf8_valid),   cmocka_unit_test(test_utf8_fix),
        cmocka_unit_test(test_json_str),     cmocka_unit_test(test_config_types),
        cmocka_unit_test(test_process_size), cmocka_unit_test(test_exec_config),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
