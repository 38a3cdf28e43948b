/* The registry of containers: the table, references, lookup by id, prefix or name,
 * the record on disk (DATA/containers/<id>/daemon.json next to the bundle), list and
 * rename. Create is create.c, recovery at start recover.c, removal remove.c, the
 * lifecycle lifecycle.c. */
#include "daemon/daemon-internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void dmn_container_free(struct dmn_container *c)
{
    if (c == NULL)
        return;
    free(c->name);
    free(c->bundle);
    free(c->image);
    free(c->image_id);
    json_decref(c->config);
    json_decref(c->host_config);
    free(c->path);
    ctr_strv_free(c->args);
    free(c->stop_signal);
    free(c->error);
    dmn_endpoints_free(c->eps, c->n_eps);
    free(c->ports);
    ctr_strv_free(c->link_hosts);
    for (size_t i = 0; i < c->health.n_log; i++)
        free(c->health.log[i].output);
    if (c->pidfd >= 0)
        close(c->pidfd);
    pthread_mutex_destroy(&c->op_lock);
    free(c);
}

static bool name_is(const struct dmn_container *c, const char *ref)
{
    if (ref[0] == '/')
        ref++;
    return strcmp(c->name, ref) == 0;
}

struct dmn_container *dmn_container_find_locked(struct dmn *d, const char *ref)
{
    struct dmn_container *found = NULL;
    size_t rlen = strlen(ref);

    if (rlen == 0)
        return NULL;
    for (size_t i = 0; i < d->n_ctrs && !found; i++)
        if (!d->ctrs[i]->creating && strcmp(d->ctrs[i]->id, ref) == 0)
            found = d->ctrs[i];
    for (size_t i = 0; i < d->n_ctrs && !found; i++)
        if (!d->ctrs[i]->creating && name_is(d->ctrs[i], ref))
            found = d->ctrs[i];
    if (!found && strspn(ref, "0123456789abcdef") == rlen) {
        for (size_t i = 0; i < d->n_ctrs; i++) {
            if (d->ctrs[i]->creating || strncmp(d->ctrs[i]->id, ref, rlen) != 0)
                continue;
            if (found)
                return NULL; /* ambiguous: see dmn_container_get */
            found = d->ctrs[i];
        }
    }
    if (found)
        found->refs++;
    return found;
}

struct dmn_container *dmn_container_get(struct dmn *d, const char *ref, ctr_error_t *err)
{
    dmn_lock(d);
    struct dmn_container *c = dmn_container_find_locked(d, ref);
    size_t matches = 0;
    if (c == NULL && *ref && strspn(ref, "0123456789abcdef") == strlen(ref))
        for (size_t i = 0; i < d->n_ctrs; i++)
            if (strncmp(d->ctrs[i]->id, ref, strlen(ref)) == 0)
                matches++;
    dmn_unlock(d);
    if (c == NULL) {
        if (matches > 1)
            dmn_fail(err, EINVAL, "multiple IDs found with provided prefix: %s", ref);
        else
            dmn_fail(err, ENOENT, "No such container: %s", ref);
    }
    return c;
}

void dmn_container_put(struct dmn *d, struct dmn_container *c)
{
    bool free_it;
    if (c == NULL)
        return;
    dmn_lock(d);
    free_it = --c->refs == 0;
    dmn_unlock(d);
    if (free_it)
        dmn_container_free(c);
}

void dmn_container_add_locked(struct dmn *d, struct dmn_container *c)
{
    if (d->n_ctrs == d->cap_ctrs) {
        d->cap_ctrs = d->cap_ctrs ? d->cap_ctrs * 2 : 16;
        d->ctrs = ctr_xrealloc(d->ctrs, d->cap_ctrs * sizeof(*d->ctrs));
    }
    d->ctrs[d->n_ctrs++] = c;
    c->refs++;
}

/* Drop c from the table (its ref is returned through the caller's put). */
void dmn_container_unlink_locked(struct dmn *d, struct dmn_container *c)
{
    for (size_t i = 0; i < d->n_ctrs; i++) {
        if (d->ctrs[i] == c) {
            memmove(&d->ctrs[i], &d->ctrs[i + 1], (d->n_ctrs - i - 1) * sizeof(*d->ctrs));
            d->n_ctrs--;
            c->removed = true;
            c->refs--; /* the table's ref; the caller still holds one */
            return;
        }
    }
}

struct dmn_container *dmn_container_new(void)
{
    struct dmn_container *c = ctr_xcalloc(1, sizeof(*c));
    c->pidfd = -1;
    c->stop_timeout = -1;
    c->refs = 1; /* the caller's */
    pthread_mutex_init(&c->op_lock, NULL);
    return c;
}

/* ---- daemon.json ---- */

