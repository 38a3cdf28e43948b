/* The port proxy: the bundle's `ports`, bound by the shim before the VM boots and
 * relayed to container_ip:container_port over the bridge, in a thread of its own with
 * its own epoll (the shim's loop never waits on a relay). Living in the shim, published
 * ports survive daemon restarts and end with the container.
 *
 * TCP: accept, connect (nonblocking; refused or unreachable attempts are retried every
 * 100 ms while the guest boots and for a 2 s grace once it runs), then relay both ways
 * through one 64 KiB buffer per direction with half-close (EOF from one side becomes
 * shutdown(SHUT_WR) on the other once its buffer is flushed).
 * UDP: one flow per client address, each with a socket connected to the container;
 * replies go back from the published socket, with the address the client sent to as
 * source (IP_PKTINFO); flows idle for 60 s are dropped. */
#include "shim/net-internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define PROXY_BUF 65536
#define PROXY_MAX_CONNS 4096
#define PROXY_MAX_FLOWS 4096
#define PROXY_RETRY_NS (100ull * 1000000ull)
#define PROXY_GRACE_NS (2000ull * 1000000ull)
#define PROXY_UDP_IDLE_NS (60000ull * 1000000ull)
#define PROXY_SWEEP_MS 1000

enum pkind { PK_STOP, PK_TCP_LISTEN, PK_UDP_LISTEN, PK_CLIENT, PK_UPSTREAM, PK_FLOW };

struct pwatch {
    enum pkind kind;
    void *obj;
};

struct listener {
    struct pwatch w;
    int fd;
    bool tcp;
    struct sockaddr_in dst;
    char desc[64]; /* "127.0.0.1:8080/tcp" */
};

/* One direction of a TCP relay: bytes read from one socket, not yet written to the other. */
struct half {
    char *buf;
    size_t off, len;
    bool eof;  /* the source said EOF */
    bool shut; /* shutdown(SHUT_WR) sent to the destination */
};

struct conn {
    struct pwatch cw, uw;
    int cfd, ufd; /* client, upstream (-1 between connect attempts) */
    struct listener *l;
    bool connected;
    uint64_t accepted_ns, retry_at_ns; /* retry_at_ns: next connect attempt, 0 = none due */
    struct half up, down;              /* client -> container, container -> client */
    uint32_t cev, uev;                 /* registered epoll masks (0 = not registered) */
    bool dead;                         /* closed; freed after the current batch of events */
    struct conn *prev, *next;
};

struct flow {
    struct pwatch w;
    int fd; /* connected to the container */
    struct listener *l;
    struct sockaddr_in client;
    struct in_addr local; /* the address the client sent to: the source of our answers */
    uint64_t last_ns;
    struct flow *prev, *next;
};

struct shim_proxy {
    int epfd, stopfd;
    struct pwatch stop_w;
    pthread_t thread;
    bool started;
    struct listener *ls;
    size_t n_ls;
    struct conn *conns;
    size_t n_conns;
    struct flow *flows;
    size_t n_flows;
    struct conn *dead;           /* closed connections, freed after each batch of events */
    _Atomic uint64_t running_ns; /* when the main process started; 0 = still booting */
    char *udp_buf;
};

static void port_desc(const struct bundle_port *p, char *buf, size_t n)
{
    snprintf(buf, n, "%s:%u/%s", p->host_ip, p->host_port, p->proto);
}

