/* src/common: the shared signal parser (the CLI and the daemon take the same names). */
#include "common/common.h"

#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

static void test_detach_keys(void **state)
{
    uint8_t k[CTR_DETACH_KEYS_MAX];
    size_t n = 0;
    assert_int_equal(ctr_detach_keys_parse("ctrl-p,ctrl-q", k, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(k[0], 16);
    assert_int_equal(k[1], 17);
    assert_int_equal(ctr_detach_keys_parse("a,ctrl-@,ctrl-_,ctrl-\\", k, &n), 0);
    assert_int_equal(n, 4);
    assert_int_equal(k[0], 'a');
    assert_int_equal(k[1], 0);
    assert_int_equal(k[2], 31);
    assert_int_equal(k[3], 28);
    assert_int_equal(ctr_detach_keys_parse("ctrl-", k, &n), -1);
    assert_int_equal(ctr_detach_keys_parse("ctrl-A", k, &n), -1);
    assert_int_equal(ctr_detach_keys_parse("", k, &n), -1);
    assert_int_equal(ctr_detach_keys_parse("a,", k, &n), -1);
    assert_int_equal(ctr_detach_keys_parse("ab", k, &n), -1);
    assert_int_equal(ctr_detach_keys_parse("a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a", k, &n), -1);
}

static void test_signal_parse(void **state)
{
    int s = 0;
    assert_int_equal(ctr_signal_parse("KILL", &s), 0);
    assert_int_equal(s, SIGKILL);
    assert_int_equal(ctr_signal_parse("SIGTERM", &s), 0);
    assert_int_equal(s, SIGTERM);
    assert_int_equal(ctr_signal_parse("sighup", &s), 0);
    assert_int_equal(s, SIGHUP);
    assert_int_equal(ctr_signal_parse("IOT", &s), 0);
    assert_int_equal(s, SIGABRT);
    assert_int_equal(ctr_signal_parse("10", &s), 0);
    assert_int_equal(s, 10);
    assert_int_equal(ctr_signal_parse("64", &s), 0);
    assert_int_equal(ctr_signal_parse("RTMIN", &s), 0);
    assert_int_equal(s, SIGRTMIN);
    assert_int_equal(ctr_signal_parse("sigrtmin+3", &s), 0);
    assert_int_equal(s, SIGRTMIN + 3);
    assert_int_equal(ctr_signal_parse("RTMAX-1", &s), 0);
    assert_int_equal(s, SIGRTMAX - 1);
    const char *bad[] = {"",        "0",      "65",     "99",       "-1",
                         "NOPE",    "SIG",    "KILLX",  "9x",       "RTMIN-1",
                         "RTMAX+1", "RTMIN+", "RTMINx", "RTMIN+99", "SIGSIGKILL"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(ctr_signal_parse(bad[i], &s), -1);
    assert_int_equal(ctr_signal_parse(NULL, &s), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_signal_parse),
        cmocka_unit_test(test_detach_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
