/* A writable layer read back: the overlay upper directory → Docker's change list and an
 * OCI layer tar (layerdiff.h). Both sources fill one list of entries (metadata; the data
 * stays on the disk or in a spool file) in walk order, which both outputs follow. */
#include "image/layerdiff.h"
#include "ext4/ext4.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define OPAQUE_XATTR "trusted.overlay.opaque"
#define OVERLAY_XATTRS "trusted.overlay."
#define WH_PREFIX ".wh."
#define WH_OPAQUE ".wh..wh..opq"

struct ld_entry {
    char *path; /* "/" for the upper directory itself, else "/a/b" */
    uint32_t mode, uid, gid, nlink, ino;
    uint64_t size;
    struct timespec mtime;
    uint32_t rdev_major, rdev_minor;
    char *link;     /* symlink target */
    char *hardlink; /* tar source: path of the entry this one is a link to */
    struct ext4w_xattr *x;
    size_t nx;
    int64_t spool_off; /* tar source: where the data is in the spool file */
    bool skip;         /* an init-layer path, or a directory copied up only for one */
};

struct layerdiff {
    struct ld_entry *v;
    size_t n, cap;
    struct ext4w_reader *disk;  /* disk source */
    int spool_fd;               /* tar source */
    struct ext4w_reader *lower; /* NULL: no lower image */
};

/* What Docker keeps in a container's init layer (daemon/initlayer): these paths are the
 * guest's mount points and /etc files, never the user's changes. */
static bool init_path(const char *p)
{
    static const char *const files[] = {"/etc/hosts", "/etc/hostname", "/etc/resolv.conf"};
    static const char *const trees[] = {"/dev", "/proc", "/sys", "/run"};
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
        if (strcmp(p, files[i]) == 0)
            return true;
    for (size_t i = 0; i < sizeof(trees) / sizeof(trees[0]); i++) {
        size_t l = strlen(trees[i]);
        if (strncmp(p, trees[i], l) == 0 && (p[l] == '\0' || p[l] == '/'))
            return true;
    }
    return false;
}

static void entry_release(struct ld_entry *e)
{
    free(e->path);
    free(e->link);
    free(e->hardlink);
    for (size_t i = 0; i < e->nx; i++) {
        free((char *)e->x[i].name);
        free((void *)e->x[i].value);
    }
    free(e->x);
}

void layerdiff_free(struct layerdiff *ld)
{
    if (ld == NULL)
        return;
    for (size_t i = 0; i < ld->n; i++)
        entry_release(&ld->v[i]);
    free(ld->v);
    ext4w_reader_close(ld->disk);
    ext4w_reader_close(ld->lower);
    if (ld->spool_fd >= 0)
        close(ld->spool_fd);
    free(ld);
}

void layerdiff_changes_free(struct layerdiff_change *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        free(v[i].path);
    free(v);
}

static struct ld_entry *push(struct layerdiff *ld)
{
    if (ld->n == ld->cap) {
        ld->cap = ld->cap ? ld->cap * 2 : 64;
        ld->v = ctr_xrealloc(ld->v, ld->cap * sizeof(*ld->v));
    }
    struct ld_entry *e = &ld->v[ld->n++];
    memset(e, 0, sizeof(*e));
    e->spool_off = -1;
    return e;
}

static void add_xattr(struct ld_entry *e, const char *name, const void *value, size_t len)
{
    e->x = ctr_xrealloc(e->x, (e->nx + 1) * sizeof(*e->x));
    char *v = ctr_xmalloc(len + 1);
    memcpy(v, value, len);
    v[len] = 0;
    e->x[e->nx++] = (struct ext4w_xattr){ctr_xstrdup(name), v, len};
}

static const struct ext4w_xattr *find_xattr(const struct ld_entry *e, const char *name)
{
    for (size_t i = 0; i < e->nx; i++)
        if (strcmp(e->x[i].name, name) == 0)
            return &e->x[i];
    return NULL;
}

static bool is_whiteout(const struct ld_entry *e)
{
    return S_ISCHR(e->mode) && e->rdev_major == 0 && e->rdev_minor == 0;
}

