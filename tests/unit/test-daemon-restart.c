/* Restart policies (restart.c): dockerd's checks and messages, moby's restartmanager
 * rules (which exit restarts) and its back-off. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "daemon/daemon-internal.h"

static void parse_fails(const char *name, long long max, bool ar, const char *msg)
{
    struct dmn_restart_policy p;
    ctr_error_t err = NULL;
    assert_int_equal(dmn_restart_policy_parse(name, max, ar, &p, &err), -1);
    assert_non_null(err);
    assert_int_equal(err->errnum, EINVAL);
    if (strstr(err->msg, msg) == NULL)
        fail_msg("`%s` lacks `%s`", err->msg, msg);
    ctr_error_free(&err);
}

static void test_parse(void **state)
{
    struct dmn_restart_policy p;
    assert_int_equal(dmn_restart_policy_parse(NULL, 0, false, &p, NULL), 0);
    assert_int_equal(p.name, DMN_RESTART_NO);
    assert_int_equal(dmn_restart_policy_parse("", 7, true, &p, NULL), 0); /* dockerd: allowed */
    assert_int_equal(p.name, DMN_RESTART_NO);
    assert_int_equal(dmn_restart_policy_parse("no", 0, true, &p, NULL), 0);
    assert_int_equal(dmn_restart_policy_parse("unless-stopped", 0, false, &p, NULL), 0);
    assert_int_equal(p.name, DMN_RESTART_UNLESS_STOPPED);
    assert_int_equal(dmn_restart_policy_parse("on-failure", 5, false, &p, NULL), 0);
    assert_int_equal(p.name, DMN_RESTART_ON_FAILURE);
    assert_int_equal(p.max_retries, 5);
    assert_string_equal(dmn_restart_policy_name(p.name), "on-failure");
    parse_fails("always", 1, false,
                "maximum retry count cannot be used with restart policy 'always'");
    parse_fails("no", -1, false, "maximum retry count cannot be used with restart policy 'no'");
    parse_fails("on-failure", -2, false, "maximum retry count cannot be negative");
    parse_fails("On-Failure", 0, false, "invalid restart policy 'On-Failure'");
    parse_fails("always", 0, true, "can't create 'AutoRemove' container with restart policy");
}

static void test_wanted(void **state)
{
    struct dmn_restart_policy no = {DMN_RESTART_NO, 0}, al = {DMN_RESTART_ALWAYS, 0},
                              us = {DMN_RESTART_UNLESS_STOPPED, 0},
                              of = {DMN_RESTART_ON_FAILURE, 2}, of0 = {DMN_RESTART_ON_FAILURE, 0};
    assert_false(dmn_restart_wanted(&no, 0, 1, false));
    assert_true(dmn_restart_wanted(&al, 9, 0, true));
    assert_true(dmn_restart_wanted(&us, 0, 0, false));
    assert_false(dmn_restart_wanted(&us, 0, 1, true));
    assert_false(dmn_restart_wanted(&of, 0, 0, false));
    assert_true(dmn_restart_wanted(&of, 1, 1, false));
    assert_false(dmn_restart_wanted(&of, 2, 1, false));
    assert_true(dmn_restart_wanted(&of0, 1000, 137, false));
}

static void test_backoff(void **state)
{
    assert_int_equal(dmn_restart_backoff_ms(0, 0), 100);
    assert_int_equal(dmn_restart_backoff_ms(100, 1000000000), 200);
    assert_int_equal(dmn_restart_backoff_ms(200, 9999999999LL), 400);
    assert_int_equal(dmn_restart_backoff_ms(400, 10000000000LL), 100); /* up 10 s: reset */
    assert_int_equal(dmn_restart_backoff_ms(51200, 0), 60000);
    assert_int_equal(dmn_restart_backoff_ms(60000, 0), 60000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_wanted),
        cmocka_unit_test(test_backoff),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
