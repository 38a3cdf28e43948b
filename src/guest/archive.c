/* Files in and out of the container (docs/agent-protocol.md, archive_*): docker's
 * path resolution and stat in PID 1, the tar work in a forked worker whose
 * stdout (get) or stdin (put) is the data stream. vminitd runs chrooted in the
 * container root once `setup` is done, so the worker is too: `..` and absolute
 * symlinks cannot leave the root. Tar reading and writing is libarchive, linked
 * statically (PAX; modes, numeric owners plus names from the container's own
 * /etc/passwd and /etc/group, mtimes, symlinks, hard links, xattrs). */
#include "guest/guest-internal.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Go os.FileMode bits (docker's X-Docker-Container-Path-Stat "mode"). */
#define GO_MODE_DIR (1u << 31)
#define GO_MODE_SYMLINK (1u << 27)
#define GO_MODE_DEVICE (1u << 26)
#define GO_MODE_NAMED_PIPE (1u << 25)
#define GO_MODE_SOCKET (1u << 24)
#define GO_MODE_SETUID (1u << 23)
#define GO_MODE_SETGID (1u << 22)
#define GO_MODE_CHAR_DEVICE (1u << 21)
#define GO_MODE_STICKY (1u << 20)

uint32_t guest_go_filemode(mode_t m)
{
    uint32_t g = m & 0777;

    switch (m & S_IFMT) {
    case S_IFDIR:
        g |= GO_MODE_DIR;
        break;
    case S_IFLNK:
        g |= GO_MODE_SYMLINK;
        break;
    case S_IFBLK:
        g |= GO_MODE_DEVICE;
        break;
    case S_IFCHR:
        g |= GO_MODE_DEVICE | GO_MODE_CHAR_DEVICE;
        break;
    case S_IFIFO:
        g |= GO_MODE_NAMED_PIPE;
        break;
    case S_IFSOCK:
        g |= GO_MODE_SOCKET;
        break;
    }
    if (m & S_ISUID)
        g |= GO_MODE_SETUID;
    if (m & S_ISGID)
        g |= GO_MODE_SETGID;
    if (m & S_ISVTX)
        g |= GO_MODE_STICKY;
    return g;
}

/* Go's time.Time JSON form (RFC 3339, trailing zeros of the fraction dropped), in UTC. */
char *guest_rfc3339(const struct timespec *ts)
{
    struct tm tm;
    char base[64], frac[16] = "";
    time_t t = ts->tv_sec;

    gmtime_r(&t, &tm);
    strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
    if (ts->tv_nsec > 0) {
        int n = snprintf(frac, sizeof(frac), ".%09ld", ts->tv_nsec);
        while (n > 1 && frac[n - 1] == '0')
            frac[--n] = '\0';
    }
    return ctr_xasprintf("%s%sZ", base, frac);
}

