/* Events: a ring of the last DMN_EVENTS_KEEP events (under d->lock), read by a
 * cursor (api/events.c streams them as Docker's JSON messages). Emitters broadcast
 * d->cond. */
#include "daemon/daemon-internal.h"

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

uint64_t dmn_events_cursor(struct dmn *d, bool oldest)
{
    dmn_lock(d);
    uint64_t seq = oldest ? (d->event_seq > DMN_EVENTS_KEEP ? d->event_seq - DMN_EVENTS_KEEP : 0)
                          : d->event_seq;
    dmn_unlock(d);
    return seq;
}

int dmn_events_next(struct dmn *d, uint64_t *next, int64_t since, int64_t until, int client_fd,
                    bool (*take)(const struct dmn_event *e, void *ctx), void *ctx)
{
    for (;;) {
        dmn_lock(d);
        if (*next + DMN_EVENTS_KEEP < d->event_seq)
            *next = d->event_seq - DMN_EVENTS_KEEP; /* too slow: skip what fell off */
        while (*next < d->event_seq) {
            struct dmn_event *e = &d->events[*next % DMN_EVENTS_KEEP];
            (*next)++;
            if (until && e->time_ns > until) {
                dmn_unlock(d);
                return 0;
            }
            if (e->time_ns >= since && take(e, ctx)) {
                dmn_unlock(d);
                return 1;
            }
        }
        int64_t now = real_ns();
        if (until && now > until) {
            dmn_unlock(d);
            return 0;
        }
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1;
        pthread_cond_timedwait(&d->cond, &d->lock, &ts);
        dmn_unlock(d);
        if (ctr_fd_peer_gone(client_fd) || atomic_load(&d->stopping))
            return -1;
    }
}
