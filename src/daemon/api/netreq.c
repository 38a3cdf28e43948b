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

static void add_network(struct dmn_netreq *rq, const char *name, char **aliases)
{
    for (size_t i = 0; i < rq->n_networks; i++) {
        if (strcmp(rq->networks[i], name) == 0 ||
            (is_default_name(rq->networks[i]) && is_default_name(name))) {
            if (aliases && rq->aliases[i] == NULL)
                rq->aliases[i] = aliases;
            else
                ctr_strv_free(aliases);
            return;
        }
    }
    rq->networks = ctr_xrealloc(rq->networks, (rq->n_networks + 1) * sizeof(char *));
    rq->aliases = ctr_xrealloc(rq->aliases, (rq->n_networks + 1) * sizeof(char **));
    rq->networks[rq->n_networks] = ctr_xstrdup(name);
    rq->aliases[rq->n_networks] = aliases;
    rq->n_networks++;
}

int api_endpoint_parse(const char *net, json_t *ep, char ***aliases, ctr_error_t *err)
{
    *aliases = NULL;
    if (ep == NULL || json_is_null(ep))
        return 0;
    if (!json_is_object(ep))
        return dmn_fail(err, EINVAL, "`NetworkingConfig.EndpointsConfig.%s` must be an object",
                        net);
    json_t *ipam = json_object_get(ep, "IPAMConfig");
    if (json_is_object(ipam)) {
        const char *k;
        json_t *v;
        json_object_foreach(ipam, k, v)
        {
            if (json_is_string(v) && *json_string_value(v))
                return dmn_fail(err, EINVAL,
                                "static addresses (`EndpointsConfig.%s.IPAMConfig.%s`) are not "
                                "supported: addresses come from the network's allocator",
                                net, k);
        }
    }
    /* EndpointsConfig.X.Links: accepted; the docker CLI and compose send the same links
     * in HostConfig.Links, which the container service resolves (create.c) */
    const char *mac = json_string_value(json_object_get(ep, "MacAddress"));
    if (mac && *mac)
        return dmn_fail(err, EINVAL,
                        "`EndpointsConfig.%s.MacAddress` is not supported: the MAC follows the "
                        "address",
                        net);
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
    *aliases = dmn_json_strv(al);
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
            char **al = NULL;
            if (api_endpoint_parse(nm, json_object_get(eps, nm), &al, err) < 0)
                goto fail;
            add_network(&rq, nm, al);
        }
        json_object_foreach(eps, k, v)
        {
            char **al = NULL;
            if (strcmp(k, "none") == 0) {
                dmn_fail(err, EINVAL,
                         "conflicting options: network `none` cannot be combined with other "
                         "networks");
                goto fail;
            }
            if (api_endpoint_parse(k, v, &al, err) < 0)
                goto fail;
            add_network(&rq, k, al);
        }
        if (rq.n_networks == 0)
            add_network(&rq, NET_DEFAULT_NAME, NULL);
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
