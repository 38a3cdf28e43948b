/* The API client: libcurl over the daemon's unix socket (CURLOPT_UNIX_SOCKET_PATH),
 * Docker Engine API paths under CLI_API_PREFIX. Hijacked streams are in hijack.c. */
#include "cli/cli.h"

#include <curl/curl.h>
#include <errno.h>
#include <grp.h>
#include <pthread.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

char *cli_path(const char *fmt, ...)
{
    va_list ap;
    char *p, *out;

    va_start(ap, fmt);
    if (vasprintf(&p, fmt, ap) < 0)
        abort();
    va_end(ap);
    out = ctr_xasprintf("%s%s", CLI_API_PREFIX, p);
    free(p);
    return out;
}

char *cli_esc(const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = strlen(s);
    char *o = ctr_xmalloc(n * 3 + 1), *q = o;

    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '_' || c == '.' || c == '~') {
            *q++ = (char)c;
        } else {
            *q++ = '%';
            *q++ = hex[c >> 4];
            *q++ = hex[c & 15];
        }
    }
    *q = '\0';
    return o;
}

/* `?filters=` (escaped) from --filter KEY=VALUE flags; "" when none. */
char *cli_filters_query(char **filters)
{
    if (filters == NULL)
        return ctr_xstrdup("");
    json_t *f = json_object();
    for (char **p = filters; *p; p++) {
        const char *eq = strchr(*p, '=');
        cleanup_free char *k0 = ctr_xstrndup(*p, (size_t)(eq - *p));
        cleanup_free char *k = ctr_utf8_fix(k0);
        json_t *arr = json_object_get(f, k);
        if (arr == NULL) {
            arr = json_array();
            json_object_set_new(f, k, arr);
        }
        json_array_append_new(arr, ctr_json_str(eq + 1));
    }
    cleanup_free char *s = json_dumps(f, JSON_COMPACT);
    json_decref(f);
    cleanup_free char *e = cli_esc(s);
    return ctr_xasprintf("?filters=%s", e);
}

void cli_response_release(struct cli_response *r)
{
    free(r->body);
    r->body = NULL;
    r->len = 0;
}

int cli_connect_error(const char *socket, int errnum, ctr_error_t *err)
{
    struct stat st;

    if (errnum == EACCES || errnum == EPERM) {
        if (stat(socket, &st) == 0) {
            struct group *g = getgrgid(st.st_gid);
            struct passwd *pw = getpwuid(st.st_uid);
            if (g && st.st_gid != 0)
                return ctr_fail(err, 0,
                                "permission denied on the API socket `%s`; add your user to "
                                "group `%s` (`usermod -aG %s $USER`, then log in again) or run "
                                "as `%s`",
                                socket, g->gr_name, g->gr_name, pw ? pw->pw_name : "root");
            return ctr_fail(err, 0,
                            "permission denied on the API socket `%s`; it belongs to `%s`: run "
                            "as `%s` or start the daemon with a group you are in",
                            socket, pw ? pw->pw_name : "root", pw ? pw->pw_name : "root");
        }
        return ctr_fail(err, 0,
                        "permission denied on the API socket `%s`; check the "
                        "permissions of its directory",
                        socket);
    }
    if (errnum == ENOENT || errnum == ECONNREFUSED || errnum == ENOTDIR)
        return ctr_fail(err, 0,
                        "container system is not running; start it with `container system start` "
                        "(no daemon answers on `%s`)",
                        socket);
    return ctr_fail(err, errnum, "cannot connect to the API socket `%s`", socket);
}

char *cli_error_message(long status, const char *body, size_t len)
{
    json_error_t jerr;
    json_t *j = body && len ? json_loadb(body, len, 0, &jerr) : NULL;
    const char *m = cli_json_str(j, "message");
    char *out;

    if (m && *m)
        out = ctr_xstrdup(m);
    else if (body && len && !j)
        out = ctr_xasprintf("%.*s", (int)(len > 300 ? 300 : len), body);
    else
        out = ctr_xasprintf("the daemon answered HTTP %ld", status);
    json_decref(j);
    /* Trim a trailing newline from plain-text bodies. */
    for (size_t n = strlen(out); n && (out[n - 1] == '\n' || out[n - 1] == '\r'); n--)
        out[n - 1] = '\0';
    return out;
}

struct xfer {
    const struct cli_request *req;
    struct cli_response *resp;
    CURL *curl;
    bool headers_done;
    bool sink_failed;
    char *err_body; /* error responses are buffered even when streaming */
    size_t err_len;
};

