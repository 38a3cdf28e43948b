/* The build context (build.h, docs/build.md "The build context"): a directory walked
 * without ever leaving it, or a tar stream spooled to a temp file, indexed after
 * .dockerignore. */
#include "build/build-internal.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#define MAX_IGNORE (1 << 20)

static struct df_ctx *ctx_new(void)
{
    struct df_ctx *c = ctr_xcalloc(1, sizeof(*c));
    c->dir_fd = c->spool_fd = -1;
    return c;
}

void df_ctx_free(struct df_ctx *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < c->n; i++) {
        free(c->v[i].path);
        free(c->v[i].link);
    }
    free(c->v);
    if (c->dir_fd >= 0)
        close(c->dir_fd);
    if (c->spool_fd >= 0)
        close(c->spool_fd);
    free(c);
}

static struct df_ctx_entry *push(struct df_ctx *c)
{
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 64;
        c->v = ctr_xrealloc(c->v, c->cap * sizeof(*c->v));
    }
    struct df_ctx_entry *e = &c->v[c->n++];
    memset(e, 0, sizeof(*e));
    e->spool_off = -1;
    return e;
}

static enum df_ctx_type type_of(mode_t m)
{
    return S_ISREG(m)   ? DF_CTX_REG
           : S_ISDIR(m) ? DF_CTX_DIR
           : S_ISLNK(m) ? DF_CTX_SYMLINK
                        : DF_CTX_OTHER;
}

static int cmp_entry(const void *a, const void *b)
{
    return strcmp(((const struct df_ctx_entry *)a)->path, ((const struct df_ctx_entry *)b)->path);
}

const struct df_ctx_entry *df_ctx_find(const struct df_ctx *c, const char *path)
{
    struct df_ctx_entry key = {.path = (char *)path};
    return c->n ? bsearch(&key, c->v, c->n, sizeof(*c->v), cmp_entry) : NULL;
}

/* A relative path opened below dir_fd, no component followed if a symlink. O_NONBLOCK
 * so that a FIFO never blocks; the caller checks the type. */
static int open_beneath(int dir_fd, const char *path, int flags)
{
    cleanup_free char *p = ctr_xstrdup(path);
    int fd = dup(dir_fd);
    char *save = NULL;
    for (char *s = strtok_r(p, "/", &save); fd >= 0 && s; s = strtok_r(NULL, "/", &save)) {
        bool last = save == NULL || *save == '\0';
        int f = last ? flags | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC
                     : O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
        int n = strcmp(s, "..") == 0 ? (errno = EPERM, -1) : openat(fd, s, f);
        int e = errno;
        close(fd);
        errno = e;
        fd = n;
    }
    return fd;
}

/* Sort and add the missing parents. */
static void finish_index(struct df_ctx *c)
{
    if (c->n > 1)
        qsort(c->v, c->n, sizeof(*c->v), cmp_entry);
    size_t n0 = c->n;
    for (size_t i = 0; i < n0; i++) {
        cleanup_free char *p = ctr_xstrdup(c->v[i].path);
        for (char *s = strrchr(p, '/'); s; s = strrchr(p, '/')) {
            *s = '\0';
            struct df_ctx_entry key = {.path = p};
            bool have = bsearch(&key, c->v, n0, sizeof(*c->v), cmp_entry) != NULL;
            for (size_t j = n0; j < c->n && !have; j++)
                have = strcmp(c->v[j].path, p) == 0;
            if (have)
                break; /* its own parents were seen to already */
            struct df_ctx_entry *e = push(c);
            e->path = ctr_xstrdup(p);
            e->type = DF_CTX_DIR;
            e->mode = S_IFDIR | 0755;
        }
    }
    if (c->n > n0)
        qsort(c->v, c->n, sizeof(*c->v), cmp_entry);
}

static bool kept(const struct df_ignore *ig, const char *path, const char *dockerfile,
                 const char *ignore_file)
{
    return strcmp(path, dockerfile) == 0 || (ignore_file && strcmp(path, ignore_file) == 0) ||
           !df_ignore_match(ig, path);
}

