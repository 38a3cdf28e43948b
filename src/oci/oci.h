/* OCI image types: references, digests, platforms, and typed index /
 * manifest / image config structs parsed once from JSON. Nothing outside
 * src/oci walks image JSON. Every symbol carries the `oci_` prefix. */
#ifndef CTR_OCI_H
#define CTR_OCI_H

#include "common/common.h"

/* ---- references (docker's grammar and normalization) ---- */
#define OCI_DEFAULT_DOMAIN "docker.io"
#define OCI_DEFAULT_TAG "latest"
#define OCI_REF_NAME_MAX 255 /* domain + path, as docker */
#define OCI_TAG_MAX 128

struct oci_ref {
    char *domain; /* "docker.io", "localhost:5000", "[::1]:5000" */
    char *path;   /* "library/busybox" */
    char *tag;    /* "latest"; NULL when only a digest was given */
    char *digest; /* "sha256:<hex>" or NULL */
};

/* Parse and normalize as `docker` does: `busybox` becomes
 * docker.io/library/busybox:latest (the default tag is added only when
 * neither a tag nor a digest is given). Errors say what is wrong. */
int oci_ref_parse(const char *s, struct oci_ref *out, ctr_error_t *err);
/* Fully qualified: "docker.io/library/busybox:latest", "host/x@sha256:..",
 * "host/x:tag@sha256:.." when both are present. */
char *oci_ref_string(const struct oci_ref *r);
/* Repository only: "docker.io/library/busybox". */
char *oci_ref_repo(const struct oci_ref *r);
/* Short form as docker prints it: "busybox:latest", "quay.io/x/y:1". */
char *oci_ref_familiar(const struct oci_ref *r);
/* Parse + format in one go (fully qualified). NULL on error. */
char *oci_ref_normalize(const char *s, ctr_error_t *err);
void oci_ref_release(struct oci_ref *r);
/* True when s matches docker's tag grammar [\w][\w.-]{0,127}. */
bool oci_tag_valid(const char *s);

/* ---- digests (sha256 only) ---- */
#define OCI_DIGEST_PREFIX "sha256:"
#define OCI_DIGEST_HEX_LEN 64
#define OCI_DIGEST_STR_LEN 71 /* "sha256:" + 64 hex */

/* Accept exactly "sha256:" + 64 lowercase hex; other algorithms are refused by name. */
int oci_digest_check(const char *d, ctr_error_t *err);
bool oci_digest_valid(const char *d);
/* The hex part of a digest already checked (points into d). */
const char *oci_digest_hex(const char *d);

/* Streaming sha256. */
struct oci_hasher {
    void *ctx; /* EVP_MD_CTX */
    uint64_t size;
};
void oci_hasher_init(struct oci_hasher *h);
void oci_hasher_update(struct oci_hasher *h, const void *buf, size_t len);
/* Writes "sha256:<hex>" (OCI_DIGEST_STR_LEN + 1 bytes) and releases the context. */
void oci_hasher_final(struct oci_hasher *h, char out[OCI_DIGEST_STR_LEN + 1]);
void oci_hasher_release(struct oci_hasher *h);
void oci_digest_buf(const void *buf, size_t len, char out[OCI_DIGEST_STR_LEN + 1]);
/* Digest of a file's whole content; *size gets its length. */
int oci_digest_file(const char *path, char out[OCI_DIGEST_STR_LEN + 1], uint64_t *size,
                    ctr_error_t *err);

/* ---- media types ---- */
#define OCI_MT_INDEX "application/vnd.oci.image.index.v1+json"
#define OCI_MT_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define OCI_MT_CONFIG "application/vnd.oci.image.config.v1+json"
#define OCI_MT_LAYER "application/vnd.oci.image.layer.v1.tar"
#define OCI_MT_LAYER_GZIP "application/vnd.oci.image.layer.v1.tar+gzip"
#define OCI_MT_LAYER_ZSTD "application/vnd.oci.image.layer.v1.tar+zstd"
#define OCI_MT_LAYER_ND_GZIP "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
#define OCI_MT_LAYER_ND "application/vnd.oci.image.layer.nondistributable.v1.tar"
#define OCI_MT_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define OCI_MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define OCI_MT_DOCKER_MANIFEST_V1 "application/vnd.docker.distribution.manifest.v1+json"
#define OCI_MT_DOCKER_MANIFEST_V1S "application/vnd.docker.distribution.manifest.v1+prettyjws"
#define OCI_MT_DOCKER_CONFIG "application/vnd.docker.container.image.v1+json"
#define OCI_MT_DOCKER_LAYER "application/vnd.docker.image.rootfs.diff.tar.gzip"
#define OCI_MT_DOCKER_FOREIGN "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"

