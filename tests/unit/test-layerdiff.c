/* Unit tests of src/image/layerdiff.c: a writable disk made with our ext4 writer (an
 * overlay upper directory with whiteouts, an opaque directory, hard links, symlinks,
 * xattrs and the guest's /etc files) against a lower image: Docker's change list, and the
 * layer tar read back with libarchive; the same upper directory as vminitd's tar. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "ext4/ext4.h"
#include "image/layerdiff.h"

#include <archive.h>
#include <archive_entry.h>
#include <ext2fs/ext2fs.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmpdir[64];

static int setup(void **state)
{
    strcpy(tmpdir, "/tmp/test-layerdiff.XXXXXX");
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

#define OK(x)                                                                                      \
    do {                                                                                           \
        ctr_error_t e_ = NULL;                                                                     \
        ctr_error_t *err = &e_;                                                                    \
        if ((x) < 0)                                                                               \
            fail_msg("%s: %s", #x, e_ ? e_->msg : "?");                                            \
        (void)err;                                                                                 \
    } while (0)

struct data {
    const char *s;
    bool done;
};

static int read_str(void *ctx, const void **buf, size_t *len, uint64_t *off, ctr_error_t *err)
{
    struct data *d = ctx;
    if (d->done)
        return 0;
    d->done = true;
    *buf = d->s;
    *len = strlen(d->s);
    *off = 0;
    return 1;
}

static ext4w_node_t *mkdir_at(ext4w_t *w, ext4w_node_t *dir, const char *name, uint32_t mode,
                              int64_t mtime, const struct ext4w_xattr *x, size_t nx)
{
    struct ext4w_attr a = {.mode = S_IFDIR | mode, .mtime = {mtime, 0}};
    ext4w_node_t *n = NULL;
    OK(ext4w_mkdir(w, dir, name, strlen(name), &a, x, nx, &n, err));
    return n;
}

static ext4w_node_t *file_at(ext4w_t *w, ext4w_node_t *dir, const char *name, const char *text,
                             const struct ext4w_xattr *x, size_t nx)
{
    struct ext4w_attr a = {.mode = S_IFREG | 0644, .uid = 1000, .gid = 100, .mtime = {5, 0}};
    struct data d = {text, false};
    ext4w_node_t *n = NULL;
    OK(ext4w_add_file(w, dir, name, strlen(name), &a, x, nx, strlen(text), read_str, &d, &n, err));
    return n;
}

static void whiteout_at(ext4w_t *w, ext4w_node_t *dir, const char *name)
{
    struct ext4w_attr a = {.mode = S_IFCHR | 0, .rdev_major = 0, .rdev_minor = 0};
    OK(ext4w_mknod(w, dir, name, strlen(name), &a, NULL, 0, NULL, err));
}

static ext4w_t *create(const char *path)
{
    struct ext4w_opts o = {.size_bytes = 64 << 20, .root_time = 1000};
    ext4w_t *w = NULL;
    OK(ext4w_create(path, &o, &w, err));
    return w;
}

/* The image: /etc/{passwd,group}, /usr/sbin/old, /home (mtime 7). */
static char *make_lower(void)
{
    char *p = ctr_xasprintf("%s/lower.ext4", tmpdir);
    ext4w_t *w = create(p);
    ext4w_node_t *r = ext4w_root(w);
    ext4w_node_t *etc = mkdir_at(w, r, "etc", 0755, 7, NULL, 0);
    file_at(w, etc, "passwd", "root\n", NULL, 0);
    file_at(w, etc, "group", "root\n", NULL, 0);
    ext4w_node_t *usr = mkdir_at(w, r, "usr", 0755, 7, NULL, 0);
    ext4w_node_t *sbin = mkdir_at(w, usr, "sbin", 0755, 7, NULL, 0);
    file_at(w, sbin, "old", "x", NULL, 0);
    mkdir_at(w, r, "home", 0755, 7, NULL, 0);
    OK(ext4w_close(w, err));
    return p;
}

