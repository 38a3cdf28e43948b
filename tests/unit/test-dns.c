/* The DNS resolver (src/net/dns.c): the strict query parser against hostile packets, reply
 * building, resolv.conf parsing, and the running server end to end on 127.0.0.1 with a fake
 * lookup and a fake upstream resolver (UDP + TCP) on loopback. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/dns.h"

#define IP(a, b, c, d) ((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (d))

/* A query for name/type with id; returns its length. */
static size_t mkquery(uint8_t *p, uint16_t id, const char *name, uint16_t type)
{
    memset(p, 0, 12);
    p[0] = (uint8_t)(id >> 8);
    p[1] = (uint8_t)id;
    p[2] = 0x01; /* RD */
    p[5] = 1;
    size_t o = 12;
    const char *s = name;
    while (*s) {
        const char *dot = strchr(s, '.');
        size_t l = dot ? (size_t)(dot - s) : strlen(s);
        p[o++] = (uint8_t)l;
        memcpy(p + o, s, l);
        o += l;
        s += l + (dot ? 1 : 0);
    }
    p[o++] = 0;
    p[o++] = (uint8_t)(type >> 8);
    p[o++] = (uint8_t)type;
    p[o++] = 0;
    p[o++] = 1;
    return o;
}

struct reply {
    uint16_t id, flags, qd, an;
    uint32_t addrs[64];
    size_t n;
};

/* Decode a reply whose answers point to the question's name (what we and the fake send). */
static void decode(const uint8_t *p, size_t len, struct reply *r)
{
    assert_true(len >= 12);
    memset(r, 0, sizeof(*r));
    r->id = (uint16_t)(p[0] << 8 | p[1]);
    r->flags = (uint16_t)(p[2] << 8 | p[3]);
    r->qd = (uint16_t)(p[4] << 8 | p[5]);
    r->an = (uint16_t)(p[6] << 8 | p[7]);
    size_t o = 12;
    if (r->qd) {
        while (o < len && p[o])
            o += 1 + p[o];
        o += 5;
    }
    for (unsigned i = 0; i < r->an; i++) {
        assert_true(o + 16 <= len);
        assert_int_equal(p[o], 0xc0);
        assert_int_equal(p[o + 3], 1); /* A */
        assert_int_equal(p[o + 11], 4);
        uint32_t a;
        memcpy(&a, p + o + 12, 4);
        r->addrs[r->n++] = ntohl(a);
        o += 16;
    }
    assert_int_equal(o, len);
}

static int rcode(const struct reply *r)
{
    return r->flags & 0xf;
}

/* ---- parser ---- */

static void test_parse_ok(void **state)
{
    uint8_t p[600];
    struct net_dns_query q;
    size_t n = mkquery(p, 0x1234, "Web1.Example", 1);
    assert_int_equal(net_dns_parse_query(p, n, &q), 0);
    assert_int_equal(q.id, 0x1234);
    assert_string_equal(q.name, "Web1.Example");
    assert_int_equal(q.qtype, 1);
    assert_int_equal(q.qclass, 1);
    /* EDNS OPT in the additional section is allowed */
    p[11] = 1;
    static const uint8_t opt[] = {0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 0};
    memcpy(p + n, opt, sizeof(opt));
    assert_int_equal(net_dns_parse_query(p, n + sizeof(opt), &q), 0);
    /* the root */
    n = mkquery(p, 1, "", 2);
    assert_int_equal(net_dns_parse_query(p, n, &q), 0);
    assert_string_equal(q.name, "");
    /* 253 characters: the longest name */
    char name[300];
    memset(name, 0, sizeof(name));
    for (int i = 0; i < 4; i++) {
        memset(name + strlen(name), 'a' + i, i < 3 ? 63 : 61);
        if (i < 3)
            strcat(name, ".");
    }
    assert_int_equal(strlen(name), 253);
    n = mkquery(p, 1, name, 1);
    assert_int_equal(net_dns_parse_query(p, n, &q), 0);
    assert_string_equal(q.name, name);
    /* a backward pointer is legal: the question's name points at offset 0, where the id
     * (0x01 'a') and the first flags byte (0) read as the name "a" */
    uint8_t c[] = {1, 'a', 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 0, 0, 1, 0, 1};
    assert_int_equal(net_dns_parse_query(c, sizeof(c), &q), 0);
    assert_string_equal(q.name, "a");
}

