/* The exec routes (create, start hijacked or detached, inspect, resize) and top: the
 * request's JSON and query become typed values for exec.c; its answers become Docker's
 * JSON here. */
#include "daemon/api/api.h"

#include <stdlib.h>
#include <string.h>

int api_handle_exec_create(struct api_req *r)
{
    ctr_error_t err = NULL;
    json_t *body = api_body_json(r, &err);
    if (body == NULL)
        return api_reply_ctr_error(r, &err);
    if (api_exec_config_check(body, &err) < 0) { /* validate.c: types and limits */
        json_decref(body);
        return api_reply_ctr_error(r, &err);
    }
    json_t *cmd = json_object_get(body, "Cmd"), *env = json_object_get(body, "Env");
    json_t *cs = json_object_get(body, "ConsoleSize");
    size_t i;
    json_t *v;
    if (!json_is_array(cmd) || json_array_size(cmd) == 0) {
        json_decref(body);
        return api_reply_error(r, 400, "No exec command specified");
    }
    json_array_foreach(cmd, i, v) if (!json_is_string(v))
    {
        json_decref(body);
        return api_reply_error(r, 400, "`Cmd[%zu]` must be a string", i);
    }
    if (env && !json_is_null(env) && !json_is_array(env)) {
        json_decref(body);
        return api_reply_error(r, 400, "`Env` must be a list of NAME=VALUE strings");
    }
    if (json_is_true(json_object_get(body, "Privileged"))) {
        json_decref(body);
        return api_reply_error(r, 400, "`Privileged` exec is not supported by this daemon");
    }
    const char *dk = json_string_value(json_object_get(body, "DetachKeys"));
    uint8_t keys[CTR_DETACH_KEYS_MAX];
    size_t n_keys = 0;
    if (ctr_detach_keys_parse(dk && *dk ? dk : CTR_DETACH_KEYS_DEFAULT, keys, &n_keys) < 0) {
        api_reply_error(r, 400, "Invalid escape keys (%s) provided", dk);
        json_decref(body);
        return 0;
    }
    cleanup_strv char **cmdv = dmn_json_strv(cmd);
    cleanup_strv char **envv = json_is_array(env) ? dmn_json_strv(env) : NULL;
    struct dmn_exec_spec spec = {
        .cmd = cmdv,
        .env = envv,
        .workdir = json_string_value(json_object_get(body, "WorkingDir")),
        .user = json_string_value(json_object_get(body, "User")),
        .tty = json_is_true(json_object_get(body, "Tty")),
        .attach_stdin = json_is_true(json_object_get(body, "AttachStdin")),
        .attach_stdout = json_is_true(json_object_get(body, "AttachStdout")),
        .attach_stderr = json_is_true(json_object_get(body, "AttachStderr")),
        .n_detach_keys = n_keys,
    };
    memcpy(spec.detach_keys, keys, sizeof(keys));
    if (json_is_array(cs) && json_array_size(cs) == 2) {
        spec.rows = (uint16_t)json_integer_value(json_array_get(cs, 0));
        spec.cols = (uint16_t)json_integer_value(json_array_get(cs, 1));
    }
    char id[65];
    int ret = dmn_exec_create(r->d, r->params[0], &spec, id, &err);
    json_decref(body);
    if (ret < 0)
        return api_reply_ctr_error(r, &err);
    return api_reply_json(r, 201, json_pack("{s:s}", "Id", id));
}

static void exec_hijacked(void *ctx, int fd, const char *pre, size_t pre_len)
{
    dmn_exec_run_session(ctx, fd, pre, pre_len);
}

static void exec_run_free(void *ctx)
{
    dmn_exec_run_free(ctx);
}

