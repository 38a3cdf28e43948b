/* The network store: one directory per network, DATA/networks/<id>/, holding
 * network.json (written atomically) and the allocator's ipam.json. Creation and removal
 * are serialized by flock on DATA/networks/.lock, so two concurrent creates can neither
 * take the same name nor overlapping subnets. */
#include "net/net-internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define NAME_MAX_LEN 255
#define META_MAX (1u << 20)

char *net_network_dir(const char *data_root, const char *id)
{
    return ctr_xasprintf("%s/networks/%s", data_root, id);
}

int net_lock_file(const char *path, int *fd, ctr_error_t *err)
{
    int f = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (f < 0)
        return ctr_fail(err, errno, "open lock `%s`", path);
    while (flock(f, LOCK_EX) < 0) {
        if (errno != EINTR) {
            int e = errno;
            close(f);
            return ctr_fail(err, e, "lock `%s`", path);
        }
    }
    *fd = f;
    return 0;
}

static int lock_store(const char *data_root, int *fd, ctr_error_t *err)
{
    cleanup_free char *dir = ctr_xasprintf("%s/networks", data_root);
    cleanup_free char *lock = ctr_xasprintf("%s/.lock", dir);
    if (ctr_mkdir_p(dir, 0700, err) < 0)
        return -1;
    return net_lock_file(lock, fd, err);
}

int net_network_check_name(const char *name, ctr_error_t *err)
{
    /* Docker refuses only an empty or blank name (libnetwork: "invalid name: name is
     * empty"); a control character would garble logs and messages, so it goes too. */
    size_t len = name ? strlen(name) : 0;
    bool blank = true, ctl = false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];
        ctl = ctl || c < 0x20 || c == 0x7f;
        blank =
            blank && (c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r');
    }
    if (blank)
        return net_fail(err, EINVAL, "invalid network name: name is empty");
    if (ctl || len > NAME_MAX_LEN)
        return net_fail(err, EINVAL,
                        "invalid network name `%s`: no control characters, at most %d bytes",
                        ctl ? "?" : name, NAME_MAX_LEN);
    return 0;
}

void net_network_release(struct net_network *n)
{
    if (n == NULL)
        return;
    free(n->id);
    free(n->name);
    free(n->bridge);
    ctr_strv_free(n->labels);
    ctr_strv_free(n->options);
    memset(n, 0, sizeof(*n));
}

void net_network_list_free(struct net_network *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        net_network_release(&v[i]);
    free(v);
}

