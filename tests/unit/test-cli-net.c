/* The CLI's networking without a daemon: run/create network flags (-p, --network,
 * --network-alias, --dns*, --no-dns, --add-host) into the create body, their errors, the
 * network create body and ls table, `container port` lines, the PORTS column, and the
 * dispatch of the network group. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

#define ARGV(...) ((char *[]){__VA_ARGS__, NULL})
#define ARGC(...) ((int)(sizeof((char *[]){__VA_ARGS__}) / sizeof(char *)))
#define RUN_PARSE(o, msg, ...) run_parse(o, msg, ARGC(__VA_ARGS__), ARGV(__VA_ARGS__))

static int run_parse(struct cli_run_opts *o, char **msg, int argc, char **argv)
{
    ctr_error_t err = NULL;
    int r = cli_run_parse("run", argc, argv, o, &err);
    *msg = err ? ctr_error_take_msg(&err) : NULL;
    return r;
}

static char *dumps(json_t *j)
{
    return json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT);
}

/* dumps, then drop the reference */
static char *dumpd(json_t *j)
{
    char *s = dumps(j);
    json_decref(j);
    return s;
}

static void test_run_net_flags(void **state)
{
    struct cli_run_opts o;
    char *msg = NULL;
    assert_int_equal(RUN_PARSE(&o, &msg, "run", "-p", "127.0.0.1:8080:80", "--publish=53:53/udp",
                               "-p", "9000-9001:90-91", "-p", "7000", "--network", "front",
                               "--net=back", "--network-alias", "web", "--network-alias", "www",
                               "--dns", "10.0.0.53", "--dns-search", "example.org", "--dns-option",
                               "ndots:2", "--dns-opt", "timeout:1", "--add-host", "db:10.0.0.7",
                               "--add-host", "host=host-gateway", "busybox", "-p"),
                     0);
    assert_null(msg);
    assert_int_equal(o.n_ports, 5);
    assert_int_equal(ctr_strv_len(o.cmd), 1); /* the -p after the image is the command's */
    json_t *b = cli_run_body(&o, true), *hc = json_object_get(b, "HostConfig");
    char *s = dumps(json_object_get(hc, "PortBindings"));
    assert_string_equal(s, "{\"53/udp\":[{\"HostIp\":\"\",\"HostPort\":\"53\"}],"
                           "\"7000/tcp\":[{\"HostIp\":\"\",\"HostPort\":\"\"}],"
                           "\"80/tcp\":[{\"HostIp\":\"127.0.0.1\",\"HostPort\":\"8080\"}],"
                           "\"90/tcp\":[{\"HostIp\":\"\",\"HostPort\":\"9000\"}],"
                           "\"91/tcp\":[{\"HostIp\":\"\",\"HostPort\":\"9001\"}]}");
    free(s);
    s = dumps(json_object_get(b, "ExposedPorts"));
    assert_string_equal(s, "{\"53/udp\":{},\"7000/tcp\":{},\"80/tcp\":{},\"90/tcp\":{},"
                           "\"91/tcp\":{}}");
    free(s);
    assert_string_equal(cli_json_str(hc, "NetworkMode"), "front");
    s = dumps(json_object_get(b, "NetworkingConfig"));
    assert_string_equal(s, "{\"EndpointsConfig\":{\"back\":{},\"front\":{\"Aliases\":[\"web\","
                           "\"www\"]}}}");
    free(s);
    s = dumpd(json_pack("{s:O,s:O,s:O,s:O}", "a", json_object_get(hc, "Dns"), "b",
                        json_object_get(hc, "DnsSearch"), "c", json_object_get(hc, "DnsOptions"),
                        "d", json_object_get(hc, "ExtraHosts")));
    assert_string_equal(s, "{\"a\":[\"10.0.0.53\"],\"b\":[\"example.org\"],\"c\":[\"ndots:2\","
                           "\"timeout:1\"],\"d\":[\"db:10.0.0.7\",\"host:host-gateway\"]}");
    free(s);
    assert_null(json_object_get(hc, "ContainerNoDns"));
    json_decref(b);
    cli_run_opts_release(&o);

    /* nothing given: no network fields (the daemon's defaults) */
    assert_int_equal(RUN_PARSE(&o, &msg, "run", "busybox"), 0);
    b = cli_run_body(&o, true);
    hc = json_object_get(b, "HostConfig");
    assert_null(json_object_get(hc, "PortBindings"));
    assert_null(json_object_get(hc, "NetworkMode"));
    assert_null(json_object_get(b, "NetworkingConfig"));
    assert_null(json_object_get(b, "ExposedPorts"));
    json_decref(b);
    cli_run_opts_release(&o);

    /* --network none; --no-dns; aliases alone go to the default network */
    assert_int_equal(RUN_PARSE(&o, &msg, "run", "--network", "none", "--no-dns", "busybox"), 0);
    b = cli_run_body(&o, true);
    hc = json_object_get(b, "HostConfig");
    assert_string_equal(cli_json_str(hc, "NetworkMode"), "none");
    assert_true(cli_json_bool(hc, "ContainerNoDns"));
    assert_int_equal(json_object_size(json_object_get(json_object_get(b, "NetworkingConfig"),
                                                      "EndpointsConfig")),
                     0);
    json_decref(b);
    cli_run_opts_release(&o);
    assert_int_equal(RUN_PARSE(&o, &msg, "run", "--network-alias", "api", "busybox"), 0);
    b = cli_run_body(&o, true);
    s = dumps(json_object_get(b, "NetworkingConfig"));
    assert_string_equal(s, "{\"EndpointsConfig\":{\"default\":{\"Aliases\":[\"api\"]}}}");
    free(s);
    assert_string_equal(cli_json_str(json_object_get(b, "HostConfig"), "NetworkMode"), "default");
    json_decref(b);
    cli_run_opts_release(&o);
    /* --ip and --mac-address: the first network's endpoint */
    assert_int_equal(RUN_PARSE(&o, &msg, "run", "--network", "n1", "--network", "n2", "--ip",
                               "10.9.0.5", "--mac-address", "02:42:aa:bb:cc:dd", "busybox"),
                     0);
    b = cli_run_body(&o, true);
    s = dumps(json_object_get(
        json_object_get(json_object_get(b, "NetworkingConfig"), "EndpointsConfig"), "n1"));
    assert_string_equal(
        s, "{\"IPAMConfig\":{\"IPv4Address\":\"10.9.0.5\"},\"MacAddress\":\"02:42:aa:bb:cc:dd\"}");
    free(s);
    json_decref(b);
    cli_run_opts_release(&o);
}

