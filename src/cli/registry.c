/* `container registry login/logout/list`: client side, as docker does: the
 * credentials are checked against the registry and kept in the user's
 * docker-compatible config.json (src/registry). Pulls and pushes send them to
 * the daemon in X-Registry-Auth. */
#include "cli/cli.h"

#include "registry/registry.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { O_USERNAME = 1, O_PASSWORD_STDIN, O_SCHEME, O_FORMAT, O_QUIET };

struct reg_opts {
    const char *username, *scheme;
    bool password_stdin, quiet;
    enum cli_format format;
};

static int reg_opt(void *opaque, int id, const char *v, ctr_error_t *err)
{
    struct reg_opts *o = opaque;
    enum registry_scheme s;
    switch (id) {
    case O_USERNAME:
        o->username = v;
        break;
    case O_PASSWORD_STDIN:
        o->password_stdin = true;
        break;
    case O_SCHEME:
        if (registry_scheme_parse(v, &s, err) < 0)
            return ctr_error_wrap(err, "invalid value for `--scheme`");
        o->scheme = v;
        break;
    case O_FORMAT:
        return cli_parse_format(v, &o->format, err);
    case O_QUIET:
        o->quiet = true;
        break;
    }
    return 0;
}

static char *config_dir(void)
{
    const char *env = getenv("DOCKER_CONFIG");
    if (env && *env)
        return ctr_xstrdup(env);
    env = getenv("HOME");
    return ctr_xasprintf("%s/.docker", env ? env : "/root");
}

char *cli_registry_auth_header(const char *ref)
{
    struct oci_ref r = {0};
    cleanup_free char *dir = config_dir(), *user = NULL, *secret = NULL, *js = NULL;
    ctr_error_t err = NULL;
    json_t *j;
    char *out;

    if (oci_ref_parse(ref, &r, &err) < 0) {
        ctr_error_free(&err);
        return NULL;
    }
    if (registry_creds_get(dir, r.domain, &user, &secret, &err) < 0 || user == NULL) {
        ctr_error_free(&err);
        oci_ref_release(&r);
        return NULL;
    }
    j = json_pack("{s:o,s:o,s:o}", "username", ctr_json_str(user), "password",
                  ctr_json_str(secret ? secret : ""), "serveraddress", ctr_json_str(r.domain));
    js = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    oci_ref_release(&r);
    out = ctr_xmalloc(4 * ((strlen(js) + 2) / 3) + 1);
    EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)js, (int)strlen(js));
    for (char *p = out; *p; p++) /* base64url, as docker's CLI sends it */
        if (*p == '+')
            *p = '-';
        else if (*p == '/')
            *p = '_';
    return out;
}

static char *read_password(bool from_stdin, ctr_error_t *err)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;

    if (!from_stdin) {
        if (!isatty(STDIN_FILENO)) {
            ctr_fail(err, 0, "no terminal to ask for the password; use `--password-stdin`");
            return NULL;
        }
        char *p = getpass("Password: ");
        return p ? ctr_xstrdup(p) : NULL;
    }
    n = getline(&line, &cap, stdin);
    if (n < 0) {
        free(line);
        ctr_fail(err, 0, "no password on stdin");
        return NULL;
    }
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    return line;
}

