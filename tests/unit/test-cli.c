/* The container CLI without a daemon: flag parsing per command (bad flags give
 * errors naming the flag), the create/exec request bodies, table and human
 * formats, and the dispatch table's answers to unknown commands. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"

#define ARGV(...) ((char *[]){__VA_ARGS__, NULL})
#define ARGC(...) ((int)(sizeof((char *[]){__VA_ARGS__}) / sizeof(char *)))
/* Parse with cli_run_parse; returns its result, keeps the error message. */
#define RUN_PARSE(o, msg, ...) run_parse(o, msg, ARGC(__VA_ARGS__), ARGV(__VA_ARGS__))

static int run_parse(struct cli_run_opts *o, char **msg, int argc, char **argv)
{
    ctr_error_t err = NULL;
    int r = cli_run_parse(strcmp(argv[0], "create") == 0 ? "create" : "run", argc, argv, o, &err);
    *msg = err ? ctr_error_take_msg(&err) : NULL;
    return r;
}

static void assert_fails_with(int r, char *msg, const char *needle)
{
    assert_int_equal(r, -1);
    assert_non_null(msg);
    if (strstr(msg, needle) == NULL)
        fail_msg("message `%s` lacks `%s`", msg, needle);
    free(msg);
}

static void test_run_flags(void **state)
{
    struct cli_run_opts o;
    char *msg;

    setenv("CLI_TEST_FROM_HOST", "hostval", 1);
    unsetenv("CLI_TEST_UNSET");
    assert_int_equal(RUN_PARSE(&o, &msg, "run", "-dit", "--rm", "--name=web", "-e", "A=1", "-eB=2",
                               "-e", "CLI_TEST_FROM_HOST", "-e", "CLI_TEST_UNSET", "-w", "/srv",
                               "-u", "app:app", "--entrypoint", "", "-c", "3", "-m", "256M", "-l",
                               "k=v", "--label", "flag", "--init", "--read-only", "--ulimit",
                               "nofile=100:200", "--cidfile", "/tmp/cid", "busybox", "sh", "-c",
                               "echo -d"),
                     0);
    assert_true(o.detach && o.interactive && o.tty && o.rm && o.init && o.read_only);
    assert_string_equal(o.name, "web");
    assert_string_equal(o.workdir, "/srv");
    assert_string_equal(o.user, "app:app");
    assert_string_equal(o.entrypoint, "");
    assert_int_equal(o.cpus, 3);
    assert_int_equal(o.memory, 256ull << 20);
    assert_string_equal(o.image, "busybox");
    /* flags after the image belong to the command */
    assert_int_equal(ctr_strv_len(o.cmd), 3);
    assert_string_equal(o.cmd[2], "echo -d");
    assert_int_equal(ctr_strv_len(o.env), 4);
    assert_string_equal(o.env[0], "A=1");
    assert_string_equal(o.env[1], "B=2");
    assert_string_equal(o.env[2], "CLI_TEST_FROM_HOST=hostval");
    assert_string_equal(o.env[3], "CLI_TEST_UNSET"); /* bare: unset in the container */

    json_t *b = cli_run_body(&o, false);
    json_t *hc = json_object_get(b, "HostConfig");
    assert_string_equal(cli_json_str(b, "Image"), "busybox");
    assert_int_equal(json_array_size(json_object_get(b, "Entrypoint")), 1);
    assert_string_equal(json_string_value(json_array_get(json_object_get(b, "Entrypoint"), 0)), "");
    assert_int_equal(cli_json_int(hc, "Memory"), 256 << 20);
    assert_int_equal(cli_json_int(hc, "NanoCpus"), 3000000000LL);
    assert_true(cli_json_bool(hc, "AutoRemove"));
    assert_true(cli_json_bool(hc, "ReadonlyRootfs"));
    assert_true(cli_json_bool(hc, "Init"));
    /* detached: nothing attached */
    assert_false(cli_json_bool(b, "AttachStdin"));
    assert_false(cli_json_bool(b, "AttachStdout"));
    assert_true(cli_json_bool(b, "OpenStdin"));
    json_t *ul = json_array_get(json_object_get(hc, "Ulimits"), 0);
    assert_string_equal(cli_json_str(ul, "Name"), "nofile");
    assert_int_equal(cli_json_int(ul, "Soft"), 100);
    assert_int_equal(cli_json_int(ul, "Hard"), 200);
    json_t *labels = json_object_get(b, "Labels");
    assert_string_equal(cli_json_str(labels, "k"), "v");
    assert_string_equal(cli_json_str(labels, "flag"), "");
    json_decref(b);
    cli_run_opts_release(&o);

    /* foreground, no command, no entrypoint: the image's defaults */
    assert_int_equal(RUN_PARSE(&o, &msg, "run", "-i", "busybox"), 0);
    b = cli_run_body(&o, false);
    assert_null(json_object_get(b, "Cmd"));
    assert_null(json_object_get(b, "Entrypoint"));
    assert_true(cli_json_bool(b, "AttachStdin"));
    assert_true(cli_json_bool(b, "StdinOnce"));
    assert_true(cli_json_bool(b, "AttachStderr"));
    assert_null(json_object_get(json_object_get(b, "HostConfig"), "Memory"));
    json_decref(b);
    cli_run_opts_release(&o);

    /* `--` ends flags */
    assert_int_equal(RUN_PARSE(&o, &msg, "run", "--", "-weird-image"), 0);
    assert_string_equal(o.image, "-weird-image");
    cli_run_opts_release(&o);
}

