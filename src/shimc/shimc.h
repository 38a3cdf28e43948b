/* The client library of a shim's control socket <bundle>/shim.sock (protocol in
 * proto/shim.h, documented in docs/runtime.md, "Control socket"). The daemon and
 * `container-runtime`'s own client commands use it; it depends on proto and common
 * only. Where it starts a shim process (a detached start, a stopped container's
 * `cp`), it runs the `container-runtime` binary, never the supervisor in-process. */
#ifndef CTR_SHIMC_H
#define CTR_SHIMC_H

#include "common/common.h"
#include "proto/shim.h"

#include <pthread.h>
#include <sys/un.h>

/* ---- the socket: address, connect, deadlines (conn.c) ----
 * Every control exchange with a shim has a deadline (docs/runtime.md, "Deadlines"): the
 * connect, and the wait for the reply to a request (stop: its timeout on top). Streams
 * after the reply have none. */
#define SHIMC_CONTROL_TIMEOUT_MS 15000
/* The deadline in ms: CONTAINER_SHIM_TIMEOUT (seconds, 1-3600) or SHIMC_CONTROL_TIMEOUT_MS. */
int shimc_control_timeout_ms(void);
/* A sockaddr for <bundle>/shim.sock that fits sun_path whatever the bundle's length:
 * a long one goes through /proc/self/fd/N of an O_PATH fd of the bundle, returned in
 * *dirfd (else -1) for the caller to close once bound or connected. */
int shimc_sock_addr(const char *bundle, struct sockaddr_un *sa, int *dirfd, ctr_error_t *err);
/* Connect within the deadline (a hung shim's listen backlog fills up); the fd is blocking,
 * CLOEXEC, without timeouts. A shim that does not answer in time fails with errnum
 * ETIMEDOUT. */
int shimc_connect(const char *bundle, ctr_error_t *err);
/* Whether a live shim answers on the bundle's socket (a stale socket does not). */
bool shimc_answers(const char *bundle);
/* Wait until fd is readable or deadline_ns (CLOCK_MONOTONIC, 0: none) passes: 1 readable,
 * 0 deadline passed, -1 error (errno). */
int shimc_wait_readable(int fd, int64_t deadline_ns);
/* Whether bytes we sent on a shim connection are still unread by the shim. */
bool shimc_request_unread(int fd);
/* Fail with ETIMEDOUT: "the shim (pid N) of `BUNDLE` did not answer WHAT within S s (hung?)". */
int shimc_fail_no_answer(const char *bundle, const char *what, int ms, ctr_error_t *err);

/* ---- requests (conn.c) ---- */
/* Send one request frame; wlock (may be NULL) serializes the frames written to fd. */
int shimc_send(int fd, pthread_mutex_t *wlock, const struct shimp_request *req, ctr_error_t *err);
/* Stdin data of a session (len 0 is an empty data frame), and its end. */
int shimc_send_stdin(int fd, pthread_mutex_t *wlock, const void *data, size_t len);
int shimc_send_stdin_eof(int fd, pthread_mutex_t *wlock);
/* Connect and send one request: the session's fd (CLOEXEC), or -1. */
int shimc_request(const char *bundle, const struct shimp_request *req, ctr_error_t *err);
/* kill and stop: a shim that does not answer in time fails with errnum ETIMEDOUT and a
 * message naming it and its pid (the caller may then kill it: docs/daemon.md). */
int shimc_kill(const char *bundle, int sig, ctr_error_t *err);
int shimc_stop(const char *bundle, unsigned timeout_s, ctr_error_t *err);
/* Stop (pause) or continue (resume) the VM's vCPUs: the reply comes once they are
 * stopped (running again); either of an already paused (running) VM succeeds at once.
 * A stop or kill resumes a paused VM first. The deadline and ETIMEDOUT as kill's. */
