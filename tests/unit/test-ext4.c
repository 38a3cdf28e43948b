/* Unit tests of the ext4 writer (src/ext4): every entry type, metadata with
 * nanoseconds, xattrs, sparse files, removal, confined path resolution; the
 * image is read back with ext4w_walk and checked with `e2fsck -fn`. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "ext4/ext4.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmpdir[64];

static int setup(void **state)
{
    strcpy(tmpdir, "/tmp/test-ext4.XXXXXX");
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

static char *img_path(const char *name)
{
    return ctr_xasprintf("%s/%s", tmpdir, name);
}

static void fsck_ok(const char *img)
{
    cleanup_free char *cmd = ctr_xasprintf("e2fsck -fn '%s' >%s/fsck.log 2>&1", img, tmpdir);
    int rc = system(cmd);
    if (rc != 0) {
        cleanup_free char *cat = ctr_xasprintf("cat %s/fsck.log >&2", tmpdir);
        if (system(cat) < 0)
            fail_msg("cannot show the fsck log");
    }
    assert_int_equal(rc, 0);
}

static ext4w_t *new_image(const char *img, uint64_t size)
{
    struct ext4w_opts o = {.size_bytes = size, .root_time = 1000};
    ext4w_t *w = NULL;
    ctr_error_t err = NULL;
    if (ext4w_create(img, &o, &w, &err) < 0)
        fail_msg("%s", err->msg);
    return w;
}

static void close_image(ext4w_t *w)
{
    ctr_error_t err = NULL;
    if (ext4w_close(w, &err) < 0)
        fail_msg("%s", err->msg);
}

static struct ext4w_attr attr(uint32_t mode, uint32_t uid, uint32_t gid, int64_t sec, long ns)
{
    struct ext4w_attr a = {.mode = mode, .uid = uid, .gid = gid};
    a.mtime = (struct timespec){sec, ns};
    a.atime = (struct timespec){sec + 1, ns + 1};
    a.ctime = (struct timespec){sec + 2, ns + 2};
    return a;
}

/* Feed a buffer in chunks of `chunk` bytes; NULL data means "zeros". */
struct src {
    const char *data;
    size_t len, pos, chunk;
};

static int src_read(void *ctx, const void **buf, size_t *len, uint64_t *off, ctr_error_t *err)
{
    struct src *s = ctx;
    if (s->pos >= s->len)
        return 0;
    size_t n = s->len - s->pos < s->chunk ? s->len - s->pos : s->chunk;
    *buf = s->data + s->pos;
    *len = n;
    *off = s->pos;
    s->pos += n;
    return 1;
}

static void sha256_hex(const void *p, size_t n, char out[65])
{
    unsigned char d[32];
    unsigned int dl;
    EVP_Digest(p, n, d, &dl, EVP_sha256(), NULL);
    for (int i = 0; i < 32; i++)
        sprintf(out + 2 * i, "%02x", d[i]);
}

/* Read-back: one line per entry with everything the walk reports. */
struct lines {
    char **v;
    const struct ext4w_entry *want;
};

static int collect(const struct ext4w_entry *e, void *ctx, ctr_error_t *err)
{
    char ***v = ctx;
    cleanup_free char *base = ext4w_entry_format(e);
    cleanup_free char *x = ctr_xstrdup("");
    for (size_t i = 0; i < e->nxattrs; i++) {
        char *nx = ctr_xasprintf("%s %s=%.*s", x, e->xattrs[i].name, (int)e->xattrs[i].len,
                                 (const char *)e->xattrs[i].value);
        free(x);
        x = nx;
    }
    cleanup_free char *line =
        ctr_xasprintf("%s|n=%u m=%lld.%09ld a=%lld.%09ld c=%lld.%09ld%s%s%s", base, e->nlink,
                      (long long)e->mtime.tv_sec, e->mtime.tv_nsec, (long long)e->atime.tv_sec,
                      e->atime.tv_nsec, (long long)e->ctime.tv_sec, e->ctime.tv_nsec, x,
                      e->sha256 ? " sha=" : "", e->sha256 ? e->sha256 : "");
    ctr_strv_append(v, line);
    return 0;
}

