/* The container service: the table of containers, their metadata on disk
 * (DATA/containers/<id>/daemon.json next to the bundle), lookup by id, prefix
 * or name, removal, list and inspect. Create lives in create.c, the lifecycle
 * in lifecycle.c. */
#include "daemon/api/api.h"
#include "shimc/shimc.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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
    pthread_mutex_lock(&d->lock);
    struct dmn_container *c = dmn_container_find_locked(d, ref);
    size_t matches = 0;
    if (c == NULL && *ref && strspn(ref, "0123456789abcdef") == strlen(ref))
        for (size_t i = 0; i < d->n_ctrs; i++)
            if (strncmp(d->ctrs[i]->id, ref, strlen(ref)) == 0)
                matches++;
    pthread_mutex_unlock(&d->lock);
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
    pthread_mutex_lock(&d->lock);
    free_it = --c->refs == 0;
    pthread_mutex_unlock(&d->lock);
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
    dmn_netconf_save(c, j);
    char *s = json_dumps(j, JSON_INDENT(1));
    json_decref(j);
    int ret = ctr_write_file_atomic(path, s, strlen(s), 0600, err);
    free(s);
    return ret;
}

static int load_meta(const char *bundle, struct dmn_container *c, ctr_error_t *err)
{
    cleanup_free char *path = ctr_xasprintf("%s/daemon.json", bundle);
    cleanup_free char *text = NULL;
    size_t len;
    json_error_t je;
    const char *id = NULL, *name = NULL, *image = NULL, *image_id = NULL, *p = NULL, *sig = NULL,
               *status = NULL, *error = NULL;
    json_int_t created = 0, started = 0, finished = 0;
    json_t *config = NULL, *hc = NULL, *args = NULL;
    int tty = 0, open_stdin = 0, once = 0, ar = 0, st_to = -1, rc = 0, code = 0, pid = 0;

    if (ctr_read_file(path, 16u << 20, &text, &len, err) < 0)
        return -1;
    json_t *j = json_loadb(text, len, 0, &je);
    if (j == NULL)
        return dmn_fail(err, EINVAL, "`%s`: %s", path, je.text);
    if (json_unpack_ex(j, &je, 0,
                       "{s:s,s:s,s:I,s:s,s?s,s:o,s:o,s:s,s:o,s?b,s?b,s?b,s?b,s?s,s?i,s?i,"
                       "s?{s?s,s?i,s?s,s?I,s?I,s?i}}",
                       "Id", &id, "Name", &name, "Created", &created, "Image", &image, "ImageID",
                       &image_id, "Config", &config, "HostConfig", &hc, "Path", &p, "Args", &args,
                       "Tty", &tty, "OpenStdin", &open_stdin, "StdinOnce", &once, "AutoRemove", &ar,
                       "StopSignal", &sig, "StopTimeout", &st_to, "RestartCount", &rc, "State",
                       "Status", &status, "ExitCode", &code, "Error", &error, "StartedAt", &started,
                       "FinishedAt", &finished, "Pid", &pid) < 0 ||
        strlen(id) != 64) {
        json_decref(j);
        return dmn_fail(err, EINVAL, "`%s`: %s", path, je.text);
    }
    snprintf(c->id, sizeof(c->id), "%s", id);
    c->name = ctr_xstrdup(name);
    c->bundle = ctr_xstrdup(bundle);
    c->created_ns = created;
    c->image = ctr_xstrdup(image);
    c->image_id = image_id && *image_id ? ctr_xstrdup(image_id) : NULL;
    c->config = json_incref(config);
    c->host_config = json_incref(hc);
    c->path = ctr_xstrdup(p);
    c->args = dmn_json_strv(args);
    c->tty = tty;
    c->open_stdin = open_stdin;
    c->stdin_once = once;
    c->auto_remove = ar;
    c->stop_signal = sig && *sig ? ctr_xstrdup(sig) : NULL;
    c->stop_timeout = st_to;
    c->restart_count = rc;
    c->exit_code = code;
    c->error = error && *error ? ctr_xstrdup(error) : NULL;
    c->started_ns = started;
    c->finished_ns = finished;
    c->status = status && strcmp(status, "created") == 0 && started == 0 ? DMN_CREATED : DMN_EXITED;
    int ret = dmn_netconf_load(c, j, err);
    json_decref(j);
    return ret;
}

/* Rebuild one container's state from its bundle: the shim's state.json and
 * whether the shim still answers. */
