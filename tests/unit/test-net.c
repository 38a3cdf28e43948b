/* src/net: address parsing (hostile inputs included), the network store (names, subnets,
 * overlap refusals, persistence) and the address allocator (reuse, release, exhaustion,
 * concurrent processes), and the nftables ruleset text. Netlink and nftables against a
 * kernel are tested in tests/integration/80-net-host.sh, inside a namespace. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "net/net-internal.h"

static char root[256];

static int setup(void **state)
{
    snprintf(root, sizeof(root), "/tmp/test-net.XXXXXX");
    assert_non_null(mkdtemp(root));
    return 0;
}

static int teardown(void **state)
{
    ctr_rm_rf(root, NULL);
    return 0;
}

static void expect_fail(int r, ctr_error_t *err, int errnum, const char *needle)
{
    if (r == 0)
        fail_msg("accepted; expected an error containing `%s`", needle);
    assert_non_null(*err);
    if (strstr((*err)->msg, needle) == NULL)
        fail_msg("message `%s` lacks `%s`", (*err)->msg, needle);
    if (errnum)
        assert_int_equal((*err)->errnum, errnum);
    ctr_error_free(err);
}

static uint32_t ip(const char *s)
{
    uint32_t a;
    ctr_error_t err = NULL;
    if (net_ip_parse(s, &a, &err) < 0)
        fail_msg("%s", err->msg);
    return a;
}

static void test_ip(void **state)
{
    char buf[NET_IP_STRLEN];
    ctr_error_t err = NULL;
    uint32_t a;
    assert_int_equal(ip("192.168.64.1"), 0xc0a84001u);
    assert_int_equal(ip("0.0.0.0"), 0);
    assert_int_equal(ip("255.255.255.255"), 0xffffffffu);
    net_ip_format(0x0a590002u, buf, sizeof(buf));
    assert_string_equal(buf, "10.89.0.2");
    const char *bad[] = {"",           "1.2.3",     "1.2.3.4.5", "256.1.1.1",
                         "1.2.3.4 ",   " 1.2.3.4",  "01.2.3.4",  "0x1.2.3.4",
                         "1..2.3",     "1.2.3.-4",  "a.b.c.d",   "1.2.3.4/24",
                         "1234.1.1.1", "1.2.3.4\n", "::1",       "1.2.3."};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        expect_fail(net_ip_parse(bad[i], &a, &err), &err, EINVAL, "invalid IPv4 address");
    expect_fail(net_ip_parse(NULL, &a, &err), &err, EINVAL, "expected a form like");
}

static void test_cidr(void **state)
{
    struct net_cidr c, d;
    char buf[NET_CIDR_STRLEN];
    ctr_error_t err = NULL;

    assert_int_equal(net_cidr_parse("10.1.0.0/16", &c, &err), 0);
    assert_int_equal(c.addr, 0x0a010000u);
    assert_int_equal(c.prefix, 16);
    net_cidr_format(&c, buf, sizeof(buf));
    assert_string_equal(buf, "10.1.0.0/16");
    assert_int_equal(net_cidr_parse("1.2.3.4", &c, &err), 0);
    assert_int_equal(c.prefix, 32);
    assert_int_equal(net_cidr_parse("0.0.0.0/0", &c, &err), 0);
    assert_int_equal(c.prefix, 0);
    net_cidr_format(&(struct net_cidr){0xffffffffu, 32}, buf, sizeof(buf));
    assert_string_equal(buf, "255.255.255.255/32");
    const char *bad[] = {"",
                         "10.0.0.0/",
                         "10.0.0.0/33",
                         "10.0.0.0/-1",
                         "10.0.0.0/08",
                         "10.0.0.0/2x",
                         "10.0.0/8",
                         "/8",
                         "10.0.0.0//8",
                         "10.0.0.0/8/8",
                         "10.0.0.0 /8",
                         "10.0.0.0/ 8",
                         "10.0.0.0/100000000000"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        expect_fail(net_cidr_parse(bad[i], &c, &err), &err, EINVAL, "invalid IPv4 subnet");

    assert_int_equal(net_cidr_mask(0), 0);
    assert_int_equal(net_cidr_mask(24), 0xffffff00u);
    assert_int_equal(net_cidr_mask(32), 0xffffffffu);
    net_cidr_parse("10.0.0.0/8", &c, NULL);
    net_cidr_parse("10.89.3.0/24", &d, NULL);
    assert_true(net_cidr_overlaps(&c, &d));
    assert_true(net_cidr_overlaps(&d, &c));
    net_cidr_parse("11.0.0.0/8", &d, NULL);
    assert_false(net_cidr_overlaps(&c, &d));
    net_cidr_parse("192.168.64.0/24", &c, NULL);
    net_cidr_parse("192.168.65.0/24", &d, NULL);
    assert_false(net_cidr_overlaps(&c, &d));
    net_cidr_parse("192.168.64.128/25", &d, NULL);
    assert_true(net_cidr_overlaps(&c, &d));
    net_cidr_parse("0.0.0.0/0", &d, NULL);
    assert_true(net_cidr_overlaps(&c, &d));
    assert_true(net_cidr_contains(&c, ip("192.168.64.255")));
    assert_false(net_cidr_contains(&c, ip("192.168.65.0")));
}

static void test_mac(void **state)
{
    char mac[NET_MAC_STRLEN];
    net_mac_for(ip("192.168.64.5"), mac);
    assert_string_equal(mac, "02:42:c0:a8:40:05");
    net_mac_for(ip("10.89.255.254"), mac);
    assert_string_equal(mac, "02:42:0a:59:ff:fe");
}

static void test_dns_names(void **state)
{
    const char *good[] = {"web", "a", "db-1.example.com", "my_host", "x."};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        assert_true(net_dns_name_ok(good[i]));
    const char *bad[] = {"", "-x", ".x", "a b", "a/b", "a:b", "\xc3\xa9", "a\n", "a\tb"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_false(net_dns_name_ok(bad[i]));
    assert_false(net_dns_name_ok(NULL));
    char big[255];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_false(net_dns_name_ok(big)); /* 254 */
    big[253] = '\0';
    assert_true(net_dns_name_ok(big)); /* 253 */
}