static void apply_ignore(struct df_ctx *c, const struct df_ignore *ig, const char *dockerfile,
                         const char *ignore_file)
{
    size_t w = 0;
    for (size_t i = 0; i < c->n; i++) {
        if (kept(ig, c->v[i].path, dockerfile, ignore_file)) {
            c->v[w++] = c->v[i];
        } else {
            free(c->v[i].path);
            free(c->v[i].link);
        }
    }
    c->n = w;
    for (size_t i = 0; i < c->n; i++)
        c->v[i].hidden =
            !strcmp(c->v[i].path, dockerfile) || (ignore_file && !strcmp(c->v[i].path, ignore_file))
                ? df_ignore_match(ig, c->v[i].path)
                : false;
}

/* ---- the directory source ---- */

static int walk_dir(struct df_ctx *c, int dfd, const char *rel, const struct df_ignore *ig,
                    bool prune, const char *dockerfile, const char *ignore_file, int depth,
                    ctr_error_t *err)
{
    if (depth > 256)
        return ctr_fail(err, ELOOP, "build context: `%s` is nested too deep", rel);
    int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (d == NULL) {
        if (fd >= 0)
            close(fd);
        return ctr_fail(err, errno, "build context: read `%s`", *rel ? rel : ".");
    }
    struct dirent *de;
    int rc = 0;
    while (rc == 0 && (errno = 0, de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        cleanup_free char *p =
            *rel ? ctr_xasprintf("%s/%s", rel, de->d_name) : ctr_xstrdup(de->d_name);
        struct stat st;
        if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
            rc = ctr_fail(err, errno, "build context: stat `%s`", p);
            break;
        }
        if (S_ISSOCK(st.st_mode))
            continue; /* as Docker's archive: a tar cannot hold one */
        bool excluded = !kept(ig, p, dockerfile, ignore_file);
        if (excluded && (prune || !S_ISDIR(st.st_mode)))
            continue;
        struct df_ctx_entry *e = push(c);
        e->path = ctr_xstrdup(p);
        e->type = type_of(st.st_mode);
        e->mode = st.st_mode;
        e->uid = st.st_uid;
        e->gid = st.st_gid;
        e->size = S_ISREG(st.st_mode) ? (uint64_t)st.st_size : 0;
        e->mtime_sec = st.st_mtim.tv_sec;
        e->mtime_nsec = st.st_mtim.tv_nsec;
        e->rdev_major = major(st.st_rdev);
        e->rdev_minor = minor(st.st_rdev);
        if (S_ISREG(st.st_mode) && st.st_nlink > 1)
            e->link_id = ((uint64_t)st.st_dev << 40) ^ (uint64_t)st.st_ino ^ 1ULL << 63;
        if (S_ISLNK(st.st_mode)) {
            char buf[4096];
            ssize_t l = readlinkat(dirfd(d), de->d_name, buf, sizeof(buf) - 1);
            if (l < 0) {
                rc = ctr_fail(err, errno, "build context: read link `%s`", p);
                break;
            }
            e->link = ctr_xstrndup(buf, (size_t)l);
        }
        if (S_ISDIR(st.st_mode)) {
            int sub = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (sub < 0) {
                rc = ctr_fail(err, errno, "build context: open `%s`", p);
                break;
            }
            rc = walk_dir(c, sub, p, ig, prune, dockerfile, ignore_file, depth + 1, err);
            close(sub);
        }
    }
    if (rc == 0 && errno != 0)
        rc = ctr_fail(err, errno, "build context: read `%s`", *rel ? rel : ".");
    closedir(d);
    return rc;
}

/* The ignore file's name: `<dockerfile>.dockerignore` when exists(), else .dockerignore. */
static char *ignore_name(const char *dockerfile, bool (*exists)(void *, const char *), void *arg)
{
    cleanup_free char *own = ctr_xasprintf("%s.dockerignore", dockerfile);
    if (exists(arg, own))
        return ctr_steal_ptr(own);
    return exists(arg, ".dockerignore") ? ctr_xstrdup(".dockerignore") : NULL;
}

static bool dir_has(void *arg, const char *path)
{
    int fd = open_beneath(*(int *)arg, path, O_RDONLY);
    struct stat st;
    bool ok = fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
    if (fd >= 0)
        close(fd);
    return ok;
}

