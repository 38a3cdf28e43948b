/* The control socket's address, connect and deadlines, one-shot requests (kill,
 * stop), and the runtime's files of a bundle (state, delete). */
#include "shimc/shimc.h"
#include "proto/bundle.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

int shimc_control_timeout_ms(void)
{
    const char *env = getenv("CONTAINER_SHIM_TIMEOUT");
    if (env && *env) {
        char *end;
        long v = strtol(env, &end, 10);
        if (*end == '\0' && v >= 1 && v <= 3600)
            return (int)v * 1000;
    }
    return SHIMC_CONTROL_TIMEOUT_MS;
}

int shimc_sock_addr(const char *bundle, struct sockaddr_un *sa, int *dirfd, ctr_error_t *err)
{
    memset(sa, 0, sizeof(*sa));
    sa->sun_family = AF_UNIX;
    *dirfd = -1;
    if (strlen(bundle) + sizeof("/" SHIMP_SOCKET_NAME) <= sizeof(sa->sun_path)) {
        snprintf(sa->sun_path, sizeof(sa->sun_path), "%s/%s", bundle, SHIMP_SOCKET_NAME);
        return 0;
    }
    *dirfd = open(bundle, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (*dirfd < 0)
        return ctr_fail(err, errno, "open bundle `%s`", bundle);
    snprintf(sa->sun_path, sizeof(sa->sun_path), "/proc/self/fd/%d/%s", *dirfd, SHIMP_SOCKET_NAME);
    return 0;
}

int shimc_connect(const char *bundle, ctr_error_t *err)
{
    struct sockaddr_un sa;
    int dirfd, fd;

    if (shimc_sock_addr(bundle, &sa, &dirfd, err) < 0)
        return -1;
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    /* A unix connect waits for room in the listen backlog up to SO_SNDTIMEO: a hung
     * shim's backlog fills up, and the connect must not wait for ever. */
    int ms = shimc_control_timeout_ms();
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
    if (fd >= 0)
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        if (dirfd >= 0)
            close(dirfd);
        if (e == EAGAIN || e == EWOULDBLOCK || e == ETIMEDOUT)
            return ctr_fail_class(err, ETIMEDOUT,
                                  "the shim on `%s/%s` did not accept the connection within %d "
                                  "ms (hung?)",
                                  bundle, SHIMP_SOCKET_NAME, ms);
        return ctr_fail(err, e, "no shim answers on `%s/%s`; is the container running?", bundle,
                        SHIMP_SOCKET_NAME);
    }
    if (dirfd >= 0)
        close(dirfd);
    tv = (struct timeval){0};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    return fd;
}

bool shimc_answers(const char *bundle)
{
    int fd = shimc_connect(bundle, NULL);
    if (fd < 0)
        return false;
    close(fd);
    return true;
}

int shimc_wait_readable(int fd, int64_t deadline_ns)
{
    for (;;) {
        int ms = -1;
        if (deadline_ns > 0) {
            int64_t left = deadline_ns - (int64_t)ctr_now_ns();
            if (left <= 0)
                return 0;
            ms = (int)((left + 999999) / 1000000);
        }
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int r = poll(&p, 1, ms);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r > 0)
            return 1;
    }
}

bool shimc_request_unread(int fd)
{
    int queued = 0;
    /* unix sockets: what we sent stays charged to our socket until the peer read it */
    return ioctl(fd, SIOCOUTQ, &queued) == 0 && queued > 0;
}

/* "the shim (pid N)" for messages, from state.json when it is readable. */
static char *shim_name(const char *bundle)
{
    struct bundle_state st = {0};
    if (bundle_state_load(bundle, &st, NULL) < 0 || st.shim_pid <= 0) {
        bundle_state_release(&st);
        return ctr_xstrdup("the shim");
    }
    char *s = ctr_xasprintf("the shim (pid %d)", st.shim_pid);
    bundle_state_release(&st);
    return s;
}

