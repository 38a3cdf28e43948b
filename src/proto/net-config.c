/* The network parts of the contracts, decoded strictly in one place: the agent's
 * setup.network (interfaces, hosts, resolv) and the bundle's `networks` and `ports`
 * (docs/agent-protocol.md, docs/runtime.md). Built into vminitd too. */
#include "proto/proto-internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define NET_DEFAULT_MTU 1500
#define NET_MIN_MTU 68

/* ---------------------------------------------------------------- validators */

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

bool agent_mac_parse(const char *s, uint8_t mac[6])
{
    uint8_t m[6];
    bool zero = true;

    if (s == NULL || strlen(s) != 17)
        return false;
    for (int i = 0; i < 6; i++) {
        int hi = hexval(s[i * 3]), lo = hexval(s[i * 3 + 1]);
        if (hi < 0 || lo < 0 || (i < 5 && s[i * 3 + 2] != ':'))
            return false;
        m[i] = (uint8_t)(hi << 4 | lo);
        zero = zero && m[i] == 0;
    }
    if (zero || (m[0] & 1)) /* all zero, or multicast/broadcast */
        return false;
    memcpy(mac, m, 6);
    return true;
}

bool agent_ipv4_parse(const char *s, uint32_t *addr)
{
    struct in_addr a;

    if (s == NULL || inet_pton(AF_INET, s, &a) != 1)
        return false;
    *addr = ntohl(a.s_addr);
    return true;
}

bool agent_cidr_parse(const char *s, uint32_t *addr, uint8_t *prefix)
{
    const char *slash = s ? strchr(s, '/') : NULL;
    char ip[INET_ADDRSTRLEN];
    unsigned p = 0;

    if (slash == NULL || (size_t)(slash - s) >= sizeof(ip) || slash[1] == '\0' ||
        strlen(slash + 1) > 2)
        return false;
    for (const char *c = slash + 1; *c; c++) {
        if (*c < '0' || *c > '9')
            return false;
        p = p * 10 + (unsigned)(*c - '0');
    }
    if (p < 1 || p > 32 || (slash[1] == '0'))
        return false;
    memcpy(ip, s, (size_t)(slash - s));
    ip[slash - s] = '\0';
    if (!agent_ipv4_parse(ip, addr))
        return false;
    *prefix = (uint8_t)p;
    return true;
}

bool bundle_ifname_ok(const char *name)
{
    size_t n = name ? strlen(name) : 0;

    if (n == 0 || n > 15 || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return false;
    for (const char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '-' || *p == '_' || *p == '.'))
            return false;
    return true;
}

/* ---------------------------------------------------------------- JSON helpers */

static int check_keys(json_t *o, const char *path, int errnum, const char *const *allowed,
                      ctr_error_t *err)
{
    const char *key;
    json_t *val;

    json_object_foreach(o, key, val)
    {
        bool found = false;
        for (size_t i = 0; allowed[i] && !found; i++)
            found = strcmp(key, allowed[i]) == 0;
        if (!found)
            return ctr_fail(err, errnum, "`%s`: unknown field `%.64s`", path, key);
    }
    return 0;
}

static int get_str(json_t *o, const char *path, int errnum, const char *key, bool required,
                   size_t max, char **out, ctr_error_t *err)
{
    json_t *v = json_object_get(o, key);
    size_t n;

    if (v == NULL || json_is_null(v)) {
        if (required)
            return ctr_fail(err, errnum, "`%s`: missing field `%s`", path, key);
        return 0;
    }
    if (!json_is_string(v))
        return ctr_fail(err, errnum, "`%s.%s` must be a string", path, key);
    n = json_string_length(v);
    if (n > max)
        return ctr_fail(err, errnum, "`%s.%s` is %zu bytes long (limit %zu)", path, key, n, max);
    if (memchr(json_string_value(v), '\0', n) != NULL)
        return ctr_fail(err, errnum, "`%s.%s` contains a NUL byte", path, key);
    *out = ctr_xstrndup(json_string_value(v), n);
    return 0;
}

