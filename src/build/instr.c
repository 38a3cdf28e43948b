/* Each instruction's arguments and flags, as BuildKit reads them: the argument shapes of
 * its parser (line_parsers.go) and the checks of its instructions package (parse.go,
 * bflag.go), with their messages (docs/build.md). */
#include "build/build-internal.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const cmds[] = {"add",        "arg",     "cmd",     "copy",        "entrypoint",
                                   "env",        "expose",  "from",    "healthcheck", "label",
                                   "maintainer", "onbuild", "run",     "shell",       "stopsignal",
                                   "user",       "volume",  "workdir", NULL};

void df_strv_push(char ***v, size_t *n, char *owned)
{
    size_t len = ctr_strv_len(*v);
    *v = ctr_xrealloc(*v, (len + 2) * sizeof(char *));
    (*v)[len] = owned;
    (*v)[len + 1] = NULL;
    if (n)
        *n = len + 1;
}

bool df_known_cmd(const char *cmd)
{
    for (size_t i = 0; cmds[i]; i++)
        if (strcmp(cmds[i], cmd) == 0)
            return true;
    return false;
}

static void add_arg(struct df_instr *in, char *owned)
{
    df_strv_push(&in->args, &in->nargs, owned);
}

char **df_parse_words(const char *rest, char escape, size_t *count)
{
    char **v = ctr_xcalloc(1, sizeof(char *));
    size_t n = strlen(rest), pos = 0, cnt = 0;
    char *word = ctr_xmalloc(n + 1);
    size_t wl = 0;
    bool blank_ok = false, in_word = false;
    char quote = 0;
    for (pos = 0; pos <= n; pos++) {
        char c = pos < n ? rest[pos] : 0;
        if (!in_word) {
            if (pos == n)
                break;
            if (df_isspace((unsigned char)c))
                continue;
            in_word = true;
        }
        if (pos == n) {
            if (blank_ok || wl > 0)
                df_strv_push(&v, &cnt, ctr_xstrndup(word, wl));
            break;
        }
        if (!quote) {
            if (df_isspace((unsigned char)c)) {
                in_word = false;
                if (blank_ok || wl > 0)
                    df_strv_push(&v, &cnt, ctr_xstrndup(word, wl));
                wl = 0;
                blank_ok = false;
                continue;
            }
            if (c == '\'' || c == '"') {
                quote = c;
                blank_ok = true;
            } else if (c == escape) {
                if (pos + 1 == n)
                    continue; /* an escape at the end is dropped */
                word[wl++] = c;
                c = rest[++pos];
            }
            word[wl++] = c;
            continue;
        }
        if (c == quote)
            quote = 0;
        else if (c == escape && quote != '\'') {
            if (pos + 1 == n) {
                quote = 0;
                continue;
            }
            word[wl++] = c;
            c = rest[++pos];
        }
        word[wl++] = c;
    }
    free(word);
    if (count)
        *count = cnt;
    return v;
}

/* Split on runs of [\t\v\f\r ] (Go's reWhitespace) at most max parts (0: all). */
static void split_ws(struct df_instr *in, const char *s, size_t max)
{
    const char *p = s;
    while (*p) {
        size_t l = strcspn(p, " \t\v\f\r");
        if (max && in->nargs + 1 == max)
            l = strlen(p);
        add_arg(in, ctr_xstrndup(p, l));
        p += l;
        if (*p == '\0')
            break;
        p += strspn(p, " \t\v\f\r");
        if (*p == '\0')
            add_arg(in, ctr_xstrdup("")); /* Go's Split keeps a trailing empty part */
    }
}

#define ERR_NOT_STRINGS "when using JSON array syntax, arrays must be comprised of strings only"

/* 1: JSON array of strings (args set), 0: not JSON, -1: an array with a non-string. */
static int parse_json(struct df_instr *in, const char *rest, ctr_error_t *err)
{
    if (rest[0] != '[')
        return 0;
    json_error_t je;
    cleanup_json json_t *a = json_loads(rest, JSON_DECODE_ANY, &je);
    if (a == NULL || !json_is_array(a))
        return 0;
    size_t i;
    json_t *v;
    json_array_foreach(a, i, v) if (!json_is_string(v)) return ctr_fail_class(err, EINVAL,
                                                                              ERR_NOT_STRINGS);
    json_array_foreach(a, i, v) add_arg(in, ctr_xstrdup(json_string_value(v)));
    in->json = true;
    return 1;
}

