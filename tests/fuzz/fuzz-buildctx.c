/* libFuzzer target: arbitrary bytes as a build context stream (src/build: `docker build -`,
 * the body of POST /build): plain or compressed tar, or a bare Dockerfile. The index is
 * built, then COPY and ADD resolve a few sources against it (the whole context,
 * wildcards, `..`, symlinks), and the layer and cache key are made. Either step may
 * fail with a message; nothing may crash, leak, hit UB or leave the layer's root.
 * Seeds: the hostile layers of tests/fixtures/make-layers-hostile.py. */
#include "build/build.h"

#include <archive.h>
#include <archive_entry.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* A path that is absolute or has a `..` element. */
static bool outside(const char *p)
{
    size_t n = strlen(p);
    return p[0] == '/' || strcmp(p, "..") == 0 || strncmp(p, "../", 3) == 0 || strstr(p, "/../") ||
           (n >= 3 && strcmp(p + n - 3, "/..") == 0);
}

/* Every name of the layer written stays below the root. */
static void check_layer(int fd)
{
    lseek(fd, 0, SEEK_SET);
    struct archive *a = archive_read_new();
    archive_read_support_format_tar(a);
    struct archive_entry *ae;
    if (archive_read_open_fd(a, fd, 65536) == ARCHIVE_OK)
        while (archive_read_next_header(a, &ae) == ARCHIVE_OK) {
            const char *p = archive_entry_pathname(ae);
            if (outside(p))
                abort();
        }
    archive_read_free(a);
}

static void copy(struct df_ctx *c, const char *cmd, const char *src, const char *dest)
{
    char *srcs[] = {(char *)src, NULL};
    char *ex[] = {"*.md", NULL};
    struct df_copy_opts o = {.srcs = srcs,
                             .dest = dest,
                             .workdir = "/w",
                             .cmd = cmd,
                             .exclude = ex,
                             .chmod = "u+x,go-w",
                             .chown = "1:2"};
    struct df_copy_plan p;
    ctr_error_t err = NULL;
    if (df_copy_resolve(c, &o, &p, &err) < 0) {
        ctr_error_free(&err);
        return;
    }
    char *key = df_copy_cache_key(c, &p, "COPY", &err);
    free(key);
    ctr_error_free(&err);
    int fd = memfd_create("layer", MFD_CLOEXEC);
    char *diff_id = NULL;
    if (df_copy_write_layer(c, &p, fd, &diff_id, NULL, &err) == 0)
        check_layer(fd);
    ctr_error_free(&err);
    free(diff_id);
    close(fd);
    df_copy_plan_release(&p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    int fd = memfd_create("ctx", MFD_CLOEXEC);
    if (fd < 0 || write(fd, data, size) != (ssize_t)size)
        abort();
    lseek(fd, 0, SEEK_SET);
    struct df_ctx *c = NULL;
    ctr_error_t err = NULL;
    if (df_ctx_from_stream(fd, tmp, NULL, &c, &err) == 0) {
        for (size_t i = 0; i < c->n; i++) {
            if (outside(c->v[i].path))
                abort();
            if (df_ctx_hash(c, &c->v[i], &err) == NULL)
                ctr_error_free(&err);
        }
        copy(c, "COPY", ".", "/app/");
        copy(c, "COPY", "*", "/d/");
        copy(c, "COPY", "../*/x*", "x");
        copy(c, "ADD", "*", "/");
        df_ctx_free(c);
    } else {
        ctr_error_free(&err);
    }
    close(fd);
    return 0;
}
