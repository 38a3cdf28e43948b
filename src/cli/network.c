/* Networking in the CLI: `container network create/ls/inspect/rm/prune/connect/disconnect`
 * (thin calls to docker's /networks routes), `container port`, and the network flags of
 * `run`/`create` (-p, --network, --network-alias, --dns*, --no-dns, --add-host), checked here so
 * a typo fails before anything is made; the daemon checks them again. */
#include "cli/cli.h"

#include "net/net.h"
#include "net/ports.h"
#include "proto/agent-msg.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

static int ipv4_check(const char *flag, const char *v, const char *ip, ctr_error_t *err)
{
    struct in_addr a;
    struct in6_addr a6;
    if (inet_pton(AF_INET, ip, &a) == 1)
        return 0;
    if (inet_pton(AF_INET6, ip, &a6) == 1)
        return ctr_fail(err, 0,
                        "invalid value `%s` for `--%s`: `%s` is IPv6; only IPv4 is supported", v,
                        flag, ip);
    return ctr_fail(err, 0, "invalid value `%s` for `--%s`: `%s` is not an IPv4 address", v, flag,
                    ip);
}

int cli_run_net_flag(struct cli_run_opts *o, const char *flag, const char *v, ctr_error_t *err)
{
    if (strcmp(flag, "publish") == 0)
        return net_ports_parse(v, &o->ports, &o->n_ports, err);
    if (strcmp(flag, "network") == 0) {
        if (strcmp(v, "host") == 0)
            return ctr_fail(err, 0,
                            "invalid value `host` for `--network`: each container is its own VM, "
                            "it cannot share the host's network; publish ports with `-p`");
        if (strncmp(v, "container:", 10) == 0)
            return ctr_fail(err, 0,
                            "invalid value `%s` for `--network`: sharing another container's "
                            "network is not supported (each container is its own VM)",
                            v);
        if (net_network_check_name(v, NULL) < 0)
            return ctr_fail(err, 0,
                            "invalid value `%s` for `--network`: a network name is not blank, "
                            "has no control characters and at most 255 bytes",
                            v);
        for (char **n = o->networks; n && *n; n++)
            if (strcmp(*n, v) == 0)
                return ctr_fail(err, 0, "`--network %s` given twice", v);
        ctr_strv_append(&o->networks, v);
    } else if (strcmp(flag, "network-alias") == 0) {
        if (!net_dns_name_ok(v))
            return ctr_fail(err, 0,
                            "invalid value `%s` for `--network-alias`: a DNS name has letters, "
                            "digits, `-`, `_` and `.`",
                            v);
        ctr_strv_append(&o->net_aliases, v);
    } else if (strcmp(flag, "ip") == 0) {
        uint32_t a;
        if (net_ip_parse(v, &a, NULL) < 0)
            return ctr_fail(err, 0, "invalid value `%s` for `--ip`: an IPv4 address", v);
        free(o->ip);
        o->ip = ctr_xstrdup(v);
    } else if (strcmp(flag, "mac-address") == 0) {
        uint8_t m[6];
        if (!agent_mac_parse(v, m))
            return ctr_fail(err, 0,
                            "invalid value `%s` for `--mac-address`: a unicast MAC like "
                            "02:42:ac:11:00:02",
                            v);
        free(o->mac);
        o->mac = ctr_xstrdup(v);
    } else if (strcmp(flag, "dns") == 0) {
        if (ipv4_check("dns", v, v, err) < 0)
            return -1;
        ctr_strv_append(&o->dns, v);
    } else if (strcmp(flag, "dns-search") == 0) {
        if (strcmp(v, ".") != 0 && !net_dns_name_ok(v))
            return ctr_fail(err, 0,
                            "invalid value `%s` for `--dns-search`: expected a domain such as "
                            "example.com (or `.` for none)",
                            v);
        ctr_strv_append(&o->dns_search, v);
    } else if (strcmp(flag, "dns-option") == 0) {
        if (*v == '\0' || strpbrk(v, " \t\n"))
            return ctr_fail(err, 0,
                            "invalid value `%s` for `--dns-option`: expected one resolv.conf "
                            "option such as ndots:2",
                            v);
        ctr_strv_append(&o->dns_options, v);
    } else if (strcmp(flag, "no-dns") == 0) {
        o->no_dns = true;
    } else if (strcmp(flag, "add-host") == 0) {
        /* NAME:IP (docker) or NAME=IP (docker >= 25) */
        const char *sep = strpbrk(v, ":=");
        if (sep == NULL || sep == v)
            return ctr_fail(err, 0, "invalid value `%s` for `--add-host`: expected NAME:IP", v);
        cleanup_free char *name = ctr_xstrndup(v, (size_t)(sep - v));
        if (!net_dns_name_ok(name))
            return ctr_fail(err, 0, "invalid value `%s` for `--add-host`: `%s` is not a host name",
                            v, name);
        if (strcmp(sep + 1, "host-gateway") != 0 && ipv4_check("add-host", v, sep + 1, err) < 0)
            return -1;
        /* the daemon takes docker's NAME:IP */
        cleanup_free char *norm = ctr_xasprintf("%s:%s", name, sep + 1);
        ctr_strv_append(&o->add_hosts, norm);
    }
    return 0;
}

