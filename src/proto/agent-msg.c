/* JSON codec of the agent protocol's control messages (docs/agent-protocol.md).
 * Decoding is strict: the peer is not trusted. Unknown keys, unknown ops/events,
 * wrong types, missing fields, out-of-range numbers, over-long strings and
 * arrays are all errors. */
#include "proto/agent-msg.h"
#include "proto/proto-internal.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const op_names[] = {
    [AGENT_OP_HELLO] = "hello",
    [AGENT_OP_SETUP] = "setup",
    [AGENT_OP_EXEC] = "exec",
    [AGENT_OP_SIGNAL] = "signal",
    [AGENT_OP_RESIZE] = "resize",
    [AGENT_OP_SHUTDOWN] = "shutdown",
    [AGENT_OP_TOP] = "top",
    [AGENT_OP_ARCHIVE_STAT] = "archive_stat",
    [AGENT_OP_ARCHIVE_GET] = "archive_get",
    [AGENT_OP_ARCHIVE_PUT] = "archive_put",
    [AGENT_OP_CLOCK] = "clock",
    [AGENT_OP_NET] = "net",
};
#define N_OPS (sizeof(op_names) / sizeof(op_names[0]))

const char *agent_op_name(enum agent_op op)
{
    if ((unsigned)op >= N_OPS)
        return NULL;
    return op_names[op];
}

/* ---------------------------------------------------------------- encoding */

static void set_new(json_t *obj, const char *key, json_t *val)
{
    if (val == NULL || json_object_set_new(obj, key, val) < 0)
        abort(); /* OOM or invalid UTF-8 from our own side */
}

static void set_str(json_t *obj, const char *key, const char *s)
{
    if (s != NULL)
        set_new(obj, key, ctr_json_str(s));
}

static json_t *strv_json(char *const *v)
{
    json_t *a = json_array();
    for (size_t i = 0; v != NULL && v[i] != NULL; i++)
        if (json_array_append_new(a, ctr_json_str(v[i])) < 0)
            abort();
    return a;
}

static json_t *rlim_json(uint64_t v)
{
    return json_integer(v > (uint64_t)INT64_MAX ? -1 : (json_int_t)v);
}

static char *dump(json_t *obj, size_t *len)
{
    char *s = json_dumps(obj, JSON_COMPACT);
    if (s == NULL)
        abort();
    if (len)
        *len = strlen(s);
    return s;
}

static void encode_setup(json_t *o, const struct agent_setup *s)
{
    json_t *mounts = json_array();
    set_str(o, "hostname", s->hostname);
    set_str(o, "root_lower", s->root_lower);
    set_str(o, "root_upper", s->root_upper);
    set_new(o, "readonly", json_boolean(s->readonly));
    for (size_t i = 0; i < s->n_mounts; i++) {
        json_t *m = json_object();
        set_str(m, "source", s->mounts[i].source);
        set_str(m, "target", s->mounts[i].target);
        set_str(m, "fstype", s->mounts[i].fstype);
        set_str(m, "options", s->mounts[i].options);
        json_array_append_new(mounts, m);
    }
    if (s->warm) {
        char hex[2 * AGENT_WARM_ENTROPY + 1];
        json_t *w = json_object();
        for (size_t i = 0; i < AGENT_WARM_ENTROPY; i++)
            snprintf(hex + 2 * i, 3, "%02x", s->warm_entropy[i]);
        set_new(w, "time_ns", json_integer(s->warm_time_ns));
        set_new(w, "entropy", json_string(hex));
        if (s->warm_macs) {
            json_t *macs = json_array();
            for (char **m = s->warm_macs; *m; m++)
                json_array_append_new(macs, json_string(*m));
            set_new(w, "macs", macs);
        }
        set_new(o, "warm", w);
    }
    set_new(o, "mounts", mounts);
    if (s->pids_limit > 0)
        set_new(o, "pids_limit", json_integer(s->pids_limit));
    if (s->init)
        set_new(o, "init", json_true());
    json_t *net = proto_net_encode(s);
    if (net)
        set_new(o, "network", net);
}

static void encode_exec(json_t *o, const struct agent_exec *e)
{
    json_t *rl = json_array();
    set_str(o, "process", e->process);
    set_new(o, "args", strv_json(e->args));
    set_new(o, "env", strv_json(e->env));
    set_str(o, "cwd", e->cwd);
    set_str(o, "user", e->user);
    if (e->groups && e->groups[0])
        set_new(o, "groups", strv_json(e->groups));
    set_new(o, "terminal", json_boolean(e->terminal));
    set_new(o, "rows", json_integer(e->rows));
    set_new(o, "cols", json_integer(e->cols));
    set_new(o, "stdin", json_integer(e->stdin_stream));
    set_new(o, "stdout", json_integer(e->stdout_stream));
    set_new(o, "stderr", json_integer(e->stderr_stream));
    for (size_t i = 0; i < e->n_rlimits; i++) {
        json_t *r = json_object();
        set_new(r, "resource", json_integer(e->rlimits[i].resource));
        set_new(r, "soft", rlim_json(e->rlimits[i].soft));
        set_new(r, "hard", rlim_json(e->rlimits[i].hard));
        json_array_append_new(rl, r);
    }
    set_new(o, "rlimits", rl);
}

