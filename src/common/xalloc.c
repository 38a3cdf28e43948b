#include "common.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void __attribute__((noreturn)) oom(void)
{
    static const char msg[] = "out of memory\n";
    if (write(2, msg, sizeof(msg) - 1) < 0) {
    }
    abort();
}

void *ctr_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (p == NULL)
        oom();
    return p;
}

void *ctr_xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (p == NULL)
        oom();
    return p;
}

void *ctr_xrealloc(void *p, size_t n)
{
    p = realloc(p, n ? n : 1);
    if (p == NULL)
        oom();
    return p;
}

char *ctr_xstrdup(const char *s)
{
    char *p;
    if (s == NULL)
        return NULL;
    p = strdup(s);
    if (p == NULL)
        oom();
    return p;
}

char *ctr_xstrndup(const char *s, size_t n)
{
    char *p = strndup(s, n);
    if (p == NULL)
        oom();
    return p;
}

char *ctr_xasprintf(const char *fmt, ...)
{
    va_list ap;
    char *p;
    va_start(ap, fmt);
    if (vasprintf(&p, fmt, ap) < 0)
        oom();
    va_end(ap);
    return p;
}

void ctr_cleanup_freep(void *p)
{
    void **pp = p;
    free(*pp);
    *pp = NULL;
}

void ctr_cleanup_closep(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

void ctr_cleanup_fclosep(FILE **f)
{
    if (*f)
        fclose(*f);
    *f = NULL;
}

size_t ctr_strv_len(char *const *v)
{
    size_t n = 0;
    while (v && v[n])
        n++;
    return n;
}

void ctr_strv_free(char **v)
{
    for (size_t i = 0; v && v[i]; i++)
        free(v[i]);
    free(v);
}

void ctr_cleanup_strv(char ***v)
{
    ctr_strv_free(*v);
    *v = NULL;
}

char **ctr_strv_dup(char *const *v)
{
    size_t n = ctr_strv_len(v);
    char **r = ctr_xcalloc(n + 1, sizeof(char *));
    for (size_t i = 0; i < n; i++)
        r[i] = ctr_xstrdup(v[i]);
    return r;
}

void ctr_strv_append(char ***v, const char *s)
{
    size_t n = ctr_strv_len(*v);
    *v = ctr_xrealloc(*v, (n + 2) * sizeof(char *));
    (*v)[n] = ctr_xstrdup(s);
    (*v)[n + 1] = NULL;
}
