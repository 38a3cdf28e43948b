/* Checks of a request body before anything is made: the JSON types Docker's Go structs
 * impose on a container, exec or network config (a wrong type is a 400 naming the
 * field, as Docker's decoder refuses it). The limits of a process are proclimits.c. */
#include "daemon/api/api.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

enum ftype {
    F_STRING,
    F_BOOL,
    F_INT,    /* Go int/int64 */
    F_INT32,  /* what we keep in an int (StopTimeout, OomScoreAdj) */
    F_UINT16, /* BlkioWeight */
    F_UINT,   /* Go uint64 */
    F_STRV,   /* []string */
    F_STRMAP, /* map[string]string */
    F_OBJECT,
    F_ARRAY,
    F_CMD, /* strslice: a string or []string */
};

struct field {
    const char *name;
    enum ftype type;
};

static const struct field config_fields[] = {
    {"Hostname", F_STRING},
    {"Domainname", F_STRING},
    {"User", F_STRING},
    {"AttachStdin", F_BOOL},
    {"AttachStdout", F_BOOL},
    {"AttachStderr", F_BOOL},
    {"ExposedPorts", F_OBJECT},
    {"Tty", F_BOOL},
    {"OpenStdin", F_BOOL},
    {"StdinOnce", F_BOOL},
    {"Env", F_STRV},
    {"Cmd", F_CMD},
    {"Healthcheck", F_OBJECT},
    {"ArgsEscaped", F_BOOL},
    {"Image", F_STRING},
    {"Volumes", F_OBJECT},
    {"WorkingDir", F_STRING},
    {"Entrypoint", F_CMD},
    {"NetworkDisabled", F_BOOL},
    {"MacAddress", F_STRING},
    {"OnBuild", F_STRV},
    {"Labels", F_STRMAP},
    {"StopSignal", F_STRING},
    {"StopTimeout", F_INT32},
    {"Shell", F_STRV},
    {"HostConfig", F_OBJECT},
    {"NetworkingConfig", F_OBJECT},
    {NULL, 0},
};

static const struct field host_fields[] = {
    {"Binds", F_STRV},
    {"ContainerIDFile", F_STRING},
    {"LogConfig", F_OBJECT},
    {"NetworkMode", F_STRING},
    {"PortBindings", F_OBJECT},
    {"RestartPolicy", F_OBJECT},
    {"AutoRemove", F_BOOL},
    {"VolumeDriver", F_STRING},
    {"VolumesFrom", F_STRV},
    {"ConsoleSize", F_ARRAY},
    {"Annotations", F_STRMAP},
    {"CapAdd", F_STRV},
    {"CapDrop", F_STRV},
    {"CgroupnsMode", F_STRING},
    {"Dns", F_STRV},
    {"DnsOptions", F_STRV},
    {"DnsSearch", F_STRV},
    {"ExtraHosts", F_STRV},
    {"GroupAdd", F_STRV},
    {"IpcMode", F_STRING},
    {"Cgroup", F_STRING},
    {"Links", F_STRV},
    {"OomScoreAdj", F_INT32},
    {"PidMode", F_STRING},
    {"Privileged", F_BOOL},
    {"PublishAllPorts", F_BOOL},
    {"ReadonlyRootfs", F_BOOL},
    {"SecurityOpt", F_STRV},
    {"StorageOpt", F_STRMAP},
    {"Tmpfs", F_STRMAP},
    {"UTSMode", F_STRING},
    {"UsernsMode", F_STRING},
    {"ShmSize", F_INT},
    {"Sysctls", F_STRMAP},
    {"Runtime", F_STRING},
    {"Isolation", F_STRING},
    {"CpuShares", F_INT},
    {"Memory", F_INT},
    {"NanoCpus", F_INT},
    {"CgroupParent", F_STRING},
    {"BlkioWeight", F_UINT16},
    {"BlkioWeightDevice", F_ARRAY},
    {"BlkioDeviceReadBps", F_ARRAY},
    {"BlkioDeviceWriteBps", F_ARRAY},
    {"BlkioDeviceReadIOps", F_ARRAY},
    {"BlkioDeviceWriteIOps", F_ARRAY},
    {"CpuPeriod", F_INT},
    {"CpuQuota", F_INT},
    {"CpuRealtimePeriod", F_INT},
    {"CpuRealtimeRuntime", F_INT},
    {"CpusetCpus", F_STRING},
    {"CpusetMems", F_STRING},
    {"Devices", F_ARRAY},
    {"DeviceCgroupRules", F_STRV},
    {"DeviceRequests", F_ARRAY},
    {"KernelMemory", F_INT},
    {"KernelMemoryTCP", F_INT},
    {"MemoryReservation", F_INT},
    {"MemorySwap", F_INT},
    {"MemorySwappiness", F_INT},
    {"OomKillDisable", F_BOOL},
    {"PidsLimit", F_INT},
    {"Ulimits", F_ARRAY},
    {"CpuCount", F_INT},
    {"CpuPercent", F_INT},
    {"IOMaximumIOps", F_UINT},
    {"IOMaximumBandwidth", F_UINT},
    {"Mounts", F_ARRAY},
    {"MaskedPaths", F_STRV},
    {"ReadonlyPaths", F_STRV},
    {"Init", F_BOOL},
    {"Capabilities", F_STRV},
    {"DiskQuota", F_INT},
    {"ContainerNoDns", F_BOOL},
    {NULL, 0},
};

