/* Preflight: refuse to boot what cannot work, naming the file to fix. */
#include "shim/shim-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char *resolve(const char *bundle, const char *p)
{
    return p[0] == '/' ? ctr_xstrdup(p) : ctr_xasprintf("%s/%s", bundle, p);
}

/* Next to a build: build/bin/container-runtime -> build/REL (scripts/setup.sh's layout). */
static char *default_artifact(const char *rel)
{
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n <= 0)
        return ctr_xasprintf("/usr/lib/container/%s", rel);
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (slash)
        *slash = '\0';
    return ctr_xasprintf("%s/../%s", exe, rel);
}

static int check_ext4(const char *what, const char *path, ctr_error_t *err)
{
    cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
    uint8_t magic[2];

    if (fd < 0)
        return ctr_fail(err, errno, "%s `%s` cannot be opened", what, path);
    if (pread(fd, magic, 2, 1024 + 56) != 2 || magic[0] != 0x53 || magic[1] != 0xEF)
        return ctr_fail(err, 0, "%s `%s` is not an ext4 image (corrupt or truncated?)", what, path);
    return 0;
}

int shim_preflight(struct shim *s, ctr_error_t *err)
{
    struct bundle_vm *vm = &s->cfg.vm;
    struct stat st;
    char *p;

    p = vm->kernel                   ? resolve(s->bundle, vm->kernel)
        : getenv("CONTAINER_KERNEL") ? ctr_xstrdup(getenv("CONTAINER_KERNEL"))
                                     : default_artifact("kernel/vmlinux");
    free(vm->kernel);
    vm->kernel = p;
    if (stat(vm->kernel, &st) < 0 || !S_ISREG(st.st_mode))
        return ctr_fail(err, 0,
                        "no guest kernel at `%s`; build it with `kernel/build.sh` or set "
                        "`vm.kernel` in the bundle config (or CONTAINER_KERNEL)",
                        vm->kernel);
    p = vm->initrd                   ? resolve(s->bundle, vm->initrd)
        : getenv("CONTAINER_INITRD") ? ctr_xstrdup(getenv("CONTAINER_INITRD"))
                                     : default_artifact("initramfs.cpio");
    free(vm->initrd);
    vm->initrd = p;
    if (stat(vm->initrd, &st) < 0 || !S_ISREG(st.st_mode))
        return ctr_fail(err, 0,
                        "no initramfs at `%s`; build it with `make` (vminitd) and "
                        "`scripts/make-initramfs.sh`, or set `vm.initrd` in the bundle config "
                        "(or CONTAINER_INITRD)",
                        vm->initrd);
    for (size_t i = 0; i < s->cfg.n_disks; i++) {
        struct bundle_disk *d = &s->cfg.disks[i];
        cleanup_free char *serial_ref = ctr_xasprintf("serial:%s", d->serial);
        p = resolve(s->bundle, d->path);
        free(d->path);
        d->path = p;
        if (stat(d->path, &st) < 0)
            return ctr_fail(err, errno, "disk `%s` at `%s` is missing; the container cannot start",
                            d->serial, d->path);
        if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
            return ctr_fail(err, 0, "disk `%s` at `%s` is not a file or block device", d->serial,
                            d->path);
        if ((s->cfg.setup.root_lower && strcmp(s->cfg.setup.root_lower, serial_ref) == 0) ||
            (s->cfg.setup.root_upper && strcmp(s->cfg.setup.root_upper, serial_ref) == 0)) {
            if (check_ext4(strcmp(d->serial, "image") == 0 ? "image disk" : "disk", d->path, err) <
                0)
                return -1;
        }
    }
    return 0;
}
