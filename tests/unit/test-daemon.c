/* Unit tests of container-apiserver's pure parts: API version prefixes and
 * checks, route matching, filters, times, docker-archive manifest.json, the
 * multiplexed stream header. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>
#include <signal.h>
#include <errno.h>
#include <fcntl.h>
#include <time.h>

#include "daemon/api/api.h"
#include "shimc/shimc.h"

#include <openssl/evp.h>

static void test_version_prefix(void **state)
{
    bool hv;
    unsigned ma = 0, mi = 0;
    const char *rest;
    assert_int_equal(api_route_version("/v1.43/containers/json", &hv, &ma, &mi, &rest), 0);
    assert_true(hv);
    assert_int_equal(ma, 1);
    assert_int_equal(mi, 43);
    assert_string_equal(rest, "/containers/json");
    assert_int_equal(api_route_version("/containers/json", &hv, &ma, &mi, &rest), 0);
    assert_false(hv);
    assert_string_equal(rest, "/containers/json");
    assert_int_equal(api_route_version("/v1.24/_ping", &hv, &ma, &mi, &rest), 0);
    assert_int_equal(mi, 24);
    assert_int_equal(api_route_version("/v1/info", &hv, &ma, &mi, &rest), 0);
    assert_int_equal(ma, 1);
    assert_int_equal(mi, 0);
    /* "/version" is a route, not a prefix */
    assert_int_equal(api_route_version("/version", &hv, &ma, &mi, &rest), 0);
    assert_false(hv);
    assert_int_equal(api_route_version("/v1.x/info", &hv, &ma, &mi, &rest), -1);
    assert_int_equal(api_route_version("/v1.43x/info", &hv, &ma, &mi, &rest), -1);
    assert_int_equal(api_route_version("/v99999999999.1/info", &hv, &ma, &mi, &rest), -1);
}

static void test_version_check(void **state)
{
    assert_null(api_version_check(1, 43));
    assert_null(api_version_check(1, 24));
    assert_null(api_version_check(1, 41));
    char *m = api_version_check(1, 44);
    assert_non_null(m);
    assert_string_equal(m, "client version 1.44 is too new. Maximum supported API version is 1.43");
    free(m);
    m = api_version_check(1, 23);
    assert_non_null(
        strstr(m, "client version 1.23 is too old. Minimum supported API version is 1.24"));
    free(m);
    m = api_version_check(2, 0);
    assert_non_null(strstr(m, "too new"));
    free(m);
    m = api_version_check(0, 99);
    assert_non_null(strstr(m, "too old"));
    free(m);
}

static void free_params(char *p[API_ROUTE_MAX_PARAMS])
{
    for (int i = 0; i < API_ROUTE_MAX_PARAMS; i++) {
        free(p[i]);
        p[i] = NULL;
    }
}

static void test_route_match(void **state)
{
    char *p[API_ROUTE_MAX_PARAMS] = {0};
    assert_true(api_route_match("/containers/json", "/containers/json", p));
    assert_false(api_route_match("/containers/json", "/containers/json/x", p));
    assert_true(api_route_match("/containers/{}/json", "/containers/abc/json", p));
    assert_string_equal(p[0], "abc");
    free_params(p);
    assert_false(api_route_match("/containers/{}/json", "/containers//json", p));
    assert_false(api_route_match("/containers/{}", "/containers", p));
    assert_true(api_route_match("/images/{*}/json", "/images/localhost:5000/a/b:1/json", p));
    assert_string_equal(p[0], "localhost:5000/a/b:1");
    free_params(p);
    assert_true(api_route_match("/images/{*}/json", "/images/x/json/json", p));
    assert_string_equal(p[0], "x/json"); /* greedy */
    free_params(p);
    assert_true(api_route_match("/images/{*}", "/images/busybox", p));
    assert_string_equal(p[0], "busybox");
    free_params(p);
    assert_false(api_route_match("/images/{*}/tag", "/images/tag", p));
    assert_true(api_route_match("/exec/{}/start", "/exec/123/start", p));
    assert_string_equal(p[0], "123");
    free_params(p);
    assert_true(api_route_match("/_ping", "/_ping/", p));
    assert_false(api_route_match("/_ping", "/_pingx", p));
}

