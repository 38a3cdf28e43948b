/* The QEMU command line built by the shim. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
/* cmocka needs the three above first */
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "shim-kernel-cmdline.h" /* generated from kernel/cmdline* */
#include "shim/vmm-qemu-internal.h"
#include "shim/warm.h"

#include <stdio.h>
#include <unistd.h>

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
    char **av = vmm_qemu_argv(&c, NULL, 3, &err);

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
    /* a write error (full host disk) reaches the guest instead of pausing the VM */
    expect_opt(av, "-drive",
               "id=disk1,file=/var/lib/c/rw.ext4,if=none,format=raw,discard=unmap,"
               "werror=report,rerror=report");
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
    assert_int_equal(find(av, "-mon"), -1);
    ctr_strv_free(av);

    /* the events monitor (BLOCK_IO_ERROR): after the TAPs (none here) */
    struct vmm_qemu_opts o = {.events = true};
    av = vmm_qemu_argv(&c, &o, 3, &err);
    assert_non_null(av);
    expect_opt(av, "-chardev", "socket,id=events,fd=4");
    expect_opt(av, "-mon", "chardev=events,mode=control");
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
    av = vmm_qemu_argv(&c, NULL, 3, &err);
    assert_non_null(av);
    assert_string_equal(av[0], "/opt/qemu/bin/qemu-system-x86_64");
    expect_opt(av, "-accel", "kvm");
    expect_opt(av, "-cpu", "host");
    assert_int_equal(find(av, "-initrd"), -1);
    int i = find(av, "-append");
    assert_non_null(strstr(av[i + 1], " loglevel=7"));
    ctr_strv_free(av);
}

/* Warm start: the template VM has placeholder backends and a QMP monitor; the restored
 * one has the real backends and the same devices in the same order, plus -incoming. */
static void warm_template_and_restore(void **state)
{
    static struct bundle_share shares[] = {{.tag = "v0", .path = "/data/vol", .readonly = false}};
    static const uint64_t sizes[] = {139460608, 8589934592};
    struct vmm_config c = base();
    struct vmm_qemu_opts o = {0};
    ctr_error_t err = NULL;

    c.shares = shares;
    c.n_shares = 1;
    o.template_vm = true;
    o.disk_sizes = sizes;
    o.placeholder_dir = "/t/empty";
    char **t = vmm_qemu_argv(&c, &o, 3, &err);
    assert_non_null(t);
    expect_opt(t, "-drive",
               "id=disk0,driver=null-co,size=139460608,read-zeroes=on,if=none,"
               "readonly=on");
    expect_opt(t, "-drive",
               "id=disk1,driver=null-co,size=8589934592,read-zeroes=on,if=none,"
               "discard=unmap");
    expect_opt(t, "-fsdev", "local,id=fs0,path=/t/empty,security_model=passthrough");
    expect_opt(t, "-chardev", "socket,id=qmp,fd=4"); /* after the TAPs: none here */
    expect_opt(t, "-mon", "chardev=qmp,mode=control");
    expect_opt(t, "-global", "migration.store-global-state=off");
    assert_int_equal(find(t, "-incoming"), -1);
    ctr_strv_free(t);

    /* NICs: the TAPs first, then the QMP fd; placeholder MACs (vminitd sets the real) */
    static struct bundle_net nets[] = {{.tap = "t0", .bridge = "br0", .mac = "02:42:c0:a8:40:05"}};
    c.nets = nets;
    c.n_nets = 1;
    t = vmm_qemu_argv(&c, &o, 3, &err);
    assert_non_null(t);
    expect_opt(t, "-netdev", "tap,id=net0,fd=4");
    expect_opt(t, "-device", "virtio-net-device,netdev=net0,mac=0e:57:a7:00:00:01");
    expect_opt(t, "-chardev", "socket,id=qmp,fd=5");
    ctr_strv_free(t);
    c.nets = NULL;
    c.n_nets = 0;
    t = vmm_qemu_argv(&c, &o, 3, &err);
    assert_non_null(t);

    o = (struct vmm_qemu_opts){.incoming = true};
    char **r = vmm_qemu_argv(&c, &o, 3, &err);
    assert_non_null(r);
    expect_opt(r, "-drive",
               "id=disk0,file=/var/lib/c/image,,1.ext4,if=none,format=raw,readonly=on");
    expect_opt(r, "-fsdev", "local,id=fs0,path=/data/vol,security_model=passthrough");
    expect_opt(r, "-incoming", "fd:4");
    assert_int_equal(find(r, "-mon"), -1);
    /* a restored VM's events monitor comes after the incoming stream */
    o.events = true;
    char **re = vmm_qemu_argv(&c, &o, 3, &err);
    assert_non_null(re);
    expect_opt(re, "-chardev", "socket,id=events,fd=5");
    ctr_strv_free(re);
    o.events = false;
    /* the same devices, in the same order: the migration stream finds its sections */
    int ti = 0, ri = 0;
    for (;;) {
        while (t[ti] && strcmp(t[ti], "-device") != 0)
            ti++;
        while (r[ri] && strcmp(r[ri], "-device") != 0)
            ri++;
        if (!t[ti] || !r[ri])
            break;
        assert_string_equal(t[ti + 1], r[ri + 1]);
        ti++, ri++;
    }
    assert_null(t[ti]);
    assert_null(r[ri]);
    ctr_strv_free(t);
    ctr_strv_free(r);
}

