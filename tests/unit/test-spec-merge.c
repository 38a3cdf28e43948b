/* Image config × docker run options → argv/env/cwd/user, as Docker merges them;
 * env files, memory units, cpus, ulimits, names and ids. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "bundle/bundle.h"

#define ID "abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789"
#define DEFPATH "PATH=" BUNDLE_CREATE_DEFAULT_PATH

/* The caller's environment, as seen by `-e NAME` and bare env-file names. */
static const char *fake_env(const char *name, void *ctx)
{
    if (strcmp(name, "FROMHOST") == 0)
        return "host value";
    if (strcmp(name, "FOO") == 0)
        return "hostfoo";
    return NULL;
}

/* "a|b|c" → vector (NULL for NULL, empty vector for ""). */
static char **V(const char *s)
{
    char **v;
    char *copy, *tok, *save = NULL;
    if (s == NULL)
        return NULL;
    v = ctr_xcalloc(1, sizeof(char *));
    if (*s == '\0')
        return v;
    if (strcmp(s, "<empty>") == 0) { /* one empty string */
        ctr_strv_append(&v, "");
        return v;
    }
    copy = ctr_xstrdup(s);
    for (tok = strtok_r(copy, "|", &save); tok; tok = strtok_r(NULL, "|", &save))
        ctr_strv_append(&v, tok);
    free(copy);
    return v;
}

static char *J(char **v)
{
    size_t n = 1;
    char *out;
    for (size_t i = 0; v && v[i]; i++)
        n += strlen(v[i]) + 1;
    out = ctr_xcalloc(1, n);
    for (size_t i = 0; v && v[i]; i++) {
        if (i)
            strcat(out, "|");
        strcat(out, v[i]);
    }
    return out;
}

struct merge_case {
    const char *what;
    /* image config */
    const char *i_ep, *i_cmd, *i_env, *i_wd, *i_user;
    /* options */
    const char *o_ep, *o_cmd, *o_env, *o_wd, *o_user;
    bool tty;
    /* expected: args (NULL = error containing `err`), env, cwd, user */
    const char *args, *env, *cwd, *user, *err;
};

