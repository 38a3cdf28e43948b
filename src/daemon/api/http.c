/* The HTTP layer: libmicrohttpd on our own AF_UNIX socket, one thread per
 * connection (bounded), request bodies, replies and the hijack of attach/exec. */
#include "daemon/api/api.h"

#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

const char *api_query(struct api_req *r, const char *key)
{
    return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, key);
}

bool api_query_bool(struct api_req *r, const char *key)
{
    const char *v = api_query(r, key);
    return v && *v && strcmp(v, "0") != 0 && strcasecmp(v, "false") != 0;
}

const char *api_header(struct api_req *r, const char *key)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, key);
}

int api_req_fd(struct api_req *r)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    return ci ? ci->connect_fd : -1;
}

/* ---- connection timeouts and limits ----
 * libmicrohttpd closes a connection that sent or received nothing for the idle timeout:
 * that is what frees the slots of half-sent requests. It also counts the time a handler
 * spends blocked (a content callback that waits for the next event, a stop that waits
 * for the container) as idle, so: a request that is being answered with a stream gets
 * no timeout (the stream ends when the peer hangs up: ctr_fd_peer_gone), and a handler or a
 * body write that blocked restarts the clock (conn_touch). Upgraded (hijacked)
 * connections belong to their thread: libmicrohttpd does not time them out. */
static unsigned idle_timeout = DMN_IDLE_TIMEOUT;
static unsigned max_per_client = DMN_MAX_CONNECTIONS_PER_CLIENT;

static void conn_timeout(struct api_req *r, unsigned secs)
{
    if (idle_timeout)
        MHD_set_connection_option(r->conn, MHD_CONNECTION_OPTION_TIMEOUT, secs);
}

/* Restart the idle clock: setting 0 then the timeout again records activity now. */
static void conn_touch(struct api_req *r)
{
    conn_timeout(r, 0);
    conn_timeout(r, idle_timeout);
}

static void std_headers(struct MHD_Response *resp)
{
    MHD_add_response_header(resp, "API-Version", DMN_API_VERSION);
    MHD_add_response_header(resp, "Docker-Experimental", "false");
    MHD_add_response_header(resp, "OSType", "linux");
    MHD_add_response_header(resp, "Server", "container-apiserver/" DMN_VERSION " (linux)");
}

static int set_resp(struct api_req *r, unsigned status, struct MHD_Response *resp)
{
    if (r->resp) {
        /* A handler bug: keep the first answer. */
        log_error("second reply for %s %s dropped", r->method, r->path);
        MHD_destroy_response(resp);
        return -1;
    }
    std_headers(resp);
    r->resp = resp;
    r->status = status;
    return 0;
}

int api_reply_text(struct api_req *r, unsigned status, const char *ctype, const char *text,
                   size_t len)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, (void *)text, MHD_RESPMEM_MUST_COPY);
    if (ctype)
        MHD_add_response_header(resp, "Content-Type", ctype);
    return set_resp(r, status, resp);
}

int api_reply_json(struct api_req *r, unsigned status, json_t *j)
{
    /* A NULL j is a json_pack that failed (text that is not UTF-8 slipped through):
     * a bug to log, never a crash. */
    char *s = j ? json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    if (s == NULL) {
        log_error("%s %s: cannot encode the %u reply as JSON", r->method, r->path, status);
        json_decref(j);
        static const char msg[] = "{\"message\":\"internal error: cannot encode the reply\"}\n";
        struct MHD_Response *resp =
            MHD_create_response_from_buffer(sizeof(msg) - 1, (void *)msg, MHD_RESPMEM_PERSISTENT);
        MHD_add_response_header(resp, "Content-Type", "application/json");
        return set_resp(r, 500, resp);
    }
    size_t len = strlen(s);
    s = ctr_xrealloc(s, len + 2);
    s[len++] = '\n';
    s[len] = '\0';
    json_decref(j);
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, s, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(resp, "Content-Type", "application/json");
    return set_resp(r, status, resp);
}

int api_reply_error(struct api_req *r, unsigned status, const char *fmt, ...)
{
    va_list ap;
    char *msg = NULL;
    va_start(ap, fmt);
    if (vasprintf(&msg, fmt, ap) < 0)
        abort();
    va_end(ap);
    if (status >= 500)
        log_warn("%s %s: %u %s", r->method, r->path, status, msg);
    else
        log_debug("%s %s: %u %s", r->method, r->path, status, msg);
    /* The message may quote the request (an id, a path, a query value): any byte. */
    json_t *j = json_pack("{s:o}", "message", ctr_json_str(msg));
    free(msg);
    return api_reply_json(r, status, j);
}

