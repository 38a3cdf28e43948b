/* `container attach [--no-stdin] CONTAINER`: reattach to a running container's
 * main process; Ctrl-P Ctrl-Q detaches (with a tty); the exit code is the
 * container's when it ends while attached. */
#include "cli/cli.h"

enum { O_NO_STDIN = 1, O_DETACH_KEYS };

struct attach_opts {
    bool no_stdin;
    const char *detach_keys;
};

static int attach_opt(void *opaque, int id, const char *v, ctr_error_t *err)
{
    struct attach_opts *o = opaque;
    if (id == O_NO_STDIN) {
        o->no_stdin = true;
        return 0;
    }
    if (ctr_detach_keys_parse(v, NULL, NULL) < 0)
        return ctr_fail(err, 0, "invalid value `%s` for `--detach-keys`: %s", v,
                        "keys are comma separated: a letter or ctrl-<value>, value one of "
                        "a-z, @, [, \\, ], ^, _");
    o->detach_keys = v;
    return 0;
}

int cli_cmd_attach(struct cli_ctx *ctx, int argc, char **argv, ctr_error_t *err)
{
    static const struct cli_option opts[] = {
        CLI_OPT_BOOL(0, "no-stdin", O_NO_STDIN, "do not attach stdin"),
        CLI_OPT_ARG(0, "detach-keys", "KEYS", O_DETACH_KEYS,
                    "key sequence that detaches (default ctrl-p,ctrl-q)"),
        CLI_OPT_END,
    };
    cleanup_strv char **pos = NULL;
    cleanup_free char *eid = NULL, *path = NULL, *id = NULL;
    struct attach_opts ao = {0};
    bool tty, send_stdin;
    json_t *info = NULL, *cfg, *state;
    int r = cli_parse_opts("attach", opts, 0, argc, argv, attach_opt, &ao, &pos, err);

    if (r != 0) {
        if (r == 1)
            cli_print_usage(ctx, opts, stdout);
        return r == 1 ? 0 : -1;
    }
    if (cli_check_args("attach", pos, 1, 1, "exactly one container", err) < 0)
        return -1;
    eid = cli_esc(pos[0]);
    path = cli_path("/containers/%s/json", eid);
    if (cli_call(ctx, "GET", path, NULL, &info, err) < 0)
        return -1;
    cfg = json_object_get(info, "Config");
    state = json_object_get(info, "State");
    tty = cli_json_bool(cfg, "Tty");
    send_stdin = !ao.no_stdin && cli_json_bool(cfg, "OpenStdin");
    id = ctr_xstrdup(cli_json_str(info, "Id") ? cli_json_str(info, "Id") : pos[0]);
    if (!cli_json_bool(state, "Running")) {
        json_decref(info);
        return ctr_fail(err, 0,
                        "container `%s` is not running; start it with `container start "
                        "-a %s`",
                        pos[0], pos[0]);
    }
    json_decref(info);
    return cli_attach_and_start(ctx, id, tty, send_stdin, ao.detach_keys, "not-running", false,
                                err);
}
