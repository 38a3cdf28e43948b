/* Index, manifest, document and image config parsing, including hostile JSON (the
 * registry's cases too); platforms: parsing, matching, choosing an index entry. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "oci/oci.h"

#define D1 "sha256:1111111111111111111111111111111111111111111111111111111111111111"
#define D2 "sha256:2222222222222222222222222222222222222222222222222222222222222222"
#define D3 "sha256:3333333333333333333333333333333333333333333333333333333333333333"

static int parse_manifest(const char *j, struct oci_manifest *m, ctr_error_t *err)
{
    return oci_manifest_parse(j, strlen(j), m, err);
}

/* Expect failure with msg in the error. */
#define EXPECT_FAIL(call, want)                                                                    \
    do {                                                                                           \
        ctr_error_t e_ = NULL;                                                                     \
        if ((call(&e_)) == 0)                                                                      \
            fail_msg("accepted, expected an error with `%s`", want);                               \
        assert_non_null(e_);                                                                       \
        if (strstr(e_->msg, want) == NULL)                                                         \
            fail_msg("error `%s` does not mention `%s`", e_->msg, want);                           \
        ctr_error_free(&e_);                                                                       \
    } while (0)

static const char *g_json;
static int try_manifest(ctr_error_t *err)
{
    struct oci_manifest m = {0};
    int r = parse_manifest(g_json, &m, err);
    oci_manifest_release(&m);
    return r;
}
static int try_index(ctr_error_t *err)
{
    struct oci_index ix = {0};
    int r = oci_index_parse(g_json, strlen(g_json), &ix, err);
    oci_index_release(&ix);
    return r;
}
static int try_config(ctr_error_t *err)
{
    struct oci_image_config c = {0};
    int r = oci_image_config_parse(g_json, strlen(g_json), &c, err);
    oci_image_config_release(&c);
    return r;
}
static int try_kind(ctr_error_t *err)
{
    enum oci_doc_kind k;
    return oci_doc_kind(g_json, strlen(g_json), NULL, &k, err);
}

static void test_manifest_oci(void **state)
{
    const char *j =
        "{\"schemaVersion\":2,\"mediaType\":\"" OCI_MT_MANIFEST "\","
        "\"config\":{\"mediaType\":\"" OCI_MT_CONFIG "\",\"digest\":\"" D1 "\",\"size\":123},"
        "\"layers\":[{\"mediaType\":\"" OCI_MT_LAYER_GZIP "\",\"digest\":\"" D2
        "\",\"size\":4567,\"annotations\":{\"a\":\"b\"}},"
        "{\"mediaType\":\"" OCI_MT_LAYER_ZSTD "\",\"digest\":\"" D3
        "\",\"size\":0,\"urls\":[\"x\"]}],"
        "\"annotations\":{\"x\":\"y\"}}";
    struct oci_manifest m = {0};
    ctr_error_t err = NULL;
    enum oci_compression c;

    assert_int_equal(parse_manifest(j, &m, &err), 0);
    assert_false(m.docker);
    assert_string_equal(m.config.digest, D1);
    assert_int_equal(m.config.size, 123);
    assert_int_equal(m.n_layers, 2);
    assert_string_equal(m.layers[0].digest, D2);
    assert_int_equal(m.layers[0].size, 4567);
    assert_string_equal(oci_descriptor_annotation(&m.layers[0], "a"), "b");
    assert_null(oci_descriptor_annotation(&m.layers[0], "zz"));
    assert_int_equal(oci_layer_compression(m.layers[0].media_type, &c, NULL), 0);
    assert_int_equal(c, OCI_COMP_GZIP);
    assert_int_equal(oci_layer_compression(m.layers[1].media_type, &c, NULL), 0);
    assert_int_equal(c, OCI_COMP_ZSTD);
    oci_manifest_release(&m);
}

