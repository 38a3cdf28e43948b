/* The network service behind /networks: list, get, create, remove, prune, and
 * connect/disconnect of a container. Only the bridge driver, IPv4. A running container
 * joins a network as an address on one of its NICs (netlive.c): a microvm has no NIC hotplug. The
 * Docker edge is api/networks.c; the host side (bridges, nft, DNS) networks.c. docs/network.md. */
#include "daemon/daemon-internal.h"
#include "net/net.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void dmn_network_release(struct dmn_network *n)
{
    for (size_t i = 0; i < n->n_members; i++)
        free(n->members[i].name);
    free(n->members);
    net_network_release(&n->nw);
    memset(n, 0, sizeof(*n));
}

void dmn_networks_free(struct dmn_network *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dmn_network_release(&v[i]);
    free(v);
}

/* The containers with an address on the network (creating ones excepted). */
static void members_of(struct dmn *d, struct dmn_network *n)
{
    dmn_lock(d);
    for (size_t i = 0; i < d->n_ctrs; i++) {
        struct dmn_container *c = d->ctrs[i];
        if (c->creating)
            continue;
        for (size_t j = 0; j < c->n_eps; j++) {
            const struct dmn_endpoint *ep = &c->eps[j];
            if (strcmp(ep->net_id, n->nw.id) != 0)
                continue;
            n->members = ctr_xrealloc(n->members, (n->n_members + 1) * sizeof(*n->members));
            struct dmn_net_member *m = &n->members[n->n_members++];
            memset(m, 0, sizeof(*m));
            snprintf(m->id, sizeof(m->id), "%s", c->id);
            m->name = ctr_xstrdup(c->name);
            snprintf(m->mac, sizeof(m->mac), "%s", ep->mac);
            m->addr = ep->addr;
            m->prefix = ep->prefix;
        }
    }
    dmn_unlock(d);
}

/* Names of the containers attached to a network, ", "-separated; NULL when none
 * (under d->lock; creating containers count: they hold an address). */
static char *users_locked(struct dmn *d, const char *net_id)
{
    char *s = NULL;
    for (size_t i = 0; i < d->n_ctrs; i++) {
        struct dmn_container *c = d->ctrs[i];
        for (size_t j = 0; j < c->n_eps; j++) {
            if (strcmp(c->eps[j].net_id, net_id) != 0)
                continue;
            char *t = s ? ctr_xasprintf("%s, %s", s, c->name) : ctr_xstrdup(c->name);
            free(s);
            s = t;
        }
    }
    return s;
}

/* net_network_load with Docker's 404 message. */
static int load_network(struct dmn *d, const char *ref, struct net_network *nw, ctr_error_t *err)
{
    if (net_network_load(d->cfg.root, ref, nw, err) == 0)
        return 0;
    if ((*err)->errnum == ENOENT) {
        ctr_error_free(err);
        return dmn_fail(err, ENOENT, "network %s not found", ref);
    }
    return -1;
}

/* ---- list, get ---- */

int dmn_networks_list(struct dmn *d, struct dmn_network **out, size_t *n_out, ctr_error_t *err)
{
    struct net_network *v = NULL;
    size_t n = 0;

    if (net_network_list(d->cfg.root, &v, &n, err) < 0)
        return -1;
    struct dmn_network *o = ctr_xcalloc(n + 1, sizeof(*o));
    for (size_t i = 0; i < n; i++) {
        o[i].nw = v[i]; /* moved: v's entries are not released */
        members_of(d, &o[i]);
    }
    free(v);
    *out = o;
    *n_out = n;
    return 0;
}

int dmn_network_get(struct dmn *d, const char *ref, struct dmn_network *out, ctr_error_t *err)
{
    memset(out, 0, sizeof(*out));
    if (load_network(d, ref, &out->nw, err) < 0)
        return -1;
    members_of(d, out);
    return 0;
}

/* ---- create ---- */

