/* Unpack orchestration: open the layers, size the image, apply every layer
 * in order, retry with a bigger image when full, publish by rename. */
#include "image/unpack-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

extern char **environ;

#define MIB (1024ULL * 1024)
#define UNPACK_MAX_ATTEMPTS 6

struct src {
    int fd;
    bool own;
    const char *name;  /* digest or path, for messages */
    int filter;        /* expected ARCHIVE_FILTER_*, or -1 to accept what is sniffed */
    uint64_t size;     /* bytes in the file */
    uint64_t estimate; /* uncompressed bytes, estimated */
};

const char *unpack_media_compression(const char *mt)
{
    static const char *const prefixes[] = {"application/vnd.oci.image.layer.",
                                           "application/vnd.docker.image.rootfs."};
    bool known = false;
    size_t l;

    if (mt == NULL)
        return NULL;
    for (size_t i = 0; i < 2; i++)
        if (strncmp(mt, prefixes[i], strlen(prefixes[i])) == 0)
            known = true;
    l = strlen(mt);
    if (!known || l < 4)
        return NULL;
    if (l > 5 && (strcmp(mt + l - 5, "+gzip") == 0 || strcmp(mt + l - 5, ".gzip") == 0))
        return "gzip";
    if (l > 5 && (strcmp(mt + l - 5, "+zstd") == 0 || strcmp(mt + l - 5, ".zstd") == 0))
        return "zstd";
    if (strcmp(mt + l - 4, ".tar") == 0)
        return "none";
    return NULL;
}

/* Frame_Content_Size of a zstd frame header, 0 when absent. */
static uint64_t zstd_content_size(const uint8_t *h, size_t n)
{
    static const size_t did_len[4] = {0, 1, 2, 4};
    if (n < 6)
        return 0;
    uint8_t fhd = h[4];
    unsigned fcs_flag = fhd >> 6, single = (fhd >> 5) & 1;
    size_t pos = 5 + (single ? 0 : 1) + did_len[fhd & 3];
    size_t fcs_len = fcs_flag == 0 ? (single ? 1 : 0) : (size_t)1 << fcs_flag;
    if (fcs_len == 0 || pos + fcs_len > n)
        return 0;
    uint64_t v = 0;
    for (size_t i = 0; i < fcs_len; i++)
        v |= (uint64_t)h[pos + i] << (8 * i);
    return fcs_len == 2 ? v + 256 : v;
}

static void estimate(struct src *s)
{
    uint8_t h[18] = {0}, t[4];
    ssize_t n = pread(s->fd, h, sizeof(h), 0);

    s->estimate = s->size;
    if (n >= 2 && h[0] == 0x1f && h[1] == 0x8b) {
        /* gzip trailer: uncompressed size modulo 4 GiB */
        uint64_t isize = 0;
        if (s->size >= 18 && pread(s->fd, t, 4, (off_t)s->size - 4) == 4)
            isize = t[0] | (uint32_t)t[1] << 8 | (uint32_t)t[2] << 16 | (uint32_t)t[3] << 24;
        while (isize < s->size / 2 && isize + (4ULL << 30) < s->size * 1100)
            isize += 4ULL << 30;
        s->estimate = isize > s->size / 2 ? isize : s->size * 5;
    } else if (n >= 4 && h[0] == 0x28 && h[1] == 0xb5 && h[2] == 0x2f && h[3] == 0xfd) {
        uint64_t fcs = zstd_content_size(h, (size_t)n);
        s->estimate = fcs ? fcs : s->size * 6;
    }
}

