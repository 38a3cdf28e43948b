/* Bridges, links and routes over rtnetlink (libmnl), in the caller's network namespace. */
#include "net/net-internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define REQ_SIZE 1024

/* Sends one request and reads replies until the ack (or the end of a dump), calling cb
 * for each data message. Returns 0, or -errno from the kernel's answer. */
static int nl_talk(struct nlmsghdr *nlh, mnl_cb_t cb, void *data)
{
    struct mnl_socket *nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
    char buf[32768] __attribute__((aligned(8))); /* the kernel sends dump parts of up to 32 KiB */
    unsigned portid, seq = (unsigned)time(NULL);
    int r;

    if (nl == NULL)
        return -errno;
    if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
        r = -errno;
        mnl_socket_close(nl);
        return r;
    }
    portid = mnl_socket_get_portid(nl);
    nlh->nlmsg_seq = seq;
    /* NLM_F_EXCL shares its bit with NLM_F_ROOT: only a GET carries the dump flags */
    if ((nlh->nlmsg_type & 3) != 2 || (nlh->nlmsg_flags & NLM_F_DUMP) != NLM_F_DUMP)
        nlh->nlmsg_flags |= NLM_F_ACK;
    if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) {
        r = -errno;
        mnl_socket_close(nl);
        return r;
    }
    for (;;) {
        ssize_t n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
        if (n < 0) {
            r = -errno;
            break;
        }
        r = mnl_cb_run(buf, (size_t)n, seq, portid, cb, data);
        if (r <= MNL_CB_STOP) {
            r = r < 0 ? -errno : 0;
            break;
        }
    }
    mnl_socket_close(nl);
    return r;
}

static struct nlmsghdr *link_msg(char *buf, uint16_t type, uint16_t flags, const char *name,
                                 int index)
{
    struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
    struct ifinfomsg *ifi;
    nlh->nlmsg_type = type;
    nlh->nlmsg_flags = NLM_F_REQUEST | flags;
    ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
    ifi->ifi_family = AF_UNSPEC;
    ifi->ifi_index = index;
    if (name)
        mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
    return nlh;
}

bool net_link_exists(const char *name)
{
    return name && if_nametoindex(name) != 0;
}

int net_link_delete(const char *name, ctr_error_t *err)
{
    char buf[REQ_SIZE] __attribute__((aligned(8)));
    struct nlmsghdr *nlh = link_msg(buf, RTM_DELLINK, 0, name, 0);
    int r = nl_talk(nlh, NULL, NULL);
    if (r < 0 && r != -ENODEV)
        return ctr_fail(err, -r, "delete network interface `%s`", name);
    return 0;
}

/* ---- veth pairs: a network joined live (docs/network.md, "Live connect") ---- */

int net_veth_add(const char *name, const char *peer, const char *bridge, uint32_t mtu,
                 ctr_error_t *err)
{
    char buf[REQ_SIZE] __attribute__((aligned(8)));
    struct nlmsghdr *nlh;
    struct nlattr *info, *data, *pn;
    struct ifinfomsg *pifi;
    int r;

    if (name == NULL || peer == NULL || *name == '\0' || *peer == '\0' ||
        strlen(name) >= IFNAMSIZ || strlen(peer) >= IFNAMSIZ)
        return net_fail(err, EINVAL, "invalid veth names `%s`, `%s`", name ? name : "",
                        peer ? peer : "");
    if (if_nametoindex(bridge) == 0)
        return net_fail(err, ENODEV, "bridge `%s` not found", bridge);
    nlh = link_msg(buf, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, name, 0);
    mnl_attr_put_u32(nlh, IFLA_MTU, mtu ? mtu : NET_DEFAULT_MTU);
    info = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
    mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "veth");
    data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
    pn = mnl_attr_nest_start(nlh, 1 /* VETH_INFO_PEER */);
    pifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*pifi));
    memset(pifi, 0, sizeof(*pifi));
    pifi->ifi_family = AF_UNSPEC;
    mnl_attr_put_strz(nlh, IFLA_IFNAME, peer);
    mnl_attr_put_u32(nlh, IFLA_MTU, mtu ? mtu : NET_DEFAULT_MTU);
    mnl_attr_nest_end(nlh, pn);
    mnl_attr_nest_end(nlh, data);
    mnl_attr_nest_end(nlh, info);
    r = nl_talk(nlh, NULL, NULL);
    if (r < 0 && r != -EEXIST)
        return ctr_fail(err, -r, "create veth pair `%s` - `%s`", name, peer);
    if (net_link_set_master(name, bridge, err) < 0 || net_link_set_master(peer, NULL, err) < 0)
        return -1;
    return 0;
}

