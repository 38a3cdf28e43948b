/* Bundle config.json / state.json: parsed once here into the typed structs of
 * proto/bundle.h. Layout documented in docs/runtime.md. */
#include "proto/bundle.h"
#include "proto/proto-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#define BUNDLE_MAX_FILE (4u * 1024u * 1024u)

static const struct {
    const char *name;
    int resource;
} rlimit_names[] = {
    {"RLIMIT_AS", RLIMIT_AS},
    {"RLIMIT_CORE", RLIMIT_CORE},
    {"RLIMIT_CPU", RLIMIT_CPU},
    {"RLIMIT_DATA", RLIMIT_DATA},
    {"RLIMIT_FSIZE", RLIMIT_FSIZE},
    {"RLIMIT_LOCKS", RLIMIT_LOCKS},
    {"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK},
    {"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE},
    {"RLIMIT_NICE", RLIMIT_NICE},
    {"RLIMIT_NOFILE", RLIMIT_NOFILE},
    {"RLIMIT_NPROC", RLIMIT_NPROC},
    {"RLIMIT_RSS", RLIMIT_RSS},
    {"RLIMIT_RTPRIO", RLIMIT_RTPRIO},
    {"RLIMIT_RTTIME", RLIMIT_RTTIME},
    {"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING},
    {"RLIMIT_STACK", RLIMIT_STACK},
};

static const char *const accel_names[] = {"auto", "kvm", "tcg"};
static const char *const status_names[] = {"created", "running", "stopped"};

/* ---- decoding helpers: each returns -1 with a message naming the JSON path ---- */

static int get_str(json_t *obj, const char *key, const char *path, bool required, char **out,
                   ctr_error_t *err)
{
    json_t *v = json_object_get(obj, key);
    if (v == NULL || json_is_null(v)) {
        if (required)
            return ctr_fail(err, EINVAL, "missing `%s%s`", path, key);
        *out = NULL;
        return 0;
    }
    if (!json_is_string(v))
        return ctr_fail(err, EINVAL, "`%s%s` must be a string", path, key);
    if (strlen(json_string_value(v)) != json_string_length(v))
        return ctr_fail(err, EINVAL, "`%s%s` contains a NUL byte", path, key);
    *out = ctr_xstrdup(json_string_value(v));
    return 0;
}

static int get_uint(json_t *obj, const char *key, const char *path, uint64_t max, uint64_t dflt,
                    uint64_t *out, ctr_error_t *err)
{
    json_t *v = json_object_get(obj, key);
    if (v == NULL || json_is_null(v)) {
        *out = dflt;
        return 0;
    }
    if (!json_is_integer(v) || json_integer_value(v) < 0 || (uint64_t)json_integer_value(v) > max)
        return ctr_fail(err, EINVAL, "`%s%s` must be an integer between 0 and %llu", path, key,
                        (unsigned long long)max);
    *out = (uint64_t)json_integer_value(v);
    return 0;
}

unsigned bundle_vm_cpus(const struct bundle_vm *vm, bool kvm)
{
    if (vm->cpus != BUNDLE_CPUS_AUTO)
        return vm->cpus;
    return kvm ? BUNDLE_CPUS_AUTO_KVM : BUNDLE_CPUS_AUTO_TCG;
}

static int get_bool(json_t *obj, const char *key, const char *path, bool *out, ctr_error_t *err)
{
    json_t *v = json_object_get(obj, key);
    if (v == NULL || json_is_null(v)) {
        *out = false;
        return 0;
    }
    if (!json_is_boolean(v))
        return ctr_fail(err, EINVAL, "`%s%s` must be true or false", path, key);
    *out = json_is_true(v);
    return 0;
}

static int get_strv(json_t *obj, const char *key, const char *path, char ***out, ctr_error_t *err)
{
    json_t *v = json_object_get(obj, key), *e;
    size_t i;
    char **res;

    *out = ctr_xcalloc(1, sizeof(char *));
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_array(v) || json_array_size(v) > AGENT_MAX_ARGS)
        return ctr_fail(err, EINVAL, "`%s%s` must be an array of at most %d strings", path, key,
                        AGENT_MAX_ARGS);
    res = ctr_xcalloc(json_array_size(v) + 1, sizeof(char *));
    json_array_foreach(v, i, e)
    {
        if (!json_is_string(e) || strlen(json_string_value(e)) != json_string_length(e)) {
            ctr_strv_free(res);
            return ctr_fail(err, EINVAL, "`%s%s[%zu]` must be a string", path, key, i);
        }
        res[i] = ctr_xstrdup(json_string_value(e));
    }
    free(*out);
    *out = res;
    return 0;
}

static json_t *strv_json(char *const *v)
{
    json_t *a = json_array();
    for (size_t i = 0; v && v[i]; i++)
        json_array_append_new(a, json_string(v[i]));
    return a;
}

static json_t *str_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

static int parse_enum(const char *s, const char *const *names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(s, names[i]) == 0)
            return (int)i;
    return -1;
}

static int load_json(const char *bundle_dir, const char *name, json_t **out, ctr_error_t *err)
{
    cleanup_free char *path = ctr_xasprintf("%s/%s", bundle_dir, name);
    cleanup_free char *text = NULL;
    size_t len;
    json_error_t jerr;

    if (ctr_read_file(path, BUNDLE_MAX_FILE, &text, &len, err) < 0)
        return -1;
    *out = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (*out == NULL)
        return ctr_fail(err, EINVAL, "parse `%s`: line %d: %s", path, jerr.line, jerr.text);
    if (!json_is_object(*out)) {
        json_decref(*out);
        return ctr_fail(err, EINVAL, "`%s` must hold a JSON object", path);
    }
    return 0;
}

static int save_json(const char *bundle_dir, const char *name, json_t *root, ctr_error_t *err)
{
    cleanup_free char *path = ctr_xasprintf("%s/%s", bundle_dir, name);
    cleanup_free char *text = json_dumps(root, JSON_INDENT(2) | JSON_SORT_KEYS);
    if (text == NULL)
        return ctr_fail(err, ENOMEM, "encode `%s`", path);
    cleanup_free char *withnl = ctr_xasprintf("%s\n", text);
    return ctr_write_file_atomic(path, withnl, strlen(withnl), 0644, err);
}

/* ---- config ---- */

static int parse_vm(json_t *vm, struct bundle_vm *out, ctr_error_t *err)
{
    cleanup_free char *accel = NULL;
    uint64_t v;

    if (vm == NULL || !json_is_object(vm))
        return ctr_fail(err, EINVAL, "missing object `vm`");
    if (get_str(vm, "kernel", "vm.", false, &out->kernel, err) < 0 ||
        get_str(vm, "initrd", "vm.", false, &out->initrd, err) < 0 ||
        get_str(vm, "cmdline", "vm.", false, &out->cmdline, err) < 0 ||
        get_str(vm, "accel", "vm.", false, &accel, err) < 0)
        return -1;
    json_t *cpus = json_object_get(vm, "cpus");
    if (json_is_string(cpus)) {
        if (strcmp(json_string_value(cpus), "auto") != 0)
            return ctr_fail(err, EINVAL,
                            "`vm.cpus` must be an integer between 0 and 64 or \"auto\"");
        out->cpus = BUNDLE_CPUS_AUTO;
    } else {
        if (get_uint(vm, "cpus", "vm.", 64, 1, &v, err) < 0)
            return -1;
        out->cpus = v ? (unsigned)v : 1;
    }
    if (get_uint(vm, "memory_mib", "vm.", 1u << 20, 256, &out->memory_mib, err) < 0)
        return -1;
    if (out->memory_mib < 32)
        return ctr_fail(err, EINVAL, "`vm.memory_mib` is %llu; at least 32 is needed",
                        (unsigned long long)out->memory_mib);
    if (get_uint(vm, "boot_timeout_ms", "vm.", 3600000, 30000, &v, err) < 0)
        return -1;
    out->boot_timeout_ms = (unsigned)v;
    if (accel) {
        int a = parse_enum(accel, accel_names, 3);
        if (a < 0)
            return ctr_fail(err, EINVAL, "`vm.accel` is `%s`; use `auto`, `kvm` or `tcg`", accel);
        out->accel = (enum bundle_accel)a;
    }
    return 0;
}

static int parse_disks(json_t *disks, struct bundle_config *cfg, ctr_error_t *err)
{
    json_t *d;
    size_t i;

    if (disks == NULL || json_is_null(disks))
        return 0;
    if (!json_is_array(disks) || json_array_size(disks) > 16)
        return ctr_fail(err, EINVAL, "`disks` must be an array of at most 16 disks");
    cfg->disks = ctr_xcalloc(json_array_size(disks), sizeof(*cfg->disks));
    json_array_foreach(disks, i, d)
    {
        struct bundle_disk *bd = &cfg->disks[i];
        cfg->n_disks = i + 1;
        if (!json_is_object(d))
            return ctr_fail(err, EINVAL, "`disks[%zu]` must be an object", i);
        if (get_str(d, "serial", "disks[].", true, &bd->serial, err) < 0 ||
            get_str(d, "path", "disks[].", true, &bd->path, err) < 0 ||
            get_bool(d, "readonly", "disks[].", &bd->readonly, err) < 0)
            return -1;
    }
    return 0;
}

static bool tag_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 20)
        return false;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '-' || *p == '_' || *p == '.'))
            return false;
    return true;
}