/* CMD, ENTRYPOINT, RUN, SHELL: JSON, else the whole rest as one shell-form argument. */
static int maybe_json(struct df_instr *in, const char *rest, ctr_error_t *err)
{
    if (*rest == '\0')
        return 0;
    int r = parse_json(in, rest, err);
    if (r != 0)
        return r < 0 ? -1 : 0;
    add_arg(in, ctr_xstrdup(rest));
    return 0;
}

/* ADD, COPY, VOLUME: JSON, else white-space separated words. */
static int maybe_json_list(struct df_instr *in, const char *rest, ctr_error_t *err)
{
    int r = parse_json(in, rest, err);
    if (r != 0)
        return r < 0 ? -1 : 0;
    split_ws(in, rest, 0);
    return 0;
}

/* ENV, LABEL: `k=v k2="v 2"` or the legacy `k v with spaces`; args are k, v, k2, v2... */
static int name_val(struct df_instr *in, const char *rest, const char *key, char escape,
                    ctr_error_t *err)
{
    size_t n;
    cleanup_strv char **w = df_parse_words(rest, escape, &n);
    if (n == 0)
        return 0;
    if (strchr(w[0], '=') == NULL) {
        size_t l = strcspn(rest, " \t\v\f\r");
        const char *v = rest + l;
        if (*v == '\0')
            return ctr_fail_class(err, EINVAL, "%s must have two arguments", key);
        v += strspn(v, " \t\v\f\r");
        add_arg(in, ctr_xstrndup(rest, l));
        add_arg(in, ctr_xstrdup(v));
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        char *eq = strchr(w[i], '=');
        if (eq == NULL)
            return ctr_fail_class(err, EINVAL,
                                  "Syntax error - can't find = in \"%s\". Must be of the form: "
                                  "name=value",
                                  w[i]);
        add_arg(in, ctr_xstrndup(w[i], (size_t)(eq - w[i])));
        add_arg(in, ctr_xstrdup(eq + 1));
    }
    return 0;
}

int df_args_for(struct df_instr *in, const char *rest, char escape, ctr_error_t *err)
{
    const char *c = in->cmd;
    if (strcmp(c, "add") == 0 || strcmp(c, "copy") == 0 || strcmp(c, "volume") == 0)
        return maybe_json_list(in, rest, err);
    if (strcmp(c, "cmd") == 0 || strcmp(c, "entrypoint") == 0 || strcmp(c, "run") == 0 ||
        strcmp(c, "shell") == 0)
        return maybe_json(in, rest, err);
    if (strcmp(c, "env") == 0)
        return name_val(in, rest, "ENV", escape, err);
    if (strcmp(c, "label") == 0)
        return name_val(in, rest, "LABEL", escape, err);
    if (strcmp(c, "arg") == 0) {
        ctr_strv_free(in->args);
        in->args = df_parse_words(rest, escape, &in->nargs);
        return 0;
    }
    if (strcmp(c, "expose") == 0 || strcmp(c, "from") == 0) {
        if (*rest)
            split_ws(in, rest, 0);
        return 0;
    }
    if (strcmp(c, "healthcheck") == 0) {
        size_t sep = 0;
        while (rest[sep] && !df_isspace((unsigned char)rest[sep]))
            sep++;
        if (sep == 0)
            return 0;
        add_arg(in, ctr_xstrndup(rest, sep));
        const char *next = rest + sep;
        while (df_isspace((unsigned char)*next))
            next++;
        return maybe_json(in, next, err);
    }
    /* maintainer, stopsignal, user, workdir: the rest as one argument */
    if (*rest)
        add_arg(in, ctr_xstrdup(rest));
    return 0;
}

/* ---- the instructions package's checks ---- */
enum ftype { F_BOOL, F_STRING, F_STRINGS };
struct flagdef {
    const char *cmd, *name;
    enum ftype type;
};
static const struct flagdef flagdefs[] = {
    {"from", "platform", F_STRING},
    {"run", "mount", F_STRINGS},
    {"run", "network", F_STRING},
    {"run", "security", F_STRING},
    {"run", "device", F_STRINGS},
    {"add", "unpack", F_BOOL},
    {"copy", "from", F_STRING},
    {"copy", "chown", F_STRING},
    {"copy", "chmod", F_STRING},
    {"copy", "link", F_BOOL},
    {"copy", "parents", F_BOOL},
    {"copy", "exclude", F_STRINGS},
    {"add", "chown", F_STRING},
    {"add", "chmod", F_STRING},
    {"add", "link", F_BOOL},
    {"add", "keep-git-dir", F_BOOL},
    {"add", "checksum", F_STRING},
    {"add", "exclude", F_STRINGS},
    {"healthcheck", "interval", F_STRING},
    {"healthcheck", "timeout", F_STRING},
    {"healthcheck", "start-period", F_STRING},
    {"healthcheck", "start-interval", F_STRING},
    {"healthcheck", "retries", F_STRING},
};

