/* The layer of a COPY or ADD step (build.h, docs/build.md "The COPY layer"): the plan's
 * items as an OCI layer tar (PAX), in the plan's order; ADD's local archives unpacked
 * into their destination. */
#include "build/build-internal.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CHUNK 65536

/* ---- --chmod ---- */

int df_chmod_apply(const char *spec, uint32_t mode)
{
    uint32_t perm = mode & 07777;
    if (*spec >= '0' && *spec <= '7') {
        char *end;
        unsigned long v = strtoul(spec, &end, 8);
        return *end || v > 07777 ? -1 : (int)v;
    }
    /* symbolic: [ugoa]*[+-=][rwxXst]* clauses separated by commas */
    for (const char *s = spec; *s;) {
        uint32_t who = 0;
        for (; *s && strchr("ugoa", *s); s++)
            who |= *s == 'u' ? 04700 : *s == 'g' ? 02070 : *s == 'o' ? 01007 : 07777;
        if (who == 0)
            who = 07777;
        if (*s != '+' && *s != '-' && *s != '=')
            return -1;
        char op = *s++;
        uint32_t bits = 0;
        for (; *s && *s != ','; s++) {
            switch (*s) {
            case 'r':
                bits |= 0444;
                break;
            case 'w':
                bits |= 0222;
                break;
            case 'x':
                bits |= 0111;
                break;
            case 'X':
                if (S_ISDIR(mode) || (perm & 0111))
                    bits |= 0111;
                break;
            case 's':
                bits |= 06000;
                break;
            case 't':
                bits |= 01000;
                break;
            default:
                return -1;
            }
        }
        bits &= who;
        if (op == '+')
            perm |= bits;
        else if (op == '-')
            perm &= ~bits;
        else
            perm = (perm & ~(who & 0777)) | bits;
        if (*s == ',')
            s++;
    }
    return (int)perm;
}

uint32_t df_copy_entry_mode(const struct df_copy_plan *p, const struct df_ctx_entry *e)
{
    if (!p->have_mode || e->type == DF_CTX_SYMLINK)
        return e->mode;
    int m = df_chmod_apply(p->chmod, e->mode);
    return (e->mode & S_IFMT) | (uint32_t)(m < 0 ? 0 : m);
}

/* ---- a context file read by libarchive, no further than its size ---- */
struct src {
    int fd;
    int64_t off, left;
    char buf[CHUNK];
};

static la_ssize_t src_read(struct archive *a, void *arg, const void **out)
{
    struct src *s = arg;
    size_t want = s->left < CHUNK ? (size_t)s->left : CHUNK;
    if (want == 0)
        return 0;
    ssize_t got = pread(s->fd, s->buf, want, s->off);
    if (got < 0) {
        archive_set_error(a, errno, "read: %s", strerror(errno));
        return -1;
    }
    s->off += got;
    s->left -= got;
    *out = s->buf;
    return got;
}

static struct archive *open_archive(struct df_ctx *c, struct df_ctx_entry *e, struct src *s,
                                    ctr_error_t *err)
{
    int64_t off;
    s->fd = df_ctx_data_fd(c, e, &off, err);
    if (s->fd < 0)
        return NULL;
    s->off = off;
    s->left = (int64_t)e->size;
    struct archive *a = archive_read_new();
    archive_read_support_filter_all(a);
    archive_read_support_format_tar(a);
    if (archive_read_open(a, s, NULL, src_read, NULL) != ARCHIVE_OK) {
        archive_read_free(a);
        close(s->fd);
        s->fd = -1;
        return NULL;
    }
    return a;
}

bool df_copy_is_archive(struct df_ctx *c, struct df_ctx_entry *e)
{
    if (e->type != DF_CTX_REG || e->size == 0)
        return false;
    struct src *s = ctr_xmalloc(sizeof(*s));
    ctr_error_t err = NULL;
    struct archive *a = open_archive(c, e, s, &err);
    bool yes = false;
    if (a) {
        struct archive_entry *ae;
        int r = archive_read_next_header(a, &ae);
        yes = r == ARCHIVE_OK || r == ARCHIVE_WARN;
        archive_read_free(a);
        close(s->fd);
    }
    ctr_error_free(&err);
    free(s);
    return yes;
}

/* ---- the output ---- */
struct written {
    uint64_t link_id;
    char *dest;
};

struct out {
    int fd;
    EVP_MD_CTX *md;
    int64_t size;
    int err;
    const struct df_copy_plan *plan;
    struct written *files; /* regular files with a link_id, to write their hard links */
    size_t nfiles;
    char **dirs; /* directories written (ADD unpacking adds missing parents) */
    size_t ndirs;
};

static la_ssize_t out_write(struct archive *a, void *arg, const void *buf, size_t len)
{
    struct out *o = arg;
    if (ctr_write_all(o->fd, buf, len) < 0) {
        o->err = errno;
        archive_set_error(a, errno, "write the layer: %s", strerror(errno));
        return -1;
    }
    EVP_DigestUpdate(o->md, buf, len);
    o->size += (int64_t)len;
    return (la_ssize_t)len;
}

