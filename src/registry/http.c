/* The libcurl transport: one easy handle per connection (reused, so keep-alive
 * and TLS sessions carry over between requests of one worker). */
#include "registry/registry-internal.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

struct xfer {
    const struct registry_http_req *req;
    struct registry_http_resp *resp;
    size_t body_cap;
    size_t max_body;
    const char *mem; /* in-memory upload cursor */
    size_t mem_left;
    bool too_big;
};

void registry_http_resp_reset(struct registry_http_resp *r)
{
    free(r->body);
    free(r->location);
    free(r->content_type);
    free(r->docker_digest);
    free(r->www_authenticate);
    free(r->content_range);
    free(r->retry_after);
    memset(r, 0, sizeof(*r));
    r->content_length = -1;
}

static void set_header(char **slot, const char *v, size_t n)
{
    free(*slot);
    *slot = ctr_xstrndup(v, n);
}

static size_t on_header(char *buf, size_t size, size_t nitems, void *opaque)
{
    struct xfer *x = opaque;
    size_t n = size * nitems, vlen;
    const char *colon, *v;

    if (n >= 5 && strncmp(buf, "HTTP/", 5) == 0) {
        /* A new response (redirect, 100-continue): forget the previous headers. */
        long status = 0;
        const char *sp = memchr(buf, ' ', n);
        uint64_t sunk = x->resp->sunk;
        registry_http_resp_reset(x->resp);
        x->resp->sunk = sunk;
        if (sp)
            status = strtol(sp + 1, NULL, 10);
        x->resp->status = status;
        return n;
    }
    colon = memchr(buf, ':', n);
    if (colon == NULL)
        return n;
    v = colon + 1;
    while (v < buf + n && (*v == ' ' || *v == '\t'))
        v++;
    vlen = (size_t)(buf + n - v);
    while (vlen > 0 && (v[vlen - 1] == '\r' || v[vlen - 1] == '\n' || v[vlen - 1] == ' '))
        vlen--;
    size_t klen = (size_t)(colon - buf);
#define IS(name) (klen == strlen(name) && strncasecmp(buf, name, klen) == 0)
    if (IS("location"))
        set_header(&x->resp->location, v, vlen);
    else if (IS("content-type"))
        set_header(&x->resp->content_type, v, vlen);
    else if (IS("docker-content-digest"))
        set_header(&x->resp->docker_digest, v, vlen);
    else if (IS("www-authenticate") && x->resp->www_authenticate == NULL)
        set_header(&x->resp->www_authenticate, v, vlen);
    else if (IS("content-range"))
        set_header(&x->resp->content_range, v, vlen);
    else if (IS("retry-after"))
        set_header(&x->resp->retry_after, v, vlen);
    else if (IS("content-length")) {
        cleanup_free char *s = ctr_xstrndup(v, vlen);
        char *end;
        long long cl = strtoll(s, &end, 10);
        x->resp->content_length = (*end == '\0' && cl >= 0) ? cl : -1;
    }
#undef IS
    return n;
}

static size_t on_write(char *buf, size_t size, size_t nmemb, void *opaque)
{
    struct xfer *x = opaque;
    size_t n = size * nmemb;
    long st = x->resp->status;

    if (x->req->sink && st >= 200 && st < 300) {
        if (x->req->sink(x->req->sink_opaque, buf, n) < 0) {
            x->resp->sink_aborted = true;
            return 0;
        }
        x->resp->sunk += n;
        return n;
    }
    if (x->resp->body_len + n > x->max_body) {
        x->too_big = true;
        return 0;
    }
    if (x->resp->body_len + n + 1 > x->body_cap) {
        x->body_cap = (x->resp->body_len + n + 1) * 2;
        x->resp->body = ctr_xrealloc(x->resp->body, x->body_cap);
    }
    memcpy(x->resp->body + x->resp->body_len, buf, n);
    x->resp->body_len += n;
    x->resp->body[x->resp->body_len] = '\0';
    return n;
}

static size_t on_read(char *buf, size_t size, size_t nitems, void *opaque)
{
    struct xfer *x = opaque;
    size_t n = size * nitems;
    if (x->req->source) {
        ssize_t r = x->req->source(x->req->source_opaque, buf, n);
        return r < 0 ? CURL_READFUNC_ABORT : (size_t)r;
    }
    if (n > x->mem_left)
        n = x->mem_left;
    memcpy(buf, x->mem, n);
    x->mem += n;
    x->mem_left -= n;
    return n;
}

static void *curl_conn_new(struct registry_transport *t)
{
    CURL *h = curl_easy_init();
    if (h == NULL)
        abort();
    return h;
}

