/* COPY and ADD from the context (df_copy_*): source resolution with hostile trees,
 * --chown/--chmod, the layer tar read back with libarchive, the cache key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "build/build.h"

static char tmp[] = "/tmp/test-build-copy.XXXXXX";
static char ctxdir[600];

static void put(const char *rel, const char *data, size_t len)
{
    char p[700];
    snprintf(p, sizeof(p), "%s/%s", ctxdir, rel);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fwrite(data, 1, len, f);
    fclose(f);
}
#define PUT(rel, s) put(rel, s, strlen(s))

static void mk(const char *rel)
{
    char p[700];
    snprintf(p, sizeof(p), "%s/%s", ctxdir, rel);
    assert_int_equal(mkdir(p, 0755), 0);
}

static void ln(const char *target, const char *rel)
{
    char p[700];
    snprintf(p, sizeof(p), "%s/%s", ctxdir, rel);
    assert_int_equal(symlink(target, p), 0);
}

/* A tar.gz (or with filter NONE + raw: plain gzip data) in memory. */
static void make_archive(const char *rel, int filter, bool tar)
{
    char buf[8192];
    size_t used = 0;
    struct archive *a = archive_write_new();
    if (tar)
        archive_write_set_format_pax_restricted(a);
    else
        archive_write_set_format_raw(a);
    archive_write_add_filter(a, filter);
    archive_write_open_memory(a, buf, sizeof(buf), &used);
    const char *names[] = {"x/y.txt", "../../escape"};
    for (int i = 0; i < (tar ? 2 : 1); i++) {
        struct archive_entry *ae = archive_entry_new();
        archive_entry_set_pathname(ae, names[i]);
        archive_entry_set_mode(ae, S_IFREG | 0640);
        archive_entry_set_uid(ae, 7);
        archive_entry_set_size(ae, 3);
        archive_write_header(a, ae);
        archive_write_data(a, "abc", 3);
        archive_entry_free(ae);
    }
    archive_write_close(a);
    archive_write_free(a);
    put(rel, buf, used);
}

static int setup(void **state)
{
    assert_non_null(mkdtemp(tmp));
    snprintf(ctxdir, sizeof(ctxdir), "%s/ctx", tmp);
    assert_int_equal(mkdir(ctxdir, 0755), 0);
    PUT("Dockerfile", "FROM scratch\n");
    PUT("a.txt", "hello\n");
    PUT("b.txt", "b\n");
    mk("src");
    PUT("src/main.c", "int main;\n");
    PUT("src/skip.md", "#\n");
    mk("src/util");
    PUT("src/util/u.c", "u\n");
    ln("/etc/passwd", "src/evil");
    ln("../../../../etc/passwd", "out");
    ln("/etc", "abs");
    ln("src", "linkdir");
    ln("/src/main.c", "abslink");
    char p[700], q[700];
    snprintf(p, sizeof(p), "%s/a.txt", ctxdir);
    snprintf(q, sizeof(q), "%s/hl.dat", ctxdir);
    assert_int_equal(link(p, q), 0);
    snprintf(p, sizeof(p), "%s/fifo", ctxdir);
    assert_int_equal(mkfifo(p, 0644), 0);
    make_archive("app.tar.gz", ARCHIVE_FILTER_GZIP, true);
    make_archive("app.tar.xz", ARCHIVE_FILTER_XZ, true);
    make_archive("plain.gz", ARCHIVE_FILTER_GZIP, false);
    return 0;
}

static int teardown(void **state)
{
    char cmd[700];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", tmp);
    return system(cmd) == 0 ? 0 : -1;
}

static struct df_ctx *ctx(void)
{
    struct df_ctx *c = NULL;
    ctr_error_t err = NULL;
    if (df_ctx_from_dir(ctxdir, NULL, &c, &err) < 0)
        fail_msg("%s", err->msg);
    return c;
}

/* Resolve; the destinations joined with spaces, or the error's message. */
static char *plan_str(struct df_ctx *c, struct df_copy_opts *o, struct df_copy_plan *keep)
{
    struct df_copy_plan p;
    ctr_error_t err = NULL;
    if (df_copy_resolve(c, o, &p, &err) < 0)
        return ctr_error_take_msg(&err);
    char *s = ctr_xstrdup("");
    for (size_t i = 0; i < p.n; i++) {
        char *t = ctr_xasprintf("%s%s%s", s, i ? " " : "", p.v[i].dest);
        free(s);
        s = t;
    }
    if (keep)
        *keep = p;
    else
        df_copy_plan_release(&p);
    return s;
}