int cli_run_net_check(const struct cli_run_opts *o, ctr_error_t *err)
{
    bool none = false;
    for (char **n = o->networks; n && *n; n++)
        none |= strcmp(*n, "none") == 0;
    if (none && ctr_strv_len(o->networks) > 1)
        return ctr_fail(err, 0, "`--network none` cannot be combined with other networks");
    if (none && o->n_ports)
        return ctr_fail(err, 0,
                        "`-p` needs a network: a container with `--network none` has only "
                        "loopback");
    if (none && o->net_aliases)
        return ctr_fail(err, 0, "`--network-alias` needs a network (not `--network none`)");
    if (none && (o->ip || o->mac))
        return ctr_fail(err, 0, "`--ip` and `--mac-address` need a network (not `--network none`)");
    if (o->no_dns && (o->dns || o->dns_search || o->dns_options))
        return ctr_fail(err, 0,
                        "`--no-dns` cannot be combined with `--dns`, `--dns-search` or "
                        "`--dns-option`");
    return 0;
}

static json_t *strv_array(char **v)
{
    return cli_json_strv(v);
}

void cli_run_net_json(const struct cli_run_opts *o, json_t *body, json_t *hc)
{
    if (o->n_ports) {
        json_object_set_new(hc, "PortBindings", net_ports_to_docker(o->ports, o->n_ports));
        json_object_set_new(body, "ExposedPorts", net_ports_exposed(o->ports, o->n_ports));
    }
    const char *first = o->networks                         ? o->networks[0]
                        : o->net_aliases || o->ip || o->mac ? "default"
                                                            : NULL;
    if (first) {
        json_object_set_new(hc, "NetworkMode", ctr_json_str(first));
        json_t *eps = json_object();
        if (strcmp(first, "none") != 0) {
            for (char **n = o->networks; n && *n; n++) {
                cleanup_free char *k = ctr_utf8_fix(*n);
                json_object_set_new(eps, k, json_object());
            }
            /* docker: aliases, --ip and --mac-address belong to the first network */
            cleanup_free char *k = ctr_utf8_fix(first);
            json_t *ep = json_object();
            if (o->net_aliases)
                json_object_set_new(ep, "Aliases", strv_array(o->net_aliases));
            if (o->ip)
                json_object_set_new(ep, "IPAMConfig", json_pack("{s:s}", "IPv4Address", o->ip));
            if (o->mac)
                json_object_set_new(ep, "MacAddress", json_string(o->mac));
            json_object_set_new(eps, k, ep);
        }
        json_object_set_new(body, "NetworkingConfig", json_pack("{s:o}", "EndpointsConfig", eps));
    }
    if (o->dns)
        json_object_set_new(hc, "Dns", strv_array(o->dns));
    if (o->dns_search)
        json_object_set_new(hc, "DnsSearch", strv_array(o->dns_search));
    if (o->dns_options)
        json_object_set_new(hc, "DnsOptions", strv_array(o->dns_options));
    if (o->add_hosts)
        json_object_set_new(hc, "ExtraHosts", strv_array(o->add_hosts));
    if (o->no_dns)
        json_object_set_new(hc, "ContainerNoDns", json_true());
}

