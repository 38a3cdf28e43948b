/* The guest's network: lo up, then each setup.network interface configured on the
 * virtio-net NIC with its MAC (MTU, address, up, default route). Raw rtnetlink: vminitd
 * is static and libmnl has no static archive. */
#include "guest/guest-internal.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define NIC_WAIT_MS 2000 /* virtio devices normally probe before init; allow a late one */

struct nlreq {
    struct nlmsghdr h;
    union {
        struct ifinfomsg ifi;
        struct ifaddrmsg ifa;
        struct rtmsg rt;
    } u;
    char attrs[256];
};

static void add_attr(struct nlreq *r, unsigned short type, const void *data, size_t len)
{
    struct rtattr *a = (struct rtattr *)((char *)r + NLMSG_ALIGN(r->h.nlmsg_len));
    a->rta_type = type;
    a->rta_len = (unsigned short)RTA_LENGTH(len);
    memcpy(RTA_DATA(a), data, len);
    r->h.nlmsg_len = NLMSG_ALIGN(r->h.nlmsg_len) + RTA_ALIGN(a->rta_len);
}

/* Send one request and wait for its ack; returns the negative errno the kernel gave. */
static int nl_talk(int fd, struct nlreq *r)
{
    static uint32_t seq;
    char buf[4096];

    r->h.nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
    r->h.nlmsg_seq = ++seq;
    if (send(fd, r, r->h.nlmsg_len, 0) < 0)
        return -errno;
    for (;;) {
        ssize_t n = recv(fd, buf, sizeof(buf), 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n);
             h = NLMSG_NEXT(h, n)) {
            if (h->nlmsg_seq != r->h.nlmsg_seq || h->nlmsg_type != NLMSG_ERROR)
                continue;
            const struct nlmsgerr *e = NLMSG_DATA(h);
            return e->error; /* 0 = ack */
        }
    }
}

static void req_init(struct nlreq *r, unsigned short type, unsigned short flags, size_t body)
{
    memset(r, 0, sizeof(*r));
    r->h.nlmsg_len = (uint32_t)NLMSG_LENGTH(body);
    r->h.nlmsg_type = type;
    r->h.nlmsg_flags = flags;
}

static int link_set(int fd, unsigned index, bool up, uint32_t mtu)
{
    struct nlreq r;

    req_init(&r, RTM_NEWLINK, 0, sizeof(struct ifinfomsg));
    r.u.ifi.ifi_family = AF_UNSPEC;
    r.u.ifi.ifi_index = (int)index;
    if (up) {
        r.u.ifi.ifi_flags = IFF_UP;
        r.u.ifi.ifi_change = IFF_UP;
    }
    if (mtu)
        add_attr(&r, IFLA_MTU, &mtu, sizeof(mtu));
    return nl_talk(fd, &r);
}

static int addr_add(int fd, unsigned index, uint32_t addr, uint8_t prefix)
{
    struct nlreq r;
    uint32_t a = htonl(addr);
    uint32_t mask = prefix == 32 ? 0xffffffffu : ~(0xffffffffu >> prefix);
    uint32_t brd = htonl(addr | ~mask);

    req_init(&r, RTM_NEWADDR, NLM_F_CREATE | NLM_F_REPLACE, sizeof(struct ifaddrmsg));
    r.u.ifa.ifa_family = AF_INET;
    r.u.ifa.ifa_prefixlen = prefix;
    r.u.ifa.ifa_scope = RT_SCOPE_UNIVERSE;
    r.u.ifa.ifa_index = index;
    add_attr(&r, IFA_LOCAL, &a, 4);
    add_attr(&r, IFA_ADDRESS, &a, 4);
    if (prefix < 31)
        add_attr(&r, IFA_BROADCAST, &brd, 4);
    return nl_talk(fd, &r);
}

static int default_route(int fd, unsigned index, uint32_t gw)
{
    struct nlreq r;
    uint32_t g = htonl(gw), oif = index;

    req_init(&r, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, sizeof(struct rtmsg));
    r.u.rt.rtm_family = AF_INET;
    r.u.rt.rtm_dst_len = 0;
    r.u.rt.rtm_table = RT_TABLE_MAIN;
    r.u.rt.rtm_protocol = RTPROT_BOOT;
    r.u.rt.rtm_scope = RT_SCOPE_UNIVERSE;
    r.u.rt.rtm_type = RTN_UNICAST;
    add_attr(&r, RTA_GATEWAY, &g, 4);
    add_attr(&r, RTA_OIF, &oif, 4);
    return nl_talk(fd, &r);
}

