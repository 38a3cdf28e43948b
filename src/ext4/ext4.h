/* ext4 image writer and reader on libext2fs. Knows nothing of OCI.
 *
 * A writer session builds a fresh image in a sparse file: the directory tree
 * lives in memory while the session is open (lookups never touch the disk),
 * file data and inodes are written as they arrive, and the directory blocks
 * are written once, at ext4w_close(). Every path given to the writer is
 * resolved inside the image: symlinks in parent components are followed
 * relative to the image root and `..` stops at the root. The writer never
 * opens anything on the host except the image file itself.
 *
 * Every non-static symbol carries the `ext4w_` prefix. */
#ifndef CTR_EXT4_H
#define CTR_EXT4_H

#include "common/common.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

typedef struct ext4w ext4w_t;
typedef struct ext4w_node ext4w_node_t;

struct ext4w_opts {
    uint64_t size_bytes; /* apparent size of the image file (sparse) */
    uint64_t inodes;     /* 0: one inode per 4 KiB, at least 1024 */
    bool journal;        /* add a (lazily initialised) journal: for writable disks */
    bool lost_found;     /* create /lost+found like mke2fs */
    const char *label;   /* volume label or NULL */
    const uint8_t *uuid; /* 16 bytes, or NULL for a random one */
    int64_t root_time;   /* seconds for the root dir times (0: now) */
};

/* Metadata of an inode. mode carries the type bits (S_IFREG...) too. */
struct ext4w_attr {
    uint32_t mode;
    uint32_t uid, gid;
    struct timespec atime, mtime, ctime;
    uint32_t rdev_major, rdev_minor; /* char/block devices */
};

struct ext4w_xattr {
    const char *name; /* with its namespace prefix: "user.x", "security.capability" */
    const void *value;
    size_t len;
};

/* Data source for regular files. Return 1 with a chunk of the file at
 * *offset (chunks come in increasing offset order; a gap is a hole), 0 at the
 * end, <0 on error (with *err set). */
typedef int (*ext4w_read_fn)(void *ctx, const void **buf, size_t *len, uint64_t *offset,
                             ctr_error_t *err);

/* ---- sessions ---- */
/* Create (or truncate) `path` as a sparse image and start a session. */
int ext4w_create(const char *path, const struct ext4w_opts *opts, ext4w_t **out, ctr_error_t *err);
/* Write directories, bitmaps and superblock, sync, end the session. Always
 * frees w. */
int ext4w_close(ext4w_t *w, ctr_error_t *err);
/* End a session without finishing the image (the caller removes the file). */
void ext4w_discard(ext4w_t *w);

struct ext4w_usage {
    uint64_t block_size, blocks_total, blocks_used;
    uint64_t inodes_total, inodes_used;
};
void ext4w_usage(ext4w_t *w, struct ext4w_usage *u);

/* ---- tree ---- */
ext4w_node_t *ext4w_root(ext4w_t *w);
/* Child `name` (len bytes) of directory dir, or NULL. */
ext4w_node_t *ext4w_child(ext4w_t *w, ext4w_node_t *dir, const char *name, size_t len);
/* File type of a node: S_IFREG, S_IFDIR, ... */
uint32_t ext4w_node_type(const ext4w_node_t *n);
uint32_t ext4w_node_ino(const ext4w_node_t *n);
/* A caller-defined number kept per node (the unpacker stores the layer). */
uint32_t ext4w_node_tag(const ext4w_node_t *n);
void ext4w_node_set_tag(ext4w_node_t *n, uint32_t tag);
/* The tag given to nodes created from now on (initially 0). */
void ext4w_set_new_tag(ext4w_t *w, uint32_t tag);
/* Iterate the children of a directory (order unspecified, stable while the
 * tree is not changed). */
ext4w_node_t *ext4w_first_child(ext4w_node_t *dir);
ext4w_node_t *ext4w_next_sibling(ext4w_node_t *n);

enum {
    EXT4W_FOLLOW = 1, /* follow a symlink in the last component too */
    EXT4W_MKDIRS = 2, /* create missing parent directories with `implied` */
};
/* Resolve all but the last component of `path` inside the image. On success
 * *dir is the parent directory and *base (*base_len bytes) the last component
 * (empty when path names the root). `implied` gives the attributes of
 * directories created with EXT4W_MKDIRS. */
int ext4w_resolve_parent(ext4w_t *w, const char *path, int flags, const struct ext4w_attr *implied,
                         ext4w_node_t **dir, const char **base, size_t *base_len, ctr_error_t *err);
/* Resolve a whole path; *out is NULL (and 0 returned) when it does not exist. */
int ext4w_lookup(ext4w_t *w, const char *path, int flags, ext4w_node_t **out, ctr_error_t *err);

/* ---- creating entries (name must not exist in dir) ---- */
int ext4w_mkdir(ext4w_t *w, ext4w_node_t *dir, const char *name, size_t len,
                const struct ext4w_attr *a, const struct ext4w_xattr *x, size_t nx,
                ext4w_node_t **out, ctr_error_t *err);
