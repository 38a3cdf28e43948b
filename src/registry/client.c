/* The registry client: connection setup (scheme, certs.d, credentials), requests
 * with authentication and bounded retries, manifests, and a small worker pool. */
#include "registry/registry-internal.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static bool host_is_loopback(const char *host)
{
    cleanup_free char *h = NULL;
    if (host[0] == '[') {
        const char *e = strchr(host, ']');
        h = ctr_xstrndup(host + 1, e ? (size_t)(e - host - 1) : strlen(host + 1));
    } else {
        const char *colon = strrchr(host, ':');
        h = ctr_xstrndup(host, colon ? (size_t)(colon - host) : strlen(host));
    }
    return strcmp(h, "localhost") == 0 || strncmp(h, "127.", 4) == 0 || strcmp(h, "::1") == 0;
}

/* Concatenate certs.d/<host>/ *.crt (docker's layout) into one PEM blob. */
static char *load_ca_dir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    char *pem = NULL;
    if (d == NULL)
        return NULL;
    while ((de = readdir(d)) != NULL) {
        size_t n = strlen(de->d_name);
        cleanup_free char *path = NULL, *data = NULL;
        if (n < 5 || strcmp(de->d_name + n - 4, ".crt") != 0)
            continue;
        path = ctr_xasprintf("%s/%s", dir, de->d_name);
        if (ctr_read_file(path, 1u << 20, &data, NULL, NULL) < 0)
            continue;
        char *joined = ctr_xasprintf("%s%s\n", pem ? pem : "", data);
        free(pem);
        pem = joined;
    }
    closedir(d);
    return pem;
}

const char *registry_api_host(const char *domain)
{
    return strcmp(domain, "docker.io") == 0 ? "registry-1.docker.io" : domain;
}

int registry_client_new(const char *host, const struct registry_options *opts,
                        struct registry_client **out, ctr_error_t *err)
{
    struct registry_client *c = ctr_xcalloc(1, sizeof(*c));
    const char *env;
    enum registry_scheme scheme = opts ? opts->scheme : REGISTRY_SCHEME_HTTPS;

    if (opts)
        c->opts = *opts;
    if (c->opts.max_concurrent == 0)
        c->opts.max_concurrent = 3;
    if (c->opts.max_concurrent > 32)
        c->opts.max_concurrent = 32;
    if (opts == NULL || c->opts.max_retries < 0)
        c->opts.max_retries = 4;
    if (c->opts.backoff_base_ms == 0)
        c->opts.backoff_base_ms = 200;
    if (c->opts.chunk_size == 0)
        c->opts.chunk_size = 64ull << 20;
    c->host = ctr_xstrdup(strcmp(host, "index.docker.io") == 0 ? "docker.io" : host);
    c->api_host = ctr_xstrdup(registry_api_host(c->host));
    if (c->opts.certs_dir)
        c->certs_dir = ctr_xstrdup(c->opts.certs_dir);
    else if ((env = getenv("CONTAINER_CERTS_DIR")) && *env)
        c->certs_dir = ctr_xstrdup(env);
    else
        c->certs_dir = ctr_xstrdup(REGISTRY_CERTS_DIR);
    /* auto: https; a loopback host may fall back to http (as docker's insecure
     * loopback registries) when the first TLS handshake fails. */
    if (scheme == REGISTRY_SCHEME_AUTO) {
        c->scheme_probe = host_is_loopback(c->api_host);
        scheme = REGISTRY_SCHEME_HTTPS;
    }
    c->base_https = ctr_xasprintf("https://%s", c->api_host);
    c->base_http = ctr_xasprintf("http://%s", c->api_host);
    c->base = scheme == REGISTRY_SCHEME_HTTP ? c->base_http : c->base_https;
    if (c->opts.config_dir)
        c->config_dir = ctr_xstrdup(c->opts.config_dir);
    else if ((env = getenv("DOCKER_CONFIG")) && *env)
        c->config_dir = ctr_xstrdup(env);
    else
        c->config_dir = ctr_xasprintf("%s/.docker", (env = getenv("HOME")) ? env : "/root");
    c->opts.certs_dir = c->certs_dir;
    c->opts.config_dir = c->config_dir;
    c->opts.username = c->opts.password = NULL;

