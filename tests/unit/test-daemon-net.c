/* Unit tests of the daemon's container networking (netconf.c, netbundle.c): the
 * request's NetworkMode/EndpointsConfig/PortBindings/DNS fields and their errors,
 * what the bundle gets (NICs, ports, interfaces, /etc/hosts, resolv.conf), the
 * daemon.json round trip and the names the DNS servers answer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/api/api.h"
#include "net/net.h"

static int parse(const char *json, struct dmn_netreq *rq, ctr_error_t *err)
{
    json_error_t je;
    json_t *body = json_loads(json, 0, &je);
    assert_non_null(body);
    memset(rq, 0, sizeof(*rq));
    int r = api_netreq_parse(body, rq, err);
    json_decref(body);
    return r;
}

/* The request is refused with EINVAL and a message holding want. */
static void refused(const char *json, const char *want)
{
    struct dmn_netreq rq;
    ctr_error_t err = NULL;
    assert_int_equal(parse(json, &rq, &err), -1);
    assert_non_null(err);
    assert_int_equal(err->errnum, EINVAL);
    if (strstr(err->msg, want) == NULL)
        fail_msg("`%s` not in `%s`", want, err->msg);
    ctr_error_free(&err);
}

static void test_networks(void **state)
{
    struct dmn_netreq rq;
    ctr_error_t err = NULL;

    assert_int_equal(parse("{}", &rq, &err), 0);
    assert_false(rq.none);
    assert_int_equal(rq.n_networks, 1);
    assert_string_equal(rq.networks[0], "default");
    dmn_netreq_release(&rq);

    /* NetworkMode first; `bridge` and `default` are one network; aliases kept */
    assert_int_equal(parse("{\"HostConfig\":{\"NetworkMode\":\"n2\"},\"NetworkingConfig\":{"
                           "\"EndpointsConfig\":{\"default\":{},\"bridge\":{\"Aliases\":[\"b\"]},"
                           "\"n2\":{\"Aliases\":[\"x\",\"y.z\"]}}}}",
                           &rq, &err),
                     0);
    assert_int_equal(rq.n_networks, 2);
    assert_string_equal(rq.networks[0], "n2");
    assert_string_equal(rq.networks[1], "default");
    assert_string_equal(rq.eps[0].aliases[1], "y.z");
    assert_string_equal(rq.eps[1].aliases[0], "b");
    dmn_netreq_release(&rq);

    assert_int_equal(parse("{\"HostConfig\":{\"NetworkMode\":\"none\"}}", &rq, &err), 0);
    assert_true(rq.none);
    assert_int_equal(rq.n_networks, 0);
    dmn_netreq_release(&rq);
    assert_int_equal(parse("{\"NetworkDisabled\":true}", &rq, &err), 0);
    assert_true(rq.none);
    dmn_netreq_release(&rq);

    refused("{\"HostConfig\":{\"NetworkMode\":\"none\"},\"NetworkingConfig\":{\"EndpointsConfig\":"
            "{\"n2\":{}}}}",
            "network `none` cannot be combined with network `n2`");
    refused("{\"HostConfig\":{\"NetworkMode\":\"host\"}}", "`host` is not supported");
    refused("{\"HostConfig\":{\"NetworkMode\":\"container:abc\"}}", "is not supported");
    refused("{\"NetworkingConfig\":{\"EndpointsConfig\":{\"n\":{\"Aliases\":[\"a b\"]}}}}",
            "`EndpointsConfig.n.Aliases[0]` must be a DNS name");
    /* static address and MAC: IPAMConfig, MacAddress, Config.MacAddress for the first one */
    assert_int_equal(parse("{\"MacAddress\":\"02:AA:bb:cc:dd:01\",\"NetworkingConfig\":{"
                           "\"EndpointsConfig\":{\"n\":{\"IPAMConfig\":{\"IPv4Address\":"
                           "\"10.0.0.9\"}},\"m\":{\"MacAddress\":\"02:00:00:00:00:07\"}}}}",
                           &rq, &err),
                     0);
    assert_int_equal(rq.n_networks, 2);
    assert_int_equal(rq.eps[0].ip, 0x0a000009);
    assert_string_equal(rq.eps[0].mac, "02:aa:bb:cc:dd:01");
    assert_int_equal(rq.eps[1].ip, 0);
    assert_string_equal(rq.eps[1].mac, "02:00:00:00:00:07");
    dmn_netreq_release(&rq);
    refused("{\"NetworkingConfig\":{\"EndpointsConfig\":{\"n\":{\"IPAMConfig\":{\"IPv4Address\":"
            "\"10.0.0\"}}}}}",
            "invalid IPv4 address: 10.0.0");
    refused("{\"NetworkingConfig\":{\"EndpointsConfig\":{\"n\":{\"IPAMConfig\":{\"IPv6Address\":"
            "\"fd00::9\"}}}}}",
            "IPv6 addresses are not supported");
    refused("{\"NetworkingConfig\":{\"EndpointsConfig\":{\"n\":{\"MacAddress\":\"01:00:5e:00:00:"
            "01\"}}}}",
            "invalid MAC address: 01:00:5e:00:00:01");
    refused("{\"MacAddress\":\"zz\"}", "invalid MAC address: zz");
    refused("{\"NetworkingConfig\":{\"EndpointsConfig\":{\"a\":{},\"b\":{},\"c\":{},\"d\":{},"
            "\"e\":{},\"f\":{},\"g\":{},\"h\":{},\"i\":{}}}}",
            "too many networks");
}

