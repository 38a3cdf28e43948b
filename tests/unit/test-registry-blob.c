/* Registry client over a fake transport: range-resumed downloads after a dropped
 * connection (within one pull and across pulls), servers that ignore Range, corrupt
 * or oversized bodies, 5xx retries, the bearer flow with a per-scope token cache,
 * and hostile index nesting. */
// clang-format off
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
// clang-format on

#include "image/store.h"
#include "registry/registry-internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char *sha256_digest(const void *data, size_t len)
{
    char d[OCI_DIGEST_STR_LEN + 1];
    oci_digest_buf(data, len, d);
    return ctr_xstrdup(d);
}

struct doc {
    char *path; /* "/v2/repo/blobs/<digest>" or "/v2/repo/manifests/<ref>" */
    char *data;
    size_t len;
    const char *type;
};

struct fake {
    struct registry_transport t;
    struct doc docs[16];
    size_t n_docs;
    /* behaviour */
    uint64_t cut_at; /* drop the connection once this many body bytes were sent (0 = never) */
    int cuts_left;
    bool ignore_range;
    bool corrupt;
    size_t extra_bytes; /* send more than the document */
    int fail_503;       /* answer 503 this many times */
    bool require_token;
    /* log */
    char log[64][160];
    int n_log;
    int token_requests;
};

static struct fake F;

static void add_doc(const char *path, const char *data, size_t len, const char *type)
{
    struct doc *d = &F.docs[F.n_docs++];
    d->path = ctr_xstrdup(path);
    d->data = ctr_xmalloc(len + 1);
    memcpy(d->data, data, len);
    d->len = len;
    d->type = type;
}

static void *fake_conn_new(struct registry_transport *t)
{
    return &F;
}

static void fake_conn_free(struct registry_transport *t, void *c)
{
}

static const char *header(char **h, const char *name)
{
    size_t n = strlen(name);
    for (; h && *h; h++)
        if (strncasecmp(*h, name, n) == 0 && (*h)[n] == ':')
            return *h + n + 2;
    return NULL;
}

static int fake_perform(struct registry_transport *t, void *conn,
                        const struct registry_http_req *req, struct registry_http_resp *resp,
                        enum registry_xfer_error *kind, ctr_error_t *err)
{
    const char *path = strstr(req->url, "://");
    const char *auth = header(req->headers, "Authorization");
    path = strchr(path + 3, '/');
    registry_http_resp_reset(resp);
    *kind = REGISTRY_XFER_OK;
    if (F.n_log < 64)
        snprintf(F.log[F.n_log++], 160, "%s %s %llu %s", req->method, path,
                 (unsigned long long)req->range_start, auth ? auth : "-");
    if (strncmp(path, "/token", 6) == 0) {
        F.token_requests++;
        resp->status = 200;
        resp->body = ctr_xstrdup("{\"token\":\"tok\",\"expires_in\":300}");
        resp->body_len = strlen(resp->body);
        return 0;
    }
    if (F.require_token && (auth == NULL || strcmp(auth, "Bearer tok") != 0)) {
        resp->status = 401;
        resp->www_authenticate =
            ctr_xstrdup("Bearer realm=\"http://fake.test/token\",service=\"fake\"");
        return 0;
    }
    if (F.fail_503 > 0) {
        F.fail_503--;
        resp->status = 503;
        return 0;
    }
    for (size_t i = 0; i < F.n_docs; i++) {
        struct doc *d = &F.docs[i];
        if (strcmp(d->path, path) != 0)
            continue;
        uint64_t start = F.ignore_range ? 0 : req->range_start;
        resp->status = start ? 206 : 200;
        resp->content_type = ctr_xstrdup(d->type);
        if (strstr(path, "/manifests/"))
            resp->docker_digest = sha256_digest(d->data, d->len);
        if (start)
            resp->content_range =
                ctr_xasprintf("bytes %llu-%zu/%zu", (unsigned long long)start, d->len - 1, d->len);
        if (strcmp(req->method, "HEAD") == 0)
            return 0;
        size_t total = d->len + F.extra_bytes;
        for (uint64_t off = start; off < total;) {
            char chunk[1000];
            size_t n = total - off < sizeof(chunk) ? (size_t)(total - off) : sizeof(chunk);
            if (F.cut_at && F.cuts_left > 0 && off + n > F.cut_at && strstr(path, "/blobs/")) {
                n = (size_t)(F.cut_at - off);
                F.cuts_left--;
                if (n)
                    memcpy(chunk, d->data + off, n);
                if (n && req->sink(req->sink_opaque, chunk, n) < 0)
                    goto aborted;
                resp->sunk += n;
                *kind = REGISTRY_XFER_RETRYABLE;
                return registry_fail_code(err, ECONNRESET, "connection reset by fake peer");
            }
            for (size_t k = 0; k < n; k++)
                chunk[k] = off + k < d->len ? d->data[off + k] : 'X';
            if (F.corrupt && off == 0)
                chunk[0] ^= 1;
            if (req->sink) {
                if (req->sink(req->sink_opaque, chunk, n) < 0)
                    goto aborted;
                resp->sunk += n;
            } else {
                resp->body = ctr_xrealloc(resp->body, resp->body_len + n + 1);
                memcpy(resp->body + resp->body_len, chunk, n);
                resp->body_len += n;
                resp->body[resp->body_len] = '\0';
            }
            off += n;
        }
        return 0;
    }
    resp->status = 404;
    return 0;
aborted:
    resp->sink_aborted = true;
    *kind = REGISTRY_XFER_FATAL;
    return registry_fail_code(err, EIO, "transfer aborted");
}

