/* Image store: layout, lock, and reading the content store (verified blobs). */
#include "image/store-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
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

bool imgstore_blob_has(const struct imgstore *st, const char *digest, int64_t size)
{
    cleanup_free char *p = NULL;
    struct stat s;
    if (!oci_digest_valid(digest))
        return false;
    p = imgstore_blob_path(st, digest);
    if (lstat(p, &s) < 0 || !S_ISREG(s.st_mode))
        return false;
    return size < 0 || s.st_size == size;
}

bool imgstore_blob_exists(const struct imgstore *st, const char *digest)
{
    return imgstore_blob_has(st, digest, -1);
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