/* `Health`: status, failing streak and log (recover.c reads it back) */
static json_t *health_save(const struct dmn_health *h)
{
    if (h->status == DMN_HEALTH_NONE)
        return NULL;
    json_t *log = json_array();
    for (size_t i = 0; i < h->n_log; i++)
        json_array_append_new(
            log, json_pack("{s:I,s:I,s:i,s:s}", "Start", (json_int_t)h->log[i].start_ns, "End",
                           (json_int_t)h->log[i].end_ns, "ExitCode", h->log[i].exit_code, "Output",
                           h->log[i].output ? h->log[i].output : ""));
    return json_pack("{s:s,s:i,s:o}", "Status", dmn_health_status_name(h->status), "FailingStreak",
                     h->failing_streak, "Log", log);
}

int dmn_container_save_locked(struct dmn *d, struct dmn_container *c, ctr_error_t *err)
{
    if (c->broken)
        return 0; /* the unreadable record stays as found, for whoever looks into it */
    cleanup_free char *path = ctr_xasprintf("%s/daemon.json", c->bundle);
    json_t *j = json_pack(
        "{s:i,s:s,s:s,s:I,s:s,s:s,s:O,s:O,s:s,s:o,s:b,s:b,s:b,s:b,s:s,s:i,s:i,"
        "s:{s:s,s:i,s:s,s:I,s:I,s:i}}",
        "Version", 1, "Id", c->id, "Name", c->name, "Created", (json_int_t)c->created_ns, "Image",
        c->image, "ImageID", c->image_id ? c->image_id : "", "Config", c->config, "HostConfig",
        c->host_config, "Path", c->path, "Args", dmn_strv_json(c->args), "Tty", c->tty, "OpenStdin",
        c->open_stdin, "StdinOnce", c->stdin_once, "AutoRemove", c->auto_remove, "StopSignal",
        c->stop_signal ? c->stop_signal : "", "StopTimeout", c->stop_timeout, "RestartCount",
        c->restart_count, "State", "Status", dmn_status_name(c->status), "ExitCode", c->exit_code,
        "Error", c->error ? c->error : "", "StartedAt", (json_int_t)c->started_ns, "FinishedAt",
        (json_int_t)c->finished_ns, "Pid", c->pid);
    json_object_set_new(j, "RestartPolicy",
                        json_pack("{s:s,s:i}", "Name", dmn_restart_policy_name(c->restart.name),
                                  "MaximumRetryCount", c->restart.max_retries));
    json_object_set_new(j, "ManuallyStopped", json_boolean(c->manually_stopped));
    json_t *health = health_save(&c->health);
    if (health)
        json_object_set_new(j, "Health", health);
    dmn_netconf_save(c, j);
    char *s = json_dumps(j, JSON_INDENT(1));
    json_decref(j);
    int ret = ctr_write_file_atomic(path, s, strlen(s), 0600, err);
    free(s);
    return ret;
}

/* ---- list, rename ---- */

void dmn_containers_list(struct dmn *d, const struct dmn_list_query *q)
{
    int64_t before = INT64_MAX, since = -1;
    long n = 0;

    dmn_lock(d);
    if (q->before) {
        struct dmn_container *b = dmn_container_find_locked(d, q->before);
        if (b) {
            before = b->created_ns;
            b->refs--;
        }
    }
    if (q->since) {
        struct dmn_container *b = dmn_container_find_locked(d, q->since);
        if (b) {
            since = b->created_ns;
            b->refs--;
        }
    }
    /* newest first, as docker */
    for (size_t k = d->n_ctrs; k-- > 0;) {
        struct dmn_container *c = d->ctrs[k];
        if (c->creating)
            continue;
        if (!q->all && c->status != DMN_RUNNING && !c->restart_pending)
            continue; /* docker lists a restarting container as running */
        if ((q->match && !q->match(c, q->ctx)) || c->created_ns >= before || c->created_ns <= since)
            continue;
        if (q->limit > 0 && n >= q->limit)
            break;
        q->emit(d, c, q->ctx);
        n++;
    }
    dmn_unlock(d);
}

int dmn_container_rename(struct dmn *d, const char *ref, const char *name, ctr_error_t *err)
{
    if (bundle_create_check_name(name, err) < 0) {
        (*err)->errnum = EINVAL;
        return -1;
    }
    if (name[0] == '/')
        name++;
    struct dmn_container *c = dmn_container_get(d, ref, err);
    if (c == NULL)
        return -1;
    dmn_lock(d);
    struct dmn_container *other = dmn_container_find_locked(d, name);
    if (other && other != c && name_is(other, name)) {
        other->refs--;
        dmn_unlock(d);
        dmn_container_put(d, c);
        return dmn_fail(err, EEXIST,
                        "Conflict. The container name \"/%s\" is already in use by "
                        "container \"%s\". You have to remove (or rename) that container "
                        "to be able to reuse that name.",
                        name, other->id);
    }
    if (other)
        other->refs--;
    json_t *attrs = json_pack("{s:s}", "oldName", c->name);
    free(c->name);
    c->name = ctr_xstrdup(name);
    dmn_container_save_locked(d, c, NULL);
    dmn_event_container_locked(d, c, "rename", attrs);
    dmn_unlock(d);
    dmn_container_put(d, c);
    return 0;
}
