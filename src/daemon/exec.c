/* Exec: a record of what to run (exec create), run through the shim on a client's fd
 * (hijacked by api/exec.c) or detached with a drain thread that keeps its exit code;
 * its inspect view and resize; and top (vminitd lists the processes). */
#include "daemon/daemon-internal.h"
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

int dmn_exec_create(struct dmn *d, const char *ref, const struct dmn_exec_spec *spec,
                    char id_out[65], ctr_error_t *err)
{
    struct dmn_container *c = dmn_container_get(d, ref, err);
    if (c == NULL)
        return -1;
    char id[BUNDLE_CREATE_ID_LEN + 1];
    if (bundle_create_new_id(id, err) < 0) {
        dmn_container_put(d, c);
        return -1;
    }
    if (spec->workdir && *spec->workdir && spec->workdir[0] != '/') {
        dmn_container_put(d, c);
        return dmn_fail(err, EINVAL,
                        "the working directory `%s` is invalid: it needs to be an "
                        "absolute path",
                        spec->workdir);
    }
    dmn_lock(d);
    if (c->status != DMN_RUNNING) {
        dmn_unlock(d);
        dmn_fail(err, EBUSY, "Container %s is not running", c->id);
        dmn_container_put(d, c);
        return -1;
    }
    if (c->paused) { /* docker names the container as the client did here */
        dmn_unlock(d);
        dmn_fail(err, EBUSY, "Container %s is paused, unpause the container before exec", ref);
        dmn_container_put(d, c);
        return -1;
    }
    struct dmn_exec *e = ctr_xcalloc(1, sizeof(*e));
    snprintf(e->id, sizeof(e->id), "%s", id);
    snprintf(e->container_id, sizeof(e->container_id), "%s", c->id);
    e->cmd = ctr_strv_dup(spec->cmd);
    e->env = spec->env ? ctr_strv_dup(spec->env) : ctr_xcalloc(1, sizeof(char *));
    e->workdir = spec->workdir && *spec->workdir ? ctr_xstrdup(spec->workdir) : NULL;
    e->user = spec->user && *spec->user ? ctr_xstrdup(spec->user) : NULL;
    e->tty = spec->tty;
    e->attach_stdin = spec->attach_stdin;
    e->attach_stdout = spec->attach_stdout;
    e->attach_stderr = spec->attach_stderr;
    e->rows = spec->rows;
    e->cols = spec->cols;
    memcpy(e->detach_keys, spec->detach_keys, sizeof(e->detach_keys));
    e->n_detach_keys = spec->n_detach_keys;
    e->exit_code = -1;
    e->shim_fd = -1;
    e->refs = 1;
    pthread_mutex_init(&e->wlock, NULL);
    e->next = d->execs;
    d->execs = e;
    cleanup_free char *joined = ctr_xstrdup("");
    for (size_t i = 0; e->cmd[i]; i++) {
        char *n = ctr_xasprintf("%s%s%s", joined, i ? " " : "", e->cmd[i]);
        free(joined);
        joined = n;
    }
    cleanup_free char *action = ctr_xasprintf("exec_create: %s", joined);
    dmn_event_container_locked(d, c, action, json_pack("{s:s}", "execID", e->id));
    execs_trim_locked(d, c->id);
    dmn_unlock(d);
    dmn_container_put(d, c);
    snprintf(id_out, 65, "%s", id);
    return 0;
}

struct dmn_exec_run {
    struct dmn *d;
    struct dmn_exec *e;
    bool raw; /* the start request's Tty: raw bytes, else Docker's frames */
    char bundle[4096];
};

static void exec_finish(struct dmn_exec_run *x, int status)
{
    struct dmn *d = x->d;
    dmn_lock(d);
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
    dmn_unlock(d);
}

