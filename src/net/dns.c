/* The per-network DNS resolver (see dns.h). One thread polls the UDP and TCP sockets and
 * answers local names itself; a query that goes upstream, and every TCP connection, gets a
 * short-lived detached worker thread (bounded), so a slow upstream never stalls local answers.
 * net_dns_stop wakes everything through one pipe and waits for the workers. */
#include "net/dns.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define HDR_LEN 12
#define QR 0x8000
#define AA 0x0400
#define TC 0x0200
#define RD 0x0100
#define RA 0x0080
#define OPCODE(f) (((f) >> 11) & 0xf)
#define TYPE_A 1
#define CLASS_IN 1
#define UDP_MAX 512
#define MAX_WORKERS 64
#define TCP_IDLE_MS 10000
#define TCP_MAX_CONNS 32

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

/* ---- parsing ---- */

/* Decode the name at off into out (dotted, no trailing dot). Pointers must point strictly
 * before the label sequence they interrupt, so every jump goes backwards: no loops. */
static int parse_name(const uint8_t *p, size_t len, size_t off, char out[256], size_t *end)
{
    size_t pos = off, limit = off, olen = 0;
    bool jumped = false;
    for (;;) {
        if (pos >= len)
            return -1;
        uint8_t c = p[pos];
        if (c == 0) {
            if (!jumped)
                *end = pos + 1;
            break;
        }
        if ((c & 0xc0) == 0xc0) {
            if (pos + 1 >= len)
                return -1;
            size_t ptr = (size_t)(c & 0x3f) << 8 | p[pos + 1];
            if (ptr >= limit)
                return -1;
            if (!jumped)
                *end = pos + 2;
            jumped = true;
            limit = pos = ptr;
            continue;
        }
        if (c & 0xc0) /* 0x40/0x80: extended label types, never valid in a query */
            return -1;
        if (pos + 1 + c > len || olen + c + (olen ? 1 : 0) > 253)
            return -1;
        if (olen)
            out[olen++] = '.';
        for (size_t i = 0; i < c; i++) {
            uint8_t b = p[pos + 1 + i];
            if (b <= 0x20 || b >= 0x7f || b == '.')
                return -1;
            out[olen++] = (char)b;
        }
        pos += 1 + c;
    }
    out[olen] = '\0';
    return 0;
}

int net_dns_parse_query(const uint8_t *pkt, size_t len, struct net_dns_query *q)
{
    memset(q, 0, sizeof(*q));
    if (len < HDR_LEN)
        return -1;
    q->id = get16(pkt);
    q->flags = get16(pkt + 2);
    if (q->flags & QR)
        return -1; /* a response: never answer one (no reflection loops) */
    if (OPCODE(q->flags) != 0)
        return NET_DNS_NOTIMP;
    if (get16(pkt + 4) != 1 || get16(pkt + 6) != 0 || get16(pkt + 8) != 0)
        return NET_DNS_FORMERR;
    size_t end = 0;
    if (parse_name(pkt, len, HDR_LEN, q->name, &end) < 0 || end + 4 > len)
        return NET_DNS_FORMERR;
    q->qtype = get16(pkt + end);
    q->qclass = get16(pkt + end + 2);
    /* What follows (the additional section: EDNS OPT) is relayed when forwarding, not read. */
    return 0;
}

/* ---- replies ---- */

static size_t encode_name(const char *name, uint8_t *out)
{
    size_t o = 0;
    const char *s = name;
    while (*s) {
        const char *dot = strchr(s, '.');
        size_t l = dot ? (size_t)(dot - s) : strlen(s);
        out[o++] = (uint8_t)l;
        memcpy(out + o, s, l);
        o += l;
        s += l + (dot ? 1 : 0);
    }
    out[o++] = 0;
    return o;
}

