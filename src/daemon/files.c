/* Files in and out of containers: HEAD/GET/PUT /containers/{id}/archive and GET
 * /containers/{id}/export. The work is done by the runtime's archive client
 * (shimc_archive_*, src/shimc): through the shim of a running container, or in a
 * maintenance VM for a stopped one. Tars stream through pipes and a worker thread,
 * never held in memory: GET bodies are read from the pipe by the response callback,
 * PUT bodies are written into it by http.c as they arrive. An operation on a
 * container that is not running holds its op_lock, so `start` waits for it.
 * docs/api.md, docs/volumes.md. */
#include "daemon/api/api.h"
#include "shimc/shimc.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* docker's X-Docker-Container-Path-Stat: base64 of {name,size,mode,mtime,linkTarget} */
char *dmn_path_stat_header(const struct shimc_path_stat *st)
{
    /* Names come from the guest's file system: any byte. */
    json_t *j =
        json_pack("{s:o, s:I, s:I, s:s, s:o}", "name", ctr_json_str(st->name ? st->name : ""),
                  "size", (json_int_t)st->size, "mode", (json_int_t)st->mode, "mtime",
                  st->mtime ? st->mtime : "0001-01-01T00:00:00Z", "linkTarget",
                  ctr_json_str(st->link_target ? st->link_target : ""));
    cleanup_free char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    size_t n = strlen(s);
    char *out = ctr_xmalloc(4 * ((n + 2) / 3) + 1);
    EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)s, (int)n);
    return out;
}

/* An op on a container that is not running boots a maintenance VM on its disks: hold
 * op_lock so that start (and rm) wait. Returns whether the lock is held. */
static bool lock_if_stopped(struct dmn *d, struct dmn_container *c)
{
    pthread_mutex_lock(&d->lock);
    bool running = c->status == DMN_RUNNING;
    pthread_mutex_unlock(&d->lock);
    if (running)
        return false;
    pthread_mutex_lock(&c->op_lock);
    pthread_mutex_lock(&d->lock);
    running = c->status == DMN_RUNNING; /* started while we waited */
    pthread_mutex_unlock(&d->lock);
    if (running) {
        pthread_mutex_unlock(&c->op_lock);
        return false;
    }
    return true;
}

static int check_usable(struct dmn *d, struct dmn_container *c, ctr_error_t *err)
{
    pthread_mutex_lock(&d->lock);
    bool gone = c->removed || c->status == DMN_REMOVING || c->status == DMN_DEAD;
    pthread_mutex_unlock(&d->lock);
    if (gone)
        return dmn_fail(err, ENOENT, "no such container: %s", c->name);
    return 0;
}

/* The runtime's error for a path, in docker's words where docker has some. */
static void path_error(ctr_error_t *err, struct dmn_container *c, const char *path)
{
    if ((*err)->errnum == ENOENT) {
        free((*err)->msg);
        (*err)->msg = ctr_xasprintf("Could not find the file %s in container %s", path, c->name);
    }
}

static const char *path_param(struct api_req *r, ctr_error_t *err)
{
    const char *p = api_query(r, "path");
    if (p == NULL || *p == '\0') {
        dmn_fail(err, EINVAL, "the `path` query parameter is required");
        return NULL;
    }
    if (p[0] != '/') {
        dmn_fail(err, EINVAL, "`path` `%s` must be absolute (the container's root is `/`)", p);
        return NULL;
    }
    /* The guest's limits (PATH_MAX, NAME_MAX): refused here rather than failing there. */
    if (strlen(p) >= AGENT_MAX_PATH) {
        dmn_fail(err, EINVAL, "`path` is %zu bytes long: at most %u are allowed", strlen(p),
                 AGENT_MAX_PATH - 1);
        return NULL;
    }
    for (const char *s = p; *s;) {
        size_t n = strcspn(s, "/");
        if (n > 255) {
            dmn_fail(err, EINVAL,
                     "`path` has a name of %zu bytes (`%.32s...`): at most 255 are "
                     "allowed",
                     n, s);
            return NULL;
        }
        s += n;
        s += strspn(s, "/");
    }
    return p;
}

