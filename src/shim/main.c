/* container-runtime: the per-container shim's command interface (docs/runtime.md).
 * One dispatch table; each command parses its arguments and makes one call. */
#include "proto/shim.h"
#include "shim/shim.h"
#include "shimc/shimc.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#define PROG "container-runtime"

static int usage_error(const char *cmd, const char *usage)
{
    fprintf(stderr, "usage: " PROG " %s %s\n", cmd, usage);
    return 2;
}

static int finish(int ret, int code, ctr_error_t *err)
{
    if (ret < 0 && *err)
        ctr_error_print(PROG, *err);
    ctr_error_free(err);
    return code;
}

static int cmd_run(int argc, char **argv)
{
    ctr_error_t err = NULL;
    struct shim_run_opts o = {.foreground = true, .notify_fd = -1};
    int code = 125;
    if (argc != 2)
        return usage_error("run", "BUNDLE");
    int r = shim_run(argv[1], &o, &code, &err);
    return finish(r, code, &err);
}

static int cmd_start(int argc, char **argv)
{
    ctr_error_t err = NULL;
    int code = 125;
    if (argc != 2)
        return usage_error("start", "BUNDLE");
    int r = shim_start_detached(argv[1], &code, &err);
    return finish(r, r < 0 ? code : 0, &err);
}

static int cmd_exec(int argc, char **argv)
{
    static const struct option opts[] = {
        {"interactive", no_argument, 0, 'i'}, {"tty", no_argument, 0, 't'},
        {"env", required_argument, 0, 'e'},   {"workdir", required_argument, 0, 'w'},
        {"user", required_argument, 0, 'u'},  {0, 0, 0, 0}};
    const char *usage = "BUNDLE [-i] [-t] [-e NAME=VALUE]... [-w DIR] [-u USER] -- ARGS...";
    struct shimc_exec_opts o = {0};
    cleanup_strv char **env = ctr_xcalloc(1, sizeof(char *));
    ctr_error_t err = NULL;
    int c, code = 125;

    if (argc < 2 || argv[1][0] == '-')
        return usage_error("exec", usage);
    const char *bundle = argv[1];
    argc--, argv++; /* options follow the bundle; getopt consumes the `--` */
    optind = 1;
    while ((c = getopt_long(argc, argv, "+ite:w:u:", opts, NULL)) != -1) {
        switch (c) {
        case 'i':
            o.interactive = true;
            break;
        case 't':
            o.tty = true;
            break;
        case 'e':
            if (strchr(optarg, '=') == NULL || optarg[0] == '=') {
                fprintf(stderr, PROG ": exec: `-e %s` must be NAME=VALUE\n", optarg);
                return 2;
            }
            ctr_strv_append(&env, optarg);
            break;
        case 'w':
            if (optarg[0] != '/') {
                fprintf(stderr, PROG ": exec: working directory `%s` must be absolute\n", optarg);
                return 2;
            }
            o.cwd = optarg;
            break;
        case 'u':
            o.user = optarg;
            break;
        default:
            return usage_error("exec", usage);
        }
    }
    if (argc - optind < 1)
        return usage_error("exec", usage);
    o.args = argv + optind;
    o.env = env;
    int r = shimc_exec(bundle, &o, &code, &err);
    return finish(r, code, &err);
}

static int cmd_attach(int argc, char **argv)
{
    ctr_error_t err = NULL;
    bool interactive = false;
    int code = 125, i = 1;
    if (argc == 3 && (strcmp(argv[1], "-i") == 0 || strcmp(argv[1], "--interactive") == 0)) {
        interactive = true;
        i = 2;
    } else if (argc != 2) {
        return usage_error("attach", "[-i] BUNDLE");
    }
    int r = shimc_attach(argv[i], interactive, &code, &err);
    return finish(r, code, &err);
}