#define OCI_ANNOT_REF_NAME "org.opencontainers.image.ref.name"
#define OCI_ANNOT_CONTAINERD_NAME "io.containerd.image.name"

enum oci_doc_kind { OCI_DOC_UNKNOWN = 0, OCI_DOC_INDEX, OCI_DOC_MANIFEST };
enum oci_compression { OCI_COMP_NONE = 0, OCI_COMP_GZIP, OCI_COMP_ZSTD };

/* An image index (OCI or docker manifest list) / an image manifest (OCI or docker v2). */
bool oci_mt_is_index(const char *media_type);
bool oci_mt_is_manifest(const char *media_type);

/* Layer media type → compression; -1 when the media type is not a layer we can unpack. */
int oci_layer_compression(const char *media_type, enum oci_compression *out, ctr_error_t *err);

/* ---- limits on hostile input ---- */
#define OCI_MAX_MANIFEST_BYTES (4u << 20) /* index or manifest JSON */
#define OCI_MAX_CONFIG_BYTES (8u << 20)   /* image config JSON */
#define OCI_MAX_MANIFESTS 1024            /* entries of an index */
#define OCI_MAX_LAYERS 512
#define OCI_MAX_LIST 16384          /* Env, Cmd, labels, ports ... */
#define OCI_MAX_STRING (256u << 10) /* one string value */
#define OCI_MAX_ANNOTATIONS 256
#define OCI_MAX_BLOB_SIZE (1ll << 40)    /* a descriptor's size */
#define OCI_MAX_LAYER_BYTES (64ll << 30) /* a layer a pull would fetch */
#define OCI_MAX_INDEX_DEPTH 4            /* nested indexes a pull follows */

struct oci_kv {
    char *key;
    char *value;
};

struct oci_platform {
    char *os;           /* "linux" */
    char *architecture; /* "amd64" */
    char *variant;      /* may be NULL */
};

struct oci_descriptor {
    char *media_type;
    char *digest;
    int64_t size;
    bool has_platform;
    struct oci_platform platform;
    struct oci_kv *annotations;
    size_t n_annotations;
};

struct oci_index {
    int schema_version;
    char *media_type; /* may be NULL (OCI allows it) */
    struct oci_descriptor *manifests;
    size_t n_manifests;
};

struct oci_manifest {
    int schema_version;
    char *media_type; /* as written, or inferred (OCI) when absent */
    bool docker;      /* docker v2 schema 2 */
    struct oci_descriptor config;
    struct oci_descriptor *layers;
    size_t n_layers;
};

/* The part of the image config that shapes a container ("config" in the JSON). */
struct oci_container_config {
    char *user;
    char **env;        /* NAME=VALUE, NULL terminated (never NULL) */
    char **entrypoint; /* NULL when absent or JSON null */
    char **cmd;        /* NULL when absent or JSON null */
    char *working_dir;
    char **exposed_ports; /* "80/tcp", NULL terminated (never NULL) */
    char **volumes;       /* "/data", NULL terminated (never NULL) */
    struct oci_kv *labels;
    size_t n_labels;
    char *stop_signal;
};

/* One `history` entry (what `docker history` lists). */
struct oci_history {
    char *created, *created_by, *author, *comment; /* NULL when absent */
    bool empty_layer;
};

struct oci_image_config {
    struct oci_platform platform; /* architecture / os / variant */
    char *created;
    char *author, *comment; /* NULL when absent (comment: Docker's, e.g. `docker commit -m`) */
    struct oci_history *history;
    size_t n_history;
    struct oci_container_config config;
    char **diff_ids; /* rootfs.diff_ids, NULL terminated (never NULL) */
    size_t n_diff_ids;
};

/* Kind of a document: by media type when given (the descriptor's or the
 * document's own), else by shape. Schema 1 manifests are refused. */
