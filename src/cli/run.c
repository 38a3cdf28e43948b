/* `container run`, `create` and `start`. Values are checked here with the
 * bundle parsers (memory, cpus, ulimits, env files, names) so a typo fails
 * before anything is created; the daemon checks them again. */
#include "cli/cli.h"

#include "bundle/bundle.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

enum {
    O_DETACH = 1,
    O_INTERACTIVE,
    O_TTY,
    O_RM,
    O_NAME,
    O_ENV,
    O_ENV_FILE,
    O_WORKDIR,
    O_USER,
    O_ENTRYPOINT,
    O_CPUS,
    O_MEMORY,
    O_LABEL,
    O_CIDFILE,
    O_INIT,
    O_READ_ONLY,
    O_ULIMIT,
    O_VOLUME,
    O_MOUNT,
    O_TMPFS,
    O_SHM_SIZE,
    O_PUBLISH,
    O_NETWORK,
    O_NETWORK_ALIAS,
    O_IP,
    O_MAC,
    O_DNS,
    O_DNS_SEARCH,
    O_DNS_OPTION,
    O_NO_DNS,
    O_ADD_HOST,
    O_HEALTH_CMD,
    O_HEALTH_INTERVAL,
    O_HEALTH_TIMEOUT,
    O_HEALTH_RETRIES,
    O_HEALTH_START,
    O_NO_HEALTHCHECK,
    O_DETACH_KEYS,
};

static const struct cli_option run_options[] = {
    CLI_OPT_BOOL('d', "detach", O_DETACH, "run in the background and print the container id"),
    CLI_OPT_BOOL('i', "interactive", O_INTERACTIVE, "keep stdin open"),
    CLI_OPT_BOOL('t', "tty", O_TTY, "allocate a terminal"),
    CLI_OPT_BOOL(0, "rm", O_RM, "remove the container when it exits"),
    CLI_OPT_BOOL(0, "remove", O_RM, NULL),
    CLI_OPT_ARG(0, "name", "NAME", O_NAME, "name the container"),
    CLI_OPTS_PROCESS,
    CLI_OPT_ARG(0, "entrypoint", "CMD", O_ENTRYPOINT,
                "override the image's entrypoint (\"\" clears it)"),
    CLI_OPT_ARG('c', "cpus", "N", O_CPUS, "vCPUs of the container's VM (default 2)"),
    CLI_OPT_ARG('m', "memory", "SIZE", O_MEMORY,
                "memory of the VM, e.g. 512m, 1g (default 1g, at least 128m)"),
    CLI_OPT_ARG('l', "label", "KEY[=VALUE]", O_LABEL, "add a label"),
    CLI_OPT_ARG(0, "cidfile", "FILE", O_CIDFILE, "write the container id to FILE"),
    CLI_OPT_BOOL(0, "init", O_INIT, "run an init that reaps zombies and forwards signals"),
    CLI_OPT_BOOL(0, "read-only", O_READ_ONLY, "mount the root filesystem read-only"),
    CLI_OPT_ARG(0, "ulimit", "NAME=SOFT[:HARD]", O_ULIMIT,
                "set a resource limit (nofile, nproc, core, ...)"),
    CLI_OPT_ARG('v', "volume", "SRC:DST[:ro]", O_VOLUME,
                "bind a host path (absolute) or a named volume"),
    CLI_OPT_ARG(0, "mount", "type=bind|volume|tmpfs,source=,target=[,readonly]", O_MOUNT,
                "the same, spelled out"),
    CLI_OPT_ARG(0, "tmpfs", "PATH[:OPTS]", O_TMPFS, "mount a tmpfs (size=64m,mode=1777,...)"),
    CLI_OPT_ARG(0, "shm-size", "SIZE", O_SHM_SIZE, "size of /dev/shm (e.g. 256m)"),
    CLI_OPT_ARG(
        'p', "publish", "[IP:][HPORT[-HPORT]:]CPORT[-CPORT][/tcp|udp]", O_PUBLISH,
        "publish container ports on the host (no HPORT: a free port, see `container port`)"),
    CLI_OPT_ARG(0, "network", "NAME", O_NETWORK,
                "attach to a network (repeatable; default: `default`; `none`)"),
    CLI_OPT_ARG(0, "net", "NAME", O_NETWORK, NULL),
    CLI_OPT_ARG(0, "network-alias", "NAME", O_NETWORK_ALIAS,
                "another DNS name on the first network"),
    CLI_OPT_ARG(0, "ip", "IPV4", O_IP,
                "a static address on the first network (a user network with its own subnet)"),
    CLI_OPT_ARG(0, "mac-address", "MAC", O_MAC, "the MAC of the first network's interface"),
    CLI_OPT_ARG(0, "dns", "IP", O_DNS, "nameserver for the container (repeatable)"),
    CLI_OPT_ARG(0, "dns-search", "DOMAIN", O_DNS_SEARCH, "DNS search domain (repeatable)"),
    CLI_OPT_ARG(0, "dns-option", "OPT", O_DNS_OPTION,
                "resolv.conf option, e.g. ndots:2 (repeatable)"),
    CLI_OPT_ARG(0, "dns-opt", "OPT", O_DNS_OPTION, NULL),
    CLI_OPT_BOOL(0, "no-dns", O_NO_DNS, "leave the image's /etc/resolv.conf alone"),
    CLI_OPT_ARG(0, "add-host", "NAME:IP", O_ADD_HOST,
                "add a line to /etc/hosts (IP may be `host-gateway`)"),
    CLI_OPT_ARG(0, "health-cmd", "CMD", O_HEALTH_CMD, "command to run to check health"),
    CLI_OPT_ARG(0, "health-interval", "DURATION", O_HEALTH_INTERVAL,
                "time between running the check (ms|s|m|h)"),
    CLI_OPT_ARG(0, "health-timeout", "DURATION", O_HEALTH_TIMEOUT,
                "maximum time to allow one check to run (ms|s|m|h)"),
    CLI_OPT_ARG(0, "health-retries", "N", O_HEALTH_RETRIES,
                "consecutive failures needed to report unhealthy"),
    CLI_OPT_ARG(0, "health-start-period", "DURATION", O_HEALTH_START,
                "start period during which failures are not counted (ms|s|m|h)"),
    CLI_OPT_BOOL(0, "no-healthcheck", O_NO_HEALTHCHECK,
                 "disable any container-specified HEALTHCHECK"),
    CLI_OPT_ARG(0, "detach-keys", "KEYS", O_DETACH_KEYS,
                "key sequence that detaches from the container (default ctrl-p,ctrl-q)"),
    CLI_OPT_END,
};