/* Levenshtein distance (small strings). */
static size_t distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 64 || lb > 64)
        return 64;
    size_t row[65];
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j], best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            diag = up;
            row[j] = best;
        }
    }
    return row[lb];
}

/* BuildKit's suggest.Search: the option closest to val (distance under 3), or NULL.
 * Case-insensitive: the suggestion takes val's case when val is all lower or all upper
 * case, else lower case. Returns a static buffer. */
static const char *suggest(const char *val, const char *const *opts, size_t n, bool icase)
{
    static char out[64];
    char v[64];
    snprintf(v, sizeof(v), "%s", val);
    if (icase)
        for (char *c = v; *c; c++)
            *c = (char)tolower((unsigned char)*c);
    size_t best = 3;
    const char *match = NULL;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(v, opts[i]) == 0)
            return NULL;
        size_t d = distance(v, opts[i]);
        if (d < best)
            best = d, match = opts[i];
    }
    if (match == NULL)
        return NULL;
    snprintf(out, sizeof(out), "%s", match);
    bool has_lower = false, has_upper = false;
    for (const char *c = val; *c; c++)
        has_lower |= islower((unsigned char)*c), has_upper |= isupper((unsigned char)*c);
    if (icase && !has_lower)
        for (char *c = out; *c; c++)
            *c = (char)toupper((unsigned char)*c);
    return out;
}

/* BuildKit's BFlags.Parse for the flags of one instruction. */
static int check_flags(const struct df_instr *in, ctr_error_t *err)
{
    const char *used[32];
    size_t nused = 0;
    for (size_t i = 0; in->flags[i]; i++) {
        const char *a = in->flags[i];
        if (strcmp(a, "--") == 0)
            return 0;
        if (strncmp(a, "--", 2) != 0)
            return ctr_fail_class(err, EINVAL, "arg should start with -- : %s", a);
        const char *eq = strchr(a, '=');
        size_t fl = eq ? (size_t)(eq - a) : strlen(a); /* "--name" */
        const char *name = a + 2;
        size_t nl = fl - 2;
        const struct flagdef *fd = NULL;
        const char *opts[16];
        size_t nopts = 0;
        for (size_t k = 0; k < sizeof(flagdefs) / sizeof(*flagdefs); k++) {
            if (strcmp(flagdefs[k].cmd, in->cmd) != 0)
                continue;
            opts[nopts++] = flagdefs[k].name;
            if (strlen(flagdefs[k].name) == nl && strncmp(flagdefs[k].name, name, nl) == 0)
                fd = &flagdefs[k];
        }
        if (fd == NULL) {
            cleanup_free char *nm = ctr_xstrndup(name, nl);
            const char *s = suggest(nm, opts, nopts, false);
            return ctr_fail_class(err, EINVAL, "unknown flag: %.*s%s%s%s", (int)fl, a,
                                  s ? " (did you mean " : "", s ? s : "", s ? "?)" : "");
        }
        for (size_t k = 0; k < nused; k++)
            if (used[k] == fd->name && fd->type != F_STRINGS)
                return ctr_fail_class(err, EINVAL, "duplicate flag specified: %.*s", (int)fl, a);
        if (nused < sizeof(used) / sizeof(*used))
            used[nused++] = fd->name;
        if (fd->type == F_BOOL) {
            if (eq && eq[1] == '\0')
                return ctr_fail_class(err, EINVAL, "missing a value on flag: %.*s", (int)fl, a);
            if (eq && strcasecmp(eq + 1, "true") != 0 && strcasecmp(eq + 1, "false") != 0)
                return ctr_fail_class(err, EINVAL, "expecting boolean value for flag %.*s, not: %s",
                                      (int)fl, a, eq + 1);
        } else if (eq == NULL) {
            return ctr_fail_class(err, EINVAL, "missing a value on flag: %.*s", (int)fl, a);
        }
    }
    return 0;
}