static void test_run_bad_flags(void **state)
{
    struct cli_run_opts o;
    char *msg;
    int r;

    r = RUN_PARSE(&o, &msg, "run", "--bogus", "busybox");
    assert_fails_with(r, msg, "unknown flag `--bogus` for `container run`");
    cli_run_opts_release(&o);
    r = RUN_PARSE(&o, &msg, "run", "-dZ", "busybox");
    assert_fails_with(r, msg, "unknown flag `-Z`");
    cli_run_opts_release(&o);
    r = RUN_PARSE(&o, &msg, "run", "busybox", "--name");
    assert_int_equal(r, 0); /* after the image: the command's argument */
    cli_run_opts_release(&o);
    r = RUN_PARSE(&o, &msg, "run", "--name");
    assert_fails_with(r, msg, "flag `--name` of `container run` needs a value");
    cli_run_opts_release(&o);
    r = RUN_PARSE(&o, &msg, "run", "-e");
    assert_fails_with(r, msg, "flag `-e` of `container run` needs a value");
    cli_run_opts_release(&o);
    r = RUN_PARSE(&o, &msg, "run", "--rm=yes", "busybox");
    assert_fails_with(r, msg, "flag `--rm` of `container run` takes no value");
    cli_run_opts_release(&o);
    r = RUN_PARSE(&o, &msg, "run", "-m", "64m", "busybox");
    assert_fails_with(r, msg, "below the minimum of 128 MiB");
    cli_run_opts_release(&o);
    r = RUN_PARSE(&o, &msg, "run", "--memory", "lots", "busybox");
    assert_fails_with(r, msg, "invalid value for `--memory`");
    cli_run_opts_release(&o);
    r = RUN_PARSE(&o, &msg, "run", "--cpus", "1.5", "busybox");
    assert_fails_with(r, msg, "`--cpus`");
    cli_run_opts_release(&o);
    r = RUN_PARSE(&o, &msg, "run", "--ulimit", "nofiles=1", "busybox");
    assert_fails_with(r, msg, "invalid ulimit type `nofiles`");
    cli_run_opts_release(&o);
    r = RUN_PARSE(&o, &msg, "run", "--ulimit", "nofile=10:5", "busybox");
    assert_fails_with(r, msg, "soft limit");
    cli_run_opts_release(&o);
    r = RUN_PARSE(&o, &msg, "run", "--name", "-bad", "busybox");
    assert_fails_with(r, msg, "`--name`");
    cli_run_opts_release(&o);
    r = RUN_PARSE(&o, &msg, "run", "-w", "relative", "busybox");
    assert_fails_with(r, msg, "must be absolute");
    cli_run_opts_release(&o);
    r = RUN_PARSE(&o, &msg, "run", "-e", "=x", "busybox");
    assert_fails_with(r, msg, "invalid value `=x` for `--env`");
    cli_run_opts_release(&o);
    r = RUN_PARSE(&o, &msg, "run", "-d");
    assert_fails_with(r, msg, "needs an image");
    cli_run_opts_release(&o);
    r = RUN_PARSE(&o, &msg, "run", "--env-file", "/nonexistent/env", "busybox");
    assert_fails_with(r, msg, "/nonexistent/env");
    cli_run_opts_release(&o);
    /* help */
    assert_int_equal(RUN_PARSE(&o, &msg, "run", "--help"), 1);
    cli_run_opts_release(&o);
}

