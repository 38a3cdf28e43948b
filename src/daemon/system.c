/* System routes: /_ping, /version, /info, /system/df, and the project routes
 * under /container/system/ (status, df, kernel, logs, stop). */
#include "daemon/api/api.h"
#include "image/store.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/utsname.h>
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

int api_handle_ping(struct api_req *r)
{
    /* API-Version, OSType and Docker-Experimental come with every reply (http.c) */
    api_reply_text(r, 200, "text/plain; charset=utf-8", "OK", 2);
    api_reply_header(r, "Builder-Version", "1");
    api_reply_header(r, "Cache-Control", "no-cache, no-store, must-revalidate");
    api_reply_header(r, "Pragma", "no-cache");
    return 0;
}

int api_handle_version(struct api_req *r)
{
    struct utsname u;
    uname(&u);
    return api_reply_json(
        r, 200,
        json_pack("{s:{s:s},s:[{s:s,s:s,s:{s:s,s:s,s:s,s:s,s:s,s:s,s:s}}],s:s,s:s,s:s,s:s,s:s,"
                  "s:s,s:s,s:s,s:s,s:b}",
                  "Platform", "Name", "container", "Components", "Name", "Engine", "Version",
                  DMN_VERSION, "Details", "ApiVersion", DMN_API_VERSION, "MinAPIVersion", "1.24",
                  "Os", "linux", "Arch", "amd64", "KernelVersion", u.release, "GitCommit", "",
                  "Experimental", "false", "Version", DMN_VERSION, "ApiVersion", DMN_API_VERSION,
                  "MinAPIVersion", "1.24", "GitCommit", "", "GoVersion", "", "Os", "linux", "Arch",
                  "amd64", "KernelVersion", u.release, "BuildTime", "", "Experimental", 0));
}

static void counts(struct dmn *d, size_t *total, size_t *running, size_t *stopped, size_t *images)
{
    struct imgstore_entry *e = NULL;
    size_t n = 0;
    ctr_error_t err = NULL;
    *total = *running = *stopped = 0;
    pthread_mutex_lock(&d->lock);
    for (size_t i = 0; i < d->n_ctrs; i++) {
        if (d->ctrs[i]->creating)
            continue;
        (*total)++;
        if (d->ctrs[i]->status == DMN_RUNNING)
            (*running)++;
        else
            (*stopped)++;
    }
    pthread_mutex_unlock(&d->lock);
    pthread_mutex_lock(&d->img_lock);
    if (imgstore_list(d->images, &e, &n, &err) < 0)
        ctr_error_free(&err);
    pthread_mutex_unlock(&d->img_lock);
    /* images are distinct manifests */
    size_t distinct = 0;
    for (size_t i = 0; i < n; i++) {
        size_t k;
        for (k = 0; k < i && strcmp(e[k].digest, e[i].digest) != 0; k++)
            ;
        distinct += k == i;
    }
    imgstore_entries_free(e, n);
    *images = distinct;
}

