/* Private to src/registry: HTTP transport ops, auth, retry policy, blob transfers. */
#ifndef CTR_REGISTRY_INTERNAL_H
#define CTR_REGISTRY_INTERNAL_H

#include "registry/registry.h"

#include <pthread.h>

/* ctr_fail with an errno code kept for callers but not spelled out in the message
 * (registry errors already say what went wrong). */
#define registry_fail_code(err, code, ...)                                                         \
    ({                                                                                             \
        ctr_error_t *_e = (err);                                                                   \
        int _r = ctr_fail(_e, 0, __VA_ARGS__);                                                     \
        if (_e && *_e)                                                                             \
            (*_e)->errnum = (code);                                                                \
        _r;                                                                                        \
    })

/* ---- one HTTP exchange ---- */
/* Body sink: return 0 to continue, <0 to abort the transfer (error set by the sink's owner). */
typedef int (*registry_sink_fn)(void *opaque, const void *buf, size_t len);
/* Body source for uploads: fill buf, return bytes (0 at end) or <0. */
typedef ssize_t (*registry_source_fn)(void *opaque, void *buf, size_t len);

struct registry_http_req {
    const char *method; /* GET HEAD PUT POST PATCH */
    const char *url;
    char **headers;   /* extra "Name: value" lines, NULL-terminated, may be NULL */
    const void *body; /* in-memory body (PUT/POST/PATCH) */
    size_t body_len;
    registry_source_fn source; /* streamed body instead of `body` */
    void *source_opaque;
    uint64_t source_len;
    uint64_t range_start;  /* >0: send "Range: bytes=N-" */
    registry_sink_fn sink; /* stream 2xx GET bodies here; other bodies are buffered */
    void *sink_opaque;
    size_t max_body; /* limit for buffered bodies (0 = 1 MiB) */
    bool follow_redirects;
    /* TLS settings (filled by the client) */
    char *ca_pem; /* concatenated certs.d/<host>/ *.crt, or NULL */
    const char *client_cert, *client_key;
};

struct registry_http_resp {
    long status;
    char *body; /* buffered body (NUL-terminated) when no sink consumed it */
    size_t body_len;
    char *location, *content_type, *docker_digest, *www_authenticate, *content_range, *retry_after;
    int64_t content_length; /* -1 when absent */
    uint64_t sunk;          /* bytes passed to the sink */
    bool sink_aborted;
};
void registry_http_resp_reset(struct registry_http_resp *r);

enum registry_xfer_error {
    REGISTRY_XFER_OK,
    REGISTRY_XFER_RETRYABLE,
    REGISTRY_XFER_FATAL,
    REGISTRY_XFER_TLS
};

/* Transport ops: the libcurl one, or a fake one in unit tests. A connection is
 * used by one thread at a time. perform returns 0 when an HTTP status arrived
 * (whatever it is) and -1 on a transport failure, with *kind telling whether a
 * retry makes sense (connection reset/timeout) or not (TLS, resolve). */
struct registry_transport {
    void *(*conn_new)(struct registry_transport *t);
    void (*conn_free)(struct registry_transport *t, void *conn);
    int (*perform)(struct registry_transport *t, void *conn, const struct registry_http_req *req,
                   struct registry_http_resp *resp, enum registry_xfer_error *kind,
                   ctr_error_t *err);
    void *impl;
};
struct registry_transport *registry_curl_transport(void);

/* ---- retry policy ---- */
/* Delay before retry number `attempt` (1-based): base * 2^(attempt-1), capped at 10 s,
 * with up to 25 % jitter taken from `jitter` (0..1). */
unsigned registry_backoff_ms(unsigned attempt, unsigned base_ms, double jitter);
/* Whether an HTTP status is worth retrying (408, 425, 429, 5xx except 501/505). */
bool registry_status_retryable(long status);

/* ---- WWW-Authenticate ---- */
enum registry_auth_scheme { REGISTRY_AUTH_NONE, REGISTRY_AUTH_BASIC, REGISTRY_AUTH_BEARER };
struct registry_challenge {
    enum registry_auth_scheme scheme;
    char *realm, *service, *scope, *error;
};
int registry_challenge_parse(const char *header, struct registry_challenge *out, ctr_error_t *err);
void registry_challenge_free(struct registry_challenge *c);
/* Parse a token server reply: `token` or `access_token`, `expires_in` (default 60 s). */
int registry_token_parse(const char *body, size_t len, char **token, int64_t *expires_in,
                         ctr_error_t *err);