static void test_env_file(void **state)
{
    char path[] = "/tmp/cli-env-XXXXXX";
    int fd = mkstemp(path);
    const char text[] = "# comment\nFROM_FILE=1\n\nA=from-file\n";
    struct cli_run_opts o;
    char *msg;

    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, sizeof(text) - 1), (ssize_t)sizeof(text) - 1);
    close(fd);
    /* files first, then -e: docker's order, so -e wins */
    assert_int_equal(RUN_PARSE(&o, &msg, "run", "-e", "A=flag", "--env-file", path, "img"), 0);
    assert_int_equal(ctr_strv_len(o.env), 3);
    assert_string_equal(o.env[0], "FROM_FILE=1");
    assert_string_equal(o.env[1], "A=from-file");
    assert_string_equal(o.env[2], "A=flag");
    cli_run_opts_release(&o);
    unlink(path);
}

static void test_create_start(void **state)
{
    struct cli_run_opts o;
    struct cli_start_opts s;
    ctr_error_t err = NULL;
    char *msg;

    assert_int_equal(RUN_PARSE(&o, &msg, "create", "-i", "busybox"), 0);
    json_t *b = cli_run_body(&o, true);
    assert_false(cli_json_bool(b, "AttachStdin")); /* create attaches nothing */
    assert_true(cli_json_bool(b, "OpenStdin"));
    json_decref(b);
    cli_run_opts_release(&o);

    assert_int_equal(
        cli_start_parse(ARGC("start", "-ai", "c1"), ARGV("start", "-ai", "c1"), &s, &err), 0);
    assert_true(s.attach && s.interactive);
    ctr_strv_free(s.ids);
    assert_int_equal(
        cli_start_parse(ARGC("start", "-a", "c1", "c2"), ARGV("start", "-a", "c1", "c2"), &s, &err),
        -1);
    assert_non_null(strstr(err->msg, "exactly one container"));
    ctr_error_free(&err);
    ctr_strv_free(s.ids);
    assert_int_equal(
        cli_start_parse(ARGC("start", "c1", "c2"), ARGV("start", "c1", "c2"), &s, &err), 0);
    assert_int_equal(ctr_strv_len(s.ids), 2);
    ctr_strv_free(s.ids);
}