static void encode_archive(json_t *o, enum agent_op op, const struct agent_archive *a)
{
    set_str(o, "path", a->path);
    if (op == AGENT_OP_ARCHIVE_STAT)
        return;
    set_str(o, "process", a->process);
    set_new(o, "stream", json_integer(a->stream));
    if (op == AGENT_OP_ARCHIVE_GET) {
        set_new(o, "export", json_boolean(a->export_all));
        if (a->upper)
            set_new(o, "upper", json_true());
    }
}

static json_t *path_stat_json(const struct agent_path_stat *st)
{
    json_t *o = json_object();
    set_str(o, "name", st->name ? st->name : "");
    set_new(o, "size", json_integer(st->size));
    set_new(o, "mode", json_integer(st->mode));
    set_str(o, "mtime", st->mtime ? st->mtime : "");
    set_str(o, "link_target", st->link_target ? st->link_target : "");
    return o;
}

char *agent_request_encode(const struct agent_request *req, size_t *len)
{
    cleanup_json json_t *o = NULL;
    const char *name = agent_op_name(req->op);

    if (name == NULL)
        return NULL;
    o = json_object();
    set_new(o, "op", json_string(name));
    set_new(o, "id", json_integer((json_int_t)req->id));
    switch (req->op) {
    case AGENT_OP_HELLO:
        set_new(o, "version", json_integer(req->u.hello.version));
        break;
    case AGENT_OP_SETUP:
        encode_setup(o, &req->u.setup);
        break;
    case AGENT_OP_EXEC:
        encode_exec(o, &req->u.exec);
        break;
    case AGENT_OP_SIGNAL:
        set_str(o, "process", req->u.signal.process);
        set_new(o, "signal", json_integer(req->u.signal.signal));
        break;
    case AGENT_OP_RESIZE:
        set_str(o, "process", req->u.resize.process);
        set_new(o, "rows", json_integer(req->u.resize.rows));
        set_new(o, "cols", json_integer(req->u.resize.cols));
        break;
    case AGENT_OP_SHUTDOWN:
        break;
    case AGENT_OP_ARCHIVE_STAT:
    case AGENT_OP_ARCHIVE_GET:
    case AGENT_OP_ARCHIVE_PUT:
        encode_archive(o, req->op, &req->u.archive);
        break;
    case AGENT_OP_CLOCK:
        set_new(o, "time_ns", json_integer((json_int_t)req->u.clock.time_ns));
        break;
    case AGENT_OP_TOP:
        set_str(o, "ps_args", req->u.top.ps_args);
        break;
    case AGENT_OP_NET:
        set_new(o, "net", proto_netop_encode(&req->u.net));
        break;
    }
    return dump(o, len);
}

char *agent_reply_encode(const struct agent_reply *rep, size_t *len)
{
    cleanup_json json_t *o = json_object();

    set_new(o, "id", json_integer((json_int_t)rep->id));
    set_new(o, "ok", json_boolean(rep->ok));
    if (!rep->ok) {
        set_str(o, "error", rep->error ? rep->error : "unknown error");
        set_new(o, "code", json_integer(rep->code));
    }
    if (rep->version)
        set_new(o, "version", json_integer(rep->version));
    set_str(o, "agent", rep->agent);
    if (rep->pid > 0)
        set_new(o, "pid", json_integer(rep->pid));
    if (!rep->ok && rep->errnum > 0)
        set_new(o, "errno", json_integer(rep->errnum));
    if (rep->ok && rep->stat)
        set_new(o, "stat", path_stat_json(rep->stat));
    if (rep->ok)
        set_str(o, "output", rep->output);
    return dump(o, len);
}

char *agent_event_encode(const struct agent_event *ev, size_t *len)
{
    cleanup_json json_t *o = NULL;

    if (ev->type != AGENT_EVENT_EXIT)
        return NULL;
    o = json_object();
    set_new(o, "event", json_string("exit"));
    set_str(o, "process", ev->process);
    set_new(o, "status", json_integer(ev->status));
    set_str(o, "error", ev->error);
    return dump(o, len);
}

/* ---------------------------------------------------------------- decoding */

/* Reject keys not in the NULL-terminated list `allowed`. */
static int check_keys(json_t *o, const char *what, const char *const *allowed, ctr_error_t *err)
{
    const char *key;
    json_t *val;

    json_object_foreach(o, key, val)
    {
        bool found = false;
        for (size_t i = 0; allowed[i] && !found; i++)
            found = strcmp(key, allowed[i]) == 0;
        if (!found)
            return ctr_fail(err, EPROTO, "%s: unknown field `%.64s`", what, key);
    }
    return 0;
}