static int parse_shares(json_t *shares, struct bundle_config *cfg, ctr_error_t *err)
{
    json_t *d;
    size_t i;

    if (shares == NULL || json_is_null(shares))
        return 0;
    if (!json_is_array(shares) || json_array_size(shares) > BUNDLE_MAX_VIRTIO_DEVICES)
        return ctr_fail(err, EINVAL, "`shares` must be an array of at most %d shares",
                        BUNDLE_MAX_VIRTIO_DEVICES);
    cfg->shares = ctr_xcalloc(json_array_size(shares), sizeof(*cfg->shares));
    json_array_foreach(shares, i, d)
    {
        struct bundle_share *bs = &cfg->shares[i];
        cfg->n_shares = i + 1;
        if (!json_is_object(d))
            return ctr_fail(err, EINVAL, "`shares[%zu]` must be an object", i);
        if (get_str(d, "tag", "shares[].", true, &bs->tag, err) < 0 ||
            get_str(d, "path", "shares[].", true, &bs->path, err) < 0 ||
            get_bool(d, "readonly", "shares[].", &bs->readonly, err) < 0)
            return -1;
        if (!tag_ok(bs->tag))
            return ctr_fail(err, EINVAL, "`shares[%zu].tag` `%s` must be 1-20 of [A-Za-z0-9._-]", i,
                            bs->tag);
        if (bs->path[0] != '/')
            return ctr_fail(err, EINVAL, "`shares[%zu].path` `%s` must be absolute", i, bs->path);
    }
    return 0;
}

