/* /networks: Docker's list, inspect, create, delete, prune, connect and
 * disconnect. Only the bridge driver, IPv4. connect/disconnect change a stopped
 * container only: a microvm has no NIC hotplug. docs/api.md, docs/network.md. */
#include "daemon/api/api.h"
#include "net/net.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static json_t *network_json(struct dmn *d, const struct net_network *nw)
{
    char sub[NET_CIDR_STRLEN], gw[NET_IP_STRLEN];
    cleanup_free char *created = dmn_time_rfc3339(nw->created_ns);
    json_t *ctrs = json_object();

    net_cidr_format(&nw->subnet, sub, sizeof(sub));
    net_ip_format(nw->gateway, gw, sizeof(gw));
    pthread_mutex_lock(&d->lock);
    for (size_t i = 0; i < d->n_ctrs; i++) {
        struct dmn_container *c = d->ctrs[i];
        if (c->creating)
            continue;
        for (size_t j = 0; j < c->n_eps; j++) {
            const struct dmn_endpoint *ep = &c->eps[j];
            if (strcmp(ep->net_id, nw->id) != 0)
                continue;
            char a[NET_IP_STRLEN];
            net_ip_format(ep->addr, a, sizeof(a));
            cleanup_free char *cidr = ctr_xasprintf("%s/%u", a, (unsigned)ep->prefix);
            cleanup_free char *epid = ctr_xasprintf("%.32s%.32s", ep->net_id, c->id);
            json_object_set_new(ctrs, c->id,
                                json_pack("{s:s,s:s,s:s,s:s,s:s}", "Name", c->name, "EndpointID",
                                          epid, "MacAddress", ep->mac, "IPv4Address", cidr,
                                          "IPv6Address", ""));
        }
    }
    pthread_mutex_unlock(&d->lock);
    return json_pack("{s:s,s:s,s:s,s:s,s:s,s:b,s:{s:s,s:n,s:[{s:s,s:s}]},s:b,s:b,s:b,s:{s:s},"
                     "s:b,s:o,s:{s:s,s:s},s:o}",
                     "Name", nw->name, "Id", nw->id, "Created", created, "Scope", "local", "Driver",
                     "bridge", "EnableIPv6", 0, "IPAM", "Driver", "default", "Options", "Config",
                     "Subnet", sub, "Gateway", gw, "Internal", nw->internal, "Attachable", 0,
                     "Ingress", 0, "ConfigFrom", "Network", "", "ConfigOnly", 0, "Containers", ctrs,
                     "Options", "com.docker.network.bridge.name", nw->bridge,
                     "com.docker.network.driver.mtu", "1500", "Labels",
                     bundle_volume_kv_json(nw->labels));
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

static int reply_load_error(struct api_req *r, const char *ref, ctr_error_t *err)
{
    if ((*err)->errnum == ENOENT) {
        ctr_error_free(err);
        return api_reply_error(r, 404, "network %s not found", ref);
    }
    return api_reply_ctr_error(r, err);
}

/* ---- list, inspect ---- */

static bool match_name(const char *v, void *ctx)
{
    return strstr(((struct net_network *)ctx)->name, v) != NULL;
}
static bool match_id(const char *v, void *ctx)
{
    return strncmp(((struct net_network *)ctx)->id, v, strlen(v)) == 0;
}
static bool match_driver(const char *v, void *ctx)
{
    return strcmp(v, "bridge") == 0;
}
static bool match_scope(const char *v, void *ctx)
{
    return strcmp(v, "local") == 0;
}
static bool match_type(const char *v, void *ctx)
{
    bool builtin = strcmp(((struct net_network *)ctx)->name, NET_DEFAULT_NAME) == 0;
    return strcmp(v, builtin ? "builtin" : "custom") == 0;
}

int api_handle_networks_list(struct api_req *r)
{
    static const char *const allowed[] = {"name",  "id",   "label",    "driver",
                                          "scope", "type", "dangling", NULL};
    struct dmn_filters f = {0};
    ctr_error_t err = NULL;
    struct net_network *v = NULL;
    size_t n = 0;

    if (dmn_filters_parse(api_query(r, "filters"), &f, &err) < 0 ||
        dmn_filters_check(&f, allowed, &err) < 0 ||
        net_network_list(r->d->cfg.root, &v, &n, &err) < 0) {
        dmn_filters_release(&f);
        return api_reply_ctr_error(r, &err);
    }
    json_t *out = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *j = network_json(r->d, &v[i]);
        json_t *dangling = json_object_get(f.f, "dangling");
        if (json_array_size(dangling)) {
            const char *want = json_string_value(json_array_get(dangling, 0));
            bool used = json_object_size(json_object_get(j, "Containers")) > 0 ||
                        strcmp(v[i].name, NET_DEFAULT_NAME) == 0;
            if ((strcmp(want, "true") == 0 || strcmp(want, "1") == 0) == used) {
                json_decref(j);
                continue;
            }
        }
        if (!dmn_filters_any(&f, "name", match_name, &v[i]) ||
            !dmn_filters_any(&f, "id", match_id, &v[i]) ||
            !dmn_filters_any(&f, "driver", match_driver, &v[i]) ||
            !dmn_filters_any(&f, "scope", match_scope, &v[i]) ||
            !dmn_filters_any(&f, "type", match_type, &v[i]) ||
            !dmn_filters_labels(&f, json_object_get(j, "Labels"))) {
            json_decref(j);
            continue;
        }
        json_array_append_new(out, j);
    }
    net_network_list_free(v, n);
    dmn_filters_release(&f);
    return api_reply_json(r, 200, out);
}