static void test_lifecycle_flags(void **state)
{
    struct cli_lifecycle_opts o;
    ctr_error_t err = NULL;

    assert_int_equal(cli_lifecycle_parse("stop", ARGC("stop", "-t", "3", "-s", "SIGINT", "web"),
                                         ARGV("stop", "-t", "3", "-s", "SIGINT", "web"), &o, &err),
                     0);
    assert_int_equal(o.timeout, 3);
    assert_string_equal(o.signal, "SIGINT");
    assert_string_equal(o.ids[0], "web");
    ctr_strv_free(o.ids);
    /* flags may follow names (interspersed) */
    assert_int_equal(
        cli_lifecycle_parse("rm", ARGC("rm", "abc", "-f"), ARGV("rm", "abc", "-f"), &o, &err), 0);
    assert_true(o.force);
    assert_false(o.volumes);
    ctr_strv_free(o.ids);
    assert_int_equal(
        cli_lifecycle_parse("rm", ARGC("rm", "-v", "abc"), ARGV("rm", "-v", "abc"), &o, &err), 0);
    assert_true(o.volumes);
    ctr_strv_free(o.ids);
    assert_int_equal(cli_lifecycle_parse("stop", ARGC("stop", "-t", "x", "web"),
                                         ARGV("stop", "-t", "x", "web"), &o, &err),
                     -1);
    assert_non_null(strstr(err->msg, "invalid value `x` for `--time`"));
    ctr_error_free(&err);
    ctr_strv_free(o.ids);
    assert_int_equal(cli_lifecycle_parse("kill", ARGC("kill", "-s", "FOO", "web"),
                                         ARGV("kill", "-s", "FOO", "web"), &o, &err),
                     -1);
    assert_non_null(strstr(err->msg, "invalid signal `FOO`"));
    ctr_error_free(&err);
    ctr_strv_free(o.ids);
    assert_int_equal(cli_lifecycle_parse("kill", ARGC("kill", "-s", "99", "web"),
                                         ARGV("kill", "-s", "99", "web"), &o, &err),
                     -1);
    ctr_error_free(&err);
    ctr_strv_free(o.ids);
    assert_int_equal(cli_lifecycle_parse("restart", ARGC("restart", "-f", "web"),
                                         ARGV("restart", "-f", "web"), &o, &err),
                     -1);
    assert_non_null(strstr(err->msg, "unknown flag `-f` for `container restart`"));
    ctr_error_free(&err);
    ctr_strv_free(o.ids);
    assert_int_equal(cli_lifecycle_parse("rm", ARGC("rm"), ARGV("rm"), &o, &err), -1);
    assert_non_null(strstr(err->msg, "at least one container"));
    ctr_error_free(&err);
    ctr_strv_free(o.ids);
    assert_int_equal(
        cli_lifecycle_parse("rm", ARGC("rm", "-a", "x"), ARGV("rm", "-a", "x"), &o, &err), -1);
    ctr_error_free(&err);
    ctr_strv_free(o.ids);
    assert_int_equal(cli_lifecycle_parse("prune", ARGC("prune", "x"), ARGV("prune", "x"), &o, &err),
                     -1);
    assert_non_null(strstr(err->msg, "unexpected argument `x`"));
    ctr_error_free(&err);
    ctr_strv_free(o.ids);
    assert_int_equal(cli_check_signal("rtmin+3", &err), 0);
    assert_int_equal(cli_start_error_code("failed to create task for container: exec: "
                                          "\"nosuch\": executable file not found in $PATH"),
                     127);
    assert_int_equal(cli_start_error_code("exec: \"/x\": permission denied"), 126);
    assert_int_equal(cli_start_error_code("boot timeout"), 125);
    assert_int_equal(cli_check_signal("sigterm", &err), 0);
}