int dmn_network_create(struct dmn *d, const struct dmn_network_spec *spec, char **id,
                       ctr_error_t *err)
{
    struct net_network nw = {0};
    static const char *const predefined[] = {NET_DEFAULT_NAME, NET_DEFAULT_ALIAS, "host", "none"};

    for (size_t i = 0; i < sizeof(predefined) / sizeof(predefined[0]); i++)
        if (strcmp(spec->name, predefined[i]) == 0) /* docker's 403 and words */
            return dmn_fail(err, DMN_EFORBIDDEN,
                            "operation is not permitted on predefined %s network", spec->name);
    dmn_net_lock(d);
    if (dmn_networks_check(d, err) < 0 ||
        net_network_create_range(d->cfg.root, spec->name, spec->subnet, spec->ip_range,
                                 spec->internal, (char **)spec->labels, (char **)spec->options, &nw,
                                 err) < 0)
        goto fail;
    if (net_bridge_ensure(nw.bridge, nw.gateway, nw.subnet.prefix, nw.mtu, err) < 0 ||
        dmn_networks_apply_nft(d, err) < 0) {
        ctr_error_t e2 = NULL;
        if (net_link_delete(nw.bridge, &e2) < 0 ||
            net_network_remove(d->cfg.root, nw.id, &e2) < 0 || dmn_networks_apply_nft(d, &e2) < 0) {
            log_warn("undoing network %s: %s", spec->name, e2->msg);
            ctr_error_free(&e2);
        }
        goto fail;
    }
    ctr_error_t e3 = NULL;
    if (dmn_dns_start(d, &nw, &e3) < 0) {
        log_error("%s", e3->msg); /* the network works without names */
        ctr_error_free(&e3);
    }
    dmn_net_unlock(d);
    char sub[NET_CIDR_STRLEN];
    net_cidr_format(&nw.subnet, sub, sizeof(sub));
    log_info("network %s created: subnet %s, bridge %s%s", nw.name, sub, nw.bridge,
             nw.internal ? ", internal" : "");
    dmn_lock(d);
    dmn_event_emit_locked(d, "network", "create", nw.id,
                          json_pack("{s:s,s:s}", "name", nw.name, "type", "bridge"));
    dmn_unlock(d);
    *id = ctr_xstrdup(nw.id);
    net_network_release(&nw);
    return 0;
fail:
    dmn_net_unlock(d);
    net_network_release(&nw);
    return -1;
}

/* ---- remove, prune ---- */

/* Under net_lock. Refuses the default network (DMN_EFORBIDDEN, Docker's 403) and one in
 * use (EBUSY). */
static int remove_network(struct dmn *d, const struct net_network *nw, ctr_error_t *err)
{
    if (strcmp(nw->name, NET_DEFAULT_NAME) == 0)
        return dmn_fail(err, DMN_EFORBIDDEN, "%s is a pre-defined network and cannot be removed",
                        nw->name);
    dmn_lock(d);
    cleanup_free char *users = users_locked(d, nw->id);
    dmn_unlock(d);
    if (users)
        return dmn_fail(err, EBUSY,
                        "error while removing network: network %s id %s has active endpoints "
                        "(containers: %s)",
                        nw->name, nw->id, users);
    dmn_dns_stop(d, nw->id);
    if (net_link_delete(nw->bridge, err) < 0 || net_network_remove(d->cfg.root, nw->id, err) < 0)
        return -1;
    if (dmn_networks_apply_nft(d, err) < 0)
        return ctr_error_wrap(err, "network %s removed, but its nft rules stay", nw->name);
    log_info("network %s removed (bridge %s deleted)", nw->name, nw->bridge);
    dmn_lock(d);
    dmn_event_emit_locked(d, "network", "destroy", nw->id,
                          json_pack("{s:s,s:s}", "name", nw->name, "type", "bridge"));
    dmn_unlock(d);
    return 0;
}

int dmn_network_remove(struct dmn *d, const char *ref, ctr_error_t *err)
{
    struct net_network nw = {0};

    dmn_net_lock(d);
    int ret = load_network(d, ref, &nw, err);
    if (ret == 0)
        ret = remove_network(d, &nw, err);
    dmn_net_unlock(d);
    net_network_release(&nw);
    return ret;
}

int dmn_networks_prune(struct dmn *d, bool (*match)(const struct net_network *nw, void *ctx),
                       void *ctx, char ***deleted, ctr_error_t *err)
{
    struct net_network *v = NULL;
    size_t n = 0;

    dmn_net_lock(d);
    if (net_network_list(d->cfg.root, &v, &n, err) < 0) {
        dmn_net_unlock(d);
        return -1;
    }
    char **out = ctr_xcalloc(1, sizeof(char *));
    for (size_t i = 0; i < n; i++) {
        if (strcmp(v[i].name, NET_DEFAULT_NAME) == 0 || !match(&v[i], ctx))
            continue;
        dmn_lock(d);
        cleanup_free char *users = users_locked(d, v[i].id);
        dmn_unlock(d);
        if (users)
            continue;
        ctr_error_t e = NULL;
        if (remove_network(d, &v[i], &e) < 0) {
            log_warn("prune: %s", e->msg);
            ctr_error_free(&e);
            continue;
        }
        ctr_strv_append(&out, v[i].name);
    }
    dmn_net_unlock(d);
    net_network_list_free(v, n);
    *deleted = out;
    return 0;
}

