/* Files in and out of containers (the archive and export routes are api/files.c). The
 * work is done by the runtime's archive client (shimc_archive_*, src/shimc): through the
 * shim of a running container, or in a maintenance VM for a stopped one. Tars stream
 * through pipes and a worker thread, never held in memory: a GET's tar is read from a
 * pipe (dmn_archive_get_read), a PUT's body is written into one as it arrives. An
 * operation on a container that is not running holds its op_lock, so `start` waits for
 * it. docs/api.md, docs/volumes.md. */
#include "daemon/daemon-internal.h"
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

/* An op on a container that is not running boots a maintenance VM on its disks: hold
 * op_lock so that start (and rm) wait. Returns whether the lock is held. */
static bool lock_if_stopped(struct dmn *d, struct dmn_container *c)
{
    dmn_lock(d);
    bool running = c->status == DMN_RUNNING;
    dmn_unlock(d);
    if (running)
        return false;
    dmn_op_lock(c);
    dmn_lock(d);
    running = c->status == DMN_RUNNING; /* started while we waited */
    dmn_unlock(d);
    if (running) {
        dmn_op_unlock(c);
        return false;
    }
    return true;
}

static int check_usable(struct dmn *d, struct dmn_container *c, ctr_error_t *err)
{
    dmn_lock(d);
    bool gone = c->removed || c->status == DMN_REMOVING || c->status == DMN_DEAD;
    dmn_unlock(d);
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

int dmn_archive_stat(struct dmn *d, struct dmn_container *c, const char *path,
                     struct shimc_path_stat *st, ctr_error_t *err)
{
    bool locked = lock_if_stopped(d, c);
    int ret = check_usable(d, c, err);
    if (ret == 0 && (ret = shimc_archive_stat(c->bundle, path, st, err)) < 0)
        path_error(err, c, path);
    if (locked)
        dmn_op_unlock(c);
    return ret;
}

/* ---- GET archive, export: a worker writes the tar into a pipe ---- */

struct dmn_archive_get {
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
    struct dmn_archive_get *j = arg;
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
        dmn_op_unlock(j->c);
    dmn_mutex_lock(&j->lock, DMN_RANK_JOB);
    j->done = true;
    j->ret = ret;
    j->err = ctr_steal_ptr(err);
    pthread_cond_broadcast(&j->cond);
    dmn_mutex_unlock(&j->lock, DMN_RANK_JOB);
    close(j->wfd); /* EOF for the reader, after done is set */
    return NULL;
}

void dmn_archive_get_free(struct dmn_archive_get *j)
{
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

ssize_t dmn_archive_get_read(struct dmn_archive_get *j, char *buf, size_t max)
{
    ssize_t n;
    do
        n = read(j->rfd, buf, max);
    while (n < 0 && errno == EINTR);
    if (n != 0)
        return n;
    /* EOF: a failed archive must not look complete to the client */
    dmn_mutex_lock(&j->lock, DMN_RANK_JOB);
    while (!j->done)
        pthread_cond_wait(&j->cond, &j->lock);
    int ret = j->ret;
    dmn_mutex_unlock(&j->lock, DMN_RANK_JOB);
    return ret < 0 ? -1 : 0;
}

struct dmn_archive_get *dmn_archive_get_start(struct dmn *d, struct dmn_container *c,
                                              const char *path, bool export_all,
                                              const struct shimc_path_stat **st, ctr_error_t *err)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0) {
        dmn_fail(err, 0, "pipe: %s", strerror(errno));
        return NULL;
    }
    struct dmn_archive_get *j = ctr_xcalloc(1, sizeof(*j));
    j->d = d;
    j->c = c;
    j->path = ctr_xstrdup(path);
    j->export_all = export_all;
    j->rfd = p[0];
    j->wfd = p[1];
    pthread_mutex_init(&j->lock, NULL);
    pthread_cond_init(&j->cond, NULL);
    dmn_lock(d);
    c->refs++; /* the job's, put by dmn_archive_get_free */
    dmn_unlock(d);
    if (pthread_create(&j->thread, NULL, get_thread, j) != 0) {
        close(p[0]);
        close(p[1]);
        dmn_container_put(d, c);
        free(j->path);
        free(j);
        dmn_fail(err, 0, "cannot start an archive thread");
        return NULL;
    }
    /* The first byte (or the end) tells: the stat is there, or the error is. */
    struct pollfd pf = {.fd = j->rfd, .events = POLLIN};
    while (poll(&pf, 1, -1) < 0 && errno == EINTR)
        ;
    dmn_mutex_lock(&j->lock, DMN_RANK_JOB);
    bool failed = j->done && j->ret < 0;
    dmn_mutex_unlock(&j->lock, DMN_RANK_JOB);
    if (failed) {
        ctr_error_t e = ctr_steal_ptr(j->err);
        dmn_archive_get_free(j);
        if (e == NULL)
            dmn_fail(err, 0, "the archive of `%s` failed", path);
        else
            *err = e;
        return NULL;
    }
    *st = export_all ? NULL : &j->st;
    return j;
}

