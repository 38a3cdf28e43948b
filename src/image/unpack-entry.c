/* One layer's entries onto the image: whiteouts, opaque directories, later
 * layers replacing earlier entries, hard links, implied parents. Paths are
 * cleaned and resolved by the ext4 writer, inside the image root. */
#include "image/unpack-internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define WH_PREFIX ".wh."
#define WH_META_PREFIX ".wh..wh."
#define WH_OPAQUE ".wh..wh..opq"
#define UNPACK_PATH_MAX 4096
#define UNPACK_XATTRS_MAX 128

struct xattrs {
    struct ext4w_xattr v[UNPACK_XATTRS_MAX];
    size_t n;
};

static void entry_attr(struct archive_entry *e, struct ext4w_attr *a)
{
    memset(a, 0, sizeof(*a));
    a->mode = (uint32_t)archive_entry_mode(e);
    int64_t uid = archive_entry_uid(e), gid = archive_entry_gid(e);
    a->uid = uid < 0 || uid > UINT32_MAX ? 0 : (uint32_t)uid;
    a->gid = gid < 0 || gid > UINT32_MAX ? 0 : (uint32_t)gid;
    a->mtime = (struct timespec){archive_entry_mtime(e), archive_entry_mtime_nsec(e)};
    a->atime = a->mtime;
    a->ctime = a->mtime;
    if (archive_entry_atime_is_set(e))
        a->atime = (struct timespec){archive_entry_atime(e), archive_entry_atime_nsec(e)};
    if (archive_entry_ctime_is_set(e))
        a->ctime = (struct timespec){archive_entry_ctime(e), archive_entry_ctime_nsec(e)};
    a->rdev_major = (uint32_t)archive_entry_rdevmajor(e);
    a->rdev_minor = (uint32_t)archive_entry_rdevminor(e);
}

static void entry_xattrs(struct archive_entry *e, const char *name, struct xattrs *x)
{
    const char *xn;
    const void *val;
    size_t len;

    x->n = 0;
    archive_entry_xattr_reset(e);
    while (archive_entry_xattr_next(e, &xn, &val, &len) == ARCHIVE_OK) {
        if (!ext4w_xattr_supported(xn)) {
            log_warn("entry `%s`: xattr `%s` skipped: ext4 has no such namespace", name, xn);
            continue;
        }
        if (x->n == UNPACK_XATTRS_MAX) {
            log_warn("entry `%s`: more than %d xattrs, the rest skipped", name, UNPACK_XATTRS_MAX);
            break;
        }
        x->v[x->n++] = (struct ext4w_xattr){xn, val, len};
    }
}

static int data_read(void *ctx, const void **buf, size_t *len, uint64_t *off, ctr_error_t *err)
{
    struct archive *a = ctx;
    la_int64_t o;
    int r = archive_read_data_block(a, buf, len, &o);
    if (r == ARCHIVE_EOF)
        return 0;
    if (r < ARCHIVE_WARN || o < 0)
        return ctr_fail(err, archive_errno(a) > 0 ? archive_errno(a) : 0, "%s",
                        archive_error_string(a) ? archive_error_string(a) : "cannot read data");
    *off = (uint64_t)o;
    return 1;
}

/* Opaque directory: drop everything below dir not written by this layer
 * (recursively, as docker does), without recursion on the C stack. */
static bool keep_layer(const ext4w_node_t *n, void *ctx)
{
    return ext4w_node_tag(n) == *(const uint32_t *)ctx;
}

static int make_opaque(struct unpack_apply *ap, ext4w_node_t *dir, ctr_error_t *err)
{
    ext4w_node_t **stack = ctr_xmalloc(sizeof(*stack) * 16);
    size_t n = 0, cap = 16;
    int ret = 0;

    stack[n++] = dir;
    while (n > 0 && ret == 0) {
        ext4w_node_t *d = stack[--n];
        ret = ext4w_remove_children(ap->w, d, keep_layer, &ap->layer, err);
        for (ext4w_node_t *c = ext4w_first_child(d); ret == 0 && c; c = ext4w_next_sibling(c)) {
            if (ext4w_node_type(c) != S_IFDIR)
                continue;
            if (n == cap) {
                cap *= 2;
                stack = ctr_xrealloc(stack, sizeof(*stack) * cap);
            }
            stack[n++] = c;
        }
    }
    free(stack);
    return ret;
}