/* A Go duration ("30s", "1m30s", "1.5h"), at least 1ms when given. */
static int check_duration(const struct df_instr *in, const char *flag, ctr_error_t *err)
{
    size_t fl = strlen(flag);
    for (size_t i = 0; in->flags[i]; i++) {
        const char *a = in->flags[i] + 2;
        if (strncmp(a, flag, fl) != 0 || a[fl] != '=')
            continue;
        const char *v = a + fl + 1, *p = v;
        double total = 0;
        if (*p == '\0')
            continue;
        while (*p) {
            char *end;
            double x = strtod(p, &end);
            if (end == p || *p == '-' || *p == '+')
                return ctr_fail_class(err, EINVAL, "time: invalid duration \"%s\"", v);
            p = end;
            static const struct {
                const char *u;
                double s;
            } units[] = {{"ns", 1e-9}, {"us", 1e-6}, {"\xc2\xb5s", 1e-6}, {"ms", 1e-3},
                         {"s", 1},     {"m", 60},    {"h", 3600}};
            size_t k, best = 0, bl = 0;
            for (k = 0; k < sizeof(units) / sizeof(*units); k++) {
                size_t ul = strlen(units[k].u);
                if (strncmp(p, units[k].u, ul) == 0 && ul > bl)
                    best = k, bl = ul;
            }
            if (bl == 0)
                return ctr_fail_class(err, EINVAL,
                                      *p ? "time: unknown unit \"%.1s\" in duration \"%s\""
                                         : "time: missing unit in duration \"%s\"",
                                      *p ? p : v, v);
            total += x * units[best].s;
            p += bl;
        }
        if (total > 0 && total < 1e-3) /* 0: the default */
            return ctr_fail_class(err, EINVAL, "Interval \"%s\" cannot be less than 1ms", flag);
    }
    return 0;
}

static int check_healthcheck(const struct df_instr *in, ctr_error_t *err)
{
    if (in->nargs == 0)
        return ctr_fail_class(err, EINVAL, "HEALTHCHECK requires at least one argument");
    cleanup_free char *typ = ctr_xstrdup(in->args[0]);
    for (char *c = typ; *c; c++)
        *c = (char)toupper((unsigned char)*c);
    if (strcmp(typ, "NONE") == 0) {
        if (in->nargs != 1)
            return ctr_fail_class(err, EINVAL, "HEALTHCHECK NONE takes no arguments");
        return 0; /* BuildKit reads no flag here */
    }
    if (check_flags(in, err) < 0)
        return -1;
    if (strcmp(typ, "CMD") != 0)
        return ctr_fail_class(err, EINVAL, "Unknown type \"%s\" in HEALTHCHECK (try CMD)", typ);
    if (in->nargs < 2)
        return ctr_fail_class(err, EINVAL, "Missing command after HEALTHCHECK CMD");
    static const char *const durs[] = {"interval", "timeout", "start-period", "start-interval"};
    for (size_t i = 0; i < 4; i++)
        if (check_duration(in, durs[i], err) < 0)
            return -1;
    for (size_t i = 0; in->flags[i]; i++) {
        if (strncmp(in->flags[i], "--retries=", 10) != 0 || in->flags[i][10] == '\0')
            continue;
        const char *v = in->flags[i] + 10;
        char *end;
        errno = 0;
        long r = strtol(v, &end, 10);
        if (*end || errno || end == v || r < -2147483648L || r > 2147483647L)
            return ctr_fail_class(err, EINVAL, "strconv.ParseInt: parsing \"%s\": invalid syntax",
                                  v);
        if (r < 0)
            return ctr_fail_class(err, EINVAL, "--retries cannot be negative (%ld)", r);
    }
    return 0;
}

static bool is_heredoc_arg(const char *a)
{
    while (isdigit((unsigned char)*a))
        a++;
    return strncmp(a, "<<", 2) == 0 && a[2] && strchr(a + 2, '<') == NULL;
}

