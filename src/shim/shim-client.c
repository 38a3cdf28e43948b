/* Client side of the shim: exec/attach/kill/stop over <bundle>/shim.sock,
 * the detached start, state and delete. */
#include "shim/shim-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

int shim_control_timeout_ms(void)
{
    const char *env = getenv("CONTAINER_SHIM_TIMEOUT");
    if (env && *env) {
        char *end;
        long v = strtol(env, &end, 10);
        if (*end == '\0' && v >= 1 && v <= 3600)
            return (int)v * 1000;
    }
    return SHIM_CONTROL_TIMEOUT_MS;
}

int shim_wait_readable(int fd, int64_t deadline_ns)
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

bool shim_request_unread(int fd)
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

int shim_fail_no_answer(const char *bundle, const char *what, int ms, ctr_error_t *err)
{
    cleanup_free char *name = shim_name(bundle);
    return ctr_fail_class(err, ETIMEDOUT, "%s of `%s` did not answer %s within %d s (hung?)", name,
                          bundle, what, (ms + 999) / 1000);
}

static int send_request(int fd, const struct shimp_request *req, ctr_error_t *err)
{
    size_t len;
    cleanup_free char *json = shimp_request_encode(req, &len);
    return agent_frame_write(fd, AGENT_CONTROL_STREAM, AGENT_FRAME_CONTROL, json, (uint32_t)len,
                             err);
}

struct session {
    int fd;
    bool tty_raw;
    struct termios saved;
    bool stdin_open;
    bool got_reply;
    int reply_code;
    char *reply_error;
    int status; /* -1 until the exit event */
    struct agent_decoder dec;
    const char *bundle;
    int64_t reply_deadline_ns; /* until the reply came (0: none) */
    bool extended;             /* the request was read in time: the deadline once more */
};

/* Handle one frame from the shim; returns 1 when the session ended. */
static int session_frame(struct session *ss, const struct agent_frame *f, ctr_error_t *err)
{
    if (f->type == AGENT_FRAME_CONTROL) {
        struct shimp_msg m = {0};
        if (shimp_msg_decode((const char *)f->payload, f->length, &m, err) < 0)
            return -1;
        if (m.kind == SHIMP_MSG_REPLY) {
            ss->got_reply = true;
            if (!m.ok) {
                ss->reply_code = m.code ? m.code : 1;
                ss->reply_error = ctr_steal_ptr(m.error);
                shimp_msg_release(&m);
                return 1;
            }
        } else {
            ss->status = m.status;
            shimp_msg_release(&m);
            return 1;
        }
        shimp_msg_release(&m);
        return 0;
    }
    if (f->type == AGENT_FRAME_DATA) {
        int out = f->stream == SHIMP_STREAM_STDERR ? 2 : 1;
        (void)ctr_write_all(out, f->payload, f->length);
    }
    return 0;
}

static void send_control(struct session *ss, const struct shimp_request *req)
{
    send_request(ss->fd, req, NULL);
}

