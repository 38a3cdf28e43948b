/* ctr-prepare: a dev/test tool around the image store and bundle creation.
 *
 *   ctr-prepare load   --root DATA LAYOUT_DIR [--name REF]
 *   ctr-prepare images --root DATA
 *   ctr-prepare rmi    --root DATA REF
 *   ctr-prepare bundle --root DATA --kernel K --initrd I [run options] BUNDLE_DIR IMAGE [CMD...]
 *
 * `bundle` takes docker run's options (-e, --env-file, -w, -u, --entrypoint,
 * -t, -i, --read-only, -m, -c, --ulimit, -h/--hostname, -l/--label) plus --id
 * and --accel, and prints the bundle directory. Integration tests then run it
 * with `container-runtime run BUNDLE`. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bundle/bundle.h"
#include "image/store.h"

static const char *prog = "ctr-prepare";

static int usage(int code)
{
    fprintf(code ? stderr : stdout,
            "usage: %s load   --root DATA LAYOUT_DIR [--name REF]\n"
            "       %s images --root DATA\n"
            "       %s rmi    --root DATA REF\n"
            "       %s bundle --root DATA --kernel K --initrd I [-e K=V] [--env-file F]\n"
            "                 [-w DIR] [-u USER] [--entrypoint E] [-t] [-i] [--read-only]\n"
            "                 [-m MEM] [-c CPUS] [--ulimit N=S[:H]] [-h HOST] [-l K=V]\n"
            "                 [--id ID] [--accel auto|kvm|tcg] BUNDLE_DIR IMAGE [CMD...]\n",
            prog, prog, prog, prog);
    return code;
}

static int fail(ctr_error_t *err)
{
    ctr_error_print(prog, *err);
    ctr_error_free(err);
    return 1;
}

static int cmd_load(int argc, char **argv)
{
    static const struct option lo[] = {
        {"root", required_argument, NULL, 'r'}, {"name", required_argument, NULL, 'n'}, {0}};
    const char *root = NULL, *name = NULL;
    struct imgstore *st = NULL;
    cleanup_strv char **names = NULL;
    ctr_error_t err = NULL;
    int c, ret = 0;

    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        if (c == 'r')
            root = optarg;
        else if (c == 'n')
            name = optarg;
        else
            return usage(2);
    }
    if (root == NULL || optind != argc - 1)
        return usage(2);
    if (imgstore_open(root, &st, &err) < 0 ||
        imgstore_load_layout(st, argv[optind], name, &names, &err) < 0) {
        imgstore_close(st);
        return fail(&err);
    }
    for (size_t i = 0; names[i]; i++) {
        struct imgstore_image img = {0};
        if (imgstore_resolve(st, names[i], &img, &err) < 0) {
            ret = fail(&err);
            continue;
        }
        printf("%s %s\n", names[i], img.manifest_digest);
        imgstore_image_release(&img);
    }
    imgstore_close(st);
    return ret;
}

static int cmd_images_rmi(int argc, char **argv, bool rmi)
{
    static const struct option lo[] = {{"root", required_argument, NULL, 'r'}, {0}};
    const char *root = NULL;
    struct imgstore *st = NULL;
    struct imgstore_entry *e = NULL;
    ctr_error_t err = NULL;
    size_t n;
    int c;

    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        if (c == 'r')
            root = optarg;
        else
            return usage(2);
    }
    if (root == NULL || optind != argc - (rmi ? 1 : 0))
        return usage(2);
    if (imgstore_open(root, &st, &err) < 0)
        return fail(&err);
    if (rmi) {
        int r = imgstore_remove(st, argv[optind], &err);
        imgstore_close(st);
        return r < 0 ? fail(&err) : 0;
    }
    if (imgstore_list(st, &e, &n, &err) < 0) {
        imgstore_close(st);
        return fail(&err);
    }
    for (size_t i = 0; i < n; i++)
        printf("%s %s\n", e[i].name, e[i].digest);
    imgstore_entries_free(e, n);
    imgstore_close(st);
    return 0;
}

static int cmd_bundle(int argc, char **argv)
{
    enum { O_ROOT = 256, O_KERNEL, O_INITRD, O_ENVFILE, O_ENTRY, O_RO, O_ULIMIT, O_ID, O_ACCEL };
    static const struct option lo[] = {
        {"root", required_argument, NULL, O_ROOT},
        {"kernel", required_argument, NULL, O_KERNEL},
        {"initrd", required_argument, NULL, O_INITRD},
        {"env", required_argument, NULL, 'e'},
        {"env-file", required_argument, NULL, O_ENVFILE},
        {"workdir", required_argument, NULL, 'w'},
        {"user", required_argument, NULL, 'u'},
        {"entrypoint", required_argument, NULL, O_ENTRY},
        {"tty", no_argument, NULL, 't'},
        {"interactive", no_argument, NULL, 'i'},
        {"read-only", no_argument, NULL, O_RO},
        {"memory", required_argument, NULL, 'm'},
        {"cpus", required_argument, NULL, 'c'},
        {"ulimit", required_argument, NULL, O_ULIMIT},
        {"hostname", required_argument, NULL, 'h'},
        {"label", required_argument, NULL, 'l'},
        {"id", required_argument, NULL, O_ID},
        {"accel", required_argument, NULL, O_ACCEL},
        {0},
    };
    struct bundle_create_paths paths = {0};
    struct bundle_create_opts o = {0};
    cleanup_strv char **env = ctr_xcalloc(1, sizeof(char *));
    cleanup_strv char **env_files = ctr_xcalloc(1, sizeof(char *));
    cleanup_strv char **ulimits = ctr_xcalloc(1, sizeof(char *));
    cleanup_strv char **labels = ctr_xcalloc(1, sizeof(char *));
    cleanup_strv char **entrypoint = NULL;
    cleanup_free char *id = NULL;
    ctr_error_t err = NULL;
    const char *bundle_dir;
    int c;

    /* `+`: stop at the first operand, so the command's own flags are left alone. */
    while ((c = getopt_long(argc, argv, "+e:w:u:tim:c:h:l:", lo, NULL)) != -1) {
        switch (c) {
        case O_ROOT:
            paths.data_root = optarg;
            break;
        case O_KERNEL:
            paths.kernel = optarg;
            break;
        case O_INITRD:
            paths.initrd = optarg;
            break;
        case 'e':
            ctr_strv_append(&env, optarg);
            break;
        case O_ENVFILE:
            ctr_strv_append(&env_files, optarg);
            break;
        case 'w':
            o.workdir = optarg;
            break;
        case 'u':
            o.user = optarg;
            break;
        case O_ENTRY:
            ctr_strv_free(entrypoint);
            entrypoint = ctr_xcalloc(1, sizeof(char *));
            ctr_strv_append(&entrypoint, optarg);
            break;
        case 't':
            o.tty = true;
            break;
        case 'i':
            o.interactive = true;
            break;
        case O_RO:
            o.read_only = true;
            break;
        case 'm':
            o.memory = optarg;
            break;
        case 'c':
            o.cpus = optarg;
            break;
        case O_ULIMIT:
            ctr_strv_append(&ulimits, optarg);
            break;
        case 'h':
            o.hostname = optarg;
            break;
        case 'l':
            ctr_strv_append(&labels, optarg);
            break;
        case O_ID:
            o.id = optarg;
            break;
        case O_ACCEL:
            if (strcmp(optarg, "auto") == 0)
                o.accel = BUNDLE_ACCEL_AUTO;
            else if (strcmp(optarg, "kvm") == 0)
                o.accel = BUNDLE_ACCEL_KVM;
            else if (strcmp(optarg, "tcg") == 0)
                o.accel = BUNDLE_ACCEL_TCG;
            else {
                fprintf(stderr, "%s: --accel is `%s`; use auto, kvm or tcg\n", prog, optarg);
                return 2;
            }
            break;
        default:
            return usage(2);
        }
    }
    if (paths.data_root == NULL || argc - optind < 2)
        return usage(2);
    bundle_dir = argv[optind];
    o.image = argv[optind + 1];
    o.cmd = argv + optind + 2;
    o.entrypoint = entrypoint;
    o.env = env;
    o.env_files = env_files;
    o.ulimits = ulimits;
    o.labels = labels;
    if (bundle_create(&paths, &o, bundle_dir, &id, &err) < 0)
        return fail(&err);
    {
        char *abs = realpath(bundle_dir, NULL);
        printf("%s\n", abs ? abs : bundle_dir);
        free(abs);
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return usage(2);
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0)
        return usage(0);
    if (strcmp(argv[1], "load") == 0)
        return cmd_load(argc - 1, argv + 1);
    if (strcmp(argv[1], "images") == 0)
        return cmd_images_rmi(argc - 1, argv + 1, false);
    if (strcmp(argv[1], "rmi") == 0)
        return cmd_images_rmi(argc - 1, argv + 1, true);
    if (strcmp(argv[1], "bundle") == 0)
        return cmd_bundle(argc - 1, argv + 1);
    fprintf(stderr, "%s: unknown command `%s`\n", prog, argv[1]);
    return usage(2);
}