static const char *json_kind(json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
        return "an integer";
    case JSON_REAL:
        return "a number with a fraction";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    default:
        return "null";
    }
}

static const char *type_text(enum ftype t)
{
    switch (t) {
    case F_STRING:
        return "a string";
    case F_BOOL:
        return "true or false";
    case F_INT:
        return "an integer (int64)";
    case F_INT32:
        return "an integer from -2147483648 to 2147483647";
    case F_UINT16:
        return "an integer from 0 to 65535";
    case F_UINT:
        return "an integer of 0 or more (uint64)";
    case F_STRV:
        return "a list of strings";
    case F_STRMAP:
        return "an object of strings";
    case F_OBJECT:
        return "an object";
    case F_ARRAY:
        return "a list";
    case F_CMD:
        return "a string or a list of strings";
    }
    return "?";
}

static int bad(const char *prefix, const char *name, enum ftype t, json_t *v, ctr_error_t *err)
{
    return dmn_fail(err, EINVAL, "invalid `%s%s`: %s is expected, not %s", prefix, name,
                    type_text(t), json_kind(v));
}

static bool strv_ok(json_t *v, size_t *bad_index)
{
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e)
    {
        if (!json_is_string(e)) {
            *bad_index = i;
            return false;
        }
    }
    return true;
}

/* The type of each field of obj named in table; null is accepted everywhere (Go leaves
 * the zero value), unknown names are left to the caller. */
static int check_table(json_t *obj, const struct field *table, const char *prefix, ctr_error_t *err)
{
    for (size_t i = 0; table[i].name; i++) {
        json_t *v = json_object_get(obj, table[i].name);
        enum ftype t = table[i].type;
        size_t bi = 0;
        if (v == NULL || json_is_null(v))
            continue;
        switch (t) {
        case F_STRING:
            if (!json_is_string(v))
                return bad(prefix, table[i].name, t, v, err);
            break;
        case F_BOOL:
            if (!json_is_boolean(v))
                return bad(prefix, table[i].name, t, v, err);
            break;
        case F_INT:
        case F_INT32:
        case F_UINT16:
        case F_UINT: {
            if (!json_is_integer(v))
                return bad(prefix, table[i].name, t, v, err);
            json_int_t n = json_integer_value(v);
            if ((t == F_INT32 && (n < INT_MIN || n > INT_MAX)) ||
                (t == F_UINT16 && (n < 0 || n > UINT16_MAX)) || (t == F_UINT && n < 0))
                return dmn_fail(err, EINVAL,
                                "invalid `%s%s`: %" JSON_INTEGER_FORMAT
                                " is out of range: %s is expected",
                                prefix, table[i].name, n, type_text(t));
            break;
        }
        case F_CMD:
            if (json_is_string(v))
                break;
            /* fall through */
        case F_STRV:
            if (!json_is_array(v))
                return bad(prefix, table[i].name, t, v, err);
            if (!strv_ok(v, &bi))
                return dmn_fail(err, EINVAL, "invalid `%s%s[%zu]`: a string is expected, not %s",
                                prefix, table[i].name, bi, json_kind(json_array_get(v, bi)));
            break;
        case F_STRMAP: {
            const char *k;
            json_t *e;
            if (!json_is_object(v))
                return bad(prefix, table[i].name, t, v, err);
            json_object_foreach(v, k, e)
            {
                if (!json_is_string(e))
                    return dmn_fail(err, EINVAL, "invalid `%s%s.%s`: a string is expected, not %s",
                                    prefix, table[i].name, k, json_kind(e));
            }
            break;
        }
        case F_OBJECT:
            if (!json_is_object(v))
                return bad(prefix, table[i].name, t, v, err);
            break;
        case F_ARRAY:
            if (!json_is_array(v))
                return bad(prefix, table[i].name, t, v, err);
            break;
        }
    }
    return 0;
}