static void bad_run(const char *needle, int argc, char **argv)
{
    struct cli_run_opts o;
    char *msg = NULL;
    if (run_parse(&o, &msg, argc, argv) != -1)
        fail_msg("accepted; wanted an error with `%s`", needle);
    if (msg == NULL || strstr(msg, needle) == NULL)
        fail_msg("message `%s` lacks `%s`", msg ? msg : "(none)", needle);
    free(msg);
    cli_run_opts_release(&o);
}
#define BAD_RUN(needle, ...) bad_run(needle, ARGC(__VA_ARGS__), ARGV(__VA_ARGS__))

static void test_run_net_errors(void **state)
{
    BAD_RUN("invalid --publish `8080:80/sctp`: protocol `sctp` is not supported", "run", "-p",
            "8080:80/sctp", "busybox");
    BAD_RUN("invalid --publish `0:80`: host port `0`: ports go from 1 to 65535", "run", "-p",
            "0:80", "busybox");
    BAD_RUN("host range 1-3 has 3 ports but container range 1-2 has 2", "run", "-p", "1-3:1-2",
            "busybox");
    BAD_RUN("flag `--publish` of `container run` needs a value", "run", "--publish");
    BAD_RUN("invalid value `host` for `--network`: each container is its own VM", "run",
            "--network", "host", "busybox");
    BAD_RUN("sharing another container's network is not supported", "run", "--network",
            "container:web", "busybox");
    BAD_RUN("invalid value `  ` for `--network`", "run", "--network=  ", "busybox");
    BAD_RUN("`--network a` given twice", "run", "--network", "a", "--network", "a", "busybox");
    BAD_RUN("`--network none` cannot be combined with other networks", "run", "--network", "none",
            "--network", "a", "busybox");
    BAD_RUN("`-p` needs a network", "run", "--network", "none", "-p", "80", "busybox");
    BAD_RUN("`--network-alias` needs a network", "run", "--network", "none", "--network-alias", "x",
            "busybox");
    BAD_RUN("invalid value `a b` for `--network-alias`", "run", "--network-alias", "a b",
            "busybox");
    BAD_RUN("invalid value `10.0.0` for `--ip`", "run", "--ip", "10.0.0", "busybox");
    BAD_RUN("invalid value `01:00:5e:00:00:01` for `--mac-address`", "run", "--mac-address",
            "01:00:5e:00:00:01", "busybox");
    BAD_RUN("`--ip` and `--mac-address` need a network", "run", "--network", "none", "--ip",
            "10.0.0.2", "busybox");
    BAD_RUN("invalid value `8.8.8` for `--dns`: `8.8.8` is not an IPv4 address", "run", "--dns",
            "8.8.8", "busybox");
    BAD_RUN("`::1` is IPv6; only IPv4 is supported", "run", "--dns", "::1", "busybox");
    BAD_RUN("invalid value `a..b c` for `--dns-search`", "run", "--dns-search", "a..b c",
            "busybox");
    BAD_RUN("invalid value `` for `--dns-option`", "run", "--dns-option", "", "busybox");
    BAD_RUN("`--no-dns` cannot be combined with `--dns`", "run", "--no-dns", "--dns", "1.1.1.1",
            "busybox");
    BAD_RUN("invalid value `db` for `--add-host`: expected NAME:IP", "run", "--add-host", "db",
            "busybox");
    BAD_RUN("invalid value `:1.2.3.4` for `--add-host`", "run", "--add-host", ":1.2.3.4",
            "busybox");
    BAD_RUN("`d b` is not a host name", "run", "--add-host", "d b:1.2.3.4", "busybox");
    BAD_RUN("`1.2.3.400` is not an IPv4 address", "run", "--add-host", "db:1.2.3.400", "busybox");
    BAD_RUN("flag `--no-dns` of `container run` takes no value", "run", "--no-dns=1", "busybox");
}

