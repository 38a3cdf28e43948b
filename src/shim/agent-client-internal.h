/* Host side of the agent protocol: request/reply bookkeeping, stream
 * demultiplexing and process tracking. Every guest frame is hostile: a frame
 * that breaks the protocol (decoder error, reply to an unknown id, data on a
 * stream never opened or already closed, an event for an unknown process,
 * anything before the hello reply) fails the client, and the shim drops the VM.
 * No I/O happens here except agentc_flush(); the shim feeds bytes in. */
#ifndef CTR_SHIM_AGENT_CLIENT_INTERNAL_H
#define CTR_SHIM_AGENT_CLIENT_INTERNAL_H

#include "proto/agent-msg.h"

#define AGENTC_STDOUT 1
#define AGENTC_STDERR 2
/* Stop reading stdin sources while this much is queued for the guest. */
#define AGENTC_OUT_HIGH (1u << 20)

struct agentc;
struct agentc_proc;

struct agentc_proc_ops {
    void (*output)(struct agentc_proc *p, int which, const uint8_t *data, size_t len);
    void (*eof)(struct agentc_proc *p, int which);
    void (*exit)(struct agentc_proc *p, int status);
};

struct agentc_proc {
    struct agentc_proc *next;
    char *name;
    uint32_t stdin_stream, stdout_stream, stderr_stream; /* 0 = none */
    bool in_open, out_open, err_open;
    bool started; /* exec reply ok received */
    bool exited;
    int status;
    char *exit_error; /* archive workers: the exit event's error text */
    const struct agentc_proc_ops *ops;
    void *data;
};

typedef void (*agentc_reply_fn)(struct agentc *c, const struct agent_reply *rep, void *data);

struct agentc_pending {
    struct agentc_pending *next;
    uint64_t id;
    enum agent_op op;
    agentc_reply_fn fn;
    void *data;
    struct agentc_proc *proc; /* exec */
};

struct agentc {
    int fd;
    struct agent_decoder dec;
    uint64_t next_id;
    uint32_t next_stream;
    uint64_t hello_id;
    bool hello_done;
    char *agent_name; /* from the hello reply */
    struct agentc_pending *pending;
    struct agentc_proc *procs;
    uint8_t *out;
    size_t out_len, out_cap;
    bool failed;
};

void agentc_init(struct agentc *c, int fd);
void agentc_release(struct agentc *c);
/* Queue the hello (must be the first request). */
int agentc_hello(struct agentc *c, agentc_reply_fn fn, void *data, ctr_error_t *err);
/* Queue a request (not exec, see below); req->id is assigned here. */
int agentc_request(struct agentc *c, struct agent_request *req, agentc_reply_fn fn, void *data,
                   ctr_error_t *err);
/* Start a process: copies tmpl, allocates its streams (stdin only when want_stdin,
 * stderr only without a terminal), queues the exec. The reply reaches fn; on a
 * failed reply the process is already closed. */
struct agentc_proc *agentc_exec(struct agentc *c, const struct agent_exec *tmpl, const char *name,
                                bool want_stdin, const struct agentc_proc_ops *ops, void *proc_data,
                                agentc_reply_fn fn, void *data, ctr_error_t *err);
/* archive_get/archive_put: a worker process whose data stream is stdout (get) or
 * stdin (put); the reply (with the stat for get) reaches fn. */
/* get_flags of an archive_get: the whole root filesystem, the overlay's upper dir */
enum { AGENTC_GET_EXPORT = 1, AGENTC_GET_UPPER = 2 };
struct agentc_proc *agentc_archive(struct agentc *c, enum agent_op op, const char *path,
                                   unsigned get_flags, const char *name,
                                   const struct agentc_proc_ops *ops, void *proc_data,
                                   agentc_reply_fn fn, void *data, ctr_error_t *err);
struct agentc_proc *agentc_find_proc(struct agentc *c, const char *name);
/* Drop a process record (after its exit, or when nobody waits for it any more). */
void agentc_forget(struct agentc *c, struct agentc_proc *p);
int agentc_send_stdin(struct agentc *c, struct agentc_proc *p, const void *data, size_t len,
                      ctr_error_t *err);
int agentc_close_stdin(struct agentc *c, struct agentc_proc *p, ctr_error_t *err);
int agentc_signal(struct agentc *c, const char *process, int sig, ctr_error_t *err);
int agentc_resize(struct agentc *c, const char *process, uint16_t rows, uint16_t cols,
                  ctr_error_t *err);
/* Feed bytes read from the agent channel; dispatches every complete frame.
 * Returns -1 (and fails the client for good) on any protocol violation. */
int agentc_feed(struct agentc *c, const uint8_t *buf, size_t len, ctr_error_t *err);
/* Write queued bytes without blocking; -1 on a write error. */
int agentc_flush(struct agentc *c, ctr_error_t *err);
static inline bool agentc_want_write(const struct agentc *c)
{
    return c->out_len > 0;
}

#endif