static int get_uint(json_t *o, const char *path, int errnum, const char *key, bool required,
                    uint32_t min, uint32_t max, uint32_t dflt, uint32_t *out, ctr_error_t *err)
{
    json_t *v = json_object_get(o, key);

    if (v == NULL || json_is_null(v)) {
        if (required)
            return ctr_fail(err, errnum, "`%s`: missing field `%s`", path, key);
        *out = dflt;
        return 0;
    }
    if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
        return ctr_fail(err, errnum, "`%s.%s` must be an integer between %u and %u", path, key, min,
                        max);
    *out = (uint32_t)json_integer_value(v);
    return 0;
}

static json_t *array_of(json_t *a, const char *path, int errnum, size_t max, const char *what,
                        ctr_error_t *err)
{
    if (!json_is_array(a)) {
        ctr_fail(err, errnum, "`%s` must be an array", path);
        return NULL;
    }
    if (json_array_size(a) > max) {
        ctr_fail(err, errnum, "`%s` has %zu entries; at most %zu %s are supported", path,
                 json_array_size(a), max, what);
        return NULL;
    }
    return a;
}

static void set_new(json_t *o, const char *key, json_t *v)
{
    if (v == NULL || json_object_set_new(o, key, v) < 0)
        abort(); /* OOM, or invalid UTF-8 from our own side */
}

/* ---------------------------------------------------------------- setup.network */

static int decode_iface(json_t *o, const char *path, int errnum, struct agent_iface *f,
                        ctr_error_t *err)
{
    static const char *const keys[] = {"mac", "address", "gateway", "mtu", NULL};
    uint8_t mac[6], prefix = 0;
    uint32_t addr = 0, gw = 0;

    if (!json_is_object(o))
        return ctr_fail(err, errnum, "`%s` must be an object", path);
    if (check_keys(o, path, errnum, keys, err) < 0 ||
        get_str(o, path, errnum, "mac", true, 64, &f->mac, err) < 0 ||
        get_str(o, path, errnum, "address", true, 64, &f->address, err) < 0 ||
        get_str(o, path, errnum, "gateway", false, 64, &f->gateway, err) < 0 ||
        get_uint(o, path, errnum, "mtu", false, NET_MIN_MTU, 65535, NET_DEFAULT_MTU, &f->mtu, err) <
            0)
        return -1;
    if (!agent_mac_parse(f->mac, mac))
        return ctr_fail(err, errnum,
                        "`%s.mac` `%s` is not a unicast MAC address like 02:42:c0:a8:40:05", path,
                        f->mac);
    if (!agent_cidr_parse(f->address, &addr, &prefix))
        return ctr_fail(err, errnum,
                        "`%s.address` `%s` is not an IPv4 address with prefix like "
                        "192.168.64.5/24",
                        path, f->address);
    uint32_t mask = prefix == 32 ? 0xffffffffu : ~(0xffffffffu >> prefix);
    if (prefix < 31 && ((addr & ~mask) == 0 || (addr & ~mask) == ~mask))
        return ctr_fail(err, errnum,
                        "`%s.address` `%s` is the network or broadcast address of its subnet", path,
                        f->address);
    if (f->gateway) {
        if (!agent_ipv4_parse(f->gateway, &gw))
            return ctr_fail(err, errnum, "`%s.gateway` `%s` is not an IPv4 address", path,
                            f->gateway);
        if (gw == addr || (gw & mask) != (addr & mask))
            return ctr_fail(err, errnum, "`%s.gateway` `%s` must be another address inside `%s`",
                            path, f->gateway, f->address);
    }
    return 0;
}