static void test_network_create_body(void **state)
{
    char *s =
        dumpd(cli_network_create_body("front", "10.10.0.0/24", true, (char *[]){"a=b", "c", NULL}));
    assert_string_equal(s, "{\"CheckDuplicate\":true,\"Driver\":\"bridge\",\"IPAM\":{\"Config\":"
                           "[{\"Subnet\":\"10.10.0.0/24\"}],\"Driver\":\"default\"},"
                           "\"Internal\":true,\"Labels\":{\"a\":\"b\",\"c\":\"\"},\"Name\":"
                           "\"front\"}");
    free(s);
    s = dumpd(cli_network_create_body("n", NULL, false, NULL));
    assert_string_equal(s, "{\"CheckDuplicate\":true,\"Driver\":\"bridge\",\"IPAM\":{\"Config\":"
                           "[],\"Driver\":\"default\"},\"Internal\":false,\"Labels\":{},\"Name\":"
                           "\"n\"}");
    free(s);
}

/* Run the dispatcher on argv; returns the exit code, stderr in *errout. */
static int dispatch(char **errout, int argc, char **argv)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    FILE *saved = stderr;
    stderr = f;
    int rc = cli_main(argc, argv);
    stderr = saved;
    fclose(f);
    *errout = buf;
    return rc;
}
#define DISPATCH(out, ...) dispatch(out, ARGC(__VA_ARGS__), ARGV(__VA_ARGS__))

