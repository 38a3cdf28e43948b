/* POST /images/create (pull) and POST /images/{name}/push: the request (reference,
 * platform, X-Registry-Auth, our scheme and maxConcurrentDownloads) is checked here, then
 * the transfer (pull.c) runs in a thread of its own while its progress goes to the client
 * as docker's JSON message lines through a pipe. */
#include "daemon/api/api.h"
#include "registry/registry.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct job {
    struct dmn *d;
    int wfd;
    pthread_mutex_t wlock;
    bool push;
    char *ref;    /* pull: the reference; push: the repository as named */
    char **names; /* push: the local names to push */
    char *platform;
    char *user, *pass;
    struct dmn_xfer_opts o;
};

static void job_free(struct job *j)
{
    if (j->wfd >= 0)
        close(j->wfd);
    pthread_mutex_destroy(&j->wlock);
    free(j->ref);
    ctr_strv_free(j->names);
    free(j->platform);
    free(j->user);
    if (j->pass)
        explicit_bzero(j->pass, strlen(j->pass));
    free(j->pass);
    free(j);
}

static void job_write(struct job *j, json_t *m)
{
    char *s = m ? json_dumps(m, JSON_COMPACT) : NULL;
    json_decref(m);
    if (s == NULL) { /* a json_pack that failed: a bug to log, never a crash */
        log_error("cannot encode a progress message as JSON");
        return;
    }
    pthread_mutex_lock(&j->wlock);
    if (ctr_write_all(j->wfd, s, strlen(s)) < 0 || ctr_write_all(j->wfd, "\n", 1) < 0)
        log_debug("registry client gone");
    pthread_mutex_unlock(&j->wlock);
    free(s);
}

/* ---- the sink: Docker's progress messages ---- */

static void sink_status(void *ctx, const char *status, const char *id)
{
    struct job *j = ctx;
    if (id)
        job_write(j, json_pack("{s:o,s:{},s:o}", "status", ctr_json_str(status), "progressDetail",
                               "id", ctr_json_str(id)));
    else
        job_write(j, json_pack("{s:o}", "status", ctr_json_str(status)));
}

static void sink_layer(void *ctx, const struct registry_progress_event *ev)
{
    struct job *j = ctx;
    char id[13];
    snprintf(id, sizeof(id), "%s", ev->digest && strlen(ev->digest) > 19 ? ev->digest + 7 : "");
    switch (ev->kind) {
    case REGISTRY_PROGRESS_START:
        sink_status(j, ev->push ? "Preparing" : "Pulling fs layer", id);
        break;
    case REGISTRY_PROGRESS_BYTES:
        job_write(j, json_pack("{s:s,s:{s:I,s:I},s:s}", "status",
                               ev->push ? "Pushing" : "Downloading", "progressDetail", "current",
                               (json_int_t)ev->done, "total", (json_int_t)ev->total, "id", id));
        break;
    case REGISTRY_PROGRESS_DONE:
        sink_status(j, ev->push ? "Pushed" : "Download complete", id);
        break;
    case REGISTRY_PROGRESS_EXISTS:
        sink_status(j, ev->push ? "Layer already exists" : "Already exists", id);
        break;
    case REGISTRY_PROGRESS_MOUNTED:
        sink_status(j, "Mounted from another repository", id);
        break;
    case REGISTRY_PROGRESS_RETRY:
        sink_status(j, "Retrying", id);
        break;
    default:
        break;
    }
}

static void sink_pushed(void *ctx, const char *tag, const char *digest, uint64_t size)
{
    job_write(ctx, json_pack("{s:{},s:{s:s,s:s,s:I}}", "progressDetail", "aux", "Tag", tag,
                             "Digest", digest, "Size", (json_int_t)size));
}

static void job_error(struct job *j, ctr_error_t *err)
{
    /* The message may quote the reference or a registry's reply: any byte. */
    job_write(j, json_pack("{s:{s:o},s:o}", "errorDetail", "message", ctr_json_str((*err)->msg),
                           "error", ctr_json_str((*err)->msg)));
    ctr_error_free(err);
}

static void *job_thread(void *arg)
{
    struct job *j = arg;
    ctr_error_t err = NULL;
    struct dmn_xfer_sink sink = {
        .layer = sink_layer, .status = sink_status, .pushed = sink_pushed, .ctx = j};

    j->o.user = j->user;
    j->o.pass = j->pass;
    j->o.platform = j->platform;
    if ((j->push ? dmn_image_push(j->d, j->ref, j->names, &j->o, &sink, &err)
                 : dmn_image_pull(j->d, j->ref, &j->o, &sink, &err)) < 0 &&
        err)
        job_error(j, &err);
    job_free(j);
    return NULL;
}