int api_handle_archive_head(struct api_req *r)
{
    ctr_error_t err = NULL;
    struct shimc_path_stat st = {0};
    const char *path = path_param(r, &err);
    if (path == NULL)
        return api_reply_ctr_error(r, &err);
    struct dmn_container *c = dmn_container_get(r->d, r->params[0], &err);
    if (c == NULL)
        return api_reply_ctr_error(r, &err);
    bool locked = lock_if_stopped(r->d, c);
    int ret = check_usable(r->d, c, &err);
    if (ret == 0 && (ret = shimc_archive_stat(c->bundle, path, &st, &err)) < 0)
        path_error(&err, c, path);
    if (locked)
        pthread_mutex_unlock(&c->op_lock);
    dmn_container_put(r->d, c);
    if (ret < 0)
        return api_reply_ctr_error(r, &err);
    cleanup_free char *hdr = dmn_path_stat_header(&st);
    shimc_path_stat_release(&st);
    api_reply_empty(r, 200);
    api_reply_header(r, "X-Docker-Container-Path-Stat", hdr);
    return 0;
}

/* ---- GET archive, export: a worker writes the tar into a pipe ---- */

struct get_job {
    struct dmn *d;
    struct dmn_container *c;
    char *path;
    bool export_all;
    int rfd, wfd;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool done;
    int ret;
    struct shimc_path_stat st; /* written by the worker before the tar's first byte */
    ctr_error_t err;
};

static void *get_thread(void *arg)
{
    struct get_job *j = arg;
    ctr_error_t err = NULL;
    bool locked = lock_if_stopped(j->d, j->c);
    int ret = check_usable(j->d, j->c, &err);

    /* The stat first, into j->st, which the handler reads once the first byte (or the
     * end) is in the pipe: shimc_archive_get's own st is filled late offline and released
     * on errors, so it is not shared. On a stopped container this boots two VMs. */
    if (ret == 0 && !j->export_all &&
        (ret = shimc_archive_stat(j->c->bundle, j->path, &j->st, &err)) < 0)
        path_error(&err, j->c, j->path);
    if (ret == 0 &&
        (ret = shimc_archive_get(j->c->bundle, j->path, j->export_all, j->wfd, NULL, &err)) < 0)
        path_error(&err, j->c, j->path);
    if (locked)
        pthread_mutex_unlock(&j->c->op_lock);
    pthread_mutex_lock(&j->lock);
    j->done = true;
    j->ret = ret;
    j->err = ctr_steal_ptr(err);
    pthread_cond_broadcast(&j->cond);
    pthread_mutex_unlock(&j->lock);
    close(j->wfd); /* EOF for the reader, after done is set */
    return NULL;
}

static void get_job_free(void *arg)
{
    struct get_job *j = arg;
    if (j->rfd >= 0)
        close(j->rfd); /* a worker still writing gets EPIPE */
    pthread_join(j->thread, NULL);
    if (j->err)
        log_warn("archive of `%s` in %.12s: %s", j->path, j->c->id, j->err->msg);
    dmn_container_put(j->d, j->c);
    shimc_path_stat_release(&j->st);
    ctr_error_free(&j->err);
    free(j->path);
    pthread_mutex_destroy(&j->lock);
    pthread_cond_destroy(&j->cond);
    free(j);
}

static ssize_t get_fill(void *ctx, char *buf, size_t max)
{
    struct get_job *j = ctx;
    ssize_t n;
    do
        n = read(j->rfd, buf, max);
    while (n < 0 && errno == EINTR);
    if (n != 0)
        return n;
    /* EOF: a failed archive must not look complete to the client */
    pthread_mutex_lock(&j->lock);
    while (!j->done)
        pthread_cond_wait(&j->cond, &j->lock);
    int ret = j->ret;
    pthread_mutex_unlock(&j->lock);
    return ret < 0 ? -1 : 0;
}

static int reply_get(struct api_req *r, const char *path, bool export_all)
{
    ctr_error_t err = NULL;
    int p[2];
    struct dmn_container *c = dmn_container_get(r->d, r->params[0], &err);
    if (c == NULL)
        return api_reply_ctr_error(r, &err);
    if (pipe2(p, O_CLOEXEC) < 0) {
        dmn_container_put(r->d, c);
        return api_reply_error(r, 500, "pipe: %s", strerror(errno));
    }
    struct get_job *j = ctr_xcalloc(1, sizeof(*j));
    j->d = r->d;
    j->c = c;
    j->path = ctr_xstrdup(path);
    j->export_all = export_all;
    j->rfd = p[0];
    j->wfd = p[1];
    pthread_mutex_init(&j->lock, NULL);
    pthread_cond_init(&j->cond, NULL);
    if (pthread_create(&j->thread, NULL, get_thread, j) != 0) {
        close(p[0]);
        close(p[1]);
        dmn_container_put(r->d, c);
        free(j->path);
        free(j);
        return api_reply_error(r, 500, "cannot start an archive thread");
    }
    /* The first byte (or the end) tells: the stat is there, or the error is. */
    struct pollfd pf = {.fd = j->rfd, .events = POLLIN};
    while (poll(&pf, 1, -1) < 0 && errno == EINTR)
        ;
    pthread_mutex_lock(&j->lock);
    bool failed = j->done && j->ret < 0;
    pthread_mutex_unlock(&j->lock);
    if (failed) {
        ctr_error_t e = ctr_steal_ptr(j->err);
        get_job_free(j);
        if (e == NULL)
            return api_reply_error(r, 500, "the archive of `%s` failed", path);
        return api_reply_ctr_error(r, &e);
    }
    cleanup_free char *hdr = export_all ? NULL : dmn_path_stat_header(&j->st);
    api_reply_stream(r, 200, "application/x-tar", get_fill, j, get_job_free);
    if (hdr)
        api_reply_header(r, "X-Docker-Container-Path-Stat", hdr);
    return 0;
}