static void test_ports(void **state)
{
    struct dmn_netreq rq;
    ctr_error_t err = NULL;

    assert_int_equal(
        parse("{\"HostConfig\":{\"PortBindings\":{\"80/tcp\":[{\"HostIp\":\"127.0.0.1\","
              "\"HostPort\":\"8080\"},{\"HostIp\":\"\",\"HostPort\":\"8083\"}],\"53/udp\":[{"
              "\"HostPort\":\"\"}],\"90\":null}}}",
              &rq, &err),
        0);
    assert_int_equal(rq.n_ports, 3);
    assert_string_equal(rq.ports[0].proto, "tcp");
    assert_string_equal(rq.ports[0].host_ip, "127.0.0.1");
    assert_int_equal(rq.ports[0].host_port, 8080);
    assert_int_equal(rq.ports[0].container_port, 80);
    assert_string_equal(rq.ports[1].host_ip, "");
    assert_string_equal(rq.ports[2].proto, "udp");
    assert_int_equal(rq.ports[2].host_port, 0); /* any: picked at create */
    dmn_netreq_release(&rq);

    refused("{\"HostConfig\":{\"PortBindings\":{\"80/sctp\":[{\"HostPort\":\"1\"}]}}}",
            "`HostConfig.PortBindings`");
    refused("{\"HostConfig\":{\"PortBindings\":{\"80/tcp\":[{\"HostPort\":\"70000\"}]}}}",
            "`HostConfig.PortBindings`");
    refused("{\"HostConfig\":{\"PortBindings\":{\"80/tcp\":[{\"HostIp\":\"::1\",\"HostPort\":"
            "\"1\"}]}}}",
            "`HostConfig.PortBindings`");
    refused("{\"HostConfig\":{\"NetworkMode\":\"none\",\"PortBindings\":{\"80/tcp\":[{"
            "\"HostPort\":\"8080\"}]}}}",
            "published ports need a network");
}

