/* The build context (df_ctx_*): directories with hostile entries, tar streams. */
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
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "build/build.h"

static char tmp[] = "/tmp/test-build-context.XXXXXX";

static void put(const char *rel, const char *data)
{
    char p[512];
    snprintf(p, sizeof(p), "%s/%s", tmp, rel);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(data, f);
    fclose(f);
}

static void dir(const char *rel)
{
    char p[512];
    snprintf(p, sizeof(p), "%s/%s", tmp, rel);
    assert_int_equal(mkdir(p, 0755), 0);
}

static void link_(const char *target, const char *rel)
{
    char p[512];
    snprintf(p, sizeof(p), "%s/%s", tmp, rel);
    assert_int_equal(symlink(target, p), 0);
}

static int setup(void **state)
{
    assert_non_null(mkdtemp(tmp));
    dir("ctx");
    put("ctx/Dockerfile", "FROM scratch\n");
    put("ctx/a.txt", "hello\n");
    put("ctx/debug.log", "x");
    dir("ctx/src");
    put("ctx/src/main.c", "int main;\n");
    put("ctx/src/trace.log", "y");
    dir("ctx/node_modules");
    put("ctx/node_modules/big", "z");
    link_("../../../../etc/passwd", "ctx/out");
    link_("/etc/shadow", "ctx/abs");
    char p[512];
    snprintf(p, sizeof(p), "%s/ctx/fifo", tmp);
    assert_int_equal(mkfifo(p, 0644), 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/ctx/sock", tmp);
    int sfd = socket(AF_UNIX, SOCK_STREAM, 0);
    assert_int_equal(bind(sfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    close(sfd);
    put("ctx/.dockerignore", "*.log\nnode_modules\n.dockerignore\nDockerfile\n");
    return 0;
}

static int teardown(void **state)
{
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", tmp);
    return system(cmd) == 0 ? 0 : -1;
}

static struct df_ctx *open_dir(const char *rel, const char *dockerfile)
{
    char p[512];
    snprintf(p, sizeof(p), "%s/%s", tmp, rel);
    struct df_ctx *c = NULL;
    ctr_error_t err = NULL;
    if (df_ctx_from_dir(p, dockerfile, &c, &err) < 0)
        fail_msg("%s", err->msg);
    return c;
}

static void test_dir(void **state)
{
    struct df_ctx *c = open_dir("ctx", NULL);
    assert_non_null(df_ctx_find(c, "a.txt"));
    assert_non_null(df_ctx_find(c, "src/main.c"));
    assert_null(df_ctx_find(c, "debug.log"));
    assert_non_null(df_ctx_find(c, "src/trace.log")); /* `*.log` is the root only */
    assert_null(df_ctx_find(c, "node_modules"));
    assert_null(df_ctx_find(c, "node_modules/big"));
    /* kept whatever the ignore file says */
    assert_non_null(df_ctx_find(c, "Dockerfile"));
    assert_non_null(df_ctx_find(c, ".dockerignore"));
    assert_true(df_ctx_find(c, "Dockerfile")->hidden); /* but COPY does not see them */
    assert_true(df_ctx_find(c, ".dockerignore")->hidden);
    assert_false(df_ctx_find(c, "a.txt")->hidden);
    const char *srcs[] = {"Dockerfile", NULL};
    struct df_copy_opts o = {.srcs = (char *const *)srcs, .dest = "/x/"};
    struct df_copy_plan p;
    ctr_error_t e2 = NULL;
    assert_int_equal(df_copy_resolve(c, &o, &p, &e2), -1);
    assert_non_null(strstr(e2->msg, "\"/Dockerfile\": not found"));
    ctr_error_free(&e2);
    srcs[0] = ".";
    assert_int_equal(df_copy_resolve(c, &o, &p, &e2), 0);
    for (size_t i = 0; i < p.n; i++)
        assert_true(strcmp(p.v[i].dest, "/x/Dockerfile") &&
                    strcmp(p.v[i].dest, "/x/.dockerignore"));
    assert_true(p.n > 5);
    df_copy_plan_release(&p);
    /* symlinks are entries, never followed */
    const struct df_ctx_entry *e = df_ctx_find(c, "out");
    assert_non_null(e);
    assert_int_equal(e->type, DF_CTX_SYMLINK);
    assert_string_equal(e->link, "../../../../etc/passwd");
    e = df_ctx_find(c, "abs");
    assert_int_equal(e->type, DF_CTX_SYMLINK);
    e = df_ctx_find(c, "fifo");
    assert_non_null(e);
    assert_int_equal(e->type, DF_CTX_OTHER);
    assert_true(S_ISFIFO(e->mode));
    assert_null(df_ctx_find(c, "sock")); /* sockets are left out */
    /* sorted */
    for (size_t i = 1; i < c->n; i++)
        assert_true(strcmp(c->v[i - 1].path, c->v[i].path) < 0);
    /* hashes: lazily, the FIFO is never opened */
    struct df_ctx_entry *a = (struct df_ctx_entry *)df_ctx_find(c, "a.txt");
    ctr_error_t err = NULL;
    assert_string_equal(df_ctx_hash(c, a, &err),
                        "sha256:5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03");
    assert_string_equal(df_ctx_hash(c, (struct df_ctx_entry *)df_ctx_find(c, "fifo"), &err), "");
    df_ctx_free(c);
}

/* A file swapped for a symlink after the walk is not followed when read. */
static void test_swap(void **state)
{
    dir("swap");
    put("swap/f", "data");
    struct df_ctx *c = open_dir("swap", NULL);
    char p[512];
    snprintf(p, sizeof(p), "%s/swap/f", tmp);
    assert_int_equal(unlink(p), 0);
    assert_int_equal(symlink("/etc/passwd", p), 0);
    ctr_error_t err = NULL;
    assert_null(df_ctx_hash(c, (struct df_ctx_entry *)df_ctx_find(c, "f"), &err));
    assert_non_null(err);
    ctr_error_free(&err);
    df_ctx_free(c);
}

static void test_own_ignore(void **state)
{
    dir("own");
    dir("own/sub");
    put("own/sub/app.Dockerfile", "FROM scratch\n");
    put("own/sub/app.Dockerfile.dockerignore", "b\n");
    put("own/.dockerignore", "a\n");
    put("own/a", "1");
    put("own/b", "2");
    struct df_ctx *c = open_dir("own", "sub/app.Dockerfile");
    assert_non_null(df_ctx_find(c, "a"));
    assert_null(df_ctx_find(c, "b"));
    df_ctx_free(c);
    c = open_dir("own", NULL);
    assert_null(df_ctx_find(c, "a"));
    assert_non_null(df_ctx_find(c, "b"));
    df_ctx_free(c);
}

static void test_exceptions(void **state)
{
    dir("exc");
    dir("exc/docs");
    put("exc/docs/keep.md", "k");
    put("exc/docs/other.md", "o");
    put("exc/.dockerignore", "docs\n!docs/keep.md\n");
    struct df_ctx *c = open_dir("exc", NULL);
    assert_non_null(df_ctx_find(c, "docs/keep.md"));
    assert_null(df_ctx_find(c, "docs/other.md"));
    const struct df_ctx_entry *d = df_ctx_find(c, "docs"); /* a plain parent */
    assert_non_null(d);
    assert_int_equal(d->mode, S_IFDIR | 0755);
    df_ctx_free(c);
}

/* A tar written with libarchive through `filter` into a pipe-less temp file. */
static int make_tar(int filter, bool raw)
{
    char p[512];
    snprintf(p, sizeof(p), "%s/stream", tmp);
    int fd = open(p, O_RDWR | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    unlink(p);
    if (raw) {
        assert_int_equal(write(fd, "FROM scratch\n", 13), 13);
    } else {
        struct archive *a = archive_write_new();
        archive_write_set_format_pax_restricted(a);
        archive_write_add_filter(a, filter);
        archive_write_open_fd(a, fd);
        struct {
            const char *name, *data, *link, *hard;
            mode_t mode;
        } es[] = {
            {"./Dockerfile", "FROM scratch\n", NULL, NULL, S_IFREG | 0644},
            {"../../evil", "e", NULL, NULL, S_IFREG | 0644},
            {"deep/x/y.txt", "y", NULL, NULL, S_IFREG | 0600},
            {"deep/hard", NULL, NULL, "deep/x/y.txt", S_IFREG | 0600},
            {"ln", NULL, "/etc/passwd", NULL, S_IFLNK | 0777},
            {".dockerignore", "*.tmp\n", NULL, NULL, S_IFREG | 0644},
            {"junk.tmp", "j", NULL, NULL, S_IFREG | 0644},
            {"dup", "1", NULL, NULL, S_IFREG | 0644},
            {"dup", "22", NULL, NULL, S_IFREG | 0644},
        };
        for (size_t i = 0; i < sizeof(es) / sizeof(es[0]); i++) {
            struct archive_entry *ae = archive_entry_new();
            archive_entry_set_pathname(ae, es[i].name);
            archive_entry_set_mode(ae, es[i].mode);
            if (es[i].link)
                archive_entry_set_symlink(ae, es[i].link);
            if (es[i].hard)
                archive_entry_set_hardlink(ae, es[i].hard);
            archive_entry_set_size(ae, es[i].data ? (la_int64_t)strlen(es[i].data) : 0);
            archive_write_header(a, ae);
            if (es[i].data)
                archive_write_data(a, es[i].data, strlen(es[i].data));
            archive_entry_free(ae);
        }
        archive_write_close(a);
        archive_write_free(a);
    }
    lseek(fd, 0, SEEK_SET);
    return fd;
}

static void check_stream(int filter)
{
    int fd = make_tar(filter, false);
    struct df_ctx *c = NULL;
    ctr_error_t err = NULL;
    if (df_ctx_from_stream(fd, tmp, NULL, &c, &err) < 0)
        fail_msg("filter %d: %s", filter, err->msg);
    close(fd);
    assert_non_null(df_ctx_find(c, "Dockerfile"));
    assert_non_null(df_ctx_find(c, "evil")); /* `..` never leaves the root */
    assert_null(df_ctx_find(c, "junk.tmp"));
    const struct df_ctx_entry *d = df_ctx_find(c, "deep/x"); /* made up */
    assert_non_null(d);
    assert_int_equal(d->type, DF_CTX_DIR);
    struct df_ctx_entry *h = (struct df_ctx_entry *)df_ctx_find(c, "deep/hard");
    struct df_ctx_entry *y = (struct df_ctx_entry *)df_ctx_find(c, "deep/x/y.txt");
    assert_int_equal(h->type, DF_CTX_REG);
    assert_true(h->link_id != 0 && h->link_id == y->link_id);
    assert_string_equal(df_ctx_hash(c, h, &err), df_ctx_hash(c, y, &err));
    assert_int_equal(df_ctx_find(c, "ln")->type, DF_CTX_SYMLINK);
    assert_int_equal(df_ctx_find(c, "dup")->size, 2); /* the last one wins */
    df_ctx_free(c);
}

static void test_stream(void **state)
{
    check_stream(ARCHIVE_FILTER_NONE);
    check_stream(ARCHIVE_FILTER_GZIP);
    check_stream(ARCHIVE_FILTER_BZIP2);
    check_stream(ARCHIVE_FILTER_XZ);
    check_stream(ARCHIVE_FILTER_ZSTD);
}

static void test_stream_dockerfile(void **state)
{
    int fd = make_tar(0, true);
    struct df_ctx *c = NULL;
    ctr_error_t err = NULL;
    if (df_ctx_from_stream(fd, tmp, "Dockerfile", &c, &err) < 0)
        fail_msg("%s", err->msg);
    close(fd);
    assert_int_equal(c->n, 1);
    assert_string_equal(c->v[0].path, "Dockerfile");
    assert_int_equal(c->v[0].size, 13);
    df_ctx_free(c);
}

static void test_stream_empty(void **state)
{
    char p[512];
    snprintf(p, sizeof(p), "%s/empty", tmp);
    int fd = open(p, O_RDWR | O_CREAT | O_TRUNC, 0600);
    struct df_ctx *c = NULL;
    ctr_error_t err = NULL;
    assert_int_equal(df_ctx_from_stream(fd, tmp, NULL, &c, &err), -1);
    assert_string_equal(err->msg, "build context: the stream is empty");
    ctr_error_free(&err);
    close(fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dir),          cmocka_unit_test(test_own_ignore),
        cmocka_unit_test(test_swap),         cmocka_unit_test(test_exceptions),
        cmocka_unit_test(test_stream),       cmocka_unit_test(test_stream_dockerfile),
        cmocka_unit_test(test_stream_empty),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