static void test_exec_logs_ls_flags(void **state)
{
    struct cli_exec_opts e;
    struct cli_logs_opts l;
    struct cli_ls_opts s;
    ctr_error_t err = NULL;

    assert_int_equal(
        cli_exec_parse(
            ARGC("exec", "-it", "-e", "X=1", "-w", "/tmp", "-u", "app", "web", "ls", "-l"),
            ARGV("exec", "-it", "-e", "X=1", "-w", "/tmp", "-u", "app", "web", "ls", "-l"), &e,
            &err),
        0);
    json_t *b = cli_exec_body(&e);
    assert_int_equal(json_array_size(json_object_get(b, "Cmd")), 2);
    assert_string_equal(json_string_value(json_array_get(json_object_get(b, "Cmd"), 1)), "-l");
    assert_true(cli_json_bool(b, "Tty") && cli_json_bool(b, "AttachStdin"));
    assert_string_equal(cli_json_str(b, "WorkingDir"), "/tmp");
    assert_string_equal(cli_json_str(b, "User"), "app");
    assert_string_equal(json_string_value(json_array_get(json_object_get(b, "Env"), 0)), "X=1");
    json_decref(b);
    cli_exec_opts_release(&e);
    assert_int_equal(cli_exec_parse(ARGC("exec", "web"), ARGV("exec", "web"), &e, &err), -1);
    assert_non_null(strstr(err->msg, "needs a container and a command"));
    ctr_error_free(&err);
    cli_exec_opts_release(&e);
    assert_int_equal(
        cli_exec_parse(ARGC("exec", "-x", "web", "ls"), ARGV("exec", "-x", "web", "ls"), &e, &err),
        -1);
    assert_non_null(strstr(err->msg, "unknown flag `-x` for `container exec`"));
    ctr_error_free(&err);
    cli_exec_opts_release(&e);

    assert_int_equal(cli_logs_parse(ARGC("logs", "-f", "-n", "5", "web"),
                                    ARGV("logs", "-f", "-n", "5", "web"), &l, &err),
                     0);
    assert_true(l.follow);
    assert_int_equal(l.tail, 5);
    ctr_strv_free(l.pos);
    assert_int_equal(
        cli_logs_parse(ARGC("logs", "-n", "-3", "web"), ARGV("logs", "-n", "-3", "web"), &l, &err),
        -1);
    assert_non_null(strstr(err->msg, "invalid value `-3` for `-n`"));
    ctr_error_free(&err);
    ctr_strv_free(l.pos);
    assert_int_equal(cli_logs_parse(ARGC("logs", "a", "b"), ARGV("logs", "a", "b"), &l, &err), -1);
    ctr_error_free(&err);
    ctr_strv_free(l.pos);

    assert_int_equal(cli_ls_parse(ARGC("ls", "-aq", "--format", "json"),
                                  ARGV("ls", "-aq", "--format", "json"), &s, &err),
                     0);
    assert_true(s.all && s.quiet);
    assert_int_equal(s.format, CLI_FORMAT_JSON);
    assert_int_equal(
        cli_ls_parse(ARGC("ls", "--format=yaml"), ARGV("ls", "--format=yaml"), &s, &err), -1);
    assert_non_null(strstr(err->msg, "invalid value `yaml` for `--format`"));
    ctr_error_free(&err);
}

static char *capture(void (*fn)(void *), void *arg)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    FILE *saved = stdout;
    stdout = f;
    fn(arg);
    stdout = saved;
    fclose(f);
    return buf;
}

static void print_ls(void *arg)
{
    cli_ls_print_table(arg, 1700000000 + 7200, stdout);
}

static void test_ls_table(void **state)
{
    json_error_t jerr;
    json_t *list = json_loads(
        "[{\"Id\":\"0123456789abcdef0123\",\"Names\":[\"/web\"],\"Image\":\"busybox\","
        "\"Command\":\"sh -c 'while true; do sleep 1; done'\",\"Created\":1700000000,"
        "\"State\":\"running\",\"Status\":\"Up 2 hours\",\"Labels\":{\"a\":\"b\"},"
        "\"HostConfig\":{\"NetworkMode\":\"front\"},\"NetworkSettings\":{\"Networks\":{"
        "\"back\":{\"IPAddress\":\"10.0.1.2\"},\"front\":{\"IPAddress\":\"192.168.64.5\"}}},"
        "\"Ports\":[{\"IP\":\"127.0.0.1\",\"PrivatePort\":80,\"PublicPort\":8080,"
        "\"Type\":\"tcp\"},{\"IP\":\"0.0.0.0\",\"PrivatePort\":53,\"PublicPort\":5353,"
        "\"Type\":\"udp\"}]},"
        "{\"Id\":\"fedcba\",\"Names\":[\"/x\"],\"Image\":\"docker.io/library/alpine:3\","
        "\"Command\":\"true\",\"Created\":1700007100,\"State\":\"exited\","
        "\"Status\":\"Exited (0) 1 second ago\"}]",
        0, &jerr);
    cleanup_free char *out = capture(print_ls, list);
    const char *want =
        "CONTAINER ID   IMAGE                        COMMAND                  CREATED              "
        "STATUS                    ADDR           PORTS                                          "
        "NAMES\n"
        "0123456789ab   busybox                      \"sh -c 'while true; …\"   2 hours ago        "
        "  Up 2 hours                192.168.64.5   0.0.0.0:5353->53/udp, 127.0.0.1:8080->80/tcp   "
        "web\n"
        "fedcba         docker.io/library/alpine:3   \"true\"                   About a minute"
        " ago   Exited (0) 1 second ago                                                            "
        "     x\n";
    assert_string_equal(out, want);

    json_t *e = cli_ls_json_entry(json_array_get(list, 0));
    assert_string_equal(cli_json_str(e, "id"), "0123456789abcdef0123");
    assert_string_equal(cli_json_str(e, "name"), "web");
    assert_string_equal(cli_json_str(e, "state"), "running");
    assert_int_equal(cli_json_int(e, "created"), 1700000000);
    assert_string_equal(cli_json_str(json_object_get(e, "labels"), "a"), "b");
    assert_string_equal(cli_json_str(e, "addr"), "192.168.64.5");
    assert_string_equal(cli_json_str(e, "ports"), "0.0.0.0:5353->53/udp, 127.0.0.1:8080->80/tcp");
    json_decref(e);
    e = cli_ls_json_entry(json_array_get(list, 1));
    assert_int_equal(json_object_size(json_object_get(e, "labels")), 0);
    json_decref(e);
    json_decref(list);
}