/* Run the exec against the shim, relaying to client_fd (-1: detached, drain). */
static void exec_session(struct dmn_exec_run *x, int client_fd, const char *pre, size_t pre_len)
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
            if (!x->raw && send(client_fd, hdr, 8, MSG_NOSIGNAL) < 0)
                log_debug("exec client gone");
            if (send(client_fd, m, strlen(m), MSG_NOSIGNAL) < 0)
                log_debug("exec client gone");
        }
        ctr_error_free(&err);
        exec_finish(x, 126);
        return;
    }
    dmn_lock(x->d);
    e->shim_fd = fd;
    dmn_unlock(x->d);
    struct dmn_relay rl = {.client_fd = client_fd,
                           .shim_fd = fd,
                           .bundle = x->bundle,
                           .tty = x->raw,
                           .stdin_open = req.stdin_open,
                           .want_stdout = e->attach_stdout && client_fd >= 0,
                           .want_stderr = e->attach_stderr && client_fd >= 0,
                           .wlock = &e->wlock,
                           .n_detach_keys = req.stdin_open ? e->n_detach_keys : 0};
    memcpy(rl.detach_keys, e->detach_keys, sizeof(rl.detach_keys));
    if (pre_len && rl.stdin_open) {
        shimc_send_stdin(fd, &e->wlock, pre, pre_len);
    }
    int status = dmn_relay_run(&rl);
    if (rl.detached) {
        /* the client detached (moby: the stream ends, the exec runs on): its end is
         * waited for without a client, as a detached exec's */
        shutdown(client_fd, SHUT_RDWR);
        client_fd = -1;
        rl = (struct dmn_relay){.client_fd = -1, .shim_fd = fd, .wlock = &e->wlock};
        status = dmn_relay_run(&rl);
    }
    if (rl.error) {
        /* docker writes the failure into the stream; the code (126/127) is the exec's */
        status = rl.error_code ? rl.error_code : 126;
        if (client_fd >= 0) {
            cleanup_free char *m = ctr_xasprintf("OCI runtime exec failed: %s\r\n", rl.error);
            uint8_t hdr[8];
            if (!x->raw) {
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
    dmn_lock(x->d);
    e->shim_fd = -1;
    dmn_unlock(x->d);
    close(fd);
    exec_finish(x, status);
    if (client_fd >= 0)
        shutdown(client_fd, SHUT_RDWR);
}

void dmn_exec_run_session(struct dmn_exec_run *x, int client_fd, const char *pre, size_t pre_len)
{
    exec_session(x, client_fd, pre, pre_len);
}

void dmn_exec_run_free(struct dmn_exec_run *x)
{
    dmn_lock(x->d);
    exec_put_locked(x->e);
    dmn_unlock(x->d);
    free(x);
}

static void *exec_detached(void *ctx)
{
    exec_session(ctx, -1, NULL, 0);
    dmn_exec_run_free(ctx);
    return NULL;
}

struct dmn_exec_run *dmn_exec_start(struct dmn *d, const char *id, bool set_size, uint16_t rows,
                                    uint16_t cols, bool raw, ctr_error_t *err)
{
    dmn_lock(d);
    struct dmn_exec *e = exec_find_locked(d, id);
    if (e == NULL) {
        dmn_unlock(d);
        dmn_fail(err, ENOENT, "No such exec instance: %s", id);
        return NULL;
    }
    if (e->started) {
        dmn_unlock(d);
        dmn_fail(err, EBUSY, "Error: Exec command %s is already running", e->id);
        return NULL;
    }
    struct dmn_container *c = dmn_container_find_locked(d, e->container_id);
    if (c == NULL || c->status != DMN_RUNNING) {
        if (c)
            c->refs--;
        dmn_unlock(d);
        dmn_fail(err, EBUSY, "Container %s is not running", e->container_id);
        return NULL;
    }
    if (c->paused) {
        c->refs--;
        dmn_unlock(d);
        dmn_fail(err, EBUSY, "Container %s is paused, unpause the container before exec",
                 e->container_id);
        return NULL;
    }
    if (set_size) {
        e->rows = rows;
        e->cols = cols;
    }
    e->started = true;
    e->running = true;
    e->refs++;
    struct dmn_exec_run *x = ctr_xcalloc(1, sizeof(*x));
    x->raw = raw;
    x->d = d;
    x->e = e;
    snprintf(x->bundle, sizeof(x->bundle), "%s", c->bundle);
    cleanup_free char *action = ctr_xasprintf("exec_start: %s", e->cmd[0]);
    dmn_event_container_locked(d, c, action, json_pack("{s:s}", "execID", e->id));
    c->refs--; /* find's; the table keeps it */
    dmn_unlock(d);
    return x;
}

int dmn_exec_run_detached(struct dmn_exec_run *x, ctr_error_t *err)
{
    pthread_t t;
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    int rc = pthread_create(&t, &a, exec_detached, x);
    pthread_attr_destroy(&a);
    if (rc != 0) {
        exec_finish(x, 126);
        dmn_exec_run_free(x);
        return dmn_fail(err, 0, "cannot start the exec thread");
    }
    return 0;
}

void dmn_exec_start_undo(struct dmn *d, const char *id)
{
    dmn_lock(d);
    struct dmn_exec *e = exec_find_locked(d, id);
    if (e)
        e->started = e->running = false;
    dmn_unlock(d);
}

int dmn_exec_inspect(struct dmn *d, const char *id, struct dmn_exec_info *out, ctr_error_t *err)
{
    dmn_lock(d);
    struct dmn_exec *e = exec_find_locked(d, id);
    if (e == NULL) {
        dmn_unlock(d);
        return dmn_fail(err, ENOENT, "No such exec instance: %s", id);
    }
    memset(out, 0, sizeof(*out));
    snprintf(out->id, sizeof(out->id), "%s", e->id);
    snprintf(out->container_id, sizeof(out->container_id), "%s", e->container_id);
    out->cmd = ctr_strv_dup(e->cmd);
    out->user = e->user ? ctr_xstrdup(e->user) : NULL;
    out->tty = e->tty;
    out->attach_stdin = e->attach_stdin;
    out->attach_stdout = e->attach_stdout;
    out->attach_stderr = e->attach_stderr;
    out->running = e->running;
    out->exit_code = e->exit_code;
    dmn_unlock(d);
    return 0;
}

void dmn_exec_info_release(struct dmn_exec_info *info)
{
    ctr_strv_free(info->cmd);
    free(info->user);
    info->cmd = NULL;
    info->user = NULL;
}

int dmn_exec_resize(struct dmn *d, const char *id, uint16_t rows, uint16_t cols, ctr_error_t *err)
{
    dmn_lock(d);
    struct dmn_exec *e = exec_find_locked(d, id);
    if (e == NULL) {
        dmn_unlock(d);
        return dmn_fail(err, ENOENT, "No such exec instance: %s", id);
    }
    if (e->shim_fd < 0) {
        /* not running yet: the size goes with the start */
        e->rows = rows;
        e->cols = cols;
        dmn_unlock(d);
        return 0;
    }
    struct shimp_request rs = {.op = SHIMP_OP_RESIZE, .rows = rows, .cols = cols};
    int ret = shimc_send(e->shim_fd, &e->wlock, &rs, NULL);
    dmn_unlock(d);
    return ret < 0 ? dmn_fail(err, 0, "cannot send the resize to the shim") : 0;
}

/* ---- top: the guest lists the container's processes (agent op top), no ps needed ---- */

int dmn_container_top(struct dmn *d, const char *ref, const char *ps_args, char **out,
                      ctr_error_t *err)
{
    struct dmn_container *c = dmn_container_get(d, ref, err);
    if (c == NULL)
        return -1;
    dmn_lock(d);
    bool running = c->status == DMN_RUNNING;
    dmn_unlock(d);
    if (!running) {
        dmn_fail(err, EBUSY, "Container %s is not running", c->id);
        dmn_container_put(d, c);
        return -1;
    }
    cleanup_free char *text = NULL;
    ctr_error_t e = NULL;
    int rc = shimc_top(c->bundle, ps_args ? ps_args : "", &text, &e);
    dmn_container_put(d, c);
    if (rc < 0) {
        /* a paused VM cannot answer: 409; anything else (ps_args it does not know) is
         * ps failing, 500 as Docker's */
        dmn_fail(err, e->errnum == EBUSY ? EBUSY : 0, "%s", e->msg);
        ctr_error_free(&e);
        return -1;
    }
    *out = ctr_steal_ptr(text);
    return 0;
}
