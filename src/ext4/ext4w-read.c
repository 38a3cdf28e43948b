/* Reading an image back: a depth-first walk with metadata, xattrs, link
 * targets and content digests. Independent of the writer's in-memory tree,
 * so tests compare what is on disk. */
#include "ext4/ext4-internal.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define WALK_MAX_DEPTH 8192

struct dent {
    char *name;
    ext2_ino_t ino;
};

struct ext4w_reader {
    ext2_filsys fs;
    char *path;
};

struct walk {
    struct ext4w_reader *r;
    ext2_filsys fs;
    int flags;
    int (*cb)(const struct ext4w_entry *e, void *ctx, ctr_error_t *err);
    void *ctx;
    char *buf; /* data buffer for hashing */
    size_t bufsz;
};

static void decode_time(__u32 sec, __u32 extra, struct timespec *ts)
{
    ts->tv_sec = (int32_t)sec;
    ts->tv_sec += (int64_t)(extra & 3) << 32;
    ts->tv_nsec = extra >> 2;
}

struct xlist {
    struct ext4w_xattr *v;
    size_t n;
};

static int collect_xattr(char *name, char *value, size_t len, void *data)
{
    struct xlist *l = data;
    l->v = ctr_xrealloc(l->v, (l->n + 1) * sizeof(*l->v));
    char *val = ctr_xmalloc(len + 1);
    memcpy(val, value, len);
    val[len] = 0;
    l->v[l->n++] = (struct ext4w_xattr){ctr_xstrdup(name), val, len};
    return 0;
}

static int cmp_xattr(const void *a, const void *b)
{
    return strcmp(((const struct ext4w_xattr *)a)->name, ((const struct ext4w_xattr *)b)->name);
}

static void xlist_free(struct xlist *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free((char *)l->v[i].name);
        free((void *)l->v[i].value);
    }
    free(l->v);
}

static int hash_update_zeros(EVP_MD_CTX *md, struct walk *wk, uint64_t n)
{
    memset(wk->buf, 0, wk->bufsz);
    while (n) {
        size_t c = n > wk->bufsz ? wk->bufsz : n;
        EVP_DigestUpdate(md, wk->buf, c);
        n -= c;
    }
    return 0;
}

/* SHA-256 of a regular file, walking its extents so holes cost no I/O. */
static int hash_file(struct walk *wk, ext2_ino_t ino, struct ext2_inode_large *in, char hex[65],
                     ctr_error_t *err)
{
    ext2_filsys fs = wk->fs;
    uint64_t size = EXT2_I_SIZE(in), pos = 0;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    ext2_extent_handle_t h = NULL;
    struct ext2fs_extent e;
    errcode_t rc;
    int ret = -1;

    EVP_DigestInit_ex(md, EVP_sha256(), NULL);
    if (!(in->i_flags & EXT4_EXTENTS_FL)) {
        if (size != 0) {
            ctr_fail(err, 0, "inode %u has data but no extent map", ino);
            goto out;
        }
    } else {
        struct ext3_extent_header *eh = (struct ext3_extent_header *)in->i_block;
        rc = ext2fs_extent_open2(fs, ino, (struct ext2_inode *)in, &h);
        if (rc == 0)
            rc = eh->eh_entries ? ext2fs_extent_get(h, EXT2_EXTENT_ROOT, &e)
                                : EXT2_ET_EXTENT_NO_NEXT;
        for (; rc == 0; rc = ext2fs_extent_get(h, EXT2_EXTENT_NEXT_LEAF, &e)) {
            if (!(e.e_flags & EXT2_EXTENT_FLAGS_LEAF) || e.e_len == 0)
                continue;
            uint64_t start = (uint64_t)e.e_lblk * fs->blocksize;
            if (start >= size)
                continue;
            if (start > pos)
                hash_update_zeros(md, wk, start - pos);
            pos = start;
            blk64_t blk = e.e_pblk;
            uint64_t left = (uint64_t)e.e_len * fs->blocksize;
            if (left > size - start)
                left = size - start;
            bool uninit = e.e_flags & EXT2_EXTENT_FLAGS_UNINIT;
            while (left) {
                size_t c = left > wk->bufsz ? wk->bufsz : left;
                size_t nb = (c + fs->blocksize - 1) / fs->blocksize;
                if (uninit) {
                    memset(wk->buf, 0, c);
                } else if ((rc = io_channel_read_blk64(fs->io, blk, (int)nb, wk->buf)) != 0) {
                    ext4w_fail_ext2(err, rc, "cannot read data of inode %u", ino);
                    goto out;
                }
                EVP_DigestUpdate(md, wk->buf, c);
                blk += nb;
                left -= c;
                pos += c;
            }
        }
        if (rc != EXT2_ET_EXTENT_NO_NEXT) {
            ext4w_fail_ext2(err, rc, "cannot read the extents of inode %u", ino);
            goto out;
        }
    }
    if (pos < size)
        hash_update_zeros(md, wk, size - pos);
    unsigned char d[32];
    EVP_DigestFinal_ex(md, d, NULL);
    for (int i = 0; i < 32; i++)
        sprintf(hex + 2 * i, "%02x", d[i]);
    ret = 0;
out:
    if (h)
        ext2fs_extent_free(h);
    EVP_MD_CTX_free(md);
    return ret;
}