static bool is_id(const char *s)
{
    size_t i = 0;
    for (; s[i]; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return i == NET_ID_LEN;
}

/* {"K":"V",...} as KEY=VALUE strings (never NULL) */
static char **kv_strv(json_t *o)
{
    char **out = ctr_xcalloc(1, sizeof(char *));
    const char *k;
    json_t *v;
    if (!json_is_object(o))
        return out;
    json_object_foreach(o, k, v)
    {
        cleanup_free char *kv = ctr_xasprintf("%s=%s", k, json_string_value(v) ?: "");
        ctr_strv_append(&out, kv);
    }
    return out;
}

/* The bridge driver's options that take effect (docker's names); others are kept as
 * given. bridge: the name asked for, or NULL. */
static int driver_options(struct net_network *n, char **options, const char **bridge,
                          ctr_error_t *err)
{
    n->mtu = NET_DEFAULT_MTU;
    n->no_masquerade = false;
    if (bridge)
        *bridge = NULL;
    for (size_t i = 0; options && options[i]; i++) {
        const char *kv = options[i], *v = strchr(kv, '=');
        size_t kl = v ? (size_t)(v - kv) : strlen(kv);
        v = v ? v + 1 : "";
#define KEY(k) (kl == strlen(k) && strncmp(kv, k, kl) == 0)
        if (KEY("com.docker.network.driver.mtu")) {
            char *end;
            long m = strtol(v, &end, 10);
            if (*v == '\0' || *end || m < 68 || m > 65535)
                return net_fail(err, EINVAL, "invalid MTU `%s`: a number from 68 to 65535", v);
            n->mtu = (uint32_t)m;
        } else if (KEY("com.docker.network.bridge.enable_ip_masquerade")) {
            if (strcmp(v, "true") && strcmp(v, "false") && strcmp(v, "1") && strcmp(v, "0"))
                return net_fail(err, EINVAL, "invalid enable_ip_masquerade `%s`: true or false", v);
            n->no_masquerade = strcmp(v, "false") == 0 || strcmp(v, "0") == 0;
        } else if (KEY("com.docker.network.bridge.name") && bridge && *v) {
            *bridge = v;
        }
#undef KEY
    }
    return 0;
}

static int parse_meta(const char *path, const char *id, struct net_network *out, ctr_error_t *err)
{
    json_error_t je;
    json_t *j = json_load_file(path, 0, &je);
    const char *name = NULL, *bridge = NULL, *subnet = NULL, *gw = NULL, *range = NULL;
    int internal = 0, subnet_auto = 0;
    json_int_t created = 0;
    json_t *labels = NULL, *options = NULL;
    struct net_network n = {0};

    if (j == NULL) {
        if (access(path, F_OK) < 0)
            return net_fail(err, ENOENT, "`%s` is missing", path);
        return net_fail(err, EINVAL, "`%s`: %s (line %d)", path, je.text, je.line);
    }
    if (json_unpack_ex(j, &je, 0, "{s:s, s:s, s:s, s:s, s?b, s?I, s?o, s?o, s?s, s?b}", "name",
                       &name, "bridge", &bridge, "subnet", &subnet, "gateway", &gw, "internal",
                       &internal, "created_ns", &created, "labels", &labels, "options", &options,
                       "ip_range", &range, "subnet_auto", &subnet_auto) < 0) {
        json_decref(j);
        return net_fail(err, EINVAL, "`%s`: %s", path, je.text);
    }
    if (net_cidr_parse(subnet, &n.subnet, err) < 0 || net_ip_parse(gw, &n.gateway, err) < 0 ||
        (range && net_cidr_parse(range, &n.range, err) < 0)) {
        json_decref(j);
        return ctr_error_wrap(err, "`%s`", path);
    }
    n.id = ctr_xstrdup(id);
    n.name = ctr_xstrdup(name);
    n.bridge = ctr_xstrdup(bridge);
    n.internal = internal;
    n.subnet_auto = subnet_auto;
    n.created_ns = created;
    n.labels = kv_strv(labels);
    n.options = kv_strv(options);
    json_decref(j);
    ctr_error_t e2 = NULL;
    if (driver_options(&n, n.options, NULL, &e2) < 0) /* checked at create */
        ctr_error_free(&e2);
    *out = n;
    return 0;
}

static int cmp_created(const void *a, const void *b)
{
    const struct net_network *x = a, *y = b;
    if (x->created_ns != y->created_ns)
        return x->created_ns < y->created_ns ? -1 : 1;
    return strcmp(x->name, y->name);
}

int net_network_list(const char *data_root, struct net_network **out, size_t *count,
                     ctr_error_t *err)
{
    cleanup_free char *dir = ctr_xasprintf("%s/networks", data_root);
    struct net_network *v = NULL;
    size_t n = 0;
    DIR *d = opendir(dir);
    struct dirent *de;

    if (d == NULL) {
        if (errno != ENOENT)
            return ctr_fail(err, errno, "open `%s`", dir);
        *out = NULL;
        *count = 0;
        return 0;
    }
    while ((de = readdir(d)) != NULL) {
        if (!is_id(de->d_name))
            continue;
        cleanup_free char *meta = ctr_xasprintf("%s/%s/network.json", dir, de->d_name);
        ctr_error_t e = NULL;
        struct net_network nw;
        if (parse_meta(meta, de->d_name, &nw, &e) < 0) {
            /* One damaged network must not hide the others; load by id reports it. */
            if (e->errnum != ENOENT)
                log_warn("skipping network %s: %s", de->d_name, e->msg);
            ctr_error_free(&e);
            continue;
        }
        v = ctr_xrealloc(v, (n + 1) * sizeof(*v));
        v[n++] = nw;
    }
    closedir(d);
    if (n > 1)
        qsort(v, n, sizeof(*v), cmp_created);
    *out = v;
    *count = n;
    return 0;
}

/* Index of the network called name_or_id in v: full id, then name, then unique id prefix. */
static int find(struct net_network *v, size_t n, const char *key, size_t *idx, ctr_error_t *err)
{
    size_t klen = strlen(key), hits = 0;
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i].id, key) == 0) {
            *idx = i;
            return 0;
        }
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i].name, key) == 0) {
            *idx = i;
            return 0;
        }
    if (strcmp(key, NET_DEFAULT_ALIAS) == 0)
        for (size_t i = 0; i < n; i++)
            if (strcmp(v[i].name, NET_DEFAULT_NAME) == 0) {
                *idx = i;
                return 0;
            }
    if (klen > 0 && klen < NET_ID_LEN)
        for (size_t i = 0; i < n; i++)
            if (strncmp(v[i].id, key, klen) == 0) {
                *idx = i;
                hits++;
            }
    if (hits == 1)
        return 0;
    if (hits > 1)
        return net_fail(err, EINVAL, "network id prefix `%s` is ambiguous: give more characters",
                        key);
    return net_fail(err, ENOENT, "network `%s` not found", key);
}

