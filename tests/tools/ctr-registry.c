/* ctr-registry: a development and test tool for the registry client (src/registry).
 * The `container` CLI exposes the same operations through the daemon. */
#include "image/store.h"
#include "registry/registry.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char usage[] =
    "usage: ctr-registry [OPTIONS] COMMAND ARGS\n"
    "  login [--username U] [--password-stdin] HOST   verify and store credentials\n"
    "  logout HOST                                    forget credentials\n"
    "  list                                           registries with stored credentials\n"
    "  ping HOST                                      GET /v2/ (with credentials)\n"
    "  pull [--root DATA] [--platform OS/ARCH[/VAR]] [--progress none|plain|ansi] [--unpack] REF\n"
    "  push (--root DATA [--local NAME|DIGEST] | --layout DIR [--name N]) [--mount-from REPO]... "
    "REF\n"
    "  inspect [--platform P] REF                     print digest, media type and manifest\n"
    "options: --config DIR (config.json dir)  --certs-dir DIR  --scheme http|https|auto\n"
    "         --max-concurrent-downloads N  --retries N  --chunk-size BYTES (uploads)\n"
    "         --anonymous  --debug\n";

struct args {
    const char *root, *platform, *progress, *local, *layout, *name, *username;
    bool password_stdin, unpack;
    char **mount_from;
    struct registry_options o;
};

static int parse(int argc, char **argv, struct args *a, ctr_error_t *err)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"certs-dir", required_argument, NULL, 'C'},
        {"scheme", required_argument, NULL, 's'},
        {"max-concurrent-downloads", required_argument, NULL, 'j'},
        {"retries", required_argument, NULL, 'r'},
        {"chunk-size", required_argument, NULL, 'k'},
        {"anonymous", no_argument, NULL, 'A'},
        {"debug", no_argument, NULL, 'D'},
        {"root", required_argument, NULL, 'R'},
        {"platform", required_argument, NULL, 'p'},
        {"progress", required_argument, NULL, 'P'},
        {"local", required_argument, NULL, 'L'},
        {"unpack", no_argument, NULL, 'U'},
        {"layout", required_argument, NULL, 'l'},
        {"name", required_argument, NULL, 'n'},
        {"mount-from", required_argument, NULL, 'm'},
        {"username", required_argument, NULL, 'u'},
        {"password-stdin", no_argument, NULL, 'S'},
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    int c;
    a->o.max_retries = -1;
    while ((c = getopt_long(argc, argv, "u:j:h", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            a->o.config_dir = optarg;
            break;
        case 'C':
            a->o.certs_dir = optarg;
            break;
        case 's':
            if (registry_scheme_parse(optarg, &a->o.scheme, err) < 0)
                return -1;
            break;
        case 'j':
            a->o.max_concurrent = (unsigned)atoi(optarg);
            break;
        case 'r':
            a->o.max_retries = atoi(optarg);
            break;
        case 'k':
            a->o.chunk_size = strtoull(optarg, NULL, 10);
            break;
        case 'A':
            a->o.anonymous = true;
            break;
        case 'D':
            ctr_log_set_level(CTR_LOG_DEBUG);
            break;
        case 'R':
            a->root = optarg;
            break;
        case 'p':
            a->platform = optarg;
            break;
        case 'P':
            a->progress = optarg;
            break;
        case 'L':
            a->local = optarg;
            break;
        case 'U':
            a->unpack = true;
            break;
        case 'l':
            a->layout = optarg;
            break;
        case 'n':
            a->name = optarg;
            break;
        case 'm':
            ctr_strv_append(&a->mount_from, optarg);
            break;
        case 'u':
            a->username = optarg;
            break;
        case 'S':
            a->password_stdin = true;
            break;
        case 'h':
            fputs(usage, stdout);
            exit(0);
        default:
            return ctr_fail(err, EINVAL, "invalid option; see `ctr-registry --help`");
        }
    }
    return 0;
}

static char *read_password(ctr_error_t *err)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t n = getline(&line, &cap, stdin);
    if (n < 0) {
        free(line);
        ctr_fail(err, EINVAL, "no password on standard input");
        return NULL;
    }
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    return line;
}

static int cmd_login(struct args *a, const char *host, ctr_error_t *err)
{
    cleanup_free char *pw = NULL;
    if (a->username == NULL || !a->password_stdin)
        return ctr_fail(err, EINVAL, "login needs `--username U --password-stdin`");
    if ((pw = read_password(err)) == NULL)
        return -1;
    if (registry_login(host, a->username, pw, &a->o, err) < 0)
        return -1;
    printf("login succeeded for `%s`\n", host);
    return 0;
}

