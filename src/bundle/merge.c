/* Image config × docker run options, merged with the rules of Docker's CLI
 * (cli/command/container/opts.go) and daemon (daemon/commit.go merge,
 * mergeAndVerifyConfig, container.CreateDaemonEnvironment). */
#include "bundle/bundle-internal.h"

#include <stdlib.h>
#include <string.h>

void bundle_create_process_release(struct bundle_create_process *p)
{
    if (p == NULL)
        return;
    ctr_strv_free(p->args);
    ctr_strv_free(p->env);
    free(p->cwd);
    free(p->user);
    free(p->hostname);
    ctr_strv_free(p->labels);
    memset(p, 0, sizeof(*p));
}

static size_t key_len(const char *kv)
{
    return strcspn(kv, "=");
}

static bool same_key(const char *a, const char *b)
{
    size_t n = key_len(a);
    return n == key_len(b) && strncmp(a, b, n) == 0;
}

/* docker's opts.ValidateEnv for one -e value. */
static int add_cli_env(const struct bundle_create_opts *opts, const char *e, char ***env,
                       ctr_error_t *err)
{
    const char *val;
    if (key_len(e) == 0)
        return ctr_fail(err, 0, "invalid environment variable `%s`: empty name", e);
    if (strchr(e, '=') != NULL) {
        ctr_strv_append(env, e);
        return 0;
    }
    val = bundle_create_lookup(opts, e);
    if (val != NULL) {
        cleanup_free char *kv = ctr_xasprintf("%s=%s", e, val);
        ctr_strv_append(env, kv);
    } else {
        /* Kept bare: the daemon side treats it as "unset this variable". */
        ctr_strv_append(env, e);
    }
    return 0;
}

/* ReplaceOrAppendEnvValues(defaults, overrides): NAME=V replaces NAME in place or
 * appends; a bare NAME marks it removed (its slot is kept, so a later NAME=V
 * lands back there, as in docker). */
static char **replace_or_append(char **defaults, char *const *overrides)
{
    char **out = ctr_strv_dup(defaults);
    size_t n = ctr_strv_len(out);
    bool *removed = ctr_xcalloc(n + ctr_strv_len(overrides) + 1, sizeof(bool));
    size_t w = 0;

    for (size_t i = 0; overrides && overrides[i]; i++) {
        const char *o = overrides[i];
        size_t j;
        for (j = 0; j < n; j++)
            if (same_key(out[j], o))
                break;
        if (strchr(o, '=') == NULL) {
            if (j < n)
                removed[j] = true;
            continue;
        }
        if (j < n) {
            free(out[j]);
            out[j] = ctr_xstrdup(o);
            removed[j] = false;
        } else {
            out = ctr_xrealloc(out, (n + 2) * sizeof(char *));
            out[n++] = ctr_xstrdup(o);
            out[n] = NULL;
        }
    }
    for (size_t r = 0; r < n; r++) {
        if (removed[r])
            free(out[r]);
        else
            out[w++] = out[r];
    }
    out[w] = NULL;
    free(removed);
    return out;
}

static bool strv_empty(char *const *v)
{
    return v == NULL || v[0] == NULL;
}

/* filepath.Clean for an absolute path. */
static char *clean_path(const char *p)
{
    char *out = ctr_xmalloc(strlen(p) + 2);
    size_t n = 0;
    const char *s = p;

    out[n++] = '/';
    while (*s) {
        const char *e;
        size_t len;
        while (*s == '/')
            s++;
        e = s + strcspn(s, "/");
        len = (size_t)(e - s);
        if (len == 0)
            break;
        if (len == 1 && s[0] == '.') {
            /* skip */
        } else if (len == 2 && s[0] == '.' && s[1] == '.') {
            while (n > 1 && out[n - 1] != '/')
                n--;
            if (n > 1)
                n--;
        } else {
            if (n > 1)
                out[n++] = '/';
            memcpy(out + n, s, len);
            n += len;
        }
        s = e;
    }
    out[n] = '\0';
    return out;
}

static int check_hostname(const char *h, ctr_error_t *err)
{
    size_t n = strlen(h);
    if (n == 0 || n > 64)
        return ctr_fail(err, 0, "invalid hostname `%s`: it must be 1 to 64 characters", h);
    for (size_t i = 0; i < n; i++) {
        char c = h[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '.' || c == '_'))
            return ctr_fail(err, 0,
                            "invalid hostname `%s`: only letters, digits, `-`, `_` and "
                            "`.` are allowed",
                            h);
    }
    if (h[0] == '-' || h[0] == '.')
        return ctr_fail(err, 0, "invalid hostname `%s`: it must start with a letter or digit", h);
    return 0;
}

static int merge_labels(const struct oci_container_config *img, const struct bundle_create_opts *o,
                        char ***out, ctr_error_t *err)
{
    cleanup_strv char **labels = ctr_xcalloc(1, sizeof(char *));
    for (size_t i = 0; img && i < img->n_labels; i++) {
        cleanup_free char *kv = ctr_xasprintf("%s=%s", img->labels[i].key, img->labels[i].value);
        ctr_strv_append(&labels, kv);
    }
    for (size_t i = 0; o->labels && o->labels[i]; i++) {
        const char *l = o->labels[i];
        size_t k = key_len(l), j;
        cleanup_free char *kv = strchr(l, '=') ? ctr_xstrdup(l) : ctr_xasprintf("%s=", l);
        if (k == 0)
            return ctr_fail(err, 0, "invalid label `%s`: empty name", l);
        for (size_t c = 0; c < k; c++)
            if (l[c] == ' ' || l[c] == '\t')
                return ctr_fail(err, 0, "label `%.*s` contains whitespace", (int)k, l);
        for (j = 0; labels[j]; j++)
            if (same_key(labels[j], l))
                break;
        if (labels[j]) {
            free(labels[j]);
            labels[j] = ctr_steal_ptr(kv);
        } else {
            ctr_strv_append(&labels, kv);
        }
    }
    *out = ctr_steal_ptr(labels);
    return 0;
}