static int parse_setup(json_t *s, struct agent_setup *out, ctr_error_t *err)
{
    json_t *mounts, *m;
    uint64_t pids = 0;
    size_t i;

    if (s == NULL || json_is_null(s))
        return 0;
    if (!json_is_object(s))
        return ctr_fail(err, EINVAL, "`setup` must be an object");
    if (get_str(s, "hostname", "setup.", false, &out->hostname, err) < 0 ||
        get_str(s, "root_lower", "setup.", false, &out->root_lower, err) < 0 ||
        get_str(s, "root_upper", "setup.", false, &out->root_upper, err) < 0 ||
        get_bool(s, "readonly", "setup.", &out->readonly, err) < 0 ||
        get_bool(s, "init", "setup.", &out->init, err) < 0 ||
        get_uint(s, "pids_limit", "setup.", INT64_MAX, 0, &pids, err) < 0 ||
        proto_net_decode(json_object_get(s, "network"), "setup.network", EINVAL, out, err) < 0)
        return -1;
    out->pids_limit = (int64_t)pids;
    mounts = json_object_get(s, "mounts");
    if (mounts == NULL || json_is_null(mounts))
        return 0;
    if (!json_is_array(mounts) || json_array_size(mounts) > AGENT_MAX_MOUNTS)
        return ctr_fail(err, EINVAL, "`setup.mounts` must be an array of at most %d mounts",
                        AGENT_MAX_MOUNTS);
    out->mounts = ctr_xcalloc(json_array_size(mounts), sizeof(*out->mounts));
    json_array_foreach(mounts, i, m)
    {
        struct agent_mount *am = &out->mounts[i];
        out->n_mounts = i + 1;
        if (!json_is_object(m))
            return ctr_fail(err, EINVAL, "`setup.mounts[%zu]` must be an object", i);
        if (get_str(m, "source", "setup.mounts[].", true, &am->source, err) < 0 ||
            get_str(m, "target", "setup.mounts[].", true, &am->target, err) < 0 ||
            get_str(m, "fstype", "setup.mounts[].", true, &am->fstype, err) < 0 ||
            get_str(m, "options", "setup.mounts[].", false, &am->options, err) < 0)
            return -1;
    }
    return 0;
}

