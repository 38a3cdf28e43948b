/* JSON of the shim control protocol (proto/shim.h). */
#include "proto/shim.h"

#include "proto/proto-internal.h"

#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

static const char *const op_names[] = {
    NULL,           "exec",        "attach",      "kill",  "stop",   "resize", "signal",
    "archive_stat", "archive_get", "archive_put", "pause", "resume", "top",    "net"};

static char *dump(json_t *root, size_t *len)
{
    char *s = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    if (s == NULL)
        abort();
    *len = strlen(s);
    return s;
}

static json_t *strv_json(char *const *v)
{
    json_t *a = json_array();
    for (size_t i = 0; v && v[i]; i++)
        json_array_append_new(a, json_string(v[i]));
    return a;
}

char *shimp_request_encode(const struct shimp_request *req, size_t *len)
{
    json_t *o = json_pack("{s:s}", "op", op_names[req->op]);

    switch (req->op) {
    case SHIMP_OP_EXEC:
        json_object_set_new(o, "process",
                            json_pack("{s:o, s:o, s:s?, s:s?, s:b, s:i, s:i}", "args",
                                      strv_json(req->exec.args), "env", strv_json(req->exec.env),
                                      "cwd", req->exec.cwd, "user", req->exec.user, "terminal",
                                      req->exec.terminal, "rows", (int)req->exec.rows, "cols",
                                      (int)req->exec.cols));
        /* fallthrough */
    case SHIMP_OP_ATTACH:
        json_object_set_new(o, "stdin", json_boolean(req->stdin_open));
        break;
    case SHIMP_OP_KILL:
    case SHIMP_OP_SIGNAL:
        json_object_set_new(o, "signal", json_integer(req->signal));
        break;
    case SHIMP_OP_STOP:
        json_object_set_new(o, "timeout", json_integer(req->timeout_s));
        break;
    case SHIMP_OP_RESIZE:
        json_object_set_new(o, "rows", json_integer(req->rows));
        json_object_set_new(o, "cols", json_integer(req->cols));
        break;
    case SHIMP_OP_ARCHIVE_GET:
        json_object_set_new(o, "export", json_boolean(req->export_all));
        if (req->upper)
            json_object_set_new(o, "upper", json_true());
        /* fallthrough */
    case SHIMP_OP_ARCHIVE_STAT:
    case SHIMP_OP_ARCHIVE_PUT:
        json_object_set_new(o, "path", json_string(req->path ? req->path : ""));
        break;
    case SHIMP_OP_PAUSE:
    case SHIMP_OP_RESUME:
        break;
    case SHIMP_OP_TOP:
        json_object_set_new(o, "ps_args", ctr_json_str(req->ps_args ? req->ps_args : ""));
        break;
    case SHIMP_OP_NET:
        json_object_set_new(o, "net", proto_netop_encode(&req->net));
        break;
    }
    return dump(o, len);
}

static int get_int(json_t *o, const char *key, json_int_t lo, json_int_t hi, json_int_t dflt,
                   json_int_t *out, ctr_error_t *err)
{
    json_t *v = json_object_get(o, key);
    if (v == NULL) {
        *out = dflt;
        return 0;
    }
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
        return ctr_fail(err, EINVAL, "`%s` must be an integer in [%lld, %lld]", key, (long long)lo,
                        (long long)hi);
    *out = json_integer_value(v);
    return 0;
}

static int get_strv(json_t *o, const char *key, char ***out, ctr_error_t *err)
{
    json_t *v = json_object_get(o, key), *e;
    size_t i;

    *out = ctr_xcalloc(1, sizeof(char *));
    if (v == NULL)
        return 0;
    if (!json_is_array(v) || json_array_size(v) > AGENT_MAX_ARGS)
        return ctr_fail(err, EINVAL, "`%s` must be an array of strings", key);
    json_array_foreach(v, i, e)
    {
        if (!json_is_string(e) || strlen(json_string_value(e)) != json_string_length(e))
            return ctr_fail(err, EINVAL, "`%s[%zu]` must be a string", key, i);
        ctr_strv_append(out, json_string_value(e));
    }
    return 0;
}

static int get_opt_str(json_t *o, const char *key, char **out, ctr_error_t *err)
{
    json_t *v = json_object_get(o, key);
    *out = NULL;
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v))
        return ctr_fail(err, EINVAL, "`%s` must be a string", key);
    *out = ctr_xstrdup(json_string_value(v));
    return 0;
}

