/* Warm start, guest side (docs/runtime.md "Warm start"): this VM was restored from a
 * snapshot of a booted VM taken before any container existed, so what that VM learnt at
 * boot is stale or shared with every other clone. Before the container's setup:
 * - the clock is the template's: set it from the host's time;
 * - the CRNG state is the template's, the same in every clone: mix in the host's random
 *   bytes and reseed, so clones never share random output;
 * - the disks were probed against placeholder backends of the same size, read-only flag
 *   and serial (the template's shape; the serial is read live anyway), and the partition
 *   scan cached their (zero) blocks: drop every disk's buffers before anything mounts.
 *   (Unbinding and rebinding the drivers would re-probe everything, but costs ~130 ms
 *   under TCG; the host makes the shape exact instead.) 9p tags are part of the shape;
 * - each NIC has the template's placeholder MAC: set the container's. */
#include "guest/guest-internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <net/if_arp.h>
#include <net/if.h>
#include <stdio.h>
#include <sys/socket.h>
#include <linux/random.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

/* Drop what the block layer cached of every virtio disk (/dev/vd*): the template's
 * partition scan read placeholder blocks. */
static int flush_disks(ctr_error_t *err)
{
    DIR *d = opendir("/sys/block");
    struct dirent *de;
    int r = 0;

    if (d == NULL)
        return ctr_fail(err, errno, "list `/sys/block`");
    while (r == 0 && (de = readdir(d)) != NULL) {
        if (strncmp(de->d_name, "vd", 2) != 0)
            continue;
        cleanup_free char *dev = ctr_xasprintf("/dev/%s", de->d_name);
        int fd = open(dev, O_RDONLY | O_CLOEXEC);
        if (fd < 0 || ioctl(fd, BLKFLSBUF) < 0)
            r = ctr_fail(err, errno, "flush the buffers of `%s`", dev);
        if (fd >= 0)
            close(fd);
    }
    closedir(d);
    return r;
}

/* The template's NIC i has MAC AGENT_WARM_MAC_PREFIX:<i+1>: give it the real one
 * (SIOCSIFHWADDR; the link is still down). virtio-net tells QEMU (its receive filter). */
static int set_macs(char *const *macs, ctr_error_t *err)
{
    size_t i = 0;
    for (char *const *m = macs; m && *m; m++, i++) {
        cleanup_free char *want = ctr_xasprintf(AGENT_WARM_MAC_PREFIX ":%02zx", i + 1);
        char name[IFNAMSIZ] = "";
        DIR *d = opendir("/sys/class/net");
        struct dirent *de;
        uint8_t mac[6];

        if (d == NULL)
            return ctr_fail(err, errno, "list `/sys/class/net`");
        while (name[0] == '\0' && (de = readdir(d)) != NULL) {
            if (de->d_name[0] == '.' || strlen(de->d_name) >= IFNAMSIZ)
                continue;
            cleanup_free char *p = ctr_xasprintf("/sys/class/net/%s/address", de->d_name);
            cleanup_free char *v = NULL;
            size_t len;
            if (ctr_read_file(p, 64, &v, &len, NULL) == 0 && strncmp(v, want, strlen(want)) == 0)
                memcpy(name, de->d_name, strlen(de->d_name) + 1); /* < IFNAMSIZ */
        }
        closedir(d);
        if (name[0] == '\0')
            return ctr_fail(err, ENODEV, "no NIC with the template's MAC %s", want);
        if (!agent_mac_parse(*m, mac))
            return ctr_fail(err, EINVAL, "bad MAC `%s`", *m);
        struct ifreq ifr = {0};
        memcpy(ifr.ifr_name, name, sizeof(name));
        ifr.ifr_hwaddr.sa_family = ARPHRD_ETHER;
        memcpy(ifr.ifr_hwaddr.sa_data, mac, 6);
        int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || ioctl(fd, SIOCSIFHWADDR, &ifr) < 0) {
            int e = errno;
            if (fd >= 0)
                close(fd);
            return ctr_fail(err, e, "set the MAC of `%s` to %s", name, *m);
        }
        close(fd);
    }
    return 0;
}

int guest_warm_apply(const struct agent_setup *s, ctr_error_t *err)
{
    if (!s->warm)
        return 0;
    if (s->warm_time_ns > 0) {
        struct timespec ts = {.tv_sec = s->warm_time_ns / 1000000000,
                              .tv_nsec = s->warm_time_ns % 1000000000};
        if (clock_settime(CLOCK_REALTIME, &ts) < 0)
            return ctr_fail(err, errno, "warm start: set the clock");
    }
    {
        struct {
            struct rand_pool_info info;
            uint8_t buf[AGENT_WARM_ENTROPY];
        } e;
        int fd = open("/dev/urandom", O_WRONLY | O_CLOEXEC);
        if (fd < 0)
            return ctr_fail(err, errno, "warm start: open `/dev/urandom`");
        e.info.entropy_count = AGENT_WARM_ENTROPY * 8;
        e.info.buf_size = AGENT_WARM_ENTROPY;
        memcpy(e.buf, s->warm_entropy, AGENT_WARM_ENTROPY);
        /* RNDADDENTROPY credits the bytes and RNDRESEEDCRNG makes the CRNG take them at
         * once (not at its next scheduled reseed). */
        if (ioctl(fd, RNDADDENTROPY, &e.info) < 0 || ioctl(fd, RNDRESEEDCRNG) < 0) {
            int en = errno;
            close(fd);
            return ctr_fail(err, en, "warm start: reseed the kernel's random generator");
        }
        close(fd);
    }
    if (flush_disks(err) < 0 || set_macs(s->warm_macs, err) < 0)
        return ctr_error_wrap(err, "warm start");
    return 0;
}
