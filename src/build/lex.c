/* Variable substitution in a Dockerfile's words, as BuildKit's shell/lex.go does it:
 * quotes, the escape character, $NAME, ${NAME}, ${NAME:-w} ${NAME-w} ${NAME:+w}
 * ${NAME+w} ${NAME:?w} ${NAME?w} with nested words, ${NAME#p} ${NAME##p} ${NAME%p}
 * ${NAME%%p} ${NAME/p/r} ${NAME//p/r} with shell patterns (docs/build.md). */
#include "build/build-internal.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct sbuf {
    char *s;
    size_t n, cap;
};

static void sb_putn(struct sbuf *b, const char *s, size_t n)
{
    if (b->n + n + 1 > b->cap) {
        b->cap = (b->n + n + 1) * 2;
        b->s = ctr_xrealloc(b->s, b->cap);
    }
    memcpy(b->s + b->n, s, n);
    b->n += n;
    b->s[b->n] = '\0';
}
static void sb_putc(struct sbuf *b, char c)
{
    sb_putn(b, &c, 1);
}
static void sb_puts(struct sbuf *b, const char *s)
{
    sb_putn(b, s, strlen(s));
}
static char *sb_take(struct sbuf *b)
{
    if (b->s == NULL)
        return ctr_xstrdup("");
    char *s = b->s;
    memset(b, 0, sizeof(*b));
    return s;
}

/* Words being collected: characters from variables split on blanks, quoted ones not. */
struct words {
    char **v;
    struct sbuf cur;
    bool in_word;
};
static void w_raw(struct words *w, const char *s, size_t n)
{
    sb_putn(&w->cur, s, n);
    w->in_word = true;
}
static void w_char(struct words *w, char c)
{
    if (df_isspace((unsigned char)c)) {
        if (w->in_word)
            df_strv_push(&w->v, NULL, sb_take(&w->cur));
        w->in_word = false;
        return;
    }
    w_raw(w, &c, 1);
}

struct lexer {
    const struct df_lex *lx;
    const char *s;
    size_t pos, n;
    bool raw_escapes; /* keep the escape character (the words of `#`, `%`, `/`) */
};

#define EOS (-1)
static int peek(struct lexer *l)
{
    return l->pos < l->n ? (unsigned char)l->s[l->pos] : EOS;
}
static int next(struct lexer *l)
{
    return l->pos < l->n ? (unsigned char)l->s[l->pos++] : EOS;
}

static const char *getenv_(struct lexer *l, const char *name, bool *found)
{
    size_t nl = strlen(name);
    const char *val = NULL;
    for (size_t i = 0; l->lx->vars && l->lx->vars[i]; i++)
        if (strncmp(l->lx->vars[i], name, nl) == 0 && l->lx->vars[i][nl] == '=')
            val = l->lx->vars[i] + nl + 1;
    *found = val != NULL;
    return val ? val : "";
}

static int process_stop_on(struct lexer *l, int stop, char **out, struct words *w,
                           ctr_error_t *err);

/* A word up to stop with the escape character kept or not. */
static int stop_on_raw(struct lexer *l, int stop, bool raw, char **out, ctr_error_t *err)
{
    bool saved = l->raw_escapes;
    l->raw_escapes = raw;
    int r = process_stop_on(l, stop, out, NULL, err);
    l->raw_escapes = saved;
    return r;
}

/* A shell pattern (`*` anything, `?` one character, `[...]`/`[!...]` a class, the escape
 * character or `\` quoting the next one) against all of s[0, n). */
static bool pmatch(const char *p, const char *s, size_t n, char esc)
{
    while (*p) {
        if (*p == '*') {
            p++;
            for (size_t k = 0; k <= n; k++)
                if (pmatch(p, s + k, n - k, esc))
                    return true;
            return false;
        }
        if (n == 0)
            return false;
        if (*p == '?') {
            p++;
        } else if (*p == '[' && strchr(p + 1, ']')) {
            const char *q = p + 1;
            bool neg = *q == '!' || *q == '^', hit = false;
            if (neg)
                q++;
            for (bool first = true; *q && (first || *q != ']'); first = false) {
                char lo = *q++, hi = lo;
                if (*q == '-' && q[1] && q[1] != ']')
                    hi = q[1], q += 2;
                hit |= *s >= lo && *s <= hi;
            }
            if (*q != ']')
                return false;
            if (hit == neg)
                return false;
            p = q + 1;
        } else {
            if ((*p == esc || *p == '\\') && p[1])
                p++;
            if (*p != *s)
                return false;
            p++;
        }
        s++, n--;
    }
    return n == 0;
}

/* ${v#p} ${v##p} ${v%p} ${v%%p}: v without the shortest (greedy: longest) prefix or
 * suffix matching p. */
static char *trim_match(const char *v, const char *p, bool suffix, bool greedy, char esc)
{
    size_t n = strlen(v);
    for (size_t i = 0; i <= n; i++) {
        size_t k = greedy ? n - i : i; /* length of the part tried */
        if (suffix ? pmatch(p, v + n - k, k, esc) : pmatch(p, v, k, esc))
            return suffix ? ctr_xstrndup(v, n - k) : ctr_xstrdup(v + k);
    }
    return ctr_xstrdup(v);
}

