/* The stage walk: which variables each instruction's expansion sees (docs/build.md,
 * "Variables"). ARGs before the first FROM are global and visible to FROM lines only;
 * a stage sees an ARG once it declares it (a global one of the same name gives its
 * value), ENV always wins over ARG, and the platform ARGs (TARGETPLATFORM...) are
 * predeclared globally and take their value in a stage when declared there. */
#include "build/build-internal.h"

#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

static const char *const proxy_args[] = {"HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy",
                                         "FTP_PROXY",  "ftp_proxy",  "NO_PROXY",    "no_proxy",
                                         "ALL_PROXY",  "all_proxy",  NULL};

/* A NAME=VALUE list where a later entry of a name replaces the earlier one. */
static void kv_set(char ***v, const char *name, const char *value)
{
    size_t nl = strlen(name);
    for (size_t i = 0; *v && (*v)[i]; i++)
        if (strncmp((*v)[i], name, nl) == 0 && (*v)[i][nl] == '=') {
            free((*v)[i]);
            (*v)[i] = ctr_xasprintf("%s=%s", name, value);
            return;
        }
    df_strv_push(v, NULL, ctr_xasprintf("%s=%s", name, value));
}

static const char *kv_get(char *const *v, const char *name)
{
    size_t nl = strlen(name);
    for (size_t i = 0; v && v[i]; i++)
        if (strncmp(v[i], name, nl) == 0 && v[i][nl] == '=')
            return v[i] + nl + 1;
    return NULL;
}

static const char *host_platform(void)
{
    struct utsname u;
    if (uname(&u) == 0 && (strcmp(u.machine, "aarch64") == 0 || strcmp(u.machine, "arm64") == 0))
        return "linux/arm64";
    return "linux/amd64";
}

/* TARGETPLATFORM, TARGETOS, TARGETARCH, TARGETVARIANT (and BUILD...) from "os/arch[/v]". */
static void platform_args(char ***v, const char *prefix, const char *plat)
{
    cleanup_free char *p = ctr_xstrdup(plat);
    char *arch = strchr(p, '/'), *variant = NULL;
    if (arch) {
        *arch++ = '\0';
        variant = strchr(arch, '/');
        if (variant)
            *variant++ = '\0';
    }
    cleanup_free char *k1 = ctr_xasprintf("%sPLATFORM", prefix);
    cleanup_free char *k2 = ctr_xasprintf("%sOS", prefix);
    cleanup_free char *k3 = ctr_xasprintf("%sARCH", prefix);
    cleanup_free char *k4 = ctr_xasprintf("%sVARIANT", prefix);
    kv_set(v, k1, plat);
    kv_set(v, k2, p);
    kv_set(v, k3, arch ? arch : "");
    kv_set(v, k4, variant ? variant : "");
}

static const char *build_arg(const struct df_walk_opts *o, const char *name)
{
    return o ? kv_get(o->build_args, name) : NULL;
}

/* ARG words: "NAME" or "NAME=default" (the default expanded with vars). */
static int arg_decl(const char *word, const struct df_lex *lx, char **name, char **def,
                    ctr_error_t *err)
{
    const char *eq = strchr(word, '=');
    *name = eq ? ctr_xstrndup(word, (size_t)(eq - word)) : ctr_xstrdup(word);
    *def = NULL;
    if (eq && (*def = df_lex_word(lx, eq + 1, err)) == NULL) {
        free(*name);
        return -1;
    }
    return 0;
}

static int expand_args(const struct df_instr *in, const struct df_lex *lx, char ***out,
                       ctr_error_t *err)
{
    char **w = ctr_xcalloc(1, sizeof(char *));
    for (size_t i = 0; i < in->nargs; i++) {
        const char *a = in->args[i];
        char *x;
        if (strcmp(in->cmd, "arg") == 0 && strchr(a, '=')) {
            const char *eq = strchr(a, '=');
            cleanup_free char *v = df_lex_word(lx, eq + 1, err);
            x = v ? ctr_xasprintf("%.*s=%s", (int)(eq - a), a, v) : NULL;
        } else if (!in->json && a[0] == '<' && a[1] == '<' && in->nheredocs) {
            x = ctr_xstrdup(a); /* a heredoc source */
        } else {
            x = df_lex_word(lx, a, err);
        }
        if (x == NULL) {
            ctr_strv_free(w);
            return ctr_error_wrap(err, "line %d", in->line);
        }
        df_strv_push(&w, NULL, x);
    }
    *out = w;
    return 0;
}

