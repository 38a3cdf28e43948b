/* Ingest: the only way content enters the store. Bytes go to a file under
 * content/ingest/, hashed as they are written; commit checks size and digest and
 * only then renames the file into blobs/sha256/, so an unverified blob is never
 * visible. Two kinds of ingest file:
 *   ingest/<pid>-<random>                  one-shot copies (imgstore_ingest_fd/_buf);
 *                                          the pid tells cleanup live writers from leftovers
 *   ingest/resume/sha256-<hex>.partial     sessions (imgstore_ingest_open), named by
 *                                          digest so a transfer cut short resumes there */
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

struct imgstore_ingest {
    struct imgstore *st;
    char digest[OCI_DIGEST_STR_LEN + 1];
    int64_t size; /* expected; < 0 when unknown (one-shot copies only) */
    char *path;
    int fd;
    struct oci_hasher h; /* over every byte in the file */
    bool session;        /* a resumable ingest/resume/ file */
};

static void ingest_free(struct imgstore_ingest *in)
{
    if (in == NULL)
        return;
    if (in->fd >= 0)
        close(in->fd);
    oci_hasher_release(&in->h);
    free(in->path);
    free(in);
}

/* ingest/<pid>-<random>, created exclusively. */
static int ingest_anon(struct imgstore *st, const char *digest, int64_t size,
                       struct imgstore_ingest **out, ctr_error_t *err)
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
            struct imgstore_ingest *in = ctr_xcalloc(1, sizeof(*in));
            in->st = st;
            snprintf(in->digest, sizeof(in->digest), "%s", digest);
            in->size = size;
            in->path = p;
            in->fd = fd;
            oci_hasher_init(&in->h);
            *out = in;
            return 0;
        }
        free(p);
        if (errno != EEXIST)
            return ctr_fail(err, errno, "create ingest file in `%s/content/ingest`", st->root);
    }
    return ctr_fail(err, EEXIST, "create ingest file in `%s/content/ingest`", st->root);
}

static int session_restart(struct imgstore_ingest *in, ctr_error_t *err)
{
    if (ftruncate(in->fd, 0) < 0 || lseek(in->fd, 0, SEEK_SET) < 0)
        return ctr_fail(err, errno, "truncate partial blob `%s`", in->digest);
    oci_hasher_release(&in->h);
    oci_hasher_init(&in->h);
    return 0;
}

/* Hash what an earlier attempt left in the partial file. */
static int session_rehash(struct imgstore_ingest *in, ctr_error_t *err)
{
    char buf[65536];
    struct stat sb;
    uint64_t left;

    if (fstat(in->fd, &sb) < 0)
        return ctr_fail(err, errno, "stat partial blob `%s`", in->digest);
    if ((uint64_t)sb.st_size > (uint64_t)in->size)
        return session_restart(in, err);
    left = (uint64_t)sb.st_size;
    if (lseek(in->fd, 0, SEEK_SET) < 0)
        return ctr_fail(err, errno, "seek partial blob `%s`", in->digest);
    while (left > 0) {
        ssize_t r = read(in->fd, buf, left < sizeof(buf) ? left : sizeof(buf));
        if (r <= 0)
            return ctr_fail(err, r < 0 ? errno : EIO, "read partial blob `%s`", in->digest);
        oci_hasher_update(&in->h, buf, (size_t)r);
        left -= (uint64_t)r;
    }
    return 0;
}

int imgstore_ingest_open(struct imgstore *st, const char *digest, int64_t size,
                         struct imgstore_ingest **out, ctr_error_t *err)
{
    cleanup_free char *dir = ctr_xasprintf("%s/content/ingest/resume", st->root);
    struct imgstore_ingest *in;