static int parse_rlimits(json_t *rl, struct agent_exec *out, ctr_error_t *err)
{
    json_t *r;
    size_t i;

    if (rl == NULL || json_is_null(rl))
        return 0;
    if (!json_is_array(rl) || json_array_size(rl) > 32)
        return ctr_fail(err, EINVAL, "`process.rlimits` must be an array of at most 32 limits");
    out->rlimits = ctr_xcalloc(json_array_size(rl), sizeof(*out->rlimits));
    json_array_foreach(rl, i, r)
    {
        cleanup_free char *type = NULL;
        size_t k;
        if (!json_is_object(r))
            return ctr_fail(err, EINVAL, "`process.rlimits[%zu]` must be an object", i);
        if (get_str(r, "type", "process.rlimits[].", true, &type, err) < 0 ||
            get_uint(r, "soft", "process.rlimits[].", UINT64_MAX >> 1, 0, &out->rlimits[i].soft,
                     err) < 0 ||
            get_uint(r, "hard", "process.rlimits[].", UINT64_MAX >> 1, 0, &out->rlimits[i].hard,
                     err) < 0)
            return -1;
        for (k = 0; k < sizeof(rlimit_names) / sizeof(rlimit_names[0]); k++)
            if (strcmp(rlimit_names[k].name, type) == 0)
                break;
        if (k == sizeof(rlimit_names) / sizeof(rlimit_names[0]))
            return ctr_fail(err, EINVAL, "unknown rlimit `%s` in `process.rlimits`", type);
        out->rlimits[i].resource = rlimit_names[k].resource;
        out->n_rlimits = i + 1;
    }
    return 0;
}

static int parse_process(json_t *p, struct agent_exec *out, ctr_error_t *err)
{
    uint64_t v;

    if (p == NULL || !json_is_object(p))
        return ctr_fail(err, EINVAL, "missing object `process`");
    if (get_strv(p, "args", "process.", &out->args, err) < 0 ||
        get_strv(p, "env", "process.", &out->env, err) < 0 ||
        get_str(p, "cwd", "process.", false, &out->cwd, err) < 0 ||
        get_str(p, "user", "process.", false, &out->user, err) < 0 ||
        get_strv(p, "groups", "process.", &out->groups, err) < 0 ||
        get_bool(p, "terminal", "process.", &out->terminal, err) < 0)
        return -1;
    if (out->args[0] == NULL)
        return ctr_fail(err, EINVAL, "`process.args` is empty; a command is needed");
    if (out->cwd == NULL)
        out->cwd = ctr_xstrdup("/");
    if (out->cwd[0] != '/')
        return ctr_fail(err, EINVAL, "`process.cwd` is `%s`; it must be absolute", out->cwd);
    if (out->user == NULL)
        out->user = ctr_xstrdup("");
    if (get_uint(p, "rows", "process.", UINT16_MAX, 0, &v, err) < 0)
        return -1;
    out->rows = (uint16_t)v;
    if (get_uint(p, "cols", "process.", UINT16_MAX, 0, &v, err) < 0)
        return -1;
    out->cols = (uint16_t)v;
    out->process = ctr_xstrdup("main");
    return parse_rlimits(json_object_get(p, "rlimits"), out, err);
}

