/* COPY and ADD from the build context (build.h, docs/build.md "COPY and ADD"): the
 * sources resolved against the context index into a plan of (entry, destination) items,
 * --chown and --chmod, and the step's cache key. The layer itself is layer.c. */
#include "build/build-internal.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_HOPS 40

void df_copy_plan_release(struct df_copy_plan *p)
{
    for (size_t i = 0; i < p->n; i++)
        free(p->v[i].dest);
    free(p->v);
    free(p->chmod);
    memset(p, 0, sizeof(*p));
}

/* "/x/../y" relative to the context root: "y"; "" is the root. */
static char *ctx_rel(const char *p)
{
    cleanup_free char *r = ctr_xasprintf("/%s", p);
    char *c = df_clean_path(r);
    memmove(c, c + 1, strlen(c));
    return c;
}

/* BuildKit's containsWildcards: an unescaped `*`, `?` or `[`. */
static bool has_wildcard(const char *s)
{
    for (; *s; s++) {
        if (*s == '\\' && s[1])
            s++;
        else if (*s == '*' || *s == '?' || *s == '[')
            return true;
    }
    return false;
}

/* A path inside the context with its symlinks resolved as if the context were the root
 * (absolute targets start at it, `..` stops at it), the last one only when follow. NULL:
 * no such entry; *real gets the resolved path ("" and *dir for the root). */
static struct df_ctx_entry *resolve(struct df_ctx *c, const char *rel, bool follow, char **real,
                                    bool *root)
{
    cleanup_free char *p = ctx_rel(rel);
    for (int hops = 0; hops <= MAX_HOPS; hops++) {
        if (*p == '\0') {
            *root = true;
            *real = ctr_steal_ptr(p);
            return NULL;
        }
        bool again = false;
        struct df_ctx_entry *e = NULL;
        for (char *s = p;; s++) {
            if (*s != '/' && *s != '\0')
                continue;
            char save = *s;
            *s = '\0';
            e = (struct df_ctx_entry *)df_ctx_find(c, p);
            *s = save;
            if (e == NULL || e->hidden)
                return NULL;
            bool last = save == '\0';
            if (e->type == DF_CTX_SYMLINK && (!last || follow)) {
                cleanup_free char *dir = ctr_xstrndup(p, (size_t)(s - p));
                char *sl = strrchr(dir, '/');
                if (sl)
                    *sl = '\0';
                else
                    *dir = '\0';
                cleanup_free char *np =
                    ctr_xasprintf("%s/%s%s", e->link[0] == '/' ? "" : dir, e->link, s);
                free(p);
                p = ctx_rel(np);
                again = true;
                break;
            }
            if (last)
                break;
            if (e->type != DF_CTX_DIR)
                return NULL;
        }
        if (!again) {
            *root = false;
            *real = ctr_steal_ptr(p);
            return e;
        }
    }
    return NULL;
}

struct source {
    struct df_ctx_entry *e; /* NULL: the root */
    char *real;             /* resolved path in the context */
};

static void push_source(struct source **v, size_t *n, struct df_ctx_entry *e, char *real)
{
    *v = ctr_xrealloc(*v, (*n + 1) * sizeof(**v));
    (*v)[(*n)++] = (struct source){e, real};
}

