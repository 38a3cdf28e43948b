/* Registry client: the OCI distribution API (pull, push, login) over libcurl.
 *
 * The protocol only: references, platforms, descriptors and manifests are src/oci's
 * types (oci_ref, oci_platform, oci_document), and every blob a pull fetches enters
 * the image store through one of its ingest sessions (src/image/store.h), verified
 * before it becomes visible. Layering: oci ← registry → image store → unpack.
 * Every symbol carries the `registry_` prefix. See docs/registry.md. */
#ifndef CTR_REGISTRY_H
#define CTR_REGISTRY_H

#include "common/common.h"
#include "oci/oci.h"

#include <stdbool.h>
#include <stdint.h>

/* ---- progress ---- */
enum registry_progress_kind {
    REGISTRY_PROGRESS_START,   /* a blob transfer begins (total known) */
    REGISTRY_PROGRESS_BYTES,   /* bytes moved so far */
    REGISTRY_PROGRESS_DONE,    /* verified and committed / uploaded */
    REGISTRY_PROGRESS_EXISTS,  /* already present, nothing transferred */
    REGISTRY_PROGRESS_MOUNTED, /* cross-repository mount on push */
    REGISTRY_PROGRESS_RETRY,   /* transfer interrupted, retrying (resumes where possible) */
    REGISTRY_PROGRESS_FAILED,
};
struct registry_progress_event {
    enum registry_progress_kind kind;
    const char *digest;
    const char *what; /* "layer", "config", "manifest" */
    bool push;
    uint64_t done;
    uint64_t total;
};
typedef void (*registry_progress_fn)(void *opaque, const struct registry_progress_event *ev);

enum registry_progress_style {
    REGISTRY_PROGRESS_NONE,
    REGISTRY_PROGRESS_PLAIN,
    REGISTRY_PROGRESS_ANSI
};
int registry_progress_style_parse(const char *s, enum registry_progress_style *out,
                                  ctr_error_t *err);
/* A renderer writing to a FILE (plain lines or ANSI redraws); thread-safe. */
struct registry_progress_renderer;
struct registry_progress_renderer *
registry_progress_renderer_new(enum registry_progress_style style, FILE *out);
void registry_progress_renderer_event(void *renderer, const struct registry_progress_event *ev);
/* Print the final state (ANSI) and free. */
void registry_progress_renderer_free(struct registry_progress_renderer *r);

/* ---- client ---- */
/* The host serving the API of a reference's domain (docker.io → registry-1.docker.io). */
const char *registry_api_host(const char *domain);
/* auto: https; for loopback hosts (127.0.0.0/8, ::1, localhost) a failed TLS handshake
 * on the first request falls back to http (docker's insecure loopback registries). */
enum registry_scheme { REGISTRY_SCHEME_HTTPS, REGISTRY_SCHEME_HTTP, REGISTRY_SCHEME_AUTO };
#define REGISTRY_CERTS_DIR "/etc/container/certs.d"
int registry_scheme_parse(const char *s, enum registry_scheme *out, ctr_error_t *err);

struct registry_transport; /* NULL = libcurl; tests plug in a fake one */

struct registry_options {
    enum registry_scheme scheme; /* default https; auto: see above */
    const char *config_dir;      /* dir of config.json; NULL = $DOCKER_CONFIG or ~/.docker */
    const char *certs_dir;       /* NULL = $CONTAINER_CERTS_DIR, else REGISTRY_CERTS_DIR */
    unsigned max_concurrent;     /* parallel blob transfers; 0 = 3 */
    int max_retries;             /* per request on 5xx/timeouts; -1 = default (4); 0 = none */
    unsigned backoff_base_ms;    /* 0 = 200 */
    uint64_t chunk_size;         /* uploads above this use chunked PATCH; 0 = 64 MiB */
    const char *username;        /* explicit credentials (login); else from config.json */
    const char *password;
    bool anonymous; /* ignore stored credentials */
    registry_progress_fn progress;
    void *progress_opaque;
    struct registry_transport *transport;
};

