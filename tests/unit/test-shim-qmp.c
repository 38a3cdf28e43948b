/* QMP (src/shim/qmp.c): the blocking client of a template VM and the event reader of a
 * container VM, against a fake QEMU on the other end of a socketpair; hostile input
 * included. And the QEMU backend's snapshot header check. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
/* cmocka needs the three above first */
#include <cmocka.h>

#include "shim/qmp-internal.h"
#include "shim/vmm-qemu-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

static void pair(int sv[2])
{
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
}

static void say(int fd, const char *s)
{
    assert_int_equal(ctr_write_all(fd, s, strlen(s)), (ssize_t)strlen(s));
}

/* What the client sent, up to the bytes available now. */
static char *heard(int fd)
{
    static char buf[4096];
    ssize_t n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
    buf[n > 0 ? n : 0] = '\0';
    return buf;
}

#define GREETING "{\"QMP\": {\"version\": {}, \"capabilities\": [\"oob\"]}}\r\n"

static void client_commands(void **state)
{
    int sv[2];
    ctr_error_t err = NULL;
    struct qmp_client *q = ctr_xcalloc(1, sizeof(*q));

    pair(sv);
    q->fd = sv[0];
    q->deadline = ctr_now_ns() + 5000000000ull;
    /* the greeting and an event come before the answer: skipped */
    say(sv[1], GREETING "{\"event\": \"STOP\", \"data\": {}}\r\n{\"return\": {}}\r\n");
    assert_int_equal(qmp_command(q, "qmp_capabilities", NULL, NULL, -1, &err), 0);
    assert_string_equal(heard(sv[1]), "{\"execute\":\"qmp_capabilities\"}");

    /* an argument; an fd passed along (getfd) */
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    say(sv[1], "{\"return\": {}}\n");
    assert_int_equal(qmp_command(q, "getfd", "fdname", "state", fds[1], &err), 0);
    char buf[256];
    union {
        char b[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } ctl;
    struct iovec iov = {.iov_base = buf, .iov_len = sizeof(buf) - 1};
    struct msghdr mh = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.b, .msg_controllen = sizeof(ctl.b)};
    ssize_t n = recvmsg(sv[1], &mh, 0);
    assert_true(n > 0);
    buf[n] = '\0';
    assert_string_equal(buf, "{\"execute\":\"getfd\",\"arguments\":{\"fdname\":\"state\"}}");
    struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
    assert_non_null(c);
    assert_int_equal(c->cmsg_type, SCM_RIGHTS);
    int got;
    memcpy(&got, CMSG_DATA(c), sizeof(int));
    assert_true(got >= 0);
    close(got), close(fds[0]), close(fds[1]);

    /* an error answer names the command and QEMU's reason */
    say(sv[1], "{\"error\": {\"class\": \"GenericError\", \"desc\": \"no space\"}}\n");
    assert_int_equal(qmp_command(q, "migrate", "uri", "fd:state", -1, &err), -1);
    assert_non_null(strstr(err->msg, "QMP `migrate`: no space"));
    ctr_error_free(&err);
    (void)heard(sv[1]);

    /* query-migrate: typed */
    char *status = NULL, *why = NULL;
    say(sv[1], "{\"return\": {\"status\": \"failed\", \"error-desc\": \"disk\"}}\n");
    assert_int_equal(qmp_query_migrate(q, &status, &why, &err), 0);
    assert_string_equal(status, "failed");
    assert_string_equal(why, "disk");
    free(status), free(why);
    say(sv[1], "{\"return\": {}}\n");
    assert_int_equal(qmp_query_migrate(q, &status, &why, &err), 0);
    assert_string_equal(status, "");
    assert_null(why);
    free(status);
    (void)heard(sv[1]);

    /* hostile: bad JSON, an endless line, silence, a closed socket */
    say(sv[1], "{nope\n");
    assert_int_equal(qmp_command(q, "stop", NULL, NULL, -1, &err), -1);
    assert_int_equal(err->errnum, EPROTO);
    ctr_error_free(&err);
    q->deadline = ctr_now_ns() + 50000000ull;
    assert_int_equal(qmp_command(q, "stop", NULL, NULL, -1, &err), -1);
    assert_int_equal(err->errnum, ETIMEDOUT);
    ctr_error_free(&err);
    q->deadline = ctr_now_ns() + 5000000000ull;
    int one = 1 << 20;
    setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &one, sizeof(one));
    char *big = ctr_xmalloc(70000);
    memset(big, 'x', 70000);
    assert_int_equal(ctr_write_all(sv[1], big, 70000), 70000);
    free(big);
    assert_int_equal(qmp_command(q, "stop", NULL, NULL, -1, &err), -1);
    assert_non_null(strstr(err->msg, "too long"));
    ctr_error_free(&err);
    q->len = 0;
    close(sv[1]);
    assert_int_equal(qmp_command(q, "stop", NULL, NULL, -1, &err), -1);
    ctr_error_free(&err);
    close(sv[0]);
    free(q);
}

