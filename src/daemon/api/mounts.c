/* HostConfig.Binds, Mounts, Tmpfs and ShmSize of a create request as mount specs
 * (src/bundle/mounts.c parses each flag), Config.Volumes as anonymous volumes, and
 * Docker's `Mounts` of inspect and list. The volumes themselves: volumes.c.
 * docs/volumes.md. */
#include "daemon/api/api.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static void add_spec(struct bundle_mount_spec **v, size_t *n, struct bundle_mount_spec *m)
{
    *v = ctr_xrealloc(*v, (*n + 1) * sizeof(**v));
    (*v)[(*n)++] = *m;
}

static int mount_object(json_t *m, size_t i, struct bundle_mount_spec *out, ctr_error_t *err)
{
    const char *type = json_string_value(json_object_get(m, "Type"));
    const char *src = json_string_value(json_object_get(m, "Source"));
    const char *dst = json_string_value(json_object_get(m, "Target"));
    bool ro = json_is_true(json_object_get(m, "ReadOnly"));
    json_t *topt = json_object_get(m, "TmpfsOptions");
    cleanup_free char *spec = NULL;

    if (!json_is_object(m) || type == NULL)
        return dmn_fail(err, EINVAL, "`HostConfig.Mounts[%zu]` needs `Type`", i);
    if (strcmp(type, "tmpfs") == 0) {
        json_int_t size = json_integer_value(json_object_get(topt, "SizeBytes"));
        json_int_t mode = json_integer_value(json_object_get(topt, "Mode"));
        cleanup_free char *o =
            size > 0 ? ctr_xasprintf("size=%" JSON_INTEGER_FORMAT, size) : ctr_xstrdup("");
        if (mode > 0) {
            char *o2 = ctr_xasprintf("%s%smode=%o", o, *o ? "," : "", (unsigned)mode);
            free(o);
            o = o2;
        }
        if (bundle_mount_parse_tmpfs(dst, o, out, err) < 0)
            return ctr_error_wrap(err, "`HostConfig.Mounts[%zu]`", i);
        out->readonly = ro;
        return 0;
    }
    if (strcmp(type, "bind") && strcmp(type, "volume"))
        return dmn_fail(err, EINVAL,
                        "`HostConfig.Mounts[%zu].Type` `%s` is not supported: use `bind`, "
                        "`volume` or `tmpfs`",
                        i, type);
    if ((src == NULL || *src == '\0') && strcmp(type, "bind") == 0)
        return dmn_fail(err, EINVAL, "`HostConfig.Mounts[%zu]`: a bind mount needs `Source`", i);
    if ((src && strchr(src, ',')) || (dst && strchr(dst, ',')))
        return dmn_fail(err, EINVAL, "`HostConfig.Mounts[%zu]`: paths with `,` are not supported",
                        i);
    /* a volume without Source: an anonymous one */
    bool nocopy = json_is_true(json_object_get(json_object_get(m, "VolumeOptions"), "NoCopy"));
    const char *prop =
        json_string_value(json_object_get(json_object_get(m, "BindOptions"), "Propagation"));
    if (prop && *prop && bundle_mount_propagation(prop) == NULL)
        return dmn_fail(err, EINVAL,
                        "`HostConfig.Mounts[%zu].BindOptions.Propagation`: invalid propagation "
                        "mode: %s",
                        i, prop);
    if (prop && *prop && strcmp(type, "bind") != 0)
        return dmn_fail(err, EINVAL,
                        "`HostConfig.Mounts[%zu]`: BindOptions must not be specified for a "
                        "mount of type %s",
                        i, type);
    spec = ctr_xasprintf("type=%s%s%s,target=%s%s%s%s%s", type, src && *src ? ",source=" : "",
                         src && *src ? src : "", dst ? dst : "", ro ? ",readonly" : "",
                         nocopy ? ",volume-nocopy" : "", prop && *prop ? ",bind-propagation=" : "",
                         prop && *prop ? prop : "");
    if (bundle_mount_parse_flag(spec, out, err) < 0) {
        (*err)->errnum = EINVAL;
        return ctr_error_wrap(err, "`HostConfig.Mounts[%zu]`", i);
    }
    return 0;
}