/* The shape key: same for another container of the same shape (other disk paths), not
 * for another disk size, memory size or initramfs content. */
static void warm_shape_key(void **state)
{
    char dir[] = "/tmp/test-warm-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char *k = ctr_xasprintf("%s/vmlinux", dir), *i = ctr_xasprintf("%s/initrd", dir);
    char *d[4];
    for (int n = 0; n < 4; n++)
        d[n] = ctr_xasprintf("%s/disk%d", dir, n);
    assert_int_equal(ctr_write_file_atomic(k, "kernel", 6, 0644, NULL), 0);
    assert_int_equal(ctr_write_file_atomic(i, "initrd-1", 8, 0644, NULL), 0);
    for (int n = 0; n < 4; n++) {
        FILE *f = fopen(d[n], "w");
        assert_non_null(f);
        assert_int_equal(ftruncate(fileno(f), n == 3 ? 8192 : 4096), 0);
        fclose(f);
    }
    struct bundle_disk da[] = {{.serial = "image", .path = d[0], .readonly = true},
                               {.serial = "rw", .path = d[1]}};
    struct bundle_disk db[] = {{.serial = "image", .path = d[2], .readonly = true},
                               {.serial = "rw", .path = d[1]}};
    struct bundle_disk dc[] = {{.serial = "image", .path = d[3], .readonly = true},
                               {.serial = "rw", .path = d[1]}};
    struct vmm_config c = base();
    c.binary = "/bin/true";
    c.kernel = k;
    c.initrd = i;
    c.disks = da;
    ctr_error_t err = NULL;
    char *ka = NULL, *kb = NULL, *kc = NULL, *km = NULL, *ki = NULL;
    assert_int_equal(shim_warm_key(&vmm_qemu_ops, &c, &ka, &err), 0);
    assert_int_equal(strlen(ka), 64);
    c.disks = db;
    c.console = "/other/boot.log";
    c.agent_fd = 11;
    assert_int_equal(shim_warm_key(&vmm_qemu_ops, &c, &kb, &err), 0);
    assert_string_equal(ka, kb);
    c.disks = dc;
    assert_int_equal(shim_warm_key(&vmm_qemu_ops, &c, &kc, &err), 0);
    assert_string_not_equal(ka, kc);
    c.disks = da;
    c.memory_mib = 512;
    assert_int_equal(shim_warm_key(&vmm_qemu_ops, &c, &km, &err), 0);
    assert_string_not_equal(ka, km);
    c.memory_mib = 384;
    assert_int_equal(ctr_write_file_atomic(i, "initrd-2", 8, 0644, NULL), 0);
    assert_int_equal(shim_warm_key(&vmm_qemu_ops, &c, &ki, &err), 0);
    assert_string_not_equal(ka, ki);
    unlink(d[1]);
    char *kx = NULL;
    assert_int_equal(shim_warm_key(&vmm_qemu_ops, &c, &kx, &err), -1);
    assert_non_null(strstr(err->msg, d[1]));
    ctr_error_free(&err);
    free(ka), free(kb), free(kc), free(km), free(ki);
    ctr_rm_rf(dir, NULL);
    free(k), free(i);
    for (int n = 0; n < 4; n++)
        free(d[n]);
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
    assert_null(vmm_qemu_argv(&c, NULL, 3, &err));
    assert_non_null(strstr(err->msg, "has,comma"));
    ctr_error_free(&err);
    c.disks = longname;
    assert_null(vmm_qemu_argv(&c, NULL, 3, &err));
    ctr_error_free(&err);
    c = base();
    c.kernel = NULL;
    assert_null(vmm_qemu_argv(&c, NULL, 3, &err));
    assert_non_null(strstr(err->msg, "kernel"));
    ctr_error_free(&err);
}

