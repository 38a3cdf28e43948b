/* The dispatch table of `container`: global flags, then a command (or a group
 * and its subcommand) and its function. */
#include "cli/cli.h"

#include <stdlib.h>
#include <string.h>

struct command {
    const char *name;
    const char *alias; /* NULL or a second name */
    cli_cmd_fn fn;
    const struct command *sub; /* a group: its subcommands */
    const char *summary;
    const char *usage;
};

static const struct command system_cmds[] = {
    {"start", NULL, cli_cmd_system_start, NULL, "start the daemon (container-apiserver)",
     "usage: container system start [--root DIR] [--run-root DIR] [--kernel PATH] [--initrd PATH]\n"
     "                              [--timeout SECONDS] [--log-level LEVEL]\n"
     "Starts container-apiserver in the background and waits until it answers.\n"},
    {"stop", NULL, cli_cmd_system_stop, NULL, "stop the daemon (containers keep running)",
     "usage: container system stop [--containers] [--timeout SECONDS]\n"},
    {"status", NULL, cli_cmd_system_status, NULL, "show whether the daemon runs and its state",
     "usage: container system status [--format json|table]\n"},
    {"version", NULL, cli_cmd_system_version, NULL, "show client and daemon versions",
     "usage: container system version [--format json|table]\n"},
    {"logs", NULL, cli_cmd_system_logs, NULL, "show the daemon's log",
     "usage: container system logs [-f] [-n N]\n"},
    {"df", NULL, cli_cmd_system_df, NULL, "show disk usage",
     "usage: container system df [--format json|table]\n"},
    {"kernel", NULL, NULL,
     (const struct command[]){{"set", NULL, cli_cmd_system_kernel_set, NULL,
                               "install the guest kernel",
                               "usage: container system kernel set --binary PATH\n"},
                              {0}},
     "manage the guest kernel", "usage: container system kernel set --binary PATH\n"},
    {0},
};

static const struct command volume_cmds[] = {
    {"create", NULL, cli_cmd_volume_create, NULL, "create a named volume",
     "usage: container volume create [-l KEY=VALUE]... [-o KEY=VALUE]... NAME\n"},
    {"list", "ls", cli_cmd_volume_ls, NULL, "list volumes",
     "usage: container volume list [-q] [--format json|table]\n"},
    {"inspect", NULL, cli_cmd_volume_inspect, NULL, "show volumes as JSON",
     "usage: container volume inspect VOLUME...\n"},
    {"delete", "rm", cli_cmd_volume_rm, NULL, "remove volumes (not while a container uses them)",
     "usage: container volume delete [-f] VOLUME...\n"},
    {"prune", NULL, cli_cmd_volume_prune, NULL, "remove volumes no container uses",
     "usage: container volume prune [-f]\n"},
    {0},
};

static const struct command network_cmds[] = {
    {"create", NULL, cli_cmd_network_create, NULL, "create a network",
     "usage: container network create [--subnet CIDR] [--internal] [-l KEY=VALUE]... NAME\n"},
    {"list", "ls", cli_cmd_network_ls, NULL, "list networks",
     "usage: container network list [-q] [-f/--filter KEY=VALUE]... [--format json|table]\n"
     "  filters: name, id, label=KEY[=VALUE], driver, scope, type (custom|builtin), dangling\n"},
    {"inspect", NULL, cli_cmd_network_inspect, NULL, "show networks as JSON",
     "usage: container network inspect NETWORK...\n"},
    {"delete", "rm", cli_cmd_network_rm, NULL, "remove networks (not while containers use them)",
     "usage: container network delete [-f] NETWORK...\n"},
    {"prune", NULL, cli_cmd_network_prune, NULL, "remove networks no container uses",
     "usage: container network prune [-f] [--filter label=KEY[=VALUE]]...\n"},
    {"connect", NULL, cli_cmd_network_connect, NULL, "attach a stopped container to a network",
     "usage: container network connect [--alias NAME]... NETWORK CONTAINER\n"
     "The container must be stopped (a VM gets its network devices at boot).\n"},
    {"disconnect", NULL, cli_cmd_network_disconnect, NULL,
     "detach a stopped container from a network",
     "usage: container network disconnect [-f] NETWORK CONTAINER\n"},
    {0},
};

