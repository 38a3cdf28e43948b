/* `container exec`: create an exec instance, start it hijacked (or detached),
 * then exit with the process's exit code from GET /exec/{id}/json. */
#include "cli/cli.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { O_DETACH = 1, O_INTERACTIVE, O_TTY, O_ENV, O_ENV_FILE, O_WORKDIR, O_USER, O_DETACH_KEYS };

static const struct cli_option exec_options[] = {
    CLI_OPT_BOOL('d', "detach", O_DETACH, "run in the background"),
    CLI_OPT_BOOL('i', "interactive", O_INTERACTIVE, "keep stdin open"),
    CLI_OPT_BOOL('t', "tty", O_TTY, "allocate a terminal"),
    CLI_OPTS_PROCESS,
    CLI_OPT_ARG(0, "detach-keys", "KEYS", O_DETACH_KEYS,
                "key sequence that detaches (default ctrl-p,ctrl-q)"),
    CLI_OPT_END,
};

static int exec_opt(void *opaque, int id, const char *v, ctr_error_t *err)
{
    struct cli_exec_opts *o = opaque;
    switch (id) {
    case O_DETACH_KEYS:
        if (ctr_detach_keys_parse(v, NULL, NULL) < 0)
            return ctr_fail(err, 0, "invalid value `%s` for `--detach-keys`: %s", v,
                            "keys are comma separated: a letter or ctrl-<value>, value one of "
                            "a-z, @, [, \\, ], ^, _");
        o->detach_keys = v;
        break;
    case O_DETACH:
        o->detach = true;
        break;
    case O_INTERACTIVE:
        o->interactive = true;
        break;
    case O_TTY:
        o->tty = true;
        break;
    case O_ENV:
        return cli_opt_env(v, &o->env_flags, err);
    case O_ENV_FILE:
        ctr_strv_append(&o->env_files, v);
        break;
    case O_WORKDIR:
        return cli_opt_workdir(v, &o->workdir, err);
    case O_USER:
        o->user = v;
        break;
    }
    return 0;
}

void cli_exec_opts_release(struct cli_exec_opts *o)
{
    ctr_strv_free(o->env_flags);
    ctr_strv_free(o->env_files);
    ctr_strv_free(o->env);
    ctr_strv_free(o->pos);
    *o = (struct cli_exec_opts){0};
}

int cli_exec_parse(int argc, char **argv, struct cli_exec_opts *o, ctr_error_t *err)
{
    int r;

    *o = (struct cli_exec_opts){0};
    r = cli_parse_opts("exec", exec_options, CLI_PARSE_STOP_AT_POSITIONAL, argc, argv, exec_opt, o,
                       &o->pos, err);
    if (r != 0)
        return r;
    if (ctr_strv_len(o->pos) < 2)
        return ctr_fail(err, 0,
                        "`container exec` needs a container and a command; usage: "
                        "container exec [OPTIONS] CONTAINER COMMAND [ARG...]");
    return cli_resolve_env(o->env_files, o->env_flags, &o->env, err);
}

json_t *cli_exec_body(const struct cli_exec_opts *o)
{
    json_t *b = json_object(), *cmd = json_array(), *env = json_array();
    bool attach = !o->detach;

    for (char **a = o->pos + 1; *a; a++)
        json_array_append_new(cmd, ctr_json_str(*a));
    for (char **e = o->env; e && *e; e++)
        json_array_append_new(env, ctr_json_str(*e));
    json_object_set_new(b, "Cmd", cmd);
    json_object_set_new(b, "Env", env);
    if (o->workdir)
        json_object_set_new(b, "WorkingDir", ctr_json_str(o->workdir));
    if (o->user)
        json_object_set_new(b, "User", ctr_json_str(o->user));
    json_object_set_new(b, "Tty", json_boolean(o->tty));
    json_object_set_new(b, "AttachStdin", json_boolean(attach && o->interactive));
    json_object_set_new(b, "AttachStdout", json_boolean(attach));
    json_object_set_new(b, "AttachStderr", json_boolean(attach));
    json_object_set_new(b, "Detach", json_boolean(o->detach));
    if (o->detach_keys)
        json_object_set_new(b, "DetachKeys", ctr_json_str(o->detach_keys));
    return b;
}

