/* -p parsing and Docker's PortBindings shapes (see ports.h). */
#include "net/ports.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

struct range {
    uint16_t lo, hi;
};

/* "N" or "N-M", 1 ≤ N ≤ M ≤ 65535; what names the part in messages. */
static int parse_range(const char *s, const char *what, struct range *r, char **why)
{
    long v[2] = {0, 0};
    const char *p = s;
    for (int i = 0; i < 2; i++) {
        if (*p < '0' || *p > '9') {
            *why = ctr_xasprintf("%s `%s` is not a port or a range like 8000-8010", what, s);
            return -1;
        }
        char *e = NULL;
        errno = 0;
        v[i] = strtol(p, &e, 10);
        if (errno || v[i] < 1 || v[i] > 65535) {
            *why = ctr_xasprintf("%s `%s`: ports go from 1 to 65535", what, s);
            return -1;
        }
        p = e;
        if (i == 0 && *p == '-') {
            p++;
            continue;
        }
        if (*p != '\0') {
            *why = ctr_xasprintf("%s `%s` is not a port or a range like 8000-8010", what, s);
            return -1;
        }
        if (i == 0)
            v[1] = v[0];
        break;
    }
    if (v[1] < v[0]) {
        *why = ctr_xasprintf("%s range `%s` ends before it starts", what, s);
        return -1;
    }
    if (v[1] - v[0] + 1 > NET_PORTS_MAX_RANGE) {
        *why = ctr_xasprintf("%s range `%s` has %ld ports (at most %d)", what, s, v[1] - v[0] + 1,
                             NET_PORTS_MAX_RANGE);
        return -1;
    }
    r->lo = (uint16_t)v[0];
    r->hi = (uint16_t)v[1];
    return 0;
}

static int parse_ip(const char *s, char out[16], char **why)
{
    if (*s == '\0' || strcmp(s, "0.0.0.0") == 0 || strcmp(s, "::") == 0 || strcmp(s, "[::]") == 0) {
        out[0] = '\0';
        return 0;
    }
    struct in_addr a;
    if (inet_pton(AF_INET, s, &a) != 1) {
        struct in6_addr a6;
        char b[64];
        size_t l = strlen(s);
        if (s[0] == '[' && l < sizeof(b) && s[l - 1] == ']') {
            memcpy(b, s + 1, l - 2);
            b[l - 2] = '\0';
        } else {
            snprintf(b, sizeof(b), "%s", s);
        }
        if (inet_pton(AF_INET6, b, &a6) == 1)
            *why = ctr_xasprintf("host address `%s` is IPv6: only IPv4 is supported", s);
        else
            *why = ctr_xasprintf("host address `%s` is not an IPv4 address", s);
        return -1;
    }
    inet_ntop(AF_INET, &a, out, 16);
    return 0;
}

static int parse_proto(const char *s, char out[4], char **why)
{
    if (strcasecmp(s, "tcp") == 0 || strcasecmp(s, "udp") == 0) {
        out[0] = (char)tolower((unsigned char)s[0]);
        out[1] = (char)tolower((unsigned char)s[1]);
        out[2] = 'p';
        out[3] = '\0';
        return 0;
    }
    *why = ctr_xasprintf("protocol `%s` is not supported (tcp or udp)", s);
    return -1;
}

static void append(struct net_port_binding **v, size_t *n, const struct net_port_binding *b)
{
    *v = ctr_xrealloc(*v, (*n + 1) * sizeof(**v));
    (*v)[(*n)++] = *b;
}

static int expand(const char *proto, const char *ip, const struct range *h, const struct range *c,
                  struct net_port_binding **v, size_t *n, char **why)
{
    if (h && h->hi - h->lo != c->hi - c->lo) {
        *why = ctr_xasprintf("host range %u-%u has %u ports but container range %u-%u has %u",
                             h->lo, h->hi, h->hi - h->lo + 1, c->lo, c->hi, c->hi - c->lo + 1);
        return -1;
    }
    for (unsigned i = 0; i <= (unsigned)(c->hi - c->lo); i++) {
        struct net_port_binding b = {.host_port = h ? (uint16_t)(h->lo + i) : 0,
                                     .container_port = (uint16_t)(c->lo + i)};
        strcpy(b.proto, proto);
        strcpy(b.host_ip, ip);
        append(v, n, &b);
    }
    return 0;
}

