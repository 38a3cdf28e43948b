/* Address allocation per network: DATA/networks/<id>/ipam.json maps owners (container
 * ids) to addresses and remembers the last address handed out; every read-modify-write
 * holds flock on ipam.lock (ipam.json itself is replaced by rename, so it cannot carry
 * the lock). Next-fit rather than lowest-free: a released address is reused last, so a
 * stale ARP or DNS entry elsewhere does not point at a newcomer at once. */
#include "net/net-internal.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define IPAM_MAX (64u << 20)

struct ipam {
    json_t *allocs; /* owner -> "a.b.c.d" */
    uint32_t last;  /* 0: none yet */
};

static int lock_ipam(const char *data_root, const struct net_network *nw, char **path, int *fd,
                     ctr_error_t *err)
{
    cleanup_free char *dir = net_network_dir(data_root, nw->id);
    cleanup_free char *meta = ctr_xasprintf("%s/network.json", dir);
    cleanup_free char *lock = ctr_xasprintf("%s/ipam.lock", dir);
    if (net_lock_file(lock, fd, err) < 0) {
        if ((*err)->errnum == ENOENT) {
            ctr_error_free(err);
            return net_fail(err, ENOENT, "network `%s` not found", nw->name);
        }
        return -1;
    }
    if (access(meta, F_OK) < 0) { /* removed while we waited */
        close(*fd);
        *fd = -1;
        unlink(lock);
        return net_fail(err, ENOENT, "network `%s` not found", nw->name);
    }
    *path = ctr_xasprintf("%s/ipam.json", dir);
    return 0;
}

static int ipam_read(const char *path, const struct net_network *nw, struct ipam *st,
                     ctr_error_t *err)
{
    cleanup_free char *text = NULL;
    json_error_t je;
    json_t *j, *allocs, *last;
    const char *owner;
    json_t *v;

    st->allocs = json_object();
    st->last = 0;
    if (access(path, F_OK) < 0)
        return 0;
    if (ctr_read_file(path, IPAM_MAX, &text, NULL, err) < 0)
        return -1;
    j = json_loads(text, 0, &je);
    allocs = json_object_get(j, "allocations");
    last = json_object_get(j, "last");
    if (j == NULL || !json_is_object(allocs)) {
        net_fail(err, EINVAL, "`%s` is damaged: %s", path, j ? "no `allocations` object" : je.text);
        json_decref(j);
        return -1;
    }
    json_object_foreach(allocs, owner, v)
    {
        uint32_t a;
        if (net_ip_parse(json_string_value(v), &a, err) < 0 || !net_cidr_contains(&nw->subnet, a)) {
            ctr_error_free(err);
            net_fail(err, EINVAL, "`%s` is damaged: owner `%s` has a bad address", path, owner);
            json_decref(j);
            return -1;
        }
    }
    if (json_is_string(last) && net_ip_parse(json_string_value(last), &st->last, NULL) < 0)
        st->last = 0;
    json_decref(st->allocs);
    st->allocs = json_incref(allocs);
    json_decref(j);
    return 0;
}

static int ipam_write(const char *path, const struct net_network *nw, const struct ipam *st,
                      ctr_error_t *err)
{
    char subnet[NET_CIDR_STRLEN], last[NET_IP_STRLEN];
    net_cidr_format(&nw->subnet, subnet, sizeof(subnet));
    net_ip_format(st->last, last, sizeof(last));
    json_t *j =
        json_pack("{s:s, s:s, s:O}", "subnet", subnet, "last", last, "allocations", st->allocs);
    cleanup_free char *text = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);
    json_decref(j);
    return ctr_write_file_atomic(path, text, strlen(text), 0644, err);
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static int check_owner(const char *owner, ctr_error_t *err)
{
    if (owner == NULL || *owner == '\0' || strlen(owner) > 256)
        return net_fail(err, EINVAL, "invalid address owner `%s`", owner ? owner : "");
    return 0;
}

/* want 0: the next free address of the pool (the network's IPRange, else its subnet);
 * else exactly want (anywhere in the subnet, as docker's static addresses). */
