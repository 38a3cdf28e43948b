/* Mounts of PID 1: the early pseudo filesystems, then the container root (an
 * overlay of the read-only image disk and the writable disk) that vminitd moves
 * onto / and chroots into (an initramfs cannot be pivot_root'ed). */
#include "guest/guest-internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#define NEWROOT "/mnt/root"
#define LOWER "/mnt/lower"
#define UPPER "/mnt/upper"
#define ETCDIR "/mnt/etc"

/* What setup mounted, for an orderly teardown. */
static int upper_fd = -1;    /* root of the upper disk (old rootfs, unreachable by path) */
static char **setup_targets; /* extra mounts, in mount order */

static int do_mount(const char *src, const char *target, const char *type, unsigned long flags,
                    const char *data, ctr_error_t *err)
{
    if (mount(src, target, type, flags, data) < 0)
        return ctr_fail(err, errno, "mount %s `%s` on `%s`%s%s", type ? type : "", src ? src : "",
                        target, data ? " with " : "", data ? data : "");
    return 0;
}

int guest_mount_early(ctr_error_t *err)
{
    static const struct {
        const char *src, *target, *type;
        unsigned long flags;
        const char *data;
        bool optional; /* a kernel without it still runs containers */
    } m[] = {
        {"proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL},
        {"sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL},
        {"devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755"},
        {"devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC,
         "newinstance,ptmxmode=0666,mode=0620,gid=5"},
        /* Docker's: 64 MiB unless HostConfig.ShmSize (a setup mount over it) */
        {"shm", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=1777,size=65536k"},
        {"tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755"},
        {"cgroup2", "/sys/fs/cgroup", "cgroup2", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL, true},
    };

    for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
        mkdir(m[i].target, 0755);
        if (do_mount(m[i].src, m[i].target, m[i].type, m[i].flags, m[i].data, err) < 0) {
            if (errno == EBUSY || m[i].optional) { /* EBUSY: devtmpfs automount */
                if (errno != EBUSY)
                    log_warn("%s", (*err)->msg);
                ctr_error_free(err);
                continue;
            }
            return -1;
        }
    }
    /* What runc and Docker put in every container's /dev and devtmpfs lacks: servers
     * that log to /dev/stdout (nginx) or read /dev/fd/N must reach the process's own
     * streams, not make regular files there. */
    static const char *const links[][2] = {
        {"/proc/self/fd", "/dev/fd"},       {"/proc/self/fd/0", "/dev/stdin"},
        {"/proc/self/fd/1", "/dev/stdout"}, {"/proc/self/fd/2", "/dev/stderr"},
        {"pts/ptmx", "/dev/ptmx"}, /* the devpts instance of /dev/pts, as runc's */
    };
    unlink("/dev/ptmx");
    for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++)
        if (symlink(links[i][0], links[i][1]) < 0 && errno != EEXIST)
            log_warn("symlink `%s`: %s", links[i][1], strerror(errno));
    return 0;
}

int guest_find_port(const char *name, char **out, ctr_error_t *err)
{
    DIR *d = opendir("/sys/class/virtio-ports");
    struct dirent *de;
    int r = -1;

    if (d == NULL)
        return ctr_fail(err, errno, "list `/sys/class/virtio-ports`");
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        cleanup_free char *p = ctr_xasprintf("/sys/class/virtio-ports/%s/name", de->d_name);
        cleanup_free char *v = NULL;
        cleanup_error ctr_error_t e2 = NULL;
        size_t len;
        if (ctr_read_file(p, 256, &v, &len, &e2) < 0)
            continue;
        while (len && (v[len - 1] == '\n' || v[len - 1] == ' '))
            v[--len] = '\0';
        if (strcmp(v, name) == 0) {
            *out = ctr_xasprintf("/dev/%s", de->d_name);
            r = 0;
            break;
        }
    }
    closedir(d);
    if (r < 0)
        ctr_fail(err, ENOENT, "virtio-serial port `%s` not found", name);
    return r;
}