    *out = NULL;
    if (oci_digest_check(digest, err) < 0)
        return -1;
    if (size < 0)
        return ctr_fail_class(err, EINVAL, "ingest of `%s`: no size given", digest);
    if (imgstore_blob_has(st, digest, size))
        return 0;
    if (ctr_mkdir_p(dir, 0700, err) < 0)
        return -1;
    in = ctr_xcalloc(1, sizeof(*in));
    in->st = st;
    in->session = true;
    snprintf(in->digest, sizeof(in->digest), "%s", digest);
    in->size = size;
    in->path = ctr_xasprintf("%s/sha256-%s.partial", dir, oci_digest_hex(digest));
    oci_hasher_init(&in->h);
    in->fd = open(in->path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (in->fd < 0) {
        int e = errno;
        ctr_fail(err, e, "open `%s`", in->path);
        ingest_free(in);
        return -1;
    }
    /* One writer per partial file, across threads and processes: the others wait, then
     * usually find the blob in place. */
    if (flock(in->fd, LOCK_EX) < 0) {
        ctr_fail(err, errno, "lock `%s`", in->path);
        ingest_free(in);
        return -1;
    }
    if (imgstore_blob_has(st, digest, size)) {
        ingest_free(in);
        return 0;
    }
    if (session_rehash(in, err) < 0) {
        ingest_free(in);
        return -1;
    }
    *out = in;
    return 0;
}

uint64_t imgstore_ingest_offset(const struct imgstore_ingest *in)
{
    return in->h.size;
}

int imgstore_ingest_write(struct imgstore_ingest *in, const void *buf, size_t len, ctr_error_t *err)
{
    if (in->size >= 0 && in->h.size + len > (uint64_t)in->size)
        return ctr_fail(err, 0, "blob `%s` is larger than the expected %lld bytes", in->digest,
                        (long long)in->size);
    if (ctr_write_all(in->fd, buf, len) < 0) {
        if (in->session)
            return ctr_fail(err, errno, "write partial blob `%s`", in->digest);
        return ctr_fail(err, errno, "write `%s`", in->path);
    }
    oci_hasher_update(&in->h, buf, len);
    return 0;
}

int imgstore_ingest_restart(struct imgstore_ingest *in, ctr_error_t *err)
{
    return session_restart(in, err);
}

/* Verify what was written, then make it visible with one rename. The file stays in the
 * ingest area on failure (the caller removes or keeps it). */
static int ingest_verify_rename(struct imgstore_ingest *in, ctr_error_t *err)
{
    char got[OCI_DIGEST_STR_LEN + 1];
    cleanup_free char *dst = NULL;
    uint64_t n = in->h.size;

    oci_hasher_final(&in->h, got);
    if (in->size >= 0 && n != (uint64_t)in->size)
        return ctr_fail(err, 0, "blob `%s` has %llu bytes, expected %lld", in->digest,
                        (unsigned long long)n, (long long)in->size);
    if (strcmp(got, in->digest) != 0) {
        if (in->session)
            return ctr_fail_class(
                err, EBADMSG,
                "blob `%s` failed verification: content has digest `%s`; it was discarded",
                in->digest, got);
        return ctr_fail_class(err, EBADMSG,
                              "blob content does not match its digest: expected `%s`, got `%s`",
                              in->digest, got);
    }
    if (fsync(in->fd) < 0)
        return ctr_fail(err, errno, "fsync `%s`", in->path);
    dst = imgstore_blob_path(in->st, in->digest);
    if (rename(in->path, dst) < 0) {
        if (in->session)
            return ctr_fail(err, errno, "commit blob `%s` to `%s`", in->digest, dst);
        return ctr_fail(err, errno, "rename `%s` to `%s`", in->path, dst);
    }
    if (in->session) {
        cleanup_free char *dir = ctr_xasprintf("%s/content/blobs/sha256", in->st->root);
        cleanup_close int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0)
            (void)fsync(dfd);
    }
    return 0;
}

int imgstore_ingest_commit(struct imgstore_ingest *in, ctr_error_t *err)
{
    ctr_error_t e = NULL;
    int ret = ingest_verify_rename(in, &e);
    /* A digest mismatch will not get better by resuming: start over next time. A
     * partial that is only short stays for a resume. */
    if (ret < 0 && (!in->session || e->errnum == EBADMSG))
        (void)unlink(in->path);
    ingest_free(in);
    if (err)
        *err = e;
    else
        ctr_error_free(&e);
    return ret;
}

void imgstore_ingest_close(struct imgstore_ingest *in)
{
    ingest_free(in);
}

void imgstore_ingest_abort(struct imgstore_ingest *in)
{
    if (in == NULL)
        return;
    (void)unlink(in->path);
    ingest_free(in);
}

int imgstore_ingest_fd(struct imgstore *st, int fd, const char *digest, int64_t size,
                       ctr_error_t *err)
{
    cleanup_free char *buf = NULL;
    struct imgstore_ingest *in = NULL;

    if (oci_digest_check(digest, err) < 0)
        return -1;
    if (imgstore_blob_exists(st, digest))
        return 0;
    if (ingest_anon(st, digest, size, &in, err) < 0)
        return -1;
    buf = ctr_xmalloc(1 << 17);
    for (;;) {
        ssize_t r = read(fd, buf, 1 << 17);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            ctr_fail(err, errno, "read blob `%s`", digest);
            imgstore_ingest_abort(in);
            return -1;
        }
        if (r == 0)
            break;
        if (imgstore_ingest_write(in, buf, (size_t)r, err) < 0) {
            imgstore_ingest_abort(in);
            return -1;
        }
    }
    return imgstore_ingest_commit(in, err);
}

int imgstore_ingest_buf(struct imgstore *st, const void *buf, size_t len, const char *digest,
                        ctr_error_t *err)
{
    struct imgstore_ingest *in = NULL;

    if (oci_digest_check(digest, err) < 0)
        return -1;
    if (imgstore_blob_exists(st, digest))
        return 0;
    if (ingest_anon(st, digest, (int64_t)len, &in, err) < 0)
        return -1;
    if (imgstore_ingest_write(in, buf, len, err) < 0) {
        imgstore_ingest_abort(in);
        return -1;
    }
    return imgstore_ingest_commit(in, err);
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
        /* Only plain files: resume/ keeps partial transfers for a later session. */
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
