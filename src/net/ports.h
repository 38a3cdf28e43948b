/* Published ports (`-p`), shared by the CLI and the daemon (issue 6).
 *
 * Docker's syntax `[hostip:][hport[-hport]:]cport[-cport][/tcp|udp]`, expanded into one binding
 * per port: `8000-8002:80-82/udp` gives three. An empty or absent host port (`80`,
 * `127.0.0.1::80`) means "any free port": the daemon picks one at create (net_ports_assign_free),
 * so `container port` shows a fixed port from then on. An absent host IP means every address
 * (0.0.0.0). IPv4 only. */
#ifndef CTR_NET_PORTS_H
#define CTR_NET_PORTS_H

#include "common/common.h"

#include <jansson.h>
#include <stdint.h>

/* Most bindings one -p flag may expand to (each is a listening socket in the shim). */
#define NET_PORTS_MAX_RANGE 1024

struct net_port_binding {
    char proto[4];      /* "tcp" | "udp" */
    char host_ip[16];   /* dotted IPv4, "" = all addresses */
    uint16_t host_port; /* 0 = pick a free one at create */
    uint16_t container_port;
};

/* Parse one -p value and append its bindings to *v / *n (realloc'd). On error nothing is
 * appended and the message starts with "invalid publish `SPEC`: ". */
int net_ports_parse(const char *spec, struct net_port_binding **v, size_t *n, ctr_error_t *err);

/* Docker's create shapes: HostConfig.PortBindings {"80/tcp":[{"HostIp","HostPort"}]} and
 * ExposedPorts {"80/tcp":{}} for these bindings (new references; HostPort "" when 0). */
json_t *net_ports_to_docker(const struct net_port_binding *v, size_t n);
json_t *net_ports_exposed(const struct net_port_binding *v, size_t n);
/* The reverse: read a PortBindings object (NULL/null = none). Keys "80", "80/tcp", "80/udp";
 * HostPort "", "8080" or "8000-8002" (a range needs that many container ports: docker's rule
 * for one container port and a host range, "any of them", is refused here). Errors name the
 * key. */
int net_ports_from_docker(json_t *port_bindings, struct net_port_binding **v, size_t *n,
                          ctr_error_t *err);

/* Give every binding with host_port 0 a free port of the kernel's choice on its address and
 * protocol (all sockets held until the end, so two bindings never get the same port). Free at
 * the time of the call only: the shim's bind at start is the real check. */
int net_ports_assign_free(struct net_port_binding *v, size_t n, ctr_error_t *err);

/* "80/tcp" style key of a binding into buf. */
void net_port_key(const struct net_port_binding *b, char *buf, size_t n);

#endif