    if (scheme == REGISTRY_SCHEME_HTTPS) {
        cleanup_free char *dir = ctr_xasprintf("%s/%s", c->certs_dir, c->host);
        cleanup_free char *cert = ctr_xasprintf("%s/client.cert", dir);
        cleanup_free char *key = ctr_xasprintf("%s/client.key", dir);
        c->ca_pem = load_ca_dir(dir);
        if (access(cert, R_OK) == 0 && access(key, R_OK) == 0) {
            c->client_cert = ctr_steal_ptr(cert);
            c->client_key = ctr_steal_ptr(key);
        }
    }
    if (opts && opts->username) {
        c->user = ctr_xstrdup(opts->username);
        c->secret = ctr_xstrdup(opts->password ? opts->password : "");
    } else if (!(opts && opts->anonymous)) {
        if (registry_creds_get(c->config_dir, c->host, &c->user, &c->secret, err) < 0) {
            registry_client_free(c);
            return ctr_error_wrap(err, "credentials for `%s`", host);
        }
    }
    c->transport = c->opts.transport ? c->opts.transport : registry_curl_transport();
    pthread_mutex_init(&c->lock, NULL);
    c->conn = c->transport->conn_new(c->transport);
    *out = c;
    return 0;
}

void registry_client_free(struct registry_client *c)
{
    if (c == NULL)
        return;
    if (c->conn)
        c->transport->conn_free(c->transport, c->conn);
    for (size_t i = 0; i < c->n_tokens; i++) {
        free(c->tokens[i].scope);
        free(c->tokens[i].token);
    }
    free(c->tokens);
    registry_challenge_free(&c->challenge);
    if (c->transport)
        pthread_mutex_destroy(&c->lock);
    free(c->host);
    free(c->api_host);
    free(c->base_https);
    free(c->base_http);
    free(c->certs_dir);
    free(c->config_dir);
    free(c->user);
    free(c->secret);
    free(c->ca_pem);
    free(c->client_cert);
    free(c->client_key);
    free(c);
}

void *registry_conn_new(struct registry_client *c)
{
    return c->transport->conn_new(c->transport);
}

void registry_conn_free(struct registry_client *c, void *conn)
{
    c->transport->conn_free(c->transport, conn);
}

char *registry_url(struct registry_client *c, const char *fmt, ...)
{
    va_list ap;
    char *path, *url;
    va_start(ap, fmt);
    if (vasprintf(&path, fmt, ap) < 0)
        abort();
    va_end(ap);
    url = ctr_xasprintf("%s%s", c->base, path);
    free(path);
    return url;
}

char *registry_resolve_location(struct registry_client *c, const char *loc)
{
    if (strncmp(loc, "http://", 7) == 0 || strncmp(loc, "https://", 8) == 0)
        return ctr_xstrdup(loc);
    if (loc[0] == '/')
        return ctr_xasprintf("%s%s", c->base, loc);
    return ctr_xasprintf("%s/v2/%s", c->base, loc);
}

void registry_progress(struct registry_client *c, enum registry_progress_kind kind,
                       const char *digest, const char *what, bool push, uint64_t done,
                       uint64_t total)
{
    struct registry_progress_event ev = {
        .kind = kind, .digest = digest, .what = what, .push = push, .done = done, .total = total};
    if (c->opts.progress)
        c->opts.progress(c->opts.progress_opaque, &ev);
}

static unsigned retry_after_ms(const struct registry_http_resp *resp, unsigned fallback)
{
    if (resp->retry_after) {
        char *end;
        long s = strtol(resp->retry_after, &end, 10);
        if (*end == '\0' && s >= 0)
            return (unsigned)(s > 10 ? 10000 : s * 1000);
    }
    return fallback;
}

