/* `container commit` and `container diff`: a container's writable layer as a new image,
 * or as Docker's change list (POST /commit, GET /containers/{id}/changes; docs/api.md). */
#include "cli/cli.h"

#include <stdlib.h>
#include <string.h>

enum { O_AUTHOR = 1, O_MESSAGE, O_CHANGE };

struct commit_opts {
    const char *author, *message;
    char **changes;
};

static int commit_opt(void *opaque, int id, const char *v, ctr_error_t *err)
{
    struct commit_opts *o = opaque;
    if (id == O_AUTHOR)
        o->author = v;
    else if (id == O_MESSAGE)
        o->message = v;
    else
        ctr_strv_append(&o->changes, v);
    return 0;
}

/* "&key=value" when value is set (escaped), else "". */
static char *param(const char *key, const char *value)
{
    if (value == NULL)
        return ctr_xstrdup("");
    cleanup_free char *e = cli_esc(value);
    return ctr_xasprintf("&%s=%s", key, e);
}

int cli_cmd_commit(struct cli_ctx *ctx, int argc, char **argv, ctr_error_t *err)
{
    static const struct cli_option opts[] = {
        CLI_OPT_ARG('a', "author", "AUTHOR", O_AUTHOR, "the image's author"),
        CLI_OPT_ARG('m', "message", "MESSAGE", O_MESSAGE, "the commit message (its comment)"),
        CLI_OPT_ARG('c', "change", "INSTRUCTION", O_CHANGE,
                    "apply a Dockerfile instruction (CMD, ENV, ...) to the image's config"),
        CLI_OPT_END,
    };
    struct commit_opts o = {.changes = ctr_xcalloc(1, sizeof(char *))};
    cleanup_strv char **pos = NULL;
    int r = cli_parse_opts("commit", opts, 0, argc, argv, commit_opt, &o, &pos, err);
    cleanup_strv char **changes = o.changes;

    if (r != 0) {
        if (r == 1)
            cli_print_usage(ctx, opts, stdout);
        return r == 1 ? 0 : -1;
    }
    if (cli_check_args("commit", pos, 1, 2, "a container and an optional image name", err) < 0)
        return -1;
    cleanup_free char *q = param("container", pos[0]);
    cleanup_free char *repo = param("repo", pos[1]);
    cleanup_free char *author = param("author", o.author);
    cleanup_free char *comment = param("comment", o.message);
    cleanup_free char *ch = ctr_xstrdup("");
    for (size_t i = 0; changes[i]; i++) {
        cleanup_free char *p = param("changes", changes[i]);
        char *n = ctr_xasprintf("%s%s", ch, p);
        free(ch);
        ch = n;
    }
    /* q starts with '&': the first parameter's */
    cleanup_free char *path = cli_path("/commit?%s%s%s%s%s", q + 1, repo, author, comment, ch);
    json_t *res = NULL;
    if (cli_call(ctx, "POST", path, NULL, &res, err) < 0)
        return -1;
    printf("%s\n", json_string_value(json_object_get(res, "Id")));
    json_decref(res);
    return 0;
}

int cli_cmd_diff(struct cli_ctx *ctx, int argc, char **argv, ctr_error_t *err)
{
    static const struct cli_option opts[] = {CLI_OPT_END};
    cleanup_strv char **pos = NULL;
    int r = cli_parse_opts("diff", opts, 0, argc, argv, NULL, NULL, &pos, err);

    if (r != 0) {
        if (r == 1)
            cli_print_usage(ctx, opts, stdout);
        return r == 1 ? 0 : -1;
    }
    if (cli_check_args("diff", pos, 1, 1, "exactly one container", err) < 0)
        return -1;
    cleanup_free char *eid = cli_esc(pos[0]);
    cleanup_free char *path = cli_path("/containers/%s/changes", eid);
    json_t *res = NULL;
    if (cli_call(ctx, "GET", path, NULL, &res, err) < 0)
        return -1;
    size_t i;
    json_t *c;
    json_array_foreach(res, i, c)
    {
        json_int_t k = json_integer_value(json_object_get(c, "Kind"));
        printf("%c %s\n",
               k == 1   ? 'A'
               : k == 2 ? 'D'
                        : 'C',
               json_string_value(json_object_get(c, "Path")));
    }
    json_decref(res);
    return 0;
}