static int str_value(json_t *v, const char *what, const char *key, size_t max, char **out,
                     ctr_error_t *err)
{
    size_t n;

    if (!json_is_string(v))
        return ctr_fail(err, EPROTO, "%s: field `%s` must be a string", what, key);
    n = json_string_length(v);
    if (n > max)
        return ctr_fail(err, EPROTO, "%s: field `%s` is %zu bytes long (limit %zu)", what, key, n,
                        max);
    if (memchr(json_string_value(v), '\0', n) != NULL)
        return ctr_fail(err, EPROTO, "%s: field `%s` contains a NUL byte", what, key);
    *out = ctr_xstrndup(json_string_value(v), n);
    return 0;
}

static int get_str(json_t *o, const char *what, const char *key, bool required, size_t max,
                   char **out, ctr_error_t *err)
{
    json_t *v = json_object_get(o, key);

    if (v == NULL || (json_is_null(v) && !required)) {
        if (required)
            return ctr_fail(err, EPROTO, "%s: missing field `%s`", what, key);
        return 0;
    }
    return str_value(v, what, key, max, out, err);
}

static int get_int(json_t *o, const char *what, const char *key, bool required, int64_t min,
                   int64_t max, int64_t *out, ctr_error_t *err)
{
    json_t *v = json_object_get(o, key);
    json_int_t n;

    if (v == NULL) {
        if (required)
            return ctr_fail(err, EPROTO, "%s: missing field `%s`", what, key);
        return 0;
    }
    if (!json_is_integer(v))
        return ctr_fail(err, EPROTO, "%s: field `%s` must be an integer", what, key);
    n = json_integer_value(v);
    if (n < min || n > max)
        return ctr_fail(err, EPROTO, "%s: field `%s` is %lld, outside %lld..%lld", what, key,
                        (long long)n, (long long)min, (long long)max);
    *out = n;
    return 0;
}

static int get_bool(json_t *o, const char *what, const char *key, bool required, bool *out,
                    ctr_error_t *err)
{
    json_t *v = json_object_get(o, key);

    if (v == NULL) {
        if (required)
            return ctr_fail(err, EPROTO, "%s: missing field `%s`", what, key);
        return 0;
    }
    if (!json_is_boolean(v))
        return ctr_fail(err, EPROTO, "%s: field `%s` must be a boolean", what, key);
    *out = json_is_true(v);
    return 0;
}

static int get_array(json_t *o, const char *what, const char *key, bool required, size_t max,
                     json_t **out, ctr_error_t *err)
{
    json_t *v = json_object_get(o, key);

    *out = NULL;
    if (v == NULL) {
        if (required)
            return ctr_fail(err, EPROTO, "%s: missing field `%s`", what, key);
        return 0;
    }
    if (!json_is_array(v))
        return ctr_fail(err, EPROTO, "%s: field `%s` must be an array", what, key);
    if (json_array_size(v) > max)
        return ctr_fail(err, EPROTO, "%s: field `%s` has %zu entries (limit %zu)", what, key,
                        json_array_size(v), max);
    *out = v;
    return 0;
}

static int get_strv(json_t *o, const char *what, const char *key, bool required, char ***out,
                    ctr_error_t *err)
{
    json_t *a, *v;
    size_t i;
    cleanup_strv char **res = NULL;

    if (get_array(o, what, key, required, AGENT_MAX_ARGS, &a, err) < 0)
        return -1;
    res = ctr_xcalloc(json_array_size(a) + 1, sizeof(char *));
    json_array_foreach(a, i, v)
    {
        if (str_value(v, what, key, AGENT_MAX_CONTROL, &res[i], err) < 0)
            return -1;
    }
    *out = ctr_steal_ptr(res);
    return 0;
}

static int check_abs_path(const char *what, const char *key, const char *path, ctr_error_t *err)
{
    if (path != NULL && path[0] != '/')
        return ctr_fail(err, EPROTO, "%s: field `%s` must be an absolute path, got `%.256s`", what,
                        key, path);
    return 0;
}

static int decode_mount(json_t *m, struct agent_mount *out, ctr_error_t *err)
{
    static const char *const keys[] = {"source", "target", "fstype", "options", NULL};
    const char *what = "setup mount";

    if (!json_is_object(m))
        return ctr_fail(err, EPROTO, "setup: `mounts` entries must be objects");
    if (check_keys(m, what, keys, err) < 0 ||
        get_str(m, what, "source", true, AGENT_MAX_PATH, &out->source, err) < 0 ||
        get_str(m, what, "target", true, AGENT_MAX_PATH, &out->target, err) < 0 ||
        get_str(m, what, "fstype", true, AGENT_MAX_NAME, &out->fstype, err) < 0 ||
        get_str(m, what, "options", false, AGENT_MAX_PATH, &out->options, err) < 0)
        return -1;
    return check_abs_path(what, "target", out->target, err);
}