static void test_names(void **state)
{
    ctr_error_t err = NULL;
    /* docker refuses only a blank name: spaces, slashes, colons, UTF-8 are names */
    const char *good[] = {"web", "a", "My_net.2-x", "a b", "a/b", "a:b", "é", "-x", " x "};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        assert_int_equal(net_network_check_name(good[i], &err), 0);
    const char *blank[] = {"", " ", "\t \n"};
    for (size_t i = 0; i < sizeof(blank) / sizeof(blank[0]); i++)
        expect_fail(net_network_check_name(blank[i], &err), &err, EINVAL, "name is empty");
    expect_fail(net_network_check_name(NULL, &err), &err, EINVAL, "name is empty");
    const char *bad[] = {"a\n", "a\x01b", "\x7f"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        expect_fail(net_network_check_name(bad[i], &err), &err, EINVAL, "no control characters");
    char big[300];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    expect_fail(net_network_check_name(big, &err), &err, EINVAL, "at most 255");
    big[255] = '\0';
    assert_int_equal(net_network_check_name(big, &err), 0);
}

/* Fake host routes: ctx is a NULL-terminated list of "CIDR dev IF" strings. */
static int fake_routes(void *ctx, const struct net_cidr *c, char *desc, size_t n, ctr_error_t *err)
{
    for (const char **r = ctx; r && *r; r++) {
        char cidr[NET_CIDR_STRLEN];
        struct net_cidr rc;
        snprintf(cidr, sizeof(cidr), "%.*s", (int)strcspn(*r, " "), *r);
        assert_int_equal(net_cidr_parse(cidr, &rc, NULL), 0);
        if (net_cidr_overlaps(&rc, c)) {
            snprintf(desc, n, "%s", *r);
            return 1;
        }
    }
    return 0;
}

static int broken_routes(void *ctx, const struct net_cidr *c, char *desc, size_t n,
                         ctr_error_t *err)
{
    return ctr_fail(err, EPERM, "list IPv4 routes");
}

static void create(const char *name, const char *subnet, bool internal, const char **routes,
                   struct net_network *out)
{
    ctr_error_t err = NULL;
    if (net_network_create_with(root, name, subnet, internal, NULL, fake_routes, routes, out,
                                &err) < 0)
        fail_msg("create %s: %s", name, err->msg);
}

static void subnet_is(const struct net_network *n, const char *want)
{
    char s[NET_CIDR_STRLEN];
    net_cidr_format(&n->subnet, s, sizeof(s));
    assert_string_equal(s, want);
}

static void test_store(void **state)
{
    struct net_network d = {0}, u = {0}, x = {0}, l = {0};
    ctr_error_t err = NULL;
    const char *routes[] = {"192.168.65.0/24 dev eth0", "10.0.0.0/8 dev wg0", NULL};
    char *labels[] = {"com.example.team=web", "flag", NULL};

    create("default", NULL, false, routes, &d);
    assert_int_equal(strlen(d.id), NET_ID_LEN);
    assert_string_equal(d.bridge, "ctr0");
    subnet_is(&d, "192.168.64.0/24");
    assert_int_equal(d.gateway, ip("192.168.64.1"));
    assert_false(d.internal);
    assert_non_null(d.labels);
    assert_null(d.labels[0]);

    /* auto: 192.168.65.0/24 is a host route, so the next free one */
    create("web", NULL, true, routes, &u);
    subnet_is(&u, "192.168.66.0/24");
    assert_true(u.internal);
    assert_int_equal(strncmp(u.bridge, "ctrbr-", 6), 0);
    assert_int_equal(strncmp(u.bridge + 6, u.id, 8), 0);
    assert_int_equal(strlen(u.bridge), 14);

    /* refusals */
    expect_fail(
        net_network_create_with(root, "web", NULL, false, NULL, fake_routes, routes, NULL, &err),
        &err, EEXIST, "network `web` already exists");
    expect_fail(net_network_create_with(root, "x", "192.168.66.128/25", false, NULL, fake_routes,
                                        routes, NULL, &err),
                &err, EEXIST, "overlaps network `web` (192.168.66.0/24)");
    expect_fail(net_network_create_with(root, "x", "10.9.0.0/16", false, NULL, fake_routes, routes,
                                        NULL, &err),
                &err, EEXIST, "overlaps host route 10.0.0.0/8 dev wg0");
    expect_fail(net_network_create_with(root, "x", "192.168.0.0/16", false, NULL, fake_routes,
                                        routes, NULL, &err),
                &err, EEXIST, "overlaps network `default`");
    expect_fail(net_network_create_with(root, "x", "172.20.0.0/16", false, NULL, broken_routes,
                                        NULL, NULL, &err),
                &err, EPERM, "list IPv4 routes");
    const char *bad_subnets[][2] = {{"172.20.0.1/16", "it should be 172.20.0.0/16"},
                                    {"172.20.0.0/31", "between /8 and /30"},
                                    {"10.0.0.0/7", "between /8 and /30"},
                                    {"172.20.0.0", "lacks a prefix length"},
                                    {"127.1.0.0/16", "loopback"},
                                    {"169.254.0.0/24", "link-local"},
                                    {"224.1.0.0/16", "multicast"},
                                    {"0.1.0.0/16", "this network"},
                                    {"172.20.0.0/z", "invalid IPv4 subnet"},
                                    {"fd00::/64", "invalid IPv4 subnet"}};
    for (size_t i = 0; i < sizeof(bad_subnets) / sizeof(bad_subnets[0]); i++)
        expect_fail(net_network_create_with(root, "x", bad_subnets[i][0], false, NULL, fake_routes,
                                            NULL, NULL, &err),
                    &err, EINVAL, bad_subnets[i][1]);
    const char *reserved[] = {"bridge", "none", "host"};
    for (size_t i = 0; i < 3; i++)
        expect_fail(net_network_create_with(root, reserved[i], NULL, false, NULL, fake_routes, NULL,
                                            NULL, &err),
                    &err, EINVAL, "is reserved");
    expect_fail(
        net_network_create_with(root, " ", NULL, false, NULL, fake_routes, NULL, NULL, &err), &err,
        EINVAL, "invalid network name: name is empty");
    char *bad_labels[] = {"=v", NULL};
    expect_fail(
        net_network_create_with(root, "x", NULL, false, bad_labels, fake_routes, NULL, NULL, &err),
        &err, EINVAL, "invalid label `=v`");

    /* explicit subnet, labels */
    if (net_network_create_with(root, "lab", "172.20.0.0/16", false, labels, fake_routes, routes,
                                &l, &err) < 0)
        fail_msg("%s", err->msg);
    assert_int_equal(l.gateway, ip("172.20.0.1"));

    /* persistence: everything reads back the same from disk */
    assert_int_equal(net_network_load(root, "lab", &x, &err), 0);
    assert_string_equal(x.id, l.id);
    assert_string_equal(x.name, "lab");
    assert_string_equal(x.bridge, l.bridge);
    subnet_is(&x, "172.20.0.0/16");
    assert_int_equal(x.gateway, l.gateway);
    assert_int_equal(x.created_ns, l.created_ns);
    assert_int_equal(ctr_strv_len(x.labels), 2);
    assert_true(
        (strcmp(x.labels[0], "com.example.team=web") == 0 && strcmp(x.labels[1], "flag=") == 0) ||
        (strcmp(x.labels[1], "com.example.team=web") == 0 && strcmp(x.labels[0], "flag=") == 0));
    net_network_release(&x);
    assert_int_equal(net_network_load(root, u.id, &x, &err), 0);
    assert_string_equal(x.name, "web");
    assert_true(x.internal);
    net_network_release(&x);
    char prefix[13];
    snprintf(prefix, sizeof(prefix), "%.12s", u.id);
    assert_int_equal(net_network_load(root, prefix, &x, &err), 0);
    assert_string_equal(x.name, "web");
    net_network_release(&x);
    assert_int_equal(net_network_load(root, "bridge", &x, &err), 0);
    assert_string_equal(x.name, "default");
    net_network_release(&x);
    expect_fail(net_network_load(root, "nope", &x, &err), &err, ENOENT, "network `nope` not found");
    expect_fail(net_network_load(root, "", &x, &err), &err, EINVAL, "empty network name");

    /* list: oldest first */
    struct net_network *v;
    size_t n;
    assert_int_equal(net_network_list(root, &v, &n, &err), 0);
    assert_int_equal(n, 3);
    assert_string_equal(v[0].name, "default");
    assert_string_equal(v[1].name, "web");
    assert_string_equal(v[2].name, "lab");
    net_network_list_free(v, n);

    /* a damaged network.json: skipped by list, reported by load by id */
    cleanup_free char *meta = ctr_xasprintf("%s/networks/%s/network.json", root, l.id);
    assert_int_equal(ctr_write_file_atomic(meta, "{\"name\":", 8, 0644, &err), 0);
    assert_int_equal(net_network_list(root, &v, &n, &err), 0);
    assert_int_equal(n, 2);
    net_network_list_free(v, n);
    expect_fail(net_network_load(root, l.id, &x, &err), &err, EINVAL, "network.json");

    /* remove: gone for load, and its subnet and name are free again */
    assert_int_equal(net_network_remove(root, "web", &err), 0);
    expect_fail(net_network_load(root, "web", &x, &err), &err, ENOENT, "not found");
    expect_fail(net_network_remove(root, "web", &err), &err, ENOENT, "not found");
    create("web", NULL, false, routes, &x);
    subnet_is(&x, "192.168.66.0/24");
    net_network_release(&x);

    net_network_release(&d);
    net_network_release(&u);
    net_network_release(&l);
}

static void test_auto_subnet_pools(void **state)
{
    /* the whole first pool is routed: the second one is used */
    const char *routes[] = {"192.168.64.0/18 dev eth1", NULL};
    struct net_network a = {0}, b = {0};
    create("a", NULL, false, routes, &a);
    subnet_is(&a, "10.89.0.0/24");
    create("b", NULL, false, routes, &b);
    subnet_is(&b, "10.89.1.0/24");
    net_network_release(&a);
    net_network_release(&b);

    const char *all[] = {"192.168.0.0/16 dev eth1", "10.0.0.0/8 dev eth2", NULL};
    ctr_error_t err = NULL;
    expect_fail(net_network_create_with(root, "c", NULL, false, NULL, fake_routes, all, NULL, &err),
                &err, ENOSPC,
                "no free /24 left in 192.168.64.0/18 or 10.89.0.0/16: give one with --subnet");
}

static uint32_t alloc(const struct net_network *nw, const char *owner)
{
    uint32_t a = 0;
    ctr_error_t err = NULL;
    if (net_ipam_allocate(root, nw, owner, &a, &err) < 0)
        fail_msg("allocate %s: %s", owner, err->msg);
    return a;
}

static void test_ipam(void **state)
{
    struct net_network nw = {0}, again = {0};
    ctr_error_t err = NULL;
    struct net_ipam_entry *v;
    size_t n;

    create("net1", "10.1.0.0/29", false, NULL, &nw);
    /* .0 network, .1 gateway, .7 broadcast: .2 to .6 are for containers */
    assert_int_equal(alloc(&nw, "c1"), ip("10.1.0.2"));
    assert_int_equal(alloc(&nw, "c2"), ip("10.1.0.3"));
    assert_int_equal(alloc(&nw, "c1"), ip("10.1.0.2")); /* same owner, same address */
    assert_int_equal(net_ipam_release(root, &nw, "c1", &err), 0);
    assert_int_equal(net_ipam_release(root, &nw, "c1", &err), 0); /* twice is fine */
    /* next-fit: the released .2 is not reused before the rest */
    assert_int_equal(alloc(&nw, "c3"), ip("10.1.0.4"));
    assert_int_equal(alloc(&nw, "c4"), ip("10.1.0.5"));
    assert_int_equal(alloc(&nw, "c5"), ip("10.1.0.6"));
    assert_int_equal(alloc(&nw, "c6"), ip("10.1.0.2")); /* wraps, skipping .7 .0 .1 */
    uint32_t a;
    expect_fail(net_ipam_allocate(root, &nw, "c7", &a, &err), &err, ENOSPC,
                "network `net1` has no free address (subnet 10.1.0.0/29)");
    expect_fail(net_ipam_allocate(root, &nw, "", &a, &err), &err, EINVAL, "invalid address owner");
    expect_fail(net_ipam_allocate(root, &nw, NULL, &a, &err), &err, EINVAL,
                "invalid address owner");

    /* persisted: a fresh load of the network sees the same allocations */
    assert_int_equal(net_network_load(root, "net1", &again, &err), 0);
    assert_int_equal(net_ipam_list(root, &again, &v, &n, &err), 0);
    assert_int_equal(n, 5);
    const char *owners[] = {"c6", "c2", "c3", "c4", "c5"};
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(v[i].owner, owners[i]);
        assert_int_equal(v[i].addr, ip("10.1.0.2") + i);
    }
    net_ipam_list_free(v, n);
    assert_int_equal(alloc(&again, "c3"), ip("10.1.0.4"));
    assert_int_equal(net_ipam_release(root, &again, "c4", &err), 0);
    assert_int_equal(alloc(&nw, "c7"), ip("10.1.0.5"));

    /* a damaged file is reported, not overwritten */
    cleanup_free char *path = ctr_xasprintf("%s/networks/%s/ipam.json", root, nw.id);
    const char *damaged = "{\"allocations\": {\"c1\": \"10.2.0.9\"}}";
    assert_int_equal(ctr_write_file_atomic(path, damaged, strlen(damaged), 0644, &err), 0);
    expect_fail(net_ipam_allocate(root, &nw, "c9", &a, &err), &err, EINVAL,
                "owner `c1` has a bad address");
    assert_int_equal(ctr_write_file_atomic(path, "[]", 2, 0644, &err), 0);
    expect_fail(net_ipam_allocate(root, &nw, "c9", &a, &err), &err, EINVAL, "is damaged");

    /* the network removed: allocation fails and leaves nothing behind */
    assert_int_equal(net_network_remove(root, nw.id, &err), 0);
    expect_fail(net_ipam_allocate(root, &nw, "c9", &a, &err), &err, ENOENT,
                "network `net1` not found");
    cleanup_free char *dir = ctr_xasprintf("%s/networks/%s", root, nw.id);
    assert_int_equal(access(dir, F_OK), -1);
    net_network_release(&nw);
    net_network_release(&again);
}

