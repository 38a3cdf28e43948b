/* `container build`: for now only `--dump-instructions`, which prints how the Dockerfile
 * is read (src/build, docs/build.md); building itself is not implemented yet. */
#include "cli/cli.h"

#include "build/build.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { O_FILE = 1, O_DUMP };

#define BUILD_MAX_DOCKERFILE (16u << 20)

struct build_opts {
    const char *file;
    bool dump;
};

static int build_opt(void *opaque, int id, const char *v, ctr_error_t *err)
{
    struct build_opts *o = opaque;
    if (id == O_FILE)
        o->file = v;
    else
        o->dump = true;
    return 0;
}

static int read_stdin(char **out, size_t *out_len, ctr_error_t *err)
{
    size_t cap = 4096, len = 0;
    cleanup_free char *buf = ctr_xmalloc(cap);
    for (;;) {
        if (len + 1 >= cap)
            buf = ctr_xrealloc(buf, cap *= 2);
        ssize_t r = read(STDIN_FILENO, buf + len, cap - len - 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return ctr_fail(err, errno, "cannot read the Dockerfile from stdin");
        if (r == 0)
            break;
        len += (size_t)r;
        if (len > BUILD_MAX_DOCKERFILE)
            return ctr_fail_class(err, EFBIG, "the Dockerfile on stdin is larger than 16 MiB");
    }
    buf[len] = '\0';
    *out_len = len;
    *out = ctr_steal_ptr(buf);
    return 0;
}

int cli_cmd_build(struct cli_ctx *ctx, int argc, char **argv, ctr_error_t *err)
{
    static const struct cli_option opts[] = {
        CLI_OPT_ARG('f', "file", "FILE", O_FILE,
                    "the Dockerfile (default CONTEXT/Dockerfile; `-` reads stdin)"),
        CLI_OPT_BOOL(0, "dump-instructions", O_DUMP,
                     "print the parsed instructions as JSON lines and exit"),
        CLI_OPT_END,
    };
    struct build_opts o = {0};
    cleanup_strv char **pos = NULL;
    int r = cli_parse_opts("build", opts, 0, argc, argv, build_opt, &o, &pos, err);
    if (r != 0) {
        if (r == 1)
            cli_print_usage(ctx, opts, stdout);
        return r == 1 ? 0 : -1;
    }
    if (cli_check_args("build", pos, 0, 1, "a build context", err) < 0)
        return -1;
    if (!o.dump)
        return ctr_fail_class(err, ENOSYS,
                              "building images is not implemented yet; `container build "
                              "--dump-instructions` shows how the Dockerfile is read");
    const char *context = pos[0] ? pos[0] : ".";
    cleanup_free char *path =
        o.file ? ctr_xstrdup(o.file) : ctr_xasprintf("%s/Dockerfile", context);
    cleanup_free char *text = NULL;
    size_t len = 0;
    const char *name = path;
    if (strcmp(path, "-") == 0) {
        name = "Dockerfile";
        if (read_stdin(&text, &len, err) < 0)
            return -1;
    } else if (ctr_read_file(path, BUILD_MAX_DOCKERFILE, &text, &len, err) < 0) {
        return ctr_error_wrap(err, "cannot read the Dockerfile `%s`", path);
    }
    cleanup_df_file struct df_file f = {0};
    if (df_parse(name, text, len, &f, err) < 0)
        return -1;
    for (size_t i = 0; i < f.n; i++) {
        cleanup_free char *line = df_instr_dump(&f.instrs[i]);
        printf("%s\n", line);
    }
    return fflush(stdout) == 0 ? 0 : ctr_fail(err, errno, "cannot write the instructions");
}
