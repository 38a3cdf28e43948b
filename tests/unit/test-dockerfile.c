/* The Dockerfile parser (df_parse): the corpus of tests/fixtures/dockerfiles (each
 * NAME.Dockerfile with NAME.expected, its dump, or NAME.error, its error), and the
 * parsed structures the dump does not show. DF_CORPUS overrides the corpus directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "build/build.h"

static char *slurp(const char *path)
{
    char *s = NULL;
    size_t n;
    ctr_error_t err = NULL;
    if (ctr_read_file(path, 1 << 24, &s, &n, &err) < 0) {
        ctr_error_free(&err);
        return NULL;
    }
    return s;
}

/* The dump of text, or "ERROR: message". */
static char *dump(const char *text)
{
    struct df_file f = {0};
    ctr_error_t err = NULL;
    if (df_parse("Dockerfile", text, strlen(text), &f, &err) < 0) {
        char *m = ctr_xasprintf("%s\n", err->msg);
        ctr_error_free(&err);
        return m;
    }
    char *out = ctr_xstrdup("");
    for (size_t i = 0; i < f.n; i++) {
        char *l = df_instr_dump(&f.instrs[i]);
        char *n = ctr_xasprintf("%s%s\n", out, l);
        free(out);
        free(l);
        out = n;
    }
    df_file_release(&f);
    return out;
}

static void show_diff(const char *name, const char *want, const char *got)
{
    char wp[] = "/tmp/df-want-XXXXXX", gp[] = "/tmp/df-got-XXXXXX";
    int wf = mkstemp(wp), gf = mkstemp(gp);
    if (wf >= 0 && gf >= 0) {
        ctr_write_all(wf, want, strlen(want));
        ctr_write_all(gf, got, strlen(got));
        char *cmd =
            ctr_xasprintf("diff -u --label %s.expected --label got %s %s >&2", name, wp, gp);
        if (system(cmd) < 0)
            fprintf(stderr, "want:\n%s\ngot:\n%s\n", want, got);
        free(cmd);
    }
    if (wf >= 0)
        close(wf), unlink(wp);
    if (gf >= 0)
        close(gf), unlink(gp);
}

static void test_corpus(void **state)
{
    const char *dir = getenv("DF_CORPUS") ? getenv("DF_CORPUS") : "tests/fixtures/dockerfiles";
    DIR *d = opendir(dir);
    if (d == NULL)
        fail_msg("cannot open the corpus `%s` (run from the top of the tree or set DF_CORPUS)",
                 dir);
    struct dirent *e;
    int files = 0, failed = 0;
    while ((e = readdir(d)) != NULL) {
        size_t l = strlen(e->d_name);
        if (l < 12 || strcmp(e->d_name + l - 11, ".Dockerfile") != 0)
            continue;
        char *name = ctr_xstrndup(e->d_name, l - 11);
        char *src = ctr_xasprintf("%s/%s", dir, e->d_name);
        char *xp = ctr_xasprintf("%s/%s.expected", dir, name);
        char *ep = ctr_xasprintf("%s/%s.error", dir, name);
        char *text = slurp(src), *want = slurp(xp), *werr = slurp(ep);
        files++;
        if (text == NULL || (want == NULL) == (werr == NULL)) {
            fprintf(stderr, "%s: needs exactly one of .expected and .error\n", name);
            failed++;
        } else {
            char *got = dump(text);
            char *w = want ? ctr_xstrdup(want) : ctr_xasprintf("ERROR: %s", werr);
            char *g = got;
            if (werr && strncmp(got, "Dockerfile", 10) == 0)
                g = ctr_xasprintf("ERROR: %s", got);
            else if (werr)
                g = ctr_xasprintf("(no error)\n%s", got);
            if (strcmp(w, g) != 0) {
                fprintf(stderr, "corpus %s differs:\n", name);
                show_diff(name, w, g);
                failed++;
            }
            if (g != got)
                free(g);
            free(got);
            free(w);
        }
        free(text), free(want), free(werr), free(name), free(src), free(xp), free(ep);
    }
    closedir(d);
    fprintf(stderr, "# corpus: %d files, %d failed\n", files, failed);
    assert_true(files >= 40);
    assert_int_equal(failed, 0);
}

static void test_structures(void **state)
{
    static const char df[] = "# syntax=docker/dockerfile:1\n"
                             "# CHECK=skip=all\n"
                             "FROM x\r\n"
                             "ONBUILD RUN <<-EOT\n"
                             "\t\tindented\n"
                             "\tEOT\n"
                             "RUN a \\\n"
                             "  b\n";
    struct df_file f = {0};
    ctr_error_t err = NULL;
    assert_int_equal(df_parse("Dockerfile", df, strlen(df), &f, &err), 0);
    assert_string_equal(f.syntax, "docker/dockerfile:1");
    assert_string_equal(f.check, "skip=all");
    assert_int_equal(f.n, 3);
    assert_string_equal(f.instrs[0].args[0], "x"); /* \r\n */
    assert_string_equal(f.instrs[1].trigger, "run");
    assert_int_equal(f.instrs[1].nheredocs, 1);
    assert_true(f.instrs[1].heredocs[0].chomp);
    assert_string_equal(f.instrs[1].heredocs[0].content, "indented\n");
    assert_int_equal(f.instrs[1].line, 4);
    assert_int_equal(f.instrs[1].end_line, 6);
    assert_int_equal(f.instrs[2].line, 7);
    assert_int_equal(f.instrs[2].end_line, 8);
    df_file_release(&f);
}

static void test_hostile(void **state)
{
    static const char *const inputs[] = {
        "",
        "\\",
        "FROM",
        "FROM x\nRUN <<",
        "FROM x\nRUN <<EOF",
        "\xff\xfe\n",
        "FROM x\nCOPY <<A <<B /d\nA\n",
        "FROM x\nENV \"",
        "FROM x\nRUN [\"a\",",
        "FROM x\n\0RUN",
        "FROM x\nHEALTHCHECK --interval=1x CMD a",
    };
    for (size_t i = 0; i < sizeof(inputs) / sizeof(*inputs); i++) {
        struct df_file f = {0};
        ctr_error_t err = NULL;
        if (df_parse("Dockerfile", inputs[i], strlen(inputs[i]), &f, &err) == 0) {
            for (size_t k = 0; k < f.n; k++)
                free(df_instr_dump(&f.instrs[k]));
            df_file_release(&f);
        } else {
            assert_non_null(err);
            assert_non_null(strstr(err->msg, "Dockerfile"));
            ctr_error_free(&err);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_corpus),
        cmocka_unit_test(test_structures),
        cmocka_unit_test(test_hostile),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
