/* Mounts of `docker run`: `-v`, `--mount`, `--tmpfs`, `--shm-size`, parsed here (the CLI
 * and the daemon share the parsers) and turned into the bundle's virtio-9p shares and
 * the agent's setup mounts. docs/volumes.md describes the result. */
#include "bundle/bundle-internal.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* msize=512000: the virtio transport limit of Linux 6.1's 9p client, PAGE_SIZE *
 * (VIRTQUEUE_NUM - 3); a larger one is clamped with a warning.
 * cache=mmap: no page cache for read/write (a host edit is seen at once) but shared
 * writable mmap works (cache=none refuses it: sqlite, some build tools). */
#define MOUNTS_9P_OPTIONS "trans=virtio,version=9p2000.L,msize=512000,cache=mmap"

void bundle_mount_spec_release(struct bundle_mount_spec *m)
{
    free(m->source);
    free(m->target);
    free(m->options);
    memset(m, 0, sizeof(*m));
}

void bundle_mount_specs_free(struct bundle_mount_spec *m, size_t n)
{
    for (size_t i = 0; i < n; i++)
        bundle_mount_spec_release(&m[i]);
    free(m);
}

/* An absolute container path without `..`, not `/` itself. */
static int check_target(const char *t, ctr_error_t *err)
{
    if (t == NULL || *t == '\0')
        return ctr_fail(err, 0, "a mount needs a target path in the container");
    if (t[0] != '/')
        return ctr_fail(err, 0, "mount target `%s` must be an absolute path", t);
    if (strlen(t) >= AGENT_MAX_PATH / 2)
        return ctr_fail(err, 0, "mount target `%.64s...` is too long", t);
    cleanup_free char *copy = ctr_xstrdup(t);
    char *save = NULL;
    bool any = false;
    for (char *c = strtok_r(copy, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
        if (strcmp(c, "..") == 0)
            return ctr_fail(err, 0, "mount target `%s` must not contain `..`", t);
        any = any || strcmp(c, ".") != 0;
    }
    if (!any)
        return ctr_fail(err, 0, "mount target `%s` cannot be the container's root", t);
    if (strchr(t, ','))
        return ctr_fail(err, 0, "mount target `%s` must not contain a comma", t);
    return 0;
}

static int check_source(struct bundle_mount_spec *m, ctr_error_t *err)
{
    const char *s = m->source;
    if ((s == NULL || *s == '\0') && m->type == BUNDLE_MOUNT_VOLUME) {
        free(m->source); /* no source: an anonymous volume */
        m->source = NULL;
        return 0;
    }
    if (s == NULL || *s == '\0')
        return ctr_fail(err, 0, "a bind mount needs a source");
    if (m->type == BUNDLE_MOUNT_VOLUME)
        return bundle_volume_check_name(s, err);
    if (s[0] != '/')
        return ctr_fail(err, 0,
                        "bind source `%s` must be an absolute host path (relative paths are "
                        "refused; a name without `/` is a volume)",
                        s);
    if (strlen(s) >= PATH_MAX)
        return ctr_fail(err, 0, "bind source `%.64s...` is too long", s);
    return 0;
}

/* `-v SRC:DST[:OPTS]` / HostConfig.Binds: SRC absolute → bind, else a volume name.
 * OPTS: ro, rw, z, Z (ignored: no SELinux in the guest), nocopy. */
const char *bundle_mount_propagation(const char *s)
{
    static const char *const names[] = {"private", "rprivate", "shared",
                                        "rshared", "slave",    "rslave"};
    for (size_t i = 0; s && i < sizeof(names) / sizeof(names[0]); i++)
        if (strcmp(s, names[i]) == 0)
            return names[i];
    return NULL;
}

int bundle_mount_parse_bind(const char *spec, struct bundle_mount_spec *out, ctr_error_t *err)
{
    struct bundle_mount_spec m = {0};
    cleanup_free char *copy = ctr_xstrdup(spec ? spec : "");
    char *first = copy, *second = strchr(copy, ':'), *third = NULL;

    if (second == NULL) {
        /* `-v /path`: a new anonymous volume (docker's) */
        if (copy[0] != '/')
            return ctr_fail(err, 0,
                            "invalid volume spec `%s`: expected SOURCE:TARGET[:ro], or an "
                            "absolute container path for an anonymous volume",
                            spec ? spec : "");
        if (check_target(copy, err) < 0)
            return ctr_error_wrap(err, "volume spec `%s`", spec);
        *out = (struct bundle_mount_spec){.type = BUNDLE_MOUNT_VOLUME, .target = ctr_xstrdup(copy)};
        return 0;
    }
    *second++ = '\0';
    if (*first == '\0')
        return ctr_fail(err, 0, "invalid volume spec `%s`: a mount needs a source before `:`",
                        spec);
    third = strchr(second, ':');
    if (third)
        *third++ = '\0';
    m.type = first[0] == '/' || first[0] == '.' || first[0] == '~' ? BUNDLE_MOUNT_BIND
                                                                   : BUNDLE_MOUNT_VOLUME;
    if (m.type == BUNDLE_MOUNT_VOLUME && strchr(first, '/'))
        m.type = BUNDLE_MOUNT_BIND; /* relative path: refused below with that word */
    m.source = ctr_xstrdup(first);
    m.target = ctr_xstrdup(second);
    if (third) {
        cleanup_free char *o = ctr_xstrdup(third);
        char *save = NULL;
        for (char *t = strtok_r(o, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
            if (strcmp(t, "ro") == 0 || strcmp(t, "readonly") == 0)
                m.readonly = true;
            else if (strcmp(t, "rw") == 0)
                m.readonly = false;
            else if (strcmp(t, "nocopy") == 0)
                m.nocopy = true;
            else if (bundle_mount_propagation(t))
                m.propagation = bundle_mount_propagation(t);
            else if (strcmp(t, "z") && strcmp(t, "Z"))
                return bundle_mount_spec_release(&m),
                       ctr_fail(err, 0,
                                "unknown option `%s` in volume spec `%s`: use `ro` "
                                "or `rw`",
                                t, spec);
        }
        if (*third == '\0' || strchr(third, ':'))
            return bundle_mount_spec_release(&m),
                   ctr_fail(err, 0, "invalid volume spec `%s`: expected SOURCE:TARGET[:ro]", spec);
    }
    if (m.propagation && m.type != BUNDLE_MOUNT_BIND) {
        ctr_fail(err, 0, "invalid volume spec `%s`: propagation `%s` needs a bind mount", spec,
                 m.propagation);
        bundle_mount_spec_release(&m);
        return -1;
    }
    if (check_source(&m, err) < 0 || check_target(m.target, err) < 0)
        return bundle_mount_spec_release(&m), ctr_error_wrap(err, "volume spec `%s`", spec);
    *out = m;
    return 0;
}

/* `--mount type=bind|volume|tmpfs,source=,target=[,readonly][,tmpfs-size=][,tmpfs-mode=]` */
int bundle_mount_parse_flag(const char *spec, struct bundle_mount_spec *out, ctr_error_t *err)
{
    struct bundle_mount_spec m = {.type = -1};
    cleanup_free char *copy = ctr_xstrdup(spec ? spec : "");
    cleanup_free char *size = NULL, *mode = NULL;
    char *save = NULL;

    for (char *kv = strtok_r(copy, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(kv, '='), *v = eq ? eq + 1 : NULL;
        if (eq)
            *eq = '\0';
        char **slot = NULL;
        if (strcmp(kv, "type") == 0 && v) {
            if (strcmp(v, "bind") == 0)
                m.type = BUNDLE_MOUNT_BIND;
            else if (strcmp(v, "volume") == 0)
                m.type = BUNDLE_MOUNT_VOLUME;
            else if (strcmp(v, "tmpfs") == 0)
                m.type = BUNDLE_MOUNT_TMPFS;
            else {
                bundle_mount_spec_release(&m);
                return ctr_fail(
                    err, 0, "mount type `%s` is not supported: use `bind`, `volume` or `tmpfs`", v);
            }
            continue;
        }
        if ((strcmp(kv, "source") == 0 || strcmp(kv, "src") == 0) && v)
            slot = &m.source;
        else if ((strcmp(kv, "target") == 0 || strcmp(kv, "destination") == 0 ||
                  strcmp(kv, "dst") == 0) &&
                 v)
            slot = &m.target;
        else if (strcmp(kv, "tmpfs-size") == 0 && v)
            slot = &size;
        else if (strcmp(kv, "tmpfs-mode") == 0 && v)
            slot = &mode;
        else if (strcmp(kv, "readonly") == 0 || strcmp(kv, "ro") == 0) {
            if (v && strcmp(v, "true") && strcmp(v, "1") && strcmp(v, "false") && strcmp(v, "0")) {
                bundle_mount_spec_release(&m);
                return ctr_fail(err, 0, "invalid `readonly` value `%s` in `--mount`", v);
            }
            m.readonly = v == NULL || strcmp(v, "true") == 0 || strcmp(v, "1") == 0;
            continue;
        } else if (strcmp(kv, "bind-propagation") == 0) {
            m.propagation = bundle_mount_propagation(v);
            if (m.propagation == NULL) {
                bundle_mount_spec_release(&m);
                return ctr_fail(err, 0,
                                "invalid `bind-propagation` value `%s`: one of private, rprivate, "
                                "shared, rshared, slave, rslave",
                                v ? v : "");
            }
            continue;
        } else if (strcmp(kv, "consistency") == 0 || strcmp(kv, "volume-nocopy") == 0) {
            m.nocopy = m.nocopy || strcmp(kv, "volume-nocopy") == 0;
            continue; /* meaningless across a VM boundary */
        } else {
            bundle_mount_spec_release(&m);
            return ctr_fail(err, 0, "unknown or incomplete `--mount` field `%s`", kv);
        }
        free(*slot);
        *slot = ctr_xstrdup(v);
    }
    if ((int)m.type < 0) {
        bundle_mount_spec_release(&m);
        return ctr_fail(err, 0, "`--mount %s` needs `type=bind`, `volume` or `tmpfs`",
                        spec ? spec : "");
    }
    if (m.type == BUNDLE_MOUNT_TMPFS) {
        if (m.source) {
            bundle_mount_spec_release(&m);
            return ctr_fail(err, 0, "a tmpfs mount takes no `source`");
        }
        m.options = ctr_xasprintf("%s%s%s%s%s", size ? "size=" : "", size ? size : "",
                                  size && mode ? "," : "", mode ? "mode=" : "", mode ? mode : "");
    } else if (size || mode || check_source(&m, err) < 0) {
        if (size || mode)
            ctr_fail(err, 0, "`tmpfs-size` and `tmpfs-mode` need `type=tmpfs`");
        bundle_mount_spec_release(&m);
        return ctr_error_wrap(err, "`--mount %s`", spec);
    }
    if (check_target(m.target, err) < 0) {
        bundle_mount_spec_release(&m);
        return ctr_error_wrap(err, "`--mount %s`", spec);
    }
    *out = m;
    return 0;
}

/* `--tmpfs PATH[:OPTS]` / HostConfig.Tmpfs {PATH: OPTS}. OPTS are tmpfs's own
 * (size=, mode=, uid=, gid=, nr_inodes=) and ro, noexec, nosuid, nodev. */
int bundle_mount_parse_tmpfs(const char *path, const char *opts, struct bundle_mount_spec *out,
                             ctr_error_t *err)
{
    if (check_target(path, err) < 0)
        return ctr_error_wrap(err, "`--tmpfs`");
    if (opts && (strchr(opts, ' ') || strlen(opts) > 256))
        return ctr_fail(err, 0, "invalid tmpfs options `%s`", opts);
    out->type = BUNDLE_MOUNT_TMPFS;
    out->source = NULL;
    out->target = ctr_xstrdup(path);
    out->options = ctr_xstrdup(opts ? opts : "");
    out->readonly = false;
    return 0;
}

static void add_mount(struct agent_setup *s, const char *src, const char *target,
                      const char *fstype, const char *options)
{
    s->mounts = ctr_xrealloc(s->mounts, (s->n_mounts + 1) * sizeof(*s->mounts));
    s->mounts[s->n_mounts++] = (struct agent_mount){
        .source = ctr_xstrdup(src),
        .target = ctr_xstrdup(target),
        .fstype = ctr_xstrdup(fstype),
        .options = options && *options ? ctr_xstrdup(options) : NULL,
    };
}

/* The share exporting host directory dir (one virtio-9p device per distinct one). */
static const char *share_for(struct bundle_config *cfg, const char *dir, bool readonly)
{
    for (size_t i = 0; i < cfg->n_shares; i++)
        if (strcmp(cfg->shares[i].path, dir) == 0) {
            cfg->shares[i].readonly = cfg->shares[i].readonly && readonly;
            return cfg->shares[i].tag;
        }
    cfg->shares = ctr_xrealloc(cfg->shares, (cfg->n_shares + 1) * sizeof(*cfg->shares));
    cfg->shares[cfg->n_shares] = (struct bundle_share){
        .tag = ctr_xasprintf("v%zu", cfg->n_shares),
        .path = ctr_xstrdup(dir),
        .readonly = readonly,
    };
    return cfg->shares[cfg->n_shares++].tag;
}

static int bind_source(const struct bundle_mount_spec *m, const char *data_root, char **dir,
                       char **file, ctr_error_t *err)
{
    char buf[PATH_MAX];
    struct stat st;

    if (m->type == BUNDLE_MOUNT_VOLUME)
        return bundle_volume_ensure(data_root, m->source, dir, err);
    if (stat(m->source, &st) < 0)
        return ctr_fail(err, 0, "bind source `%s` cannot be used: %s (the host path must exist)",
                        m->source, strerror(errno));
    if (realpath(m->source, buf) == NULL)
        return ctr_fail(err, errno, "resolve bind source `%s`", m->source);
    if (S_ISDIR(st.st_mode)) {
        *dir = ctr_xstrdup(buf);
        return 0;
    }
    if (!S_ISREG(st.st_mode))
        return ctr_fail(err, 0,
                        "bind source `%s` must be a directory or a regular file (devices, sockets "
                        "and fifos cannot cross the VM boundary)",
                        m->source);
    char *slash = strrchr(buf, '/');
    *file = ctr_xstrdup(slash + 1);
    *dir = slash == buf ? ctr_xstrdup("/") : ctr_xstrndup(buf, (size_t)(slash - buf));
    return 0;
}

/* A block volume: its image becomes a virtio-blk disk (one per volume, serial `vol-N`)
 * mounted ext4 by the guest. 1 when m is one, 0 for a directory volume. */
static int block_volume(struct bundle_config *cfg, const struct bundle_mount_spec *m,
                        const char *data_root, ctr_error_t *err)
{
    struct bundle_volume v = {0};
    cleanup_error ctr_error_t e = NULL;
    size_t d;

    if (bundle_volume_load(data_root, m->source, &v, &e) < 0)
        return 0; /* missing: made on first use as a directory by bind_source */
    if (!v.block) {
        bundle_volume_release(&v);
        return 0;
    }
    for (d = 0; d < cfg->n_disks; d++)
        if (cfg->disks && cfg->disks[d].path && strcmp(cfg->disks[d].path, v.mountpoint) == 0)
            break;
    if (d == cfg->n_disks) {
        cfg->disks = ctr_xrealloc(cfg->disks, (cfg->n_disks + 1) * sizeof(*cfg->disks));
        cfg->disks[d] = (struct bundle_disk){
            .serial = ctr_xasprintf(BUNDLE_VOLUME_SERIAL_PREFIX "%zu", d),
            .path = ctr_steal_ptr(v.mountpoint),
            .readonly = m->readonly,
        };
        cfg->n_disks++;
    }
    cfg->disks[d].readonly = cfg->disks[d].readonly && m->readonly;
    bundle_volume_release(&v);
    cleanup_free char *src = ctr_xasprintf("serial:%s", cfg->disks[d].serial);
    /* an ext4 image shows a fresh volume empty, so no copy-up (docs/volumes.md) */
    add_mount(&cfg->setup, src, m->target, "ext4", m->readonly ? "ro" : "");
    (void)err;
    return 1;
}

/* An anonymous volume (`-v /path`, `--mount type=volume,target=/path`, an image VOLUME
 * no mount covers): a new volume with a random name and docker's label, copied up. */
static int anonymous_volume(struct bundle_config *cfg, const char *path, bool readonly, bool copyup,
                            const char *data_root, char ***made, ctr_error_t *err)
{
    char name[BUNDLE_CREATE_ID_LEN + 1];
    char *labels[] = {BUNDLE_VOLUME_ANONYMOUS_LABEL "=", NULL};
    cleanup_free char *dir = NULL;

    if (check_target(path, err) < 0)
        return ctr_error_wrap(err, "image VOLUME");
    if (bundle_create_new_id(name, err) < 0 ||
        bundle_volume_create(data_root, name, labels, NULL, NULL, err) < 0 ||
        bundle_volume_ensure(data_root, name, &dir, err) < 0)
        return -1;
    ctr_strv_append(made, name);
    const char *tag = share_for(cfg, dir, readonly);
    cleanup_free char *o =
        ctr_xasprintf(MOUNTS_9P_OPTIONS "%s%s", readonly ? ",ro" : "", copyup ? ",x-copyup" : "");
    add_mount(&cfg->setup, tag, path, "9p", o);
    return 0;
}

static int apply(struct bundle_config *cfg, const struct bundle_mount_spec *m, size_t n,
                 char *const *image_volumes, uint64_t shm_size, const char *data_root, char ***made,
                 ctr_error_t *err)
{
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < i; j++)
            if (strcmp(m[i].target, m[j].target) == 0)
                return ctr_fail(err, 0, "duplicate mount target `%s`", m[i].target);
        if (m[i].type == BUNDLE_MOUNT_TMPFS) {
            /* docker's defaults; `exec` in the options wins (the later flag) */
            cleanup_free char *o = ctr_xasprintf(
                "nosuid,nodev,noexec%s%s%s", m[i].readonly ? ",ro" : "",
                m[i].options && *m[i].options ? "," : "", m[i].options ? m[i].options : "");
            add_mount(&cfg->setup, "tmpfs", m[i].target, "tmpfs", o);
            continue;
        }
        if (m[i].type == BUNDLE_MOUNT_VOLUME && m[i].source == NULL) {
            if (anonymous_volume(cfg, m[i].target, m[i].readonly, !m[i].nocopy, data_root, made,
                                 err) < 0)
                return -1;
            continue;
        }
        if (m[i].type == BUNDLE_MOUNT_VOLUME) {
            int r = block_volume(cfg, &m[i], data_root, err);
            if (r < 0)
                return -1;
            if (r > 0)
                continue;
        }
        cleanup_free char *dir = NULL, *file = NULL;
        if (bind_source(&m[i], data_root, &dir, &file, err) < 0)
            return -1;
        const char *tag = share_for(cfg, dir, m[i].readonly);
        cleanup_free char *src = file ? ctr_xasprintf("%s/%s", tag, file) : ctr_xstrdup(tag);
        /* docker copies the image's content into a volume on its first use */
        bool copyup = m[i].type == BUNDLE_MOUNT_VOLUME && !m[i].nocopy;
        cleanup_free char *o = ctr_xasprintf(MOUNTS_9P_OPTIONS "%s%s", m[i].readonly ? ",ro" : "",
                                             copyup ? ",x-copyup" : "");
        add_mount(&cfg->setup, src, m[i].target, "9p", o);
    }
    for (size_t v = 0; image_volumes && image_volumes[v]; v++) {
        bool covered = false;
        for (size_t i = 0; i < n && !covered; i++)
            covered = strcmp(m[i].target, image_volumes[v]) == 0;
        if (!covered &&
            anonymous_volume(cfg, image_volumes[v], false, true, data_root, made, err) < 0)
            return -1;
    }
    size_t blocks = 0;
    for (size_t d = 0; d < cfg->n_disks; d++)
        blocks += cfg->disks && cfg->disks[d].serial &&
                  strncmp(cfg->disks[d].serial, BUNDLE_VOLUME_SERIAL_PREFIX,
                          strlen(BUNDLE_VOLUME_SERIAL_PREFIX)) == 0;
    if (cfg->n_disks + BUNDLE_FIXED_VIRTIO_DEVICES > BUNDLE_MAX_VIRTIO_DEVICES ||
        cfg->n_shares > BUNDLE_MAX_VIRTIO_DEVICES - BUNDLE_FIXED_VIRTIO_DEVICES - cfg->n_disks) {
        size_t max =
            BUNDLE_MAX_VIRTIO_DEVICES - BUNDLE_FIXED_VIRTIO_DEVICES - (cfg->n_disks - blocks);
        if (blocks == 0)
            return ctr_fail(err, 0,
                            "%zu distinct host directories are mounted but a container can share "
                            "at most %zu (each takes one of the microvm's %d virtio devices); "
                            "mount a common parent directory instead",
                            cfg->n_shares, max, BUNDLE_MAX_VIRTIO_DEVICES);
        return ctr_fail(err, 0,
                        "%zu distinct host directories and %zu block volumes are mounted but a "
                        "container can attach at most %zu of them together (each takes one of "
                        "the microvm's %d virtio devices); mount a common parent directory or "
                        "fewer volumes",
                        cfg->n_shares, blocks, max, BUNDLE_MAX_VIRTIO_DEVICES);
    }
    if (shm_size) {
        cleanup_free char *o =
            ctr_xasprintf("nosuid,nodev,noexec,mode=1777,size=%llu", (unsigned long long)shm_size);
        add_mount(&cfg->setup, "shm", "/dev/shm", "tmpfs", o);
    }
    return 0;
}

int bundle_mounts_apply(struct bundle_config *cfg, const struct bundle_mount_spec *m, size_t n,
                        char *const *image_volumes, uint64_t shm_size, const char *data_root,
                        ctr_error_t *err)
{
    cleanup_strv char **made = ctr_xcalloc(1, sizeof(char *));
    if (apply(cfg, m, n, image_volumes, shm_size, data_root, &made, err) == 0)
        return 0;
    for (size_t i = 0; made[i]; i++) { /* a refused bundle leaves no anonymous volume */
        ctr_error_t e = NULL;
        if (bundle_volume_remove(data_root, made[i], &e) < 0)
            ctr_error_free(&e);
    }
    return -1;
}