int shimc_fail_no_answer(const char *bundle, const char *what, int ms, ctr_error_t *err)
{
    cleanup_free char *name = shim_name(bundle);
    return ctr_fail_class(err, ETIMEDOUT, "%s of `%s` did not answer %s within %d s (hung?)", name,
                          bundle, what, (ms + 999) / 1000);
}

static int send_frame(int fd, pthread_mutex_t *wlock, uint32_t stream, uint8_t type,
                      const void *data, size_t len, ctr_error_t *err)
{
    if (wlock)
        pthread_mutex_lock(wlock);
    int r = agent_frame_write(fd, stream, type, data, (uint32_t)len, err);
    if (wlock)
        pthread_mutex_unlock(wlock);
    return r;
}

int shimc_send(int fd, pthread_mutex_t *wlock, const struct shimp_request *req, ctr_error_t *err)
{
    size_t len;
    cleanup_free char *json = shimp_request_encode(req, &len);
    return send_frame(fd, wlock, AGENT_CONTROL_STREAM, AGENT_FRAME_CONTROL, json, len, err);
}

int shimc_send_stdin(int fd, pthread_mutex_t *wlock, const void *data, size_t len)
{
    return send_frame(fd, wlock, SHIMP_STREAM_STDIN, AGENT_FRAME_DATA, data, len, NULL);
}

int shimc_send_stdin_eof(int fd, pthread_mutex_t *wlock)
{
    return send_frame(fd, wlock, SHIMP_STREAM_STDIN, AGENT_FRAME_EOF, NULL, 0, NULL);
}

int shimc_request(const char *bundle, const struct shimp_request *req, ctr_error_t *err)
{
    int fd = shimc_connect(bundle, err);
    if (fd < 0)
        return -1;
    if (shimc_send(fd, NULL, req, NULL) < 0) {
        int e = errno;
        close(fd);
        return ctr_fail(err, e, "cannot send a request to the shim of `%s`", bundle);
    }
    return fd;
}

/* Request, then wait (at most extra_ms + the control deadline) for the one reply. */
/* One request, one reply; *output (may be NULL) gets the reply's `output`. */
static int simple_call(const char *bundle, const struct shimp_request *req, int64_t extra_ms,
                       char **output, ctr_error_t *err)
{
    struct agent_decoder dec;
    int fd, ret;
    int ms = shimc_control_timeout_ms();
    int64_t read_by = (int64_t)ctr_now_ns() + (int64_t)ms * 1000000;
    int64_t deadline = read_by + (extra_ms + ms) * 1000000;

    fd = shimc_connect(bundle, err);
    if (fd < 0)
        return -1;
    if (shimc_send(fd, NULL, req, err) < 0) {
        close(fd);
        return -1;
    }
    agent_decoder_init(&dec);
    ret = -1;
    for (;;) {
        uint8_t buf[4096];
        int w = shimc_wait_readable(fd, read_by ? read_by : deadline);
        if (w == 0 && read_by) {
            /* A live shim has read the request by now (a long stop answers later); bytes
             * still queued on our side of the socket mean it is not reading at all. */
            read_by = 0;
            if (shimc_request_unread(fd)) {
                shimc_fail_no_answer(bundle, "the request", ms, err);
                break;
            }
            continue;
        }
        if (w == 0) {
            shimc_fail_no_answer(bundle, req->op == SHIMP_OP_STOP ? "the stop" : "the request",
                                 (int)(extra_ms + 2 * ms), err);
            break;
        }
        ssize_t n = w < 0 ? -1 : read(fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            ctr_fail(err, 0, "the shim closed the connection without an answer");
            break;
        }
        size_t used;
        struct agent_frame f;
        int d = agent_decoder_feed(&dec, buf, (size_t)n, &used, &f, err);
        if (d < 0)
            break;
        if (d == 1 && f.type == AGENT_FRAME_CONTROL) {
            struct shimp_msg m = {0};
            if (shimp_msg_decode((const char *)f.payload, f.length, &m, err) < 0)
                break;
            if (m.kind == SHIMP_MSG_REPLY) {
                ret = m.ok ? 0
                           : ctr_fail_class(err, m.errnum, "%s",
                                            m.error ? m.error : "request failed");
                if (m.ok && output)
                    *output = ctr_steal_ptr(m.output);
                shimp_msg_release(&m);
                break;
            }
            shimp_msg_release(&m);
        }
    }
    agent_decoder_release(&dec);
    close(fd);
    return ret;
}

