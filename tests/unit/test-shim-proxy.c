/* The shim's port proxy on loopback: a "container" is a server on another 127.0.0.1
 * port. TCP relay with half-close, bulk data, connections held while the guest boots,
 * giving up once it runs, UDP flows per client, refusals of ports in use. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
/* cmocka needs the three above first */
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "shim/net-internal.h"

static struct sockaddr_in lo_addr(uint16_t port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
}

/* A port free right now (bound to 0, read back, released). */
static uint16_t free_port(int type)
{
    struct sockaddr_in a = lo_addr(0);
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, type, 0);
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

static int listen_on(uint16_t port)
{
    struct sockaddr_in a = lo_addr(port);
    int one = 1, fd = socket(AF_INET, SOCK_STREAM, 0);
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(fd, 16), 0);
    return fd;
}

static int connect_to(uint16_t port)
{
    struct sockaddr_in a = lo_addr(port);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    struct timeval tv = {.tv_sec = 10};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    return fd;
}

static struct shim_proxy *start(const char *proto, uint16_t hport, uint16_t cport)
{
    struct bundle_port p = {(char *)proto, "127.0.0.1", hport, "127.0.0.1", cport};
    struct shim_proxy *px = NULL;
    ctr_error_t err = NULL;
    if (shim_proxy_start(&p, 1, &px, &err) < 0)
        fail_msg("%s", err->msg);
    assert_non_null(px);
    return px;
}

static size_t read_all(int fd, char *buf, size_t cap)
{
    size_t have = 0;
    for (;;) {
        ssize_t n = read(fd, buf + have, cap - have);
        if (n <= 0)
            return have;
        have += (size_t)n;
    }
}

static void tcp_relay_half_close(void **state)
{
    uint16_t hp = free_port(SOCK_STREAM), cp = free_port(SOCK_STREAM);
    int srv = listen_on(cp);
    struct shim_proxy *px = start("tcp", hp, cp);
    char buf[64];

    shim_proxy_set_running(px);
    int c = connect_to(hp);
    int s = accept(srv, NULL, NULL);
    assert_true(s >= 0);
    struct timeval tv = {.tv_sec = 10};
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    assert_int_equal(write(c, "hello", 5), 5);
    assert_int_equal(shutdown(c, SHUT_WR), 0);
    /* the container sees the data, then EOF, and can still answer */
    assert_int_equal(read_all(s, buf, sizeof(buf)), 5);
    assert_memory_equal(buf, "hello", 5);
    assert_int_equal(write(s, "world", 5), 5);
    close(s);
    assert_int_equal(read_all(c, buf, sizeof(buf)), 5);
    assert_memory_equal(buf, "world", 5);
    close(c);
    close(srv);
    shim_proxy_stop(px);
}

struct sink {
    int fd;
    size_t bytes;
    uint64_t sum;
};

static void *sink_main(void *arg)
{
    struct sink *k = arg;
    unsigned char buf[65536];
    ssize_t n;
    while ((n = read(k->fd, buf, sizeof(buf))) > 0) {
        for (ssize_t i = 0; i < n; i++)
            k->sum = k->sum * 31 + buf[i];
        k->bytes += (size_t)n;
    }
    return NULL;
}

static void tcp_bulk(void **state)
{
    uint16_t hp = free_port(SOCK_STREAM), cp = free_port(SOCK_STREAM);
    int srv = listen_on(cp);
    struct shim_proxy *px = start("tcp", hp, cp);
    size_t total = 8u << 20;
    unsigned char *data = malloc(total);
    uint64_t sum = 0;
    pthread_t t;

    for (size_t i = 0; i < total; i++) {
        data[i] = (unsigned char)(i * 7 + (i >> 13));
        sum = sum * 31 + data[i];
    }
    shim_proxy_set_running(px);
    int c = connect_to(hp);
    struct sink k = {.fd = accept(srv, NULL, NULL)};
    assert_true(k.fd >= 0);
    pthread_create(&t, NULL, sink_main, &k);
    assert_int_equal(ctr_write_all(c, data, total), (ssize_t)total);
    shutdown(c, SHUT_WR);
    pthread_join(t, NULL);
    assert_int_equal(k.bytes, total);
    assert_true(k.sum == sum);
    close(k.fd);
    close(c);
    close(srv);
    free(data);
    shim_proxy_stop(px);
}