int net_network_load(const char *data_root, const char *name_or_id, struct net_network *out,
                     ctr_error_t *err)
{
    struct net_network *v = NULL;
    size_t n = 0, idx = 0;
    if (name_or_id == NULL || *name_or_id == '\0')
        return net_fail(err, EINVAL, "empty network name");
    if (is_id(name_or_id)) {
        /* Exact id: read it directly so a damaged file is reported, not skipped. */
        cleanup_free char *dir = net_network_dir(data_root, name_or_id);
        cleanup_free char *meta = ctr_xasprintf("%s/network.json", dir);
        if (access(meta, F_OK) == 0)
            return parse_meta(meta, name_or_id, out, err) < 0
                       ? ctr_error_wrap(err, "network `%s`", name_or_id)
                       : 0;
    }
    if (net_network_list(data_root, &v, &n, err) < 0)
        return -1;
    if (find(v, n, name_or_id, &idx, err) < 0) {
        net_network_list_free(v, n);
        return -1;
    }
    *out = v[idx];
    memset(&v[idx], 0, sizeof(v[idx]));
    net_network_list_free(v, n);
    return 0;
}

static int new_id(char out[NET_ID_LEN + 1], ctr_error_t *err)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char b[NET_ID_LEN / 2];
    if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b))
        return ctr_fail(err, errno, "getrandom");
    for (size_t i = 0; i < sizeof(b); i++) {
        out[2 * i] = hex[b[i] >> 4];
        out[2 * i + 1] = hex[b[i] & 15];
    }
    out[NET_ID_LEN] = '\0';
    return 0;
}