int api_handle_network_inspect(struct api_req *r)
{
    struct net_network nw = {0};
    ctr_error_t err = NULL;
    if (net_network_load(r->d->cfg.root, r->params[0], &nw, &err) < 0)
        return reply_load_error(r, r->params[0], &err);
    json_t *j = network_json(r->d, &nw);
    net_network_release(&nw);
    return api_reply_json(r, 200, j);
}

/* ---- create ---- */

static int create_checks(json_t *body, const char **subnet, ctr_error_t *err)
{
    const char *drv = json_string_value(json_object_get(body, "Driver"));
    json_t *ipam = json_object_get(body, "IPAM");
    json_t *cfgs = json_object_get(ipam, "Config");
    json_t *labels = json_object_get(body, "Labels");
    const char *k;
    json_t *v;

    *subnet = NULL;
    if (!json_is_string(json_object_get(body, "Name")))
        return dmn_fail(err, EINVAL, "`Name` is missing: name the network");
    if (drv && *drv && strcmp(drv, "bridge") != 0)
        return dmn_fail(err, EINVAL, "network driver `%s` is not supported: only `bridge`", drv);
    if (json_is_true(json_object_get(body, "EnableIPv6")))
        return dmn_fail(err, EINVAL, "IPv6 networks are not supported (IPv4 only)");
    if (json_is_true(json_object_get(body, "Ingress")) ||
        json_is_true(json_object_get(body, "ConfigOnly")))
        return dmn_fail(err, EINVAL, "swarm networks (`Ingress`, `ConfigOnly`) are not supported");
    const char *idrv = json_string_value(json_object_get(ipam, "Driver"));
    if (idrv && *idrv && strcmp(idrv, "default") != 0)
        return dmn_fail(err, EINVAL, "IPAM driver `%s` is not supported: only `default`", idrv);
    if (json_array_size(cfgs) > 1)
        return dmn_fail(err, EINVAL, "one IPAM config (one IPv4 subnet) per network at most");
    json_t *c0 = json_array_get(cfgs, 0);
    if (c0) {
        const char *sub = json_string_value(json_object_get(c0, "Subnet"));
        const char *gw = json_string_value(json_object_get(c0, "Gateway"));
        const char *range = json_string_value(json_object_get(c0, "IPRange"));
        struct net_cidr cidr;
        uint32_t gwa;
        if (range && *range)
            return dmn_fail(err, EINVAL, "`IPRange` is not supported: the whole subnet is used");
        if (json_object_size(json_object_get(c0, "AuxiliaryAddresses")))
            return dmn_fail(err, EINVAL, "`AuxiliaryAddresses` is not supported");
        if (sub && *sub) {
            if (strchr(sub, ':'))
                return dmn_fail(err, EINVAL, "subnet `%s` is IPv6: only IPv4 is supported", sub);
            if (net_cidr_parse(sub, &cidr, err) < 0) {
                (*err)->errnum = EINVAL;
                return -1;
            }
            *subnet = sub;
        }
        if (gw && *gw) {
            if (*subnet == NULL)
                return dmn_fail(err, EINVAL, "a `Gateway` needs its `Subnet`");
            if (net_ip_parse(gw, &gwa, NULL) < 0 ||
                gwa != (cidr.addr & net_cidr_mask(cidr.prefix)) + 1) {
                char want[NET_IP_STRLEN];
                net_ip_format((cidr.addr & net_cidr_mask(cidr.prefix)) + 1, want, sizeof(want));
                return dmn_fail(err, EINVAL,
                                "gateway `%s`: the gateway is the subnet's first address (%s)", gw,
                                want);
            }
        }
    }
    if (labels && !json_is_null(labels)) {
        if (!json_is_object(labels))
            return dmn_fail(err, EINVAL, "`Labels` must be an object of strings");
        json_object_foreach(labels, k, v)
        {
            if (!json_is_string(v))
                return dmn_fail(err, EINVAL, "`Labels.%s` must be a string", k);
        }
    }
    return 0;
}