static int open_sources(const struct unpack_layer *layers, size_t n, struct src *srcs,
                        ctr_error_t *err)
{
    for (size_t i = 0; i < n; i++) {
        struct src *s = &srcs[i];
        const struct unpack_layer *l = &layers[i];
        struct stat st;
        s->name = l->digest ? l->digest : (l->path ? l->path : "(fd)");
        s->filter = -1;
        if (l->media_type) {
            const char *c = unpack_media_compression(l->media_type);
            if (c == NULL)
                return ctr_fail(err, EINVAL,
                                "layer `%s`: media type `%s` is not a layer type "
                                "this unpacker reads",
                                s->name, l->media_type);
            s->filter = strcmp(c, "gzip") == 0   ? ARCHIVE_FILTER_GZIP
                        : strcmp(c, "zstd") == 0 ? ARCHIVE_FILTER_ZSTD
                                                 : ARCHIVE_FILTER_NONE;
        }
        if (l->path) {
            s->fd = open(l->path, O_RDONLY | O_CLOEXEC);
            if (s->fd < 0)
                return ctr_fail(err, errno, "layer `%s`: cannot open `%s`", s->name, l->path);
            s->own = true;
        } else {
            s->fd = l->fd;
        }
        if (fstat(s->fd, &st) < 0)
            return ctr_fail(err, errno, "layer `%s`: cannot stat", s->name);
        s->size = S_ISREG(st.st_mode) ? (uint64_t)st.st_size : 0;
        if (S_ISREG(st.st_mode))
            estimate(s);
    }
    return 0;
}

static const char *filter_name(int code)
{
    switch (code) {
    case ARCHIVE_FILTER_NONE:
        return "plain tar";
    case ARCHIVE_FILTER_GZIP:
        return "gzip";
    case ARCHIVE_FILTER_ZSTD:
        return "zstd";
    default:
        return "another compression";
    }
}

/* Decompression runs in its own archive object (filters + raw format) that
 * feeds the tar reader. After the tar end marker the rest of the stream is
 * drained, so that gzip/zstd trailers (checksums) are verified as well: the
 * tar reader alone stops at the end marker and never sees them. */
struct stream {
    struct archive *outer;
    bool eof;
    bool gzip_check; /* single-member gzip trailer to verify at the end */
    uint32_t want_crc, want_isize;
    uLong crc;
    uint64_t total;
};

static la_ssize_t stream_read(struct archive *inner, void *ctx, const void **buf)
{
    struct stream *s = ctx;
    size_t len;
    la_int64_t off;

    if (s->eof)
        return 0;
    int r = archive_read_data_block(s->outer, buf, &len, &off);
    if (r == ARCHIVE_EOF) {
        s->eof = true;
        return 0;
    }
    if (r < ARCHIVE_WARN) {
        const char *m = archive_error_string(s->outer);
        archive_set_error(inner, archive_errno(s->outer) > 0 ? archive_errno(s->outer) : EIO, "%s",
                          m ? m : "cannot decompress the layer");
        return -1;
    }
    s->total += len;
    if (s->gzip_check)
        s->crc = crc32(s->crc, *buf, (uInt)len);
    return (la_ssize_t)len;
}

/* libarchive does not check the CRC-32 of gzip members. A corrupt deflate
 * stream can still decode, so check the trailer of a single-member gzip
 * file here. When the trailer's length does not match, the file has several
 * members (eStargz does that) and only the last one's trailer is at hand:
 * then the check is skipped. */
static void gzip_trailer(struct stream *st, const struct src *s)
{
    uint8_t t[8];
    if (s->size < 18 || pread(s->fd, t, 8, (off_t)s->size - 8) != 8)
        return;
    st->want_crc = t[0] | (uint32_t)t[1] << 8 | (uint32_t)t[2] << 16 | (uint32_t)t[3] << 24;
    st->want_isize = t[4] | (uint32_t)t[5] << 8 | (uint32_t)t[6] << 16 | (uint32_t)t[7] << 24;
    st->gzip_check = true;
    st->crc = crc32(0, NULL, 0);
}

static int gzip_verify(const struct stream *st, const struct src *s, const char *last,
                       ctr_error_t *err)
{
    if (!st->gzip_check || (uint32_t)st->total != st->want_isize)
        return 0;
    if ((uint32_t)st->crc != st->want_crc)
        return ctr_fail(err, 0,
                        "layer `%s`: after entry `%s`: gzip checksum mismatch (crc32 "
                        "%08x, trailer says %08x): the layer is corrupt",
                        s->name, last ? last : "(none)", (uint32_t)st->crc, st->want_crc);
    return 0;
}