/* A Go duration ("1m30s", "500ms", "2h"): the --health-* values, in nanoseconds. */
static int parse_go_duration(const char *flag, const char *v, int64_t *out, ctr_error_t *err)
{
    static const struct {
        const char *unit;
        double ns;
    } units[] = {{"ns", 1},  {"us", 1e3}, {"µs", 1e3},  {"ms", 1e6},
                 {"s", 1e9}, {"m", 60e9}, {"h", 3600e9}};
    const char *p = v;
    double total = 0;
    bool neg = false;

    if (*p == '-' || *p == '+')
        neg = *p++ == '-';
    if (strcmp(p, "0") == 0) {
        *out = 0;
        return 0;
    }
    if (*p == '\0')
        goto bad;
    while (*p) {
        char *end;
        if (!(*p >= '0' && *p <= '9') && *p != '.')
            goto bad;
        double n = strtod(p, &end);
        if (end == p)
            goto bad;
        p = end;
        size_t best = 0, best_len = 0;
        for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
            size_t l = strlen(units[i].unit);
            if (strncmp(p, units[i].unit, l) == 0 && l > best_len) {
                best = i;
                best_len = l;
            }
        }
        if (best_len == 0)
            goto bad;
        total += n * units[best].ns;
        p += best_len;
    }
    if (neg)
        return ctr_fail(err, 0, "`--%s` cannot be negative", flag);
    *out = (int64_t)total;
    return 0;
bad:
    return ctr_fail(err, 0, "invalid value `%s` for `--%s`: a duration such as 30s or 1m30s", v,
                    flag);
}

