/* Inodes: allocation, metadata, xattrs, and the entry-creating operations. */
#include "ext4/ext4-internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define EXT4W_LINK_MAX 65000

int ext4w_alloc_inode(ext4w_t *w, bool isdir, ext2_ino_t *ino, ctr_error_t *err)
{
    ext2_filsys fs = w->fs;
    ext2_ino_t first = EXT2_FIRST_INODE(fs->super), last = fs->super->s_inodes_count, found;

    /* A cursor instead of ext2fs_new_inode(): that one scans from the start
     * of the group for every inode. Freed inodes are reused after a wrap. */
    if (w->ino_cursor < first || w->ino_cursor > last)
        w->ino_cursor = first;
    if (ext2fs_find_first_zero_inode_bitmap2(fs->inode_map, w->ino_cursor, last, &found) != 0 &&
        ext2fs_find_first_zero_inode_bitmap2(fs->inode_map, first, last, &found) != 0)
        return ctr_fail(err, ENOSPC, "image `%s` has no free inode left (%u in all)", w->path,
                        last);
    ext2fs_inode_alloc_stats2(fs, found, +1, isdir);
    w->ino_cursor = found + 1;
    *ino = found;
    return 0;
}

void ext4w_encode_time(const struct timespec *ts, __u32 *sec, __u32 *extra)
{
    int64_t s = ts->tv_sec;
    uint32_t ns = (ts->tv_nsec >= 0 && ts->tv_nsec < 1000000000) ? (uint32_t)ts->tv_nsec : 0;
    *sec = (__u32)(int32_t)s;
    /* the epoch bits: (s - low 32 bits as signed) >> 32, in unsigned arithmetic
     * so that a tar's extreme mtime (INT64_MAX) cannot overflow */
    *extra = (__u32)((((uint64_t)s - (uint64_t)(int64_t)(int32_t)s) >> 32) & 3) | (ns << 2);
}

void ext4w_fill_inode(ext4w_t *w, union ext4w_ibuf *b, const struct ext4w_attr *a)
{
    struct ext2_inode_large *in = &b->in;
    memset(b->raw, 0, w->isize);
    in->i_mode = (__u16)a->mode;
    in->i_uid = (__u16)a->uid;
    ext2fs_set_i_uid_high(*in, a->uid >> 16);
    in->i_gid = (__u16)a->gid;
    ext2fs_set_i_gid_high(*in, a->gid >> 16);
    in->i_links_count = 1;
    in->i_extra_isize = sizeof(struct ext2_inode_large) - EXT2_GOOD_OLD_INODE_SIZE;
    ext4w_encode_time(&a->atime, &in->i_atime, &in->i_atime_extra);
    ext4w_encode_time(&a->mtime, &in->i_mtime, &in->i_mtime_extra);
    ext4w_encode_time(&a->ctime, &in->i_ctime, &in->i_ctime_extra);
    ext4w_encode_time(&a->mtime, &in->i_crtime, &in->i_crtime_extra);
}

bool ext4w_xattr_supported(const char *name)
{
    static const char *const prefixes[] = {"user.", "trusted.", "security."};
    for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
        size_t l = strlen(prefixes[i]);
        if (strncmp(name, prefixes[i], l) == 0 && name[l] != '\0')
            return true;
    }
    return strcmp(name, "system.posix_acl_access") == 0 ||
           strcmp(name, "system.posix_acl_default") == 0;
}

static int collect_name(char *name, char *value, size_t len, void *data)
{
    ctr_strv_append((char ***)data, name);
    return 0;
}

