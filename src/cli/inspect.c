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
            cli_print_usage(ctx, opts, stdout);
        return r == 1 ? 0 : -1;
    }
    if (cli_check_args("inspect", pos, 1, -1, "at least one container", err) < 0)
        return -1;
    out = cli_get_each(ctx, "inspect", "containers", "/json", pos, &rc);
    cli_print_json(out, stdout);
    json_decref(out);
    return rc;
}