static const struct field restart_fields[] = {
    {"Name", F_STRING},
    {"MaximumRetryCount", F_INT32},
    {NULL, 0},
};
static const struct field log_fields[] = {
    {"Type", F_STRING},
    {"Config", F_STRMAP},
    {NULL, 0},
};

/* Every value of the object at obj.name is an object (ExposedPorts, Volumes: `{}` each). */
static int check_object_values(json_t *obj, const char *name, const char *prefix, ctr_error_t *err)
{
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(obj, name), k, v)
    {
        if (!json_is_object(v) && !json_is_null(v))
            return dmn_fail(err, EINVAL, "invalid `%s%s.%s`: an object is expected, not %s", prefix,
                            name, k, json_kind(v));
    }
    return 0;
}

/* Go's encoding/json: a key names the field it matches exactly, else one it matches
 * case-insensitively; keys no field matches are ignored, and of two keys for one
 * field the later wins. obj's keys become the fields' names; unknown ones go. */
static void canon_keys(json_t *obj, const struct field *table)
{
    const char *k;
    json_t *v;
    json_t *out = json_object();

    if (!json_is_object(obj))
        return;
    json_object_foreach(obj, k, v)
    {
        const char *name = NULL;
        for (size_t i = 0; table[i].name && !name; i++)
            if (strcmp(table[i].name, k) == 0)
                name = table[i].name;
        for (size_t i = 0; table[i].name && !name; i++)
            if (strcasecmp(table[i].name, k) == 0)
                name = table[i].name;
        if (name)
            json_object_set(out, name, v);
    }
    json_object_clear(obj);
    json_object_update(obj, out);
    json_decref(out);
}

void api_config_canon(json_t *body)
{
    canon_keys(body, config_fields);
    json_t *hc = json_object_get(body, "HostConfig");
    canon_keys(hc, host_fields);
    canon_keys(json_object_get(hc, "RestartPolicy"), restart_fields);
    canon_keys(json_object_get(hc, "LogConfig"), log_fields);
}

int api_config_check_types(json_t *body, ctr_error_t *err)
{
    if (!json_is_object(body))
        return dmn_fail(err, EINVAL, "the container config must be a JSON object");
    if (check_table(body, config_fields, "", err) < 0 ||
        check_object_values(body, "ExposedPorts", "", err) < 0 ||
        check_object_values(body, "Volumes", "", err) < 0)
        return -1;
    json_t *hc = json_object_get(body, "HostConfig");
    if (!json_is_object(hc))
        return 0;
    if (check_table(hc, host_fields, "HostConfig.", err) < 0)
        return -1;
    json_t *rp = json_object_get(hc, "RestartPolicy"), *lc = json_object_get(hc, "LogConfig");
    if ((json_is_object(rp) &&
         check_table(rp, restart_fields, "HostConfig.RestartPolicy.", err) < 0) ||
        (json_is_object(lc) && check_table(lc, log_fields, "HostConfig.LogConfig.", err) < 0))
        return -1;
    return 0;
}

/* HostConfig.LogConfig as moby's logger.ValidateLogOpts sees it (after the daemon's
 * default, json-file, fills an empty Type): the drivers this daemon honours are
 * json-file and local (both read back by logs) and none (logs then answer 501, as
 * Docker); Docker's other drivers would send the output elsewhere: refused. */