/* The relay loop of exec and attach; returns the remote exit code or -1. */
static int session_run(struct session *ss, bool interactive, ctr_error_t *err)
{
    sigset_t set;
    cleanup_close int sfd = -1;
    static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH};
    uint8_t buf[65536];
    int ret = -1;

    sigemptyset(&set);
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
        sigaddset(&set, sigs[i]);
    sigprocmask(SIG_BLOCK, &set, NULL);
    sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    ss->status = -1;
    ss->stdin_open = interactive;
    agent_decoder_init(&ss->dec);
    for (;;) {
        struct pollfd p[3] = {{.fd = ss->fd, .events = POLLIN},
                              {.fd = sfd, .events = POLLIN},
                              {.fd = ss->stdin_open && ss->got_reply ? 0 : -1, .events = POLLIN}};
        int ms = -1;
        if (!ss->got_reply && ss->reply_deadline_ns > 0) {
            int64_t left = ss->reply_deadline_ns - (int64_t)ctr_now_ns();
            if (left <= 0 && !ss->extended && !shim_request_unread(ss->fd)) {
                /* read but not answered yet (a slow guest): once more the deadline */
                ss->extended = true;
                ss->reply_deadline_ns += (int64_t)shim_control_timeout_ms() * 1000000;
                continue;
            }
            if (left <= 0) {
                shim_fail_no_answer(ss->bundle, "the request", shim_control_timeout_ms(), err);
                break;
            }
            ms = (int)((left + 999999) / 1000000);
        }
        if (poll(p, 3, ms) < 0) {
            if (errno == EINTR)
                continue;
            ctr_fail(err, errno, "poll");
            break;
        }
        if (p[1].revents & POLLIN) {
            struct signalfd_siginfo si;
            while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
                struct shimp_request r = {.op = SHIMP_OP_SIGNAL, .signal = (int)si.ssi_signo};
                if (si.ssi_signo == SIGWINCH) {
                    struct winsize ws;
                    if (ioctl(0, TIOCGWINSZ, &ws) < 0)
                        continue;
                    r = (struct shimp_request){
                        .op = SHIMP_OP_RESIZE, .rows = ws.ws_row, .cols = ws.ws_col};
                }
                send_control(ss, &r);
            }
        }
        if (p[2].revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t n = read(0, buf, sizeof(buf));
            if (n > 0) {
                if (agent_frame_write(ss->fd, SHIMP_STREAM_STDIN, AGENT_FRAME_DATA, buf,
                                      (uint32_t)n, NULL) < 0)
                    ss->stdin_open = false;
            } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
                agent_frame_write(ss->fd, SHIMP_STREAM_STDIN, AGENT_FRAME_EOF, NULL, 0, NULL);
                ss->stdin_open = false;
            }
        }
        if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t n = read(ss->fd, buf, sizeof(buf));
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0) {
                ctr_fail(err, n < 0 ? errno : 0, "the shim closed the connection");
                break;
            }
            size_t off = 0;
            int r = 0;
            while (off < (size_t)n && r == 0) {
                struct agent_frame f;
                size_t used;
                int d = agent_decoder_feed(&ss->dec, buf + off, (size_t)n - off, &used, &f, err);
                off += used;
                if (d < 0) {
                    r = -1;
                } else if (d == 1) {
                    r = session_frame(ss, &f, err);
                } else {
                    break;
                }
            }
            if (r < 0)
                break;
            if (r == 1) {
                if (ss->reply_error) {
                    ctr_fail(err, 0, "%s", ss->reply_error);
                    ret = -1;
                } else {
                    ret = ss->status;
                }
                break;
            }
        }
    }
    agent_decoder_release(&ss->dec);
    sigprocmask(SIG_UNBLOCK, &set, NULL);
    return ret;
}

static void raw_on(struct session *ss)
{
    struct termios raw;
    if (!isatty(0) || tcgetattr(0, &ss->saved) < 0)
        return;
    raw = ss->saved;
    cfmakeraw(&raw);
    if (tcsetattr(0, TCSANOW, &raw) == 0)
        ss->tty_raw = true;
}

static void raw_off(struct session *ss)
{
    if (ss->tty_raw)
        tcsetattr(0, TCSADRAIN, &ss->saved);
    ss->tty_raw = false;
}

int shim_client_exec(const char *bundle, const struct shim_exec_opts *o, int *exit_code,
                     ctr_error_t *err)
{
    struct session ss = {0};
    struct shimp_request req = {.op = SHIMP_OP_EXEC};
    struct winsize ws;
    int ret;

    *exit_code = 125;
    ss.fd = shim_client_connect(bundle, err);
    if (ss.fd < 0)
        return -1;
    ss.bundle = bundle;
    ss.reply_deadline_ns = (int64_t)ctr_now_ns() + (int64_t)shim_control_timeout_ms() * 1000000;
    req.exec.args = o->args;
    req.exec.env = o->env;
    req.exec.cwd = (char *)o->cwd;
    req.exec.user = (char *)o->user;
    req.exec.terminal = o->tty;
    req.stdin_open = o->interactive;
    if (o->tty && ioctl(0, TIOCGWINSZ, &ws) == 0) {
        req.exec.rows = ws.ws_row;
        req.exec.cols = ws.ws_col;
    }
    if (send_request(ss.fd, &req, err) < 0) {
        close(ss.fd);
        return -1;
    }
    if (o->tty && o->interactive)
        raw_on(&ss);
    ret = session_run(&ss, o->interactive, err);
    raw_off(&ss);
    close(ss.fd);
    if (ret < 0) {
        if (ss.reply_error)
            *exit_code = ss.reply_code;
        free(ss.reply_error);
        return -1;
    }
    free(ss.reply_error);
    *exit_code = ret;
    return 0;
}

