/* Blob transfers: downloads streamed into an ingest session of the image store (which
 * hashes them and keeps a partial for a resume), resumed with `Range` after a dropped
 * connection, verified by the store's commit before they become visible;
 * uploads with HEAD-before-upload, cross-repository mount, monolithic PUT or
 * chunked PATCH. */
#include "image/store.h"
#include "registry/registry-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct dl {
    struct registry_client *c;
    struct registry_http_resp *resp;
    const char *digest, *what;
    struct imgstore_ingest *in; /* the store's session: hashes and keeps the bytes */
    uint64_t size;
    uint64_t fetched;
    uint64_t last_report;
    bool started; /* first chunk of the current response seen */
    ctr_error_t err;
};

static int dl_sink(void *opaque, const void *buf, size_t len)
{
    struct dl *d = opaque;
    uint64_t offset = imgstore_ingest_offset(d->in);
    if (!d->started) {
        d->started = true;
        if (offset > 0 && d->resp->status == 200) {
            /* The server ignored our Range: start over. */
            if (imgstore_ingest_restart(d->in, &d->err) < 0)
                return -1;
            offset = 0;
        } else if (offset > 0 && d->resp->status == 206) {
            unsigned long long start;
            if (d->resp->content_range == NULL ||
                sscanf(d->resp->content_range, "bytes %llu-", &start) != 1 || start != offset) {
                registry_fail_code(&d->err, EPROTO,
                                   "blob `%s`: unexpected Content-Range `%s` for offset %llu",
                                   d->digest, d->resp->content_range ? d->resp->content_range : "",
                                   (unsigned long long)offset);
                return -1;
            }
        }
    }
    if (offset + len > d->size) {
        registry_fail_code(&d->err, EFBIG,
                           "blob `%s`: registry sent more than the %llu bytes declared", d->digest,
                           (unsigned long long)d->size);
        return -1;
    }
    if (imgstore_ingest_write(d->in, buf, len, &d->err) < 0)
        return -1;
    offset += len;
    d->fetched += len;
    if (offset - d->last_report >= (256u << 10) || offset == d->size) {
        d->last_report = offset;
        registry_progress(d->c, REGISTRY_PROGRESS_BYTES, d->digest, d->what, false, offset,
                          d->size);
    }
    return 0;
}

static int dl_on_retry(void *opaque, struct registry_http_req *req, ctr_error_t *err)
{
    struct dl *d = opaque;
    d->started = false;
    req->range_start = imgstore_ingest_offset(d->in);
    registry_progress(d->c, REGISTRY_PROGRESS_RETRY, d->digest, d->what, false, req->range_start,
                      d->size);
    return 0;
}

int registry_fetch_blob(struct registry_client *c, void *conn, const char *repo, const char *digest,
                        int64_t size, struct imgstore *st, const char *what, uint64_t *downloaded,
                        ctr_error_t *err)
{
    cleanup_free char *url = NULL, *scope = NULL;
    struct registry_http_resp resp = {0};
    struct dl d = {.c = c, .resp = &resp, .digest = digest, .what = what, .size = (uint64_t)size};
    uint64_t offset;
    int rc = -1;

    if (!oci_digest_valid(digest) || size < 0)
        return registry_fail_code(err, EINVAL, "invalid blob descriptor `%s`", digest);
    if (imgstore_ingest_open(st, digest, size, &d.in, err) < 0)
        return -1;
    if (d.in == NULL) { /* already in the store (perhaps fetched meanwhile by another pull) */
        registry_progress(c, REGISTRY_PROGRESS_EXISTS, digest, what, false, (uint64_t)size,
                          (uint64_t)size);
        return 0;
    }
    offset = imgstore_ingest_offset(d.in);
    registry_progress(c, REGISTRY_PROGRESS_START, digest, what, false, offset, d.size);
    if (offset > 0)
        log_info("blob `%s`: resuming at byte %llu", digest, (unsigned long long)offset);
    url = registry_url(c, "/v2/%s/blobs/%s", repo, digest);
    scope = ctr_xasprintf("repository:%s:pull", repo);
    for (int pass = 0; imgstore_ingest_offset(d.in) < d.size && pass < 2; pass++) {
        struct registry_call call = {.req = {.method = "GET",
                                             .url = url,
                                             .range_start = imgstore_ingest_offset(d.in),
                                             .sink = dl_sink,
                                             .sink_opaque = &d,
                                             .follow_redirects = true,
                                             .max_body = 65536},
                                     .scope = scope,
                                     .on_retry = dl_on_retry,
                                     .retry_opaque = &d};
        d.started = false;
        if (registry_call(c, conn, &call, &resp, err) < 0) {
            if (d.err) { /* the sink's own reason is the better one */
                ctr_error_free(err);
                *err = ctr_steal_ptr(d.err);
            }
            ctr_error_wrap(err, "download %s `%s`", what, digest);
            goto out;
        }
        if (resp.status == 416 && imgstore_ingest_offset(d.in) > 0) {
            /* stale partial: start from zero */
            if (imgstore_ingest_restart(d.in, err) < 0)
                goto out;
            continue;
        }
        if (resp.status != 200 && resp.status != 206) {
            cleanup_free char *w = ctr_xasprintf("%s `%s` in `%s`", what, digest, repo);
            registry_status_error(c, &resp, w, err);
            goto out;
        }
        break;
    }
    offset = imgstore_ingest_offset(d.in);
    if (offset != d.size) {
        registry_fail_code(err, EPROTO, "download %s `%s`: got %llu of %llu bytes", what, digest,
                           (unsigned long long)offset, (unsigned long long)d.size);
        goto out;
    }
    rc = imgstore_ingest_commit(ctr_steal_ptr(d.in), err);
    if (rc < 0)
        goto out;
    registry_progress(c, REGISTRY_PROGRESS_DONE, digest, what, false, d.size, d.size);
    if (downloaded)
        *downloaded += d.fetched;
out:
    if (rc < 0)
        registry_progress(c, REGISTRY_PROGRESS_FAILED, digest, what, false,
                          d.in ? imgstore_ingest_offset(d.in) : offset, d.size);
    imgstore_ingest_close(d.in); /* a cut transfer keeps its partial for the next pull */
    ctr_error_free(&d.err);
    registry_http_resp_reset(&resp);
    return rc;
}

