/* The QEMU command line built by the shim. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
/* cmocka needs the three above first */
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "shim/vmm-internal.h"

/* Index of the argument equal to s (or -1). */
static int find(char **av, const char *s)
{
    for (int i = 0; av[i]; i++)
        if (strcmp(av[i], s) == 0)
            return i;
    return -1;
}

/* The value that follows option opt, checked to equal val. */
static void expect_opt(char **av, const char *opt, const char *val)
{
    for (int i = 0; av[i]; i++)
        if (strcmp(av[i], opt) == 0 && av[i + 1] && strcmp(av[i + 1], val) == 0)
            return;
    fail_msg("no `%s %s` in the qemu argv", opt, val);
}

static struct bundle_disk disks[] = {
    {.serial = "image", .path = "/var/lib/c/image,1.ext4", .readonly = true},
    {.serial = "rw", .path = "/var/lib/c/rw.ext4", .readonly = false},
};

static struct vmm_config base(void)
{
    return (struct vmm_config){.kernel = "/k/vmlinux",
                               .initrd = "/k/initramfs.cpio",
                               .cpus = 2,
                               .memory_mib = 384,
                               .accel = VMM_ACCEL_TCG,
                               .disks = disks,
                               .n_disks = 2,
                               .agent_fd = 7,
                               .console = "/b/boot.log"};
}

static void tcg_command_line(void **state)
{
    struct vmm_config c = base();
    ctr_error_t err = NULL;
    char **av = vmm_qemu_argv(&c, 3, &err);

    assert_non_null(av);
    assert_string_equal(av[0], "qemu-system-x86_64");
    assert_true(find(av, "microvm,acpi=off,x-option-roms=off") > 0);
    assert_true(find(av, "-nodefaults") > 0);
    assert_true(find(av, "-no-user-config") > 0);
    assert_true(find(av, "-nographic") > 0);
    assert_true(find(av, "-no-reboot") > 0);
    expect_opt(av, "-accel", "tcg,thread=multi");
    expect_opt(av, "-cpu", "max");
    expect_opt(av, "-m", "384");
    expect_opt(av, "-smp", "2");
    expect_opt(av, "-kernel", "/k/vmlinux");
    expect_opt(av, "-initrd", "/k/initramfs.cpio");
    /* commas in paths are doubled; the image is read-only */
    expect_opt(av, "-drive",
               "id=disk0,file=/var/lib/c/image,,1.ext4,if=none,format=raw,readonly=on");
    expect_opt(av, "-device", "virtio-blk-device,drive=disk0,serial=image");
    expect_opt(av, "-drive", "id=disk1,file=/var/lib/c/rw.ext4,if=none,format=raw,discard=unmap");
    expect_opt(av, "-device", "virtio-blk-device,drive=disk1,serial=rw");
    expect_opt(av, "-chardev", "socket,id=agent,fd=3");
    expect_opt(av, "-device", "virtserialport,chardev=agent,name=org.container.agent");
    expect_opt(av, "-chardev", "file,id=console,path=/b/boot.log,append=on");
    expect_opt(av, "-serial", "chardev:console");
    /* nothing container-specific on the kernel command line (warm start) */
    int i = find(av, "-append");
    assert_true(i > 0);
    assert_non_null(strstr(av[i + 1], "console=ttyS0"));
    assert_null(strstr(av[i + 1], "image"));
    assert_null(strstr(av[i + 1], "root="));
    ctr_strv_free(av);
}

static void kvm_command_line_and_extras(void **state)
{
    struct vmm_config c = base();
    ctr_error_t err = NULL;
    char **av;

    c.accel = VMM_ACCEL_KVM;
    c.cmdline = "loglevel=7";
    c.binary = "/opt/qemu/bin/qemu-system-x86_64";
    c.initrd = NULL;
    av = vmm_qemu_argv(&c, 3, &err);
    assert_non_null(av);
    assert_string_equal(av[0], "/opt/qemu/bin/qemu-system-x86_64");
    expect_opt(av, "-accel", "kvm");
    expect_opt(av, "-cpu", "host");
    assert_int_equal(find(av, "-initrd"), -1);
    int i = find(av, "-append");
    assert_non_null(strstr(av[i + 1], " loglevel=7"));
    ctr_strv_free(av);
}

static void bad_input_is_refused(void **state)
{
    struct vmm_config c = base();
    struct bundle_disk bad[] = {{.serial = "has,comma", .path = "/x", .readonly = true}};
    struct bundle_disk longname[] = {
        {.serial = "abcdefghijklmnopqrstuvwxyz", .path = "/x", .readonly = true}};
    ctr_error_t err = NULL;

    c.disks = bad;
    c.n_disks = 1;
    assert_null(vmm_qemu_argv(&c, 3, &err));
    assert_non_null(strstr(err->msg, "has,comma"));
    ctr_error_free(&err);
    c.disks = longname;
    assert_null(vmm_qemu_argv(&c, 3, &err));
    ctr_error_free(&err);
    c = base();
    c.kernel = NULL;
    assert_null(vmm_qemu_argv(&c, 3, &err));
    assert_non_null(strstr(err->msg, "kernel"));
    ctr_error_free(&err);
}

static void exit_status_text(void **state)
{
    char *s = vmm_describe_status(9); /* raw wait status: killed by SIGKILL */
    assert_non_null(strstr(s, "signal 9"));
    free(s);
    s = vmm_describe_status(1 << 8);
    assert_non_null(strstr(s, "status 1"));
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(tcg_command_line),
        cmocka_unit_test(kvm_command_line_and_extras),
        cmocka_unit_test(bad_input_is_refused),
        cmocka_unit_test(exit_status_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