/* The writable disk: /upper holds what the guest's overlay left, /work its workdir. */
static char *make_rw(void)
{
    char *p = ctr_xasprintf("%s/rw.ext4", tmpdir);
    ext4w_t *w = create(p);
    ext4w_node_t *r = ext4w_root(w);
    ext4w_node_t *up = mkdir_at(w, r, "upper", 0755, 1, NULL, 0);
    ext4w_node_t *work = mkdir_at(w, r, "work", 0755, 1, NULL, 0);
    file_at(w, work, "junk", "never in a layer", NULL, 0);
    struct ext4w_xattr ux = {"user.note", "v", 1};
    ext4w_node_t *added = file_at(w, up, "added", "hi\n", &ux, 1);
    OK(ext4w_link(w, up, "added-link", 10, added, NULL, err));
    struct ext4w_attr la = {.mode = S_IFLNK | 0777};
    OK(ext4w_symlink(w, up, "sym", 3, "/added", &la, NULL, 0, NULL, err));
    ext4w_node_t *etc = mkdir_at(w, up, "etc", 0755, 9, NULL, 0);
    whiteout_at(w, etc, "group");
    file_at(w, etc, "passwd", "root\nextra\n", NULL, 0);
    file_at(w, etc, "hosts", "127.0.0.1 localhost\n", NULL, 0); /* the guest's: left out */
    ext4w_node_t *usr = mkdir_at(w, up, "usr", 0755, 9, NULL, 0);
    struct ext4w_xattr opq = {"trusted.overlay.opaque", "y", 1};
    ext4w_node_t *sbin = mkdir_at(w, usr, "sbin", 0755, 9, &opq, 1);
    file_at(w, sbin, "new", "n\n", NULL, 0);
    /* /home copied up unchanged (same mode, size, mtime): not a change */
    ext4w_node_t *home = mkdir_at(w, up, "home", 0755, 7, NULL, 0);
    file_at(w, home, "f", "x", NULL, 0);
    mkdir_at(w, up, "proc", 0555, 9, NULL, 0); /* a mount point the guest made */
    OK(ext4w_close(w, err));
    return p;
}

static const char *const expected[] = {
    "A /added",  "A /added-link", "C /etc", "D /etc/group", "C /etc/passwd",   "C /home",
    "A /home/f", "A /sym",        "C /usr", "D /usr/sbin",  "A /usr/sbin/new",
};

static void check_changes(struct layerdiff *ld)
{
    struct layerdiff_change *v = NULL;
    size_t n = 0;
    OK(layerdiff_changes(ld, &v, &n, err));
    cleanup_free char *got = ctr_xstrdup("");
    for (size_t i = 0; i < n; i++) {
        char *s = ctr_xasprintf("%s%s%c %s", got, i ? "|" : "", "CAD"[v[i].kind], v[i].path);
        free(got);
        got = s;
    }
    cleanup_free char *want = ctr_xstrdup("");
    for (size_t i = 0; i < sizeof(expected) / sizeof(expected[0]); i++) {
        char *s = ctr_xasprintf("%s%s%s", want, i ? "|" : "", expected[i]);
        free(want);
        want = s;
    }
    assert_string_equal(got, want);
    layerdiff_changes_free(v, n);
}

static void change_list(void **state)
{
    cleanup_free char *lower = make_lower();
    cleanup_free char *rw = make_rw();
    struct layerdiff *ld = NULL;
    OK(layerdiff_open_disk(rw, "/upper", lower, &ld, err));
    check_changes(ld);
    layerdiff_free(ld);
}

/* Read a layer tar back: "type name [-> link] [xattrs]" lines. */
static char *list_tar(int fd)
{
    struct archive *a = archive_read_new();
    struct archive_entry *e;
    char *out = ctr_xstrdup("");
    archive_read_support_format_tar(a);
    assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
    assert_int_equal(archive_read_open_fd(a, fd, 4096), ARCHIVE_OK);
    while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
        char t = archive_entry_hardlink(e)               ? 'h'
                 : archive_entry_filetype(e) == AE_IFDIR ? 'd'
                 : archive_entry_filetype(e) == AE_IFLNK ? 'l'
                 : archive_entry_filetype(e) == AE_IFREG ? '-'
                                                         : '?';
        const char *xn = NULL;
        const void *xv;
        size_t xl;
        cleanup_free char *xs = ctr_xstrdup("");
        archive_entry_xattr_reset(e);
        while (archive_entry_xattr_next(e, &xn, &xv, &xl) == ARCHIVE_OK) {
            cleanup_free char *word = ctr_xasprintf(" %s", xn);
            if (strstr(xs, word)) /* pax carries it twice (SCHILY and LIBARCHIVE) */
                continue;
            char *s = ctr_xasprintf("%s %s", xs, xn);
            free(xs);
            xs = s;
        }
        const char *link =
            archive_entry_hardlink(e) ? archive_entry_hardlink(e) : archive_entry_symlink(e);
        char *s = ctr_xasprintf("%s%s%c %s%s%s%s\n", out, "", t, archive_entry_pathname(e),
                                link ? " -> " : "", link ? link : "", xs);
        free(out);
        out = s;
    }
    archive_read_free(a);
    return out;
}