int api_handle_network_create(struct api_req *r)
{
    struct dmn *d = r->d;
    ctr_error_t err = NULL;
    struct net_network nw = {0};
    cleanup_strv char **labels = ctr_xcalloc(1, sizeof(char *));
    const char *subnet, *k;
    json_t *v;
    json_t *body = api_body_json(r, &err);

    if (body == NULL)
        return api_reply_ctr_error(r, &err);
    if (!json_is_object(body)) {
        json_decref(body);
        return api_reply_error(r, 400, "the network config must be a JSON object");
    }
    if (dmn_network_config_check(body, &err) < 0 || create_checks(body, &subnet, &err) < 0) {
        json_decref(body);
        return api_reply_ctr_error(r, &err);
    }
    const char *name = json_string_value(json_object_get(body, "Name"));
    json_object_foreach(json_object_get(body, "Labels"), k, v)
    {
        cleanup_free char *kv = ctr_xasprintf("%s=%s", k, json_string_value(v));
        ctr_strv_append(&labels, kv);
    }
    pthread_mutex_lock(&d->net_lock);
    if (dmn_networks_check(d, &err) < 0 ||
        net_network_create(d->cfg.root, name, subnet,
                           json_is_true(json_object_get(body, "Internal")), labels, &nw, &err) < 0)
        goto fail;
    if (net_bridge_ensure(nw.bridge, nw.gateway, nw.subnet.prefix, NET_DEFAULT_MTU, &err) < 0 ||
        dmn_networks_apply_nft(d, &err) < 0) {
        ctr_error_t e2 = NULL;
        if (net_link_delete(nw.bridge, &e2) < 0 ||
            net_network_remove(d->cfg.root, nw.id, &e2) < 0 || dmn_networks_apply_nft(d, &e2) < 0) {
            log_warn("undoing network %s: %s", name, e2->msg);
            ctr_error_free(&e2);
        }
        goto fail;
    }
    if (dmn_dns_start(d, &nw, &err) < 0) {
        log_error("%s", err->msg); /* the network works without names */
        ctr_error_free(&err);
    }
    pthread_mutex_unlock(&d->net_lock);
    char sub[NET_CIDR_STRLEN];
    net_cidr_format(&nw.subnet, sub, sizeof(sub));
    log_info("network %s created: subnet %s, bridge %s%s", nw.name, sub, nw.bridge,
             nw.internal ? ", internal" : "");
    pthread_mutex_lock(&d->lock);
    dmn_event_emit_locked(d, "network", "create", nw.id,
                          json_pack("{s:s,s:s}", "name", nw.name, "type", "bridge"));
    pthread_mutex_unlock(&d->lock);
    api_reply_json(r, 201, json_pack("{s:s,s:s}", "Id", nw.id, "Warning", ""));
    net_network_release(&nw);
    json_decref(body);
    return 0;
fail:
    pthread_mutex_unlock(&d->net_lock);
    net_network_release(&nw);
    json_decref(body);
    return api_reply_ctr_error(r, &err);
}

/* ---- delete, prune ---- */

/* Under net_lock. Refuses the default network (EPERM) and one in use (EBUSY). */
static int remove_network(struct dmn *d, const struct net_network *nw, ctr_error_t *err)
{
    if (strcmp(nw->name, NET_DEFAULT_NAME) == 0)
        return dmn_fail(err, EPERM, "%s is a pre-defined network and cannot be removed", nw->name);
    pthread_mutex_lock(&d->lock);
    cleanup_free char *users = users_locked(d, nw->id);
    pthread_mutex_unlock(&d->lock);
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
    pthread_mutex_lock(&d->lock);
    dmn_event_emit_locked(d, "network", "destroy", nw->id,
                          json_pack("{s:s,s:s}", "name", nw->name, "type", "bridge"));
    pthread_mutex_unlock(&d->lock);
    return 0;
}

