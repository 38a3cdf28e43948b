/* QMP client and event reader (qmp-internal.h). */
#include "shim/qmp-internal.h"

#include <errno.h>
#include <jansson.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define QMP_EVENT_LINE_MAX (64u << 10)

static int64_t remaining_ms(uint64_t deadline)
{
    uint64_t now = ctr_now_ns();
    return now >= deadline ? 0 : (int64_t)((deadline - now) / 1000000) + 1;
}

/* ---- blocking client ---- */

/* Next JSON message (one per line). */
static int client_recv(struct qmp_client *q, json_t **out, ctr_error_t *err)
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

/* Send o, passing send_fd along when >= 0; then wait for the answer (*ret: its
 * `return` member, may be NULL). */
static int client_execute(struct qmp_client *q, const char *cmd, json_t *o, int send_fd,
                          json_t **ret, ctr_error_t *err)
{
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
        cleanup_json json_t *m = NULL;
        if (client_recv(q, &m, err) < 0)
            return -1;
        json_t *e = json_object_get(m, "error");
        if (e) {
            const char *desc = json_string_value(json_object_get(e, "desc"));
            return ctr_fail(err, EIO, "QMP `%s`: %s", cmd, desc ? desc : "error");
        }
        json_t *r = json_object_get(m, "return");
        if (r) {
            if (ret)
                *ret = json_incref(r);
            return 0;
        }
        /* an event or the greeting */
    }
}

int qmp_command(struct qmp_client *q, const char *cmd, const char *arg_name, const char *arg_value,
                int send_fd, ctr_error_t *err)
{
    cleanup_json json_t *o = json_pack("{s:s}", "execute", cmd);
    if (arg_name)
        json_object_set_new(o, "arguments", json_pack("{s:s}", arg_name, arg_value));
    return client_execute(q, cmd, o, send_fd, NULL, err);
}

int qmp_query_migrate(struct qmp_client *q, char **status, char **error_desc, ctr_error_t *err)
{
    cleanup_json json_t *o = json_pack("{s:s}", "execute", "query-migrate");
    cleanup_json json_t *st = NULL;

    if (client_execute(q, "query-migrate", o, -1, &st, err) < 0)
        return -1;
    const char *s = json_string_value(json_object_get(st, "status"));
    const char *why = json_string_value(json_object_get(st, "error-desc"));
    *status = ctr_xstrdup(s ? s : "");
    *error_desc = why ? ctr_xstrdup(why) : NULL;
    return 0;
}

/* ---- non-blocking event reader ---- */

static void reader_message(struct qmp_reader *r, const char *text, size_t len, qmp_event_fn fn,
                           void *arg)
{
    json_error_t je;
    cleanup_json json_t *m = json_loadb(text, len, 0, &je);
    if (m == NULL)
        return;
    if (json_object_get(m, "QMP")) {
        /* the greeting: events flow once capabilities are negotiated */
        static const char caps[] = "{\"execute\":\"qmp_capabilities\"}\n";
        if (ctr_write_all(r->fd, caps, sizeof(caps) - 1) < 0)
            log_warn("qmp events: %s", strerror(errno));
    }
    const char *id = json_string_value(json_object_get(m, "id"));
    json_t *e = json_object_get(m, "error");
    if (id && (e || json_object_get(m, "return"))) {
        /* the answer to a command of qmp_reader_send */
        const char *desc = json_string_value(json_object_get(e, "desc"));
        struct qmp_event ans = {.reply_id = id, .error = e ? (desc ? desc : "error") : NULL};
        fn(arg, &ans);
        return;
    }
    const char *name = json_string_value(json_object_get(m, "event"));
    if (name == NULL)
        return;
    struct qmp_event ev = {.name = name};
    if (strcmp(name, "BLOCK_IO_ERROR") == 0) {
        json_t *data = json_object_get(m, "data");
        ev.device = json_string_value(json_object_get(data, "device"));
        ev.operation = json_string_value(json_object_get(data, "operation"));
        ev.reason = json_string_value(json_object_get(data, "reason"));
        ev.nospace = json_is_true(json_object_get(data, "nospace"));
    }
    fn(arg, &ev);
}

int qmp_reader_read(struct qmp_reader *r, qmp_event_fn fn, void *arg)
{
    char buf[4096];
    ssize_t n = read(r->fd, buf, sizeof(buf));

    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return 1;
    if (n <= 0)
        return 0;
    for (ssize_t i = 0; i < n; i++) {
        if (buf[i] == '\n') {
            reader_message(r, r->buf, r->len, fn, arg);
            r->len = 0;
        } else if (r->len < QMP_EVENT_LINE_MAX) {
            if (r->len == r->cap) {
                r->cap = r->cap ? r->cap * 2 : 1024;
                r->buf = ctr_xrealloc(r->buf, r->cap);
            }
            r->buf[r->len++] = buf[i];
        }
    }
    return 1;
}

int qmp_reader_send(struct qmp_reader *r, const char *cmd, const char *id, ctr_error_t *err)
{
    cleanup_json json_t *o = json_pack("{s:s, s:s}", "execute", cmd, "id", id);
    cleanup_free char *text = json_dumps(o, JSON_COMPACT);
    cleanup_free char *line = ctr_xasprintf("%s\n", text);

    if (r->fd < 0)
        return ctr_fail(err, ENOTCONN, "QMP `%s`: no monitor", cmd);
    /* a few bytes on a socket QEMU reads all the time: waits only for a full buffer */
    if (ctr_write_all_wait(r->fd, line, strlen(line)) < 0)
        return ctr_fail(err, errno, "QMP: send `%s`", cmd);
    return 0;
}

void qmp_reader_release(struct qmp_reader *r)
{
    if (r->fd >= 0)
        close(r->fd);
    r->fd = -1;
    free(r->buf);
    r->buf = NULL;
    r->len = r->cap = 0;
}