int shim_client_attach(const char *bundle, bool interactive, int *exit_code, ctr_error_t *err)
{
    struct session ss = {0};
    struct shimp_request req = {.op = SHIMP_OP_ATTACH, .stdin_open = interactive};
    int ret;

    *exit_code = 125;
    ss.fd = shim_client_connect(bundle, err);
    if (ss.fd < 0)
        return -1;
    ss.bundle = bundle;
    ss.reply_deadline_ns = (int64_t)ctr_now_ns() + (int64_t)shim_control_timeout_ms() * 1000000;
    if (send_request(ss.fd, &req, err) < 0) {
        close(ss.fd);
        return -1;
    }
    ret = session_run(&ss, interactive, err);
    close(ss.fd);
    free(ss.reply_error);
    if (ret < 0)
        return -1;
    *exit_code = ret;
    return 0;
}

/* Request, then wait (at most extra_ms + the control deadline) for the one reply. */
static int simple_call(const char *bundle, const struct shimp_request *req, int64_t extra_ms,
                       ctr_error_t *err)
{
    struct session ss = {0};
    int ret;
    int ms = shim_control_timeout_ms();
    int64_t read_by = (int64_t)ctr_now_ns() + (int64_t)ms * 1000000;
    int64_t deadline = read_by + (extra_ms + ms) * 1000000;

    ss.fd = shim_client_connect(bundle, err);
    if (ss.fd < 0)
        return -1;
    if (send_request(ss.fd, req, err) < 0) {
        close(ss.fd);
        return -1;
    }
    ss.status = -1;
    agent_decoder_init(&ss.dec);
    ret = -1;
    for (;;) {
        uint8_t buf[4096];
        int w = shim_wait_readable(ss.fd, read_by ? read_by : deadline);
        if (w == 0 && read_by) {
            /* A live shim has read the request by now (a long stop answers later); bytes
             * still queued on our side of the socket mean it is not reading at all. */
            read_by = 0;
            if (shim_request_unread(ss.fd)) {
                shim_fail_no_answer(bundle, "the request", ms, err);
                break;
            }
            continue;
        }
        if (w == 0) {
            shim_fail_no_answer(bundle, req->op == SHIMP_OP_STOP ? "the stop" : "the request",
                                (int)(extra_ms + 2 * ms), err);
            break;
        }
        ssize_t n = w < 0 ? -1 : read(ss.fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            ctr_fail(err, 0, "the shim closed the connection without an answer");
            break;
        }
        size_t off = 0, used;
        struct agent_frame f;
        int d = agent_decoder_feed(&ss.dec, buf, (size_t)n, &used, &f, err);
        off += used;
        if (d < 0)
            break;
        if (d == 1 && f.type == AGENT_FRAME_CONTROL) {
            struct shimp_msg m = {0};
            if (shimp_msg_decode((const char *)f.payload, f.length, &m, err) < 0)
                break;
            if (m.kind == SHIMP_MSG_REPLY) {
                ret = m.ok ? 0 : ctr_fail(err, 0, "%s", m.error ? m.error : "request failed");
                shimp_msg_release(&m);
                break;
            }
            shimp_msg_release(&m);
        }
    }
    agent_decoder_release(&ss.dec);
    close(ss.fd);
    return ret;
}

int shim_client_kill(const char *bundle, int sig, ctr_error_t *err)
{
    struct shimp_request req = {.op = SHIMP_OP_KILL, .signal = sig};
    return simple_call(bundle, &req, 0, err);
}

