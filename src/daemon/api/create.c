/* POST /containers/create: the request's checks (unsupported and mistyped fields: 400
 * naming the field; unknown ones are ignored, as Docker does) and its parse into a struct
 * dmn_create_req for the container service (create.c). */
#include "daemon/api/api.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* Fields that would change the container and that we cannot honour yet:
 * refused when they carry a value. */
static const char *const unsupported_host[] = {
    "Privileged", "CapAdd",      "CapDrop",    "Devices",      "DeviceRequests", "Sysctls",
    "UsernsMode", "SecurityOpt", "CpusetMems", "VolumeDriver", "StorageOpt",     NULL};

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

/* Config.Healthcheck: its types, and moby's checks with its messages (health.c runs it). */
static int check_healthcheck(json_t *hc, ctr_error_t *err)
{
    if (hc == NULL || json_is_null(hc))
        return 0;
    json_t *test = json_object_get(hc, "Test");
    if (test && !json_is_null(test)) {
        if (!json_is_array(test))
            return dmn_fail(err, EINVAL, "`Healthcheck.Test` must be a list of strings");
        for (size_t i = 0; i < json_array_size(test); i++)
            if (!json_is_string(json_array_get(test, i)))
                return dmn_fail(err, EINVAL, "`Healthcheck.Test[%zu]` must be a string", i);
    }
    static const char *const durs[] = {"Interval", "Timeout", "StartPeriod", "StartInterval", NULL};
    for (size_t i = 0; durs[i]; i++) {
        json_t *v = json_object_get(hc, durs[i]);
        if (v == NULL || json_is_null(v))
            continue;
        if (!json_is_integer(v))
            return dmn_fail(err, EINVAL, "`Healthcheck.%s` must be an integer (nanoseconds)",
                            durs[i]);
        if (json_integer_value(v) != 0 && json_integer_value(v) < 1000000)
            return dmn_fail(err, EINVAL, "%s in Healthcheck cannot be less than 1ms", durs[i]);
    }
    json_t *r = json_object_get(hc, "Retries");
    if (r && !json_is_null(r) && !json_is_integer(r))
        return dmn_fail(err, EINVAL, "`Healthcheck.Retries` must be an integer");
    if (json_integer_value(r) < 0)
        return dmn_fail(err, EINVAL, "Retries in Healthcheck cannot be negative");
    return 0;
}

/* PidMode, IpcMode, UTSMode: moby's valid values (runconfig: "invalid PID mode: x"); the
 * ones that share a namespace with the host or another container cannot be honoured: the
 * container is the only one in its VM, which has no host namespace to share. */
static int check_ns_mode(json_t *hc, const char *field, const char *what, const char *const *ok,
                         ctr_error_t *err)
{
    const char *v = json_string_value(json_object_get(hc, field));
    if (v == NULL || *v == '\0')
        return 0;
    for (size_t i = 0; ok[i]; i++)
        if (strcmp(v, ok[i]) == 0)
            return 0;
    bool shares = strcmp(v, "host") == 0 ||
                  (strncmp(v, "container:", 10) == 0 && v[10] && strcmp(field, "UTSMode") != 0);
    if (!shares)
        return dmn_fail(err, EINVAL, "invalid %s mode: %s", what, v);
    return dmn_fail(err, EINVAL,
                    "`HostConfig.%s` `%s` cannot be honoured: each container runs in a VM of its "
                    "own, which has no %s namespace of the host or of another container to share",
                    field, v, what);
}

/* moby's parsers.ParseUintList for CpusetCpus: "0-3,5"; the highest CPU out. */
static int parse_cpuset(const char *s, int *highest)
{
    *highest = -1;
    if (*s == '\0')
        return -1;
    for (const char *p = s;;) {
        char *end;
        if (*p < '0' || *p > '9')
            return -1;
        long a = strtol(p, &end, 10), b = a;
        if (*end == '-') {
            if (end[1] < '0' || end[1] > '9')
                return -1;
            b = strtol(end + 1, &end, 10);
            if (b < a)
                return -1;
        }
        if (b > 1023)
            return -1;
        if (b > *highest)
            *highest = (int)b;
        if (*end == '\0')
            return 0;
        if (*end != ',')
            return -1;
        p = end + 1;
    }
}

/* moby's deviceCgroupRuleRegex: `^([acb]) ([0-9]+|\*):([0-9]+|\*) ([rwm]{1,3})$` */
static bool device_rule_ok(const char *r)
{
    if ((r[0] != 'a' && r[0] != 'b' && r[0] != 'c') || r[1] != ' ')
        return false;
    const char *p = r + 2;
    for (int part = 0; part < 2; part++) {
        if (*p == '*') {
            p++;
        } else {
            if (*p < '0' || *p > '9')
                return false;
            while (*p >= '0' && *p <= '9')
                p++;
        }
        if (*p++ != (part == 0 ? ':' : ' '))
            return false;
    }
    size_t n = strspn(p, "rwm");
    return n >= 1 && n <= 3 && p[n] == '\0';
}