static int run_opt(void *opaque, int id, const char *v, ctr_error_t *err)
{
    struct cli_run_opts *o = opaque;

    switch (id) {
    case O_DETACH:
        o->detach = true;
        break;
    case O_INTERACTIVE:
        o->interactive = true;
        break;
    case O_TTY:
        o->tty = true;
        break;
    case O_RM:
        o->rm = true;
        break;
    case O_INIT:
        o->init = true;
        break;
    case O_READ_ONLY:
        o->read_only = true;
        break;
    case O_NAME:
        if (bundle_create_check_name(v, err) < 0)
            return ctr_error_wrap(err, "invalid value for `--name`");
        o->name = v;
        break;
    case O_ENV:
        return cli_opt_env(v, &o->env_flags, err);
    case O_ENV_FILE:
        ctr_strv_append(&o->env_files, v);
        break;
    case O_WORKDIR:
        return cli_opt_workdir(v, &o->workdir, err);
    case O_USER:
        o->user = v;
        break;
    case O_ENTRYPOINT:
        o->entrypoint = v;
        break;
    case O_CPUS:
        if (bundle_create_parse_cpus(v, &o->cpus, err) < 0)
            return ctr_error_wrap(err, "invalid value for `--cpus`");
        break;
    case O_MEMORY:
        if (bundle_create_parse_memory(v, &o->memory, err) < 0)
            return ctr_error_wrap(err, "invalid value for `--memory`");
        break;
    case O_LABEL:
        if (*v == '\0' || *v == '=')
            return ctr_fail(err, 0, "invalid value `%s` for `--label`: expected KEY=VALUE or KEY",
                            v);
        ctr_strv_append(&o->labels, v);
        break;
    case O_CIDFILE:
        o->cidfile = v;
        break;
    case O_VOLUME:
        return cli_run_mount_flag(o, "volume", v, err);
    case O_MOUNT:
        return cli_run_mount_flag(o, "mount", v, err);
    case O_TMPFS:
        return cli_run_mount_flag(o, "tmpfs", v, err);
    case O_SHM_SIZE:
        return cli_run_mount_flag(o, "shm-size", v, err);
    case O_PUBLISH:
    case O_NETWORK:
    case O_NETWORK_ALIAS:
    case O_IP:
    case O_MAC:
    case O_DNS:
    case O_DNS_SEARCH:
    case O_DNS_OPTION:
    case O_NO_DNS:
    case O_ADD_HOST: {
        const struct cli_option *f = run_options;
        while (f->id != id)
            f++;
        return cli_run_net_flag(o, f->long_name, v, err);
    }
    case O_HEALTH_CMD:
        o->health_cmd = v;
        o->health_set = true;
        break;
    case O_HEALTH_INTERVAL:
        o->health_set = true;
        return parse_go_duration("health-interval", v, &o->health_interval, err);
    case O_HEALTH_TIMEOUT:
        o->health_set = true;
        return parse_go_duration("health-timeout", v, &o->health_timeout, err);
    case O_HEALTH_START:
        o->health_set = true;
        return parse_go_duration("health-start-period", v, &o->health_start_period, err);
    case O_HEALTH_RETRIES: {
        char *end;
        long n = strtol(v, &end, 10);
        if (*v == '\0' || *end || n > 1000000)
            return ctr_fail(err, 0, "invalid value `%s` for `--health-retries`: a number", v);
        if (n < 0)
            return ctr_fail(err, 0, "`--health-retries` cannot be negative");
        o->health_retries = (int)n;
        o->health_set = true;
        break;
    }
    case O_NO_HEALTHCHECK:
        o->no_healthcheck = true;
        break;
    case O_DETACH_KEYS:
        if (ctr_detach_keys_parse(v, NULL, NULL) < 0)
            return ctr_fail(err, 0, "invalid value `%s` for `--detach-keys`: %s", v,
                            "keys are comma separated: a letter or ctrl-<value>, "
                            "value one of a-z, @, [, \\\\, ], ^, _");
        o->detach_keys = v;
        break;
    case O_ULIMIT: {
        struct agent_rlimit rl;
        if (bundle_create_parse_ulimit(v, &rl, err) < 0)
            return ctr_error_wrap(err, "invalid value for `--ulimit`");
        ctr_strv_append(&o->ulimits, v);
        break;
    }
    }
    return 0;
}

