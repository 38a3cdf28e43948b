/* GET /events: Docker's filters and JSON messages over the events cursor (events.c). */
#include "daemon/api/api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct evstream {
    struct dmn *d;
    struct dmn_filters f;
    uint64_t next;
    int64_t since, until;
    int client_fd;
    char *pending;
    size_t ppos;
};

static bool eq_value(const char *v, void *ctx)
{
    return strcmp(v, (const char *)ctx) == 0;
}

static bool event_matches(struct evstream *s, const struct dmn_event *e)
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

static char *event_json(const struct dmn_event *e)
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

/* Under d->lock (dmn_events_next): the message of a matching event. */
static bool take_event(const struct dmn_event *e, void *ctx)
{
    struct evstream *s = ctx;
    if (!event_matches(s, e))
        return false;
    s->pending = event_json(e);
    return true;
}

static ssize_t events_fill(void *ctx, char *buf, size_t max)
{
    struct evstream *s = ctx;

    if (s->pending == NULL) {
        int r = dmn_events_next(s->d, &s->next, s->since, s->until, s->client_fd, take_event, s);
        if (r <= 0)
            return r;
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
    /* without since: only what happens from now on */
    s->next = dmn_events_cursor(r->d, since && *since);
    return api_reply_stream(r, 200, "application/json", events_fill, s, events_free);
}