void cli_run_net_release(struct cli_run_opts *o)
{
    free(o->ports);
    ctr_strv_free(o->networks);
    ctr_strv_free(o->net_aliases);
    free(o->ip);
    free(o->mac);
    ctr_strv_free(o->dns);
    ctr_strv_free(o->dns_search);
    ctr_strv_free(o->dns_options);
    ctr_strv_free(o->add_hosts);
}

/* ---- addresses and ports of a container (ls, port) ---- */

const char *cli_container_addr(json_t *c)
{
    json_t *nets = json_object_get(json_object_get(c, "NetworkSettings"), "Networks");
    const char *mode = cli_json_str(json_object_get(c, "HostConfig"), "NetworkMode");
    json_t *n = mode ? json_object_get(nets, mode) : NULL;
    if (n == NULL) { /* the first network (jansson keeps the daemon's order) */
        void *it = json_object_iter(nets);
        n = it ? json_object_iter_value(it) : NULL;
    }
    const char *ip = cli_json_str(n, "IPAddress");
    return ip && *ip ? ip : "";
}

struct port_row {
    const char *ip, *type;
    int64_t priv, pub;
};

static int port_cmp(const void *a, const void *b)
{
    const struct port_row *x = a, *y = b;
    int c = strcmp(x->type, y->type);
    if (x->priv != y->priv)
        return x->priv < y->priv ? -1 : 1;
    if (c)
        return c;
    if ((c = strcmp(x->ip, y->ip)))
        return c;
    return x->pub < y->pub ? -1 : x->pub > y->pub;
}

char *cli_ports_column(json_t *ports)
{
    size_t n = json_array_size(ports), k = 0;
    cleanup_free struct port_row *r = ctr_xcalloc(n ? n : 1, sizeof(*r));
    json_t *p;
    size_t i;
    json_array_foreach(ports, i, p)
    {
        r[k].ip = cli_json_str(p, "IP") ? cli_json_str(p, "IP") : "";
        r[k].type = cli_json_str(p, "Type") ? cli_json_str(p, "Type") : "tcp";
        r[k].priv = cli_json_int(p, "PrivatePort");
        r[k].pub = cli_json_int(p, "PublicPort");
        k++;
    }
    qsort(r, k, sizeof(*r), port_cmp);
    char *out = ctr_xstrdup("");
    for (i = 0; i < k;) {
        /* runs of consecutive ports on the same address and protocol print as ranges */
        size_t j = i + 1;
        while (j < k && strcmp(r[j].ip, r[i].ip) == 0 && strcmp(r[j].type, r[i].type) == 0 &&
               r[j].priv == r[j - 1].priv + 1 &&
               (r[i].pub ? r[j].pub == r[j - 1].pub + 1 : r[j].pub == 0))
            j++;
        cleanup_free char *priv =
            j - i > 1 ? ctr_xasprintf("%lld-%lld", (long long)r[i].priv, (long long)r[j - 1].priv)
                      : ctr_xasprintf("%lld", (long long)r[i].priv);
        cleanup_free char *pub =
            !r[i].pub   ? NULL
            : j - i > 1 ? ctr_xasprintf("%lld-%lld", (long long)r[i].pub, (long long)r[j - 1].pub)
                        : ctr_xasprintf("%lld", (long long)r[i].pub);
        char *e = pub ? ctr_xasprintf("%s%s%s:%s->%s/%s", out, *out ? ", " : "",
                                      *r[i].ip ? r[i].ip : "0.0.0.0", pub, priv, r[i].type)
                      : ctr_xasprintf("%s%s%s/%s", out, *out ? ", " : "", priv, r[i].type);
        free(out);
        out = e;
        i = j;
    }
    return out;
}

