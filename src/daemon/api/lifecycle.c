/* The lifecycle routes: start, stop, kill, pause, unpause, restart, wait, resize, the
 * boot log. Each parses its query and calls one lifecycle service (lifecycle.c, pause.c). */
#include "daemon/api/api.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int api_handle_start(struct api_req *r)
{
    ctr_error_t err = NULL;
    struct dmn_container *c = dmn_container_get(r->d, r->params[0], &err);
    if (c == NULL)
        return api_reply_ctr_error(r, &err);
    int ret = dmn_container_start(r->d, c, &err);
    dmn_container_put(r->d, c);
    if (ret < 0)
        return api_reply_ctr_error(r, &err);
    return api_reply_empty(r, ret == 1 ? 304 : 204);
}

static int query_timeout(struct api_req *r, int *t)
{
    const char *s = api_query(r, "t");
    char *end;
    *t = -1;
    if (s == NULL || *s == '\0')
        return 0;
    long v = strtol(s, &end, 10);
    if (*end || v < -1 || v > 86400)
        return -1;
    *t = (int)v;
    return 0;
}

int api_handle_stop(struct api_req *r)
{
    ctr_error_t err = NULL;
    int t;
    if (query_timeout(r, &t) < 0)
        return api_reply_error(r, 400, "invalid `t` `%s`: seconds expected", api_query(r, "t"));
    struct dmn_container *c = dmn_container_get(r->d, r->params[0], &err);
    if (c == NULL)
        return api_reply_ctr_error(r, &err);
    const char *sig = api_query(r, "signal");
    int signo;
    if (sig && *sig && dmn_parse_signal(sig, &signo) < 0) {
        dmn_container_put(r->d, c);
        return api_reply_error(r, 400, "invalid signal `%s`", sig);
    }
    int ret = dmn_container_stop(r->d, c, t, &err);
    dmn_container_put(r->d, c);
    if (ret < 0)
        return api_reply_ctr_error(r, &err);
    return api_reply_empty(r, ret == 1 ? 304 : 204);
}

int api_handle_kill(struct api_req *r)
{
    ctr_error_t err = NULL;
    int sig = SIGKILL;
    const char *s = api_query(r, "signal");
    if (s && *s && dmn_parse_signal(s, &sig) < 0)
        return api_reply_error(r, 400, "invalid signal: %s", s);
    if (dmn_container_kill(r->d, r->params[0], sig, &err) < 0)
        return api_reply_ctr_error(r, &err);
    return api_reply_empty(r, 204);
}

int api_handle_pause(struct api_req *r)
{
    ctr_error_t err = NULL;
    if (dmn_container_pause(r->d, r->params[0], &err) < 0)
        return api_reply_ctr_error(r, &err);
    return api_reply_empty(r, 204);
}

int api_handle_unpause(struct api_req *r)
{
    ctr_error_t err = NULL;
    if (dmn_container_unpause(r->d, r->params[0], &err) < 0)
        return api_reply_ctr_error(r, &err);
    return api_reply_empty(r, 204);
}

int api_handle_restart(struct api_req *r)
{
    ctr_error_t err = NULL;
    int t;
    if (query_timeout(r, &t) < 0)
        return api_reply_error(r, 400, "invalid `t` `%s`: seconds expected", api_query(r, "t"));
    if (dmn_container_restart(r->d, r->params[0], t, &err) < 0)
        return api_reply_ctr_error(r, &err);
    return api_reply_empty(r, 204);
}

/* ---- wait: the status line at once, the body when the condition holds ---- */

struct wait_reply {
    struct dmn_waiter *w;
    int client_fd;
    bool done;
};

static ssize_t wait_fill(void *ctx, char *buf, size_t max)
{
    struct wait_reply *wr = ctx;
    int code;
    if (wr->done)
        return 0;
    if (dmn_waiter_wait(wr->w, wr->client_fd, &code) < 0)
        return -1;
    wr->done = true;
    int n = snprintf(buf, max, "{\"StatusCode\":%d,\"Error\":null}\n", code);
    return n < 0 || (size_t)n >= max ? -1 : n;
}

