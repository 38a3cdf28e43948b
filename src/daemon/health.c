/* Healthchecks as Docker runs them (moby daemon/health.go): while a container runs, a
 * thread of its own runs Config.Healthcheck's test as an exec through the shim every
 * interval, keeps the last five results and moves State.Health between starting,
 * healthy and unhealthy (a `health_status: X` event at each change). No daemon lock is
 * held while a probe runs. */
#include "daemon/daemon-internal.h"
#include "shimc/shimc.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NS_PER_S 1000000000LL
#define DEFAULT_INTERVAL (30 * NS_PER_S)
#define DEFAULT_TIMEOUT (30 * NS_PER_S)
#define DEFAULT_START_INTERVAL (5 * NS_PER_S)
#define DEFAULT_RETRIES 3

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

/* Go's time.Duration String() for the durations a healthcheck has ("1s", "1.5s",
 * "500ms", "1m30s"). */
static void go_duration(int64_t ns, char *buf, size_t len)
{
    if (ns < NS_PER_S) {
        if (ns % 1000000 == 0)
            snprintf(buf, len, "%lldms", (long long)(ns / 1000000));
        else if (ns % 1000 == 0)
            snprintf(buf, len, "%lldµs", (long long)(ns / 1000));
        else
            snprintf(buf, len, "%lldns", (long long)ns);
        return;
    }
    char sec[32];
    int64_t s = ns / NS_PER_S % 60, frac = ns % NS_PER_S;
    if (frac) {
        int n = snprintf(sec, sizeof(sec), "%lld.%09lld", (long long)s, (long long)frac);
        while (n > 0 && sec[n - 1] == '0')
            sec[--n] = '\0';
    } else {
        snprintf(sec, sizeof(sec), "%lld", (long long)s);
    }
    int64_t m = ns / NS_PER_S / 60, h = m / 60;
    if (h)
        snprintf(buf, len, "%lldh%lldm%ss", (long long)h, (long long)(m % 60), sec);
    else if (m)
        snprintf(buf, len, "%lldm%ss", (long long)m, sec);
    else
        snprintf(buf, len, "%ss", sec);
}

/* A probe as Config.Healthcheck gives it; args NULL: none (absent, empty, NONE). */
struct probe {
    char **args;
    char *user, *workdir; /* Config's, as moby's cmdProbe (NULL: the image's) */
    int64_t interval, timeout, start_period, start_interval;
    int retries;
};

static int64_t dur_or(json_t *hc, const char *k, int64_t def)
{
    json_int_t v = json_integer_value(json_object_get(hc, k));
    return v > 0 ? (int64_t)v : def;
}

static bool probe_of(json_t *config, struct probe *p)
{
    json_t *hc = json_object_get(config, "Healthcheck");
    json_t *test = json_object_get(hc, "Test");
    const char *kind = json_string_value(json_array_get(test, 0));
    *p = (struct probe){0};
    if (kind == NULL)
        return false;
    if (strcmp(kind, "CMD") == 0) {
        p->args = ctr_xcalloc(json_array_size(test), sizeof(char *));
        for (size_t i = 1; i < json_array_size(test); i++)
            p->args[i - 1] = ctr_xstrdup(json_string_value(json_array_get(test, i)) ?: "");
    } else if (strcmp(kind, "CMD-SHELL") == 0) {
        json_t *sh = json_object_get(config, "Shell");
        p->args = json_array_size(sh) ? dmn_json_strv(sh) : NULL;
        if (p->args == NULL) {
            p->args = ctr_xcalloc(3, sizeof(char *));
            p->args[0] = ctr_xstrdup("/bin/sh");
            p->args[1] = ctr_xstrdup("-c");
        }
        const char *cmd = json_string_value(json_array_get(test, 1));
        ctr_strv_append(&p->args, cmd ? cmd : "");
    } else {
        return false; /* NONE, or a type moby ignores too */
    }
    if (p->args[0] == NULL) {
        ctr_strv_free(p->args);
        p->args = NULL;
        return false;
    }
    const char *u = json_string_value(json_object_get(config, "User"));
    const char *w = json_string_value(json_object_get(config, "WorkingDir"));
    p->user = u && *u ? ctr_xstrdup(u) : NULL;
    p->workdir = w && *w ? ctr_xstrdup(w) : NULL;
    p->interval = dur_or(hc, "Interval", DEFAULT_INTERVAL);
    p->timeout = dur_or(hc, "Timeout", DEFAULT_TIMEOUT);
    p->start_period = dur_or(hc, "StartPeriod", 0);
    p->start_interval = dur_or(hc, "StartInterval", DEFAULT_START_INTERVAL);
    json_int_t r = json_integer_value(json_object_get(hc, "Retries"));
    p->retries = r > 0 ? (int)r : DEFAULT_RETRIES;
    return true;
}

