/* The Dockerfile's lines: parser directives, comments, continuations, instruction
 * flags and heredocs, the way BuildKit's frontend/dockerfile/parser reads them
 * (docs/build.md). Each instruction's arguments are read by instr.c. */
#include "build/build-internal.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

static void instr_release(struct df_instr *in);

/* A physical line: [s, s+len) without its newline; raw_len includes it. */
struct scan {
    const char *p, *end;
    int line; /* lines read so far */
};

static bool next_line(struct scan *sc, const char **s, size_t *len, size_t *raw_len)
{
    if (sc->p >= sc->end)
        return false;
    const char *nl = memchr(sc->p, '\n', (size_t)(sc->end - sc->p));
    const char *stop = nl ? nl + 1 : sc->end;
    *s = sc->p;
    *raw_len = (size_t)(stop - sc->p);
    size_t l = *raw_len;
    while (l > 0 && ((*s)[l - 1] == '\n' || (*s)[l - 1] == '\r'))
        l--; /* Go's bytes.TrimRight(line, "\r\n") */
    *len = l;
    sc->p = stop;
    sc->line++;
    return true;
}

/* ---- parser directives: `# key=value` before anything else ---- */
struct directives {
    bool done, seen_escape, seen_syntax, seen_check;
    char escape;
    char *syntax, *check;
};

/* ^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$ */
static int directive(struct directives *d, const char *s, size_t len, ctr_error_t *err)
{
    if (d->done)
        return 0;
    size_t i = 0;
    if (len == 0 || s[0] != '#') {
        d->done = true;
        return 0;
    }
    for (i = 1; i < len && df_isspace((unsigned char)s[i]); i++)
        ;
    size_t k0 = i;
    if (i >= len || !isalpha((unsigned char)s[i])) {
        d->done = true;
        return 0;
    }
    while (i < len && isalnum((unsigned char)s[i]))
        i++;
    size_t k1 = i;
    while (i < len && df_isspace((unsigned char)s[i]))
        i++;
    if (i >= len || s[i] != '=') {
        d->done = true;
        return 0;
    }
    for (i++; i < len && df_isspace((unsigned char)s[i]); i++)
        ;
    size_t v1 = len;
    while (v1 > i && df_isspace((unsigned char)s[v1 - 1]))
        v1--;
    if (v1 <= i) {
        d->done = true;
        return 0;
    }
    cleanup_free char *key = ctr_xstrndup(s + k0, k1 - k0);
    for (char *c = key; *c; c++)
        *c = (char)tolower((unsigned char)*c);
    bool *seen;
    char **slot = NULL;
    if (strcmp(key, "escape") == 0)
        seen = &d->seen_escape;
    else if (strcmp(key, "syntax") == 0)
        seen = &d->seen_syntax, slot = &d->syntax;
    else if (strcmp(key, "check") == 0)
        seen = &d->seen_check, slot = &d->check;
    else {
        d->done = true; /* an unknown directive is a comment */
        return 0;
    }
    if (*seen)
        return ctr_fail_class(err, EINVAL, "only one %s parser directive can be used", key);
    *seen = true;
    cleanup_free char *val = ctr_xstrndup(s + i, v1 - i);
    if (slot == NULL) {
        if (strcmp(val, "`") != 0 && strcmp(val, "\\") != 0)
            return ctr_fail_class(err, EINVAL, "invalid escape token '%s' does not match ` or \\",
                                  val);
        d->escape = val[0];
        return 0;
    }
    *slot = ctr_steal_ptr(val);
    return 0;
}

static bool is_comment(const char *s, size_t len)
{
    size_t i = 0;
    while (i < len && df_isspace((unsigned char)s[i]))
        i++;
    return i < len && s[i] == '#';
}

static bool is_blank(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (!df_isspace((unsigned char)s[i]))
            return false;
    return true;
}

/* Strip the escape char (and blanks after it) at the end of a line: true when it was
 * there, i.e. the instruction continues on the next line. BuildKit's regular expression
 * `([^\\])\\[ \t]*$|^\\[ \t]*$` (for `\`). */
static bool trim_continuation(const char *s, size_t *len, char escape)
{
    size_t l = *len;
    while (l > 0 && (s[l - 1] == ' ' || s[l - 1] == '\t'))
        l--;
    /* ([^E])E[ \t]*$|^E[ \t]*$: an escaped escape char does not continue the line */
    if (l == 0 || s[l - 1] != escape || (l >= 2 && s[l - 2] == escape))
        return false;
    *len = l - 1;
    return true;
}