static void test_human(void **state)
{
    static const struct {
        int64_t s;
        const char *want;
    } d[] = {{0, "Less than a second"}, {1, "1 second"},         {59, "59 seconds"},
             {60, "About a minute"},    {119, "About a minute"}, {120, "2 minutes"},
             {3599, "59 minutes"},      {3600, "About an hour"}, {5400, "2 hours"},
             {47 * 3600, "47 hours"},   {48 * 3600, "2 days"},   {15 * 86400, "2 weeks"},
             {70 * 86400, "2 months"},  {800 * 86400, "2 years"}};
    for (size_t i = 0; i < sizeof(d) / sizeof(d[0]); i++) {
        cleanup_free char *s = cli_human_duration(d[i].s);
        assert_string_equal(s, d[i].want);
    }
    static const struct {
        double b;
        const char *dec, *bin;
    } z[] = {{0, "0B", "0B"},
             {999, "999B", "999B"},
             {1000, "1kB", "1000B"},
             {1234567, "1.23MB", "1.177MiB"},
             {1073741824.0, "1.07GB", "1GiB"}};
    for (size_t i = 0; i < sizeof(z) / sizeof(z[0]); i++) {
        cleanup_free char *a = cli_human_size(z[i].b);
        cleanup_free char *b = cli_human_bytes_binary(z[i].b);
        assert_string_equal(a, z[i].dec);
        assert_string_equal(b, z[i].bin);
    }
    cleanup_free char *id = cli_short_id("sha256:abcdef0123456789");
    assert_string_equal(id, "abcdef012345");
    cleanup_free char *e1 = cli_ellipsis("héllo wörld", 5);
    assert_string_equal(e1, "héll…");
    cleanup_free char *e2 = cli_ellipsis("short", 20);
    assert_string_equal(e2, "short");
    int64_t t;
    assert_int_equal(cli_parse_time("2023-11-14T22:13:20.123456789Z", &t), 0);
    assert_int_equal(t, 1700000000);
    assert_int_equal(cli_parse_time("2023-11-14T23:13:20+01:00", &t), 0);
    assert_int_equal(t, 1700000000);
    assert_int_equal(cli_parse_time("yesterday", &t), -1);
}

static void test_table_alignment(void **state)
{
    static const char *const hdr[] = {"A", "LONGER", "Z", NULL};
    struct cli_table *t = cli_table_new(hdr);
    const char *r1[] = {"xxxxx", "y", "last column is not padded"};
    const char *r2[] = {"é", NULL, "z"};
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    cli_table_add(t, r1);
    cli_table_add(t, r2);
    cli_table_print(t, f);
    fclose(f);
    assert_string_equal(buf, "A       LONGER   Z\n"
                             "xxxxx   y        last column is not padded\n"
                             "é                z\n");
    free(buf);
    cli_table_free(t);
}

