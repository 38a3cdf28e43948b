/* The `container` command line: shared pieces of the CLI (option parsing, the
 * API client over the daemon's unix socket, hijacked streams, the stdout/stderr
 * demultiplexer, tables). One file per command group; main.c holds the
 * dispatch table. Every non-static symbol carries the `cli_` prefix.
 * See docs/cli.md. */
#ifndef CTR_CLI_H
#define CTR_CLI_H

#include "common/common.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define CLI_DEFAULT_SOCKET "/run/container/container.sock"
#define CLI_API_PREFIX "/v1.43"
#define CLI_VERSION "0.1.0"
/* Exit code when the CLI or the daemon failed before a container ran (docker's). */
#define CLI_EXIT_FAILURE 125

struct cli_ctx {
    const char *socket;   /* API socket path */
    bool socket_explicit; /* --socket or CONTAINER_HOST given */
    bool debug;
    const char *usage; /* usage text of the command being run (for --help) */
    const char *name;  /* "run", "image ls", ... (for messages) */
    int fail_code;     /* exit code when the command fails (0: the default) */
};

/* ---- options (args.c) ----
 * Each command has one table of its flags, one line per flag (kvmtool's OPT_* style):
 *     CLI_OPT_BOOL('d', "detach", O_DETACH, "run in the background"),
 *     CLI_OPT_ARG('e', "env", "NAME[=VALUE]", O_ENV, "set an environment variable"),
 *     CLI_OPT_END,
 * cli_parse_opts parses argv against it and cli_print_usage prints the command's
 * --help from it. A flag with NULL help is an alias, listed beside the first flag of
 * the same id (`--rm, --remove`), or hidden when there is none. */
struct cli_option {
    const char *long_name; /* without "--"; NULL for a short-only flag */
    char short_name;       /* 0 when none */
    const char *arg;       /* the value's name in the help (`FILE`); NULL: takes no value */
    int id;
    const char *help; /* one line; NULL: an alias or a hidden flag */
};
#define CLI_OPT_BOOL(s, l, id, help)                                                               \
    {                                                                                              \
        (l), (s), NULL, (id), (help)                                                               \
    }
#define CLI_OPT_ARG(s, l, arg, id, help)                                                           \
    {                                                                                              \
        (l), (s), (arg), (id), (help)                                                              \
    }
#define CLI_OPT_END                                                                                \
    {                                                                                              \
        NULL, 0, NULL, 0, NULL                                                                     \
    }
/* Stop at the first positional argument (run IMAGE CMD..., exec ID CMD...). */
#define CLI_PARSE_STOP_AT_POSITIONAL 1u
typedef int (*cli_opt_fn)(void *opaque, int id, const char *value, ctr_error_t *err);
/* Parse argv[1..argc) against opts; each flag goes to fn, the positionals to
 * *positional (NULL-terminated, may be empty). `-h`/`--help` (unless defined by
 * opts) returns 1 with *positional unset. Returns 0, 1 (help) or -1 with an error
 * naming the flag. */
int cli_parse_opts(const char *cmd, const struct cli_option *opts, unsigned flags, int argc,
                   char *const *argv, cli_opt_fn fn, void *opaque, char ***positional,
                   ctr_error_t *err);
/* An integer flag value in [min, max]; messages name the flag. */
int cli_parse_long(const char *flag, const char *s, long min, long max, long *out,
                   ctr_error_t *err);
/* Print the --help of the current command to f: its usage line(s) (ctx->usage, from the
 * dispatch table), then one line per flag of opts. */
void cli_print_usage(const struct cli_ctx *ctx, const struct cli_option *opts, FILE *f);
/* The flag lines alone (for tests and `container help`). */
void cli_print_options(const struct cli_option *opts, FILE *f);
/* Require between min and max positionals (max < 0: any). */
int cli_check_args(const char *cmd, char **pos, int min, int max, const char *what,
                   ctr_error_t *err);
/* The process flags `run` and `exec` share (docker's): the including file's enum names
 * O_ENV, O_ENV_FILE, O_WORKDIR and O_USER. */
#define CLI_OPTS_PROCESS                                                                           \
    CLI_OPT_ARG('e', "env", "NAME[=VALUE]", O_ENV,                                                 \
                "set an environment variable (NAME alone: take ours)"),                            \
        CLI_OPT_ARG(0, "env-file", "FILE", O_ENV_FILE, "read environment variables from FILE"),    \
        CLI_OPT_ARG('w', "workdir", "DIR", O_WORKDIR, "working directory inside the container"),   \
        CLI_OPT_ARG(0, "cwd", "DIR", O_WORKDIR, NULL),                                             \
        CLI_OPT_ARG('u', "user", "USER[:GROUP]", O_USER, "user to run as")

