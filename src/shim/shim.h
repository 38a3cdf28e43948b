/* container-runtime, the per-container shim: the supervisor of one bundle in its
 * own microVM. The daemon and tests use its command interface (docs/runtime.md);
 * these entry points are what the supervisor's commands (run, start, the maintenance
 * VM of `archive`) call. Clients of a running shim use src/shimc instead. */
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

/* detach.c: fork a detached shim (setsid, survives the caller) and wait until the main
 * process runs. Returns 0, or -1 with *err and *exit_code (e.g. 127) when it failed. */
int shim_start_detached(const char *bundle, int *exit_code, ctr_error_t *err);

/* `container-runtime archive BUNDLE stat|get|put PATH [--export] --result-fd N`:
 * maintenance mode (what shimc_archive_* runs for a stopped container; docs/runtime.md,
 * "Files"). get writes the tar to out_fd, put reads it from in_fd; result_fd receives
 * one JSON line, the shim protocol's reply ({"ok":true,"stat":{...}} or
 * {"ok":false,"error":"...","errno":N}). Refuses with EBUSY while the container runs
 * or another archive VM runs for the bundle (lock file BUNDLE/archive.lock). */
struct shim_archive_job {
    int op; /* SHIMP_OP_ARCHIVE_STAT, _GET or _PUT (proto/shim.h) */
    const char *path;
    bool export_all;
    int in_fd, out_fd, result_fd;
};
int shim_archive_offline(const char *bundle, const struct shim_archive_job *job, ctr_error_t *err);

#endif