static void test_filters(void **state)
{
    struct dmn_filters f = {0};
    ctr_error_t err = NULL;
    static const char *const allowed[] = {"status", "label", NULL};

    assert_int_equal(
        dmn_filters_parse("{\"status\":[\"running\"],\"label\":[\"a=b\",\"c\"]}", &f, &err), 0);
    assert_int_equal(dmn_filters_check(&f, allowed, &err), 0);
    assert_true(dmn_filters_has(&f, "status"));
    assert_false(dmn_filters_has(&f, "id"));
    json_t *labels = json_pack("{s:s,s:s}", "a", "b", "c", "x");
    assert_true(dmn_filters_labels(&f, labels));
    json_object_set_new(labels, "a", json_string("z"));
    assert_false(dmn_filters_labels(&f, labels));
    json_decref(labels);
    dmn_filters_release(&f);

    /* the old map shape */
    assert_int_equal(
        dmn_filters_parse("{\"status\":{\"exited\":true,\"running\":false}}", &f, &err), 0);
    json_t *a = json_object_get(f.f, "status");
    assert_int_equal(json_array_size(a), 1);
    assert_string_equal(json_string_value(json_array_get(a, 0)), "exited");
    dmn_filters_release(&f);

    assert_int_equal(dmn_filters_parse("{\"bogus\":[\"x\"]}", &f, &err), 0);
    assert_int_equal(dmn_filters_check(&f, allowed, &err), -1);
    assert_string_equal(err->msg, "invalid filter 'bogus'");
    ctr_error_free(&err);
    dmn_filters_release(&f);

    assert_int_equal(dmn_filters_parse("[1]", &f, &err), -1);
    ctr_error_free(&err);
    dmn_filters_release(&f);
    assert_int_equal(dmn_filters_parse("{\"status\":[1]}", &f, &err), -1);
    ctr_error_free(&err);
    dmn_filters_release(&f);
    assert_int_equal(dmn_filters_parse("{\"status\":", &f, &err), -1);
    ctr_error_free(&err);
    dmn_filters_release(&f);
    assert_int_equal(dmn_filters_parse(NULL, &f, &err), 0);
    assert_false(dmn_filters_has(&f, "status"));
    dmn_filters_release(&f);
}

static void test_times(void **state)
{
    char *s = dmn_time_rfc3339(0);
    assert_string_equal(s, "0001-01-01T00:00:00Z");
    free(s);
    s = dmn_time_rfc3339(1700000000123456789LL);
    assert_string_equal(s, "2023-11-14T22:13:20.123456789Z");
    free(s);
    s = dmn_time_rfc3339(1700000000100000000LL);
    assert_string_equal(s, "2023-11-14T22:13:20.1Z");
    free(s);
    s = dmn_time_rfc3339(1700000000000000000LL);
    assert_string_equal(s, "2023-11-14T22:13:20Z");
    free(s);
    int64_t ns;
    assert_int_equal(dmn_time_parse("2023-11-14T22:13:20.123456789Z", &ns), 0);
    assert_true(ns == 1700000000123456789LL);
    assert_int_equal(dmn_time_parse("2023-11-14T23:13:20+01:00", &ns), 0);
    assert_true(ns == 1700000000000000000LL);
    assert_int_equal(dmn_time_parse("1700000000.5", &ns), 0);
    assert_true(ns == 1700000000500000000LL);
    assert_int_equal(dmn_time_parse("1700000000", &ns), 0);
    assert_true(ns == 1700000000000000000LL);
    assert_int_equal(dmn_time_parse("", &ns), -1);
    assert_int_equal(dmn_time_parse("2023-13-14T22:13:20Z", &ns), -1);
    assert_int_equal(dmn_time_parse("2023-11-14T22:13:20", &ns), -1);
    assert_int_equal(dmn_time_parse("yesterday", &ns), -1);
    assert_int_equal(dmn_time_parse("1.2.3", &ns), -1);
}

