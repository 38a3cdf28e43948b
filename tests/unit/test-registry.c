/* Unit tests for the registry client's pure parts: WWW-Authenticate and token
 * replies, retry policy, scheme, config.json credentials. (Manifests with hostile
 * inputs, references and platforms are src/oci's: test-oci-types, test-oci-ref.) */
// clang-format off
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
// clang-format on

#include "registry/registry-internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- WWW-Authenticate ---- */
static void challenge_bearer(void **state)
{
    struct registry_challenge c = {0};
    ctr_error_t err = NULL;
    assert_int_equal(registry_challenge_parse(
                         "Bearer realm=\"https://auth.example/token\",service=\"registry.example\","
                         "scope=\"repository:a/b:pull,push\"",
                         &c, &err),
                     0);
    assert_int_equal(c.scheme, REGISTRY_AUTH_BEARER);
    assert_string_equal(c.realm, "https://auth.example/token");
    assert_string_equal(c.service, "registry.example");
    assert_string_equal(c.scope, "repository:a/b:pull,push");
    assert_null(c.error);
    registry_challenge_free(&c);

    assert_int_equal(
        registry_challenge_parse("bearer realm=\"http://h/t\", error=\"insufficient_scope\", "
                                 "x=unquoted, scope=\"a \\\"q\\\"\"",
                                 &c, &err),
        0);
    assert_string_equal(c.error, "insufficient_scope");
    assert_string_equal(c.scope, "a \"q\"");
    registry_challenge_free(&c);
}

static void challenge_basic_and_bad(void **state)
{
    struct registry_challenge c = {0};
    ctr_error_t err = NULL;
    assert_int_equal(registry_challenge_parse("Basic realm=\"Registry Realm\"", &c, &err), 0);
    assert_int_equal(c.scheme, REGISTRY_AUTH_BASIC);
    assert_string_equal(c.realm, "Registry Realm");
    registry_challenge_free(&c);

    const char *bad[] = {
        "Negotiate abc",                  /* unsupported scheme */
        "Bearer service=\"x\"",           /* no realm */
        "Bearer realm=\"ftp://x/token\"", /* not http(s) */
        "Bearer realm=\"https://x/token", /* unterminated quote */
        "Bearer =\"x\"",                  /* empty key */
        "",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(registry_challenge_parse(bad[i], &c, &err), -1);
        assert_non_null(err);
        ctr_error_free(&err);
    }
}

static void token_reply(void **state)
{
    char *tok = NULL;
    int64_t ttl = 0;
    ctr_error_t err = NULL;
    const char *a = "{\"token\":\"t1\",\"expires_in\":300}";
    assert_int_equal(registry_token_parse(a, strlen(a), &tok, &ttl, &err), 0);
    assert_string_equal(tok, "t1");
    assert_int_equal(ttl, 300);
    free(tok);
    const char *b = "{\"access_token\":\"t2\",\"expires_in\":5}";
    assert_int_equal(registry_token_parse(b, strlen(b), &tok, &ttl, &err), 0);
    assert_string_equal(tok, "t2");
    assert_int_equal(ttl, 60); /* the spec's minimum */
    free(tok);
    const char *c = "{\"token\":\"\",\"access_token\":\"t3\"}";
    assert_int_equal(registry_token_parse(c, strlen(c), &tok, &ttl, &err), 0);
    assert_string_equal(tok, "t3");
    free(tok);
    const char *bad[] = {"{}", "[]", "not json", "{\"token\":5}"};
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(registry_token_parse(bad[i], strlen(bad[i]), &tok, &ttl, &err), -1);
        ctr_error_free(&err);
    }
}

/* ---- retry policy ---- */
static void backoff_policy(void **state)
{
    assert_int_equal(registry_backoff_ms(0, 200, 0), 0);
    assert_int_equal(registry_backoff_ms(1, 200, 0), 200);
    assert_int_equal(registry_backoff_ms(2, 200, 0), 400);
    assert_int_equal(registry_backoff_ms(4, 200, 0), 1600);
    assert_int_equal(registry_backoff_ms(20, 200, 0), 10000); /* capped */
    assert_int_equal(registry_backoff_ms(100, 200, 0), 10000);
    assert_int_equal(registry_backoff_ms(1, 0, 0), 200); /* default base */
    /* jitter takes off at most a quarter */
    assert_int_equal(registry_backoff_ms(3, 200, 1.0), 600);
    assert_in_range(registry_backoff_ms(3, 200, 0.5), 600, 800);
    assert_int_equal(registry_backoff_ms(3, 200, 7.0), 600); /* clamped */

    assert_true(registry_status_retryable(500));
    assert_true(registry_status_retryable(502));
    assert_true(registry_status_retryable(503));
    assert_true(registry_status_retryable(429));
    assert_true(registry_status_retryable(408));
    assert_false(registry_status_retryable(501));
    assert_false(registry_status_retryable(505));
    assert_false(registry_status_retryable(404));
    assert_false(registry_status_retryable(401));
    assert_false(registry_status_retryable(200));
}

