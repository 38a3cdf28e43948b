/* `container cp` and `container export`: files in and out of a container through
 * the daemon's archive endpoints (GET/HEAD/PUT /containers/{id}/archive, GET
 * /containers/{id}/export). Tars are built from the local tree and extracted into
 * it with libarchive, streamed through a pipe and a thread, never held in memory.
 * The path rules are docker's (docs/cli.md). */
#include "cli/cli.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Go's os.FileMode bits in docker's path stat */
#define GO_MODE_DIR (1u << 31)
#define GO_MODE_SYMLINK (1u << 27)

struct cp_opts {
    bool archive, follow;
    char **pos;
};

enum { O_ARCHIVE = 1, O_FOLLOW, O_OUTPUT };

static int cp_opt(void *opaque, int id, const char *v, ctr_error_t *err)
{
    struct cp_opts *o = opaque;
    if (id == O_ARCHIVE)
        o->archive = true;
    else if (id == O_FOLLOW)
        o->follow = true;
    return 0;
}

char *cli_cp_split(const char *arg, const char **path)
{
    const char *colon = strchr(arg, ':');
    if (colon == NULL || colon == arg || memchr(arg, '/', (size_t)(colon - arg)))
        return NULL;
    *path = colon + 1;
    return ctr_xstrndup(arg, (size_t)(colon - arg));
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* The last component of p (without trailing slashes, `/.` dropped). */
static char *base_of(const char *p)
{
    cleanup_free char *c = ctr_xstrdup(p);
    size_t n = strlen(c);
    while (n > 1 && c[n - 1] == '/')
        c[--n] = '\0';
    if (ends_with(c, "/.") && n > 2)
        c[n - 2] = '\0';
    return ctr_xstrdup(basename(c));
}

static char *dir_of(const char *p)
{
    cleanup_free char *c = ctr_xstrdup(p);
    size_t n = strlen(c);
    while (n > 1 && c[n - 1] == '/')
        c[--n] = '\0';
    return ctr_xstrdup(dirname(c));
}

/* ---- the daemon's path stat ---- */

struct path_stat {
    char *name, *link_target;
    int64_t size;
    uint32_t mode;
};

static int decode_stat(const char *b64, struct path_stat *st, ctr_error_t *err)
{
    size_t n = b64 ? strlen(b64) : 0;
    if (n == 0 || n % 4)
        return ctr_fail(err, 0, "the daemon sent no valid X-Docker-Container-Path-Stat header");
    cleanup_free char *raw = ctr_xmalloc(n);
    int len = EVP_DecodeBlock((unsigned char *)raw, (const unsigned char *)b64, (int)n);
    if (len < 0)
        return ctr_fail(err, 0, "X-Docker-Container-Path-Stat is not base64");
    while (len > 0 && raw[len - 1] == '\0')
        len--;
    json_t *j = json_loadb(raw, (size_t)len, 0, NULL);
    if (!json_is_object(j)) {
        json_decref(j);
        return ctr_fail(err, 0, "X-Docker-Container-Path-Stat is not a JSON object");
    }
    st->name = ctr_xstrdup(cli_json_str(j, "name") ? cli_json_str(j, "name") : "");
    st->link_target =
        ctr_xstrdup(cli_json_str(j, "linkTarget") ? cli_json_str(j, "linkTarget") : "");
    st->size = cli_json_int(j, "size");
    st->mode = (uint32_t)cli_json_int(j, "mode");
    json_decref(j);
    return 0;
}

static void path_stat_release(struct path_stat *st)
{
    free(st->name);
    free(st->link_target);
    memset(st, 0, sizeof(*st));
}

/* HEAD archive: 0 and *st, 1 when the path does not exist, -1 on other errors. */
static int stat_remote(const struct cli_ctx *ctx, const char *id, const char *path,
                       struct path_stat *st, ctr_error_t *err)
{
    cleanup_free char *eid = cli_esc(id), *ep = cli_esc(path), *hdr = NULL;
    cleanup_free char *p = cli_path("/containers/%s/archive?path=%s", eid, ep);
    struct cli_request req = {.method = "HEAD",
                              .path = p,
                              .upload_fd = -1,
                              .capture_header = "X-Docker-Container-Path-Stat",
                              .captured = &hdr};
    struct cli_response resp = {0};

    if (cli_request(ctx, &req, &resp, err) < 0) {
        if (resp.status == 404) {
            /* the container or the path: GET the container to tell which */
            ctr_error_free(err);
            cleanup_free char *ip = cli_path("/containers/%s/json", eid);
            if (cli_call(ctx, "GET", ip, NULL, NULL, err) < 0)
                return -1;
            return 1;
        }
        if (resp.status == 400 || resp.status == 409 || resp.status >= 500) {
            ctr_error_free(err);
            return ctr_fail(err, 0, "cannot look at `%s` in container `%s` (HTTP %ld)", path, id,
                            resp.status);
        }
        return -1;
    }
    cli_response_release(&resp);
    return decode_stat(hdr, st, err);
}

/* ---- container → local ---- */

struct get_ctx {
    const char *id, *src;
    const char *dst_dir; /* extract here */
    const char *rename;  /* the tar's first component becomes this (NULL: keep) */
    bool want_dir_file;  /* error if the source is a directory (dst is a file) */
    bool to_stdout;
    bool archive; /* -a: owners from the tar */
    char *stat_hdr;
    bool started;
    int pipe_w;
    pthread_t thread;
    int pipe_r;
    ctr_error_t err;       /* the extraction's */
    atomic_bool extracted; /* the tar's end was reached and everything written */
};

static void *extract_thread(void *arg)
{
    struct get_ctx *g = arg;
    struct archive *in = archive_read_new(), *out = archive_write_disk_new();
    struct archive_entry *e;
    /* the container's tar is untrusted: no `..`, nothing through a symlink (names are
     * made absolute under the real path of dst_dir, so no NOABSOLUTEPATHS) */
    int flags = ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_XATTR |
                ARCHIVE_EXTRACT_SECURE_SYMLINKS | ARCHIVE_EXTRACT_SECURE_NODOTDOT |
                ARCHIVE_EXTRACT_UNLINK;
    int r;

    if (g->archive)
        flags |= ARCHIVE_EXTRACT_OWNER;
    archive_read_support_format_tar(in);
    archive_write_disk_set_options(out, flags);
    archive_write_disk_set_standard_lookup(out);
    if (archive_read_open_fd(in, g->pipe_r, 64 * 1024) != ARCHIVE_OK) {
        ctr_fail(&g->err, 0, "read the archive: %s", archive_error_string(in));
        goto out;
    }
    while ((r = archive_read_next_header(in, &e)) == ARCHIVE_OK) {
        const char *name = archive_entry_pathname(e);
        while (name[0] == '.' && name[1] == '/')
            name += 2;
        if (*name == '\0' || strcmp(name, ".") == 0) {
            if (g->rename == NULL)
                continue; /* the contents' own directory: dst_dir is it */
            name = "";
        }
        const char *rest = name + strcspn(name, "/");
        cleanup_free char *full = g->rename ? ctr_xasprintf("%s/%s%s", g->dst_dir, g->rename, rest)
                                            : ctr_xasprintf("%s/%s", g->dst_dir, name);
        archive_entry_set_pathname(e, full);
        const char *hl = archive_entry_hardlink(e);
        if (hl) {
            while (hl[0] == '.' && hl[1] == '/')
                hl += 2;
            const char *hrest = hl + strcspn(hl, "/");
            cleanup_free char *hfull = g->rename
                                           ? ctr_xasprintf("%s/%s%s", g->dst_dir, g->rename, hrest)
                                           : ctr_xasprintf("%s/%s", g->dst_dir, hl);
            archive_entry_set_hardlink(e, hfull);
        }
        if (archive_write_header(out, e) < ARCHIVE_WARN) { /* WARN: e.g. an owner not set */
            ctr_fail(&g->err, 0, "cannot write `%s`: %s", full, archive_error_string(out));
            goto out;
        }
        if (archive_entry_size(e) > 0) {
            const void *buf;
            size_t size;
            int64_t off;
            while ((r = archive_read_data_block(in, &buf, &size, &off)) == ARCHIVE_OK)
                if (archive_write_data_block(out, buf, size, off) != ARCHIVE_OK) {
                    ctr_fail(&g->err, 0, "cannot write `%s`: %s", full, archive_error_string(out));
                    goto out;
                }
            if (r != ARCHIVE_EOF) {
                ctr_fail(&g->err, 0, "read `%s` from the archive: %s", full,
                         archive_error_string(in));
                goto out;
            }
        }
        if (archive_write_finish_entry(out) < ARCHIVE_WARN) {
            ctr_fail(&g->err, 0, "cannot finish `%s`: %s", full, archive_error_string(out));
            goto out;
        }
    }
    if (r != ARCHIVE_EOF)
        ctr_fail(&g->err, 0, "read the archive: %s", archive_error_string(in));
    else if (archive_write_close(out) < ARCHIVE_WARN) /* directory times and modes */
        ctr_fail(&g->err, 0, "finish the copy: %s", archive_error_string(out));
    else
        atomic_store(&g->extracted, true); /* before pipe_r closes: see get_sink */
out:
    archive_read_free(in);
    archive_write_free(out);
    close(g->pipe_r); /* the sender gets EPIPE: the transfer stops */
    g->pipe_r = -1;
    return NULL;
}

static int get_sink(void *opaque, const char *data, size_t len)
{
    struct get_ctx *g = opaque;
    if (g->to_stdout)
        return ctr_write_all(STDOUT_FILENO, data, len) < 0 ? -1 : 0;
    if (!g->started) {
        struct path_stat st = {0};
        int p[2];
        if (decode_stat(g->stat_hdr, &st, &g->err) < 0)
            return -1;
        bool dir = (st.mode & GO_MODE_DIR) != 0;
        path_stat_release(&st);
        if (dir && g->want_dir_file) {
            ctr_fail(&g->err, 0, "cannot copy directory `%s:%s` onto a file", g->id, g->src);
            return -1;
        }
        if (pipe2(p, O_CLOEXEC) < 0) {
            ctr_fail(&g->err, errno, "pipe");
            return -1;
        }
        g->pipe_r = p[0];
        g->pipe_w = p[1];
        if (pthread_create(&g->thread, NULL, extract_thread, g) != 0) {
            close(p[0]);
            close(p[1]);
            ctr_fail(&g->err, 0, "cannot start the extraction thread");
            return -1;
        }
        g->started = true;
    }
    if (ctr_write_all(g->pipe_w, data, len) < 0) {
        /* the padding after the tar's end may arrive once the extraction is done and
         * its end of the pipe closed: that is no failure */
        return errno == EPIPE && atomic_load(&g->extracted) ? 0 : -1;
    }
    return 0;
}

static int copy_from(const struct cli_ctx *ctx, const struct cp_opts *o, const char *id,
                     const char *src, const char *dst, ctr_error_t *err)
{
    struct get_ctx g = {.id = id, .src = src, .archive = o->archive, .pipe_w = -1, .pipe_r = -1};
    cleanup_free char *rename = NULL, *dst_dir = NULL, *src_path = ctr_xstrdup(src);
    bool contents = ends_with(src, "/.");
    struct stat st;

    if (*src != '/')
        return ctr_fail(err, 0, "the path in the container `%s` must be absolute", src);
    if (o->follow && !contents) {
        /* -L: copy what a symlink points to, under the link's name */
        struct path_stat ps = {0};
        int r = stat_remote(ctx, id, src, &ps, err);
        if (r < 0)
            return -1;
        if (r > 0)
            return ctr_fail(err, 0, "could not find `%s` in container `%s`", src, id);
        if ((ps.mode & GO_MODE_SYMLINK) && *ps.link_target) {
            free(src_path);
            if (ps.link_target[0] == '/') {
                src_path = ctr_xstrdup(ps.link_target);
            } else {
                cleanup_free char *d = dir_of(src);
                src_path = ctr_xasprintf("%s/%s", d, ps.link_target);
            }
        }
        path_stat_release(&ps);
    }
    if (strcmp(dst, "-") == 0) {
        g.to_stdout = true;
    } else if (stat(dst, &st) == 0 && S_ISDIR(st.st_mode)) {
        dst_dir = ctr_xstrdup(dst);
        if (!contents)
            rename = base_of(src); /* into the directory, under the source's name */
    } else if (stat(dst, &st) == 0) {
        /* onto an existing file: a file only */
        if (contents)
            return ctr_fail(err, 0, "cannot copy directory `%s:%s` onto file `%s`", id, src, dst);
        dst_dir = dir_of(dst);
        rename = base_of(dst);
        g.want_dir_file = true;
    } else {
        if (errno != ENOENT)
            return ctr_fail(err, errno, "cannot use destination `%s`", dst);
        dst_dir = dir_of(dst);
        if (stat(dst_dir, &st) < 0 || !S_ISDIR(st.st_mode))
            return ctr_fail(err, 0, "cannot copy to `%s`: directory `%s` does not exist", dst,
                            dst_dir);
        if (ends_with(dst, "/") && !contents) {
            /* docker: a missing DST/ must be a directory to create from a directory */
            struct path_stat ps = {0};
            int r = stat_remote(ctx, id, src_path, &ps, err);
            if (r != 0)
                return r < 0 ? -1
                             : ctr_fail(err, 0, "could not find `%s` in container `%s`", src, id);
            bool dir = ps.mode & GO_MODE_DIR;
            path_stat_release(&ps);
            if (!dir)
                return ctr_fail(err, 0, "destination directory `%s` does not exist", dst);
        }
        if (contents && mkdir(dst, 0755) < 0)
            return ctr_fail(err, errno, "create `%s`", dst);
        if (contents) {
            free(dst_dir);
            dst_dir = ctr_xstrdup(dst);
        } else {
            rename = base_of(dst);
        }
    }
    if (dst_dir) {
        char real[PATH_MAX];
        if (realpath(dst_dir, real) == NULL)
            return ctr_fail(err, errno, "cannot use destination directory `%s`", dst_dir);
        free(dst_dir);
        dst_dir = ctr_xstrdup(real);
    }
    g.dst_dir = dst_dir;
    g.rename = rename;
    g.src = src_path;

    cleanup_free char *eid = cli_esc(id), *ep = cli_esc(src_path);
    cleanup_free char *path = cli_path("/containers/%s/archive?path=%s", eid, ep);
    struct cli_request req = {.method = "GET",
                              .path = path,
                              .upload_fd = -1,
                              .sink = get_sink,
                              .sink_opaque = &g,
                              .capture_header = "X-Docker-Container-Path-Stat",
                              .captured = &g.stat_hdr};
    struct cli_response resp = {0};
    int ret = cli_request(ctx, &req, &resp, err);
    cli_response_release(&resp);
    if (g.started) {
        close(g.pipe_w);
        pthread_join(g.thread, NULL);
    }
    free(g.stat_hdr);
    if (g.err) { /* the extraction's error explains a failed transfer best */
        ctr_error_free(err);
        *err = ctr_steal_ptr(g.err);
        return -1;
    }
    if (ret < 0 && resp.status == 404 && strcasestr((*err)->msg, "no such container") == NULL) {
        ctr_error_free(err);
        return ctr_fail(err, 0, "could not find `%s` in container `%s`", src, id);
    }
    if (ret < 0)
        return ctr_error_wrap(err, "copy `%s:%s`", id, src);
    return 0;
}

/* ---- local → container ---- */

struct put_ctx {
    const char *src;  /* local path, trailing `/.` and slashes removed */
    const char *name; /* the root entry's name in the tar; NULL: the contents */
    bool follow;
    int fd; /* the pipe's write end */
    ctr_error_t err;
};

static void *tar_thread(void *arg)
{
    struct put_ctx *p = arg;
    struct archive *disk = archive_read_disk_new(), *out = archive_write_new();
    struct archive_entry *e = archive_entry_new();
    size_t sl = strlen(p->src);
    char buf[64 * 1024];
    int r;

    archive_write_set_format_pax_restricted(out);
    archive_read_disk_set_standard_lookup(disk);
    if (p->follow)
        archive_read_disk_set_symlink_hybrid(disk); /* -L: the source itself only */
    else
        archive_read_disk_set_symlink_physical(disk);
    if (archive_write_open_fd(out, p->fd) != ARCHIVE_OK ||
        archive_read_disk_open(disk, p->src) != ARCHIVE_OK) {
        ctr_fail(&p->err, 0, "cannot read `%s`: %s", p->src, archive_error_string(disk));
        goto out;
    }
    while ((r = archive_read_next_header2(disk, e)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
        const char *path = archive_entry_pathname(e);
        const char *rel = strncmp(path, p->src, sl) == 0 ? path + sl : path;
        archive_read_disk_descend(disk);
        while (*rel == '/')
            rel++;
        if (p->name == NULL && *rel == '\0')
            continue; /* `DIR/.`: the contents only */
        cleanup_free char *name = p->name == NULL ? ctr_xstrdup(rel)
                                  : *rel          ? ctr_xasprintf("%s/%s", p->name, rel)
                                                  : ctr_xstrdup(p->name);
        archive_entry_set_pathname(e, name);
        int w = archive_write_header(out, e);
        if (w == ARCHIVE_FAILED) { /* a socket: tar cannot hold it (docker skips them too) */
            fprintf(stderr, "container: skipping `%s`: %s\n", path, archive_error_string(out));
            continue;
        }
        if (w < ARCHIVE_WARN) {
            ctr_fail(&p->err, 0, "cannot send `%s`: %s", path, archive_error_string(out));
            goto out;
        }
        if (archive_entry_filetype(e) == AE_IFREG && archive_entry_size(e) > 0) {
            ssize_t n;
            while ((n = archive_read_data(disk, buf, sizeof(buf))) > 0)
                if (archive_write_data(out, buf, (size_t)n) != n) {
                    ctr_fail(&p->err, 0, "cannot send `%s`: %s", path, archive_error_string(out));
                    goto out;
                }
            if (n < 0) {
                ctr_fail(&p->err, 0, "cannot read `%s`: %s", path, archive_error_string(disk));
                goto out;
            }
        }
    }
    if (r != ARCHIVE_EOF)
        ctr_fail(&p->err, 0, "cannot read `%s`: %s", p->src, archive_error_string(disk));
    else
        archive_write_close(out);
out:
    archive_entry_free(e);
    archive_read_free(disk);
    archive_write_free(out);
    close(p->fd); /* EOF: a tar cut short on errors, which the container refuses */
    return NULL;
}

static int put_tar(const struct cli_ctx *ctx, const struct cp_opts *o, const char *id,
                   const char *dir, int fd, ctr_error_t *err)
{
    cleanup_free char *eid = cli_esc(id), *ep = cli_esc(dir);
    cleanup_free char *path = cli_path("/containers/%s/archive?path=%s&noOverwriteDirNonDir=true%s",
                                       eid, ep, o->archive ? "&copyUIDGID=true" : "");
    struct cli_request req = {
        .method = "PUT", .path = path, .upload_fd = fd, .content_type = "application/x-tar"};
    struct cli_response resp = {0};
    int ret = cli_request(ctx, &req, &resp, err);
    cli_response_release(&resp);
    if (ret < 0 && resp.status == 404 && strcasestr((*err)->msg, "no such container") == NULL) {
        ctr_error_free(err);
        return ctr_fail(err, 0, "could not find the directory `%s` in container `%s`", dir, id);
    }
    return ret;
}

static int copy_to(const struct cli_ctx *ctx, const struct cp_opts *o, const char *src,
                   const char *id, const char *dst, ctr_error_t *err)
{
    struct path_stat ds = {0};
    struct stat st;
    cleanup_free char *src_clean = ctr_xstrdup(src), *name = NULL, *dir = NULL;
    bool contents = ends_with(src, "/.") || strcmp(src, ".") == 0;
    int p[2];

    if (*dst != '/')
        return ctr_fail(err, 0, "the path in the container `%s` must be absolute", dst);
    if (strcmp(src, "-") == 0) /* a tar on stdin, extracted into the directory dst */
        return put_tar(ctx, o, id, dst, STDIN_FILENO, err);
    if ((o->follow ? stat(src, &st) : lstat(src, &st)) < 0)
        return ctr_fail(err, errno, "cannot copy `%s`", src);
    if (contents && !S_ISDIR(st.st_mode))
        return ctr_fail(err, 0, "`%s` is not a directory", src);
    size_t n = strlen(src_clean);
    if (ends_with(src_clean, "/."))
        src_clean[n -= 2] = '\0';
    while (n > 1 && src_clean[n - 1] == '/')
        src_clean[--n] = '\0';
    if (n == 0)
        strcpy(src_clean, ".");
    int r = stat_remote(ctx, id, dst, &ds, err);
    if (r < 0)
        return -1;
    bool dst_dir = r == 0 && (ds.mode & GO_MODE_DIR);
    bool dst_exists = r == 0;
    path_stat_release(&ds);
    if (dst_dir) {
        dir = ctr_xstrdup(dst);
        name = contents ? NULL : base_of(src_clean);
    } else if (dst_exists) {
        if (S_ISDIR(st.st_mode))
            return ctr_fail(err, 0, "cannot copy directory `%s` onto file `%s:%s`", src, id, dst);
        dir = dir_of(dst);
        name = base_of(dst);
    } else {
        if (ends_with(dst, "/") && !S_ISDIR(st.st_mode))
            return ctr_fail(err, 0, "destination directory `%s:%s` does not exist", id, dst);
        dir = dir_of(dst);
        name = base_of(dst); /* a new file, or a new directory with src's contents */
    }
    if (pipe2(p, O_CLOEXEC) < 0)
        return ctr_fail(err, errno, "pipe");
    struct put_ctx pc = {.src = src_clean, .name = name, .follow = o->follow, .fd = p[1]};
    pthread_t t;
    if (pthread_create(&t, NULL, tar_thread, &pc) != 0) {
        close(p[0]);
        close(p[1]);
        return ctr_fail(err, 0, "cannot start the archive thread");
    }
    int ret = put_tar(ctx, o, id, dir, p[0], err);
    close(p[0]); /* a tar thread still writing gets EPIPE */
    pthread_join(t, NULL);
    if (pc.err) {
        if (ret < 0)
            ctr_error_free(err);
        *err = ctr_steal_ptr(pc.err);
        return -1;
    }
    return ret;
}

int cli_cmd_cp(struct cli_ctx *ctx, int argc, char **argv, ctr_error_t *err)
{
    static const struct cli_option opts[] = {
        CLI_OPT_BOOL('a', "archive", O_ARCHIVE, "keep owners (uid/gid) of what is copied"),
        CLI_OPT_BOOL('L', "follow-link", O_FOLLOW, "follow a symbolic link in SRC_PATH"),
        CLI_OPT_END,
    };
    struct cp_opts o = {0};
    cleanup_strv char **pos = NULL;
    const char *spath = NULL, *dpath = NULL;
    int r = cli_parse_opts("cp", opts, 0, argc, argv, cp_opt, &o, &pos, err);

    if (r != 0) {
        if (r == 1)
            cli_print_usage(ctx, opts, stdout);
        return r == 1 ? 0 : -1;
    }
    if (cli_check_args("cp", pos, 2, 2, "a source and a destination", err) < 0)
        return -1;
    signal(SIGPIPE, SIG_IGN); /* closed pipes are errors, seen as EPIPE */
    cleanup_free char *sid = cli_cp_split(pos[0], &spath);
    cleanup_free char *did = cli_cp_split(pos[1], &dpath);
    if (sid && did)
        return ctr_fail(err, 0,
                        "copying between containers is not supported: copy to a local "
                        "path, then into the other container");
    if (!sid && !did)
        return ctr_fail(err, 0,
                        "one of the paths must name a container: `CONTAINER:PATH` (use `cp` "
                        "for local copies)");
    if (sid && (*spath == '\0'))
        return ctr_fail(err, 0, "`%s` names no path in the container", pos[0]);
    if (did && (*dpath == '\0'))
        return ctr_fail(err, 0, "`%s` names no path in the container", pos[1]);
    int ret = sid ? copy_from(ctx, &o, sid, spath, pos[1], err)
                  : copy_to(ctx, &o, pos[0], did, dpath, err);
    return ret < 0 ? -1 : 0;
}

/* ---- export ---- */

static int export_opt(void *opaque, int id, const char *v, ctr_error_t *err)
{
    *(const char **)opaque = v;
    return 0;
}

static int fd_sink(void *opaque, const char *data, size_t len)
{
    return ctr_write_all(*(int *)opaque, data, len) < 0 ? -1 : 0;
}

int cli_cmd_export(struct cli_ctx *ctx, int argc, char **argv, ctr_error_t *err)
{
    static const struct cli_option opts[] = {
        CLI_OPT_ARG('o', "output", "FILE", O_OUTPUT, "write to FILE instead of stdout"),
        CLI_OPT_END,
    };
    const char *output = NULL;
    cleanup_strv char **pos = NULL;
    int r = cli_parse_opts("export", opts, 0, argc, argv, export_opt, &output, &pos, err);

    if (r != 0) {
        if (r == 1)
            cli_print_usage(ctx, opts, stdout);
        return r == 1 ? 0 : -1;
    }
    if (cli_check_args("export", pos, 1, 1, "exactly one container", err) < 0)
        return -1;
    if (output == NULL && isatty(STDOUT_FILENO))
        return ctr_fail(err, 0,
                        "refusing to write an archive to a terminal: use `-o FILE` or redirect "
                        "stdout");
    signal(SIGPIPE, SIG_IGN);
    cleanup_free char *tmp = output ? ctr_xasprintf("%s.partial-XXXXXX", output) : NULL;
    cleanup_close int fd = -1;
    if (output) {
        fd = mkostemp(tmp, O_CLOEXEC);
        if (fd < 0)
            return ctr_fail(err, errno, "cannot write `%s`", output);
        fchmod(fd, 0644);
    }
    int out_fd = output ? fd : STDOUT_FILENO;
    cleanup_free char *eid = cli_esc(pos[0]);
    cleanup_free char *path = cli_path("/containers/%s/export", eid);
    struct cli_request req = {
        .method = "GET", .path = path, .upload_fd = -1, .sink = fd_sink, .sink_opaque = &out_fd};
    if (cli_request(ctx, &req, NULL, err) < 0 || (output && fsync(fd) < 0)) {
        if (*err == NULL)
            ctr_fail(err, errno, "cannot write `%s`", output);
        if (tmp)
            unlink(tmp);
        return -1;
    }
    if (output && rename(tmp, output) < 0) {
        unlink(tmp);
        return ctr_fail(err, errno, "cannot write `%s`", output);
    }
    return 0;
}
