/* What a container's networks become: the bundle's `networks` (TAPs), `ports`
 * (the shim's proxy) and `setup.network` (interfaces, /etc/hosts, resolv.conf),
 * its record in daemon.json and the names the DNS servers answer for
 * it (Docker's NetworkSettings shapes: api/netjson.c). docs/network.md. */
#include "daemon/daemon-internal.h"
#include "net/net.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

char *dmn_ip_str(uint32_t a)
{
    char b[NET_IP_STRLEN];
    net_ip_format(a, b, sizeof(b));
    return ctr_xstrdup(b);
}

const char *dmn_port_host_ip(const struct net_port_binding *p)
{
    return *p->host_ip ? p->host_ip : "0.0.0.0";
}

const char *dmn_container_hostname(struct dmn_container *c)
{
    const char *h = json_string_value(json_object_get(c->config, "Hostname"));
    return h && *h ? h : NULL;
}

/* ---- setup.network ---- */

int dmn_extra_host_split(const char *s, char **name, char **ip)
{
    const char *sep = strchr(s, '=');
    if (sep == NULL)
        sep = strchr(s, ':');
    if (sep == NULL || sep == s || sep[1] == '\0')
        return -1;
    *name = ctr_xstrndup(s, (size_t)(sep - s));
    *ip = ctr_xstrdup(sep + 1);
    return 0;
}

/* name once per line, space-separated */
static void put_name(FILE *f, char ***seen, const char *name)
{
    for (size_t i = 0; *seen && (*seen)[i]; i++)
        if (strcasecmp((*seen)[i], name) == 0)
            return;
    fprintf(f, "%s%s", *seen ? " " : "", name);
    ctr_strv_append(seen, name);
}

/* /etc/hosts: localhost, the container (hostname, name, short id, aliases) on its
 * first address, the host as host.container.internal, the linked containers
 * (HostConfig.Links), then ExtraHosts. */
static char *hosts_text(struct dmn_container *c, json_t *hc, const char *hostname, ctr_error_t *err)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    cleanup_strv char **seen = NULL;
    json_t *e;
    size_t i;

    fprintf(f, "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n");
    if (c->n_eps) {
        cleanup_free char *a = dmn_ip_str(c->eps[0].addr);
        cleanup_free char *gw = dmn_ip_str(c->eps[0].gateway);
        char shortid[13];
        snprintf(shortid, sizeof(shortid), "%.12s", c->id);
        fprintf(f, "%s\t", a);
        if (hostname)
            put_name(f, &seen, hostname);
        put_name(f, &seen, c->name);
        put_name(f, &seen, shortid);
        for (size_t k = 0; k < c->n_eps; k++)
            for (size_t j = 0; c->eps[k].aliases && c->eps[k].aliases[j]; j++)
                put_name(f, &seen, c->eps[k].aliases[j]);
        fprintf(f, "\n%s\thost.container.internal host.docker.internal\n", gw);
    }
    for (size_t k = 0; c->link_hosts && c->link_hosts[k]; k++)
        fprintf(f, "%s\n", c->link_hosts[k]); /* HostConfig.Links (create.c) */
    json_array_foreach(json_object_get(hc, "ExtraHosts"), i, e)
    {
        cleanup_free char *name = NULL;
        cleanup_free char *ip = NULL;
        if (dmn_extra_host_split(json_string_value(e), &name, &ip) < 0)
            continue; /* checked at create */
        if (strcmp(ip, "host-gateway") == 0) {
            if (c->n_eps == 0) {
                dmn_fail(err, EINVAL,
                         "`--add-host %s:host-gateway` needs a network: the gateway is the "
                         "host's address on it",
                         name);
                fclose(f);
                free(text);
                return NULL;
            }
            free(ip);
            ip = dmn_ip_str(c->eps[0].gateway);
        }
        fprintf(f, "%s\t%s\n", ip, name);
    }
    fclose(f);
    return text;
}

