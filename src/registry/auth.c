/* Authentication: WWW-Authenticate challenges, bearer tokens (cached per scope),
 * basic credentials, and the retry/backoff policy. */
#include "registry/registry-internal.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

unsigned registry_backoff_ms(unsigned attempt, unsigned base_ms, double jitter)
{
    const unsigned cap = 10000;
    uint64_t d = base_ms ? base_ms : 200;
    if (attempt == 0)
        return 0;
    for (unsigned i = 1; i < attempt && d < cap; i++)
        d *= 2;
    if (d > cap)
        d = cap;
    if (jitter < 0)
        jitter = 0;
    if (jitter > 1)
        jitter = 1;
    return (unsigned)(d - (uint64_t)((double)d * 0.25 * jitter));
}

bool registry_status_retryable(long status)
{
    if (status == 408 || status == 425 || status == 429)
        return true;
    return status >= 500 && status <= 599 && status != 501 && status != 505;
}

void registry_challenge_free(struct registry_challenge *c)
{
    free(c->realm);
    free(c->service);
    free(c->scope);
    free(c->error);
    memset(c, 0, sizeof(*c));
}

/* One `key=value` or `key="quoted"` parameter; advances *pp. */
static int parse_param(const char **pp, char **key, char **value)
{
    const char *p = *pp, *k;
    while (*p == ' ' || *p == '\t' || *p == ',')
        p++;
    if (*p == '\0')
        return 0;
    k = p;
    while (*p && (isalnum((unsigned char)*p) || *p == '_' || *p == '-'))
        p++;
    if (p == k || *p != '=')
        return -1;
    *key = ctr_xstrndup(k, (size_t)(p - k));
    p++;
    if (*p == '"') {
        size_t cap = strlen(p) + 1, n = 0;
        char *v = ctr_xmalloc(cap);
        p++;
        while (*p && *p != '"') {
            if (*p == '\\' && p[1])
                p++;
            v[n++] = *p++;
        }
        v[n] = '\0';
        if (*p != '"') {
            free(v);
            free(*key);
            return -1;
        }
        p++;
        *value = v;
    } else {
        const char *v = p;
        while (*p && *p != ',' && *p != ' ')
            p++;
        *value = ctr_xstrndup(v, (size_t)(p - v));
    }
    *pp = p;
    return 1;
}

int registry_challenge_parse(const char *h, struct registry_challenge *out, ctr_error_t *err)
{
    struct registry_challenge c = {0};
    const char *p = h, *s;
    while (*p == ' ')
        p++;
    s = p;
    while (*p && *p != ' ')
        p++;
    if ((size_t)(p - s) == 6 && strncasecmp(s, "bearer", 6) == 0)
        c.scheme = REGISTRY_AUTH_BEARER;
    else if ((size_t)(p - s) == 5 && strncasecmp(s, "basic", 5) == 0)
        c.scheme = REGISTRY_AUTH_BASIC;
    else
        return registry_fail_code(err, EPROTO, "unsupported authentication scheme in `%s`", h);
    for (;;) {
        char *k = NULL, *v = NULL;
        int r = parse_param(&p, &k, &v);
        if (r == 0)
            break;
        if (r < 0) {
            registry_challenge_free(&c);
            return registry_fail_code(err, EPROTO, "malformed WWW-Authenticate header `%s`", h);
        }
        char **slot = strcasecmp(k, "realm") == 0     ? &c.realm
                      : strcasecmp(k, "service") == 0 ? &c.service
                      : strcasecmp(k, "scope") == 0   ? &c.scope
                      : strcasecmp(k, "error") == 0   ? &c.error
                                                      : NULL;
        free(k);
        if (slot) {
            free(*slot);
            *slot = v;
        } else {
            free(v);
        }
    }
    if (c.scheme == REGISTRY_AUTH_BEARER &&
        (c.realm == NULL ||
         (strncmp(c.realm, "https://", 8) != 0 && strncmp(c.realm, "http://", 7) != 0))) {
        registry_challenge_free(&c);
        return registry_fail_code(err, EPROTO, "bearer challenge without an http(s) realm: `%s`",
                                  h);
    }
    *out = c;
    return 0;
}