/* ---- scheme, API host (references, platforms and manifests: test-oci-*) ---- */
static void scheme_and_api_host(void **state)
{
    ctr_error_t err = NULL;
    assert_string_equal(registry_api_host("docker.io"), "registry-1.docker.io");
    assert_string_equal(registry_api_host("127.0.0.1:5000"), "127.0.0.1:5000");
    enum registry_scheme sc;
    assert_int_equal(registry_scheme_parse("auto", &sc, &err), 0);
    assert_int_equal(sc, REGISTRY_SCHEME_AUTO);
    assert_int_equal(registry_scheme_parse("ftp", &sc, &err), -1);
    ctr_error_free(&err);
}

static void base64_roundtrip(void **state)
{
    const char *in[] = {"", "a", "ab", "abc", "user:pa:ss", "\xff\x01 binary"};
    for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
        char *e = registry_b64_encode(in[i], strlen(in[i]));
        size_t n;
        char *d = registry_b64_decode(e, &n);
        assert_non_null(d);
        assert_int_equal(n, strlen(in[i]));
        assert_memory_equal(d, in[i], n);
        free(e);
        free(d);
    }
    assert_null(registry_b64_decode("abc", NULL));  /* length */
    assert_null(registry_b64_decode("a$c=", NULL)); /* alphabet */
}

/* ---- config.json ---- */
static char *tmpdir(void)
{
    char *t = ctr_xstrdup("/tmp/test-registry.XXXXXX");
    assert_non_null(mkdtemp(t));
    return t;
}

static void creds_roundtrip(void **state)
{
    char *dir = tmpdir();
    char *path = ctr_xasprintf("%s/config.json", dir);
    char *u = NULL, *s = NULL, *data = NULL;
    ctr_error_t err = NULL;
    struct stat st;

    /* keep unrelated keys; replace an alias spelled with a scheme */
    const char *pre = "{\"auths\":{\"https://reg.example:5000\":{\"auth\":\"b2xkOm9sZA==\"}},"
                      "\"psFormat\":\"table\"}";
    assert_int_equal(ctr_write_file_atomic(path, pre, strlen(pre), 0644, &err), 0);
    assert_int_equal(registry_creds_get(dir, "reg.example:5000", &u, &s, &err), 0);
    assert_string_equal(u, "old");
    assert_string_equal(s, "old");
    free(u);
    free(s);
    assert_int_equal(registry_creds_store(dir, "reg.example:5000", "alice", "p:w", &err), 0);
    assert_int_equal(registry_creds_store(dir, "docker.io", "bob", "x", &err), 0);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(ctr_read_file(path, 1 << 20, &data, NULL, &err), 0);
    assert_non_null(strstr(data, "\"psFormat\""));
    assert_null(strstr(data, "https://reg.example:5000"));
    assert_non_null(strstr(data, "\"https://index.docker.io/v1/\""));
    assert_non_null(strstr(data, "YWxpY2U6cDp3")); /* base64("alice:p:w") */
    free(data);
    assert_int_equal(registry_creds_get(dir, "reg.example:5000", &u, &s, &err), 0);
    assert_string_equal(u, "alice");
    assert_string_equal(s, "p:w");
    free(u);
    free(s);
    assert_int_equal(registry_creds_get(dir, "docker.io", &u, &s, &err), 0);
    assert_string_equal(u, "bob");
    free(u);
    free(s);
    assert_int_equal(registry_creds_get(dir, "other:1", &u, &s, &err), 0);
    assert_null(u);

    char **list = NULL;
    assert_int_equal(registry_creds_list(dir, &list, &err), 0);
    assert_int_equal(ctr_strv_len(list), 2);
    ctr_strv_free(list);

    assert_int_equal(registry_creds_erase(dir, "reg.example:5000", &err), 0);
    assert_int_equal(registry_creds_get(dir, "reg.example:5000", &u, &s, &err), 0);
    assert_null(u);
    assert_int_equal(registry_creds_erase(dir, "reg.example:5000", &err), -1);
    assert_non_null(strstr(err->msg, "not logged in"));
    ctr_error_free(&err);
    assert_int_equal(registry_creds_store(dir, "h", "a:b", "x", &err), -1); /* ':' in user */
    ctr_error_free(&err);

    /* a broken entry is reported, not silently ignored */
    const char *broken = "{\"auths\":{\"bad.example\":{\"auth\":\"!!!!\"}}}";
    assert_int_equal(ctr_write_file_atomic(path, broken, strlen(broken), 0600, &err), 0);
    assert_int_equal(registry_creds_get(dir, "bad.example", &u, &s, &err), -1);
    assert_non_null(strstr(err->msg, "invalid `auth`"));
    ctr_error_free(&err);
    assert_int_equal(ctr_write_file_atomic(path, "{nope", 5, 0600, &err), 0);
    assert_int_equal(registry_creds_get(dir, "x", &u, &s, &err), -1);
    ctr_error_free(&err);

    assert_int_equal(ctr_rm_rf(dir, &err), 0);
    free(path);
    free(dir);
}