int cli_cmd_registry_login(struct cli_ctx *ctx, int argc, char **argv, ctr_error_t *err)
{
    static const struct cli_option opts[] = {
        CLI_OPT_ARG('u', "username", "USER", O_USERNAME,
                    "user name (default: asked on the terminal)"),
        CLI_OPT_BOOL(0, "password-stdin", O_PASSWORD_STDIN, "read the password from stdin"),
        CLI_OPT_ARG(0, "scheme", "http|https|auto", O_SCHEME,
                    "auto: https; http on loopback if TLS fails"),
        CLI_OPT_END,
    };
    struct reg_opts o = {0};
    struct registry_options ro = {.max_retries = -1};
    cleanup_strv char **pos = NULL;
    cleanup_free char *user = NULL, *secret = NULL, *dir = config_dir();
    int r = cli_parse_opts(ctx->name, opts, 0, argc, argv, reg_opt, &o, &pos, err);

    if (r != 0) {
        if (r == 1)
            cli_print_usage(ctx, opts, stdout);
        return r == 1 ? 0 : -1;
    }
    if (cli_check_args(ctx->name, pos, 1, 1, "exactly one registry server", err) < 0)
        return -1;
    if (o.scheme && registry_scheme_parse(o.scheme, &ro.scheme, err) < 0)
        return -1;
    if (!o.scheme)
        ro.scheme = REGISTRY_SCHEME_AUTO;
    if (o.username) {
        user = ctr_xstrdup(o.username);
    } else {
        if (o.password_stdin)
            return ctr_fail(err, 0, "`--password-stdin` needs `--username`");
        if (!isatty(STDIN_FILENO))
            return ctr_fail(err, 0, "no terminal to ask for the user name; use `--username`");
        fprintf(stderr, "Username: ");
        size_t cap = 0;
        ssize_t n = getline(&user, &cap, stdin);
        if (n <= 0)
            return ctr_fail(err, 0, "no user name given");
        while (n > 0 && (user[n - 1] == '\n' || user[n - 1] == '\r'))
            user[--n] = '\0';
    }
    secret = read_password(o.password_stdin, err);
    if (secret == NULL)
        return -1;
    ro.config_dir = dir;
    if (registry_login(pos[0], user, secret, &ro, err) < 0)
        return -1;
    printf("Login succeeded\n");
    return 0;
}

int cli_cmd_registry_logout(struct cli_ctx *ctx, int argc, char **argv, ctr_error_t *err)
{
    static const struct cli_option opts[] = {
        CLI_OPT_END,
    };
    struct reg_opts o = {0};
    struct registry_options ro = {.max_retries = -1};
    cleanup_strv char **pos = NULL;
    cleanup_free char *dir = config_dir();
    int r = cli_parse_opts(ctx->name, opts, 0, argc, argv, reg_opt, &o, &pos, err);

    if (r != 0) {
        if (r == 1)
            cli_print_usage(ctx, opts, stdout);
        return r == 1 ? 0 : -1;
    }
    if (cli_check_args(ctx->name, pos, 1, 1, "exactly one registry server", err) < 0)
        return -1;
    ro.config_dir = dir;
    if (registry_logout(pos[0], &ro, err) < 0)
        return -1;
    printf("Removed login credentials for %s\n", pos[0]);
    return 0;
}

int cli_cmd_registry_list(struct cli_ctx *ctx, int argc, char **argv, ctr_error_t *err)
{
    static const struct cli_option opts[] = {
        CLI_OPT_ARG(0, "format", "json|table", O_FORMAT, "output format"),
        CLI_OPT_BOOL('q', "quiet", O_QUIET, "print only the names"),
        CLI_OPT_END,
    };
    static const char *const hdr[] = {"HOSTNAME", "USERNAME", NULL};
    struct reg_opts o = {0};
    cleanup_strv char **pos = NULL, **lines = NULL;
    cleanup_free char *dir = config_dir();
    int r = cli_parse_opts(ctx->name, opts, 0, argc, argv, reg_opt, &o, &pos, err);

    if (r != 0) {
        if (r == 1)
            cli_print_usage(ctx, opts, stdout);
        return r == 1 ? 0 : -1;
    }
    if (cli_check_args(ctx->name, pos, 0, 0, "no arguments", err) < 0)
        return -1;
    if (registry_creds_list(dir, &lines, err) < 0)
        return -1;
    json_t *arr = json_array();
    struct cli_table *t = cli_table_new(hdr);
    for (char **l = lines; *l; l++) {
        char *tab = strchr(*l, '\t');
        const char *user = tab ? tab + 1 : "";
        if (tab)
            *tab = '\0';
        const char *cells[] = {*l, user};
        cli_table_add(t, cells);
        json_array_append_new(arr, json_pack("{s:o,s:o}", "hostname", ctr_json_str(*l), "username",
                                             ctr_json_str(user)));
        if (o.quiet)
            printf("%s\n", *l);
    }
    if (!o.quiet && o.format == CLI_FORMAT_JSON)
        cli_print_json(arr, stdout);
    else if (!o.quiet)
        cli_table_print(t, stdout);
    cli_table_free(t);
    json_decref(arr);
    return 0;
}