int net_ports_parse(const char *spec, struct net_port_binding **v, size_t *n, ctr_error_t *err)
{
    if (spec == NULL)
        spec = "";
    cleanup_free char *s = ctr_xstrdup(spec);
    cleanup_free char *why = NULL;
    char proto[4] = "tcp", ip[16] = "";
    struct range h, c;
    bool have_h = false;
    char *slash = strrchr(s, '/');
    if (slash) {
        *slash = '\0';
        if (parse_proto(slash + 1, proto, &why) < 0)
            goto bad;
    }
    if (*s == '\0') {
        why =
            ctr_xstrdup("no container port (expected [hostip:][hostport:]containerport[/tcp|udp])");
        goto bad;
    }
    if (*s == '[' || strchr(s, ':') != strrchr(s, ':')) {
        /* ip:hport:cport, or IPv6 */
        char *last = strrchr(s, ':');
        *last = '\0';
        char *mid = strrchr(s, ':');
        if (*s == '[') {
            char *close = strchr(s, ']');
            if (close == NULL || close[1] != ':') {
                why = ctr_xasprintf("host address in `%s` is not an IPv4 address", spec);
                goto bad;
            }
            mid = close + 1;
        }
        *mid = '\0';
        if (parse_ip(s, ip, &why) < 0)
            goto bad;
        if (mid[1] != '\0') {
            if (parse_range(mid + 1, "host port", &h, &why) < 0)
                goto bad;
            have_h = true;
        }
        if (parse_range(last + 1, "container port", &c, &why) < 0)
            goto bad;
    } else if (strchr(s, ':')) {
        char *colon = strchr(s, ':');
        *colon = '\0';
        if (*s != '\0') {
            if (parse_range(s, "host port", &h, &why) < 0)
                goto bad;
            have_h = true;
        }
        if (parse_range(colon + 1, "container port", &c, &why) < 0)
            goto bad;
    } else if (parse_range(s, "container port", &c, &why) < 0) {
        goto bad;
    }
    size_t n0 = *n;
    if (expand(proto, ip, have_h ? &h : NULL, &c, v, n, &why) < 0) {
        *n = n0;
        goto bad;
    }
    return 0;
bad:
    return ctr_fail(err, 0, "invalid --publish `%s`: %s", spec, why);
}

void net_port_key(const struct net_port_binding *b, char *buf, size_t n)
{
    snprintf(buf, n, "%u/%s", b->container_port, b->proto);
}

json_t *net_ports_to_docker(const struct net_port_binding *v, size_t n)
{
    json_t *o = json_object();
    for (size_t i = 0; i < n; i++) {
        char key[16], hp[8] = "";
        net_port_key(&v[i], key, sizeof(key));
        if (v[i].host_port)
            snprintf(hp, sizeof(hp), "%u", v[i].host_port);
        json_t *arr = json_object_get(o, key);
        if (arr == NULL) {
            arr = json_array();
            json_object_set_new(o, key, arr);
        }
        json_array_append_new(arr, json_pack("{s:s, s:s}", "HostIp", v[i].host_ip, "HostPort", hp));
    }
    return o;
}

json_t *net_ports_exposed(const struct net_port_binding *v, size_t n)
{
    json_t *o = json_object();
    for (size_t i = 0; i < n; i++) {
        char key[16];
        net_port_key(&v[i], key, sizeof(key));
        json_object_set_new(o, key, json_object());
    }
    return o;
}

