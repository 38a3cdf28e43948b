/* Exec: POST /containers/{id}/exec records what to run; POST /exec/{id}/start
 * runs it through the shim (hijacked, or detached with a drain thread that keeps
 * its exit code); GET /exec/{id}/json; resize; and top (ps through an exec). */
#include "daemon/api/api.h"
#include "shimc/shimc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static void exec_free(struct dmn_exec *e)
{
    ctr_strv_free(e->cmd);
    ctr_strv_free(e->env);
    free(e->workdir);
    free(e->user);
    pthread_mutex_destroy(&e->wlock);
    free(e);
}

static void exec_put_locked(struct dmn_exec *e)
{
    if (--e->refs == 0)
        exec_free(e);
}

static void exec_unlink_locked(struct dmn *d, struct dmn_exec *e)
{
    for (struct dmn_exec **pp = &d->execs; *pp; pp = &(*pp)->next) {
        if (*pp == e) {
            *pp = e->next;
            e->dropped = true;
            exec_put_locked(e);
            return;
        }
    }
}

void dmn_execs_drop_locked(struct dmn *d, const char *container_id)
{
    for (struct dmn_exec *e = d->execs, *next; e; e = next) {
        next = e->next;
        if (strcmp(e->container_id, container_id) == 0)
            exec_unlink_locked(d, e);
    }
}

/* Keep at most DMN_MAX_EXECS_PER_CTR finished records per container. */
static void execs_trim_locked(struct dmn *d, const char *container_id)
{
    size_t n = 0;
    for (struct dmn_exec *e = d->execs, *next; e; e = next) {
        next = e->next;
        if (strcmp(e->container_id, container_id) != 0)
            continue;
        if (++n > DMN_MAX_EXECS_PER_CTR && !e->running && e->started)
            exec_unlink_locked(d, e);
    }
}

static struct dmn_exec *exec_find_locked(struct dmn *d, const char *id)
{
    for (struct dmn_exec *e = d->execs; e; e = e->next)
        if (strcmp(e->id, id) == 0)
            return e;
    return NULL;
}