static void expect_parse(const uint8_t *p, size_t n, int want)
{
    struct net_dns_query q;
    int r = net_dns_parse_query(p, n, &q);
    if (r != want)
        fail_msg("parse returned %d, want %d (len %zu)", r, want, n);
}

static void test_parse_hostile(void **state)
{
    uint8_t p[600], b[600];
    size_t n = mkquery(p, 9, "web1.example", 1);
    /* every truncation: shorter than a header is dropped, the rest is FORMERR */
    for (size_t i = 0; i < n; i++)
        expect_parse(p, i, i < 12 ? -1 : NET_DNS_FORMERR);
    /* a response is never answered */
    memcpy(b, p, n);
    b[2] |= 0x80;
    expect_parse(b, n, -1);
    /* opcodes other than QUERY */
    memcpy(b, p, n);
    b[2] |= 2 << 3; /* STATUS */
    expect_parse(b, n, NET_DNS_NOTIMP);
    /* counts */
    for (int field = 4; field <= 8; field += 2) {
        memcpy(b, p, n);
        b[field] = 0;
        b[field + 1] = field == 4 ? 2 : 1;
        expect_parse(b, n, NET_DNS_FORMERR);
    }
    memcpy(b, p, n);
    b[5] = 0;
    expect_parse(b, n, NET_DNS_FORMERR);
    b[4] = 0xff;
    b[5] = 0xff;
    expect_parse(b, n, NET_DNS_FORMERR);
    /* compression: pointer to itself, forward, out of the packet, chained loop */
    memcpy(b, p, 12);
    static const uint8_t self[] = {0xc0, 12, 0, 1, 0, 1};
    memcpy(b + 12, self, sizeof(self));
    expect_parse(b, 12 + sizeof(self), NET_DNS_FORMERR);
    static const uint8_t fwd[] = {0xc0, 14, 1, 'a', 0, 0, 1, 0, 1};
    memcpy(b + 12, fwd, sizeof(fwd));
    expect_parse(b, 12 + sizeof(fwd), NET_DNS_FORMERR);
    static const uint8_t far[] = {0xff, 0xff, 0, 1, 0, 1};
    memcpy(b + 12, far, sizeof(far));
    expect_parse(b, 12 + sizeof(far), NET_DNS_FORMERR);
    /* two pointers to each other: 12 → 14 → 12 */
    static const uint8_t loop[] = {0xc0, 14, 0xc0, 12, 0, 1, 0, 1};
    memcpy(b + 12, loop, sizeof(loop));
    expect_parse(b, 12 + sizeof(loop), NET_DNS_FORMERR);
    /* a pointer cut in half */
    b[12] = 0xc0;
    expect_parse(b, 13, NET_DNS_FORMERR);
    /* extended label types 0x40 and 0x80 */
    static const uint8_t ext[] = {0x41, 'a', 0, 0, 1, 0, 1};
    memcpy(b + 12, ext, sizeof(ext));
    expect_parse(b, 12 + sizeof(ext), NET_DNS_FORMERR);
    b[12] = 0x81;
    expect_parse(b, 12 + sizeof(ext), NET_DNS_FORMERR);
    /* label running past the end */
    static const uint8_t past[] = {63, 'a', 'b'};
    memcpy(b + 12, past, sizeof(past));
    expect_parse(b, 12 + sizeof(past), NET_DNS_FORMERR);
    /* 254 characters: too long */
    char name[300] = "";
    for (int i = 0; i < 4; i++) {
        memset(name + strlen(name), 'a', i < 3 ? 63 : 62);
        if (i < 3)
            strcat(name, ".");
    }
    n = mkquery(b, 1, name, 1);
    expect_parse(b, n, NET_DNS_FORMERR);
    /* bytes that are not a hostname's: NUL, space, a dot inside a label, high bytes */
    static const char bad[] = {'\0', ' ', '.', (char)0x80, (char)0xff, '\n'};
    for (size_t i = 0; i < sizeof(bad); i++) {
        n = mkquery(b, 1, "abc", 1);
        b[14] = (uint8_t)bad[i];
        expect_parse(b, n, NET_DNS_FORMERR);
    }
}