static int allocate(const char *data_root, const struct net_network *nw, const char *owner,
                    uint32_t want, uint32_t *addr, ctr_error_t *err)
{
    cleanup_close int lock = -1;
    cleanup_free char *path = NULL;
    cleanup_free uint32_t *used = NULL;
    struct ipam st = {0};
    json_t *mine;
    uint32_t mask = net_cidr_mask(nw->subnet.prefix), base = nw->subnet.addr & mask;
    uint32_t first = base + 1, last = base + ~mask - 1, count, i, a;
    size_t n_used = 0;
    char s[NET_CIDR_STRLEN];

    if (check_owner(owner, err) < 0 || lock_ipam(data_root, nw, &path, &lock, err) < 0 ||
        ipam_read(path, nw, &st, err) < 0)
        goto fail;
    if ((mine = json_object_get(st.allocs, owner)) != NULL) {
        uint32_t have = 0;
        (void)net_ip_parse(json_string_value(mine), &have, NULL);
        if (want == 0 || want == have) {
            *addr = have;
            json_decref(st.allocs);
            return 0;
        }
        json_object_del(st.allocs, owner); /* asked for another one */
    }
    used = ctr_xcalloc(json_object_size(st.allocs) + 1, sizeof(*used));
    const char *k;
    json_t *v;
    json_object_foreach(st.allocs, k, v)(void)
        net_ip_parse(json_string_value(v), &used[n_used++], NULL);
    qsort(used, n_used, sizeof(*used), cmp_u32);
    if (want) { /* docker's words (libnetwork ipam) */
        char w[NET_IP_STRLEN];
        net_ip_format(want, w, sizeof(w));
        if (want < first || want > last) {
            net_fail(err, EINVAL,
                     "Invalid address %s: It does not belong to any of this network's subnets", w);
            json_decref(st.allocs);
            return -1;
        }
        if (want == nw->gateway || bsearch(&want, used, n_used, sizeof(*used), cmp_u32)) {
            net_fail(err, EADDRINUSE, "Address already in use");
            json_decref(st.allocs);
            return -1;
        }
        a = want;
        goto take;
    }
    if (nw->range.prefix) { /* IPRange: dynamic addresses only from there */
        uint32_t rm = net_cidr_mask(nw->range.prefix), rb = nw->range.addr & rm;
        first = rb > first ? rb : first;
        last = rb + ~rm < last ? rb + ~rm : last;
    }
    count = last >= first ? last - first + 1 : 0;
    a = st.last >= first && st.last <= last ? st.last : last;
    for (i = 0; i < count; i++) {
        a = a >= last ? first : a + 1;
        if (a == nw->gateway || bsearch(&a, used, n_used, sizeof(*used), cmp_u32))
            continue;
        break;
    }
    if (i == count) {
        net_cidr_format(&nw->subnet, s, sizeof(s));
        net_fail(err, ENOSPC, "network `%s` has no free address (subnet %s)", nw->name, s);
        goto fail;
    }
take:;
    char ip[NET_IP_STRLEN];
    net_ip_format(a, ip, sizeof(ip));
    json_object_set_new(st.allocs, owner, json_string(ip));
    if (!want)
        st.last = a;
    if (ipam_write(path, nw, &st, err) < 0)
        goto fail;
    json_decref(st.allocs);
    *addr = a;
    return 0;
fail:
    json_decref(st.allocs);
    return ctr_error_wrap(err, "allocate an address on network `%s`", nw->name);
}

int net_ipam_allocate(const char *data_root, const struct net_network *nw, const char *owner,
                      uint32_t *addr, ctr_error_t *err)
{
    return allocate(data_root, nw, owner, 0, addr, err);
}

int net_ipam_allocate_static(const char *data_root, const struct net_network *nw, const char *owner,
                             uint32_t want, uint32_t *addr, ctr_error_t *err)
{
    return allocate(data_root, nw, owner, want, addr, err);
}

int net_ipam_release(const char *data_root, const struct net_network *nw, const char *owner,
                     ctr_error_t *err)
{
    cleanup_close int lock = -1;
    cleanup_free char *path = NULL;
    struct ipam st = {0};
    int r = 0;
    if (check_owner(owner, err) < 0 || lock_ipam(data_root, nw, &path, &lock, err) < 0 ||
        ipam_read(path, nw, &st, err) < 0) {
        json_decref(st.allocs);
        return ctr_error_wrap(err, "release the address of `%s` on network `%s`", owner ?: "",
                              nw->name);
    }
    if (json_object_del(st.allocs, owner) == 0)
        r = ipam_write(path, nw, &st, err);
    json_decref(st.allocs);
    return r;
}

static int cmp_entry(const void *a, const void *b)
{
    return cmp_u32(&((const struct net_ipam_entry *)a)->addr,
                   &((const struct net_ipam_entry *)b)->addr);
}

int net_ipam_list(const char *data_root, const struct net_network *nw, struct net_ipam_entry **out,
                  size_t *n, ctr_error_t *err)
{
    cleanup_close int lock = -1;
    cleanup_free char *path = NULL;
    struct ipam st = {0};
    struct net_ipam_entry *v;
    size_t i = 0;
    const char *k;
    json_t *val;

    if (lock_ipam(data_root, nw, &path, &lock, err) < 0 || ipam_read(path, nw, &st, err) < 0) {
        json_decref(st.allocs);
        return ctr_error_wrap(err, "list addresses of network `%s`", nw->name);
    }
    v = ctr_xcalloc(json_object_size(st.allocs) + 1, sizeof(*v));
    json_object_foreach(st.allocs, k, val)
    {
        v[i].owner = ctr_xstrdup(k);
        (void)net_ip_parse(json_string_value(val), &v[i].addr, NULL);
        i++;
    }
    json_decref(st.allocs);
    qsort(v, i, sizeof(*v), cmp_entry);
    *out = v;
    *n = i;
    return 0;
}

void net_ipam_list_free(struct net_ipam_entry *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i].owner);
    free(v);
}
