#include "common.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static enum ctr_log_level log_level = CTR_LOG_WARN;
static int log_fd = 2;
static bool log_json;
static const char *log_prog = "container";
/* size-based rotation of a file sink (ctr_log_set_rotate) */
static pthread_mutex_t rotate_lock = PTHREAD_MUTEX_INITIALIZER;
static char *rotate_path;
static uint64_t rotate_max, rotate_size;
static unsigned rotate_keep;

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

void ctr_log_set_rotate(const char *path, uint64_t max_bytes, unsigned keep)
{
    struct stat st;
    pthread_mutex_lock(&rotate_lock);
    free(rotate_path);
    rotate_path = path && max_bytes ? ctr_xstrdup(path) : NULL;
    rotate_max = max_bytes;
    rotate_keep = keep ? keep : 1;
    rotate_size = fstat(log_fd, &st) == 0 ? (uint64_t)st.st_size : 0;
    pthread_mutex_unlock(&rotate_lock);
}

/* Under rotate_lock. Failures keep the current file (logging must never stop). */
static void rotate(void)
{
    for (unsigned i = rotate_keep; i > 0; i--) {
        char *from = i == 1 ? ctr_xstrdup(rotate_path) : ctr_xasprintf("%s.%u", rotate_path, i - 1);
        char *to = ctr_xasprintf("%s.%u", rotate_path, i);
        (void)rename(from, to); /* a missing older one is fine */
        free(from);
        free(to);
    }
    int fd = open(rotate_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (fd < 0)
        return;
    if (fd != log_fd) {
        dup3(fd, log_fd, O_CLOEXEC); /* same number: whoever holds log_fd writes to the new file */
        close(fd);
    }
    rotate_size = 0;
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
    if (rotate_path) {
        pthread_mutex_lock(&rotate_lock);
        ctr_write_all(log_fd, out, out_len);
        rotate_size += out_len;
        if (rotate_path && rotate_size >= rotate_max)
            rotate();
        pthread_mutex_unlock(&rotate_lock);
    } else {
        ctr_write_all(log_fd, out, out_len);
    }
    free(out);
    free(msg);
}