size_t net_dns_build_reply(const struct net_dns_query *q, bool with_question, int rcode, bool aa,
                           const uint32_t *addrs, size_t n, size_t max_len, uint8_t *out,
                           size_t cap)
{
    if (max_len > cap)
        max_len = cap;
    uint16_t flags = QR | RA | (q->flags & RD) | (aa ? AA : 0) | (rcode & 0xf);
    flags |= q->flags & 0x7800; /* opcode echoed */
    put16(out, q->id);
    put16(out + 4, 0);
    put16(out + 6, 0);
    put16(out + 8, 0);
    put16(out + 10, 0);
    size_t o = HDR_LEN;
    if (with_question) {
        o += encode_name(q->name, out + o); /* ≤ 255 bytes: fits the 512 minimum */
        put16(out + o, q->qtype);
        put16(out + o + 2, q->qclass);
        o += 4;
        put16(out + 4, 1);
        size_t an = 0;
        for (size_t i = 0; i < n; i++) {
            if (o + 16 > max_len) {
                flags |= TC;
                break;
            }
            put16(out + o, 0xc000 | HDR_LEN); /* the question's name */
            put16(out + o + 2, TYPE_A);
            put16(out + o + 4, CLASS_IN);
            uint32_t ttl = htonl(NET_DNS_TTL), a = htonl(addrs[i]);
            memcpy(out + o + 6, &ttl, 4);
            put16(out + o + 10, 4);
            memcpy(out + o + 12, &a, 4);
            o += 16;
            an++;
        }
        put16(out + 6, (uint16_t)an);
    }
    put16(out + 2, flags);
    return o;
}

static bool host_alias(const char *lower)
{
    return strcmp(lower, "host.container.internal") == 0 ||
           strcmp(lower, "host.docker.internal") == 0;
}

enum net_dns_action net_dns_handle_query(const struct net_dns_local *l, const uint8_t *pkt,
                                         size_t len, size_t max_len, struct net_dns_query *q,
                                         uint8_t *out, size_t cap, size_t *out_len)
{
    int r = net_dns_parse_query(pkt, len, q);
    if (r < 0)
        return NET_DNS_DROP;
    if (r > 0) {
        *out_len = net_dns_build_reply(q, false, r, false, NULL, 0, max_len, out, cap);
        return NET_DNS_REPLY;
    }
    if (q->qclass != CLASS_IN || q->name[0] == '\0')
        return NET_DNS_FORWARD;
    char lower[256];
    size_t i = 0;
    for (; q->name[i]; i++)
        lower[i] = (char)tolower((unsigned char)q->name[i]);
    lower[i] = '\0';
    uint32_t addrs[NET_DNS_MAX_ADDRS];
    size_t n = 0;
    if (host_alias(lower)) {
        addrs[0] = l->listen_ip;
        n = 1;
    } else if (l->fn) {
        n = l->fn(l->ctx, l->client, lower, addrs, NET_DNS_MAX_ADDRS);
        if (n > NET_DNS_MAX_ADDRS)
            n = NET_DNS_MAX_ADDRS;
    }
    if (n == 0)
        return NET_DNS_FORWARD;
    /* A known name: its A records; any other type is NODATA (no IPv6 here) */
    if (q->qtype != TYPE_A)
        n = 0;
    *out_len = net_dns_build_reply(q, true, NET_DNS_NOERROR, true, addrs, n, max_len, out, cap);
    return NET_DNS_REPLY;
}

/* ---- upstreams ---- */