static char **walk(const char *img)
{
    char **v = NULL;
    ctr_error_t err = NULL;
    if (ext4w_walk(img, EXT4W_WALK_HASH, collect, &v, &err) < 0)
        fail_msg("%s", err->msg);
    return v;
}

static const char *find_line(char **v, const char *prefix)
{
    for (size_t i = 0; v && v[i]; i++)
        if (strncmp(v[i], prefix, strlen(prefix)) == 0)
            return v[i];
    return NULL;
}

static void test_all_types(void **state)
{
    cleanup_free char *img = img_path("types.ext4");
    ext4w_t *w = new_image(img, 64 << 20);
    ctr_error_t err = NULL;
    ext4w_node_t *root = ext4w_root(w), *d, *f, *n;
    struct ext4w_attr a;

    a = attr(0750, 1000, 1001, 1700000000, 123456789);
    assert_int_equal(ext4w_mkdir(w, root, "etc", 3, &a, NULL, 0, &d, &err), 0);
    /* odd-sized chunks exercise the partial-block path */
    char data[10000];
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (char)('a' + i % 26);
    struct src s = {data, sizeof(data), 0, 777};
    struct ext4w_xattr cap = {"security.capability", "\x01\x00\x00\x02", 4};
    a = attr(0644, 0, 0, 1600000000, 5);
    assert_int_equal(
        ext4w_add_file(w, d, "passwd", 6, &a, &cap, 1, sizeof(data), src_read, &s, &f, &err), 0);
    a = attr(0644, 70000, 80000, -100, 999999999); /* 32-bit ids, pre-1970 time */
    assert_int_equal(ext4w_add_file(w, root, "empty", 5, &a, NULL, 0, 0, NULL, NULL, NULL, &err),
                     0);
    a = attr(0777, 0, 0, 1, 0);
    assert_int_equal(ext4w_symlink(w, root, "fast", 4, "etc/passwd", &a, NULL, 0, NULL, &err), 0);
    char longt[300];
    memset(longt, 'x', sizeof(longt) - 1);
    longt[sizeof(longt) - 1] = 0;
    assert_int_equal(ext4w_symlink(w, root, "slow", 4, longt, &a, NULL, 0, NULL, &err), 0);
    assert_int_equal(ext4w_link(w, root, "hard", 4, f, NULL, &err), 0);
    a = attr(S_IFCHR | 0666, 0, 0, 2, 0);
    a.rdev_major = 1;
    a.rdev_minor = 3;
    assert_int_equal(ext4w_mknod(w, root, "null", 4, &a, NULL, 0, NULL, &err), 0);
    a = attr(S_IFBLK | 0660, 0, 6, 2, 0);
    a.rdev_major = 259;
    a.rdev_minor = 65536 + 7;
    assert_int_equal(ext4w_mknod(w, root, "blk", 3, &a, NULL, 0, NULL, &err), 0);
    a = attr(S_IFIFO | 0600, 0, 0, 2, 0);
    assert_int_equal(ext4w_mknod(w, root, "fifo", 4, &a, NULL, 0, NULL, &err), 0);
    a = attr(S_IFSOCK | 0755, 0, 0, 2, 0);
    assert_int_equal(ext4w_mknod(w, root, "sock", 4, &a, NULL, 0, NULL, &err), 0);
    struct ext4w_xattr opq = {"trusted.overlay.opaque", "y", 1};
    a = attr(0755, 0, 0, 3, 0);
    assert_int_equal(ext4w_mkdir(w, root, "opq", 3, &a, &opq, 1, &n, &err), 0);
    /* duplicates and bad names are refused */
    assert_int_equal(ext4w_mkdir(w, root, "opq", 3, &a, NULL, 0, NULL, &err), -1);
    assert_int_equal(err->errnum, EEXIST);
    ctr_error_free(&err);
    char big[300];
    memset(big, 'n', sizeof(big));
    assert_int_equal(ext4w_mkdir(w, root, big, 256, &a, NULL, 0, NULL, &err), -1);
    assert_int_equal(err->errnum, ENAMETOOLONG);
    ctr_error_free(&err);
    assert_int_equal(ext4w_mkdir(w, root, "..", 2, &a, NULL, 0, NULL, &err), -1);
    ctr_error_free(&err);
    struct ext4w_xattr bad = {"bogus.name", "v", 1};
    assert_int_equal(ext4w_mkdir(w, root, "x", 1, &a, &bad, 1, NULL, &err), -1);
    assert_int_equal(err->errnum, EOPNOTSUPP);
    ctr_error_free(&err);
    close_image(w);
    fsck_ok(img);

    cleanup_strv char **v = walk(img);
    char sha[65];
    sha256_hex(data, sizeof(data), sha);
    cleanup_free char *want_passwd = ctr_xasprintf(
        "- 0644 0:0 10000 /etc/passwd|n=2 m=1600000000.000000005 a=1600000001.000000006 "
        "c=1600000002.000000007 security.capability=\x01 sha=%s",
        sha);
    const char *got = find_line(v, "- 0644 0:0 10000 /etc/passwd");
    assert_non_null(got);
    /* the xattr value has NULs: compare up to them, then the digest */
    assert_memory_equal(got, want_passwd,
                        strlen("- 0644 0:0 10000 /etc/passwd|n=2 m=1600000000."
                               "000000005 a=1600000001.000000006 c=1600000002."
                               "000000007 security.capability=\x01"));
    assert_non_null(strstr(got, sha));
    assert_non_null(find_line(v, "d 0750 1000:1001 4096 /etc|n=2 m=1700000000.123456789"));
    assert_non_null(find_line(v, "- 0644 70000:80000 0 /empty|n=1 m=-100.999999999"));
    assert_non_null(find_line(v, "l 0777 0:0 10 /fast -> etc/passwd|"));
    cleanup_free char *slow = ctr_xasprintf("l 0777 0:0 299 /slow -> %s|", longt);
    assert_non_null(find_line(v, slow));
    assert_non_null(find_line(v, "- 0644 0:0 10000 /hard|n=2"));
    assert_non_null(find_line(v, "c 0666 0:0 1,3 /null|"));
    assert_non_null(find_line(v, "b 0660 0:6 259,65543 /blk|"));
    assert_non_null(find_line(v, "p 0600 0:0 0 /fifo|"));
    assert_non_null(find_line(v, "s 0755 0:0 0 /sock|"));
    assert_non_null(find_line(v, "d 0755 0:0 4096 /opq|n=2 m=3.000000000 a=4.000000001 "
                                 "c=5.000000002 trusted.overlay.opaque=y"));
    /* root: ., .., etc, opq => 4 links */
    assert_non_null(find_line(v, "d 0755 0:0 4096 /|n=4"));
    assert_null(find_line(v, "- 0644 0:0 0 /x"));
    assert_int_equal(ctr_strv_len(v), 12);
}

