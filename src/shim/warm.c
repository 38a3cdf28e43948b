/* Warm start, host side: templates (docs/runtime.md "Warm start").
 *
 * A template is the migration stream of a VM booted with the container's shape but
 * placeholder backends (null-co disks of the real sizes, shares exported from an empty
 * directory), stopped over QMP once vminitd answered `hello`, and saved with QEMU's
 * `migrate` to a file. A run restores it with `-incoming fd:N` and the real backends;
 * vminitd then fixes what the clone shares with its template (src/guest/warm.c). */
#include "shim/warm.h"

#include "proto/agent-msg.h"
#include "proto/agent.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

static void json_decref_p(json_t **j)
{
    json_decref(*j);
}
#define cleanup_json __attribute__((cleanup(json_decref_p)))

#define WARM_KEY_VERSION "container-runtime warm template v1"
#define QEVM_MAGIC "QEVM" /* QEMU_VM_FILE_MAGIC, big-endian */

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

static char *find_in_path(const char *bin)
{
    if (strchr(bin, '/'))
        return realpath(bin, NULL);
    const char *path = getenv("PATH");
    if (path == NULL || path[0] == '\0')
        path = "/usr/local/bin:/usr/bin:/bin";
    cleanup_free char *copy = ctr_xstrdup(path);
    for (char *save = NULL, *dir = strtok_r(copy, ":", &save); dir;
         dir = strtok_r(NULL, ":", &save)) {
        cleanup_free char *p = ctr_xasprintf("%s/%s", dir, bin);
        if (access(p, X_OK) == 0)
            return realpath(p, NULL);
    }
    return NULL;
}

static int disk_sizes(const struct vmm_config *vc, uint64_t **out, ctr_error_t *err)
{
    *out = ctr_xcalloc(vc->n_disks + 1, sizeof(uint64_t));
    for (size_t i = 0; i < vc->n_disks; i++) {
        struct stat st;
        if (stat(vc->disks[i].path, &st) < 0)
            return ctr_fail(err, errno, "disk `%s`", vc->disks[i].path);
        (*out)[i] = (uint64_t)st.st_size;
    }
    return 0;
}