int shim_client_stop(const char *bundle, unsigned timeout_s, ctr_error_t *err)
{
    struct shimp_request req = {.op = SHIMP_OP_STOP, .timeout_s = timeout_s};
    /* the shim answers a stop once the VM is gone: its timeout, then SIGKILL, power-off
     * and QEMU's end (shim.c, stop_step: under 20 s) */
    return simple_call(bundle, &req, (int64_t)timeout_s * 1000 + 20000, err);
}

/* ---- detached start ---- */

int shim_start_detached(const char *bundle, int *exit_code, ctr_error_t *err)
{
    cleanup_free char *abs = realpath(bundle, NULL);
    int p[2];
    pid_t pid;
    char line[8192];
    size_t have = 0;

    *exit_code = 125;
    if (abs == NULL)
        return ctr_fail(err, errno, "bundle `%s`", bundle);
    if (pipe2(p, O_CLOEXEC) < 0)
        return ctr_fail(err, errno, "pipe");
    pid = fork();
    if (pid < 0)
        return ctr_fail(err, errno, "fork");
    if (pid == 0) {
        close(p[0]);
        setsid();
        if (fork() != 0)
            _exit(0); /* the grandchild is reparented: it survives the caller */
        cleanup_free char *logpath = ctr_xasprintf("%s/shim.log", abs);
        int null = open("/dev/null", O_RDWR | O_CLOEXEC);
        int logfd = open(logpath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        dup2(null, 0);
        dup2(null, 1);
        dup2(logfd >= 0 ? logfd : null, 2);
        /* the shim (and its VM) keep no fd of whoever started it but the notify pipe */
        int notify = p[1] == 3 ? 3 : dup3(p[1], 3, O_CLOEXEC);
        close_range(4, ~0u, 0);
        if (notify < 0 || chdir("/") < 0)
            _exit(125);
        struct shim_run_opts o = {.foreground = false, .notify_fd = notify};
        ctr_error_t e = NULL;
        int code = 125;
        if (shim_run(abs, &o, &code, &e) < 0)
            ctr_error_print("container-runtime", e);
        ctr_error_free(&e);
        _exit(code & 0xff);
    }
    close(p[1]);
    waitpid(pid, NULL, 0);
    for (;;) {
        ssize_t n = read(p[0], line + have, sizeof(line) - 1 - have);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        have += (size_t)n;
        if (have == sizeof(line) - 1)
            break;
    }
    close(p[0]);
    line[have] = '\0';
    if (have == 0)
        return ctr_fail(err, 0, "the shim died before the container started; see `%s/shim.log`",
                        abs);
    char *msg = NULL;
    long code = strtol(line, &msg, 10);
    if (code == 0)
        return 0;
    while (*msg == ' ')
        msg++;
    /* the whole message: a VMM failure carries QEMU's stderr on the lines after the first */
    size_t mlen = strlen(msg);
    while (mlen > 0 && (msg[mlen - 1] == '\n' || msg[mlen - 1] == '\r' || msg[mlen - 1] == ' '))
        msg[--mlen] = '\0';
    *exit_code = (int)code;
    return ctr_fail(err, 0, "%s", msg);
}

/* ---- state, delete ---- */

int shim_state(const char *bundle, char **json_out, ctr_error_t *err)
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

int shim_delete(const char *bundle, bool force, ctr_error_t *err)
{
    /* archive.lock stays: removing a lock file someone holds would let a second locker in */
    static const char *const files[] = {"state.json", "boot.log", "shim.log", "archive-boot.log",
                                        SHIMP_SOCKET_NAME};
    int fd = shim_client_connect(bundle, NULL);

    if (fd >= 0) {
        close(fd);
        if (!force)
            return ctr_fail(err, EBUSY,
                            "the container in `%s` is running; stop it first or use `delete "
                            "--force`",
                            bundle);
        if (shim_client_stop(bundle, 0, err) < 0)
            return -1;
    }
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        cleanup_free char *p = ctr_xasprintf("%s/%s", bundle, files[i]);
        if (unlink(p) < 0 && errno != ENOENT)
            return ctr_fail(err, errno, "remove `%s`", p);
    }
    return 0;
}