int api_handle_exec_start(struct api_req *r)
{
    ctr_error_t err = NULL;
    json_t *body = r->body_len ? api_body_json(r, &err) : json_object();
    if (body == NULL)
        return api_reply_ctr_error(r, &err);
    bool detach = json_is_true(json_object_get(body, "Detach"));
    /* moby's postContainerExecStart: the start request's Tty picks raw or multiplexed */
    bool tty = json_is_true(json_object_get(body, "Tty"));
    json_t *cs = json_object_get(body, "ConsoleSize");
    bool set_size = json_is_array(cs) && json_array_size(cs) == 2;
    uint16_t rows = set_size ? (uint16_t)json_integer_value(json_array_get(cs, 0)) : 0;
    uint16_t cols = set_size ? (uint16_t)json_integer_value(json_array_get(cs, 1)) : 0;
    json_decref(body);
    struct dmn_exec_run *x = dmn_exec_start(r->d, r->params[0], set_size, rows, cols, tty, &err);
    if (x == NULL)
        return api_reply_ctr_error(r, &err);
    if (detach) {
        if (dmn_exec_run_detached(x, &err) < 0)
            return api_reply_ctr_error(r, &err);
        return api_reply_empty(r, 200);
    }
    int ret = api_reply_hijack(
        r, tty ? "application/vnd.docker.raw-stream" : "application/vnd.docker.multiplexed-stream",
        exec_hijacked, x, exec_run_free);
    if (r->status != 101)
        dmn_exec_start_undo(r->d, r->params[0]); /* not hijacked: the exec never ran */
    return ret;
}

int api_handle_exec_inspect(struct api_req *r)
{
    ctr_error_t err = NULL;
    struct dmn_exec_info e;
    if (dmn_exec_inspect(r->d, r->params[0], &e, &err) < 0)
        return api_reply_ctr_error(r, &err);
    json_t *j = json_pack("{s:b,s:s,s:s,s:o,s:s,s:b,s:b,s:b,s:{s:o,s:s,s:b,s:b,s:s},s:b,s:i}",
                          "CanRemove", 0, "ContainerID", e.container_id, "DetachKeys", "",
                          "ExitCode", e.exit_code >= 0 ? json_integer(e.exit_code) : json_null(),
                          "ID", e.id, "OpenStderr", e.attach_stderr, "OpenStdin", e.attach_stdin,
                          "OpenStdout", e.attach_stdout, "ProcessConfig", "arguments",
                          dmn_strv_json(e.cmd + 1), "entrypoint", e.cmd[0], "privileged", 0, "tty",
                          e.tty, "user", e.user ? e.user : "", "Running", e.running, "Pid", 0);
    dmn_exec_info_release(&e);
    return api_reply_json(r, 200, j);
}

int api_handle_exec_resize(struct api_req *r)
{
    ctr_error_t err = NULL;
    const char *h = api_query(r, "h"), *w = api_query(r, "w");
    long rows = h ? strtol(h, NULL, 10) : -1, cols = w ? strtol(w, NULL, 10) : -1;
    if (rows < 0 || rows > 65535 || cols < 0 || cols > 65535)
        return api_reply_error(r, 400, "invalid size: `h` and `w` must be 0-65535");
    if (dmn_exec_resize(r->d, r->params[0], (uint16_t)rows, (uint16_t)cols, &err) < 0)
        return api_reply_ctr_error(r, &err);
    return api_reply_empty(r, 200);
}

/* ---- top: the guest's ps-like table as Docker's Titles and Processes ---- */

int api_handle_top(struct api_req *r)
{
    ctr_error_t err = NULL;
    cleanup_free char *out = NULL;
    if (dmn_container_top(r->d, r->params[0], api_query(r, "ps_args"), &out, &err) < 0)
        return api_reply_ctr_error(r, &err);
    json_t *titles = json_array(), *procs = json_array();
    size_t ncols = 0;
    char *save = NULL;
    for (char *line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (ncols == 0) {
            char *s2 = NULL;
            for (char *t = strtok_r(line, " \t", &s2); t; t = strtok_r(NULL, " \t", &s2), ncols++)
                json_array_append_new(titles, ctr_json_str(t)); /* ps output: any byte */
            continue;
        }
        json_t *row = json_array();
        char *p = line;
        for (size_t i = 0; i < ncols && *p; i++) {
            p += strspn(p, " \t");
            size_t l = i + 1 == ncols ? strlen(p) : strcspn(p, " \t");
            cleanup_free char *cell = ctr_xstrndup(p, l);
            json_array_append_new(row, ctr_json_str(cell));
            p += l;
        }
        json_array_append_new(procs, row);
    }
    return api_reply_json(r, 200, json_pack("{s:o,s:o}", "Titles", titles, "Processes", procs));
}
