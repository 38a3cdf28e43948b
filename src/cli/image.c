/* `container image ls/rm/tag/inspect/prune/load/save/pull/push`: thin calls
 * to docker's image routes. load/save stream the archive through the socket;
 * pull/push render the daemon's JSON progress messages (progress.c). */
#include "cli/cli.h"
#include "cli/progress.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

enum {
    O_ALL = 1,
    O_QUIET,
    O_FORMAT,
    O_FORCE,
    O_INPUT,
    O_OUTPUT,
    O_PLATFORM,
    O_ARCH,
    O_OS,
    O_MAXDL,
    O_SCHEME,
    O_PROGRESS
};

struct img_opts {
    bool all, quiet, force;
    enum cli_format format;
    const char *input, *output, *platform, *arch, *os, *scheme;
    long max_downloads; /* 0: not given */
    enum cli_progress_mode progress;
};

static int img_opt(void *opaque, int id, const char *v, ctr_error_t *err)
{
    struct img_opts *o = opaque;
    switch (id) {
    case O_ALL:
        o->all = true;
        break;
    case O_QUIET:
        o->quiet = true;
        break;
    case O_FORCE:
        o->force = true;
        break;
    case O_FORMAT:
        return cli_parse_format(v, &o->format, err);
    case O_INPUT:
        o->input = v;
        break;
    case O_OUTPUT:
        o->output = v;
        break;
    case O_PLATFORM:
        o->platform = v;
        break;
    case O_ARCH:
    case O_OS:
        if (*v == '\0' || strchr(v, '/'))
            return ctr_fail(err, 0, "invalid value `%s` for `--%s`: expected a name like `%s`", v,
                            id == O_ARCH ? "arch" : "os", id == O_ARCH ? "amd64" : "linux");
        *(id == O_ARCH ? &o->arch : &o->os) = v;
        break;
    case O_MAXDL:
        return cli_parse_long("--max-concurrent-downloads", v, 1, 32, &o->max_downloads, err);
    case O_SCHEME:
        if (strcmp(v, "http") != 0 && strcmp(v, "https") != 0 && strcmp(v, "auto") != 0)
            return ctr_fail(err, 0,
                            "invalid value `%s` for `--scheme`: use `http`, `https` or `auto`", v);
        o->scheme = v;
        break;
    case O_PROGRESS:
        return cli_progress_parse("--progress", v, &o->progress, err);
    }
    return 0;
}

/* Parse; on help print usage. Returns 0 go on, 1 done (help), -1 error. */
static int parse(struct cli_ctx *ctx, const struct cli_option *opts, int argc, char **argv,
                 struct img_opts *o, char ***pos, ctr_error_t *err)
{
    int r = cli_parse_opts(ctx->name, opts, 0, argc, argv, img_opt, o, pos, err);
    if (r == 1)
        cli_print_usage(ctx, opts, stdout);
    return r;
}

int cli_image_split_ref(const char *ref, char **repo, char **tag, ctr_error_t *err)
{
    const char *at = strchr(ref, '@');
    const char *slash = strrchr(ref, '/');
    const char *colon = strrchr(ref, ':');

    if (*ref == '\0' || at)
        return ctr_fail(err, 0, "invalid target `%s`: expected NAME[:TAG]", ref);
    if (colon && (slash == NULL || colon > slash)) {
        if (colon[1] == '\0')
            return ctr_fail(err, 0, "invalid target `%s`: empty tag", ref);
        *repo = ctr_xstrndup(ref, (size_t)(colon - ref));
        *tag = ctr_xstrdup(colon + 1);
    } else {
        *repo = ctr_xstrdup(ref);
        *tag = ctr_xstrdup("latest");
    }
    return 0;
}

/* "docker.io/library/busybox:latest" → "busybox", "latest" for the table. */
static void split_tag(const char *rt, char **repo, char **tag)
{
    const char *slash = strrchr(rt, '/');
    const char *colon = strrchr(rt, ':');
    if (colon && (slash == NULL || colon > slash)) {
        *repo = ctr_xstrndup(rt, (size_t)(colon - rt));
        *tag = ctr_xstrdup(colon + 1);
    } else {
        *repo = ctr_xstrdup(rt);
        *tag = ctr_xstrdup("<none>");
    }
}

