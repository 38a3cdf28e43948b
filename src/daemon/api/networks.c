/* /networks: Docker's list, inspect, create, delete, prune, connect and disconnect over
 * the network service (netapi.c). docs/api.md, docs/network.md. */
#include "daemon/api/api.h"
#include "net/net.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Options as docker shows them: the driver options given at create, nothing else; the
 * default network shows what docker's `bridge` does (with our bridge's name). */
static json_t *options_json(const struct net_network *nw)
{
    if (strcmp(nw->name, NET_DEFAULT_NAME) == 0)
        return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "com.docker.network.bridge.default_bridge",
                         "true", "com.docker.network.bridge.enable_icc", "true",
                         "com.docker.network.bridge.enable_ip_masquerade", "true",
                         "com.docker.network.bridge.host_binding_ipv4", "0.0.0.0",
                         "com.docker.network.bridge.name", nw->bridge,
                         "com.docker.network.driver.mtu", "1500");
    return bundle_volume_kv_json(nw->options);
}

static json_t *network_json(const struct dmn_network *n)
{
    const struct net_network *nw = &n->nw;
    char sub[NET_CIDR_STRLEN], gw[NET_IP_STRLEN];
    cleanup_free char *created = dmn_time_rfc3339(nw->created_ns);
    json_t *ctrs = json_object();

    net_cidr_format(&nw->subnet, sub, sizeof(sub));
    net_ip_format(nw->gateway, gw, sizeof(gw));
    for (size_t i = 0; i < n->n_members; i++) {
        const struct dmn_net_member *m = &n->members[i];
        char a[NET_IP_STRLEN];
        net_ip_format(m->addr, a, sizeof(a));
        cleanup_free char *cidr = ctr_xasprintf("%s/%u", a, (unsigned)m->prefix);
        cleanup_free char *epid = ctr_xasprintf("%.32s%.32s", nw->id, m->id);
        json_object_set_new(ctrs, m->id,
                            json_pack("{s:s,s:s,s:s,s:s,s:s}", "Name", m->name, "EndpointID", epid,
                                      "MacAddress", m->mac, "IPv4Address", cidr, "IPv6Address",
                                      ""));
    }
    json_t *cfg = json_pack("{s:s,s:s}", "Subnet", sub, "Gateway", gw);
    if (nw->range.prefix) {
        char rs[NET_CIDR_STRLEN];
        net_cidr_format(&nw->range, rs, sizeof(rs));
        json_object_set_new(cfg, "IPRange", json_string(rs));
    }
    /* the default network under docker's name (our CLI shows it as `default`) */
    const char *name = strcmp(nw->name, NET_DEFAULT_NAME) == 0 ? NET_DEFAULT_ALIAS : nw->name;
    return json_pack("{s:s,s:s,s:s,s:s,s:s,s:b,s:{s:s,s:n,s:[o]},s:b,s:b,s:b,s:{s:s},"
                     "s:b,s:o,s:o,s:o}",
                     "Name", name, "Id", nw->id, "Created", created, "Scope", "local", "Driver",
                     "bridge", "EnableIPv6", 0, "IPAM", "Driver", "default", "Options", "Config",
                     cfg, "Internal", nw->internal, "Attachable", 0, "Ingress", 0, "ConfigFrom",
                     "Network", "", "ConfigOnly", 0, "Containers", ctrs, "Options",
                     options_json(nw), "Labels", bundle_volume_kv_json(nw->labels));
}

/* ---- list, inspect ---- */

