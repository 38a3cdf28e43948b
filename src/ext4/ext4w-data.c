/* The bottom of the writer: libext2fs errors, raw inode I/O, block allocation,
 * write combining, extent maps, file data, directories. */
#include "ext4/ext4-internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define EXT4W_EXTENT_MAX 32768u /* blocks in one initialized extent */

int ext4w_fail_ext2(ctr_error_t *err, errcode_t code, const char *fmt, ...)
{
    va_list ap;
    char *msg;
    int errnum = 0;

    va_start(ap, fmt);
    if (vasprintf(&msg, fmt, ap) < 0)
        abort();
    va_end(ap);
    if (code == EXT2_ET_BLOCK_ALLOC_FAIL || code == EXT2_ET_INODE_ALLOC_FAIL ||
        code == EXT2_ET_DIR_NO_SPACE || code == EXT2_ET_EA_NO_SPACE || code == ENOSPC)
        errnum = ENOSPC;
    else if (code > 0 && code < 4096)
        errnum = (int)code;
    if (errnum == ENOSPC)
        ctr_fail(err, ENOSPC, "%s: image is full", msg);
    else
        ctr_fail(err, errnum, "%s: %s", msg, errnum ? strerror(errnum) : error_message(code));
    free(msg);
    return -1;
}

int ext4w_write_inode(ext4w_t *w, ext2_ino_t ino, union ext4w_ibuf *b, ctr_error_t *err)
{
    errcode_t rc = ext2fs_write_inode_full(w->fs, ino, (struct ext2_inode *)b->raw, w->isize);
    if (rc)
        return ext4w_fail_ext2(err, rc, "cannot write inode %u", ino);
    return 0;
}

int ext4w_read_inode(ext4w_t *w, ext2_ino_t ino, union ext4w_ibuf *b, ctr_error_t *err)
{
    errcode_t rc = ext2fs_read_inode_full(w->fs, ino, (struct ext2_inode *)b->raw, w->isize);
    if (rc)
        return ext4w_fail_ext2(err, rc, "cannot read inode %u", ino);
    return 0;
}

int ext4w_wflush(ext4w_t *w, ctr_error_t *err)
{
    if (w->wcount == 0)
        return 0;
    errcode_t rc = io_channel_write_blk64(w->fs->io, w->wstart, (int)w->wcount, w->wbuf);
    if (rc)
        return ext4w_fail_ext2(err, rc, "cannot write %zu blocks at %llu to `%s`", w->wcount,
                               (unsigned long long)w->wstart, w->path);
    w->wcount = 0;
    return 0;
}

/* Queue n blocks for pblk; consecutive runs go out in one large write. */
static int wput(ext4w_t *w, blk64_t pblk, const char *data, size_t n, ctr_error_t *err)
{
    if (w->wcount && pblk == w->wstart + w->wcount && w->wcount + n <= w->wcap) {
        memcpy(w->wbuf + w->wcount * w->bs, data, n * w->bs);
        w->wcount += n;
        return 0;
    }
    if (ext4w_wflush(w, err) < 0)
        return -1;
    if (n >= w->wcap) {
        errcode_t rc = io_channel_write_blk64(w->fs->io, pblk, (int)n, data);
        if (rc)
            return ext4w_fail_ext2(err, rc, "cannot write %zu blocks to `%s`", n, w->path);
        return 0;
    }
    memcpy(w->wbuf, data, n * w->bs);
    w->wstart = pblk;
    w->wcount = n;
    return 0;
}

