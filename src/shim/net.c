/* The shim's network set-up before the boot: a TAP per bundle NIC (tap.c) and the
 * published ports (portproxy.c). All or nothing: a failure releases what was made. */
#include "shim/shim-internal.h"

#include <stdlib.h>
#include <unistd.h>

int shim_net_setup(struct shim *s, ctr_error_t *err)
{
    s->tap_fds = ctr_xcalloc(s->cfg.n_nets + 1, sizeof(int));
    for (size_t i = 0; i < s->cfg.n_nets; i++)
        s->tap_fds[i] = -1;
    for (size_t i = 0; i < s->cfg.n_nets; i++)
        if (shim_tap_create(&s->cfg.nets[i], &s->tap_fds[i], err) < 0)
            goto fail;
    if (shim_proxy_start(s->cfg.ports, s->cfg.n_ports, &s->proxy, err) < 0)
        goto fail;
    if (s->cfg.n_nets || s->cfg.n_ports) {
        cleanup_free char *what = ctr_xasprintf("network: %zu TAP(s), %zu published port(s)",
                                                s->cfg.n_nets, s->cfg.n_ports);
        shim_trace(s, what);
    }
    return 0;
fail:
    shim_net_release(s);
    return -1;
}

void shim_net_release(struct shim *s)
{
    shim_proxy_stop(s->proxy);
    s->proxy = NULL;
    for (size_t i = 0; s->tap_fds && i < s->cfg.n_nets; i++)
        if (s->tap_fds[i] >= 0)
            close(s->tap_fds[i]);
    free(s->tap_fds);
    s->tap_fds = NULL;
}
