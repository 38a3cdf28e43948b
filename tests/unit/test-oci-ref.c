/* Image references: docker's own examples (distribution/reference tests), good and bad. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "oci/oci.h"

#define HEX64 "1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a"
#define DGST "sha256:" HEX64

static const struct {
    const char *in, *full, *familiar;
} good[] = {
    {"busybox", "docker.io/library/busybox:latest", "busybox:latest"},
    {"busybox:1.36", "docker.io/library/busybox:1.36", "busybox:1.36"},
    {"library/debian", "docker.io/library/debian:latest", "debian:latest"},
    {"debian", "docker.io/library/debian:latest", "debian:latest"},
    {"docker/docker", "docker.io/docker/docker:latest", "docker/docker:latest"},
    {"docker.io/docker/docker", "docker.io/docker/docker:latest", "docker/docker:latest"},
    {"docker.io/library/debian", "docker.io/library/debian:latest", "debian:latest"},
    {"docker.io/debian", "docker.io/library/debian:latest", "debian:latest"},
    {"index.docker.io/docker/docker", "docker.io/docker/docker:latest", "docker/docker:latest"},
    {"index.docker.io/library/debian", "docker.io/library/debian:latest", "debian:latest"},
    {"index.docker.io/debian", "docker.io/library/debian:latest", "debian:latest"},
    {"127.0.0.1:5000/docker/docker", "127.0.0.1:5000/docker/docker:latest",
     "127.0.0.1:5000/docker/docker:latest"},
    {"127.0.0.1:5000/library/debian", "127.0.0.1:5000/library/debian:latest",
     "127.0.0.1:5000/library/debian:latest"},
    {"127.0.0.1:5000/debian", "127.0.0.1:5000/debian:latest", "127.0.0.1:5000/debian:latest"},
    /* No slash: the whole thing is a docker.io/library name, `:80` a tag. */
    {"192.168.0.1", "docker.io/library/192.168.0.1:latest", "192.168.0.1:latest"},
    {"192.168.0.1:80", "docker.io/library/192.168.0.1:80", "192.168.0.1:80"},
    {"192.168.0.1:8/debian", "192.168.0.1:8/debian:latest", "192.168.0.1:8/debian:latest"},
    {"192.168.0.2:25000/debian", "192.168.0.2:25000/debian:latest",
     "192.168.0.2:25000/debian:latest"},
    {"thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev",
     "docker.io/library/thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev:latest",
     "thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev:latest"},
    {"docker.io/" HEX64, "docker.io/library/" HEX64 ":latest", HEX64 ":latest"},
    {"foo.com:8080/bar", "foo.com:8080/bar:latest", "foo.com:8080/bar:latest"},
    {"localhost/foo", "localhost/foo:latest", "localhost/foo:latest"},
    {"localhost:8080/foo", "localhost:8080/foo:latest", "localhost:8080/foo:latest"},
    {"localhost:5000/repo:tag", "localhost:5000/repo:tag", "localhost:5000/repo:tag"},
    {"xn--n3h.com/foo", "xn--n3h.com/foo:latest", "xn--n3h.com/foo:latest"},
    {"[::1]:5000/foo:bar", "[::1]:5000/foo:bar", "[::1]:5000/foo:bar"},
    {"[2001:db8::1]/repo", "[2001:db8::1]/repo:latest", "[2001:db8::1]/repo:latest"},
    {"foo/bar/baz", "docker.io/foo/bar/baz:latest", "foo/bar/baz:latest"},
    {"a__b/c-d--e.f_g:T.a-g_", "docker.io/a__b/c-d--e.f_g:T.a-g_", "a__b/c-d--e.f_g:T.a-g_"},
    {"busybox@" DGST, "docker.io/library/busybox@" DGST, "busybox@" DGST},
    /* Tag and digest: the digest wins (ParseDockerRef). */
    {"busybox:1.36@" DGST, "docker.io/library/busybox@" DGST, "busybox@" DGST},
    {"quay.io/coreos/etcd:v3.5.0", "quay.io/coreos/etcd:v3.5.0", "quay.io/coreos/etcd:v3.5.0"},
    {"Foo.example.com/bar", "Foo.example.com/bar:latest", "Foo.example.com/bar:latest"},
};

static const struct {
    const char *in, *msg; /* msg: a substring the error must contain */
} bad[] = {
    {"", "at least one component"},
    {"https://github.com/docker/docker", "registry `https:`"},
    {"docker/Docker", "must be lowercase"},
    {"-docker", "`-docker`"},
    {"-docker/docker", "`-docker`"},
    {"-docker.io/docker/docker", "registry `-docker.io`"},
    {"docker///docker", "component ``"},
    {"docker.io/docker/Docker", "must be lowercase"},
    {"docker.io/docker///docker", "component ``"},
    {HEX64, "64-byte hexadecimal"},
    {"busybox:", "tag ``"},
    {"busybox:-x", "tag `-x`"},
    {"busybox@sha256:abc", "64 hex digits"},
    {"busybox@sha512:" HEX64 HEX64, "unsupported digest algorithm `sha512`"},
    {"busybox@md5:abc", "unsupported digest algorithm `md5`"},
    {"busybox@sha256:"
     "1A3F5E7D9C1B3A5F7E9D1C3B5A7F9E1D3C5B7A9F1E3D5D7C9B1A3F5E7D9C1B3A",
     "lowercase"},
    {"a..b", "`a..b`"},
    {"a___b", "`a___b`"},
    {"a_", "`a_`"},
    {"foo bar", "space"},
    {"localhost:/foo", "registry `localhost:`"},
    {"[::1/foo", "registry"},
    {"foo.com:80a/bar", "registry `foo.com:80a`"},
    {"/busybox", "component ``"},
    {"busybox/", "component ``"},
};

