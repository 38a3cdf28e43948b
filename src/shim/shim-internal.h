/* The shim's supervisor: one per container. It owns the VMM process, the
 * agent connection, the container log, the control socket and (in the
 * foreground) the caller's stdio. Everything runs in one epoll loop. */
#ifndef CTR_SHIM_INTERNAL_H
#define CTR_SHIM_INTERNAL_H

#include "proto/shim.h"
#include "shim/agent-client-internal.h"
#include "shim/loop-internal.h"
#include "shim/net-internal.h"
#include "shim/shim.h"
#include "shim/vmm-internal.h"

#include <termios.h>

/* Host TSC rate cache (per host boot; docs/runtime.md). */
#define SHIM_TSC_CACHE "/run/container-runtime/host-tsc-khz"

enum shim_phase {
    SHIM_BOOTING,  /* waiting for the hello reply */
    SHIM_STARTING, /* setup + exec of the main process in flight */
    SHIM_RUNNING,  /* main process runs */
    SHIM_EXITED,   /* main process ended, VM powering off */
    SHIM_DONE,     /* VMM gone */
};

/* container.log writer: docker json-file lines, split at newlines. */
struct shim_logw {
    int fd;
    char *part[3]; /* pending partial line per stream (index AGENTC_STDOUT/ERR) */
    size_t part_len[3];
};

struct shim_client; /* shim-server.c */

/* A pause or resume of the VM's vCPUs sent to the VMM, its answer not yet seen. */
enum shim_vm_cmd { SHIM_VM_CMD_NONE = 0, SHIM_VM_CMD_PAUSE, SHIM_VM_CMD_RESUME };

/* The foreground caller's stdio (`run`). */
struct shim_local {
    int in_fd, out_fd, err_fd;
    struct shim_watch in_w;
    bool relay_stdin;
    bool raw;
    struct termios saved;
};

struct shim {
    char *bundle;
    struct bundle_config cfg;
    struct bundle_state st;
    struct shim_loop loop;
    const struct vmm_ops *vmm_ops;
    struct vmm vm;
    enum vmm_accel accel;
    const char *accel_why;
    int agent_fd;
    struct agentc ac;
    struct agentc_proc *main;
    struct shim_watch agent_w, vmm_w, stderr_w, listen_w, timer_w, sig_w;
    int listen_fd;
    int bootlog_fd;
    struct shim_logw log;
    struct shim_local *local;
    struct shim_client *clients;
    uint64_t next_client_id;
    unsigned exec_seq;
    int notify_fd; /* `start`: tells the caller when the main process runs, or why not */
    enum shim_phase phase;
    bool main_exited;
    int exit_code;
    char *exit_reason;
    char *error;   /* the runtime error that ends this container, if any */
    bool stopping; /* stop sequence in progress */
    bool paused;   /* the VM's vCPUs are stopped (`pause`); state.json says so */
    enum shim_vm_cmd vm_cmd;
    int stop_stage;
    unsigned stop_timeout_s;
    bool vm_killed_by_us;
    uint64_t t0;              /* ctr_now_ns() at start, for the timing log */
    bool trace;               /* CONTAINER_RUNTIME_TRACE: print the timing log */
    int *tap_fds;             /* one per cfg.nets, -1 once QEMU holds them */
    struct shim_proxy *proxy; /* cfg.ports */
    const char *bootlog_name; /* "boot.log", or "archive-boot.log" in maintenance mode */
    int lock_fd;              /* flock on BUNDLE/archive.lock while a VM runs the bundle */
    /* maintenance mode (`container-runtime archive`): no main process, one job */
    const struct shim_archive_job *job;
    struct agentc_proc *job_proc;
    struct agent_path_stat *job_stat;
    char *job_error;
    int job_errnum;
    bool job_in_eof, job_pumping, job_in_file;
    struct shim_watch job_in_w;
    /* the VM's events (vm-events.c) */
    struct shim_watch events_w;
    uint64_t disk_full_ns; /* ctr_now_ns() of the last "host disk full" note, 0: none yet */
    unsigned long disk_full_events;
};

