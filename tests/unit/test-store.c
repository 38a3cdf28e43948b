/* Image store: layouts made here (a tiny layer built with libarchive), verified
 * ingest (a blob that does not match its digest is never visible, an
 * interrupted ingest leaves nothing visible), resolve/tag/remove, platform
 * choice, snapshots and bundle_create end to end. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <ext2fs/ext2fs.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bundle/bundle.h"
#include "image/store.h"

struct fx {
    char *tmp, *root, *layout;
    char layer[OCI_DIGEST_STR_LEN + 1], config[OCI_DIGEST_STR_LEN + 1];
    char manifest[OCI_DIGEST_STR_LEN + 1];
    size_t layer_size, config_size, manifest_size;
};

static void write_blob(const char *layout, const void *data, size_t len, char *digest_out)
{
    char *p;
    oci_digest_buf(data, len, digest_out);
    p = ctr_xasprintf("%s/blobs/sha256/%s", layout, oci_digest_hex(digest_out));
    assert_int_equal(ctr_write_file_atomic(p, data, len, 0644, NULL), 0);
    free(p);
}

static void write_file(const char *dir, const char *name, const char *text)
{
    char *p = ctr_xasprintf("%s/%s", dir, name);
    assert_int_equal(ctr_write_file_atomic(p, text, strlen(text), 0644, NULL), 0);
    free(p);
}

/* A gzip'd tar with /hello (content `hi`) and /etc/. */
static void make_layer(struct fx *f)
{
    size_t cap = 1 << 16, used = 0;
    char *buf = ctr_xmalloc(cap);
    struct archive *a = archive_write_new();
    struct archive_entry *e = archive_entry_new();

    archive_write_set_format_pax_restricted(a);
    archive_write_add_filter_gzip(a);
    assert_int_equal(archive_write_open_memory(a, buf, cap, &used), ARCHIVE_OK);
    archive_entry_set_pathname(e, "etc/");
    archive_entry_set_filetype(e, AE_IFDIR);
    archive_entry_set_perm(e, 0755);
    assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
    archive_entry_clear(e);
    archive_entry_set_pathname(e, "hello");
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_size(e, 2);
    assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
    assert_int_equal(archive_write_data(a, "hi", 2), 2);
    archive_entry_free(e);
    assert_int_equal(archive_write_close(a), ARCHIVE_OK);
    archive_write_free(a);
    write_blob(f->layout, buf, used, f->layer);
    f->layer_size = used;
    free(buf);
}

/* config + manifest for the layer; arch "amd64" unless told. */
static void make_image(struct fx *f, const char *arch)
{
    char *cfg = ctr_xasprintf(
        "{\"architecture\":\"%s\",\"os\":\"linux\",\"config\":{\"Env\":[\"PATH=/bin\",\"X=1\"],"
        "\"Cmd\":[\"/hello\"],\"WorkingDir\":\"/etc\",\"User\":\"1000\"},"
        "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"sha256:%064d\"]}}",
        arch, 0);
    char *man;
    write_blob(f->layout, cfg, strlen(cfg), f->config);
    f->config_size = strlen(cfg);
    man = ctr_xasprintf(
        "{\"schemaVersion\":2,\"mediaType\":\"" OCI_MT_MANIFEST "\","
        "\"config\":{\"mediaType\":\"" OCI_MT_CONFIG "\",\"digest\":\"%s\",\"size\":%zu},"
        "\"layers\":[{\"mediaType\":\"" OCI_MT_LAYER_GZIP "\",\"digest\":\"%s\",\"size\":%zu}]}",
        f->config, f->config_size, f->layer, f->layer_size);
    write_blob(f->layout, man, strlen(man), f->manifest);
    f->manifest_size = strlen(man);
    free(cfg);
    free(man);
}