/* Random and mutated packets: never a crash (ASan build), never a reply larger than allowed. */
static size_t many(void *ctx, uint32_t client, const char *name, uint32_t *addrs, size_t max)
{
    size_t n = strlen(name) % 40;
    for (size_t i = 0; i < n && i < max; i++)
        addrs[i] = IP(10, 0, 0, (unsigned)i);
    return n; /* may exceed max: the server must cap it */
}

static void test_parse_random(void **state)
{
    struct net_dns_local l = {IP(10, 0, 0, 1), many, NULL};
    uint8_t p[700], out[512];
    struct net_dns_query q;
    srandom(42);
    size_t base = mkquery(p, 3, "a.b.c.example", 1);
    for (int i = 0; i < 200000; i++) {
        size_t n;
        if (i % 2) {
            n = (size_t)random() % sizeof(p);
            for (size_t k = 0; k < n; k++)
                p[k] = (uint8_t)random();
            if (i % 4 == 1 && n >= 12) { /* mostly a valid header */
                p[2] &= 0x07;
                p[4] = 0, p[5] = 1, p[6] = p[7] = p[8] = p[9] = 0;
            }
        } else {
            n = mkquery(p, 3, "a.b.c.example", 1);
            for (int k = 0; k < 1 + i % 5; k++)
                p[(size_t)random() % base] = (uint8_t)random();
            n = (size_t)random() % (n + 8);
        }
        size_t olen = 0;
        enum net_dns_action a = net_dns_handle_query(&l, p, n, 512, &q, out, sizeof(out), &olen);
        if (a == NET_DNS_REPLY)
            assert_true(olen >= 12 && olen <= 512);
    }
}

/* ---- local answers ---- */

static size_t lookup(void *ctx, uint32_t client, const char *name, uint32_t *addrs, size_t max)
{
    if (strcmp(name, "web1") == 0 || strcmp(name, "web1.alias") == 0) {
        addrs[0] = IP(192, 168, 64, 5);
        return 1;
    }
    if (strcmp(name, "whoami") == 0) { /* the query's source address */
        addrs[0] = client;
        return 1;
    }
    if (strcmp(name, "pair") == 0 && max >= 2) {
        addrs[0] = IP(192, 168, 64, 6);
        addrs[1] = IP(192, 168, 64, 7);
        return 2;
    }
    if (strcmp(name, "crowd") == 0) {
        for (size_t i = 0; i < max; i++)
            addrs[i] = IP(192, 168, 64, 10 + (unsigned)i);
        return max;
    }
    return 0;
}

static enum net_dns_action ask(const char *name, uint16_t type, size_t max, struct reply *r)
{
    struct net_dns_local l = {IP(192, 168, 64, 1), lookup, NULL};
    uint8_t p[600], out[600];
    struct net_dns_query q;
    size_t n = mkquery(p, 0xbeef, name, type), olen = 0;
    enum net_dns_action a = net_dns_handle_query(&l, p, n, max, &q, out, sizeof(out), &olen);
    if (a == NET_DNS_REPLY) {
        decode(out, olen, r);
        assert_int_equal(r->id, 0xbeef);
        assert_true(r->flags & 0x8000);
        assert_true(r->flags & 0x0100); /* RD echoed */
    }
    return a;
}