static int check_host_extras(json_t *hc, ctr_error_t *err)
{
    static const char *const pid_ok[] = {"private", NULL};
    static const char *const ipc_ok[] = {"private", "none", "shareable", NULL};
    static const char *const uts_ok[] = {NULL};
    if (check_ns_mode(hc, "PidMode", "PID", pid_ok, err) < 0 ||
        check_ns_mode(hc, "IpcMode", "IPC", ipc_ok, err) < 0 ||
        check_ns_mode(hc, "UTSMode", "UTS", uts_ok, err) < 0)
        return -1;
    const char *cs = json_string_value(json_object_get(hc, "CpusetCpus"));
    int highest;
    if (cs && *cs && parse_cpuset(cs, &highest) < 0)
        return dmn_fail(err, EINVAL, "Invalid value %s for cpuset cpus", cs);
    json_t *rules = json_object_get(hc, "DeviceCgroupRules"), *e;
    size_t i;
    json_array_foreach(rules, i, e)
    {
        if (!device_rule_ok(json_string_value(e)))
            return dmn_fail(err, EINVAL, "invalid device cgroup rule format: '%s'",
                            json_string_value(e));
    }
    return 0;
}

/* 400 messages name the field (unknown fields are gone: api_config_canon). */
static int check_fields(json_t *body, ctr_error_t *err)
{
    const char *k;
    json_t *v;
    json_t *hc = json_object_get(body, "HostConfig");

    if (hc && !json_is_null(hc)) {
        if (!json_is_object(hc))
            return dmn_fail(err, EINVAL, "`HostConfig` must be an object");
        json_object_foreach(hc, k, v)
        {
            if (in_list(unsupported_host, k) && has_value(v))
                return dmn_fail(err, EINVAL, "`HostConfig.%s` is not supported by this daemon yet",
                                k);
        }
        if (check_host_extras(hc, err) < 0)
            return -1;
        const char *rt = json_string_value(json_object_get(hc, "Runtime"));
        if (rt && *rt && strcmp(rt, "container-runtime") != 0 && strcmp(rt, "runc") != 0)
            return dmn_fail(err, EINVAL,
                            "`HostConfig.Runtime` `%s` is not known: use "
                            "`container-runtime`",
                            rt);
    }
    if (check_healthcheck(json_object_get(body, "Healthcheck"), err) < 0)
        return -1;
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

/* What the parsed request owns; req->opts points into it. */
struct create_args {
    char **cmd, **entrypoint, **env, **labels, **ulimits;
    char *memory, *cpus;
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

/* HostConfig as inspect shows it: the request's, with Docker's defaults. */
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
    /* the request's driver (api_log_config_check), the daemon's default json-file */
    json_t *lc = json_object_get(hc, "LogConfig");
    const char *lt = json_string_value(json_object_get(lc, "Type"));
    json_t *lo = json_object_get(lc, "Config");
    json_object_set_new(hc, "LogConfig",
                        json_pack("{s:s,s:o}", "Type", lt && *lt ? lt : "json-file", "Config",
                                  json_is_object(lo) ? json_deep_copy(lo) : json_object()));
    if (!json_is_boolean(json_object_get(hc, "AutoRemove")))
        json_object_set_new(hc, "AutoRemove", json_false());
    json_object_set_new(hc, "Runtime", json_string("container-runtime"));
    return hc;
}

/* The checked body → req (the strings point into body and a). */
static int parse_req(struct dmn *d, json_t *body, struct create_args *a, struct dmn_create_req *rq,
                     ctr_error_t *err)
{
    json_t *hc = json_object_get(body, "HostConfig");
    struct bundle_create_opts *o = &rq->opts;
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
    if (dmn_console_size(json_object_get(hc, "ConsoleSize"), &rq->rows, &rq->cols, err) < 0)
        return -1;
    o->interactive = json_is_true(json_object_get(body, "OpenStdin"));
    o->read_only = json_is_true(json_object_get(hc, "ReadonlyRootfs"));
    o->init = json_is_true(json_object_get(hc, "Init"));
    o->pids_limit = json_integer_value(json_object_get(hc, "PidsLimit")); /* <= 0: none */
    json_int_t mem = json_integer_value(json_object_get(hc, "Memory"));
    if (mem < 0)
        return dmn_fail(err, EINVAL, "`HostConfig.Memory` must not be negative");
    if (mem > 0)
        a->memory = ctr_xasprintf("%" JSON_INTEGER_FORMAT, mem);
    o->memory = a->memory; /* NULL: the daemon's default */
    json_int_t nano = json_integer_value(json_object_get(hc, "NanoCpus"));
    json_int_t count = json_integer_value(json_object_get(hc, "CpuCount"));
    if (nano < 0 || count < 0)
        return dmn_fail(err, EINVAL, "`HostConfig.NanoCpus` and `CpuCount` must not be negative");
    if (count > 0)
        a->cpus = ctr_xasprintf("%" JSON_INTEGER_FORMAT, count);
    else if (nano > 0)
        a->cpus = ctr_xasprintf("%" JSON_INTEGER_FORMAT, (nano + 999999999) / 1000000000);
    o->cpus = a->cpus;
    const char *cs = json_string_value(json_object_get(hc, "CpusetCpus"));
    if (cs && *cs) /* checked: check_host_extras */
        parse_cpuset(cs, &rq->cpuset_highest);
    else
        rq->cpuset_highest = -1;
    rq->cpuset_cpus = cs;
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
    if (api_mounts_from_host_config(hc, &a->mounts, &a->n_mounts, &o->shm_size, err) < 0 ||
        api_mounts_add_volumes_from(d, json_object_get(hc, "VolumesFrom"), false, &a->mounts,
                                    &a->n_mounts, err) < 0 ||
        api_mounts_add_config_volumes(json_object_get(body, "Volumes"), &a->mounts, &a->n_mounts,
                                      err) < 0)
        return -1;
    o->mounts = a->mounts;
    o->n_mounts = a->n_mounts;

    rq->stdin_once = json_is_true(json_object_get(body, "StdinOnce"));
    rq->auto_remove = json_is_true(json_object_get(hc, "AutoRemove"));
    json_t *rp = json_object_get(hc, "RestartPolicy"); /* its types: api/validate.c */
    if (dmn_restart_policy_parse(json_string_value(json_object_get(rp, "Name")),
                                 json_integer_value(json_object_get(rp, "MaximumRetryCount")),
                                 rq->auto_remove, &rq->restart, err) < 0)
        return -1;
    json_t *ss = json_object_get(body, "StopSignal");
    rq->stop_signal_given = ss != NULL;
    rq->stop_signal = json_string_value(ss);
    json_t *sto = json_object_get(body, "StopTimeout");
    rq->stop_timeout = json_is_integer(sto) ? (int)json_integer_value(sto) : -1;
    json_t *cmd = json_object_get(body, "Cmd");
    rq->entrypoint_given = ep && !json_is_null(ep);
    rq->cmd_empty = cmd == NULL || json_is_null(cmd) || json_array_size(cmd) == 0;
    rq->config = json_deep_copy(body);
    json_object_del(rq->config, "HostConfig");
    json_object_del(rq->config, "NetworkingConfig");
    json_object_del(rq->config, "Platform");
    rq->host_config = shown_host_config(body);
    return 0;
}

/* Every failure of the request's parse is the client's: 400. */
static int bad_request(ctr_error_t *err)
{
    if (*err)
        (*err)->errnum = EINVAL;
    return -1;
}

int api_handle_create(struct api_req *r)
{
    ctr_error_t err = NULL;
    struct create_args a = {0};
    struct dmn_create_req rq = {.stop_timeout = -1};
    cleanup_free char *name = NULL;
    char id[BUNDLE_CREATE_ID_LEN + 1];
    json_t *body = api_body_json(r, &err);

    if (body == NULL)
        return api_reply_ctr_error(r, &err);
    if (!json_is_object(body)) {
        dmn_fail(&err, EINVAL, "the container config must be a JSON object");
        goto fail;
    }
    const char *qname = api_query(r, "name");
    if (qname && *qname) {
        if (bundle_create_check_name(qname, &err) < 0) {
            bad_request(&err);
            goto fail;
        }
        name = ctr_xstrdup(qname[0] == '/' ? qname + 1 : qname);
    }
    rq.name = name;
    api_config_canon(body); /* Go's decoding: field names in any case, unknown ones ignored */
    if (api_config_check_types(body, &err) < 0 || check_fields(body, &err) < 0 ||
        api_netreq_parse(body, &rq.net, &err) < 0) {
        bad_request(&err);
        goto fail;
    }
    if (api_log_config_check(json_object_get(body, "HostConfig"), &err) < 0) {
        bad_request(&err);
        goto fail;
    }
    if (!json_is_string(json_object_get(body, "Image")) ||
        !*json_string_value(json_object_get(body, "Image"))) {
        dmn_fail(&err, EINVAL, "`Image` is missing: name the image to create the container from");
        goto fail;
    }
    if (parse_req(r->d, body, &a, &rq, &err) < 0) {
        if (err->errnum != ENOENT) /* VolumesFrom naming no container: 404 */
            bad_request(&err);
        goto fail;
    }
    if (dmn_container_create(r->d, &rq, id, &err) < 0)
        goto fail;
    api_reply_json(r, 201, json_pack("{s:s,s:[]}", "Id", id, "Warnings"));
    goto out;
fail:
    api_reply_ctr_error(r, &err);
out:
    json_decref(body);
    json_decref(rq.config);
    json_decref(rq.host_config);
    dmn_netreq_release(&rq.net);
    create_args_release(&a);
    return 0;
}
