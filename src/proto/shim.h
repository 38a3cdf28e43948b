/* The shim control protocol: how other processes (the CLI's low-level commands,
 * the daemon) talk to a running container-runtime through <bundle>/shim.sock.
 * Specification: docs/runtime.md ("Control socket").
 *
 * The socket carries agent frames (proto/agent.h: 12-byte header + payload).
 * Control frames (stream 0) carry one JSON object each; data frames carry
 * stdio on fixed streams: SHIMP_STREAM_STDIN (client -> shim), SHIMP_STREAM_STDOUT
 * and SHIMP_STREAM_STDERR (shim -> client); an EOF frame closes one.
 *
 *   client -> shim, first frame: a request
 *     {"op":"exec","process":{args,env,cwd,user,terminal,rows,cols},"stdin":bool}
 *     {"op":"attach","stdin":bool}   {"op":"kill","signal":N}
 *     {"op":"stop","timeout":SECONDS}
 *     {"op":"pause"}  {"op":"resume"}   stop / continue the VM's vCPUs; the reply comes
 *       once they are stopped (running again)
 *   client -> shim, later (exec/attach sessions): {"op":"resize","rows":R,"cols":C},
 *     {"op":"signal","signal":N}, stdin data, stdin EOF
 *   shim -> client: one reply {"ok":true} | {"ok":false,"error":"...","code":N};
 *     then (exec/attach) output data, output EOFs, and {"event":"exit","status":N}.
 *   files in and out (docs/runtime.md, "Files"):
 *     {"op":"archive_stat","path":P} -> {"ok":true,"stat":{...}} | {"ok":false,...,"errno":E}
 *     {"op":"archive_get","path":P,"export":bool} -> reply (+stat), the tar on stream 2,
 *       EOF, {"event":"exit","status":N[,"error":"..."]}
 *   {"op":"top","ps_args":S} -> {"ok":true,"output":"ps-like table"} (the guest lists the
 *     container's processes; errno EINVAL: ps_args it does not know)
 *   a network joined or left while running (docs/network.md, "Live connect"):
 *     {"op":"net","net":{...agent `net` body}} -> the agent's answer as the reply
 *     {"op":"archive_put","path":P} -> reply; the client sends the tar on stream 1 + EOF;
 *       exit event as for get. */
#ifndef CTR_PROTO_SHIM_H
#define CTR_PROTO_SHIM_H

#include "proto/agent-msg.h"

#define SHIMP_SOCKET_NAME "shim.sock"
#define SHIMP_STREAM_STDIN 1u
#define SHIMP_STREAM_STDOUT 2u
#define SHIMP_STREAM_STDERR 3u

enum shimp_op {
    SHIMP_OP_EXEC = 1,
    SHIMP_OP_ATTACH,
    SHIMP_OP_KILL,
    SHIMP_OP_STOP,
    SHIMP_OP_RESIZE,
    SHIMP_OP_SIGNAL,
    SHIMP_OP_ARCHIVE_STAT,
    SHIMP_OP_ARCHIVE_GET,
    SHIMP_OP_ARCHIVE_PUT,
    SHIMP_OP_PAUSE,
    SHIMP_OP_RESUME,
    SHIMP_OP_TOP,
    SHIMP_OP_NET,
};

struct shimp_request {
    enum shimp_op op;
    struct agent_exec exec; /* exec: args, env, cwd, user, terminal, rows, cols */
    bool stdin_open;        /* exec, attach: the client sends stdin */
    int signal;             /* kill, signal */
    unsigned timeout_s;     /* stop */
    uint16_t rows, cols;    /* resize */
    char *path;             /* archive_*: absolute path in the container */
    bool export_all;        /* archive_get: the whole root filesystem */
    bool upper;             /* archive_get: the overlay's upper directory (commit, diff) */
    char *ps_args;          /* top */
    struct agent_net net;   /* net */
};

enum shimp_msg_kind { SHIMP_MSG_REPLY = 1, SHIMP_MSG_EXIT };

struct shimp_msg {
    enum shimp_msg_kind kind;
    bool ok;
    char *error;                  /* reply, !ok */
    int code;                     /* reply, !ok: suggested exit code */
    int status;                   /* exit */
    int errnum;                   /* reply, !ok, optional: errno class (archive ops) */
    struct agent_path_stat *stat; /* reply, archive_stat/archive_get */
    char *exit_error;             /* exit, optional: why an archive transfer failed */
    char *output;                 /* reply, top */
};

char *shimp_request_encode(const struct shimp_request *req, size_t *len);
int shimp_request_decode(const char *json, size_t len, struct shimp_request *out, ctr_error_t *err);
void shimp_request_release(struct shimp_request *req);

char *shimp_msg_encode(const struct shimp_msg *msg, size_t *len);
int shimp_msg_decode(const char *json, size_t len, struct shimp_msg *out, ctr_error_t *err);
void shimp_msg_release(struct shimp_msg *msg);

#endif