/* resolv.conf: the first network's gateway (our DNS server) unless Dns is given. */
static char *resolv_text(struct dmn_container *c, json_t *hc)
{
    json_t *dns = json_object_get(hc, "Dns"), *search = json_object_get(hc, "DnsSearch"),
           *opts = json_object_get(hc, "DnsOptions"), *e;
    char *text = NULL;
    size_t len = 0, i;

    if (json_is_true(json_object_get(hc, "ContainerNoDns")))
        return NULL; /* the image's own */
    if (c->n_eps == 0 && json_array_size(dns) == 0)
        return NULL;
    FILE *f = open_memstream(&text, &len);
    if (json_array_size(dns)) {
        json_array_foreach(dns, i, e) fprintf(f, "nameserver %s\n", json_string_value(e));
    } else {
        cleanup_free char *gw = dmn_ip_str(c->eps[0].gateway);
        fprintf(f, "nameserver %s\n", gw);
    }
    if (json_array_size(search)) {
        fprintf(f, "search");
        json_array_foreach(search, i, e) fprintf(f, " %s", json_string_value(e));
        fprintf(f, "\n");
    }
    if (json_array_size(opts)) {
        fprintf(f, "options");
        json_array_foreach(opts, i, e) fprintf(f, " %s", json_string_value(e));
        fprintf(f, "\n");
    }
    fclose(f);
    return text;
}

static void clear_bundle_net(struct bundle_config *bc)
{
    for (size_t i = 0; i < bc->n_nets; i++) {
        free(bc->nets[i].tap);
        free(bc->nets[i].bridge);
        free(bc->nets[i].mac);
    }
    free(bc->nets);
    bc->nets = NULL;
    bc->n_nets = 0;
    for (size_t i = 0; i < bc->n_ports; i++) {
        free(bc->ports[i].proto);
        free(bc->ports[i].host_ip);
        free(bc->ports[i].container_ip);
    }
    free(bc->ports);
    bc->ports = NULL;
    bc->n_ports = 0;
    agent_setup_net_release(&bc->setup);
}

char *dmn_netconf_hosts(struct dmn_container *c, ctr_error_t *err)
{
    char shortid[13];
    const char *hn = dmn_container_hostname(c);
    json_t *hc = c->host_config;

    snprintf(shortid, sizeof(shortid), "%.12s", c->id);
    if (c->n_eps == 0 && c->link_hosts == NULL &&
        json_array_size(json_object_get(hc, "ExtraHosts")) == 0)
        return NULL;
    return hosts_text(c, hc, hn ? hn : shortid, err);
}

int dmn_netconf_fill(struct dmn_container *c, struct bundle_config *bc, ctr_error_t *err)
{
    json_t *hc = c->host_config;
    size_t devices = BUNDLE_FIXED_VIRTIO_DEVICES + bc->n_disks + bc->n_shares + c->n_eps;

    if (devices > BUNDLE_MAX_VIRTIO_DEVICES)
        return dmn_fail(err, EINVAL,
                        "too many devices for the VM: %zu disks, %zu shared directories and "
                        "%zu networks need %zu virtio slots, %d are free",
                        bc->n_disks, bc->n_shares, c->n_eps, devices - BUNDLE_FIXED_VIRTIO_DEVICES,
                        BUNDLE_MAX_VIRTIO_DEVICES - BUNDLE_FIXED_VIRTIO_DEVICES);
    char *hosts = NULL;
    if (c->n_eps || c->link_hosts || json_array_size(json_object_get(hc, "ExtraHosts"))) {
        hosts = hosts_text(c, hc, bc->setup.hostname, err);
        if (hosts == NULL)
            return -1;
    }
    clear_bundle_net(bc);
    bc->setup.hosts = hosts;
    bc->setup.resolv = resolv_text(c, hc);
    bc->nets = ctr_xcalloc(c->n_eps + 1, sizeof(*bc->nets));
    bc->setup.ifaces = ctr_xcalloc(c->n_eps + 1, sizeof(*bc->setup.ifaces));
    bool routed = false;
    for (size_t i = 0; i < c->n_eps; i++) {
        const struct dmn_endpoint *ep = &c->eps[i];
        char a[NET_IP_STRLEN];
        net_ip_format(ep->addr, a, sizeof(a));
        bc->nets[i].tap = ctr_xstrdup(ep->tap);
        bc->nets[i].bridge = ctr_xstrdup(ep->bridge);
        bc->nets[i].mac = ctr_xstrdup(ep->mac);
        bc->nets[i].mtu = ep->mtu ? ep->mtu : NET_DEFAULT_MTU;
        bc->setup.ifaces[i].mac = ctr_xstrdup(ep->mac);
        bc->setup.ifaces[i].address = ctr_xasprintf("%s/%u", a, (unsigned)ep->prefix);
        bc->setup.ifaces[i].mtu = bc->nets[i].mtu;
        if (!routed && !ep->internal) {
            /* one default route: the first network that reaches outside */
            bc->setup.ifaces[i].gateway = dmn_ip_str(ep->gateway);
            routed = true;
        }
    }
    bc->n_nets = bc->setup.n_ifaces = c->n_eps;
    /* Disconnected from every network (docker allows it), a container starts without
     * one and publishes nothing; its ports come back with its next network. */
    size_t n_ports = c->n_eps ? c->n_ports : 0;
    bc->ports = ctr_xcalloc(n_ports + 1, sizeof(*bc->ports));
    for (size_t i = 0; i < n_ports; i++) {
        bc->ports[i].proto = ctr_xstrdup(c->ports[i].proto);
        bc->ports[i].host_ip = ctr_xstrdup(dmn_port_host_ip(&c->ports[i]));
        bc->ports[i].host_port = c->ports[i].host_port;
        bc->ports[i].container_ip = dmn_ip_str(c->eps[0].addr);
        bc->ports[i].container_port = c->ports[i].container_port;
    }
    bc->n_ports = n_ports;
    return 0;
}

