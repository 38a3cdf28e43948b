/* `container logs [-f] [-n N] [-t] [--boot] CONTAINER`: the container's output
 * (docker's logs route, demultiplexed unless the container has a tty) or the
 * guest console of its last boot (project route). */
#include "cli/cli.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { O_FOLLOW = 1, O_TAIL, O_BOOT, O_TIMESTAMPS };

static int logs_opt(void *opaque, int id, const char *v, ctr_error_t *err)
{
    struct cli_logs_opts *o = opaque;
    switch (id) {
    case O_FOLLOW:
        o->follow = true;
        break;
    case O_BOOT:
        o->boot = true;
        break;
    case O_TIMESTAMPS:
        o->timestamps = true;
        break;
    case O_TAIL:
        if (strcmp(v, "all") == 0) {
            o->tail = -1;
            return 0;
        }
        return cli_parse_long("-n", v, 0, 1L << 30, &o->tail, err) < 0 ? -1 : 0;
    }
    return 0;
}

static const struct cli_option logs_options[] = {
    CLI_OPT_BOOL('f', "follow", O_FOLLOW, "keep printing new output"),
    CLI_OPT_ARG('n', "tail", "N", O_TAIL, "only the last N lines"),
    CLI_OPT_BOOL(0, "boot", O_BOOT, "show the VM's boot log"),
    CLI_OPT_BOOL('t', "timestamps", O_TIMESTAMPS, "prefix each line with its time"),
    CLI_OPT_END,
};

int cli_logs_parse(int argc, char **argv, struct cli_logs_opts *o, ctr_error_t *err)
{
    int r;

    *o = (struct cli_logs_opts){.tail = -1};
    r = cli_parse_opts("logs", logs_options, 0, argc, argv, logs_opt, o, &o->pos, err);
    if (r != 0)
        return r;
    return cli_check_args("logs", o->pos, 1, 1, "exactly one container", err);
}

struct sink {
    bool tty;
    struct cli_demux d;
    ctr_error_t err;
};

static int write_out(void *opaque, int stream, const char *data, size_t len)
{
    return ctr_write_all(stream == 1 ? STDOUT_FILENO : STDERR_FILENO, data, len) < 0 ? -1 : 0;
}

static int logs_sink(void *opaque, const char *data, size_t len)
{
    struct sink *s = opaque;
    if (s->tty)
        return ctr_write_all(STDOUT_FILENO, data, len) < 0 ? -1 : 0;
    return cli_demux_feed(&s->d, data, len, write_out, NULL, &s->err);
}

/* The last n lines of text (all of it when n < 0). */
static const char *tail_lines(const char *s, size_t len, long n)
{
    const char *p = s + len;
    if (n < 0)
        return s;
    if (n == 0)
        return s + len;
    if (len && p[-1] == '\n')
        p--;
    while (p > s) {
        if (p[-1] == '\n' && --n == 0)
            return p;
        p--;
    }
    return s;
}

static int boot_log(const struct cli_ctx *ctx, const struct cli_logs_opts *o, ctr_error_t *err)
{
    cleanup_free char *eid = cli_esc(o->pos[0]);
    cleanup_free char *path = cli_path("/container/containers/%s/bootlog", eid);
    struct cli_request req = {.method = "GET", .path = path, .upload_fd = -1};
    struct cli_response resp = {0};
    const char *start;

    if (o->follow)
        return ctr_fail(err, 0, "`--follow` is not available with `--boot`");
    if (cli_request(ctx, &req, &resp, err) < 0)
        return -1;
    start = tail_lines(resp.body ? resp.body : "", resp.len, o->tail);
    ctr_write_all(STDOUT_FILENO, start, resp.len - (size_t)(start - (resp.body ? resp.body : "")));
    cli_response_release(&resp);
    return 0;
}

int cli_cmd_logs(struct cli_ctx *ctx, int argc, char **argv, ctr_error_t *err)
{
    struct cli_logs_opts o;
    cleanup_strv char **pos = NULL;
    cleanup_free char *eid = NULL, *path = NULL, *tail = NULL;
    json_t *info = NULL;
    struct sink s = {0};
    int r = cli_logs_parse(argc, argv, &o, err);

    pos = o.pos;
    if (r != 0) {
        if (r == 1)
            cli_print_usage(ctx, logs_options, stdout);
        return r == 1 ? 0 : -1;
    }
    if (o.boot)
        return boot_log(ctx, &o, err);
    eid = cli_esc(pos[0]);
    path = cli_path("/containers/%s/json", eid);
    if (cli_call(ctx, "GET", path, NULL, &info, err) < 0)
        return -1;
    s.tty = cli_json_bool(json_object_get(info, "Config"), "Tty");
    json_decref(info);
    cli_demux_init(&s.d);
    tail = o.tail < 0 ? ctr_xstrdup("all") : ctr_xasprintf("%ld", o.tail);
    free(path);
    path = cli_path("/containers/%s/logs?stdout=1&stderr=1&follow=%d&tail=%s&timestamps=%d", eid,
                    o.follow, tail, o.timestamps);
    struct cli_request req = {
        .method = "GET", .path = path, .upload_fd = -1, .sink = logs_sink, .sink_opaque = &s};
    if (cli_request(ctx, &req, NULL, err) < 0) {
        if (s.err) {
            ctr_error_free(err);
            *err = ctr_steal_ptr(s.err);
        }
        return -1;
    }
    if (!s.tty && cli_demux_finish(&s.d, err) < 0)
        return -1;
    return 0;
}