void cli_run_opts_release(struct cli_run_opts *o)
{
    ctr_strv_free(o->env_flags);
    ctr_strv_free(o->env_files);
    ctr_strv_free(o->labels);
    ctr_strv_free(o->ulimits);
    ctr_strv_free(o->binds);
    ctr_strv_free(o->mounts);
    ctr_strv_free(o->tmpfs);
    ctr_strv_free(o->env);
    ctr_strv_free(o->pos);
    cli_run_net_release(o);
    *o = (struct cli_run_opts){0};
}

int cli_opt_env(const char *v, char ***env_flags, ctr_error_t *err)
{
    if (*v == '\0' || *v == '=')
        return ctr_fail(err, 0, "invalid value `%s` for `--env`: expected NAME=VALUE or NAME", v);
    ctr_strv_append(env_flags, v);
    return 0;
}

int cli_opt_workdir(const char *v, const char **workdir, ctr_error_t *err)
{
    if (v[0] != '/')
        return ctr_fail(err, 0, "invalid value `%s` for `--workdir`: the path must be absolute", v);
    *workdir = v;
    return 0;
}

int cli_resolve_env(char **env_files, char **env_flags, char ***env, ctr_error_t *err)
{
    struct bundle_create_opts bo = {0};

    *env = ctr_xcalloc(1, sizeof(char *));
    for (char **f = env_files; f && *f; f++)
        if (bundle_create_parse_env_file(*f, &bo, env, err) < 0)
            return ctr_error_wrap(err, "`--env-file`");
    for (char **e = env_flags; e && *e; e++) {
        const char *val = strchr(*e, '=') ? NULL : getenv(*e);
        if (val) {
            cleanup_free char *kv = ctr_xasprintf("%s=%s", *e, val);
            ctr_strv_append(env, kv);
        } else {
            ctr_strv_append(env, *e);
        }
    }
    return 0;
}

int cli_run_parse(const char *cmd, int argc, char **argv, struct cli_run_opts *o, ctr_error_t *err)
{
    int r;

    *o = (struct cli_run_opts){0};
    r = cli_parse_opts(cmd, run_options, CLI_PARSE_STOP_AT_POSITIONAL, argc, argv, run_opt, o,
                       &o->pos, err);
    if (r != 0)
        return r;
    if (o->pos[0] == NULL)
        return ctr_fail(err, 0,
                        "`container %s` needs an image; usage: container %s [OPTIONS] "
                        "IMAGE [COMMAND] [ARG...]",
                        cmd, cmd);
    o->image = o->pos[0];
    o->cmd = o->pos + 1;
    if (strcmp(cmd, "create") == 0 && o->detach)
        o->detach = false; /* accepted, as Apple's create does, and meaningless */
    if (cli_run_net_check(o, err) < 0)
        return -1;
    if (o->no_healthcheck && o->health_set)
        return ctr_fail(err, 0, "`--no-healthcheck` conflicts with `--health-*` options");
    return cli_resolve_env(o->env_files, o->env_flags, &o->env, err) < 0 ? -1 : 0;
}