int api_mounts_from_host_config(json_t *hc, struct bundle_mount_spec **out, size_t *n_out,
                                uint64_t *shm, ctr_error_t *err)
{
    struct bundle_mount_spec *v = NULL;
    size_t n = 0, i;
    json_t *e;
    const char *k;

    *shm = 0;
    json_array_foreach(json_object_get(hc, "Binds"), i, e)
    {
        struct bundle_mount_spec m;
        if (!json_is_string(e)) {
            bundle_mount_specs_free(v, n);
            return dmn_fail(err, EINVAL, "`HostConfig.Binds[%zu]` must be a string", i);
        }
        if (bundle_mount_parse_bind(json_string_value(e), &m, err) < 0) {
            bundle_mount_specs_free(v, n);
            (*err)->errnum = EINVAL;
            return -1;
        }
        add_spec(&v, &n, &m);
    }
    json_array_foreach(json_object_get(hc, "Mounts"), i, e)
    {
        struct bundle_mount_spec m;
        if (mount_object(e, i, &m, err) < 0) {
            bundle_mount_specs_free(v, n);
            return -1;
        }
        add_spec(&v, &n, &m);
    }
    json_object_foreach(json_object_get(hc, "Tmpfs"), k, e)
    {
        struct bundle_mount_spec m;
        if (bundle_mount_parse_tmpfs(k, json_string_value(e), &m, err) < 0) {
            bundle_mount_specs_free(v, n);
            (*err)->errnum = EINVAL;
            return -1;
        }
        add_spec(&v, &n, &m);
    }
    json_int_t shm_size = json_integer_value(json_object_get(hc, "ShmSize"));
    if (shm_size < 0) {
        bundle_mount_specs_free(v, n);
        return dmn_fail(err, EINVAL, "`HostConfig.ShmSize` must not be negative");
    }
    *shm = (uint64_t)shm_size;
    *out = v;
    *n_out = n;
    return 0;
}

int api_mounts_add_config_volumes(json_t *volumes, struct bundle_mount_spec **v, size_t *n,
                                  ctr_error_t *err)
{
    const char *k;
    json_t *e;

    if (volumes && !json_is_null(volumes) && !json_is_object(volumes))
        return dmn_fail(err, EINVAL, "`Volumes` must be an object of container paths");
    json_object_foreach(volumes, k, e)
    {
        bool covered = false;
        for (size_t i = 0; i < *n && !covered; i++)
            covered = strcmp((*v)[i].target, k) == 0;
        if (covered)
            continue; /* a bind or named volume on that path wins, as docker */
        struct bundle_mount_spec m = {0};
        if (k[0] != '/' || bundle_mount_parse_bind(k, &m, err) < 0) {
            if (k[0] != '/')
                dmn_fail(err, EINVAL, "`Volumes`: `%s` must be an absolute container path", k);
            (*err)->errnum = EINVAL;
            return -1;
        }
        add_spec(v, n, &m);
    }
    return 0;
}

static bool target_covered(const struct bundle_mount_spec *v, size_t n, const char *t)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i].target, t) == 0)
            return true;
    return false;
}

/* HostConfig.VolumesFrom "name[:ro|rw]": moby's: the other container's binds and volumes
 * (named and anonymous) at the same paths, read-only or read-write as the suffix says, else
 * as they are there; a path the request mounts itself keeps the request's. */
int api_mounts_add_volumes_from(struct dmn *d, json_t *vf, bool locked,
                                struct bundle_mount_spec **v, size_t *n, ctr_error_t *err)
{
    size_t i;
    json_t *e;
    json_array_foreach(vf, i, e)
    {
        const char *spec = json_string_value(e);
        cleanup_free char *name = ctr_xstrdup(spec ? spec : "");
        char *mode = strchr(name, ':');
        if (mode)
            *mode++ = '\0';
        if (*name == '\0' || (mode && strcmp(mode, "ro") && strcmp(mode, "rw") &&
                              strcmp(mode, "z") && strcmp(mode, "Z")))
            return dmn_fail(err, EINVAL, "invalid mode for volumes-from: %s", spec ? spec : "");
        struct dmn_container *c =
            locked ? dmn_container_find_locked(d, name) : dmn_container_get(d, name, err);
        if (c == NULL && locked)
            dmn_fail(err, ENOENT, "No such container: %s", name);
        if (c == NULL)
            return -1; /* moby: "No such container: x", 404 */
        struct bundle_mount_spec *m = NULL;
        size_t nm = 0;
        uint64_t shm;
        json_t *hc = json_deep_copy(c->host_config);
        int rc = api_mounts_from_host_config(hc, &m, &nm, &shm, err);
        json_decref(hc);
        cleanup_strv char **names = NULL, **targets = NULL;
        cleanup_free bool *ro = NULL;
        if (rc == 0 && dmn_anonymous_volumes(d, c->bundle, &names, &targets, &ro, err) < 0)
            rc = -1;
        if (locked)
            c->refs--; /* under d->lock: c stays */
        else
            dmn_container_put(d, c);
        if (rc < 0) {
            bundle_mount_specs_free(m, nm);
            return -1;
        }
        for (size_t k = 0; names && names[k]; k++) {
            struct bundle_mount_spec a = {.type = BUNDLE_MOUNT_VOLUME,
                                          .source = ctr_xstrdup(names[k]),
                                          .target = ctr_xstrdup(targets[k]),
                                          .readonly = ro[k]};
            add_spec(&m, &nm, &a);
        }
        for (size_t k = 0; k < nm; k++) {
            bool anon = m[k].type == BUNDLE_MOUNT_VOLUME && m[k].source == NULL;
            if (anon || m[k].type == BUNDLE_MOUNT_TMPFS || target_covered(*v, *n, m[k].target)) {
                bundle_mount_spec_release(&m[k]); /* anonymous: listed from the bundle */
                continue;
            }
            if (mode && strcmp(mode, "ro") == 0)
                m[k].readonly = true;
            else if (mode && strcmp(mode, "rw") == 0)
                m[k].readonly = false;
            add_spec(v, n, &m[k]);
        }
        free(m);
    }
    return 0;
}

