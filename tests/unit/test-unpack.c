/* Unit tests of the unpacker (src/image/unpack*): layers are built in memory
 * with libarchive's writer, applied, and the image is read back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "ext4/ext4.h"
#include "image/unpack.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmpdir[64];

static int setup(void **state)
{
    strcpy(tmpdir, "/tmp/test-unpack.XXXXXX");
    assert_non_null(mkdtemp(tmpdir));
    return 0;
}

static int teardown(void **state)
{
    ctr_error_t err = NULL;
    ctr_rm_rf(tmpdir, &err);
    ctr_error_free(&err);
    return 0;
}

/* ---- building layers ---- */
struct tw {
    struct archive *a;
    char *path;
};

static struct tw tw_open(const char *name, int filter)
{
    struct tw t = {archive_write_new(), ctr_xasprintf("%s/%s", tmpdir, name)};
    archive_write_set_format_pax_restricted(t.a);
    if (filter == ARCHIVE_FILTER_GZIP)
        archive_write_add_filter_gzip(t.a);
    else if (filter == ARCHIVE_FILTER_ZSTD)
        archive_write_add_filter_zstd(t.a);
    assert_int_equal(archive_write_open_filename(t.a, t.path), ARCHIVE_OK);
    return t;
}

static char *tw_close(struct tw t)
{
    assert_int_equal(archive_write_close(t.a), ARCHIVE_OK);
    archive_write_free(t.a);
    return t.path;
}

static void add(struct tw *t, const char *path, unsigned type, unsigned mode, const char *data,
                const char *link)
{
    struct archive_entry *e = archive_entry_new();
    archive_entry_set_pathname(e, path);
    archive_entry_set_filetype(e, type);
    archive_entry_set_perm(e, mode);
    archive_entry_set_mtime(e, 1700000000, 42);
    if (type == AE_IFREG)
        archive_entry_set_size(e, data ? (la_int64_t)strlen(data) : 0);
    if (type == AE_IFLNK)
        archive_entry_set_symlink(e, link);
    assert_int_equal(archive_write_header(t->a, e), ARCHIVE_OK);
    if (data && *data)
        assert_int_equal(archive_write_data(t->a, data, strlen(data)), (la_ssize_t)strlen(data));
    archive_entry_free(e);
}

static void add_hardlink(struct tw *t, const char *path, const char *target)
{
    struct archive_entry *e = archive_entry_new();
    archive_entry_set_pathname(e, path);
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_hardlink(e, target);
    archive_entry_set_size(e, 0);
    assert_int_equal(archive_write_header(t->a, e), ARCHIVE_OK);
    archive_entry_free(e);
}

/* ---- unpack + read back ---- */
static int collect(const struct ext4w_entry *e, void *ctx, ctr_error_t *err)
{
    char ***v = ctx;
    cleanup_free char *l = ext4w_entry_format(e);
    cleanup_free char *x = NULL;
    if (e->nxattrs)
        x = ctr_xasprintf(" [%s=%.*s]", e->xattrs[0].name, (int)e->xattrs[0].len,
                          (const char *)e->xattrs[0].value);
    cleanup_free char *line = ctr_xasprintf("%s n=%u%s", l, e->nlink, x ? x : "");
    /* directory sizes depend on block packing: leave them out */
    if (line[0] == 'd') {
        char *sp = strchr(line + 7, ' ');
        char *sp2 = strchr(sp + 1, ' ');
        memmove(sp + 1, sp2 + 1, strlen(sp2 + 1) + 1);
    }
    ctr_strv_append(v, line);
    return 0;
}

static char **list(const char *img)
{
    char **v = NULL;
    ctr_error_t err = NULL;
    if (ext4w_walk(img, 0, collect, &v, &err) < 0)
        fail_msg("%s", err->msg);
    return v;
}

static int unpack(const char *out, char **layers, size_t n, uint64_t size, ctr_error_t *err)
{
    struct unpack_layer l[8];
    struct unpack_opts o = {.size = size, .root_time = 5};
    for (size_t i = 0; i < n; i++)
        l[i] = (struct unpack_layer){
            .path = layers[i], .fd = -1, .digest = strrchr(layers[i], '/') + 1};
    return unpack_layers(out, l, n, &o, NULL, err);
}

static void assert_lines(char **got, const char *const *want)
{
    size_t n = 0;
    for (; want[n]; n++) {
        if (got == NULL || got[n] == NULL)
            fail_msg("missing line %zu: want `%s`", n, want[n]);
        if (strcmp(got[n], want[n]) != 0)
            fail_msg("line %zu: got `%s`, want `%s`", n, got[n], want[n]);
    }
    if (got && got[n])
        fail_msg("extra line `%s`", got[n]);
}

