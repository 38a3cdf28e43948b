/* Shared inside src/net only. */
#ifndef CTR_NET_INTERNAL_H
#define CTR_NET_INTERNAL_H

#include "net/net.h"

/* Host-route check used when choosing or accepting a subnet: 1 = conflict (desc filled),
 * 0 = none, -1 = error. net_network_create passes net_route_conflict; tests pass fakes. */
typedef int (*net_route_check_fn)(void *ctx, const struct net_cidr *c, char *desc, size_t n,
                                  ctr_error_t *err);
int net_network_create_with(const char *data_root, const char *name, const char *subnet,
                            bool internal, char **labels, net_route_check_fn check, void *ctx,
                            struct net_network *out, ctr_error_t *err);
/* The same with driver options and an IPRange (tests). */
int net_network_create_with_options(const char *data_root, const char *name, const char *subnet,
                                    const char *ip_range, char **options, net_route_check_fn check,
                                    void *ctx, struct net_network *out, ctr_error_t *err);

/* An error for the user, carrying errnum (for the API's status) without strerror text. */
#define net_fail ctr_fail_class

/* DATA/networks/<id> */
char *net_network_dir(const char *data_root, const char *id);
/* open(O_CREAT) + flock(LOCK_EX) of path; the fd holds the lock until closed. */
int net_lock_file(const char *path, int *fd, ctr_error_t *err);

#endif
