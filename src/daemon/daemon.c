/* dmn_run: the daemon's life. Directories, the pid-file lock, the image store,
 * recovery of the containers on disk, the monitor, the networks (bridges, nft,
 * DNS), the API socket, then wait for SIGTERM/SIGINT or an API stop. Containers
 * outlive the daemon. */
#include "daemon/api/api.h"
#include "shimc/shimc.h"
#include "image/store.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static int lock_pidfile(struct dmn *d, int *fd_out, ctr_error_t *err)
{
    cleanup_free char *path = ctr_xasprintf("%s/%s", d->cfg.run_root, DMN_PID_FILE);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return ctr_fail(err, errno, "open `%s`", path);
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        char buf[32] = "";
        if (pread(fd, buf, sizeof(buf) - 1, 0) < 0)
            buf[0] = '\0';
        close(fd);
        return dmn_fail(err, EBUSY, "another container-apiserver (pid %ld) serves `%s`",
                        strtol(buf, NULL, 10), d->cfg.socket);
    }
    char pid[32];
    int n = snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
    if (ftruncate(fd, 0) < 0 || pwrite(fd, pid, (size_t)n, 0) != n) {
        close(fd);
        return ctr_fail(err, errno, "write `%s`", path);
    }
    *fd_out = fd;
    return 0;
}

static int listen_socket(struct dmn *d, ctr_error_t *err)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    const char *path = d->cfg.socket;

    if (strlen(path) >= sizeof(sa.sun_path))
        return ctr_fail(err, ENAMETOOLONG, "socket path `%s` is too long (%zu bytes at most)", path,
                        sizeof(sa.sun_path) - 1);
    strcpy(sa.sun_path, path);
    unlink(path); /* we hold the pid-file lock: a leftover socket is stale */
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return ctr_fail(err, errno, "socket");
    mode_t old = umask(0117);
    int rb = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
    umask(old);
    if (rb < 0 || chmod(path, 0660) < 0 || listen(fd, 128) < 0) {
        int e = errno;
        close(fd);
        return ctr_fail(err, e, "listen on `%s`", path);
    }
    const char *group = d->cfg.group ? d->cfg.group : "container";
    struct group *g = getgrnam(group);
    if (g && chown(path, (uid_t)-1, g->gr_gid) < 0)
        log_warn("cannot give `%s` to group `%s`: %s", path, group, strerror(errno));
    else if (g == NULL && d->cfg.group)
        log_warn("group `%s` does not exist; `%s` stays root's", group, path);
    return fd;
}

static int64_t real_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void stop_all(struct dmn *d)
{
    dmn_lock(d);
    size_t n = d->n_ctrs;
    struct dmn_container **v = ctr_xcalloc(n + 1, sizeof(*v));
    for (size_t i = 0; i < n; i++) {
        v[i] = d->ctrs[i];
        v[i]->refs++;
    }
    dmn_unlock(d);
    for (size_t i = 0; i < n; i++) {
        ctr_error_t err = NULL;
        if (dmn_container_stop(d, v[i], d->stop_timeout, &err) < 0) {
            log_warn("stop container %.12s: %s", v[i]->id, err->msg);
            ctr_error_free(&err);
        }
        dmn_container_put(d, v[i]);
    }
    free(v);
}

int dmn_run(const struct dmn_config *cfg, ctr_error_t *err)
{
    struct dmn *d = ctr_xcalloc(1, sizeof(*d));
    cleanup_close int pidfd = -1;
    cleanup_close int sigfd = -1;
    cleanup_close int lfd = -1;
    sigset_t set;
    void *http = NULL;
    bool net_up = false;
    int ret = -1;

    d->cfg = *cfg;
    d->started_ns = real_ns();
    d->epfd = d->wake_fd = -1;
    pthread_mutex_init(&d->lock, NULL);
    pthread_cond_init(&d->cond, NULL);
    pthread_mutex_init(&d->img_lock, NULL);
    pthread_mutex_init(&d->net_lock, NULL);
    d->containers_dir = ctr_xasprintf("%s/containers", cfg->root);
    d->tmp_dir = ctr_xasprintf("%s/tmp", cfg->root);
    d->kernel_dir = ctr_xasprintf("%s/kernel", cfg->root);
    d->log_path = cfg->log_path;

    /* Signals go to the main loop only: block them before any thread starts. */
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    sigfd = signalfd(-1, &set, SFD_CLOEXEC);
    d->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (sigfd < 0 || d->stop_fd < 0) {
        ctr_fail(err, errno, "signalfd");
        goto out;
    }
    if (ctr_mkdir_p(cfg->run_root, 0755, err) < 0 || ctr_mkdir_p(cfg->root, 0711, err) < 0 ||
        ctr_mkdir_p(d->containers_dir, 0700, err) < 0)
        goto out;
    if (lock_pidfile(d, &pidfd, err) < 0)
        goto out;
    {
        ctr_error_t e2 = NULL;
        if (ctr_rm_rf(d->tmp_dir, &e2) < 0)
            ctr_error_free(&e2);
    }
    if (ctr_mkdir_p(d->tmp_dir, 0700, err) < 0)
        goto out;
    if (access(cfg->runtime, X_OK) < 0) {
        ctr_fail(err, errno, "the runtime `%s` is not executable; build it or pass `--runtime`",
                 cfg->runtime);
        goto out;
    }
    shimc_set_runtime(cfg->runtime); /* maintenance VMs of cp/export */
    if (imgstore_open(cfg->root, &d->images, err) < 0)
        goto out;
    if (dmn_monitor_start(d, err) < 0 || dmn_containers_load(d, err) < 0)
        goto out;
    dmn_networks_init(d); /* after the containers: DNS answers for them, IPAM is checked */
    /* restart policies, once the networks are up */
    dmn_containers_autostart(d);
    net_up = true;
    lfd = listen_socket(d, err);
    if (lfd < 0)
        goto out;
    http = api_http_start(d, lfd, err);
    if (http == NULL)
        goto out;
    log_info("container-apiserver %s serving API %s on `%s` (data `%s`)", DMN_VERSION,
             DMN_API_VERSION, cfg->socket, cfg->root);
    for (;;) {
        struct pollfd p[2] = {{.fd = sigfd, .events = POLLIN},
                              {.fd = d->stop_fd, .events = POLLIN}};
        if (poll(p, 2, -1) < 0 && errno != EINTR) {
            ctr_fail(err, errno, "poll");
            goto out;
        }
        if (p[0].revents & POLLIN) {
            struct signalfd_siginfo si;
            if (read(sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
                if (si.ssi_signo == SIGHUP)
                    continue;
                log_info("signal %d: shutting down (containers keep running)", (int)si.ssi_signo);
            }
            break;
        }
        if (p[1].revents & POLLIN) {
            /* let the 204 reach the client first */
            struct timespec ts = {0, 100 * 1000 * 1000};
            nanosleep(&ts, NULL);
            break;
        }
    }
    if (d->stop_containers)
        stop_all(d);
    ret = 0;
out:
    atomic_store(&d->stopping, true);
    if (http) {
        /* Stop accepting; streams still running end with the process. */
        unlink(cfg->socket);
        dmn_lock(d);
        pthread_cond_broadcast(&d->cond);
        dmn_unlock(d);
        if (atomic_load(&d->streams) == 0)
            api_http_stop(http);
    }
    if (net_up)
        dmn_networks_shutdown(d);
    if (pidfd >= 0) {
        cleanup_free char *pp = ctr_xasprintf("%s/%s", cfg->run_root, DMN_PID_FILE);
        unlink(pp);
    }
    return ret;
}