static bool no_temp_left(const char *out)
{
    cleanup_free char *cmd = ctr_xasprintf("ls %s* 2>/dev/null | grep -q .", out);
    return system(cmd) != 0;
}

static void test_layers_merge(void **state)
{
    struct tw t = tw_open("l1.tar.gz", ARCHIVE_FILTER_GZIP);
    add(&t, "./", AE_IFDIR, 0755, NULL, NULL);
    add(&t, "etc/", AE_IFDIR, 0755, NULL, NULL);
    add(&t, "etc/hostname", AE_IFREG, 0644, "one\n", NULL);
    add(&t, "etc/gone", AE_IFREG, 0644, "x", NULL);
    add(&t, "etc/gone2", AE_IFREG, 0644, "x", NULL);
    add(&t, "old/", AE_IFDIR, 0700, NULL, NULL);
    add(&t, "old/a", AE_IFREG, 0644, "a", NULL);
    add(&t, "old/sub/b", AE_IFREG, 0644, "b", NULL); /* implied old/sub */
    add(&t, "dir2file/x", AE_IFREG, 0644, "x", NULL);
    add(&t, "file2dir", AE_IFREG, 0644, "f", NULL);
    add(&t, "bin", AE_IFLNK, 0777, NULL, "usr/bin");
    add(&t, "usr/bin/tool", AE_IFREG, 0755, "tool", NULL);
    char *l1 = tw_close(t);

    t = tw_open("l2.tar.zst", ARCHIVE_FILTER_ZSTD);
    add(&t, "etc/.wh.gone", AE_IFREG, 0644, NULL, NULL);
    add(&t, "etc/.wh.never-existed", AE_IFREG, 0644, NULL, NULL);
    add(&t, "x/../etc/.wh.gone2/.", AE_IFREG, 0644, NULL, NULL); /* judged after cleaning */
    add(&t, "nowhere/.wh.x", AE_IFREG, 0644, NULL, NULL);
    add(&t, "old/kept-new", AE_IFREG, 0644, "n", NULL); /* before the marker: stays */
    add(&t, "old/.wh..wh..opq", AE_IFREG, 0644, NULL, NULL);
    add(&t, "old/new", AE_IFREG, 0644, "new", NULL);
    add(&t, "dir2file", AE_IFREG, 0600, "now a file", NULL);
    add(&t, "file2dir/", AE_IFDIR, 0711, NULL, NULL);
    add(&t, "etc/hostname", AE_IFREG, 0644, "two\n", NULL);
    add_hardlink(&t, "etc/hostname2", "etc/hostname");
    add_hardlink(&t, "tool-link", "usr/bin/tool");               /* to an entry of layer 1 */
    add(&t, "bin/from-l2", AE_IFREG, 0644, "via symlink", NULL); /* parent is a symlink */
    char *l2 = tw_close(t);

    t = tw_open("l3.tar", ARCHIVE_FILTER_NONE);
    add(&t, ".wh.usr", AE_IFREG, 0644, NULL, NULL); /* whole tree; tool-link survives */
    char *l3 = tw_close(t);

    cleanup_free char *out = ctr_xasprintf("%s/merged.ext4", tmpdir);
    char *layers[] = {l1, l2, l3};
    ctr_error_t err = NULL;
    if (unpack(out, layers, 3, 0, &err) < 0)
        fail_msg("%s", err->msg);
    cleanup_free char *cmd = ctr_xasprintf("e2fsck -fn %s >/dev/null 2>&1", out);
    assert_int_equal(system(cmd), 0);
    cleanup_strv char **got = list(out);
    const char *const want[] = {
        "d 0755 0:0 / n=5",
        "l 0777 0:0 7 /bin -> usr/bin n=1",
        "- 0600 0:0 10 /dir2file n=1",
        "d 0755 0:0 /etc n=2",
        "- 0644 0:0 4 /etc/hostname n=2",
        "- 0644 0:0 4 /etc/hostname2 n=2",
        "d 0711 0:0 /file2dir n=2",
        "d 0700 0:0 /old n=2",
        "- 0644 0:0 1 /old/kept-new n=1",
        "- 0644 0:0 3 /old/new n=1",
        "- 0755 0:0 4 /tool-link n=1",
        NULL,
    };
    assert_lines(got, want);
    assert_true(no_temp_left(out) == false); /* the image itself is there */
    cleanup_free char *pat =
        ctr_xasprintf("ls %s/merged.ext4.tmp* 2>/dev/null | grep -q .", tmpdir);
    assert_int_not_equal(system(pat), 0);
    free(l1);
    free(l2);
    free(l3);
}