static int read_link(struct walk *wk, ext2_ino_t ino, struct ext2_inode_large *in, char **out,
                     ctr_error_t *err)
{
    uint64_t size = EXT2_I_SIZE(in);
    if (size >= wk->fs->blocksize)
        return ctr_fail(err, 0, "symlink inode %u has size %llu", ino, (unsigned long long)size);
    char *t = ctr_xcalloc(1, size + 1);
    if (ext2fs_is_fast_symlink((struct ext2_inode *)in)) {
        memcpy(t, in->i_block, size);
    } else {
        ext2_file_t f;
        unsigned got = 0;
        errcode_t rc = ext2fs_file_open2(wk->fs, ino, (struct ext2_inode *)in, 0, &f);
        if (rc == 0) {
            rc = ext2fs_file_read(f, t, (unsigned)size, &got);
            ext2fs_file_close(f);
        }
        if (rc || got != size) {
            free(t);
            return ext4w_fail_ext2(err, rc ? rc : EXT2_ET_SHORT_READ,
                                   "cannot read symlink inode %u", ino);
        }
    }
    *out = t;
    return 0;
}

static int emit(struct walk *wk, const char *path, ext2_ino_t ino, struct ext2_inode_large *in,
                ctr_error_t *err)
{
    struct ext4w_entry e = {.path = path, .ino = ino, .reader = wk->r};
    struct xlist xl = {0};
    cleanup_free char *link = NULL;
    char hex[65];
    int ret = -1;

    e.mode = in->i_mode;
    e.uid = inode_uid(*in);
    e.gid = inode_gid(*in);
    e.nlink = in->i_links_count;
    e.size = EXT2_I_SIZE(in);
    e.blocks = in->i_blocks | ((uint64_t)in->osd2.linux2.l_i_blocks_hi << 32);
    decode_time(in->i_atime, in->i_atime_extra, &e.atime);
    decode_time(in->i_mtime, in->i_mtime_extra, &e.mtime);
    decode_time(in->i_ctime, in->i_ctime_extra, &e.ctime);
    if (S_ISCHR(e.mode) || S_ISBLK(e.mode)) {
        if (in->i_block[0]) {
            e.rdev_major = (in->i_block[0] >> 8) & 0xff;
            e.rdev_minor = in->i_block[0] & 0xff;
        } else {
            uint32_t d = in->i_block[1];
            e.rdev_major = (d & 0xfff00) >> 8;
            e.rdev_minor = (d & 0xff) | ((d >> 12) & 0xfff00);
        }
    }
    if (S_ISLNK(e.mode)) {
        if (read_link(wk, ino, in, &link, err) < 0)
            return -1;
        e.link_target = link;
    }
    if (S_ISREG(e.mode) && (wk->flags & EXT4W_WALK_HASH)) {
        if (hash_file(wk, ino, in, hex, err) < 0)
            return -1;
        e.sha256 = hex;
    }
    struct ext2_xattr_handle *h = NULL;
    errcode_t rc = ext2fs_xattrs_open(wk->fs, ino, &h);
    if (rc == 0)
        rc = ext2fs_xattrs_read(h);
    if (rc == 0)
        rc = ext2fs_xattrs_iterate(h, collect_xattr, &xl);
    if (h)
        ext2fs_xattrs_close(&h);
    if (rc) {
        ext4w_fail_ext2(err, rc, "cannot read the xattrs of `%s`", path);
        goto out;
    }
    if (xl.n > 1)
        qsort(xl.v, xl.n, sizeof(*xl.v), cmp_xattr);
    e.xattrs = xl.v;
    e.nxattrs = xl.n;
    ret = wk->cb(&e, wk->ctx, err);
out:
    xlist_free(&xl);
    return ret;
}