static int read_ignore_dir(int dir_fd, const char *name, struct df_ignore *ig, ctr_error_t *err)
{
    int fd = open_beneath(dir_fd, name, O_RDONLY);
    if (fd < 0)
        return ctr_fail(err, errno, "build context: open `%s`", name);
    cleanup_free char *buf = ctr_xmalloc(MAX_IGNORE + 1);
    ssize_t l = ctr_read_all(fd, buf, MAX_IGNORE);
    close(fd);
    if (l < 0)
        return ctr_fail(err, errno, "build context: read `%s`", name);
    buf[l] = '\0';
    df_ignore_parse(buf, ig);
    return 0;
}

int df_ctx_from_dir(const char *dir, const char *dockerfile, struct df_ctx **out, ctr_error_t *err)
{
    struct df_ctx *c = ctx_new();
    cleanup_df_ignore struct df_ignore ig = {0};
    cleanup_free char *df = df_clean_path(dockerfile ? dockerfile : "Dockerfile");
    cleanup_free char *ign = NULL;

    c->dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (c->dir_fd < 0) {
        ctr_fail(err, errno, "build context `%s`", dir);
        goto fail;
    }
    ign = ignore_name(df, dir_has, &c->dir_fd);
    if (ign && read_ignore_dir(c->dir_fd, ign, &ig, err) < 0)
        goto fail;
    if (walk_dir(c, c->dir_fd, "", &ig, !df_ignore_has_exceptions(&ig), df, ign, 0, err) < 0)
        goto fail;
    /* an excluded directory walked for its exceptions goes (finish_index adds it back as
     * a plain parent when a child is kept) */
    apply_ignore(c, &ig, df, ign);
    finish_index(c);
    *out = c;
    return 0;
fail:
    df_ctx_free(c);
    return -1;
}

/* ---- the stream source ---- */

static int spool(struct df_ctx *c, struct archive *a, struct df_ctx_entry *e, ctr_error_t *err)
{
    char buf[65536];
    la_ssize_t got;
    uint64_t total = 0;
    e->spool_off = lseek(c->spool_fd, 0, SEEK_END);
    while ((got = archive_read_data(a, buf, sizeof(buf))) > 0) {
        if (ctr_write_all(c->spool_fd, buf, (size_t)got) < 0)
            return ctr_fail(err, errno, "build context: spool");
        total += (uint64_t)got;
    }
    if (got < 0)
        return ctr_fail_class(err, EIO, "build context: %s", archive_error_string(a));
    e->size = total;
    return 0;
}

static bool spool_has(void *arg, const char *path)
{
    const struct df_ctx_entry *e = df_ctx_find(arg, path);
    return e && e->type == DF_CTX_REG;
}

static int collect(void *arg, const void *buf, size_t len, ctr_error_t *err)
{
    char **s = arg;
    size_t have = strlen(*s);
    if (have + len > MAX_IGNORE)
        return ctr_fail(err, EFBIG, "build context: the .dockerignore is too large");
    *s = ctr_xrealloc(*s, have + len + 1);
    memcpy(*s + have, buf, len);
    (*s)[have + len] = '\0';
    return 0;
}

/* "./a//b/" → "a/b"; "." → "" (the root); never above the root. */
static char *rel_clean(const char *name)
{
    cleanup_free char *r = ctr_xasprintf("/%s", name);
    char *p = df_clean_path(r);
    memmove(p, p + 1, strlen(p));
    return p;
}

