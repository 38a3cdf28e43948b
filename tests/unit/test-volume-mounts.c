/* -v / --mount / --tmpfs / --shm-size parsing (hostile inputs included), their
 * translation into bundle shares and agent mounts, and the named-volume store. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bundle/bundle.h"
#include "shim/vmm-qemu-internal.h"

static void bind_ok(const char *spec, enum bundle_mount_type type, const char *src, const char *dst,
                    bool ro)
{
    struct bundle_mount_spec m = {0};
    ctr_error_t err = NULL;
    if (bundle_mount_parse_bind(spec, &m, &err) < 0)
        fail_msg("`%s`: %s", spec, err->msg);
    assert_int_equal(m.type, type);
    assert_string_equal(m.source, src);
    assert_string_equal(m.target, dst);
    assert_int_equal(m.readonly, ro);
    bundle_mount_spec_release(&m);
}

static void bind_bad(const char *spec, const char *needle)
{
    struct bundle_mount_spec m = {0};
    ctr_error_t err = NULL;
    if (bundle_mount_parse_bind(spec, &m, &err) == 0)
        fail_msg("`%s` accepted", spec ? spec : "(null)");
    if (strstr(err->msg, needle) == NULL)
        fail_msg("`%s`: message `%s` lacks `%s`", spec, err->msg, needle);
    ctr_error_free(&err);
}

static void test_bind(void **state)
{
    (void)state;
    bind_ok("/host:/ctr", BUNDLE_MOUNT_BIND, "/host", "/ctr", false);
    bind_ok("/host/a b:/ctr/x y:ro", BUNDLE_MOUNT_BIND, "/host/a b", "/ctr/x y", true);
    bind_ok("/h:/c:rw", BUNDLE_MOUNT_BIND, "/h", "/c", false);
    bind_ok("/h:/c:ro,z", BUNDLE_MOUNT_BIND, "/h", "/c", true);
    bind_ok("data:/var/lib/db", BUNDLE_MOUNT_VOLUME, "data", "/var/lib/db", false);
    bind_ok("my.vol-1_x:/v:ro", BUNDLE_MOUNT_VOLUME, "my.vol-1_x", "/v", true);
    struct bundle_mount_spec nc = {0};
    ctr_error_t e = NULL;
    assert_int_equal(bundle_mount_parse_bind("v1:/x:nocopy", &nc, &e), 0);
    assert_true(nc.nocopy);
    bundle_mount_spec_release(&nc);
    assert_int_equal(
        bundle_mount_parse_flag("type=volume,source=v1,target=/x,volume-nocopy", &nc, &e), 0);
    assert_true(nc.nocopy);
    bundle_mount_spec_release(&nc);
    bind_bad(NULL, "expected SOURCE:TARGET");
    bind_bad("", "expected SOURCE:TARGET");
    /* `-v /path` and `--mount type=volume,target=` without source: anonymous volumes */
    const char *anon_specs[] = {"/only", "type=volume,target=/only,readonly",
                                "type=volume,source=,target=/only,volume-nocopy"};
    for (size_t i = 0; i < 3; i++) {
        int r = i == 0 ? bundle_mount_parse_bind(anon_specs[i], &nc, &e)
                       : bundle_mount_parse_flag(anon_specs[i], &nc, &e);
        if (r < 0)
            fail_msg("`%s`: %s", anon_specs[i], e->msg);
        assert_int_equal(nc.type, BUNDLE_MOUNT_VOLUME);
        assert_null(nc.source);
        assert_string_equal(nc.target, "/only");
        assert_int_equal(nc.readonly, i == 1);
        assert_int_equal(nc.nocopy, i == 2);
        bundle_mount_spec_release(&nc);
    }
    bind_bad("only", "absolute container path for an anonymous volume");
    bind_bad("/", "cannot be the container's root");
    bind_bad("/a/../b", "must not contain `..`");
    bind_bad("relative/path:/c", "must be an absolute host path");
    bind_bad("./here:/c", "must be an absolute host path");
    bind_bad("~/x:/c", "must be an absolute host path");
    bind_bad("/h:c", "must be an absolute path");
    bind_bad("/h:", "needs a target");
    bind_bad(":/c", "needs a source");
    bind_bad("/h:/", "cannot be the container's root");
    bind_bad("/h:/./", "cannot be the container's root");
    bind_bad("/h:/a/../../etc", "must not contain `..`");
    bind_bad("/h:/c:rx", "unknown option `rx`");
    bind_bad("/h:/c:ro:extra", "unknown option");
    bind_bad("/h:/c:", "expected SOURCE:TARGET");
    bind_bad("-x:/c", "invalid volume name");
    bind_bad("a:/c", "invalid volume name");
    bind_bad("/h:/a,b", "must not contain a comma");
    char big[5000];
    memset(big, 'a', sizeof(big));
    big[0] = '/';
    big[sizeof(big) - 1] = '\0';
    char *spec = ctr_xasprintf("/h:%s", big);
    bind_bad(spec, "too long");
    free(spec);
}