static int parse_signal(const char *s)
{
    char *end;
    long n = strtol(s, &end, 10);
    if (*end == '\0')
        return n > 0 && n < NSIG ? (int)n : -1;
    if (strncasecmp(s, "SIG", 3) == 0)
        s += 3;
    for (int i = 1; i < NSIG; i++) {
        const char *abbrev = sigabbrev_np(i);
        if (abbrev && strcasecmp(abbrev, s) == 0)
            return i;
    }
    return -1;
}

static int cmd_kill(int argc, char **argv)
{
    ctr_error_t err = NULL;
    int sig = SIGTERM;
    if (argc != 2 && argc != 3)
        return usage_error("kill", "BUNDLE [SIGNAL]");
    if (argc == 3 && (sig = parse_signal(argv[2])) < 0) {
        fprintf(stderr, PROG ": kill: unknown signal `%s`\n", argv[2]);
        return 2;
    }
    int r = shimc_kill(argv[1], sig, &err);
    return finish(r, r < 0 ? 1 : 0, &err);
}

static int cmd_stop(int argc, char **argv)
{
    ctr_error_t err = NULL;
    long t = 10;
    const char *bundle = NULL;
    for (int i = 1; i < argc; i++) {
        if ((strcmp(argv[i], "-t") == 0 || strcmp(argv[i], "--time") == 0) && i + 1 < argc) {
            char *end;
            t = strtol(argv[++i], &end, 10);
            if (*end || t < 0 || t > 86400) {
                fprintf(stderr, PROG ": stop: `-t %s` must be seconds (0-86400)\n", argv[i]);
                return 2;
            }
        } else if (bundle == NULL) {
            bundle = argv[i];
        } else {
            return usage_error("stop", "BUNDLE [-t SECONDS]");
        }
    }
    if (bundle == NULL)
        return usage_error("stop", "BUNDLE [-t SECONDS]");
    int r = shimc_stop(bundle, (unsigned)t, &err);
    return finish(r, r < 0 ? 1 : 0, &err);
}

static int cmd_state(int argc, char **argv)
{
    ctr_error_t err = NULL;
    cleanup_free char *json = NULL;
    if (argc != 2)
        return usage_error("state", "BUNDLE");
    int r = shimc_state(argv[1], &json, &err);
    if (r == 0)
        fputs(json, stdout);
    return finish(r, r < 0 ? 1 : 0, &err);
}

static int cmd_delete(int argc, char **argv)
{
    ctr_error_t err = NULL;
    bool force = false;
    const char *bundle = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-f") == 0 || strcmp(argv[i], "--force") == 0)
            force = true;
        else if (bundle == NULL)
            bundle = argv[i];
        else
            return usage_error("delete", "[-f] BUNDLE");
    }
    if (bundle == NULL)
        return usage_error("delete", "[-f] BUNDLE");
    int r = shimc_delete(bundle, force, &err);
    return finish(r, r < 0 ? 1 : 0, &err);
}

