/* vminitd's archive_* work (src/guest/archive.c) on the host: docker's path
 * resolution and stat, the tar worker's layout (get) and extraction rules (put),
 * with hostile tars. In the guest everything runs chrooted in the container
 * root; here the paths are absolute host paths under a temp dir. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "guest/guest-internal.h"

static char tmp[] = "/tmp/test-guest-archive.XXXXXX";

static char *P(const char *rel)
{
    return ctr_xasprintf("%s/%s", tmp, rel);
}

static void write_file(const char *rel, const char *data, mode_t mode)
{
    cleanup_free char *p = P(rel);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, mode);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, strlen(data)), (ssize_t)strlen(data));
    fchmod(fd, mode);
    close(fd);
}

static int setup(void **state)
{
    assert_non_null(mkdtemp(tmp));
    cleanup_free char *d = P("d"), *sub = P("d/sub"), *dst = P("dst"), *lnk = P("d/link"),
                      *hard = P("d/hard"), *file = P("d/file");
    assert_int_equal(mkdir(d, 0755), 0);
    assert_int_equal(mkdir(sub, 0700), 0);
    assert_int_equal(mkdir(dst, 0755), 0);
    write_file("d/file", "hello\n", 0640);
    assert_int_equal(symlink("/etc", lnk), 0);
    assert_int_equal(link(file, hard), 0);
    return 0;
}

static int teardown(void **state)
{
    ctr_rm_rf(tmp, NULL);
    return 0;
}

/* Run a worker: feed `in` (put) or collect stdout (get); returns the exit status and
 * the error text. */
