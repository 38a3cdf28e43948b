/* A container's networking as the daemon sees it: an address on each network (IPAM,
 * owner = the container id), a MAC and a TAP name per NIC; the published ports checked
 * free by binding them. What the bundle gets from it: netbundle.c; the request's
 * NetworkMode, EndpointsConfig, PortBindings and DNS fields: api/netreq.c. See
 * docs/network.md. */
#include "daemon/daemon-internal.h"
#include "net/net.h"
#include "net/ports.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void endpoint_release(struct dmn_endpoint *ep)
{
    free(ep->net_id);
    free(ep->net_name);
    ctr_strv_free(ep->aliases);
    free(ep->bridge);
    memset(ep, 0, sizeof(*ep));
}

void dmn_endpoints_free(struct dmn_endpoint *eps, size_t n)
{
    for (size_t i = 0; i < n; i++)
        endpoint_release(&eps[i]);
    free(eps);
}

void dmn_epreq_release(struct dmn_epreq *e)
{
    ctr_strv_free(e->aliases);
    memset(e, 0, sizeof(*e));
}

void dmn_netreq_release(struct dmn_netreq *rq)
{
    for (size_t i = 0; i < rq->n_networks; i++) {
        free(rq->networks[i]);
        dmn_epreq_release(&rq->eps[i]);
    }
    free(rq->networks);
    free(rq->eps);
    free(rq->ports);
    memset(rq, 0, sizeof(*rq));
}

/* ---- addresses and ports ---- */

static void endpoint_fill(struct dmn_endpoint *ep, const struct net_network *nw, uint32_t addr,
                          const char *id, size_t index, const struct dmn_epreq *rq)
{
    char *const *aliases = rq ? rq->aliases : NULL;
    memset(ep, 0, sizeof(*ep));
    ep->net_id = ctr_xstrdup(nw->id);
    ep->net_name = ctr_xstrdup(nw->name);
    ep->aliases = aliases && aliases[0] ? ctr_strv_dup((char **)aliases) : NULL;
    ep->addr = addr;
    ep->gateway = nw->gateway;
    ep->prefix = nw->subnet.prefix;
    ep->internal = nw->internal;
    ep->mtu = nw->mtu ? nw->mtu : NET_DEFAULT_MTU;
    ep->bridge = ctr_xstrdup(nw->bridge);
    net_mac_for(addr, ep->mac);
    ep->static_ip = rq && rq->ip;
    if (rq && rq->mac[0]) {
        snprintf(ep->mac, sizeof(ep->mac), "%s", rq->mac);
        ep->static_mac = true;
    }
    snprintf(ep->tap, sizeof(ep->tap), "ctap%.10s%zu", id, index);
}

static int join_one(struct dmn *d, const char *id, const char *network, const struct dmn_epreq *rq,
                    size_t index, struct dmn_endpoint *ep, ctr_error_t *err)
{
    struct net_network nw = {0};
    uint32_t addr;

    if (net_network_load(d->cfg.root, network, &nw, err) < 0) {
        if ((*err)->errnum == ENOENT) {
            ctr_error_free(err);
            return dmn_fail(err, ENOENT, "network %s not found", network);
        }
        return -1;
    }
    if (rq && rq->ip) { /* docker's checks and words (runconfig errors, libnetwork ipam) */
        int r = -1;
        if (strcmp(nw.name, NET_DEFAULT_NAME) == 0)
            dmn_fail(err, EINVAL,
                     "user specified IP address is supported on user defined networks only");
        else if (nw.subnet_auto)
            dmn_fail(err, EINVAL,
                     "user specified IP address is supported only when connecting to networks "
                     "with user configured subnets");
        else if ((r = net_ipam_allocate_static(d->cfg.root, &nw, id, rq->ip, &addr, err)) < 0 &&
                 (*err)->errnum == EADDRINUSE)
            (*err)->errnum = DMN_EFORBIDDEN;
        if (r < 0) {
            net_network_release(&nw);
            return -1;
        }
    } else if (net_ipam_allocate(d->cfg.root, &nw, id, &addr, err) < 0) {
        if ((*err)->errnum == ENOSPC)
            (*err)->errnum = EBUSY; /* the message names the network: a 409 */
        net_network_release(&nw);
        return -1;
    }
    endpoint_fill(ep, &nw, addr, id, index, rq);
    net_network_release(&nw);
    return 0;
}

