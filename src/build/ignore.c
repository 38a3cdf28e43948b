/* `.dockerignore` as Docker's patternmatcher reads it (docs/build.md, ".dockerignore"):
 * `#` comments, blank lines, `!` exceptions; patterns cleaned like Go's filepath.Clean
 * with a leading `/` dropped; `*` and `?` stop at `/`, `**` spans directories, `[...]`
 * classes, `\` escapes. The last pattern matching a path or one of its parents wins. */
#include "build/build-internal.h"

#include <stdlib.h>
#include <string.h>

struct df_ignore_pat {
    char *pat;
    bool exclusion; /* a `!` pattern */
};

/* Go's path.Clean: no empty or `.` elements, `..` resolved lexically, no trailing `/`. */
char *df_clean_path(const char *p)
{
    size_t n = strlen(p);
    bool rooted = n > 0 && p[0] == '/';
    char *out = ctr_xmalloc(n + 2);
    size_t ol = 0, dotdot = 0; /* dotdot: where `..` can no longer backtrack */
    if (rooted)
        out[ol++] = '/', dotdot = 1;
    for (size_t r = 0; r < n;) {
        if (p[r] == '/') {
            r++;
        } else if (p[r] == '.' && (r + 1 == n || p[r + 1] == '/')) {
            r++;
        } else if (p[r] == '.' && p[r + 1] == '.' && (r + 2 == n || p[r + 2] == '/')) {
            r += 2;
            if (ol > dotdot) {
                while (ol > dotdot && out[ol - 1] != '/')
                    ol--;
                if (ol > dotdot)
                    ol--;
                else if (ol > 0 && out[ol - 1] == '/' && !rooted)
                    ol--;
            } else if (!rooted) {
                if (ol > 0)
                    out[ol++] = '/';
                out[ol++] = '.', out[ol++] = '.';
                dotdot = ol;
            }
        } else {
            if ((rooted && ol != 1) || (!rooted && ol != 0))
                out[ol++] = '/';
            for (; r < n && p[r] != '/'; r++)
                out[ol++] = p[r];
        }
    }
    if (ol == 0)
        out[ol++] = '.';
    out[ol] = '\0';
    return out;
}

void df_ignore_parse(const char *text, struct df_ignore *out)
{
    memset(out, 0, sizeof(*out));
    const char *p = text;
    if (strncmp(p, "\xef\xbb\xbf", 3) == 0)
        p += 3;
    while (*p) {
        size_t l = strcspn(p, "\n");
        cleanup_free char *line = ctr_xstrndup(p, l);
        p += l + (p[l] == '\n');
        if (line[0] == '#')
            continue;
        char *s = line, *e = line + strlen(line);
        while (df_isspace((unsigned char)*s))
            s++;
        while (e > s && df_isspace((unsigned char)e[-1]))
            *--e = '\0';
        if (*s == '\0')
            continue;
        bool ex = *s == '!';
        if (ex) {
            s++;
            while (df_isspace((unsigned char)*s))
                s++;
        }
        char *pat;
        if (*s) {
            pat = df_clean_path(s);
            if (pat[0] == '/' && pat[1]) {
                char *q = ctr_xstrdup(pat + 1);
                free(pat);
                pat = q;
            }
        } else {
            pat = ctr_xstrdup("");
        }
        out->pats = ctr_xrealloc(out->pats, (out->n + 1) * sizeof(*out->pats));
        out->pats[out->n++] = (struct df_ignore_pat){pat, ex};
    }
}

void df_ignore_release(struct df_ignore *ig)
{
    for (size_t i = 0; i < ig->n; i++)
        free(ig->pats[i].pat);
    free(ig->pats);
    memset(ig, 0, sizeof(*ig));
}

/* A `[...]` class at *pp against c; advances *pp past it. -1: not a class (literal). */
static int match_class(const char **pp, char c)
{
    const char *p = *pp + 1;
    bool neg = *p == '^';
    if (neg)
        p++;
    bool hit = false, first = true;
    for (; *p && (first || *p != ']'); first = false) {
        char lo = *p;
        if (lo == '\\' && p[1])
            lo = *++p;
        p++;
        char hi = lo;
        if (*p == '-' && p[1] && p[1] != ']') {
            p++;
            hi = *p;
            if (hi == '\\' && p[1])
                hi = *++p;
            p++;
        }
        if (c >= lo && c <= hi)
            hit = true;
    }
    if (*p != ']')
        return -1;
    *pp = p + 1;
    return hit != neg;
}

/* The whole of s against the whole of pattern p. */
bool df_glob(const char *p, const char *s)
{
    while (*p) {
        if (p[0] == '*' && p[1] == '*') {
            p += 2;
            if (*p == '/')
                p++;
            if (*p == '\0')
                return true; /* `**` at the end: anything */
            /* `(.*\/)?`: nothing, or anything up to and including a slash */
            if (df_glob(p, s))
                return true;
            for (const char *t = s; *t; t++)
                if (*t == '/' && df_glob(p, t + 1))
                    return true;
            return false;
        }
        if (*p == '*') {
            p++;
            for (const char *t = s;; t++) {
                if (df_glob(p, t))
                    return true;
                if (*t == '\0' || *t == '/')
                    return false;
            }
        }
        if (*s == '\0')
            return false;
        if (*p == '?') {
            if (*s == '/')
                return false;
        } else if (*p == '[') {
            const char *q = p;
            int r = match_class(&q, *s);
            if (r == 0)
                return false;
            if (r == 1) {
                p = q;
                s++;
                continue;
            }
            if (*s != '[')
                return false;
        } else if (*p == '\\' && p[1]) {
            p++;
            if (*p != *s)
                return false;
        } else if (*p != *s) {
            return false;
        }
        p++;
        s++;
    }
    return *s == '\0';
}

bool df_ignore_match(const struct df_ignore *ig, const char *path)
{
    cleanup_free char *file = df_clean_path(path);
    bool matched = false;
    for (size_t i = 0; i < ig->n; i++) {
        const struct df_ignore_pat *pt = &ig->pats[i];
        if (pt->exclusion != matched)
            continue; /* nothing to change */
        bool m = df_glob(pt->pat, file);
        /* or one of its parent directories */
        for (char *sl = strchr(file, '/'); !m && sl; sl = strchr(sl + 1, '/')) {
            *sl = '\0';
            m = df_glob(pt->pat, file);
            *sl = '/';
        }
        if (m)
            matched = !pt->exclusion;
    }
    return matched;
}

bool df_ignore_has_exceptions(const struct df_ignore *ig)
{
    for (size_t i = 0; i < ig->n; i++)
        if (ig->pats[i].exclusion)
            return true;
    return false;
}
