/* Flag parsing for every command: GNU-style long flags (`--name x`,
 * `--name=x`), bundled short flags (`-it`, `-eFOO=bar`), `--` ends the flags.
 * Written here rather than with getopt_long so each error names the flag and
 * the command, and no global state is left behind between commands. */
#include "cli/cli.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

static const struct cli_option *find_long(const struct cli_option *opts, const char *name,
                                          size_t len)
{
    for (const struct cli_option *o = opts; o && (o->long_name || o->short_name); o++)
        if (o->long_name && strlen(o->long_name) == len && strncmp(o->long_name, name, len) == 0)
            return o;
    return NULL;
}

static const struct cli_option *find_short(const struct cli_option *opts, char c)
{
    for (const struct cli_option *o = opts; o && (o->long_name || o->short_name); o++)
        if (o->short_name == c)
            return o;
    return NULL;
}

static int long_flag(const char *cmd, const struct cli_option *opts, int argc, char *const *argv,
                     int *i, cli_opt_fn fn, void *opaque, ctr_error_t *err)
{
    const char *a = argv[*i] + 2;
    const char *eq = strchr(a, '=');
    size_t len = eq ? (size_t)(eq - a) : strlen(a);
    const struct cli_option *o = find_long(opts, a, len);
    const char *val = NULL;

    if (o == NULL) {
        if (len == 4 && strncmp(a, "help", 4) == 0)
            return 1;
        return ctr_fail(err, 0,
                        "unknown flag `--%.*s` for `container %s`; see `container %s --help`",
                        (int)len, a, cmd, cmd);
    }
    if (!o->arg) {
        if (eq)
            return ctr_fail(err, 0, "flag `--%s` of `container %s` takes no value (got `%s`)",
                            o->long_name, cmd, eq + 1);
    } else if (eq) {
        val = eq + 1;
    } else {
        if (*i + 1 >= argc)
            return ctr_fail(err, 0, "flag `--%s` of `container %s` needs a value", o->long_name,
                            cmd);
        val = argv[++*i];
    }
    return fn(opaque, o->id, val, err) < 0 ? -1 : 0;
}

static int short_flags(const char *cmd, const struct cli_option *opts, int argc, char *const *argv,
                       int *i, cli_opt_fn fn, void *opaque, ctr_error_t *err)
{
    const char *a = argv[*i] + 1;

    for (; *a; a++) {
        const struct cli_option *o = find_short(opts, *a);
        if (o == NULL) {
            if (*a == 'h')
                return 1;
            return ctr_fail(err, 0,
                            "unknown flag `-%c` for `container %s`; see `container %s --help`", *a,
                            cmd, cmd);
        }
        if (!o->arg) {
            if (fn(opaque, o->id, NULL, err) < 0)
                return -1;
            continue;
        }
        /* The rest of the word is the value (`-eA=B`), else the next word. */
        const char *val = a + 1;
        if (*val == '=')
            val++;
        if (*val == '\0') {
            if (*i + 1 >= argc)
                return ctr_fail(err, 0, "flag `-%c` of `container %s` needs a value", *a, cmd);
            val = argv[++*i];
        }
        return fn(opaque, o->id, val, err) < 0 ? -1 : 0;
    }
    return 0;
}

int cli_parse_opts(const char *cmd, const struct cli_option *opts, unsigned flags, int argc,
                   char *const *argv, cli_opt_fn fn, void *opaque, char ***positional,
                   ctr_error_t *err)
{
    cleanup_strv char **pos = ctr_xcalloc(1, sizeof(char *));
    bool flags_done = false;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int r;

        if (flags_done || a[0] != '-' || a[1] == '\0') { /* "-" alone is a value */
            ctr_strv_append(&pos, a);
            if (flags & CLI_PARSE_STOP_AT_POSITIONAL)
                flags_done = true;
            continue;
        }
        if (strcmp(a, "--") == 0) {
            flags_done = true;
            continue;
        }
        if (a[1] == '-')
            r = long_flag(cmd, opts, argc, argv, &i, fn, opaque, err);
        else
            r = short_flags(cmd, opts, argc, argv, &i, fn, opaque, err);
        if (r != 0)
            return r;
    }
    *positional = ctr_steal_ptr(pos);
    return 0;
}