static int run_worker(enum agent_op op, const char *path, bool export_all, const void *in,
                      size_t in_len, char **out, size_t *out_len, char **errtext)
{
    struct agent_archive a = {
        .process = "cp", .path = (char *)path, .stream = 1, .export_all = export_all};
    struct guest_resolved r;
    struct guest_spawned sp;
    ctr_error_t err = NULL;
    size_t cap = 0, len = 0, elen = 0;
    char *buf = NULL, ebuf[4096];
    int st;

    if (guest_archive_resolve(path, op == AGENT_OP_ARCHIVE_PUT, &r, &err) < 0)
        fail_msg("resolve %s: %s", path, err->msg);
    if (guest_archive_spawn(op, &a, &r, &sp, &err) < 0)
        fail_msg("spawn: %s", err->msg);
    guest_resolved_release(&r);
    for (int *fd = (int[]){sp.in_fd, sp.out_fd, sp.err_fd, -2}; *fd != -2; fd++)
        if (*fd >= 0)
            fcntl(*fd, F_SETFL, fcntl(*fd, F_GETFL) & ~O_NONBLOCK);
    if (sp.in_fd >= 0) {
        /* small inputs only: the pipe buffer holds them */
        if (in_len)
            (void)ctr_write_all(sp.in_fd, in, in_len); /* EPIPE when the worker gave up */
        close(sp.in_fd);
    }
    while (sp.out_fd >= 0) {
        if (len + 65536 > cap)
            buf = ctr_xrealloc(buf, cap = (len + 65536) * 2);
        ssize_t n = read(sp.out_fd, buf + len, cap - len);
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    if (sp.out_fd >= 0)
        close(sp.out_fd);
    for (ssize_t n; (n = read(sp.err_fd, ebuf + elen, sizeof(ebuf) - 1 - elen)) > 0;)
        elen += (size_t)n;
    ebuf[elen] = '\0';
    close(sp.err_fd);
    assert_int_equal(waitpid(sp.pid, &st, 0), sp.pid);
    if (out) {
        *out = buf;
        *out_len = len;
    } else {
        free(buf);
    }
    *errtext = ctr_xstrdup(ebuf);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* "name type size [target]" per entry, newline separated. */
static char *list_tar(const char *data, size_t len)
{
    struct archive *a = archive_read_new();
    struct archive_entry *e;
    char *out = ctr_xstrdup("");

    archive_read_support_format_tar(a);
    assert_int_equal(archive_read_open_memory(a, data, len), ARCHIVE_OK);
    while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
        const char *hl = archive_entry_hardlink(e), *sl = archive_entry_symlink(e);
        char *line = ctr_xasprintf("%s%s %s %lld%s%s\n", out, archive_entry_pathname(e),
                                   hl                                      ? "hardlink"
                                   : archive_entry_filetype(e) == AE_IFDIR ? "dir"
                                   : archive_entry_filetype(e) == AE_IFLNK ? "symlink"
                                                                           : "file",
                                   (long long)archive_entry_size(e), hl || sl ? " -> " : "",
                                   hl   ? hl
                                   : sl ? sl
                                        : "");
        free(out);
        out = line;
    }
    archive_read_free(a);
    return out;
}

static void test_filemode_time(void **state)
{
    struct timespec t0 = {0, 0}, t1 = {1, 500000000}, t2 = {981173106, 123};
    cleanup_free char *a = guest_rfc3339(&t0), *b = guest_rfc3339(&t1), *c = guest_rfc3339(&t2);

    assert_int_equal(guest_go_filemode(S_IFREG | 0644), 0644);
    assert_int_equal(guest_go_filemode(S_IFDIR | 0755), (1u << 31) | 0755);
    assert_int_equal(guest_go_filemode(S_IFLNK | 0777), (1u << 27) | 0777);
    assert_int_equal(guest_go_filemode(S_IFCHR | 0666), (1u << 26) | (1u << 21) | 0666);
    assert_int_equal(guest_go_filemode(S_IFBLK | 0660), (1u << 26) | 0660);
    assert_int_equal(guest_go_filemode(S_IFIFO | 0600), (1u << 25) | 0600);
    assert_int_equal(guest_go_filemode(S_IFSOCK | 0755), (1u << 24) | 0755);
    assert_int_equal(guest_go_filemode(S_IFREG | S_ISUID | S_ISGID | 0755),
                     (1u << 23) | (1u << 22) | 0755);
    assert_int_equal(guest_go_filemode(S_IFDIR | S_ISVTX | 0777), (1u << 31) | (1u << 20) | 0777);
    assert_string_equal(a, "1970-01-01T00:00:00Z");
    assert_string_equal(b, "1970-01-01T00:00:01.5Z");
    assert_string_equal(c, "2001-02-03T04:05:06.000000123Z");
}

static void test_resolve_stat(void **state)
{
    cleanup_free char *d = P("d"), *ddot = P("d/."), *dslash = P("d/sub/"), *link = P("d/link"),
                      *linkslash = P("d/link/"), *missing = P("d/missing"), *notdir = P("d/file/x"),
                      *dotdot = P("d/sub/../file");
    struct guest_resolved r;
    struct agent_path_stat st;
    ctr_error_t err = NULL;

    assert_int_equal(guest_archive_resolve(d, false, &r, &err), 0);
    assert_string_equal(r.name, "d");
    assert_false(r.contents);
    assert_true(S_ISDIR(r.st.st_mode));
    guest_resolved_release(&r);

    assert_int_equal(guest_archive_resolve(ddot, false, &r, &err), 0);
    assert_string_equal(r.name, ".");
    assert_true(r.contents);
    guest_resolved_release(&r);

    assert_int_equal(guest_archive_resolve(dslash, false, &r, &err), 0);
    assert_string_equal(r.name, "sub");
    guest_resolved_release(&r);

    /* the last component is not followed, unless the path ends in "/" */
    assert_int_equal(guest_archive_resolve(link, false, &r, &err), 0);
    assert_true(S_ISLNK(r.st.st_mode));
    guest_resolved_release(&r);
    assert_int_equal(guest_archive_resolve(linkslash, false, &r, &err), 0);
    assert_true(S_ISDIR(r.st.st_mode));
    assert_string_equal(r.path, "/etc");
    assert_string_equal(r.name, "link");
    guest_resolved_release(&r);
    assert_int_equal(guest_archive_resolve(link, true, &r, &err), 0);
    assert_string_equal(r.path, "/etc");
    guest_resolved_release(&r);

    /* ".." is lexical, as Go's filepath.Clean */
    assert_int_equal(guest_archive_resolve(dotdot, false, &r, &err), 0);
    assert_string_equal(r.name, "file");
    assert_true(S_ISREG(r.st.st_mode));
    guest_resolved_release(&r);
    assert_int_equal(guest_archive_resolve("/", false, &r, &err), 0);
    assert_true(r.contents);
    assert_string_equal(r.path, "/");
    guest_resolved_release(&r);

    assert_int_equal(guest_archive_resolve(missing, false, &r, &err), -1);
    assert_int_equal(err->errnum, ENOENT);
    assert_non_null(strstr(err->msg, "no such file or directory: "));
    assert_null(strstr(err->msg, "No such file")); /* no strerror tail */
    ctr_error_free(&err);
    assert_int_equal(guest_archive_resolve(notdir, false, &r, &err), -1);
    assert_int_equal(err->errnum, ENOTDIR);
    ctr_error_free(&err);
    assert_int_equal(guest_archive_resolve("rel/path", false, &r, &err), -1);
    assert_int_equal(err->errnum, EINVAL);
    ctr_error_free(&err);

    assert_int_equal(guest_archive_stat(link, &st, &err), 0);
    assert_string_equal(st.name, "link");
    assert_int_equal(st.mode, (1u << 27) | 0777);
    assert_string_equal(st.link_target, "/etc");
    agent_path_stat_release(&st);
    cleanup_free char *file = P("d/file");
    assert_int_equal(guest_archive_stat(file, &st, &err), 0);
    assert_int_equal(st.size, 6);
    assert_int_equal(st.mode, 0640);
    assert_null(st.link_target);
    agent_path_stat_release(&st);
}

static void test_get_layout(void **state)
{
    cleanup_free char *d = P("d"), *ddot = P("d/."), *file = P("d/file");
    cleanup_free char *tar = NULL, *errtext = NULL, *list = NULL;
    size_t len;

    assert_int_equal(run_worker(AGENT_OP_ARCHIVE_GET, d, false, NULL, 0, &tar, &len, &errtext), 0);
    list = list_tar(tar, len);
    assert_non_null(strstr(list, "d/ dir 0\n"));
    assert_non_null(strstr(list, "d/sub/ dir 0\n"));
    assert_non_null(strstr(list, "d/link symlink 0 -> /etc\n"));
    /* one of file/hard carries the data, the other is a link to it */
    assert_true(strstr(list, "d/file file 6\n") || strstr(list, "d/hard file 6\n"));
    assert_true(strstr(list, "d/hard hardlink 0 -> d/file\n") ||
                strstr(list, "d/file hardlink 0 -> d/hard\n"));
    free(tar), free(errtext), free(list), tar = errtext = list = NULL;

    assert_int_equal(run_worker(AGENT_OP_ARCHIVE_GET, ddot, false, NULL, 0, &tar, &len, &errtext),
                     0);
    list = list_tar(tar, len);
    assert_non_null(strstr(list, "./ dir 0\n"));
    assert_non_null(strstr(list, "./sub/ dir 0\n"));
    assert_null(strstr(list, "d/"));
    free(tar), free(errtext), free(list), tar = errtext = list = NULL;

    assert_int_equal(run_worker(AGENT_OP_ARCHIVE_GET, file, false, NULL, 0, &tar, &len, &errtext),
                     0);
    list = list_tar(tar, len);
    assert_string_equal(list, "file file 6\n");
}

/* A tar built in memory: name type(f/l/h/d) target-or-content mode uid */
struct ent {
    const char *name;
    char type;
    const char *data;
    mode_t mode;
};

static char *make_tar(const struct ent *ents, size_t n, size_t *len)
{
    struct archive *a = archive_write_new();
    size_t cap = 1 << 20;
    char *buf = ctr_xmalloc(cap);

    archive_write_set_format_pax_restricted(a);
    archive_write_set_bytes_in_last_block(a, 1);
    assert_int_equal(archive_write_open_memory(a, buf, cap, len), ARCHIVE_OK);
    for (size_t i = 0; i < n; i++) {
        struct archive_entry *e = archive_entry_new();
        archive_entry_set_pathname(e, ents[i].name);
        archive_entry_set_perm(e, ents[i].mode);
        archive_entry_set_uid(e, 1234);
        archive_entry_set_gid(e, 5678);
        archive_entry_set_mtime(e, 981173106, 0);
        if (ents[i].type == 'l') {
            archive_entry_set_filetype(e, AE_IFLNK);
            archive_entry_set_symlink(e, ents[i].data);
        } else if (ents[i].type == 'h') {
            archive_entry_set_filetype(e, AE_IFREG);
            archive_entry_set_hardlink(e, ents[i].data);
        } else if (ents[i].type == 'd') {
            archive_entry_set_filetype(e, AE_IFDIR);
        } else {
            archive_entry_set_filetype(e, AE_IFREG);
            archive_entry_set_size(e, (la_int64_t)strlen(ents[i].data));
        }
        assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
        if (ents[i].type == 'f')
            archive_write_data(a, ents[i].data, strlen(ents[i].data));
        archive_entry_free(e);
    }
    archive_write_close(a);
    archive_write_free(a);
    return buf;
}

static void test_put(void **state)
{
    static const struct ent good[] = {
        {"./", 'd', NULL, 0755},           {"tree/", 'd', NULL, 0750},
        {"tree/f", 'f', "data\n", 0604},   {"tree/etc", 'l', "/etc", 0777},
        {"tree/h", 'h', "tree/f", 0604},   {"/abs", 'f', "abs\n", 0600},
        {"tree/etc2", 'l', "../..", 0777},
    };
    cleanup_free char *dst = P("dst"), *f = P("dst/tree/f"), *l = P("dst/tree/etc"),
                      *h = P("dst/tree/h"), *abs = P("dst/abs"), *tree = P("dst/tree");
    cleanup_free char *tar = NULL, *errtext = NULL;
    char target[64] = "";
    struct stat st, sth;
    size_t len;

    tar = make_tar(good, sizeof(good) / sizeof(good[0]), &len);
    assert_int_equal(run_worker(AGENT_OP_ARCHIVE_PUT, dst, false, tar, len, NULL, NULL, &errtext),
                     0);
    assert_int_equal(lstat(f, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0604);
    assert_int_equal(st.st_mtime, 981173106);
    if (geteuid() == 0) {
        assert_int_equal(st.st_uid, 1234);
        assert_int_equal(st.st_gid, 5678);
    }
    assert_int_equal(lstat(h, &sth), 0);
    assert_int_equal(sth.st_ino, st.st_ino);
    assert_int_equal(readlink(l, target, sizeof(target) - 1), 4);
    assert_string_equal(target, "/etc");
    assert_int_equal(lstat(abs, &st), 0); /* "/abs" landed under the destination */
    assert_int_equal(lstat(tree, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0750); /* directory modes applied at the end */
    assert_int_equal(access("/abs", F_OK), -1);
    free(tar), free(errtext), tar = errtext = NULL;

    /* ".." entries are refused and nothing lands outside */
    static const struct ent evil[] = {{"../escaped", 'f', "x", 0644}};
    tar = make_tar(evil, 1, &len);
    assert_int_equal(run_worker(AGENT_OP_ARCHIVE_PUT, dst, false, tar, len, NULL, NULL, &errtext),
                     1);
    assert_non_null(strstr(errtext, "../escaped"));
    cleanup_free char *esc = P("escaped");
    assert_int_equal(access(esc, F_OK), -1);
    free(tar), free(errtext), tar = errtext = NULL;

    static const struct ent evil2[] = {{"a/../../escaped2", 'f', "x", 0644}};
    tar = make_tar(evil2, 1, &len);
    assert_int_equal(run_worker(AGENT_OP_ARCHIVE_PUT, dst, false, tar, len, NULL, NULL, &errtext),
                     1);
    cleanup_free char *esc2 = P("escaped2");
    assert_int_equal(access(esc2, F_OK), -1);
    free(tar), free(errtext), tar = errtext = NULL;

    /* a hard link to a path outside is refused too */
    static const struct ent evil3[] = {{"hl", 'h', "../../etc/passwd", 0644}};
    tar = make_tar(evil3, 1, &len);
    assert_int_equal(run_worker(AGENT_OP_ARCHIVE_PUT, dst, false, tar, len, NULL, NULL, &errtext),
                     1);
    free(tar), free(errtext), tar = errtext = NULL;

    /* garbage is a clean failure with a message */
    assert_int_equal(
        run_worker(AGENT_OP_ARCHIVE_PUT, dst, false, "not a tar at all", 16, NULL, NULL, &errtext),
        1);
    assert_non_null(strstr(errtext, "read tar"));
}

/* A tar cut in the middle of a file (issue 11, defect 4): the worker fails, the files
 * before the cut are there, the cut one is not left behind half written. */
static void test_put_truncated(void **state)
{
    cleanup_free char *big = ctr_xmalloc(40001);
    memset(big, 'x', 40000);
    big[40000] = '\0';
    const struct ent ents[] = {{"whole", 'f', "complete\n", 0644}, {"cut", 'f', big, 0644}};
    cleanup_free char *dst = P("dst"), *whole = P("dst/whole"), *cut = P("dst/cut");
    cleanup_free char *tar = NULL, *errtext = NULL;
    size_t len;
    struct stat st;

    tar = make_tar(ents, 2, &len);
    assert_true(len > 20000);
    /* headers of both, 20000 bytes of the second's 40000 */
    size_t cut_at = 0;
    for (size_t off = 512; off + 512 <= len; off += 512)
        if (memcmp(tar + off, "xxxxxxxx", 8) == 0) {
            cut_at = off + 20000;
            break;
        }
    assert_true(cut_at > 0);
    assert_int_equal(
        run_worker(AGENT_OP_ARCHIVE_PUT, dst, false, tar, cut_at, NULL, NULL, &errtext), 1);
    assert_non_null(strstr(errtext, "read tar"));
    assert_int_equal(stat(whole, &st), 0);
    assert_int_equal(st.st_size, 9);
    assert_int_equal(lstat(cut, &st), -1); /* not 40000 bytes of which half are zeros */
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_filemode_time), cmocka_unit_test(test_resolve_stat),
        cmocka_unit_test(test_get_layout),    cmocka_unit_test(test_put),
        cmocka_unit_test(test_put_truncated),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