static void add_extent(struct ext4w_extents *ex, blk64_t lblk, blk64_t pblk, blk64_t len)
{
    ex->nblocks += len;
    while (len) {
        struct ext2fs_extent *last = ex->n ? &ex->v[ex->n - 1] : NULL;
        if (last && last->e_lblk + last->e_len == lblk && last->e_pblk + last->e_len == pblk &&
            last->e_len < EXT4W_EXTENT_MAX) {
            blk64_t add = EXT4W_EXTENT_MAX - last->e_len;
            if (add > len)
                add = len;
            last->e_len += (__u32)add;
            lblk += add;
            pblk += add;
            len -= add;
            continue;
        }
        if (ex->n == ex->cap) {
            ex->cap = ex->cap ? ex->cap * 2 : 8;
            ex->v = ctr_xrealloc(ex->v, ex->cap * sizeof(*ex->v));
        }
        blk64_t l = len > EXT4W_EXTENT_MAX ? EXT4W_EXTENT_MAX : len;
        ex->v[ex->n++] = (struct ext2fs_extent){.e_pblk = pblk, .e_lblk = lblk, .e_len = (__u32)l};
        lblk += l;
        pblk += l;
        len -= l;
    }
}

int ext4w_put_blocks(ext4w_t *w, struct ext4w_extents *ex, blk64_t lblk, const char *data, size_t n,
                     ctr_error_t *err)
{
    while (n) {
        blk64_t pblk, plen;
        errcode_t rc = ext2fs_new_range(w->fs, 0, w->blk_cursor, n, NULL, &pblk, &plen);
        if (rc)
            return ext4w_fail_ext2(err, rc, "cannot allocate %zu blocks in `%s`", n, w->path);
        if (plen > n)
            plen = n;
        ext2fs_block_alloc_stats_range(w->fs, pblk, plen, +1);
        if (wput(w, pblk, data, plen, err) < 0)
            return -1;
        add_extent(ex, lblk, pblk, plen);
        w->blk_cursor = pblk + plen;
        lblk += plen;
        data += plen * w->bs;
        n -= plen;
    }
    return 0;
}

int ext4w_map_extents(ext4w_t *w, ext2_ino_t ino, union ext4w_ibuf *b,
                      const struct ext4w_extents *ex, ctr_error_t *err)
{
    struct ext2_inode *in = (struct ext2_inode *)&b->in;
    struct ext3_extent_header *eh = (struct ext3_extent_header *)b->in.i_block;
    errcode_t rc;

    memset(b->in.i_block, 0, sizeof(b->in.i_block));
    b->in.i_flags |= EXT4_EXTENTS_FL;
    eh->eh_magic = ext2fs_cpu_to_le16(EXT3_EXT_MAGIC);
    eh->eh_max = ext2fs_cpu_to_le16(4);
    if (ex->n <= 4) {
        /* Most files: the whole map fits in the inode, no handle needed. */
        struct ext3_extent *e = (struct ext3_extent *)(eh + 1);
        eh->eh_entries = ext2fs_cpu_to_le16((__u16)ex->n);
        for (size_t i = 0; i < ex->n; i++) {
            e[i].ee_block = ext2fs_cpu_to_le32((__u32)ex->v[i].e_lblk);
            e[i].ee_len = ext2fs_cpu_to_le16((__u16)ex->v[i].e_len);
            e[i].ee_start = ext2fs_cpu_to_le32((__u32)ex->v[i].e_pblk);
            e[i].ee_start_hi = ext2fs_cpu_to_le16((__u16)(ex->v[i].e_pblk >> 32));
        }
        rc = ext2fs_iblk_set(w->fs, in, ex->nblocks);
        if (rc)
            return ext4w_fail_ext2(err, rc, "cannot set block count of inode %u", ino);
        return ext4w_write_inode(w, ino, b, err);
    }
    rc = ext2fs_iblk_set(w->fs, in, 0);
    if (rc == 0 && ext4w_write_inode(w, ino, b, err) < 0)
        return -1;
    ext2_extent_handle_t h = NULL;
    if (rc == 0)
        rc = ext2fs_extent_open2(w->fs, ino, in, &h);
    for (size_t i = 0; rc == 0 && i < ex->n; i++) {
        struct ext2fs_extent e = ex->v[i];
        rc = ext2fs_extent_insert(h, EXT2_EXTENT_INSERT_AFTER, &e);
        if (rc == 0)
            rc = ext2fs_extent_fix_parents(h);
    }
    if (h)
        ext2fs_extent_free(h);
    if (rc == 0)
        rc = ext2fs_iblk_add_blocks(w->fs, in, ex->nblocks);
    if (rc)
        return ext4w_fail_ext2(err, rc, "cannot map %zu extents of inode %u", ex->n, ino);
    return ext4w_write_inode(w, ino, b, err);
}