/* "serial:NAME" -> /dev/vdX whose virtio-blk serial is NAME; other sources as is. */
static int resolve_source(const char *src, char **out, ctr_error_t *err)
{
    const char *serial;
    DIR *d;
    struct dirent *de;

    if (strncmp(src, "serial:", 7) != 0) {
        *out = ctr_xstrdup(src);
        return 0;
    }
    serial = src + 7;
    d = opendir("/sys/block");
    if (d == NULL)
        return ctr_fail(err, errno, "list `/sys/block`");
    while ((de = readdir(d)) != NULL) {
        if (strncmp(de->d_name, "vd", 2) != 0)
            continue;
        cleanup_free char *p = ctr_xasprintf("/sys/block/%s/serial", de->d_name);
        cleanup_free char *v = NULL;
        cleanup_error ctr_error_t e2 = NULL;
        size_t len;
        if (ctr_read_file(p, 256, &v, &len, &e2) < 0)
            continue;
        while (len && (v[len - 1] == '\n' || v[len - 1] == ' '))
            v[--len] = '\0';
        if (strcmp(v, serial) == 0) {
            *out = ctr_xasprintf("/dev/%s", de->d_name);
            closedir(d);
            return 0;
        }
    }
    closedir(d);
    return ctr_fail(err, ENOENT, "disk with serial `%s` not found", serial);
}

/* A top-level directory of the new root that a pseudo fs is moved onto: it must be a
 * real directory, or a hostile image could redirect the mount with a symlink. */
static int ensure_dir(const char *path, ctr_error_t *err)
{
    struct stat st;

    if (lstat(path, &st) == 0) {
        if (!S_ISDIR(st.st_mode))
            return ctr_fail(err, 0, "`%s` in the container image is not a directory",
                            path + strlen(NEWROOT));
        return 0;
    }
    if (mkdir(path, 0755) < 0 && errno != EEXIST)
        return ctr_fail(err, errno, "create `%s`", path);
    return 0;
}

/* Split comma separated options into MS_* flags and the filesystem's data string. */
static char *parse_options(const char *options, unsigned long *flags)
{
    static const struct {
        const char *name;
        unsigned long set, clear;
    } known[] = {
        {"ro", MS_RDONLY, 0},
        {"rw", 0, MS_RDONLY},
        {"nosuid", MS_NOSUID, 0},
        {"suid", 0, MS_NOSUID},
        {"nodev", MS_NODEV, 0},
        {"dev", 0, MS_NODEV},
        {"noexec", MS_NOEXEC, 0},
        {"exec", 0, MS_NOEXEC},
        {"noatime", MS_NOATIME, 0},
        {"relatime", MS_RELATIME, 0},
        {"nodiratime", MS_NODIRATIME, 0},
        {"sync", MS_SYNCHRONOUS, 0},
        {"rbind", MS_BIND | MS_REC, 0},
        {"bind", MS_BIND, 0},
    };
    cleanup_free char *opts = ctr_xstrdup(options ? options : "");
    char *data = ctr_xstrdup(""), *save = NULL;

    for (char *o = strtok_r(opts, ",", &save); o; o = strtok_r(NULL, ",", &save)) {
        bool found = false;
        for (size_t i = 0; i < sizeof(known) / sizeof(known[0]) && !found; i++)
            if (strcmp(o, known[i].name) == 0) {
                *flags = (*flags | known[i].set) & ~known[i].clear;
                found = true;
            }
        if (!found) {
            char *d = ctr_xasprintf("%s%s%s", data, data[0] ? "," : "", o);
            free(data);
            data = d;
        }
    }
    return data;
}

/* Create the mount point: a file for a non-directory bind source (or when file), else a
 * directory. */
