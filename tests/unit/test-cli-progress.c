/* `image pull/push`: flag parsing (bad values name the flag) and the progress
 * renderer fed a recorded sequence of the daemon's messages. */
// clang-format off
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
// clang-format on

#include "cli/cli.h"
#include "cli/progress.h"

#include <stdlib.h>
#include <string.h>

/* ---- flags ---- */
static char *pull_err(const char *cmd, char **argv, int argc)
{
    struct cli_ctx ctx = {.name = cmd};
    ctr_error_t err = NULL;
    int r = strcmp(cmd, "image push") == 0 ? cli_cmd_image_push(&ctx, argc, argv, &err)
                                           : cli_cmd_image_pull(&ctx, argc, argv, &err);
    assert_int_equal(r, -1);
    assert_non_null(err);
    return ctr_error_take_msg(&err);
}

#define PULL_ERR(cmd, ...)                                                                         \
    pull_err(cmd, (char *[]){"x", __VA_ARGS__, NULL},                                              \
             (int)(sizeof((char *[]){"x", __VA_ARGS__}) / sizeof(char *)))

static void expect(char *msg, const char *needle)
{
    if (strstr(msg, needle) == NULL)
        fail_msg("message `%s` lacks `%s`", msg, needle);
    free(msg);
}

static void bad_flags(void **state)
{
    expect(PULL_ERR("image pull", "--progress", "fancy", "busybox"), "`fancy` for `--progress`");
    expect(PULL_ERR("image pull", "--scheme", "ftp", "busybox"), "`ftp` for `--scheme`");
    expect(PULL_ERR("image pull", "--max-concurrent-downloads", "0", "busybox"),
           "--max-concurrent-downloads");
    expect(PULL_ERR("image pull", "--max-concurrent-downloads", "x", "busybox"),
           "--max-concurrent-downloads");
    expect(PULL_ERR("image pull", "--arch", "linux/amd64", "busybox"), "`--arch`");
    expect(PULL_ERR("image pull", "--os", "", "busybox"), "`--os`");
    expect(PULL_ERR("image pull", "--platform", "nonsense", "busybox"), "--platform");
    expect(PULL_ERR("image push", "--progress", "loud", "busybox"), "`loud` for `--progress`");
    expect(PULL_ERR("image push", "--max-concurrent-downloads", "2", "busybox"),
           "--max-concurrent-downloads");
}

static void platform_combine(void **state)
{
    ctr_error_t err = NULL;
    char *p;

    p = cli_image_platform(NULL, NULL, NULL, &err);
    assert_string_equal(p, "");
    free(p);
    p = cli_image_platform(NULL, "linux", "amd64", &err);
    assert_string_equal(p, "linux/amd64");
    free(p);
    p = cli_image_platform("linux/arm64/v8", NULL, "riscv64", &err);
    assert_string_equal(p, "linux/riscv64"); /* v8 went with arm64 */
    free(p);
    p = cli_image_platform("linux/arm/v7", "freebsd", NULL, &err);
    assert_string_equal(p, "freebsd/arm/v7");
    free(p);
    p = cli_image_platform(NULL, NULL, "arm64", &err);
    assert_string_equal(p, "linux/arm64"); /* the host's os */
    free(p);
}

/* ---- renderer ---- */
static uint64_t now_ns;
static uint64_t fake_clock(void)
{
    return now_ns;
}

/* What the daemon sends for a two-layer pull, one layer already present;
 * each entry: ms to advance the clock, then the message. */
