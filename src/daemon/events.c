/* Events: a ring of the last DMN_EVENTS_KEEP events (under d->lock), streamed by
 * GET /events as Docker's JSON messages. Emitters broadcast d->cond. */
#include "daemon/api/api.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static int64_t real_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void dmn_event_emit_locked(struct dmn *d, const char *type, const char *action, const char *id,
                           json_t *attrs)
{
    struct dmn_event *e = &d->events[d->event_seq % DMN_EVENTS_KEEP];
    free(e->type);
    free(e->action);
    free(e->id);
    json_decref(e->attrs);
    e->seq = d->event_seq++;
    e->time_ns = real_ns();
    e->type = ctr_xstrdup(type);
    e->action = ctr_xstrdup(action);
    e->id = ctr_xstrdup(id);
    e->attrs = attrs ? attrs : json_object();
    pthread_cond_broadcast(&d->cond);
}

void dmn_event_container_locked(struct dmn *d, struct dmn_container *c, const char *action,
                                json_t *extra)
{
    json_t *attrs = json_object();
    json_t *labels = json_object_get(c->config, "Labels");
    const char *k;
    json_t *v;
    json_object_foreach(labels, k, v) json_object_set(attrs, k, v);
    json_object_set_new(attrs, "image", json_string(c->image ? c->image : ""));
    json_object_set_new(attrs, "name", json_string(c->name));
    if (extra)
        json_object_update(attrs, extra);
    json_decref(extra);
    dmn_event_emit_locked(d, "container", action, c->id, attrs);
}

void dmn_events_release(struct dmn *d)
{
    for (size_t i = 0; i < DMN_EVENTS_KEEP; i++) {
        free(d->events[i].type);
        free(d->events[i].action);
        free(d->events[i].id);
        json_decref(d->events[i].attrs);
    }
}

struct evstream {
    struct dmn *d;
    struct dmn_filters f;
    uint64_t next;
    int64_t since, until;
    int client_fd;
    char *pending;
    size_t plen, ppos;
};

static bool eq_value(const char *v, void *ctx)
{
    return strcmp(v, (const char *)ctx) == 0;
}

static bool event_matches(struct evstream *s, struct dmn_event *e)
{
    const char *name = json_string_value(json_object_get(e->attrs, "name"));
    const char *image = json_string_value(json_object_get(e->attrs, "image"));
    const char *action = e->action;
    char base[64];
    /* "exec_start: sh" matches the filter "exec_start" */
    snprintf(base, sizeof(base), "%.*s", (int)strcspn(action, ":"), action);
    if (!dmn_filters_any(&s->f, "type", eq_value, e->type) ||
        !dmn_filters_any(&s->f, "event", eq_value, base))
        return false;
    if (dmn_filters_has(&s->f, "container") && strcmp(e->type, "container") == 0 &&
        !dmn_filters_any(&s->f, "container", eq_value, e->id) &&
        !(name && dmn_filters_any(&s->f, "container", eq_value, (void *)name)))
        return false;
    if (dmn_filters_has(&s->f, "container") && strcmp(e->type, "container") != 0)
        return false;
    if (dmn_filters_has(&s->f, "image") &&
        !(image && dmn_filters_any(&s->f, "image", eq_value, (void *)image)))
        return false;
    if (dmn_filters_has(&s->f, "network") &&
        (strcmp(e->type, "network") != 0 ||
         (!dmn_filters_any(&s->f, "network", eq_value, e->id) &&
          !(name && dmn_filters_any(&s->f, "network", eq_value, (void *)name)))))
        return false;
    return dmn_filters_labels(&s->f, e->attrs);
}

static char *event_json(struct dmn_event *e)
{
    const char *image = json_string_value(json_object_get(e->attrs, "image"));
    json_t *j = json_pack(
        "{s:s,s:s,s:s,s:s,s:{s:s,s:O},s:s,s:I,s:I}", "status", e->action, "id", e->id, "Type",
        e->type, "Action", e->action, "Actor", "ID", e->id, "Attributes", e->attrs, "scope",
        "local", "time", (json_int_t)(e->time_ns / 1000000000), "timeNano", (json_int_t)e->time_ns);
    if (image && strcmp(e->type, "container") == 0)
        json_object_set_new(j, "from", json_string(image));
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    char *line = ctr_xasprintf("%s\n", s);
    free(s);
    return line;
}

static ssize_t events_fill(void *ctx, char *buf, size_t max)
{
    struct evstream *s = ctx;
    struct dmn *d = s->d;

    while (s->pending == NULL) {
        pthread_mutex_lock(&d->lock);
        if (s->next + DMN_EVENTS_KEEP < d->event_seq)
            s->next = d->event_seq - DMN_EVENTS_KEEP; /* too slow: skip what fell off */
        while (s->next < d->event_seq && s->pending == NULL) {
            struct dmn_event *e = &d->events[s->next % DMN_EVENTS_KEEP];
            s->next++;
            if (s->until && e->time_ns > s->until) {
                pthread_mutex_unlock(&d->lock);
                return 0;
            }
            if (e->time_ns >= s->since && event_matches(s, e))
                s->pending = event_json(e);
        }
        if (s->pending) {
            pthread_mutex_unlock(&d->lock);
            break;
        }
        int64_t now = real_ns();
        if (s->until && now > s->until) {
            pthread_mutex_unlock(&d->lock);
            return 0;
        }
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1;
        pthread_cond_timedwait(&d->cond, &d->lock, &ts);
        pthread_mutex_unlock(&d->lock);
        if (ctr_fd_peer_gone(s->client_fd) || atomic_load(&d->stopping))
            return -1;
    }
    size_t left = strlen(s->pending) - s->ppos;
    size_t n = left < max ? left : max;
    memcpy(buf, s->pending + s->ppos, n);
    s->ppos += n;
    if (s->ppos == strlen(s->pending)) {
        free(s->pending);
        s->pending = NULL;
        s->ppos = 0;
    }
    return (ssize_t)n;
}

static void events_free(void *ctx)
{
    struct evstream *s = ctx;
    dmn_filters_release(&s->f);
    free(s->pending);
    free(s);
}

int api_handle_events(struct api_req *r)
{
    static const char *const allowed[] = {"type",  "container", "event", "label",
                                          "image", "network",   NULL};
    ctr_error_t err = NULL;
    struct evstream *s = ctr_xcalloc(1, sizeof(*s));
    s->d = r->d;
    s->client_fd = api_req_fd(r);
    const char *since = api_query(r, "since"), *until = api_query(r, "until");
    if (dmn_filters_parse(api_query(r, "filters"), &s->f, &err) < 0 ||
        dmn_filters_check(&s->f, allowed, &err) < 0) {
        events_free(s);
        return api_reply_ctr_error(r, &err);
    }
    if ((since && *since && dmn_time_parse(since, &s->since) < 0) ||
        (until && *until && dmn_time_parse(until, &s->until) < 0)) {
        events_free(s);
        return api_reply_error(r, 400, "invalid `since` or `until`: a unix timestamp expected");
    }
    pthread_mutex_lock(&r->d->lock);
    /* without since: only what happens from now on */
    s->next = since && *since
                  ? (r->d->event_seq > DMN_EVENTS_KEEP ? r->d->event_seq - DMN_EVENTS_KEEP : 0)
                  : r->d->event_seq;
    pthread_mutex_unlock(&r->d->lock);
    return api_reply_stream(r, 200, "application/json", events_fill, s, events_free);
}