int api_reply_ctr_error(struct api_req *r, ctr_error_t *err)
{
    unsigned status = 500;
    switch ((*err)->errnum) {
    case ENOENT:
        status = 404;
        break;
    case EEXIST:
    case EBUSY:
        status = 409;
        break;
    case EINVAL:
        status = 400;
        break;
    case DMN_ENOSPACE:
        status = 507;
        break;
    case DMN_EFORBIDDEN:
        status = 403;
        break;
    }
    int ret = api_reply_error(r, status, "%s", (*err)->msg);
    ctr_error_free(err);
    return ret;
}

void api_reply_header(struct api_req *r, const char *key, const char *value)
{
    if (r->resp)
        MHD_add_response_header(r->resp, key, value);
}

int api_reply_empty(struct api_req *r, unsigned status)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);
    return set_resp(r, status, resp);
}

struct stream_ctx {
    api_fill_fn fill;
    void *ctx;
    void (*free_ctx)(void *);
};

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct stream_ctx *s = cls;
    ssize_t n = s->fill(s->ctx, buf, max);
    if (n == 0)
        return MHD_CONTENT_READER_END_OF_STREAM;
    if (n < 0)
        return MHD_CONTENT_READER_END_WITH_ERROR;
    return n;
}

static void stream_free(void *cls)
{
    struct stream_ctx *s = cls;
    if (s->free_ctx)
        s->free_ctx(s->ctx);
    free(s);
}

int api_reply_stream(struct api_req *r, unsigned status, const char *ctype, api_fill_fn fill,
                     void *ctx, void (*free_ctx)(void *))
{
    struct stream_ctx *s = ctr_xcalloc(1, sizeof(*s));
    s->fill = fill;
    s->ctx = ctx;
    s->free_ctx = free_ctx;
    struct MHD_Response *resp =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 32 * 1024, stream_read, s, stream_free);
    if (ctype)
        MHD_add_response_header(resp, "Content-Type", ctype);
    int ret = set_resp(r, status, resp);
    if (ret == 0)
        r->streaming = true;
    return ret;
}

int api_reply_fd(struct api_req *r, unsigned status, const char *ctype, int fd)
{
    off_t size = lseek(fd, 0, SEEK_END);
    if (size < 0) {
        close(fd);
        return api_reply_error(r, 500, "cannot size the reply file: %s", strerror(errno));
    }
    struct MHD_Response *resp = MHD_create_response_from_fd((uint64_t)size, fd);
    if (ctype)
        MHD_add_response_header(resp, "Content-Type", ctype);
    return set_resp(r, status, resp);
}

/* ---- hijack ---- */

struct hijack {
    struct dmn *d;
    api_hijack_fn run;
    void *ctx;
    void (*free_ctx)(void *);
    int fd;
    char *pre;
    size_t pre_len;
    struct MHD_UpgradeResponseHandle *urh;
};

static void hijack_free(struct hijack *h)
{
    if (h->free_ctx)
        h->free_ctx(h->ctx);
    free(h->pre);
    free(h);
}

static void *hijack_thread(void *arg)
{
    struct hijack *h = arg;
    int fl = fcntl(h->fd, F_GETFL);
    if (fl >= 0)
        fcntl(h->fd, F_SETFL, fl & ~O_NONBLOCK);
    h->run(h->ctx, h->fd, h->pre, h->pre_len);
    MHD_upgrade_action(h->urh, MHD_UPGRADE_ACTION_CLOSE);
    atomic_fetch_sub(&h->d->streams, 1);
    hijack_free(h);
    return NULL;
}

static void on_upgrade(void *cls, struct MHD_Connection *conn, void *req_cls, const char *extra_in,
                       size_t extra_in_size, MHD_socket sock, struct MHD_UpgradeResponseHandle *urh)
{
    struct hijack *h = cls;
    struct hijack *mine = ctr_xcalloc(1, sizeof(*mine));
    pthread_t t;
    pthread_attr_t a;

    /* The response (and cls) may serve one upgrade only: take over its context. */
    *mine = *h;
    h->ctx = NULL;
    h->free_ctx = NULL;
    mine->fd = sock;
    mine->urh = urh;
    if (extra_in_size) {
        mine->pre = ctr_xmalloc(extra_in_size);
        memcpy(mine->pre, extra_in, extra_in_size);
        mine->pre_len = extra_in_size;
    }
    atomic_fetch_add(&mine->d->streams, 1);
    pthread_attr_init(&a);
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&t, &a, hijack_thread, mine) != 0) {
        log_error("cannot start a stream thread");
        atomic_fetch_sub(&mine->d->streams, 1);
        MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
        hijack_free(mine);
    }
    pthread_attr_destroy(&a);
}