static void recover_state(struct dmn *d, struct dmn_container *c)
{
    struct bundle_state st = {0};
    cleanup_free char *json = NULL;
    cleanup_error ctr_error_t err = NULL;
    cleanup_free char *state_path = ctr_xasprintf("%s/state.json", c->bundle);

    if (access(state_path, F_OK) < 0)
        return; /* never started (or its state was cleared): keep daemon.json's view */
    /* shimc_state marks a shim that died without its last word as stopped, 137. */
    if (shimc_state(c->bundle, &json, &err) < 0 || bundle_state_load(c->bundle, &st, &err) < 0) {
        log_warn("container %.12s: %s", c->id, err->msg);
        return;
    }
    if (st.status != BUNDLE_STOPPED && dmn_shim_answers(c->bundle)) {
        c->status = DMN_RUNNING;
        c->pid = st.shim_pid;
        if (st.started_ns)
            c->started_ns = st.started_ns;
        log_info("container %.12s: shim pid %d still runs; adopted", c->id, c->pid);
    } else if (st.status != BUNDLE_STOPPED) {
        /* alive by pid but deaf: report it exited */
        c->status = DMN_EXITED;
        c->exit_code = 137;
        free(c->error);
        c->error = ctr_xasprintf("the shim (pid %d) no longer answers", st.shim_pid);
        c->finished_ns = c->finished_ns > c->started_ns ? c->finished_ns : st.created_ns;
    } else {
        c->status = DMN_EXITED;
        c->exit_code = st.exit_code;
        if (st.started_ns)
            c->started_ns = st.started_ns;
        c->finished_ns = st.finished_ns;
        free(c->error);
        c->error = NULL;
        /* docker's Error is for runtime failures, not a normal exit */
        if (st.exit_reason && strncmp(st.exit_reason, "exited", 6) != 0)
            c->error = ctr_xstrdup(st.exit_reason);
    }
    bundle_state_release(&st);
}

/* A bundle whose daemon.json cannot be read: listed as a dead container (docker's
 * `dead`, State.Error saying why) that `rm` and prune remove, so its directory and
 * disks do not stay forever. What can still be read of the record (its name and
 * creation time) is kept. */