int bundle_create_merge(const struct oci_container_config *img, const char *image_name,
                        const struct bundle_create_opts *opts, const char *id,
                        struct bundle_create_process *out, ctr_error_t *err)
{
    cleanup_strv char **user_env = ctr_xcalloc(1, sizeof(char *));
    cleanup_strv char **env = NULL;
    cleanup_strv char **defaults = NULL;
    cleanup_strv char **entrypoint = NULL;
    cleanup_strv char **cmd = NULL;
    cleanup_strv char **args = NULL;
    cleanup_strv char **labels = NULL;
    cleanup_free char *cwd = NULL;
    cleanup_free char *hostname = NULL;
    cleanup_free char *path_default = NULL;
    const char *wd, *user;

    /* Env: docker's CLI sends env-file lines (in file order) then -e values. */
    for (size_t i = 0; opts->env_files && opts->env_files[i]; i++)
        if (bundle_create_parse_env_file(opts->env_files[i], opts, &user_env, err) < 0)
            return -1;
    for (size_t i = 0; opts->env && opts->env[i]; i++)
        if (add_cli_env(opts, opts->env[i], &user_env, err) < 0)
            return -1;

    /* The daemon's merge: the user's list, then every image variable the user did
     * not name (a bare NAME counts as naming it). */
    if (strv_empty(user_env)) {
        env = ctr_strv_dup(img && img->env ? img->env : user_env);
    } else {
        env = ctr_strv_dup(user_env);
        for (size_t i = 0; img && img->env && img->env[i]; i++) {
            bool found = false;
            for (size_t j = 0; user_env[j] && !found; j++)
                found = same_key(user_env[j], img->env[i]);
            if (!found)
                ctr_strv_append(&env, img->env[i]);
        }
    }

    /* Entrypoint and Cmd. */
    if (strv_empty(opts->entrypoint)) {
        if (strv_empty(opts->cmd))
            cmd = img && img->cmd ? ctr_strv_dup(img->cmd) : NULL;
        else
            cmd = ctr_strv_dup(opts->cmd);
        if (opts->entrypoint == NULL && img && img->entrypoint)
            entrypoint = ctr_strv_dup(img->entrypoint);
    } else {
        entrypoint = ctr_strv_dup(opts->entrypoint);
        cmd = strv_empty(opts->cmd) ? NULL : ctr_strv_dup(opts->cmd);
    }
    if (entrypoint && entrypoint[0] && entrypoint[1] == NULL && entrypoint[0][0] == '\0') {
        ctr_strv_free(entrypoint);
        entrypoint = NULL; /* `--entrypoint ""` */
    }
    if (strv_empty(entrypoint) && strv_empty(cmd))
        return ctr_fail(err, 0,
                        "no command specified: image `%s` has no Entrypoint or Cmd; give a "
                        "command after the image name",
                        image_name ? image_name : "");
    args = ctr_xcalloc(1, sizeof(char *));
    for (size_t i = 0; entrypoint && entrypoint[i]; i++)
        ctr_strv_append(&args, entrypoint[i]);
    for (size_t i = 0; cmd && cmd[i]; i++)
        ctr_strv_append(&args, cmd[i]);
    if (args[0][0] == '\0')
        return ctr_fail(err, 0, "the command to run is an empty string");

    /* WorkingDir: -w, else the image's, else /. */
    wd = opts->workdir && *opts->workdir ? opts->workdir : NULL;
    if (wd && wd[0] != '/')
        return ctr_fail(err, 0,
                        "the working directory `%s` is invalid, it needs to be an "
                        "absolute path",
                        wd);
    if (wd == NULL && img && img->working_dir && *img->working_dir)
        wd = img->working_dir;
    cwd = clean_path(wd ? wd : "/");

    /* User: -u, else the image's; resolved in the guest. */
    user = opts->user && *opts->user ? opts->user : (img && img->user ? img->user : "");

    if (opts->hostname && *opts->hostname) {
        if (check_hostname(opts->hostname, err) < 0)
            return -1;
        hostname = ctr_xstrdup(opts->hostname);
    } else {
        hostname = ctr_xstrndup(id, 12);
    }

    /* The daemon's defaults come first and are replaced in place. */
    defaults = ctr_xcalloc(1, sizeof(char *));
    path_default = ctr_xasprintf("PATH=%s", BUNDLE_CREATE_DEFAULT_PATH);
    ctr_strv_append(&defaults, path_default);
    {
        cleanup_free char *h = ctr_xasprintf("HOSTNAME=%s", hostname);
        ctr_strv_append(&defaults, h);
    }
    if (opts->tty)
        ctr_strv_append(&defaults, "TERM=xterm");

    if (merge_labels(img, opts, &labels, err) < 0)
        return -1;

    out->env = replace_or_append(defaults, env);
    out->args = ctr_steal_ptr(args);
    out->cwd = ctr_steal_ptr(cwd);
    out->user = ctr_xstrdup(user);
    out->hostname = ctr_steal_ptr(hostname);
    out->labels = ctr_steal_ptr(labels);
    return 0;
}