int ext4w_set_xattrs(ext4w_t *w, ext2_ino_t ino, const struct ext4w_xattr *x, size_t nx,
                     bool replace, ctr_error_t *err)
{
    struct ext2_xattr_handle *h = NULL;
    cleanup_strv char **old = NULL;
    errcode_t rc;

    if (nx == 0 && !replace)
        return 0;
    for (size_t i = 0; i < nx; i++)
        if (!ext4w_xattr_supported(x[i].name))
            return ctr_fail(err, EOPNOTSUPP, "xattr `%s` is not in a namespace ext4 stores",
                            x[i].name);
    rc = ext2fs_xattrs_open(w->fs, ino, &h);
    if (rc == 0)
        rc = ext2fs_xattrs_read(h);
    if (rc == 0 && replace) {
        rc = ext2fs_xattrs_iterate(h, collect_name, &old);
        for (size_t i = 0; rc == 0 && old && old[i]; i++)
            rc = ext2fs_xattr_remove(h, old[i]);
    }
    for (size_t i = 0; rc == 0 && i < nx; i++) {
        rc = ext2fs_xattr_set(h, x[i].name, x[i].value, x[i].len);
        if (rc) {
            ext2fs_xattrs_close(&h);
            return ext4w_fail_ext2(err, rc, "cannot set xattr `%s` (%zu bytes) on inode %u",
                                   x[i].name, x[i].len, ino);
        }
    }
    errcode_t rc2 = h ? ext2fs_xattrs_close(&h) : 0;
    if (rc || rc2)
        return ext4w_fail_ext2(err, rc ? rc : rc2, "cannot write xattrs of inode %u", ino);
    return 0;
}

int ext4w_free_inode(ext4w_t *w, ext2_ino_t ino, bool isdir, ctr_error_t *err)
{
    union ext4w_ibuf b;
    errcode_t rc;

    /* Pending writes may target blocks freed here; they must land before
     * the blocks can be handed out again. */
    if (ext4w_wflush(w, err) < 0)
        return -1;
    if (ext4w_read_inode(w, ino, &b, err) < 0)
        return -1;
    if (b.in.i_flags & EXT4_EXTENTS_FL) {
        rc = ext2fs_punch(w->fs, ino, (struct ext2_inode *)&b.in, NULL, 0, ~0ULL);
        if (rc)
            return ext4w_fail_ext2(err, rc, "cannot free the blocks of inode %u", ino);
    }
    if (ext2fs_file_acl_block(w->fs, (struct ext2_inode *)&b.in)) {
        rc = ext2fs_free_ext_attr(w->fs, ino, &b.in);
        if (rc)
            return ext4w_fail_ext2(err, rc, "cannot free the xattrs of inode %u", ino);
    }
    memset(b.raw, 0, w->isize);
    b.in.i_dtime = (__u32)time(NULL);
    if (ext4w_write_inode(w, ino, &b, err) < 0)
        return -1;
    ext2fs_inode_alloc_stats2(w->fs, ino, -1, isdir);
    return 0;
}

static uint8_t ftype_of(uint32_t mode)
{
    switch (mode & S_IFMT) {
    case S_IFDIR:
        return EXT2_FT_DIR;
    case S_IFLNK:
        return EXT2_FT_SYMLINK;
    case S_IFCHR:
        return EXT2_FT_CHRDEV;
    case S_IFBLK:
        return EXT2_FT_BLKDEV;
    case S_IFIFO:
        return EXT2_FT_FIFO;
    case S_IFSOCK:
        return EXT2_FT_SOCK;
    case S_IFREG:
        return EXT2_FT_REG_FILE;
    default:
        return EXT2_FT_UNKNOWN;
    }
}

/* Allocate, fill and write a new inode of type `type`, with xattrs. */
static int new_inode(ext4w_t *w, uint32_t type, const struct ext4w_attr *a,
                     const struct ext4w_xattr *x, size_t nx, union ext4w_ibuf *b, ext2_ino_t *ino,
                     ctr_error_t *err)
{
    struct ext4w_attr at = *a;
    at.mode = (a->mode & 07777) | type;
    /* refuse bad xattrs before anything is allocated */
    for (size_t i = 0; i < nx; i++)
        if (!ext4w_xattr_supported(x[i].name))
            return ctr_fail(err, EOPNOTSUPP, "xattr `%s` is not in a namespace ext4 stores",
                            x[i].name);
    if (ext4w_alloc_inode(w, type == S_IFDIR, ino, err) < 0)
        return -1;
    ext4w_fill_inode(w, b, &at);
    return 0;
}

static int finish_inode(ext4w_t *w, ext2_ino_t ino, union ext4w_ibuf *b,
                        const struct ext4w_xattr *x, size_t nx, ctr_error_t *err)
{
    if (ext4w_write_inode(w, ino, b, err) < 0)
        return -1;
    return ext4w_set_xattrs(w, ino, x, nx, false, err);
}

