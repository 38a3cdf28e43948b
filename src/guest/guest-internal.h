/* vminitd internals: PID 1 of the guest (docs/agent-protocol.md, docs/kernel.md).
 * Everything here is guest-only; user.c and exec-util.c also build on the host
 * for unit tests (they take a `root` prefix, "" inside the guest). */
#ifndef CTR_GUEST_INTERNAL_H
#define CTR_GUEST_INTERNAL_H

#include "proto/agent-msg.h"

#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

#define GUEST_AGENT_NAME "vminitd/0.1"
#define GUEST_DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* ---- user.c: "name", "uid", "name:group", "uid:gid" in the container's /etc ---- */
struct guest_user {
    uid_t uid;
    gid_t gid;
    gid_t *groups; /* supplementary groups for setgroups() */
    size_t n_groups;
    char *home; /* from passwd, "/" when unknown */
};
int guest_user_resolve(const char *root, const char *spec, struct guest_user *out,
                       ctr_error_t *err);
/* Docker's GroupAdd: names (looked up in root's /etc/group) or gids added to u's
 * supplementary groups. */
int guest_user_add_groups(const char *root, struct guest_user *u, char *const *groups,
                          ctr_error_t *err);
void guest_user_release(struct guest_user *u);

/* ---- exec-util.c ---- */
/* Find `file` as execve would after a PATH search (docker semantics). On failure
 * *code is 127 (not found) or 126 (not executable) and err names the file. */
int guest_lookup_exec(const char *root, const char *file, const char *path_env, char **out,
                      int *code, ctr_error_t *err);
/* Exit code for a failed execve: 127 for a missing file, 126 otherwise. */
int guest_exec_errno_code(int errnum);
/* Docker-style "exec: \"FILE\": reason" message for an execve errno (malloc'd). */
char *guest_exec_errno_msg(const char *file, int errnum);
/* wait() status -> exit code, or 128 + signal number. */
int guest_wait_status(int wstatus);
/* Value of NAME in a NAME=VALUE vector, or NULL. */
const char *guest_env_get(char *const *env, const char *name);

/* ---- process.c ---- */
struct guest_spawned {
    pid_t pid;
    int in_fd;  /* write end of stdin pipe, or -1 */
    int out_fd; /* read end of stdout pipe, or pty master, or -1 */
    int err_fd; /* read end of stderr pipe, or -1 */
    bool pty;   /* out_fd is a pty master (also written for stdin) */
};
/* Fork and exec the process; returns once execve succeeded or failed. On failure
 * *code is the suggested exit code (127/126, or 1 for setup errors). */
int guest_spawn(const struct agent_exec *e, struct guest_spawned *out, int *code, ctr_error_t *err);
int guest_pty_resize(int master, uint16_t rows, uint16_t cols);

/* ---- mounts.c ---- */
/* Early mounts of PID 1: /proc, /sys, /dev, /dev/pts, /dev/shm, /run, cgroup2. */
int guest_mount_early(ctr_error_t *err);
/* Build the container root and switch into it. */
int guest_setup_root(const struct agent_setup *s, ctr_error_t *err);
/* ---- warm.c ---- */
/* After a warm start (s->warm): set the clock, reseed the CRNG, re-probe the disks and
 * shares. Does nothing for a cold boot. */
int guest_warm_apply(const struct agent_setup *s, ctr_error_t *err);

/* Path of the virtio-serial port named `name` (/dev/vportNpM). */
int guest_find_port(const char *name, char **out, ctr_error_t *err);
/* Sync and unmount/remount read-only everything setup mounted; best effort. */
void guest_unmount_all(void);
/* The root of the writable disk (an O_PATH fd that setup keeps): archive_get `upper` tars
 * its `upper` directory. Without one (a tmpfs upper is not a layer) `upper` fails. */
void guest_archive_set_upper(int fd);
/* copyup.c: when dst_dir is empty, copy src_dir's tree into it (modes, owners,
 * symlinks kept; devices skipped); a no-op on a volume that has content. */
