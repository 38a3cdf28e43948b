/* Bundle creation: an image from the local store plus docker-style run
 * options become a bundle directory for the shim (src/proto/bundle.h):
 * config.json and a sparse writable ext4 disk. The merge of image config and
 * options follows Docker's rules exactly; see docs/images.md.
 * Every symbol carries the `bundle_create` prefix. */
#ifndef CTR_BUNDLE_CREATE_H
#define CTR_BUNDLE_CREATE_H

#include "oci/oci.h"
#include "proto/bundle.h"

/* Unless asked: 2 vCPUs under KVM, 1 under TCG (the shim decides; src/proto/bundle.h). */
#define BUNDLE_CREATE_DEFAULT_CPUS BUNDLE_CPUS_AUTO
#define BUNDLE_CREATE_DEFAULT_MEMORY (1024ull << 20)
#define BUNDLE_CREATE_MIN_MEMORY (128ull << 20)
#define BUNDLE_CREATE_MAX_MEMORY (1ull << 40)
#define BUNDLE_CREATE_MAX_CPUS 64
#define BUNDLE_CREATE_DISK_SIZE (8ull << 30) /* apparent size of the writable disk */
#define BUNDLE_CREATE_BOOT_TIMEOUT_MS 60000  /* generous: TCG on a busy host */
#define BUNDLE_CREATE_DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define BUNDLE_CREATE_ID_LEN 64
#define BUNDLE_CREATE_IMAGE_SERIAL "image"
#define BUNDLE_CREATE_RW_SERIAL "rw"
/* Block volumes' disks: `vol-0`, `vol-1`, ... (docs/volumes.md) */
#define BUNDLE_VOLUME_SERIAL_PREFIX "vol-"
#define BUNDLE_CREATE_RW_DISK "disks/rw.ext4" /* inside the bundle dir */

/* Host paths the bundle refers to. */
struct bundle_create_paths {
    const char *data_root; /* image store root */
    const char *kernel;    /* vmlinux */
    const char *initrd;    /* initramfs with vminitd */
};

/* -v, --mount, --tmpfs: what the user asked, checked for syntax (src/bundle/mounts.c). */
enum bundle_mount_type { BUNDLE_MOUNT_BIND = 0, BUNDLE_MOUNT_VOLUME, BUNDLE_MOUNT_TMPFS };
struct bundle_mount_spec {
    enum bundle_mount_type type;
    char *source; /* absolute host path (bind), volume name (volume), NULL (tmpfs) */
    char *target; /* absolute path in the container */
    bool readonly;
    bool nocopy;   /* volume: no copy-up of the image's content (`nocopy`) */
    char *options; /* tmpfs: size=, mode=, ... */
    /* bind: docker's propagation (a static string; NULL = rprivate). Shown by inspect
     * only: no mount event crosses the VM boundary either way. */
    const char *propagation;
};
/* "private", "rprivate", "shared", "rshared", "slave", "rslave" → the static name; NULL
 * when it is none of them. */
const char *bundle_mount_propagation(const char *s);
void bundle_mount_spec_release(struct bundle_mount_spec *m);
void bundle_mount_specs_free(struct bundle_mount_spec *m, size_t n);
/* `SRC:DST[:ro|rw]` (-v, HostConfig.Binds): SRC absolute = bind, a name = volume. */
int bundle_mount_parse_bind(const char *spec, struct bundle_mount_spec *out, ctr_error_t *err);
/* `type=bind|volume|tmpfs,source=,target=[,readonly][,tmpfs-size=,tmpfs-mode=]` (--mount). */
int bundle_mount_parse_flag(const char *spec, struct bundle_mount_spec *out, ctr_error_t *err);
/* --tmpfs PATH[:OPTS] split by the caller; opts may be NULL. */
int bundle_mount_parse_tmpfs(const char *path, const char *opts, struct bundle_mount_spec *out,
                             ctr_error_t *err);
/* docker units: 64m, 1g, 65536 (bytes); at least 1k. */
int bundle_mount_parse_size(const char *s, uint64_t *out, ctr_error_t *err);
/* Host checks (sources exist, absolute, volumes created on first use) and the bundle's
 * shares + setup mounts; image_volumes (the image's VOLUME paths, may be NULL) not
 * covered by a mount get an anonymous volume; volumes are filled from the image on
 * first use (copy-up, as docker). Refuses more shares than free virtio devices. */
int bundle_mounts_apply(struct bundle_config *cfg, const struct bundle_mount_spec *m, size_t n,
                        char *const *image_volumes, uint64_t shm_size, const char *data_root,
                        ctr_error_t *err);
/* Label docker puts on anonymous volumes. */
#define BUNDLE_VOLUME_ANONYMOUS_LABEL "com.docker.volume.anonymous"

/* Named volumes: DATA/volumes/NAME/{volume.json,_data} (src/bundle/volumes.c). */
struct bundle_volume {
    char *name;
    char *mountpoint; /* DATA/volumes/NAME/_data, or DATA/volumes/NAME/volume.ext4 (block) */
    int64_t created;  /* unix seconds */
    bool block;       /* `type=block`: an ext4 image attached as a virtio-blk disk */
    uint64_t size;    /* apparent size of the block image in bytes; 0 for directories */
    char **labels;    /* KEY=VALUE */
    char **options;   /* KEY=VALUE (driver options, informational) */
};
int bundle_volume_check_name(const char *name, ctr_error_t *err);
/* KEY=VALUE (or KEY, value "") strings as a JSON object of strings: volume labels and
 * options as volume.json, the API and the CLI's create request write them. */