int dmn_netconf_rewrite(struct dmn_container *c, ctr_error_t *err)
{
    struct bundle_config bc = {0};
    int ret = -1;
    if (bundle_config_load(c->bundle, &bc, err) == 0 && dmn_netconf_fill(c, &bc, err) == 0 &&
        bundle_config_save(c->bundle, &bc, err) == 0)
        ret = 0;
    bundle_config_release(&bc);
    return ret;
}

/* ---- daemon.json ---- */

void dmn_netconf_save(struct dmn_container *c, json_t *meta)
{
    json_t *eps = json_array(), *ports = json_array();
    for (size_t i = 0; i < c->n_eps; i++) {
        const struct dmn_endpoint *ep = &c->eps[i];
        cleanup_free char *a = dmn_ip_str(ep->addr);
        cleanup_free char *gw = dmn_ip_str(ep->gateway);
        json_array_append_new(eps, json_pack("{s:s,s:s,s:o,s:s,s:i,s:s,s:b,s:s,s:s,s:s}",
                                             "NetworkID", ep->net_id, "Network", ep->net_name,
                                             "Aliases", dmn_strv_json(ep->aliases), "IPAddress", a,
                                             "IPPrefixLen", (int)ep->prefix, "Gateway", gw,
                                             "Internal", ep->internal, "Bridge", ep->bridge,
                                             "MacAddress", ep->mac, "Tap", ep->tap));
        if (ep->mtu && ep->mtu != NET_DEFAULT_MTU)
            json_object_set_new(json_array_get(eps, i), "Mtu", json_integer(ep->mtu));
        if (ep->static_ip || ep->static_mac)
            json_object_update_new(
                json_array_get(eps, i),
                json_pack("{s:b,s:b}", "StaticIP", ep->static_ip, "StaticMac", ep->static_mac));
        if (ep->vlan)
            json_object_update_new(json_array_get(eps, i),
                                   json_pack("{s:i,s:s,s:s,s:s}", "Vlan", (int)ep->vlan, "VlanLink",
                                             ep->vlink, "Trunk", ep->trunk, "TrunkMac",
                                             ep->trunk_mac));
    }
    for (size_t i = 0; i < c->n_ports; i++)
        json_array_append_new(ports, json_pack("{s:s,s:s,s:i,s:i}", "Proto", c->ports[i].proto,
                                               "HostIp", dmn_port_host_ip(&c->ports[i]), "HostPort",
                                               (int)c->ports[i].host_port, "ContainerPort",
                                               (int)c->ports[i].container_port));
    json_object_set_new(meta, "Endpoints", eps);
    json_object_set_new(meta, "Ports", ports);
    if (c->link_hosts)
        json_object_set_new(meta, "LinkHosts", dmn_strv_json(c->link_hosts));
}