int cli_cmd_image_ls(struct cli_ctx *ctx, int argc, char **argv, ctr_error_t *err)
{
    static const struct cli_option opts[] = {
        CLI_OPT_BOOL('a', "all", O_ALL, "also images without a name"),
        CLI_OPT_BOOL('q', "quiet", O_QUIET, "print only the ids"),
        CLI_OPT_ARG(0, "format", "json|table", O_FORMAT, "output format"),
        CLI_OPT_END,
    };
    static const char *const hdr[] = {"REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE", NULL};
    struct img_opts o = {0};
    cleanup_strv char **pos = NULL;
    cleanup_free char *path = NULL;
    json_t *list = NULL, *img;
    size_t i;
    int r = parse(ctx, opts, argc, argv, &o, &pos, err);

    if (r != 0)
        return r == 1 ? 0 : -1;
    if (cli_check_args(ctx->name, pos, 0, 0, "no arguments", err) < 0)
        return -1;
    path = cli_path("/images/json?all=%d", o.all);
    if (cli_call(ctx, "GET", path, NULL, &list, err) < 0)
        return -1;
    if (o.format == CLI_FORMAT_JSON) {
        json_t *out = json_array();
        json_array_foreach(list, i, img)
        {
            json_t *tags = json_object_get(img, "RepoTags");
            json_t *digests = json_object_get(img, "RepoDigests");
            json_array_append_new(
                out,
                json_pack("{s:s,s:o,s:o,s:I,s:I}", "id",
                          cli_json_str(img, "Id") ? cli_json_str(img, "Id") : "", "repoTags",
                          json_is_array(tags) ? json_incref(tags) : json_array(), "repoDigests",
                          json_is_array(digests) ? json_incref(digests) : json_array(), "created",
                          (json_int_t)cli_json_int(img, "Created"), "size",
                          (json_int_t)cli_json_int(img, "Size")));
        }
        cli_print_json(out, stdout);
        json_decref(out);
        json_decref(list);
        return 0;
    }
    struct cli_table *t = cli_table_new(hdr);
    int64_t now = (int64_t)time(NULL);
    json_array_foreach(list, i, img)
    {
        json_t *tags = json_object_get(img, "RepoTags"), *tv;
        cleanup_free char *id = cli_short_id(cli_json_str(img, "Id"));
        cleanup_free char *age = cli_human_duration(now - cli_json_int(img, "Created"));
        cleanup_free char *ago = ctr_xasprintf("%s ago", age);
        cleanup_free char *size = cli_human_size((double)cli_json_int(img, "Size"));
        size_t j, ntags = json_is_array(tags) ? json_array_size(tags) : 0;
        if (ntags == 0) {
            if (o.quiet) {
                printf("%s\n", id);
                continue;
            }
            const char *cells[] = {"<none>", "<none>", id, ago, size};
            cli_table_add(t, cells);
        }
        json_array_foreach(tags, j, tv)
        {
            cleanup_free char *repo = NULL, *tag = NULL;
            if (!json_is_string(tv))
                continue;
            if (o.quiet) {
                printf("%s\n", json_string_value(tv));
                continue;
            }
            split_tag(json_string_value(tv), &repo, &tag);
            const char *cells[] = {repo, tag, id, ago, size};
            cli_table_add(t, cells);
        }
    }
    if (!o.quiet)
        cli_table_print(t, stdout);
    cli_table_free(t);
    json_decref(list);
    return 0;
}