int api_handle_exec_create(struct api_req *r)
{
    struct dmn *d = r->d;
    ctr_error_t err = NULL;
    json_t *body = api_body_json(r, &err);
    if (body == NULL)
        return api_reply_ctr_error(r, &err);
    if (dmn_exec_config_check(body, &err) < 0) { /* validate.c: types and limits */
        json_decref(body);
        return api_reply_ctr_error(r, &err);
    }
    json_t *cmd = json_object_get(body, "Cmd"), *env = json_object_get(body, "Env");
    json_t *cs = json_object_get(body, "ConsoleSize");
    size_t i;
    json_t *v;
    if (!json_is_array(cmd) || json_array_size(cmd) == 0) {
        json_decref(body);
        return api_reply_error(r, 400, "No exec command specified");
    }
    json_array_foreach(cmd, i, v) if (!json_is_string(v))
    {
        json_decref(body);
        return api_reply_error(r, 400, "`Cmd[%zu]` must be a string", i);
    }
    if (env && !json_is_null(env) && !json_is_array(env)) {
        json_decref(body);
        return api_reply_error(r, 400, "`Env` must be a list of NAME=VALUE strings");
    }
    if (json_is_true(json_object_get(body, "Privileged"))) {
        json_decref(body);
        return api_reply_error(r, 400, "`Privileged` exec is not supported by this daemon");
    }
    struct dmn_container *c = dmn_container_get(d, r->params[0], &err);
    if (c == NULL) {
        json_decref(body);
        return api_reply_ctr_error(r, &err);
    }
    struct dmn_exec *e = ctr_xcalloc(1, sizeof(*e));
    char id[BUNDLE_CREATE_ID_LEN + 1];
    if (bundle_create_new_id(id, &err) < 0) {
        free(e);
        json_decref(body);
        dmn_container_put(d, c);
        return api_reply_ctr_error(r, &err);
    }
    snprintf(e->id, sizeof(e->id), "%s", id);
    snprintf(e->container_id, sizeof(e->container_id), "%s", c->id);
    e->cmd = dmn_json_strv(cmd);
    e->env = json_is_array(env) ? dmn_json_strv(env) : ctr_xcalloc(1, sizeof(char *));
    const char *wd = json_string_value(json_object_get(body, "WorkingDir"));
    const char *user = json_string_value(json_object_get(body, "User"));
    e->workdir = wd && *wd ? ctr_xstrdup(wd) : NULL;
    e->user = user && *user ? ctr_xstrdup(user) : NULL;
    e->tty = json_is_true(json_object_get(body, "Tty"));
    e->attach_stdin = json_is_true(json_object_get(body, "AttachStdin"));
    e->attach_stdout = json_is_true(json_object_get(body, "AttachStdout"));
    e->attach_stderr = json_is_true(json_object_get(body, "AttachStderr"));
    if (json_is_array(cs) && json_array_size(cs) == 2) {
        e->rows = (uint16_t)json_integer_value(json_array_get(cs, 0));
        e->cols = (uint16_t)json_integer_value(json_array_get(cs, 1));
    }
    e->exit_code = -1;
    e->shim_fd = -1;
    e->refs = 1;
    pthread_mutex_init(&e->wlock, NULL);
    json_decref(body);
    if (e->workdir && e->workdir[0] != '/') {
        dmn_container_put(d, c);
        cleanup_free char *wd2 = ctr_steal_ptr(e->workdir);
        exec_free(e);
        return api_reply_error(r, 400,
                               "the working directory `%s` is invalid: it needs to be an "
                               "absolute path",
                               wd2);
    }
    pthread_mutex_lock(&d->lock);
    if (c->status != DMN_RUNNING) {
        pthread_mutex_unlock(&d->lock);
        dmn_container_put(d, c);
        exec_free(e);
        return api_reply_error(r, 409, "Container %s is not running", c->id);
    }
    e->next = d->execs;
    d->execs = e;
    cleanup_free char *joined = ctr_xstrdup("");
    for (i = 0; e->cmd[i]; i++) {
        char *n = ctr_xasprintf("%s%s%s", joined, i ? " " : "", e->cmd[i]);
        free(joined);
        joined = n;
    }
    cleanup_free char *action = ctr_xasprintf("exec_create: %s", joined);
    dmn_event_container_locked(d, c, action, json_pack("{s:s}", "execID", e->id));
    execs_trim_locked(d, c->id);
    pthread_mutex_unlock(&d->lock);
    dmn_container_put(d, c);
    return api_reply_json(r, 201, json_pack("{s:s}", "Id", id));
}

struct exec_run {
    struct dmn *d;
    struct dmn_exec *e;
    char bundle[4096];
    bool detach;
};

static void exec_finish(struct exec_run *x, int status)
{
    struct dmn *d = x->d;
    pthread_mutex_lock(&d->lock);
    x->e->running = false;
    x->e->exit_code = status < 0 ? 126 : status;
    x->e->shim_fd = -1;
    struct dmn_container *c = dmn_container_find_locked(d, x->e->container_id);
    if (c) {
        cleanup_free char *code = ctr_xasprintf("%d", x->e->exit_code);
        dmn_event_container_locked(d, c, "exec_die",
                                   json_pack("{s:s,s:s}", "execID", x->e->id, "exitCode", code));
        c->refs--;
    }
    pthread_cond_broadcast(&d->cond);
    pthread_mutex_unlock(&d->lock);
}

