/* The network parts of the contracts: bundle `networks`/`ports`, the agent's
 * setup.network, and the validators behind them; round trips and hostile input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
/* cmocka needs the three above first */
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proto/bundle.h"
#include "proto/shim.h"

static char dir[64];

static int setup(void **state)
{
    strcpy(dir, "/tmp/test-proto-net.XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    return ctr_rm_rf(dir, NULL);
}

/* ---- validators ---- */

static void test_validators(void **state)
{
    uint8_t mac[6];
    uint32_t a;
    uint8_t p;

    assert_true(agent_mac_parse("02:42:c0:a8:40:05", mac));
    assert_int_equal(mac[0], 0x02);
    assert_int_equal(mac[5], 0x05);
    assert_true(agent_mac_parse("02:42:C0:A8:40:FF", mac));
    assert_int_equal(mac[5], 0xff);
    assert_false(agent_mac_parse("01:00:5e:00:00:01", mac)); /* multicast */
    assert_false(agent_mac_parse("ff:ff:ff:ff:ff:ff", mac)); /* broadcast */
    assert_false(agent_mac_parse("00:00:00:00:00:00", mac));
    assert_false(agent_mac_parse("02:42:c0:a8:40", mac));
    assert_false(agent_mac_parse("02:42:c0:a8:40:05:", mac));
    assert_false(agent_mac_parse("02-42-c0-a8-40-05", mac));
    assert_false(agent_mac_parse("02:42:c0:a8:4g:05", mac));
    assert_false(agent_mac_parse("", mac));
    assert_false(agent_mac_parse(NULL, mac));

    assert_true(agent_ipv4_parse("192.168.64.1", &a));
    assert_int_equal(a, 0xc0a84001u);
    assert_false(agent_ipv4_parse("192.168.64", &a));
    assert_false(agent_ipv4_parse("192.168.64.256", &a));
    assert_false(agent_ipv4_parse("::1", &a));
    assert_false(agent_ipv4_parse(" 1.2.3.4", &a));

    assert_true(agent_cidr_parse("192.168.64.5/24", &a, &p));
    assert_int_equal(a, 0xc0a84005u);
    assert_int_equal(p, 24);
    assert_true(agent_cidr_parse("10.0.0.1/32", &a, &p));
    assert_false(agent_cidr_parse("10.0.0.1", &a, &p));
    assert_false(agent_cidr_parse("10.0.0.1/", &a, &p));
    assert_false(agent_cidr_parse("10.0.0.1/0", &a, &p));
    assert_false(agent_cidr_parse("10.0.0.1/33", &a, &p));
    assert_false(agent_cidr_parse("10.0.0.1/024", &a, &p));
    assert_false(agent_cidr_parse("10.0.0.1/2a", &a, &p));
    assert_false(agent_cidr_parse("10.0.0.1/-8", &a, &p));
    assert_false(agent_cidr_parse("10.0.0/8", &a, &p));
    assert_false(agent_cidr_parse("1111111111111111111111/8", &a, &p));

    assert_true(bundle_ifname_ok("ctapabcdef01230"));
    assert_true(bundle_ifname_ok("ctr0"));
    assert_false(bundle_ifname_ok("ctapabcdef012301")); /* 16 */
    assert_false(bundle_ifname_ok(""));
    assert_false(bundle_ifname_ok("."));
    assert_false(bundle_ifname_ok(".."));
    assert_false(bundle_ifname_ok("a/b"));
    assert_false(bundle_ifname_ok("a b"));
    assert_false(bundle_ifname_ok("a:0"));
}

/* ---- agent setup.network ---- */

static void req_ok(const char *json, struct agent_request *req)
{
    ctr_error_t err = NULL;
    if (agent_request_decode(json, strlen(json), req, &err) < 0)
        fail_msg("decode `%s`: %s", json, err->msg);
}

static void req_bad(const char *network, const char *needle)
{
    struct agent_request req = {0};
    ctr_error_t err = NULL;
    char *json = ctr_xasprintf("{\"op\":\"setup\",\"id\":1,\"root_lower\":\"serial:image\","
                               "\"network\":%s}",
                               network);

    if (agent_request_decode(json, strlen(json), &req, &err) == 0)
        fail_msg("accepted `%s`", json);
    if (strstr(err->msg, needle) == NULL)
        fail_msg("error `%s` for `%s` does not mention `%s`", err->msg, json, needle);
    assert_int_equal(req.id, 0);
    ctr_error_free(&err);
    free(json);
}

static void test_agent_round_trip(void **state)
{
    struct agent_iface ifs[2] = {
        {"02:42:c0:a8:40:05", "192.168.64.5/24", "192.168.64.1", 1500},
        {"02:42:0a:59:00:02", "10.89.0.2/24", NULL, 9000},
    };
    struct agent_request in = {.id = 7, .op = AGENT_OP_SETUP}, out = {0};
    in.u.setup = (struct agent_setup){.hostname = "web1",
                                      .root_lower = "serial:image",
                                      .ifaces = ifs,
                                      .n_ifaces = 2,
                                      .hosts = "127.0.0.1\tlocalhost\n192.168.64.5\tweb1\n",
                                      .resolv = "nameserver 192.168.64.1\noptions ndots:2\n"};
    size_t len;
    char *json = agent_request_encode(&in, &len);
    assert_non_null(json);
    req_ok(json, &out);
    free(json);
    struct agent_setup *s = &out.u.setup;
    assert_int_equal(s->n_ifaces, 2);
    assert_string_equal(s->ifaces[0].mac, "02:42:c0:a8:40:05");
    assert_string_equal(s->ifaces[0].address, "192.168.64.5/24");
    assert_string_equal(s->ifaces[0].gateway, "192.168.64.1");
    assert_int_equal(s->ifaces[0].mtu, 1500);
    assert_null(s->ifaces[1].gateway);
    assert_int_equal(s->ifaces[1].mtu, 9000);
    assert_string_equal(s->hosts, "127.0.0.1\tlocalhost\n192.168.64.5\tweb1\n");
    assert_string_equal(s->resolv, "nameserver 192.168.64.1\noptions ndots:2\n");
    agent_request_release(&out);

    /* no network part: nothing encoded, nothing decoded */
    in.u.setup = (struct agent_setup){.root_lower = "serial:image"};
    json = agent_request_encode(&in, &len);
    assert_null(strstr(json, "network"));
    req_ok(json, &out);
    free(json);
    assert_int_equal(out.u.setup.n_ifaces, 0);
    assert_null(out.u.setup.hosts);
    assert_null(out.u.setup.resolv);
    agent_request_release(&out);

    /* defaults: mtu 1500; hosts alone; empty interfaces */
    req_ok("{\"op\":\"setup\",\"id\":1,\"root_lower\":\"a\",\"network\":{\"interfaces\":[{"
           "\"mac\":\"02:00:00:00:00:01\",\"address\":\"10.0.0.2/8\"}]}}",
           &out);
    assert_int_equal(out.u.setup.ifaces[0].mtu, 1500);
    assert_null(out.u.setup.ifaces[0].gateway);
    agent_request_release(&out);
    req_ok("{\"op\":\"setup\",\"id\":1,\"root_lower\":\"a\",\"network\":{\"hosts\":\"\","
           "\"interfaces\":[]}}",
           &out);
    assert_string_equal(out.u.setup.hosts, "");
    assert_int_equal(out.u.setup.n_ifaces, 0);
    agent_request_release(&out);
}

#define IF(fields) "{\"interfaces\":[{" fields "}]}"
#define GOOD "\"mac\":\"02:42:c0:a8:40:05\",\"address\":\"192.168.64.5/24\""

static void test_agent_hostile(void **state)
{
    req_bad("[]", "must be an object");
    req_bad("{\"dns\":[]}", "unknown field `dns`");
    req_bad("{\"interfaces\":{}}", "must be an array");
    req_bad("{\"interfaces\":[1]}", "interfaces[0]` must be an object");
    req_bad(IF("\"address\":\"192.168.64.5/24\""), "missing field `mac`");
    req_bad(IF("\"mac\":\"02:42:c0:a8:40:05\""), "missing field `address`");
    req_bad(IF(GOOD ",\"name\":\"eth0\""), "unknown field `name`");
    req_bad(IF("\"mac\":\"ff:ff:ff:ff:ff:ff\",\"address\":\"192.168.64.5/24\""), "unicast MAC");
    req_bad(IF("\"mac\":\"02:42:c0:a8:40\",\"address\":\"192.168.64.5/24\""), "unicast MAC");
    req_bad(IF("\"mac\":5,\"address\":\"192.168.64.5/24\""), "must be a string");
    req_bad(IF("\"mac\":\"02:42:c0:a8:40:05\",\"address\":\"192.168.64.5\""), "with prefix");
    req_bad(IF("\"mac\":\"02:42:c0:a8:40:05\",\"address\":\"192.168.64.5/40\""), "with prefix");
    req_bad(IF("\"mac\":\"02:42:c0:a8:40:05\",\"address\":\"fd00::5/64\""), "with prefix");
    req_bad(IF("\"mac\":\"02:42:c0:a8:40:05\",\"address\":\"192.168.64.0/24\""),
            "network or broadcast");
    req_bad(IF("\"mac\":\"02:42:c0:a8:40:05\",\"address\":\"192.168.64.255/24\""),
            "network or broadcast");
    req_bad(IF(GOOD ",\"gateway\":\"192.168.65.1\""), "inside");
    req_bad(IF(GOOD ",\"gateway\":\"192.168.64.5\""), "inside");
    req_bad(IF(GOOD ",\"gateway\":\"gw\""), "not an IPv4 address");
    req_bad(IF(GOOD ",\"mtu\":67"), "between 68 and 65535");
    req_bad(IF(GOOD ",\"mtu\":65536"), "between 68 and 65535");
    req_bad(IF(GOOD ",\"mtu\":\"1500\""), "between 68 and 65535");
    req_bad(IF(GOOD ",\"mtu\":1500.5"), "between 68 and 65535");
    req_bad("{\"interfaces\":[{" GOOD "},{\"mac\":\"02:42:C0:A8:40:05\","
            "\"address\":\"10.0.0.2/24\"}]}",
            "also the MAC of");
    req_bad("{\"interfaces\":[{" GOOD ",\"gateway\":\"192.168.64.1\"},{\"mac\":"
            "\"02:42:0a:00:00:02\",\"address\":\"10.0.0.2/24\",\"gateway\":\"10.0.0.1\"}]}",
            "only one interface");
    req_bad("{\"hosts\":5}", "must be a string");
    req_bad("{\"resolv\":\"a\\u0000b\"}", "NUL");

    /* nine interfaces */
    char *nine = ctr_xstrdup("{\"interfaces\":[");
    for (int i = 0; i < 9; i++) {
        char *n =
            ctr_xasprintf("%s%s{\"mac\":\"02:00:00:00:00:%02x\",\"address\":\"10.0.%d.2/24\"}",
                          nine, i ? "," : "", i + 1, i);
        free(nine);
        nine = n;
    }
    char *n = ctr_xasprintf("%s]}", nine);
    req_bad(n, "at most 8 interfaces");
    free(n);
    free(nine);

    /* hosts over 64 KiB: refused by the field limit (and by the control frame) */
    size_t big = AGENT_MAX_NETFILE + 1;
    char *text = malloc(big + 1);
    memset(text, 'a', big);
    text[big] = '\0';
    char *json = ctr_xasprintf("{\"hosts\":\"%s\"}", text);
    req_bad(json, "bytes");
    free(json);
    free(text);
}

/* Mutating every byte of a valid setup.network must never crash or leak. */
static void test_agent_mutations(void **state)
{
    const char *base = "{\"op\":\"setup\",\"id\":1,\"root_lower\":\"a\",\"network\":{"
                       "\"interfaces\":[{\"mac\":\"02:42:c0:a8:40:05\",\"address\":"
                       "\"192.168.64.5/24\",\"gateway\":\"192.168.64.1\",\"mtu\":1500}],"
                       "\"hosts\":\"h\",\"resolv\":\"r\"}}";
    size_t len = strlen(base);
    char *buf = ctr_xstrdup(base);
    static const char repl[] = {'"', '0', ':', '/', '9', '}', '[', '\\', 'f', '.'};

    for (size_t i = 0; i < len; i++)
        for (size_t r = 0; r < sizeof(repl); r++) {
            struct agent_request req = {0};
            ctr_error_t err = NULL;
            memcpy(buf, base, len);
            buf[i] = repl[r];
            if (agent_request_decode(buf, len, &req, &err) == 0)
                agent_request_release(&req);
            else
                ctr_error_free(&err);
        }
    free(buf);
}

/* ---- bundle networks, ports ---- */

static void write_config(const char *json)
{
    char *p = ctr_xasprintf("%s/config.json", dir);
    assert_int_equal(ctr_write_file_atomic(p, json, strlen(json), 0644, NULL), 0);
    free(p);
}

#define HEAD "{\"version\":1,\"id\":\"x\",\"vm\":{},\"process\":{\"args\":[\"a\"]},"

static void config_bad(const char *rest, const char *needle)
{
    struct bundle_config c = {0};
    ctr_error_t err = NULL;
    char *json = ctr_xasprintf(HEAD "%s}", rest);
    write_config(json);
    if (bundle_config_load(dir, &c, &err) == 0)
        fail_msg("accepted %s", json);
    if (strstr(err->msg, needle) == NULL)
        fail_msg("error `%s` for %s does not mention `%s`", err->msg, json, needle);
    assert_null(c.id);
    ctr_error_free(&err);
    free(json);
}

/* The `net` op: a network joined or left live (agent and shim protocols). */
static void net_bad(const char *body, const char *needle)
{
    struct agent_request req = {0};
    ctr_error_t err = NULL;
    char *json = ctr_xasprintf("{\"op\":\"net\",\"id\":3,\"net\":%s}", body);
    if (agent_request_decode(json, strlen(json), &req, &err) == 0)
        fail_msg("accepted `%s`", json);
    if (strstr(err->msg, needle) == NULL)
        fail_msg("error `%s` for `%s` does not mention `%s`", err->msg, json, needle);
    ctr_error_free(&err);
    free(json);
}

static void test_net_op(void **state)
{
    struct agent_request req = {.id = 9, .op = AGENT_OP_NET}, back = {0};
    struct shimp_request sreq = {.op = SHIMP_OP_NET}, sback = {0};
    ctr_error_t err = NULL;
    size_t len;

    req.u.net = (struct agent_net){.parent = "02:42:c0:a8:40:02",
                                   .vlan = 101,
                                   .mac = "02:42:0a:59:00:02",
                                   .address = "10.89.0.2/24",
                                   .mtu = 1500,
                                   .hosts = "127.0.0.1\tlocalhost\n"};
    char *json = agent_request_encode(&req, &len);
    assert_non_null(json);
    assert_int_equal(agent_request_decode(json, len, &back, &err), 0);
    assert_int_equal(back.op, AGENT_OP_NET);
    assert_false(back.u.net.leave);
    assert_int_equal(back.u.net.vlan, 101);
    assert_string_equal(back.u.net.parent, "02:42:c0:a8:40:02");
    assert_string_equal(back.u.net.address, "10.89.0.2/24");
    assert_string_equal(back.u.net.hosts, "127.0.0.1\tlocalhost\n");
    agent_request_release(&back);
    free(json);

    sreq.net = req.u.net;
    sreq.net.leave = true;
    sreq.net.parent = NULL;
    sreq.net.hosts = NULL;
    json = shimp_request_encode(&sreq, &len);
    assert_int_equal(shimp_request_decode(json, len, &sback, &err), 0);
    assert_int_equal(sback.op, SHIMP_OP_NET);
    assert_true(sback.net.leave);
    assert_null(sback.net.parent);
    assert_string_equal(sback.net.mac, "02:42:0a:59:00:02");
    shimp_request_release(&sback);
    free(json);

    net_bad("[]", "must be an object");
    net_bad("{\"vlan\":5,\"mac\":\"02:00:00:00:00:01\",\"address\":\"10.0.0.2/24\"}",
            "missing field `parent`");
    net_bad("{\"parent\":\"02:00:00:00:00:02\",\"vlan\":4095,\"mac\":\"02:00:00:00:00:01\","
            "\"address\":\"10.0.0.2/24\"}",
            "`net.vlan` must be an integer between 1 and 4094");
    net_bad("{\"parent\":\"01:00:00:00:00:02\",\"vlan\":5,\"mac\":\"02:00:00:00:00:01\","
            "\"address\":\"10.0.0.2/24\"}",
            "must be unicast MAC addresses");
    net_bad("{\"leave\":true,\"mac\":\"02:00:00:00:00:01\",\"address\":\"10.0.0.2\"}",
            "is not an IPv4 address with prefix");
    net_bad("{\"leave\":1,\"mac\":\"02:00:00:00:00:01\",\"address\":\"10.0.0.2/24\"}",
            "`net.leave` must be a boolean");
    net_bad("{\"leave\":true,\"mac\":\"02:00:00:00:00:01\",\"address\":\"10.0.0.2/24\","
            "\"x\":1}",
            "unknown field `x`");
}

static void test_bundle_round_trip(void **state)
{
    struct bundle_net nets[] = {{"ctapabcdef01230", "ctr0", "02:42:c0:a8:40:05", 1500},
                                {"ctapabcdef01231", "ctrbr-01234567", "02:42:0a:59:00:02", 1400}};
    struct bundle_port ports[] = {{"tcp", "127.0.0.1", 8080, "192.168.64.5", 80},
                                  {"udp", "0.0.0.0", 5353, "192.168.64.5", 53}};
    struct agent_iface ifs[] = {{"02:42:c0:a8:40:05", "192.168.64.5/24", "192.168.64.1", 1500}};
    struct bundle_config in = {
        .version = 1,
        .id = "c1",
        .vm = {.cpus = 1, .memory_mib = 256, .boot_timeout_ms = 1000},
        .nets = nets,
        .n_nets = 2,
        .ports = ports,
        .n_ports = 2,
        .setup = {.hostname = "web1",
                  .root_lower = "serial:image",
                  .ifaces = ifs,
                  .n_ifaces = 1,
                  .hosts = "127.0.0.1\tlocalhost\n",
                  .resolv = "nameserver 192.168.64.1\n"},
        .process = {.args = (char *[]){"true", NULL}, .env = (char *[]){NULL}},
    };
    struct bundle_config out = {0};
    ctr_error_t err = NULL;

    if (bundle_config_save(dir, &in, &err) < 0 || bundle_config_load(dir, &out, &err) < 0)
        fail_msg("%s", err->msg);
    assert_int_equal(out.n_nets, 2);
    assert_string_equal(out.nets[0].tap, "ctapabcdef01230");
    assert_string_equal(out.nets[0].bridge, "ctr0");
    assert_string_equal(out.nets[0].mac, "02:42:c0:a8:40:05");
    assert_int_equal(out.nets[0].mtu, 1500);
    assert_string_equal(out.nets[1].bridge, "ctrbr-01234567");
    assert_int_equal(out.nets[1].mtu, 1400);
    assert_int_equal(out.n_ports, 2);
    assert_string_equal(out.ports[0].proto, "tcp");
    assert_string_equal(out.ports[0].host_ip, "127.0.0.1");
    assert_int_equal(out.ports[0].host_port, 8080);
    assert_string_equal(out.ports[0].container_ip, "192.168.64.5");
    assert_int_equal(out.ports[0].container_port, 80);
    assert_string_equal(out.ports[1].proto, "udp");
    assert_int_equal(out.ports[1].host_port, 5353);
    assert_int_equal(out.setup.n_ifaces, 1);
    assert_string_equal(out.setup.ifaces[0].gateway, "192.168.64.1");
    assert_string_equal(out.setup.hosts, "127.0.0.1\tlocalhost\n");
    assert_string_equal(out.setup.resolv, "nameserver 192.168.64.1\n");
    bundle_config_release(&out);

    /* none of it: the keys are left out and load back empty */
    in.n_nets = in.n_ports = in.setup.n_ifaces = 0;
    in.setup.hosts = in.setup.resolv = NULL;
    if (bundle_config_save(dir, &in, &err) < 0 || bundle_config_load(dir, &out, &err) < 0)
        fail_msg("%s", err->msg);
    assert_int_equal(out.n_nets, 0);
    assert_int_equal(out.n_ports, 0);
    assert_null(out.nets);
    assert_null(out.setup.hosts);
    bundle_config_release(&out);

    /* defaults: mtu 1500, host_ip 0.0.0.0 */
    write_config(HEAD "\"networks\":[{\"tap\":\"t0\",\"bridge\":\"b0\",\"mac\":"
                      "\"02:00:00:00:00:01\"}],\"ports\":[{\"proto\":\"udp\",\"host_port\":53,"
                      "\"container_ip\":\"10.0.0.2\",\"container_port\":53}]}");
    if (bundle_config_load(dir, &out, &err) < 0)
        fail_msg("%s", err->msg);
    assert_int_equal(out.nets[0].mtu, 1500);
    assert_string_equal(out.ports[0].host_ip, "0.0.0.0");
    bundle_config_release(&out);
}

#define NET(fields) "\"networks\":[{" fields "}]"
#define NGOOD "\"tap\":\"t0\",\"bridge\":\"ctr0\",\"mac\":\"02:00:00:00:00:01\""
#define PORT(fields) "\"ports\":[{" fields "}]"
#define PGOOD "\"proto\":\"tcp\",\"host_port\":8080,\"container_ip\":\"10.0.0.2\""

static void test_bundle_hostile(void **state)
{
    config_bad("\"networks\":{}", "must be an array");
    config_bad("\"networks\":[1]", "`networks[0]` must be an object");
    config_bad(NET("\"bridge\":\"ctr0\",\"mac\":\"02:00:00:00:00:01\""), "missing field `tap`");
    config_bad(NET("\"tap\":\"t0\",\"mac\":\"02:00:00:00:00:01\""), "missing field `bridge`");
    config_bad(NET("\"tap\":\"t0\",\"bridge\":\"ctr0\""), "missing field `mac`");
    config_bad(NET(NGOOD ",\"vhost\":true"), "unknown field `vhost`");
    config_bad(NET("\"tap\":\"../../x\",\"bridge\":\"ctr0\",\"mac\":\"02:00:00:00:00:01\""),
               "interface name");
    config_bad(
        NET("\"tap\":\"0123456789abcdef\",\"bridge\":\"ctr0\",\"mac\":\"02:00:00:00:00:01\""),
        "interface name");
    config_bad(NET("\"tap\":\"t0\",\"bridge\":\"br 0\",\"mac\":\"02:00:00:00:00:01\""),
               "`networks[0].bridge` `br 0`");
    config_bad(NET("\"tap\":\"t0\",\"bridge\":\"ctr0\",\"mac\":\"03:00:00:00:00:01\""),
               "unicast MAC");
    config_bad(NET(NGOOD ",\"mtu\":0"), "between 68 and 65535");
    config_bad("\"networks\":[{" NGOOD "},{" NGOOD "}]", "also the TAP");
    config_bad("\"networks\":[{" NGOOD "},{\"tap\":\"t1\",\"bridge\":\"ctr0\",\"mac\":"
               "\"02:00:00:00:00:01\"}]",
               "also the MAC");
    config_bad("\"networks\":[{\"tap\":\"t1\",\"bridge\":\"b\",\"mac\":\"02:00:00:00:00:01\"},"
               "{\"tap\":\"t2\",\"bridge\":\"b\",\"mac\":\"02:00:00:00:00:02\"},"
               "{\"tap\":\"t3\",\"bridge\":\"b\",\"mac\":\"02:00:00:00:00:03\"},"
               "{\"tap\":\"t4\",\"bridge\":\"b\",\"mac\":\"02:00:00:00:00:04\"},"
               "{\"tap\":\"t5\",\"bridge\":\"b\",\"mac\":\"02:00:00:00:00:05\"},"
               "{\"tap\":\"t6\",\"bridge\":\"b\",\"mac\":\"02:00:00:00:00:06\"},"
               "{\"tap\":\"t7\",\"bridge\":\"b\",\"mac\":\"02:00:00:00:00:07\"},"
               "{\"tap\":\"t8\",\"bridge\":\"b\",\"mac\":\"02:00:00:00:00:08\"},"
               "{\"tap\":\"t9\",\"bridge\":\"b\",\"mac\":\"02:00:00:00:00:09\"}]",
               "at most 8 networks");
    /* an interface without its NIC */
    config_bad(NET(NGOOD) ",\"setup\":{\"network\":{\"interfaces\":[{\"mac\":"
                          "\"02:00:00:00:00:02\",\"address\":\"10.0.0.2/24\"}]}}",
               "matches no NIC");
    config_bad("\"setup\":{\"network\":{\"interfaces\":[{\"mac\":\"02:00:00:00:00:02\","
               "\"address\":\"10.0.0.2/33\"}]}}",
               "setup.network.interfaces[0].address");

    config_bad("\"ports\":5", "must be an array");
    config_bad(PORT("\"proto\":\"sctp\",\"host_port\":1,\"container_ip\":\"10.0.0.2\","
                    "\"container_port\":1"),
               "use `tcp` or `udp`");
    config_bad(PORT(PGOOD), "missing field `container_port`");
    config_bad(PORT(PGOOD ",\"container_port\":0"), "between 1 and 65535");
    config_bad(PORT(PGOOD ",\"container_port\":65536"), "between 1 and 65535");
    config_bad(PORT("\"proto\":\"tcp\",\"host_port\":0,\"container_ip\":\"10.0.0.2\","
                    "\"container_port\":80"),
               "`ports[0].host_port` must be an integer between 1 and 65535");
    config_bad(PORT("\"proto\":\"tcp\",\"host_port\":-80,\"container_ip\":\"10.0.0.2\","
                    "\"container_port\":80"),
               "between 1 and 65535");
    config_bad(PORT(PGOOD ",\"container_port\":80,\"host_ip\":\"localhost\""),
               "`ports[0].host_ip` `localhost` is not an IPv4 address");
    config_bad(PORT(PGOOD ",\"container_port\":80,\"host_ip\":\"::1\""), "not an IPv4");
    config_bad(PORT("\"proto\":\"tcp\",\"host_port\":80,\"container_ip\":\"0.0.0.0\","
                    "\"container_port\":80"),
               "container_ip");
    config_bad(PORT(PGOOD ",\"container_port\":80,\"range\":[1,2]"), "unknown field `range`");
    config_bad("\"ports\":[{" PGOOD ",\"container_port\":80,\"host_ip\":\"127.0.0.1\"},{" PGOOD
               ",\"container_port\":81}]",
               "collides with `ports[0]`");
    /* more than 256 ports */
    char *many = ctr_xstrdup("\"ports\":[");
    for (int i = 0; i < 257; i++) {
        char *n = ctr_xasprintf("%s%s{\"proto\":\"tcp\",\"host_port\":%d,\"container_ip\":"
                                "\"10.0.0.2\",\"container_port\":80}",
                                many, i ? "," : "", 1000 + i);
        free(many);
        many = n;
    }
    char *all = ctr_xasprintf("%s]", many);
    config_bad(all, "at most 256 ports");
    free(all);
    free(many);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_validators),
        cmocka_unit_test(test_agent_round_trip),
        cmocka_unit_test(test_agent_hostile),
        cmocka_unit_test(test_agent_mutations),
        cmocka_unit_test(test_bundle_round_trip),
        cmocka_unit_test(test_bundle_hostile),
        cmocka_unit_test(test_net_op),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