static int cmd_archive(int argc, char **argv)
{
    const char *usage = "BUNDLE stat|get|put PATH [--export] [--result-fd N]";
    struct shim_archive_job job = {.in_fd = 0, .out_fd = 1, .result_fd = -1};
    struct shimc_path_stat st = {0};
    ctr_error_t err = NULL;
    int i, r;

    if (argc < 4)
        return usage_error("archive", usage);
    if (strcmp(argv[2], "stat") == 0)
        job.op = SHIMP_OP_ARCHIVE_STAT;
    else if (strcmp(argv[2], "get") == 0)
        job.op = SHIMP_OP_ARCHIVE_GET;
    else if (strcmp(argv[2], "put") == 0)
        job.op = SHIMP_OP_ARCHIVE_PUT;
    else
        return usage_error("archive", usage);
    job.path = argv[3];
    for (i = 4; i < argc; i++) {
        if (strcmp(argv[i], "--export") == 0 && job.op == SHIMP_OP_ARCHIVE_GET) {
            job.export_all = true;
        } else if (strcmp(argv[i], "--result-fd") == 0 && i + 1 < argc) {
            char *end;
            long fd = strtol(argv[++i], &end, 10);
            if (*end || fd < 3 || fd > 1024) {
                fprintf(stderr, PROG ": archive: `--result-fd %s` must be a descriptor >= 3\n",
                        argv[i]);
                return 2;
            }
            job.result_fd = (int)fd;
        } else {
            return usage_error("archive", usage);
        }
    }
    if (job.path[0] != '/') {
        fprintf(stderr, PROG ": archive: path `%s` must be absolute\n", job.path);
        return 2;
    }
    if (job.export_all && strcmp(job.path, "/") != 0) {
        fprintf(stderr, PROG ": archive: `--export` takes the path `/`\n");
        return 2;
    }
    if (job.result_fd >= 0) /* the maintenance vm itself (what shimc runs) */
        r = shim_archive_offline(argv[1], &job, &err);
    else if (job.op == SHIMP_OP_ARCHIVE_STAT)
        r = shimc_archive_stat(argv[1], job.path, &st, &err);
    else if (job.op == SHIMP_OP_ARCHIVE_GET)
        r = shimc_archive_get(argv[1], job.path, job.export_all, 1, NULL, &err);
    else
        r = shimc_archive_put(argv[1], job.path, 0, &err);
    if (r == 0 && job.op == SHIMP_OP_ARCHIVE_STAT && job.result_fd < 0) {
        /* the stat object of the shim protocol's reply: names are escaped there */
        struct agent_path_stat ps = {.name = st.name,
                                     .size = st.size,
                                     .mode = st.mode,
                                     .mtime = st.mtime,
                                     .link_target = st.link_target};
        struct shimp_msg m = {.kind = SHIMP_MSG_REPLY, .ok = true, .stat = &ps};
        size_t len;
        cleanup_free char *json = shimp_msg_encode(&m, &len);
        json_t *o = json_loadb(json, len, 0, NULL);
        char *out = o ? json_dumps(json_object_get(o, "stat"), JSON_COMPACT) : NULL;
        if (out)
            printf("%s\n", out);
        free(out);
        json_decref(o);
    }
    shimc_path_stat_release(&st);
    return finish(r, r < 0 ? 1 : 0, &err);
}

static const struct {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *help;
} commands[] = {
    {"run", cmd_run, "run BUNDLE              boot and run in the foreground"},
    {"start", cmd_start, "start BUNDLE            boot and run detached"},
    {"exec", cmd_exec, "exec BUNDLE [opts] -- ARGS  run another process in the container"},
    {"attach", cmd_attach, "attach [-i] BUNDLE      attach to the main process"},
    {"kill", cmd_kill, "kill BUNDLE [SIGNAL]    signal the main process"},
    {"stop", cmd_stop, "stop BUNDLE [-t SECS]   SIGTERM, grace, SIGKILL, power off"},
    {"state", cmd_state, "state BUNDLE            print state.json"},
    {"delete", cmd_delete, "delete [-f] BUNDLE      remove the runtime's state"},
    {"archive", cmd_archive,
     "archive BUNDLE stat|get|put PATH [--export]  cp/export of a stopped container"},
};

int main(int argc, char **argv)
{
    ctr_log_set_prog(PROG);
    const char *lvl = getenv("CONTAINER_RUNTIME_LOG");
    if (lvl && strcmp(lvl, "debug") == 0)
        ctr_log_set_level(CTR_LOG_DEBUG);
    else if (lvl && strcmp(lvl, "info") == 0)
        ctr_log_set_level(CTR_LOG_INFO);
    if (argc >= 2) {
        for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
            if (strcmp(argv[1], commands[i].name) == 0)
                return commands[i].fn(argc - 1, argv + 1);
    }
    fprintf(stderr, "usage: " PROG " COMMAND ...\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(stderr, "  %s\n", commands[i].help);
    return 2;
}