/* Run the exec against the shim, relaying to client_fd (-1: detached, drain). */
static void exec_session(struct exec_run *x, int client_fd, const char *pre, size_t pre_len)
{
    struct dmn_exec *e = x->e;
    struct shimp_request req = {.op = SHIMP_OP_EXEC,
                                .stdin_open = e->attach_stdin && client_fd >= 0};
    ctr_error_t err = NULL;

    req.exec.args = e->cmd;
    req.exec.env = e->env;
    req.exec.cwd = e->workdir;
    req.exec.user = e->user;
    req.exec.terminal = e->tty;
    req.exec.rows = e->rows;
    req.exec.cols = e->cols;
    int fd = shimc_request(x->bundle, &req, &err);
    if (fd < 0) {
        if (client_fd >= 0) {
            cleanup_free char *m = ctr_xasprintf("%s\n", err->msg);
            uint8_t hdr[8];
            dmn_mux_header(hdr, 2, (uint32_t)strlen(m));
            if (!e->tty && send(client_fd, hdr, 8, MSG_NOSIGNAL) < 0)
                log_debug("exec client gone");
            if (send(client_fd, m, strlen(m), MSG_NOSIGNAL) < 0)
                log_debug("exec client gone");
        }
        ctr_error_free(&err);
        exec_finish(x, 126);
        return;
    }
    pthread_mutex_lock(&x->d->lock);
    e->shim_fd = fd;
    pthread_mutex_unlock(&x->d->lock);
    struct dmn_relay rl = {.client_fd = client_fd,
                           .shim_fd = fd,
                           .bundle = x->bundle,
                           .tty = e->tty,
                           .stdin_open = req.stdin_open,
                           .want_stdout = e->attach_stdout && client_fd >= 0,
                           .want_stderr = e->attach_stderr && client_fd >= 0,
                           .wlock = &e->wlock};
    if (pre_len && rl.stdin_open) {
        shimc_send_stdin(fd, &e->wlock, pre, pre_len);
    }
    int status = dmn_relay_run(&rl);
    if (rl.error) {
        /* docker writes the failure into the stream; the code (126/127) is the exec's */
        status = rl.error_code ? rl.error_code : 126;
        if (client_fd >= 0) {
            cleanup_free char *m = ctr_xasprintf("OCI runtime exec failed: %s\r\n", rl.error);
            uint8_t hdr[8];
            if (!e->tty) {
                dmn_mux_header(hdr, 2, (uint32_t)strlen(m));
                if (send(client_fd, hdr, 8, MSG_NOSIGNAL) < 0)
                    log_debug("exec client gone");
            }
            if (send(client_fd, m, strlen(m), MSG_NOSIGNAL) < 0)
                log_debug("exec client gone");
        }
        free(rl.error);
    }
    /* the exit code is recorded before the client sees the end of the stream */
    pthread_mutex_lock(&x->d->lock);
    e->shim_fd = -1;
    pthread_mutex_unlock(&x->d->lock);
    close(fd);
    exec_finish(x, status);
    if (client_fd >= 0)
        shutdown(client_fd, SHUT_RDWR);
}

static void exec_run_free(void *ctx)
{
    struct exec_run *x = ctx;
    pthread_mutex_lock(&x->d->lock);
    exec_put_locked(x->e);
    pthread_mutex_unlock(&x->d->lock);
    free(x);
}

static void exec_hijacked(void *ctx, int fd, const char *pre, size_t pre_len)
{
    exec_session(ctx, fd, pre, pre_len);
}

static void *exec_detached(void *ctx)
{
    exec_session(ctx, -1, NULL, 0);
    exec_run_free(ctx);
    return NULL;
}

