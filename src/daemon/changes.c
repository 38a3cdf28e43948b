/* The `changes` of commit and import: Dockerfile instructions applied to an image's
 * Config (moby's dockerfile.BuildFromConfig with its validCommitCommands). One
 * instruction per string, no continuation lines, no build args. docs/api.md. */
#include "daemon/daemon-internal.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const char *const valid[] = {"cmd",    "entrypoint", "env",        "expose",
                                    "label",  "onbuild",    "stopsignal", "user",
                                    "volume", "workdir",    NULL};

/* A JSON array of strings (the exec form), or NULL when s is not one. */
static json_t *exec_form(const char *s)
{
    json_error_t je;
    json_t *a = json_loads(s, JSON_DECODE_ANY, &je);
    size_t i;
    json_t *v;
    if (!json_is_array(a)) {
        json_decref(a);
        return NULL;
    }
    json_array_foreach(a, i, v) if (!json_is_string(v))
    {
        json_decref(a);
        return NULL;
    }
    return a;
}

/* Words of s: blanks separate, double or single quotes group, a backslash escapes. */
static char **words(const char *s)
{
    char **v = ctr_xcalloc(1, sizeof(char *));
    while (*s) {
        while (isspace((unsigned char)*s))
            s++;
        if (!*s)
            break;
        size_t cap = strlen(s) + 1, n = 0;
        char *w = ctr_xmalloc(cap);
        char q = 0;
        for (; *s && (q || !isspace((unsigned char)*s)); s++) {
            if (!q && (*s == '"' || *s == '\'')) {
                q = *s;
            } else if (q && *s == q) {
                q = 0;
            } else if (*s == '\\' && s[1] && q != '\'') {
                w[n++] = *++s;
            } else {
                w[n++] = *s;
            }
        }
        w[n] = 0;
        ctr_strv_append(&v, w);
        free(w);
    }
    return v;
}

/* KEY=VALUE pairs, or the legacy `KEY VALUE` form (one pair: the rest is the value). */
static int pairs(const char *instr, const char *args, char ***out, ctr_error_t *err)
{
    cleanup_strv char **w = words(args);
    char **v = ctr_xcalloc(1, sizeof(char *));
    if (w[0] == NULL) {
        ctr_strv_free(v);
        return dmn_fail(err, EINVAL, "%s requires at least one argument", instr);
    }
    if (strchr(w[0], '=') == NULL) {
        const char *rest = args;
        while (isspace((unsigned char)*rest))
            rest++;
        rest += strlen(w[0]);
        while (isspace((unsigned char)*rest))
            rest++;
        if (*rest == '\0') {
            ctr_strv_free(v);
            return dmn_fail(err, EINVAL, "%s must have two arguments", instr);
        }
        cleanup_free char *kv = ctr_xasprintf("%s=%s", w[0], rest);
        ctr_strv_append(&v, kv);
    } else {
        for (size_t i = 0; w[i]; i++) {
            if (strchr(w[i], '=') == NULL || w[i][0] == '=') {
                ctr_strv_free(v);
                return dmn_fail(err, EINVAL, "%s names can not be blank", instr);
            }
            ctr_strv_append(&v, w[i]);
        }
    }
    *out = v;
    return 0;
}

static json_t *obj(json_t *config, const char *key)
{
    json_t *o = json_object_get(config, key);
    if (!json_is_object(o)) {
        o = json_object();
        json_object_set_new(config, key, o);
    }
    return o;
}

static void env_set(json_t *config, const char *kv)
{
    json_t *env = json_object_get(config, "Env");
    if (!json_is_array(env)) {
        env = json_array();
        json_object_set_new(config, "Env", env);
    }
    size_t kl = strcspn(kv, "=");
    size_t i;
    json_t *e;
    json_array_foreach(env, i, e)
    {
        const char *s = json_string_value(e);
        if (s && strncmp(s, kv, kl) == 0 && (s[kl] == '=' || s[kl] == '\0')) {
            json_array_set_new(env, i, json_string(kv));
            return;
        }
    }
    json_array_append_new(env, json_string(kv));
}

/* CMD and ENTRYPOINT: the exec form as given, the shell form through `/bin/sh -c`. */
static json_t *command(const char *args)
{
    json_t *a = exec_form(args);
    if (a)
        return a;
    return json_pack("[s,s,s]", "/bin/sh", "-c", args);
}