static void test_dns_fields(void **state)
{
    struct dmn_netreq rq;
    ctr_error_t err = NULL;

    assert_int_equal(parse("{\"HostConfig\":{\"ExtraHosts\":[\"a:1.2.3.4\",\"b=host-gateway\","
                           "\"c:::1\"],\"Dns\":[\"9.9.9.9\"],\"DnsSearch\":[\"x.test\"],"
                           "\"DnsOptions\":[\"ndots:2\"],\"ContainerNoDns\":false}}",
                           &rq, &err),
                     0);
    dmn_netreq_release(&rq);
    refused("{\"HostConfig\":{\"ExtraHosts\":[\"nohost\"]}}", "`HostConfig.ExtraHosts[0]`");
    refused("{\"HostConfig\":{\"ExtraHosts\":[\"a b:1.2.3.4\"]}}", "NAME:IP");
    refused("{\"HostConfig\":{\"ExtraHosts\":[\"a:1.2.3\"]}}", "`a:1.2.3`");
    refused("{\"HostConfig\":{\"Dns\":[\"dns.example\"]}}", "`HostConfig.Dns[0]`");
    /* nothing may slip a line into resolv.conf */
    refused("{\"HostConfig\":{\"DnsSearch\":[\"a\\nnameserver 6.6.6.6\"]}}",
            "`HostConfig.DnsSearch[0]`");
    refused("{\"HostConfig\":{\"DnsOptions\":[\"ndots:1 x\"]}}", "`HostConfig.DnsOptions[0]`");
    refused("{\"HostConfig\":{\"ContainerNoDns\":\"yes\"}}", "`HostConfig.ContainerNoDns`");
}

#define ID "abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789"

static void add_ep(struct dmn_container *c, const char *net, const char *addr, const char *gw,
                   bool internal, const char *alias)
{
    struct dmn_endpoint *ep;
    c->eps = realloc(c->eps, (c->n_eps + 1) * sizeof(*c->eps));
    ep = &c->eps[c->n_eps];
    memset(ep, 0, sizeof(*ep));
    ep->net_id = ctr_xasprintf("%-64s", net); /* a 64-character id */
    for (char *p = ep->net_id; *p; p++)
        *p = *p == ' ' ? '0' : *p;
    ep->net_name = ctr_xstrdup(net);
    if (alias) {
        ep->aliases = ctr_xcalloc(2, sizeof(char *));
        ep->aliases[0] = ctr_xstrdup(alias);
    }
    assert_int_equal(net_ip_parse(addr, &ep->addr, NULL), 0);
    assert_int_equal(net_ip_parse(gw, &ep->gateway, NULL), 0);
    ep->prefix = 24;
    ep->internal = internal;
    ep->bridge = ctr_xasprintf("br-%s", net);
    net_mac_for(ep->addr, ep->mac);
    snprintf(ep->tap, sizeof(ep->tap), "ctap%.10s%zu", ID, c->n_eps);
    c->n_eps++;
}

static struct dmn_container *sample(const char *host_config)
{
    struct dmn_container *c = dmn_container_new();
    snprintf(c->id, sizeof(c->id), "%s", ID);
    c->name = ctr_xstrdup("web");
    c->config = json_pack("{s:s}", "Hostname", "h1");
    c->host_config = json_loads(host_config, 0, NULL);
    assert_non_null(c->host_config);
    add_ep(c, "inner", "10.1.0.5", "10.1.0.1", true, NULL);
    add_ep(c, "outer", "192.168.64.7", "192.168.64.1", false, "www");
    c->ports = ctr_xcalloc(1, sizeof(*c->ports));
    snprintf(c->ports[0].proto, sizeof(c->ports[0].proto), "tcp");
    c->ports[0].host_port = 8080;
    c->ports[0].container_port = 80;
    c->n_ports = 1;
    return c;
}

