/* Shared inside src/proto: the network parts of the bundle config and of the agent's
 * setup request, decoded and encoded in one place (net-config.c). */
#ifndef CTR_PROTO_INTERNAL_H
#define CTR_PROTO_INTERNAL_H

#include "proto/bundle.h"

#include <jansson.h>

/* setup.network: o is the `network` value (NULL or JSON null: nothing). Strict: unknown
 * keys, bad values and over-long text are errors; `path` prefixes the messages
 * ("setup.network"), errnum is the errno they carry (EPROTO for the agent, EINVAL for
 * bundles). Partly decoded fields are left in s for agent_setup_net_release. */
int proto_net_decode(json_t *o, const char *path, int errnum, struct agent_setup *s,
                     ctr_error_t *err);
/* The `network` object of s, or NULL when s has no network part. */
json_t *proto_net_encode(const struct agent_setup *s);
/* The body of a `net` request (agent and shim protocols): {"leave","parent","vlan","mac",
 * "address","mtu","hosts"}. */
json_t *proto_netop_encode(const struct agent_net *n);
int proto_netop_decode(json_t *o, const char *path, int errnum, struct agent_net *n,
                       ctr_error_t *err);

/* Bundle `networks` and `ports` arrays (NULL or JSON null: none), and the cross-check
 * that every setup.network interface has a NIC. */
int proto_bundle_nets_decode(json_t *a, struct bundle_config *cfg, ctr_error_t *err);
int proto_bundle_ports_decode(json_t *a, struct bundle_config *cfg, ctr_error_t *err);
int proto_bundle_net_check(const struct bundle_config *cfg, ctr_error_t *err);
/* Adds `networks`/`ports` to root when the config has any. */
void proto_bundle_net_encode(json_t *root, const struct bundle_config *cfg);
void proto_bundle_net_release(struct bundle_config *cfg);

#endif