int api_handle_archive_get(struct api_req *r)
{
    if (strcmp(r->method, "HEAD") == 0)
        return api_handle_archive_head(r);
    ctr_error_t err = NULL;
    const char *path = path_param(r, &err);
    if (path == NULL)
        return api_reply_ctr_error(r, &err);
    return reply_get(r, path, false);
}

int api_handle_export(struct api_req *r)
{
    return reply_get(r, "/", true);
}

/* ---- PUT archive: http.c writes the body into a pipe as it arrives ---- */

struct put_job {
    struct dmn *d;
    struct dmn_container *c;
    char *path;
    bool chown_root;
    int rfd;        /* the worker's end */
    int filter_rfd; /* the body, rewritten into rfd by filter_thread */
    int filter_wfd;
    pthread_t thread, filter_thread;
    bool started, filter_started;
    int ret;
    ctr_error_t err;
    char *filter_error; /* the body is not a whole tar: why */
};

/* Every body goes through this rewriting thread (libarchive, streaming) on its way to
 * the guest. Without copyUIDGID docker gives what it unpacks to the container's root
 * (0:0): the owners are rewritten. And a body that is not a whole tar (cut short,
 * corrupt) is caught here, on either path: the stream to the guest then ends without
 * its end-of-archive blocks in the middle of the entry, so the guest fails too (and
 * removes the partial file), and the reason is kept for a 400. */
static void *filter_thread(void *arg)
{
    struct put_job *j = arg;
    struct archive *in = archive_read_new(), *out = archive_write_new();
    struct archive_entry *e;
    char buf[64 * 1024];
    bool complete = false;
    int r;

    archive_read_support_format_tar(in);
    archive_read_support_filter_all(in); /* docker takes compressed tars too */
    archive_write_set_format_pax_restricted(out);
    if (archive_write_open_fd(out, j->filter_wfd) != ARCHIVE_OK)
        goto out;
    if (archive_read_open_fd(in, j->filter_rfd, sizeof(buf)) != ARCHIVE_OK) {
        j->filter_error = ctr_xstrdup(archive_error_string(in) ?: "not a tar archive");
        goto out;
    }
    while ((r = archive_read_next_header(in, &e)) == ARCHIVE_OK) {
        if (j->chown_root) {
            archive_entry_set_uid(e, 0);
            archive_entry_set_gid(e, 0);
            archive_entry_set_uname(e, "root");
            archive_entry_set_gname(e, "root");
        }
        if (archive_write_header(out, e) != ARCHIVE_OK)
            goto out;
        ssize_t n;
        while ((n = archive_read_data(in, buf, sizeof(buf))) > 0)
            if (archive_write_data(out, buf, (size_t)n) != n)
                goto out;
        if (n < 0) {
            j->filter_error = ctr_xstrdup(archive_error_string(in) ?: "read error");
            goto out;
        }
    }
    if (r == ARCHIVE_EOF)
        complete = archive_write_close(out) == ARCHIVE_OK; /* the end-of-archive blocks */
    else
        j->filter_error = ctr_xstrdup(archive_error_string(in) ?: "read error");
out:
    archive_read_free(in);
    /* free would close it, padding the cut entry with zeros and ending the tar cleanly:
     * the guest would extract a complete-looking file */
    if (!complete)
        archive_write_fail(out);
    archive_write_free(out);
    close(j->filter_wfd); /* EOF (a truncated tar on errors: the guest refuses it) */
    close(j->filter_rfd); /* a writer still sending gets EPIPE */
    return NULL;
}