/* BuildKit's extractBuilderFlags: leading `--name[=value]` words (quotes removed) up to
 * the first word that is not a flag or a bare `--`. Returns where the rest starts. */
static const char *extract_flags(const char *line, char ***flags)
{
    size_t n = strlen(line), pos = 0;
    for (;;) {
        while (pos < n && df_isspace((unsigned char)line[pos]))
            pos++;
        if (pos >= n)
            return line + n;
        if (line[pos] != '-' || pos + 1 >= n || line[pos + 1] != '-')
            return line + pos;
        char *word = ctr_xmalloc(n - pos + 1);
        size_t wl = 0;
        bool blank_ok = false;
        char quote = 0;
        for (; pos < n; pos++) {
            char c = line[pos];
            if (quote) {
                if (c == quote) {
                    quote = 0;
                    continue;
                }
            } else {
                if (df_isspace((unsigned char)c))
                    break;
                if (c == '\'' || c == '"') {
                    quote = c;
                    blank_ok = true;
                    continue;
                }
            }
            if (c == '\\') {
                if (pos + 1 == n) {
                    quote = 0;
                    continue;
                }
                c = line[++pos];
            }
            word[wl++] = c;
        }
        word[wl] = '\0';
        if (strcmp(word, "--") == 0) {
            free(word);
            return line + pos;
        }
        if (blank_ok || wl > 0)
            df_strv_push(flags, NULL, word);
        else
            free(word);
    }
}

/* The words of a line for heredoc detection: split on unquoted blanks, quotes and
 * backslash escapes kept (BuildKit lexes the line with raw quotes and escapes), `<< EOF`
 * one word. */
static char **raw_words(const char *s)
{
    char **v = ctr_xcalloc(1, sizeof(char *));
    size_t n = strlen(s), i = 0;
    while (i < n) {
        while (i < n && df_isspace((unsigned char)s[i]))
            i++;
        if (i >= n)
            break;
        size_t st = i;
        char quote = 0;
        for (; i < n; i++) {
            char c = s[i];
            if (quote) {
                if (c == quote)
                    quote = 0;
                else if (c == '\\' && quote == '"' && i + 1 < n)
                    i++;
            } else if (df_isspace((unsigned char)c)) {
                break;
            } else if (c == '\'' || c == '"') {
                quote = c;
            } else if (c == '\\' && i + 1 < n) {
                i++;
            } else if (c == '<' && i + 1 < n && s[i + 1] == '<') {
                /* the lexer keeps `<<` and the blanks after it in one word */
                for (i += 2; i < n && df_isspace((unsigned char)s[i]);)
                    i++;
                i--;
            }
        }
        df_strv_push(&v, NULL, ctr_xstrndup(s + st, i - st));
    }
    return v;
}

/* `[0-9]*<<-?WORD`: a heredoc's name (quotes removed) and whether it expands. */
static bool heredoc_word(const char *w, struct df_heredoc *h)
{
    while (isdigit((unsigned char)*w))
        w++;
    if (strncmp(w, "<<", 2) != 0)
        return false;
    w += 2;
    bool chomp = *w == '-';
    if (chomp)
        w++;
    while (df_isspace((unsigned char)*w))
        w++;
    if (*w == '\0' || strchr(w, '<'))
        return false;
    size_t n = strlen(w);
    char *name = ctr_xmalloc(n + 1);
    size_t nl = 0;
    bool quoted = false;
    char quote = 0;
    for (size_t i = 0; i < n; i++) {
        char c = w[i];
        if (quote) {
            if (c == quote) {
                quote = 0;
                continue;
            }
            if (c == '\\' && quote == '"' && i + 1 < n && strchr("\"\\$", w[i + 1]))
                c = w[++i];
        } else if (c == '\'' || c == '"') {
            quote = c;
            quoted = true;
            continue;
        } else if (c == '\\' && i + 1 < n) {
            c = w[++i];
        } else if (df_isspace((unsigned char)c)) {
            free(name);
            return false;
        }
        name[nl++] = c;
    }
    name[nl] = '\0';
    if (nl == 0) {
        free(name);
        return false;
    }
    *h = (struct df_heredoc){.name = name, .expand = !quoted, .chomp = chomp};
    return true;
}

