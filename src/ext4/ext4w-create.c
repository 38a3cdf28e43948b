/* Writer sessions: format a sparse image, finish it at close. */
#include "ext4/ext4-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#define EXT4W_BLOCK_SIZE 4096u
#define EXT4W_INODE_SIZE 256u
#define EXT4W_WBUF_BLOCKS 2048u /* 8 MiB write-combining buffer */

static void random_bytes(uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t r = getrandom(p, n, 0);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            abort(); /* no entropy source at all: nothing sensible left */
        }
        p += r;
        n -= (size_t)r;
    }
}

static void session_free(ext4w_t *w)
{
    if (w == NULL)
        return;
    if (w->fs)
        ext2fs_free(w->fs);
    ext4w_tree_free(w);
    free(w->nlinks);
    free(w->wbuf);
    free(w->part);
    free(w->scratch);
    free(w->path);
    free(w);
}

static int format(ext4w_t *w, const struct ext4w_opts *o, ctr_error_t *err)
{
    struct ext2_super_block param;
    uint64_t blocks = o->size_bytes / EXT4W_BLOCK_SIZE;
    uint64_t inodes = o->inodes ? o->inodes : blocks;
    errcode_t rc;

    if (inodes < 1024)
        inodes = 1024;
    if (inodes > UINT32_MAX - 1)
        inodes = UINT32_MAX - 1;
    memset(&param, 0, sizeof(param));
    ext2fs_blocks_count_set(&param, blocks);
    param.s_log_block_size = 2; /* 4 KiB */
    param.s_rev_level = EXT2_DYNAMIC_REV;
    param.s_inode_size = EXT4W_INODE_SIZE;
    param.s_inodes_count = (__u32)inodes;
    param.s_log_groups_per_flex = 4;
    param.s_desc_size = EXT2_MIN_DESC_SIZE_64BIT;
    param.s_min_extra_isize = param.s_want_extra_isize =
        sizeof(struct ext2_inode_large) - EXT2_GOOD_OLD_INODE_SIZE;
    ext2fs_set_feature_xattr(&param);
    ext2fs_set_feature_dir_index(&param);
    ext2fs_set_feature_filetype(&param);
    ext2fs_set_feature_extents(&param);
    ext2fs_set_feature_64bit(&param);
    ext2fs_set_feature_flex_bg(&param);
    ext2fs_set_feature_sparse_super(&param);
    ext2fs_set_feature_large_file(&param);
    ext2fs_set_feature_huge_file(&param);
    ext2fs_set_feature_dir_nlink(&param);
    ext2fs_set_feature_extra_isize(&param);
    ext2fs_set_feature_metadata_csum(&param);

    rc = ext2fs_initialize(w->path, EXT2_FLAG_64BITS, &param, unix_io_manager, &w->fs);
    if (rc)
        return ext4w_fail_ext2(err, rc, "cannot format `%s` (%llu bytes)", w->path,
                               (unsigned long long)o->size_bytes);
    ext2_filsys fs = w->fs;
    struct ext2_super_block *sb = fs->super;
    if (o->uuid)
        memcpy(sb->s_uuid, o->uuid, sizeof(sb->s_uuid));
    else
        random_bytes(sb->s_uuid, sizeof(sb->s_uuid));
    sb->s_uuid[6] = (sb->s_uuid[6] & 0x0f) | 0x40; /* version 4 */
    sb->s_uuid[8] = (sb->s_uuid[8] & 0x3f) | 0x80;
    memcpy(sb->s_hash_seed, sb->s_uuid, sizeof(sb->s_hash_seed));
    sb->s_hash_seed[0] ^= 0x5a; /* distinct from the uuid, still reproducible */
    sb->s_def_hash_version = EXT2_HASH_HALF_MD4;
    sb->s_checksum_type = EXT2_CRC32C_CHKSUM;
    sb->s_max_mnt_count = (__s16)-1;
    if (o->label)
        strncpy((char *)sb->s_volume_name, o->label, sizeof(sb->s_volume_name));
    ext2fs_init_csum_seed(fs);

    rc = ext2fs_allocate_tables(fs);
    if (rc)
        return ext4w_fail_ext2(err, rc, "cannot allocate the tables of `%s`", w->path);
    /* The file is new and sparse: inode tables already read as zeros, so
     * nothing is written for them (mke2fs's itable_zeroed case). */
    for (dgrp_t g = 0; g < fs->group_desc_count; g++) {
        ext2fs_bg_flags_set(fs, g, EXT2_BG_INODE_ZEROED);
        ext2fs_group_desc_csum_set(fs, g);
    }
    /* reserved inodes, like mke2fs */
    ext2fs_inode_alloc_stats2(fs, EXT2_BAD_INO, +1, 0);
    for (ext2_ino_t i = EXT2_ROOT_INO + 1; i < EXT2_FIRST_INODE(sb); i++)
        ext2fs_inode_alloc_stats2(fs, i, +1, 0);
    rc = ext2fs_update_bb_inode(fs, NULL);
    if (rc)
        return ext4w_fail_ext2(err, rc, "cannot write the bad block inode");
    return 0;
}