static void check(const char *dest, const char *workdir, const char *want, ...)
{
    const char *srcs[16];
    va_list ap;
    va_start(ap, want);
    size_t n = 0;
    for (const char *s; (s = va_arg(ap, const char *)) != NULL;)
        srcs[n++] = s;
    srcs[n] = NULL;
    va_end(ap);
    struct df_ctx *c = ctx();
    struct df_copy_opts o = {.srcs = (char *const *)srcs, .dest = dest, .workdir = workdir};
    char *got = plan_str(c, &o, NULL);
    if (strstr(got, want) == NULL || (want[0] == '/' && strcmp(got, want) != 0))
        fail_msg("COPY ... %s: got `%s`, want `%s`", dest, got, want);
    free(got);
    df_ctx_free(c);
}

static void test_resolve(void **state)
{
    check("/app/", NULL, "/app /app/a.txt", "a.txt", NULL);
    check("/app/new", NULL, "/app /app/new", "a.txt", NULL);
    check("x", "/work", "/work /work/x", "a.txt", NULL);
    check(".", "/work", "/work /work/a.txt", "a.txt", NULL);
    check("/", NULL, "/a.txt", "a.txt", NULL);
    /* `..` and `/` stay in the context */
    check("/d/", NULL, "/d /d/a.txt", "../../a.txt", NULL);
    check("/d/", NULL, "/d /d/a.txt", "/a.txt", NULL);
    check("/d/", NULL, "\"/missing\": not found", "missing", NULL);
    check("/d/", NULL, "failed to compute cache key: ", "nope*", NULL);
    /* wildcards */
    check("/d/", NULL, "/d /d/a.txt /d/b.txt", "*.txt", NULL);
    check("/d/", NULL, "/d /d/a.txt", "[a].txt", NULL);
    check("/d/", NULL, "/d /d/main.c", "src/*.c", NULL);
    check("/d/", NULL, "/d /d/main.c", "src/**n.c", NULL); /* `**` is `*` (Go's Match) */
    check("/d/", NULL, "/d /d/main.c", "**/main.c", NULL); /* one directory: `*` */
    check("/d/", NULL, "not found", "**/u.c", NULL);       /* never across directories */
    check("/d/", NULL, "/d /d/u.c", "*/*/u.c", NULL);
    check("/d/", NULL, "/d /d/main.c", "linkd*/m*.c", NULL); /* through a symlink, inside */
    check("/d/", NULL, "not found", "ab*/passw?", NULL);     /* abs -> /etc: not the host's */
    check("/d/", NULL, "not found", "o*/x", NULL);
    check("/d/", NULL, "not found", "\\*.txt", NULL); /* an escaped `*` is a `*` */
    check("/d/", NULL, "/d /d/a.txt /d/b.txt", "[a].t\\xt", "b.txt", NULL);
    check("/d", NULL,
          "When using COPY with more than one source file, the destination must be a directory "
          "and end with a /",
          "*.txt", NULL);
    check("/d", NULL, "more than one source file", "a.txt", "b.txt", NULL);
    check(".", "/w", "/w /w/a.txt /w/b.txt", "a.txt", "b.txt", NULL);
    /* a directory copies its contents; symlinks inside stay symlinks */
    check("/app", NULL, "/app /app/evil /app/main.c /app/skip.md /app/util /app/util/u.c", "src",
          NULL);
    /* symlinks as sources resolve inside the context */
    check("/d/", NULL, "/d /d/main.c", "linkdir/main.c", NULL);
    check("/d/x", NULL, "/d /d/x", "abslink", NULL);
    check("/d/", NULL, "\"/out\": not found", "out", NULL);
    check("/d/", NULL, "\"/abs\": not found", "abs", NULL);
}

static bool is_etc(void *arg, const char *path)
{
    return strcmp(path, "/etc") == 0;
}

