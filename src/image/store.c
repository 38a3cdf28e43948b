/* Image store: layout, lock, and the content store (verified blobs). */
#include "image/store-internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

int imgstore_open(const char *root, struct imgstore **out, ctr_error_t *err)
{
    static const char *const dirs[] = {"content/blobs/sha256", "content/ingest", "snapshots"};
    struct imgstore *st;
    cleanup_free char *lock = NULL;

    if (root == NULL || *root == '\0')
        return ctr_fail(err, 0, "no data root given for the image store");
    for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
        cleanup_free char *d = ctr_xasprintf("%s/%s", root, dirs[i]);
        if (ctr_mkdir_p(d, 0700, err) < 0)
            return ctr_error_wrap(err, "image store");
    }
    lock = ctr_xasprintf("%s/lock", root);
    st = ctr_xcalloc(1, sizeof(*st));
    st->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (st->lock_fd < 0) {
        int e = errno;
        free(st);
        return ctr_fail(err, e, "open image store lock `%s`", lock);
    }
    st->root = ctr_xstrdup(root);
    *out = st;
    return 0;
}

void imgstore_close(struct imgstore *st)
{
    if (st == NULL)
        return;
    if (st->lock_fd >= 0)
        close(st->lock_fd);
    free(st->root);
    free(st);
}

const char *imgstore_root(const struct imgstore *st)
{
    return st->root;
}

int imgstore_lock(struct imgstore *st, ctr_error_t *err)
{
    if (st->lock_depth++ > 0)
        return 0;
    while (flock(st->lock_fd, LOCK_EX) < 0) {
        if (errno == EINTR)
            continue;
        st->lock_depth = 0;
        return ctr_fail(err, errno, "lock image store `%s`", st->root);
    }
    return 0;
}

void imgstore_unlock(struct imgstore *st)
{
    if (st->lock_depth > 0 && --st->lock_depth == 0)
        (void)flock(st->lock_fd, LOCK_UN);
}

char *imgstore_blob_path(const struct imgstore *st, const char *digest)
{
    return ctr_xasprintf("%s/content/blobs/sha256/%s", st->root, oci_digest_hex(digest));
}

bool imgstore_blob_exists(const struct imgstore *st, const char *digest)
{
    cleanup_free char *p = NULL;
    struct stat s;
    if (!oci_digest_valid(digest))
        return false;
    p = imgstore_blob_path(st, digest);
    return lstat(p, &s) == 0 && S_ISREG(s.st_mode);
}

/* ingest/<pid>-<random>: the pid lets a later cleanup tell live writers from leftovers. */
static int ingest_open(struct imgstore *st, char **path, ctr_error_t *err)
{
    for (int tries = 0; tries < 16; tries++) {
        uint64_t r = 0;
        char *p;
        int fd;
        if (getrandom(&r, sizeof(r), 0) < 0)
            r = ctr_now_ns();
        p = ctr_xasprintf("%s/content/ingest/%d-%016llx", st->root, (int)getpid(),
                          (unsigned long long)r);
        fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd >= 0) {
            *path = p;
            return fd;
        }
        free(p);
        if (errno != EEXIST)
            return ctr_fail(err, errno, "create ingest file in `%s/content/ingest`", st->root);
    }
    return ctr_fail(err, EEXIST, "create ingest file in `%s/content/ingest`", st->root);
}

/* Verify what was written, then make it visible with one rename. */
static int ingest_commit(struct imgstore *st, int fd, const char *tmp, struct oci_hasher *h,
                         const char *digest, int64_t size, ctr_error_t *err)
{
    char got[OCI_DIGEST_STR_LEN + 1];
    cleanup_free char *dst = NULL;
    uint64_t n = h->size;

    oci_hasher_final(h, got);
    if (size >= 0 && n != (uint64_t)size)
        return ctr_fail(err, 0, "blob `%s` has %llu bytes, expected %lld", digest,
                        (unsigned long long)n, (long long)size);
    if (strcmp(got, digest) != 0)
        return ctr_fail(err, 0, "blob content does not match its digest: expected `%s`, got `%s`",
                        digest, got);
    if (fsync(fd) < 0)
        return ctr_fail(err, errno, "fsync `%s`", tmp);
    dst = imgstore_blob_path(st, digest);
    if (rename(tmp, dst) < 0)
        return ctr_fail(err, errno, "rename `%s` to `%s`", tmp, dst);
    return 0;
}