/* More connections than the default 1024 fds allow: raise the soft limit. */
static void raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max && rl.rlim_cur < 65536) {
        rl.rlim_cur = rl.rlim_max < 65536 ? rl.rlim_max : 65536;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static int ep_set(struct shim_proxy *p, int fd, uint32_t *cur, uint32_t want, struct pwatch *w)
{
    struct epoll_event ev = {.events = want, .data.ptr = w};
    int op = *cur == 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;

    if (want == *cur)
        return 0;
    if (want == 0) {
        epoll_ctl(p->epfd, EPOLL_CTL_DEL, fd, NULL);
        *cur = 0;
        return 0;
    }
    if (epoll_ctl(p->epfd, op, fd, &ev) < 0)
        return -1;
    *cur = want;
    return 0;
}

/* ---- TCP ---- */

/* Events of the current batch may still point at c: it is only marked dead here and
 * freed by conn_reap once the batch is done. */
static void conn_close(struct shim_proxy *p, struct conn *c)
{
    if (c->cfd >= 0)
        close(c->cfd); /* closing removes it from the epoll set */
    if (c->ufd >= 0)
        close(c->ufd);
    c->cfd = c->ufd = -1;
    c->dead = true;
    if (c->prev)
        c->prev->next = c->next;
    else
        p->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    p->n_conns--;
    c->prev = NULL;
    c->next = p->dead;
    p->dead = c;
}

static void conn_reap(struct shim_proxy *p)
{
    while (p->dead) {
        struct conn *c = p->dead;
        p->dead = c->next;
        free(c->up.buf);
        free(c->down.buf);
        free(c);
    }
}

static bool retryable(int e)
{
    return e == ECONNREFUSED || e == EHOSTUNREACH || e == ENETUNREACH || e == ETIMEDOUT ||
           e == EHOSTDOWN || e == ENETDOWN;
}

/* Whether a refused attempt should be tried again: while the guest boots, and for a
 * short grace after its main process started (a server it runs may not listen yet). */
static bool may_retry(struct shim_proxy *p, struct conn *c, uint64_t now)
{
    uint64_t running = atomic_load(&p->running_ns);
    if (running == 0)
        return true;
    uint64_t from = running > c->accepted_ns ? running : c->accepted_ns;
    return now < from + PROXY_GRACE_NS;
}

static int conn_update(struct shim_proxy *p, struct conn *c);

static void conn_connect(struct shim_proxy *p, struct conn *c)
{
    c->retry_at_ns = 0;
    c->ufd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->ufd < 0) {
        conn_close(p, c);
        return;
    }
    int one = 1;
    setsockopt(c->ufd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(c->ufd, (struct sockaddr *)&c->l->dst, sizeof(c->l->dst)) < 0 &&
        errno != EINPROGRESS) {
        int e = errno;
        close(c->ufd);
        c->ufd = -1;
        if (retryable(e) && may_retry(p, c, ctr_now_ns())) {
            c->retry_at_ns = ctr_now_ns() + PROXY_RETRY_NS;
            return;
        }
        conn_close(p, c);
        return;
    }
    c->uev = 0;
    if (ep_set(p, c->ufd, &c->uev, EPOLLOUT, &c->uw) < 0)
        conn_close(p, c);
}

/* The nonblocking connect finished one way or the other. */
static void conn_connected(struct shim_proxy *p, struct conn *c)
{
    int e = 0;
    socklen_t len = sizeof(e);

    if (getsockopt(c->ufd, SOL_SOCKET, SO_ERROR, &e, &len) < 0)
        e = errno;
    if (e != 0) {
        close(c->ufd);
        c->ufd = -1;
        c->uev = 0;
        if (retryable(e) && may_retry(p, c, ctr_now_ns())) {
            c->retry_at_ns = ctr_now_ns() + PROXY_RETRY_NS;
            return;
        }
        log_debug("port %s: connect to the container: %s", c->l->desc, strerror(e));
        conn_close(p, c);
        return;
    }
    c->connected = true;
    c->up.buf = ctr_xmalloc(PROXY_BUF);
    c->down.buf = ctr_xmalloc(PROXY_BUF);
    conn_update(p, c);
}

/* Move what can move from src through h to dst, at most 16 buffers at a time so that one
 * fast connection cannot starve the others (epoll is level-triggered: the rest comes
 * with the next round). Returns -1 when the connection broke. */
static int pump(struct half *h, int src, int dst)
{
    for (int round = 0; round < 16; round++) {
        bool progress = false;
        if (!h->eof && h->len == 0) {
            ssize_t n = recv(src, h->buf, PROXY_BUF, MSG_DONTWAIT);
            if (n > 0) {
                h->off = 0;
                h->len = (size_t)n;
                progress = true;
            } else if (n == 0) {
                h->eof = true;
            } else if (errno != EAGAIN && errno != EINTR) {
                return -1;
            }
        }
        if (h->len > 0) {
            ssize_t n = send(dst, h->buf + h->off, h->len, MSG_DONTWAIT | MSG_NOSIGNAL);
            if (n > 0) {
                h->off += (size_t)n;
                h->len -= (size_t)n;
                progress = h->len == 0; /* room again: read more */
            } else if (errno != EAGAIN && errno != EINTR) {
                return -1;
            }
        }
        if (h->eof && h->len == 0 && !h->shut) {
            shutdown(dst, SHUT_WR);
            h->shut = true;
        }
        if (!progress)
            return 0;
    }
    return 0;
}