static struct dmn_container *broken_container(struct dmn *d, const char *id, const char *bundle,
                                              const char *why)
{
    struct dmn_container *c = dmn_container_new();
    cleanup_free char *path = ctr_xasprintf("%s/daemon.json", bundle);
    cleanup_free char *text = NULL;
    size_t len = 0;
    struct stat st;
    const char *name = NULL;
    json_int_t created = 0;
    json_t *j = NULL;

    if (ctr_read_file(path, 16u << 20, &text, &len, NULL) == 0)
        j = json_loadb(text, len, 0, NULL);
    if (json_is_object(j)) {
        name = json_string_value(json_object_get(j, "Name"));
        created = json_integer_value(json_object_get(j, "Created"));
    }
    snprintf(c->id, sizeof(c->id), "%s", id);
    pthread_mutex_lock(&d->lock);
    if (name && bundle_create_check_name(name, NULL) == 0 && !dmn_name_in_use_locked(d, name))
        c->name = ctr_xstrdup(name[0] == '/' ? name + 1 : name);
    else
        c->name = ctr_xasprintf("broken_%.12s", id); /* a name of its own, never a clash */
    pthread_mutex_unlock(&d->lock);
    json_decref(j);
    c->broken = true;
    c->bundle = ctr_xstrdup(bundle);
    c->created_ns = created > 0 ? (int64_t)created
                    : stat(bundle, &st) == 0
                        ? (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec
                        : 0;
    c->image = ctr_xstrdup("");
    c->config = json_object();
    c->host_config = json_object();
    c->path = ctr_xstrdup("");
    c->args = ctr_xcalloc(1, sizeof(char *));
    c->status = DMN_DEAD;
    c->exit_code = 0;
    c->error = ctr_xasprintf("corrupt record: %s", why);
    return c;
}

static int by_created(const void *a, const void *b)
{
    const struct dmn_container *x = *(struct dmn_container *const *)a;
    const struct dmn_container *y = *(struct dmn_container *const *)b;
    return x->created_ns < y->created_ns ? -1 : x->created_ns > y->created_ns;
}

int dmn_containers_load(struct dmn *d, ctr_error_t *err)
{
    DIR *dir = opendir(d->containers_dir);
    struct dirent *de;

    if (dir == NULL)
        return ctr_fail(err, errno, "open `%s`", d->containers_dir);
    while ((de = readdir(dir)) != NULL) {
        if (de->d_name[0] == '.' || strlen(de->d_name) != 64)
            continue;
        cleanup_free char *bundle = ctr_xasprintf("%s/%s", d->containers_dir, de->d_name);
        cleanup_error ctr_error_t e = NULL;
        struct dmn_container *c = dmn_container_new();
        if (load_meta(bundle, c, &e) < 0) {
            cleanup_free char *meta = ctr_xasprintf("%s/daemon.json", bundle);
            if (access(meta, F_OK) < 0) {
                /* a create that never finished: nothing refers to it */
                log_info("removing `%s`: its creation did not finish", bundle);
                ctr_error_t e2 = NULL;
                if (ctr_rm_rf(bundle, &e2) < 0)
                    ctr_error_free(&e2);
                dmn_container_free(c);
                continue;
            }
            dmn_container_free(c);
            if (strspn(de->d_name, "0123456789abcdef") != 64) {
                log_error("`%s` skipped: not a container id", bundle);
                continue;
            }
            log_error("container in `%s` has a corrupt record; listed as dead, remove it with "
                      "`container rm`: %s",
                      bundle, e->msg);
            c = broken_container(d, de->d_name, bundle, e->msg);
            pthread_mutex_lock(&d->lock);
            dmn_container_add_locked(d, c);
            c->refs--; /* the table holds it now */
            pthread_mutex_unlock(&d->lock);
            continue;
        }
        recover_state(d, c);
        pthread_mutex_lock(&d->lock);
        dmn_container_add_locked(d, c);
        c->refs--; /* the table holds it now */
        if (c->status == DMN_RUNNING)
            dmn_monitor_watch_locked(d, c);
        dmn_container_save_locked(d, c, NULL);
        if (c->status == DMN_EXITED)
            dmn_autoremove_locked(d, c); /* --rm whose exit the daemon missed */
        pthread_mutex_unlock(&d->lock);
    }
    closedir(dir);
    /* oldest first, as they were created (lists show newest first) */
    pthread_mutex_lock(&d->lock);
    if (d->n_ctrs > 1)
        qsort(d->ctrs, d->n_ctrs, sizeof(*d->ctrs), by_created);
    pthread_mutex_unlock(&d->lock);
    log_info("%zu containers loaded from `%s`", d->n_ctrs, d->containers_dir);
    return 0;
}

/* ---- removal ---- */

int dmn_container_remove(struct dmn *d, struct dmn_container *c, bool force, bool volumes,
                         ctr_error_t *err)
{
    int ret = -1;
    cleanup_strv char **anon = NULL;

    pthread_mutex_lock(&c->op_lock);
    pthread_mutex_lock(&d->lock);
    if (c->removed || c->status == DMN_REMOVING) {
        pthread_mutex_unlock(&d->lock);
        pthread_mutex_unlock(&c->op_lock);
        return 0;
    }
    bool running = c->status == DMN_RUNNING || c->status == DMN_STARTING;
    pthread_mutex_unlock(&d->lock);
    if (running) {
        if (!force) {
            dmn_fail(err, EBUSY,
                     "cannot remove container \"/%s\": container is running: stop the container "
                     "before removing or force remove",
                     c->name);
            goto out;
        }
        if (dmn_container_stop_locked_op(d, c, 0, err) < 0)
            goto out;
    }
    pthread_mutex_lock(&d->lock);
    c->status = DMN_REMOVING;
    pthread_cond_broadcast(&d->cond);
    pthread_mutex_unlock(&d->lock);
    if (volumes) {
        ctr_error_t e = NULL;
        if (dmn_anonymous_volumes(d, c->bundle, &anon, NULL, NULL, &e) < 0)
            ctr_error_free(&e); /* a bundle without config has none */
    }
    {
        ctr_error_t e = NULL;
        /* a shim that just failed a start may still be writing its last files */
        dmn_wait_shim_gone(c->bundle, 10000);
        if (shimc_delete(c->bundle, true, &e) < 0)
            ctr_error_free(&e);
    }
    if (ctr_rm_rf(c->bundle, err) < 0) {
        ctr_error_free(err);
        usleep(200 * 1000);
        dmn_wait_shim_gone(c->bundle, 5000);
    }
    if (access(c->bundle, F_OK) == 0 && ctr_rm_rf(c->bundle, err) < 0) {
        pthread_mutex_lock(&d->lock);
        c->status = DMN_DEAD;
        pthread_cond_broadcast(&d->cond);
        pthread_mutex_unlock(&d->lock);
        ctr_error_wrap(err, "remove container `%s`", c->name);
        goto out;
    }
    /* before the unlink wakes `wait condition=removed` (run --rm) */
    dmn_anonymous_volumes_remove(d, anon);
    dmn_netconf_release(d, c, NULL); /* its addresses go back to the networks' pools */
    pthread_mutex_lock(&d->lock);
    dmn_execs_drop_locked(d, c->id);
    dmn_event_container_locked(d, c, "destroy", NULL);
    dmn_container_unlink_locked(d, c);
    pthread_cond_broadcast(&d->cond);
    pthread_mutex_unlock(&d->lock);
    ret = 0;
out:
    pthread_mutex_unlock(&c->op_lock);
    return ret;
}

int api_handle_delete(struct api_req *r)
{
    ctr_error_t err = NULL;
    struct dmn_container *c = dmn_container_get(r->d, r->params[0], &err);
    if (c == NULL)
        return api_reply_ctr_error(r, &err);
    int ret =
        dmn_container_remove(r->d, c, api_query_bool(r, "force"), api_query_bool(r, "v"), &err);
    dmn_container_put(r->d, c);
    return ret < 0 ? api_reply_ctr_error(r, &err) : api_reply_empty(r, 204);
}

/* ---- list, inspect, prune, rename ---- */

struct list_match {
    struct dmn_container *c;
};

static bool match_id(const char *v, void *ctx)
{
    return strncmp(((struct dmn_container *)ctx)->id, v, strlen(v)) == 0;
}
static bool match_name(const char *v, void *ctx)
{
    /* docker: a regexp on the name; a substring covers the common uses */
    struct dmn_container *c = ctx;
    return strstr(c->name, v[0] == '/' ? v + 1 : v) != NULL;
}
static bool match_status(const char *v, void *ctx)
{
    return strcmp(dmn_status_name(((struct dmn_container *)ctx)->status), v) == 0;
}
static bool match_exited(const char *v, void *ctx)
{
    struct dmn_container *c = ctx;
    return c->status == DMN_EXITED && atoi(v) == c->exit_code;
}
static bool match_ancestor(const char *v, void *ctx)
{
    struct dmn_container *c = ctx;
    return strcmp(c->image, v) == 0 ||
           (c->image_id &&
            (strcmp(c->image_id, v) == 0 || strncmp(c->image_id + 7, v, strlen(v)) == 0));
}

int api_handle_list(struct api_req *r)
{
    static const char *const allowed[] = {"id",       "name",   "status", "label", "exited",
                                          "ancestor", "before", "since",  NULL};
    struct dmn_filters f = {0};
    ctr_error_t err = NULL;
    bool all = api_query_bool(r, "all");
    long limit = api_query(r, "limit") ? atol(api_query(r, "limit")) : -1;
    struct dmn *d = r->d;

    if (dmn_filters_parse(api_query(r, "filters"), &f, &err) < 0 ||
        dmn_filters_check(&f, allowed, &err) < 0) {
        dmn_filters_release(&f);
        return api_reply_ctr_error(r, &err);
    }
    json_t *out = json_array();
    pthread_mutex_lock(&d->lock);
    int64_t before = INT64_MAX, since = -1;
    json_t *a;
    if ((a = json_object_get(f.f, "before")) && json_array_size(a)) {
        struct dmn_container *b =
            dmn_container_find_locked(d, json_string_value(json_array_get(a, 0)));
        if (b) {
            before = b->created_ns;
            b->refs--;
        }
    }
    if ((a = json_object_get(f.f, "since")) && json_array_size(a)) {
        struct dmn_container *b =
            dmn_container_find_locked(d, json_string_value(json_array_get(a, 0)));
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
        if (!all && c->status != DMN_RUNNING && !dmn_filters_has(&f, "status") &&
            !dmn_filters_has(&f, "exited"))
            continue;
        if (!dmn_filters_any(&f, "id", match_id, c) ||
            !dmn_filters_any(&f, "name", match_name, c) ||
            !dmn_filters_any(&f, "status", match_status, c) ||
            !dmn_filters_any(&f, "exited", match_exited, c) ||
            !dmn_filters_any(&f, "ancestor", match_ancestor, c) ||
            !dmn_filters_labels(&f, json_object_get(c->config, "Labels")) ||
            c->created_ns >= before || c->created_ns <= since)
            continue;
        if (limit > 0 && (long)json_array_size(out) >= limit)
            break;
        json_array_append_new(out, dmn_container_summary_json(d, c));
    }
    pthread_mutex_unlock(&d->lock);
    dmn_filters_release(&f);
    return api_reply_json(r, 200, out);
}

int api_handle_inspect(struct api_req *r)
{
    ctr_error_t err = NULL;
    struct dmn_container *c = dmn_container_get(r->d, r->params[0], &err);
    if (c == NULL)
        return api_reply_ctr_error(r, &err);
    pthread_mutex_lock(&r->d->lock);
    json_t *j = dmn_container_inspect_json(r->d, c);
    pthread_mutex_unlock(&r->d->lock);
    dmn_container_put(r->d, c);
    return api_reply_json(r, 200, j);
}

static uint64_t disk_usage(const char *path)
{
    struct stat st;
    uint64_t sum = 0;
    if (lstat(path, &st) < 0)
        return 0;
    if (!S_ISDIR(st.st_mode))
        return (uint64_t)st.st_blocks * 512;
    DIR *dir = opendir(path);
    struct dirent *de;
    if (dir == NULL)
        return 0;
    while ((de = readdir(dir)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        cleanup_free char *p = ctr_xasprintf("%s/%s", path, de->d_name);
        sum += disk_usage(p);
    }
    closedir(dir);
    return sum;
}

uint64_t dmn_disk_usage(const char *path)
{
    return disk_usage(path);
}

int api_handle_prune(struct api_req *r)
{
    static const char *const allowed[] = {"label", "until", NULL};
    struct dmn_filters f = {0};
    ctr_error_t err = NULL;
    struct dmn *d = r->d;
    struct dmn_container **victims = NULL;
    size_t n = 0;
    json_int_t reclaimed = 0;
    int64_t until = INT64_MAX;

    if (dmn_filters_parse(api_query(r, "filters"), &f, &err) < 0 ||
        dmn_filters_check(&f, allowed, &err) < 0) {
        dmn_filters_release(&f);
        return api_reply_ctr_error(r, &err);
    }
    json_t *u = json_object_get(f.f, "until");
    if (u && json_array_size(u) &&
        dmn_time_parse(json_string_value(json_array_get(u, 0)), &until) < 0) {
        dmn_filters_release(&f);
        return api_reply_error(r, 400, "invalid filter `until`: expected a timestamp");
    }
    pthread_mutex_lock(&d->lock);
    victims = ctr_xcalloc(d->n_ctrs + 1, sizeof(*victims));
    for (size_t i = 0; i < d->n_ctrs; i++) {
        struct dmn_container *c = d->ctrs[i];
        if (c->creating ||
            (c->status != DMN_EXITED && c->status != DMN_CREATED && c->status != DMN_DEAD) ||
            !dmn_filters_labels(&f, json_object_get(c->config, "Labels")) || c->created_ns >= until)
            continue;
        c->refs++;
        victims[n++] = c;
    }
    pthread_mutex_unlock(&d->lock);
    dmn_filters_release(&f);
    json_t *deleted = json_array();
    for (size_t i = 0; i < n; i++) {
        uint64_t size = disk_usage(victims[i]->bundle);
        if (dmn_container_remove(d, victims[i], false, false, &err) == 0) {
            json_array_append_new(deleted, json_string(victims[i]->id));
            reclaimed += (json_int_t)size;
        } else {
            log_warn("prune: %s", err->msg);
            ctr_error_free(&err);
        }
        dmn_container_put(d, victims[i]);
    }
    free(victims);
    return api_reply_json(
        r, 200, json_pack("{s:o,s:I}", "ContainersDeleted", deleted, "SpaceReclaimed", reclaimed));
}

int api_handle_rename(struct api_req *r)
{
    ctr_error_t err = NULL;
    const char *name = api_query(r, "name");
    struct dmn *d = r->d;

    if (name == NULL || *name == '\0')
        return api_reply_error(r, 400, "the new name is missing: `name` query parameter");
    if (bundle_create_check_name(name, &err) < 0) {
        err->errnum = EINVAL;
        return api_reply_ctr_error(r, &err);
    }
    if (name[0] == '/')
        name++;
    struct dmn_container *c = dmn_container_get(d, r->params[0], &err);
    if (c == NULL)
        return api_reply_ctr_error(r, &err);
    pthread_mutex_lock(&d->lock);
    struct dmn_container *other = dmn_container_find_locked(d, name);
    if (other && other != c && name_is(other, name)) {
        other->refs--;
        pthread_mutex_unlock(&d->lock);
        dmn_container_put(d, c);
        return api_reply_error(r, 409,
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
    pthread_mutex_unlock(&d->lock);
    dmn_container_put(d, c);
    return api_reply_empty(r, 204);
}