int proto_net_decode(json_t *o, const char *path, int errnum, struct agent_setup *s,
                     ctr_error_t *err)
{
    static const char *const keys[] = {"interfaces", "hosts", "resolv", NULL};
    json_t *a, *e;
    size_t i;
    bool have_gw = false;

    if (o == NULL || json_is_null(o))
        return 0;
    if (!json_is_object(o))
        return ctr_fail(err, errnum, "`%s` must be an object", path);
    if (check_keys(o, path, errnum, keys, err) < 0 ||
        get_str(o, path, errnum, "hosts", false, AGENT_MAX_NETFILE, &s->hosts, err) < 0 ||
        get_str(o, path, errnum, "resolv", false, AGENT_MAX_NETFILE, &s->resolv, err) < 0)
        return -1;
    a = json_object_get(o, "interfaces");
    if (a == NULL || json_is_null(a))
        return 0;
    cleanup_free char *apath = ctr_xasprintf("%s.interfaces", path);
    if (array_of(a, apath, errnum, AGENT_MAX_IFACES, "interfaces", err) == NULL)
        return -1;
    s->ifaces = ctr_xcalloc(json_array_size(a) + 1, sizeof(*s->ifaces));
    json_array_foreach(a, i, e)
    {
        cleanup_free char *ipath = ctr_xasprintf("%s[%zu]", apath, i);
        uint8_t mac[6], other[6];
        s->n_ifaces = i + 1; /* so that release frees a partly decoded entry */
        if (decode_iface(e, ipath, errnum, &s->ifaces[i], err) < 0)
            return -1;
        agent_mac_parse(s->ifaces[i].mac, mac);
        for (size_t k = 0; k < i; k++)
            if (agent_mac_parse(s->ifaces[k].mac, other) && memcmp(mac, other, 6) == 0)
                return ctr_fail(err, errnum, "`%s.mac` `%s` is also the MAC of `%s[%zu]`", ipath,
                                s->ifaces[i].mac, apath, k);
        if (s->ifaces[i].gateway && have_gw)
            return ctr_fail(err, errnum,
                            "`%s.gateway`: only one interface may have a gateway (the default "
                            "route)",
                            ipath);
        have_gw = have_gw || s->ifaces[i].gateway;
    }
    return 0;
}

json_t *proto_net_encode(const struct agent_setup *s)
{
    json_t *o, *a;

    if (s->n_ifaces == 0 && s->hosts == NULL && s->resolv == NULL)
        return NULL;
    o = json_object();
    a = json_array();
    for (size_t i = 0; i < s->n_ifaces; i++) {
        const struct agent_iface *f = &s->ifaces[i];
        json_t *j = json_object();
        set_new(j, "mac", ctr_json_str(f->mac ? f->mac : ""));
        set_new(j, "address", ctr_json_str(f->address ? f->address : ""));
        if (f->gateway)
            set_new(j, "gateway", ctr_json_str(f->gateway));
        set_new(j, "mtu", json_integer(f->mtu ? f->mtu : NET_DEFAULT_MTU));
        if (json_array_append_new(a, j) < 0)
            abort();
    }
    set_new(o, "interfaces", a);
    if (s->hosts)
        set_new(o, "hosts", ctr_json_str(s->hosts));
    if (s->resolv)
        set_new(o, "resolv", ctr_json_str(s->resolv));
    return o;
}

/* ---------------------------------------------------------------- net (live) */

json_t *proto_netop_encode(const struct agent_net *n)
{
    json_t *o = json_object();
    set_new(o, "leave", json_boolean(n->leave));
    if (n->parent)
        set_new(o, "parent", ctr_json_str(n->parent));
    set_new(o, "vlan", json_integer(n->vlan));
    set_new(o, "mac", ctr_json_str(n->mac ? n->mac : ""));
    set_new(o, "address", ctr_json_str(n->address ? n->address : ""));
    set_new(o, "mtu", json_integer(n->mtu ? n->mtu : NET_DEFAULT_MTU));
    if (n->hosts)
        set_new(o, "hosts", ctr_json_str(n->hosts));
    return o;
}