/* setup.warm = {"time_ns": N, "entropy": "64 hex digits"} */
static int decode_warm(json_t *o, struct agent_setup *s, ctr_error_t *err)
{
    static const char *const keys[] = {"time_ns", "entropy", "macs", NULL};
    const char *what = "setup warm";
    json_t *w = json_object_get(o, "warm");
    cleanup_free char *hex = NULL;

    if (w == NULL || json_is_null(w))
        return 0;
    if (!json_is_object(w))
        return ctr_fail(err, EPROTO, "setup: `warm` must be an object");
    if (check_keys(w, what, keys, err) < 0 ||
        get_int(w, what, "time_ns", true, 0, INT64_MAX, &s->warm_time_ns, err) < 0 ||
        get_str(w, what, "entropy", true, 2 * AGENT_WARM_ENTROPY, &hex, err) < 0)
        return -1;
    if (strlen(hex) != 2 * AGENT_WARM_ENTROPY)
        return ctr_fail(err, EPROTO, "setup warm: `entropy` must be %d hex digits",
                        2 * AGENT_WARM_ENTROPY);
    for (size_t i = 0; i < AGENT_WARM_ENTROPY; i++) {
        unsigned v;
        if (!isxdigit((unsigned char)hex[2 * i]) || !isxdigit((unsigned char)hex[2 * i + 1]) ||
            sscanf(hex + 2 * i, "%2x", &v) != 1)
            return ctr_fail(err, EPROTO, "setup warm: `entropy` must be hex digits");
        s->warm_entropy[i] = (uint8_t)v;
    }
    if (json_object_get(w, "macs") != NULL && !json_is_null(json_object_get(w, "macs"))) {
        if (json_is_array(json_object_get(w, "macs")) &&
            json_array_size(json_object_get(w, "macs")) > AGENT_MAX_NICS)
            return ctr_fail(err, EPROTO, "setup warm: more than %d `macs`", AGENT_MAX_NICS);
        if (get_strv(w, what, "macs", false, &s->warm_macs, err) < 0)
            return -1;
        for (char **m = s->warm_macs; *m; m++) {
            uint8_t mac[6];
            if (!agent_mac_parse(*m, mac))
                return ctr_fail(err, EPROTO, "setup warm: bad MAC `%.32s`", *m);
        }
    }
    s->warm = true;
    return 0;
}

static int decode_setup(json_t *o, struct agent_setup *s, ctr_error_t *err)
{
    static const char *const keys[] = {"op",         "id",         "hostname", "root_lower",
                                       "root_upper", "readonly",   "mounts",   "network",
                                       "warm",       "pids_limit", "init",     NULL};
    const char *what = "setup";
    json_t *a, *m;
    size_t i;

    if (check_keys(o, what, keys, err) < 0 || decode_warm(o, s, err) < 0 ||
        get_str(o, what, "hostname", false, AGENT_MAX_HOSTNAME, &s->hostname, err) < 0 ||
        get_str(o, what, "root_lower", true, AGENT_MAX_PATH, &s->root_lower, err) < 0 ||
        get_str(o, what, "root_upper", false, AGENT_MAX_PATH, &s->root_upper, err) < 0 ||
        get_bool(o, what, "readonly", false, &s->readonly, err) < 0 ||
        get_int(o, what, "pids_limit", false, 0, INT64_MAX, &s->pids_limit, err) < 0 ||
        get_bool(o, what, "init", false, &s->init, err) < 0 ||
        get_array(o, what, "mounts", false, AGENT_MAX_MOUNTS, &a, err) < 0 ||
        proto_net_decode(json_object_get(o, "network"), "setup.network", EPROTO, s, err) < 0)
        return -1;
    if (a == NULL)
        return 0;
    s->mounts = ctr_xcalloc(json_array_size(a) + 1, sizeof(*s->mounts));
    json_array_foreach(a, i, m)
    {
        s->n_mounts = i + 1; /* so that release frees a partly decoded entry */
        if (decode_mount(m, &s->mounts[i], err) < 0)
            return -1;
    }
    return 0;
}