int api_handle_exec_start(struct api_req *r)
{
    struct dmn *d = r->d;
    ctr_error_t err = NULL;
    json_t *body = r->body_len ? api_body_json(r, &err) : json_object();
    if (body == NULL)
        return api_reply_ctr_error(r, &err);
    bool detach = json_is_true(json_object_get(body, "Detach"));
    json_t *cs = json_object_get(body, "ConsoleSize");
    pthread_mutex_lock(&d->lock);
    struct dmn_exec *e = exec_find_locked(d, r->params[0]);
    if (e == NULL) {
        pthread_mutex_unlock(&d->lock);
        json_decref(body);
        return api_reply_error(r, 404, "No such exec instance: %s", r->params[0]);
    }
    if (e->started) {
        pthread_mutex_unlock(&d->lock);
        json_decref(body);
        return api_reply_error(r, 409, "Error: Exec command %s is already running", e->id);
    }
    struct dmn_container *c = dmn_container_find_locked(d, e->container_id);
    if (c == NULL || c->status != DMN_RUNNING) {
        if (c)
            c->refs--;
        pthread_mutex_unlock(&d->lock);
        json_decref(body);
        return api_reply_error(r, 409, "Container %s is not running", e->container_id);
    }
    if (json_is_array(cs) && json_array_size(cs) == 2) {
        e->rows = (uint16_t)json_integer_value(json_array_get(cs, 0));
        e->cols = (uint16_t)json_integer_value(json_array_get(cs, 1));
    }
    json_decref(body);
    e->started = true;
    e->running = true;
    e->refs++;
    struct exec_run *x = ctr_xcalloc(1, sizeof(*x));
    x->d = d;
    x->e = e;
    x->detach = detach;
    snprintf(x->bundle, sizeof(x->bundle), "%s", c->bundle);
    cleanup_free char *action = ctr_xasprintf("exec_start: %s", e->cmd[0]);
    dmn_event_container_locked(d, c, action, json_pack("{s:s}", "execID", e->id));
    c->refs--; /* find's; the table keeps it */
    pthread_mutex_unlock(&d->lock);
    if (detach) {
        pthread_t t;
        pthread_attr_t a;
        pthread_attr_init(&a);
        pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
        int rc = pthread_create(&t, &a, exec_detached, x);
        pthread_attr_destroy(&a);
        if (rc != 0) {
            exec_finish(x, 126);
            exec_run_free(x);
            return api_reply_error(r, 500, "cannot start the exec thread");
        }
        return api_reply_empty(r, 200);
    }
    int ret = api_reply_hijack(r,
                               e->tty ? "application/vnd.docker.raw-stream"
                                      : "application/vnd.docker.multiplexed-stream",
                               exec_hijacked, x, exec_run_free);
    if (r->status != 101) {
        /* not hijacked: the exec never ran */
        pthread_mutex_lock(&d->lock);
        e->started = e->running = false;
        pthread_mutex_unlock(&d->lock);
    }
    return ret;
}

int api_handle_exec_inspect(struct api_req *r)
{
    struct dmn *d = r->d;
    pthread_mutex_lock(&d->lock);
    struct dmn_exec *e = exec_find_locked(d, r->params[0]);
    if (e == NULL) {
        pthread_mutex_unlock(&d->lock);
        return api_reply_error(r, 404, "No such exec instance: %s", r->params[0]);
    }
    json_t *j =
        json_pack("{s:b,s:s,s:s,s:o,s:s,s:b,s:b,s:b,s:{s:o,s:s,s:b,s:b,s:s},s:b,s:i}", "CanRemove",
                  0, "ContainerID", e->container_id, "DetachKeys", "", "ExitCode",
                  e->exit_code >= 0 ? json_integer(e->exit_code) : json_null(), "ID", e->id,
                  "OpenStderr", e->attach_stderr, "OpenStdin", e->attach_stdin, "OpenStdout",
                  e->attach_stdout, "ProcessConfig", "arguments", dmn_strv_json(e->cmd + 1),
                  "entrypoint", e->cmd[0], "privileged", 0, "tty", e->tty, "user",
                  e->user ? e->user : "", "Running", e->running, "Pid", 0);
    pthread_mutex_unlock(&d->lock);
    return api_reply_json(r, 200, j);
}

