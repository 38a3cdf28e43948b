/* `.dockerignore` matching (df_ignore_*): Docker's patternmatcher cases. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "build/build.h"

static void check(const char *patterns, const char *path, bool want)
{
    struct df_ignore ig;
    df_ignore_parse(patterns, &ig);
    bool got = df_ignore_match(&ig, path);
    df_ignore_release(&ig);
    if (got != want)
        fail_msg("patterns `%s`, path `%s`: got %d, want %d", patterns, path, got, want);
}

static void test_basic(void **state)
{
    check("foo", "foo", true);
    check("foo", "foo/bar", true); /* a parent directory matches */
    check("foo", "foobar", false);
    check("foo", "x/foo", false);
    check("*.go", "main.go", true);
    check("*.go", "dir/main.go", false);
    check("*/*.go", "dir/main.go", true);
    check("?.c", "a.c", true);
    check("?.c", "ab.c", false);
    check("?", "/", false);
    check("[a-c].txt", "b.txt", true);
    check("[a-c].txt", "d.txt", false);
    check("[^a-c].txt", "d.txt", true);
    check("\\*", "*", true);
    check("\\*", "a", false);
}

static void test_doublestar(void **state)
{
    check("**", "anything/at/all", true);
    check("**/foo", "foo", true);
    check("**/foo", "a/b/foo", true);
    check("**/foo", "a/b/foo/c", true);
    check("a/**/b", "a/b", true);
    check("a/**/b", "a/x/y/b", true);
    check("a/**/b", "ab", false);
    check("**/*.md", "docs/x/README.md", true);
    check("a/**", "a/b/c", true);
    check("a**", "abc/d", true);
}

static void test_cleaning(void **state)
{
    check("/foo", "foo", true);
    check("./foo", "foo", true);
    check("foo/", "foo/x", true);
    check("foo//bar/../baz", "foo/baz", true);
    check("  spaced  ", "spaced", true);
    check("# comment\n\nfoo\n", "foo", true);
    check("#foo", "#foo", false);
    check("\xef\xbb\xbf"
          "foo",
          "foo", true);
    check("foo\r\n", "foo", true);
}

static void test_exceptions(void **state)
{
    check("*.md\n!README.md", "README.md", false);
    check("*.md\n!README.md", "CHANGES.md", true);
    check("!README.md\n*.md", "README.md", true); /* later patterns win */
    check("docs\n!docs/keep.md", "docs/keep.md", false);
    check("docs\n!docs/keep.md", "docs/other.md", true);
    check("docs\n!docs/keep.md", "docs", true); /* the directory itself stays excluded */
    check("**\n!src\n", "src/main.c", false);
    check("**\n!src\nsrc/*.o", "src/x.o", true);
    check("! foo", "x", false);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basic),
        cmocka_unit_test(test_doublestar),
        cmocka_unit_test(test_cleaning),
        cmocka_unit_test(test_exceptions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
