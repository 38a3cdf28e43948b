/* The smallest useful PID 1 for boot benchmarks and kernel tests: it prints a
 * marker on the console (so a kernel panic, which also ends QEMU under
 * `panic=-1 -no-reboot`, is not mistaken for a boot) and reboots at once.
 * Under QEMU microvm without ACPI there is no power-off device: the kernel is
 * booted with `reboot=t` (triple fault) and QEMU with `-no-reboot`, so a
 * reboot makes QEMU exit. See docs/kernel.md. */
#include <fcntl.h>
#include <string.h>
#include <sys/reboot.h>
#include <unistd.h>

int main(void)
{
    static const char msg[] = "trivial-init: reached init\n";
    int fd = open("/dev/console", O_WRONLY | O_NOCTTY);

    if (fd >= 0) {
        if (write(fd, msg, strlen(msg)) < 0) {
            /* nothing to report to: the console is the only output */
        }
        close(fd);
    }
    reboot(RB_AUTOBOOT);
    /* Only reached if reboot() failed: idle rather than exit (PID 1 exiting panics). */
    for (;;)
        pause();
}
