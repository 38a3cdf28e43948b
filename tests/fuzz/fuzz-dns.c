/* libFuzzer target: arbitrary bytes as one DNS query to the resolver's local part (parser,
 * lookup, reply building), with both the UDP (512) and TCP reply limits. Every reply must be
 * a well-formed header within the limit. Built and run by tests/fuzz/run.sh dns. */
#include "net/dns.h"

#include <stdlib.h>
#include <string.h>

static size_t lookup(void *ctx, uint32_t client, const char *name, uint32_t *addrs, size_t max)
{
    /* names starting with 'w' exist, with as many addresses as the name is long (capped by
     * the server) */
    if (name[0] != 'w')
        return 0;
    size_t n = strlen(name);
    for (size_t i = 0; i < n && i < max; i++)
        addrs[i] = 0x0a000000u + (uint32_t)i;
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t out[65535];
    struct net_dns_local l = {0xc0a84001u, lookup, NULL};
    static const size_t limits[] = {512, sizeof(out)};
    for (size_t i = 0; i < 2; i++) {
        struct net_dns_query q;
        size_t olen = 0;
        enum net_dns_action a =
            net_dns_handle_query(&l, data, size, limits[i], &q, out, sizeof(out), &olen);
        if (a == NET_DNS_REPLY &&
            (olen < 12 || olen > limits[i] || !(out[2] & 0x80) || memcmp(out, data, 2) != 0))
            abort();
        if (a == NET_DNS_FORWARD && strlen(q.name) > 253)
            abort();
    }
    return 0;
}