/* Relay, then register what each side waits for; closes the connection when both
 * directions are done or one broke. Returns -1 when c was freed. */
static int conn_update(struct shim_proxy *p, struct conn *c)
{
    if (pump(&c->up, c->cfd, c->ufd) < 0 || pump(&c->down, c->ufd, c->cfd) < 0 ||
        (c->up.shut && c->down.shut)) {
        conn_close(p, c);
        return -1;
    }
    uint32_t cw = (!c->up.eof && c->up.len == 0 ? EPOLLIN : 0) | (c->down.len ? EPOLLOUT : 0);
    uint32_t uw = (!c->down.eof && c->down.len == 0 ? EPOLLIN : 0) | (c->up.len ? EPOLLOUT : 0);
    /* a side that waits for nothing leaves the epoll set (it would report HUP forever) */
    if (ep_set(p, c->cfd, &c->cev, cw, &c->cw) < 0 || ep_set(p, c->ufd, &c->uev, uw, &c->uw) < 0) {
        conn_close(p, c);
        return -1;
    }
    return 0;
}

static void tcp_accept(struct shim_proxy *p, struct listener *l)
{
    for (int i = 0; i < 64; i++) {
        int fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return; /* EAGAIN, or a client that gave up (ECONNABORTED): nothing to do */
        if (p->n_conns >= PROXY_MAX_CONNS) {
            close(fd);
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        struct conn *c = ctr_xcalloc(1, sizeof(*c));
        c->cw = (struct pwatch){PK_CLIENT, c};
        c->uw = (struct pwatch){PK_UPSTREAM, c};
        c->cfd = fd;
        c->ufd = -1;
        c->l = l;
        c->accepted_ns = ctr_now_ns();
        c->next = p->conns;
        if (p->conns)
            p->conns->prev = c;
        p->conns = c;
        p->n_conns++;
        conn_connect(p, c);
    }
}

/* ---- UDP ---- */

static void flow_close(struct shim_proxy *p, struct flow *f)
{
    close(f->fd);
    if (f->prev)
        f->prev->next = f->next;
    else
        p->flows = f->next;
    if (f->next)
        f->next->prev = f->prev;
    p->n_flows--;
    free(f);
}

static struct flow *flow_get(struct shim_proxy *p, struct listener *l,
                             const struct sockaddr_in *client)
{
    struct flow *f;

    for (f = p->flows; f; f = f->next)
        if (f->l == l && f->client.sin_addr.s_addr == client->sin_addr.s_addr &&
            f->client.sin_port == client->sin_port)
            return f;
    if (p->n_flows >= PROXY_MAX_FLOWS)
        return NULL;
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return NULL;
    if (connect(fd, (struct sockaddr *)&l->dst, sizeof(l->dst)) < 0) {
        close(fd);
        return NULL;
    }
    f = ctr_xcalloc(1, sizeof(*f));
    f->w = (struct pwatch){PK_FLOW, f};
    f->fd = fd;
    f->l = l;
    f->client = *client;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &f->w};
    if (epoll_ctl(p->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
        close(fd);
        free(f);
        return NULL;
    }
    f->next = p->flows;
    if (p->flows)
        p->flows->prev = f;
    p->flows = f;
    p->n_flows++;
    return f;
}

static void udp_from_client(struct shim_proxy *p, struct listener *l)
{
    for (int i = 0; i < 64; i++) {
        struct sockaddr_in from;
        char cbuf[CMSG_SPACE(sizeof(struct in_pktinfo))];
        struct iovec iov = {.iov_base = p->udp_buf, .iov_len = PROXY_BUF};
        struct msghdr mh = {.msg_name = &from,
                            .msg_namelen = sizeof(from),
                            .msg_iov = &iov,
                            .msg_iovlen = 1,
                            .msg_control = cbuf,
                            .msg_controllen = sizeof(cbuf)};
        ssize_t n = recvmsg(l->fd, &mh, MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return;
            continue; /* an ICMP error from an earlier reply: skip it */
        }
        if (mh.msg_namelen != sizeof(from) || from.sin_family != AF_INET)
            continue;
        struct flow *f = flow_get(p, l, &from);
        if (f == NULL)
            continue;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
            if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO)
                f->local = ((struct in_pktinfo *)CMSG_DATA(c))->ipi_spec_dst;
        f->last_ns = ctr_now_ns();
        (void)!send(f->fd, p->udp_buf, (size_t)n, MSG_DONTWAIT); /* best effort, as UDP is */
    }
}

