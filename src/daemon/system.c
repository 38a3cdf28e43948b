/* The system service: the kernel and initrd new containers get (and their replacement
 * through the API), counts and disk use of the data root, and the daemon's own log for
 * `system logs`. The Docker and project routes (/_ping, /version, /info, /system/df,
 * /container/system/...) are api/system.c. */
#include "daemon/daemon-internal.h"
#include "image/store.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

static char *bindir_file(struct dmn *d, const char *rel)
{
    cleanup_free char *rt = ctr_xstrdup(d->cfg.runtime);
    return ctr_xasprintf("%s/%s", dirname(rt), rel);
}

/* A kernel set through the API (DATA/kernel/vmlinux) wins over --kernel, which
 * wins over the runtime's default next to the binaries. Same for the initrd. */
char *dmn_kernel_path(struct dmn *d)
{
    char *p = ctr_xasprintf("%s/vmlinux", d->kernel_dir);
    if (access(p, R_OK) == 0)
        return p;
    free(p);
    if (d->cfg.kernel)
        return ctr_xstrdup(d->cfg.kernel);
    return bindir_file(d, "../kernel/vmlinux");
}

char *dmn_initrd_path(struct dmn *d)
{
    char *p = ctr_xasprintf("%s/initramfs.cpio", d->kernel_dir);
    if (access(p, R_OK) == 0)
        return p;
    free(p);
    if (d->cfg.initrd)
        return ctr_xstrdup(d->cfg.initrd);
    return bindir_file(d, "../initramfs.cpio");
}

void dmn_system_counts(struct dmn *d, struct dmn_counts *out)
{
    struct imgstore_entry *e = NULL;
    size_t n = 0;
    ctr_error_t err = NULL;
    memset(out, 0, sizeof(*out));
    dmn_lock(d);
    for (size_t i = 0; i < d->n_ctrs; i++) {
        if (d->ctrs[i]->creating)
            continue;
        out->total++;
        if (d->ctrs[i]->status == DMN_RUNNING && d->ctrs[i]->paused)
            out->paused++; /* docker counts them apart from the running ones */
        else if (d->ctrs[i]->status == DMN_RUNNING || d->ctrs[i]->restart_pending)
            out->running++; /* docker: a restarting container is running (State.Running) */
        else
            out->stopped++;
    }
    dmn_unlock(d);
    dmn_img_lock(d);
    if (imgstore_list(d->images, &e, &n, &err) < 0)
        ctr_error_free(&err);
    dmn_img_unlock(d);
    /* images are distinct manifests */
    for (size_t i = 0; i < n; i++) {
        size_t k;
        for (k = 0; k < i && strcmp(e[k].digest, e[i].digest) != 0; k++)
            ;
        out->images += k == i;
    }
    imgstore_entries_free(e, n);
}

void dmn_system_usage(struct dmn *d, struct dmn_usage *out)
{
    cleanup_free char *content = ctr_xasprintf("%s/content", d->cfg.root);
    cleanup_free char *snaps = ctr_xasprintf("%s/snapshots", d->cfg.root);

    memset(out, 0, sizeof(*out));
    dmn_system_counts(d, &out->counts);
    dmn_lock(d);
    size_t n = d->n_ctrs;
    char **bundles = ctr_xcalloc(n + 1, sizeof(char *));
    bool *active = ctr_xcalloc(n + 1, sizeof(bool));
    for (size_t i = 0; i < n; i++) {
        bundles[i] = ctr_xstrdup(d->ctrs[i]->bundle ? d->ctrs[i]->bundle : "");
        active[i] = d->ctrs[i]->status == DMN_RUNNING;
    }
    dmn_unlock(d);
    for (size_t i = 0; i < n; i++) {
        uint64_t s = dmn_disk_usage(bundles[i]);
        out->containers += s;
        if (active[i])
            out->containers_active += s;
    }
    ctr_strv_free(bundles);
    free(active);
    out->content = dmn_disk_usage(content);
    out->snapshots = dmn_disk_usage(snaps);
    out->kernel = dmn_disk_usage(d->kernel_dir);
}

void dmn_system_containers(struct dmn *d,
                           void (*emit)(struct dmn *d, struct dmn_container *c, void *ctx),
                           void *ctx)
{
    dmn_lock(d);
    for (size_t i = 0; i < d->n_ctrs; i++)
        if (!d->ctrs[i]->creating)
            emit(d, d->ctrs[i], ctx);
    dmn_unlock(d);
}

void dmn_file_info(const char *path, bool digest, struct dmn_file_info *out)
{
    struct stat st;
    memset(out, 0, sizeof(*out));
    out->present = stat(path, &st) == 0 && S_ISREG(st.st_mode);
    out->size = out->present ? (uint64_t)st.st_size : 0;
    if (out->present && digest) {
        uint64_t size;
        ctr_error_t err = NULL;
        if (oci_digest_file(path, out->sha256, &size, &err) < 0) {
            out->sha256[0] = '\0';
            ctr_error_free(&err);
        }
    }
}

/* An ELF (vmlinux) or a bzImage ("HdrS" at 0x202). */
static bool looks_like_kernel(int fd)
{
    unsigned char b[0x206];
    ssize_t n = pread(fd, b, sizeof(b), 0);
    if (n >= 4 && memcmp(b,
                         "\x7f"
                         "ELF",
                         4) == 0)
        return true;
    return n == (ssize_t)sizeof(b) && memcmp(b + 0x202, "HdrS", 4) == 0;
}