static void wait_free(void *ctx)
{
    struct wait_reply *wr = ctx;
    dmn_waiter_free(wr->w);
    free(wr);
}

int api_handle_wait(struct api_req *r)
{
    ctr_error_t err = NULL;
    const char *cond = api_query(r, "condition");
    enum dmn_wait_cond wc = DMN_WAIT_NOT_RUNNING;
    if (cond && *cond) {
        if (strcmp(cond, "next-exit") == 0)
            wc = DMN_WAIT_NEXT_EXIT;
        else if (strcmp(cond, "removed") == 0)
            wc = DMN_WAIT_REMOVED;
        else if (strcmp(cond, "not-running") != 0)
            return api_reply_error(r, 400,
                                   "invalid condition `%s`: use `not-running`, "
                                   "`next-exit` or `removed`",
                                   cond);
    }
    struct dmn_waiter *w = dmn_waiter_new(r->d, r->params[0], wc, &err);
    if (w == NULL)
        return api_reply_ctr_error(r, &err);
    struct wait_reply *wr = ctr_xcalloc(1, sizeof(*wr));
    wr->w = w;
    wr->client_fd = api_req_fd(r);
    /* The status line and headers go out at once; the body when the condition holds. */
    return api_reply_stream(r, 200, "application/json", wait_fill, wr, wait_free);
}

/* ---- resize, boot log ---- */

int api_handle_resize(struct api_req *r)
{
    ctr_error_t err = NULL;
    const char *h = api_query(r, "h"), *w = api_query(r, "w");
    long rows = h ? strtol(h, NULL, 10) : -1, cols = w ? strtol(w, NULL, 10) : -1;
    if (rows < 0 || rows > 65535 || cols < 0 || cols > 65535)
        return api_reply_error(r, 400, "invalid size: `h` and `w` must be 0-65535");
    if (dmn_container_resize(r->d, r->params[0], (uint16_t)rows, (uint16_t)cols, &err) < 0)
        return api_reply_ctr_error(r, &err);
    return api_reply_empty(r, 200);
}

int api_handle_bootlog(struct api_req *r)
{
    ctr_error_t err = NULL;
    int fd = dmn_container_bootlog_open(r->d, r->params[0], &err);
    if (fd < 0)
        return api_reply_ctr_error(r, &err);
    return api_reply_fd(r, 200, "text/plain; charset=utf-8", fd);
}

/* ---- update: only RestartPolicy (docker update --restart) ---- */

/* A field of UpdateConfig the client set: the docker CLI sends every Resources field,
 * zero when not given. */
static bool update_field_set(json_t *v)
{
    if (v == NULL || json_is_null(v) || json_is_false(v))
        return false;
    if (json_is_integer(v))
        return json_integer_value(v) != 0;
    if (json_is_string(v))
        return *json_string_value(v) != '\0';
    if (json_is_array(v))
        return json_array_size(v) > 0;
    if (json_is_object(v))
        return json_object_size(v) > 0;
    return true;
}

