/* Docker's shapes of a container's networks: NetworkSettings.Networks and .Ports of
 * inspect, Ports of the list (the records: netconf.c, netbundle.c). The default
 * network shows as docker's `bridge`. docs/network.md. */
#include "daemon/api/api.h"
#include "net/net.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static json_t *dns_names(struct dmn_container *c, const struct dmn_endpoint *ep)
{
    json_t *a = json_array();
    char shortid[13];
    snprintf(shortid, sizeof(shortid), "%.12s", c->id);
    json_array_append_new(a, json_string(c->name));
    for (size_t j = 0; ep->aliases && ep->aliases[j]; j++)
        json_array_append_new(a, json_string(ep->aliases[j]));
    json_array_append_new(a, json_string(shortid));
    if (dmn_container_hostname(c) && strcmp(dmn_container_hostname(c), shortid) != 0)
        json_array_append_new(a, json_string(dmn_container_hostname(c)));
    return a;
}

const char *api_netconf_network_name(const struct dmn_endpoint *ep)
{
    return strcmp(ep->net_name, NET_DEFAULT_NAME) == 0 ? NET_DEFAULT_ALIAS : ep->net_name;
}

/* Aliases as docker below API 1.45 shows them: on a user-defined network the
 * EndpointsConfig aliases, then the short id and the hostname (compose 1.29 looks for
 * the short id, else it reconnects the container); on the default network none. */
static json_t *aliases_json(struct dmn_container *c, const struct dmn_endpoint *ep)
{
    if (strcmp(ep->net_name, NET_DEFAULT_NAME) == 0)
        return ep->aliases ? dmn_strv_json(ep->aliases) : json_null();
    char shortid[13];
    const char *extra[2] = {shortid, dmn_container_hostname(c)};
    json_t *a = ep->aliases ? dmn_strv_json(ep->aliases) : json_array();
    snprintf(shortid, sizeof(shortid), "%.12s", c->id);
    for (size_t i = 0; i < 2; i++) {
        bool dup = extra[i] == NULL;
        for (size_t j = 0; !dup && j < json_array_size(a); j++)
            dup = strcmp(json_string_value(json_array_get(a, j)), extra[i]) == 0;
        if (!dup)
            json_array_append_new(a, json_string(extra[i]));
    }
    return a;
}

json_t *api_netconf_networks_json(struct dmn_container *c)
{
    json_t *o = json_object();
    for (size_t i = 0; i < c->n_eps; i++) {
        const struct dmn_endpoint *ep = &c->eps[i];
        cleanup_free char *a = dmn_ip_str(ep->addr);
        cleanup_free char *gw = dmn_ip_str(ep->gateway);
        /* an endpoint id of docker's length, stable for this container and network */
        cleanup_free char *epid = ctr_xasprintf("%.32s%.32s", ep->net_id, c->id);
        json_t *ipam = json_null();
        if (ep->static_ip)
            ipam = json_pack("{s:s}", "IPv4Address", a);
        json_object_set_new(
            o, api_netconf_network_name(ep),
            json_pack("{s:o,s:n,s:o,s:s,s:s,s:s,s:s,s:s,s:i,s:s,s:s,s:i,s:n,s:o}", "IPAMConfig",
                      ipam, "Links", "Aliases", aliases_json(c, ep), "MacAddress", ep->mac,
                      "NetworkID", ep->net_id, "EndpointID", epid, "Gateway", gw, "IPAddress", a,
                      "IPPrefixLen", (int)ep->prefix, "IPv6Gateway", "", "GlobalIPv6Address", "",
                      "GlobalIPv6PrefixLen", 0, "DriverOpts", "DNSNames", dns_names(c, ep)));
    }
    return o;
}

/* Published ports while the container runs (the shim holds them), as docker. */
json_t *api_netconf_ports_json(struct dmn_container *c)
{
    json_t *o = json_object();
    if (c->status != DMN_RUNNING || c->n_eps == 0)
        return o;
    for (size_t i = 0; i < c->n_ports; i++) {
        const struct net_port_binding *p = &c->ports[i];
        char key[16], hp[8];
        snprintf(key, sizeof(key), "%u/%s", (unsigned)p->container_port, p->proto);
        snprintf(hp, sizeof(hp), "%u", (unsigned)p->host_port);
        json_t *a = json_object_get(o, key);
        if (a == NULL) {
            a = json_array();
            json_object_set_new(o, key, a);
        }
        json_array_append_new(
            a, json_pack("{s:s,s:s}", "HostIp", dmn_port_host_ip(p), "HostPort", hp));
    }
    return o;
}

json_t *api_netconf_ports_list_json(struct dmn_container *c)
{
    json_t *a = json_array();
    if (c->status != DMN_RUNNING || c->n_eps == 0)
        return a;
    for (size_t i = 0; i < c->n_ports; i++)
        json_array_append_new(a, json_pack("{s:s,s:i,s:i,s:s}", "IP",
                                           dmn_port_host_ip(&c->ports[i]), "PrivatePort",
                                           (int)c->ports[i].container_port, "PublicPort",
                                           (int)c->ports[i].host_port, "Type", c->ports[i].proto));
    return a;
}
