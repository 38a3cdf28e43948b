/* src/common: the shared signal parser (the CLI and the daemon take the same names). */
#include "common/common.h"

#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