static void heredoc_chomp(char *s)
{
    char *w = s;
    bool bol = true;
    for (char *r = s; *r; r++) {
        if (bol && *r == '\t')
            continue;
        bol = *r == '\n';
        *w++ = *r;
    }
    *w = '\0';
}

static void instr_release(struct df_instr *in)
{
    free(in->cmd);
    free(in->trigger);
    free(in->original);
    ctr_strv_free(in->flags);
    ctr_strv_free(in->args);
    for (size_t i = 0; i < in->nheredocs; i++) {
        free(in->heredocs[i].name);
        free(in->heredocs[i].content);
    }
    free(in->heredocs);
    memset(in, 0, sizeof(*in));
}

void df_file_release(struct df_file *f)
{
    for (size_t i = 0; i < f->n; i++)
        instr_release(&f->instrs[i]);
    free(f->instrs);
    free(f->syntax);
    free(f->check);
    memset(f, 0, sizeof(*f));
}

/* Whether the instruction may carry heredocs: RUN, COPY, ADD (or an ONBUILD of one),
 * in shell form. */
static bool heredoc_capable(const struct df_instr *in)
{
    const char *c = in->cmd;
    bool json = in->json;
    if (strcmp(c, "onbuild") == 0 && in->trigger)
        c = in->trigger, json = in->trigger_json;
    return (strcmp(c, "run") == 0 || strcmp(c, "copy") == 0 || strcmp(c, "add") == 0) && !json;
}

/* One logical line -> an instruction (cmd, flags, args). */
static int new_instr(const char *line, char escape, struct df_instr *in, ctr_error_t *err)
{
    const char *s = line;
    while (df_isspace((unsigned char)*s))
        s++;
    size_t cl = 0;
    while (s[cl] && !df_isspace((unsigned char)s[cl]))
        cl++;
    in->cmd = ctr_xstrndup(s, cl);
    in->flags = ctr_xcalloc(1, sizeof(char *));
    in->args = ctr_xcalloc(1, sizeof(char *));
    in->original = ctr_xstrdup(line);
    cleanup_free char *cmd_as_written = ctr_xstrdup(in->cmd);
    for (char *c = in->cmd; *c; c++)
        *c = (char)tolower((unsigned char)*c);
    if (!df_known_cmd(in->cmd)) {
        /* BuildKit's parser ignores it; its instructions package then fails */
        free(in->cmd);
        in->cmd = ctr_steal_ptr(cmd_as_written);
        return 0;
    }
    const char *rest = extract_flags(s + cl, &in->flags);
    while (df_isspace((unsigned char)*rest))
        rest++;
    cleanup_free char *r = ctr_xstrdup(rest);
    size_t rl = strlen(r);
    while (rl > 0 && df_isspace((unsigned char)r[rl - 1]))
        r[--rl] = '\0';
    if (strcmp(in->cmd, "onbuild") == 0 && *r) {
        /* the trigger is read (and may fail) now; args hold it as written */
        struct df_instr sub = {0};
        int rc = new_instr(r, escape, &sub, err);
        in->trigger = ctr_steal_ptr(sub.cmd);
        in->trigger_json = sub.json;
        instr_release(&sub);
        if (rc < 0)
            return -1;
        df_strv_push(&in->args, &in->nargs, ctr_steal_ptr(r));
        return 0;
    }
    return df_args_for(in, r, escape, err);
}

static int fail_at(ctr_error_t *err, const char *name, int line, ctr_error_t *inner)
{
    cleanup_free char *m = ctr_error_take_msg(inner);
    ctr_error_free(inner);
    return ctr_fail_class(err, EINVAL, "%s:%d: %s", name, line, m);
}

static void push_instr(struct df_file *f, struct df_instr *in)
{
    f->instrs = ctr_xrealloc(f->instrs, (f->n + 1) * sizeof(*f->instrs));
    f->instrs[f->n++] = *in;
    memset(in, 0, sizeof(*in));
}

