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

/* Client side of <bundle>/shim.sock. */
int shim_client_connect(const char *bundle, ctr_error_t *err);

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
int shim_client_kill(const char *bundle, int sig, ctr_error_t *err);
int shim_client_stop(const char *bundle, unsigned timeout_s, ctr_error_t *err);
/* state.json's text in *json_out, first marked stopped when its shim died without
 * writing the final state. */
int shim_state(const char *bundle, char **json_out, ctr_error_t *err);
/* Remove the runtime's files (state.json, boot.log, shim.log, shim.sock); refuses a
 * running container unless force, which stops it first. */
int shim_delete(const char *bundle, bool force, ctr_error_t *err);

#endif
