#include "common.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

ssize_t ctr_write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    size_t done = 0;
    while (done < len) {
        ssize_t r = write(fd, p + done, len - done);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        done += (size_t)r;
    }
    return (ssize_t)done;
}

int ctr_send_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int ctr_write_all_wait(int fd, const void *buf, size_t len)
{
    const uint8_t *p = buf;

    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EAGAIN) {
            struct pollfd pfd = {.fd = fd, .events = POLLOUT};
            if (poll(&pfd, 1, -1) < 0 && errno != EINTR)
                return -1;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

ssize_t ctr_read_all(int fd, void *buf, size_t len)
{
    char *p = buf;
    size_t done = 0;
    while (done < len) {
        ssize_t r = read(fd, p + done, len - done);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (r == 0)
            break;
        done += (size_t)r;
    }
    return (ssize_t)done;
}

int ctr_write_file_atomic(const char *path, const void *data, size_t len, mode_t mode,
                          ctr_error_t *err)
{
    cleanup_free char *tmp = ctr_xasprintf("%s.tmp.%d", path, (int)getpid());
    cleanup_free char *dircopy = ctr_xstrdup(path);
    cleanup_close int fd = -1;
    cleanup_close int dfd = -1;

    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0)
        return ctr_fail(err, errno, "create `%s`", tmp);
    if (ctr_write_all(fd, data, len) < 0 || fsync(fd) < 0) {
        int e = errno;
        unlink(tmp);
        return ctr_fail(err, e, "write `%s`", tmp);
    }
    if (rename(tmp, path) < 0) {
        int e = errno;
        unlink(tmp);
        return ctr_fail(err, e, "rename `%s` to `%s`", tmp, path);
    }
    dfd = open(dirname(dircopy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0)
        (void)fsync(dfd);
    return 0;
}

int ctr_read_file(const char *path, size_t max, char **out, size_t *out_len, ctr_error_t *err)
{
    cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
    cleanup_free char *buf = NULL;
    size_t len = 0, cap = 0;

    if (fd < 0)
        return ctr_fail(err, errno, "open `%s`", path);
    for (;;) {
        ssize_t r;
        if (cap - len < 4096) {
            cap = cap ? cap * 2 : 8192;
            buf = ctr_xrealloc(buf, cap + 1);
        }
        r = read(fd, buf + len, cap - len);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return ctr_fail(err, errno, "read `%s`", path);
        }
        if (r == 0)
            break;
        len += (size_t)r;
        if (len > max)
            return ctr_fail(err, EFBIG, "read `%s` (limit %zu bytes)", path, max);
    }
    if (buf == NULL)
        buf = ctr_xmalloc(1);
    buf[len] = '\0';
    *out = ctr_steal_ptr(buf);
    if (out_len)
        *out_len = len;
    return 0;
}

int ctr_mkdir_p(const char *path, mode_t mode, ctr_error_t *err)
{
    cleanup_free char *p = ctr_xstrdup(path);
    for (char *s = p + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        if (mkdir(p, mode) < 0 && errno != EEXIST)
            return ctr_fail(err, errno, "mkdir `%s`", p);
        *s = '/';
    }
    if (mkdir(p, mode) < 0 && errno != EEXIST)
        return ctr_fail(err, errno, "mkdir `%s`", p);
    return 0;
}

static int rm_rf_at(int dirfd, const char *name, ctr_error_t *err)
{
    struct stat st;
    if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
        if (errno == ENOENT)
            return 0;
        return ctr_fail(err, errno, "stat `%s`", name);
    }
    if (S_ISDIR(st.st_mode)) {
        int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        DIR *d;
        struct dirent *de;
        if (fd < 0)
            return ctr_fail(err, errno, "open `%s`", name);
        d = fdopendir(fd);
        if (d == NULL) {
            close(fd);
            return ctr_fail(err, errno, "opendir `%s`", name);
        }
        while ((de = readdir(d)) != NULL) {
            if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                continue;
            if (rm_rf_at(fd, de->d_name, err) < 0) {
                closedir(d);
                return -1;
            }
        }
        closedir(d);
        if (unlinkat(dirfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
            return ctr_fail(err, errno, "rmdir `%s`", name);
        return 0;
    }
    if (unlinkat(dirfd, name, 0) < 0 && errno != ENOENT)
        return ctr_fail(err, errno, "unlink `%s`", name);
    return 0;
}

int ctr_rm_rf(const char *path, ctr_error_t *err)
{
    if (rm_rf_at(AT_FDCWD, path, err) < 0)
        return ctr_error_wrap(err, "remove `%s`", path);
    return 0;
}

uint64_t ctr_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

bool ctr_fd_peer_gone(int fd)
{
    /* A half-close (the docker CLI shuts its write side after stdin) is not a
     * departure: only a full hangup is (unix sockets report it as POLLHUP). */
    struct pollfd p = {.fd = fd, .events = 0};
    if (fd < 0)
        return false;
    return poll(&p, 1, 0) > 0 && (p.revents & (POLLHUP | POLLERR | POLLNVAL));
}