size_t net_dns_parse_resolv(const char *text, uint32_t self, struct net_dns_upstream *out,
                            size_t max)
{
    size_t n = 0;
    const char *line = text;
    while (line && *line && n < max) {
        const char *nl = strchr(line, '\n');
        size_t l = nl ? (size_t)(nl - line) : strlen(line);
        char buf[256];
        if (l < sizeof(buf)) {
            memcpy(buf, line, l);
            buf[l] = '\0';
            char *save = NULL, *kw = strtok_r(buf, " \t\r", &save);
            char *val = kw ? strtok_r(NULL, " \t\r", &save) : NULL;
            if (kw && val && strcmp(kw, "nameserver") == 0) {
                uint16_t port = 53;
                char *hash = strchr(val, '#');
                bool ok = true;
                if (hash) {
                    *hash = '\0';
                    char *e = NULL;
                    errno = 0;
                    long p = strtol(hash + 1, &e, 10);
                    ok = errno == 0 && *e == '\0' && e != hash + 1 && p > 0 && p < 65536;
                    port = (uint16_t)p;
                }
                struct in_addr a;
                if (ok && inet_pton(AF_INET, val, &a) == 1 &&
                    !(ntohl(a.s_addr) == self && port == 53) && ntohl(a.s_addr) != 0)
                    out[n++] = (struct net_dns_upstream){ntohl(a.s_addr), port};
                else
                    log_debug("dns: resolv.conf: nameserver `%s` skipped", val);
            }
        }
        line = nl ? nl + 1 : NULL;
    }
    return n;
}

struct net_dns_server {
    uint32_t listen_ip;
    uint16_t port;
    net_dns_lookup_fn fn;
    void *ctx;
    char *resolv_path;
    int udp, tcp;
    int stop_pipe[2];
    pthread_t thread;
    int timeout_ms;

    pthread_mutex_t lock; /* guards everything below and serializes fn */
    pthread_cond_t idle;
    int workers, tcp_conns;
    struct net_dns_upstream ups[NET_DNS_MAX_UPSTREAMS];
    size_t n_ups;
    struct timespec resolv_mtime;
    ino_t resolv_ino;
    bool resolv_loaded;
};

static size_t locked_lookup(void *ctx, uint32_t client, const char *name, uint32_t *addrs,
                            size_t max)
{
    struct net_dns_server *s = ctx;
    pthread_mutex_lock(&s->lock);
    size_t n = s->fn(s->ctx, client, name, addrs, max);
    pthread_mutex_unlock(&s->lock);
    return n;
}

/* Copy the upstream list, re-reading the resolv.conf when it changed (DHCP, VPNs). */
static size_t upstreams(struct net_dns_server *s, struct net_dns_upstream *out)
{
    pthread_mutex_lock(&s->lock);
    struct stat st;
    if (s->resolv_path == NULL || stat(s->resolv_path, &st) < 0) {
        s->n_ups = 0;
        s->resolv_loaded = false;
    } else if (!s->resolv_loaded || st.st_ino != s->resolv_ino ||
               st.st_mtim.tv_sec != s->resolv_mtime.tv_sec ||
               st.st_mtim.tv_nsec != s->resolv_mtime.tv_nsec) {
        char *text = NULL;
        ctr_error_t err = NULL;
        if (ctr_read_file(s->resolv_path, 1 << 20, &text, NULL, &err) == 0) {
            s->n_ups = net_dns_parse_resolv(text, s->listen_ip, s->ups, NET_DNS_MAX_UPSTREAMS);
            s->resolv_loaded = true;
            s->resolv_ino = st.st_ino;
            s->resolv_mtime = st.st_mtim;
            free(text);
        } else {
            log_warn("dns: %s", err->msg);
            ctr_error_free(&err);
            s->n_ups = 0;
        }
    }
    size_t n = s->n_ups;
    memcpy(out, s->ups, n * sizeof(*out));
    pthread_mutex_unlock(&s->lock);
    return n;
}

/* Wait for fd to be readable/writable, or for stop; 1 ready, 0 timeout/stop, -1 error. */
static int wait_fd(struct net_dns_server *s, int fd, short ev, int ms)
{
    struct pollfd p[2] = {{.fd = fd, .events = ev}, {.fd = s->stop_pipe[0], .events = POLLIN}};
    for (;;) {
        int r = poll(p, 2, ms);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0 || p[1].revents)
            return 0;
        return 1;
    }
}