int cli_cmd_image_rm(struct cli_ctx *ctx, int argc, char **argv, ctr_error_t *err)
{
    static const struct cli_option opts[] = {
        CLI_OPT_BOOL('a', "all", O_ALL, "remove every image (implies -f)"),
        CLI_OPT_BOOL('f', "force", O_FORCE, "also images that containers use"),
        CLI_OPT_END,
    };
    struct img_opts o = {0};
    cleanup_strv char **pos = NULL;
    int r = parse(ctx, opts, argc, argv, &o, &pos, err), rc = 0;

    if (r != 0)
        return r == 1 ? 0 : -1;
    if (o.all && pos[0])
        return ctr_fail(err, 0, "`container %s --all` takes no image names (got `%s`)", ctx->name,
                        pos[0]);
    if (o.all) {
        json_t *list = NULL, *img;
        cleanup_free char *path = cli_path("/images/json");
        size_t i;
        if (cli_call(ctx, "GET", path, NULL, &list, err) < 0)
            return -1;
        json_array_foreach(list, i, img) if (cli_json_str(img, "Id"))
            ctr_strv_append(&pos, cli_json_str(img, "Id"));
        json_decref(list);
    } else if (cli_check_args(ctx->name, pos, 1, -1, "at least one image (or `--all`)", err) < 0) {
        return -1;
    }
    for (char **p = pos; *p; p++) {
        cleanup_free char *en = cli_esc(*p);
        cleanup_free char *path = cli_path("/images/%s?force=%d", en, o.force || o.all);
        json_t *resp = NULL, *v;
        ctr_error_t e = NULL;
        size_t i;
        if (cli_call(ctx, "DELETE", path, NULL, &resp, &e) < 0) {
            fprintf(stderr, "container: image rm `%s`: %s\n", *p, e->msg);
            ctr_error_free(&e);
            rc = 1;
            continue;
        }
        json_array_foreach(resp, i, v)
        {
            if (cli_json_str(v, "Untagged"))
                printf("Untagged: %s\n", cli_json_str(v, "Untagged"));
            if (cli_json_str(v, "Deleted"))
                printf("Deleted: %s\n", cli_json_str(v, "Deleted"));
        }
        json_decref(resp);
    }
    return rc;
}

int cli_cmd_image_tag(struct cli_ctx *ctx, int argc, char **argv, ctr_error_t *err)
{
    static const struct cli_option opts[] = {
        CLI_OPT_END,
    };
    struct img_opts o = {0};
    cleanup_strv char **pos = NULL;
    cleanup_free char *repo = NULL, *tag = NULL, *es = NULL, *er = NULL, *et = NULL, *p = NULL;
    int r = parse(ctx, opts, argc, argv, &o, &pos, err);

    if (r != 0)
        return r == 1 ? 0 : -1;
    if (cli_check_args(ctx->name, pos, 2, 2, "a source image and a target name", err) < 0 ||
        cli_image_split_ref(pos[1], &repo, &tag, err) < 0)
        return -1;
    es = cli_esc(pos[0]);
    er = cli_esc(repo);
    et = cli_esc(tag);
    p = cli_path("/images/%s/tag?repo=%s&tag=%s", es, er, et);
    return cli_call(ctx, "POST", p, NULL, NULL, err);
}

int cli_cmd_image_inspect(struct cli_ctx *ctx, int argc, char **argv, ctr_error_t *err)
{
    static const struct cli_option opts[] = {
        CLI_OPT_END,
    };
    struct img_opts o = {0};
    cleanup_strv char **pos = NULL;
    json_t *out;
    int r = parse(ctx, opts, argc, argv, &o, &pos, err), rc = 0;

    if (r != 0)
        return r == 1 ? 0 : -1;
    if (cli_check_args(ctx->name, pos, 1, -1, "at least one image", err) < 0)
        return -1;
    out = cli_get_each(ctx, "image inspect", "images", "/json", pos, &rc);
    cli_print_json(out, stdout);
    json_decref(out);
    return rc;
}