/* Answer from the address the client sent to: on a wildcard listener the kernel would
 * otherwise pick the source by route, and a client's connected socket drops it. */
static void udp_reply(struct flow *f, const char *data, size_t len)
{
    char cbuf[CMSG_SPACE(sizeof(struct in_pktinfo))] = {0};
    struct iovec iov = {.iov_base = (void *)data, .iov_len = len};
    struct msghdr mh = {
        .msg_name = &f->client, .msg_namelen = sizeof(f->client), .msg_iov = &iov, .msg_iovlen = 1};
    if (f->local.s_addr != 0) {
        mh.msg_control = cbuf;
        mh.msg_controllen = sizeof(cbuf);
        struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
        c->cmsg_level = IPPROTO_IP;
        c->cmsg_type = IP_PKTINFO;
        c->cmsg_len = CMSG_LEN(sizeof(struct in_pktinfo));
        struct in_pktinfo pi = {.ipi_spec_dst = f->local};
        memcpy(CMSG_DATA(c), &pi, sizeof(pi));
    }
    (void)!sendmsg(f->l->fd, &mh, MSG_DONTWAIT);
}

static void udp_from_container(struct shim_proxy *p, struct flow *f)
{
    for (int i = 0; i < 64; i++) {
        ssize_t n = recv(f->fd, p->udp_buf, PROXY_BUF, MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return;
            continue; /* ECONNREFUSED: nothing listens in the container (yet) */
        }
        f->last_ns = ctr_now_ns();
        udp_reply(f, p->udp_buf, (size_t)n);
    }
}

/* ---- the thread ---- */

static int next_timeout_ms(struct shim_proxy *p, uint64_t now)
{
    uint64_t next = UINT64_MAX;

    for (struct conn *c = p->conns; c; c = c->next)
        if (c->retry_at_ns && c->retry_at_ns < next)
            next = c->retry_at_ns;
    if (next != UINT64_MAX)
        return next <= now ? 0 : (int)((next - now) / 1000000u) + 1;
    return p->flows ? PROXY_SWEEP_MS : -1;
}

static void timers(struct shim_proxy *p, uint64_t now)
{
    struct conn *c, *cn;
    struct flow *f, *fn;

    for (c = p->conns; c; c = cn) {
        cn = c->next;
        if (c->retry_at_ns && c->retry_at_ns <= now)
            conn_connect(p, c);
    }
    for (f = p->flows; f; f = fn) {
        fn = f->next;
        if (now - f->last_ns > PROXY_UDP_IDLE_NS)
            flow_close(p, f);
    }
}

static void *proxy_main(void *arg)
{
    struct shim_proxy *p = arg;
    struct epoll_event evs[64];

    for (;;) {
        int n = epoll_wait(p->epfd, evs, 64, next_timeout_ms(p, ctr_now_ns()));
        if (n < 0 && errno != EINTR)
            break;
        for (int i = 0; i < n; i++) {
            struct pwatch *w = evs[i].data.ptr;
            switch (w->kind) {
            case PK_STOP:
                return NULL;
            case PK_TCP_LISTEN:
                tcp_accept(p, w->obj);
                break;
            case PK_UDP_LISTEN:
                udp_from_client(p, w->obj);
                break;
            case PK_CLIENT:
            case PK_UPSTREAM: {
                struct conn *c = w->obj;
                if (c->dead)
                    break;
                if (w->kind == PK_UPSTREAM && !c->connected)
                    conn_connected(p, c);
                else
                    conn_update(p, c);
                break;
            }
            case PK_FLOW:
                udp_from_container(p, w->obj);
                break;
            }
        }
        timers(p, ctr_now_ns());
        conn_reap(p);
    }
    return NULL;
}

/* ---- start, stop ---- */