static int collect_dent(struct ext2_dir_entry *de, int offset, int blocksize, char *buf, void *priv)
{
    struct dent **v = priv;
    size_t len = ext2fs_dirent_name_len(de);
    if ((len == 1 && de->name[0] == '.') || (len == 2 && de->name[0] == '.' && de->name[1] == '.'))
        return 0;
    size_t n = 0;
    while ((*v)[n].name)
        n++;
    *v = ctr_xrealloc(*v, (n + 2) * sizeof(**v));
    (*v)[n] = (struct dent){ctr_xstrndup(de->name, len), de->inode};
    (*v)[n + 1] = (struct dent){NULL, 0};
    return 0;
}

static int cmp_dent(const void *a, const void *b)
{
    return strcmp(((const struct dent *)a)->name, ((const struct dent *)b)->name);
}

static int walk_dir(struct walk *wk, const char *path, ext2_ino_t dir, int depth, ctr_error_t *err)
{
    struct dent *v = ctr_xcalloc(1, sizeof(*v));
    size_t n = 0;
    int ret = -1;

    if (depth > WALK_MAX_DEPTH)
        return ctr_fail(err, ELOOP, "directories nested deeper than %d at `%s`", WALK_MAX_DEPTH,
                        path);
    errcode_t rc = ext2fs_dir_iterate(wk->fs, dir, 0, NULL, collect_dent, &v);
    if (rc) {
        ext4w_fail_ext2(err, rc, "cannot read directory `%s`", path);
        goto out;
    }
    while (v[n].name)
        n++;
    if (n > 1)
        qsort(v, n, sizeof(*v), cmp_dent);
    for (size_t i = 0; i < n; i++) {
        union ext4w_ibuf b;
        cleanup_free char *p = ctr_xasprintf("%s/%s", strcmp(path, "/") ? path : "", v[i].name);
        rc = ext2fs_read_inode_full(wk->fs, v[i].ino, (struct ext2_inode *)&b.in,
                                    EXT2_INODE_SIZE(wk->fs->super));
        if (rc) {
            ext4w_fail_ext2(err, rc, "cannot read inode %u of `%s`", v[i].ino, p);
            goto out;
        }
        if (emit(wk, p, v[i].ino, &b.in, err) < 0)
            goto out;
        if (LINUX_S_ISDIR(b.in.i_mode) && walk_dir(wk, p, v[i].ino, depth + 1, err) < 0)
            goto out;
    }
    ret = 0;
out:
    for (size_t i = 0; v[i].name; i++)
        free(v[i].name);
    free(v);
    return ret;
}

