/* The archive routes: HEAD/GET/PUT /containers/{id}/archive and GET
 * /containers/{id}/export. The query is checked here (the guest's path limits), the
 * stat goes out as Docker's X-Docker-Container-Path-Stat header, and the tars stream
 * through the file services (files.c): GET bodies are read from their pipe by the
 * response callback, PUT bodies are written into one by http.c as they arrive. */
#include "daemon/api/api.h"
#include "shimc/shimc.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

/* docker's X-Docker-Container-Path-Stat: base64 of {name,size,mode,mtime,linkTarget} */
char *api_path_stat_header(const struct shimc_path_stat *st)
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
    int ret = dmn_archive_stat(r->d, c, path, &st, &err);
    dmn_container_put(r->d, c);
    if (ret < 0)
        return api_reply_ctr_error(r, &err);
    cleanup_free char *hdr = api_path_stat_header(&st);
    shimc_path_stat_release(&st);
    api_reply_empty(r, 200);
    api_reply_header(r, "X-Docker-Container-Path-Stat", hdr);
    return 0;
}

static ssize_t get_fill(void *ctx, char *buf, size_t max)
{
    return dmn_archive_get_read(ctx, buf, max);
}

static void get_free(void *ctx)
{
    dmn_archive_get_free(ctx);
}

static int reply_get(struct api_req *r, const char *path, bool export_all)
{
    ctr_error_t err = NULL;
    const struct shimc_path_stat *st = NULL;
    struct dmn_container *c = dmn_container_get(r->d, r->params[0], &err);
    if (c == NULL)
        return api_reply_ctr_error(r, &err);
    struct dmn_archive_get *j = dmn_archive_get_start(r->d, c, path, export_all, &st, &err);
    dmn_container_put(r->d, c);
    if (j == NULL)
        return api_reply_ctr_error(r, &err);
    cleanup_free char *hdr = st ? api_path_stat_header(st) : NULL;
    api_reply_stream(r, 200, "application/x-tar", get_fill, j, get_free);
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

struct put_req {
    struct dmn_archive_put *job; /* NULL: refused at the headers (err says why) */
    ctr_error_t err;
};

static void put_req_free(void *arg)
{
    struct put_req *p = arg;
    dmn_archive_put_free(p->job);
    ctr_error_free(&p->err);
    free(p);
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

/* At the request's headers: start the extraction; the body goes to r->upload_pipe. */
void api_archive_put_begin(struct api_req *r)
{
    struct put_req *p = ctr_xcalloc(1, sizeof(*p));
    char *params[API_ROUTE_MAX_PARAMS] = {0};
    const char *path;

    r->upload_job = p;
    r->upload_job_free = put_req_free;
    api_route_match("/containers/{}/archive", r->path, params);
    struct dmn_container *c = dmn_container_get(r->d, params[0], &p->err);
    for (size_t i = 0; i < API_ROUTE_MAX_PARAMS; i++)
        free(params[i]);
    if (c != NULL && (path = path_param(r, &p->err)) != NULL)
        p->job = dmn_archive_put_start(r->d, c, path, !api_query_bool(r, "copyUIDGID"),
                                       &r->upload_pipe, &p->err);
    if (c != NULL)
        dmn_container_put(r->d, c);
}

/* After the body (http.c closed the pipe): the worker's verdict. */
int api_handle_archive_put(struct api_req *r)
{
    struct put_req *p = r->upload_job;
    if (p == NULL)
        return api_reply_error(r, 500, "PUT archive without its upload");
    ctr_error_t err = NULL;
    if (p->job == NULL) {
        err = ctr_steal_ptr(p->err);
        if (err == NULL)
            return api_reply_error(r, 500, "extracting into the container failed");
        return api_reply_ctr_error(r, &err);
    }
    if (dmn_archive_put_finish(p->job, &err) < 0)
        return api_reply_ctr_error(r, &err);
    return api_reply_empty(r, 200);
}
