/* The local image store under a data root (see docs/images.md):
 *
 *   <root>/content/blobs/sha256/<hex>   verified blobs (manifests, configs, layers)
 *   <root>/content/ingest/              blobs being written; never read as content
 *   <root>/content/ingest/resume/       partial transfers kept for a resume
 *   <root>/images.json                  reference name → manifest digest (atomic writes)
 *   <root>/snapshots/<manifest-hex>/    image.ext4 (all layers, in order) + config.json
 *   <root>/lock                         flock held around every mutation
 *
 * A blob becomes visible only after its digest and size were checked.
 * Every symbol carries the `imgstore_` prefix. */
#ifndef CTR_IMAGE_STORE_H
#define CTR_IMAGE_STORE_H

#include "oci/oci.h"

#define IMGSTORE_SNAPSHOT_FILE "image.ext4"

struct imgstore;

/* Open (creating the layout if needed). */
int imgstore_open(const char *root, struct imgstore **out, ctr_error_t *err);
void imgstore_close(struct imgstore *st);
const char *imgstore_root(const struct imgstore *st);

/* ---- content ---- */
/* Path of a blob (whether or not it exists). digest must be valid. */
char *imgstore_blob_path(const struct imgstore *st, const char *digest);
bool imgstore_blob_exists(const struct imgstore *st, const char *digest);
/* Present with `size` bytes (size < 0: any size). */
bool imgstore_blob_has(const struct imgstore *st, const char *digest, int64_t size);
/* Read a (small) blob, checking its digest again. */
int imgstore_blob_read(const struct imgstore *st, const char *digest, size_t max, char **out,
                       size_t *len, ctr_error_t *err);

/* Ingest sessions: the only way content enters the store (registry pulls use them).
 * Open one for an expected digest and size, write, then commit: size and digest are
 * checked and only then is the blob renamed into place. The partial file
 * (content/ingest/resume/sha256-<hex>.partial) outlives a transfer cut short, and the
 * next session of the same digest resumes it: its bytes are hashed again on open and
 * imgstore_ingest_offset says how many there are. One writer per digest, across threads
 * and processes (flock: the others wait). */
struct imgstore_ingest;
/* *out is NULL (and 0 returned) when the blob is already present. */
int imgstore_ingest_open(struct imgstore *st, const char *digest, int64_t size,
                         struct imgstore_ingest **out, ctr_error_t *err);
uint64_t imgstore_ingest_offset(const struct imgstore_ingest *in);
/* Append; more than the expected size is refused. */
int imgstore_ingest_write(struct imgstore_ingest *in, const void *buf, size_t len,
                          ctr_error_t *err);
/* Drop what was written and start again from byte 0. */
int imgstore_ingest_restart(struct imgstore_ingest *in, ctr_error_t *err);
/* Verify size and digest, then make the blob visible. A digest mismatch (class EBADMSG:
 * "blob `D` failed verification ...") removes the partial; a short one stays for a
 * resume. Frees the session either way. */
int imgstore_ingest_commit(struct imgstore_ingest *in, ctr_error_t *err);
/* Free the session, keeping the partial for a later resume. */
void imgstore_ingest_close(struct imgstore_ingest *in);
/* Free the session and remove the partial. */
void imgstore_ingest_abort(struct imgstore_ingest *in);

/* One-shot ingests (through ingest/<pid>-<random>): copy fd to EOF / a buffer, check
 * digest and size (size < 0: not checked), rename into place. Nothing is visible on
 * failure. */
int imgstore_ingest_fd(struct imgstore *st, int fd, const char *digest, int64_t size,
                       ctr_error_t *err);
int imgstore_ingest_buf(struct imgstore *st, const void *buf, size_t len, const char *digest,
                        ctr_error_t *err);
/* Remove one-shot ingest files whose writer is gone (crash leftovers). */
int imgstore_ingest_cleanup(struct imgstore *st, ctr_error_t *err);

/* ---- images ---- */
/* The name of an untagged image, kept by id (Docker's `<none>:<none>`, "dangling"): a
 * commit or import without a name, an archive saved by id. A name given to the image
 * later replaces it; an image that has a name never gets one. */
#define IMGSTORE_UNTAGGED ""
struct imgstore_entry {
    char *name;   /* fully qualified: docker.io/library/busybox:latest; "" untagged */
    char *digest; /* manifest digest */
    int64_t created_ns;
};
void imgstore_entries_free(struct imgstore_entry *e, size_t n);

/* A resolved image: its manifest and config, parsed. */
struct imgstore_image {
    char *name; /* as stored, or NULL when resolved by digest */
    char *manifest_digest;
    struct oci_manifest manifest;
    char *config_digest;
    struct oci_image_config config;
    int64_t size; /* manifest + config + compressed layers */
};
void imgstore_image_release(struct imgstore_image *img);

/* Load an OCI image layout directory: pick the host platform from index.json
 * (nested indexes followed), copy and verify every blob, tag. The name is
 * `name` if given, else the `io.containerd.image.name` or
 * `org.opencontainers.image.ref.name` annotation. With name IMGSTORE_UNTAGGED an
 * image without a name annotation is kept untagged, by id, and *names_out gets its
 * manifest digest ("sha256:…") instead of a name. *names_out (optional) gets
 * the names tagged. */
int imgstore_load_layout(struct imgstore *st, const char *layout_dir, const char *name,
                         char ***names_out, ctr_error_t *err);
/* Store a manifest whose blobs are all present and tag it (registry pulls); name
 * IMGSTORE_UNTAGGED keeps it by id. */
int imgstore_tag_manifest(struct imgstore *st, const char *name, const char *manifest_digest,
                          ctr_error_t *err);
/* Resolve a reference as the user typed it (`busybox`, `x:1`, `@sha256:..`, a
 * full or unique-prefix manifest digest/hex). Unknown → "image `X` not found locally". */
int imgstore_resolve(struct imgstore *st, const char *ref, struct imgstore_image *out,
                     ctr_error_t *err);
int imgstore_list(struct imgstore *st, struct imgstore_entry **out, size_t *n, ctr_error_t *err);
/* Add name `dst` for the image `src` resolves to. */
int imgstore_tag(struct imgstore *st, const char *src, const char *dst, ctr_error_t *err);
/* Remove one name (blobs and snapshots are left for imgstore_gc). */
int imgstore_remove(struct imgstore *st, const char *ref, ctr_error_t *err);
/* Remove blobs and snapshots no image name reaches, keeping those of the manifests
 * in in_use (NULL-terminated, may be NULL: e.g. images containers run from). */
struct imgstore_gc_result {
    size_t blobs_removed, snapshots_removed;
    uint64_t bytes_freed; /* allocated on disk */
};
int imgstore_gc(struct imgstore *st, const char *const *in_use, struct imgstore_gc_result *out,
                ctr_error_t *err);
/* Path of the image's ext4 snapshot, made from its layers if missing. */
int imgstore_snapshot(struct imgstore *st, const struct imgstore_image *img, char **path_out,
                      ctr_error_t *err);

#endif