int shimc_pause(const char *bundle, ctr_error_t *err);
int shimc_resume(const char *bundle, ctr_error_t *err);
/* The container's processes as the guest lists them (`ps`-like table, docs/runtime.md);
 * errnum EINVAL: ps_args the guest does not know, EBUSY: paused. */
int shimc_top(const char *bundle, const char *ps_args, char **out, ctr_error_t *err);
/* A network joined or left by the running guest (agent op `net`): the agent's answer. */
int shimc_net(const char *bundle, const struct agent_net *net, ctr_error_t *err);
/* state.json's text in *json_out, first marked stopped when its shim died without
 * writing the final state. */
int shimc_state(const char *bundle, char **json_out, ctr_error_t *err);
/* Remove the runtime's files (state.json, boot.log, shim.log, shim.sock); refuses a
 * running container unless force, which stops it first. */
int shimc_delete(const char *bundle, bool force, ctr_error_t *err);

/* ---- exec and attach sessions (session.c) ---- */
/* The relay of one exec or attach session between its shim connection and the caller.
 * Returns the process's exit status (the exit event), or -1 with *err saying why the
 * session ended without one; refused/timed_out tell the cases the caller reports. */
struct shimc_relay {
    int shim_fd;
    const char *bundle;     /* set: the reply must come within the deadline (named in errors) */
    pthread_mutex_t *wlock; /* serializes frames written to shim_fd (NULL: none) */
    int in_fd;              /* the session's stdin source (-1: none) */
    bool stdin_open;        /* in_fd's data goes to the process */
    /* in_fd is the caller's connection (a hijacked API client): read from the start
     * (also to notice it leaving); its half-close ends stdin, its hang-up the relay.
     * Else (a terminal, a pipe) it is read once the shim accepted; EOF ends stdin. */
    bool in_peer;
    /* signalfd (-1: none): signals forwarded to the process, SIGWINCH as a resize to
     * in_fd's terminal size */
    int sig_fd;
    /* Output of the process (which: 1 stdout, 2 stderr); <0 ends the relay. */
    int (*output)(void *ctx, int which, const uint8_t *data, size_t len);
    void *ctx;
    /* Docker's detach keys on in_fd's data (n_detach_keys 0: none): a prefix of them is
     * held back, the whole sequence ends the relay with `detached` (the process runs on),
     * anything else releases what was held. detach_idx: the part matched so far. */
    const uint8_t *detach_keys;
    size_t n_detach_keys, detach_idx;
    bool detached;
    /* in_fd's end does not close the process's stdin (Docker's attach without StdinOnce:
     * the next attach types on) */
    bool in_end_keeps_stdin;
    /* results */
    bool refused;   /* the shim refused the request (*err: its message) */
    int code;       /* refused: the exit code it suggests (0: none) */
    bool timed_out; /* no reply within the deadline (*err says so) */
};
/* The process's exit status; -2 when the caller detached (rl->detached), -1 on a failure. */
int shimc_relay_run(struct shimc_relay *rl, ctr_error_t *err);

/* `exec` and `attach` on the caller's own stdio (raw terminal with -t). */
struct shimc_exec_opts {
    char **args;
    char **env; /* extra NAME=VALUE over the container's env */
    const char *cwd;
    const char *user;
    bool interactive; /* -i: send our stdin */
    bool tty;         /* -t: a pty in the guest, ours in raw mode */
};
/* exec a process in a running container, relaying stdio; *exit_code gets its exit
 * code (or the failure's: 127 not found, 126 not executable, 125 runtime). */
int shimc_exec(const char *bundle, const struct shimc_exec_opts *o, int *exit_code,
               ctr_error_t *err);
