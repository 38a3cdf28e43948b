/* container-apiserver: parse the command line, set up logging, run the daemon. */
#include "daemon/daemon.h"
#include "net/net.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PROG "container-apiserver"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: " PROG " [options]\n"
            "  --root DIR            data root (default " DMN_DEFAULT_ROOT ")\n"
            "  --run-root DIR        socket and pid file (default " DMN_DEFAULT_RUN_ROOT ")\n"
            "  --socket PATH         API socket (default RUN/" DMN_SOCKET_NAME ")\n"
            "  --runtime PATH        container-runtime (default: next to this binary)\n"
            "  --kernel PATH         guest kernel when none was set through the API\n"
            "  --initrd PATH         initramfs with vminitd when DATA/kernel has none\n"
            "  --group NAME          group of the socket (default `container` when it exists)\n"
            "  --default-memory SIZE memory of containers that ask for none (default 1g)\n"
            "  --default-cpus N      vCPUs of containers that ask for none (default 2)\n"
            "  --virtualization kvm|tcg|auto   accelerator for new containers\n"
            "  --default-subnet CIDR IPv4 subnet of the default network when it is made\n"
            "                        (default: 192.168.64.0/24, or the first free /24 after it)\n"
            "  --log-level LEVEL     error, warn, info (default) or debug\n"
            "  --log-file PATH       daemon log (default DATA/" DMN_LOG_FILE "; `-` = stderr)\n");
}

/* CONTAINER_LOG_MAX_SIZE: bytes, or with a k/m/g suffix; 0 turns rotation off. */
static int log_max_size(uint64_t *out)
{
    const char *v = getenv("CONTAINER_LOG_MAX_SIZE");
    char *end;
    if (v == NULL || *v == '\0')
        return 0;
    errno = 0;
    unsigned long long n = strtoull(v, &end, 10);
    unsigned shift = 0;
    if (*end == 'k' || *end == 'K')
        shift = 10, end++;
    else if (*end == 'm' || *end == 'M')
        shift = 20, end++;
    else if (*end == 'g' || *end == 'G')
        shift = 30, end++;
    if (end == v || *end != '\0' || errno || n > (UINT64_MAX >> shift) || v[0] == '-') {
        fprintf(stderr, PROG ": CONTAINER_LOG_MAX_SIZE `%s`: use bytes, e.g. 10m or 65536\n", v);
        return -1;
    }
    *out = (uint64_t)n << shift;
    return 0;
}