/* ---- scheme auto: https first, http fallback for loopback only ---- */
static struct {
    bool https_tls_fails; /* else https answers 200 */
    long http_status;     /* 0: http connection fails */
    int n_https, n_http;
} S;

static void *s_conn_new(struct registry_transport *t)
{
    return &S;
}

static void s_conn_free(struct registry_transport *t, void *c)
{
}

static int s_perform(struct registry_transport *t, void *conn, const struct registry_http_req *req,
                     struct registry_http_resp *resp, enum registry_xfer_error *kind,
                     ctr_error_t *err)
{
    registry_http_resp_reset(resp);
    if (strncmp(req->url, "https://", 8) == 0) {
        S.n_https++;
        if (S.https_tls_fails) {
            *kind = REGISTRY_XFER_TLS;
            return registry_fail_code(err, EPROTO, "ssl: wrong version number");
        }
    } else {
        S.n_http++;
        if (S.http_status == 0) {
            *kind = REGISTRY_XFER_FATAL;
            return registry_fail_code(err, ECONNREFUSED, "connection refused");
        }
    }
    *kind = REGISTRY_XFER_OK;
    resp->status = strncmp(req->url, "https://", 8) == 0 ? 200 : S.http_status;
    return 0;
}

static int scheme_ping(const char *host, enum registry_scheme sch, ctr_error_t *err)
{
    struct registry_transport t = {
        .conn_new = s_conn_new, .conn_free = s_conn_free, .perform = s_perform};
    struct registry_options o = {.scheme = sch,
                                 .anonymous = true,
                                 .max_retries = 0,
                                 .certs_dir = "/nonexistent/certs.d",
                                 .transport = &t};
    struct registry_client *c = NULL;
    assert_int_equal(registry_client_new(host, &o, &c, err), 0);
    int rc = registry_ping(c, err);
    if (rc == 0)
        rc = registry_ping(c, err); /* the decision sticks */
    registry_client_free(c);
    return rc;
}

static void scheme_auto_fallback(void **state)
{
    ctr_error_t err = NULL;

    /* loopback, plain-http registry: one https try, then http for good */
    memset(&S, 0, sizeof(S));
    S.https_tls_fails = true;
    S.http_status = 200;
    assert_int_equal(scheme_ping("127.0.0.1:5000", REGISTRY_SCHEME_AUTO, &err), 0);
    assert_int_equal(S.n_https, 1);
    assert_int_equal(S.n_http, 2);

    /* loopback, TLS registry: https kept, http never tried */
    memset(&S, 0, sizeof(S));
    assert_int_equal(scheme_ping("localhost:5000", REGISTRY_SCHEME_AUTO, &err), 0);
    assert_int_equal(S.n_https, 2);
    assert_int_equal(S.n_http, 0);

    /* loopback, TLS registry with an unknown CA: http says 400, the TLS error stands */
    memset(&S, 0, sizeof(S));
    S.https_tls_fails = true;
    S.http_status = 400;
    assert_int_equal(scheme_ping("127.0.0.1:5000", REGISTRY_SCHEME_AUTO, &err), -1);
    assert_non_null(strstr(err->msg, "/nonexistent/certs.d/127.0.0.1:5000/ca.crt"));
    assert_non_null(strstr(err->msg, "wrong version number"));
    ctr_error_free(&err);

    /* loopback, nothing on http either: the TLS error with its hint */
    memset(&S, 0, sizeof(S));
    S.https_tls_fails = true;
    assert_int_equal(scheme_ping("[::1]:5000", REGISTRY_SCHEME_AUTO, &err), -1);
    assert_non_null(strstr(err->msg, "ca.crt"));
    ctr_error_free(&err);

    /* not loopback: no fallback */
    memset(&S, 0, sizeof(S));
    S.https_tls_fails = true;
    S.http_status = 200;
    assert_int_equal(scheme_ping("registry.example:5000", REGISTRY_SCHEME_AUTO, &err), -1);
    assert_int_equal(S.n_http, 0);
    assert_non_null(strstr(err->msg, "ca.crt"));
    ctr_error_free(&err);

    /* explicit https on loopback: no fallback either; explicit http: http only */
    memset(&S, 0, sizeof(S));
    S.https_tls_fails = true;
    S.http_status = 200;
    assert_int_equal(scheme_ping("127.0.0.1:5000", REGISTRY_SCHEME_HTTPS, &err), -1);
    assert_int_equal(S.n_http, 0);
    ctr_error_free(&err);
    memset(&S, 0, sizeof(S));
    S.http_status = 200;
    assert_int_equal(scheme_ping("127.0.0.1:5000", REGISTRY_SCHEME_HTTP, &err), 0);
    assert_int_equal(S.n_https, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(challenge_bearer),    cmocka_unit_test(challenge_basic_and_bad),
        cmocka_unit_test(token_reply),         cmocka_unit_test(backoff_policy),
        cmocka_unit_test(scheme_and_api_host), cmocka_unit_test(base64_roundtrip),
        cmocka_unit_test(creds_roundtrip),     cmocka_unit_test(scheme_auto_fallback),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