/* ${v/p/r}, ${v//p/r}: the leftmost (then longest) match of p replaced by r. */
static char *replace_match(const char *v, const char *p, const char *r, bool all, char esc)
{
    struct sbuf b = {0};
    size_t n = strlen(v), i = 0;
    bool done = false;
    while (i <= n) {
        size_t len = 0;
        bool hit = false;
        if (!done)
            for (size_t k = n - i + 1; k-- > 0;)
                if (pmatch(p, v + i, k, esc)) {
                    hit = true, len = k;
                    break;
                }
        if (hit) {
            sb_puts(&b, r);
            done = !all;
            if (len > 0) {
                i += len;
                continue;
            }
        }
        if (i < n)
            sb_putc(&b, v[i]);
        i++;
    }
    return sb_take(&b);
}

static char *process_name(struct lexer *l)
{
    struct sbuf b = {0};
    int c = peek(l);
    if (c != EOS && isdigit(c)) {
        while (peek(l) != EOS && isdigit(peek(l)))
            sb_putc(&b, (char)next(l));
        return sb_take(&b);
    }
    if (c != EOS && strchr("@*#?-$!0", c) && c) {
        sb_putc(&b, (char)next(l));
        return sb_take(&b);
    }
    while ((c = peek(l)) != EOS && (isalnum(c) || c == '_' || c >= 0x80))
        sb_putc(&b, (char)next(l));
    return sb_take(&b);
}

static int process_dollar(struct lexer *l, char **out, ctr_error_t *err)
{
    next(l); /* $ */
    bool found;
    if (peek(l) != '{') {
        cleanup_free char *name = process_name(l);
        if (*name == '\0') {
            *out = ctr_xstrdup("$");
            return 0;
        }
        const char *v = getenv_(l, name, &found);
        *out = !found && l->lx->skip_unset ? ctr_xasprintf("$%s", name) : ctr_xstrdup(v);
        return 0;
    }
    next(l); /* { */
    int c = peek(l);
    if (c == EOS)
        return ctr_fail_class(err, EINVAL, "syntax error: missing '}'");
    if (c == '{' || c == '}' || c == ':')
        return ctr_fail_class(err, EINVAL, "syntax error: bad substitution");
    cleanup_free char *name = process_name(l);
    c = next(l);
    if (c == EOS)
        return ctr_fail_class(err, EINVAL, "syntax error: missing '}'");
    const char *v = getenv_(l, name, &found);
    if (c == '}') {
        *out = !found && l->lx->skip_unset ? ctr_xasprintf("${%s}", name) : ctr_xstrdup(v);
        return 0;
    }
    if (c == '/') {
        bool all = peek(l) == '/';
        if (all)
            next(l);
        cleanup_free char *pat = NULL, *rep = NULL;
        if (stop_on_raw(l, '/', true, &pat, err) < 0) {
            if (peek(l) != EOS)
                return -1;
            ctr_error_free(err);
            return ctr_fail_class(err, EINVAL, "syntax error: missing '/' in ${}");
        }
        if (stop_on_raw(l, '}', true, &rep, err) < 0)
            return -1;
        if (!found && l->lx->skip_unset)
            *out = ctr_xasprintf("${%s/%s/%s}", name, pat, rep);
        else
            *out = replace_match(v, pat, rep, all, l->lx->escape);
        return 0;
    }
    bool colon = c == ':';
    int mod = colon ? next(l) : c;
    char chs[3] = {(char)c, colon && mod != EOS ? (char)mod : 0, 0};
    if (mod != '-' && mod != '+' && mod != '?' && mod != '#' && mod != '%')
        return ctr_fail_class(err, EINVAL, "unsupported modifier (%s) in substitution", chs);
    bool raw = mod == '#' || mod == '%';
    if (colon && raw)
        return ctr_fail_class(err, EINVAL, "unsupported modifier (%s) in substitution", chs);
    cleanup_free char *word = NULL;
    if (stop_on_raw(l, '}', raw, &word, err) < 0)
        return -1;
    if (!found && l->lx->skip_unset) {
        *out = ctr_xasprintf("${%s%s%s}", name, chs, word);
        return 0;
    }
    bool set = colon ? (found && *v) : found;
    switch (mod) {
    case '-':
        *out = ctr_xstrdup(set ? v : word);
        return 0;
    case '+':
        *out = ctr_xstrdup(set ? word : "");
        return 0;
    case '#':
    case '%': {
        bool greedy = word[0] == mod;
        *out = trim_match(v, word + greedy, mod == '%', greedy, l->lx->escape);
        return 0;
    }
    default:
        if (!set)
            return ctr_fail_class(err, EINVAL, "%s: %s", name,
                                  *word    ? word
                                  : !found ? "is not allowed to be unset"
                                           : "is not allowed to be empty");
        *out = ctr_xstrdup(v);
        return 0;
    }
}