int df_check_instr(const struct df_instr *in, ctr_error_t *err)
{
    const char *c = in->cmd;
    size_t n = in->nargs;
    if (!df_known_cmd(c)) {
        const char *s = suggest(c, cmds, sizeof(cmds) / sizeof(*cmds) - 1, true);
        return ctr_fail_class(err, EINVAL, "unknown instruction: %s%s%s%s", c,
                              s ? " (did you mean " : "", s ? s : "", s ? "?)" : "");
    }
    if (strcmp(c, "env") == 0 || strcmp(c, "label") == 0) {
        const char *up = c[0] == 'e' ? "ENV" : "LABEL";
        if (check_flags(in, err) < 0)
            return -1;
        if (n == 0)
            return ctr_fail_class(err, EINVAL, "%s requires at least one argument", up);
        for (size_t i = 0; i < n; i += 2)
            if (in->args[i][0] == '\0')
                return ctr_fail_class(err, EINVAL, "%s names can not be blank", up);
        return 0;
    }
    if (strcmp(c, "maintainer") == 0 || strcmp(c, "workdir") == 0 || strcmp(c, "user") == 0 ||
        strcmp(c, "stopsignal") == 0) {
        if (n != 1) {
            cleanup_free char *up = ctr_xstrdup(c);
            for (char *p = up; *p; p++)
                *p = (char)toupper((unsigned char)*p);
            return ctr_fail_class(err, EINVAL, "%s requires exactly one argument", up);
        }
        return strcmp(c, "stopsignal") == 0 ? 0 : check_flags(in, err); /* as BuildKit */
    }
    if (strcmp(c, "add") == 0 || strcmp(c, "copy") == 0) {
        const char *up = c[0] == 'a' ? "ADD" : "COPY";
        if (n < 2)
            return ctr_fail_class(err, EINVAL,
                                  "%s requires at least two arguments, but only one was "
                                  "provided. Destination could not be determined",
                                  up);
        if (check_flags(in, err) < 0)
            return -1;
        if (is_heredoc_arg(in->args[n - 1]))
            return ctr_fail_class(err, EINVAL, "%s cannot accept a heredoc as a destination", up);
        return 0;
    }
    if (strcmp(c, "from") == 0) {
        if (n == 3 && strcasecmp(in->args[1], "as") == 0) {
            const char *s = in->args[2];
            bool ok = islower((unsigned char)tolower((unsigned char)s[0])) &&
                      isalpha((unsigned char)s[0]);
            for (const char *p = s + 1; ok && *p; p++)
                ok = isalnum((unsigned char)*p) || strchr("-_.", *p);
            if (!ok)
                return ctr_fail_class(err, EINVAL,
                                      "invalid name for build stage: \"%s\", name can't start "
                                      "with a number or contain symbols",
                                      s);
        } else if (n != 1) {
            return ctr_fail_class(err, EINVAL, "FROM requires either one or three arguments");
        }
        return check_flags(in, err);
    }
    if (strcmp(c, "onbuild") == 0) {
        if (n == 0)
            return ctr_fail_class(err, EINVAL, "ONBUILD requires at least one argument");
        if (check_flags(in, err) < 0)
            return -1;
        cleanup_free char *t = ctr_xstrdup(in->trigger);
        for (char *p = t; *p; p++)
            *p = (char)toupper((unsigned char)*p);
        if (strcmp(t, "ONBUILD") == 0)
            return ctr_fail_class(err, EINVAL,
                                  "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
        if (strcmp(t, "MAINTAINER") == 0 || strcmp(t, "FROM") == 0)
            return ctr_fail_class(err, EINVAL, "%s isn't allowed as an ONBUILD trigger", t);
        return 0;
    }
    if (strcmp(c, "healthcheck") == 0)
        return check_healthcheck(in, err);
    if (strcmp(c, "expose") == 0 || strcmp(c, "volume") == 0 || strcmp(c, "arg") == 0) {
        const char *up = c[0] == 'e' ? "EXPOSE" : c[0] == 'v' ? "VOLUME" : "ARG";
        if (n == 0)
            return ctr_fail_class(err, EINVAL, "%s requires at least one argument", up);
        if (c[0] != 'a' && check_flags(in, err) < 0) /* BuildKit reads no flag of ARG */
            return -1;
        for (size_t i = 0; i < n; i++) {
            const char *a = in->args[i];
            if (c[0] == 'v' && a[strspn(a, " \t\n\v\f\r")] == '\0')
                return ctr_fail_class(err, EINVAL, "VOLUME specified can not be an empty string");
            if (c[0] == 'a' && a[0] == '=')
                return ctr_fail_class(err, EINVAL, "ARG names can not be blank");
        }
        return 0;
    }
    if (check_flags(in, err) < 0)
        return -1;
    if (strcmp(c, "shell") == 0) {
        if (n == 0)
            return ctr_fail_class(err, EINVAL, "SHELL requires at least one argument");
        if (!in->json)
            return ctr_fail_class(err, EINVAL, "SHELL requires the arguments to be in JSON form");
    }
    return 0;
}