static const char *const expected_tar = "- added user.note\n"
                                        "h added-link -> added\n"
                                        "d etc/\n"
                                        "- etc/.wh.group\n"
                                        "- etc/passwd\n"
                                        "d home/\n"
                                        "- home/f\n"
                                        "l sym -> /added\n"
                                        "d usr/\n"
                                        "d usr/sbin/\n"
                                        "- usr/sbin/.wh..wh..opq\n"
                                        "- usr/sbin/new\n";

static void layer_tar(void **state)
{
    cleanup_free char *lower = make_lower();
    cleanup_free char *rw = make_rw();
    struct layerdiff *ld = NULL;
    cleanup_free char *path = ctr_xasprintf("%s/layer.tar", tmpdir);
    int fd = open(path, O_CREAT | O_RDWR | O_TRUNC, 0600);
    cleanup_free char *diff_id = NULL;
    int64_t size = 0;
    assert_true(fd >= 0);
    OK(layerdiff_open_disk(rw, "/upper", lower, &ld, err));
    OK(layerdiff_write_tar(ld, fd, &diff_id, &size, err));
    layerdiff_free(ld);
    cleanup_free char *list = list_tar(fd);
    assert_string_equal(list, expected_tar);
    assert_int_equal(lseek(fd, 0, SEEK_END), size);
    assert_int_equal(strncmp(diff_id, "sha256:", 7), 0);
    /* the data came from the disk */
    cleanup_free char *cmd =
        ctr_xasprintf("tar -xOf %s etc/passwd | grep -qx extra && tar -xOf %s added | "
                      "grep -qx hi",
                      path, path);
    assert_int_equal(system(cmd), 0);
    close(fd);
}

/* The running form: vminitd's tar of the upper directory gives the same changes. */
static void from_tar(void **state)
{
    cleanup_free char *lower = make_lower();
    cleanup_free char *path = ctr_xasprintf("%s/upper.tar", tmpdir);
    struct archive *a = archive_write_new();
    archive_write_set_format_pax_restricted(a);
    assert_int_equal(archive_write_open_filename(a, path), ARCHIVE_OK);
    struct {
        const char *name;
        unsigned type, mode;
        const char *data, *link, *xattr;
        int64_t mtime;
    } ents[] = {
        {"added", AE_IFREG, 0644, "hi\n", NULL, NULL, 5},
        {"added-link", AE_IFREG, 0644, NULL, "added", NULL, 5},
        {"etc", AE_IFDIR, 0755, NULL, NULL, NULL, 9},
        {"etc/group", AE_IFCHR, 0, NULL, NULL, NULL, 5},
        {"etc/hosts", AE_IFREG, 0644, "x", NULL, NULL, 5},
        {"etc/passwd", AE_IFREG, 0644, "root\nextra\n", NULL, NULL, 5},
        {"home", AE_IFDIR, 0755, NULL, NULL, NULL, 7},
        {"home/f", AE_IFREG, 0644, "x", NULL, NULL, 5},
        {"sym", AE_IFLNK, 0777, NULL, NULL, NULL, 5},
        {"usr", AE_IFDIR, 0755, NULL, NULL, NULL, 9},
        {"usr/sbin", AE_IFDIR, 0755, NULL, NULL, "trusted.overlay.opaque", 9},
        {"usr/sbin/new", AE_IFREG, 0644, "n\n", NULL, NULL, 5},
    };
    /* written out of order, as a walk of an unsorted directory would */
    for (size_t k = sizeof(ents) / sizeof(ents[0]); k-- > 0;) {
        struct archive_entry *e = archive_entry_new();
        archive_entry_set_pathname(e, ents[k].name);
        archive_entry_set_filetype(e, ents[k].type);
        archive_entry_set_perm(e, ents[k].mode);
        archive_entry_set_mtime(e, ents[k].mtime, 0);
        if (ents[k].link)
            archive_entry_set_hardlink(e, ents[k].link);
        if (ents[k].type == AE_IFLNK)
            archive_entry_set_symlink(e, "/added");
        if (ents[k].xattr)
            archive_entry_xattr_add_entry(e, ents[k].xattr, "y", 1);
        size_t len = ents[k].data ? strlen(ents[k].data) : 0;
        archive_entry_set_size(e, (la_int64_t)len);
        assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
        if (len)
            assert_int_equal(archive_write_data(a, ents[k].data, len), (la_ssize_t)len);
        archive_entry_free(e);
    }
    archive_write_free(a);

    int fd = open(path, O_RDONLY);
    struct layerdiff *ld = NULL;
    OK(layerdiff_open_tar(fd, tmpdir, lower, &ld, err));
    close(fd);
    check_changes(ld);
    cleanup_free char *out = ctr_xasprintf("%s/layer2.tar", tmpdir);
    int ofd = open(out, O_CREAT | O_RDWR | O_TRUNC, 0600);
    cleanup_free char *diff_id = NULL;
    int64_t size;
    OK(layerdiff_write_tar(ld, ofd, &diff_id, &size, err));
    layerdiff_free(ld);
    cleanup_free char *list = list_tar(ofd);
    /* the same layer, but for the xattr of /added this tar did not carry */
    char *want = ctr_xstrdup(expected_tar);
    char *p = strstr(want, " user.note");
    memmove(p, p + strlen(" user.note"), strlen(p + strlen(" user.note")) + 1);
    assert_string_equal(list, want);
    free(want);
    close(ofd);
}

