/* The network part of a create request: HostConfig.NetworkMode,
 * NetworkingConfig.EndpointsConfig, HostConfig.PortBindings and the DNS fields,
 * parsed and checked into a struct dmn_netreq (netconf.c attaches it); one
 * EndpointConfig also for /networks/{id}/connect. docs/network.md. */
#include "daemon/api/api.h"
#include "net/net.h"
#include "net/ports.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

static bool is_default_name(const char *n)
{
    return strcmp(n, NET_DEFAULT_NAME) == 0 || strcmp(n, NET_DEFAULT_ALIAS) == 0;
}

/* A word that goes into resolv.conf verbatim: printable, no blanks. */
static bool resolv_word_ok(const char *s)
{
    if (*s == '\0' || strlen(s) > 255)
        return false;
    for (; *s; s++)
        if (!isgraph((unsigned char)*s))
            return false;
    return true;
}

static bool ip_any_ok(const char *s)
{
    struct in6_addr a6;
    struct in_addr a4;
    return inet_pton(AF_INET, s, &a4) == 1 || inet_pton(AF_INET6, s, &a6) == 1;
}

/* Takes e's contents (the first EndpointsConfig of a network wins). */
static void add_network(struct dmn_netreq *rq, const char *name, struct dmn_epreq *e)
{
    for (size_t i = 0; i < rq->n_networks; i++) {
        if (strcmp(rq->networks[i], name) == 0 ||
            (is_default_name(rq->networks[i]) && is_default_name(name))) {
            struct dmn_epreq *have = &rq->eps[i];
            if (e->aliases && have->aliases == NULL) {
                have->aliases = e->aliases;
                e->aliases = NULL;
            }
            if (have->ip == 0)
                have->ip = e->ip;
            if (have->mac[0] == '\0')
                memcpy(have->mac, e->mac, sizeof(have->mac));
            dmn_epreq_release(e);
            return;
        }
    }
    rq->networks = ctr_xrealloc(rq->networks, (rq->n_networks + 1) * sizeof(char *));
    rq->eps = ctr_xrealloc(rq->eps, (rq->n_networks + 1) * sizeof(*rq->eps));
    rq->networks[rq->n_networks] = ctr_xstrdup(name);
    rq->eps[rq->n_networks] = *e;
    memset(e, 0, sizeof(*e));
    rq->n_networks++;
}