static int bind_port(struct shim_proxy *p, const struct bundle_port *port, struct listener *l,
                     ctr_error_t *err)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port->host_port)};
    int one = 1;

    l->tcp = strcmp(port->proto, "tcp") == 0;
    port_desc(port, l->desc, sizeof(l->desc));
    l->dst = (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons(port->container_port)};
    if (inet_pton(AF_INET, port->host_ip, &a.sin_addr) != 1 ||
        inet_pton(AF_INET, port->container_ip, &l->dst.sin_addr) != 1)
        return ctr_fail(err, EINVAL, "port %s: bad address", l->desc);
    l->fd = socket(AF_INET, (l->tcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (l->fd < 0)
        return ctr_fail(err, errno, "port %s: socket", l->desc);
    if (l->tcp)
        setsockopt(l->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)); /* TIME_WAIT only */
    else
        setsockopt(l->fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one)); /* see udp_reply */
    if (bind(l->fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
        if (errno == EADDRINUSE) { /* the exact words the daemon and docker users see */
            ctr_fail(err, 0, "port %s is already in use", l->desc);
            (*err)->errnum = EADDRINUSE;
            return -1;
        }
        if (errno == EADDRNOTAVAIL)
            return ctr_fail(err, errno, "port %s: address %s is not on this host", l->desc,
                            port->host_ip);
        if (errno == EACCES)
            return ctr_fail(err, errno, "port %s: binding a port below 1024 needs root", l->desc);
        return ctr_fail(err, errno, "port %s: bind", l->desc);
    }
    if (l->tcp && listen(l->fd, 128) < 0)
        return ctr_fail(err, errno, "port %s: listen", l->desc);
    l->w = (struct pwatch){l->tcp ? PK_TCP_LISTEN : PK_UDP_LISTEN, l};
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &l->w};
    if (epoll_ctl(p->epfd, EPOLL_CTL_ADD, l->fd, &ev) < 0)
        return ctr_fail(err, errno, "port %s: epoll", l->desc);
    return 0;
}

int shim_proxy_start(const struct bundle_port *ports, size_t n, struct shim_proxy **out,
                     ctr_error_t *err)
{
    struct shim_proxy *p;
    sigset_t all, old;
    int r;

    *out = NULL;
    if (n == 0)
        return 0;
    raise_nofile();
    p = ctr_xcalloc(1, sizeof(*p));
    p->epfd = epoll_create1(EPOLL_CLOEXEC);
    p->stopfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    p->ls = ctr_xcalloc(n, sizeof(*p->ls));
    p->udp_buf = ctr_xmalloc(PROXY_BUF);
    for (size_t i = 0; i < n; i++)
        p->ls[i].fd = -1;
    p->n_ls = n;
    if (p->epfd < 0 || p->stopfd < 0) {
        ctr_fail(err, errno, "port proxy: epoll/eventfd");
        goto fail;
    }
    p->stop_w = (struct pwatch){PK_STOP, NULL};
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &p->stop_w};
    if (epoll_ctl(p->epfd, EPOLL_CTL_ADD, p->stopfd, &ev) < 0) {
        ctr_fail(err, errno, "port proxy: epoll");
        goto fail;
    }
    for (size_t i = 0; i < n; i++)
        if (bind_port(p, &ports[i], &p->ls[i], err) < 0)
            goto fail;
    /* signals stay with the shim's signalfd: none may land in this thread */
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    r = pthread_create(&p->thread, NULL, proxy_main, p);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (r != 0) {
        ctr_fail(err, r, "port proxy: start thread");
        goto fail;
    }
    p->started = true;
    *out = p;
    return 0;
fail:
    shim_proxy_stop(p);
    return -1;
}

void shim_proxy_set_running(struct shim_proxy *p)
{
    if (p)
        atomic_store(&p->running_ns, ctr_now_ns());
}

void shim_proxy_stop(struct shim_proxy *p)
{
    if (p == NULL)
        return;
    if (p->started) {
        uint64_t one = 1;
        (void)!write(p->stopfd, &one, sizeof(one));
        pthread_join(p->thread, NULL);
    }
    while (p->conns)
        conn_close(p, p->conns);
    conn_reap(p);
    while (p->flows)
        flow_close(p, p->flows);
    for (size_t i = 0; i < p->n_ls; i++)
        if (p->ls[i].fd >= 0)
            close(p->ls[i].fd);
    if (p->epfd >= 0)
        close(p->epfd);
    if (p->stopfd >= 0)
        close(p->stopfd);
    free(p->ls);
    free(p->udp_buf);
    free(p);
}