int guest_copy_up(int src_dir, int dst_dir, ctr_error_t *err);

/* ---- net.c ---- */
/* lo up, then each s->ifaces entry on the NIC with its MAC: MTU, address, up, default
 * route. Errors name the interface. */
/* A network joined (an address on a NIC) or left while running; net.c. */
int guest_net_change(const struct agent_net *n, ctr_error_t *err);
int guest_net_setup(const struct agent_setup *s, ctr_error_t *err);

/* ---- archive.c: archive_stat/get/put (docker's cp semantics) ---- */
struct guest_resolved {
    char *path;     /* the object in the container root, parents' symlinks resolved */
    char *name;     /* docker's name for it: base name of the request, "." for "/dir/." */
    bool contents;  /* "/dir/." or "/": the directory's contents, not the directory */
    struct stat st; /* lstat of path */
};
/* Resolve like docker's ResolvePath: symlinks in the parents are followed, the last
 * component only when the path ends in "/" or "/." (or always with follow_all).
 * Errors carry ENOENT/ENOTDIR/... in errnum and say `no such file or directory: PATH`. */
int guest_archive_resolve(const char *path, bool follow_all, struct guest_resolved *out,
                          ctr_error_t *err);
void guest_resolved_release(struct guest_resolved *r);
int guest_archive_stat(const char *path, struct agent_path_stat *out, ctr_error_t *err);
/* Fork the tar worker: get writes the tar to out_fd, put reads it from in_fd; its
 * error message comes on err_fd. */
int guest_archive_spawn(enum agent_op op, const struct agent_archive *a,
                        const struct guest_resolved *r, struct guest_spawned *out,
                        ctr_error_t *err);
uint32_t guest_go_filemode(mode_t m);
char *guest_rfc3339(const struct timespec *ts);

/* ---- container.c: namespaces and cgroup of the container (docs/runtime.md) ---- */
/* After the root: the cgroup (pids.max = setup.pids_limit), docker-init's binary. */
int guest_ctr_setup(const struct agent_setup *s, ctr_error_t *err);
/* fork() for a container process: the main one into new PID, mount, UTS and IPC
 * namespaces (PID 1 there), an exec into the main one's PID namespace. */
pid_t guest_ctr_fork(bool is_main);
/* In the forked child first: join the cgroup; main: a private /proc; an exec: setns. */
int guest_ctr_child(bool is_main, const char **what);
/* In vminitd once the main process runs: keep its namespaces for execs. */
void guest_ctr_main_started(pid_t pid);
/* At shutdown, before the unmounts: let the container's namespaces go. A mount namespace
 * kept alive by vminitd's fd would keep its copies of the volumes' mounts, so their ext4
 * would never be unmounted cleanly (a journal to replay; a read-only attach then fails). */
void guest_ctr_release(void);
/* The main process's PID namespace (false: none, outside the VM). */
bool guest_ctr_pidns(ino_t *ino);
/* The main process runs under docker-init (setup.init). */
bool guest_ctr_init_mode(void);
int guest_ctr_exe_fd(void);

/* ---- init.c: docker-init, argv[0] GUEST_INIT_ARGV0 ---- */
#define GUEST_INIT_ARGV0 "/sbin/docker-init"
int guest_init_main(int argc, char **argv);

/* ---- top.c: the container's processes as `ps` prints them ---- */
/* ps_args: "" or "-ef" (the default), "-e", "-f", "aux", "ax" (spaces and order free).
 * *out: the table, a header line then one line per process. EINVAL: unknown args. */
int guest_top(const char *ps_args, char **out, ctr_error_t *err);

/* ---- server.c ---- */
/* Serve the agent protocol on the port fd until shutdown; never returns an error
 * for peer misbehaviour, only logs it. */
void guest_serve(int port_fd);

/* ---- main.c ---- */
_Noreturn void guest_power_off(void);

#endif