/* attach to the main process until it exits; *exit_code gets its exit code. */
int shimc_attach(const char *bundle, bool interactive, int *exit_code, ctr_error_t *err);
/* Run a process in the container (no stdin) and collect its output. */
struct shimc_collect {
    char **args;
    char *user, *cwd;   /* NULL: the container's */
    size_t max;         /* bytes kept; the rest is dropped (truncated is set) */
    bool with_stderr;   /* stderr too, interleaved as it comes */
    int64_t timeout_ms; /* > 0: past it the process is SIGKILLed (timed_out) */
    /* results */
    char *out; /* NUL-terminated, caller frees */
    size_t len;
    bool truncated, timed_out;
    int status; /* exit status, -1 when none was seen */
};
/* Fails when the shim could not be reached or refused the exec (the error says why). */
int shimc_exec_collect_run(const char *bundle, struct shimc_collect *c, ctr_error_t *err);
/* The same for args' stdout, no deadline: at most max bytes in *out, *status. */
int shimc_exec_collect(const char *bundle, char **args, char **out, size_t max, int *status,
                       ctr_error_t *err);

/* ---- files in and out: `cp` and `export` (archive.c; docs/runtime.md, "Files") ----
 * Work on a running container through its shim, or, when the container is stopped,
 * boot it in maintenance mode (`container-runtime archive BUNDLE ...`: the VM gets
 * the container's disks and mounts, runs setup but no main process, does the op and
 * shuts down cleanly). Errors carry an errno class in err->errnum: ENOENT (no such
 * path), ENOTDIR/EINVAL (bad request), EBUSY (still starting, stopping, or another
 * archive VM runs for the bundle, after waiting up to 10 s for it to pass), else EIO
 * or the system error. Blocking; the fds may be pipes, sockets or files. For a stopped
 * container `st` of shimc_archive_get is filled at the end, not before the first byte. */
struct shimc_path_stat {
    char *name;
    int64_t size;
    uint32_t mode; /* Go os.FileMode bits, as docker's X-Docker-Container-Path-Stat */
    char *mtime;   /* RFC 3339 */
    char *link_target;
};
int shimc_archive_stat(const char *bundle_dir, const char *path, struct shimc_path_stat *st,
                       ctr_error_t *err);
/* Write a tar (PAX, uncompressed) of `path` to out_fd: docker's layout (`/etc` gives
 * `etc/...`, `/etc/.` the contents); export_all (path "/") the whole root filesystem
 * without the mounts in it. st (may be NULL) gets the path's stat. */
int shimc_archive_get(const char *bundle_dir, const char *path, bool export_all, int out_fd,
                      struct shimc_path_stat *st, ctr_error_t *err);
/* Extract the tar read from in_fd (until EOF; plain, gzip, bzip2 or xz) into the
 * directory `path` of the container, with the entries' owners, modes and times. */
int shimc_archive_put(const char *bundle_dir, const char *path, int in_fd, ctr_error_t *err);
void shimc_path_stat_release(struct shimc_path_stat *st);
/* A running container's writable layer: a tar of the overlay's upper directory as vminitd
 * reads it on the writable disk (whiteouts as char devices 0/0, the overlay's xattrs,
 * numeric owners; src/image/layerdiff.h reads it). ESRCH when no shim answers (the
 * container does not run: read its disk on the host instead). */
int shimc_archive_get_upper(const char *bundle_dir, int out_fd, ctr_error_t *err);

/* ---- the container-runtime binary (start.c) ---- */
/* The binary that start and maintenance mode run; default: $CONTAINER_RUNTIME_BIN, else
 * `container-runtime` next to the running executable, else from PATH. */
void shimc_set_runtime(const char *path);
/* Spawn `container-runtime start BUNDLE` (stdin and stdout /dev/null, no blocked or
 * caught signals); its stderr is the pipe *err_fd (CLOEXEC). It exits once the main
 * process runs (0) or failed (its code; stderr says why: shimc_start_error_text). The
 * pid, or -1. */
pid_t shimc_start_spawn(const char *bundle, int *err_fd, ctr_error_t *err);
/* The error in `container-runtime start`'s stderr: its last error line and the lines
 * after it (QEMU's stderr), bounded; NULL when there is none. malloc'd. */
#define SHIMC_START_ERROR_LINES 10
char *shimc_start_error_text(const char *out);

#endif