/* Sparse data: holes from gaps between chunks and from all-zero blocks. */
struct sparse_src {
    int step;
    char block[8192];
};

static int sparse_read(void *ctx, const void **buf, size_t *len, uint64_t *off, ctr_error_t *err)
{
    struct sparse_src *s = ctx;
    switch (s->step++) {
    case 0: /* 8 KiB of zeros at 0: must stay a hole */
        memset(s->block, 0, sizeof(s->block));
        *off = 0;
        break;
    case 1: /* data at 1 GiB */
        memset(s->block, 'D', sizeof(s->block));
        *off = 1ULL << 30;
        break;
    default:
        return 0;
    }
    *buf = s->block;
    *len = sizeof(s->block);
    return 1;
}

static void test_sparse_and_usage(void **state)
{
    cleanup_free char *img = img_path("sparse.ext4");
    ext4w_t *w = new_image(img, 256 << 20);
    ctr_error_t err = NULL;
    struct ext4w_attr a = attr(0600, 0, 0, 10, 0);
    struct ext4w_usage u0, u1, u2;
    struct sparse_src s = {0};
    ext4w_node_t *f;

    ext4w_usage(w, &u0);
    assert_int_equal(ext4w_add_file(w, ext4w_root(w), "sparse", 6, &a, NULL, 0, (2ULL << 30) + 5,
                                    sparse_read, &s, &f, &err),
                     0);
    ext4w_usage(w, &u1);
    assert_int_equal(u1.blocks_used - u0.blocks_used, 2); /* only the 8 KiB of 'D' */
    /* a file with many extents (every other block) needs an extent tree */
    static char alt[4096 * 64];
    for (int i = 0; i < 64; i++)
        memset(alt + i * 4096, i % 2 ? 'x' : 0, 4096);
    struct src as = {alt, sizeof(alt), 0, 5000};
    assert_int_equal(ext4w_add_file(w, ext4w_root(w), "alt", 3, &a, NULL, 0, sizeof(alt), src_read,
                                    &as, NULL, &err),
                     0);
    ext4w_usage(w, &u2);
    assert_true(u2.blocks_used - u1.blocks_used >= 32);
    close_image(w);
    fsck_ok(img);

    struct stat st;
    assert_int_equal(stat(img, &st), 0);
    assert_int_equal(st.st_size, 256 << 20);
    assert_true(st.st_blocks * 512 < 8 << 20); /* the image file itself stays sparse */

    cleanup_strv char **v = walk(img);
    const char *l = find_line(v, "- 0600 0:0 2147483653 /sparse|");
    assert_non_null(l);
    char sha[65];
    {
        EVP_MD_CTX *md = EVP_MD_CTX_new();
        static char z[1 << 20];
        unsigned char d[32];
        EVP_DigestInit_ex(md, EVP_sha256(), NULL);
        for (int i = 0; i < 1024; i++)
            EVP_DigestUpdate(md, z, sizeof(z));
        memset(s.block, 'D', sizeof(s.block));
        EVP_DigestUpdate(md, s.block, sizeof(s.block));
        uint64_t rest = (2ULL << 30) + 5 - (1ULL << 30) - 8192;
        while (rest) {
            size_t c = rest > sizeof(z) ? sizeof(z) : rest;
            EVP_DigestUpdate(md, z, c);
            rest -= c;
        }
        EVP_DigestFinal_ex(md, d, NULL);
        EVP_MD_CTX_free(md);
        for (int i = 0; i < 32; i++)
            sprintf(sha + 2 * i, "%02x", d[i]);
    }
    assert_non_null(strstr(l, sha));
    sha256_hex(alt, sizeof(alt), sha);
    l = find_line(v, "- 0600 0:0 262144 /alt|");
    assert_non_null(l);
    assert_non_null(strstr(l, sha));
}