/* Lexical clean of an absolute path (Go's filepath.Clean): no ".", "..", "//". */
static char *clean_abs(const char *path)
{
    size_t n = strlen(path);
    char *out = ctr_xmalloc(n + 2), *o = out;
    const char *p = path;

    *o++ = '/';
    while (*p) {
        const char *start;
        size_t len;
        while (*p == '/')
            p++;
        start = p;
        while (*p && *p != '/')
            p++;
        len = (size_t)(p - start);
        if (len == 0 || (len == 1 && start[0] == '.'))
            continue;
        if (len == 2 && start[0] == '.' && start[1] == '.') {
            while (o > out + 1 && o[-1] != '/')
                o--;
            if (o > out + 1)
                o--; /* the slash before the dropped component */
            continue;
        }
        if (o > out + 1)
            *o++ = '/';
        memcpy(o, start, len);
        o += len;
    }
    *o = '\0';
    return out;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

static char *base_name(const char *clean)
{
    const char *slash = strrchr(clean, '/');
    return ctr_xstrdup(slash[1] ? slash + 1 : "/");
}

static int path_error(ctr_error_t *err, int e, const char *path)
{
    if (e == ENOENT)
        return ctr_fail_class(err, e, "no such file or directory: %s", path);
    if (e == ENOTDIR)
        return ctr_fail_class(err, e, "not a directory: %s", path);
    return ctr_fail_class(err, e, "%s: %s", path, strerror(e));
}

int guest_archive_resolve(const char *path, bool follow_all, struct guest_resolved *out,
                          ctr_error_t *err)
{
    cleanup_free char *clean = NULL, *dir = NULL, *real = NULL;
    bool follow = follow_all || ends_with(path, "/") || ends_with(path, "/.");
    struct guest_resolved r = {0};

    if (path[0] != '/')
        return ctr_fail(err, EINVAL, "path `%s` must be absolute", path);
    clean = clean_abs(path);
    /* docker: "/etc/." names the contents (".") and "/link/" follows the link */
    r.name = ends_with(path, "/.") ? ctr_xstrdup(".") : base_name(clean);
    r.contents = ends_with(path, "/.") || strcmp(clean, "/") == 0;
    if (follow || strcmp(clean, "/") == 0) {
        real = realpath(clean, NULL);
        if (real == NULL) {
            guest_resolved_release(&r);
            return path_error(err, errno, path);
        }
        r.path = ctr_steal_ptr(real);
    } else {
        char *slash = strrchr(clean, '/');
        dir = slash == clean ? ctr_xstrdup("/") : ctr_xstrndup(clean, (size_t)(slash - clean));
        real = realpath(dir, NULL);
        if (real == NULL) {
            guest_resolved_release(&r);
            return path_error(err, errno, path);
        }
        r.path = strcmp(real, "/") == 0 ? ctr_xasprintf("/%s", slash + 1)
                                        : ctr_xasprintf("%s/%s", real, slash + 1);
    }
    if (lstat(r.path, &r.st) < 0) {
        int e = errno;
        guest_resolved_release(&r);
        return path_error(err, e, path);
    }
    *out = r;
    return 0;
}

void guest_resolved_release(struct guest_resolved *r)
{
    free(r->path);
    free(r->name);
    memset(r, 0, sizeof(*r));
}

int guest_archive_stat(const char *path, struct agent_path_stat *out, ctr_error_t *err)
{
    struct guest_resolved r;
    struct agent_path_stat st = {0};

    if (guest_archive_resolve(path, false, &r, err) < 0)
        return -1;
    st.name = ctr_steal_ptr(r.name);
    st.size = r.st.st_size;
    st.mode = guest_go_filemode(r.st.st_mode);
    st.mtime = guest_rfc3339(&r.st.st_mtim);
    if (S_ISLNK(r.st.st_mode)) {
        /* docker reports where the link leads inside the container */
        char *target = realpath(r.path, NULL);
        if (target == NULL) {
            char buf[PATH_MAX];
            ssize_t n = readlink(r.path, buf, sizeof(buf) - 1);
            buf[n > 0 ? n : 0] = '\0';
            target = ctr_xstrdup(buf);
        }
        st.link_target = target;
    }
    guest_resolved_release(&r);
    *out = st;
    return 0;
}

/* ---------------------------------------------------------------- owner names */

struct id_name {
    uint32_t id;
    char *name;
};

struct id_table {
    struct id_name *v;
    size_t n;
};

static void id_table_load(struct id_table *t, const char *file)
{
    cleanup_free char *data = NULL;
    char *save = NULL;
    size_t len;

    if (ctr_read_file(file, 4u << 20, &data, &len, NULL) < 0)
        return;
    for (char *line = strtok_r(data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL, *end;
        unsigned long id;
        if (line[0] == '#' || c1 == NULL || c2 == NULL || c1 == line)
            continue;
        id = strtoul(c2 + 1, &end, 10);
        if (end == c2 + 1 || (*end != ':' && *end != '\0') || id > UINT32_MAX)
            continue;
        t->v = ctr_xrealloc(t->v, (t->n + 1) * sizeof(*t->v));
        t->v[t->n].id = (uint32_t)id;
        t->v[t->n++].name = ctr_xstrndup(line, (size_t)(c1 - line));
    }
}

static const char *id_lookup(void *data, int64_t id)
{
    struct id_table *t = data;
    for (size_t i = 0; i < t->n; i++)
        if (t->v[i].id == id)
            return t->v[i].name; /* first match wins, as getpwuid */
    return NULL;
}

/* ---------------------------------------------------------------- worker: get */

static _Noreturn void worker_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static _Noreturn void worker_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    fflush(stderr);
    _exit(1);
}

/* The name an entry gets in the tar: `from` (or what is under it) renamed to `to`;
 * to == "" drops the prefix (export: "bin/sh", not "./bin/sh"). */
static char *rebase(const char *name, const char *from, const char *to)
{
    size_t n = strlen(from);
    if (strncmp(name, from, n) != 0 || (name[n] != '\0' && name[n] != '/'))
        return ctr_xstrdup(name);
    if (to[0] == '\0')
        return ctr_xstrdup(name[n] == '/' ? name + n + 1 : "");
    return ctr_xasprintf("%s%s", to, name + n);
}

static int copy_data(struct archive *disk, struct archive *out, const char *name)
{
    static char buf[64 * 1024];
    ssize_t n;

    while ((n = archive_read_data(disk, buf, sizeof(buf))) > 0)
        if (archive_write_data(out, buf, (size_t)n) != n)
            worker_fail("write tar: %s", archive_error_string(out));
    if (n < 0)
        worker_fail("read `%s`: %s", name, archive_error_string(disk));
    return 0;
}

static int upper_root_fd = -1;

void guest_archive_set_upper(int fd)
{
    upper_root_fd = fd;
}

static int upper_chdir(void)
{
    if (upper_root_fd < 0) {
        errno = ENOENT;
        return -1;
    }
    if (fchdir(upper_root_fd) < 0 || chdir("upper") < 0)
        return -1;
    return 0;
}

/* The overlay's upper directory (the cwd: spawn moved there) as it is on the disk:
 * whiteouts, `trusted.overlay.*` xattrs, numeric owners. The host turns it into a layer. */
static _Noreturn void worker_get_upper(void)
{
    struct archive *out = archive_write_new(), *disk = archive_read_disk_new();
    struct archive_entry_linkresolver *links = archive_entry_linkresolver_new();
    struct archive_entry *e = archive_entry_new();
    int rc;

    if (archive_write_set_format_pax_restricted(out) != ARCHIVE_OK ||
        archive_write_open_fd(out, 1) != ARCHIVE_OK)
        worker_fail("tar writer: %s", archive_error_string(out));
    archive_entry_linkresolver_set_strategy(links, archive_format(out));
    archive_read_disk_set_symlink_physical(disk);
    archive_read_disk_set_behavior(disk, ARCHIVE_READDISK_NO_TRAVERSE_MOUNTS);
    if (archive_read_disk_open(disk, ".") != ARCHIVE_OK)
        worker_fail("open the upper directory: %s", archive_error_string(disk));
    for (;;) {
        struct archive_entry *w, *spare = NULL;
        cleanup_free char *name = NULL;

        archive_entry_clear(e);
        rc = archive_read_next_header2(disk, e);
        if (rc == ARCHIVE_EOF)
            break;
        if (rc == ARCHIVE_FATAL)
            worker_fail("read the upper directory: %s", archive_error_string(disk));
        if (rc == ARCHIVE_FAILED) {
            fprintf(stderr, "skipped: %s\n", archive_error_string(disk));
            continue;
        }
        archive_read_disk_descend(disk);
        name = rebase(archive_entry_pathname(e), ".", "");
        if (name[0] == '\0')
            continue;
        archive_entry_copy_pathname(e, name);
        archive_entry_sparse_clear(e);
        w = e;
        archive_entry_linkify(links, &w, &spare);
        rc = archive_write_header(out, w);
        if (rc == ARCHIVE_FATAL)
            worker_fail("write tar: %s", archive_error_string(out));
        if (rc == ARCHIVE_FAILED) {
            fprintf(stderr, "skipped `%s`: %s\n", name, archive_error_string(out));
            continue;
        }
        if (archive_entry_size(w) > 0 && archive_entry_hardlink(w) == NULL)
            copy_data(disk, out, name);
    }
    if (archive_write_close(out) != ARCHIVE_OK)
        worker_fail("write tar: %s", archive_error_string(out));
    _exit(0);
}

static _Noreturn void worker_get(const struct guest_resolved *r, bool export_all)
{
    struct id_table users = {0}, groups = {0};
    struct archive *out = archive_write_new(), *disk = archive_read_disk_new();
    struct archive_entry_linkresolver *links = archive_entry_linkresolver_new();
    struct archive_entry *e = archive_entry_new();
    cleanup_free char *dir = NULL;
    const char *top, *to;
    int rc;

    /* chdir to the parent and walk the base name, so names come out relative */
    if (r->contents || export_all) {
        dir = ctr_xstrdup(r->path);
        top = ".";
        to = export_all ? "" : ".";
    } else {
        char *slash = strrchr(r->path, '/');
        dir =
            slash == r->path ? ctr_xstrdup("/") : ctr_xstrndup(r->path, (size_t)(slash - r->path));
        top = slash + 1;
        to = r->name;
    }
    if (chdir(dir) < 0)
        worker_fail("chdir `%s`: %s", dir, strerror(errno));
    id_table_load(&users, "/etc/passwd");
    id_table_load(&groups, "/etc/group");
    if (archive_write_set_format_pax_restricted(out) != ARCHIVE_OK ||
        archive_write_open_fd(out, 1) != ARCHIVE_OK)
        worker_fail("tar writer: %s", archive_error_string(out));
    archive_entry_linkresolver_set_strategy(links, archive_format(out));
    archive_read_disk_set_symlink_physical(disk);
    archive_read_disk_set_uname_lookup(disk, &users, id_lookup, NULL);
    archive_read_disk_set_gname_lookup(disk, &groups, id_lookup, NULL);
    /* export stays on the root filesystem: mount points come out as empty dirs */
    archive_read_disk_set_behavior(disk, export_all ? ARCHIVE_READDISK_NO_TRAVERSE_MOUNTS : 0);
    if (archive_read_disk_open(disk, top) != ARCHIVE_OK)
        worker_fail("open `%s`: %s", r->path, archive_error_string(disk));
    for (;;) {
        struct archive_entry *w, *spare = NULL;
        cleanup_free char *name = NULL;

        archive_entry_clear(e);
        rc = archive_read_next_header2(disk, e);
        if (rc == ARCHIVE_EOF)
            break;
        if (rc == ARCHIVE_FATAL)
            worker_fail("read `%s`: %s", r->path, archive_error_string(disk));
        if (rc == ARCHIVE_FAILED) { /* e.g. a file removed while we walk: skip it */
            fprintf(stderr, "skipped: %s\n", archive_error_string(disk));
            continue;
        }
        archive_read_disk_descend(disk);
        name = rebase(archive_entry_pathname(e), top, to);
        if (name[0] == '\0')
            continue; /* export: the root itself */
        archive_entry_copy_pathname(e, name);
        archive_entry_sparse_clear(e); /* holes are read as zeros: plain entries */
        w = e;
        archive_entry_linkify(links, &w, &spare);
        rc = archive_write_header(out, w);
        if (rc == ARCHIVE_FATAL)
            worker_fail("write tar: %s", archive_error_string(out));
        if (rc == ARCHIVE_FAILED) { /* e.g. a socket: tar cannot hold it */
            fprintf(stderr, "skipped `%s`: %s\n", name, archive_error_string(out));
            continue;
        }
        if (archive_entry_size(w) > 0 && archive_entry_hardlink(w) == NULL)
            copy_data(disk, out, name);
    }
    if (archive_write_close(out) != ARCHIVE_OK)
        worker_fail("write tar: %s", archive_error_string(out));
    _exit(0);
}

/* ---------------------------------------------------------------- worker: put */

/* Entry names as docker reads them: relative to the destination (a leading "/" is
 * dropped); ".." components are refused by libarchive (SECURE_NODOTDOT). */
static const char *strip_root(const char *name)
{
    while (name && name[0] == '/')
        name++;
    return name;
}

static _Noreturn void worker_put(const char *dir)
{
    struct archive *in = archive_read_new(), *disk = archive_write_disk_new();
    struct archive_entry *e;
    int rc;

    if (chdir(dir) < 0)
        worker_fail("chdir `%s`: %s", dir, strerror(errno));
    /* docker accepts identity, gzip, bzip2 and xz for PUT /archive */
    archive_read_support_format_tar(in);
    archive_read_support_filter_gzip(in);
    archive_read_support_filter_bzip2(in);
    archive_read_support_filter_xz(in);
    archive_write_disk_set_options(disk, ARCHIVE_EXTRACT_OWNER | ARCHIVE_EXTRACT_PERM |
                                             ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_XATTR |
                                             ARCHIVE_EXTRACT_ACL | ARCHIVE_EXTRACT_UNLINK |
                                             ARCHIVE_EXTRACT_SECURE_NODOTDOT);
    if (archive_read_open_fd(in, 0, 64 * 1024) != ARCHIVE_OK)
        worker_fail("read tar: %s", archive_error_string(in));
    for (;;) {
        const char *name, *link;
        const void *buf;
        size_t len;
        int64_t off;

        rc = archive_read_next_header(in, &e);
        if (rc == ARCHIVE_EOF)
            break;
        if (rc < ARCHIVE_WARN)
            worker_fail("read tar: %s", archive_error_string(in));
        name = strip_root(archive_entry_pathname(e));
        if (name == NULL || name[0] == '\0' || strcmp(name, ".") == 0 || strcmp(name, "./") == 0)
            continue; /* the destination itself, as docker */
        archive_entry_copy_pathname(e, name);
        if ((link = archive_entry_hardlink(e)) != NULL)
            archive_entry_copy_hardlink(e, strip_root(link));
        rc = archive_write_header(disk, e);
        if (rc < ARCHIVE_WARN)
            worker_fail("extract `%s`: %s", name, archive_error_string(disk));
        if (archive_entry_size(e) > 0) {
            /* a file cut short (the tar ends in it, the disk is full) is not left behind
             * with part of its content */
            bool regular = archive_entry_filetype(e) == AE_IFREG;
            while ((rc = archive_read_data_block(in, &buf, &len, &off)) == ARCHIVE_OK)
                if (archive_write_data_block(disk, buf, len, off) < ARCHIVE_WARN) {
                    if (regular)
                        unlink(name);
                    worker_fail("write `%s`: %s", name, archive_error_string(disk));
                }
            if (rc != ARCHIVE_EOF) {
                if (regular)
                    unlink(name);
                worker_fail("read tar: %s", archive_error_string(in));
            }
        }
        if (archive_write_finish_entry(disk) < ARCHIVE_WARN)
            worker_fail("extract `%s`: %s", name, archive_error_string(disk));
    }
    /* directory modes and times are applied at close */
    if (archive_write_close(disk) < ARCHIVE_WARN)
        worker_fail("extract: %s", archive_error_string(disk));
    _exit(0);
}

/* ---------------------------------------------------------------- spawn */

int guest_archive_spawn(enum agent_op op, const struct agent_archive *a,
                        const struct guest_resolved *r, struct guest_spawned *out, ctr_error_t *err)
{
    int data[2] = {-1, -1}, errp[2] = {-1, -1};
    bool put = op == AGENT_OP_ARCHIVE_PUT;
    pid_t pid;

    if (pipe2(data, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0) {
        int e = errno;
        for (int i = 0; i < 2; i++) {
            if (data[i] >= 0)
                close(data[i]);
            if (errp[i] >= 0)
                close(errp[i]);
        }
        return ctr_fail(err, e, "create worker pipes");
    }
    pid = fork();
    if (pid < 0) {
        int e = errno;
        close(data[0]), close(data[1]), close(errp[0]), close(errp[1]);
        return ctr_fail(err, e, "fork");
    }
    if (pid == 0) {
        sigset_t none;
        struct sigaction dfl = {.sa_handler = SIG_DFL};
        int null = open("/dev/null", O_RDWR);

        for (int s = 1; s < NSIG; s++)
            sigaction(s, &dfl, NULL);
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        setsid();
        if (dup2(put ? data[0] : null, 0) < 0 || dup2(put ? null : data[1], 1) < 0 ||
            dup2(errp[1], 2) < 0)
            _exit(1);
        if (a->upper && upper_chdir() < 0) {
            fprintf(stderr, "the container has no writable layer here: %s\n", strerror(errno));
            _exit(1);
        }
        /* no fd of vminitd (other processes' pipes, the port) may outlive it here */
        close_range(3, ~0u, 0);
        if (put)
            worker_put(r->path);
        if (a->upper)
            worker_get_upper();
        worker_get(r, a->export_all);
    }
    close(put ? data[0] : data[1]);
    close(errp[1]);
    out->pid = pid;
    out->pty = false;
    out->in_fd = put ? data[1] : -1;
    out->out_fd = put ? -1 : data[0];
    out->err_fd = errp[0];
    for (int *fd = (int[]){out->in_fd, out->out_fd, out->err_fd, -2}; *fd != -2; fd++)
        if (*fd >= 0)
            fcntl(*fd, F_SETFL, fcntl(*fd, F_GETFL) | O_NONBLOCK);
    return 0;
}