int net_link_set_master(const char *name, const char *bridge, ctr_error_t *err)
{
    char buf[REQ_SIZE] __attribute__((aligned(8)));
    int index = (int)if_nametoindex(name), bindex = bridge ? (int)if_nametoindex(bridge) : 0, r;

    if (index == 0)
        return net_fail(err, ENODEV, "network interface `%s` not found", name);
    if (bridge && bindex == 0)
        return net_fail(err, ENODEV, "bridge `%s` not found", bridge);
    struct nlmsghdr *nlh = link_msg(buf, RTM_NEWLINK, 0, NULL, index);
    struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);
    ifi->ifi_flags = IFF_UP;
    ifi->ifi_change = IFF_UP;
    mnl_attr_put_u32(nlh, IFLA_MASTER, (uint32_t)bindex); /* 0: out of its bridge */
    if ((r = nl_talk(nlh, NULL, NULL)) < 0)
        return bridge ? ctr_fail(err, -r, "attach `%s` to bridge `%s`", name, bridge)
                      : ctr_fail(err, -r, "set `%s` up outside any bridge", name);
    return 0;
}

/* ---- bridge ---- */
struct link_info {
    char kind[32];
};

static int linkinfo_cb(const struct nlattr *a, void *data)
{
    struct link_info *li = data;
    if (mnl_attr_get_type(a) == IFLA_INFO_KIND && mnl_attr_validate(a, MNL_TYPE_STRING) >= 0)
        snprintf(li->kind, sizeof(li->kind), "%s", mnl_attr_get_str(a));
    return MNL_CB_OK;
}

static int link_attr_cb(const struct nlattr *a, void *data)
{
    if (mnl_attr_get_type(a) == IFLA_LINKINFO)
        mnl_attr_parse_nested(a, linkinfo_cb, data);
    return MNL_CB_OK;
}

static int link_cb(const struct nlmsghdr *nlh, void *data)
{
    mnl_attr_parse(nlh, sizeof(struct ifinfomsg), link_attr_cb, data);
    return MNL_CB_OK;
}

struct addr_find {
    int index;
    uint32_t want; /* network order */
    uint8_t prefix;
    bool found;
};

static int addr_attr_cb(const struct nlattr *a, void *data)
{
    const struct nlattr **tb = data;
    int t = mnl_attr_get_type(a);
    if (t <= IFA_MAX && mnl_attr_validate(a, MNL_TYPE_U32) >= 0)
        tb[t] = a;
    return MNL_CB_OK;
}

static int addr_cb(const struct nlmsghdr *nlh, void *data)
{
    struct addr_find *f = data;
    const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
    const struct nlattr *tb[IFA_MAX + 1] = {0};
    if (ifa->ifa_family != AF_INET || (int)ifa->ifa_index != f->index)
        return MNL_CB_OK;
    mnl_attr_parse(nlh, sizeof(*ifa), addr_attr_cb, tb);
    const struct nlattr *a = tb[IFA_LOCAL] ? tb[IFA_LOCAL] : tb[IFA_ADDRESS];
    if (a && mnl_attr_get_u32(a) == f->want && ifa->ifa_prefixlen == f->prefix)
        f->found = true;
    return MNL_CB_OK;
}