static void test_network_cmd_errors(void **state)
{
    char *e;
    setenv("CONTAINER_HOST", "unix:///nonexistent/container.sock", 1);
    const struct {
        int rc;
        const char *needle;
        char **argv;
        int argc;
    } cases[] = {
#define C(rc, needle, ...) {rc, needle, ARGV(__VA_ARGS__), ARGC(__VA_ARGS__)}
        C(1, "invalid network name ` `", "container", "network", "create", " "),
        C(1, "invalid network name `\t`", "container", "network", "create", "\t"),
        C(1, "network driver `overlay` is not supported", "container", "network", "create", "-d",
          "overlay", "n"),
        C(1, "invalid value `10.0.0.0` for `--subnet`: expected an IPv4 CIDR", "container",
          "network", "create", "--subnet", "10.0.0.0", "n"),
        C(1, "invalid value for `--subnet`: invalid IPv4 subnet `10.0.0.0/33`", "container",
          "network", "create", "--subnet", "10.0.0.0/33", "n"),
        C(1, "invalid value for `--subnet`: invalid IPv4 subnet `10.0.300.0/24`", "container",
          "network", "create", "--subnet", "10.0.300.0/24", "n"),
        C(1, "`--subnet` given twice", "container", "network", "create", "--subnet", "1.0.0.0/8",
          "--subnet", "2.0.0.0/8", "n"),
        C(1, "invalid value `=x` for `--label`", "container", "network", "create", "-l", "=x", "n"),
        C(1, "a network name", "container", "network", "create"),
        C(1, "a network name", "container", "network", "create", "a", "b"),
        C(1, "at least one network", "container", "network", "rm"),
        C(1, "at least one network", "container", "n", "inspect"),
        C(1, "a network and a container", "container", "network", "connect", "n"),
        C(1, "invalid value `a b` for `--alias`", "container", "network", "connect", "--alias",
          "a b", "n", "c"),
        C(1, "unknown flag `--alias`", "container", "network", "disconnect", "--alias", "a", "n",
          "c"),
        C(1, "a container and an optional PORT[/PROTO]", "container", "port"),
        C(1, "invalid value `name` for `--filter`: expected KEY=VALUE", "container", "network",
          "ls", "-f", "name"),
        C(1, "invalid value `=x` for `--filter`", "container", "network", "prune", "--filter",
          "=x"),
        C(1, "not running", "container", "network", "ls"),
        C(1, "not running", "container", "port", "web"),
        C(2, "unknown command `network frob`", "container", "network", "frob"),
#undef C
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int rc = dispatch(&e, cases[i].argc, cases[i].argv);
        if (rc != cases[i].rc || strstr(e, cases[i].needle) == NULL)
            fail_msg("case %zu: rc %d (want %d), stderr `%s` lacks `%s`", i, rc, cases[i].rc, e,
                     cases[i].needle);
        free(e);
    }
    /* run's errors are docker's 125 */
    assert_int_equal(DISPATCH(&e, "container", "run", "-p", "x", "busybox"), 125);
    assert_non_null(strstr(e, "invalid --publish `x`"));
    free(e);
    unsetenv("CONTAINER_HOST");
}

static char *port_lines(const char *inspect, const char *filter, int *rc, char **msg)
{
    json_t *j = json_loads(inspect, 0, NULL);
    assert_non_null(j);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    ctr_error_t err = NULL;
    *rc = cli_port_print(j, "web", filter, f, &err);
    fclose(f);
    *msg = err ? ctr_error_take_msg(&err) : NULL;
    json_decref(j);
    return buf;
}

static void test_port(void **state)
{
    const char *info =
        "{\"NetworkSettings\":{\"Ports\":{"
        "\"8080/tcp\":[{\"HostIp\":\"\",\"HostPort\":\"18080\"}],"
        "\"80/tcp\":[{\"HostIp\":\"127.0.0.1\",\"HostPort\":\"8080\"},{\"HostIp\":\"0.0.0.0\","
        "\"HostPort\":\"8081\"}],"
        "\"53/udp\":[{\"HostIp\":\"127.0.0.1\",\"HostPort\":\"5353\"}],"
        "\"443/tcp\":null,\"9/tcp\":[]}}}";
    int rc;
    char *msg, *out = port_lines(info, NULL, &rc, &msg);
    assert_int_equal(rc, 0);
    assert_string_equal(out, "53/udp -> 127.0.0.1:5353\n"
                             "80/tcp -> 0.0.0.0:8081\n"
                             "80/tcp -> 127.0.0.1:8080\n"
                             "8080/tcp -> 0.0.0.0:18080\n");
    free(out);
    out = port_lines(info, "80", &rc, &msg);
    assert_string_equal(out, "0.0.0.0:8081\n127.0.0.1:8080\n");
    free(out);
    out = port_lines(info, "53/udp", &rc, &msg);
    assert_string_equal(out, "127.0.0.1:5353\n");
    free(out);
    out = port_lines(info, "53", &rc, &msg);
    assert_int_equal(rc, -1);
    assert_string_equal(msg, "no public port `53/tcp` published for `web`");
    free(msg);
    free(out);
    out = port_lines(info, "443/tcp", &rc, &msg);
    assert_int_equal(rc, -1);
    free(msg);
    free(out);
    static const char *const bad[] = {"http", "80/sctp", "0", "70000", "80/", "80x"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        out = port_lines(info, bad[i], &rc, &msg);
        assert_int_equal(rc, -1);
        if (strstr(msg, "expected PORT or PORT/PROTO") == NULL)
            fail_msg("%s: %s", bad[i], msg);
        free(msg);
        free(out);
    }
    /* no ports at all */
    out = port_lines("{\"NetworkSettings\":{\"Ports\":{}}}", NULL, &rc, &msg);
    assert_int_equal(rc, 0);
    assert_string_equal(out, "");
    free(out);
}