static void test_local(void **state)
{
    struct reply r;
    assert_int_equal(ask("web1", 1, 512, &r), NET_DNS_REPLY);
    assert_int_equal(rcode(&r), 0);
    assert_int_equal(r.n, 1);
    assert_int_equal(r.addrs[0], IP(192, 168, 64, 5));
    assert_true(r.flags & 0x0400); /* authoritative */
    /* case-insensitive */
    assert_int_equal(ask("WEB1.Alias", 1, 512, &r), NET_DNS_REPLY);
    assert_int_equal(r.addrs[0], IP(192, 168, 64, 5));
    assert_int_equal(ask("pair", 1, 512, &r), NET_DNS_REPLY);
    assert_int_equal(r.n, 2);
    assert_int_equal(r.addrs[1], IP(192, 168, 64, 7));
    /* AAAA for a known name: NOERROR without answers */
    assert_int_equal(ask("web1", 28, 512, &r), NET_DNS_REPLY);
    assert_int_equal(rcode(&r), 0);
    assert_int_equal(r.an, 0);
    /* the host */
    assert_int_equal(ask("host.container.internal", 1, 512, &r), NET_DNS_REPLY);
    assert_int_equal(r.addrs[0], IP(192, 168, 64, 1));
    assert_int_equal(ask("Host.Docker.Internal", 1, 512, &r), NET_DNS_REPLY);
    assert_int_equal(r.addrs[0], IP(192, 168, 64, 1));
    /* unknown names go upstream */
    struct reply u;
    assert_int_equal(ask("example.com", 1, 512, &u), NET_DNS_FORWARD);
    assert_int_equal(ask("web2", 1, 512, &u), NET_DNS_FORWARD);
    /* too many for 512 bytes: truncated, TC set; over TCP all of them */
    assert_int_equal(ask("crowd", 1, 512, &r), NET_DNS_REPLY);
    assert_true(r.flags & 0x0200);
    assert_true(r.n > 0 && r.n < NET_DNS_MAX_ADDRS);
    assert_int_equal(ask("crowd", 1, 600, &r), NET_DNS_REPLY);
    assert_false(r.flags & 0x0200);
    assert_int_equal(r.n, NET_DNS_MAX_ADDRS);
}

static void test_resolv(void **state)
{
    struct net_dns_upstream u[8];
    const char *text = "# generated\n"
                       "search example.org\n"
                       "nameserver 10.0.0.53\n"
                       "  nameserver\t10.0.0.54  # comment\n"
                       "nameserver 192.168.64.1\n" /* ourselves: skipped */
                       "nameserver 2001:db8::1\n"
                       "nameserver not-an-ip\n"
                       "nameserver 0.0.0.0\n"
                       "nameserver 127.0.0.1#5353\n"
                       "nameserver 127.0.0.1#0\n"
                       "nameserver 127.0.0.1#99999\n"
                       "nameserver 127.0.0.1#\n"
                       "nameserver\n"
                       "options ndots:2\n"
                       "nameserver 10.0.0.55";
    size_t n = net_dns_parse_resolv(text, IP(192, 168, 64, 1), u, 8);
    assert_int_equal(n, 4);
    assert_int_equal(u[0].addr, IP(10, 0, 0, 53));
    assert_int_equal(u[0].port, 53);
    assert_int_equal(u[1].addr, IP(10, 0, 0, 54));
    assert_int_equal(u[2].addr, IP(127, 0, 0, 1));
    assert_int_equal(u[2].port, 5353);
    assert_int_equal(u[3].addr, IP(10, 0, 0, 55));
    assert_int_equal(net_dns_parse_resolv(text, 0, u, 2), 2);
    assert_int_equal(net_dns_parse_resolv("", 0, u, 8), 0);
}

/* ---- end to end ---- */