static void test_remove_frees(void **state)
{
    cleanup_free char *img = img_path("remove.ext4");
    ext4w_t *w = new_image(img, 64 << 20);
    ctr_error_t err = NULL;
    struct ext4w_attr da = attr(0755, 0, 0, 10, 0), fa = attr(0644, 0, 0, 10, 0);
    struct ext4w_usage u0, u1, u2;
    ext4w_node_t *d, *sub, *f, *keep;
    static char data[1 << 20];
    memset(data, 'z', sizeof(data));

    ext4w_usage(w, &u0);
    assert_int_equal(ext4w_mkdir(w, ext4w_root(w), "d", 1, &da, NULL, 0, &d, &err), 0);
    assert_int_equal(ext4w_mkdir(w, d, "sub", 3, &da, NULL, 0, &sub, &err), 0);
    struct src s = {data, sizeof(data), 0, 65536};
    assert_int_equal(
        ext4w_add_file(w, sub, "f", 1, &fa, NULL, 0, sizeof(data), src_read, &s, &f, &err), 0);
    /* a hard link outside the removed tree keeps the data alive */
    assert_int_equal(ext4w_link(w, ext4w_root(w), "keep", 4, f, &keep, &err), 0);
    s.pos = 0;
    assert_int_equal(
        ext4w_add_file(w, sub, "g", 1, &fa, NULL, 0, sizeof(data), src_read, &s, NULL, &err), 0);
    ext4w_usage(w, &u1);
    assert_int_equal(u1.blocks_used - u0.blocks_used, 512);
    assert_int_equal(ext4w_remove(w, d, &err), 0);
    ext4w_usage(w, &u2);
    assert_int_equal(u1.blocks_used - u2.blocks_used, 256); /* g freed, f kept */
    assert_int_equal(u1.inodes_used - u2.inodes_used, 3);   /* d, sub, g */
    assert_int_equal(ext4w_remove(w, ext4w_root(w), &err), -1);
    ctr_error_free(&err);
    close_image(w);
    fsck_ok(img);
    cleanup_strv char **v = walk(img);
    assert_non_null(find_line(v, "- 0644 0:0 1048576 /keep|n=1"));
    assert_null(find_line(v, "d 0755 0:0 4096 /d"));
    assert_int_equal(ctr_strv_len(v), 2);
}

