/* A minimal content store: blobs/sha256/<hex> under a root, written through
 * ingest/ and renamed into place only once verified. It is internal to the
 * registry until src/image/store.h offers the same operations; the layout is
 * the one the design fixes for the content store, so switching is mechanical. */
#include "registry/registry-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

char *registry_cas_blob_path(const char *root, const char *digest)
{
    return ctr_xasprintf("%s/blobs/sha256/%s", root, digest + 7);
}

bool registry_cas_has(const char *root, const char *digest, int64_t size)
{
    cleanup_free char *p = registry_cas_blob_path(root, digest);
    struct stat st;
    if (stat(p, &st) < 0 || !S_ISREG(st.st_mode))
        return false;
    return size < 0 || st.st_size == size;
}

/* Partial downloads live in ingest/resume/, named by digest so a later pull finds
 * them; the image store's crash cleanup only removes plain files of ingest/. */
int registry_cas_ingest_path(const char *root, const char *digest, char **out, ctr_error_t *err)
{
    cleanup_free char *dir = ctr_xasprintf("%s/ingest/resume", root);
    if (!registry_digest_valid(digest))
        return registry_fail_code(err, EINVAL, "invalid digest `%s`", digest);
    if (ctr_mkdir_p(dir, 0700, err) < 0)
        return -1;
    *out = ctr_xasprintf("%s/sha256-%s.partial", dir, digest + 7);
    return 0;
}

int registry_cas_commit(const char *root, const char *ingest_path, const char *digest,
                        ctr_error_t *err)
{
    cleanup_free char *dir = ctr_xasprintf("%s/blobs/sha256", root);
    cleanup_free char *dst = registry_cas_blob_path(root, digest);
    cleanup_close int dfd = -1;
    if (ctr_mkdir_p(dir, 0755, err) < 0)
        return -1;
    if (rename(ingest_path, dst) < 0)
        return ctr_fail(err, errno, "commit blob `%s` to `%s`", digest, dst);
    dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0)
        (void)fsync(dfd);
    return 0;
}

int registry_cas_put(const char *root, const char *digest, const void *data, size_t len,
                     ctr_error_t *err)
{
    cleanup_free char *actual = registry_sha256_digest(data, len);
    cleanup_free char *tmp = NULL;
    cleanup_close int fd = -1;

    if (strcmp(actual, digest) != 0)
        return registry_fail_code(err, EBADMSG, "blob `%s`: content has digest `%s`", digest,
                                  actual);
    if (registry_cas_has(root, digest, (int64_t)len))
        return 0;
    if (registry_cas_ingest_path(root, digest, &tmp, err) < 0)
        return -1;
    /* A private name: a concurrent download of the same digest keeps its own partial. */
    char *priv = ctr_xasprintf("%s.%d.%lx", tmp, (int)getpid(), (unsigned long)pthread_self());
    free(tmp);
    tmp = priv;
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return ctr_fail(err, errno, "create `%s`", tmp);
    if (ctr_write_all(fd, data, len) < 0 || fsync(fd) < 0) {
        int e = errno;
        unlink(tmp);
        return ctr_fail(err, e, "write `%s`", tmp);
    }
    if (registry_cas_commit(root, tmp, digest, err) < 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

int registry_cas_read(const char *root, const char *digest, size_t max, char **out, size_t *len,
                      ctr_error_t *err)
{
    cleanup_free char *p = registry_cas_blob_path(root, digest);
    cleanup_free char *data = NULL;
    cleanup_free char *actual = NULL;
    size_t n;
    if (!registry_digest_valid(digest))
        return registry_fail_code(err, EINVAL, "invalid digest `%s`", digest);
    if (ctr_read_file(p, max, &data, &n, err) < 0)
        return -1;
    actual = registry_sha256_digest(data, n);
    if (strcmp(actual, digest) != 0)
        return registry_fail_code(
            err, EBADMSG, "stored blob `%s` is corrupt (content has digest `%s`)", digest, actual);
    *out = ctr_steal_ptr(data);
    *len = n;
    return 0;
}
