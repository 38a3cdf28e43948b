/* ctr-net: calls the src/net functions from the command line so integration tests can
 * drive them inside a network namespace they made (`ip netns exec NS ctr-net ...`).
 *   bridge-ensure NAME GATEWAY/PREFIX [MTU]
 *   link-delete NAME | link-exists NAME (exit 0 yes, 1 no)
 *   route-conflict CIDR          prints the route and exits 1 on conflict, 0 without
 *   forward-enable
 *   nft-apply [BRIDGE=CIDR[,internal]]...   (none: delete the table)
 *   nft-script [BRIDGE=CIDR[,internal]]...  prints the ruleset
 *   network-create DATA NAME [SUBNET|-] [internal]   prints "ID BRIDGE SUBNET GATEWAY"
 *   network-rm DATA NAME
 *   ipam-allocate DATA NETWORK OWNER | ipam-release DATA NETWORK OWNER */
#include "net/net.h"

#include <stdlib.h>
#include <string.h>

static int usage(void)
{
    fprintf(stderr, "usage: ctr-net COMMAND ARGS... (see tests/tools/ctr-net.c)\n");
    return 2;
}

static int parse_nets(int argc, char **argv, struct net_nft_network **out, ctr_error_t *err)
{
    struct net_nft_network *v = ctr_xcalloc((size_t)argc + 1, sizeof(*v));
    for (int i = 0; i < argc; i++) {
        char *eq = strchr(argv[i], '='), *comma;
        if (eq == NULL) {
            free(v);
            return ctr_fail(err, 0, "`%s`: expected BRIDGE=CIDR[,internal]", argv[i]);
        }
        *eq = '\0';
        comma = strchr(eq + 1, ',');
        if (comma) {
            *comma = '\0';
            v[i].internal = strcmp(comma + 1, "internal") == 0;
        }
        v[i].bridge = argv[i];
        if (net_cidr_parse(eq + 1, &v[i].subnet, err) < 0) {
            free(v);
            return -1;
        }
    }
    *out = v;
    return 0;
}

static int run(int argc, char **argv, ctr_error_t *err)
{
    const char *cmd = argv[1];
    if (strcmp(cmd, "bridge-ensure") == 0 && (argc == 4 || argc == 5)) {
        struct net_cidr c;
        if (net_cidr_parse(argv[3], &c, err) < 0)
            return -1;
        return net_bridge_ensure(argv[2], c.addr, c.prefix,
                                 argc == 5 ? (uint32_t)strtoul(argv[4], NULL, 10) : 0, err);
    }
    if (strcmp(cmd, "link-delete") == 0 && argc == 3)
        return net_link_delete(argv[2], err);
    if (strcmp(cmd, "veth-add") == 0 && argc == 5) /* NAME PEER BRIDGE */
        return net_veth_add(argv[2], argv[3], argv[4], 0, err);
    if (strcmp(cmd, "splice") == 0 && argc == 6) { /* TABLE TAP PEER ADDR */
        uint32_t a;
        if (net_ip_parse(argv[5], &a, err) < 0)
            return -1;
        return net_nft_splice(argv[2], argv[3], argv[4], a, err);
    }
    if (strcmp(cmd, "splice-delete") == 0 && argc == 3)
        return net_nft_splice_delete(argv[2], err);
    if (strcmp(cmd, "link-detach") == 0 && argc == 3)
        return net_link_set_master(argv[2], NULL, err);
    if (strcmp(cmd, "link-exists") == 0 && argc == 3)
        return net_link_exists(argv[2]) ? 0 : 1;
    if (strcmp(cmd, "route-conflict") == 0 && argc == 3) {
        struct net_cidr c;
        char desc[128];
        int r;
        if (net_cidr_parse(argv[2], &c, err) < 0 ||
            (r = net_route_conflict(&c, desc, 128, err)) < 0)
            return -1;
        if (r)
            printf("%s\n", desc);
        return r;
    }
    if (strcmp(cmd, "forward-enable") == 0 && argc == 2)
        return net_ip_forward_enable(err);
    if (strcmp(cmd, "nft-apply") == 0 || strcmp(cmd, "nft-script") == 0) {
        struct net_nft_network *v = NULL;
        int r = 0;
        if (parse_nets(argc - 2, argv + 2, &v, err) < 0)
            return -1;
        if (cmd[4] == 'a') {
            r = net_nft_apply(v, (size_t)argc - 2, err);
        } else {
            char *s = net_nft_script(v, (size_t)argc - 2);
            fputs(s, stdout);
            free(s);
        }
        free(v);
        return r;
    }
    if (strcmp(cmd, "network-create") == 0 && argc >= 4 && argc <= 6) {
        struct net_network nw;
        char s[NET_CIDR_STRLEN], gw[NET_IP_STRLEN];
        const char *subnet = argc >= 5 && strcmp(argv[4], "-") ? argv[4] : NULL;
        bool internal = argc == 6 && strcmp(argv[5], "internal") == 0;
        if (net_network_create(argv[2], argv[3], subnet, internal, NULL, NULL, &nw, err) < 0)
            return -1;
        net_cidr_format(&nw.subnet, s, sizeof(s));
        net_ip_format(nw.gateway, gw, sizeof(gw));
        printf("%s %s %s %s\n", nw.id, nw.bridge, s, gw);
        net_network_release(&nw);
        return 0;
    }
    if (strcmp(cmd, "network-rm") == 0 && argc == 4)
        return net_network_remove(argv[2], argv[3], err);
    if ((strcmp(cmd, "ipam-allocate") == 0 || strcmp(cmd, "ipam-release") == 0) && argc == 5) {
        struct net_network nw;
        uint32_t a;
        char s[NET_IP_STRLEN];
        int r;
        if (net_network_load(argv[2], argv[3], &nw, err) < 0)
            return -1;
        if (cmd[5] == 'a') {
            r = net_ipam_allocate(argv[2], &nw, argv[4], &a, err);
            if (r == 0) {
                net_ip_format(a, s, sizeof(s));
                printf("%s\n", s);
            }
        } else {
            r = net_ipam_release(argv[2], &nw, argv[4], err);
        }
        net_network_release(&nw);
        return r;
    }
    return -2;
}

int main(int argc, char **argv)
{
    ctr_error_t err = NULL;
    if (argc < 2)
        return usage();
    int r = run(argc, argv, &err);
    if (r == -2)
        return usage();
    if (r < 0) {
        ctr_error_print("ctr-net", err);
        ctr_error_free(&err);
        return 125;
    }
    return r;
}