static void test_flag(void **state)
{
    (void)state;
    struct bundle_mount_spec m = {0};
    ctr_error_t err = NULL;

    assert_int_equal(bundle_mount_parse_flag("type=bind,source=/h,target=/c,readonly", &m, &err),
                     0);
    assert_int_equal(m.type, BUNDLE_MOUNT_BIND);
    assert_string_equal(m.source, "/h");
    assert_string_equal(m.target, "/c");
    assert_true(m.readonly);
    bundle_mount_spec_release(&m);
    assert_int_equal(bundle_mount_parse_flag("type=volume,src=v1,dst=/d,readonly=false", &m, &err),
                     0);
    assert_int_equal(m.type, BUNDLE_MOUNT_VOLUME);
    assert_false(m.readonly);
    bundle_mount_spec_release(&m);
    assert_int_equal(bundle_mount_parse_flag(
                         "type=tmpfs,destination=/t,tmpfs-size=64m,tmpfs-mode=1770", &m, &err),
                     0);
    assert_int_equal(m.type, BUNDLE_MOUNT_TMPFS);
    assert_string_equal(m.options, "size=64m,mode=1770");
    bundle_mount_spec_release(&m);

    static const struct {
        const char *spec, *needle;
    } bad[] = {
        {"", "needs `type=bind`"},
        {"source=/h,target=/c", "needs `type=bind`"},
        {"type=npipe,source=/h,target=/c", "`npipe` is not supported"},
        {"type=bind,source=/h", "needs a target"},
        {"type=bind,target=/c", "needs a source"},
        {"type=bind,source=rel,target=/c", "must be an absolute host path"},
        {"type=bind,source=/h,target=/c,readonly=maybe", "invalid `readonly` value"},
        {"type=bind,source=/h,target=/c,bogus=1", "unknown or incomplete `--mount` field `bogus`"},
        {"type=bind,source,target=/c", "unknown or incomplete"},
        {"type=bind,source=/h,target=/c,tmpfs-size=1m", "need `type=tmpfs`"},
        {"type=tmpfs,source=/h,target=/t", "takes no `source`"},
        {"type=volume,source=../x,target=/c", "invalid volume name"},
        {"type=bind,source=/h,target=/a/../b", "must not contain `..`"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (bundle_mount_parse_flag(bad[i].spec, &m, &err) == 0)
            fail_msg("`%s` accepted", bad[i].spec);
        if (strstr(err->msg, bad[i].needle) == NULL)
            fail_msg("`%s`: message `%s` lacks `%s`", bad[i].spec, err->msg, bad[i].needle);
        ctr_error_free(&err);
    }
}

static void test_tmpfs_size(void **state)
{
    (void)state;
    struct bundle_mount_spec m = {0};
    ctr_error_t err = NULL;
    uint64_t n = 0;

    assert_int_equal(bundle_mount_parse_tmpfs("/run/x", "size=1m,mode=700", &m, &err), 0);
    assert_string_equal(m.options, "size=1m,mode=700");
    bundle_mount_spec_release(&m);
    assert_int_equal(bundle_mount_parse_tmpfs("/t", NULL, &m, &err), 0);
    assert_string_equal(m.options, "");
    bundle_mount_spec_release(&m);
    assert_int_equal(bundle_mount_parse_tmpfs("t", NULL, &m, &err), -1);
    ctr_error_free(&err);
    assert_int_equal(bundle_mount_parse_tmpfs("/t", "size=1m mode=1", &m, &err), -1);
    ctr_error_free(&err);

    assert_int_equal(bundle_mount_parse_size("64m", &n, &err), 0);
    assert_int_equal(n, 64ull << 20);
    assert_int_equal(bundle_mount_parse_size("2G", &n, &err), 0);
    assert_int_equal(n, 2ull << 30);
    assert_int_equal(bundle_mount_parse_size("4096", &n, &err), 0);
    assert_int_equal(n, 4096);
    assert_int_equal(bundle_mount_parse_size("512kb", &n, &err), 0);
    assert_int_equal(n, 512ull << 10);
    static const char *const bad[] = {
        "", "m", "-1m", "1x", "1mm", "100", "99999999999999999999g", "18446744073709551615g", NULL};
    for (size_t i = 0; bad[i]; i++) {
        if (bundle_mount_parse_size(bad[i], &n, &err) == 0)
            fail_msg("size `%s` accepted", bad[i]);
        ctr_error_free(&err);
    }
    assert_int_equal(bundle_mount_parse_size(NULL, &n, &err), -1);
    ctr_error_free(&err);
}

struct tmp {
    char root[64];
};

static int tmp_setup(void **state)
{
    struct tmp *t = ctr_xcalloc(1, sizeof(*t));
    snprintf(t->root, sizeof(t->root), "/tmp/test-volmounts.XXXXXX");
    if (mkdtemp(t->root) == NULL)
        return -1;
    *state = t;
    return 0;
}

static int tmp_teardown(void **state)
{
    struct tmp *t = *state;
    ctr_error_t err = NULL;
    if (ctr_rm_rf(t->root, &err) < 0)
        ctr_error_free(&err);
    free(t);
    return 0;
}

static struct bundle_mount_spec spec(enum bundle_mount_type type, const char *src, const char *dst,
                                     bool ro)
{
    return (struct bundle_mount_spec){.type = type,
                                      .source = src ? ctr_xstrdup(src) : NULL,
                                      .target = ctr_xstrdup(dst),
                                      .readonly = ro,
                                      .options = ctr_xstrdup("size=1m")};
}

/* cfg.n_disks stands for the two disks of a container; none are allocated here */
static void cfg_release(struct bundle_config *cfg)
{
    cfg->n_disks = 0;
    bundle_config_release(cfg);
}

static void test_apply(void **state)
{
    struct tmp *t = *state;
    cleanup_free char *dir = ctr_xasprintf("%s/dir", t->root);
    cleanup_free char *file = ctr_xasprintf("%s/dir/f.conf", t->root);
    cleanup_free char *missing = ctr_xasprintf("%s/missing", t->root);
    ctr_error_t err = NULL;

    assert_int_equal(ctr_mkdir_p(dir, 0755, &err), 0);
    assert_int_equal(ctr_write_file_atomic(file, "x", 1, 0644, &err), 0);

    struct bundle_mount_spec m[4] = {
        spec(BUNDLE_MOUNT_BIND, dir, "/data", false),
        spec(BUNDLE_MOUNT_BIND, file, "/etc/f.conf", true),
        spec(BUNDLE_MOUNT_VOLUME, "vol1", "/v", false),
        spec(BUNDLE_MOUNT_TMPFS, NULL, "/t", false),
    };
    struct bundle_config cfg = {.n_disks = 2};
    assert_int_equal(bundle_mounts_apply(&cfg, m, 4, NULL, 1 << 20, t->root, &err), 0);
    /* dir and the file's parent are one share; the volume another */
    assert_int_equal(cfg.n_shares, 2);
    assert_string_equal(cfg.shares[0].path, dir);
    assert_false(cfg.shares[0].readonly); /* read-write for /data */
    cleanup_free char *vdata = ctr_xasprintf("%s/volumes/vol1/_data", t->root);
    assert_string_equal(cfg.shares[1].path, vdata);
    struct stat st;
    assert_int_equal(stat(vdata, &st), 0); /* created on first use */
    assert_int_equal(cfg.setup.n_mounts, 5);
    assert_string_equal(cfg.setup.mounts[0].source, "v0");
    assert_string_equal(cfg.setup.mounts[0].fstype, "9p");
    assert_non_null(strstr(cfg.setup.mounts[0].options, "trans=virtio"));
    assert_null(strstr(cfg.setup.mounts[0].options, ",ro"));
    assert_string_equal(cfg.setup.mounts[1].source, "v0/f.conf");
    assert_non_null(strstr(cfg.setup.mounts[1].options, ",ro"));
    assert_non_null(strstr(cfg.setup.mounts[2].options, "x-copyup")); /* volume */
    assert_null(strstr(cfg.setup.mounts[0].options, "x-copyup"));     /* bind */
    assert_string_equal(cfg.setup.mounts[3].fstype, "tmpfs");
    assert_string_equal(cfg.setup.mounts[3].options, "nosuid,nodev,noexec,size=1m");
    assert_string_equal(cfg.setup.mounts[4].target, "/dev/shm");
    assert_non_null(strstr(cfg.setup.mounts[4].options, "size=1048576"));
    cfg_release(&cfg);

    /* image VOLUMEs: an anonymous volume each, unless a mount covers the path */
    char *img_vols[] = {"/data", "/var/lib/app", NULL};
    cfg = (struct bundle_config){.n_disks = 2};
    assert_int_equal(bundle_mounts_apply(&cfg, m, 1, img_vols, 0, t->root, &err), 0);
    assert_int_equal(cfg.n_shares, 2);
    assert_int_equal(cfg.setup.n_mounts, 2);
    assert_string_equal(cfg.setup.mounts[1].target, "/var/lib/app");
    assert_non_null(strstr(cfg.setup.mounts[1].options, "x-copyup"));
    assert_non_null(strstr(cfg.shares[1].path, "/volumes/"));
    cfg_release(&cfg);
    char **names = NULL;
    assert_int_equal(bundle_volume_list(t->root, &names, &err), 0);
    assert_int_equal(ctr_strv_len(names), 2); /* vol1 and the anonymous one */
    struct bundle_volume av = {0};
    const char *anon = strcmp(names[0], "vol1") ? names[0] : names[1];
    assert_int_equal(strlen(anon), 64);
    assert_int_equal(bundle_volume_load(t->root, anon, &av, &err), 0);
    assert_string_equal(av.labels[0], BUNDLE_VOLUME_ANONYMOUS_LABEL "=");
    bundle_volume_release(&av);
    ctr_strv_free(names);
    /* `-v /path`: an anonymous volume with docker's label, read-only if asked */
    struct bundle_mount_spec an[2] = {spec(BUNDLE_MOUNT_VOLUME, NULL, "/anon", true),
                                      spec(BUNDLE_MOUNT_VOLUME, NULL, "/anon2", false)};
    an[1].nocopy = true;
    cfg = (struct bundle_config){.n_disks = 2};
    assert_int_equal(bundle_mounts_apply(&cfg, an, 2, NULL, 0, t->root, &err), 0);
    assert_int_equal(cfg.n_shares, 2);
    assert_true(cfg.shares[0].readonly);
    assert_false(cfg.shares[1].readonly);
    assert_string_not_equal(cfg.shares[0].path, cfg.shares[1].path);
    assert_string_equal(cfg.setup.mounts[0].target, "/anon");
    assert_non_null(strstr(cfg.setup.mounts[0].options, ",ro"));
    assert_non_null(strstr(cfg.setup.mounts[0].options, "x-copyup"));
    assert_null(strstr(cfg.setup.mounts[1].options, "x-copyup")); /* nocopy */
    assert_int_equal(bundle_volume_list(t->root, &names, &err), 0);
    assert_int_equal(ctr_strv_len(names), 4);
    for (size_t i = 0; names[i]; i++) {
        if (strcmp(names[i], "vol1") == 0)
            continue;
        assert_int_equal(strlen(names[i]), 64);
        assert_int_equal(bundle_volume_load(t->root, names[i], &av, &err), 0);
        assert_string_equal(av.labels[0], BUNDLE_VOLUME_ANONYMOUS_LABEL "=");
        bundle_volume_release(&av);
    }
    ctr_strv_free(names);
    cfg_release(&cfg);
    for (int i = 0; i < 2; i++)
        bundle_mount_spec_release(&an[i]);
    char *bad_vols[] = {"relative", NULL};
    cfg = (struct bundle_config){.n_disks = 2};
    assert_int_equal(bundle_mounts_apply(&cfg, NULL, 0, bad_vols, 0, t->root, &err), -1);
    assert_non_null(strstr(err->msg, "image VOLUME"));
    ctr_error_free(&err);
    cfg_release(&cfg);

    /* a missing source is named; nothing is created for it */
    struct bundle_mount_spec bad = spec(BUNDLE_MOUNT_BIND, missing, "/x", false);
    cfg = (struct bundle_config){.n_disks = 2};
    assert_int_equal(bundle_mounts_apply(&cfg, &bad, 1, NULL, 0, t->root, &err), -1);
    assert_non_null(strstr(err->msg, missing));
    assert_int_equal(access(missing, F_OK), -1);
    ctr_error_free(&err);
    cfg_release(&cfg);
    bundle_mount_spec_release(&bad);

    /* duplicate targets */
    struct bundle_mount_spec dup[2] = {spec(BUNDLE_MOUNT_BIND, dir, "/x", false),
                                       spec(BUNDLE_MOUNT_TMPFS, NULL, "/x", false)};
    cfg = (struct bundle_config){.n_disks = 2};
    assert_int_equal(bundle_mounts_apply(&cfg, dup, 2, NULL, 0, t->root, &err), -1);
    assert_non_null(strstr(err->msg, "duplicate mount target `/x`"));
    ctr_error_free(&err);
    cfg_release(&cfg);

    /* more distinct directories than free virtio devices */
    struct bundle_mount_spec many[5];
    for (int i = 0; i < 5; i++) {
        cleanup_free char *d = ctr_xasprintf("%s/m%d", t->root, i);
        cleanup_free char *tg = ctr_xasprintf("/m%d", i);
        assert_int_equal(ctr_mkdir_p(d, 0755, &err), 0);
        many[i] = spec(BUNDLE_MOUNT_BIND, d, tg, false);
    }
    cfg = (struct bundle_config){.n_disks = 2};
    assert_int_equal(bundle_mounts_apply(&cfg, many, 4, NULL, 0, t->root, &err), 0);
    cfg_release(&cfg);
    cfg = (struct bundle_config){.n_disks = 2};
    assert_int_equal(bundle_mounts_apply(&cfg, many, 5, NULL, 0, t->root, &err), -1);
    assert_non_null(strstr(err->msg, "can share at most 4"));
    ctr_error_free(&err);
    cfg_release(&cfg);
    /* refused with anonymous volumes made on the way: they are removed */
    char **before = NULL, **after = NULL;
    assert_int_equal(bundle_volume_list(t->root, &before, &err), 0);
    struct bundle_mount_spec mixed[5] = {many[0], many[1], many[2],
                                         spec(BUNDLE_MOUNT_VOLUME, NULL, "/anon-a", false),
                                         spec(BUNDLE_MOUNT_VOLUME, NULL, "/anon-b", false)};
    cfg = (struct bundle_config){.n_disks = 2};
    assert_int_equal(bundle_mounts_apply(&cfg, mixed, 5, NULL, 0, t->root, &err), -1);
    assert_non_null(strstr(err->msg, "can share at most 4"));
    ctr_error_free(&err);
    cfg_release(&cfg);
    assert_int_equal(bundle_volume_list(t->root, &after, &err), 0);
    assert_int_equal(ctr_strv_len(after), ctr_strv_len(before));
    ctr_strv_free(before);
    ctr_strv_free(after);
    bundle_mount_spec_release(&mixed[3]);
    bundle_mount_spec_release(&mixed[4]);
    for (int i = 0; i < 5; i++)
        bundle_mount_spec_release(&many[i]);
    for (int i = 0; i < 2; i++)
        bundle_mount_spec_release(&dup[i]);
    for (int i = 0; i < 4; i++)
        bundle_mount_spec_release(&m[i]);
}

static void test_volume_store(void **state)
{
    struct tmp *t = *state;
    ctr_error_t err = NULL;
    char **names = NULL;
    char *labels[] = {"team=infra", NULL};
    struct bundle_volume v = {0};
    bool existed = true;

    assert_int_equal(bundle_volume_list(t->root, &names, &err), 0); /* no volumes dir yet */
    assert_null(names[0]);
    ctr_strv_free(names);
    assert_int_equal(bundle_volume_create(t->root, "db", labels, NULL, NULL, &err), 0);
    assert_int_equal(bundle_volume_create(t->root, "db", NULL, NULL, NULL, &err), -1);
    assert_non_null(strstr(err->msg, "already exists"));
    ctr_error_free(&err);
    assert_int_equal(bundle_volume_create(t->root, "db", NULL, NULL, &existed, &err), 0);
    assert_true(existed);
    assert_int_equal(bundle_volume_create(t->root, "aa", NULL, NULL, &existed, &err), 0);
    assert_false(existed);
    char *block[] = {"type=block", NULL};
    assert_int_equal(bundle_volume_create(t->root, "blk", NULL, block, NULL, &err), -1);
    assert_non_null(strstr(err->msg, "needs a size"));
    ctr_error_free(&err);
    char *nfs[] = {"type=nfs", NULL};
    assert_int_equal(bundle_volume_create(t->root, "blk", NULL, nfs, NULL, &err), -1);
    assert_non_null(strstr(err->msg, "`type=nfs` is not supported"));
    ctr_error_free(&err);
    static const char *const bad[] = {"", "a", "../x", "a/b", "-a", ".a", "a b", NULL};
    for (size_t i = 0; bad[i]; i++) {
        assert_int_equal(bundle_volume_create(t->root, bad[i], NULL, NULL, NULL, &err), -1);
        ctr_error_free(&err);
    }
    assert_int_equal(bundle_volume_list(t->root, &names, &err), 0);
    assert_string_equal(names[0], "aa");
    assert_string_equal(names[1], "db");
    assert_null(names[2]);
    ctr_strv_free(names);
    assert_int_equal(bundle_volume_load(t->root, "db", &v, &err), 0);
    assert_string_equal(v.labels[0], "team=infra");
    assert_non_null(strstr(v.mountpoint, "/volumes/db/_data"));
    bundle_volume_release(&v);
    assert_int_equal(bundle_volume_remove(t->root, "db", &err), 0);
    assert_int_equal(bundle_volume_load(t->root, "db", &v, &err), -1);
    assert_non_null(strstr(err->msg, "volume `db` not found"));
    ctr_error_free(&err);
    assert_int_equal(bundle_volume_remove(t->root, "db", &err), -1);
    ctr_error_free(&err);
    assert_int_equal(bundle_volume_remove(t->root, "../../etc", &err), -1);
    ctr_error_free(&err);
}

static void test_block_options(void **state)
{
    ctr_error_t err = NULL;
    bool block = true;
    uint64_t size = 1;

    assert_int_equal(bundle_volume_parse_options(NULL, &block, &size, &err), 0);
    assert_false(block);
    assert_int_equal(size, 0);
    char *one[] = {"type=block,size=1g", NULL};
    assert_int_equal(bundle_volume_parse_options(one, &block, &size, &err), 0);
    assert_true(block);
    assert_int_equal(size, 1ull << 30);
    char *two[] = {"size=64m", "type=block", NULL};
    assert_int_equal(bundle_volume_parse_options(two, &block, &size, &err), 0);
    assert_true(block);
    assert_int_equal(size, 64ull << 20);
    char *dir[] = {"type=local", NULL};
    assert_int_equal(bundle_volume_parse_options(dir, &block, &size, &err), 0);
    assert_false(block);
    static const struct {
        const char *opt, *msg;
    } bad[] = {
        {"type=block", "needs a size"},
        {"type=block,size=lots", "invalid size `lots`"},
        {"type=block,size=", "invalid size"},
        {"type=block,size=1k", "out of range: use 16m"},
        {"type=block,size=99999g", "out of range"},
        {"size=1g", "`size=1g` needs `type=block`"},
        {"type=block,size=1g,o=bind", "`o=bind` is not supported"},
        {"type=tmpfs", "`type=tmpfs` is not supported"},
        {NULL, NULL},
    };
    for (size_t i = 0; bad[i].opt; i++) {
        char *o[] = {(char *)bad[i].opt, NULL};
        assert_int_equal(bundle_volume_parse_options(o, &block, &size, &err), -1);
        if (strstr(err->msg, bad[i].msg) == NULL)
            fail_msg("`%s`: %s", bad[i].opt, err->msg);
        ctr_error_free(&err);
    }
}

static void test_block_volume(void **state)
{
    struct tmp *t = *state;
    ctr_error_t err = NULL;
    char *opts[] = {"type=block", "size=32m", NULL};
    struct bundle_volume v = {0};
    struct stat st;

    assert_int_equal(bundle_volume_create(t->root, "blk", NULL, opts, NULL, &err), 0);
    assert_int_equal(bundle_volume_load(t->root, "blk", &v, &err), 0);
    assert_true(v.block);
    assert_int_equal(v.size, 32ull << 20);
    assert_non_null(strstr(v.mountpoint, "/volumes/blk/volume.ext4"));
    assert_int_equal(stat(v.mountpoint, &st), 0);
    assert_int_equal(st.st_size, 32 << 20);
    assert_true((uint64_t)st.st_blocks * 512 < (8u << 20)); /* sparse */
    cleanup_free char *image = ctr_xstrdup(v.mountpoint);
    bundle_volume_release(&v);

    /* attached as a disk, mounted ext4 by serial; twice in one container = one disk */
    struct bundle_mount_spec m[3] = {
        spec(BUNDLE_MOUNT_VOLUME, "blk", "/db", false),
        spec(BUNDLE_MOUNT_VOLUME, "blk", "/db2", true),
        spec(BUNDLE_MOUNT_VOLUME, "dirvol", "/d", false),
    };
    struct bundle_config cfg = {.n_disks = 2};
    cfg.disks = ctr_xcalloc(2, sizeof(*cfg.disks));
    cfg.disks[0] = (struct bundle_disk){ctr_xstrdup("image"), ctr_xstrdup("/x/image"), true};
    cfg.disks[1] = (struct bundle_disk){ctr_xstrdup("rw"), ctr_xstrdup("/x/rw"), false};
    assert_int_equal(bundle_mounts_apply(&cfg, m, 3, NULL, 0, t->root, &err), 0);
    assert_int_equal(cfg.n_disks, 3);
    assert_string_equal(cfg.disks[2].serial, "vol-2");
    assert_string_equal(cfg.disks[2].path, image);
    assert_false(cfg.disks[2].readonly);
    assert_int_equal(cfg.n_shares, 1); /* the directory volume */
    assert_int_equal(cfg.setup.n_mounts, 3);
    assert_string_equal(cfg.setup.mounts[0].source, "serial:vol-2");
    assert_string_equal(cfg.setup.mounts[0].fstype, "ext4");
    assert_null(cfg.setup.mounts[0].options);
    assert_string_equal(cfg.setup.mounts[1].options, "ro");
    assert_string_equal(cfg.setup.mounts[2].fstype, "9p");
    bundle_config_release(&cfg);
    for (int i = 0; i < 3; i++)
        bundle_mount_spec_release(&m[i]);

    /* block volumes count against the 8 virtio devices with the shares */
    char name[8], target[8];
    struct bundle_mount_spec many[5];
    for (int i = 0; i < 5; i++) {
        snprintf(name, sizeof(name), "b%d", i);
        snprintf(target, sizeof(target), "/m%d", i);
        if (i < 4)
            assert_int_equal(bundle_volume_create(t->root, name, NULL, opts, NULL, &err), 0);
        many[i] = spec(BUNDLE_MOUNT_VOLUME, i < 4 ? name : "dirvol", target, false);
    }
    struct bundle_config c2 = {0};
    c2.n_disks = 2;
    c2.disks = ctr_xcalloc(2, sizeof(*c2.disks));
    c2.disks[0] = (struct bundle_disk){ctr_xstrdup("image"), ctr_xstrdup("/x/image"), true};
    c2.disks[1] = (struct bundle_disk){ctr_xstrdup("rw"), ctr_xstrdup("/x/rw"), false};
    assert_int_equal(bundle_mounts_apply(&c2, many, 5, NULL, 0, t->root, &err), -1);
    assert_non_null(strstr(err->msg, "1 distinct host directories and 4 block volumes"));
    ctr_error_free(&err);
    bundle_config_release(&c2);
    for (int i = 0; i < 5; i++)
        bundle_mount_spec_release(&many[i]);

    assert_int_equal(bundle_volume_remove(t->root, "blk", &err), 0);
    assert_int_equal(stat(image, &st), -1);
}

static bool argv_has(char **av, const char *s)
{
    for (; *av; av++)
        if (strcmp(*av, s) == 0)
            return true;
    return false;
}

/* The shim's QEMU command line: one fsdev + virtio-9p-device per share, commas in
 * paths doubled, the virtio device limit enforced. */
static void test_qemu_shares(void **state)
{
    (void)state;
    struct bundle_disk disks[3] = {
        {"image", "/d/img", true}, {"rw", "/d/rw", false}, {"extra", "/d/x", false}};
    struct bundle_share shares[4] = {{"v0", "/h/a,b", false},
                                     {"v1", "/h/ro", true},
                                     {"v2", "/h/c", false},
                                     {"v3", "/h/d", false}};
    struct vmm_config cfg = {.kernel = "/k",
                             .disks = disks,
                             .n_disks = 2,
                             .shares = shares,
                             .n_shares = 2,
                             .memory_mib = 256};
    ctr_error_t err = NULL;
    char **av = vmm_qemu_argv(&cfg, NULL, 3, &err);

    assert_non_null(av);
    assert_true(argv_has(av, "local,id=fs0,path=/h/a,,b,security_model=passthrough"));
    assert_true(argv_has(av, "virtio-9p-device,fsdev=fs0,mount_tag=v0"));
    assert_true(argv_has(av, "local,id=fs1,path=/h/ro,security_model=passthrough,readonly=on"));
    assert_true(argv_has(av, "virtio-9p-device,fsdev=fs1,mount_tag=v1"));
    ctr_strv_free(av);

    cfg.n_shares = 4; /* 2 disks + 4 shares + serial + rng = 8: fits */
    av = vmm_qemu_argv(&cfg, NULL, 3, &err);
    assert_non_null(av);
    ctr_strv_free(av);
    cfg.n_disks = 3; /* 9: refused */
    assert_null(vmm_qemu_argv(&cfg, NULL, 3, &err));
    assert_non_null(strstr(err->msg, "virtio devices"));
    ctr_error_free(&err);

    cfg.n_disks = 2;
    cfg.n_shares = 1;
    shares[0].tag = "bad tag";
    assert_null(vmm_qemu_argv(&cfg, NULL, 3, &err));
    assert_non_null(strstr(err->msg, "share tag `bad tag`"));
    ctr_error_free(&err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bind),
        cmocka_unit_test(test_flag),
        cmocka_unit_test(test_tmpfs_size),
        cmocka_unit_test(test_qemu_shares),
        cmocka_unit_test_setup_teardown(test_apply, tmp_setup, tmp_teardown),
        cmocka_unit_test_setup_teardown(test_volume_store, tmp_setup, tmp_teardown),
        cmocka_unit_test(test_block_options),
        cmocka_unit_test_setup_teardown(test_block_volume, tmp_setup, tmp_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