static int cmd_pull(struct args *a, const char *refs, ctr_error_t *err)
{
    struct oci_ref ref = {0};
    struct oci_platform plat = {0};
    struct registry_client *c = NULL;
    struct registry_pull_result res = {0};
    enum registry_progress_style style =
        isatty(2) ? REGISTRY_PROGRESS_ANSI : REGISTRY_PROGRESS_PLAIN;
    struct registry_progress_renderer *pr = NULL;
    const char *root = a->root ? a->root : "/var/lib/container";
    uint64_t t0 = ctr_now_ns();
    struct imgstore *st = NULL;
    int rc = -1;

    if (a->progress && registry_progress_style_parse(a->progress, &style, err) < 0)
        return -1;
    if (oci_platform_parse(a->platform, &plat, err) < 0)
        return -1;
    if (oci_ref_parse(refs, &ref, err) < 0 || imgstore_open(root, &st, err) < 0) {
        oci_platform_release(&plat);
        oci_ref_release(&ref);
        return -1;
    }
    pr = registry_progress_renderer_new(style, stderr);
    a->o.progress = registry_progress_renderer_event;
    a->o.progress_opaque = pr;
    if (registry_client_new(ref.domain, &a->o, &c, err) == 0 &&
        registry_pull_image(c, &ref, &plat, st, &res, err) == 0) {
        double secs = (double)(ctr_now_ns() - t0) / 1e9;
        registry_progress_renderer_free(pr);
        pr = NULL;
        cleanup_free char *s = oci_ref_string(&ref);
        printf("pulled %s\nindex %s\nmanifest %s\nconfig %s\n", s, res.index_digest,
               res.manifest_digest, res.config_digest);
        printf("layers %zu fetched %zu bytes %llu seconds %.3f\n", res.layers_total,
               res.layers_fetched, (unsigned long long)res.bytes_downloaded, secs);
        rc = 0;
        if (a->unpack) {
            struct imgstore_image img = {0};
            cleanup_free char *snap = NULL;
            uint64_t t1 = ctr_now_ns();
            rc = imgstore_resolve(st, res.manifest_digest, &img, err);
            if (rc == 0)
                rc = imgstore_snapshot(st, &img, &snap, err);
            if (rc == 0)
                printf("snapshot %s seconds %.3f total %.3f\n", snap,
                       (double)(ctr_now_ns() - t1) / 1e9, (double)(ctr_now_ns() - t0) / 1e9);
            imgstore_image_release(&img);
        }
    }
    registry_progress_renderer_free(pr);
    registry_pull_result_free(&res);
    registry_client_free(c);
    imgstore_close(st);
    oci_ref_release(&ref);
    oci_platform_release(&plat);
    return rc;
}

static int cmd_push(struct args *a, const char *refs, ctr_error_t *err)
{
    struct oci_ref ref = {0};
    struct registry_client *c = NULL;
    cleanup_free char *pushed = NULL;
    struct registry_push_opts po = {.mount_from = (const char *const *)a->mount_from};
    enum registry_progress_style style = REGISTRY_PROGRESS_NONE;
    struct registry_progress_renderer *pr = NULL;
    int rc = -1;

    struct imgstore *st = NULL;
    if ((a->layout == NULL) == (a->root == NULL))
        return ctr_fail(err, EINVAL, "push needs either `--layout DIR` or `--root DATA`");
    if (a->progress && registry_progress_style_parse(a->progress, &style, err) < 0)
        return -1;
    if (oci_ref_parse(refs, &ref, err) < 0)
        return -1;
    pr = registry_progress_renderer_new(style, stderr);
    a->o.progress = registry_progress_renderer_event;
    a->o.progress_opaque = pr;
    if (registry_client_new(ref.domain, &a->o, &c, err) == 0) {
        if (a->layout)
            rc = registry_push_layout(c, &ref, a->layout, a->name, &po, &pushed, err);
        else if (imgstore_open(a->root, &st, err) == 0)
            rc = registry_push_image(c, &ref, st, a->local ? a->local : refs, &po, &pushed, err);
    }
    imgstore_close(st);
    registry_progress_renderer_free(pr);
    if (rc == 0) {
        cleanup_free char *s = oci_ref_string(&ref);
        printf("pushed %s %s\n", s, pushed);
    }
    registry_client_free(c);
    oci_ref_release(&ref);
    return rc;
}

