/* QEMU backend: the command line (an argv, never a shell). The device list is the same
 * for a boot, a template and a restore, so a migration stream finds its sections. */
#include "shim/vmm-qemu-internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* The kernel command line: only what any boot needs, nothing about the container,
 * so a booted VM without a container can be snapshotted and reused (warm start).
 * Generated from kernel/cmdline and kernel/cmdline-tcg-1cpu (src/shim/module.mk), so
 * the shim and bench/boot/bare.sh boot with the same one; docs/kernel.md says why. */
#include "shim-kernel-cmdline.h"

char *vmm_kernel_cmdline(const struct vmm_config *cfg)
{
    bool tcg = cfg->accel == VMM_ACCEL_TCG;
    cleanup_free char *tsc =
        tcg && cfg->tsc_khz ? ctr_xasprintf(" tsc_early_khz=%llu", (unsigned long long)cfg->tsc_khz)
                            : ctr_xstrdup("");
    /* Without the TSC-deadline timer (TCG) the APIC timer is calibrated for 200 ms;
     * with one vCPU the PIT serves as the clock event device instead. Not with more
     * vCPUs: they would be left with periodic 4 ms broadcast ticks. */
    bool one_cpu = tcg && (cfg->cpus ? cfg->cpus : 1) == 1;

    return ctr_xasprintf("%s%s%s%s%s%s", SHIM_KERNEL_CMDLINE, tsc, one_cpu ? " " : "",
                         one_cpu ? SHIM_KERNEL_CMDLINE_TCG_1CPU : "",
                         cfg->cmdline && cfg->cmdline[0] ? " " : "",
                         cfg->cmdline ? cfg->cmdline : "");
}

/* QEMU option values double their commas. */
static char *opt_escape(const char *s)
{
    size_t n = 0;
    for (const char *p = s; *p; p++)
        n += *p == ',' ? 2 : 1;
    char *out = ctr_xmalloc(n + 1), *o = out;
    for (const char *p = s; *p; p++) {
        *o++ = *p;
        if (*p == ',')
            *o++ = ',';
    }
    *o = '\0';
    return out;
}

static bool serial_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 20) /* virtio-blk ids are 20 bytes */
        return false;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '-' || *p == '_' || *p == '.'))
            return false;
    return true;
}

