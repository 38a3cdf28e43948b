/* Warm start, host side: the template policy (docs/runtime.md "Warm start").
 *
 * A template is a VMM snapshot (vmm_ops.snapshot) of a VM booted with the container's
 * shape but placeholder backends (vmm_ops.start_template), taken once vminitd answered
 * `hello`. A run restores it with the real backends (vmm_ops.restore, in shim.c);
 * vminitd then fixes what the clone shares with its template (src/guest/warm.c). This
 * file owns which templates exist: their key, directory, lock and eviction; how a VM is
 * saved and restored, and the format of the file, are the backend's. */
#include "shim/warm.h"

#include "proto/agent-msg.h"
#include "proto/agent.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define WARM_KEY_VERSION "container-runtime warm template v1"

bool shim_warm_enabled(void)
{
    const char *e = getenv("CONTAINER_WARM_START");
    return !(e && (strcmp(e, "0") == 0 || strcmp(e, "off") == 0 || strcmp(e, "false") == 0));
}

static const char *template_root(void)
{
    const char *e = getenv("CONTAINER_TEMPLATE_DIR");
    return e && e[0] ? e : SHIM_TEMPLATE_DIR;
}

static int64_t remaining_ms(uint64_t deadline)
{
    uint64_t now = ctr_now_ns();
    return now >= deadline ? 0 : (int64_t)((deadline - now) / 1000000) + 1;
}

/* ---- shape key ---- */

static int hash_file(EVP_MD_CTX *md, const char *path, ctr_error_t *err)
{
    char buf[65536];
    cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n;

    if (fd < 0)
        return ctr_fail(err, errno, "open `%s`", path);
    while ((n = read(fd, buf, sizeof(buf))) > 0)
        EVP_DigestUpdate(md, buf, (size_t)n);
    if (n < 0)
        return ctr_fail(err, errno, "read `%s`", path);
    return 0;
}