static int key_with_sizes(const struct vmm_config *vc, const uint64_t *sizes, char **key,
                          ctr_error_t *err)
{
    struct vmm_config kc = *vc;
    cleanup_strv char **argv = NULL;
    cleanup_free char *qemu = NULL;
    unsigned char dig[EVP_MAX_MD_SIZE];
    unsigned dlen = 0;
    EVP_MD_CTX *md;
    int r = -1;

    /* The template's own command line, with its paths fixed: the shape. */
    kc.template_vm = true;
    kc.disk_sizes = sizes;
    kc.placeholder_dir = "/placeholder";
    kc.console = "/console";
    kc.qmp_fd = -1;
    kc.restore = false;
    argv = vmm_qemu_argv(&kc, 3, err);
    if (argv == NULL)
        return -1;
    qemu = find_in_path(vc->binary ? vc->binary : "qemu-system-x86_64");
    if (qemu == NULL)
        return ctr_fail(err, ENOENT, "QEMU `%s` not found",
                        vc->binary ? vc->binary : "qemu-system-x86_64");
    md = EVP_MD_CTX_new();
    if (md == NULL || !EVP_DigestInit_ex(md, EVP_sha256(), NULL)) {
        ctr_fail(err, ENOMEM, "sha256");
        goto out;
    }
    EVP_DigestUpdate(md, WARM_KEY_VERSION, sizeof(WARM_KEY_VERSION));
    for (char **a = argv; *a; a++)
        EVP_DigestUpdate(md, *a, strlen(*a) + 1);
    if (hash_stat(md, "qemu", qemu, err) < 0 || hash_stat(md, "kernel", vc->kernel, err) < 0)
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

int shim_warm_key(const struct vmm_config *vc, char **key, ctr_error_t *err)
{
    cleanup_free uint64_t *sizes = NULL;
    if (disk_sizes(vc, &sizes, err) < 0)
        return -1;
    return key_with_sizes(vc, sizes, key, err);
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

/* ---- QMP (template VMs only) ---- */

struct qmp {
    int fd;
    char buf[65536];
    size_t len;
    uint64_t deadline;
};

/* Next JSON message (one per line). */
static int qmp_recv(struct qmp *q, json_t **out, ctr_error_t *err)
{
    for (;;) {
        char *nl = memchr(q->buf, '\n', q->len);
        if (nl) {
            json_error_t je;
            size_t n = (size_t)(nl - q->buf) + 1;
            *out = json_loadb(q->buf, n, 0, &je);
            memmove(q->buf, q->buf + n, q->len - n);
            q->len -= n;
            if (*out == NULL)
                return ctr_fail(err, EPROTO, "QMP: bad JSON: %s", je.text);
            return 0;
        }
        if (q->len == sizeof(q->buf))
            return ctr_fail(err, EPROTO, "QMP: message too long");
        struct pollfd p = {.fd = q->fd, .events = POLLIN};
        int64_t left = remaining_ms(q->deadline);
        if (left == 0)
            return ctr_fail(err, ETIMEDOUT, "QMP: no answer in time");
        int r = poll(&p, 1, (int)left);
        if (r < 0 && errno != EINTR)
            return ctr_fail(err, errno, "poll");
        if (r <= 0)
            continue;
        ssize_t n = read(q->fd, q->buf + q->len, sizeof(q->buf) - q->len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return ctr_fail(err, n < 0 ? errno : EPIPE, "QMP: connection closed");
        q->len += (size_t)n;
    }
}

/* Run one command (args stolen, may be NULL), passing send_fd along when >= 0 (getfd). */
static int qmp_cmd(struct qmp *q, const char *cmd, json_t *args, int send_fd, json_t **ret,
                   ctr_error_t *err)
{
    cleanup_json json_t *o = json_pack("{s:s}", "execute", cmd);
    if (args)
        json_object_set_new(o, "arguments", args);
    cleanup_free char *text = json_dumps(o, JSON_COMPACT);
    size_t len = strlen(text);
    struct iovec iov = {.iov_base = text, .iov_len = len};
    union {
        char b[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } ctl;
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};

    if (send_fd >= 0) {
        memset(&ctl, 0, sizeof(ctl));
        mh.msg_control = ctl.b;
        mh.msg_controllen = sizeof(ctl.b);
        struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(c), &send_fd, sizeof(int));
    }
    if (sendmsg(q->fd, &mh, MSG_NOSIGNAL) != (ssize_t)len)
        return ctr_fail(err, errno, "QMP: send `%s`", cmd);
    for (;;) {
        json_t *m = NULL;
        if (qmp_recv(q, &m, err) < 0)
            return -1;
        json_t *e = json_object_get(m, "error");
        if (e) {
            const char *desc = json_string_value(json_object_get(e, "desc"));
            ctr_fail(err, EIO, "QMP `%s`: %s", cmd, desc ? desc : "error");
            json_decref(m);
            return -1;
        }
        json_t *r = json_object_get(m, "return");
        if (r) {
            if (ret)
                *ret = json_incref(r);
            json_decref(m);
            return 0;
        }
        json_decref(m); /* an event or the greeting */
    }
}

/* ---- template creation ---- */

static int make_template(const struct vmm_config *vc, const uint64_t *sizes, const char *root,
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
    struct qmp q = {.fd = -1};
    int agent[2] = {-1, -1}, qmp[2] = {-1, -1};
    cleanup_free int *taps = ctr_xcalloc(vc->n_nets + 1, sizeof(int));
    int r = -1;

    for (size_t i = 0; i < vc->n_nets; i++)
        taps[i] = -1;

    q.deadline = ctr_now_ns() + (uint64_t)timeout_ms * 1000000;
    ctr_rm_rf(tmp, NULL);
    if (mkdir(tmp, 0700) < 0)
        return ctr_fail(err, errno, "create `%s`", tmp);
    if (mkdir(empty, 0555) < 0 && errno != EEXIST) {
        ctr_fail(err, errno, "create `%s`", empty);
        goto out;
    }
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, agent) < 0 ||
        socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, qmp) < 0) {
        ctr_fail(err, errno, "socketpair");
        goto out;
    }
    /* Placeholder TAPs (same flags as the real ones, on no bridge, down; they vanish
     * with the template VM): the guest's NICs exist, with placeholder MACs. */
    for (size_t i = 0; i < vc->n_nets; i++) {
        struct ifreq ifr = {.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR};
        taps[i] = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
        if (taps[i] < 0 || ioctl(taps[i], TUNSETIFF, &ifr) < 0) {
            ctr_fail(err, errno, "create a placeholder TAP");
            goto out;
        }
    }
    tc.tap_fds = taps;
    tc.template_vm = true;
    tc.disk_sizes = sizes;
    tc.placeholder_dir = empty;
    tc.qmp_fd = qmp[1];
    tc.agent_fd = agent[1];
    tc.console = console;
    tc.restore = false;
    if (vmm_qemu_ops.start(&vm, &tc, err) < 0)
        goto out;
    close(agent[1]), close(qmp[1]);
    agent[1] = qmp[1] = -1;
    q.fd = qmp[0];
    if (shim_agent_sync_hello(agent[0], vm.pidfd, timeout_ms, err) < 0 ||
        qmp_cmd(&q, "qmp_capabilities", NULL, -1, NULL, err) < 0 ||
        qmp_cmd(&q, "stop", NULL, -1, NULL, err) < 0)
        goto out;
    state_fd = open(state, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (state_fd < 0) {
        ctr_fail(err, errno, "create `%s`", state);
        goto out;
    }
    if (qmp_cmd(&q, "getfd", json_pack("{s:s}", "fdname", "state"), state_fd, NULL, err) < 0 ||
        qmp_cmd(&q, "migrate", json_pack("{s:s}", "uri", "fd:state"), -1, NULL, err) < 0)
        goto out;
    for (;;) {
        json_t *st = NULL;
        if (qmp_cmd(&q, "query-migrate", NULL, -1, &st, err) < 0)
            goto out;
        const char *status = json_string_value(json_object_get(st, "status"));
        cleanup_free char *s = ctr_xstrdup(status ? status : "");
        const char *why = json_string_value(json_object_get(st, "error-desc"));
        cleanup_free char *whyc = why ? ctr_xstrdup(why) : NULL;
        json_decref(st);
        if (strcmp(s, "completed") == 0)
            break;
        if (strcmp(s, "failed") == 0 || strcmp(s, "cancelled") == 0) {
            ctr_fail(err, EIO, "saving the template VM %s: %s", s, whyc ? whyc : "no reason");
            goto out;
        }
        usleep(5000);
    }
    if (fsync(state_fd) < 0) {
        ctr_fail(err, errno, "fsync `%s`", state);
        goto out;
    }
    vmm_qemu_ops.kill(&vm, SIGKILL, NULL);
    vmm_qemu_ops.wait(&vm, true, NULL);
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
            ctr_error_wrap(err, "QEMU said: %.*s", (int)vm.tail_len, vm.tail);
    }
    vmm_qemu_ops.release(&vm);
    for (int i = 0; i < 2; i++) {
        if (agent[i] >= 0)
            close(agent[i]);
        if (qmp[i] >= 0)
            close(qmp[i]);
    }
    for (size_t i = 0; i < vc->n_nets; i++)
        if (taps[i] >= 0)
            close(taps[i]);
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

