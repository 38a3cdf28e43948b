/* Variable substitution in a Dockerfile's words, as BuildKit's shell/lex.go does it:
 * quotes, the escape character, $NAME, ${NAME}, ${NAME:-w} ${NAME-w} ${NAME:+w}
 * ${NAME+w} ${NAME:?w} ${NAME?w} with nested words (docs/build.md). */
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
    bool colon = c == ':';
    int mod = colon ? next(l) : c;
    if (mod != '-' && mod != '+' && mod != '?')
        return ctr_fail_class(err, EINVAL, "unsupported modifier (%c) in substitution",
                              mod == EOS ? '}' : mod);
    cleanup_free char *word = NULL;
    if (process_stop_on(l, '}', &word, NULL, err) < 0)
        return -1;
    bool set = colon ? (found && *v) : found;
    switch (mod) {
    case '-':
        *out = ctr_xstrdup(set ? v : word);
        return 0;
    case '+':
        *out = ctr_xstrdup(set ? word : (colon ? v : ""));
        return 0;
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
