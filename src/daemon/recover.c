/* Recovery at start: every bundle of DATA/containers with its record (daemon.json)
 * back into the table, its state rebuilt from the shim's state.json; running shims are
 * watched again (monitor.c), unreadable records listed as dead, unfinished creates
 * removed. */
#include "daemon/daemon-internal.h"
#include "shimc/shimc.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* daemon.json's `Health` (containers.c writes it) */
static void health_load(struct dmn_health *h, json_t *j)
{
    const char *st = json_string_value(json_object_get(j, "Status"));
    static const enum dmn_health_status all[] = {DMN_HEALTH_STARTING, DMN_HEALTH_HEALTHY,
                                                 DMN_HEALTH_UNHEALTHY};
    if (st == NULL)
        return;
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        if (strcmp(st, dmn_health_status_name(all[i])) == 0)
            h->status = all[i];
    h->failing_streak = (int)json_integer_value(json_object_get(j, "FailingStreak"));
    json_t *e;
    size_t i;
    json_array_foreach(json_object_get(j, "Log"), i, e)
    {
        if (h->n_log == DMN_HEALTH_LOG_KEEP)
            break;
        const char *out = json_string_value(json_object_get(e, "Output"));
        h->log[h->n_log++] = (struct dmn_health_result){
            .start_ns = json_integer_value(json_object_get(e, "Start")),
            .end_ns = json_integer_value(json_object_get(e, "End")),
            .exit_code = (int)json_integer_value(json_object_get(e, "ExitCode")),
            .output = ctr_xstrdup(out ? out : "")};
    }
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
    /* the restart policy (records before it had none: `no`) */
    json_t *rp = json_object_get(j, "RestartPolicy");
    const char *rpn = json_string_value(json_object_get(rp, "Name"));
    json_t *rpm = json_object_get(rp, "MaximumRetryCount");
    cleanup_error ctr_error_t pe = NULL;
    if (rp &&
        (rpn == NULL || (rpm && !json_is_integer(rpm)) ||
         dmn_restart_policy_parse(rpn, json_integer_value(rpm), false, &c->restart, &pe) < 0)) {
        json_decref(j);
        return dmn_fail(err, EINVAL, "`%s`: `RestartPolicy`: %s", path,
                        pe ? pe->msg : "a Name and a MaximumRetryCount are expected");
    }
    c->manually_stopped = json_is_true(json_object_get(j, "ManuallyStopped"));
    health_load(&c->health, json_object_get(j, "Health"));
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
        c->paused = st.paused; /* the shim's word: its VM's vCPUs are stopped */
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
    dmn_lock(d);
    if (name && bundle_create_check_name(name, NULL) == 0 && !dmn_name_in_use_locked(d, name))
        c->name = ctr_xstrdup(name[0] == '/' ? name + 1 : name);
    else
        c->name = ctr_xasprintf("broken_%.12s", id); /* a name of its own, never a clash */
    dmn_unlock(d);
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
            dmn_lock(d);
            dmn_container_add_locked(d, c);
            c->refs--; /* the table holds it now */
            dmn_unlock(d);
            continue;
        }
        recover_state(d, c);
        dmn_lock(d);
        dmn_container_add_locked(d, c);
        c->refs--; /* the table holds it now */
        c->health.restored = c->status == DMN_RUNNING;
        if (c->status == DMN_RUNNING)
            dmn_monitor_watch_locked(d, c);
        dmn_container_save_locked(d, c, NULL);
        if (c->status == DMN_EXITED)
            dmn_autoremove_locked(d, c); /* --rm whose exit the daemon missed */
        dmn_unlock(d);
    }
    closedir(dir);
    /* oldest first, as they were created (lists show newest first) */
    dmn_lock(d);
    if (d->n_ctrs > 1)
        qsort(d->ctrs, d->n_ctrs, sizeof(*d->ctrs), by_created);
    dmn_unlock(d);
    log_info("%zu containers loaded from `%s`", d->n_ctrs, d->containers_dir);
    return 0;
}

/* Docker's restore: a container started before, not running, whose policy says so
 * (restartmanager's rules with its last exit) starts again, without a back-off and
 * without counting a restart. */
void dmn_containers_autostart(struct dmn *d)
{
    size_t n = 0;
    dmn_lock(d);
    for (size_t i = 0; i < d->n_ctrs; i++) {
        struct dmn_container *c = d->ctrs[i];
        if (c->broken || c->creating || c->removed || c->status != DMN_EXITED ||
            c->started_ns == 0 || c->restart_pending || c->restart.name == DMN_RESTART_NO)
            continue;
        if (!dmn_restart_wanted(&c->restart, c->restart_count, c->exit_code, c->manually_stopped))
            continue;
        log_info("container %.12s: restart policy `%s`: starting it again", c->id,
                 dmn_restart_policy_name(c->restart.name));
        dmn_restart_schedule_locked(d, c, 0);
        n++;
    }
    dmn_unlock(d);
    if (n)
        log_info("%zu containers restarted by their restart policy", n);
}