/* NICs: a virtio-net device per TAP fd (VMM_QEMU_TAP_FD0 + i in QEMU), vhost only
 * when asked (KVM), counted in the 8 virtio-mmio devices with disks and shares. */
static void network_interfaces(void **state)
{
    struct bundle_net nets[] = {{"ctap01234567890", "ctr0", "02:42:C0:A8:40:05", 1500},
                                {"ctap01234567891", "ctrbr-1", "02:42:0a:59:00:02", 1500}};
    int fds[] = {20, 21};
    struct vmm_config c = base();
    ctr_error_t err = NULL;
    char **av;

    c.nets = nets;
    c.tap_fds = fds;
    c.n_nets = 2;
    av = vmm_qemu_argv(&c, NULL, 3, &err);
    assert_non_null(av);
    expect_opt(av, "-netdev", "tap,id=net0,fd=4");
    expect_opt(av, "-device", "virtio-net-device,netdev=net0,mac=02:42:c0:a8:40:05");
    expect_opt(av, "-netdev", "tap,id=net1,fd=5");
    expect_opt(av, "-device", "virtio-net-device,netdev=net1,mac=02:42:0a:59:00:02");
    ctr_strv_free(av);
    c.accel = VMM_ACCEL_KVM;
    c.vhost_net = true;
    av = vmm_qemu_argv(&c, NULL, 3, &err);
    expect_opt(av, "-netdev", "tap,id=net1,fd=5,vhost=on");
    ctr_strv_free(av);

    /* 2 disks + 4 NICs + 2 fixed fit; a fifth NIC does not */
    struct bundle_net five[5];
    int fd5[5];
    for (int i = 0; i < 5; i++) {
        five[i] = nets[0];
        fd5[i] = 20 + i;
    }
    c.nets = five;
    c.tap_fds = fd5;
    c.n_nets = 4;
    av = vmm_qemu_argv(&c, NULL, 3, &err);
    assert_non_null(av);
    ctr_strv_free(av);
    c.n_nets = 5;
    assert_null(vmm_qemu_argv(&c, NULL, 3, &err));
    assert_non_null(strstr(err->msg, "5 network interfaces need more than the 8 virtio devices"));
    ctr_error_free(&err);
    five[0].mac = "ff:ff:ff:ff:ff:ff";
    c.n_nets = 1;
    assert_null(vmm_qemu_argv(&c, NULL, 3, &err));
    assert_non_null(strstr(err->msg, "bad MAC"));
    ctr_error_free(&err);
}

/* kernel/cmdline always; under TCG the TSC rate and, with one vCPU only, noapictimer;
 * the bundle's vm.cmdline last. */
