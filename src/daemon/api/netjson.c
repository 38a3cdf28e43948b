/* Docker's shapes of a container's networks: NetworkSettings.Networks and .Ports of
 * inspect, Ports of the list (the records: netconf.c, netbundle.c). docs/network.md. */
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

json_t *api_netconf_networks_json(struct dmn_container *c)
{
    json_t *o = json_object();
    for (size_t i = 0; i < c->n_eps; i++) {
        const struct dmn_endpoint *ep = &c->eps[i];
        cleanup_free char *a = dmn_ip_str(ep->addr);
        cleanup_free char *gw = dmn_ip_str(ep->gateway);
        /* an endpoint id of docker's length, stable for this container and network */
        cleanup_free char *epid = ctr_xasprintf("%.32s%.32s", ep->net_id, c->id);
        json_object_set_new(
            o, ep->net_name,
            json_pack("{s:n,s:n,s:o,s:s,s:s,s:s,s:s,s:s,s:i,s:s,s:s,s:i,s:n,s:o}", "IPAMConfig",
                      "Links", "Aliases", ep->aliases ? dmn_strv_json(ep->aliases) : json_null(),
                      "MacAddress", ep->mac, "NetworkID", ep->net_id, "EndpointID", epid, "Gateway",
                      gw, "IPAddress", a, "IPPrefixLen", (int)ep->prefix, "IPv6Gateway", "",
                      "GlobalIPv6Address", "", "GlobalIPv6PrefixLen", 0, "DriverOpts", "DNSNames",
                      dns_names(c, ep)));
    }
    return o;
}

/* Published ports while the container runs (the shim holds them), as docker. */
json_t *api_netconf_ports_json(struct dmn_container *c)
{
    json_t *o = json_object();
    if (c->status != DMN_RUNNING)
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
    if (c->status != DMN_RUNNING)
        return a;
    for (size_t i = 0; i < c->n_ports; i++)
        json_array_append_new(a, json_pack("{s:s,s:i,s:i,s:s}", "IP",
                                           dmn_port_host_ip(&c->ports[i]), "PrivatePort",
                                           (int)c->ports[i].container_port, "PublicPort",
                                           (int)c->ports[i].host_port, "Type", c->ports[i].proto));
    return a;
}