int bundle_config_load(const char *bundle_dir, struct bundle_config *out, ctr_error_t *err)
{
    json_t *root = NULL;
    struct bundle_config cfg = {0};
    cleanup_free char *id = NULL;
    uint64_t version;
    int ret = -1;

    if (load_json(bundle_dir, "config.json", &root, err) < 0)
        return -1;
    if (get_uint(root, "version", "", UINT32_MAX, 0, &version, err) < 0)
        goto out;
    if (version != BUNDLE_CONFIG_VERSION) {
        ctr_fail(err, EINVAL, "config version %llu is not supported (this runtime reads %d)",
                 (unsigned long long)version, BUNDLE_CONFIG_VERSION);
        goto out;
    }
    cfg.version = (uint32_t)version;
    if (get_str(root, "id", "", true, &cfg.id, err) < 0 ||
        parse_vm(json_object_get(root, "vm"), &cfg.vm, err) < 0 ||
        parse_disks(json_object_get(root, "disks"), &cfg, err) < 0 ||
        parse_shares(json_object_get(root, "shares"), &cfg, err) < 0 ||
        parse_setup(json_object_get(root, "setup"), &cfg.setup, err) < 0 ||
        proto_bundle_nets_decode(json_object_get(root, "networks"), &cfg, err) < 0 ||
        proto_bundle_ports_decode(json_object_get(root, "ports"), &cfg, err) < 0 ||
        proto_bundle_net_check(&cfg, err) < 0 ||
        parse_process(json_object_get(root, "process"), &cfg.process, err) < 0 ||
        get_bool(root, "open_stdin", "", &cfg.open_stdin, err) < 0 ||
        get_bool(root, "no_log", "", &cfg.no_log, err) < 0 ||
        get_strv(root, "labels", "", &cfg.labels, err) < 0)
        goto out;
    *out = cfg;
    memset(&cfg, 0, sizeof(cfg));
    ret = 0;
out:
    if (ret < 0)
        ctr_error_wrap(err, "bundle `%s`", bundle_dir);
    bundle_config_release(&cfg);
    json_decref(root);
    return ret;
}

static json_t *process_json(const struct agent_exec *p)
{
    json_t *rl = json_array();
    for (size_t i = 0; i < p->n_rlimits; i++) {
        const char *name = NULL;
        for (size_t k = 0; k < sizeof(rlimit_names) / sizeof(rlimit_names[0]); k++)
            if (rlimit_names[k].resource == p->rlimits[i].resource)
                name = rlimit_names[k].name;
        if (name == NULL)
            continue;
        json_array_append_new(rl, json_pack("{s:s, s:I, s:I}", "type", name, "soft",
                                            (json_int_t)p->rlimits[i].soft, "hard",
                                            (json_int_t)p->rlimits[i].hard));
    }
    json_t *o = json_pack("{s:o, s:o, s:s, s:s, s:b, s:i, s:i, s:o}", "args", strv_json(p->args),
                          "env", strv_json(p->env), "cwd", p->cwd ? p->cwd : "/", "user",
                          p->user ? p->user : "", "terminal", p->terminal, "rows", (int)p->rows,
                          "cols", (int)p->cols, "rlimits", rl);
    if (o && p->groups && p->groups[0])
        json_object_set_new(o, "groups", strv_json(p->groups));
    return o;
}