int proto_netop_decode(json_t *o, const char *path, int errnum, struct agent_net *n,
                       ctr_error_t *err)
{
    static const char *const keys[] = {"leave",   "parent", "vlan",  "mac",
                                       "address", "mtu",    "hosts", NULL};
    uint8_t mac[6], prefix;
    uint32_t addr;
    json_t *l;

    memset(n, 0, sizeof(*n));
    if (!json_is_object(o))
        return ctr_fail(err, errnum, "`%s` must be an object", path);
    l = json_object_get(o, "leave");
    if (l && !json_is_boolean(l))
        return ctr_fail(err, errnum, "`%s.leave` must be a boolean", path);
    n->leave = json_is_true(l);
    if (check_keys(o, path, errnum, keys, err) < 0 ||
        get_str(o, path, errnum, "parent", !n->leave, 64, &n->parent, err) < 0 ||
        get_uint(o, path, errnum, "vlan", !n->leave, n->leave ? 0 : 1, AGENT_MAX_VLAN, 0, &n->vlan,
                 err) < 0 ||
        get_str(o, path, errnum, "mac", true, 64, &n->mac, err) < 0 ||
        get_str(o, path, errnum, "address", true, 64, &n->address, err) < 0 ||
        get_uint(o, path, errnum, "mtu", false, NET_MIN_MTU, 65535, NET_DEFAULT_MTU, &n->mtu, err) <
            0 ||
        get_str(o, path, errnum, "hosts", false, AGENT_MAX_NETFILE, &n->hosts, err) < 0)
        return -1;
    if (!agent_mac_parse(n->mac, mac) || (n->parent && !agent_mac_parse(n->parent, mac)))
        return ctr_fail(err, errnum, "`%s`: `mac` and `parent` must be unicast MAC addresses",
                        path);
    if (!agent_cidr_parse(n->address, &addr, &prefix))
        return ctr_fail(err, errnum, "`%s.address` `%s` is not an IPv4 address with prefix", path,
                        n->address);
    return 0;
}

void agent_net_release(struct agent_net *n)
{
    free(n->parent);
    free(n->mac);
    free(n->address);
    free(n->hosts);
    memset(n, 0, sizeof(*n));
}

void agent_setup_net_release(struct agent_setup *s)
{
    for (size_t i = 0; i < s->n_ifaces; i++) {
        free(s->ifaces[i].mac);
        free(s->ifaces[i].address);
        free(s->ifaces[i].gateway);
    }
    free(s->ifaces);
    free(s->hosts);
    free(s->resolv);
    s->ifaces = NULL;
    s->n_ifaces = 0;
    s->hosts = s->resolv = NULL;
}

/* ---------------------------------------------------------------- bundle networks, ports */