static int read_stream(struct df_ctx *c, struct archive *a, const char *df, ctr_error_t *err)
{
    struct archive_entry *ae;
    int r;
    while ((r = archive_read_next_header(a, &ae)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
        if (archive_format(a) == ARCHIVE_FORMAT_RAW) {
            /* not a tar: the stream is the Dockerfile */
            struct df_ctx_entry *e = push(c);
            e->path = ctr_xstrdup(df);
            e->type = DF_CTX_REG;
            e->mode = S_IFREG | 0644;
            if (spool(c, a, e, err) < 0)
                return -1;
            continue;
        }
        char *p = rel_clean(archive_entry_pathname(ae));
        if (*p == '\0') {
            free(p);
            continue;
        }
        struct df_ctx_entry *e = push(c);
        e->path = p;
        e->mode = archive_entry_mode(ae);
        e->type = type_of(e->mode);
        e->uid = (uint32_t)archive_entry_uid(ae);
        e->gid = (uint32_t)archive_entry_gid(ae);
        e->mtime_sec = archive_entry_mtime(ae);
        e->mtime_nsec = archive_entry_mtime_nsec(ae);
        e->rdev_major = archive_entry_rdevmajor(ae);
        e->rdev_minor = archive_entry_rdevminor(ae);
        if (archive_entry_symlink(ae))
            e->link = ctr_xstrdup(archive_entry_symlink(ae));
        if (archive_entry_hardlink(ae)) {
            cleanup_free char *t = rel_clean(archive_entry_hardlink(ae));
            const struct df_ctx_entry *to = NULL;
            for (size_t i = c->n - 1; i-- > 0 && !to;)
                if (strcmp(c->v[i].path, t) == 0)
                    to = &c->v[i];
            if (to == NULL || to->type != DF_CTX_REG)
                return ctr_fail_class(err, EPROTO, "build context: bad hard link `%s` to `%s`",
                                      e->path, t);
            e->type = DF_CTX_REG;
            e->mode = (e->mode & ~(uint32_t)S_IFMT) | S_IFREG;
            e->spool_off = to->spool_off;
            if (to->link_id == 0)
                ((struct df_ctx_entry *)to)->link_id = (uint64_t)to->spool_off + 1;
            e->link_id = to->link_id;
            e->size = to->size;
        } else if (e->type == DF_CTX_REG && spool(c, a, e, err) < 0) {
            return -1;
        }
    }
    if (r != ARCHIVE_EOF && c->n == 0 && archive_filter_bytes(a, -1) == 0)
        return ctr_fail_class(err, EINVAL, "build context: the stream is empty");
    if (r != ARCHIVE_EOF)
        return ctr_fail_class(err, EIO, "build context: %s", archive_error_string(a));
    return 0;
}

struct seq_entry {
    struct df_ctx_entry e;
    size_t seq;
};

static int cmp_seq(const void *a, const void *b)
{
    const struct seq_entry *x = a, *y = b;
    int r = strcmp(x->e.path, y->e.path);
    return r ? r : (x->seq > y->seq) - (x->seq < y->seq);
}

/* Sorted by path; a path given twice: the last one wins. */
static void sort_unique(struct df_ctx *c)
{
    struct seq_entry *v = ctr_xcalloc(c->n ? c->n : 1, sizeof(*v));
    for (size_t i = 0; i < c->n; i++)
        v[i] = (struct seq_entry){c->v[i], i};
    qsort(v, c->n, sizeof(*v), cmp_seq);
    size_t w = 0;
    for (size_t i = 0; i < c->n; i++) {
        if (i + 1 < c->n && strcmp(v[i].e.path, v[i + 1].e.path) == 0) {
            free(v[i].e.path);
            free(v[i].e.link);
            continue;
        }
        c->v[w++] = v[i].e;
    }
    c->n = w;
    free(v);
}

int df_ctx_from_stream(int fd, const char *tmp_dir, const char *dockerfile, struct df_ctx **out,
                       ctr_error_t *err)
{
    struct df_ctx *c = ctx_new();
    struct archive *a = archive_read_new();
    cleanup_df_ignore struct df_ignore ig = {0};
    cleanup_free char *df = df_clean_path(dockerfile ? dockerfile : "Dockerfile");
    cleanup_free char *ign = NULL;
    cleanup_free char *text = ctr_xstrdup("");

    archive_read_support_filter_all(a);
    archive_read_support_format_tar(a);
    archive_read_support_format_raw(a);
    c->spool_fd = open(tmp_dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (c->spool_fd < 0) {
        ctr_fail(err, errno, "build context: spool file in `%s`", tmp_dir);
        goto fail;
    }
    if (archive_read_open_fd(a, fd, 65536) != ARCHIVE_OK) {
        if (archive_filter_bytes(a, -1) == 0)
            ctr_fail_class(err, EINVAL, "build context: the stream is empty");
        else
            ctr_fail_class(err, EIO, "build context: %s", archive_error_string(a));
        goto fail;
    }
    if (read_stream(c, a, df, err) < 0)
        goto fail;
    archive_read_free(a);
    a = NULL;
    sort_unique(c);
    ign = ignore_name(df, spool_has, c);
    if (ign) {
        if (df_ctx_read(c, df_ctx_find(c, ign), collect, &text, err) < 0)
            goto fail;
        df_ignore_parse(text, &ig);
        apply_ignore(c, &ig, df, ign);
    }
    finish_index(c);
    *out = c;
    return 0;
fail:
    if (a)
        archive_read_free(a);
    df_ctx_free(c);
    return -1;
}

/* ---- data and hashes ---- */

int df_ctx_read(const struct df_ctx *c, const struct df_ctx_entry *e,
                int (*fn)(void *arg, const void *buf, size_t len, ctr_error_t *err), void *arg,
                ctr_error_t *err)
{
    char buf[65536];
    if (e->type != DF_CTX_REG)
        return 0;
    if (c->spool_fd >= 0) {
        for (uint64_t done = 0; done < e->size;) {
            size_t want = e->size - done < sizeof(buf) ? (size_t)(e->size - done) : sizeof(buf);
            ssize_t got = pread(c->spool_fd, buf, want, e->spool_off + (off_t)done);
            if (got <= 0)
                return ctr_fail(err, got < 0 ? errno : EIO, "build context: read `%s`", e->path);
            if (fn(arg, buf, (size_t)got, err) < 0)
                return -1;
            done += (uint64_t)got;
        }
        return 0;
    }
    cleanup_close int fd = open_beneath(c->dir_fd, e->path, O_RDONLY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0)
        return ctr_fail(err, errno, "build context: open `%s`", e->path);
    if (!S_ISREG(st.st_mode))
        return ctr_fail(err, EINVAL, "build context: `%s` changed while building", e->path);
    uint64_t done = 0;
    ssize_t got;
    /* the size indexed: a file growing meanwhile must not change what is copied */
    while (done < e->size && (got = read(fd, buf, sizeof(buf))) != 0) {
        if (got < 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue;
            return ctr_fail(err, errno, "build context: read `%s`", e->path);
        }
        size_t n = (uint64_t)got > e->size - done ? (size_t)(e->size - done) : (size_t)got;
        if (fn(arg, buf, n, err) < 0)
            return -1;
        done += n;
    }
    if (done != e->size)
        return ctr_fail_class(err, EIO, "build context: `%s` shrank while building", e->path);
    return 0;
}

static int hash_feed(void *arg, const void *buf, size_t len, ctr_error_t *err)
{
    (void)err;
    EVP_DigestUpdate(arg, buf, len);
    return 0;
}

const char *df_ctx_hash(const struct df_ctx *c, struct df_ctx_entry *e, ctr_error_t *err)
{
    if (e->hash[0] || (e->type != DF_CTX_REG && e->type != DF_CTX_SYMLINK))
        return e->hash;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned char d[32];
    EVP_DigestInit_ex(md, EVP_sha256(), NULL);
    int rc = 0;
    if (e->type == DF_CTX_SYMLINK)
        EVP_DigestUpdate(md, e->link, strlen(e->link));
    else
        rc = df_ctx_read(c, e, hash_feed, md, err);
    EVP_DigestFinal_ex(md, d, NULL);
    EVP_MD_CTX_free(md);
    if (rc < 0)
        return NULL;
    char *o = e->hash + snprintf(e->hash, sizeof(e->hash), "sha256:");
    for (int i = 0; i < 32; i++)
        o += snprintf(o, 3, "%02x", d[i]);
    return e->hash;
}

int df_ctx_data_fd(const struct df_ctx *c, const struct df_ctx_entry *e, int64_t *off,
                   ctr_error_t *err)
{
    if (c->spool_fd >= 0) {
        *off = e->spool_off;
        int fd = fcntl(c->spool_fd, F_DUPFD_CLOEXEC, 0);
        return fd < 0 ? ctr_fail(err, errno, "build context: dup") : fd;
    }
    int fd = open_beneath(c->dir_fd, e->path, O_RDONLY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        int en = fd < 0 ? errno : EINVAL;
        if (fd >= 0)
            close(fd);
        return ctr_fail(err, en, "build context: open `%s`", e->path);
    }
    *off = 0;
    return fd;
}