/* A fake upstream on 127.0.0.1: answers `*.example.com` with 10.9.8.7 (over UDP and TCP),
 * `big.example.com` with 40 addresses (TC over UDP, all over TCP), ignores `silent.*`, answers
 * `spoof.*` first with a wrong id, then correctly. Counts the queries it saw. */
struct fake {
    int udp, tcp, stop[2];
    uint16_t port;
    pthread_t t;
    int queries;
};

static size_t fake_answer(const uint8_t *in, size_t n, uint8_t *out, size_t max, bool *skip)
{
    struct net_dns_query q;
    *skip = false;
    if (net_dns_parse_query(in, n, &q) != 0)
        return 0;
    if (strncmp(q.name, "silent.", 7) == 0) {
        *skip = true;
        return 0;
    }
    uint32_t a[40];
    size_t na = 1;
    a[0] = IP(10, 9, 8, 7);
    if (strcmp(q.name, "big.example.com") == 0) {
        for (na = 0; na < 40; na++)
            a[na] = IP(10, 9, 9, (unsigned)na);
    } else if (strstr(q.name, "example.com") == NULL) {
        return net_dns_build_reply(&q, true, 3, false, NULL, 0, max, out, 4096);
    }
    return net_dns_build_reply(&q, true, 0, false, a, na, max, out, 4096);
}

static void *fake_run(void *arg)
{
    struct fake *f = arg;
    struct pollfd p[3] = {{.fd = f->udp, .events = POLLIN},
                          {.fd = f->tcp, .events = POLLIN},
                          {.fd = f->stop[0], .events = POLLIN}};
    for (;;) {
        poll(p, 3, -1);
        if (p[2].revents)
            return NULL;
        uint8_t in[1024], out[4096];
        bool skip;
        if (p[0].revents) {
            struct sockaddr_in peer;
            socklen_t pl = sizeof(peer);
            ssize_t n = recvfrom(f->udp, in, sizeof(in), 0, (struct sockaddr *)&peer, &pl);
            if (n <= 0)
                continue;
            __atomic_add_fetch(&f->queries, 1, __ATOMIC_SEQ_CST);
            size_t o = fake_answer(in, (size_t)n, out, 512, &skip);
            if (o == 0)
                continue;
            if (strstr((char *)in + 12, "spoof")) { /* wrong id, wrong address */
                out[0] ^= 0xff;
                out[o - 1] = 66;
                sendto(f->udp, out, o, 0, (struct sockaddr *)&peer, pl);
                out[0] ^= 0xff;
                out[o - 1] = 7;
            }
            sendto(f->udp, out, o, 0, (struct sockaddr *)&peer, pl);
        }
        if (p[1].revents) {
            int c = accept(f->tcp, NULL, NULL);
            if (c < 0)
                continue;
            uint8_t l[2];
            if (read(c, l, 2) == 2) {
                size_t n = (size_t)(l[0] << 8 | l[1]);
                if (n <= sizeof(in) && ctr_read_all(c, in, n) == (ssize_t)n) {
                    size_t o = fake_answer(in, n, out, 4096, &skip);
                    l[0] = (uint8_t)(o >> 8);
                    l[1] = (uint8_t)o;
                    if (o) {
                        ctr_write_all(c, l, 2);
                        ctr_write_all(c, out, o);
                    }
                }
            }
            close(c);
        }
    }
}

