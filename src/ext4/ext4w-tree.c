/* The in-memory directory tree of a writer session: one global hash table
 * keyed by (parent, name), sibling lists for iteration. Paths are resolved in
 * ext4w-path.c. */
#include "ext4/ext4-internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static size_t hash_key(const struct ext4w_node *dir, const char *name, size_t len)
{
    uint64_t h = 1469598103934665603ULL ^ (uint64_t)(uintptr_t)dir;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)name[i];
        h *= 1099511628211ULL;
    }
    return (size_t)(h ^ (h >> 29));
}

void ext4w_tree_init(ext4w_t *w)
{
    w->nbuckets = 1024;
    w->buckets = ctr_xcalloc(w->nbuckets, sizeof(*w->buckets));
}

void ext4w_tree_free(ext4w_t *w)
{
    for (size_t i = 0; i < w->nbuckets; i++) {
        struct ext4w_node *n = w->buckets[i];
        while (n) {
            struct ext4w_node *next = n->hnext;
            free(n->link);
            free(n);
            n = next;
        }
    }
    free(w->buckets);
    free(w->root);
    w->buckets = NULL;
    w->root = NULL;
}

static void rehash(ext4w_t *w)
{
    size_t nb = w->nbuckets * 2;
    struct ext4w_node **b = ctr_xcalloc(nb, sizeof(*b));
    for (size_t i = 0; i < w->nbuckets; i++) {
        struct ext4w_node *n = w->buckets[i];
        while (n) {
            struct ext4w_node *next = n->hnext;
            size_t k = hash_key(n->parent, n->name, n->namelen) & (nb - 1);
            n->hnext = b[k];
            b[k] = n;
            n = next;
        }
    }
    free(w->buckets);
    w->buckets = b;
    w->nbuckets = nb;
}

struct ext4w_node *ext4w_node_new(ext4w_t *w, struct ext4w_node *dir, const char *name, size_t len,
                                  uint32_t ino, uint8_t ftype)
{
    struct ext4w_node *n = ctr_xcalloc(1, sizeof(*n) + len);
    memcpy(n->name, name, len);
    n->namelen = (uint16_t)len;
    n->ino = ino;
    n->ftype = ftype;
    n->parent = dir;
    n->tag = w->new_tag;
    if (dir == NULL)
        return n;
    if (w->nnodes >= w->nbuckets)
        rehash(w);
    size_t k = hash_key(dir, name, len) & (w->nbuckets - 1);
    n->hnext = w->buckets[k];
    w->buckets[k] = n;
    w->nnodes++;
    n->prev = dir->last;
    if (dir->last)
        dir->last->next = n;
    else
        dir->first = n;
    dir->last = n;
    if (ftype == EXT2_FT_DIR)
        dir->nsub++;
    return n;
}

/* Take n out of its parent and the hash table, and free it. */
void ext4w_node_unlink(ext4w_t *w, struct ext4w_node *n)
{
    struct ext4w_node *dir = n->parent;
    size_t k = hash_key(dir, n->name, n->namelen) & (w->nbuckets - 1);
    struct ext4w_node **pp = &w->buckets[k];
    while (*pp != n)
        pp = &(*pp)->hnext;
    *pp = n->hnext;
    w->nnodes--;
    if (n->prev)
        n->prev->next = n->next;
    else
        dir->first = n->next;
    if (n->next)
        n->next->prev = n->prev;
    else
        dir->last = n->prev;
    if (n->ftype == EXT2_FT_DIR)
        dir->nsub--;
    free(n->link);
    free(n);
}

ext4w_node_t *ext4w_root(ext4w_t *w)
{
    return w->root;
}

ext4w_node_t *ext4w_child(ext4w_t *w, ext4w_node_t *dir, const char *name, size_t len)
{
    if (dir == NULL || dir->ftype != EXT2_FT_DIR)
        return NULL;
    size_t k = hash_key(dir, name, len) & (w->nbuckets - 1);
    for (struct ext4w_node *n = w->buckets[k]; n; n = n->hnext)
        if (n->parent == dir && n->namelen == len && memcmp(n->name, name, len) == 0)
            return n;
    return NULL;
}

uint32_t ext4w_node_type(const ext4w_node_t *n)
{
    switch (n->ftype) {
    case EXT2_FT_DIR:
        return S_IFDIR;
    case EXT2_FT_SYMLINK:
        return S_IFLNK;
    case EXT2_FT_CHRDEV:
        return S_IFCHR;
    case EXT2_FT_BLKDEV:
        return S_IFBLK;
    case EXT2_FT_FIFO:
        return S_IFIFO;
    case EXT2_FT_SOCK:
        return S_IFSOCK;
    default:
        return S_IFREG;
    }
}

uint32_t ext4w_node_ino(const ext4w_node_t *n)
{
    return n->ino;
}

uint32_t ext4w_node_tag(const ext4w_node_t *n)
{
    return n->tag;
}

void ext4w_node_set_tag(ext4w_node_t *n, uint32_t tag)
{
    n->tag = tag;
}

void ext4w_set_new_tag(ext4w_t *w, uint32_t tag)
{
    w->new_tag = tag;
}

ext4w_node_t *ext4w_first_child(ext4w_node_t *dir)
{
    return dir->ftype == EXT2_FT_DIR ? dir->first : NULL;
}

ext4w_node_t *ext4w_next_sibling(ext4w_node_t *n)
{
    return n->next;
}

int ext4w_check_name(ext4w_t *w, struct ext4w_node *dir, const char *name, size_t len,
                     ctr_error_t *err)
{
    if (dir == NULL || dir->ftype != EXT2_FT_DIR)
        return ctr_fail(err, ENOTDIR, "parent of `%.*s` is not a directory", (int)len, name);
    if (len == 0 || len > EXT2_NAME_LEN)
        return ctr_fail(err, ENAMETOOLONG, "name `%.*s` must be 1 to %d bytes long, not %zu",
                        (int)(len > 64 ? 64 : len), name, EXT2_NAME_LEN, len);
    if (memchr(name, '/', len) || memchr(name, '\0', len) || (len == 1 && name[0] == '.') ||
        (len == 2 && name[0] == '.' && name[1] == '.'))
        return ctr_fail(err, EINVAL, "invalid file name `%.*s`", (int)len, name);
    if (ext4w_child(w, dir, name, len))
        return ctr_fail(err, EEXIST, "`%.*s` already exists", (int)len, name);
    return 0;
}