static const struct merge_case cases[] = {
    {"image cmd only", NULL, "sh", "PATH=/ibin", NULL, NULL, /**/ NULL, NULL, NULL, NULL, NULL,
     false, "sh", "PATH=/ibin|HOSTNAME=abcdef012345", "/", ""},
    {"args replace cmd, keep entrypoint", "/ep", "a", NULL, NULL, NULL, /**/ NULL, "b|c", NULL,
     NULL, NULL, false, "/ep|b|c", DEFPATH "|HOSTNAME=abcdef012345", "/", ""},
    {"--entrypoint drops image cmd", "/ep", "a", NULL, NULL, NULL, /**/ "/x", NULL, NULL, NULL,
     NULL, false, "/x", DEFPATH "|HOSTNAME=abcdef012345", "/", ""},
    {"--entrypoint with args", "/ep", "a", NULL, NULL, NULL, /**/ "/x", "y|z", NULL, NULL, NULL,
     false, "/x|y|z", DEFPATH "|HOSTNAME=abcdef012345", "/", ""},
    {"--entrypoint \"\" clears", "/ep", "a", NULL, NULL, NULL, /**/ "<empty>", "echo|hi", NULL,
     NULL, NULL, false, "echo|hi", DEFPATH "|HOSTNAME=abcdef012345", "/", ""},
    {"--entrypoint \"\" without args", "/ep", "a", NULL, NULL, NULL, /**/ "<empty>", NULL, NULL,
     NULL, NULL, false, NULL, NULL, NULL, NULL, "no command specified"},
    {"nothing to run", NULL, NULL, NULL, NULL, NULL, /**/ NULL, NULL, NULL, NULL, NULL, false, NULL,
     NULL, NULL, NULL, "has no Entrypoint or Cmd"},
    {"args without image entrypoint", NULL, "sh", NULL, NULL, NULL, /**/ NULL, "echo|x", NULL, NULL,
     NULL, false, "echo|x", DEFPATH "|HOSTNAME=abcdef012345", "/", ""},
    {"entrypoint only", "/ep|--flag", NULL, NULL, NULL, NULL, /**/ NULL, NULL, NULL, NULL, NULL,
     false, "/ep|--flag", DEFPATH "|HOSTNAME=abcdef012345", "/", ""},
    {"API: empty entrypoint vector keeps image cmd, not its entrypoint", "/ep", "a", NULL, NULL,
     NULL, /**/ "", NULL, NULL, NULL, NULL, false, "a", DEFPATH "|HOSTNAME=abcdef012345", "/", ""},
    /* Env */
    {"-e overrides image env", NULL, "sh", "PATH=/ibin|FOO=1", NULL, NULL, /**/ NULL, NULL, "FOO=2",
     NULL, NULL, false, "sh", "PATH=/ibin|HOSTNAME=abcdef012345|FOO=2", "/", ""},
    {"-e adds before image env", NULL, "sh", "PATH=/ibin|FOO=1", NULL, NULL, /**/ NULL, NULL,
     "BAR=x", NULL, NULL, false, "sh", "PATH=/ibin|HOSTNAME=abcdef012345|BAR=x|FOO=1", "/", ""},
    {"-e NAME takes the caller's value", NULL, "sh", "FOO=1", NULL, NULL, /**/ NULL, NULL, "FOO",
     NULL, NULL, false, "sh", DEFPATH "|HOSTNAME=abcdef012345|FOO=hostfoo", "/", ""},
    {"-e NAME unset in caller removes it", NULL, "sh", "PATH=/ibin|GONE=1|K=v", NULL, NULL,
     /**/ NULL, NULL, "GONE", NULL, NULL, false, "sh", "PATH=/ibin|HOSTNAME=abcdef012345|K=v", "/",
     ""},
    {"-e PATH unset removes the default too", NULL, "sh", "PATH=/ibin|K=v", NULL, NULL,
     /**/ NULL, NULL, "PATH", NULL, NULL, false, "sh", "HOSTNAME=abcdef012345|K=v", "/", ""},
    {"last -e wins", NULL, "sh", NULL, NULL, NULL, /**/ NULL, NULL, "A=1|B=1|A=2", NULL, NULL,
     false, "sh", DEFPATH "|HOSTNAME=abcdef012345|A=2|B=1", "/", ""},
    {"-t adds TERM", NULL, "sh", "PATH=/ibin", NULL, NULL, /**/ NULL, NULL, NULL, NULL, NULL, true,
     "sh", "PATH=/ibin|HOSTNAME=abcdef012345|TERM=xterm", "/", ""},
    {"-e TERM with -t replaces in place", NULL, "sh", NULL, NULL, NULL, /**/ NULL, NULL,
     "X=1|TERM=vt100|HOSTNAME=me", NULL, NULL, true, "sh", DEFPATH "|HOSTNAME=me|TERM=vt100|X=1",
     "/", ""},
    {"values keep = and spaces", NULL, "sh", "A=b=c", NULL, NULL, /**/ NULL, NULL, "S= x ", NULL,
     NULL, false, "sh", DEFPATH "|HOSTNAME=abcdef012345|S= x |A=b=c", "/", ""},
    {"-e with empty name", NULL, "sh", NULL, NULL, NULL, /**/ NULL, NULL, "=x", NULL, NULL, false,
     NULL, NULL, NULL, NULL, "empty name"},
    /* WorkingDir */
    {"image workdir", NULL, "sh", NULL, "/srv", NULL, /**/ NULL, NULL, NULL, NULL, NULL, false,
     "sh", DEFPATH "|HOSTNAME=abcdef012345", "/srv", ""},
    {"-w overrides", NULL, "sh", NULL, "/srv", NULL, /**/ NULL, NULL, NULL, "/work", NULL, false,
     "sh", DEFPATH "|HOSTNAME=abcdef012345", "/work", ""},
    {"-w is cleaned", NULL, "sh", NULL, NULL, NULL, /**/ NULL, NULL, NULL, "/a/../b/./c//", NULL,
     false, "sh", DEFPATH "|HOSTNAME=abcdef012345", "/b/c", ""},
    {"-w relative", NULL, "sh", NULL, NULL, NULL, /**/ NULL, NULL, NULL, "rel", NULL, false, NULL,
     NULL, NULL, NULL, "needs to be an absolute path"},
    /* User */
    {"image user", NULL, "sh", NULL, NULL, "app", /**/ NULL, NULL, NULL, NULL, NULL, false, "sh",
     DEFPATH "|HOSTNAME=abcdef012345", "/", "app"},
    {"-u overrides", NULL, "sh", NULL, NULL, "app", /**/ NULL, NULL, NULL, NULL, "0:10", false,
     "sh", DEFPATH "|HOSTNAME=abcdef012345", "/", "0:10"},
};