int api_handle_network_delete(struct api_req *r)
{
    struct dmn *d = r->d;
    struct net_network nw = {0};
    ctr_error_t err = NULL;

    pthread_mutex_lock(&d->net_lock);
    if (net_network_load(d->cfg.root, r->params[0], &nw, &err) < 0) {
        pthread_mutex_unlock(&d->net_lock);
        return reply_load_error(r, r->params[0], &err);
    }
    int ret = remove_network(d, &nw, &err);
    pthread_mutex_unlock(&d->net_lock);
    net_network_release(&nw);
    if (ret == 0)
        return api_reply_empty(r, 204);
    if (err->errnum == EPERM) { /* docker's 403 for its pre-defined networks */
        api_reply_error(r, 403, "%s", err->msg);
        ctr_error_free(&err);
        return 0;
    }
    return api_reply_ctr_error(r, &err);
}

int api_handle_networks_prune(struct api_req *r)
{
    static const char *const allowed[] = {"label", "until", NULL};
    struct dmn *d = r->d;
    struct dmn_filters f = {0};
    ctr_error_t err = NULL;
    struct net_network *v = NULL;
    size_t n = 0;
    int64_t until = INT64_MAX;

    if (dmn_filters_parse(api_query(r, "filters"), &f, &err) < 0 ||
        dmn_filters_check(&f, allowed, &err) < 0) {
        dmn_filters_release(&f);
        return api_reply_ctr_error(r, &err);
    }
    json_t *u = json_object_get(f.f, "until");
    if (json_array_size(u) && dmn_time_parse(json_string_value(json_array_get(u, 0)), &until) < 0) {
        dmn_filters_release(&f);
        return api_reply_error(r, 400, "invalid filter `until`: expected a timestamp");
    }
    json_t *deleted = json_array();
    pthread_mutex_lock(&d->net_lock);
    if (net_network_list(d->cfg.root, &v, &n, &err) < 0) {
        pthread_mutex_unlock(&d->net_lock);
        dmn_filters_release(&f);
        json_decref(deleted);
        return api_reply_ctr_error(r, &err);
    }
    for (size_t i = 0; i < n; i++) {
        json_t *labels = bundle_volume_kv_json(v[i].labels);
        bool take = strcmp(v[i].name, NET_DEFAULT_NAME) != 0 && v[i].created_ns < until &&
                    dmn_filters_labels(&f, labels);
        json_decref(labels);
        if (!take)
            continue;
        pthread_mutex_lock(&d->lock);
        cleanup_free char *users = users_locked(d, v[i].id);
        pthread_mutex_unlock(&d->lock);
        if (users)
            continue;
        if (remove_network(d, &v[i], &err) < 0) {
            log_warn("prune: %s", err->msg);
            ctr_error_free(&err);
            continue;
        }
        json_array_append_new(deleted, json_string(v[i].name));
    }
    pthread_mutex_unlock(&d->net_lock);
    net_network_list_free(v, n);
    dmn_filters_release(&f);
    return api_reply_json(r, 200, json_pack("{s:o}", "NetworksDeleted", deleted));
}

/* ---- connect, disconnect ---- */

/* The body's container, op_lock held and stopped; NULL after replying. */
static struct dmn_container *stopped_container(struct api_req *r, json_t *body)
{
    ctr_error_t err = NULL;
    const char *ref = json_string_value(json_object_get(body, "Container"));
    if (ref == NULL || *ref == '\0') {
        api_reply_error(r, 400, "`Container` is missing: name the container");
        return NULL;
    }
    struct dmn_container *c = dmn_container_get(r->d, ref, &err);
    if (c == NULL) {
        api_reply_ctr_error(r, &err);
        return NULL;
    }
    pthread_mutex_lock(&c->op_lock);
    pthread_mutex_lock(&r->d->lock);
    bool running = c->status == DMN_RUNNING || c->status == DMN_STARTING;
    bool gone = c->removed || c->status == DMN_REMOVING;
    pthread_mutex_unlock(&r->d->lock);
    if (running || gone) {
        pthread_mutex_unlock(&c->op_lock);
        if (running)
            api_reply_error(r, 409,
                            "container %s is running: stop it to change its networks (a VM "
                            "cannot add or remove a NIC while it runs)",
                            c->name);
        else
            api_reply_error(r, 409, "container %s is being removed", c->name);
        dmn_container_put(r->d, c);
        return NULL;
    }
    return c;
}