static void test_parents_exclude(void **state)
{
    struct df_ctx *c = ctx();
    const char *srcs[] = {"src/main.c", "src/util/u.c", NULL};
    struct df_copy_opts o = {.srcs = (char *const *)srcs, .dest = "/app/", .parents = true};
    char *got = plan_str(c, &o, NULL);
    assert_string_equal(got, "/app /app/src /app/src/main.c /app/src/util /app/src/util/u.c");
    free(got);
    const char *src2[] = {"src", NULL};
    const char *ex[] = {"*.md", "util", NULL};
    struct df_copy_opts o2 = {
        .srcs = (char *const *)src2, .dest = "/app", .exclude = (char *const *)ex};
    got = plan_str(c, &o2, NULL);
    assert_string_equal(got, "/app /app/evil /app/main.c");
    free(got);
    /* an existing directory of the stage needs no slash and gets no parent entry */
    const char *src3[] = {"a.txt", NULL};
    struct df_copy_opts o3 = {.srcs = (char *const *)src3, .dest = "/etc"};
    got = plan_str(c, &o3, NULL);
    assert_string_equal(got, "/etc");
    free(got);
    o3.is_dir = is_etc;
    got = plan_str(c, &o3, NULL);
    assert_string_equal(got, "/etc/a.txt");
    free(got);
    const char *src4[] = {"src/util", NULL};
    struct df_copy_opts o4 = {.srcs = (char *const *)src4, .dest = "/etc", .is_dir = is_etc};
    got = plan_str(c, &o4, NULL);
    assert_string_equal(got, "/etc/u.c"); /* the stage's /etc keeps its metadata */
    free(got);
    o4.is_dir = NULL;
    got = plan_str(c, &o4, NULL);
    assert_string_equal(got, "/etc /etc/u.c");
    free(got);
    df_ctx_free(c);
}

static void test_chown_chmod(void **state)
{
    const char *pw = "root:x:0:0::/root:/bin/sh\napp:x:1000:1001::/home/app:/bin/sh\n";
    const char *gr = "root:x:0:\nstaff:x:50:app\n";
    uint32_t u, g;
    ctr_error_t err = NULL;
    assert_int_equal(df_chown_parse("1000", NULL, NULL, &u, &g, &err), 0);
    assert_true(u == 1000 && g == 1000);
    assert_int_equal(df_chown_parse("app", pw, gr, &u, &g, &err), 0);
    assert_true(u == 1000 && g == 1001);
    assert_int_equal(df_chown_parse("app:staff", pw, gr, &u, &g, &err), 0);
    assert_true(u == 1000 && g == 50);
    assert_int_equal(df_chown_parse("5:6", NULL, NULL, &u, &g, &err), 0);
    assert_true(u == 5 && g == 6);
    assert_int_equal(df_chown_parse("nobody", pw, gr, &u, &g, &err), -1);
    assert_string_equal(err->msg, "unable to find user nobody: no matching entries in passwd file");
    ctr_error_free(&err);
    assert_int_equal(df_chown_parse("app:wheel", pw, gr, &u, &g, &err), -1);
    assert_string_equal(err->msg, "unable to find group wheel: no matching entries in group file");
    ctr_error_free(&err);

    assert_int_equal(df_chmod_apply("0755", S_IFREG | 0644), 0755);
    assert_int_equal(df_chmod_apply("644", S_IFREG | 0777), 0644);
    assert_int_equal(df_chmod_apply("u+x", S_IFREG | 0644), 0744);
    assert_int_equal(df_chmod_apply("go-w", S_IFREG | 0666), 0644);
    assert_int_equal(df_chmod_apply("a=r", S_IFREG | 0755), 0444);
    assert_int_equal(df_chmod_apply("u=rwx,g=rx,o=", S_IFREG | 0600), 0750);
    assert_int_equal(df_chmod_apply("a+X", S_IFDIR | 0644), 0755);
    assert_int_equal(df_chmod_apply("a+X", S_IFREG | 0644), 0644);
    assert_int_equal(df_chmod_apply("bad", S_IFREG | 0644), -1);
    assert_int_equal(df_chmod_apply("0999", S_IFREG | 0644), -1);
    assert_int_equal(df_chmod_apply("17777", S_IFREG | 0644), -1);
}

struct tar_entry {
    char path[256], link[256], hard[256], data[64];
    mode_t mode;
    int64_t uid, gid, mtime;
};