/* The interface whose MAC is mac (/sys/class/net/NAME/address); name gets NAME. */
static unsigned find_nic(const uint8_t mac[6], char name[IFNAMSIZ])
{
    DIR *d = opendir("/sys/class/net");
    struct dirent *de;
    unsigned index = 0;

    if (d == NULL)
        return 0;
    while (index == 0 && (de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.' || strlen(de->d_name) >= IFNAMSIZ)
            continue;
        cleanup_free char *p = ctr_xasprintf("/sys/class/net/%s/address", de->d_name);
        cleanup_free char *v = NULL;
        cleanup_error ctr_error_t e = NULL;
        size_t len;
        uint8_t m[6];
        if (ctr_read_file(p, 64, &v, &len, &e) < 0)
            continue;
        while (len && (v[len - 1] == '\n' || v[len - 1] == ' '))
            v[--len] = '\0';
        if (agent_mac_parse(v, m) && memcmp(m, mac, 6) == 0) {
            index = if_nametoindex(de->d_name);
            strcpy(name, de->d_name);
        }
    }
    closedir(d);
    return index;
}

static int setup_iface(int fd, const struct agent_iface *f, ctr_error_t *err)
{
    uint8_t mac[6], prefix;
    uint32_t addr, gw = 0;
    char name[IFNAMSIZ] = "";
    unsigned index;
    uint64_t end = ctr_now_ns() + (uint64_t)NIC_WAIT_MS * 1000000u;
    int r;

    if (!agent_mac_parse(f->mac, mac) || !agent_cidr_parse(f->address, &addr, &prefix) ||
        (f->gateway && !agent_ipv4_parse(f->gateway, &gw)))
        return ctr_fail(err, EINVAL, "interface %s: bad MAC, address or gateway", f->mac);
    while ((index = find_nic(mac, name)) == 0) {
        if (ctr_now_ns() >= end)
            return ctr_fail(err, ENODEV,
                            "interface %s: no NIC with this MAC (is the bundle's `networks` "
                            "entry missing?)",
                            f->mac);
        usleep(10000);
    }
    if ((r = link_set(fd, index, false, f->mtu)) < 0)
        return ctr_fail(err, -r, "interface %s (%s): set MTU %u", f->mac, name, f->mtu);
    if ((r = addr_add(fd, index, addr, prefix)) < 0)
        return ctr_fail(err, -r, "interface %s (%s): add address %s", f->mac, name, f->address);
    if ((r = link_set(fd, index, true, 0)) < 0)
        return ctr_fail(err, -r, "interface %s (%s): set up", f->mac, name);
    if (f->gateway && (r = default_route(fd, index, gw)) < 0)
        return ctr_fail(err, -r, "interface %s (%s): default route via %s", f->mac, name,
                        f->gateway);
    log_debug("interface %s (%s): %s via %s, mtu %u", f->mac, name, f->address,
              f->gateway ? f->gateway : "-", f->mtu);
    return 0;
}

/* ---- a network joined or left while running (agent op `net`): an address more or
 * less on a NIC (docs/network.md, "Live connect") ---- */

static int addr_del(int fd, unsigned index, uint32_t addr, uint8_t prefix)
{
    struct nlreq r;
    uint32_t a = htonl(addr);

    req_init(&r, RTM_DELADDR, 0, sizeof(struct ifaddrmsg));
    r.u.ifa.ifa_family = AF_INET;
    r.u.ifa.ifa_prefixlen = prefix;
    r.u.ifa.ifa_index = index;
    add_attr(&r, IFA_LOCAL, &a, 4);
    return nl_talk(fd, &r);
}

/* /etc/hosts is a bind mount of the initramfs' file (mounts.c): rewritten in place. */
static int write_hosts(const char *text, ctr_error_t *err)
{
    cleanup_close int fd = open("/etc/hosts", O_WRONLY | O_TRUNC | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0 || ctr_write_all(fd, text, strlen(text)) < 0)
        return ctr_fail(err, errno, "write `/etc/hosts`");
    return 0;
}

int guest_net_change(const struct agent_net *n, ctr_error_t *err)
{
    cleanup_close int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    struct sockaddr_nl sa = {.nl_family = AF_NETLINK};
    char name[IFNAMSIZ] = "";
    uint8_t mac[6], prefix;
    uint32_t addr;
    unsigned index;
    int r;

    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
        return ctr_fail(err, errno, "open rtnetlink");
    /* the NIC: the trunk (parent) for a network joined live, else its own */
    const char *nic = n->parent ? n->parent : n->mac;
    if (!agent_mac_parse(nic, mac) || !agent_cidr_parse(n->address, &addr, &prefix))
        return ctr_fail(err, EINVAL, "interface %s: bad MAC or address", nic);
    index = find_nic(mac, name);
    if (n->leave) {
        if (index == 0)
            log_warn("interface %s: already gone", nic);
        else if ((r = addr_del(fd, index, addr, prefix)) < 0 && r != -EADDRNOTAVAIL)
            return ctr_fail(err, -r, "interface %s (%s): remove address %s", nic, name, n->address);
    } else {
        if (index == 0)
            return ctr_fail(err, ENODEV, "no NIC with MAC %s to carry address %s", nic, n->address);
        if ((r = link_set(fd, index, true, 0)) < 0 || (r = addr_add(fd, index, addr, prefix)) < 0)
            return ctr_fail(err, -r, "interface %s (%s): add address %s", nic, name, n->address);
        log_debug("interface %s (%s): %s joined live (id %u)", nic, name, n->address, n->vlan);
    }
    if (n->hosts && write_hosts(n->hosts, err) < 0)
        return -1;
    return 0;
}

int guest_net_setup(const struct agent_setup *s, ctr_error_t *err)
{
    cleanup_close int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    struct sockaddr_nl sa = {.nl_family = AF_NETLINK};
    unsigned lo;
    int r;

    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
        return ctr_fail(err, errno, "open rtnetlink");
    lo = if_nametoindex("lo");
    if (lo == 0)
        return ctr_fail(err, ENODEV, "no loopback interface");
    if ((r = link_set(fd, lo, true, 0)) < 0)
        return ctr_fail(err, -r, "set `lo` up");
    for (size_t i = 0; i < s->n_ifaces; i++)
        if (setup_iface(fd, &s->ifaces[i], err) < 0)
            return -1;
    return 0;
}