int api_handle_update(struct api_req *r)
{
    ctr_error_t err = NULL;
    cleanup_json json_t *body = api_body_json(r, &err);
    if (body == NULL)
        return api_reply_ctr_error(r, &err);
    if (!json_is_object(body))
        return api_reply_error(r, 400, "the update config must be a JSON object");
    static const char *const res_fields[] = {
        "Memory",   "MemoryReservation", "NanoCpus",  "CpuShares",
        "CpuQuota", "CpuPeriod",         "PidsLimit", NULL};
    int64_t *res_slots[8];
    struct dmn_update_res u = {0};
    res_slots[0] = &u.memory;
    res_slots[1] = &u.memory_reservation;
    res_slots[2] = &u.nano_cpus;
    res_slots[3] = &u.cpu_shares;
    res_slots[4] = &u.cpu_quota;
    res_slots[5] = &u.cpu_period;
    res_slots[6] = &u.pids_limit;
    bool any_res = false;
    const char *k;
    json_t *v;
    json_object_foreach(body, k, v)
    {
        if (strcmp(k, "RestartPolicy") == 0 || !update_field_set(v))
            continue;
        size_t i = 0;
        while (res_fields[i] && strcasecmp(res_fields[i], k) != 0)
            i++;
        if (res_fields[i] && !json_is_integer(v))
            return api_reply_error(r, 400, "`%s` must be an integer", res_fields[i]);
        if (res_fields[i]) {
            *res_slots[i] = json_integer_value(v);
            any_res = true;
            continue;
        }
        /* MemorySwap -1 or the same as Memory says nothing a VM has (no swap) */
        if (strcasecmp(k, "MemorySwap") == 0 && json_is_integer(v))
            continue;
        return api_reply_error(r, 400,
                               "Cannot update container %s: updating `%s` is not supported by "
                               "this daemon: `RestartPolicy`, `Memory`, `MemoryReservation`, "
                               "`NanoCpus`, `CpuShares`, `CpuQuota`, `CpuPeriod` and `PidsLimit` "
                               "can be updated",
                               r->params[0], k);
    }
    /* dockerd's checks and words (daemon/daemon_unix.go) */
    if (u.memory < 0 || u.memory_reservation < 0 || u.nano_cpus < 0 || u.cpu_shares < 0)
        return api_reply_error(r, 400, "resource values must not be negative");
    if (u.memory && u.memory < 6 * 1024 * 1024)
        return api_reply_error(r, 400, "Minimum memory limit allowed is 6MB");
    if (u.memory_reservation && u.memory_reservation < 6 * 1024 * 1024)
        return api_reply_error(r, 400, "Minimum memory reservation allowed is 6MB");
    if (u.cpu_period && (u.cpu_period < 1000 || u.cpu_period > 1000000))
        return api_reply_error(r, 400,
                               "CPU cfs period can not be less than 1ms (i.e. 1000) or larger "
                               "than 1 second (i.e. 1000000)");
    if (u.cpu_quota && u.cpu_quota < 1000 && u.cpu_quota != -1)
        return api_reply_error(r, 400, "CPU cfs quota can not be less than 1ms (i.e. 1000)");
    if (u.nano_cpus && (u.cpu_quota || u.cpu_period))
        return api_reply_error(r, 400,
                               "Conflicting options: Nano CPUs and CPU Period cannot both be set");
    json_t *rp = json_object_get(body, "RestartPolicy");
    json_t *name = json_object_get(rp, "Name"), *max = json_object_get(rp, "MaximumRetryCount");
    if ((rp && !json_is_null(rp) && !json_is_object(rp)) ||
        (name && !json_is_null(name) && !json_is_string(name)) ||
        (max && !json_is_null(max) && !json_is_integer(max)))
        return api_reply_error(r, 400,
                               "invalid `RestartPolicy`: {\"Name\": string, "
                               "\"MaximumRetryCount\": integer} expected");
    struct dmn_restart_policy p;
    const char *ns = json_string_value(name);
    if (dmn_restart_policy_parse(ns, json_integer_value(max), false, &p, &err) < 0)
        return api_reply_ctr_error(r, &err);
    /* everything checked before anything changes */
    if (any_res && dmn_container_update_resources(r->d, r->params[0], &u, &err) < 0)
        return api_reply_ctr_error(r, &err);
    if (ns && *ns) {
        if (dmn_container_update_restart(r->d, r->params[0], &p, &err) < 0)
            return api_reply_ctr_error(r, &err);
    } else { /* nothing to change (dockerd: an empty name keeps the policy) */
        struct dmn_container *c = dmn_container_get(r->d, r->params[0], &err);
        if (c == NULL)
            return api_reply_ctr_error(r, &err);
        dmn_container_put(r->d, c);
    }
    return api_reply_json(r, 200, json_pack("{s:[]}", "Warnings"));
}