/* A subnet the user asked for: a network address, not special-purpose, room for hosts. */
static int check_subnet(const char *s, struct net_cidr *c, ctr_error_t *err)
{
    static const struct {
        const char *cidr;
        const char *what;
    } reserved[] = {{"0.0.0.0/8", "\"this network\""},
                    {"127.0.0.0/8", "loopback"},
                    {"169.254.0.0/16", "link-local"},
                    {"224.0.0.0/3", "multicast/reserved"}};
    char want[NET_CIDR_STRLEN];
    if (net_cidr_parse(s, c, err) < 0)
        return -1;
    if (strchr(s, '/') == NULL)
        return net_fail(err, EINVAL, "subnet `%s` lacks a prefix length: use a form like %s/24", s,
                        s);
    if (c->prefix < 8 || c->prefix > 30)
        return net_fail(err, EINVAL, "subnet `%s`: the prefix length must be between /8 and /30",
                        s);
    if (c->addr & ~net_cidr_mask(c->prefix)) {
        struct net_cidr fixed = {c->addr & net_cidr_mask(c->prefix), c->prefix};
        net_cidr_format(&fixed, want, sizeof(want));
        return net_fail(err, EINVAL, "subnet `%s` has host bits set: it should be %s", s, want);
    }
    for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++) {
        struct net_cidr r;
        (void)net_cidr_parse(reserved[i].cidr, &r, NULL);
        if (net_cidr_overlaps(c, &r))
            return net_fail(err, EINVAL, "subnet `%s` overlaps the %s range %s", s,
                            reserved[i].what, reserved[i].cidr);
    }
    return 0;
}

/* 0 = free, 1 = taken (why in desc), -1 = error */
static int subnet_taken(const struct net_cidr *c, struct net_network *v, size_t n,
                        net_route_check_fn check, void *ctx, char *desc, size_t dlen,
                        ctr_error_t *err)
{
    char s[NET_CIDR_STRLEN];
    for (size_t i = 0; i < n; i++)
        if (net_cidr_overlaps(c, &v[i].subnet)) {
            net_cidr_format(&v[i].subnet, s, sizeof(s));
            snprintf(desc, dlen, "network `%s` (%s)", v[i].name, s);
            return 1;
        }
    if (check == NULL)
        return 0;
    char route[128];
    int r = check(ctx, c, route, sizeof(route), err);
    if (r == 1)
        snprintf(desc, dlen, "host route %s", route);
    return r;
}

static int auto_subnet(struct net_network *v, size_t n, net_route_check_fn check, void *ctx,
                       struct net_cidr *out, ctr_error_t *err)
{
    static const struct net_cidr pools[] = {{0xc0a84000u, 18}, {0x0a590000u, 16}};
    for (size_t p = 0; p < sizeof(pools) / sizeof(pools[0]); p++) {
        uint32_t count = 1u << (24 - pools[p].prefix);
        for (uint32_t i = 0; i < count; i++) {
            struct net_cidr c = {pools[p].addr + (i << 8), 24};
            char why[256];
            int r = subnet_taken(&c, v, n, check, ctx, why, sizeof(why), err);
            if (r < 0)
                return -1;
            if (r == 0) {
                *out = c;
                return 0;
            }
        }
    }
    return net_fail(err, ENOSPC,
                    "no free /24 left in 192.168.64.0/18 or 10.89.0.0/16: give one with --subnet");
}

static json_t *labels_json(char *const *kv)
{
    json_t *o = json_object();
    for (; kv && *kv; kv++) {
        const char *eq = strchr(*kv, '=');
        cleanup_free char *k = ctr_xstrndup(*kv, eq ? (size_t)(eq - *kv) : strlen(*kv));
        json_object_set_new(o, k, json_string(eq ? eq + 1 : ""));
    }
    return o;
}

static int check_labels(char *const *kv, const char *what, ctr_error_t *err)
{
    for (; kv && *kv; kv++)
        if ((*kv)[0] == '=' || (*kv)[0] == '\0')
            return net_fail(err, EINVAL, "invalid %s `%s`: expected KEY=VALUE", what, *kv);
    return 0;
}