int main(int argc, char **argv)
{
    enum {
        O_ROOT = 256,
        O_RUN,
        O_SOCK,
        O_RT,
        O_KERNEL,
        O_INITRD,
        O_GROUP,
        O_MEM,
        O_CPUS,
        O_ACCEL,
        O_LEVEL,
        O_LOGF,
        O_SUBNET
    };
    static const struct option lo[] = {
        {"root", required_argument, NULL, O_ROOT},
        {"run-root", required_argument, NULL, O_RUN},
        {"socket", required_argument, NULL, O_SOCK},
        {"runtime", required_argument, NULL, O_RT},
        {"kernel", required_argument, NULL, O_KERNEL},
        {"initrd", required_argument, NULL, O_INITRD},
        {"group", required_argument, NULL, O_GROUP},
        {"default-memory", required_argument, NULL, O_MEM},
        {"default-cpus", required_argument, NULL, O_CPUS},
        {"virtualization", required_argument, NULL, O_ACCEL},
        {"log-level", required_argument, NULL, O_LEVEL},
        {"log-file", required_argument, NULL, O_LOGF},
        {"default-subnet", required_argument, NULL, O_SUBNET},
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    struct dmn_config cfg = {0};
    const char *root = DMN_DEFAULT_ROOT, *run = DMN_DEFAULT_RUN_ROOT, *logf = NULL;
    enum ctr_log_level level = CTR_LOG_INFO;
    char buf[PATH_MAX];
    int c;

    /* Only 0-2 are ours to keep: whatever else our starter left open would otherwise
     * live on in every shim and VM (a pipe's reader waiting for EOF would wait for them). */
    close_range(3, ~0u, 0);
    while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        switch (c) {
        case O_ROOT:
            root = optarg;
            break;
        case O_RUN:
            run = optarg;
            break;
        case O_SOCK:
            cfg.socket = optarg;
            break;
        case O_RT:
            cfg.runtime = optarg;
            break;
        case O_KERNEL:
            cfg.kernel = optarg;
            break;
        case O_INITRD:
            cfg.initrd = optarg;
            break;
        case O_GROUP:
            cfg.group = optarg;
            break;
        case O_MEM:
            cfg.default_memory = optarg;
            break;
        case O_CPUS:
            cfg.default_cpus = optarg;
            break;
        case O_ACCEL:
            if (strcmp(optarg, "kvm") && strcmp(optarg, "tcg") && strcmp(optarg, "auto")) {
                fprintf(stderr, PROG ": `--virtualization %s`: use kvm, tcg or auto\n", optarg);
                return 2;
            }
            cfg.accel = optarg;
            break;
        case O_LEVEL:
            if (strcmp(optarg, "error") == 0)
                level = CTR_LOG_ERROR;
            else if (strcmp(optarg, "warn") == 0)
                level = CTR_LOG_WARN;
            else if (strcmp(optarg, "info") == 0)
                level = CTR_LOG_INFO;
            else if (strcmp(optarg, "debug") == 0)
                level = CTR_LOG_DEBUG;
            else {
                fprintf(stderr, PROG ": `--log-level %s`: use error, warn, info or debug\n",
                        optarg);
                return 2;
            }
            break;
        case O_LOGF:
            logf = optarg;
            break;
        case O_SUBNET: {
            struct net_cidr cidr;
            ctr_error_t e = NULL;
            if (net_cidr_parse(optarg, &cidr, &e) < 0) {
                fprintf(stderr, PROG ": `--default-subnet %s`: %s\n", optarg, e->msg);
                return 2;
            }
            cfg.default_subnet = optarg;
            break;
        }
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return 2;
    }
    /* Absolute paths: bundles and shims outlive our working directory. */
    if (ctr_mkdir_p(root, 0711, NULL) < 0 || realpath(root, buf) == NULL) {
        fprintf(stderr, PROG ": data root `%s`: %s\n", root, strerror(errno));
        return 1;
    }
    cfg.root = strdup(buf);
    if (ctr_mkdir_p(run, 0755, NULL) < 0 || realpath(run, buf) == NULL) {
        fprintf(stderr, PROG ": run root `%s`: %s\n", run, strerror(errno));
        return 1;
    }
    cfg.run_root = strdup(buf);
    if (cfg.socket == NULL)
        cfg.socket = ctr_xasprintf("%s/%s", cfg.run_root, DMN_SOCKET_NAME);
    if (cfg.runtime == NULL) {
        ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
        if (n < 0) {
            fprintf(stderr, PROG ": cannot find my own binary: %s\n", strerror(errno));
            return 1;
        }
        buf[n] = '\0';
        cfg.runtime = ctr_xasprintf("%s/container-runtime", dirname(buf));
    }
    ctr_log_set_prog(PROG);
    ctr_log_set_level(level);
    char *log_path = NULL;
    if (logf == NULL || strcmp(logf, "-") != 0) {
        log_path = logf ? strdup(logf) : ctr_xasprintf("%s/%s", cfg.root, DMN_LOG_FILE);
        int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
        if (fd < 0) {
            fprintf(stderr, PROG ": log file `%s`: %s\n", log_path, strerror(errno));
            return 1;
        }
        ctr_log_set_sink(fd, false);
        /* size-based rotation: apiserver.log.1 and .2 are kept */
        uint64_t max = DMN_LOG_MAX_SIZE;
        if (log_max_size(&max) < 0)
            return 2;
        ctr_log_set_rotate(log_path, max, DMN_LOG_KEEP);
    }
    cfg.log_path = log_path;
    ctr_error_t err = NULL;
    if (dmn_run(&cfg, &err) < 0) {
        log_error("%s", err->msg);
        ctr_error_print(PROG, err);
        ctr_error_free(&err);
        return 1;
    }
    return 0;
}
