/* Host-side networking: IPv4 addresses and subnets, the network store and its address
 * allocator (DATA/networks/<id>/), bridges and routes over netlink (libmnl), and the
 * `inet container` nftables table (libnftables). See docs/network.md. */
#ifndef CTR_NET_H
#define CTR_NET_H

#include "common/common.h"

#include <stdbool.h>
#include <stdint.h>

/* ---- addresses ---- */
struct net_cidr {
    uint32_t addr; /* host byte order */
    uint8_t prefix;
};
#define NET_CIDR_STRLEN 19 /* "255.255.255.255/32" + NUL */
#define NET_IP_STRLEN 16
/* "10.1.0.0/16" (a bare address means /32); host bits may be set: see net_cidr_is_network */
int net_cidr_parse(const char *s, struct net_cidr *out, ctr_error_t *err);
void net_cidr_format(const struct net_cidr *c, char *buf, size_t n);
bool net_cidr_overlaps(const struct net_cidr *a, const struct net_cidr *b);
bool net_cidr_contains(const struct net_cidr *c, uint32_t addr);
uint32_t net_cidr_mask(uint8_t prefix);
int net_ip_parse(const char *s, uint32_t *out, ctr_error_t *err);
/* A DNS name (container alias, extra host name, search domain): 1 to 253 letters, digits,
 * `-`, `_`, `.`, not starting with `-` or `.`. The CLI and the daemon both check with it. */
bool net_dns_name_ok(const char *s);
void net_ip_format(uint32_t addr, char *buf, size_t n);
/* "02:42:" + the four address bytes: unique host-wide because subnets never overlap and
 * the allocator never hands an address out twice (the gateway's is the bridge's MAC). */
#define NET_MAC_STRLEN 18
void net_mac_for(uint32_t addr, char out[NET_MAC_STRLEN]);

/* ---- netlink (libmnl); all act on the calling thread's network namespace ---- */
/* Creates bridge NAME if missing (refuses an existing non-bridge), adds gateway/prefix
 * if the bridge lacks it, sets MTU and a fixed MAC (net_mac_for(gateway)), brings it up. */
int net_bridge_ensure(const char *name, uint32_t gateway, uint8_t prefix, uint32_t mtu,
                      ctr_error_t *err);
int net_link_delete(const char *name, ctr_error_t *err); /* a missing link is success */
bool net_link_exists(const char *name);
/* A veth pair NAME (up, on bridge) - PEER (up, in no bridge), MTU mtu: the way in to a
 * network for a container that joined it live (docs/network.md, "Live connect"). An
 * existing pair is reused. Deleting either end deletes both. */
int net_veth_add(const char *name, const char *peer, const char *bridge, uint32_t mtu,
                 ctr_error_t *err);
/* Puts link NAME up on bridge, or (bridge NULL) takes it off its bridge. */
int net_link_set_master(const char *name, const char *bridge, ctr_error_t *err);
/* First IPv4 unicast route (not the default route, not on our own `ctr*` bridges) that
 * overlaps c, described like "10.0.0.0/8 dev eth0" in desc. Returns 1 on conflict, 0 none. */
int net_route_conflict(const struct net_cidr *c, char *desc, size_t n, ctr_error_t *err);
int net_ip_forward_enable(ctr_error_t *err);

/* ---- nftables (libnftables): rebuild `table inet container` in one transaction ---- */
struct net_nft_network {
    const char *bridge;
    struct net_cidr subnet;
    bool internal;
    bool no_masquerade; /* com.docker.network.bridge.enable_ip_masquerade=false */
};
/* n == 0 deletes the table. Never touches any other table. */
int net_nft_apply(const struct net_nft_network *nets, size_t n, ctr_error_t *err);
/* A network joined live: `table netdev NAME` forwards, at ingress, the frames the VM sends
 * from addr (IPv4 and ARP) from its TAP to PEER (a veth into the network's bridge), and
 * everything arriving on PEER to the TAP. Replaces the table of that name. */
int net_nft_splice(const char *table, const char *tap, const char *peer, uint32_t addr,
                   ctr_error_t *err);
char *net_nft_splice_script(const char *table, const char *tap, const char *peer, uint32_t addr);
/* Deletes `table netdev NAME`; a missing one is success. */
int net_nft_splice_delete(const char *table, ctr_error_t *err);
/* The ruleset text net_nft_apply would load (caller frees); exposed for tests and docs. */
char *net_nft_script(const struct net_nft_network *nets, size_t n);