static int apply_one(ext4w_t *w, struct src *s, uint32_t layer, struct unpack_layer_stats *ls,
                     bool verbose, ctr_error_t *err)
{
    struct stream st = {.outer = archive_read_new()};
    struct unpack_apply ap = {0};
    struct archive *a = archive_read_new();
    struct archive_entry *raw;
    int ret = -1, r;
    uint64_t t0 = ctr_now_ns();

    archive_read_support_filter_gzip(st.outer);
    archive_read_support_filter_zstd(st.outer);
    archive_read_support_format_raw(st.outer);
    archive_read_support_format_tar(a);
    archive_read_support_format_empty(a);
    if (archive_read_open_fd(st.outer, s->fd, 1 << 20) != ARCHIVE_OK ||
        (r = archive_read_next_header(st.outer, &raw)) < ARCHIVE_WARN) {
        ctr_fail(err, 0, "layer `%s`: at the first entry: %s", s->name,
                 archive_error_string(st.outer) ? archive_error_string(st.outer)
                                                : "cannot read the layer");
        goto out;
    }
    int code = archive_filter_code(st.outer, 0);
    if (s->filter >= 0 && code != s->filter) {
        ctr_fail(err, 0, "layer `%s`: media type says %s but the data is %s", s->name,
                 filter_name(s->filter), filter_name(code));
        goto out;
    }
    st.eof = r == ARCHIVE_EOF;
    if (code == ARCHIVE_FILTER_GZIP)
        gzip_trailer(&st, s);
    if (archive_read_open(a, &st, NULL, stream_read, NULL) != ARCHIVE_OK) {
        ctr_fail(err, 0, "layer `%s`: at the first entry: %s", s->name,
                 archive_error_string(a) ? archive_error_string(a) : "not a tar stream");
        goto out;
    }
    ap.w = w;
    ap.a = a;
    ap.layer = layer;
    ext4w_set_new_tag(w, layer);
    if (unpack_apply_layer(&ap, s->name, err) < 0)
        goto out;
    while (!st.eof) {
        const void *b;
        if (stream_read(a, &st, &b) < 0) {
            ctr_fail(err, 0, "layer `%s`: after entry `%s`: %s", s->name,
                     ap.last ? ap.last : "(none)", archive_error_string(a));
            goto out;
        }
    }
    if (gzip_verify(&st, s, ap.last, err) < 0)
        goto out;
    ls->entries = ap.entries;
    ls->ns = ctr_now_ns() - t0;
    if (verbose)
        log_info("layer %u `%s`: %llu entries in %.3f s", layer, s->name,
                 (unsigned long long)ls->entries, (double)ls->ns / 1e9);
    ret = 0;
out:
    free(ap.last);
    archive_read_free(a);
    archive_read_free(st.outer);
    return ret;
}

static int attempt(const char *tmp, struct src *srcs, size_t n, const struct unpack_opts *o,
                   uint64_t size, uint64_t inodes, struct unpack_stats *st, ctr_error_t *err)
{
    struct ext4w_opts eo = {.size_bytes = size, .inodes = inodes, .root_time = o->root_time};
    struct ext4w_usage u;
    ext4w_t *w;

    if (ext4w_create(tmp, &eo, &w, err) < 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (lseek(srcs[i].fd, 0, SEEK_SET) < 0 && srcs[i].own) {
            ext4w_discard(w);
            return ctr_fail(err, errno, "layer `%s`: cannot rewind", srcs[i].name);
        }
        if (apply_one(w, &srcs[i], (uint32_t)i + 1, &st->layers[i], o->verbose, err) < 0) {
            ext4w_discard(w);
            return -1;
        }
    }
    ext4w_usage(w, &u);
    st->used_bytes = u.blocks_used * u.block_size;
    st->inodes_used = u.inodes_used;
    st->image_size = size / u.block_size * u.block_size;
    return ext4w_close(w, err);
}

/* Shrink the finished image to the blocks in use. resize2fs moves what must
 * move; the image is new and never mounted, so no check is needed first. */