static void save_and_event(struct dmn *d, struct dmn_container *c, const struct net_network *nw,
                           const char *action)
{
    pthread_mutex_lock(&d->lock);
    dmn_container_save_locked(d, c, NULL);
    dmn_event_emit_locked(
        d, "network", action, nw->id,
        json_pack("{s:s,s:s,s:s}", "container", c->id, "name", nw->name, "type", "bridge"));
    pthread_mutex_unlock(&d->lock);
}

int api_handle_network_connect(struct api_req *r)
{
    struct dmn *d = r->d;
    ctr_error_t err = NULL;
    struct net_network nw = {0};
    cleanup_strv char **aliases = NULL;
    json_t *body = api_body_json(r, &err);

    if (body == NULL)
        return api_reply_ctr_error(r, &err);
    if (dmn_endpoint_parse(r->params[0], json_object_get(body, "EndpointConfig"), &aliases, &err) <
        0) {
        json_decref(body);
        return api_reply_ctr_error(r, &err);
    }
    struct dmn_container *c = stopped_container(r, body);
    json_decref(body);
    if (c == NULL)
        return 0;
    const char *nm = json_string_value(json_object_get(c->host_config, "NetworkMode"));
    pthread_mutex_lock(&d->net_lock);
    if (nm && strcmp(nm, "none") == 0)
        dmn_fail(&err, EBUSY, "container %s uses network `none`: it cannot join a network",
                 c->name);
    else if (net_network_load(d->cfg.root, r->params[0], &nw, &err) < 0 && err->errnum == ENOENT) {
        ctr_error_free(&err);
        dmn_fail(&err, ENOENT, "network %s not found", r->params[0]);
    } else if (err == NULL && dmn_netconf_join(d, c, nw.id, aliases, &err) == 0 &&
               dmn_netconf_rewrite(c, &err) < 0) {
        ctr_error_t e2 = NULL;
        dmn_netconf_release(d, c, nw.id);
        if (dmn_netconf_rewrite(c, &e2) < 0)
            ctr_error_free(&e2);
    }
    pthread_mutex_unlock(&d->net_lock);
    if (err == NULL) {
        save_and_event(d, c, &nw, "connect");
        log_info("container %.12s connected to network %s", c->id, nw.name);
    }
    pthread_mutex_unlock(&c->op_lock);
    dmn_container_put(d, c);
    net_network_release(&nw);
    return err ? api_reply_ctr_error(r, &err) : api_reply_empty(r, 200);
}

int api_handle_network_disconnect(struct api_req *r)
{
    struct dmn *d = r->d;
    ctr_error_t err = NULL;
    struct net_network nw = {0};
    json_t *body = api_body_json(r, &err);

    if (body == NULL)
        return api_reply_ctr_error(r, &err);
    struct dmn_container *c = stopped_container(r, body);
    json_decref(body);
    if (c == NULL)
        return 0;
    pthread_mutex_lock(&d->net_lock);
    if (net_network_load(d->cfg.root, r->params[0], &nw, &err) < 0) {
        if (err->errnum == ENOENT) {
            ctr_error_free(&err);
            dmn_fail(&err, ENOENT, "network %s not found", r->params[0]);
        }
    } else {
        size_t i;
        for (i = 0; i < c->n_eps && strcmp(c->eps[i].net_id, nw.id) != 0; i++)
            ;
        if (i == c->n_eps)
            dmn_fail(&err, EBUSY, "container %s is not connected to network %s", c->name, nw.name);
        else if (c->n_eps == 1 && c->n_ports)
            dmn_fail(&err, EBUSY,
                     "container %s publishes ports through network %s, its only one: connect "
                     "it to another network first",
                     c->name, nw.name);
        else {
            dmn_netconf_release(d, c, nw.id);
            if (dmn_netconf_rewrite(c, &err) < 0)
                ctr_error_wrap(&err, "disconnected, but the bundle was not updated");
            save_and_event(d, c, &nw, "disconnect");
            log_info("container %.12s disconnected from network %s", c->id, nw.name);
        }
    }
    pthread_mutex_unlock(&d->net_lock);
    pthread_mutex_unlock(&c->op_lock);
    dmn_container_put(d, c);
    net_network_release(&nw);
    return err ? api_reply_ctr_error(r, &err) : api_reply_empty(r, 200);
}