static void test_fill(void **state)
{
    struct dmn_container *c =
        sample("{\"ExtraHosts\":[\"gw:host-gateway\",\"x=10.0.0.9\"],\"DnsSearch\":[\"s.test\"],"
               "\"DnsOptions\":[\"ndots:2\"]}");
    struct bundle_config bc = {0};
    ctr_error_t err = NULL;

    bc.n_disks = 2;
    bc.setup.hostname = ctr_xstrdup("h1");
    assert_int_equal(dmn_netconf_fill(c, &bc, &err), 0);
    assert_int_equal(bc.n_nets, 2);
    assert_string_equal(bc.nets[0].tap, "ctapabcdef01230");
    assert_string_equal(bc.nets[1].bridge, "br-outer");
    assert_string_equal(bc.nets[1].mac, "02:42:c0:a8:40:07");
    assert_int_equal(bc.nets[1].mtu, 1500);
    assert_int_equal(bc.setup.n_ifaces, 2);
    assert_string_equal(bc.setup.ifaces[0].address, "10.1.0.5/24");
    assert_null(bc.setup.ifaces[0].gateway); /* internal: no default route */
    assert_string_equal(bc.setup.ifaces[1].gateway, "192.168.64.1");
    assert_string_equal(bc.setup.ifaces[1].mac, bc.nets[1].mac);
    assert_int_equal(bc.n_ports, 1);
    assert_string_equal(bc.ports[0].host_ip, "0.0.0.0");
    assert_string_equal(bc.ports[0].container_ip, "10.1.0.5"); /* the first network's */
    assert_string_equal(bc.setup.hosts, "127.0.0.1\tlocalhost\n"
                                        "::1\tlocalhost ip6-localhost ip6-loopback\n"
                                        "10.1.0.5\th1 web abcdef012345 www\n"
                                        "10.1.0.1\thost.container.internal host.docker.internal\n"
                                        "10.1.0.1\tgw\n"
                                        "10.0.0.9\tx\n");
    assert_string_equal(bc.setup.resolv, "nameserver 10.1.0.1\nsearch s.test\noptions ndots:2\n");

    /* filled again (connect/disconnect): replaced, not appended */
    assert_int_equal(dmn_netconf_fill(c, &bc, &err), 0);
    assert_int_equal(bc.n_nets, 2);

    /* --dns replaces our server; --no-dns keeps the image's file */
    json_object_set_new(c->host_config, "Dns", json_pack("[s,s]", "9.9.9.9", "8.8.8.8"));
    assert_int_equal(dmn_netconf_fill(c, &bc, &err), 0);
    assert_string_equal(bc.setup.resolv,
                        "nameserver 9.9.9.9\nnameserver 8.8.8.8\nsearch s.test\noptions ndots:2\n");
    json_object_set_new(c->host_config, "ContainerNoDns", json_true());
    assert_int_equal(dmn_netconf_fill(c, &bc, &err), 0);
    assert_null(bc.setup.resolv);

    /* the VM's virtio slots: 2 fixed + 2 disks + 3 shares + 2 NICs > 8 */
    bc.n_shares = 3;
    assert_int_equal(dmn_netconf_fill(c, &bc, &err), -1);
    assert_int_equal(err->errnum, EINVAL);
    assert_non_null(strstr(err->msg, "2 networks"));
    ctr_error_free(&err);
    bc.n_shares = 0;
    bc.n_disks = 0;
    bundle_config_release(&bc);
    dmn_container_free(c);
}

static void test_fill_none(void **state)
{
    struct dmn_container *c = dmn_container_new();
    struct bundle_config bc = {0};
    ctr_error_t err = NULL;

    snprintf(c->id, sizeof(c->id), "%s", ID);
    c->name = ctr_xstrdup("lonely");
    c->config = json_object();
    c->host_config = json_pack("{s:[s]}", "ExtraHosts", "db:10.9.9.9");
    assert_int_equal(dmn_netconf_fill(c, &bc, &err), 0);
    assert_int_equal(bc.n_nets, 0);
    assert_int_equal(bc.setup.n_ifaces, 0);
    assert_null(bc.setup.resolv);
    assert_string_equal(bc.setup.hosts, "127.0.0.1\tlocalhost\n"
                                        "::1\tlocalhost ip6-localhost ip6-loopback\n"
                                        "10.9.9.9\tdb\n");
    /* host-gateway needs a network */
    json_array_append_new(json_object_get(c->host_config, "ExtraHosts"),
                          json_string("gw:host-gateway"));
    assert_int_equal(dmn_netconf_fill(c, &bc, &err), -1);
    assert_int_equal(err->errnum, EINVAL);
    assert_non_null(strstr(err->msg, "needs a network"));
    ctr_error_free(&err);
    bundle_config_release(&bc);
    dmn_container_free(c);
}