struct seen {
    int n;
    char name[64], device[64], operation[16], reason[64];
    bool nospace;
    char reply_id[32], error[64];
};

static void on_event(void *arg, const struct qmp_event *ev)
{
    struct seen *s = arg;
    s->n++;
    snprintf(s->name, sizeof(s->name), "%s", ev->name ? ev->name : "(null)");
    snprintf(s->reply_id, sizeof(s->reply_id), "%s", ev->reply_id ? ev->reply_id : "(null)");
    snprintf(s->error, sizeof(s->error), "%s", ev->error ? ev->error : "(null)");
    snprintf(s->device, sizeof(s->device), "%s", ev->device ? ev->device : "(null)");
    snprintf(s->operation, sizeof(s->operation), "%s", ev->operation ? ev->operation : "(null)");
    snprintf(s->reason, sizeof(s->reason), "%s", ev->reason ? ev->reason : "(null)");
    s->nospace = ev->nospace;
}

static void event_reader(void **state)
{
    int sv[2];
    struct seen s = {0};
    struct qmp_reader r = {.fd = -1};

    pair(sv);
    r.fd = sv[0];
    fcntl(r.fd, F_SETFL, O_NONBLOCK);
    /* nothing yet: still open */
    assert_int_equal(qmp_reader_read(&r, on_event, &s), 1);
    /* the greeting is answered with qmp_capabilities */
    say(sv[1], GREETING);
    assert_int_equal(qmp_reader_read(&r, on_event, &s), 1);
    assert_string_equal(heard(sv[1]), "{\"execute\":\"qmp_capabilities\"}\n");
    assert_int_equal(s.n, 0);
    /* an event split across reads; the answer to qmp_capabilities is no event */
    say(sv[1], "{\"return\": {}}\r\n{\"timestamp\": {}, \"event\": \"BLOCK_IO_ERROR\", \"data\": "
               "{\"device\": \"disk1\", \"operation\": ");
    assert_int_equal(qmp_reader_read(&r, on_event, &s), 1);
    assert_int_equal(s.n, 0);
    say(sv[1], "\"write\", \"action\": \"report\", \"nospace\": true, \"reason\": \"No space "
               "left on device\"}}\r\n");
    assert_int_equal(qmp_reader_read(&r, on_event, &s), 1);
    assert_int_equal(s.n, 1);
    assert_string_equal(s.name, "BLOCK_IO_ERROR");
    assert_string_equal(s.device, "disk1");
    assert_string_equal(s.operation, "write");
    assert_string_equal(s.reason, "No space left on device");
    assert_true(s.nospace);
    /* hostile: garbage, a non-object, an event without data, a huge line: dropped or
     * empty fields, never a crash; the next event still arrives */
    say(sv[1], "garbage\n[1,2]\n\n{\"event\": 7}\n{\"event\": \"BLOCK_IO_ERROR\"}\n");
    assert_int_equal(qmp_reader_read(&r, on_event, &s), 1);
    assert_int_equal(s.n, 2);
    assert_string_equal(s.device, "(null)");
    assert_false(s.nospace);
    char *big = ctr_xmalloc(100000);
    memset(big, 'x', 100000);
    big[0] = '{';
    int one = 1 << 20;
    setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &one, sizeof(one));
    assert_int_equal(ctr_write_all(sv[1], big, 100000), 100000);
    free(big);
    say(sv[1], "\n{\"event\": \"RESUME\"}\n");
    while (qmp_reader_read(&r, on_event, &s) == 1 && s.n < 3)
        ;
    assert_int_equal(s.n, 3);
    assert_string_equal(s.name, "RESUME");
    assert_true(r.len == 0);
    /* QEMU gone */
    close(sv[1]);
    assert_int_equal(qmp_reader_read(&r, on_event, &s), 0);
    qmp_reader_release(&r);
    assert_int_equal(r.fd, -1);
    qmp_reader_release(&r); /* twice is fine */
}