static void test_hostile_paths(void **state)
{
    struct tw t = tw_open("hostile.tar", ARCHIVE_FILTER_NONE);
    add(&t, "../../etc/x", AE_IFREG, 0644, "dotdot", NULL);
    add(&t, "/abs/path", AE_IFREG, 0644, "abs", NULL);
    add(&t, "a", AE_IFLNK, 0777, NULL, "/");
    add(&t, "a/etc/y", AE_IFREG, 0644, "through a", NULL);
    add(&t, "up", AE_IFLNK, 0777, NULL, "../../../../../tmp");
    add(&t, "up/ctr-unit-hostile", AE_IFREG, 0644, "up", NULL);
    add(&t, "outside", AE_IFREG, 0644, "o", NULL);
    add_hardlink(&t, "hl", "../outside");
    add(&t, "a/a/a/a/etc/../../z", AE_IFREG, 0644, "z", NULL);
    char *l = tw_close(t);
    cleanup_free char *out = ctr_xasprintf("%s/hostile.ext4", tmpdir);
    ctr_error_t err = NULL;
    char *layers[] = {l};
    if (unpack(out, layers, 1, 0, &err) < 0)
        fail_msg("%s", err->msg);
    cleanup_strv char **got = list(out);
    const char *const want[] = {
        "d 0755 0:0 / n=5",
        "l 0777 0:0 1 /a -> / n=1",
        "d 0755 0:0 /abs n=2",
        "- 0644 0:0 3 /abs/path n=1",
        "d 0755 0:0 /etc n=2",
        "- 0644 0:0 6 /etc/x n=1",
        "- 0644 0:0 9 /etc/y n=1",
        "- 0644 0:0 1 /hl n=2",
        "- 0644 0:0 1 /outside n=2",
        "d 0755 0:0 /tmp n=2",
        "- 0644 0:0 2 /tmp/ctr-unit-hostile n=1",
        "l 0777 0:0 18 /up -> ../../../../../tmp n=1",
        "- 0644 0:0 1 /z n=1",
        NULL,
    };
    assert_lines(got, want);
    /* nothing was written on the host */
    assert_int_not_equal(access("/tmp/ctr-unit-hostile", F_OK), 0);
    assert_int_not_equal(access("/abs/path", F_OK), 0);
    free(l);
}

static void expect_failure(const char *out, char **layers, size_t n, uint64_t size,
                           const char *const *needles)
{
    ctr_error_t err = NULL;
    assert_int_equal(unpack(out, layers, n, size, &err), -1);
    for (size_t i = 0; needles[i]; i++)
        if (strstr(err->msg, needles[i]) == NULL)
            fail_msg("error `%s` lacks `%s`", err->msg, needles[i]);
    ctr_error_free(&err);
    assert_true(no_temp_left(out));
}

