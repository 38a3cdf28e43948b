/* The create service: a parsed request (api/create.c) becomes a bundle (bundle_create,
 * Docker's merge rules) plus the daemon's record. The image is resolved under img_lock,
 * the name reserved under the daemon lock, then the networks, the bundle, the record
 * and the `create` event. */
#include "daemon/daemon-internal.h"
#include "image/store.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *lookup_none(const char *name, void *ctx)
{
    return NULL; /* never the daemon's own environment */
}

static json_t *labels_json(char **labels)
{
    json_t *o = json_object();
    for (size_t i = 0; labels && labels[i]; i++) {
        const char *eq = strchr(labels[i], '=');
        cleanup_free char *k =
            ctr_xstrndup(labels[i], eq ? (size_t)(eq - labels[i]) : strlen(labels[i]));
        json_object_set_new(o, k, json_string(eq ? eq + 1 : ""));
    }
    return o;
}

static size_t env_key_len(const char *e)
{
    return strcspn(e, "=");
}

/* Config.Env as Docker's merge makes it (daemon/create.go): the request's list as given
 * (a bare NAME included: it only unsets NAME for the process, bundle_create_merge), then
 * each image variable the request does not name; the image's alone when it names none. */
static json_t *shown_env(char *const *user, char *const *image)
{
    if (user == NULL || user[0] == NULL)
        return image ? dmn_strv_json(image) : json_null();
    json_t *out = dmn_strv_json(user);
    for (size_t i = 0; image && image[i]; i++) {
        size_t n = env_key_len(image[i]);
        bool named = false;
        for (size_t j = 0; user[j] && !named; j++)
            named = env_key_len(user[j]) == n && strncmp(user[j], image[i], n) == 0;
        if (!named)
            json_array_append_new(out, json_string(image[i]));
    }
    return out;
}

/* The Config document inspect shows: the request's, with the merged values. */
static json_t *shown_config(const struct dmn_create_req *rq, const struct bundle_config *bc,
                            const struct imgstore_image *img, const char *image)
{
    json_t *cfg = json_deep_copy(rq->config);
    const struct oci_container_config *ic = &img->config.config;
    if (!rq->entrypoint_given)
        json_object_set_new(cfg, "Entrypoint",
                            ic->entrypoint ? dmn_strv_json(ic->entrypoint) : json_null());
    if (rq->cmd_empty && !rq->entrypoint_given)
        json_object_set_new(cfg, "Cmd", ic->cmd ? dmn_strv_json(ic->cmd) : json_null());
    json_object_set_new(cfg, "Env", shown_env(rq->opts.env, ic->env));
    json_object_set_new(cfg, "WorkingDir", json_string(bc->process.cwd ? bc->process.cwd : ""));
    json_object_set_new(cfg, "User", json_string(bc->process.user ? bc->process.user : ""));
    json_object_set_new(cfg, "Hostname", json_string(bc->setup.hostname ? bc->setup.hostname : ""));
    json_object_set_new(cfg, "Labels", labels_json(bc->labels));
    json_object_set_new(cfg, "Image", json_string(image));
    static const char *const bools[] = {
        "AttachStdin", "AttachStdout", "AttachStderr", "Tty", "OpenStdin", "StdinOnce", NULL};
    for (size_t i = 0; bools[i]; i++)
        if (!json_is_boolean(json_object_get(cfg, bools[i])))
            json_object_set_new(cfg, bools[i], json_false());
    if (!json_object_get(cfg, "Domainname"))
        json_object_set_new(cfg, "Domainname", json_string(""));
    if (!json_object_get(cfg, "Volumes"))
        json_object_set_new(cfg, "Volumes", json_null());
    if (!json_object_get(cfg, "OnBuild"))
        json_object_set_new(cfg, "OnBuild", json_null());
    if (ic->exposed_ports && ic->exposed_ports[0]) { /* Docker's merge: the image's too */
        json_t *ep = json_object_get(cfg, "ExposedPorts");
        if (!json_is_object(ep)) {
            ep = json_object();
            json_object_set_new(cfg, "ExposedPorts", ep);
        }
        for (size_t i = 0; ic->exposed_ports[i]; i++)
            if (!json_object_get(ep, ic->exposed_ports[i]))
                json_object_set_new(ep, ic->exposed_ports[i], json_object());
    }
    if (ic->stop_signal && !rq->stop_signal_given)
        json_object_set_new(cfg, "StopSignal", json_string(ic->stop_signal));
    return cfg;
}

