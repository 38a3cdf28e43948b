/* Paths of a writer session: resolution confined to the image root (symlinks
 * followed inside the image, missing parents created on request) and removal.
 * Above the tree (ext4w-tree.c) and the inode operations (ext4w-inode.c). */
#include "ext4/ext4-internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define EXT4W_MAX_SYMLINKS 40

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
        ext4w_node_unlink(w, cur);
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