int cli_cmd_image_prune(struct cli_ctx *ctx, int argc, char **argv, ctr_error_t *err)
{
    static const struct cli_option opts[] = {
        CLI_OPT_BOOL('a', "all", O_ALL, "also named images no container uses"),
        CLI_OPT_END,
    };
    struct img_opts o = {0};
    cleanup_strv char **pos = NULL;
    cleanup_free char *path = NULL, *size = NULL;
    json_t *resp = NULL, *v;
    size_t i;
    int r = parse(ctx, opts, argc, argv, &o, &pos, err);

    if (r != 0)
        return r == 1 ? 0 : -1;
    if (cli_check_args(ctx->name, pos, 0, 0, "no arguments", err) < 0)
        return -1;
    /* filters={"dangling":["false"]}: every image no container uses. */
    path = o.all
               ? cli_path("/images/prune?filters=%%7B%%22dangling%%22%%3A%%5B%%22false%%22%%5D%%7D")
               : cli_path("/images/prune");
    if (cli_call(ctx, "POST", path, NULL, &resp, err) < 0)
        return -1;
    json_array_foreach(json_object_get(resp, "ImagesDeleted"), i, v)
    {
        if (cli_json_str(v, "Untagged"))
            printf("Untagged: %s\n", cli_json_str(v, "Untagged"));
        if (cli_json_str(v, "Deleted"))
            printf("Deleted: %s\n", cli_json_str(v, "Deleted"));
    }
    size = cli_human_size((double)cli_json_int(resp, "SpaceReclaimed"));
    printf("Reclaimed %s\n", size);
    json_decref(resp);
    return 0;
}

/* ---- JSON message streams (load, pull, push) ---- */
struct msgs {
    char *buf;
    size_t len;
    char *error;               /* first errorDetail/error seen */
    FILE *out;                 /* NULL: stdout */
    struct cli_progress *prog; /* pull/push: renders status messages */
};

static void msg_line(struct msgs *m, const char *line, size_t n)
{
    json_error_t jerr;
    json_t *j = json_loadb(line, n, 0, &jerr);
    const char *s;
    FILE *out = m->out ? m->out : stdout;

    if (j == NULL) {
        if (n)
            fprintf(out, "%.*s\n", (int)n, line);
        return;
    }
    if ((s = cli_json_str(j, "error")) != NULL ||
        (s = cli_json_str(json_object_get(j, "errorDetail"), "message")) != NULL) {
        if (m->error == NULL)
            m->error = ctr_xstrdup(s);
    } else if (m->prog) {
        cli_progress_msg(m->prog, j);
    } else if ((s = cli_json_str(j, "stream")) != NULL) {
        fputs(s, out);
    } else if ((s = cli_json_str(j, "status")) != NULL) {
        const char *id = cli_json_str(j, "id");
        const char *progress = cli_json_str(j, "progress");
        /* Progress updates with bytes are too chatty for plain lines. */
        if (!json_is_object(json_object_get(j, "progressDetail")) ||
            json_object_size(json_object_get(j, "progressDetail")) == 0 || progress == NULL)
            fprintf(out, "%s%s%s\n", id ? id : "", id ? ": " : "", s);
    }
    fflush(out);
    json_decref(j);
}

static int msgs_sink(void *opaque, const char *data, size_t len)
{
    struct msgs *m = opaque;
    char *nl;
    m->buf = ctr_xrealloc(m->buf, m->len + len + 1);
    memcpy(m->buf + m->len, data, len);
    m->len += len;
    m->buf[m->len] = '\0';
    while ((nl = memchr(m->buf, '\n', m->len)) != NULL) {
        size_t n = (size_t)(nl - m->buf);
        msg_line(m, m->buf, n && m->buf[n - 1] == '\r' ? n - 1 : n);
        memmove(m->buf, nl + 1, m->len - n - 1);
        m->len -= n + 1;
    }
    return 0;
}

static int msgs_finish(struct msgs *m, ctr_error_t *err)
{
    if (m->len)
        msg_line(m, m->buf, m->len);
    free(m->buf);
    m->buf = NULL;
    if (m->error) {
        ctr_fail(err, 0, "%s", m->error);
        free(m->error);
        return -1;
    }
    return 0;
}

