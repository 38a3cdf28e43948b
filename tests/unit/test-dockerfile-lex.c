/* Variable substitution (df_lex_word/df_lex_words, BuildKit's shell/lex.go cases) and the
 * stage walk (df_walk: global ARGs, stage scope, ENV over ARG, platform ARGs). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "build/build.h"

static char *vars[] = {"PWD=/home", "EMPTY=", "SHELL=bash", "SP=a b", "PATHS=/usr/local/bin:/bin",
                       NULL};

static void word(const char *in, const char *want)
{
    struct df_lex lx = {.escape = '\\', .vars = vars};
    ctr_error_t err = NULL;
    char *got = df_lex_word(&lx, in, &err);
    if (got == NULL)
        fail_msg("`%s`: %s", in, err->msg);
    if (strcmp(got, want) != 0)
        fail_msg("`%s`: got `%s`, want `%s`", in, got, want);
    free(got);
}

static void word_err(const char *in, const char *msg)
{
    struct df_lex lx = {.escape = '\\', .vars = vars};
    ctr_error_t err = NULL;
    char *got = df_lex_word(&lx, in, &err);
    if (got != NULL)
        fail_msg("`%s`: no error, got `%s`", in, got);
    assert_string_equal(err->msg, msg);
    ctr_error_free(&err);
}

static void test_lex_word(void **state)
{
    word("hello", "hello");
    word("he'll'o", "hello");
    word("he\"ll\"o", "hello");
    word("'$PWD'", "$PWD");
    word("\"$PWD\"", "/home");
    word("$PWD", "/home");
    word("${PWD}x", "/homex");
    word("$PWDx", "");
    word("\\$PWD", "$PWD");
    word("\"\\$PWD\"", "$PWD");
    word("'\\$PWD'", "\\$PWD");
    word("\"a\\nb\"", "a\\nb");
    word("a\\ b", "a b");
    word("${UNSET:-def}", "def");
    word("${EMPTY:-def}", "def");
    word("${EMPTY-def}", "");
    word("${UNSET-def}", "def");
    word("${PWD:-def}", "/home");
    word("${PWD:+alt}", "alt");
    word("${EMPTY:+alt}", "");
    word("${EMPTY+alt}", "alt");
    word("${UNSET+alt}", "");
    word("${UNSET:-${PWD}/x}", "/home/x");
    word("${UNSET:-'a b'}", "a b");
    word("$", "$");
    word("a$", "a$");
    word("$1", "");
    word("${SHELL:?oops}", "bash");
    word("trailing\\", "trailing");
    word_err("${UNSET:?oops}", "UNSET: oops");
    word_err("${UNSET?}", "UNSET: is not allowed to be unset");
    word_err("${EMPTY:?}", "EMPTY: is not allowed to be empty");
    word_err("${PWD", "syntax error: missing '}'");
    word_err("${}", "syntax error: bad substitution");
    word_err("${PWD:%x}", "unsupported modifier (:%) in substitution");
    word_err("${PWD:x}", "unsupported modifier (:x) in substitution");
    word_err("${PWD!x}", "unsupported modifier (!) in substitution");
    word_err("${PWD/x", "syntax error: missing '/' in ${}");
    word("${PATHS#*/}", "usr/local/bin:/bin");
    word("${PATHS##*/}", "bin");
    word("${PATHS%/*}", "/usr/local/bin:");
    word("${PATHS%%:*}", "/usr/local/bin");
    word("${PATHS%x}", "/usr/local/bin:/bin");
    word("${PATHS/bin/sbin}", "/usr/local/sbin:/bin");
    word("${PATHS//bin/sbin}", "/usr/local/sbin:/sbin");
    word("${PATHS//[lb]?/_}", "/usr/_ca__n:/_n");
    word("${PATHS/\\*/x}", "/usr/local/bin:/bin");
    word("${UNSET#x}", "");
    word_err("'abc", "unexpected end of statement while looking for matching single-quote");
    word_err("\"abc", "unexpected end of statement while looking for matching double-quote");
}

static void test_lex_escape_backtick(void **state)
{
    struct df_lex lx = {.escape = '`', .vars = vars};
    ctr_error_t err = NULL;
    char *s = df_lex_word(&lx, "`$PWD c:\\dir", &err);
    assert_string_equal(s, "$PWD c:\\dir");
    free(s);
}