/* ---- network store: DATA/networks/<id>/network.json ---- */
#define NET_DEFAULT_NAME "default"
#define NET_DEFAULT_ALIAS "bridge" /* docker's name for the default network */
#define NET_DEFAULT_BRIDGE "ctr0"
#define NET_DEFAULT_MTU 1500
#define NET_ID_LEN 64
struct net_network {
    char *id;
    char *name;
    char *bridge;
    struct net_cidr subnet;
    uint32_t gateway;
    bool internal;
    struct net_cidr range; /* IPRange: dynamic addresses only from there; prefix 0: none */
    bool subnet_auto;      /* the store chose the subnet (docker: no static addresses) */
    /* from the bridge driver's options (docs/network.md): com.docker.network.driver.mtu,
     * com.docker.network.bridge.enable_ip_masquerade; .bridge.name sets `bridge` */
    uint32_t mtu;       /* NET_DEFAULT_MTU unless given */
    bool no_masquerade; /* no NAT for traffic leaving the network */
    char **labels;      /* KEY=VALUE, NULL terminated (never NULL once loaded) */
    char **options;     /* the driver options given at create, KEY=VALUE, as labels */
    int64_t created_ns;
};
/* Docker's rule: anything but an empty or blank name; ours adds no control characters
 * and at most 255 bytes. */
int net_network_check_name(const char *name, ctr_error_t *err);
/* Refuses a bad name, a taken name (EEXIST), `none`/`host`/`bridge`, a subnet overlapping
 * another network or a host route (both named). subnet NULL = the first free /24 of
 * 192.168.64.0/18, then of 10.89.0.0/16. The network named `default` gets bridge ctr0,
 * others ctrbr-<8 hex of id>. The gateway is the subnet's first address. */
int net_network_create(const char *data_root, const char *name, const char *subnet, bool internal,
                       char **labels, char **options, struct net_network *out, ctr_error_t *err);
/* The same with an IPRange (a CIDR inside subnet, which it needs; NULL: none). */
int net_network_create_range(const char *data_root, const char *name, const char *subnet,
                             const char *ip_range, bool internal, char **labels, char **options,
                             struct net_network *out, ctr_error_t *err);
/* By full id, name (`bridge` finds `default`), or unique id prefix. ENOENT when none. */
int net_network_load(const char *data_root, const char *name_or_id, struct net_network *out,
                     ctr_error_t *err);
/* All networks, oldest first. */
int net_network_list(const char *data_root, struct net_network **out, size_t *n, ctr_error_t *err);
void net_network_list_free(struct net_network *v, size_t n);
/* Removes the files (network.json and the allocator's); nothing on the system. */
int net_network_remove(const char *data_root, const char *name_or_id, ctr_error_t *err);
void net_network_release(struct net_network *n);

/* ---- IPAM: DATA/networks/<id>/ipam.json, serialized by flock on ipam.lock ---- */
/* The owner's address: its existing one, else the next free one after the last handed
 * out (network, gateway and broadcast addresses skipped). Exhausted: ENOSPC,
 * "network NAME has no free address (subnet X)". */
int net_ipam_allocate(const char *data_root, const struct net_network *nw, const char *owner,
                      uint32_t *addr, ctr_error_t *err);
/* Exactly want (docker's static address: anywhere in the subnet, IPRange or not; an owner
 * holding another one gets want instead). Outside the subnet's hosts: EINVAL; the gateway
 * or another owner's: EADDRINUSE (docker's "Address already in use"). */
int net_ipam_allocate_static(const char *data_root, const struct net_network *nw, const char *owner,
                             uint32_t want, uint32_t *addr, ctr_error_t *err);
/* Frees the owner's address; an owner without one is success. */
int net_ipam_release(const char *data_root, const struct net_network *nw, const char *owner,
                     ctr_error_t *err);
struct net_ipam_entry {
    char *owner;
    uint32_t addr;
};
/* Every allocation, by address. */
int net_ipam_list(const char *data_root, const struct net_network *nw, struct net_ipam_entry **out,
                  size_t *n, ctr_error_t *err);
void net_ipam_list_free(struct net_ipam_entry *v, size_t n);

#endif