/* The 101 reply that hands the connection to run (hijack and WebSocket alike); header
 * pairs name, value, … NULL. */
static int reply_upgrade(struct api_req *r, api_hijack_fn run, void *ctx, void (*free_ctx)(void *),
                         const char *const *headers)
{
    struct hijack *h = ctr_xcalloc(1, sizeof(*h));
    h->d = r->d;
    h->run = run;
    h->ctx = ctx;
    h->free_ctx = free_ctx;
    h->fd = -1;
    /* The response keeps h: freed with the request (see on_completed). */
    struct MHD_Response *resp = MHD_create_response_for_upgrade(on_upgrade, h);
    for (size_t i = 0; headers[i]; i += 2)
        MHD_add_response_header(resp, headers[i], headers[i + 1]);
    if (set_resp(r, 101, resp) < 0) {
        hijack_free(h);
        return -1;
    }
    r->hijack = h;
    r->streaming = true;
    return 0;
}

int api_reply_hijack(struct api_req *r, const char *ctype, api_hijack_fn run, void *ctx,
                     void (*free_ctx)(void *))
{
    const char *up = api_header(r, "Upgrade");
    if (up == NULL || (strcasecmp(up, "tcp") != 0 && strcasecmp(up, "h2c") != 0)) {
        if (free_ctx)
            free_ctx(ctx);
        return api_reply_error(r, 400,
                               "this endpoint streams over a hijacked connection: send "
                               "`Connection: Upgrade` and `Upgrade: tcp`");
    }
    const char *const headers[] = {"Upgrade", "tcp", "Content-Type", ctype, NULL};
    return reply_upgrade(r, run, ctx, free_ctx, headers);
}

int api_reply_websocket(struct api_req *r, api_hijack_fn run, void *ctx, void (*free_ctx)(void *))
{
    const char *up = api_header(r, "Upgrade"), *key = api_header(r, "Sec-WebSocket-Key");
    cleanup_free char *accept = key && *key ? api_ws_accept(key) : NULL;
    if (up == NULL || strcasecmp(up, "websocket") != 0 || accept == NULL) {
        if (free_ctx)
            free_ctx(ctx);
        return api_reply_error(r, 400,
                               "this endpoint is a WebSocket: send `Connection: Upgrade`, "
                               "`Upgrade: websocket` and `Sec-WebSocket-Key`");
    }
    const char *const headers[] = {"Upgrade", "websocket", "Sec-WebSocket-Accept", accept, NULL};
    return reply_upgrade(r, run, ctx, free_ctx, headers);
}

/* ---- requests ---- */

json_t *api_body_json(struct api_req *r, ctr_error_t *err)
{
    json_error_t je;
    if (r->body_len == 0) {
        dmn_fail(err, EINVAL, "request body is empty; a JSON object is expected");
        return NULL;
    }
    json_t *j = json_loadb(r->body, r->body_len, JSON_REJECT_DUPLICATES, &je);
    if (j == NULL) {
        dmn_fail(err, EINVAL, "malformed JSON in the request body: %s (line %d, column %d)",
                 je.text, je.line, je.column);
        return NULL;
    }
    return j;
}

static void req_free(struct api_req *r)
{
    for (size_t i = 0; i < API_ROUTE_MAX_PARAMS; i++)
        free(r->params[i]);
    free(r->body);
    free(r->path_copy);
    if (r->upload_fd >= 0)
        close(r->upload_fd);
    if (r->upload_pipe >= 0)
        close(r->upload_pipe); /* first: the job's threads see EOF and end */
    if (r->upload_job_free)
        r->upload_job_free(r->upload_job);
    if (r->upload_path) {
        unlink(r->upload_path);
        free(r->upload_path);
    }
    if (r->hijack)
        hijack_free(r->hijack);
    free(r);
}

static int upload_open(struct api_req *r)
{
    r->upload_path = ctr_xasprintf("%s/upload-XXXXXX", r->d->tmp_dir);
    r->upload_fd = mkostemp(r->upload_path, O_CLOEXEC);
    if (r->upload_fd < 0) {
        r->upload_errno = errno;
        log_error("cannot create an upload file in `%s`: %s", r->d->tmp_dir, strerror(errno));
        free(r->upload_path);
        r->upload_path = NULL;
        r->upload_failed = true;
        return -1;
    }
    return 0;
}

