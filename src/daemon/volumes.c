/* The volume service: a bundle's anonymous volumes, and the volumes /volumes lists,
 * creates and removes (their Docker edge: api/volumes.c; the mounts of a create:
 * api/mounts.c). Volumes live in DATA/volumes (src/bundle/volumes.c); which
 * containers use one is read from their bundles' shares and disks; a block volume
 * is refused to a second running container. docs/volumes.md. */
#include "daemon/daemon-internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static char **volume_users(struct dmn *d, const char *mountpoint);

/* DATA/volumes/NAME/_data → NAME when that volume is anonymous (caller frees). */
static char *anonymous_volume_name(struct dmn *d, const char *dir)
{
    cleanup_free char *prefix = ctr_xasprintf("%s/volumes/", d->cfg.root);
    size_t pl = strlen(prefix), dl = strlen(dir);
    struct bundle_volume v = {0};
    cleanup_error ctr_error_t e = NULL;

    if (strncmp(dir, prefix, pl) != 0 || dl < pl + 7 || strcmp(dir + dl - 6, "/_data") != 0)
        return NULL;
    cleanup_free char *name = ctr_xstrndup(dir + pl, dl - pl - 6);
    if (strchr(name, '/') || bundle_volume_load(d->cfg.root, name, &v, &e) < 0)
        return NULL;
    bool anon = false;
    size_t ll = strlen(BUNDLE_VOLUME_ANONYMOUS_LABEL);
    for (size_t i = 0; v.labels && v.labels[i]; i++)
        anon = anon || (strncmp(v.labels[i], BUNDLE_VOLUME_ANONYMOUS_LABEL, ll) == 0 &&
                        (v.labels[i][ll] == '=' || v.labels[i][ll] == '\0'));
    bundle_volume_release(&v);
    return anon ? ctr_steal_ptr(name) : NULL;
}

int dmn_anonymous_volumes(struct dmn *d, const char *bundle, char ***names, char ***targets,
                          bool **readonly, ctr_error_t *err)
{
    struct bundle_config cfg = {0};
    char **nv = ctr_xcalloc(1, sizeof(char *)), **tv = ctr_xcalloc(1, sizeof(char *));
    bool *ro = NULL;
    size_t n = 0;

    if (bundle_config_load(bundle, &cfg, err) < 0) {
        ctr_strv_free(nv);
        ctr_strv_free(tv);
        return -1;
    }
    for (size_t i = 0; i < cfg.setup.n_mounts; i++) {
        const struct agent_mount *m = &cfg.setup.mounts[i];
        if (m->fstype == NULL || strcmp(m->fstype, "9p") != 0)
            continue;
        for (size_t s = 0; s < cfg.n_shares; s++) {
            if (strcmp(cfg.shares[s].tag, m->source) != 0)
                continue;
            cleanup_free char *name = anonymous_volume_name(d, cfg.shares[s].path);
            if (name == NULL)
                break;
            ctr_strv_append(&nv, name);
            ctr_strv_append(&tv, m->target);
            ro = ctr_xrealloc(ro, (n + 1) * sizeof(*ro));
            ro[n++] =
                m->options && (strstr(m->options, ",ro,") || strncmp(m->options, "ro,", 3) == 0 ||
                               (strlen(m->options) >= 3 &&
                                strcmp(m->options + strlen(m->options) - 3, ",ro") == 0));
            break;
        }
    }
    bundle_config_release(&cfg);
    *names = nv;
    if (targets)
        *targets = tv;
    else
        ctr_strv_free(tv);
    if (readonly)
        *readonly = ro;
    else
        free(ro);
    return 0;
}

void dmn_anonymous_volumes_remove(struct dmn *d, char *const *names)
{
    for (size_t i = 0; names && names[i]; i++) {
        cleanup_error ctr_error_t e = NULL;
        cleanup_free char *dir = dmn_volume_dir(d, names[i]);
        char **users = volume_users(d, dir);
        bool used = users[0] != NULL;
        ctr_strv_free(users);
        if (used) /* docker leaves a volume another container uses */
            continue;
        if (bundle_volume_remove(d->cfg.root, names[i], &e) < 0)
            log_warn("remove anonymous volume `%s`: %s", names[i], e->msg);
        else {
            dmn_lock(d);
            dmn_event_emit_locked(d, "volume", "destroy", names[i], NULL);
            dmn_unlock(d);
        }
    }
}