int api_log_config_check(json_t *hc, ctr_error_t *err)
{
    static const char *const elsewhere[] = {"syslog",     "journald", "gelf",    "fluentd",
                                            "awslogs",    "splunk",   "etwlogs", "gcplogs",
                                            "logentries", NULL};
    static const char *const json_file_opts[] = {"max-file",  "max-size",     "compress",
                                                 "labels",    "labels-regex", "env",
                                                 "env-regex", "tag",          NULL};
    static const char *const local_opts[] = {"max-file", "max-size", "compress", NULL};
    json_t *lc = json_object_get(hc, "LogConfig");
    const char *type = json_string_value(json_object_get(lc, "Type"));
    json_t *cfg = json_object_get(lc, "Config");
    const char *k;
    json_t *v;

    if (type == NULL || *type == '\0')
        type = "json-file";
    if (strcmp(type, "none") == 0)
        return 0;
    const char *mode = json_string_value(json_object_get(cfg, "mode"));
    if (mode && *mode && strcmp(mode, "blocking") != 0 && strcmp(mode, "non-blocking") != 0)
        return dmn_fail(err, EINVAL, "logger: logging mode not supported: %s", mode);
    for (size_t i = 0; elsewhere[i]; i++)
        if (strcmp(type, elsewhere[i]) == 0)
            return dmn_fail(err, EINVAL,
                            "`HostConfig.LogConfig.Type` `%s` is not supported by this daemon: "
                            "use `json-file`, `local` or `none`",
                            type);
    const char *const *opts = strcmp(type, "json-file") == 0 ? json_file_opts
                              : strcmp(type, "local") == 0   ? local_opts
                                                             : NULL;
    if (opts == NULL)
        return dmn_fail(err, EINVAL, "logger: no log driver named '%s' is registered", type);
    json_object_foreach(cfg, k, v)
    {
        bool known = strcmp(k, "mode") == 0 || strcmp(k, "max-buffer-size") == 0;
        for (size_t i = 0; opts[i] && !known; i++)
            known = strcmp(opts[i], k) == 0;
        if (!known)
            return dmn_fail(err, EINVAL, "unknown log opt '%s' for %s log driver", k, type);
    }
    return 0;
}

static const struct field network_fields[] = {
    {"Name", F_STRING},       {"CheckDuplicate", F_BOOL},
    {"Driver", F_STRING},     {"Scope", F_STRING},
    {"Internal", F_BOOL},     {"Attachable", F_BOOL},
    {"Ingress", F_BOOL},      {"IPAM", F_OBJECT},
    {"EnableIPv6", F_BOOL},   {"Options", F_STRMAP},
    {"Labels", F_STRMAP},     {"ConfigOnly", F_BOOL},
    {"ConfigFrom", F_OBJECT}, {NULL, 0},
};

int api_network_config_check(json_t *body, ctr_error_t *err)
{
    if (!json_is_object(body))
        return dmn_fail(err, EINVAL, "the network config must be a JSON object");
    return check_table(body, network_fields, "", err);
}

static const struct field exec_fields[] = {
    {"User", F_STRING},
    {"Privileged", F_BOOL},
    {"Tty", F_BOOL},
    {"AttachStdin", F_BOOL},
    {"AttachStdout", F_BOOL},
    {"AttachStderr", F_BOOL},
    {"Detach", F_BOOL},
    {"DetachKeys", F_STRING},
    {"Env", F_STRV},
    {"WorkingDir", F_STRING},
    {"Cmd", F_STRV},
    {"ConsoleSize", F_ARRAY},
    {NULL, 0},
};

int api_exec_config_check(json_t *body, ctr_error_t *err)
{
    if (!json_is_object(body))
        return dmn_fail(err, EINVAL, "the exec config must be a JSON object");
    canon_keys(body, exec_fields); /* as Go decodes it: any case, unknown keys ignored */
    if (check_table(body, exec_fields, "", err) < 0)
        return -1;
    json_t *cmd = json_object_get(body, "Cmd"), *env = json_object_get(body, "Env");
    if (!json_is_array(cmd) || json_array_size(cmd) == 0)
        return 0; /* the caller's "No exec command specified" */
    cleanup_strv char **args = dmn_json_strv(cmd);
    cleanup_strv char **envv = json_is_array(env) ? dmn_json_strv(env) : NULL;
    /* As exec.c passes them on: empty is none, a relative WorkingDir is its own 400. */
    const char *wd = json_string_value(json_object_get(body, "WorkingDir"));
    const char *user = json_string_value(json_object_get(body, "User"));
    struct agent_exec ex = {
        .args = args,
        .env = envv,
        .cwd = (char *)(wd && wd[0] == '/' ? wd : NULL),
        .user = (char *)(user && *user ? user : NULL),
    };
    return dmn_process_check_size(&ex, "exec's process", err);
}