static void kernel_cmdline_follows_accel_and_cpus(void **state)
{
    struct vmm_config c = base();
    char *s;

    c.tsc_khz = 2445420;
    c.cpus = 1;
    s = vmm_kernel_cmdline(&c);
    assert_string_equal(s,
                        SHIM_KERNEL_CMDLINE " tsc_early_khz=2445420 " SHIM_KERNEL_CMDLINE_TCG_1CPU);
    free(s);
    c.cpus = 0; /* unset means one */
    c.cmdline = "loglevel=7";
    s = vmm_kernel_cmdline(&c);
    assert_string_equal(s, SHIM_KERNEL_CMDLINE
                        " tsc_early_khz=2445420 " SHIM_KERNEL_CMDLINE_TCG_1CPU " loglevel=7");
    free(s);
    c.cpus = 2; /* noapictimer would leave the vCPUs on 4 ms broadcast ticks */
    s = vmm_kernel_cmdline(&c);
    assert_string_equal(s, SHIM_KERNEL_CMDLINE " tsc_early_khz=2445420 loglevel=7");
    free(s);
    c.tsc_khz = 0;
    c.cmdline = NULL;
    s = vmm_kernel_cmdline(&c);
    assert_string_equal(s, SHIM_KERNEL_CMDLINE);
    free(s);
    c.accel = VMM_ACCEL_KVM; /* kvmclock and the TSC-deadline timer: neither */
    c.cpus = 1;
    c.tsc_khz = 2445420;
    s = vmm_kernel_cmdline(&c);
    assert_string_equal(s, SHIM_KERNEL_CMDLINE);
    free(s);
    char **av = vmm_qemu_argv(&c, NULL, 3, &(ctr_error_t){NULL});
    expect_opt(av, "-append", SHIM_KERNEL_CMDLINE);
    ctr_strv_free(av);
}

/* The rate is cached per host boot: a cache of this boot is used as is, a stale
 * or garbled one is measured again and rewritten. */
static void host_tsc_rate_is_cached_per_boot(void **state)
{
    char dir[] = "/tmp/test-tsc.XXXXXX", path[64], *text = NULL, id[64] = "";
    ctr_error_t err = NULL;
    uint64_t khz = 0;
    size_t len;
    FILE *f;

    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/sub/tsc", dir);
    if (vmm_host_tsc_measure(&khz, &err) < 0) {
        ctr_error_free(&err);
        rmdir(dir);
        skip(); /* no TSC on this architecture */
    }
    assert_true(khz >= 100000);
    f = fopen("/proc/sys/kernel/random/boot_id", "r");
    assert_non_null(f);
    assert_int_equal(fscanf(f, "%63s", id), 1);
    fclose(f);

    /* none yet: measured and written */
    assert_int_equal(vmm_host_tsc_khz(path, &khz, &err), 0);
    assert_int_equal(ctr_read_file(path, 256, &text, &len, &err), 0);
    assert_true(strncmp(text, id, strlen(id)) == 0);
    free(text);
    /* this boot's figure is trusted as is */
    f = fopen(path, "w");
    fprintf(f, "%s 1234567\n", id);
    fclose(f);
    assert_int_equal(vmm_host_tsc_khz(path, &khz, &err), 0);
    assert_int_equal(khz, 1234567);
    /* another boot's figure, or garbage, is not */
    const char *stale[] = {"00000000-0000-0000-0000-000000000000 1234567\n", "garbage\n"};
    for (int i = 0; i < 2; i++) {
        f = fopen(path, "w");
        fputs(stale[i], f);
        fclose(f);
        assert_int_equal(vmm_host_tsc_khz(path, &khz, &err), 0);
        assert_int_not_equal(khz, 1234567);
        assert_true(khz >= 100000);
    }
    /* no cache at all: still measured */
    assert_int_equal(vmm_host_tsc_khz(NULL, &khz, &err), 0);
    assert_true(khz >= 100000);
    unlink(path);
    snprintf(path, sizeof(path), "%s/sub", dir);
    rmdir(path);
    rmdir(dir);
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
        cmocka_unit_test(warm_template_and_restore),
        cmocka_unit_test(warm_shape_key),
        cmocka_unit_test(bad_input_is_refused),
        cmocka_unit_test(network_interfaces),
        cmocka_unit_test(kernel_cmdline_follows_accel_and_cpus),
        cmocka_unit_test(host_tsc_rate_is_cached_per_boot),
        cmocka_unit_test(exit_status_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
