/* Shared by the src/image/store*.c files only. */
#ifndef CTR_IMAGE_STORE_INTERNAL_H
#define CTR_IMAGE_STORE_INTERNAL_H

#include "image/store.h"

struct imgstore {
    char *root;
    int lock_fd;
    int lock_depth; /* the flock is taken once, nested calls count */
};

#define IMGSTORE_INDEX_MAX (16u << 20) /* images.json */

/* Exclusive flock on <root>/lock around mutations (re-entrant within st). */
int imgstore_lock(struct imgstore *st, ctr_error_t *err);
void imgstore_unlock(struct imgstore *st);

/* images.json */
int imgstore_index_read(struct imgstore *st, struct imgstore_entry **out, size_t *n,
                        ctr_error_t *err);
int imgstore_index_write(struct imgstore *st, const struct imgstore_entry *e, size_t n,
                         ctr_error_t *err);
/* Set name → digest (caller holds the lock). */
int imgstore_index_set(struct imgstore *st, const char *name, const char *digest, ctr_error_t *err);

/* Read and parse an image by manifest digest; checks the config's platform. */
int imgstore_image_load(struct imgstore *st, const char *name, const char *manifest_digest,
                        struct imgstore_image *out, ctr_error_t *err);

#endif
