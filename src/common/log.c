#include "common.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static enum ctr_log_level log_level = CTR_LOG_WARN;
static int log_fd = 2;
static bool log_json;
static const char *log_prog = "container";

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void ctr_log_set_level(enum ctr_log_level level)
{
    log_level = level;
}

enum ctr_log_level ctr_log_get_level(void)
{
    return log_level;
}

void ctr_log_set_sink(int fd, bool json)
{
    log_fd = fd;
    log_json = json;
}

void ctr_log_set_prog(const char *prog)
{
    log_prog = prog;
}

static void json_escape(FILE *f, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
}

void ctr_log_write(enum ctr_log_level level, const char *file, const char *func, int line,
                   const char *fmt, ...)
{
    char *msg = NULL, *out = NULL;
    size_t out_len = 0;
    va_list ap;
    FILE *f;
    struct timespec ts;

    if (level > log_level)
        return;
    va_start(ap, fmt);
    if (vasprintf(&msg, fmt, ap) < 0) {
        va_end(ap);
        return;
    }
    va_end(ap);
    clock_gettime(CLOCK_REALTIME, &ts);
    f = open_memstream(&out, &out_len);
    if (f == NULL) {
        free(msg);
        return;
    }
    if (log_json) {
        fprintf(f, "{\"time\":%lld.%09ld,\"level\":\"%s\",\"prog\":\"%s\",\"msg\":\"",
                (long long)ts.tv_sec, ts.tv_nsec, level_names[level], log_prog);
        json_escape(f, msg);
        fprintf(f, "\"}\n");
    } else if (log_level >= CTR_LOG_DEBUG) {
        fprintf(f, "%s[%d] %s %s:%s:%d: %s\n", log_prog, (int)getpid(), level_names[level], file,
                func, line, msg);
    } else {
        fprintf(f, "%s: %s: %s\n", log_prog, level_names[level], msg);
    }
    fclose(f);
    ctr_write_all(log_fd, out, out_len);
    free(out);
    free(msg);
}