static void test_save_load_names(void **state)
{
    struct dmn_container *c = sample("{}");
    struct dmn_container *c2 = dmn_container_new();
    ctr_error_t err = NULL;
    json_t *meta = json_object();
    uint32_t a = 0;

    c->status = DMN_RUNNING;
    /* joined live (netlive.c): the marks survive a daemon restart; a static address and
     * MAC and the network's MTU too */
    c->eps[1].vlan = 101;
    snprintf(c->eps[1].vlink, sizeof(c->eps[1].vlink), "ctvabcdef01231");
    snprintf(c->eps[1].trunk, sizeof(c->eps[1].trunk), "ctapabcdef01230");
    snprintf(c->eps[1].trunk_mac, sizeof(c->eps[1].trunk_mac), "02:42:c0:a8:40:02");
    c->eps[1].static_ip = true;
    c->eps[1].mtu = 1400;
    dmn_netconf_save(c, meta);
    snprintf(c2->id, sizeof(c2->id), "%s", ID);
    assert_int_equal(dmn_netconf_load(c2, meta, &err), 0);
    assert_int_equal(c2->n_eps, 2);
    assert_string_equal(c2->eps[1].net_name, "outer");
    assert_string_equal(c2->eps[1].aliases[0], "www");
    assert_int_equal(c2->eps[1].addr, c->eps[1].addr);
    assert_true(c2->eps[0].internal);
    assert_string_equal(c2->eps[0].tap, c->eps[0].tap);
    assert_int_equal(c2->eps[1].vlan, 101);
    assert_string_equal(c2->eps[1].vlink, "ctvabcdef01231");
    assert_string_equal(c2->eps[1].trunk, "ctapabcdef01230");
    assert_string_equal(c2->eps[1].trunk_mac, "02:42:c0:a8:40:02");
    assert_true(c2->eps[1].static_ip);
    assert_false(c2->eps[1].static_mac);
    assert_int_equal(c2->eps[1].mtu, 1400);
    assert_int_equal(c2->eps[0].vlan, 0);
    assert_int_equal(c2->eps[0].mtu, 1500);
    assert_int_equal(c2->n_ports, 1);
    assert_int_equal(c2->ports[0].host_port, 8080);
    assert_string_equal(c2->ports[0].host_ip, "");

    /* names on a network: name, hostname, short id, that network's aliases */
    const char *outer = c->eps[1].net_id, *inner = c->eps[0].net_id;
    assert_true(dmn_netconf_has_name(c, outer, "web", &a));
    assert_int_equal(a, c->eps[1].addr);
    assert_true(dmn_netconf_has_name(c, outer, "WWW", &a));
    assert_true(dmn_netconf_has_name(c, outer, "abcdef012345", &a));
    assert_true(dmn_netconf_has_name(c, inner, "h1", &a));
    assert_int_equal(a, c->eps[0].addr);
    assert_false(dmn_netconf_has_name(c, inner, "www", &a)); /* an alias of the other one */
    assert_false(dmn_netconf_has_name(c, outer, "abcdef01234", &a));
    assert_false(dmn_netconf_has_name(c, "nosuchnetwork", "web", &a));

    /* Docker shapes */
    json_t *nets = api_netconf_networks_json(c);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(nets, "outer"), "IPAddress")),
        "192.168.64.7");
    json_decref(nets);
    json_t *ports = api_netconf_ports_json(c);
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(ports, "80/tcp"), 0), "HostIp")),
                        "0.0.0.0");
    json_decref(ports);
    c->status = DMN_EXITED; /* ports are shown while the shim holds them */
    ports = api_netconf_ports_json(c);
    assert_int_equal(json_object_size(ports), 0);
    json_decref(ports);

    /* a malformed record is refused, naming the container */
    json_t *bad = json_pack("{s:[{s:s}]}", "Endpoints", "NetworkID", "x");
    struct dmn_container *c3 = dmn_container_new();
    snprintf(c3->id, sizeof(c3->id), "%s", ID);
    assert_int_equal(dmn_netconf_load(c3, bad, &err), -1);
    assert_non_null(strstr(err->msg, "abcdef012345"));
    ctr_error_free(&err);
    json_decref(bad);
    json_decref(meta);
    dmn_container_free(c3);
    dmn_container_free(c2);
    dmn_container_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_networks),   cmocka_unit_test(test_ports),
        cmocka_unit_test(test_dns_fields), cmocka_unit_test(test_fill),
        cmocka_unit_test(test_fill_none),  cmocka_unit_test(test_save_load_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