static const struct {
    unsigned ms;
    const char *json;
} pull_seq[] = {
    {0, "{\"status\":\"Pulling from\",\"progressDetail\":{},\"id\":\"test/img\"}"},
    {0, "{\"status\":\"Already exists\",\"progressDetail\":{},\"id\":\"aaaaaaaaaaaa\"}"},
    {0, "{\"status\":\"Pulling fs layer\",\"progressDetail\":{},\"id\":\"bbbbbbbbbbbb\"}"},
    {100, "{\"status\":\"Downloading\",\"progressDetail\":{\"current\":0,\"total\":2000000},"
          "\"id\":\"bbbbbbbbbbbb\"}"},
    {500, "{\"status\":\"Downloading\",\"progressDetail\":{\"current\":500000,\"total\":2000000},"
          "\"id\":\"bbbbbbbbbbbb\"}"},
    {600, "{\"status\":\"Downloading\",\"progressDetail\":{\"current\":1200000,\"total\":2000000},"
          "\"id\":\"bbbbbbbbbbbb\"}"},
    {900, "{\"status\":\"Downloading\",\"progressDetail\":{\"current\":2000000,\"total\":2000000},"
          "\"id\":\"bbbbbbbbbbbb\"}"},
    {0, "{\"status\":\"Download complete\",\"progressDetail\":{},\"id\":\"bbbbbbbbbbbb\"}"},
    {0, "{\"status\":\"Digest: sha256:1234\"}"},
    {0, "{\"status\":\"Status: Downloaded newer image for 127.0.0.1:5000/test/img:latest\"}"},
};

static char *render(enum cli_progress_mode mode)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    now_ns = 1000000000ull;
    struct cli_progress *p = cli_progress_new(mode, f, fake_clock);
    for (size_t i = 0; i < sizeof(pull_seq) / sizeof(pull_seq[0]); i++) {
        now_ns += pull_seq[i].ms * 1000000ull;
        json_t *j = json_loads(pull_seq[i].json, 0, NULL);
        assert_non_null(j);
        cli_progress_msg(p, j);
        json_decref(j);
    }
    cli_progress_free(p);
    fclose(f);
    return buf;
}

static void render_plain_none(void **state)
{
    char *out = render(CLI_PROGRESS_PLAIN);
    assert_string_equal(out, "Pulling from test/img\n"
                             "aaaaaaaaaaaa: Already exists\n"
                             "bbbbbbbbbbbb: Pulling fs layer\n"
                             "bbbbbbbbbbbb: Downloading 0B/2MB (0B/s)\n"
                             "bbbbbbbbbbbb: Downloading 1.2MB/2MB (1.09MB/s)\n"
                             "bbbbbbbbbbbb: Downloading 2MB/2MB (1MB/s)\n"
                             "bbbbbbbbbbbb: Download complete 2MB\n"
                             "Digest: sha256:1234\n"
                             "Status: Downloaded newer image for "
                             "127.0.0.1:5000/test/img:latest\n");
    free(out);
    out = render(CLI_PROGRESS_NONE);
    assert_string_equal(out, "Digest: sha256:1234\n"
                             "Status: Downloaded newer image for "
                             "127.0.0.1:5000/test/img:latest\n");
    free(out);
}

static void render_ansi(void **state)
{
    char *out = render(CLI_PROGRESS_ANSI);
    assert_non_null(strstr(out, "Pulling from test/img\n"));
    assert_non_null(strstr(out, "\033[3A")); /* two layers + total redrawn in place */
    assert_non_null(strstr(out, "\033[2K"));
    assert_non_null(strstr(out, "=>"));
    /* the last drawing before the result lines: final state and totals */
    const char *last = strstr(out, "Digest: sha256:1234");
    assert_non_null(last);
    const char *tot = NULL;
    for (const char *s = out; (s = strstr(s, "Total: ")) && s < last; s++)
        tot = s;
    assert_non_null(tot);
    assert_memory_equal(tot, "Total: 2MB/2MB", 14);
    assert_non_null(strstr(out, "bbbbbbbbbbbb: Download complete"));
    assert_non_null(strstr(out, "Status: Downloaded newer image"));
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(bad_flags),
        cmocka_unit_test(platform_combine),
        cmocka_unit_test(render_plain_none),
        cmocka_unit_test(render_ansi),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