static void test_docker_manifest(void **state)
{
    struct dmn_docker_manifest *m = NULL;
    size_t n = 0;
    ctr_error_t err = NULL;
    const char *ok = "[{\"Config\":\"abc.json\",\"RepoTags\":[\"busybox:latest\",\"bb:1\"],"
                     "\"Layers\":[\"l1/layer.tar\",\"blobs/sha256/00\"]},"
                     "{\"Config\":\"def.json\",\"RepoTags\":null,\"Layers\":[]}]";
    assert_int_equal(dmn_docker_manifest_parse(ok, strlen(ok), &m, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_string_equal(m[0].config, "abc.json");
    assert_string_equal(m[0].repo_tags[1], "bb:1");
    assert_null(m[0].repo_tags[2]);
    assert_string_equal(m[0].layers[0], "l1/layer.tar");
    assert_null(m[1].repo_tags[0]);
    assert_null(m[1].layers[0]);
    dmn_docker_manifest_free(m, n);

    static const char *const bad[] = {
        "{}",
        "[]",
        "[{\"RepoTags\":[],\"Layers\":[]}]",
        "[{\"Config\":\"../etc/passwd\",\"Layers\":[]}]",
        "[{\"Config\":\"/abs\",\"Layers\":[]}]",
        "[{\"Config\":\"a\",\"Layers\":[\"x/../../y\"]}]",
        "[{\"Config\":\"a\",\"Layers\":\"x\"}]",
        "[{\"Config\":\"a\",\"Layers\":[],\"RepoTags\":[1]}]",
        "[{\"Config\":\"a\",\"Layers\":[2]}]",
        "[{\"Config\":\"a\",\"Config\":\"b\",\"Layers\":[]}]",
        "not json",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        m = NULL;
        assert_int_equal(dmn_docker_manifest_parse(bad[i], strlen(bad[i]), &m, &n, &err), -1);
        assert_non_null(err);
        ctr_error_free(&err);
    }
}

static void test_mux_header(void **state)
{
    uint8_t h[8];
    dmn_mux_header(h, 2, 0x01020304);
    const uint8_t want[8] = {2, 0, 0, 0, 1, 2, 3, 4};
    assert_memory_equal(h, want, 8);
}

static void test_signals(void **state)
{
    int s;
    assert_int_equal(dmn_parse_signal("KILL", &s), 0);
    assert_int_equal(s, 9);
    assert_int_equal(dmn_parse_signal("SIGTERM", &s), 0);
    assert_int_equal(s, 15);
    assert_int_equal(dmn_parse_signal("sighup", &s), 0);
    assert_int_equal(s, 1);
    assert_int_equal(dmn_parse_signal("10", &s), 0);
    assert_int_equal(s, 10);
    assert_int_equal(dmn_parse_signal("0", &s), -1);
    assert_int_equal(dmn_parse_signal("99", &s), -1);
    assert_int_equal(dmn_parse_signal("NOPE", &s), -1);
    assert_int_equal(dmn_parse_signal("", &s), -1);
}

static void test_path_stat_header(void **state)
{
    struct shimc_path_stat st = {.name = "passwd",
                                 .size = 1234,
                                 .mode = (1u << 27) | 0777,
                                 .mtime = "2024-01-02T03:04:05Z",
                                 .link_target = "/etc/real \"q\""};
    char *h = api_path_stat_header(&st);
    unsigned char raw[512];
    int n = EVP_DecodeBlock(raw, (unsigned char *)h, (int)strlen(h));
    assert_true(n > 0);
    while (n > 0 && raw[n - 1] == '\0')
        n--;
    json_t *j = json_loadb((char *)raw, (size_t)n, 0, NULL);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "name")), "passwd");
    assert_int_equal(json_integer_value(json_object_get(j, "size")), 1234);
    assert_int_equal(json_integer_value(json_object_get(j, "mode")), (1u << 27) | 0777);
    assert_string_equal(json_string_value(json_object_get(j, "mtime")), "2024-01-02T03:04:05Z");
    assert_string_equal(json_string_value(json_object_get(j, "linkTarget")), "/etc/real \"q\"");
    json_decref(j);
    free(h);
    /* missing fields: docker's zero values, never a null */
    struct shimc_path_stat empty = {0};
    h = api_path_stat_header(&empty);
    n = EVP_DecodeBlock(raw, (unsigned char *)h, (int)strlen(h));
    while (n > 0 && raw[n - 1] == '\0')
        n--;
    j = json_loadb((char *)raw, (size_t)n, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(j, "linkTarget")), "");
    assert_string_equal(json_string_value(json_object_get(j, "mtime")), "0001-01-01T00:00:00Z");
    json_decref(j);
    free(h);
}

/* The lock order (locks.c): in order is silent; out of order is counted and logged, and
 * aborts a debug build. Run in a child: the abort must not end the test process. */
static void test_lock_order(void **state)
{
    (void)state;
    pthread_mutex_t a = PTHREAD_MUTEX_INITIALIZER, b = PTHREAD_MUTEX_INITIALIZER;
    dmn_mutex_lock(&a, DMN_RANK_OP);
    dmn_mutex_lock(&b, DMN_RANK_CTRS);
    assert_true(dmn_rank_held(DMN_RANK_CTRS));
    dmn_mutex_unlock(&b, DMN_RANK_CTRS);
    dmn_mutex_unlock(&a, DMN_RANK_OP);
    assert_false(dmn_rank_held(DMN_RANK_OP));
    assert_int_equal(dmn_lock_violations(), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        ctr_log_set_sink(devnull, false);
        dmn_mutex_lock(&b, DMN_RANK_IMG);
        dmn_mutex_lock(&a, DMN_RANK_NET); /* net_lock after img_lock: wrong */
        _exit(dmn_lock_violations() == 1 ? 0 : 1);
    }
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
#ifdef CTR_DEBUG
    assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT);
#else
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
#endif
}

static bool take_image(const struct dmn_event *e, void *ctx)
{
    if (strcmp(e->type, "image") != 0)
        return false;
    *(uint64_t *)ctx = e->seq;
    return true;
}