/* Open the stream if the template is there and starts like one. */
static int open_state(const char *dir)
{
    cleanup_free char *state = ctr_xasprintf("%s/state", dir);
    char magic[4];
    int fd = open(state, O_RDONLY | O_CLOEXEC);

    if (fd < 0)
        return -1;
    if (pread(fd, magic, 4, 0) != 4 || memcmp(magic, QEVM_MAGIC, 4) != 0) {
        close(fd);
        errno = EINVAL;
        return -1;
    }
    return fd;
}

void shim_warm_prepare(const struct vmm_config *vc, unsigned timeout_ms, struct shim_warm *w)
{
    cleanup_error ctr_error_t err = NULL;
    cleanup_free uint64_t *sizes = NULL;
    cleanup_free char *lock = NULL;
    cleanup_close int lfd = -1;
    const char *root = template_root();

    w->fd = -1;
    if (disk_sizes(vc, &sizes, &err) < 0 || key_with_sizes(vc, sizes, &w->key, &err) < 0)
        goto cold;
    w->dir = ctr_xasprintf("%s/%s", root, w->key);
    if ((w->fd = open_state(w->dir)) >= 0)
        goto ready;
    if (errno == EINVAL) {
        log_warn("warm-start template `%s` is not a QEMU migration stream; making it again",
                 w->dir);
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
    if ((w->fd = open_state(w->dir)) >= 0) /* made meanwhile */
        goto ready;
    ctr_rm_rf(w->dir, NULL);
    uint64_t t0 = ctr_now_ns();
    if (make_template(vc, sizes, root, w->key, timeout_ms, &err) < 0) {
        ctr_error_wrap(&err, "make warm-start template `%s`", w->dir);
        goto cold;
    }
    w->create_s = (double)(ctr_now_ns() - t0) / 1e9;
    if ((w->fd = open_state(w->dir)) < 0) {
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
