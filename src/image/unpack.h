/* Unpack: apply an ordered list of OCI layers (tar, tar+gzip, tar+zstd) onto
 * one new ext4 image, written directly with the ext4 writer. Nothing from a
 * layer ever touches the host filesystem: paths are resolved inside the
 * image only. The image is written to `OUT.tmp-XXXXXX` and renamed into place
 * at the end; on any error the temp file is removed and the error names the
 * layer digest and the entry.
 *
 * Every non-static symbol carries the `unpack_` prefix. */
#ifndef CTR_IMAGE_UNPACK_H
#define CTR_IMAGE_UNPACK_H

#include "common/common.h"

#include <stdbool.h>
#include <stdint.h>

struct unpack_layer {
    const char *path;       /* layer file, or NULL to use fd */
    int fd;                 /* used when path is NULL; seekable to allow a retry */
    const char *media_type; /* OCI/docker layer media type, NULL: sniff the magic */
    const char *digest;     /* for messages; NULL: the path */
};

struct unpack_opts {
    uint64_t size;         /* fixed image size in bytes; 0: estimate and grow when full */
    uint64_t initial_size; /* with size 0: start from this instead of the estimate */
    int64_t root_time;     /* times of the root dir when no layer sets them (0: now) */
    bool verbose;          /* log one line per layer */
    bool shrink;           /* shrink the image to its used size at the end (resize2fs -M) */
};

struct unpack_layer_stats {
    uint64_t ns;
    uint64_t entries;
};

struct unpack_stats {
    uint64_t total_ns;
    uint64_t image_size; /* apparent size of the image file */
    uint64_t used_bytes; /* blocks in use inside the image */
    uint64_t inodes_used;
    unsigned attempts;  /* 1 + the number of times the image was too small */
    uint64_t shrink_ns; /* time spent shrinking, with opts.shrink */
    size_t nlayers;
    struct unpack_layer_stats *layers; /* nlayers entries, free with unpack_stats_free */
};

/* Kind of compression a media type names: "none", "gzip", "zstd", or NULL
 * when the media type is not a layer type we read. */
const char *unpack_media_compression(const char *media_type);

int unpack_layers(const char *out, const struct unpack_layer *layers, size_t n,
                  const struct unpack_opts *opts, struct unpack_stats *stats, ctr_error_t *err);
void unpack_stats_free(struct unpack_stats *st);

#endif
