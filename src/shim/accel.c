/* Accelerator choice: KVM only where it can run a standard guest. A PVM host
 * exposes /dev/kvm through kvm_pvm, which only runs specially built guests; a
 * standard kernel spins forever there, so such a host gets TCG without trying. */
#include "shim/vmm-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

const char *vmm_accel_name(enum vmm_accel a)
{
    return a == VMM_ACCEL_KVM ? "kvm" : "tcg";
}

static bool module_loaded(const char *sysfs, const char *name)
{
    cleanup_free char *path = ctr_xasprintf("%s/module/%s", sysfs, name);
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* 1 usable, 0 not (reason in *why). */
static int kvm_usable(const struct vmm_host *host, const char **why)
{
    bool intel = module_loaded(host->sysfs, "kvm_intel");
    bool amd = module_loaded(host->sysfs, "kvm_amd");
    struct stat st;
    int fd;

    if (module_loaded(host->sysfs, "kvm_pvm") && !intel && !amd) {
        *why = "kvm is provided by kvm_pvm, which cannot run a standard guest";
        return 0;
    }
    if (!intel && !amd) {
        *why = "neither kvm_intel nor kvm_amd is loaded";
        return 0;
    }
    if (stat(host->kvm_dev, &st) < 0) {
        *why = "no /dev/kvm";
        return 0;
    }
    fd = open(host->kvm_dev, O_RDWR | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        *why = "/dev/kvm cannot be opened read-write";
        return 0;
    }
    if (S_ISCHR(st.st_mode) && ioctl(fd, KVM_GET_API_VERSION, 0) != KVM_API_VERSION) {
        close(fd);
        *why = "/dev/kvm answers with an unexpected api version";
        return 0;
    }
    close(fd);
    *why = "kvm is usable";
    return 1;
}

int vmm_accel_choose(const struct vmm_host *host, enum bundle_accel requested, const char *env,
                     enum vmm_accel *out, const char **why, ctr_error_t *err)
{
    const char *reason;

    if (requested == BUNDLE_ACCEL_AUTO && env != NULL && env[0] != '\0') {
        if (strcmp(env, "kvm") == 0)
            requested = BUNDLE_ACCEL_KVM;
        else if (strcmp(env, "tcg") == 0)
            requested = BUNDLE_ACCEL_TCG;
        else if (strcmp(env, "auto") != 0)
            return ctr_fail(err, EINVAL,
                            "CONTAINER_VIRTUALIZATION is `%s`; use `kvm`, `tcg` or `auto`", env);
        if (requested != BUNDLE_ACCEL_AUTO)
            *why = "forced by CONTAINER_VIRTUALIZATION";
    } else if (requested != BUNDLE_ACCEL_AUTO) {
        *why = "forced by the bundle";
    }
    switch (requested) {
    case BUNDLE_ACCEL_TCG:
        *out = VMM_ACCEL_TCG;
        return 0;
    case BUNDLE_ACCEL_KVM:
        /* Forced: honour it unless the device is plainly absent (the boot deadline
         * catches a KVM that cannot run the guest). */
        if (access(host->kvm_dev, R_OK | W_OK) < 0)
            return ctr_fail(err, errno, "kvm was requested but `%s` is not usable", host->kvm_dev);
        *out = VMM_ACCEL_KVM;
        return 0;
    default:
        break;
    }
    *out = kvm_usable(host, &reason) ? VMM_ACCEL_KVM : VMM_ACCEL_TCG;
    *why = reason;
    return 0;
}
