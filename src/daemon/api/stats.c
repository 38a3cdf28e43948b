/* GET /containers/{id}/stats: Docker's stats shape over the samples of stats.c
 * (docs/api.md says which field means what): pids_stats is empty, networks {}. */
#include "daemon/api/api.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static json_t *cpu_json(const struct dmn_stats_sample *s)
{
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    if (s->read_ns == 0)
        return json_pack("{s:{s:i,s:i,s:i},s:{s:i,s:i,s:i}}", "cpu_usage", "total_usage", 0,
                         "usage_in_kernelmode", 0, "usage_in_usermode", 0, "throttling_data",
                         "periods", 0, "throttled_periods", 0, "throttled_time", 0);
    return json_pack("{s:{s:I,s:I,s:I},s:I,s:i,s:{s:i,s:i,s:i}}", "cpu_usage", "total_usage",
                     (json_int_t)(s->user_ns + s->kernel_ns), "usage_in_kernelmode",
                     (json_int_t)s->kernel_ns, "usage_in_usermode", (json_int_t)s->user_ns,
                     "system_cpu_usage", (json_int_t)s->system_ns, "online_cpus",
                     (int)(online > 0 ? online : 1), "throttling_data", "periods", 0,
                     "throttled_periods", 0, "throttled_time", 0);
}

static json_t *stats_json(const struct dmn_stats *st, const struct dmn_stats_sample *cur,
                          const struct dmn_stats_sample *pre)
{
    cleanup_free char *read = dmn_time_rfc3339(cur->read_ns);
    cleanup_free char *preread = dmn_time_rfc3339(pre->read_ns);
    cleanup_free char *name = ctr_xasprintf("/%s", st->c->name);
    json_t *mem = cur->read_ns ? json_pack("{s:I,s:I,s:{}}", "usage", (json_int_t)cur->rss, "limit",
                                           (json_int_t)st->limit, "stats")
                               : json_object();
    json_t *blk = json_array();
    if (cur->read_ns) {
        json_array_append_new(blk, json_pack("{s:i,s:i,s:s,s:I}", "major", 0, "minor", 0, "op",
                                             "read", "value", (json_int_t)cur->io_read));
        json_array_append_new(blk, json_pack("{s:i,s:i,s:s,s:I}", "major", 0, "minor", 0, "op",
                                             "write", "value", (json_int_t)cur->io_write));
    }
    return json_pack("{s:s,s:s,s:s,s:s,s:i,s:{},s:o,s:o,s:o,s:{s:o},s:{},s:{}}", "read", read,
                     "preread", preread, "id", st->c->id, "name", name, "num_procs", 0,
                     "pids_stats", "cpu_stats", cpu_json(cur), "precpu_stats", cpu_json(pre),
                     "memory_stats", mem, "blkio_stats", "io_service_bytes_recursive", blk,
                     "networks", "storage_stats");
}

struct stats_reply {
    struct dmn_stats *st;
    int client_fd;
};

static ssize_t stats_fill(void *ctx, char *buf, size_t max)
{
    struct stats_reply *sr = ctx;
    struct dmn_stats_sample cur, pre;
    int r = dmn_stats_next(sr->st, sr->client_fd, &cur, &pre);
    if (r <= 0)
        return r;
    json_t *j = stats_json(sr->st, &cur, &pre);
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    size_t n = s ? strlen(s) : 0;
    if (s == NULL || n + 1 >= max) {
        free(s);
        return -1;
    }
    memcpy(buf, s, n);
    buf[n++] = '\n';
    free(s);
    return (ssize_t)n;
}

static void stats_free(void *ctx)
{
    struct stats_reply *sr = ctx;
    dmn_stats_close(sr->st);
    free(sr);
}

int api_handle_stats(struct api_req *r)
{
    ctr_error_t err = NULL;
    const char *stream = api_query(r, "stream");
    struct dmn_container *c = dmn_container_get(r->d, r->params[0], &err);
    if (c == NULL)
        return api_reply_ctr_error(r, &err);
    bool want_stream = stream == NULL || *stream == '\0' || api_query_bool(r, "stream");
    bool one_shot = api_query_bool(r, "one-shot");
    if (one_shot && want_stream) {
        dmn_container_put(r->d, c);
        return api_reply_error(r, 400, "cannot have stream=true and one-shot=true");
    }
    struct stats_reply *sr = ctr_xcalloc(1, sizeof(*sr));
    sr->st = dmn_stats_open(r->d, c, want_stream, one_shot);
    sr->client_fd = api_req_fd(r);
    dmn_container_put(r->d, c);
    return api_reply_stream(r, 200, "application/json", stats_fill, sr, stats_free);
}