/* `container port CONTAINER [PRIVATE_PORT[/PROTO]]` from inspect's NetworkSettings.Ports. */
int cli_port_print(json_t *info, const char *container, const char *filter, FILE *f,
                   ctr_error_t *err)
{
    json_t *ports = json_object_get(json_object_get(info, "NetworkSettings"), "Ports");
    char want[32] = "";
    if (filter) {
        char *e = NULL;
        long p = strtol(filter, &e, 10);
        const char *proto = *e == '/' ? e + 1 : "tcp";
        if (e == filter || (*e && *e != '/') || p < 1 || p > 65535 ||
            (strcmp(proto, "tcp") != 0 && strcmp(proto, "udp") != 0))
            return ctr_fail(err, 0, "invalid port `%s`: expected PORT or PORT/PROTO such as 80/tcp",
                            filter);
        snprintf(want, sizeof(want), "%ld/%s", p, proto);
    }
    /* sorted by port number, then protocol */
    size_t total = 0, k = 0;
    const char *key;
    json_t *v;
    json_object_foreach(ports, key, v) total += json_array_size(v);
    cleanup_free struct port_row *r = ctr_xcalloc(total ? total : 1, sizeof(*r));
    json_object_foreach(ports, key, v)
    {
        if (*want && strcmp(key, want) != 0)
            continue;
        size_t i;
        json_t *b;
        json_array_foreach(v, i, b)
        {
            const char *hp = cli_json_str(b, "HostPort");
            if (hp == NULL || *hp == '\0')
                continue;
            r[k].type = key;
            r[k].priv = strtol(key, NULL, 10);
            r[k].ip = cli_json_str(b, "HostIp") ? cli_json_str(b, "HostIp") : "";
            r[k].pub = strtol(hp, NULL, 10);
            k++;
        }
    }
    if (*want && k == 0)
        return ctr_fail(err, 0, "no public port `%s` published for `%s`", want, container);
    qsort(r, k, sizeof(*r), port_cmp);
    for (size_t i = 0; i < k; i++) {
        const char *ip = *r[i].ip ? r[i].ip : "0.0.0.0";
        if (*want)
            fprintf(f, "%s:%lld\n", ip, (long long)r[i].pub);
        else
            fprintf(f, "%s -> %s:%lld\n", r[i].type, ip, (long long)r[i].pub);
    }
    return 0;
}

int cli_cmd_port(struct cli_ctx *ctx, int argc, char **argv, ctr_error_t *err)
{
    static const struct cli_option opts[] = {
        CLI_OPT_END,
    };
    cleanup_strv char **pos = NULL;
    int r = cli_parse_opts(ctx->name, opts, 0, argc, argv, NULL, NULL, &pos, err);
    if (r != 0) {
        if (r == 1)
            cli_print_usage(ctx, opts, stdout);
        return r == 1 ? 0 : -1;
    }
    if (cli_check_args(ctx->name, pos, 1, 2, "a container and an optional PORT[/PROTO]", err) < 0)
        return -1;
    json_t *info = NULL;
    cleanup_free char *eid = cli_esc(pos[0]);
    cleanup_free char *path = cli_path("/containers/%s/json", eid);
    if (cli_call(ctx, "GET", path, NULL, &info, err) < 0)
        return -1;
    r = cli_port_print(info, pos[0], pos[1], stdout, err);
    json_decref(info);
    return r;
}

/* ---- container network ... ---- */

enum { O_SUBNET = 1, O_INTERNAL, O_LABEL, O_DRIVER, O_QUIET, O_FORMAT, O_FORCE, O_ALIAS, O_FILTER };

struct netcmd_opts {
    const char *subnet;
    bool internal, quiet, force;
    char **labels, **aliases, **filters;
    enum cli_format format;
};