static int whiteout(struct unpack_apply *ap, const char *name, ctr_error_t *err)
{
    ext4w_node_t *dir;
    const char *base;
    size_t blen;
    ctr_error_t lerr = NULL;

    if (ext4w_resolve_parent(ap->w, name, 0, NULL, &dir, &base, &blen, &lerr) < 0) {
        /* a whiteout in a directory that is not there whites out nothing */
        if (lerr->errnum == ENOENT || lerr->errnum == ENOTDIR) {
            ctr_error_free(&lerr);
            return 0;
        }
        *err = lerr;
        return -1;
    }
    if (blen == strlen(WH_OPAQUE) && memcmp(base, WH_OPAQUE, blen) == 0)
        return make_opaque(ap, dir, err);
    if (blen >= strlen(WH_META_PREFIX) && memcmp(base, WH_META_PREFIX, 8) == 0)
        return 0; /* other aufs metadata: ignored, as docker does */
    ext4w_node_t *victim = ext4w_child(ap->w, dir, base + 4, blen - 4);
    if (victim == NULL)
        return 0; /* naming nothing: ignored, as docker does */
    return ext4w_remove(ap->w, victim, err);
}

static int hardlink(struct unpack_apply *ap, const char *target, ext4w_node_t *dir,
                    const char *base, size_t blen, ctr_error_t *err)
{
    ext4w_node_t *t;
    if (ext4w_lookup(ap->w, target, 0, &t, err) < 0)
        return ctr_error_wrap(err, "hard link target `%s`", target);
    if (t == NULL)
        return ctr_fail(err, ENOENT,
                        "hard link target `%s` does not exist in this or an "
                        "earlier layer",
                        target);
    if (ext4w_node_type(t) == S_IFDIR)
        return ctr_fail(err, EPERM, "hard link target `%s` is a directory", target);
    ext4w_node_t *old = ext4w_child(ap->w, dir, base, blen);
    if (old == t)
        return 0;
    if (old && ext4w_node_type(old) == S_IFDIR) {
        /* the target could live below the directory being replaced */
        uint32_t ino = ext4w_node_ino(t);
        if (ext4w_remove(ap->w, old, err) < 0)
            return -1;
        if (ext4w_lookup(ap->w, target, 0, &t, err) < 0 || t == NULL || ext4w_node_ino(t) != ino)
            return ctr_fail(err, ENOENT,
                            "hard link target `%s` was removed with the "
                            "directory it replaces",
                            target);
    } else if (old && ext4w_remove(ap->w, old, err) < 0) {
        return -1;
    }
    return ext4w_link(ap->w, dir, base, blen, t, NULL, err);
}

/* Whether the last component of the lexically cleaned path (`.` dropped,
 * `..` popping, as the writer cleans it) starts with `.wh.`. */
static bool is_whiteout(const char *name)
{
    size_t len = strlen(name), n = 0, i = 0;
    cleanup_free size_t *starts = ctr_xmalloc((len / 2 + 2) * sizeof(*starts));
    cleanup_free size_t *lens = ctr_xmalloc((len / 2 + 2) * sizeof(*lens));

    while (i < len) {
        while (i < len && name[i] == '/')
            i++;
        size_t s = i;
        while (i < len && name[i] != '/')
            i++;
        size_t l = i - s;
        if (l == 0 || (l == 1 && name[s] == '.'))
            continue;
        if (l == 2 && name[s] == '.' && name[s + 1] == '.') {
            if (n > 0)
                n--;
            continue;
        }
        starts[n] = s;
        lens[n++] = l;
    }
    return n > 0 && lens[n - 1] >= 4 && memcmp(name + starts[n - 1], WH_PREFIX, 4) == 0;
}

