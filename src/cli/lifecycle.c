/* `container stop`, `kill`, `pause`, `unpause`, `restart`, `delete`/`rm`, `prune`, `wait`: each
 * names containers by name or unique id prefix (the daemon resolves them) and
 * prints the name it was given on success, as docker does. */
#include "cli/cli.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

int cli_check_signal(const char *s, ctr_error_t *err)
{
    long v;
    int sig;

    if (ctr_signal_parse(s, &sig) == 0)
        return 0;
    if (isdigit((unsigned char)*s)) /* its range in the message */
        return cli_parse_long("--signal", s, 1, 64, &v, err) < 0 ? -1 : 0;
    return ctr_fail(err, 0,
                    "invalid signal `%s`: use a name such as `TERM`, `SIGKILL` or a "
                    "number 1-64",
                    s);
}

enum { O_ALL = 1, O_FORCE, O_TIME, O_SIGNAL, O_VOLUMES };

static int lc_opt(void *opaque, int id, const char *v, ctr_error_t *err)
{
    struct cli_lifecycle_opts *o = opaque;
    switch (id) {
    case O_ALL:
        o->all = true;
        break;
    case O_FORCE:
        o->force = true;
        break;
    case O_VOLUMES:
        o->volumes = true;
        break;
    case O_TIME:
        return cli_parse_long("--time", v, 0, 24 * 3600, &o->timeout, err) < 0 ? -1 : 0;
    case O_SIGNAL:
        if (cli_check_signal(v, err) < 0)
            return -1;
        o->signal = v;
        break;
    }
    return 0;
}

static const struct cli_option stop_o[] = {
    CLI_OPT_BOOL('a', "all", O_ALL, "every running container"),
    CLI_OPT_ARG('t', "time", "SECONDS", O_TIME, "wait this long before killing (default 10)"),
    CLI_OPT_ARG(0, "timeout", "SECONDS", O_TIME, NULL),
    CLI_OPT_ARG('s', "signal", "SIGNAL", O_SIGNAL,
                "signal to send first (default: the image's, else TERM)"),
    CLI_OPT_END,
};
static const struct cli_option kill_o[] = {
    CLI_OPT_BOOL('a', "all", O_ALL, "every running container"),
    CLI_OPT_ARG('s', "signal", "SIGNAL", O_SIGNAL, "signal to send (default KILL)"),
    CLI_OPT_END,
};
static const struct cli_option pause_o[] = {
    CLI_OPT_BOOL('a', "all", O_ALL, "every running container"),
    CLI_OPT_END,
};
static const struct cli_option restart_o[] = {
    CLI_OPT_ARG('t', "time", "SECONDS", O_TIME, "wait this long before killing (default 10)"),
    CLI_OPT_ARG(0, "timeout", "SECONDS", O_TIME, NULL),
    CLI_OPT_END,
};
static const struct cli_option rm_o[] = {
    CLI_OPT_BOOL('a', "all", O_ALL, "every container"),
    CLI_OPT_BOOL('f', "force", O_FORCE, "also running ones (stopped first)"),
    CLI_OPT_BOOL('v', "volumes", O_VOLUMES, "also their anonymous volumes"),
    CLI_OPT_END,
};
static const struct cli_option none_o[] = {
    CLI_OPT_END,
};

static const struct cli_option *lc_options(const char *cmd)
{
    if (strcmp(cmd, "stop") == 0)
        return stop_o;
    if (strcmp(cmd, "kill") == 0)
        return kill_o;
    if (strcmp(cmd, "restart") == 0)
        return restart_o;
    if (strcmp(cmd, "pause") == 0)
        return pause_o;
    if (strcmp(cmd, "delete") == 0 || strcmp(cmd, "rm") == 0)
        return rm_o;
    return none_o;
}