/* Names of the containers whose bundle shares the volume's directory (caller frees). */
static char **volume_users(struct dmn *d, const char *mountpoint)
{
    char **users = ctr_xcalloc(1, sizeof(char *));
    char **bundles = ctr_xcalloc(1, sizeof(char *)), **names = ctr_xcalloc(1, sizeof(char *));

    dmn_lock(d);
    for (size_t i = 0; i < d->n_ctrs; i++) {
        if (d->ctrs[i]->removed || d->ctrs[i]->bundle == NULL)
            continue;
        ctr_strv_append(&bundles, d->ctrs[i]->bundle);
        ctr_strv_append(&names, d->ctrs[i]->name ? d->ctrs[i]->name : d->ctrs[i]->id);
    }
    dmn_unlock(d);
    for (size_t i = 0; bundles[i]; i++) {
        struct bundle_config cfg = {0};
        cleanup_error ctr_error_t e = NULL;
        if (bundle_config_load(bundles[i], &cfg, &e) < 0)
            continue;
        bool uses = false;
        for (size_t s = 0; s < cfg.n_shares && !uses; s++)
            uses = strcmp(cfg.shares[s].path, mountpoint) == 0;
        for (size_t s = 0; s < cfg.n_disks && !uses; s++)
            uses = strcmp(cfg.disks[s].path, mountpoint) == 0;
        if (uses)
            ctr_strv_append(&users, names[i]);
        bundle_config_release(&cfg);
    }
    ctr_strv_free(bundles);
    ctr_strv_free(names);
    return users;
}

/* A block volume's ext4 cannot be mounted by two VMs at once (not even read-only
 * beside a writer: the reader's cache goes stale and the journal is replayed twice),
 * so c may not start while a running container attaches one of c's block volumes,
 * unless both attach it read-only. Called with d->lock held. */
int dmn_block_volumes_check_locked(struct dmn *d, struct dmn_container *c, ctr_error_t *err)
{
    struct bundle_config mine = {0};
    size_t prefix = strlen(BUNDLE_VOLUME_SERIAL_PREFIX);
    int r = 0;

    if (bundle_config_load(c->bundle, &mine, err) < 0)
        return -1;
    for (size_t i = 0; i < d->n_ctrs && r == 0; i++) {
        struct dmn_container *o = d->ctrs[i];
        if (o == c || o->removed || o->bundle == NULL ||
            (o->status != DMN_RUNNING && o->status != DMN_STARTING))
            continue;
        struct bundle_config cfg = {0};
        cleanup_error ctr_error_t e = NULL;
        if (bundle_config_load(o->bundle, &cfg, &e) < 0)
            continue;
        for (size_t a = 0; a < mine.n_disks && r == 0; a++) {
            if (strncmp(mine.disks[a].serial, BUNDLE_VOLUME_SERIAL_PREFIX, prefix) != 0)
                continue;
            for (size_t b = 0; b < cfg.n_disks && r == 0; b++) {
                if (strcmp(mine.disks[a].path, cfg.disks[b].path) != 0 ||
                    (mine.disks[a].readonly && cfg.disks[b].readonly))
                    continue;
                /* DATA/volumes/NAME/volume.ext4 */
                const char *end = strrchr(mine.disks[a].path, '/'), *start = end;
                while (start > mine.disks[a].path && start[-1] != '/')
                    start--;
                r = dmn_fail(err, EBUSY,
                             "block volume `%.*s` is attached by running container `%s`: an "
                             "ext4 volume can be used by one running container at a time "
                             "(several only if all mount it read-only); stop `%s` first or use "
                             "a directory volume",
                             (int)(end - start), start, o->name ? o->name : o->id,
                             o->name ? o->name : o->id);
            }
        }
        bundle_config_release(&cfg);
    }
    bundle_config_release(&mine);
    return r;
}

char *dmn_volume_dir(struct dmn *d, const char *name)
{
    return ctr_xasprintf("%s/volumes/%s/_data", d->cfg.root, name);
}

char *dmn_volume_source(struct dmn *d, const char *name)
{
    char *src = ctr_xasprintf("%s/volumes/%s/volume.ext4", d->cfg.root, name);
    if (access(src, F_OK) == 0)
        return src;
    free(src); /* not a block volume */
    return dmn_volume_dir(d, name);
}

void dmn_volumes_free(struct dmn_volume *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        bundle_volume_release(&v[i].vol);
    free(v);
}