/* ---- uploads ---- */
struct ul {
    struct registry_client *c;
    const char *digest, *what;
    int fd;
    uint64_t start, len, pos; /* slice [start, start+len) of the file, pos within it */
    uint64_t base_done, total, last_report;
};

static ssize_t ul_source(void *opaque, void *buf, size_t n)
{
    struct ul *u = opaque;
    if (n > u->len - u->pos)
        n = (size_t)(u->len - u->pos);
    if (n == 0)
        return 0;
    ssize_t r = pread(u->fd, buf, n, (off_t)(u->start + u->pos));
    if (r <= 0)
        return -1;
    u->pos += (uint64_t)r;
    uint64_t done = u->base_done + u->pos;
    if (done - u->last_report >= (256u << 10) || done == u->total) {
        u->last_report = done;
        registry_progress(u->c, REGISTRY_PROGRESS_BYTES, u->digest, u->what, true, done, u->total);
    }
    return r;
}

static int ul_rewind(void *opaque, struct registry_http_req *req, ctr_error_t *err)
{
    struct ul *u = opaque;
    u->pos = 0;
    return 0;
}

static char *with_query(const char *loc, const char *q)
{
    return ctr_xasprintf("%s%c%s", loc, strchr(loc, '?') ? '&' : '?', q);
}

/* Simple request helper: method/url/scope, expected statuses, Location out. */
static int ul_request(struct registry_client *c, void *conn, struct registry_call *call, long want1,
                      long want2, const char *what, long *status, char **location, ctr_error_t *err)
{
    struct registry_http_resp resp = {0};
    int rc = registry_call(c, conn, call, &resp, err);
    if (rc < 0)
        return ctr_error_wrap(err, "%s", what);
    *status = resp.status;
    if (resp.status != want1 && resp.status != want2) {
        registry_status_error(c, &resp, what, err);
        registry_http_resp_reset(&resp);
        return -1;
    }
    if (location)
        *location = resp.location ? registry_resolve_location(c, resp.location) : NULL;
    registry_http_resp_reset(&resp);
    return 0;
}