char **vmm_qemu_argv(const struct vmm_config *cfg, const struct vmm_qemu_opts *o,
                     int agent_fd_in_child, ctr_error_t *err)
{
    static const struct vmm_qemu_opts plain = {0};
    if (o == NULL)
        o = &plain;
    cleanup_strv char **av = ctr_xcalloc(1, sizeof(char *));
    cleanup_free char *console = NULL, *cmdline = NULL;

    if (cfg->kernel == NULL || cfg->kernel[0] == '\0')
        return ctr_fail(err, EINVAL, "no kernel given"), NULL;
    ctr_strv_append(&av, cfg->binary ? cfg->binary : "qemu-system-x86_64");
#define ARG(s) ctr_strv_append(&av, (s))
#define ARGF(...)                                                                                  \
    do {                                                                                           \
        char *_s = ctr_xasprintf(__VA_ARGS__);                                                     \
        ctr_strv_append(&av, _s);                                                                  \
        free(_s);                                                                                  \
    } while (0)
    ARG("-M");
    ARG("microvm,acpi=off,x-option-roms=off");
    ARG("-nodefaults");
    ARG("-no-user-config");
    ARG("-nographic");
    ARG("-no-reboot");
    ARG("-accel");
    if (cfg->accel == VMM_ACCEL_KVM) {
        ARG("kvm");
        ARG("-cpu");
        ARG("host");
    } else {
        ARG("tcg,thread=multi");
        ARG("-cpu");
        ARG("max");
    }
    ARG("-m");
    ARGF("%llu", (unsigned long long)cfg->memory_mib);
    ARG("-smp");
    ARGF("%u", cfg->cpus ? cfg->cpus : 1);
    ARG("-kernel");
    ARG(cfg->kernel);
    if (cfg->initrd) {
        ARG("-initrd");
        ARG(cfg->initrd);
    }
    ARG("-append");
    cmdline = vmm_kernel_cmdline(cfg);
    ARG(cmdline);
    if (cfg->console) {
        console = opt_escape(cfg->console);
        ARG("-chardev");
        ARGF("file,id=console,path=%s,append=on", console);
        ARG("-serial");
        ARG("chardev:console");
    }
    for (size_t i = 0; i < cfg->n_disks; i++) {
        const struct bundle_disk *d = &cfg->disks[i];
        if (!serial_ok(d->serial))
            return ctr_fail(err, EINVAL,
                            "disk serial `%s` must be 1-20 characters of [A-Za-z0-9._-]",
                            d->serial),
                   NULL;
        cleanup_free char *path = opt_escape(d->path);
        ARG("-drive");
        if (o->template_vm)
            ARGF("id=disk%zu,driver=null-co,size=%llu,read-zeroes=on,if=none%s", i,
                 (unsigned long long)o->disk_sizes[i],
                 d->readonly ? ",readonly=on" : ",discard=unmap");
        else /* a write error (a full host disk) goes to the guest instead of pausing
              * the VM unseen (QEMU's default werror=enospc); the events monitor tells us */
            ARGF("id=disk%zu,file=%s,if=none,format=raw%s", i, path,
                 d->readonly ? ",readonly=on" : ",discard=unmap,werror=report,rerror=report");
        ARG("-device");
        ARGF("virtio-blk-device,drive=disk%zu,serial=%s", i, d->serial);
    }
    if (cfg->n_disks + cfg->n_shares + cfg->n_nets + BUNDLE_FIXED_VIRTIO_DEVICES >
        BUNDLE_MAX_VIRTIO_DEVICES)
        return ctr_fail(err, E2BIG,
                        "%zu disks, %zu shared directories and %zu network interfaces need more "
                        "than the %d virtio devices a microvm has (%d are taken by the agent port "
                        "and rng)",
                        cfg->n_disks, cfg->n_shares, cfg->n_nets, BUNDLE_MAX_VIRTIO_DEVICES,
                        BUNDLE_FIXED_VIRTIO_DEVICES),
               NULL;
    for (size_t i = 0; i < cfg->n_nets; i++) {
        uint8_t mac[6];
        /* a template's NICs get placeholder MACs: vminitd sets the container's */
        cleanup_free char *tmac =
            o->template_vm ? ctr_xasprintf(AGENT_WARM_MAC_PREFIX ":%02zx", i + 1) : NULL;
        if (!agent_mac_parse(tmac ? tmac : cfg->nets[i].mac, mac))
            return ctr_fail(err, EINVAL, "network interface %zu: bad MAC `%s`", i,
                            cfg->nets[i].mac),
                   NULL;
        ARG("-netdev");
        ARGF("tap,id=net%zu,fd=%d%s", i, VMM_QEMU_TAP_FD0 + (int)i,
             cfg->vhost_net ? ",vhost=on" : "");
        ARG("-device");
        ARGF("virtio-net-device,netdev=net%zu,mac=%02x:%02x:%02x:%02x:%02x:%02x", i, mac[0], mac[1],
             mac[2], mac[3], mac[4], mac[5]);
    }
    for (size_t i = 0; i < cfg->n_shares; i++) {
        const struct bundle_share *sh = &cfg->shares[i];
        cleanup_free char *path = opt_escape(o->template_vm ? o->placeholder_dir : sh->path);
        if (!serial_ok(sh->tag))
            return ctr_fail(err, EINVAL, "share tag `%s` must be 1-20 characters of [A-Za-z0-9._-]",
                            sh->tag),
                   NULL;
        /* passthrough: files keep the guest's uid/gid/mode on the host, as docker shows
         * them (QEMU runs as root); docs/volumes.md */
        ARG("-fsdev");
        ARGF("local,id=fs%zu,path=%s,security_model=passthrough%s", i, path,
             sh->readonly ? ",readonly=on" : "");
        ARG("-device");
        ARGF("virtio-9p-device,fsdev=fs%zu,mount_tag=%s", i, sh->tag);
    }
    /* Entropy at once: without it the guest's first getrandom/urandom read (jansson's
     * hash seed in vminitd) spins in try_to_generate_entropy, ~1 s under TCG. */
    ARG("-device");
    ARG("virtio-rng-device");
    ARG("-chardev");
    ARGF("socket,id=agent,fd=%d", agent_fd_in_child);
    ARG("-device");
    ARG("virtio-serial-device,max_ports=2");
    ARG("-device");
    ARG("virtserialport,chardev=agent,name=" AGENT_PORT_NAME);
    if (o->template_vm) {
        ARG("-chardev");
        ARGF("socket,id=qmp,fd=%d", vmm_qemu_warm_fd(cfg));
        ARG("-mon");
        ARG("chardev=qmp,mode=control");
        /* The stream then says nothing of the run state, so the restored VM runs at
         * once although the template was paused when saved. */
        ARG("-global");
        ARG("migration.store-global-state=off");
    }
    if (o->events && !o->template_vm) {
        ARG("-chardev");
        ARGF("socket,id=events,fd=%d", vmm_qemu_events_fd(cfg, o));
        ARG("-mon");
        ARG("chardev=events,mode=control");
    }
    if (o->incoming) {
        ARG("-incoming");
        ARGF("fd:%d", vmm_qemu_warm_fd(cfg));
    }
#undef ARG
#undef ARGF
    return ctr_steal_ptr(av);
}

int vmm_qemu_warm_fd(const struct vmm_config *cfg)
{
    return VMM_QEMU_TAP_FD0 + (int)cfg->n_nets;
}

int vmm_qemu_events_fd(const struct vmm_config *cfg, const struct vmm_qemu_opts *o)
{
    return VMM_QEMU_TAP_FD0 + (int)cfg->n_nets + (o->incoming || o->template_vm ? 1 : 0);
}