static void test_merge_table(void **state)
{
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct merge_case *c = &cases[i];
        struct oci_container_config img = {0};
        struct bundle_create_opts o = {.lookup_env = fake_env};
        struct bundle_create_process p = {0};
        ctr_error_t err = NULL;
        int r;

        img.entrypoint = V(c->i_ep);
        img.cmd = V(c->i_cmd);
        img.env = c->i_env ? V(c->i_env) : V("");
        img.working_dir = c->i_wd ? ctr_xstrdup(c->i_wd) : NULL;
        img.user = c->i_user ? ctr_xstrdup(c->i_user) : NULL;
        o.entrypoint = V(c->o_ep);
        o.cmd = V(c->o_cmd);
        o.env = V(c->o_env);
        o.workdir = c->o_wd;
        o.user = c->o_user;
        o.tty = c->tty;
        r = bundle_create_merge(&img, "img", &o, ID, &p, &err);
        if (c->args == NULL) {
            if (r == 0)
                fail_msg("%s: accepted, expected error `%s`", c->what, c->err);
            if (strstr(err->msg, c->err) == NULL)
                fail_msg("%s: error `%s` lacks `%s`", c->what, err->msg, c->err);
            ctr_error_free(&err);
        } else {
            char *args, *env;
            if (r != 0)
                fail_msg("%s: %s", c->what, err->msg);
            args = J(p.args);
            env = J(p.env);
            if (strcmp(args, c->args) || strcmp(env, c->env) || strcmp(p.cwd, c->cwd) ||
                strcmp(p.user, c->user))
                fail_msg("%s:\n got args `%s` env `%s` cwd `%s` user `%s`\nwant args `%s` env "
                         "`%s` cwd `%s` user `%s`",
                         c->what, args, env, p.cwd, p.user, c->args, c->env, c->cwd, c->user);
            assert_string_equal(p.hostname, "abcdef012345");
            free(args);
            free(env);
        }
        bundle_create_process_release(&p);
        oci_container_config_release(&img);
        ctr_strv_free(o.entrypoint);
        ctr_strv_free(o.cmd);
        ctr_strv_free(o.env);
    }
}

static void test_hostname_labels(void **state)
{
    struct oci_container_config img = {0};
    struct oci_kv lab[2] = {{"a", "1"}, {"b", "2"}};
    char *labels[] = {"b=20", "c", NULL};
    char *cmd[] = {"true", NULL};
    struct bundle_create_opts o = {.cmd = cmd, .hostname = "web-1", .labels = labels};
    struct bundle_create_process p = {0};
    ctr_error_t err = NULL;
    char *j;

    img.labels = lab;
    img.n_labels = 2;
    assert_int_equal(bundle_create_merge(&img, "img", &o, ID, &p, &err), 0);
    assert_string_equal(p.hostname, "web-1");
    j = J(p.env);
    assert_string_equal(j, DEFPATH "|HOSTNAME=web-1");
    free(j);
    j = J(p.labels);
    assert_string_equal(j, "a=1|b=20|c=");
    free(j);
    bundle_create_process_release(&p);

    o.hostname = "-bad";
    assert_int_equal(bundle_create_merge(&img, "img", &o, ID, &p, &err), -1);
    assert_non_null(strstr(err->msg, "hostname `-bad`"));
    ctr_error_free(&err);
    o.hostname = NULL;
    labels[0] = " =x";
    assert_int_equal(bundle_create_merge(&img, "img", &o, ID, &p, &err), -1);
    ctr_error_free(&err);
}

static char *write_tmp(const char *content, size_t len)
{
    char tmpl[] = "/tmp/test-env-file.XXXXXX";
    int fd = mkstemp(tmpl);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, content, len), (ssize_t)len);
    close(fd);
    return ctr_xstrdup(tmpl);
}

static void test_env_file(void **state)
{
    static const char content[] = "\xef\xbb\xbf# a comment\n"
                                  "\n"
                                  "   \t\n"
                                  "FOO=bar baz \n"
                                  "  SPACED=  v  \r\n"
                                  "QUOTED=\"x\"\n"
                                  "FROMHOST\n"
                                  "MISSING\n"
                                  "EMPTY=\n"
                                  "   # indented comment\n"
                                  "LAST=1";
    char *path = write_tmp(content, sizeof(content) - 1);
    char *files[] = {path, NULL};
    char *env_flags[] = {"LAST=2", NULL};
    char *cmd[] = {"sh", NULL};
    struct bundle_create_opts o = {.lookup_env = fake_env, .env_files = files};
    char **env = NULL;
    ctr_error_t err = NULL;
    char *j;

    assert_int_equal(bundle_create_parse_env_file(path, &o, &env, &err), 0);
    j = J(env);
    assert_string_equal(j, "FOO=bar baz |SPACED=  v  |QUOTED=\"x\"|FROMHOST=host value|MISSING|"
                           "EMPTY=|LAST=1");
    free(j);
    ctr_strv_free(env);

    /* Through the merge: files first, then -e. */
    {
        struct oci_container_config img = {0};
        struct bundle_create_process p = {0};
        img.env = V("MISSING=img|KEEP=1");
        o.env = env_flags;
        o.cmd = cmd;
        assert_int_equal(bundle_create_merge(&img, "img", &o, ID, &p, &err), 0);
        j = J(p.env);
        assert_string_equal(j, DEFPATH "|HOSTNAME=abcdef012345|FOO=bar baz |SPACED=  v  |"
                                       "QUOTED=\"x\"|FROMHOST=host value|EMPTY=|LAST=2|KEEP=1");
        free(j);
        bundle_create_process_release(&p);
        oci_container_config_release(&img);
    }
    unlink(path);
    free(path);
}

