/* Credentials in a docker-compatible config.json: `auths` with base64 `auth`,
 * `credHelpers` / `credsStore` through the docker-credential-* protocol
 * (get/store/erase/list over stdin/stdout). */
#include "registry/registry-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define DOCKER_HUB_KEY "https://index.docker.io/v1/"

/* The key docker uses for a host in `auths` and with helpers. */
static const char *server_key(const char *host)
{
    return strcmp(host, "docker.io") == 0 ? DOCKER_HUB_KEY : host;
}

/* "https://host/v1/" → "host"; docker.io aliases fold into docker.io. */
static char *normalize_key(const char *key)
{
    const char *p = strstr(key, "://");
    p = p ? p + 3 : key;
    char *h = ctr_xstrndup(p, strcspn(p, "/"));
    if (strcmp(h, "index.docker.io") == 0 || strcmp(h, "registry-1.docker.io") == 0) {
        free(h);
        h = ctr_xstrdup("docker.io");
    }
    return h;
}

static int load_config(const char *dir, json_t **out, ctr_error_t *err)
{
    cleanup_free char *path = ctr_xasprintf("%s/config.json", dir);
    cleanup_free char *data = NULL;
    size_t len;
    json_error_t jerr;
    if (access(path, F_OK) < 0) {
        *out = json_object();
        return 0;
    }
    if (ctr_read_file(path, 4u << 20, &data, &len, err) < 0)
        return -1;
    *out = json_loadb(data, len, 0, &jerr);
    if (*out == NULL || !json_is_object(*out)) {
        json_decref(*out);
        *out = NULL;
        return registry_fail_code(err, EINVAL, "`%s` is not valid JSON: %s", path, jerr.text);
    }
    return 0;
}

static int save_config(const char *dir, json_t *cfg, ctr_error_t *err)
{
    cleanup_free char *path = ctr_xasprintf("%s/config.json", dir);
    cleanup_free char *text = json_dumps(cfg, JSON_INDENT(1));
    if (ctr_mkdir_p(dir, 0700, err) < 0)
        return -1;
    if (ctr_write_file_atomic(path, text, strlen(text), 0600, err) < 0)
        return -1;
    /* An existing file may have been wider; credentials stay private. */
    if (chmod(path, 0600) < 0)
        return ctr_fail(err, errno, "chmod `%s`", path);
    return 0;
}

/* The helper configured for host, or NULL. */
static const char *helper_for(json_t *cfg, const char *host)
{
    json_t *helpers = json_object_get(cfg, "credHelpers");
    const char *k;
    json_t *v;
    json_object_foreach(helpers, k, v)
    {
        cleanup_free char *n = normalize_key(k);
        if (strcmp(n, host) == 0 && json_is_string(v) && json_string_length(v) > 0)
            return json_string_value(v);
    }
    v = json_object_get(cfg, "credsStore");
    return json_is_string(v) && json_string_length(v) > 0 ? json_string_value(v) : NULL;
}