/* X-Registry-Auth: base64url(JSON {username, password} or {auth: base64(user:pass)}). */
static int auth_parse(const char *hdr, char **user, char **pass, ctr_error_t *err)
{
    size_t n = hdr ? strlen(hdr) : 0;
    cleanup_free char *b = ctr_xmalloc(n + 4), *raw = ctr_xmalloc(n + 4);
    json_t *j;
    const char *u, *p, *a;

    *user = *pass = NULL;
    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++)
        b[i] = hdr[i] == '-' ? '+' : hdr[i] == '_' ? '/' : hdr[i];
    while (n % 4)
        b[n++] = '=';
    b[n] = '\0';
    int len = EVP_DecodeBlock((unsigned char *)raw, (unsigned char *)b, (int)n);
    if (len < 0)
        return ctr_fail(err, EINVAL, "`X-Registry-Auth` is not base64");
    while (len > 0 && raw[len - 1] == '\0')
        len--;
    j = json_loadb(raw, (size_t)len, 0, NULL);
    if (!json_is_object(j)) {
        json_decref(j);
        return ctr_fail(err, EINVAL, "`X-Registry-Auth` is not a JSON object");
    }
    u = json_string_value(json_object_get(j, "username"));
    p = json_string_value(json_object_get(j, "password"));
    a = json_string_value(json_object_get(j, "auth"));
    if (u && *u) {
        *user = ctr_xstrdup(u);
        *pass = ctr_xstrdup(p ? p : "");
    } else if (a && *a) {
        size_t al = strlen(a);
        cleanup_free char *dec = ctr_xmalloc(al + 4);
        int dl = EVP_DecodeBlock((unsigned char *)dec, (const unsigned char *)a, (int)al);
        char *colon = dl > 0 ? memchr(dec, ':', (size_t)dl) : NULL;
        if (colon) {
            *user = ctr_xstrndup(dec, (size_t)(colon - dec));
            *pass = ctr_xstrdup(colon + 1); /* padding decodes as trailing NULs */
        }
        explicit_bzero(dec, al + 4);
    }
    json_decref(j);
    explicit_bzero(raw, n + 4);
    return 0;
}

struct pipe_reader {
    int fd;
};

static struct pipe_reader *pipe_reader_new(int fd)
{
    struct pipe_reader *pr = ctr_xcalloc(1, sizeof(*pr));
    pr->fd = fd;
    return pr;
}

static ssize_t pipe_fill(void *ctx, char *buf, size_t max)
{
    struct pipe_reader *pr = ctx;
    for (;;) {
        ssize_t n = read(pr->fd, buf, max);
        if (n < 0 && errno == EINTR)
            continue;
        return n;
    }
}

static void pipe_free(void *ctx)
{
    struct pipe_reader *pr = ctx;
    close(pr->fd);
    free(pr);
}

/* Start the job in a thread and stream what it writes. Takes j. */
static int job_start(struct api_req *r, struct job *j)
{
    int fds[2];
    pthread_t t;
    ctr_error_t err = NULL;

    if (auth_parse(api_header(r, "X-Registry-Auth"), &j->user, &j->pass, &err) < 0) {
        job_free(j);
        return api_reply_ctr_error(r, &err);
    }
    if (pipe2(fds, O_CLOEXEC) < 0) {
        job_free(j);
        return api_reply_error(r, 500, "pipe: %s", strerror(errno));
    }
    j->wfd = fds[1];
    if (pthread_create(&t, NULL, job_thread, j) != 0) {
        close(fds[0]);
        job_free(j);
        return api_reply_error(r, 500, "cannot start the transfer");
    }
    pthread_detach(t);
    return api_reply_stream(r, 200, "application/json", pipe_fill, pipe_reader_new(fds[0]),
                            pipe_free);
}

static struct job *job_new(struct api_req *r, char *ref)
{
    struct job *j = ctr_xcalloc(1, sizeof(*j));
    j->d = r->d;
    j->wfd = -1;
    j->ref = ref;
    j->o.scheme = REGISTRY_SCHEME_AUTO;
    pthread_mutex_init(&j->wlock, NULL);
    return j;
}

/* Our query parameters (docker clients never send them): scheme=http|https|auto,
 * maxConcurrentDownloads=1..32. */
