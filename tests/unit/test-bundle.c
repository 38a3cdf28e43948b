/* Bundle config.json / state.json: round trips and refused input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
/* cmocka needs the three above first */
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proto/bundle.h"

static char dir[64];

static int setup(void **state)
{
    strcpy(dir, "/tmp/test-bundle.XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    return ctr_rm_rf(dir, NULL);
}

static void write_config(const char *json)
{
    char *p = ctr_xasprintf("%s/config.json", dir);
    assert_int_equal(ctr_write_file_atomic(p, json, strlen(json), 0644, NULL), 0);
    free(p);
}

static void config_round_trip(void **state)
{
    struct bundle_disk disks[] = {{"image", "/img/a.ext4", true}, {"rw", "rw.ext4", false}};
    struct agent_mount mounts[] = {{"tmpfs", "/tmp", "tmpfs", "size=64m"}, {"x", "/y", "9p", NULL}};
    struct agent_rlimit rl[] = {{RLIMIT_NOFILE, 1024, 4096}};
    struct bundle_config in = {
        .version = 1,
        .id = "c1",
        .vm = {.kernel = "/k/vmlinux",
               .initrd = "/k/initrd",
               .cmdline = "loglevel=3",
               .cpus = 2,
               .memory_mib = 512,
               .accel = BUNDLE_ACCEL_TCG,
               .boot_timeout_ms = 12345},
        .disks = disks,
        .n_disks = 2,
        .setup = {.hostname = "box",
                  .root_lower = "serial:image",
                  .root_upper = "serial:rw",
                  .readonly = true,
                  .mounts = mounts,
                  .n_mounts = 2},
        .process = {.args = (char *[]){"/bin/sh", "-c", "echo \"hi\"", NULL},
                    .env = (char *[]){"PATH=/bin", "A=b=c", NULL},
                    .cwd = "/work",
                    .user = "1000:1000",
                    .terminal = true,
                    .rows = 24,
                    .cols = 80,
                    .rlimits = rl,
                    .n_rlimits = 1},
        .open_stdin = true,
        .labels = (char *[]){"k=v", NULL},
    };
    struct bundle_config out = {0};
    ctr_error_t err = NULL;

    assert_int_equal(bundle_config_save(dir, &in, &err), 0);
    if (bundle_config_load(dir, &out, &err) < 0)
        fail_msg("%s", err->msg);
    assert_string_equal(out.id, "c1");
    assert_string_equal(out.vm.kernel, "/k/vmlinux");
    assert_string_equal(out.vm.initrd, "/k/initrd");
    assert_string_equal(out.vm.cmdline, "loglevel=3");
    assert_int_equal(out.vm.cpus, 2);
    assert_int_equal(out.vm.memory_mib, 512);
    assert_int_equal(out.vm.accel, BUNDLE_ACCEL_TCG);
    assert_int_equal(out.vm.boot_timeout_ms, 12345);
    assert_int_equal(out.n_disks, 2);
    assert_string_equal(out.disks[1].path, "rw.ext4");
    assert_true(out.disks[0].readonly);
    assert_false(out.disks[1].readonly);
    assert_string_equal(out.setup.hostname, "box");
    assert_string_equal(out.setup.root_upper, "serial:rw");
    assert_true(out.setup.readonly);
    assert_int_equal(out.setup.n_mounts, 2);
    assert_string_equal(out.setup.mounts[0].options, "size=64m");
    assert_null(out.setup.mounts[1].options);
    assert_string_equal(out.process.args[2], "echo \"hi\"");
    assert_null(out.process.args[3]);
    assert_string_equal(out.process.env[1], "A=b=c");
    assert_string_equal(out.process.cwd, "/work");
    assert_string_equal(out.process.user, "1000:1000");
    assert_true(out.process.terminal);
    assert_int_equal(out.process.rows, 24);
    assert_int_equal(out.process.n_rlimits, 1);
    assert_int_equal(out.process.rlimits[0].resource, RLIMIT_NOFILE);
    assert_int_equal(out.process.rlimits[0].hard, 4096);
    assert_true(out.open_stdin);
    assert_string_equal(out.labels[0], "k=v");
    bundle_config_release(&out);
}

static void config_defaults(void **state)
{
    struct bundle_config c = {0};
    ctr_error_t err = NULL;
    write_config("{\"version\":1,\"id\":\"x\",\"vm\":{},\"process\":{\"args\":[\"true\"]}}");
    if (bundle_config_load(dir, &c, &err) < 0)
        fail_msg("%s", err->msg);
    assert_null(c.vm.kernel);
    assert_int_equal(c.vm.cpus, 1);
    assert_int_equal(c.vm.memory_mib, 256);
    assert_int_equal(c.vm.accel, BUNDLE_ACCEL_AUTO);
    assert_int_equal(c.vm.boot_timeout_ms, 30000);
    assert_string_equal(c.process.cwd, "/");
    assert_string_equal(c.process.user, "");
    assert_non_null(c.process.env);
    assert_null(c.process.env[0]);
    assert_int_equal(c.n_disks, 0);
    bundle_config_release(&c);
}

/* "auto" vCPUs: kept through a save and load, resolved per accelerator. */
static void config_cpus_auto(void **state)
{
    struct bundle_config c = {0}, back = {0};
    ctr_error_t err = NULL;
    write_config("{\"version\":1,\"id\":\"x\",\"vm\":{\"cpus\":\"auto\"},"
                 "\"process\":{\"args\":[\"true\"]}}");
    if (bundle_config_load(dir, &c, &err) < 0)
        fail_msg("%s", err->msg);
    assert_int_equal(c.vm.cpus, BUNDLE_CPUS_AUTO);
    assert_int_equal(bundle_vm_cpus(&c.vm, true), 2);
    assert_int_equal(bundle_vm_cpus(&c.vm, false), 1);
    if (bundle_config_save(dir, &c, &err) < 0)
        fail_msg("%s", err->msg);
    if (bundle_config_load(dir, &back, &err) < 0)
        fail_msg("%s", err->msg);
    assert_int_equal(back.vm.cpus, BUNDLE_CPUS_AUTO);
    bundle_config_release(&back);
    /* a number is taken as is, whatever the accelerator */
    c.vm.cpus = 3;
    assert_int_equal(bundle_vm_cpus(&c.vm, true), 3);
    assert_int_equal(bundle_vm_cpus(&c.vm, false), 3);
    bundle_config_release(&c);
}

static void config_bad(const char *json, const char *needle)
{
    struct bundle_config c = {0};
    ctr_error_t err = NULL;
    write_config(json);
    if (bundle_config_load(dir, &c, &err) == 0)
        fail_msg("accepted %s", json);
    if (strstr(err->msg, needle) == NULL)
        fail_msg("error `%s` does not mention `%s`", err->msg, needle);
    assert_null(c.id); /* out untouched */
    ctr_error_free(&err);
}

static void config_refused(void **state)
{
    config_bad("{\"version\":2,\"id\":\"x\"}", "version 2");
    config_bad("{\"version\":1,\"vm\":{},\"process\":{\"args\":[\"a\"]}}", "`id`");
    config_bad("{\"version\":1,\"id\":\"x\",\"process\":{\"args\":[\"a\"]}}", "`vm`");
    config_bad(
        "{\"version\":1,\"id\":\"x\",\"vm\":{\"accel\":\"hvf\"},\"process\":{\"args\":[\"a\"]}}",
        "`hvf`");
    config_bad(
        "{\"version\":1,\"id\":\"x\",\"vm\":{\"memory_mib\":8},\"process\":{\"args\":[\"a\"]}}",
        "memory_mib");
    config_bad("{\"version\":1,\"id\":\"x\",\"vm\":{\"cpus\":-1},\"process\":{\"args\":[\"a\"]}}",
               "vm.cpus");
    config_bad(
        "{\"version\":1,\"id\":\"x\",\"vm\":{\"cpus\":\"many\"},\"process\":{\"args\":[\"a\"]}}",
        "\"auto\"");
    config_bad("{\"version\":1,\"id\":\"x\",\"vm\":{},\"process\":{\"args\":[]}}", "empty");
    config_bad("{\"version\":1,\"id\":\"x\",\"vm\":{},\"process\":{\"args\":[1]}}", "args[0]");
    config_bad(
        "{\"version\":1,\"id\":\"x\",\"vm\":{},\"process\":{\"args\":[\"a\"],\"cwd\":\"rel\"}}",
        "absolute");
    config_bad("{\"version\":1,\"id\":\"x\",\"vm\":{},\"disks\":[{\"serial\":\"a\"}],"
               "\"process\":{\"args\":[\"a\"]}}",
               "disks[].path");
    config_bad("{\"version\":1,\"id\":\"x\",\"vm\":{},\"process\":{\"args\":[\"a\"],"
               "\"rlimits\":[{\"type\":\"RLIMIT_BOGUS\",\"soft\":1,\"hard\":1}]}}",
               "RLIMIT_BOGUS");
    config_bad("{\"version\":1,\"id\":\"x\",\"id\":\"y\"}", "parse");
    config_bad("[1,2]", "JSON object");
    config_bad("{\"version\":1,\"id\":\"a\\u0000b\",\"vm\":{},\"process\":{\"args\":[\"a\"]}}",
               "NUL");
}

static void missing_config_names_the_file(void **state)
{
    struct bundle_config c = {0};
    ctr_error_t err = NULL;
    char *p = ctr_xasprintf("%s/config.json", dir);
    unlink(p);
    assert_int_equal(bundle_config_load(dir, &c, &err), -1);
    assert_non_null(strstr(err->msg, dir));
    ctr_error_free(&err);
    free(p);
}

static void state_round_trip(void **state)
{
    struct bundle_state in = {.status = BUNDLE_STOPPED,
                              .shim_pid = 10,
                              .vmm_pid = 11,
                              .exit_code = 137,
                              .exit_reason = "vm died: killed by signal 9",
                              .created_ns = 1700000000123456789LL,
                              .started_ns = 2,
                              .finished_ns = 3,
                              .accel = "tcg"};
    struct bundle_state out = {0};
    ctr_error_t err = NULL;
    struct stat st;
    char *tmp;

    assert_int_equal(bundle_state_save(dir, &in, &err), 0);
    if (bundle_state_load(dir, &out, &err) < 0)
        fail_msg("%s", err->msg);
    assert_int_equal(out.status, BUNDLE_STOPPED);
    assert_int_equal(out.shim_pid, 10);
    assert_int_equal(out.vmm_pid, 11);
    assert_int_equal(out.exit_code, 137);
    assert_string_equal(out.exit_reason, "vm died: killed by signal 9");
    assert_int_equal(out.created_ns, 1700000000123456789LL);
    assert_string_equal(out.accel, "tcg");
    bundle_state_release(&out);
    /* atomic: no temp file left behind */
    tmp = ctr_xasprintf("%s/state.json.tmp.%d", dir, (int)getpid());
    assert_int_equal(stat(tmp, &st), -1);
    free(tmp);

    in = (struct bundle_state){.status = BUNDLE_RUNNING};
    assert_int_equal(bundle_state_save(dir, &in, &err), 0);
    assert_int_equal(bundle_state_load(dir, &out, &err), 0);
    assert_int_equal(out.status, BUNDLE_RUNNING);
    assert_null(out.exit_reason);
    assert_null(out.accel);
    assert_false(out.paused);
    bundle_state_release(&out);
    /* a paused VM (`pause`): `paused` written only when true, read back */
    in.paused = true;
    assert_int_equal(bundle_state_save(dir, &in, &err), 0);
    assert_int_equal(bundle_state_load(dir, &out, &err), 0);
    assert_true(out.paused);
    bundle_state_release(&out);
    char *sp = ctr_xasprintf("%s/state.json", dir);
    const char *bad_paused = "{\"status\":\"running\",\"paused\":1}";
    ctr_write_file_atomic(sp, bad_paused, strlen(bad_paused), 0644, NULL);
    assert_int_equal(bundle_state_load(dir, &out, &err), -1);
    assert_non_null(strstr(err->msg, "`paused` must be true or false"));
    ctr_error_free(&err);
    free(sp);

    char *p = ctr_xasprintf("%s/state.json", dir);
    const char *bad = "{\"status\":\"paused\"}";
    ctr_write_file_atomic(p, bad, strlen(bad), 0644, NULL);
    assert_int_equal(bundle_state_load(dir, &out, &err), -1);
    assert_non_null(strstr(err->msg, "paused"));
    ctr_error_free(&err);
    free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(config_round_trip),
        cmocka_unit_test(config_defaults),
        cmocka_unit_test(config_cpus_auto),
        cmocka_unit_test(config_refused),
        cmocka_unit_test(missing_config_names_the_file),
        cmocka_unit_test(state_round_trip),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