static bool match_name(const char *v, void *ctx)
{
    const char *name = ((struct net_network *)ctx)->name;
    return strstr(name, v) != NULL ||
           (strcmp(name, NET_DEFAULT_NAME) == 0 && strstr(NET_DEFAULT_ALIAS, v) != NULL);
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
    struct dmn_network *v = NULL;
    size_t n = 0;

    if (dmn_filters_parse(api_query(r, "filters"), &f, &err) < 0 ||
        dmn_filters_check(&f, allowed, &err) < 0 || dmn_networks_list(r->d, &v, &n, &err) < 0) {
        dmn_filters_release(&f);
        return api_reply_ctr_error(r, &err);
    }
    json_t *out = json_array();
    for (size_t i = 0; i < n; i++) {
        struct net_network *nw = &v[i].nw;
        json_t *j = network_json(&v[i]);
        json_t *dangling = json_object_get(f.f, "dangling");
        if (json_array_size(dangling)) {
            const char *want = json_string_value(json_array_get(dangling, 0));
            bool used = v[i].n_members > 0 || strcmp(nw->name, NET_DEFAULT_NAME) == 0;
            if ((strcmp(want, "true") == 0 || strcmp(want, "1") == 0) == used) {
                json_decref(j);
                continue;
            }
        }
        if (!dmn_filters_any(&f, "name", match_name, nw) ||
            !dmn_filters_any(&f, "id", match_id, nw) ||
            !dmn_filters_any(&f, "driver", match_driver, nw) ||
            !dmn_filters_any(&f, "scope", match_scope, nw) ||
            !dmn_filters_any(&f, "type", match_type, nw) ||
            !dmn_filters_labels(&f, json_object_get(j, "Labels"))) {
            json_decref(j);
            continue;
        }
        json_array_append_new(out, j);
    }
    dmn_networks_free(v, n);
    dmn_filters_release(&f);
    return api_reply_json(r, 200, out);
}

int api_handle_network_inspect(struct api_req *r)
{
    struct dmn_network n = {0};
    ctr_error_t err = NULL;
    if (dmn_network_get(r->d, r->params[0], &n, &err) < 0)
        return api_reply_ctr_error(r, &err);
    json_t *j = network_json(&n);
    dmn_network_release(&n);
    return api_reply_json(r, 200, j);
}

/* ---- create ---- */

