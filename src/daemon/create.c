/* POST /containers/create: Docker's ContainerConfig + HostConfig become a
 * bundle (bundle_create, Docker's merge rules) plus the daemon's metadata. */
#include "daemon/api/api.h"
#include "image/store.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const config_keys[] = {"Hostname",
                                          "Domainname",
                                          "User",
                                          "AttachStdin",
                                          "AttachStdout",
                                          "AttachStderr",
                                          "ExposedPorts",
                                          "Tty",
                                          "OpenStdin",
                                          "StdinOnce",
                                          "Env",
                                          "Cmd",
                                          "Healthcheck",
                                          "ArgsEscaped",
                                          "Image",
                                          "Volumes",
                                          "WorkingDir",
                                          "Entrypoint",
                                          "NetworkDisabled",
                                          "MacAddress",
                                          "OnBuild",
                                          "Labels",
                                          "StopSignal",
                                          "StopTimeout",
                                          "Shell",
                                          "HostConfig",
                                          "NetworkingConfig",
                                          "Platform",
                                          NULL};

static const char *const host_config_keys[] = {"Binds",
                                               "ContainerIDFile",
                                               "LogConfig",
                                               "NetworkMode",
                                               "PortBindings",
                                               "RestartPolicy",
                                               "AutoRemove",
                                               "VolumeDriver",
                                               "VolumesFrom",
                                               "ConsoleSize",
                                               "Annotations",
                                               "CapAdd",
                                               "CapDrop",
                                               "CgroupnsMode",
                                               "Dns",
                                               "DnsOptions",
                                               "DnsSearch",
                                               "ExtraHosts",
                                               "GroupAdd",
                                               "IpcMode",
                                               "Cgroup",
                                               "Links",
                                               "OomScoreAdj",
                                               "PidMode",
                                               "Privileged",
                                               "PublishAllPorts", /* accepted, ignored */
                                               "ReadonlyRootfs",
                                               "SecurityOpt",
                                               "StorageOpt",
                                               "Tmpfs",
                                               "UTSMode",
                                               "UsernsMode",
                                               "ShmSize",
                                               "Sysctls",
                                               "Runtime",
                                               "Isolation",
                                               "CpuShares",
                                               "Memory",
                                               "NanoCpus",
                                               "CgroupParent",
                                               "BlkioWeight",
                                               "BlkioWeightDevice",
                                               "BlkioDeviceReadBps",
                                               "BlkioDeviceWriteBps",
                                               "BlkioDeviceReadIOps",
                                               "BlkioDeviceWriteIOps",
                                               "CpuPeriod",
                                               "CpuQuota",
                                               "CpuRealtimePeriod",
                                               "CpuRealtimeRuntime",
                                               "CpusetCpus",
                                               "CpusetMems",
                                               "Devices",
                                               "DeviceCgroupRules",
                                               "DeviceRequests",
                                               "KernelMemory",
                                               "KernelMemoryTCP",
                                               "MemoryReservation",
                                               "MemorySwap",
                                               "MemorySwappiness",
                                               "OomKillDisable",
                                               "PidsLimit",
                                               "Ulimits",
                                               "CpuCount",
                                               "CpuPercent",
                                               "IOMaximumIOps",
                                               "IOMaximumBandwidth",
                                               "Mounts",
                                               "MaskedPaths",
                                               "ReadonlyPaths",
                                               "Init",
                                               "Capabilities",
                                               "DiskQuota",
                                               "ContainerNoDns", /* ours: --no-dns */
                                               NULL};

/* Fields that would change the container and that we cannot honour yet:
 * refused when they carry a value. */
static const char *const unsupported_host[] = {
    "Privileged",        "CapAdd",       "CapDrop",     "Devices",  "DeviceRequests",
    "DeviceCgroupRules", "VolumesFrom",  "Links",       "Sysctls",  "PidMode",
    "UTSMode",           "UsernsMode",   "SecurityOpt", "GroupAdd", "CpusetCpus",
    "CpusetMems",        "VolumeDriver", "StorageOpt",  NULL};

static bool has_value(json_t *v)
{
    if (v == NULL || json_is_null(v) || json_is_false(v))
        return false;
    if (json_is_array(v))
        return json_array_size(v) > 0;
    if (json_is_object(v))
        return json_object_size(v) > 0;
    if (json_is_string(v))
        return *json_string_value(v) != '\0';
    if (json_is_integer(v))
        return json_integer_value(v) != 0;
    return true;
}