static void probe_release(struct probe *p)
{
    ctr_strv_free(p->args);
    free(p->user);
    free(p->workdir);
}

/* Run the probe in the container (stdout and stderr together, Docker's limitedBuffer:
 * the first 4096 bytes, "..." when there was more); the result's exit code is -1 when it
 * could not run or ran past the timeout (killed). */
static void probe_run(const char *bundle, const struct probe *p, struct dmn_health_result *r)
{
    cleanup_error ctr_error_t err = NULL;
    struct shimc_collect c = {.args = p->args,
                              .user = p->user,
                              .cwd = p->workdir,
                              .max = DMN_HEALTH_OUTPUT_MAX,
                              .with_stderr = true,
                              .timeout_ms = p->timeout / 1000000 > 0 ? p->timeout / 1000000 : 1};

    r->start_ns = now_ns();
    int rc = shimc_exec_collect_run(bundle, &c, &err);
    r->end_ns = now_ns();
    if (rc < 0) {
        r->exit_code = -1;
        r->output = ctr_xstrdup(err->msg);
    } else if (c.timed_out) {
        char d[96];
        go_duration(p->timeout, d, sizeof(d));
        r->exit_code = -1;
        r->output = ctr_xasprintf("Health check exceeded timeout (%s)", d);
    } else if (c.status < 0) {
        r->exit_code = -1;
        r->output = ctr_xstrdup("the health check ended without an exit status");
    } else {
        r->exit_code = c.status;
        r->output = ctr_xasprintf("%.*s%s", (int)c.len, c.out, c.truncated ? "..." : "");
    }
    free(c.out);
}

/* moby's handleProbeResult (under d->lock). */
static void record_locked(struct dmn *d, struct dmn_container *c, const struct probe *p,
                          struct dmn_health_result *r)
{
    struct dmn_health *h = &c->health;
    enum dmn_health_status old = h->status;
    if (h->n_log == DMN_HEALTH_LOG_KEEP) {
        free(h->log[0].output);
        memmove(h->log, h->log + 1, (DMN_HEALTH_LOG_KEEP - 1) * sizeof(h->log[0]));
        h->n_log--;
    }
    h->log[h->n_log++] = *r;
    if (r->exit_code == 0) {
        h->failing_streak = 0;
        h->status = DMN_HEALTH_HEALTHY;
    } else if (h->status != DMN_HEALTH_STARTING || r->start_ns - c->started_ns >= p->start_period) {
        if (++h->failing_streak >= p->retries)
            h->status = DMN_HEALTH_UNHEALTHY;
    }
    if (h->status != old) {
        cleanup_free char *action =
            ctr_xasprintf("health_status: %s", dmn_health_status_name(h->status));
        dmn_event_container_locked(d, c, action, NULL);
    }
    dmn_container_save_locked(d, c, NULL); /* a restarted daemon goes on from here */
    pthread_cond_broadcast(&d->cond);
}

struct checker {
    struct dmn *d;
    struct dmn_container *c;
    uint64_t gen;
    struct probe p;
};

static bool current_locked(struct checker *k)
{
    return k->c->health.gen == k->gen && k->c->status == DMN_RUNNING && !k->c->removed &&
           !atomic_load(&k->d->stopping);
}