/* Scheme auto on a loopback host: a request to https failed its TLS handshake
 * (a plain-http server answers a ClientHello with garbage). The first such request
 * probes http under c->lock (parallel blob requests wait for the verdict): http is
 * kept when it gets an answer other than 400 (what a TLS server says to plain
 * http); otherwise the TLS error stands, with its certs.d hint. Later requests
 * that raced to https are redone over http once http won. Returns perform's
 * result; *url_alt owns the new URL. */
static int scheme_fallback(struct registry_client *c, void *conn, struct registry_http_req *req,
                           struct registry_http_resp *resp, enum registry_xfer_error *kind,
                           char **url_alt, ctr_error_t *err)
{
    size_t bl = strlen(c->base_https);
    ctr_error_t e = NULL;
    enum registry_xfer_error k2 = REGISTRY_XFER_OK;
    int rc = -1;

    if (strncmp(req->url, c->base_https, bl) != 0)
        return -1;
    char *alt = ctr_xasprintf("%s%s", c->base_http, req->url + bl);
    struct registry_http_req r2 = *req;
    r2.url = alt;
    pthread_mutex_lock(&c->lock);
    bool probe = c->scheme_probe, was_http = c->base == c->base_http;
    if (probe) {
        c->scheme_probe = false;
        rc = c->transport->perform(c->transport, conn, &r2, resp, &k2, &e);
        if (rc == 0 && resp->status == 400)
            rc = -1;
        if (rc == 0) {
            log_info("registry `%s` does not speak TLS: using http (scheme auto, loopback)",
                     c->host);
            c->base = c->base_http;
        }
    }
    pthread_mutex_unlock(&c->lock);
    if (!probe && was_http)
        rc = c->transport->perform(c->transport, conn, &r2, resp, &k2, &e);
    if (rc == 0) {
        ctr_error_free(err);
        free(*url_alt);
        *url_alt = alt;
        req->url = alt;
        *kind = k2;
        return 0;
    }
    if (probe)
        log_debug("http fallback for `%s` failed too: %s", c->host,
                  e ? e->msg : "HTTP 400 (a TLS server)");
    if (!probe && was_http && e) { /* an http error now: report it, not the TLS one */
        ctr_error_free(err);
        *err = ctr_steal_ptr(e);
        *kind = k2;
    }
    ctr_error_free(&e);
    free(alt);
    if (probe || !was_http)
        registry_http_resp_reset(resp);
    return -1;
}

int registry_call(struct registry_client *c, void *conn, struct registry_call *call,
                  struct registry_http_resp *resp, ctr_error_t *err)
{
    unsigned attempt = 0, total = 0;
    bool auth_retried = false;
    struct registry_http_req req = call->req;
    cleanup_free char *url_alt = NULL;
    char **base_headers = call->req.headers;