static int64_t real_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Keep the error's class when it is one of keep (0-terminated), else make it an internal
 * failure (EIO): a missing file of the host is not the client's 404. */
static int classes_only(ctr_error_t *err, const int *keep)
{
    if (err && *err) {
        for (size_t i = 0; keep[i]; i++)
            if ((*err)->errnum == keep[i])
                return -1;
        (*err)->errnum = EIO;
    }
    return -1;
}
static const int internal[] = {0};
static const int client[] = {EINVAL, 0};

static bool image_present(struct dmn *d, const char *ref)
{
    struct imgstore_image img = {0};
    dmn_img_lock(d);
    int rr = imgstore_resolve(d->images, ref, &img, NULL);
    dmn_img_unlock(d);
    imgstore_image_release(&img);
    return rr == 0;
}

/* bundle_create's errors: the client's (no errno or EINVAL), the image gone meanwhile
 * (ENOENT of its lookup), else internal. */
static int bundle_error_class(struct dmn *d, const char *image, ctr_error_t *err)
{
    if ((*err)->errnum == 0 || (*err)->errnum == EINVAL) {
        (*err)->errnum = EINVAL;
        return -1;
    }
    if ((*err)->errnum == ENOENT && !image_present(d, image))
        return -1; /* "image `x` not found locally": 404 */
    return classes_only(err, internal);
}

/* moby's opts.ParseLink: "name", "name:alias", or inspect's "/name:/container/alias". */
static int parse_link(const char *l, char **name, char **alias, ctr_error_t *err)
{
    if (l == NULL || *l == '\0')
        return dmn_fail(err, EINVAL, "empty string specified for links");
    const char *colon = strchr(l, ':');
    if (colon && strchr(colon + 1, ':'))
        return dmn_fail(err, EINVAL, "bad format for links: %s", l);
    if (colon == NULL) {
        *name = ctr_xstrdup(l);
        *alias = ctr_xstrdup(l);
        return 0;
    }
    if (l[0] == '/') {
        const char *slash = strrchr(colon + 1, '/');
        *name = ctr_xstrndup(l + 1, (size_t)(colon - l - 1));
        *alias = ctr_xstrdup(slash ? slash + 1 : colon + 1);
        return 0;
    }
    *name = ctr_xstrndup(l, (size_t)(colon - l));
    *alias = ctr_xstrdup(colon + 1);
    return 0;
}

struct link_port {
    unsigned port;
    char proto[8];
};

static int link_port_cmp(const void *a, const void *b)
{
    const struct link_port *x = a, *y = b;
    if (x->port != y->port)
        return x->port < y->port ? -1 : 1;
    /* moby's withTCPFirst */
    return (strcmp(y->proto, "tcp") == 0) - (strcmp(x->proto, "tcp") == 0);
}

static void env_add_unless_set(char ***env, char *const *user, char *line)
{
    size_t n = env_key_len(line);
    for (size_t j = 0; user && user[j]; j++)
        if (env_key_len(user[j]) == n && strncmp(user[j], line, n) == 0) {
            free(line); /* the container's own value wins, as Docker's */
            return;
        }
    ctr_strv_append(env, line);
    free(line);
}

/* The legacy link variables moby's links.Link.ToEnv sets for a linked container t under
 * alias: ALIAS_PORT, ALIAS_PORT_<port>_<PROTO>[_ADDR|_PORT|_PROTO] for each exposed port,
 * ALIAS_NAME=/<name>/<alias>, ALIAS_ENV_<var> for t's environment but HOME and PATH. */