/* pause/resume (vmm_ops.pause): `stop` and `cont` sent with an id; their answers come
 * back through the reader as answers (name NULL), an error with QEMU's desc; answers
 * without an id (qmp_capabilities') are no events. */
static void reader_commands(void **state)
{
    int sv[2];
    struct seen s = {0};
    struct qmp_reader r = {.fd = -1};
    ctr_error_t err = NULL;

    assert_int_equal(qmp_reader_send(&r, "stop", "pause", &err), -1); /* no monitor */
    assert_non_null(strstr(err->msg, "no monitor"));
    ctr_error_free(&err);
    pair(sv);
    r.fd = sv[0];
    fcntl(r.fd, F_SETFL, O_NONBLOCK);
    assert_int_equal(qmp_reader_send(&r, "stop", "pause", &err), 0);
    assert_string_equal(heard(sv[1]), "{\"execute\":\"stop\",\"id\":\"pause\"}\n");
    say(sv[1], "{\"return\": {}}\r\n{\"timestamp\": {}, \"event\": \"STOP\"}\r\n"
               "{\"return\": {}, \"id\": \"pause\"}\r\n");
    assert_int_equal(qmp_reader_read(&r, on_event, &s), 1);
    assert_int_equal(s.n, 2); /* the STOP event, then the answer */
    assert_string_equal(s.name, "(null)");
    assert_string_equal(s.reply_id, "pause");
    assert_string_equal(s.error, "(null)");
    assert_int_equal(qmp_reader_send(&r, "cont", "resume", &err), 0);
    assert_string_equal(heard(sv[1]), "{\"execute\":\"cont\",\"id\":\"resume\"}\n");
    say(sv[1], "{\"id\": \"resume\", \"error\": {\"class\": \"GenericError\", \"desc\": "
               "\"Migration is not finished\"}}\n{\"id\": 7, \"return\": {}}\n");
    assert_int_equal(qmp_reader_read(&r, on_event, &s), 1);
    assert_int_equal(s.n, 3); /* a numeric id is no answer of ours */
    assert_string_equal(s.reply_id, "resume");
    assert_string_equal(s.error, "Migration is not finished");
    close(sv[1]);
    qmp_reader_release(&r);
}

/* A template's state file is kept only when it starts like a migration stream. */
static void snapshot_header(void **state)
{
    char path[] = "/tmp/test-qmp-state.XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    unlink(path);
    assert_false(vmm_qemu_snapshot_valid(fd)); /* empty */
    assert_int_equal(pwrite(fd, "QEV", 3, 0), 3);
    assert_false(vmm_qemu_snapshot_valid(fd)); /* short */
    assert_int_equal(pwrite(fd, "garbage", 7, 0), 7);
    assert_false(vmm_qemu_snapshot_valid(fd));
    assert_int_equal(pwrite(fd, "QEVM\0\0\0\3", 8, 0), 8);
    assert_true(vmm_qemu_snapshot_valid(fd));
    assert_true(vmm_qemu_ops.snapshot_valid == vmm_qemu_snapshot_valid);
    close(fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(client_commands),
        cmocka_unit_test(event_reader),
        cmocka_unit_test(reader_commands),
        cmocka_unit_test(snapshot_header),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