static int decode_rlimit(json_t *r, struct agent_rlimit *out, ctr_error_t *err)
{
    static const char *const keys[] = {"resource", "soft", "hard", NULL};
    const char *what = "exec rlimit";
    int64_t res = 0, soft = 0, hard = 0;

    if (!json_is_object(r))
        return ctr_fail(err, EPROTO, "exec: `rlimits` entries must be objects");
    if (check_keys(r, what, keys, err) < 0 ||
        get_int(r, what, "resource", true, 0, AGENT_MAX_RLIMITS - 1, &res, err) < 0 ||
        get_int(r, what, "soft", true, -1, INT64_MAX, &soft, err) < 0 ||
        get_int(r, what, "hard", true, -1, INT64_MAX, &hard, err) < 0)
        return -1;
    out->resource = (int)res;
    out->soft = soft < 0 ? AGENT_RLIM_INFINITY : (uint64_t)soft;
    out->hard = hard < 0 ? AGENT_RLIM_INFINITY : (uint64_t)hard;
    if (out->soft > out->hard)
        return ctr_fail(err, EPROTO, "exec rlimit %d: soft limit above hard limit", out->resource);
    return 0;
}

static int decode_exec(json_t *o, struct agent_exec *e, ctr_error_t *err)
{
    static const char *const keys[] = {"op",     "id",       "process", "args", "env",   "cwd",
                                       "user",   "terminal", "rows",    "cols", "stdin", "stdout",
                                       "stderr", "rlimits",  "groups",  NULL};
    const char *what = "exec";
    int64_t rows = 0, cols = 0, in = 0, out = 0, errs = 0;
    json_t *a, *r;
    size_t i;

    if (check_keys(o, what, keys, err) < 0 ||
        get_str(o, what, "process", true, AGENT_MAX_NAME, &e->process, err) < 0 ||
        get_strv(o, what, "args", true, &e->args, err) < 0 ||
        get_strv(o, what, "env", false, &e->env, err) < 0 ||
        get_str(o, what, "cwd", false, AGENT_MAX_PATH, &e->cwd, err) < 0 ||
        get_str(o, what, "user", false, AGENT_MAX_PATH, &e->user, err) < 0 ||
        get_strv(o, what, "groups", false, &e->groups, err) < 0 ||
        get_bool(o, what, "terminal", false, &e->terminal, err) < 0 ||
        get_int(o, what, "rows", false, 0, UINT16_MAX, &rows, err) < 0 ||
        get_int(o, what, "cols", false, 0, UINT16_MAX, &cols, err) < 0 ||
        get_int(o, what, "stdin", false, 0, UINT32_MAX, &in, err) < 0 ||
        get_int(o, what, "stdout", false, 0, UINT32_MAX, &out, err) < 0 ||
        get_int(o, what, "stderr", false, 0, UINT32_MAX, &errs, err) < 0 ||
        get_array(o, what, "rlimits", false, AGENT_MAX_RLIMITS, &a, err) < 0)
        return -1;
    if (e->process[0] == '\0')
        return ctr_fail(err, EPROTO, "exec: field `process` must not be empty");
    if (e->args[0] == NULL || e->args[0][0] == '\0')
        return ctr_fail(err, EPROTO, "exec: field `args` needs a non-empty first entry");
    if (e->env == NULL)
        e->env = ctr_xcalloc(1, sizeof(char *));
    for (i = 0; e->env[i]; i++)
        if (strchr(e->env[i], '=') == NULL || e->env[i][0] == '=')
            return ctr_fail(err, EPROTO, "exec: env entry `%.64s` is not NAME=VALUE", e->env[i]);
    if (check_abs_path(what, "cwd", e->cwd, err) < 0)
        return -1;
    e->rows = (uint16_t)rows;
    e->cols = (uint16_t)cols;
    e->stdin_stream = (uint32_t)in;
    e->stdout_stream = (uint32_t)out;
    e->stderr_stream = (uint32_t)errs;
    if (!e->terminal && out != 0 && out == errs)
        return ctr_fail(err, EPROTO, "exec: stdout and stderr share stream %lld", (long long)out);
    if (a == NULL)
        return 0;
    e->rlimits = ctr_xcalloc(json_array_size(a) + 1, sizeof(*e->rlimits));
    json_array_foreach(a, i, r)
    {
        if (decode_rlimit(r, &e->rlimits[i], err) < 0)
            return -1;
        e->n_rlimits = i + 1;
    }
    return 0;
}

static int decode_signal(json_t *o, struct agent_signal *s, ctr_error_t *err)
{
    static const char *const keys[] = {"op", "id", "process", "signal", NULL};
    int64_t sig = 0;

    if (check_keys(o, "signal", keys, err) < 0 ||
        get_str(o, "signal", "process", true, AGENT_MAX_NAME, &s->process, err) < 0 ||
        get_int(o, "signal", "signal", true, 1, 64, &sig, err) < 0)
        return -1;
    s->signal = (int)sig;
    return 0;
}