/* vm-events.c: the VM's events (vmm_ops.read_events: a full host disk) */
int shim_events_watch(struct shim *s, ctr_error_t *err);
void shim_events_drain(struct shim *s); /* what the VMM said before it exited */
void shim_events_close(struct shim *s);

/* shim-core.c: what the other parts call back (they never call shim.c) */
int64_t shim_realtime_ns(void);
void shim_trace(struct shim *s, const char *what); /* CONTAINER_RUNTIME_TRACE timings */
/* The caller of `start` (notify_fd): "CODE MESSAGE", once. */
void shim_notify(struct shim *s, int code, const char *msg);
char *shim_bootlog_tail(struct shim *s, int lines); /* last lines of the boot log */
void shim_fatal(struct shim *s, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void shim_begin_stop(struct shim *s, unsigned timeout_s);
/* The container's work is over (main exit, or the maintenance job): shutdown request,
 * power-off grace, then the stop sequence. */
void shim_shutdown_vm(struct shim *s);
void shim_agent_kick(struct shim *s); /* flush queued agent frames, arm EPOLLOUT when needed */
int shim_write_state(struct shim *s, enum bundle_status status);
/* The one timer of the VM (s->timer_w): the boot deadline, then the stop sequence's steps. */
void shim_vm_timer(struct shim_watch *w, uint32_t ev);

/* shim-job.c: maintenance mode's one archive operation */
void shim_job_start(struct shim *s); /* after setup was queued */
void shim_job_pump(struct shim *s);  /* put: feed the tar while the agent keeps up */
void shim_job_release(struct shim *s);

/* preflight.c: resolve paths (relative to the bundle, defaults) and refuse a missing
 * kernel/initramfs/disk or a root disk without ext4 superblock. */
int shim_preflight(struct shim *s, ctr_error_t *err);

/* net.c: before the boot, the TAPs (s->tap_fds) and the port proxy; refusals are
 * errors naming the bridge or the port. shim_net_release closes what is left. */
int shim_net_setup(struct shim *s, ctr_error_t *err);
void shim_net_release(struct shim *s);

/* shim-io.c */
int shim_logw_open(struct shim_logw *l, const char *path, ctr_error_t *err);
void shim_logw_write(struct shim_logw *l, int which, const uint8_t *data, size_t len);
void shim_logw_flush(struct shim_logw *l, int which);
void shim_logw_close(struct shim_logw *l);
int shim_local_setup(struct shim *s, struct shim_local *loc, ctr_error_t *err);
void shim_local_start_stdin(struct shim *s);
void shim_local_output(struct shim *s, int which, const uint8_t *data, size_t len);
void shim_local_restore(struct shim_local *loc);
void shim_local_winsize(struct shim_local *loc, uint16_t *rows, uint16_t *cols);
extern const struct agentc_proc_ops shim_main_ops;

/* shim-server.c */
int shim_server_listen(struct shim *s, ctr_error_t *err);
void shim_server_close(struct shim *s);
void shim_server_main_output(struct shim *s, int which, const uint8_t *data, size_t len);
void shim_server_main_eof(struct shim *s, int which);
void shim_server_main_exit(struct shim *s, int status);
void shim_server_vm_gone(struct shim *s);
/* The VMM answered a pause (or resume): reply to the clients waiting for it. */
void shim_server_vm_paused(struct shim *s, bool paused, const char *error);
void shim_server_reap(void *data); /* loop "after" hook: frees dead clients */
/* Archive transfers: true while a client is too far behind (stop reading the agent);
 * resume_inputs lets paused uploads go on once the agent queue drained. */
bool shim_server_throttled(struct shim *s);
void shim_server_resume_inputs(struct shim *s);

#endif