json_t *api_container_mounts_json(struct dmn *d, struct dmn_container *c)
{
    struct bundle_mount_spec *m = NULL;
    size_t n = 0;
    uint64_t shm;
    cleanup_error ctr_error_t err = NULL;
    json_t *arr = json_array();

    if (c->host_config == NULL ||
        api_mounts_from_host_config(c->host_config, &m, &n, &shm, &err) < 0)
        return arr;
    if (api_mounts_add_volumes_from(d, json_object_get(c->host_config, "VolumesFrom"), true, &m, &n,
                                    &err) < 0)
        ctr_error_free(&err); /* a source removed since: what it still has */
    /* the bundle's anonymous volumes (its own, and another's through VolumesFrom) */
    cleanup_strv char **names = NULL, **targets = NULL;
    cleanup_free bool *ro = NULL;
    cleanup_error ctr_error_t aerr = NULL;
    bool anon_ok =
        c->bundle && dmn_anonymous_volumes(d, c->bundle, &names, &targets, &ro, &aerr) == 0;
    for (size_t i = 0; i < n; i++) {
        if (m[i].type == BUNDLE_MOUNT_VOLUME && m[i].source == NULL)
            continue; /* anonymous: below, named from the bundle */
        bool listed = false;
        for (size_t k = 0; anon_ok && m[i].type == BUNDLE_MOUNT_VOLUME && names[k]; k++)
            listed = listed || strcmp(names[k], m[i].source) == 0;
        if (listed)
            continue; /* another container's anonymous volume: below too */
        static const char *const types[] = {"bind", "volume", "tmpfs"};
        json_t *j = json_pack("{s:s, s:s, s:s, s:b, s:s}", "Type", types[m[i].type], "Destination",
                              m[i].target, "Mode", m[i].readonly ? "ro" : "", "RW", !m[i].readonly,
                              "Propagation",
                              m[i].type != BUNDLE_MOUNT_BIND ? ""
                              : m[i].propagation             ? m[i].propagation
                                                             : "rprivate");
        if (m[i].type == BUNDLE_MOUNT_BIND) {
            json_object_set_new(j, "Source", json_string(m[i].source));
        } else if (m[i].type == BUNDLE_MOUNT_VOLUME) {
            cleanup_free char *src = dmn_volume_source(d, m[i].source);
            json_object_set_new(j, "Name", json_string(m[i].source));
            json_object_set_new(j, "Source", json_string(src));
            json_object_set_new(j, "Driver", json_string("local"));
        } else {
            json_object_set_new(j, "Source", json_string(""));
        }
        json_array_append_new(arr, j);
    }
    bundle_mount_specs_free(m, n);
    if (anon_ok) {
        for (size_t i = 0; names[i]; i++) {
            cleanup_free char *src = dmn_volume_dir(d, names[i]);
            json_array_append_new(arr,
                                  json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:b, s:s}", "Type",
                                            "volume", "Name", names[i], "Source", src,
                                            "Destination", targets[i], "Driver", "local", "Mode",
                                            ro[i] ? "ro" : "", "RW", !ro[i], "Propagation", ""));
        }
    }
    return arr;
}