static int decode_resize(json_t *o, struct agent_resize *r, ctr_error_t *err)
{
    static const char *const keys[] = {"op", "id", "process", "rows", "cols", NULL};
    int64_t rows = 0, cols = 0;

    if (check_keys(o, "resize", keys, err) < 0 ||
        get_str(o, "resize", "process", true, AGENT_MAX_NAME, &r->process, err) < 0 ||
        get_int(o, "resize", "rows", true, 0, UINT16_MAX, &rows, err) < 0 ||
        get_int(o, "resize", "cols", true, 0, UINT16_MAX, &cols, err) < 0)
        return -1;
    r->rows = (uint16_t)rows;
    r->cols = (uint16_t)cols;
    return 0;
}

static int decode_archive(json_t *o, enum agent_op op, struct agent_archive *a, ctr_error_t *err)
{
    static const char *const stat_keys[] = {"op", "id", "path", NULL};
    static const char *const get_keys[] = {"op",     "id",     "process", "path",
                                           "stream", "export", "upper",   NULL};
    static const char *const put_keys[] = {"op", "id", "process", "path", "stream", NULL};
    const char *what = agent_op_name(op);
    int64_t stream = 0;

    if (check_keys(o, what,
                   op == AGENT_OP_ARCHIVE_STAT  ? stat_keys
                   : op == AGENT_OP_ARCHIVE_GET ? get_keys
                                                : put_keys,
                   err) < 0 ||
        get_str(o, what, "path", true, AGENT_MAX_PATH, &a->path, err) < 0 ||
        check_abs_path(what, "path", a->path, err) < 0)
        return -1;
    if (op == AGENT_OP_ARCHIVE_STAT)
        return 0;
    if (get_str(o, what, "process", true, AGENT_MAX_NAME, &a->process, err) < 0 ||
        get_int(o, what, "stream", true, 1, UINT32_MAX, &stream, err) < 0 ||
        get_bool(o, what, "export", false, &a->export_all, err) < 0 ||
        (op == AGENT_OP_ARCHIVE_GET && get_bool(o, what, "upper", false, &a->upper, err) < 0))
        return -1;
    if (a->process[0] == '\0')
        return ctr_fail(err, EPROTO, "%s: field `process` must not be empty", what);
    a->stream = (uint32_t)stream;
    if ((a->export_all || a->upper) && strcmp(a->path, "/") != 0)
        return ctr_fail(err, EPROTO, "%s: `%s` needs `path` \"/\", got `%.256s`", what,
                        a->export_all ? "export" : "upper", a->path);
    return 0;
}

static json_t *load_object(const char *json, size_t len, const char *what, ctr_error_t *err)
{
    json_error_t jerr;
    json_t *o;

    if (len > AGENT_MAX_CONTROL) {
        ctr_fail(err, EPROTO, "%s: %zu bytes (limit %u)", what, len, AGENT_MAX_CONTROL);
        return NULL;
    }
    o = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (o == NULL) {
        ctr_fail(err, EPROTO, "%s: invalid JSON: %s", what, jerr.text);
        return NULL;
    }
    if (!json_is_object(o)) {
        json_decref(o);
        ctr_fail(err, EPROTO, "%s: not a JSON object", what);
        return NULL;
    }
    return o;
}

static int get_id(json_t *o, const char *what, uint64_t *id, ctr_error_t *err)
{
    int64_t v = 0;
    if (get_int(o, what, "id", true, 0, INT64_MAX, &v, err) < 0)
        return -1;
    *id = (uint64_t)v;
    return 0;
}

bool agent_request_peek_id(const char *json, size_t len, uint64_t *id)
{
    cleanup_error ctr_error_t err = NULL;
    cleanup_json json_t *o = load_object(json, len, "request", &err);
    uint64_t v;

    if (o == NULL || get_id(o, "request", &v, &err) < 0 || v == 0)
        return false;
    *id = v;
    return true;
}