/* A MAC docker accepts for a container: six hex pairs, unicast (lowercased into out). */
static int mac_parse(const char *what, const char *s, char out[18], ctr_error_t *err)
{
    uint8_t m[6];
    if (!agent_mac_parse(s, m))
        return dmn_fail(err, EINVAL, "invalid MAC address: %s (`%s`)", s, what);
    snprintf(out, 18, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
    return 0;
}

int api_endpoint_parse(const char *net, json_t *ep, struct dmn_epreq *out, ctr_error_t *err)
{
    memset(out, 0, sizeof(*out));
    if (ep == NULL || json_is_null(ep))
        return 0;
    if (!json_is_object(ep))
        return dmn_fail(err, EINVAL, "`NetworkingConfig.EndpointsConfig.%s` must be an object",
                        net);
    json_t *ipam = json_object_get(ep, "IPAMConfig");
    if (json_is_object(ipam)) {
        const char *v4 = json_string_value(json_object_get(ipam, "IPv4Address"));
        const char *v6 = json_string_value(json_object_get(ipam, "IPv6Address"));
        json_t *ll = json_object_get(ipam, "LinkLocalIPs");
        if (v6 && *v6)
            return dmn_fail(err, EINVAL, "IPv6 addresses are not supported (`%s`): IPv4 only", v6);
        if (json_array_size(ll))
            return dmn_fail(err, EINVAL, "`IPAMConfig.LinkLocalIPs` is not supported");
        if (v4 && *v4) {
            struct in_addr a4;
            if (inet_pton(AF_INET, v4, &a4) != 1)
                return dmn_fail(err, EINVAL, "invalid IPv4 address: %s", v4);
            out->ip = ntohl(a4.s_addr);
        }
    }
    /* EndpointsConfig.X.Links: accepted; the docker CLI and compose send the same links
     * in HostConfig.Links, which the container service resolves (create.c) */
    const char *mac = json_string_value(json_object_get(ep, "MacAddress"));
    if (mac && *mac) {
        cleanup_free char *what = ctr_xasprintf("EndpointsConfig.%s.MacAddress", net);
        if (mac_parse(what, mac, out->mac, err) < 0)
            return -1;
    }
    json_t *al = json_object_get(ep, "Aliases");
    if (al == NULL || json_is_null(al))
        return 0;
    if (!json_is_array(al))
        return dmn_fail(err, EINVAL, "`EndpointsConfig.%s.Aliases` must be a list of names", net);
    size_t i;
    json_t *a;
    json_array_foreach(al, i, a)
    {
        if (!json_is_string(a) || !net_dns_name_ok(json_string_value(a)))
            return dmn_fail(err, EINVAL,
                            "`EndpointsConfig.%s.Aliases[%zu]` must be a DNS name (letters, "
                            "digits, `-`, `_`, `.`)",
                            net, i);
    }
    out->aliases = dmn_json_strv(al);
    return 0;
}

static int parse_ports(json_t *pb, struct dmn_netreq *rq, ctr_error_t *err)
{
    if (net_ports_from_docker(pb, &rq->ports, &rq->n_ports, err) < 0) {
        (*err)->errnum = EINVAL;
        return ctr_error_wrap(err, "`HostConfig.PortBindings`");
    }
    if (rq->n_ports > BUNDLE_MAX_PORTS)
        return dmn_fail(err, EINVAL, "too many published ports (%zu): %d at most", rq->n_ports,
                        BUNDLE_MAX_PORTS);
    return 0;
}

static int check_strings(json_t *hc, const char *field, bool (*ok)(const char *), const char *what,
                         ctr_error_t *err)
{
    json_t *a = json_object_get(hc, field), *e;
    size_t i;
    if (a == NULL || json_is_null(a))
        return 0;
    if (!json_is_array(a))
        return dmn_fail(err, EINVAL, "`HostConfig.%s` must be a list of strings", field);
    json_array_foreach(a, i, e)
    {
        if (!json_is_string(e) || !ok(json_string_value(e)))
            return dmn_fail(err, EINVAL, "`HostConfig.%s[%zu]` `%s` must be %s", field, i,
                            json_is_string(e) ? json_string_value(e) : "?", what);
    }
    return 0;
}

static bool extra_host_ok(const char *s)
{
    char *name, *ip;
    if (dmn_extra_host_split(s, &name, &ip) < 0)
        return false;
    bool ok = net_dns_name_ok(name) && (strcmp(ip, "host-gateway") == 0 || ip_any_ok(ip));
    free(name);
    free(ip);
    return ok;
}

int api_netreq_parse(json_t *body, struct dmn_netreq *out, ctr_error_t *err)
{
    struct dmn_netreq rq = {0};
    json_t *hc = json_object_get(body, "HostConfig");
    json_t *eps = json_object_get(json_object_get(body, "NetworkingConfig"), "EndpointsConfig");
    const char *nm = json_string_value(json_object_get(hc, "NetworkMode"));
    const char *k;
    json_t *v;

    if (nm == NULL)
        nm = "";
    if (strcmp(nm, "host") == 0 || strncmp(nm, "container:", 10) == 0 || strncmp(nm, "ns:", 3) == 0)
        return dmn_fail(err, EINVAL,
                        "`HostConfig.NetworkMode` `%s` is not supported: each container has its "
                        "own VM; use a network name or `none`",
                        nm);
    if (eps && !json_is_null(eps) && !json_is_object(eps))
        return dmn_fail(err, EINVAL, "`NetworkingConfig.EndpointsConfig` must be an object");
    rq.none = strcmp(nm, "none") == 0 || json_is_true(json_object_get(body, "NetworkDisabled"));
    if (rq.none) {
        json_object_foreach(eps, k, v)
        {
            if (strcmp(k, "none") != 0)
                return dmn_fail(err, EINVAL,
                                "conflicting options: network `none` cannot be combined with "
                                "network `%s`",
                                k);
        }
    } else {
        if (*nm) {
            struct dmn_epreq e;
            if (api_endpoint_parse(nm, json_object_get(eps, nm), &e, err) < 0)
                goto fail;
            add_network(&rq, nm, &e);
        }
        json_object_foreach(eps, k, v)
        {
            struct dmn_epreq e;
            if (strcmp(k, "none") == 0) {
                dmn_fail(err, EINVAL,
                         "conflicting options: network `none` cannot be combined with other "
                         "networks");
                goto fail;
            }
            if (api_endpoint_parse(k, v, &e, err) < 0) {
                dmn_epreq_release(&e);
                goto fail;
            }
            add_network(&rq, k, &e);
        }
        if (rq.n_networks == 0) {
            struct dmn_epreq e = {0};
            add_network(&rq, NET_DEFAULT_NAME, &e);
        }
        /* Config.MacAddress, the body's own (docker run --mac-address, API < 1.44): the
         * first network's */
        const char *cmac = json_string_value(json_object_get(body, "MacAddress"));
        if (cmac && *cmac && rq.eps[0].mac[0] == '\0' &&
            mac_parse("Config.MacAddress", cmac, rq.eps[0].mac, err) < 0)
            goto fail;
        if (rq.n_networks > BUNDLE_MAX_NETS) {
            dmn_fail(err, EINVAL, "too many networks: a container joins %d at most",
                     BUNDLE_MAX_NETS);
            goto fail;
        }
    }
    if (parse_ports(json_object_get(hc, "PortBindings"), &rq, err) < 0)
        goto fail;
    if (rq.none && rq.n_ports) {
        dmn_fail(err, EINVAL, "published ports need a network: network `none` has only loopback");
        goto fail;
    }
    if (check_strings(hc, "Dns", ip_any_ok, "an IP address", err) < 0 ||
        check_strings(hc, "DnsSearch", resolv_word_ok, "a domain without blanks", err) < 0 ||
        check_strings(hc, "DnsOptions", resolv_word_ok, "an option without blanks", err) < 0 ||
        check_strings(hc, "ExtraHosts", extra_host_ok, "NAME:IP (IP may be `host-gateway`)", err) <
            0)
        goto fail;
    v = json_object_get(hc, "ContainerNoDns");
    if (v && !json_is_boolean(v) && !json_is_null(v)) {
        dmn_fail(err, EINVAL, "`HostConfig.ContainerNoDns` must be true or false");
        goto fail;
    }
    *out = rq;
    return 0;
fail:
    dmn_netreq_release(&rq);
    return -1;
}
