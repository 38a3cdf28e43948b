/* Docker's volume copy-up: an empty volume mounted over a directory of the image
 * first receives that directory's content (files, directories, symlinks with their
 * modes and owners). Runs in the container root; every path is resolved relative
 * to a directory fd without following symlinks, so nothing escapes the trees. */
#include "guest/guest-internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define COPYUP_MAX_DEPTH 128

static int copy_file(int src_dir, int dst_dir, const char *name, const struct stat *st,
                     ctr_error_t *err)
{
    cleanup_close int in = openat(src_dir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    cleanup_close int out = -1;
    char buf[65536];
    ssize_t n;

    if (in < 0)
        return ctr_fail(err, errno, "copy-up: open `%s`", name);
    out = openat(dst_dir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (out < 0)
        return ctr_fail(err, errno, "copy-up: create `%s`", name);
    while ((n = read(in, buf, sizeof(buf))) > 0)
        if (ctr_write_all(out, buf, (size_t)n) < 0)
            return ctr_fail(err, errno, "copy-up: write `%s`", name);
    if (n < 0)
        return ctr_fail(err, errno, "copy-up: read `%s`", name);
    if (fchown(out, st->st_uid, st->st_gid) < 0 || fchmod(out, st->st_mode & 07777) < 0)
        return ctr_fail(err, errno, "copy-up: set owner and mode of `%s`", name);
    return 0;
}

static int copy_tree(int src_dir, int dst_dir, unsigned depth, ctr_error_t *err)
{
    DIR *d;
    struct dirent *de;
    int fd = dup(src_dir), r = 0;

    if (depth > COPYUP_MAX_DEPTH)
        return ctr_fail(err, ELOOP, "copy-up: directories nested deeper than %d", COPYUP_MAX_DEPTH);
    if (fd < 0 || (d = fdopendir(fd)) == NULL) {
        if (fd >= 0)
            close(fd);
        return ctr_fail(err, errno, "copy-up: list a directory");
    }
    rewinddir(d);
    while (r == 0 && (de = readdir(d)) != NULL) {
        const char *name = de->d_name;
        struct stat st;
        if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
            continue;
        if (fstatat(src_dir, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
            r = ctr_fail(err, errno, "copy-up: stat `%s`", name);
        } else if (S_ISDIR(st.st_mode)) {
            if (mkdirat(dst_dir, name, 0700) < 0) {
                r = ctr_fail(err, errno, "copy-up: mkdir `%s`", name);
                break;
            }
            cleanup_close int s2 =
                openat(src_dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            cleanup_close int d2 =
                openat(dst_dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (s2 < 0 || d2 < 0)
                r = ctr_fail(err, errno, "copy-up: open directory `%s`", name);
            else if ((r = copy_tree(s2, d2, depth + 1, err)) == 0 &&
                     (fchown(d2, st.st_uid, st.st_gid) < 0 || fchmod(d2, st.st_mode & 07777) < 0))
                r = ctr_fail(err, errno, "copy-up: set owner and mode of `%s`", name);
        } else if (S_ISREG(st.st_mode)) {
            r = copy_file(src_dir, dst_dir, name, &st, err);
        } else if (S_ISLNK(st.st_mode)) {
            char target[PATH_MAX];
            ssize_t n = readlinkat(src_dir, name, target, sizeof(target) - 1);
            if (n < 0)
                r = ctr_fail(err, errno, "copy-up: readlink `%s`", name);
            else {
                target[n] = '\0';
                if (symlinkat(target, dst_dir, name) < 0 ||
                    fchownat(dst_dir, name, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) < 0)
                    r = ctr_fail(err, errno, "copy-up: symlink `%s`", name);
            }
        } else {
            log_warn("copy-up: `%s` is a device, fifo or socket: not copied", name);
        }
    }
    closedir(d);
    return r;
}

int guest_copy_up(int src_dir, int dst_dir, ctr_error_t *err)
{
    cleanup_close int fd = dup(dst_dir);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    struct dirent *de;
    bool empty = true;
    struct stat st;

    if (d == NULL)
        return ctr_fail(err, errno, "copy-up: list the volume");
    fd = -1; /* owned by d */
    while ((de = readdir(d)) != NULL)
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
            empty = false;
    closedir(d);
    if (!empty)
        return 0; /* docker: only a volume's first use is populated */
    if (copy_tree(src_dir, dst_dir, 0, err) < 0)
        return -1;
    if (fstat(src_dir, &st) == 0 &&
        (fchown(dst_dir, st.st_uid, st.st_gid) < 0 || fchmod(dst_dir, st.st_mode & 07777) < 0))
        return ctr_fail(err, errno, "copy-up: set owner and mode of the volume");
    return 0;
}