static bool is_opaque(const struct ld_entry *e)
{
    const struct ext4w_xattr *x = S_ISDIR(e->mode) ? find_xattr(e, OPAQUE_XATTR) : NULL;
    return x && x->len == 1 && ((const char *)x->value)[0] == 'y';
}

/* Mark the init-layer paths, then the directories that hold nothing but such paths and
 * exist below (the guest copied them up only to create a mount point or /etc file). */
static int mark_skips(struct layerdiff *ld, ctr_error_t *err)
{
    for (size_t i = 0; i < ld->n; i++)
        ld->v[i].skip = init_path(ld->v[i].path);
    /* Children follow their directory in walk order: scan backwards so a directory sees
     * its subtree's verdict. */
    for (size_t i = ld->n; i-- > 1;) {
        struct ld_entry *e = &ld->v[i];
        if (!S_ISDIR(e->mode) || e->skip || is_opaque(e))
            continue;
        size_t pl = strlen(e->path), kept = 0, skipped = 0;
        for (size_t j = i + 1; j < ld->n; j++) {
            const char *p = ld->v[j].path;
            if (strncmp(p, e->path, pl) != 0 || p[pl] != '/')
                break;
            if (ld->v[j].skip)
                skipped++;
            else
                kept++;
        }
        if (kept || !skipped || ld->lower == NULL)
            continue;
        struct ext4w_stat st;
        int r = ext4w_reader_lstat(ld->lower, e->path, &st, err);
        if (r < 0)
            return -1;
        e->skip = r == 1 && S_ISDIR(st.mode);
    }
    return 0;
}

/* ---- the disk source ---- */

static int disk_entry(const struct ext4w_entry *we, void *ctx, ctr_error_t *err)
{
    (void)err;
    struct layerdiff *ld = ctx;
    struct ld_entry *e = push(ld);
    e->path = ctr_xstrdup(we->path);
    e->mode = we->mode;
    e->uid = we->uid;
    e->gid = we->gid;
    e->nlink = we->nlink;
    e->ino = we->ino;
    e->size = we->size;
    e->mtime = we->mtime;
    e->rdev_major = we->rdev_major;
    e->rdev_minor = we->rdev_minor;
    e->link = we->link_target ? ctr_xstrdup(we->link_target) : NULL;
    for (size_t i = 0; i < we->nxattrs; i++)
        add_xattr(e, we->xattrs[i].name, we->xattrs[i].value, we->xattrs[i].len);
    return 0;
}

static struct layerdiff *ld_new(void)
{
    struct layerdiff *ld = ctr_xcalloc(1, sizeof(*ld));
    ld->spool_fd = -1;
    return ld;
}

static int open_lower(struct layerdiff *ld, const char *lower_image, ctr_error_t *err)
{
    if (lower_image && ext4w_reader_open(lower_image, &ld->lower, err) < 0)
        return ctr_error_wrap(err, "the image's snapshot");
    return 0;
}

int layerdiff_open_disk(const char *rw_disk, const char *upper_dir, const char *lower_image,
                        struct layerdiff **out, ctr_error_t *err)
{
    struct layerdiff *ld = ld_new();
    struct ext4w_stat st;
    int r;

    if (ext4w_reader_open(rw_disk, &ld->disk, err) < 0 || open_lower(ld, lower_image, err) < 0)
        goto fail;
    r = ext4w_reader_lstat(ld->disk, upper_dir, &st, err);
    if (r < 0)
        goto fail;
    if (r == 1 && S_ISDIR(st.mode)) {
        if (ext4w_reader_walk(ld->disk, upper_dir, 0, disk_entry, ld, err) < 0)
            goto fail;
    }
    if (mark_skips(ld, err) < 0)
        goto fail;
    *out = ld;
    return 0;
fail:
    layerdiff_free(ld);
    return -1;
}

/* ---- the tar source ---- */