static int write_meta(const char *dir, const struct net_network *nw, ctr_error_t *err)
{
    char subnet[NET_CIDR_STRLEN], gw[NET_IP_STRLEN];
    cleanup_free char *path = ctr_xasprintf("%s/network.json", dir);
    net_cidr_format(&nw->subnet, subnet, sizeof(subnet));
    net_ip_format(nw->gateway, gw, sizeof(gw));
    json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:b, s:o, s:o, s:I}", "id", nw->id, "name",
                          nw->name, "bridge", nw->bridge, "subnet", subnet, "gateway", gw,
                          "internal", nw->internal, "labels", labels_json(nw->labels), "options",
                          labels_json(nw->options), "created_ns", (json_int_t)nw->created_ns);
    if (nw->range.prefix) {
        char r[NET_CIDR_STRLEN];
        net_cidr_format(&nw->range, r, sizeof(r));
        json_object_set_new(j, "ip_range", json_string(r));
    }
    if (nw->subnet_auto)
        json_object_set_new(j, "subnet_auto", json_true());
    cleanup_free char *text = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);
    json_decref(j);
    return ctr_write_file_atomic(path, text, strlen(text), 0644, err);
}

static int create_network(const char *data_root, const char *name, const char *subnet,
                          const char *ip_range, bool internal, char **labels, char **options,
                          net_route_check_fn check, void *ctx, struct net_network *out,
                          ctr_error_t *err)
{
    struct net_cidr range = {0};
    cleanup_close int lock = -1;
    struct net_network *v = NULL;
    size_t n = 0;
    struct net_cidr c;
    char id[NET_ID_LEN + 1], why[256], cs[NET_CIDR_STRLEN];
    struct timespec ts;
    struct net_network nw = {0};

    if (net_network_check_name(name, err) < 0 || check_labels(labels, "label", err) < 0 ||
        check_labels(options, "option", err) < 0)
        return -1;
    if (strcmp(name, NET_DEFAULT_ALIAS) == 0 || strcmp(name, "none") == 0 ||
        strcmp(name, "host") == 0)
        return net_fail(err, EINVAL, "network name `%s` is reserved: choose another name", name);
    const char *brname = NULL;
    if (driver_options(&nw, options, &brname, err) < 0)
        return -1;
    if (brname && (strlen(brname) >= IFNAMSIZ || strpbrk(brname, "/: \t\n") ||
                   strcmp(brname, ".") == 0 || strcmp(brname, "..") == 0))
        return net_fail(err, EINVAL, "invalid bridge name `%s`: 1 to %d characters", brname,
                        IFNAMSIZ - 1);
    if (subnet && check_subnet(subnet, &c, err) < 0)
        return -1;
    if (ip_range && *ip_range) {
        if (subnet == NULL)
            return net_fail(err, EINVAL, "ip-range `%s` needs its subnet", ip_range);
        if (net_cidr_parse(ip_range, &range, err) < 0)
            return -1;
        range.addr &= net_cidr_mask(range.prefix);
        if (range.prefix < c.prefix || !net_cidr_contains(&c, range.addr) || range.prefix > 31)
            return net_fail(err, EINVAL, "ip-range `%s` is not inside subnet `%s`", ip_range,
                            subnet);
    }
    if (lock_store(data_root, &lock, err) < 0 || net_network_list(data_root, &v, &n, err) < 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(v[i].name, name) == 0) {
            net_network_list_free(v, n);
            return net_fail(err, EEXIST, "network `%s` already exists", name);
        }
        if (brname && strcmp(v[i].bridge, brname) == 0) {
            net_fail(err, EEXIST, "bridge name `%s` is taken by network `%s`", brname, v[i].name);
            net_network_list_free(v, n);
            return -1;
        }
    }
    if (subnet) {
        int r = subnet_taken(&c, v, n, check, ctx, why, sizeof(why), err);
        if (r != 0) {
            net_network_list_free(v, n);
            if (r < 0)
                return ctr_error_wrap(err, "check subnet `%s`", subnet);
            return net_fail(err, EEXIST, "subnet %s overlaps %s: choose another --subnet", subnet,
                            why);
        }
    } else if (auto_subnet(v, n, check, ctx, &c, err) < 0) {
        net_network_list_free(v, n);
        return -1;
    }
    net_network_list_free(v, n);
    if (new_id(id, err) < 0)
        return -1;
    clock_gettime(CLOCK_REALTIME, &ts);
    nw.id = ctr_xstrdup(id);
    nw.name = ctr_xstrdup(name);
    nw.bridge = strcmp(name, NET_DEFAULT_NAME) == 0 ? ctr_xstrdup(NET_DEFAULT_BRIDGE)
                : brname                            ? ctr_xstrdup(brname)
                                                    : ctr_xasprintf("ctrbr-%.8s", id);
    nw.subnet = c;
    nw.gateway = c.addr + 1;
    nw.internal = internal;
    nw.range = range;
    nw.subnet_auto = subnet == NULL;
    nw.labels = labels ? ctr_strv_dup(labels) : ctr_xcalloc(1, sizeof(char *));
    nw.options = options ? ctr_strv_dup(options) : ctr_xcalloc(1, sizeof(char *));
    nw.created_ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;

    cleanup_free char *dir = net_network_dir(data_root, id);
    if (ctr_mkdir_p(dir, 0700, err) < 0 || write_meta(dir, &nw, err) < 0) {
        ctr_rm_rf(dir, NULL);
        net_network_release(&nw);
        return ctr_error_wrap(err, "create network `%s`", name);
    }
    net_cidr_format(&c, cs, sizeof(cs));
    log_info("created network %s (%s, bridge %s)", name, cs, nw.bridge);
    if (out)
        *out = nw;
    else
        net_network_release(&nw);
    return 0;
}