static bool block_is_zero(const char *p, size_t bs)
{
    return p[0] == 0 && memcmp(p, p + 1, bs - 1) == 0;
}

/* Write n whole blocks at lblk, leaving all-zero blocks as holes. */
static int emit(ext4w_t *w, struct ext4w_extents *ex, blk64_t lblk, const char *data, size_t n,
                ctr_error_t *err)
{
    size_t i = 0;
    while (i < n) {
        while (i < n && block_is_zero(data + i * w->bs, w->bs))
            i++;
        size_t s = i;
        while (i < n && !block_is_zero(data + i * w->bs, w->bs))
            i++;
        if (i > s && ext4w_put_blocks(w, ex, lblk + s, data + s * w->bs, i - s, err) < 0)
            return -1;
    }
    return 0;
}

int ext4w_write_data(ext4w_t *w, ext2_ino_t ino, union ext4w_ibuf *b, uint64_t size,
                     ext4w_read_fn fn, void *ctx, ctr_error_t *err)
{
    struct ext4w_extents ex = {0};
    char *part = w->part;
    bool have_part = false;
    blk64_t part_lblk = 0;
    uint64_t seen = 0;
    int ret = -1;

    /* extents address 2^32 blocks: 16 TiB with 4 KiB blocks */
    if (size > ((uint64_t)1 << 32) * w->bs - w->bs)
        return ctr_fail(err, EFBIG, "file size %llu is past the ext4 limit of %llu bytes",
                        (unsigned long long)size,
                        (unsigned long long)(((uint64_t)1 << 32) * w->bs - w->bs));
    while (fn) {
        const void *vbuf;
        const char *buf;
        size_t len;
        uint64_t off;
        int r = fn(ctx, &vbuf, &len, &off, err);
        if (r < 0)
            goto out;
        if (r == 0)
            break;
        buf = vbuf;
        if (off < seen || off > size || len > size - off) {
            ctr_fail(err, EINVAL,
                     "file data at offset %llu+%zu is out of order or past the "
                     "size %llu",
                     (unsigned long long)off, len, (unsigned long long)size);
            goto out;
        }
        seen = off + len;
        while (len > 0) {
            blk64_t lblk = off / w->bs;
            size_t in = off % w->bs;
            if (have_part && lblk != part_lblk) {
                if (emit(w, &ex, part_lblk, part, 1, err) < 0)
                    goto out;
                have_part = false;
            }
            if (!have_part && in == 0 && len >= w->bs) {
                size_t n = len / w->bs;
                if (emit(w, &ex, lblk, buf, n, err) < 0)
                    goto out;
                buf += n * w->bs;
                off += n * w->bs;
                len -= n * w->bs;
                continue;
            }
            if (!have_part) {
                memset(part, 0, w->bs);
                part_lblk = lblk;
                have_part = true;
            }
            size_t c = w->bs - in < len ? w->bs - in : len;
            memcpy(part + in, buf, c);
            buf += c;
            off += c;
            len -= c;
            if (in + c == w->bs) {
                if (emit(w, &ex, part_lblk, part, 1, err) < 0)
                    goto out;
                have_part = false;
            }
        }
    }
    if (have_part && emit(w, &ex, part_lblk, part, 1, err) < 0)
        goto out;
    errcode_t rc = ext2fs_inode_size_set(w->fs, (struct ext2_inode *)&b->in, size);
    if (rc) {
        ext4w_fail_ext2(err, rc, "cannot set size %llu of inode %u", (unsigned long long)size, ino);
        goto out;
    }
    ret = ext4w_map_extents(w, ino, b, &ex, err);
out:
    free(ex.v);
    return ret;
}

struct dirbuf {
    char *buf;
    size_t cap, nblk, off, usable;
    struct ext2_dir_entry *last;
};