static void test_env_file_errors(void **state)
{
    static const struct {
        const char *content, *msg;
    } bad[] = {
        {"OK=1\nBAD KEY=1\n", ":2: variable `BAD KEY` contains whitespace"},
        {"# x\n=value\n", ":2: no variable name"},
        {"A=\xff\xfe\n", ":1: line contains invalid UTF-8"},
        {"A=1\nB\tC\n", ":2: variable `B\tC` contains whitespace"},
        {"TRAIL \n", ":1: variable `TRAIL ` contains whitespace"},
    };
    struct bundle_create_opts o = {.lookup_env = fake_env};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char *path = write_tmp(bad[i].content, strlen(bad[i].content));
        char **env = NULL;
        ctr_error_t err = NULL;
        cleanup_free char *want = ctr_xasprintf("`%s`%s", path, bad[i].msg);
        assert_int_equal(bundle_create_parse_env_file(path, &o, &env, &err), -1);
        if (strstr(err->msg, want) == NULL)
            fail_msg("error `%s` lacks `%s`", err->msg, want);
        ctr_error_free(&err);
        ctr_strv_free(env);
        unlink(path);
        free(path);
    }
    {
        char **env = NULL;
        ctr_error_t err = NULL;
        assert_int_equal(bundle_create_parse_env_file("/nonexistent/env.list", &o, &env, &err), -1);
        assert_non_null(strstr(err->msg, "/nonexistent/env.list"));
        ctr_error_free(&err);
    }
}

static void test_memory(void **state)
{
    static const struct {
        const char *in;
        uint64_t want; /* 0 = error */
        const char *msg;
    } cases[] = {
        {"128m", 128ull << 20, NULL},
        {"1g", 1ull << 30, NULL},
        {"1G", 1ull << 30, NULL},
        {"1.5g", 3ull << 29, NULL},
        {"512MiB", 512ull << 20, NULL},
        {"512mb", 512ull << 20, NULL},
        {"256 m", 256ull << 20, NULL},
        {"134217728", 134217728ull, NULL},
        {"131072k", 128ull << 20, NULL},
        {"134217728b", 134217728ull, NULL},
        {"1t", 1ull << 40, NULL},
        {"127m", 0, "below the minimum of 128 MiB"},
        {"4m", 0, "below the minimum of 128 MiB"},
        {"0", 0, "below the minimum of 128 MiB"},
        {"2t", 0, "above the maximum"},
        {"99999999999999999999999g", 0, "above the maximum"},
        {"abc", 0, "invalid memory size `abc`"},
        {"1x", 0, "invalid memory size"},
        {"-1g", 0, "invalid memory size"},
        {"", 0, "invalid memory size"},
        {"1.g", 0, "invalid memory size"},
        {"1gg", 0, "invalid memory size"},
        {"1e9", 0, "invalid memory size"},
        {"0x100000000", 0, "invalid memory size"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint64_t v = 0;
        ctr_error_t err = NULL;
        int r = bundle_create_parse_memory(cases[i].in, &v, &err);
        if (cases[i].want) {
            if (r != 0)
                fail_msg("`%s`: %s", cases[i].in, err->msg);
            if (v != cases[i].want)
                fail_msg("`%s`: got %llu want %llu", cases[i].in, (unsigned long long)v,
                         (unsigned long long)cases[i].want);
        } else {
            if (r == 0)
                fail_msg("`%s` accepted as %llu", cases[i].in, (unsigned long long)v);
            if (strstr(err->msg, cases[i].msg) == NULL)
                fail_msg("`%s`: error `%s` lacks `%s`", cases[i].in, err->msg, cases[i].msg);
            ctr_error_free(&err);
        }
    }
}

static void test_cpus(void **state)
{
    unsigned v;
    ctr_error_t err = NULL;
    static const char *bad[] = {"0", "65", "1.5", "abc", "", "-1", "2x", "99999999999999999999"};
    assert_int_equal(bundle_create_parse_cpus("1", &v, NULL), 0);
    assert_int_equal(v, 1);
    assert_int_equal(bundle_create_parse_cpus("64", &v, NULL), 0);
    assert_int_equal(v, 64);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (bundle_create_parse_cpus(bad[i], &v, &err) == 0)
            fail_msg("cpus `%s` accepted", bad[i]);
        assert_non_null(strstr(err->msg, "cpus"));
        ctr_error_free(&err);
    }
}