/* Before the guest runs, a refused connect is retried: the client's bytes wait. */
static void tcp_waits_for_boot(void **state)
{
    uint16_t hp = free_port(SOCK_STREAM), cp = free_port(SOCK_STREAM);
    struct shim_proxy *px = start("tcp", hp, cp);
    char buf[16];

    int c = connect_to(hp);
    assert_int_equal(write(c, "early", 5), 5);
    usleep(600 * 1000); /* several refused attempts */
    int srv = listen_on(cp);
    shim_proxy_set_running(px);
    struct pollfd pf = {.fd = srv, .events = POLLIN};
    assert_int_equal(poll(&pf, 1, 5000), 1);
    int s = accept(srv, NULL, NULL);
    assert_int_equal(read(s, buf, sizeof(buf)), 5);
    assert_memory_equal(buf, "early", 5);
    close(s);
    close(c);
    close(srv);
    shim_proxy_stop(px);
}

/* Once the container runs, nothing listening means the client is dropped after the
 * grace instead of waiting forever. */
static void tcp_gives_up_when_running(void **state)
{
    uint16_t hp = free_port(SOCK_STREAM), cp = free_port(SOCK_STREAM);
    struct shim_proxy *px = start("tcp", hp, cp);
    char buf[4];

    shim_proxy_set_running(px);
    uint64_t t0 = ctr_now_ns();
    int c = connect_to(hp);
    ssize_t n = read(c, buf, sizeof(buf));
    assert_true(n <= 0 && (n == 0 || errno == ECONNRESET));
    uint64_t ms = (ctr_now_ns() - t0) / 1000000u;
    assert_true(ms >= 1500 && ms < 8000);
    close(c);
    shim_proxy_stop(px);
}

static void *udp_echo_main(void *arg)
{
    int fd = *(int *)arg;
    char buf[2048];
    for (;;) {
        struct sockaddr_in from;
        socklen_t flen = sizeof(from);
        ssize_t n = recvfrom(fd, buf + 1, sizeof(buf) - 1, 0, (struct sockaddr *)&from, &flen);
        if (n <= 0)
            return NULL;
        if (n == 4 && memcmp(buf + 1, "quit", 4) == 0)
            return NULL;
        buf[0] = '>';
        sendto(fd, buf, (size_t)n + 1, 0, (struct sockaddr *)&from, flen);
    }
}