void df_steps_free(struct df_step *steps, size_t n)
{
    for (size_t i = 0; steps && i < n; i++) {
        ctr_strv_free(steps[i].vars);
        ctr_strv_free(steps[i].words);
        ctr_strv_free(steps[i].unused);
    }
    free(steps);
}

static void mark_used(char ***used, const char *name)
{
    if (kv_get(*used, name) == NULL)
        kv_set(used, name, "");
}

int df_walk(const struct df_file *f, const struct df_walk_opts *o, struct df_step **out,
            ctr_error_t *err)
{
    const char *bp = o && o->build_platform ? o->build_platform : host_platform();
    const char *tp = o && o->target_platform ? o->target_platform : bp;
    cleanup_strv char **auto_args = ctr_xcalloc(1, sizeof(char *));
    platform_args(&auto_args, "BUILD", bp);
    platform_args(&auto_args, "TARGET", tp);
    /* globals: the platform args, then the ARGs before the first FROM */
    cleanup_strv char **global = ctr_strv_dup(auto_args);
    cleanup_strv char **args = NULL, **env = NULL, **used = ctr_xcalloc(1, sizeof(char *));
    struct df_step *steps = ctr_xcalloc(f->n ? f->n : 1, sizeof(*steps));
    int stage = -1;

    for (size_t i = 0; i < f->n; i++) {
        const struct df_instr *in = &f->instrs[i];
        bool from = strcmp(in->cmd, "from") == 0;
        if (from) {
            stage++;
            ctr_strv_free(args);
            ctr_strv_free(env);
            args = ctr_xcalloc(1, sizeof(char *));
            env = ctr_xcalloc(1, sizeof(char *));
        }
        /* what this instruction sees: FROM and global ARGs the globals, else the stage's
         * ARGs with its ENVs over them */
        char **vars;
        if (stage < 0 || from) {
            vars = ctr_strv_dup(global);
        } else {
            vars = ctr_strv_dup(args);
            for (size_t k = 0; env[k]; k++) {
                char *eq = strchr(env[k], '=');
                cleanup_free char *name = ctr_xstrndup(env[k], (size_t)(eq - env[k]));
                kv_set(&vars, name, eq + 1);
            }
        }
        struct df_lex lx = {.escape = f->escape, .vars = vars};
        steps[i].stage = stage;
        steps[i].vars = vars;
        if (df_cmd_expands(in->cmd)) {
            if (expand_args(in, &lx, &steps[i].words, err) < 0) {
                df_steps_free(steps, i + 1);
                return -1;
            }
        } else {
            steps[i].words = ctr_strv_dup(in->args);
        }
        if (strcmp(in->cmd, "arg") == 0) {
            for (size_t k = 0; k < in->nargs; k++) {
                char *name, *def;
                if (arg_decl(in->args[k], &lx, &name, &def, err) < 0) {
                    df_steps_free(steps, i + 1);
                    return ctr_error_wrap(err, "line %d", in->line);
                }
                mark_used(&used, name);
                const char *v = build_arg(o, name);
                if (v == NULL && def == NULL && stage >= 0)
                    v = kv_get(global, name); /* a global ARG (or a platform one) */
                if (v == NULL)
                    v = def;
                if (v != NULL) {
                    if (stage < 0)
                        kv_set(&global, name, v);
                    else if (kv_get(env, name) == NULL)
                        kv_set(&args, name, v);
                }
                free(name);
                free(def);
            }
        } else if (strcmp(in->cmd, "env") == 0) {
            for (size_t k = 0; steps[i].words[k] && steps[i].words[k + 1]; k += 2)
                kv_set(&env, steps[i].words[k], steps[i].words[k + 1]);
        }
    }
    if (f->n) {
        char **unused = ctr_xcalloc(1, sizeof(char *));
        for (size_t k = 0; o && o->build_args && o->build_args[k]; k++) {
            const char *eq = strchr(o->build_args[k], '=');
            cleanup_free char *name =
                eq ? ctr_xstrndup(o->build_args[k], (size_t)(eq - o->build_args[k]))
                   : ctr_xstrdup(o->build_args[k]);
            bool proxy = false;
            for (size_t p = 0; proxy_args[p]; p++)
                proxy |= strcmp(proxy_args[p], name) == 0;
            if (!proxy && kv_get(used, name) == NULL)
                df_strv_push(&unused, NULL, ctr_steal_ptr(name));
        }
        steps[f->n - 1].unused = unused;
    }
    *out = steps;
    return 0;
}