static const struct command image_cmds[] = {
    {"list", "ls", cli_cmd_image_ls, NULL, "list images",
     "usage: container image list [-a] [-q] [--format json|table]\n"},
    {"delete", "rm", cli_cmd_image_rm, NULL, "remove images",
     "usage: container image delete [-f] [-a] IMAGE...\n"},
    {"tag", NULL, cli_cmd_image_tag, NULL, "give an image another name",
     "usage: container image tag SOURCE TARGET\n"},
    {"inspect", NULL, cli_cmd_image_inspect, NULL, "show images as JSON",
     "usage: container image inspect IMAGE...\n"},
    {"prune", NULL, cli_cmd_image_prune, NULL, "remove unused images",
     "usage: container image prune [-a]\n"},
    {"load", NULL, cli_cmd_image_load, NULL, "load images from an OCI or docker archive",
     "usage: container image load -i FILE   (or the archive on stdin)\n"},
    {"save", NULL, cli_cmd_image_save, NULL, "save images to an archive",
     "usage: container image save -o FILE IMAGE...   (or to stdout)\n"},
    {"pull", NULL, cli_cmd_image_pull, NULL, "pull an image from a registry",
     "usage: container image pull [OPTIONS] REFERENCE\n"},
    {"push", NULL, cli_cmd_image_push, NULL, "push an image to a registry",
     "usage: container image push [--scheme http|https|auto] [--progress none|plain|ansi] "
     "REFERENCE\n"},
    {0},
};

static const struct command registry_cmds[] = {
    {"login", NULL, cli_cmd_registry_login, NULL, "log in to a registry",
     "usage: container registry login [-u USER] [--password-stdin] [--scheme http|https|auto] "
     "SERVER\n"},
    {"logout", NULL, cli_cmd_registry_logout, NULL, "forget a registry's credentials",
     "usage: container registry logout SERVER\n"},
    {"list", "ls", cli_cmd_registry_list, NULL, "list registries with stored credentials",
     "usage: container registry list [-q] [--format json|table]\n"},
    {0},
};