int bundle_config_save(const char *bundle_dir, const struct bundle_config *cfg, ctr_error_t *err)
{
    json_t *disks = json_array(), *mounts = json_array(), *root;
    int ret;

    for (size_t i = 0; i < cfg->n_disks; i++)
        json_array_append_new(disks,
                              json_pack("{s:s, s:s, s:b}", "serial", cfg->disks[i].serial, "path",
                                        cfg->disks[i].path, "readonly", cfg->disks[i].readonly));
    for (size_t i = 0; i < cfg->setup.n_mounts; i++) {
        const struct agent_mount *m = &cfg->setup.mounts[i];
        json_array_append_new(mounts, json_pack("{s:s, s:s, s:s, s:o}", "source", m->source,
                                                "target", m->target, "fstype", m->fstype, "options",
                                                str_or_null(m->options)));
    }
    root = json_pack(
        "{s:i, s:s, s:{s:o, s:o, s:o, s:o, s:I, s:s, s:i}, s:o,"
        " s:{s:o, s:o, s:o, s:b, s:o}, s:o, s:b, s:o}",
        "version", BUNDLE_CONFIG_VERSION, "id", cfg->id ? cfg->id : "", "vm", "kernel",
        str_or_null(cfg->vm.kernel), "initrd", str_or_null(cfg->vm.initrd), "cmdline",
        str_or_null(cfg->vm.cmdline), "cpus",
        cfg->vm.cpus == BUNDLE_CPUS_AUTO ? json_string("auto") : json_integer(cfg->vm.cpus),
        "memory_mib", (json_int_t)cfg->vm.memory_mib, "accel", accel_names[cfg->vm.accel % 3],
        "boot_timeout_ms", (int)cfg->vm.boot_timeout_ms, "disks", disks, "setup", "hostname",
        str_or_null(cfg->setup.hostname), "root_lower", str_or_null(cfg->setup.root_lower),
        "root_upper", str_or_null(cfg->setup.root_upper), "readonly", cfg->setup.readonly, "mounts",
        mounts, "process", process_json(&cfg->process), "open_stdin", cfg->open_stdin, "labels",
        strv_json(cfg->labels));
    if (root == NULL)
        return ctr_fail(err, EINVAL, "encode bundle config: a required string is missing");
    if (cfg->n_shares) {
        json_t *shares = json_array();
        for (size_t i = 0; i < cfg->n_shares; i++)
            json_array_append_new(shares, json_pack("{s:s, s:s, s:b}", "tag", cfg->shares[i].tag,
                                                    "path", cfg->shares[i].path, "readonly",
                                                    cfg->shares[i].readonly));
        json_object_set_new(root, "shares", shares);
    }
    if (cfg->no_log)
        json_object_set_new(root, "no_log", json_true());
    proto_bundle_net_encode(root, cfg);
    if (cfg->setup.pids_limit > 0)
        json_object_set_new(json_object_get(root, "setup"), "pids_limit",
                            json_integer(cfg->setup.pids_limit));
    if (cfg->setup.init)
        json_object_set_new(json_object_get(root, "setup"), "init", json_true());
    json_t *net = proto_net_encode(&cfg->setup);
    if (net)
        json_object_set_new(json_object_get(root, "setup"), "network", net);
    ret = save_json(bundle_dir, "config.json", root, err);
    json_decref(root);
    return ret;
}

void bundle_config_release(struct bundle_config *cfg)
{
    free(cfg->id);
    free(cfg->vm.kernel);
    free(cfg->vm.initrd);
    free(cfg->vm.cmdline);
    for (size_t i = 0; i < cfg->n_disks; i++) {
        free(cfg->disks[i].serial);
        free(cfg->disks[i].path);
    }
    free(cfg->disks);
    for (size_t i = 0; i < cfg->n_shares; i++) {
        free(cfg->shares[i].tag);
        free(cfg->shares[i].path);
    }
    free(cfg->shares);
    free(cfg->setup.hostname);
    free(cfg->setup.root_lower);
    free(cfg->setup.root_upper);
    for (size_t i = 0; i < cfg->setup.n_mounts; i++) {
        free(cfg->setup.mounts[i].source);
        free(cfg->setup.mounts[i].target);
        free(cfg->setup.mounts[i].fstype);
        free(cfg->setup.mounts[i].options);
    }
    free(cfg->setup.mounts);
    agent_setup_net_release(&cfg->setup);
    proto_bundle_net_release(cfg);
    free(cfg->process.process);
    ctr_strv_free(cfg->process.args);
    ctr_strv_free(cfg->process.env);
    free(cfg->process.cwd);
    free(cfg->process.user);
    ctr_strv_free(cfg->process.groups);
    free(cfg->process.rlimits);
    ctr_strv_free(cfg->labels);
    memset(cfg, 0, sizeof(*cfg));
}

/* ---- state ---- */