json_t *cli_run_body(const struct cli_run_opts *o, bool create_only)
{
    json_t *b = json_object(), *hc = json_object(), *labels = json_object();
    bool attach = !o->detach && !create_only;

    json_object_set_new(b, "Image", ctr_json_str(o->image));
    if (o->cmd && o->cmd[0])
        json_object_set_new(b, "Cmd", cli_json_strv(o->cmd));
    if (o->entrypoint) {
        json_t *ep = json_array();
        json_array_append_new(ep, ctr_json_str(o->entrypoint));
        json_object_set_new(b, "Entrypoint", ep);
    }
    json_object_set_new(b, "Env", cli_json_strv(o->env));
    if (o->workdir)
        json_object_set_new(b, "WorkingDir", ctr_json_str(o->workdir));
    if (o->user)
        json_object_set_new(b, "User", ctr_json_str(o->user));
    json_object_set_new(b, "Tty", json_boolean(o->tty));
    json_object_set_new(b, "OpenStdin", json_boolean(o->interactive));
    json_object_set_new(b, "StdinOnce", json_boolean(o->interactive && attach));
    json_object_set_new(b, "AttachStdin", json_boolean(o->interactive && attach));
    json_object_set_new(b, "AttachStdout", json_boolean(attach));
    json_object_set_new(b, "AttachStderr", json_boolean(attach));
    for (char **l = o->labels; l && *l; l++) {
        const char *eq = strchr(*l, '=');
        cleanup_free char *k = ctr_xstrndup(*l, eq ? (size_t)(eq - *l) : strlen(*l));
        cli_json_set_text(labels, k, eq ? eq + 1 : "");
    }
    json_object_set_new(b, "Labels", labels);
    if (o->memory)
        json_object_set_new(hc, "Memory", json_integer((json_int_t)o->memory));
    if (o->cpus)
        json_object_set_new(hc, "NanoCpus", json_integer((json_int_t)o->cpus * 1000000000));
    json_object_set_new(hc, "AutoRemove", json_boolean(o->rm));
    json_object_set_new(hc, "ReadonlyRootfs", json_boolean(o->read_only));
    if (o->init)
        json_object_set_new(hc, "Init", json_true());
    cli_run_mounts_json(o, hc);
    cli_run_net_json(o, b, hc);
    if (o->no_healthcheck) {
        json_object_set_new(b, "Healthcheck", json_pack("{s:[s]}", "Test", "NONE"));
    } else if (o->health_set) { /* docker's: an empty Test keeps the image's command */
        json_t *h = json_object();
        if (o->health_cmd)
            json_object_set_new(h, "Test", json_pack("[ss]", "CMD-SHELL", o->health_cmd));
        json_object_set_new(h, "Interval", json_integer(o->health_interval));
        json_object_set_new(h, "Timeout", json_integer(o->health_timeout));
        json_object_set_new(h, "StartPeriod", json_integer(o->health_start_period));
        json_object_set_new(h, "Retries", json_integer(o->health_retries));
        json_object_set_new(b, "Healthcheck", h);
    }
    if (o->ulimits) {
        json_t *ul = json_array();
        for (char **u = o->ulimits; *u; u++) {
            struct agent_rlimit rl;
            const char *eq = strchr(*u, '=');
            if (bundle_create_parse_ulimit(*u, &rl, NULL) < 0 || eq == NULL)
                continue; /* checked while parsing */
            json_int_t soft = rl.soft == (uint64_t)RLIM_INFINITY ? -1 : (json_int_t)rl.soft;
            json_int_t hard = rl.hard == (uint64_t)RLIM_INFINITY ? -1 : (json_int_t)rl.hard;
            json_t *e = json_object();
            json_object_set_new(e, "Name", json_stringn(*u, (size_t)(eq - *u)));
            json_object_set_new(e, "Soft", json_integer(soft));
            json_object_set_new(e, "Hard", json_integer(hard));
            json_array_append_new(ul, e);
        }
        json_object_set_new(hc, "Ulimits", ul);
    }
    struct winsize ws;
    if (attach && o->tty && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row && ws.ws_col)
        /* the process starts with our size (docker >= API 1.42 sends it too) */
        json_object_set_new(hc, "ConsoleSize", json_pack("[ii]", ws.ws_row, ws.ws_col));
    json_object_set_new(b, "HostConfig", hc);
    return b;
}

/* POST /containers/create; returns the id (caller frees). */
static char *create_container(const struct cli_ctx *ctx, const struct cli_run_opts *o,
                              bool create_only, ctr_error_t *err)
{
    json_t *body = cli_run_body(o, create_only), *resp = NULL;
    cleanup_free char *name = o->name ? cli_esc(o->name) : NULL;
    cleanup_free char *path =
        name ? cli_path("/containers/create?name=%s", name) : cli_path("/containers/create");
    char *id = NULL;

    int rc = cli_call(ctx, "POST", path, body, &resp, err);
    if (rc < 0 && strncmp((*err)->msg, "No such image: ", 15) == 0) {
        /* As docker's CLI: pull the missing image, then create again. */
        ctr_error_free(err);
        fprintf(stderr, "Unable to find image '%s' locally\n", o->image);
        rc = cli_image_pull(ctx, o->image, NULL, stderr, err);
        if (rc == 0)
            rc = cli_call(ctx, "POST", path, body, &resp, err);
    }
    if (rc == 0) {
        const char *s = cli_json_str(resp, "Id");
        json_t *w = json_object_get(resp, "Warnings");
        size_t i;
        json_t *v;
        json_array_foreach(w, i, v) if (json_is_string(v))
            fprintf(stderr, "WARNING: %s\n", json_string_value(v));
        if (s && *s)
            id = ctr_xstrdup(s);
        else
            ctr_fail(err, 0, "the daemon created a container but sent no `Id`");
    }
    json_decref(body);
    json_decref(resp);
    return id;
}