static void append(char **buf, size_t *len, const char *data, size_t n)
{
    *buf = ctr_xrealloc(*buf, *len + n + 1);
    memcpy(*buf + *len, data, n);
    *len += n;
    (*buf)[*len] = '\0';
}

static size_t on_write(char *data, size_t size, size_t nmemb, void *opaque)
{
    struct xfer *x = opaque;
    size_t n = size * nmemb;
    long status = 0;

    curl_easy_getinfo(x->curl, CURLINFO_RESPONSE_CODE, &status);
    if (status >= 400 || x->req->sink == NULL) {
        if (status >= 400)
            append(&x->err_body, &x->err_len, data, n);
        else
            append(&x->resp->body, &x->resp->len, data, n);
        return n;
    }
    if (x->req->sink(x->req->sink_opaque, data, n) < 0) {
        x->sink_failed = true;
        return 0;
    }
    return n;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *opaque)
{
    struct xfer *x = opaque;
    size_t n = size * nmemb;
    long status = 0;

    size_t hl = x->req->capture_header ? strlen(x->req->capture_header) : 0;
    if (hl && n > hl + 1 && strncasecmp(data, x->req->capture_header, hl) == 0 && data[hl] == ':') {
        const char *v = data + hl + 1;
        size_t vl = n - hl - 1;
        while (vl && (*v == ' ' || *v == '\t'))
            v++, vl--;
        while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' '))
            vl--;
        free(*x->req->captured);
        *x->req->captured = ctr_xstrndup(v, vl);
    }
    /* The blank line ends a header block; a 1xx block is followed by another. */
    if (n <= 2 && (data[0] == '\r' || data[0] == '\n')) {
        curl_easy_getinfo(x->curl, CURLINFO_RESPONSE_CODE, &status);
        if (status >= 200 && !x->headers_done) {
            x->headers_done = true;
            if (x->req->on_headers)
                x->req->on_headers(x->req->headers_opaque, status);
        }
    }
    return n;
}

static size_t on_read(char *buf, size_t size, size_t nmemb, void *opaque)
{
    int fd = *(int *)opaque;
    ssize_t r;
    do
        r = read(fd, buf, size * nmemb);
    while (r < 0 && errno == EINTR);
    return r < 0 ? CURL_READFUNC_ABORT : (size_t)r;
}

