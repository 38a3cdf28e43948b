/* `cp` and `export` (shimc.h): a running container's shim does the
 * work over shim.sock; a stopped container is booted in maintenance mode by running
 * `container-runtime archive BUNDLE ...` (docs/runtime.md, "Files"). */
#include "shimc/shimc-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define RESULT_MAX (64u * 1024)

void shimc_path_stat_release(struct shimc_path_stat *st)
{
    if (st == NULL)
        return;
    free(st->name);
    free(st->mtime);
    free(st->link_target);
    memset(st, 0, sizeof(*st));
}

static void stat_copy(struct shimc_path_stat *out, const struct agent_path_stat *in)
{
    if (out == NULL || in == NULL)
        return;
    out->name = ctr_xstrdup(in->name ? in->name : "");
    out->size = in->size;
    out->mode = in->mode;
    out->mtime = ctr_xstrdup(in->mtime ? in->mtime : "");
    out->link_target = ctr_xstrdup(in->link_target ? in->link_target : "");
}

/* ---- running container: one session on shim.sock ---- */

struct conn {
    int fd;
    struct agent_decoder dec;
    uint8_t buf[64 * 1024];
    size_t off, len;
};

/* Next frame from the shim (valid until the next call); -1 on EOF or a bad frame. */
static int conn_next(struct conn *c, struct agent_frame *f, ctr_error_t *err)
{
    for (;;) {
        if (c->off < c->len) {
            size_t used = 0;
            int r = agent_decoder_feed(&c->dec, c->buf + c->off, c->len - c->off, &used, f, err);
            c->off += used;
            if (r < 0)
                return ctr_error_wrap(err, "shim connection");
            if (r == 1)
                return 0;
        }
        ssize_t n = read(c->fd, c->buf, sizeof(c->buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return ctr_fail(err, n < 0 ? errno : EPIPE, "the shim closed the connection");
        c->off = 0;
        c->len = (size_t)n;
    }
}

static int conn_msg(const struct agent_frame *f, struct shimp_msg *m, ctr_error_t *err)
{
    return shimp_msg_decode((const char *)f->payload, f->length, m, err);
}

/* Send the request and wait for its reply; a refusal becomes the error. */
static int conn_start(struct conn *c, const struct shimp_request *req, struct shimc_path_stat *st,
                      ctr_error_t *err)
{
    size_t len;
    cleanup_free char *json = shimp_request_encode(req, &len);
    struct agent_frame f;
    struct shimp_msg m = {0};

    if (agent_frame_write(c->fd, AGENT_CONTROL_STREAM, AGENT_FRAME_CONTROL, json, (uint32_t)len,
                          err) < 0)
        return -1;
    do {
        if (conn_next(c, &f, err) < 0)
            return -1;
    } while (f.type != AGENT_FRAME_CONTROL);
    if (conn_msg(&f, &m, err) < 0)
        return -1;
    if (m.kind != SHIMP_MSG_REPLY || !m.ok) {
        int e = m.kind == SHIMP_MSG_REPLY && m.errnum ? m.errnum : EIO;
        ctr_fail_class(err, e, "%s", m.error ? m.error : "the shim refused the request");
        shimp_msg_release(&m);
        return -1;
    }
    stat_copy(st, m.stat);
    shimp_msg_release(&m);
    return 0;
}

/* The exit event that ends a transfer. */
static int conn_exit(const struct agent_frame *f, ctr_error_t *err)
{
    struct shimp_msg m = {0};
    int ret = 0;

    if (conn_msg(f, &m, err) < 0)
        return -1;
    if (m.kind != SHIMP_MSG_EXIT)
        ret = ctr_fail_class(err, EPROTO, "unexpected message from the shim during a transfer");
    else if (m.status != 0)
        ret = ctr_fail_class(err, EIO, "%s",
                             m.exit_error ? m.exit_error : "the transfer failed in the container");
    shimp_msg_release(&m);
    return ret;
}

static int conn_open(struct conn *c, const char *bundle)
{
    c->fd = shimc_connect(bundle, NULL);
    c->off = c->len = 0;
    agent_decoder_init(&c->dec);
    return c->fd;
}

static void conn_close(struct conn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    agent_decoder_release(&c->dec);
}

static int live_stat(struct conn *c, const char *path, struct shimc_path_stat *st, ctr_error_t *err)
{
    struct shimp_request req = {.op = SHIMP_OP_ARCHIVE_STAT, .path = (char *)path};
    return conn_start(c, &req, st, err);
}

static int live_get(struct conn *c, const char *path, bool export_all, bool upper, int out_fd,
                    struct shimc_path_stat *st, ctr_error_t *err)
{
    struct shimp_request req = {
        .op = SHIMP_OP_ARCHIVE_GET, .path = (char *)path, .export_all = export_all, .upper = upper};
    struct agent_frame f;

    if (conn_start(c, &req, st, err) < 0)
        return -1;
    for (;;) {
        if (conn_next(c, &f, err) < 0)
            return ctr_error_wrap(err, "transfer of `%s` cut short", path);
        if (f.type == AGENT_FRAME_CONTROL)
            return conn_exit(&f, err);
        if (f.type == AGENT_FRAME_DATA && f.stream == SHIMP_STREAM_STDOUT &&
            ctr_write_all_wait(out_fd, f.payload, f.length) < 0)
            return ctr_fail(err, errno, "write the tar of `%s`", path); /* closing stops it */
    }
}

static int live_put(struct conn *c, const char *path, int in_fd, ctr_error_t *err)
{
    struct shimp_request req = {.op = SHIMP_OP_ARCHIVE_PUT, .path = (char *)path};
    static uint8_t buf[64 * 1024];
    struct agent_frame f;
    bool in_open = true;

    if (conn_start(c, &req, NULL, err) < 0)
        return -1;
    for (;;) {
        struct pollfd p[2] = {{.fd = c->fd, .events = POLLIN},
                              {.fd = in_open ? in_fd : -1, .events = POLLIN}};
        /* buffered frames first: the exit event may already be here */
        if (c->off >= c->len && poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            return ctr_fail(err, errno, "poll");
        }
        if (c->off < c->len || (p[0].revents & (POLLIN | POLLHUP | POLLERR))) {
            if (conn_next(c, &f, err) < 0)
                return ctr_error_wrap(err, "upload to `%s` cut short", path);
            if (f.type == AGENT_FRAME_CONTROL)
                return conn_exit(&f, err); /* early when the extraction failed */
            continue;
        }
        if (p[1].revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t n = read(in_fd, buf, sizeof(buf));
            if (n < 0 && (errno == EINTR || errno == EAGAIN))
                continue;
            if (n < 0)
                return ctr_fail(err, errno, "read the tar for `%s`", path);
            if (agent_frame_write(c->fd, SHIMP_STREAM_STDIN, n ? AGENT_FRAME_DATA : AGENT_FRAME_EOF,
                                  buf, (uint32_t)n, err) < 0)
                return -1;
            in_open = n > 0;
        }
    }
}

/* ---- stopped container: `container-runtime archive` ---- */

/* The result line (the shim protocol's reply) of the maintenance vm. */
static int conn_msg_text(char *text, struct shimp_msg *m)
{
    size_t n = strlen(text);
    while (n > 0 && text[n - 1] == '\n')
        text[--n] = '\0';
    if (shimp_msg_decode(text, n, m, NULL) < 0)
        return -1;
    if (m->kind != SHIMP_MSG_REPLY) {
        shimp_msg_release(m);
        return -1;
    }
    return 0;
}

/* Read the result pipe and stderr to their ends (both, so neither can fill up). */
static void drain2(int a, int b, char **out_a, char **out_b)
{
    size_t la = 0, lb = 0;
    int fds[2] = {a, b};
    char **outs[2] = {out_a, out_b};
    size_t *lens[2] = {&la, &lb};

    *out_a = ctr_xcalloc(1, 1);
    *out_b = ctr_xcalloc(1, 1);
    while (fds[0] >= 0 || fds[1] >= 0) {
        struct pollfd p[2] = {{.fd = fds[0], .events = POLLIN}, {.fd = fds[1], .events = POLLIN}};
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        for (int i = 0; i < 2; i++) {
            char buf[4096];
            ssize_t n;
            if (fds[i] < 0 || !(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            n = read(fds[i], buf, sizeof(buf));
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0) {
                fds[i] = -1;
                continue;
            }
            if (*lens[i] + (size_t)n > RESULT_MAX)
                continue; /* keep the start; drain the rest */
            *outs[i] = ctr_xrealloc(*outs[i], *lens[i] + (size_t)n + 1);
            memcpy(*outs[i] + *lens[i], buf, (size_t)n);
            *lens[i] += (size_t)n;
            (*outs[i])[*lens[i]] = '\0';
        }
    }
}

static int offline(const char *bundle, enum shimp_op op, const char *path, bool export_all,
                   int in_fd, int out_fd, struct shimc_path_stat *st, ctr_error_t *err)
{
    static const char *const ops[] = {[SHIMP_OP_ARCHIVE_STAT] = "stat",
                                      [SHIMP_OP_ARCHIVE_GET] = "get",
                                      [SHIMP_OP_ARCHIVE_PUT] = "put"};
    cleanup_free char *rt = shimc_runtime(), *result = NULL, *errtext = NULL;
    const char *argv[] = {rt, "archive", bundle, ops[op], path, "--result-fd", "3", NULL, NULL};
    int res[2] = {-1, -1}, errp[2] = {-1, -1}, status = 0;
    struct shimp_msg m = {0};
    pid_t pid;

    if (export_all)
        argv[7] = "--export";
    if (pipe2(res, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0) {
        int e = errno;
        for (int i = 0; i < 2; i++) {
            if (res[i] >= 0)
                close(res[i]);
        }
        return ctr_fail(err, e, "pipe");
    }
    pid = fork();
    if (pid < 0) {
        int e = errno;
        close(res[0]), close(res[1]), close(errp[0]), close(errp[1]);
        return ctr_fail(err, e, "fork");
    }
    if (pid == 0) {
        /* only async-signal-safe calls: the caller may be multi-threaded */
        sigset_t none;
        int null = open("/dev/null", O_RDWR);
        /* the caller's blocked signals and ignored SIGCHLD must not reach the runtime */
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        signal(SIGCHLD, SIG_DFL);
        signal(SIGPIPE, SIG_DFL);
        int in = in_fd >= 0 ? in_fd : null, out = out_fd >= 0 ? out_fd : null;
        int r3 = fcntl(res[1], F_DUPFD_CLOEXEC, 10), e2 = fcntl(errp[1], F_DUPFD_CLOEXEC, 10);
        int i0 = fcntl(in, F_DUPFD_CLOEXEC, 10), o1 = fcntl(out, F_DUPFD_CLOEXEC, 10);
        if (r3 < 0 || e2 < 0 || i0 < 0 || o1 < 0 || dup2(i0, 0) < 0 || dup2(o1, 1) < 0 ||
            dup2(e2, 2) < 0 || dup2(r3, 3) < 0)
            _exit(125);
        execvp(rt, (char *const *)argv);
        _exit(127);
    }
    close(res[1]);
    close(errp[1]);
    drain2(res[0], errp[0], &result, &errtext);
    close(res[0]);
    close(errp[0]);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (result[0] == '\0' || conn_msg_text(result, &m) < 0) {
        size_t n = strlen(errtext);
        while (n > 0 && errtext[n - 1] == '\n')
            errtext[--n] = '\0';
        if (WIFEXITED(status) && WEXITSTATUS(status) == 127 && n == 0)
            return ctr_fail_class(err, ENOENT, "cannot run `%s` for the maintenance vm", rt);
        return ctr_fail_class(err, EIO, "maintenance vm for `%s` failed: %s", bundle,
                              n ? errtext : "no result");
    }
    if (!m.ok) {
        ctr_fail_class(err, m.errnum ? m.errnum : EIO, "%s", m.error ? m.error : "archive failed");
        shimp_msg_release(&m);
        return -1;
    }
    stat_copy(st, m.stat);
    shimp_msg_release(&m);
    return 0;
}

/* ---- entry points ---- */

/* upper: a get of the overlay's upper directory, which only a running guest serves. */
static int archive_once(const char *bundle, enum shimp_op op, const char *path, bool export_all,
                        bool upper, int in_fd, int out_fd, struct shimc_path_stat *st,
                        ctr_error_t *err)
{
    struct conn c;
    int r;

    if (conn_open(&c, bundle) < 0) {
        conn_close(&c);
        if (upper)
            return ctr_fail_class(err, ESRCH, "the container is not running");
        return offline(bundle, op, path, export_all, in_fd, out_fd, st, err);
    }
    switch (op) {
    case SHIMP_OP_ARCHIVE_STAT:
        r = live_stat(&c, path, st, err);
        break;
    case SHIMP_OP_ARCHIVE_GET:
        r = live_get(&c, path, export_all, upper, out_fd, st, err);
        break;
    default:
        r = live_put(&c, path, in_fd, err);
        break;
    }
    conn_close(&c);
    if (r < 0 && st)
        shimc_path_stat_release(st);
    return r;
}

/* EBUSY before any data moved: the container is starting or stopping (its shim says
 * so, or its VM still holds the bundle lock), or another maintenance VM runs. These
 * windows are short, so wait a little before giving up. */
#define BUSY_WAIT_MS 10000
#define BUSY_STEP_MS 100

static int archive_op(const char *bundle, enum shimp_op op, const char *path, bool export_all,
                      bool upper, int in_fd, int out_fd, struct shimc_path_stat *st,
                      ctr_error_t *err)
{
    if (path == NULL || path[0] != '/')
        return ctr_fail(err, EINVAL, "path `%s` in the container must be absolute",
                        path ? path : "");
    if (export_all && strcmp(path, "/") != 0)
        return ctr_fail(err, EINVAL, "export takes the whole root filesystem (path `/`)");
    for (unsigned waited = 0;; waited += BUSY_STEP_MS) {
        ctr_error_t e = NULL;
        if (archive_once(bundle, op, path, export_all, upper, in_fd, out_fd, st, &e) == 0)
            return 0;
        if (e->errnum != EBUSY || waited >= BUSY_WAIT_MS) {
            if (err) {
                ctr_error_free(err);
                *err = e;
            } else {
                ctr_error_free(&e);
            }
            return -1;
        }
        ctr_error_free(&e);
        usleep(BUSY_STEP_MS * 1000);
    }
}

int shimc_archive_stat(const char *bundle_dir, const char *path, struct shimc_path_stat *st,
                       ctr_error_t *err)
{
    memset(st, 0, sizeof(*st));
    return archive_op(bundle_dir, SHIMP_OP_ARCHIVE_STAT, path, false, false, -1, -1, st, err);
}

int shimc_archive_get(const char *bundle_dir, const char *path, bool export_all, int out_fd,
                      struct shimc_path_stat *st, ctr_error_t *err)
{
    if (st)
        memset(st, 0, sizeof(*st));
    return archive_op(bundle_dir, SHIMP_OP_ARCHIVE_GET, path, export_all, false, -1, out_fd, st,
                      err);
}

int shimc_archive_put(const char *bundle_dir, const char *path, int in_fd, ctr_error_t *err)
{
    return archive_op(bundle_dir, SHIMP_OP_ARCHIVE_PUT, path, false, false, in_fd, -1, NULL, err);
}

int shimc_archive_get_upper(const char *bundle_dir, int out_fd, ctr_error_t *err)
{
    return archive_op(bundle_dir, SHIMP_OP_ARCHIVE_GET, "/", false, true, -1, out_fd, NULL, err);
}