static void body_append(struct api_req *r, const char *data, size_t len)
{
    if (r->upload_job) { /* streamed to a pipe; dropped once its reader has given up */
        if (r->upload_pipe >= 0 && ctr_write_all(r->upload_pipe, data, len) < 0) {
            close(r->upload_pipe);
            r->upload_pipe = -1;
        }
        conn_touch(r); /* the write waits for the container: not the client's idle time */
        return;
    }
    if (r->upload_path || r->upload_failed) {
        if (!r->upload_failed && ctr_write_all(r->upload_fd, data, len) < 0) {
            r->upload_failed = true;
            r->upload_errno = errno;
            /* a full disk: give the space back now, not when the client is done */
            if (ftruncate(r->upload_fd, 0) < 0)
                log_debug("cannot truncate `%s`: %s", r->upload_path, strerror(errno));
        }
        return;
    }
    if (r->body_len + len > DMN_MAX_BODY) {
        r->body_too_large = true;
        return;
    }
    if (r->body_len + len + 1 > r->body_cap) {
        r->body_cap = (r->body_len + len + 1) * 2;
        r->body = ctr_xrealloc(r->body, r->body_cap);
    }
    memcpy(r->body + r->body_len, data, len);
    r->body_len += len;
    r->body[r->body_len] = '\0';
}

/* The routes (serve.c): called through these, http.c does not depend on the handlers. */
static const struct api_http_ops *ops;

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    struct dmn *d = cls;
    struct api_req *r = *con_cls;

    if (r == NULL) { /* made by on_uri: not without a bug in libmicrohttpd */
        r = ctr_xcalloc(1, sizeof(*r));
        *con_cls = r;
    }
    if (r->conn == NULL) {
        r->d = d;
        r->conn = conn;
        r->method = method;
        r->upload_fd = -1;
        r->upload_pipe = -1;
        r->path_copy = ctr_xstrdup(url);
        *con_cls = r;
        bool hv = false;
        unsigned major = DMN_API_MAJOR, minor = DMN_API_MINOR;
        const char *rest = r->path_copy;
        if (r->url_has_nul)
            r->bad_version = ctr_xstrdup("the request URL holds a NUL byte (`%00`): remove it");
        else if (api_route_version(r->path_copy, &hv, &major, &minor, &rest) < 0)
            r->bad_version = ctr_xasprintf("malformed API version in `%s`", url);
        else if (hv)
            r->bad_version = api_version_check(major, minor);
        r->api_minor = hv ? minor : DMN_API_MINOR;
        r->path = rest;
        if (r->bad_version == NULL && ops->wants_upload(method, r->path))
            upload_open(r);
        else if (r->bad_version == NULL && ops->streams_upload(method, r->path))
            ops->stream_begin(r);
        return MHD_YES;
    }
    if (*upload_data_size) {
        body_append(r, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    log_debug("%s %s", method, url);
    if (r->upload_pipe >= 0) { /* the end of a streamed body */
        close(r->upload_pipe);
        r->upload_pipe = -1;
    }
    if (r->bad_version) {
        api_reply_error(r, 400, "%s", r->bad_version);
        free(r->bad_version);
        r->bad_version = NULL;
    } else if (r->body_too_large) {
        api_reply_error(r, 413, "request body larger than %u bytes", DMN_MAX_BODY);
    } else if (r->upload_failed) {
        api_reply_error(r, 500, "cannot store the request body in `%s`: %s", r->d->tmp_dir,
                        strerror(r->upload_errno ? r->upload_errno : EIO));
    } else {
        ops->dispatch(r);
    }
    if (r->resp == NULL)
        api_reply_error(r, 500, "no reply for %s %s", method, r->path);
    if (r->streaming)
        conn_timeout(r, 0); /* until on_completed */
    else
        conn_touch(r); /* the handler may have waited long (stop, load) */
    enum MHD_Result ret = MHD_queue_response(conn, r->status, r->resp);
    MHD_destroy_response(r->resp);
    r->resp = NULL;
    return ret;
}

/* Called with the URL as sent, before libmicrohttpd decodes it (a `%00` would cut the
 * path and the query values short, so that `DELETE /containers/a%00b` would name `a`):
 * makes the request object. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
    struct api_req *r = ctr_xcalloc(1, sizeof(*r));
    r->upload_fd = -1;
    r->upload_pipe = -1;
    r->url_has_nul = strstr(uri, "%00") != NULL;
    return r;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct api_req *r = *con_cls;
    if (r) {
        if (r->streaming && r->conn && toe == MHD_REQUEST_TERMINATED_COMPLETED_OK)
            conn_timeout(r, idle_timeout); /* a kept-alive connection idles again */
        free(r->bad_version);
        req_free(r);
    }
    *con_cls = NULL;
}

