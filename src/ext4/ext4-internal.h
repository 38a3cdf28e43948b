/* Private to src/ext4: the writer session and its in-memory tree. */
#ifndef CTR_EXT4_INTERNAL_H
#define CTR_EXT4_INTERNAL_H

#include "ext4/ext4.h"

#include <et/com_err.h>
#include <ext2fs/ext2_fs.h>
#include <ext2fs/ext2fs.h>

struct ext4w_node {
    struct ext4w_node *parent;       /* containing directory (root: NULL) */
    struct ext4w_node *hnext;        /* hash chain */
    struct ext4w_node *prev, *next;  /* siblings */
    struct ext4w_node *first, *last; /* children, directories only */
    uint32_t ino;
    uint32_t tag;
    uint32_t nsub; /* subdirectories, directories only */
    char *link;    /* symlink target, symlinks only */
    uint16_t namelen;
    uint8_t ftype; /* EXT2_FT_* */
    char name[];   /* not NUL terminated */
};

struct ext4w {
    ext2_filsys fs;
    char *path;
    unsigned bs;    /* block size */
    unsigned isize; /* on-disk inode size */
    struct ext4w_node *root;
    struct ext4w_node **buckets;
    size_t nbuckets, nnodes;
    uint32_t new_tag;
    uint16_t *nlinks; /* link count of non-directory inodes, by inode number */
    ext2_ino_t ino_cursor;
    blk64_t blk_cursor;
    /* write-combining buffer for data and directory blocks */
    char *wbuf;
    blk64_t wstart;
    size_t wcount, wcap; /* in blocks */
    char *part;          /* one block being assembled from unaligned data */
    char *scratch;       /* cleaned path of the last resolve */
    size_t scratch_cap;
};

/* An inode as written to disk: the large struct padded to the inode size. */
union ext4w_ibuf {
    struct ext2_inode_large in;
    char raw[1024];
};

/* The files call downwards only: create -> path -> inode -> tree, data; read -> data. */

/* ext4w-tree.c */
void ext4w_tree_init(ext4w_t *w);
void ext4w_tree_free(ext4w_t *w);
struct ext4w_node *ext4w_node_new(ext4w_t *w, struct ext4w_node *dir, const char *name, size_t len,
                                  uint32_t ino, uint8_t ftype);
int ext4w_check_name(ext4w_t *w, struct ext4w_node *dir, const char *name, size_t len,
                     ctr_error_t *err);
/* Take n out of its parent and the hash table, and free it. */
void ext4w_node_unlink(ext4w_t *w, struct ext4w_node *n);

/* ext4w-inode.c */
int ext4w_alloc_inode(ext4w_t *w, bool isdir, ext2_ino_t *ino, ctr_error_t *err);
void ext4w_fill_inode(ext4w_t *w, union ext4w_ibuf *b, const struct ext4w_attr *a);
int ext4w_set_xattrs(ext4w_t *w, ext2_ino_t ino, const struct ext4w_xattr *x, size_t nx,
                     bool replace, ctr_error_t *err);
int ext4w_set_links(ext4w_t *w, ext2_ino_t ino, uint16_t links, ctr_error_t *err);
int ext4w_free_inode(ext4w_t *w, ext2_ino_t ino, bool isdir, ctr_error_t *err);
void ext4w_encode_time(const struct timespec *ts, __u32 *sec, __u32 *extra);

/* ext4w-data.c: libext2fs errors, raw inodes, block allocation, write combining, extent maps */
/* Map a libext2fs error code into *err (ENOSPC for allocation failures). */
int ext4w_fail_ext2(ctr_error_t *err, errcode_t code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int ext4w_write_inode(ext4w_t *w, ext2_ino_t ino, union ext4w_ibuf *b, ctr_error_t *err);
int ext4w_read_inode(ext4w_t *w, ext2_ino_t ino, union ext4w_ibuf *b, ctr_error_t *err);
struct ext4w_extents {
    struct ext2fs_extent *v;
    size_t n, cap;
    blk64_t nblocks;
};
int ext4w_wflush(ext4w_t *w, ctr_error_t *err);
/* Allocate blocks for n logical blocks at lblk and write data (n blocks). */
int ext4w_put_blocks(ext4w_t *w, struct ext4w_extents *ex, blk64_t lblk, const char *data, size_t n,
                     ctr_error_t *err);
/* Install the extent map ex into inode b of ino (writes the inode). */
int ext4w_map_extents(ext4w_t *w, ext2_ino_t ino, union ext4w_ibuf *b,
                      const struct ext4w_extents *ex, ctr_error_t *err);
int ext4w_write_data(ext4w_t *w, ext2_ino_t ino, union ext4w_ibuf *b, uint64_t size,
                     ext4w_read_fn fn, void *ctx, ctr_error_t *err);
/* Write the blocks of every directory (at close). */
int ext4w_write_dirs(ext4w_t *w, ctr_error_t *err);

#endif