static int sock_to(const struct net_dns_upstream *u, int type)
{
    int fd = socket(AF_INET, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in sa = {
        .sin_family = AF_INET, .sin_port = htons(u->port), .sin_addr.s_addr = htonl(u->addr)};
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno != EINPROGRESS) {
        close(fd);
        return -1;
    }
    return fd;
}

/* A reply from upstream is accepted only with our id, QR set and the same question. */
static bool reply_matches(const uint8_t *r, size_t rlen, const uint8_t *q, size_t qlen, uint16_t id)
{
    if (rlen < HDR_LEN || get16(r) != id || !(get16(r + 2) & QR) || get16(r + 4) != 1)
        return false;
    char na[256], nb[256];
    size_t ea = 0, eb = 0;
    if (parse_name(r, rlen, HDR_LEN, na, &ea) < 0 || parse_name(q, qlen, HDR_LEN, nb, &eb) < 0 ||
        ea + 4 > rlen || eb + 4 > qlen)
        return false;
    return strcasecmp(na, nb) == 0 && memcmp(r + ea, q + eb, 4) == 0;
}

static ssize_t udp_exchange(struct net_dns_server *s, const struct net_dns_upstream *u,
                            const uint8_t *q, size_t qlen, uint16_t id, uint8_t *out, size_t cap)
{
    cleanup_close int fd = sock_to(u, SOCK_DGRAM);
    if (fd < 0 || send(fd, q, qlen, 0) != (ssize_t)qlen)
        return -1;
    uint64_t deadline =
        ctr_now_ns() + (uint64_t)__atomic_load_n(&s->timeout_ms, __ATOMIC_RELAXED) * 1000000;
    for (;;) {
        uint64_t now = ctr_now_ns();
        if (now >= deadline)
            return -1;
        if (wait_fd(s, fd, POLLIN, (int)((deadline - now) / 1000000) + 1) <= 0)
            return -1;
        ssize_t r = recv(fd, out, cap, MSG_TRUNC);
        if (r < 0 && (errno == EAGAIN || errno == EINTR))
            continue;
        if (r < 0) /* ECONNREFUSED: nobody there, next server */
            return -1;
        if ((size_t)r > cap)
            continue;
        if (reply_matches(out, (size_t)r, q, qlen, id))
            return r;
        /* a stray or spoofed datagram: keep waiting for ours */
    }
}

static bool io_all(struct net_dns_server *s, int fd, uint8_t *buf, size_t len, bool wr, int ms)
{
    size_t done = 0;
    while (done < len) {
        ssize_t r = wr ? send(fd, buf + done, len - done, MSG_NOSIGNAL)
                       : recv(fd, buf + done, len - done, 0);
        if (r > 0) {
            done += (size_t)r;
            continue;
        }
        if (r == 0 || (errno != EAGAIN && errno != EINTR))
            return false;
        if (wait_fd(s, fd, wr ? POLLOUT : POLLIN, ms) <= 0)
            return false;
    }
    return true;
}

static ssize_t tcp_exchange(struct net_dns_server *s, const struct net_dns_upstream *u,
                            const uint8_t *q, size_t qlen, uint16_t id, uint8_t *out, size_t cap)
{
    cleanup_close int fd = sock_to(u, SOCK_STREAM);
    if (fd < 0)
        return -1;
    int ms = __atomic_load_n(&s->timeout_ms, __ATOMIC_RELAXED);
    uint8_t len[2];
    put16(len, (uint16_t)qlen);
    if (!io_all(s, fd, len, 2, true, ms) || !io_all(s, fd, (uint8_t *)q, qlen, true, ms) ||
        !io_all(s, fd, len, 2, false, ms))
        return -1;
    size_t rlen = get16(len);
    if (rlen > cap || !io_all(s, fd, out, rlen, false, ms))
        return -1;
    return reply_matches(out, rlen, q, qlen, id) ? (ssize_t)rlen : -1;
}

/* Ask the upstreams (each twice, in turn) under a fresh random id; the reply goes back with
 * the client's id. A truncated UDP answer is retried over TCP when the client came over TCP
 * (a UDP client gets TC and retries over TCP itself). */