/* IPRange bounds the dynamic addresses; a static address is taken anywhere in the
 * subnet, with docker's errors outside it or when taken. */
static void test_ipam_static_range(void **state)
{
    struct net_network nw = {0};
    ctr_error_t err = NULL;
    uint32_t a;

    create("net2", "10.2.0.0/24", false, NULL, &nw);
    nw.range.addr = ip("10.2.0.128");
    nw.range.prefix = 30; /* .128 to .131 */
    assert_int_equal(alloc(&nw, "c1"), ip("10.2.0.128"));
    assert_int_equal(alloc(&nw, "c2"), ip("10.2.0.129"));
    assert_int_equal(net_ipam_allocate_static(root, &nw, "s1", ip("10.2.0.130"), &a, &err), 0);
    assert_int_equal(a, ip("10.2.0.130"));
    /* static outside the range is fine */
    assert_int_equal(net_ipam_allocate_static(root, &nw, "s2", ip("10.2.0.9"), &a, &err), 0);
    assert_int_equal(alloc(&nw, "c3"), ip("10.2.0.131"));
    expect_fail(net_ipam_allocate(root, &nw, "c4", &a, &err), &err, ENOSPC, "no free address");
    expect_fail(net_ipam_allocate_static(root, &nw, "s3", ip("10.2.0.9"), &a, &err), &err,
                EADDRINUSE, "Address already in use");
    expect_fail(net_ipam_allocate_static(root, &nw, "s3", ip("10.2.0.1"), &a, &err), &err,
                EADDRINUSE, "Address already in use"); /* the gateway */
    expect_fail(net_ipam_allocate_static(root, &nw, "s3", ip("10.3.0.9"), &a, &err), &err, EINVAL,
                "Invalid address 10.3.0.9: It does not belong to any of this network's subnets");
    expect_fail(net_ipam_allocate_static(root, &nw, "s3", ip("10.2.0.255"), &a, &err), &err, EINVAL,
                "does not belong"); /* broadcast */
    /* the owner asks again: the same; another one: moved */
    assert_int_equal(net_ipam_allocate_static(root, &nw, "s2", ip("10.2.0.9"), &a, &err), 0);
    assert_int_equal(net_ipam_allocate_static(root, &nw, "s2", ip("10.2.0.10"), &a, &err), 0);
    assert_int_equal(net_ipam_allocate_static(root, &nw, "s3", ip("10.2.0.9"), &a, &err), 0);
    net_network_release(&nw);
}