/* Read the heredoc bodies that follow an instruction's line. */
static int read_heredocs(struct scan *sc, struct df_instr *in, const char *name, int start,
                         ctr_error_t *err)
{
    char **words = raw_words(in->original);
    cleanup_strv char **w = words;
    for (size_t i = 0; w[i]; i++) {
        struct df_heredoc h;
        if (!heredoc_word(w[i], &h))
            continue;
        size_t cap = 64, cl = 0;
        char *content = ctr_xmalloc(cap);
        bool done = false;
        const char *s;
        size_t len, raw;
        while (next_line(sc, &s, &len, &raw)) {
            const char *t = s;
            size_t tl = len;
            if (h.chomp)
                while (tl > 0 && *t == '\t')
                    t++, tl--;
            if (tl == strlen(h.name) && memcmp(t, h.name, tl) == 0) {
                done = true;
                break;
            }
            if (cl + raw + 1 > cap) {
                cap = (cl + raw + 1) * 2;
                content = ctr_xrealloc(content, cap);
            }
            memcpy(content + cl, s, raw);
            cl += raw;
        }
        content[cl] = '\0';
        if (!done) {
            free(content);
            free(h.name);
            return ctr_fail_class(err, EINVAL, "%s:%d: unterminated heredoc", name, start);
        }
        if (h.chomp)
            heredoc_chomp(content);
        h.content = content;
        in->heredocs = ctr_xrealloc(in->heredocs, (in->nheredocs + 1) * sizeof(h));
        in->heredocs[in->nheredocs++] = h;
    }
    return 0;
}

int df_parse(const char *name, const char *text, size_t len, struct df_file *out, ctr_error_t *err)
{
    struct scan sc = {text, text + len, 0};
    struct directives d = {.escape = '\\'};
    cleanup_df_file struct df_file f = {0};
    const char *s;
    size_t l, raw;

    if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
        sc.p += 3; /* a byte-order mark */
    while (next_line(&sc, &s, &l, &raw)) {
        while (l > 0 && df_isspace((unsigned char)*s))
            s++, l--;
        ctr_error_t derr = NULL;
        if (directive(&d, s, l, &derr) < 0) {
            free(d.syntax), free(d.check);
            return fail_at(err, name, sc.line, &derr);
        }
        if (l > 0 && s[0] == '#')
            l = 0; /* a comment */
        int start = sc.line;
        bool more = trim_continuation(s, &l, d.escape);
        if (!more && l == 0)
            continue;
        size_t cap = l + 64, bl = l;
        cleanup_free char *buf = ctr_xmalloc(cap);
        memcpy(buf, s, l);
        while (more && next_line(&sc, &s, &l, &raw)) {
            if (is_comment(s, l))
                continue;
            if (is_blank(s, l))
                continue; /* BuildKit warns about empty continuation lines */
            more = trim_continuation(s, &l, d.escape);
            if (bl + l + 1 > cap) {
                cap = (bl + l + 1) * 2;
                buf = ctr_xrealloc(buf, cap);
            }
            memcpy(buf + bl, s, l);
            bl += l;
        }
        buf[bl] = '\0';
        d.done = true;
        struct df_instr in = {.line = start};
        ctr_error_t ierr = NULL;
        if (new_instr(buf, d.escape, &in, &ierr) < 0) {
            instr_release(&in);
            free(d.syntax), free(d.check);
            return fail_at(err, name, start, &ierr);
        }
        if (heredoc_capable(&in) && strstr(buf, "<<") &&
            read_heredocs(&sc, &in, name, start, err) < 0) {
            instr_release(&in);
            free(d.syntax), free(d.check);
            return -1;
        }
        in.end_line = sc.line;
        push_instr(&f, &in);
    }
    f.escape = d.escape;
    f.syntax = d.syntax;
    f.check = d.check;
    if (f.n == 0)
        return ctr_fail_class(err, EINVAL, "%s: file with no instructions", name);

    /* BuildKit's instructions package: each instruction's checks, then the stages */
    bool stage = false;
    for (size_t i = 0; i < f.n; i++) {
        ctr_error_t ierr = NULL;
        if (df_check_instr(&f.instrs[i], &ierr) < 0)
            return fail_at(err, name, f.instrs[i].line, &ierr);
        if (strcmp(f.instrs[i].cmd, "from") == 0)
            stage = true;
        else if (!stage && strcmp(f.instrs[i].cmd, "arg") != 0)
            return ctr_fail_class(err, EINVAL, "%s:%d: no build stage in current context", name,
                                  f.instrs[i].line);
    }
    if (!stage)
        return ctr_fail_class(err, EINVAL, "%s: dockerfile contains no stages to build", name);
    *out = f;
    memset(&f, 0, sizeof(f));
    return 0;
}