/* "./a/b/", "a/b" → "/a/b"; "." and "./" → "/". NULL for a path that leaves the root. */
static char *tar_path(const char *name)
{
    cleanup_free char *p = ctr_xasprintf("/%s", name);
    size_t w = 0, n = strlen(p);
    char *o = ctr_xmalloc(n + 2);
    for (size_t i = 0; i < n;) {
        while (i < n && p[i] == '/')
            i++;
        size_t s = i;
        while (i < n && p[i] != '/')
            i++;
        size_t l = i - s;
        if (l == 0 || (l == 1 && p[s] == '.'))
            continue;
        if (l == 2 && p[s] == '.' && p[s + 1] == '.') {
            free(o);
            return NULL;
        }
        o[w++] = '/';
        memcpy(o + w, p + s, l);
        w += l;
    }
    if (w == 0)
        o[w++] = '/';
    o[w] = 0;
    return o;
}

/* Walk order is depth first with names sorted: with '/' sorting before every other byte
 * that is plain byte order of the paths once '/' is mapped to the lowest value. */
static int cmp_walk(const void *a, const void *b)
{
    const unsigned char *x = (const unsigned char *)((const struct ld_entry *)a)->path;
    const unsigned char *y = (const unsigned char *)((const struct ld_entry *)b)->path;
    for (; *x && *x == *y; x++, y++)
        ;
    int cx = *x == '/' ? 1 : *x ? *x + 1 : 0;
    int cy = *y == '/' ? 1 : *y ? *y + 1 : 0;
    return cx - cy;
}

static int spool_data(struct layerdiff *ld, struct archive *a, struct ld_entry *e, ctr_error_t *err)
{
    char buf[65536];
    la_ssize_t got;
    e->spool_off = lseek(ld->spool_fd, 0, SEEK_END);
    uint64_t total = 0;
    while ((got = archive_read_data(a, buf, sizeof(buf))) > 0) {
        if (ctr_write_all(ld->spool_fd, buf, (size_t)got) < 0)
            return ctr_fail(err, errno, "spool the layer's data");
        total += (uint64_t)got;
    }
    if (got < 0)
        return ctr_fail(err, EIO, "read the container's upper directory: %s",
                        archive_error_string(a));
    e->size = total;
    return 0;
}