static bool in_list(const char *const *l, const char *k)
{
    for (size_t i = 0; l[i]; i++)
        if (strcmp(l[i], k) == 0)
            return true;
    return false;
}

/* 400 messages name the field. */
static int check_fields(json_t *body, ctr_error_t *err)
{
    const char *k;
    json_t *v;
    json_t *hc = json_object_get(body, "HostConfig");

    json_object_foreach(body, k, v)
    {
        if (!in_list(config_keys, k))
            return dmn_fail(err, EINVAL, "unknown field `%s` in the container config", k);
    }
    if (hc && !json_is_null(hc)) {
        if (!json_is_object(hc))
            return dmn_fail(err, EINVAL, "`HostConfig` must be an object");
        json_object_foreach(hc, k, v)
        {
            if (!in_list(host_config_keys, k))
                return dmn_fail(err, EINVAL, "unknown field `HostConfig.%s`", k);
            if (in_list(unsupported_host, k) && has_value(v))
                return dmn_fail(err, EINVAL, "`HostConfig.%s` is not supported by this daemon yet",
                                k);
        }
        const char *rp =
            json_string_value(json_object_get(json_object_get(hc, "RestartPolicy"), "Name"));
        if (rp && *rp && strcmp(rp, "no") != 0)
            return dmn_fail(err, EINVAL,
                            "`HostConfig.RestartPolicy.Name` `%s` is not supported yet: only `no`",
                            rp);
        const char *rt = json_string_value(json_object_get(hc, "Runtime"));
        if (rt && *rt && strcmp(rt, "container-runtime") != 0 && strcmp(rt, "runc") != 0)
            return dmn_fail(err, EINVAL,
                            "`HostConfig.Runtime` `%s` is not known: use "
                            "`container-runtime`",
                            rt);
    }
    json_t *hcheck = json_object_get(body, "Healthcheck");
    if (hcheck && has_value(json_object_get(hcheck, "Test")))
        return dmn_fail(err, EINVAL, "`Healthcheck` is not supported by this daemon yet");
    static const char *const strv_fields[] = {"Cmd", "Entrypoint", "Env", NULL};
    for (size_t i = 0; strv_fields[i]; i++) {
        v = json_object_get(body, strv_fields[i]);
        if (v == NULL || json_is_null(v))
            continue;
        if (json_is_string(v) && strcmp(strv_fields[i], "Env") != 0)
            continue; /* docker accepts a string for Cmd and Entrypoint */
        if (!json_is_array(v))
            return dmn_fail(err, EINVAL, "`%s` must be a list of strings", strv_fields[i]);
        size_t j;
        json_t *e;
        json_array_foreach(v, j, e)
        {
            if (!json_is_string(e))
                return dmn_fail(err, EINVAL, "`%s[%zu]` must be a string", strv_fields[i], j);
        }
    }
    static const char *const bool_fields[] = {
        "Tty", "OpenStdin", "StdinOnce", "AttachStdin", "AttachStdout", "AttachStderr", NULL};
    for (size_t i = 0; bool_fields[i]; i++) {
        v = json_object_get(body, bool_fields[i]);
        if (v && !json_is_boolean(v) && !json_is_null(v))
            return dmn_fail(err, EINVAL, "`%s` must be true or false", bool_fields[i]);
    }
    v = json_object_get(body, "Labels");
    if (v && !json_is_null(v)) {
        if (!json_is_object(v))
            return dmn_fail(err, EINVAL, "`Labels` must be an object of strings");
        json_t *lv;
        json_object_foreach(v, k, lv)
        {
            if (!json_is_string(lv))
                return dmn_fail(err, EINVAL, "`Labels.%s` must be a string", k);
        }
    }
    return 0;
}

/* JSON string or list → strv; NULL when absent or null. */
static char **strv_of(json_t *v)
{
    if (v == NULL || json_is_null(v))
        return NULL;
    if (json_is_string(v)) {
        char **r = ctr_xcalloc(2, sizeof(char *));
        r[0] = ctr_xstrdup(json_string_value(v));
        return r;
    }
    return dmn_json_strv(v);
}

