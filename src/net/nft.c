/* The `inet container` nftables table, rebuilt as a whole from the list of networks in
 * one transaction (libnftables runs a buffer atomically): add (so delete cannot fail),
 * delete, then the full new table. No other table is read or written. */
#include "net/net-internal.h"

#include <errno.h>
#include <nftables/libnftables.h>
#include <stdlib.h>
#include <string.h>

struct sbuf {
    char *s;
    size_t len, cap;
};

static void add(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add(struct sbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    if ((size_t)n >= b->cap - b->len) {
        b->cap = (b->len + (size_t)n + 1) * 2;
        b->s = ctr_xrealloc(b->s, b->cap);
        va_start(ap, fmt);
        vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
    }
    b->len += (size_t)n;
}

char *net_nft_script(const struct net_nft_network *nets, size_t n)
{
    struct sbuf b = {ctr_xmalloc(1024), 0, 1024};
    char subnet[NET_CIDR_STRLEN];

    add(&b, "add table inet container\ndelete table inet container\n");
    if (n == 0)
        return b.s;
    add(&b, "table inet container {\n"
            "\tchain forward {\n"
            "\t\ttype filter hook forward priority filter; policy accept;\n"
            "\t\tct state established,related accept\n");
    /* Isolation first: nothing crosses from one of our bridges to another. */
    for (size_t i = 0; i < n && n > 1; i++) {
        add(&b, "\t\tiifname \"%s\" oifname { ", nets[i].bridge);
        for (size_t j = 0, k = 0; j < n; j++)
            if (j != i)
                add(&b, "%s\"%s\"", k++ ? ", " : "", nets[j].bridge);
        add(&b, " } drop\n");
    }
    for (size_t i = 0; i < n; i++) {
        const char *br = nets[i].bridge;
        if (nets[i].internal) {
            /* Only bridge-local traffic; the host itself (gateway, DNS) is input, not here. */
            add(&b, "\t\tiifname \"%s\" oifname != \"%s\" drop\n", br, br);
            add(&b, "\t\toifname \"%s\" iifname != \"%s\" drop\n", br, br);
        } else {
            /* Out to anywhere; in only as replies (published ports go through the shim's
             * proxy, so nothing needs routing in). */
            add(&b, "\t\tiifname \"%s\" accept\n", br);
            add(&b, "\t\toifname \"%s\" iifname != \"%s\" drop\n", br, br);
        }
    }
    add(&b, "\t}\n"
            "\tchain postrouting {\n"
            "\t\ttype nat hook postrouting priority srcnat; policy accept;\n");
    for (size_t i = 0; i < n; i++) {
        if (nets[i].internal || nets[i].no_masquerade)
            continue;
        struct net_cidr c = {nets[i].subnet.addr & net_cidr_mask(nets[i].subnet.prefix),
                             nets[i].subnet.prefix};
        net_cidr_format(&c, subnet, sizeof(subnet));
        add(&b, "\t\tip saddr %s oifname != \"%s\" masquerade\n", subnet, nets[i].bridge);
    }
    add(&b, "\t}\n}\n");
    return b.s;
}

static bool bridge_name_ok(const char *s)
{
    size_t i = 0;
    if (s == NULL)
        return false;
    for (; s[i]; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
              (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '_' || s[i] == '.'))
            return false;
    return i > 0 && i < 16;
}

static int run_script(const char *script, const char *what, ctr_error_t *err)
{
    struct nft_ctx *nft = nft_ctx_new(NFT_CTX_DEFAULT);
    if (nft == NULL)
        return ctr_fail(err, ENOMEM, "libnftables: cannot create a context");
    nft_ctx_buffer_output(nft);
    nft_ctx_buffer_error(nft);
    int r = nft_run_cmd_from_buffer(nft, script);
    if (r != 0) {
        const char *e = nft_ctx_get_error_buffer(nft);
        cleanup_free char *msg = ctr_xstrdup(e && *e ? e : "unknown error");
        size_t len = strlen(msg);
        while (len && msg[len - 1] == '\n')
            msg[--len] = '\0';
        nft_ctx_free(nft);
        return ctr_fail(err, 0, "%s: %s", what, msg);
    }
    nft_ctx_free(nft);
    return 0;
}

char *net_nft_splice_script(const char *table, const char *tap, const char *peer, uint32_t addr)
{
    char a[NET_IP_STRLEN];
    net_ip_format(addr, a, sizeof(a));
    return ctr_xasprintf("add table netdev %s\n"
                         "delete table netdev %s\n"
                         "table netdev %s {\n"
                         "\tchain fromvm {\n"
                         "\t\ttype filter hook ingress device \"%s\" priority 0; policy accept;\n"
                         "\t\tip saddr %s fwd to \"%s\"\n"
                         "\t\tarp saddr ip %s fwd to \"%s\"\n"
                         "\t}\n"
                         "\tchain tovm {\n"
                         "\t\ttype filter hook ingress device \"%s\" priority 0; policy accept;\n"
                         "\t\tfwd to \"%s\"\n"
                         "\t}\n"
                         "}\n",
                         table, table, table, tap, a, peer, a, peer, peer, tap);
}

static bool bridge_name_ok(const char *s);

int net_nft_splice(const char *table, const char *tap, const char *peer, uint32_t addr,
                   ctr_error_t *err)
{
    if (!bridge_name_ok(table) || !bridge_name_ok(tap) || !bridge_name_ok(peer))
        return net_fail(err, EINVAL, "invalid names for a netdev table: `%s`, `%s`, `%s`",
                        table ?: "", tap ?: "", peer ?: "");
    cleanup_free char *script = net_nft_splice_script(table, tap, peer, addr);
    cleanup_free char *what = ctr_xasprintf("load nftables table `netdev %s`", table);
    return run_script(script, what, err);
}

int net_nft_splice_delete(const char *table, ctr_error_t *err)
{
    if (!bridge_name_ok(table))
        return net_fail(err, EINVAL, "invalid netdev table name `%s`", table ?: "");
    cleanup_free char *script =
        ctr_xasprintf("add table netdev %s\ndelete table netdev %s\n", table, table);
    cleanup_free char *what = ctr_xasprintf("delete nftables table `netdev %s`", table);
    return run_script(script, what, err);
}

int net_nft_apply(const struct net_nft_network *nets, size_t n, ctr_error_t *err)
{
    for (size_t i = 0; i < n; i++)
        if (!bridge_name_ok(nets[i].bridge))
            return net_fail(err, EINVAL, "invalid bridge name `%s` for the nftables rules",
                            nets[i].bridge ?: "");
    cleanup_free char *script = net_nft_script(nets, n);
    return run_script(
        script,
        n ? "load nftables table `inet container`" : "delete nftables table `inet container`", err);
}
