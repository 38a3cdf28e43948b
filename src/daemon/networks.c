/* The networks' host side, owned by the daemon: at start the default network
 * (`default`, alias `bridge`), every stored network's bridge, the `inet container`
 * nft table, IP forwarding and one DNS server per network on its gateway; at exit
 * the DNS servers stop, and with no container running the bridges and the table go
 * too. The store and the kernel objects are src/net's; /networks is netapi.c (its
 * Docker edge: api/networks.c). docs/network.md. */
#include "daemon/daemon-internal.h"
#include "net/dns.h"
#include "net/net.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct dmn_dns {
    struct dmn *d;
    char net_id[NET_ID_LEN + 1];
    struct net_dns_server *srv;
};

int dmn_networks_check(struct dmn *d, ctr_error_t *err)
{
    if (d->net_error == NULL)
        return 0;
    return dmn_fail(err, EHOSTUNREACH,
                    "networking is unavailable: %s; create the container with `--network "
                    "none`, or fix the cause and restart the daemon",
                    d->net_error);
}

static bool dns_visible(const struct dmn_container *c)
{
    return !c->creating && !c->removed && (c->status == DMN_RUNNING || c->status == DMN_STARTING);
}

/* The addresses of the running containers that have name on network net_id (under
 * d->lock). Several containers may share an alias. */
static size_t names_on_locked(struct dmn *d, const char *net_id, const char *name, uint32_t *addrs,
                              size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < d->n_ctrs && n < max; i++) {
        uint32_t a;
        if (dns_visible(d->ctrs[i]) && dmn_netconf_has_name(d->ctrs[i], net_id, name, &a))
            addrs[n++] = a;
    }
    return n;
}

/* The names for one network's DNS server: running containers attached to it (name,
 * aliases, hostname, short id). A client that is a container on more networks also
 * finds the names of its other networks, in its networks' order, as docker's resolver:
 * the first network that knows the name answers. */
static size_t dns_lookup(void *ctx, uint32_t client, const char *name, uint32_t *addrs, size_t max)
{
    struct dmn_dns *s = ctx;
    struct dmn *d = s->d;
    const struct dmn_container *me = NULL;

    dmn_lock(d);
    size_t n = names_on_locked(d, s->net_id, name, addrs, max);
    for (size_t i = 0; i < d->n_ctrs && n == 0 && me == NULL && client; i++) {
        struct dmn_container *c = d->ctrs[i];
        for (size_t j = 0; dns_visible(c) && j < c->n_eps && me == NULL; j++)
            if (c->eps[j].addr == client && strcmp(c->eps[j].net_id, s->net_id) == 0)
                me = c;
    }
    for (size_t j = 0; me && n == 0 && j < me->n_eps; j++)
        if (strcmp(me->eps[j].net_id, s->net_id) != 0)
            n = names_on_locked(d, me->eps[j].net_id, name, addrs, max);
    dmn_unlock(d);
    return n;
}

int dmn_dns_start(struct dmn *d, const struct net_network *nw, ctr_error_t *err)
{
    struct dmn_dns *s = ctr_xcalloc(1, sizeof(*s));
    s->d = d;
    snprintf(s->net_id, sizeof(s->net_id), "%s", nw->id);
    if (net_dns_start(nw->gateway, 53, dns_lookup, s, d->dns_upstream, &s->srv, err) < 0) {
        free(s);
        return ctr_error_wrap(err, "DNS server of network %s", nw->name);
    }
    d->dns = ctr_xrealloc(d->dns, (d->n_dns + 1) * sizeof(*d->dns));
    d->dns[d->n_dns++] = s;
    return 0;
}

/* The server's thread takes d->lock in lookups: never stop it holding d->lock. */
void dmn_dns_stop(struct dmn *d, const char *net_id)
{
    for (size_t i = 0; i < d->n_dns;) {
        if (net_id && strcmp(d->dns[i]->net_id, net_id) != 0) {
            i++;
            continue;
        }
        net_dns_stop(d->dns[i]->srv);
        free(d->dns[i]);
        memmove(&d->dns[i], &d->dns[i + 1], (d->n_dns - i - 1) * sizeof(*d->dns));
        d->n_dns--;
    }
}

int dmn_networks_apply_nft(struct dmn *d, ctr_error_t *err)
{
    struct net_network *v = NULL;
    size_t n = 0;
    if (net_network_list(d->cfg.root, &v, &n, err) < 0)
        return -1;
    struct net_nft_network *nn = ctr_xcalloc(n + 1, sizeof(*nn));
    for (size_t i = 0; i < n; i++) {
        nn[i].bridge = v[i].bridge;
        nn[i].subnet = v[i].subnet;
        nn[i].internal = v[i].internal;
        nn[i].no_masquerade = v[i].no_masquerade;
    }
    int ret = net_nft_apply(nn, n, err);
    free(nn);
    net_network_list_free(v, n);
    return ret;
}

