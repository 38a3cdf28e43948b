/* The per-network DNS resolver the daemon runs on each network's gateway (issue 6).
 *
 * It answers A queries for container names and aliases on its network (through a lookup
 * callback), `host.container.internal` / `host.docker.internal` with its own listen address
 * (so containers reach host services), and forwards everything else to the upstream resolvers
 * of a resolv.conf (re-read when it changes), relaying their answer under the client's query id.
 * UDP and TCP on the same address and port, served by its own thread(s). IPv4 only.
 *
 * Answers: known name + A → the addresses (TTL NET_DNS_TTL), known name + any other type (AAAA,
 * MX, ...) → NOERROR without answers; unknown names go upstream; no upstream → NXDOMAIN;
 * every upstream failing (timeout, refused) → SERVFAIL. Malformed queries are dropped (no
 * usable header) or answered FORMERR; opcodes other than QUERY get NOTIMP. */
#ifndef CTR_NET_DNS_H
#define CTR_NET_DNS_H

#include "common/common.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Answers A queries for names on one network; returns the count of addresses written (host
 * order). client: the query's source address (host order; 0 when unknown), so that a
 * container on several networks finds the names of all of them. name is lowercase, without
 * the trailing dot. Calls are serialized by the server. */
typedef size_t (*net_dns_lookup_fn)(void *ctx, uint32_t client, const char *name, uint32_t *addrs,
                                    size_t max);

struct net_dns_server;

/* Start a resolver on listen_ip:port (host order; port 0 = an ephemeral port, see
 * net_dns_port). upstream_resolv_conf: a resolv.conf whose `nameserver` lines (IPv4; our own
 * listen address skipped; `IP#PORT` accepted for tests) are the upstreams; NULL or missing
 * file = no upstream. */
int net_dns_start(uint32_t listen_ip, uint16_t port /*53*/, net_dns_lookup_fn fn, void *ctx,
                  const char *upstream_resolv_conf, struct net_dns_server **out, ctr_error_t *err);
/* Stop the threads (in-flight upstream queries are abandoned) and free. NULL is a no-op. */
void net_dns_stop(struct net_dns_server *s);
/* The bound port (useful after port 0). */
uint16_t net_dns_port(const struct net_dns_server *s);
/* Per-upstream timeout of one attempt (default 2000 ms; each server is tried twice in turn). */
void net_dns_set_upstream_timeout(struct net_dns_server *s, int ms);

/* ---- the pieces, exposed for unit tests and the fuzz target ---- */
#define NET_DNS_TTL 60
#define NET_DNS_MAX_ADDRS 32
#define NET_DNS_MAX_UPSTREAMS 8

enum net_dns_rcode {
    NET_DNS_NOERROR = 0,
    NET_DNS_FORMERR = 1,
    NET_DNS_SERVFAIL = 2,
    NET_DNS_NXDOMAIN = 3,
    NET_DNS_NOTIMP = 4,
};

struct net_dns_query {
    uint16_t id;
    uint16_t flags; /* the client's header flags */
    char name[256]; /* as sent (case kept), no trailing dot; "" is the root */
    uint16_t qtype;
    uint16_t qclass;
};

/* Parse a query. 0: a well-formed query in *q; -1: drop it (too short for a header, or a
 * response); >0: answer with that rcode (FORMERR, NOTIMP), q->id/flags are valid. Strict:
 * exactly one question, no answer/authority records, labels ≤ 63 printable bytes without '.',
 * names ≤ 253 characters, compression pointers only backwards (no loops). */
int net_dns_parse_query(const uint8_t *pkt, size_t len, struct net_dns_query *q);

/* Build a reply to q into out (cap bytes, at least 512): header, the question (unless rcode is
 * FORMERR/NOTIMP from a failed parse: pass with_question=false), n A records. Records beyond
 * max_len (512 for UDP) are dropped and TC set. Returns the length. */
size_t net_dns_build_reply(const struct net_dns_query *q, bool with_question, int rcode, bool aa,
                           const uint32_t *addrs, size_t n, size_t max_len, uint8_t *out,
                           size_t cap);

/* What the local part of the resolver does with one query. */
struct net_dns_local {
    uint32_t listen_ip;
    net_dns_lookup_fn fn;
    void *ctx;
    uint32_t client; /* the query's source address, passed to fn (0: unknown) */
};
enum net_dns_action { NET_DNS_DROP = -1, NET_DNS_FORWARD = 0, NET_DNS_REPLY = 1 };
/* Returns NET_DNS_REPLY with the reply in out (length in *out_len), NET_DNS_FORWARD (not ours: ask
 * the upstreams; q is filled) or NET_DNS_DROP. */
enum net_dns_action net_dns_handle_query(const struct net_dns_local *l, const uint8_t *pkt,
                                         size_t len, size_t max_len, struct net_dns_query *q,
                                         uint8_t *out, size_t cap, size_t *out_len);

struct net_dns_upstream {
    uint32_t addr; /* host order */
    uint16_t port;
};
/* The `nameserver` lines of a resolv.conf text (IPv4; `IP#PORT` allowed), skipping `self`;
 * returns how many were stored (≤ max). */
size_t net_dns_parse_resolv(const char *text, uint32_t self, struct net_dns_upstream *out,
                            size_t max);

#endif