int registry_token_parse(const char *body, size_t len, char **token, int64_t *expires_in,
                         ctr_error_t *err)
{
    json_error_t jerr;
    json_t *root = json_loadb(body, len, 0, &jerr);
    const char *t = NULL;
    json_t *v;

    if (root == NULL || !json_is_object(root)) {
        json_decref(root);
        return registry_fail_code(err, EPROTO, "token server reply is not a JSON object");
    }
    v = json_object_get(root, "token");
    if (json_is_string(v) && json_string_length(v) > 0)
        t = json_string_value(v);
    v = json_object_get(root, "access_token");
    if (t == NULL && json_is_string(v) && json_string_length(v) > 0)
        t = json_string_value(v);
    if (t == NULL) {
        json_decref(root);
        return registry_fail_code(err, EPROTO,
                                  "token server reply has no `token` or `access_token`");
    }
    *expires_in = 60;
    v = json_object_get(root, "expires_in");
    if (json_is_integer(v) && json_integer_value(v) > 60)
        *expires_in = json_integer_value(v);
    *token = ctr_xstrdup(t);
    json_decref(root);
    return 0;
}

static const char *scope_key(const char *scope)
{
    return scope ? scope : "";
}

static struct registry_token *token_find(struct registry_client *c, const char *scope)
{
    uint64_t now = ctr_now_ns();
    for (size_t i = 0; i < c->n_tokens; i++)
        if (strcmp(c->tokens[i].scope, scope_key(scope)) == 0 && c->tokens[i].expires_ns > now)
            return &c->tokens[i];
    return NULL;
}

static void token_put(struct registry_client *c, const char *scope, char *token, int64_t ttl)
{
    struct registry_token *t = NULL;
    for (size_t i = 0; i < c->n_tokens; i++)
        if (strcmp(c->tokens[i].scope, scope_key(scope)) == 0)
            t = &c->tokens[i];
    if (t == NULL) {
        c->tokens = ctr_xrealloc(c->tokens, (c->n_tokens + 1) * sizeof(*c->tokens));
        t = &c->tokens[c->n_tokens++];
        t->scope = ctr_xstrdup(scope_key(scope));
        t->token = NULL;
    }
    free(t->token);
    t->token = token;
    /* Renew 10 s before the server's expiry. */
    t->expires_ns = ctr_now_ns() + (uint64_t)(ttl > 20 ? ttl - 10 : ttl) * 1000000000ull;
}

static char *basic_header(struct registry_client *c)
{
    cleanup_free char *pair = ctr_xasprintf("%s:%s", c->user, c->secret ? c->secret : "");
    cleanup_free char *b64 = registry_b64_encode(pair, strlen(pair));
    return ctr_xasprintf("Authorization: Basic %s", b64);
}

static char *url_escape(const char *s)
{
    char *e = curl_easy_escape(NULL, s, 0);
    char *r = ctr_xstrdup(e);
    curl_free(e);
    return r;
}

/* GET realm?service=..&scope=.. with basic credentials if any. Lock held. */
static int fetch_token(struct registry_client *c, void *conn, const char *key, const char *scope,
                       ctr_error_t *err)
{
    cleanup_free char *url = ctr_xstrdup(c->challenge.realm);
    cleanup_free char *auth = NULL;
    char sep = strchr(url, '?') ? '&' : '?';
    char *headers[2] = {NULL, NULL};
    struct registry_http_resp resp = {0};
    enum registry_xfer_error kind;
    char *token = NULL;
    int64_t ttl;
    int rc = -1;

    if (c->challenge.service) {
        cleanup_free char *e = url_escape(c->challenge.service);
        char *n = ctr_xasprintf("%s%cservice=%s", url, sep, e);
        free(url);
        url = n;
        sep = '&';
    }
    /* Several scopes are separated by spaces; each becomes its own parameter. */
    cleanup_free char *scopes = ctr_xstrdup(scope ? scope : "");
    for (char *save = NULL, *s = strtok_r(scopes, " ", &save); s; s = strtok_r(NULL, " ", &save)) {
        cleanup_free char *e = url_escape(s);
        char *n = ctr_xasprintf("%s%cscope=%s", url, sep, e);
        free(url);
        url = n;
        sep = '&';
    }
    if (c->user) {
        cleanup_free char *e = url_escape(c->user);
        char *n = ctr_xasprintf("%s%caccount=%s", url, sep, e);
        free(url);
        url = n;
        auth = basic_header(c);
        headers[0] = auth;
    }
    struct registry_http_req req = {.method = "GET",
                                    .url = url,
                                    .headers = headers,
                                    .follow_redirects = true,
                                    .ca_pem = c->ca_pem,
                                    .client_cert = c->client_cert,
                                    .client_key = c->client_key};
    for (unsigned attempt = 0;; attempt++) {
        ctr_error_free(err);
        if (c->transport->perform(c->transport, conn, &req, &resp, &kind, err) == 0 &&
            !registry_status_retryable(resp.status))
            break;
        if ((kind != REGISTRY_XFER_OK && kind != REGISTRY_XFER_RETRYABLE) ||
            (int)attempt >= c->opts.max_retries) {
            if (kind == REGISTRY_XFER_OK)
                ctr_fail(err, 0, "token server `%s` answered HTTP %ld", c->challenge.realm,
                         resp.status);
            ctr_error_wrap(err, "get a token for `%s`", c->host);
            goto out;
        }
        usleep(registry_backoff_ms(attempt + 1, c->opts.backoff_base_ms, 0.5) * 1000u);
    }
    ctr_error_free(err);
    if (resp.status == 401 || resp.status == 403) {
        if (c->user)
            registry_fail_code(err, EACCES, "unauthorized: `%s` rejected the credentials of `%s`",
                               c->host, c->user);
        else
            ctr_fail(err, EACCES,
                     "unauthorized: `%s` requires authentication; log in with `registry login %s`",
                     c->host, c->host);
        goto out;
    }
    if (resp.status != 200) {
        registry_fail_code(err, EPROTO, "token server `%s` answered HTTP %ld", c->challenge.realm,
                           resp.status);
        goto out;
    }
    if (registry_token_parse(resp.body, resp.body_len, &token, &ttl, err) < 0) {
        ctr_error_wrap(err, "token server `%s`", c->challenge.realm);
        goto out;
    }
    token_put(c, key, token, ttl);
    rc = 0;
out:
    registry_http_resp_reset(&resp);
    return rc;
}