static size_t forward(struct net_dns_server *s, const struct net_dns_query *q, const uint8_t *pkt,
                      size_t len, bool tcp_client, uint8_t *out, size_t cap)
{
    struct net_dns_upstream ups[NET_DNS_MAX_UPSTREAMS];
    size_t n = upstreams(s, ups);
    if (n == 0)
        return net_dns_build_reply(q, true, NET_DNS_NXDOMAIN, false, NULL, 0,
                                   tcp_client ? cap : UDP_MAX, out, cap);
    uint8_t *fq = ctr_xmalloc(len);
    memcpy(fq, pkt, len);
    for (int round = 0; round < 2; round++) {
        for (size_t i = 0; i < n; i++) {
            uint16_t id;
            if (getrandom(&id, sizeof(id), 0) != sizeof(id))
                id = (uint16_t)ctr_now_ns();
            put16(fq, id);
            ssize_t r = udp_exchange(s, &ups[i], fq, len, id, out, cap);
            if (r >= 0 && tcp_client && (get16(out + 2) & TC))
                r = tcp_exchange(s, &ups[i], fq, len, id, out, cap);
            if (r >= 0) {
                free(fq);
                put16(out, q->id);
                return (size_t)r;
            }
            char a[INET_ADDRSTRLEN];
            struct in_addr ia = {htonl(ups[i].addr)};
            log_debug("dns: upstream %s:%u gave no answer for `%s`",
                      inet_ntop(AF_INET, &ia, a, sizeof(a)), ups[i].port, q->name);
        }
    }
    free(fq);
    return net_dns_build_reply(q, true, NET_DNS_SERVFAIL, false, NULL, 0,
                               tcp_client ? cap : UDP_MAX, out, cap);
}

/* ---- workers ---- */

struct job {
    struct net_dns_server *s;
    int conn; /* TCP connection, or -1 for a UDP query to forward */
    struct sockaddr_in peer;
    struct net_dns_query q;
    size_t len;
    uint8_t pkt[];
};

static void worker_done(struct net_dns_server *s, bool tcp)
{
    pthread_mutex_lock(&s->lock);
    s->workers--;
    if (tcp)
        s->tcp_conns--;
    pthread_cond_broadcast(&s->idle);
    pthread_mutex_unlock(&s->lock);
}

static void tcp_serve(struct net_dns_server *s, int fd)
{
    struct net_dns_local l = {s->listen_ip, s->fn ? locked_lookup : NULL, s, 0};
    struct sockaddr_in peer;
    socklen_t plen = sizeof(peer);
    if (getpeername(fd, (struct sockaddr *)&peer, &plen) == 0 && peer.sin_family == AF_INET)
        l.client = ntohl(peer.sin_addr.s_addr);
    uint8_t *in = ctr_xmalloc(65535), *out = ctr_xmalloc(65535);
    for (;;) {
        uint8_t len[2];
        if (!io_all(s, fd, len, 2, false, TCP_IDLE_MS))
            break;
        size_t qlen = get16(len);
        if (qlen < HDR_LEN || !io_all(s, fd, in, qlen, false, TCP_IDLE_MS))
            break;
        struct net_dns_query q;
        size_t olen = 0;
        enum net_dns_action a = net_dns_handle_query(&l, in, qlen, 65535, &q, out, 65535, &olen);
        if (a == NET_DNS_DROP)
            break;
        if (a == NET_DNS_FORWARD)
            olen = forward(s, &q, in, qlen, true, out, 65535);
        put16(len, (uint16_t)olen);
        if (!io_all(s, fd, len, 2, true, TCP_IDLE_MS) ||
            !io_all(s, fd, out, olen, true, TCP_IDLE_MS))
            break;
    }
    free(in);
    free(out);
}