int shimp_request_decode(const char *json, size_t len, struct shimp_request *out, ctr_error_t *err)
{
    json_error_t jerr;
    json_t *o = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr), *v, *p;
    struct shimp_request r = {0};
    json_int_t n;
    int ret = -1;

    if (o == NULL || !json_is_object(o)) {
        json_decref(o);
        return ctr_fail(err, EINVAL, "shim request is not a JSON object");
    }
    v = json_object_get(o, "op");
    if (!json_is_string(v)) {
        ctr_fail(err, EINVAL, "shim request without `op`");
        goto out;
    }
    for (size_t i = 1; i < sizeof(op_names) / sizeof(op_names[0]); i++)
        if (strcmp(op_names[i], json_string_value(v)) == 0)
            r.op = (enum shimp_op)i;
    if (r.op == 0) {
        ctr_fail(err, EINVAL, "unknown shim op `%s`", json_string_value(v));
        goto out;
    }
    v = json_object_get(o, "stdin");
    r.stdin_open = json_is_true(v);
    if (get_int(o, "signal", 0, SIGRTMAX, 0, &n, err) < 0)
        goto out;
    r.signal = (int)n;
    if (get_int(o, "timeout", 0, 86400, 10, &n, err) < 0)
        goto out;
    r.timeout_s = (unsigned)n;
    if (get_int(o, "rows", 0, UINT16_MAX, 0, &n, err) < 0)
        goto out;
    r.rows = (uint16_t)n;
    if (get_int(o, "cols", 0, UINT16_MAX, 0, &n, err) < 0)
        goto out;
    r.cols = (uint16_t)n;
    if (r.op == SHIMP_OP_ARCHIVE_STAT || r.op == SHIMP_OP_ARCHIVE_GET ||
        r.op == SHIMP_OP_ARCHIVE_PUT) {
        if (get_opt_str(o, "path", &r.path, err) < 0)
            goto out;
        if (r.path == NULL || r.path[0] != '/' || strlen(r.path) > AGENT_MAX_PATH) {
            ctr_fail(err, EINVAL, "%s request needs an absolute `path`", op_names[r.op]);
            goto out;
        }
        r.export_all = json_is_true(json_object_get(o, "export"));
        r.upper = r.op == SHIMP_OP_ARCHIVE_GET && json_is_true(json_object_get(o, "upper"));
        if ((r.export_all || r.upper) && strcmp(r.path, "/") != 0) {
            ctr_fail(err, EINVAL, "`%s` needs `path` \"/\"", r.export_all ? "export" : "upper");
            goto out;
        }
    }
    if (r.op == SHIMP_OP_TOP && get_opt_str(o, "ps_args", &r.ps_args, err) < 0)
        goto out;
    if (r.op == SHIMP_OP_NET &&
        proto_netop_decode(json_object_get(o, "net"), "net", EINVAL, &r.net, err) < 0)
        goto out;
    if (r.op == SHIMP_OP_EXEC) {
        p = json_object_get(o, "process");
        if (!json_is_object(p)) {
            ctr_fail(err, EINVAL, "exec request without `process`");
            goto out;
        }
        if (get_strv(p, "args", &r.exec.args, err) < 0 ||
            get_strv(p, "env", &r.exec.env, err) < 0 ||
            get_opt_str(p, "cwd", &r.exec.cwd, err) < 0 ||
            get_opt_str(p, "user", &r.exec.user, err) < 0)
            goto out;
        if (r.exec.args[0] == NULL) {
            ctr_fail(err, EINVAL, "exec request with empty `args`");
            goto out;
        }
        r.exec.terminal = json_is_true(json_object_get(p, "terminal"));
        if (get_int(p, "rows", 0, UINT16_MAX, 0, &n, err) < 0)
            goto out;
        r.exec.rows = (uint16_t)n;
        if (get_int(p, "cols", 0, UINT16_MAX, 0, &n, err) < 0)
            goto out;
        r.exec.cols = (uint16_t)n;
    }
    *out = r;
    memset(&r, 0, sizeof(r));
    ret = 0;
out:
    shimp_request_release(&r);
    json_decref(o);
    return ret;
}

void shimp_request_release(struct shimp_request *req)
{
    ctr_strv_free(req->exec.args);
    ctr_strv_free(req->exec.env);
    free(req->exec.cwd);
    free(req->exec.user);
    free(req->path);
    free(req->ps_args);
    agent_net_release(&req->net);
    memset(req, 0, sizeof(*req));
}

