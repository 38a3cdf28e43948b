/* Unit tests of the daemon's handling of outside input (issue 11): text that is not
 * UTF-8 made valid with U+FFFD as Go does. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/daemon-internal.h"

#define FFFD "\xef\xbf\xbd"

static void test_utf8_valid(void **state)
{
    assert_true(dmn_utf8_valid(""));
    assert_true(dmn_utf8_valid("plain ascii"));
    assert_true(dmn_utf8_valid("caf\xc3\xa9 " FFFD " \xf0\x9f\x90\xb3"));
    assert_false(dmn_utf8_valid("caf\xe9"));
    assert_false(dmn_utf8_valid("\xff"));
    assert_false(dmn_utf8_valid("\xc0\xaf"));         /* overlong '/' */
    assert_false(dmn_utf8_valid("\xed\xa0\x80"));     /* a surrogate */
    assert_false(dmn_utf8_valid("\xf4\x90\x80\x80")); /* past U+10FFFF */
    assert_false(dmn_utf8_valid("\xe2\x82"));         /* cut short at the end */
    assert_false(dmn_utf8_valid("\xf0\x9f\x90"));
}

static void test_utf8_fix(void **state)
{
    char *s = dmn_utf8_fix("caf\xe9");
    assert_string_equal(s, "caf" FFFD);
    free(s);
    /* one U+FFFD per invalid byte, as Go's encoding/json */
    s = dmn_utf8_fix("\xff\xfe/x");
    assert_string_equal(s, FFFD FFFD "/x");
    free(s);
    s = dmn_utf8_fix("a\xe2\x82");
    assert_string_equal(s, "a" FFFD FFFD);
    free(s);
    s = dmn_utf8_fix("ok \xc3\xa9");
    assert_string_equal(s, "ok \xc3\xa9");
    free(s);
    s = dmn_utf8_fix("");
    assert_string_equal(s, "");
    free(s);
}

static void test_json_str(void **state)
{
    json_t *j = dmn_json_str("No such container: \xff");
    assert_non_null(j);
    assert_string_equal(json_string_value(j), "No such container: " FFFD);
    json_decref(j);
    j = dmn_json_str(NULL);
    assert_true(json_is_null(j));
    json_decref(j);
    /* every byte value survives as valid JSON */
    char all[256];
    for (int i = 1; i < 256; i++)
        all[i - 1] = (char)i;
    all[255] = '\0';
    j = dmn_json_str(all);
    char *dump = json_dumps(j, JSON_ENCODE_ANY);
    assert_non_null(dump);
    free(dump);
    json_decref(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_utf8_valid),
        cmocka_unit_test(test_utf8_fix),
        cmocka_unit_test(test_json_str),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