int proto_bundle_nets_decode(json_t *a, struct bundle_config *cfg, ctr_error_t *err)
{
    static const char *const keys[] = {"tap", "bridge", "mac", "mtu", NULL};
    json_t *e;
    size_t i;

    if (a == NULL || json_is_null(a))
        return 0;
    if (array_of(a, "networks", EINVAL, BUNDLE_MAX_NETS, "networks", err) == NULL)
        return -1;
    cfg->nets = ctr_xcalloc(json_array_size(a) + 1, sizeof(*cfg->nets));
    json_array_foreach(a, i, e)
    {
        struct bundle_net *n = &cfg->nets[i];
        char path[32];
        uint8_t mac[6], other[6];

        snprintf(path, sizeof(path), "networks[%zu]", i);
        cfg->n_nets = i + 1;
        if (!json_is_object(e))
            return ctr_fail(err, EINVAL, "`%s` must be an object", path);
        if (check_keys(e, path, EINVAL, keys, err) < 0 ||
            get_str(e, path, EINVAL, "tap", true, 64, &n->tap, err) < 0 ||
            get_str(e, path, EINVAL, "bridge", true, 64, &n->bridge, err) < 0 ||
            get_str(e, path, EINVAL, "mac", true, 64, &n->mac, err) < 0 ||
            get_uint(e, path, EINVAL, "mtu", false, NET_MIN_MTU, 65535, NET_DEFAULT_MTU, &n->mtu,
                     err) < 0)
            return -1;
        if (!bundle_ifname_ok(n->tap))
            return ctr_fail(err, EINVAL,
                            "`%s.tap` `%s` must be an interface name: 1-15 of [A-Za-z0-9._-]", path,
                            n->tap);
        if (!bundle_ifname_ok(n->bridge))
            return ctr_fail(err, EINVAL,
                            "`%s.bridge` `%s` must be an interface name: 1-15 of [A-Za-z0-9._-]",
                            path, n->bridge);
        if (!agent_mac_parse(n->mac, mac))
            return ctr_fail(err, EINVAL,
                            "`%s.mac` `%s` is not a unicast MAC address like 02:42:c0:a8:40:05",
                            path, n->mac);
        for (size_t k = 0; k < i; k++) {
            if (strcmp(cfg->nets[k].tap, n->tap) == 0)
                return ctr_fail(err, EINVAL, "`%s.tap` `%s` is also the TAP of `networks[%zu]`",
                                path, n->tap, k);
            if (agent_mac_parse(cfg->nets[k].mac, other) && memcmp(mac, other, 6) == 0)
                return ctr_fail(err, EINVAL, "`%s.mac` `%s` is also the MAC of `networks[%zu]`",
                                path, n->mac, k);
        }
    }
    return 0;
}

/* Two bindings collide when proto and port match and the addresses match or one is
 * the wildcard. */
static bool ports_collide(const struct bundle_port *a, const struct bundle_port *b)
{
    return strcmp(a->proto, b->proto) == 0 && a->host_port == b->host_port &&
           (strcmp(a->host_ip, b->host_ip) == 0 || strcmp(a->host_ip, "0.0.0.0") == 0 ||
            strcmp(b->host_ip, "0.0.0.0") == 0);
}

int proto_bundle_ports_decode(json_t *a, struct bundle_config *cfg, ctr_error_t *err)
{
    static const char *const keys[] = {"proto",        "host_ip",        "host_port",
                                       "container_ip", "container_port", NULL};
    json_t *e;
    size_t i;

    if (a == NULL || json_is_null(a))
        return 0;
    if (array_of(a, "ports", EINVAL, BUNDLE_MAX_PORTS, "ports", err) == NULL)
        return -1;
    cfg->ports = ctr_xcalloc(json_array_size(a) + 1, sizeof(*cfg->ports));
    json_array_foreach(a, i, e)
    {
        struct bundle_port *p = &cfg->ports[i];
        char path[32];
        uint32_t hp = 0, cp = 0, ip;

        snprintf(path, sizeof(path), "ports[%zu]", i);
        cfg->n_ports = i + 1;
        if (!json_is_object(e))
            return ctr_fail(err, EINVAL, "`%s` must be an object", path);
        if (check_keys(e, path, EINVAL, keys, err) < 0 ||
            get_str(e, path, EINVAL, "proto", true, 8, &p->proto, err) < 0 ||
            get_str(e, path, EINVAL, "host_ip", false, 64, &p->host_ip, err) < 0 ||
            get_uint(e, path, EINVAL, "host_port", true, 1, 65535, 0, &hp, err) < 0 ||
            get_str(e, path, EINVAL, "container_ip", true, 64, &p->container_ip, err) < 0 ||
            get_uint(e, path, EINVAL, "container_port", true, 1, 65535, 0, &cp, err) < 0)
            return -1;
        p->host_port = (uint16_t)hp;
        p->container_port = (uint16_t)cp;
        if (p->host_ip == NULL)
            p->host_ip = ctr_xstrdup("0.0.0.0");
        if (strcmp(p->proto, "tcp") != 0 && strcmp(p->proto, "udp") != 0)
            return ctr_fail(err, EINVAL, "`%s.proto` is `%s`; use `tcp` or `udp`", path, p->proto);
        if (!agent_ipv4_parse(p->host_ip, &ip))
            return ctr_fail(err, EINVAL, "`%s.host_ip` `%s` is not an IPv4 address", path,
                            p->host_ip);
        if (!agent_ipv4_parse(p->container_ip, &ip) || ip == 0)
            return ctr_fail(err, EINVAL, "`%s.container_ip` `%s` is not an IPv4 address", path,
                            p->container_ip);
        for (size_t k = 0; k < i; k++)
            if (ports_collide(&cfg->ports[k], p))
                return ctr_fail(err, EINVAL, "`%s` %s:%u/%s collides with `ports[%zu]` %s:%u/%s",
                                path, p->host_ip, p->host_port, p->proto, k, cfg->ports[k].host_ip,
                                cfg->ports[k].host_port, cfg->ports[k].proto);
    }
    return 0;
}