static void test_image_ref_split(void **state)
{
    char *repo, *tag;
    ctr_error_t err = NULL;

    assert_int_equal(cli_image_split_ref("localhost:5000/a/b:v1", &repo, &tag, &err), 0);
    assert_string_equal(repo, "localhost:5000/a/b");
    assert_string_equal(tag, "v1");
    free(repo);
    free(tag);
    assert_int_equal(cli_image_split_ref("localhost:5000/a", &repo, &tag, &err), 0);
    assert_string_equal(repo, "localhost:5000/a");
    assert_string_equal(tag, "latest");
    free(repo);
    free(tag);
    assert_int_equal(cli_image_split_ref("a@sha256:00", &repo, &tag, &err), -1);
    ctr_error_free(&err);
    assert_int_equal(cli_image_split_ref("a:", &repo, &tag, &err), -1);
    ctr_error_free(&err);
}

static void test_stats_cpu(void **state)
{
    json_error_t jerr;
    json_t *s = json_loads("{\"cpu_stats\":{\"cpu_usage\":{\"total_usage\":300},"
                           "\"system_cpu_usage\":2000,\"online_cpus\":2},"
                           "\"precpu_stats\":{\"cpu_usage\":{\"total_usage\":100},"
                           "\"system_cpu_usage\":1000}}",
                           0, &jerr);
    /* (200 / 1000) * 2 * 100 */
    assert_true(cli_stats_cpu_percent(s, NULL) > 39.99 && cli_stats_cpu_percent(s, NULL) < 40.01);
    json_t *z = json_loads("{\"cpu_stats\":{}}", 0, &jerr);
    assert_true(cli_stats_cpu_percent(z, NULL) == 0.0);
    json_decref(s);
    json_decref(z);
}

