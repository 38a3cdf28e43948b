/* -p parsing (src/net/ports.c): docker's forms, expansion of ranges, every error naming the
 * flag and what is wrong; Docker's PortBindings both ways; free port assignment. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/ports.h"

/* Parse spec and compare with "proto ip hport cport;..." */
static void ok(const char *spec, const char *want)
{
    struct net_port_binding *v = NULL;
    size_t n = 0;
    ctr_error_t err = NULL;
    if (net_ports_parse(spec, &v, &n, &err) < 0)
        fail_msg("`%s`: %s", spec, err->msg);
    char got[4096] = "";
    for (size_t i = 0; i < n; i++) {
        char one[64];
        snprintf(one, sizeof(one), "%s%s %s %u %u", i ? ";" : "", v[i].proto,
                 v[i].host_ip[0] ? v[i].host_ip : "-", v[i].host_port, v[i].container_port);
        strcat(got, one);
    }
    if (strcmp(got, want) != 0)
        fail_msg("`%s`: got `%s`, want `%s`", spec, got, want);
    free(v);
}

static void bad(const char *spec, const char *needle)
{
    struct net_port_binding *v = NULL;
    size_t n = 0;
    ctr_error_t err = NULL;
    if (net_ports_parse(spec, &v, &n, &err) == 0)
        fail_msg("`%s` accepted", spec ? spec : "(null)");
    assert_int_equal(n, 0);
    char *prefix = ctr_xasprintf("invalid --publish `%s`: ", spec ? spec : "");
    if (strncmp(err->msg, prefix, strlen(prefix)) != 0 || strstr(err->msg, needle) == NULL)
        fail_msg("`%s`: message `%s` lacks `%s`", spec, err->msg, needle);
    free(prefix);
    ctr_error_free(&err);
    free(v);
}

static void test_forms(void **state)
{
    ok("80", "tcp - 0 80");
    ok("8080:80", "tcp - 8080 80");
    ok("127.0.0.1:8080:80", "tcp 127.0.0.1 8080 80");
    ok("127.0.0.1::80", "tcp 127.0.0.1 0 80");
    ok("::80", "tcp - 0 80");
    ok(":8080:80", "tcp - 8080 80");
    ok("0.0.0.0:53:53/udp", "udp - 53 53");
    ok("53:53/UDP", "udp - 53 53");
    ok("80/tcp", "tcp - 0 80");
    ok("65535:1", "tcp - 65535 1");
    ok("8000-8002:80-82/udp", "udp - 8000 80;udp - 8001 81;udp - 8002 82");
    ok("10.0.0.2:9000-9001:9000-9001", "tcp 10.0.0.2 9000 9000;tcp 10.0.0.2 9001 9001");
    ok("80-81", "tcp - 0 80;tcp - 0 81");
    ok("5-5:7-7", "tcp - 5 7");
    /* appending to an existing list */
    struct net_port_binding *v = NULL;
    size_t n = 0;
    ctr_error_t err = NULL;
    assert_int_equal(net_ports_parse("1:2", &v, &n, &err), 0);
    assert_int_equal(net_ports_parse("3-4:5-6/udp", &v, &n, &err), 0);
    assert_int_equal(n, 3);
    assert_int_equal(v[2].container_port, 6);
    /* a failed parse leaves the list as it was */
    assert_int_equal(net_ports_parse("3-5:5-6", &v, &n, &err), -1);
    assert_int_equal(n, 3);
    ctr_error_free(&err);
    free(v);
}

static void test_errors(void **state)
{
    bad("", "no container port");
    bad(NULL, "no container port");
    bad("/tcp", "no container port");
    bad("8080:", "container port ``");
    bad("0", "ports go from 1 to 65535");
    bad("65536", "ports go from 1 to 65535");
    bad("8080:0", "container port `0`");
    bad("0:80", "host port `0`");
    bad("99999999999999999999:80", "ports go from 1 to 65535");
    bad("-1", "not a port");
    bad("80-", "not a port");
    bad("80--90", "not a port");
    bad("8o", "not a port");
    bad(" 80", "not a port");
    bad("+80", "not a port");
    bad("90-80", "ends before it starts");
    bad("8000-8010:80-85", "host range 8000-8010 has 11 ports but container range 80-85 has 6");
    bad("8000-8001:80", "has 2 ports but container range 80-80 has 1");
    bad("1-2000", "at most 1024");
    bad("80/sctp", "protocol `sctp` is not supported (tcp or udp)");
    bad("80/", "protocol `` is not supported");
    bad("80/tcp/udp", "container port `80/tcp` is not a port");
    bad("1.2.3:80:80", "`1.2.3` is not an IPv4 address");
    bad("localhost:80:80", "`localhost` is not an IPv4 address");
    bad("999.1.1.1:80:80", "not an IPv4 address");
    bad("[::1]:8080:80", "is IPv6: only IPv4 is supported");
    bad("::1:8080:80", "IPv6");
    bad("[::1:8080:80", "not an IPv4 address");
    bad("a:b:c:d", "not an IPv4 address");
}