static void test_resolve_confined(void **state)
{
    cleanup_free char *img = img_path("resolve.ext4");
    ext4w_t *w = new_image(img, 16 << 20);
    ctr_error_t err = NULL;
    struct ext4w_attr da = attr(0755, 0, 0, 10, 0), la = attr(0777, 0, 0, 10, 0);
    ext4w_node_t *dir, *n, *etc;
    const char *base;
    size_t blen;

    assert_int_equal(ext4w_mkdir(w, ext4w_root(w), "etc", 3, &da, NULL, 0, &etc, &err), 0);
    assert_int_equal(ext4w_symlink(w, ext4w_root(w), "a", 1, "/", &la, NULL, 0, NULL, &err), 0);
    assert_int_equal(
        ext4w_symlink(w, ext4w_root(w), "up", 2, "../../../..", &la, NULL, 0, NULL, &err), 0);
    assert_int_equal(ext4w_symlink(w, ext4w_root(w), "loop", 4, "loop/x", &la, NULL, 0, NULL, &err),
                     0);
    /* a -> / : a/etc/x lands in /etc */
    assert_int_equal(ext4w_resolve_parent(w, "a/etc/x", 0, NULL, &dir, &base, &blen, &err), 0);
    assert_ptr_equal(dir, etc);
    assert_int_equal(blen, 1);
    /* .. is clamped at the root, lexically and through symlinks */
    assert_int_equal(ext4w_resolve_parent(w, "../../etc/x", 0, NULL, &dir, &base, &blen, &err), 0);
    assert_ptr_equal(dir, etc);
    assert_int_equal(ext4w_resolve_parent(w, "/up/etc/y", 0, NULL, &dir, &base, &blen, &err), 0);
    assert_ptr_equal(dir, etc);
    /* missing parents: an error, or created with MKDIRS */
    assert_int_equal(ext4w_resolve_parent(w, "new/deep/f", 0, NULL, &dir, &base, &blen, &err), -1);
    assert_int_equal(err->errnum, ENOENT);
    ctr_error_free(&err);
    assert_int_equal(
        ext4w_resolve_parent(w, "a/new/deep/f", EXT4W_MKDIRS, &da, &dir, &base, &blen, &err), 0);
    assert_int_equal(ext4w_lookup(w, "/new/deep", 0, &n, &err), 0);
    assert_ptr_equal(n, dir);
    assert_int_equal(ext4w_resolve_parent(w, "loop/f", 0, NULL, &dir, &base, &blen, &err), -1);
    assert_int_equal(err->errnum, ELOOP);
    ctr_error_free(&err);
    /* lookup without and with following the last symlink */
    assert_int_equal(ext4w_lookup(w, "a", 0, &n, &err), 0);
    assert_int_equal(ext4w_node_type(n), S_IFLNK);
    assert_int_equal(ext4w_lookup(w, "a", EXT4W_FOLLOW, &n, &err), 0);
    assert_ptr_equal(n, ext4w_root(w));
    assert_int_equal(ext4w_lookup(w, "nothing/here", 0, &n, &err), 0);
    assert_null(n);
    close_image(w);
    fsck_ok(img);
}