static void *checker_thread(void *arg)
{
    struct checker *k = arg;
    struct dmn *d = k->d;
    struct dmn_container *c = k->c;

    dmn_lock(d);
    while (current_locked(k)) {
        int64_t every = k->p.interval;
        if (c->health.status == DMN_HEALTH_STARTING && k->p.start_period > 0 &&
            now_ns() - c->started_ns < k->p.start_period)
            every = k->p.start_interval;
        int64_t due = now_ns() + every;
        while (current_locked(k) && now_ns() < due) {
            int64_t t = due - now_ns();
            if (t > NS_PER_S)
                t = NS_PER_S; /* the daemon's stop is seen within a second */
            int64_t at = now_ns() + t;
            struct timespec ts = {.tv_sec = at / NS_PER_S, .tv_nsec = at % NS_PER_S};
            pthread_cond_timedwait(&d->cond, &d->lock, &ts);
        }
        if (!current_locked(k))
            break;
        if (c->paused)
            continue; /* a paused container is not checked */
        dmn_unlock(d);
        struct dmn_health_result r = {0};
        probe_run(c->bundle, &k->p, &r);
        dmn_lock(d);
        if (!current_locked(k)) {
            free(r.output);
            break;
        }
        record_locked(d, c, &k->p, &r);
    }
    dmn_unlock(d);
    probe_release(&k->p);
    dmn_container_put(d, c);
    free(k);
    return NULL;
}

void dmn_health_start_locked(struct dmn *d, struct dmn_container *c)
{
    struct probe p;
    c->health.gen++; /* an earlier run's checker ends */
    if (!probe_of(c->config, &p))
        return;
    if (!c->health.restored || c->health.status == DMN_HEALTH_NONE) {
        c->health.status = DMN_HEALTH_STARTING; /* the Log of earlier runs stays, as moby's */
        c->health.failing_streak = 0;
    }
    c->health.restored = false; /* an adopted container goes on where it was */
    struct checker *k = ctr_xcalloc(1, sizeof(*k));
    *k = (struct checker){.d = d, .c = c, .gen = c->health.gen, .p = p};
    c->refs++;
    pthread_t t;
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&t, &a, checker_thread, k) != 0) {
        c->refs--;
        probe_release(&k->p);
        free(k);
        log_error("cannot start the healthcheck of container %.12s", c->id);
    }
    pthread_attr_destroy(&a);
}

void dmn_health_stop_locked(struct dmn *d, struct dmn_container *c)
{
    c->health.gen++;
    pthread_cond_broadcast(&d->cond);
}

/* The image config's Healthcheck (Docker's names), when the request gave no Test. */
void dmn_health_from_image(struct dmn *d, const struct imgstore_image *img, json_t *config)
{
    json_t *test = json_object_get(json_object_get(config, "Healthcheck"), "Test");
    if (json_array_size(test) > 0 || img->config_digest == NULL)
        return;
    cleanup_free char *raw = NULL;
    size_t len = 0;
    cleanup_error ctr_error_t err = NULL;
    dmn_img_lock(d);
    int rc = imgstore_blob_read(d->images, img->config_digest, 1u << 22, &raw, &len, &err);
    dmn_img_unlock(d);
    if (rc < 0)
        return;
    cleanup_json json_t *doc = json_loadb(raw, len, 0, NULL);
    json_t *hc = json_object_get(json_object_get(doc, "config"), "Healthcheck");
    if (!json_is_object(hc))
        return;
    json_t *mine = json_object_get(config, "Healthcheck");
    if (!json_is_object(mine)) {
        json_object_set_new(config, "Healthcheck", json_deep_copy(hc));
        return;
    }
    const char *k;
    json_t *v;
    json_object_foreach(hc, k, v)
    { /* moby's merge: what the request left empty or zero */
        json_t *m = json_object_get(mine, k);
        if (m == NULL || json_is_null(m) || (json_is_integer(m) && json_integer_value(m) == 0) ||
            (json_is_array(m) && json_array_size(m) == 0))
            json_object_set(mine, k, v);
    }
}