int registry_upload_blob(struct registry_client *c, void *conn, const char *repo,
                         const char *digest, int64_t size, const char *path,
                         const char *const *mount_from, const char *what, ctr_error_t *err)
{
    cleanup_free char *url = registry_url(c, "/v2/%s/blobs/%s", repo, digest);
    cleanup_free char *scope = ctr_xasprintf("repository:%s:pull,push", repo);
    cleanup_free char *location = NULL;
    cleanup_free char *w = ctr_xasprintf("upload %s `%s` to `%s`", what, digest, repo);
    cleanup_close int fd = -1;
    struct stat st;
    long status;

    struct registry_call head = {.req = {.method = "HEAD", .url = url}, .scope = scope};
    if (ul_request(c, conn, &head, 200, 404, w, &status, NULL, err) < 0)
        return -1;
    if (status == 200) {
        registry_progress(c, REGISTRY_PROGRESS_EXISTS, digest, what, true, (uint64_t)size,
                          (uint64_t)size);
        return 0;
    }
    for (const char *const *src = mount_from; src && *src && !location; src++) {
        if (strcmp(*src, repo) == 0)
            continue;
        cleanup_free char *murl =
            registry_url(c, "/v2/%s/blobs/uploads/?mount=%s&from=%s", repo, digest, *src);
        cleanup_free char *mscope =
            ctr_xasprintf("repository:%s:pull,push repository:%s:pull", repo, *src);
        struct registry_call mount = {.req = {.method = "POST", .url = murl}, .scope = mscope};
        if (ul_request(c, conn, &mount, 201, 202, w, &status, &location, err) < 0)
            return -1;
        if (status == 201) {
            registry_progress(c, REGISTRY_PROGRESS_MOUNTED, digest, what, true, (uint64_t)size,
                              (uint64_t)size);
            return 0;
        }
    }
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return ctr_fail(err, errno, "%s: open `%s`", w, path);
    if (fstat(fd, &st) < 0 || st.st_size != size)
        return registry_fail_code(err, EBADMSG, "%s: `%s` has %lld bytes, the descriptor says %lld",
                                  w, path, (long long)st.st_size, (long long)size);
    if (location == NULL) {
        cleanup_free char *purl = registry_url(c, "/v2/%s/blobs/uploads/", repo);
        struct registry_call post = {.req = {.method = "POST", .url = purl}, .scope = scope};
        if (ul_request(c, conn, &post, 202, 202, w, &status, &location, err) < 0)
            return -1;
        if (location == NULL)
            return registry_fail_code(err, EPROTO, "%s: registry gave no upload location", w);
    }
    registry_progress(c, REGISTRY_PROGRESS_START, digest, what, true, 0, (uint64_t)size);
    struct ul u = {.c = c, .digest = digest, .what = what, .fd = fd, .total = (uint64_t)size};
    char *octet = "Content-Type: application/octet-stream";
    cleanup_free char *dq = ctr_xasprintf("digest=%s", digest);
    if ((uint64_t)size > c->opts.chunk_size) {
        for (uint64_t off = 0; off < (uint64_t)size; off += c->opts.chunk_size) {
            uint64_t n = (uint64_t)size - off < c->opts.chunk_size ? (uint64_t)size - off
                                                                   : c->opts.chunk_size;
            cleanup_free char *cr =
                ctr_xasprintf("Content-Range: %llu-%llu", (unsigned long long)off,
                              (unsigned long long)(off + n - 1));
            char *hdrs[] = {octet, cr, NULL};
            u.start = off;
            u.len = n;
            u.pos = 0;
            u.base_done = off;
            /* A PATCH cannot be replayed safely once the registry took part of it. */
            struct registry_call patch = {.req = {.method = "PATCH",
                                                  .url = location,
                                                  .headers = hdrs,
                                                  .source = ul_source,
                                                  .source_opaque = &u,
                                                  .source_len = n},
                                          .scope = scope,
                                          .no_retry = true,
                                          /* replayed only after a 401: nothing was taken */
                                          .on_retry = ul_rewind,
                                          .retry_opaque = &u};
            char *next = NULL;
            if (ul_request(c, conn, &patch, 202, 204, w, &status, &next, err) < 0)
                return -1;
            if (next) {
                free(location);
                location = next;
            }
        }
        cleanup_free char *put = with_query(location, dq);
        char *hdrs[] = {octet, NULL};
        struct registry_call fin = {.req = {.method = "PUT", .url = put, .headers = hdrs},
                                    .scope = scope,
                                    .no_retry = true};
        if (ul_request(c, conn, &fin, 201, 204, w, &status, NULL, err) < 0)
            return -1;
    } else {
        cleanup_free char *put = with_query(location, dq);
        char *hdrs[] = {octet, NULL};
        u.len = (uint64_t)size;
        struct registry_call mono = {.req = {.method = "PUT",
                                             .url = put,
                                             .headers = hdrs,
                                             .source = ul_source,
                                             .source_opaque = &u,
                                             .source_len = (uint64_t)size},
                                     .scope = scope,
                                     .on_retry = ul_rewind,
                                     .retry_opaque = &u};
        if (ul_request(c, conn, &mono, 201, 204, w, &status, NULL, err) < 0)
            return -1;
    }
    registry_progress(c, REGISTRY_PROGRESS_DONE, digest, what, true, (uint64_t)size,
                      (uint64_t)size);
    return 0;
}
