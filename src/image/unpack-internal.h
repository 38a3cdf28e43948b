/* Private to the unpacker (src/image/unpack*.c). */
#ifndef CTR_IMAGE_UNPACK_INTERNAL_H
#define CTR_IMAGE_UNPACK_INTERNAL_H

#include "ext4/ext4.h"
#include "image/unpack.h"

#include <archive.h>
#include <archive_entry.h>

/* State while one layer is applied. */
struct unpack_apply {
    ext4w_t *w;
    struct archive *a;
    uint32_t layer; /* 1-based; nodes created by this layer carry it as their tag */
    uint64_t entries;
    char *last; /* name of the last entry applied, for messages (owned) */
};

/* Apply one tar entry to the image. Errors are not yet wrapped with the
 * layer and entry names. */
int unpack_apply_entry(struct unpack_apply *ap, struct archive_entry *e, const char *name,
                       ctr_error_t *err);

/* Read a layer stream (already opened by libarchive) entry by entry. */
int unpack_apply_layer(struct unpack_apply *ap, const char *digest, ctr_error_t *err);

#endif