struct json_t;
struct json_t *bundle_volume_kv_json(char *const *kv);
/* Block volume images: at least 16 MiB (ext4 with a journal), at most 16 TiB. */
#define BUNDLE_VOLUME_BLOCK_MIN (16ull << 20)
#define BUNDLE_VOLUME_BLOCK_MAX (16ull << 40)
/* Driver options (`-o type=block -o size=1g`, also `type=block,size=1g` in one string):
 * *block set for `type=block` (`type=local|dir` are the default kind), *size its size.
 * `size` is required with `type=block` and refused without it; other keys are refused. */
int bundle_volume_parse_options(char *const *options, bool *block, uint64_t *size,
                                ctr_error_t *err);
/* Create NAME (EEXIST if it exists: *existed set instead when existed is not NULL). */
int bundle_volume_create(const char *data_root, const char *name, char **labels, char **options,
                         bool *existed, ctr_error_t *err);
/* The data directory of NAME, created on first use. */
int bundle_volume_ensure(const char *data_root, const char *name, char **dir, ctr_error_t *err);
int bundle_volume_load(const char *data_root, const char *name, struct bundle_volume *out,
                       ctr_error_t *err);
/* Names, sorted. */
int bundle_volume_list(const char *data_root, char ***names, ctr_error_t *err);
int bundle_volume_remove(const char *data_root, const char *name, ctr_error_t *err);
void bundle_volume_release(struct bundle_volume *v);

/* What `docker run` takes, before any merging. Strings are borrowed. */
struct bundle_create_opts {
    const char *image; /* reference as the user typed it */
    char **cmd;        /* arguments after the image; NULL or empty = none */
    /* --entrypoint: NULL = not given; {"X"} = `--entrypoint X`; {""} = `--entrypoint ""`
     * (clears the image's); the API may pass any vector. */
    char **entrypoint;
    char **env;           /* -e, in order: NAME=VALUE, or NAME (take the caller's value) */
    char **env_files;     /* --env-file, in order */
    const char *workdir;  /* -w */
    const char *user;     /* -u */
    const char *hostname; /* -h; default: first 12 chars of the id */
    const char *id;       /* NULL: a new random id */
    char **labels;        /* -l KEY=VALUE or KEY */
    char **ulimits;       /* --ulimit name=soft[:hard] */
    const char *memory;   /* -m, docker units */
    const char *cpus;     /* -c */
    bool tty, interactive, read_only;
    enum bundle_accel accel;
    const struct bundle_mount_spec *mounts; /* -v, --mount, --tmpfs */
    size_t n_mounts;
    uint64_t shm_size;        /* --shm-size; 0: the guest's default /dev/shm */
    int64_t pids_limit;       /* --pids-limit; <= 0: unlimited */
    bool init;                /* --init: docker-init as the container's PID 1 */
    unsigned boot_timeout_ms; /* 0: BUNDLE_CREATE_BOOT_TIMEOUT_MS */
    /* Looks up the caller's environment for `-e NAME` and bare env-file names;
     * NULL means getenv(). */
    const char *(*lookup_env)(const char *name, void *ctx);
    void *lookup_ctx;
};

/* The result of merging image config and options: what runs, and how. */
struct bundle_create_process {
    char **args;
    char **env;
    char *cwd;
    char *user;
    char *hostname;
    char **labels; /* KEY=VALUE: the image's, overridden by -l */
};
void bundle_create_process_release(struct bundle_create_process *p);

/* Merge image config (may be NULL) and options as docker does. image_name is
 * only used in messages. */
int bundle_create_merge(const struct oci_container_config *img, const char *image_name,
                        const struct bundle_create_opts *opts, const char *id,
                        struct bundle_create_process *out, ctr_error_t *err);

/* Docker's env-file syntax: `NAME=VALUE` (value kept verbatim), `NAME` alone
 * (the caller's value, or kept bare = unset when the caller has none), `#`
 * comments and blank lines. Entries are appended to *env. Errors name file:line. */
int bundle_create_parse_env_file(const char *path, const struct bundle_create_opts *opts,
                                 char ***env, ctr_error_t *err);
/* Docker units (RAMInBytes): `512m`, `1g`, `1.5GiB`, `134217728`; then the floor. */
int bundle_create_parse_memory(const char *s, uint64_t *bytes, ctr_error_t *err);
/* Whole vCPUs, 1..BUNDLE_CREATE_MAX_CPUS. */
int bundle_create_parse_cpus(const char *s, unsigned *out, ctr_error_t *err);
/* `name=soft[:hard]` with docker's names (nofile, nproc, core, ...); -1 = unlimited. */
int bundle_create_parse_ulimit(const char *s, struct agent_rlimit *out, ctr_error_t *err);
/* Container names as docker: [a-zA-Z0-9][a-zA-Z0-9_.-]+ (a leading `/` is allowed). */
int bundle_create_check_name(const char *name, ctr_error_t *err);
/* 64 random hex digits. */
int bundle_create_new_id(char out[BUNDLE_CREATE_ID_LEN + 1], ctr_error_t *err);
/* A sparse, empty ext4 image of `size` apparent bytes for the container's writes. */
int bundle_create_rw_disk(const char *path, uint64_t size, ctr_error_t *err);

/* Resolve the image in the store, merge, make the writable disk and write
 * <bundle_dir>/config.json. bundle_dir is created (it must not hold a config
 * already). On success *id_out (if not NULL) gets the container id. */
int bundle_create(const struct bundle_create_paths *paths, const struct bundle_create_opts *opts,
                  const char *bundle_dir, char **id_out, ctr_error_t *err);

#endif