static int process_single(struct lexer *l, char **out, ctr_error_t *err)
{
    struct sbuf b = {0};
    int c = next(l);
    if (l->lx->raw_quotes)
        sb_putc(&b, (char)c);
    for (;;) {
        c = next(l);
        if (c == EOS) {
            free(b.s);
            return ctr_fail_class(
                err, EINVAL, "unexpected end of statement while looking for matching single-quote");
        }
        if (c == '\'') {
            if (l->lx->raw_quotes)
                sb_putc(&b, (char)c);
            *out = sb_take(&b);
            return 0;
        }
        sb_putc(&b, (char)c);
    }
}

static int process_double(struct lexer *l, char **out, ctr_error_t *err)
{
    struct sbuf b = {0};
    int c = next(l);
    if (l->lx->raw_quotes)
        sb_putc(&b, (char)c);
    for (;;) {
        c = peek(l);
        if (c == EOS) {
            free(b.s);
            return ctr_fail_class(
                err, EINVAL, "unexpected end of statement while looking for matching double-quote");
        }
        if (c == '"') {
            next(l);
            if (l->lx->raw_quotes)
                sb_putc(&b, (char)c);
            *out = sb_take(&b);
            return 0;
        }
        if (c == '$') {
            char *v = NULL;
            if (process_dollar(l, &v, err) < 0) {
                free(b.s);
                return -1;
            }
            sb_puts(&b, v);
            free(v);
            continue;
        }
        c = next(l);
        if (c == l->lx->escape) {
            if (l->raw_escapes)
                sb_putc(&b, (char)c);
            int p = peek(l);
            if (p == EOS)
                continue;
            if (p == '"' || p == '$' || p == l->lx->escape)
                c = next(l);
        }
        sb_putc(&b, (char)c);
    }
}

static int process_stop_on(struct lexer *l, int stop, char **out, struct words *w, ctr_error_t *err)
{
    struct sbuf res = {0};
    for (;;) {
        int c = peek(l);
        if (c == EOS)
            break;
        if (stop != EOS && c == stop) {
            next(l);
            *out = sb_take(&res);
            return 0;
        }
        if (c == '\'' || c == '"' || c == '$') {
            char *tmp = NULL;
            int r = c == '\''  ? process_single(l, &tmp, err)
                    : c == '"' ? process_double(l, &tmp, err)
                               : process_dollar(l, &tmp, err);
            if (r < 0) {
                free(res.s);
                return -1;
            }
            sb_puts(&res, tmp);
            if (w && c == '$')
                for (const char *p = tmp; *p; p++)
                    w_char(w, *p);
            else if (w)
                w_raw(w, tmp, strlen(tmp));
            free(tmp);
            continue;
        }
        if (c == '<' && l->pos + 1 < l->n && l->s[l->pos + 1] == '<') {
            /* `<<` and the blanks after it stay together (a heredoc's `<< EOF`) */
            size_t st = l->pos;
            for (l->pos += 2; l->pos < l->n && df_isspace((unsigned char)l->s[l->pos]);)
                l->pos++;
            sb_putn(&res, l->s + st, l->pos - st);
            if (w)
                w_raw(w, l->s + st, l->pos - st);
            continue;
        }
        c = next(l);
        if (c == l->lx->escape) {
            if (l->raw_escapes) {
                sb_putc(&res, (char)c);
                if (w)
                    w_raw(w, &(char){(char)c}, 1);
            }
            c = next(l);
            if (c == EOS)
                break;
            if (w)
                w_raw(w, &(char){(char)c}, 1);
        } else if (w) {
            w_char(w, (char)c);
        }
        sb_putc(&res, (char)c);
    }
    if (stop != EOS) {
        free(res.s);
        return ctr_fail_class(
            err, EINVAL, stop == '}' ? "syntax error: missing '}'" : "unexpected end of statement");
    }
    *out = sb_take(&res);
    return 0;
}

char *df_lex_word(const struct df_lex *lx, const char *word, ctr_error_t *err)
{
    struct lexer l = {lx, word, 0, strlen(word)};
    char *out = NULL;
    if (process_stop_on(&l, EOS, &out, NULL, err) < 0)
        return NULL;
    return out;
}

char **df_lex_words(const struct df_lex *lx, const char *text, ctr_error_t *err)
{
    struct lexer l = {lx, text, 0, strlen(text)};
    struct words w = {.v = ctr_xcalloc(1, sizeof(char *))};
    cleanup_free char *out = NULL;
    if (process_stop_on(&l, EOS, &out, &w, err) < 0) {
        ctr_strv_free(w.v);
        free(w.cur.s);
        return NULL;
    }
    if (w.in_word)
        df_strv_push(&w.v, NULL, sb_take(&w.cur));
    free(w.cur.s);
    return w.v;
}

bool df_cmd_expands(const char *cmd)
{
    static const char *const ex[] = {"add",   "arg",        "copy", "env",    "expose",  "from",
                                     "label", "stopsignal", "user", "volume", "workdir", NULL};
    for (size_t i = 0; ex[i]; i++)
        if (strcmp(ex[i], cmd) == 0)
            return true;
    return false;
}