/* ---- connect, disconnect ---- */

/* The container ref with op_lock held; *running tells whether its VM runs (a paused or
 * starting one is refused: EBUSY). */
static struct dmn_container *op_container(struct dmn *d, const char *ref, bool *running,
                                          ctr_error_t *err)
{
    struct dmn_container *c = dmn_container_get(d, ref, err);
    if (c == NULL)
        return NULL;
    dmn_op_lock(c);
    dmn_lock(d);
    *running = c->status == DMN_RUNNING;
    bool starting = c->status == DMN_STARTING, paused = *running && c->paused;
    bool gone = c->removed || c->status == DMN_REMOVING;
    dmn_unlock(d);
    if (starting || paused || gone) {
        dmn_op_unlock(c);
        dmn_fail(err, EBUSY,
                 gone       ? "container %s is being removed"
                 : starting ? "container %s is starting: try again once it runs"
                            : "container %s is paused: unpause it to change its networks",
                 c->name);
        dmn_container_put(d, c);
        return NULL;
    }
    return c;
}

static void save_and_event(struct dmn *d, struct dmn_container *c, const struct net_network *nw,
                           const char *action)
{
    dmn_lock(d);
    dmn_container_save_locked(d, c, NULL);
    dmn_event_emit_locked(
        d, "network", action, nw->id,
        json_pack("{s:s,s:s,s:s}", "container", c->id, "name", nw->name, "type", "bridge"));
    dmn_unlock(d);
}

int dmn_network_connect(struct dmn *d, const char *network, const char *ctr_ref,
                        const struct dmn_epreq *rq, ctr_error_t *err)
{
    struct net_network nw = {0};
    bool running;
    struct dmn_container *c = op_container(d, ctr_ref, &running, err);

    if (c == NULL)
        return -1;
    const char *nm = json_string_value(json_object_get(c->host_config, "NetworkMode"));
    dmn_net_lock(d);
    if (nm && strcmp(nm, "none") == 0)
        dmn_fail(err, EBUSY, "container %s uses network `none`: it cannot join a network", c->name);
    else if (load_network(d, network, &nw, err) < 0)
        ;
    else if (dmn_netconf_join(d, c, nw.id, rq, err) == 0 &&
             (dmn_netconf_rewrite(c, err) < 0 || (running && dmn_netlive_join(d, c, err) < 0))) {
        ctr_error_t e2 = NULL;
        dmn_netconf_release(d, c, nw.id);
        if (dmn_netconf_rewrite(c, &e2) < 0)
            ctr_error_free(&e2);
    }
    dmn_net_unlock(d);
    bool ok = *err == NULL;
    if (ok) {
        save_and_event(d, c, &nw, "connect");
        log_info("container %.12s connected to network %s", c->id, nw.name);
    }
    dmn_op_unlock(c);
    dmn_container_put(d, c);
    net_network_release(&nw);
    return ok ? 0 : -1;
}

int dmn_network_disconnect(struct dmn *d, const char *network, const char *ctr_ref,
                           ctr_error_t *err)
{
    struct net_network nw = {0};
    bool running;
    struct dmn_container *c = op_container(d, ctr_ref, &running, err);

    if (c == NULL)
        return -1;
    dmn_net_lock(d);
    if (load_network(d, network, &nw, err) == 0) {
        size_t i;
        for (i = 0; i < c->n_eps && strcmp(c->eps[i].net_id, nw.id) != 0; i++)
            ;
        if (i == c->n_eps)
            dmn_fail(err, EBUSY, "container %s is not connected to network %s", c->name, nw.name);
        else if (running && dmn_netlive_leave(d, c, nw.id, err) < 0)
            ;
        else {
            dmn_netconf_release(d, c, nw.id);
            if (dmn_netconf_rewrite(c, err) < 0)
                ctr_error_wrap(err, "disconnected, but the bundle was not updated");
            save_and_event(d, c, &nw, "disconnect");
            log_info("container %.12s disconnected from network %s", c->id, nw.name);
        }
    }
    dmn_net_unlock(d);
    dmn_op_unlock(c);
    dmn_container_put(d, c);
    net_network_release(&nw);
    return *err ? -1 : 0;
}