static int ensure_default(struct dmn *d, ctr_error_t *err)
{
    struct net_network nw = {0};
    char sub[NET_CIDR_STRLEN];

    if (net_network_load(d->cfg.root, NET_DEFAULT_NAME, &nw, err) == 0) {
        net_cidr_format(&nw.subnet, sub, sizeof(sub));
        if (d->cfg.default_subnet) {
            struct net_cidr want;
            if (net_cidr_parse(d->cfg.default_subnet, &want, NULL) == 0 &&
                (want.addr != nw.subnet.addr || want.prefix != nw.subnet.prefix))
                log_warn("the default network keeps its subnet %s (made earlier); "
                         "`--default-subnet %s` applies to a new data root",
                         sub, d->cfg.default_subnet);
        }
        net_network_release(&nw);
        return 0;
    }
    if ((*err)->errnum != ENOENT)
        return -1;
    ctr_error_free(err);
    if (net_network_create(d->cfg.root, NET_DEFAULT_NAME, d->cfg.default_subnet, false, NULL, NULL,
                           &nw, err) < 0)
        return ctr_error_wrap(err, "create the default network");
    net_cidr_format(&nw.subnet, sub, sizeof(sub));
    if (d->cfg.default_subnet == NULL && strcmp(sub, "192.168.64.0/24") != 0)
        log_info("default network: 192.168.64.0/24 overlaps a route or network of the host, "
                 "so it uses %s",
                 sub);
    log_info("default network created: subnet %s, bridge %s", sub, nw.bridge);
    net_network_release(&nw);
    return 0;
}

/* Addresses whose container is gone (a create cut short by a crash) go back to the
 * pool. Runs before the API serves: no create is under way. */
static void ipam_collect(struct dmn *d, const struct net_network *nw)
{
    struct net_ipam_entry *e = NULL;
    size_t n = 0;
    ctr_error_t err = NULL;

    if (net_ipam_list(d->cfg.root, nw, &e, &n, &err) < 0) {
        log_warn("network %s: %s", nw->name, err->msg);
        ctr_error_free(&err);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        bool known = false;
        dmn_lock(d);
        for (size_t j = 0; j < d->n_ctrs && !known; j++)
            for (size_t k = 0; k < d->ctrs[j]->n_eps && !known; k++)
                known = strcmp(d->ctrs[j]->id, e[i].owner) == 0 &&
                        strcmp(d->ctrs[j]->eps[k].net_id, nw->id) == 0;
        dmn_unlock(d);
        if (known)
            continue;
        char a[NET_IP_STRLEN];
        net_ip_format(e[i].addr, a, sizeof(a));
        if (net_ipam_release(d->cfg.root, nw, e[i].owner, &err) < 0) {
            log_warn("network %s: %s", nw->name, err->msg);
            ctr_error_free(&err);
        } else {
            log_info("network %s: address %s of a container that no longer exists (%.12s) "
                     "released",
                     nw->name, a, e[i].owner);
        }
    }
    net_ipam_list_free(e, n);
}

static int setup_all(struct dmn *d, ctr_error_t *err)
{
    struct net_network *v = NULL;
    size_t n = 0;
    int ret = -1;

    if (ensure_default(d, err) < 0 || net_network_list(d->cfg.root, &v, &n, err) < 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (net_bridge_ensure(v[i].bridge, v[i].gateway, v[i].subnet.prefix, v[i].mtu, err) < 0) {
            ctr_error_wrap(err, "bridge %s of network %s", v[i].bridge, v[i].name);
            goto out;
        }
    }
    if (dmn_networks_apply_nft(d, err) < 0 || net_ip_forward_enable(err) < 0)
        goto out;
    for (size_t i = 0; i < n; i++) {
        ctr_error_t e2 = NULL;
        ipam_collect(d, &v[i]);
        /* without its DNS server a network still carries traffic: names fail to resolve */
        if (dmn_dns_start(d, &v[i], &e2) < 0) {
            log_error("%s", e2->msg);
            ctr_error_free(&e2);
        }
        char sub[NET_CIDR_STRLEN];
        net_cidr_format(&v[i].subnet, sub, sizeof(sub));
        log_info("network %s: bridge %s, subnet %s%s", v[i].name, v[i].bridge, sub,
                 v[i].internal ? ", internal" : "");
    }
    ret = 0;
out:
    net_network_list_free(v, n);
    return ret;
}

void dmn_networks_init(struct dmn *d)
{
    ctr_error_t err = NULL;
    const char *up = getenv("CONTAINER_DNS_UPSTREAM");

    d->dns_upstream = ctr_xstrdup(up && *up ? up : "/etc/resolv.conf");
    dmn_net_lock(d);
    if (setup_all(d, &err) < 0) {
        d->net_error = ctr_error_take_msg(&err);
        log_error("networking is unavailable: %s; only `--network none` containers can be "
                  "created",
                  d->net_error);
    }
    dmn_net_unlock(d);
}

void dmn_networks_shutdown(struct dmn *d)
{
    struct net_network *v = NULL;
    size_t n = 0;
    ctr_error_t err = NULL;
    bool running = false;

    dmn_net_lock(d);
    dmn_dns_stop(d, NULL);
    dmn_lock(d);
    for (size_t i = 0; i < d->n_ctrs; i++)
        running =
            running || d->ctrs[i]->status == DMN_RUNNING || d->ctrs[i]->status == DMN_STARTING;
    dmn_unlock(d);
    /* Running containers keep their bridges and NAT after the daemon; otherwise
     * nothing of ours stays on the host (the next start makes it all again). */
    if (!running && d->net_error == NULL) {
        if (net_network_list(d->cfg.root, &v, &n, &err) == 0) {
            for (size_t i = 0; i < n; i++)
                if (net_link_delete(v[i].bridge, &err) < 0) {
                    log_warn("%s", err->msg);
                    ctr_error_free(&err);
                }
            net_network_list_free(v, n);
        }
        if (err == NULL && net_nft_apply(NULL, 0, &err) == 0)
            log_info("no container runs: bridges and the nft table removed");
        if (err) {
            log_warn("network cleanup: %s", err->msg);
            ctr_error_free(&err);
        }
    }
    dmn_net_unlock(d);
}