/* A file's identity without reading it (the kernel: 20 MB): path, inode, size, mtime. */
static int hash_stat(EVP_MD_CTX *md, const char *what, const char *path, ctr_error_t *err)
{
    struct stat st;
    if (stat(path, &st) < 0)
        return ctr_fail(err, errno, "%s `%s`", what, path);
    cleanup_free char *s =
        ctr_xasprintf("%s=%s:%llu:%llu:%lld:%lld.%09ld", what, path, (unsigned long long)st.st_dev,
                      (unsigned long long)st.st_ino, (long long)st.st_size,
                      (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
    EVP_DigestUpdate(md, s, strlen(s) + 1);
    return 0;
}

int shim_warm_key(const struct vmm_ops *ops, const struct vmm_config *vc, char **key,
                  ctr_error_t *err)
{
    cleanup_strv char **words = NULL;
    cleanup_free char *program = NULL;
    unsigned char dig[EVP_MAX_MD_SIZE];
    unsigned dlen = 0;
    EVP_MD_CTX *md;
    int r = -1;

    if (ops->snapshot_shape(vc, &words, &program, err) < 0)
        return -1;
    md = EVP_MD_CTX_new();
    if (md == NULL || !EVP_DigestInit_ex(md, EVP_sha256(), NULL)) {
        ctr_fail(err, ENOMEM, "sha256");
        goto out;
    }
    EVP_DigestUpdate(md, WARM_KEY_VERSION, sizeof(WARM_KEY_VERSION));
    for (char **w = words; *w; w++)
        EVP_DigestUpdate(md, *w, strlen(*w) + 1);
    if (hash_stat(md, ops->name, program, err) < 0 || hash_stat(md, "kernel", vc->kernel, err) < 0)
        goto out;
    /* The initramfs is remade by scripts and tests (same content, new file): by content. */
    if (vc->initrd) {
        EVP_DigestUpdate(md, "initrd", 7);
        if (hash_file(md, vc->initrd, err) < 0)
            goto out;
    }
    EVP_DigestFinal_ex(md, dig, &dlen);
    *key = ctr_xmalloc(2 * dlen + 1);
    for (unsigned i = 0; i < dlen; i++)
        snprintf(*key + 2 * i, 3, "%02x", dig[i]);
    r = 0;
out:
    EVP_MD_CTX_free(md);
    return r;
}

/* ---- agent: one blocking hello ---- */

int shim_agent_sync_hello(int agent_fd, int pidfd, unsigned timeout_ms, ctr_error_t *err)
{
    const uint64_t id = 1u << 30; /* the agent client's own ids start at 1 */
    struct agent_request req = {.id = id, .op = AGENT_OP_HELLO};
    struct agent_decoder dec;
    uint64_t deadline = ctr_now_ns() + (uint64_t)timeout_ms * 1000000;
    size_t len;
    int r = -1;

    req.u.hello.version = AGENT_PROTO_VERSION;
    cleanup_free char *json = agent_request_encode(&req, &len);
    if (agent_frame_write(agent_fd, AGENT_CONTROL_STREAM, AGENT_FRAME_CONTROL, json, (uint32_t)len,
                          err) < 0)
        return -1;
    agent_decoder_init(&dec);
    for (;;) {
        struct pollfd p[2] = {{.fd = agent_fd, .events = POLLIN}, {.fd = pidfd, .events = POLLIN}};
        uint8_t buf[4096];
        int64_t left = remaining_ms(deadline);
        if (left == 0) {
            ctr_fail(err, ETIMEDOUT, "no `hello` reply from vminitd within %u ms", timeout_ms);
            break;
        }
        int n = poll(p, pidfd >= 0 ? 2 : 1, (int)left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            ctr_fail(err, errno, "poll");
            break;
        }
        if (pidfd >= 0 && (p[1].revents & POLLIN)) {
            ctr_fail(err, 0, "QEMU exited before vminitd answered `hello`");
            break;
        }
        if (!(p[0].revents & (POLLIN | POLLHUP)))
            continue;
        ssize_t got = read(agent_fd, buf, sizeof(buf));
        if (got < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (got <= 0) {
            ctr_fail(err, got < 0 ? errno : EPIPE, "agent connection lost before `hello` reply");
            break;
        }
        size_t off = 0;
        while (off < (size_t)got) {
            struct agent_frame f;
            size_t used = 0;
            int fr = agent_decoder_feed(&dec, buf + off, (size_t)got - off, &used, &f, err);
            off += used;
            if (fr < 0)
                goto out;
            if (fr == 0)
                break;
            if (f.stream != AGENT_CONTROL_STREAM || f.type != AGENT_FRAME_CONTROL)
                continue;
            enum agent_guest_msg_kind kind;
            struct agent_reply rep = {0};
            struct agent_event ev = {0};
            if (agent_guest_msg_decode((const char *)f.payload, f.length, &kind, &rep, &ev, err) <
                0)
                goto out;
            if (kind == AGENT_MSG_EVENT) {
                agent_event_release(&ev);
                continue;
            }
            bool mine = rep.id == id, ok = rep.ok;
            if (mine && !ok)
                ctr_fail(err, EPROTO, "vminitd refused `hello`: %s",
                         rep.error ? rep.error : "no reason");
            agent_reply_release(&rep);
            if (mine) {
                r = ok ? 0 : -1;
                goto out;
            }
        }
    }
out:
    agent_decoder_release(&dec);
    return r;
}

/* ---- template creation ---- */

static int make_template(const struct vmm_ops *ops, const struct vmm_config *vc, const char *root,
                         const char *key, unsigned timeout_ms, ctr_error_t *err)
{
    cleanup_free char *tmp = ctr_xasprintf("%s/%s.tmp.%d", root, key, (int)getpid());
    cleanup_free char *final = ctr_xasprintf("%s/%s", root, key);
    cleanup_free char *empty = ctr_xasprintf("%s/empty", root);
    cleanup_free char *state = ctr_xasprintf("%s/state", tmp);
    cleanup_free char *console = ctr_xasprintf("%s/boot.log", tmp);
    cleanup_close int state_fd = -1;
    struct vmm vm = {.pidfd = -1, .stderr_fd = -1};
    struct vmm_config tc = *vc;
    uint64_t deadline = ctr_now_ns() + (uint64_t)timeout_ms * 1000000;
    int agent[2] = {-1, -1};
    int r = -1;

    ctr_rm_rf(tmp, NULL);
    if (mkdir(tmp, 0700) < 0)
        return ctr_fail(err, errno, "create `%s`", tmp);
    if (mkdir(empty, 0555) < 0 && errno != EEXIST) {
        ctr_fail(err, errno, "create `%s`", empty);
        goto out;
    }
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, agent) < 0) {
        ctr_fail(err, errno, "socketpair");
        goto out;
    }
    tc.agent_fd = agent[1];
    tc.console = console;
    tc.events = false;
    if (ops->start_template(&vm, &tc, empty, err) < 0)
        goto out;
    close(agent[1]);
    agent[1] = -1;
    if (shim_agent_sync_hello(agent[0], vm.pidfd, timeout_ms, err) < 0)
        goto out;
    state_fd = open(state, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (state_fd < 0) {
        ctr_fail(err, errno, "create `%s`", state);
        goto out;
    }
    if (ops->snapshot(&vm, state_fd, deadline, err) < 0)
        goto out;
    if (fsync(state_fd) < 0) {
        ctr_fail(err, errno, "fsync `%s`", state);
        goto out;
    }
    ops->kill(&vm, SIGKILL, NULL);
    ops->wait(&vm, true, NULL);
    if (rename(tmp, final) < 0) {
        if (errno != EEXIST && errno != ENOTEMPTY) {
            ctr_fail(err, errno, "rename `%s` to `%s`", tmp, final);
            goto out;
        }
    } else {
        cleanup_close int dfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0)
            fsync(dfd);
    }
    r = 0;
out:
    if (r < 0 && vm.pid > 0) {
        vmm_drain_stderr(&vm, -1);
        if (vm.tail_len)
            ctr_error_wrap(err, "%s said: %.*s", ops->display_name, (int)vm.tail_len, vm.tail);
    }
    ops->release(&vm);
    for (int i = 0; i < 2; i++)
        if (agent[i] >= 0)
            close(agent[i]);
    ctr_rm_rf(tmp, NULL); /* gone already after the rename */
    return r;
}

/* Keep the SHIM_TEMPLATES_KEPT most recently used templates (a run touches its
 * template's directory), and remove what shims killed while making one left. One being made or used
 * meanwhile is safe: the lock is taken before removal, and a run holds the stream open. */
static void evict_old(const char *root)
{
    struct ent {
        char name[80];
        struct timespec t;
    } *ents = NULL;
    size_t n = 0;
    DIR *d = opendir(root);
    struct dirent *de;

    if (d == NULL)
        return;
    while ((de = readdir(d)) != NULL) {
        struct stat st;
        const char *tmp = strstr(de->d_name, ".tmp.");
        if (tmp && tmp - de->d_name == 64) { /* a shim killed while making a template */
            long pid = strtol(tmp + 5, NULL, 10);
            if (pid > 0 && kill((pid_t)pid, 0) < 0 && errno == ESRCH) {
                cleanup_free char *dir = ctr_xasprintf("%s/%s", root, de->d_name);
                ctr_rm_rf(dir, NULL);
            }
            continue;
        }
        if (strlen(de->d_name) != 64 || strspn(de->d_name, "0123456789abcdef") != 64 ||
            fstatat(dirfd(d), de->d_name, &st, 0) < 0 || !S_ISDIR(st.st_mode))
            continue;
        ents = ctr_xrealloc(ents, (n + 1) * sizeof(*ents));
        snprintf(ents[n].name, sizeof(ents[n].name), "%s", de->d_name);
        ents[n].t = st.st_mtim;
        n++;
    }
    closedir(d);
    while (n > SHIM_TEMPLATES_KEPT) {
        size_t old = 0;
        for (size_t i = 1; i < n; i++)
            if (ents[i].t.tv_sec < ents[old].t.tv_sec ||
                (ents[i].t.tv_sec == ents[old].t.tv_sec && ents[i].t.tv_nsec < ents[old].t.tv_nsec))
                old = i;
        cleanup_free char *dir = ctr_xasprintf("%s/%s", root, ents[old].name);
        cleanup_free char *lock = ctr_xasprintf("%s.lock", dir);
        cleanup_close int lfd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (lfd >= 0 && flock(lfd, LOCK_EX | LOCK_NB) == 0) {
            log_info("removing least recently used warm-start template `%s`", dir);
            ctr_rm_rf(dir, NULL);
            unlink(lock);
        }
        ents[old] = ents[--n];
    }
    free(ents);
}

/* Open the snapshot if the template is there and starts like one. */
static int open_state(const struct vmm_ops *ops, const char *dir)
{
    cleanup_free char *state = ctr_xasprintf("%s/state", dir);
    int fd = open(state, O_RDONLY | O_CLOEXEC);

    if (fd < 0)
        return -1;
    if (!ops->snapshot_valid(fd)) {
        close(fd);
        errno = EINVAL;
        return -1;
    }
    return fd;
}

void shim_warm_prepare(const struct vmm_ops *ops, const struct vmm_config *vc, unsigned timeout_ms,
                       struct shim_warm *w)
{
    cleanup_error ctr_error_t err = NULL;
    cleanup_free char *lock = NULL;
    cleanup_close int lfd = -1;
    const char *root = template_root();

    w->fd = -1;
    if (shim_warm_key(ops, vc, &w->key, &err) < 0)
        goto cold;
    w->dir = ctr_xasprintf("%s/%s", root, w->key);
    if ((w->fd = open_state(ops, w->dir)) >= 0)
        goto ready;
    if (errno == EINVAL) {
        log_warn("warm-start template `%s` is not a %s; making it again", w->dir,
                 ops->snapshot_format);
        ctr_rm_rf(w->dir, NULL);
    }
    if (ctr_mkdir_p(root, 0700, &err) < 0)
        goto cold;
    lock = ctr_xasprintf("%s.lock", w->dir);
    lfd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lfd < 0 || flock(lfd, LOCK_EX) < 0) { /* another shim may be making it: wait */
        ctr_fail(&err, errno, "lock `%s`", lock);
        goto cold;
    }
    if ((w->fd = open_state(ops, w->dir)) >= 0) /* made meanwhile */
        goto ready;
    ctr_rm_rf(w->dir, NULL);
    uint64_t t0 = ctr_now_ns();
    if (make_template(ops, vc, root, w->key, timeout_ms, &err) < 0) {
        ctr_error_wrap(&err, "make warm-start template `%s`", w->dir);
        goto cold;
    }
    w->create_s = (double)(ctr_now_ns() - t0) / 1e9;
    if ((w->fd = open_state(ops, w->dir)) < 0) {
        ctr_fail(&err, errno, "open the template made at `%s`", w->dir);
        goto cold;
    }
    log_info("made warm-start template `%s` in %.3f s", w->dir, w->create_s);
    flock(lfd, LOCK_UN);
    evict_old(root);
ready:
    utimensat(AT_FDCWD, w->dir, NULL, 0); /* recently used */
    return;
cold:
    w->why_cold = ctr_xstrdup(err ? err->msg : "no template");
    log_warn("warm start not possible, booting cold: %s", w->why_cold);
}