int oci_doc_kind(const char *json, size_t len, const char *media_type_hint, enum oci_doc_kind *out,
                 ctr_error_t *err);
int oci_index_parse(const char *json, size_t len, struct oci_index *out, ctr_error_t *err);
int oci_manifest_parse(const char *json, size_t len, struct oci_manifest *out, ctr_error_t *err);
int oci_image_config_parse(const char *json, size_t len, struct oci_image_config *out,
                           ctr_error_t *err);
void oci_index_release(struct oci_index *ix);

/* A document as a registry serves it: an index or an image manifest. */
struct oci_document {
    enum oci_doc_kind kind;
    char *media_type;       /* its own mediaType, else the one it was served as, else inferred */
    struct oci_index index; /* kind == OCI_DOC_INDEX */
    struct oci_manifest manifest; /* kind == OCI_DOC_MANIFEST */
};
/* Parse either kind. content_type (may be NULL, parameters ignored) is the type it was
 * served with: schema 1 is refused, an index or manifest type must agree with the
 * document's own mediaType, anything else is ignored. Beyond oci_index_parse and
 * oci_manifest_parse, it refuses what a pull must not fetch: index entries that are not
 * manifests or indexes, or are larger than OCI_MAX_MANIFEST_BYTES, a config larger than
 * OCI_MAX_CONFIG_BYTES, a layer larger than OCI_MAX_LAYER_BYTES, and an index with
 * `layers` or `config` (a manifest with `manifests`). */
int oci_document_parse(const char *json, size_t len, const char *content_type,
                       struct oci_document *out, ctr_error_t *err);
void oci_document_release(struct oci_document *d);
#define cleanup_oci_document CTR_CLEANUP(oci_document_release)

void oci_manifest_release(struct oci_manifest *m);
void oci_image_config_release(struct oci_image_config *c);
void oci_descriptor_release(struct oci_descriptor *d);
void oci_container_config_release(struct oci_container_config *c);
/* Value of an annotation, or NULL. */
const char *oci_descriptor_annotation(const struct oci_descriptor *d, const char *key);
const char *oci_kv_get(const struct oci_kv *kv, size_t n, const char *key);

/* ---- platforms ---- */
/* Parse "os/arch[/variant]" (each part under 32 bytes; `arm64` alone means arm64/v8).
 * NULL or "" gives the default pull platform: linux/amd64 (linux/arm64/v8 on an aarch64
 * host). Errors are of class EINVAL. */
int oci_platform_parse(const char *s, struct oci_platform *out, ctr_error_t *err);
/* True when `have` (an index entry's platform) offers what `want` asks for: same os and
 * architecture; variants are compared only when both name one. */
bool oci_platform_match(const struct oci_platform *want, const struct oci_platform *have);
/* The entry of an index a pull for platform p takes: the first image manifest whose
 * platform matches, else the first nested index without a platform; -1 (class ENOENT)
 * with "<what> has no image for platform `p` (available: ...)". */
ssize_t oci_index_select(const struct oci_index *ix, const struct oci_platform *p, const char *what,
                         ctr_error_t *err);
/* The host platform: linux/amd64. */
void oci_platform_host(struct oci_platform *out);
/* Normalized "os/arch[/variant]" (x86_64 → amd64, aarch64 → arm64). */
char *oci_platform_string(const struct oci_platform *p);
/* True when p can run on the host. Missing fields never match. */
bool oci_platform_matches_host(const struct oci_platform *p);
/* Pick the entry of an index for the host: the index of the best match
 * (exact variant preferred), or -1 with an error listing what was found. */
ssize_t oci_index_select_host(const struct oci_index *ix, ctr_error_t *err);
void oci_platform_release(struct oci_platform *p);
#define cleanup_oci_platform CTR_CLEANUP(oci_platform_release)

/* ---- OCI image layout directories, read only: <dir>/blobs/sha256/<hex> ---- */
/* Path of a blob (digest must be valid). */
char *oci_layout_blob_path(const char *dir, const char *digest);
/* A regular file of `size` bytes (size < 0: any size). */
bool oci_layout_blob_has(const char *dir, const char *digest, int64_t size);
/* Read a (small) blob, checking its digest. */
int oci_layout_blob_read(const char *dir, const char *digest, size_t max, char **out, size_t *len,
                         ctr_error_t *err);

#endif