static char *root;
static struct imgstore *st;
static char blob[50000];
static char *blob_digest;

static int setup(void **state)
{
    memset(&F, 0, sizeof(F));
    F.t.conn_new = fake_conn_new;
    F.t.conn_free = fake_conn_free;
    F.t.perform = fake_perform;
    root = ctr_xstrdup("/tmp/test-registry-blob.XXXXXX");
    assert_non_null(mkdtemp(root));
    assert_int_equal(imgstore_open(root, &st, NULL), 0);
    for (size_t i = 0; i < sizeof(blob); i++)
        blob[i] = (char)(i * 7 + i / 13);
    blob_digest = sha256_digest(blob, sizeof(blob));
    char *p = ctr_xasprintf("/v2/r/blobs/%s", blob_digest);
    add_doc(p, blob, sizeof(blob), "application/octet-stream");
    free(p);
    return 0;
}

static int teardown(void **state)
{
    ctr_error_t err = NULL;
    imgstore_close(st);
    ctr_rm_rf(root, &err);
    free(root);
    free(blob_digest);
    for (size_t i = 0; i < F.n_docs; i++) {
        free(F.docs[i].path);
        free(F.docs[i].data);
    }
    return 0;
}

static struct registry_client *client(int retries)
{
    struct registry_options o = {.scheme = REGISTRY_SCHEME_HTTP,
                                 .anonymous = true,
                                 .max_retries = retries,
                                 .backoff_base_ms = 1,
                                 .config_dir = root,
                                 .transport = &F.t};
    struct registry_client *c = NULL;
    ctr_error_t err = NULL;
    assert_int_equal(registry_client_new("fake.test", &o, &c, &err), 0);
    return c;
}

static bool exists(const char *digest)
{
    return imgstore_blob_exists(st, digest);
}

static off_t partial_size(void)
{
    /* the session's partial file, kept for a resume */
    char *p = ctr_xasprintf("%s/content/ingest/resume/sha256-%s.partial", root, blob_digest + 7);
    struct stat sb;
    off_t r = stat(p, &sb) == 0 ? sb.st_size : -1;
    free(p);
    return r;
}

static int fetch(struct registry_client *c, char **msg)
{
    ctr_error_t err = NULL;
    uint64_t got = 0;
    int rc =
        registry_fetch_blob(c, c->conn, "r", blob_digest, sizeof(blob), st, "layer", &got, &err);
    if (msg)
        *msg = rc < 0 ? ctr_error_take_msg(&err) : NULL;
    ctr_error_free(&err);
    return rc;
}

static void resume_in_one_pull(void **state)
{
    struct registry_client *c = client(3);
    F.cut_at = 12345;
    F.cuts_left = 2; /* cut twice at the same absolute offset: second time no progress */
    assert_int_equal(fetch(c, NULL), 0);
    assert_true(exists(blob_digest));
    assert_int_equal(partial_size(), -1);
    /* first GET from 0, then Range: bytes=12345- (twice) */
    assert_non_null(strstr(F.log[0], "GET /v2/r/blobs/"));
    assert_non_null(strstr(F.log[0], " 0 "));
    assert_non_null(strstr(F.log[1], " 12345 "));
    assert_int_equal(F.n_log, 3);
    registry_client_free(c);
}

static void resume_across_pulls(void **state)
{
    struct registry_client *c = client(0);
    char *msg = NULL;
    F.cut_at = 20000;
    F.cuts_left = 1;
    assert_int_equal(fetch(c, &msg), -1);
    assert_non_null(strstr(msg, "connection reset"));
    free(msg);
    assert_false(exists(blob_digest));
    assert_int_equal(partial_size(), 20000);
    registry_client_free(c);

    c = client(0);
    F.n_log = 0;
    assert_int_equal(fetch(c, NULL), 0);
    assert_int_equal(F.n_log, 1);
    assert_non_null(strstr(F.log[0], " 20000 "));
    assert_true(exists(blob_digest));
    assert_int_equal(partial_size(), -1);
    /* and a third time nothing is fetched */
    F.n_log = 0;
    assert_int_equal(fetch(c, NULL), 0);
    assert_int_equal(F.n_log, 0);
    registry_client_free(c);
}