/* The bridge driver's options that take effect, IPRange stored and loaded. */
static void test_driver_options(void **state)
{
    struct net_network nw = {0}, again = {0};
    ctr_error_t err = NULL;
    char *opts[] = {"com.docker.network.driver.mtu=1400",
                    "com.docker.network.bridge.enable_ip_masquerade=false",
                    "com.docker.network.bridge.name=mybr0",
                    "com.docker.network.bridge.enable_icc=true", NULL};

    assert_int_equal(net_network_create_with_options(root, "o1", "10.4.0.0/24", "10.4.0.64/27",
                                                     opts, fake_routes, NULL, &nw, &err),
                     0);
    assert_int_equal(nw.mtu, 1400);
    assert_true(nw.no_masquerade);
    assert_string_equal(nw.bridge, "mybr0");
    assert_int_equal(net_network_load(root, "o1", &again, &err), 0);
    assert_int_equal(again.mtu, 1400);
    assert_true(again.no_masquerade);
    assert_false(again.subnet_auto);
    assert_int_equal(again.range.addr, ip("10.4.0.64"));
    assert_int_equal(again.range.prefix, 27);
    net_network_release(&again);
    /* no NAT for it in the ruleset */
    struct net_nft_network nn = {nw.bridge, nw.subnet, false, nw.no_masquerade};
    cleanup_free char *script = net_nft_script(&nn, 1);
    assert_null(strstr(script, "masquerade"));
    net_network_release(&nw);

    char *bad_mtu[] = {"com.docker.network.driver.mtu=9x", NULL};
    expect_fail(net_network_create_with_options(root, "o2", "10.5.0.0/24", NULL, bad_mtu,
                                                fake_routes, NULL, NULL, &err),
                &err, EINVAL, "invalid MTU `9x`");
    char *bad_masq[] = {"com.docker.network.bridge.enable_ip_masquerade=maybe", NULL};
    expect_fail(net_network_create_with_options(root, "o2", "10.5.0.0/24", NULL, bad_masq,
                                                fake_routes, NULL, NULL, &err),
                &err, EINVAL, "true or false");
    char *taken[] = {"com.docker.network.bridge.name=mybr0", NULL};
    expect_fail(net_network_create_with_options(root, "o2", "10.5.0.0/24", NULL, taken, fake_routes,
                                                NULL, NULL, &err),
                &err, EEXIST, "bridge name `mybr0` is taken by network `o1`");
    char *longname[] = {"com.docker.network.bridge.name=abcdefghijklmnop", NULL};
    expect_fail(net_network_create_with_options(root, "o2", "10.5.0.0/24", NULL, longname,
                                                fake_routes, NULL, NULL, &err),
                &err, EINVAL, "invalid bridge name");
    expect_fail(net_network_create_with_options(root, "o2", "10.5.0.0/24", "10.6.0.0/28", NULL,
                                                fake_routes, NULL, NULL, &err),
                &err, EINVAL, "is not inside subnet");
    expect_fail(net_network_create_with_options(root, "o2", NULL, "10.6.0.0/28", NULL, fake_routes,
                                                NULL, NULL, &err),
                &err, EINVAL, "needs its subnet");
}

