/* QEMU backend: snapshots are migration streams (docs/runtime.md "Warm start").
 *
 * A template VM boots with the container's command line but placeholder backends
 * (null-co disks of the real sizes, shares exported from an empty directory, TAPs on no
 * bridge with placeholder MACs) and a QMP monitor; once the caller says it is ready,
 * QMP `stop`, `getfd` and `migrate` save it to a file. A restore starts QEMU with the
 * real backends and `-incoming fd:N` on that file. The shape of a snapshot is the
 * template's own command line with its paths fixed. */
#include "shim/qmp-internal.h"
#include "shim/vmm-qemu-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

int vmm_qemu_disk_sizes(const struct vmm_config *cfg, uint64_t **sizes, ctr_error_t *err)
{
    cleanup_free uint64_t *s = ctr_xcalloc(cfg->n_disks + 1, sizeof(uint64_t));
    for (size_t i = 0; i < cfg->n_disks; i++) {
        struct stat st;
        if (stat(cfg->disks[i].path, &st) < 0)
            return ctr_fail(err, errno, "disk `%s`", cfg->disks[i].path);
        s[i] = (uint64_t)st.st_size;
    }
    *sizes = ctr_steal_ptr(s);
    return 0;
}

int vmm_qemu_placeholder_taps(size_t n, int *taps, ctr_error_t *err)
{
    for (size_t i = 0; i < n; i++) {
        struct ifreq ifr = {.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR};
        taps[i] = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
        if (taps[i] < 0 || ioctl(taps[i], TUNSETIFF, &ifr) < 0)
            return ctr_fail(err, errno, "create a placeholder TAP");
    }
    return 0;
}

int vmm_qemu_migrate_to_fd(int qmp_fd, int state_fd, uint64_t deadline_ns, ctr_error_t *err)
{
    cleanup_free struct qmp_client *q = ctr_xcalloc(1, sizeof(*q));

    q->fd = qmp_fd;
    q->deadline = deadline_ns;
    if (qmp_command(q, "qmp_capabilities", NULL, NULL, -1, err) < 0 ||
        qmp_command(q, "stop", NULL, NULL, -1, err) < 0 ||
        qmp_command(q, "getfd", "fdname", "state", state_fd, err) < 0 ||
        qmp_command(q, "migrate", "uri", "fd:state", -1, err) < 0)
        return -1;
    for (;;) {
        cleanup_free char *status = NULL, *why = NULL;
        if (qmp_query_migrate(q, &status, &why, err) < 0)
            return -1;
        if (strcmp(status, "completed") == 0)
            return 0;
        if (strcmp(status, "failed") == 0 || strcmp(status, "cancelled") == 0)
            return ctr_fail(err, EIO, "saving the template VM %s: %s", status,
                            why ? why : "no reason");
        usleep(5000);
    }
}

static char *find_in_path(const char *bin)
{
    if (strchr(bin, '/'))
        return realpath(bin, NULL);
    const char *path = getenv("PATH");
    if (path == NULL || path[0] == '\0')
        path = "/usr/local/bin:/usr/bin:/bin";
    cleanup_free char *copy = ctr_xstrdup(path);
    for (char *save = NULL, *dir = strtok_r(copy, ":", &save); dir;
         dir = strtok_r(NULL, ":", &save)) {
        cleanup_free char *p = ctr_xasprintf("%s/%s", dir, bin);
        if (access(p, X_OK) == 0)
            return realpath(p, NULL);
    }
    return NULL;
}

int vmm_qemu_snapshot_shape(const struct vmm_config *cfg, char ***words, char **program,
                            ctr_error_t *err)
{
    cleanup_free uint64_t *sizes = NULL;
    struct vmm_config kc = *cfg;
    const char *bin = cfg->binary ? cfg->binary : "qemu-system-x86_64";

    if (vmm_qemu_disk_sizes(cfg, &sizes, err) < 0)
        return -1;
    /* The template's own command line, with its paths fixed: the shape. */
    struct vmm_qemu_opts o = {
        .template_vm = true, .disk_sizes = sizes, .placeholder_dir = "/placeholder"};
    kc.console = "/console";
    cleanup_strv char **argv = vmm_qemu_argv(&kc, &o, VMM_QEMU_AGENT_FD, err);
    if (argv == NULL)
        return -1;
    char *qemu = find_in_path(bin);
    if (qemu == NULL)
        return ctr_fail(err, ENOENT, "QEMU `%s` not found", bin);
    *words = ctr_steal_ptr(argv);
    *program = qemu;
    return 0;
}

bool vmm_qemu_snapshot_valid(int fd)
{
    char magic[4];
    return pread(fd, magic, 4, 0) == 4 && memcmp(magic, VMM_QEMU_STREAM_MAGIC, 4) == 0;
}