struct registry_client;
/* A client for one registry host ("host[:port]"). */
int registry_client_new(const char *host, const struct registry_options *opts,
                        struct registry_client **out, ctr_error_t *err);
void registry_client_free(struct registry_client *c);
/* GET /v2/, authenticating if challenged. */
int registry_ping(struct registry_client *c, ctr_error_t *err);

/* ---- manifests ---- */
/* Fetch a manifest by tag or digest: HEAD then GET, digest verified. */
struct registry_fetched {
    char *digest;
    char *media_type;
    char *data;
    size_t len;
};
int registry_get_manifest(struct registry_client *c, const char *repo, const char *ref,
                          struct registry_fetched *out, ctr_error_t *err);
/* HEAD only: the digest a tag points to (NULL media type when unknown). */
int registry_resolve(struct registry_client *c, const char *repo, const char *ref, char **digest,
                     char **media_type, ctr_error_t *err);
void registry_fetched_free(struct registry_fetched *f);
/* A blob read into memory (an image config), at most max bytes, digest verified. */
int registry_get_small_blob(struct registry_client *c, const char *repo, const char *digest,
                            size_t max, char **data, size_t *len, ctr_error_t *err);

/* ---- pull / push ---- */
struct imgstore;
struct registry_pull_result {
    char *index_digest;    /* the digest the reference resolved to */
    char *manifest_digest; /* the platform's image manifest */
    char *config_digest;
    uint64_t bytes_downloaded;
    size_t layers_total, layers_fetched;
};
void registry_pull_result_free(struct registry_pull_result *r);
#define cleanup_registry_pull_result CTR_CLEANUP(registry_pull_result_free)
/* Pull ref into the image store's content (platform NULL: the default of
 * oci_platform_parse): manifests, config and layers, each through an ingest session. */
int registry_pull(struct registry_client *c, const struct oci_ref *ref,
                  const struct oci_platform *platform, struct imgstore *st,
                  struct registry_pull_result *out, ctr_error_t *err);
/* registry_pull, then tag the image in the store (when this host can run it): by the
 * reference's tag, or as repo@digest when pulled by digest only. */
int registry_pull_image(struct registry_client *c, const struct oci_ref *ref,
                        const struct oci_platform *platform, struct imgstore *st,
                        struct registry_pull_result *out, ctr_error_t *err);

struct registry_push_opts {
    const char *const *mount_from; /* repos of the same registry to try mounting blobs from */
};
/* Push from an OCI image layout: its index.json's single entry (or the one whose
 * `org.opencontainers.image.ref.name` is `name`); several platform manifests become an
 * index (made in memory: the layout is only read). Returns the pushed digest. */
int registry_push_layout(struct registry_client *c, const struct oci_ref *ref,
                         const char *layout_dir, const char *name,
                         const struct registry_push_opts *po, char **pushed, ctr_error_t *err);
/* Push the store's image `local` (a name or digest as `imgstore_resolve` takes it) as
 * ref: blobs first, then its manifest as ref's tag (or by digest). */
int registry_push_image(struct registry_client *c, const struct oci_ref *ref, struct imgstore *st,
                        const char *local, const struct registry_push_opts *po, char **pushed,
                        ctr_error_t *err);

/* ---- credentials (docker-compatible config.json) ---- */
/* Credentials for host: credHelpers, credsStore, then auths. *user == NULL when none. */
int registry_creds_get(const char *config_dir, const char *host, char **user, char **secret,
                       ctr_error_t *err);
int registry_creds_store(const char *config_dir, const char *host, const char *user,
                         const char *secret, ctr_error_t *err);
int registry_creds_erase(const char *config_dir, const char *host, ctr_error_t *err);
/* Hosts with stored credentials (NULL-terminated, "host\tuser" lines). */
int registry_creds_list(const char *config_dir, char ***out, ctr_error_t *err);
/* Verify user/secret against the registry, then store them. */
int registry_login(const char *host, const char *user, const char *secret,
                   const struct registry_options *opts, ctr_error_t *err);
int registry_logout(const char *host, const struct registry_options *opts, ctr_error_t *err);

#endif