/* Connections per client process (SO_PEERCRED: libmicrohttpd's per-IP limit means nothing
 * on a unix socket), so that one client cannot take every slot. */
struct peer_count {
    pid_t pid;
    unsigned n;
};
static struct peer_count peers[DMN_MAX_CONNECTIONS];
static pthread_mutex_t peers_lock = PTHREAD_MUTEX_INITIALIZER;

struct conn_ctx {
    pid_t pid;
    bool counted;
};

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        struct ucred cred;
        socklen_t len = sizeof(cred);
        if (ci == NULL || getsockopt(ci->connect_fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
            return;
        struct conn_ctx *cc = ctr_xcalloc(1, sizeof(*cc));
        cc->pid = cred.pid;
        *socket_context = cc;
        pthread_mutex_lock(&peers_lock);
        struct peer_count *slot = NULL, *free_slot = NULL;
        for (size_t i = 0; i < DMN_MAX_CONNECTIONS && slot == NULL; i++) {
            if (peers[i].n && peers[i].pid == cred.pid)
                slot = &peers[i];
            else if (peers[i].n == 0 && free_slot == NULL)
                free_slot = &peers[i];
        }
        if (slot == NULL && free_slot) {
            slot = free_slot;
            slot->pid = cred.pid;
        }
        bool over = slot == NULL || slot->n >= max_per_client;
        if (!over) {
            slot->n++;
            cc->counted = true;
        }
        pthread_mutex_unlock(&peers_lock);
        if (over) {
            log_warn("client pid %d has %u connections open (the limit per client): refusing "
                     "one more",
                     (int)cred.pid, max_per_client);
            shutdown(ci->connect_fd, SHUT_RDWR); /* libmicrohttpd sees the end and closes it */
        }
        return;
    }
    struct conn_ctx *cc = *socket_context;
    if (cc == NULL)
        return;
    if (cc->counted) {
        pthread_mutex_lock(&peers_lock);
        for (size_t i = 0; i < DMN_MAX_CONNECTIONS; i++)
            if (peers[i].n && peers[i].pid == cc->pid) {
                peers[i].n--;
                break;
            }
        pthread_mutex_unlock(&peers_lock);
    }
    free(cc);
    *socket_context = NULL;
}

/* A whole number of seconds from the environment, or def. */
static unsigned env_uint(const char *name, unsigned def)
{
    const char *v = getenv(name);
    char *end;
    if (v == NULL || *v == '\0')
        return def;
    errno = 0;
    unsigned long n = strtoul(v, &end, 10);
    if (errno || *end || n > 86400 * 365) {
        log_warn("ignoring %s=`%s`: a whole number expected", name, v);
        return def;
    }
    return (unsigned)n;
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    char *msg = NULL;
    if (vasprintf(&msg, fmt, ap) < 0)
        return;
    msg[strcspn(msg, "\n")] = '\0';
    log_debug("http: %s", msg); /* mostly clients that left early */
    free(msg);
}

void *api_http_serve(struct dmn *d, int listen_fd, const struct api_http_ops *routes,
                     ctr_error_t *err)
{
    ops = routes;
    idle_timeout = env_uint("CONTAINER_API_IDLE_TIMEOUT", DMN_IDLE_TIMEOUT);
    max_per_client =
        env_uint("CONTAINER_API_MAX_CONNECTIONS_PER_CLIENT", DMN_MAX_CONNECTIONS_PER_CLIENT);
    if (max_per_client == 0 || max_per_client > DMN_MAX_CONNECTIONS)
        max_per_client = DMN_MAX_CONNECTIONS;
    struct MHD_Daemon *mhd = MHD_start_daemon(
        MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_ALLOW_UPGRADE |
            MHD_USE_ERROR_LOG | MHD_USE_ITC,
        0, NULL, NULL, on_request, d, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, d,
        MHD_OPTION_URI_LOG_CALLBACK, on_uri, d, MHD_OPTION_NOTIFY_CONNECTION, on_connection, d,
        MHD_OPTION_LISTEN_SOCKET, listen_fd, MHD_OPTION_NOTIFY_COMPLETED, on_completed, d,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)DMN_MAX_CONNECTIONS, MHD_OPTION_CONNECTION_TIMEOUT,
        idle_timeout, MHD_OPTION_THREAD_STACK_SIZE, (size_t)(512 * 1024), MHD_OPTION_END);
    if (mhd == NULL)
        ctr_fail(err, 0, "cannot start the HTTP server (libmicrohttpd)");
    return mhd;
}

void api_http_stop(void *h)
{
    if (h)
        MHD_stop_daemon(h);
}