/* ---- base64 ---- */
char *registry_b64_encode(const void *data, size_t len);
/* Returns decoded bytes NUL-terminated, NULL on invalid input. */
char *registry_b64_decode(const char *s, size_t *out_len);

/* ---- client internals ---- */
struct registry_token {
    char *scope;
    char *token;
    uint64_t expires_ns;
};

struct registry_client {
    char *host;     /* as the user named it, used for credentials and certs.d */
    char *api_host; /* host serving /v2/ */
    char *base;     /* "https://host": base_https or base_http */
    char *base_https, *base_http;
    bool scheme_probe; /* auto on loopback: https not yet confirmed (guarded by lock) */
    struct registry_options opts;
    char *certs_dir;
    char *config_dir;
    char *user, *secret;
    char *ca_pem;
    char *client_cert, *client_key;
    struct registry_transport *transport;
    void *conn; /* main thread's connection */

    pthread_mutex_t lock; /* guards everything below */
    enum registry_auth_scheme auth_scheme;
    struct registry_challenge challenge;
    struct registry_token *tokens;
    size_t n_tokens;
};

/* Send a request with auth and retries. scope like "repository:foo:pull" (may be NULL).
 * On a retry after a partial body, `on_retry` (if set) is called to reset sinks. Non-2xx
 * statuses are returned to the caller, not turned into errors (except 401 after auth). */
struct registry_call {
    struct registry_http_req req;
    const char *scope;
    int (*on_retry)(void *opaque, struct registry_http_req *req, ctr_error_t *err);
    void *retry_opaque;
    bool no_retry;
};
int registry_call(struct registry_client *c, void *conn, struct registry_call *call,
                  struct registry_http_resp *resp, ctr_error_t *err);
/* Error for an unexpected status: names the registry/what, includes the registry's
 * error code/message from the JSON body. Returns -1. */
int registry_status_error(struct registry_client *c, const struct registry_http_resp *resp,
                          const char *what, ctr_error_t *err);
char *registry_url(struct registry_client *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Resolve a Location header against the registry base. */
char *registry_resolve_location(struct registry_client *c, const char *loc);
void registry_progress(struct registry_client *c, enum registry_progress_kind kind,
                       const char *digest, const char *what, bool push, uint64_t done,
                       uint64_t total);
void *registry_conn_new(struct registry_client *c);
void registry_conn_free(struct registry_client *c, void *conn);

/* ---- auth on a client ---- */
/* Authorization header for scope (may fetch a token); NULL when anonymous. */
int registry_auth_header(struct registry_client *c, void *conn, const char *scope, char **out,
                         ctr_error_t *err);
/* Handle a 401: parse the challenge, fetch credentials/token. 0 = retry, -1 = give up. */
int registry_auth_challenge(struct registry_client *c, void *conn, const char *scope,
                            const struct registry_http_resp *resp, bool sent_auth,
                            ctr_error_t *err);

/* ---- blobs ---- */
/* Download digest/size into the store through an ingest session (resuming what an
 * earlier attempt left). */
int registry_fetch_blob(struct registry_client *c, void *conn, const char *repo, const char *digest,
                        int64_t size, struct imgstore *st, const char *what, uint64_t *downloaded,
                        ctr_error_t *err);
/* Upload the file at path as digest/size unless the registry has it. */
int registry_upload_blob(struct registry_client *c, void *conn, const char *repo,
                         const char *digest, int64_t size, const char *path,
                         const char *const *mount_from, const char *what, ctr_error_t *err);
int registry_put_manifest(struct registry_client *c, const char *repo, const char *ref,
                          const char *media_type, const char *data, size_t len, char **digest,
                          ctr_error_t *err);

/* Run fn(i) for i in [0,n) on up to `workers` threads, each with its own connection.
 * Stops handing out work after the first failure; returns its error. */
typedef int (*registry_job_fn)(struct registry_client *c, void *conn, void *opaque, size_t i,
                               ctr_error_t *err);
int registry_parallel(struct registry_client *c, size_t n, registry_job_fn fn, void *opaque,
                      ctr_error_t *err);

#endif