static void *worker(void *arg)
{
    struct job *j = arg;
    struct net_dns_server *s = j->s;
    if (j->conn >= 0) {
        tcp_serve(s, j->conn);
        close(j->conn);
    } else {
        uint8_t *out = ctr_xmalloc(65535);
        size_t olen = forward(s, &j->q, j->pkt, j->len, false, out, 65535);
        sendto(s->udp, out, olen, 0, (struct sockaddr *)&j->peer, sizeof(j->peer));
        free(out);
    }
    bool tcp = j->conn >= 0;
    free(j);
    worker_done(s, tcp);
    return NULL;
}

/* Start a detached worker for j; false (j freed, conn left open) when at the limit. */
static bool spawn(struct net_dns_server *s, struct job *j)
{
    bool tcp = j->conn >= 0;
    pthread_mutex_lock(&s->lock);
    bool ok = s->workers < MAX_WORKERS && (!tcp || s->tcp_conns < TCP_MAX_CONNS);
    if (ok) {
        s->workers++;
        if (tcp)
            s->tcp_conns++;
    }
    pthread_mutex_unlock(&s->lock);
    if (!ok) {
        free(j);
        return false;
    }
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&at, 256 << 10);
    pthread_t t;
    int r = pthread_create(&t, &at, worker, j);
    pthread_attr_destroy(&at);
    if (r != 0) {
        free(j);
        worker_done(s, tcp);
        return false;
    }
    return true;
}

static void udp_one(struct net_dns_server *s, const struct net_dns_local *l)
{
    uint8_t in[4096], out[UDP_MAX];
    struct sockaddr_in peer;
    socklen_t plen = sizeof(peer);
    ssize_t r =
        recvfrom(s->udp, in, sizeof(in), MSG_TRUNC | MSG_DONTWAIT, (struct sockaddr *)&peer, &plen);
    if (r < 0 || (size_t)r > sizeof(in)) /* oversized: not a query of ours */
        return;
    struct net_dns_query q;
    size_t olen = 0;
    struct net_dns_local lc = *l;
    lc.client = ntohl(peer.sin_addr.s_addr);
    switch (net_dns_handle_query(&lc, in, (size_t)r, UDP_MAX, &q, out, sizeof(out), &olen)) {
    case NET_DNS_DROP:
        return;
    case NET_DNS_REPLY:
        sendto(s->udp, out, olen, 0, (struct sockaddr *)&peer, plen);
        return;
    case NET_DNS_FORWARD: {
        struct job *j = ctr_xmalloc(sizeof(*j) + (size_t)r);
        *j = (struct job){.s = s, .conn = -1, .peer = peer, .q = q, .len = (size_t)r};
        memcpy(j->pkt, in, (size_t)r);
        if (!spawn(s, j)) {
            olen = net_dns_build_reply(&q, true, NET_DNS_SERVFAIL, false, NULL, 0, UDP_MAX, out,
                                       sizeof(out));
            sendto(s->udp, out, olen, 0, (struct sockaddr *)&peer, plen);
        }
        return;
    }
    }
}