static int shrink(const char *tmp, struct unpack_stats *st, ctr_error_t *err)
{
    const char *resize2fs = getenv("CTR_RESIZE2FS") ? getenv("CTR_RESIZE2FS") : "resize2fs";
    char *const argv[] = {(char *)resize2fs, "-M", (char *)tmp, NULL};
    posix_spawn_file_actions_t fa;
    char log[] = "/tmp/unpack-shrink.XXXXXX";
    int lfd = mkstemp(log), status = 0;
    pid_t pid;
    uint64_t t0 = ctr_now_ns();

    if (lfd < 0)
        return ctr_fail(err, errno, "cannot create a log file for resize2fs");
    unlink(log);
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, lfd, STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&fa, lfd, STDERR_FILENO);
    int rc = posix_spawnp(&pid, resize2fs, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) {
        close(lfd);
        return ctr_fail(err, rc, "cannot run `%s` to shrink the image", resize2fs);
    }
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        char out[512] = "";
        ssize_t n = pread(lfd, out, sizeof(out) - 1, 0);
        out[n > 0 ? n : 0] = 0;
        close(lfd);
        return ctr_fail(err, 0, "`%s -M` failed to shrink the image: %s", resize2fs, out);
    }
    close(lfd);
    struct stat sb;
    if (stat(tmp, &sb) == 0)
        st->image_size = (uint64_t)sb.st_size;
    st->shrink_ns = ctr_now_ns() - t0;
    return 0;
}

void unpack_stats_free(struct unpack_stats *st)
{
    if (st) {
        free(st->layers);
        st->layers = NULL;
    }
}

int unpack_layers(const char *out, const struct unpack_layer *layers, size_t n,
                  const struct unpack_opts *o, struct unpack_stats *stats, ctr_error_t *err)
{
    struct src *srcs = ctr_xcalloc(n ? n : 1, sizeof(*srcs));
    struct unpack_stats st = {.nlayers = n};
    cleanup_free char *tmp = ctr_xasprintf("%s.tmp-XXXXXX", out);
    uint64_t total = 0, size, inodes;
    bool seekable = true;
    int ret = -1, fd;
    uint64_t t0 = ctr_now_ns();

    for (size_t i = 0; i < n; i++)
        srcs[i].fd = -1;
    st.layers = ctr_xcalloc(n ? n : 1, sizeof(*st.layers));
    if (open_sources(layers, n, srcs, err) < 0)
        goto out;
    for (size_t i = 0; i < n; i++) {
        total += srcs[i].estimate;
        if (lseek(srcs[i].fd, 0, SEEK_CUR) < 0)
            seekable = false;
    }
    /* Sparse image: room costs nothing until written, so be generous; small
     * files take a whole block each, hence the factor. */
    size = o->size ? o->size : (2 * total + 128 * MIB + MIB - 1) / MIB * MIB;
    if (!o->size && o->initial_size)
        size = o->initial_size;
    inodes = o->size ? 0 : total / 8192 + 16384;

    fd = mkstemp(tmp);
    if (fd < 0) {
        ctr_fail(err, errno, "cannot create a temporary image next to `%s`", out);
        goto out;
    }
    close(fd);
    for (;;) {
        st.attempts++;
        ret = attempt(tmp, srcs, n, o, size, inodes, &st, err);
        if (ret == 0 || (*err)->errnum != ENOSPC || o->size || !seekable ||
            st.attempts >= UNPACK_MAX_ATTEMPTS)
            break;
        log_debug("image of %llu bytes too small, retrying with twice that",
                  (unsigned long long)size);
        ctr_error_free(err);
        size *= 2;
        inodes *= 2;
    }
    if (ret < 0) {
        if ((*err)->errnum == ENOSPC)
            ctr_error_wrap(err, "image of %llu bytes%s", (unsigned long long)size,
                           o->size ? " (the size asked for)" : "");
        unlink(tmp);
        goto out;
    }
    if (o->shrink && shrink(tmp, &st, err) < 0) {
        ret = -1;
        unlink(tmp);
        goto out;
    }
    if (chmod(tmp, 0644) < 0 || rename(tmp, out) < 0) {
        ret = ctr_fail(err, errno, "cannot move the image into place at `%s`", out);
        unlink(tmp);
        goto out;
    }
    {
        cleanup_free char *d = ctr_xstrdup(out);
        int dfd = open(dirname(d), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
            fsync(dfd);
            close(dfd);
        }
    }
    st.total_ns = ctr_now_ns() - t0;
    if (stats) {
        *stats = st;
        st.layers = NULL;
    }
out:
    for (size_t i = 0; i < n; i++)
        if (srcs[i].own && srcs[i].fd >= 0)
            close(srcs[i].fd);
    free(srcs);
    free(st.layers);
    return ret;
}