static const struct command commands[] = {
    {"run", NULL, cli_cmd_run, NULL, "run a command in a new container",
     "usage: container run [OPTIONS] IMAGE [COMMAND] [ARG...]\n"},
    {"create", NULL, cli_cmd_run, NULL, "create a container without starting it",
     "usage: container create [OPTIONS] IMAGE [COMMAND] [ARG...]\n"},
    {"start", NULL, cli_cmd_start, NULL, "start containers",
     "usage: container start [-a] [-i] CONTAINER...\n"},
    {"stop", NULL, cli_cmd_stop, NULL, "stop containers",
     "usage: container stop [-a] [-t SECONDS] [-s SIGNAL] CONTAINER...\n"},
    {"kill", NULL, cli_cmd_kill, NULL, "signal containers (default KILL)",
     "usage: container kill [-a] [-s SIGNAL] CONTAINER...\n"},
    {"pause", NULL, cli_cmd_pause, NULL, "pause containers (stop their VMs' vCPUs)",
     "usage: container pause [-a] CONTAINER...\n"},
    {"unpause", NULL, cli_cmd_pause, NULL, "unpause paused containers",
     "usage: container unpause CONTAINER...\n"},
    {"restart", NULL, cli_cmd_restart, NULL, "restart containers",
     "usage: container restart [-t SECONDS] CONTAINER...\n"},
    {"delete", "rm", cli_cmd_delete, NULL, "remove containers",
     "usage: container delete [-f] [-v] [-a] CONTAINER...\n"},
    {"cp", NULL, cli_cmd_cp, NULL, "copy files between a container and the local filesystem",
     "usage: container cp [-a] [-L] CONTAINER:SRC_PATH DEST_PATH|-\n"
     "       container cp [-a] [-L] SRC_PATH|- CONTAINER:DEST_PATH\n"
     "  `-` streams a tar on stdin or stdout; a SRC_PATH ending in `/.` copies the\n"
     "  directory's contents\n"},
    {"export", NULL, cli_cmd_export, NULL, "write a container's filesystem as a tar",
     "usage: container export [-o FILE] CONTAINER\n"},
    {"commit", NULL, cli_cmd_commit, NULL, "make an image of a container's changes",
     "usage: container commit [-a AUTHOR] [-m MESSAGE] [-c INSTRUCTION]... CONTAINER "
     "[REPOSITORY[:TAG]]\n"
     "  a running container keeps running; without a name the image is untagged\n"},
    {"build", NULL, cli_cmd_build, NULL,
     "build an image from a Dockerfile (not yet: only --dump-instructions)",
     "usage: container build --dump-instructions [-f FILE|-] [CONTEXT]\n"
     "  prints each instruction of the Dockerfile as one JSON line (docs/build.md); building\n"
     "  itself is not implemented yet\n"},
    {"diff", NULL, cli_cmd_diff, NULL, "list the files a container changed",
     "usage: container diff CONTAINER\n"
     "  A added, C changed, D deleted, as `docker diff`\n"},
    {"list", "ls", cli_cmd_ls, NULL, "list containers",
     "usage: container list [-a] [-q] [--format json|table]\n"},
    {"top", NULL, cli_cmd_top, NULL, "list the processes of a running container",
     "usage: container top CONTAINER [-ef|-e|-f|aux|ax]\n"
     "  read by the VM's init from /proc: no `ps` needed in the image; PIDs are the VM's\n"},
    {"exec", NULL, cli_cmd_exec, NULL, "run a command in a running container",
     "usage: container exec [-d] [-i] [-t] [-e NAME=VALUE] [--env-file FILE] [-w DIR] [-u USER] "
     "CONTAINER COMMAND [ARG...]\n"},
    {"logs", NULL, cli_cmd_logs, NULL, "show a container's output",
     "usage: container logs [-f] [-n N] [-t] [--boot] CONTAINER\n"},
    {"inspect", NULL, cli_cmd_inspect, NULL, "show containers as JSON",
     "usage: container inspect CONTAINER...\n"},
    {"attach", NULL, cli_cmd_attach, NULL, "attach to a running container",
     "usage: container attach [--no-stdin] CONTAINER\n"},
    {"wait", NULL, cli_cmd_wait, NULL, "wait for containers to stop and print their exit codes",
     "usage: container wait CONTAINER...\n"},
    {"stats", NULL, cli_cmd_stats, NULL, "show resource usage",
     "usage: container stats [--no-stream] [--format json|table] [CONTAINER...]\n"},
    {"prune", NULL, cli_cmd_prune, NULL, "remove all stopped containers",
     "usage: container prune\n"},
    {"port", NULL, cli_cmd_port, NULL, "list a container's published ports",
     "usage: container port CONTAINER [PORT[/PROTO]]\n"},
    {"network", "n", NULL, network_cmds, "manage networks", NULL},
    {"image", "i", NULL, image_cmds, "manage images", NULL},
    {"volume", "v", NULL, volume_cmds, "manage volumes", NULL},
    {"images", NULL, cli_cmd_image_ls, NULL, "list images (image list)",
     "usage: container images [-a] [-q] [--format json|table]\n"},
    {"registry", NULL, NULL, registry_cmds, "manage registry logins", NULL},
    {"system", NULL, NULL, system_cmds, "manage the daemon", NULL},
    {"ps", NULL, cli_cmd_ls, NULL, "list containers (list)",
     "usage: container ps [-a] [-q] [--format json|table]\n"},
    {0},
};

static void print_group(FILE *f, const char *prefix, const struct command *cmds)
{
    fprintf(f, "usage: container [--socket PATH] [--debug] %sCOMMAND [ARGS...]\n\ncommands:\n",
            prefix);
    for (const struct command *c = cmds; c->name; c++) {
        cleanup_free char *n =
            c->alias ? ctr_xasprintf("%s, %s", c->name, c->alias) : ctr_xstrdup(c->name);
        fprintf(f, "  %-16s %s\n", n, c->summary);
    }
    fprintf(f, "\nRun `container %sCOMMAND --help` for a command's flags.\n", prefix);
}

static const struct command *find(const struct command *cmds, const char *name)
{
    for (const struct command *c = cmds; c->name; c++)
        if (strcmp(c->name, name) == 0 || (c->alias && strcmp(c->alias, name) == 0))
            return c;
    return NULL;
}

static const char *socket_from_env(void)
{
    const char *h = getenv("CONTAINER_HOST");
    if (h == NULL || *h == '\0')
        return NULL;
    return strncmp(h, "unix://", 7) == 0 ? h + 7 : h;
}