int layerdiff_open_tar(int fd, const char *tmp_dir, const char *lower_image, struct layerdiff **out,
                       ctr_error_t *err)
{
    struct layerdiff *ld = ld_new();
    struct archive *a = archive_read_new();
    struct archive_entry *ae;
    int r;

    archive_read_support_format_tar(a);
    ld->spool_fd = open(tmp_dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (ld->spool_fd < 0) {
        ctr_fail(err, errno, "spool file in `%s`", tmp_dir);
        goto fail;
    }
    if (open_lower(ld, lower_image, err) < 0)
        goto fail;
    if (archive_read_open_fd(a, fd, 65536) != ARCHIVE_OK) {
        ctr_fail(err, EIO, "read the container's upper directory: %s", archive_error_string(a));
        goto fail;
    }
    while ((r = archive_read_next_header(a, &ae)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
        char *p = tar_path(archive_entry_pathname(ae));
        if (p == NULL) {
            ctr_fail(err, EPROTO, "the upper directory's tar names `%s`, outside it",
                     archive_entry_pathname(ae));
            goto fail;
        }
        struct ld_entry *e = push(ld);
        e->path = p;
        e->mode = archive_entry_mode(ae);
        e->uid = (uint32_t)archive_entry_uid(ae);
        e->gid = (uint32_t)archive_entry_gid(ae);
        e->nlink = 1;
        e->mtime.tv_sec = archive_entry_mtime(ae);
        e->mtime.tv_nsec = archive_entry_mtime_nsec(ae);
        e->rdev_major = archive_entry_rdevmajor(ae);
        e->rdev_minor = archive_entry_rdevminor(ae);
        if (archive_entry_symlink(ae))
            e->link = ctr_xstrdup(archive_entry_symlink(ae));
        if (archive_entry_hardlink(ae)) {
            e->hardlink = tar_path(archive_entry_hardlink(ae));
            if (e->hardlink == NULL) {
                ctr_fail(err, EPROTO, "bad hard link in the upper directory's tar");
                goto fail;
            }
            e->mode = (e->mode & ~S_IFMT) | S_IFREG;
        }
        const char *xn;
        const void *xv;
        size_t xl;
        archive_entry_xattr_reset(ae);
        while (archive_entry_xattr_next(ae, &xn, &xv, &xl) == ARCHIVE_OK)
            add_xattr(e, xn, xv, xl);
        if (S_ISREG(e->mode) && !e->hardlink && spool_data(ld, a, e, err) < 0)
            goto fail;
    }
    if (r != ARCHIVE_EOF) {
        ctr_fail(err, EIO, "read the container's upper directory: %s", archive_error_string(a));
        goto fail;
    }
    archive_read_free(a);
    a = NULL;
    if (ld->n > 1)
        qsort(ld->v, ld->n, sizeof(*ld->v), cmp_walk);
    /* A tar may omit the root; the outputs expect it first. */
    if (ld->n == 0 || strcmp(ld->v[0].path, "/") != 0) {
        push(ld);
        memmove(ld->v + 1, ld->v, (ld->n - 1) * sizeof(*ld->v));
        memset(&ld->v[0], 0, sizeof(ld->v[0]));
        ld->v[0].path = ctr_xstrdup("/");
        ld->v[0].mode = S_IFDIR | 0755;
        ld->v[0].spool_off = -1;
    }
    if (mark_skips(ld, err) < 0)
        goto fail;
    *out = ld;
    return 0;
fail:
    if (a)
        archive_read_free(a);
    layerdiff_free(ld);
    return -1;
}

/* ---- the change list ---- */

static char *parent_of(const char *p)
{
    const char *s = strrchr(p, '/');
    return s == p ? ctr_xstrdup("/") : ctr_xstrndup(p, (size_t)(s - p));
}

struct changes {
    struct layerdiff_change *v;
    size_t n;
    char **dirs; /* changedDirs of moby's changes(): recorded directories */
    size_t ndirs;
};

static bool dir_seen(const struct changes *c, const char *p)
{
    for (size_t i = c->ndirs; i-- > 0;)
        if (strcmp(c->dirs[i], p) == 0)
            return true;
    return false;
}

static void change_add(struct changes *c, const char *p, enum layerdiff_kind k)
{
    c->v = ctr_xrealloc(c->v, (c->n + 1) * sizeof(*c->v));
    c->v[c->n++] = (struct layerdiff_change){ctr_xstrdup(p), k};
}

static void dir_add(struct changes *c, const char *p)
{
    c->dirs = ctr_xrealloc(c->dirs, (c->ndirs + 1) * sizeof(*c->dirs));
    c->dirs[c->ndirs++] = ctr_xstrdup(p);
}

static bool same_time(const struct timespec *a, const struct timespec *b)
{
    /* moby's sameFsTime: equal, or equal seconds with one side's nanoseconds lost */
    return a->tv_sec == b->tv_sec &&
           (a->tv_nsec == b->tv_nsec || a->tv_nsec == 0 || b->tv_nsec == 0);
}

int layerdiff_changes(struct layerdiff *ld, struct layerdiff_change **out, size_t *n,
                      ctr_error_t *err)
{
    struct changes c = {0};
    int ret = -1;

    for (size_t i = 0; i < ld->n; i++) {
        const struct ld_entry *e = &ld->v[i];
        if (strcmp(e->path, "/") == 0 || e->skip)
            continue;
        enum layerdiff_kind kind;
        struct ext4w_stat st;
        int in_lower = 0;
        if (ld->lower && (in_lower = ext4w_reader_lstat(ld->lower, e->path, &st, err)) < 0)
            goto out;
        if (is_whiteout(e) || (is_opaque(e) && in_lower)) {
            kind = LAYERDIFF_DELETED;
        } else if (in_lower) {
            /* a directory the guest only copied up (a child changed) is not itself a change */
            if (S_ISDIR(e->mode) && S_ISDIR(st.mode) && e->size == st.size && e->mode == st.mode &&
                same_time(&e->mtime, &st.mtime))
                continue;
            kind = LAYERDIFF_MODIFIED;
        } else {
            kind = LAYERDIFF_ADDED;
        }
        if (S_ISDIR(e->mode))
            dir_add(&c, e->path);
        if (kind != LAYERDIFF_MODIFIED) {
            cleanup_free char *parent = parent_of(e->path);
            if (strcmp(parent, "/") != 0 && !dir_seen(&c, parent)) {
                change_add(&c, parent, LAYERDIFF_MODIFIED);
                dir_add(&c, parent);
            }
        }
        change_add(&c, e->path, kind);
    }
    *out = ctr_steal_ptr(c.v);
    *n = c.n;
    c.n = 0;
    ret = 0;
out:
    layerdiff_changes_free(c.v, c.n);
    for (size_t i = 0; i < c.ndirs; i++)
        free(c.dirs[i]);
    free(c.dirs);
    return ret;
}

/* ---- the layer tar ---- */

struct tar_out {
    int fd;
    EVP_MD_CTX *md;
    int64_t bytes;
    ctr_error_t werr;
};

static la_ssize_t tar_write(struct archive *a, void *ctx, const void *buf, size_t len)
{
    (void)a;
    struct tar_out *t = ctx;
    if (ctr_write_all(t->fd, buf, len) < 0) {
        if (t->werr == NULL)
            ctr_fail(&t->werr, errno, "write the layer");
        return -1;
    }
    EVP_DigestUpdate(t->md, buf, len);
    t->bytes += (int64_t)len;
    return (la_ssize_t)len;
}

static int tar_fail(struct archive *a, struct tar_out *t, ctr_error_t *err)
{
    if (t->werr) {
        *err = ctr_steal_ptr(t->werr);
        return -1;
    }
    return ctr_fail(err, EIO, "write the layer: %s", archive_error_string(a));
}

struct data_sink {
    struct archive *a;
    struct tar_out *t;
};

static int data_to_tar(void *ctx, const void *buf, size_t len, ctr_error_t *err)
{
    struct data_sink *s = ctx;
    if (archive_write_data(s->a, buf, len) != (la_ssize_t)len)
        return tar_fail(s->a, s->t, err);
    return 0;
}

static int spool_to_tar(struct layerdiff *ld, const struct ld_entry *e, struct data_sink *s,
                        ctr_error_t *err)
{
    char buf[65536];
    uint64_t left = e->size;
    off_t off = e->spool_off;
    while (left) {
        size_t want = left > sizeof(buf) ? sizeof(buf) : (size_t)left;
        ssize_t got = pread(ld->spool_fd, buf, want, off);
        if (got <= 0)
            return ctr_fail(err, got < 0 ? errno : EIO, "read the spooled layer data");
        if (data_to_tar(s, buf, (size_t)got, err) < 0)
            return -1;
        left -= (uint64_t)got;
        off += got;
    }
    return 0;
}

static int write_header(struct archive *a, struct tar_out *t, struct archive_entry *ae,
                        ctr_error_t *err)
{
    int r = archive_write_header(a, ae);
    if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
        return tar_fail(a, t, err);
    return 0;
}

/* An empty regular file named `name` (a whiteout marker), owned like e. */
static int write_marker(struct archive *a, struct tar_out *t, const struct ld_entry *e,
                        const char *name, uint32_t perm, ctr_error_t *err)
{
    struct archive_entry *ae = archive_entry_new();
    archive_entry_set_pathname(ae, name);
    archive_entry_set_filetype(ae, AE_IFREG);
    archive_entry_set_perm(ae, perm);
    archive_entry_set_uid(ae, e->uid);
    archive_entry_set_gid(ae, e->gid);
    archive_entry_set_size(ae, 0);
    archive_entry_set_mtime(ae, e->mtime.tv_sec, e->mtime.tv_nsec);
    int r = write_header(a, t, ae, err);
    archive_entry_free(ae);
    return r;
}

struct link_seen {
    uint32_t ino;
    const char *name; /* tar name of the first entry of that inode */
};

static int write_entry(struct layerdiff *ld, struct archive *a, struct tar_out *t,
                       const struct ld_entry *e, struct link_seen **seen, size_t *nseen,
                       ctr_error_t *err)
{
    const char *name = e->path + 1;
    if (is_whiteout(e)) {
        const char *base = strrchr(e->path, '/') + 1;
        cleanup_free char *wh =
            ctr_xasprintf("%.*s" WH_PREFIX "%s", (int)(base - name), name, base);
        return write_marker(a, t, e, wh, 0600, err);
    }
    struct archive_entry *ae = archive_entry_new();
    archive_entry_set_pathname(ae, name);
    archive_entry_set_mode(ae, e->mode);
    archive_entry_set_uid(ae, e->uid);
    archive_entry_set_gid(ae, e->gid);
    archive_entry_set_mtime(ae, e->mtime.tv_sec, e->mtime.tv_nsec);
    bool data = false;
    const char *hard = NULL;
    if (S_ISREG(e->mode)) {
        if (e->hardlink) {
            hard = e->hardlink + 1;
        } else if (ld->disk && e->nlink > 1) {
            for (size_t i = 0; i < *nseen && !hard; i++)
                if ((*seen)[i].ino == e->ino)
                    hard = (*seen)[i].name;
            if (!hard) {
                *seen = ctr_xrealloc(*seen, (*nseen + 1) * sizeof(**seen));
                (*seen)[(*nseen)++] = (struct link_seen){e->ino, name};
            }
        }
        if (hard) {
            archive_entry_set_hardlink(ae, hard);
            archive_entry_set_size(ae, 0);
        } else {
            archive_entry_set_size(ae, (la_int64_t)e->size);
            data = true;
        }
    } else if (S_ISLNK(e->mode)) {
        archive_entry_set_symlink(ae, e->link ? e->link : "");
    }
    /* the overlay's own xattrs (opaque, origin, redirect) are no part of a layer; a hard
     * link's are its first name's */
    for (size_t i = 0; !hard && i < e->nx; i++)
        if (strncmp(e->x[i].name, OVERLAY_XATTRS, strlen(OVERLAY_XATTRS)) != 0)
            archive_entry_xattr_add_entry(ae, e->x[i].name, e->x[i].value, e->x[i].len);
    if (S_ISCHR(e->mode) || S_ISBLK(e->mode)) {
        archive_entry_set_rdevmajor(ae, e->rdev_major);
        archive_entry_set_rdevminor(ae, e->rdev_minor);
    }
    int r = write_header(a, t, ae, err);
    archive_entry_free(ae);
    if (r < 0)
        return -1;
    if (data) {
        struct data_sink s = {a, t};
        if (ld->disk ? ext4w_reader_read(ld->disk, e->ino, data_to_tar, &s, err) < 0
                     : spool_to_tar(ld, e, &s, err) < 0)
            return -1;
    }
    if (is_opaque(e)) {
        cleanup_free char *opq = ctr_xasprintf("%s/" WH_OPAQUE, name);
        return write_marker(a, t, e, opq, e->mode & 0777, err);
    }
    return 0;
}

int layerdiff_write_tar(struct layerdiff *ld, int fd, char **diff_id, int64_t *size,
                        ctr_error_t *err)
{
    struct tar_out t = {.fd = fd, .md = EVP_MD_CTX_new()};
    struct archive *a = archive_write_new();
    struct link_seen *seen = NULL;
    size_t nseen = 0;
    int ret = -1;

    EVP_DigestInit_ex(t.md, EVP_sha256(), NULL);
    archive_write_set_format_pax_restricted(a);
    archive_write_set_bytes_in_last_block(a, 1);
    if (archive_write_open(a, &t, NULL, tar_write, NULL) != ARCHIVE_OK) {
        tar_fail(a, &t, err);
        goto out;
    }
    for (size_t i = 0; i < ld->n; i++) {
        const struct ld_entry *e = &ld->v[i];
        if (strcmp(e->path, "/") == 0 || e->skip)
            continue;
        if (write_entry(ld, a, &t, e, &seen, &nseen, err) < 0)
            goto out;
    }
    if (archive_write_close(a) != ARCHIVE_OK) {
        tar_fail(a, &t, err);
        goto out;
    }
    unsigned char d[32];
    char hex[65];
    EVP_DigestFinal_ex(t.md, d, NULL);
    for (int i = 0; i < 32; i++)
        sprintf(hex + 2 * i, "%02x", d[i]);
    *diff_id = ctr_xasprintf("sha256:%s", hex);
    *size = t.bytes;
    ret = 0;
out:
    archive_write_free(a);
    EVP_MD_CTX_free(t.md);
    ctr_error_free(&t.werr);
    free(seen);
    return ret;
}