/* The host's side of a live endpoint, gone (its table, its veth pair). */
void dmn_netconf_unsplice(const struct dmn_endpoint *ep)
{
    ctr_error_t e = NULL;
    if (!ep->vlan)
        return;
    if (net_nft_splice_delete(ep->vlink, &e) < 0 || net_link_delete(ep->vlink, &e) < 0) {
        log_warn("network %s: %s", ep->net_name, e->msg);
        ctr_error_free(&e);
    }
}

static void release_one(struct dmn *d, const char *id, const struct dmn_endpoint *ep)
{
    dmn_netconf_unsplice(ep); /* joined live: the host's veth and table */
    struct net_network nw = {0};
    ctr_error_t err = NULL;
    if (net_network_load(d->cfg.root, ep->net_id, &nw, &err) < 0 ||
        net_ipam_release(d->cfg.root, &nw, id, &err) < 0) {
        log_warn("container %.12s: address on network %s not released: %s", id, ep->net_name,
                 err->msg);
        ctr_error_free(&err);
    }
    net_network_release(&nw);
}

/* Bind host_ip:port; SO_REUSEADDR for TCP, so that TIME_WAIT does not count as in use. */
static int bind_port(const struct net_port_binding *p)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(p->host_port)};
    uint32_t ip = 0;
    int one = 1;
    bool tcp = strcmp(p->proto, "tcp") == 0;
    if (*p->host_ip && net_ip_parse(p->host_ip, &ip, NULL) < 0) {
        errno = EINVAL;
        return -1;
    }
    sa.sin_addr.s_addr = htonl(ip);
    int fd = socket(AF_INET, (tcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (tcp)
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

/* `any port` bindings get a free one (net_ports_assign_free); then every port is
 * bound at once, so a port in use, or two bindings of the request on one port, are
 * refused now. The shim binds them for real when the container starts. */
static int reserve_ports(const struct dmn_netreq *rq, struct net_port_binding **out,
                         ctr_error_t *err)
{
    struct net_port_binding *ports = ctr_xcalloc(rq->n_ports + 1, sizeof(*ports));
    int *fds = ctr_xcalloc(rq->n_ports + 1, sizeof(int));
    size_t i = 0;
    int ret = -1;

    memcpy(ports, rq->ports, rq->n_ports * sizeof(*ports));
    if (net_ports_assign_free(ports, rq->n_ports, err) < 0) {
        (*err)->errnum = (*err)->errnum == EADDRNOTAVAIL ? EINVAL : EBUSY;
        goto out;
    }
    for (i = 0; i < rq->n_ports; i++) {
        const struct net_port_binding *p = &ports[i];
        int fd = bind_port(p);
        if (fd < 0) {
            int e = errno;
            char name[64];
            snprintf(name, sizeof(name), "%s:%u/%s", *p->host_ip ? p->host_ip : "0.0.0.0",
                     (unsigned)p->host_port, p->proto);
            if (e == EADDRINUSE)
                dmn_fail(err, EBUSY, "port %s is already in use", name);
            else if (e == EADDRNOTAVAIL)
                dmn_fail(err, EINVAL, "cannot publish port %s: the host has no address %s", name,
                         p->host_ip);
            else
                ctr_fail(err, e, "cannot publish port %s", name);
            break;
        }
        fds[i] = fd;
    }
    if (i == rq->n_ports) {
        *out = ports;
        ports = NULL;
        ret = 0;
    }
out:
    for (size_t j = 0; j < i; j++)
        close(fds[j]);
    free(fds);
    free(ports);
    return ret;
}

int dmn_netconf_attach(struct dmn *d, struct dmn_container *c, const struct dmn_netreq *rq,
                       ctr_error_t *err)
{
    struct dmn_endpoint *eps = ctr_xcalloc(rq->n_networks + 1, sizeof(*eps));
    struct net_port_binding *ports = NULL;
    size_t n = 0;

    if (rq->none)
        goto done;
    /* a network being removed meanwhile sees c (in the table, creating) once this ends */
    dmn_net_lock(d);
    if (dmn_networks_check(d, err) < 0)
        goto fail;
    for (size_t i = 0; i < rq->n_networks; i++) {
        if (join_one(d, c->id, rq->networks[i], &rq->eps[i], n, &eps[n], err) < 0)
            goto fail;
        bool dup = false;
        for (size_t j = 0; j < n; j++)
            dup = dup || strcmp(eps[j].net_id, eps[n].net_id) == 0;
        if (dup) /* the same network twice (a name and its id): one NIC, one address */
            endpoint_release(&eps[n]);
        else
            n++;
    }
    if (rq->n_ports && reserve_ports(rq, &ports, err) < 0)
        goto fail;
    dmn_lock(d);
    c->eps = eps;
    c->n_eps = n;
    c->ports = ports;
    c->n_ports = ports ? rq->n_ports : 0;
    dmn_unlock(d);
    dmn_net_unlock(d);
    return 0;
done:
    c->eps = eps;
    return 0;
fail:
    for (size_t j = 0; j < n; j++)
        release_one(d, c->id, &eps[j]);
    dmn_endpoints_free(eps, n);
    dmn_net_unlock(d);
    return -1;
}

int dmn_netconf_join(struct dmn *d, struct dmn_container *c, const char *network,
                     const struct dmn_epreq *rq, ctr_error_t *err)
{
    struct dmn_endpoint ep;

    if (dmn_networks_check(d, err) < 0)
        return -1;
    if (c->n_eps >= BUNDLE_MAX_NETS)
        return dmn_fail(err, EINVAL, "too many networks: a container joins %d at most",
                        BUNDLE_MAX_NETS);
    /* a TAP index not in use (a disconnect may have left a hole) */
    size_t index = 0;
    for (bool used = true; used; index += used) {
        used = false;
        for (size_t i = 0; i < c->n_eps; i++)
            used = used || c->eps[i].tap[14] == (char)('0' + index);
    }
    for (size_t i = 0; i < c->n_eps; i++) /* before join_one: a static address would move */
        if (strcmp(c->eps[i].net_id, network) == 0)
            return dmn_fail(err, EEXIST, "container %s is already connected to network %s", c->name,
                            c->eps[i].net_name);
    if (join_one(d, c->id, network, rq, index, &ep, err) < 0)
        return -1;
    for (size_t i = 0; i < c->n_eps; i++) {
        if (strcmp(c->eps[i].net_id, ep.net_id) == 0) {
            dmn_fail(err, EEXIST, "container %s is already connected to network %s", c->name,
                     ep.net_name);
            endpoint_release(&ep); /* the same owner got the same address: keep it */
            return -1;
        }
    }
    dmn_lock(d);
    c->eps = ctr_xrealloc(c->eps, (c->n_eps + 1) * sizeof(*c->eps));
    c->eps[c->n_eps++] = ep;
    dmn_unlock(d);
    return 0;
}

void dmn_netconf_release(struct dmn *d, struct dmn_container *c, const char *net_id)
{
    dmn_lock(d);
    for (size_t i = 0; i < c->n_eps;) {
        if (net_id && strcmp(c->eps[i].net_id, net_id) != 0) {
            i++;
            continue;
        }
        struct dmn_endpoint ep = c->eps[i];
        memmove(&c->eps[i], &c->eps[i + 1], (c->n_eps - i - 1) * sizeof(*c->eps));
        c->n_eps--;
        dmn_unlock(d);
        release_one(d, c->id, &ep);
        endpoint_release(&ep);
        dmn_lock(d);
    }
    dmn_unlock(d);
}