static int netcmd_opt(void *opaque, int id, const char *v, ctr_error_t *err)
{
    struct netcmd_opts *o = opaque;
    switch (id) {
    case O_SUBNET:
        if (o->subnet)
            return ctr_fail(err, 0, "`--subnet` given twice: a network has one IPv4 subnet");
        struct net_cidr c;
        if (strchr(v, '/') == NULL)
            return ctr_fail(err, 0,
                            "invalid value `%s` for `--subnet`: expected an IPv4 CIDR such as "
                            "10.10.0.0/24",
                            v);
        if (net_cidr_parse(v, &c, err) < 0)
            return ctr_error_wrap(err, "invalid value for `--subnet`");
        o->subnet = v;
        break;
    case O_INTERNAL:
        o->internal = true;
        break;
    case O_LABEL:
        if (*v == '\0' || *v == '=')
            return ctr_fail(err, 0, "invalid value `%s` for `--label`: expected KEY=VALUE", v);
        ctr_strv_append(&o->labels, v);
        break;
    case O_ALIAS:
        if (!net_dns_name_ok(v))
            return ctr_fail(err, 0,
                            "invalid value `%s` for `--alias`: a DNS name has letters, digits, "
                            "`-`, `_` and `.`",
                            v);
        ctr_strv_append(&o->aliases, v);
        break;
    case O_DRIVER:
        if (strcmp(v, "bridge") != 0)
            return ctr_fail(err, 0, "network driver `%s` is not supported: use `bridge`", v);
        break;
    case O_FILTER:
        if (strchr(v, '=') == NULL || *v == '=')
            return ctr_fail(err, 0, "invalid value `%s` for `--filter`: expected KEY=VALUE", v);
        ctr_strv_append(&o->filters, v);
        break;
    case O_QUIET:
        o->quiet = true;
        break;
    case O_FORCE:
        o->force = true;
        break;
    case O_FORMAT:
        return cli_parse_format(v, &o->format, err);
    }
    return 0;
}

static void netcmd_release(struct netcmd_opts *o)
{
    ctr_strv_free(o->labels);
    ctr_strv_free(o->aliases);
    ctr_strv_free(o->filters);
}

/* Parse; 1 = help printed, -1 error, 0 go on (positional count checked). */
static int netcmd_parse(struct cli_ctx *ctx, const struct cli_option *opts, int argc, char **argv,
                        struct netcmd_opts *o, char ***pos, int min, int max, const char *what,
                        ctr_error_t *err)
{
    *o = (struct netcmd_opts){0};
    int r = cli_parse_opts(ctx->name, opts, 0, argc, argv, netcmd_opt, o, pos, err);
    if (r == 1)
        cli_print_usage(ctx, opts, stdout);
    if (r == 0 && cli_check_args(ctx->name, *pos, min, max, what, err) < 0)
        r = -1;
    if (r != 0)
        netcmd_release(o);
    return r;
}

json_t *cli_network_create_body(const char *name, const char *subnet, bool internal, char **labels)
{
    json_t *l = json_object();
    for (char **p = labels; p && *p; p++) {
        const char *eq = strchr(*p, '=');
        cleanup_free char *k = ctr_xstrndup(*p, eq ? (size_t)(eq - *p) : strlen(*p));
        cli_json_set_text(l, k, eq ? eq + 1 : "");
    }
    json_t *cfg = json_array();
    if (subnet)
        json_array_append_new(cfg, json_pack("{s:o}", "Subnet", ctr_json_str(subnet)));
    return json_pack("{s:o, s:s, s:b, s:b, s:o, s:{s:s, s:o}}", "Name", ctr_json_str(name),
                     "Driver", "bridge", "CheckDuplicate", 1, "Internal", internal, "Labels", l,
                     "IPAM", "Driver", "default", "Config", cfg);
}

int cli_cmd_network_create(struct cli_ctx *ctx, int argc, char **argv, ctr_error_t *err)
{
    static const struct cli_option opts[] = {
        CLI_OPT_ARG(0, "subnet", "CIDR", O_SUBNET,
                    "IPv4 subnet (default: a free /24 of 192.168.64.0/18)"),
        CLI_OPT_BOOL(0, "internal", O_INTERNAL, "no route to the outside (no NAT)"),
        CLI_OPT_ARG('l', "label", "KEY=VALUE", O_LABEL, "add a label"),
        CLI_OPT_ARG('d', "driver", "DRIVER", O_DRIVER, "only `bridge`"),
        CLI_OPT_END,
    };
    struct netcmd_opts o;
    cleanup_strv char **pos = NULL;
    int r = netcmd_parse(ctx, opts, argc, argv, &o, &pos, 1, 1, "a network name", err);
    if (r != 0)
        return r == 1 ? 0 : -1;
    if (net_network_check_name(pos[0], NULL) < 0) {
        netcmd_release(&o);
        return ctr_fail(err, 0,
                        "invalid network name `%s`: it must not be blank, have control "
                        "characters or more than 255 bytes",
                        pos[0]);
    }
    json_t *body = cli_network_create_body(pos[0], o.subnet, o.internal, o.labels), *resp = NULL;
    cleanup_free char *path = cli_path("/networks/create");
    r = cli_call(ctx, "POST", path, body, &resp, err);
    json_decref(body);
    netcmd_release(&o);
    if (r < 0)
        return -1;
    const char *w = cli_json_str(resp, "Warning");
    if (w && *w)
        fprintf(stderr, "WARNING: %s\n", w);
    printf("%s\n", cli_json_str(resp, "Id") ? cli_json_str(resp, "Id") : pos[0]);
    json_decref(resp);
    return 0;
}