static int start_container(const struct cli_ctx *ctx, const char *id, ctr_error_t *err)
{
    cleanup_free char *eid = cli_esc(id);
    cleanup_free char *path = cli_path("/containers/%s/start", eid);
    return cli_call(ctx, "POST", path, NULL, NULL, err);
}

/* Attach, start, relay, then wait: the container's exit code, or 0 when the
 * user detached. wait_condition: "next-exit" or "removed". */
int cli_start_error_code(const char *msg)
{
    /* docker's mapping of a failed start: the command is the caller's fault */
    if (strstr(msg, "executable file not found") || strstr(msg, "no such file or directory"))
        return 127;
    if (strstr(msg, "permission denied"))
        return 126;
    return CLI_EXIT_FAILURE;
}

int cli_attach_and_start(struct cli_ctx *ctx, const char *id, bool tty, bool send_stdin,
                         const char *detach_keys, const char *wait_condition, bool start,
                         ctr_error_t *err)
{
    cleanup_free char *eid = cli_esc(id);
    const char *keys = detach_keys ? detach_keys : CTR_DETACH_KEYS_DEFAULT;
    cleanup_free char *ekeys = cli_esc(keys);
    cleanup_free char *apath =
        cli_path("/containers/%s/attach?stream=1&stdin=%d&stdout=1&stderr=1&detachKeys=%s", eid,
                 send_stdin ? 1 : 0, ekeys);
    cleanup_free char *rpath = cli_path("/containers/%s/resize", eid);
    cleanup_free char *kpath = cli_path("/containers/%s/kill", eid);
    cleanup_free char *pre = NULL;
    cleanup_close int fd = -1;
    struct cli_waiter *w = NULL;
    size_t pre_len = 0;
    bool detached = false;
    int code = 0;

    if (cli_hijack(ctx, "POST", apath, NULL, &fd, &pre, &pre_len, err) < 0)
        return -1;
    if (cli_wait_begin(ctx, id, wait_condition, &w, err) < 0)
        return -1;
    if (start && start_container(ctx, id, err) < 0) {
        /* The container will not run: drop the streams and do not wait (the
         * wait thread ends with the process). */
        shutdown(fd, SHUT_RDWR);
        if (strcmp(wait_condition, "removed") == 0) {
            ctr_error_t derr = NULL;
            cleanup_free char *dpath = cli_path("/containers/%s?force=1&v=1", eid);
            cli_call(ctx, "DELETE", dpath, NULL, NULL, &derr);
            ctr_error_free(&derr);
        }
        ctx->fail_code = cli_start_error_code((*err)->msg);
        return -1;
    }
    struct cli_pump_opts po = {.tty = tty,
                               .send_stdin = send_stdin,
                               .detach_keys = tty && send_stdin ? keys : NULL,
                               .resize_path = rpath,
                               .kill_path = tty ? NULL : kpath};
    if (cli_pump(ctx, fd, pre, pre_len, &po, &detached, err) < 0)
        return -1; /* the container goes on running; do not block on the wait */
    if (detached) {
        fprintf(stderr, "\r\ndetached from container %.12s; it keeps running\n", id);
        return 0; /* the wait thread dies with the process */
    }
    if (cli_wait_end(w, &code, err) < 0)
        return -1;
    return code;
}