char *shimp_msg_encode(const struct shimp_msg *msg, size_t *len)
{
    json_t *o;

    if (msg->kind == SHIMP_MSG_EXIT) {
        o = json_pack("{s:s, s:i}", "event", "exit", "status", msg->status);
        if (msg->exit_error)
            json_object_set_new(o, "error", ctr_json_str(msg->exit_error));
        return dump(o, len);
    }
    if (msg->ok) {
        o = json_pack("{s:b}", "ok", 1);
        if (msg->stat) {
            const struct agent_path_stat *st = msg->stat;
            json_object_set_new(o, "stat",
                                json_pack("{s:o, s:I, s:I, s:o, s:o}", "name",
                                          ctr_json_str(st->name ? st->name : ""), "size",
                                          (json_int_t)st->size, "mode", (json_int_t)st->mode,
                                          "mtime", ctr_json_str(st->mtime ? st->mtime : ""),
                                          "link_target",
                                          ctr_json_str(st->link_target ? st->link_target : "")));
        }
        if (msg->output)
            json_object_set_new(o, "output", ctr_json_str(msg->output));
        return dump(o, len);
    }
    o = json_pack("{s:b, s:o, s:i}", "ok", 0, "error",
                  ctr_json_str(msg->error ? msg->error : "failed"), "code", msg->code);
    if (msg->errnum > 0)
        json_object_set_new(o, "errno", json_integer(msg->errnum));
    return dump(o, len);
}

static int decode_stat(json_t *v, struct agent_path_stat **out, ctr_error_t *err)
{
    struct agent_path_stat *st;
    json_int_t n;

    if (!json_is_object(v))
        return ctr_fail(err, EINVAL, "`stat` must be an object");
    st = *out = ctr_xcalloc(1, sizeof(*st));
    if (get_opt_str(v, "name", &st->name, err) < 0 ||
        get_opt_str(v, "mtime", &st->mtime, err) < 0 ||
        get_opt_str(v, "link_target", &st->link_target, err) < 0 ||
        get_int(v, "size", 0, INT64_MAX, 0, &n, err) < 0)
        return -1;
    st->size = n;
    if (get_int(v, "mode", 0, UINT32_MAX, 0, &n, err) < 0)
        return -1;
    st->mode = (uint32_t)n;
    if (st->name == NULL || st->mtime == NULL)
        return ctr_fail(err, EINVAL, "`stat` needs `name` and `mtime`");
    return 0;
}

int shimp_msg_decode(const char *json, size_t len, struct shimp_msg *out, ctr_error_t *err)
{
    json_error_t jerr;
    json_t *o = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr), *v;
    struct shimp_msg m = {0};
    json_int_t n;
    int ret = -1;

    if (o == NULL || !json_is_object(o)) {
        json_decref(o);
        return ctr_fail(err, EINVAL, "shim message is not a JSON object");
    }
    v = json_object_get(o, "event");
    if (v != NULL) {
        if (!json_is_string(v) || strcmp(json_string_value(v), "exit") != 0) {
            ctr_fail(err, EINVAL, "unknown shim event");
            goto out;
        }
        m.kind = SHIMP_MSG_EXIT;
        if (get_int(o, "status", 0, 255, -1, &n, err) < 0)
            goto out;
        if (n < 0) {
            ctr_fail(err, EINVAL, "exit event without `status`");
            goto out;
        }
        m.status = (int)n;
        if (get_opt_str(o, "error", &m.exit_error, err) < 0)
            goto out;
    } else {
        v = json_object_get(o, "ok");
        if (!json_is_boolean(v)) {
            ctr_fail(err, EINVAL, "shim reply without `ok`");
            goto out;
        }
        m.kind = SHIMP_MSG_REPLY;
        m.ok = json_is_true(v);
        if (get_opt_str(o, "error", &m.error, err) < 0 ||
            get_int(o, "code", 0, 255, 0, &n, err) < 0)
            goto out;
        m.code = (int)n;
        if (get_int(o, "errno", 0, AGENT_MAX_ERRNO, 0, &n, err) < 0)
            goto out;
        m.errnum = (int)n;
        v = json_object_get(o, "stat");
        if (v != NULL && decode_stat(v, &m.stat, err) < 0)
            goto out;
        if (get_opt_str(o, "output", &m.output, err) < 0)
            goto out;
    }
    *out = m;
    memset(&m, 0, sizeof(m));
    ret = 0;
out:
    shimp_msg_release(&m);
    json_decref(o);
    return ret;
}

void shimp_msg_release(struct shimp_msg *msg)
{
    free(msg->error);
    free(msg->exit_error);
    free(msg->output);
    agent_path_stat_release(msg->stat);
    free(msg->stat);
    memset(msg, 0, sizeof(*msg));
}
