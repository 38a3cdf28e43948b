/* container.log: docker json-file lines from arbitrary output chunks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
/* cmocka needs the three above first */
#include <cmocka.h>

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shim/shim-internal.h"

static char path[64];

static char *read_log(void)
{
    char *text = NULL;
    size_t len;
    assert_int_equal(ctr_read_file(path, 1 << 24, &text, &len, NULL), 0);
    return text;
}

/* Parse line i of the log; returns the "log" field (malloc'd), checks stream and time. */
static char *line_log(const char *text, int i, const char *stream)
{
    const char *p = text;
    for (int k = 0; k < i; k++) {
        p = strchr(p, '\n');
        assert_non_null(p);
        p++;
    }
    size_t n = strcspn(p, "\n");
    json_error_t jerr;
    json_t *o = json_loadb(p, n, 0, &jerr);
    if (o == NULL)
        fail_msg("line %d is not JSON: %.*s (%s)", i, (int)n, p, jerr.text);
    assert_string_equal(json_string_value(json_object_get(o, "stream")), stream);
    const char *t = json_string_value(json_object_get(o, "time"));
    assert_non_null(t);
    assert_int_equal(strlen(t), strlen("2024-01-02T03:04:05.123456789Z"));
    assert_int_equal(t[strlen(t) - 1], 'Z');
    char *log = strdup(json_string_value(json_object_get(o, "log")));
    json_decref(o);
    return log;
}

static void lines_are_split_and_tagged(void **state)
{
    struct shim_logw l;
    strcpy(path, "/tmp/test-shim-log.XXXXXX");
    int fd = mkstemp(path);
    close(fd);
    assert_int_equal(shim_logw_open(&l, path, NULL), 0);
    shim_logw_write(&l, AGENTC_STDOUT, (const uint8_t *)"hel", 3);
    shim_logw_write(&l, AGENTC_STDERR, (const uint8_t *)"oops\n", 5);
    shim_logw_write(&l, AGENTC_STDOUT, (const uint8_t *)"lo\nwor", 6);
    shim_logw_write(&l, AGENTC_STDOUT, (const uint8_t *)"ld \"q\" \xff\t\x01", 10);
    shim_logw_close(&l); /* flushes the partial last line */
    char *text = read_log(), *s;
    s = line_log(text, 0, "stderr");
    assert_string_equal(s, "oops\n");
    free(s);
    s = line_log(text, 1, "stdout");
    assert_string_equal(s, "hello\n");
    free(s);
    s = line_log(text, 2, "stdout");
    assert_string_equal(s, "world \"q\" \xef\xbf\xbd\t\x01"); /* invalid UTF-8 -> U+FFFD */
    free(s);
    size_t lines = 0;
    for (const char *c = text; *c; c++)
        lines += *c == '\n';
    assert_int_equal(lines, 3);
    free(text);
    unlink(path);
}

static void long_lines_are_cut(void **state)
{
    struct shim_logw l;
    size_t n = 40000;
    char *big = malloc(n);
    memset(big, 'x', n);
    big[n - 1] = '\n';
    strcpy(path, "/tmp/test-shim-log.XXXXXX");
    close(mkstemp(path));
    assert_int_equal(shim_logw_open(&l, path, NULL), 0);
    shim_logw_write(&l, AGENTC_STDOUT, (uint8_t *)big, 100);
    shim_logw_write(&l, AGENTC_STDOUT, (uint8_t *)big + 100, n - 100);
    shim_logw_close(&l);
    char *text = read_log();
    size_t total = 0;
    for (int i = 0; i < 3; i++) {
        char *s = line_log(text, i, "stdout");
        assert_true(strlen(s) <= 16384);
        total += strlen(s);
        free(s);
    }
    assert_int_equal(total, n);
    free(text);
    free(big);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(lines_are_split_and_tagged),
        cmocka_unit_test(long_lines_are_cut),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