int ext4w_reader_open(const char *image, struct ext4w_reader **out, ctr_error_t *err)
{
    ext2_filsys fs = NULL;
    errcode_t rc = ext2fs_open2(image, NULL, EXT2_FLAG_64BITS, 0, 0, unix_io_manager, &fs);
    if (rc)
        return ext4w_fail_ext2(err, rc, "cannot open ext4 image `%s`", image);
    /* A journal that still holds transactions means the metadata on disk is not the
     * filesystem the guest saw (its VM died, or it is mounted): refuse rather than
     * read a stale or torn tree. */
    if (ext2fs_has_feature_journal_needs_recovery(fs->super)) {
        ext2fs_close_free(&fs);
        return ctr_fail_class(err, EUCLEAN,
                              "ext4 image `%s` was not cleanly unmounted (its journal needs "
                              "recovery)",
                              image);
    }
    struct ext4w_reader *r = ctr_xcalloc(1, sizeof(*r));
    r->fs = fs;
    r->path = ctr_xstrdup(image);
    *out = r;
    return 0;
}

void ext4w_reader_close(struct ext4w_reader *r)
{
    if (r == NULL)
        return;
    ext2fs_close_free(&r->fs);
    free(r->path);
    free(r);
}

/* Resolve `path` (absolute, inside the image) without following a symlink in its last
 * component. 1 found, 0 absent, -1 error. */
static int reader_namei(struct ext4w_reader *r, const char *path, ext2_ino_t *ino, ctr_error_t *err)
{
    while (*path == '/')
        path++;
    if (*path == '\0') {
        *ino = EXT2_ROOT_INO;
        return 1;
    }
    errcode_t rc = ext2fs_namei(r->fs, EXT2_ROOT_INO, EXT2_ROOT_INO, path, ino);
    if (rc == EXT2_ET_FILE_NOT_FOUND || rc == EXT2_ET_NO_DIRECTORY)
        return 0;
    if (rc)
        return ext4w_fail_ext2(err, rc, "cannot look up `/%s` in `%s`", path, r->path);
    return 1;
}

int ext4w_reader_walk(struct ext4w_reader *r, const char *top, int flags,
                      int (*cb)(const struct ext4w_entry *e, void *ctx, ctr_error_t *err),
                      void *ctx, ctr_error_t *err)
{
    struct walk wk = {.r = r, .fs = r->fs, .flags = flags, .cb = cb, .ctx = ctx};
    union ext4w_ibuf b;
    ext2_ino_t ino;
    errcode_t rc;
    int ret = -1;

    int found = reader_namei(r, top ? top : "/", &ino, err);
    if (found <= 0) {
        if (found == 0)
            ctr_fail_class(err, ENOENT, "`%s` not found in `%s`", top, r->path);
        return -1;
    }
    wk.bufsz = 1 << 20;
    wk.buf = ctr_xmalloc(wk.bufsz);
    rc = ext2fs_read_inode_full(wk.fs, ino, (struct ext2_inode *)&b.in,
                                EXT2_INODE_SIZE(wk.fs->super));
    if (rc) {
        ext4w_fail_ext2(err, rc, "cannot read inode %u of `%s`", ino, r->path);
        goto out;
    }
    if (emit(&wk, "/", ino, &b.in, err) < 0)
        goto out;
    if (LINUX_S_ISDIR(b.in.i_mode))
        ret = walk_dir(&wk, "/", ino, 0, err);
    else
        ret = 0;
out:
    free(wk.buf);
    return ret;
}