int shimc_kill(const char *bundle, int sig, ctr_error_t *err)
{
    struct shimp_request req = {.op = SHIMP_OP_KILL, .signal = sig};
    return simple_call(bundle, &req, 0, NULL, err);
}

int shimc_stop(const char *bundle, unsigned timeout_s, ctr_error_t *err)
{
    struct shimp_request req = {.op = SHIMP_OP_STOP, .timeout_s = timeout_s};
    /* the shim answers a stop once the VM is gone: its timeout, then SIGKILL, power-off
     * and QEMU's end (src/shim, stop_step: under 20 s) */
    return simple_call(bundle, &req, (int64_t)timeout_s * 1000 + 20000, NULL, err);
}

int shimc_pause(const char *bundle, ctr_error_t *err)
{
    struct shimp_request req = {.op = SHIMP_OP_PAUSE};
    return simple_call(bundle, &req, 0, NULL, err);
}

int shimc_resume(const char *bundle, ctr_error_t *err)
{
    struct shimp_request req = {.op = SHIMP_OP_RESUME};
    return simple_call(bundle, &req, 0, NULL, err);
}

int shimc_top(const char *bundle, const char *ps_args, char **out, ctr_error_t *err)
{
    struct shimp_request req = {.op = SHIMP_OP_TOP, .ps_args = (char *)ps_args};
    *out = NULL;
    if (simple_call(bundle, &req, 0, out, err) < 0)
        return -1;
    if (*out == NULL)
        *out = ctr_xstrdup("");
    return 0;
}

int shimc_net(const char *bundle, const struct agent_net *net, ctr_error_t *err)
{
    struct shimp_request req = {.op = SHIMP_OP_NET};
    req.net = *net; /* borrowed: encoded at once */
    return simple_call(bundle, &req, 10000, NULL, err);
}

/* ---- state, delete ---- */

int shimc_state(const char *bundle, char **json_out, ctr_error_t *err)
{
    struct bundle_state st = {0};
    cleanup_free char *path = ctr_xasprintf("%s/state.json", bundle);
    size_t len;

    if (bundle_state_load(bundle, &st, err) < 0)
        return -1;
    if (st.status != BUNDLE_STOPPED && st.shim_pid > 0 && kill(st.shim_pid, 0) < 0 &&
        errno == ESRCH) {
        /* The shim died without its last word: the VM died with it (PDEATHSIG). */
        st.status = BUNDLE_STOPPED;
        st.exit_code = 137;
        free(st.exit_reason);
        st.exit_reason = ctr_xasprintf("the shim (pid %d) died", st.shim_pid);
        bundle_state_save(bundle, &st, NULL);
    }
    bundle_state_release(&st);
    return ctr_read_file(path, 1u << 20, json_out, &len, err);
}

int shimc_delete(const char *bundle, bool force, ctr_error_t *err)
{
    /* archive.lock stays: removing a lock file someone holds would let a second locker in */
    static const char *const files[] = {"state.json", "boot.log", "shim.log", "archive-boot.log",
                                        SHIMP_SOCKET_NAME};
    int fd = shimc_connect(bundle, NULL);

    if (fd >= 0) {
        close(fd);
        if (!force)
            return ctr_fail(err, EBUSY,
                            "the container in `%s` is running; stop it first or use `delete "
                            "--force`",
                            bundle);
        if (shimc_stop(bundle, 0, err) < 0)
            return -1;
    }
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        cleanup_free char *p = ctr_xasprintf("%s/%s", bundle, files[i]);
        if (unlink(p) < 0 && errno != ENOENT)
            return ctr_fail(err, errno, "remove `%s`", p);
    }
    return 0;
}