/* Write the layer of o to a temp file and read it back. */
static size_t layer(struct df_ctx *c, struct df_copy_opts *o, struct tar_entry *out, size_t max)
{
    struct df_copy_plan p;
    ctr_error_t err = NULL;
    if (df_copy_resolve(c, o, &p, &err) < 0)
        fail_msg("%s", err->msg);
    char path[700];
    snprintf(path, sizeof(path), "%s/layer.tar", tmp);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    char *diff_id = NULL;
    int64_t size = 0;
    if (df_copy_write_layer(c, &p, fd, &diff_id, &size, &err) < 0)
        fail_msg("%s", err->msg);
    df_copy_plan_release(&p);
    assert_int_equal(lseek(fd, 0, SEEK_END), size);
    assert_true(strncmp(diff_id, "sha256:", 7) == 0 && strlen(diff_id) == 71);
    free(diff_id);
    lseek(fd, 0, SEEK_SET);
    struct archive *a = archive_read_new();
    archive_read_support_format_tar(a);
    assert_int_equal(archive_read_open_fd(a, fd, 10240), ARCHIVE_OK);
    struct archive_entry *ae;
    size_t n = 0;
    while (archive_read_next_header(a, &ae) == ARCHIVE_OK) {
        assert_true(n < max);
        struct tar_entry *t = &out[n++];
        memset(t, 0, sizeof(*t));
        snprintf(t->path, sizeof(t->path), "%s", archive_entry_pathname(ae));
        size_t pl = strlen(t->path);
        if (pl && t->path[pl - 1] == '/') /* directories end with a slash, as Docker's */
            t->path[pl - 1] = '\0';
        if (archive_entry_symlink(ae))
            snprintf(t->link, sizeof(t->link), "%s", archive_entry_symlink(ae));
        if (archive_entry_hardlink(ae))
            snprintf(t->hard, sizeof(t->hard), "%s", archive_entry_hardlink(ae));
        t->mode = archive_entry_mode(ae);
        t->uid = archive_entry_uid(ae);
        t->gid = archive_entry_gid(ae);
        t->mtime = archive_entry_mtime(ae);
        archive_read_data(a, t->data, sizeof(t->data) - 1);
    }
    archive_read_free(a);
    close(fd);
    return n;
}