    req.ca_pem = c->ca_pem;
    req.client_cert = c->client_cert;
    req.client_key = c->client_key;
    for (;;) {
        cleanup_free char *auth = NULL;
        cleanup_strv char **headers = ctr_strv_dup(base_headers ? base_headers : (char *[]){NULL});
        enum registry_xfer_error kind;
        unsigned delay = 0;

        if (registry_auth_header(c, conn, call->scope, &auth, err) < 0)
            return -1;
        if (auth)
            ctr_strv_append(&headers, auth);
        req.headers = headers;
        int rc = c->transport->perform(c->transport, conn, &req, resp, &kind, err);
        if (rc < 0 && kind == REGISTRY_XFER_TLS)
            rc = scheme_fallback(c, conn, &req, resp, &kind, &url_alt, err);
        else if (rc == 0 && c->scheme_probe) {
            pthread_mutex_lock(&c->lock);
            c->scheme_probe = false; /* https answered: keep it */
            pthread_mutex_unlock(&c->lock);
        }
        total++;
        if (rc < 0) {
            if (kind == REGISTRY_XFER_TLS)
                return ctr_error_wrap(err,
                                      "tls connection to `%s` failed (if it uses a private CA, "
                                      "place it at `%s/%s/ca.crt`)",
                                      c->host, c->certs_dir, c->host);
            if (kind != REGISTRY_XFER_RETRYABLE || call->no_retry)
                return ctr_error_wrap(err, "registry `%s`", c->host);
            /* A transfer that made progress does not use up an attempt. */
            if (resp->sunk > 0)
                attempt = 0;
            if ((int)attempt >= c->opts.max_retries || total > 200)
                return ctr_error_wrap(err, "registry `%s` (gave up after %u attempts)", c->host,
                                      total);
            log_debug("retrying after transport error: %s", (*err)->msg);
            ctr_error_free(err);
            delay = registry_backoff_ms(++attempt, c->opts.backoff_base_ms,
                                        (double)(random() % 1000) / 1000.0);
        } else if (resp->status == 401 && !auth_retried) {
            auth_retried = true;
            if (registry_auth_challenge(c, conn, call->scope, resp, auth != NULL, err) < 0)
                return -1;
        } else if (resp->status == 401) {
            if (c->user)
                return registry_fail_code(err, EACCES,
                                          "unauthorized: `%s` rejected the credentials of `%s`",
                                          c->host, c->user);
            return ctr_fail(err, EACCES,
                            "unauthorized: `%s` requires authentication; log in with "
                            "`registry login %s`",
                            c->host, c->host);
        } else if (registry_status_retryable(resp->status) && !call->no_retry &&
                   (int)attempt < c->opts.max_retries) {
            log_debug("retrying %s %s after HTTP %ld", req.method, req.url, resp->status);
            delay = retry_after_ms(resp, registry_backoff_ms(++attempt, c->opts.backoff_base_ms,
                                                             (double)(random() % 1000) / 1000.0));
        } else {
            return 0;
        }
        if (delay)
            usleep(delay * 1000u);
        if (call->on_retry && call->on_retry(call->retry_opaque, &req, err) < 0)
            return -1;
    }
}

int registry_status_error(struct registry_client *c, const struct registry_http_resp *resp,
                          const char *what, ctr_error_t *err)
{
    cleanup_free char *detail = NULL;
    json_t *root = resp->body ? json_loadb(resp->body, resp->body_len, 0, NULL) : NULL;
    json_t *errors = json_object_get(root, "errors");
    json_t *first = json_array_get(errors, 0);
    const char *code = json_string_value(json_object_get(first, "code"));
    const char *msg = json_string_value(json_object_get(first, "message"));
    if (code || msg)
        detail =
            ctr_xasprintf(" (%s%s%s)", code ? code : "", code && msg ? ": " : "", msg ? msg : "");
    int e = resp->status == 404 ? ENOENT : resp->status == 403 ? EACCES : EPROTO;
    const char *word = resp->status == 404   ? "not found"
                       : resp->status == 403 ? "denied"
                       : resp->status == 401 ? "unauthorized"
                                             : "failed";
    registry_fail_code(err, e, "%s: %s on `%s`: HTTP %ld%s", what, word, c->host, resp->status,
                       detail ? detail : "");
    json_decref(root);
    return -1;
}

int registry_ping(struct registry_client *c, ctr_error_t *err)
{
    cleanup_free char *url = registry_url(c, "/v2/");
    struct registry_http_resp resp = {0};
    struct registry_call call = {.req = {.method = "GET", .url = url}};
    int rc = registry_call(c, c->conn, &call, &resp, err);
    if (rc == 0 && resp.status != 200)
        rc = registry_status_error(c, &resp, "ping `/v2/`", err);
    registry_http_resp_reset(&resp);
    return rc;
}

static const char *const manifest_accept =
    "Accept: application/vnd.oci.image.index.v1+json, "
    "application/vnd.oci.image.manifest.v1+json, "
    "application/vnd.docker.distribution.manifest.list.v2+json, "
    "application/vnd.docker.distribution.manifest.v2+json";