int cli_parse_long(const char *flag, const char *s, long min, long max, long *out, ctr_error_t *err)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || errno != 0)
        return ctr_fail(err, 0, "invalid value `%s` for `%s`: expected a whole number", s, flag);
    if (v < min || v > max)
        return ctr_fail(err, 0, "invalid value `%s` for `%s`: use %ld to %ld", s, flag, min, max);
    *out = v;
    return 0;
}

int cli_check_args(const char *cmd, char **pos, int min, int max, const char *what,
                   ctr_error_t *err)
{
    int n = (int)ctr_strv_len(pos);

    if (n < min)
        return ctr_fail(err, 0, "`container %s` needs %s; see `container %s --help`", cmd, what,
                        cmd);
    if (max >= 0 && n > max)
        return ctr_fail(err, 0, "`container %s` takes %s, but got unexpected argument `%s`", cmd,
                        what, pos[max]);
    return 0;
}

static bool opt_end(const struct cli_option *o)
{
    return o->long_name == NULL && o->short_name == 0;
}

void cli_print_options(const struct cli_option *opts, FILE *f)
{
    for (const struct cli_option *o = opts; o && !opt_end(o); o++) {
        if (o->help == NULL)
            continue;
        char *names = o->short_name ? ctr_xasprintf("-%c", o->short_name) : ctr_xstrdup("   ");
        if (o->long_name) {
            char *n = ctr_xasprintf("%s%s--%s", names, o->short_name ? ", " : " ", o->long_name);
            free(names);
            names = n;
        }
        for (const struct cli_option *a = opts; !opt_end(a); a++) {
            if (a->help || a->id != o->id || a->long_name == NULL)
                continue;
            char *n = a->short_name
                          ? ctr_xasprintf("%s, -%c, --%s", names, a->short_name, a->long_name)
                          : ctr_xasprintf("%s, --%s", names, a->long_name);
            free(names);
            names = n;
        }
        if (o->arg) {
            char *n = ctr_xasprintf("%s %s", names, o->arg);
            free(names);
            names = n;
        }
        if (strlen(names) <= 22)
            fprintf(f, "  %-23s %s\n", names, o->help);
        else
            fprintf(f, "  %s  %s\n", names, o->help);
        free(names);
    }
}

void cli_print_usage(const struct cli_ctx *ctx, const struct cli_option *opts, FILE *f)
{
    fprintf(f, "%s", ctx->usage ? ctx->usage : "");
    cli_print_options(opts, f);
}

int cli_parse_format(const char *s, enum cli_format *out, ctr_error_t *err)
{
    if (strcmp(s, "table") == 0)
        *out = CLI_FORMAT_TABLE;
    else if (strcmp(s, "json") == 0)
        *out = CLI_FORMAT_JSON;
    else
        return ctr_fail(err, 0, "invalid value `%s` for `--format`: use `json` or `table`", s);
    return 0;
}

const char *cli_json_str(json_t *o, const char *key)
{
    json_t *v = json_is_object(o) ? json_object_get(o, key) : NULL;
    return json_is_string(v) ? json_string_value(v) : NULL;
}

int64_t cli_json_int(json_t *o, const char *key)
{
    json_t *v = json_is_object(o) ? json_object_get(o, key) : NULL;
    if (json_is_integer(v))
        return (int64_t)json_integer_value(v);
    if (json_is_real(v))
        return (int64_t)json_real_value(v);
    return 0;
}

bool cli_json_bool(json_t *o, const char *key)
{
    json_t *v = json_is_object(o) ? json_object_get(o, key) : NULL;
    return json_is_true(v);
}

void cli_json_set_text(json_t *obj, const char *key, const char *value)
{
    cleanup_free char *k = ctr_utf8_fix(key);
    json_object_set_new(obj, k, ctr_json_str(value));
}

json_t *cli_json_strv(char *const *v)
{
    json_t *a = json_array();
    for (; v && *v; v++)
        json_array_append_new(a, ctr_json_str(*v));
    return a;
}