int cli_cmd_image_load(struct cli_ctx *ctx, int argc, char **argv, ctr_error_t *err)
{
    static const struct cli_option opts[] = {
        CLI_OPT_ARG('i', "input", "FILE", O_INPUT, "read the archive from FILE instead of stdin"),
        CLI_OPT_END,
    };
    struct img_opts o = {0};
    cleanup_strv char **pos = NULL;
    cleanup_close int fd = -1;
    cleanup_free char *path = NULL;
    struct msgs m = {0};
    int r = parse(ctx, opts, argc, argv, &o, &pos, err);

    if (r != 0)
        return r == 1 ? 0 : -1;
    if (cli_check_args(ctx->name, pos, 0, 0, "no arguments (the archive is given with `-i`)", err) <
        0)
        return -1;
    if (o.input == NULL && isatty(STDIN_FILENO))
        return ctr_fail(err, 0, "`container image load` needs an archive: `-i FILE` or on stdin");
    if (o.input) {
        fd = open(o.input, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            return ctr_fail(err, errno, "cannot open `%s`", o.input);
    }
    path = cli_path("/images/load?quiet=0");
    struct cli_request req = {.method = "POST",
                              .path = path,
                              .upload_fd = fd >= 0 ? fd : STDIN_FILENO,
                              .content_type = "application/x-tar",
                              .sink = msgs_sink,
                              .sink_opaque = &m};
    if (cli_request(ctx, &req, NULL, err) < 0) {
        free(m.buf);
        free(m.error);
        return -1;
    }
    return msgs_finish(&m, err);
}

static int file_sink(void *opaque, const char *data, size_t len)
{
    return ctr_write_all(*(int *)opaque, data, len) < 0 ? -1 : 0;
}

int cli_cmd_image_save(struct cli_ctx *ctx, int argc, char **argv, ctr_error_t *err)
{
    static const struct cli_option opts[] = {
        CLI_OPT_ARG('o', "output", "FILE", O_OUTPUT, "write the archive to FILE instead of stdout"),
        CLI_OPT_ARG(0, "platform", "OS/ARCH[/VARIANT]", O_PLATFORM,
                    "only the image of this platform"),
        CLI_OPT_END,
    };
    struct img_opts o = {0};
    cleanup_strv char **pos = NULL;
    cleanup_free char *q = ctr_xstrdup(""), *path = NULL, *tmp = NULL;
    int fd = STDOUT_FILENO;
    int r = parse(ctx, opts, argc, argv, &o, &pos, err);

    if (r != 0)
        return r == 1 ? 0 : -1;
    if (cli_check_args(ctx->name, pos, 1, -1, "at least one image", err) < 0)
        return -1;
    if (o.output == NULL && isatty(STDOUT_FILENO))
        return ctr_fail(err, 0, "refusing to write an archive to a terminal; use `-o FILE`");
    for (char **p = pos; *p; p++) {
        cleanup_free char *en = cli_esc(*p);
        char *n = ctr_xasprintf("%s%snames=%s", q, *q ? "&" : "", en);
        free(q);
        q = n;
    }
    path = cli_path("/images/get?%s", q);
    if (o.output) {
        tmp = ctr_xasprintf("%s.tmp-%d", o.output, (int)getpid());
        fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0)
            return ctr_fail(err, errno, "cannot create `%s`", tmp);
    }
    struct cli_request req = {
        .method = "GET", .path = path, .upload_fd = -1, .sink = file_sink, .sink_opaque = &fd};
    r = cli_request(ctx, &req, NULL, err);
    if (o.output) {
        if (r == 0 && fsync(fd) < 0)
            r = ctr_fail(err, errno, "writing `%s`", o.output);
        close(fd);
        if (r == 0 && rename(tmp, o.output) < 0)
            r = ctr_fail(err, errno, "cannot rename `%s` to `%s`", tmp, o.output);
        if (r < 0)
            unlink(tmp);
    }
    return r < 0 ? -1 : 0;
}

/* One pull or push through the daemon, credentials from `registry login` sent in
 * X-Registry-Auth as docker's CLI does; scheme and maxConcurrentDownloads are our
 * query parameters (docs/api.md). */
struct xfer {
    const char *ref, *platform, *scheme;
    long max_downloads;
    enum cli_progress_mode progress;
    bool push;
};