static int make_mount_point(const char *src, const char *target, bool bind, bool file,
                            ctr_error_t *err)
{
    struct stat st;

    if (file || (bind && stat(src, &st) == 0 && !S_ISDIR(st.st_mode))) {
        if (lstat(target, &st) == 0)
            return 0;
        cleanup_free char *dir = ctr_xstrdup(target);
        char *slash = strrchr(dir, '/');
        if (slash && slash != dir) {
            *slash = '\0';
            if (ctr_mkdir_p(dir, 0755, err) < 0)
                return -1;
        }
        int fd = open(target, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
        if (fd < 0)
            return ctr_fail(err, errno, "create mount point `%s`", target);
        close(fd);
        return 0;
    }
    return ctr_mkdir_p(target, 0755, err);
}

#define STAGE9P "/mnt/9p"

/* A single file of a 9p share (source `TAG/NAME`): before the switch to the container
 * root, the share is mounted at /mnt/9p/TAG in the initramfs (covered, so unreachable,
 * once the container root is moved onto /) and NAME is opened O_PATH; mount_extra binds
 * it from /proc/self/fd/N. fds[i] is -1 for every other mount. */
static int stage_9p_files(const struct agent_setup *s, int *fds, ctr_error_t *err)
{
    for (size_t i = 0; i < s->n_mounts; i++) {
        const struct agent_mount *m = &s->mounts[i];
        const char *slash = m->fstype ? strchr(m->source, '/') : NULL;
        if (slash == NULL || strcmp(m->fstype, "9p") != 0)
            continue;
        cleanup_free char *tag = ctr_xstrndup(m->source, (size_t)(slash - m->source));
        const char *name = slash + 1;
        if (*name == '\0' || strchr(name, '/') || strcmp(name, "..") == 0 ||
            strcmp(name, ".") == 0 || tag[0] == '.' || *tag == '\0')
            return ctr_fail(err, EINVAL, "9p file source `%s` must be TAG/NAME", m->source);
        cleanup_free char *dir = ctr_xasprintf(STAGE9P "/%s", tag);
        if (ctr_mkdir_p(STAGE9P, 0700, err) < 0)
            return -1;
        if (mkdir(dir, 0700) == 0) {
            unsigned long flags = 0;
            cleanup_free char *data = parse_options(m->options, &flags);
            if (do_mount(tag, dir, "9p", flags & ~MS_RDONLY, data[0] ? data : NULL, err) < 0)
                return -1;
        } else if (errno != EEXIST) {
            return ctr_fail(err, errno, "create `%s`", dir);
        }
        cleanup_close int dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
            return ctr_fail(err, errno, "open `%s`", dir);
        fds[i] = openat(dfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        struct stat st;
        if (fds[i] < 0)
            return ctr_fail(err, errno, "open `%s` in 9p share `%s`", name, tag);
        if (fstat(fds[i], &st) < 0 || !S_ISREG(st.st_mode))
            return ctr_fail(err, EINVAL, "`%s` in 9p share `%s` is not a regular file", name, tag);
    }
    return 0;
}

/* Runs inside the container root already: symlinks resolve within it. */
static int mount_extra(const struct agent_mount *m, int file_fd, ctr_error_t *err)
{
    cleanup_free char *src = NULL, *data = NULL;
    unsigned long flags = 0;
    const char *type = m->fstype;
    bool bind = strcmp(type, "bind") == 0;

    cleanup_free char *opts = ctr_xstrdup(m->options ? m->options : "");
    bool copyup = false;
    /* `x-copyup` (ours, never passed to the kernel): fill an empty volume with what the
     * image has at the target first, as docker does */
    for (char *p; (p = strstr(opts, "x-copyup")) && (p == opts || p[-1] == ',') &&
                  (p[8] == ',' || p[8] == '\0');) {
        memmove(p, p + 8 + (p[8] == ','), strlen(p + 8 + (p[8] == ',')) + 1);
        copyup = true;
    }
    if (resolve_source(m->source, &src, err) < 0)
        return -1;
    data = parse_options(opts, &flags);
    if (bind) {
        flags |= MS_BIND | MS_REC;
        type = NULL;
    }
    if (file_fd >= 0) { /* a file of a 9p share, staged by stage_9p_files */
        free(src);
        src = ctr_xasprintf("/proc/self/fd/%d", file_fd);
        bind = true;
        flags |= MS_BIND;
        type = NULL;
        if (make_mount_point(src, m->target, false, true, err) < 0)
            return -1;
        free(data);
        data = ctr_xstrdup("");
    } else if (make_mount_point(src, m->target, bind, false, err) < 0) {
        return -1;
    }
    cleanup_close int under = copyup ? open(m->target, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
    if (do_mount(src, m->target, type, flags & ~(bind ? MS_RDONLY : 0), data[0] ? data : NULL,
                 err) < 0)
        return -1;
    if (under >= 0) { /* the fd still sees the image's directory under the mount */
        cleanup_close int vol = open(m->target, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (vol < 0 || guest_copy_up(under, vol, err) < 0) {
            if (vol < 0)
                ctr_fail(err, errno, "open `%s`", m->target);
            umount2(m->target, MNT_DETACH);
            return ctr_error_wrap(err, "volume at `%s`", m->target);
        }
    }
    /* a bind mount ignores flags other than MS_REC: read-only needs a remount */
    if (bind && (flags & MS_RDONLY) &&
        do_mount(NULL, m->target, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL, err) < 0)
        return -1;
    ctr_strv_append(&setup_targets, m->target);
    return 0;
}

/* /etc/hostname, /etc/hosts and (when setup.network has one) /etc/resolv.conf are
 * bind-mounted from the initramfs, as docker does, so they do not land in the
 * container's diff. fds are opened before the switch; -1 = leave the image's file. */
#define ETC_FILES 3
static const char *const etc_names[ETC_FILES] = {"hostname", "hosts", "resolv.conf"};

static int prepare_etc(const struct agent_setup *s, int fds[ETC_FILES], ctr_error_t *err)
{
    cleanup_free char *hosts =
        s->hosts ? ctr_xstrdup(s->hosts)
                 : ctr_xasprintf("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost "
                                 "ip6-loopback\n127.0.1.1\t%s\n",
                                 s->hostname);
    cleanup_free char *hn = ctr_xasprintf("%s\n", s->hostname);
    const char *data[ETC_FILES] = {hn, hosts, s->resolv};

    mkdir(ETCDIR, 0755);
    for (int i = 0; i < ETC_FILES; i++) {
        if (data[i] == NULL)
            continue;
        cleanup_free char *p = ctr_xasprintf(ETCDIR "/%s", etc_names[i]);
        int fd = open(p, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0644);
        if (fd < 0 || ctr_write_all(fd, data[i], strlen(data[i])) < 0) {
            if (fd >= 0)
                close(fd);
            return ctr_fail(err, errno, "write `%s`", p);
        }
        close(fd);
        fds[i] = open(p, O_PATH | O_CLOEXEC);
        if (fds[i] < 0)
            return ctr_fail(err, errno, "open `%s`", p);
    }
    return 0;
}

/* Called before a --read-only root is remounted read-only, so missing files can still get
 * their mount point (in the writable layer), as docker's /etc/hosts is there either way. */
static void bind_etc(const int fds[ETC_FILES])
{
    struct stat st;

    for (int i = 0; i < ETC_FILES; i++) {
        if (fds[i] < 0)
            continue;
        cleanup_free char *target = ctr_xasprintf("/etc/%s", etc_names[i]);
        cleanup_free char *src = ctr_xasprintf("/proc/self/fd/%d", fds[i]);
        if (lstat(target, &st) < 0) {
            mkdir("/etc", 0755);
            int fd = open(target, O_CREAT | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0644);
            if (fd < 0)
                continue;
            close(fd);
        } else if (!S_ISREG(st.st_mode)) {
            continue; /* a symlink or directory in the image: leave it alone */
        }
        if (mount(src, target, NULL, MS_BIND, NULL) < 0)
            log_warn("bind `%s`: %s", target, strerror(errno));
    }
}

int guest_setup_root(const struct agent_setup *s, ctr_error_t *err)
{
    static const char *const moves[] = {"/dev", "/proc", "/sys", "/run"};
    cleanup_free char *lower = NULL, *upper = NULL, *opts = NULL;
    int etc_fds[ETC_FILES] = {-1, -1, -1};
    cleanup_free int *file_fds = ctr_xcalloc(s->n_mounts + 1, sizeof(int));
    int r = -1;

    for (size_t i = 0; i < s->n_mounts; i++)
        file_fds[i] = -1;

    if (guest_net_setup(s, err) < 0)
        return ctr_error_wrap(err, "network");
    if (resolve_source(s->root_lower, &lower, err) < 0)
        return -1;
    if (s->root_upper && resolve_source(s->root_upper, &upper, err) < 0)
        return -1;
    mkdir(LOWER, 0755);
    mkdir(UPPER, 0755);
    mkdir(NEWROOT, 0755);
    if (do_mount(lower, LOWER, "ext4", MS_RDONLY, "noload", err) < 0)
        return ctr_error_wrap(err, "image disk");
    if (upper) {
        if (do_mount(upper, UPPER, "ext4", MS_NOATIME, NULL, err) < 0)
            return ctr_error_wrap(err, "writable disk");
    } else if (do_mount("tmpfs", UPPER, "tmpfs", 0, "mode=0755", err) < 0) {
        return -1;
    }
    upper_fd = open(UPPER, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (upper)
        guest_archive_set_upper(upper_fd);
    if (ctr_mkdir_p(UPPER "/upper", 0755, err) < 0 || ctr_mkdir_p(UPPER "/work", 0755, err) < 0)
        return -1;
    opts = ctr_xasprintf("lowerdir=" LOWER ",upperdir=" UPPER "/upper,workdir=" UPPER "/work");
    if (do_mount("overlay", NEWROOT, "overlay", 0, opts, err) < 0)
        return ctr_error_wrap(err, "container root");
    for (size_t i = 0; i < sizeof(moves) / sizeof(moves[0]); i++) {
        cleanup_free char *t = ctr_xasprintf(NEWROOT "%s", moves[i]);
        if (ensure_dir(t, err) < 0 || do_mount(moves[i], t, NULL, MS_MOVE, NULL, err) < 0)
            return -1;
    }
    if (s->hostname && prepare_etc(s, etc_fds, err) < 0)
        goto out;
    if (stage_9p_files(s, file_fds, err) < 0)
        goto out;
    if (chdir(NEWROOT) < 0) {
        ctr_fail(err, errno, "chdir `" NEWROOT "`");
        goto out;
    }
    if (do_mount(".", "/", NULL, MS_MOVE, NULL, err) < 0)
        goto out;
    if (chroot(".") < 0 || chdir("/") < 0) {
        ctr_fail(err, errno, "chroot into the container root");
        goto out;
    }
    if (s->hostname) {
        if (sethostname(s->hostname, strlen(s->hostname)) < 0) {
            ctr_fail(err, errno, "set hostname `%s`", s->hostname);
            goto out;
        }
        bind_etc(etc_fds);
    }
    for (size_t i = 0; i < s->n_mounts; i++)
        if (mount_extra(&s->mounts[i], file_fds[i], err) < 0) {
            ctr_error_wrap(err, "mount %zu", i);
            goto out;
        }
    if (s->readonly && do_mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL, err) < 0)
        goto out;
    r = 0;
out:
    for (int i = 0; i < ETC_FILES; i++)
        if (etc_fds[i] >= 0)
            close(etc_fds[i]);
    for (size_t i = 0; i < s->n_mounts; i++)
        if (file_fds[i] >= 0)
            close(file_fds[i]);
    return r;
}

void guest_unmount_all(void)
{
    sync();
    for (size_t n = ctr_strv_len(setup_targets); n > 0; n--)
        if (umount2(setup_targets[n - 1], 0) < 0)
            umount2(setup_targets[n - 1], MNT_DETACH);
    if (upper_fd >= 0) {
        /* The overlay stays our root; a read-only remount of the upper ext4 commits
         * its journal and marks it clean for the host. */
        mount(NULL, "/", NULL, MS_REMOUNT | MS_RDONLY, NULL);
        cleanup_free char *p = ctr_xasprintf("/proc/self/fd/%d", upper_fd);
        if (mount(NULL, p, NULL, MS_REMOUNT | MS_RDONLY, NULL) < 0)
            log_warn("remount writable disk read-only: %s", strerror(errno));
    }
    sync();
}