int ext4w_mkdir(ext4w_t *w, ext4w_node_t *dir, const char *name, size_t len,
                const struct ext4w_attr *a, const struct ext4w_xattr *x, size_t nx,
                ext4w_node_t **out, ctr_error_t *err)
{
    union ext4w_ibuf b;
    ext2_ino_t ino;

    if (ext4w_check_name(w, dir, name, len, err) < 0)
        return -1;
    if (new_inode(w, S_IFDIR, a, x, nx, &b, &ino, err) < 0)
        return -1;
    /* Blocks, size and link count are set when the directory is written. */
    b.in.i_links_count = 2;
    if (finish_inode(w, ino, &b, x, nx, err) < 0)
        return -1;
    struct ext4w_node *n = ext4w_node_new(w, dir, name, len, ino, EXT2_FT_DIR);
    if (out)
        *out = n;
    return 0;
}

int ext4w_add_file(ext4w_t *w, ext4w_node_t *dir, const char *name, size_t len,
                   const struct ext4w_attr *a, const struct ext4w_xattr *x, size_t nx,
                   uint64_t size, ext4w_read_fn fn, void *ctx, ext4w_node_t **out, ctr_error_t *err)
{
    union ext4w_ibuf b;
    ext2_ino_t ino;

    if (ext4w_check_name(w, dir, name, len, err) < 0)
        return -1;
    if (new_inode(w, S_IFREG, a, x, nx, &b, &ino, err) < 0)
        return -1;
    /* The node goes in first so that a failure below still frees the inode
     * through the tree; the caller discards the image on error anyway. */
    struct ext4w_node *n = ext4w_node_new(w, dir, name, len, ino, EXT2_FT_REG_FILE);
    w->nlinks[ino] = 1;
    if (ext4w_write_data(w, ino, &b, size, fn, ctx, err) < 0)
        return -1;
    if (ext4w_set_xattrs(w, ino, x, nx, false, err) < 0)
        return -1;
    if (out)
        *out = n;
    return 0;
}

struct one_chunk {
    const char *data;
    size_t len;
    bool done;
};

static int one_chunk_read(void *ctx, const void **buf, size_t *len, uint64_t *off, ctr_error_t *err)
{
    struct one_chunk *c = ctx;
    if (c->done)
        return 0;
    c->done = true;
    *buf = c->data;
    *len = c->len;
    *off = 0;
    return 1;
}

int ext4w_symlink(ext4w_t *w, ext4w_node_t *dir, const char *name, size_t len, const char *target,
                  const struct ext4w_attr *a, const struct ext4w_xattr *x, size_t nx,
                  ext4w_node_t **out, ctr_error_t *err)
{
    union ext4w_ibuf b;
    ext2_ino_t ino;
    size_t tlen = strlen(target);

    if (ext4w_check_name(w, dir, name, len, err) < 0)
        return -1;
    if (tlen == 0 || tlen >= w->bs)
        return ctr_fail(err, ENAMETOOLONG,
                        "symlink target of `%.*s` must be 1 to %u bytes, not %zu", (int)len, name,
                        w->bs - 1, tlen);
    if (new_inode(w, S_IFLNK, a, x, nx, &b, &ino, err) < 0)
        return -1;
    struct ext4w_node *n = ext4w_node_new(w, dir, name, len, ino, EXT2_FT_SYMLINK);
    n->link = ctr_xstrdup(target);
    w->nlinks[ino] = 1;
    if (tlen < sizeof(b.in.i_block)) {
        /* fast symlink: the target lives in the block map area */
        memcpy(b.in.i_block, target, tlen);
        b.in.i_size = (__u32)tlen;
        if (finish_inode(w, ino, &b, NULL, 0, err) < 0)
            return -1;
    } else {
        struct one_chunk c = {target, tlen, false};
        if (ext4w_write_data(w, ino, &b, tlen, one_chunk_read, &c, err) < 0)
            return -1;
    }
    if (ext4w_set_xattrs(w, ino, x, nx, false, err) < 0)
        return -1;
    if (out)
        *out = n;
    return 0;
}