static const char *first_subnet(json_t *n, const char *field)
{
    json_t *c = json_array_get(json_object_get(json_object_get(n, "IPAM"), "Config"), 0);
    const char *s = cli_json_str(c, field);
    return s ? s : "";
}

/* The API names the default network `bridge`, as docker; this CLI calls it `default`. */
static void local_names(json_t *list)
{
    json_t *n;
    size_t i;
    json_array_foreach(list, i, n)
    {
        const char *name = cli_json_str(n, "Name");
        if (name && strcmp(name, NET_DEFAULT_ALIAS) == 0)
            json_object_set_new(n, "Name", json_string(NET_DEFAULT_NAME));
    }
}

void cli_network_print_table(json_t *list, FILE *f)
{
    static const char *const hdr[] = {"NETWORK ID", "NAME",     "DRIVER", "SUBNET",
                                      "GATEWAY",    "INTERNAL", NULL};
    struct cli_table *t = cli_table_new(hdr);
    json_t *n;
    size_t i;
    json_array_foreach(list, i, n)
    {
        cleanup_free char *id = cli_short_id(cli_json_str(n, "Id"));
        const char *cells[] = {id,
                               cli_json_str(n, "Name"),
                               cli_json_str(n, "Driver"),
                               first_subnet(n, "Subnet"),
                               first_subnet(n, "Gateway"),
                               cli_json_bool(n, "Internal") ? "true" : "false"};
        cli_table_add(t, cells);
    }
    cli_table_print(t, f);
    cli_table_free(t);
}

int cli_cmd_network_ls(struct cli_ctx *ctx, int argc, char **argv, ctr_error_t *err)
{
    static const struct cli_option opts[] = {
        CLI_OPT_BOOL('q', "quiet", O_QUIET, "print only the ids"),
        CLI_OPT_ARG(0, "format", "json|table", O_FORMAT, "output format"),
        CLI_OPT_ARG('f', "filter", "KEY=VALUE", O_FILTER,
                    "name, id, label=KEY[=VALUE], driver, scope, type, dangling"),
        CLI_OPT_END,
    };
    struct netcmd_opts o;
    cleanup_strv char **pos = NULL;
    int r = netcmd_parse(ctx, opts, argc, argv, &o, &pos, 0, 0, "no arguments", err);
    if (r != 0)
        return r == 1 ? 0 : -1;
    json_t *list = NULL, *n;
    size_t i;
    cleanup_free char *q = cli_filters_query(o.filters);
    cleanup_free char *path = cli_path("/networks%s", q);
    netcmd_release(&o);
    if (cli_call(ctx, "GET", path, NULL, &list, err) < 0)
        return -1;
    if (!json_is_array(list)) {
        json_decref(list);
        return ctr_fail(err, 0, "the daemon sent a network list that is not an array");
    }
    local_names(list);
    if (o.quiet)
        json_array_foreach(list, i, n)
        {
            cleanup_free char *id = cli_short_id(cli_json_str(n, "Id"));
            printf("%s\n", id);
        }
    else if (o.format == CLI_FORMAT_JSON)
        cli_print_json(list, stdout);
    else
        cli_network_print_table(list, stdout);
    json_decref(list);
    return 0;
}

