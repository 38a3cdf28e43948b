/* bundle_create: image + run options → bundle directory for the shim. */
#include "bundle/bundle-internal.h"
#include "ext4/ext4.h"
#include "image/store.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* An empty ext4 written by the project's ext4 writer into a sparse file: lazy
 * inode tables and a lazily initialised journal, so it takes milliseconds
 * whatever the apparent size, and nothing runs as a subprocess. */
int bundle_create_rw_disk(const char *path, uint64_t size, ctr_error_t *err)
{
    struct ext4w_opts o = {
        .size_bytes = size,
        .inodes = size / 16384, /* mke2fs's default ratio for a general-purpose fs */
        .journal = true,
        .lost_found = true,
        .label = "rw",
    };
    ext4w_t *w = NULL;
    struct stat s;

    if (lstat(path, &s) == 0)
        return ctr_fail(err, EEXIST, "writable disk `%s`", path);
    if (ext4w_create(path, &o, &w, err) < 0 || ext4w_close(w, err) < 0) {
        unlink(path);
        return ctr_error_wrap(err, "create writable disk `%s`", path);
    }
    return 0;
}

static bool is_hex_id(const char *s)
{
    if (strlen(s) != BUNDLE_CREATE_ID_LEN)
        return false;
    for (const char *p = s; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return false;
    return true;
}

/* An absolute path to an existing regular file; what names it in messages. */
static int host_file(const char *path, const char *what, char **out, ctr_error_t *err)
{
    char buf[PATH_MAX];
    struct stat st;
    if (path == NULL) {
        *out = NULL;
        return 0;
    }
    if (stat(path, &st) < 0)
        return ctr_fail(err, errno, "%s `%s`", what, path);
    if (!S_ISREG(st.st_mode))
        return ctr_fail(err, 0, "%s `%s` is not a regular file", what, path);
    if (realpath(path, buf) == NULL)
        return ctr_fail(err, errno, "%s `%s`", what, path);
    *out = ctr_xstrdup(buf);
    return 0;
}

static int check_options(const struct bundle_create_opts *o, unsigned *cpus, uint64_t *mem,
                         struct agent_rlimit **rl, size_t *n_rl, ctr_error_t *err)
{
    *cpus = BUNDLE_CREATE_DEFAULT_CPUS;
    *mem = BUNDLE_CREATE_DEFAULT_MEMORY;
    if (o->image == NULL || *o->image == '\0')
        return ctr_fail(err, 0, "no image given");
    if (o->cpus && bundle_create_parse_cpus(o->cpus, cpus, err) < 0)
        return -1;
    if (o->memory && bundle_create_parse_memory(o->memory, mem, err) < 0)
        return -1;
    if (o->id && !is_hex_id(o->id))
        return ctr_fail(err, 0, "invalid container id `%s`: expected 64 lowercase hex digits",
                        o->id);
    *rl = ctr_xcalloc(ctr_strv_len(o->ulimits) + 1, sizeof(**rl));
    *n_rl = 0;
    for (size_t i = 0; o->ulimits && o->ulimits[i]; i++) {
        struct agent_rlimit r;
        size_t j;
        if (bundle_create_parse_ulimit(o->ulimits[i], &r, err) < 0)
            return -1;
        for (j = 0; j < *n_rl && (*rl)[j].resource != r.resource; j++)
            ;
        (*rl)[j] = r; /* a repeated name replaces the earlier one, as docker */
        if (j == *n_rl)
            (*n_rl)++;
    }
    return 0;
}

int bundle_create(const struct bundle_create_paths *paths, const struct bundle_create_opts *opts,
                  const char *bundle_dir, char **id_out, ctr_error_t *err)
{
    struct imgstore *st = NULL;
    struct imgstore_image img = {0};
    struct bundle_create_process proc = {0};
    struct bundle_config cfg = {0};
    struct agent_rlimit *rlimits = NULL;
    size_t n_rlimits = 0;
    char id[BUNDLE_CREATE_ID_LEN + 1];
    cleanup_free char *snapshot = NULL;
    cleanup_free char *kernel = NULL;
    cleanup_free char *initrd = NULL;
    cleanup_free char *cfg_path = NULL;
    cleanup_free char *disk_dir = NULL;
    cleanup_free char *rw_path = NULL;
    cleanup_free char *abs_bundle = NULL;
    bool made_dir = false;
    unsigned cpus;
    uint64_t mem;
    int ret = -1;

    if (check_options(opts, &cpus, &mem, &rlimits, &n_rlimits, err) < 0)
        goto out;
    if (host_file(paths->kernel, "kernel", &kernel, err) < 0 ||
        host_file(paths->initrd, "initrd", &initrd, err) < 0)
        goto out;
    if (opts->id)
        snprintf(id, sizeof(id), "%s", opts->id);
    else if (bundle_create_new_id(id, err) < 0)
        goto out;

    if (imgstore_open(paths->data_root, &st, err) < 0 ||
        imgstore_resolve(st, opts->image, &img, err) < 0)
        goto out;
    if (bundle_create_merge(&img.config.config, opts->image, opts, id, &proc, err) < 0)
        goto out;
    if (imgstore_snapshot(st, &img, &snapshot, err) < 0)
        goto out;

    cfg_path = ctr_xasprintf("%s/config.json", bundle_dir);
    if (access(cfg_path, F_OK) == 0) {
        ctr_fail(err, EEXIST, "bundle `%s` already has a config.json", bundle_dir);
        goto out;
    }
    if (access(bundle_dir, F_OK) < 0)
        made_dir = true;
    disk_dir = ctr_xasprintf("%s/disks", bundle_dir);
    if (ctr_mkdir_p(disk_dir, 0700, err) < 0)
        goto out;
    {
        char buf[PATH_MAX];
        if (realpath(bundle_dir, buf) == NULL) {
            ctr_fail(err, errno, "resolve `%s`", bundle_dir);
            goto out_clean;
        }
        abs_bundle = ctr_xstrdup(buf);
    }
    rw_path = ctr_xasprintf("%s/%s", abs_bundle, BUNDLE_CREATE_RW_DISK);
    if (bundle_create_rw_disk(rw_path, BUNDLE_CREATE_DISK_SIZE, err) < 0)
        goto out_clean;

    cfg.version = BUNDLE_CONFIG_VERSION;
    cfg.id = ctr_xstrdup(id);
    cfg.vm.kernel = ctr_steal_ptr(kernel);
    cfg.vm.initrd = ctr_steal_ptr(initrd);
    cfg.vm.cpus = cpus;
    cfg.vm.memory_mib = (mem + (1 << 20) - 1) >> 20;
    cfg.vm.accel = opts->accel;
    cfg.vm.boot_timeout_ms =
        opts->boot_timeout_ms ? opts->boot_timeout_ms : BUNDLE_CREATE_BOOT_TIMEOUT_MS;
    cfg.n_disks = 2;
    cfg.disks = ctr_xcalloc(2, sizeof(*cfg.disks));
    cfg.disks[0].serial = ctr_xstrdup(BUNDLE_CREATE_IMAGE_SERIAL);
    cfg.disks[0].path = ctr_steal_ptr(snapshot);
    cfg.disks[0].readonly = true;
    cfg.disks[1].serial = ctr_xstrdup(BUNDLE_CREATE_RW_SERIAL);
    cfg.disks[1].path = ctr_steal_ptr(rw_path);
    cfg.setup.hostname = ctr_steal_ptr(proc.hostname);
    cfg.setup.root_lower = ctr_xstrdup("serial:" BUNDLE_CREATE_IMAGE_SERIAL);
    cfg.setup.root_upper = ctr_xstrdup("serial:" BUNDLE_CREATE_RW_SERIAL);
    cfg.setup.readonly = opts->read_only;
    cfg.setup.pids_limit = opts->pids_limit > 0 ? opts->pids_limit : 0;
    cfg.setup.init = opts->init;
    cfg.process.process = ctr_xstrdup("main");
    cfg.process.args = ctr_steal_ptr(proc.args);
    cfg.process.env = ctr_steal_ptr(proc.env);
    cfg.process.cwd = ctr_steal_ptr(proc.cwd);
    cfg.process.user = ctr_steal_ptr(proc.user);
    cfg.process.terminal = opts->tty;
    cfg.process.rlimits = ctr_steal_ptr(rlimits);
    cfg.process.n_rlimits = n_rlimits;
    cfg.open_stdin = opts->interactive;
    cfg.labels = ctr_steal_ptr(proc.labels);
    if (bundle_mounts_apply(&cfg, opts->mounts, opts->n_mounts, img.config.config.volumes,
                            opts->shm_size, paths->data_root, err) < 0)
        goto out_clean;
    if (bundle_config_save(abs_bundle, &cfg, err) < 0)
        goto out_clean;
    if (id_out)
        *id_out = ctr_xstrdup(id);
    ret = 0;
    goto out;

out_clean:
    if (made_dir) {
        ctr_error_t e2 = NULL;
        if (ctr_rm_rf(bundle_dir, &e2) < 0)
            ctr_error_free(&e2);
    } else {
        cleanup_free char *rw = ctr_xasprintf("%s/%s", bundle_dir, BUNDLE_CREATE_RW_DISK);
        unlink(rw);
        rmdir(disk_dir);
    }
out:
    free(rlimits);
    bundle_config_release(&cfg);
    bundle_create_process_release(&proc);
    imgstore_image_release(&img);
    imgstore_close(st);
    return ret;
}