static const char *lookup_none(const char *name, void *ctx)
{
    return NULL; /* never the daemon's own environment */
}

static json_t *labels_json(char **labels)
{
    json_t *o = json_object();
    for (size_t i = 0; labels && labels[i]; i++) {
        const char *eq = strchr(labels[i], '=');
        cleanup_free char *k =
            ctr_xstrndup(labels[i], eq ? (size_t)(eq - labels[i]) : strlen(labels[i]));
        json_object_set_new(o, k, json_string(eq ? eq + 1 : ""));
    }
    return o;
}

struct create_args {
    char **cmd, **entrypoint, **env, **labels, **ulimits;
    char *memory, *cpus;
    uint16_t rows, cols;              /* HostConfig.ConsoleSize */
    struct bundle_mount_spec *mounts; /* Binds, Mounts, Tmpfs (volumes.c) */
    size_t n_mounts;
};

static void create_args_release(struct create_args *a)
{
    ctr_strv_free(a->cmd);
    ctr_strv_free(a->entrypoint);
    ctr_strv_free(a->env);
    ctr_strv_free(a->labels);
    ctr_strv_free(a->ulimits);
    free(a->memory);
    free(a->cpus);
    bundle_mount_specs_free(a->mounts, a->n_mounts);
}

static int build_opts(struct dmn *d, json_t *body, struct create_args *a,
                      struct bundle_create_opts *o, ctr_error_t *err)
{
    json_t *hc = json_object_get(body, "HostConfig");
    const char *k;
    json_t *v;

    o->image = json_string_value(json_object_get(body, "Image"));
    a->cmd = strv_of(json_object_get(body, "Cmd"));
    o->cmd = a->cmd;
    json_t *ep = json_object_get(body, "Entrypoint");
    if (json_is_array(ep) && json_array_size(ep) == 0) {
        a->entrypoint = ctr_xcalloc(2, sizeof(char *));
        a->entrypoint[0] = ctr_xstrdup(""); /* [] clears the image's, as [""] */
    } else {
        a->entrypoint = strv_of(ep);
    }
    o->entrypoint = a->entrypoint;
    a->env = strv_of(json_object_get(body, "Env"));
    o->env = a->env;
    o->workdir = json_string_value(json_object_get(body, "WorkingDir"));
    if (o->workdir && *o->workdir == '\0')
        o->workdir = NULL;
    o->user = json_string_value(json_object_get(body, "User"));
    if (o->user && *o->user == '\0')
        o->user = NULL;
    o->hostname = json_string_value(json_object_get(body, "Hostname"));
    if (o->hostname && *o->hostname == '\0')
        o->hostname = NULL;
    a->labels = ctr_xcalloc(1, sizeof(char *));
    json_object_foreach(json_object_get(body, "Labels"), k, v)
    {
        cleanup_free char *kv = ctr_xasprintf("%s=%s", k, json_string_value(v));
        ctr_strv_append(&a->labels, kv);
    }
    o->labels = a->labels;
    o->tty = json_is_true(json_object_get(body, "Tty"));
    if (dmn_console_size(json_object_get(hc, "ConsoleSize"), &a->rows, &a->cols, err) < 0)
        return -1;
    o->interactive = json_is_true(json_object_get(body, "OpenStdin"));
    o->read_only = json_is_true(json_object_get(hc, "ReadonlyRootfs"));
    json_int_t mem = json_integer_value(json_object_get(hc, "Memory"));
    if (mem < 0)
        return dmn_fail(err, EINVAL, "`HostConfig.Memory` must not be negative");
    if (mem > 0)
        a->memory = ctr_xasprintf("%" JSON_INTEGER_FORMAT, mem);
    else if (d->cfg.default_memory)
        a->memory = ctr_xstrdup(d->cfg.default_memory);
    o->memory = a->memory;
    json_int_t nano = json_integer_value(json_object_get(hc, "NanoCpus"));
    json_int_t count = json_integer_value(json_object_get(hc, "CpuCount"));
    if (nano < 0 || count < 0)
        return dmn_fail(err, EINVAL, "`HostConfig.NanoCpus` and `CpuCount` must not be negative");
    if (count > 0)
        a->cpus = ctr_xasprintf("%" JSON_INTEGER_FORMAT, count);
    else if (nano > 0)
        a->cpus = ctr_xasprintf("%" JSON_INTEGER_FORMAT, (nano + 999999999) / 1000000000);
    else if (d->cfg.default_cpus)
        a->cpus = ctr_xstrdup(d->cfg.default_cpus);
    o->cpus = a->cpus;
    a->ulimits = ctr_xcalloc(1, sizeof(char *));
    size_t i;
    json_array_foreach(json_object_get(hc, "Ulimits"), i, v)
    {
        const char *name = json_string_value(json_object_get(v, "Name"));
        json_t *soft = json_object_get(v, "Soft"), *hard = json_object_get(v, "Hard");
        if (name == NULL || !json_is_integer(soft) || !json_is_integer(hard))
            return dmn_fail(err, EINVAL, "`HostConfig.Ulimits[%zu]` needs Name, Soft and Hard", i);
        cleanup_free char *u =
            ctr_xasprintf("%s=%" JSON_INTEGER_FORMAT ":%" JSON_INTEGER_FORMAT, name,
                          json_integer_value(soft), json_integer_value(hard));
        ctr_strv_append(&a->ulimits, u);
    }
    o->ulimits = a->ulimits;
    if (dmn_mounts_from_host_config(hc, &a->mounts, &a->n_mounts, &o->shm_size, err) < 0 ||
        dmn_mounts_add_config_volumes(json_object_get(body, "Volumes"), &a->mounts, &a->n_mounts,
                                      err) < 0)
        return -1;
    o->mounts = a->mounts;
    o->n_mounts = a->n_mounts;
    o->accel = BUNDLE_ACCEL_AUTO;
    if (d->cfg.accel && strcmp(d->cfg.accel, "kvm") == 0)
        o->accel = BUNDLE_ACCEL_KVM;
    else if (d->cfg.accel && strcmp(d->cfg.accel, "tcg") == 0)
        o->accel = BUNDLE_ACCEL_TCG;
    o->lookup_env = lookup_none;
    return 0;
}

