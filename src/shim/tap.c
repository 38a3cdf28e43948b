/* TAP devices for the VM's NICs: created by the shim, attached to the daemon's bridge,
 * handed to QEMU as fds (`-netdev tap,fd=N`). Not persistent, so nothing leaks when the
 * shim or QEMU dies: the kernel removes a TAP with its last fd. */
#include "shim/net-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

bool shim_vhost_net_usable(void)
{
    int fd = open("/dev/vhost-net", O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return false;
    close(fd);
    return true;
}

static void set_ifname(struct ifreq *ifr, const char *name)
{
    memset(ifr, 0, sizeof(*ifr));
    memcpy(ifr->ifr_name, name, strnlen(name, IFNAMSIZ - 1));
}

static int no_bridge(const char *bridge, ctr_error_t *err)
{
    ctr_fail(err, 0, "network bridge %s does not exist (is the daemon's network set up?)", bridge);
    (*err)->errnum = ENODEV;
    return -1;
}

int shim_tap_create(const struct bundle_net *n, int *fd_out, ctr_error_t *err)
{
    cleanup_close int fd = -1, sock = -1;
    struct ifreq ifr;
    unsigned tap_index;

    if (!bundle_ifname_ok(n->tap) || !bundle_ifname_ok(n->bridge))
        return ctr_fail(err, EINVAL, "bad interface name `%s` or `%s`", n->tap, n->bridge);
    if (if_nametoindex(n->bridge) == 0)
        return no_bridge(n->bridge, err);
    fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return ctr_fail(err, errno,
                        "open `/dev/net/tun` for TAP `%s` (is the tun module loaded, are we "
                        "root?)",
                        n->tap);
    set_ifname(&ifr, n->tap);
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
    if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
        if (errno == EBUSY)
            return ctr_fail(err, errno,
                            "TAP `%s` exists and is in use (another container with the same id?)",
                            n->tap);
        return ctr_fail(err, errno, "create TAP `%s`", n->tap);
    }
    sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (sock < 0)
        return ctr_fail(err, errno, "socket");
    set_ifname(&ifr, n->tap);
    ifr.ifr_mtu = (int)(n->mtu ? n->mtu : 1500);
    if (ioctl(sock, SIOCSIFMTU, &ifr) < 0)
        return ctr_fail(err, errno, "set MTU %d of TAP `%s`", ifr.ifr_mtu, n->tap);
    tap_index = if_nametoindex(n->tap);
    if (tap_index == 0)
        return ctr_fail(err, errno, "TAP `%s` vanished after its creation", n->tap);
    set_ifname(&ifr, n->bridge);
    ifr.ifr_ifindex = (int)tap_index;
    if (ioctl(sock, SIOCBRADDIF, &ifr) < 0) {
        if (errno == ENODEV)
            return no_bridge(n->bridge, err);
        if (errno == EOPNOTSUPP || errno == EINVAL)
            return ctr_fail(err, errno, "`%s` is not a bridge; cannot attach TAP `%s` to it",
                            n->bridge, n->tap);
        return ctr_fail(err, errno, "attach TAP `%s` to bridge `%s`", n->tap, n->bridge);
    }
    set_ifname(&ifr, n->tap);
    if (ioctl(sock, SIOCGIFFLAGS, &ifr) < 0)
        return ctr_fail(err, errno, "read flags of TAP `%s`", n->tap);
    ifr.ifr_flags |= IFF_UP;
    if (ioctl(sock, SIOCSIFFLAGS, &ifr) < 0)
        return ctr_fail(err, errno, "set TAP `%s` up", n->tap);
    *fd_out = fd;
    fd = -1;
    return 0;
}
