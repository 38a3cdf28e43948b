/* container-apiserver: the host daemon serving the Docker Engine API on a unix
 * socket (docs/api.md, docs/daemon.md). main.c parses the command line into a
 * dmn_config and calls dmn_run. Every symbol carries the `dmn_` prefix. */
#ifndef CTR_DAEMON_H
#define CTR_DAEMON_H

#include "common/common.h"

#define DMN_DEFAULT_ROOT "/var/lib/container"
#define DMN_DEFAULT_RUN_ROOT "/run/container"
#define DMN_SOCKET_NAME "container.sock"
#define DMN_PID_FILE "container-apiserver.pid"
#define DMN_LOG_FILE "apiserver.log"
#define DMN_LOG_MAX_SIZE (10u << 20) /* rotated at this size (CONTAINER_LOG_MAX_SIZE) */
#define DMN_LOG_KEEP 2               /* apiserver.log.1, apiserver.log.2 */

struct dmn_config {
    char *root;            /* data root */
    char *run_root;        /* socket, pid file */
    char *socket;          /* default RUN/container.sock */
    char *runtime;         /* container-runtime binary; default next to ours */
    char *kernel, *initrd; /* NULL: DATA/kernel/..., else the runtime's default */
    char *group;           /* socket group; NULL: "container" when it exists */
    char *default_memory;  /* docker units, NULL: 1 GiB */
    char *default_cpus;    /* NULL: 2 */
    char *accel;           /* auto|kvm|tcg for new containers */
    char *log_path;        /* the daemon's log file, NULL for stderr */
    char *default_subnet;  /* the default network's, when it is made; NULL: auto */
};

/* Serve until SIGTERM/SIGINT or POST /container/system/stop. */
int dmn_run(const struct dmn_config *cfg, ctr_error_t *err);

#endif