static void test_ports_column(void **state)
{
    json_t *p =
        json_loads("[{\"IP\":\"0.0.0.0\",\"PrivatePort\":81,\"PublicPort\":8001,\"Type\":\"tcp\"},"
                   "{\"IP\":\"0.0.0.0\",\"PrivatePort\":80,\"PublicPort\":8000,\"Type\":\"tcp\"},"
                   "{\"IP\":\"0.0.0.0\",\"PrivatePort\":82,\"PublicPort\":8002,\"Type\":\"tcp\"},"
                   "{\"IP\":\"127.0.0.1\",\"PrivatePort\":83,\"PublicPort\":9000,\"Type\":\"tcp\"},"
                   "{\"PrivatePort\":7000,\"Type\":\"tcp\"},"
                   "{\"IP\":\"0.0.0.0\",\"PrivatePort\":53,\"PublicPort\":53,\"Type\":\"udp\"}]",
                   0, NULL);
    char *s = cli_ports_column(p);
    assert_string_equal(s, "0.0.0.0:53->53/udp, 0.0.0.0:8000-8002->80-82/tcp, "
                           "127.0.0.1:9000->83/tcp, 7000/tcp");
    free(s);
    json_decref(p);
    s = cli_ports_column(NULL);
    assert_string_equal(s, "");
    free(s);
}

static char *capture_table(json_t *list)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    cli_network_print_table(list, f);
    fclose(f);
    return buf;
}

static void test_network_table(void **state)
{
    json_t *l = json_loads(
        "[{\"Name\":\"default\",\"Id\":\"0123456789abcdef\",\"Driver\":\"bridge\","
        "\"IPAM\":{\"Config\":[{\"Subnet\":\"192.168.64.0/24\",\"Gateway\":\"192.168.64.1\"}]},"
        "\"Internal\":false},"
        "{\"Name\":\"back\",\"Id\":\"fedcba9876543210\",\"Driver\":\"bridge\",\"IPAM\":{},"
        "\"Internal\":true}]",
        0, NULL);
    char *s = capture_table(l);
    assert_string_equal(s, "NETWORK ID     NAME      DRIVER   SUBNET            GATEWAY        "
                           "INTERNAL\n"
                           "0123456789ab   default   bridge   192.168.64.0/24   192.168.64.1   "
                           "false\n"
                           "fedcba987654   back      bridge                                    "
                           "true\n");
    free(s);
    json_decref(l);
    /* the first network's address: NetworkMode's, else the first listed */
    json_t *c = json_loads("{\"NetworkSettings\":{\"Networks\":{\"b\":{\"IPAddress\":\"10.0.0.2\"},"
                           "\"a\":{\"IPAddress\":\"10.0.1.2\"}}}}",
                           0, NULL);
    assert_string_equal(cli_container_addr(c), "10.0.0.2");
    json_object_set_new(c, "HostConfig", json_pack("{s:s}", "NetworkMode", "a"));
    assert_string_equal(cli_container_addr(c), "10.0.1.2");
    json_decref(c);
    assert_string_equal(cli_container_addr(NULL), "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_run_net_flags),
        cmocka_unit_test(test_run_net_errors),
        cmocka_unit_test(test_network_create_body),
        cmocka_unit_test(test_network_cmd_errors),
        cmocka_unit_test(test_port),
        cmocka_unit_test(test_ports_column),
        cmocka_unit_test(test_network_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