static void dir_close_block(ext4w_t *w, struct dirbuf *d, ext2_ino_t ino)
{
    char *blk = d->buf + (d->nblk - 1) * w->bs;
    d->last->rec_len += (__u16)(d->usable - d->off);
    if (d->usable < w->bs) {
        ext2fs_initialize_dirent_tail(w->fs, (struct ext2_dir_entry_tail *)(blk + d->usable));
        ext2fs_dir_block_csum_set(w->fs, ino, (struct ext2_dir_entry *)blk);
    }
}

static void dir_add(ext4w_t *w, struct dirbuf *d, ext2_ino_t dino, ext2_ino_t ino, const char *name,
                    size_t len, int ftype)
{
    size_t rl = EXT2_DIR_REC_LEN(len);
    if (d->nblk == 0 || d->off + rl > d->usable) {
        if (d->nblk)
            dir_close_block(w, d, dino);
        d->nblk++;
        if (d->nblk * w->bs > d->cap) {
            d->cap = d->nblk * w->bs * 2;
            d->buf = ctr_xrealloc(d->buf, d->cap);
        }
        memset(d->buf + (d->nblk - 1) * w->bs, 0, w->bs);
        d->off = 0;
    }
    struct ext2_dir_entry *de = (struct ext2_dir_entry *)(d->buf + (d->nblk - 1) * w->bs + d->off);
    de->inode = ino;
    de->rec_len = (__u16)rl;
    ext2fs_dirent_set_name_len(de, (int)len);
    ext2fs_dirent_set_file_type(de, ftype);
    memcpy(de->name, name, len);
    d->last = de;
    d->off += rl;
}

static int write_dir(ext4w_t *w, struct dirbuf *d, struct ext4w_node *n, ctr_error_t *err)
{
    struct ext4w_extents ex = {0};
    union ext4w_ibuf b;
    int ret = -1;

    d->nblk = 0;
    dir_add(w, d, n->ino, n->ino, ".", 1, EXT2_FT_DIR);
    dir_add(w, d, n->ino, n->parent ? n->parent->ino : n->ino, "..", 2, EXT2_FT_DIR);
    for (struct ext4w_node *c = n->first; c; c = c->next)
        dir_add(w, d, n->ino, c->ino, c->name, c->namelen, c->ftype);
    dir_close_block(w, d, n->ino);
    if (ext4w_put_blocks(w, &ex, 0, d->buf, d->nblk, err) < 0)
        goto out;
    if (ext4w_read_inode(w, n->ino, &b, err) < 0)
        goto out;
    ext2fs_inode_size_set(w->fs, (struct ext2_inode *)&b.in, (uint64_t)d->nblk * w->bs);
    /* dir_nlink: past 65000 subdirectories the count is 1 (unknown) */
    b.in.i_links_count = n->nsub + 2 >= EXT2_LINK_MAX ? 1 : (__u16)(n->nsub + 2);
    ret = ext4w_map_extents(w, n->ino, &b, &ex, err);
out:
    free(ex.v);
    if (ret < 0)
        ctr_error_wrap(err, "directory `%.*s` (inode %u)", (int)n->namelen, n->name, n->ino);
    return ret;
}

int ext4w_write_dirs(ext4w_t *w, ctr_error_t *err)
{
    struct dirbuf d = {0};
    int ret = 0;

    d.usable = w->bs;
    if (ext2fs_has_feature_metadata_csum(w->fs->super))
        d.usable -= sizeof(struct ext2_dir_entry_tail);
    /* Pre-order walk without recursion. */
    struct ext4w_node *n = w->root;
    while (n) {
        if (n->ftype == EXT2_FT_DIR && (ret = write_dir(w, &d, n, err)) < 0)
            break;
        if (n->ftype == EXT2_FT_DIR && n->first) {
            n = n->first;
            continue;
        }
        while (n && n->next == NULL)
            n = n->parent;
        if (n)
            n = n->next;
    }
    free(d.buf);
    if (ret == 0)
        ret = ext4w_wflush(w, err);
    return ret;
}