/* index.json with one entry for the manifest, annotated with name (or none). */
static void make_index(struct fx *f, const char *name, const char *platform_json)
{
    char *annot = name ? ctr_xasprintf(",\"annotations\":{\"" OCI_ANNOT_REF_NAME "\":\"%s\"}", name)
                       : ctr_xstrdup("");
    char *ix =
        ctr_xasprintf("{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"" OCI_MT_MANIFEST
                      "\",\"digest\":\"%s\",\"size\":%zu%s%s}]}",
                      f->manifest, f->manifest_size, platform_json ? platform_json : "", annot);
    write_file(f->layout, "index.json", ix);
    free(ix);
    free(annot);
}

static int setup(void **state)
{
    struct fx *f = ctr_xcalloc(1, sizeof(*f));
    char tmpl[] = "/tmp/test-store.XXXXXX";
    char *blobs;
    assert_non_null(mkdtemp(tmpl));
    f->tmp = ctr_xstrdup(tmpl);
    f->root = ctr_xasprintf("%s/data", tmpl);
    f->layout = ctr_xasprintf("%s/layout", tmpl);
    blobs = ctr_xasprintf("%s/blobs/sha256", f->layout);
    assert_int_equal(ctr_mkdir_p(blobs, 0755, NULL), 0);
    free(blobs);
    write_file(f->layout, "oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}");
    make_layer(f);
    make_image(f, "amd64");
    make_index(f, "example.com/test:1", NULL);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    ctr_error_t err = NULL;
    if (ctr_rm_rf(f->tmp, &err) < 0)
        ctr_error_free(&err);
    free(f->tmp);
    free(f->root);
    free(f->layout);
    free(f);
    return 0;
}

static size_t count_dir(const char *root, const char *sub)
{
    char *p = ctr_xasprintf("%s/%s", root, sub);
    DIR *d = opendir(p);
    struct dirent *de;
    size_t n = 0;
    free(p);
    if (d == NULL)
        return 0;
    while ((de = readdir(d)) != NULL)
        n += de->d_name[0] != '.';
    closedir(d);
    return n;
}

static struct imgstore *open_store(struct fx *f)
{
    struct imgstore *st = NULL;
    ctr_error_t err = NULL;
    if (imgstore_open(f->root, &st, &err) < 0)
        fail_msg("%s", err->msg);
    return st;
}

static void expect_err(ctr_error_t *err, const char *want)
{
    assert_non_null(*err);
    if (strstr((*err)->msg, want) == NULL)
        fail_msg("error `%s` lacks `%s`", (*err)->msg, want);
    ctr_error_free(err);
}