static void fake_start(struct fake *f)
{
    memset(f, 0, sizeof(*f));
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof(sa);
    f->udp = socket(AF_INET, SOCK_DGRAM, 0);
    assert_int_equal(bind(f->udp, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(getsockname(f->udp, (struct sockaddr *)&sa, &sl), 0);
    f->port = ntohs(sa.sin_port);
    f->tcp = socket(AF_INET, SOCK_STREAM, 0);
    assert_int_equal(bind(f->tcp, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(f->tcp, 8), 0);
    assert_int_equal(pipe(f->stop), 0);
    assert_int_equal(pthread_create(&f->t, NULL, fake_run, f), 0);
}

static void fake_stop(struct fake *f)
{
    close(f->stop[1]);
    pthread_join(f->t, NULL);
    close(f->stop[0]);
    close(f->udp);
    close(f->tcp);
}

static size_t udp_ask(uint16_t port, const uint8_t *q, size_t n, uint8_t *out, size_t cap, int ms)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in sa = {
        .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(send(fd, q, n, 0), (ssize_t)n);
    struct pollfd p = {.fd = fd, .events = POLLIN};
    ssize_t r = 0;
    if (poll(&p, 1, ms) == 1)
        r = recv(fd, out, cap, 0);
    close(fd);
    return r > 0 ? (size_t)r : 0;
}

static size_t tcp_ask(uint16_t port, const uint8_t *q, size_t n, uint8_t *out, size_t cap)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {
        .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    uint8_t l[2] = {(uint8_t)(n >> 8), (uint8_t)n};
    assert_int_equal(ctr_write_all(fd, l, 2), 2);
    assert_int_equal(ctr_write_all(fd, q, n), (ssize_t)n);
    size_t r = 0;
    if (ctr_read_all(fd, l, 2) == 2) {
        r = (size_t)(l[0] << 8 | l[1]);
        assert_true(r <= cap);
        assert_int_equal(ctr_read_all(fd, out, r), (ssize_t)r);
    }
    close(fd);
    return r;
}

static char *write_resolv(const char *dir, const char *name, const char *text)
{
    char *path = ctr_xasprintf("%s/%s", dir, name);
    ctr_error_t err = NULL;
    assert_int_equal(ctr_write_file_atomic(path, text, strlen(text), 0644, &err), 0);
    return path;
}

static void test_server(void **state)
{
    struct fake f;
    fake_start(&f);
    char dir[] = "/tmp/test-dns.XXXXXX";
    assert_non_null(mkdtemp(dir));
    char *text = ctr_xasprintf("nameserver 127.0.0.1#%u\n", f.port);
    char *resolv = write_resolv(dir, "resolv.conf", text);
    free(text);

    struct net_dns_server *s = NULL;
    ctr_error_t err = NULL;
    if (net_dns_start(IP(127, 0, 0, 1), 0, lookup, NULL, resolv, &s, &err) < 0)
        fail_msg("%s", err->msg);
    uint16_t port = net_dns_port(s);
    assert_true(port > 0);
    net_dns_set_upstream_timeout(s, 200);

    uint8_t q[600], out[4096];
    struct reply r;
    size_t n, o;
    /* local name over UDP and TCP */
    n = mkquery(q, 0x0101, "web1", 1);
    o = udp_ask(port, q, n, out, sizeof(out), 2000);
    decode(out, o, &r);
    assert_int_equal(r.id, 0x0101);
    assert_int_equal(r.addrs[0], IP(192, 168, 64, 5));
    o = tcp_ask(port, q, n, out, sizeof(out));
    decode(out, o, &r);
    assert_int_equal(r.addrs[0], IP(192, 168, 64, 5));
    /* the lookup learns who asks, over UDP and TCP */
    n = mkquery(q, 0x0103, "whoami", 1);
    decode(out, udp_ask(port, q, n, out, sizeof(out), 2000), &r);
    assert_int_equal(r.addrs[0], IP(127, 0, 0, 1));
    decode(out, tcp_ask(port, q, n, out, sizeof(out)), &r);
    assert_int_equal(r.addrs[0], IP(127, 0, 0, 1));
    n = mkquery(q, 0x0102, "host.docker.internal", 1);
    decode(out, udp_ask(port, q, n, out, sizeof(out), 2000), &r);
    assert_int_equal(r.addrs[0], IP(127, 0, 0, 1));

    /* forwarded: the upstream's answer under the client's id */
    n = mkquery(q, 0x0201, "www.example.com", 1);
    o = udp_ask(port, q, n, out, sizeof(out), 3000);
    decode(out, o, &r);
    assert_int_equal(r.id, 0x0201);
    assert_int_equal(rcode(&r), 0);
    assert_int_equal(r.addrs[0], IP(10, 9, 8, 7));
    assert_false(r.flags & 0x0400); /* not ours: not authoritative */
    n = mkquery(q, 0x0202, "nowhere.test", 1);
    decode(out, udp_ask(port, q, n, out, sizeof(out), 3000), &r);
    assert_int_equal(rcode(&r), NET_DNS_NXDOMAIN);
    assert_int_equal(r.id, 0x0202);
    /* a spoofed reply (wrong id) first: ignored, the right one relayed */
    n = mkquery(q, 0x0203, "spoof.example.com", 1);
    decode(out, udp_ask(port, q, n, out, sizeof(out), 3000), &r);
    assert_int_equal(r.id, 0x0203);
    assert_int_equal(r.addrs[0], IP(10, 9, 8, 7));
    /* forwarded over TCP, truncated upstream UDP answer fetched again over TCP */
    n = mkquery(q, 0x0301, "big.example.com", 1);
    o = tcp_ask(port, q, n, out, sizeof(out));
    decode(out, o, &r);
    assert_int_equal(r.id, 0x0301);
    assert_int_equal(r.n, 40);
    assert_false(r.flags & 0x0200);
    /* the same over UDP: TC relayed so the client retries over TCP */
    o = udp_ask(port, q, n, out, sizeof(out), 3000);
    decode(out, o, &r);
    assert_true(r.flags & 0x0200);

    /* hostile traffic does not stop it */
    static const uint8_t junk[] = {1, 2, 3};
    assert_int_equal(udp_ask(port, junk, sizeof(junk), out, sizeof(out), 300), 0);
    n = mkquery(q, 0x0401, "web1", 1);
    q[2] |= 0x80; /* a response: no reply (no reflection) */
    assert_int_equal(udp_ask(port, q, n, out, sizeof(out), 300), 0);
    n = mkquery(q, 0x0402, "web1", 1);
    q[5] = 2; /* two questions claimed */
    decode(out, udp_ask(port, q, n, out, sizeof(out), 2000), &r);
    assert_int_equal(rcode(&r), NET_DNS_FORMERR);
    assert_int_equal(r.id, 0x0402);
    uint8_t big[5000];
    memset(big, 0, sizeof(big));
    memcpy(big, q, n);
    assert_int_equal(udp_ask(port, big, sizeof(big), out, sizeof(out), 300), 0);
    /* TCP: a short length closes the connection */
    o = tcp_ask(port, junk, sizeof(junk), out, sizeof(out));
    assert_int_equal(o, 0);

    /* the upstream silent: SERVFAIL after each server's timeouts */
    n = mkquery(q, 0x0501, "silent.example.com", 1);
    uint64_t t0 = ctr_now_ns();
    decode(out, udp_ask(port, q, n, out, sizeof(out), 3000), &r);
    assert_int_equal(rcode(&r), NET_DNS_SERVFAIL);
    assert_int_equal(r.id, 0x0501);
    assert_true(ctr_now_ns() - t0 >= 2 * 200 * 1000000ull);

    /* resolv.conf replaced: a dead server first (refused at once), then the fake */
    int dead = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof(sa);
    assert_int_equal(bind(dead, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(getsockname(dead, (struct sockaddr *)&sa, &sl), 0);
    uint16_t dead_port = ntohs(sa.sin_port);
    close(dead);
    text = ctr_xasprintf("nameserver 127.0.0.1#%u\nnameserver 127.0.0.1#%u\n", dead_port, f.port);
    free(write_resolv(dir, "resolv.conf", text));
    free(text);
    int before = __atomic_load_n(&f.queries, __ATOMIC_SEQ_CST);
    n = mkquery(q, 0x0601, "again.example.com", 1);
    decode(out, udp_ask(port, q, n, out, sizeof(out), 3000), &r);
    assert_int_equal(rcode(&r), 0);
    assert_int_equal(r.addrs[0], IP(10, 9, 8, 7));
    assert_int_equal(__atomic_load_n(&f.queries, __ATOMIC_SEQ_CST), before + 1);
    /* only dead servers: SERVFAIL */
    text = ctr_xasprintf("nameserver 127.0.0.1#%u\n", dead_port);
    free(write_resolv(dir, "resolv.conf", text));
    free(text);
    n = mkquery(q, 0x0602, "www.example.com", 1);
    decode(out, udp_ask(port, q, n, out, sizeof(out), 3000), &r);
    assert_int_equal(rcode(&r), NET_DNS_SERVFAIL);
    /* no upstream at all (only ourselves listed, or no file): NXDOMAIN */
    free(write_resolv(dir, "resolv.conf", "nameserver 127.0.0.1\n"));
    decode(out, udp_ask(port, q, n, out, sizeof(out), 3000), &r);
    assert_int_equal(rcode(&r), NET_DNS_NXDOMAIN);
    unlink(resolv);
    decode(out, tcp_ask(port, q, n, out, sizeof(out)), &r);
    assert_int_equal(rcode(&r), NET_DNS_NXDOMAIN);
    /* local names still answered */
    n = mkquery(q, 0x0701, "web1", 1);
    decode(out, udp_ask(port, q, n, out, sizeof(out), 2000), &r);
    assert_int_equal(r.addrs[0], IP(192, 168, 64, 5));

    /* stop with a query in flight (the silent upstream) and an idle TCP client */
    text = ctr_xasprintf("nameserver 127.0.0.1#%u\n", f.port);
    free(write_resolv(dir, "resolv.conf", text));
    free(text);
    net_dns_set_upstream_timeout(s, 5000);
    int idle = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in ds = {
        .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(connect(idle, (struct sockaddr *)&ds, sizeof(ds)), 0);
    n = mkquery(q, 0x0801, "silent.example.com", 1);
    int c = socket(AF_INET, SOCK_DGRAM, 0);
    assert_int_equal(sendto(c, q, n, 0, (struct sockaddr *)&ds, sizeof(ds)), (ssize_t)n);
    usleep(100000);
    t0 = ctr_now_ns();
    net_dns_stop(s);
    assert_true(ctr_now_ns() - t0 < 2000000000ull);
    close(c);
    close(idle);
    /* the port is free again */
    struct net_dns_server *s2 = NULL;
    if (net_dns_start(IP(127, 0, 0, 1), port, lookup, NULL, NULL, &s2, &err) < 0)
        fail_msg("restart on %u: %s", port, err->msg);
    net_dns_stop(s2);

    fake_stop(&f);
    free(resolv);
    ctr_error_t e2 = NULL;
    ctr_rm_rf(dir, &e2);
}

static void test_start_errors(void **state)
{
    struct net_dns_server *a = NULL, *b = NULL;
    ctr_error_t err = NULL;
    assert_int_equal(net_dns_start(IP(127, 0, 0, 1), 0, lookup, NULL, NULL, &a, &err), 0);
    assert_int_equal(net_dns_start(IP(127, 0, 0, 1), net_dns_port(a), lookup, NULL, NULL, &b, &err),
                     -1);
    assert_non_null(strstr(err->msg, "cannot listen on 127.0.0.1:"));
    assert_null(b);
    ctr_error_free(&err);
    net_dns_stop(a);
    net_dns_stop(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_ok),     cmocka_unit_test(test_parse_hostile),
        cmocka_unit_test(test_parse_random), cmocka_unit_test(test_local),
        cmocka_unit_test(test_resolv),       cmocka_unit_test(test_server),
        cmocka_unit_test(test_start_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