int registry_resolve(struct registry_client *c, const char *repo, const char *ref, char **digest,
                     char **media_type, ctr_error_t *err)
{
    cleanup_free char *url = registry_url(c, "/v2/%s/manifests/%s", repo, ref);
    cleanup_free char *scope = ctr_xasprintf("repository:%s:pull", repo);
    cleanup_free char *what = ctr_xasprintf("manifest `%s/%s%s%s`", c->host, repo,
                                            ref[0] == 's' && strchr(ref, ':') ? "@" : ":", ref);
    char *headers[] = {(char *)manifest_accept, NULL};
    struct registry_http_resp resp = {0};
    struct registry_call call = {.req = {.method = "HEAD", .url = url, .headers = headers},
                                 .scope = scope};
    int rc = registry_call(c, c->conn, &call, &resp, err);
    if (rc == 0 && resp.status != 200)
        rc = registry_status_error(c, &resp, what, err);
    if (rc == 0) {
        *digest = resp.docker_digest && oci_digest_valid(resp.docker_digest)
                      ? ctr_steal_ptr(resp.docker_digest)
                      : NULL;
        *media_type = ctr_steal_ptr(resp.content_type);
    }
    registry_http_resp_reset(&resp);
    return rc;
}

void registry_fetched_free(struct registry_fetched *f)
{
    free(f->digest);
    free(f->media_type);
    free(f->data);
    memset(f, 0, sizeof(*f));
}

int registry_get_manifest(struct registry_client *c, const char *repo, const char *ref,
                          struct registry_fetched *out, ctr_error_t *err)
{
    cleanup_free char *url = registry_url(c, "/v2/%s/manifests/%s", repo, ref);
    cleanup_free char *scope = ctr_xasprintf("repository:%s:pull", repo);
    bool by_digest = strncmp(ref, "sha256:", 7) == 0;
    cleanup_free char *what =
        ctr_xasprintf("manifest `%s/%s%s%s`", c->host, repo, by_digest ? "@" : ":", ref);
    char digest[OCI_DIGEST_STR_LEN + 1];
    char *headers[] = {(char *)manifest_accept, NULL};
    struct registry_http_resp resp = {0};
    struct registry_call call = {.req = {.method = "GET",
                                         .url = url,
                                         .headers = headers,
                                         .max_body = OCI_MAX_MANIFEST_BYTES},
                                 .scope = scope};
    int rc = registry_call(c, c->conn, &call, &resp, err);
    if (rc < 0)
        return ctr_error_wrap(err, "%s", what);
    if (resp.status != 200) {
        registry_status_error(c, &resp, what, err);
        registry_http_resp_reset(&resp);
        return -1;
    }
    oci_digest_buf(resp.body ? resp.body : "", resp.body_len, digest);
    if (by_digest && strcmp(digest, ref) != 0)
        rc = registry_fail_code(err, EBADMSG, "%s: content has digest `%s`, refusing it", what,
                                digest);
    else if (!by_digest && resp.docker_digest && strncmp(resp.docker_digest, "sha256:", 7) == 0 &&
             strcmp(resp.docker_digest, digest) != 0)
        rc = ctr_fail(err, EBADMSG,
                      "%s: content has digest `%s` but the registry announced `%s`, refusing it",
                      what, digest, resp.docker_digest);
    if (rc == 0) {
        out->digest = ctr_xstrdup(digest);
        out->media_type = ctr_steal_ptr(resp.content_type);
        out->data = resp.body ? ctr_steal_ptr(resp.body) : ctr_xstrdup("");
        out->len = resp.body_len;
    }
    registry_http_resp_reset(&resp);
    return rc;
}

int registry_get_small_blob(struct registry_client *c, const char *repo, const char *digest,
                            size_t max, char **data, size_t *len, ctr_error_t *err)
{
    cleanup_free char *url = registry_url(c, "/v2/%s/blobs/%s", repo, digest);
    cleanup_free char *scope = ctr_xasprintf("repository:%s:pull", repo);
    cleanup_free char *what = ctr_xasprintf("blob `%s/%s@%s`", c->host, repo, digest);
    char got[OCI_DIGEST_STR_LEN + 1];
    struct registry_http_resp resp = {0};
    struct registry_call call = {
        .req = {.method = "GET", .url = url, .max_body = max, .follow_redirects = true},
        .scope = scope};
    if (registry_call(c, c->conn, &call, &resp, err) < 0)
        return ctr_error_wrap(err, "%s", what);
    int rc = 0;
    if (resp.status != 200) {
        rc = registry_status_error(c, &resp, what, err);
    } else {
        oci_digest_buf(resp.body ? resp.body : "", resp.body_len, got);
        if (strcmp(got, digest) != 0)
            rc = ctr_fail(err, EBADMSG, "%s: content has digest `%s`, refusing it", what, got);
    }
    if (rc == 0) {
        *data = resp.body ? ctr_steal_ptr(resp.body) : ctr_xstrdup("");
        *len = resp.body_len;
    }
    registry_http_resp_reset(&resp);
    return rc;
}

