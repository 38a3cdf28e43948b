/* Networks joined and left while a container runs. A microvm cannot hot-plug a NIC, so
 * a network joined live rides as an 802.1Q VLAN on the TAP of one of the VM's NICs (the
 * trunk): on the host a VLAN link of that TAP on the network's bridge, in the guest a
 * VLAN interface on the NIC with the endpoint's MAC, address and MTU (agent op `net`).
 * The bundle gets the network as a NIC of its own for the next start. docs/network.md,
 * "Live connect". */
#include "daemon/daemon-internal.h"
#include "net/net.h"
#include "shimc/shimc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define VLAN_BASE 100 /* VLAN id = VLAN_BASE + the endpoint's TAP index */

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

    /* the trunk: a NIC the VM booted with (an endpoint joined live is a VLAN itself) */
    for (size_t i = 0; i + 1 < c->n_eps && trunk == NULL; i++)
        if (c->eps[i].vlan == 0 && net_link_exists(c->eps[i].tap))
            trunk = &c->eps[i];
    if (trunk == NULL)
        return dmn_fail(err, EBUSY,
                        "container %s is running without a network interface that could carry "
                        "network %s: restart it to join",
                        c->name, ep->net_name);
    uint16_t vid = (uint16_t)(VLAN_BASE + (ep->tap[14] - '0'));
    char vlink[16];
    snprintf(vlink, sizeof(vlink), "ctv%.10s%c", c->id, ep->tap[14]);
    if (net_vlan_add(trunk->tap, vlink, vid, ep->bridge, ep->mtu, err) < 0)
        return ctr_error_wrap(err, "connect container %s to network %s", c->name, ep->net_name);
    /* visible to dmn_netconf_hosts and to the save that follows */
    ep->vlan = vid;
    snprintf(ep->vlink, sizeof(ep->vlink), "%s", vlink);
    snprintf(ep->trunk, sizeof(ep->trunk), "%s", trunk->tap);
    cleanup_free char *address = cidr_str(ep);
    struct agent_net an = {.parent = (char *)trunk->mac,
                           .vlan = vid,
                           .mac = ep->mac,
                           .address = address,
                           .mtu = ep->mtu};
    cleanup_error ctr_error_t e2 = NULL;
    an.hosts = dmn_netconf_hosts(c, &e2);
    int r = shimc_net(c->bundle, &an, err);
    free(an.hosts);
    if (r < 0) {
        ctr_error_t e3 = NULL;
        if (net_link_delete(vlink, &e3) < 0)
            ctr_error_free(&e3);
        ep->vlan = 0;
        ep->vlink[0] = ep->trunk[0] = '\0';
        return ctr_error_wrap(err, "connect container %s to network %s", c->name, ep->net_name);
    }
    log_info("container %.12s joined network %s live: VLAN %u on %s (%s)", c->id, ep->net_name,
             (unsigned)vid, trunk->tap, vlink);
    return 0;
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
    if (ep->vlan ? net_link_delete(ep->vlink, &e) < 0 : net_link_set_master(ep->tap, NULL, &e) < 0)
        log_warn("container %.12s leaves network %s: %s", c->id, ep->net_name, e->msg);
    ctr_error_free(&e);
    cleanup_free char *address = cidr_str(ep);
    struct agent_net an = {.leave = true, .vlan = ep->vlan, .mac = ep->mac, .address = address};
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