int cli_cmd_run(struct cli_ctx *ctx, int argc, char **argv, ctr_error_t *err)
{
    bool create_only = strcmp(ctx->name, "create") == 0;
    struct cli_run_opts o;
    cleanup_free char *id = NULL;
    int r = cli_run_parse(ctx->name, argc, argv, &o, err);

    if (r != 0) {
        cli_run_opts_release(&o);
        if (r == 1)
            cli_print_usage(ctx, run_options, stdout);
        return r == 1 ? 0 : -1;
    }
    if (!create_only && !o.detach && o.tty && o.interactive && !isatty(STDIN_FILENO)) {
        cli_run_opts_release(&o);
        return ctr_fail(err, 0, "the input device is not a TTY; drop `-t` or run from a terminal");
    }
    if (o.cidfile && access(o.cidfile, F_OK) == 0) {
        ctr_fail(err, 0, "container ID file `%s` already exists; remove it first", o.cidfile);
        cli_run_opts_release(&o);
        return -1;
    }
    id = create_container(ctx, &o, create_only, err);
    if (id == NULL)
        goto fail;
    if (o.cidfile) {
        cleanup_free char *line = ctr_xasprintf("%s", id);
        if (ctr_write_file_atomic(o.cidfile, line, strlen(line), 0644, err) < 0) {
            ctr_error_wrap(err, "writing `--cidfile`");
            goto fail;
        }
    }
    if (create_only || o.detach) {
        if (!create_only && start_container(ctx, id, err) < 0)
            goto fail;
        printf("%s\n", id);
        cli_run_opts_release(&o);
        return 0;
    }
    r = cli_attach_and_start(ctx, id, o.tty, o.interactive, o.detach_keys,
                             o.rm ? "removed" : "next-exit", true, err);
    cli_run_opts_release(&o);
    return r;
fail:
    cli_run_opts_release(&o);
    return -1;
}

/* ---- start ---- */
static const struct cli_option start_options[] = {
    CLI_OPT_BOOL('a', "attach", 'a', "attach stdout/stderr (one container)"),
    CLI_OPT_BOOL('i', "interactive", 'i', "attach stdin"),
    CLI_OPT_END,
};

static int start_opt(void *opaque, int id, const char *v, ctr_error_t *err)
{
    struct cli_start_opts *o = opaque;
    if (id == 'a')
        o->attach = true;
    else
        o->interactive = true;
    return 0;
}

int cli_start_parse(int argc, char **argv, struct cli_start_opts *o, ctr_error_t *err)
{
    int r;
    *o = (struct cli_start_opts){0};
    r = cli_parse_opts("start", start_options, 0, argc, argv, start_opt, o, &o->ids, err);
    if (r != 0)
        return r;
    if (cli_check_args("start", o->ids, 1, (o->attach || o->interactive) ? 1 : -1,
                       (o->attach || o->interactive) ? "exactly one container to attach to"
                                                     : "at least one container",
                       err) < 0)
        return -1;
    return 0;
}

int cli_cmd_start(struct cli_ctx *ctx, int argc, char **argv, ctr_error_t *err)
{
    struct cli_start_opts o;
    cleanup_strv char **ids = NULL;
    int r = cli_start_parse(argc, argv, &o, err);
    int rc = 0;

    ids = o.ids;
    if (r != 0) {
        if (r == 1)
            cli_print_usage(ctx, start_options, stdout);
        return r == 1 ? 0 : -1;
    }
    if (o.attach || o.interactive) {
        json_t *info = NULL;
        cleanup_free char *eid = cli_esc(ids[0]);
        cleanup_free char *path = cli_path("/containers/%s/json", eid);
        if (cli_call(ctx, "GET", path, NULL, &info, err) < 0)
            return -1;
        json_t *cfg = json_object_get(info, "Config");
        bool tty = cli_json_bool(cfg, "Tty");
        bool stdin_ok = o.interactive && cli_json_bool(cfg, "OpenStdin");
        cleanup_free char *id =
            ctr_xstrdup(cli_json_str(info, "Id") ? cli_json_str(info, "Id") : ids[0]);
        json_decref(info);
        return cli_attach_and_start(ctx, id, tty, stdin_ok, NULL, "next-exit", true, err);
    }
    for (char **i = ids; *i; i++) {
        ctr_error_t e = NULL;
        if (start_container(ctx, *i, &e) < 0) {
            fprintf(stderr, "container: start `%s`: %s\n", *i, e->msg);
            ctr_error_free(&e);
            rc = 1;
            continue;
        }
        printf("%s\n", *i);
    }
    return rc;
}