static void tcp_accept(struct net_dns_server *s)
{
    int c = accept4(s->tcp, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (c < 0)
        return;
    struct job *j = ctr_xmalloc(sizeof(*j));
    *j = (struct job){.s = s, .conn = c};
    if (!spawn(s, j))
        close(c);
}

static void *serve(void *arg)
{
    struct net_dns_server *s = arg;
    struct net_dns_local l = {s->listen_ip, s->fn ? locked_lookup : NULL, s};
    struct pollfd p[3] = {{.fd = s->udp, .events = POLLIN},
                          {.fd = s->tcp, .events = POLLIN},
                          {.fd = s->stop_pipe[0], .events = POLLIN}};
    for (;;) {
        if (poll(p, 3, -1) < 0) {
            if (errno == EINTR)
                continue;
            log_error("dns: poll: %s", strerror(errno));
            break;
        }
        if (p[2].revents)
            break;
        if (p[0].revents)
            udp_one(s, &l);
        if (p[1].revents)
            tcp_accept(s);
    }
    return NULL;
}

static int bind_sock(int type, uint32_t ip, uint16_t port, ctr_error_t *err)
{
    int fd = socket(AF_INET, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return ctr_fail(err, errno, "dns: socket");
    int one = 1;
    if (type == SOCK_STREAM) /* not for UDP: there it would let two servers share the port */
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    /* the bridge's address may still be coming up */
    setsockopt(fd, IPPROTO_IP, IP_FREEBIND, &one, sizeof(one));
    struct sockaddr_in sa = {
        .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(ip)};
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
        (type == SOCK_STREAM && listen(fd, 64) < 0)) {
        int e = errno;
        close(fd);
        char a[INET_ADDRSTRLEN];
        return ctr_fail(err, e, "dns: cannot listen on %s:%u/%s",
                        inet_ntop(AF_INET, &sa.sin_addr, a, sizeof(a)), port,
                        type == SOCK_STREAM ? "tcp" : "udp");
    }
    return fd;
}

static uint16_t bound_port(int fd)
{
    struct sockaddr_in sa;
    socklen_t l = sizeof(sa);
    if (getsockname(fd, (struct sockaddr *)&sa, &l) < 0)
        return 0;
    return ntohs(sa.sin_port);
}

int net_dns_start(uint32_t listen_ip, uint16_t port, net_dns_lookup_fn fn, void *ctx,
                  const char *upstream_resolv_conf, struct net_dns_server **out, ctr_error_t *err)
{
    cleanup_close int udp = -1, tcp = -1;
    /* port 0: the kernel picks the UDP port; take the same for TCP (retry if it is taken) */
    for (int attempt = 0; tcp < 0; attempt++) {
        if (udp >= 0)
            close(udp);
        udp = bind_sock(SOCK_DGRAM, listen_ip, port, err);
        if (udp < 0)
            return -1;
        tcp = bind_sock(SOCK_STREAM, listen_ip, port ? port : bound_port(udp), err);
        if (tcp < 0 && (port != 0 || attempt >= 16))
            return -1;
        if (tcp < 0)
            ctr_error_free(err);
    }
    struct net_dns_server *s = ctr_xcalloc(1, sizeof(*s));
    s->listen_ip = listen_ip;
    s->port = bound_port(udp);
    s->fn = fn;
    s->ctx = ctx;
    s->resolv_path = upstream_resolv_conf ? ctr_xstrdup(upstream_resolv_conf) : NULL;
    s->timeout_ms = 2000;
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->idle, NULL);
    if (pipe2(s->stop_pipe, O_CLOEXEC) < 0) {
        int e = errno;
        free(s->resolv_path);
        free(s);
        return ctr_fail(err, e, "dns: pipe");
    }
    s->udp = udp;
    s->tcp = tcp;
    int r = pthread_create(&s->thread, NULL, serve, s);
    if (r != 0) {
        close(s->stop_pipe[0]);
        close(s->stop_pipe[1]);
        free(s->resolv_path);
        free(s);
        return ctr_fail(err, r, "dns: thread");
    }
    udp = tcp = -1;
    *out = s;
    return 0;
}

void net_dns_stop(struct net_dns_server *s)
{
    if (s == NULL)
        return;
    close(s->stop_pipe[1]); /* the read end turns readable for every poller */
    pthread_join(s->thread, NULL);
    pthread_mutex_lock(&s->lock);
    while (s->workers > 0)
        pthread_cond_wait(&s->idle, &s->lock);
    pthread_mutex_unlock(&s->lock);
    close(s->udp);
    close(s->tcp);
    close(s->stop_pipe[0]);
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->idle);
    free(s->resolv_path);
    free(s);
}

uint16_t net_dns_port(const struct net_dns_server *s)
{
    return s->port;
}

void net_dns_set_upstream_timeout(struct net_dns_server *s, int ms)
{
    __atomic_store_n(&s->timeout_ms, ms > 0 ? ms : 1, __ATOMIC_RELAXED);
}