int cli_cmd_network_inspect(struct cli_ctx *ctx, int argc, char **argv, ctr_error_t *err)
{
    static const struct cli_option opts[] = {
        CLI_OPT_END,
    };
    struct netcmd_opts o;
    cleanup_strv char **pos = NULL;
    int rc = 0;
    int r = netcmd_parse(ctx, opts, argc, argv, &o, &pos, 1, -1, "at least one network", err);
    if (r != 0)
        return r == 1 ? 0 : -1;
    json_t *out = cli_get_each(ctx, "network inspect", "networks", "", pos, &rc);
    local_names(out);
    cli_print_json(out, stdout);
    json_decref(out);
    return rc;
}

int cli_cmd_network_rm(struct cli_ctx *ctx, int argc, char **argv, ctr_error_t *err)
{
    static const struct cli_option opts[] = {
        CLI_OPT_BOOL('f', "force", O_FORCE, "no error for a network that does not exist"),
        CLI_OPT_END,
    };
    struct netcmd_opts o;
    cleanup_strv char **pos = NULL;
    int r = netcmd_parse(ctx, opts, argc, argv, &o, &pos, 1, -1, "at least one network", err);
    if (r != 0)
        return r == 1 ? 0 : -1;
    return cli_delete_each(ctx, "network rm", "networks", pos, o.force);
}

int cli_cmd_network_prune(struct cli_ctx *ctx, int argc, char **argv, ctr_error_t *err)
{
    static const struct cli_option opts[] = {
        CLI_OPT_BOOL('f', "force", O_FORCE, "accepted for docker (never asks)"),
        CLI_OPT_ARG(0, "filter", "label=KEY[=VALUE]", O_FILTER, "only networks with this label"),
        CLI_OPT_END,
    };
    struct netcmd_opts o;
    cleanup_strv char **pos = NULL;
    int r = netcmd_parse(ctx, opts, argc, argv, &o, &pos, 0, 0, "no arguments", err);
    if (r != 0)
        return r == 1 ? 0 : -1;
    json_t *resp = NULL, *v;
    size_t i;
    cleanup_free char *q = cli_filters_query(o.filters);
    cleanup_free char *path = cli_path("/networks/prune%s", q);
    netcmd_release(&o);
    if (cli_call(ctx, "POST", path, NULL, &resp, err) < 0)
        return -1;
    json_t *del = json_object_get(resp, "NetworksDeleted");
    if (json_array_size(del)) {
        printf("Deleted Networks:\n");
        json_array_foreach(del, i, v) printf("%s\n", json_string_value(v));
    }
    json_decref(resp);
    return 0;
}

static int connect_common(struct cli_ctx *ctx, int argc, char **argv, bool connect,
                          ctr_error_t *err)
{
    static const struct cli_option copts[] = {
        CLI_OPT_ARG(0, "alias", "NAME", O_ALIAS,
                    "another DNS name of the container on this network"),
        CLI_OPT_END,
    };
    static const struct cli_option dopts[] = {
        CLI_OPT_BOOL('f', "force", O_FORCE, "no error when the container is not attached"),
        CLI_OPT_END,
    };
    struct netcmd_opts o;
    cleanup_strv char **pos = NULL;
    int r = netcmd_parse(ctx, connect ? copts : dopts, argc, argv, &o, &pos, 2, 2,
                         "a network and a container", err);
    if (r != 0)
        return r == 1 ? 0 : -1;
    json_t *body =
        connect ? json_pack("{s:o, s:{s:o}}", "Container", ctr_json_str(pos[1]), "EndpointConfig",
                            "Aliases", strv_array(o.aliases))
                : json_pack("{s:o, s:b}", "Container", ctr_json_str(pos[1]), "Force", o.force);
    cleanup_free char *en = cli_esc(pos[0]);
    cleanup_free char *path = cli_path("/networks/%s/%s", en, connect ? "connect" : "disconnect");
    r = cli_call(ctx, "POST", path, body, NULL, err);
    json_decref(body);
    netcmd_release(&o);
    return r < 0 ? -1 : 0;
}

int cli_cmd_network_connect(struct cli_ctx *ctx, int argc, char **argv, ctr_error_t *err)
{
    return connect_common(ctx, argc, argv, true, err);
}

int cli_cmd_network_disconnect(struct cli_ctx *ctx, int argc, char **argv, ctr_error_t *err)
{
    return connect_common(ctx, argc, argv, false, err);
}
