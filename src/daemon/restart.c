/* Restart policies: HostConfig.RestartPolicy checked as dockerd checks it, the rules of
 * moby's restartmanager (which exit is restarted, the back-off), and nothing else. The restart
 * itself: monitor.c schedules it when it records an exit, lifecycle.c starts the container and
 * updates a policy (docs/daemon.md, "Restart policies"). Pure: it calls no other file of the
 * daemon. */
#include "daemon/daemon-internal.h"

#include <errno.h>
#include <string.h>

static const char *const names[] = {
    [DMN_RESTART_NO] = "no",
    [DMN_RESTART_ALWAYS] = "always",
    [DMN_RESTART_UNLESS_STOPPED] = "unless-stopped",
    [DMN_RESTART_ON_FAILURE] = "on-failure",
};

const char *dmn_restart_policy_name(enum dmn_restart_name n)
{
    return (size_t)n < sizeof(names) / sizeof(names[0]) ? names[n] : "no";
}

int dmn_restart_policy_parse(const char *name, long long max, bool auto_remove,
                             struct dmn_restart_policy *out, ctr_error_t *err)
{
    *out = (struct dmn_restart_policy){0};
    if (name == NULL || *name == '\0')
        return 0; /* dockerd: an empty name is no policy, whatever the count */
    size_t i;
    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strcmp(name, names[i]) == 0)
            break;
    if (i == sizeof(names) / sizeof(names[0]))
        return dmn_fail(err, EINVAL, "invalid restart policy '%s'", name);
    if (i == DMN_RESTART_ON_FAILURE) {
        if (max < 0)
            return dmn_fail(err, EINVAL, "maximum retry count cannot be negative");
        if (max > 0x7fffffff)
            return dmn_fail(err, EINVAL, "maximum retry count `%lld` is too large", max);
    } else if (max != 0) {
        return dmn_fail(err, EINVAL, "maximum retry count cannot be used with restart policy '%s'",
                        name);
    }
    if (auto_remove && i != DMN_RESTART_NO)
        return dmn_fail(err, EINVAL, "can't create 'AutoRemove' container with restart policy");
    out->name = (enum dmn_restart_name)i;
    out->max_retries = (int)max;
    return 0;
}

bool dmn_restart_wanted(const struct dmn_restart_policy *p, int restart_count, int exit_code,
                        bool manually_stopped)
{
    switch (p->name) {
    case DMN_RESTART_ALWAYS:
        return true;
    case DMN_RESTART_UNLESS_STOPPED:
        return !manually_stopped;
    case DMN_RESTART_ON_FAILURE:
        return exit_code != 0 && (p->max_retries == 0 || restart_count < p->max_retries);
    default:
        return false;
    }
}

int64_t dmn_restart_backoff_ms(int64_t prev_ms, int64_t ran_ns)
{
    if (ran_ns >= DMN_RESTART_RESET_NS || prev_ms <= 0)
        return DMN_RESTART_FIRST_MS;
    return prev_ms * 2 < DMN_RESTART_MAX_MS ? prev_ms * 2 : DMN_RESTART_MAX_MS;
}
