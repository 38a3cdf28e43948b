/* `container stats [--no-stream] [--format json|table] [CONTAINER...]`: one
 * sample per container from GET /containers/{id}/stats?stream=0, redrawn every
 * second unless --no-stream. CPU % follows docker (delta of the container's
 * CPU time over the delta of the system's, times the online CPUs). */
#include "cli/cli.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

enum { O_NO_STREAM = 1, O_FORMAT };

struct stats_opts {
    bool no_stream;
    enum cli_format format;
};

static int stats_opt(void *opaque, int id, const char *v, ctr_error_t *err)
{
    struct stats_opts *o = opaque;
    if (id == O_NO_STREAM)
        o->no_stream = true;
    else
        return cli_parse_format(v, &o->format, err);
    return 0;
}

static json_t *get(json_t *o, const char *a, const char *b)
{
    json_t *x = json_object_get(o, a);
    return b ? json_object_get(x, b) : x;
}

double cli_stats_cpu_percent(json_t *s, json_t *prev)
{
    json_t *cpu = json_object_get(s, "cpu_stats");
    json_t *pre = prev ? json_object_get(prev, "cpu_stats") : json_object_get(s, "precpu_stats");
    double total = (double)cli_json_int(get(cpu, "cpu_usage", NULL), "total_usage");
    double ptotal = (double)cli_json_int(get(pre, "cpu_usage", NULL), "total_usage");
    double sys = (double)cli_json_int(cpu, "system_cpu_usage");
    double psys = (double)cli_json_int(pre, "system_cpu_usage");
    double online = (double)cli_json_int(cpu, "online_cpus");

    if (online <= 0) {
        json_t *per = get(cpu, "cpu_usage", "percpu_usage");
        online = json_is_array(per) ? (double)json_array_size(per) : 1;
    }
    if (sys - psys <= 0 || total - ptotal <= 0)
        return 0.0;
    return (total - ptotal) / (sys - psys) * online * 100.0;
}

struct sample {
    char *id, *name;
    double cpu, mem, limit, mem_pct, rx, tx, blk_r, blk_w;
    int64_t pids;
};

static void fill(struct sample *x, json_t *s, json_t *prev)
{
    json_t *mem = json_object_get(s, "memory_stats"), *nets = json_object_get(s, "networks");
    json_t *blk = get(s, "blkio_stats", "io_service_bytes_recursive"), *v;
    const char *k;
    size_t i;
    double cache = (double)cli_json_int(json_object_get(mem, "stats"), "inactive_file");

    x->cpu = cli_stats_cpu_percent(s, prev);
    x->mem = (double)cli_json_int(mem, "usage");
    if (cache < x->mem)
        x->mem -= cache;
    x->limit = (double)cli_json_int(mem, "limit");
    x->mem_pct = x->limit > 0 ? x->mem / x->limit * 100.0 : 0;
    json_object_foreach(nets, k, v)
    {
        x->rx += (double)cli_json_int(v, "rx_bytes");
        x->tx += (double)cli_json_int(v, "tx_bytes");
    }
    json_array_foreach(blk, i, v)
    {
        const char *op = cli_json_str(v, "op");
        if (op && strcasecmp(op, "read") == 0)
            x->blk_r += (double)cli_json_int(v, "value");
        else if (op && strcasecmp(op, "write") == 0)
            x->blk_w += (double)cli_json_int(v, "value");
    }
    x->pids = cli_json_int(json_object_get(s, "pids_stats"), "current");
}

static void print_table(struct sample *xs, size_t n)
{
    static const char *const hdr[] = {"CONTAINER ID",      "NAME",  "CPU %",
                                      "MEM USAGE / LIMIT", "MEM %", "NET I/O",
                                      "BLOCK I/O",         "PIDS",  NULL};
    struct cli_table *t = cli_table_new(hdr);
    for (size_t i = 0; i < n; i++) {
        struct sample *x = &xs[i];
        cleanup_free char *id = cli_short_id(x->id);
        cleanup_free char *cpu = ctr_xasprintf("%.2f%%", x->cpu);
        cleanup_free char *mu = cli_human_bytes_binary(x->mem);
        cleanup_free char *ml = cli_human_bytes_binary(x->limit);
        cleanup_free char *mem = ctr_xasprintf("%s / %s", mu, ml);
        cleanup_free char *mp = ctr_xasprintf("%.2f%%", x->mem_pct);
        cleanup_free char *rx = cli_human_size(x->rx), *tx = cli_human_size(x->tx);
        cleanup_free char *net = ctr_xasprintf("%s / %s", rx, tx);
        cleanup_free char *br = cli_human_size(x->blk_r), *bw = cli_human_size(x->blk_w);
        cleanup_free char *bio = ctr_xasprintf("%s / %s", br, bw);
        cleanup_free char *pids = ctr_xasprintf("%lld", (long long)x->pids);
        const char *cells[] = {id, x->name, cpu, mem, mp, net, bio, pids};
        cli_table_add(t, cells);
    }
    cli_table_print(t, stdout);
    cli_table_free(t);
}