int net_ports_from_docker(json_t *pb, struct net_port_binding **v, size_t *n, ctr_error_t *err)
{
    if (pb == NULL || json_is_null(pb))
        return 0;
    if (!json_is_object(pb))
        return ctr_fail(err, 0, "PortBindings must be an object like {\"80/tcp\": [...]}");
    size_t n0 = *n;
    const char *key = NULL;
    json_t *val;
    cleanup_free char *why = NULL;
    json_object_foreach(pb, key, val)
    {
        char proto[4] = "tcp";
        cleanup_free char *k = ctr_xstrdup(key);
        char *slash = strchr(k, '/');
        struct range c;
        if (slash) {
            *slash = '\0';
            if (parse_proto(slash + 1, proto, &why) < 0)
                goto bad;
        }
        if (parse_range(k, "container port", &c, &why) < 0)
            goto bad;
        if (c.lo != c.hi) {
            why = ctr_xstrdup("one container port per key");
            goto bad;
        }
        if (json_is_null(val))
            continue;
        if (!json_is_array(val)) {
            why = ctr_xstrdup("the value must be an array of {HostIp, HostPort}");
            goto bad;
        }
        size_t i;
        json_t *b;
        json_array_foreach(val, i, b)
        {
            json_t *jip = json_object_get(b, "HostIp"), *jhp = json_object_get(b, "HostPort");
            if (!json_is_object(b) || (jip && !json_is_string(jip) && !json_is_null(jip)) ||
                (jhp && !json_is_string(jhp) && !json_is_null(jhp))) {
                why = ctr_xstrdup("HostIp and HostPort must be strings");
                goto bad;
            }
            char ip[16];
            if (parse_ip(json_is_string(jip) ? json_string_value(jip) : "", ip, &why) < 0)
                goto bad;
            const char *hps = json_is_string(jhp) ? json_string_value(jhp) : "";
            struct range h = {0, 0};
            if (*hps && parse_range(hps, "HostPort", &h, &why) < 0)
                goto bad;
            if (h.lo != h.hi) {
                why = ctr_xasprintf("HostPort `%s` is a range for one container port: publish "
                                    "one host port (or a container range as long)",
                                    hps);
                goto bad;
            }
            if (expand(proto, ip, *hps ? &h : NULL, &c, v, n, &why) < 0)
                goto bad;
        }
    }
    return 0;
bad:
    *n = n0;
    return ctr_fail(err, 0, "invalid PortBindings key `%s`: %s", key, why);
}

int net_ports_assign_free(struct net_port_binding *v, size_t n, ctr_error_t *err)
{
    int *fds = ctr_xmalloc((n ? n : 1) * sizeof(int));
    size_t *picked = ctr_xmalloc((n ? n : 1) * sizeof(size_t));
    size_t nfd = 0;
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        if (v[i].host_port)
            continue;
        bool udp = strcmp(v[i].proto, "udp") == 0;
        struct sockaddr_in sa = {.sin_family = AF_INET};
        socklen_t sl = sizeof(sa);
        if (v[i].host_ip[0])
            inet_pton(AF_INET, v[i].host_ip, &sa.sin_addr);
        int fd = socket(AF_INET, (udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0);
        if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
            getsockname(fd, (struct sockaddr *)&sa, &sl) < 0) {
            int e = errno;
            if (fd >= 0)
                close(fd);
            rc = ctr_fail(err, e, "no free %s port on %s for container port %u", v[i].proto,
                          v[i].host_ip[0] ? v[i].host_ip : "0.0.0.0", v[i].container_port);
            break;
        }
        picked[nfd] = i;
        fds[nfd++] = fd;
        v[i].host_port = ntohs(sa.sin_port);
    }
    for (size_t i = 0; i < nfd; i++)
        close(fds[i]);
    if (rc < 0) /* nothing assigned on failure */
        for (size_t i = 0; i < n; i++)
            for (size_t k = 0; k < nfd; k++)
                if (picked[k] == i)
                    v[i].host_port = 0;
    free(picked);
    free(fds);
    return rc;
}
