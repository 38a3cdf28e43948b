/* libFuzzer target: arbitrary bytes as one layer stream (tar, or gzip/zstd
 * compressed tar: the unpacker sniffs), unpacked into a fixed-size image,
 * which is then read back. Built and run by tests/fuzz/run.sh. */
#include "ext4/ext4.h"
#include "image/unpack.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static char *out;

static int count(const struct ext4w_entry *e, void *ctx, ctr_error_t *err)
{
    (*(size_t *)ctx)++;
    return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char tmpl[] = "/tmp/fuzz-unpack.XXXXXX";
    if (mkdtemp(tmpl) == NULL)
        abort();
    out = ctr_xasprintf("%s/image.ext4", tmpl);
    ctr_log_set_level(CTR_LOG_ERROR);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int fd = memfd_create("layer", MFD_CLOEXEC);
    if (fd < 0 || ctr_write_all(fd, data, size) != (ssize_t)size)
        abort();
    struct unpack_layer l = {.fd = fd, .digest = "sha256:fuzz"};
    struct unpack_opts o = {.size = 32 << 20, .root_time = 1};
    ctr_error_t err = NULL;
    if (unpack_layers(out, &l, 1, &o, NULL, &err) == 0) {
        size_t n = 0;
        /* what was written must read back */
        if (ext4w_walk(out, EXT4W_WALK_HASH, count, &n, &err) < 0 || n == 0) {
            fprintf(stderr, "read back failed: %s\n", err ? err->msg : "no entries");
            abort();
        }
        unlink(out);
    } else if (err == NULL || err->msg == NULL || strstr(err->msg, "sha256:fuzz") == NULL) {
        /* every refusal names the layer */
        fprintf(stderr, "error without the layer name: %s\n", err ? err->msg : "(none)");
        abort();
    }
    ctr_error_free(&err);
    close(fd);
    return 0;
}