static void range_ignored(void **state)
{
    struct registry_client *c = client(2);
    F.cut_at = 30000;
    F.cuts_left = 1;
    F.ignore_range = true; /* the retry gets a full 200: the partial must restart */
    assert_int_equal(fetch(c, NULL), 0);
    assert_true(exists(blob_digest));
    registry_client_free(c);
}

static void corrupt_refused(void **state)
{
    struct registry_client *c = client(2);
    char *msg = NULL;
    F.corrupt = true;
    assert_int_equal(fetch(c, &msg), -1);
    assert_non_null(strstr(msg, blob_digest));
    assert_non_null(strstr(msg, "failed verification"));
    free(msg);
    assert_false(exists(blob_digest));
    assert_int_equal(partial_size(), -1);
    registry_client_free(c);
}

static void oversize_refused(void **state)
{
    struct registry_client *c = client(2);
    char *msg = NULL;
    F.extra_bytes = 5000;
    assert_int_equal(fetch(c, &msg), -1);
    assert_non_null(strstr(msg, "more than the 50000 bytes declared"));
    free(msg);
    assert_false(exists(blob_digest));
    registry_client_free(c);
}

static void retries_on_503(void **state)
{
    struct registry_client *c = client(3);
    F.fail_503 = 2;
    assert_int_equal(fetch(c, NULL), 0);
    assert_int_equal(F.n_log, 3);
    registry_client_free(c);

    /* bounded: 1 + 2 retries, then the 503 is reported */
    char *msg = NULL;
    struct oci_ref ref = {.domain = "fake.test", .path = "r", .tag = "t"};
    ctr_error_t err = NULL;
    struct registry_pull_result res = {0};
    c = client(2);
    F.n_log = 0;
    F.fail_503 = 100;
    assert_int_equal(registry_pull(c, &ref, NULL, st, &res, &err), -1);
    msg = ctr_error_take_msg(&err);
    assert_non_null(strstr(msg, "HTTP 503"));
    assert_int_equal(F.n_log, 3);
    free(msg);
    registry_client_free(c);
}

static void bearer_flow(void **state)
{
    struct registry_client *c = client(1);
    F.require_token = true;
    assert_int_equal(fetch(c, NULL), 0);
    /* anonymous try, token, retry with it */
    assert_int_equal(F.token_requests, 1);
    assert_non_null(strstr(F.log[1], "GET /token"));
    assert_non_null(strstr(F.log[2], "Bearer tok"));
    /* same scope again: the cached token is sent up front */
    char *p = imgstore_blob_path(st, blob_digest);
    unlink(p);
    free(p);
    F.n_log = 0;
    assert_int_equal(fetch(c, NULL), 0);
    assert_int_equal(F.token_requests, 1);
    assert_int_equal(F.n_log, 1);
    assert_non_null(strstr(F.log[0], "Bearer tok"));
    registry_client_free(c);
}

static void deep_index_refused(void **state)
{
    /* image manifest, then 5 nested indexes over it */
    char cfg[] = "{}";
    char *cd = sha256_digest(cfg, 2);
    char *doc = ctr_xasprintf(
        "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
        "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"%s\","
        "\"size\":2},\"layers\":[]}",
        cd);
    const char *type = "application/vnd.oci.image.manifest.v1+json";
    for (int level = 0; level <= 5; level++) {
        char *d = sha256_digest(doc, strlen(doc));
        char *p = ctr_xasprintf("/v2/r/manifests/%s", d);
        add_doc(p, doc, strlen(doc), type);
        free(p);
        if (level == 5) {
            add_doc("/v2/r/manifests/deep", doc, strlen(doc), type);
            free(d);
            break;
        }
        char *next = ctr_xasprintf(
            "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\","
            "\"manifests\":[{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":%zu}]}",
            type, d, strlen(doc));
        free(doc);
        free(d);
        doc = next;
        type = "application/vnd.oci.image.index.v1+json";
    }
    struct registry_client *c = client(0);
    struct oci_ref ref = {.domain = "fake.test", .path = "r", .tag = "deep"};
    struct registry_pull_result res = {0};
    ctr_error_t err = NULL;
    assert_int_equal(registry_pull(c, &ref, NULL, st, &res, &err), -1);
    assert_non_null(strstr(err->msg, "nested deeper than 4"));
    ctr_error_free(&err);
    free(doc);
    free(cd);
    registry_client_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(resume_in_one_pull, setup, teardown),
        cmocka_unit_test_setup_teardown(resume_across_pulls, setup, teardown),
        cmocka_unit_test_setup_teardown(range_ignored, setup, teardown),
        cmocka_unit_test_setup_teardown(corrupt_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(oversize_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(retries_on_503, setup, teardown),
        cmocka_unit_test_setup_teardown(bearer_flow, setup, teardown),
        cmocka_unit_test_setup_teardown(deep_index_refused, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