static void test_manifest_docker(void **state)
{
    const char *j =
        "{\"schemaVersion\":2,\"mediaType\":\"" OCI_MT_DOCKER_MANIFEST "\","
        "\"config\":{\"mediaType\":\"" OCI_MT_DOCKER_CONFIG "\",\"digest\":\"" D1 "\",\"size\":1},"
        "\"layers\":[{\"mediaType\":\"" OCI_MT_DOCKER_LAYER "\",\"digest\":\"" D2
        "\",\"size\":2}]}";
    struct oci_manifest m = {0};
    enum oci_doc_kind k;
    assert_int_equal(parse_manifest(j, &m, NULL), 0);
    assert_true(m.docker);
    assert_int_equal(m.n_layers, 1);
    oci_manifest_release(&m);
    assert_int_equal(oci_doc_kind(j, strlen(j), OCI_MT_DOCKER_MANIFEST, &k, NULL), 0);
    assert_int_equal(k, OCI_DOC_MANIFEST);

    /* No mediaType (allowed by OCI): inferred. */
    j = "{\"schemaVersion\":2,\"config\":{\"mediaType\":\"" OCI_MT_CONFIG "\",\"digest\":\"" D1
        "\",\"size\":1},\"layers\":[]}";
    assert_int_equal(parse_manifest(j, &m, NULL), 0);
    assert_string_equal(m.media_type, OCI_MT_MANIFEST);
    assert_int_equal(m.n_layers, 0);
    oci_manifest_release(&m);
    assert_int_equal(oci_doc_kind(j, strlen(j), NULL, &k, NULL), 0);
    assert_int_equal(k, OCI_DOC_MANIFEST);
}