int proto_bundle_net_check(const struct bundle_config *cfg, ctr_error_t *err)
{
    for (size_t i = 0; i < cfg->setup.n_ifaces; i++) {
        uint8_t mac[6], other[6];
        bool found = false;
        agent_mac_parse(cfg->setup.ifaces[i].mac, mac);
        for (size_t k = 0; k < cfg->n_nets && !found; k++)
            found = agent_mac_parse(cfg->nets[k].mac, other) && memcmp(mac, other, 6) == 0;
        if (!found)
            return ctr_fail(err, EINVAL,
                            "`setup.network.interfaces[%zu].mac` `%s` matches no NIC in "
                            "`networks`",
                            i, cfg->setup.ifaces[i].mac);
    }
    return 0;
}

void proto_bundle_net_encode(json_t *root, const struct bundle_config *cfg)
{
    if (cfg->n_nets) {
        json_t *a = json_array();
        for (size_t i = 0; i < cfg->n_nets; i++) {
            const struct bundle_net *n = &cfg->nets[i];
            json_t *o = json_object();
            set_new(o, "tap", ctr_json_str(n->tap ? n->tap : ""));
            set_new(o, "bridge", ctr_json_str(n->bridge ? n->bridge : ""));
            set_new(o, "mac", ctr_json_str(n->mac ? n->mac : ""));
            set_new(o, "mtu", json_integer(n->mtu ? n->mtu : NET_DEFAULT_MTU));
            if (json_array_append_new(a, o) < 0)
                abort();
        }
        set_new(root, "networks", a);
    }
    if (cfg->n_ports) {
        json_t *a = json_array();
        for (size_t i = 0; i < cfg->n_ports; i++) {
            const struct bundle_port *p = &cfg->ports[i];
            json_t *o = json_object();
            set_new(o, "proto", ctr_json_str(p->proto ? p->proto : "tcp"));
            set_new(o, "host_ip", ctr_json_str(p->host_ip ? p->host_ip : "0.0.0.0"));
            set_new(o, "host_port", json_integer(p->host_port));
            set_new(o, "container_ip", ctr_json_str(p->container_ip ? p->container_ip : ""));
            set_new(o, "container_port", json_integer(p->container_port));
            if (json_array_append_new(a, o) < 0)
                abort();
        }
        set_new(root, "ports", a);
    }
}

void proto_bundle_net_release(struct bundle_config *cfg)
{
    for (size_t i = 0; i < cfg->n_nets; i++) {
        free(cfg->nets[i].tap);
        free(cfg->nets[i].bridge);
        free(cfg->nets[i].mac);
    }
    free(cfg->nets);
    for (size_t i = 0; i < cfg->n_ports; i++) {
        free(cfg->ports[i].proto);
        free(cfg->ports[i].host_ip);
        free(cfg->ports[i].container_ip);
    }
    free(cfg->ports);
    cfg->nets = NULL;
    cfg->ports = NULL;
    cfg->n_nets = cfg->n_ports = 0;
}
