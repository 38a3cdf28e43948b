/* GET /containers/{id}/logs: the query becomes the reader's options (logs.c); its bytes
 * are the streamed body. */
#include "daemon/api/api.h"

#include <stdlib.h>
#include <string.h>

static int parse_time_param(struct api_req *r, const char *key, int64_t *out)
{
    const char *s = api_query(r, key);
    *out = 0;
    if (s == NULL || *s == '\0' || strcmp(s, "0") == 0)
        return 0;
    return dmn_time_parse(s, out);
}

static ssize_t logs_fill(void *ctx, char *buf, size_t max)
{
    return dmn_logs_read(ctx, buf, max);
}

static void logs_free(void *ctx)
{
    dmn_logs_close(ctx);
}

int api_handle_logs(struct api_req *r)
{
    ctr_error_t err = NULL;
    struct dmn_logs_opts o = {.tail = -1};
    const char *ts = api_query(r, "tail");

    if (!api_query_bool(r, "stdout") && !api_query_bool(r, "stderr"))
        return api_reply_error(r, 400, "Bad parameters: you must choose at least one stream");
    if (ts && *ts && strcmp(ts, "all") != 0) {
        char *end;
        o.tail = strtol(ts, &end, 10);
        if (*end || o.tail < 0)
            return api_reply_error(r, 400, "invalid `tail` `%s`: a number of lines or `all`", ts);
    }
    struct dmn_container *c = dmn_container_get(r->d, r->params[0], &err);
    if (c == NULL)
        return api_reply_ctr_error(r, &err);
    const char *driver =
        json_string_value(json_object_get(json_object_get(c->host_config, "LogConfig"), "Type"));
    if (driver && strcmp(driver, "none") == 0) { /* moby's ErrReadLogsNotSupported */
        dmn_container_put(r->d, c);
        return api_reply_error(r, 501, "configured logging driver does not support reading");
    }
    if (parse_time_param(r, "since", &o.since) < 0 || parse_time_param(r, "until", &o.until) < 0) {
        dmn_container_put(r->d, c);
        return api_reply_error(r, 400,
                               "invalid `since` or `until`: a unix timestamp or RFC 3339 "
                               "time is expected");
    }
    o.client_fd = api_req_fd(r);
    o.follow = api_query_bool(r, "follow");
    o.timestamps = api_query_bool(r, "timestamps");
    o.out = api_query_bool(r, "stdout");
    o.err = api_query_bool(r, "stderr");
    bool tty = c->tty;
    struct dmn_logs *l = dmn_logs_open(r->d, c, r->params[0], &o, &err);
    dmn_container_put(r->d, c);
    if (l == NULL)
        return api_reply_ctr_error(r, &err);
    return api_reply_stream(r, 200,
                            tty ? "application/vnd.docker.raw-stream"
                                : "application/vnd.docker.multiplexed-stream",
                            logs_fill, l, logs_free);
}
