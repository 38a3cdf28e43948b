/* Stats of a container, measured on the host (api/stats.c gives them Docker's shape).
 * The guest agent has no stats request, so the figures are those of the
 * container's QEMU process (docs/api.md says which field means what): CPU
 * time of all its threads (vCPUs included), its resident memory against the
 * VM's memory size, its block I/O. Processes inside the guest are not
 * counted; there is no network yet. */
#include "daemon/daemon-internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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
static int take(int pid, struct dmn_stats_sample *s)
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

/* The QEMU pid of a running container, 0 when it is not running. */
static int qemu_pid(struct dmn_stats *st)
{
    struct bundle_state bs = {0};
    ctr_error_t err = NULL;
    dmn_lock(st->d);
    bool running = st->c->status == DMN_RUNNING;
    dmn_unlock(st->d);
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
static bool pause_1s(struct dmn_stats *st, int client_fd)
{
    for (int i = 0; i < 10; i++) {
        if (ctr_fd_peer_gone(client_fd) || atomic_load(&st->d->stopping))
            return false;
        struct timespec ts = {0, 100000000};
        nanosleep(&ts, NULL);
    }
    return true;
}

int dmn_stats_next(struct dmn_stats *st, int client_fd, struct dmn_stats_sample *cur,
                   struct dmn_stats_sample *pre)
{
    memset(cur, 0, sizeof(*cur));
    if (st->done)
        return 0;
    int pid = qemu_pid(st);
    if (pid > 0 && st->prev.read_ns == 0 && !st->one_shot) {
        /* Docker's first sample comes with a previous one a second before it,
         * so the CPU percentage can be computed from a single answer. */
        if (take(pid, &st->prev) < 0)
            memset(&st->prev, 0, sizeof(st->prev));
        else if (!pause_1s(st, client_fd))
            return -1;
    } else if (pid > 0 && st->stream && st->prev.read_ns && !pause_1s(st, client_fd)) {
        return -1;
    }
    if (pid > 0 && (pid = qemu_pid(st)) > 0 && take(pid, cur) < 0)
        memset(cur, 0, sizeof(*cur));
    if (!st->stream || cur->read_ns == 0)
        st->done = true; /* a stopped container gets one empty sample, as from docker */
    *pre = cur->read_ns ? st->prev : *cur;
    st->prev = *cur;
    return 1;
}

struct dmn_stats *dmn_stats_open(struct dmn *d, struct dmn_container *c, bool stream, bool one_shot)
{
    struct bundle_config bc = {0};
    ctr_error_t err = NULL;
    struct dmn_stats *st = ctr_xcalloc(1, sizeof(*st));
    st->d = d;
    st->c = c;
    st->stream = stream;
    st->one_shot = one_shot;
    if (bundle_config_load(c->bundle, &bc, &err) == 0)
        st->limit = bc.vm.memory_mib << 20;
    else
        ctr_error_free(&err);
    bundle_config_release(&bc);
    dmn_lock(d);
    c->refs++; /* put by dmn_stats_close */
    dmn_unlock(d);
    return st;
}

void dmn_stats_close(struct dmn_stats *st)
{
    if (st == NULL)
        return;
    dmn_container_put(st->d, st->c);
    free(st);
}