static void test_cp_split(void **state)
{
    static const struct {
        const char *arg, *id, *path;
    } cases[] = {
        {"c1:/etc", "c1", "/etc"}, {"web:/a:b", "web", "/a:b"},
        {"c1:", "c1", ""},         {"/abs/path:x", NULL, NULL}, /* a `/` before the `:`: local */
        {"./a:b", NULL, NULL},     {"file.txt", NULL, NULL},
        {":x", NULL, NULL},        {"-", NULL, NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *path = NULL;
        char *id = cli_cp_split(cases[i].arg, &path);
        if (cases[i].id == NULL) {
            assert_null(id);
            continue;
        }
        assert_non_null(id);
        assert_string_equal(id, cases[i].id);
        assert_string_equal(path, cases[i].path);
        free(id);
    }
    /* refused before any connection: two containers, no container, no arguments */
    setenv("CONTAINER_HOST", "unix:///nonexistent/container.sock", 1);
    assert_int_equal(
        cli_main(ARGC("container", "cp", "a:/x", "b:/y"), ARGV("container", "cp", "a:/x", "b:/y")),
        1);
    assert_int_equal(
        cli_main(ARGC("container", "cp", "/x", "/y"), ARGV("container", "cp", "/x", "/y")), 1);
    assert_int_equal(cli_main(ARGC("container", "cp", "a:/x"), ARGV("container", "cp", "a:/x")), 1);
    assert_int_equal(cli_main(ARGC("container", "cp", "--bogus", "a:/x", "/y"),
                              ARGV("container", "cp", "--bogus", "a:/x", "/y")),
                     1);
}

static void test_dispatch(void **state)
{
    /* Errors before any connection: exit codes and no crash. */
    setenv("CONTAINER_HOST", "unix:///nonexistent/container.sock", 1);
    assert_int_equal(cli_main(ARGC("container", "nosuch"), ARGV("container", "nosuch")), 2);
    assert_int_equal(cli_main(ARGC("container", "--bogus"), ARGV("container", "--bogus")), 2);
    assert_int_equal(
        cli_main(ARGC("container", "image", "frob"), ARGV("container", "image", "frob")), 2);
    assert_int_equal(cli_main(ARGC("container", "run", "--bogus", "x"),
                              ARGV("container", "run", "--bogus", "x")),
                     125);
    assert_int_equal(cli_main(ARGC("container", "rm", "--help"), ARGV("container", "rm", "--help")),
                     0);
    assert_int_equal(cli_main(ARGC("container", "help", "image", "load"),
                              ARGV("container", "help", "image", "load")),
                     0);
    /* no daemon: exit 1 with the "not running" message (checked by the integration test) */
    assert_int_equal(cli_main(ARGC("container", "ls"), ARGV("container", "ls")), 1);
}

/* Usage is generated from the option tables: aliases beside their flag, hidden flags not
 * shown, and every command answers --help (and `container help ...`) with 0. */
static void test_help_every_command(void **state)
{
    static const struct cli_option opts[] = {
        CLI_OPT_BOOL('a', "all", 1, "every one"),
        CLI_OPT_ARG('t', "time", "SECONDS", 2, "wait this long"),
        CLI_OPT_ARG(0, "timeout", "SECONDS", 2, NULL),
        CLI_OPT_BOOL(0, "secret", 3, NULL),
        CLI_OPT_END,
    };
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    cli_print_options(opts, f);
    fclose(f);
    assert_string_equal(buf, "  -a, --all               every one\n"
                             "  -t, --time, --timeout SECONDS  wait this long\n");
    free(buf);

    static const char *const cmds[][3] = {
        {"run"},
        {"create"},
        {"start"},
        {"stop"},
        {"kill"},
        {"pause"},
        {"unpause"},
        {"top"},
        {"restart"},
        {"delete"},
        {"rm"},
        {"cp"},
        {"export"},
        {"commit"},
        {"diff"},
        {"build"},
        {"list"},
        {"ps"},
        {"exec"},
        {"logs"},
        {"inspect"},
        {"attach"},
        {"wait"},
        {"stats"},
        {"prune"},
        {"port"},
        {"images"},
        {"network", "create"},
        {"network", "ls"},
        {"network", "inspect"},
        {"network", "rm"},
        {"network", "prune"},
        {"network", "connect"},
        {"network", "disconnect"},
        {"image", "ls"},
        {"image", "rm"},
        {"image", "tag"},
        {"image", "inspect"},
        {"image", "prune"},
        {"image", "load"},
        {"image", "save"},
        {"image", "pull"},
        {"image", "push"},
        {"volume", "create"},
        {"volume", "ls"},
        {"volume", "inspect"},
        {"volume", "rm"},
        {"volume", "prune"},
        {"registry", "login"},
        {"registry", "logout"},
        {"registry", "ls"},
        {"system", "start"},
        {"system", "stop"},
        {"system", "status"},
        {"system", "version"},
        {"system", "logs"},
        {"system", "df"},
        {"system", "kernel", "set"},
    };
    fflush(stdout);
    int saved = dup(1), null = open("/dev/null", O_WRONLY);
    dup2(null, 1);
    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
        char *argv[6] = {"container"};
        int n = 1;
        for (int j = 0; j < 3 && cmds[i][j]; j++)
            argv[n++] = (char *)cmds[i][j];
        argv[n] = "--help";
        int rc = cli_main(n + 1, argv);
        char *hargv[6] = {"container", "help"};
        for (int j = 0; j < 3 && cmds[i][j]; j++)
            hargv[j + 2] = (char *)cmds[i][j];
        int hrc = cli_main(n + 1, hargv);
        fflush(stdout);
        if (rc != 0 || hrc != 0) {
            dup2(saved, 1);
            fail_msg("`container %s %s --help`: %d, help: %d", cmds[i][0],
                     cmds[i][1] ? cmds[i][1] : "", rc, hrc);
        }
    }
    dup2(saved, 1);
    close(saved);
    close(null);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_run_flags),       cmocka_unit_test(test_run_bad_flags),
        cmocka_unit_test(test_env_file),        cmocka_unit_test(test_create_start),
        cmocka_unit_test(test_lifecycle_flags), cmocka_unit_test(test_exec_logs_ls_flags),
        cmocka_unit_test(test_ls_table),        cmocka_unit_test(test_human),
        cmocka_unit_test(test_table_alignment), cmocka_unit_test(test_image_ref_split),
        cmocka_unit_test(test_stats_cpu),       cmocka_unit_test(test_dispatch),
        cmocka_unit_test(test_cp_split),        cmocka_unit_test(test_help_every_command),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