static void test_docker_shapes(void **state)
{
    struct net_port_binding *v = NULL;
    size_t n = 0;
    ctr_error_t err = NULL;
    assert_int_equal(net_ports_parse("127.0.0.1:8080:80", &v, &n, &err), 0);
    assert_int_equal(net_ports_parse("8081:80", &v, &n, &err), 0);
    assert_int_equal(net_ports_parse("53/udp", &v, &n, &err), 0);
    json_t *pb = net_ports_to_docker(v, n), *ex = net_ports_exposed(v, n);
    char *s = json_dumps(pb, JSON_SORT_KEYS | JSON_COMPACT);
    assert_string_equal(s, "{\"53/udp\":[{\"HostIp\":\"\",\"HostPort\":\"\"}],"
                           "\"80/tcp\":[{\"HostIp\":\"127.0.0.1\",\"HostPort\":\"8080\"},"
                           "{\"HostIp\":\"\",\"HostPort\":\"8081\"}]}");
    free(s);
    s = json_dumps(ex, JSON_SORT_KEYS | JSON_COMPACT);
    assert_string_equal(s, "{\"53/udp\":{},\"80/tcp\":{}}");
    free(s);
    /* and back */
    struct net_port_binding *w = NULL;
    size_t m = 0;
    assert_int_equal(net_ports_from_docker(pb, &w, &m, &err), 0);
    assert_int_equal(m, 3);
    size_t found = 0;
    for (size_t i = 0; i < m; i++)
        for (size_t k = 0; k < n; k++)
            if (memcmp(&w[i], &v[k], sizeof(w[i])) == 0)
                found++;
    assert_int_equal(found, 3);
    free(w);
    w = NULL;
    m = 0;
    json_decref(pb);
    json_decref(ex);
    free(v);

    /* docker CLI's own shapes: key without proto, HostIp omitted, "0.0.0.0", null entries */
    json_t *d = json_loads("{\"80\":[{\"HostPort\":\"9000\"}],\"81/tcp\":[{\"HostIp\":\"0.0.0.0\","
                           "\"HostPort\":\"\"}],\"82/tcp\":null,\"83/tcp\":[]}",
                           0, NULL);
    assert_int_equal(net_ports_from_docker(d, &w, &m, &err), 0);
    assert_int_equal(m, 2);
    json_decref(d);
    free(w);
    w = NULL;
    m = 0;
    assert_int_equal(net_ports_from_docker(NULL, &w, &m, &err), 0);
    assert_int_equal(m, 0);

    static const struct {
        const char *json, *needle;
    } bads[] = {
        {"[]", "must be an object"},
        {"{\"80/sctp\":[]}", "key `80/sctp`: protocol `sctp`"},
        {"{\"0/tcp\":[]}", "key `0/tcp`: container port `0`"},
        {"{\"80-81/tcp\":[]}", "one container port per key"},
        {"{\"80/tcp\":{}}", "must be an array"},
        {"{\"80/tcp\":[{\"HostPort\":8080}]}", "must be strings"},
        {"{\"80/tcp\":[1]}", "must be strings"},
        {"{\"80/tcp\":[{\"HostPort\":\"70000\"}]}", "HostPort `70000`"},
        {"{\"80/tcp\":[{\"HostPort\":\"8000-8002\"}]}", "is a range for one container port"},
        {"{\"80/tcp\":[{\"HostIp\":\"::1\",\"HostPort\":\"1\"}]}", "IPv6"},
        {"{\"81/tcp\":[{\"HostPort\":\"1\"}],\"80/tcp\":[{\"HostIp\":\"x\"}]}",
         "key `80/tcp`: host address `x`"},
    };
    for (size_t i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
        d = json_loads(bads[i].json, JSON_DECODE_ANY, NULL);
        assert_non_null(d);
        if (net_ports_from_docker(d, &w, &m, &err) == 0)
            fail_msg("%s accepted", bads[i].json);
        if (strstr(err->msg, bads[i].needle) == NULL)
            fail_msg("%s: `%s` lacks `%s`", bads[i].json, err->msg, bads[i].needle);
        assert_int_equal(m, 0);
        ctr_error_free(&err);
        json_decref(d);
    }
    free(w);
}

static void test_assign_free(void **state)
{
    struct net_port_binding *v = NULL;
    size_t n = 0;
    ctr_error_t err = NULL;
    assert_int_equal(net_ports_parse("127.0.0.1::80-83", &v, &n, &err), 0);
    assert_int_equal(net_ports_parse("127.0.0.1:5:5/udp", &v, &n, &err), 0);
    assert_int_equal(net_ports_parse("127.0.0.1::5/udp", &v, &n, &err), 0);
    assert_int_equal(net_ports_assign_free(v, n, &err), 0);
    assert_int_equal(v[4].host_port, 5); /* given ports stay */
    for (size_t i = 0; i < n; i++) {
        assert_true(v[i].host_port > 0);
        for (size_t k = 0; k < i; k++)
            if (strcmp(v[i].proto, v[k].proto) == 0)
                assert_int_not_equal(v[i].host_port, v[k].host_port);
        if (i == 4)
            continue;
        /* really free: we can bind it */
        int fd = socket(AF_INET, strcmp(v[i].proto, "udp") ? SOCK_STREAM : SOCK_DGRAM, 0);
        struct sockaddr_in sa = {.sin_family = AF_INET,
                                 .sin_port = htons(v[i].host_port),
                                 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
        close(fd);
    }
    free(v);
    /* an address that is not ours: the error names it; nothing assigned */
    v = NULL;
    n = 0;
    assert_int_equal(net_ports_parse("192.0.2.1::80", &v, &n, &err), 0);
    assert_int_equal(net_ports_assign_free(v, n, &err), -1);
    assert_non_null(strstr(err->msg, "no free tcp port on 192.0.2.1 for container port 80"));
    assert_int_equal(v[0].host_port, 0);
    ctr_error_free(&err);
    free(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forms),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_docker_shapes),
        cmocka_unit_test(test_assign_free),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
