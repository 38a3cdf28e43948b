/* Accelerator choice against a fake sysfs and /dev/kvm. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
/* cmocka needs the three above first */
#include <cmocka.h>

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shim/vmm-internal.h"

struct fake {
    char root[64];
    char sysfs[96];
    char dev[96];
};

static void fake_init(struct fake *f, const char *const *modules, bool dev)
{
    strcpy(f->root, "/tmp/test-accel.XXXXXX");
    assert_non_null(mkdtemp(f->root));
    snprintf(f->sysfs, sizeof(f->sysfs), "%s/sys", f->root);
    snprintf(f->dev, sizeof(f->dev), "%s/kvm", f->root);
    for (size_t i = 0; modules && modules[i]; i++) {
        char p[256];
        snprintf(p, sizeof(p), "%s/module/%s", f->sysfs, modules[i]);
        assert_int_equal(ctr_mkdir_p(p, 0755, NULL), 0);
    }
    if (dev) {
        int fd = open(f->dev, O_CREAT | O_RDWR, 0600);
        assert_true(fd >= 0);
        close(fd);
    }
}

static void fake_free(struct fake *f)
{
    ctr_rm_rf(f->root, NULL);
}

static enum vmm_accel choose(struct fake *f, enum bundle_accel req, const char *env,
                             const char **why)
{
    struct vmm_host h = {.sysfs = f->sysfs, .kvm_dev = f->dev};
    enum vmm_accel a = 99;
    ctr_error_t err = NULL;
    if (vmm_accel_choose(&h, req, env, &a, why, &err) < 0)
        fail_msg("choose failed: %s", err->msg);
    return a;
}

static void pvm_host_gets_tcg(void **state)
{
    static const char *const mods[] = {"kvm", "kvm_pvm", NULL};
    struct fake f;
    const char *why = NULL;
    fake_init(&f, mods, true);
    assert_int_equal(choose(&f, BUNDLE_ACCEL_AUTO, NULL, &why), VMM_ACCEL_TCG);
    assert_non_null(strstr(why, "kvm_pvm"));
    /* "auto" in the environment is the same as nothing */
    assert_int_equal(choose(&f, BUNDLE_ACCEL_AUTO, "auto", &why), VMM_ACCEL_TCG);
    fake_free(&f);
}

static void pvm_next_to_vmx_gets_kvm(void **state)
{
    static const char *const mods[] = {"kvm", "kvm_pvm", "kvm_intel", NULL};
    struct fake f;
    const char *why = NULL;
    fake_init(&f, mods, true);
    assert_int_equal(choose(&f, BUNDLE_ACCEL_AUTO, NULL, &why), VMM_ACCEL_KVM);
    fake_free(&f);
}

static void intel_and_amd_get_kvm(void **state)
{
    static const char *const intel[] = {"kvm", "kvm_intel", NULL};
    static const char *const amd[] = {"kvm", "kvm_amd", NULL};
    struct fake f;
    const char *why = NULL;
    fake_init(&f, intel, true);
    assert_int_equal(choose(&f, BUNDLE_ACCEL_AUTO, NULL, &why), VMM_ACCEL_KVM);
    fake_free(&f);
    fake_init(&f, amd, true);
    assert_int_equal(choose(&f, BUNDLE_ACCEL_AUTO, "", &why), VMM_ACCEL_KVM);
    fake_free(&f);
}

static void no_device_or_module_gets_tcg(void **state)
{
    static const char *const intel[] = {"kvm", "kvm_intel", NULL};
    struct fake f;
    const char *why = NULL;
    fake_init(&f, intel, false);
    assert_int_equal(choose(&f, BUNDLE_ACCEL_AUTO, NULL, &why), VMM_ACCEL_TCG);
    assert_non_null(strstr(why, "/dev/kvm"));
    fake_free(&f);
    fake_init(&f, NULL, true);
    assert_int_equal(choose(&f, BUNDLE_ACCEL_AUTO, NULL, &why), VMM_ACCEL_TCG);
    fake_free(&f);
}

static void unreadable_device_gets_tcg(void **state)
{
    static const char *const intel[] = {"kvm", "kvm_intel", NULL};
    struct fake f;
    const char *why = NULL;
    fake_init(&f, intel, false);
    assert_int_equal(mkdir(f.dev, 0755), 0); /* a directory cannot be opened read-write */
    assert_int_equal(choose(&f, BUNDLE_ACCEL_AUTO, NULL, &why), VMM_ACCEL_TCG);
    fake_free(&f);
}

static void forced_by_env_and_bundle(void **state)
{
    static const char *const mods[] = {"kvm", "kvm_pvm", NULL};
    struct fake f;
    const char *why = NULL;
    fake_init(&f, mods, true);
    /* the user may force kvm even on PVM (the boot deadline guards it) */
    assert_int_equal(choose(&f, BUNDLE_ACCEL_AUTO, "kvm", &why), VMM_ACCEL_KVM);
    assert_non_null(strstr(why, "CONTAINER_VIRTUALIZATION"));
    assert_int_equal(choose(&f, BUNDLE_ACCEL_TCG, "kvm", &why), VMM_ACCEL_TCG);
    assert_non_null(strstr(why, "bundle"));
    assert_int_equal(choose(&f, BUNDLE_ACCEL_KVM, "tcg", &why), VMM_ACCEL_KVM);
    fake_free(&f);

    static const char *const intel[] = {"kvm", "kvm_intel", NULL};
    fake_init(&f, intel, true);
    assert_int_equal(choose(&f, BUNDLE_ACCEL_AUTO, "tcg", &why), VMM_ACCEL_TCG);
    fake_free(&f);
}

static void bad_env_and_missing_forced_device(void **state)
{
    struct fake f;
    struct vmm_host h;
    enum vmm_accel a;
    const char *why = NULL;
    ctr_error_t err = NULL;

    fake_init(&f, NULL, false);
    h = (struct vmm_host){.sysfs = f.sysfs, .kvm_dev = f.dev};
    assert_int_equal(vmm_accel_choose(&h, BUNDLE_ACCEL_AUTO, "hvf", &a, &why, &err), -1);
    assert_non_null(strstr(err->msg, "`hvf`"));
    ctr_error_free(&err);
    assert_int_equal(vmm_accel_choose(&h, BUNDLE_ACCEL_KVM, NULL, &a, &why, &err), -1);
    assert_non_null(strstr(err->msg, f.dev));
    ctr_error_free(&err);
    fake_free(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(pvm_host_gets_tcg),
        cmocka_unit_test(pvm_next_to_vmx_gets_kvm),
        cmocka_unit_test(intel_and_amd_get_kvm),
        cmocka_unit_test(no_device_or_module_gets_tcg),
        cmocka_unit_test(unreadable_device_gets_tcg),
        cmocka_unit_test(forced_by_env_and_bundle),
        cmocka_unit_test(bad_env_and_missing_forced_device),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