/* A disk never mounted (a created container) has no changes; hostile tar paths fail. */
static void edges(void **state)
{
    cleanup_free char *p = ctr_xasprintf("%s/empty.ext4", tmpdir);
    struct ext4w_opts o = {.size_bytes = 64 << 20, .journal = true}; /* as a rw disk */
    ext4w_t *w = NULL;
    OK(ext4w_create(p, &o, &w, err));
    OK(ext4w_close(w, err));
    struct layerdiff *ld = NULL;
    struct layerdiff_change *v = NULL;
    size_t n = 1;
    OK(layerdiff_open_disk(p, "/upper", NULL, &ld, err));
    OK(layerdiff_changes(ld, &v, &n, err));
    assert_int_equal(n, 0);
    layerdiff_changes_free(v, n);
    layerdiff_free(ld);

    /* a disk whose journal needs recovery (its VM was killed) is not read torn */
    ext2_filsys fs = NULL;
    assert_int_equal(
        ext2fs_open2(p, NULL, EXT2_FLAG_RW | EXT2_FLAG_64BITS, 0, 0, unix_io_manager, &fs), 0);
    ext2fs_set_feature_journal_needs_recovery(fs->super);
    ext2fs_mark_super_dirty(fs);
    assert_int_equal(ext2fs_close_free(&fs), 0);
    ctr_error_t rerr = NULL;
    assert_int_equal(layerdiff_open_disk(p, "/upper", NULL, &ld, &rerr), -1);
    assert_int_equal(rerr->errnum, EUCLEAN);
    assert_non_null(strstr(rerr->msg, "not cleanly unmounted"));
    ctr_error_free(&rerr);

    cleanup_free char *t = ctr_xasprintf("%s/evil.tar", tmpdir);
    struct archive *a = archive_write_new();
    archive_write_set_format_pax_restricted(a);
    assert_int_equal(archive_write_open_filename(a, t), ARCHIVE_OK);
    struct archive_entry *e = archive_entry_new();
    archive_entry_set_pathname(e, "../../etc/shadow");
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_size(e, 0);
    archive_write_header(a, e);
    archive_entry_free(e);
    archive_write_free(a);
    int fd = open(t, O_RDONLY);
    ctr_error_t err = NULL;
    assert_int_equal(layerdiff_open_tar(fd, tmpdir, NULL, &ld, &err), -1);
    assert_non_null(strstr(err->msg, "outside"));
    ctr_error_free(&err);
    close(fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(change_list, setup, teardown),
        cmocka_unit_test_setup_teardown(layer_tar, setup, teardown),
        cmocka_unit_test_setup_teardown(from_tar, setup, teardown),
        cmocka_unit_test_setup_teardown(edges, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