int dmn_volumes_list(struct dmn *d, bool with_use, struct dmn_volume **out, size_t *n_out,
                     ctr_error_t *err)
{
    cleanup_strv char **names = NULL;
    struct dmn_volume *v;
    size_t n = 0;

    if (bundle_volume_list(d->cfg.root, &names, err) < 0)
        return -1;
    v = ctr_xcalloc(ctr_strv_len(names) + 1, sizeof(*v));
    for (size_t i = 0; names[i]; i++) {
        cleanup_error ctr_error_t e = NULL;
        if (bundle_volume_load(d->cfg.root, names[i], &v[n].vol, &e) < 0)
            continue; /* removed meanwhile */
        if (with_use) {
            char **users = volume_users(d, v[n].vol.mountpoint);
            v[n].in_use = users[0] != NULL;
            ctr_strv_free(users);
        }
        n++;
    }
    *out = v;
    *n_out = n;
    return 0;
}

int dmn_volume_create(struct dmn *d, const char *name, char *const *labels, char *const *opts,
                      struct bundle_volume *out, ctr_error_t *err)
{
    /* docker: creating an existing volume returns it */
    bool existed = false;
    char gen[BUNDLE_CREATE_ID_LEN + 1];
    cleanup_strv char **all = ctr_strv_dup((char **)labels);
    if (name == NULL || *name == '\0') {
        if (bundle_create_new_id(gen, err) < 0)
            return -1;
        name = gen;
        ctr_strv_append(&all, BUNDLE_VOLUME_ANONYMOUS_LABEL "=");
    }
    if (bundle_volume_create(d->cfg.root, name, all, (char **)opts, &existed, err) < 0) {
        if ((*err)->errnum == ENOTSUP || (*err)->errnum == 0)
            (*err)->errnum = EINVAL;
        return -1;
    }
    return bundle_volume_load(d->cfg.root, name, out, err);
}

int dmn_volume_get(struct dmn *d, const char *name, struct bundle_volume *out, ctr_error_t *err)
{
    /* A name no volume can have is one that does not exist (Docker's 404). */
    if (bundle_volume_check_name(name, NULL) < 0)
        return dmn_fail(err, ENOENT, "get %s: no such volume", name);
    if (bundle_volume_load(d->cfg.root, name, out, err) < 0) {
        if ((*err)->errnum == EINVAL)
            (*err)->errnum = ENOENT;
        return -1;
    }
    return 0;
}

int dmn_volume_remove(struct dmn *d, const char *name, ctr_error_t *err)
{
    struct bundle_volume vol = {0};
    if (bundle_volume_load(d->cfg.root, name, &vol, err) < 0) {
        (*err)->errnum = ENOENT;
        return -1;
    }
    cleanup_strv char **users = volume_users(d, vol.mountpoint);
    bundle_volume_release(&vol);
    if (users[0]) {
        cleanup_free char *list = ctr_xstrdup("");
        for (size_t i = 0; users[i]; i++) {
            char *l = ctr_xasprintf("%s%s`%s`", list, i ? ", " : "", users[i]);
            free(list);
            list = l;
        }
        return dmn_fail(err, EBUSY,
                        "volume `%s` is in use by container %s: remove the container%s first", name,
                        list, users[1] ? "s" : "");
    }
    return bundle_volume_remove(d->cfg.root, name, err);
}

int dmn_volumes_prune(struct dmn *d, bool (*match)(const struct bundle_volume *v, void *ctx),
                      void *ctx, char ***deleted, uint64_t *reclaimed, ctr_error_t *err)
{
    cleanup_strv char **names = NULL;

    *reclaimed = 0;
    if (bundle_volume_list(d->cfg.root, &names, err) < 0)
        return -1;
    char **out = ctr_xcalloc(1, sizeof(char *));
    for (size_t i = 0; names[i]; i++) {
        struct bundle_volume vol = {0};
        cleanup_error ctr_error_t e = NULL;
        if (bundle_volume_load(d->cfg.root, names[i], &vol, &e) < 0)
            continue;
        cleanup_strv char **users = volume_users(d, vol.mountpoint);
        uint64_t size = dmn_disk_usage(vol.mountpoint);
        bool take = match(&vol, ctx);
        bundle_volume_release(&vol);
        if (users[0] || !take)
            continue;
        if (bundle_volume_remove(d->cfg.root, names[i], &e) < 0) {
            log_warn("prune volume `%s`: %s", names[i], e->msg);
            continue;
        }
        ctr_strv_append(&out, names[i]);
        *reclaimed += size;
    }
    *deleted = out;
    return 0;
}