int ext4w_create(const char *path, const struct ext4w_opts *o, ext4w_t **out, ctr_error_t *err)
{
    ext4w_t *w;
    int fd;

    if (o->size_bytes < 4 * 1024 * 1024)
        return ctr_fail(err, EINVAL, "image size %llu is below the minimum of 4 MiB",
                        (unsigned long long)o->size_bytes);
    fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0)
        return ctr_fail(err, errno, "cannot create image `%s`", path);
    if (ftruncate(fd, (off_t)(o->size_bytes / EXT4W_BLOCK_SIZE * EXT4W_BLOCK_SIZE)) < 0) {
        int e = errno;
        close(fd);
        return ctr_fail(err, e, "cannot size image `%s` to %llu bytes", path,
                        (unsigned long long)o->size_bytes);
    }
    close(fd);

    w = ctr_xcalloc(1, sizeof(*w));
    w->path = ctr_xstrdup(path);
    ext4w_tree_init(w);
    if (format(w, o, err) < 0)
        goto fail;
    w->bs = w->fs->blocksize;
    w->isize = EXT2_INODE_SIZE(w->fs->super);
    w->wcap = EXT4W_WBUF_BLOCKS;
    w->wbuf = ctr_xmalloc(w->wcap * w->bs);
    w->part = ctr_xmalloc(w->bs);
    w->nlinks = ctr_xcalloc((size_t)w->fs->super->s_inodes_count + 1, sizeof(*w->nlinks));
    w->blk_cursor = w->fs->super->s_first_data_block;

    /* The root directory: its blocks are written at close like any other. */
    struct timespec t = {o->root_time ? o->root_time : time(NULL), 0};
    struct ext4w_attr ra = {.mode = S_IFDIR | 0755, .atime = t, .mtime = t, .ctime = t};
    union ext4w_ibuf b;
    ext2fs_inode_alloc_stats2(w->fs, EXT2_ROOT_INO, +1, 1);
    ext4w_fill_inode(w, &b, &ra);
    b.in.i_links_count = 2;
    if (ext4w_write_inode(w, EXT2_ROOT_INO, &b, err) < 0)
        goto fail;
    w->root = ext4w_node_new(w, NULL, "", 0, EXT2_ROOT_INO, EXT2_FT_DIR);
    if (o->lost_found) {
        struct ext4w_attr la = ra;
        la.mode = S_IFDIR | 0700;
        if (ext4w_mkdir(w, w->root, "lost+found", 10, &la, NULL, 0, NULL, err) < 0)
            goto fail;
    }
    if (o->journal) {
        struct ext2fs_journal_params jp;
        errcode_t rc = ext2fs_get_journal_params(&jp, w->fs);
        if (rc == 0)
            rc = ext2fs_add_journal_inode3(w->fs, &jp, ~0ULL,
                                           EXT2_MKJOURNAL_LAZYINIT | EXT2_MKJOURNAL_NO_MNT_CHECK);
        if (rc) {
            ext4w_fail_ext2(err, rc, "cannot add a journal to `%s`", path);
            goto fail;
        }
    }
    *out = w;
    return 0;
fail:
    session_free(w);
    return -1;
}

int ext4w_close(ext4w_t *w, ctr_error_t *err)
{
    int ret = ext4w_wflush(w, err);
    if (ret == 0)
        ret = ext4w_write_dirs(w, err);
    if (ret == 0) {
        ext2_filsys fs = w->fs;
        w->fs = NULL;
        /* writes bitmaps, group descriptors and superblocks, then syncs */
        errcode_t rc = ext2fs_close_free(&fs);
        if (rc)
            ret = ext4w_fail_ext2(err, rc, "cannot finish image `%s`", w->path);
    }
    session_free(w);
    return ret;
}

void ext4w_discard(ext4w_t *w)
{
    session_free(w);
}

void ext4w_usage(ext4w_t *w, struct ext4w_usage *u)
{
    struct ext2_super_block *sb = w->fs->super;
    u->block_size = w->bs;
    u->blocks_total = ext2fs_blocks_count(sb);
    u->blocks_used = u->blocks_total - ext2fs_free_blocks_count(sb);
    u->inodes_total = sb->s_inodes_count;
    u->inodes_used = sb->s_inodes_count - sb->s_free_inodes_count;
}