static bool dir_written(const struct out *o, const char *p)
{
    for (size_t i = o->ndirs; i-- > 0;)
        if (strcmp(o->dirs[i], p) == 0)
            return true;
    return false;
}

static int put_header(struct archive *w, struct archive_entry *ae, ctr_error_t *err)
{
    if (archive_write_header(w, ae) != ARCHIVE_OK)
        return ctr_fail(err, archive_errno(w), "write the layer: %s", archive_error_string(w));
    return 0;
}

/* A parent the copy creates: 0755, root or --chown's owner (BuildKit chowns the
 * directories it creates: tonistiigi/fsutil#49). */
static int put_dir(struct archive *w, struct out *o, const char *dest, ctr_error_t *err)
{
    struct archive_entry *ae = archive_entry_new();
    archive_entry_set_pathname(ae, dest + 1);
    archive_entry_set_mode(ae, S_IFDIR | 0755);
    archive_entry_set_uid(ae, o->plan->have_uid ? o->plan->uid : 0);
    archive_entry_set_gid(ae, o->plan->have_uid ? o->plan->gid : 0);
    int rc = put_header(w, ae, err);
    archive_entry_free(ae);
    o->dirs = ctr_xrealloc(o->dirs, (o->ndirs + 1) * sizeof(*o->dirs));
    o->dirs[o->ndirs++] = ctr_xstrdup(dest);
    return rc;
}

static int feed(void *arg, const void *buf, size_t len, ctr_error_t *err)
{
    struct archive *w = arg;
    if (archive_write_data(w, buf, len) < 0)
        return ctr_fail(err, archive_errno(w), "write the layer: %s", archive_error_string(w));
    return 0;
}

static int put_entry(struct df_ctx *c, const struct df_copy_plan *p, struct archive *w,
                     struct out *o, const struct df_copy_item *it, ctr_error_t *err)
{
    const struct df_ctx_entry *e = it->e;
    const char *first = NULL; /* the copy of the same file already in the layer */
    for (size_t i = 0; e->link_id && i < o->nfiles && !first; i++)
        if (o->files[i].link_id == e->link_id)
            first = o->files[i].dest;
    struct archive_entry *ae = archive_entry_new();
    archive_entry_set_pathname(ae, it->dest + 1);
    if (first)
        archive_entry_set_hardlink(ae, first + 1);
    archive_entry_set_mode(ae, df_copy_entry_mode(p, e));
    archive_entry_set_uid(ae, p->have_uid ? p->uid : 0);
    archive_entry_set_gid(ae, p->have_uid ? p->gid : 0);
    archive_entry_set_mtime(ae, e->mtime_sec, e->mtime_nsec);
    if (e->type == DF_CTX_SYMLINK)
        archive_entry_set_symlink(ae, e->link);
    if (e->type == DF_CTX_REG && !first)
        archive_entry_set_size(ae, (la_int64_t)e->size);
    if (e->type == DF_CTX_OTHER) {
        archive_entry_set_rdevmajor(ae, e->rdev_major);
        archive_entry_set_rdevminor(ae, e->rdev_minor);
    }
    int rc = put_header(w, ae, err);
    archive_entry_free(ae);
    if (rc == 0 && e->type == DF_CTX_REG && !first) {
        rc = df_ctx_read(c, e, feed, w, err);
        if (e->link_id) {
            o->files = ctr_xrealloc(o->files, (o->nfiles + 1) * sizeof(*o->files));
            o->files[o->nfiles++] = (struct written){e->link_id, ctr_xstrdup(it->dest)};
        }
    }
    if (rc == 0 && e->type == DF_CTX_DIR) {
        o->dirs = ctr_xrealloc(o->dirs, (o->ndirs + 1) * sizeof(*o->dirs));
        o->dirs[o->ndirs++] = ctr_xstrdup(it->dest);
    }
    return rc;
}

/* "./a/../b" inside an archive → "b" (never above its root); "" for the root. */
static char *inner_path(const char *name)
{
    cleanup_free char *r = ctr_xasprintf("/%s", name);
    char *p = df_clean_path(r);
    memmove(p, p + 1, strlen(p));
    return p;
}

static char *under(const char *dest, const char *rel)
{
    if (*rel == '\0')
        return ctr_xstrdup(dest);
    return ctr_xasprintf("%s%s%s", dest, strcmp(dest, "/") == 0 ? "" : "/", rel);
}

static int put_parents(struct archive *w, struct out *o, const char *path, ctr_error_t *err)
{
    cleanup_free char *p = ctr_xstrdup(path);
    for (char *s = strchr(p + 1, '/'); s; s = strchr(s + 1, '/')) {
        *s = '\0';
        if (!dir_written(o, p) && put_dir(w, o, p, err) < 0)
            return -1;
        *s = '/';
    }
    return 0;
}