int ext4w_reader_lstat(struct ext4w_reader *r, const char *path, struct ext4w_stat *st,
                       ctr_error_t *err)
{
    union ext4w_ibuf b;
    ext2_ino_t ino;
    int found = reader_namei(r, path, &ino, err);
    if (found <= 0)
        return found;
    errcode_t rc = ext2fs_read_inode_full(r->fs, ino, (struct ext2_inode *)&b.in,
                                          EXT2_INODE_SIZE(r->fs->super));
    if (rc)
        return ext4w_fail_ext2(err, rc, "cannot read inode %u of `%s`", ino, r->path);
    memset(st, 0, sizeof(*st));
    st->ino = ino;
    st->mode = b.in.i_mode;
    st->uid = inode_uid(b.in);
    st->gid = inode_gid(b.in);
    st->size = EXT2_I_SIZE(&b.in);
    decode_time(b.in.i_mtime, b.in.i_mtime_extra, &st->mtime);
    if (LINUX_S_ISCHR(b.in.i_mode) || LINUX_S_ISBLK(b.in.i_mode)) {
        if (b.in.i_block[0]) {
            st->rdev_major = (b.in.i_block[0] >> 8) & 0xff;
            st->rdev_minor = b.in.i_block[0] & 0xff;
        } else {
            uint32_t d = b.in.i_block[1];
            st->rdev_major = (d & 0xfff00) >> 8;
            st->rdev_minor = (d & 0xff) | ((d >> 12) & 0xfff00);
        }
    }
    return 1;
}

int ext4w_reader_read(struct ext4w_reader *r, uint32_t ino,
                      int (*sink)(void *ctx, const void *buf, size_t len, ctr_error_t *err),
                      void *ctx, ctr_error_t *err)
{
    ext2_file_t f;
    errcode_t rc = ext2fs_file_open(r->fs, ino, 0, &f);
    if (rc)
        return ext4w_fail_ext2(err, rc, "cannot open inode %u of `%s`", ino, r->path);
    size_t bufsz = 1 << 20;
    cleanup_free char *buf = ctr_xmalloc(bufsz);
    int ret = 0;
    for (;;) {
        unsigned got = 0;
        rc = ext2fs_file_read(f, buf, (unsigned)bufsz, &got);
        if (rc) {
            ret = ext4w_fail_ext2(err, rc, "cannot read inode %u of `%s`", ino, r->path);
            break;
        }
        if (got == 0)
            break;
        if (sink(ctx, buf, got, err) < 0) {
            ret = -1;
            break;
        }
    }
    ext2fs_file_close(f);
    return ret;
}

int ext4w_walk(const char *image, int flags,
               int (*cb)(const struct ext4w_entry *e, void *ctx, ctr_error_t *err), void *ctx,
               ctr_error_t *err)
{
    struct ext4w_reader *r = NULL;
    ext2_filsys fs = NULL;
    /* Tests read images as the writer left them, journal flags and all. */
    errcode_t rc = ext2fs_open2(image, NULL, EXT2_FLAG_64BITS, 0, 0, unix_io_manager, &fs);
    if (rc)
        return ext4w_fail_ext2(err, rc, "cannot open ext4 image `%s`", image);
    r = ctr_xcalloc(1, sizeof(*r));
    r->fs = fs;
    r->path = ctr_xstrdup(image);
    int ret = ext4w_reader_walk(r, "/", flags, cb, ctx, err);
    ext4w_reader_close(r);
    return ret;
}

char *ext4w_entry_format(const struct ext4w_entry *e)
{
    char type;
    cleanup_free char *size = NULL;
    switch (e->mode & S_IFMT) {
    case S_IFDIR:
        type = 'd';
        break;
    case S_IFLNK:
        type = 'l';
        break;
    case S_IFCHR:
        type = 'c';
        break;
    case S_IFBLK:
        type = 'b';
        break;
    case S_IFIFO:
        type = 'p';
        break;
    case S_IFSOCK:
        type = 's';
        break;
    default:
        type = '-';
    }
    if (type == 'c' || type == 'b')
        size = ctr_xasprintf("%u,%u", e->rdev_major, e->rdev_minor);
    else
        size = ctr_xasprintf("%llu", (unsigned long long)e->size);
    return ctr_xasprintf("%c %04o %u:%u %s %s%s%s", type, e->mode & 07777, e->uid, e->gid, size,
                         e->path, e->link_target ? " -> " : "",
                         e->link_target ? e->link_target : "");
}