static void udp_flows(void **state)
{
    uint16_t hp = free_port(SOCK_DGRAM), cp = free_port(SOCK_DGRAM);
    struct sockaddr_in ca = lo_addr(cp), ha = lo_addr(hp);
    int echo = socket(AF_INET, SOCK_DGRAM, 0);
    pthread_t t;
    char buf[64];

    assert_int_equal(bind(echo, (struct sockaddr *)&ca, sizeof(ca)), 0);
    pthread_create(&t, NULL, udp_echo_main, &echo);
    struct shim_proxy *px = start("udp", hp, cp);
    int c[2];
    for (int i = 0; i < 2; i++) {
        c[i] = socket(AF_INET, SOCK_DGRAM, 0);
        struct timeval tv = {.tv_sec = 5};
        setsockopt(c[i], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        assert_int_equal(connect(c[i], (struct sockaddr *)&ha, sizeof(ha)), 0);
    }
    for (int round = 0; round < 3; round++)
        for (int i = 0; i < 2; i++) {
            char msg[16];
            int len = snprintf(msg, sizeof(msg), "c%d-r%d", i, round);
            assert_int_equal(send(c[i], msg, (size_t)len, 0), len);
            ssize_t n = recv(c[i], buf, sizeof(buf), 0);
            assert_int_equal(n, len + 1);
            assert_int_equal(buf[0], '>');
            assert_memory_equal(buf + 1, msg, (size_t)len); /* each client its own answers */
        }
    close(c[0]);
    close(c[1]);
    shim_proxy_stop(px);

    /* a wildcard listener answers from the address the client sent to (127.0.0.2 here;
     * by route the kernel would pick 127.0.0.1 and the connected client drop it) */
    uint16_t wp = free_port(SOCK_DGRAM);
    struct bundle_port any = {"udp", "0.0.0.0", wp, "127.0.0.1", cp};
    ctr_error_t err = NULL;
    if (shim_proxy_start(&any, 1, &px, &err) < 0)
        fail_msg("%s", err->msg);
    struct sockaddr_in two = lo_addr(wp);
    two.sin_addr.s_addr = htonl(0x7f000002);
    int c2 = socket(AF_INET, SOCK_DGRAM, 0);
    struct timeval tv = {.tv_sec = 5};
    setsockopt(c2, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    assert_int_equal(connect(c2, (struct sockaddr *)&two, sizeof(two)), 0);
    assert_int_equal(send(c2, "x2", 2, 0), 2);
    assert_int_equal(recv(c2, buf, sizeof(buf), 0), 3);
    assert_memory_equal(buf, ">x2", 3);
    close(c2);
    shim_proxy_stop(px);
    sendto(echo, "quit", 4, 0, (struct sockaddr *)&ca, sizeof(ca));
    pthread_join(t, NULL);
    close(echo);
}

static void refusals(void **state)
{
    uint16_t busy = free_port(SOCK_STREAM), ok = free_port(SOCK_STREAM);
    int holder = listen_on(busy);
    struct bundle_port ports[2] = {{"tcp", "127.0.0.1", ok, "127.0.0.1", 1},
                                   {"tcp", "127.0.0.1", busy, "127.0.0.1", 1}};
    struct shim_proxy *px = NULL;
    ctr_error_t err = NULL;
    char want[64];

    assert_int_equal(shim_proxy_start(ports, 2, &px, &err), -1);
    assert_null(px);
    snprintf(want, sizeof(want), "port 127.0.0.1:%u/tcp is already in use", busy);
    assert_string_equal(err->msg, want);
    ctr_error_free(&err);
    /* all or nothing: the first port was released again */
    close(listen_on(ok));
    close(holder);

    /* UDP in use, and an address that is not ours */
    uint16_t u = free_port(SOCK_DGRAM);
    int uh = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in ua = lo_addr(u);
    assert_int_equal(bind(uh, (struct sockaddr *)&ua, sizeof(ua)), 0);
    struct bundle_port up = {"udp", "0.0.0.0", u, "127.0.0.1", 1};
    assert_int_equal(shim_proxy_start(&up, 1, &px, &err), -1);
    snprintf(want, sizeof(want), "port 0.0.0.0:%u/udp is already in use", u);
    assert_string_equal(err->msg, want);
    ctr_error_free(&err);
    close(uh);
    struct bundle_port far = {"tcp", "192.0.2.1", 8080, "127.0.0.1", 1};
    assert_int_equal(shim_proxy_start(&far, 1, &px, &err), -1);
    assert_non_null(strstr(err->msg, "192.0.2.1 is not on this host"));
    ctr_error_free(&err);
    /* no ports: nothing started */
    assert_int_equal(shim_proxy_start(NULL, 0, &px, &err), 0);
    assert_null(px);
    shim_proxy_stop(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(tcp_relay_half_close),
        cmocka_unit_test(tcp_bulk),
        cmocka_unit_test(tcp_waits_for_boot),
        cmocka_unit_test(tcp_gives_up_when_running),
        cmocka_unit_test(udp_flows),
        cmocka_unit_test(refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
