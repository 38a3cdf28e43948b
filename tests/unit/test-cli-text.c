/* Text from argv, env and files into request bodies: bytes that are not UTF-8 become
 * U+FFFD (one per byte, as Go's encoder), and no argument is ever dropped or shifted
 * (issue 11, defect 8). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

#define ARGV(...) ((char *[]){__VA_ARGS__, NULL})
#define ARGC(...) ((int)(sizeof((char *[]){__VA_ARGS__}) / sizeof(char *)))
#define FFFD "\xef\xbf\xbd"

static void test_utf8_valid(void **state)
{
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"", ""},
        {"plain", "plain"},
        {"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x90\xb3", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x90\xb3"},
        {"X\xff", "X" FFFD},
        {"caf\xe9", "caf" FFFD},
        {"\xc0\xaf", FFFD FFFD},                   /* overlong '/' */
        {"\xed\xa0\x80", FFFD FFFD FFFD},          /* a surrogate */
        {"\xf4\x90\x80\x80", FFFD FFFD FFFD FFFD}, /* past U+10FFFF */
        {"\xe2\x82", FFFD FFFD},                   /* cut short */
        {"a\x80"
         "b",
         "a" FFFD "b"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *v = ctr_utf8_fix(cases[i].in);
        assert_string_equal(v, cases[i].out);
        free(v);
        json_t *j = ctr_json_str(cases[i].in);
        assert_non_null(j);
        assert_string_equal(json_string_value(j), cases[i].out);
        json_decref(j);
    }
}

static void test_run_body_keeps_every_arg(void **state)
{
    struct cli_run_opts o;
    ctr_error_t err = NULL;
    char **argv = ARGV("run", "-e", "V=\xfe", "-w", "/w\xff", "-u", "u\xff", "-l", "k\xff=v\xff",
                       "busybox", "sh", "-c", "echo $0 $1", "X\xff", "b", "c");
    assert_int_equal(
        cli_run_parse("run",
                      ARGC("run", "-e", "V=\xfe", "-w", "/w\xff", "-u", "u\xff", "-l",
                           "k\xff=v\xff", "busybox", "sh", "-c", "echo $0 $1", "X\xff", "b", "c"),
                      argv, &o, &err),
        0);
    json_t *b = cli_run_body(&o, false);
    json_t *cmd = json_object_get(b, "Cmd");
    assert_int_equal(json_array_size(cmd), 6);
    assert_string_equal(json_string_value(json_array_get(cmd, 3)), "X" FFFD);
    assert_string_equal(json_string_value(json_array_get(cmd, 4)), "b");
    assert_string_equal(json_string_value(json_array_get(cmd, 5)), "c");
    assert_int_equal(json_array_size(json_object_get(b, "Env")), 1);
    assert_string_equal(json_string_value(json_array_get(json_object_get(b, "Env"), 0)), "V=" FFFD);
    assert_string_equal(cli_json_str(b, "WorkingDir"), "/w" FFFD);
    assert_string_equal(cli_json_str(b, "User"), "u" FFFD);
    assert_string_equal(cli_json_str(json_object_get(b, "Labels"), "k" FFFD), "v" FFFD);
    /* the body serializes (json_dumps fails on nothing) */
    char *s = json_dumps(b, JSON_COMPACT);
    assert_non_null(s);
    free(s);
    json_decref(b);
    cli_run_opts_release(&o);
}

static void test_exec_body_keeps_every_arg(void **state)
{
    struct cli_exec_opts o;
    ctr_error_t err = NULL;
    char **argv = ARGV("exec", "-e", "A=\xff", "-w", "/\xff", "ctr", "echo", "\xff", "b");
    assert_int_equal(
        cli_exec_parse(ARGC("exec", "-e", "A=\xff", "-w", "/\xff", "ctr", "echo", "\xff", "b"),
                       argv, &o, &err),
        0);
    json_t *b = cli_exec_body(&o);
    json_t *cmd = json_object_get(b, "Cmd");
    assert_int_equal(json_array_size(cmd), 3);
    assert_string_equal(json_string_value(json_array_get(cmd, 1)), FFFD);
    assert_string_equal(json_string_value(json_array_get(cmd, 2)), "b");
    assert_string_equal(json_string_value(json_array_get(json_object_get(b, "Env"), 0)), "A=" FFFD);
    assert_string_equal(cli_json_str(b, "WorkingDir"), "/" FFFD);
    json_decref(b);
    cli_exec_opts_release(&o);
}

static void test_network_and_filters(void **state)
{
    char *labels[] = {"k\xff=v\xff", NULL};
    json_t *b = cli_network_create_body("n\xff", "10.1.0.0/24", false, labels);
    assert_non_null(b);
    assert_string_equal(cli_json_str(b, "Name"), "n" FFFD);
    assert_string_equal(cli_json_str(json_object_get(b, "Labels"), "k" FFFD), "v" FFFD);
    json_decref(b);
    char *filters[] = {"name=x\xff", NULL};
    char *q = cli_filters_query(filters);
    assert_non_null(strstr(q, "%EF%BF%BD")); /* U+FFFD, escaped */
    free(q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_utf8_valid),
        cmocka_unit_test(test_run_body_keeps_every_arg),
        cmocka_unit_test(test_exec_body_keeps_every_arg),
        cmocka_unit_test(test_network_and_filters),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