int cli_lifecycle_parse(const char *cmd, int argc, char **argv, struct cli_lifecycle_opts *o,
                        ctr_error_t *err)
{
    int r;

    *o = (struct cli_lifecycle_opts){.timeout = -1};
    r = cli_parse_opts(cmd, lc_options(cmd), 0, argc, argv, lc_opt, o, &o->ids, err);
    if (r != 0)
        return r;
    if (strcmp(cmd, "prune") == 0)
        return cli_check_args(cmd, o->ids, 0, 0, "no arguments", err);
    if (o->all && o->ids[0])
        return ctr_fail(err, 0, "`container %s --all` takes no container names (got `%s`)", cmd,
                        o->ids[0]);
    if (!o->all && o->ids[0] == NULL)
        return ctr_fail(err, 0, "`container %s` needs at least one container (or `--all`)", cmd);
    return 0;
}

/* Ids of all containers (running only unless all). */
static int list_ids(const struct cli_ctx *ctx, bool all, char ***out, ctr_error_t *err)
{
    json_t *list = NULL, *c;
    cleanup_free char *path = cli_path("/containers/json?all=%d", all ? 1 : 0);
    size_t i;

    if (cli_call(ctx, "GET", path, NULL, &list, err) < 0)
        return -1;
    *out = ctr_xcalloc(1, sizeof(char *));
    json_array_foreach(list, i, c) if (cli_json_str(c, "Id"))
        ctr_strv_append(out, cli_json_str(c, "Id"));
    json_decref(list);
    return 0;
}

typedef int (*one_fn)(const struct cli_ctx *ctx, const struct cli_lifecycle_opts *o,
                      const char *eid, ctr_error_t *err);

static int for_each(struct cli_ctx *ctx, int argc, char **argv, bool all_means_all, one_fn fn,
                    ctr_error_t *err)
{
    struct cli_lifecycle_opts o;
    cleanup_strv char **ids = NULL;
    int r = cli_lifecycle_parse(ctx->name, argc, argv, &o, err), rc = 0;

    ids = o.ids;
    if (r != 0) {
        if (r == 1)
            cli_print_usage(ctx, lc_options(ctx->name), stdout);
        return r == 1 ? 0 : -1;
    }
    if (o.all) {
        ctr_strv_free(ids);
        ids = NULL;
        if (list_ids(ctx, all_means_all, &ids, err) < 0)
            return -1;
    }
    for (char **i = ids; *i; i++) {
        ctr_error_t e = NULL;
        cleanup_free char *eid = cli_esc(*i);
        if (fn(ctx, &o, eid, &e) < 0) {
            fprintf(stderr, "container: %s `%s`: %s\n", ctx->name, *i, e->msg);
            ctr_error_free(&e);
            rc = 1;
            continue;
        }
        printf("%s\n", *i);
    }
    return rc;
}

static int stop_one(const struct cli_ctx *ctx, const struct cli_lifecycle_opts *o, const char *eid,
                    ctr_error_t *err)
{
    cleanup_free char *q = ctr_xstrdup("");
    cleanup_free char *path = NULL;
    if (o->timeout >= 0) {
        free(q);
        q = ctr_xasprintf("t=%ld", o->timeout);
    }
    if (o->signal) {
        cleanup_free char *s = cli_esc(o->signal);
        char *n = ctr_xasprintf("%s%ssignal=%s", q, *q ? "&" : "", s);
        free(q);
        q = n;
    }
    path = cli_path("/containers/%s/stop%s%s", eid, *q ? "?" : "", q);
    return cli_call(ctx, "POST", path, NULL, NULL, err);
}

static int kill_one(const struct cli_ctx *ctx, const struct cli_lifecycle_opts *o, const char *eid,
                    ctr_error_t *err)
{
    cleanup_free char *s = cli_esc(o->signal ? o->signal : "KILL");
    cleanup_free char *path = cli_path("/containers/%s/kill?signal=%s", eid, s);
    return cli_call(ctx, "POST", path, NULL, NULL, err);
}