/* Run docker-credential-<helper> <action>, feed input, collect stdout. */
static int run_helper(const char *helper, const char *action, const char *input, char **output,
                      int *status, ctr_error_t *err)
{
    cleanup_free char *prog = ctr_xasprintf("docker-credential-%s", helper);
    int in[2], out[2];
    pid_t pid;
    size_t len = 0, cap = 4096;
    char *buf;

    for (const char *p = helper; *p; p++)
        if (*p == '/')
            return registry_fail_code(err, EINVAL, "invalid credential helper name `%s`", helper);
    if (pipe2(in, O_CLOEXEC) < 0)
        return ctr_fail(err, errno, "pipe");
    if (pipe2(out, O_CLOEXEC) < 0) {
        close(in[0]);
        close(in[1]);
        return ctr_fail(err, errno, "pipe");
    }
    pid = fork();
    if (pid < 0) {
        int e = errno;
        close(in[0]), close(in[1]), close(out[0]), close(out[1]);
        return ctr_fail(err, e, "fork");
    }
    if (pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        execlp(prog, prog, action, (char *)NULL);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    signal(SIGPIPE, SIG_IGN);
    (void)ctr_write_all(in[1], input, strlen(input));
    close(in[1]);
    buf = ctr_xmalloc(cap);
    for (;;) {
        ssize_t r = read(out[0], buf + len, cap - len - 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        len += (size_t)r;
        if (len + 1 >= cap) {
            if (cap >= (1u << 20))
                break;
            cap *= 2;
            buf = ctr_xrealloc(buf, cap);
        }
    }
    buf[len] = '\0';
    close(out[0]);
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    *status = WIFEXITED(st) ? WEXITSTATUS(st) : 128;
    if (*status == 127) {
        free(buf);
        return registry_fail_code(err, ENOENT, "credential helper `%s` not found in PATH", prog);
    }
    *output = buf;
    return 0;
}

int registry_creds_get(const char *dir, const char *host, char **user, char **secret,
                       ctr_error_t *err)
{
    json_t *cfg = NULL;
    const char *helper;
    int rc = 0;

    *user = *secret = NULL;
    if (load_config(dir, &cfg, err) < 0)
        return -1;
    helper = helper_for(cfg, host);
    if (helper) {
        cleanup_free char *outp = NULL;
        int status;
        if (run_helper(helper, "get", server_key(host), &outp, &status, err) < 0) {
            rc = -1;
        } else if (status == 0) {
            json_t *r = json_loads(outp, 0, NULL);
            const char *u = json_string_value(json_object_get(r, "Username"));
            const char *s = json_string_value(json_object_get(r, "Secret"));
            if (u && s && *u) {
                *user = ctr_xstrdup(u);
                *secret = ctr_xstrdup(s);
            } else if (r == NULL) {
                rc = registry_fail_code(err, EPROTO, "credential helper `%s` returned invalid JSON",
                                        helper);
            }
            json_decref(r);
        } else if (strstr(outp, "credentials not found") == NULL) {
            outp[strcspn(outp, "\n")] = '\0';
            rc = registry_fail_code(err, EIO, "credential helper `%s` failed: %s", helper, outp);
        }
        json_decref(cfg);
        return rc;
    }
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(cfg, "auths"), k, v)
    {
        cleanup_free char *n = normalize_key(k);
        const char *auth = json_string_value(json_object_get(v, "auth"));
        if (strcmp(n, host) != 0 || auth == NULL || *auth == '\0')
            continue;
        cleanup_free char *dec = registry_b64_decode(auth, NULL);
        char *colon = dec ? strchr(dec, ':') : NULL;
        if (colon == NULL) {
            rc = registry_fail_code(err, EINVAL,
                                    "`%s/config.json`: entry `%s` has an invalid `auth`", dir, k);
            break;
        }
        *colon = '\0';
        *user = ctr_xstrdup(dec);
        *secret = ctr_xstrdup(colon + 1);
        break;
    }
    json_decref(cfg);
    return rc;
}

int registry_creds_store(const char *dir, const char *host, const char *user, const char *secret,
                         ctr_error_t *err)
{
    json_t *cfg = NULL, *auths;
    const char *helper;
    int rc;

    if (strchr(user, ':'))
        return registry_fail_code(err, EINVAL, "username `%s` must not contain `:`", user);
    if (load_config(dir, &cfg, err) < 0)
        return -1;
    helper = helper_for(cfg, host);
    if (helper) {
        json_t *req = json_pack("{s:s, s:s, s:s}", "ServerURL", server_key(host), "Username", user,
                                "Secret", secret);
        cleanup_free char *in = json_dumps(req, JSON_COMPACT);
        cleanup_free char *outp = NULL;
        int status;
        json_decref(req);
        rc = run_helper(helper, "store", in, &outp, &status, err);
        if (rc == 0 && status != 0) {
            outp[strcspn(outp, "\n")] = '\0';
            rc = registry_fail_code(err, EIO, "credential helper `%s` could not store: %s", helper,
                                    outp);
        }
        json_decref(cfg);
        return rc;
    }
    auths = json_object_get(cfg, "auths");
    if (!json_is_object(auths)) {
        auths = json_object();
        json_object_set_new(cfg, "auths", auths);
    }
    cleanup_free char *pair = ctr_xasprintf("%s:%s", user, secret);
    cleanup_free char *b64 = registry_b64_encode(pair, strlen(pair));
    /* Drop aliases of the same host (e.g. "https://host") so one entry remains. */
    const char *k;
    json_t *v;
    void *tmp;
    json_object_foreach_safe(auths, tmp, k, v)
    {
        cleanup_free char *n = normalize_key(k);
        if (strcmp(n, host) == 0)
            json_object_del(auths, k);
    }
    json_object_set_new(auths, server_key(host), json_pack("{s:s}", "auth", b64));
    rc = save_config(dir, cfg, err);
    json_decref(cfg);
    return rc;
}

int registry_creds_erase(const char *dir, const char *host, ctr_error_t *err)
{
    json_t *cfg = NULL;
    const char *helper;
    bool found = false;
    int rc = 0;

    if (load_config(dir, &cfg, err) < 0)
        return -1;
    helper = helper_for(cfg, host);
    if (helper) {
        cleanup_free char *outp = NULL;
        int status;
        rc = run_helper(helper, "erase", server_key(host), &outp, &status, err);
        if (rc == 0 && status != 0) {
            outp[strcspn(outp, "\n")] = '\0';
            rc = registry_fail_code(err, ENOENT, "not logged in to `%s` (%s: %s)", host, helper,
                                    outp);
        }
        json_decref(cfg);
        return rc;
    }
    json_t *auths = json_object_get(cfg, "auths");
    const char *k;
    json_t *v;
    void *tmp;
    json_object_foreach_safe(auths, tmp, k, v)
    {
        cleanup_free char *n = normalize_key(k);
        if (strcmp(n, host) == 0) {
            json_object_del(auths, k);
            found = true;
        }
    }
    if (!found)
        rc = registry_fail_code(err, ENOENT, "not logged in to `%s`", host);
    else
        rc = save_config(dir, cfg, err);
    json_decref(cfg);
    return rc;
}

int registry_creds_list(const char *dir, char ***out, ctr_error_t *err)
{
    json_t *cfg = NULL;
    cleanup_strv char **lines = ctr_xcalloc(1, sizeof(char *));
    const char *k;
    json_t *v;

    if (load_config(dir, &cfg, err) < 0)
        return -1;
    json_object_foreach(json_object_get(cfg, "auths"), k, v)
    {
        cleanup_free char *n = normalize_key(k);
        const char *auth = json_string_value(json_object_get(v, "auth"));
        cleanup_free char *dec = auth ? registry_b64_decode(auth, NULL) : NULL;
        if (dec && strchr(dec, ':'))
            *strchr(dec, ':') = '\0';
        cleanup_free char *line = ctr_xasprintf("%s\t%s", n, dec ? dec : "");
        ctr_strv_append(&lines, line);
    }
    v = json_object_get(cfg, "credsStore");
    if (json_is_string(v)) {
        cleanup_free char *outp = NULL;
        int status;
        if (run_helper(json_string_value(v), "list", "", &outp, &status, err) < 0) {
            json_decref(cfg);
            return -1;
        }
        json_t *r = status == 0 ? json_loads(outp, 0, NULL) : NULL;
        json_object_foreach(r, k, v)
        {
            cleanup_free char *n = normalize_key(k);
            cleanup_free char *line =
                ctr_xasprintf("%s\t%s", n, json_is_string(v) ? json_string_value(v) : "");
            ctr_strv_append(&lines, line);
        }
        json_decref(r);
    }
    json_decref(cfg);
    *out = ctr_steal_ptr(lines);
    return 0;
}