int api_handle_info(struct api_req *r)
{
    struct dmn *d = r->d;
    struct utsname u;
    size_t total, running, stopped, images;
    char host[256] = "";
    long pages = sysconf(_SC_PHYS_PAGES), psize = sysconf(_SC_PAGE_SIZE);
    cleanup_free char *now = NULL;
    struct timespec ts;

    uname(&u);
    gethostname(host, sizeof(host) - 1);
    counts(d, &total, &running, &stopped, &images);
    clock_gettime(CLOCK_REALTIME, &ts);
    now = dmn_time_rfc3339((int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec);
    json_t *j = json_pack(
        "{s:s,s:I,s:I,s:i,s:I,s:I,s:s,s:[],s:{s:[],s:[s],s:n,s:[s]},s:b,s:b,s:b,s:b,s:b,s:b,"
        "s:b,s:b,s:b,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:I,s:I,s:o,s:o,s:[],s:b,s:s}",
        "ID", "container-apiserver", "Containers", (json_int_t)total, "ContainersRunning",
        (json_int_t)running, "ContainersPaused", 0, "ContainersStopped", (json_int_t)stopped,
        "Images", (json_int_t)images, "Driver", "ext4", "DriverStatus", "Plugins", "Volume",
        "Network", "bridge", "Authorization", "Log", "json-file", "MemoryLimit", 1, "SwapLimit", 0,
        "CpuCfsPeriod", 0, "CpuCfsQuota", 0, "CPUShares", 0, "CPUSet", 0, "PidsLimit", 0,
        "IPv4Forwarding", d->net_error == NULL, "Debug", ctr_log_get_level() >= CTR_LOG_DEBUG,
        "SystemTime", now, "LoggingDriver", "json-file", "CgroupDriver", "none", "CgroupVersion",
        "2", "KernelVersion", u.release, "OperatingSystem", "container (one microVM per container)",
        "OSVersion", "", "OSType", "linux", "Architecture", u.machine, "IndexServerAddress",
        "https://index.docker.io/v1/", "NCPU", (json_int_t)sysconf(_SC_NPROCESSORS_ONLN),
        "MemTotal", (json_int_t)pages * psize, "DockerRootDir", ctr_json_str(d->cfg.root), "Name",
        ctr_json_str(host), "Labels", "ExperimentalBuild", 0, "ServerVersion", DMN_VERSION);
    json_object_set_new(
        j, "Runtimes",
        json_pack("{s:{s:o}}", "container-runtime", "path", ctr_json_str(d->cfg.runtime)));
    json_object_set_new(j, "DefaultRuntime", json_string("container-runtime"));
    json_object_set_new(j, "Swarm",
                        json_pack("{s:s,s:s,s:s,s:b,s:s,s:n}", "LocalNodeState", "inactive",
                                  "NodeID", "", "NodeAddr", "", "ControlAvailable", 0, "Error", "",
                                  "RemoteManagers"));
    json_object_set_new(
        j, "RegistryConfig",
        json_pack("{s:[],s:{},s:[]}", "InsecureRegistryCIDRs", "IndexConfigs", "Mirrors"));
    json_object_set_new(j, "LiveRestoreEnabled", json_true());
    json_object_set_new(j, "Isolation", json_string("microvm"));
    json_object_set_new(j, "SecurityOptions", json_array());
    json_object_set_new(j, "Warnings", json_array());
    return api_reply_json(r, 200, j);
}

static json_t *file_info(const char *path, bool digest)
{
    struct stat st;
    bool present = stat(path, &st) == 0 && S_ISREG(st.st_mode);
    /* host paths (the daemon's options) may hold any byte */
    json_t *j = json_pack("{s:o,s:b,s:I}", "Path", ctr_json_str(path), "Present", present, "Size",
                          (json_int_t)(present ? st.st_size : 0));
    if (present && digest) {
        char dg[OCI_DIGEST_STR_LEN + 1];
        uint64_t size;
        ctr_error_t err = NULL;
        if (oci_digest_file(path, dg, &size, &err) == 0)
            json_object_set_new(j, "Sha256", json_string(dg));
        else
            ctr_error_free(&err);
    }
    return j;
}

int api_handle_sys_status(struct api_req *r)
{
    struct dmn *d = r->d;
    size_t total, running, stopped, images;
    cleanup_free char *started = dmn_time_rfc3339(d->started_ns);
    cleanup_free char *kernel = dmn_kernel_path(d);
    cleanup_free char *initrd = dmn_initrd_path(d);
    counts(d, &total, &running, &stopped, &images);
    return api_reply_json(
        r, 200,
        json_pack("{s:b,s:s,s:s,s:i,s:s,s:s,s:s,s:s,s:o,s:o,s:I,s:I,s:I}", "Running", 1, "Version",
                  DMN_VERSION, "ApiVersion", DMN_API_VERSION, "Pid", (int)getpid(), "StartedAt",
                  started, "DataRoot", d->cfg.root, "RunRoot", d->cfg.run_root, "Socket",
                  d->cfg.socket, "Kernel", file_info(kernel, false), "Initrd",
                  file_info(initrd, false), "Containers", (json_int_t)total, "ContainersRunning",
                  (json_int_t)running, "Images", (json_int_t)images));
}

int api_handle_sys_df(struct api_req *r)
{
    struct dmn *d = r->d;
    cleanup_free char *content = ctr_xasprintf("%s/content", d->cfg.root);
    cleanup_free char *snaps = ctr_xasprintf("%s/snapshots", d->cfg.root);
    size_t total, running, stopped, images;
    json_int_t csize = 0, active_size = 0;

    counts(d, &total, &running, &stopped, &images);
    pthread_mutex_lock(&d->lock);
    size_t n = d->n_ctrs;
    char **bundles = ctr_xcalloc(n + 1, sizeof(char *));
    bool *active = ctr_xcalloc(n + 1, sizeof(bool));
    for (size_t i = 0; i < n; i++) {
        bundles[i] = ctr_xstrdup(d->ctrs[i]->bundle ? d->ctrs[i]->bundle : "");
        active[i] = d->ctrs[i]->status == DMN_RUNNING;
    }
    pthread_mutex_unlock(&d->lock);
    for (size_t i = 0; i < n; i++) {
        json_int_t s = (json_int_t)dmn_disk_usage(bundles[i]);
        csize += s;
        if (active[i])
            active_size += s;
    }
    ctr_strv_free(bundles);
    free(active);
    json_int_t content_size = (json_int_t)dmn_disk_usage(content);
    json_int_t snap_size = (json_int_t)dmn_disk_usage(snaps);
    return api_reply_json(
        r, 200,
        json_pack("{s:{s:I,s:I,s:I,s:I},s:{s:I,s:I,s:I,s:I},s:I,s:I,s:I}", "Images", "Count",
                  (json_int_t)images, "Active", (json_int_t)0, "Size", content_size + snap_size,
                  "Reclaimable", (json_int_t)0, "Containers", "Count", (json_int_t)total, "Active",
                  (json_int_t)running, "Size", csize, "Reclaimable", csize - active_size, "Content",
                  content_size, "Snapshots", snap_size, "Kernel",
                  (json_int_t)dmn_disk_usage(d->kernel_dir)));
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

static int install_kernel(struct dmn *d, int src, ctr_error_t *err)
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

int api_handle_sys_kernel(struct api_req *r)
{
    struct dmn *d = r->d;
    ctr_error_t err = NULL;

    if (strcmp(r->method, "POST") == 0) {
        const char *ct = api_header(r, "Content-Type");
        int src = -1;
        if (ct && strncmp(ct, "application/json", 16) == 0) {
            char body[8192];
            ssize_t n = pread(r->upload_fd, body, sizeof(body) - 1, 0);
            json_t *j = n > 0 ? json_loadb(body, (size_t)n, 0, NULL) : NULL;
            const char *bin = json_string_value(json_object_get(j, "Binary"));
            if (bin == NULL || bin[0] != '/') {
                json_decref(j);
                return api_reply_error(r, 400, "`Binary` must be the absolute path of a kernel");
            }
            src = open(bin, O_RDONLY | O_CLOEXEC);
            if (src < 0) {
                int e = errno;
                api_reply_error(r, e == ENOENT ? 404 : 400, "cannot open the kernel `%s`: %s", bin,
                                strerror(e));
                json_decref(j);
                return 0;
            }
            json_decref(j);
        } else {
            src = dup(r->upload_fd);
        }
        int rc = install_kernel(d, src, &err);
        close(src);
        if (rc < 0)
            return api_reply_ctr_error(r, &err);
    }
    cleanup_free char *k = dmn_kernel_path(d);
    return api_reply_json(r, 200, file_info(k, true));
}

struct logtail {
    int fd, ino, client_fd;
    bool follow;
    struct dmn *d;
};

static ssize_t logtail_fill(void *ctx, char *buf, size_t max)
{
    struct logtail *t = ctx;
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
        if (ctr_fd_peer_gone(t->client_fd) || atomic_load(&t->d->stopping))
            return -1;
    }
}

static void logtail_free(void *ctx)
{
    struct logtail *t = ctx;
    close(t->fd);
    if (t->ino >= 0)
        close(t->ino);
    free(t);
}

int api_handle_sys_logs(struct api_req *r)
{
    struct dmn *d = r->d;
    if (d->log_path == NULL)
        return api_reply_error(r, 404,
                               "the daemon logs to its stderr (started with `--log-file -`)");
    int fd = open(d->log_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return api_reply_error(r, 500, "cannot open `%s`: %s", d->log_path, strerror(errno));
    const char *tail = api_query(r, "tail");
    if (tail && *tail && strcmp(tail, "all") != 0) {
        long want = atol(tail);
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
    struct logtail *t = ctr_xcalloc(1, sizeof(*t));
    t->fd = fd;
    t->d = d;
    t->follow = api_query_bool(r, "follow");
    t->client_fd = api_req_fd(r);
    t->ino = -1;
    if (t->follow) {
        t->ino = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
        if (t->ino >= 0)
            inotify_add_watch(t->ino, d->log_path, IN_MODIFY);
    }
    return api_reply_stream(r, 200, "text/plain; charset=utf-8", logtail_fill, t, logtail_free);
}

int api_handle_sys_stop(struct api_req *r)
{
    struct dmn *d = r->d;
    uint64_t one = 1;
    const char *t = api_query(r, "t");
    d->stop_containers = api_query_bool(r, "containers");
    d->stop_timeout = t && *t ? atoi(t) : 10;
    if (write(d->stop_fd, &one, sizeof(one)) < 0)
        return api_reply_error(r, 500, "cannot signal the daemon to stop: %s", strerror(errno));
    log_info("stop requested through the API%s", d->stop_containers ? " (with containers)" : "");
    return api_reply_empty(r, 204);
}

/* Docker's GET /system/df: images (summaries with their container count),
 * containers (with SizeRw = their bundle's allocated bytes). */
int api_handle_df(struct api_req *r)
{
    struct dmn *d = r->d;
    cleanup_free char *content = ctr_xasprintf("%s/content", d->cfg.root);
    json_t *images = json_array(), *ctrs = json_array();
    struct imgstore_entry *e = NULL;
    size_t n = 0;
    ctr_error_t err = NULL;

    pthread_mutex_lock(&d->img_lock);
    if (imgstore_list(d->images, &e, &n, &err) < 0)
        ctr_error_free(&err);
    for (size_t i = 0; i < n; i++) {
        size_t k;
        for (k = 0; k < i && strcmp(e[k].digest, e[i].digest) != 0; k++)
            ;
        if (k < i)
            continue;
        struct imgstore_image img = {0};
        if (imgstore_resolve(d->images, e[i].digest, &img, &err) < 0) {
            ctr_error_free(&err);
            continue;
        }
        size_t using = 0;
        pthread_mutex_lock(&d->lock);
        for (size_t c = 0; c < d->n_ctrs; c++)
            using += d->ctrs[c]->image_id &&strcmp(d->ctrs[c]->image_id, e[i].digest) == 0;
        pthread_mutex_unlock(&d->lock);
        json_t *tags = json_array();
        for (size_t t = 0; t < n; t++)
            if (strcmp(e[t].digest, e[i].digest) == 0)
                json_array_append_new(tags, json_string(e[t].name));
        json_array_append_new(
            images, json_pack("{s:s,s:s,s:o,s:[],s:I,s:I,s:I,s:I,s:{},s:I}", "Id",
                              img.manifest_digest, "ParentId", "", "RepoTags", tags, "RepoDigests",
                              "Created", (json_int_t)(e[i].created_ns / 1000000000), "Size",
                              (json_int_t)img.size, "SharedSize", (json_int_t)0, "VirtualSize",
                              (json_int_t)img.size, "Labels", "Containers", (json_int_t) using));
        imgstore_image_release(&img);
    }
    pthread_mutex_unlock(&d->img_lock);
    imgstore_entries_free(e, n);
    pthread_mutex_lock(&d->lock);
    for (size_t i = 0; i < d->n_ctrs; i++) {
        if (d->ctrs[i]->creating)
            continue;
        json_t *s = dmn_container_summary_json(d, d->ctrs[i]);
        json_object_set_new(s, "SizeRw",
                            json_integer((json_int_t)dmn_disk_usage(d->ctrs[i]->bundle)));
        json_object_set_new(s, "SizeRootFs", json_integer(0));
        json_array_append_new(ctrs, s);
    }
    pthread_mutex_unlock(&d->lock);
    return api_reply_json(r, 200,
                          json_pack("{s:I,s:o,s:o,s:[],s:[]}", "LayersSize",
                                    (json_int_t)dmn_disk_usage(content), "Images", images,
                                    "Containers", ctrs, "Volumes", "BuildCache"));
}