static int bridge_has_addr(int index, uint32_t gateway, uint8_t prefix, bool *found)
{
    char buf[REQ_SIZE] __attribute__((aligned(8)));
    struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
    struct ifaddrmsg *ifa;
    struct addr_find f = {index, htonl(gateway), prefix, false};
    nlh->nlmsg_type = RTM_GETADDR;
    nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
    ifa->ifa_family = AF_INET;
    int r = nl_talk(nlh, addr_cb, &f);
    *found = f.found;
    return r;
}

static int bridge_add_addr(int index, uint32_t gateway, uint8_t prefix)
{
    char buf[REQ_SIZE] __attribute__((aligned(8)));
    struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
    struct ifaddrmsg *ifa;
    nlh->nlmsg_type = RTM_NEWADDR;
    nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_CREATE | NLM_F_REPLACE;
    ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
    ifa->ifa_family = AF_INET;
    ifa->ifa_prefixlen = prefix;
    ifa->ifa_scope = RT_SCOPE_UNIVERSE;
    ifa->ifa_index = (unsigned)index;
    mnl_attr_put_u32(nlh, IFA_LOCAL, htonl(gateway));
    mnl_attr_put_u32(nlh, IFA_ADDRESS, htonl(gateway));
    if (prefix < 31)
        mnl_attr_put_u32(nlh, IFA_BROADCAST, htonl(gateway | ~net_cidr_mask(prefix)));
    return nl_talk(nlh, NULL, NULL);
}

int net_bridge_ensure(const char *name, uint32_t gateway, uint8_t prefix, uint32_t mtu,
                      ctr_error_t *err)
{
    char buf[REQ_SIZE] __attribute__((aligned(8)));
    struct nlmsghdr *nlh;
    struct nlattr *nest;
    struct link_info li = {{0}};
    unsigned char mac[6] = {0x02, 0x42, gateway >> 24, gateway >> 16, gateway >> 8, gateway};
    bool has_addr;
    int r, index;

    if (name == NULL || *name == '\0' || strlen(name) >= IFNAMSIZ)
        return net_fail(err, EINVAL, "invalid bridge name `%s`: 1 to %d characters", name ?: "",
                        IFNAMSIZ - 1);
    /* Create it; an existing link must be a bridge (never repurpose someone's device). */
    nlh = link_msg(buf, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, name, 0);
    mnl_attr_put(nlh, IFLA_ADDRESS, sizeof(mac), mac);
    nest = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
    mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "bridge");
    mnl_attr_nest_end(nlh, nest);
    r = nl_talk(nlh, NULL, NULL);
    if (r < 0 && r != -EEXIST)
        return ctr_fail(err, -r, "create bridge `%s`", name);
    index = (int)if_nametoindex(name);
    if (index == 0)
        return ctr_fail(err, errno, "bridge `%s` vanished", name);
    if (r == -EEXIST) {
        nlh = link_msg(buf, RTM_GETLINK, 0, NULL, index);
        if ((r = nl_talk(nlh, link_cb, &li)) < 0)
            return ctr_fail(err, -r, "query network interface `%s`", name);
        if (strcmp(li.kind, "bridge") != 0)
            return net_fail(err, EEXIST,
                            "network interface `%s` exists and is not a bridge (%s): remove it "
                            "or choose another network",
                            name, li.kind[0] ? li.kind : "a physical device");
    }
    if ((r = bridge_has_addr(index, gateway, prefix, &has_addr)) < 0)
        return ctr_fail(err, -r, "list addresses of bridge `%s`", name);
    if (!has_addr && (r = bridge_add_addr(index, gateway, prefix)) < 0) {
        char ip[NET_IP_STRLEN];
        net_ip_format(gateway, ip, sizeof(ip));
        return ctr_fail(err, -r, "add address %s/%u to bridge `%s`", ip, prefix, name);
    }
    nlh = link_msg(buf, RTM_NEWLINK, 0, NULL, index);
    struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);
    ifi->ifi_flags = IFF_UP;
    ifi->ifi_change = IFF_UP;
    mnl_attr_put_u32(nlh, IFLA_MTU, mtu ? mtu : NET_DEFAULT_MTU);
    if ((r = nl_talk(nlh, NULL, NULL)) < 0)
        return ctr_fail(err, -r, "set MTU %u and bring up bridge `%s`", mtu ? mtu : 1500, name);
    return 0;
}