static void curl_conn_free(struct registry_transport *t, void *conn)
{
    if (conn)
        curl_easy_cleanup(conn);
}

static enum registry_xfer_error classify(CURLcode rc)
{
    switch (rc) {
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_ENGINE_INITFAILED:
        return REGISTRY_XFER_TLS;
    case CURLE_COULDNT_CONNECT:
    case CURLE_PARTIAL_FILE:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_WEIRD_SERVER_REPLY:
        return REGISTRY_XFER_RETRYABLE;
    default:
        return REGISTRY_XFER_FATAL;
    }
}

static int curl_perform(struct registry_transport *t, void *conn,
                        const struct registry_http_req *req, struct registry_http_resp *resp,
                        enum registry_xfer_error *kind, ctr_error_t *err)
{
    CURL *h = conn;
    struct curl_slist *hdrs = NULL;
    char errbuf[CURL_ERROR_SIZE] = "";
    struct xfer x = {.req = req, .resp = resp, .mem = req->body, .mem_left = req->body_len};
    cleanup_free char *range = NULL;
    CURLcode rc;

    x.max_body = req->max_body ? req->max_body : (1u << 20);
    registry_http_resp_reset(resp);
    *kind = REGISTRY_XFER_OK;
    curl_easy_reset(h);
    curl_easy_setopt(h, CURLOPT_URL, req->url);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "container/0.1 (registry client)");
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &x);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &x);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 30L);
    /* A stalled transfer (no byte for 60 s) counts as a timeout and is retried. */
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 60L);
    curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, NULL);
    /* Bigger reads: fewer write()+hash calls per blob. */
    curl_easy_setopt(h, CURLOPT_BUFFERSIZE, 256L * 1024);
    if (req->follow_redirects) {
        curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
        curl_easy_setopt(h, CURLOPT_MAXREDIRS, 10L);
    }
    if (req->ca_pem) {
        struct curl_blob blob = {
            .data = req->ca_pem, .len = strlen(req->ca_pem), .flags = CURL_BLOB_COPY};
        curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &blob);
        if (access("/etc/ssl/certs", F_OK) == 0)
            curl_easy_setopt(h, CURLOPT_CAPATH, "/etc/ssl/certs");
    }
    if (req->client_cert && req->client_key) {
        curl_easy_setopt(h, CURLOPT_SSLCERT, req->client_cert);
        curl_easy_setopt(h, CURLOPT_SSLKEY, req->client_key);
    }
    if (req->range_start > 0) {
        range = ctr_xasprintf("%llu-", (unsigned long long)req->range_start);
        curl_easy_setopt(h, CURLOPT_RANGE, range);
    }
    if (strcmp(req->method, "HEAD") == 0) {
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else if (strcmp(req->method, "POST") == 0) {
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, req->body ? req->body : "");
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
    } else if (strcmp(req->method, "PUT") == 0 || strcmp(req->method, "PATCH") == 0) {
        curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(h, CURLOPT_READDATA, &x);
        curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE,
                         (curl_off_t)(req->source ? req->source_len : req->body_len));
        if (strcmp(req->method, "PATCH") == 0)
            curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "PATCH");
    } else if (strcmp(req->method, "GET") != 0) {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req->method);
    }
    hdrs = curl_slist_append(hdrs, "Expect:");
    for (char **p = req->headers; p && *p; p++)
        hdrs = curl_slist_append(hdrs, *p);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);

    rc = curl_easy_perform(h);
    curl_slist_free_all(hdrs);
    if (rc == CURLE_OK)
        return 0;
    if (rc == CURLE_WRITE_ERROR && x.too_big) {
        *kind = REGISTRY_XFER_FATAL;
        return registry_fail_code(err, EFBIG, "%s `%s`: response larger than %zu bytes",
                                  req->method, req->url, x.max_body);
    }
    if (rc == CURLE_WRITE_ERROR && resp->sink_aborted) {
        *kind = REGISTRY_XFER_FATAL;
        return ctr_fail(err, 0, "%s `%s`: transfer aborted", req->method, req->url);
    }
    *kind = classify(rc);
    return ctr_fail(err, 0, "%s `%s`: %s", req->method, req->url,
                    errbuf[0] ? errbuf : curl_easy_strerror(rc));
}

static struct registry_transport curl_transport = {
    .conn_new = curl_conn_new,
    .conn_free = curl_conn_free,
    .perform = curl_perform,
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

struct registry_transport *registry_curl_transport(void)
{
    pthread_once(&curl_once, curl_init_once);
    return &curl_transport;
}