int imgstore_ingest_fd(struct imgstore *st, int in, const char *digest, int64_t size,
                       ctr_error_t *err)
{
    cleanup_free char *tmp = NULL;
    cleanup_free char *buf = NULL;
    cleanup_close int fd = -1;
    struct oci_hasher h;
    int ret;

    if (oci_digest_check(digest, err) < 0)
        return -1;
    if (imgstore_blob_exists(st, digest))
        return 0;
    fd = ingest_open(st, &tmp, err);
    if (fd < 0)
        return -1;
    buf = ctr_xmalloc(1 << 17);
    oci_hasher_init(&h);
    for (;;) {
        ssize_t r = read(in, buf, 1 << 17);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            ret = ctr_fail(err, errno, "read blob `%s`", digest);
            goto fail;
        }
        if (r == 0)
            break;
        if (size >= 0 && h.size + (uint64_t)r > (uint64_t)size) {
            ret = ctr_fail(err, 0, "blob `%s` is larger than the expected %lld bytes", digest,
                           (long long)size);
            goto fail;
        }
        oci_hasher_update(&h, buf, (size_t)r);
        if (ctr_write_all(fd, buf, (size_t)r) < 0) {
            ret = ctr_fail(err, errno, "write `%s`", tmp);
            goto fail;
        }
    }
    if (ingest_commit(st, fd, tmp, &h, digest, size, err) < 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
fail:
    oci_hasher_release(&h);
    unlink(tmp);
    return ret;
}

int imgstore_ingest_buf(struct imgstore *st, const void *buf, size_t len, const char *digest,
                        ctr_error_t *err)
{
    cleanup_free char *tmp = NULL;
    cleanup_close int fd = -1;
    struct oci_hasher h;

    if (oci_digest_check(digest, err) < 0)
        return -1;
    if (imgstore_blob_exists(st, digest))
        return 0;
    fd = ingest_open(st, &tmp, err);
    if (fd < 0)
        return -1;
    if (ctr_write_all(fd, buf, len) < 0) {
        int e = errno;
        unlink(tmp);
        return ctr_fail(err, e, "write `%s`", tmp);
    }
    oci_hasher_init(&h);
    oci_hasher_update(&h, buf, len);
    if (ingest_commit(st, fd, tmp, &h, digest, (int64_t)len, err) < 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

int imgstore_blob_read(const struct imgstore *st, const char *digest, size_t max, char **out,
                       size_t *len, ctr_error_t *err)
{
    cleanup_free char *path = NULL;
    cleanup_free char *data = NULL;
    char got[OCI_DIGEST_STR_LEN + 1];
    size_t n;

    if (oci_digest_check(digest, err) < 0)
        return -1;
    path = imgstore_blob_path(st, digest);
    if (ctr_read_file(path, max, &data, &n, err) < 0) {
        if (err && *err && (*err)->errnum == ENOENT) {
            ctr_error_free(err);
            return ctr_fail(err, ENOENT, "blob `%s` is missing from the image store", digest);
        }
        return -1;
    }
    oci_digest_buf(data, n, got);
    if (strcmp(got, digest) != 0)
        return ctr_fail(err, 0,
                        "blob `%s` in the image store is corrupt (its content hashes to "
                        "`%s`)",
                        digest, got);
    *out = ctr_steal_ptr(data);
    if (len)
        *len = n;
    return 0;
}

int imgstore_ingest_cleanup(struct imgstore *st, ctr_error_t *err)
{
    cleanup_free char *dir = ctr_xasprintf("%s/content/ingest", st->root);
    DIR *d;
    struct dirent *de;

    d = opendir(dir);
    if (d == NULL)
        return ctr_fail(err, errno, "open `%s`", dir);
    while ((de = readdir(d)) != NULL) {
        char *end;
        long pid;
        struct stat sb;
        if (de->d_name[0] == '.')
            continue;
        /* Only plain files: subdirectories (the registry's resume/) are not ours. */
        if (fstatat(dirfd(d), de->d_name, &sb, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(sb.st_mode))
            continue;
        pid = strtol(de->d_name, &end, 10);
        if (*end == '-' && pid > 0 &&
            (pid == getpid() || kill((pid_t)pid, 0) == 0 || errno == EPERM))
            continue; /* its writer is alive */
        (void)unlinkat(dirfd(d), de->d_name, 0);
    }
    closedir(d);
    return 0;
}
