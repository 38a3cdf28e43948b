/* POST /containers/{id}/attach: the query becomes the attach options, the hijacked
 * socket goes to the attach service (stream.c). */
#include "daemon/api/api.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct attach_ctx {
    struct dmn *d;
    struct dmn_container *c;
    struct dmn_attach_opts o;
};

static void attach_hijacked(void *ctx, int fd, const char *pre, size_t pre_len)
{
    struct attach_ctx *a = ctx;
    dmn_attach_run(a->d, a->c, fd, &a->o, pre, pre_len);
}

static void attach_free(void *ctx)
{
    struct attach_ctx *a = ctx;
    dmn_container_put(a->d, a->c);
    free(a);
}

/* ---- the WebSocket attach: the service on one end of a socketpair ---- */

struct ws_attach {
    struct attach_ctx *a;
    int fd;
};

static void *attach_ws_thread(void *arg)
{
    struct ws_attach *w = arg;
    dmn_attach_run(w->a->d, w->a->c, w->fd, &w->a->o, NULL, 0);
    shutdown(w->fd, SHUT_RDWR); /* the bridge sees the end */
    return NULL;
}

static void attach_ws_hijacked(void *ctx, int fd, const char *pre, size_t pre_len)
{
    int sp[2];
    pthread_t t;
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0)
        return;
    struct ws_attach w = {.a = ctx, .fd = sp[1]};
    if (pthread_create(&t, NULL, attach_ws_thread, &w) != 0) {
        close(sp[0]);
        close(sp[1]);
        return;
    }
    api_ws_bridge(fd, pre, pre_len, sp[0]);
    shutdown(sp[0], SHUT_RDWR); /* the relay sees its client leave */
    pthread_join(t, NULL);
    close(sp[0]);
    close(sp[1]);
}

/* The query's attach options and the container, shared by the hijacked and the WebSocket
 * attach; NULL when the reply (an error) was sent. ws: moby's wsContainersAttach (raw
 * stream, no headers; a client leaving closes stdin only for StdinOnce). */
static struct attach_ctx *attach_prepare(struct api_req *r, bool ws, int *rc)
{
    ctr_error_t err = NULL;
    const char *dk = api_query(r, "detachKeys");
    uint8_t keys[CTR_DETACH_KEYS_MAX];
    size_t n_keys = 0;
    if (ctr_detach_keys_parse(dk && *dk ? dk : CTR_DETACH_KEYS_DEFAULT, keys, &n_keys) < 0) {
        *rc = api_reply_error(r, 400, "Invalid detach keys (%s) provided", dk);
        return NULL;
    }
    struct dmn_container *c = dmn_container_get(r->d, r->params[0], &err);
    if (c == NULL) {
        *rc = api_reply_ctr_error(r, &err);
        return NULL;
    }
    struct attach_ctx *a = ctr_xcalloc(1, sizeof(*a));
    a->d = r->d;
    a->c = c;
    a->o = (struct dmn_attach_opts){.in = api_query_bool(r, "stdin"),
                                    .out = api_query_bool(r, "stdout"),
                                    .err = api_query_bool(r, "stderr"),
                                    .logs = api_query_bool(r, "logs"),
                                    .stream = api_query_bool(r, "stream"),
                                    .raw = ws,
                                    .keep_stdin = ws && !c->stdin_once,
                                    .n_detach_keys = n_keys};
    memcpy(a->o.detach_keys, keys, sizeof(keys));
    dmn_attach_begin(r->d, c, &a->o);
    return a;
}

/* GET /containers/{id}/attach/ws */
int api_handle_attach_ws(struct api_req *r)
{
    int rc = 0;
    struct attach_ctx *a = attach_prepare(r, true, &rc);
    if (a == NULL)
        return rc;
    return api_reply_websocket(r, attach_ws_hijacked, a, attach_free);
}

int api_handle_attach(struct api_req *r)
{
    int rc = 0;
    struct attach_ctx *a = attach_prepare(r, false, &rc);
    if (a == NULL)
        return rc;
    return api_reply_hijack(r,
                            a->c->tty ? "application/vnd.docker.raw-stream"
                                      : "application/vnd.docker.multiplexed-stream",
                            attach_hijacked, a, attach_free);
}