/* Processes allocating at once never get the same address (flock on ipam.lock). */
static void test_ipam_concurrent(void **state)
{
    enum { PROCS = 6, EACH = 8 };
    struct net_network nw = {0};
    int fds[2];
    create("busy", "10.3.0.0/24", false, NULL, &nw);
    assert_int_equal(pipe(fds), 0);
    for (int p = 0; p < PROCS; p++) {
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(fds[0]);
            for (int i = 0; i < EACH; i++) {
                char owner[32];
                uint32_t a;
                ctr_error_t err = NULL;
                snprintf(owner, sizeof(owner), "p%d-%d", p, i);
                if (net_ipam_allocate(root, &nw, owner, &a, &err) < 0)
                    _exit(1);
                if (write(fds[1], &a, sizeof(a)) != sizeof(a))
                    _exit(1);
            }
            _exit(0);
        }
    }
    close(fds[1]);
    uint32_t got[PROCS * EACH];
    size_t n = 0;
    while (n < PROCS * EACH && read(fds[0], &got[n], sizeof(got[n])) == sizeof(got[n]))
        n++;
    close(fds[0]);
    for (int p = 0; p < PROCS; p++) {
        int st;
        assert_true(wait(&st) > 0);
        assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    assert_int_equal(n, PROCS * EACH);
    for (size_t i = 0; i < n; i++) {
        assert_true(got[i] >= ip("10.3.0.2") && got[i] <= ip("10.3.0.254"));
        for (size_t j = i + 1; j < n; j++)
            assert_int_not_equal(got[i], got[j]);
    }
    struct net_ipam_entry *v;
    size_t m;
    ctr_error_t err = NULL;
    assert_int_equal(net_ipam_list(root, &nw, &v, &m, &err), 0);
    assert_int_equal(m, PROCS * EACH);
    net_ipam_list_free(v, m);
    net_network_release(&nw);
}

