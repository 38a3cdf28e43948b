/* GET /containers/{id}/stats: Docker's stats shape, measured on the host.
 * The guest agent has no stats request, so the figures are those of the
 * container's QEMU process (docs/api.md says which field means what): CPU
 * time of all its threads (vCPUs included), its resident memory against the
 * VM's memory size, its block I/O. Processes inside the guest are not
 * counted (pids_stats is empty); there is no network yet (networks {}). */
#include "daemon/api/api.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct sample {
    int64_t read_ns;             /* wall clock; 0 = no sample */
    uint64_t user_ns, kernel_ns; /* the QEMU process */
    uint64_t system_ns;          /* the host, all CPUs (/proc/stat) */
    uint64_t rss, io_read, io_write;
};

struct stats_stream {
    struct dmn *d;
    struct dmn_container *c;
    int client_fd;
    bool stream, one_shot, done;
    uint64_t limit; /* the VM's memory, bytes */
    struct sample prev;
};

static int64_t wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static uint64_t ticks_to_ns(unsigned long long t)
{
    long hz = sysconf(_SC_CLK_TCK);
    return (uint64_t)t * (1000000000ull / (uint64_t)(hz > 0 ? hz : 100));
}

static uint64_t host_cpu_ns(void)
{
    unsigned long long v[8] = {0}, sum = 0;
    cleanup_fclose FILE *f = fopen("/proc/stat", "re");
    if (f == NULL || fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2],
                            &v[3], &v[4], &v[5], &v[6], &v[7]) < 4)
        return 0;
    for (int i = 0; i < 8; i++)
        sum += v[i];
    return ticks_to_ns(sum);
}

/* "KEY: N" or "KEY N" lines of a /proc file; 0 when absent. */
static uint64_t proc_field(const char *path, const char *key)
{
    cleanup_fclose FILE *f = fopen(path, "re");
    char line[256];
    size_t klen = strlen(key);
    while (f && fgets(line, sizeof(line), f))
        if (strncmp(line, key, klen) == 0 && line[klen] == ':')
            return strtoull(line + klen + 1, NULL, 10);
    return 0;
}

/* One sample of the QEMU process; -1 when it is gone. */
static int take(int pid, struct sample *s)
{
    char path[64], buf[1024];
    unsigned long long ut = 0, st = 0;

    memset(s, 0, sizeof(*s));
    snprintf(path, sizeof(path), "/proc/%d/stat", pid);
    {
        cleanup_fclose FILE *f = fopen(path, "re");
        if (f == NULL || fgets(buf, sizeof(buf), f) == NULL)
            return -1;
    }
    /* fields after the command name: state(3) ... utime(14) stime(15) */
    const char *p = strrchr(buf, ')');
    if (p == NULL ||
        sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return -1;
    s->read_ns = wall_ns();
    s->user_ns = ticks_to_ns(ut);
    s->kernel_ns = ticks_to_ns(st);
    s->system_ns = host_cpu_ns();
    snprintf(path, sizeof(path), "/proc/%d/status", pid);
    s->rss = proc_field(path, "VmRSS") * 1024;
    snprintf(path, sizeof(path), "/proc/%d/io", pid);
    s->io_read = proc_field(path, "read_bytes");
    s->io_write = proc_field(path, "write_bytes");
    return 0;
}

static json_t *cpu_json(const struct sample *s)
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

static json_t *stats_json(const struct stats_stream *st, const struct sample *cur,
                          const struct sample *pre)
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

/* The QEMU pid of a running container, 0 when it is not running. */
static int qemu_pid(struct stats_stream *st)
{
    struct bundle_state bs = {0};
    ctr_error_t err = NULL;
    pthread_mutex_lock(&st->d->lock);
    bool running = st->c->status == DMN_RUNNING;
    pthread_mutex_unlock(&st->d->lock);
    if (!running)
        return 0;
    if (bundle_state_load(st->c->bundle, &bs, &err) < 0) {
        ctr_error_free(&err);
        return 0;
    }
    int pid = bs.vmm_pid;
    bundle_state_release(&bs);
    return pid;
}

/* Sleep about a second; false when the client left or the daemon stops. */
static bool pause_1s(struct stats_stream *st)
{
    for (int i = 0; i < 10; i++) {
        if (ctr_fd_peer_gone(st->client_fd) || atomic_load(&st->d->stopping))
            return false;
        struct timespec ts = {0, 100000000};
        nanosleep(&ts, NULL);
    }
    return true;
}

static ssize_t stats_fill(void *ctx, char *buf, size_t max)
{
    struct stats_stream *st = ctx;
    struct sample cur = {0};

    if (st->done)
        return 0;
    int pid = qemu_pid(st);
    if (pid > 0 && st->prev.read_ns == 0 && !st->one_shot) {
        /* Docker's first sample comes with a previous one a second before it,
         * so the CPU percentage can be computed from a single answer. */
        if (take(pid, &st->prev) < 0)
            memset(&st->prev, 0, sizeof(st->prev));
        else if (!pause_1s(st))
            return -1;
    } else if (pid > 0 && st->stream && st->prev.read_ns && !pause_1s(st)) {
        return -1;
    }
    if (pid > 0 && (pid = qemu_pid(st)) > 0 && take(pid, &cur) < 0)
        memset(&cur, 0, sizeof(cur));
    if (!st->stream || cur.read_ns == 0)
        st->done = true; /* a stopped container gets one empty sample, as from docker */
    json_t *j = stats_json(st, &cur, cur.read_ns ? &st->prev : &cur);
    st->prev = cur;
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
    struct stats_stream *st = ctx;
    dmn_container_put(st->d, st->c);
    free(st);
}

int api_handle_stats(struct api_req *r)
{
    ctr_error_t err = NULL;
    struct bundle_config bc = {0};
    const char *stream = api_query(r, "stream");
    struct dmn_container *c = dmn_container_get(r->d, r->params[0], &err);

    if (c == NULL)
        return api_reply_ctr_error(r, &err);
    struct stats_stream *st = ctr_xcalloc(1, sizeof(*st));
    st->d = r->d;
    st->c = c;
    st->client_fd = api_req_fd(r);
    st->stream = stream == NULL || *stream == '\0' || api_query_bool(r, "stream");
    st->one_shot = api_query_bool(r, "one-shot");
    if (st->one_shot && st->stream) {
        stats_free(st);
        return api_reply_error(r, 400, "cannot have stream=true and one-shot=true");
    }
    if (bundle_config_load(c->bundle, &bc, &err) == 0)
        st->limit = bc.vm.memory_mib << 20;
    else
        ctr_error_free(&err);
    bundle_config_release(&bc);
    return api_reply_stream(r, 200, "application/json", stats_fill, st, stats_free);
}