int registry_put_manifest(struct registry_client *c, const char *repo, const char *ref,
                          const char *media_type, const char *data, size_t len, char **digest,
                          ctr_error_t *err)
{
    cleanup_free char *url = registry_url(c, "/v2/%s/manifests/%s", repo, ref);
    cleanup_free char *scope = ctr_xasprintf("repository:%s:pull,push", repo);
    cleanup_free char *ct = ctr_xasprintf("Content-Type: %s", media_type);
    char local[OCI_DIGEST_STR_LEN + 1];
    cleanup_free char *what = ctr_xasprintf("push manifest `%s/%s:%s`", c->host, repo, ref);
    char *headers[] = {ct, NULL};
    oci_digest_buf(data, len, local);
    struct registry_http_resp resp = {0};
    struct registry_call call = {
        .req = {.method = "PUT", .url = url, .headers = headers, .body = data, .body_len = len},
        .scope = scope};
    int rc = registry_call(c, c->conn, &call, &resp, err);
    if (rc < 0)
        return ctr_error_wrap(err, "%s", what);
    if (resp.status != 201 && resp.status != 200)
        rc = registry_status_error(c, &resp, what, err);
    else if (resp.docker_digest && strcmp(resp.docker_digest, local) != 0)
        rc = registry_fail_code(err, EBADMSG, "%s: registry stored digest `%s`, expected `%s`",
                                what, resp.docker_digest, local);
    registry_http_resp_reset(&resp);
    if (rc == 0 && digest)
        *digest = ctr_xstrdup(local);
    return rc;
}

/* ---- worker pool ---- */
struct pool {
    struct registry_client *c;
    registry_job_fn fn;
    void *opaque;
    size_t n, next;
    pthread_mutex_t lock;
    ctr_error_t err;
};

static void *pool_worker(void *arg)
{
    struct pool *p = arg;
    void *conn = registry_conn_new(p->c);
    for (;;) {
        ctr_error_t e = NULL;
        size_t i;
        pthread_mutex_lock(&p->lock);
        if (p->err || p->next >= p->n) {
            pthread_mutex_unlock(&p->lock);
            break;
        }
        i = p->next++;
        pthread_mutex_unlock(&p->lock);
        if (p->fn(p->c, conn, p->opaque, i, &e) < 0) {
            pthread_mutex_lock(&p->lock);
            if (p->err == NULL)
                p->err = e;
            else
                ctr_error_free(&e);
            pthread_mutex_unlock(&p->lock);
        }
    }
    registry_conn_free(p->c, conn);
    return NULL;
}

int registry_parallel(struct registry_client *c, size_t n, registry_job_fn fn, void *opaque,
                      ctr_error_t *err)
{
    size_t workers = c->opts.max_concurrent < n ? c->opts.max_concurrent : n;
    struct pool p = {.c = c, .fn = fn, .opaque = opaque, .n = n};
    pthread_t tids[32];
    size_t started = 0;

    if (workers <= 1) {
        for (size_t i = 0; i < n; i++)
            if (fn(c, c->conn, opaque, i, err) < 0)
                return -1;
        return 0;
    }
    pthread_mutex_init(&p.lock, NULL);
    for (size_t i = 0; i < workers; i++)
        if (pthread_create(&tids[i], NULL, pool_worker, &p) == 0)
            started++;
    if (started == 0)
        pool_worker(&p);
    for (size_t i = 0; i < started; i++)
        pthread_join(tids[i], NULL);
    pthread_mutex_destroy(&p.lock);
    if (p.err) {
        *err = p.err;
        return -1;
    }
    return 0;
}