static json_t *samples_json(struct sample *xs, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(
            a, json_pack("{s:s,s:s,s:f,s:I,s:I,s:f,s:I,s:I,s:I,s:I,s:I}", "id", xs[i].id, "name",
                         xs[i].name, "cpuPercent", xs[i].cpu, "memoryUsage", (json_int_t)xs[i].mem,
                         "memoryLimit", (json_int_t)xs[i].limit, "memoryPercent", xs[i].mem_pct,
                         "networkRx", (json_int_t)xs[i].rx, "networkTx", (json_int_t)xs[i].tx,
                         "blockRead", (json_int_t)xs[i].blk_r, "blockWrite",
                         (json_int_t)xs[i].blk_w, "pids", (json_int_t)xs[i].pids));
    return a;
}

int cli_cmd_stats(struct cli_ctx *ctx, int argc, char **argv, ctr_error_t *err)
{
    static const struct cli_option opts[] = {
        CLI_OPT_BOOL(0, "no-stream", O_NO_STREAM, "print one sample and exit"),
        CLI_OPT_ARG(0, "format", "json|table", O_FORMAT, "output format"),
        CLI_OPT_END,
    };
    struct stats_opts o = {0};
    cleanup_strv char **pos = NULL;
    json_t **prev = NULL;
    struct sample *xs = NULL;
    size_t n;
    int ret = -1;
    int r = cli_parse_opts("stats", opts, 0, argc, argv, stats_opt, &o, &pos, err);

    if (r != 0) {
        if (r == 1)
            cli_print_usage(ctx, opts, stdout);
        return r == 1 ? 0 : -1;
    }
    if (pos[0] == NULL) { /* every running container */
        json_t *list = NULL, *c;
        cleanup_free char *path = cli_path("/containers/json");
        size_t i;
        if (cli_call(ctx, "GET", path, NULL, &list, err) < 0)
            return -1;
        json_array_foreach(list, i, c) if (cli_json_str(c, "Id"))
            ctr_strv_append(&pos, cli_json_str(c, "Id"));
        json_decref(list);
    }
    n = ctr_strv_len(pos);
    prev = ctr_xcalloc(n + 1, sizeof(json_t *));
    xs = ctr_xcalloc(n + 1, sizeof(*xs));
    for (;;) {
        for (size_t i = 0; i < n; i++) {
            cleanup_free char *eid = cli_esc(pos[i]);
            cleanup_free char *path = cli_path("/containers/%s/stats?stream=0", eid);
            json_t *s = NULL;
            if (cli_call(ctx, "GET", path, NULL, &s, err) < 0)
                goto out;
            free(xs[i].id);
            free(xs[i].name);
            memset(&xs[i], 0, sizeof(xs[i]));
            const char *nm = cli_json_str(s, "name");
            xs[i].id = ctr_xstrdup(cli_json_str(s, "id") ? cli_json_str(s, "id") : pos[i]);
            xs[i].name = ctr_xstrdup(nm ? (nm[0] == '/' ? nm + 1 : nm) : pos[i]);
            /* The daemon's precpu_stats when it sent one, else our previous sample. */
            bool has_pre = cli_json_int(get(s, "precpu_stats", "cpu_usage"), "total_usage") > 0;
            fill(&xs[i], s, has_pre ? NULL : prev[i]);
            json_decref(prev[i]);
            prev[i] = s;
        }
        if (!o.no_stream && o.format == CLI_FORMAT_TABLE)
            printf("\033[2J\033[H");
        if (o.format == CLI_FORMAT_JSON) {
            json_t *a = samples_json(xs, n);
            cli_print_json(a, stdout);
            json_decref(a);
        } else {
            print_table(xs, n);
        }
        fflush(stdout);
        if (o.no_stream)
            break;
        sleep(1);
    }
    ret = 0;
out:
    for (size_t i = 0; i < n; i++) {
        json_decref(prev[i]);
        free(xs[i].id);
        free(xs[i].name);
    }
    free(prev);
    free(xs);
    return ret;
}