int unpack_apply_entry(struct unpack_apply *ap, struct archive_entry *e, const char *name,
                       ctr_error_t *err)
{
    ext4w_node_t *dir;
    const char *base;
    size_t blen;
    struct ext4w_attr a, implied;
    struct xattrs x;

    if (strlen(name) >= UNPACK_PATH_MAX)
        return ctr_fail(err, ENAMETOOLONG, "path is %zu bytes long, the limit is %d", strlen(name),
                        UNPACK_PATH_MAX - 1);
    if (is_whiteout(name))
        return whiteout(ap, name, err);

    entry_attr(e, &a);
    implied = (struct ext4w_attr){
        .mode = S_IFDIR | 0755, .atime = a.mtime, .mtime = a.mtime, .ctime = a.mtime};
    if (ext4w_resolve_parent(ap->w, name, EXT4W_MKDIRS, &implied, &dir, &base, &blen, err) < 0)
        return -1;
    if (blen > 255)
        return ctr_fail(err, ENAMETOOLONG, "name `%.40s...` is %zu bytes long, ext4 allows 255",
                        base, blen);
    entry_xattrs(e, name, &x);
    const char *link = archive_entry_hardlink(e);
    if (link)
        return hardlink(ap, link, dir, base, blen, err);

    uint32_t type = a.mode & S_IFMT;
    if (blen == 0) { /* the root itself, "./" */
        if (type != S_IFDIR)
            return ctr_fail(err, EINVAL, "entry names the root but is not a directory");
        return ext4w_set_attr(ap->w, dir, &a, x.v, x.n, err);
    }
    ext4w_node_t *old = ext4w_child(ap->w, dir, base, blen);
    if (old && type == S_IFDIR && ext4w_node_type(old) == S_IFDIR) {
        ext4w_node_set_tag(old, ap->layer);
        return ext4w_set_attr(ap->w, old, &a, x.v, x.n, err);
    }
    if (old && ext4w_remove(ap->w, old, err) < 0)
        return -1;
    switch (type) {
    case S_IFDIR:
        return ext4w_mkdir(ap->w, dir, base, blen, &a, x.v, x.n, NULL, err);
    case S_IFREG: {
        uint64_t size = archive_entry_size_is_set(e) ? (uint64_t)archive_entry_size(e) : 0;
        return ext4w_add_file(ap->w, dir, base, blen, &a, x.v, x.n, size, data_read, ap->a, NULL,
                              err);
    }
    case S_IFLNK: {
        const char *t = archive_entry_symlink(e);
        if (t == NULL)
            t = archive_entry_symlink_utf8(e);
        if (t == NULL || *t == '\0')
            return ctr_fail(err, EINVAL, "symlink without a target");
        return ext4w_symlink(ap->w, dir, base, blen, t, &a, x.v, x.n, NULL, err);
    }
    case S_IFCHR:
    case S_IFBLK:
    case S_IFIFO:
    case S_IFSOCK:
        return ext4w_mknod(ap->w, dir, base, blen, &a, x.v, x.n, NULL, err);
    default:
        return ctr_fail(err, EINVAL, "unsupported entry type %#o", type);
    }
}

int unpack_apply_layer(struct unpack_apply *ap, const char *digest, ctr_error_t *err)
{
    struct archive_entry *e;

    for (;;) {
        int r = archive_read_next_header(ap->a, &e);
        if (r == ARCHIVE_EOF)
            return 0;
        if (r < ARCHIVE_WARN) {
            const char *msg = archive_error_string(ap->a);
            if (ap->last)
                return ctr_fail(err, 0, "layer `%s`: after entry `%s`: %s", digest, ap->last,
                                msg ? msg : "cannot read the next header");
            return ctr_fail(err, 0, "layer `%s`: at the first entry: %s", digest,
                            msg ? msg : "cannot read the tar stream");
        }
        const char *name = archive_entry_pathname(e);
        if (name == NULL)
            name = archive_entry_pathname_utf8(e);
        if (name == NULL)
            return ctr_fail(err, EINVAL, "layer `%s`: entry #%llu has no readable name", digest,
                            (unsigned long long)ap->entries + 1);
        if (r == ARCHIVE_WARN)
            log_debug("layer `%s`: entry `%s`: %s", digest, name, archive_error_string(ap->a));
        if (unpack_apply_entry(ap, e, name, err) < 0)
            return ctr_error_wrap(err, "layer `%s`: entry `%s`", digest, name);
        /* unread data (e.g. of a hard link or whiteout) must still be consumed
         * so that stream errors are seen */
        if (archive_read_data_skip(ap->a) < ARCHIVE_WARN)
            return ctr_fail(err, 0, "layer `%s`: entry `%s`: %s", digest, name,
                            archive_error_string(ap->a));
        free(ap->last);
        ap->last = ctr_xstrdup(name);
        ap->entries++;
    }
}
