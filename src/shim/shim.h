/* container-runtime, the per-container shim: runs one bundle in its own
 * microVM. The daemon and tests use its command interface (docs/runtime.md);
 * these entry points are what the commands call. */
#ifndef CTR_SHIM_H
#define CTR_SHIM_H

#include "common/common.h"

struct shim_run_opts {
    bool foreground; /* `run`: relay the caller's stdio, exit with the container */
    int notify_fd; /* `start`: pipe reporting "0\n" once the main process runs, or "CODE MESSAGE" */
};

/* Boot the bundle and supervise it until the VM is gone. *exit_code gets the
 * container's exit code (or 125 when the runtime failed). Returns -1 with *err
 * when the container did not run to its end normally (boot failure, VM death,
 * a missing executable...): the message says why. */
int shim_run(const char *bundle, const struct shim_run_opts *opts, int *exit_code,
             ctr_error_t *err);

/* Fork a detached shim (setsid, survives the caller) and wait until the main process
 * runs. Returns 0, or -1 with *err and *exit_code (e.g. 127) when it failed. */
int shim_start_detached(const char *bundle, int *exit_code, ctr_error_t *err);

/* Client side of <bundle>/shim.sock. Every control exchange with a shim has a deadline
 * (docs/runtime.md, "Deadlines"): the connect, and the wait for the reply to a request
 * (stop: its timeout on top). Streams after the reply have none. */
#define SHIM_CONTROL_TIMEOUT_MS 15000
/* The deadline in ms: CONTAINER_SHIM_TIMEOUT (seconds, 1-3600) or SHIM_CONTROL_TIMEOUT_MS. */
int shim_control_timeout_ms(void);
/* Connect within the deadline (a hung shim's listen backlog fills up); the fd is blocking,
 * without timeouts. A shim that does not answer in time fails with errnum ETIMEDOUT. */
int shim_client_connect(const char *bundle, ctr_error_t *err);
/* Wait until fd is readable or deadline_ns (CLOCK_MONOTONIC, 0: none) passes: 1 readable,
 * 0 deadline passed, -1 error (errno). */
int shim_wait_readable(int fd, int64_t deadline_ns);
/* Whether bytes we sent on a shim connection are still unread by the shim. */
bool shim_request_unread(int fd);
/* Fail with ETIMEDOUT: "the shim (pid N) of `BUNDLE` did not answer WHAT within S s (hung?)". */
int shim_fail_no_answer(const char *bundle, const char *what, int ms, ctr_error_t *err);

struct shim_exec_opts {
    char **args;
    char **env; /* extra NAME=VALUE over the container's env */
    const char *cwd;
    const char *user;
    bool interactive; /* -i: send our stdin */
    bool tty;         /* -t: a pty in the guest, ours in raw mode */
};
/* exec a process in a running container, relaying stdio; *exit_code gets its exit
 * code (or the failure's: 127 not found, 126 not executable, 125 runtime). */
int shim_client_exec(const char *bundle, const struct shim_exec_opts *o, int *exit_code,
                     ctr_error_t *err);
/* attach to the main process until it exits; *exit_code gets its exit code. */
int shim_client_attach(const char *bundle, bool interactive, int *exit_code, ctr_error_t *err);
/* kill and stop: a shim that does not answer in time fails with errnum ETIMEDOUT and a
 * message naming it and its pid (the caller may then kill it: docs/daemon.md). */
int shim_client_kill(const char *bundle, int sig, ctr_error_t *err);
int shim_client_stop(const char *bundle, unsigned timeout_s, ctr_error_t *err);
/* state.json's text in *json_out, first marked stopped when its shim died without
 * writing the final state. */
int shim_state(const char *bundle, char **json_out, ctr_error_t *err);
/* Remove the runtime's files (state.json, boot.log, shim.log, shim.sock); refuses a
 * running container unless force, which stops it first. */
int shim_delete(const char *bundle, bool force, ctr_error_t *err);

/* ---- files in and out: `cp` and `export` (docs/runtime.md, "Files") ----
 * Work on a running container through its shim, or, when the container is stopped,
 * boot it in maintenance mode (`container-runtime archive BUNDLE ...`: the VM gets
 * the container's disks and mounts, runs setup but no main process, does the op and
 * shuts down cleanly). Errors carry an errno class in err->errnum: ENOENT (no such
 * path), ENOTDIR/EINVAL (bad request), EBUSY (still starting, stopping, or another
 * archive VM runs for the bundle, after waiting up to 10 s for it to pass), else EIO
 * or the system error. Blocking; the fds may be pipes, sockets or files. For a stopped
 * container `st` of ctr_archive_get is filled at the end, not before the first byte. */
struct shim_archive_stat {
    char *name;
    int64_t size;
    uint32_t mode; /* Go os.FileMode bits, as docker's X-Docker-Container-Path-Stat */
    char *mtime;   /* RFC 3339 */
    char *link_target;
};
int ctr_archive_stat(const char *bundle_dir, const char *path, struct shim_archive_stat *st,
                     ctr_error_t *err);
/* Write a tar (PAX, uncompressed) of `path` to out_fd: docker's layout (`/etc` gives
 * `etc/...`, `/etc/.` the contents); export_all (path "/") the whole root filesystem
 * without the mounts in it. st (may be NULL) gets the path's stat. */
int ctr_archive_get(const char *bundle_dir, const char *path, bool export_all, int out_fd,
                    struct shim_archive_stat *st, ctr_error_t *err);
/* Extract the tar read from in_fd (until EOF; plain, gzip, bzip2 or xz) into the
 * directory `path` of the container, with the entries' owners, modes and times. */
int ctr_archive_put(const char *bundle_dir, const char *path, int in_fd, ctr_error_t *err);
void shim_archive_stat_release(struct shim_archive_stat *st);
/* The container-runtime binary for maintenance mode; default: $CONTAINER_RUNTIME_BIN,
 * else `container-runtime` next to the running executable, else from PATH. */
void ctr_archive_set_runtime(const char *path);

/* `container-runtime archive BUNDLE stat|get|put PATH [--export]`: maintenance mode.
 * get writes the tar to out_fd, put reads it from in_fd; result_fd (or -1) receives
 * one JSON line, the shim protocol's reply ({"ok":true,"stat":{...}} or
 * {"ok":false,"error":"...","errno":N}). Refuses with EBUSY while the container runs
 * or another archive VM runs for the bundle (lock file BUNDLE/archive.lock). */
struct shim_archive_job {
    int op; /* SHIMP_OP_ARCHIVE_STAT, _GET or _PUT (proto/shim.h) */
    const char *path;
    bool export_all;
    int in_fd, out_fd, result_fd;
};
int shim_archive_offline(const char *bundle, const struct shim_archive_job *job,
                         struct shim_archive_stat *st, ctr_error_t *err);

#endif