/* A regular file of `size` bytes whose data comes from fn (NULL: all holes).
 * All-zero blocks are left unallocated. */
int ext4w_add_file(ext4w_t *w, ext4w_node_t *dir, const char *name, size_t len,
                   const struct ext4w_attr *a, const struct ext4w_xattr *x, size_t nx,
                   uint64_t size, ext4w_read_fn fn, void *ctx, ext4w_node_t **out,
                   ctr_error_t *err);
int ext4w_symlink(ext4w_t *w, ext4w_node_t *dir, const char *name, size_t len, const char *target,
                  const struct ext4w_attr *a, const struct ext4w_xattr *x, size_t nx,
                  ext4w_node_t **out, ctr_error_t *err);
/* Character/block device, fifo or socket, by the type bits of a->mode. */
int ext4w_mknod(ext4w_t *w, ext4w_node_t *dir, const char *name, size_t len,
                const struct ext4w_attr *a, const struct ext4w_xattr *x, size_t nx,
                ext4w_node_t **out, ctr_error_t *err);
/* Hard link: a new name for the (non-directory) inode of target. */
int ext4w_link(ext4w_t *w, ext4w_node_t *dir, const char *name, size_t len, ext4w_node_t *target,
               ext4w_node_t **out, ctr_error_t *err);

/* Replace the metadata of an existing node; with x != NULL its xattrs are
 * replaced by x (nx may be 0 to clear them). */
int ext4w_set_attr(ext4w_t *w, ext4w_node_t *n, const struct ext4w_attr *a,
                   const struct ext4w_xattr *x, size_t nx, ctr_error_t *err);
/* Unlink n (recursively for directories), freeing inodes and blocks whose
 * last link goes. n is invalid afterwards. The root cannot be removed. */
int ext4w_remove(ext4w_t *w, ext4w_node_t *n, ctr_error_t *err);
/* Remove the children of dir for which keep() returns false. */
/* Whether the writer can store an xattr of this name: the user, trusted and
 * security namespaces and the two POSIX ACL names. */
bool ext4w_xattr_supported(const char *name);
int ext4w_remove_children(ext4w_t *w, ext4w_node_t *dir,
                          bool (*keep)(const ext4w_node_t *n, void *ctx), void *ctx,
                          ctr_error_t *err);

/* ---- reading an image back ---- */
struct ext4w_entry {
    const char *path; /* "/" for the root, "/a/b" otherwise */
    uint32_t ino;
    uint32_t mode; /* with type bits */
    uint32_t uid, gid;
    uint32_t nlink;
    uint64_t size;
    uint64_t blocks; /* allocated 512-byte sectors (i_blocks) */
    struct timespec atime, mtime, ctime;
    uint32_t rdev_major, rdev_minor;
    const char *link_target; /* symlinks */
    size_t nxattrs;
    const struct ext4w_xattr *xattrs; /* sorted by name */
    const char *sha256;               /* hex digest of the contents of regular files, if asked */
    struct ext4w_reader *reader;      /* the image being read (ext4w_reader_read of ino) */
};
enum { EXT4W_WALK_HASH = 1 };
/* Visit every inode reachable from the root, depth first, children sorted by
 * name. cb returns <0 (with *err set) to stop. */
int ext4w_walk(const char *image, int flags,
               int (*cb)(const struct ext4w_entry *e, void *ctx, ctr_error_t *err), void *ctx,
               ctr_error_t *err);

/* A read-only handle on an image (the walk above opens one per call). Open refuses an
 * image whose journal needs recovery (EUCLEAN): its metadata on disk is not whole. */
struct ext4w_reader;
int ext4w_reader_open(const char *image, struct ext4w_reader **out, ctr_error_t *err);
void ext4w_reader_close(struct ext4w_reader *r);
/* ext4w_walk from the directory `top`; entry paths are relative to it ("/" = top). */
int ext4w_reader_walk(struct ext4w_reader *r, const char *top, int flags,
                      int (*cb)(const struct ext4w_entry *e, void *ctx, ctr_error_t *err),
                      void *ctx, ctr_error_t *err);
struct ext4w_stat {
    uint32_t ino, mode, uid, gid;
    uint64_t size;
    struct timespec mtime;
    uint32_t rdev_major, rdev_minor;
};
/* lstat of `path` (symlinks followed in the parent components only): 1 found, 0 absent,
 * -1 on error. */
int ext4w_reader_lstat(struct ext4w_reader *r, const char *path, struct ext4w_stat *st,
                       ctr_error_t *err);
/* Stream the contents of regular file `ino` to sink (holes as zeros). */
int ext4w_reader_read(struct ext4w_reader *r, uint32_t ino,
                      int (*sink)(void *ctx, const void *buf, size_t len, ctr_error_t *err),
                      void *ctx, ctr_error_t *err);

/* Format one entry as a line: `type mode uid:gid size path [-> target]`
 * (type is one of - d l c b p s; mode is octal permissions). Caller frees. */
char *ext4w_entry_format(const struct ext4w_entry *e);

#endif
