/* The in-memory directory tree of a writer session: one global hash table
 * keyed by (parent, name), sibling lists for iteration, path resolution
 * confined to the image root. */
#include "ext4/ext4-internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define EXT4W_MAX_SYMLINKS 40

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
static void node_unlink(ext4w_t *w, struct ext4w_node *n)
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

/* Resolve path from cur. Intermediate components must be directories
 * (symlinks followed inside the image, `..` stopping at the root); missing
 * ones are created with mkdirs, else *out is NULL. The last component is
 * followed when it is a symlink and follow_last is set. */
static int walk(ext4w_t *w, struct ext4w_node *cur, const char *path, size_t len, bool follow_last,
                const struct ext4w_attr *mkdirs, int *nlinks, struct ext4w_node **out,
                ctr_error_t *err)
{
    size_t i = 0;

    *out = NULL;
    if (len > 0 && path[0] == '/')
        cur = w->root;
    while (i < len) {
        while (i < len && path[i] == '/')
            i++;
        size_t s = i;
        while (i < len && path[i] != '/')
            i++;
        size_t clen = i - s;
        const char *c = path + s;
        size_t j = i;
        while (j < len && path[j] == '/')
            j++;
        bool last = j >= len;
        if (clen == 0 || (clen == 1 && c[0] == '.'))
            continue;
        if (clen == 2 && c[0] == '.' && c[1] == '.') {
            if (cur->parent)
                cur = cur->parent;
            continue;
        }
        struct ext4w_node *n = ext4w_child(w, cur, c, clen);
        if (n == NULL) {
            if (mkdirs == NULL)
                return 0;
            if (ext4w_mkdir(w, cur, c, clen, mkdirs, NULL, 0, &n, err) < 0)
                return -1;
        }
        if (n->ftype == EXT2_FT_SYMLINK && (!last || follow_last)) {
            if (++*nlinks > EXT4W_MAX_SYMLINKS)
                return ctr_fail(err, ELOOP, "too many levels of symbolic links at `%.*s`",
                                (int)clen, c);
            struct ext4w_node *t;
            if (walk(w, cur, n->link, strlen(n->link), true, mkdirs, nlinks, &t, err) < 0)
                return -1;
            if (t == NULL)
                return 0;
            n = t;
        }
        if (!last && n->ftype != EXT2_FT_DIR)
            return ctr_fail(err, ENOTDIR, "`%.*s` is not a directory", (int)clen, c);
        cur = n;
    }
    *out = cur;
    return 0;
}

/* Clean path lexically into w->scratch ("a/b/c", no leading slash, `..`
 * clamped at the root) and return its length. */
static size_t clean_path(ext4w_t *w, const char *path)
{
    size_t len = strlen(path), o = 0, i = 0;
    if (w->scratch_cap < len + 1) {
        w->scratch_cap = len + 64;
        w->scratch = ctr_xrealloc(w->scratch, w->scratch_cap);
    }
    char *out = w->scratch;
    while (i < len) {
        while (i < len && path[i] == '/')
            i++;
        size_t s = i;
        while (i < len && path[i] != '/')
            i++;
        size_t clen = i - s;
        if (clen == 0 || (clen == 1 && path[s] == '.'))
            continue;
        if (clen == 2 && path[s] == '.' && path[s + 1] == '.') {
            while (o > 0 && out[o - 1] != '/')
                o--;
            if (o > 0)
                o--;
            continue;
        }
        if (o > 0)
            out[o++] = '/';
        memcpy(out + o, path + s, clen);
        o += clen;
    }
    out[o] = '\0';
    return o;
}

int ext4w_resolve_parent(ext4w_t *w, const char *path, int flags, const struct ext4w_attr *implied,
                         ext4w_node_t **dir, const char **base, size_t *base_len, ctr_error_t *err)
{
    size_t len = clean_path(w, path);
    const char *p = w->scratch;
    const char *slash = memrchr(p, '/', len);
    size_t dlen = slash ? (size_t)(slash - p) : 0;
    const char *b = slash ? slash + 1 : p;
    int nlinks = 0;
    struct ext4w_node *d = w->root;

    if (dlen > 0) {
        const struct ext4w_attr *mk = (flags & EXT4W_MKDIRS) ? implied : NULL;
        if (walk(w, w->root, p, dlen, true, mk, &nlinks, &d, err) < 0)
            return -1;
        if (d == NULL)
            return ctr_fail(err, ENOENT, "directory `/%.*s` does not exist", (int)dlen, p);
        if (d->ftype != EXT2_FT_DIR)
            return ctr_fail(err, ENOTDIR, "`/%.*s` is not a directory", (int)dlen, p);
    }
    *dir = d;
    *base = b;
    *base_len = len - (size_t)(b - p);
    return 0;
}

int ext4w_lookup(ext4w_t *w, const char *path, int flags, ext4w_node_t **out, ctr_error_t *err)
{
    int nlinks = 0;
    return walk(w, w->root, path, strlen(path), (flags & EXT4W_FOLLOW) != 0, NULL, &nlinks, out,
                err);
}

static int drop(ext4w_t *w, struct ext4w_node *n, ctr_error_t *err)
{
    if (n->ftype == EXT2_FT_DIR)
        return ext4w_free_inode(w, n->ino, true, err);
    if (w->nlinks[n->ino] > 1) {
        w->nlinks[n->ino]--;
        return ext4w_set_links(w, n->ino, w->nlinks[n->ino], err);
    }
    w->nlinks[n->ino] = 0;
    return ext4w_free_inode(w, n->ino, false, err);
}

int ext4w_remove(ext4w_t *w, ext4w_node_t *n, ctr_error_t *err)
{
    if (n == w->root || n->parent == NULL)
        return ctr_fail(err, EBUSY, "the root directory cannot be removed");
    /* Post-order without recursion: trees from layers can be very deep. */
    struct ext4w_node *cur = n;
    for (;;) {
        while (cur->ftype == EXT2_FT_DIR && cur->first)
            cur = cur->first;
        struct ext4w_node *parent = cur->parent;
        bool done = cur == n;
        if (drop(w, cur, err) < 0)
            return -1;
        node_unlink(w, cur);
        if (done)
            return 0;
        cur = parent;
    }
}

int ext4w_remove_children(ext4w_t *w, ext4w_node_t *dir,
                          bool (*keep)(const ext4w_node_t *n, void *ctx), void *ctx,
                          ctr_error_t *err)
{
    struct ext4w_node *c = ext4w_first_child(dir);
    while (c) {
        struct ext4w_node *next = c->next;
        if (!keep(c, ctx) && ext4w_remove(w, c, err) < 0)
            return -1;
        c = next;
    }
    return 0;
}