int agent_request_decode(const char *json, size_t len, struct agent_request *out, ctr_error_t *err)
{
    cleanup_json json_t *o = load_object(json, len, "agent request", err);
    struct agent_request req = {0};
    cleanup_free char *op = NULL;
    int r = -1;

    if (o == NULL)
        return -1;
    if (get_str(o, "request", "op", true, AGENT_MAX_NAME, &op, err) < 0 ||
        get_id(o, "request", &req.id, err) < 0)
        return -1;
    if (req.id == 0)
        return ctr_fail(err, EPROTO, "request: field `id` must be positive");
    for (size_t i = 1; i < N_OPS; i++)
        if (strcmp(op, op_names[i]) == 0)
            req.op = (enum agent_op)i;
    switch (req.op) {
    case AGENT_OP_HELLO: {
        static const char *const keys[] = {"op", "id", "version", NULL};
        int64_t v = 0;
        r = check_keys(o, "hello", keys, err) < 0 ||
                    get_int(o, "hello", "version", true, 1, UINT32_MAX, &v, err) < 0
                ? -1
                : 0;
        req.u.hello.version = (uint32_t)v;
        break;
    }
    case AGENT_OP_SETUP:
        r = decode_setup(o, &req.u.setup, err);
        break;
    case AGENT_OP_EXEC:
        r = decode_exec(o, &req.u.exec, err);
        break;
    case AGENT_OP_SIGNAL:
        r = decode_signal(o, &req.u.signal, err);
        break;
    case AGENT_OP_RESIZE:
        r = decode_resize(o, &req.u.resize, err);
        break;
    case AGENT_OP_SHUTDOWN: {
        static const char *const keys[] = {"op", "id", NULL};
        r = check_keys(o, "shutdown", keys, err);
        break;
    }
    case AGENT_OP_ARCHIVE_STAT:
    case AGENT_OP_ARCHIVE_GET:
    case AGENT_OP_ARCHIVE_PUT:
        r = decode_archive(o, req.op, &req.u.archive, err);
        break;
    case AGENT_OP_CLOCK: {
        static const char *const keys[] = {"op", "id", "time_ns", NULL};
        r = check_keys(o, "clock", keys, err) < 0 ||
                    get_int(o, "clock", "time_ns", true, 1, INT64_MAX, &req.u.clock.time_ns, err) <
                        0
                ? -1
                : 0;
        break;
    }
    case AGENT_OP_TOP: {
        static const char *const keys[] = {"op", "id", "ps_args", NULL};
        r = check_keys(o, "top", keys, err) < 0 ||
                    get_str(o, "top", "ps_args", false, AGENT_MAX_NAME, &req.u.top.ps_args, err) < 0
                ? -1
                : 0;
        break;
    }
    case AGENT_OP_NET: {
        static const char *const keys[] = {"op", "id", "net", NULL};
        r = check_keys(o, "net", keys, err) < 0 ||
                    proto_netop_decode(json_object_get(o, "net"), "net", EPROTO, &req.u.net, err) <
                        0
                ? -1
                : 0;
        break;
    }
    default:
        return ctr_fail(err, EPROTO, "request: unknown op `%.64s`", op);
    }
    if (r < 0) {
        agent_request_release(&req);
        return -1;
    }
    *out = req;
    return 0;
}

static int decode_path_stat(json_t *s, struct agent_path_stat **out, ctr_error_t *err)
{
    static const char *const keys[] = {"name", "size", "mode", "mtime", "link_target", NULL};
    const char *what = "reply stat";
    struct agent_path_stat *st;
    int64_t size = 0, mode = 0;

    if (!json_is_object(s))
        return ctr_fail(err, EPROTO, "reply: field `stat` must be an object");
    st = *out = ctr_xcalloc(1, sizeof(*st));
    if (check_keys(s, what, keys, err) < 0 ||
        get_str(s, what, "name", true, AGENT_MAX_PATH, &st->name, err) < 0 ||
        get_int(s, what, "size", true, 0, INT64_MAX, &size, err) < 0 ||
        get_int(s, what, "mode", true, 0, UINT32_MAX, &mode, err) < 0 ||
        get_str(s, what, "mtime", true, AGENT_MAX_NAME, &st->mtime, err) < 0 ||
        get_str(s, what, "link_target", false, AGENT_MAX_PATH, &st->link_target, err) < 0)
        return -1;
    st->size = size;
    st->mode = (uint32_t)mode;
    return 0;
}

static int decode_reply(json_t *o, struct agent_reply *rep, ctr_error_t *err)
{
    static const char *const keys[] = {"id",  "ok",    "error", "code",   "version", "agent",
                                       "pid", "errno", "stat",  "output", NULL};
    const char *what = "reply";
    int64_t code = 0, version = 0, pid = 0, errnum = 0;
    json_t *st;

    if (check_keys(o, what, keys, err) < 0 || get_id(o, what, &rep->id, err) < 0 ||
        get_bool(o, what, "ok", true, &rep->ok, err) < 0 ||
        get_str(o, what, "error", !rep->ok, AGENT_MAX_PATH, &rep->error, err) < 0 ||
        get_int(o, what, "code", false, 0, 255, &code, err) < 0 ||
        get_int(o, what, "version", false, 1, UINT32_MAX, &version, err) < 0 ||
        get_str(o, what, "agent", false, AGENT_MAX_NAME, &rep->agent, err) < 0 ||
        get_int(o, what, "pid", false, 1, INT32_MAX, &pid, err) < 0 ||
        get_int(o, what, "errno", false, 1, AGENT_MAX_ERRNO, &errnum, err) < 0 ||
        get_str(o, what, "output", false, AGENT_MAX_CONTROL, &rep->output, err) < 0)
        return -1;
    if (rep->ok && (rep->error != NULL || code != 0 || errnum != 0))
        return ctr_fail(err, EPROTO, "reply: `error`, `code` or `errno` set on a successful reply");
    st = json_object_get(o, "stat");
    if (st != NULL && !rep->ok)
        return ctr_fail(err, EPROTO, "reply: `stat` set on a failed reply");
    if (st != NULL && decode_path_stat(st, &rep->stat, err) < 0)
        return -1;
    rep->errnum = (int)errnum;
    rep->code = (int)code;
    rep->version = (uint32_t)version;
    rep->pid = (int)pid;
    return 0;
}