static void test_ulimits(void **state)
{
    static const struct {
        const char *in;
        int res;
        uint64_t soft, hard;
        const char *msg;
    } cases[] = {
        {"nofile=1024", RLIMIT_NOFILE, 1024, 1024, NULL},
        {"nofile=1024:2048", RLIMIT_NOFILE, 1024, 2048, NULL},
        {"core=-1", RLIMIT_CORE, RLIM_INFINITY, RLIM_INFINITY, NULL},
        {"nproc=10:-1", RLIMIT_NPROC, 10, RLIM_INFINITY, NULL},
        {"memlock=0", RLIMIT_MEMLOCK, 0, 0, NULL},
        {"stack=8388608:16777216", RLIMIT_STACK, 8388608, 16777216, NULL},
        {"rttime=5", RLIMIT_RTTIME, 5, 5, NULL},
        {"nofile=2048:1024", 0, 0, 0, "soft limit must be less than or equal to hard"},
        {"nofile=-1:1024", 0, 0, 0, "soft limit must be less than or equal to hard"},
        {"foo=1", 0, 0, 0, "invalid ulimit type `foo`"},
        {"NOFILE=1", 0, 0, 0, "invalid ulimit type `NOFILE`"},
        {"nofile", 0, 0, 0, "expected name=soft[:hard]"},
        {"nofile=1:2:3", 0, 0, 0, "too many values"},
        {"nofile=a", 0, 0, 0, "`a` is not a number"},
        {"nofile=", 0, 0, 0, "is not a number"},
        {"nofile=1:", 0, 0, 0, "is not a number"},
        {"nofile=-2", 0, 0, 0, "-1 (unlimited) or positive"},
        {"nofile=99999999999999999999", 0, 0, 0, "is not a number"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct agent_rlimit rl;
        ctr_error_t err = NULL;
        int r = bundle_create_parse_ulimit(cases[i].in, &rl, &err);
        if (cases[i].msg == NULL) {
            if (r != 0)
                fail_msg("`%s`: %s", cases[i].in, err->msg);
            assert_int_equal(rl.resource, cases[i].res);
            assert_true(rl.soft == cases[i].soft && rl.hard == cases[i].hard);
        } else {
            if (r == 0)
                fail_msg("`%s` accepted", cases[i].in);
            if (strstr(err->msg, cases[i].msg) == NULL)
                fail_msg("`%s`: error `%s` lacks `%s`", cases[i].in, err->msg, cases[i].msg);
            ctr_error_free(&err);
        }
    }
}

static void test_names_ids(void **state)
{
    static const char *good[] = {"web", "my_app.1-2", "/web", "A1", "0a"};
    static const char *bad[] = {"a", "-web", "_x", ".x", "web app", "", "/", "w/eb", "wéb"};
    char id1[BUNDLE_CREATE_ID_LEN + 1], id2[BUNDLE_CREATE_ID_LEN + 1];
    ctr_error_t err = NULL;

    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        if (bundle_create_check_name(good[i], &err) != 0)
            fail_msg("`%s` refused: %s", good[i], err->msg);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (bundle_create_check_name(bad[i], &err) == 0)
            fail_msg("`%s` accepted", bad[i]);
        assert_non_null(strstr(err->msg, "[a-zA-Z0-9][a-zA-Z0-9_.-]"));
        ctr_error_free(&err);
    }
    assert_int_equal(bundle_create_new_id(id1, NULL), 0);
    assert_int_equal(bundle_create_new_id(id2, NULL), 0);
    assert_int_equal(strlen(id1), 64);
    assert_int_equal(strspn(id1, "0123456789abcdef"), 64);
    assert_true(strspn(id1, "0123456789") < 12);
    assert_string_not_equal(id1, id2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_merge_table), cmocka_unit_test(test_hostname_labels),
        cmocka_unit_test(test_env_file),    cmocka_unit_test(test_env_file_errors),
        cmocka_unit_test(test_memory),      cmocka_unit_test(test_cpus),
        cmocka_unit_test(test_ulimits),     cmocka_unit_test(test_names_ids),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