/* The Config document inspect shows: the request's, with the merged values. */
static json_t *shown_config(json_t *body, const struct bundle_config *bc,
                            const struct imgstore_image *img, const char *image)
{
    json_t *cfg = json_deep_copy(body);
    json_object_del(cfg, "HostConfig");
    json_object_del(cfg, "NetworkingConfig");
    json_object_del(cfg, "Platform");
    const struct oci_container_config *ic = &img->config.config;
    json_t *ep = json_object_get(body, "Entrypoint");
    json_t *cmd = json_object_get(body, "Cmd");
    bool ep_given = ep && !json_is_null(ep);
    if (!ep_given)
        json_object_set_new(cfg, "Entrypoint",
                            ic->entrypoint ? dmn_strv_json(ic->entrypoint) : json_null());
    if ((cmd == NULL || json_is_null(cmd) || json_array_size(cmd) == 0) && !ep_given)
        json_object_set_new(cfg, "Cmd", ic->cmd ? dmn_strv_json(ic->cmd) : json_null());
    json_object_set_new(cfg, "Env", dmn_strv_json(bc->process.env));
    json_object_set_new(cfg, "WorkingDir", json_string(bc->process.cwd ? bc->process.cwd : ""));
    json_object_set_new(cfg, "User", json_string(bc->process.user ? bc->process.user : ""));
    json_object_set_new(cfg, "Hostname", json_string(bc->setup.hostname ? bc->setup.hostname : ""));
    json_object_set_new(cfg, "Labels", labels_json(bc->labels));
    json_object_set_new(cfg, "Image", json_string(image));
    static const char *const bools[] = {
        "AttachStdin", "AttachStdout", "AttachStderr", "Tty", "OpenStdin", "StdinOnce", NULL};
    for (size_t i = 0; bools[i]; i++)
        if (!json_is_boolean(json_object_get(cfg, bools[i])))
            json_object_set_new(cfg, bools[i], json_false());
    if (!json_object_get(cfg, "Domainname"))
        json_object_set_new(cfg, "Domainname", json_string(""));
    if (!json_object_get(cfg, "Volumes"))
        json_object_set_new(cfg, "Volumes", json_null());
    if (!json_object_get(cfg, "OnBuild"))
        json_object_set_new(cfg, "OnBuild", json_null());
    if (ic->stop_signal && !json_object_get(cfg, "StopSignal"))
        json_object_set_new(cfg, "StopSignal", json_string(ic->stop_signal));
    return cfg;
}