static int decode_event(json_t *o, struct agent_event *ev, ctr_error_t *err)
{
    static const char *const keys[] = {"event", "process", "status", "error", NULL};
    cleanup_free char *name = NULL;
    int64_t status = 0;

    if (get_str(o, "event", "event", true, AGENT_MAX_NAME, &name, err) < 0)
        return -1;
    if (strcmp(name, "exit") != 0)
        return ctr_fail(err, EPROTO, "event: unknown event `%.64s`", name);
    ev->type = AGENT_EVENT_EXIT;
    if (check_keys(o, "exit event", keys, err) < 0 ||
        get_str(o, "exit event", "process", true, AGENT_MAX_NAME, &ev->process, err) < 0 ||
        get_int(o, "exit event", "status", true, 0, 255, &status, err) < 0 ||
        get_str(o, "exit event", "error", false, AGENT_MAX_PATH, &ev->error, err) < 0)
        return -1;
    ev->status = (int)status;
    return 0;
}

int agent_guest_msg_decode(const char *json, size_t len, enum agent_guest_msg_kind *kind,
                           struct agent_reply *reply, struct agent_event *event, ctr_error_t *err)
{
    cleanup_json json_t *o = load_object(json, len, "agent message", err);
    bool has_event, has_id;

    if (o == NULL)
        return -1;
    has_event = json_object_get(o, "event") != NULL;
    has_id = json_object_get(o, "id") != NULL;
    if (has_event == has_id)
        return ctr_fail(err, EPROTO, "agent message: need exactly one of `id` and `event`");
    if (has_id) {
        struct agent_reply rep = {0};
        if (decode_reply(o, &rep, err) < 0) {
            agent_reply_release(&rep);
            return -1;
        }
        *reply = rep;
        *kind = AGENT_MSG_REPLY;
    } else {
        struct agent_event ev = {0};
        if (decode_event(o, &ev, err) < 0) {
            agent_event_release(&ev);
            return -1;
        }
        *event = ev;
        *kind = AGENT_MSG_EVENT;
    }
    return 0;
}

/* ---------------------------------------------------------------- release */

void agent_request_release(struct agent_request *req)
{
    switch (req->op) {
    case AGENT_OP_NET:
        agent_net_release(&req->u.net);
        break;
    case AGENT_OP_HELLO:
        free(req->u.hello.agent);
        break;
    case AGENT_OP_SETUP:
        free(req->u.setup.hostname);
        free(req->u.setup.root_lower);
        free(req->u.setup.root_upper);
        ctr_strv_free(req->u.setup.warm_macs);
        for (size_t i = 0; i < req->u.setup.n_mounts; i++) {
            free(req->u.setup.mounts[i].source);
            free(req->u.setup.mounts[i].target);
            free(req->u.setup.mounts[i].fstype);
            free(req->u.setup.mounts[i].options);
        }
        free(req->u.setup.mounts);
        agent_setup_net_release(&req->u.setup);
        break;
    case AGENT_OP_EXEC:
        free(req->u.exec.process);
        ctr_strv_free(req->u.exec.args);
        ctr_strv_free(req->u.exec.env);
        free(req->u.exec.cwd);
        free(req->u.exec.user);
        ctr_strv_free(req->u.exec.groups);
        free(req->u.exec.rlimits);
        break;
    case AGENT_OP_SIGNAL:
        free(req->u.signal.process);
        break;
    case AGENT_OP_RESIZE:
        free(req->u.resize.process);
        break;
    case AGENT_OP_SHUTDOWN:
        break;
    case AGENT_OP_ARCHIVE_STAT:
    case AGENT_OP_ARCHIVE_GET:
    case AGENT_OP_ARCHIVE_PUT:
        free(req->u.archive.process);
        free(req->u.archive.path);
        break;
    case AGENT_OP_CLOCK:
        break;
    case AGENT_OP_TOP:
        free(req->u.top.ps_args);
        break;
    }
    memset(req, 0, sizeof(*req));
}

void agent_path_stat_release(struct agent_path_stat *st)
{
    if (st == NULL)
        return;
    free(st->name);
    free(st->mtime);
    free(st->link_target);
    memset(st, 0, sizeof(*st));
}

void agent_reply_release(struct agent_reply *rep)
{
    free(rep->error);
    free(rep->agent);
    free(rep->output);
    agent_path_stat_release(rep->stat);
    free(rep->stat);
    memset(rep, 0, sizeof(*rep));
}

void agent_event_release(struct agent_event *ev)
{
    free(ev->process);
    free(ev->error);
    memset(ev, 0, sizeof(*ev));
}