static void test_layer(void **state)
{
    struct df_ctx *c = ctx();
    struct tar_entry t[32];
    const char *pw = "app:x:1000:1001::/home/app:/bin/sh\n", *gr = "staff:x:50:\n";
    const char *srcs[] = {"src", NULL};
    struct df_copy_opts o = {.srcs = (char *const *)srcs,
                             .dest = "/opt/app/",
                             .chown = "app:staff",
                             .chmod = "0750",
                             .passwd = pw,
                             .group = gr};
    size_t n = layer(c, &o, t, 32);
    const char *want[] = {
        "opt",          "opt/app",         "opt/app/evil", "opt/app/main.c", "opt/app/skip.md",
        "opt/app/util", "opt/app/util/u.c"};
    assert_int_equal(n, 7);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(t[i].path, want[i]);
    /* the parent: 0755 and --chown's owner; the copied entries: --chown, --chmod, mtimes */
    assert_int_equal(t[0].mode, S_IFDIR | 0755);
    assert_true(t[0].uid == 1000 && t[0].gid == 50);
    assert_int_equal(t[1].mode, S_IFDIR | 0750);
    assert_true(t[1].uid == 1000 && t[1].gid == 50);
    assert_int_equal(t[2].mode & S_IFMT, S_IFLNK);
    assert_string_equal(t[2].link, "/etc/passwd");
    assert_int_equal(t[3].mode, S_IFREG | 0750);
    assert_string_equal(t[3].data, "int main;\n");
    assert_int_equal(t[3].mtime, df_ctx_find(c, "src/main.c")->mtime_sec);

    /* without --chown: root */
    const char *s2[] = {"a.txt", "fifo", NULL};
    struct df_copy_opts o2 = {.srcs = (char *const *)s2, .dest = "/d/"};
    n = layer(c, &o2, t, 32);
    assert_int_equal(n, 3);
    assert_string_equal(t[0].path, "d");
    assert_true(t[0].uid == 0 && t[0].gid == 0 && t[0].mode == (S_IFDIR | 0755));
    assert_string_equal(t[1].path, "d/a.txt");
    assert_true(t[1].uid == 0 && t[1].gid == 0);
    assert_int_equal(t[1].mode, S_IFREG | 0644);
    assert_string_equal(t[2].path, "d/fifo");
    assert_true(S_ISFIFO(t[2].mode));

    /* hard links of one file stay hard links within the layer */
    const char *s5[] = {"a.txt", "hl.dat", NULL};
    struct df_copy_opts o5 = {.srcs = (char *const *)s5, .dest = "/h/"};
    n = layer(c, &o5, t, 32);
    assert_int_equal(n, 3);
    assert_string_equal(t[1].path, "h/a.txt");
    assert_string_equal(t[1].data, "hello\n");
    assert_string_equal(t[2].path, "h/hl.dat");
    assert_string_equal(t[2].hard, "h/a.txt");

    /* ADD unpacks local archives (by content), `..` inside them contained */
    const char *s3[] = {"app.tar.gz", "app.tar.xz", "plain.gz", NULL};
    struct df_copy_opts o3 = {.srcs = (char *const *)s3, .dest = "/x/", .cmd = "ADD"};
    n = layer(c, &o3, t, 32);
    bool y = false, esc = false, plain = false;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(t[i].path, "x/x/y.txt") == 0) {
            y = true;
            assert_string_equal(t[i].data, "abc");
            assert_int_equal(t[i].uid, 7);
        }
        esc |= strcmp(t[i].path, "x/escape") == 0;
        plain |= strcmp(t[i].path, "x/plain.gz") == 0;
        assert_true(strncmp(t[i].path, "x", 1) == 0);
    }
    assert_true(y && esc && plain);
    const char *s4[] = {"https://example.com/x.tar", NULL};
    struct df_copy_opts o4 = {.srcs = (char *const *)s4, .dest = "/x/", .cmd = "ADD"};
    struct df_copy_plan p4;
    ctr_error_t err = NULL;
    assert_int_equal(df_copy_resolve(c, &o4, &p4, &err), -1);
    assert_non_null(strstr(err->msg, "remote sources are not supported yet"));
    ctr_error_free(&err);
    /* COPY does not unpack */
    o3.cmd = "COPY";
    n = layer(c, &o3, t, 32);
    assert_int_equal(n, 4);
    assert_string_equal(t[1].path, "x/app.tar.gz");
    df_ctx_free(c);
}

static char *key_of(const char *chmod)
{
    struct df_ctx *c = ctx();
    const char *srcs[] = {"k.txt", NULL};
    struct df_copy_opts o = {.srcs = (char *const *)srcs, .dest = "/k", .chmod = chmod};
    struct df_copy_plan p;
    ctr_error_t err = NULL;
    assert_int_equal(df_copy_resolve(c, &o, &p, &err), 0);
    char *k = df_copy_cache_key(c, &p, "COPY k.txt /k", &err);
    assert_non_null(k);
    df_copy_plan_release(&p);
    df_ctx_free(c);
    return k;
}

static void test_cache_key(void **state)
{
    PUT("k.txt", "content\n");
    char *k1 = key_of(NULL);
    char p[700];
    snprintf(p, sizeof(p), "%s/k.txt", ctxdir);
    struct timespec ts[2] = {{1000, 0}, {1000, 0}};
    assert_int_equal(utimensat(AT_FDCWD, p, ts, 0), 0);
    char *k2 = key_of(NULL);
    assert_string_equal(k1, k2); /* mtime alone: same key */
    PUT("k.txt", "content!\n");
    char *k3 = key_of(NULL);
    assert_string_not_equal(k1, k3); /* one byte: another */
    PUT("k.txt", "content\n");
    char *k4 = key_of(NULL);
    assert_string_equal(k1, k4);
    char *k5 = key_of("0600");
    assert_string_not_equal(k1, k5); /* --chmod: another */
    chmod(p, 0600);
    char *k6 = key_of(NULL);
    assert_string_not_equal(k1, k6); /* the file's mode: another */
    free(k1), free(k2), free(k3), free(k4), free(k5), free(k6);
    unlink(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resolve),     cmocka_unit_test(test_parents_exclude),
        cmocka_unit_test(test_chown_chmod), cmocka_unit_test(test_layer),
        cmocka_unit_test(test_cache_key),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
