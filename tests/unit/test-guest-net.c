/* vminitd's network set-up (src/guest/net.c) against a real kernel, without a VM: the
 * test moves itself into a network namespace of its own (with its own sysfs, so
 * /sys/class/net shows that namespace) and plays the NIC with a veth of a known MAC.
 * Needs root; skipped otherwise. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
/* cmocka needs the three above first */
#include <cmocka.h>

#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include "guest/guest-internal.h"

static bool isolated;

static int group_setup(void **state)
{
    if (geteuid() != 0)
        return 0;
    if (unshare(CLONE_NEWNET | CLONE_NEWNS) < 0 ||
        mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
        mount("sysfs", "/sys", "sysfs", 0, NULL) < 0)
        return 0;
    if (system("ip link add v0 address 02:42:0a:09:00:05 type veth peer name v1 && "
               "ip link set v1 up") != 0)
        return 0;
    isolated = true;
    return 0;
}

static char *sh(const char *cmd)
{
    FILE *f = popen(cmd, "r");
    char buf[4096];
    size_t n;
    assert_non_null(f);
    n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = '\0';
    pclose(f);
    return ctr_xstrdup(buf);
}

#define NEED_NS()                                                                                  \
    do {                                                                                           \
        if (!isolated)                                                                             \
            skip(); /* not root, or no netns/veth here */                                          \
    } while (0)

static void configures_the_nic_with_the_mac(void **state)
{
    NEED_NS();
    struct agent_iface f = {"02:42:0A:09:00:05", "10.9.0.5/24", "10.9.0.1", 1400};
    struct agent_setup s = {.ifaces = &f, .n_ifaces = 1};
    ctr_error_t err = NULL;
    char *out;

    if (guest_net_setup(&s, &err) < 0)
        fail_msg("%s", err->msg);
    out = sh("ip -4 -o addr show dev v0");
    assert_non_null(strstr(out, "inet 10.9.0.5/24 brd 10.9.0.255"));
    free(out);
    out = sh("ip route show default");
    assert_non_null(strstr(out, "default via 10.9.0.1 dev v0"));
    free(out);
    out = sh("cat /sys/class/net/v0/mtu");
    assert_string_equal(out, "1400\n");
    free(out);
    out = sh("ip -o link show v0");
    assert_non_null(strstr(out, ",UP"));
    free(out);
    out = sh("ip -o link show lo");
    assert_non_null(strstr(out, "LOOPBACK,UP"));
    free(out);
}

static void errors_name_the_interface(void **state)
{
    NEED_NS();
    struct agent_iface missing = {"02:42:0a:09:00:99", "10.9.1.5/24", NULL, 1500};
    struct agent_setup s = {.ifaces = &missing, .n_ifaces = 1};
    ctr_error_t err = NULL;

    assert_int_equal(guest_net_setup(&s, &err), -1);
    assert_non_null(strstr(err->msg, "interface 02:42:0a:09:00:99: no NIC with this MAC"));
    ctr_error_free(&err);

    /* the default route exists already (first test): the error says where it failed */
    struct agent_iface again = {"02:42:0a:09:00:05", "10.9.0.5/24", "10.9.0.1", 1400};
    s.ifaces = &again;
    assert_int_equal(guest_net_setup(&s, &err), -1);
    assert_non_null(
        strstr(err->msg, "interface 02:42:0a:09:00:05 (v0): default route via 10.9.0.1"));
    ctr_error_free(&err);

    /* no interfaces: only lo, always fine */
    s.n_ifaces = 0;
    assert_int_equal(guest_net_setup(&s, &err), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(configures_the_nic_with_the_mac),
        cmocka_unit_test(errors_name_the_interface),
    };
    return cmocka_run_group_tests(tests, group_setup, NULL);
}
