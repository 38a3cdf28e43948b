/* Shared helpers: errors, cleanup attributes, allocation, logging, files.
 * Every symbol here carries the `ctr_` prefix. */
#ifndef CTR_COMMON_H
#define CTR_COMMON_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

/* ---- errors (crun style): a failing function returns <0 or NULL and fills *err ---- */
struct ctr_error {
    int errnum; /* errno value, 0 when not a system error */
    char *msg;  /* full message, context prepended on the way up */
};
typedef struct ctr_error *ctr_error_t;

/* Set *err (which must be NULL) and return -1. errnum may be 0. */
int ctr_fail(ctr_error_t *err, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Like ctr_fail, but the message already says what went wrong: errnum only classifies
 * the error (ENOENT, EBUSY...) and no strerror text is appended. */
int ctr_fail_class(ctr_error_t *err, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Prepend "context: " to an existing error and return -1. */
int ctr_error_wrap(ctr_error_t *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void ctr_error_free(ctr_error_t *err);
/* Print "prog: message" to stderr (only main() calls this). */
void ctr_error_print(const char *prog, ctr_error_t err);
/* Steal the message of an error (caller frees), clearing it. */
char *ctr_error_take_msg(ctr_error_t *err);

/* ---- allocation: aborts on OOM ---- */
void *ctr_xmalloc(size_t n);
void *ctr_xcalloc(size_t n, size_t size);
void *ctr_xrealloc(void *p, size_t n);
char *ctr_xstrdup(const char *s);
char *ctr_xstrndup(const char *s, size_t n);
char *ctr_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- signals ---- */
/* "TERM", "SIGTERM", "sigterm", "9", "RTMIN+3" -> the signal number; -1 when unknown
 * (no message: the CLI and the daemon word their own). */
int ctr_signal_parse(const char *s, int *sig);

/* ---- detach keys (src/common/keys.c) ----
 * docker's syntax: "ctrl-p,ctrl-q", "a,ctrl-x" -> the bytes (out may be NULL) and their
 * count; -1 when a key is not one (no message: each caller words its own). */
#define CTR_DETACH_KEYS_MAX 16
#define CTR_DETACH_KEYS_DEFAULT "ctrl-p,ctrl-q"
int ctr_detach_keys_parse(const char *s, uint8_t *out, size_t *n);

/* ---- cleanup attributes (crun's cleanup_free) ----
 * A local marked with one is released when it goes out of scope, so a function
 * returns early instead of jumping to a chain of release labels:
 *     cleanup_free char *path = ctr_xasprintf(...);
 *     cleanup_json json_t *body = json_object();
 *     cleanup_oci_document struct oci_document doc = {0};   (oci/oci.h)
 * CTR_CLEANUP(fn) makes one for an owned type: fn gets a pointer to the local (for a
 * struct local, its T_release(T *) fits as is). Declare each next to the type's _free
 * or _release; initialize the local before any return; hand a result out with
 * ctr_steal_ptr/ctr_steal_fd (or copy and zero a struct). */
#define CTR_CLEANUP(fn) __attribute__((cleanup(fn)))
struct json_t;
void ctr_cleanup_freep(void *p);
void ctr_cleanup_closep(int *fd);
void ctr_cleanup_fclosep(FILE **f);
void ctr_cleanup_error(ctr_error_t *e);
void ctr_cleanup_strv(char ***v);
void ctr_cleanup_json(struct json_t **j); /* json_decref, NULL allowed */
#define cleanup_free CTR_CLEANUP(ctr_cleanup_freep)
#define cleanup_close CTR_CLEANUP(ctr_cleanup_closep)
#define cleanup_fclose CTR_CLEANUP(ctr_cleanup_fclosep)
#define cleanup_error CTR_CLEANUP(ctr_cleanup_error)
#define cleanup_strv CTR_CLEANUP(ctr_cleanup_strv)
#define cleanup_json CTR_CLEANUP(ctr_cleanup_json)
/* Move ownership out of a cleanup local. */
#define ctr_steal_ptr(p)                                                                           \
    ({                                                                                             \
        __typeof__(p) _tmp = (p);                                                                  \
        (p) = NULL;                                                                                \
        _tmp;                                                                                      \
    })
#define ctr_steal_fd(fd)                                                                           \
    ({                                                                                             \
        int _tmp = (fd);                                                                           \
        (fd) = -1;                                                                                 \
        _tmp;                                                                                      \
    })

/* ---- string vectors (NULL terminated) ---- */
size_t ctr_strv_len(char *const *v);
void ctr_strv_free(char **v);
char **ctr_strv_dup(char *const *v);
/* Append s (copied) to *v, reallocating. */
void ctr_strv_append(char ***v, const char *s);

/* ---- logging ---- */
enum ctr_log_level { CTR_LOG_ERROR, CTR_LOG_WARN, CTR_LOG_INFO, CTR_LOG_DEBUG };
void ctr_log_set_level(enum ctr_log_level level);
enum ctr_log_level ctr_log_get_level(void);
/* Text from outside on its way into JSON (utf8.c): jansson refuses bytes that are not
 * UTF-8, so each such byte becomes U+FFFD, as Go's encoding/json does. */
bool ctr_utf8_valid(const char *s);
/* A copy of s with every invalid byte replaced by U+FFFD (caller frees). */
char *ctr_utf8_fix(const char *s);
/* A JSON string of s that never fails (invalid bytes as above); NULL gives JSON null. */
struct json_t *ctr_json_str(const char *s);

/* Send log lines to a file descriptor (default stderr); json=true writes JSON lines. */
void ctr_log_set_sink(int fd, bool json);
void ctr_log_set_prog(const char *prog);
/* Rotate the sink (a file at path, opened with O_APPEND) once it holds max_bytes: path
 * becomes path.1, path.1 path.2 ... up to path.keep (keep >= 1), and the sink's fd number
 * is reopened on a new path. max_bytes 0: never. */
void ctr_log_set_rotate(const char *path, uint64_t max_bytes, unsigned keep);
void ctr_log_write(enum ctr_log_level level, const char *file, const char *func, int line,
                   const char *fmt, ...) __attribute__((format(printf, 5, 6)));
#define log_error(...) ctr_log_write(CTR_LOG_ERROR, __FILE__, __func__, __LINE__, __VA_ARGS__)
#define log_warn(...) ctr_log_write(CTR_LOG_WARN, __FILE__, __func__, __LINE__, __VA_ARGS__)
#define log_info(...) ctr_log_write(CTR_LOG_INFO, __FILE__, __func__, __LINE__, __VA_ARGS__)
#define log_debug(...) ctr_log_write(CTR_LOG_DEBUG, __FILE__, __func__, __LINE__, __VA_ARGS__)

/* ---- files ---- */
/* Write data to path atomically: temp file in the same dir, fsync, rename, fsync dir. */
int ctr_write_file_atomic(const char *path, const void *data, size_t len, mode_t mode,
                          ctr_error_t *err);
/* Read a whole file (NUL-terminated); fails past max bytes. */
int ctr_read_file(const char *path, size_t max, char **out, size_t *out_len, ctr_error_t *err);
/* mkdir -p */
int ctr_mkdir_p(const char *path, mode_t mode, ctr_error_t *err);
/* rm -rf (does not follow symlinks) */
int ctr_rm_rf(const char *path, ctr_error_t *err);
/* Write/read all bytes, retrying on EINTR and short transfers. */
ssize_t ctr_write_all(int fd, const void *buf, size_t len);
ssize_t ctr_read_all(int fd, void *buf, size_t len);
/* Send all bytes to a socket without raising SIGPIPE (MSG_NOSIGNAL): a closed peer is
 * -1 (EPIPE), as is a send of 0 bytes. Retries EINTR and short sends. */
int ctr_send_all(int fd, const void *buf, size_t len);
/* True when the peer of a socket closed or reset it (checked without blocking); a
 * half-close (shutdown of its write side) is not a departure. */
bool ctr_fd_peer_gone(int fd);
/* Write all of buf, polling when fd is non-blocking (the caller may have made it so). */
int ctr_write_all_wait(int fd, const void *buf, size_t len);
/* Monotonic clock in nanoseconds. */
uint64_t ctr_now_ns(void);

#endif