/* ---- PUT archive: http.c writes the body into a pipe as it arrives ---- */

struct dmn_archive_put {
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
    struct dmn_archive_put *j = arg;
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
    struct dmn_archive_put *j = arg;
    bool locked = lock_if_stopped(j->d, j->c);
    j->ret = check_usable(j->d, j->c, &j->err);
    if (j->ret == 0 && (j->ret = shimc_archive_put(j->c->bundle, j->path, j->rfd, &j->err)) < 0)
        path_error(&j->err, j->c, j->path);
    close(j->rfd); /* refused before the body: the writer gets EPIPE and drops the rest */
    j->rfd = -1;
    if (locked)
        dmn_op_unlock(j->c);
    return NULL;
}

void dmn_archive_put_free(struct dmn_archive_put *j)
{
    if (j == NULL)
        return;
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

struct dmn_archive_put *dmn_archive_put_start(struct dmn *d, struct dmn_container *c,
                                              const char *path, bool chown_root, int *body_fd,
                                              ctr_error_t *err)
{
    int p[2], q[2];
    if (pipe2(p, O_CLOEXEC) < 0) {
        ctr_fail(err, errno, "pipe");
        return NULL;
    }
    if (pipe2(q, O_CLOEXEC) < 0) {
        close(p[0]);
        close(p[1]);
        ctr_fail(err, errno, "pipe");
        return NULL;
    }
    struct dmn_archive_put *j = ctr_xcalloc(1, sizeof(*j));
    j->d = d;
    j->path = ctr_xstrdup(path);
    j->chown_root = chown_root;
    dmn_lock(d);
    c->refs++; /* the job's, put by dmn_archive_put_free */
    dmn_unlock(d);
    j->c = c;
    /* body → q[1] ... q[0] → filter_thread → p[1] → worker */
    j->rfd = p[0];
    j->filter_rfd = q[0];
    j->filter_wfd = p[1];
    if (pthread_create(&j->filter_thread, NULL, filter_thread, j) != 0) {
        close(q[0]);
        close(q[1]);
        close(p[1]);
        dmn_archive_put_free(j);
        ctr_fail(err, 0, "cannot start an archive thread");
        return NULL;
    }
    j->filter_started = true;
    *body_fd = q[1];
    if (pthread_create(&j->thread, NULL, put_thread, j) != 0) {
        j->ret = ctr_fail(&j->err, 0, "cannot start an archive thread");
        close(j->rfd); /* the filter's writes fail: the body is dropped */
        j->rfd = -1;
        return j; /* finish says why */
    }
    j->started = true;
    return j;
}

int dmn_archive_put_finish(struct dmn_archive_put *j, ctr_error_t *err)
{
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
        return dmn_fail(err, EINVAL, "invalid or truncated tar archive: %s", j->filter_error);
    }
    if (j->ret < 0) {
        ctr_error_t e = ctr_steal_ptr(j->err);
        if (e == NULL)
            return dmn_fail(err, 0, "extracting into the container failed");
        *err = e;
        return -1;
    }
    return 0;
}