/* The first index whose path is not below key in byte order. */
static size_t lower_bound(const struct df_ctx *c, const char *key)
{
    size_t lo = 0, hi = c->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(c->v[mid].path, key) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* A run of unescaped `*` is one `*` for Go's Match (df_glob would read `**` as
 * `.dockerignore`'s "any directories"). */
static char *single_stars(const char *pat)
{
    char *o = ctr_xmalloc(strlen(pat) + 1), *w = o;
    for (const char *p = pat; *p; p++) {
        if (*p == '\\' && p[1]) {
            *w++ = *p++;
            *w++ = *p;
        } else if (*p != '*' || w == o || w[-1] != '*' || (w - o >= 2 && w[-2] == '\\')) {
            *w++ = *p;
        }
    }
    *w = '\0';
    return o;
}

/* A wildcard source: Go's filepath.Match per segment, directory by directory, a symlink
 * to a directory followed (inside the context) as BuildKit does for the parents. */
static void expand(struct df_ctx *c, const char *pat, struct source **srcs, size_t *ns)
{
    cleanup_free char *pp = single_stars(pat);
    char **dirs = ctr_xcalloc(1, sizeof(*dirs));
    size_t nd = 1;
    dirs[0] = ctr_xstrdup("");
    char *save = NULL;
    for (char *seg = strtok_r(pp, "/", &save); seg && nd;) {
        char *next = strtok_r(NULL, "/", &save);
        char **nx = NULL;
        size_t nn = 0;
        for (size_t d = 0; d < nd; d++) {
            cleanup_free char *key = *dirs[d] ? ctr_xasprintf("%s/", dirs[d]) : ctr_xstrdup("");
            size_t kl = strlen(key);
            for (size_t i = lower_bound(c, key); i < c->n; i++) {
                struct df_ctx_entry *e = &c->v[i];
                if (strncmp(e->path, key, kl) != 0)
                    break;
                if (strchr(e->path + kl, '/') || e->hidden || !df_glob(seg, e->path + kl))
                    continue;
                char *real = NULL;
                bool root = false;
                struct df_ctx_entry *r = resolve(c, e->path, true, &real, &root);
                if (next == NULL && (r || root)) {
                    push_source(srcs, ns, r, real);
                } else if (next && (root || (r && r->type == DF_CTX_DIR))) {
                    nx = ctr_xrealloc(nx, (nn + 1) * sizeof(*nx));
                    nx[nn++] = real;
                } else {
                    free(real); /* dangling, or not a directory to go on in */
                }
            }
        }
        for (size_t d = 0; d < nd; d++)
            free(dirs[d]);
        free(dirs);
        dirs = nx;
        nd = nn;
        seg = next;
    }
    for (size_t d = 0; d < nd; d++)
        free(dirs[d]);
    free(dirs);
}

struct builder {
    struct df_copy_item *v;
    size_t n, cap;
};

static void add_item(struct builder *b, struct df_ctx_entry *e, char *dest, bool unpack)
{
    if (b->n == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 32;
        b->v = ctr_xrealloc(b->v, b->cap * sizeof(*b->v));
    }
    b->v[b->n++] = (struct df_copy_item){e, dest, unpack};
}

static char *join(const char *a, const char *b)
{
    if (*b == '\0')
        return ctr_xstrdup(a);
    return ctr_xasprintf("%s%s%s", a, strcmp(a, "/") == 0 ? "" : "/", b);
}

static const char *base_name(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

/* One source into the plan. dest is absolute; dest_dir: copy into it. */
static void plan_source(struct df_ctx *c, const struct df_copy_opts *o, struct builder *b,
                        const struct source *s, const char *dest, bool dest_dir,
                        const struct df_ignore *excl, bool add)
{
    bool is_dir = s->e == NULL || s->e->type == DF_CTX_DIR;
    if (!is_dir) {
        if (excl->n && df_ignore_match(excl, base_name(s->real)))
            return;
        bool unpack = add && s->e->type == DF_CTX_REG && df_copy_is_archive(c, s->e);
        char *d = unpack       ? ctr_xstrdup(dest)
                  : o->parents ? join(dest, s->real)
                  : dest_dir   ? join(dest, base_name(s->real))
                               : ctr_xstrdup(dest);
        add_item(b, s->e, d, unpack);
        return;
    }
    char *top = o->parents ? join(dest, s->real) : ctr_xstrdup(dest);
    size_t pl = strlen(s->real);
    /* the destination directory takes the source's metadata unless the stage has it */
    if (s->e && strcmp(top, "/") != 0 && !(o->is_dir && o->is_dir(o->is_dir_arg, top)))
        add_item(b, s->e, ctr_xstrdup(top), false);
    size_t first = 0;
    if (pl) {
        /* the subtree follows its directory in the sorted index */
        struct df_ctx_entry *e = s->e;
        first = (size_t)(e - c->v) + 1;
    }
    for (size_t i = first; i < c->n; i++) {
        struct df_ctx_entry *e = &c->v[i];
        if (pl && (strncmp(e->path, s->real, pl) != 0 || e->path[pl] != '/')) {
            if (strncmp(e->path, s->real, pl) != 0 || e->path[pl] > '/')
                break;
            continue; /* "a-b" sorts between "a" and "a/x" */
        }
        const char *r = pl ? e->path + pl + 1 : e->path;
        if (e->hidden || (excl->n && df_ignore_match(excl, r)))
            continue;
        add_item(b, e, join(top, r), false);
    }
    free(top);
}

/* Walk order: '/' before every other byte, so a directory precedes its contents. */
static int cmp_dest(const char *x, const char *y)
{
    for (; *x && *x == *y; x++, y++)
        ;
    int cx = *x == '/' ? 1 : *x ? (unsigned char)*x + 1 : 0;
    int cy = *y == '/' ? 1 : *y ? (unsigned char)*y + 1 : 0;
    return cx - cy;
}

static int cmp_item(const void *a, const void *b)
{
    return cmp_dest(((const struct df_copy_item *)a)->dest, ((const struct df_copy_item *)b)->dest);
}

struct seq_item {
    struct df_copy_item it;
    size_t seq;
};

static int cmp_seq(const void *a, const void *b)
{
    const struct seq_item *x = a, *y = b;
    int r = cmp_dest(x->it.dest, y->it.dest);
    return r ? r : (x->seq > y->seq) - (x->seq < y->seq);
}

/* Sorted into walk order, the last of equal destinations kept (the later source wins),
 * the missing parents added. */
static void finish_plan(struct builder *b, const struct df_copy_opts *o)
{
    struct seq_item *v = ctr_xcalloc(b->n ? b->n : 1, sizeof(*v));
    for (size_t i = 0; i < b->n; i++)
        v[i] = (struct seq_item){b->v[i], i};
    qsort(v, b->n, sizeof(*v), cmp_seq);
    size_t w = 0;
    for (size_t i = 0; i < b->n; i++) {
        if (i + 1 < b->n && strcmp(v[i].it.dest, v[i + 1].it.dest) == 0) {
            free(v[i].it.dest);
            continue;
        }
        b->v[w++] = v[i].it;
    }
    free(v);
    b->n = w;
    size_t n0 = b->n;
    for (size_t i = 0; i < n0; i++) {
        cleanup_free char *p = ctr_xstrdup(b->v[i].dest);
        for (char *s = strrchr(p, '/'); s && s != p; s = strrchr(p, '/')) {
            *s = '\0';
            struct df_copy_item key = {.dest = p};
            bool have = bsearch(&key, b->v, n0, sizeof(*b->v), cmp_item) != NULL;
            for (size_t j = n0; j < b->n && !have; j++)
                have = strcmp(b->v[j].dest, p) == 0;
            if (have || (o->is_dir && o->is_dir(o->is_dir_arg, p)))
                break;
            add_item(b, NULL, ctr_xstrdup(p), false);
        }
    }
    if (b->n > n0)
        qsort(b->v, b->n, sizeof(*b->v), cmp_item);
}

int df_copy_resolve(struct df_ctx *c, const struct df_copy_opts *o, struct df_copy_plan *out,
                    ctr_error_t *err)
{
    const char *cmd = o->cmd ? o->cmd : "COPY";
    bool add = strcmp(cmd, "ADD") == 0;
    struct builder b = {0};
    struct source *srcs = NULL;
    size_t ns = 0;
    cleanup_df_ignore struct df_ignore excl = {0};
    cleanup_free char *dest = NULL;
    struct df_copy_plan plan = {0};
    int rc = -1;

    if (o->chown && df_chown_parse(o->chown, o->passwd, o->group, &plan.uid, &plan.gid, err) < 0)
        goto out;
    plan.have_uid = o->chown != NULL;
    if (o->chmod) {
        if (df_chmod_apply(o->chmod, 0644) < 0) {
            ctr_fail_class(err, EINVAL, "invalid chmod parameter: `%s`", o->chmod);
            goto out;
        }
        plan.have_mode = true;
        plan.chmod = ctr_xstrdup(o->chmod);
    }
    if (o->exclude) {
        cleanup_free char *text = ctr_xstrdup("");
        for (char *const *x = o->exclude; *x; x++) {
            char *t = ctr_xasprintf("%s%s\n", text, *x);
            free(text);
            text = t;
        }
        df_ignore_parse(text, &excl);
    }
    for (char *const *sp = o->srcs; sp && *sp; sp++) {
        if (add && (strncmp(*sp, "http://", 7) == 0 || strncmp(*sp, "https://", 8) == 0 ||
                    strncmp(*sp, "git@", 4) == 0)) {
            ctr_fail_class(err, ENOTSUP, "ADD from `%s`: remote sources are not supported yet",
                           *sp);
            goto out;
        }
        cleanup_free char *rel = ctx_rel(*sp);
        size_t before = ns;
        if (has_wildcard(rel)) {
            expand(c, rel, &srcs, &ns);
        } else {
            char *real = NULL;
            bool root = false;
            struct df_ctx_entry *e = resolve(c, rel, true, &real, &root);
            if (e || root) {
                srcs = ctr_xrealloc(srcs, (ns + 1) * sizeof(*srcs));
                srcs[ns++] = (struct source){e, real};
            }
        }
        if (ns == before) {
            ctr_fail_class(err, ENOENT,
                           "failed to compute cache key: failed to calculate checksum of ref: "
                           "\"/%s\": not found",
                           rel);
            goto out;
        }
    }
    if (ns == 0) {
        ctr_fail_class(err, EINVAL, "%s requires at least two arguments", cmd);
        goto out;
    }
    const char *wd = o->workdir && *o->workdir ? o->workdir : "/";
    size_t dl = strlen(o->dest);
    bool dest_dir = dl == 0 || o->dest[dl - 1] == '/' || strcmp(o->dest, ".") == 0 ||
                    (dl >= 2 && strcmp(o->dest + dl - 2, "/.") == 0);
    {
        cleanup_free char *full =
            o->dest[0] == '/' ? ctr_xstrdup(o->dest) : ctr_xasprintf("/%s/%s", wd, o->dest);
        dest = df_clean_path(full);
    }
    if (!dest_dir && o->is_dir)
        dest_dir = o->is_dir(o->is_dir_arg, dest);
    if (ns > 1 && !dest_dir) {
        ctr_fail_class(err, EINVAL,
                       "When using %s with more than one source file, the destination must be a "
                       "directory and end with a /",
                       cmd);
        goto out;
    }
    for (size_t i = 0; i < ns; i++)
        plan_source(c, o, &b, &srcs[i], dest, dest_dir, &excl, add);
    finish_plan(&b, o);
    plan.v = b.v;
    plan.n = b.n;
    b.v = NULL;
    *out = plan;
    memset(&plan, 0, sizeof(plan));
    rc = 0;
out:
    for (size_t i = 0; i < ns; i++)
        free(srcs[i].real);
    free(srcs);
    for (size_t i = 0; i < b.n && b.v; i++)
        free(b.v[i].dest);
    free(b.v);
    df_copy_plan_release(&plan);
    return rc;
}

/* ---- --chown ---- */

static bool numeric(const char *s, uint32_t *v)
{
    char *end;
    if (*s < '0' || *s > '9')
        return false;
    errno = 0;
    unsigned long n = strtoul(s, &end, 10);
    if (*end || errno || n > UINT32_MAX)
        return false;
    *v = (uint32_t)n;
    return true;
}

/* The line of a passwd/group text whose first field is name: field `idx` (2: the id, 3:
 * passwd's group id). */
static bool lookup(const char *text, const char *name, int idx, uint32_t *v)
{
    size_t nl = strlen(name);
    for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
        if (strncmp(l, name, nl) != 0 || l[nl] != ':')
            continue;
        const char *f = l;
        for (int i = 0; i < idx && f; i++) {
            f = strchr(f, ':');
            f = f ? f + 1 : NULL;
        }
        const char *end = f ? f + strcspn(f, ":\n") : NULL;
        if (f == NULL)
            return false;
        cleanup_free char *num = ctr_xstrndup(f, (size_t)(end - f));
        return numeric(num, v);
    }
    return false;
}

int df_chown_parse(const char *spec, const char *passwd, const char *group, uint32_t *uid,
                   uint32_t *gid, ctr_error_t *err)
{
    const char *colon = strchr(spec, ':');
    cleanup_free char *user =
        colon ? ctr_xstrndup(spec, (size_t)(colon - spec)) : ctr_xstrdup(spec);
    const char *grp = colon ? colon + 1 : NULL;
    uint32_t u, g = 0;
    bool have_g = false;
    if (*user == '\0')
        return ctr_fail_class(err, EINVAL, "invalid chown `%s`", spec);
    if (!numeric(user, &u)) {
        if (!lookup(passwd ? passwd : "", user, 2, &u))
            return ctr_fail_class(
                err, ENOENT, "unable to find user %s: no matching entries in passwd file", user);
        have_g = lookup(passwd, user, 3, &g);
    }
    if (grp && *grp) {
        if (!numeric(grp, &g) && !lookup(group ? group : "", grp, 2, &g))
            return ctr_fail_class(
                err, ENOENT, "unable to find group %s: no matching entries in group file", grp);
    } else if (!have_g) {
        g = u;
    }
    *uid = u;
    *gid = g;
    return 0;
}

/* ---- the cache key ---- */

char *df_copy_cache_key(struct df_ctx *c, const struct df_copy_plan *p, const char *instruction,
                        ctr_error_t *err)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned char d[32];
    EVP_DigestInit_ex(md, EVP_sha256(), NULL);
    EVP_DigestUpdate(md, instruction, strlen(instruction) + 1);
    for (size_t i = 0; i < p->n; i++) {
        const struct df_copy_item *it = &p->v[i];
        struct df_ctx_entry *e = it->e;
        const char *h = e ? df_ctx_hash(c, e, err) : "";
        if (h == NULL) {
            EVP_MD_CTX_free(md);
            return NULL;
        }
        uint32_t mode = e ? df_copy_entry_mode(p, e) : (S_IFDIR | 0755);
        uint32_t uid = p->have_uid ? p->uid : 0, gid = p->have_uid ? p->gid : 0;
        cleanup_free char *rec =
            ctr_xasprintf("%s\t%d\t%o\t%u\t%u\t%s\t%s\t%d\n", it->dest, e ? (int)e->type : -1, mode,
                          uid, gid, e && e->link ? e->link : "", h, it->unpack);
        EVP_DigestUpdate(md, rec, strlen(rec));
    }
    EVP_DigestFinal_ex(md, d, NULL);
    EVP_MD_CTX_free(md);
    char *o = ctr_xmalloc(72), *w = o + sprintf(o, "sha256:");
    for (int i = 0; i < 32; i++)
        w += sprintf(w, "%02x", d[i]);
    return o;
}