static void test_errors_leave_nothing(void **state)
{
    cleanup_free char *out = ctr_xasprintf("%s/bad.ext4", tmpdir);
    static char big[200000];
    memset(big, 'q', sizeof(big) - 1);

    /* hard link to nothing */
    struct tw t = tw_open("missing-link.tar", ARCHIVE_FILTER_NONE);
    add(&t, "f", AE_IFREG, 0644, "f", NULL);
    add_hardlink(&t, "hl", "../nothing");
    char *l = tw_close(t);
    char *layers[] = {l};
    expect_failure(out, layers, 1, 0,
                   (const char *const[]){"missing-link.tar", "`hl`", "does not exist", NULL});
    free(l);

    /* a name over 255 bytes */
    t = tw_open("longname.tar", ARCHIVE_FILTER_NONE);
    char name[300];
    memset(name, 'n', 256);
    strcpy(name + 256, "");
    add(&t, name, AE_IFREG, 0644, "x", NULL);
    layers[0] = l = tw_close(t);
    expect_failure(out, layers, 1, 0, (const char *const[]){"longname.tar", "nnnn", "255", NULL});
    free(l);

    /* truncated in the middle of a file's data */
    t = tw_open("trunc.tar", ARCHIVE_FILTER_NONE);
    add(&t, "ok", AE_IFREG, 0644, "fine", NULL);
    add(&t, "big", AE_IFREG, 0644, big, NULL);
    layers[0] = l = tw_close(t);
    assert_int_equal(truncate(l, 1536 + 100000), 0);
    expect_failure(out, layers, 1, 0, (const char *const[]){"trunc.tar", "`big`", NULL});
    free(l);

    /* corrupt gzip: flip bytes in the middle of the deflate stream */
    t = tw_open("corrupt.tar.gz", ARCHIVE_FILTER_GZIP);
    for (int i = 0; i < 50; i++) {
        char n[32], d[64];
        snprintf(n, sizeof(n), "f%02d", i);
        snprintf(d, sizeof(d), "%d-%d-%d-%d", i * 7919, i * 104729, i * 31, i);
        add(&t, n, AE_IFREG, 0644, d, NULL);
    }
    add(&t, "big", AE_IFREG, 0644, big, NULL);
    layers[0] = l = tw_close(t);
    int fd = open(l, O_RDWR);
    struct stat st;
    fstat(fd, &st);
    char junk[64];
    memset(junk, 0x5a, sizeof(junk));
    assert_int_equal(pwrite(fd, junk, sizeof(junk), st.st_size / 2), sizeof(junk));
    close(fd);
    expect_failure(out, layers, 1, 0, (const char *const[]){"corrupt.tar.gz", "entry", NULL});
    free(l);

    /* media type that does not match the data */
    t = tw_open("plain.tar", ARCHIVE_FILTER_NONE);
    add(&t, "f", AE_IFREG, 0644, "f", NULL);
    l = tw_close(t);
    struct unpack_layer ul = {.path = l,
                              .fd = -1,
                              .digest = "sha256:abc",
                              .media_type = "application/vnd.oci.image.layer.v1.tar+gzip"};
    struct unpack_opts o = {0};
    ctr_error_t err = NULL;
    assert_int_equal(unpack_layers(out, &ul, 1, &o, NULL, &err), -1);
    assert_non_null(strstr(err->msg, "sha256:abc"));
    assert_non_null(strstr(err->msg, "gzip"));
    ctr_error_free(&err);
    assert_true(no_temp_left(out));
    /* the same layer with the right type goes through */
    ul.media_type = "application/vnd.oci.image.layer.v1.tar";
    assert_int_equal(unpack_layers(out, &ul, 1, &o, NULL, &err), 0);
    free(l);
}

static void test_size_grows(void **state)
{
    /* 20 MiB of data compresses to almost nothing: the estimate from the
     * gzip trailer must hold it, and a too small explicit size must fail. */
    struct tw t = tw_open("big.tar.gz", ARCHIVE_FILTER_GZIP);
    char *data = ctr_xmalloc(20 << 20);
    memset(data, 'b', 20 << 20);
    data[(20 << 20) - 1] = 0;
    add(&t, "big", AE_IFREG, 0644, data, NULL);
    char *l = tw_close(t);
    free(data);
    cleanup_free char *out = ctr_xasprintf("%s/grow.ext4", tmpdir);
    char *layers[] = {l};
    expect_failure(out, layers, 1, 8 << 20, (const char *const[]){"full", "asked for", NULL});
    struct unpack_layer ul = {.path = l, .fd = -1};
    struct unpack_opts o = {.initial_size = 8 << 20};
    struct unpack_stats st = {0};
    ctr_error_t err = NULL;
    if (unpack_layers(out, &ul, 1, &o, &st, &err) < 0)
        fail_msg("%s", err->msg);
    assert_true(st.used_bytes >= (20 << 20));
    assert_int_equal(st.nlayers, 1);
    assert_true(st.attempts >= 2); /* 8 MiB was too small: grown */
    assert_int_equal(st.layers[0].entries, 1);
    unpack_stats_free(&st);
    struct stat sb;
    assert_int_equal(stat(out, &sb), 0);
    assert_true(sb.st_blocks * 512 < (40 << 20)); /* not padded with real blocks */
    free(l);
}

static void test_media_types(void **state)
{
    assert_string_equal(unpack_media_compression("application/vnd.oci.image.layer.v1.tar+gzip"),
                        "gzip");
    assert_string_equal(unpack_media_compression("application/vnd.oci.image.layer.v1.tar+zstd"),
                        "zstd");
    assert_string_equal(unpack_media_compression("application/vnd.oci.image.layer.v1.tar"), "none");
    assert_string_equal(
        unpack_media_compression("application/vnd.docker.image.rootfs.diff.tar.gzip"), "gzip");
    assert_null(unpack_media_compression("application/vnd.oci.image.config.v1+json"));
    assert_null(unpack_media_compression("text/plain"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_media_types),   cmocka_unit_test(test_layers_merge),
        cmocka_unit_test(test_hostile_paths), cmocka_unit_test(test_errors_leave_nothing),
        cmocka_unit_test(test_size_grows),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