/* ADD: the archive's entries below it->dest. Ownership: --chown, else the archive's. */
static int put_unpacked(struct df_ctx *c, const struct df_copy_plan *p, struct archive *w,
                        struct out *o, const struct df_copy_item *it, ctr_error_t *err)
{
    struct src *s = ctr_xmalloc(sizeof(*s));
    struct archive *a = open_archive(c, it->e, s, err);
    struct archive_entry *ae;
    int r = ARCHIVE_EOF, rc = 0;
    char buf[CHUNK];
    if (a == NULL) {
        free(s);
        return *err ? -1 : ctr_fail_class(err, EIO, "`%s`: not an archive", it->e->path);
    }
    if (!dir_written(o, it->dest) && strcmp(it->dest, "/") != 0)
        rc = put_dir(w, o, it->dest, err);
    while (rc == 0 && ((r = archive_read_next_header(a, &ae)) == ARCHIVE_OK || r == ARCHIVE_WARN)) {
        cleanup_free char *rel = inner_path(archive_entry_pathname(ae));
        if (*rel == '\0')
            continue;
        cleanup_free char *dest = under(it->dest, rel);
        if (put_parents(w, o, dest, err) < 0) {
            rc = -1;
            break;
        }
        struct archive_entry *oe = archive_entry_clone(ae);
        archive_entry_set_pathname(oe, dest + 1);
        if (archive_entry_hardlink(ae)) {
            cleanup_free char *t = inner_path(archive_entry_hardlink(ae));
            cleanup_free char *td = under(it->dest, t);
            archive_entry_set_hardlink(oe, td + 1);
        }
        if (p->have_uid) {
            archive_entry_set_uid(oe, p->uid);
            archive_entry_set_gid(oe, p->gid);
            archive_entry_set_uname(oe, NULL);
            archive_entry_set_gname(oe, NULL);
        }
        rc = put_header(w, oe, err);
        if (rc == 0 && S_ISDIR(archive_entry_mode(ae))) {
            o->dirs = ctr_xrealloc(o->dirs, (o->ndirs + 1) * sizeof(*o->dirs));
            o->dirs[o->ndirs++] = ctr_xstrdup(dest);
        }
        archive_entry_free(oe);
        la_ssize_t got = 0;
        while (rc == 0 && (got = archive_read_data(a, buf, sizeof(buf))) > 0)
            rc = feed(w, buf, (size_t)got, err);
        if (rc == 0 && got < 0)
            rc = ctr_fail_class(err, EIO, "`%s`: %s", it->e->path, archive_error_string(a));
    }
    if (rc == 0 && r != ARCHIVE_EOF)
        rc = ctr_fail_class(err, EIO, "`%s`: %s", it->e->path, archive_error_string(a));
    archive_read_free(a);
    close(s->fd);
    free(s);
    return rc;
}

int df_copy_write_layer(struct df_ctx *c, const struct df_copy_plan *p, int fd, char **diff_id,
                        int64_t *size, ctr_error_t *err)
{
    struct out o = {.fd = fd, .md = EVP_MD_CTX_new(), .plan = p};
    struct archive *w = archive_write_new();
    int rc = 0;
    EVP_DigestInit_ex(o.md, EVP_sha256(), NULL);
    archive_write_set_format_pax_restricted(w);
    archive_write_set_bytes_in_last_block(w, 1);
    if (archive_write_open(w, &o, NULL, out_write, NULL) != ARCHIVE_OK)
        rc = ctr_fail_class(err, EIO, "write the layer: %s", archive_error_string(w));
    for (size_t i = 0; rc == 0 && i < p->n; i++) {
        const struct df_copy_item *it = &p->v[i];
        if (it->e == NULL)
            rc = dir_written(&o, it->dest) ? 0 : put_dir(w, &o, it->dest, err);
        else if (it->unpack)
            rc = put_unpacked(c, p, w, &o, it, err);
        else
            rc = put_entry(c, p, w, &o, it, err);
    }
    if (rc == 0 && archive_write_close(w) != ARCHIVE_OK)
        rc = ctr_fail(err, o.err ? o.err : EIO, "write the layer: %s", archive_error_string(w));
    archive_write_free(w);
    unsigned char d[32];
    EVP_DigestFinal_ex(o.md, d, NULL);
    EVP_MD_CTX_free(o.md);
    for (size_t i = 0; i < o.nfiles; i++)
        free(o.files[i].dest);
    free(o.files);
    for (size_t i = 0; i < o.ndirs; i++)
        free(o.dirs[i]);
    free(o.dirs);
    if (rc < 0)
        return -1;
    if (diff_id) {
        char *s = ctr_xmalloc(72), *q = s + sprintf(s, "sha256:");
        for (int i = 0; i < 32; i++)
            q += sprintf(q, "%02x", d[i]);
        *diff_id = s;
    }
    if (size)
        *size = o.size;
    return 0;
}