int dmn_kernel_install(struct dmn *d, int src, ctr_error_t *err)
{
    cleanup_free char *dst = ctr_xasprintf("%s/vmlinux", d->kernel_dir);
    cleanup_free char *tmp = ctr_xasprintf("%s/.vmlinux-XXXXXX", d->kernel_dir);
    char buf[65536];
    ssize_t n;
    off_t off = 0;

    if (!looks_like_kernel(src))
        return dmn_fail(err, EINVAL, "not a kernel: expected an ELF vmlinux or a bzImage");
    if (ctr_mkdir_p(d->kernel_dir, 0755, err) < 0)
        return -1;
    int out = mkostemp(tmp, O_CLOEXEC);
    if (out < 0)
        return ctr_fail(err, errno, "create `%s`", tmp);
    while ((n = pread(src, buf, sizeof(buf), off)) > 0) {
        if (ctr_write_all(out, buf, (size_t)n) < 0) {
            int e = errno;
            close(out);
            unlink(tmp);
            return ctr_fail(err, e, "write `%s`", tmp);
        }
        off += n;
    }
    if (n < 0 || fsync(out) < 0 || fchmod(out, 0644) < 0 || close(out) < 0 ||
        rename(tmp, dst) < 0) {
        int e = errno;
        unlink(tmp);
        return ctr_fail(err, e, "install the kernel as `%s`", dst);
    }
    log_info("kernel set: `%s` (%lld bytes)", dst, (long long)off);
    return 0;
}

int dmn_kernel_install_file(struct dmn *d, const char *path, ctr_error_t *err)
{
    int src = open(path, O_RDONLY | O_CLOEXEC);
    if (src < 0) {
        int e = errno;
        return dmn_fail(err, e == ENOENT ? ENOENT : EINVAL, "cannot open the kernel `%s`: %s", path,
                        strerror(e));
    }
    int rc = dmn_kernel_install(d, src, err);
    close(src);
    return rc;
}

/* ---- the daemon's log ---- */

struct dmn_logtail {
    int fd, ino;
    bool follow;
    struct dmn *d;
};

int dmn_logtail_open(struct dmn *d, bool tail_given, long want, bool follow,
                     struct dmn_logtail **out, ctr_error_t *err)
{
    if (d->log_path == NULL)
        return dmn_fail(err, ENOENT, "the daemon logs to its stderr (started with `--log-file -`)");
    int fd = open(d->log_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return dmn_fail(err, EIO, "cannot open `%s`: %s", d->log_path, strerror(errno));
    if (tail_given) {
        off_t end = lseek(fd, 0, SEEK_END), pos = end;
        char c;
        long lines = 0;
        while (pos > 0 && want > 0) {
            if (pread(fd, &c, 1, pos - 1) != 1)
                break;
            if (c == '\n' && pos != end && ++lines == want)
                break;
            pos--;
        }
        lseek(fd, want > 0 ? pos : end, SEEK_SET);
    }
    struct dmn_logtail *t = ctr_xcalloc(1, sizeof(*t));
    t->fd = fd;
    t->d = d;
    t->follow = follow;
    t->ino = -1;
    if (follow) {
        t->ino = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
        if (t->ino >= 0)
            inotify_add_watch(t->ino, d->log_path, IN_MODIFY);
    }
    *out = t;
    return 0;
}

ssize_t dmn_logtail_read(struct dmn_logtail *t, char *buf, size_t max, bool (*gone)(void *ctx),
                         void *ctx)
{
    for (;;) {
        ssize_t n = read(t->fd, buf, max);
        if (n != 0 || !t->follow)
            return n;
        /* rotated (main.c): the rest of the old file was read, go on with the new one */
        struct stat now, cur;
        if (stat(t->d->log_path, &now) == 0 && fstat(t->fd, &cur) == 0 &&
            (now.st_ino != cur.st_ino || now.st_dev != cur.st_dev)) {
            int fd = open(t->d->log_path, O_RDONLY | O_CLOEXEC);
            if (fd >= 0) {
                close(t->fd);
                t->fd = fd;
                if (t->ino >= 0)
                    inotify_add_watch(t->ino, t->d->log_path, IN_MODIFY);
                continue;
            }
        }
        struct pollfd p = {.fd = t->ino, .events = POLLIN};
        if (poll(&p, 1, 1000) > 0) {
            char ev[4096];
            while (read(t->ino, ev, sizeof(ev)) > 0)
                ;
        }
        if (gone(ctx) || atomic_load(&t->d->stopping))
            return -1;
    }
}

void dmn_logtail_free(struct dmn_logtail *t)
{
    close(t->fd);
    if (t->ino >= 0)
        close(t->ino);
    free(t);
}

/* ---- stop ---- */

int dmn_request_stop(struct dmn *d, bool containers, int timeout, ctr_error_t *err)
{
    uint64_t one = 1;
    d->stop_containers = containers;
    d->stop_timeout = timeout;
    if (write(d->stop_fd, &one, sizeof(one)) < 0)
        return dmn_fail(err, EIO, "cannot signal the daemon to stop: %s", strerror(errno));
    log_info("stop requested through the API%s", containers ? " (with containers)" : "");
    return 0;
}