static json_t *shown_host_config(json_t *body)
{
    json_t *hc = json_object_get(body, "HostConfig");
    hc = json_is_object(hc) ? json_deep_copy(hc) : json_object();
    if (!json_is_string(json_object_get(hc, "NetworkMode")) ||
        !*json_string_value(json_object_get(hc, "NetworkMode")))
        json_object_set_new(hc, "NetworkMode", json_string("default"));
    if (!json_is_object(json_object_get(hc, "RestartPolicy")))
        json_object_set_new(hc, "RestartPolicy",
                            json_pack("{s:s,s:i}", "Name", "no", "MaximumRetryCount", 0));
    json_object_set_new(hc, "LogConfig", json_pack("{s:s,s:{}}", "Type", "json-file", "Config"));
    if (!json_is_boolean(json_object_get(hc, "AutoRemove")))
        json_object_set_new(hc, "AutoRemove", json_false());
    json_object_set_new(hc, "Runtime", json_string("container-runtime"));
    return hc;
}

static int64_t real_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int api_handle_create(struct api_req *r)
{
    struct dmn *d = r->d;
    ctr_error_t err = NULL;
    struct create_args a = {0};
    struct bundle_create_opts o = {0};
    struct bundle_config bc = {0};
    struct imgstore_image img = {0};
    struct bundle_create_paths paths = {0};
    struct dmn_netreq nrq = {0};
    cleanup_free char *name = NULL;
    cleanup_free char *kernel = NULL;
    cleanup_free char *initrd = NULL;
    char id[BUNDLE_CREATE_ID_LEN + 1];
    struct dmn_container *c = NULL;
    unsigned status = 400;
    json_t *body = api_body_json(r, &err);

    if (body == NULL)
        return api_reply_ctr_error(r, &err);
    if (!json_is_object(body)) {
        json_decref(body);
        return api_reply_error(r, 400, "the container config must be a JSON object");
    }
    const char *qname = api_query(r, "name");
    if (qname && *qname) {
        if (bundle_create_check_name(qname, &err) < 0)
            goto fail;
        name = ctr_xstrdup(qname[0] == '/' ? qname + 1 : qname);
    }
    if (dmn_config_check_types(body, &err) < 0 || check_fields(body, &err) < 0 ||
        dmn_netreq_parse(body, &nrq, &err) < 0)
        goto fail;
    if (!json_is_string(json_object_get(body, "Image")) ||
        !*json_string_value(json_object_get(body, "Image"))) {
        dmn_fail(&err, EINVAL, "`Image` is missing: name the image to create the container from");
        goto fail;
    }
    if (build_opts(d, body, &a, &o, &err) < 0)
        goto fail;
    pthread_mutex_lock(&d->img_lock);
    int rr = imgstore_resolve(d->images, o.image, &img, &err);
    pthread_mutex_unlock(&d->img_lock);
    if (rr < 0) {
        if (err->errnum == ENOENT) {
            ctr_error_free(&err);
            dmn_fail(&err, ENOENT, "No such image: %s", o.image);
            status = 404;
        }
        goto fail;
    }
    if (dmn_check_free_space(d, &err) < 0) {
        status = err->errnum == ENOSPC ? 507 : 500;
        goto fail;
    }
    if (bundle_create_new_id(id, &err) < 0) {
        status = 500;
        goto fail;
    }

    /* Reserve the name (and the id) before the slow part. */
    c = dmn_container_new();
    snprintf(c->id, sizeof(c->id), "%s", id);
    c->creating = true;
    pthread_mutex_lock(&d->lock);
    if (name == NULL)
        name = dmn_name_generate_locked(d, id);
    for (size_t i = 0; i < d->n_ctrs; i++) {
        if (strcmp(d->ctrs[i]->name, name) == 0) {
            dmn_fail(&err, EEXIST,
                     "Conflict. The container name \"/%s\" is already in use by container \"%s\". "
                     "You have to remove (or rename) that container to be able to reuse that name.",
                     name, d->ctrs[i]->id);
            pthread_mutex_unlock(&d->lock);
            status = 409;
            goto fail;
        }
    }
    c->name = ctr_xstrdup(name);
    dmn_container_add_locked(d, c);
    pthread_mutex_unlock(&d->lock);

    /* addresses and ports before the slow part: an unknown network fails fast */
    if (dmn_netconf_attach(d, c, &nrq, &err) < 0) {
        status = err->errnum == ENOENT   ? 404
                 : err->errnum == EBUSY  ? 409
                 : err->errnum == EINVAL ? 400
                                         : 500;
        goto fail_unlink;
    }

    c->bundle = ctr_xasprintf("%s/%s", d->containers_dir, id);
    kernel = dmn_kernel_path(d);
    initrd = dmn_initrd_path(d);
    paths.data_root = d->cfg.root;
    paths.kernel = kernel;
    paths.initrd = initrd;
    o.id = id;
    if (bundle_create(&paths, &o, c->bundle, NULL, &err) < 0 ||
        bundle_config_load(c->bundle, &bc, &err) < 0) {
        status = err->errnum == 0 || err->errnum == EINVAL ? 400 : 500;
        if (err->errnum == ENOENT && strstr(err->msg, "not found locally"))
            status = 404;
        goto fail_unlink;
    }
    if (o.tty && a.rows && a.cols) {
        /* the client's terminal size is the one the process starts with */
        bc.process.rows = a.rows;
        bc.process.cols = a.cols;
    }
    /* Refused now rather than at every start. */
    if (dmn_process_check_size(&bc.process, "container's process", &err) < 0) {
        status = 400;
        goto fail_unlink;
    }
    c->created_ns = real_ns();
    c->image = ctr_xstrdup(o.image);
    c->image_id = ctr_xstrdup(img.manifest_digest);
    c->config = shown_config(body, &bc, &img, o.image);
    c->host_config = shown_host_config(body);
    if (dmn_netconf_fill(c, &bc, &err) < 0 || bundle_config_save(c->bundle, &bc, &err) < 0) {
        status = err->errnum == EINVAL ? 400 : 500;
        goto fail_unlink;
    }
    c->path = ctr_xstrdup(bc.process.args[0]);
    c->args = ctr_strv_dup(bc.process.args + 1);
    c->tty = o.tty;
    c->open_stdin = o.interactive;
    c->stdin_once = json_is_true(json_object_get(body, "StdinOnce"));
    c->auto_remove =
        json_is_true(json_object_get(json_object_get(body, "HostConfig"), "AutoRemove"));
    const char *ss = json_string_value(json_object_get(c->config, "StopSignal"));
    c->stop_signal = ss && *ss ? ctr_xstrdup(ss) : NULL;
    json_t *sto = json_object_get(body, "StopTimeout");
    c->stop_timeout = json_is_integer(sto) ? (int)json_integer_value(sto) : -1;
    c->status = DMN_CREATED;

    pthread_mutex_lock(&d->lock);
    if (dmn_container_save_locked(d, c, &err) < 0) {
        pthread_mutex_unlock(&d->lock);
        status = 500;
        goto fail_unlink;
    }
    c->creating = false;
    dmn_event_container_locked(d, c, "create", NULL);
    pthread_mutex_unlock(&d->lock);
    log_info("container %.12s (%s) created from `%s`", c->id, c->name, c->image);
    api_reply_json(r, 201, json_pack("{s:s,s:[]}", "Id", c->id, "Warnings"));
    dmn_container_put(d, c);
    goto out;

fail_unlink : {
    ctr_error_t e2 = NULL;
    if (c->bundle && ctr_rm_rf(c->bundle, &e2) < 0)
        ctr_error_free(&e2);
    dmn_netconf_release(d, c, NULL);
}
    pthread_mutex_lock(&d->lock);
    dmn_container_unlink_locked(d, c);
    pthread_mutex_unlock(&d->lock);
fail:
    api_reply_error(r, status, "%s", err->msg);
    ctr_error_free(&err);
    if (c)
        dmn_container_put(d, c);
out:
    json_decref(body);
    dmn_netreq_release(&nrq);
    create_args_release(&a);
    bundle_config_release(&bc);
    imgstore_image_release(&img);
    return 0;
}
