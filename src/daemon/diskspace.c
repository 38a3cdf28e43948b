/* Disk space: the bytes a directory takes (df, prune, volumes), and the free space of
 * the data root: a container's writable disk is a sparse file of several GiB whatever
 * the host has free, so create refuses when the filesystem holding the data root is
 * nearly full (docs/daemon.md, "A full disk"). */
#include "daemon/daemon-internal.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

uint64_t dmn_min_free_bytes(void)
{
    const char *env = getenv("CONTAINER_MIN_FREE_MB");
    if (env && *env) {
        char *end;
        unsigned long long v = strtoull(env, &end, 10);
        if (*end == '\0' && v <= (1ull << 30))
            return (uint64_t)v << 20;
        log_warn("ignoring CONTAINER_MIN_FREE_MB=`%s`: not a number of MiB", env);
    }
    return (uint64_t)DMN_MIN_FREE_MB << 20;
}

int dmn_check_free_space(struct dmn *d, ctr_error_t *err)
{
    struct statvfs sv;
    uint64_t need = dmn_min_free_bytes();

    if (need == 0)
        return 0;
    if (statvfs(d->cfg.root, &sv) < 0)
        return ctr_fail(err, errno, "statvfs `%s`", d->cfg.root);
    /* what an unprivileged writer gets: QEMU writes the disk files as the daemon's user */
    uint64_t avail = (uint64_t)sv.f_bavail * sv.f_frsize;
    if (avail >= need)
        return 0;
    return dmn_fail(err, DMN_ENOSPACE,
                    "not enough free space on the host for a new container: the data root `%s` "
                    "has %llu MiB free, %llu MiB needed (the container's writable disk grows "
                    "into it); free space there, or set CONTAINER_MIN_FREE_MB",
                    d->cfg.root, (unsigned long long)(avail >> 20),
                    (unsigned long long)(need >> 20));
}

uint64_t dmn_disk_usage(const char *path)
{
    struct stat st;
    uint64_t sum = 0;
    if (lstat(path, &st) < 0)
        return 0;
    if (!S_ISDIR(st.st_mode))
        return (uint64_t)st.st_blocks * 512;
    DIR *dir = opendir(path);
    struct dirent *de;
    if (dir == NULL)
        return 0;
    while ((de = readdir(dir)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        cleanup_free char *p = ctr_xasprintf("%s/%s", path, de->d_name);
        sum += dmn_disk_usage(p);
    }
    closedir(dir);
    return sum;
}