static int host_routes(void *ctx, const struct net_cidr *c, char *desc, size_t n, ctr_error_t *err)
{
    return net_route_conflict(c, desc, n, err);
}

int net_network_create_with(const char *data_root, const char *name, const char *subnet,
                            bool internal, char **labels, net_route_check_fn check, void *ctx,
                            struct net_network *out, ctr_error_t *err)
{
    return create_network(data_root, name, subnet, NULL, internal, labels, NULL, check, ctx, out,
                          err);
}

int net_network_create_with_options(const char *data_root, const char *name, const char *subnet,
                                    const char *ip_range, char **options, net_route_check_fn check,
                                    void *ctx, struct net_network *out, ctr_error_t *err)
{
    return create_network(data_root, name, subnet, ip_range, false, NULL, options, check, ctx, out,
                          err);
}

int net_network_create(const char *data_root, const char *name, const char *subnet, bool internal,
                       char **labels, char **options, struct net_network *out, ctr_error_t *err)
{
    return create_network(data_root, name, subnet, NULL, internal, labels, options, host_routes,
                          NULL, out, err);
}

int net_network_create_range(const char *data_root, const char *name, const char *subnet,
                             const char *ip_range, bool internal, char **labels, char **options,
                             struct net_network *out, ctr_error_t *err)
{
    return create_network(data_root, name, subnet, ip_range, internal, labels, options, host_routes,
                          NULL, out, err);
}

int net_network_remove(const char *data_root, const char *name_or_id, ctr_error_t *err)
{
    cleanup_close int lock = -1;
    struct net_network nw = {0};
    if (lock_store(data_root, &lock, err) < 0 ||
        net_network_load(data_root, name_or_id, &nw, err) < 0)
        return -1;
    cleanup_free char *dir = net_network_dir(data_root, nw.id);
    cleanup_free char *meta = ctr_xasprintf("%s/network.json", dir);
    /* network.json first: a crash half-way leaves a directory list() ignores, not a
     * network without its allocations. */
    if (unlink(meta) < 0 && errno != ENOENT) {
        ctr_fail(err, errno, "remove `%s`", meta);
        net_network_release(&nw);
        return -1;
    }
    int r = ctr_rm_rf(dir, err);
    net_network_release(&nw);
    return r;
}
