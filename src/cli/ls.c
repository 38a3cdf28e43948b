/* `container list`/`ls [-a] [-q] [--format json|table]`. */
#include "cli/cli.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { O_ALL = 1, O_QUIET, O_FORMAT };

static int ls_opt(void *opaque, int id, const char *v, ctr_error_t *err)
{
    struct cli_ls_opts *o = opaque;
    switch (id) {
    case O_ALL:
        o->all = true;
        break;
    case O_QUIET:
        o->quiet = true;
        break;
    case O_FORMAT:
        return cli_parse_format(v, &o->format, err);
    }
    return 0;
}

static const struct cli_option ls_options[] = {
    CLI_OPT_BOOL('a', "all", O_ALL, "also stopped containers"),
    CLI_OPT_BOOL('q', "quiet", O_QUIET, "print only the ids"),
    CLI_OPT_ARG(0, "format", "json|table", O_FORMAT, "output format"),
    CLI_OPT_END,
};

int cli_ls_parse(int argc, char **argv, struct cli_ls_opts *o, ctr_error_t *err)
{
    cleanup_strv char **pos = NULL;
    int r;

    *o = (struct cli_ls_opts){0};
    r = cli_parse_opts("list", ls_options, 0, argc, argv, ls_opt, o, &pos, err);
    if (r != 0)
        return r;
    return cli_check_args("list", pos, 0, 0, "no arguments", err);
}

static const char *first_name(json_t *c)
{
    json_t *names = json_object_get(c, "Names");
    const char *n = json_is_array(names) && json_array_size(names)
                        ? json_string_value(json_array_get(names, 0))
                        : NULL;
    if (n == NULL)
        return "";
    return n[0] == '/' ? n + 1 : n;
}

void cli_ls_print_table(json_t *list, int64_t now, FILE *f)
{
    static const char *const hdr[] = {"CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS",
                                      "ADDR",         "PORTS", "NAMES",   NULL};
    struct cli_table *t = cli_table_new(hdr);
    json_t *c;
    size_t i;

    json_array_foreach(list, i, c)
    {
        cleanup_free char *id = cli_short_id(cli_json_str(c, "Id"));
        cleanup_free char *cmd = cli_ellipsis(cli_json_str(c, "Command"), 20);
        cleanup_free char *qcmd = ctr_xasprintf("\"%s\"", cmd);
        int64_t created = cli_json_int(c, "Created");
        cleanup_free char *age = cli_human_duration(now - created);
        cleanup_free char *ago = ctr_xasprintf("%s ago", age);
        const char *status = cli_json_str(c, "Status");
        cleanup_free char *ports = cli_ports_column(json_object_get(c, "Ports"));
        const char *cells[] = {id,
                               cli_json_str(c, "Image"),
                               qcmd,
                               ago,
                               status ? status : cli_json_str(c, "State"),
                               cli_container_addr(c),
                               ports,
                               first_name(c)};
        cli_table_add(t, cells);
    }
    cli_table_print(t, f);
    cli_table_free(t);
}

json_t *cli_ls_json_entry(json_t *c)
{
    json_t *labels = json_object_get(c, "Labels");
    cleanup_free char *ports = cli_ports_column(json_object_get(c, "Ports"));
    return json_pack("{s:s,s:s,s:s,s:s,s:s,s:I,s:s,s:s,s:s,s:s,s:o}", "id",
                     cli_json_str(c, "Id") ? cli_json_str(c, "Id") : "", "name", first_name(c),
                     "image", cli_json_str(c, "Image") ? cli_json_str(c, "Image") : "", "imageId",
                     cli_json_str(c, "ImageID") ? cli_json_str(c, "ImageID") : "", "command",
                     cli_json_str(c, "Command") ? cli_json_str(c, "Command") : "", "created",
                     (json_int_t)cli_json_int(c, "Created"), "state",
                     cli_json_str(c, "State") ? cli_json_str(c, "State") : "", "status",
                     cli_json_str(c, "Status") ? cli_json_str(c, "Status") : "", "addr",
                     cli_container_addr(c), "ports", ports, "labels",
                     json_is_object(labels) ? json_incref(labels) : json_object());
}

int cli_cmd_ls(struct cli_ctx *ctx, int argc, char **argv, ctr_error_t *err)
{
    struct cli_ls_opts o;
    cleanup_free char *path = NULL;
    json_t *list = NULL, *c;
    size_t i;
    int r = cli_ls_parse(argc, argv, &o, err);

    if (r != 0) {
        if (r == 1)
            cli_print_usage(ctx, ls_options, stdout);
        return r == 1 ? 0 : -1;
    }
    path = cli_path("/containers/json?all=%d", o.all ? 1 : 0);
    if (cli_call(ctx, "GET", path, NULL, &list, err) < 0)
        return -1;
    if (!json_is_array(list)) {
        json_decref(list);
        return ctr_fail(err, 0, "the daemon sent a container list that is not an array");
    }
    if (o.quiet) {
        json_array_foreach(list, i, c)
        {
            cleanup_free char *id = cli_short_id(cli_json_str(c, "Id"));
            printf("%s\n", id);
        }
    } else if (o.format == CLI_FORMAT_JSON) {
        json_t *out = json_array();
        json_array_foreach(list, i, c) json_array_append_new(out, cli_ls_json_entry(c));
        cli_print_json(out, stdout);
        json_decref(out);
    } else {
        cli_ls_print_table(list, (int64_t)time(NULL), stdout);
    }
    json_decref(list);
    return 0;
}
