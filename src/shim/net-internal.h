/* The shim's side of container networking (docs/runtime.md, Networking): one TAP per
 * bundle `networks` entry handed to QEMU, and the port proxy for `ports`. */
#ifndef CTR_SHIM_NET_INTERNAL_H
#define CTR_SHIM_NET_INTERNAL_H

#include "proto/bundle.h"

/* tap.c: create TAP n->tap (IFF_TAP|IFF_NO_PI|IFF_VNET_HDR, not persistent: it vanishes
 * with the last fd), set its MTU, attach it to bridge n->bridge, set it up. *fd is the
 * TAP's queue (O_CLOEXEC). A missing bridge is an error naming it. */
int shim_tap_create(const struct bundle_net *n, int *fd, ctr_error_t *err);
/* True when QEMU may use vhost-net for the TAPs (/dev/vhost-net can be opened). */
bool shim_vhost_net_usable(void);

/* portproxy.c: binds every port at once (all or nothing; one in use is an error
 * naming `127.0.0.1:8080/tcp`), then relays in a thread of its own until stopped.
 * Connections accepted before the container runs are held and connected (with
 * retries) once the guest answers. */
struct shim_proxy;
int shim_proxy_start(const struct bundle_port *ports, size_t n, struct shim_proxy **out,
                     ctr_error_t *err);
/* The container's main process runs: connection attempts refused from now on give up
 * after a short grace instead of waiting for the boot. */
void shim_proxy_set_running(struct shim_proxy *p);
/* Close every listener and connection and join the thread; NULL is a no-op. */
void shim_proxy_stop(struct shim_proxy *p);

#endif