static int debug_cb(CURL *c, curl_infotype type, char *data, size_t size, void *opaque)
{
    if (type == CURLINFO_TEXT || type == CURLINFO_HEADER_OUT || type == CURLINFO_HEADER_IN)
        fprintf(stderr, "[http] %.*s", (int)size, data);
    return 0;
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

int cli_request(const struct cli_ctx *ctx, const struct cli_request *req, struct cli_response *out,
                ctr_error_t *err)
{
    struct cli_response resp = {0};
    struct xfer x = {.req = req, .resp = &resp};
    struct curl_slist *hdrs = NULL;
    cleanup_free char *url = NULL, *body = NULL;
    char errbuf[CURL_ERROR_SIZE] = "";
    int upload_fd = req->upload_fd;
    CURLcode rc;
    int ret = -1;

    pthread_once(&curl_once, curl_init_once);
    x.curl = curl_easy_init();
    if (x.curl == NULL)
        return ctr_fail(err, 0, "cannot initialise libcurl");
    url = ctr_xasprintf("http://localhost%s", req->path);
    curl_easy_setopt(x.curl, CURLOPT_UNIX_SOCKET_PATH, ctx->socket);
    curl_easy_setopt(x.curl, CURLOPT_URL, url);
    curl_easy_setopt(x.curl, CURLOPT_CUSTOMREQUEST, req->method);
    curl_easy_setopt(x.curl, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(x.curl, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(x.curl, CURLOPT_WRITEDATA, &x);
    curl_easy_setopt(x.curl, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(x.curl, CURLOPT_HEADERDATA, &x);
    curl_easy_setopt(x.curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(x.curl, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(x.curl, CURLOPT_USERAGENT, "container/" CLI_VERSION);
    if (ctx->debug) {
        curl_easy_setopt(x.curl, CURLOPT_VERBOSE, 1L);
        curl_easy_setopt(x.curl, CURLOPT_DEBUGFUNCTION, debug_cb);
    }
    if (req->body) {
        body = json_dumps(req->body, JSON_COMPACT);
        curl_easy_setopt(x.curl, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(x.curl, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
        hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
    } else if (upload_fd >= 0) {
        curl_easy_setopt(x.curl, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(x.curl, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(x.curl, CURLOPT_READDATA, &upload_fd);
        struct stat st;
        if (fstat(upload_fd, &st) == 0 && S_ISREG(st.st_mode)) /* else chunked */
            curl_easy_setopt(x.curl, CURLOPT_INFILESIZE_LARGE, (curl_off_t)st.st_size);
        curl_easy_setopt(x.curl, CURLOPT_CUSTOMREQUEST, req->method);
        hdrs = curl_slist_append(hdrs, "Expect:");
        if (req->content_type) {
            cleanup_free char *h = ctr_xasprintf("Content-Type: %s", req->content_type);
            hdrs = curl_slist_append(hdrs, h);
        }
    } else if (strcmp(req->method, "HEAD") == 0) {
        curl_easy_setopt(x.curl, CURLOPT_NOBODY, 1L);
    } else if (strcmp(req->method, "POST") == 0) {
        curl_easy_setopt(x.curl, CURLOPT_POSTFIELDS, "");
        curl_easy_setopt(x.curl, CURLOPT_POSTFIELDSIZE, 0L);
    }
    for (const char *const *h = req->headers; h && *h; h++)
        hdrs = curl_slist_append(hdrs, *h);
    if (hdrs)
        curl_easy_setopt(x.curl, CURLOPT_HTTPHEADER, hdrs);

    rc = curl_easy_perform(x.curl);
    curl_easy_getinfo(x.curl, CURLINFO_RESPONSE_CODE, &resp.status);
    if (rc != CURLE_OK && !(x.sink_failed && rc == CURLE_WRITE_ERROR)) {
        long oserr = 0;
        curl_easy_getinfo(x.curl, CURLINFO_OS_ERRNO, &oserr);
        if (rc == CURLE_COULDNT_CONNECT || (resp.status == 0 && oserr)) {
            int e = (int)oserr;
            if (e == 0)
                e = access(ctx->socket, F_OK) < 0 ? ENOENT : ECONNREFUSED;
            cli_connect_error(ctx->socket, e, err);
        } else if (rc == CURLE_GOT_NOTHING || rc == CURLE_RECV_ERROR || rc == CURLE_PARTIAL_FILE) {
            ctr_fail(err, 0, "the daemon closed the connection during `%s %s` (%s)", req->method,
                     req->path, errbuf[0] ? errbuf : curl_easy_strerror(rc));
        } else {
            ctr_fail(err, 0, "request `%s %s` failed: %s", req->method, req->path,
                     errbuf[0] ? errbuf : curl_easy_strerror(rc));
        }
        goto out;
    }
    if (x.sink_failed) {
        ctr_fail(err, 0, "writing the response of `%s %s` failed", req->method, req->path);
        goto out;
    }
    if (resp.status >= 400) {
        cleanup_free char *m = cli_error_message(resp.status, x.err_body, x.err_len);
        ctr_fail(err, 0, "%s", m);
        (*err)->errnum = 0;
        goto out;
    }
    ret = 0;
    if (out)
        *out = resp;
    else
        cli_response_release(&resp);
    resp = (struct cli_response){0};
out:
    if (ret < 0 && out)
        out->status = resp.status;
    cli_response_release(&resp);
    free(x.err_body);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(x.curl);
    return ret;
}

int cli_call(const struct cli_ctx *ctx, const char *method, const char *path, json_t *body,
             json_t **out, ctr_error_t *err)
{
    struct cli_request req = {.method = method, .path = path, .body = body, .upload_fd = -1};
    struct cli_response resp = {0};
    json_error_t jerr;
    json_t *j = NULL;

    if (cli_request(ctx, &req, &resp, err) < 0)
        return -1;
    if (out && resp.len > 0) {
        j = json_loadb(resp.body, resp.len, 0, &jerr);
        if (j == NULL) {
            cli_response_release(&resp);
            return ctr_fail(err, 0, "the daemon sent invalid JSON for `%s %s`: %s", method, path,
                            jerr.text);
        }
    }
    cli_response_release(&resp);
    if (out)
        *out = j;
    return 0;
}

json_t *cli_get_each(const struct cli_ctx *ctx, const char *what, const char *collection,
                     const char *suffix, char **names, int *rc)
{
    json_t *all = json_array();

    *rc = 0;
    for (char **p = names; *p; p++) {
        cleanup_free char *en = cli_esc(*p);
        cleanup_free char *path = cli_path("/%s/%s%s", collection, en, suffix);
        json_t *j = NULL;
        ctr_error_t e = NULL;
        if (cli_call(ctx, "GET", path, NULL, &j, &e) < 0) {
            fprintf(stderr, "container: %s `%s`: %s\n", what, *p, e->msg);
            ctr_error_free(&e);
            *rc = 1;
            continue;
        }
        json_array_append_new(all, j);
    }
    return all;
}

int cli_delete_each(const struct cli_ctx *ctx, const char *what, const char *collection,
                    char **names, bool force)
{
    int rc = 0;

    for (char **p = names; *p; p++) {
        cleanup_free char *en = cli_esc(*p);
        cleanup_free char *path = cli_path("/%s/%s", collection, en);
        ctr_error_t e = NULL;
        if (cli_call(ctx, "DELETE", path, NULL, NULL, &e) < 0) {
            /* -f: a missing one is not an error (docker) */
            if (!(force && strstr(e->msg, "not found")))
                fprintf(stderr, "container: %s `%s`: %s\n", what, *p, e->msg), rc = 1;
            ctr_error_free(&e);
            continue;
        }
        printf("%s\n", *p);
    }
    return rc;
}

/* ---- wait: headers now, body later ---- */
struct cli_waiter {
    struct cli_ctx ctx;
    char *path;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool headers, done;
    int ret;
    ctr_error_t err;
    struct cli_response resp;
};

static void waiter_headers(void *opaque, long status)
{
    struct cli_waiter *w = opaque;
    pthread_mutex_lock(&w->lock);
    w->headers = true;
    pthread_cond_broadcast(&w->cond);
    pthread_mutex_unlock(&w->lock);
}

static void *waiter_main(void *opaque)
{
    struct cli_waiter *w = opaque;
    struct cli_request req = {.method = "POST",
                              .path = w->path,
                              .upload_fd = -1,
                              .on_headers = waiter_headers,
                              .headers_opaque = w};
    int r = cli_request(&w->ctx, &req, &w->resp, &w->err);

    pthread_mutex_lock(&w->lock);
    w->ret = r;
    w->done = true;
    pthread_cond_broadcast(&w->cond);
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

int cli_wait_begin(const struct cli_ctx *ctx, const char *id, const char *condition,
                   struct cli_waiter **out, ctr_error_t *err)
{
    struct cli_waiter *w = ctr_xcalloc(1, sizeof(*w));
    cleanup_free char *eid = cli_esc(id);

    w->ctx = *ctx;
    w->path = cli_path("/containers/%s/wait?condition=%s", eid, condition);
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->cond, NULL);
    if (pthread_create(&w->thread, NULL, waiter_main, w) != 0) {
        free(w->path);
        free(w);
        return ctr_fail(err, errno, "cannot start the wait thread");
    }
    pthread_mutex_lock(&w->lock);
    while (!w->headers && !w->done)
        pthread_cond_wait(&w->cond, &w->lock);
    pthread_mutex_unlock(&w->lock);
    if (w->done && w->ret < 0) {
        int r = -1;
        pthread_join(w->thread, NULL);
        *err = ctr_steal_ptr(w->err);
        cli_response_release(&w->resp);
        free(w->path);
        free(w);
        return r;
    }
    *out = w;
    return 0;
}

int cli_wait_end(struct cli_waiter *w, int *code, ctr_error_t *err)
{
    int ret = -1;
    json_t *j = NULL;
    json_error_t jerr;

    pthread_join(w->thread, NULL);
    if (w->ret < 0) {
        *err = ctr_steal_ptr(w->err);
        goto out;
    }
    j = json_loadb(w->resp.body ? w->resp.body : "", w->resp.len, 0, &jerr);
    if (!json_is_object(j) || !json_is_integer(json_object_get(j, "StatusCode"))) {
        ctr_fail(err, 0, "the daemon sent an invalid wait result `%.*s`",
                 (int)(w->resp.len > 200 ? 200 : w->resp.len), w->resp.body ? w->resp.body : "");
        goto out;
    }
    json_t *e = json_object_get(j, "Error");
    const char *m = cli_json_str(e, "Message");
    if (m && *m) {
        ctr_fail(err, 0, "%s", m);
        goto out;
    }
    *code = (int)json_integer_value(json_object_get(j, "StatusCode"));
    ret = 0;
out:
    json_decref(j);
    cli_response_release(&w->resp);
    pthread_mutex_destroy(&w->lock);
    pthread_cond_destroy(&w->cond);
    free(w->path);
    free(w);
    return ret;
}