static int transfer(const struct cli_ctx *ctx, const struct xfer *x, FILE *out, ctr_error_t *err)
{
    cleanup_free char *path = NULL, *auth = NULL, *hdr = NULL, *er = NULL, *q = NULL;
    struct msgs m = {.out = out};

    auth = cli_registry_auth_header(x->ref);
    hdr = ctr_xasprintf("X-Registry-Auth: %s", auth ? auth : "e30=");
    er = cli_esc(x->ref);
    q = ctr_xstrdup("");
    if (x->platform) {
        cleanup_free char *ep = cli_esc(x->platform), *old = q;
        q = ctr_xasprintf("%s&platform=%s", old, ep);
    }
    if (x->scheme) {
        cleanup_free char *old = q;
        q = ctr_xasprintf("%s&scheme=%s", old, x->scheme);
    }
    if (x->max_downloads) {
        cleanup_free char *old = q;
        q = ctr_xasprintf("%s&maxConcurrentDownloads=%ld", old, x->max_downloads);
    }
    if (x->push)
        path = cli_path("/images/%s/push%s%s", er, *q ? "?" : "", *q ? q + 1 : "");
    else
        path = cli_path("/images/create?fromImage=%s%s", er, q);
    const char *hdrs[] = {hdr, NULL};
    struct cli_request req = {.method = "POST",
                              .path = path,
                              .upload_fd = -1,
                              .headers = hdrs,
                              .sink = msgs_sink,
                              .sink_opaque = &m};
    m.prog = cli_progress_new(x->progress, out ? out : stdout, NULL);
    int rc = cli_request(ctx, &req, NULL, err);
    if (rc == 0)
        rc = msgs_finish(&m, err);
    else {
        free(m.buf);
        free(m.error);
    }
    cli_progress_free(m.prog);
    return rc;
}

int cli_image_pull(const struct cli_ctx *ctx, const char *ref, const char *platform, FILE *out,
                   ctr_error_t *err)
{
    struct xfer x = {.ref = ref, .platform = platform, .progress = CLI_PROGRESS_AUTO};
    return transfer(ctx, &x, out, err);
}

static int pull_push(struct cli_ctx *ctx, int argc, char **argv, bool push, ctr_error_t *err)
{
    static const struct cli_option pull_opts[] = {
        CLI_OPT_ARG(0, "platform", "OS/ARCH[/VARIANT]", O_PLATFORM,
                    "the image of an index to pull (default: the host's)"),
        CLI_OPT_ARG('a', "arch", "ARCH", O_ARCH, "replace the architecture of the platform"),
        CLI_OPT_ARG(0, "os", "OS", O_OS, "replace the OS of the platform"),
        CLI_OPT_ARG(0, "max-concurrent-downloads", "N", O_MAXDL,
                    "blobs downloaded in parallel (1-32, default 3)"),
        CLI_OPT_ARG(0, "scheme", "http|https|auto", O_SCHEME,
                    "auto: https; http on loopback if TLS fails"),
        CLI_OPT_ARG(0, "progress", "none|plain|ansi", O_PROGRESS,
                    "default: ansi on a terminal, plain otherwise"),
        CLI_OPT_END,
    };
    static const struct cli_option push_opts[] = {
        CLI_OPT_ARG(0, "scheme", "http|https|auto", O_SCHEME,
                    "auto: https; http on loopback if TLS fails"),
        CLI_OPT_ARG(0, "progress", "none|plain|ansi", O_PROGRESS,
                    "default: ansi on a terminal, plain otherwise"),
        CLI_OPT_END,
    };
    struct img_opts o = {0};
    cleanup_strv char **pos = NULL;
    cleanup_free char *plat = NULL;
    int r = parse(ctx, push ? push_opts : pull_opts, argc, argv, &o, &pos, err);

    if (r != 0)
        return r == 1 ? 0 : -1;
    if (cli_check_args(ctx->name, pos, 1, 1, "exactly one image reference", err) < 0)
        return -1;
    if (!push && (plat = cli_image_platform(o.platform, o.os, o.arch, err)) == NULL)
        return ctr_error_wrap(err, "`--platform`");
    struct xfer x = {.ref = pos[0],
                     .platform = plat && *plat ? plat : NULL,
                     .scheme = o.scheme,
                     .max_downloads = o.max_downloads,
                     .progress = o.progress,
                     .push = push};
    return transfer(ctx, &x, stdout, err);
}

int cli_cmd_image_pull(struct cli_ctx *ctx, int argc, char **argv, ctr_error_t *err)
{
    return pull_push(ctx, argc, argv, false, err);
}

int cli_cmd_image_push(struct cli_ctx *ctx, int argc, char **argv, ctr_error_t *err)
{
    return pull_push(ctx, argc, argv, true, err);
}