void shim_warm_discard(struct shim_warm *w)
{
    if (w->dir == NULL)
        return;
    cleanup_free char *lock = ctr_xasprintf("%s.lock", w->dir);
    cleanup_close int lfd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lfd >= 0 && flock(lfd, LOCK_EX) == 0)
        ctr_rm_rf(w->dir, NULL);
}

void shim_warm_copy_bootlog(const struct shim_warm *w, int fd)
{
    cleanup_free char *path = ctr_xasprintf("%s/boot.log", w->dir);
    cleanup_free char *text = NULL;
    size_t len = 0;

    if (fd < 0)
        return;
    if (ctr_read_file(path, 1 << 20, &text, &len, NULL) == 0)
        (void)ctr_write_all(fd, text, len);
    cleanup_free char *line = ctr_xasprintf(
        "--- warm start: the VM above was saved as template %s and restored here ---\n", w->dir);
    (void)ctr_write_all(fd, line, strlen(line));
}

int shim_warm_setup(struct agent_setup *setup, const struct vmm_config *vc, ctr_error_t *err)
{
    struct timespec ts;

    if (vc->n_nets) {
        setup->warm_macs = ctr_xcalloc(vc->n_nets + 1, sizeof(char *));
        for (size_t i = 0; i < vc->n_nets; i++)
            setup->warm_macs[i] = ctr_xstrdup(vc->nets[i].mac);
    }
    if (getrandom(setup->warm_entropy, sizeof(setup->warm_entropy), 0) !=
        (ssize_t)sizeof(setup->warm_entropy))
        return ctr_fail(err, errno, "getrandom");
    clock_gettime(CLOCK_REALTIME, &ts);
    setup->warm_time_ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
    setup->warm = true;
    return 0;
}

void shim_warm_release(struct shim_warm *w)
{
    if (w->fd >= 0)
        close(w->fd);
    free(w->key);
    free(w->dir);
    free(w->why_cold);
    *w = (struct shim_warm){.fd = -1};
}