static void test_manifest_hostile(void **state)
{
    static const struct {
        const char *json, *msg;
    } cases[] = {
        {"", "not valid JSON"},
        {"[]", "not a JSON object"},
        {"{\"schemaVersion\":2", "not valid JSON"},
        {"{\"schemaVersion\":1,\"name\":\"x\",\"fsLayers\":[]}", "schema 1 is not supported"},
        {"{\"schemaVersion\":3}", "schemaVersion"},
        {"{\"schemaVersion\":\"2\"}", "schemaVersion"},
        {"{\"schemaVersion\":2,\"schemaVersion\":2}", "duplicate"},
        {"{\"schemaVersion\":2,\"mediaType\":\"" OCI_MT_INDEX "\",\"manifests\":[]}",
         "is an image index"},
        {"{\"schemaVersion\":2,\"mediaType\":\"text/plain\"}", "unsupported manifest media type"},
        {"{\"schemaVersion\":2,\"layers\":[]}", "config must be an object"},
        {"{\"schemaVersion\":2,\"config\":{\"mediaType\":\"" OCI_MT_CONFIG
         "\",\"digest\":\"sha256:12\",\"size\":1},\"layers\":[]}",
         "64 hex digits"},
        {"{\"schemaVersion\":2,\"config\":{\"mediaType\":\"" OCI_MT_CONFIG "\",\"digest\":\"" D1
         "\",\"size\":-1},\"layers\":[]}",
         "out of range"},
        {"{\"schemaVersion\":2,\"config\":{\"mediaType\":\"" OCI_MT_CONFIG "\",\"digest\":\"" D1
         "\",\"size\":1.5},\"layers\":[]}",
         "`size` must be an integer"},
        {"{\"schemaVersion\":2,\"config\":{\"mediaType\":\"" OCI_MT_CONFIG "\",\"digest\":\"" D1
         "\",\"size\":99999999999999999},\"layers\":[]}",
         "out of range"},
        {"{\"schemaVersion\":2,\"config\":{\"mediaType\":\"application/vnd.cncf.helm.config."
         "v1+json\",\"digest\":\"" D1 "\",\"size\":1},\"layers\":[]}",
         "not a container image"},
        {"{\"schemaVersion\":2,\"config\":{\"mediaType\":\"" OCI_MT_CONFIG "\",\"digest\":\"" D1
         "\",\"size\":1},\"layers\":{}}",
         "`layers` must be an array"},
        {"{\"schemaVersion\":2,\"config\":{\"mediaType\":\"" OCI_MT_CONFIG "\",\"digest\":\"" D1
         "\",\"size\":1},\"layers\":[{\"mediaType\":\"application/x-foo\",\"digest\":\"" D2
         "\",\"size\":1}]}",
         "unsupported layer media type `application/x-foo`"},
        {"{\"schemaVersion\":2,\"config\":{\"mediaType\":\"" OCI_MT_CONFIG "\",\"digest\":\"" D1
         "\",\"size\":1},\"layers\":[7]}",
         "layers[0] must be an object"},
        {"{\"schemaVersion\":2,\"config\":{\"mediaType\":5,\"digest\":\"" D1
         "\",\"size\":1},\"layers\":[]}",
         "`mediaType` must be a string"},
        {"{\"schemaVersion\":2,\"config\":{\"mediaType\":\"" OCI_MT_CONFIG "\",\"digest\":\"" D1
         "\",\"size\":1,\"annotations\":[]},\"layers\":[]}",
         "`annotations` must be an object"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        g_json = cases[i].json;
        EXPECT_FAIL(try_manifest, cases[i].msg);
    }
}

static char *many_layers(size_t n)
{
    size_t cap = 256 + n * 160;
    char *s = ctr_xmalloc(cap), *p = s;
    p += sprintf(p, "{\"schemaVersion\":2,\"config\":{\"mediaType\":\"" OCI_MT_CONFIG
                    "\",\"digest\":\"" D1 "\",\"size\":1},\"layers\":[");
    for (size_t i = 0; i < n; i++)
        p += sprintf(p, "%s{\"mediaType\":\"" OCI_MT_LAYER "\",\"digest\":\"" D2 "\",\"size\":1}",
                     i ? "," : "");
    strcpy(p, "]}");
    return s;
}

static void test_limits(void **state)
{
    struct oci_manifest m = {0};
    char *j = many_layers(OCI_MAX_LAYERS);
    char *big;
    assert_int_equal(parse_manifest(j, &m, NULL), 0);
    assert_int_equal(m.n_layers, OCI_MAX_LAYERS);
    oci_manifest_release(&m);
    free(j);
    j = many_layers(OCI_MAX_LAYERS + 1);
    g_json = j;
    EXPECT_FAIL(try_manifest, "too many layers");
    free(j);

    /* Over the size limit: refused before parsing. */
    big = ctr_xmalloc(OCI_MAX_MANIFEST_BYTES + 16);
    memset(big, ' ', OCI_MAX_MANIFEST_BYTES + 15);
    big[0] = '{';
    big[OCI_MAX_MANIFEST_BYTES + 14] = '}';
    big[OCI_MAX_MANIFEST_BYTES + 15] = '\0';
    g_json = big;
    EXPECT_FAIL(try_manifest, "too large");
    free(big);

    /* Deep nesting is refused by the parser, not by a crash. */
    big = ctr_xmalloc(200020);
    memset(big, '[', 100000);
    memset(big + 100000, ']', 100000);
    big[200000] = '\0';
    g_json = big;
    EXPECT_FAIL(try_config, "");
    free(big);

    /* A string with a NUL inside. */
    g_json = "{\"schemaVersion\":2,\"config\":{\"mediaType\":\"a\\u0000b\"}}";
    EXPECT_FAIL(try_manifest, "");
}

static void test_index(void **state)
{
    const char *j =
        "{\"schemaVersion\":2,\"mediaType\":\"" OCI_MT_INDEX "\",\"manifests\":["
        "{\"mediaType\":\"" OCI_MT_MANIFEST "\",\"digest\":\"" D1 "\",\"size\":10,"
        "\"platform\":{\"architecture\":\"arm64\",\"os\":\"linux\",\"variant\":\"v8\"}},"
        "{\"mediaType\":\"" OCI_MT_MANIFEST "\",\"digest\":\"" D2 "\",\"size\":11,"
        "\"platform\":{\"architecture\":\"amd64\",\"os\":\"linux\"},"
        "\"annotations\":{\"" OCI_ANNOT_REF_NAME "\":\"latest\"}},"
        "{\"mediaType\":\"" OCI_MT_MANIFEST "\",\"digest\":\"" D3 "\",\"size\":12,"
        "\"platform\":{\"architecture\":\"unknown\",\"os\":\"unknown\"}}]}";
    struct oci_index ix = {0};
    ctr_error_t err = NULL;
    enum oci_doc_kind k;

    assert_int_equal(oci_index_parse(j, strlen(j), &ix, &err), 0);
    assert_int_equal(ix.n_manifests, 3);
    assert_true(ix.manifests[0].has_platform);
    assert_string_equal(ix.manifests[0].platform.variant, "v8");
    assert_string_equal(oci_descriptor_annotation(&ix.manifests[1], OCI_ANNOT_REF_NAME), "latest");
    assert_int_equal(oci_index_select_host(&ix, &err), 1);
    assert_int_equal(oci_doc_kind(j, strlen(j), NULL, &k, NULL), 0);
    assert_int_equal(k, OCI_DOC_INDEX);
    /* A media type that disagrees with the content is refused. */
    assert_int_equal(oci_doc_kind(j, strlen(j), OCI_MT_MANIFEST, &k, &err), -1);
    ctr_error_free(&err);
    oci_index_release(&ix);

    /* Only other platforms: the error lists what is there. */
    j = "{\"schemaVersion\":2,\"manifests\":["
        "{\"mediaType\":\"" OCI_MT_MANIFEST "\",\"digest\":\"" D1 "\",\"size\":10,"
        "\"platform\":{\"architecture\":\"arm64\",\"os\":\"linux\",\"variant\":\"v8\"}},"
        "{\"mediaType\":\"" OCI_MT_DOCKER_MANIFEST "\",\"digest\":\"" D2 "\",\"size\":11,"
        "\"platform\":{\"architecture\":\"amd64\",\"os\":\"windows\"}}]}";
    assert_int_equal(oci_index_parse(j, strlen(j), &ix, NULL), 0);
    assert_int_equal(oci_index_select_host(&ix, &err), -1);
    assert_non_null(strstr(err->msg, "linux/arm64/v8, windows/amd64"));
    ctr_error_free(&err);
    oci_index_release(&ix);

    /* x86_64 is amd64; a variant the host cannot promise does not match. */
    j = "{\"schemaVersion\":2,\"manifests\":["
        "{\"mediaType\":\"" OCI_MT_MANIFEST "\",\"digest\":\"" D1 "\",\"size\":10,"
        "\"platform\":{\"architecture\":\"amd64\",\"os\":\"linux\",\"variant\":\"v4\"}},"
        "{\"mediaType\":\"" OCI_MT_MANIFEST "\",\"digest\":\"" D2 "\",\"size\":11,"
        "\"platform\":{\"architecture\":\"x86_64\",\"os\":\"linux\"}}]}";
    assert_int_equal(oci_index_parse(j, strlen(j), &ix, NULL), 0);
    assert_int_equal(oci_index_select_host(&ix, NULL), 1);
    oci_index_release(&ix);

    g_json = "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"" OCI_MT_MANIFEST
             "\",\"digest\":\"" D1 "\",\"size\":1,\"platform\":{\"os\":\"linux\"}}]}";
    EXPECT_FAIL(try_index, "`architecture` is missing");
    g_json = "{\"schemaVersion\":2,\"manifests\":{}}";
    EXPECT_FAIL(try_index, "`manifests` must be an array");
    g_json = "{\"schemaVersion\":2,\"manifests\":[],\"mediaType\":\"" OCI_MT_MANIFEST "\"}";
    EXPECT_FAIL(try_index, "image index has media type");
    g_json = "{\"schemaVersion\":2,\"mediaType\":\"" OCI_MT_DOCKER_MANIFEST_V1S "\"}";
    EXPECT_FAIL(try_kind, "unsupported manifest media type");
    g_json = "{\"schemaVersion\":1,\"fsLayers\":[]}";
    EXPECT_FAIL(try_kind, "schema 1");
    g_json = "{\"schemaVersion\":2}";
    EXPECT_FAIL(try_kind, "neither an image index nor an image manifest");
    {
        ctr_error_t e = NULL;
        const char *m1 = "{}";
        assert_int_equal(oci_doc_kind(m1, 2, OCI_MT_DOCKER_MANIFEST_V1S, &k, &e), -1);
        assert_non_null(strstr(e->msg, "schema 1"));
        ctr_error_free(&e);
    }
}

static void test_config(void **state)
{
    const char *j =
        "{\"architecture\":\"amd64\",\"os\":\"linux\",\"created\":\"2024-01-01T00:00:00Z\","
        "\"config\":{\"User\":\"app\",\"Env\":[\"PATH=/bin\",\"A=b=c\"],"
        "\"Entrypoint\":[\"/init\"],\"Cmd\":null,\"WorkingDir\":\"/srv\","
        "\"ExposedPorts\":{\"80/tcp\":{},\"53/udp\":{}},\"Volumes\":{\"/data\":{}},"
        "\"Labels\":{\"org.x\":\"1\"},\"StopSignal\":\"SIGQUIT\",\"ArgsEscaped\":true},"
        "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"" D1 "\",\"" D2 "\"]},"
        "\"history\":[{\"created_by\":\"x\"}]}";
    struct oci_image_config c = {0};
    ctr_error_t err = NULL;

    assert_int_equal(oci_image_config_parse(j, strlen(j), &c, &err), 0);
    assert_string_equal(c.platform.architecture, "amd64");
    assert_true(oci_platform_matches_host(&c.platform));
    assert_string_equal(c.config.user, "app");
    assert_int_equal(ctr_strv_len(c.config.env), 2);
    assert_string_equal(c.config.env[1], "A=b=c");
    assert_string_equal(c.config.entrypoint[0], "/init");
    assert_null(c.config.cmd);
    assert_string_equal(c.config.working_dir, "/srv");
    assert_int_equal(ctr_strv_len(c.config.exposed_ports), 2);
    assert_string_equal(c.config.volumes[0], "/data");
    assert_string_equal(oci_kv_get(c.config.labels, c.config.n_labels, "org.x"), "1");
    assert_string_equal(c.config.stop_signal, "SIGQUIT");
    assert_int_equal(c.n_diff_ids, 2);
    oci_image_config_release(&c);

    /* Minimal: everything optional absent; vectors are empty, not NULL. */
    assert_int_equal(oci_image_config_parse("{}", 2, &c, &err), 0);
    assert_non_null(c.config.env);
    assert_null(c.config.env[0]);
    assert_null(c.config.cmd);
    assert_int_equal(c.n_diff_ids, 0);
    oci_image_config_release(&c);

    static const struct {
        const char *json, *msg;
    } bad[] = {
        {"{\"config\":{\"Env\":\"PATH=/bin\"}}", "`Env` must be an array"},
        {"{\"config\":{\"Env\":[1]}}", "`Env` must be a string"},
        {"{\"config\":{\"Env\":[\"=x\"]}}", "no variable name"},
        {"{\"config\":{\"Cmd\":\"sh\"}}", "`Cmd` must be an array"},
        {"{\"config\":{\"Labels\":{\"a\":1}}}", "`Labels` must be a string"},
        {"{\"config\":{\"ExposedPorts\":[\"80\"]}}", "`ExposedPorts` must be an object"},
        {"{\"config\":[]}", "config must be an object"},
        {"{\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"md5:00\"]}}", "diff_ids[0]"},
        {"{\"rootfs\":{\"type\":\"snapshot\"}}", "not `layers`"},
        {"{\"architecture\":7}", "`architecture` must be a string"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        g_json = bad[i].json;
        EXPECT_FAIL(try_config, bad[i].msg);
    }
}

static void test_config_many_env(void **state)
{
    size_t n = OCI_MAX_LIST + 1;
    char *j = ctr_xmalloc(64 + n * 8), *p = j;
    p += sprintf(p, "{\"config\":{\"Env\":[");
    for (size_t i = 0; i < n; i++)
        p += sprintf(p, "%s\"A=1\"", i ? "," : "");
    strcpy(p, "]}}");
    g_json = j;
    EXPECT_FAIL(try_config, "too many entries");
    free(j);
}

static void test_platform(void **state)
{
    struct oci_platform h = {0}, p = {.os = "linux", .architecture = "aarch64"};
    char *s;
    oci_platform_host(&h);
    s = oci_platform_string(&h);
    assert_string_equal(s, "linux/amd64");
    free(s);
    assert_true(oci_platform_matches_host(&h));
    oci_platform_release(&h);
    s = oci_platform_string(&p);
    assert_string_equal(s, "linux/arm64");
    free(s);
    assert_false(oci_platform_matches_host(&p));
    p.architecture = "amd64";
    p.variant = "v2";
    assert_true(oci_platform_matches_host(&p));
    p.os = NULL;
    assert_false(oci_platform_matches_host(&p));
}

/* ---- documents as a registry serves them (the registry's hostile cases, moved here) ---- */
#define HEX64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define RD1 "sha256:" HEX64

static int doc_parse(const char *json, const char *ct, struct oci_document *d, char **msg)
{
    ctr_error_t err = NULL;
    int rc = oci_document_parse(json, strlen(json), ct, d, &err);
    *msg = rc < 0 ? ctr_error_take_msg(&err) : NULL;
    return rc;
}

#define CFG                                                                                        \
    "{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"" RD1 "\",\"size\":" \
    "10}"
#define LAYER(mt, dg, sz) "{\"mediaType\":\"" mt "\",\"digest\":\"" dg "\",\"size\":" sz "}"
#define GZ "application/vnd.oci.image.layer.v1.tar+gzip"

static void test_document_valid(void **state)
{
    struct oci_document d = {0};
    char *msg;
    const char *j =
        "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
        "\"config\":" CFG ",\"layers\":[" LAYER(GZ, RD1, "123") "," LAYER(
            "application/vnd.oci.image.layer.v1.tar+zstd", RD1, "0") "]}";
    assert_int_equal(doc_parse(j, NULL, &d, &msg), 0);
    assert_int_equal(d.kind, OCI_DOC_MANIFEST);
    assert_string_equal(d.media_type, OCI_MT_MANIFEST);
    assert_int_equal(d.manifest.n_layers, 2);
    assert_int_equal(d.manifest.layers[0].size, 123);
    assert_string_equal(d.manifest.config.digest, RD1);
    oci_document_release(&d);

    /* OCI allows omitting mediaType: decided by structure; content type with params */
    const char *idx = "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":"
                      "\"application/vnd.docker.distribution.manifest.v2+json\",\"digest\":\"" RD1
                      "\",\"size\":500,\"platform\":{\"os\":\"linux\",\"architecture\":\"arm64\","
                      "\"variant\":\"v8\"}}]}";
    assert_int_equal(
        doc_parse(idx, "application/vnd.oci.image.index.v1+json; charset=utf-8", &d, &msg), 0);
    assert_int_equal(d.kind, OCI_DOC_INDEX);
    assert_string_equal(d.media_type, OCI_MT_INDEX);
    assert_int_equal(d.index.n_manifests, 1);
    assert_string_equal(d.index.manifests[0].platform.architecture, "arm64");
    assert_string_equal(d.index.manifests[0].platform.variant, "v8");
    oci_document_release(&d);
    /* without mediaType, the content type says which; an unrelated one is ignored */
    assert_int_equal(doc_parse(idx, OCI_MT_DOCKER_LIST, &d, &msg), 0);
    assert_string_equal(d.media_type, OCI_MT_DOCKER_LIST);
    oci_document_release(&d);
    assert_int_equal(doc_parse(idx, "application/json", &d, &msg), 0);
    assert_string_equal(d.media_type, OCI_MT_INDEX);
    oci_document_release(&d);
}

static void doc_refused(const char *json, const char *ct, const char *needle)
{
    struct oci_document d = {0};
    char *msg = NULL;
    if (doc_parse(json, ct, &d, &msg) == 0) {
        oci_document_release(&d);
        fail_msg("accepted: %.200s", json);
    }
    if (strstr(msg, needle) == NULL)
        fail_msg("error `%s` lacks `%s`", msg, needle);
    free(msg);
}

static void test_document_hostile(void **state)
{
    const char *pre =
        "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
        "\"config\":" CFG ",\"layers\":[";
    char buf[4096];
#define WITH_LAYER(l) (snprintf(buf, sizeof(buf), "%s%s]}", pre, l), buf)
    doc_refused("{\"schemaVersion\":1,\"name\":\"x\",\"fsLayers\":[]}", NULL, "schema 1");
    doc_refused("{}", "application/vnd.docker.distribution.manifest.v1+prettyjws", "schema 1");
    doc_refused("[1,2]", NULL, "not a JSON object");
    doc_refused("{\"schemaVersion\":2", NULL, "not valid JSON");
    doc_refused("{\"schemaVersion\":3,\"layers\":[]}", NULL, "schemaVersion");
    doc_refused(WITH_LAYER(LAYER("application/x-evil", RD1, "1")), NULL,
                "unsupported layer media type `application/x-evil`");
    doc_refused(WITH_LAYER(LAYER(GZ, "sha512:" HEX64 HEX64, "1")), NULL,
                "only sha256 is supported");
    doc_refused(WITH_LAYER(LAYER(GZ,
                                 "sha256:"
                                 "0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef",
                                 "1")),
                NULL, "hex digits must be lowercase");
    doc_refused(WITH_LAYER(LAYER(GZ, "sha256:../../etc/passwd", "1")), NULL,
                "sha256 needs 64 hex digits");
    doc_refused(WITH_LAYER(LAYER(GZ, RD1, "-1")), NULL, "out of range");
    doc_refused(WITH_LAYER(LAYER(GZ, RD1, "1e3")), NULL, "`size` must be an integer");
    doc_refused(WITH_LAYER(LAYER(GZ, RD1, "9223372036854775807")), NULL, "out of range");
    /* within what a descriptor may say, more than a pull fetches */
    doc_refused(WITH_LAYER(LAYER(GZ, RD1, "68719476737")), NULL, "more than the limit");
    doc_refused(WITH_LAYER("{\"mediaType\":\"" GZ "\",\"size\":1}"), NULL, "`digest` is missing");
    doc_refused(WITH_LAYER("5"), NULL, "must be an object");
    /* a config larger than the limit */
    doc_refused("{\"schemaVersion\":2,\"config\":{\"mediaType\":\"application/"
                "vnd.oci.image.config.v1+json\","
                "\"digest\":\"" RD1 "\",\"size\":999999999},\"layers\":[]}",
                NULL, "more than the limit");
    /* duplicate keys (a classic parser-differential trick) */
    doc_refused("{\"schemaVersion\":2,\"schemaVersion\":2,\"layers\":[]}", NULL, "duplicate");
    /* served as an index but says manifest */
    doc_refused("{\"schemaVersion\":2,\"mediaType\":\"application/"
                "vnd.oci.image.manifest.v1+json\",\"config\":" CFG ",\"layers\":[]}",
                "application/vnd.oci.image.index.v1+json", "served as");
    /* index entries must be manifests or indexes, not layers */
    doc_refused("{\"schemaVersion\":2,\"manifests\":[" LAYER(GZ, RD1, "1") "]}", NULL,
                "index entry 0 has unsupported media type");
    /* an index that also carries layers; a manifest that also lists manifests */
    doc_refused("{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\","
                "\"manifests\":[],\"layers\":[]}",
                NULL, "also has");
    doc_refused("{\"schemaVersion\":2,\"mediaType\":\"" OCI_MT_MANIFEST "\",\"config\":" CFG
                ",\"layers\":[],\"manifests\":[]}",
                NULL, "also has");
    /* a manifest entry in an index claiming a huge size */
    doc_refused("{\"schemaVersion\":2,\"manifests\":[" LAYER(
                    "application/vnd.oci.image.manifest.v1+json", RD1, "99999999") "]}",
                NULL, "more than the limit");
    /* too many layers (the registry's own limit was 1024; the shared one is lower) */
    {
        size_t cap = (OCI_MAX_LAYERS + 2) * 160 + 1024, n = 0;
        char *big = malloc(cap);
        n += (size_t)snprintf(big + n, cap - n, "%s", pre);
        for (int i = 0; i <= OCI_MAX_LAYERS; i++)
            n += (size_t)snprintf(big + n, cap - n, "%s" LAYER(GZ, RD1, "1"), i ? "," : "");
        snprintf(big + n, cap - n, "]}");
        doc_refused(big, NULL, "too many layers");
        free(big);
    }
    /* too many index entries */
    {
        size_t cap = (OCI_MAX_MANIFESTS + 2) * 160 + 1024, n = 0;
        char *big = malloc(cap);
        n += (size_t)snprintf(big + n, cap - n, "{\"schemaVersion\":2,\"manifests\":[");
        for (int i = 0; i <= OCI_MAX_MANIFESTS; i++)
            n += (size_t)snprintf(big + n, cap - n, "%s" LAYER(OCI_MT_MANIFEST, RD1, "1"),
                                  i ? "," : "");
        snprintf(big + n, cap - n, "]}");
        doc_refused(big, NULL, "too many manifests");
        free(big);
    }
    /* over the manifest size limit */
    {
        size_t n = OCI_MAX_MANIFEST_BYTES + 16;
        char *huge = malloc(n + 1);
        memset(huge, ' ', n);
        huge[0] = '{';
        huge[n - 1] = '}';
        huge[n] = '\0';
        doc_refused(huge, NULL, "too large");
        free(huge);
    }
    doc_refused("{\"schemaVersion\":2,\"mediaType\":\"text/html\"}", NULL,
                "unsupported manifest media type");
    doc_refused("{\"schemaVersion\":2,\"mediaType\":7}", NULL, "`mediaType` must be a string");
}

/* ---- platforms as a pull names them ---- */
static void test_platform_parse(void **state)
{
    struct oci_platform p = {0};
    ctr_error_t err = NULL;
    assert_int_equal(oci_platform_parse("linux/arm64", &p, &err), 0);
    assert_string_equal(p.architecture, "arm64");
    assert_string_equal(p.variant, "v8");
    oci_platform_release(&p);
    assert_int_equal(oci_platform_parse("linux/arm/v7", &p, &err), 0);
    assert_string_equal(p.variant, "v7");
    oci_platform_release(&p);
    assert_int_equal(oci_platform_parse(NULL, &p, &err), 0);
    assert_string_equal(p.os, "linux");
    oci_platform_release(&p);
    const char *bad[] = {"linux",   "/amd64",
                         "linux/",  "linux//v7",
                         "a/b/c/d", "linux/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(oci_platform_parse(bad[i], &p, &err), -1);
        assert_int_equal(err->errnum, EINVAL);
        ctr_error_free(&err);
    }

    /* matching: variants compared only when both have one */
    struct oci_platform want = {.os = "linux", .architecture = "arm64", .variant = "v8"};
    struct oci_platform have = {.os = "linux", .architecture = "arm64"};
    assert_true(oci_platform_match(&want, &have));
    have.variant = "v7";
    assert_false(oci_platform_match(&want, &have));
    have.architecture = "amd64";
    have.variant = NULL;
    assert_false(oci_platform_match(&want, &have));
    have.os = NULL;
    assert_false(oci_platform_match(&want, &have));
}

static void test_index_select(void **state)
{
    const char *j =
        "{\"schemaVersion\":2,\"manifests\":["
        "{\"mediaType\":\"" OCI_MT_MANIFEST "\",\"digest\":\"" D1 "\",\"size\":10,"
        "\"platform\":{\"architecture\":\"amd64\",\"os\":\"linux\"}},"
        "{\"mediaType\":\"" OCI_MT_MANIFEST "\",\"digest\":\"" D2 "\",\"size\":10,"
        "\"platform\":{\"architecture\":\"arm64\",\"os\":\"linux\",\"variant\":\"v8\"}},"
        "{\"mediaType\":\"" OCI_MT_MANIFEST "\",\"digest\":\"" D3 "\",\"size\":10,"
        "\"platform\":{\"architecture\":\"unknown\",\"os\":\"unknown\"}}]}";
    struct oci_index ix = {0};
    struct oci_platform p = {0};
    ctr_error_t err = NULL;

    assert_int_equal(oci_index_parse(j, strlen(j), &ix, &err), 0);
    assert_int_equal(oci_platform_parse("linux/amd64", &p, &err), 0);
    assert_int_equal(oci_index_select(&ix, &p, "index", &err), 0);
    oci_platform_release(&p);
    assert_int_equal(oci_platform_parse("linux/arm64", &p, &err), 0);
    assert_int_equal(oci_index_select(&ix, &p, "index", &err), 1);
    oci_platform_release(&p);
    assert_int_equal(oci_platform_parse("linux/riscv64", &p, &err), 0);
    assert_int_equal(oci_index_select(&ix, &p, "index `x`", &err), -1);
    assert_int_equal(err->errnum, ENOENT);
    assert_string_equal(err->msg, "index `x` has no image for platform `linux/riscv64` "
                                  "(available: linux/amd64, linux/arm64/v8)");
    ctr_error_free(&err);
    oci_platform_release(&p);
    oci_index_release(&ix);

    /* a nested index without a platform is followed when nothing matches */
    j = "{\"schemaVersion\":2,\"manifests\":["
        "{\"mediaType\":\"" OCI_MT_MANIFEST "\",\"digest\":\"" D1 "\",\"size\":10},"
        "{\"mediaType\":\"" OCI_MT_INDEX "\",\"digest\":\"" D2 "\",\"size\":10}]}";
    assert_int_equal(oci_index_parse(j, strlen(j), &ix, &err), 0);
    assert_int_equal(oci_platform_parse(NULL, &p, &err), 0);
    assert_int_equal(oci_index_select(&ix, &p, "index", &err), 1);
    oci_platform_release(&p);
    oci_index_release(&ix);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_manifest_oci),
        cmocka_unit_test(test_manifest_docker),
        cmocka_unit_test(test_manifest_hostile),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_index),
        cmocka_unit_test(test_config),
        cmocka_unit_test(test_config_many_env),
        cmocka_unit_test(test_platform),
        cmocka_unit_test(test_document_valid),
        cmocka_unit_test(test_document_hostile),
        cmocka_unit_test(test_platform_parse),
        cmocka_unit_test(test_index_select),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