int registry_auth_header(struct registry_client *c, void *conn, const char *scope, char **out,
                         ctr_error_t *err)
{
    struct registry_token *t;
    int rc = 0;
    *out = NULL;
    pthread_mutex_lock(&c->lock);
    switch (c->auth_scheme) {
    case REGISTRY_AUTH_NONE:
        break;
    case REGISTRY_AUTH_BASIC:
        if (c->user)
            *out = basic_header(c);
        break;
    case REGISTRY_AUTH_BEARER:
        t = token_find(c, scope);
        if (t == NULL && (rc = fetch_token(c, conn, scope, scope, err)) == 0)
            t = token_find(c, scope);
        if (t)
            *out = ctr_xasprintf("Authorization: Bearer %s", t->token);
        break;
    }
    pthread_mutex_unlock(&c->lock);
    return rc;
}

int registry_auth_challenge(struct registry_client *c, void *conn, const char *scope,
                            const struct registry_http_resp *resp, bool sent_auth, ctr_error_t *err)
{
    struct registry_challenge ch = {0};
    int rc = 0;

    if (resp->www_authenticate == NULL)
        return registry_fail_code(err, EACCES,
                                  "unauthorized: `%s` answered 401 without a challenge", c->host);
    if (registry_challenge_parse(resp->www_authenticate, &ch, err) < 0)
        return ctr_error_wrap(err, "registry `%s`", c->host);
    pthread_mutex_lock(&c->lock);
    if (ch.scheme == REGISTRY_AUTH_BASIC) {
        if (c->user == NULL)
            rc = ctr_fail(err, EACCES,
                          "unauthorized: `%s` requires authentication; log in with "
                          "`registry login %s`",
                          c->host, c->host);
        else if (sent_auth)
            rc = registry_fail_code(err, EACCES,
                                    "unauthorized: `%s` rejected the credentials of `%s`", c->host,
                                    c->user);
        c->auth_scheme = REGISTRY_AUTH_BASIC;
        registry_challenge_free(&ch);
    } else {
        struct registry_token *t = token_find(c, scope);
        if (sent_auth && t && ch.error && strcmp(ch.error, "insufficient_scope") == 0) {
            rc = registry_fail_code(err, EACCES, "denied: `%s` refused access to `%s`", c->host,
                                    ch.scope ? ch.scope : scope_key(scope));
        } else if (t) {
            /* Rejected token: drop it and fetch a fresh one. */
            t->expires_ns = 0;
        }
        c->auth_scheme = REGISTRY_AUTH_BEARER;
        registry_challenge_free(&c->challenge);
        c->challenge = ch;
        if (rc == 0)
            rc = fetch_token(c, conn, scope, scope ? scope : c->challenge.scope, err);
    }
    pthread_mutex_unlock(&c->lock);
    return rc;
}