static void test_good(void **state)
{
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        struct oci_ref r = {0};
        ctr_error_t err = NULL;
        char *full, *fam;
        if (oci_ref_parse(good[i].in, &r, &err) != 0)
            fail_msg("`%s` refused: %s", good[i].in, err->msg);
        full = oci_ref_string(&r);
        fam = oci_ref_familiar(&r);
        if (strcmp(full, good[i].full) != 0 || strcmp(fam, good[i].familiar) != 0)
            fail_msg("`%s`: got `%s` / `%s`, want `%s` / `%s`", good[i].in, full, fam, good[i].full,
                     good[i].familiar);
        free(full);
        free(fam);
        oci_ref_release(&r);
    }
}

static void test_bad(void **state)
{
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct oci_ref r = {0};
        ctr_error_t err = NULL;
        if (oci_ref_parse(bad[i].in, &r, &err) == 0)
            fail_msg("`%s` accepted as %s/%s", bad[i].in, r.domain, r.path);
        assert_non_null(err);
        if (strstr(err->msg, bad[i].msg) == NULL)
            fail_msg("`%s`: error `%s` does not mention `%s`", bad[i].in, err->msg, bad[i].msg);
        ctr_error_free(&err);
    }
}

static void test_lengths(void **state)
{
    char name[300], tag[140];
    ctr_error_t err = NULL;
    char *s;

    /* docker.io/library/ + 237 = 255: the longest name accepted. */
    memset(name, 'a', 237);
    name[237] = '\0';
    s = oci_ref_normalize(name, &err);
    assert_non_null(s);
    free(s);
    name[237] = 'a';
    name[238] = '\0';
    assert_null(oci_ref_normalize(name, &err));
    assert_non_null(strstr(err->msg, "255"));
    ctr_error_free(&err);

    memset(tag, 'b', 128);
    tag[128] = '\0';
    assert_true(oci_tag_valid(tag));
    s = ctr_xasprintf("busybox:%s", tag);
    free(oci_ref_normalize(s, NULL));
    free(s);
    tag[128] = 'b';
    tag[129] = '\0';
    assert_false(oci_tag_valid(tag));
    s = ctr_xasprintf("busybox:%s", tag);
    assert_null(oci_ref_normalize(s, &err));
    ctr_error_free(&err);
    free(s);
}

static void test_digest_check(void **state)
{
    ctr_error_t err = NULL;
    assert_true(oci_digest_valid(DGST));
    assert_string_equal(oci_digest_hex(DGST), HEX64);
    assert_false(oci_digest_valid("sha256:" HEX64 "0"));
    assert_false(oci_digest_valid(HEX64));
    assert_false(oci_digest_valid("sha256:"));
    assert_false(oci_digest_valid(":" HEX64));
    assert_false(oci_digest_valid(
        "sha256:ga3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a"));
    assert_int_equal(oci_digest_check("sha384:abcd", &err), -1);
    assert_non_null(strstr(err->msg, "unsupported digest algorithm `sha384`"));
    assert_non_null(strstr(err->msg, "only sha256"));
    ctr_error_free(&err);
    assert_int_equal(oci_digest_check("SHA256:" HEX64, &err), -1);
    ctr_error_free(&err);
}

static void test_digest_compute(void **state)
{
    char out[OCI_DIGEST_STR_LEN + 1];
    struct oci_hasher h;
    const char *abc = "abc";

    oci_digest_buf("", 0, out);
    assert_string_equal(out,
                        "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    oci_digest_buf(abc, 3, out);
    assert_string_equal(out,
                        "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    /* Streaming in pieces gives the same digest and counts the size. */
    oci_hasher_init(&h);
    oci_hasher_update(&h, "a", 1);
    oci_hasher_update(&h, "", 0);
    oci_hasher_update(&h, "bc", 2);
    assert_int_equal(h.size, 3);
    oci_hasher_final(&h, out);
    assert_string_equal(out,
                        "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    assert_true(oci_digest_valid(out));
}

/* The reference fields the registry client uses (moved from test-registry). */
static void test_registry_fields(void **state)
{
    struct oci_ref r = {0};
    ctr_error_t err = NULL;
    char *s;
    assert_int_equal(oci_ref_parse("busybox", &r, &err), 0);
    assert_string_equal(r.domain, "docker.io");
    assert_string_equal(r.path, "library/busybox");
    assert_string_equal(r.tag, "latest");
    oci_ref_release(&r);
    assert_int_equal(oci_ref_parse("127.0.0.1:5000/a/b@" DGST, &r, &err), 0);
    assert_string_equal(r.domain, "127.0.0.1:5000");
    assert_string_equal(r.path, "a/b");
    assert_null(r.tag);
    assert_string_equal(r.digest, DGST);
    s = oci_ref_string(&r);
    assert_string_equal(s, "127.0.0.1:5000/a/b@" DGST);
    free(s);
    oci_ref_release(&r);
    assert_int_equal(oci_ref_parse("localhost/x:v1.2", &r, &err), 0);
    assert_string_equal(r.domain, "localhost");
    assert_string_equal(r.tag, "v1.2");
    oci_ref_release(&r);
    assert_int_equal(oci_ref_parse("x@sha256:abc", &r, &err), -1);
    ctr_error_free(&err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good),           cmocka_unit_test(test_bad),
        cmocka_unit_test(test_lengths),        cmocka_unit_test(test_digest_check),
        cmocka_unit_test(test_digest_compute), cmocka_unit_test(test_registry_fields),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