static int cmd_inspect(struct args *a, const char *refs, ctr_error_t *err)
{
    struct oci_ref ref = {0};
    struct registry_client *c = NULL;
    struct registry_fetched f = {0};
    struct oci_document doc = {0};
    int rc = -1;

    if (oci_ref_parse(refs, &ref, err) < 0)
        return -1;
    if (registry_client_new(ref.domain, &a->o, &c, err) == 0 &&
        registry_get_manifest(c, ref.path, ref.digest ? ref.digest : ref.tag, &f, err) == 0 &&
        oci_document_parse(f.data, f.len, f.media_type, &doc, err) == 0) {
        printf("Digest: %s\nMediaType: %s\n", f.digest, doc.media_type);
        for (size_t i = 0; i < doc.index.n_manifests; i++) {
            const struct oci_descriptor *d = &doc.index.manifests[i];
            const char *os = d->has_platform ? d->platform.os : NULL;
            const char *arch = d->has_platform ? d->platform.architecture : NULL;
            const char *variant = d->has_platform ? d->platform.variant : NULL;
            printf("Manifest: %s %s/%s%s%s %lld\n", d->digest, os ? os : "?", arch ? arch : "?",
                   variant ? "/" : "", variant ? variant : "", (long long)d->size);
        }
        if (doc.kind == OCI_DOC_MANIFEST)
            printf("Config: %s %lld\n", doc.manifest.config.digest,
                   (long long)doc.manifest.config.size);
        for (size_t i = 0; i < doc.manifest.n_layers; i++)
            printf("Layer: %s %lld %s\n", doc.manifest.layers[i].digest,
                   (long long)doc.manifest.layers[i].size, doc.manifest.layers[i].media_type);
        rc = 0;
    }
    oci_document_release(&doc);
    registry_fetched_free(&f);
    registry_client_free(c);
    oci_ref_release(&ref);
    return rc;
}

int main(int argc, char **argv)
{
    struct args a = {0};
    cleanup_error ctr_error_t err = NULL;
    const char *cmd;
    int rc = -1;

    ctr_log_set_prog("ctr-registry");
    if (argc < 2) {
        fputs(usage, stderr);
        return 2;
    }
    /* Options may come before or after the command: take the first word that is a command. */
    static const char *const cmds[] = {"login", "logout", "list",   "ping",
                                       "pull",  "push",   "inspect"};
    cmd = argv[1];
    for (int i = 1; i < argc; i++) {
        bool is_cmd = false;
        for (size_t k = 0; k < sizeof(cmds) / sizeof(cmds[0]); k++)
            is_cmd |= strcmp(argv[i], cmds[k]) == 0;
        if (is_cmd && (i == 1 || argv[i - 1][0] == '-' || argv[i - 2][0] == '-')) {
            cmd = argv[i];
            memmove(argv + i, argv + i + 1, (size_t)(argc - i) * sizeof(char *));
            argc--;
            break;
        }
    }
    optind = 1;
    if (parse(argc, argv, &a, &err) < 0)
        goto out;
    int nargs = argc - optind;
    char **rest = argv + optind;
    const struct {
        const char *name;
        int nargs;
    } table[] = {{"login", 1}, {"logout", 1}, {"list", 0},   {"ping", 1},
                 {"pull", 1},  {"push", 1},   {"inspect", 1}};
    bool known = false;
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
        if (strcmp(cmd, table[i].name) == 0) {
            known = true;
            if (nargs != table[i].nargs) {
                ctr_fail(&err, EINVAL, "`%s` takes %d argument%s; see `ctr-registry --help`", cmd,
                         table[i].nargs, table[i].nargs == 1 ? "" : "s");
                goto out;
            }
        }
    if (!known) {
        if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
            fputs(usage, stdout);
            return 0;
        }
        ctr_fail(&err, EINVAL, "unknown command `%s`; see `ctr-registry --help`", cmd);
        goto out;
    }
    if (strcmp(cmd, "login") == 0) {
        rc = cmd_login(&a, rest[0], &err);
    } else if (strcmp(cmd, "logout") == 0) {
        rc = registry_logout(rest[0], &a.o, &err);
        if (rc == 0)
            printf("removed credentials for `%s`\n", rest[0]);
    } else if (strcmp(cmd, "list") == 0) {
        struct registry_options o = a.o;
        cleanup_strv char **lines = NULL;
        cleanup_free char *dir = NULL;
        if (o.config_dir == NULL) {
            const char *env = getenv("DOCKER_CONFIG");
            dir = env && *env
                      ? ctr_xstrdup(env)
                      : ctr_xasprintf("%s/.docker", getenv("HOME") ? getenv("HOME") : "/root");
            o.config_dir = dir;
        }
        rc = registry_creds_list(o.config_dir, &lines, &err);
        for (char **l = lines; rc == 0 && *l; l++)
            printf("%s\n", *l);
    } else if (strcmp(cmd, "ping") == 0) {
        struct registry_client *c = NULL;
        rc = registry_client_new(rest[0], &a.o, &c, &err);
        if (rc == 0)
            rc = registry_ping(c, &err);
        if (rc == 0)
            printf("`%s` is a registry\n", rest[0]);
        registry_client_free(c);
    } else if (strcmp(cmd, "pull") == 0) {
        rc = cmd_pull(&a, rest[0], &err);
    } else if (strcmp(cmd, "push") == 0) {
        rc = cmd_push(&a, rest[0], &err);
    } else {
        rc = cmd_inspect(&a, rest[0], &err);
    }
out:
    ctr_strv_free(a.mount_from);
    if (rc < 0) {
        ctr_error_print("ctr-registry", err);
        return 1;
    }
    return 0;
}