static void test_nft_script(void **state)
{
    struct net_nft_network nets[] = {
        {"ctr0", {ip("192.168.64.0"), 24}, false},
        {"ctrbr-01234567", {ip("10.89.0.0"), 24}, true},
    };
    cleanup_free char *s = net_nft_script(nets, 2);
    const char *want[] = {
        "add table inet container\ndelete table inet container\ntable inet container {\n",
        "type filter hook forward priority filter; policy accept;",
        "ct state established,related accept",
        "iifname \"ctr0\" oifname { \"ctrbr-01234567\" } drop",
        "iifname \"ctrbr-01234567\" oifname { \"ctr0\" } drop",
        "iifname \"ctrbr-01234567\" oifname != \"ctrbr-01234567\" drop",
        "oifname \"ctrbr-01234567\" iifname != \"ctrbr-01234567\" drop",
        "iifname \"ctr0\" accept",
        "type nat hook postrouting priority srcnat; policy accept;",
        "ip saddr 192.168.64.0/24 oifname != \"ctr0\" masquerade",
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        if (strstr(s, want[i]) == NULL)
            fail_msg("ruleset lacks `%s`:\n%s", want[i], s);
    assert_null(strstr(s, "ip saddr 10.89.0.0/24")); /* internal: no NAT */
    assert_null(strstr(s, "iifname \"ctrbr-01234567\" accept"));
    /* isolation comes before the accept that would let it through */
    assert_true(strstr(s, "oifname { \"ctrbr-01234567\" } drop") < strstr(s, "\"ctr0\" accept"));
    cleanup_free char *none = net_nft_script(NULL, 0);
    assert_string_equal(none, "add table inet container\ndelete table inet container\n");

    ctr_error_t err = NULL;
    struct net_nft_network evil[] = {{"x\" accept; flush ruleset; #", {0, 24}, false}};
    expect_fail(net_nft_apply(evil, 1, &err), &err, EINVAL, "invalid bridge name");
    struct net_nft_network longname[] = {{"abcdefghijklmnop", {0, 24}, false}};
    expect_fail(net_nft_apply(longname, 1, &err), &err, EINVAL, "invalid bridge name");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ip),
        cmocka_unit_test(test_cidr),
        cmocka_unit_test(test_mac),
        cmocka_unit_test(test_dns_names),
        cmocka_unit_test(test_names),
        cmocka_unit_test_setup_teardown(test_store, setup, teardown),
        cmocka_unit_test_setup_teardown(test_auto_subnet_pools, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ipam, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ipam_concurrent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ipam_static_range, setup, teardown),
        cmocka_unit_test_setup_teardown(test_driver_options, setup, teardown),
        cmocka_unit_test(test_nft_script),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