static bool keep_tag(const ext4w_node_t *n, void *ctx)
{
    return ext4w_node_tag(n) == *(uint32_t *)ctx;
}

static void test_many_files_and_set_attr(void **state)
{
    cleanup_free char *img = img_path("many.ext4");
    ext4w_t *w = new_image(img, 64 << 20);
    ctr_error_t err = NULL;
    struct ext4w_attr da = attr(0755, 0, 0, 10, 0), fa = attr(0644, 0, 0, 10, 0);
    ext4w_node_t *d, *n;
    char name[32];

    assert_int_equal(ext4w_mkdir(w, ext4w_root(w), "big", 3, &da, NULL, 0, &d, &err), 0);
    for (int i = 0; i < 5000; i++) {
        int l = snprintf(name, sizeof(name), "file-with-a-longish-name-%05d", i);
        struct src s = {name, (size_t)l, 0, 4096};
        assert_int_equal(ext4w_add_file(w, d, name, (size_t)l, &fa, NULL, 0, (uint64_t)l, src_read,
                                        &s, &n, &err),
                         0);
        ext4w_node_set_tag(n, (uint32_t)(i % 2));
    }
    /* drop the odd ones, like an opaque directory drops older entries */
    uint32_t zero = 0;
    assert_int_equal(ext4w_remove_children(w, d, keep_tag, &zero, &err), 0);
    struct ext4w_xattr x[2] = {{"user.a", "1", 1}, {"user.b", "22", 2}};
    struct ext4w_attr na = attr(0700, 5, 6, 20, 7);
    assert_int_equal(ext4w_set_attr(w, d, &na, x, 2, &err), 0);
    struct ext4w_xattr y = {"user.c", "3", 1};
    assert_int_equal(ext4w_set_attr(w, d, &na, &y, 1, &err), 0); /* replaces a and b */
    close_image(w);
    fsck_ok(img);
    cleanup_strv char **v = walk(img);
    assert_int_equal(ctr_strv_len(v), 2 + 2500);
    assert_non_null(find_line(v, "d 0700 5:6 "));
    assert_non_null(strstr(find_line(v, "d 0700 5:6 "), "m=20.000000007 a=21.000000008 "
                                                        "c=22.000000009 user.c=3|") ||
                    strstr(find_line(v, "d 0700 5:6 "), " user.c=3"));
    assert_null(strstr(find_line(v, "d 0700 5:6 "), "user.a"));
    assert_non_null(find_line(v, "- 0644 0:0 30 /big/file-with-a-longish-name-04998|"));
    assert_null(find_line(v, "- 0644 0:0 30 /big/file-with-a-longish-name-04999|"));
}

static void test_full_image(void **state)
{
    cleanup_free char *img = img_path("full.ext4");
    ext4w_t *w = new_image(img, 4 << 20);
    ctr_error_t err = NULL;
    struct ext4w_attr fa = attr(0644, 0, 0, 10, 0);
    static char data[8 << 20];
    memset(data, 1, sizeof(data));
    struct src s = {data, sizeof(data), 0, 1 << 20};
    assert_int_equal(ext4w_add_file(w, ext4w_root(w), "big", 3, &fa, NULL, 0, sizeof(data),
                                    src_read, &s, NULL, &err),
                     -1);
    assert_int_equal(err->errnum, ENOSPC);
    ctr_error_free(&err);
    ext4w_discard(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_all_types),
        cmocka_unit_test(test_sparse_and_usage),
        cmocka_unit_test(test_remove_frees),
        cmocka_unit_test(test_resolve_confined),
        cmocka_unit_test(test_many_files_and_set_attr),
        cmocka_unit_test(test_full_image),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
