/* login / logout: a client of the registry checks the credentials, then config.json
 * (creds.c) keeps or forgets them. Apart from creds.c so that credentials storage
 * does not call back into the client (client.c reads credentials from creds.c). */
#include "registry/registry-internal.h"

int registry_login(const char *host, const char *user, const char *secret,
                   const struct registry_options *opts, ctr_error_t *err)
{
    struct registry_options o = opts ? *opts : (struct registry_options){.max_retries = -1};
    struct registry_client *c = NULL;
    int rc;

    o.username = user;
    o.password = secret;
    if (registry_client_new(host, &o, &c, err) < 0)
        return -1;
    rc = registry_ping(c, err);
    if (rc == 0 && c->auth_scheme == REGISTRY_AUTH_NONE)
        log_warn("registry `%s` did not ask for credentials; storing them anyway", host);
    if (rc == 0)
        rc = registry_creds_store(c->config_dir, c->host, user, secret, err);
    registry_client_free(c);
    return rc < 0 ? ctr_error_wrap(err, "login to `%s`", host) : 0;
}

int registry_logout(const char *host, const struct registry_options *opts, ctr_error_t *err)
{
    struct registry_options o = opts ? *opts : (struct registry_options){.max_retries = -1};
    struct registry_client *c = NULL;
    int rc;
    o.anonymous = true;
    if (registry_client_new(host, &o, &c, err) < 0)
        return -1;
    rc = registry_creds_erase(c->config_dir, c->host, err);
    registry_client_free(c);
    return rc;
}