int bundle_state_load(const char *bundle_dir, struct bundle_state *out, ctr_error_t *err)
{
    json_t *root = NULL;
    struct bundle_state st = {0};
    cleanup_free char *status = NULL;
    uint64_t v;
    int ret = -1;

    if (load_json(bundle_dir, "state.json", &root, err) < 0)
        return -1;
    if (get_str(root, "status", "", true, &status, err) < 0)
        goto out;
    int s = parse_enum(status, status_names, 3);
    if (s < 0) {
        ctr_fail(err, EINVAL, "unknown status `%s`", status);
        goto out;
    }
    st.status = (enum bundle_status)s;
    if (get_uint(root, "shim_pid", "", INT32_MAX, 0, &v, err) < 0)
        goto out;
    st.shim_pid = (int)v;
    if (get_uint(root, "vmm_pid", "", INT32_MAX, 0, &v, err) < 0)
        goto out;
    st.vmm_pid = (int)v;
    if (get_uint(root, "exit_code", "", 255, 0, &v, err) < 0)
        goto out;
    st.exit_code = (int)v;
    if (get_uint(root, "created_ns", "", INT64_MAX, 0, &v, err) < 0)
        goto out;
    st.created_ns = (int64_t)v;
    if (get_uint(root, "started_ns", "", INT64_MAX, 0, &v, err) < 0)
        goto out;
    st.started_ns = (int64_t)v;
    if (get_uint(root, "finished_ns", "", INT64_MAX, 0, &v, err) < 0)
        goto out;
    st.finished_ns = (int64_t)v;
    if (get_str(root, "exit_reason", "", false, &st.exit_reason, err) < 0 ||
        get_str(root, "accel", "", false, &st.accel, err) < 0 ||
        get_str(root, "error", "", false, &st.error, err) < 0 ||
        get_bool(root, "paused", "", &st.paused, err) < 0)
        goto out;
    *out = st;
    memset(&st, 0, sizeof(st));
    ret = 0;
out:
    if (ret < 0)
        ctr_error_wrap(err, "state of bundle `%s`", bundle_dir);
    bundle_state_release(&st);
    json_decref(root);
    return ret;
}

/* A full disk (the very state to record: "host disk full"): no room for the temp file
 * of an atomic write, but state.json's own block is allocated already. Rewrite it in
 * place when the new text fits in what the file holds. */
static int state_overwrite(const char *bundle_dir, json_t *root)
{
    cleanup_free char *path = ctr_xasprintf("%s/state.json", bundle_dir);
    cleanup_free char *text = json_dumps(root, JSON_INDENT(2) | JSON_SORT_KEYS);
    struct stat sb;
    int ret = -1;

    if (text == NULL)
        return -1;
    size_t len = strlen(text);
    text[len++] = '\n'; /* over the NUL: written with its length */
    int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return -1;
    if (fstat(fd, &sb) == 0 && (uint64_t)sb.st_blocks * 512 >= len &&
        pwrite(fd, text, len, 0) == (ssize_t)len && ftruncate(fd, (off_t)len) == 0 &&
        fsync(fd) == 0)
        ret = 0;
    close(fd);
    return ret;
}

int bundle_state_save(const char *bundle_dir, const struct bundle_state *st, ctr_error_t *err)
{
    json_t *root = json_pack("{s:s, s:i, s:i, s:i, s:o, s:I, s:I, s:I, s:o}", "status",
                             status_names[st->status % 3], "shim_pid", st->shim_pid, "vmm_pid",
                             st->vmm_pid, "exit_code", st->exit_code, "exit_reason",
                             str_or_null(st->exit_reason), "created_ns", (json_int_t)st->created_ns,
                             "started_ns", (json_int_t)st->started_ns, "finished_ns",
                             (json_int_t)st->finished_ns, "accel", str_or_null(st->accel));
    int ret;

    if (root && st->error)
        json_object_set_new(root, "error", json_string(st->error));
    if (root && st->paused)
        json_object_set_new(root, "paused", json_true());
    if (root == NULL)
        return ctr_fail(err, EINVAL, "encode bundle state");
    ret = save_json(bundle_dir, "state.json", root, err);
    if (ret < 0 && ((*err)->errnum == ENOSPC || (*err)->errnum == EDQUOT) &&
        state_overwrite(bundle_dir, root) == 0) {
        ctr_error_free(err);
        ret = 0;
    }
    json_decref(root);
    return ret;
}

void bundle_state_release(struct bundle_state *st)
{
    free(st->exit_reason);
    free(st->accel);
    free(st->error);
    memset(st, 0, sizeof(*st));
}
