/* `container inspect CONTAINER...`: the daemon's inspect objects as one JSON
 * array (docker's shape); a missing one is reported and makes the exit code 1. */
#include "cli/cli.h"

int cli_cmd_inspect(struct cli_ctx *ctx, int argc, char **argv, ctr_error_t *err)
{
    static const struct cli_option opts[] = {{0}};
    cleanup_strv char **pos = NULL;
    json_t *out;
    int rc = 0;
    int r = cli_parse_opts("inspect", opts, 0, argc, argv, NULL, NULL, &pos, err);

    if (r != 0) {
        if (r == 1)
            cli_print_usage(ctx, stdout);
        return r == 1 ? 0 : -1;
    }
    if (cli_check_args("inspect", pos, 1, -1, "at least one container", err) < 0)
        return -1;
    out = json_array();
    for (char **p = pos; *p; p++) {
        cleanup_free char *eid = cli_esc(*p);
        cleanup_free char *path = cli_path("/containers/%s/json", eid);
        json_t *j = NULL;
        ctr_error_t e = NULL;
        if (cli_call(ctx, "GET", path, NULL, &j, &e) < 0) {
            fprintf(stderr, "container: inspect `%s`: %s\n", *p, e->msg);
            ctr_error_free(&e);
            rc = 1;
            continue;
        }
        json_array_append_new(out, j);
    }
    cli_print_json(out, stdout);
    json_decref(out);
    return rc;
}