static void *put_thread(void *arg)
{
    struct put_job *j = arg;
    bool locked = lock_if_stopped(j->d, j->c);
    j->ret = check_usable(j->d, j->c, &j->err);
    if (j->ret == 0 && (j->ret = shimc_archive_put(j->c->bundle, j->path, j->rfd, &j->err)) < 0)
        path_error(&j->err, j->c, j->path);
    close(j->rfd); /* refused before the body: the writer gets EPIPE and drops the rest */
    j->rfd = -1;
    if (locked)
        pthread_mutex_unlock(&j->c->op_lock);
    return NULL;
}

static void put_job_free(void *arg)
{
    struct put_job *j = arg;
    if (j->started)
        pthread_join(j->thread, NULL);
    if (j->filter_started)
        pthread_join(j->filter_thread, NULL);
    if (j->rfd >= 0)
        close(j->rfd);
    if (j->c)
        dmn_container_put(j->d, j->c);
    ctr_error_free(&j->err);
    free(j->filter_error);
    free(j->path);
    free(j);
}

bool api_route_streams_upload(const char *method, const char *path)
{
    char *params[API_ROUTE_MAX_PARAMS] = {0};
    bool yes =
        strcmp(method, "PUT") == 0 && api_route_match("/containers/{}/archive", path, params);
    for (size_t i = 0; i < API_ROUTE_MAX_PARAMS; i++)
        free(params[i]);
    return yes;
}

/* At the request's headers: start the worker; the body goes to r->upload_pipe. */
void api_archive_put_begin(struct api_req *r)
{
    struct put_job *j = ctr_xcalloc(1, sizeof(*j));
    char *params[API_ROUTE_MAX_PARAMS] = {0};
    const char *path;
    int p[2], q[2];

    j->d = r->d;
    j->rfd = j->filter_rfd = j->filter_wfd = -1;
    r->upload_job = j;
    r->upload_job_free = put_job_free;
    api_route_match("/containers/{}/archive", r->path, params);
    j->c = dmn_container_get(r->d, params[0], &j->err);
    for (size_t i = 0; i < API_ROUTE_MAX_PARAMS; i++)
        free(params[i]);
    if (j->c == NULL || (path = path_param(r, &j->err)) == NULL) {
        j->ret = -1;
        return;
    }
    j->path = ctr_xstrdup(path);
    j->chown_root = !api_query_bool(r, "copyUIDGID");
    if (pipe2(p, O_CLOEXEC) < 0) {
        j->ret = ctr_fail(&j->err, errno, "pipe");
        return;
    }
    j->rfd = p[0];
    if (pipe2(q, O_CLOEXEC) < 0) {
        close(p[1]);
        j->ret = ctr_fail(&j->err, errno, "pipe");
        return;
    }
    /* body → q[1] ... q[0] → filter_thread → p[1] → worker */
    j->filter_rfd = q[0];
    j->filter_wfd = p[1];
    r->upload_pipe = q[1];
    if (pthread_create(&j->filter_thread, NULL, filter_thread, j) != 0) {
        close(q[0]);
        close(p[1]);
        j->ret = ctr_fail(&j->err, 0, "cannot start an archive thread");
        return;
    }
    j->filter_started = true;
    if (pthread_create(&j->thread, NULL, put_thread, j) != 0) {
        j->ret = ctr_fail(&j->err, 0, "cannot start an archive thread");
        return;
    }
    j->started = true;
}

/* After the body (http.c closed the pipe): the worker's verdict. */
int api_handle_archive_put(struct api_req *r)
{
    struct put_job *j = r->upload_job;
    if (j == NULL)
        return api_reply_error(r, 500, "PUT archive without its upload");
    if (j->started) {
        pthread_join(j->thread, NULL);
        j->started = false;
    }
    if (j->filter_started) {
        pthread_join(j->filter_thread, NULL);
        j->filter_started = false;
    }
    if (j->filter_error && j->ret == 0) /* never: the guest saw a cut tar */
        j->ret = dmn_fail(&j->err, EIO, "the archive was not extracted completely");
    if (j->filter_error && (j->err == NULL || j->err->errnum != ENOENT)) {
        /* the body is at fault, not the container: docker's 400 for a bad archive */
        ctr_error_free(&j->err);
        return api_reply_error(r, 400, "invalid or truncated tar archive: %s", j->filter_error);
    }
    if (j->ret < 0) {
        ctr_error_t e = ctr_steal_ptr(j->err);
        if (e == NULL)
            return api_reply_error(r, 500, "extracting into the container failed");
        return api_reply_ctr_error(r, &e);
    }
    return api_reply_empty(r, 200);
}