static int job_query(struct api_req *r, enum registry_scheme *scheme, unsigned *maxc,
                     ctr_error_t *err)
{
    const char *s = api_query(r, "scheme"), *m = api_query(r, "maxConcurrentDownloads");
    *scheme = REGISTRY_SCHEME_AUTO;
    *maxc = 0;
    if (s && *s && registry_scheme_parse(s, scheme, err) < 0)
        return -1;
    if (m && *m) {
        char *end;
        errno = 0;
        long v = strtol(m, &end, 10);
        if (errno || *end || v < 1 || v > 32)
            return ctr_fail(err, EINVAL, "invalid `maxConcurrentDownloads` `%s`: expected 1 to 32",
                            m);
        *maxc = (unsigned)v;
    }
    return 0;
}

/* name + tag query as docker sends them: tag may be a tag or a digest. */
static char *with_tag(const char *name, const char *tag)
{
    if (tag == NULL || *tag == '\0' || strchr(name, '@'))
        return ctr_xstrdup(name);
    bool digest = strncmp(tag, "sha256:", 7) == 0;
    return ctr_xasprintf("%s%s%s", name, digest ? "@" : ":", tag);
}

int api_handle_images_create(struct api_req *r)
{
    const char *from = api_query(r, "fromImage"), *tag = api_query(r, "tag");
    const char *platform = api_query(r, "platform");
    ctr_error_t err = NULL;
    struct oci_platform plat = {0};
    enum registry_scheme scheme;
    unsigned maxc;

    if (api_query(r, "fromSrc"))
        return api_handle_images_import(r);
    if (from == NULL || *from == '\0')
        return api_reply_error(r, 400, "`fromImage` is missing: name the image to pull");
    if (platform && *platform && oci_platform_parse(platform, &plat, &err) < 0)
        return api_reply_ctr_error(r, &err);
    oci_platform_release(&plat); /* checked here, parsed again by the pull */
    if (job_query(r, &scheme, &maxc, &err) < 0)
        return api_reply_ctr_error(r, &err);
    char *ref = with_tag(from, tag);
    /* Docker checks the reference before it answers 200 and streams. */
    cleanup_free char *norm = oci_ref_normalize(ref, &err);
    if (norm == NULL) {
        free(ref);
        err->errnum = EINVAL;
        return api_reply_ctr_error(r, &err);
    }
    struct job *j = job_new(r, ref);
    j->o.scheme = scheme;
    j->o.max_concurrent = maxc;
    if (platform && *platform)
        j->platform = ctr_xstrdup(platform);
    return job_start(r, j);
}

int api_handle_image_push(struct api_req *r)
{
    ctr_error_t err = NULL;
    cleanup_free char *ref = with_tag(r->params[0], api_query(r, "tag"));
    char **names = NULL;
    enum registry_scheme scheme;
    unsigned maxc;

    if (job_query(r, &scheme, &maxc, &err) < 0 || dmn_image_push_names(r->d, ref, &names, &err) < 0)
        return api_reply_ctr_error(r, &err);
    struct job *j = job_new(r, ctr_steal_ptr(ref));
    j->push = true;
    j->names = names;
    j->o.scheme = scheme;
    j->o.max_concurrent = maxc;
    return job_start(r, j);
}

/* GET /distribution/{name}/json: Docker's DistributionInspect. */
int api_handle_distribution(struct api_req *r)
{
    ctr_error_t err = NULL;
    cleanup_free char *user = NULL, *pass = NULL;
    struct dmn_xfer_opts o = {0};
    unsigned maxc;
    if (auth_parse(api_header(r, "X-Registry-Auth"), &user, &pass, &err) < 0 ||
        job_query(r, &o.scheme, &maxc, &err) < 0)
        return api_reply_ctr_error(r, &err);
    o.user = user;
    o.pass = pass;
    struct dmn_distribution x = {0};
    if (dmn_distribution_inspect(r->d, r->params[0], &o, &x, &err) < 0)
        return api_reply_ctr_error(r, &err);
    json_t *plats = json_array();
    for (size_t i = 0; i < x.n_platforms; i++) {
        json_t *p = json_pack("{s:s,s:s}", "architecture", x.platforms[i].architecture, "os",
                              x.platforms[i].os);
        if (x.platforms[i].variant && *x.platforms[i].variant)
            json_object_set_new(p, "variant", json_string(x.platforms[i].variant));
        json_array_append_new(plats, p);
    }
    json_t *j = json_pack("{s:{s:s,s:s,s:I},s:o}", "Descriptor", "mediaType", x.media_type,
                          "digest", x.digest, "size", (json_int_t)x.size, "Platforms", plats);
    dmn_distribution_release(&x);
    return api_reply_json(r, 200, j);
}