/* ---- API client (client.c) ---- */
/* printf-style path under CLI_API_PREFIX; use cli_esc() for path and query parts. */
char *cli_path(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Percent-encode s for a URL path segment or query value (caller frees). */
char *cli_esc(const char *s);
/* `?filters=` (escaped JSON {KEY: [VALUE...]}) from --filter KEY=VALUE flags; "" when none. */
char *cli_filters_query(char **filters);

struct cli_response {
    long status;
    char *body;
    size_t len;
};
void cli_response_release(struct cli_response *r);

/* Streaming body sink: return <0 to abort the transfer. */
typedef int (*cli_sink_fn)(void *opaque, const char *data, size_t len);

struct cli_request {
    const char *method;
    const char *path; /* from cli_path() */
    json_t *body;     /* JSON body, or NULL */
    int upload_fd;    /* raw body streamed from this fd (>=0), else -1 */
    const char *content_type;
    const char *const *headers; /* extra "Name: value" lines, NULL-terminated */
    cli_sink_fn sink;           /* streaming response; NULL = buffer it in the response */
    void *sink_opaque;
    void (*on_headers)(void *opaque, long status); /* called once the headers are in */
    void *headers_opaque;
    const char *capture_header; /* a response header whose value goes to *captured */
    char **captured;            /* (caller frees; set before the body arrives) */
};
/* One request. Transport failures become the "not running" / "permission denied"
 * messages; an HTTP status >= 400 is an error carrying the daemon's message. */
int cli_request(const struct cli_ctx *ctx, const struct cli_request *req, struct cli_response *out,
                ctr_error_t *err);
/* Convenience: method + path + optional JSON body; *out (may be NULL) gets the
 * parsed JSON response (NULL for an empty body). */
int cli_call(const struct cli_ctx *ctx, const char *method, const char *path, json_t *body,
             json_t **out, ctr_error_t *err);
/* `inspect` of several objects: GET /COLLECTION/NAME(escaped)SUFFIX for each of names,
 * the answers in one JSON array (caller frees). One that fails is reported on stderr as
 * "container: WHAT `NAME`: MESSAGE", left out of the array and sets *rc to 1 (else 0). */
json_t *cli_get_each(const struct cli_ctx *ctx, const char *what, const char *collection,
                     const char *suffix, char **names, int *rc);
/* `rm` of several objects: DELETE /COLLECTION/NAME(escaped) for each of names, printing
 * each name removed; one that fails is reported as "container: WHAT `NAME`: MESSAGE"
 * (with force, a missing one is not). Returns 0, or 1 when any failed. */
int cli_delete_each(const struct cli_ctx *ctx, const char *what, const char *collection,
                    char **names, bool force);
/* The message of an error response body ({"message": ...}) or a short status text. */
char *cli_error_message(long status, const char *body, size_t len);
/* Message for a failed connect() to the socket: not running / permission. */
int cli_connect_error(const char *socket, int errnum, ctr_error_t *err);

/* A wait request whose headers were received (the daemon registered it) and whose
 * body arrives later, from a thread (client.c). */
struct cli_waiter;
int cli_wait_begin(const struct cli_ctx *ctx, const char *id, const char *condition,
                   struct cli_waiter **out, ctr_error_t *err);
/* Block until the body comes; *code gets StatusCode. Frees w. */
int cli_wait_end(struct cli_waiter *w, int *code, ctr_error_t *err);

/* ---- hijacked streams (hijack.c) ---- */
/* Send an HTTP/1.1 upgrade request on a new connection and read the response
 * headers; on 101 (or 200) *fd is the raw stream and any bytes already read
 * after the headers are in *pre (*pre_len bytes; caller frees it). */
int cli_hijack(const struct cli_ctx *ctx, const char *method, const char *path, json_t *body,
               int *fd, char **pre, size_t *pre_len, ctr_error_t *err);

struct cli_pump_opts {
    bool tty;                /* raw stream (no 8-byte headers); local terminal raw mode */
    bool send_stdin;         /* copy our stdin to the stream; EOF half-closes it */
    const char *detach_keys; /* docker's syntax (checked); detaches, only with a tty on
                              * stdin (NULL: no detaching) */
    const char *resize_path; /* POST path for resizes: .../resize */
    const char *kill_path;   /* without a tty: forward SIGINT/SIGTERM here (sig-proxy) */
};
/* Relay until the stream ends (or the user detaches: *detached = true). Puts the
 * terminal in raw mode for tty && stdin is a terminal, restoring it after. */
int cli_pump(const struct cli_ctx *ctx, int fd, const char *pre, size_t pre_len,
             const struct cli_pump_opts *o, bool *detached, ctr_error_t *err);
/* Send the local terminal size to resize_path now. */
void cli_resize(const struct cli_ctx *ctx, const char *resize_path);

/* ---- docker's stdout/stderr multiplexing (demux.c) ---- */
#define CLI_DEMUX_HEADER 8
struct cli_demux {
    uint8_t hdr[CLI_DEMUX_HEADER];
    size_t hdr_len;
    uint32_t remaining; /* payload bytes left in the current frame */
    int stream;         /* 0 stdin, 1 stdout, 2 stderr, 3 system error */
    uint64_t frames;
};
void cli_demux_init(struct cli_demux *d);
/* out gets each payload piece with its stream number (1 or 2; 3 = an error text
 * from the daemon). Return <0 from out to stop. */
typedef int (*cli_demux_out_fn)(void *opaque, int stream, const char *data, size_t len);
int cli_demux_feed(struct cli_demux *d, const char *data, size_t len, cli_demux_out_fn out,
                   void *opaque, ctr_error_t *err);
/* At end of stream: an error if a frame was cut short. */
int cli_demux_finish(const struct cli_demux *d, ctr_error_t *err);

/* ---- tables and human formats (table.c) ---- */
struct cli_table;
struct cli_table *cli_table_new(const char *const *headers);
/* Add a row of as many cells as headers (copied; NULL = ""). */
void cli_table_add(struct cli_table *t, const char *const *cells);
/* Columns padded to the widest cell + 3 spaces; the last column is not padded. */
void cli_table_print(const struct cli_table *t, FILE *f);
void cli_table_free(struct cli_table *t);
/* "Up 5 minutes", "About an hour" (docker's units.HumanDuration). */
char *cli_human_duration(int64_t seconds);
/* docker's units.HumanSize (decimal, 3 significant digits): "1.23MB". */
char *cli_human_size(double bytes);
/* Binary units as docker stats: "12.5MiB". */
char *cli_human_bytes_binary(double bytes);
/* First 12 characters of an id, without "sha256:". */
char *cli_short_id(const char *id);
/* Cut s to max display characters, ending with "…" when cut. */
char *cli_ellipsis(const char *s, size_t max);
/* Parse RFC 3339 (docker's "2024-01-02T03:04:05.123456789Z") into seconds. */
int cli_parse_time(const char *s, int64_t *out);
/* Print JSON (indented) to f followed by a newline. */
void cli_print_json(json_t *j, FILE *f);

/* Output format flag: table (default) or json. */
enum cli_format { CLI_FORMAT_TABLE, CLI_FORMAT_JSON };
int cli_parse_format(const char *s, enum cli_format *out, ctr_error_t *err);

/* JSON accessors tolerant of missing fields. */
const char *cli_json_str(json_t *o, const char *key);
int64_t cli_json_int(json_t *o, const char *key);
bool cli_json_bool(json_t *o, const char *key);
/* Text from argv, env or files for a request body: jansson refuses bytes that are not
 * UTF-8 (json_string returns NULL and the value is silently lost), so each such byte
 * becomes U+FFFD, as docker's Go client sends it. Every string the CLI puts in JSON
 * goes through these (ctr_json_str, ctr_utf8_fix of src/common). */
void cli_json_set_text(json_t *obj, const char *key, const char *value);
json_t *cli_json_strv(char *const *v); /* NULL: [] */

/* ---- commands (one file per group; main.c dispatches) ---- */
/* Each returns the exit code (>= 0) or -1 with *err set. */
typedef int (*cli_cmd_fn)(struct cli_ctx *ctx, int argc, char **argv, ctr_error_t *err);

/* run.c: run, create, start */
struct cli_run_opts {
    bool detach, interactive, tty, rm, init, read_only;
    long long pids_limit; /* --pids-limit; 0: not given */
    const char *name, *workdir, *user, *entrypoint, *cidfile;
    uint64_t memory; /* bytes; 0 = the daemon's default */
    unsigned cpus;   /* 0 = the daemon's default */
    char **env_flags, **env_files, **labels, **ulimits;
    char **binds, **mounts, **tmpfs; /* -v, --mount (checked), --tmpfs PATH[:OPTS] */
    uint64_t shm_size;               /* --shm-size bytes; 0 = default */
    /* network.c: -p (expanded), --network, --network-alias, --dns*, --no-dns, --add-host */
    struct net_port_binding *ports;
    size_t n_ports;
    char **networks, **net_aliases, **dns, **dns_search, **dns_options, **add_hosts;
    char *ip, *mac; /* --ip, --mac-address: the first network's endpoint */
    bool no_dns;
    /* --health-*: Go durations in ns; health_set when any was given */
    const char *health_cmd;
    int64_t health_interval, health_timeout, health_start_period;
    int health_retries;
    bool health_set, no_healthcheck;
    const char *detach_keys; /* --detach-keys */
    char **env;              /* resolved: env files, then -e */
    char **pos;              /* IMAGE [CMD...] */
    const char *image;
    char **cmd;
};
/* `-e`/`--env` and `-w`/`--workdir` of run, create and exec: the checks, then the
 * value appended to *env_flags / stored in *workdir. */
int cli_opt_env(const char *v, char ***env_flags, ctr_error_t *err);
int cli_opt_workdir(const char *v, const char **workdir, ctr_error_t *err);
/* docker's order: env files first, then -e; `NAME` alone takes our value (or stays
 * bare, which unsets it in the container). *env is set (caller frees) even on error. */
int cli_resolve_env(char **env_files, char **env_flags, char ***env, ctr_error_t *err);
int cli_run_parse(const char *cmd, int argc, char **argv, struct cli_run_opts *o, ctr_error_t *err);
void cli_run_opts_release(struct cli_run_opts *o);
/* volume.c: -v, --mount, --tmpfs, --shm-size (checked with the bundle parsers) and
 * their HostConfig fields (Binds, Mounts, Tmpfs, ShmSize). */
int cli_run_mount_flag(struct cli_run_opts *o, const char *flag, const char *v, ctr_error_t *err);
void cli_run_mounts_json(const struct cli_run_opts *o, json_t *hc);
int cli_cmd_volume_create(struct cli_ctx *ctx, int argc, char **argv, ctr_error_t *err);
int cli_cmd_volume_ls(struct cli_ctx *ctx, int argc, char **argv, ctr_error_t *err);
int cli_cmd_volume_inspect(struct cli_ctx *ctx, int argc, char **argv, ctr_error_t *err);
int cli_cmd_volume_rm(struct cli_ctx *ctx, int argc, char **argv, ctr_error_t *err);
int cli_cmd_volume_prune(struct cli_ctx *ctx, int argc, char **argv, ctr_error_t *err);
/* network.c: the network flags of run/create (flag = long name), the combination checks after
 * parsing, their create-body fields (ExposedPorts, NetworkingConfig, HostConfig.PortBindings,
 * NetworkMode, Dns, DnsSearch, DnsOptions, ExtraHosts, ContainerNoDns), and their release. */
int cli_run_net_flag(struct cli_run_opts *o, const char *flag, const char *v, ctr_error_t *err);
int cli_run_net_check(const struct cli_run_opts *o, ctr_error_t *err);
void cli_run_net_json(const struct cli_run_opts *o, json_t *body, json_t *hc);
void cli_run_net_release(struct cli_run_opts *o);
/* The first network's address of a container summary or inspect object ("" when none). */
const char *cli_container_addr(json_t *c);
/* docker's PORTS column from a summary's Ports list: "0.0.0.0:8000-8001->80-81/tcp, 53/udp". */
char *cli_ports_column(json_t *ports);
/* `container port` lines for an inspect object; filter: NULL or PORT[/PROTO]. */
int cli_port_print(json_t *info, const char *container, const char *filter, FILE *f,
                   ctr_error_t *err);
json_t *cli_network_create_body(const char *name, const char *subnet, bool internal, char **labels);
void cli_network_print_table(json_t *list, FILE *f);
int cli_cmd_network_create(struct cli_ctx *ctx, int argc, char **argv, ctr_error_t *err);
int cli_cmd_network_ls(struct cli_ctx *ctx, int argc, char **argv, ctr_error_t *err);
int cli_cmd_network_inspect(struct cli_ctx *ctx, int argc, char **argv, ctr_error_t *err);
int cli_cmd_network_rm(struct cli_ctx *ctx, int argc, char **argv, ctr_error_t *err);
int cli_cmd_network_prune(struct cli_ctx *ctx, int argc, char **argv, ctr_error_t *err);
int cli_cmd_network_connect(struct cli_ctx *ctx, int argc, char **argv, ctr_error_t *err);
int cli_cmd_network_disconnect(struct cli_ctx *ctx, int argc, char **argv, ctr_error_t *err);
int cli_cmd_port(struct cli_ctx *ctx, int argc, char **argv, ctr_error_t *err);
/* The POST /containers/create body. */
json_t *cli_run_body(const struct cli_run_opts *o, bool create_only);
/* detach_keys: --detach-keys (NULL: ctrl-p,ctrl-q) */
int cli_attach_and_start(struct cli_ctx *ctx, const char *id, bool tty, bool send_stdin,
                         const char *detach_keys, const char *wait_condition, bool start,
                         ctr_error_t *err);
/* 127 / 126 / 125 for a failed start's message, as docker maps them. */
int cli_start_error_code(const char *msg);
struct cli_start_opts {
    bool attach, interactive;
    char **ids;
};
int cli_start_parse(int argc, char **argv, struct cli_start_opts *o, ctr_error_t *err);
int cli_cmd_run(struct cli_ctx *ctx, int argc, char **argv, ctr_error_t *err);
int cli_cmd_start(struct cli_ctx *ctx, int argc, char **argv, ctr_error_t *err);

/* cp.c: cp (docker's path rules, tars built and extracted with libarchive), export */
/* `ID:path` → the container (caller frees) and *path pointing into arg; NULL for a local
 * path: no `:`, a `:` first, or a `/` before the first `:` (docker's split). */
char *cli_cp_split(const char *arg, const char **path);
int cli_cmd_cp(struct cli_ctx *ctx, int argc, char **argv, ctr_error_t *err);
int cli_cmd_export(struct cli_ctx *ctx, int argc, char **argv, ctr_error_t *err);
int cli_cmd_commit(struct cli_ctx *ctx, int argc, char **argv, ctr_error_t *err); /* commit.c */
int cli_cmd_diff(struct cli_ctx *ctx, int argc, char **argv, ctr_error_t *err);
/* build.c: `build --dump-instructions` (the builder itself does not exist yet) */
int cli_cmd_build(struct cli_ctx *ctx, int argc, char **argv, ctr_error_t *err);

/* lifecycle.c: stop, kill, restart, delete, prune, wait */
struct cli_lifecycle_opts {
    bool all, force, volumes; /* volumes: rm -v */
    long timeout;             /* -1 = the daemon's default */
    const char *signal;
    char **ids;
};
int cli_lifecycle_parse(const char *cmd, int argc, char **argv, struct cli_lifecycle_opts *o,
                        ctr_error_t *err);
/* "KILL", "SIGTERM", "9" → accepted (the daemon takes names and numbers). */
int cli_check_signal(const char *s, ctr_error_t *err);
int cli_cmd_stop(struct cli_ctx *ctx, int argc, char **argv, ctr_error_t *err);
int cli_cmd_kill(struct cli_ctx *ctx, int argc, char **argv, ctr_error_t *err);
int cli_cmd_restart(struct cli_ctx *ctx, int argc, char **argv, ctr_error_t *err);
/* `pause` and `unpause` (ctx->name says which) */
int cli_cmd_pause(struct cli_ctx *ctx, int argc, char **argv, ctr_error_t *err);
int cli_cmd_delete(struct cli_ctx *ctx, int argc, char **argv, ctr_error_t *err);
int cli_cmd_prune(struct cli_ctx *ctx, int argc, char **argv, ctr_error_t *err);
int cli_cmd_wait(struct cli_ctx *ctx, int argc, char **argv, ctr_error_t *err);

/* exec.c */
struct cli_exec_opts {
    bool detach, interactive, tty;
    const char *workdir, *user, *detach_keys;
    char **env_flags, **env_files;
    char **env;
    char **pos; /* ID CMD... */
};
int cli_exec_parse(int argc, char **argv, struct cli_exec_opts *o, ctr_error_t *err);
void cli_exec_opts_release(struct cli_exec_opts *o);
#define cleanup_cli_exec_opts CTR_CLEANUP(cli_exec_opts_release)
json_t *cli_exec_body(const struct cli_exec_opts *o);
int cli_cmd_exec(struct cli_ctx *ctx, int argc, char **argv, ctr_error_t *err);
int cli_cmd_top(struct cli_ctx *ctx, int argc, char **argv, ctr_error_t *err);

/* logs.c */
struct cli_logs_opts {
    bool follow, boot, timestamps;
    long tail; /* -1 = all */
    char **pos;
};
int cli_logs_parse(int argc, char **argv, struct cli_logs_opts *o, ctr_error_t *err);
int cli_cmd_logs(struct cli_ctx *ctx, int argc, char **argv, ctr_error_t *err);

/* ls.c */
struct cli_ls_opts {
    bool all, quiet;
    enum cli_format format;
};
int cli_ls_parse(int argc, char **argv, struct cli_ls_opts *o, ctr_error_t *err);
/* The table `container ls` prints for a /containers/json answer (now = time(NULL)). */
void cli_ls_print_table(json_t *list, int64_t now, FILE *f);
/* The documented JSON form of one container summary (docs/cli.md). */
json_t *cli_ls_json_entry(json_t *summary);
/* docker's Status column from an inspect State (ls uses the daemon's Status). */
int cli_cmd_ls(struct cli_ctx *ctx, int argc, char **argv, ctr_error_t *err);

/* inspect.c, attach.c, stats.c */
int cli_cmd_inspect(struct cli_ctx *ctx, int argc, char **argv, ctr_error_t *err);
int cli_cmd_attach(struct cli_ctx *ctx, int argc, char **argv, ctr_error_t *err);
int cli_cmd_stats(struct cli_ctx *ctx, int argc, char **argv, ctr_error_t *err);
/* CPU % as docker computes it from a stats object (with precpu_stats). */
double cli_stats_cpu_percent(json_t *stats, json_t *prev);

/* image.c */
int cli_cmd_image_ls(struct cli_ctx *ctx, int argc, char **argv, ctr_error_t *err);
int cli_cmd_image_rm(struct cli_ctx *ctx, int argc, char **argv, ctr_error_t *err);
int cli_cmd_image_tag(struct cli_ctx *ctx, int argc, char **argv, ctr_error_t *err);
int cli_cmd_image_inspect(struct cli_ctx *ctx, int argc, char **argv, ctr_error_t *err);
int cli_cmd_image_prune(struct cli_ctx *ctx, int argc, char **argv, ctr_error_t *err);
int cli_cmd_image_load(struct cli_ctx *ctx, int argc, char **argv, ctr_error_t *err);
int cli_cmd_image_save(struct cli_ctx *ctx, int argc, char **argv, ctr_error_t *err);
int cli_cmd_image_pull(struct cli_ctx *ctx, int argc, char **argv, ctr_error_t *err);
int cli_cmd_image_push(struct cli_ctx *ctx, int argc, char **argv, ctr_error_t *err);
/* Split "name[:tag]" for /images/{name}/tag (repo, tag; tag defaults to latest). */
int cli_image_split_ref(const char *ref, char **repo, char **tag, ctr_error_t *err);

/* registry.c */
int cli_cmd_registry_login(struct cli_ctx *ctx, int argc, char **argv, ctr_error_t *err);
int cli_cmd_registry_logout(struct cli_ctx *ctx, int argc, char **argv, ctr_error_t *err);
int cli_cmd_registry_list(struct cli_ctx *ctx, int argc, char **argv, ctr_error_t *err);
/* The X-Registry-Auth header for ref's registry from the stored credentials
 * (NULL when none; caller frees). */
char *cli_registry_auth_header(const char *ref);
/* Pull through the daemon, progress lines to out (run pulls a missing image). */
int cli_image_pull(const struct cli_ctx *ctx, const char *ref, const char *platform, FILE *out,
                   ctr_error_t *err);

/* system.c */
int cli_cmd_system_start(struct cli_ctx *ctx, int argc, char **argv, ctr_error_t *err);
int cli_cmd_system_stop(struct cli_ctx *ctx, int argc, char **argv, ctr_error_t *err);
int cli_cmd_system_status(struct cli_ctx *ctx, int argc, char **argv, ctr_error_t *err);
int cli_cmd_system_version(struct cli_ctx *ctx, int argc, char **argv, ctr_error_t *err);
int cli_cmd_system_logs(struct cli_ctx *ctx, int argc, char **argv, ctr_error_t *err);
int cli_cmd_system_df(struct cli_ctx *ctx, int argc, char **argv, ctr_error_t *err);
int cli_cmd_system_kernel_set(struct cli_ctx *ctx, int argc, char **argv, ctr_error_t *err);

/* main.c's dispatch, exposed for tests: run argv (argv[0] = "container"). */
int cli_main(int argc, char **argv);

#endif