/* The events cursor (events.c): matching, until, and a reader that fell behind the ring. */
static void test_events_cursor(void **state)
{
    (void)state;
    struct dmn *d = calloc(1, sizeof(*d));
    pthread_mutex_init(&d->lock, NULL);
    pthread_cond_init(&d->cond, NULL);
    assert_int_equal(dmn_events_cursor(d, true), 0);
    pthread_mutex_lock(&d->lock);
    dmn_event_emit_locked(d, "container", "start", "c1", NULL);
    dmn_event_emit_locked(d, "image", "pull", "i1", NULL);
    dmn_event_emit_locked(d, "container", "die", "c1", NULL);
    pthread_mutex_unlock(&d->lock);
    assert_int_equal(dmn_events_cursor(d, false), 3);
    uint64_t next = dmn_events_cursor(d, true), seen = 99;
    assert_int_equal(dmn_events_next(d, &next, 0, 0, -1, take_image, &seen), 1);
    assert_int_equal(seen, 1);
    assert_int_equal(next, 2);
    /* nothing more matches and `until` has passed: the end, without waiting */
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t now = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
    assert_int_equal(dmn_events_next(d, &next, 0, now, -1, take_image, &seen), 0);
    /* a slow reader skips what fell off the ring */
    pthread_mutex_lock(&d->lock);
    for (int i = 0; i < DMN_EVENTS_KEEP + 10; i++)
        dmn_event_emit_locked(d, "image", "tag", "i2", NULL);
    pthread_mutex_unlock(&d->lock);
    next = 0;
    assert_int_equal(dmn_events_next(d, &next, 0, 0, -1, take_image, &seen), 1);
    assert_int_equal(seen, 13);
    assert_int_equal(dmn_events_cursor(d, true), 13);
    dmn_events_release(d);
    pthread_cond_destroy(&d->cond);
    pthread_mutex_destroy(&d->lock);
    free(d);
}

/* commit's `changes`: moby's BuildFromConfig on the instructions commit allows. */
static void test_commit_changes(void **state)
{
    json_t *c = json_pack("{s:[s],s:s}", "Env", "PATH=/bin", "WorkingDir", "/app");
    char *ok[] = {"CMD echo hi",
                  "ENTRYPOINT [\"/bin/sh\", \"-c\"]",
                  "ENV FOO=bar PATH=/usr/bin",
                  "env LEGACY value with spaces",
                  "EXPOSE 80 53/udp",
                  "LABEL a=1 \"b c\"=2",
                  "WORKDIR sub",
                  "USER app",
                  "VOLUME [\"/data\"]",
                  "STOPSIGNAL SIGINT",
                  "ONBUILD RUN make",
                  "# a comment",
                  NULL};
    ctr_error_t err = NULL;
    assert_int_equal(dmn_commit_changes_apply(c, ok, &err), 0);
    char *got = json_dumps(c, JSON_SORT_KEYS | JSON_COMPACT);
    assert_string_equal(
        got, "{\"Cmd\":[\"/bin/sh\",\"-c\",\"echo hi\"],\"Entrypoint\":[\"/bin/sh\",\"-c\"],"
             "\"Env\":[\"PATH=/usr/bin\",\"FOO=bar\",\"LEGACY=value with spaces\"],"
             "\"ExposedPorts\":{\"53/udp\":{},\"80/tcp\":{}},\"Labels\":{\"a\":\"1\",\"b "
             "c\":\"2\"},\"OnBuild\":[\"RUN make\"],\"StopSignal\":\"SIGINT\",\"User\":\"app\","
             "\"Volumes\":{\"/data\":{}},\"WorkingDir\":\"/app/sub\"}");
    free(got);
    char *bad[][2] = {{"RUN echo", "run is not a valid change command"},
                      {"FROM busybox", "from is not a valid change command"},
                      {"EXPOSE 99999", "invalid containerPort: 99999"},
                      {"ENV", "ENV requires at least one argument"},
                      {"ENV =x", "ENV names can not be blank"},
                      {"USER", "user requires at least one argument"}};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char *one[] = {bad[i][0], NULL};
        assert_int_equal(dmn_commit_changes_apply(c, one, &err), -1);
        assert_string_equal(err->msg, bad[i][1]);
        assert_int_equal(err->errnum, EINVAL);
        ctr_error_free(&err);
    }
    json_decref(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_version_prefix), cmocka_unit_test(test_version_check),
        cmocka_unit_test(test_route_match),    cmocka_unit_test(test_filters),
        cmocka_unit_test(test_times),          cmocka_unit_test(test_docker_manifest),
        cmocka_unit_test(test_commit_changes), cmocka_unit_test(test_mux_header),
        cmocka_unit_test(test_signals),        cmocka_unit_test(test_path_stat_header),
        cmocka_unit_test(test_lock_order),     cmocka_unit_test(test_events_cursor),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