/* ---- routes ---- */
struct route_find {
    struct net_cidr want;
    char *desc;
    size_t n;
    int found;
};

static int route_attr_cb(const struct nlattr *a, void *data)
{
    const struct nlattr **tb = data;
    int t = mnl_attr_get_type(a);
    if (t <= RTA_MAX)
        tb[t] = a;
    return MNL_CB_OK;
}

static int route_cb(const struct nlmsghdr *nlh, void *data)
{
    struct route_find *f = data;
    const struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);
    const struct nlattr *tb[RTA_MAX + 1] = {0};
    char ifname[IF_NAMESIZE] = "", dst[NET_CIDR_STRLEN], via[NET_IP_STRLEN];
    struct net_cidr c;
    uint32_t table;

    if (f->found || rtm->rtm_family != AF_INET || rtm->rtm_type != RTN_UNICAST ||
        rtm->rtm_dst_len == 0)
        return MNL_CB_OK;
    mnl_attr_parse(nlh, sizeof(*rtm), route_attr_cb, tb);
    table = tb[RTA_TABLE] && mnl_attr_validate(tb[RTA_TABLE], MNL_TYPE_U32) >= 0
                ? mnl_attr_get_u32(tb[RTA_TABLE])
                : rtm->rtm_table;
    if (table == RT_TABLE_LOCAL || tb[RTA_DST] == NULL ||
        mnl_attr_validate(tb[RTA_DST], MNL_TYPE_U32) < 0)
        return MNL_CB_OK;
    c.addr = ntohl(mnl_attr_get_u32(tb[RTA_DST]));
    c.prefix = rtm->rtm_dst_len;
    if (tb[RTA_OIF] && mnl_attr_validate(tb[RTA_OIF], MNL_TYPE_U32) >= 0)
        if_indextoname(mnl_attr_get_u32(tb[RTA_OIF]), ifname);
    /* Our own bridges' routes are the networks themselves, checked by the store. */
    if (strncmp(ifname, "ctr", 3) == 0 || !net_cidr_overlaps(&c, &f->want))
        return MNL_CB_OK;
    net_cidr_format(&c, dst, sizeof(dst));
    if (ifname[0])
        snprintf(f->desc, f->n, "%s dev %s", dst, ifname);
    else if (tb[RTA_GATEWAY] && mnl_attr_validate(tb[RTA_GATEWAY], MNL_TYPE_U32) >= 0) {
        net_ip_format(ntohl(mnl_attr_get_u32(tb[RTA_GATEWAY])), via, sizeof(via));
        snprintf(f->desc, f->n, "%s via %s", dst, via);
    } else
        snprintf(f->desc, f->n, "%s", dst);
    f->found = 1;
    return MNL_CB_OK;
}

int net_route_conflict(const struct net_cidr *c, char *desc, size_t n, ctr_error_t *err)
{
    char buf[REQ_SIZE] __attribute__((aligned(8)));
    struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
    struct rtmsg *rtm;
    struct route_find f = {*c, desc, n, 0};
    int r;

    nlh->nlmsg_type = RTM_GETROUTE;
    nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
    rtm->rtm_family = AF_INET;
    if ((r = nl_talk(nlh, route_cb, &f)) < 0)
        return ctr_fail(err, -r, "list IPv4 routes");
    return f.found;
}

int net_ip_forward_enable(ctr_error_t *err)
{
    static const char path[] = "/proc/sys/net/ipv4/ip_forward";
    cleanup_close int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0 || ctr_write_all(fd, "1\n", 2) < 0)
        return ctr_fail(err, errno, "enable IP forwarding (`%s`)", path);
    return 0;
}