int dmn_netconf_load(struct dmn_container *c, json_t *meta, ctr_error_t *err)
{
    json_t *eps = json_object_get(meta, "Endpoints"), *ports = json_object_get(meta, "Ports"), *e;
    size_t i;

    c->eps = ctr_xcalloc(json_array_size(eps) + 1, sizeof(*c->eps));
    json_array_foreach(eps, i, e)
    {
        const char *id = NULL, *name = NULL, *a = NULL, *gw = NULL, *br = NULL, *mac = NULL,
                   *tap = NULL;
        json_t *al = NULL;
        int prefix = 0, internal = 0;
        struct dmn_endpoint *ep = &c->eps[c->n_eps];
        if (json_unpack(e, "{s:s,s:s,s?o,s:s,s:i,s:s,s?b,s:s,s:s,s:s}", "NetworkID", &id, "Network",
                        &name, "Aliases", &al, "IPAddress", &a, "IPPrefixLen", &prefix, "Gateway",
                        &gw, "Internal", &internal, "Bridge", &br, "MacAddress", &mac, "Tap",
                        &tap) < 0 ||
            net_ip_parse(a, &ep->addr, NULL) < 0 || net_ip_parse(gw, &ep->gateway, NULL) < 0 ||
            prefix < 1 || prefix > 32 || strlen(mac) >= sizeof(ep->mac) ||
            strlen(tap) >= sizeof(ep->tap))
            return dmn_fail(err, EINVAL, "`Endpoints[%zu]` of container %.12s is malformed", i,
                            c->id);
        ep->net_id = ctr_xstrdup(id);
        ep->net_name = ctr_xstrdup(name);
        ep->aliases = json_array_size(al) ? dmn_json_strv(al) : NULL;
        ep->prefix = (uint8_t)prefix;
        ep->internal = internal;
        ep->bridge = ctr_xstrdup(br);
        snprintf(ep->mac, sizeof(ep->mac), "%s", mac);
        snprintf(ep->tap, sizeof(ep->tap), "%s", tap);
        json_int_t mtu = json_integer_value(json_object_get(e, "Mtu"));
        ep->mtu = mtu >= 68 && mtu <= 65535 ? (uint32_t)mtu : NET_DEFAULT_MTU;
        ep->static_ip = json_is_true(json_object_get(e, "StaticIP"));
        ep->static_mac = json_is_true(json_object_get(e, "StaticMac"));
        int vlan = 0;
        const char *vlink = NULL, *trunk = NULL, *tmac = NULL;
        if (json_unpack(e, "{s:i,s:s,s:s,s:s}", "Vlan", &vlan, "VlanLink", &vlink, "Trunk", &trunk,
                        "TrunkMac", &tmac) == 0 &&
            vlan > 0 && vlan <= 4094 && strlen(vlink) < sizeof(ep->vlink) &&
            strlen(trunk) < sizeof(ep->trunk) && strlen(tmac) < sizeof(ep->trunk_mac)) {
            ep->vlan = (uint16_t)vlan;
            snprintf(ep->vlink, sizeof(ep->vlink), "%s", vlink);
            snprintf(ep->trunk, sizeof(ep->trunk), "%s", trunk);
            snprintf(ep->trunk_mac, sizeof(ep->trunk_mac), "%s", tmac);
        }
        c->n_eps++;
    }
    json_t *lh = json_object_get(meta, "LinkHosts");
    if (json_array_size(lh))
        c->link_hosts = dmn_json_strv(lh);
    c->ports = ctr_xcalloc(json_array_size(ports) + 1, sizeof(*c->ports));
    json_array_foreach(ports, i, e)
    {
        const char *proto = NULL, *hip = NULL;
        int hp = 0, cp = 0;
        if (json_unpack(e, "{s:s,s:s,s:i,s:i}", "Proto", &proto, "HostIp", &hip, "HostPort", &hp,
                        "ContainerPort", &cp) < 0 ||
            (strcmp(proto, "tcp") && strcmp(proto, "udp")) || strlen(hip) >= 16 || hp < 1 ||
            hp > 65535 || cp < 1 || cp > 65535)
            return dmn_fail(err, EINVAL, "`Ports[%zu]` of container %.12s is malformed", i, c->id);
        struct net_port_binding *p = &c->ports[c->n_ports++];
        snprintf(p->proto, sizeof(p->proto), "%s", proto);
        snprintf(p->host_ip, sizeof(p->host_ip), "%s", strcmp(hip, "0.0.0.0") ? hip : "");
        p->host_port = (uint16_t)hp;
        p->container_port = (uint16_t)cp;
    }
    return 0;
}

/* ---- the DNS servers ---- */

bool dmn_netconf_has_name(struct dmn_container *c, const char *net_id, const char *name,
                          uint32_t *addr)
{
    for (size_t i = 0; i < c->n_eps; i++) {
        const struct dmn_endpoint *ep = &c->eps[i];
        if (strcmp(ep->net_id, net_id) != 0)
            continue;
        bool hit = strcasecmp(c->name, name) == 0 ||
                   (strlen(name) == 12 && strncasecmp(c->id, name, 12) == 0) ||
                   (dmn_container_hostname(c) && strcasecmp(dmn_container_hostname(c), name) == 0);
        for (size_t j = 0; !hit && ep->aliases && ep->aliases[j]; j++)
            hit = strcasecmp(ep->aliases[j], name) == 0;
        if (hit)
            *addr = ep->addr;
        return hit;
    }
    return false;
}