int cli_main(int argc, char **argv)
{
    struct cli_ctx ctx = {.socket = CLI_DEFAULT_SOCKET};
    const struct command *group = commands, *c = NULL;
    cleanup_free char *prefix = ctr_xstrdup(""), *name = NULL;
    ctr_error_t err = NULL;
    int i = 1, rc;

    ctr_log_set_prog("container");
    if (socket_from_env()) {
        ctx.socket = socket_from_env();
        ctx.socket_explicit = true;
    }
    /* Global flags come before the command. */
    for (; i < argc && argv[i][0] == '-'; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--debug") == 0 || strcmp(a, "-D") == 0) {
            ctx.debug = true;
            ctr_log_set_level(CTR_LOG_DEBUG);
        } else if (strcmp(a, "--version") == 0 || strcmp(a, "-v") == 0) {
            printf("container version %s (API %s)\n", CLI_VERSION, CLI_API_PREFIX + 2);
            return 0;
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            print_group(stdout, "", commands);
            return 0;
        } else if (strcmp(a, "--socket") == 0 || strcmp(a, "-H") == 0) {
            if (i + 1 >= argc) {
                fprintf(stderr, "container: flag `%s` needs a value\n", a);
                return 2;
            }
            ctx.socket = argv[++i];
            if (strncmp(ctx.socket, "unix://", 7) == 0)
                ctx.socket += 7;
            ctx.socket_explicit = true;
        } else if (strncmp(a, "--socket=", 9) == 0) {
            ctx.socket = a + 9;
            ctx.socket_explicit = true;
        } else {
            fprintf(stderr, "container: unknown global flag `%s`; see `container --help`\n", a);
            return 2;
        }
    }
    if (i >= argc) {
        print_group(stderr, "", commands);
        return 2;
    }
    if (strcmp(argv[i], "help") == 0) {
        /* `container help [GROUP] [COMMAND]` */
        for (i++; i < argc; i++) {
            c = find(group, argv[i]);
            if (c == NULL)
                break;
            if (c->sub) {
                char *p = ctr_xasprintf("%s%s ", prefix, c->name);
                free(prefix);
                prefix = p;
                group = c->sub;
                c = NULL;
                continue;
            }
            /* the same text as `container ... COMMAND --help` */
            char *help_argv[] = {argv[i], "--help", NULL};
            ctx.name = argv[i];
            ctx.usage = c->usage;
            if (c->fn(&ctx, 2, help_argv, &err) < 0) {
                ctr_error_print("container", err);
                ctr_error_free(&err);
                return 1;
            }
            return 0;
        }
        if (i < argc) {
            fprintf(stderr, "container: unknown command `%s%s`\n", prefix, argv[i]);
            return 2;
        }
        print_group(stdout, prefix, group);
        return 0;
    }
    for (; i < argc; i++) {
        c = find(group, argv[i]);
        if (c == NULL) {
            fprintf(stderr, "container: unknown command `%s%s`; see `container %s--help`\n", prefix,
                    argv[i], prefix);
            return 2;
        }
        if (c->sub == NULL)
            break;
        char *p = ctr_xasprintf("%s%s ", prefix, c->name);
        free(prefix);
        prefix = p;
        group = c->sub;
        if (i + 1 >= argc || strcmp(argv[i + 1], "--help") == 0 || strcmp(argv[i + 1], "-h") == 0) {
            print_group(i + 1 >= argc ? stderr : stdout, prefix, group);
            return i + 1 >= argc ? 2 : 0;
        }
    }
    /* The name as typed (for messages): "run", "image ls", ... */
    name = ctr_xasprintf("%s%s", prefix, argv[i]);
    ctx.name = name;
    ctx.usage = c->usage;
    rc = c->fn(&ctx, argc - i, argv + i, &err);
    if (rc < 0) {
        ctr_error_print("container", err);
        ctr_error_free(&err);
        if (ctx.fail_code)
            return ctx.fail_code;
        /* docker's convention: run/create/start/exec failures before the process is 125. */
        return group == commands &&
                       (c->fn == cli_cmd_run || c->fn == cli_cmd_exec || c->fn == cli_cmd_start)
                   ? CLI_EXIT_FAILURE
                   : 1;
    }
    return rc;
}
