/* `container volume create/ls/inspect/rm/prune` (thin calls to docker's /volumes
 * routes) and the mount flags of `run`/`create`: -v, --mount, --tmpfs, --shm-size,
 * checked here with the bundle's parsers so a typo fails before anything is made. */
#include "cli/cli.h"

#include "bundle/bundle.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int cli_run_mount_flag(struct cli_run_opts *o, const char *flag, const char *v, ctr_error_t *err)
{
    struct bundle_mount_spec m = {0};

    if (strcmp(flag, "volume") == 0) {
        if (bundle_mount_parse_bind(v, &m, err) < 0)
            return ctr_error_wrap(err, "invalid value for `--volume`");
        ctr_strv_append(&o->binds, v);
    } else if (strcmp(flag, "mount") == 0) {
        if (bundle_mount_parse_flag(v, &m, err) < 0)
            return ctr_error_wrap(err, "invalid value for `--mount`");
        ctr_strv_append(&o->mounts, v);
    } else if (strcmp(flag, "tmpfs") == 0) {
        const char *colon = strchr(v, ':');
        cleanup_free char *path = ctr_xstrndup(v, colon ? (size_t)(colon - v) : strlen(v));
        if (bundle_mount_parse_tmpfs(path, colon ? colon + 1 : NULL, &m, err) < 0)
            return ctr_error_wrap(err, "invalid value for `--tmpfs`");
        ctr_strv_append(&o->tmpfs, v);
    } else if (strcmp(flag, "shm-size") == 0) {
        if (bundle_mount_parse_size(v, &o->shm_size, err) < 0)
            return ctr_error_wrap(err, "invalid value for `--shm-size`");
    }
    bundle_mount_spec_release(&m);
    return 0;
}

static json_t *strv_array(char **v)
{
    return cli_json_strv(v);
}

/* KEY=VALUE flags as an object (a KEY alone: "") */
static json_t *kv_json(char *const *kv)
{
    json_t *o = json_object();
    for (; kv && *kv; kv++) {
        const char *eq = strchr(*kv, '=');
        cleanup_free char *k = ctr_xstrndup(*kv, eq ? (size_t)(eq - *kv) : strlen(*kv));
        cli_json_set_text(o, k, eq ? eq + 1 : "");
    }
    return o;
}

