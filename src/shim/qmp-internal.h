/* QMP, QEMU's JSON control protocol, over a socket whose other end QEMU got as
 * `-chardev socket,fd=N -mon chardev=…,mode=control`. The edge where QMP's JSON is
 * parsed: callers get typed values. Two uses: a blocking client for a template VM's
 * commands (vmm-qemu-snapshot.c) and a non-blocking reader of a container VM's events
 * (vmm-qemu.c). Only the QEMU backend includes this. */
#ifndef CTR_SHIM_QMP_INTERNAL_H
#define CTR_SHIM_QMP_INTERNAL_H

#include "common/common.h"

/* ---- blocking client ---- */

struct qmp_client {
    int fd;            /* ours, not owned */
    uint64_t deadline; /* ctr_now_ns() by which every answer must have come */
    size_t len;
    char buf[65536]; /* a message (one line) longer than this is an error */
};

/* Run one command and wait for its answer, skipping the greeting and events. arg_name:
 * NULL, or the one string argument the command takes (arg_value). send_fd: passed along
 * over SCM_RIGHTS when >= 0 (`getfd`). An `error` answer fails with its `desc`. */
int qmp_command(struct qmp_client *q, const char *cmd, const char *arg_name, const char *arg_value,
                int send_fd, ctr_error_t *err);
/* `query-migrate`: *status ("active", "completed", "failed", ...; "" when absent) and
 * *error_desc (NULL when absent), both malloc'd. */
int qmp_query_migrate(struct qmp_client *q, char **status, char **error_desc, ctr_error_t *err);

/* ---- non-blocking event reader ---- */

/* An event, valid during the callback. Fields of other events than the one named are
 * NULL/false. The answer to a command sent with qmp_reader_send comes the same way:
 * name NULL, reply_id the command's id and error its failure (NULL: it succeeded). */
struct qmp_event {
    const char *name;     /* "BLOCK_IO_ERROR", ...; NULL for an answer */
    const char *reply_id; /* an answer: the id its command was sent with */
    const char *error;    /* an answer: QEMU's `desc` of the error, NULL on success */
    /* BLOCK_IO_ERROR */
    const char *device;    /* the drive's id, may be NULL */
    const char *operation; /* "read", "write", may be NULL */
    const char *reason;    /* QEMU's strerror text, may be NULL */
    bool nospace;          /* the `nospace` member (sent only with a device's I/O status) */
};
typedef void (*qmp_event_fn)(void *arg, const struct qmp_event *ev);

struct qmp_reader {
    int fd; /* ours, owned, nonblocking; -1: none */
    char *buf;
    size_t len, cap;
};

/* One read of what the socket has: the greeting is answered with `qmp_capabilities`
 * (events flow after it), each complete event goes to fn, answers are skipped, and
 * lines past 64 KiB are cut (and then fail to parse: dropped). Returns 0 once the
 * socket is closed (QEMU is gone), 1 otherwise. */
int qmp_reader_read(struct qmp_reader *r, qmp_event_fn fn, void *arg);
/* Send a command without arguments (`stop`, `cont`) tagged with id; its answer comes
 * later through qmp_reader_read. Does not wait. */
int qmp_reader_send(struct qmp_reader *r, const char *cmd, const char *id, ctr_error_t *err);
/* Close the socket and free the buffer. */
void qmp_reader_release(struct qmp_reader *r);

#endif