static void link_env(struct dmn_container *c, struct dmn_container *t, const char *alias,
                     const char *ip, char *const *user, char ***env)
{
    cleanup_free char *up = ctr_xstrdup(alias);
    for (char *p = up; *p; p++)
        *p = *p == '-' ? '_' : (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
    json_t *exposed = json_object_get(t->config, "ExposedPorts"), *v;
    const char *key;
    size_t n = 0;
    struct link_port *ports = ctr_xcalloc(json_object_size(exposed) + 1, sizeof(*ports));
    json_object_foreach(exposed, key, v)
    {
        unsigned port = 0;
        char proto[8] = "tcp";
        if (sscanf(key, "%u/%7s", &port, proto) < 1 || port == 0 || port > 65535)
            continue;
        ports[n].port = port;
        snprintf(ports[n].proto, sizeof(ports[n].proto), "%s", proto);
        n++;
    }
    qsort(ports, n, sizeof(*ports), link_port_cmp);
    if (n)
        env_add_unless_set(
            env, user, ctr_xasprintf("%s_PORT=%s://%s:%u", up, ports[0].proto, ip, ports[0].port));
    for (size_t i = 0; i < n; i++) {
        char P[8];
        for (size_t k = 0; k < sizeof(P); k++)
            P[k] =
                (char)(ports[i].proto[k] >= 'a' && ports[i].proto[k] <= 'z' ? ports[i].proto[k] - 32
                                                                            : ports[i].proto[k]);
        env_add_unless_set(env, user,
                           ctr_xasprintf("%s_PORT_%u_%s=%s://%s:%u", up, ports[i].port, P,
                                         ports[i].proto, ip, ports[i].port));
        env_add_unless_set(env, user,
                           ctr_xasprintf("%s_PORT_%u_%s_ADDR=%s", up, ports[i].port, P, ip));
        env_add_unless_set(
            env, user, ctr_xasprintf("%s_PORT_%u_%s_PORT=%u", up, ports[i].port, P, ports[i].port));
        env_add_unless_set(
            env, user,
            ctr_xasprintf("%s_PORT_%u_%s_PROTO=%s", up, ports[i].port, P, ports[i].proto));
    }
    free(ports);
    env_add_unless_set(env, user, ctr_xasprintf("%s_NAME=/%s/%s", up, c->name, alias));
    json_t *tenv = json_object_get(t->config, "Env");
    size_t i;
    json_array_foreach(tenv, i, v)
    {
        const char *e = json_string_value(v), *eq = e ? strchr(e, '=') : NULL;
        if (eq == NULL || (eq - e == 4 && strncmp(e, "HOME", 4) == 0) ||
            (eq - e == 4 && strncmp(e, "PATH", 4) == 0))
            continue;
        env_add_unless_set(env, user,
                           ctr_xasprintf("%s_ENV_%.*s=%s", up, (int)(eq - e), e, eq + 1));
    }
}

/* HostConfig.Links: each linked container must exist (moby's registerLinks: "could not get
 * container for X: ...", 400); its address on a network both are on goes to /etc/hosts
 * under the alias, its hostname and its name (moby's OptionExtraHost; none when they share
 * no network); inspect shows "/name:/container/alias". */
static int resolve_links(struct dmn *d, struct dmn_container *c, struct bundle_config *bc,
                         ctr_error_t *err)
{
    cleanup_strv char **user = ctr_strv_dup(bc->process.env);
    cleanup_strv char **env = NULL;
    json_t *links = json_object_get(c->host_config, "Links"), *e;
    size_t i;

    if (!json_is_array(links) || json_array_size(links) == 0)
        return 0;
    json_t *shown = json_array();
    dmn_net_lock(d);
    dmn_lock(d);
    json_array_foreach(links, i, e)
    {
        cleanup_free char *name = NULL;
        cleanup_free char *alias = NULL;
        if (parse_link(json_string_value(e), &name, &alias, err) < 0)
            break;
        struct dmn_container *t = dmn_container_find_locked(d, name);
        if (t == NULL) {
            dmn_fail(err, EINVAL, "could not get container for %s: No such container: %s", name,
                     name);
            break;
        }
        t->refs--; /* under d->lock: t stays */
        json_array_append_new(shown, json_sprintf("/%s:/%s/%s", t->name, c->name, alias));
        uint32_t addr = 0;
        for (size_t k = 0; k < t->n_eps && !addr; k++)
            for (size_t j = 0; j < c->n_eps && !addr; j++)
                if (strcmp(t->eps[k].net_id, c->eps[j].net_id) == 0)
                    addr = t->eps[k].addr;
        if (addr == 0)
            continue;
        cleanup_free char *ip = dmn_ip_str(addr);
        const char *host = dmn_container_hostname(t);
        char shortid[13];
        snprintf(shortid, sizeof(shortid), "%.12s", t->id);
        cleanup_free char *line =
            ctr_xasprintf("%s\t%s %s%s%s", ip, alias, host ? host : shortid,
                          strcmp(alias, t->name) ? " " : "", strcmp(alias, t->name) ? t->name : "");
        ctr_strv_append(&c->link_hosts, line);
        link_env(c, t, alias, ip, user, &env);
    }
    dmn_unlock(d);
    dmn_net_unlock(d);
    if (*err) {
        json_decref(shown);
        return -1;
    }
    /* the link variables come before the container's own (moby's CreateDaemonEnvironment) */
    for (size_t k = 0; user && user[k]; k++)
        ctr_strv_append(&env, user[k]);
    ctr_strv_free(bc->process.env);
    bc->process.env = ctr_steal_ptr(env);
    json_object_set_new(c->host_config, "Links", shown);
    return 0;
}

int dmn_container_create(struct dmn *d, const struct dmn_create_req *rq,
                         char out_id[BUNDLE_CREATE_ID_LEN + 1], ctr_error_t *err)
{
    struct bundle_create_opts o = rq->opts;
    struct bundle_config bc = {0};
    struct imgstore_image img = {0};
    struct bundle_create_paths paths = {0};
    cleanup_free char *name = NULL;
    cleanup_free char *kernel = NULL;
    cleanup_free char *initrd = NULL;
    char id[BUNDLE_CREATE_ID_LEN + 1];
    struct dmn_container *c = NULL;
    int ret = -1;

    if (o.memory == NULL)
        o.memory = d->cfg.default_memory;
    if (o.cpus == NULL)
        o.cpus = d->cfg.default_cpus;
    o.accel = BUNDLE_ACCEL_AUTO;
    if (d->cfg.accel && strcmp(d->cfg.accel, "kvm") == 0)
        o.accel = BUNDLE_ACCEL_KVM;
    else if (d->cfg.accel && strcmp(d->cfg.accel, "tcg") == 0)
        o.accel = BUNDLE_ACCEL_TCG;
    o.lookup_env = lookup_none;

    dmn_img_lock(d);
    int rr = imgstore_resolve(d->images, o.image, &img, err);
    dmn_img_unlock(d);
    if (rr < 0) {
        if ((*err)->errnum == ENOENT) {
            ctr_error_free(err);
            dmn_fail(err, ENOENT, "No such image: %s", o.image);
        } else {
            (*err)->errnum = EINVAL; /* a reference that cannot be one */
        }
        goto out;
    }
    if (dmn_check_free_space(d, err) < 0) {
        static const int space[] = {DMN_ENOSPACE, 0}; /* 507 */
        classes_only(err, space);
        goto out;
    }
    if (bundle_create_new_id(id, err) < 0) {
        classes_only(err, internal);
        goto out;
    }

    /* Reserve the name (and the id) before the slow part. */
    c = dmn_container_new();
    snprintf(c->id, sizeof(c->id), "%s", id);
    c->creating = true;
    dmn_lock(d);
    name = rq->name ? ctr_xstrdup(rq->name) : dmn_name_generate_locked(d, id);
    for (size_t i = 0; i < d->n_ctrs; i++) {
        if (strcmp(d->ctrs[i]->name, name) == 0) {
            dmn_fail(err, EEXIST,
                     "Conflict. The container name \"/%s\" is already in use by container \"%s\". "
                     "You have to remove (or rename) that container to be able to reuse that name.",
                     name, d->ctrs[i]->id);
            dmn_unlock(d);
            goto out;
        }
    }
    c->name = ctr_xstrdup(name);
    dmn_container_add_locked(d, c);
    dmn_unlock(d);

    /* addresses and ports before the slow part: an unknown network fails fast */
    if (dmn_netconf_attach(d, c, &rq->net, err) < 0) {
        static const int net_classes[] = {ENOENT, EBUSY, EINVAL, DMN_EFORBIDDEN, 0};
        classes_only(err, net_classes);
        goto fail_unlink;
    }

    c->bundle = ctr_xasprintf("%s/%s", d->containers_dir, id);
    kernel = dmn_kernel_path(d);
    initrd = dmn_initrd_path(d);
    paths.data_root = d->cfg.root;
    paths.kernel = kernel;
    paths.initrd = initrd;
    o.id = id;
    if (bundle_create(&paths, &o, c->bundle, NULL, err) < 0 ||
        bundle_config_load(c->bundle, &bc, err) < 0) {
        bundle_error_class(d, o.image, err);
        goto fail_unlink;
    }
    if (o.tty && rq->rows && rq->cols) {
        /* the client's terminal size is the one the process starts with */
        bc.process.rows = rq->rows;
        bc.process.cols = rq->cols;
    }
    unsigned vcpus = bc.vm.cpus == BUNDLE_CPUS_AUTO ? BUNDLE_CPUS_AUTO_KVM : bc.vm.cpus;
    if (rq->cpuset_cpus && rq->cpuset_highest >= (int)vcpus) { /* moby's words */
        dmn_fail(err, EINVAL,
                 "Requested CPUs are not available - requested %s, available: 0-%u (the "
                 "container's VM has %u vCPUs)",
                 rq->cpuset_cpus, vcpus - 1, vcpus);
        goto fail_unlink;
    }
    /* GroupAdd: the guest adds them to every process's groups (src/guest/user.c) */
    json_t *ga = json_object_get(rq->host_config, "GroupAdd");
    if (json_array_size(ga) > 0) {
        ctr_strv_free(bc.process.groups);
        bc.process.groups = dmn_json_strv(ga);
    }
    /* LogConfig `none`: the shim writes no container.log (api/logs.c answers 501) */
    const char *log_driver =
        json_string_value(json_object_get(json_object_get(rq->host_config, "LogConfig"), "Type"));
    bc.no_log = log_driver && strcmp(log_driver, "none") == 0;
    /* Refused now rather than at every start. */
    if (dmn_process_check_size(&bc.process, "container's process", err) < 0)
        goto fail_unlink;
    c->created_ns = real_ns();
    c->image = ctr_xstrdup(o.image);
    c->image_id = ctr_xstrdup(img.manifest_digest);
    c->config = shown_config(rq, &bc, &img, o.image);
    dmn_health_from_image(d, &img, c->config);
    c->host_config = json_deep_copy(rq->host_config);
    if (resolve_links(d, c, &bc, err) < 0) {
        classes_only(err, client);
        goto fail_unlink;
    }
    if (dmn_netconf_fill(c, &bc, err) < 0 || bundle_config_save(c->bundle, &bc, err) < 0) {
        classes_only(err, client);
        goto fail_unlink;
    }
    c->path = ctr_xstrdup(bc.process.args[0]);
    c->args = ctr_strv_dup(bc.process.args + 1);
    c->tty = o.tty;
    c->open_stdin = o.interactive;
    c->stdin_once = rq->stdin_once;
    c->auto_remove = rq->auto_remove;
    const char *ss = rq->stop_signal_given ? rq->stop_signal : img.config.config.stop_signal;
    c->stop_signal = ss && *ss ? ctr_xstrdup(ss) : NULL;
    c->stop_timeout = rq->stop_timeout;
    c->restart = rq->restart;
    c->status = DMN_CREATED;

    dmn_lock(d);
    if (dmn_container_save_locked(d, c, err) < 0) {
        dmn_unlock(d);
        classes_only(err, internal);
        goto fail_unlink;
    }
    c->creating = false;
    dmn_event_container_locked(d, c, "create", NULL);
    dmn_unlock(d);
    log_info("container %.12s (%s) created from `%s`", c->id, c->name, c->image);
    memcpy(out_id, c->id, sizeof(c->id));
    ret = 0;
    goto out;

fail_unlink : {
    ctr_error_t e2 = NULL;
    if (c->bundle && ctr_rm_rf(c->bundle, &e2) < 0)
        ctr_error_free(&e2);
    dmn_netconf_release(d, c, NULL);
}
    dmn_lock(d);
    dmn_container_unlink_locked(d, c);
    dmn_unlock(d);
out:
    if (c)
        dmn_container_put(d, c);
    bundle_config_release(&bc);
    imgstore_image_release(&img);
    return ret;
}
