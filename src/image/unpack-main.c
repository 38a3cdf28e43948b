/* container-unpack: low-level tool over the unpacker, for tests and benches.
 *
 *   container-unpack -o OUT.ext4 [--size BYTES] [--shrink] [--verbose] LAYER[:MEDIATYPE]...
 *   container-unpack --list [--long] IMAGE.ext4
 */
#include "ext4/ext4.h"
#include "image/unpack.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f, "usage: container-unpack -o OUT.ext4 [--size BYTES] [--shrink] [--verbose] "
               "LAYER[:MEDIATYPE]...\n"
               "       container-unpack --list [--long] IMAGE.ext4\n");
}

static int print_entry(const struct ext4w_entry *e, void *ctx, ctr_error_t *err)
{
    bool lng = *(bool *)ctx;
    cleanup_free char *line = ext4w_entry_format(e);
    if (!lng) {
        printf("%s\n", line);
        return 0;
    }
    printf("%s\tnlink=%u mtime=%lld.%09ld", line, e->nlink, (long long)e->mtime.tv_sec,
           e->mtime.tv_nsec);
    for (size_t i = 0; i < e->nxattrs; i++) {
        printf(" xattr:%s=", e->xattrs[i].name);
        const unsigned char *v = e->xattrs[i].value;
        for (size_t j = 0; j < e->xattrs[i].len; j++)
            printf("%02x", v[j]);
    }
    if (e->sha256)
        printf(" sha256=%s", e->sha256);
    printf(" blocks=%llu\n", (unsigned long long)e->blocks);
    return 0;
}

static bool parse_size(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s)
        return false;
    switch (*end) {
    case 'G':
        v <<= 10;
        /* fall through */
    case 'M':
        v <<= 10;
        /* fall through */
    case 'K':
        v <<= 10;
        end++;
        break;
    default:
        break;
    }
    *out = v;
    return *end == '\0';
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"output", required_argument, NULL, 'o'}, {"size", required_argument, NULL, 's'},
        {"verbose", no_argument, NULL, 'v'},      {"list", no_argument, NULL, 'l'},
        {"long", no_argument, NULL, 'L'},         {"help", no_argument, NULL, 'h'},
        {"shrink", no_argument, NULL, 'S'},       {NULL, 0, NULL, 0}};
    const char *out = NULL;
    bool list = false, lng = false;
    struct unpack_opts uo = {0};
    cleanup_error ctr_error_t err = NULL;
    int c;

    ctr_log_set_prog("container-unpack");
    while ((c = getopt_long(argc, argv, "o:s:vlLh", opts, NULL)) != -1) {
        switch (c) {
        case 'o':
            out = optarg;
            break;
        case 's':
            if (!parse_size(optarg, &uo.size)) {
                fprintf(stderr,
                        "container-unpack: size `%s` is not a number of bytes "
                        "(K, M, G suffixes allowed)\n",
                        optarg);
                return 2;
            }
            break;
        case 'v':
            uo.verbose = true;
            ctr_log_set_level(CTR_LOG_INFO);
            break;
        case 'S':
            uo.shrink = true;
            break;
        case 'l':
            list = true;
            break;
        case 'L':
            lng = true;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (list) {
        if (optind + 1 != argc) {
            usage(stderr);
            return 2;
        }
        if (ext4w_walk(argv[optind], lng ? EXT4W_WALK_HASH : 0, print_entry, &lng, &err) < 0) {
            ctr_error_print("container-unpack", err);
            return 1;
        }
        return 0;
    }
    if (out == NULL) {
        usage(stderr);
        return 2;
    }
    size_t n = (size_t)(argc - optind);
    struct unpack_layer *layers = ctr_xcalloc(n ? n : 1, sizeof(*layers));
    char **paths = ctr_xcalloc(n + 1, sizeof(*paths));
    for (size_t i = 0; i < n; i++) {
        paths[i] = ctr_xstrdup(argv[optind + (int)i]);
        char *mt = strstr(paths[i], ":application/");
        if (mt) {
            *mt = '\0';
            layers[i].media_type = mt + 1;
        }
        layers[i].path = paths[i];
        layers[i].fd = -1;
        const char *slash = strrchr(paths[i], '/');
        layers[i].digest = slash ? slash + 1 : paths[i];
    }
    struct unpack_stats st = {0};
    int rc = unpack_layers(out, layers, n, &uo, &st, &err);
    if (rc < 0) {
        ctr_error_print("container-unpack", err);
    } else if (uo.verbose) {
        fprintf(stderr,
                "container-unpack: %s: %.3f s, %zu layers, image %llu bytes, %llu used, "
                "%llu inodes, %u attempt(s)\n",
                out, (double)st.total_ns / 1e9, st.nlayers, (unsigned long long)st.image_size,
                (unsigned long long)st.used_bytes, (unsigned long long)st.inodes_used, st.attempts);
        if (uo.shrink)
            fprintf(stderr, "container-unpack: shrunk to the used size in %.3f s\n",
                    (double)st.shrink_ns / 1e9);
    }
    unpack_stats_free(&st);
    ctr_strv_free(paths);
    free(layers);
    return rc < 0 ? 1 : 0;
}