static int create_checks(json_t *body, const char **subnet, const char **ip_range, ctr_error_t *err)
{
    const char *drv = json_string_value(json_object_get(body, "Driver"));
    json_t *ipam = json_object_get(body, "IPAM");
    json_t *cfgs = json_object_get(ipam, "Config");
    json_t *labels = json_object_get(body, "Labels");
    const char *k;
    json_t *v;

    *subnet = *ip_range = NULL;
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
        if (range && *range) {
            if (*subnet == NULL)
                return dmn_fail(err, EINVAL, "an `IPRange` needs its `Subnet`");
            *ip_range = range;
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
    ctr_error_t err = NULL;
    cleanup_strv char **labels = ctr_xcalloc(1, sizeof(char *));
    cleanup_strv char **options = ctr_xcalloc(1, sizeof(char *));
    cleanup_free char *id = NULL;
    const char *subnet, *ip_range, *k;
    json_t *v;
    json_t *body = api_body_json(r, &err);

    if (body == NULL)
        return api_reply_ctr_error(r, &err);
    if (!json_is_object(body)) {
        json_decref(body);
        return api_reply_error(r, 400, "the network config must be a JSON object");
    }
    if (api_network_config_check(body, &err) < 0 ||
        create_checks(body, &subnet, &ip_range, &err) < 0) {
        json_decref(body);
        return api_reply_ctr_error(r, &err);
    }
    json_object_foreach(json_object_get(body, "Labels"), k, v)
    {
        cleanup_free char *kv = ctr_xasprintf("%s=%s", k, json_string_value(v));
        ctr_strv_append(&labels, kv);
    }
    json_object_foreach(json_object_get(body, "Options"), k, v)
    {
        cleanup_free char *kv = ctr_xasprintf("%s=%s", k, json_string_value(v));
        ctr_strv_append(&options, kv);
    }
    struct dmn_network_spec spec = {
        .name = json_string_value(json_object_get(body, "Name")),
        .subnet = subnet,
        .ip_range = ip_range,
        .internal = json_is_true(json_object_get(body, "Internal")),
        .labels = labels,
        .options = options,
    };
    int rc = dmn_network_create(r->d, &spec, &id, &err);
    json_decref(body);
    if (rc < 0)
        return api_reply_ctr_error(r, &err);
    return api_reply_json(r, 201, json_pack("{s:s,s:s}", "Id", id, "Warning", ""));
}

/* ---- delete, prune ---- */

int api_handle_network_delete(struct api_req *r)
{
    ctr_error_t err = NULL;

    if (dmn_network_remove(r->d, r->params[0], &err) < 0)
        return api_reply_ctr_error(r, &err);
    return api_reply_empty(r, 204);
}

struct prune_ctx {
    struct dmn_filters *f;
    int64_t until;
};

static bool prune_match(const struct net_network *nw, void *ctx)
{
    struct prune_ctx *p = ctx;
    json_t *labels = bundle_volume_kv_json(nw->labels);
    bool take = nw->created_ns < p->until && dmn_filters_labels(p->f, labels);
    json_decref(labels);
    return take;
}

int api_handle_networks_prune(struct api_req *r)
{
    static const char *const allowed[] = {"label", "until", NULL};
    struct dmn_filters f = {0};
    ctr_error_t err = NULL;
    cleanup_strv char **deleted = NULL;
    struct prune_ctx p = {.f = &f, .until = INT64_MAX};

    if (dmn_filters_parse(api_query(r, "filters"), &f, &err) < 0 ||
        dmn_filters_check(&f, allowed, &err) < 0) {
        dmn_filters_release(&f);
        return api_reply_ctr_error(r, &err);
    }
    json_t *u = json_object_get(f.f, "until");
    if (json_array_size(u) &&
        dmn_time_parse(json_string_value(json_array_get(u, 0)), &p.until) < 0) {
        dmn_filters_release(&f);
        return api_reply_error(r, 400, "invalid filter `until`: expected a timestamp");
    }
    int rc = dmn_networks_prune(r->d, prune_match, &p, &deleted, &err);
    dmn_filters_release(&f);
    if (rc < 0)
        return api_reply_ctr_error(r, &err);
    return api_reply_json(r, 200, json_pack("{s:o}", "NetworksDeleted", dmn_strv_json(deleted)));
}

/* ---- connect, disconnect ---- */

/* The body's `Container` (a copy); NULL after replying 400. */
static char *container_of(struct api_req *r, json_t *body)
{
    const char *ref = json_string_value(json_object_get(body, "Container"));
    if (ref == NULL || *ref == '\0') {
        api_reply_error(r, 400, "`Container` is missing: name the container");
        return NULL;
    }
    return ctr_xstrdup(ref);
}

int api_handle_network_connect(struct api_req *r)
{
    ctr_error_t err = NULL;
    struct dmn_epreq ep = {0};
    json_t *body = api_body_json(r, &err);

    if (body == NULL)
        return api_reply_ctr_error(r, &err);
    if (api_endpoint_parse(r->params[0], json_object_get(body, "EndpointConfig"), &ep, &err) < 0) {
        dmn_epreq_release(&ep);
        json_decref(body);
        return api_reply_ctr_error(r, &err);
    }
    cleanup_free char *ref = container_of(r, body);
    json_decref(body);
    if (ref == NULL) {
        dmn_epreq_release(&ep);
        return 0;
    }
    int rc = dmn_network_connect(r->d, r->params[0], ref, &ep, &err);
    dmn_epreq_release(&ep);
    if (rc < 0)
        return api_reply_ctr_error(r, &err);
    return api_reply_empty(r, 200);
}

int api_handle_network_disconnect(struct api_req *r)
{
    ctr_error_t err = NULL;
    json_t *body = api_body_json(r, &err);

    if (body == NULL)
        return api_reply_ctr_error(r, &err);
    cleanup_free char *ref = container_of(r, body);
    json_decref(body);
    if (ref == NULL)
        return 0;
    if (dmn_network_disconnect(r->d, r->params[0], ref, &err) < 0)
        return api_reply_ctr_error(r, &err);
    return api_reply_empty(r, 200);
}
