/* vminitd user resolution against a container root made in a temp dir. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "guest/guest-internal.h"

static char root[] = "/tmp/test-guest-user.XXXXXX";
static char empty_root[] = "/tmp/test-guest-user-empty.XXXXXX";

static void write_file(const char *rel, const char *data)
{
    char *p = ctr_xasprintf("%s/%s", root, rel);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(data, f);
    fclose(f);
    free(p);
}

static int setup(void **state)
{
    if (mkdtemp(root) == NULL || mkdtemp(empty_root) == NULL)
        return -1;
    char *etc = ctr_xasprintf("%s/etc", root);
    mkdir(etc, 0755);
    free(etc);
    write_file("etc/passwd", "root:x:0:0:root:/root:/bin/sh\n"
                             "daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"
                             "# a comment:x:5:5::/:/bin/sh\n"
                             "\n"
                             "broken line without fields\n"
                             "bad:x:notanumber:1::/:/bin/sh\n"
                             "alice:x:1000:1000:Alice:/home/alice:/bin/sh\n"
                             "bob:x:1001:100:::/bin/sh\n");
    write_file("etc/group", "root:x:0:\n"
                            "wheel:x:10:alice\n"
                            "users:x:100:bob,alice\n"
                            "alice:x:1000:\n"
                            "staff:x:50:carol\n"
                            "garbage\n"
                            "dup:x:10:alice\n");
    return 0;
}

static int teardown(void **state)
{
    ctr_error_t err = NULL;
    ctr_rm_rf(root, &err);
    ctr_rm_rf(empty_root, &err);
    ctr_error_free(&err);
    return 0;
}

static void resolve_ok(const char *r, const char *spec, uid_t uid, gid_t gid, const char *home,
                       size_t n_groups, const gid_t *groups)
{
    struct guest_user u;
    ctr_error_t err = NULL;

    if (guest_user_resolve(r, spec, &u, &err) < 0)
        fail_msg("resolve `%s`: %s", spec, err->msg);
    assert_int_equal(u.uid, uid);
    assert_int_equal(u.gid, gid);
    assert_string_equal(u.home, home);
    assert_int_equal(u.n_groups, n_groups);
    for (size_t i = 0; i < n_groups; i++)
        assert_int_equal(u.groups[i], groups[i]);
    guest_user_release(&u);
}

static void resolve_bad(const char *r, const char *spec, const char *msg)
{
    struct guest_user u;
    ctr_error_t err = NULL;

    if (guest_user_resolve(r, spec, &u, &err) == 0)
        fail_msg("resolved `%s`", spec);
    assert_string_equal(err->msg, msg);
    ctr_error_free(&err);
}

static void test_names_and_ids(void **state)
{
    resolve_ok(root, "", 0, 0, "/root", 0, NULL);
    resolve_ok(root, NULL, 0, 0, "/root", 0, NULL);
    resolve_ok(root, "root", 0, 0, "/root", 0, NULL);
    resolve_ok(root, "alice", 1000, 1000, "/home/alice", 2, (gid_t[]){10, 100});
    resolve_ok(root, "1000", 1000, 1000, "/home/alice", 2, (gid_t[]){10, 100});
    resolve_ok(root, "bob", 1001, 100, "/", 1, (gid_t[]){100}); /* empty home field */
    resolve_ok(root, "daemon", 1, 1, "/usr/sbin", 0, NULL);
    /* a numeric uid need not exist */
    resolve_ok(root, "4242", 4242, 0, "/", 0, NULL);
}

static void test_groups(void **state)
{
    /* an explicit group replaces the supplementary groups, as in runc */
    resolve_ok(root, "alice:staff", 1000, 50, "/home/alice", 0, NULL);
    resolve_ok(root, "alice:50", 1000, 50, "/home/alice", 0, NULL);
    resolve_ok(root, "1000:7", 1000, 7, "/home/alice", 0, NULL);
    resolve_ok(root, "4242:4242", 4242, 4242, "/", 0, NULL);
    resolve_ok(root, "0:users", 0, 100, "/root", 0, NULL);
}

static void test_errors(void **state)
{
    resolve_bad(root, "nosuch", "unable to find user nosuch: no matching entries in passwd file");
    resolve_bad(root, "alice:nogroup",
                "unable to find group nogroup: no matching entries in group file");
    resolve_bad(root, "alice:", "invalid user `alice:`: empty group");
    resolve_bad(root, ":10", "invalid user `:10`: empty user name");
    /* too large for a uid: taken as a name */
    resolve_bad(root, "99999999999",
                "unable to find user 99999999999: no matching entries in passwd file");
    resolve_bad(root, "bad", "unable to find user bad: no matching entries in passwd file");
    resolve_bad(root, "# a comment",
                "unable to find user # a comment: no matching entries in "
                "passwd file");
}

/* An image without /etc/passwd and /etc/group (scratch images). */
static void test_no_etc(void **state)
{
    resolve_ok(empty_root, "", 0, 0, "/", 0, NULL);
    resolve_ok(empty_root, "1000", 1000, 0, "/", 0, NULL);
    resolve_ok(empty_root, "1000:1000", 1000, 1000, "/", 0, NULL);
    resolve_bad(empty_root, "alice",
                "unable to find user alice: no matching entries in passwd file");
    resolve_bad(empty_root, "0:wheel",
                "unable to find group wheel: no matching entries in group file");
}

/* GroupAdd: names from /etc/group and gids, added once */
static void test_add_groups(void **state)
{
    struct guest_user u;
    ctr_error_t err = NULL;
    assert_int_equal(guest_user_resolve(root, "alice", &u, &err), 0);
    char *groups[] = {"staff", "4242", "wheel", NULL};
    assert_int_equal(guest_user_add_groups(root, &u, groups, &err), 0);
    assert_int_equal(u.n_groups, 4);
    assert_int_equal(u.groups[2], 50);
    assert_int_equal(u.groups[3], 4242);
    char *bad[] = {"nosuch", NULL};
    assert_int_equal(guest_user_add_groups(root, &u, bad, &err), -1);
    assert_non_null(strstr(err->msg, "unable to find group nosuch"));
    ctr_error_free(&err);
    guest_user_release(&u);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names_and_ids), cmocka_unit_test(test_groups),
        cmocka_unit_test(test_add_groups),    cmocka_unit_test(test_errors),
        cmocka_unit_test(test_no_etc),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