int cli_cmd_exec(struct cli_ctx *ctx, int argc, char **argv, ctr_error_t *err)
{
    cleanup_cli_exec_opts struct cli_exec_opts o = {0};
    cleanup_json json_t *body = NULL, *resp = NULL, *start = NULL, *info = NULL;
    cleanup_free char *cid = NULL, *path = NULL, *exec_id = NULL, *eexec = NULL;
    cleanup_free char *pre = NULL, *rpath = NULL;
    cleanup_close int fd = -1;
    size_t pre_len = 0;
    bool detached = false;
    int r = cli_exec_parse(argc, argv, &o, err);

    if (r != 0) {
        if (r == 1)
            cli_print_usage(ctx, exec_options, stdout);
        return r == 1 ? 0 : -1;
    }
    if (!o.detach && o.tty && o.interactive && !isatty(STDIN_FILENO))
        return ctr_fail(err, 0, "the input device is not a TTY; drop `-t` or run from a terminal");
    cid = cli_esc(o.pos[0]);
    path = cli_path("/containers/%s/exec", cid);
    body = cli_exec_body(&o);
    if (cli_call(ctx, "POST", path, body, &resp, err) < 0)
        return -1;
    if (cli_json_str(resp, "Id") == NULL)
        return ctr_fail(err, 0, "the daemon created an exec instance but sent no `Id`");
    exec_id = ctr_xstrdup(cli_json_str(resp, "Id"));
    eexec = cli_esc(exec_id);
    free(path);
    path = cli_path("/exec/%s/start", eexec);
    start = json_pack("{s:b,s:b}", "Detach", o.detach, "Tty", o.tty);
    if (o.detach) {
        return cli_call(ctx, "POST", path, start, NULL, err) < 0 ? -1 : 0;
    }
    if (cli_hijack(ctx, "POST", path, start, &fd, &pre, &pre_len, err) < 0)
        return -1;
    rpath = cli_path("/exec/%s/resize", eexec);
    struct cli_pump_opts po = {.tty = o.tty,
                               .send_stdin = o.interactive,
                               .detach_keys =
                                   o.tty && o.interactive
                                       ? (o.detach_keys ? o.detach_keys : CTR_DETACH_KEYS_DEFAULT)
                                       : NULL,
                               .resize_path = rpath};
    if (cli_pump(ctx, fd, pre, pre_len, &po, &detached, err) < 0)
        return -1;
    if (detached) {
        fprintf(stderr, "\r\ndetached from exec %.12s; it keeps running\n", exec_id);
        return 0;
    }
    free(path);
    path = cli_path("/exec/%s/json", eexec);
    /* The stream ends when the process exits; its status may trail by a moment. */
    for (int tries = 0; tries < 100; tries++) {
        json_decref(info);
        info = NULL;
        if (cli_call(ctx, "GET", path, NULL, &info, err) < 0)
            return -1;
        if (!cli_json_bool(info, "Running"))
            break;
        usleep(50 * 1000);
    }
    return (int)cli_json_int(info, "ExitCode");
}

/* `container top CONTAINER [PS_ARGS...]`: the container's processes as the VM lists them
 * (GET /containers/{id}/top; PS_ARGS: -ef (default), -e, -f, aux, ax). */
int cli_cmd_top(struct cli_ctx *ctx, int argc, char **argv, ctr_error_t *err)
{
    static const struct cli_option opts[] = {
        CLI_OPT_END,
    };
    cleanup_strv char **pos = NULL;
    int r = cli_parse_opts(ctx->name, opts, CLI_PARSE_STOP_AT_POSITIONAL, argc, argv, NULL, NULL,
                           &pos, err);
    if (r != 0) {
        if (r == 1)
            cli_print_usage(ctx, opts, stdout);
        return r == 1 ? 0 : -1;
    }
    if (cli_check_args(ctx->name, pos, 1, 1u << 20, "a container and optional ps arguments", err) <
        0)
        return -1;
    cleanup_free char *ps_args = ctr_xstrdup("");
    for (char **a = pos + 1; *a; a++) {
        char *n = ctr_xasprintf("%s%s%s", ps_args, *ps_args ? " " : "", *a);
        free(ps_args);
        ps_args = n;
    }
    cleanup_free char *eid = cli_esc(pos[0]);
    cleanup_free char *eargs = cli_esc(ps_args);
    cleanup_free char *path =
        cli_path("/containers/%s/top%s%s", eid, *ps_args ? "?ps_args=" : "", *ps_args ? eargs : "");
    json_t *res = NULL;
    if (cli_call(ctx, "GET", path, NULL, &res, err) < 0)
        return -1;
    json_t *titles = json_object_get(res, "Titles"), *procs = json_object_get(res, "Processes");
    size_t n = json_array_size(titles), i;
    const char **cells = ctr_xcalloc(n + 1, sizeof(char *));
    for (i = 0; i < n; i++)
        cells[i] = json_string_value(json_array_get(titles, i));
    struct cli_table *t = cli_table_new(cells);
    json_t *row;
    json_array_foreach(procs, i, row)
    {
        for (size_t j = 0; j < n; j++)
            cells[j] = json_string_value(json_array_get(row, j));
        cli_table_add(t, cells);
    }
    cli_table_print(t, stdout);
    cli_table_free(t);
    free(cells);
    json_decref(res);
    return 0;
}
