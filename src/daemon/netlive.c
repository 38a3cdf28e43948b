/* Networks joined and left while a container runs. A microvm cannot hot-plug a NIC, so
 * a network joined live rides on one of the VM's NICs (the trunk): the guest adds the
 * network's address to that NIC (agent op `net`), the host forwards at ingress, between
 * the trunk's TAP and a veth pair into the network's bridge, the frames of that address
 * (`table netdev ctv…`, net_nft_splice). The bundle gets the network as a NIC of its own
 * for the next start. docs/network.md, "Live connect". */
#include "daemon/daemon-internal.h"
#include "net/net.h"
#include "shimc/shimc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define LINK_BASE 100 /* a live endpoint's id = LINK_BASE + its TAP index */

static char *cidr_str(const struct dmn_endpoint *ep)
{
    char a[NET_IP_STRLEN];
    net_ip_format(ep->addr, a, sizeof(a));
    return ctr_xasprintf("%s/%u", a, (unsigned)ep->prefix);
}

int dmn_netlive_join(struct dmn *d, struct dmn_container *c, ctr_error_t *err)
{
    struct dmn_endpoint *ep = &c->eps[c->n_eps - 1];
    const struct dmn_endpoint *trunk = NULL;
    cleanup_free char *address = NULL; /* before any goto: cleanups run at undo */
    cleanup_error ctr_error_t e2 = NULL;

    /* the trunk: a NIC the VM booted with (an endpoint joined live has none) */
    for (size_t i = 0; i + 1 < c->n_eps && trunk == NULL; i++)
        if (c->eps[i].vlan == 0 && net_link_exists(c->eps[i].tap))
            trunk = &c->eps[i];
    if (trunk == NULL)
        return dmn_fail(err, EBUSY,
                        "container %s is running without a network interface that could carry "
                        "network %s: restart it to join",
                        c->name, ep->net_name);
    uint16_t id = (uint16_t)(LINK_BASE + (ep->tap[14] - '0'));
    char vlink[16], inner[16];
    snprintf(vlink, sizeof(vlink), "ctv%.10s%c", c->id, ep->tap[14]);
    snprintf(inner, sizeof(inner), "ctw%.10s%c", c->id, ep->tap[14]);
    /* visible to dmn_netconf_hosts, to the save that follows and to the undo */
    ep->vlan = id;
    snprintf(ep->vlink, sizeof(ep->vlink), "%s", vlink);
    snprintf(ep->trunk, sizeof(ep->trunk), "%s", trunk->tap);
    snprintf(ep->trunk_mac, sizeof(ep->trunk_mac), "%s", trunk->mac);
    if (net_veth_add(vlink, inner, ep->bridge, ep->mtu, err) < 0 ||
        net_nft_splice(vlink, trunk->tap, inner, ep->addr, err) < 0)
        goto undo;
    address = cidr_str(ep);
    struct agent_net an = {.parent = (char *)trunk->mac,
                           .vlan = id,
                           .mac = ep->mac,
                           .address = address,
                           .mtu = ep->mtu};
    an.hosts = dmn_netconf_hosts(c, &e2);
    int r = shimc_net(c->bundle, &an, err);
    free(an.hosts);
    if (r < 0)
        goto undo;
    log_info("container %.12s joined network %s live: %s on %s (%s)", c->id, ep->net_name, address,
             trunk->tap, vlink);
    return 0;
undo:
    dmn_netconf_unsplice(ep);
    ep->vlan = 0;
    ep->vlink[0] = ep->trunk[0] = ep->trunk_mac[0] = '\0';
    return ctr_error_wrap(err, "connect container %s to network %s", c->name, ep->net_name);
}

int dmn_netlive_leave(struct dmn *d, struct dmn_container *c, const char *net_id, ctr_error_t *err)
{
    struct dmn_endpoint *ep = NULL;
    for (size_t i = 0; i < c->n_eps && ep == NULL; i++)
        if (strcmp(c->eps[i].net_id, net_id) == 0)
            ep = &c->eps[i];
    if (ep == NULL)
        return 0;
    cleanup_error ctr_error_t e = NULL;
    /* the host first: traffic stops even when the guest does not answer */
    if (ep->vlan)
        dmn_netconf_unsplice(ep);
    else if (net_link_set_master(ep->tap, NULL, &e) < 0)
        log_warn("container %.12s leaves network %s: %s", c->id, ep->net_name, e->msg);
    ctr_error_free(&e);
    cleanup_free char *address = cidr_str(ep);
    /* a network joined live: its address is on the trunk NIC */
    struct agent_net an = {.leave = true,
                           .parent = ep->vlan ? ep->trunk_mac : NULL,
                           .vlan = ep->vlan,
                           .mac = ep->mac,
                           .address = address};
    /* /etc/hosts without the network's aliases: computed with ep out of the list */
    size_t idx = (size_t)(ep - c->eps);
    struct dmn_endpoint keep = *ep;
    dmn_lock(d);
    memmove(&c->eps[idx], &c->eps[idx + 1], (c->n_eps - idx - 1) * sizeof(*c->eps));
    c->n_eps--;
    an.hosts = dmn_netconf_hosts(c, &e);
    ctr_error_free(&e);
    memmove(&c->eps[idx + 1], &c->eps[idx], (c->n_eps - idx) * sizeof(*c->eps));
    c->eps[idx] = keep;
    c->n_eps++;
    dmn_unlock(d);
    ep = &c->eps[idx];
    int r = shimc_net(c->bundle, &an, &e);
    free(an.hosts);
    if (r < 0) {
        if (dmn_shim_answers(c->bundle))
            return dmn_fail(err, EIO, "disconnect container %s from network %s: %s", c->name,
                            ep->net_name, e->msg);
        /* it stopped meanwhile: nothing left in the guest */
    }
    log_info("container %.12s left network %s live (%s)", c->id, ep->net_name,
             ep->vlan ? ep->vlink : ep->tap);
    return 0;
}
