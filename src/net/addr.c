/* IPv4 addresses, subnets and the MACs derived from them. Strict dotted-quad parsing:
 * no octal, hex or shortened forms (inet_aton's "10.1" would surprise a user). */
#include "net/net-internal.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool net_dns_name_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > 253 || s[0] == '-' || s[0] == '.')
        return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_' && *s != '.')
            return false;
    return true;
}

uint32_t net_cidr_mask(uint8_t prefix)
{
    return prefix == 0 ? 0 : prefix >= 32 ? 0xffffffffu : ~((1u << (32 - prefix)) - 1);
}

/* Parses a dotted quad at s; returns characters consumed or 0. */
static size_t parse_quad(const char *s, uint32_t *out)
{
    const char *p = s;
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned n = 0;
        int digits = 0;
        if (i > 0) {
            if (*p != '.')
                return 0;
            p++;
        }
        while (*p >= '0' && *p <= '9') {
            if (digits == 1 && n == 0)
                return 0; /* a leading zero reads as octal elsewhere */
            n = n * 10 + (unsigned)(*p - '0');
            if (++digits > 3 || n > 255)
                return 0;
            p++;
        }
        if (digits == 0)
            return 0;
        v = v << 8 | n;
    }
    *out = v;
    return (size_t)(p - s);
}

int net_ip_parse(const char *s, uint32_t *out, ctr_error_t *err)
{
    uint32_t v;
    size_t len;
    if (s == NULL || (len = parse_quad(s, &v)) == 0 || s[len] != '\0')
        return net_fail(err, EINVAL, "invalid IPv4 address `%s`: expected a form like 192.168.1.10",
                        s ? s : "");
    *out = v;
    return 0;
}

void net_ip_format(uint32_t a, char *buf, size_t n)
{
    snprintf(buf, n, "%u.%u.%u.%u", a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255);
}

int net_cidr_parse(const char *s, struct net_cidr *out, ctr_error_t *err)
{
    uint32_t v;
    size_t len;
    unsigned prefix = 32;
    if (s == NULL || (len = parse_quad(s, &v)) == 0)
        goto bad;
    if (s[len] == '/') {
        const char *p = s + len + 1;
        if (*p < '0' || *p > '9' || (p[0] == '0' && p[1] != '\0'))
            goto bad;
        prefix = 0;
        for (; *p >= '0' && *p <= '9'; p++) {
            prefix = prefix * 10 + (unsigned)(*p - '0');
            if (prefix > 32)
                goto bad;
        }
        if (*p != '\0')
            goto bad;
    } else if (s[len] != '\0') {
        goto bad;
    }
    out->addr = v;
    out->prefix = (uint8_t)prefix;
    return 0;
bad:
    return net_fail(err, EINVAL, "invalid IPv4 subnet `%s`: expected a form like 10.1.0.0/16",
                    s ? s : "");
}

void net_cidr_format(const struct net_cidr *c, char *buf, size_t n)
{
    char ip[NET_IP_STRLEN];
    net_ip_format(c->addr, ip, sizeof(ip));
    snprintf(buf, n, "%s/%u", ip, c->prefix);
}

bool net_cidr_contains(const struct net_cidr *c, uint32_t addr)
{
    uint32_t m = net_cidr_mask(c->prefix);
    return (addr & m) == (c->addr & m);
}

bool net_cidr_overlaps(const struct net_cidr *a, const struct net_cidr *b)
{
    /* Two prefixes overlap exactly when they agree on the shorter one's bits. */
    uint32_t m = net_cidr_mask(a->prefix < b->prefix ? a->prefix : b->prefix);
    return (a->addr & m) == (b->addr & m);
}

void net_mac_for(uint32_t a, char out[NET_MAC_STRLEN])
{
    snprintf(out, NET_MAC_STRLEN, "02:42:%02x:%02x:%02x:%02x", a >> 24, (a >> 16) & 255,
             (a >> 8) & 255, a & 255);
}