int ext4w_mknod(ext4w_t *w, ext4w_node_t *dir, const char *name, size_t len,
                const struct ext4w_attr *a, const struct ext4w_xattr *x, size_t nx,
                ext4w_node_t **out, ctr_error_t *err)
{
    union ext4w_ibuf b;
    ext2_ino_t ino;
    uint32_t type = a->mode & S_IFMT;

    if (type != S_IFCHR && type != S_IFBLK && type != S_IFIFO && type != S_IFSOCK)
        return ctr_fail(err, EINVAL, "mode %#o of `%.*s` is not a device, fifo or socket", a->mode,
                        (int)len, name);
    if (ext4w_check_name(w, dir, name, len, err) < 0)
        return -1;
    if (new_inode(w, type, a, x, nx, &b, &ino, err) < 0)
        return -1;
    if (type == S_IFCHR || type == S_IFBLK) {
        uint32_t ma = a->rdev_major, mi = a->rdev_minor;
        /* the kernel's old/new device encodings (ext4_inode set_inode_dev) */
        if (ma < 256 && mi < 256) {
            b.in.i_block[0] = (ma << 8) | mi;
        } else {
            b.in.i_block[1] = (mi & 0xff) | ((ma & 0xfff) << 8) | ((mi & ~0xffu) << 12);
        }
    }
    if (finish_inode(w, ino, &b, x, nx, err) < 0)
        return -1;
    struct ext4w_node *n = ext4w_node_new(w, dir, name, len, ino, ftype_of(type));
    w->nlinks[ino] = 1;
    if (out)
        *out = n;
    return 0;
}

int ext4w_set_links(ext4w_t *w, ext2_ino_t ino, uint16_t links, ctr_error_t *err)
{
    union ext4w_ibuf b;
    if (ext4w_read_inode(w, ino, &b, err) < 0)
        return -1;
    b.in.i_links_count = links;
    return ext4w_write_inode(w, ino, &b, err);
}

int ext4w_link(ext4w_t *w, ext4w_node_t *dir, const char *name, size_t len, ext4w_node_t *target,
               ext4w_node_t **out, ctr_error_t *err)
{
    if (target->ftype == EXT2_FT_DIR)
        return ctr_fail(err, EPERM, "cannot hard link `%.*s` to a directory", (int)len, name);
    if (ext4w_check_name(w, dir, name, len, err) < 0)
        return -1;
    if (w->nlinks[target->ino] >= EXT4W_LINK_MAX)
        return ctr_fail(err, EMLINK, "inode of `%.*s` has %d links already", (int)len, name,
                        EXT4W_LINK_MAX);
    if (ext4w_set_links(w, target->ino, w->nlinks[target->ino] + 1, err) < 0)
        return -1;
    struct ext4w_node *n = ext4w_node_new(w, dir, name, len, target->ino, target->ftype);
    if (target->link)
        n->link = ctr_xstrdup(target->link);
    w->nlinks[target->ino]++;
    if (out)
        *out = n;
    return 0;
}

int ext4w_set_attr(ext4w_t *w, ext4w_node_t *n, const struct ext4w_attr *a,
                   const struct ext4w_xattr *x, size_t nx, ctr_error_t *err)
{
    union ext4w_ibuf b, nb;

    if (ext4w_read_inode(w, n->ino, &b, err) < 0)
        return -1;
    struct ext4w_attr at = *a;
    at.mode = (a->mode & 07777) | (b.in.i_mode & S_IFMT);
    ext4w_fill_inode(w, &nb, &at);
    b.in.i_mode = nb.in.i_mode;
    b.in.i_uid = nb.in.i_uid;
    b.in.i_gid = nb.in.i_gid;
    ext2fs_set_i_uid_high(b.in, a->uid >> 16);
    ext2fs_set_i_gid_high(b.in, a->gid >> 16);
    b.in.i_atime = nb.in.i_atime;
    b.in.i_atime_extra = nb.in.i_atime_extra;
    b.in.i_mtime = nb.in.i_mtime;
    b.in.i_mtime_extra = nb.in.i_mtime_extra;
    b.in.i_ctime = nb.in.i_ctime;
    b.in.i_ctime_extra = nb.in.i_ctime_extra;
    if (ext4w_write_inode(w, n->ino, &b, err) < 0)
        return -1;
    if (x)
        return ext4w_set_xattrs(w, n->ino, x, nx, true, err);
    return 0;
}
