#include "common.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int ctr_fail(ctr_error_t *err, int errnum, const char *fmt, ...)
{
    va_list ap;
    char *base;
    struct ctr_error *e;

    if (err == NULL)
        return -1;
    va_start(ap, fmt);
    if (vasprintf(&base, fmt, ap) < 0)
        abort();
    va_end(ap);
    e = ctr_xcalloc(1, sizeof(*e));
    e->errnum = errnum;
    if (errnum) {
        e->msg = ctr_xasprintf("%s: %s", base, strerror(errnum));
        free(base);
    } else {
        e->msg = base;
    }
    if (*err)
        ctr_error_free(err);
    *err = e;
    return -1;
}

int ctr_fail_class(ctr_error_t *err, int errnum, const char *fmt, ...)
{
    va_list ap;
    char *msg;

    if (err == NULL)
        return -1;
    va_start(ap, fmt);
    if (vasprintf(&msg, fmt, ap) < 0)
        abort();
    va_end(ap);
    ctr_fail(err, 0, "%s", msg);
    (*err)->errnum = errnum;
    free(msg);
    return -1;
}

int ctr_error_wrap(ctr_error_t *err, const char *fmt, ...)
{
    va_list ap;
    char *ctx, *msg;

    if (err == NULL || *err == NULL)
        return -1;
    va_start(ap, fmt);
    if (vasprintf(&ctx, fmt, ap) < 0)
        abort();
    va_end(ap);
    msg = ctr_xasprintf("%s: %s", ctx, (*err)->msg);
    free(ctx);
    free((*err)->msg);
    (*err)->msg = msg;
    return -1;
}

void ctr_error_free(ctr_error_t *err)
{
    if (err == NULL || *err == NULL)
        return;
    free((*err)->msg);
    free(*err);
    *err = NULL;
}

char *ctr_error_take_msg(ctr_error_t *err)
{
    char *m;
    if (err == NULL || *err == NULL)
        return NULL;
    m = (*err)->msg;
    (*err)->msg = NULL;
    ctr_error_free(err);
    return m;
}

void ctr_error_print(const char *prog, ctr_error_t err)
{
    fprintf(stderr, "%s: %s\n", prog, err && err->msg ? err->msg : "unknown error");
}

void ctr_cleanup_error(ctr_error_t *e)
{
    ctr_error_free(e);
}