static void test_lex_words(void **state)
{
    struct df_lex lx = {.escape = '\\', .vars = vars};
    ctr_error_t err = NULL;
    char **w = df_lex_words(&lx, "x $SP 'c d' \"\" e\\ f", &err);
    assert_non_null(w);
    const char *want[] = {"x", "a", "b", "c d", "", "e f", NULL};
    for (size_t i = 0; want[i]; i++)
        assert_string_equal(w[i], want[i]);
    assert_null(w[6]);
    ctr_strv_free(w);
}

static struct df_step *walk(const char *text, char **bargs, size_t *n)
{
    struct df_file f = {0};
    ctr_error_t err = NULL;
    if (df_parse("Dockerfile", text, strlen(text), &f, &err) < 0)
        fail_msg("%s", err->msg);
    struct df_walk_opts o = {bargs, "linux/arm/v7", "linux/amd64"};
    struct df_step *s = NULL;
    if (df_walk(&f, &o, &s, &err) < 0)
        fail_msg("%s", err->msg);
    *n = f.n;
    df_file_release(&f);
    return s;
}

static const char *var(const struct df_step *s, const char *name)
{
    size_t nl = strlen(name);
    const char *v = NULL;
    for (size_t i = 0; s->vars[i]; i++)
        if (strncmp(s->vars[i], name, nl) == 0 && s->vars[i][nl] == '=')
            v = s->vars[i] + nl + 1;
    return v;
}

static void test_walk_scopes(void **state)
{
    static const char df[] = "ARG BASE=alpine\n"                 /* 0 */
                             "ARG TAG=${BASE}-3\n"               /* 1 */
                             "FROM $BASE:$TAG AS one\n"          /* 2 */
                             "RUN echo\n"                        /* 3: no ARG visible */
                             "ARG BASE\n"                        /* 4 */
                             "ARG V=1\n"                         /* 5 */
                             "ENV V=env W=$V\n"                  /* 6 */
                             "ARG V=2\n"                         /* 7 */
                             "WORKDIR /$BASE/$V/$W\n"            /* 8 */
                             "ARG TARGETARCH\n"                  /* 9 */
                             "USER $TARGETARCH:$TARGETVARIANT\n" /* 10 */
                             "FROM scratch\n"                    /* 11 */
                             "LABEL x=$V\n"                      /* 12 */
                             "ARG OVER=def\n"                    /* 13 */
                             "COPY $OVER /\n";                   /* 14 */
    char *bargs[] = {"OVER=cli", "NOPE=1", "HTTP_PROXY=x", NULL};
    size_t n;
    struct df_step *s = walk(df, bargs, &n);
    assert_int_equal(n, 15);
    assert_int_equal(s[0].stage, -1);
    assert_string_equal(s[2].words[0], "alpine:alpine-3");
    assert_string_equal(s[2].words[2], "one");
    assert_string_equal(var(&s[2], "TARGETPLATFORM"), "linux/arm/v7");
    assert_int_equal(s[3].stage, 0);
    assert_null(var(&s[3], "BASE"));
    assert_string_equal(s[3].words[0], "echo"); /* RUN is not expanded */
    assert_string_equal(var(&s[5], "BASE"), "alpine");
    assert_string_equal(s[6].words[3], "1"); /* W=$V sees the ARG, before this ENV */
    assert_string_equal(s[8].words[0], "/alpine/env/1");
    assert_string_equal(s[10].words[0], "arm:");
    assert_int_equal(s[11].stage, 1);
    assert_string_equal(s[12].words[1], ""); /* a new stage forgets V */
    assert_string_equal(s[14].words[0], "cli");
    assert_non_null(s[14].unused);
    assert_string_equal(s[14].unused[0], "NOPE");
    assert_null(s[14].unused[1]);
    df_steps_free(s, n);
}

static void test_walk_quotes(void **state)
{
    size_t n;
    struct df_step *s = walk("FROM x\nENV A=\"a b\" B='$A' C=\"$A\"\nARG D=\"$A\"\n", NULL, &n);
    assert_string_equal(s[1].words[1], "a b");
    assert_string_equal(s[1].words[3], "$A");
    assert_string_equal(s[1].words[5], ""); /* A is set by this very ENV: not yet visible */
    assert_string_equal(s[2].words[0], "D=a b");
    df_steps_free(s, n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lex_word),    cmocka_unit_test(test_lex_escape_backtick),
        cmocka_unit_test(test_lex_words),   cmocka_unit_test(test_walk_scopes),
        cmocka_unit_test(test_walk_quotes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