static int apply_one(json_t *config, const char *line, ctr_error_t *err)
{
    while (isspace((unsigned char)*line))
        line++;
    size_t il = strcspn(line, " \t\r\n");
    if (il == 0 || *line == '#')
        return 0; /* blank or a comment: the parser skips it */
    cleanup_free char *instr = ctr_xstrndup(line, il);
    for (char *p = instr; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    cleanup_free char *args = ctr_xstrdup(line + il);
    {
        char *a = args;
        while (isspace((unsigned char)*a))
            a++;
        memmove(args, a, strlen(a) + 1);
        size_t n = strlen(args);
        while (n && isspace((unsigned char)args[n - 1]))
            args[--n] = 0;
    }
    bool ok = false;
    for (size_t i = 0; valid[i] && !ok; i++)
        ok = strcmp(valid[i], instr) == 0;
    if (!ok)
        return dmn_fail(err, EINVAL, "%s is not a valid change command", instr);
    if (strcmp(instr, "cmd") == 0 || strcmp(instr, "entrypoint") == 0) {
        json_object_set_new(config, strcmp(instr, "cmd") == 0 ? "Cmd" : "Entrypoint",
                            command(args));
        return 0;
    }
    if (strcmp(instr, "env") == 0 || strcmp(instr, "label") == 0) {
        cleanup_strv char **kv = NULL;
        if (pairs(instr[0] == 'e' ? "ENV" : "LABEL", args, &kv, err) < 0)
            return -1;
        for (size_t i = 0; kv[i]; i++) {
            if (instr[0] == 'e') {
                env_set(config, kv[i]);
            } else {
                char *eq = strchr(kv[i], '=');
                *eq = 0;
                json_object_set_new(obj(config, "Labels"), kv[i], json_string(eq + 1));
            }
        }
        return 0;
    }
    if (*args == '\0')
        return dmn_fail(err, EINVAL, "%s requires at least one argument", instr);
    if (strcmp(instr, "expose") == 0) {
        cleanup_strv char **w = words(args);
        for (size_t i = 0; w[i]; i++) {
            cleanup_free char *p =
                strchr(w[i], '/') ? ctr_xstrdup(w[i]) : ctr_xasprintf("%s/tcp", w[i]);
            char *end;
            long port = strtol(p, &end, 10);
            if (end == p || *end != '/' || port < 1 || port > 65535 ||
                (strcmp(end, "/tcp") != 0 && strcmp(end, "/udp") != 0 && strcmp(end, "/sctp") != 0))
                return dmn_fail(err, EINVAL, "invalid containerPort: %s", w[i]);
            json_object_set_new(obj(config, "ExposedPorts"), p, json_object());
        }
        return 0;
    }
    if (strcmp(instr, "volume") == 0) {
        json_t *a = exec_form(args);
        if (a == NULL) {
            cleanup_strv char **w = words(args);
            a = dmn_strv_json(w);
        }
        size_t i;
        json_t *v;
        json_array_foreach(a, i, v)
        {
            if (*json_string_value(v) == '\0') {
                json_decref(a);
                return dmn_fail(err, EINVAL, "VOLUME specified can not be an empty string");
            }
            json_object_set_new(obj(config, "Volumes"), json_string_value(v), json_object());
        }
        json_decref(a);
        return 0;
    }
    if (strcmp(instr, "workdir") == 0) {
        const char *cur = json_string_value(json_object_get(config, "WorkingDir"));
        cleanup_free char *w = args[0] == '/' || !cur || !*cur
                                   ? ctr_xasprintf("%s%s", args[0] == '/' ? "" : "/", args)
                                   : ctr_xasprintf("%s/%s", cur, args);
        json_object_set_new(config, "WorkingDir", json_string(w));
        return 0;
    }
    if (strcmp(instr, "onbuild") == 0) {
        json_t *ob = json_object_get(config, "OnBuild");
        if (!json_is_array(ob)) {
            ob = json_array();
            json_object_set_new(config, "OnBuild", ob);
        }
        json_array_append_new(ob, json_string(args));
        return 0;
    }
    json_object_set_new(config, strcmp(instr, "user") == 0 ? "User" : "StopSignal",
                        json_string(args));
    return 0;
}

int dmn_commit_changes_apply(json_t *config, char *const *changes, ctr_error_t *err)
{
    for (size_t i = 0; changes && changes[i]; i++) {
        /* one change may hold several lines, as the CLI passes a file's */
        cleanup_free char *copy = ctr_xstrdup(changes[i]);
        char *save = NULL;
        for (char *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
            if (apply_one(config, l, err) < 0)
                return -1;
    }
    return 0;
}