void cli_run_mounts_json(const struct cli_run_opts *o, json_t *hc)
{
    if (o->binds)
        json_object_set_new(hc, "Binds", strv_array(o->binds));
    if (o->mounts) {
        json_t *arr = json_array();
        for (char **s = o->mounts; *s; s++) {
            struct bundle_mount_spec m = {0};
            if (bundle_mount_parse_flag(*s, &m, NULL) < 0)
                continue; /* checked while parsing */
            static const char *const types[] = {"bind", "volume", "tmpfs"};
            json_t *j = json_pack("{s:s, s:o, s:b}", "Type", types[m.type], "Target",
                                  ctr_json_str(m.target), "ReadOnly", m.readonly);
            if (m.source)
                json_object_set_new(j, "Source", ctr_json_str(m.source));
            if (m.type == BUNDLE_MOUNT_TMPFS && m.options && *m.options) {
                /* size=N[,mode=OCTAL] as written by the parser */
                json_t *t = json_object();
                cleanup_free char *opts = ctr_xstrdup(m.options);
                char *save = NULL;
                for (char *kv = strtok_r(opts, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
                    uint64_t size;
                    if (strncmp(kv, "size=", 5) == 0 &&
                        bundle_mount_parse_size(kv + 5, &size, NULL) == 0)
                        json_object_set_new(t, "SizeBytes", json_integer((json_int_t)size));
                    else if (strncmp(kv, "mode=", 5) == 0)
                        json_object_set_new(t, "Mode", json_integer(strtol(kv + 5, NULL, 8)));
                }
                json_object_set_new(j, "TmpfsOptions", t);
            }
            json_array_append_new(arr, j);
            bundle_mount_spec_release(&m);
        }
        json_object_set_new(hc, "Mounts", arr);
    }
    if (o->tmpfs) {
        json_t *t = json_object();
        for (char **s = o->tmpfs; *s; s++) {
            const char *colon = strchr(*s, ':');
            cleanup_free char *path = ctr_xstrndup(*s, colon ? (size_t)(colon - *s) : strlen(*s));
            cli_json_set_text(t, path, colon ? colon + 1 : "");
        }
        json_object_set_new(hc, "Tmpfs", t);
    }
    if (o->shm_size)
        json_object_set_new(hc, "ShmSize", json_integer((json_int_t)o->shm_size));
}

/* ---- container volume ... ---- */

enum { O_LABEL = 1, O_OPT, O_FORMAT, O_QUIET, O_FORCE, O_DRIVER, O_FILTER, O_ALL };

struct vol_opts {
    char **labels, **opts, **filters;
    enum cli_format format;
    bool quiet, force;
};

static int vol_opt(void *opaque, int id, const char *v, ctr_error_t *err)
{
    struct vol_opts *o = opaque;
    switch (id) {
    case O_LABEL:
    case O_OPT:
        if (*v == '\0' || *v == '=')
            return ctr_fail(err, 0, "invalid value `%s` for `--%s`: expected KEY=VALUE", v,
                            id == O_LABEL ? "label" : "opt");
        ctr_strv_append(id == O_LABEL ? &o->labels : &o->opts, v);
        break;
    case O_FILTER:
        if (strchr(v, '=') == NULL || *v == '=')
            return ctr_fail(err, 0, "invalid value `%s` for `--filter`: expected KEY=VALUE", v);
        ctr_strv_append(&o->filters, v);
        break;
    case O_DRIVER:
        if (strcmp(v, "local") != 0)
            return ctr_fail(err, 0, "volume driver `%s` is not supported: use `local`", v);
        break;
    case O_FORMAT:
        return cli_parse_format(v, &o->format, err);
    case O_QUIET:
        o->quiet = true;
        break;
    case O_FORCE:
        o->force = true;
        break;
    case O_ALL: /* docker's `volume prune -a`: the named unused volumes too */
        ctr_strv_append(&o->filters, "all=true");
        break;
    }
    return 0;
}

static void vol_opts_release(struct vol_opts *o)
{
    ctr_strv_free(o->labels);
    ctr_strv_free(o->opts);
    ctr_strv_free(o->filters);
}

static int parse(struct cli_ctx *ctx, const struct cli_option *opts, int argc, char **argv,
                 struct vol_opts *o, char ***pos, ctr_error_t *err)
{
    int r = cli_parse_opts(ctx->name, opts, 0, argc, argv, vol_opt, o, pos, err);
    if (r == 1)
        cli_print_usage(ctx, opts, stdout);
    return r;
}

int cli_cmd_volume_create(struct cli_ctx *ctx, int argc, char **argv, ctr_error_t *err)
{
    static const struct cli_option opts[] = {
        CLI_OPT_ARG('l', "label", "KEY=VALUE", O_LABEL, "add a label"),
        CLI_OPT_ARG('o', "opt", "KEY=VALUE", O_OPT, "driver option (e.g. size=1g)"),
        CLI_OPT_ARG('d', "driver", "DRIVER", O_DRIVER, "only `local`"),
        CLI_OPT_END,
    };
    struct vol_opts o = {0};
    cleanup_strv char **pos = NULL;
    int r = parse(ctx, opts, argc, argv, &o, &pos, err);
    json_t *resp = NULL;

    if (r != 0 || cli_check_args(ctx->name, pos, 1, 1, "a volume name", err) < 0) {
        vol_opts_release(&o);
        return r == 1 ? 0 : -1;
    }
    if (bundle_volume_check_name(pos[0], err) < 0) {
        vol_opts_release(&o);
        return -1;
    }
    json_t *body = json_pack("{s:o, s:s, s:o, s:o}", "Name", ctr_json_str(pos[0]), "Driver",
                             "local", "Labels", kv_json(o.labels), "DriverOpts", kv_json(o.opts));
    cleanup_free char *path = cli_path("/volumes/create");
    r = cli_call(ctx, "POST", path, body, &resp, err);
    json_decref(body);
    vol_opts_release(&o);
    if (r < 0)
        return -1;
    printf("%s\n", cli_json_str(resp, "Name") ? cli_json_str(resp, "Name") : pos[0]);
    json_decref(resp);
    return 0;
}

int cli_cmd_volume_ls(struct cli_ctx *ctx, int argc, char **argv, ctr_error_t *err)
{
    static const struct cli_option opts[] = {
        CLI_OPT_BOOL('q', "quiet", O_QUIET, "print only the names"),
        CLI_OPT_ARG(0, "format", "json|table", O_FORMAT, "output format"),
        CLI_OPT_ARG('f', "filter", "KEY=VALUE", O_FILTER,
                    "name, label=KEY[=VALUE], dangling, driver"),
        CLI_OPT_END,
    };
    struct vol_opts o = {0};
    cleanup_strv char **pos = NULL;
    int r = parse(ctx, opts, argc, argv, &o, &pos, err);
    json_t *resp = NULL, *v;
    size_t i;

    if (r != 0 || cli_check_args(ctx->name, pos, 0, 0, "no arguments", err) < 0) {
        vol_opts_release(&o);
        return r == 1 ? 0 : -1;
    }
    cleanup_free char *q = cli_filters_query(o.filters);
    cleanup_free char *path = cli_path("/volumes%s", q);
    vol_opts_release(&o);
    if (cli_call(ctx, "GET", path, NULL, &resp, err) < 0)
        return -1;
    json_t *vols = json_object_get(resp, "Volumes");
    if (o.format == CLI_FORMAT_JSON) {
        char *s = json_dumps(vols ? vols : json_array(), JSON_INDENT(2));
        printf("%s\n", s);
        free(s);
    } else if (o.quiet) {
        json_array_foreach(vols, i, v) printf("%s\n", cli_json_str(v, "Name"));
    } else {
        static const char *const headers[] = {"DRIVER", "VOLUME NAME", NULL};
        struct cli_table *t = cli_table_new(headers);
        json_array_foreach(vols, i, v)
        {
            const char *cells[] = {cli_json_str(v, "Driver"), cli_json_str(v, "Name"), NULL};
            cli_table_add(t, cells);
        }
        cli_table_print(t, stdout);
        cli_table_free(t);
    }
    json_decref(resp);
    return 0;
}

int cli_cmd_volume_inspect(struct cli_ctx *ctx, int argc, char **argv, ctr_error_t *err)
{
    static const struct cli_option opts[] = {
        CLI_OPT_END,
    };
    struct vol_opts o = {0};
    cleanup_strv char **pos = NULL;
    int r = parse(ctx, opts, argc, argv, &o, &pos, err), rc = 0;

    if (r != 0 || cli_check_args(ctx->name, pos, 1, -1, "at least one volume", err) < 0)
        return r == 1 ? 0 : -1;
    json_t *out = cli_get_each(ctx, "volume inspect", "volumes", "", pos, &rc);
    char *s = json_dumps(out, JSON_INDENT(4));
    printf("%s\n", s);
    free(s);
    json_decref(out);
    return rc;
}

int cli_cmd_volume_rm(struct cli_ctx *ctx, int argc, char **argv, ctr_error_t *err)
{
    static const struct cli_option opts[] = {
        CLI_OPT_BOOL('f', "force", O_FORCE, "no error for a volume that does not exist"),
        CLI_OPT_END,
    };
    struct vol_opts o = {0};
    cleanup_strv char **pos = NULL;
    int r = parse(ctx, opts, argc, argv, &o, &pos, err);

    if (r != 0 || cli_check_args(ctx->name, pos, 1, -1, "at least one volume", err) < 0)
        return r == 1 ? 0 : -1;
    return cli_delete_each(ctx, "volume rm", "volumes", pos, o.force);
}

int cli_cmd_volume_prune(struct cli_ctx *ctx, int argc, char **argv, ctr_error_t *err)
{
    static const struct cli_option opts[] = {
        CLI_OPT_BOOL('f', "force", O_FORCE, "accepted for docker (never asks)"),
        CLI_OPT_ARG(0, "filter", "label=KEY[=VALUE]", O_FILTER, "only volumes with this label"),
        CLI_OPT_BOOL('a', "all", O_ALL, "remove all unused volumes, not just anonymous ones"),
        CLI_OPT_END,
    };
    struct vol_opts o = {0};
    cleanup_strv char **pos = NULL;
    int r = parse(ctx, opts, argc, argv, &o, &pos, err);
    json_t *resp = NULL, *v;
    size_t i;

    if (r != 0 || cli_check_args(ctx->name, pos, 0, 0, "no arguments", err) < 0) {
        vol_opts_release(&o);
        return r == 1 ? 0 : -1;
    }
    cleanup_free char *q = cli_filters_query(o.filters);
    cleanup_free char *path = cli_path("/volumes/prune%s", q);
    vol_opts_release(&o);
    if (cli_call(ctx, "POST", path, NULL, &resp, err) < 0)
        return -1;
    printf("Deleted Volumes:\n");
    json_array_foreach(json_object_get(resp, "VolumesDeleted"), i, v)
        printf("%s\n", json_string_value(v));
    cleanup_free char *h =
        cli_human_size((double)json_integer_value(json_object_get(resp, "SpaceReclaimed")));
    printf("\nTotal reclaimed space: %s\n", h);
    json_decref(resp);
    return 0;
}