/* pause and unpause stop and continue the container VM's vCPUs */
static int pause_one(const struct cli_ctx *ctx, const struct cli_lifecycle_opts *o, const char *eid,
                     ctr_error_t *err)
{
    cleanup_free char *path = cli_path("/containers/%s/%s", eid, ctx->name);
    return cli_call(ctx, "POST", path, NULL, NULL, err);
}

static int restart_one(const struct cli_ctx *ctx, const struct cli_lifecycle_opts *o,
                       const char *eid, ctr_error_t *err)
{
    cleanup_free char *path = o->timeout >= 0
                                  ? cli_path("/containers/%s/restart?t=%ld", eid, o->timeout)
                                  : cli_path("/containers/%s/restart", eid);
    return cli_call(ctx, "POST", path, NULL, NULL, err);
}

static int delete_one(const struct cli_ctx *ctx, const struct cli_lifecycle_opts *o,
                      const char *eid, ctr_error_t *err)
{
    cleanup_free char *path =
        cli_path("/containers/%s?force=%d&v=%d", eid, o->force ? 1 : 0, o->volumes ? 1 : 0);
    return cli_call(ctx, "DELETE", path, NULL, NULL, err);
}

int cli_cmd_stop(struct cli_ctx *ctx, int argc, char **argv, ctr_error_t *err)
{
    return for_each(ctx, argc, argv, false, stop_one, err);
}

int cli_cmd_kill(struct cli_ctx *ctx, int argc, char **argv, ctr_error_t *err)
{
    return for_each(ctx, argc, argv, false, kill_one, err);
}

int cli_cmd_pause(struct cli_ctx *ctx, int argc, char **argv, ctr_error_t *err)
{
    return for_each(ctx, argc, argv, false, pause_one, err);
}

int cli_cmd_restart(struct cli_ctx *ctx, int argc, char **argv, ctr_error_t *err)
{
    return for_each(ctx, argc, argv, false, restart_one, err);
}

int cli_cmd_delete(struct cli_ctx *ctx, int argc, char **argv, ctr_error_t *err)
{
    return for_each(ctx, argc, argv, true, delete_one, err);
}

int cli_cmd_prune(struct cli_ctx *ctx, int argc, char **argv, ctr_error_t *err)
{
    struct cli_lifecycle_opts o;
    cleanup_strv char **ids = NULL;
    cleanup_free char *path = cli_path("/containers/prune");
    json_t *resp = NULL, *v;
    size_t i;
    int r = cli_lifecycle_parse("prune", argc, argv, &o, err);

    ids = o.ids;
    if (r != 0) {
        if (r == 1)
            cli_print_usage(ctx, none_o, stdout);
        return r == 1 ? 0 : -1;
    }
    if (cli_call(ctx, "POST", path, NULL, &resp, err) < 0)
        return -1;
    json_array_foreach(json_object_get(resp, "ContainersDeleted"), i, v) if (json_is_string(v))
        printf("%s\n", json_string_value(v));
    cleanup_free char *sz = cli_human_size((double)cli_json_int(resp, "SpaceReclaimed"));
    printf("Reclaimed %s\n", sz);
    json_decref(resp);
    return 0;
}

int cli_cmd_wait(struct cli_ctx *ctx, int argc, char **argv, ctr_error_t *err)
{
    struct cli_lifecycle_opts o;
    cleanup_strv char **ids = NULL;
    int r = cli_lifecycle_parse("wait", argc, argv, &o, err), rc = 0;

    ids = o.ids;
    if (r != 0) {
        if (r == 1)
            cli_print_usage(ctx, none_o, stdout);
        return r == 1 ? 0 : -1;
    }
    for (char **i = ids; *i; i++) {
        struct cli_waiter *w;
        ctr_error_t e = NULL;
        int code;
        if (cli_wait_begin(ctx, *i, "not-running", &w, &e) < 0 || cli_wait_end(w, &code, &e) < 0) {
            fprintf(stderr, "container: wait `%s`: %s\n", *i, e->msg);
            ctr_error_free(&e);
            rc = 1;
            continue;
        }
        printf("%d\n", code);
        fflush(stdout);
    }
    return rc;
}
