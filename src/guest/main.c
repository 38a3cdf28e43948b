/* vminitd: PID 1 of the guest initramfs. Mounts the pseudo filesystems, opens the
 * agent port and serves the host (docs/agent-protocol.md); everything container
 * specific arrives through the agent, nothing from the kernel command line, so a
 * booted-but-idle VM can be snapshotted and reused (warm start). */
#include "guest/guest-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PORT_WAIT_MS 3000

_Noreturn void guest_power_off(void)
{
    sync();
    /* microvm has no ACPI: a reboot request (triple fault with `reboot=t`) makes QEMU
     * exit under -no-reboot, see docs/kernel.md. */
    reboot(RB_AUTOBOOT);
    reboot(RB_POWER_OFF);
    for (;;)
        pause();
}

static double uptime_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_BOOTTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int open_port(ctr_error_t *err)
{
    uint64_t end = ctr_now_ns() + (uint64_t)PORT_WAIT_MS * 1000000u;
    cleanup_free char *path = NULL;
    int fd;

    /* virtio devices normally probe before init runs; allow a late one anyway */
    while (guest_find_port(AGENT_PORT_NAME, &path, err) < 0) {
        if (ctr_now_ns() >= end)
            return -1;
        ctr_error_free(err);
        usleep(10000);
    }
    fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return ctr_fail(err, errno, "open agent port `%s`", path);
    return fd;
}

int main(int argc, char **argv)
{
    cleanup_error ctr_error_t err = NULL;
    struct sigaction ign = {.sa_handler = SIG_IGN};
    sigset_t mask;
    int port;

    if (argc > 0 && strcmp(argv[0], GUEST_INIT_ARGV0) == 0)
        return guest_init_main(argc, argv);
    if (getpid() != 1) {
        fprintf(stderr, "vminitd: must run as PID 1 of the container VM\n");
        return 2;
    }
    ctr_log_set_prog("vminitd");
    ctr_log_set_level(CTR_LOG_INFO);
    sigaction(SIGPIPE, &ign, NULL);
    sigemptyset(&mask);
    sigaddset(&mask, SIGCHLD);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    umask(022);
    if (guest_mount_early(&err) < 0) {
        log_error("%s", err->msg);
        guest_power_off();
    }
    port = open_port(&err);
    if (port < 0) {
        log_error("%s", err->msg);
        guest_power_off();
    }
    log_info("agent port ready at %.3fs", uptime_s());
    guest_serve(port);
    guest_ctr_release();
    guest_unmount_all();
    guest_power_off();
}