static void test_load_resolve(void **state)
{
    struct fx *f = *state;
    struct imgstore *st = open_store(f);
    struct imgstore_image img = {0};
    struct imgstore_entry *e = NULL;
    char **names = NULL;
    ctr_error_t err = NULL;
    char prefix[20];
    size_t n;

    if (imgstore_load_layout(st, f->layout, NULL, &names, &err) < 0)
        fail_msg("%s", err->msg);
    assert_string_equal(names[0], "example.com/test:1");
    assert_null(names[1]);
    ctr_strv_free(names);
    assert_int_equal(count_dir(f->root, "content/blobs/sha256"), 3);
    assert_int_equal(count_dir(f->root, "content/ingest"), 0);

    assert_int_equal(imgstore_resolve(st, "example.com/test:1", &img, &err), 0);
    assert_string_equal(img.manifest_digest, f->manifest);
    assert_string_equal(img.config_digest, f->config);
    assert_string_equal(img.config.config.cmd[0], "/hello");
    assert_int_equal(img.size, (int64_t)(f->layer_size + f->config_size + f->manifest_size));
    imgstore_image_release(&img);

    /* By digest, by repo@digest, by unique hex prefix. */
    assert_int_equal(imgstore_resolve(st, f->manifest, &img, &err), 0);
    imgstore_image_release(&img);
    {
        char *r = ctr_xasprintf("example.com/test@%s", f->manifest);
        assert_int_equal(imgstore_resolve(st, r, &img, &err), 0);
        imgstore_image_release(&img);
        free(r);
    }
    snprintf(prefix, sizeof(prefix), "%.12s", oci_digest_hex(f->manifest));
    assert_int_equal(imgstore_resolve(st, prefix, &img, &err), 0);
    imgstore_image_release(&img);

    assert_int_equal(imgstore_resolve(st, "example.com/test:2", &img, &err), -1);
    assert_int_equal(err->errnum, ENOENT);
    assert_string_equal(err->msg, "image `example.com/test:2` not found locally");
    ctr_error_free(&err);
    assert_int_equal(imgstore_resolve(st, "busybox", &img, &err), -1);
    expect_err(&err, "image `busybox` not found locally");
    assert_int_equal(imgstore_resolve(st, "Bad/Name", &img, &err), -1);
    expect_err(&err, "must be lowercase");
    assert_int_equal(imgstore_resolve(st, "sha256:0000", &img, &err), -1);
    expect_err(&err, "image `sha256:0000` not found locally");

    /* Tag, list, remove. */
    assert_int_equal(imgstore_tag(st, "example.com/test:1", "mine", &err), 0);
    assert_int_equal(imgstore_list(st, &e, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_string_equal(e[0].name, "docker.io/library/mine:latest");
    assert_string_equal(e[0].digest, f->manifest);
    assert_string_equal(e[1].name, "example.com/test:1");
    imgstore_entries_free(e, n);
    assert_int_equal(imgstore_resolve(st, "mine", &img, &err), 0);
    imgstore_image_release(&img);
    assert_int_equal(imgstore_remove(st, "mine:latest", &err), 0);
    assert_int_equal(imgstore_resolve(st, "mine", &img, &err), -1);
    ctr_error_free(&err);
    assert_int_equal(imgstore_resolve(st, "example.com/test:1", &img, &err), 0);
    imgstore_image_release(&img);
    assert_int_equal(imgstore_remove(st, "mine", &err), -1);
    expect_err(&err, "not found locally");
    /* Loading again is idempotent. */
    assert_int_equal(imgstore_load_layout(st, f->layout, NULL, NULL, &err), 0);
    assert_int_equal(count_dir(f->root, "content/blobs/sha256"), 3);
    imgstore_close(st);
}

static void test_names(void **state)
{
    struct fx *f = *state;
    struct imgstore *st = open_store(f);
    struct imgstore_image img = {0};
    char **names = NULL;
    ctr_error_t err = NULL;

    make_index(f, "latest", NULL); /* OCI style: a tag only */
    assert_int_equal(imgstore_load_layout(st, f->layout, NULL, NULL, &err), -1);
    expect_err(&err, "named only `latest`");
    make_index(f, NULL, NULL);
    assert_int_equal(imgstore_load_layout(st, f->layout, NULL, NULL, &err), -1);
    expect_err(&err, "no name annotation");
    assert_int_equal(imgstore_load_layout(st, f->layout, "busybox", &names, &err), 0);
    assert_string_equal(names[0], "docker.io/library/busybox:latest");
    ctr_strv_free(names);
    assert_int_equal(imgstore_resolve(st, "docker.io/library/busybox", &img, &err), 0);
    imgstore_image_release(&img);
    assert_int_equal(imgstore_load_layout(st, f->layout, "Bad/Name", NULL, &err), -1);
    expect_err(&err, "lowercase");
    assert_int_equal(imgstore_load_layout(st, "/nonexistent", "x", NULL, &err), -1);
    expect_err(&err, "not an OCI image layout");
    imgstore_close(st);
}

/* Untagged images (kept by id): a load without a name, resolved by id only, replaced by
 * a name, never added for a named image, removed by id. */
static void test_untagged(void **state)
{
    struct fx *f = *state;
    struct imgstore *st = open_store(f);
    struct imgstore_image img = {0};
    struct imgstore_entry *e = NULL;
    char **names = NULL;
    size_t n = 0;
    ctr_error_t err = NULL;

    make_index(f, NULL, NULL);
    assert_int_equal(imgstore_load_layout(st, f->layout, IMGSTORE_UNTAGGED, &names, &err), 0);
    assert_int_equal(strncmp(names[0], "sha256:", 7), 0);
    cleanup_free char *id = ctr_xstrdup(names[0]);
    ctr_strv_free(names);
    assert_int_equal(imgstore_list(st, &e, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_string_equal(e[0].name, "");
    imgstore_entries_free(e, n);
    assert_int_equal(imgstore_resolve(st, id, &img, &err), 0);
    assert_null(img.name);
    imgstore_image_release(&img);
    /* a second load keeps one entry; a name replaces it; untagged is not added back */
    assert_int_equal(imgstore_load_layout(st, f->layout, IMGSTORE_UNTAGGED, NULL, &err), 0);
    assert_int_equal(imgstore_tag(st, id, "x:1", &err), 0);
    assert_int_equal(imgstore_tag_manifest(st, IMGSTORE_UNTAGGED, id, &err), 0);
    assert_int_equal(imgstore_list(st, &e, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_string_equal(e[0].name, "docker.io/library/x:1");
    imgstore_entries_free(e, n);
    /* by id it goes, with every entry */
    assert_int_equal(imgstore_remove(st, "x:1", &err), 0);
    assert_int_equal(imgstore_tag_manifest(st, IMGSTORE_UNTAGGED, id, &err), 0);
    assert_int_equal(imgstore_remove(st, id, &err), 0);
    assert_int_equal(imgstore_list(st, &e, &n, &err), 0);
    assert_int_equal(n, 0);
    imgstore_entries_free(e, n);
    imgstore_close(st);
}

/* A layer whose bytes do not hash to its digest: the load fails, nothing shows up. */
static void test_corrupt_blob_invisible(void **state)
{
    struct fx *f = *state;
    struct imgstore *st = open_store(f);
    struct imgstore_entry *e = NULL;
    ctr_error_t err = NULL;
    char *p = ctr_xasprintf("%s/blobs/sha256/%s", f->layout, oci_digest_hex(f->layer));
    char *data = NULL;
    size_t len, n;

    assert_int_equal(ctr_read_file(p, 1 << 20, &data, &len, NULL), 0);
    data[len / 2] ^= 0x55; /* same size, different content */
    assert_int_equal(ctr_write_file_atomic(p, data, len, 0644, NULL), 0);
    assert_int_equal(imgstore_load_layout(st, f->layout, NULL, NULL, &err), -1);
    expect_err(&err, "does not match its digest");
    assert_false(imgstore_blob_exists(st, f->layer));
    assert_int_equal(count_dir(f->root, "content/ingest"), 0);
    assert_int_equal(imgstore_list(st, &e, &n, &err), 0);
    assert_int_equal(n, 0);
    imgstore_entries_free(e, n);

    /* Truncated: a size mismatch. */
    assert_int_equal(ctr_write_file_atomic(p, data, len - 1, 0644, NULL), 0);
    assert_int_equal(imgstore_load_layout(st, f->layout, NULL, NULL, &err), -1);
    expect_err(&err, "expected");
    assert_false(imgstore_blob_exists(st, f->layer));

    /* Directly: a buffer under the wrong digest. */
    assert_int_equal(imgstore_ingest_buf(st, "abc", 3, f->layer, &err), -1);
    expect_err(&err, "does not match its digest");
    assert_false(imgstore_blob_exists(st, f->layer));
    assert_int_equal(count_dir(f->root, "content/ingest"), 0);
    free(data);
    free(p);
    imgstore_close(st);
}

/* Ingest sessions (what registry pulls use): nothing visible before a verified commit,
 * a partial kept for a resume and hashed again, a mismatch or an abort removes it. */
static void test_ingest_session(void **state)
{
    struct fx *f = *state;
    struct imgstore *st = open_store(f);
    struct imgstore_ingest *in = NULL;
    ctr_error_t err = NULL;
    char d[OCI_DIGEST_STR_LEN + 1], *partial;
    const char data[] = "0123456789abcdefghij";
    struct stat sb;

    oci_digest_buf(data, 20, d);
    partial =
        ctr_xasprintf("%s/content/ingest/resume/sha256-%s.partial", f->root, oci_digest_hex(d));
    /* first attempt: 8 bytes, then the transfer is cut */
    assert_int_equal(imgstore_ingest_open(st, d, 20, &in, &err), 0);
    assert_non_null(in);
    assert_int_equal(imgstore_ingest_offset(in), 0);
    assert_int_equal(imgstore_ingest_write(in, data, 8, &err), 0);
    imgstore_ingest_close(in);
    assert_false(imgstore_blob_exists(st, d));
    assert_int_equal(stat(partial, &sb), 0);
    assert_int_equal(sb.st_size, 8);
    /* cleanup of one-shot leftovers keeps it */
    assert_int_equal(imgstore_ingest_cleanup(st, &err), 0);
    assert_int_equal(stat(partial, &sb), 0);

    /* resumed: the 8 bytes are hashed again; a short commit keeps the partial */
    assert_int_equal(imgstore_ingest_open(st, d, 20, &in, &err), 0);
    assert_int_equal(imgstore_ingest_offset(in), 8);
    assert_int_equal(imgstore_ingest_write(in, data + 8, 4, &err), 0);
    assert_int_equal(imgstore_ingest_commit(in, &err), -1);
    expect_err(&err, "has 12 bytes, expected 20");
    assert_false(imgstore_blob_exists(st, d));
    assert_int_equal(stat(partial, &sb), 0);

    /* more than declared is refused */
    assert_int_equal(imgstore_ingest_open(st, d, 20, &in, &err), 0);
    assert_int_equal(imgstore_ingest_offset(in), 12);
    assert_int_equal(imgstore_ingest_write(in, data, 20, &err), -1);
    expect_err(&err, "larger than the expected 20 bytes");
    /* restart from zero, then the right bytes: committed and visible */
    assert_int_equal(imgstore_ingest_restart(in, &err), 0);
    assert_int_equal(imgstore_ingest_offset(in), 0);
    assert_int_equal(imgstore_ingest_write(in, data, 20, &err), 0);
    assert_int_equal(imgstore_ingest_commit(in, &err), 0);
    assert_true(imgstore_blob_has(st, d, 20));
    assert_false(imgstore_blob_has(st, d, 21));
    assert_int_equal(stat(partial, &sb), -1);
    /* present: nothing to ingest */
    assert_int_equal(imgstore_ingest_open(st, d, 20, &in, &err), 0);
    assert_null(in);

    /* wrong content under a digest: refused, discarded, never visible */
    assert_int_equal(imgstore_ingest_open(st, f->layer, 20, &in, &err), 0);
    assert_int_equal(imgstore_ingest_write(in, data, 20, &err), 0);
    assert_int_equal(imgstore_ingest_commit(in, &err), -1);
    assert_int_equal(err->errnum, EBADMSG);
    expect_err(&err, "failed verification");
    assert_false(imgstore_blob_exists(st, f->layer));
    assert_int_equal(count_dir(f->root, "content/ingest/resume"), 0);

    /* abort removes the partial */
    assert_int_equal(imgstore_ingest_open(st, f->layer, 20, &in, &err), 0);
    assert_int_equal(imgstore_ingest_write(in, data, 5, &err), 0);
    imgstore_ingest_abort(in);
    assert_int_equal(count_dir(f->root, "content/ingest/resume"), 0);
    assert_false(imgstore_blob_exists(st, f->layer));

    /* hostile digests never make a path */
    assert_int_equal(imgstore_ingest_open(st, "sha256:../../x", 1, &in, &err), -1);
    ctr_error_free(&err);
    free(partial);
    imgstore_close(st);
}

/* A writer killed in the middle leaves a file in ingest/ only; cleanup removes it. */
static void test_interrupted_ingest(void **state)
{
    struct fx *f = *state;
    struct imgstore *st = open_store(f);
    const char *digest = f->layer;
    ctr_error_t err = NULL;
    int pfd[2], status;
    pid_t pid;

    assert_int_equal(pipe(pfd), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(pfd[1]);
        imgstore_ingest_fd(st, pfd[0], digest, (int64_t)f->layer_size, NULL);
        _exit(0);
    }
    close(pfd[0]);
    assert_int_equal(write(pfd[1], "partial", 7), 7);
    for (int i = 0; i < 200 && count_dir(f->root, "content/ingest") == 0; i++)
        usleep(10000);
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    close(pfd[1]);
    assert_int_equal(count_dir(f->root, "content/ingest"), 1);
    assert_false(imgstore_blob_exists(st, digest));
    assert_int_equal(imgstore_ingest_cleanup(st, &err), 0);
    assert_int_equal(count_dir(f->root, "content/ingest"), 0);

    /* A later ingest of the same blob works. */
    {
        char *p = ctr_xasprintf("%s/blobs/sha256/%s", f->layout, oci_digest_hex(digest));
        int fd = open(p, O_RDONLY);
        assert_int_equal(imgstore_ingest_fd(st, fd, digest, (int64_t)f->layer_size, &err), 0);
        close(fd);
        free(p);
    }
    assert_true(imgstore_blob_exists(st, digest));
    imgstore_close(st);
}

static void test_blob_read_detects_rot(void **state)
{
    struct fx *f = *state;
    struct imgstore *st = open_store(f);
    struct imgstore_image img = {0};
    ctr_error_t err = NULL;
    char *p;

    assert_int_equal(imgstore_load_layout(st, f->layout, NULL, NULL, &err), 0);
    p = imgstore_blob_path(st, f->config);
    write_file(f->root, "content/blobs/sha256/x", "{}");
    {
        char *x = ctr_xasprintf("%s/content/blobs/sha256/x", f->root);
        assert_int_equal(rename(x, p), 0);
        free(x);
    }
    assert_int_equal(imgstore_resolve(st, "example.com/test:1", &img, &err), -1);
    expect_err(&err, "is corrupt");
    free(p);
    imgstore_close(st);
}

static void test_platforms(void **state)
{
    struct fx *f = *state;
    struct imgstore *st = open_store(f);
    struct imgstore_image img = {0};
    ctr_error_t err = NULL;
    char amd[OCI_DIGEST_STR_LEN + 1];
    size_t amd_size;
    char *ix, *inner;
    char inner_digest[OCI_DIGEST_STR_LEN + 1];

    /* amd64 first, then an arm64 image; a nested index lists both. */
    memcpy(amd, f->manifest, sizeof(amd));
    amd_size = f->manifest_size;
    make_image(f, "arm64");
    inner = ctr_xasprintf("{\"schemaVersion\":2,\"mediaType\":\"" OCI_MT_INDEX "\",\"manifests\":["
                          "{\"mediaType\":\"" OCI_MT_MANIFEST "\",\"digest\":\"%s\",\"size\":%zu,"
                          "\"platform\":{\"os\":\"linux\",\"architecture\":\"arm64\"}},"
                          "{\"mediaType\":\"" OCI_MT_MANIFEST "\",\"digest\":\"%s\",\"size\":%zu,"
                          "\"platform\":{\"os\":\"linux\",\"architecture\":\"amd64\"}}]}",
                          f->manifest, f->manifest_size, amd, amd_size);
    write_blob(f->layout, inner, strlen(inner), inner_digest);
    ix = ctr_xasprintf("{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"" OCI_MT_INDEX
                       "\",\"digest\":\"%s\",\"size\":%zu,\"annotations\":{\"" OCI_ANNOT_REF_NAME
                       "\":\"multi:1\"}}]}",
                       inner_digest, strlen(inner));
    write_file(f->layout, "index.json", ix);
    if (imgstore_load_layout(st, f->layout, NULL, NULL, &err) < 0)
        fail_msg("%s", err->msg);
    assert_int_equal(imgstore_resolve(st, "multi:1", &img, &err), 0);
    assert_string_equal(img.manifest_digest, amd);
    imgstore_image_release(&img);

    /* Only arm64, without a platform in the index: the config gives it away. */
    make_index(f, "arm:1", NULL);
    assert_int_equal(imgstore_load_layout(st, f->layout, NULL, NULL, &err), -1);
    expect_err(&err, "image is for `linux/arm64`; this host runs linux/amd64");
    make_index(f, "arm:1", ",\"platform\":{\"os\":\"linux\",\"architecture\":\"arm64\"}");
    assert_int_equal(imgstore_load_layout(st, f->layout, NULL, NULL, &err), -1);
    expect_err(&err, "no image for linux/amd64");
    free(inner);
    free(ix);
    imgstore_close(st);
}

/* Size of /hello in an ext4 image, read with libext2fs; -1 when absent. */
static long hello_size(const char *image)
{
    ext2_filsys fs = NULL;
    ext2_ino_t ino = 0;
    struct ext2_inode in;
    long size = -1;

    if (ext2fs_open(image, 0, 0, 0, unix_io_manager, &fs) != 0)
        return -1;
    if (ext2fs_namei(fs, EXT2_ROOT_INO, EXT2_ROOT_INO, "hello", &ino) == 0 &&
        ext2fs_read_inode(fs, ino, &in) == 0)
        size = (long)EXT2_I_SIZE(&in);
    ext2fs_close_free(&fs);
    return size;
}

static void test_snapshot_and_bundle(void **state)
{
    struct fx *f = *state;
    struct imgstore *st = open_store(f);
    struct imgstore_image img = {0};
    struct bundle_config cfg = {0};
    ctr_error_t err = NULL;
    char *snap = NULL, *snap2 = NULL, *bdir, *kernel, *rw, *id = NULL;
    char *cmd[] = {"/hello", "x", NULL};
    char *env[] = {"X=2", NULL};
    struct stat s;

    assert_int_equal(imgstore_load_layout(st, f->layout, NULL, NULL, &err), 0);
    assert_int_equal(imgstore_resolve(st, "example.com/test:1", &img, &err), 0);
    if (imgstore_snapshot(st, &img, &snap, &err) < 0)
        fail_msg("%s", err->msg);
    assert_int_equal(hello_size(snap), 2);
    assert_int_equal(stat(snap, &s), 0);
    assert_int_equal(imgstore_snapshot(st, &img, &snap2, &err), 0);
    assert_string_equal(snap, snap2);
    imgstore_image_release(&img);
    imgstore_close(st);

    kernel = ctr_xasprintf("%s/vmlinux", f->tmp);
    write_file(f->tmp, "vmlinux", "k");
    write_file(f->tmp, "initrd", "i");
    bdir = ctr_xasprintf("%s/bundle", f->tmp);
    {
        struct bundle_create_paths paths = {f->root, kernel, NULL};
        struct bundle_create_opts o = {.image = "example.com/test:1",
                                       .cmd = cmd,
                                       .env = env,
                                       .memory = "256m",
                                       .interactive = true};
        if (bundle_create(&paths, &o, bdir, &id, &err) < 0)
            fail_msg("%s", err->msg);
    }
    if (bundle_config_load(bdir, &cfg, &err) < 0)
        fail_msg("%s", err->msg);
    assert_string_equal(cfg.id, id);
    assert_string_equal(cfg.process.args[0], "/hello");
    assert_string_equal(cfg.process.args[1], "x");
    assert_string_equal(cfg.process.cwd, "/etc");
    assert_string_equal(cfg.process.user, "1000");
    assert_string_equal(cfg.process.env[0], "PATH=/bin");
    assert_string_equal(cfg.process.env[2], "X=2");
    assert_int_equal(cfg.vm.memory_mib, 256);
    assert_int_equal(cfg.vm.cpus, BUNDLE_CREATE_DEFAULT_CPUS);
    assert_true(cfg.open_stdin);
    assert_int_equal(cfg.n_disks, 2);
    assert_string_equal(cfg.disks[0].path, snap);
    assert_true(cfg.disks[0].readonly);
    assert_false(cfg.disks[1].readonly);
    assert_int_equal(strncmp(cfg.setup.hostname, id, 12), 0);
    /* The writable disk is sparse: 8 GiB apparent, almost nothing allocated. */
    rw = cfg.disks[1].path;
    assert_int_equal(stat(rw, &s), 0);
    assert_int_equal((uint64_t)s.st_size, BUNDLE_CREATE_DISK_SIZE);
    assert_true((uint64_t)s.st_blocks * 512 < (64u << 20));
    bundle_config_release(&cfg);

    /* Refusals leave nothing behind. */
    {
        char *b2 = ctr_xasprintf("%s/bundle2", f->tmp);
        struct bundle_create_paths paths = {f->root, kernel, NULL};
        struct bundle_create_opts o = {.image = "nope"};
        assert_int_equal(bundle_create(&paths, &o, b2, NULL, &err), -1);
        expect_err(&err, "image `nope` not found locally");
        assert_int_equal(access(b2, F_OK), -1);
        o.image = "example.com/test:1";
        o.memory = "64m";
        assert_int_equal(bundle_create(&paths, &o, b2, NULL, &err), -1);
        expect_err(&err, "below the minimum of 128 MiB");
        o.memory = NULL;
        assert_int_equal(bundle_create(&paths, &o, bdir, NULL, &err), -1);
        expect_err(&err, "already has a config.json");
        paths.kernel = "/nonexistent/vmlinux";
        assert_int_equal(bundle_create(&paths, &o, b2, NULL, &err), -1);
        expect_err(&err, "kernel `/nonexistent/vmlinux`");
        assert_int_equal(access(b2, F_OK), -1);
        free(b2);
    }
    free(snap);
    free(snap2);
    free(bdir);
    free(kernel);
    free(id);
}

/* Several processes mutating at once: the flock keeps every update. */
static void test_concurrent(void **state)
{
    struct fx *f = *state;
    struct imgstore *st = open_store(f);
    struct imgstore_entry *e = NULL;
    struct imgstore_image img = {0};
    ctr_error_t err = NULL;
    pid_t kids[6];
    size_t n;
    char *snap = NULL;

    assert_int_equal(imgstore_load_layout(st, f->layout, NULL, NULL, &err), 0);
    imgstore_close(st);
    for (int k = 0; k < 6; k++) {
        kids[k] = fork();
        assert_true(kids[k] >= 0);
        if (kids[k] == 0) {
            struct imgstore *cs = NULL;
            struct imgstore_image ci = {0};
            char *path = NULL;
            int bad = 0;
            if (imgstore_open(f->root, &cs, NULL) < 0)
                _exit(1);
            if (k < 4) {
                for (int i = 0; i < 10; i++) {
                    char *name = ctr_xasprintf("c%d:t%d", k, i);
                    bad |= imgstore_tag_manifest(cs, name, f->manifest, NULL) < 0;
                    free(name);
                }
            } else {
                bad |= imgstore_resolve(cs, "example.com/test:1", &ci, NULL) < 0 ||
                       imgstore_snapshot(cs, &ci, &path, NULL) < 0;
                imgstore_image_release(&ci);
                free(path);
            }
            imgstore_close(cs);
            _exit(bad);
        }
    }
    for (int k = 0; k < 6; k++) {
        int status;
        assert_int_equal(waitpid(kids[k], &status, 0), kids[k]);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    st = open_store(f);
    assert_int_equal(imgstore_list(st, &e, &n, &err), 0);
    assert_int_equal(n, 41);
    imgstore_entries_free(e, n);
    assert_int_equal(imgstore_resolve(st, "c3:t9", &img, &err), 0);
    assert_int_equal(imgstore_snapshot(st, &img, &snap, &err), 0);
    assert_int_equal(hello_size(snap), 2);
    assert_int_equal(count_dir(f->root, "snapshots"), 1);
    free(snap);
    imgstore_image_release(&img);
    imgstore_close(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_load_resolve, setup, teardown),
        cmocka_unit_test_setup_teardown(test_names, setup, teardown),
        cmocka_unit_test_setup_teardown(test_untagged, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_blob_invisible, setup, teardown),
        cmocka_unit_test_setup_teardown(test_interrupted_ingest, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ingest_session, setup, teardown),
        cmocka_unit_test_setup_teardown(test_blob_read_detects_rot, setup, teardown),
        cmocka_unit_test_setup_teardown(test_platforms, setup, teardown),
        cmocka_unit_test_setup_teardown(test_snapshot_and_bundle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
