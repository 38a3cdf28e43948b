/* Generated container names (issue 11, defect 7: docker's adjective_surname space, a
 * container still being created holds its name), the registry's list and lookup, and
 * the daemon log's rotation (defect 14). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/daemon-internal.h"

static bool is_name(const char *s, bool digit)
{
    size_t a = strspn(s, "abcdefghijklmnopqrstuvwxyz");
    if (a == 0 || s[a] != '_')
        return false;
    size_t b = strspn(s + a + 1, "abcdefghijklmnopqrstuvwxyz");
    const char *rest = s + a + 1 + b;
    if (b == 0)
        return false;
    return digit ? (rest[0] >= '0' && rest[0] <= '9' && rest[1] == '\0') : rest[0] == '\0';
}

static void test_name_space(void **state)
{
    /* docker's generator: ~100 adjectives x ~240 surnames */
    assert_true(dmn_names_count() >= 100 * 240);
    for (int i = 0; i < 200; i++) {
        char *n = dmn_name_random(0);
        if (!is_name(n, false))
            fail_msg("`%s` is not adjective_surname", n);
        free(n);
        n = dmn_name_random(1);
        if (!is_name(n, true))
            fail_msg("`%s` is not adjective_surname + digit", n);
        free(n);
    }
}

static void test_name_spread(void **state)
{
    /* 2000 draws from >24000 names: a few repeats at most (288 names gave ~1700) */
    enum { N = 2000 };
    char **v = calloc(N, sizeof(char *));
    size_t dup = 0;
    for (int i = 0; i < N; i++) {
        v[i] = dmn_name_random(0);
        for (int k = 0; k < i; k++)
            if (strcmp(v[k], v[i]) == 0) {
                dup++;
                break;
            }
    }
    assert_true(dup < 200);
    for (int i = 0; i < N; i++)
        free(v[i]);
    free(v);
}

static void test_name_held_while_creating(void **state)
{
    struct dmn *d = calloc(1, sizeof(*d));
    struct dmn_container *c = dmn_container_new();
    c->name = strdup("keen_turing");
    c->creating = true; /* invisible to lookups, but its name is taken */
    dmn_container_add_locked(d, c);
    assert_true(dmn_name_in_use_locked(d, "keen_turing"));
    assert_false(dmn_name_in_use_locked(d, "keen_turing1"));
    /* every generated name is free */
    for (int i = 0; i < 500; i++) {
        char *n = dmn_name_generate_locked(d, c->id);
        assert_false(dmn_name_in_use_locked(d, n));
        free(n);
    }
    dmn_container_unlink_locked(d, c);
    dmn_container_put(d, c);
    free(d->ctrs);
    free(d);
}

/* The registry's list (containers.c): newest first, running unless all, before/since
 * bounds, the caller's match, limit; and the lookup errors' classes. */
static void emit_name(struct dmn *d, struct dmn_container *c, void *ctx)
{
    char *out = ctx;
    strcat(out, c->name);
    strcat(out, " ");
}

static bool not_b(struct dmn_container *c, void *ctx)
{
    return strcmp(c->name, "b") != 0;
}

static void test_list_query(void **state)
{
    struct dmn *d = calloc(1, sizeof(*d));
    pthread_mutex_init(&d->lock, NULL);
    const char *names[] = {"a", "b", "c", "d", "e"};
    enum dmn_status st[] = {DMN_RUNNING, DMN_EXITED, DMN_RUNNING, DMN_CREATED, DMN_RUNNING};
    for (int i = 0; i < 5; i++) {
        struct dmn_container *c = dmn_container_new();
        snprintf(c->id, sizeof(c->id), "%c%063d", 'a' + i, 0);
        c->name = strdup(names[i]);
        c->created_ns = i + 1;
        c->status = st[i];
        c->creating = i == 4; /* invisible */
        dmn_container_add_locked(d, c);
        c->refs--; /* the table's only */
    }
    char out[64] = "";
    struct dmn_list_query q = {.emit = emit_name, .ctx = out};
    dmn_containers_list(d, &q);
    assert_string_equal(out, "c a ");
    out[0] = '\0';
    q.all = true;
    dmn_containers_list(d, &q);
    assert_string_equal(out, "d c b a ");
    out[0] = '\0';
    q.limit = 2;
    q.match = not_b;
    dmn_containers_list(d, &q);
    assert_string_equal(out, "d c ");
    out[0] = '\0';
    q.limit = 0;
    q.match = NULL;
    q.before = "d";
    q.since = "a";
    dmn_containers_list(d, &q);
    assert_string_equal(out, "c b ");

    ctr_error_t err = NULL;
    assert_null(dmn_container_get(d, "zz", &err));
    assert_int_equal(err->errnum, ENOENT);
    assert_string_equal(err->msg, "No such container: zz");
    ctr_error_free(&err);
    assert_null(dmn_container_get(d, "", &err));
    ctr_error_free(&err);
    struct dmn_container *c = dmn_container_get(d, "/c", &err);
    assert_non_null(c);
    assert_string_equal(c->name, "c");
    dmn_container_put(d, c);

    while (d->n_ctrs) {
        c = d->ctrs[0];
        c->refs++;
        dmn_container_unlink_locked(d, c);
        dmn_container_put(d, c);
    }
    free(d->ctrs);
    pthread_mutex_destroy(&d->lock);
    free(d);
}

static size_t file_size(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 ? (size_t)st.st_size : 0;
}

static void test_log_rotation(void **state)
{
    char dir[] = "/tmp/ctr-logrot.XXXXXX";
    assert_non_null(mkdtemp(dir));
    char *path = ctr_xasprintf("%s/apiserver.log", dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    assert_true(fd >= 0);
    ctr_log_set_level(CTR_LOG_INFO);
    ctr_log_set_sink(fd, false);
    ctr_log_set_rotate(path, 4096, 2);
    for (int i = 0; i < 1000; i++)
        log_info("line %d of a log that must not grow without bound", i);
    char *p1 = ctr_xasprintf("%s.1", path), *p2 = ctr_xasprintf("%s.2", path),
         *p3 = ctr_xasprintf("%s.3", path);
    assert_true(file_size(path) < 4096 + 200);
    assert_true(file_size(p1) >= 4096 && file_size(p1) < 4096 + 200);
    assert_true(file_size(p2) >= 4096);
    assert_int_equal(access(p3, F_OK), -1); /* two old files kept, no more */
    /* the newest line is in the current file */
    char buf[8192] = "";
    int r = open(path, O_RDONLY);
    ssize_t n = read(r, buf, sizeof(buf) - 1);
    close(r);
    assert_true(n > 0);
    buf[n] = '\0';
    assert_non_null(strstr(buf, "line 999 of"));
    ctr_log_set_rotate(NULL, 0, 0);
    ctr_log_set_sink(2, false);
    close(fd);
    for (char **p = (char *[]){path, p1, p2, NULL}; *p; p++) {
        unlink(*p);
        free(*p);
    }
    free(p3);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_name_space),
        cmocka_unit_test(test_name_spread),
        cmocka_unit_test(test_name_held_while_creating),
        cmocka_unit_test(test_list_query),
        cmocka_unit_test(test_log_rotation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