int api_handle_exec_resize(struct api_req *r)
{
    struct dmn *d = r->d;
    const char *h = api_query(r, "h"), *w = api_query(r, "w");
    long rows = h ? strtol(h, NULL, 10) : -1, cols = w ? strtol(w, NULL, 10) : -1;
    if (rows < 0 || rows > 65535 || cols < 0 || cols > 65535)
        return api_reply_error(r, 400, "invalid size: `h` and `w` must be 0-65535");
    pthread_mutex_lock(&d->lock);
    struct dmn_exec *e = exec_find_locked(d, r->params[0]);
    if (e == NULL) {
        pthread_mutex_unlock(&d->lock);
        return api_reply_error(r, 404, "No such exec instance: %s", r->params[0]);
    }
    if (e->shim_fd < 0) {
        /* not running yet: the size goes with the start */
        e->rows = (uint16_t)rows;
        e->cols = (uint16_t)cols;
        pthread_mutex_unlock(&d->lock);
        return api_reply_empty(r, 200);
    }
    struct shimp_request rs = {
        .op = SHIMP_OP_RESIZE, .rows = (uint16_t)rows, .cols = (uint16_t)cols};
    int ret = shimc_send(e->shim_fd, &e->wlock, &rs, NULL);
    pthread_mutex_unlock(&d->lock);
    return ret < 0 ? api_reply_error(r, 500, "cannot send the resize to the shim")
                   : api_reply_empty(r, 200);
}

/* ---- top: ps through an exec, output collected ---- */

int api_handle_top(struct api_req *r)
{
    ctr_error_t err = NULL;
    const char *ps_args = api_query(r, "ps_args");
    struct dmn_container *c = dmn_container_get(r->d, r->params[0], &err);
    if (c == NULL)
        return api_reply_ctr_error(r, &err);
    pthread_mutex_lock(&r->d->lock);
    bool running = c->status == DMN_RUNNING;
    pthread_mutex_unlock(&r->d->lock);
    if (!running) {
        api_reply_error(r, 409, "Container %s is not running", c->id);
        dmn_container_put(r->d, c);
        return 0;
    }
    cleanup_strv char **args = ctr_xcalloc(1, sizeof(char *));
    ctr_strv_append(&args, "ps");
    cleanup_free char *pa = ctr_xstrdup(ps_args && *ps_args ? ps_args : "-ef");
    for (char *save = NULL, *tok = strtok_r(pa, " ", &save); tok; tok = strtok_r(NULL, " ", &save))
        ctr_strv_append(&args, tok);
    cleanup_free char *out = NULL;
    int status;
    int rc = shimc_exec_collect(c->bundle, args, &out, 1u << 20, &status, &err);
    dmn_container_put(r->d, c);
    if (rc < 0)
        return api_reply_error(r, 500, "ps in the container failed: %s", err->msg),
               ctr_error_free(&err), 0;
    if (status != 0)
        return api_reply_error(r, 500, "ps in the container exited with %d: %s", status, out);
    json_t *titles = json_array(), *procs = json_array();
    size_t ncols = 0;
    char *save = NULL;
    for (char *line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (ncols == 0) {
            char *s2 = NULL;
            for (char *t = strtok_r(line, " \t", &s2); t; t = strtok_r(NULL, " \t", &s2), ncols++)
                json_array_append_new(titles, ctr_json_str(t)); /* ps output: any byte */
            continue;
        }
        json_t *row = json_array();
        char *p = line;
        for (size_t i = 0; i < ncols && *p; i++) {
            p += strspn(p, " \t");
            size_t l = i + 1 == ncols ? strlen(p) : strcspn(p, " \t");
            cleanup_free char *cell = ctr_xstrndup(p, l);
            json_array_append_new(row, ctr_json_str(cell));
            p += l;
        }
        json_array_append_new(procs, row);
    }
    return api_reply_json(r, 200, json_pack("{s:o,s:o}", "Titles", titles, "Processes", procs));
}
